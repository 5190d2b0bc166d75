//! Command-line interface: one file per subcommand.

mod format;
mod report;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// Exit status when the input is bad or the command fails.
pub const EXIT_ERROR: u8 = 2;

/// stacklens: open any profile and see where the time went.
#[derive(Debug, Parser)]
#[command(name = "stacklens", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the top functions of a profile (like `perf report --no-children`).
    Report(report::ReportArgs),
}

/// Parses the arguments and runs the command; returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Report(args)) => report::run(&args),
        None => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let _ = cmd.print_help();
            return ExitCode::SUCCESS;
        }
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
