//! Recognises OpenSSH authentication failures in sshd log messages, from a
//! syslog file (classic `Dec  1 10:00:00 host sshd[123]: …` or RFC3339
//! `2026-12-01T10:00:00.123456+00:00 host sshd[123]: …`, program `sshd`,
//! `sshd-session` (OpenSSH ≥ 9.8) or `sshd-auth`) or a bare journald MESSAGE.
//!
//! The user name in these messages is chosen by the attacker and may hold
//! spaces or text such as `from 1.2.3.4 port 22`, so the address is always
//! taken from the fixed words sshd writes at the END of the message (or, for
//! `Received disconnect`, right after its fixed opening, before the
//! client-chosen reason), and the user name is whatever lies between.
//!
//! One failed attempt can produce several lines, and each line counts once:
//! `Invalid user X from …` is [`SshFailureKind::InvalidUser`] and the
//! `Failed password for invalid user X …` that follows it is
//! [`SshFailureKind::FailedPassword`]; the caller counts both, on purpose.
//! PAM's `authentication failure` and `Disconnecting … Too many
//! authentication failures` repeat what other lines already say and are not
//! counted. This module must never report an address that sshd did not write
//! as the peer's, and never report a successful login as a failure.

use std::net::IpAddr;

/// What kind of failure a line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshFailureKind {
    FailedPassword,
    InvalidUser,
    PreauthDisconnect,
    FailedPublickey,
    MaxAuthTries,
}

impl SshFailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SshFailureKind::FailedPassword => "failed_password",
            SshFailureKind::InvalidUser => "invalid_user",
            SshFailureKind::PreauthDisconnect => "preauth_disconnect",
            SshFailureKind::FailedPublickey => "failed_publickey",
            SshFailureKind::MaxAuthTries => "max_auth_tries",
        }
    }
}

/// One authentication failure: the peer's address and the user name tried, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SshFailure {
    pub ip: IpAddr,
    pub user: Option<String>,
    pub kind: SshFailureKind,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses one sshd message (a full syslog line or the bare MESSAGE). Returns
/// None for lines that are not an authentication failure.
pub fn parse(line: &str) -> Option<SshFailure> {
    let line = line.trim_end_matches(['\r', '\n']);
    let message = match strip_syslog_prefix(line) {
        Prefix::Sshd(message) => message,
        Prefix::OtherProgram => return None,
        Prefix::None => line,
    };
    let (message, preauth) = match message.strip_suffix(" [preauth]") {
        Some(m) => (m, true),
        None => (message, false),
    };
    if let Some(rest) = message.strip_prefix("Failed ") {
        let (method, rest) = rest.split_once(" for ")?;
        let kind = match method {
            "password" | "keyboard-interactive/pam" => SshFailureKind::FailedPassword,
            "publickey" => SshFailureKind::FailedPublickey,
            _ => return None,
        };
        return attempt(rest, kind);
    }
    if let Some(rest) = message
        .strip_prefix("error: maximum authentication attempts exceeded for ")
        .or_else(|| message.strip_prefix("maximum authentication attempts exceeded for "))
    {
        return attempt(rest, SshFailureKind::MaxAuthTries);
    }
    if let Some(rest) = message.strip_prefix("Invalid user ") {
        return invalid_user(rest);
    }
    if !preauth {
        // Without [preauth] these are the normal ends of logged-in sessions.
        return None;
    }
    if let Some(rest) = message.strip_prefix("Received disconnect from ") {
        // The reason after `port N:code:` is chosen by the client; the address is before it.
        let (ip, rest) = rest.split_once(' ')?;
        rest.strip_prefix("port ")?;
        return failure(ip, None, SshFailureKind::PreauthDisconnect);
    }
    let rest = message
        .strip_prefix("Connection closed by ")
        .or_else(|| message.strip_prefix("Connection reset by "))
        .or_else(|| message.strip_prefix("Disconnected from "))?;
    let (who, ip) = split_peer(rest)?;
    let user = who
        .strip_prefix("authenticating user ")
        .or_else(|| who.strip_prefix("invalid user "));
    failure(ip, user, SshFailureKind::PreauthDisconnect)
}

enum Prefix<'a> {
    Sshd(&'a str),
    OtherProgram,
    None,
}

