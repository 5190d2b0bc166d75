//! `stacklens report` against `perf report` on the same files (issue 2's done criteria), and
//! the command-line behaviour a user relies on.

use stacklens_tests::*;
use std::process::Command;

/// Captures made by sample-profiles/record.sh, each with `perf report` output saved next to it.
const CAPTURES: [&str; 7] = [
    "hot.perf.data",
    "hot-2events.perf.data",
    "hot-zstd.perf.data",
    "hot-dwarf.perf.data",
    "hot-pipe.perf.data",
    "hotpp.perf.data",
    "demo.perf.data",
];

/// `stacklens report sample-profiles/NAME --symbols sample-profiles/bin --format json EXTRA...`
fn sample_report(name: &str, extra: &[&str]) -> serde_json::Value {
    let file = format!("sample-profiles/{name}");
    let mut args = vec![
        "report",
        file.as_str(),
        "--symbols",
        "sample-profiles/bin",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    stacklens_json(&args)
}

#[test]
fn committed_captures_agree_with_perf_report() {
    for name in CAPTURES {
        let golden = std::fs::read_to_string(sample(&format!("{name}.perf-report.txt"))).unwrap();
        let events = parse_perf_report(&golden);
        assert!(!events.is_empty(), "{name}: no events in the reference");
        for ev in &events {
            let file = sample(name);
            let report = stacklens_json(&[
                "report",
                file.to_str().unwrap(),
                "--symbols",
                "sample-profiles/bin",
                "--no-inline",
                "--event",
                &ev.event,
                "--format",
                "json",
            ]);
            // System libraries (ld.so, libc) are symbolized from this machine's copies, which
            // are only the recorded ones if their build-ids match; otherwise stacklens says so
            // and only the program's own functions (shipped in sample-profiles/bin) compare.
            let foreign = report["warnings"].as_array().unwrap().iter().any(|w| {
                let w = w.as_str().unwrap_or("");
                w.contains("does not match") || w.contains("no binary found")
            });
            if foreign {
                eprintln!(
                    "{name} {}: system libraries differ from the recording machine; comparing totals and program symbols",
                    ev.event
                );
                // The program's own functions: those stacklens places in bin/hot or bin/hotpp.
                let program: Vec<String> = report["functions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["module"] == "hot" || f["module"] == "hotpp")
                    .map(|f| strip_params(f["name"].as_str().unwrap()).to_string())
                    .collect();
                let hot_only = PerfEvent {
                    rows: ev
                        .rows
                        .iter()
                        .filter(|(s, _, _)| program.contains(s))
                        .cloned()
                        .collect(),
                    ..ev.clone()
                };
                assert_agrees_with_perf(
                    &report,
                    &hot_only,
                    20,
                    0.1,
                    &format!("{name} {}", ev.event),
                );
            } else {
                let rows =
                    assert_agrees_with_perf(&report, ev, 20, 0.1, &format!("{name} {}", ev.event));
                assert!(!rows.is_empty());
            }
        }
    }
}

#[test]
fn the_known_cost_profile_shows() {
    // hot.c: leaf_a 4 units, leaf_b 2 (of which the inlined mix is the loop body), recurse 2,
    // leaf_c 4 on the worker thread. With inlined functions expanded, mix appears on its own.
    let r = sample_report("hot.perf.data", &[]);
    let by = self_percent_by_name(&r);
    let near = |name: &str, want: f64| {
        let got = by.get(name).copied().unwrap_or(0.0);
        assert!(
            (got - want).abs() < 4.0,
            "{name}: {got:.1}% (expected about {want}%)"
        );
    };
    near("leaf_a", 33.3);
    near("leaf_c", 33.3);
    near("recurse", 16.7);
    let b_and_mix =
        by.get("leaf_b").copied().unwrap_or(0.0) + by.get("mix").copied().unwrap_or(0.0);
    assert!((b_and_mix - 16.7).abs() < 4.0, "leaf_b + mix = {b_and_mix}");
    assert!(
        by.get("mix").copied().unwrap_or(0.0) > 1.0,
        "the inlined mix() is a frame of its own"
    );
    let funcs = r["functions"].as_array().unwrap();
    let recurse = funcs.iter().find(|f| f["name"] == "recurse").unwrap();
    // Recursion 9 deep counts once: total == self for the bottom-heavy recursion.
    assert_eq!(recurse["total"], recurse["self"]);
    // Full stacks: every hot function keeps its caller (the sample program gives leaf
    // functions a frame pointer), so main_work and worker_main hold their threads' time.
    let total = |name: &str| {
        funcs.iter().find(|f| f["name"] == name).unwrap()["total_percent"]
            .as_f64()
            .unwrap()
    };
    assert!(
        (total("main_work") - 66.7).abs() < 4.0,
        "main_work {}",
        total("main_work")
    );
    assert!(
        (total("worker_main") - 33.3).abs() < 4.0,
        "worker_main {}",
        total("worker_main")
    );
    let main = funcs.iter().find(|f| f["name"] == "main").unwrap();
    assert!(main["total_percent"].as_f64().unwrap() > 60.0);
    assert!(main["file"].as_str().unwrap().ends_with("hot.c"));
    // Two threads, named.
    let threads: Vec<&str> = r["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(threads, ["hot", "worker"]);
}

#[test]
fn cpp_functions_are_demangled_and_same_named_statics_stay_apart() {
    // hotpp: work_a -> helper (a.cpp) 2 units, work_b -> helper (b.cpp) 1 unit,
    // geo::Accumulator<unsigned long>::step 1 unit.
    let r = sample_report("hotpp.perf.data", &[]);
    let f = r["functions"].as_array().unwrap();
    let helpers: Vec<_> = f
        .iter()
        .filter(|x| x["name"] == "helper(unsigned long, unsigned long)")
        .collect();
    assert_eq!(helpers.len(), 2, "two file-local helpers: {f:#?}");
    let mut files: Vec<&str> = helpers
        .iter()
        .map(|h| h["file"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["a.cpp", "b.cpp"]);
    let share = |file: &str| {
        helpers
            .iter()
            .find(|h| h["file"].as_str().unwrap().ends_with(file))
            .unwrap()["self_percent"]
            .as_f64()
            .unwrap()
    };
    assert!((share("a.cpp") - 50.0).abs() < 4.0 && (share("b.cpp") - 25.0).abs() < 4.0);
    let step = f
        .iter()
        .find(|x| x["name"] == "geo::Accumulator<unsigned long>::step(unsigned long)")
        .unwrap();
    assert!((step["self_percent"].as_f64().unwrap() - 25.0).abs() < 4.0);
    assert!(
        f.iter()
            .any(|x| x["name"] == "geo::work_a(unsigned long, unsigned long)")
    );
}

#[test]
fn json_has_the_documented_fields() {
    let r = sample_report("hot.perf.data", &["--top", "3"]);
    assert_eq!(r["source_format"], "perf.data");
    assert_eq!(r["sample_type"]["name"], "cpu-clock:u");
    assert_eq!(r["sample_type"]["unit"], "nanoseconds");
    assert_eq!(r["sample_types"].as_array().unwrap().len(), 1);
    assert_eq!(r["lost_samples"], 0);
    assert!(r["warnings"].is_array());
    let f = r["functions"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    for key in [
        "name",
        "module",
        "self",
        "total",
        "self_percent",
        "total_percent",
        "self_samples",
        "total_samples",
    ] {
        assert!(!f[0][key].is_null(), "functions[0].{key}");
    }
    assert_eq!(f[0]["module"], "hot");
    let selfs: Vec<i64> = f.iter().map(|x| x["self"].as_i64().unwrap()).collect();
    assert!(
        selfs.windows(2).all(|w| w[0] >= w[1]),
        "sorted by self: {selfs:?}"
    );
    let total = r["total"].as_i64().unwrap();
    let pct = f[0]["self_percent"].as_f64().unwrap();
    assert!((pct - 100.0 * selfs[0] as f64 / total as f64).abs() < 1e-9);
}

#[test]
fn tid_filter_selects_one_thread() {
    let all = sample_report("hot.perf.data", &[]);
    let worker = all["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "worker")
        .unwrap();
    let tid = worker["tid"].as_i64().unwrap().to_string();
    let r = sample_report("hot.perf.data", &["--tid", &tid]);
    assert_eq!(r["samples"], worker["samples"]);
    let f = r["functions"].as_array().unwrap();
    assert_eq!(f[0]["name"], "leaf_c");
    assert!((f[0]["self_percent"].as_f64().unwrap() - 100.0).abs() < 0.5);
    assert!(!f.iter().any(|x| x["name"] == "leaf_a"));
}

#[test]
fn text_report_reads_like_perf_report() {
    let out = stacklens(&[
        "report",
        "sample-profiles/hot.perf.data",
        "--symbols",
        "sample-profiles/bin",
        "--top",
        "5",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("# event: cpu-clock:u (nanoseconds)"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(rows[0].trim_start().starts_with("33."), "{text}");
    assert!(
        rows[0].contains("leaf_a") || rows[0].contains("leaf_c"),
        "{text}"
    );
    assert!(rows[0].trim_end().ends_with("hot"), "{text}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let out = stacklens(&["report", "no/such/file.data"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/file.data"), "{err}");

    let out = stacklens(&[
        "report",
        "sample-profiles/hot.perf.data",
        "--event",
        "cycles",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cycles") && err.contains("cpu-clock:u"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01\x02garbage that is no profile").unwrap();
    let out = stacklens(&["report", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.bin") && err.contains("not a profile format"),
        "{err}"
    );
}

#[test]
fn truncated_copies_load_partially_or_fail_with_file_and_offset() {
    let full = std::fs::read(sample("hot.perf.data")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [
        50,
        104,
        3000,
        full.len() / 3,
        full.len() / 2,
        full.len() - 100,
    ] {
        let path = dir.path().join(format!("cut-{cut}.perf.data"));
        std::fs::write(&path, &full[..cut]).unwrap();
        let out = stacklens(&[
            "report",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--symbols",
            "sample-profiles/bin",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "cut {cut}: {err}");
        match out.status.code() {
            Some(0) => {
                let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let warnings = r["warnings"].as_array().unwrap();
                assert!(
                    !warnings.is_empty(),
                    "cut {cut}: partial load without a warning"
                );
            }
            Some(2) => assert!(
                err.contains(&format!("cut-{cut}.perf.data")) && err.contains("offset"),
                "cut {cut}: {err}"
            ),
            other => panic!("cut {cut}: exit {other:?}: {err}"),
        }
    }
}

fn have_perf() -> bool {
    Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Records a fresh capture now (user and kernel, frame pointers), and compares with
/// `perf report` on the same file: the top 20 symbols within 0.1 percentage points, the
/// sample total exact.
#[test]
fn a_fresh_perf_record_agrees_with_perf_report() {
    assert!(
        have_perf(),
        "perf is needed for this test (Debian: apt-get install linux-perf)"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh.perf.data");
    let hot = sample("bin/hot");
    // The sample program, then some kernel work (dd copying /dev/zero) so kernel symbols count.
    let script = format!(
        "{} 12 >/dev/null; dd if=/dev/zero of=/dev/null bs=4k count=150000 2>/dev/null",
        hot.display()
    );
    let rec = Command::new("perf")
        .args(["record", "-q", "-g", "-F", "999", "-o"])
        .arg(&data)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        rec.status.success(),
        "perf record failed (is perf_event_open allowed? kernel.perf_event_paranoid, root): {}",
        String::from_utf8_lossy(&rec.stderr)
    );
    let events = perf_report_by_symbol(&data);
    assert_eq!(events.len(), 1, "one event");
    let ev = &events[0];
    assert!(ev.samples > 200, "too few samples: {}", ev.samples);
    let report = stacklens_json(&[
        "report",
        data.to_str().unwrap(),
        "--no-inline",
        "--format",
        "json",
    ]);
    let rows = assert_agrees_with_perf(&report, ev, 20, 0.1, "fresh capture");
    assert!(rows.len() >= 5, "compared {rows:?}");
    eprintln!(
        "fresh capture: {} samples; top symbols (perf %, stacklens %): {rows:?}",
        ev.samples
    );
}

/// `name (file:line)` → `(name, file)`, as py-spy writes frames.
fn py_spy_frame(frame: &str) -> (String, String) {
    match frame.strip_suffix(')').and_then(|f| f.rsplit_once(" (")) {
        Some((name, loc)) => (
            name.to_owned(),
            loc.rsplit_once(':')
                .map_or(loc, |(file, _)| file)
                .to_owned(),
        ),
        None => (frame.to_owned(), String::new()),
    }
}

#[test]
fn folded_stacks_agree_with_the_folded_sums() {
    // py-spy's own output (sample-profiles/record.sh) and inferno-collapse-perf's
    // (record-perf-script.sh): the reference is the file itself.
    for name in ["py-work.folded", "demo.inferno.folded"] {
        check_folded_sums(name);
    }
    // inferno weighs each stack by perf's period: its total is perf report's event count.
    let golden = std::fs::read_to_string(sample("demo.perf.data.perf-report.txt")).unwrap();
    let events = parse_perf_report(&golden);
    let r = sample_report("demo.inferno.folded", &[]);
    assert_eq!(
        r["total"].as_u64().unwrap(),
        events[0].event_count,
        "inferno's folded total vs perf report's event count"
    );
}

fn check_folded_sums(name: &str) {
    let text = std::fs::read_to_string(sample(name)).unwrap();
    let mut expected: std::collections::BTreeMap<(String, String), i64> = Default::default();
    let mut total = 0i64;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (stack, count) = line.rsplit_once(' ').unwrap();
        let count: i64 = count.parse().unwrap();
        total += count;
        let leaf = stack.trim().rsplit(';').next().unwrap_or("");
        let key = if leaf.is_empty() {
            ("[unknown]".to_owned(), String::new())
        } else {
            py_spy_frame(leaf)
        };
        *expected.entry(key).or_default() += count;
    }
    let r = sample_report(name, &[]);
    assert_eq!(r["source_format"], "folded stacks");
    assert_eq!(r["total"].as_i64().unwrap(), total, "{name}");
    let mut got: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for f in r["functions"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap_or("").to_owned();
        let key = (f["name"].as_str().unwrap().to_owned(), file);
        let s = f["self"].as_i64().unwrap();
        if s != 0 {
            *got.entry(key).or_default() += s;
        }
    }
    assert_eq!(got, expected, "{name}");
}

#[test]
fn jit_code_is_named_from_the_perf_map_the_jit_wrote() {
    // node --perf-basic-prof ran work.js; its generated code lives in anonymous memory, named
    // by the perf-<pid>.map node wrote (committed next to the capture: found by its file name
    // in a --symbols directory).
    let r = stacklens_json(&[
        "report",
        "sample-profiles/node-jit.perf.data",
        "--symbols",
        "sample-profiles",
        "--no-inline",
        "--format",
        "json",
    ]);
    let golden = std::fs::read_to_string(sample("node-jit.perf.data.perf-report.txt")).unwrap();
    let perf = &parse_perf_report(&golden)[0];
    assert_eq!(r["samples"].as_u64(), Some(perf.samples));
    // The JIT functions, each with perf's sample count. (perf has no rule for map entries
    // that overlap, where V8 reused memory; its choice and ours differ on a dozen samples
    // there, so only the ranges that never overlapped compare exactly.)
    let samples_of = |name: &str| -> u64 {
        r["functions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["name"] == name)
            .map(|f| f["self_samples"].as_u64().unwrap())
            .max()
            .unwrap_or(0)
    };
    let perf_of = |name: &str| -> u64 {
        perf.rows
            .iter()
            .filter(|(s, _, _)| s == name)
            .map(|(_, _, n)| *n)
            .max()
            .unwrap_or(0)
    };
    for f in [
        "JS:*checksum /work/main/sample-profiles/src/js/work.js:35:18",
        "JS:*fib /work/main/sample-profiles/src/js/work.js:31:13",
        "JS:*tokenize /work/main/sample-profiles/src/js/work.js:9:18",
    ] {
        assert!(perf_of(f) > 20, "{f} in the reference");
        assert_eq!(samples_of(f), perf_of(f), "{f}");
    }
    let jit_module = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"].as_str().unwrap_or("").starts_with("JS:*fib"))
        .map(|f| f["module"].clone());
    assert_eq!(jit_module, Some(serde_json::json!("perf-12105.map")));
}
