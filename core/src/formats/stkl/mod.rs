//! `.stkl`, stacklens' own capture format: a frozen, symbolized [`Profile`], column by column,
//! so that opening one is a memory map and a validation pass — no parsing, no symbolization,
//! and no copy of the big columns: opened from a path ([`crate::load`]), the sample and stack
//! columns are [`Column`]s borrowed from the map, which a read lease guards against the file
//! being truncated under us ([`crate::mapped`]). Without a lease (or from bytes in memory) the
//! columns are copied.
//!
//! All integers are little-endian. Layout of version 1:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `53 54 4b 4c 0d 0a 1a 0a` (`STKL\r\n\x1a\n`: a text-mode copy breaks it) |
//! | 8 | 4 | format version (u32) = 1 |
//! | 12 | 4 | number of sections N (u32, at most 1024) |
//! | 16 | 8 | length of the whole file (u64): a cut file is recognized at once |
//! | 24 | 8 | reserved, 0 |
//! | 32 | 24 × N | section directory, one entry per section: |
//! | +0 | 4 | section id (u32, table below) |
//! | +4 | 2 | element size in bytes (u16: 1, 2, 4 or 8) |
//! | +6 | 2 | reserved, 0 |
//! | +8 | 8 | offset of the section from the start of the file (u64, a multiple of 8) |
//! | +16 | 8 | length of the section in bytes (u64, a multiple of the element size) |
//! | … | | the sections, each starting at a multiple of 8, zero-padded |
//!
//! Each section is one column of a table of [`crate::model`], an array of fixed-size elements
//! (ids are u32 with `u32::MAX` meaning "none", as in memory). Section ids:
//!
//! | id | element | content |
//! |---|---|---|
//! | 1 | u8 | JSON: `{"writer", "meta", "sample_types", "layout": "tagged" or "per_type"}` |
//! | 10, 11 | u8, u64 | strings: UTF-8 bytes; offsets (strings + 1 entries, first 0) |
//! | 20–26 | | modules: path, name, build-id (u32 string ids); start, end, file offset (u64); kind (u8) |
//! | 30–35 | | funcs: name, module, file (u32); start line (u32); address (u64); kind (u8) |
//! | 40–44 | | frames: func, module (u32); address (u64); line (u32); inline depth (u16) |
//! | 50, 51 | u32 | stacks: parent, frame |
//! | 60–67 | | threads: pid, tid (i32); name, process name (u32); sample start, end, span start, end (u64) |
//! | 70, 71 | u32, u64 | samples: stack; time (ns) |
//! | 72, 73 | u16, i64 | tagged weights: sample type; weight (layout "tagged") |
//! | 74 | i64 | per-type weights: sample types × samples, type after type (layout "per_type") |
//! | 75 | u32 | samples: label set (empty when the profile has no labels) |
//! | 76 | u32 | whole-profile sums: the sample types kept (distinct, increasing) |
//! | 77, 78 | i64, u64 | whole-profile sums: weight, count of samples per stack, type after type |
//! | 79 | u64 | whole-profile sums: samples with a stack per thread, type after type |
//! | 80–85 | | labels: key, string value (u32); number (i64); unit (u32); set starts, set labels (u32) |
//! | 90–94 | | spans: thread (u32); depth (u16); start, end (u64); name (u32) |
//!
//! Kinds are stored as u8: modules Native 0, Kernel 1, Vdso 2, Jit 3, Unknown 4, Virtual 5;
//! funcs Native 0, Kernel 1, Jit 2, Interpreted 3, Instrumented 4, Unresolved 5.
//!
//! Sections 76–79 (optional: files of earlier builds lack them) keep what adding up every
//! sample gives, per stack, for every sample type (or the default one when that would take
//! more than 16 MiB; none with fewer than four samples per stack): the writer has it, and a
//! reader that checks it against the samples' totals (which validation sums anyway) spares
//! the first view of a big capture its pass over millions of rows. Sums that disagree are
//! dropped with a warning; the views then add the samples up themselves.
//!
//! Readers ignore section ids they do not know (a later version may add columns); a section a
//! version-1 reader needs and does not find is an error. A later format version bumps the version
//! number and keeps a reader for every earlier one; `sample-profiles/` holds a file of each.
//!
//! Validation (every id in range, `parent < self` for stacks, thread ranges in order and in
//! bounds, times sorted within a thread, strings on UTF-8 boundaries, equal column lengths, the
//! weights of each sample type adding up within an i64) runs before the profile is handed out,
//! so the views can index and sum without checks failing at random.

