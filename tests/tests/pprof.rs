//! pprof input agrees with `go tool pprof -top` on the Go profiles made by
//! sample-profiles/record-pprof.sh: every sample type of the CPU and heap profiles, the default
//! sample type, and a label filter (`--tag` against pprof's `-tagfocus`).

use stacklens_tests::{sample, stacklens, stacklens_json};
use std::collections::BTreeMap;

/// `go tool pprof -top` output: the shown total and (flat, cum) per function name.
struct Top {
    total: i64,
    flat: BTreeMap<String, i64>,
    /// Cumulative weight of names that appear once (a function listed both inlined and not
    /// has two rows whose cum cannot be added).
    cum: BTreeMap<String, i64>,
    type_name: String,
}

fn value(s: &str) -> i64 {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    digits
        .parse()
        .unwrap_or_else(|_| panic!("not a plain number: {s:?}"))
}

fn parse_top(name: &str) -> Top {
    let text = std::fs::read_to_string(sample(name)).unwrap();
    let mut total = None;
    let mut type_name = String::new();
    let mut flat = BTreeMap::new();
    let mut cum = BTreeMap::new();
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut rows = false;
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("Type: ") {
            type_name = t.to_string();
        }
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            // "X, 100% of Y total": X is what the shown (filtered) nodes add up to.
            total = Some(value(rest.split(',').next().unwrap()));
        }
        if line.trim_start().starts_with("flat") {
            rows = true;
            continue;
        }
        if !rows {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() >= 6, "{name}: odd row {line:?}");
        let func = cols[5..].join(" ");
        let func = func.trim_end_matches(" (inline)").to_string();
        *flat.entry(func.clone()).or_insert(0) += value(cols[0]);
        cum.insert(func.clone(), value(cols[3]));
        *seen.entry(func).or_insert(0) += 1;
    }
    cum.retain(|f, _| seen[f] == 1);
    Top {
        total: total.unwrap_or_else(|| panic!("{name}: no total")),
        flat,
        cum,
        type_name,
    }
}

/// stacklens' report, per function name: (self, total).
fn ours(file: &str, extra: &[&str]) -> (serde_json::Value, BTreeMap<String, (i64, i64)>) {
    let path = sample(file);
    let mut args = vec!["report", path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let r = stacklens_json(&args);
    let mut by_name: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for f in r["functions"].as_array().unwrap() {
        let e = by_name
            .entry(f["name"].as_str().unwrap().to_string())
            .or_default();
        e.0 += f["self"].as_i64().unwrap();
        // Same-named functions of different files: pprof -top merges them; so do we here.
        e.1 += f["total"].as_i64().unwrap();
    }
    (r, by_name)
}

fn check(file: &str, reference: &str, extra: &[&str]) {
    let top = parse_top(reference);
    let (r, got) = ours(file, extra);
    assert_eq!(
        r["sample_type"]["name"].as_str().unwrap(),
        top.type_name,
        "{file} {extra:?}: sample type"
    );
    assert_eq!(
        r["total"].as_i64().unwrap(),
        top.total,
        "{file} {extra:?}: total"
    );
    let got_flat: BTreeMap<String, i64> = got
        .iter()
        .filter(|(_, w)| w.0 != 0)
        .map(|(n, w)| (n.clone(), w.0))
        .collect();
    let want_flat: BTreeMap<String, i64> = top.flat.into_iter().filter(|(_, w)| *w != 0).collect();
    assert_eq!(got_flat, want_flat, "{file} {extra:?}: self per function");
    for (name, cum) in &top.cum {
        let ours = got.get(name).map_or(0, |w| w.1);
        assert_eq!(ours, *cum, "{file} {extra:?}: total of {name}");
    }
}

#[test]
fn cpu_profile_agrees_with_go_tool_pprof_for_every_sample_type() {
    check(
        "go-cpu.pb.gz",
        "go-cpu.pb.gz.cpu.top.txt",
        &["--event", "cpu"],
    );
    check(
        "go-cpu.pb.gz",
        "go-cpu.pb.gz.samples.top.txt",
        &["--event", "samples"],
    );
    // pprof's default for a CPU profile is the last type, cpu.
    check("go-cpu.pb.gz", "go-cpu.pb.gz.cpu.top.txt", &[]);
}

#[test]
fn heap_profile_agrees_with_go_tool_pprof_for_every_sample_type() {
    for t in [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ] {
        check(
            "go-heap.pb.gz",
            &format!("go-heap.pb.gz.{t}.top.txt"),
            &["--event", t],
        );
    }
    check("go-heap.pb.gz", "go-heap.pb.gz.default.top.txt", &[]);
}

#[test]
fn labels_filter_like_tagfocus() {
    let (r, _) = ours("go-cpu.pb.gz", &[]);
    let labels = r["labels"].as_array().unwrap();
    let stage = labels
        .iter()
        .find(|l| l["key"] == "stage")
        .expect("the Go program labels samples with stage=...");
    assert_eq!(stage["values"], serde_json::json!(["hash", "parse"]));
    check(
        "go-cpu.pb.gz",
        "go-cpu.pb.gz.cpu.stage=hash.top.txt",
        &["--event", "cpu", "--tag", "stage=hash"],
    );
    // Filters on one key are alternatives: both stages together are everything labelled.
    let (parse, _) = ours("go-cpu.pb.gz", &["--tag", "stage=parse"]);
    let (hash, _) = ours("go-cpu.pb.gz", &["--tag", "stage=hash"]);
    let (both, _) = ours(
        "go-cpu.pb.gz",
        &["--tag", "stage=parse", "--tag", "stage=hash"],
    );
    let t = |r: &serde_json::Value| r["total"].as_i64().unwrap();
    assert_eq!(t(&both), t(&parse) + t(&hash));
    // The threads' sample counts are the selection's: they add up to its samples.
    for r in [&r, &parse, &hash, &both] {
        let threads: u64 = (r["threads"].as_array().unwrap().iter())
            .map(|t| t["samples"].as_u64().unwrap())
            .sum();
        assert_eq!(threads, r["samples"].as_u64().unwrap());
    }
    assert!(parse["samples"].as_u64() < r["samples"].as_u64());
    assert!(t(&both) < t(&r), "unlabelled samples are filtered out");
    // A key or value the profile does not have is an error that lists what it has.
    let path = sample("go-cpu.pb.gz");
    let out = stacklens(&["report", path.to_str().unwrap(), "--tag", "stage=nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("its values: hash, parse"), "{err}");
}
