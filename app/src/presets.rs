//! Named transform presets: a list of transforms saved as JSON under the user's config folder
//! (`$XDG_CONFIG_HOME/stacklens/presets/NAME.json`, else `~/.config/...`; the environment
//! variable `STACKLENS_PRESETS` names another folder). The window saves and applies them; the
//! CLI's `--preset NAME` (or a path to such a file) applies one.

use serde::{Deserialize, Serialize};
use stacklens_core::analysis::Transform;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    pub transforms: Vec<Transform>,
}

/// A preset file is a short list; anything bigger is not one.
const MAX_FILE: u64 = 1 << 20;

/// The folder presets live in.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("STACKLENS_PRESETS") {
        return Some(PathBuf::from(d));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(c) if !c.is_empty() => PathBuf::from(c),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(config.join("stacklens").join("presets"))
}

/// Whether `name` can name a preset file: letters, digits, space, `_`, `-`, `.` (not first),
/// at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
}

/// The names of the saved presets, sorted.
pub fn list() -> Vec<String> {
    let Some(d) = dir() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(d) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".json")?;
            valid_name(stem).then(|| stem.to_owned())
        })
        .collect();
    names.sort();
    names
}

/// Reads a preset file.
pub fn read(path: &Path) -> Result<Preset, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{}: {} bytes is too big for a preset (at most {MAX_FILE})",
            path.display(),
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: expected a preset ({{\"name\": ..., \"transforms\": [...]}}): {e}",
            path.display()
        )
    })
}

/// A preset by name (from the presets folder) or by path (anything with a `/` or ending in
/// `.json`).
pub fn load(name_or_path: &str) -> Result<Preset, String> {
    if name_or_path.contains('/') || name_or_path.ends_with(".json") {
        return read(Path::new(name_or_path));
    }
    if !valid_name(name_or_path) {
        return Err(format!("{name_or_path:?} is not a preset name"));
    }
    let d = dir().ok_or("no config folder (HOME is not set)")?;
    let path = d.join(format!("{name_or_path}.json"));
    if !path.exists() {
        let known = list();
        return Err(format!(
            "no preset named {name_or_path:?} in {}{}",
            d.display(),
            if known.is_empty() {
                String::new()
            } else {
                format!(" (saved: {})", known.join(", "))
            }
        ));
    }
    read(&path)
}

/// Saves `transforms` as preset `name`, replacing one of that name.
pub fn save(name: &str, transforms: &[Transform]) -> Result<PathBuf, String> {
    if !valid_name(name) {
        return Err(format!(
            "{name:?}: a preset name is letters, digits, spaces, _ - . (at most 64)"
        ));
    }
    let d = dir().ok_or("no config folder (HOME is not set)")?;
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    let path = d.join(format!("{name}.json"));
    let preset = Preset {
        name: name.to_owned(),
        transforms: transforms.to_vec(),
    };
    let json = serde_json::to_vec_pretty(&preset).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Deletes preset `name`.
pub fn delete(name: &str) -> Result<(), String> {
    if !valid_name(name) {
        return Err(format!("{name:?} is not a preset name"));
    }
    let d = dir().ok_or("no config folder (HOME is not set)")?;
    let path = d.join(format!("{name}.json"));
    std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))
}