use crate::model::column::{Backing, Column, Plain};
use crate::model::*;
use crate::{Error, Progress, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::Arc;

/// The magic bytes at offset 0.
pub const MAGIC: &[u8; 8] = b"STKL\r\n\x1a\n";
/// The version this build writes.
pub const VERSION: u32 = 1;
const FORMAT: &str = "stkl";
const HEADER: usize = 32;
const ENTRY: usize = 24;
const MAX_SECTIONS: usize = 1024;

mod sec {
    pub const META: u32 = 1;
    pub const STR_DATA: u32 = 10;
    pub const STR_OFFSETS: u32 = 11;
    pub const MOD_PATH: u32 = 20;
    pub const MOD_NAME: u32 = 21;
    pub const MOD_BUILD_ID: u32 = 22;
    pub const MOD_START: u32 = 23;
    pub const MOD_END: u32 = 24;
    pub const MOD_FILE_OFFSET: u32 = 25;
    pub const MOD_KIND: u32 = 26;
    pub const FUNC_NAME: u32 = 30;
    pub const FUNC_MODULE: u32 = 31;
    pub const FUNC_FILE: u32 = 32;
    pub const FUNC_START_LINE: u32 = 33;
    pub const FUNC_ADDRESS: u32 = 34;
    pub const FUNC_KIND: u32 = 35;
    pub const FRAME_FUNC: u32 = 40;
    pub const FRAME_MODULE: u32 = 41;
    pub const FRAME_ADDRESS: u32 = 42;
    pub const FRAME_LINE: u32 = 43;
    pub const FRAME_INLINE_DEPTH: u32 = 44;
    pub const STACK_PARENT: u32 = 50;
    pub const STACK_FRAME: u32 = 51;
    pub const THREAD_PID: u32 = 60;
    pub const THREAD_TID: u32 = 61;
    pub const THREAD_NAME: u32 = 62;
    pub const THREAD_PROCESS_NAME: u32 = 63;
    pub const THREAD_SAMPLE_START: u32 = 64;
    pub const THREAD_SAMPLE_END: u32 = 65;
    pub const THREAD_SPAN_START: u32 = 66;
    pub const THREAD_SPAN_END: u32 = 67;
    pub const SAMPLE_STACK: u32 = 70;
    pub const SAMPLE_TIME: u32 = 71;
    pub const SAMPLE_TAG_TYPE: u32 = 72;
    pub const SAMPLE_TAG_WEIGHT: u32 = 73;
    pub const SAMPLE_PER_TYPE: u32 = 74;
    pub const SAMPLE_LABEL_SET: u32 = 75;
    pub const WHOLE_TYPES: u32 = 76;
    pub const WHOLE_WEIGHT: u32 = 77;
    pub const WHOLE_COUNT: u32 = 78;
    pub const WHOLE_THREAD: u32 = 79;
    pub const LABEL_KEY: u32 = 80;
    pub const LABEL_STR: u32 = 81;
    pub const LABEL_NUM: u32 = 82;
    pub const LABEL_UNIT: u32 = 83;
    pub const LABEL_SET_START: u32 = 84;
    pub const LABEL_SET_LABELS: u32 = 85;
    pub const SPAN_THREAD: u32 = 90;
    pub const SPAN_DEPTH: u32 = 91;
    pub const SPAN_START: u32 = 92;
    pub const SPAN_END: u32 = 93;
    pub const SPAN_NAME: u32 = 94;
}

/// Does `data` start with the `.stkl` magic.
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

#[derive(Serialize, Deserialize)]
struct MetaSection {
    writer: String,
    meta: Meta,
    sample_types: Vec<SampleType>,
    layout: String,
}

fn module_kind_code(k: ModuleKind) -> u8 {
    match k {
        ModuleKind::Native => 0,
        ModuleKind::Kernel => 1,
        ModuleKind::Vdso => 2,
        ModuleKind::Jit => 3,
        ModuleKind::Unknown => 4,
        ModuleKind::Virtual => 5,
    }
}

fn module_kind(c: u8) -> Option<ModuleKind> {
    Some(match c {
        0 => ModuleKind::Native,
        1 => ModuleKind::Kernel,
        2 => ModuleKind::Vdso,
        3 => ModuleKind::Jit,
        4 => ModuleKind::Unknown,
        5 => ModuleKind::Virtual,
        _ => return None,
    })
}

fn func_kind_code(k: FuncKind) -> u8 {
    match k {
        FuncKind::Native => 0,
        FuncKind::Kernel => 1,
        FuncKind::Jit => 2,
        FuncKind::Interpreted => 3,
        FuncKind::Instrumented => 4,
        FuncKind::Unresolved => 5,
    }
}

fn func_kind(c: u8) -> Option<FuncKind> {
    Some(match c {
        0 => FuncKind::Native,
        1 => FuncKind::Kernel,
        2 => FuncKind::Jit,
        3 => FuncKind::Interpreted,
        4 => FuncKind::Instrumented,
        5 => FuncKind::Unresolved,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A plain little-endian element type of a column.
trait Elem: Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! elem {
    ($t:ty) => {
        impl Elem for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
        }
    };
}
elem!(u8);
elem!(u16);
elem!(u32);
elem!(i32);
elem!(u64);
elem!(i64);

macro_rules! id_elem {
    ($t:ty) => {
        impl Elem for $t {
            const SIZE: usize = 4;
            #[inline]
            fn put(self, out: &mut Vec<u8>) {
                self.0.put(out);
            }
            #[inline]
            fn get(b: &[u8]) -> Self {
                Self(u32::get(b))
            }
        }
    };
}
id_elem!(StackId);
id_elem!(FrameId);

/// Collects sections, then writes header, directory and sections.
struct Writer {
    sections: Vec<(u32, u16, Vec<u8>)>,
}

impl Writer {
    fn col<T: Elem>(&mut self, id: u32, values: impl IntoIterator<Item = T>) {
        let mut out = Vec::new();
        for v in values {
            v.put(&mut out);
        }
        self.sections.push((id, T::SIZE as u16, out));
    }

    fn ids<I: Copy>(&mut self, id: u32, values: &[I], raw: impl Fn(I) -> u32) {
        self.col(id, values.iter().map(|&v| raw(v)));
    }

    fn finish(self, w: &mut impl Write) -> std::io::Result<()> {
        let n = self.sections.len();
        let mut offset = (HEADER + ENTRY * n) as u64;
        offset = offset.next_multiple_of(8);
        let mut dir = Vec::with_capacity(ENTRY * n);
        let mut offsets = Vec::with_capacity(n);
        for (id, size, bytes) in &self.sections {
            dir.extend_from_slice(&id.to_le_bytes());
            dir.extend_from_slice(&size.to_le_bytes());
            dir.extend_from_slice(&0u16.to_le_bytes());
            dir.extend_from_slice(&offset.to_le_bytes());
            dir.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            offsets.push(offset);
            offset = (offset + bytes.len() as u64).next_multiple_of(8);
        }
        let total = offset;
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&(n as u32).to_le_bytes());
        head.extend_from_slice(&total.to_le_bytes());
        head.extend_from_slice(&0u64.to_le_bytes());
        w.write_all(&head)?;
        w.write_all(&dir)?;
        let mut pos = (HEADER + ENTRY * n) as u64;
        let zeros = [0u8; 8];
        for ((_, _, bytes), off) in self.sections.iter().zip(offsets) {
            w.write_all(&zeros[..(off - pos) as usize])?;
            w.write_all(bytes)?;
            pos = off + bytes.len() as u64;
        }
        w.write_all(&zeros[..(total - pos) as usize])?;
        Ok(())
    }
}

/// Writes `p` as `.stkl`.
pub fn write(p: &Profile, w: &mut impl Write) -> std::io::Result<()> {
    let mut wr = Writer {
        sections: Vec::new(),
    };
    let s = |id: StrId| id.0;
    let (layout, tagged) = match &p.samples.weights {
        SampleWeights::PerType(_) => ("per_type", false),
        SampleWeights::Tagged { .. } => ("tagged", true),
    };
    let meta = MetaSection {
        writer: format!("stacklens {}", env!("CARGO_PKG_VERSION")),
        meta: p.meta.clone(),
        sample_types: p.sample_types.clone(),
        layout: layout.to_string(),
    };
    let json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    wr.col(sec::META, json);

    let (data, offsets) = p.strings.parts();
    wr.col(sec::STR_DATA, data.bytes());
    wr.col(sec::STR_OFFSETS, offsets.iter().map(|&o| o as u64));

    let m = &p.modules;
    wr.ids(sec::MOD_PATH, &m.path, s);
    wr.ids(sec::MOD_NAME, &m.name, s);
    wr.ids(sec::MOD_BUILD_ID, &m.build_id, s);
    wr.col(sec::MOD_START, m.start.iter().copied());
    wr.col(sec::MOD_END, m.end.iter().copied());
    wr.col(sec::MOD_FILE_OFFSET, m.file_offset.iter().copied());
    wr.col(sec::MOD_KIND, m.kind.iter().map(|&k| module_kind_code(k)));

    let f = &p.funcs;
    wr.ids(sec::FUNC_NAME, &f.name, s);
    wr.ids(sec::FUNC_MODULE, &f.module, |m: ModuleId| m.0);
    wr.ids(sec::FUNC_FILE, &f.file, s);
    wr.col(sec::FUNC_START_LINE, f.start_line.iter().copied());
    wr.col(sec::FUNC_ADDRESS, f.address.iter().copied());
    wr.col(sec::FUNC_KIND, f.kind.iter().map(|&k| func_kind_code(k)));

    let fr = &p.frames;
    wr.ids(sec::FRAME_FUNC, &fr.func, |f: FuncId| f.0);
    wr.ids(sec::FRAME_MODULE, &fr.module, |m: ModuleId| m.0);
    wr.col(sec::FRAME_ADDRESS, fr.address.iter().copied());
    wr.col(sec::FRAME_LINE, fr.line.iter().copied());
    wr.col(sec::FRAME_INLINE_DEPTH, fr.inline_depth.iter().copied());

    wr.ids(sec::STACK_PARENT, &p.stacks.parent, |s: StackId| s.0);
    wr.ids(sec::STACK_FRAME, &p.stacks.frame, |f: FrameId| f.0);

    let t = &p.threads;
    wr.col(sec::THREAD_PID, t.pid.iter().copied());
    wr.col(sec::THREAD_TID, t.tid.iter().copied());
    wr.ids(sec::THREAD_NAME, &t.name, s);
    wr.ids(sec::THREAD_PROCESS_NAME, &t.process_name, s);
    wr.col(
        sec::THREAD_SAMPLE_START,
        t.sample_start.iter().map(|&x| x as u64),
    );
    wr.col(
        sec::THREAD_SAMPLE_END,
        t.sample_end.iter().map(|&x| x as u64),
    );
    wr.col(
        sec::THREAD_SPAN_START,
        t.span_start.iter().map(|&x| x as u64),
    );
    wr.col(sec::THREAD_SPAN_END, t.span_end.iter().map(|&x| x as u64));

    let sm = &p.samples;
    wr.ids(sec::SAMPLE_STACK, &sm.stack, |s: StackId| s.0);
    wr.col(sec::SAMPLE_TIME, sm.time_ns.iter().copied());
    match &sm.weights {
        SampleWeights::Tagged {
            sample_type,
            weight,
        } => {
            debug_assert!(tagged);
            wr.col(sec::SAMPLE_TAG_TYPE, sample_type.iter().copied());
            wr.col(sec::SAMPLE_TAG_WEIGHT, weight.iter().copied());
        }
        SampleWeights::PerType(cols) => {
            wr.col(sec::SAMPLE_PER_TYPE, cols.iter().flatten().copied());
        }
    }
    wr.col(sec::SAMPLE_LABEL_SET, sm.label_set.iter().copied());
    let types = whole_types(p);
    if !types.is_empty() {
        let sums: Vec<StackWeights> = (types.iter())
            .map(|&t| crate::analysis::stack_weights(p, &crate::analysis::Selection::all(t)))
            .collect();
        wr.col(sec::WHOLE_TYPES, types.iter().map(|&t| t as u32));
        wr.col(
            sec::WHOLE_WEIGHT,
            sums.iter().flat_map(|s| s.weight.iter().copied()),
        );
        wr.col(
            sec::WHOLE_COUNT,
            sums.iter().flat_map(|s| s.count.iter().copied()),
        );
        wr.col(
            sec::WHOLE_THREAD,
            sums.iter().flat_map(|s| s.per_thread.iter().copied()),
        );
    }

    let l = &p.labels;
    wr.ids(sec::LABEL_KEY, &l.key, s);
    wr.ids(sec::LABEL_STR, &l.str_value, s);
    wr.col(sec::LABEL_NUM, l.num_value.iter().copied());
    wr.ids(sec::LABEL_UNIT, &l.num_unit, s);
    wr.col(sec::LABEL_SET_START, l.set_start.iter().copied());
    wr.col(sec::LABEL_SET_LABELS, l.set_labels.iter().copied());

    let sp = &p.spans;
    wr.ids(sec::SPAN_THREAD, &sp.thread, |t: ThreadId| t.0);
    wr.col(sec::SPAN_DEPTH, sp.depth.iter().copied());
    wr.col(sec::SPAN_START, sp.start_ns.iter().copied());
    wr.col(sec::SPAN_END, sp.end_ns.iter().copied());
    wr.ids(sec::SPAN_NAME, &sp.name, s);
    wr.finish(w)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// The section directory of a file, checked against the file's bytes.
struct Sections<'a> {
    data: &'a [u8],
    /// (id, element size, offset, length)
    entries: Vec<(u32, u16, usize, usize)>,
    /// The owner of `data` when the big columns may borrow from it instead of copying.
    backing: Option<&'a Arc<dyn Backing>>,
}

impl<'a> Sections<'a> {
    fn parse(data: &'a [u8], backing: Option<&'a Arc<dyn Backing>>) -> Result<Self> {
        if !sniff(data) {
            return Err(Error::at(FORMAT, 0, "the .stkl magic bytes"));
        }
        let u32_at = |pos| crate::formats::bytes::u32_at(data, pos);
        let u64_at = |pos| crate::formats::bytes::u64_at(data, pos);
        let version = u32_at(8).ok_or_else(|| Error::at(FORMAT, 8, "a format version"))?;
        if version != VERSION {
            return Err(Error::at(
                FORMAT,
                8,
                format!(
                    "format version {VERSION} (this file is version {version}; a newer \
                     stacklens wrote it)"
                ),
            ));
        }
        let n = u32_at(12).ok_or_else(|| Error::at(FORMAT, 12, "a section count"))? as usize;
        if n > MAX_SECTIONS {
            return Err(Error::at(
                FORMAT,
                12,
                format!("at most {MAX_SECTIONS} sections, not {n}"),
            ));
        }
        let len = u64_at(16).ok_or_else(|| Error::at(FORMAT, 16, "the file length"))?;
        if len != data.len() as u64 {
            return Err(Error::at(
                FORMAT,
                16,
                format!(
                    "a file of {len} bytes as its header says; it has {} (cut short or \
                     appended to)",
                    data.len()
                ),
            ));
        }
        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let at = HEADER + ENTRY * i;
            let (Some(id), Some(size), Some(off), Some(bytes)) = (
                u32_at(at),
                crate::formats::bytes::u16_at(data, at + 4),
                u64_at(at + 8),
                u64_at(at + 16),
            ) else {
                return Err(Error::at(FORMAT, at as u64, "a section directory entry"));
            };
            if !matches!(size, 1 | 2 | 4 | 8) {
                return Err(Error::at(
                    FORMAT,
                    at as u64 + 4,
                    format!("an element size of 1, 2, 4 or 8 bytes, not {size}"),
                ));
            }
            let end = off.checked_add(bytes).filter(|&e| e <= data.len() as u64);
            if end.is_none() || off % 8 != 0 || bytes % u64::from(size) != 0 {
                return Err(Error::at(
                    FORMAT,
                    at as u64 + 8,
                    format!(
                        "an 8-aligned section of whole {size}-byte elements inside the file \
                         (section {id}: {bytes} bytes at {off}, file {} bytes)",
                        data.len()
                    ),
                ));
            }
            entries.push((id, size, off as usize, bytes as usize));
        }
        Ok(Self {
            data,
            entries,
            backing,
        })
    }

    fn raw(&self, id: u32, size: usize) -> Result<&'a [u8]> {
        let Some(&(_, s, off, len)) = self.entries.iter().find(|e| e.0 == id) else {
            return Err(Error::at(FORMAT, 12, format!("a section with id {id}")));
        };
        if usize::from(s) != size {
            return Err(Error::at(
                FORMAT,
                off as u64,
                format!("section {id} with {size}-byte elements, not {s}-byte"),
            ));
        }
        Ok(&self.data[off..off + len])
    }

    fn col<T: Elem>(&self, id: u32) -> Result<Vec<T>> {
        let raw = self.raw(id, T::SIZE)?;
        Ok(raw.chunks_exact(T::SIZE).map(T::get).collect())
    }

    /// `len` elements from element `first` of section `id` as a column: borrowed from the
    /// backing when there is one (and the machine reads the file's byte order), else copied.
    fn column_part<T: Elem + Plain>(&self, id: u32, first: usize, len: usize) -> Result<Column<T>> {
        let raw = self.raw(id, T::SIZE)?;
        let raw = first
            .checked_mul(T::SIZE)
            .and_then(|a| Some((a, a.checked_add(len.checked_mul(T::SIZE)?)?)))
            .and_then(|(a, b)| raw.get(a..b))
            .ok_or_else(|| Error::at(FORMAT, self.offset(id), format!("{len} elements")))?;
        if let Some(b) = self.backing {
            let off = raw.as_ptr() as usize - self.data.as_ptr() as usize;
            if let Some(c) = Column::borrow(b, off, len) {
                return Ok(c);
            }
        }
        Ok(raw.chunks_exact(T::SIZE).map(T::get).collect())
    }

    /// Section `id` as a column (see [`Self::column_part`]).
    fn column<T: Elem + Plain>(&self, id: u32) -> Result<Column<T>> {
        let n = self.raw(id, T::SIZE)?.len() / T::SIZE;
        self.column_part(id, 0, n)
    }

    fn offset(&self, id: u32) -> u64 {
        self.entries
            .iter()
            .find(|e| e.0 == id)
            .map_or(0, |e| e.2 as u64)
    }
}

