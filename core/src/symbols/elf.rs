//! One ELF file opened for symbolization: its symbol table (perf's rules for choosing among
//! aliases and sizing symbols), its loadable segments (file offset → virtual address), its
//! build-id, and its DWARF sections for line and inline information via addr2line.
//!
//! A binary without `.symtab` may carry MiniDebugInfo (Fedora and others do): section
//! `.gnu_debugdata` holds an xz-compressed ELF file whose `.symtab` lists the local functions
//! `.dynsym` lacks. Its symbols join the `.dynsym` ones.
//!
//! [`ElfModule`] pairs a binary with its separate debug file; both are shared (`Arc`) with the
//! process-wide cache of opened files.

use super::demangle::demangle;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, ObjectSymbolTable, SymbolKind};
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A function symbol: `[start, end)` in the file's virtual addresses.
#[derive(Clone, Debug)]
pub struct Symbol {
    pub start: u64,
    pub end: u64,
    /// Demangled name.
    pub name: String,
    weak: bool,
    global: bool,
}

enum SectionData {
    Mapped(std::ops::Range<usize>),
    Owned(Vec<u8>),
}

/// A mapped ELF file ready for address lookups. `Sync`: share one across threads; DWARF
/// contexts (which are not `Sync`) are made per thread with [`ElfFile::dwarf_context`].
pub struct ElfFile {
    pub path: PathBuf,
    map: memmap2::Mmap,
    pub build_id: Option<Vec<u8>>,
    /// PT_LOAD segments: (file offset, file size, virtual address).
    segments: Vec<(u64, u64, u64)>,
    /// Read on first use: a file opened only for its unwind tables, or whose addresses all
    /// came from the disk cache of resolved addresses, never sorts and demangles them.
    symbols: OnceLock<SymbolTable>,
    little_endian: bool,
    /// The DWARF sections, inflated on first use (a DWARF context needs them).
    dwarf: OnceLock<Vec<(gimli::SectionId, SectionData)>>,
    /// True if the file has a `.debug_info` section with bytes.
    has_debug_info: bool,
    /// File name from `.gnu_debuglink`, naming a separate debug file.
    pub debuglink: Option<String>,
    /// True if the symbols come from `.symtab` (not only `.dynsym`).
    pub has_symtab: bool,
    /// True if some executable section has bytes in the file. A separate debug file has its
    /// `.text` as NOBITS and zero-sized loadable segments: it names addresses but cannot map
    /// file offsets to them, so it is no substitute for the binary.
    pub has_code: bool,
    /// The opened file's identity (path, device, inode, size, modification time), hashed:
    /// what the disk cache of resolved addresses keys on.
    pub stamp: u64,
}

/// A file's function symbols, sorted by address, and what MiniDebugInfo gave.
struct SymbolTable {
    list: Vec<Symbol>,
    /// True if, without `.symtab`, the symbols of `.gnu_debugdata` (MiniDebugInfo) joined
    /// those of `.dynsym`.
    minidebuginfo: bool,
    /// Why a `.gnu_debugdata` section gave no symbols, if it did not.
    minidebuginfo_error: Option<String>,
}

/// Largest size a compressed debug section may claim, relative to its compressed size; a
/// hostile header must not make us allocate gigabytes.
const MAX_DEBUG_SECTION_RATIO: u64 = 100;

/// Largest size the xz data of `.gnu_debugdata` may unpack to, relative to its size, and in
/// all. A symbol table compresses about 4 to 6 times (measured on Fedora's libraries with
/// MiniDebugInfo); far more is a bomb, not symbols.
const MAX_MINIDEBUGINFO_RATIO: u64 = 64;
const MAX_MINIDEBUGINFO_BYTES: u64 = 256 << 20;

/// Where a section's bytes are: see [`ElfFile::section_bytes`].
pub enum SectionRef {
    File(Range<usize>),
    Owned(Vec<u8>),
}

