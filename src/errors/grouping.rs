//! Which issue an event belongs to, and how the issue is labelled. The key is
//! the client's `fingerprint` when it sends one (`{{ default }}` inside it
//! expands to the default key); else the raised exception's type and its
//! value with the variable parts replaced ([`parameterize`]), plus the
//! callee-most in-app frame's `module:function`; else the parameter-free
//! message. The key's components are hashed; [`VERSION`] is stored with each
//! issue so the rule can change without silently splitting old issues.
//!
//! Pure functions of the (scrubbed) event: no I/O, no clock, and no panic on
//! any JSON.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// The grouping rule version stored with each issue.
pub const VERSION: &str = "wp-1";

/// Components are joined with the ASCII unit separator before hashing.
const SEPARATOR: &str = "\u{1f}";
/// Longest exception value or message kept in a title, in characters.
const TITLE_VALUE_CHARS: usize = 200;
const NO_MESSAGE: &str = "<no message>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub version: &'static str,
    /// 32 lowercase hex digits: the first 16 bytes of SHA-256 over the
    /// components joined with `\u{1f}`.
    pub hash: String,
    pub components: Vec<String>,
}

/// One replacement step of [`parameterize`], in the order they run.
struct Rule {
    pattern: Regex,
    placeholder: &'static str,
    /// Extra check on a match (the regex crate has no look-around).
    accept: fn(&str, usize, usize) -> bool,
}

fn always(_: &str, _: usize, _: usize) -> bool {
    true
}

/// Bare hex needs a letter and a digit: `deadbeef` is a word, `12345678` a number.
fn mixed_hex(text: &str, start: usize, end: usize) -> bool {
    let found = &text[start..end];
    found.starts_with("0x")
        || found.starts_with("0X")
        || (found.bytes().any(|b| b.is_ascii_digit())
            && found.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// An IPv6 address standing alone (not `std::io` or `Foo::bar`).
fn standalone_ipv6(text: &str, start: usize, end: usize) -> bool {
    let found = &text[start..end];
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == ':' || c == '.';
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(word)
        && !after.is_some_and(word)
        && found.bytes().any(|b| b.is_ascii_digit())
        && found.parse::<std::net::Ipv6Addr>().is_ok()
}

type Accept = fn(&str, usize, usize) -> bool;

fn compile(specs: Vec<(String, &'static str, Accept)>) -> Vec<Rule> {
    specs
        .into_iter()
        .filter_map(|(pattern, placeholder, accept)| {
            Regex::new(&pattern).ok().map(|pattern| Rule {
                pattern,
                placeholder,
                accept,
            })
        })
        .collect()
}

/// Everything but quoted strings and plain numbers, in this order: a URL
/// first (whatever it holds is one thing), emails before UUIDs and hex (a
/// local part may hold either), UUIDs before hex, dates before IPv6 (a time
/// has colons).
static IDENTIFIERS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let hex = "[0-9a-fA-F]";
    let ipv4 = r"\d{1,3}(?:\.\d{1,3}){3}";
    let zone = r"(?:Z|[+-]\d{2}:?\d{2})?";
    compile(vec![
        (
            r#"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'"<>()\[\]{}]+"#.to_string(),
            "<url>",
            always,
        ),
        (
            r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b".to_string(),
            "<email>",
            always,
        ),
        (
            format!(r"\b{hex}{{8}}-{hex}{{4}}-{hex}{{4}}-{hex}{{4}}-{hex}{{12}}\b"),
            "<uuid>",
            always,
        ),
        (
            format!(
                r"\b\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?)?{zone}\b|\b\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d+)?{zone}\b"
            ),
            "<date>",
            always,
        ),
        (
            format!(r"\b0[xX]{hex}+\b|\b{hex}{{8,}}\b"),
            "<hex>",
            mixed_hex,
        ),
        (
            format!(r"(?:{hex}{{0,4}}:){{2,7}}(?:{ipv4}|{hex}{{0,4}})"),
            "<ip>",
            standalone_ipv6,
        ),
        (format!(r"\b{ipv4}\b"), "<ip>", always),
    ])
});

/// Numbers not inside identifiers (`\b` on both sides): decimals, then integers.
static NUMBERS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    compile(vec![
        (r"\b\d+\.\d+\b".to_string(), "<num>", always),
        (r"\b\d+\b".to_string(), "<int>", always),
    ])
});

