//! What the subcommands share: loading a profile, turning `--event`, `--tid` and `--tag` into a
//! [`Selection`], and `--focus`, `--merge`, `--drop`, `--collapse-recursion` into transforms.

use anyhow::{Result, bail};
use stacklens_core::analysis::{LabelFilter, Selection, Transform, transform};
use stacklens_core::model::{Profile, ThreadId};
use stacklens_core::{LoadOptions, Progress};
use std::path::{Path, PathBuf};

/// Options every subcommand that reads a profile takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InputArgs {
    /// Directory to search for binaries and debug info, by build-id then by name (repeatable).
    #[arg(long = "symbols", value_name = "DIR")]
    pub symbols: Vec<PathBuf>,
    /// Attribute inlined code to the function it was inlined into (like `perf report`), instead
    /// of showing inlined functions as functions of their own.
    #[arg(long)]
    pub no_inline: bool,
    /// Fetch binaries and debug files that are not found locally from the debuginfod servers
    /// in DEBUGINFOD_URLS (http:// or https://), cached in ~/.cache/stacklens/debuginfod.
    #[arg(long)]
    pub debuginfod: bool,
    /// A debuginfod server to ask (repeatable; implies --debuginfod).
    #[arg(long = "debuginfod-url", value_name = "URL")]
    pub debuginfod_urls: Vec<String>,
    /// Resolve every address from the binaries, neither reading nor keeping the answers of
    /// earlier loads of the same files (kept in ~/.cache/stacklens/symbols by default).
    #[arg(long)]
    pub no_symbol_cache: bool,
    /// Most memory the load may take, in MiB (0: no limit). Past it, the load stops with a
    /// "too big" error instead of the machine running out of memory. Default: 80% of the
    /// memory available when the load starts.
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<u64>,
    /// Print how long each step of loading took (open, parse passes, symbolize, freeze) to
    /// stderr.
    #[arg(long)]
    pub timings: bool,
}

impl InputArgs {
    /// The symbol search these options ask for.
    pub fn symbol_options(&self) -> stacklens_core::symbols::SymbolOptions {
        let mut o = stacklens_core::symbols::SymbolOptions {
            search_dirs: self.symbols.clone(),
            inline_frames: !self.no_inline,
            debuginfod_urls: self.debuginfod_urls.clone(),
            ..Default::default()
        };
        if self.no_symbol_cache {
            o.resolved_cache = None;
        }
        if self.debuginfod {
            o = o.with_debuginfod_from_env();
        }
        o
    }
}

/// Options that pick part of a profile.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Event / sample type (e.g. `cpu-clock`, `page-faults:u`, pprof's `alloc_space`);
    /// default: the one the file names (pprof), else the first with samples.
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// Only samples of this thread id (repeatable).
    #[arg(long = "tid", value_name = "TID")]
    pub tids: Vec<i32>,
    /// Only samples carrying the label KEY with value VALUE (pprof labels; repeatable: values
    /// of one key are alternatives, different keys must all match). A numeric label's value is
    /// written with its unit, as `report` lists them.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Only samples whose stack has a function matching REGEX, re-rooted at the outermost
    /// match (transform; all transforms are repeatable and apply in command-line order).
    #[arg(long = "focus", value_name = "REGEX")]
    pub focus: Vec<String>,
    /// Take functions matching REGEX out of the stacks; their cost goes to their callers.
    #[arg(long = "merge", value_name = "REGEX")]
    pub merge: Vec<String>,
    /// Leave out samples with a function matching REGEX anywhere in the stack.
    #[arg(long = "drop", value_name = "REGEX")]
    pub drop: Vec<String>,
    /// Fold direct recursion: a run of frames of one function becomes one frame.
    #[arg(long = "collapse-recursion")]
    pub collapse_recursion: bool,
    /// Cut call nodes with less than PERCENT of the samples off the stacks; their samples
    /// count as their caller's self cost.
    #[arg(long = "hide-below", value_name = "PERCENT", value_parser = parse_percent)]
    pub hide_below: Vec<u32>,
    /// Apply a saved transform preset (a name saved from the window, or a preset .json file).
    #[arg(long = "preset", value_name = "NAME")]
    pub preset: Vec<String>,
    /// The transforms above in command-line order (see [`SelectArgs::order_transforms`]).
    #[arg(skip)]
    pub ordered: Option<Vec<Step>>,
}