/// A frame found for an address, before interning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFrame {
    pub name: String,
    pub file: Option<String>,
    pub line: u32,
    /// For the outermost frame: the start of its symbol, which tells apart two functions of
    /// the same name (static functions of different source files).
    pub symbol_start: Option<u64>,
}

impl ElfFile {
    /// Maps and parses `path`. Errors are plain strings for warnings.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = crate::mapped::open_regular(path).map_err(|e| e.to_string())?;
        let stamp = super::store::file_stamp(path, &file.metadata().map_err(|e| e.to_string())?);
        // SAFETY: read-only map of a binary; see `formats::load` for the trade-off.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let obj = object::File::parse(&map[..]).map_err(|e| format!("not an ELF file: {e}"))?;
        let build_id = obj.build_id().ok().flatten().map(|b| b.to_vec());
        let segments = obj
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (off, size, s.address())
            })
            .collect();
        let has_symtab = obj
            .symbols()
            .any(|sym| function_symbol(&obj, &sym).is_some());
        let has_code = obj.sections().any(|sec| {
            let exec = match sec.flags() {
                object::SectionFlags::Elf { sh_flags, .. } => {
                    sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0
                }
                _ => sec.kind() == object::SectionKind::Text,
            };
            exec && sec.file_range().is_some_and(|(_, size)| size > 0)
        });
        let debuglink = obj
            .section_by_name(".gnu_debuglink")
            .and_then(|s| s.data().ok())
            .map(|d| crate::formats::bytes::c_str(d).into_owned())
            .filter(|n| !n.is_empty() && !n.contains('/'));
        let little_endian = obj.is_little_endian();
        let has_debug_info = dwarf_sections(&obj)
            .iter()
            .any(|(id, c)| *id == gimli::SectionId::DebugInfo && within_limit(c));
        drop(obj);
        Ok(Self {
            path: path.to_path_buf(),
            map,
            build_id,
            segments,
            symbols: OnceLock::new(),
            little_endian,
            dwarf: OnceLock::new(),
            has_debug_info,
            debuglink,
            has_symtab,
            has_code,
            stamp,
        })
    }

    fn symbol_table(&self) -> &SymbolTable {
        self.symbols.get_or_init(|| {
            let Ok(obj) = object::File::parse(&self.map[..]) else {
                return SymbolTable {
                    list: Vec::new(),
                    minidebuginfo: false,
                    minidebuginfo_error: None,
                };
            };
            let mut minidebuginfo_error = None;
            let (list, minidebuginfo) = collect_symbols(&obj, &mut minidebuginfo_error);
            SymbolTable {
                list,
                minidebuginfo,
                minidebuginfo_error,
            }
        })
    }

    /// True if, without `.symtab`, the symbols of `.gnu_debugdata` (MiniDebugInfo) joined
    /// those of `.dynsym`.
    pub fn minidebuginfo(&self) -> bool {
        !self.has_symtab && self.symbol_table().minidebuginfo
    }

    /// Why a `.gnu_debugdata` section gave no symbols, if the file has one and it did not.
    pub fn minidebuginfo_error(&self) -> Option<&str> {
        if self.has_symtab {
            return None;
        }
        self.symbol_table().minidebuginfo_error.as_deref()
    }

    /// The DWARF sections: ranges of the map when stored plainly; compressed ones (the
    /// `.debug_*` of a distribution's debug file) inflated on all cores at once.
    fn dwarf(&self) -> &[(gimli::SectionId, SectionData)] {
        self.dwarf.get_or_init(|| {
            use rayon::prelude::*;
            let Ok(obj) = object::File::parse(&self.map[..]) else {
                return Vec::new();
            };
            let base = self.map.as_ptr() as usize;
            dwarf_sections(&obj)
                .into_par_iter()
                .filter_map(|(id, compressed)| {
                    let data = if compressed.format == object::CompressionFormat::None {
                        if compressed.data.is_empty() {
                            return None;
                        }
                        let start = compressed.data.as_ptr() as usize - base;
                        SectionData::Mapped(start..start + compressed.data.len())
                    } else {
                        if !within_limit(&compressed) {
                            return None;
                        }
                        match compressed.decompress().ok()? {
                            Cow::Owned(v) => SectionData::Owned(v),
                            Cow::Borrowed(d) => SectionData::Owned(d.to_vec()),
                        }
                    };
                    Some((id, data))
                })
                .collect()
        })
    }

    /// Bytes this file holds on the heap (decompressed sections, symbols): what the cache of
    /// opened files counts against its budget. The mapping itself is the page cache's.
    pub fn heap_bytes(&self) -> u64 {
        let sections: usize = self
            .dwarf
            .get()
            .into_iter()
            .flatten()
            .map(|(_, d)| match d {
                SectionData::Owned(v) => v.len(),
                SectionData::Mapped(_) => 0,
            })
            .sum();
        let symbols: usize = self
            .symbols
            .get()
            .into_iter()
            .flat_map(|t| &t.list)
            .map(|s| std::mem::size_of::<Symbol>() + s.name.len())
            .sum();
        (sections + symbols) as u64
    }

    /// True if the file needs a separate debug file for full symbols or line information.
    pub fn wants_debug_file(&self) -> bool {
        !self.has_symtab || !self.has_dwarf()
    }

    /// True if the file has DWARF line or inline information.
    pub fn has_dwarf(&self) -> bool {
        self.has_debug_info
    }

    fn section(&self, id: gimli::SectionId) -> &[u8] {
        match self.dwarf().iter().find(|(i, _)| *i == id) {
            Some((_, SectionData::Mapped(r))) => self.map.get(r.clone()).unwrap_or(&[]),
            Some((_, SectionData::Owned(v))) => v,
            None => &[],
        }
    }

    /// A DWARF context borrowing this file (one per thread: contexts are not `Sync`).
    pub fn dwarf_context(&self) -> Option<DwarfContext<'_>> {
        if !self.has_dwarf() {
            return None;
        }
        let endian = if self.little_endian {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let dwarf = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
            Ok(gimli::EndianSlice::new(self.section(id), endian))
        })
        .ok()?;
        addr2line::Context::from_dwarf(dwarf).ok()
    }

    /// The stated address range and bytes of the section `name`, for other readers of the
    /// binary (the DWARF unwinder): a range of the mapped file when stored plainly (a NOBITS
    /// section gives an empty one), decompressed when compressed and no larger than `max`.
    pub fn section_bytes(&self, name: &[u8], max: u64) -> Option<(Range<u64>, SectionRef)> {
        let obj = object::File::parse(&self.map[..]).ok()?;
        let sec = obj.section_by_name_bytes(name)?;
        let svma = sec.address()..sec.address().saturating_add(sec.size());
        let c = sec.compressed_data().ok()?;
        if c.format == object::CompressionFormat::None {
            let d = sec.data().ok()?;
            let start = d.as_ptr() as usize - self.map.as_ptr() as usize;
            return Some((svma, SectionRef::File(start..start + d.len())));
        }
        if c.uncompressed_size > max {
            return None;
        }
        Some((svma, SectionRef::Owned(c.decompress().ok()?.into_owned())))
    }

    /// Bytes of the mapped file (a range from [`ElfFile::section_bytes`]).
    pub fn file_bytes(&self, r: Range<usize>) -> &[u8] {
        self.map.get(r).unwrap_or(&[])
    }

    /// The virtual address of a file offset, through the PT_LOAD segment that holds it.
    pub fn svma(&self, file_offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(off, size, _)| file_offset >= off && file_offset - off < size)
            .map(|&(off, _, vaddr)| (file_offset - off).wrapping_add(vaddr))
    }

    /// The bytes of the file at virtual addresses `[start, end)`, when one PT_LOAD segment
    /// holds them all (a function's code).
    pub fn code(&self, start: u64, end: u64) -> Option<&[u8]> {
        let &(off, size, vaddr) = self
            .segments
            .iter()
            .find(|&&(_, size, vaddr)| start >= vaddr && end >= start && end - vaddr <= size)?;
        let _ = size;
        let a = usize::try_from(off + (start - vaddr)).ok()?;
        let b = usize::try_from(off + (end - vaddr)).ok()?;
        self.map.get(a..b)
    }

    /// The ELF machine (`e_machine`: 62 for x86-64).
    pub fn machine(&self) -> u16 {
        let b = [self.map.get(18).copied(), self.map.get(19).copied()];
        match b {
            [Some(x), Some(y)] if self.little_endian => u16::from_le_bytes([x, y]),
            [Some(x), Some(y)] => u16::from_be_bytes([x, y]),
            _ => 0,
        }
    }

    /// The function symbol containing `svma`.
    pub fn symbol(&self, svma: u64) -> Option<&Symbol> {
        let symbols = &self.symbol_table().list;
        let i = symbols.partition_point(|s| s.start <= svma);
        let s = symbols.get(i.checked_sub(1)?)?;
        (svma < s.end).then_some(s)
    }

    /// The frames at file offset `file_offset`, outermost first; empty when nothing is known.
    /// With `inline`, one frame per inlined function; without, only the real function.
    pub fn frames(
        &self,
        ctx: Option<&DwarfContext<'_>>,
        file_offset: u64,
        inline: bool,
    ) -> Vec<FoundFrame> {
        frames_at(self, self, ctx, file_offset, inline)
    }
}

