//! `stacklens report` on `perf script` text (made by sample-profiles/record-perf-script.sh from
//! the committed perf captures) against `perf report` on the same captures, per event; and
//! against stacklens' own reading of the perf.data file.

use stacklens_tests::*;
use std::collections::BTreeMap;
use std::process::Command;

/// (perf script text, the capture it was made from).
const SCRIPTS: [(&str, &str); 3] = [
    ("hotpp.perf-script.txt", "hotpp.perf.data"),
    ("hot-2events.perf-script.txt", "hot-2events.perf.data"),
    ("demo.perf-script.txt.gz", "demo.perf.data"),
];

/// `stacklens report FILE --format json EXTRA...`
fn report(file: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["report", file, "--format", "json"];
    args.extend_from_slice(extra);
    stacklens_json(&args)
}

/// The `# Event count (approx.): N` of each event section of `perf report` output (the exact
/// sum of the periods), by event name.
fn event_counts(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut event = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# Samples: ") {
            event = rest.split('\'').nth(1).map(str::to_string);
        } else if let Some(n) = line.strip_prefix("# Event count (approx.): ")
            && let Some(e) = event.take()
        {
            out.insert(e, n.trim().parse().expect("event count"));
        }
    }
    out
}

/// Our (self samples, self percent) per function name, same-named functions added up.
fn ours_by_name(r: &serde_json::Value) -> BTreeMap<String, (u64, f64)> {
    let mut m = BTreeMap::new();
    for f in r["functions"].as_array().expect("functions") {
        let e = m
            .entry(strip_params(f["name"].as_str().unwrap()).to_string())
            .or_insert((0, 0.0));
        e.0 += f["self_samples"].as_u64().unwrap();
        e.1 += f["self_percent"].as_f64().unwrap();
    }
    m
}

/// Names stacklens gives what perf could not symbolize (perf report prints an address).
fn unresolved(name: &str) -> bool {
    name.starts_with('[') || name.contains("+0x") || name.starts_with("0x")
}

#[test]
fn perf_script_text_agrees_with_perf_report() {
    for (script, capture) in SCRIPTS {
        let golden =
            std::fs::read_to_string(sample(&format!("{capture}.perf-report.txt"))).unwrap();
        let events = parse_perf_report(&golden);
        let counts = event_counts(&golden);
        assert!(!events.is_empty(), "{capture}: no events in the reference");
        let file = sample(script);
        for ev in &events {
            let what = format!("{script} {}", ev.event);
            let r = report(file.to_str().unwrap(), &["--event", &ev.event]);
            assert_eq!(
                r["source_format"].as_str().unwrap().split(' ').next(),
                Some("perf")
            );
            assert!(
                r["warnings"].as_array().unwrap().is_empty(),
                "{what}: {}",
                r["warnings"]
            );
            assert_eq!(r["samples"].as_u64(), Some(ev.samples), "{what}: samples");
            assert_eq!(
                r["total"].as_i64(),
                counts.get(&ev.event).copied(),
                "{what}: total weight (perf's event count)"
            );
            // perf's rows by name (two static `helper`s are two rows in perf report).
            let mut theirs: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
            for (sym, pct, n) in &ev.rows {
                let e = theirs.entry(sym.as_str()).or_insert((0, 0.0));
                e.0 += n;
                e.1 += pct;
            }
            let ours = ours_by_name(&r);
            let mut compared = 0;
            for (sym, &(n, pct)) in &theirs {
                if sym.starts_with("0x") {
                    continue;
                }
                let (mine_n, mine_pct) = ours.get(*sym).copied().unwrap_or_default();
                assert_eq!(mine_n, n, "{what}: {sym}: self samples");
                // perf prints two decimals.
                assert!(
                    (mine_pct - pct).abs() <= 0.0051,
                    "{what}: {sym}: perf {pct}%, stacklens {mine_pct}%"
                );
                compared += 1;
            }
            assert!(compared > 0, "{what}: nothing compared");
            // Whatever else has self samples is what perf left as bare addresses.
            let addr_rows: u64 = theirs
                .iter()
                .filter(|(s, _)| s.starts_with("0x"))
                .map(|(_, (n, _))| n)
                .sum();
            let ours_else: u64 = ours
                .iter()
                .filter(|(name, _)| !theirs.contains_key(name.as_str()))
                .inspect(|(name, (n, _))| {
                    assert!(
                        *n == 0 || unresolved(name),
                        "{what}: {name} has {n} self samples and no row in perf report"
                    )
                })
                .map(|(_, (n, _))| n)
                .sum();
            assert_eq!(ours_else, addr_rows, "{what}: unsymbolized samples");
        }
    }
}

