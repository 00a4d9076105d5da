//! One log line and its two renderings: a JSON object (files, the ring, JSON
//! stdout) and readable text (stdout by default). JSON escaping keeps every
//! control character out of the line, and the text form escapes them too, so
//! one event is always one line.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::Write as _;

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
    pub at: OffsetDateTime,
    pub level: &'static str,
    pub target: Cow<'a, str>,
    pub message: Cow<'a, str>,
    /// The request the line was logged in, written right after the message.
    pub request_id: Option<&'a str>,
    pub fields: &'a [(&'static str, FieldValue<'a>)],
}

impl<'a> Line<'a> {
    pub fn new(
        level: &'static str,
        target: impl Into<Cow<'a, str>>,
        message: impl Into<Cow<'a, str>>,
        request_id: Option<&'a str>,
        fields: &'a [(&'static str, FieldValue<'a>)],
    ) -> Self {
        Line {
            at: OffsetDateTime::now_utc(),
            level,
            target: target.into(),
            message: message.into(),
            request_id,
            fields,
        }
    }

    /// Appends the line as one JSON object (valid UTF-8: built from `str`s)
    /// to `out`, so it can be rendered straight into a writer's buffer.
    pub fn json_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"ts\":\"");
        push_timestamp(out, self.at);
        out.extend_from_slice(b"\",\"level\":");
        json_name(out, self.level);
        out.extend_from_slice(b",\"target\":");
        json_str(out, &self.target);
        out.extend_from_slice(b",\"message\":");
        json_str(out, &self.message);
        if let Some(id) = self.request_id {
            out.extend_from_slice(b",\"request_id\":");
            json_str(out, id);
        }
        for (name, value) in self.fields {
            out.push(b',');
            json_name(out, name);
            out.push(b':');
            match value {
                FieldValue::Text(t) => json_str(out, t),
                FieldValue::Signed(n) => {
                    let _ = serde_json::to_writer(&mut *out, n);
                }
                FieldValue::Unsigned(n) => {
                    let _ = serde_json::to_writer(&mut *out, n);
                }
                FieldValue::Float(f) => {
                    let _ = serde_json::to_writer(&mut *out, f);
                }
                FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            }
        }
        out.push(b'}');
    }

    /// Appends `ts LEVEL target: message key=value …` to `out`, control
    /// characters escaped.
    pub fn human_into(&self, out: &mut Vec<u8>) {
        push_timestamp(out, self.at);
        out.push(b' ');
        for _ in self.level.len()..5 {
            out.push(b' ');
        }
        out.extend_from_slice(self.level.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b": ");
        push_escaped(out, &self.message);
        let id = self
            .request_id
            .map(|id| ("request_id", FieldValue::Text(Cow::Borrowed(id))));
        for (name, value) in id.iter().chain(self.fields) {
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            match value {
                FieldValue::Text(s) if s.is_empty() || s.contains([' ', '"']) => {
                    let _ = write!(out, "{s:?}");
                }
                FieldValue::Text(s) => push_escaped(out, s),
                other => {
                    let _ = write!(out, "{other}");
                }
            }
        }
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

fn push_escaped(out: &mut Vec<u8>, text: &str) {
    if !text.chars().any(char::is_control) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let mut utf8 = [0; 4];
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default().map(|e| e as u8));
        } else {
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
}

thread_local! {
    /// The formatted `YYYY-MM-DDTHH:MM:SS` of the last second seen on this thread.
    static LAST_SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// Appends `2026-11-22T07:47:14.747` (UTC; the caller adds the zone mark).
/// The date and time part is formatted once a second, the milliseconds
/// digit by digit (cheaper than `write!`).
fn push_timestamp(out: &mut Vec<u8>, at: OffsetDateTime) {
    let second = at.unix_timestamp();
    LAST_SECOND.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            *last = (second, at.format(&format).unwrap_or_default());
        }
        out.extend_from_slice(last.1.as_bytes());
    });
    let millis = at.millisecond();
    out.extend_from_slice(&[
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
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
        let fields = [
            ("user", FieldValue::Text("x\ny".into())),
            ("n", FieldValue::Unsigned(3)),
        ];
        let line = Line::new("WARN", "t", "a\r\nb", Some("r-1"), &fields);
        let mut json = Vec::new();
        line.json_into(&mut json);
        let json = String::from_utf8(json).unwrap();
        let mut human = Vec::new();
        line.human_into(&mut human);
        let human = String::from_utf8(human).unwrap();
        assert_eq!(json.lines().count(), 1);
        assert_eq!(human.lines().count(), 1);
        assert!(
            human.contains(" WARN t: a\\r\\nb request_id=r-1 user=x\\ny n=3"),
            "{human}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["user"], "x\ny");
        assert_eq!(parsed["n"], 3);
        assert_eq!(parsed["request_id"], "r-1");
        let ts = parsed["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 24);
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
    }

    #[test]
    fn every_value_kind_renders_as_json() {
        let fields = [
            ("a", FieldValue::Signed(-4)),
            ("b", FieldValue::Float(1.5)),
            ("c", FieldValue::Bool(false)),
            ("d", FieldValue::Text("say \"hi\"".into())),
        ];
        let mut json = Vec::new();
        Line::new("INFO", "t", "m", None, &fields).json_into(&mut json);
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed["a"], -4);
        assert_eq!(parsed["b"], 1.5);
        assert_eq!(parsed["c"], false);
        assert_eq!(parsed["d"], "say \"hi\"");
        assert!(parsed.get("request_id").is_none());
    }
}
