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

mod chains;
pub(crate) mod header;
mod maps;
mod parallel;
pub(crate) mod records;
pub mod synth;
mod unwind;

use self::header::*;
use self::maps::{AddressSpace, Mapping};
use self::records::{Decompressor, Record};
use self::unwind::{Arch, DwarfSample, DwarfUnwinder, MappingInfo, UserRegs};
use super::bytes::{c_str, hex, i32_at, u32_at, u64_at};
use crate::model::{
    FrameId, FuncKind, ModuleId, ModuleKind, ProfileBuilder, SampleRoom, StackId, ThreadId, Unit,
};
use crate::symbols::{ModuleFinder, SymbolOptions};
use crate::{Error, Progress, Result};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
const MISC_SWITCH_OUT: u16 = 1 << 13;
const MISC_SWITCH_OUT_PREEMPT: u16 = 1 << 14;
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

/// A context switch of a thread (PERF_RECORD_SWITCH, `perf record --switch-events`).
#[derive(Clone, Copy, Debug)]
struct Switch {
    pid: i32,
    tid: i32,
    time: u64,
    out: bool,
    /// Switched out while still runnable (preempted), not blocked.
    preempt: bool,
}

/// The sample types of off-CPU analysis, present when the file has `sched:sched_switch`
/// samples (the stack at each switch-out) or switch records.
#[derive(Clone, Copy, Debug)]
struct OffCpu {
    /// "off-cpu": ns from a switch-out to the thread's next switch-in, on the switch-out stack.
    off: usize,
    /// "wall": on-CPU clock samples plus off-CPU time.
    wall: usize,
    /// The on-CPU clock event's sample type (cpu-clock or task-clock), if any.
    clock: Option<usize>,
    /// The attr of `sched:sched_switch`.
    switch_attr: Option<usize>,
}

/// How long before a switch record the thread's `sched:sched_switch` sample may be taken and
/// still count as the stack of that switch (the two are microseconds apart).
const MAX_SWITCH_SAMPLE_LEAD_NS: u64 = 1_000_000;

/// An interval a thread spent off CPU.
#[derive(Clone, Copy, Debug)]
struct OffInterval {
    thread: ThreadId,
    tid: i32,
    start: u64,
    end: u64,
    /// Switched out while runnable; `None` when no switch records say.
    preempted: Option<bool>,
}

/// A switch-out sample: its thread and stack, waiting for the time of the next switch-in.
#[derive(Clone, Copy, Debug)]
struct SwitchOut {
    thread: ThreadId,
    tid: i32,
    time: u64,
    stack: StackId,
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
    /// DWARF samples whose user stack could not be unwound at all (no registers or no stack).
    dwarf_without_stack: u64,
    skipped_events: u64,
    implausible_mmaps: u64,
    clamped_periods: u64,
}

/// Most threads decoding samples at once.
const MAX_WORKERS: usize = 8;

/// Bytes of the data section mapped ahead of the reader at a time.
const WINDOW: usize = 32 << 20;

/// Maps the windows of a walk ahead of it and drops them behind it, on a thread of its own:
/// at most two windows ahead of where the walk last said it was, so that resident memory
/// stays as small as when the walk does it itself.
struct WindowMapper<'a> {
    data: &'a [u8],
    range: std::ops::Range<usize>,
    /// Where the walk is (a record offset in `data`).
    walked: AtomicUsize,
    /// Samples the walk has counted: the rows of the sample room to fault in meanwhile.
    counted: AtomicUsize,
    stop: AtomicBool,
}

/// Rows of a [`SampleRoom`] faulted in at a time between two looks at the walk (1.4 MB of
/// pages, under a millisecond): mapping the file ahead of the walk comes first.
const POPULATE_STEP: usize = 64 << 10;

/// Stops a [`WindowMapper`] when dropped (the walk's end, error or panic alike), so that the
/// scope waiting for its thread ends.
struct StopMapper<'m, 'a>(&'m WindowMapper<'a>, std::thread::Thread);

impl Drop for StopMapper<'_, '_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
        self.1.unpark();
    }
}

impl<'a> WindowMapper<'a> {
    fn new(data: &'a [u8], range: std::ops::Range<usize>) -> Self {
        Self {
            data,
            walked: AtomicUsize::new(range.start),
            counted: AtomicUsize::new(0),
            range,
            stop: AtomicBool::new(false),
        }
    }

    fn stop_on_drop(&self, helper: &std::thread::Thread) -> StopMapper<'_, 'a> {
        StopMapper(self, helper.clone())
    }

    /// The helper thread's loop: returns once stopped, having dropped what it mapped. While
    /// the walk needs no mapping, it faults in the rows of `room` for the samples counted so
    /// far; it gives the room back.
    fn run(&self, mut room: Option<SampleRoom>) -> Option<SampleRoom> {
        let mut mapped = self.range.start;
        while !self.stop.load(Ordering::Acquire) {
            let at = self.walked.load(Ordering::Acquire);
            // Behind the walk, nothing is mapped again: it has read those pages.
            mapped = mapped.max(at);
            if mapped < self.range.end && mapped < at.saturating_add(2 * WINDOW) {
                let end = mapped.saturating_add(WINDOW).min(self.range.end);
                crate::mapped::read_ahead(&self.data[mapped..end]);
                mapped = end;
            } else if let Some(r) = &mut room
                && r.populate(self.counted.load(Ordering::Acquire), POPULATE_STEP)
            {
                // Some rows faulted in; the walk may need a window by now.
            } else {
                // Woken by the walk's next window (or its end); the timeout only bounds a
                // missed wake-up.
                std::thread::park_timeout(std::time::Duration::from_millis(10));
            }
        }
        room
    }
}

/// Largest file with DWARF stack copies whose pages stay mapped through both passes instead
/// of being dropped behind the reader. Such a file is mostly stack copies: pass 1 touches a
/// page of each for the record headers, pass 2 again, and the unwinder a third time; mapping
/// its pages once and unmapping them once was a fifth of loading a 100 MB capture (42 → 34
/// ms). The pages are the page cache's, not more memory; peak RSS, which counts them, grows by
/// the file's size at most.
const KEEP_MAPPED: usize = 256 << 20;

/// The [`chains::ChainKey::cpumode`] of unwound DWARF stacks' keys (a record's cpumode bits
/// are 3).
const DWARF_STACK: u16 = u16::MAX;

