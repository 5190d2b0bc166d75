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

/// Protobuf varint of `v` (prost's encoder).
fn put_varint(out: &mut Vec<u8>, v: u64) {
    prost::encoding::encode_varint(v, out);
}

/// A length-delimited field `number` holding `body`.
fn put_bytes(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A sample's function names (root first), weight and labels.
type Row = (Vec<String>, Option<i64>, Vec<(String, String)>);

/// Each sample's row.
fn rows(prof: &Profile) -> Vec<Row> {
    (0..prof.samples.len())
        .map(|r| {
            let labels = prof
                .labels
                .set(prof.samples.label_set[r])
                .iter()
                .map(|&l| (prof.label_key(l).into(), prof.label_value(l)))
                .collect();
            (
                names(prof, prof.samples.stack[r]),
                prof.samples.weights.get(0, r),
                labels,
            )
        })
        .collect()
}

#[test]
fn samples_decoded_by_hand_match_prost_packed_or_not_with_unknown_fields() {
    // strings: 0 "", 1 samples, 2 count, 3 main, 4 mid, 5 a, 6 b, 7 k, 8 v
    let mut p = profile(&["", "samples", "count", "main", "mid", "a", "b", "k", "v"]);
    p.sample_type = vec![vt(1, 2)];
    p.function = (1..=4).map(|i| func(i, i as i64 + 2)).collect();
    p.location = (1..=4)
        .map(|i| proto::Location {
            id: i,
            line: vec![line(i, 1)],
            ..Default::default()
        })
        .collect();
    // Leaf first. Consecutive samples share their outer locations (taken from the previous
    // sample's path). The first three would take a stale entry of that path if it were not
    // cut where they differ; then one is shorter than the one before, two name a missing
    // location 9.
    let stacks: [&[u64]; 9] = [
        &[1],
        &[3, 2],
        &[2, 1],
        &[3, 2, 1],
        &[4, 2, 1],
        &[2, 1],
        &[4, 2, 1],
        &[9, 1],
        &[9, 1],
    ];
    p.sample = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| proto::Sample {
            location_id: s.to_vec(),
            value: vec![i as i64 + 1],
            label: if i == 4 {
                vec![proto::Label {
                    key: 7,
                    str: 8,
                    ..Default::default()
                }]
            } else {
                vec![]
            },
        })
        .collect();
    let by_prost = load(&p).unwrap();

    // The same samples written unpacked, with fields pprof does not define in between.
    let samples = std::mem::take(&mut p.sample);
    let mut bytes = p.encode_to_vec();
    for s in &samples {
        let mut m = Vec::new();
        put_varint(&mut m, 9 << 3); // unknown varint field 9
        put_varint(&mut m, 12345);
        for &l in &s.location_id {
            put_varint(&mut m, 1 << 3);
            put_varint(&mut m, l);
        }
        put_varint(&mut m, 10 << 3 | 1); // unknown fixed64
        m.extend_from_slice(&[0xff; 8]);
        for &v in &s.value {
            put_varint(&mut m, 2 << 3);
            put_varint(&mut m, v as u64);
        }
        put_varint(&mut m, 11 << 3 | 5); // unknown fixed32
        m.extend_from_slice(&[0xee; 4]);
        for l in &s.label {
            let mut lb = Vec::new();
            put_varint(&mut lb, 1 << 3);
            put_varint(&mut lb, l.key as u64);
            put_bytes(&mut lb, 7, b"unknown"); // unknown field inside the label
            put_varint(&mut lb, 2 << 3);
            put_varint(&mut lb, l.str as u64);
            put_bytes(&mut m, 3, &lb);
        }
        put_bytes(&mut bytes, 2, &m);
    }
    let mut b = ProfileBuilder::new("pprof");
    parse(&bytes, &mut b, &Progress::new()).unwrap();
    let by_hand = b.freeze();

    assert_eq!(rows(&by_hand), rows(&by_prost));
    let mut r: Vec<(String, i64, usize)> = rows(&by_hand)
        .into_iter()
        .map(|(names, w, labels)| (names.join(";"), w.unwrap(), labels.len()))
        .collect();
    r.sort();
    assert_eq!(
        r,
        [
            ("main".to_string(), 1, 0),
            ("main;[unknown location 9]".to_string(), 8, 0),
            ("main;[unknown location 9]".to_string(), 9, 0),
            ("main;mid".to_string(), 3, 0),
            ("main;mid".to_string(), 6, 0),
            ("main;mid;a".to_string(), 4, 0),
            ("main;mid;b".to_string(), 5, 1),
            ("main;mid;b".to_string(), 7, 0),
            ("mid;a".to_string(), 2, 0),
        ]
    );
    let w = by_hand.meta.warnings.join("\n");
    assert!(w.contains("2 stack entries name a location"), "{w}");
    assert_eq!(by_hand.meta.warnings, by_prost.meta.warnings);
}

#[test]
fn a_damaged_sample_is_an_error_at_its_offset() {
    let mut p = profile(&["", "samples", "count"]);
    p.sample_type = vec![vt(1, 2)];
    let mut bytes = p.encode_to_vec();
    // A sample whose location_id has wire type 5 (a 32-bit fixed field), at this offset:
    let sample_at = bytes.len();
    let mut m = Vec::new();
    put_varint(&mut m, 1 << 3 | 5);
    m.extend_from_slice(&[1, 0, 0, 0]);
    put_bytes(&mut bytes, 2, &m);
    let err = parse(&bytes, &mut ProfileBuilder::new("pprof"), &Progress::new()).unwrap_err();
    assert_eq!(err.offset(), Some(sample_at as u64 + 3), "{err}");
    assert!(err.to_string().contains("field 1 of a Sample"), "{err}");

    // A packed run that ends inside a varint.
    let mut bytes = p.encode_to_vec();
    let mut m = Vec::new();
    put_bytes(&mut m, 1, &[0x80, 0x80]);
    put_bytes(&mut bytes, 2, &m);
    let err = parse(&bytes, &mut ProfileBuilder::new("pprof"), &Progress::new()).unwrap_err();
    assert!(err.to_string().contains("a packed varint"), "{err}");
}
