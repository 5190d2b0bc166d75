//! The malformed-file corpus (tests/corpus/files/, made from the sample captures by
//! tests/corpus/make.py): every file goes through `stacklens_core::load` and must either fail
//! with an error that names the file, a byte offset or line, and what was expected there, or
//! load partially: a profile that passes `Profile::check` and carries a warning. A panic, an
//! error without a position, or a clean load (the damage went unnoticed) fails the test; all
//! failures are reported at once.
//!
//! The two decompression bombs (1 GiB of zeros as gzip and as zstd) run in a child process, so
//! that their peak memory can be measured on their own: each must stop at the decompression
//! limit within 2 s and 300 MiB.

use stacklens_core::{Error, LoadOptions, Progress, load};
use stacklens_tests::repo;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

fn corpus_dir() -> PathBuf {
    repo().join("tests").join("corpus").join("files")
}

/// No symbol lookups outside the file: the outcome must not depend on the machine.
fn options() -> LoadOptions {
    let mut opts = LoadOptions::default();
    opts.symbols.system_paths = false;
    opts.symbols.kallsyms = None;
    opts
}

fn is_bomb(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bomb")
}

/// Whether `msg` has "at byte offset N: X" or "line N: X" with some X (what was expected).
fn names_a_position(msg: &str) -> bool {
    static RE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(at byte offset \d+|line \d+): \S").unwrap());
    RE.is_match(msg)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What is wrong with the outcome of loading `path`, if anything.
fn check_one(path: &Path) -> Option<String> {
    let opts = options();
    let outcome = catch_unwind(AssertUnwindSafe(|| load(path, &opts, &Progress::new())));
    match outcome {
        Err(payload) => Some(format!("panicked: {}", panic_message(&*payload))),
        Ok(Err(e)) => {
            let msg = e.to_string();
            if !msg.contains(&path.display().to_string()) {
                return Some(format!("error does not name the file: {msg}"));
            }
            let inner = match &e {
                Error::WithPath { err, .. } => &**err,
                e => e,
            };
            // "not a profile format" is about the file's first bytes: damage to a magic number
            // can only end there.
            if matches!(inner, Error::UnknownFormat { .. }) || names_a_position(&msg) {
                None
            } else {
                Some(format!("error names no byte offset or line: {msg}"))
            }
        }
        Ok(Ok(p)) => {
            if let Err(e) = p.check() {
                Some(format!("loaded an inconsistent profile: {e}"))
            } else if p.meta.warnings.is_empty() {
                Some(format!(
                    "loaded cleanly without a warning ({} samples): the damage went unnoticed",
                    p.samples.len()
                ))
            } else {
                None
            }
        }
    }
}

#[test]
fn every_malformed_file_fails_with_a_position_or_loads_with_a_warning() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus/files: run tests/corpus/make.py")
        .map(|e| e.unwrap().path())
        .filter(|p| !is_bomb(p))
        .collect();
    files.sort();
    assert!(files.len() >= 250, "only {} corpus files", files.len());

    // The default hook would print every caught panic; they are reported below instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let verbose = std::env::var_os("STACKLENS_CORPUS_VERBOSE").is_some();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, PathBuf::new());
    for path in &files {
        let start = Instant::now();
        let problem = check_one(path);
        let took = start.elapsed();
        if took > slowest.0 {
            slowest = (took, path.clone());
        }
        let name = path.file_name().unwrap().to_string_lossy();
        if verbose {
            println!(
                "{took:>10.1?} {name}: {}",
                problem.as_deref().unwrap_or("ok")
            );
        }
        if let Some(p) = problem {
            failures.push(format!("{name}: {p}"));
        }
    }
    std::panic::set_hook(hook);
    println!(
        "{} files; slowest {:.1?} ({})",
        files.len(),
        slowest.0,
        slowest.1.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corpus files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Set to a bomb's path, `bomb_child` loads it and prints the outcome (see `run_bomb`).
const BOMB_VAR: &str = "STACKLENS_CORPUS_BOMB";

/// Not a test on its own: the child process of `bombs_stop_at_the_limit_fast_and_small`.
#[test]
fn bomb_child() {
    let Some(path) = std::env::var_os(BOMB_VAR) else {
        return;
    };
    match load(Path::new(&path), &options(), &Progress::new()) {
        Ok(p) => println!("BOMB LOADED: {} samples", p.samples.len()),
        Err(e) => println!("BOMB ERROR: {e}"),
    }
}

/// Runs `bomb_child` on `path` in a child process (this test binary): its output, wall time
/// and peak RSS in bytes.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which Child::wait cannot replace
fn run_bomb(path: &Path) -> (String, Duration, u64) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["bomb_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(BOMB_VAR, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running the test binary");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    // wait4, not Child::wait: it also returns the child's own resource usage.
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by the kernel; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{}: the child failed (status {status}): {out}",
        path.display()
    );
    // ru_maxrss is in KiB on Linux.
    (out, took, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn bombs_stop_at_the_limit_fast_and_small() {
    for name in ["zeros-1gib.gz.bomb", "zeros-1gib.zst.bomb"] {
        let path = corpus_dir().join(name);
        let (out, took, rss) = run_bomb(&path);
        println!(
            "{name}: {took:.2?}, peak RSS {} MiB: {}",
            rss >> 20,
            out.trim()
        );
        // The harness prints "test bomb_child ... " before the child's own line.
        let line = out
            .lines()
            .find_map(|l| l.find("BOMB ").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("{name}: no outcome from the child: {out}"));
        assert!(
            line.starts_with("BOMB ERROR:") && line.contains(&path.display().to_string()),
            "{name}: {line}"
        );
        assert!(
            line.contains("decompression-limit") && line.contains("at byte offset"),
            "{name}: not an error about the decompression limit: {line}"
        );
        assert!(took < Duration::from_secs(2), "{name}: took {took:.2?}");
        assert!(rss < 300 << 20, "{name}: peak RSS {} MiB", rss >> 20);
    }
}
