//! Kernel symbols from `/proc/kallsyms`, used when the profile was recorded on this machine's
//! running kernel.

use super::elf::FoundFrame;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Largest kallsyms file read (a real one is about 10 MB).
pub const MAX_KALLSYMS_BYTES: u64 = 256 << 20;

/// Text symbols of the kernel and its modules, sorted by address.
#[derive(Debug, Default)]
pub struct Kallsyms {
    /// (start, end, where its name is in `names`).
    syms: Vec<(u64, u64, std::ops::Range<u32>)>,
    /// The kept symbols' names, one after another (one allocation, not one per symbol).
    names: String,
    /// Address of `_text`: the reference for KASLR relocation.
    pub text: Option<u64>,
}

/// Bytes of a kallsyms file read to find `_text` without reading it all (it is the third
/// line of /proc/kallsyms and of perf's copies).
const PROBE_BYTES: u64 = 64 << 10;

/// A kallsyms file read when first needed: a load whose kernel addresses all come from the
/// disk cache of resolved addresses never reads (nor has the kernel format) its 100k+ lines.
pub struct LazyKallsyms {
    path: PathBuf,
    /// Address of `_text`, from the first lines of the file.
    pub text: Option<u64>,
    /// The identity of the file's content, for the disk cache: a regular file's path,
    /// inode, size and times; for the running kernel's /proc file, the boot and the loaded
    /// modules (their addresses are what changes within one boot).
    pub stamp: u64,
    loaded: OnceLock<Option<Kallsyms>>,
}

impl LazyKallsyms {
    /// `path` if it is a kallsyms file that shows addresses, with its `_text` read from its
    /// first lines; when they do not have it, the whole file is read now.
    pub fn probe(path: &Path) -> Option<Self> {
        use std::io::Read;
        let mut head = String::new();
        let file = crate::mapped::open_regular(path).ok()?;
        let stamp = content_stamp(path, &file.metadata().ok()?);
        file.take(PROBE_BYTES).read_to_string(&mut head).ok()?;
        let text = head.lines().find_map(|line| {
            let mut it = line.split_ascii_whitespace();
            let (addr, _, name) = (it.next()?, it.next()?, it.next()?);
            (name == "_text").then(|| u64::from_str_radix(addr, 16).ok())?
        });
        match text {
            Some(t) if t != 0 => Some(Self {
                path: path.to_path_buf(),
                text: Some(t),
                stamp,
                loaded: OnceLock::new(),
            }),
            _ => Kallsyms::load(path).map(|k| Self::loaded(k, path, stamp)),
        }
    }

    /// Symbols already read from `path`.
    pub fn loaded(k: Kallsyms, path: &Path, stamp: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            text: k.text,
            stamp,
            loaded: OnceLock::from(Some(k)),
        }
    }

    /// The symbols, read on the first call; `None` if the file could no longer be read.
    pub fn get(&self) -> Option<&Kallsyms> {
        self.loaded
            .get_or_init(|| Kallsyms::load(&self.path))
            .as_ref()
    }
}

/// See [`LazyKallsyms::stamp`].
pub fn content_stamp(path: &Path, meta: &std::fs::Metadata) -> u64 {
    use std::hash::{Hash, Hasher};
    if path.starts_with("/proc") {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let read = |p: &str| std::fs::read(p).unwrap_or_default();
        (
            path,
            read("/proc/sys/kernel/random/boot_id"),
            read("/proc/modules"),
        )
            .hash(&mut h);
        h.finish()
    } else {
        super::store::file_stamp(path, meta)
    }
}

