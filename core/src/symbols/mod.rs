//! Symbolization: unique (module, address) frames → functions, source lines and inline chains.
//!
//! Runs after parsing, on the builder's unsymbolized frames. There are far fewer of those than
//! samples (a frame is deduplicated per module and address), and modules and address chunks
//! are resolved in parallel with rayon. Each resolved address becomes one frame per inline
//! level (outermost first), and the stack tree is rebuilt with those frames; an address nothing
//! is known about keeps a function named `module+0xoffset` so its weight is never dropped.
//!
//! Where a module's file is looked for, in order:
//! 1. in each `--symbols` directory, a file with the profile's build-id for the module (any
//!    file name, or the `.build-id/xx/rest` layout);
//! 2. in each `--symbols` directory, the module's file name, then its full path below it;
//! 3. the path recorded in the profile;
//! 4. perf's build-id cache, `~/.debug/.build-id/xx/rest/elf`;
//! 5. the debuginfod servers of [`SymbolOptions::debuginfod_urls`] (`/buildid/ID/executable`).
//!
//! A candidate whose build-id differs from the profile's is not used (a warning says so). A
//! separate debug file found this way (it has no code) is kept as the module's debug file.
//!
//! A binary without `.symtab` or DWARF (a distribution library) gets its separate debug file:
//! `/usr/lib/debug/.build-id/xx/rest.debug` (and the same below each `--symbols` directory),
//! then the `.gnu_debuglink` name next to the binary, in its `.debug/` directory, and below
//! `/usr/lib/debug/`, then debuginfod (`/buildid/ID/debuginfo`). The debug file must have the
//! binary's build-id. Without one, a MiniDebugInfo section (`.gnu_debugdata`) still names the
//! local functions `.dynsym` lacks.
//!
//! JIT code (`ModuleKind::Jit`) recorded as `/tmp/perf-<pid>.map` is named from that map file:
//! the file of that name in each `--symbols` directory, then the recorded path itself.
//!
//! Opened files are kept in a process-wide cache ([`file_cache_stats`]), so loading the same
//! profile again does not parse its binaries again. What was used for each module, and why a
//! module stayed unnamed, is recorded in [`Meta::modules`](crate::model::Meta::modules).

mod cache;
mod debuginfod;
mod demangle;
mod elf;
mod kernel;
mod perfmap;
mod store;
mod xz;

pub use debuginfod::{MAX_DOWNLOAD_BYTES, default_cache_dir as debuginfod_default_cache_dir};
pub use demangle::demangle;
pub use elf::{DwarfContext, ElfFile, ElfModule, SectionRef};
pub use kernel::{Kallsyms, LazyKallsyms};
pub use perfmap::PerfMap;

use crate::model::{
    FrameId, FuncId, FuncKind, ModuleId, ModuleKind, ModuleSymbols, ProfileBuilder, StrId,
};
use crate::progress::Phase;
use crate::{Progress, Result};
use elf::FoundFrame;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where and how to symbolize.
#[derive(Clone, Debug)]
pub struct SymbolOptions {
    /// Extra directories searched for binaries, by build-id first, then by name.
    pub search_dirs: Vec<PathBuf>,
    /// Expand inlined functions into frames of their own (default). Off, an address shows only
    /// the function it was compiled into, as `perf report` does.
    pub inline_frames: bool,
    /// Kernel symbol file for profiles recorded on this machine; `None` disables kernel symbols.
    pub kallsyms: Option<PathBuf>,
    /// Also look outside the search directories: at the paths recorded in the profile, in
    /// perf's build-id cache (`~/.debug`) and in `/usr/lib/debug`. Off, only `search_dirs`
    /// count (tests use this to be independent of the machine).
    pub system_paths: bool,
    /// debuginfod servers asked, by build-id, for a binary or debug file no local file
    /// provides. Empty (the default): no network. `http://` and `https://` servers;
    /// [`SymbolOptions::with_debuginfod_from_env`] takes them from `DEBUGINFOD_URLS`.
    pub debuginfod_urls: Vec<String>,
    /// Where debuginfod downloads are kept; `None`: [`debuginfod_default_cache_dir`]
    /// (`$XDG_CACHE_HOME/stacklens/debuginfod`, else `~/.cache/stacklens/debuginfod`).
    pub debuginfod_cache: Option<PathBuf>,
    /// Where resolved addresses are kept between loads, one file per module keyed by the
    /// identity of its binary and debug file; `None`: not kept. Default:
    /// `$XDG_CACHE_HOME/stacklens/symbols`, else `~/.cache/stacklens/symbols`.
    pub resolved_cache: Option<PathBuf>,
}

impl Default for SymbolOptions {
    fn default() -> Self {
        Self {
            search_dirs: Vec::new(),
            inline_frames: true,
            kallsyms: Some(PathBuf::from("/proc/kallsyms")),
            system_paths: true,
            debuginfod_urls: Vec::new(),
            debuginfod_cache: None,
            resolved_cache: store::default_dir(),
        }
    }
}

impl SymbolOptions {
    /// The servers of `DEBUGINFOD_URLS` (separated by spaces, as elfutils reads it).
    pub fn debuginfod_urls_from_env() -> Vec<String> {
        std::env::var("DEBUGINFOD_URLS")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// These options with the servers of `DEBUGINFOD_URLS` added to `debuginfod_urls`.
    pub fn with_debuginfod_from_env(mut self) -> Self {
        for u in Self::debuginfod_urls_from_env() {
            if !self.debuginfod_urls.contains(&u) {
                self.debuginfod_urls.push(u);
            }
        }
        self
    }
}

/// stacklens' cache directory: `$XDG_CACHE_HOME/stacklens` (an absolute one), else
/// `~/.cache/stacklens`; `None` without either variable.
fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("stacklens"))
}

/// `path` opened as an ELF file, shared with the process-wide cache of opened files (the same
/// file, unchanged, is parsed once). Its `path` is the canonical one.
pub fn open_elf(path: &Path) -> std::result::Result<Arc<ElfFile>, String> {
    cache::open(path)
}

