//! The WebAuthn answers that reach the gateway's own code: JSON into the credential types
//! (base64url fields, CBOR attestation objects and client data kept as bytes). Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = sekimori::http::api::webauthn::parse_credential::<PublicKeyCredential>(v.clone());
    let _ = sekimori::http::api::webauthn::parse_credential::<RegisterPublicKeyCredential>(v);
});
