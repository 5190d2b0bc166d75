//! `stacklens record (--pid PID | -- CMD [ARGS...]) -o OUT`: samples a process with
//! `perf_event_open` and saves the capture, symbolized, as `.stkl` (or any format `convert`
//! writes; `.data` keeps the raw pipe-mode perf.data that `perf report -i` reads too).

use super::select::InputArgs;
use anyhow::{Context, Result, bail};
use stacklens_core::export::{self, ExportFormat, ExportOptions};
use stacklens_core::record::{DEFAULT_FREQUENCY, RecordOptions, Recorder};
use stacklens_core::{LoadOptions, Progress};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["pid", "command"])))]
pub struct RecordArgs {
    /// Attach to this running process (all its threads, and threads it starts later).
    #[arg(long, short = 'p', value_name = "PID")]
    pub pid: Option<i32>,
    /// Samples per second of each thread's CPU time.
    #[arg(short = 'F', long = "frequency", value_name = "HZ", default_value_t = DEFAULT_FREQUENCY)]
    pub frequency: u32,
    /// Stop after this many seconds (default: when the process ends, or on Ctrl+C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// User frames only, even where kernel frames are allowed.
    #[arg(long)]
    pub no_kernel: bool,
    /// Show the recording live in the window (Stop saves to OUT, a .stkl).
    #[arg(long)]
    pub gui: bool,
    /// Where to save: .stkl (symbolized, reopens instantly), .data (raw pipe-mode perf.data),
    /// or any format `convert` writes (.folded, .pb.gz, .speedscope.json, .svg).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
    /// The command to launch and record (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

pub fn run(args: &RecordArgs) -> Result<()> {
    let raw = is_raw(&args.output);
    if !raw && ExportFormat::from_path(&args.output).is_none() {
        bail!(
            "{}: cannot tell the output format from the name; use .data or one of {}",
            args.output.display(),
            ExportFormat::EXTENSIONS.join(", ")
        );
    }
    let opts = RecordOptions {
        frequency: args.frequency,
        kernel: !args.no_kernel,
    };
    if args.gui {
        if ExportFormat::from_path(&args.output) != Some(ExportFormat::Stkl) {
            bail!("with --gui, OUT is where Stop saves the capture: give it a .stkl name");
        }
        let start = match args.pid {
            Some(pid) => crate::ui::record::Start::Attach(pid, opts),
            None => crate::ui::record::Start::Launch(args.command.clone(), opts),
        };
        return crate::ui::run(crate::ui::Options {
            symbol_dirs: args.input.symbols.clone(),
            record: Some((start, args.output.clone())),
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"));
    }
    let rec = match args.pid {
        Some(pid) => Recorder::attach(pid, &opts),
        None => Recorder::launch(&args.command, &opts),
    }?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let what = match args.pid {
        Some(pid) => format!("process {pid}"),
        None => args
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
    };
    eprintln!(
        "stacklens: recording {what} at {} Hz (Ctrl+C stops)",
        args.frequency
    );
    if let Some(note) = rec.stats().kernel_note {
        eprintln!("stacklens: {note}");
    }
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    while !rec.is_finished()
        && !INTERRUPTED.load(Ordering::Relaxed)
        && deadline.is_none_or(|d| Instant::now() < d)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let capture = rec.stop();
    let s = &capture.stats;
    eprintln!(
        "stacklens: {} samples ({} lost) in {:.2} s{}",
        stacklens_core::format::grouped(s.samples as i64),
        stacklens_core::format::grouped(s.lost as i64),
        s.elapsed.as_secs_f64(),
        if s.target_exited {
            "; the process ended"
        } else {
            ""
        }
    );
    if let Some(e) = &s.error {
        eprintln!("stacklens: warning: {e}");
    }
    if raw {
        std::fs::write(&args.output, &capture.data)
            .with_context(|| format!("writing {}", args.output.display()))?;
    } else {
        let lo = LoadOptions {
            symbols: args.input.symbol_options(),
            ..LoadOptions::default()
        };
        let profile = stacklens_core::load_bytes(&capture.data, &lo, &Progress::new())
            .context("reading the capture")?;
        let eo = ExportOptions {
            sample_type: profile.default_sample_type(),
            title: args
                .output
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        export::write_file(&profile, &args.output, &eo)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    let _ = writeln!(
        std::io::stderr(),
        "stacklens: saved {}",
        args.output.display()
    );
    Ok(())
}

/// A raw perf.data output (`x.data`, `perf.data`).
fn is_raw(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "data")
}
