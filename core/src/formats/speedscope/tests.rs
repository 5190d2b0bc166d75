use super::*;
use crate::analysis::{CallNodeTable, Selection, top_functions};
use crate::model::Profile;

/// main (w.py), a (w.py, lines 5 and 6: one function), b (w.py).
const FRAMES: &str = r#""shared": {"frames": [
    {"name": "main", "file": "w.py", "line": 1},
    {"name": "a", "file": "w.py", "line": 5},
    {"name": "b", "file": "w.py", "line": 9, "col": 3},
    {"name": "a", "file": "w.py", "line": 6}]}"#;

fn doc(profiles: &str) -> String {
    format!(
        r#"{{"$schema": "https://www.speedscope.app/file-format-schema.json",
{FRAMES},
"profiles": [{profiles}]}}"#
    )
}

fn load(json: &str) -> Result<Profile> {
    let mut b = ProfileBuilder::new(FORMAT);
    parse(json.as_bytes(), &mut b, &Progress::new())?;
    Ok(b.freeze())
}

fn sampled(name: &str, unit: &str, samples: &str, weights: &str) -> String {
    format!(
        r#"{{"type": "sampled", "name": "{name}", "unit": "{unit}", "startValue": 0,
            "endValue": 100, "samples": {samples}, "weights": {weights}}}"#
    )
}

fn evented(unit: &str, end: f64, events: &[(char, f64, i64)]) -> String {
    let events: Vec<String> = events
        .iter()
        .map(|(t, at, f)| format!(r#"{{"type": "{t}", "at": {at}, "frame": {f}}}"#))
        .collect();
    format!(
        r#"{{"type": "evented", "name": "ev", "unit": "{unit}", "startValue": 0,
            "endValue": {end}, "events": [{}]}}"#,
        events.join(",")
    )
}

/// Total, and self weight per function name, of sample type `ty`.
fn weights(p: &Profile, ty: usize) -> (i64, Vec<(String, i64)>) {
    let n = CallNodeTable::build(p);
    let t = n.tree(p, &Selection::all(ty));
    let mut selfs: Vec<(String, i64)> = top_functions(p, &n, &t)
        .iter()
        .filter(|s| s.self_weight != 0)
        .map(|s| (p.func_name(s.func).to_string(), s.self_weight))
        .collect();
    selfs.sort();
    (t.total, selfs)
}

fn self_of(p: &Profile, ty: usize, name: &str) -> i64 {
    weights(p, ty)
        .1
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |x| x.1)
}

fn thread_names(p: &Profile) -> Vec<(i32, i32, String)> {
    (0..p.threads.len())
        .map(|i| {
            (
                p.threads.pid[i],
                p.threads.tid[i],
                p.str(p.threads.name[i]).to_string(),
            )
        })
        .collect()
}

fn times(p: &Profile, thread: usize) -> Vec<u64> {
    p.samples.time_ns[p.threads.samples(ThreadId::from_index(thread))].to_vec()
}

#[test]
fn sampled_profiles_weights_times_and_threads() {
    let main = sampled(
        r#"Thread 11 \"MainThread\""#,
        "milliseconds",
        "[[0, 1, 2], [0, 3], [0, 1, 2], []]",
        "[1, 2, 0.5, 1]",
    );
    let worker = sampled("worker", "milliseconds", "[[0, 2]]", "[4]");
    let p = load(&doc(&format!("{main}, {worker}"))).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.sample_types.len(), 1);
    assert_eq!(p.sample_types[0].name, "time");
    assert_eq!(p.sample_types[0].unit, Unit::Nanoseconds);
    let (total, selfs) = weights(&p, 0);
    assert_eq!(total, 8_500_000);
    let want = [("[unknown]", 1_000_000), ("a", 2_000_000), ("b", 5_500_000)];
    let want: Vec<(String, i64)> = want.iter().map(|(n, w)| (n.to_string(), *w)).collect();
    assert_eq!(selfs, want, "a's two lines are one function");
    // Threads: the tid py-spy writes in the name, else the profile's index.
    assert_eq!(
        thread_names(&p),
        [
            (0, 1, "worker".to_string()),
            (0, 11, r#"Thread 11 "MainThread""#.to_string())
        ]
    );
    // Sample i sits at startValue + the weights before it.
    assert_eq!(times(&p, 1), [0, 1_000_000, 3_000_000, 3_500_000]);
    assert_eq!(
        (p.meta.start_ns, p.meta.end_ns),
        (Some(0), Some(100_000_000))
    );
    // Frames keep their lines; the file is the function's.
    let b = (0..p.funcs.len())
        .find(|&f| p.str(p.funcs.name[f]) == "b")
        .unwrap();
    assert_eq!(p.str(p.funcs.file[b]), "w.py");
    let lines: Vec<u32> = (0..p.frames.len())
        .filter(|&f| p.frames.func[f].index() == b)
        .map(|f| p.frames.line[f])
        .collect();
    assert_eq!(lines, [9]);
}

