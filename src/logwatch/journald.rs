//! Reads the ssh unit's messages from journald: builds the `journalctl`
//! command line that follows the unit as JSON (resuming after a stored
//! cursor), and parses each JSON line it prints into a [`JournalEntry`].
//!
//! The argv is built as a list of words for a direct exec: this module must
//! never go through a shell nor put anything but a cursor string from
//! journald itself into the arguments, and must never panic on a line it is
//! given (journalctl output may be cut short when the process is stopped).

use serde_json::Value;

/// One `journalctl -o json` line: the MESSAGE (string, or array of bytes —
/// journald emits non-UTF-8 messages as a byte array) and __CURSOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub message: String,
    pub cursor: Option<String>,
}

/// Parses one JSON line; None if it is not a JSON object with a MESSAGE.
/// A field journald saw several times comes as an array of values: the first
/// is used. Invalid UTF-8 in a byte-array message is replaced lossily.
pub fn parse_entry(line: &str) -> Option<JournalEntry> {
    let Value::Object(mut fields) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let message = text(fields.get("MESSAGE")?)?;
    let cursor = match fields.remove("__CURSOR") {
        Some(Value::String(cursor)) => Some(cursor),
        _ => None,
    };
    Some(JournalEntry { message, cursor })
}

/// A journald field value as text: a string, an array of bytes, or (for a
/// repeated field) an array of those, of which the first counts.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let bytes = items
                .iter()
                .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect::<Option<Vec<u8>>>()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => text(items.first()?),
        _ => None,
    }
}

/// The argv to follow the ssh unit (Debian names it `ssh.service`, most other
/// distributions `sshd.service`; naming both matches either): JSON output,
/// MESSAGE only (journalctl always adds `__CURSOR`), `--all` so that long
/// messages are not replaced by null, then `--after-cursor=<cursor>` when
/// resuming, else `-n 0` (start now). For a direct exec, no shell.
pub fn follow_command(after_cursor: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = [
        "journalctl",
        "-f",
        "-o",
        "json",
        "--all",
        "--output-fields=MESSAGE",
        "-u",
        "ssh.service",
        "-u",
        "sshd.service",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    match after_cursor {
        Some(cursor) => argv.push(format!("--after-cursor={cursor}")),
        None => argv.extend(["-n".to_owned(), "0".to_owned()]),
    }
    argv
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_string_message_and_its_cursor_are_read() {
        let line = r#"{"__CURSOR":"s=0a1b;i=2f;b=9c;m=1;t=5;x=7","__REALTIME_TIMESTAMP":"1795514400000000","MESSAGE":"Failed password for root from 203.0.113.5 port 51234 ssh2","_PID":"1234"}"#;
        let entry = parse_entry(line).unwrap();
        assert_eq!(
            entry.message,
            "Failed password for root from 203.0.113.5 port 51234 ssh2"
        );
        assert_eq!(
            entry.cursor.as_deref(),
            Some("s=0a1b;i=2f;b=9c;m=1;t=5;x=7")
        );
    }

    #[test]
    fn a_byte_array_message_is_decoded_lossily() {
        // "Invalid user \xff from 198.51.100.7 port 40022"
        let mut bytes: Vec<u8> = b"Invalid user ".to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(b" from 198.51.100.7 port 40022");
        let array = bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let line = format!(r#"{{"__CURSOR":"c1","MESSAGE":[{array}]}}"#);
        let entry = parse_entry(&line).unwrap();
        assert_eq!(
            entry.message,
            "Invalid user \u{fffd} from 198.51.100.7 port 40022"
        );
        assert_eq!(entry.cursor.as_deref(), Some("c1"));
    }

    #[test]
    fn a_repeated_field_uses_its_first_value_and_a_cursor_may_be_missing() {
        let entry = parse_entry(r#"{"MESSAGE":["first","second"]}"#).unwrap();
        assert_eq!(entry.message, "first");
        assert_eq!(entry.cursor, None);
    }

    #[test]
    fn lines_without_a_usable_message_are_none() {
        for line in [
            "",
            "not json",
            r#"{"__CURSOR":"c"}"#,
            r#"{"MESSAGE":null}"#,
            r#"{"MESSAGE":[300, 1]}"#,
            r#"{"MESSAGE":"cut sho"#,
            r#"["MESSAGE"]"#,
        ] {
            assert_eq!(parse_entry(line), None, "{line}");
        }
    }

    #[test]
    fn the_command_starts_now_without_a_cursor_and_resumes_after_one() {
        let fresh = follow_command(None);
        assert_eq!(fresh[..4], ["journalctl", "-f", "-o", "json"]);
        assert!(fresh.windows(2).any(|w| w == ["-u", "ssh.service"]));
        assert!(fresh.windows(2).any(|w| w == ["-u", "sshd.service"]));
        assert_eq!(fresh[fresh.len() - 2..], ["-n", "0"]);
        assert!(!fresh.iter().any(|a| a.starts_with("--after-cursor")));

        let resumed = follow_command(Some("s=0a1b;i=2f"));
        assert_eq!(resumed.last().unwrap(), "--after-cursor=s=0a1b;i=2f");
        assert!(!resumed.iter().any(|a| a == "-n"));
    }
}