/// The cache of opened files: (files held, hits, misses since the process started).
pub fn file_cache_stats() -> (usize, u64, u64) {
    cache::stats()
}

/// Empties the cache of opened files (their memory is freed once nothing uses them).
pub fn clear_file_cache() {
    cache::clear();
}

/// A profile of one native module `/probe/NAME` whose frames are `addresses + 1` file offsets
/// spread evenly over its `len` bytes (and one past them), four to a stack: what the ELF fuzz
/// target and its regression replay symbolize with a hostile file as the module.
#[doc(hidden)]
pub fn probe_profile(name: &str, len: u64, addresses: u64) -> ProfileBuilder {
    let mut b = ProfileBuilder::new("probe");
    b.add_sample_type("samples", crate::model::Unit::Count);
    let module = b.add_module(&format!("/probe/{name}"), "", ModuleKind::Native);
    let thread = b.add_thread(1, 1);
    let step = (len / addresses.max(1)).max(1);
    let offsets: Vec<u64> = (0..=len)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .take(
            usize::try_from(addresses)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .collect();
    for (i, chunk) in offsets.chunks(4).enumerate() {
        let frames: Vec<FrameId> = chunk
            .iter()
            .map(|&a| b.add_address_frame(module, a))
            .collect();
        let stack = b.add_stack_root_first(frames);
        b.add_sample_one(thread, stack, i as u64, 0, 1);
    }
    b
}

/// How the addresses of one module are resolved.
enum Resolver {
    Elf(ElfModule),
    /// A perf JIT map: absolute addresses → names.
    Jit(Arc<PerfMap>),
    /// Kallsyms, and the KASLR shift of the kernel image since the recording: applied to
    /// addresses inside the image's range at record time. Modules load at their own addresses,
    /// so on another boot (shift ≠ 0) module addresses stay unresolved rather than misnamed.
    Kernel {
        kallsyms: Arc<LazyKallsyms>,
        shift: u64,
        image: std::ops::Range<u64>,
    },
    /// Nothing to resolve with; frames are named after the module.
    Unresolved {
        kernel: bool,
    },
}

/// A module's resolver, and what to tell about it.
struct Resolution {
    resolver: Resolver,
    warnings: Vec<String>,
    /// See [`ModuleSymbols`].
    symbols_from: Option<String>,
    lines_from: Option<String>,
    problem: Option<String>,
}

impl Resolution {
    fn unresolved(kernel: bool, problem: impl Into<String>, warnings: Vec<String>) -> Self {
        Self {
            resolver: Resolver::Unresolved { kernel },
            warnings,
            symbols_from: None,
            lines_from: None,
            problem: Some(problem.into()),
        }
    }
}

/// Addresses below this many per module are resolved with a single DWARF context; above, the
/// list is split so every core gets work (each chunk builds its own context, which costs a
/// parse of the units it touches, so chunks should not be tiny).
const MIN_ADDRESSES_PER_CHUNK: usize = 512;

/// Symbolizes every unsymbolized frame of `b`, and records in `b.meta.modules` what each
/// module was symbolized from.
pub fn symbolize(b: &mut ProfileBuilder, opts: &SymbolOptions, progress: &Progress) -> Result<()> {
    let mut by_module: FxHashMap<ModuleId, Vec<(usize, u64)>> = FxHashMap::default();
    for i in 0..b.frames.len() {
        if !b.frames.func[i].is_some() {
            by_module
                .entry(b.frames.module[i])
                .or_default()
                .push((i, b.frames.address[i]));
        }
    }
    let total: usize = by_module.values().map(Vec::len).sum();
    progress.start_phase(Phase::Symbolizing, total as u64);
    if total == 0 {
        return Ok(());
    }
    let mut modules: Vec<(ModuleId, Vec<(usize, u64)>)> = by_module.into_iter().collect();
    modules.sort_by_key(|(m, _)| *m);

    // Find the files (in parallel: opening parses symbol tables).
    let mut search = Search::new(&opts.search_dirs);
    let infos: Vec<ModuleInfo> = modules.iter().map(|(m, _)| module_info(b, *m)).collect();
    search.index_build_ids(&infos);
    let client = debuginfod::Client::new(&opts.debuginfod_urls, opts.debuginfod_cache.as_deref());
    let cx = Lookup {
        opts,
        search: &search,
        debuginfod: client.as_ref(),
    };
    // The kernel's symbols (reading /proc/kallsyms: the kernel formats 100k+ lines, a
    // dozen ms) load while the files of the other modules are opened.
    let builder: &ProfileBuilder = b;
    let (kernel, opened) = rayon::join(
        || KernelContext::new(builder, opts),
        || {
            infos
                .par_iter()
                .map(|info| (info.kind != ModuleKind::Kernel).then(|| resolver_for(info, &cx)))
                .collect::<Vec<_>>()
        },
    );
    let resolutions: Vec<Resolution> = infos
        .iter()
        .zip(opened)
        .map(|(info, r)| r.unwrap_or_else(|| kernel_resolution(info, &kernel, opts)))
        .collect();
    let mut warnings = Vec::new();
    let mut resolvers = Vec::with_capacity(resolutions.len());
    let mut reports = Vec::with_capacity(resolutions.len());
    for r in resolutions {
        warnings.extend(r.warnings);
        resolvers.push(r.resolver);
        reports.push((r.symbols_from, r.lines_from, r.problem));
    }
    if let Some(c) = &client {
        warnings.extend(c.take_warnings());
    }
    if let Some(w) = &kernel.warning
        && infos
            .iter()
            .zip(&modules)
            .any(|(i, (_, a))| i.kind == ModuleKind::Kernel && !a.is_empty())
    {
        warnings.push(w.clone());
    }

    // Answers kept from earlier loads of the same files: those addresses need no lookup.
    let inline = opts.inline_frames;
    let disk = opts.resolved_cache.as_deref().map(store::Store::new);
    let mut kept: Vec<Option<(u64, store::Answers)>> = resolvers
        .iter()
        .map(|r| match (r, &disk) {
            (Resolver::Elf(m), Some(disk)) => {
                let key = store::Store::key(m, inline);
                Some((key, disk.load(key)))
            }
            (
                Resolver::Kernel {
                    kallsyms,
                    shift,
                    image,
                },
                Some(disk),
            ) => {
                let key = store::Store::kernel_key(kallsyms.stamp, *shift, image);
                Some((key, disk.load(key)))
            }
            _ => None,
        })
        .collect();
    let missing: Vec<Vec<(usize, u64)>> = modules
        .iter()
        .zip(&kept)
        .map(|((_, addrs), k)| match k {
            Some((_, answers)) => addrs
                .iter()
                .filter(|(_, a)| !answers.contains_key(a))
                .copied()
                .collect(),
            None => addrs.clone(),
        })
        .collect();
    progress.add_done((total - missing.iter().map(Vec::len).sum::<usize>()) as u64);

    // Resolve every other address: modules and chunks in parallel.
    let threads = rayon::current_num_threads().max(1);
    let jobs: Vec<(usize, &[(usize, u64)])> = missing
        .iter()
        .enumerate()
        .flat_map(|(mi, addrs)| {
            let chunk = (addrs.len() / threads).max(MIN_ADDRESSES_PER_CHUNK);
            addrs.chunks(chunk).map(move |c| (mi, c))
        })
        .collect();
    let resolved: Vec<Vec<(usize, Vec<FoundFrame>)>> = jobs
        .par_iter()
        .map(|&(mi, chunk)| {
            if progress.is_cancelled() {
                return Vec::new();
            }
            let out = match &resolvers[mi] {
                Resolver::Elf(elf) => {
                    let ctx = elf.dwarf_context();
                    chunk
                        .iter()
                        .map(|&(fi, addr)| (fi, elf.frames(ctx.as_ref(), addr, inline)))
                        .collect()
                }
                Resolver::Jit(map) => chunk
                    .iter()
                    .map(|&(fi, addr)| {
                        let found = map.lookup(addr).map(|(name, start)| FoundFrame {
                            name: name.to_string(),
                            file: None,
                            line: 0,
                            symbol_start: Some(start),
                        });
                        (fi, found.into_iter().collect())
                    })
                    .collect(),
                Resolver::Kernel {
                    kallsyms,
                    shift,
                    image,
                } => chunk
                    .iter()
                    .map(|&(fi, addr)| {
                        let Some(k) = kallsyms.get() else {
                            return (fi, Vec::new());
                        };
                        let found = if *shift == 0 {
                            k.lookup(addr)
                        } else if image.contains(&addr) {
                            k.lookup(addr.wrapping_add(*shift))
                        } else {
                            None
                        };
                        (fi, found.into_iter().collect())
                    })
                    .collect(),
                Resolver::Unresolved { .. } => {
                    chunk.iter().map(|&(fi, _)| (fi, Vec::new())).collect()
                }
            };
            progress.add_done(chunk.len() as u64);
            out
        })
        .collect();
    progress.check()?;

    // Every module's answers in the order of its addresses (as without the disk cache, so
    // that the profile does not depend on what was kept): a kept answer, else the next one
    // resolved (`missing` and its chunks are in address order). The new ones are kept.
    let mut fresh: Vec<Vec<(usize, Vec<FoundFrame>)>> = vec![Vec::new(); modules.len()];
    for ((mi, _), out) in jobs.iter().zip(resolved) {
        fresh[*mi].extend(out);
    }
    /// A module's index, and each of its frames with what was found for its address.
    type Answered = (usize, Vec<(usize, Vec<FoundFrame>)>);
    let mut results: Vec<Answered> = Vec::with_capacity(modules.len());
    for (mi, ((_, addrs), new)) in modules.iter().zip(fresh).enumerate() {
        let kept = kept[mi].take();
        let any_new = !new.is_empty();
        let mut new = new.into_iter();
        let out: Vec<(usize, Vec<FoundFrame>)> = addrs
            .iter()
            .map(
                |&(fi, a)| match kept.as_ref().and_then(|(_, answers)| answers.get(&a)) {
                    Some(found) => (fi, found.clone()),
                    None => {
                        let (resolved_fi, found) = new.next().unwrap_or((fi, Vec::new()));
                        debug_assert_eq!(resolved_fi, fi, "resolved out of order");
                        (fi, found)
                    }
                },
            )
            .collect();
        if let (Some(disk), Some((key, mut answers))) = (&disk, kept)
            && any_new
        {
            for (&(_, a), (_, found)) in addrs.iter().zip(&out) {
                answers.entry(a).or_insert_with(|| found.clone());
            }
            disk.save(key, &answers);
        }
        results.push((mi, out));
    }

    // Intern the results (sequential: the builder's tables are not shared).
    //
    // A function's source file must not depend on which of its addresses was looked up (some
    // addresses have no line information), or one function would split into two. So the file
    // of a function is the first one any of its addresses reported, keyed by module, name and,
    // for real (outermost) functions, the symbol's start address.
    type FileKey<'a> = (ModuleId, &'a str, u64);
    let key = |module: ModuleId, f: &FoundFrame| -> (ModuleId, u64) {
        (module, f.symbol_start.unwrap_or(u64::MAX))
    };
    let mut file_of: FxHashMap<FileKey<'_>, &str> = FxHashMap::default();
    for (mi, out) in &results {
        let module = modules[*mi].0;
        for (_, found) in out {
            for f in found {
                if let Some(file) = f.file.as_deref() {
                    let (m, start) = key(module, f);
                    file_of.entry((m, f.name.as_str(), start)).or_insert(file);
                }
            }
        }
    }
    let mut expansion: Vec<Vec<FrameId>> = vec![Vec::new(); b.frames.len()];
    let mut unresolved: FxHashMap<ModuleId, usize> = FxHashMap::default();
    // Per module: distinct addresses that got a name.
    let mut named: Vec<Vec<u64>> = vec![Vec::new(); modules.len()];
    for (mi, out) in &results {
        let module = modules[*mi].0;
        let kernel_module = matches!(
            resolvers[*mi],
            Resolver::Kernel { .. } | Resolver::Unresolved { kernel: true }
        );
        for (fi, found) in out {
            let fi = *fi;
            let address = b.frames.address[fi];
            if found.is_empty() {
                *unresolved.entry(module).or_default() += 1;
                let name = if kernel_module {
                    "[kernel]".to_string()
                } else if infos[*mi].kind == ModuleKind::Unknown {
                    // No mapping holds the address (frame-pointer garbage, unrecorded JIT
                    // code): one `[unknown]` function, as perf shows it; frames keep addresses.
                    "[unknown]".to_string()
                } else {
                    crate::model::unresolved_name(b, module, address)
                };
                let name = b.intern(&name);
                let kind = if kernel_module {
                    FuncKind::Kernel
                } else {
                    FuncKind::Unresolved
                };
                let func = b.add_func(name, module, StrId::NONE, 0, kind);
                expansion[fi] = vec![b.add_frame(func, module, address, 0, 0)];
                continue;
            }
            named[*mi].push(address);
            let kind = match resolvers[*mi] {
                _ if kernel_module => FuncKind::Kernel,
                Resolver::Jit(_) => FuncKind::Jit,
                _ => FuncKind::Native,
            };
            let mut frames = Vec::with_capacity(found.len());
            for (depth, f) in found.iter().enumerate() {
                let (m, start) = key(module, f);
                let file = file_of.get(&(m, f.name.as_str(), start)).copied();
                let name = b.intern(&f.name);
                let file = file.map_or(StrId::NONE, |p| b.intern(p));
                let func: FuncId =
                    b.add_func(name, module, file, f.symbol_start.unwrap_or(0), kind);
                let depth = u16::try_from(depth).unwrap_or(u16::MAX);
                frames.push(b.add_frame(func, module, address, f.line, depth));
            }
            expansion[fi] = frames;
        }
    }
    let mut unresolved: Vec<_> = unresolved.into_iter().collect();
    unresolved.sort();
    let listed: Vec<String> = unresolved
        .iter()
        .filter_map(|&(m, n)| {
            let mi = modules.iter().position(|(x, _)| *x == m)?;
            matches!(resolvers[mi], Resolver::Elf(_))
                .then(|| format!("{} ({n} of {})", infos[mi].name, modules[mi].1.len()))
        })
        .collect();
    if !listed.is_empty() {
        warnings.push(format!(
            "some addresses matched no symbol (stripped code, or gaps between functions) and show as module+0x…: {}",
            listed.join(", ")
        ));
    }
    for w in warnings {
        b.warn(w);
    }
    for (mi, ((info, (_, addrs)), (symbols_from, lines_from, problem))) in
        infos.iter().zip(&modules).zip(reports).enumerate()
    {
        b.meta.modules.push(ModuleSymbols {
            path: info.path.clone(),
            build_id: info.build_id.clone(),
            kind: info.kind,
            symbols_from,
            lines_from,
            addresses: distinct(addrs.iter().map(|&(_, a)| a).collect()),
            resolved: distinct(std::mem::take(&mut named[mi])),
            problem,
        });
    }
    b.rebuild_stacks(&expansion);
    Ok(())
}

