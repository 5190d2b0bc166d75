use super::*;
use crate::analysis::Selection;

/// A profile using every table: two threads, per-type weights, labels, spans, modules.
fn rich() -> Profile {
    let mut b = ProfileBuilder::new("test");
    let a = b.add_sample_type("cpu", Unit::Nanoseconds);
    let _ = a;
    b.add_sample_type("alloc", Unit::Bytes);
    let m = b.add_module("/usr/bin/app", "abcd", ModuleKind::Native);
    b.set_module_range(m, 0x1000, 0x2000, 0);
    let main = b.add_named_frame("main", m, FuncKind::Native);
    let name = b.intern("wörk");
    let file = b.intern("src/w.rs");
    let f = b.add_func(name, m, file, 0x1100, FuncKind::Native);
    let work = b.add_frame(f, m, 0x1104, 42, 1);
    let s1 = b.add_stack_root_first([main]);
    let s2 = b.add_stack_root_first([main, work]);
    let t1 = b.add_thread(10, 10);
    b.set_thread_name(t1, "main");
    b.set_process_name(t1, "app");
    let t2 = b.add_thread(10, 11);
    let l1 = b.add_str_label("stage", "parse");
    let l2 = b.add_num_label("size", 64, "bytes");
    let set = b.add_label_set(&mut vec![l1, l2]);
    b.add_sample_labeled(t1, s2, 300, &[5, 0], set);
    b.add_sample(t1, s1, 100, &[1, 64]);
    b.add_sample(t2, s2, 200, &[7, 0]);
    b.add_span(t2, 0, 150, 250, "frame");
    b.add_span(t2, 1, 160, 170, "update");
    b.meta.command_line = Some("app --fast".into());
    b.meta.default_sample_type = Some(1);
    b.meta.info.push(("period".into(), "10 ms".into()));
    b.warn("something odd");
    b.freeze()
}

fn bytes(p: &Profile) -> Vec<u8> {
    let mut out = Vec::new();
    write(p, &mut out).unwrap();
    out
}

