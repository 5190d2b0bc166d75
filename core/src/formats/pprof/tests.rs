use super::*;
use crate::model::Profile;

fn load(p: &proto::Profile) -> Result<Profile> {
    let bytes = p.encode_to_vec();
    let mut b = ProfileBuilder::new("pprof");
    parse(&bytes, &mut b, &Progress::new())?;
    Ok(b.freeze())
}

/// A profile with string table `strings` (index 0 must be "").
fn profile(strings: &[&str]) -> proto::Profile {
    proto::Profile {
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn vt(ty: i64, unit: i64) -> proto::ValueType {
    proto::ValueType { ty, unit }
}

fn func(id: u64, name: i64) -> proto::Function {
    proto::Function {
        id,
        name,
        ..Default::default()
    }
}

fn line(function_id: u64, line: i64) -> proto::Line {
    proto::Line {
        function_id,
        line,
        column: 0,
    }
}

fn names(p: &Profile, stack: crate::model::StackId) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = stack;
    while let Some(i) = s.get() {
        let f = p.stacks.frame[i.index()];
        out.push(p.func_name(p.frames.func[f.index()]).to_string());
        s = p.stacks.parent[i.index()];
    }
    out.reverse();
    out
}

#[test]
fn inlined_lines_units_labels_and_default_type() {
    // strings: 0 "", 1 samples, 2 count, 3 cpu, 4 milliseconds, 5 main, 6 inner, 7 leaf,
    // 8 stage, 9 parse, 10 bytes, 11 size
    let mut p = profile(&[
        "",
        "samples",
        "count",
        "cpu",
        "milliseconds",
        "main",
        "inner",
        "leaf",
        "stage",
        "parse",
        "bytes",
        "size",
    ]);
    p.sample_type = vec![vt(1, 2), vt(3, 4)];
    p.default_sample_type = 1; // "samples", the first type: not the last, which pprof would pick
    p.function = vec![func(1, 5), func(2, 6), func(3, 7)];
    // Location 10: `inner` inlined into `main` (innermost first); location 11: leaf.
    p.location = vec![
        proto::Location {
            id: 10,
            line: vec![line(2, 7), line(1, 3)],
            ..Default::default()
        },
        proto::Location {
            id: 11,
            line: vec![line(3, 1)],
            ..Default::default()
        },
    ];
    p.sample = vec![
        proto::Sample {
            location_id: vec![11, 10],
            value: vec![2, 20],
            label: vec![
                proto::Label {
                    key: 8,
                    str: 9,
                    ..Default::default()
                },
                proto::Label {
                    key: 11,
                    num: 64,
                    num_unit: 10,
                    ..Default::default()
                },
            ],
        },
        proto::Sample {
            location_id: vec![10],
            value: vec![1, 10],
            label: vec![],
        },
    ];
    let prof = load(&p).unwrap();
    assert_eq!(prof.default_sample_type(), 0);
    assert_eq!(prof.sample_types[1].unit, Unit::Nanoseconds);
    let rows: Vec<(Vec<String>, Option<i64>, Option<i64>)> = (0..prof.samples.len())
        .map(|r| {
            (
                names(&prof, prof.samples.stack[r]),
                prof.samples.weights.get(0, r),
                prof.samples.weights.get(1, r),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                vec!["main".into(), "inner".into(), "leaf".into()],
                Some(2),
                Some(20_000_000)
            ),
            (
                vec!["main".into(), "inner".into()],
                Some(1),
                Some(10_000_000)
            ),
        ]
    );
    // The inlined frame is one level deeper than the function it was inlined into.
    let s = prof.samples.stack[1].index();
    let f = prof.stacks.frame[s].index();
    assert_eq!((prof.frames.inline_depth[f], prof.frames.line[f]), (1, 7));
    // Labels: the first sample has both, the second none.
    let set = prof.samples.label_set[0];
    let mut labels: Vec<(String, String)> = prof
        .labels
        .set(set)
        .iter()
        .map(|&l| (prof.label_key(l).into(), prof.label_value(l)))
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        vec![
            ("size".into(), "64 bytes".into()),
            ("stage".into(), "parse".into())
        ]
    );
    assert_eq!(prof.samples.label_set[1], 0);
}

#[test]
fn without_a_default_the_last_type_is_shown() {
    let mut p = profile(&["", "a", "count", "b"]);
    p.sample_type = vec![vt(1, 2), vt(3, 2)];
    p.sample = vec![proto::Sample {
        location_id: vec![],
        value: vec![1, 0],
        label: vec![],
    }];
    let prof = load(&p).unwrap();
    assert_eq!(prof.default_sample_type(), 1);
}

