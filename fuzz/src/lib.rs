//! What every fuzz target asserts, whatever the input:
//!
//! - a successful parse, symbolized and frozen, gives a profile that passes
//!   [`Profile::check`] (ids in range, parents before children, thread ranges tiling the
//!   sample table, weights that add up without overflow);
//! - a failed parse gives an error whose text says something (and, for the errors that
//!   locate a problem, says what was expected there);
//! - and, as for any fuzz target, no panic, hang or unbounded allocation.
//!
//! Symbolization touches no file of the machine (no recorded paths, no `~/.debug`, no
//! `/usr/lib/debug`, no kallsyms, no debuginfod), so a run depends on its input only.

use stacklens_core::formats::{LoadOptions, symbolize_and_freeze};
use stacklens_core::model::{Profile, ProfileBuilder};
use stacklens_core::symbols::SymbolOptions;
use stacklens_core::{Error, Progress, Result};

/// Load options that read nothing but the input: symbolization looks in `search_dirs` only.
/// Every field is spelled out (no `..Default::default()`): a new way of finding symbols must be
/// decided on here, or the fuzz targets would start reading the machine's files.
pub fn options(search_dirs: Vec<std::path::PathBuf>) -> LoadOptions {
    LoadOptions {
        symbols: SymbolOptions {
            search_dirs,
            inline_frames: true,
            kallsyms: None,
            system_paths: false,
            debuginfod_urls: Vec::new(),
            debuginfod_cache: None,
            // Hostile binaries are not worth keeping answers for.
            resolved_cache: None,
        },
        decompression_limit: None,
        memory_limit: None,
    }
}

/// Parses `data` with one format's parser into a fresh builder named `format`, then
/// symbolizes, freezes and checks the profile, or checks the error.
pub fn parse_and_check(
    format: &str,
    data: &[u8],
    parse: impl FnOnce(&[u8], &mut ProfileBuilder, &Progress) -> Result<()>,
) {
    let opts = options(Vec::new());
    let progress = Progress::new();
    let mut b = ProfileBuilder::new(format);
    match parse(data, &mut b, &progress) {
        Ok(()) => check_profile(symbolize_and_freeze(b, &opts, &progress)),
        Err(e) => check_error(&e),
    }
}

/// A loaded profile must be consistent; a failed load must explain itself. (Symbolization
/// and freezing fail only on cancellation, which nothing here asks for.)
pub fn check_profile(loaded: Result<Profile>) {
    match loaded {
        Ok(p) => {
            if let Err(why) = p.check() {
                panic!("the profile is inconsistent: {why}");
            }
        }
        Err(e) => check_error(&e),
    }
}

/// An error names what went wrong: a non-empty text, and for errors at a byte offset or a
/// line, a non-empty description of what was expected there.
pub fn check_error(e: &Error) {
    let text = e.to_string();
    assert!(!text.trim().is_empty(), "an error with no text: {e:?}");
    match e {
        Error::At { expected, .. } | Error::AtLine { expected, .. } => {
            assert!(
                !expected.trim().is_empty(),
                "an error that does not say what was expected: {e:?}"
            );
        }
        _ => {}
    }
}
