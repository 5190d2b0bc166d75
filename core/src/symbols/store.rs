//! Resolved addresses kept on disk between loads, one file per module.
//!
//! Naming the addresses of a module costs the same on every load: its symbol table is sorted
//! and demangled, the compressed sections of a distribution's debug file are inflated, and
//! addr2line indexes every compilation unit before the first lookup. For libc's debug file
//! that is about 30 ms, however few of its addresses a profile has; the kernel, libc and the
//! dynamic loader are in nearly every profile. The answers for each address are kept instead,
//! so the next load that meets the same files reads them back and opens no DWARF.
//!
//! * A module's file is named by a hash of what decides the answers: the identity of the
//!   binary and of its separate debug file (path, device, inode, size, modification and change
//!   times: [`super::ElfFile::stamp`]), whether inlined frames are wanted, this format's
//!   version and the identity of stacklens' own executable (another build may name things
//!   differently). A rebuilt binary, a debug file installed since, or another option is
//!   another file. The kernel's answers are keyed by its kallsyms file, or for the running
//!   kernel's by the boot and the loaded modules.
//! * Files are written whole to a temporary name and renamed over the old one, so a reader
//!   never sees half a file; two loads writing at once leave one of the two.
//! * A file is untrusted input like any other: every count and length is checked against the
//!   bytes that remain, and anything wrong makes it an empty cache (the addresses are then
//!   resolved from the binaries, and the file is rewritten).
//! * Files stay small (a module's distinct sampled addresses); one holds at most
//!   [`MAX_ENTRIES`] addresses and is read only if it is at most [`MAX_FILE_BYTES`]. The
//!   directory keeps the [`MAX_FILES`] most recently written; older ones are removed.

use super::elf::{ElfModule, FoundFrame};
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"STKLSYM\0";
/// Bumped whenever the format, or what an address resolves to, changes.
const VERSION: u32 = 1;
/// Most addresses one module's file keeps; past it, new addresses are not added.
pub const MAX_ENTRIES: usize = 1 << 20;
/// Largest file read back.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Most module files kept: past it, the oldest written are removed (every stacklens build
/// and every rebuilt binary starts new files, so old ones would pile up).
pub const MAX_FILES: usize = 2048;
/// Most frames kept for one address (inline chains are short).
const MAX_FRAMES: usize = 1024;

/// The answers of one module: its frames per address (file offset), as [`ElfModule::frames`]
/// gives them.
pub type Answers = FxHashMap<u64, Vec<FoundFrame>>;

/// The directory of module files.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// `$XDG_CACHE_HOME/stacklens/symbols`, else `~/.cache/stacklens/symbols`.
pub fn default_dir() -> Option<PathBuf> {
    Some(super::cache_root()?.join("symbols"))
}

impl Store {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The key of `m`'s answers with or without inlined frames.
    pub fn key(m: &ElfModule, inline: bool) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let debug = m.debug.as_ref().map(|d| d.stamp);
        (VERSION, self_stamp(), inline, m.bin.stamp, debug).hash(&mut h);
        h.finish()
    }

    /// The key of the kernel's answers from kallsyms `stamp`, with the image's KASLR `shift`
    /// applied to addresses in `image`.
    pub fn kernel_key(stamp: u64, shift: u64, image: &std::ops::Range<u64>) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            VERSION,
            self_stamp(),
            "kernel",
            stamp,
            shift,
            image.start,
            image.end,
        )
            .hash(&mut h);
        h.finish()
    }

    fn path(&self, key: u64) -> PathBuf {
        self.dir.join(format!("{key:016x}.syms"))
    }

    /// The answers kept for `key`; empty when there are none or the file is not sound.
    pub fn load(&self, key: u64) -> Answers {
        let path = self.path(key);
        let Ok(meta) = std::fs::metadata(&path) else {
            return Answers::default();
        };
        if meta.len() > MAX_FILE_BYTES {
            return Answers::default();
        }
        std::fs::read(&path)
            .ok()
            .and_then(|bytes| decode(&bytes, key))
            .unwrap_or_default()
    }

    /// Keeps `answers` for `key` (at most [`MAX_ENTRIES`] of them). Errors are ignored: the
    /// cache only saves time.
    pub fn save(&self, key: u64, answers: &Answers) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let bytes = encode(key, answers);
        let path = self.path(key);
        let tmp = self
            .dir
            .join(format!(".{key:016x}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        self.prune(MAX_FILES);
    }

    /// Removes the oldest module files past the `max` newest (by the time they were written).
    fn prune(&self, max: usize) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = dir
            .filter_map(|e| {
                let e = e.ok()?;
                let path = e.path();
                (path.extension()? == "syms").then_some(())?;
                Some((e.metadata().ok()?.modified().ok()?, path))
            })
            .collect();
        if files.len() <= max {
            return;
        }
        files.sort();
        for (_, path) in &files[..files.len() - max] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The identity of the running program's executable: answers are what this build of
/// stacklens made of the files (its demangler, its rules for aliases), so another build,
/// even of the same version, does not read them.
fn self_stamp() -> u64 {
    static STAMP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *STAMP.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| Some(file_stamp(&p, &std::fs::metadata(&p).ok()?)))
            .unwrap_or(0)
    })
}

/// A hash of a file's path and identity: another file at the path, or the same file
/// rewritten, hashes differently (the times have nanoseconds).
pub fn file_stamp(path: &Path, meta: &std::fs::Metadata) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    meta.len().hash(&mut h);
    meta.modified().ok().hash(&mut h);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()).hash(&mut h);
    }
    h.finish()
}