/// The first row of `values` that is not below `limit` (ignoring `u32::MAX`, "none", when
/// `none_ok`), as an error naming the section.
fn check_ids<T: Copy + Into<u32> + Sync>(
    secs: &Sections,
    id: u32,
    values: &[T],
    limit: usize,
    none_ok: bool,
    what: &str,
) -> Result<()> {
    let bad = first_bad(values, |_, v| {
        let v: u32 = v.into();
        (v as usize) >= limit && !(none_ok && v == u32::MAX)
    });
    match bad {
        None => Ok(()),
        Some(row) => Err(Error::at(
            FORMAT,
            secs.offset(id) + 4 * row as u64,
            format!(
                "{what} below {limit} (row {row} has {})",
                values[row].into()
            ),
        )),
    }
}

/// Most bytes the whole-profile sums of all sample types may take for a written file to keep
/// all of them; past it only the default type's are kept.
const WHOLE_BUDGET: usize = 16 << 20;

/// The sample types whose whole-profile sums [`write`] keeps: none when the profile has more
/// than a quarter as many stacks as samples (a pprof heap profile with millions of distinct
/// stacks: its sums would be bigger than the samples they save a pass over).
fn whole_types(p: &Profile) -> Vec<usize> {
    if p.stacks.len().saturating_mul(4) > p.samples.len() {
        return Vec::new();
    }
    let n_types = p.sample_types.len();
    let per_type =
        (p.stacks.len().saturating_mul(16)).saturating_add(p.threads.len().saturating_mul(8));
    if n_types.saturating_mul(per_type) <= WHOLE_BUDGET {
        (0..n_types).collect()
    } else {
        vec![p.default_sample_type()]
    }
}

