//! Fuzz target `loadbalancing`: see fuzz-harness (fuzz/harness/src/) for what it does with an input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::loadbalancing(data));
