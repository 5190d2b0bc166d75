//! Truncation at every offset: every prefix `bytes[..n]` of every sample capture of at most
//! 64 KiB (every format; a `.gz` file cut both as compressed bytes and, re-wrapped by nothing,
//! as its decompressed content) must parse without a panic, and either fail with an error that
//! names a byte offset or line (or, cut inside the first bytes, says the format is unknown or
//! the file empty) or give a profile that passes `Profile::check`. A file-mode perf.data cut
//! inside its data section must keep the samples before the cut, with exactly one warning
//! about the cut.
//!
//! Prefixes are parsed without symbolization (`formats::parse_bytes` + `freeze`: what the cut
//! changes is the parsing) on all cores.

use stacklens_core::formats::{self, stkl};
use stacklens_core::{Error, LoadOptions, Progress, load_bytes};
use stacklens_tests::repo;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

const MAX_FILE: u64 = 64 << 10;
/// "at byte offset N: X" or "line N: X", X saying what was expected (compiled once: a debug
/// build takes a millisecond per compilation, and most prefixes are errors).
static POSITION: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(at byte offset \d+|line \d+): \S").unwrap());
/// The decompressed content of demo.perf-script.txt.gz is 660 KiB: its prefixes are taken up
/// to here (every prefix of it would parse 2 × 10^11 bytes).
const MAX_CONTENT: usize = 64 << 10;

fn options() -> LoadOptions {
    let mut opts = LoadOptions::default();
    opts.symbols.system_paths = false;
    opts.symbols.kallsyms = None;
    opts
}

/// The sample captures of at most 64 KiB, in every format.
fn samples() -> Vec<PathBuf> {
    let dir = repo().join("sample-profiles");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("stkl")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            let capture = [
                ".perf.data",
                ".gz",
                ".folded",
                ".cpuprofile",
                "trace.json",
                "speedscope.json",
                ".puffin",
                ".stkl",
                "perf-script.txt",
            ]
            .iter()
            .any(|s| name.ends_with(s));
            capture && p.metadata().unwrap().len() <= MAX_FILE
        })
        .collect();
    out.sort();
    out
}

/// What one prefix gave.
enum Outcome {
    Loaded {
        samples: usize,
        warnings: Vec<String>,
    },
    Failed(String),
}

fn parse(bytes: &[u8]) -> Result<Outcome, String> {
    let opts = options();
    let progress = Progress::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        if stkl::sniff(bytes) {
            // A .stkl capture is a finished profile: parse_bytes refuses it.
            load_bytes(bytes, &opts, &progress)
        } else {
            formats::parse_bytes(bytes, &opts, &progress).map(|b| b.freeze())
        }
    }));
    match result {
        Err(payload) => Err(format!(
            "panicked: {}",
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
        Ok(Err(e)) => {
            let msg = e.to_string();
            if POSITION.is_match(&msg) || matches!(e, Error::Empty | Error::UnknownFormat { .. }) {
                Ok(Outcome::Failed(msg))
            } else {
                Err(format!("error names no byte offset or line: {msg}"))
            }
        }
        Ok(Ok(p)) => {
            p.check()
                .map_err(|e| format!("loaded an inconsistent profile: {e}"))?;
            Ok(Outcome::Loaded {
                samples: p.samples.len(),
                warnings: p.meta.warnings.clone(),
            })
        }
    }
}

/// The data section of a file-mode perf.data: (offset, end).
fn perf_data_section(bytes: &[u8]) -> Option<(usize, usize)> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    if bytes.len() < 104 || &bytes[..8] != b"PERFILE2" || u64_at(8) != 104 {
        return None;
    }
    let start = u64_at(40) as usize;
    Some((start, start + u64_at(48) as usize))
}

/// Checks every prefix of `bytes` (`name` for messages); the failures.
fn every_prefix(name: &str, bytes: &[u8]) -> Vec<String> {
    let n = bytes.len();
    let outcomes: Vec<Mutex<Option<Result<Outcome, String>>>> =
        (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    *outcomes[i].lock().unwrap() = Some(parse(&bytes[..i]));
                }
            });
        }
    });
    let outcomes: Vec<Result<Outcome, String>> = outcomes
        .into_iter()
        .map(|m| m.into_inner().unwrap().unwrap())
        .collect();
    let mut failures = Vec::new();
    let whole = match parse(bytes) {
        Ok(Outcome::Loaded { samples, .. }) => samples,
        _ => {
            failures.push(format!("{name}: the whole file does not load"));
            0
        }
    };
    let data = perf_data_section(bytes);
    let mut last = 0;
    for (cut, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Err(problem) => failures.push(format!("{name} cut at {cut}: {problem}")),
            Ok(o) => {
                let Some((start, end)) = data else { continue };
                // Cut after the first record header, before the data's end.
                if cut < start + 8 || cut >= end {
                    continue;
                }
                match o {
                    Outcome::Failed(e) => {
                        failures.push(format!("{name} cut at {cut} (data section): {e}"))
                    }
                    Outcome::Loaded { samples, warnings } => {
                        let cuts = warnings
                            .iter()
                            .filter(|w| w.contains("ends early at byte offset"))
                            .count();
                        if cuts != 1 {
                            failures.push(format!(
                                "{name} cut at {cut}: {cuts} warnings about the cut: {warnings:?}"
                            ));
                        }
                        if *samples < last || *samples > whole {
                            failures.push(format!(
                                "{name} cut at {cut}: {samples} samples (before: {last}, whole file: {whole})"
                            ));
                        }
                        last = *samples;
                    }
                }
            }
        }
    }
    failures
}

#[test]
fn every_prefix_of_every_small_capture_fails_cleanly_or_loads() {
    let files = samples();
    assert!(files.len() >= 15, "only {} files: {files:?}", files.len());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let start = Instant::now();
        failures.extend(every_prefix(&name, &bytes));
        if name.ends_with(".gz") {
            let content = formats::compression::decompress(
                formats::compression::Compression::Gzip,
                &bytes,
                1 << 30,
                &Default::default(),
            )
            .unwrap();
            let content = &content[..content.len().min(MAX_CONTENT)];
            failures.extend(every_prefix(&format!("{name} (content)"), content));
        }
        println!("{name}: {} bytes, {:.2?}", bytes.len(), start.elapsed());
    }
    std::panic::set_hook(hook);
    let shown: Vec<&String> = failures.iter().take(200).collect();
    assert!(
        failures.is_empty(),
        "{} failures (first 200):\n{}",
        failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
