//! `stacklens convert`: every sample input → `.stkl` → reopened gives the same report; the
//! other outputs reopen with the same figures; our pprof opens in `go tool pprof` with the same
//! top.

use stacklens_tests::{repo, sample, stacklens, stacklens_json};
use std::path::Path;

/// Every committed sample input that is not perf.data-specific, plus the perf.data captures.
fn inputs() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(repo().join("sample-profiles")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let input = name.ends_with(".perf.data")
            || name.ends_with(".folded")
            || name.ends_with(".pb.gz")
            || name.ends_with(".perf-script.txt")
            || name.ends_with(".perf-script.txt.gz")
            || name.ends_with(".cpuprofile")
            || name.ends_with(".speedscope.json")
            || name.ends_with(".puffin")
            || (name.ends_with(".json") && name.contains("trace"));
        if input {
            out.push(name);
        }
    }
    out.sort();
    out
}

fn report(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "report",
        path.to_str().unwrap(),
        "--symbols",
        "sample-profiles/bin",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let mut r = stacklens_json(&args);
    r.as_object_mut().unwrap().remove("file");
    r
}

fn convert(input: &Path, output: &Path, extra: &[&str]) {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--symbols",
        "sample-profiles/bin",
    ];
    args.extend_from_slice(extra);
    let out = stacklens(&args);
    assert!(
        out.status.success(),
        "stacklens {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample types of a report, by name.
fn event_names(r: &serde_json::Value) -> Vec<String> {
    r["sample_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_input_round_trips_through_stkl_with_an_identical_report() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs();
    assert!(inputs.len() >= 8, "sample inputs: {inputs:?}");
    for name in inputs {
        let input = sample(&name);
        let stkl = dir.path().join(format!("{name}.stkl"));
        convert(&input, &stkl, &[]);
        let before = report(&input, &[]);
        for ev in event_names(&before) {
            let a = report(&input, &["--event", &ev]);
            let b = report(&stkl, &["--event", &ev]);
            assert_eq!(a, b, "{name}, event {ev}: report differs after .stkl");
        }
    }
}

/// (self per function name, total) of a report.
fn by_name(r: &serde_json::Value) -> (std::collections::BTreeMap<String, i64>, i64) {
    let mut m = std::collections::BTreeMap::new();
    for f in r["functions"].as_array().unwrap() {
        let s = f["self"].as_i64().unwrap();
        if s != 0 {
            *m.entry(f["name"].as_str().unwrap().to_string())
                .or_insert(0) += s;
        }
    }
    (m, r["total"].as_i64().unwrap())
}

#[test]
fn folded_pprof_and_speedscope_outputs_reopen_with_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "demo.perf.data",
        "go-cpu.pb.gz",
        "py-work.folded",
        "hot-2events.perf.data",
    ] {
        let input = sample(name);
        let original = report(&input, &[]);
        for ev in event_names(&original) {
            let want = by_name(&report(&input, &["--event", &ev]));
            // Single-type outputs: one file per event.
            for ext in ["folded", "speedscope.json"] {
                let out = dir.path().join(format!("{name}.{ev}.{ext}"));
                convert(&input, &out, &["--event", &ev]);
                let got = by_name(&report(&out, &[]));
                assert_eq!(got, want, "{name} → .{ext} ({ev})");
            }
            // pprof keeps every event.
            let out = dir.path().join(format!("{name}.pb.gz"));
            convert(&input, &out, &[]);
            let got = by_name(&report(&out, &["--event", &ev]));
            assert_eq!(got, want, "{name} → .pb.gz ({ev})");
        }
    }
}

#[test]
fn our_pprof_opens_in_go_tool_pprof_with_the_same_top() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("demo.perf.data");
    let out = dir.path().join("demo.pb.gz");
    convert(&input, &out, &[]);
    let ours = report(&input, &[]);
    let event = ours["sample_type"]["name"].as_str().unwrap().to_string();
    let pprof = std::process::Command::new("go")
        .args([
            "tool",
            "pprof",
            "-top",
            "-nodecount=100000",
            "-nodefraction=0",
        ])
        .args(["-unit=ns", "-sample_index"])
        .arg(&event)
        .arg(&out)
        .output()
        .expect("go tool pprof (Debian package golang-go; .ci/run installs it)");
    let text = String::from_utf8_lossy(&pprof.stdout);
    assert!(
        pprof.status.success(),
        "{}",
        String::from_utf8_lossy(&pprof.stderr)
    );
    let mut flat = std::collections::BTreeMap::new();
    let mut rows = false;
    for line in text.lines() {
        if line.trim_start().starts_with("flat") {
            rows = true;
            continue;
        }
        if rows {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let v: i64 = cols[0].trim_end_matches("ns").parse().unwrap();
            if v != 0 {
                *flat.entry(cols[5..].join(" ")).or_insert(0) += v;
            }
        }
    }
    let (want, _) = by_name(&ours);
    assert_eq!(flat, want, "go tool pprof -top of our .pb.gz:\n{text}");
}

#[test]
fn an_unknown_output_extension_is_refused_before_loading() {
    let out = stacklens(&["convert", "sample-profiles/py-work.folded", "-o", "x.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use one of .stkl, .folded"), "{err}");
}

#[test]
fn the_stkl_file_of_every_format_version_keeps_opening() {
    // sample-profiles/stkl/make.sh wrote each with the report it gave then.
    let dir = repo().join("sample-profiles/stkl");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "stkl") {
            continue;
        }
        let saved = std::fs::read(format!("{}.report.json", path.display())).unwrap();
        let mut saved: serde_json::Value = serde_json::from_slice(&saved).unwrap();
        saved.as_object_mut().unwrap().remove("file");
        assert_eq!(report(&path, &[]), saved, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 1, "no .stkl test files in {}", dir.display());
}

#[test]
fn our_folded_renders_in_inferno() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample("demo.perf.data");
    let folded = dir.path().join("demo.folded");
    convert(&input, &folded, &[]);
    let out = std::process::Command::new("inferno-flamegraph")
        .arg(&folded)
        .output()
        .expect("inferno-flamegraph (cargo install --locked inferno; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    // inferno titles the root "all (N samples, 100%)", N with thousands separators.
    let total = report(&input, &[])["total"].as_i64().unwrap();
    let digits = total.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let want = format!("all ({grouped} samples, 100%)");
    assert!(svg.contains(&want), "inferno's SVG has no {want:?}");
}