/// One transform option: a transform, or a preset to load.
#[derive(Clone, Debug)]
pub enum Step {
    Transform(Transform),
    Preset(String),
}

fn parse_percent(s: &str) -> Result<u32, String> {
    stacklens_core::analysis::transform::parse_percent(s)
}

impl SelectArgs {
    /// Records the order the transform options were given in, from clap's argument indices.
    pub fn order_transforms(&mut self, m: &clap::ArgMatches) {
        let mut at: Vec<(usize, Transform)> = Vec::new();
        let mut regexes = |id: &str, make: fn(String) -> Transform| {
            if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
                at.extend(idx.zip(vals).map(|(i, v)| (i, make(v.clone()))));
            }
        };
        regexes("focus", |pattern| Transform::FocusFunction { pattern });
        regexes("merge", |pattern| Transform::Merge { pattern });
        regexes("drop", |pattern| Transform::Drop { pattern });
        let mut at: Vec<(usize, Step)> = at
            .into_iter()
            .map(|(i, t)| (i, Step::Transform(t)))
            .collect();
        if self.collapse_recursion
            && let Some(i) = m.index_of("collapse_recursion")
        {
            at.push((
                i,
                Step::Transform(Transform::CollapseRecursion { pattern: None }),
            ));
        }
        if let (Some(idx), Some(vals)) =
            (m.indices_of("hide_below"), m.get_many::<u32>("hide_below"))
        {
            at.extend(idx.zip(vals).map(|(i, &basis_points)| {
                (i, Step::Transform(Transform::HideBelow { basis_points }))
            }));
        }
        if let (Some(idx), Some(vals)) = (m.indices_of("preset"), m.get_many::<String>("preset")) {
            at.extend(idx.zip(vals).map(|(i, v)| (i, Step::Preset(v.clone()))));
        }
        at.sort_by_key(|(i, _)| *i);
        self.ordered = Some(at.into_iter().map(|(_, t)| t).collect());
    }

    /// The transforms to apply, in order: as given on the command line (presets loaded in
    /// place), or (when the order was not recorded) presets, focus, merge, drop, collapse,
    /// hide.
    pub fn transforms(&self) -> Result<Vec<Transform>> {
        let load = |name: &str| -> Result<Vec<Transform>> {
            crate::presets::load(name)
                .map(|p| p.transforms)
                .map_err(|e| anyhow::anyhow!("preset: {e}"))
        };
        if let Some(steps) = &self.ordered {
            let mut out = Vec::new();
            for s in steps {
                match s {
                    Step::Transform(t) => out.push(t.clone()),
                    Step::Preset(name) => out.extend(load(name)?),
                }
            }
            return Ok(out);
        }
        let mut t: Vec<Transform> = Vec::new();
        for name in &self.preset {
            t.extend(load(name)?);
        }
        t.extend(
            self.focus
                .iter()
                .map(|p| Transform::FocusFunction { pattern: p.clone() }),
        );
        t.extend(
            self.merge
                .iter()
                .map(|p| Transform::Merge { pattern: p.clone() }),
        );
        t.extend(
            self.drop
                .iter()
                .map(|p| Transform::Drop { pattern: p.clone() }),
        );
        if self.collapse_recursion {
            t.push(Transform::CollapseRecursion { pattern: None });
        }
        t.extend(
            self.hide_below
                .iter()
                .map(|&basis_points| Transform::HideBelow { basis_points }),
        );
        Ok(t)
    }
}