/// Number of distinct values.
fn distinct(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.dedup();
    v.len() as u64
}

/// What symbolization needs to know of a module.
struct ModuleInfo {
    path: String,
    name: String,
    build_id: Option<String>,
    kind: ModuleKind,
    /// For the kernel: `_text` at record time (perf's relocation reference), 0 if unknown.
    text_at_record: u64,
    /// For the kernel: the image's address range at record time (empty if unknown).
    image: std::ops::Range<u64>,
}

fn module_info(b: &ProfileBuilder, m: ModuleId) -> ModuleInfo {
    let i = m.index();
    match m.get().filter(|_| i < b.modules.len()) {
        Some(_) => ModuleInfo {
            path: b.string(b.modules.path[i]).to_string(),
            name: b.string(b.modules.name[i]).to_string(),
            build_id: b
                .module_build_id(m)
                .filter(|b| valid_build_id(b))
                .map(str::to_string),
            kind: b.modules.kind[i],
            text_at_record: b.modules.file_offset[i],
            image: b.modules.start[i]..b.modules.end[i],
        },
        None => ModuleInfo {
            path: String::new(),
            name: String::new(),
            build_id: None,
            kind: ModuleKind::Unknown,
            text_at_record: 0,
            image: 0..0,
        },
    }
}

/// A build-id that may become part of a file path: hex, 2 to 64 bytes. (A profile's build-ids
/// are untrusted: `../..` must not reach a path.)
fn valid_build_id(hex: &str) -> bool {
    (4..=128).contains(&hex.len())
        && hex.len().is_multiple_of(2)
        && hex.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Normalized build-id for comparisons: lowercase hex without trailing zero bytes (old perf
/// files pad 16-byte ids to 20 with zeros).
fn normalize_build_id(hex: &str) -> String {
    let mut s = hex.to_ascii_lowercase();
    while s.ends_with("00") {
        s.truncate(s.len() - 2);
    }
    s
}

/// The build-id index of the search directories.
struct Search {
    dirs: Vec<PathBuf>,
    /// Files by normalized build-id, binaries before separate debug files (both carry the
    /// build-id; only the binary maps file offsets to addresses).
    by_build_id: FxHashMap<String, Vec<PathBuf>>,
}

/// Most files read per search directory when indexing build-ids: a directory of binaries is
/// small; a huge one (someone passed `/`) must not stall the load.
const MAX_FILES_PER_DIR: usize = 10_000;

impl Search {
    fn new(dirs: &[PathBuf]) -> Self {
        Self {
            dirs: dirs.to_vec(),
            by_build_id: FxHashMap::default(),
        }
    }

    /// Reads the build-id of every ELF file directly in the search directories, when some
    /// module wants one.
    fn index_build_ids(&mut self, infos: &[ModuleInfo]) {
        let wanted: Vec<String> = infos
            .iter()
            .filter_map(|i| i.build_id.as_deref().map(normalize_build_id))
            .collect();
        if wanted.is_empty() || self.dirs.is_empty() {
            return;
        }
        for dir in &self.dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in rd.flatten().take(MAX_FILES_PER_DIR) {
                let path = entry.path();
                if !path.is_file() {
                    continue;
                }
                if let Some((id, code)) = read_build_id_and_code(&path) {
                    let id = normalize_build_id(&id);
                    if wanted.contains(&id) {
                        let paths = self.by_build_id.entry(id).or_default();
                        if code {
                            paths.insert(0, path);
                        } else {
                            paths.push(path);
                        }
                    }
                }
            }
        }
    }

    /// Candidate files for a module, in search order.
    fn candidates(&self, info: &ModuleInfo, opts: &SymbolOptions) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let bid = info.build_id.as_deref().map(normalize_build_id);
        if let Some(bid) = &bid {
            if let Some(p) = self.by_build_id.get(bid) {
                out.extend(p.iter().cloned());
            }
            if bid.len() > 2 {
                for dir in &self.dirs {
                    out.push(dir.join(".build-id").join(&bid[..2]).join(&bid[2..]));
                    out.push(
                        dir.join(".build-id")
                            .join(&bid[..2])
                            .join(format!("{}.debug", &bid[2..])),
                    );
                }
            }
        }
        for dir in &self.dirs {
            if !info.name.is_empty() {
                out.push(dir.join(&info.name));
            }
            let rel = info.path.trim_start_matches('/');
            if !rel.is_empty() && rel != info.name {
                out.push(dir.join(rel));
            }
        }
        if opts.system_paths && info.path.starts_with('/') {
            out.push(PathBuf::from(&info.path));
        }
        if let (true, Some(bid), Some(home)) = (opts.system_paths, &bid, std::env::var_os("HOME"))
            && bid.len() > 2
        {
            out.push(
                Path::new(&home)
                    .join(".debug/.build-id")
                    .join(&bid[..2])
                    .join(&bid[2..])
                    .join("elf"),
            );
        }
        out.dedup();
        out
    }
}

