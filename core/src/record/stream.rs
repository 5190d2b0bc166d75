//! The capture as a pipe-mode `perf.data` byte stream: the 16-byte header, one attribute
//! record, then records exactly as the kernel writes them into the ring buffers (plus COMM and
//! MMAP records made from `/proc` for what existed before the capture started).
//!
//! The same parser that reads `perf record -o -` output reads it, so symbolization and every
//! view work unchanged, and `perf report -i` reads it too.

use crate::formats::perf_data::header::{MAGIC, PIPE_HEADER_SIZE};
use crate::formats::perf_data::records::{COMM, HEADER_ATTR, MMAP};

/// `PERF_RECORD_MISC_*` cpu modes.
const MISC_KERNEL: u16 = 1;
const MISC_USER: u16 = 2;

/// Appends little-endian values.
pub(crate) trait Put {
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    /// A NUL-terminated string padded with NULs to a multiple of 8 bytes.
    fn padded(&mut self, s: &[u8]);
}

impl Put for Vec<u8> {
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn padded(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
        let n = (s.len() / 8 + 1) * 8;
        self.resize(self.len() + n - s.len(), 0);
    }
}

/// Size of a NUL-terminated, 8-byte padded string.
fn padded_len(s: &[u8]) -> usize {
    (s.len() / 8 + 1) * 8
}

/// The stream's start: header and the attribute record of the one event.
pub(crate) fn start(attr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.u64(PIPE_HEADER_SIZE);
    out.u32(HEADER_ATTR);
    out.u16(0);
    out.u16((8 + attr.len()) as u16);
    out.extend_from_slice(attr);
    out
}

/// The `sample_id` trailer of a non-sample record: tid, time, cpu (the event's sample type
/// has TID, TIME and CPU, in that order).
fn trailer(out: &mut Vec<u8>, pid: i32, tid: i32, time: u64) {
    out.u32(pid as u32);
    out.u32(tid as u32);
    out.u64(time);
    out.u32(0);
    out.u32(0);
}

const TRAILER: usize = 24;

/// A COMM record: thread `tid` of process `pid` is named `comm`.
pub(crate) fn comm(out: &mut Vec<u8>, pid: i32, tid: i32, comm: &[u8], time: u64) {
    let comm = &comm[..comm.len().min(15)];
    let size = 8 + 8 + padded_len(comm) + TRAILER;
    out.u32(COMM);
    out.u16(0);
    out.u16(size as u16);
    out.u32(pid as u32);
    out.u32(tid as u32);
    out.padded(comm);
    trailer(out, pid, tid, time);
}

/// An MMAP record of an executable mapping of `pid` (or of the kernel, `pid` = -1).
pub(crate) fn mmap(out: &mut Vec<u8>, pid: i32, m: &Mapping, time: u64) {
    let path = &m.path[..m.path.len().min(4000)];
    let size = 8 + 8 + 24 + padded_len(path) + TRAILER;
    out.u32(MMAP);
    out.u16(if pid == -1 { MISC_KERNEL } else { MISC_USER });
    out.u16(size as u16);
    out.u32(pid as u32);
    out.u32(if pid == -1 { 0 } else { pid as u32 });
    out.u64(m.start);
    out.u64(m.len);
    out.u64(m.pgoff);
    out.padded(path);
    trailer(out, pid, pid.max(0), time);
}

/// One mapping from `/proc/PID/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub start: u64,
    pub len: u64,
    pub pgoff: u64,
    pub path: Vec<u8>,
}

/// The executable mappings of a `/proc/PID/maps` text.
pub(crate) fn exec_mappings(maps: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(range), Some(perms), Some(off)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if perms.as_bytes().get(2) != Some(&b'x') {
            continue;
        }
        let (_dev, _inode) = (f.next(), f.next());
        let path: Vec<&str> = f.collect();
        let path = path.join(" ");
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b), Ok(off)) = (
            u64::from_str_radix(a, 16),
            u64::from_str_radix(b, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        if b <= a {
            continue;
        }
        out.push(Mapping {
            start: a,
            len: b - a,
            pgoff: off,
            path: if path.is_empty() {
                b"//anon".to_vec()
            } else {
                path.into_bytes()
            },
        });
    }
    out
}

/// The kernel's text mapping as `perf record` writes it: from `_text` up, pgoff = `_text`
/// (the reference the symbolizer relocates `/proc/kallsyms` by); `None` when the addresses are
/// hidden (kptr_restrict).
pub(crate) fn kernel_mapping(kallsyms: &str) -> Option<Mapping> {
    let text = kallsyms.lines().find_map(|l| {
        let mut f = l.split_ascii_whitespace();
        let addr = f.next()?;
        let _kind = f.next()?;
        (f.next()? == "_text").then(|| u64::from_str_radix(addr, 16).ok())?
    })?;
    (text != 0).then(|| Mapping {
        start: text,
        len: u64::MAX - text,
        pgoff: text,
        path: b"[kernel.kallsyms]_text".to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_mappings_of_a_maps_file() {
        let maps = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234 /usr/bin/hot
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234 /usr/bin/hot
7f00aa000000-7f00aa100000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7f00ab000000-7f00ab001000 rwxp 00000000 00:00 0
7ffd1c3fe000-7ffd1c400000 r-xp 00000000 00:00 0 [vdso]
7f00ac000000-7f00ac001000 r-xp 00000000 08:01 7 /tmp/a file with spaces.so
";
        let m = exec_mappings(maps);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].start, 0x55d0c0a01000);
        assert_eq!(m[0].len, 0x1000);
        assert_eq!(m[0].pgoff, 0x1000);
        assert_eq!(m[0].path, b"/usr/bin/hot");
        assert_eq!(m[2].path, b"//anon");
        assert_eq!(m[3].path, b"[vdso]");
        assert_eq!(m[4].path, b"/tmp/a file with spaces.so");
    }

    #[test]
    fn the_kernel_text_address_from_kallsyms() {
        let k = "ffffffff81000000 T _stext\nffffffff80e00000 T _text\n";
        assert_eq!(kernel_mapping(k).unwrap().start, 0xffffffff80e00000);
        assert_eq!(kernel_mapping("0000000000000000 T _text\n"), None);
    }
}
