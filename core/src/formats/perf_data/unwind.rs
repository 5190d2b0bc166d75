//! DWARF unwinding of `perf record --call-graph dwarf` samples, of x86-64 and aarch64 code.
//!
//! In DWARF mode the kernel records no user callchain: each sample carries the user registers
//! at the moment of the sample and a copy of the top of the user stack (`--call-graph
//! dwarf,SIZE`, 8 KiB by default). The return addresses are recovered afterwards from the CFI
//! of the mapped binaries (`.eh_frame`, else `.debug_frame`), with framehop.
//!
//! * Binaries are found as for symbolization (`--symbols` directories, recorded path, perf's
//!   build-id cache: [`ModuleFinder`]) and opened through the cache symbolization uses, so
//!   each is mapped and parsed once; their unwind sections are borrowed from the map. One framehop module per executable mapping is kept
//!   for the whole load, and one unwinder per process holding that process's modules.
//! * Samples are unwound in batches, in parallel (rayon, a rule cache per worker), while the
//!   parser keeps reading; a batch holds at most [`MAX_BATCH_BYTES`] of stack copies, so
//!   memory stays bounded whatever the file size.
//! * An unwind that stops early (the stack copy ends, an address without unwind information
//!   and a garbage frame pointer, a frame in a binary that was not found) keeps the frames it
//!   found and gets a marker root frame [`STOPPED_FRAME`]; the count per reason becomes a
//!   warning.
//! * The architecture is the recording machine's ([`Arch`], from the file's header), not the
//!   one stacklens runs on: it decides which registers are read and framehop's rules. Only
//!   the per-process unwinders and the per-worker caches differ by architecture
//!   ([`ArchUnwinder`]); files, modules, batches and stop reasons are shared.

use crate::model::{FrameId, ModuleId, ThreadId};
use crate::symbols::{ElfFile, ModuleFinder, SectionRef};
use framehop::aarch64::{CacheAarch64, PtrAuthMask, UnwindRegsAarch64, UnwinderAarch64};
use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{FrameAddress, Module, ModuleSectionInfo, Unwinder};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// Name of the marker frame at the root of a stack whose unwinding stopped early.
pub const STOPPED_FRAME: &str = "[unwinding stopped]";

/// Stack copies held before a batch is unwound.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Samples a worker takes at a time, and how far ahead in them, and how much of the top of
/// a stack copy, it prefetches.
const PREFETCH_CHUNK: usize = 256;
const PREFETCH_AHEAD: usize = 2;
const PREFETCH_BYTES: usize = 2048;

/// Most frames taken from one sample: a stack copy is at most 64 KiB, so a real stack cannot
/// have more return addresses than this; a loop in damaged data stops here.
const MAX_FRAMES: usize = 8192;

/// perf's register numbers on x86-64 (`PERF_REG_X86_*`, arch/x86/include/uapi/asm/perf_regs.h).
const X86_BP: u32 = 6;
const X86_SP: u32 = 7;
const X86_IP: u32 = 8;

/// perf's register numbers on aarch64 (`PERF_REG_ARM64_*`, arch/arm64/include/uapi/asm/
/// perf_regs.h): x0..x28 are 0..28, then the frame pointer x29, the link register x30, sp, pc.
const ARM64_FP: u32 = 29;
const ARM64_LR: u32 = 30;
const ARM64_SP: u32 = 31;
const ARM64_PC: u32 = 32;

/// Address bits of user code on aarch64 Linux (48-bit virtual addresses): the bits above are
/// cleared from return addresses, where pointer authentication (`-mbranch-protection`) puts a
/// signature. Known gap: framehop 0.16 reads `.eh_frame` without gimli's AArch64 vendor, so
/// the CFI of functions built with pac-ret (`DW_CFA_AARCH64_negate_ra_state`) is an error to
/// it and they are unwound by frame pointer instead (seen on qemu-aarch64 `-cpu max`).
const ARM64_CODE_ADDRESS_MASK: u64 = (1 << 48) - 1;

/// An instruction set whose stacks stacklens unwinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture a perf.data header names (HEADER_ARCH: `uname -m` of the recording
    /// machine); `None` for the others.
    pub fn from_uname(machine: &str) -> Option<Self> {
        match machine {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The machine stacklens runs on, if it is one it unwinds: the guess for a file that does
    /// not say where it was recorded.
    pub fn host() -> Option<Self> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }
}

/// The bytes of a section: a range of a mapped binary, or decompressed.
#[derive(Clone)]
pub enum SectionBytes {
    InFile(Arc<ElfFile>, Range<usize>),
    Owned(Arc<[u8]>),
}

