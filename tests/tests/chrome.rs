//! `stacklens report` on the Chrome/V8 samples made by sample-profiles/record-chrome.sh,
//! against figures computed here from the same files with serde_json (the formats carry their
//! own reference: node ids per sample, time deltas, span timestamps).

use serde_json::Value;
use stacklens_tests::*;
use std::collections::{BTreeMap, HashMap};

/// `stacklens report sample-profiles/NAME --format json [--event EVENT]`.
fn report(name: &str, event: Option<&str>) -> Value {
    let file = sample(name);
    let mut args = vec!["report", file.to_str().unwrap(), "--format", "json"];
    if let Some(e) = event {
        args.extend(["--event", e]);
    }
    stacklens_json(&args)
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(sample(name)).unwrap()).unwrap()
}

/// Weight per (function, file).
type ByFunction = BTreeMap<(String, String), i64>;

/// Self weight per (function, file) of a report.
fn report_selfs(r: &Value) -> ByFunction {
    let mut m = BTreeMap::new();
    for f in r["functions"].as_array().unwrap() {
        let key = (
            f["name"].as_str().unwrap().to_string(),
            f["file"].as_str().unwrap_or("").to_string(),
        );
        *m.entry(key).or_insert(0) += f["self"].as_i64().unwrap();
    }
    m.retain(|_, w| *w != 0);
    m
}

/// The (function, url) of each node id, `(anonymous)` for an empty name.
fn node_names(nodes: &[Value]) -> HashMap<i64, (String, String)> {
    nodes
        .iter()
        .map(|n| {
            let cf = &n["callFrame"];
            let name = cf["functionName"].as_str().unwrap_or("");
            let name = if name.is_empty() { "(anonymous)" } else { name };
            let url = cf["url"].as_str().unwrap_or("");
            (
                n["id"].as_i64().unwrap(),
                (name.to_string(), url.to_string()),
            )
        })
        .collect()
}

/// Per (function, url): number of samples, and "cpu time" in ns (each sample weighs the time
/// to the next one in time order, the last one the mean interval, as Chrome DevTools does).
fn expected_selfs(
    names: &HashMap<i64, (String, String)>,
    samples: &[i64],
    times_ns: &[i64],
) -> (ByFunction, ByFunction) {
    let n = samples.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| times_ns[i]);
    let mut cpu = vec![0i64; n];
    for w in order.windows(2) {
        cpu[w[0]] = times_ns[w[1]] - times_ns[w[0]];
    }
    cpu[order[n - 1]] = (times_ns[order[n - 1]] - times_ns[order[0]]) / (n as i64 - 1);
    let mut counts = BTreeMap::new();
    let mut cpu_by = BTreeMap::new();
    for (i, id) in samples.iter().enumerate() {
        let key = names[id].clone();
        *counts.entry(key.clone()).or_insert(0) += 1;
        *cpu_by.entry(key).or_insert(0) += cpu[i];
    }
    cpu_by.retain(|_, w| *w != 0);
    (counts, cpu_by)
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as i64)
        .collect()
}