/// File layout (little-endian): magic, version, key, string count, strings (u32 length and
/// bytes), entry count, entries: address (u64), frame count (u16), frames: name (u32 string
/// index), file (u32 index, `u32::MAX` for none), line (u32), symbol start (u8 flag, u64).
fn encode(key: u64, answers: &Answers) -> Vec<u8> {
    let mut strings: FxHashMap<&str, u32> = FxHashMap::default();
    let mut list: Vec<&str> = Vec::new();
    let mut entries: Vec<(&u64, &Vec<FoundFrame>)> = answers.iter().take(MAX_ENTRIES).collect();
    entries.sort_by_key(|(a, _)| **a);
    for (_, frames) in &entries {
        for f in frames.iter().take(MAX_FRAMES) {
            for s in std::iter::once(f.name.as_str()).chain(f.file.as_deref()) {
                if !strings.contains_key(s) {
                    strings.insert(s, list.len() as u32);
                    list.push(s);
                }
            }
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    for s in &list {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (addr, frames) in entries {
        out.extend_from_slice(&addr.to_le_bytes());
        let n = frames.len().min(MAX_FRAMES);
        out.extend_from_slice(&(n as u16).to_le_bytes());
        for f in &frames[..n] {
            out.extend_from_slice(&strings[f.name.as_str()].to_le_bytes());
            let file = f.file.as_deref().map_or(u32::MAX, |s| strings[s]);
            out.extend_from_slice(&file.to_le_bytes());
            out.extend_from_slice(&f.line.to_le_bytes());
            out.push(u8::from(f.symbol_start.is_some()));
            out.extend_from_slice(&f.symbol_start.unwrap_or(0).to_le_bytes());
        }
    }
    out
}

/// Reads bytes in order, every read checked against what remains.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

fn decode(bytes: &[u8], key: u64) -> Option<Answers> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION || r.u64()? != key {
        return None;
    }
    let n_strings = r.u32()? as usize;
    // Each string takes at least its 4-byte length: a count past that is a damaged file.
    if n_strings > r.remaining() / 4 {
        return None;
    }
    let mut strings = Vec::with_capacity(n_strings);
    for _ in 0..n_strings {
        let len = r.u32()? as usize;
        strings.push(std::str::from_utf8(r.take(len)?).ok()?);
    }
    let n_entries = r.u32()? as usize;
    if n_entries > MAX_ENTRIES || n_entries > r.remaining() / 10 {
        return None;
    }
    let mut out = Answers::default();
    out.reserve(n_entries);
    for _ in 0..n_entries {
        let addr = r.u64()?;
        let n = r.u16()? as usize;
        if n > MAX_FRAMES || n > r.remaining() / 21 {
            return None;
        }
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            let name = *strings.get(r.u32()? as usize)?;
            let file = match r.u32()? {
                u32::MAX => None,
                i => Some(strings.get(i as usize)?.to_string()),
            };
            let line = r.u32()?;
            let has_start = r.u8()?;
            let start = r.u64()?;
            frames.push(FoundFrame {
                name: name.to_string(),
                file,
                line,
                symbol_start: match has_start {
                    0 => None,
                    1 => Some(start),
                    _ => return None,
                },
            });
        }
        out.insert(addr, frames);
    }
    (r.remaining() == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str, file: Option<&str>, line: u32, start: Option<u64>) -> FoundFrame {
        FoundFrame {
            name: name.into(),
            file: file.map(str::to_string),
            line,
            symbol_start: start,
        }
    }

    fn answers() -> Answers {
        let mut a = Answers::default();
        a.insert(
            0x1234,
            vec![
                frame("main", Some("src/main.rs"), 10, Some(0x1200)),
                frame("inlined", Some("src/lib.rs"), 3, None),
            ],
        );
        a.insert(0x10, vec![frame("_start", None, 0, Some(0x10))]);
        a.insert(0x99, Vec::new());
        a
    }

    #[test]
    fn answers_come_back_as_they_were_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("symbols"));
        assert!(store.load(7).is_empty(), "nothing kept yet");
        store.save(7, &answers());
        assert_eq!(store.load(7), answers());
        assert!(store.load(8).is_empty(), "another key");
        // Rewritten whole: the new answers replace the old.
        let mut more = answers();
        more.insert(0x2000, vec![frame("other", None, 0, Some(0x2000))]);
        store.save(7, &more);
        assert_eq!(store.load(7), more);
    }

    #[test]
    fn the_oldest_files_go_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        for key in 0..5u64 {
            store.save(key, &answers());
            // Distinct write times, oldest first.
            let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(key + 1);
            let f = std::fs::File::options()
                .write(true)
                .open(store.path(key))
                .unwrap();
            f.set_modified(t).unwrap();
        }
        store.prune(3);
        let kept: Vec<u64> = (0..5).filter(|&k| !store.load(k).is_empty()).collect();
        assert_eq!(kept, vec![2, 3, 4]);
    }

    #[test]
    fn every_damaged_file_reads_as_empty() {
        let bytes = encode(7, &answers());
        assert_eq!(decode(&bytes, 7), Some(answers()));
        assert_eq!(decode(&bytes, 8), None, "a file under the wrong name");
        // Every cut, and every byte changed, is either refused or read without a panic.
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut], 7), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, 7), None, "trailing bytes");
        for i in 0..bytes.len() {
            for v in [0u8, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = decode(&b, 7);
            }
        }
        // Huge counts are refused before anything is allocated for them.
        let mut b = bytes.clone();
        let strings_at = MAGIC.len() + 4 + 8;
        b[strings_at..strings_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&b, 7), None);
    }
}
