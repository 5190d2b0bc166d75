//! The demo profile: a real `perf record` capture of `sample-profiles/src/hot.c` and the binary
//! it ran, built into stacklens so that a new user sees a symbolized flame graph at once.

use super::loader::LoadRequest;
use std::path::{Path, PathBuf};

const PROFILE: &[u8] = include_bytes!("../../../sample-profiles/hot.perf.data");
const BINARY: &[u8] = include_bytes!("../../../sample-profiles/bin/hot");

/// Writes the demo files to a temporary folder (once per user) and returns how to open them.
pub fn request() -> std::io::Result<LoadRequest> {
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let dir = std::env::temp_dir().join(format!("stacklens-demo-{user}"));
    std::fs::create_dir_all(&dir)?;
    let profile = dir.join("hot.perf.data");
    write_if_changed(&profile, PROFILE)?;
    write_if_changed(&dir.join("hot"), BINARY)?;
    Ok(LoadRequest {
        path: profile,
        title: "demo: hot.perf.data".into(),
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