impl Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SectionBytes::InFile(f, r) => f.file_bytes(r.clone()),
            SectionBytes::Owned(v) => v,
        }
    }
}

/// The unwind-relevant sections of one ELF file, borrowed from the binary symbolization opens
/// too (the process-wide cache of opened files: it is parsed once for both).
struct ElfSections {
    elf: Arc<ElfFile>,
    /// (name, address range as stated in the file, bytes).
    sections: Vec<(&'static [u8], Range<u64>, SectionBytes)>,
}

/// The sections framehop asks an ELF file for.
const SECTIONS: [&[u8]; 5] = [
    b".eh_frame",
    b".eh_frame_hdr",
    b".debug_frame",
    b".text",
    b".got",
];

/// Largest size a compressed `.debug_frame` may expand to.
const MAX_SECTION_BYTES: u64 = 256 << 20;

impl ElfSections {
    fn open(path: &std::path::Path) -> Result<Self, String> {
        let elf = crate::symbols::open_elf(path)?;
        let sections = SECTIONS
            .into_iter()
            .filter_map(|name| {
                let (svma, r) = elf.section_bytes(name, MAX_SECTION_BYTES)?;
                let bytes = match r {
                    SectionRef::File(r) => SectionBytes::InFile(elf.clone(), r),
                    SectionRef::Owned(v) => SectionBytes::Owned(Arc::from(v)),
                };
                Some((name, svma, bytes))
            })
            .collect();
        Ok(Self { elf, sections })
    }

    /// The stated address of a file offset.
    fn svma(&self, file_offset: u64) -> Option<u64> {
        self.elf.svma(file_offset)
    }

    fn get(&self, name: &[u8]) -> Option<&(&'static [u8], Range<u64>, SectionBytes)> {
        self.sections.iter().find(|(n, ..)| *n == name)
    }
}

impl ModuleSectionInfo<SectionBytes> for &ElfSections {
    fn base_svma(&self) -> u64 {
        0
    }
    fn section_svma_range(&mut self, name: &[u8]) -> Option<Range<u64>> {
        self.get(name).map(|(_, r, _)| r.clone())
    }
    fn section_data(&mut self, name: &[u8]) -> Option<SectionBytes> {
        self.get(name)
            .map(|(_, _, b)| b.clone())
            .filter(|b| !b.is_empty())
    }
}

/// The user registers framehop needs, from a sample's REGS_USER values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRegs {
    /// The sampled instruction (rip, pc).
    pub ip: u64,
    pub sp: u64,
    /// The frame pointer (rbp, x29).
    pub fp: u64,
    /// aarch64's link register x30: the return address of a function that has not saved it
    /// (a leaf, or any function in its prologue or epilogue). 0 on x86-64, which has none.
    pub lr: u64,
}

impl UserRegs {
    /// Picks the registers of `arch` out of the register values of a sample (`values`: one u64
    /// per set bit of `mask`, in bit order). `None` if the mask lacks one of them.
    pub fn new(arch: Arch, mask: u64, values: &[u8]) -> Option<Self> {
        let get = |reg: u32| -> Option<u64> {
            if mask & (1 << reg) == 0 {
                return None;
            }
            let idx = (mask & ((1u64 << reg) - 1)).count_ones() as usize;
            super::u64_at(values, idx * 8)
        };
        Some(match arch {
            Arch::X86_64 => Self {
                ip: get(X86_IP)?,
                sp: get(X86_SP)?,
                fp: get(X86_BP)?,
                lr: 0,
            },
            Arch::Aarch64 => Self {
                ip: get(ARM64_PC)?,
                sp: get(ARM64_SP)?,
                fp: get(ARM64_FP)?,
                lr: get(ARM64_LR)?,
            },
        })
    }
}

/// A DWARF-mode sample as decoded, before its user stack is unwound.
pub struct DwarfSample {
    pub thread: ThreadId,
    pub pid: i32,
    pub tid: i32,
    pub time: u64,
    pub sample_type: usize,
    pub weight: i64,
    pub regs: UserRegs,
    /// A `sched:sched_switch` sample: its stack is where the thread went off CPU.
    pub switch_out: bool,
}

/// A sample waiting in the batch for its user stack to be unwound.
pub struct Pending {
    pub sample: DwarfSample,
    /// Frames before the user part (kernel), leaf first: a range of [`DwarfUnwinder::frames`].
    pub frames: Range<usize>,
    pub stack: StackCopy,
}

