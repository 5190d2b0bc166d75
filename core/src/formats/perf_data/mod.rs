//! `perf.data` (Linux `perf record`) in file and pipe mode, plain or zstd-compressed.
//!
//! The parser reads the memory-mapped bytes in two passes:
//!
//! 1. **Sideband**: attributes (pipe mode), MMAP/MMAP2, COMM, FORK, LOST records and the
//!    build-id and feature records; sample records are only counted. This builds the
//!    [`AddressSpace`] (which module an address belongs to, per process, over time).
//! 2. **Samples**: each SAMPLE record is decoded in place (no copy, no allocation per sample),
//!    its callchain mapped to (module, relative address) frames and interned into the
//!    builder's stack tree.
//!
//! Two passes make module lookup exact even though perf writes records only roughly in time
//! order, and pass 1 only hops over sample headers, so it costs little.
//!
//! **Why a hand-written record walk and not the `linux-perf-data` crate.** Both were measured
//! on the same generated 100 MiB file, 1.09 M samples (`cargo bench -p stacklens-core --bench
//! perf_data`, group `record-walk`, decoding ip, pid/tid, time and callchain of every sample):
//! the walk here took 9.5 ms (10.2 GiB/s), `linux-perf-data` 0.13 took 129 ms (774 MiB/s) on
//! the same 2-core machine. The crate reads records through `Read + Seek` into owned buffers
//! and reorders them by time; the walk here slices the mapped file in place and needs no
//! reordering (samples are sorted per thread at freeze, mappings are looked up by time). It also
//! bounds every length field itself (see `records.rs`). The crate stays a dev-dependency, as
//! the bench's reference.

pub(crate) mod header;
mod maps;
pub(crate) mod records;
pub mod synth;

use self::header::*;
use self::maps::{AddressSpace, Mapping};
use self::records::{Decompressor, Record};
use super::bytes::{c_str, hex, i32_at, u32_at, u64_at};
use crate::model::{ModuleId, ModuleKind, ProfileBuilder, StackId, ThreadId, Unit};
use crate::{Error, Progress, Result};
use rustc_hash::FxHashMap;

pub use self::header::MAGIC;

/// Callchain context markers (`PERF_CONTEXT_*`): values at the top of the u64 range that switch
/// the address space of the entries that follow.
const CONTEXT_HV: u64 = (-32i64) as u64;
const CONTEXT_KERNEL: u64 = (-128i64) as u64;
const CONTEXT_USER: u64 = (-512i64) as u64;
const CONTEXT_GUEST: u64 = (-2048i64) as u64;
const CONTEXT_GUEST_KERNEL: u64 = (-2176i64) as u64;
const CONTEXT_GUEST_USER: u64 = (-2560i64) as u64;
const CONTEXT_MAX: u64 = (-4095i64) as u64;

// misc bits
const MISC_CPUMODE_MASK: u16 = 7;
const MISC_KERNEL: u16 = 1;
const MISC_GUEST_KERNEL: u16 = 4;
const MISC_GUEST_USER: u16 = 5;
const MISC_MMAP_DATA: u16 = 1 << 13;
const MISC_COMM_EXEC: u16 = 1 << 13;
const MISC_MMAP_BUILD_ID: u16 = 1 << 14;

const PROT_EXEC: u32 = 4;

/// Start of the kernel half of the address space on 64-bit Linux (x86-64 and arm64), used when
/// a sample has no callchain markers to say which side an address is on.
const KERNEL_SPACE_START: u64 = 0xffff_8000_0000_0000;

/// Most events (attributes) read from one file. `perf record -e 'syscalls:*'` makes about 700;
/// beyond this a file is hostile, not big.
const MAX_EVENTS: usize = 16_384;

/// Largest mapping length taken as real: the x86-64 and arm64 user address spaces are 2^47 or
/// 2^48 bytes. A longer MMAP record is damaged (and would make every lookup scan it).
const MAX_MAPPING_LEN: u64 = 1 << 48;

/// Largest period taken as is (2^48 ≈ 2.8e14 events or ns in one sample: 78 hours of CPU);
/// damaged values are clamped to it so that sums cannot overflow.
const MAX_PERIOD: u64 = 1 << 48;

/// Default cap on the bytes compressed records may expand to: `max(256 MiB, 64 × file size)`.
pub fn default_decompression_limit(file_len: usize) -> u64 {
    (256u64 << 20).max((file_len as u64).saturating_mul(64))
}

/// True if `data` starts like a perf.data file (either endianness).
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC) || data.starts_with(MAGIC_BIG_ENDIAN)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Space {
    User,
    Kernel,
    Guest,
}

#[derive(Debug)]
struct RawMmap {
    pid: i32,
    start: u64,
    len: u64,
    pgoff: u64,
    path: String,
    build_id: Option<String>,
    time: u64,
    /// perf's cpumode of the record: 1 kernel, 2 user, 4 guest kernel, 5 guest user.
    cpumode: u16,
}

