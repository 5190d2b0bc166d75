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

/// The aarch64 capture of record-aarch64.sh: real registers and stacks of an aarch64 program
/// built without frame pointers, stopped by gdb under qemu-aarch64 (no aarch64 machine needed
/// to run this test: the unwinder is chosen by the file's HEADER_ARCH).
const ARM64_CAPTURE: &str = "aarch64-dwarf.perf.data";

fn arm64_capture_present() -> bool {
    let present = sample(ARM64_CAPTURE).is_file();
    if !present {
        eprintln!(
            "skipped: sample-profiles/{ARM64_CAPTURE} is missing (make it with sample-profiles/record-aarch64.sh)"
        );
    }
    present
}

/// gdb's backtraces of the truth file as call paths (root first, `;`-joined) with their sample
/// counts, and each alias symbol → the name gdb gave its function.
fn gdb_paths() -> (BTreeMap<String, u64>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(sample(&format!("{ARM64_CAPTURE}.truth.txt"))).unwrap();
    let (mut paths, mut aliases) = (BTreeMap::new(), BTreeMap::new());
    let mut stacks: Vec<Vec<String>> = Vec::new();
    let mut in_aliases = false;
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("== ") {
            in_aliases = head.starts_with("aliases");
            if !in_aliases {
                stacks.push(Vec::new());
            }
        } else if in_aliases {
            let (name, others) = line.split_once(": ").unwrap();
            for o in others.split(' ') {
                aliases.insert(o.to_string(), name.to_string());
            }
        } else if let Some(rest) = line.strip_prefix('#')
            && rest.starts_with(|c: char| c.is_ascii_digit())
        {
            // "#1  0x00000000004007b4 in middle (n=...) at …" or "#0  inner (n=...) at …"
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
            let rest = match rest.split_once(" in ") {
                Some((a, r)) if a.starts_with("0x") => r,
                _ => rest,
            };
            stacks
                .last_mut()
                .unwrap()
                .push(rest.split(' ').next().unwrap().to_string());
        }
    }
    for mut s in stacks {
        s.reverse();
        *paths.entry(s.join(";")).or_default() += 1;
    }
    (paths, aliases)
}

/// `stacklens convert CAPTURE ARGS… -o paths.folded`: sample count per call path (each sample
/// is 1 ms of cpu-clock).
fn folded_paths(capture: &std::path::Path, args: &[&str]) -> BTreeMap<String, u64> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paths.folded");
    let mut all = vec!["convert", capture.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--no-inline", "-o", out.to_str().unwrap()]);
    let run = stacklens(&all);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut paths = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let (path, w) = line.rsplit_once(' ').unwrap();
        *paths.entry(path.to_string()).or_default() += w.parse::<u64>().unwrap() / 1_000_000;
    }
    paths
}

#[test]
fn aarch64_dwarf_unwinding_finds_gdbs_backtraces() {
    if !arm64_capture_present() {
        return;
    }
    let ours = folded_paths(
        &sample(ARM64_CAPTURE),
        &["--symbols", "sample-profiles/bin"],
    );
    let (want, aliases) = gdb_paths();
    // gdb names a libc function by one of its symbols, stacklens perhaps by another at the same
    // address (fflush / _IO_fflush): name ours as gdb did.
    let mut named: BTreeMap<String, u64> = BTreeMap::new();
    for (path, n) in &ours {
        let path: Vec<&str> = path
            .split(';')
            .map(|f| aliases.get(f).map_or(f, String::as_str))
            .collect();
        *named.entry(path.join(";")).or_default() += n;
    }
    assert_eq!(named, want, "ours before renaming: {ours:#?}");
    assert_eq!(want.values().sum::<u64>(), 7);
}

#[test]
fn aarch64_dwarf_samples_without_the_binary_stop_at_the_marker_with_their_weight() {
    if !arm64_capture_present() {
        return;
    }
    // A copy alone in a directory: the capture's folder and its bin/ are searched too.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(ARM64_CAPTURE);
    std::fs::copy(sample(ARM64_CAPTURE), &copy).unwrap();
    let ours = folded_paths(&copy, &[]);
    assert_eq!(
        ours.values().sum::<u64>(),
        7,
        "no sample is dropped: {ours:#?}"
    );
    for path in ours.keys() {
        let names: Vec<&str> = path.split(';').collect();
        assert_eq!(names.len(), 2, "the marker and the sampled pc: {ours:#?}");
        assert_eq!(names[0], "[unwinding stopped]");
        assert!(names[1].starts_with("unwind-aarch64+0x"), "{ours:#?}");
    }
}
