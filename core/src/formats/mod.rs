//! File formats: detection by content and one parser per format.
//!
//! Every parser takes the file's bytes (memory-mapped, never copied) and fills a
//! [`ProfileBuilder`]; [`load`] then symbolizes and freezes the result.

pub(crate) mod bytes;
pub mod chrome;
pub mod compression;
pub mod folded;
pub mod perf_data;
pub mod perf_script;
pub mod pprof;
pub mod puffin;
pub mod speedscope;
pub mod stkl;

use crate::model::{Profile, ProfileBuilder};
use crate::progress::Phase;
use crate::symbols::{self, SymbolOptions};
use crate::{Error, Progress, Result};
use std::path::Path;

/// A format stacklens reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `perf record` output, file or pipe mode.
    PerfData,
    /// pprof `profile.proto` (usually gzipped).
    Pprof,
    /// `perf script` text output.
    PerfScript,
    /// Folded (collapsed) stacks: `a;b;c count` lines.
    Folded,
    /// Chrome/V8 `.cpuprofile` JSON.
    ChromeCpuProfile,
    /// Chrome Trace Event Format JSON (array or `{"traceEvents": [...]}`).
    ChromeTrace,
    /// speedscope JSON.
    Speedscope,
    /// puffin capture (`.puffin`).
    Puffin,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::PerfData => "perf.data",
            Format::Pprof => "pprof",
            Format::PerfScript => "perf script",
            Format::Folded => "folded stacks",
            Format::ChromeCpuProfile => "Chrome cpuprofile",
            Format::ChromeTrace => "Chrome trace",
            Format::Speedscope => "speedscope",
            Format::Puffin => "puffin",
        }
    }
}

/// The format of `data`, from its content (never the file name).
pub fn detect(data: &[u8]) -> Option<Format> {
    if perf_data::sniff(data) {
        return Some(Format::PerfData);
    }
    if puffin::sniff(data) {
        return Some(Format::Puffin);
    }
    if pprof::sniff(data) {
        return Some(Format::Pprof);
    }
    if speedscope::sniff(data) {
        return Some(Format::Speedscope);
    }
    if chrome::sniff_cpuprofile(data) {
        return Some(Format::ChromeCpuProfile);
    }
    if chrome::sniff_trace(data) {
        return Some(Format::ChromeTrace);
    }
    if perf_script::sniff(data) {
        return Some(Format::PerfScript);
    }
    if folded::sniff(data) {
        return Some(Format::Folded);
    }
    None
}

/// How to load a profile.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub symbols: SymbolOptions,
    /// Cap on bytes that compressed data may expand to; `None` = the format's default
    /// (`max(256 MiB, 64 × file size)`).
    pub decompression_limit: Option<u64>,
    /// Most memory a load may add, in bytes: past it the load fails with
    /// [`Error::TooBig`] instead of the machine running out of memory. `None` = 80% of the
    /// memory available when the load starts; `Some(0)` = no limit.
    pub memory_limit: Option<u64>,
}

impl LoadOptions {
    /// The memory budget of a load starting now (0: none).
    pub fn memory_budget(&self) -> u64 {
        match self.memory_limit {
            Some(n) => n,
            None => crate::progress::available_memory().map_or(0, |a| a / 5 * 4),
        }
    }
}

/// Opens, parses, symbolizes and freezes the profile at `path`.
///
/// The file is memory-mapped ([`crate::mapped`]). A `.stkl` capture whose map is guarded by a
/// lease is not copied at all: its big columns borrow from the map for as long as the profile
/// lives.
pub fn load(path: &Path, opts: &LoadOptions, progress: &Progress) -> Result<Profile> {
    let io = |source| Error::Io {
        path: path.into(),
        source,
    };
    let map = crate::mapped::MappedFile::open(path).map_err(io)?;
    progress.lap("open and map");
    if map.bytes().is_empty() {
        return Err(Error::Empty.with_path(path));
    }
    if stkl::sniff(map.bytes()) && map.is_stable() {
        let p = stkl::read_borrowed(map, progress).map_err(|e| e.with_path(path))?;
        progress.lap("read .stkl");
        progress.start_phase(Phase::Done, 1);
        return Ok(p);
    }
    let loaded = load_bytes(map.bytes(), opts, progress);
    if map.was_cut() {
        // Whatever was parsed read zeros past the cut: not the file's content.
        return Err(Error::Changed {
            path: path.into(),
            what: format!(
                "it was cut short to fewer than its {} bytes while being read (by a program \
                 still writing it?); open it again once it is complete",
                map.bytes().len()
            ),
        });
    }
    loaded.map_err(|e| e.with_path(path))
}