#[test]
fn evented_profile_self_time_and_spans() {
    let ev = evented(
        "microseconds",
        60.0,
        &[
            ('O', 0.0, 0),
            ('O', 10.0, 1),
            ('O', 15.0, 2),
            ('C', 25.0, 2),
            ('C', 30.0, 1),
            ('O', 40.0, 2),
            ('C', 45.0, 2),
            ('C', 50.0, 0),
        ],
    );
    let p = load(&doc(&ev)).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.sample_types[0].name, "time");
    let (total, selfs) = weights(&p, 0);
    assert_eq!(
        total, 50_000,
        "time with no open frame (50..60) is not a sample"
    );
    assert_eq!(
        selfs,
        [
            ("a".to_string(), 10_000),
            ("b".to_string(), 15_000),
            ("main".to_string(), 25_000)
        ]
    );
    // Samples at the start of their interval.
    assert_eq!(times(&p, 0)[..3], [0, 10_000, 15_000]);
    let spans: Vec<(u16, u64, u64, &str)> = (0..p.spans.len())
        .map(|i| {
            (
                p.spans.depth[i],
                p.spans.start_ns[i],
                p.spans.end_ns[i],
                p.str(p.spans.name[i]),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            (0, 0, 50_000, "main"),
            (1, 10_000, 30_000, "a"),
            (2, 15_000, 25_000, "b"),
            (1, 40_000, 45_000, "b"),
        ]
    );
    assert_eq!((p.meta.start_ns, p.meta.end_ns), (Some(0), Some(60_000)));
}

#[test]
fn units_convert_and_profiles_of_one_measure_share_a_type() {
    let one = |unit: &str| sampled("t", unit, "[[0, 2]]", "[2]");
    let profiles = [
        one("nanoseconds"),
        one("microseconds"),
        one("milliseconds"),
        one("seconds"),
        one("bytes"),
        one("none"),
        one("bytes"),
        evented("none", 9.0, &[('O', 1.0, 0), ('C', 4.0, 0)]),
    ];
    let p = load(&doc(&profiles.join(","))).unwrap();
    let types: Vec<(&str, Unit)> = p
        .sample_types
        .iter()
        .map(|t| (t.name.as_str(), t.unit))
        .collect();
    assert_eq!(
        types,
        [
            ("time", Unit::Nanoseconds),
            ("bytes", Unit::Bytes),
            ("samples", Unit::Count),
            ("value", Unit::Count)
        ]
    );
    assert_eq!(weights(&p, 0).0, 2 + 2_000 + 2_000_000 + 2_000_000_000);
    assert_eq!(weights(&p, 1).0, 4);
    assert_eq!(weights(&p, 2).0, 2);
    assert_eq!(weights(&p, 3).0, 3);
    assert_eq!(p.threads.len(), 8, "one thread per profile");
    assert_eq!(p.spans.len(), 0, "no timeline spans outside time units");
    // Samples outside time units sit at 0.
    assert!(times(&p, 4).iter().all(|&t| t == 0));
}

#[test]
fn the_active_profile_picks_the_default_type_and_meta_is_kept() {
    let json = format!(
        r#"{{"$schema": "https://www.speedscope.app/file-format-schema.json", {FRAMES},
        "name": "demo", "exporter": "tool@1.2", "activeProfileIndex": 1,
        "profiles": [{}, {}]}}"#,
        sampled("t", "seconds", "[[0]]", "[1]"),
        sampled("heap", "bytes", "[[0]]", "[64]")
    );
    let p = load(&json).unwrap();
    assert_eq!(p.default_sample_type(), 1);
    assert_eq!(p.sample_types[1].name, "bytes");
    assert_eq!(p.meta.recorder_version.as_deref(), Some("tool@1.2"));
    assert!(p.meta.info.contains(&("name".into(), "demo".into())));
    assert!(
        p.meta
            .info
            .contains(&("active profile".into(), "heap".into()))
    );
}

