//! `stacklens report`: top functions of a profile, as text or JSON.

use super::select::{self, InputArgs, SelectArgs};
use crate::format;
use anyhow::{Context, Result};
use serde::Serialize;
use stacklens_core::analysis::{CallNodeTable, Selection, stack_weights, top_functions};
use stacklens_core::model::{Profile, SampleType, ThreadId};
use stacklens_core::progress::process_cpu_time;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The profile to read (any format stacklens reads, plain or gzip/zstd-compressed; the
    /// format is detected from the content).
    pub file: PathBuf,
    /// How many functions to print (text default 20; JSON default all).
    #[arg(long)]
    pub top: Option<usize>,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The JSON report. Field names and meanings are stable (documented in README.md).
#[derive(Debug, Serialize)]
pub struct JsonReport {
    pub file: String,
    pub source_format: String,
    pub sample_type: SampleType,
    pub sample_types: Vec<SampleType>,
    pub samples: u64,
    pub total: i64,
    pub lost_samples: u64,
    pub duration_ns: Option<u64>,
    pub threads: Vec<JsonThread>,
    pub warnings: Vec<String>,
    /// Label keys with their distinct values (filter with `--tag KEY=VALUE`).
    pub labels: Vec<JsonLabel>,
    /// The transforms applied, in order (`--focus`, `--merge`, `--drop`, `--collapse-recursion`);
    /// left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<String>,
    pub functions: Vec<JsonFunction>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonThread {
    pub pid: i32,
    pub tid: i32,
    pub name: String,
    pub samples: u64,
}

#[derive(Debug, Serialize)]
pub struct JsonFunction {
    pub name: String,
    pub module: String,
    pub file: Option<String>,
    #[serde(rename = "self")]
    pub self_weight: i64,
    #[serde(rename = "total")]
    pub total_weight: i64,
    pub self_percent: f64,
    pub total_percent: f64,
    pub self_samples: u64,
    pub total_samples: u64,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let profile = select::transformed(select::load(&args.file, &args.input)?, &args.select)?;
    let (t0, cpu0) = (std::time::Instant::now(), process_cpu_time());
    let report = build(&profile, args)?;
    if args.input.timings {
        select::print_timing(
            "report (call tree, top functions, threads)",
            t0.elapsed(),
            process_cpu_time().saturating_sub(cpu0),
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing JSON")?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_text(&mut out, &report, &profile)?,
    }
    out.flush()?;
    // The process ends next, and the kernel takes its memory back at once: freeing the
    // profile's tables one by one first took 25-30 ms after the report was out, on a 1 GB
    // capture's (median wall 682 -> 671 ms over 20 alternating runs).
    std::mem::forget(profile);
    Ok(())
}

/// Computes the report of `profile` for `args` (selection, top N).
pub fn build(profile: &Profile, args: &ReportArgs) -> Result<JsonReport> {
    let sel = select::selection(profile, &args.file, &args.select)?;
    let sample_type = sel.sample_type;
    let labels = profile.label_values();
    let nodes = CallNodeTable::build(profile);
    // One pass over the selection's samples gives the tree and the threads' sample counts.
    let weights = stack_weights(profile, &sel);
    let tree = nodes.tree_from(&weights);
    let top = top_functions(profile, &nodes, &tree);
    let limit = args.top.unwrap_or(match args.format {
        OutputFormat::Text => 20,
        OutputFormat::Json => usize::MAX,
    });
    let pct = |w: i64| {
        if tree.total == 0 {
            0.0
        } else {
            100.0 * w as f64 / tree.total as f64
        }
    };
    let functions = top
        .iter()
        .take(limit)
        .map(|s| {
            let f = s.func.index();
            JsonFunction {
                name: profile.func_name(s.func).to_string(),
                module: profile.func_module_name(s.func).to_string(),
                file: profile.funcs.file[f]
                    .get()
                    .map(|id| profile.str(id).to_string()),
                self_weight: s.self_weight,
                total_weight: s.total_weight,
                self_percent: pct(s.self_weight),
                total_percent: pct(s.total_weight),
                self_samples: s.self_samples,
                total_samples: s.total_samples,
            }
        })
        .collect();
    let threads = threads_of(profile, &sel)
        .into_iter()
        .map(|t| {
            let i = t.index();
            let samples = weights.per_thread.get(i).copied().unwrap_or(0);
            let name = profile.threads.name[i]
                .get()
                .map(|s| profile.str(s).to_string())
                .unwrap_or_default();
            JsonThread {
                pid: profile.threads.pid[i],
                tid: profile.threads.tid[i],
                name,
                samples,
            }
        })
        .filter(|t| t.samples > 0)
        .collect();
    Ok(JsonReport {
        file: args.file.display().to_string(),
        source_format: profile.meta.source_format.clone(),
        sample_type: profile
            .sample_types
            .get(sample_type)
            .cloned()
            .unwrap_or(SampleType {
                name: String::new(),
                unit: stacklens_core::model::Unit::Count,
            }),
        sample_types: profile.sample_types.clone(),
        samples: tree.samples,
        total: tree.total,
        lost_samples: profile.meta.lost_samples,
        duration_ns: profile.meta.duration_ns(),
        threads,
        warnings: profile.meta.warnings.clone(),
        labels: labels
            .into_iter()
            .map(|(key, values)| JsonLabel { key, values })
            .collect(),
        transforms: args
            .select
            .transforms()?
            .iter()
            .map(|t| t.label())
            .collect(),
        functions,
    })
}

fn threads_of(profile: &Profile, sel: &Selection) -> Vec<ThreadId> {
    match &sel.threads {
        Some(t) => t.clone(),
        None => (0..profile.threads.len())
            .map(ThreadId::from_index)
            .collect(),
    }
}

fn write_text(out: &mut impl Write, r: &JsonReport, profile: &Profile) -> Result<()> {
    let unit = r.sample_type.unit;
    writeln!(
        out,
        "# stacklens report of {} ({})",
        r.file, r.source_format
    )?;
    if let Some(cmd) = &profile.meta.command_line {
        writeln!(out, "# command: {cmd}")?;
    }
    if !r.transforms.is_empty() {
        writeln!(out, "# transforms: {}", r.transforms.join(", then "))?;
    }
    let others: Vec<&str> = r
        .sample_types
        .iter()
        .filter(|t| t.name != r.sample_type.name)
        .map(|t| t.name.as_str())
        .collect();
    writeln!(
        out,
        "# event: {} ({}){}",
        r.sample_type.name,
        unit.as_str(),
        if others.is_empty() {
            String::new()
        } else {
            format!("; other events: {} (--event NAME)", others.join(", "))
        }
    )?;
    writeln!(
        out,
        "# samples: {}   total: {}   lost samples: {}{}",
        format::grouped(r.samples as i64),
        format::weight(r.total, unit),
        r.lost_samples,
        r.duration_ns
            .map(|d| format!("   duration: {}", format::duration_ns(d as i64)))
            .unwrap_or_default()
    )?;
    let threads: Vec<String> = r
        .threads
        .iter()
        .map(|t| {
            format!(
                "{} ({}): {}",
                if t.name.is_empty() { "?" } else { &t.name },
                t.tid,
                t.samples
            )
        })
        .collect();
    writeln!(out, "# threads: {}", threads.join(", "))?;
    for l in &r.labels {
        const SHOWN: usize = 8;
        let mut values = l
            .values
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if l.values.len() > SHOWN {
            values.push_str(&format!(", … ({} values)", l.values.len()));
        }
        writeln!(out, "# label {}: {values} (--tag KEY=VALUE)", l.key)?;
    }
    for w in &r.warnings {
        writeln!(out, "# warning: {w}")?;
    }
    writeln!(out, "#")?;
    writeln!(
        out,
        "# {:>7}  {:>7}  {:>12}  {:>12}  {:>8}  {:<40} Module",
        "Self%", "Total%", "Self", "Total", "Samples", "Function"
    )?;
    for f in &r.functions {
        writeln!(
            out,
            "  {:>6.2}%  {:>6.2}%  {:>12}  {:>12}  {:>8}  {:<40} {}",
            f.self_percent,
            f.total_percent,
            format::weight(f.self_weight, unit),
            format::weight(f.total_weight, unit),
            f.self_samples,
            f.name,
            f.module
        )?;
    }
    Ok(())
}