/// An addr2line context over one file's DWARF.
pub type DwarfContext<'a> = addr2line::Context<gimli::EndianSlice<'a, gimli::RunTimeEndian>>;

/// A binary and, when it lacks a symbol table or DWARF, its separate debug file (same
/// build-id): what the addresses of one module are resolved with. Addresses map to virtual
/// addresses through the binary's segments; symbols and lines come from whichever file has
/// them.
#[derive(Clone)]
pub struct ElfModule {
    pub bin: Arc<ElfFile>,
    pub debug: Option<Arc<ElfFile>>,
}

impl ElfModule {
    /// The file whose DWARF to use: the binary, or its debug file.
    pub fn dwarf_file(&self) -> &ElfFile {
        match &self.debug {
            Some(d) if !self.bin.has_dwarf() && d.has_dwarf() => d,
            _ => &self.bin,
        }
    }

    /// The symbols to use: the binary's `.symtab`, else the debug file's, else the binary's
    /// `.dynsym` (with its MiniDebugInfo symbols, if any).
    pub fn symbol_file(&self) -> &ElfFile {
        match &self.debug {
            Some(d) if !self.bin.has_symtab && d.has_symtab => d,
            _ => &self.bin,
        }
    }

    /// A DWARF context for this module (one per thread: contexts are not `Sync`).
    pub fn dwarf_context(&self) -> Option<DwarfContext<'_>> {
        self.dwarf_file().dwarf_context()
    }

    /// The frames at `file_offset` of the binary; see [`ElfFile::frames`].
    pub fn frames(
        &self,
        ctx: Option<&DwarfContext<'_>>,
        file_offset: u64,
        inline: bool,
    ) -> Vec<FoundFrame> {
        frames_at(&self.bin, self.symbol_file(), ctx, file_offset, inline)
    }

    /// Where the symbols come from, for the user: a path, with ` (.gnu_debugdata)` when
    /// MiniDebugInfo added to `.dynsym`.
    pub fn symbols_from(&self) -> String {
        let f = self.symbol_file();
        if f.minidebuginfo() {
            format!("{} (.gnu_debugdata)", f.path.display())
        } else {
            f.path.display().to_string()
        }
    }

    /// The file with the DWARF line information, if any has it.
    pub fn lines_from(&self) -> Option<String> {
        let f = self.dwarf_file();
        f.has_dwarf().then(|| f.path.display().to_string())
    }
}

