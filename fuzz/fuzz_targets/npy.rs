//! Arbitrary bytes into the `.npy` reader: it must return `Ok` or `Err`, never panic, and never
//! allocate for values the bytes do not hold (the run's `-rss_limit_mb` catches that).
#![no_main]

use cellsindy::io::read_npy_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = read_npy_bytes(data) else {
        return;
    };
    // Whatever is accepted was backed by the bytes: at least 4 bytes per value.
    assert!(a.len().saturating_mul(4) <= data.len(), "{} values from {} bytes", a.len(), data.len());
});
