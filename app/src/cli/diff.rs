//! `stacklens diff BEFORE AFTER`: what changed between two profiles, with significance, as
//! text or JSON, and a CI gate (`--fail-on-regression PCT`: exit status 3).

use super::select::{self, InputArgs, SelectArgs};
use crate::format;
use anyhow::{Context, Result};
use serde::Serialize;
use stacklens_core::analysis::{Diff, Normalize, diff};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The profile before the change (any format).
    pub before: PathBuf,
    /// The profile after the change (any format; need not be the same as BEFORE's).
    pub after: PathBuf,
    /// How weights are compared: share of each profile's total, absolute weight, or weight
    /// per second of each profile's duration.
    #[arg(long, value_enum, default_value_t = NormalizeArg::Share)]
    pub normalize: NormalizeArg,
    /// Exit with status 3 when a function's self share grew by at least PCT percentage points
    /// and the growth is significant (after the false-discovery-rate correction).
    #[arg(long, value_name = "PCT")]
    pub fail_on_regression: Option<f64>,
    /// Significance level, after the Benjamini–Hochberg correction.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Smallest self share change (percentage points) flagged as significant.
    #[arg(long, default_value_t = 0.5)]
    pub min_delta: f64,
    /// Functions to print (text; default 20). JSON lists all.
    #[arg(long)]
    pub top: Option<usize>,
    /// No window (the comparison is printed; implied by --format and --fail-on-regression).
    #[arg(long)]
    pub no_gui: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Open the window, save a PNG of it once both profiles are compared, then exit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Print the comparison as text or JSON instead of opening the window.
    #[arg(long, value_enum)]
    pub format: Option<super::report::OutputFormat>,
}