/// Recognises `<timestamp> <host> <tag>: <message>` with a classic or RFC3339
/// timestamp; a line that does not start with a timestamp is a bare message.
fn strip_syslog_prefix(line: &str) -> Prefix<'_> {
    let Some((first, rest)) = next_word(line) else {
        return Prefix::None;
    };
    let after_time = if MONTHS.contains(&first) {
        let Some(rest) = next_word(rest)
            .filter(|(day, _)| {
                !day.is_empty() && day.len() <= 2 && day.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|(_, rest)| next_word(rest))
            .filter(|(clock, _)| {
                clock.len() == 8 && clock.bytes().filter(|&b| b == b':').count() == 2
            })
            .map(|(_, rest)| rest)
        else {
            return Prefix::None;
        };
        rest
    } else if is_rfc3339(first) {
        rest
    } else {
        return Prefix::None;
    };
    let Some((tag, message)) = next_word(after_time)
        .and_then(|(_host, rest)| rest.split_once(' '))
        .and_then(|(tag, message)| Some((tag.strip_suffix(':')?, message)))
    else {
        return Prefix::OtherProgram;
    };
    let program = tag.split_once('[').map_or(tag, |(program, _pid)| program);
    if matches!(program, "sshd" | "sshd-session" | "sshd-auth") {
        Prefix::Sshd(message)
    } else {
        Prefix::OtherProgram
    }
}

/// The first space-separated word (leading spaces skipped) and the rest.
fn next_word(s: &str) -> Option<(&str, &str)> {
    s.trim_start_matches(' ').split_once(' ')
}

fn is_rfc3339(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 19
        && b.iter().take(4).all(u8::is_ascii_digit)
        && b.get(4) == Some(&b'-')
        && b.get(10) == Some(&b'T')
}

/// `[invalid user ]<USER> from <IP> port <PORT> ssh2[: <key>]`.
fn attempt(rest: &str, kind: SshFailureKind) -> Option<SshFailure> {
    let end = rest.rfind(" ssh2")?;
    let after = rest.get(end + 5..)?;
    if !(after.is_empty() || after.starts_with(": ")) {
        return None;
    }
    let (who, ip) = split_peer(rest.get(..end)?)?;
    let who = who.strip_suffix(" from")?;
    let user = who.strip_prefix("invalid user ").unwrap_or(who);
    failure(ip, Some(user), kind)
}

/// `<USER> from <IP> port <PORT>`, or the older `<USER> from <IP>`.
fn invalid_user(rest: &str) -> Option<SshFailure> {
    let kind = SshFailureKind::InvalidUser;
    if let Some((who, ip)) = split_peer(rest) {
        return failure(ip, Some(who.strip_suffix(" from")?), kind);
    }
    let (user, ip) = rest.rsplit_once(" from ")?;
    failure(ip, Some(user), kind)
}

/// Splits `<head> <IP> port <PORT>` (head may be empty) into head and IP text.
fn split_peer(s: &str) -> Option<(&str, &str)> {
    let (s, port) = s.rsplit_once(" port ")?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.rsplit_once(' ').unwrap_or(("", s)))
}

