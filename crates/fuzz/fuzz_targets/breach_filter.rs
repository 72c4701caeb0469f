//! The breach filter file: any bytes load as a filter or are refused, never a panic; a loaded
//! filter answers lookups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekimori::password::breach::BreachFilter;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = BreachFilter::read_from(std::io::Cursor::new(data)) {
        let _ = f.contains_password("password");
        let _ = f.contains_sha1(&[0u8; 20]);
        let _ = f.entries();
    }
});