#[derive(Default, Debug)]
struct Counts {
    samples: u64,
    lost: u64,
    lost_samples: u64,
    throttles: u64,
    unknown_records: FxHashMap<u32, u64>,
    unknown_event_ids: u64,
    malformed_samples: u64,
    first_malformed: Option<(u64, String)>,
    stack_user_samples: u64,
    skipped_events: u64,
    implausible_mmaps: u64,
    clamped_periods: u64,
}

/// The parser's state across both passes.
struct PerfData<'a> {
    data: &'a [u8],
    header: FileHeader,
    attrs: Vec<Attr>,
    id_to_attr: FxHashMap<u64, usize>,
    /// True while every attr has the same sample_type (then non-sample records need no id).
    uniform_sample_type: bool,
    /// Sample ids read so far, over all attrs: bounded by the file size.
    ids_read: usize,
    /// Sample type index per attr (`None` for dummy events).
    attr_type: Vec<Option<usize>>,
    features: Features,
    pipe_build_ids: Vec<(String, String)>,
    mmaps: Vec<RawMmap>,
    comms: FxHashMap<i32, Vec<(u64, String)>>,
    /// tid -> the thread that created it (FORK records), for threads that never set a name.
    thread_parent: FxHashMap<i32, i32>,
    space: AddressSpace,
    kernel_module: ModuleId,
    unknown_module: ModuleId,
    guest_module: ModuleId,
    counts: Counts,
    decompression_limit: u64,
    // pass 2 scratch
    frames: Vec<crate::model::FrameId>,
    last_thread: Option<((i32, i32), ThreadId)>,
}

/// Parses perf.data bytes into `b`. Loads what it can: a file cut short yields the samples
/// before the cut and a warning.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    parse_with_limit(data, b, progress, default_decompression_limit(data.len()))
}

/// [`parse`] with an explicit cap on decompressed bytes.
pub fn parse_with_limit(
    data: &[u8],
    b: &mut ProfileBuilder,
    progress: &Progress,
    decompression_limit: u64,
) -> Result<()> {
    let mut p = PerfData::new(data, FileHeader::parse(data)?, decompression_limit);
    b.meta.source_format = "perf.data".into();
    let range = if p.header.pipe {
        PIPE_HEADER_SIZE as usize..data.len()
    } else {
        p.read_file_attrs()?;
        p.read_features(b);
        p.data_range(b)?
    };
    progress.start_phase(crate::progress::Phase::Reading, data.len() as u64);

    // Pass 1: sideband.
    let truncation = p.walk(range.clone(), progress, b, true)?;
    if p.attrs.is_empty() {
        return Err(Error::at(
            FORMAT,
            0,
            "expected at least one event attribute, found none",
        ));
    }
    p.setup_events(b);
    p.setup_address_space(b);

    // Pass 2: samples.
    p.walk(range, progress, b, false)?;
    p.name_threads(b);
    p.finish_meta(b, truncation);
    Ok(())
}

impl<'a> PerfData<'a> {
    fn new(data: &'a [u8], header: FileHeader, decompression_limit: u64) -> Self {
        PerfData {
            data,
            header,
            attrs: Vec::new(),
            id_to_attr: FxHashMap::default(),
            uniform_sample_type: true,
            ids_read: 0,
            attr_type: Vec::new(),
            features: Features::default(),
            pipe_build_ids: Vec::new(),
            mmaps: Vec::new(),
            comms: FxHashMap::default(),
            thread_parent: FxHashMap::default(),
            space: AddressSpace::default(),
            kernel_module: ModuleId::NONE,
            unknown_module: ModuleId::NONE,
            guest_module: ModuleId::NONE,
            counts: Counts::default(),
            decompression_limit,
            frames: Vec::with_capacity(128),
            last_thread: None,
        }
    }

    fn read_file_attrs(&mut self) -> Result<()> {
        let h = self.header.clone();
        let entry = h.attr_size as usize;
        if entry < 16 + 64 {
            return Err(Error::at(
                FORMAT,
                16,
                format!(
                    "expected attr_size of at least 80 bytes, found {}",
                    h.attr_size
                ),
            ));
        }
        let sec = slice(self.data, h.attrs).ok_or_else(|| {
            Error::at(
                FORMAT,
                24,
                format!(
                    "attrs section {}+{} lies outside the {}-byte file",
                    h.attrs.offset,
                    h.attrs.size,
                    self.data.len()
                ),
            )
        })?;
        for (i, chunk) in sec.chunks_exact(entry).enumerate() {
            let offset = h.attrs.offset + (i * entry) as u64;
            let mut attr = Attr::parse(&chunk[..entry - 16], offset)?;
            let ids = Section {
                offset: u64_at(chunk, entry - 16).unwrap_or(0),
                size: u64_at(chunk, entry - 8).unwrap_or(0),
            };
            if let Some(ids) = slice(self.data, ids) {
                attr.ids = self.read_ids(ids);
            }
            self.add_attr(attr);
        }
        Ok(())
    }

