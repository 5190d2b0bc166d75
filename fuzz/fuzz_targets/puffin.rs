//! `formats::puffin::parse_with_limit` on any bytes, with the decompression cap a load uses:
//! a parsed profile passes `Profile::check`, an error explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::{compression, puffin};

fuzz_target!(|data: &[u8]| {
    let limit = compression::default_limit(data.len());
    stacklens_fuzz::parse_and_check("puffin", data, |d, b, p| {
        puffin::parse_with_limit(d, b, p, limit)
    });
});
