//! Writers: a profile out in the formats other tools read (and stacklens' own `.stkl`).
//!
//! Every writer takes a frozen [`Profile`] and streams to a `Write`; none recurses on stack
//! depth. [`ExportFormat::from_path`] picks the format from the output file's name, as
//! `stacklens convert` and the GUI's Export do.

pub mod folded;
pub mod pprof;
pub mod speedscope;
pub mod svg;

use crate::model::Profile;
use std::io::Write;
use std::path::Path;

/// A format stacklens writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// `.stkl`: the whole profile, reopened instantly.
    Stkl,
    /// `.folded`: `a;b;c weight` lines of one sample type.
    Folded,
    /// `.pb.gz` (or `.pb`): pprof, every sample type.
    Pprof { gzip: bool },
    /// `.speedscope.json`: one sampled profile per thread, one sample type.
    Speedscope,
    /// `.svg`: a flame graph that zooms and searches in a browser.
    Svg,
}

impl ExportFormat {
    /// The format a file name asks for, `None` for an extension stacklens does not write.
    pub fn from_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        Some(if name.ends_with(".stkl") {
            ExportFormat::Stkl
        } else if name.ends_with(".folded") || name.ends_with(".collapsed") {
            ExportFormat::Folded
        } else if name.ends_with(".pb.gz") || name.ends_with(".pprof") {
            ExportFormat::Pprof { gzip: true }
        } else if name.ends_with(".pb") {
            ExportFormat::Pprof { gzip: false }
        } else if name.ends_with(".speedscope.json") {
            ExportFormat::Speedscope
        } else if name.ends_with(".svg") {
            ExportFormat::Svg
        } else {
            return None;
        })
    }

    /// The extensions, for messages and file dialogs.
    pub const EXTENSIONS: &[&str] = &[
        ".stkl",
        ".folded",
        ".pb.gz",
        ".pb",
        ".speedscope.json",
        ".svg",
    ];
}

/// What to export beyond the format: the sample type for single-type formats.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Sample type for `.folded`, `.speedscope.json` and `.svg` (pprof and `.stkl` keep all).
    pub sample_type: usize,
    /// Title of an SVG flame graph.
    pub title: String,
}

/// Writes `p` in `format`.
pub fn write(
    p: &Profile,
    format: ExportFormat,
    opts: &ExportOptions,
    w: &mut impl Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Stkl => crate::formats::stkl::write(p, w),
        ExportFormat::Folded => folded::write(p, opts.sample_type, w),
        ExportFormat::Pprof { gzip } => pprof::write(p, gzip, w),
        ExportFormat::Speedscope => speedscope::write(p, opts.sample_type, w),
        ExportFormat::Svg => {
            let sel = crate::analysis::Selection::all(opts.sample_type);
            svg::write(p, &sel, &svg::SvgOptions::titled(&opts.title), w)
        }
    }
}

/// Writes `p` to the file `path` in the format its name asks for (through a temporary file
/// next to it, renamed at the end: a failed export never leaves half a file).
pub fn write_file(p: &Profile, path: &Path, opts: &ExportOptions) -> std::io::Result<()> {
    let format = ExportFormat::from_path(path).ok_or_else(|| {
        std::io::Error::other(format!(
            "{}: cannot tell the format from the name; use one of {}",
            path.display(),
            ExportFormat::EXTENSIONS.join(", ")
        ))
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("export"),
        std::process::id()
    ));
    let result = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(p, format, opts, &mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
