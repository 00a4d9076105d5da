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
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn scrubbed(mut event: Value) -> Value {
        scrub_event(&mut event);
        event
    }

    #[test]
    fn each_area_filters_values_by_key() {
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "headers as a map",
                json!({"request": {"headers": {"Cookie": "sessionid=abc", "Authorization": "Bearer xyz", "X-Api-Key": "k", "Accept": "text/html"}}}),
                json!({"request": {"headers": {"Cookie": FILTERED, "Authorization": FILTERED, "X-Api-Key": FILTERED, "Accept": "text/html"}}}),
            ),
            (
                "headers as pairs",
                json!({"request": {"headers": [["Cookie", "a=b"], ["authorization", "Basic Zm9v"], ["Host", "shop.example"]]}}),
                json!({"request": {"headers": [["Cookie", FILTERED], ["authorization", FILTERED], ["Host", "shop.example"]]}}),
            ),
            (
                "headers as raw lines",
                json!({"request": {"headers": "Host: shop.example\r\nCookie: sessionid=abc\r\nAuthorization: Bearer x"}}),
                json!({"request": {"headers": "Host: shop.example\r\nCookie: [Filtered]\r\nAuthorization: [Filtered]"}}),
            ),
            (
                "cookies as a map keep names, lose values",
                json!({"request": {"cookies": {"sessionid": "abc", "theme": "dark"}}}),
                json!({"request": {"cookies": {"sessionid": FILTERED, "theme": FILTERED}}}),
            ),
            (
                "cookies as pairs",
                json!({"request": {"cookies": [["csrftoken", "t"], ["theme", "dark"]]}}),
                json!({"request": {"cookies": [["csrftoken", FILTERED], ["theme", FILTERED]]}}),
            ),
            (
                "cookies as a string",
                json!({"request": {"cookies": "sessionid=abc; theme=dark"}}),
                json!({"request": {"cookies": "sessionid=[Filtered]; theme=[Filtered]"}}),
            ),
            (
                "data as a map, nested",
                json!({"request": {"data": {"username": "ann", "password": "hunter2", "card": {"cvv": "1", "api_key": ["a", "b"]}}}}),
                json!({"request": {"data": {"username": "ann", "password": FILTERED, "card": {"cvv": "1", "api_key": FILTERED}}}}),
            ),
            (
                "data as pairs",
                json!({"request": {"data": [["new_password", "x"], ["name", "ann"]]}}),
                json!({"request": {"data": [["new_password", FILTERED], ["name", "ann"]]}}),
            ),
            (
                "data as a form string",
                json!({"request": {"data": "name=ann&password=hunter2&next=%2F"}}),
                json!({"request": {"data": "name=ann&password=[Filtered]&next=%2F"}}),
            ),
            (
                "data as a JSON string",
                json!({"request": {"data": "{\"password\":\"hunter2\",\"q\":1}"}}),
                json!({"request": {"data": "{\"password\":\"[Filtered]\",\"q\":1}"}}),
            ),
            (
                "query string",
                json!({"request": {"query_string": "a=1&token=x&page=2", "url": "https://shop.example/cb?code=1&access_token=zz"}}),
                json!({"request": {"query_string": "a=1&token=[Filtered]&page=2", "url": "https://shop.example/cb?code=1&access_token=[Filtered]"}}),
            ),
            (
                "query string as pairs, percent-encoded name",
                json!({"request": {"query_string": [["api%5Fkey", "k"], ["q", "shoes"]]}}),
                json!({"request": {"query_string": [["api%5Fkey", FILTERED], ["q", "shoes"]]}}),
            ),
            (
                "request env",
                json!({"request": {"env": {"HTTP_AUTHORIZATION": "x", "REMOTE_ADDR": "10.0.0.1"}}}),
                json!({"request": {"env": {"HTTP_AUTHORIZATION": FILTERED, "REMOTE_ADDR": "10.0.0.1"}}}),
            ),
            (
                "extra, nested and whole objects",
                json!({"extra": {"job": {"id": 7, "credentials": {"user": "u", "pass": "p"}, "list": [{"secret": 1}]}}}),
                json!({"extra": {"job": {"id": 7, "credentials": FILTERED, "list": [{"secret": FILTERED}]}}}),
            ),
            (
                "user keeps id, email and ip",
                json!({"user": {"id": "42", "email": "ann@example.com", "ip_address": "203.0.113.9", "username": "ann", "session_key": "s"}}),
                json!({"user": {"id": "42", "email": "ann@example.com", "ip_address": "203.0.113.9", "username": "ann", "session_key": FILTERED}}),
            ),
            (
                "breadcrumbs data and message",
                json!({"breadcrumbs": {"values": [{"category": "http", "message": "GET /cb?token=abc&x=1", "data": {"url": "/cb", "Authorization": "x"}}]}}),
                json!({"breadcrumbs": {"values": [{"category": "http", "message": "GET /cb?token=[Filtered]&x=1", "data": {"url": "/cb", "Authorization": FILTERED}}]}}),
            ),
            (
                "breadcrumbs as a bare list",
                json!({"breadcrumbs": [{"data": {"csrf": "c"}}]}),
                json!({"breadcrumbs": [{"data": {"csrf": FILTERED}}]}),
            ),
            (
                "frame vars in exceptions",
                json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "login", "vars": {"password": "'hunter2'", "user": "'ann'"}}]}}]}}),
                json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "login", "vars": {"password": FILTERED, "user": "'ann'"}}]}}]}}),
            ),
            (
                "frame vars in threads and a bare exception list",
                json!({"threads": {"values": [{"stacktrace": {"frames": [{"vars": {"token": "t"}}]}}]}, "exception": [{"stacktrace": {"frames": [{"vars": {"bearer": "b"}}]}}]}),
                json!({"threads": {"values": [{"stacktrace": {"frames": [{"vars": {"token": FILTERED}}]}}]}, "exception": [{"stacktrace": {"frames": [{"vars": {"bearer": FILTERED}}]}}]}),
            ),
            (
                "contexts",
                json!({"contexts": {"app": {"app_name": "shop", "secret_key": "s"}, "trace": {"trace_id": "ab"}}}),
                json!({"contexts": {"app": {"app_name": "shop", "secret_key": FILTERED}, "trace": {"trace_id": "ab"}}}),
            ),
            (
                "tags as a map",
                json!({"tags": {"mysql_pwd": "p", "region": "eu"}}),
                json!({"tags": {"mysql_pwd": FILTERED, "region": "eu"}}),
            ),
            (
                "tags as pairs",
                json!({"tags": [["private-key", "k"], ["region", "eu"]]}),
                json!({"tags": [["private-key", FILTERED], ["region", "eu"]]}),
            ),
            (
                "null stays null",
                json!({"extra": {"password": null}}),
                json!({"extra": {"password": null}}),
            ),
        ];
        for (name, input, expected) in cases {
            assert_eq!(scrubbed(input), expected, "{name}");
        }
    }

    #[test]
    fn card_numbers_are_filtered_anywhere_when_they_pass_luhn() {
        let cases = [
            ("paid with 4111 1111 1111 1111.", "paid with [Filtered]."),
            ("4111-1111-1111-1111", FILTERED),
            ("card=5500005555555559 ok", "card=[Filtered] ok"),
            ("4111 1111 1111 1112", "4111 1111 1111 1112"),
            ("order 1234567812345678", "order 1234567812345678"),
            ("ticket 4111111", "ticket 4111111"),
            ("id 123456789012", "id 123456789012"),
        ];
        for (input, expected) in cases {
            let event =
                scrubbed(json!({"message": input, "exception": {"values": [{"value": input}]}}));
            assert_eq!(event["message"], json!(expected), "{input}");
            assert_eq!(
                event["exception"]["values"][0]["value"],
                json!(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn private_keys_are_filtered_in_nested_strings() {
        let pem =
            "cfg: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nend";
        let open = "key -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn";
        let event = scrubbed(json!({"contexts": {"deploy": {"notes": [pem]}}, "logger": open}));
        assert_eq!(
            event["contexts"]["deploy"]["notes"][0],
            json!("cfg: [Filtered]\nend")
        );
        assert_eq!(event["logger"], json!("key [Filtered]"));
    }

    #[test]
    fn url_passwords_are_filtered_anywhere() {
        let event = scrubbed(json!({
            "exception": [{"value": "cannot reach postgres://app:hunter2@db:5432/shop"}],
            "extra": {"DATABASE_URL": "redis://:s3cr3t@cache/0", "docs": "https://example.com/a@b"},
        }));
        assert_eq!(
            event["exception"][0]["value"],
            json!("cannot reach postgres://app:[Filtered]@db:5432/shop")
        );
        assert_eq!(
            event["extra"]["DATABASE_URL"],
            json!("redis://:[Filtered]@cache/0")
        );
        assert_eq!(event["extra"]["docs"], json!("https://example.com/a@b"));
    }

    #[test]
    fn unrelated_fields_are_untouched() {
        let event = json!({
            "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "level": "error",
            "platform": "python",
            "release": "shop@1.4.2",
            "transaction": "/checkout/",
            "timestamp": 1_700_000_000.5,
            "message": "Order 1234 failed: tax=5",
            "user": {"id": "42", "email": "ann@example.com", "ip_address": "2001:db8::1"},
            "request": {"method": "POST", "url": "https://shop.example/checkout/?step=2", "headers": {"User-Agent": "curl/8"}},
            "exception": {"values": [{"type": "ValueError", "value": "bad 12", "stacktrace": {"frames": [{"function": "f", "lineno": 3, "vars": {"n": 3}}]}}]},
            "tags": {"author": "x"},
        });
        let mut expected = event.clone();
        expected["tags"]["author"] = json!(FILTERED);
        assert_eq!(scrubbed(event), expected);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("request".to_string()),
            Just("headers".to_string()),
            Just("cookies".to_string()),
            Just("data".to_string()),
            Just("query_string".to_string()),
            Just("extra".to_string()),
            Just("user".to_string()),
            Just("breadcrumbs".to_string()),
            Just("values".to_string()),
            Just("message".to_string()),
            Just("exception".to_string()),
            Just("threads".to_string()),
            Just("stacktrace".to_string()),
            Just("frames".to_string()),
            Just("vars".to_string()),
            Just("contexts".to_string()),
            Just("tags".to_string()),
            Just("password".to_string()),
            "[a-zA-Z_%=:]{0,8}",
        ];
        let text = prop_oneof![
            "[0-9 \\-]{0,30}",
            "[a-z0-9=&;:% \\[\\]{}\"\\r\\n,-]{0,30}",
            Just("4111 1111 1111 1111".to_string()),
            Just("-----BEGIN PRIVATE KEY-----x".to_string()),
            Just("{\"token\": 1.5e300, \"n\": 0.1}".to_string()),
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner.clone()), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                (key.clone(), inner).prop_map(|(k, v)| json!([[k, v]])),
            ]
        })
    }

    proptest! {
        #[test]
        fn scrubbing_never_panics_and_is_idempotent(event in json_value()) {
            let once = scrubbed(event);
            let twice = scrubbed(once.clone());
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn any_event_shaped_json_is_idempotent(
            area in prop_oneof![Just("request"), Just("extra"), Just("tags"), Just("breadcrumbs"), Just("user")],
            inner in json_value(),
        ) {
            let mut event = serde_json::Map::new();
            event.insert(
                "request".to_string(),
                json!({"data": inner.clone(), "headers": inner.clone(), "cookies": inner.clone()}),
            );
            event.insert(area.to_string(), inner);
            let once = scrubbed(Value::Object(event));
            let twice = scrubbed(once.clone());
            prop_assert_eq!(once, twice);
        }
    }
}