impl Kallsyms {
    /// Reads a kallsyms file. `None` if it is not a regular file, cannot be read or shows no
    /// addresses (an unprivileged reader sees zeros when `kernel.kptr_restrict` is set). At
    /// most [`MAX_KALLSYMS_BYTES`] are read; a FIFO at the path does not block the open.
    pub fn load(path: &Path) -> Option<Self> {
        use std::io::Read;
        let file = crate::mapped::open_regular(path).ok()?;
        let mut text = String::new();
        file.take(MAX_KALLSYMS_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Option<Self> {
        // (address, name, in a module) of the text symbols, in file order.
        let mut raw: Vec<(u64, &str, bool)> = Vec::new();
        let mut text_addr = None;
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if name == "_text" {
                text_addr = Some(addr);
            }
            if !matches!(kind, "T" | "t" | "W" | "w") || addr == 0 {
                continue;
            }
            let in_module = it
                .next()
                .is_some_and(|m| !m.trim_matches(['[', ']']).is_empty());
            raw.push((addr, name, in_module));
        }
        if raw.is_empty() {
            return None;
        }
        raw.sort_by_key(|s| s.0); // stable: aliases keep file order
        // Aliases at one address keep one name, the one perf shows: the last listed. (perf sizes
        // kallsyms symbols by the next symbol's address before it drops aliases, so every alias
        // but the last has size 0 and loses to it.)
        let kept: Vec<(u64, &str, bool)> = raw
            .iter()
            .enumerate()
            .filter(|&(i, r)| raw.get(i + 1).is_none_or(|n| n.0 != r.0))
            .map(|(_, &r)| r)
            .collect();
        let mut names = String::with_capacity(kept.iter().map(|k| k.1.len()).sum());
        let mut syms = Vec::with_capacity(kept.len());
        // kallsyms has no sizes: a symbol ends where the next begins, except at the boundary
        // between the kernel image and a module (perf rounds up to the next page there).
        for (i, &(start, name, in_module)) in kept.iter().enumerate() {
            let end = match kept.get(i + 1) {
                Some(&(n, _, next_in_module)) if next_in_module == in_module => n,
                _ => start
                    .saturating_add(4096)
                    .checked_next_multiple_of(4096)
                    .unwrap_or(u64::MAX),
            };
            let at = names.len();
            names.push_str(name);
            // The text is at most MAX_KALLSYMS_BYTES (< 4 GiB): offsets fit in u32.
            syms.push((start, end, at as u32..names.len() as u32));
        }
        Some(Self {
            syms,
            names,
            text: text_addr,
        })
    }

    /// The symbol containing `addr`.
    pub fn lookup(&self, addr: u64) -> Option<FoundFrame> {
        let i = self.syms.partition_point(|s| s.0 <= addr);
        let (start, end, name) = self.syms.get(i.checked_sub(1)?)?;
        (addr < *end).then(|| FoundFrame {
            name: self.names[name.start as usize..name.end as usize].to_string(),
            file: None,
            line: 0,
            symbol_start: Some(*start),
        })
    }
}

/// The running kernel's vDSO, copied out of this process's memory into a file in the temporary
/// directory so it can be read like any binary. `None` where the process has no vDSO.
pub fn running_vdso_file() -> Option<std::path::PathBuf> {
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        // SAFETY: getauxval only reads the auxiliary vector.
        let start = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
        if start == 0 {
            return None;
        }
        // Its length from /proc/self/maps: the line `start-end r-xp ... [vdso]`.
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
        let (range, _) = line.split_once(' ')?;
        let (a, b) = range.split_once('-')?;
        let (a, b) = (
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        );
        if a != start || b <= a || b - a > 1 << 20 {
            return None;
        }
        // SAFETY: [a, b) is the vDSO mapping of this process, readable for its lifetime.
        let bytes = unsafe { std::slice::from_raw_parts(a as *const u8, b - a) };
        // Named by its content: one file per kernel, written once.
        let hash = crate::format::stable_hash(&String::from_utf8_lossy(bytes));
        let path = std::env::temp_dir().join(format!("stacklens-vdso-{hash:016x}.so"));
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes).ok()?;
            std::fs::rename(&tmp, &path).ok()?;
        }
        Some(path)
    })
    .clone()
}

/// The running kernel's build-id from `/sys/kernel/notes` (ELF notes: namesz, descsz, type,
/// name, desc, each padded to 4 bytes; type 3 with name "GNU" is the build-id).
pub fn running_kernel_build_id() -> Option<Vec<u8>> {
    let notes = std::fs::read("/sys/kernel/notes").ok()?;
    parse_build_id_note(&notes)
}