/// Every table of `a` and `b` is equal (strings by content).
pub(crate) fn assert_same(a: &Profile, b: &Profile) {
    let strs = |p: &Profile| {
        p.strings
            .iter()
            .map(|(_, s)| s.to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(strs(a), strs(b));
    let dbg = |p: &Profile| {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            p.modules,
            p.funcs,
            p.frames,
            p.stacks,
            p.threads,
            p.sample_types,
            p.samples,
            p.labels,
            p.spans
        )
    };
    assert_eq!(dbg(a), dbg(b));
    assert_eq!(
        serde_json::to_string(&a.meta).unwrap(),
        serde_json::to_string(&b.meta).unwrap()
    );
}

#[test]
fn round_trip_keeps_every_table() {
    let p = rich();
    let data = bytes(&p);
    assert!(sniff(&data));
    assert_eq!(data.len() % 8, 0);
    let q = read(&data, &Progress::new()).unwrap();
    assert_same(&p, &q);
    assert_eq!(q.default_sample_type(), 1);
    assert_eq!(q.strings.find("wörk").map(|s| q.str(s)), Some("wörk"));
    // The per-module symbol status goes through the metadata section.
    let mut p = p;
    p.meta.modules.push(crate::model::ModuleSymbols {
        path: "/usr/bin/app".into(),
        build_id: Some("abcd".into()),
        kind: ModuleKind::Native,
        symbols_from: Some("/usr/lib/debug/.build-id/ab/cd.debug".into()),
        lines_from: None,
        addresses: 7,
        resolved: 5,
        problem: Some("no line information".into()),
    });
    assert_eq!(
        read(&bytes(&p), &Progress::new()).unwrap().meta.modules,
        p.meta.modules
    );
    // Tagged weights (a perf-style profile) too.
    let mut b = ProfileBuilder::new("tagged");
    b.add_sample_type("cycles", Unit::Events);
    let t = b.add_thread(1, 1);
    let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
    let s = b.add_stack_root_first([f]);
    b.add_sample_one(t, s, 5, 0, 1000);
    let p = b.freeze();
    assert_same(&p, &read(&bytes(&p), &Progress::new()).unwrap());
}

#[test]
fn every_truncation_and_bit_flip_is_an_error_or_a_valid_profile() {
    let data = bytes(&rich());
    for n in 0..data.len() {
        let err = read(&data[..n], &Progress::new()).unwrap_err();
        assert!(err.offset().is_some(), "cut at {n}: {err}");
    }
    // Flip each byte of the header, directory and columns: never a panic; when it loads, the
    // tables are still consistent enough to aggregate.
    for i in 0..data.len() {
        let mut d = data.clone();
        d[i] ^= 0xff;
        if let Ok(p) = read(&d, &Progress::new()) {
            let nodes = crate::analysis::CallNodeTable::build(&p);
            let _ = nodes.tree(&p, &crate::analysis::Selection::all(0));
        }
    }
}

#[test]
fn errors_name_the_offset_and_what_was_expected() {
    let data = bytes(&rich());
    let mut d = data.clone();
    d[8] = 9; // version 9
    let err = read(&d, &Progress::new()).unwrap_err().to_string();
    assert!(
        err.contains("at byte offset 8: format version 1 (this file is version 9"),
        "{err}"
    );
    // A stack whose parent is itself.
    let secs = Sections::parse(&data, None).unwrap();
    let off = secs.offset(sec::STACK_PARENT) as usize;
    let mut d = data.clone();
    d[off + 4..off + 8].copy_from_slice(&1u32.to_le_bytes());
    let err = read(&d, &Progress::new()).unwrap_err();
    assert_eq!(err.offset(), Some(off as u64 + 4), "{err}");
    assert!(
        err.to_string().contains("a parent stack before its child"),
        "{err}"
    );
}

#[test]
fn a_100k_deep_stack_round_trips_on_a_small_thread_stack() {
    let mut b = ProfileBuilder::new("deep");
    b.add_sample_type("samples", Unit::Count);
    let t = b.add_thread(1, 1);
    let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
    let mut s = StackId::NONE;
    for _ in 0..100_000 {
        s = b.add_stack(s, f);
    }
    b.add_sample_one(t, s, 0, 0, 1);
    let p = b.freeze();
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let q = read(&bytes(&p), &Progress::new()).unwrap();
            assert_eq!(q.stacks.len(), 100_000);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn weights_whose_total_overflows_are_refused_at_the_weight() {
    // Found by the stkl fuzz target: each weight is fine, their sum is not. The builder leaves
    // such a sample out, so the damaged tables are made by hand; the writer writes what it is
    // given; the reader refuses them.
    let mut tagged = {
        let mut b = ProfileBuilder::new("tagged");
        b.add_sample_type("cycles", Unit::Events);
        let t = b.add_thread(1, 1);
        let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
        let s = b.add_stack_root_first([f]);
        b.add_sample_one(t, s, 1, 0, 1);
        b.add_sample_one(t, s, 2, 0, 1);
        b.freeze()
    };
    if let SampleWeights::Tagged { weight, .. } = &mut tagged.samples.weights {
        *weight = vec![i64::MAX, 1].into();
    }
    let mut per_type = rich();
    if let SampleWeights::PerType(cols) = &mut per_type.samples.weights {
        cols[1] = vec![64, i64::MAX, 1].into();
    }
    for (p, id, row) in [
        (tagged, sec::SAMPLE_TAG_WEIGHT, 1),
        (per_type, sec::SAMPLE_PER_TYPE, 3 + 1),
    ] {
        let data = bytes(&p);
        let at = Sections::parse(&data, None).unwrap().offset(id) + 8 * row;
        let err = read(&data, &Progress::new()).unwrap_err();
        assert_eq!(err.offset(), Some(at), "{err}");
        assert!(
            err.to_string().contains("total within a signed 64-bit"),
            "{err}"
        );
    }
}

/// A tagged (perf-style) profile of `n` samples over a few stacks, times increasing.
fn many_samples(n: usize) -> Profile {
    let mut b = ProfileBuilder::new("many");
    b.add_sample_type("cycles", Unit::Events);
    let t = b.add_thread(1, 1);
    let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
    let g = b.add_named_frame("g", ModuleId::NONE, FuncKind::Native);
    let s = [
        b.add_stack_root_first([f]),
        b.add_stack_root_first([f, g]),
        b.add_stack_root_first([g]),
    ];
    for i in 0..n {
        b.add_sample_one(t, s[i % 3], 1000 + i as u64, 0, 1 + (i % 7) as i64);
    }
    b.freeze()
}

#[test]
fn a_bad_row_deep_in_a_big_column_is_named_exactly() {
    let data = bytes(&many_samples(200_000));
    let secs = Sections::parse(&data, None).unwrap();
    let off = secs.offset(sec::SAMPLE_STACK) as usize;
    let mut d = data.clone();
    let row = 123_457;
    d[off + 4 * row..off + 4 * row + 4].copy_from_slice(&9u32.to_le_bytes());
    let err = read(&d, &Progress::new()).unwrap_err();
    assert_eq!(err.offset(), Some((off + 4 * row) as u64), "{err}");
    assert!(err.to_string().contains("row 123457 has 9"), "{err}");
    // A time going backwards in the middle of the thread.
    let off = secs.offset(sec::SAMPLE_TIME) as usize;
    let mut d = data;
    d[off + 8 * row..off + 8 * row + 8].copy_from_slice(&5u64.to_le_bytes());
    let err = read(&d, &Progress::new()).unwrap_err();
    assert!(err.to_string().contains("in time order"), "{err}");
}

/// Opening a `.stkl` from a path maps it and borrows the big columns (no copy); a writer that
/// truncates the file meanwhile is held until the bytes are moved off the file, so the open
/// profile keeps reading the same values and the process gets no SIGBUS.
#[cfg(target_os = "linux")]
#[test]
fn an_open_capture_borrows_from_the_file_and_survives_its_truncation() {
    let dir = tempfile::tempdir().unwrap();
    for (i, p) in [rich(), many_samples(100_000)].into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.stkl"));
        std::fs::write(&path, bytes(&p)).unwrap();
        let q = crate::load(&path, &crate::LoadOptions::default(), &Progress::new()).unwrap();
        assert_same(&p, &q);
        assert!(q.samples.stack.is_borrowed(), "sample stacks borrowed");
        assert!(q.samples.time_ns.is_borrowed(), "sample times borrowed");
        assert!(q.stacks.parent.is_borrowed(), "stack parents borrowed");
        match &q.samples.weights {
            SampleWeights::PerType(cols) => assert!(cols.iter().all(|c| c.is_borrowed())),
            SampleWeights::Tagged {
                sample_type,
                weight,
            } => assert!(sample_type.is_borrowed() && weight.is_borrowed()),
        }
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                let t = std::time::Instant::now();
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(0).unwrap();
                t.elapsed()
            })
        };
        let waited = writer.join().unwrap();
        // The kernel gives up on a lease after lease-break-time (45 s): a quick return means
        // the watcher answered the break.
        assert!(waited.as_secs() < 20, "writer held for {waited:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert_same(&p, &q);
    }
}

