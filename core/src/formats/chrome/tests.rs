use super::*;
use crate::analysis::{CallNodeTable, Selection, top_functions};
use crate::model::Profile;
use std::collections::BTreeMap;
use std::fmt::Write;

fn cpu(text: &str) -> Result<Profile> {
    let mut b = ProfileBuilder::new(FORMAT_CPU);
    parse_cpuprofile(text.as_bytes(), &mut b, &Progress::new())?;
    Ok(b.freeze())
}

fn trace(text: &str) -> Result<Profile> {
    let mut b = ProfileBuilder::new(trace::FORMAT);
    parse_trace(text.as_bytes(), &mut b, &Progress::new())?;
    Ok(b.freeze())
}

fn ty(p: &Profile, name: &str) -> usize {
    p.sample_type_index(name)
        .unwrap_or_else(|| panic!("no sample type {name}"))
}

/// Weight per stack, stacks written root first as `a;b;c`.
fn folded(p: &Profile, sample_type: &str) -> BTreeMap<String, i64> {
    let t = ty(p, sample_type);
    let mut out = BTreeMap::new();
    for r in 0..p.samples.len() {
        let w = p.samples.weights.get(t, r).unwrap_or(0);
        if w == 0 {
            continue;
        }
        let mut names = Vec::new();
        let mut s = p.samples.stack[r];
        while let Some(id) = s.get() {
            let f = p.stacks.frame[id.index()];
            names.push(p.func_name(p.frames.func[f.index()]).to_string());
            s = p.stacks.parent[id.index()];
        }
        names.reverse();
        *out.entry(names.join(";")).or_insert(0) += w;
    }
    out
}

/// (total, self weight per function name) of a sample type.
fn selfs(p: &Profile, sample_type: &str) -> (i64, BTreeMap<String, i64>) {
    let n = CallNodeTable::build(p);
    let t = n.tree(p, &Selection::all(ty(p, sample_type)));
    let mut m = BTreeMap::new();
    for s in top_functions(p, &n, &t) {
        *m.entry(p.func_name(s.func).to_string()).or_insert(0) += s.self_weight;
    }
    (t.total, m)
}

fn has_warning(p: &Profile, needle: &str) -> bool {
    p.meta.warnings.iter().any(|w| w.contains(needle))
}

fn node(id: i64, name: &str, url: &str, line: i64, children: &[i64]) -> String {
    let c: Vec<String> = children.iter().map(|c| c.to_string()).collect();
    format!(
        r#"{{"id":{id},"callFrame":{{"functionName":"{name}","scriptId":"1","url":"{url}","lineNumber":{line},"columnNumber":0}},"hitCount":0,"children":[{}]}}"#,
        c.join(",")
    )
}

/// A profile in the `node --cpu-prof` shape, with sparse, unordered ids.
fn small_profile() -> String {
    let nodes = [
        node(100, "(root)", "", -1, &[7, 3, 50]),
        node(7, "(program)", "", -1, &[]),
        node(3, "main", "file:///w.js", 9, &[42, 9]),
        node(42, "", "file:///w.js", 20, &[]),
        node(9, "leaf", "file:///w.js", 30, &[]),
        node(50, "(garbage collector)", "", -1, &[]),
    ];
    format!(
        r#"{{"nodes":[{}],"startTime":1000,"endTime":1100,"samples":[9,9,42,7,3,50,9],"timeDeltas":[10,10,10,10,10,10,10]}}"#,
        nodes.join(",")
    )
}

