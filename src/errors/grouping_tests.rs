//! Tests of [`super`]: the grouping table, parameterize placeholders, titles and culprits, and property tests.

use proptest::prelude::*;
use serde_json::json;

use super::*;

#[test]
fn frames_without_an_in_app_flag_are_the_apps_when_none_is_marked() {
    let django = json!({"exception": {"values": [{"type": "ZeroDivisionError", "value": "division by zero",
    "stacktrace": {"frames": [
        {"module": "django.core.handlers.base", "function": "_get_response", "in_app": false},
        {"module": "__main__", "function": "checkout"}
    ]}}]}});
    assert_eq!(culprit(&django).as_deref(), Some("__main__ in checkout"));
    assert_eq!(
        in_app_flags(
            django
                .pointer("/exception/values/0/stacktrace/frames")
                .and_then(Value::as_array)
                .unwrap()
        ),
        [false, true]
    );
    let marked = json!([{"function": "a", "in_app": true}, {"function": "b"}]);
    assert_eq!(in_app_flags(marked.as_array().unwrap()), [true, false]);
}

fn exception(kind: &str, value: &str) -> Value {
    json!({"exception": {"values": [{"type": kind, "value": value}]}})
}

#[test]
fn parameterize_replaces_each_kind_of_variable_part() {
    let cases = [
        (
            "user 550e8400-e29b-41d4-a716-446655440000 gone",
            "user <uuid> gone",
        ),
        ("UUID 550E8400-E29B-41D4-A716-446655440000", "UUID <uuid>"),
        ("object 5f2b9c1e7d not found", "object <hex> not found"),
        ("sha 0123456789abcdef0123456789abcdef01234567", "sha <hex>"),
        ("at 0x7ffd5e8c", "at <hex>"),
        ("deadbeef and acceded stay", "deadbeef and acceded stay"),
        ("no user ann.lee+shop@example.co.uk", "no user <email>"),
        (
            "GET https://api.example.com/v1/orders/77?x=1 failed",
            "GET <url> failed",
        ),
        (
            "connect to 10.0.12.7:5432 refused",
            "connect to <ip>:<int> refused",
        ),
        ("connect to [2001:db8::1]:443", "connect to [<ip>]:<int>"),
        ("peer ::1 closed", "peer <ip> closed"),
        (
            "std::io::Error and Foo::bar stay",
            "std::io::Error and Foo::bar stay",
        ),
        ("due 2026-12-07T19:43:01.123Z now", "due <date> now"),
        ("on 2026-12-07 at 19:43:01", "on <date> at <date>"),
        ("since 2026-12-07T19:43:01+01:00", "since <date>"),
        (
            "key 'abc' and \"x y\" missing",
            "key <str> and <str> missing",
        ),
        ("it's 5 o'clock", "it's <int> o'clock"),
        ("took 3.25 s, 12 rows", "took <num> s, <int> rows"),
        ("utf8 h2 x86_64 sha256 stay", "utf8 h2 x86_64 sha256 stay"),
        ("12345678 is a number", "<int> is a number"),
        ("row -4", "row -<int>"),
    ];
    for (input, expected) in cases {
        assert_eq!(parameterize(input), expected, "{input}");
    }
}

#[test]
fn parameterize_keeps_the_first_two_non_empty_lines() {
    assert_eq!(
        parameterize("\n  first 1\n\n second 2 \nthird 3\nfourth"),
        "first <int>\nsecond <int>"
    );
    assert_eq!(parameterize(""), "");
}

