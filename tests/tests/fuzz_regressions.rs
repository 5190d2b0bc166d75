//! Replays every input the fuzz targets (fuzz/fuzz_targets/) once found a bug with:
//! tests/fuzz-regressions/<target>/<name>, minimized. Each goes through its target's parser,
//! as the fuzz target does, and through the whole load (`load_bytes`, format detection
//! included). It must load or fail with an error that explains itself, never panic; a loaded
//! profile must pass `Profile::check`.

use stacklens_core::formats::{
    self, LoadOptions, chrome, compression, folded, perf_data, perf_script, pprof, puffin,
    speedscope, stkl,
};
use stacklens_core::model::{Profile, ProfileBuilder};
use stacklens_core::symbols::SymbolOptions;
use stacklens_core::{Error, Progress, Result};
use std::path::{Path, PathBuf};

/// Options that read nothing of this machine: symbols only from `search_dirs`.
fn options(search_dirs: Vec<PathBuf>) -> LoadOptions {
    LoadOptions {
        symbols: SymbolOptions {
            search_dirs,
            kallsyms: None,
            system_paths: false,
            debuginfod_urls: Vec::new(),
            ..SymbolOptions::default()
        },
        decompression_limit: None,
        memory_limit: None,
    }
}

/// `Ok` if the outcome is acceptable, else what is wrong with it.
fn judge(loaded: Result<Profile>) -> std::result::Result<(), String> {
    match loaded {
        Ok(p) => p.check().map_err(|e| format!("inconsistent profile: {e}")),
        Err(e) => {
            let located = match &e {
                Error::At { expected, .. } | Error::AtLine { expected, .. } => expected,
                _ => "-",
            };
            if e.to_string().trim().is_empty() || located.trim().is_empty() {
                Err(format!("an error that does not explain itself: {e:?}"))
            } else {
                Ok(())
            }
        }
    }
}

type Parser = fn(&[u8], &mut ProfileBuilder, &Progress) -> Result<()>;

/// One format's parser, then symbolization and freezing, as the fuzz targets run it.
fn with_parser(format: &str, data: &[u8], parse: Parser) -> Result<Profile> {
    let progress = Progress::new();
    let mut b = ProfileBuilder::new(format);
    parse(data, &mut b, &progress)?;
    formats::symbolize_and_freeze(b, &options(Vec::new()), &progress)
}

fn perf_data_parser(d: &[u8], b: &mut ProfileBuilder, p: &Progress) -> Result<()> {
    let limit = perf_data::default_decompression_limit(d.len());
    perf_data::parse_with(d, b, p, limit, &options(Vec::new()).symbols)
}

fn puffin_parser(d: &[u8], b: &mut ProfileBuilder, p: &Progress) -> Result<()> {
    puffin::parse_with_limit(d, b, p, compression::default_limit(d.len()))
}

/// The symbolize_elf target: `data` as the binary of a module, looked up at addresses spread
/// over the file.
fn symbolize_elf(data: &[u8]) -> Result<Profile> {
    const NAME: &str = "libfuzz.so";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(NAME), data).unwrap();
    // As the fuzz target does: addresses spread over the file, symbolized from its directory.
    let b = stacklens_core::symbols::probe_profile(NAME, data.len() as u64, 64);
    let mut opts = options(vec![dir.path().to_path_buf()]);
    opts.symbols.inline_frames = data.len().is_multiple_of(2);
    formats::symbolize_and_freeze(b, &opts, &Progress::new())
}

/// What the fuzz target `target` does with `data`: every outcome, one per parser it runs.
fn replay(target: &str, data: &[u8]) -> Vec<Result<Profile>> {
    let parser: Option<(&str, Parser)> = match target {
        "perf_data" => Some(("perf.data", perf_data_parser)),
        "perf_script" => Some(("perf script", perf_script::parse)),
        "pprof" => Some(("pprof", pprof::parse)),
        "folded" => Some(("folded stacks", folded::parse)),
        "speedscope" => Some(("speedscope", speedscope::parse)),
        "puffin" => Some(("puffin", puffin_parser)),
        _ => None,
    };
    match (target, parser) {
        (_, Some((format, parse))) => vec![with_parser(format, data, parse)],
        ("chrome", _) => vec![
            with_parser("Chrome cpuprofile", data, chrome::parse_cpuprofile),
            with_parser("Chrome trace", data, chrome::parse_trace),
        ],
        ("stkl", _) => vec![stkl::read(data, &Progress::new())],
        ("symbolize_elf", _) => vec![symbolize_elf(data)],
        _ => panic!("tests/fuzz-regressions/{target}: no fuzz target of that name"),
    }
}

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-regressions")
}

#[test]
fn every_fuzz_regression_loads_or_fails_cleanly() {
    let mut files = Vec::new();
    for target in std::fs::read_dir(regressions_dir()).unwrap() {
        let target = target.unwrap().path();
        if !target.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&target).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no regression inputs found");

    let mut failures = Vec::new();
    for path in &files {
        let target = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let name = path.strip_prefix(regressions_dir()).unwrap().display();
        let data = std::fs::read(path).unwrap();
        // A panic is caught so that one broken parser reports every input it fails on.
        let outcome = std::panic::catch_unwind(|| {
            let mut outcomes = replay(target, &data);
            if target != "symbolize_elf" {
                outcomes.push(formats::load_bytes(
                    &data,
                    &options(Vec::new()),
                    &Progress::new(),
                ));
            }
            outcomes.into_iter().try_for_each(judge)
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("{name}: {why}")),
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