/// The frames at `file_offset` of `bin`, named from `syms` (the binary or its debug file) and
/// the DWARF of `ctx`.
fn frames_at(
    bin: &ElfFile,
    syms: &ElfFile,
    ctx: Option<&DwarfContext<'_>>,
    file_offset: u64,
    inline: bool,
) -> Vec<FoundFrame> {
    let Some(svma) = bin.svma(file_offset) else {
        return Vec::new();
    };
    let sym = syms.symbol(svma);
    let mut out: Vec<FoundFrame> = Vec::new();
    if let Some(ctx) = ctx
        && let Ok(mut it) = ctx.find_frames(svma).skip_all_loads()
    {
        // addr2line yields innermost first.
        let mut depth_guard = 0;
        while let Ok(Some(f)) = it.next() {
            depth_guard += 1;
            if depth_guard > 1024 {
                break; // inline chains are short; a hostile file must not loop long
            }
            let name = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| demangle(&n));
            let (file, line) = match &f.location {
                Some(l) => (l.file.map(str::to_string), l.line.unwrap_or(0)),
                None => (None, 0),
            };
            out.push(FoundFrame {
                name: name.unwrap_or_default(),
                file,
                line,
                symbol_start: None,
            });
        }
        out.reverse();
    }
    // Where DWARF has no function name, or none at all, fall back to the symbol table.
    out.retain(|f| !f.name.is_empty());
    match (out.first_mut(), sym) {
        // The real function keeps the symbol-table name (perf shows `foo.constprop.0`, not `foo`).
        (Some(first), Some(sym)) => {
            first.name = sym.name.clone();
            first.symbol_start = Some(sym.start);
        }
        (None, Some(sym)) => out.push(FoundFrame {
            name: sym.name.clone(),
            file: None,
            line: 0,
            symbol_start: Some(sym.start),
        }),
        (Some(_), None) | (None, None) => {}
    }
    if !inline {
        out.truncate(1);
    }
    out
}

