use super::*;
use crate::analysis::{CallNodeTable, Selection, top_functions};
use crate::model::Profile;
use std::collections::BTreeMap;
use std::num::NonZeroU32;

fn load(data: &[u8]) -> Result<Profile> {
    let mut b = ProfileBuilder::new(FORMAT);
    parse(data, &mut b, &Progress::new())?;
    Ok(b.freeze())
}

fn sample_file() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sample-profiles/app-frames.puffin"
    );
    std::fs::read(path).expect("sample-profiles/app-frames.puffin (made by record-puffin.sh)")
}

/// Self weight per function name, and the tree's total.
fn self_by_name(p: &Profile) -> (BTreeMap<String, i64>, i64) {
    let n = CallNodeTable::build(p);
    let t = n.tree(p, &Selection::all(0));
    let mut m = BTreeMap::new();
    for s in top_functions(p, &n, &t) {
        *m.entry(p.func_name(s.func).to_string()).or_insert(0) += s.self_weight;
    }
    (m, t.total)
}

fn thread_named(p: &Profile, name: &str) -> ThreadId {
    let i = (0..p.threads.len())
        .find(|&i| p.threads.name[i].get().is_some_and(|s| p.str(s) == name))
        .unwrap_or_else(|| panic!("no thread {name}"));
    ThreadId::from_index(i)
}

// --- Writing captures by hand: bincode varints as puffin's `bincode::options()` writes them.

fn varint(out: &mut Vec<u8>, v: u64) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn ivarint(out: &mut Vec<u8>, v: i64) {
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// (id, scope name, function name, file, line)
type Details<'a> = (u32, Option<&'a str>, &'a str, &'a str, u32);

