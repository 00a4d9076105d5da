//! One log line and its two renderings: a JSON object (files, the ring, JSON
//! stdout) and readable text (stdout by default). JSON escaping keeps every
//! control character out of the line, and the text form escapes them too, so
//! one event is always one line.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write as _};

use time::OffsetDateTime;
use time::macros::format_description;

/// A field value as it is written. Text may borrow, so hot paths need not copy.
#[derive(Debug, Clone)]
pub enum FieldValue<'a> {
    Text(Cow<'a, str>),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Bool(bool),
}

pub type Fields<'a> = Vec<(&'static str, FieldValue<'a>)>;

pub struct Line<'a> {
    pub ts: String,
    pub level: &'static str,
    pub target: Cow<'a, str>,
    pub message: Cow<'a, str>,
    pub fields: Fields<'a>,
}

impl<'a> Line<'a> {
    pub fn new(
        level: &'static str,
        target: impl Into<Cow<'a, str>>,
        message: impl Into<Cow<'a, str>>,
        fields: Fields<'a>,
    ) -> Self {
        Line {
            ts: utc_timestamp(),
            level,
            target: target.into(),
            message: message.into(),
            fields,
        }
    }

    /// The line as one JSON object, in bytes (valid UTF-8: built from `str`s).
    pub fn json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(b"{\"ts\":");
        json_str(&mut out, &self.ts);
        out.extend_from_slice(b",\"level\":");
        json_name(&mut out, self.level);
        out.extend_from_slice(b",\"target\":");
        json_str(&mut out, &self.target);
        out.extend_from_slice(b",\"message\":");
        json_str(&mut out, &self.message);
        for (name, value) in &self.fields {
            out.push(b',');
            json_name(&mut out, name);
            out.push(b':');
            let _ = match value {
                FieldValue::Text(t) => {
                    json_str(&mut out, t);
                    Ok(())
                }
                FieldValue::Signed(n) => {
                    serde_json::to_writer(&mut out, n).map_err(std::io::Error::other)
                }
                FieldValue::Unsigned(n) => {
                    serde_json::to_writer(&mut out, n).map_err(std::io::Error::other)
                }
                FieldValue::Float(f) => {
                    serde_json::to_writer(&mut out, f).map_err(std::io::Error::other)
                }
                FieldValue::Bool(b) => {
                    serde_json::to_writer(&mut out, b).map_err(std::io::Error::other)
                }
            };
        }
        out.push(b'}');
        out
    }

    /// `ts LEVEL target: message key=value …`, control characters escaped.
    pub fn human(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(&self.ts);
        out.push(' ');
        for _ in self.level.len()..5 {
            out.push(' ');
        }
        out.push_str(self.level);
        out.push(' ');
        out.push_str(&self.target);
        out.push_str(": ");
        push_escaped(&mut out, &self.message);
        for (name, value) in &self.fields {
            out.push(' ');
            out.push_str(name);
            out.push('=');
            match value {
                FieldValue::Text(s) if s.is_empty() || s.contains([' ', '"']) => {
                    let _ = write!(out, "{s:?}");
                }
                FieldValue::Text(s) => push_escaped(&mut out, s),
                other => {
                    let _ = write!(out, "{other}");
                }
            }
        }
        out
    }
}

impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(t) => f.write_str(t),
            FieldValue::Signed(n) => write!(f, "{n}"),
            FieldValue::Unsigned(n) => write!(f, "{n}"),
            FieldValue::Float(x) => write!(f, "{x}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A JSON string literal. Most values need no escaping and are copied as
/// they are; anything with a quote, backslash or control character goes
/// through serde_json, which escapes all of them.
fn json_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        let _ = serde_json::to_writer(out, text);
    } else {
        json_name(out, text);
    }
}

/// A string known to need no escaping: field names and levels are
/// identifiers from the source code, and [`json_str`] checked the rest.
fn json_name(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether `bytes` hold a control character, `"` or `\\`. Eight bytes at a
/// time: a byte below 0x20, or equal to a given one, shows up as a set high
/// bit in the classic "has a byte less than n" word trick.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8]));
        if below(word, 0x20)
            || below(word ^ (ONES * u64::from(b'"')), 1)
            || below(word ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn push_escaped(out: &mut String, text: &str) {
    if !text.chars().any(char::is_control) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

thread_local! {
    /// The formatted `YYYY-MM-DDTHH:MM:SS` of the last second seen on this thread.
    static LAST_SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// `2026-11-22T07:47:14.747Z`; the date and time part is formatted once a
/// second, the milliseconds digit by digit (cheaper than `write!`).
fn utc_timestamp() -> String {
    let now = OffsetDateTime::now_utc();
    let second = now.unix_timestamp();
    LAST_SECOND.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            *last = (second, now.format(&format).unwrap_or_default());
        }
        let millis = now.millisecond();
        let mut ts = String::with_capacity(24);
        ts.push_str(&last.1);
        ts.push('.');
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            ts.push(char::from(b'0' + digit as u8));
        }
        ts.push('Z');
        ts
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_detected_in_any_position() {
        assert!(!needs_escape(
            b"GET /health HTTP/1.1 Mozilla/5.0 (X11; Linux)"
        ));
        assert!(
            !needs_escape("caf\u{e9} \u{7f} ~".as_bytes()),
            "non-ASCII and DEL need no JSON escape"
        );
        for bad in [b'"', b'\\', b'\n', b'\r', 0x00, 0x1f, b'\t'] {
            for at in 0..20 {
                let mut text = vec![b'a'; 20];
                text[at] = bad;
                assert!(needs_escape(&text), "byte {bad:#x} at {at}");
            }
        }
    }

    #[test]
    fn both_renderings_stay_on_one_line() {
        let line = Line::new(
            "WARN",
            "t",
            "a\r\nb",
            vec![
                ("user", FieldValue::Text("x\ny".into())),
                ("n", FieldValue::Unsigned(3)),
            ],
        );
        let json = String::from_utf8(line.json()).unwrap();
        assert_eq!(json.lines().count(), 1);
        assert_eq!(line.human().lines().count(), 1);
        assert!(
            line.human().contains(" WARN t: a\\r\\nb user=x\\ny n=3"),
            "{}",
            line.human()
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["user"], "x\ny");
        assert_eq!(parsed["n"], 3);
        assert_eq!(parsed["ts"].as_str().unwrap().len(), 24);
    }
}
