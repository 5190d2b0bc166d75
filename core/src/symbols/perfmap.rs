//! perf's JIT symbol map, `/tmp/perf-<pid>.map`: written by runtimes that generate code
//! (`node --perf-basic-prof`, the JVM through perf-map-agent, .NET with `DOTNET_PerfMapEnabled`)
//! so that profilers can name the anonymous memory that code runs in.
//!
//! One line per code region, fields separated by one space:
//!
//! | Field | Form | Example |
//! |---|---|---|
//! | start | hex, `0x` optional | `3f1a2b004000` |
//! | size | hex, `0x` optional | `1c0` |
//! | name | the rest of the line, spaces included | `LazyCompile:*work /app/work.js:3:14` |
//!
//! Addresses are absolute: the process's virtual addresses, as samples record them.
//!
//! A runtime appends to the file for its whole life, and may put new code where old code was
//! (a JIT recompiles a function, a garbage collector moves it). perf itself keeps every line in
//! one tree and returns whichever overlapping entry the tree's shape finds first. Here a later
//! line wins over the parts of earlier ones it overlaps: without timestamps in the file, the
//! code written last is the best guess for what ran there, and the answer does not depend on
//! the order of a tree. It is a guess either way: in `sample-profiles/node-jit.perf.data`, 12 of
//! 576 samples hit memory V8 reused for another function, and their timestamps show about half
//! ran the old code and half the new; perf names all of them after the old entry, this map
//! after the new one.

use std::collections::BTreeMap;
use std::path::Path;

/// Longest line accepted; longer ones are counted as bad (names are one signature each; a
/// megabyte line is not a symbol).
const MAX_LINE_BYTES: usize = 64 << 10;
/// Most entries kept. A long-running node process writes a few hundred thousand; beyond this
/// many the rest is dropped (counted) rather than growing memory without bound.
const MAX_ENTRIES: usize = 4_000_000;
/// Most bytes read from a map file.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A parsed map: disjoint address ranges, each naming the entry that owns it.
#[derive(Debug, Default)]
pub struct PerfMap {
    /// `[start, end)` pieces, sorted and disjoint; `sym` indexes `syms`.
    pieces: Vec<Piece>,
    /// (start address, name range in `names`) per accepted line.
    syms: Vec<(u64, u32, u32)>,
    /// Every name, one after the other.
    names: String,
    /// Lines that are not `START SIZE NAME` (or too long).
    pub bad_lines: u64,
    /// First bad line number (1-based), 0 if none.
    pub first_bad_line: u64,
    /// Entries dropped past [`MAX_ENTRIES`], or because the name storage is full.
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    sym: u32,
}

impl PerfMap {
    /// Reads and parses a map file (at most [`MAX_FILE_BYTES`] of it).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        use std::io::Read;
        let mut data = Vec::new();
        crate::mapped::open_regular(path)?
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut data)?;
        Ok(Self::parse(&data))
    }

    /// Parses the text of a map file. Never fails: bad lines are counted and skipped.
    pub fn parse(data: &[u8]) -> Self {
        let mut map = Self::default();
        // Live ranges by start: (end, sym). Disjoint at every step.
        let mut live: BTreeMap<u64, (u64, u32)> = BTreeMap::new();
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let Some((start, size, name)) = parse_line(line) else {
                map.bad_lines += 1;
                if map.first_bad_line == 0 {
                    map.first_bad_line = i as u64 + 1;
                }
                continue;
            };
            let Some(end) = start.checked_add(size).filter(|_| size > 0) else {
                // A zero-sized entry names no byte; an overflowing one is garbage.
                if size > 0 {
                    map.bad_lines += 1;
                    if map.first_bad_line == 0 {
                        map.first_bad_line = i as u64 + 1;
                    }
                }
                continue;
            };
            let name = String::from_utf8_lossy(name);
            let (Ok(off), Ok(len)) = (u32::try_from(map.names.len()), u32::try_from(name.len()))
            else {
                map.dropped += 1;
                continue;
            };
            if map.syms.len() >= MAX_ENTRIES || off.checked_add(len).is_none() {
                map.dropped += 1;
                continue;
            }
            map.names.push_str(&name);
            let sym = map.syms.len() as u32;
            map.syms.push((start, off, len));
            insert(&mut live, start, end, sym);
        }
        map.pieces = live
            .into_iter()
            .map(|(start, (end, sym))| Piece { start, end, sym })
            .collect();
        map
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The entry that owns `addr`: its name and start address.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.pieces.partition_point(|p| p.start <= addr);
        let p = self.pieces.get(i.checked_sub(1)?)?;
        if addr >= p.end {
            return None;
        }
        let &(start, off, len) = self.syms.get(p.sym as usize)?;
        let name = self
            .names
            .get(off as usize..off as usize + len as usize)
            .unwrap_or("");
        Some((name, start))
    }
}

