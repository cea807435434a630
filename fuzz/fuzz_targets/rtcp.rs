//! Fuzz target `rtcp`: see fuzz-harness (fuzz/harness/src/) for what it does with an input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::rtcp(data));