/// A file's whole-profile sums (sections 76–79), their shape checked.
struct Stored {
    types: Vec<usize>,
    /// Type after type: `types.len()` × stacks.
    weight: Vec<i64>,
    count: Vec<u64>,
    /// Type after type: `types.len()` × threads.
    per_thread: Vec<u64>,
}

/// The whole-profile sums the file keeps, if it has the sections (files of earlier builds do
/// not).
fn stored_sums(
    secs: &Sections,
    n_types: usize,
    n_stack: usize,
    n_thread: usize,
) -> Result<Option<Stored>> {
    if !secs.entries.iter().any(|e| e.0 == sec::WHOLE_TYPES) {
        return Ok(None);
    }
    let types: Vec<u32> = secs.col(sec::WHOLE_TYPES)?;
    if types.windows(2).any(|w| w[0] >= w[1]) || types.iter().any(|&t| t as usize >= n_types) {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::WHOLE_TYPES),
            format!("whole-profile sums of distinct sample types below {n_types}, in order"),
        ));
    }
    let k = types.len();
    let stored = Stored {
        types: types.into_iter().map(|t| t as usize).collect(),
        weight: secs.col(sec::WHOLE_WEIGHT)?,
        count: secs.col(sec::WHOLE_COUNT)?,
        per_thread: secs.col(sec::WHOLE_THREAD)?,
    };
    let per_stack = k.saturating_mul(n_stack);
    same_len(
        secs,
        sec::WHOLE_WEIGHT,
        "whole-profile weights",
        stored.weight.len(),
        per_stack,
    )?;
    same_len(
        secs,
        sec::WHOLE_COUNT,
        "whole-profile counts",
        stored.count.len(),
        per_stack,
    )?;
    let per_thread = k.saturating_mul(n_thread);
    let got = stored.per_thread.len();
    same_len(
        secs,
        sec::WHOLE_THREAD,
        "whole-profile thread counts",
        got,
        per_thread,
    )?;
    Ok(Some(stored))
}