/// One `PFD4` frame: `threads` are (name, stream bytes), compression 0 (none) or 2 (zstd).
fn frame(
    index: u64,
    range: (i64, i64),
    threads: &[(&str, &[u8])],
    scopes: &[Details<'_>],
    kind: u8,
) -> Vec<u8> {
    let mut meta = Vec::new();
    varint(&mut meta, index);
    ivarint(&mut meta, range.0);
    ivarint(&mut meta, range.1);
    varint(&mut meta, 0);
    varint(&mut meta, 0);
    let mut streams = Vec::new();
    varint(&mut streams, threads.len() as u64);
    for (i, (name, bytes)) in threads.iter().enumerate() {
        streams.push(1);
        ivarint(&mut streams, 1000 + i as i64);
        string(&mut streams, name);
        varint(&mut streams, bytes.len() as u64);
        streams.extend_from_slice(bytes);
        varint(&mut streams, 0);
        varint(&mut streams, 0);
        ivarint(&mut streams, range.0);
        ivarint(&mut streams, range.1);
    }
    let packed = match kind {
        0 => streams,
        2 => zstd::encode_all(&streams[..], 3).unwrap(),
        _ => unreachable!(),
    };
    let mut details = Vec::new();
    varint(&mut details, scopes.len() as u64);
    for &(id, scope_name, function, file, line) in scopes {
        details.push(1);
        varint(&mut details, u64::from(id));
        match scope_name {
            Some(s) => {
                details.push(1);
                string(&mut details, s);
            }
            None => details.push(0),
        }
        string(&mut details, function);
        string(&mut details, file);
        varint(&mut details, u64::from(line));
    }
    assemble(&meta, kind, &packed, &details)
}

/// A `PFD4` frame from its encoded parts.
fn assemble(meta: &[u8], kind: u8, packed: &[u8], details: &[u8]) -> Vec<u8> {
    let mut out = b"PFD4".to_vec();
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(packed);
    out.extend_from_slice(&(details.len() as u32).to_le_bytes());
    out.extend_from_slice(details);
    out
}

fn id(i: u32) -> puffin::ScopeId {
    puffin::ScopeId(NonZeroU32::new(i).unwrap())
}

/// A stream from (id, start, stop, data) scopes given as a nesting picture: each entry opens
/// a scope; `Close` closes the innermost.
enum Ev<'a> {
    Open(u32, i64, &'a str),
    Close(i64),
}

fn stream(events: &[Ev<'_>]) -> Vec<u8> {
    let mut s = puffin::Stream::default();
    let mut open = Vec::new();
    for e in events {
        match *e {
            Ev::Open(i, t, data) => open.push(s.begin_scope(|| t, id(i), data).0),
            Ev::Close(t) => s.end_scope(open.pop().unwrap(), t),
        }
    }
    s.bytes().to_vec()
}

fn capture(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"PUF0".to_vec();
    for f in frames {
        out.extend_from_slice(f);
    }
    out
}

/// main: a [0, 100) → b [10, 40) (data "x") + b [50, 60); worker: c [5, 25).
fn small_capture(kind: u8) -> Vec<u8> {
    use Ev::*;
    let main = stream(&[
        Open(1, 0, ""),
        Open(2, 10, "x"),
        Close(40),
        Open(2, 50, ""),
        Close(60),
        Close(100),
    ]);
    let worker = stream(&[Open(3, 5, ""), Close(25)]);
    let details = [
        (1, Some("a"), "app::run", "src/main.rs", 10),
        (2, None, "app::b", "src/b.rs", 3),
        (3, Some("c"), "app::work", "src/w.rs", 7),
    ];
    capture(&[frame(
        7,
        (0, 100),
        &[("main", &main), ("worker", &worker)],
        &details,
        kind,
    )])
}

#[test]
fn scopes_become_spans_and_self_time_samples() {
    for kind in [0, 2] {
        let p = load(&small_capture(kind)).unwrap();
        assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
        assert_eq!(p.sample_types[0].name, "wall time");
        assert_eq!(p.sample_types[0].unit, Unit::Nanoseconds);
        let (selfs, total) = self_by_name(&p);
        assert_eq!(total, 100 + 20, "the top-level scopes' durations");
        assert_eq!(selfs["a"], 100 - 30 - 10);
        assert_eq!(
            selfs["app::b"], 40,
            "a function scope is named by its function"
        );
        assert_eq!(selfs["c"], 20);
        // Files and lines from the scope details; instrumented functions.
        let n = CallNodeTable::build(&p);
        let t = n.tree(&p, &Selection::all(0));
        let b = top_functions(&p, &n, &t)
            .into_iter()
            .find(|s| p.func_name(s.func) == "app::b")
            .unwrap();
        assert_eq!(b.total_weight, 40);
        assert_eq!(
            p.str(p.funcs.file[b.func.index()].get().unwrap()),
            "src/b.rs"
        );
        assert_eq!(p.funcs.kind[b.func.index()], FuncKind::Instrumented);
        // Threads: puffin's in order of first appearance, then the frames track.
        assert_eq!(p.threads.len(), 3);
        let main = thread_named(&p, "main");
        assert_eq!(p.threads.tid[main.index()], 1);
        assert_eq!(p.threads.tid[thread_named(&p, "worker").index()], 2);
        let frames = thread_named(&p, "frames");
        assert_eq!(p.threads.tid[frames.index()], 3);
        assert_eq!(frames.index(), 2, "the frames track sorts last");
        // Spans: depth, times, data in the name.
        let spans: Vec<(u16, u64, u64, &str)> = (0..p.spans.thread.len())
            .filter(|&i| p.spans.thread[i] == main)
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
                (0, 0, 100, "a"),
                (1, 10, 40, "app::b (x)"),
                (1, 50, 60, "app::b")
            ]
        );
        let fi = (0..p.spans.thread.len())
            .find(|&i| p.spans.thread[i] == frames)
            .unwrap();
        assert_eq!(p.str(p.spans.name[fi]), "frame 7");
        assert!(
            p.meta
                .info
                .iter()
                .any(|(k, v)| k == "puffin frames" && v == "1 (frame 7)")
        );
    }
}

