//! A hostile ELF/DWARF file as the binary of a profile's module. The input is written to a
//! private directory under the module's file name and a small profile whose frames are
//! addresses spread over the file is symbolized with that directory as its only `--symbols`
//! directory: the real path of a load (file search, symbol tables, MiniDebugInfo, compressed
//! debug sections, addr2line's line and inline lookups). The profile must pass
//! `Profile::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stacklens_core::Progress;
use stacklens_core::formats::symbolize_and_freeze;
use stacklens_core::symbols;
use std::sync::OnceLock;

/// The module's file name: what the search directory is searched for.
const NAME: &str = "libfuzz.so";
/// Frames looked up per input: enough to land in the code and data of a small binary.
const ADDRESSES: u64 = 64;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fuzz_target!(|data: &[u8]| {
    let dir = dir().path();
    let path = dir.join(NAME);
    // A new file each time, not the old one rewritten: the previous input may still be
    // mapped (a truncated mapping faults on access), and the cache of opened files is keyed
    // by inode, size and time, which a rewrite could leave equal.
    symbols::clear_file_cache();
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, data).expect("writing the input");

    // Addresses are file offsets in the module: spread over the file (and one past it), in
    // short stacks so that symbolization rebuilds a tree.
    let b = symbols::probe_profile(NAME, data.len() as u64, ADDRESSES);

    let mut opts = stacklens_fuzz::options(vec![dir.to_path_buf()]);
    // Both ways of naming inlined code (odd lengths: only the real function).
    opts.symbols.inline_frames = data.len() % 2 == 0;
    stacklens_fuzz::check_profile(symbolize_and_freeze(b, &opts, &Progress::new()));
    symbols::clear_file_cache();
});
