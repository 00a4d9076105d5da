//! Any JSON (parsed from the fuzzer's bytes) through what the digest does to
//! an event: scrubbing must not panic and must be idempotent, and grouping,
//! title and culprit must not panic and give a well-formed key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use watchpost::errors::{grouping, scrub};

fuzz_target!(|data: &[u8]| {
    let Ok(mut event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    scrub::scrub_event(&mut event);
    let mut again = event.clone();
    scrub::scrub_event(&mut again);
    assert_eq!(event, again, "scrubbing twice changed the event");

    let key = grouping::group(&event);
    assert_eq!(key.version, grouping::VERSION);
    assert_eq!(key.hash.len(), 32);
    assert!(
        key.hash
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert!(!key.components.is_empty());
    let _ = grouping::title(&event);
    let _ = grouping::culprit(&event);
});