/// Parses, symbolizes and freezes a profile held in memory. A `.stkl` capture is already all
/// of that: it is only validated.
pub fn load_bytes(data: &[u8], opts: &LoadOptions, progress: &Progress) -> Result<Profile> {
    if data.is_empty() {
        return Err(Error::Empty);
    }
    progress.set_memory_budget(opts.memory_budget());
    let (inner, wrapper) = unwrap_compression(data, opts, progress)?;
    if wrapper.is_some() {
        progress.lap("decompress");
    }
    let bytes: &[u8] = inner.as_deref().unwrap_or(data);
    if stkl::sniff(bytes) {
        let p = stkl::read(bytes, progress)?;
        progress.lap("read .stkl");
        progress.start_phase(Phase::Done, 1);
        return Ok(p);
    }
    let b = parse_plain(bytes, opts, progress, wrapper)?;
    progress.lap("parse");
    progress.check_memory_now()?;
    symbolize_and_freeze(b, opts, progress)
}

/// Parses a profile into a builder, without symbolizing it. A gzip- or zstd-wrapped file is
/// unpacked first (once: a compressed file inside a compressed file is refused).
pub fn parse_bytes(data: &[u8], opts: &LoadOptions, progress: &Progress) -> Result<ProfileBuilder> {
    if data.is_empty() {
        return Err(Error::Empty);
    }
    let (inner, wrapper) = unwrap_compression(data, opts, progress)?;
    parse_plain(inner.as_deref().unwrap_or(data), opts, progress, wrapper)
}

/// The decompressed bytes of a gzip- or zstd-wrapped file (`None`: not compressed).
fn unwrap_compression(
    data: &[u8],
    opts: &LoadOptions,
    progress: &Progress,
) -> Result<(
    Option<compression::Unpacked>,
    Option<compression::Compression>,
)> {
    let Some(c) = compression::detect(data) else {
        return Ok((None, None));
    };
    let limit = opts
        .decompression_limit
        .unwrap_or_else(|| compression::default_limit(data.len()));
    let inner = compression::decompress(c, data, limit, &progress.memory_gate())?;
    if inner.is_empty() {
        return Err(Error::Empty);
    }
    if let Some(c2) = compression::detect(&inner) {
        return Err(Error::at(
            c.name(),
            0,
            format!(
                "a profile once unpacked, but this {} file holds {} data: unpack the outer \
                 layer first",
                c.name(),
                c2.name()
            ),
        ));
    }
    Ok((Some(inner), Some(c)))
}

fn parse_plain(
    data: &[u8],
    opts: &LoadOptions,
    progress: &Progress,
    wrapper: Option<compression::Compression>,
) -> Result<ProfileBuilder> {
    if stkl::sniff(data) {
        return Err(Error::Unsupported(
            "a .stkl capture is a finished profile: open it with load_bytes".into(),
        ));
    }
    let Some(format) = detect(data) else {
        let inside = wrapper.map_or(String::new(), |c| format!(" (inside {})", c.name()));
        return Err(Error::UnknownFormat {
            start: format!("{}{inside}", describe_start(data)),
        });
    };
    let mut b = ProfileBuilder::new(format.name());
    b.set_memory_gate(progress.memory_gate());
    if let Some(c) = wrapper {
        b.meta.source_format = format!("{} ({})", format.name(), c.name());
    }
    match format {
        Format::PerfData => {
            let limit = opts
                .decompression_limit
                .unwrap_or_else(|| perf_data::default_decompression_limit(data.len()));
            perf_data::parse_with(data, &mut b, progress, limit, &opts.symbols)?;
        }
        Format::Folded => folded::parse(data, &mut b, progress)?,
        Format::Pprof => pprof::parse(data, &mut b, progress)?,
        Format::PerfScript => perf_script::parse(data, &mut b, progress)?,
        Format::ChromeCpuProfile => chrome::parse_cpuprofile(data, &mut b, progress)?,
        Format::ChromeTrace => chrome::parse_trace(data, &mut b, progress)?,
        Format::Speedscope => speedscope::parse(data, &mut b, progress)?,
        Format::Puffin => {
            let limit = opts
                .decompression_limit
                .unwrap_or_else(|| compression::default_limit(data.len()));
            puffin::parse_with_limit(data, &mut b, progress, limit)?;
        }
    }
    Ok(b)
}

/// Symbolizes the builder's address frames and freezes it.
pub fn symbolize_and_freeze(
    mut b: ProfileBuilder,
    opts: &LoadOptions,
    progress: &Progress,
) -> Result<Profile> {
    symbols::symbolize(&mut b, &opts.symbols, progress)?;
    progress.lap("symbolize");
    progress.start_phase(Phase::Aggregating, 1);
    let p = b.freeze();
    progress.lap("freeze");
    progress.start_phase(Phase::Done, 1);
    Ok(p)
}

/// The first bytes, printable, for "unknown format" errors.
fn describe_start(data: &[u8]) -> String {
    let head = &data[..data.len().min(16)];
    if head.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}
