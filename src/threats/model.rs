//! The threats feature's types and pure rules: what a ban targets (one
//! address or a CIDR block), how long a repeat offender's next ban lasts,
//! and how severe each kind of security event is.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Serialize;

pub const DAY_MS: i64 = 86_400_000;
/// An earlier ban this recent makes the next one twice as long.
pub const REPEAT_WINDOW_MS: i64 = 30 * DAY_MS;
/// No automatic ban lasts longer than this, however often it repeats.
pub const MAX_BAN_MS: i64 = 30 * DAY_MS;

/// Who or what is banned: one address, or a block of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Ip(IpAddr),
    Net(IpNet),
}

impl Target {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            Target::Ip(own) => *own == ip,
            Target::Net(net) => net.contains(&ip),
        }
    }
}

impl FromStr for Target {
    type Err = String;

    /// `203.0.113.5`, `2001:db8::1`, `198.51.100.0/24`; a /32 (or /128) is
    /// the address itself, and a block is kept by its network address.
    fn from_str(s: &str) -> Result<Target, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Target::Ip(ip.to_canonical()));
        }
        let net: IpNet = s.parse().map_err(|_| {
            format!("{s:?} is not an IP address or CIDR block, e.g. 203.0.113.5 or 198.51.100.0/24")
        })?;
        let net = net.trunc();
        if net.prefix_len() == net.max_prefix_len() {
            Ok(Target::Ip(net.addr()))
        } else {
            Ok(Target::Net(net))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Net(net) => write!(f, "{net}"),
        }
    }
}

/// How long a new ban lasts: the detector's length, or twice the previous
/// ban's when the target was banned within [`REPEAT_WINDOW_MS`], capped at
/// [`MAX_BAN_MS`].
pub fn ban_length_ms(base_ms: i64, previous_ms: Option<i64>) -> i64 {
    let escalated = previous_ms.map_or(base_ms, |p| base_ms.max(p.saturating_mul(2)));
    escalated.clamp(1, MAX_BAN_MS.max(base_ms))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
        }
    }
}

/// Every kind of security event, for filters and the chart legend.
pub const EVENT_KINDS: [&str; 12] = [
    "probe.path",
    "probe.sensitive_file",
    "probe.bad_agent",
    "probe.traversal",
    "probe.sqli",
    "probe.xss",
    "auth.bruteforce",
    "ssh.bruteforce",
    "ban.created",
    "ban.expired",
    "rate_limited",
    "signature.invalid",
];

pub fn severity_of(kind: &str) -> Severity {
    match kind {
        "probe.sensitive_file"
        | "probe.traversal"
        | "probe.sqli"
        | "auth.bruteforce"
        | "ssh.bruteforce" => Severity::High,
        "ban.expired" | "rate_limited" => Severity::Info,
        _ => Severity::Warning,
    }
}

/// The start of the minute `ts_ms` falls in (events aggregate per minute).
pub fn minute_of(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_to_their_canonical_form() {
        assert_eq!(
            "203.0.113.5".parse(),
            Ok(Target::Ip("203.0.113.5".parse().unwrap()))
        );
        assert_eq!(
            "203.0.113.5/32".parse::<Target>().unwrap().to_string(),
            "203.0.113.5"
        );
        assert_eq!(
            "198.51.100.77/24".parse::<Target>().unwrap().to_string(),
            "198.51.100.0/24"
        );
        assert_eq!(
            "::ffff:203.0.113.5".parse::<Target>().unwrap().to_string(),
            "203.0.113.5"
        );
        assert!("203.0.113.5; rm -rf /".parse::<Target>().is_err());
        assert!("".parse::<Target>().is_err());
        let net: Target = "2001:db8::/64".parse().unwrap();
        assert!(net.contains("2001:db8::42".parse().unwrap()));
        assert!(!net.contains("2001:db8:1::42".parse().unwrap()));
    }

    #[test]
    fn repeat_offenders_get_twice_the_previous_length_up_to_the_cap() {
        let h4 = 4 * 3_600_000;
        assert_eq!(ban_length_ms(h4, None), h4);
        assert_eq!(ban_length_ms(h4, Some(h4)), 2 * h4);
        assert_eq!(ban_length_ms(h4, Some(2 * h4)), 4 * h4);
        assert_eq!(
            ban_length_ms(h4, Some(60_000)),
            h4,
            "a short earlier ban never shortens"
        );
        assert_eq!(ban_length_ms(h4, Some(MAX_BAN_MS)), MAX_BAN_MS);
    }

    #[test]
    fn every_kind_has_a_severity_and_minutes_round_down() {
        assert_eq!(severity_of("probe.sqli"), Severity::High);
        assert_eq!(severity_of("rate_limited"), Severity::Info);
        assert_eq!(severity_of("ban.created"), Severity::Warning);
        assert_eq!(minute_of(125_000), 120_000);
    }
}