fn parse_build_id_note(notes: &[u8]) -> Option<Vec<u8>> {
    use crate::formats::bytes::u32_at;
    let mut pos = 0usize;
    while pos + 12 <= notes.len() {
        let namesz = u32_at(notes, pos)? as usize;
        let descsz = u32_at(notes, pos + 4)? as usize;
        let kind = u32_at(notes, pos + 8)?;
        let name_at = pos + 12;
        let desc_at = name_at.checked_add(namesz.next_multiple_of(4))?;
        let end = desc_at.checked_add(descsz.next_multiple_of(4))?;
        if end > notes.len() {
            return None;
        }
        if kind == 3 && notes.get(name_at..name_at + namesz)?.starts_with(b"GNU") {
            return Some(notes[desc_at..desc_at + descsz].to_vec());
        }
        pos = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `_text` comes from the first lines, and the rest is read only when a symbol is looked
    /// up; a file whose first lines lack it is read whole at once; one that shows only zeros
    /// (kptr_restrict) is no kallsyms at all.
    #[test]
    fn kallsyms_are_read_when_first_needed() {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early");
        std::fs::write(
            &early,
            "ffffffff81000000 T _stext\nffffffff81000000 T _text\nffffffff81000100 T start\n",
        )
        .unwrap();
        let k = LazyKallsyms::probe(&early).unwrap();
        assert_eq!(k.text, Some(0xffffffff81000000));
        assert!(k.loaded.get().is_none(), "read only as far as _text");
        assert_eq!(
            k.get().unwrap().lookup(0xffffffff81000104).unwrap().name,
            "start"
        );

        let mut late = String::new();
        while late.len() <= PROBE_BYTES as usize {
            late.push_str("ffffffffc0000000 t filler\t[module]\n");
        }
        late.push_str("ffffffff81000000 T _text\n");
        let path = dir.path().join("late");
        std::fs::write(&path, late).unwrap();
        let k = LazyKallsyms::probe(&path).unwrap();
        assert!(k.loaded.get().is_some(), "read whole to find _text");
        assert_eq!(k.text, Some(0xffffffff81000000));

        let zeros = dir.path().join("zeros");
        std::fs::write(
            &zeros,
            "0000000000000000 T _text\n0000000000000000 T start\n",
        )
        .unwrap();
        assert!(LazyKallsyms::probe(&zeros).is_none());
        assert_ne!(
            LazyKallsyms::probe(&early).unwrap().stamp,
            LazyKallsyms::probe(&path).unwrap().stamp
        );
    }

    /// A kallsyms path is named by a profile's build-id cache: a FIFO or a device there is
    /// refused at once, without blocking on the open or reading forever.
    #[test]
    fn only_regular_files_are_read_as_kallsyms() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("kallsyms");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path in our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(Kallsyms::load(&fifo).is_none());
        assert!(Kallsyms::load(Path::new("/dev/zero")).is_none());
        let file = dir.path().join("real");
        std::fs::write(
            &file,
            "ffffffff81000000 T _text\nffffffff81000100 T start\n",
        )
        .unwrap();
        assert_eq!(
            Kallsyms::load(&file).unwrap().text,
            Some(0xffffffff81000000)
        );
    }

    #[test]
    fn kallsyms_lookup_and_module_boundary() {
        let k = Kallsyms::parse(
            "ffffffff81000000 T _text\nffffffff81000100 t do_one\nffffffff81000200 T do_two\nffffffff81000300 D some_data\nffffffffc0000000 t mod_fn\t[ext4]\n",
        )
        .unwrap();
        assert!(
            Kallsyms::parse("ffffffffffffffff T last\n")
                .unwrap()
                .lookup(u64::MAX)
                .is_none()
        );
        assert_eq!(k.text, Some(0xffffffff81000000));
        assert_eq!(k.lookup(0xffffffff81000150).unwrap().name, "do_one");
        assert_eq!(k.lookup(0xffffffff81000250).unwrap().name, "do_two");
        // do_two is the last kernel symbol before the modules: it ends at the next page.
        assert!(k.lookup(0xffffffff81002000).is_none());
        assert_eq!(k.lookup(0xffffffffc0000010).unwrap().name, "mod_fn");
        assert!(k.lookup(0x1000).is_none());
    }

    #[test]
    fn aliases_keep_the_name_perf_shows() {
        let k = Kallsyms::parse(
            "ffffffff81000100 T __memcpy\nffffffff81000100 W memcpy\nffffffff81000100 T memcpy_orig\nffffffff81000200 t a\nffffffff81000200 T b\nffffffff81000300 T __x\nffffffff81000300 T _y\n",
        )
        .unwrap();
        // The last listed, whatever its binding or underscores (perf 6.1 on this kernel shows
        // `__pi_memcpy` for `memcpy`, `__memcpy`, `__pi_memcpy` at one address).
        assert_eq!(k.lookup(0xffffffff81000100).unwrap().name, "memcpy_orig");
        assert_eq!(k.lookup(0xffffffff81000200).unwrap().name, "b");
        assert_eq!(k.lookup(0xffffffff81000300).unwrap().name, "_y");
        let k = Kallsyms::parse(
            "ffffffff81000100 T memcpy\nffffffff81000100 T __memcpy\nffffffff81000100 T __pi_memcpy\nffffffff81000200 t __do_sys_vfork\nffffffff81000200 T __ia32_sys_vfork\nffffffff81000200 T __x64_sys_vfork\nffffffff81000300 T next\n",
        )
        .unwrap();
        assert_eq!(k.lookup(0xffffffff81000110).unwrap().name, "__pi_memcpy");
        assert_eq!(
            k.lookup(0xffffffff81000210).unwrap().name,
            "__x64_sys_vfork"
        );
    }

    #[test]
    fn restricted_kallsyms_is_unusable() {
        assert!(Kallsyms::parse("0000000000000000 T _text\n0000000000000000 T foo\n").is_none());
    }

    #[test]
    fn build_id_note() {
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&1u32.to_le_bytes());
        n.extend_from_slice(b"Xen\0");
        n.extend_from_slice(&[0; 4]);
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&3u32.to_le_bytes());
        n.extend_from_slice(&3u32.to_le_bytes());
        n.extend_from_slice(b"GNU\0");
        n.extend_from_slice(&[1, 2, 3, 0]);
        assert_eq!(parse_build_id_note(&n), Some(vec![1, 2, 3]));
        assert_eq!(parse_build_id_note(&n[..20]), None);
    }
}
