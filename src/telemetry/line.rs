//! One log line and its two renderings: a JSON object (files, the ring, JSON
//! stdout) and readable text (stdout by default). JSON escaping keeps every
//! control character out of the line, and the text form escapes them too, so
//! one event is always one line.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
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

    pub fn json(&self) -> String {
        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(b"{\"ts\":");
        json_str(&mut out, &self.ts);
        out.extend_from_slice(b",\"level\":");
        json_str(&mut out, self.level);
        out.extend_from_slice(b",\"target\":");
        json_str(&mut out, &self.target);
        out.extend_from_slice(b",\"message\":");
        json_str(&mut out, &self.message);
        for (name, value) in &self.fields {
            out.push(b',');
            json_str(&mut out, name);
            out.push(b':');
            let _ = match value {
                FieldValue::Text(t) => {
                    json_str(&mut out, t);
                    Ok(())
                }
                FieldValue::Signed(n) => write!(out, "{n}"),
                FieldValue::Unsigned(n) => write!(out, "{n}"),
                FieldValue::Float(f) => {
                    serde_json::to_writer(&mut out, f).map_err(std::io::Error::other)
                }
                FieldValue::Bool(b) => write!(out, "{b}"),
            };
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
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
    if text
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(out, text);
    }
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

/// `2026-11-22T07:47:14.747Z`; the date and time part is formatted once a second.
fn utc_timestamp() -> String {
    let now = OffsetDateTime::now_utc();
    let second = now.unix_timestamp();
    LAST_SECOND.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            *last = (second, now.format(&format).unwrap_or_default());
        }
        let mut ts = String::with_capacity(24);
        ts.push_str(&last.1);
        let _ = write!(ts, ".{:03}Z", now.millisecond());
        ts
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(line.json().lines().count(), 1);
        assert_eq!(line.human().lines().count(), 1);
        assert!(
            line.human().contains(" WARN t: a\\r\\nb user=x\\ny n=3"),
            "{}",
            line.human()
        );
        let parsed: serde_json::Value = serde_json::from_str(&line.json()).unwrap();
        assert_eq!(parsed["user"], "x\ny");
        assert_eq!(parsed["n"], 3);
        assert_eq!(parsed["ts"].as_str().unwrap().len(), 24);
    }
}