/// Finds the file of a module the way symbolization does (search directories by build-id and
/// name, the recorded path, perf's build-id cache), for other readers of binaries: the DWARF
/// unwinder of `perf record --call-graph dwarf` samples needs each module's `.eh_frame`.
pub(crate) struct ModuleFinder {
    search: Search,
    opts: SymbolOptions,
}

impl ModuleFinder {
    /// `wanted`: the build-ids of the modules that will be looked for (indexes the search
    /// directories for them once).
    pub(crate) fn new(opts: &SymbolOptions, wanted: &[&str]) -> Self {
        let mut search = Search::new(&opts.search_dirs);
        let infos: Vec<ModuleInfo> = wanted
            .iter()
            .filter(|b| valid_build_id(b))
            .map(|b| ModuleInfo {
                path: String::new(),
                name: String::new(),
                build_id: Some(b.to_string()),
                kind: ModuleKind::Native,
                text_at_record: 0,
                image: 0..0,
            })
            .collect();
        search.index_build_ids(&infos);
        Self {
            search,
            opts: opts.clone(),
        }
    }

    /// The first candidate file for the module recorded at `path` (with `build_id`, hex, if
    /// known) that exists and, when the build-id is known, has it.
    pub(crate) fn find(&self, path: &str, build_id: Option<&str>) -> Option<PathBuf> {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = ModuleInfo {
            path: path.to_string(),
            name,
            build_id: build_id.filter(|b| valid_build_id(b)).map(str::to_string),
            kind: ModuleKind::Native,
            text_at_record: 0,
            image: 0..0,
        };
        let want = info.build_id.as_deref().map(normalize_build_id);
        self.search
            .candidates(&info, &self.opts)
            .into_iter()
            .find(|c| {
                // With a build-id, the binary itself: a separate debug file has the same id
                // but no code (its sections are empty).
                c.is_file()
                    && want.as_ref().is_none_or(|w| {
                        read_build_id_and_code(c)
                            .is_some_and(|(h, code)| code && normalize_build_id(&h) == *w)
                    })
            })
    }
}