#[test]
fn gzipped_text_loads_like_the_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("demo.perf-script.txt");
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(sample("demo.perf-script.txt.gz"))
        .output()
        .expect("gzip (to unpack the sample)");
    assert!(out.status.success());
    std::fs::write(&plain, &out.stdout).unwrap();
    let mut a = report(plain.to_str().unwrap(), &[]);
    let gz = sample("demo.perf-script.txt.gz");
    let mut b = report(gz.to_str().unwrap(), &[]);
    assert_eq!(a["source_format"], "perf script");
    assert_eq!(b["source_format"], "perf script (gzip)");
    for r in [&mut a, &mut b] {
        let o = r.as_object_mut().unwrap();
        o.remove("file");
        o.remove("source_format");
    }
    assert_eq!(a, b);
}

/// The same capture read as perf.data (symbolized by stacklens from sample-profiles/bin) and as
/// perf's own text: the same samples, threads and self figures for the program's functions.
#[test]
fn perf_script_text_and_perf_data_give_the_same_report() {
    for (script, capture, program) in [
        ("demo.perf-script.txt.gz", "demo.perf.data", "demo"),
        ("hotpp.perf-script.txt", "hotpp.perf.data", "hotpp"),
    ] {
        let text = report(sample(script).to_str().unwrap(), &[]);
        let data = report(
            sample(capture).to_str().unwrap(),
            &["--symbols", "sample-profiles/bin", "--no-inline"],
        );
        for key in ["samples", "total", "sample_type"] {
            assert_eq!(text[key], data[key], "{script}: {key}");
        }
        let d = |r: &serde_json::Value| r["duration_ns"].as_i64().unwrap();
        assert!(
            (d(&text) - d(&data)).abs() < 2_000,
            "{script}: duration (perf script prints µs)"
        );
        // perf script's default fields have no pid: threads compare by tid, name, samples.
        let threads = |r: &serde_json::Value| -> Vec<(i64, String, u64)> {
            r["threads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["tid"].as_i64().unwrap(),
                        t["name"].as_str().unwrap().to_string(),
                        t["samples"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(threads(&text), threads(&data), "{script}: threads");
        let program_funcs = |r: &serde_json::Value| -> BTreeMap<String, (u64, u64)> {
            let mut m = BTreeMap::new();
            for f in r["functions"].as_array().unwrap() {
                if f["module"] != program {
                    continue;
                }
                let e = m
                    .entry(strip_params(f["name"].as_str().unwrap()).to_string())
                    .or_insert((0, 0));
                e.0 += f["self_samples"].as_u64().unwrap();
                e.1 += f["total_samples"].as_u64().unwrap();
            }
            m
        };
        let (a, b) = (program_funcs(&text), program_funcs(&data));
        assert!(a.len() > 3, "{script}: {a:?}");
        assert_eq!(
            a, b,
            "{script}: self and total samples of {program}'s functions"
        );
    }
}

#[test]
fn a_truncated_text_loads_what_it_has() {
    let full = std::fs::read(sample("hotpp.perf-script.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // (The first 10 bytes, `hotpp 2217`, would be a valid folded-stacks line.)
    for cut in [100, full.len() / 2, full.len() - 7] {
        let path = dir.path().join(format!("cut-{cut}.txt"));
        std::fs::write(&path, &full[..cut]).unwrap();
        let out = stacklens(&["report", path.to_str().unwrap(), "--format", "json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "cut {cut}: {err}");
        match out.status.code() {
            Some(0) => {
                let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(r["source_format"], "perf script", "cut {cut}");
                assert!(r["samples"].as_u64().unwrap() >= 1, "cut {cut}");
                let warnings = r["warnings"].as_array().unwrap();
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.as_str().unwrap().contains("truncated")),
                    "cut {cut}: partial load without a warning: {warnings:?}"
                );
            }
            // Too short to be recognized: a clear error naming the file.
            Some(2) => assert!(err.contains(&format!("cut-{cut}.txt")), "cut {cut}: {err}"),
            other => panic!("cut {cut}: exit {other:?}: {err}"),
        }
    }
}