/// The chunked, parallel check of running totals finds the same first overflowing row as a
/// row-by-row one, with negative weights, in any chunk; and adds up the same weights and counts
/// of rows with a stack.
#[test]
fn tagged_totals_in_chunks_agree_with_row_by_row() {
    let n = 300_000;
    let types: Vec<u16> = (0..n).map(|i| ((i * 7) % 3) as u16 + 1).collect();
    let stacks: Vec<StackId> = (0..n)
        .map(|i| match i % 11 {
            0 => StackId::NONE,
            _ => StackId::from_index(i % 5),
        })
        .collect();
    let mut weights: Vec<i64> = (0..n).map(|i| (i % 1000) as i64).collect();
    let row_by_row = |types: &[u16], weights: &[i64]| {
        let mut stacked = vec![(0, 0); 4];
        let r = first_overflow(&stacks, types, weights, &mut [0i64; 4], &mut stacked);
        (r, stacked)
    };
    let (none, stacked) = tagged_totals(&stacks, &types, &weights, 4);
    assert_eq!(none, None);
    assert_eq!(stacked, row_by_row(&types, &weights).1);
    assert_eq!(stacked[0], (0, 0));
    assert!(stacked[1].1 > 0 && stacked[1].1 < n as u64 / 3);
    let chunked = |types: &[u16], weights: &[i64]| tagged_totals(&stacks, types, weights, 4).0;
    // One huge weight late, in a chunk of its own; then a negative one before it that pulls
    // the total back; then a type whose running sum dips below i64::MIN and comes back.
    weights[250_000] = i64::MAX - 10;
    let want = row_by_row(&types, &weights).0;
    assert!(want.is_some());
    assert_eq!(chunked(&types, &weights), want);
    weights[100_000] = -(i64::MAX / 2);
    weights[types.iter().position(|&t| t == types[250_000]).unwrap()] = -(i64::MAX / 2);
    assert_eq!(chunked(&types, &weights), row_by_row(&types, &weights).0);
    let mut w2: Vec<i64> = vec![1; n];
    w2[70_000] = i64::MIN + 5;
    w2[70_003] = -(1 << 40);
    assert_eq!(chunked(&types, &w2), row_by_row(&types, &w2).0);
    assert!(row_by_row(&types, &w2).0.is_some());
    // One type: the register-only path.
    let ones = vec![0u16; n];
    let (none, stacked) = tagged_totals(&stacks, &ones, &weights[..n], 1);
    let mut want = vec![(0, 0); 1];
    first_overflow(&stacks, &ones, &weights, &mut [0i64; 1], &mut want);
    assert_eq!((none, stacked), (None, want));
}