#[test]
fn bad_frame_indices_keep_their_weight() {
    let s = sampled(
        "t",
        "none",
        "[[0, 99], [0, 1], [0, -1], [0, 1.5], [0, null]]",
        "[1, 1, 1, 1, 1]",
    );
    let p = load(&doc(&s)).unwrap();
    assert_eq!(weights(&p, 0).0, 5);
    assert_eq!(self_of(&p, 0, "[invalid frame]"), 4);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    let w = &p.meta.warnings[0];
    assert!(w.starts_with("4 reference"), "{w}");
    assert!(
        w.contains("profile 0, sample 0: frame index 99, 4 frames"),
        "{w}"
    );
}

#[test]
fn samples_and_weights_of_different_lengths_load_the_common_part() {
    let s = sampled("t", "none", "[[0], [0, 1], [0, 2]]", "[3, 4]");
    let p = load(&doc(&s)).unwrap();
    assert_eq!(weights(&p, 0).0, 7);
    assert_eq!(p.meta.warnings.len(), 1);
    assert!(p.meta.warnings[0].contains("3 samples, 2 weights"));
    let s = sampled("t", "none", "[[0]]", "[3, 4]");
    assert_eq!(weights(&load(&doc(&s)).unwrap(), 0).0, 3);
}

#[test]
fn unusable_weights_skip_their_sample() {
    let s = sampled("t", "seconds", "[[0], [1], [2]]", "[1, null, 1e300]");
    let p = load(&doc(&s)).unwrap();
    assert_eq!(weights(&p, 0).0, 1_000_000_000);
    assert_eq!(p.meta.warnings.len(), 1);
    assert!(p.meta.warnings[0].starts_with("2 sample(s)"));
}

#[test]
fn unknown_profile_types_are_skipped() {
    let odd = r#"{"type": "flame", "name": "x", "unit": "none"}"#;
    let ok = sampled("t", "none", "[[0]]", "[1]");
    let p = load(&doc(&format!("{odd}, {ok}"))).unwrap();
    assert_eq!(weights(&p, 0).0, 1);
    assert_eq!(p.meta.warnings.len(), 1);
    assert!(p.meta.warnings[0].contains("profile 0, \"x\""));
    let e = load(&doc(odd)).unwrap_err().to_string();
    assert!(e.contains("\"sampled\" or \"evented\""), "{e}");
    let e = load(&doc("")).unwrap_err().to_string();
    assert!(e.contains("at least one profile"), "{e}");
}

#[test]
fn unknown_unit_reads_as_none() {
    let s = sampled("t", "furlongs", "[[0]]", "[3]");
    let p = load(&doc(&s)).unwrap();
    assert_eq!(p.sample_types[0].name, "samples");
    assert_eq!(weights(&p, 0).0, 3);
    assert!(p.meta.warnings[0].contains("unit"));
}

#[test]
fn close_without_open_is_ignored() {
    let ev = evented(
        "nanoseconds",
        10.0,
        &[('C', 0.0, 1), ('O', 0.0, 0), ('C', 5.0, 1), ('C', 10.0, 0)],
    );
    let p = load(&doc(&ev)).unwrap();
    assert_eq!(weights(&p, 0).0, 10);
    assert_eq!(self_of(&p, 0, "main"), 10);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(p.meta.warnings[0].starts_with("2 close event(s)"));
    assert!(p.meta.warnings[0].contains("profile 0, event 0: \"a\""));
    assert_eq!(p.spans.len(), 1);
}