/// The build-id of an ELF file, as hex, without reading more than its headers and notes.
fn read_build_id(path: &Path) -> Option<String> {
    read_build_id_and_code(path).map(|(id, _)| id)
}

/// The build-id of an ELF file, as hex, and whether it has code (a separate debug file has
/// none), reading only headers and notes.
fn read_build_id_and_code(path: &Path) -> Option<(String, bool)> {
    use object::{Object, ObjectSection};
    let file = crate::mapped::open_regular(path).ok()?;
    let mut magic = [0u8; 4];
    use std::io::Read;
    (&file).read_exact(&mut magic).ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    // SAFETY: read-only map; see `formats::load`.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let obj = object::File::parse(&map[..]).ok()?;
    let id = obj.build_id().ok()??;
    let code = obj.sections().any(|s| {
        s.kind() == object::SectionKind::Text && s.file_range().is_some_and(|(_, n)| n > 0)
    });
    Some((crate::formats::bytes::hex(id), code))
}

/// The kernel symbols to use: the profile's own copy of kallsyms in perf's build-id cache, or
/// the running kernel's when it is the profile's.
struct KernelContext {
    kallsyms: Option<std::sync::Arc<LazyKallsyms>>,
    /// Where `kallsyms` came from.
    from: Option<String>,
    warning: Option<String>,
}

impl KernelContext {
    fn none(warning: Option<String>) -> Self {
        Self {
            kallsyms: None,
            from: None,
            warning,
        }
    }