/// The sums of the whole profile a file keeps are read back as the profile's, equal to adding
/// the samples up; the views take them (no pass over the samples) until a column changes.
#[test]
fn whole_profile_sums_are_kept_checked_and_dropped_when_stale() {
    // Few samples per stack: no sums kept (they would outweigh the pass they save).
    let few = read(&bytes(&rich()), &Progress::new()).unwrap();
    assert!(few.samples.whole.is_none() && few.whole_weights(0).is_none());
    // Per-type weights (pprof-style), two types, zero weights in places.
    let mut b = ProfileBuilder::new("per type");
    b.add_sample_type("cpu", Unit::Nanoseconds);
    b.add_sample_type("alloc", Unit::Bytes);
    let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
    let g = b.add_named_frame("g", ModuleId::NONE, FuncKind::Native);
    let stacks = [b.add_stack_root_first([f]), b.add_stack_root_first([f, g])];
    let threads = [b.add_thread(1, 1), b.add_thread(1, 2)];
    for i in 0..5000u64 {
        let w = [(i % 5) as i64, (i % 3) as i64 * 64];
        b.add_sample(
            threads[(i % 2) as usize],
            stacks[(i % 7 % 2) as usize],
            i,
            &w,
        );
    }
    let per_type = b.freeze();
    for p in [per_type, many_samples(200_000)] {
        let q = read(&bytes(&p), &Progress::new()).unwrap();
        assert!(q.samples.whole.is_some());
        for ty in 0..q.sample_types.len() {
            let kept = q.whole_weights(ty).expect("every type kept").clone();
            let mut plain = q.clone();
            plain.samples.whole = None;
            let added = crate::analysis::stack_weights(&plain, &Selection::all(ty));
            assert_eq!(kept, added, "type {ty}");
            assert_eq!(
                added.per_thread.iter().sum::<u64>(),
                added.count.iter().sum::<u64>()
            );
            // The view of the whole profile takes the kept sums, and agrees.
            let nodes = crate::analysis::CallNodeTable::build(&q);
            assert_eq!(
                nodes.tree(&q, &Selection::all(ty)),
                nodes.tree(&plain, &Selection::all(ty))
            );
        }
        // A derived profile whose sample stacks changed no longer sees them.
        let mut changed = q.clone();
        assert!(changed.whole_weights(0).is_some());
        changed.samples.stack.make_mut();
        assert!(changed.whole_weights(0).is_none());
        let mut fewer = q.clone();
        fewer.threads.sample_end[0] = fewer.threads.sample_start[0];
        assert!(fewer.whole_weights(0).is_none());
    }
}

/// Kept sums that do not add up to the samples are left out with a warning, and the views add
/// the samples up themselves: a tampered sum changes no number shown.
#[test]
fn whole_profile_sums_that_disagree_with_the_samples_are_left_out() {
    let p = many_samples(1000);
    let data = bytes(&p);
    let secs = Sections::parse(&data, None).unwrap();
    let off = secs.offset(sec::WHOLE_WEIGHT) as usize;
    let mut d = data.clone();
    d[off..off + 8].copy_from_slice(&12345i64.to_le_bytes());
    let q = read(&d, &Progress::new()).unwrap();
    assert!(q.samples.whole.is_none());
    assert!(
        q.meta
            .warnings
            .iter()
            .any(|w| w.contains("whole-profile sums")),
        "{:?}",
        q.meta.warnings
    );
    assert_eq!(
        crate::analysis::stack_weights(&q, &Selection::all(0)),
        crate::analysis::stack_weights(&p, &Selection::all(0))
    );
    // A count per thread beyond the thread's rows.
    let off = secs.offset(sec::WHOLE_THREAD) as usize;
    let mut d = data.clone();
    d[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(read(&d, &Progress::new()).unwrap().samples.whole.is_none());
    // A type out of range is an error naming the section.
    let off = secs.offset(sec::WHOLE_TYPES) as usize;
    let mut d = data;
    d[off..off + 4].copy_from_slice(&7u32.to_le_bytes());
    let err = read(&d, &Progress::new()).unwrap_err();
    assert_eq!(err.offset(), Some(off as u64), "{err}");
}