/// Validates the sample rows: stack ids below `n_stack` (or none), tagged sample types below
/// `n_types`, each type's running total within `i64`. The threads' ranges must already be
/// known to tile the rows.
///
/// When the file keeps whole-profile sums ([`stored_sums`]), the same passes add up, per type
/// kept, the weight and number of the samples with a stack; sums that agree (in total, and per
/// thread) become the profile's [`WholeWeights`], so the first view of a big capture needs no
/// pass over its millions of samples. Sums that do not agree are left out with a warning.
fn check_samples(
    secs: &Sections,
    samples: &SampleTable,
    threads: &ThreadTable,
    n_stack: usize,
    n_types: usize,
    stored: Option<Stored>,
    warnings: &mut Vec<String>,
) -> Result<Option<WholeWeights>> {
    let stacks = &samples.stack[..];
    check_ids(
        secs,
        sec::SAMPLE_STACK,
        stacks,
        n_stack,
        true,
        "sample stacks: stack ids",
    )?;
    let n_sample = samples.len();
    let mut stacked: Vec<(i128, u64)> = vec![(0, 0); n_types];
    match &samples.weights {
        SampleWeights::Tagged {
            sample_type,
            weight,
        } => {
            if let Some(row) = first_bad(sample_type, |_, t| usize::from(t) >= n_types) {
                return Err(Error::at(
                    FORMAT,
                    secs.offset(sec::SAMPLE_TAG_TYPE) + 2 * row as u64,
                    format!("a sample type below {n_types}"),
                ));
            }
            let (overflow, sums) = tagged_totals(stacks, sample_type, weight, n_types);
            if let Some(row) = overflow {
                return Err(weight_overflow(
                    secs.offset(sec::SAMPLE_TAG_WEIGHT) + 8 * row as u64,
                ));
            }
            stacked = sums;
        }
        SampleWeights::PerType(cols) => {
            for (t, col) in cols.iter().enumerate() {
                let mut total = 0i64;
                let overflow =
                    (col.iter()).position(|&w| total.checked_add(w).map(|s| total = s).is_none());
                if let Some(row) = overflow {
                    return Err(weight_overflow(
                        secs.offset(sec::SAMPLE_PER_TYPE) + 8 * (t * n_sample + row) as u64,
                    ));
                }
                if stored.as_ref().is_some_and(|s| s.types.contains(&t)) {
                    stacked[t] = (col.par_iter().zip(stacks))
                        .filter(|&(&w, s)| w != 0 && s.is_some())
                        .map(|(&w, _)| (i128::from(w), 1u64))
                        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                }
            }
        }
    }
    let Some(stored) = stored.filter(|s| !s.types.is_empty()) else {
        return Ok(None);
    };
    let n_thread = threads.len();
    let agrees = stored.types.iter().enumerate().all(|(i, &t)| {
        let (w, c) = stacked[t];
        let weight = &stored.weight[i * n_stack..(i + 1) * n_stack];
        let count = &stored.count[i * n_stack..(i + 1) * n_stack];
        let per_thread = &stored.per_thread[i * n_thread..(i + 1) * n_thread];
        let rows_fit = (per_thread.iter().enumerate())
            .all(|(th, &n)| n as usize <= threads.samples(ThreadId::from_index(th)).len());
        weight.iter().map(|&x| i128::from(x)).sum::<i128>() == w
            && count.iter().map(|&x| u128::from(x)).sum::<u128>() == u128::from(c)
            && per_thread.iter().map(|&x| u128::from(x)).sum::<u128>() == u128::from(c)
            && rows_fit
    });
    if !agrees {
        warnings.push(format!(
            "{}: the file's whole-profile sums do not add up to its samples; they were left out (the views add the samples up themselves)",
            secs.offset(sec::WHOLE_WEIGHT)
        ));
        return Ok(None);
    }
    let mut types: Vec<Option<StackWeights>> = vec![None; n_types];
    for (i, &t) in stored.types.iter().enumerate() {
        types[t] = Some(StackWeights {
            weight: stored.weight[i * n_stack..(i + 1) * n_stack].to_vec(),
            count: stored.count[i * n_stack..(i + 1) * n_stack].to_vec(),
            per_thread: stored.per_thread[i * n_thread..(i + 1) * n_thread].to_vec(),
        });
    }
    Ok(Some(WholeWeights {
        versions: samples.versions(),
        stacks: n_stack,
        thread_rows: (threads.sample_start.iter().copied())
            .zip(threads.sample_end.iter().copied())
            .collect(),
        types,
    }))
}

/// The first of tagged rows (stack, type, weight) where the running total of its type, from
/// `totals`, would leave `i64` (`totals` then holds the totals before it); adds the rows with a
/// stack to `stacked` (weight, count per type).
fn first_overflow(
    stacks: &[StackId],
    types: &[u16],
    weights: &[i64],
    totals: &mut [i64],
    stacked: &mut [(i128, u64)],
) -> Option<usize> {
    (stacks.iter().zip(types).zip(weights)).position(|((s, &t), &w)| {
        let t = usize::from(t);
        if s.is_some() {
            stacked[t].0 += i128::from(w);
            stacked[t].1 += 1;
        }
        let total = &mut totals[t];
        total.checked_add(w).map(|s| *total = s).is_none()
    })
}

