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
//! 4. perf's build-id cache, `~/.debug/.build-id/xx/rest/elf`.
//!
//! A candidate whose build-id differs from the profile's is not used (a warning says so).
//!
//! A binary without `.symtab` or DWARF (a distribution library) gets its separate debug file:
//! `/usr/lib/debug/.build-id/xx/rest.debug` (and the same below each `--symbols` directory),
//! then the `.gnu_debuglink` name next to the binary, in its `.debug/` directory, and below
//! `/usr/lib/debug/`. The debug file must have the binary's build-id.

mod demangle;
mod elf;
mod kernel;

pub use demangle::demangle;
pub use elf::ElfFile;
pub use kernel::Kallsyms;

use crate::model::{FrameId, FuncId, FuncKind, ModuleId, ModuleKind, ProfileBuilder, StrId};
use crate::progress::Phase;
use crate::{Progress, Result};
use elf::FoundFrame;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

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
}

impl Default for SymbolOptions {
    fn default() -> Self {
        Self {
            search_dirs: Vec::new(),
            inline_frames: true,
            kallsyms: Some(PathBuf::from("/proc/kallsyms")),
            system_paths: true,
        }
    }
}

/// How the addresses of one module are resolved.
enum Resolver {
    Elf(Box<ElfFile>),
    /// Kallsyms, and the KASLR shift of the kernel image since the recording: applied to
    /// addresses inside the image's range at record time. Modules load at their own addresses,
    /// so on another boot (shift ≠ 0) module addresses stay unresolved rather than misnamed.
    Kernel {
        kallsyms: std::sync::Arc<Kallsyms>,
        shift: u64,
        image: std::ops::Range<u64>,
    },
    /// Nothing to resolve with; frames are named after the module.
    Unresolved {
        kernel: bool,
    },
}

/// Addresses below this many per module are resolved with a single DWARF context; above, the
/// list is split so every core gets work (each chunk builds its own context, which costs a
/// parse of the units it touches, so chunks should not be tiny).
const MIN_ADDRESSES_PER_CHUNK: usize = 512;