#[test]
fn closing_a_frame_below_the_top_closes_the_ones_above() {
    let ev = evented(
        "nanoseconds",
        20.0,
        &[('O', 0.0, 0), ('O', 4.0, 1), ('C', 10.0, 0), ('C', 12.0, 1)],
    );
    let p = load(&doc(&ev)).unwrap();
    assert_eq!((self_of(&p, 0, "main"), self_of(&p, 0, "a")), (4, 6));
    assert_eq!(weights(&p, 0).0, 10);
    assert_eq!(p.spans.len(), 2);
    assert_eq!(p.meta.warnings.len(), 2, "{:?}", p.meta.warnings);
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("\"main\" closed while \"a\" was open"))
    );
    assert!(
        p.meta.warnings.iter().any(|w| w.contains("close event(s)")),
        "the late C a"
    );
}

#[test]
fn frames_left_open_close_at_the_end() {
    let ev = evented("milliseconds", 20.0, &[('O', 0.0, 0), ('O', 5.0, 1)]);
    let p = load(&doc(&ev)).unwrap();
    assert_eq!(
        (self_of(&p, 0, "main"), self_of(&p, 0, "a")),
        (5_000_000, 15_000_000)
    );
    assert_eq!(p.meta.warnings.len(), 1);
    assert!(p.meta.warnings[0].contains("profile 0: 2 frame(s)"));
    let ends: Vec<u64> = p.spans.end_ns.clone();
    assert_eq!(ends, [20_000_000, 20_000_000]);
}

#[test]
fn time_going_back_is_taken_as_the_previous_time() {
    let ev = evented(
        "nanoseconds",
        30.0,
        &[
            ('O', 10.0, 0),
            ('O', 5.0, 1),
            ('C', 20.0, 1),
            ('C', 30.0, 0),
        ],
    );
    let p = load(&doc(&ev)).unwrap();
    assert_eq!((self_of(&p, 0, "main"), self_of(&p, 0, "a")), (10, 10));
    assert!(p.meta.warnings[0].contains("back in time"));
}

#[test]
fn unusable_events_are_skipped() {
    let ev = r#"{"type": "evented", "name": "e", "unit": "nanoseconds", "startValue": 0,
        "endValue": 9, "events": [{"type": "O", "at": 0, "frame": 0},
        {"type": "X", "at": 1, "frame": 0}, {"type": "O", "at": null, "frame": 1},
        {"type": "O", "at": 2, "frame": 7}, {"type": "C", "at": 9, "frame": 0}]}"#;
    let p = load(&doc(ev)).unwrap();
    assert_eq!(weights(&p, 0).1, [("main".to_string(), 9)]);
    assert_eq!(p.meta.warnings.len(), 2, "{:?}", p.meta.warnings);
}

