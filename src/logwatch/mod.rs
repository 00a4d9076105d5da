//! The log watcher platform module (DESIGN §3): tails host log files and
//! journald and turns their lines into typed records for the features that
//! subscribe to them — threats (sshd failures, web probes) and perf (nginx
//! timings). [`tail`] follows files across rotation and resumes by inode and
//! byte offset; [`journald`] builds the `journalctl` follow command and reads
//! its JSON lines; [`sshd`] and [`access`] parse sshd messages and web server
//! access lines.
//!
//! Everything here is pure library code over untrusted text: it must never
//! panic on a line, never write to the logs it reads, never run a shell, and
//! never call into a feature module (features depend on it, not the reverse).

pub mod access;
pub mod journald;
pub mod sshd;
pub mod tail;

pub use access::{AccessLine, LineFormat};
pub use journald::JournalEntry;
pub use sshd::{SshFailure, SshFailureKind};
pub use tail::{MAX_LINE, Position, TailError, Tailer};

/// Whoever wants the parsed lines of access-log sources besides the log
/// watcher's owner (perf takes their timings). Called on the watcher's
/// thread for every line: must be cheap and must not block.
pub trait AccessSink: Send + Sync + 'static {
    /// `kind` and `id` name the configured source (`nginx`, `shop`).
    fn access(&self, kind: &str, id: &str, line: &AccessLine);
}