    fn found(k: LazyKallsyms, from: &Path) -> Self {
        Self {
            kallsyms: Some(std::sync::Arc::new(k)),
            from: Some(from.display().to_string()),
            warning: None,
        }
    }

    fn new(b: &ProfileBuilder, opts: &SymbolOptions) -> Self {
        let has_kernel_frames = (0..b.frames.len()).any(|i| {
            !b.frames.func[i].is_some()
                && b.frames.module[i]
                    .get()
                    .is_some_and(|m| b.modules.kind.get(m.index()) == Some(&ModuleKind::Kernel))
        });
        if !has_kernel_frames {
            return Self::none(None);
        }
        let Some(path) = &opts.kallsyms else {
            return Self::none(Some(
                "kernel symbols are off: kernel frames show as [kernel]".into(),
            ));
        };
        let kernel = (0..b.modules.len()).find(|&i| b.modules.kind[i] == ModuleKind::Kernel);
        let recorded_bid = kernel
            .and_then(|i| b.module_build_id(ModuleId::from_index(i)))
            .filter(|b| valid_build_id(b))
            .map(str::to_ascii_lowercase);
        let kernel_bid = recorded_bid.as_deref().map(normalize_build_id);
        // perf's `_text` address at record time (0 when the file has no kernel map).
        let text_then = kernel.map_or(0, |i| b.modules.file_offset[i]);

        // The copy `perf record` (or `perf archive`) kept in the build-id cache: the profile's
        // own kernel symbols, wherever the file is opened.
        let cached = recorded_bid
            .as_deref()
            .and_then(|bid| cached_kallsyms(bid, opts));
        let cached = match cached {
            // Copied during the recording's boot: exact for the kernel and its modules.
            Some((p, k)) if text_then != 0 && k.text == Some(text_then) => {
                return Self::found(k, &p);
            }
            c => c,
        };

        let running = || match LazyKallsyms::probe(path) {
            Some(k) => Ok(k),
            None => Err(format!(
                "kernel frames show as [kernel]: {} is unreadable or shows no addresses (as root, or with sysctl kernel.kptr_restrict=0, it does)",
                path.display()
            )),
        };
        // Is the profile's kernel the running one? By build-id when the file has it; else by
        // the same `_text` address (same boot: KASLR puts it elsewhere on every boot); else by
        // host name and kernel release.
        let (same, why_not) = match (&kernel_bid, kernel::running_kernel_build_id()) {
            (Some(want), Some(have)) => (
                *want == normalize_build_id(&crate::formats::bytes::hex(&have)),
                format!("its kernel build-id {want} is not the running kernel's"),
            ),
            _ => {
                let read = |p: &str| {
                    std::fs::read_to_string(p)
                        .ok()
                        .map(|s| s.trim().to_string())
                };
                let host = read("/proc/sys/kernel/hostname");
                let release = read("/proc/sys/kernel/osrelease");
                if b.meta.hostname.is_some() {
                    (
                        b.meta.hostname == host && b.meta.os_release == release,
                        format!(
                            "it was recorded on {} ({}), not this machine",
                            b.meta.hostname.as_deref().unwrap_or("?"),
                            b.meta.os_release.as_deref().unwrap_or("unknown kernel")
                        ),
                    )
                } else {
                    // No header information (a killed perf record): same boot if `_text` is
                    // where it was.
                    let k = running();
                    let same_boot =
                        text_then != 0 && k.as_ref().ok().and_then(|k| k.text) == Some(text_then);
                    if same_boot {
                        return Self::from_running(k, path);
                    }
                    (
                        false,
                        "the file does not say which kernel it was recorded on".to_string(),
                    )
                }
            }
        };
        match (same, cached) {
            (true, _) => Self::from_running(running(), path),
            // A copy from another boot of the same kernel: the image is relocated by `_text`
            // (KASLR); module addresses may have moved.
            (false, Some((p, k))) => Self::found(k, &p),
            (false, None) => Self::none(Some(format!(
                "kernel frames show as [kernel]: {why_not}, and perf's build-id cache has no copy of its kallsyms{}",
                recorded_bid
                    .as_deref()
                    .map(|b| format!(
                        " (~/.debug/[kernel.kallsyms]/{b}/kallsyms; `perf archive` on the recording machine makes one, to unpack into ~/.debug or a --symbols directory)"
                    ))
                    .unwrap_or_default()
            ))),
        }
    }

    fn from_running(k: Result<LazyKallsyms, String>, path: &Path) -> Self {
        match k {
            Ok(k) => Self::found(k, path),
            Err(w) => Self::none(Some(w)),
        }
    }
}

/// The profile's kallsyms in perf's build-id cache layout, below each `--symbols` directory and
/// `~/.debug`: `.build-id/xx/rest/kallsyms` (what `perf archive` packs) or
/// `[kernel.kallsyms]/ID/kallsyms`. `bid`: the recorded build-id, lowercase hex.
fn cached_kallsyms(bid: &str, opts: &SymbolOptions) -> Option<(PathBuf, LazyKallsyms)> {
    let mut dirs = opts.search_dirs.clone();
    if opts.system_paths
        && let Some(home) = std::env::var_os("HOME")
    {
        dirs.push(Path::new(&home).join(".debug"));
    }
    let mut ids = vec![bid.to_string()];
    let short = normalize_build_id(bid);
    if short != bid {
        ids.push(short);
    }
    dirs.iter()
        .flat_map(|d| {
            ids.iter().flat_map(move |id| {
                [
                    d.join(".build-id")
                        .join(&id[..2])
                        .join(&id[2..])
                        .join("kallsyms"),
                    d.join("[kernel.kallsyms]").join(id).join("kallsyms"),
                ]
            })
        })
        .find_map(|p| LazyKallsyms::probe(&p).map(|k| (p, k)))
}

/// What [`resolver_for`] looks with.
struct Lookup<'a> {
    opts: &'a SymbolOptions,
    search: &'a Search,
    debuginfod: Option<&'a debuginfod::Client>,
}