#[test]
fn json_errors_say_where() {
    let e = load("{\"$schema\": \"x\",\n \"profiles\": [ oops ]}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("column"), "{e}");
    let full = doc(&sampled("t", "none", "[[0]]", "[1]"));
    let e = load(&full[..full.len() - 20]).unwrap_err().to_string();
    assert!(e.contains("ends early"), "{e}");
    let e = load(r#"{"$schema": "x", "shared": {"frames": []}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`profiles`"), "{e}");
    let e = load("[1, 2]").unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
    // A frame that is not an object is a JSON error too, not a panic.
    assert!(load(r#"{"shared": {"frames": [3]}, "profiles": []}"#).is_err());
}

#[test]
fn missing_shared_frames_are_invalid_references() {
    let json = format!(
        r#"{{"$schema": "https://www.speedscope.app/file-format-schema.json",
        "profiles": [{}]}}"#,
        sampled("t", "none", "[[0]]", "[1]")
    );
    let p = load(&json).unwrap();
    assert_eq!(self_of(&p, 0, "[invalid frame]"), 1);
    assert!(p.meta.warnings[0].contains("0 frames"));
}

#[test]
fn thread_ids_from_profile_names() {
    assert_eq!(
        number_after(r#"Thread 4242 "MainThread""#, "Thread "),
        Some(4242)
    );
    assert_eq!(
        number_after(r#"Process 7 Thread 0x1F "x""#, "Process "),
        Some(7)
    );
    assert_eq!(
        number_after(r#"Process 7 Thread 0x1F "x""#, "Thread "),
        Some(31)
    );
    assert_eq!(number_after("MyThread 5", "Thread "), None);
    assert_eq!(number_after("Thread 0x7F00AABBCCDD", "Thread "), None);
    assert_eq!(number_after("Thread -3", "Thread "), None);
    assert_eq!(number_after("Thread", "Thread "), None);
    // Two profiles naming the same thread stay two threads; a name's tid wins over an index.
    let s = |n: &str| sampled(n, "none", "[[0]]", "[1]");
    let p = load(&doc(&[s("Thread 1"), s("Thread 1"), s("x")].join(","))).unwrap();
    let tids: Vec<i32> = p.threads.tid.clone();
    assert_eq!(tids, [1, 2, 3]);
}

#[test]
fn sniffing() {
    let good = doc(&sampled("t", "none", "[[0]]", "[1]"));
    assert!(sniff(good.as_bytes()));
    let with_bom = format!("\u{feff}  {good}");
    assert!(sniff(with_bom.as_bytes()));
    assert!(load(&with_bom).is_ok());
    // The schema after megabytes of profiles (speedscope's exporter puts it late).
    let big = format!(
        r#"{{"profiles": [{}], "pad": "{}", {FRAMES}, "$schema": "https://www.speedscope.app/file-format-schema.json"}}"#,
        sampled("t", "none", "[[0]]", "[1]"),
        "x".repeat(200_000)
    );
    assert!(sniff(big.as_bytes()));
    assert!(!sniff(br#"{"traceEvents": []}"#));
    assert!(!sniff(
        br#"[{"$schema": "https://www.speedscope.app/file-format-schema.json"}]"#
    ));
    assert!(!sniff(b"main;a 1\n"));
    assert!(!sniff(b""));
    assert!(!sniff(b"   "));
}

#[test]
fn a_cancelled_load_stops() {
    let progress = Progress::new();
    progress.cancel();
    let mut b = ProfileBuilder::new(FORMAT);
    let json = doc(&sampled("t", "none", "[[0]]", "[1]"));
    assert!(matches!(
        parse(json.as_bytes(), &mut b, &progress),
        Err(Error::Cancelled)
    ));
}

#[test]
fn a_100k_frame_sample() {
    let stack: Vec<String> = (0..100_000).map(|i| (i % 3).to_string()).collect();
    let s = sampled(
        "t",
        "none",
        &format!("[[{}], [{}]]", stack.join(","), stack.join(",")),
        "[1, 2]",
    );
    let p = load(&doc(&s)).unwrap();
    assert_eq!(p.stacks.len(), 100_000);
    assert_eq!(weights(&p, 0).0, 3);
}

#[test]
fn a_100k_deep_evented_nest() {
    const N: usize = 100_000;
    let mut events = Vec::with_capacity(2 * N);
    for i in 0..N {
        events.push(('O', i as f64, (i % 3) as i64));
    }
    for i in (0..N).rev() {
        events.push(('C', (2 * N - i) as f64, (i % 3) as i64));
    }
    let p = load(&doc(&evented("nanoseconds", 1e6, &events))).unwrap();
    assert_eq!(p.stacks.len(), N);
    // Every interval between two events has a frame open: the whole span is counted.
    assert_eq!(weights(&p, 0).0, 2 * N as i64);
    // Spans deeper than u16 are dropped, once reported.
    assert_eq!(p.spans.len(), 65_536);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(p.meta.warnings[0].contains("deeper than 65535"));
}

#[test]
fn weights_that_would_overflow_the_total_are_skipped() {
    // Found by fuzzing: each weight is within 2^62, two of them are not within an i64.
    let big = 1u64 << 62;
    let s = sampled(
        "t",
        "none",
        "[[0], [1], [2]]",
        &format!("[{big}, {big}, 5]"),
    );
    let p = load(&doc(&s)).unwrap();
    p.check().unwrap();
    assert_eq!(weights(&p, 0).0, (1 << 62) + 5);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    let w = &p.meta.warnings[0];
    assert!(
        w.starts_with("1 sample(s) whose weight") && w.contains("profile 0, sample 1"),
        "{w}"
    );
    // An evented profile from -2^62 to 2^62: the difference of two valid times overflows.
    let big = big as f64;
    let e = evented("none", big, &[('O', -big, 0), ('C', big, 0)]);
    let p = load(&doc(&e)).unwrap();
    p.check().unwrap();
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("profile 0, event 1")),
        "{:?}",
        p.meta.warnings
    );
}
