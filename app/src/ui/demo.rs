//! The demo profile: a real `perf record` capture of `sample-profiles/src/demo.c` (a toy build
//! pipeline on three threads) and the binary it ran, built into stacklens so that a new user
//! sees a symbolized flame graph at once, wherever stacklens runs.

use super::loader::LoadRequest;
use std::path::{Path, PathBuf};

const PROFILE: &[u8] = include_bytes!("../../../sample-profiles/demo.perf.data");
const BINARY: &[u8] = include_bytes!("../../../sample-profiles/bin/demo");

/// Writes the demo files to a temporary folder (once per user) and returns how to open them.
pub fn request() -> std::io::Result<LoadRequest> {
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let dir = std::env::temp_dir().join(format!("stacklens-demo-{user}"));
    std::fs::create_dir_all(&dir)?;
    let profile = dir.join("demo.perf.data");
    write_if_changed(&profile, PROFILE)?;
    write_if_changed(&dir.join("demo"), BINARY)?;
    Ok(LoadRequest {
        path: profile,
        title: "demo: demo.perf.data".into(),
        symbol_dirs: vec![dir],
        remember: false,
    })
}

/// Writes through a temporary name and a rename, so two windows opening the demo at once never
/// read half a file.
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp: PathBuf = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
