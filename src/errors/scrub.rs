//! Server-side scrubbing of an ingested Sentry event, always applied before
//! anything is stored or shown: SDKs send local variables, request bodies and
//! headers even with `send_default_pii=False`. Two rules:
//!
//! - by name, inside `request`, `extra`, `user`, `breadcrumbs` (each crumb's
//!   `data` and `message`), frame `vars` (exception, threads and the event's
//!   own stacktrace), `contexts` and `tags`: a value whose key looks secret
//!   ([`crate::redact::is_secret_name`], Relay's pattern plus cookies,
//!   sessions and CSRF) becomes `[Filtered]` whole, objects and arrays
//!   included. Keys are map keys, the first element of `[key, value]` pairs,
//!   and the names in `key=value` text (query strings, form bodies,
//!   messages). Every cookie value in `request.cookies` is filtered, names
//!   kept; a JSON body sent as a string is scrubbed as JSON.
//! - by value, in every string of the event: PEM private keys, card
//!   numbers that pass the Luhn check, and the password in a URL's user
//!   info (`postgres://app:[Filtered]@db/shop`).
//!
//! It must never panic on any JSON, and scrubbing twice changes nothing more
//! than scrubbing once (property-tested).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::redact;

/// What a filtered value becomes (the word Sentry shows).
pub const FILTERED: &str = "[Filtered]";

/// A `name=value` pair inside text; the value runs to `&`, `;` or space.
static KEY_VALUE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"([\w.\-\[\]%]+)=([^&;\s]+)").ok());

/// The password of a URL's user info: `postgres://app:hunter2@db/shop`.
static URL_PASSWORD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"([a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*):[^/\s@]+@").ok());

/// Fields of `request` whose own names say what they are, not what they hold.
const REQUEST_PARTS: &[&str] = &[
    "url",
    "method",
    "query_string",
    "headers",
    "cookies",
    "data",
    "env",
    "fragment",
];

/// Scrubs `event` in place (see the module documentation for the rules).
pub fn scrub_event(event: &mut Value) {
    if let Value::Object(fields) = event {
        if let Some(request) = fields.get_mut("request") {
            scrub_request(request);
        }
        for area in ["extra", "user", "contexts", "tags"] {
            if let Some(value) = fields.get_mut(area) {
                scrub_by_key(value);
            }
        }
        if let Some(breadcrumbs) = fields.get_mut("breadcrumbs") {
            for crumb in entries_mut(breadcrumbs) {
                if let Some(data) = crumb.get_mut("data") {
                    scrub_by_key(data);
                }
                if let Some(Value::String(message)) = crumb.get_mut("message") {
                    replace_if_owned(message, scrub_pairs_in_text);
                }
            }
        }
        for area in ["exception", "threads"] {
            if let Some(list) = fields.get_mut(area) {
                for entry in entries_mut(list) {
                    for key in ["stacktrace", "raw_stacktrace"] {
                        if let Some(stacktrace) = entry.get_mut(key) {
                            scrub_frame_vars(stacktrace);
                        }
                    }
                }
            }
        }
        if let Some(stacktrace) = fields.get_mut("stacktrace") {
            scrub_frame_vars(stacktrace);
        }
    }
    scrub_values(event);
}

/// The entries of `{values: [...]}` or of a bare list; nothing otherwise.
fn entries_mut(value: &mut Value) -> &mut [Value] {
    match value {
        Value::Array(items) => items,
        Value::Object(fields) => match fields.get_mut("values") {
            Some(Value::Array(items)) => items,
            _ => &mut [],
        },
        _ => &mut [],
    }
}

fn scrub_frame_vars(stacktrace: &mut Value) {
    if let Some(Value::Array(frames)) = stacktrace.get_mut("frames") {
        for frame in frames {
            if let Some(vars) = frame.get_mut("vars") {
                scrub_by_key(vars);
            }
        }
    }
}

fn scrub_request(request: &mut Value) {
    let Value::Object(parts) = request else {
        scrub_by_key(request);
        return;
    };
    for (name, value) in parts.iter_mut() {
        match (name.as_str(), &mut *value) {
            ("cookies", cookies) => filter_every_value(cookies),
            ("data", Value::String(body)) => replace_if_owned(body, scrub_body),
            ("headers", Value::String(headers)) => replace_if_owned(headers, scrub_header_text),
            (name, value) if !REQUEST_PARTS.contains(&name) && is_secret(name) => filter(value),
            (_, value) => scrub_by_key(value),
        }
    }
}

