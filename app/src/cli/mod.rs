//! Command-line interface: one file per subcommand.

mod convert;
mod diff;
mod flamegraph;
mod record;
mod report;
mod select;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when the input is bad or the command fails.
pub const EXIT_ERROR: u8 = 2;

/// stacklens: open any profile and see where the time went.
///
/// With files (or none), opens the window; with a subcommand, runs headless.
#[derive(Debug, Parser)]
#[command(name = "stacklens", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Profiles to open in the window, each in a tab (format detected from content).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Directory searched for binaries and debug files (repeatable). The folder of each
    /// profile and its `bin/` subfolder are always searched.
    #[arg(long = "symbols", value_name = "DIR")]
    pub symbol_dirs: Vec<PathBuf>,

    /// Open the bundled demo profile.
    #[arg(long)]
    pub demo: bool,

    /// Fetch binaries and debug files not found locally from the debuginfod servers in
    /// DEBUGINFOD_URLS (http:// or https://; also View ▸ Fetch symbols with debuginfod).
    #[arg(long)]
    pub debuginfod: bool,

    /// Record the window's own frame cost with puffin and show it (View ▸ Frame cost).
    #[arg(long)]
    pub profile_ui: bool,

    /// Save a PNG of the window once every profile has loaded, then exit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,

    /// Directory searched for source files of the source view (repeatable); a file recorded
    /// as /build/x/src/a.c is looked for as DIR/build/x/src/a.c, DIR/x/src/a.c, DIR/src/a.c...
    /// The profile's folder is always searched.
    #[arg(long = "source-root", value_name = "DIR")]
    pub source_roots: Vec<PathBuf>,

    /// The view the profiles open in.
    #[arg(long, value_enum, value_name = "VIEW")]
    pub view: Option<crate::ui::document::View>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the top functions of a profile (like `perf report --no-children`).
    Report(report::ReportArgs),
    /// Convert a profile: .stkl, .folded, .pb.gz (pprof), .speedscope.json, from OUT's name.
    Convert(convert::ConvertArgs),
    /// Write a flame graph SVG that zooms and searches in a browser.
    Flamegraph(flamegraph::FlamegraphArgs),
    /// Compare two profiles: what got slower, with significance; a CI gate with
    /// --fail-on-regression (exit status 3).
    Diff(diff::DiffArgs),
    /// Sample a running process (--pid) or a command (after --) with perf_event_open and save
    /// the capture (.stkl, or .data for raw perf.data).
    Record(record::RecordArgs),
}

/// Parses the arguments and runs the command; returns the process exit status.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Transforms apply in the order given, across options: clap's indices tell it.
    if let Some((_, sub)) = matches.subcommand() {
        match &mut cli.command {
            Some(Command::Report(a)) => a.select.order_transforms(sub),
            Some(Command::Flamegraph(a)) => a.select.order_transforms(sub),
            Some(Command::Diff(a)) => a.select.order_transforms(sub),
            _ => {}
        }
    }
    if let Some(Command::Diff(args)) = &cli.command {
        return match diff::run(args) {
            Ok(code) => ExitCode::from(code),
            Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "stacklens: {e:#}");
                ExitCode::from(EXIT_ERROR)
            }
        };
    }
    let result = match cli.command {
        Some(Command::Diff(_)) => Ok(()),
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Convert(args)) => convert::run(&args),
        Some(Command::Flamegraph(args)) => flamegraph::run(&args),
        Some(Command::Record(args)) => record::run(&args),
        None => crate::ui::run(crate::ui::Options {
            files: cli.files,
            symbol_dirs: cli.symbol_dirs,
            demo: cli.demo,
            profile_ui: cli.profile_ui,
            screenshot: cli.screenshot,
            view: cli.view,
            source_roots: cli.source_roots,
            compare: None,
            record: None,
            debuginfod: cli.debuginfod,
        })
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "stacklens: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `stacklens report … | head` closing the pipe early is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