/// The build-id to ask debuginfod for: as recorded, except that a 16-byte id perf padded to
/// 20 bytes loses its padding.
fn debuginfod_id(recorded: &str) -> String {
    let id = recorded.to_ascii_lowercase();
    if id.len() == 40 && id.ends_with("00000000") {
        normalize_build_id(&id)
    } else {
        id
    }
}

/// At most this many searched paths are named in a module's problem.
const MAX_PATHS_SHOWN: usize = 6;

/// `a, b, c` (and how many more).
fn path_list(paths: &[PathBuf]) -> String {
    let mut s: Vec<String> = paths
        .iter()
        .take(MAX_PATHS_SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > MAX_PATHS_SHOWN {
        s.push(format!("and {} more", paths.len() - MAX_PATHS_SHOWN));
    }
    s.join(", ")
}

fn resolver_for(info: &ModuleInfo, cx: &Lookup<'_>) -> Resolution {
    match info.kind {
        ModuleKind::Kernel => {
            unreachable!("kernel modules are resolved with the kernel's symbols")
        }
        ModuleKind::Jit => return jit_resolution(info, cx),
        // The vDSO is found by build-id (perf saves it in its build-id cache).
        ModuleKind::Native | ModuleKind::Vdso => {}
        ModuleKind::Unknown => {
            return Resolution::unresolved(
                false,
                "addresses in no recorded mapping (code the recording did not see mapped, or a broken stack)",
                Vec::new(),
            );
        }
        ModuleKind::Virtual => {
            return Resolution::unresolved(false, "not machine code", Vec::new());
        }
    }
    let opts = cx.opts;
    let mut warnings = Vec::new();
    let want = info.build_id.as_deref().map(normalize_build_id);
    let mut searched = Vec::new();
    let mut mismatch = None;
    // A separate debug file met among the candidates: the module's debug file if its binary
    // turns up.
    let mut debug_only: Option<Arc<ElfFile>> = None;
    let has_want = |elf: &ElfFile| {
        let have = elf
            .build_id
            .as_deref()
            .map(|b| normalize_build_id(&crate::formats::bytes::hex(b)));
        match &want {
            Some(w) if have.as_deref() != Some(w.as_str()) => Err(have),
            _ => Ok(()),
        }
    };
    for path in cx.search.candidates(info, opts) {
        if !path.is_file() {
            searched.push(path);
            continue;
        }
        let elf = match cache::open(&path) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!(
                    "{}: cannot read it for {}: {e}",
                    path.display(),
                    info.path
                ));
                searched.push(path);
                continue;
            }
        };
        if let Err(have) = has_want(&elf) {
            let have = have.as_deref().unwrap_or("(none)");
            let want = want.as_deref().unwrap_or("");
            warnings.push(format!(
                "{}: build-id {have} does not match the profile's {want} for {}; not used",
                path.display(),
                info.path
            ));
            mismatch.get_or_insert_with(|| {
                format!(
                    "build-id mismatch at {}: it has {have}, the profile {want}",
                    path.display()
                )
            });
            continue;
        }
        if !elf.has_code {
            debug_only.get_or_insert(elf);
            continue;
        }
        return with_debug_file(info, elf, debug_only, cx);
    }
    // debuginfod, by build-id.
    if let (Some(client), Some(recorded)) = (cx.debuginfod, info.build_id.as_deref())
        && let Some(path) = client.fetch(&debuginfod_id(recorded), debuginfod::Artifact::Executable)
        && let Ok(elf) = cache::open(&path)
        && has_want(&elf).is_ok()
        && elf.has_code
    {
        return with_debug_file(info, elf, debug_only, cx);
    }
    if info.kind == ModuleKind::Vdso {
        // The running kernel's vDSO is mapped into this process: the profile's, when the
        // build-ids match (recorded on this kernel).
        if cx.opts.system_paths
            && let Some(path) = kernel::running_vdso_file()
            && let Ok(elf) = cache::open(&path)
        {
            if has_want(&elf).is_ok() {
                return with_debug_file(info, elf, debug_only, cx);
            }
            return Resolution::unresolved(
                false,
                "the profile's vDSO is not the running kernel's, and perf's build-id cache (~/.debug) has no copy of it",
                Vec::new(),
            );
        }
        // Without perf's build-id cache the vDSO is simply not on disk: nothing to act on.
        return Resolution::unresolved(
            false,
            "the vDSO is only on disk in perf's build-id cache (~/.debug) of the recording machine",
            Vec::new(),
        );
    }
    if let Some(debug) = debug_only {
        return Resolution::unresolved(
            false,
            format!(
                "only a separate debug file found ({}); without the binary its addresses cannot be mapped",
                debug.path.display()
            ),
            warnings,
        );
    }
    warnings.push(format!(
        "no binary found for {}{}: its frames show as {}+0x… (pass --symbols DIR with a copy of it)",
        info.path,
        info.build_id
            .as_deref()
            .map(|b| format!(" (build-id {b})"))
            .unwrap_or_default(),
        info.name
    ));
    let problem = mismatch.unwrap_or_else(|| {
        let mut p = format!("no binary found (searched: {})", path_list(&searched));
        if cx.debuginfod.is_some() && info.build_id.is_some() {
            p.push_str("; debuginfod has none");
        }
        p
    });
    Resolution::unresolved(false, problem, warnings)
}