/// What decides the stack of an unwound DWARF sample besides its process and epoch, as words:
/// its kernel frames (resolved already), its user frames (address and whether a return
/// address) and whether unwinding stopped early.
fn dwarf_stack_words(kernel: &[FrameId], r: &unwind::Unwound, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&(kernel.len() as u64).to_le_bytes());
    for f in kernel {
        out.extend_from_slice(&(f.index() as u64).to_le_bytes());
    }
    for &(addr, ret) in &r.frames {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&u64::from(ret).to_le_bytes());
    }
    out.extend_from_slice(&u64::from(r.stop.is_some()).to_le_bytes());
}

/// Samples per (pid, tid), counted in runs: a CPU's samples come in runs of one thread.
#[derive(Default)]
struct ThreadCounts {
    done: FxHashMap<(i32, i32), usize>,
    run: Option<((i32, i32), usize)>,
}

impl ThreadCounts {
    #[inline(always)]
    fn add(&mut self, pid: i32, tid: i32) {
        match &mut self.run {
            Some((key, n)) if *key == (pid, tid) => *n += 1,
            _ => self.new_run(pid, tid),
        }
    }

    #[cold]
    #[inline(never)]
    fn new_run(&mut self, pid: i32, tid: i32) {
        if let Some((key, n)) = self.run.replace(((pid, tid), 1)) {
            *self.done.entry(key).or_default() += n;
        }
    }

    /// The counts, leaving none.
    fn take(&mut self) -> FxHashMap<(i32, i32), usize> {
        let mut done = std::mem::take(&mut self.done);
        if let Some((key, n)) = self.run.take() {
            *done.entry(key).or_default() += n;
        }
        done
    }
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
    /// Shared with the sample pass's workers; changed only in pass 1.
    space: Arc<AddressSpace>,
    kernel_module: ModuleId,
    unknown_module: ModuleId,
    guest_module: ModuleId,
    counts: Counts,
    decompression_limit: u64,
    /// DWARF unwinding of samples with user registers and stack copies, when there are any.
    unwinder: Option<DwarfUnwinder>,
    switches: Vec<Switch>,
    offcpu: Option<OffCpu>,
    switch_outs: Vec<SwitchOut>,
    /// On-CPU clock samples (thread, stack, time, weight), for the wall type.
    on_cpu: Vec<(ThreadId, StackId, u64, i64)>,
    /// (tid, time) of every sample, kept only when off-CPU time must be measured without switch
    /// records: then a thread's next sample says when it ran again.
    sample_times: Option<Vec<(i32, u64)>>,
    /// Where a record starts, about every [`parallel::CHUNK`] bytes of the data section (pass 1).
    splits: Vec<usize>,
    /// Samples per thread (pass 1), for the builder to set room aside.
    thread_samples: ThreadCounts,
    /// Room for pass 2's rows, faulted in while pass 1 walks (by its helper thread).
    sample_room: Option<SampleRoom>,
    /// Where every sample has its pid and tid, when that does not depend on its event.
    sample_tid_at: Option<usize>,
    /// Length of every sample's fields of fixed size, when known (else 0).
    sample_min_len: usize,
    /// Bytes per chunk of the sample pass.
    chunk: usize,
    /// A panic to cause in the sample pass (tests of what a panic there does).
    #[cfg(test)]
    fault: Option<parallel::Fault>,
    /// The data section has compressed records (then pass 2 reads it in order).
    compressed: bool,
    /// The file's pages stay mapped from pass 1 to the end of pass 2 (see [`KEEP_MAPPED`]).
    keep_mapped: bool,
    // pass 2 scratch
    frames: Vec<FrameId>,
    /// The stacks of callchains seen before.
    chains: chains::ChainCache,
    /// The stacks of unwound DWARF samples, keyed by [`dwarf_stack_words`].
    dwarf_stacks: chains::ChainCache,
    /// A buffer for [`dwarf_stack_words`].
    dwarf_words: Vec<u8>,
    /// Set when a mapping lookup fell back on one not live at the sample's time.
    fallback_lookup: bool,
    last_thread: Option<((i32, i32), ThreadId)>,
    /// Where the data section should end, when the file ends before: warned about at the end,
    /// once, with the records' own cut if one was cut in the middle.
    cut_short: Option<u64>,
}

/// Parses perf.data bytes into `b`. Loads what it can: a file cut short yields the samples
/// before the cut and a warning.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    parse_with(
        data,
        b,
        progress,
        default_decompression_limit(data.len()),
        &SymbolOptions::default(),
    )
}

/// [`parse`] with an explicit cap on decompressed bytes, and where to look for the binaries
/// whose unwind information DWARF-mode samples need.
pub fn parse_with(
    data: &[u8],
    b: &mut ProfileBuilder,
    progress: &Progress,
    decompression_limit: u64,
    symbols: &SymbolOptions,
) -> Result<()> {
    let workers = rayon::current_num_threads().min(MAX_WORKERS);
    parse_in_chunks(
        data,
        b,
        progress,
        decompression_limit,
        symbols,
        parallel::CHUNK,
        workers,
    )
}