/// Checks that the running total of each sample type over tagged rows stays in `i64`: the
/// first row where one would not. Also gives each type's weight and number of rows with a
/// stack. In parallel over chunks when there are few types: each chunk's sums per type (in
/// `i128`, which cannot overflow) say whether the totals so far plus the chunk stay in range;
/// only a chunk where they might not is read again, row by row.
fn tagged_totals(
    stacks: &[StackId],
    types: &[u16],
    weights: &[i64],
    n_types: usize,
) -> (Option<usize>, Vec<(i128, u64)>) {
    /// Rows per chunk, and most types for the parallel path (each chunk keeps a run per type).
    const CHUNK: usize = 1 << 16;
    const MAX_TYPES: usize = 64;
    let n = types.len().min(weights.len()).min(stacks.len());
    let (stacks, types, weights) = (&stacks[..n], &types[..n], &weights[..n]);
    if n_types > MAX_TYPES || n <= CHUNK {
        let mut totals = vec![0i64; n_types];
        let mut stacked = vec![(0, 0); n_types];
        let overflow = first_overflow(stacks, types, weights, &mut totals, &mut stacked);
        return (overflow, stacked);
    }
    // Per chunk: each type's sum, and the lowest weight. With no
    // negative weight a type's running sum only grows, so its sum is its highest running sum
    // and 0 its lowest; a chunk with a negative weight is read row by row.
    struct Run {
        sums: Vec<i128>,
        stacked: Vec<(i128, u64)>,
        lowest: i64,
    }
    let runs: Vec<Run> = (stacks.par_chunks(CHUNK))
        .zip(types.par_chunks(CHUNK))
        .zip(weights.par_chunks(CHUNK))
        .map(|((ss, ts), ws)| {
            let mut r = Run {
                sums: vec![0; n_types],
                stacked: vec![(0, 0); n_types],
                lowest: 0,
            };
            if n_types == 1 {
                // One type (the usual perf capture): sums in registers.
                let (mut all, mut with, mut count) = (0i128, 0i128, 0u64);
                for (s, &w) in ss.iter().zip(ws) {
                    let has = s.is_some();
                    all += i128::from(w);
                    with += i128::from(if has { w } else { 0 });
                    count += u64::from(has);
                    r.lowest = r.lowest.min(w);
                }
                r.sums[0] = all;
                r.stacked[0] = (with, count);
                return r;
            }
            for ((s, &t), &w) in ss.iter().zip(ts).zip(ws) {
                let t = usize::from(t);
                if let Some(x) = r.sums.get_mut(t) {
                    *x += i128::from(w);
                }
                if s.is_some()
                    && let Some(x) = r.stacked.get_mut(t)
                {
                    *x = (x.0 + i128::from(w), x.1 + 1);
                }
                r.lowest = r.lowest.min(w);
            }
            r
        })
        .collect();
    let mut stacked = vec![(0i128, 0u64); n_types];
    for r in &runs {
        for (x, y) in stacked.iter_mut().zip(&r.stacked) {
            *x = (x.0 + y.0, x.1 + y.1);
        }
    }
    let mut base = vec![0i128; n_types];
    for (c, r) in runs.iter().enumerate() {
        let fits = r.lowest >= 0
            && (base.iter().zip(&r.sums)).all(|(&b, &x)| b + x <= i128::from(i64::MAX));
        if !fits {
            // Read this chunk row by row, from the totals so far (in range: i64s).
            let mut totals: Vec<i64> = base.iter().map(|&b| b as i64).collect();
            let (from, end) = (c * CHUNK, ((c + 1) * CHUNK).min(n));
            let mut ignored = vec![(0, 0); n_types];
            if let Some(row) = first_overflow(
                &stacks[from..end],
                &types[from..end],
                &weights[from..end],
                &mut totals,
                &mut ignored,
            ) {
                return (Some(from + row), stacked);
            }
            for (b, &t) in base.iter_mut().zip(&totals) {
                *b = i128::from(t);
            }
            continue;
        }
        for (b, &x) in base.iter_mut().zip(&r.sums) {
            *b += x;
        }
    }
    (None, stacked)
}

/// The first row `i` of `values` for which `bad(i, values[i])`. Validation of a capture with
/// millions of samples is the whole cost of opening it, so the test runs branch-free over
/// chunks (which vectorizes) and the chunks in parallel; only a bad chunk is searched again.
fn first_bad<T: Copy + Sync>(values: &[T], bad: impl Fn(usize, T) -> bool + Sync) -> Option<usize> {
    const CHUNK: usize = 1 << 14;
    let chunk_bad = |c: usize| {
        let base = c * CHUNK;
        let part = &values[base..values.len().min(base + CHUNK)];
        part.iter()
            .enumerate()
            .fold(false, |acc, (i, &v)| acc | bad(base + i, v))
    };
    let n_chunks = values.len().div_ceil(CHUNK);
    let c = if n_chunks > 4 {
        (0..n_chunks).into_par_iter().position_first(chunk_bad)?
    } else {
        (0..n_chunks).position(chunk_bad)?
    };
    let base = c * CHUNK;
    values[base..values.len().min(base + CHUNK)]
        .iter()
        .enumerate()
        .position(|(i, &v)| bad(base + i, v))
        .map(|i| base + i)
}

fn same_len(secs: &Sections, id: u32, what: &str, len: usize, want: usize) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(Error::at(
            FORMAT,
            secs.offset(id),
            format!("{want} {what} (as many as the table has rows), not {len}"),
        ))
    }
}

/// A weight that makes its sample type's total overflow: every view adds weights up, so a
/// file the writer could not have made (its profile's totals fit) is refused here.
fn weight_overflow(offset: u64) -> Error {
    Error::at(
        FORMAT,
        offset,
        "a weight that keeps its sample type's total within a signed 64-bit integer",
    )
}

fn wrap<T>(v: Vec<u32>, f: impl Fn(u32) -> T) -> Vec<T> {
    v.into_iter().map(f).collect()
}

/// Opens a `.stkl` file's bytes as a profile, copying every column.
pub fn read(data: &[u8], progress: &Progress) -> Result<Profile> {
    read_from(data, None, progress)
}

/// Opens a `.stkl` held by `backing` (a mapped file whose bytes stay put): the big columns
/// (samples, stacks) borrow from it, so opening costs the validation pass only.
pub fn read_borrowed(backing: Arc<dyn Backing>, progress: &Progress) -> Result<Profile> {
    read_from(backing.bytes(), Some(&backing), progress)
}

