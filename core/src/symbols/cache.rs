//! A process-wide cache of opened ELF files, so that loading a profile again (reopening it,
//! a live refresh, the other side of a comparison) does not parse the same binaries again.
//!
//! Opening a binary reads its symbol tables (sorting, choosing among aliases, demangling) and
//! decompresses compressed debug sections; for a big program that is most of the time
//! symbolization takes. Entries are keyed by the file's canonical path, size, modification time
//! and inode, so a rebuilt binary is opened anew; the old entry ages out. A file opened through
//! the cache has its canonical path as [`ElfFile::path`].

use super::elf::ElfFile;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Most files kept. A profile of a large application touches a few dozen modules; 64 holds
/// the modules of two such profiles (a comparison) without evicting while either loads.
const MAX_ENTRIES: usize = 64;
/// Most heap bytes (decompressed debug sections, symbols) kept across entries. Mapped file
/// bytes are not counted: they are the kernel's page cache, not ours.
const MAX_HEAP_BYTES: u64 = 1 << 30;

#[derive(Clone, PartialEq, Eq)]
struct Key {
    path: PathBuf,
    len: u64,
    mtime: Option<SystemTime>,
    inode: u64,
}

struct Entry {
    key: Key,
    elf: Arc<ElfFile>,
    heap_bytes: u64,
    last_used: u64,
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    clock: u64,
    hits: u64,
    misses: u64,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    entries: Vec::new(),
    clock: 0,
    hits: 0,
    misses: 0,
});

fn key(path: &Path) -> Result<Key, String> {
    let path = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&path).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Key {
        path,
        len: meta.len(),
        mtime: meta.modified().ok(),
        inode,
    })
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    // A panic while holding the lock leaves the list consistent (every change is one push or
    // one remove), so a poisoned lock is still usable.
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

/// `path` opened, from the cache when the same file was opened before.
pub fn open(path: &Path) -> Result<Arc<ElfFile>, String> {
    let key = key(path)?;
    {
        let mut c = lock();
        c.clock += 1;
        let now = c.clock;
        if let Some(e) = c.entries.iter_mut().find(|e| e.key == key) {
            e.last_used = now;
            let elf = e.elf.clone();
            c.hits += 1;
            return Ok(elf);
        }
        c.misses += 1;
    }
    // Opened without the lock: modules are opened in parallel. Two threads opening the same
    // new file both parse it and the second insert is dropped; that is rare and harmless.
    // Opened by its canonical path, so that the file's recorded path does not depend on
    // which of several spellings (symlinks, `..`) happened to open it first.
    let elf = Arc::new(ElfFile::open(&key.path)?);
    let heap_bytes = elf.heap_bytes();
    let mut c = lock();
    if c.entries.iter().any(|e| e.key == key) {
        return Ok(elf);
    }
    c.clock += 1;
    let now = c.clock;
    c.entries.push(Entry {
        key,
        elf: elf.clone(),
        heap_bytes,
        last_used: now,
    });
    loop {
        let total: u64 = c.entries.iter().map(|e| e.heap_bytes).sum();
        if c.entries.len() <= MAX_ENTRIES && (total <= MAX_HEAP_BYTES || c.entries.len() == 1) {
            break;
        }
        let oldest = c
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.last_used)
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                c.entries.swap_remove(i);
            }
            None => break,
        }
    }
    Ok(elf)
}

/// Files in the cache, and the hits and misses since the process started.
pub fn stats() -> (usize, u64, u64) {
    let c = lock();
    (c.entries.len(), c.hits, c.misses)
}

/// Drops every cached file (their memory goes once no symbolization holds them).
pub fn clear() {
    lock().entries.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_is_opened_once_and_a_changed_one_again() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("hot");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles/bin/hot");
        std::fs::copy(&src, &bin).unwrap();
        let a = open(&bin).unwrap();
        let b = open(&dir.path().join(".").join("hot")).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "same canonical path: one entry");
        // Replaced by another file (new inode, size): opened anew.
        std::fs::remove_file(&bin).unwrap();
        let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles/bin/hotpp");
        std::fs::copy(&other, &bin).unwrap();
        let c = open(&bin).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_ne!(a.build_id, c.build_id);
        assert!(open(&dir.path().join("missing")).is_err());
    }
}