/// The committed capture (a real puffin 0.20 program, lz4 frames) against puffin's own reader.
#[test]
fn the_sample_agrees_with_puffins_own_reader() {
    let data = sample_file();
    let p = load(&data).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);

    let view = puffin::FrameView::read(&mut &data[..]).unwrap();
    let names: BTreeMap<puffin::ScopeId, String> = view
        .scope_collection()
        .scopes_by_id()
        .iter()
        .map(|(id, d)| (*id, d.name().to_string()))
        .collect();
    let mut want_self: BTreeMap<String, i64> = BTreeMap::new();
    let mut want_thread: BTreeMap<String, i64> = BTreeMap::new();
    let mut scopes = 0usize;
    let mut frames = 0usize;
    for f in view.all_uniq() {
        frames += 1;
        let u = f.unpacked().unwrap();
        for (info, s) in &u.thread_streams {
            let top = puffin::Reader::from_start(&s.stream)
                .read_top_scopes()
                .unwrap();
            *want_thread.entry(info.name.clone()).or_default() +=
                top.iter().map(|t| t.record.duration_ns).sum::<i64>();
            let mut todo = top;
            while let Some(sc) = todo.pop() {
                scopes += 1;
                let kids = puffin::Reader::with_offset(&s.stream, sc.child_begin_position)
                    .unwrap()
                    .read_top_scopes()
                    .unwrap();
                let kid_ns: i64 = kids.iter().map(|k| k.record.duration_ns).sum();
                *want_self.entry(names[&sc.id].clone()).or_default() +=
                    sc.record.duration_ns - kid_ns;
                todo.extend(kids);
            }
        }
    }
    assert!(
        frames >= 3 && scopes > 50,
        "{frames} frames, {scopes} scopes"
    );
    let (selfs, total) = self_by_name(&p);
    assert_eq!(selfs, want_self);
    assert_eq!(total, want_thread.values().sum::<i64>());
    for (name, ns) in &want_thread {
        let t = thread_named(&p, name);
        let sel = Selection {
            threads: Some(vec![t]),
            ..Selection::all(0)
        };
        let tree = CallNodeTable::build(&p).tree(&p, &sel);
        assert_eq!(tree.total, *ns, "thread {name}");
    }
    let frames_thread = thread_named(&p, "frames");
    let frame_spans = p
        .spans
        .thread
        .iter()
        .filter(|&&t| t == frames_thread)
        .count();
    assert_eq!(frame_spans, frames);
    assert_eq!(p.spans.thread.len() - frame_spans, scopes);
    assert!(
        p.meta
            .info
            .iter()
            .any(|(k, v)| k == "puffin scopes" && *v == scopes.to_string())
    );
    assert!(
        p.meta
            .info
            .iter()
            .any(|(k, v)| k == "puffin compression" && v == "lz4")
    );
}

#[test]
fn every_truncation_of_the_sample_loads_or_fails_cleanly() {
    let data = sample_file();
    let (_, full) = self_by_name(&load(&data).unwrap());
    for len in 0..data.len() {
        match load(&data[..len]) {
            Ok(p) => {
                let (_, total) = self_by_name(&p);
                assert!(total <= full, "cut at {len}");
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("puffin"), "cut at {len}: {msg}");
            }
        }
    }
    // Cut inside the second frame: the first is kept, with one warning.
    let first_end = {
        let (frames, _) = read_framing(&data);
        frames[1].start
    };
    let p = load(&data[..first_end + 10]).unwrap();
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(p.meta.warnings[0].contains("after 1 frame(s)"));
}

/// Every byte of the sample altered in turn (framing, lz4 blocks, bincode, streams): each
/// load ends in a profile or an error, never a panic.
#[test]
fn every_corrupted_byte_of_the_sample_is_survived() {
    let data = sample_file();
    let mut loaded = 0;
    for i in 0..data.len() {
        for flip in [0x01, 0xff] {
            let mut bad = data.clone();
            bad[i] ^= flip;
            if load(&bad).is_ok() {
                loaded += 1;
            }
        }
    }
    assert!(loaded > 0);
}

