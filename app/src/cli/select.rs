//! What the subcommands share: loading a profile and turning `--event`, `--tid` and `--tag`
//! into a [`Selection`].

use anyhow::{Result, bail};
use stacklens_core::analysis::{LabelFilter, Selection};
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
}

/// Loads `file` (any format; symbols searched as `input` says).
pub fn load(file: &Path, input: &InputArgs) -> Result<Profile> {
    let mut opts = LoadOptions::default();
    opts.symbols.search_dirs = input.symbols.clone();
    opts.symbols.inline_frames = !input.no_inline;
    Ok(stacklens_core::load(file, &opts, &Progress::new())?)
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
