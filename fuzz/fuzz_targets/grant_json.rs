// Run: cargo +nightly fuzz run grant_json   (from the repository root)
#![no_main]

#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::grant_input(data));