    /// The u64 ids in `bytes`, within the budget of one id per 8 bytes of the file (several
    /// attrs pointing at the same huge section must not multiply memory).
    fn read_ids(&mut self, bytes: &[u8]) -> Vec<u64> {
        let budget = (self.data.len() / 8).saturating_sub(self.ids_read);
        let ids: Vec<u64> = bytes
            .chunks_exact(8)
            .take(budget)
            .filter_map(|w| u64_at(w, 0))
            .collect();
        self.ids_read += ids.len();
        ids
    }

    fn add_attr(&mut self, attr: Attr) {
        if self.attrs.len() >= MAX_EVENTS {
            self.counts.skipped_events += 1;
            return;
        }
        let idx = self.attrs.len();
        for &id in &attr.ids {
            self.id_to_attr.entry(id).or_insert(idx);
        }
        if let Some(first) = self.attrs.first() {
            self.uniform_sample_type &= first.sample_type == attr.sample_type;
        }
        self.attrs.push(attr);
    }

    /// Feature sections sit right after the data section, one {offset, size} per set bit.
    fn read_features(&mut self, b: &mut ProfileBuilder) {
        let h = &self.header;
        if h.data.size == 0 {
            return; // perf record did not finish: no features were written
        }
        let table = h.data.offset.saturating_add(h.data.size);
        for (i, id) in h.feature_ids().enumerate() {
            let at = table.saturating_add(16 * i as u64);
            let sec = usize::try_from(at).ok().and_then(|at| {
                Some(Section {
                    offset: u64_at(self.data, at)?,
                    size: u64_at(self.data, at.checked_add(8)?)?,
                })
            });
            let Some(sec) = sec else {
                b.warn(format!("feature section table at byte offset {at} is cut short: header information after it is missing"));
                return;
            };
            let Some(bytes) = slice(self.data, sec) else {
                b.warn(format!(
                    "feature {id} points outside the file ({}+{}); skipped",
                    sec.offset, sec.size
                ));
                continue;
            };
            if let Err(e) = self.features.parse_one(id, bytes, sec.offset) {
                b.warn(format!("feature {id} could not be read ({e}); skipped"));
            }
        }
    }

    /// The byte range of the data section, clamped to the file, with a warning when perf did
    /// not finish writing it.
    fn data_range(&self, b: &mut ProfileBuilder) -> Result<std::ops::Range<usize>> {
        let h = &self.header;
        let len = self.data.len() as u64;
        if h.data.offset < FILE_HEADER_SIZE || h.data.offset > len {
            return Err(Error::at(
                FORMAT,
                40,
                format!(
                    "data section offset {} lies outside the {len}-byte file",
                    h.data.offset
                ),
            ));
        }
        let end = if h.data.size == 0 {
            if len > h.data.offset {
                b.warn(format!(
                    "the header's data size is 0: perf record did not finish writing this file (killed?); read the records up to the end of the file ({} bytes)",
                    len - h.data.offset
                ));
            }
            len
        } else {
            let end = h.data.offset.saturating_add(h.data.size);
            if end > len {
                b.warn(format!(
                    "the file is cut short: the data section should end at byte {end} but the file has {len} bytes; loaded the records before the cut"
                ));
                len
            } else {
                end
            }
        };
        Ok(h.data.offset as usize..end as usize)
    }

    /// Walks `range`, decompressing compressed records, calling the pass's handler.
    fn walk(
        &mut self,
        range: std::ops::Range<usize>,
        progress: &Progress,
        b: &mut ProfileBuilder,
        sideband: bool,
    ) -> Result<Option<records::Truncation>> {
        let data = self.data;
        let mut decomp: Option<Decompressor> = None;
        let limit = self.decompression_limit;
        let trunc = records::walk(
            &data[range.clone()],
            range.start as u64,
            self.header.pipe,
            progress,
            |rec| {
                if rec.kind == records::COMPRESSED || rec.kind == records::COMPRESSED2 {
                    if decomp.is_none() {
                        decomp = Some(Decompressor::new(limit)?);
                    }
                    let d = decomp.as_mut().expect("set above");
                    return d.feed(&rec, |inner| {
                        if inner.kind == records::COMPRESSED || inner.kind == records::COMPRESSED2 {
                            return Ok(()); // nested compression is not something perf writes
                        }
                        if sideband {
                            self.sideband(&inner, b)
                        } else {
                            self.sample(&inner, b)
                        }
                    });
                }
                if sideband {
                    self.sideband(&rec, b)
                } else {
                    self.sample(&rec, b)
                }
            },
        )?;
        if sideband
            && let Some(d) = &decomp
            && d.leftover() > 0
        {
            b.warn(format!(
                "the compressed records end inside a record ({} bytes left over)",
                d.leftover()
            ));
        }
        Ok(trunc)
    }