/// Where a pending sample's copy of the user stack lies. Samples of an uncompressed file are
/// read where they are mapped (copying 8 KiB per sample was a quarter of a DWARF load);
/// those of compressed records, whose buffer is reused, are copied into the batch.
#[derive(Clone, Debug)]
pub enum StackCopy {
    /// Bytes of the file's data.
    File(Range<usize>),
    /// Bytes of [`DwarfUnwinder::copies`].
    Batch(Range<usize>),
}

/// Why an unwind stopped before the end of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stop {
    /// The next return address lies beyond the copied bytes of the stack.
    StackCopyEnded,
    /// Unwinding went nowhere or backwards: an address without unwind information whose
    /// frame-pointer fallback read garbage.
    NoProgress,
    /// A frame in a mapped file whose binary was not found: past it, framehop could only
    /// follow the frame-pointer register, which code built without frame pointers leaves
    /// holding an older frame's (a plausible stack with the callers in between missing).
    NoBinary,
    /// Other errors of the unwind information.
    BadUnwindInfo,
    /// More than [`MAX_FRAMES`] frames.
    TooDeep,
}

impl Stop {
    fn of(e: &framehop::Error) -> Self {
        match e {
            framehop::Error::CouldNotReadStack(_) => Stop::StackCopyEnded,
            framehop::Error::FramepointerUnwindingMovedBackwards
            | framehop::Error::DidNotAdvance => Stop::NoProgress,
            _ => Stop::BadUnwindInfo,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stop::StackCopyEnded => {
                "the copied stack ended (record with a larger --call-graph dwarf,SIZE)"
            }
            Stop::NoProgress => "code without unwind information",
            Stop::NoBinary => "code whose binary was not found",
            Stop::BadUnwindInfo => "unreadable unwind information",
            Stop::TooDeep => "more than 8192 frames",
        }
    }
}

/// The user frames of one sample: (address, is a return address), leaf first.
pub struct Unwound {
    pub frames: Vec<(u64, bool)>,
    pub stop: Option<Stop>,
}

/// What differs between architectures: framehop's unwinder, its registers, its rule cache.
trait ArchUnwinder: Unwinder<Module = Module<SectionBytes>> + Default + Sync {
    fn new_cache() -> Self::Cache;
    fn regs(r: &UserRegs) -> Self::UnwindRegs;
}

impl ArchUnwinder for UnwinderX86_64<SectionBytes> {
    fn new_cache() -> CacheX86_64 {
        CacheX86_64::new()
    }
    fn regs(r: &UserRegs) -> UnwindRegsX86_64 {
        UnwindRegsX86_64::new(r.ip, r.sp, r.fp)
    }
}

impl ArchUnwinder for UnwinderAarch64<SectionBytes> {
    fn new_cache() -> CacheAarch64 {
        CacheAarch64::new()
    }
    /// The sampled pc is not a return address; until the first function saves x30, its
    /// caller is found through `lr`.
    fn regs(r: &UserRegs) -> UnwindRegsAarch64 {
        UnwindRegsAarch64::new_with_ptr_auth_mask(
            PtrAuthMask(ARM64_CODE_ADDRESS_MASK),
            r.lr,
            r.sp,
            r.fp,
        )
    }
}

/// The unwinder of one process.
struct Proc<U> {
    /// Its modules.
    unwinder: U,
    /// Its file mappings whose binary was not found: an unwind stops at a frame in them.
    no_binary: Vec<Range<u64>>,
}

/// One unwinder per process, of the file's architecture.
enum Procs {
    X86_64(FxHashMap<i32, Proc<UnwinderX86_64<SectionBytes>>>),
    Aarch64(FxHashMap<i32, Proc<UnwinderAarch64<SectionBytes>>>),
}

impl Procs {
    fn new(arch: Arch) -> Self {
        match arch {
            Arch::X86_64 => Procs::X86_64(FxHashMap::default()),
            Arch::Aarch64 => Procs::Aarch64(FxHashMap::default()),
        }
    }

    fn arch(&self) -> Arch {
        match self {
            Procs::X86_64(_) => Arch::X86_64,
            Procs::Aarch64(_) => Arch::Aarch64,
        }
    }

    fn contains(&self, pid: i32) -> bool {
        match self {
            Procs::X86_64(m) => m.contains_key(&pid),
            Procs::Aarch64(m) => m.contains_key(&pid),
        }
    }