#[test]
fn wrong_magic_old_and_unknown_headers() {
    assert!(sniff(b"PUF0"));
    assert!(!sniff(b"PUF"));
    assert!(!sniff(b"PFD4...."));
    let e = load(b"PUFX1234").unwrap_err();
    assert_eq!(e.offset(), Some(0));
    let e = load(b"PUF0PFD3\0\0\0\0").unwrap_err().to_string();
    assert!(e.contains("before 0.19"), "{e}");
    let e = load(b"PUF0PFD9").unwrap_err().to_string();
    assert!(e.contains("newer"), "{e}");
    // A headerless (pre-2021) frame would be a bare length: 4 GiB here. Refused, not read.
    let e = load(b"PUF0\xff\xff\xff\xff").unwrap_err();
    assert_eq!(e.offset(), Some(4), "{e}");
    // Just the magic, or the end marker: an empty capture.
    for empty in [&b"PUF0"[..], b"PUF0\0\0\0\0"] {
        let p = load(empty).unwrap();
        assert_eq!(p.meta.warnings, ["the capture holds no frames"]);
    }
}

#[test]
fn huge_length_fields_are_checked_before_use() {
    let good = small_capture(0);
    // Offsets in the frame: PFD4 at 4, meta length at 8.
    let mut meta_len = good.clone();
    meta_len[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = load(&meta_len).unwrap_err().to_string();
    assert!(e.contains("the frame meta") && e.contains("remain"), "{e}");

    let meta_len_v = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let packed_len_at = 12 + meta_len_v;
    let mut packed_len = good.clone();
    packed_len[packed_len_at..packed_len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = load(&packed_len).unwrap_err().to_string();
    assert!(e.contains("packed thread streams"), "{e}");

    // The thread count and a stream length inside the payload claim 2^64-ish.
    let payload_at = packed_len_at + 5;
    let mut count = good.clone();
    count[payload_at] = 253;
    assert!(load(&count).is_err());

    // An lz4 frame that claims 4 GiB once unpacked: refused by the limit, nothing allocated.
    let bomb = [u32::MAX.to_le_bytes().as_slice(), &[0x1f, 0, 1, 0, 255, 0]].concat();
    let lz4 = capture(&[assemble(&[0, 0, 2, 0, 0], 1, &bomb, &[])]);
    let e = load(&lz4).unwrap_err().to_string();
    assert!(e.contains("decompression limit"), "{e}");

    // A scope whose children claim more than the stream holds.
    let s = stream(&[Ev::Open(1, 0, ""), Ev::Close(5)]);
    let mut bad = s.clone();
    let size_at = 1 + 4 + 8 + 1;
    bad[size_at..size_at + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
    let p = load(&capture(&[
        frame(0, (0, 5), &[("t", &s)], &[], 0),
        frame(1, (0, 5), &[("t", &bad)], &[], 0),
    ]))
    .unwrap();
    let (_, total) = self_by_name(&p);
    assert_eq!(total, 5);
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("1 thread stream(s) are damaged")),
        "{:?}",
        p.meta.warnings
    );
}

#[test]
fn self_times_that_would_overflow_the_total_end_the_stream() {
    // Found by fuzzing: two scopes of i64::MAX / 2 + 1 ns each fit an i64, their sum does not.
    use Ev::*;
    let half = i64::MAX / 2 + 1;
    let s = stream(&[Open(1, 0, ""), Close(half), Open(1, 0, ""), Close(half)]);
    let details = [(1, Some("a"), "", "", 0)];
    let p = load(&capture(&[frame(0, (0, half), &[("t", &s)], &details, 0)])).unwrap();
    p.check().unwrap();
    assert_eq!(self_by_name(&p).1, half, "the first scope only");
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(
        p.meta.warnings[0].contains("total time below 2^63 ns"),
        "{}",
        p.meta.warnings[0]
    );
}

#[test]
fn a_damaged_stream_keeps_the_scopes_closed_before_it() {
    use Ev::*;
    let mut s = stream(&[
        Open(1, 0, ""),
        Close(10),
        Open(1, 20, ""),
        Open(2, 21, ""),
        Close(22),
        Close(30),
    ]);
    // The second top-level scope's `)` becomes garbage.
    let last_close = s.len() - 9;
    s[last_close] = b'?';
    let details = [(1, Some("a"), "", "", 0), (2, Some("b"), "", "", 0)];
    let p = load(&capture(&[frame(0, (0, 30), &[("t", &s)], &details, 0)])).unwrap();
    let (selfs, total) = self_by_name(&p);
    assert_eq!(total, 10 + 1, "the first `a` and the inner `b`");
    assert_eq!(selfs["b"], 1);
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    assert!(
        p.meta.warnings[0].contains("stream byte"),
        "{}",
        p.meta.warnings[0]
    );
}

#[test]
fn unnamed_scope_ids_and_bad_payloads() {
    use Ev::*;
    let s = stream(&[Open(9, 0, ""), Close(4)]);
    let p = load(&capture(&[frame(0, (0, 4), &[("t", &s)], &[], 0)])).unwrap();
    assert_eq!(self_by_name(&p).0["scope #9"], 4);
    assert!(p.meta.warnings[0].contains("1 scope id(s) have no name"));

    // The second frame's zstd payload is garbage: skipped with a warning, the first stays.
    let mut bad = frame(1, (0, 4), &[("t", &s)], &[], 2);
    let meta_len = u32::from_le_bytes(bad[4..8].try_into().unwrap()) as usize;
    let payload_at = 8 + meta_len + 5;
    assert_eq!(bad[payload_at..payload_at + 4], [0x28, 0xb5, 0x2f, 0xfd]);
    bad[payload_at] ^= 0xff;
    let good = frame(0, (0, 4), &[("t", &s)], &[(9, Some("x"), "", "", 0)], 0);
    let p = load(&capture(&[good, bad.clone()])).unwrap();
    assert_eq!(self_by_name(&p).0["x"], 4);
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("1 frame(s) could not be unpacked"))
    );
    // Only that frame: an error.
    assert!(load(&capture(&[bad])).is_err());
}