#[test]
fn cpuprofile_counts_and_stacks() {
    let p = cpu(&small_profile()).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.sample_types[p.default_sample_type()].name, "samples");
    let f = folded(&p, "samples");
    let want: BTreeMap<String, i64> = [
        ("main;leaf", 3),
        ("main;(anonymous)", 1),
        ("(program)", 1),
        ("main", 1),
        ("(garbage collector)", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(f, want, "(root) is dropped, the other pseudo-nodes kept");
    // Times: 1010, 1020, ..., 1070 µs. Each sample weighs the time to the next one (10 µs),
    // the last one the mean interval (60 µs / 6).
    let (total, by) = selfs(&p, "cpu time");
    assert_eq!(total, 7 * 10_000);
    assert_eq!(by["leaf"], 30_000);
    assert_eq!(p.samples.time_ns[0], 1_010_000);
    assert_eq!(p.meta.start_ns, Some(1_000_000));
    assert_eq!(p.meta.end_ns, Some(1_100_000));
    let leaf = (0..p.funcs.len())
        .find(|&i| p.str(p.funcs.name[i]) == "leaf")
        .unwrap();
    assert_eq!(p.str(p.funcs.file[leaf]), "file:///w.js");
    assert_eq!(p.funcs.start_line[leaf], 31, "lineNumber is 0-based");
    assert_eq!(p.funcs.kind[leaf], FuncKind::Interpreted);
    assert_eq!(p.str(p.threads.name[0]), "main");
}

use crate::model::FuncKind;

#[test]
fn cpuprofile_out_of_order_times_and_title() {
    // A negative delta: the samples are put in time order before weighing them.
    let text = format!(
        r#"{{"title":"worker","nodes":[{},{},{}],"startTime":0,"endTime":100,"samples":[2,3,2],"timeDeltas":[10,30,-20]}}"#,
        node(1, "(root)", "", -1, &[2, 3]),
        node(2, "a", "", 0, &[]),
        node(3, "b", "", 0, &[]),
    );
    let p = cpu(&text).unwrap();
    // times: a@10, b@40, a@20 → a@10 → a@20 (10), a@20 → b@40 (20), b last: 30/2 = 15.
    let (total, by) = selfs(&p, "cpu time");
    assert_eq!((by["a"], by["b"], total), (30_000, 15_000, 45_000));
    assert_eq!(p.str(p.threads.name[0]), "worker");
}

#[test]
fn cpuprofile_with_parent_links_and_no_deltas() {
    let text = r#"{"nodes":[
        {"id":5,"callFrame":{"functionName":"f","url":"u"},"parent":1},
        {"id":1,"callFrame":{"functionName":"(root)","url":""}},
        {"id":6,"callFrame":{"functionName":"g","url":"u"},"parent":5}],
        "startTime":0,"endTime":40,"samples":[6,6,5,1]}"#;
    let p = cpu(text).unwrap();
    let f = folded(&p, "samples");
    assert_eq!(f["f;g"], 2);
    assert_eq!(f["f"], 1);
    assert_eq!(
        f["(root)"], 1,
        "a sample of the root itself keeps a (root) frame"
    );
    assert!(has_warning(&p, "no `timeDeltas`"));
    // Spread evenly: 0, 10, 20, 30 µs; weights 10 µs each (the last: the mean).
    assert_eq!(selfs(&p, "cpu time").0, 40_000);
}

#[test]
fn cpuprofile_hit_counts_without_samples() {
    let text = r#"{"nodes":[{"id":1,"callFrame":{"functionName":"(root)"},"children":[2]},
        {"id":2,"callFrame":{"functionName":"f"},"hitCount":3}],"startTime":0,"endTime":30}"#;
    let p = cpu(text).unwrap();
    let (total, by) = selfs(&p, "samples");
    assert_eq!((total, by["f"]), (3, 3));
    assert_eq!(selfs(&p, "cpu time").0, 30_000);
    assert!(has_warning(&p, "hitCount"));
}

#[test]
fn cpuprofile_malformed_links() {
    // 2 ↔ 3 form a cycle, 4 names an unknown child and has two parents (1 and 2), a sample
    // names an unknown node, an id is repeated, a node has no id.
    let text = r#"{"nodes":[
        {"id":1,"callFrame":{"functionName":"(root)"},"children":[4,99]},
        {"id":2,"callFrame":{"functionName":"a"},"children":[3,4]},
        {"id":3,"callFrame":{"functionName":"b"},"children":[2]},
        {"id":4,"callFrame":{"functionName":"c"},"parent":77},
        {"id":4,"callFrame":{"functionName":"dup"}},
        {"callFrame":{"functionName":"noid"}},
        "not a node"],
        "startTime":0,"samples":[3,2,4,12345,"x"],"timeDeltas":[1,1,"bad",1]}"#;
    let p = cpu(text).unwrap();
    let (total, by) = selfs(&p, "samples");
    assert_eq!(total, 5, "every sample counts, even unknown ones");
    assert_eq!(by["(unknown node)"], 2);
    assert_eq!(by["c"], 1);
    assert!(!by.contains_key("dup"));
    for w in [
        "cycle",
        "second parent",
        "`children` entries named no node",
        "repeated an id",
        "without an integer `id`",
        "named no node; they count",
        "not numbers",
        "different lengths",
    ] {
        assert!(
            has_warning(&p, w),
            "no warning {w:?} in {:#?}",
            p.meta.warnings
        );
    }
    let f = folded(&p, "samples");
    assert_eq!(f["c"], 1, "c keeps its first parent, the dropped (root)");
}