/// `text` with its variable parts replaced by placeholders, first two
/// non-empty lines only: URLs `<url>`, emails `<email>`, UUIDs `<uuid>`, ISO
/// dates and times `<date>`, hex ids (`0x…`, or 8+ hex digits mixing letters
/// and digits) `<hex>`, IPv4/IPv6 `<ip>`, quoted strings `<str>`, decimals
/// `<num>` and integers `<int>` (not inside identifiers: `utf8`, `h2` and
/// `x86_64` stay).
pub fn parameterize(text: &str) -> String {
    let mut out = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    for rule in IDENTIFIERS.iter() {
        out = replace_accepted(&out, rule);
    }
    out = replace_quoted(&out);
    for rule in NUMBERS.iter() {
        out = replace_accepted(&out, rule);
    }
    out
}

fn replace_accepted(text: &str, rule: &Rule) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for found in rule.pattern.find_iter(text) {
        if (rule.accept)(text, found.start(), found.end()) {
            out.push_str(&text[last..found.start()]);
            out.push_str(rule.placeholder);
            last = found.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// `'…'` and `"…"` on one line → `<str>`, when the quote opens and closes a
/// word (an apostrophe in `it's` or `o'clock` is not a quote).
fn replace_quoted(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = (c == '\'' || c == '"') && (i == 0 || !is_word(chars[i - 1]));
        if opens {
            let close = (i + 1..chars.len())
                .take_while(|&j| chars[j] != '\n')
                .find(|&j| chars[j] == c && chars.get(j + 1).is_none_or(|&n| !is_word(n)));
            if let Some(j) = close {
                out.push_str("<str>");
                i = j + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The issue key of `event`.
pub fn group(event: &Value) -> Grouping {
    let components = match fingerprint(event) {
        Some(parts) => parts
            .into_iter()
            .flat_map(|part| {
                if is_default_marker(&part) {
                    default_components(event)
                } else {
                    vec![part]
                }
            })
            .collect(),
        None => default_components(event),
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, components.join(SEPARATOR).as_bytes());
    let hash = data_encoding::HEXLOWER.encode(&digest.as_ref()[..16]);
    Grouping {
        version: VERSION,
        hash,
        components,
    }
}

/// The client's fingerprint: strings (numbers written out); none when absent
/// or holding nothing usable.
fn fingerprint(event: &Value) -> Option<Vec<String>> {
    let parts: Vec<String> = event
        .get("fingerprint")?
        .as_array()?
        .iter()
        .filter_map(|part| match part {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then_some(parts)
}

fn is_default_marker(part: &str) -> bool {
    part.strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .is_some_and(|inner| inner.trim() == "default")
}

fn default_components(event: &Value) -> Vec<String> {
    if let Some(exception) = raised_exception(event) {
        let kind = text_field(exception, "type");
        let value = text_field(exception, "value");
        if kind.is_some() || value.is_some() {
            let mut components = vec![
                kind.unwrap_or_default().to_string(),
                parameterize(value.unwrap_or_default()),
            ];
            if let Some(frame) = top_in_app(frames(exception)) {
                let place = text_field(frame, "module")
                    .or_else(|| text_field(frame, "filename"))
                    .unwrap_or("?");
                let function = text_field(frame, "function").unwrap_or("?");
                components.push(format!("{place}:{function}"));
            }
            return components;
        }
    }
    match message_template(event).map(parameterize) {
        Some(message) if !message.is_empty() => vec![message],
        _ => vec![NO_MESSAGE.to_string()],
    }
}

/// The exception that was raised: the last of `exception.values` (or of
/// `exception` sent as a bare list).
fn raised_exception(event: &Value) -> Option<&Value> {
    let exception = event.get("exception")?;
    let list = match exception {
        Value::Array(items) => items,
        Value::Object(_) => exception.get("values")?.as_array()?,
        _ => return None,
    };
    list.iter().rev().find(|item| item.is_object())
}

fn frames(holder: &Value) -> &[Value] {
    holder
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Which frames of a stack are the app's own: those marked `in_app: true`;
/// when none is, those not marked `in_app: false` (SDKs leave the flag
/// unset when they cannot tell, as sentry-python does for `__main__`).
pub fn in_app_flags(stack: &[Value]) -> Vec<bool> {
    let flag = |f: &Value| f.get("in_app").and_then(Value::as_bool);
    let any_marked = stack.iter().any(|f| flag(f) == Some(true));
    stack
        .iter()
        .map(|f| match flag(f) {
            Some(marked) => marked,
            None => !any_marked,
        })
        .collect()
}

/// The callee-most in-app frame of a stack.
fn top_in_app(stack: &[Value]) -> Option<&Value> {
    let flags = in_app_flags(stack);
    stack
        .iter()
        .zip(flags)
        .rev()
        .find(|(_, app)| *app)
        .map(|(f, _)| f)
}

/// A non-empty string field.
fn text_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
}

/// The message without its parameters: `logentry.message`, else
/// `logentry.formatted`, else `message` (a string, or an object holding
/// `message` or `formatted`).
fn message_template(event: &Value) -> Option<&str> {
    let logentry = event.get("logentry");
    logentry
        .and_then(|l| text_field(l, "message").or_else(|| text_field(l, "formatted")))
        .or_else(|| message_field(event, &["message", "formatted"]))
}

/// The message as shown: formatted first.
fn message_formatted(event: &Value) -> Option<&str> {
    let logentry = event.get("logentry");
    logentry
        .and_then(|l| text_field(l, "formatted").or_else(|| text_field(l, "message")))
        .or_else(|| message_field(event, &["formatted", "message"]))
}

fn message_field<'a>(event: &'a Value, order: &[&str]) -> Option<&'a str> {
    match event.get("message")? {
        Value::String(text) if !text.trim().is_empty() => Some(text),
        object @ Value::Object(_) => order.iter().find_map(|key| text_field(object, key)),
        _ => None,
    }
}

/// The issue's title: `Type: value` for an exception, else the formatted
/// message, else `<unlabeled event>`; first line, value capped at 200
/// characters.
pub fn title(event: &Value) -> String {
    if let Some(exception) = raised_exception(event) {
        let kind = text_field(exception, "type");
        let value = text_field(exception, "value").map(first_line_capped);
        match (kind, value) {
            (Some(kind), Some(value)) => return format!("{kind}: {value}"),
            (Some(kind), None) => return kind.to_string(),
            (None, Some(value)) => return value,
            (None, None) => {}
        }
    }
    match message_formatted(event).map(first_line_capped) {
        Some(message) if !message.is_empty() => message,
        _ => "<unlabeled event>".to_string(),
    }
}

fn first_line_capped(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    match line.char_indices().nth(TITLE_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Where it happened: the callee-most in-app frame of the raised exception
/// (or of the event's own stacktrace, or a thread's), as `module in
/// function` (`filename in function` without a module); else the event's
/// `transaction`; else its `culprit`.
pub fn culprit(event: &Value) -> Option<String> {
    let stacks = raised_exception(event)
        .map(frames)
        .into_iter()
        .chain(std::iter::once(frames(event)))
        .chain(thread_stacks(event));
    for stack in stacks {
        if let Some(frame) = top_in_app(stack) {
            let place = text_field(frame, "module").or_else(|| text_field(frame, "filename"));
            let function = text_field(frame, "function");
            let label = match (place, function) {
                (Some(place), Some(function)) => Some(format!("{place} in {function}")),
                (Some(only), None) | (None, Some(only)) => Some(only.to_string()),
                (None, None) => None,
            };
            if label.is_some() {
                return label;
            }
        }
    }
    text_field(event, "transaction")
        .or_else(|| text_field(event, "culprit"))
        .map(str::to_string)
}

fn thread_stacks(event: &Value) -> impl Iterator<Item = &[Value]> {
    let threads = event.get("threads");
    let list = match threads {
        Some(Value::Array(items)) => items.as_slice(),
        Some(object @ Value::Object(_)) => object
            .get("values")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default(),
        _ => &[],
    };
    list.iter().map(frames)
}

#[cfg(test)]
#[path = "grouping_tests.rs"]
mod tests;
