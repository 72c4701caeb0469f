//! The configuration loader: any text is a configuration or a list of problems, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Err(e) = sekimori::config::Config::from_toml_str(s) {
        assert!(!e.problems.is_empty());
    }
});