/// The DWARF sections addr2line reads for function names, inlined calls and lines. Location
/// lists (`.debug_loc`, `.debug_loclists`: where variables live) and macro tables are left
/// alone: in libc's debug file the location lists are a fifth of the compressed bytes, and
/// inflating them was time spent on every load that touched libc.
const DWARF_SECTIONS: [gimli::SectionId; 11] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugAranges,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugTypes,
];

/// `s` as a function symbol, if it is one: a function, or (like perf) an untyped label in
/// an executable section, such as the dynamic loader's `_start`.
fn function_symbol(obj: &object::File<'_>, s: &object::Symbol<'_, '_>) -> Option<Symbol> {
    if s.is_undefined() || s.address() == 0 {
        return None;
    }
    let in_text = || match s.section() {
        object::SymbolSection::Section(i) => {
            // By flag, not kind: in a separate debug file `.text` is NOBITS.
            obj.section_by_index(i).is_ok_and(|sec| match sec.flags() {
                object::SectionFlags::Elf { sh_flags, .. } => {
                    sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0
                }
                _ => sec.kind() == object::SectionKind::Text,
            })
        }
        _ => false,
    };
    match s.kind() {
        SymbolKind::Text => {}
        SymbolKind::Unknown if in_text() => {}
        _ => return None,
    }
    let name = s.name().ok()?;
    if name.is_empty() || name.starts_with('$') {
        return None; // ARM/RISC-V mapping symbols name no function
    }
    Some(Symbol {
        start: s.address(),
        end: s.address().saturating_add(s.size()),
        name: name.to_string(),
        weak: s.is_weak(),
        global: s.is_global(),
    })
}

