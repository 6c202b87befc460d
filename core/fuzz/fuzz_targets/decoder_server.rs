#![no_main]
use libfuzzer_sys::fuzz_target;
#[path = "decoder_common.rs"]
mod decoder_common;

fuzz_target!(|data: &[u8]| decoder_common::check(wslens::Role::Server, data));