/// `profile` with the transforms of `args` applied (itself when there are none).
pub fn transformed(profile: Profile, args: &SelectArgs) -> Result<Profile> {
    let t = args.transforms()?;
    if t.is_empty() {
        return Ok(profile);
    }
    transform::apply(&profile, &t).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Loads `file` (any format; symbols searched as `input` says).
pub fn load(file: &Path, input: &InputArgs) -> Result<Profile> {
    let opts = LoadOptions {
        symbols: input.symbol_options(),
        memory_limit: input.memory_limit.map(|mib| mib.saturating_mul(1 << 20)),
        ..LoadOptions::default()
    };
    let progress = Progress::new();
    let profile = stacklens_core::load(file, &opts, &progress)?;
    if input.timings {
        print_timings(file, &progress);
    }
    Ok(profile)
}

/// The load's steps, to stderr: each step's wall time, and the CPU time of the whole process
/// meanwhile (over the wall time: how many cores the step kept busy).
pub fn print_timings(file: &Path, progress: &Progress) {
    let laps = progress.lap_times();
    let wall: std::time::Duration = laps.iter().map(|l| l.wall).sum();
    let cpu: std::time::Duration = laps.iter().map(|l| l.cpu).sum();
    eprintln!("timings for {}:", file.display());
    eprintln!("  {:>9}     {:>9}", "wall", "CPU");
    for l in laps {
        print_timing(l.what, l.wall, l.cpu);
    }
    print_timing("load in all", wall, cpu);
}

/// One line of `--timings`.
pub fn print_timing(what: &str, wall: std::time::Duration, cpu: std::time::Duration) {
    let (wall, cpu) = (wall.as_secs_f64(), cpu.as_secs_f64());
    let cores = if wall > 0.0 { cpu / wall } else { 0.0 };
    eprintln!(
        "  {:>9.1} ms  {:>9.1} ms  ({cores:.1} cores)  {what}",
        wall * 1e3,
        cpu * 1e3
    );
}

/// The sample type `--event` names, or the profile's default.
pub fn sample_type(profile: &Profile, event: Option<&str>) -> Result<usize> {
    match event {
        Some(name) => Ok(profile.sample_type_index(name).ok_or_else(|| {
            stacklens_core::Error::NoSuchSampleType {
                name: name.to_string(),
                available: profile
                    .sample_types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?),
        None => Ok(profile.default_sample_type()),
    }
}

/// The selection `args` describe; errors name what the profile has instead.
pub fn selection(profile: &Profile, file: &Path, args: &SelectArgs) -> Result<Selection> {
    let mut sel = Selection::all(sample_type(profile, args.event.as_deref())?);
    if !args.tids.is_empty() {
        let threads: Vec<ThreadId> = (0..profile.threads.len())
            .filter(|&i| args.tids.contains(&profile.threads.tid[i]))
            .map(ThreadId::from_index)
            .collect();
        if threads.is_empty() {
            let have: Vec<String> = (0..profile.threads.len())
                .map(|i| profile.thread_label(ThreadId::from_index(i)))
                .collect();
            bail!(
                "no thread with tid {:?} in {}; threads: {}",
                args.tids,
                file.display(),
                have.join(", ")
            );
        }
        sel.threads = Some(threads);
    }
    let labels = profile.label_values();
    for t in &args.tags {
        let Some(f) = LabelFilter::parse(t) else {
            bail!("--tag wants KEY=VALUE, got {t:?}");
        };
        let Some((_, values)) = labels.iter().find(|(k, _)| *k == f.key) else {
            let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            bail!(
                "no label {:?} in {}; labels: {}",
                f.key,
                file.display(),
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            );
        };
        if !values.contains(&f.value) {
            bail!(
                "label {:?} never has the value {:?}; its values: {}",
                f.key,
                f.value,
                values.join(", ")
            );
        }
        sel.labels.push(f);
    }
    Ok(sel)
}