/// Function symbols from `.symtab`, or `.dynsym` (and MiniDebugInfo) when the file is
/// stripped, chosen and sized the way `perf report` does so that both tools attribute an
/// address to the same name: aliases at one address keep one symbol (sized over unsized,
/// strong over weak, global over local, fewer leading underscores, longer name); a zero-sized
/// symbol extends to the next one. Returns the symbols and whether `.gnu_debugdata` added
/// some (`mini_error` says why not, when it has the section).
fn collect_symbols(obj: &object::File<'_>, mini_error: &mut Option<String>) -> (Vec<Symbol>, bool) {
    fn take(
        obj: &object::File<'_>,
        syms: &mut Vec<Symbol>,
        it: &mut dyn Iterator<Item = object::Symbol<'_, '_>>,
    ) {
        syms.extend(it.filter_map(|s| function_symbol(obj, &s)));
    }
    let mut syms: Vec<Symbol> = Vec::new();
    take(obj, &mut syms, &mut obj.symbols());
    let mut minidebuginfo = false;
    if syms.is_empty() {
        take(obj, &mut syms, &mut obj.dynamic_symbols());
        match gnu_debugdata(obj) {
            Ok(Some(inner)) => match object::File::parse(&inner[..]) {
                Ok(mini) => {
                    let before = syms.len();
                    take(&mini, &mut syms, &mut mini.symbols());
                    minidebuginfo = syms.len() > before;
                }
                Err(e) => *mini_error = Some(format!(".gnu_debugdata holds no ELF file: {e}")),
            },
            Ok(None) => {}
            Err(e) => *mini_error = Some(format!(".gnu_debugdata: {e}")),
        }
    }
    syms.extend(plt_symbols(obj));
    syms.sort_by_key(|a| a.start);
    let mut out: Vec<Symbol> = Vec::with_capacity(syms.len());
    for s in syms {
        match out.last_mut() {
            Some(last) if last.start == s.start => {
                if prefer(&s, last) {
                    *last = s;
                }
            }
            _ => out.push(s),
        }
    }
    for i in 0..out.len() {
        if out[i].end == out[i].start {
            out[i].end = match out.get(i + 1) {
                Some(next) => next.start,
                None => (out[i].start / 4096 + 1)
                    .saturating_mul(4096)
                    .saturating_add(4096),
            };
        }
    }
    for s in &mut out {
        s.name = demangle(&s.name);
    }
    (out, minidebuginfo)
}

/// The DWARF sections of `obj` that addr2line reads, as stored (maybe compressed).
fn dwarf_sections<'d>(
    obj: &object::File<'d>,
) -> Vec<(gimli::SectionId, object::CompressedData<'d>)> {
    DWARF_SECTIONS
        .iter()
        .filter_map(|&id| Some((id, obj.section_by_name(id.name())?.compressed_data().ok()?)))
        .filter(|(_, c)| !c.data.is_empty())
        .collect()
}

/// True if a compressed section claims a size it may be inflated to (plain ones always are).
fn within_limit(c: &object::CompressedData<'_>) -> bool {
    let limit = (c.data.len() as u64)
        .saturating_mul(MAX_DEBUG_SECTION_RATIO)
        .min(4 << 30);
    c.format == object::CompressionFormat::None || c.uncompressed_size <= limit
}

