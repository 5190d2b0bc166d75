//! `formats::perf_script::parse` on any bytes: a parsed profile passes `Profile::check`, an error
//! explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::perf_script;

fuzz_target!(|data: &[u8]| {
    stacklens_fuzz::parse_and_check("perf script", data, perf_script::parse);
});