#[test]
fn the_decompression_limit_covers_all_frames() {
    let data = small_capture(2);
    let mut b = ProfileBuilder::new(FORMAT);
    let e = parse_with_limit(&data, &mut b, &Progress::new(), 10).unwrap_err();
    assert!(e.to_string().contains("decompression limit"), "{e}");
}

#[test]
fn cancellation_stops_the_load() {
    let progress = Progress::new();
    progress.cancel();
    let mut b = ProfileBuilder::new(FORMAT);
    assert!(matches!(
        parse(&small_capture(0), &mut b, &progress),
        Err(Error::Cancelled)
    ));
}

/// 100 000 nested scopes, written by puffin's own writer (`FrameData::write_into`, lz4).
#[test]
fn a_100k_deep_stream() {
    const DEPTH: i64 = 100_000;
    let mut s = puffin::Stream::default();
    let mut open = Vec::new();
    for d in 0..DEPTH {
        open.push(s.begin_scope(|| d, id(1 + (d % 3) as u32), "").0);
    }
    for d in (0..DEPTH).rev() {
        s.end_scope(open.pop().unwrap(), 2 * DEPTH - d);
    }
    let info = puffin::StreamInfo {
        stream: s,
        num_scopes: DEPTH as usize,
        depth: DEPTH as usize,
        range_ns: (0, 2 * DEPTH),
    };
    let thread = puffin::ThreadInfo {
        start_time_ns: Some(0),
        name: "deep".into(),
    };
    let f = puffin::FrameData::new(0, [(thread, info)].into(), Vec::new(), false).unwrap();
    let mut data = b"PUF0".to_vec();
    f.write_into(None, &mut data).unwrap();
    let p = load(&data).unwrap();
    let (_, total) = self_by_name(&p);
    assert_eq!(total, 2 * DEPTH, "the one top-level scope's duration");
    assert_eq!(p.stacks.len(), DEPTH as usize);
    let deep = thread_named(&p, "deep");
    let spans = p.spans.thread.iter().filter(|&&t| t == deep).count();
    assert_eq!(spans, DEPTH as usize);
    assert_eq!(
        p.spans.depth.iter().max(),
        Some(&u16::MAX),
        "depth saturates"
    );
}
