//! The proxies' request descriptions and cookies: arbitrary header values (repeated, empty,
//! binary) for both forward-auth endpoints, with the other scheme's headers beside them.
//! Never panics; an accepted description is one whose path reads the same again.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sekimori::http::authz::target::{DESCRIBING, Mode, from_headers};

/// The header a byte picks: every describing header of both schemes (the foreign ones too,
/// so that the agreement check is fuzzed), then the cookie and the address.
fn name(pick: u8) -> &'static str {
    const OTHERS: [&str; 2] = ["cookie", "x-forwarded-for"];
    let i = usize::from(pick) % (DESCRIBING.len() + OTHERS.len());
    DESCRIBING
        .get(i)
        .copied()
        .unwrap_or_else(|| OTHERS[i - DESCRIBING.len()])
}

fuzz_target!(|data: &[u8]| {
    // Header values separated by 0xff; the byte before each picks its name.
    let mut h = HeaderMap::new();
    for part in data.split(|b| *b == 0xff) {
        let Some((pick, value)) = part.split_first() else { continue };
        let name = HeaderName::from_static(name(*pick));
        if let Ok(v) = HeaderValue::from_bytes(value) {
            h.append(name, v);
        }
    }
    for mode in [Mode::ForwardAuth, Mode::AuthRequest] {
        if let Ok(t) = from_headers(mode, &h) {
            // Spelled again it reads the same, unless spelling it lengthened it past the limit.
            let spelled = sekimori::canon::encode(&t.path);
            if spelled.len() <= sekimori::canon::MAX_TARGET_BYTES {
                let again = sekimori::canon::canonicalise(spelled.as_bytes())
                    .expect("an accepted path reads again");
                assert_eq!(again.path, t.path);
            }
        }
    }
    let _ = sekimori::http::client::cookie(&h, "sekimori_session");
});
