//! The request-target canonicaliser: never panics; what it reads, read again, reads the
//! same (one reading, idempotent); what it refuses stays refused with a stable reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekimori::canon::{MAX_TARGET_BYTES, canonicalise, encode};

fuzz_target!(|data: &[u8]| {
    match canonicalise(data) {
        Ok(p) => {
            // Spelled again, the path reads as itself; decoded once more, it does not change.
            // (Spelling a path again can lengthen it threefold, `{` becoming `%7B`; past the
            // length limit the second reading is rightly refused, and that proves nothing.)
            let spelled = encode(&p.path);
            if spelled.len() <= MAX_TARGET_BYTES {
                let again = canonicalise(spelled.as_bytes()).unwrap_or_else(|r| {
                    panic!("{data:?} read once as {:?}, then refused: {r:?}", p.path)
                });
                assert_eq!(again.path, p.path, "not idempotent for {data:?}");
            }
            assert_eq!(p.folded, p.path.to_ascii_lowercase());
            let twice = percent_encoding::percent_decode_str(&p.path).decode_utf8_lossy();
            assert_eq!(twice, p.path, "a second decoding changes {data:?}");
        }
        Err(r) => {
            assert_eq!(canonicalise(data).err(), Some(r), "a refusal must be stable");
        }
    }
    let _ = sekimori::canon::method(data);
    let _ = sekimori::canon::host(data);
    let _ = sekimori::canon::scheme(data);
});
