//! Helpers for the end-to-end tests: build and run the real `stacklens` binary, and read the
//! reference tool's output (`perf report`) to compare against.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `sample-profiles/NAME`.
pub fn sample(name: &str) -> PathBuf {
    repo().join("sample-profiles").join(name)
}

/// The `stacklens` binary of this build profile, built once per test process.
///
/// Cargo only exposes `CARGO_BIN_EXE_*` to tests of the binary's own package, so this crate
/// asks cargo to build it (a no-op when `cargo test --workspace` already did) into the same
/// target directory and profile as the running test.
pub fn stacklens_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target dir");
        let profile = profile_dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("debug");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "stacklens",
            "--bin",
            "stacklens",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(repo());
        match profile {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("running cargo build");
        assert!(
            status.success(),
            "cargo build of the stacklens binary failed"
        );
        let bin = profile_dir.join(format!("stacklens{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} missing after the build", bin.display());
        bin
    })
}

/// Runs `stacklens ARGS` in the repository root.
pub fn stacklens(args: &[&str]) -> Output {
    Command::new(stacklens_bin())
        .args(args)
        .current_dir(repo())
        .output()
        .expect("running stacklens")
}

/// Runs `stacklens ARGS`, asserts success and parses stdout as JSON.
pub fn stacklens_json(args: &[&str]) -> serde_json::Value {
    let out = stacklens(args);
    assert!(
        out.status.success(),
        "stacklens {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stacklens {args:?}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// One event's section of `perf report --no-children --sort sym --stdio -n` output.
#[derive(Debug, Clone)]
pub struct PerfEvent {
    pub event: String,
    /// Sum of the per-symbol sample counts: the exact sample total.
    pub samples: u64,
    /// `# Event count (approx.)`: the sum of the periods (0 when the header has none).
    pub event_count: u64,
    /// (symbol, overhead percent, samples), in perf's order.
    pub rows: Vec<(String, f64, u64)>,
}

/// Parses `perf report --no-children --sort sym --stdio -n` output (one section per event).
pub fn parse_perf_report(text: &str) -> Vec<PerfEvent> {
    let mut out: Vec<PerfEvent> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# Samples: ") {
            let event = rest.split('\'').nth(1).unwrap_or("").to_string();
            out.push(PerfEvent {
                event,
                samples: 0,
                event_count: 0,
                rows: Vec::new(),
            });
            continue;
        }
        if let Some(rest) = line.strip_prefix("# Event count (approx.): ") {
            if let (Some(ev), Ok(n)) = (out.last_mut(), rest.trim().parse()) {
                ev.event_count = n;
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        // "    33.33%           424  [.] leaf_a"
        let mut it = line.split_whitespace();
        let (Some(pct), Some(n), Some(_kind)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Some(pct) = pct.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        let sym = it.collect::<Vec<_>>().join(" ");
        if let Some(ev) = out.last_mut() {
            ev.samples += n;
            ev.rows.push((sym, pct, n));
        }
    }
    out
}

/// `perf report --no-children --sort sym` of `data` (every symbol, no call graphs), parsed.
pub fn perf_report_by_symbol(data: &Path) -> Vec<PerfEvent> {
    let perf = Command::new("perf")
        .args(["report", "-i"])
        .arg(data)
        .args([
            "--no-children",
            "--sort",
            "sym",
            "--stdio",
            "-n",
            "--percent-limit",
            "0",
            "-g",
            "none",
        ])
        .output()
        .expect("running perf report");
    assert!(
        perf.status.success(),
        "perf report failed: {}",
        String::from_utf8_lossy(&perf.stderr)
    );
    parse_perf_report(&String::from_utf8_lossy(&perf.stdout))
}

/// A C++ name without its parameter list and qualifiers, as `perf report` shows names
/// (`helper(unsigned long)` → `helper`, `operator()(int) const` → `operator()`). Other names are
/// returned as they are.
pub fn strip_params(name: &str) -> &str {
    let mut s = name.trim_end();
    for q in [" const", " volatile", " &&", " &"] {
        s = s.strip_suffix(q).unwrap_or(s);
    }
    if !s.ends_with(')') {
        return name;
    }
    let mut depth = 0i32;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    name
}

/// Our self percentage per function name as perf shows it (parameters stripped; functions of
/// the same name in several modules or files are added up, as the comparison with perf's rows
/// below adds up perf's rows of the same name).
pub fn self_percent_by_name(report: &serde_json::Value) -> std::collections::HashMap<String, f64> {
    let mut m = std::collections::HashMap::new();
    for f in report["functions"].as_array().expect("functions array") {
        let name = strip_params(f["name"].as_str().unwrap_or("")).to_string();
        *m.entry(name).or_insert(0.0) += f["self_percent"].as_f64().unwrap_or(0.0);
    }
    m
}

/// Compares a `stacklens report --format json` with perf's section for the same event: exact
/// sample total, and the self share of each symbol among perf's top `top` rows within
/// `tolerance` percentage points (rows of the same name, e.g. two file-local functions, are
/// added up on both sides). Rows perf could not symbolize (`0x…`) are skipped. Returns the
/// compared (symbol, perf %, stacklens %) rows.
pub fn assert_agrees_with_perf(
    report: &serde_json::Value,
    perf: &PerfEvent,
    top: usize,
    tolerance: f64,
    what: &str,
) -> Vec<(String, f64, f64)> {
    assert_eq!(
        report["samples"].as_u64(),
        Some(perf.samples),
        "{what}: sample total (stacklens vs perf report)"
    );
    let ours = self_percent_by_name(report);
    let mut theirs: Vec<(String, f64)> = Vec::new();
    for (sym, pct, _) in &perf.rows {
        match theirs.iter_mut().find(|(s, _)| s == sym) {
            Some(e) => e.1 += pct,
            None => theirs.push((sym.clone(), *pct)),
        }
    }
    let top_names: Vec<&String> = perf.rows.iter().take(top).map(|(s, _, _)| s).collect();
    let mut compared = Vec::new();
    for (sym, pct) in theirs.iter().filter(|(s, _)| top_names.contains(&s)) {
        if sym.starts_with("0x") {
            continue;
        }
        let mine = ours.get(sym).copied().unwrap_or(0.0);
        assert!(
            (mine - pct).abs() <= tolerance,
            "{what}: {sym}: perf report {pct:.2}%, stacklens {mine:.2}% (tolerance {tolerance} pp)\nstacklens functions: {:#?}",
            report["functions"].as_array().map(|a| a
                .iter()
                .take(top)
                .map(|f| (f["name"].clone(), f["self_percent"].clone()))
                .collect::<Vec<_>>())
        );
        compared.push((sym.clone(), *pct, mine));
    }
    compared
}

#[cfg(test)]
mod tests {
    use super::strip_params;

    #[test]
    fn params_are_stripped_like_perf_shows_names() {
        assert_eq!(
            strip_params("helper(unsigned long, unsigned long)"),
            "helper"
        );
        assert_eq!(
            strip_params("geo::Accumulator<unsigned long>::step(unsigned long)"),
            "geo::Accumulator<unsigned long>::step"
        );
        assert_eq!(
            strip_params("Foo::operator()(int) const"),
            "Foo::operator()"
        );
        assert_eq!(strip_params("f(void (*)(int))"), "f");
        assert_eq!(strip_params("leaf_a"), "leaf_a");
        assert_eq!(
            strip_params("core::ptr::drop_in_place<alloc::vec::Vec<u8>>"),
            "core::ptr::drop_in_place<alloc::vec::Vec<u8>>"
        );
    }
}
