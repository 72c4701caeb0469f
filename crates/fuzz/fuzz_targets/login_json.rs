//! The JSON bodies the API accepts: the login step, and the PAM module's calls. Parsing
//! never panics, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<sekimori::http::api::login::LoginRequest>(data);
    let _ = serde_json::from_slice::<sekimori::http::api::pam::AuthenticateBody>(data);
    let _ = serde_json::from_slice::<sekimori::http::api::pam::DeviceFlowBody>(data);
    let _ = serde_json::from_slice::<sekimori::http::api::password::CheckRequest>(data);
});
