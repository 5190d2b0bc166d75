//! `stacklens report` on a puffin capture against puffin's own reading of the same file.
//!
//! `sample-profiles/app-frames.puffin` was written by puffin 0.20 (`FrameView::write`) in
//! `sample-profiles/src/puffin-capture`, which then read the file back with puffin's own reader
//! (`FrameView::read`, `Reader`) and saved the figures to `app-frames.puffin.expected.txt`:
//! per thread the sum of its top-level scope durations, per scope name the self time
//! (duration minus direct children). (This crate has no puffin dependency; the core crate's
//! unit tests also recompute these figures with puffin's API directly.)

use stacklens_tests::*;
use std::collections::BTreeMap;

const CAPTURE: &str = "sample-profiles/app-frames.puffin";

struct Expected {
    frames: u64,
    scopes: u64,
    total_ns: i64,
    threads: BTreeMap<String, i64>,
    self_ns: BTreeMap<String, i64>,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(sample("app-frames.puffin.expected.txt")).unwrap();
    let mut e = Expected {
        frames: 0,
        scopes: 0,
        total_ns: 0,
        threads: BTreeMap::new(),
        self_ns: BTreeMap::new(),
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["frames", n] => e.frames = n.parse().unwrap(),
            ["scopes", n] => e.scopes = n.parse().unwrap(),
            ["total_ns", n] => e.total_ns = n.parse().unwrap(),
            ["thread", name, ns, _] => {
                e.threads.insert(name.into(), ns.parse().unwrap());
            }
            ["self", name, ns] => {
                e.self_ns.insert(name.into(), ns.parse().unwrap());
            }
            _ => panic!("unexpected line in the reference: {line:?}"),
        }
    }
    assert!(e.frames > 0 && e.scopes > 0 && !e.self_ns.is_empty());
    e
}

/// Self weight per function name (functions of one name in several files added up).
fn self_by_name(report: &serde_json::Value) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for f in report["functions"].as_array().expect("functions") {
        *m.entry(f["name"].as_str().unwrap().to_string())
            .or_insert(0) += f["self"].as_i64().unwrap();
    }
    m
}

#[test]
fn report_agrees_with_puffins_own_reader() {
    let want = expected();
    let r = stacklens_json(&["report", CAPTURE, "--format", "json"]);
    assert_eq!(r["source_format"], "puffin");
    assert_eq!(r["sample_type"]["name"], "wall time");
    assert_eq!(r["sample_type"]["unit"], "nanoseconds");
    assert_eq!(
        r["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        r["warnings"]
    );
    // The total is the sum over threads of their top-level scopes' durations.
    assert_eq!(want.threads.values().sum::<i64>(), want.total_ns);
    assert_eq!(r["total"].as_i64(), Some(want.total_ns));
    // One sample per scope with a non-zero self time.
    let samples = r["samples"].as_u64().unwrap();
    assert!(samples > 0 && samples <= want.scopes, "{samples} samples");
    // Per scope: self time.
    assert_eq!(self_by_name(&r), want.self_ns);
    // A function's total is at least its self time; the outermost scope `frame` covers the
    // main thread's total exactly.
    let frame = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "frame")
        .expect("the `frame` scope");
    assert_eq!(frame["total"].as_i64(), Some(want.threads["main"]));
    assert_eq!(
        frame["file"], "src/main.rs",
        "the scope's file as puffin records it"
    );

    // Per thread, through `--tid`.
    let threads = r["threads"].as_array().unwrap();
    assert_eq!(threads.len(), want.threads.len(), "{threads:?}");
    for t in threads {
        let name = t["name"].as_str().unwrap();
        let tid = t["tid"].as_i64().unwrap().to_string();
        let one = stacklens_json(&["report", CAPTURE, "--tid", &tid, "--format", "json"]);
        assert_eq!(
            one["total"].as_i64(),
            Some(want.threads[name]),
            "thread {name} (tid {tid})"
        );
    }
}

#[test]
fn a_cut_capture_keeps_its_whole_frames_with_a_warning() {
    let data = std::fs::read(sample("app-frames.puffin")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.puffin");
    std::fs::write(&cut, &data[..data.len() * 2 / 3]).unwrap();
    let r = stacklens_json(&["report", cut.to_str().unwrap(), "--format", "json"]);
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].as_str().unwrap().contains("cut short"),
        "{warnings:?}"
    );
    let total = r["total"].as_i64().unwrap();
    assert!(total > 0 && total < expected().total_ns);

    // Not a capture at all past its magic: a located error, no panic.
    let bad = dir.path().join("bad.puffin");
    std::fs::write(&bad, b"PUF0PFD4\xff\xff\xff\xff").unwrap();
    let out = stacklens(&["report", bad.to_str().unwrap(), "--format", "json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("puffin: at byte offset 12"), "{err}");
}