#[test]
fn cpuprofile_bad_input_is_an_error_with_an_offset() {
    let e = cpu(r#"{"nodes":[{"id":1,"callFrame":{}}], "samples":[1,2"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
    let e = cpu(r#"{"nodes": 5, "samples": []}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`nodes`"), "{e}");
    let e = cpu(r#"{"nodes":[{"id":1}] "samples":[1]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("byte offset 20"), "{e}");
    let e = cpu(r#"[1,2]"#).unwrap_err().to_string();
    assert!(e.contains("JSON object"), "{e}");
    let e = cpu(r#"{"nodes":[{"id":1,"callFrame":{"functionName":"(root)"}}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no samples"), "{e}");
}

#[test]
fn cpuprofile_100k_deep_chain() {
    // Ids descending, links by `children`, the only sample at the deepest node.
    const N: i64 = 100_000;
    let mut text = String::from(r#"{"nodes":["#);
    for i in 0..N {
        let id = N - i;
        let child = if i + 1 < N {
            format!("[{}]", id - 1)
        } else {
            "[]".into()
        };
        write!(
            text,
            r#"{{"id":{id},"callFrame":{{"functionName":"f{i}","url":"d.js"}},"children":{child}}},"#
        )
        .unwrap();
    }
    text.pop();
    text.push_str(r#"],"startTime":0,"samples":[1,1],"timeDeltas":[5,5]}"#);
    let p = cpu(&text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.stacks.len(), N as usize);
    let (total, by) = selfs(&p, "samples");
    assert_eq!((total, by[&format!("f{}", N - 1)]), (2, 2));
}

#[test]
fn sniffing() {
    let cpuprofile = small_profile();
    assert!(sniff_cpuprofile(cpuprofile.as_bytes()));
    assert!(!sniff_trace(cpuprofile.as_bytes()));
    assert!(sniff_cpuprofile(
        b"\xEF\xBB\xBF {\"nodes\": [{\"id\": 1, \"callFrame\": {}}"
    ));
    let arr = br#"[{"name":"a","ph":"X","ts":1,"dur":2,"pid":1,"tid":1}"#;
    assert!(sniff_trace(arr), "a truncated array");
    assert!(!sniff_cpuprofile(arr));
    let obj = br#"{"metadata":{"a":1},"traceEvents":[]}"#;
    assert!(sniff_trace(obj));
    assert!(!sniff_cpuprofile(obj));
    let chunk = br#"{"traceEvents":[{"ph":"P","name":"ProfileChunk","args":{"data":{"cpuProfile":{"nodes":[{"callFrame":{}}]}}}}]}"#;
    assert!(sniff_trace(chunk) && !sniff_cpuprofile(chunk));
    for other in [
        &b"[1,2,3]"[..],
        b"[]",
        b"{\"shared\":{\"frames\":[]},\"profiles\":[]}",
        b"main;a 1\n",
        b"",
        b"{",
    ] {
        assert!(!sniff_trace(other) && !sniff_cpuprofile(other), "{other:?}");
    }
}

/// A trace event line.
fn ev(ph: &str, name: &str, tid: i64, ts: f64) -> String {
    format!(r#"{{"ph":"{ph}","name":"{name}","pid":1,"tid":{tid},"ts":{ts}}}"#)
}

fn x(name: &str, tid: i64, ts: f64, dur: f64) -> String {
    format!(r#"{{"ph":"X","name":"{name}","pid":1,"tid":{tid},"ts":{ts},"dur":{dur}}}"#)
}

#[test]
fn trace_spans_nest_and_give_self_time() {
    let events = [
        r#"{"ph":"M","name":"thread_name","pid":1,"tid":7,"args":{"name":"render"}}"#.into(),
        r#"{"ph":"M","name":"process_name","pid":1,"args":{"name":"app"}}"#.into(),
        ev("B", "frame", 7, 100.0),
        x("layout", 7, 110.0, 30.0),
        ev("B", "paint", 7, 150.0),
        x("raster", 7, 160.5, 10.0),
        ev("E", "", 7, 190.0),
        ev("E", "", 7, 200.0),
        // Another thread, and an X with the same start as its child (longest first).
        x("idle", 8, 0.0, 50.0),
        x("tick", 8, 0.0, 20.0),
        r#"{"ph":"C","name":"mem","pid":1,"tid":7,"ts":120,"args":{"v":1}}"#.into(),
        r#"{"ph":"i","name":"mark","pid":1,"tid":7,"ts":120,"s":"t"}"#.into(),
        r#"{"ph":"C","name":"mem","pid":1,"tid":7,"ts":130,"args":{"v":2}}"#.into(),
    ];
    let p = trace(&format!("[{}]", events.join(",\n"))).unwrap();
    assert_eq!(p.sample_types.len(), 1);
    let f = folded(&p, "wall time");
    let want: BTreeMap<String, i64> = [
        ("frame", 100_000 - 30_000 - 40_000),
        ("frame;layout", 30_000),
        ("frame;paint", 40_000 - 10_000),
        ("frame;paint;raster", 10_000),
        ("idle", 30_000),
        ("idle;tick", 20_000),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(f, want);
    assert_eq!(selfs(&p, "wall time").0, 100_000 + 50_000);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(has_warning(&p, "skipped 3 event(s)"));
    assert!(has_warning(&p, "2 × `C` (counter), 1 × `i` (instant)"));
    // Spans: per thread, with depths.
    let spans: Vec<(String, u16, u64, u64)> = (0..p.spans.len())
        .filter(|&i| p.threads.tid[p.spans.thread[i].index()] == 7)
        .map(|i| {
            (
                p.str(p.spans.name[i]).to_string(),
                p.spans.depth[i],
                p.spans.start_ns[i],
                p.spans.end_ns[i],
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            ("frame".into(), 0, 100_000, 200_000),
            ("layout".into(), 1, 110_000, 140_000),
            ("paint".into(), 1, 150_000, 190_000),
            ("raster".into(), 2, 160_500, 170_500),
        ]
    );
    let t7 = (0..p.threads.len())
        .find(|&i| p.threads.tid[i] == 7)
        .unwrap();
    assert_eq!(p.str(p.threads.name[t7]), "render");
    assert_eq!(p.str(p.threads.process_name[t7]), "app");
    assert_eq!((p.meta.start_ns, p.meta.end_ns), (Some(0), Some(200_000)));
}

#[test]
fn trace_unmatched_unclosed_and_overlapping_spans() {
    let events = [
        ev("E", "", 1, 5.0),
        ev("B", "outer", 1, 10.0),
        x("overlap", 1, 15.0, 100.0),
        ev("E", "", 1, 20.0),
        ev("B", "open", 1, 30.0),
        x("last", 2, 40.0, 10.0),
    ];
    let p = trace(&format!("[{}]", events.join(","))).unwrap();
    let f = folded(&p, "wall time");
    // "overlap" is cut at the end of "outer"; "open" ends at the trace's last time (115, the
    // end "overlap" was written with).
    assert_eq!(f["outer;overlap"], 5_000);
    assert_eq!(f["outer"], 5_000);
    assert_eq!(f["open"], 85_000);
    for w in [
        "1 `E` event(s) had no open `B`",
        "1 `B` event(s) were never closed",
        "1 span(s) ended after",
    ] {
        assert!(
            has_warning(&p, w),
            "no warning {w:?} in {:#?}",
            p.meta.warnings
        );
    }
}

#[test]
fn trace_truncated_arrays_keep_what_was_read() {
    let a = x("a", 1, 0.0, 10.0);
    let b = x("b", 1, 20.0, 5.0);
    for (text, dropped) in [
        (format!("[{a},\n{b}"), false),
        (format!("[{a},\n{b},\n"), false),
        (format!("[{a},\n{b},\n{}", &a[..20]), true),
        (format!(r#"{{"traceEvents":[{a},{b},"#), false),
    ] {
        let p = trace(&text).unwrap();
        assert_eq!(selfs(&p, "wall time").0, 15_000, "{text}");
        assert!(has_warning(&p, "without its closing bracket"), "{text}");
        assert_eq!(
            has_warning(&p, "incomplete last one was dropped"),
            dropped,
            "{text}"
        );
    }
    // A complete file has no warning; a trailing comma before `]` is tolerated.
    let p = trace(&format!("[{a},{b},]")).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
}

#[test]
fn trace_object_form_and_odd_fields() {
    let text = r#"{"displayTimeUnit":"ns","traceEvents":[
        {"ph":"X","name":"a","pid":"renderer","tid":"main","ts":1,"dur":2},
        {"ph":"X","name":"b","pid":1,"tid":1,"ts":"soon","dur":2},
        {"ph":"X","name":"c","pid":1,"tid":1,"ts":1},
        {"name":"d","pid":1,"tid":1,"ts":1},
        {"ph":"X","name":"e","ph":"X"},
        17,
        {"ph":"X","pid":1,"tid":1,"ts":1,"dur":-1}
      ],"stackFrames":{"1":{"name":"f"}},"samples":[{"sf":1}],"metadata":{}}"#;
    let p = trace(text).unwrap();
    let (total, by) = selfs(&p, "wall time");
    assert_eq!((total, by["a"]), (2_000, 2_000));
    assert!(
        has_warning(&p, "6 event(s) could not be used"),
        "{:#?}",
        p.meta.warnings
    );
    assert!(has_warning(&p, "`stackFrames` section"));
    assert!(has_warning(&p, "`samples` section"));
    assert_eq!(
        p.str(p.threads.name[0]),
        "main",
        "a string tid names the thread"
    );
    assert_eq!(p.str(p.threads.process_name[0]), "renderer");
}

#[test]
fn trace_errors() {
    let e = trace(r#"[{"ph":"X","name":"a","ts":1,"dur":1}, {"ph": x}]"#)
        .unwrap_err()
        .to_string();
    // serde_json places some errors on the byte before the culprit.
    assert!(
        e.contains("byte offset 46") || e.contains("byte offset 47"),
        "{e}"
    );
    let e = trace(r#"[{"ph":"X","ts":1,"dur":1e400}]"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of range"), "{e}");
    let e = trace(r#"[{"ph":"X","name":"a","ts":1,"dur":1} {"ph":"X"}]"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`,` or `]`"), "{e}");
    let e = trace(r#"{"events":[]}"#).unwrap_err().to_string();
    assert!(e.contains("traceEvents"), "{e}");
    let e = trace(r#"[{"ph":"C","name":"c","ts":1},{"ph":"i","ts":2}]"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("none of the 2 events") && e.contains("`C` (counter)"),
        "{e}"
    );
}

#[test]
fn trace_100k_deep_nesting() {
    const N: usize = 100_000;
    let mut text = String::from("[");
    for i in 0..N {
        write!(
            text,
            r#"{{"ph":"B","name":"f{i}","pid":1,"tid":1,"ts":{i}}},"#
        )
        .unwrap();
    }
    for i in 0..N {
        write!(text, r#"{{"ph":"E","pid":1,"tid":1,"ts":{}}},"#, N + 1 + i).unwrap();
    }
    text.pop();
    text.push(']');
    let p = trace(&text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.stacks.len(), N);
    let (total, by) = selfs(&p, "wall time");
    assert_eq!(total, 2 * N as i64 * 1000);
    // f(i) spans [i, 2N - i] µs: 2 µs of its own.
    assert!(by.values().all(|&w| w == 2_000));
    assert_eq!(p.spans.len(), N);
    assert_eq!(
        *p.spans.depth.iter().max().unwrap(),
        u16::MAX,
        "depth saturates"
    );
}

/// A `ProfileChunk` event.
fn chunk(id: &str, tid: i64, ts: f64, nodes: &str, samples: &str, deltas: &str) -> String {
    format!(
        r#"{{"ph":"P","name":"ProfileChunk","id":"{id}","pid":1,"tid":{tid},"ts":{ts},"args":{{"data":{{"cpuProfile":{{"nodes":[{nodes}],"samples":[{samples}]}},"timeDeltas":[{deltas}]}}}}}}"#
    )
}

#[test]
fn trace_cpu_profile_chunks() {
    let root = r#"{"callFrame":{"functionName":"(root)","scriptId":0,"codeType":"other"},"id":1}"#;
    let main = r#"{"callFrame":{"functionName":"main","url":"a.js","scriptId":3,"lineNumber":4},"id":2,"parent":1}"#;
    let leaf =
        r#"{"callFrame":{"functionName":"leaf","url":"a.js","scriptId":3},"id":3,"parent":2}"#;
    let events = [
        r#"{"ph":"M","name":"thread_name","pid":1,"tid":5,"args":{"name":"main-thread"}}"#.to_string(),
        // Written out of order: the second chunk first.
        chunk("0x1", 9, 2000.0, leaf, "3,3", "10,10"),
        r#"{"ph":"P","name":"Profile","id":"0x1","pid":1,"tid":5,"ts":1000,"args":{"data":{"startTime":999}}}"#.into(),
        chunk("0x1", 9, 1500.0, &format!("{root},{main}"), "2,2", "5,5"),
        // A smaller profile of the same thread: left out.
        r#"{"ph":"P","name":"Profile","id":"0x2","pid":1,"tid":5,"ts":1000,"args":{"data":{"startTime":1000}}}"#.into(),
        chunk("0x2", 9, 1500.0, &format!("{root},{main}"), "2", "5"),
        x("gc", 5, 1000.0, 3.0),
    ];
    let p = trace(&format!(r#"{{"traceEvents":[{}]}}"#, events.join(","))).unwrap();
    assert_eq!(p.sample_types[p.default_sample_type()].name, "samples");
    let f = folded(&p, "samples");
    assert_eq!(f["main"], 2);
    assert_eq!(f["main;leaf"], 2);
    assert_eq!(f.len(), 2, "{f:?}");
    // Times from the Profile event's ts: 1005, 1010, 1020, 1030 µs.
    let t = ty(&p, "samples");
    let times: Vec<u64> = (0..p.samples.len())
        .filter(|&r| p.samples.weights.get(t, r).unwrap_or(0) != 0)
        .map(|r| p.samples.time_ns[r])
        .collect();
    assert_eq!(times, vec![1_005_000, 1_010_000, 1_020_000, 1_030_000]);
    let (cpu_total, by) = selfs(&p, "cpu time");
    assert_eq!(
        (by["main"], by["leaf"]),
        (5_000 + 10_000, 10_000 + 25_000 / 3)
    );
    assert_eq!(cpu_total, 25_000 + 25_000 / 3);
    assert_eq!(selfs(&p, "wall time").0, 3_000);
    assert!(has_warning(
        &p,
        "CPU profile 0x2 (pid 1): another CPU profile"
    ));
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    let t5 = (0..p.threads.len())
        .find(|&i| p.threads.tid[i] == 5)
        .unwrap();
    assert_eq!(p.str(p.threads.name[t5]), "main-thread");
    assert_eq!(p.threads.len(), 1, "chunks' writer thread gets no samples");
}

#[test]
fn trace_whole_cpu_profile_event() {
    let text = format!(
        r#"[{{"ph":"I","name":"CpuProfile","pid":2,"tid":3,"ts":50,"args":{{"data":{{"cpuProfile":{{"nodes":[{},{}],"startTime":40,"endTime":80,"samples":[2,2,2],"timeDeltas":[10,10,10]}}}}}}}}]"#,
        node(1, "(root)", "", -1, &[2]),
        node(2, "work", "w.js", 0, &[]),
    );
    let p = trace(&text).unwrap();
    let (total, by) = selfs(&p, "samples");
    assert_eq!((total, by["work"]), (3, 3));
    assert_eq!(p.samples.time_ns[0], 50_000);
}

#[test]
fn absurd_numbers_do_not_overflow() {
    let text = format!(
        r#"{{"nodes":[{},{}],"startTime":-1e300,"endTime":1e300,"samples":[2,2,2],"timeDeltas":[1e300,-1e300,1e300]}}"#,
        node(1, "(root)", "", -1, &[2]),
        node(2, "f", "", 1e12 as i64, &[]),
    );
    let p = cpu(&text).unwrap();
    assert_eq!(selfs(&p, "samples").0, 3);
    let text = text.replace(r#","timeDeltas":[1e300,-1e300,1e300]"#, "");
    assert_eq!(selfs(&cpu(&text).unwrap(), "samples").0, 3);
    let text = r#"{"nodes":[{"id":1,"callFrame":{},"hitCount":1e300}],"startTime":-1e300,"endTime":1e300}"#;
    assert!(cpu(text).is_ok());
    let events = [
        ev("B", "a", 1, -1e300),
        x("b", 1, 1e300, 1e300),
        x("c", 1, -1e300, 1e300),
        ev("E", "", 1, 1e300),
        ev("B", "d", 2, 1e300),
    ];
    let p = trace(&format!("[{}]", events.join(","))).unwrap();
    assert!(selfs(&p, "wall time").0 > 0);
}