    /// Which attr a non-sample record belongs to (for its sample_id trailer).
    fn attr_of_non_sample(&self, rec: &[u8]) -> Option<&Attr> {
        let first = self.attrs.first()?;
        if self.uniform_sample_type {
            return Some(first);
        }
        if first.sample_type & SAMPLE_IDENTIFIER != 0 {
            let id = u64_at(rec, rec.len().checked_sub(8)?)?;
            return self.id_to_attr.get(&id).map(|&i| &self.attrs[i]);
        }
        Some(first)
    }

    /// Time from the sample_id trailer of a non-sample record, 0 if it has none.
    fn record_time(&self, rec: &[u8]) -> u64 {
        let Some(attr) = self.attr_of_non_sample(rec) else {
            return 0;
        };
        let (Some(off), size) = (attr.sample_id_time_offset(), attr.sample_id_size()) else {
            return 0;
        };
        rec.len()
            .checked_sub(size)
            .and_then(|start| u64_at(rec, start + off))
            .unwrap_or(0)
    }

    fn trailer_size(&self, rec: &[u8]) -> usize {
        self.attr_of_non_sample(rec)
            .map_or(0, |a| a.sample_id_size())
    }

    fn sideband(&mut self, rec: &Record<'_>, b: &mut ProfileBuilder) -> Result<()> {
        let r = rec.bytes;
        match rec.kind {
            records::SAMPLE => self.counts.samples += 1,
            records::MMAP | records::MMAP2 => self.read_mmap(rec),
            records::COMM => {
                let pid = i32_at(r, 8).unwrap_or(-1);
                let tid = i32_at(r, 12).unwrap_or(-1);
                let end = r.len().saturating_sub(self.trailer_size(r)).max(16);
                let name = c_str(r.get(16..end).unwrap_or(&[])).into_owned();
                let time = self.record_time(r);
                if rec.misc & MISC_COMM_EXEC != 0 {
                    self.space.add_exec(pid, time);
                }
                self.comms.entry(tid).or_default().push((time, name));
            }
            records::FORK => {
                let (pid, ppid) = (i32_at(r, 8).unwrap_or(-1), i32_at(r, 12).unwrap_or(-1));
                let (tid, ptid) = (i32_at(r, 16).unwrap_or(-1), i32_at(r, 20).unwrap_or(-1));
                let time = u64_at(r, 24).unwrap_or(0);
                self.space.add_fork(pid, ppid, time);
                if tid != ptid {
                    self.thread_parent.entry(tid).or_insert(ptid);
                }
            }
            records::LOST | records::LOST_SAMPLES => {
                let (n, counter) = if rec.kind == records::LOST {
                    (u64_at(r, 16).unwrap_or(0), &mut self.counts.lost)
                } else {
                    (u64_at(r, 8).unwrap_or(0), &mut self.counts.lost_samples)
                };
                *counter = counter.saturating_add(n);
                // Marked on the timeline when the record says when (the end-of-record
                // summaries have no time).
                let time = self.record_time(r);
                if time > 0 {
                    b.meta.add_lost(time, n);
                }
            }
            records::THROTTLE => self.counts.throttles += 1,
            records::HEADER_ATTR => {
                let size = u32_at(r, 12).unwrap_or(0) as usize;
                if size < 64 || 8 + size > r.len() {
                    return Err(Error::at(
                        FORMAT,
                        rec.offset,
                        format!(
                            "expected a perf_event_attr in the attribute record, found {} bytes",
                            r.len().saturating_sub(8)
                        ),
                    ));
                }
                let mut attr = Attr::parse(&r[8..8 + size], rec.offset + 8)?;
                attr.ids = self.read_ids(&r[8 + size..]);
                self.add_attr(attr);
            }
            records::HEADER_FEATURE => {
                let id = u64_at(r, 8).unwrap_or(0);
                let id = u32::try_from(id).unwrap_or(u32::MAX);
                if let Err(e) =
                    self.features
                        .parse_one(id, r.get(16..).unwrap_or(&[]), rec.offset + 16)
                {
                    b.warn(format!(
                        "feature record {id} could not be read ({e}); skipped"
                    ));
                }
            }
            records::HEADER_BUILD_ID => {
                if let Some(e) = parse_build_id_event(r) {
                    self.pipe_build_ids.push(e);
                }
            }
            records::EXIT | records::UNTHROTTLE => {}
            k if k <= records::LAST_KERNEL_TYPE && k != 0 => {}
            k if (records::HEADER_ATTR..=records::COMPRESSED2).contains(&k) => {}
            k => *self.counts.unknown_records.entry(k).or_default() += 1,
        }
        Ok(())
    }

