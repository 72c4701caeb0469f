//! The codes people type: TOTP codes, recovery and break-glass codes, device-flow user codes.
//! Never panics; a normalised code normalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(c) = sekimori::totp::parse_code(s) {
        assert_eq!(sekimori::totp::parse_code(c).ok(), Some(c));
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
    }
    if let Ok(n) = sekimori::recovery::normalise(s) {
        assert_eq!(sekimori::recovery::normalise(&n).ok(), Some(n));
    }
    if let Some(n) = sekimori::auth::device_flow::normalise_code(s) {
        assert_eq!(sekimori::auth::device_flow::normalise_code(&n), Some(n));
    }
});