#[test]
fn dangling_ids_are_warnings_not_errors() {
    let mut p = profile(&["", "samples", "count", "f"]);
    p.sample_type = vec![vt(1, 2)];
    p.function = vec![func(1, 3)];
    p.location = vec![proto::Location {
        id: 1,
        line: vec![line(99, 1), line(1, 2)],
        ..Default::default()
    }];
    p.sample = vec![proto::Sample {
        location_id: vec![1, 42],
        value: vec![5],
        label: vec![proto::Label {
            key: 1000,
            str: 3,
            ..Default::default()
        }],
    }];
    let prof = load(&p).unwrap();
    assert_eq!(
        names(&prof, prof.samples.stack[0]),
        vec!["[unknown location 42]".to_string(), "f".to_string()]
    );
    let w = prof.meta.warnings.join("\n");
    assert!(w.contains("1 stack entries name a location"), "{w}");
    assert!(w.contains("1 location lines name a function"), "{w}");
    assert!(prof.labels.is_empty(), "a label with a bad key is dropped");
}

#[test]
fn a_100k_deep_stack() {
    let mut p = profile(&["", "samples", "count", "f"]);
    p.sample_type = vec![vt(1, 2)];
    p.function = vec![func(1, 3)];
    p.location = (1..=100_000u64)
        .map(|id| proto::Location {
            id,
            line: vec![line(1, id as i64)],
            ..Default::default()
        })
        .collect();
    p.sample = vec![proto::Sample {
        location_id: (1..=100_000u64).collect(),
        value: vec![1],
        label: vec![],
    }];
    let prof = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || load(&p).unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(prof.stacks.len(), 100_000);
}

#[test]
fn garbage_is_a_clear_error() {
    assert!(!sniff(b"main;work 3\n"));
    assert!(!sniff(b"{\"traceEvents\": []}"));
    assert!(!sniff(b""));
    let mut p = profile(&["", "samples", "count"]);
    p.sample_type = vec![vt(1, 2)];
    let bytes = p.encode_to_vec();
    assert!(sniff(&bytes));
    // Cut inside a field: the walk names the offset of the field that no longer fits.
    let cut = &bytes[..bytes.len() - 2];
    let err = parse(cut, &mut ProfileBuilder::new("pprof"), &Progress::new()).unwrap_err();
    assert!(err.offset().is_some(), "{err}");
    assert!(err.to_string().contains("bytes that remain"), "{err}");
    // Every truncation: no panic.
    for n in 0..bytes.len() {
        let _ = parse(
            &bytes[..n],
            &mut ProfileBuilder::new("pprof"),
            &Progress::new(),
        );
    }
}

#[test]
fn times_are_shown_as_utc_dates() {
    assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
    // `date -u -d @1795535081` → Tue Nov 24 15:44:41 UTC 2026
    assert_eq!(
        utc_time(1_795_535_081_014_114_091),
        "2026-11-24 15:44:41 UTC"
    );
    assert_eq!(utc_time(951_782_400_000_000_000), "2000-02-29 00:00:00 UTC");
}

#[test]
fn inlined_lines_named_many_times_do_not_expand_without_bound() {
    // 14 kB: one location of 2 000 lines, named 2 000 times by one sample, expanded to 4·10^6
    // stack nodes (and 10^8 from 56 kB). Stacks are cut at the budget, with a warning.
    let mut p = profile(&["", "cpu", "nanoseconds", "f"]);
    p.sample_type = vec![vt(1, 2)];
    p.function = vec![func(1, 3)];
    p.location = vec![proto::Location {
        id: 1,
        line: vec![line(1, 7); 2_000],
        ..Default::default()
    }];
    p.sample = vec![
        proto::Sample {
            location_id: vec![1; 2_000],
            value: vec![5],
            label: vec![],
        };
        3
    ];
    let bytes = p.encode_to_vec();
    let mut b = ProfileBuilder::new("pprof");
    parse(&bytes, &mut b, &Progress::new()).unwrap();
    let warnings = &b.meta.warnings;
    assert!(
        warnings.iter().any(|w| w.contains("cut short")),
        "{warnings:?}"
    );
    let prof = b.freeze();
    assert!(prof.stacks.len() as u64 <= frame_budget(bytes.len()));
    assert_eq!(prof.samples.len(), 3);
}