/// [`parse_with`], its sample pass split into chunks of about `chunk` bytes decoded on
/// `workers` threads (one thread reads in order when `workers` is 1 or the file has one chunk).
fn parse_in_chunks(
    data: &[u8],
    b: &mut ProfileBuilder,
    progress: &Progress,
    decompression_limit: u64,
    symbols: &SymbolOptions,
    chunk: usize,
    workers: usize,
) -> Result<()> {
    let mut p = PerfData::new(data, FileHeader::parse(data)?, decompression_limit);
    p.chunk = chunk.max(1);
    b.meta.source_format = "perf.data".into();
    let range = if p.header.pipe {
        PIPE_HEADER_SIZE as usize..data.len()
    } else {
        p.read_file_attrs()?;
        p.read_features(b);
        p.data_range(b)?
    };
    let stack_copies = p
        .attrs
        .iter()
        .any(|a| a.sample_type & SAMPLE_STACK_USER != 0);
    p.keep_mapped = data.len() <= KEEP_MAPPED && stack_copies;
    // A file pass 2 will most likely read on several threads, with the plan of rows that
    // pass 1's counts make: room for as many samples as the data section can hold, whose pages
    // pass 1's helper thread faults in as pass 1 counts samples (see `SampleRoom`).
    if workers > 1
        && !stack_copies
        && p.sample_tid_at.is_some()
        && p.sample_min_len > 0
        && range.len() > p.chunk
    {
        p.sample_room = b.room_for_samples(range.len() / p.sample_min_len);
    }
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
    p.setup_unwinder(b, symbols);
    progress.lap("perf.data sideband pass");
    // Taken here, so that the room is given back whichever way pass 2 goes.
    let room = p.sample_room.take();

    // Pass 2: samples, on several threads when the file allows.
    if p.unwinder.is_none()
        && p.offcpu.is_none()
        && p.sample_times.is_none()
        && !p.compressed
        && p.splits.len() > 1
        && workers > 1
    {
        let mut chunks: Vec<std::ops::Range<usize>> =
            p.splits.windows(2).map(|w| w[0]..w[1]).collect();
        chunks.extend(p.splits.last().map(|&s| s..range.end));
        // Pass 1 counted each thread's samples: their rows go straight to their place.
        b.plan_samples_in(p.thread_samples.take(), room);
        p.parallel_samples(&chunks, workers, progress, b)?;
    } else {
        drop(room);
        p.walk(range.clone(), progress, b, false)?;
    }
    p.flush_dwarf(b);
    if p.unwinder.is_some() {
        crate::mapped::done_with(&data[range]);
    }
    progress.lap("perf.data sample pass");
    p.finish_offcpu(b);
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
            space: Arc::default(),
            kernel_module: ModuleId::NONE,
            unknown_module: ModuleId::NONE,
            guest_module: ModuleId::NONE,
            counts: Counts::default(),
            decompression_limit,
            unwinder: None,
            switches: Vec::new(),
            offcpu: None,
            switch_outs: Vec::new(),
            on_cpu: Vec::new(),
            sample_times: None,
            chains: chains::ChainCache::default(),
            dwarf_stacks: chains::ChainCache::default(),
            dwarf_words: Vec::new(),
            fallback_lookup: false,
            splits: Vec::new(),
            thread_samples: ThreadCounts::default(),
            sample_tid_at: None,
            sample_min_len: 0,
            sample_room: None,
            chunk: parallel::CHUNK,
            #[cfg(test)]
            fault: parallel::FAULT.take(),
            keep_mapped: false,
            compressed: false,
            frames: Vec::with_capacity(128),
            last_thread: None,
            cut_short: None,
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
        let first = self.attrs.first().filter(|_| self.uniform_sample_type);
        self.sample_tid_at = first.and_then(Attr::sample_tid_offset);
        // A record shorter than its fixed fields is no sample: not counted.
        self.sample_min_len = first
            .and_then(|a| a.layout)
            .map_or(0, |l| usize::from(l.min_len));
    }

    /// Counts a sample record in pass 1, per thread when its pid and tid can be read without
    /// knowing its event.
    #[inline(always)]
    fn count_sample(&mut self, r: &[u8]) {
        self.counts.samples += 1;
        if let Some(at) = self.sample_tid_at
            && r.len() >= self.sample_min_len
            && let Some(v) = u64_at(r, at)
        {
            self.thread_samples
                .add(v as u32 as i32, (v >> 32) as u32 as i32);
        }
    }

    /// Feature sections sit right after the data section, one {offset, size} per set bit.
    fn read_features(&mut self, b: &mut ProfileBuilder) {
        let h = &self.header;
        if h.data.size == 0 {
            return; // perf record did not finish: no features were written
        }
        let table = h.data.offset.saturating_add(h.data.size);
        if table > self.data.len() as u64 {
            // The file ends inside the data section: the one warning about that cut says it
            // (see `data_range`), the missing features are part of it.
            return;
        }
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
    fn data_range(&mut self, b: &mut ProfileBuilder) -> Result<std::ops::Range<usize>> {
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
                self.cut_short = Some(end);
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
        // Pass 1 only reads record headers: mapping the windows and dropping them is most of
        // its time, and another thread does it (the cores are otherwise idle in this pass).
        if sideband
            && !self.keep_mapped
            && self.unwinder.is_none()
            && crate::mapped::is_file_mapped(&data[range.clone()])
        {
            let mapper = WindowMapper::new(data, range.clone());
            let room = self.sample_room.take();
            return std::thread::scope(|scope| {
                let helper = scope.spawn(|| mapper.run(room));
                let walked = {
                    let _stop = mapper.stop_on_drop(helper.thread());
                    let helper = helper.thread();
                    self.walk_windows(range, progress, b, true, Some((&mapper, helper)))
                };
                match helper.join() {
                    Ok(room) => self.sample_room = room,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
                walked
            });
        }
        self.walk_windows(range, progress, b, sideband, None)
    }

    /// [`walk`](Self::walk), mapping windows ahead and dropping them behind on this thread, or
    /// telling `mapper` where the walk is.
    fn walk_windows(
        &mut self,
        range: std::ops::Range<usize>,
        progress: &Progress,
        b: &mut ProfileBuilder,
        sideband: bool,
        mapper: Option<(&WindowMapper<'_>, &std::thread::Thread)>,
    ) -> Result<Option<records::Truncation>> {
        let data = self.data;
        let mut decomp: Option<Decompressor> = None;
        let limit = self.decompression_limit;
        // The file is read front to back in windows: each is mapped in one call before it is
        // read, and dropped from resident memory once read (the page cache keeps it).
        let mut ahead = range.start;
        let mut behind = range.start;
        let mut split = range.start;
        let trunc = records::walk(
            &data[range.clone()],
            range.start as u64,
            self.header.pipe,
            progress,
            |rec| {
                let at = rec.offset as usize;
                if at >= ahead {
                    ahead = at.saturating_add(WINDOW).min(range.end);
                    if let Some((m, helper)) = mapper {
                        m.walked.store(at, Ordering::Release);
                        helper.unpark();
                    }
                    if !self.keep_mapped {
                        // Pages a pending DWARF sample will read its stack from stay.
                        let keep = match self.unwinder.as_ref().and_then(|u| u.first_file_offset) {
                            Some(first) => first.clamp(behind, at),
                            None => at,
                        };
                        crate::mapped::done_with(&data[behind..keep]);
                        behind = keep;
                    }
                    if mapper.is_none() && (sideband || !self.keep_mapped) {
                        crate::mapped::read_ahead(&data[at..ahead]);
                    }
                }
                if sideband && at >= split {
                    self.splits.push(at);
                    split = at.saturating_add(self.chunk);
                    if let Some((m, helper)) = mapper {
                        // The rows of the samples counted so far can be faulted in.
                        let samples = usize::try_from(self.counts.samples).unwrap_or(usize::MAX);
                        m.counted.store(samples, Ordering::Release);
                        helper.unpark();
                    }
                }
                if sideband && rec.kind == records::SAMPLE {
                    // Most records: counted here, without the call.
                    self.count_sample(rec.bytes);
                    return Ok(());
                }
                if rec.kind == records::COMPRESSED || rec.kind == records::COMPRESSED2 {
                    self.compressed = true;
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
        // With DWARF samples, the rest is dropped once the last batch is unwound
        // (`parse_in_chunks`, after `flush_dwarf`).
        if !self.keep_mapped && self.unwinder.is_none() {
            crate::mapped::done_with(&data[behind..range.end]);
        }
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

    /// pid and tid from the sample_id trailer of a non-sample record.
    fn record_tid(&self, rec: &[u8]) -> Option<(i32, i32)> {
        let attr = self.attr_of_non_sample(rec)?;
        if !attr.sample_id_all() || attr.sample_type & SAMPLE_TID == 0 {
            return None;
        }
        let start = rec.len().checked_sub(attr.sample_id_size())?;
        Some((i32_at(rec, start)?, i32_at(rec, start + 4)?))
    }

    fn trailer_size(&self, rec: &[u8]) -> usize {
        self.attr_of_non_sample(rec)
            .map_or(0, |a| a.sample_id_size())
    }

    fn sideband(&mut self, rec: &Record<'_>, b: &mut ProfileBuilder) -> Result<()> {
        let r = rec.bytes;
        match rec.kind {
            records::SAMPLE => self.count_sample(r),
            records::MMAP | records::MMAP2 => self.read_mmap(rec),
            records::COMM => {
                let pid = i32_at(r, 8).unwrap_or(-1);
                let tid = i32_at(r, 12).unwrap_or(-1);
                let end = r.len().saturating_sub(self.trailer_size(r)).max(16);
                let name = c_str(r.get(16..end).unwrap_or(&[])).into_owned();
                let time = self.record_time(r);
                if rec.misc & MISC_COMM_EXEC != 0 {
                    Arc::make_mut(&mut self.space).add_exec(pid, time);
                }
                self.comms.entry(tid).or_default().push((time, name));
            }
            records::FORK => {
                let (pid, ppid) = (i32_at(r, 8).unwrap_or(-1), i32_at(r, 12).unwrap_or(-1));
                let (tid, ptid) = (i32_at(r, 16).unwrap_or(-1), i32_at(r, 20).unwrap_or(-1));
                let time = u64_at(r, 24).unwrap_or(0);
                Arc::make_mut(&mut self.space).add_fork(pid, ppid, time);
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
            records::SWITCH | records::SWITCH_CPU_WIDE => {
                if let Some((pid, tid)) = self.record_tid(r) {
                    self.switches.push(Switch {
                        pid,
                        tid,
                        time: self.record_time(r),
                        out: rec.misc & MISC_SWITCH_OUT != 0,
                        preempt: rec.misc & MISC_SWITCH_OUT_PREEMPT != 0,
                    });
                }
            }
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
        // Off-CPU time needs the stack at each switch-out: sched:sched_switch samples.
        let switch_attr = self
            .attrs
            .iter()
            .position(|a| a.type_ == TYPE_TRACEPOINT && a.display_name() == "sched:sched_switch");
        if let Some(sa) = switch_attr
            && self.attr_type[sa].is_some()
        {
            let clock = (0..self.attrs.len())
                .find(|&i| self.attrs[i].is_clock())
                .and_then(|i| self.attr_type[i]);
            self.offcpu = Some(OffCpu {
                off: b.add_sample_type("off-cpu", Unit::Nanoseconds),
                wall: b.add_sample_type("wall", Unit::Nanoseconds),
                clock,
                switch_attr: Some(sa),
            });
            if !self.switches.iter().any(|s| !s.out) {
                self.sample_times = Some(Vec::new());
            }
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
            // Anonymous executable memory is JIT code; its symbols are in the map file a JIT
            // writes for perf (node --perf-basic-prof, Java agents), named after the process.
            let module = if kind == ModuleKind::Jit {
                b.add_module(&format!("/tmp/perf-{}.map", m.pid), "", kind)
            } else {
                b.add_module(&m.path, bid, kind)
            };
            b.set_module_range(module, m.start, m.start.saturating_add(m.len), m.pgoff);
            Arc::make_mut(&mut self.space).add_mapping(
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
        Arc::make_mut(&mut self.space).finish();
        self.unknown_module = b.add_module("[unknown]", "", ModuleKind::Unknown);
        self.guest_module = b.add_module("[guest]", "", ModuleKind::Unknown);
    }

    /// The attr of a sample record.
    fn sample(&mut self, rec: &Record<'_>, b: &mut ProfileBuilder) -> Result<()> {
        let decoder = Decoder {
            attrs: &self.attrs,
            id_to_attr: &self.id_to_attr,
            attr_type: &self.attr_type,
        };
        let Some(d) = decoder.decode(rec, &mut self.counts) else {
            return Ok(());
        };
        let (s, ai) = (&d.sample, d.attr);
        let attr = &self.attrs[ai];
        // A DWARF-mode sample: its user frames come from unwinding the stack copy.
        let dwarf = match (&self.unwinder, s.regs_user) {
            (Some(u), Some(regs)) if !s.stack_user.is_empty() => {
                UserRegs::new(u.arch(), attr.sample_regs_user, regs)
            }
            _ => None,
        };
        if self.unwinder.is_some() && attr.sample_type & SAMPLE_STACK_USER != 0 && dwarf.is_none() {
            self.counts.dwarf_without_stack += 1;
        }
        let thread = self.thread(b, s.pid, s.tid);
        let cpumode = rec.misc & MISC_CPUMODE_MASK;
        let Some(regs) = dwarf else {
            // A callchain seen before in this process and epoch: its stack is known.
            let key = chains::ChainKey {
                pid: s.pid,
                epoch: self.space.epoch(s.pid, s.time),
                cpumode,
                ip: s.ip,
            };
            let stack = match self.chains.get(&key, s.callchain) {
                Ok(stack) => stack,
                Err(h) => {
                    let stack = self.chain_stack(b, &key, s.callchain, s.time);
                    if !self.fallback_lookup {
                        self.chains.insert(h, key, s.callchain, stack);
                    }
                    stack
                }
            };
            self.add_sample_stack(b, stack, thread, s.time, d.sample_type, d.weight);
            self.after_sample(ai, thread, s.tid, s.time, stack);
            return Ok(());
        };
        let mut frames = std::mem::take(&mut self.frames);
        self.chain_frames(
            b,
            s.pid,
            s.ip,
            s.time,
            cpumode,
            s.callchain,
            true,
            &mut frames,
        );
        let Some(u) = self.unwinder.as_mut() else {
            unreachable!("dwarf is Some only with an unwinder")
        };
        let sample = DwarfSample {
            thread,
            pid: s.pid,
            tid: s.tid,
            time: s.time,
            sample_type: d.sample_type,
            weight: d.weight,
            regs,
            switch_out: self.offcpu.and_then(|o| o.switch_attr) == Some(ai),
        };
        u.push(sample, &frames, s.stack_user, self.data);
        self.frames = frames;
        if u.batch_bytes >= unwind::MAX_BATCH_BYTES {
            self.flush_dwarf(b);
        }
        Ok(())
    }

    /// The builder's thread for (pid, tid); consecutive samples mostly share one.
    fn thread(&mut self, b: &mut ProfileBuilder, pid: i32, tid: i32) -> ThreadId {
        match self.last_thread {
            Some((key, t)) if key == (pid, tid) => t,
            _ => {
                let t = b.add_thread(pid, tid);
                self.last_thread = Some(((pid, tid), t));
                t
            }
        }
    }

    /// The stack of a callchain (frame-pointer or LBR mode, not DWARF) sampled at `time`.
    /// Sets `fallback_lookup` when the answer depends on the exact time (then it must not be
    /// cached for the epoch).
    fn chain_stack(
        &mut self,
        b: &mut ProfileBuilder,
        key: &chains::ChainKey,
        callchain: &[u8],
        time: u64,
    ) -> StackId {
        let mut frames = std::mem::take(&mut self.frames);
        self.chain_frames(
            b,
            key.pid,
            key.ip,
            time,
            key.cpumode,
            callchain,
            false,
            &mut frames,
        );
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
        stack
    }

    /// The frames of a sample's ip and callchain, leaf first, into `frames`. With `dwarf`, user
    /// frames are left to the unwinder. Sets `fallback_lookup` when a lookup fell back on a
    /// mapping not live at `time`.
    #[allow(clippy::too_many_arguments)]
    fn chain_frames(
        &mut self,
        b: &mut ProfileBuilder,
        pid: i32,
        ip: Option<u64>,
        time: u64,
        cpumode: u16,
        callchain: &[u8],
        dwarf: bool,
        frames: &mut Vec<FrameId>,
    ) {
        self.fallback_lookup = false;
        frames.clear();
        let leaf_space = match cpumode {
            MISC_KERNEL => Space::Kernel,
            MISC_GUEST_KERNEL | MISC_GUEST_USER => Space::Guest,
            _ => Space::User,
        };
        let mut have_leaf = false;
        if let Some(ip) = ip {
            let space =
                if callchain.is_empty() && leaf_space == Space::User && ip >= KERNEL_SPACE_START {
                    Space::Kernel
                } else {
                    leaf_space
                };
            if !dwarf || space != Space::User {
                frames.push(self.frame_for(b, pid, ip, time, space, false));
            }
            have_leaf = true;
        }
        let mut space = leaf_space;
        let mut first_real = true;
        // The first entry after a context marker is an instruction pointer (the sampled ip, or
        // the user pc where the thread entered the kernel); every later one is a return
        // address, looked up one byte earlier so that it lands in the call instruction.
        let mut exact = true;
        for w in callchain.chunks_exact(8) {
            let entry = u64::from_le_bytes(w.try_into().expect("8-byte chunk"));
            if entry >= CONTEXT_MAX {
                space = match entry {
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
                if have_leaf && Some(entry) == ip {
                    exact = false;
                    continue; // the callchain repeats the sampled ip
                }
            }
            if dwarf && space == Space::User {
                break; // the unwinder finds the user frames
            }
            frames.push(self.frame_for(b, pid, entry, time, space, !exact));
            exact = false;
        }
    }

    /// What off-CPU time needs to know of a sample.
    fn after_sample(&mut self, ai: usize, thread: ThreadId, tid: i32, time: u64, stack: StackId) {
        if let Some(times) = &mut self.sample_times {
            times.push((tid, time));
        }
        if self.offcpu.and_then(|o| o.switch_attr) == Some(ai) {
            self.switch_outs.push(SwitchOut {
                thread,
                tid,
                time,
                stack,
            });
        }
    }

    /// Adds a sample whose frames (leaf first) are known; returns its stack.
    fn add_sample(
        &mut self,
        b: &mut ProfileBuilder,
        frames: &[FrameId],
        thread: ThreadId,
        time: u64,
        sample_type: usize,
        weight: i64,
    ) -> StackId {
        let mut stack = StackId::NONE;
        for &f in frames.iter().rev() {
            stack = b.add_stack(stack, f);
        }
        if !stack.is_some() {
            // No ip and no callchain: keep the sample's weight on an unknown frame.
            let f = b.add_address_frame(self.unknown_module, 0);
            stack = b.add_stack(StackId::NONE, f);
        }
        self.add_sample_stack(b, stack, thread, time, sample_type, weight);
        stack
    }

    /// Adds a sample whose stack is known.
    fn add_sample_stack(
        &mut self,
        b: &mut ProfileBuilder,
        stack: StackId,
        thread: ThreadId,
        time: u64,
        sample_type: usize,
        weight: i64,
    ) {
        b.add_sample_one(thread, stack, time, sample_type, weight);
        if let Some(o) = self.offcpu
            && o.clock == Some(sample_type)
        {
            // On-CPU time is part of the wall time: added at the end, once it is known how
            // long each thread really ran.
            self.on_cpu.push((thread, stack, time, weight));
        }
    }

    /// Off-CPU time. With switch records (`--switch-events`), each interval from a thread's
    /// switch-out to its next switch-in weighs its length as "off-cpu" and "wall" on the stack
    /// of the `sched:sched_switch` sample taken at that switch-out. Without them, a switch-out
    /// sample lasts until the thread's next sample. The timeline gets a span per interval.
    fn finish_offcpu(&mut self, b: &mut ProfileBuilder) {
        let outs = std::mem::take(&mut self.switch_outs);
        let times = self.sample_times.take();
        let mut intervals: Vec<OffInterval> = Vec::new();
        // Time each thread was on CPU, measured from switch-in to switch-out.
        let mut ran: FxHashMap<ThreadId, u64> = FxHashMap::default();
        if self.switches.iter().any(|s| !s.out) {
            let mut by_thread: FxHashMap<(i32, i32), Vec<Switch>> = FxHashMap::default();
            for s in &self.switches {
                by_thread.entry((s.pid, s.tid)).or_default().push(*s);
            }
            let mut keys: Vec<_> = by_thread.keys().copied().collect();
            keys.sort_unstable();
            for key in keys {
                let v = by_thread.get_mut(&key).expect("key from the map");
                v.sort_by_key(|s| s.time);
                let Some(thread) = b.find_thread(key.0, key.1) else {
                    continue; // a thread without samples: no row to show it on
                };
                for w in v.windows(2) {
                    if !w[0].out && w[1].out {
                        *ran.entry(thread).or_default() += w[1].time - w[0].time;
                    }
                    if w[0].out && !w[1].out {
                        intervals.push(OffInterval {
                            thread,
                            tid: key.1,
                            start: w[0].time,
                            end: w[1].time,
                            preempted: Some(w[0].preempt),
                        });
                    }
                }
            }
        } else if let Some(times) = times {
            // When each thread ran again: its next sample of any event.
            let mut next: FxHashMap<i32, Vec<u64>> = FxHashMap::default();
            for (tid, t) in times {
                next.entry(tid).or_default().push(t);
            }
            for v in next.values_mut() {
                v.sort_unstable();
            }
            for so in &outs {
                let v = next.get(&so.tid).map_or(&[][..], Vec::as_slice);
                if let Some(&end) = v.get(v.partition_point(|&x| x <= so.time)) {
                    intervals.push(OffInterval {
                        thread: so.thread,
                        tid: so.tid,
                        start: so.time,
                        end,
                        preempted: None,
                    });
                }
            }
        }
        for i in &intervals {
            let name = match i.preempted {
                Some(true) => "off CPU (preempted)",
                Some(false) => "off CPU (waiting)",
                None => "off CPU",
            };
            b.add_span(i.thread, 0, i.start, i.end, name);
        }
        let Some(o) = self.offcpu else {
            return;
        };
        // Wall = on CPU + off CPU. The on-CPU part is the clock samples, scaled per thread to
        // the on-CPU time the switch records measured when there are any: a cpu-clock timer
        // restarts its period at every switch-in, so threads that run in short bursts get
        // fewer samples than their CPU time (23 % fewer for offcpu.c's 5 ms bursts at 1 kHz).
        let mut sampled: FxHashMap<ThreadId, i64> = FxHashMap::default();
        for &(t, _, _, w) in &self.on_cpu {
            *sampled.entry(t).or_default() += w;
        }
        for (t, stack, time, w) in std::mem::take(&mut self.on_cpu) {
            let scale = match (ran.get(&t), sampled.get(&t)) {
                (Some(&ran), Some(&s)) if s > 0 && ran > 0 => ran as f64 / s as f64,
                _ => 1.0,
            };
            let wall = (w as f64 * scale).round() as i64;
            b.add_sample_one(t, stack, time, o.wall, wall);
        }
        // The stack of each interval: the thread's switch-out sample at its start (the
        // tracepoint fires just before the switch record is written, a few µs earlier).
        let mut stacks: FxHashMap<i32, Vec<(u64, StackId)>> = FxHashMap::default();
        for so in &outs {
            stacks.entry(so.tid).or_default().push((so.time, so.stack));
        }
        for v in stacks.values_mut() {
            v.sort_unstable_by_key(|x| x.0);
        }
        let mut unsampled = 0u64;
        let n = b.sample_types().len();
        for i in &intervals {
            let v = stacks.get(&i.tid).map_or(&[][..], Vec::as_slice);
            let at = v.partition_point(|x| x.0 <= i.start);
            let stack = match at.checked_sub(1).map(|k| v[k]) {
                Some((t, s)) if i.start - t <= MAX_SWITCH_SAMPLE_LEAD_NS => s,
                _ => {
                    unsampled += 1;
                    let f = b.add_named_frame(
                        "[off CPU, switch-out not sampled]",
                        self.unknown_module,
                        FuncKind::Unresolved,
                    );
                    b.add_stack(StackId::NONE, f)
                }
            };
            let d = i64::try_from(i.end - i.start).unwrap_or(i64::MAX);
            let mut w = vec![0; n];
            w[o.off] = d;
            w[o.wall] = d;
            b.add_sample(i.thread, stack, i.start, &w);
        }
        if unsampled > 0 {
            b.warn(format!(
                "{unsampled} of {} off-CPU intervals have no sched:sched_switch sample at their start (sampled with a frequency instead of every switch? record the tracepoint with -c 1): their time shows under [off CPU, switch-out not sampled]",
                intervals.len()
            ));
        }
    }

    /// Sets up DWARF unwinding when some event copies user stacks and registers.
    fn setup_unwinder(&mut self, b: &mut ProfileBuilder, symbols: &SymbolOptions) {
        let dwarf = self.attrs.iter().any(|a| {
            a.sample_type & SAMPLE_STACK_USER != 0 && a.sample_type & SAMPLE_REGS_USER != 0
        });
        if !dwarf {
            return;
        }
        // The recording machine's architecture, which need not be this one's; a file that does
        // not say is taken for this machine's.
        let named = self.features.arch.as_deref();
        let Some(arch) = named.map_or_else(Arch::host, Arch::from_uname) else {
            b.warn(format!(
                "the samples carry user stacks for DWARF unwinding, but stacklens unwinds x86-64 and aarch64 stacks only (this file: {}); user stacks show only the sampled function",
                named.unwrap_or("unknown architecture")
            ));
            return;
        };
        let ids: Vec<&str> = (0..b.modules.len())
            .filter_map(|i| b.module_build_id(ModuleId::from_index(i)))
            .filter(|id| !id.is_empty())
            .collect();
        self.unwinder = Some(DwarfUnwinder::new(arch, ModuleFinder::new(symbols, &ids)));
    }

    /// Unwinds the pending DWARF samples (in parallel) and adds them.
    fn flush_dwarf(&mut self, b: &mut ProfileBuilder) {
        let Some(mut u) = self.unwinder.take() else {
            return;
        };
        if u.batch.is_empty() {
            self.unwinder = Some(u);
            return;
        }
        let mut pids: Vec<i32> = u.batch.iter().map(|p| p.sample.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            if u.has_process(pid) {
                continue;
            }
            let maps: Vec<MappingInfo> = self
                .space
                .unwind_mappings(pid)
                .into_iter()
                .filter(|m| m.file_backed)
                .map(|m| {
                    let i = m.module.index();
                    MappingInfo {
                        start: m.start,
                        end: m.end,
                        pgoff: m.pgoff,
                        module: m.module,
                        path: b.string(b.modules.path[i]).to_string(),
                        build_id: b.module_build_id(m.module).map(str::to_string),
                    }
                })
                .collect();
            u.add_process(pid, &maps);
        }
        let results = u.unwind_batch(self.data);
        let mut batch = std::mem::take(&mut u.batch);
        let mut kernel = std::mem::take(&mut u.frames);
        let mut frames = Vec::new();
        let mut words = std::mem::take(&mut self.dwarf_words);
        for (pending, r) in batch.iter().zip(results) {
            let p = &pending.sample;
            // A stack unwound before (with the same kernel frames, in the same process and
            // epoch) is looked up whole instead of frame by frame: most samples repeat one.
            let kernel_frames = &kernel[pending.frames.clone()];
            dwarf_stack_words(kernel_frames, &r, &mut words);
            let key = chains::ChainKey {
                pid: p.pid,
                epoch: self.space.epoch(p.pid, p.time),
                cpumode: DWARF_STACK,
                ip: None,
            };
            let stack = match self.dwarf_stacks.get(&key, &words) {
                Ok(stack) => {
                    self.add_sample_stack(b, stack, p.thread, p.time, p.sample_type, p.weight);
                    stack
                }
                Err(h) => {
                    frames.clear();
                    frames.extend_from_slice(kernel_frames);
                    for &(addr, ret) in &r.frames {
                        frames.push(self.frame_for(b, p.pid, addr, p.time, Space::User, ret));
                    }
                    if r.stop.is_some() {
                        frames.push(b.add_named_frame(
                            unwind::STOPPED_FRAME,
                            self.unknown_module,
                            FuncKind::Unresolved,
                        ));
                    }
                    let stack =
                        self.add_sample(b, &frames, p.thread, p.time, p.sample_type, p.weight);
                    // As for callchains: an answer that depends on the exact time is not kept.
                    if !self.fallback_lookup {
                        self.dwarf_stacks.insert(h, key, &words, stack);
                    }
                    stack
                }
            };
            if p.switch_out {
                self.switch_outs.push(SwitchOut {
                    thread: p.thread,
                    tid: p.tid,
                    time: p.time,
                    stack,
                });
            }
        }
        self.dwarf_words = words;
        batch.clear();
        kernel.clear();
        u.batch = batch;
        u.frames = kernel;
        self.unwinder = Some(u);
    }

    fn frame_for(
        &mut self,
        b: &mut ProfileBuilder,
        pid: i32,
        ip: u64,
        time: u64,
        space: Space,
        ret: bool,
    ) -> FrameId {
        let addr = if ret { ip.saturating_sub(1) } else { ip };
        match space {
            Space::Kernel => b.add_address_frame(self.kernel_module, addr),
            Space::Guest => b.add_address_frame(self.guest_module, addr),
            Space::User => {
                let found = self.space.lookup(pid, addr, time);
                let frame = match found.mapping {
                    // `addr` lies in the mapping; pgoff is from the file and may be anything.
                    Some(m) if m.file_backed => {
                        b.add_address_frame(m.module, (addr - m.start).wrapping_add(m.pgoff))
                    }
                    Some(m) => b.add_address_frame(m.module, addr),
                    None if addr >= KERNEL_SPACE_START => {
                        b.add_address_frame(self.kernel_module, addr)
                    }
                    None => b.add_address_frame(self.unknown_module, addr),
                };
                if !found.live {
                    self.fallback_lookup = true;
                }
                frame
            }
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
        // One warning for a cut: where a record was cut, else where the file ends.
        if let Some(t) = truncation {
            let cut = self.cut_short.map_or(String::new(), |end| {
                format!(" (the file is cut short: the data section should end at byte {end})")
            });
            b.warn(format!(
                "the data ends early at byte offset {}: {}{cut}; loaded the {} samples before it",
                t.offset,
                t.reason,
                b.sample_count()
            ));
        } else if let Some(end) = self.cut_short {
            b.warn(format!(
                "the data ends early at byte offset {}: the file is cut short (the data section \
                 should end at byte {end}); loaded the {} samples before it",
                self.data.len(),
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
        if let Some(u) = &self.unwinder {
            let stopped: u64 = u.stops.values().sum();
            if stopped > 0 {
                let mut why: Vec<_> = u.stops.iter().collect();
                why.sort();
                let why: Vec<String> = why
                    .iter()
                    .map(|(s, n)| format!("{n}: {}", s.describe()))
                    .collect();
                b.warn(format!(
                    "DWARF unwinding stopped early in {stopped} of {} samples ({}); their stacks start at a frame named {}",
                    u.unwound,
                    why.join("; "),
                    unwind::STOPPED_FRAME
                ));
            }
            if !u.missing.is_empty() {
                b.warn(format!(
                    "no binary found to unwind DWARF stacks through {} (pass --symbols DIR with a copy): stacks stop there",
                    u.missing.join(", ")
                ));
            }
            if c.dwarf_without_stack > 0 {
                b.warn(format!(
                    "{} samples have no user registers or stack copy to unwind (a sample in kernel code of a kernel thread, or a damaged record): their user stacks are missing",
                    c.dwarf_without_stack
                ));
            }
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
            let decoder = Decoder {
                attrs: &p.attrs,
                id_to_attr: &p.id_to_attr,
                attr_type: &p.attr_type,
            };
            if rec.kind == records::SAMPLE
                && let Some(ai) = decoder.attr_of_sample(rec.bytes)
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

/// What the sample pass reads of a SAMPLE record, borrowed from the parser's pass-1 state so
/// that workers can share it.
#[derive(Clone, Copy)]
struct Decoder<'p> {
    attrs: &'p [Attr],
    id_to_attr: &'p FxHashMap<u64, usize>,
    /// Sample type index per attr (`None` for dummy events).
    attr_type: &'p [Option<usize>],
}

/// A decoded sample with its event and weight.
struct Decoded<'r> {
    sample: Sample<'r>,
    /// Index of its attr.
    attr: usize,
    sample_type: usize,
    weight: i64,
}

impl Counts {
    /// Counts a damaged sample at `offset`, keeping the first one's description.
    #[cold]
    fn malformed(&mut self, offset: u64, what: String) {
        self.malformed_samples += 1;
        if self.first_malformed.is_none() {
            self.first_malformed = Some((offset, what));
        }
    }
}

impl Decoder<'_> {
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

    /// Decodes a SAMPLE record of an event that has a sample type. Anything else (another
    /// record type, a dummy event, an unknown id, a damaged sample) is `None`, counted in
    /// `counts`.
    #[inline(always)]
    fn decode<'r>(&self, rec: &Record<'r>, counts: &mut Counts) -> Option<Decoded<'r>> {
        if rec.kind != records::SAMPLE {
            return None;
        }
        let Some(ai) = self.attr_of_sample(rec.bytes) else {
            counts.unknown_event_ids += 1;
            return None;
        };
        let attr = &self.attrs[ai];
        // Not through `decode_sample`: its `Result` made the common case copy the sample
        // through memory.
        let s = match attr.layout.and_then(|l| decode_fixed(&l, rec.bytes)) {
            Some(s) => s,
            None => decode_sample_any(attr, rec.bytes)
                .map_err(|what| counts.malformed(rec.offset, what))
                .ok()?,
        };
        if attr.sample_type & SAMPLE_STACK_USER != 0 {
            counts.stack_user_samples += 1;
        }
        let sample_type = (*self.attr_type.get(ai)?)?;
        let mut period = s.period.unwrap_or(attr.sample_period);
        if period > MAX_PERIOD {
            counts.clamped_periods += 1;
            period = MAX_PERIOD;
        }
        Some(Decoded {
            sample: s,
            attr: ai,
            sample_type,
            weight: period as i64,
        })
    }
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
    /// Tracepoint data (`SAMPLE_RAW`).
    raw: &'r [u8],
    /// User register values, one u64 per bit of `sample_regs_user`, when the sample has them.
    regs_user: Option<&'r [u8]>,
    /// The copied user stack, from the sampled stack pointer up (only the valid bytes).
    stack_user: &'r [u8],
}

impl Sample<'_> {
    /// A sample without any field (no ip, pid and tid -1, time 0).
    fn empty() -> Self {
        Sample {
            ip: None,
            pid: -1,
            tid: -1,
            time: 0,
            period: None,
            callchain: &[],
            raw: &[],
            regs_user: None,
            stack_user: &[],
        }
    }
}

/// Decodes the fields of a SAMPLE record in the kernel's fixed order, up to the callchain.
#[inline(always)]
fn decode_sample<'r>(attr: &Attr, r: &'r [u8]) -> std::result::Result<Sample<'r>, String> {
    if let Some(l) = &attr.layout
        && let Some(s) = decode_fixed(l, r)
    {
        return Ok(s);
    }
    decode_sample_any(attr, r)
}

/// A sample whose fields are where `l` says; `None` when the record is too short for them
/// (then [`decode_sample_any`] says what is wrong).
#[inline(always)]
fn decode_fixed<'r>(l: &SampleLayout, r: &'r [u8]) -> Option<Sample<'r>> {
    if r.len() < l.min_len as usize {
        return None;
    }
    let at = |pos: u16| u64_at(r, pos as usize);
    let mut s = Sample::empty();
    if l.ip != 0 {
        s.ip = at(l.ip);
    }
    if l.tid != 0 {
        let v = at(l.tid)?;
        s.pid = v as u32 as i32;
        s.tid = (v >> 32) as u32 as i32;
    }
    if l.time != 0 {
        s.time = at(l.time)?;
    }
    if l.period != 0 {
        s.period = at(l.period);
    }
    if l.callchain != 0 {
        let nr = at(l.callchain)?;
        let start = l.callchain as usize + 8;
        let n = usize::try_from(nr)
            .ok()
            .and_then(|n| n.checked_mul(8))
            .filter(|&n| n <= r.len() - start)?;
        s.callchain = &r[start..start + n];
    }
    Some(s)
}

/// [`decode_sample`] for any sample type, saying what is wrong with a damaged record.
#[inline(never)]
fn decode_sample_any<'r>(attr: &Attr, r: &'r [u8]) -> std::result::Result<Sample<'r>, String> {
    let st = attr.sample_type;
    let mut pos = 8usize;
    let mut next = |what: &str| -> std::result::Result<u64, String> {
        let v = u64_at(r, pos)
            .ok_or_else(|| format!("expected {what} at byte {pos} of a {}-byte sample", r.len()))?;
        pos += 8;
        Ok(v)
    };
    let mut s = Sample::empty();
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
        pos += n;
    }
    let take = |pos: &mut usize, n: u64, what: &str| -> std::result::Result<&'r [u8], String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| pos.checked_add(n))
            .filter(|&e| e <= r.len())
            .ok_or_else(|| format!("{what} of {n} bytes overruns the {}-byte sample", r.len()))?;
        let bytes = &r[*pos..end];
        *pos = end;
        Ok(bytes)
    };
    if st & SAMPLE_RAW != 0 {
        let n = u32_at(r, pos).ok_or_else(|| format!("expected the raw size at byte {pos}"))?;
        pos += 4;
        s.raw = take(&mut pos, u64::from(n), "raw data")?;
    }
    if st & SAMPLE_BRANCH_STACK != 0 {
        let nr =
            u64_at(r, pos).ok_or_else(|| format!("expected the branch count at byte {pos}"))?;
        pos += 8;
        if attr.branch_sample_type & BRANCH_HW_INDEX != 0 {
            pos += 8;
        }
        take(&mut pos, nr.saturating_mul(24), "branch stack")?;
    }
    if st & SAMPLE_REGS_USER != 0 {
        let abi =
            u64_at(r, pos).ok_or_else(|| format!("expected the register ABI at byte {pos}"))?;
        pos += 8;
        if abi != 0 {
            let n = u64::from(attr.sample_regs_user.count_ones()) * 8;
            s.regs_user = Some(take(&mut pos, n, "user registers")?);
        }
    }
    if st & SAMPLE_STACK_USER != 0 {
        let size =
            u64_at(r, pos).ok_or_else(|| format!("expected the stack copy size at byte {pos}"))?;
        pos += 8;
        if size > 0 {
            let stack = take(&mut pos, size, "user stack copy")?;
            // The valid part: the kernel copies `size` bytes but says how many were readable.
            let dyn_size = u64_at(r, pos).unwrap_or(0);
            let valid = usize::try_from(dyn_size).map_or(stack.len(), |d| d.min(stack.len()));
            s.stack_user = &stack[..valid];
        }
    }
    Ok(s)
}

/// `branch_sample_type` bit: each branch stack starts with a hardware index word.
const BRANCH_HW_INDEX: u64 = 1 << 17;

#[cfg(test)]
mod tests;