/// The decompressed content of `.gnu_debugdata` (an ELF file), if the file has the section.
fn gnu_debugdata(obj: &object::File<'_>) -> Result<Option<Vec<u8>>, String> {
    let Some(sec) = obj.section_by_name(".gnu_debugdata") else {
        return Ok(None);
    };
    let data = sec.data().map_err(|e| e.to_string())?;
    let limit = (data.len() as u64)
        .saturating_mul(MAX_MINIDEBUGINFO_RATIO)
        .min(MAX_MINIDEBUGINFO_BYTES);
    super::xz::decompress(data, limit)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The `name@plt` symbols perf makes up for PLT stubs (x86-64), so that time spent in a stub
/// is named after the function it jumps to. Each entry of `.plt`, `.plt.sec` and `.plt.got`
/// that is an indirect jump through a GOT slot (`jmp *disp32(%rip)`, after an optional
/// `endbr64` and `bnd` prefix) is named by the dynamic relocation of that slot. The lazy-binding
/// entries (`push n; jmp PLT0`) and PLT0 itself jump elsewhere and get no name, as in perf.
fn plt_symbols(obj: &object::File<'_>) -> Vec<Symbol> {
    const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
    if obj.architecture() != object::Architecture::X86_64 {
        return Vec::new();
    }
    let (Some(dynsyms), Some(relocs)) = (obj.dynamic_symbol_table(), obj.dynamic_relocations())
    else {
        return Vec::new();
    };
    let mut slots: rustc_hash::FxHashMap<u64, String> = Default::default();
    for (slot, r) in relocs {
        if let object::RelocationTarget::Symbol(i) = r.target()
            && let Ok(name) = dynsyms.symbol_by_index(i).and_then(|s| s.name())
            && !name.is_empty()
        {
            slots.insert(slot, name.to_owned());
        }
    }
    let mut out = Vec::new();
    for section in [".plt", ".plt.sec", ".plt.got"] {
        let Some(sec) = obj.section_by_name(section) else {
            continue;
        };
        let Ok(data) = sec.data() else { continue };
        // `.plt.got` entries are 8 bytes, or 16 when they start with endbr64 (IBT builds).
        let entry = if section == ".plt.got" && !data.starts_with(&ENDBR64) {
            8
        } else {
            16
        };
        for (i, e) in data.chunks_exact(entry).enumerate() {
            let mut at = 0;
            if e.starts_with(&ENDBR64) {
                at = 4;
            }
            if e.get(at) == Some(&0xf2) {
                at += 1; // bnd
            }
            let Some(&[0xff, 0x25, d0, d1, d2, d3]) = e.get(at..at + 6) else {
                continue;
            };
            let start = sec.address() + (i * entry) as u64;
            let disp = i64::from(i32::from_le_bytes([d0, d1, d2, d3]));
            let slot = start
                .wrapping_add((at + 6) as u64)
                .wrapping_add_signed(disp);
            if let Some(name) = slots.get(&slot) {
                out.push(Symbol {
                    start,
                    end: start + entry as u64,
                    name: format!("{}@plt", demangle(name)),
                    weak: false,
                    global: false,
                });
            }
        }
    }
    out
}

/// perf's `choose_best_symbol`: true if `a` should replace `b` at the same address.
fn prefer(a: &Symbol, b: &Symbol) -> bool {
    let (la, lb) = (a.end - a.start, b.end - b.start);
    if (la == 0) != (lb == 0) {
        return la > 0;
    }
    if a.weak != b.weak {
        return !a.weak;
    }
    if a.global != b.global {
        return a.global;
    }
    let us = |s: &str| s.bytes().take_while(|&c| c == b'_').count();
    let (ua, ub) = (us(&a.name), us(&b.name));
    if ua != ub {
        return ua < ub;
    }
    a.name.len() > b.name.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(start: u64, size: u64, name: &str, weak: bool, global: bool) -> Symbol {
        Symbol {
            start,
            end: start + size,
            name: name.into(),
            weak,
            global,
        }
    }

    #[test]
    fn alias_choice_follows_perf() {
        assert!(prefer(
            &sym(0, 8, "a", false, true),
            &sym(0, 0, "b", false, true)
        ));
        assert!(prefer(
            &sym(0, 8, "malloc", false, true),
            &sym(0, 8, "malloc_w", true, true)
        ));
        assert!(prefer(
            &sym(0, 8, "g", false, true),
            &sym(0, 8, "l", false, false)
        ));
        assert!(prefer(
            &sym(0, 8, "_x", false, true),
            &sym(0, 8, "__x", false, true)
        ));
        assert!(prefer(
            &sym(0, 8, "longer", false, true),
            &sym(0, 8, "short", false, true)
        ));
    }
}