#[test]
fn events_differing_only_in_variable_parts_share_a_hash() {
    let families: [[Value; 2]; 6] = [
        [
            exception("KeyError", "order 1234 not found"),
            exception("KeyError", "order 98 not found"),
        ],
        [
            exception("DoesNotExist", "id 550e8400-e29b-41d4-a716-446655440000"),
            exception("DoesNotExist", "id 6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ],
        [
            exception("ValueError", "no account for ann@example.com"),
            exception("ValueError", "no account for bob@example.org"),
        ],
        [
            exception("LookupError", "blob 5f2b9c1e7d missing"),
            exception("LookupError", "blob a8e77c0b12ff missing"),
        ],
        [
            json!({"message": "Payment 17 declined for 'ann'"}),
            json!({"message": "Payment 9 declined for 'bob'"}),
        ],
        [
            json!({"logentry": {"message": "Job %s took %s s", "formatted": "Job 4 took 3.2 s"}}),
            json!({"logentry": {"message": "Job %s took %s s", "formatted": "Job 8 took 1.0 s"}}),
        ],
    ];
    for [a, b] in families {
        assert_eq!(group(&a).hash, group(&b).hash, "{a} vs {b}");
        assert_eq!(group(&a).components, group(&b).components);
    }
}

#[test]
fn different_exception_types_do_not_share_a_hash() {
    let a = group(&exception("KeyError", "x"));
    let b = group(&exception("ValueError", "x"));
    assert_ne!(a.hash, b.hash);
    assert_eq!(a.components, vec!["KeyError".to_string(), "x".to_string()]);
}

#[test]
fn the_hash_is_sha256_of_the_joined_components() {
    let grouping = group(&json!({"message": "hello"}));
    assert_eq!(grouping.version, "wp-1");
    assert_eq!(grouping.components, vec!["hello".to_string()]);
    // sha256("hello"), first 16 bytes.
    assert_eq!(grouping.hash, "2cf24dba5fb0a30e26e83b2ac5b9e29e");
    let two = group(&json!({"fingerprint": ["a", "b"]}));
    let digest = ring::digest::digest(&ring::digest::SHA256, b"a\x1fb");
    assert_eq!(
        two.hash,
        data_encoding::HEXLOWER.encode(&digest.as_ref()[..16])
    );
}

#[test]
fn the_raised_exception_and_its_top_in_app_frame_make_the_key() {
    let event = json!({"exception": {"values": [
        {"type": "ZeroDivisionError", "value": "division by zero"},
        {"type": "RuntimeError", "value": "report 12 failed", "stacktrace": {"frames": [
            {"module": "django.core.handlers", "function": "inner", "in_app": false},
            {"module": "shop.views", "function": "checkout", "in_app": true},
            {"module": "shop.tax", "function": "rate", "in_app": true},
            {"module": "decimal", "function": "div", "in_app": false},
        ]}},
    ]}});
    assert_eq!(
        group(&event).components,
        vec!["RuntimeError", "report <int> failed", "shop.tax:rate"]
    );
    let bare = json!({"exception": [
        {"type": "OSError", "value": "disk 3 full", "stacktrace": {"frames": [
            {"filename": "app/jobs.py", "function": "run", "in_app": true}]}}
    ]});
    assert_eq!(
        group(&bare).components,
        vec!["OSError", "disk <int> full", "app/jobs.py:run"]
    );
    let no_in_app = json!({"exception": [{"type": "OSError", "value": "v",
        "stacktrace": {"frames": [{"module": "lib", "function": "f", "in_app": false}]}}]});
    assert_eq!(group(&no_in_app).components, vec!["OSError", "v"]);
}

#[test]
fn a_fingerprint_wins_and_default_expands() {
    let base = exception("KeyError", "order 7");
    let mut custom = base.clone();
    custom["fingerprint"] = json!(["payments", "stripe"]);
    assert_eq!(group(&custom).components, vec!["payments", "stripe"]);
    assert_ne!(group(&custom).hash, group(&base).hash);

    for marker in ["{{ default }}", "{{default}}"] {
        let mut extended = base.clone();
        extended["fingerprint"] = json!([marker, "eu"]);
        assert_eq!(
            group(&extended).components,
            vec!["KeyError", "order <int>", "eu"]
        );
    }

    let mut useless = base.clone();
    useless["fingerprint"] = json!([{"x": 1}]);
    assert_eq!(group(&useless), group(&base));
}

#[test]
fn messages_prefer_the_template_and_fall_back_in_order() {
    let cases: [(Value, &str); 6] = [
        (
            json!({"logentry": {"message": "User %s left", "formatted": "User 4 left"}}),
            "User %s left",
        ),
        (
            json!({"logentry": {"formatted": "User 4 left"}}),
            "User <int> left",
        ),
        (json!({"message": "disk 91% full"}), "disk <int>% full"),
        (
            json!({"message": {"message": "tpl %s", "formatted": "tpl 1"}}),
            "tpl %s",
        ),
        (json!({"message": {"formatted": "tpl 1"}}), "tpl <int>"),
        (json!({"level": "error"}), "<no message>"),
    ];
    for (event, expected) in cases {
        assert_eq!(
            group(&event).components,
            vec![expected.to_string()],
            "{event}"
        );
    }
    assert_eq!(
        group(&json!("not an object")).components,
        vec!["<no message>"]
    );
}

#[test]
fn multi_line_values_keep_two_lines() {
    let event = exception(
        "IntegrityError",
        "duplicate key 5\nDETAIL: Key (id)=(5) exists.\nCONTEXT: x",
    );
    assert_eq!(
        group(&event).components,
        vec![
            "IntegrityError",
            "duplicate key <int>\nDETAIL: Key (id)=(<int>) exists."
        ]
    );
}

#[test]
fn titles() {
    let long = "x".repeat(250);
    let cases: [(Value, String); 7] = [
        (
            exception("KeyError", "'sku'\nmore"),
            "KeyError: 'sku'".to_string(),
        ),
        (exception("KeyError", ""), "KeyError".to_string()),
        (
            exception("KeyError", &long),
            format!("KeyError: {}…", "x".repeat(200)),
        ),
        (
            json!({"logentry": {"message": "User %s left", "formatted": "User 4 left"}}),
            "User 4 left".to_string(),
        ),
        (json!({"message": "hello\nworld"}), "hello".to_string()),
        (
            json!({"exception": {"values": []}, "message": "m"}),
            "m".to_string(),
        ),
        (json!({}), "<unlabeled event>".to_string()),
    ];
    for (event, expected) in cases {
        assert_eq!(title(&event), expected, "{event}");
    }
}

#[test]
fn culprits() {
    let frames = json!([
        {"module": "shop.views", "function": "checkout", "in_app": true},
        {"filename": "shop/tax.py", "function": "rate", "in_app": true},
        {"module": "decimal", "function": "div", "in_app": false},
    ]);
    let cases: [(Value, Option<&str>); 5] = [
        (
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}}),
            Some("shop/tax.py in rate"),
        ),
        (
            json!({"stacktrace": {"frames": [{"module": "m", "function": "f", "in_app": true}]}}),
            Some("m in f"),
        ),
        (
            json!({"exception": [{"type": "E", "stacktrace": {"frames": [{"module": "lib", "function": "f", "in_app": false}]}}], "transaction": "/checkout/"}),
            Some("/checkout/"),
        ),
        (json!({"culprit": "legacy.view"}), Some("legacy.view")),
        (json!({"message": "m"}), None),
    ];
    for (event, expected) in cases {
        assert_eq!(culprit(&event).as_deref(), expected, "{event}");
    }
}

proptest! {
    #[test]
    fn any_text_parameterizes_and_groups_without_panic(
        text in prop_oneof![any::<String>(), "[0-9a-f:.@'\" \n/x-]{0,60}"],
    ) {
        let once = parameterize(&text);
        prop_assert!(once.lines().count() <= 2);
        let event = json!({"exception": [{"type": "E", "value": text}], "message": once});
        let key = group(&event);
        prop_assert_eq!(key.hash.len(), 32);
        prop_assert!(key.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let _ = (title(&event), culprit(&event));
    }
}