/// Puts `[start, end)` of `sym` over whatever `live` had there: earlier ranges keep only their
/// parts outside it.
fn insert(live: &mut BTreeMap<u64, (u64, u32)>, start: u64, end: u64, sym: u32) {
    // A range starting before `start` that reaches into it: cut it at `start`, keeping any
    // part past `end`.
    if let Some((&s, &(e, old))) = live.range(..start).next_back()
        && e > start
    {
        live.insert(s, (start, old));
        if e > end {
            live.insert(end, (e, old));
        }
    }
    // Ranges starting inside: removed, except a part past `end`.
    let inside: Vec<u64> = live.range(start..end).map(|(&s, _)| s).collect();
    for s in inside {
        if let Some((e, old)) = live.remove(&s)
            && e > end
        {
            live.insert(end, (e, old));
        }
    }
    live.insert(start, (end, sym));
}

/// `START SIZE NAME`, or `None`.
fn parse_line(line: &[u8]) -> Option<(u64, u64, &[u8])> {
    if line.len() > MAX_LINE_BYTES {
        return None;
    }
    let (start, rest) = hex_field(line)?;
    let (size, rest) = hex_field(rest)?;
    // perf skips the one separator; a name is what remains and must not be empty.
    let name = rest.trim_ascii_end();
    (!name.is_empty()).then_some((start, size, name))
}

/// A hex number (optional `0x`) followed by one space; the number and what follows the space.
fn hex_field(s: &[u8]) -> Option<(u64, &[u8])> {
    let (field, rest) = s.split_at(s.iter().position(|&b| b == b' ')?);
    let field = field
        .strip_prefix(b"0x")
        .or_else(|| field.strip_prefix(b"0X"))
        .unwrap_or(field);
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    let v = u64::from_str_radix(std::str::from_utf8(field).ok()?, 16).ok()?;
    Some((v, &rest[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_spaces_and_ranges_are_half_open() {
        let m = PerfMap::parse(
            b"1000 100 LazyCompile:*work /app/work.js:3:14\n0x2000 0x10 Builtin: Foo\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m.bad_lines, 0);
        assert_eq!(
            m.lookup(0x1000),
            Some(("LazyCompile:*work /app/work.js:3:14", 0x1000))
        );
        assert_eq!(
            m.lookup(0x10ff),
            Some(("LazyCompile:*work /app/work.js:3:14", 0x1000))
        );
        assert_eq!(m.lookup(0x1100), None);
        assert_eq!(m.lookup(0xfff), None);
        assert_eq!(m.lookup(0x200f), Some(("Builtin: Foo", 0x2000)));
        assert_eq!(m.lookup(0x2010), None);
    }

    #[test]
    fn later_lines_win_where_they_overlap() {
        // old: [0x1000, 0x1400); new code placed in its middle, then one over its start.
        let m = PerfMap::parse(b"1000 400 old\n1100 100 mid\nf00 180 front\n");
        let at = |a| m.lookup(a).map(|(n, s)| (n.to_string(), s));
        assert_eq!(at(0xf00), Some(("front".into(), 0xf00)));
        assert_eq!(at(0x107f), Some(("front".into(), 0xf00)));
        assert_eq!(at(0x1080), Some(("old".into(), 0x1000)));
        assert_eq!(at(0x1100), Some(("mid".into(), 0x1100)));
        assert_eq!(at(0x11ff), Some(("mid".into(), 0x1100)));
        // The part of `old` past `mid` still names `old`, with `old`'s start.
        assert_eq!(at(0x1200), Some(("old".into(), 0x1000)));
        assert_eq!(at(0x13ff), Some(("old".into(), 0x1000)));
        assert_eq!(at(0x1400), None);
        // Same range written twice: the second name.
        let m = PerfMap::parse(b"5000 10 first\n5000 10 second\n");
        assert_eq!(m.lookup(0x5008), Some(("second", 0x5000)));
        // A later line covering several earlier ones entirely.
        let m = PerfMap::parse(b"10 10 a\n20 10 b\n30 10 c\n8 40 all\n");
        for a in 8..0x48 {
            assert_eq!(m.lookup(a), Some(("all", 8)), "{a:#x}");
        }
    }

    #[test]
    fn bad_lines_are_counted_and_skipped() {
        let long = format!("1 1 {}\n", "x".repeat(MAX_LINE_BYTES));
        let text = format!(
            "zz 10 a\n1000 10\n1000\n\n2000 10 ok\r\n3000  \nffffffffffffffff 10 wraps\n11112222333344445 1 toolong\n4000 0 empty\n{long}"
        );
        let m = PerfMap::parse(text.as_bytes());
        assert_eq!(m.len(), 1);
        assert_eq!(m.lookup(0x2000), Some(("ok", 0x2000)));
        assert_eq!(m.bad_lines, 7, "{m:?}");
        assert_eq!(m.first_bad_line, 1);
        assert_eq!(m.lookup(0x4000), None);
        // Arbitrary bytes never panic.
        let noise: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let _ = PerfMap::parse(&noise);
    }
}