    fn insert(&mut self, pid: i32, modules: Vec<Module<SectionBytes>>, no_binary: Vec<Range<u64>>) {
        fn build<U: ArchUnwinder>(
            modules: Vec<Module<SectionBytes>>,
            no_binary: Vec<Range<u64>>,
        ) -> Proc<U> {
            let mut unwinder = U::default();
            for m in modules {
                unwinder.add_module(m);
            }
            Proc {
                unwinder,
                no_binary,
            }
        }
        match self {
            Procs::X86_64(m) => {
                m.insert(pid, build(modules, no_binary));
            }
            Procs::Aarch64(m) => {
                m.insert(pid, build(modules, no_binary));
            }
        }
    }

    /// Unwinds `batch` in parallel, a rule cache per worker; the results are in batch order.
    /// Stack copies are read from `file` or `copies`.
    fn unwind(&self, batch: &[Pending], file: &[u8], copies: &[u8]) -> Vec<Unwound> {
        fn run<U: ArchUnwinder>(
            procs: &FxHashMap<i32, Proc<U>>,
            batch: &[Pending],
            file: &[u8],
            copies: &[u8],
        ) -> Vec<Unwound> {
            let stack_of = |p: &Pending| -> &[u8] {
                let s = match &p.stack {
                    StackCopy::File(r) => file.get(r.clone()),
                    StackCopy::Batch(r) => copies.get(r.clone()),
                };
                s.unwrap_or_default()
            };
            batch
                .par_chunks(PREFETCH_CHUNK)
                .map_init(U::new_cache, |cache, chunk| {
                    let mut out = Vec::with_capacity(chunk.len());
                    for (i, p) in chunk.iter().enumerate() {
                        // The stack copies are cold (the passes before read only the records'
                        // first bytes): the words an unwind reads are one cache miss each,
                        // and were nine tenths of its time. The top of a later sample's
                        // stack is fetched while this one is unwound.
                        if let Some(next) = chunk.get(i + PREFETCH_AHEAD) {
                            let s = stack_of(next);
                            for at in (0..s.len().min(PREFETCH_BYTES)).step_by(64) {
                                super::records::prefetch(s, at);
                            }
                        }
                        out.push(match procs.get(&p.sample.pid) {
                            Some(u) => unwind_one(u, cache, &p.sample.regs, stack_of(p)),
                            None => Unwound {
                                frames: vec![(p.sample.regs.ip, false)],
                                stop: Some(Stop::BadUnwindInfo),
                            },
                        });
                    }
                    out
                })
                .flatten_iter()
                .collect()
        }
        match self {
            Procs::X86_64(m) => run(m, batch, file, copies),
            Procs::Aarch64(m) => run(m, batch, file, copies),
        }
    }
}

/// Unwinds batches of samples; owns the per-file and per-process caches.
pub struct DwarfUnwinder {
    finder: ModuleFinder,
    files: FxHashMap<ModuleId, Option<Arc<ElfSections>>>,
    modules: FxHashMap<(ModuleId, u64, u64), Module<SectionBytes>>,
    procs: Procs,
    pub batch: Vec<Pending>,
    pub batch_bytes: usize,
    /// The kernel frames of the batch's samples ([`Pending::frames`]).
    pub frames: Vec<FrameId>,
    /// The stack copies of the batch's samples that could not stay where they were read.
    pub copies: Vec<u8>,
    /// The lowest file offset a pending sample reads its stack from: the file's pages from
    /// there on stay mapped until the batch is unwound.
    pub first_file_offset: Option<usize>,
    /// Modules whose file was not found (path), for the warning.
    pub missing: Vec<String>,
    pub stops: FxHashMap<Stop, u64>,
    pub unwound: u64,
}

/// What the unwinder needs to know about a process's executable mappings.
pub struct MappingInfo {
    pub start: u64,
    pub end: u64,
    pub pgoff: u64,
    pub module: ModuleId,
    pub path: String,
    pub build_id: Option<String>,
}

impl DwarfUnwinder {
    /// An unwinder of `arch` stacks (the recording machine's).
    pub fn new(arch: Arch, finder: ModuleFinder) -> Self {
        Self {
            finder,
            files: FxHashMap::default(),
            modules: FxHashMap::default(),
            procs: Procs::new(arch),
            batch: Vec::new(),
            batch_bytes: 0,
            frames: Vec::new(),
            copies: Vec::new(),
            first_file_offset: None,
            missing: Vec::new(),
            stops: FxHashMap::default(),
            unwound: 0,
        }
    }

    /// The architecture whose registers and rules are used.
    pub fn arch(&self) -> Arch {
        self.procs.arch()
    }

    pub fn has_process(&self, pid: i32) -> bool {
        self.procs.contains(pid)
    }