/// The life of a followed log, end to end: the sample logs in
/// `tests/fixtures/logs/` written into a file the way servers and logrotate
/// do, read back through a [`Tailer`] and parsed.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    const NGINX: &str = include_str!("../../tests/fixtures/logs/nginx-combined.log");
    const NGINX_TIMED: &str = include_str!("../../tests/fixtures/logs/nginx-timed.log");
    const APACHE: &str = include_str!("../../tests/fixtures/logs/apache-combined.log");
    const SSHD: &str = include_str!("../../tests/fixtures/logs/sshd-rfc3339.log");

    fn append<'a>(path: &Path, lines: impl IntoIterator<Item = &'a str>) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        lines
            .into_iter()
            .for_each(|l| writeln!(file, "{l}").unwrap());
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn inode(path: &Path) -> u64 {
        fs::metadata(path).unwrap().ino()
    }

    /// A log with history, and a tailer started on it (at its end).
    fn started(dir: &Path, name: &str) -> (PathBuf, Tailer) {
        let path = dir.join(name);
        append(&path, ["history 1", "history 2"]);
        let mut tailer = Tailer::new(path.clone(), None);
        assert!(
            tailer.poll(100).unwrap().is_empty(),
            "a new source starts at the end"
        );
        (path, tailer)
    }

    fn parsed(lines: &[impl AsRef<str>]) -> Vec<AccessLine> {
        let format = LineFormat::combined();
        let parse = |l: &str| format.parse_line(l).unwrap_or_else(|| panic!("{l}"));
        lines.iter().map(|l| parse(l.as_ref())).collect()
    }

    /// Every field of an access line; the time in seconds after 10:00 UTC.
    fn summary(l: AccessLine) -> String {
        let secs = l.ts_ms.map(|t| (t - 1_796_119_200_000) / 1000);
        let (ip, m, p, q, s, b) = (l.ip, l.method, l.path, l.query, l.status, l.bytes);
        let (r, ua, rt) = (l.referer, l.user_agent, l.request_time_ms);
        format!("{ip} {secs:?} {m}|{p}|{q:?} {s} {b} {r:?} {ua:?} {rt:?}")
    }

    const NGINX_FIELDS: [&str; 6] = [
        r#"203.0.113.5 Some(0) GET|/index.html|None 200 5123 None Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")"#,
        r#"198.51.100.7 Some(1) GET|/wp-login.php|Some("redirect_to=%2Fwp-admin%2F&reauth=1") 404 153 None Some("Mozilla/5.0 zgrab/0.x")"#,
        // +0100 is converted to UTC.
        r#"2001:db8::1 Some(2) POST|/api/v1/items|Some("x=1") 201 0 Some("https://example.com/app/items") Some("curl/8.5.0")"#,
        // TLS to a plain port and `-`: the IP is kept, method empty, raw text as path.
        r#"203.0.113.9 Some(3) |\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03|None 400 157 None None"#,
        r#"192.0.2.1 Some(4) |-|None 400 0 None None"#,
        // nginx's own \xHH escapes are kept as written.
        r#"198.51.100.23 Some(5) GET|/.env|None 404 153 None Some("Mozilla/5.0 \\x22quoted\\x22 (compatible; scanner)")"#,
    ];

    const APACHE_FIELDS: [&str; 3] = [
        r#"192.0.2.1 Some(0) GET|/apache_pb.gif|None 200 2326 Some("http://www.example.com/start.html") Some("Mozilla/4.08 [en] (Win98; I ;Nav)") None"#,
        r#"192.0.2.2 Some(1) GET|/static/app.css|None 304 0 Some("https://www.example.com/") Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36") None"#,
        // IPv4-mapped is IPv4; apache's \" and \\ escapes are undone.
        r#"198.51.100.4 Some(2) GET|/cgi-bin/.%2e/.%2e/bin/sh|None 400 226 None Some("Mozilla/5.0 \"evil\" agent\\2") None"#,
    ];

    #[test]
    fn the_sample_access_logs_parse_to_every_field() {
        let fields =
            |text: &str| -> Vec<String> { parsed(&lines(text)).into_iter().map(summary).collect() };
        let with = |times: &[&str]| -> Vec<String> {
            NGINX_FIELDS
                .iter()
                .zip(times)
                .map(|(f, t)| format!("{f} {t}"))
                .collect()
        };
        assert_eq!(fields(NGINX), with(&["None"; 6]));
        assert_eq!(
            fields(NGINX_TIMED),
            with(&["Some(4.0)", "Some(0.0)", "Some(1250.0)", "Some(12.0)"])
        );
        assert_eq!(fields(APACHE), APACHE_FIELDS);
    }

    #[test]
    fn a_log_renamed_and_recreated_while_followed_is_finished_before_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), "access.log");
        let (nginx, timed) = (lines(NGINX), lines(NGINX_TIMED));
        // The server keeps writing to its handle on the old file until told to reopen.
        let mut server = OpenOptions::new().append(true).open(&path).unwrap();
        nginx[..3]
            .iter()
            .for_each(|l| writeln!(server, "{l}").unwrap());
        assert_eq!(tailer.poll(100).unwrap(), nginx[..3]);
        fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        append(&path, timed.iter().copied());
        nginx[3..]
            .iter()
            .for_each(|l| writeln!(server, "{l}").unwrap());
        let read = tailer.poll(100).unwrap();
        assert_eq!(read, [&nginx[3..], &timed[..]].concat());
        assert_eq!(parsed(&read), parsed(&[&nginx[3..], &timed[..]].concat()));
        assert_eq!(tailer.position().unwrap().inode, inode(&path));
        assert!(parsed(&timed).iter().all(|l| l.request_time_ms.is_some()));
    }

    #[test]
    fn a_log_rotated_while_down_is_finished_from_the_stored_position() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), "auth.log");
        let sshd = lines(SSHD);
        append(&path, sshd[..10].iter().copied());
        assert_eq!(tailer.poll(100).unwrap(), sshd[..10]);
        let stored = tailer.position().unwrap();
        drop(tailer);
        append(&path, sshd[10..15].iter().copied());
        let rotated = dir.path().join("auth.log.1");
        fs::rename(&path, &rotated).unwrap();
        append(&rotated, sshd[15..20].iter().copied());
        append(&path, sshd[20..].iter().copied());
        // Decoys: a compressed older rotation and another program's log.
        fs::write(dir.path().join("auth.log.2.gz"), [0x1f; 4096]).unwrap();
        append(&dir.path().join("authd.txt"), ["not ours"]);
        let mut resumed = Tailer::new(path.clone(), Some(stored));
        let read = resumed.poll(100).unwrap();
        assert_eq!(read, sshd[10..]);
        let failures = read.iter().filter_map(|l| sshd::parse(l)).count();
        assert_eq!(
            failures,
            sshd[10..].iter().filter_map(|l| sshd::parse(l)).count()
        );
        assert_eq!(resumed.position().unwrap().inode, inode(&path));
    }

    #[test]
    fn resuming_reads_exactly_the_lines_after_the_stored_position() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), "access.log");
        let apache = lines(APACHE);
        append(&path, apache[..2].iter().copied());
        assert_eq!(tailer.poll(1).unwrap(), apache[..1], "at most max_lines");
        let stored = tailer.position().unwrap();
        drop(tailer);
        append(&path, apache[2..].iter().copied());
        let mut resumed = Tailer::new(path, Some(stored));
        assert_eq!(resumed.position(), Some(stored));
        assert_eq!(parsed(&resumed.poll(100).unwrap()), parsed(&apache[1..]));
        assert!(resumed.poll(100).unwrap().is_empty());
    }

    #[test]
    fn a_copytruncated_log_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut tailer) = started(dir.path(), "access.log");
        let apache = lines(APACHE);
        append(&path, apache[..2].iter().copied());
        assert_eq!(tailer.poll(100).unwrap(), apache[..2]);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, apache[2..].iter().copied());
        assert_eq!(tailer.poll(100).unwrap(), apache[2..]);
    }

    #[test]
    fn a_missing_log_is_not_an_error_and_is_read_from_its_start_once_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut tailer = Tailer::new(path.clone(), None);
        assert!(tailer.poll(100).unwrap().is_empty());
        assert_eq!(tailer.position(), None);
        append(&path, lines(APACHE));
        assert_eq!(tailer.poll(100).unwrap(), lines(APACHE));
    }

    #[test]
    fn an_unreadable_log_is_an_error_that_names_it_and_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        append(&path, lines(SSHD));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        // As root, permissions do not apply; a directory cannot be read by anyone.
        let (path, cause, advice) = match fs::File::open(&path) {
            Err(_) => (path, "ermission denied", "adm group"),
            Ok(_) => (dir.path().to_path_buf(), "s a directory", "regular file"),
        };
        let error = Tailer::new(path.clone(), None).poll(10).unwrap_err();
        let error = error.to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(cause) && error.contains(advice), "{error}");
    }
}
