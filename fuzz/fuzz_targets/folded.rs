//! `formats::folded::parse` on any bytes: a parsed profile passes `Profile::check`, an error
//! explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::folded;

fuzz_target!(|data: &[u8]| {
    stacklens_fuzz::parse_and_check("folded stacks", data, folded::parse);
});