/// Is there a display to open a window on.
fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// Opens the comparison window with the command line's transforms and event.
fn window(args: &DiffArgs) -> Result<u8> {
    if !args.select.tids.is_empty() || !args.select.tags.is_empty() {
        eprintln!(
            "stacklens: --tid and --tag apply to printed comparisons only (--no-gui); the window compares all threads"
        );
    }
    let setup = crate::ui::compare::Setup {
        transforms: args.select.transforms()?,
        event: args.select.event.clone(),
        normalize: args.normalize.into(),
        alpha: args.alpha,
        min_delta: args.min_delta,
    };
    crate::ui::run(crate::ui::Options {
        symbol_dirs: args.input.symbols.clone(),
        compare: Some((args.before.clone(), args.after.clone(), setup)),
        screenshot: args.screenshot.clone(),
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    Ok(0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NormalizeArg {
    Share,
    Absolute,
    PerSecond,
}

impl From<NormalizeArg> for Normalize {
    fn from(n: NormalizeArg) -> Self {
        match n {
            NormalizeArg::Share => Normalize::Share,
            NormalizeArg::Absolute => Normalize::Absolute,
            NormalizeArg::PerSecond => Normalize::PerSecond,
        }
    }
}

/// The JSON comparison (stable field names, documented in README.md).
#[derive(Serialize)]
struct JsonDiff<'a> {
    before: String,
    after: String,
    sample_type: String,
    #[serde(flatten)]
    diff: &'a Diff,
    /// With `--fail-on-regression`: the functions that fail the gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    regressions: Option<Vec<String>>,
}

/// Runs the comparison; returns the exit status (0, or 3 for a regression).
pub fn run(args: &DiffArgs) -> Result<u8> {
    let headless = args.no_gui || args.format.is_some() || args.fail_on_regression.is_some();
    if !headless {
        if has_display() {
            return window(args);
        }
        eprintln!("stacklens: no display: printing the comparison (--no-gui says so quietly)");
    }
    let load = |path: &PathBuf| -> Result<_> {
        let p = select::load(path, &args.input)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let p = select::transformed(p, &args.select)?;
        let sel = select::selection(&p, path, &args.select)?;
        Ok((p, sel))
    };
    let (pa, sa) = load(&args.before)?;
    let (pb, sb) = load(&args.after)?;
    let d = diff(
        (&pa, &sa),
        (&pb, &sb),
        args.normalize.into(),
        args.alpha,
        args.min_delta,
    );
    let regressions = args.fail_on_regression.map(|pct| d.regressions(pct));
    let ty = pb
        .sample_types
        .get(sb.sample_type)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let unit = pb
        .sample_types
        .get(sb.sample_type)
        .map_or(stacklens_core::model::Unit::Count, |t| t.unit);
    let mut out = std::io::stdout().lock();
    match args.format.unwrap_or(super::report::OutputFormat::Text) {
        super::report::OutputFormat::Json => {
            let j = JsonDiff {
                before: args.before.display().to_string(),
                after: args.after.display().to_string(),
                sample_type: ty,
                diff: &d,
                regressions: regressions
                    .as_ref()
                    .map(|r| r.iter().map(|f| f.name.clone()).collect()),
            };
            serde_json::to_writer_pretty(&mut out, &j)?;
            writeln!(out)?;
        }
        super::report::OutputFormat::Text => {
            text(&mut out, args, &d, &ty, unit)?;
        }
    }
    out.flush()?;
    match regressions {
        Some(r) if !r.is_empty() => {
            let mut err = std::io::stderr().lock();
            for f in r {
                writeln!(
                    err,
                    "stacklens: regression: {} self share {:.2}% -> {:.2}% (+{:.2} points, 95% CI {:+.2} to {:+.2}, q = {:.2e})",
                    f.name,
                    f.before_self_samples as f64 * 100.0 / d.before_samples.max(1) as f64,
                    f.after_self_samples as f64 * 100.0 / d.after_samples.max(1) as f64,
                    f.share_delta,
                    f.ci_low,
                    f.ci_high,
                    f.q_value
                )?;
            }
            Ok(3)
        }
        _ => Ok(0),
    }
}

fn text(
    out: &mut impl Write,
    args: &DiffArgs,
    d: &Diff,
    ty: &str,
    unit: stacklens_core::model::Unit,
) -> Result<()> {
    for (label, path, samples, total) in [
        ("before:", &args.before, d.before_samples, d.before_total),
        ("after: ", &args.after, d.after_samples, d.after_total),
    ] {
        writeln!(
            out,
            "{label} {} ({} samples, {})",
            path.display(),
            format::grouped(samples as i64),
            format::weight(total, unit)
        )?;
    }
    let scale = match d.normalize {
        Normalize::Share => "self share of each profile's total, %",
        Normalize::Absolute => "self weight",
        Normalize::PerSecond => "self weight per second of each profile",
    };
    writeln!(
        out,
        "event {ty}; before/after/delta: {scale}; p: two-proportion test on self sample counts, q: Benjamini-Hochberg; * = q < {} and |change| >= {} points",
        d.alpha, d.min_delta
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>7} {:>17} {:>9} {:>9}  function",
        "before", "after", "delta", "ratio", "share change CI", "p", "q"
    )?;
    let value = |v: f64| -> String {
        match d.normalize {
            Normalize::Share => format!("{v:.2}%"),
            Normalize::Absolute => format::weight(v.round() as i64, unit),
            Normalize::PerSecond => format!("{}/s", format::weight(v.round() as i64, unit)),
        }
    };
    for f in d.functions.iter().take(args.top.unwrap_or(20)) {
        let ratio = if f.ratio.is_finite() {
            format!("{:.2}x", f.ratio)
        } else {
            "new".into()
        };
        let module = if f.module.is_empty() {
            String::new()
        } else {
            format!("  [{}]", f.module)
        };
        writeln!(
            out,
            "{:>10} {:>10} {:>10} {:>7} {:>+8.2}..{:<+7.2} {:>9.2e} {:>9.2e} {}{}{}",
            value(f.before),
            value(f.after),
            match d.normalize {
                Normalize::Share => format!("{:+.2}", f.delta),
                _ => value(f.delta),
            },
            ratio,
            f.ci_low,
            f.ci_high,
            f.p_value,
            f.q_value,
            if f.significant { "* " } else { "  " },
            f.name,
            module
        )?;
    }
    Ok(())
}
