//! `formats::stkl::read` on any bytes: a `.stkl` capture is a finished profile, so whatever
//! the reader accepts must already pass `Profile::check`; an error explains itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::Progress;
use stacklens_core::formats::stkl;

fuzz_target!(|data: &[u8]| {
    stacklens_fuzz::check_profile(stkl::read(data, &Progress::new()));
});
