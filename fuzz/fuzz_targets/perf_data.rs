//! `formats::perf_data::parse_with` on any bytes, with the decompression cap a load uses and
//! no binaries to unwind DWARF-mode samples with: a parsed profile passes `Profile::check`,
//! an error explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::perf_data;

fuzz_target!(|data: &[u8]| {
    let opts = stacklens_fuzz::options(Vec::new());
    let limit = perf_data::default_decompression_limit(data.len());
    stacklens_fuzz::parse_and_check("perf.data", data, |d, b, p| {
        perf_data::parse_with(d, b, p, limit, &opts.symbols)
    });
});