/// Symbolizes every unsymbolized frame of `b`.
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
    let kernel = KernelContext::new(b, opts);
    let resolved: Vec<(Resolver, Vec<String>)> = infos
        .par_iter()
        .map(|info| resolver_for(info, opts, &search, &kernel))
        .collect();
    let mut warnings = Vec::new();
    let mut resolvers = Vec::with_capacity(resolved.len());
    for (r, w) in resolved {
        warnings.extend(w);
        resolvers.push(r);
    }
    if let Some(w) = &kernel.warning
        && infos
            .iter()
            .zip(&modules)
            .any(|(i, (_, a))| i.kind == ModuleKind::Kernel && !a.is_empty())
    {
        warnings.push(w.clone());
    }

    // Resolve every address: modules and chunks in parallel.
    let inline = opts.inline_frames;
    let threads = rayon::current_num_threads().max(1);
    let jobs: Vec<(usize, &[(usize, u64)])> = modules
        .iter()
        .enumerate()
        .flat_map(|(mi, (_, addrs))| {
            let chunk = (addrs.len() / threads).max(MIN_ADDRESSES_PER_CHUNK);
            addrs.chunks(chunk).map(move |c| (mi, c))
        })
        .collect();
    let results: Vec<Vec<(usize, Vec<FoundFrame>)>> = jobs
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
                Resolver::Kernel {
                    kallsyms: k,
                    shift,
                    image,
                } => chunk
                    .iter()
                    .map(|&(fi, addr)| {
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
    for ((mi, _), out) in jobs.iter().zip(&results) {
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
    for ((mi, _), out) in jobs.iter().zip(&results) {
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
            let kind = if kernel_module {
                FuncKind::Kernel
            } else {
                FuncKind::Native
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
    b.rebuild_stacks(&expansion);
    Ok(())
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
            build_id: b.module_build_id(m).map(str::to_string),
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
    by_build_id: FxHashMap<String, PathBuf>,
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
                if let Some(id) = read_build_id(&path) {
                    let id = normalize_build_id(&id);
                    if wanted.contains(&id) {
                        self.by_build_id.entry(id).or_insert(path);
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
                out.push(p.clone());
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

/// The build-id of an ELF file, as hex, without reading more than its headers and notes.
fn read_build_id(path: &Path) -> Option<String> {
    use object::Object;
    let file = std::fs::File::open(path).ok()?;
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
    Some(crate::formats::bytes::hex(id))
}

/// The kernel symbols to use, if the profile's kernel is the one running here.
struct KernelContext {
    kallsyms: Option<std::sync::Arc<Kallsyms>>,
    warning: Option<String>,
}

impl KernelContext {
    fn new(b: &ProfileBuilder, opts: &SymbolOptions) -> Self {
        let has_kernel_frames = (0..b.frames.len()).any(|i| {
            !b.frames.func[i].is_some()
                && b.frames.module[i]
                    .get()
                    .is_some_and(|m| b.modules.kind.get(m.index()) == Some(&ModuleKind::Kernel))
        });
        if !has_kernel_frames {
            return Self {
                kallsyms: None,
                warning: None,
            };
        }
        let Some(path) = &opts.kallsyms else {
            return Self {
                kallsyms: None,
                warning: Some("kernel symbols are off: kernel frames show as [kernel]".into()),
            };
        };
        let kernel = (0..b.modules.len()).find(|&i| b.modules.kind[i] == ModuleKind::Kernel);
        let kernel_bid = kernel
            .and_then(|i| b.module_build_id(ModuleId::from_index(i)))
            .map(normalize_build_id);
        // perf's `_text` address at record time (0 when the file has no kernel map).
        let text_then = kernel.map_or(0, |i| b.modules.file_offset[i]);
        let kallsyms = || match Kallsyms::load(path) {
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
                    let k = kallsyms();
                    let same_boot =
                        text_then != 0 && k.as_ref().ok().and_then(|k| k.text) == Some(text_then);
                    if same_boot {
                        return Self::from(k);
                    }
                    (
                        false,
                        "the file does not say which kernel it was recorded on".to_string(),
                    )
                }
            }
        };
        if !same {
            return Self {
                kallsyms: None,
                warning: Some(format!("kernel frames show as [kernel]: {why_not}")),
            };
        }
        Self::from(kallsyms())
    }
}

impl From<Result<Kallsyms, String>> for KernelContext {
    fn from(k: Result<Kallsyms, String>) -> Self {
        match k {
            Ok(k) => Self {
                kallsyms: Some(std::sync::Arc::new(k)),
                warning: None,
            },
            Err(w) => Self {
                kallsyms: None,
                warning: Some(w),
            },
        }
    }
}

fn resolver_for(
    info: &ModuleInfo,
    opts: &SymbolOptions,
    search: &Search,
    kernel: &KernelContext,
) -> (Resolver, Vec<String>) {
    let mut warnings = Vec::new();
    match info.kind {
        ModuleKind::Kernel => {
            return match &kernel.kallsyms {
                Some(k) => {
                    let shift = match (k.text, info.text_at_record) {
                        (Some(now), then) if then != 0 => now.wrapping_sub(then),
                        _ => 0,
                    };
                    let image = info.image.clone();
                    (
                        Resolver::Kernel {
                            kallsyms: k.clone(),
                            shift,
                            image,
                        },
                        warnings,
                    )
                }
                None => (Resolver::Unresolved { kernel: true }, warnings),
            };
        }
        // The vDSO is found by build-id (perf saves it in its build-id cache).
        ModuleKind::Native | ModuleKind::Vdso => {}
        _ => return (Resolver::Unresolved { kernel: false }, warnings),
    }
    let want = info.build_id.as_deref().map(normalize_build_id);
    for path in search.candidates(info, opts) {
        if !path.is_file() {
            continue;
        }
        let elf = match ElfFile::open(&path) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!(
                    "{}: cannot read it for {}: {e}",
                    path.display(),
                    info.path
                ));
                continue;
            }
        };
        if let Some(want) = &want {
            let have = elf
                .build_id
                .as_deref()
                .map(|b| normalize_build_id(&crate::formats::bytes::hex(b)));
            if have.as_deref() != Some(want.as_str()) {
                warnings.push(format!(
                    "{}: build-id {} does not match the profile's {want} for {}; not used",
                    path.display(),
                    have.as_deref().unwrap_or("(none)"),
                    info.path
                ));
                continue;
            }
        }
        let mut elf = elf;
        if elf.wants_debug_file()
            && let Some(debug) = find_debug_file(&elf, &path, opts)
        {
            elf.attach_debug_file(debug);
        }
        return (Resolver::Elf(Box::new(elf)), Vec::new());
    }
    if info.kind == ModuleKind::Vdso {
        // Without perf's build-id cache the vDSO is simply not on disk: nothing to act on.
        return (Resolver::Unresolved { kernel: false }, Vec::new());
    }
    warnings.push(format!(
        "no binary found for {}{}: its frames show as {}+0x… (pass --symbols DIR with a copy of it)",
        info.path,
        info.build_id.as_deref().map(|b| format!(" (build-id {b})")).unwrap_or_default(),
        info.name
    ));
    (Resolver::Unresolved { kernel: false }, warnings)
}

/// Root of the system's separate debug files.
const SYSTEM_DEBUG_DIR: &str = "/usr/lib/debug";

/// The separate debug file of `elf` (found at `path`), with a matching build-id.
fn find_debug_file(elf: &ElfFile, path: &Path, opts: &SymbolOptions) -> Option<ElfFile> {
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
    if let (Some(link), Some(dir)) = (&elf.debuglink, path.parent()) {
        candidates.push(dir.join(link));
        candidates.push(dir.join(".debug").join(link));
        for root in &roots {
            candidates.push(root.join(dir.strip_prefix("/").unwrap_or(dir)).join(link));
            candidates.push(root.join(link));
        }
    }
    for c in candidates {
        if c == path || !c.is_file() {
            continue;
        }
        let Ok(debug) = ElfFile::open(&c) else {
            continue;
        };
        if elf.build_id.is_some() && debug.build_id != elf.build_id {
            continue;
        }
        return Some(debug);
    }
    None
}

#[cfg(test)]
mod tests;