    fn read_mmap(&mut self, rec: &Record<'_>) {
        let r = rec.bytes;
        if rec.misc & MISC_MMAP_DATA != 0 {
            return; // a data mapping (perf record --data): no code in it
        }
        let (name_at, build_id) = if rec.kind == records::MMAP2 {
            let prot = u32_at(r, 64).unwrap_or(PROT_EXEC);
            if prot & PROT_EXEC == 0 {
                return;
            }
            let bid = if rec.misc & MISC_MMAP_BUILD_ID != 0 {
                let n = (r.get(40).copied().unwrap_or(0) as usize).min(20);
                r.get(44..44 + n).map(hex)
            } else {
                None
            };
            (72, bid)
        } else {
            (40, None)
        };
        let end = r.len().saturating_sub(self.trailer_size(r)).max(name_at);
        let path = c_str(r.get(name_at..end).unwrap_or(&[])).into_owned();
        let cpumode = rec.misc & MISC_CPUMODE_MASK;
        self.mmaps.push(RawMmap {
            pid: i32_at(r, 8).unwrap_or(-1),
            start: u64_at(r, 16).unwrap_or(0),
            len: u64_at(r, 24).unwrap_or(0),
            pgoff: u64_at(r, 32).unwrap_or(0),
            path,
            build_id,
            time: self.record_time(r),
            cpumode,
        });
    }

    /// Creates one sample type per (non-dummy) event, named from EVENT_DESC when present.
    fn setup_events(&mut self, b: &mut ProfileBuilder) {
        let desc = std::mem::take(&mut self.features.event_desc);
        if desc.len() == self.attrs.len() {
            for (a, (name, _)) in self.attrs.iter_mut().zip(&desc) {
                a.name = Some(name.clone());
            }
        } else {
            for (name, ids) in &desc {
                if let Some(&i) = ids.iter().find_map(|id| self.id_to_attr.get(id)) {
                    self.attrs[i].name = Some(name.clone());
                }
            }
        }
        let mut names: rustc_hash::FxHashSet<String> = Default::default();
        let all_dummy = self.attrs.iter().all(Attr::is_dummy);
        for a in &self.attrs {
            if a.is_dummy() && !all_dummy {
                self.attr_type.push(None);
                continue;
            }
            let base = a.display_name();
            let mut name = base.clone();
            let mut n = 1;
            while names.contains(&name) {
                n += 1;
                name = format!("{base}#{n}");
            }
            names.insert(name.clone());
            let unit = if a.is_clock() {
                Unit::Nanoseconds
            } else {
                Unit::Events
            };
            self.attr_type.push(Some(b.add_sample_type(&name, unit)));
        }
    }

    /// Turns the collected mmaps into modules and the address space index.
    fn setup_address_space(&mut self, b: &mut ProfileBuilder) {
        let mut build_ids: FxHashMap<&str, &str> = FxHashMap::default();
        for (path, id) in self.features.build_ids.iter().chain(&self.pipe_build_ids) {
            build_ids.insert(path.as_str(), id.as_str());
        }
        let kernel_bid = build_ids.get("[kernel.kallsyms]").copied().unwrap_or("");
        self.kernel_module = b.add_module("[kernel.kallsyms]", kernel_bid, ModuleKind::Kernel);
        for m in &self.mmaps {
            // Kernel and guest maps are not user mappings of a host process.
            if matches!(m.cpumode, MISC_KERNEL | MISC_GUEST_KERNEL | MISC_GUEST_USER) || m.pid == -1
            {
                if m.cpumode == MISC_KERNEL && m.path.starts_with("[kernel.kallsyms]") {
                    // pgoff of the kernel map is the address of `_text` at record time:
                    // the reference for relocating /proc/kallsyms (KASLR).
                    b.set_module_range(
                        self.kernel_module,
                        m.start,
                        m.start.saturating_add(m.len),
                        m.pgoff,
                    );
                }
                continue;
            }
            if m.len > MAX_MAPPING_LEN || m.start.checked_add(m.len).is_none() {
                self.counts.implausible_mmaps += 1;
                continue;
            }
            let kind = if m.path == "[vdso]" || m.path == "[vsyscall]" {
                ModuleKind::Vdso
            } else if m.path.starts_with("//anon")
                || m.path.starts_with("[anon")
                || m.path.starts_with("/memfd:")
                || m.path == "[heap]"
                || m.path == "[stack]"
                || m.path.is_empty()
            {
                ModuleKind::Jit
            } else {
                ModuleKind::Native
            };
            let bid = m
                .build_id
                .as_deref()
                .or_else(|| build_ids.get(m.path.as_str()).copied())
                .unwrap_or("");
            let module = b.add_module(&m.path, bid, kind);
            b.set_module_range(module, m.start, m.start.saturating_add(m.len), m.pgoff);
            self.space.add_mapping(
                m.pid,
                Mapping {
                    start: m.start,
                    end: m.start.saturating_add(m.len),
                    pgoff: m.pgoff,
                    module,
                    file_backed: kind != ModuleKind::Jit,
                    time_start: m.time,
                    time_end: u64::MAX,
                },
            );
        }
        self.mmaps = Vec::new();
        self.space.finish();
        self.unknown_module = b.add_module("[unknown]", "", ModuleKind::Unknown);
        self.guest_module = b.add_module("[guest]", "", ModuleKind::Unknown);
    }

