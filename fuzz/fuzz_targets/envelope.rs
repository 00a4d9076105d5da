//! Any bytes given to the envelope parser: it must answer `Ok` or an error,
//! never panic, and every item it returns must hold a payload within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use watchpost::errors::envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = envelope::parse(data) {
        let payload_bytes: usize = parsed.items.iter().map(|item| item.payload.len()).sum();
        assert!(payload_bytes <= data.len());
    }
});