#[test]
fn cpuprofile_counts_match_the_file() {
    let p = read_json("node-work.cpuprofile");
    let names = node_names(p["nodes"].as_array().unwrap());
    let samples = ints(&p["samples"]);
    let deltas = ints(&p["timeDeltas"]);
    assert_eq!(samples.len(), deltas.len());
    let mut t = p["startTime"].as_i64().unwrap() * 1000;
    let times: Vec<i64> = deltas
        .iter()
        .map(|d| {
            t += d * 1000;
            t
        })
        .collect();
    let (counts, cpu) = expected_selfs(&names, &samples, &times);

    let r = report("node-work.cpuprofile", None);
    assert_eq!(r["source_format"], "Chrome cpuprofile");
    assert_eq!(
        r["sample_type"]["name"], "samples",
        "the default sample type"
    );
    assert_eq!(r["samples"].as_u64(), Some(samples.len() as u64));
    assert_eq!(r["total"].as_i64(), Some(samples.len() as i64));
    assert_eq!(
        r["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        r["warnings"]
    );
    assert_eq!(report_selfs(&r), counts, "self samples per (function, url)");
    // The workload's hot functions are all there, under the script's url.
    for f in ["countWords", "checksum", "fib", "tokenize"] {
        let (_, url) = counts.keys().find(|(n, _)| n == f).unwrap();
        assert!(url.ends_with("src/js/work.js"), "{f}: {url}");
    }

    let r = report("node-work.cpuprofile", Some("cpu time"));
    assert_eq!(r["sample_type"]["unit"], "nanoseconds");
    let want: i64 = cpu.values().sum();
    assert_eq!(r["total"].as_i64(), Some(want));
    let span = times.iter().max().unwrap() - times.iter().min().unwrap();
    assert_eq!(want, span + span / (samples.len() as i64 - 1));
    assert_eq!(report_selfs(&r), cpu, "cpu time per (function, url)");
}

/// Union length of `[start, end)` intervals.
fn covered(mut iv: Vec<(i64, i64)>) -> i64 {
    iv.sort();
    let mut total = 0;
    let mut cur: Option<(i64, i64)> = None;
    for (s, e) in iv {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            _ => {
                if let Some((cs, ce)) = cur {
                    total += ce - cs;
                }
                cur = Some((s, e));
            }
        }
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

#[test]
fn trace_spans_and_profile_match_the_file() {
    let events = read_json("node-trace.json")["traceEvents"]
        .as_array()
        .unwrap()
        .clone();
    let key = |e: &Value| (e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap());

    // Wall time: per thread, the time covered by its B/E pairs and X events (ns; node writes
    // whole microseconds).
    type Events<'a> = Vec<(i64, usize, &'a Value)>;
    let mut by_thread: BTreeMap<(i64, i64), Events> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if matches!(e["ph"].as_str(), Some("B" | "E" | "X")) {
            let ts = e["ts"].as_f64().unwrap() as i64 * 1000;
            by_thread.entry(key(e)).or_default().push((ts, i, e));
        }
    }
    let mut wall = 0;
    for evs in by_thread.values_mut() {
        evs.sort_by_key(|&(ts, i, _)| (ts, i));
        let mut open = Vec::new();
        let mut iv = Vec::new();
        for &(ts, _, e) in evs.iter() {
            match e["ph"].as_str().unwrap() {
                "B" => open.push(ts),
                "E" => iv.push((open.pop().expect("a matched E"), ts)),
                _ => iv.push((ts, ts + e["dur"].as_f64().unwrap() as i64 * 1000)),
            }
        }
        assert!(open.is_empty(), "the sample has no unclosed B");
        wall += covered(iv);
    }
    assert!(wall > 0);
    let r = report("node-trace.json", Some("wall time"));
    assert_eq!(r["source_format"], "Chrome trace");
    assert_eq!(
        r["total"].as_i64(),
        Some(wall),
        "wall time = time covered by spans"
    );
    let names: Vec<&str> = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for span in ["MinorGC", "V8.GCScavenger"] {
        assert!(names.contains(&span), "{span} in {names:?}");
    }

    // CPU profiles: per (pid, id), the thread of its Profile event, its nodes and samples from
    // the ProfileChunks (in ts order); one profile per thread, the one with most samples.
    struct Prof {
        thread: (i64, i64),
        start_us: i64,
        nodes: Vec<Value>,
        chunks: Vec<(i64, Vec<i64>, Vec<i64>)>,
    }
    let mut profs: BTreeMap<(i64, String), Prof> = BTreeMap::new();
    for e in &events {
        let name = e["name"].as_str().unwrap_or("");
        if name != "Profile" && name != "ProfileChunk" {
            continue;
        }
        let id = (
            e["pid"].as_i64().unwrap(),
            e["id"].as_str().unwrap().to_string(),
        );
        let p = profs.entry(id).or_insert(Prof {
            thread: key(e),
            start_us: 0,
            nodes: Vec::new(),
            chunks: Vec::new(),
        });
        let data = &e["args"]["data"];
        if name == "Profile" {
            p.thread = key(e);
            p.start_us = e["ts"].as_i64().unwrap();
        } else if let Some(cp) = data.get("cpuProfile") {
            if let Some(nodes) = cp.get("nodes") {
                p.nodes.extend(nodes.as_array().unwrap().iter().cloned());
            }
            if let Some(samples) = cp.get("samples") {
                p.chunks.push((
                    e["ts"].as_i64().unwrap(),
                    ints(samples),
                    ints(&data["timeDeltas"]),
                ));
            }
        }
    }
    assert!(
        profs.len() >= 2,
        "node writes two profiles (see record-chrome.sh)"
    );
    let mut used: BTreeMap<(i64, i64), Prof> = BTreeMap::new();
    for (_, p) in profs {
        let n = |p: &Prof| p.chunks.iter().map(|c| c.1.len()).sum::<usize>();
        match used.get(&p.thread) {
            Some(q) if n(q) >= n(&p) => {}
            _ => {
                used.insert(p.thread, p);
            }
        }
    }
    let mut all_counts = BTreeMap::new();
    let mut total_samples = 0;
    for p in used.values_mut() {
        p.chunks.sort_by_key(|c| c.0);
        let samples: Vec<i64> = p.chunks.iter().flat_map(|c| c.1.clone()).collect();
        let mut t = p.start_us * 1000;
        let times: Vec<i64> = p
            .chunks
            .iter()
            .flat_map(|c| c.2.clone())
            .map(|d| {
                t += d * 1000;
                t
            })
            .collect();
        let (counts, _) = expected_selfs(&node_names(&p.nodes), &samples, &times);
        for (k, v) in counts {
            *all_counts.entry(k).or_insert(0) += v;
        }
        total_samples += samples.len() as i64;
    }
    let r = report("node-trace.json", None);
    assert_eq!(
        r["sample_type"]["name"], "samples",
        "the default with a CPU profile"
    );
    assert_eq!(r["total"].as_i64(), Some(total_samples));
    assert_eq!(
        report_selfs(&r),
        all_counts,
        "self samples per (function, url)"
    );
    let threads = r["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["name"], "JavaScriptMainThread");
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("another CPU profile of the same thread")
    );
}

#[test]
fn a_cut_trace_still_loads() {
    // The sample cut in the middle of its event array, as a crashed or killed writer leaves it.
    let data = std::fs::read(sample("node-trace.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &data[..data.len() * 2 / 3]).unwrap();
    let r = stacklens_json(&["report", cut.to_str().unwrap(), "--format", "json"]);
    assert!(r["total"].as_i64().unwrap() > 0);
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("without its closing bracket"),
        "{warnings}"
    );
}