fn failure(ip: &str, user: Option<&str>, kind: SshFailureKind) -> Option<SshFailure> {
    Some(SshFailure {
        ip: ip.parse::<IpAddr>().ok()?.to_canonical(),
        user: user.filter(|u| !u.is_empty()).map(str::to_owned),
        kind,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use SshFailureKind::*;

    const SYSLOG: &str = include_str!("../../tests/fixtures/logs/sshd-syslog.log");
    const RFC3339: &str = include_str!("../../tests/fixtures/logs/sshd-rfc3339.log");

    /// What each line of the two fixtures (same messages, same order) reports.
    const EXPECTED: [Option<(SshFailureKind, &str, Option<&str>)>; 30] = [
        Some((FailedPassword, "203.0.113.5", Some("root"))),
        None, // pam_unix authentication failure: repeats the line above
        Some((InvalidUser, "203.0.113.5", Some("admin"))),
        None,
        Some((FailedPassword, "203.0.113.5", Some("admin"))),
        Some((InvalidUser, "198.51.100.7", Some("oracle"))),
        Some((PreauthDisconnect, "203.0.113.5", Some("root"))),
        Some((PreauthDisconnect, "203.0.113.5", Some("test"))),
        Some((PreauthDisconnect, "203.0.113.5", None)),
        Some((PreauthDisconnect, "203.0.113.5", None)),
        Some((FailedPublickey, "192.0.2.44", Some("git"))),
        Some((MaxAuthTries, "203.0.113.5", Some("root"))),
        None, // "Disconnecting … Too many authentication failures": repeats the line above
        Some((FailedPassword, "2001:db8::5", Some("root"))),
        Some((InvalidUser, "2001:db8:0:1::77", Some("john smith"))),
        Some((PreauthDisconnect, "2001:db8:0:1::77", Some("john smith"))),
        // Framing attempts: the user name carries another address.
        Some((
            InvalidUser,
            "198.51.100.66",
            Some("admin from 10.0.0.1 port 22"),
        )),
        Some((
            FailedPassword,
            "198.51.100.66",
            Some("x from 10.0.0.1 port 22 ssh2"),
        )),
        None, // Unable to negotiate
        None, // Accepted publickey
        None,
        None, // systemd-logind
        None, // Accepted password
        None, // CRON
        None, // Received disconnect of a logged-in session (no [preauth])
        None, // Disconnected from user … (logout)
        None,
        None,                                                   // Server listening
        Some((PreauthDisconnect, "203.0.113.5", Some("root"))), // sshd-session (OpenSSH ≥ 9.8)
        Some((FailedPassword, "203.0.113.5", Some("ubnt"))),
    ];

    fn check(lines: Vec<&str>) {
        assert_eq!(lines.len(), EXPECTED.len());
        for (line, expected) in lines.into_iter().zip(EXPECTED) {
            let expected = expected.map(|(kind, ip, user)| SshFailure {
                ip: ip.parse().unwrap(),
                user: user.map(str::to_owned),
                kind,
            });
            assert_eq!(parse(line), expected, "{line}");
        }
    }

    #[test]
    fn classic_syslog_lines_are_recognised() {
        check(SYSLOG.lines().collect());
    }

    #[test]
    fn rfc3339_rsyslog_lines_are_recognised() {
        check(RFC3339.lines().collect());
    }

    #[test]
    fn bare_journald_messages_are_recognised() {
        check(
            SYSLOG
                .lines()
                .map(|l| l.split_once("]: ").unwrap().1)
                .collect(),
        );
    }

    #[test]
    fn the_same_words_from_another_program_are_ignored() {
        let line =
            "Dec 11 10:00:00 web1 myapp[99]: Failed password for root from 192.0.2.200 port 1 ssh2";
        assert_eq!(parse(line), None);
        let sshd = line.replace("myapp[99]", "sshd[99]");
        assert_eq!(
            parse(&sshd).unwrap().ip,
            "192.0.2.200".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_attacker_chosen_user_name_cannot_frame_another_address() {
        for (message, user) in [
            (
                "Failed password for invalid user root from 192.0.2.1 port 22 ssh2 from 203.0.113.50 port 4000 ssh2",
                "root from 192.0.2.1 port 22 ssh2",
            ),
            (
                "Invalid user a from 192.0.2.1 port 22 [preauth] from 203.0.113.50 port 4000",
                "a from 192.0.2.1 port 22 [preauth]",
            ),
            (
                "Connection closed by invalid user b 192.0.2.1 port 22 203.0.113.50 port 4000 [preauth]",
                "b 192.0.2.1 port 22",
            ),
            (
                "Failed publickey for c from 192.0.2.1 port 22 ssh2: from 203.0.113.50 port 4000 ssh2: ED25519 SHA256:abc",
                "c from 192.0.2.1 port 22 ssh2:",
            ),
        ] {
            let failure = parse(message).expect(message);
            assert_eq!(
                failure.ip,
                "203.0.113.50".parse::<IpAddr>().unwrap(),
                "{message}"
            );
            assert_eq!(failure.user.as_deref(), Some(user), "{message}");
        }
        // The disconnect reason is the client's; the address comes before it.
        let bye =
            "Received disconnect from 203.0.113.50 port 4000:11: from 192.0.2.1 port 22 [preauth]";
        assert_eq!(
            parse(bye).unwrap().ip,
            "203.0.113.50".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn odd_but_real_variants_parse() {
        let empty = parse("Invalid user  from 198.51.100.7 port 40022").unwrap();
        assert_eq!((empty.kind, empty.user), (InvalidUser, None));
        let old = parse("Invalid user guest from 198.51.100.7").unwrap();
        assert_eq!(old.user.as_deref(), Some("guest"));
        let pam =
            parse("Failed keyboard-interactive/pam for root from ::ffff:192.0.2.7 port 1 ssh2")
                .unwrap();
        assert_eq!(
            (pam.kind, pam.ip),
            (FailedPassword, "192.0.2.7".parse::<IpAddr>().unwrap())
        );
        assert_eq!(
            parse("Failed none for invalid user x from 192.0.2.7 port 1 ssh2"),
            None
        );
        assert_eq!(
            parse("Failed password for root from not-an-ip port 1 ssh2"),
            None
        );
        assert_eq!(parse(""), None);
    }

    #[test]
    fn kinds_have_stable_names() {
        let names: Vec<_> = [
            FailedPassword,
            InvalidUser,
            PreauthDisconnect,
            FailedPublickey,
            MaxAuthTries,
        ]
        .map(SshFailureKind::as_str)
        .into();
        assert_eq!(
            names,
            [
                "failed_password",
                "invalid_user",
                "preauth_disconnect",
                "failed_publickey",
                "max_auth_tries"
            ]
        );
    }
}
