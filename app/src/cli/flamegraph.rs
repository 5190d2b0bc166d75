//! `stacklens flamegraph IN -o out.svg`: a flame graph as a standalone SVG that zooms,
//! searches and shows details in a browser.

use super::select::{self, InputArgs, SelectArgs};
use anyhow::{Context, Result};
use stacklens_core::export::svg::{self, SvgOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct FlamegraphArgs {
    /// The profile to read (any format stacklens reads).
    pub file: PathBuf,
    /// The SVG file to write.
    #[arg(short, long, value_name = "OUT.svg")]
    pub output: PathBuf,
    /// Title at the top (default: the input's file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Icicle graph: roots at the top.
    #[arg(long)]
    pub inverted: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: &FlamegraphArgs) -> Result<()> {
    let profile = select::transformed(select::load(&args.file, &args.input)?, &args.select)?;
    let sel = select::selection(&profile, &args.file, &args.select)?;
    let mut opts = SvgOptions::titled(
        &args
            .title
            .clone()
            .unwrap_or_else(|| super::convert::title(&args.file)),
    );
    opts.inverted = args.inverted;
    let write = || -> std::io::Result<()> {
        let f = std::fs::File::create(&args.output)?;
        let mut w = std::io::BufWriter::new(f);
        svg::write(&profile, &sel, &opts, &mut w)?;
        std::io::Write::flush(&mut w)
    };
    write().with_context(|| format!("writing {}", args.output.display()))
}