    /// The attr of a sample record.
    fn attr_of_sample(&self, r: &[u8]) -> Option<usize> {
        if self.attrs.len() == 1 {
            return Some(0);
        }
        let st = self.attrs[0].sample_type;
        let id = if st & SAMPLE_IDENTIFIER != 0 {
            u64_at(r, 8)?
        } else if st & SAMPLE_ID != 0 {
            let before = [SAMPLE_IP, SAMPLE_TID, SAMPLE_TIME, SAMPLE_ADDR]
                .iter()
                .filter(|&&b| st & b != 0)
                .count();
            u64_at(r, 8 + 8 * before)?
        } else {
            return Some(0);
        };
        self.id_to_attr.get(&id).copied()
    }

    fn sample(&mut self, rec: &Record<'_>, b: &mut ProfileBuilder) -> Result<()> {
        if rec.kind != records::SAMPLE {
            return Ok(());
        }
        let Some(ai) = self.attr_of_sample(rec.bytes) else {
            self.counts.unknown_event_ids += 1;
            return Ok(());
        };
        let attr = &self.attrs[ai];
        let s = match decode_sample(attr, rec.bytes) {
            Ok(s) => s,
            Err(what) => {
                self.counts.malformed_samples += 1;
                if self.counts.first_malformed.is_none() {
                    self.counts.first_malformed = Some((rec.offset, what));
                }
                return Ok(());
            }
        };
        if attr.sample_type & SAMPLE_STACK_USER != 0 {
            self.counts.stack_user_samples += 1;
        }
        let Some(Some(sample_type)) = self.attr_type.get(ai).copied() else {
            return Ok(());
        };
        let mut period = s.period.unwrap_or(attr.sample_period);
        if period > MAX_PERIOD {
            self.counts.clamped_periods += 1;
            period = MAX_PERIOD;
        }
        let weight = period as i64;

        // Frames, leaf first.
        let cpumode = rec.misc & MISC_CPUMODE_MASK;
        let leaf_space = match cpumode {
            MISC_KERNEL => Space::Kernel,
            MISC_GUEST_KERNEL | MISC_GUEST_USER => Space::Guest,
            _ => Space::User,
        };
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        let mut have_leaf = false;
        if let Some(ip) = s.ip {
            let space = if s.callchain.is_empty()
                && leaf_space == Space::User
                && ip >= KERNEL_SPACE_START
            {
                Space::Kernel
            } else {
                leaf_space
            };
            frames.push(self.frame_for(b, s.pid, ip, s.time, space, false));
            have_leaf = true;
        }
        let mut space = leaf_space;
        let mut first_real = true;
        // The first entry after a context marker is an instruction pointer (the sampled ip, or
        // the user pc where the thread entered the kernel); every later one is a return
        // address, looked up one byte earlier so that it lands in the call instruction.
        let mut exact = true;
        for w in s.callchain.chunks_exact(8) {
            let ip = u64::from_le_bytes(w.try_into().expect("8-byte chunk"));
            if ip >= CONTEXT_MAX {
                space = match ip {
                    CONTEXT_KERNEL => Space::Kernel,
                    CONTEXT_USER => Space::User,
                    CONTEXT_GUEST | CONTEXT_GUEST_KERNEL | CONTEXT_GUEST_USER | CONTEXT_HV => {
                        Space::Guest
                    }
                    _ => space,
                };
                exact = true;
                continue;
            }
            if first_real {
                first_real = false;
                if have_leaf && Some(ip) == s.ip {
                    exact = false;
                    continue; // the callchain repeats the sampled ip
                }
            }
            frames.push(self.frame_for(b, s.pid, ip, s.time, space, !exact));
            exact = false;
        }
        let mut stack = StackId::NONE;
        for &f in frames.iter().rev() {
            stack = b.add_stack(stack, f);
        }
        self.frames = frames;
        if !stack.is_some() {
            // No ip and no callchain: keep the sample's weight on an unknown frame.
            let f = b.add_address_frame(self.unknown_module, 0);
            stack = b.add_stack(StackId::NONE, f);
        }
        let thread = match self.last_thread {
            Some((key, t)) if key == (s.pid, s.tid) => t,
            _ => {
                let t = b.add_thread(s.pid, s.tid);
                self.last_thread = Some(((s.pid, s.tid), t));
                t
            }
        };
        b.add_sample_one(thread, stack, s.time, sample_type, weight);
        Ok(())
    }

