// Run: cargo +nightly fuzz run verify_token   (from the repository root)
#![no_main]

#[allow(dead_code, reason = "shared by the fuzz targets and a test; each uses part of it")]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::verify_input(data));