/// The resolution of a found binary: with its separate debug file when it lacks symbols or
/// DWARF (`debug_only`, a debug file met among the candidates, when no other is found).
fn with_debug_file(
    info: &ModuleInfo,
    bin: Arc<ElfFile>,
    debug_only: Option<Arc<ElfFile>>,
    cx: &Lookup<'_>,
) -> Resolution {
    let debug = if bin.wants_debug_file() {
        find_debug_file(&bin, cx).or(debug_only)
    } else {
        None
    };
    let m = ElfModule { bin, debug };
    let syms = m.symbol_file();
    let lines_from = m.lines_from();
    let problem = if !syms.has_symtab && !syms.minidebuginfo() {
        let mut p = "stripped: no .symtab and no debug file found (only exported .dynsym symbols)"
            .to_string();
        if let Some(e) = m.bin.minidebuginfo_error() {
            p.push_str("; ");
            p.push_str(e);
        }
        Some(p)
    } else if lines_from.is_none() && info.kind == ModuleKind::Native {
        Some("no line information: no DWARF in the binary and no debug file found".to_string())
    } else {
        None
    };
    Resolution {
        symbols_from: Some(m.symbols_from()),
        lines_from,
        problem,
        resolver: Resolver::Elf(m),
        warnings: Vec::new(),
    }
}

fn kernel_resolution(
    info: &ModuleInfo,
    kernel: &KernelContext,
    opts: &SymbolOptions,
) -> Resolution {
    match &kernel.kallsyms {
        Some(k) => {
            let shift = match (k.text, info.text_at_record) {
                (Some(now), then) if then != 0 => now.wrapping_sub(then),
                _ => 0,
            };
            Resolution {
                resolver: Resolver::Kernel {
                    kallsyms: k.clone(),
                    shift,
                    image: info.image.clone(),
                },
                warnings: Vec::new(),
                symbols_from: kernel.from.clone(),
                lines_from: None,
                problem: None,
            }
        }
        None => {
            let problem = match (&opts.kallsyms, &kernel.warning) {
                (None, _) => "kernel symbols off".to_string(),
                (Some(_), Some(w)) => w.clone(),
                (Some(p), None) => format!("{} unavailable", p.display()),
            };
            // The kernel's warning is added once by `symbolize`.
            Resolution::unresolved(true, problem, Vec::new())
        }
    }
}

/// JIT code recorded as `/tmp/perf-<pid>.map`: named from that map, found by file name in the
/// search directories, then at the recorded path.
fn jit_resolution(info: &ModuleInfo, cx: &Lookup<'_>) -> Resolution {
    let is_map = info.name.starts_with("perf-") && info.name.ends_with(".map");
    if !is_map {
        return Resolution::unresolved(
            false,
            "anonymous executable memory (JIT code) without a perf-PID.map",
            Vec::new(),
        );
    }
    let mut candidates: Vec<PathBuf> = cx
        .opts
        .search_dirs
        .iter()
        .map(|d| d.join(&info.name))
        .collect();
    if cx.opts.system_paths && info.path.starts_with('/') {
        candidates.push(PathBuf::from(&info.path));
    }
    let mut warnings = Vec::new();
    for c in &candidates {
        if !c.is_file() {
            continue;
        }
        let map = match PerfMap::load(c) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!("{}: cannot read it: {e}", c.display()));
                continue;
            }
        };
        if map.bad_lines > 0 {
            warnings.push(format!(
                "{}: ignored {} lines that are not `START SIZE NAME` (the first is line {})",
                c.display(),
                map.bad_lines,
                map.first_bad_line
            ));
        }
        if map.dropped > 0 {
            warnings.push(format!(
                "{}: only the first {} entries are used ({} more dropped)",
                c.display(),
                map.len(),
                map.dropped
            ));
        }
        return Resolution {
            resolver: Resolver::Jit(Arc::new(map)),
            warnings,
            symbols_from: Some(c.display().to_string()),
            lines_from: None,
            problem: None,
        };
    }
    warnings.push(format!(
        "no {} found for the JIT code of {}: its frames show as {}+0x… (pass --symbols DIR with a copy of the map)",
        info.name, info.path, info.name
    ));
    Resolution::unresolved(
        false,
        format!("no perf map found (searched: {})", path_list(&candidates)),
        warnings,
    )
}

/// Root of the system's separate debug files.
const SYSTEM_DEBUG_DIR: &str = "/usr/lib/debug";

/// The separate debug file of `elf`, with a matching build-id: on disk, else from debuginfod.
fn find_debug_file(elf: &ElfFile, cx: &Lookup<'_>) -> Option<Arc<ElfFile>> {
    let opts = cx.opts;
    let path = elf.path.as_path();
    let bid = elf.build_id.as_deref().map(crate::formats::bytes::hex);
    let mut candidates = Vec::new();
    let system = opts.system_paths.then(|| PathBuf::from(SYSTEM_DEBUG_DIR));
    let roots: Vec<PathBuf> = opts.search_dirs.iter().cloned().chain(system).collect();
    if let Some(bid) = bid.as_deref().filter(|b| b.len() > 2) {
        for root in &roots {
            candidates.push(
                root.join(".build-id")
                    .join(&bid[..2])
                    .join(format!("{}.debug", &bid[2..])),
            );
        }
    }
    // Files of the search directories with the build-id (any name): a debug file among them.
    if let Some(found) = bid
        .as_deref()
        .and_then(|b| cx.search.by_build_id.get(&normalize_build_id(b)))
    {
        candidates.extend(found.iter().cloned());
    }
    if let (Some(link), Some(dir)) = (&elf.debuglink, path.parent()) {
        candidates.push(dir.join(link));
        candidates.push(dir.join(".debug").join(link));
        for root in &roots {
            candidates.push(root.join(dir.strip_prefix("/").unwrap_or(dir)).join(link));
            candidates.push(root.join(link));
        }
    }
    let usable = |debug: &ElfFile| {
        (elf.build_id.is_none() || debug.build_id == elf.build_id)
            && (debug.has_symtab || debug.has_dwarf())
    };
    for c in candidates {
        if c == path || !c.is_file() {
            continue;
        }
        let Ok(debug) = cache::open(&c) else {
            continue;
        };
        if usable(&debug) {
            return Some(debug);
        }
    }
    let client = cx.debuginfod?;
    let debug =
        cache::open(&client.fetch(bid.as_deref()?, debuginfod::Artifact::Debuginfo)?).ok()?;
    usable(&debug).then_some(debug)
}

#[cfg(test)]
mod tests;