fn read_from(
    data: &[u8],
    backing: Option<&Arc<dyn Backing>>,
    progress: &Progress,
) -> Result<Profile> {
    progress.start_phase(crate::progress::Phase::Reading, data.len() as u64);
    let secs = Sections::parse(data, backing)?;
    let meta: MetaSection = serde_json::from_slice(secs.raw(sec::META, 1)?).map_err(|e| {
        Error::at(
            FORMAT,
            secs.offset(sec::META),
            format!("the JSON metadata section ({e})"),
        )
    })?;

    // Strings.
    let str_data = secs.raw(sec::STR_DATA, 1)?;
    let str_data = std::str::from_utf8(str_data).map_err(|e| {
        Error::at(
            FORMAT,
            secs.offset(sec::STR_DATA) + e.valid_up_to() as u64,
            "UTF-8 text in the string table",
        )
    })?;
    let offsets: Vec<u64> = secs.col(sec::STR_OFFSETS)?;
    let bad = offsets.first() != Some(&0)
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets
            .iter()
            .any(|&o| o > str_data.len() as u64 || !str_data.is_char_boundary(o as usize));
    if bad {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::STR_OFFSETS),
            "string offsets that start at 0, never decrease and fall on character boundaries \
             inside the string data",
        ));
    }
    let n_strings = offsets.len() - 1;
    let strings = StringTable::from_parts(
        str_data.to_owned(),
        offsets.into_iter().map(|o| o as usize).collect(),
    );
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let str_ids = |id: u32, what: &str| -> Result<Vec<StrId>> {
        let v: Vec<u32> = secs.col(id)?;
        check_ids(&secs, id, &v, n_strings, true, what)?;
        Ok(wrap(v, StrId))
    };

    // Modules.
    let path = str_ids(sec::MOD_PATH, "module paths: string ids")?;
    let n_mod = path.len();
    let modules = ModuleTable {
        name: str_ids(sec::MOD_NAME, "module names: string ids")?,
        build_id: str_ids(sec::MOD_BUILD_ID, "build-ids: string ids")?,
        start: secs.col(sec::MOD_START)?,
        end: secs.col(sec::MOD_END)?,
        file_offset: secs.col(sec::MOD_FILE_OFFSET)?,
        kind: kinds(&secs, sec::MOD_KIND, module_kind, "a module kind (0-5)")?,
        path,
    };
    for (id, len) in [
        (sec::MOD_NAME, modules.name.len()),
        (sec::MOD_BUILD_ID, modules.build_id.len()),
        (sec::MOD_START, modules.start.len()),
        (sec::MOD_END, modules.end.len()),
        (sec::MOD_FILE_OFFSET, modules.file_offset.len()),
        (sec::MOD_KIND, modules.kind.len()),
    ] {
        same_len(&secs, id, "module rows", len, n_mod)?;
    }

    // Functions.
    let name = str_ids(sec::FUNC_NAME, "function names: string ids")?;
    let n_func = name.len();
    let module: Vec<u32> = secs.col(sec::FUNC_MODULE)?;
    check_ids(
        &secs,
        sec::FUNC_MODULE,
        &module,
        n_mod,
        true,
        "function modules: module ids",
    )?;
    let funcs = FuncTable {
        name,
        module: wrap(module, ModuleId),
        file: str_ids(sec::FUNC_FILE, "function files: string ids")?,
        start_line: secs.col(sec::FUNC_START_LINE)?,
        address: secs.col(sec::FUNC_ADDRESS)?,
        kind: kinds(&secs, sec::FUNC_KIND, func_kind, "a function kind (0-5)")?,
    };
    for (id, len) in [
        (sec::FUNC_MODULE, funcs.module.len()),
        (sec::FUNC_FILE, funcs.file.len()),
        (sec::FUNC_START_LINE, funcs.start_line.len()),
        (sec::FUNC_ADDRESS, funcs.address.len()),
        (sec::FUNC_KIND, funcs.kind.len()),
    ] {
        same_len(&secs, id, "function rows", len, n_func)?;
    }

    // Frames.
    let func: Vec<u32> = secs.col(sec::FRAME_FUNC)?;
    // A frozen profile is symbolized: every frame has a function.
    check_ids(
        &secs,
        sec::FRAME_FUNC,
        &func,
        n_func,
        false,
        "frame functions: function ids",
    )?;
    let n_frame = func.len();
    let module: Vec<u32> = secs.col(sec::FRAME_MODULE)?;
    check_ids(
        &secs,
        sec::FRAME_MODULE,
        &module,
        n_mod,
        true,
        "frame modules: module ids",
    )?;
    let frames = FrameTable {
        func: wrap(func, FuncId),
        module: wrap(module, ModuleId),
        address: secs.col(sec::FRAME_ADDRESS)?,
        line: secs.col(sec::FRAME_LINE)?,
        inline_depth: secs.col(sec::FRAME_INLINE_DEPTH)?,
    };
    for (id, len) in [
        (sec::FRAME_MODULE, frames.module.len()),
        (sec::FRAME_ADDRESS, frames.address.len()),
        (sec::FRAME_LINE, frames.line.len()),
        (sec::FRAME_INLINE_DEPTH, frames.inline_depth.len()),
    ] {
        same_len(&secs, id, "frame rows", len, n_frame)?;
    }

    // Stacks: parent < self.
    let parent: Column<StackId> = secs.column(sec::STACK_PARENT)?;
    let frame: Column<FrameId> = secs.column(sec::STACK_FRAME)?;
    same_len(
        &secs,
        sec::STACK_FRAME,
        "stack rows",
        frame.len(),
        parent.len(),
    )?;
    check_ids(
        &secs,
        sec::STACK_FRAME,
        &frame,
        n_frame,
        false,
        "stack frames: frame ids",
    )?;
    if let Some(row) = first_bad(&parent, |i, p| p.is_some() && p.index() >= i) {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::STACK_PARENT) + 4 * row as u64,
            format!(
                "a parent stack before its child (row {row} has parent {})",
                parent[row].0
            ),
        ));
    }
    let n_stack = parent.len();
    let stacks = StackTable { parent, frame };
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // Samples.
    // Stack ids, sample types and weight totals are checked once the threads are (below), in
    // one pass that also adds the weights up.
    let stack: Column<StackId> = secs.column(sec::SAMPLE_STACK)?;
    let n_sample = stack.len();
    let time_ns: Column<u64> = secs.column(sec::SAMPLE_TIME)?;
    same_len(
        &secs,
        sec::SAMPLE_TIME,
        "sample times",
        time_ns.len(),
        n_sample,
    )?;
    let n_types = meta.sample_types.len();
    let weights = match meta.layout.as_str() {
        "tagged" => {
            let sample_type: Column<u16> = secs.column(sec::SAMPLE_TAG_TYPE)?;
            let weight: Column<i64> = secs.column(sec::SAMPLE_TAG_WEIGHT)?;
            same_len(
                &secs,
                sec::SAMPLE_TAG_TYPE,
                "sample types",
                sample_type.len(),
                n_sample,
            )?;
            same_len(
                &secs,
                sec::SAMPLE_TAG_WEIGHT,
                "weights",
                weight.len(),
                n_sample,
            )?;
            SampleWeights::Tagged {
                sample_type,
                weight,
            }
        }
        "per_type" => {
            let all = secs.raw(sec::SAMPLE_PER_TYPE, 8)?.len() / 8;
            let want = n_types.saturating_mul(n_sample);
            same_len(&secs, sec::SAMPLE_PER_TYPE, "weights", all, want)?;
            let cols: Vec<Column<i64>> = (0..n_types)
                .map(|t| secs.column_part(sec::SAMPLE_PER_TYPE, t * n_sample, n_sample))
                .collect::<Result<_>>()?;
            SampleWeights::PerType(cols)
        }
        other => {
            return Err(Error::at(
                FORMAT,
                secs.offset(sec::META),
                format!("a weight layout \"tagged\" or \"per_type\", not {other:?}"),
            ));
        }
    };

    // Labels.
    let key = str_ids(sec::LABEL_KEY, "label keys: string ids")?;
    let n_label = key.len();
    let set_start: Vec<u32> = secs.col(sec::LABEL_SET_START)?;
    let set_labels: Vec<u32> = secs.col(sec::LABEL_SET_LABELS)?;
    check_ids(
        &secs,
        sec::LABEL_SET_LABELS,
        &set_labels,
        n_label,
        false,
        "label ids",
    )?;
    if set_start.len() < 2
        || set_start[0] != 0
        || set_start.windows(2).any(|w| w[0] > w[1])
        || set_start.last().map(|&e| e as usize) != Some(set_labels.len())
    {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::LABEL_SET_START),
            "label set starts from 0 to the number of set labels, never decreasing",
        ));
    }
    let n_sets = set_start.len() - 1;
    let labels = LabelTable {
        str_value: str_ids(sec::LABEL_STR, "label values: string ids")?,
        num_value: secs.col(sec::LABEL_NUM)?,
        num_unit: str_ids(sec::LABEL_UNIT, "label units: string ids")?,
        key,
        set_start,
        set_labels,
    };
    for (id, len) in [
        (sec::LABEL_STR, labels.str_value.len()),
        (sec::LABEL_NUM, labels.num_value.len()),
        (sec::LABEL_UNIT, labels.num_unit.len()),
    ] {
        same_len(&secs, id, "label rows", len, n_label)?;
    }
    let label_set: Column<u32> = secs.column(sec::SAMPLE_LABEL_SET)?;
    if !label_set.is_empty() {
        same_len(
            &secs,
            sec::SAMPLE_LABEL_SET,
            "label sets",
            label_set.len(),
            n_sample,
        )?;
        check_ids(
            &secs,
            sec::SAMPLE_LABEL_SET,
            &label_set,
            n_sets,
            false,
            "label set ids",
        )?;
    }
    let mut samples = SampleTable {
        stack,
        time_ns,
        weights,
        label_set,
        whole: None,
    };

    // Spans.
    let thread: Vec<u32> = secs.col(sec::SPAN_THREAD)?;
    let n_span = thread.len();
    let spans = SpanTable {
        thread: wrap(thread, ThreadId),
        depth: secs.col(sec::SPAN_DEPTH)?,
        start_ns: secs.col(sec::SPAN_START)?,
        end_ns: secs.col(sec::SPAN_END)?,
        name: str_ids(sec::SPAN_NAME, "span names: string ids")?,
    };
    for (id, len) in [
        (sec::SPAN_DEPTH, spans.depth.len()),
        (sec::SPAN_START, spans.start_ns.len()),
        (sec::SPAN_END, spans.end_ns.len()),
        (sec::SPAN_NAME, spans.name.len()),
    ] {
        same_len(&secs, id, "span rows", len, n_span)?;
    }

    // Threads: their sample and span ranges tile the tables in order.
    let pid: Vec<i32> = secs.col(sec::THREAD_PID)?;
    let n_thread = pid.len();
    let to_usize = |v: Vec<u64>| -> Vec<usize> { v.into_iter().map(|x| x as usize).collect() };
    let threads = ThreadTable {
        pid,
        tid: secs.col(sec::THREAD_TID)?,
        name: str_ids(sec::THREAD_NAME, "thread names: string ids")?,
        process_name: str_ids(sec::THREAD_PROCESS_NAME, "process names: string ids")?,
        sample_start: to_usize(secs.col(sec::THREAD_SAMPLE_START)?),
        sample_end: to_usize(secs.col(sec::THREAD_SAMPLE_END)?),
        span_start: to_usize(secs.col(sec::THREAD_SPAN_START)?),
        span_end: to_usize(secs.col(sec::THREAD_SPAN_END)?),
    };
    for (id, len) in [
        (sec::THREAD_TID, threads.tid.len()),
        (sec::THREAD_NAME, threads.name.len()),
        (sec::THREAD_PROCESS_NAME, threads.process_name.len()),
        (sec::THREAD_SAMPLE_START, threads.sample_start.len()),
        (sec::THREAD_SAMPLE_END, threads.sample_end.len()),
        (sec::THREAD_SPAN_START, threads.span_start.len()),
        (sec::THREAD_SPAN_END, threads.span_end.len()),
    ] {
        same_len(&secs, id, "thread rows", len, n_thread)?;
    }
    let tiles = |start: &[usize], end: &[usize], total: usize| {
        let mut at = 0;
        for (&a, &b) in start.iter().zip(end) {
            if a != at || b < a || b > total {
                return false;
            }
            at = b;
        }
        at == total
    };
    if !tiles(&threads.sample_start, &threads.sample_end, n_sample) {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::THREAD_SAMPLE_START),
            "thread sample ranges that cover the samples in order",
        ));
    }
    if !tiles(&threads.span_start, &threads.span_end, n_span) {
        return Err(Error::at(
            FORMAT,
            secs.offset(sec::THREAD_SPAN_START),
            "thread span ranges that cover the spans in order",
        ));
    }
    let stored = stored_sums(&secs, n_types, n_stack, n_thread)?;
    let mut meta = meta;
    samples.whole = check_samples(
        &secs,
        &samples,
        &threads,
        n_stack,
        n_types,
        stored,
        &mut meta.meta.warnings,
    )?
    .map(Arc::new);
    for t in 0..n_thread {
        let times = &samples.time_ns[threads.sample_start[t]..threads.sample_end[t]];
        if first_bad(times, |i, x| i > 0 && times[i - 1] > x).is_some() {
            return Err(Error::at(
                FORMAT,
                secs.offset(sec::SAMPLE_TIME) + 8 * threads.sample_start[t] as u64,
                format!("the samples of thread {t} in time order"),
            ));
        }
        let rows = threads.span_start[t]..threads.span_end[t];
        if spans.thread[rows].iter().any(|&x| x.index() != t) {
            return Err(Error::at(
                FORMAT,
                secs.offset(sec::SPAN_THREAD) + 4 * threads.span_start[t] as u64,
                format!("the spans of thread {t} to name thread {t}"),
            ));
        }
    }
    progress.set_done(data.len() as u64);
    Ok(Profile {
        strings,
        modules,
        funcs,
        frames,
        stacks,
        threads,
        sample_types: meta.sample_types,
        samples,
        labels,
        spans,
        meta: meta.meta,
    })
}

fn kinds<K>(secs: &Sections, id: u32, f: impl Fn(u8) -> Option<K>, what: &str) -> Result<Vec<K>> {
    let raw = secs.raw(id, 1)?;
    raw.iter()
        .enumerate()
        .map(|(i, &c)| f(c).ok_or_else(|| Error::at(FORMAT, secs.offset(id) + i as u64, what)))
        .collect()
}

#[cfg(test)]
mod tests;
