//! `formats::pprof::parse` on any bytes (not gzipped: the wrapper is unpacked before the parser runs): a parsed profile passes `Profile::check`, an error
//! explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::pprof;

fuzz_target!(|data: &[u8]| {
    stacklens_fuzz::parse_and_check("pprof", data, pprof::parse);
});
