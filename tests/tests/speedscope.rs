//! speedscope input: `stacklens report` on files written by py-spy (sampled profiles) and
//! pyinstrument (evented profiles), against figures computed here from the files themselves
//! with serde_json, following speedscope's own reading of them, and against pyinstrument's
//! JSON tree of the same session. Files made by sample-profiles/record-speedscope.sh.

use serde_json::Value;
use stacklens_tests::*;
use std::collections::BTreeMap;

/// (function name, file) → weight.
type ByFunction = BTreeMap<(String, Option<String>), i64>;

fn read_json(name: &str) -> Value {
    let text = std::fs::read(sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn report(name: &str) -> Value {
    let file = sample(name);
    stacklens_json(&["report", file.to_str().unwrap(), "--format", "json"])
}

/// A weight or time in seconds as integer nanoseconds (rounded like any reader must).
fn ns(seconds: &Value) -> i64 {
    (seconds.as_f64().expect("a number") * 1e9).round() as i64
}

/// (name, file) of shared frame `i`.
fn frame_key(file: &Value, i: &Value) -> (String, Option<String>) {
    let f = &file["shared"]["frames"][i.as_u64().expect("frame index") as usize];
    (
        f["name"].as_str().expect("frame name").to_string(),
        f["file"].as_str().map(str::to_string),
    )
}

/// Self weight per function as the report gives it (functions with no self weight left out).
fn report_selfs(r: &Value) -> ByFunction {
    let mut m = ByFunction::new();
    for f in r["functions"].as_array().expect("functions") {
        let w = f["self"].as_i64().unwrap();
        if w != 0 {
            let key = (
                f["name"].as_str().unwrap().to_string(),
                f["file"].as_str().map(str::to_string),
            );
            *m.entry(key).or_default() += w;
        }
    }
    m
}

#[test]
fn py_spy_sampled_profile_adds_up_to_its_weights() {
    let name = "py-work.speedscope.json";
    let file = read_json(name);
    assert!(file["exporter"].as_str().unwrap().starts_with("py-spy@"));
    // The reference: every sample's weight (seconds → ns), summed over all profiles, and
    // each added to the function of its leaf frame (the last index: stacks are root first).
    // An empty stack is our `[unknown]`.
    let mut total = 0i64;
    let mut samples = 0u64;
    let mut selfs = ByFunction::new();
    let profiles = file["profiles"].as_array().unwrap();
    for p in profiles {
        assert_eq!(p["type"], "sampled");
        assert_eq!(p["unit"], "seconds");
        let stacks = p["samples"].as_array().unwrap();
        let weights = p["weights"].as_array().unwrap();
        assert_eq!(stacks.len(), weights.len());
        for (stack, w) in stacks.iter().zip(weights) {
            let w = ns(w);
            total += w;
            samples += 1;
            let key = match stack.as_array().unwrap().last() {
                Some(leaf) => frame_key(&file, leaf),
                None => ("[unknown]".to_string(), None),
            };
            *selfs.entry(key).or_default() += w;
        }
    }
    let r = report(name);
    assert_eq!(r["source_format"], "speedscope");
    assert_eq!(r["sample_type"]["name"], "time");
    assert_eq!(r["sample_type"]["unit"], "nanoseconds");
    assert!(
        r["warnings"].as_array().unwrap().is_empty(),
        "{}",
        r["warnings"]
    );
    assert_eq!(
        r["total"].as_i64(),
        Some(total),
        "total = sum of all weights"
    );
    assert_eq!(r["samples"].as_u64(), Some(samples));
    assert_eq!(report_selfs(&r), selfs, "self weight per (function, file)");
    // One thread per profile, with the tid py-spy wrote in its name ("Thread 12181 \"\"").
    let threads = r["threads"].as_array().unwrap();
    assert_eq!(threads.len(), profiles.len());
    for t in threads {
        let name = t["name"].as_str().unwrap();
        let tid = name.split(' ').nth(1).unwrap();
        assert_eq!(t["tid"].to_string(), tid, "{name}");
    }
    // py-spy writes startValue 0 and endValue = the sum of the weights.
    let end = profiles.iter().map(|p| ns(&p["endValue"])).max().unwrap();
    assert_eq!(r["duration_ns"].as_i64(), Some(end));
    // The workload's shape (work.py): the three phases all show.
    for f in ["sort_words", "checksum", "parse"] {
        assert!(selfs.keys().any(|(n, _)| n == f), "{f} in {selfs:?}");
    }
}

#[test]
fn pyinstrument_evented_profile_counts_time_at_the_top_of_the_stack() {
    let name = "py-work.pyinstrument.speedscope.json";
    let file = read_json(name);
    assert_eq!(file["exporter"], "pyinstrument");
    // The reference, as speedscope reads an evented profile: between two events, the time
    // (rounded to ns at each event) belongs to the innermost open frame.
    let mut total = 0i64;
    let mut selfs = ByFunction::new();
    let profiles = file["profiles"].as_array().unwrap();
    for p in profiles {
        assert_eq!(p["type"], "evented");
        assert_eq!(p["unit"], "seconds");
        let mut open: Vec<&Value> = Vec::new();
        let mut last: Option<i64> = None;
        for e in p["events"].as_array().unwrap() {
            let at = ns(&e["at"]);
            if let (Some(l), Some(top)) = (last, open.last()) {
                assert!(at >= l, "events in time order");
                total += at - l;
                *selfs.entry(frame_key(&file, top)).or_default() += at - l;
            }
            last = Some(at);
            match e["type"].as_str().unwrap() {
                "O" => open.push(&e["frame"]),
                "C" => assert_eq!(open.pop(), Some(&e["frame"]), "balanced events"),
                t => panic!("event type {t}"),
            }
        }
        assert!(open.is_empty());
    }
    selfs.retain(|_, w| *w != 0);
    let r = report(name);
    assert_eq!(r["source_format"], "speedscope");
    assert_eq!(r["sample_type"]["name"], "time");
    assert!(
        r["warnings"].as_array().unwrap().is_empty(),
        "{}",
        r["warnings"]
    );
    assert_eq!(
        r["total"].as_i64(),
        Some(total),
        "total = time with a frame open"
    );
    assert_eq!(report_selfs(&r), selfs, "self time per (function, file)");
    // Independent of the speedscope file: pyinstrument's own JSON tree of the same session
    // gives the root frame's time (printed with 6 decimals: within a microsecond).
    let tree = read_json("py-work.pyinstrument.json");
    let root = ns(&tree["root_frame"]["time"]);
    assert!(
        (r["total"].as_i64().unwrap() - root).abs() <= 1_000,
        "stacklens {} ns, pyinstrument's tree {root} ns",
        r["total"]
    );
    // The workload's hot functions are there.
    for f in ["sort_words", "checksum"] {
        assert!(selfs.keys().any(|(n, _)| n == f), "{f} in {selfs:?}");
    }
}
