//! libFuzzer entry point of the `query` target (see `openledger_fuzz::targets`).
#![no_main]
#![allow(unsafe_code)] // `fuzz_target!` exports the `#[no_mangle]` entry point libFuzzer calls.

libfuzzer_sys::fuzz_target!(|data: &[u8]| openledger_fuzz_libfuzzer::run("query", data));
