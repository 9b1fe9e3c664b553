#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock::fuzz::stream_azure(data));
