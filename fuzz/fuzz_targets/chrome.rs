//! Both Chrome parsers on every input: `formats::chrome::parse_cpuprofile` (V8 `.cpuprofile`)
//! and `formats::chrome::parse_trace` (Trace Event Format). The two read overlapping JSON
//! shapes (a trace embeds cpuprofile nodes in its Profile events), so one corpus serves both.
//! A parsed profile passes `Profile::check`, an error explains itself (see `stacklens_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::formats::chrome;

fuzz_target!(|data: &[u8]| {
    stacklens_fuzz::parse_and_check("Chrome cpuprofile", data, chrome::parse_cpuprofile);
    stacklens_fuzz::parse_and_check("Chrome trace", data, chrome::parse_trace);
});