    /// Builds the unwinder of `pid` from its executable mappings.
    pub fn add_process(&mut self, pid: i32, mappings: &[MappingInfo]) {
        let mut modules = Vec::with_capacity(mappings.len());
        let mut no_binary = Vec::new();
        for m in mappings {
            let key = (m.module, m.start, m.end);
            if !self.modules.contains_key(&key) {
                let Some(elf) = self.file(m) else {
                    // A file that was not found (not a pseudo-file such as the vDSO, which
                    // framehop walks through with frame pointers).
                    if m.path.starts_with('/') {
                        no_binary.push(m.start..m.end);
                    }
                    continue;
                };
                // Where the file's address 0 lies in the process: the mapping starts at file
                // offset pgoff, which the file states at svma(pgoff).
                let Some(svma) = elf.svma(m.pgoff) else {
                    continue;
                };
                let base = m.start.wrapping_sub(svma);
                let module = Module::new(m.path.clone(), m.start..m.end, base, &*elf);
                self.modules.insert(key, module);
            }
            modules.push(self.modules[&key].clone());
        }
        self.procs.insert(pid, modules, no_binary);
    }

    fn file(&mut self, m: &MappingInfo) -> Option<Arc<ElfSections>> {
        if let Some(f) = self.files.get(&m.module) {
            return f.clone();
        }
        let found = self
            .finder
            .find(&m.path, m.build_id.as_deref())
            .and_then(|p| ElfSections::open(&p).ok())
            .map(Arc::new);
        // The vDSO and other pseudo-files have no file to read: framehop walks frame
        // pointers through them.
        if found.is_none() && m.path.starts_with('/') {
            self.missing.push(m.path.clone());
        }
        self.files.insert(m.module, found.clone());
        found
    }

    /// Queues a sample; `stack` is its stack copy, read where it lies when that is inside
    /// `file` (the mapped data), else copied.
    pub fn push(&mut self, sample: DwarfSample, kernel: &[FrameId], stack: &[u8], file: &[u8]) {
        self.batch_bytes += stack.len();
        let at = self.frames.len();
        self.frames.extend_from_slice(kernel);
        let stack = match offset_in(file, stack) {
            Some(r) => {
                self.first_file_offset.get_or_insert(r.start);
                StackCopy::File(r)
            }
            None => {
                let at = self.copies.len();
                self.copies.extend_from_slice(stack);
                StackCopy::Batch(at..self.copies.len())
            }
        };
        self.batch.push(Pending {
            sample,
            frames: at..self.frames.len(),
            stack,
        });
    }

    /// Unwinds the batch in parallel; the results are in batch order. `file` is the data the
    /// batch was queued with.
    pub fn unwind_batch(&mut self, file: &[u8]) -> Vec<Unwound> {
        let out = self.procs.unwind(&self.batch, file, &self.copies);
        for u in &out {
            self.unwound += 1;
            if let Some(s) = u.stop {
                *self.stops.entry(s).or_default() += 1;
            }
        }
        self.batch_bytes = 0;
        self.copies.clear();
        self.first_file_offset = None;
        out
    }
}

/// Where `part` lies inside `whole`, when it does.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

fn unwind_one<U: ArchUnwinder>(
    proc: &Proc<U>,
    cache: &mut U::Cache,
    regs: &UserRegs,
    stack: &[u8],
) -> Unwound {
    let sp = regs.sp;
    let mut read = |addr: u64| -> Result<u64, ()> {
        let off = usize::try_from(addr.checked_sub(sp).ok_or(())?).map_err(|_| ())?;
        super::u64_at(stack, off).ok_or(())
    };
    let mut it = proc
        .unwinder
        .iter_frames(regs.ip, U::regs(regs), cache, &mut read);
    let mut frames = Vec::new();
    loop {
        match it.next() {
            Ok(Some(f)) => {
                if frames.len() >= MAX_FRAMES {
                    return Unwound {
                        frames,
                        stop: Some(Stop::TooDeep),
                    };
                }
                let ret = matches!(f, FrameAddress::ReturnAddress(_));
                let addr = f.address();
                frames.push((addr, ret));
                // The frame itself is sound (its caller's unwind information found it); the
                // next would be a guess.
                let inside = if ret { addr.wrapping_sub(1) } else { addr };
                if proc.no_binary.iter().any(|r| r.contains(&inside)) {
                    return Unwound {
                        frames,
                        stop: Some(Stop::NoBinary),
                    };
                }
            }
            Ok(None) => return Unwound { frames, stop: None },
            Err(e) => {
                return Unwound {
                    frames,
                    stop: Some(Stop::of(&e)),
                };
            }
        }
    }
}
