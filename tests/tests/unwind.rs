//! DWARF unwinding (`perf record --call-graph dwarf`) against `perf report` on the same capture:
//! the call paths of a program built without frame pointers.

use stacklens_tests::*;
use std::collections::BTreeMap;

/// Sample count per call path (root first, `;`-joined) of the `perf report -g folded` output
/// saved when the capture was recorded.
fn perf_paths() -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(sample("hot-dwarf.perf.data.paths.txt")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let (n, path) = line.split_once(' ').unwrap();
        *out.entry(path.to_string()).or_default() += n.parse::<u64>().unwrap();
    }
    out
}

/// The part of a path from the program's own entry (main or the worker's start) on.
fn from_program(path: &str) -> String {
    let names: Vec<&str> = path.split(';').collect();
    let i = names
        .iter()
        .position(|n| *n == "main" || *n == "worker_main")
        .unwrap_or(0);
    names[i..].join(";")
}

fn top10(m: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(10);
    v
}

#[test]
fn dwarf_unwinding_finds_the_call_paths_perf_report_finds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paths.folded");
    let run = stacklens(&[
        "convert",
        "sample-profiles/hot-dwarf.perf.data",
        "--symbols",
        "sample-profiles/bin",
        "--no-inline",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Folded weights are nanoseconds of cpu-clock; the capture sampled at 200 Hz (5 ms each).
    let mut ours: BTreeMap<String, u64> = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let (path, w) = line.rsplit_once(' ').unwrap();
        *ours.entry(path.to_string()).or_default() += w.parse::<u64>().unwrap() / 5_000_000;
    }
    let mut want = perf_paths();
    // libc's frames (below main, above the worker) are named from this machine's libc and its
    // libc6-dbg debug file: the recorded ones only if the build-ids match. Otherwise compare
    // the program's own part of every path, which the committed binary decides.
    let same_libc = ours.keys().any(|p| p.contains("__libc_start_call_main"));
    if !same_libc {
        eprintln!("this machine's libc is not the recorded one: comparing paths from main on");
        let fold = |m: &BTreeMap<String, u64>| {
            let mut o: BTreeMap<String, u64> = BTreeMap::new();
            for (k, v) in m {
                *o.entry(from_program(k)).or_default() += v;
            }
            o
        };
        ours = fold(&ours);
        want = fold(&want);
    }
    assert_eq!(top10(&ours), top10(&want), "ours: {ours:#?}");
}