/// Key-based scrubbing of one value and everything under it.
fn scrub_by_key(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields.iter_mut() {
                if is_secret(key) {
                    filter(inner);
                } else {
                    scrub_by_key(inner);
                }
            }
        }
        Value::Array(items) if is_pair_list(items) => {
            for item in items {
                if let Value::Array(pair) = item
                    && let [Value::String(key), inner] = pair.as_mut_slice()
                {
                    if is_secret(key) {
                        filter(inner);
                    } else {
                        scrub_by_key(inner);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_by_key),
        Value::String(text) => replace_if_owned(text, scrub_pairs_in_text),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `request.cookies`: names are kept, every value goes (a cookie is a
/// credential more often than not, whatever its name).
fn filter_every_value(cookies: &mut Value) {
    match cookies {
        Value::Object(fields) => fields.values_mut().for_each(filter),
        Value::Array(items) if is_pair_list(items) => {
            for item in items {
                if let Value::Array(pair) = item
                    && let [_, inner] = pair.as_mut_slice()
                {
                    filter(inner);
                }
            }
        }
        Value::String(text) => {
            if let Some(re) = KEY_VALUE.as_ref()
                && re.is_match(text)
            {
                *text = re
                    .replace_all(text, |caps: &regex::Captures<'_>| {
                        format!("{}={FILTERED}", &caps[1])
                    })
                    .into_owned();
            } else if !text.is_empty() {
                *text = FILTERED.to_string();
            }
        }
        other => filter(other),
    }
}

/// A body sent as a string: JSON is scrubbed as JSON (and written back only
/// when something was filtered), anything else as `key=value` text.
fn scrub_body(body: &str) -> Cow<'_, str> {
    let trimmed = body.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut parsed) = serde_json::from_str::<Value>(body)
    {
        let before = parsed.clone();
        scrub_by_key(&mut parsed);
        if parsed == before {
            return Cow::Borrowed(body);
        }
        return match serde_json::to_string(&parsed) {
            Ok(text) => Cow::Owned(text),
            Err(_) => Cow::Owned(FILTERED.to_string()),
        };
    }
    scrub_pairs_in_text(body)
}

/// Headers as raw `Name: value` lines.
fn scrub_header_text(text: &str) -> Cow<'_, str> {
    let scrubbed: Vec<Cow<'_, str>> = text
        .split('\n')
        .map(|line| match line.split_once(':') {
            Some((name, _)) if is_secret(name.trim()) => {
                let end = if line.ends_with('\r') { "\r" } else { "" };
                Cow::Owned(format!("{}: {FILTERED}{end}", scrub_pairs_in_text(name)))
            }
            _ => scrub_pairs_in_text(line),
        })
        .collect();
    let joined = scrubbed.join("\n");
    if joined == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(joined)
    }
}

/// `a=1&token=x` → `a=1&token=[Filtered]`; also `;`- or space-separated.
fn scrub_pairs_in_text(text: &str) -> Cow<'_, str> {
    if !text.contains('=') {
        return Cow::Borrowed(text);
    }
    let Some(re) = KEY_VALUE.as_ref() else {
        return Cow::Borrowed(text);
    };
    let secret_pair = |caps: &regex::Captures<'_>| is_secret(&caps[1]) && &caps[2] != FILTERED;
    if !re.captures_iter(text).any(|caps| secret_pair(&caps)) {
        return Cow::Borrowed(text);
    }
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        if is_secret(&caps[1]) {
            format!("{}={FILTERED}", &caps[1])
        } else {
            caps[0].to_string()
        }
    })
}

fn scrub_url_password(text: &str) -> Cow<'_, str> {
    if !(text.contains("://") && text.contains('@')) {
        return Cow::Borrowed(text);
    }
    let Some(re) = URL_PASSWORD.as_ref() else {
        return Cow::Borrowed(text);
    };
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        format!("{}:{FILTERED}@", &caps[1])
    })
}

/// Value-based scrubbing of every string (map keys are left alone).
fn scrub_values(value: &mut Value) {
    match value {
        Value::String(text) => {
            replace_if_owned(text, |t| redact::scrub_value_with(t, FILTERED));
            replace_if_owned(text, scrub_url_password);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_values),
        Value::Object(fields) => fields.values_mut().for_each(scrub_values),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn replace_if_owned(text: &mut String, scrub: impl Fn(&str) -> Cow<'_, str>) {
    if let Cow::Owned(scrubbed) = scrub(text) {
        *text = scrubbed;
    }
}

/// A list of `[key, value]` pairs, as SDKs send headers, cookies and tags.
fn is_pair_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items.iter().all(
            |item| matches!(item, Value::Array(pair) if pair.len() == 2 && pair[0].is_string()),
        )
}

fn is_secret(key: &str) -> bool {
    redact::is_secret_name(key)
        || (key.contains('%')
            && redact::is_secret_name(
                &percent_encoding::percent_decode_str(key).decode_utf8_lossy(),
            ))
}

/// A null stays null (it holds nothing); anything else becomes `[Filtered]`.
fn filter(value: &mut Value) {
    if !value.is_null() {
        *value = Value::String(FILTERED.to_string());
    }
}

#[cfg(test)]
#[path = "scrub_tests.rs"]
mod tests;
