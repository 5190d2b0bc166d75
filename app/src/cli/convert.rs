//! `stacklens convert IN -o OUT`: any profile into `.stkl`, `.folded`, `.pb.gz` / `.pb`
//! (pprof) or `.speedscope.json`, the format taken from OUT's name.

use super::select::{self, InputArgs};
use anyhow::{Context, Result, bail};
use stacklens_core::export::{self, ExportFormat, ExportOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The profile to read (any format stacklens reads).
    pub file: PathBuf,
    /// Where to write; the extension picks the format: .stkl, .folded, .pb.gz, .pb,
    /// .speedscope.json (or .svg, a flame graph).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Sample type for the formats that hold one (.folded, .speedscope.json, .svg); .stkl and
    /// pprof keep every sample type.
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: &ConvertArgs) -> Result<()> {
    let Some(format) = ExportFormat::from_path(&args.output) else {
        bail!(
            "{}: cannot tell the output format from the name; use one of {}",
            args.output.display(),
            ExportFormat::EXTENSIONS.join(", ")
        );
    };
    let profile = select::load(&args.file, &args.input)?;
    let opts = ExportOptions {
        sample_type: select::sample_type(&profile, args.event.as_deref())?,
        title: title(&args.file),
    };
    let _ = format;
    export::write_file(&profile, &args.output, &opts)
        .with_context(|| format!("writing {}", args.output.display()))
}

/// The input's file name, for titles.
pub fn title(file: &std::path::Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}