    fn frame_for(
        &self,
        b: &mut ProfileBuilder,
        pid: i32,
        ip: u64,
        time: u64,
        space: Space,
        ret: bool,
    ) -> crate::model::FrameId {
        let addr = if ret { ip.saturating_sub(1) } else { ip };
        match space {
            Space::Kernel => b.add_address_frame(self.kernel_module, addr),
            Space::Guest => b.add_address_frame(self.guest_module, addr),
            Space::User => match self.space.find(pid, addr, time) {
                // `addr` lies in the mapping; pgoff is from the file and may be anything.
                Some(m) if m.file_backed => {
                    b.add_address_frame(m.module, (addr - m.start).wrapping_add(m.pgoff))
                }
                Some(m) => b.add_address_frame(m.module, addr),
                None if addr >= KERNEL_SPACE_START => b.add_address_frame(self.kernel_module, addr),
                None => b.add_address_frame(self.unknown_module, addr),
            },
        }
    }

    /// Thread name: the thread's last COMM, else (a thread that never named itself) the name
    /// of the thread that created it, as the kernel copies it at clone. Process name: the main
    /// thread's.
    fn name_threads(&self, b: &mut ProfileBuilder) {
        let latest: FxHashMap<i32, &str> = self
            .comms
            .iter()
            .filter_map(|(&tid, v)| Some((tid, v.iter().max_by_key(|(time, _)| *time)?.1.as_str())))
            .collect();
        let last = |tid: i32| {
            let mut t = tid;
            // Bounded: a fork cycle in hostile data must not loop.
            for _ in 0..64 {
                if let Some(n) = latest.get(&t) {
                    return Some(*n);
                }
                t = *self.thread_parent.get(&t)?;
            }
            None
        };
        let threads: Vec<_> = b.thread_ids().collect();
        for (t, pid, tid) in threads {
            if let Some(n) = last(tid) {
                b.set_thread_name(t, n);
            }
            if let Some(n) = last(pid) {
                b.set_process_name(t, n);
            }
        }
    }

    fn finish_meta(&mut self, b: &mut ProfileBuilder, truncation: Option<records::Truncation>) {
        let f = &self.features;
        let m = &mut b.meta;
        m.hostname = f.hostname.clone();
        m.os_release = f.os_release.clone();
        m.arch = f.arch.clone();
        m.recorder_version = f.version.clone().map(|v| format!("perf {v}"));
        m.cpu_desc = f.cpu_desc.clone();
        m.nr_cpus = f.nr_cpus;
        m.command_line = f.cmdline.clone();
        // LOST records (ring buffer overflows, as they happen) and the LOST_SAMPLES records
        // perf record writes at the end (the kernel's per-event lost count) report the same
        // losses twice: take the larger.
        let lost = self.counts.lost.max(self.counts.lost_samples);
        m.lost_samples = lost;
        let c = &self.counts;
        if let Some(t) = truncation {
            b.warn(format!(
                "the data ends early at byte offset {}: {}; loaded the {} samples before it",
                t.offset,
                t.reason,
                b.sample_count()
            ));
        }
        if lost > 0 {
            b.warn(format!(
                "perf lost {lost} samples: the ring buffer overflowed (try a lower frequency with -F, or a bigger buffer with -m)"
            ));
        }
        if c.throttles > 0 {
            b.warn(format!(
                "the kernel throttled sampling {} times: the sample rate was too high for it",
                c.throttles
            ));
        }
        if !c.unknown_records.is_empty() {
            let mut kinds: Vec<_> = c.unknown_records.iter().collect();
            kinds.sort();
            let total: u64 = kinds.iter().map(|(_, n)| **n).sum();
            let list: Vec<String> = kinds
                .iter()
                .map(|(k, n)| format!("type {k} ×{n}"))
                .collect();
            b.warn(format!(
                "skipped {total} records of types stacklens does not know ({})",
                list.join(", ")
            ));
        }
        if self.features.unknown > 0 {
            b.warn(format!(
                "skipped {} feature sections stacklens does not know",
                self.features.unknown
            ));
        }
        if c.unknown_event_ids > 0 {
            b.warn(format!(
                "skipped {} samples whose event id matches no event of the file",
                c.unknown_event_ids
            ));
        }
        if let Some((offset, what)) = &c.first_malformed {
            b.warn(format!(
                "skipped {} malformed sample records (first at byte offset {offset}: {what})",
                c.malformed_samples
            ));
        }
        if c.skipped_events > 0 {
            b.warn(format!(
                "the file describes {} more events than the {MAX_EVENTS} stacklens reads; their samples are skipped",
                c.skipped_events
            ));
        }
        if c.implausible_mmaps > 0 {
            b.warn(format!(
                "skipped {} memory-map records with impossible lengths (damaged file?)",
                c.implausible_mmaps
            ));
        }
        if c.clamped_periods > 0 {
            b.warn(format!(
                "{} samples had periods above 2^48 (damaged file?); they count as 2^48",
                c.clamped_periods
            ));
        }
        if c.stack_user_samples > 0 {
            b.warn(format!(
                "{} samples carry user stack copies for DWARF unwinding (perf record --call-graph dwarf); stacklens does not unwind them yet, so their user-space stacks show only the sampled function",
                c.stack_user_samples
            ));
        }
        if let Some((first, last)) = self.features.sample_time
            && first > 0
            && last >= first
        {
            b.meta.start_ns = Some(first);
            b.meta.end_ns = Some(last);
        }
    }
}

