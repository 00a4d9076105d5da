//! Tests of [`super`]: the scrubbing table over every area and shape, cards, PEM keys and URL passwords, and property tests.

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
    let pem = "cfg: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nend";
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
