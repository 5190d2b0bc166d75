//! DWARF unwinding of `perf record --call-graph dwarf` samples.
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
//!   and a garbage frame pointer) keeps the frames it found and gets a marker root frame
//!   [`STOPPED_FRAME`]; the count per reason becomes a warning.

use crate::model::{FrameId, ModuleId, ThreadId};
use crate::symbols::{ElfFile, ModuleFinder, SectionRef};
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

/// Most frames taken from one sample: a stack copy is at most 64 KiB, so a real stack cannot
/// have more return addresses than this; a loop in damaged data stops here.
const MAX_FRAMES: usize = 8192;

/// perf's register numbers on x86-64 (`PERF_REG_X86_*`).
const X86_BP: u32 = 6;
const X86_SP: u32 = 7;
const X86_IP: u32 = 8;

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
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
}

impl UserRegs {
    /// Picks ip, sp and bp out of the register values of a sample (`values`: one u64 per set
    /// bit of `mask`, in bit order). `None` if the mask lacks one of them.
    pub fn x86_64(mask: u64, values: &[u8]) -> Option<Self> {
        let get = |reg: u32| -> Option<u64> {
            if mask & (1 << reg) == 0 {
                return None;
            }
            let idx = (mask & ((1u64 << reg) - 1)).count_ones() as usize;
            super::u64_at(values, idx * 8)
        };
        Some(Self {
            ip: get(X86_IP)?,
            sp: get(X86_SP)?,
            bp: get(X86_BP)?,
        })
    }
}

/// A sample waiting for its user stack to be unwound.
pub struct Pending {
    pub thread: ThreadId,
    pub pid: i32,
    pub tid: i32,
    pub time: u64,
    pub sample_type: usize,
    pub weight: i64,
    /// Frames before the user part (kernel), leaf first.
    pub frames: Vec<FrameId>,
    pub regs: UserRegs,
    pub stack: Vec<u8>,
    /// A `sched:sched_switch` sample: its stack is where the thread went off CPU.
    pub switch_out: bool,
}

/// Why an unwind stopped before the end of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stop {
    /// The next return address lies beyond the copied bytes of the stack.
    StackCopyEnded,
    /// Unwinding went nowhere or backwards: an address without unwind information whose
    /// frame-pointer fallback read garbage.
    NoProgress,
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

type ProcUnwinder = UnwinderX86_64<SectionBytes>;

/// Unwinds batches of samples; owns the per-file and per-process caches.
pub struct DwarfUnwinder {
    finder: ModuleFinder,
    files: FxHashMap<ModuleId, Option<Arc<ElfSections>>>,
    modules: FxHashMap<(ModuleId, u64, u64), Module<SectionBytes>>,
    procs: FxHashMap<i32, Arc<ProcUnwinder>>,
    pub batch: Vec<Pending>,
    pub batch_bytes: usize,
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
    pub fn new(finder: ModuleFinder) -> Self {
        Self {
            finder,
            files: FxHashMap::default(),
            modules: FxHashMap::default(),
            procs: FxHashMap::default(),
            batch: Vec::new(),
            batch_bytes: 0,
            missing: Vec::new(),
            stops: FxHashMap::default(),
            unwound: 0,
        }
    }

    pub fn has_process(&self, pid: i32) -> bool {
        self.procs.contains_key(&pid)
    }

    /// Builds the unwinder of `pid` from its executable mappings.
    pub fn add_process(&mut self, pid: i32, mappings: &[MappingInfo]) {
        let mut u = ProcUnwinder::new();
        for m in mappings {
            let key = (m.module, m.start, m.end);
            if !self.modules.contains_key(&key) {
                let Some(elf) = self.file(m) else {
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
            u.add_module(self.modules[&key].clone());
        }
        self.procs.insert(pid, Arc::new(u));
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

    /// Unwinds the batch in parallel; the results are in batch order.
    pub fn unwind_batch(&mut self) -> Vec<Unwound> {
        let procs = &self.procs;
        let out: Vec<Unwound> = self
            .batch
            .par_iter()
            .map_init(CacheX86_64::new, |cache, p| match procs.get(&p.pid) {
                Some(u) => unwind_one(u, cache, p),
                None => Unwound {
                    frames: vec![(p.regs.ip, false)],
                    stop: Some(Stop::BadUnwindInfo),
                },
            })
            .collect();
        for u in &out {
            self.unwound += 1;
            if let Some(s) = u.stop {
                *self.stops.entry(s).or_default() += 1;
            }
        }
        self.batch_bytes = 0;
        out
    }
}

fn unwind_one(u: &ProcUnwinder, cache: &mut CacheX86_64, p: &Pending) -> Unwound {
    let (sp, stack) = (p.regs.sp, &p.stack[..]);
    let mut read = |addr: u64| -> Result<u64, ()> {
        let off = usize::try_from(addr.checked_sub(sp).ok_or(())?).map_err(|_| ())?;
        super::u64_at(stack, off).ok_or(())
    };
    let regs = UnwindRegsX86_64::new(p.regs.ip, p.regs.sp, p.regs.bp);
    let mut it = u.iter_frames(p.regs.ip, regs, cache, &mut read);
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
                frames.push((f.address(), ret));
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