/// What a bare decode pass saw: see [`decode_samples`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub records: u64,
    pub samples: u64,
    /// Callchain entries over all samples.
    pub frames: u64,
    /// Sum of ips and times, so the work cannot be optimized away.
    pub checksum: u64,
}

/// Walks a file-mode perf.data and decodes every (uncompressed) SAMPLE record's fields without
/// building a profile: the record-walk half of the parser, for benchmarks against other
/// readers of the format.
pub fn decode_samples(data: &[u8]) -> Result<DecodeStats> {
    let mut p = PerfData::new(data, FileHeader::parse(data)?, 0);
    if p.header.pipe {
        return Err(Error::Unsupported(
            "decode_samples reads file-mode perf.data".into(),
        ));
    }
    p.read_file_attrs()?;
    let range = p.data_range(&mut ProfileBuilder::new("perf.data"))?;
    let mut st = DecodeStats::default();
    records::walk(
        &data[range.clone()],
        range.start as u64,
        false,
        &Progress::new(),
        |rec| {
            st.records += 1;
            if rec.kind == records::SAMPLE
                && let Some(ai) = p.attr_of_sample(rec.bytes)
                && let Ok(s) = decode_sample(&p.attrs[ai], rec.bytes)
            {
                st.samples += 1;
                st.frames += (s.callchain.len() / 8) as u64;
                st.checksum = st
                    .checksum
                    .wrapping_add(s.ip.unwrap_or(0))
                    .wrapping_add(s.time);
            }
            Ok(())
        },
    )?;
    Ok(st)
}

/// The bytes of a section, if it lies inside `data`.
fn slice(data: &[u8], s: Section) -> Option<&[u8]> {
    let start = usize::try_from(s.offset).ok()?;
    let end = start.checked_add(usize::try_from(s.size).ok()?)?;
    data.get(start..end)
}

/// The fields of a SAMPLE record that stacklens uses.
struct Sample<'r> {
    ip: Option<u64>,
    pid: i32,
    tid: i32,
    time: u64,
    period: Option<u64>,
    /// The callchain's u64 entries, little-endian, leaf first.
    callchain: &'r [u8],
}

/// Decodes the fields of a SAMPLE record in the kernel's fixed order, up to the callchain.
fn decode_sample<'r>(attr: &Attr, r: &'r [u8]) -> std::result::Result<Sample<'r>, String> {
    let st = attr.sample_type;
    let mut pos = 8usize;
    let mut next = |what: &str| -> std::result::Result<u64, String> {
        let v = u64_at(r, pos)
            .ok_or_else(|| format!("expected {what} at byte {pos} of a {}-byte sample", r.len()))?;
        pos += 8;
        Ok(v)
    };
    let mut s = Sample {
        ip: None,
        pid: -1,
        tid: -1,
        time: 0,
        period: None,
        callchain: &[],
    };
    if st & SAMPLE_IDENTIFIER != 0 {
        next("identifier")?;
    }
    if st & SAMPLE_IP != 0 {
        s.ip = Some(next("ip")?);
    }
    if st & SAMPLE_TID != 0 {
        let v = next("pid/tid")?;
        s.pid = v as u32 as i32;
        s.tid = (v >> 32) as u32 as i32;
    }
    if st & SAMPLE_TIME != 0 {
        s.time = next("time")?;
    }
    if st & SAMPLE_ADDR != 0 {
        next("addr")?;
    }
    if st & SAMPLE_ID != 0 {
        next("id")?;
    }
    if st & SAMPLE_STREAM_ID != 0 {
        next("stream id")?;
    }
    if st & SAMPLE_CPU != 0 {
        next("cpu")?;
    }
    if st & SAMPLE_PERIOD != 0 {
        s.period = Some(next("period")?);
    }
    if st & SAMPLE_READ != 0 {
        let words = attr
            .read_words(r, pos)
            .ok_or_else(|| format!("expected read values at byte {pos}"))?;
        pos = words
            .checked_mul(8)
            .and_then(|n| pos.checked_add(n))
            .filter(|&p| p <= r.len())
            .ok_or_else(|| {
                format!(
                    "read values of {words} words overrun the {}-byte sample",
                    r.len()
                )
            })?;
    }
    if st & SAMPLE_CALLCHAIN != 0 {
        let nr =
            u64_at(r, pos).ok_or_else(|| format!("expected the callchain length at byte {pos}"))?;
        pos += 8;
        let bytes = usize::try_from(nr)
            .ok()
            .and_then(|n| n.checked_mul(8))
            .filter(|&n| n <= r.len() - pos);
        let Some(n) = bytes else {
            return Err(format!(
                "callchain of {nr} entries overruns the {}-byte sample",
                r.len()
            ));
        };
        s.callchain = &r[pos..pos + n];
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
