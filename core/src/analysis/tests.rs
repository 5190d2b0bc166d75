use super::*;
use crate::model::{FuncKind, ModuleId, Profile, ProfileBuilder, ThreadId, Unit};

/// A profile from lines `thread time frame;frame;frame weight` (root first), like the
/// pictures in the tests of the Firefox Profiler and inferno.
fn profile(lines: &str) -> Profile {
    let mut b = ProfileBuilder::new("test");
    let ty = b.add_sample_type("samples", Unit::Count);
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (tid, time, stack, w) = (
            parts[0].parse().unwrap(),
            parts[1].parse().unwrap(),
            parts[2],
            parts[3].parse().unwrap(),
        );
        let t = b.add_thread(1, tid);
        let frames: Vec<_> = stack
            .split(';')
            .map(|f| b.add_named_frame(f, ModuleId::NONE, FuncKind::Native))
            .collect();
        let s = b.add_stack_root_first(frames);
        b.add_sample_one(t, s, time, ty, w);
    }
    b.freeze()
}

fn stat<'a>(p: &Profile, stats: &'a [FuncStat], name: &str) -> &'a FuncStat {
    stats
        .iter()
        .find(|s| p.func_name(s.func) == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// One line per call node, depth-first, indented by depth: `name` then `cell(node)`.
fn print_nodes(p: &Profile, n: &CallNodeTable, cell: impl Fn(usize) -> String) -> String {
    let mut out = String::new();
    for i in 0..n.len() {
        out.push_str(&format!(
            "{}{}{}\n",
            "  ".repeat(n.depth[i] as usize),
            p.func_name(n.func[i]),
            cell(i)
        ));
    }
    out
}

/// The tree printed as `name=self/total` lines indented by depth (hotspot's model tests style).
fn print_tree(p: &Profile, n: &CallNodeTable, t: &CallTree) -> String {
    print_nodes(p, n, |i| {
        format!("={}/{}", t.self_weight[i], t.total_weight[i])
    })
}

#[test]
fn call_tree_and_top_functions() {
    let p = profile(
        "1 0 main;a;b 3
         1 1 main;a 2
         1 2 main;c;b 5",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    assert_eq!(t.total, 10);
    assert_eq!(t.samples, 3);
    assert_eq!(
        print_tree(&p, &n, &t),
        "main=0/10\n  a=2/5\n    b=3/3\n  c=0/5\n    b=5/5\n"
    );
    let top = top_functions(&p, &n, &t);
    assert_eq!(p.func_name(top[0].func), "b");
    assert_eq!(
        (
            stat(&p, &top, "b").self_weight,
            stat(&p, &top, "b").total_weight
        ),
        (8, 8)
    );
    assert_eq!(
        (
            stat(&p, &top, "a").self_weight,
            stat(&p, &top, "a").total_weight
        ),
        (2, 5)
    );
    assert_eq!(
        (
            stat(&p, &top, "main").self_weight,
            stat(&p, &top, "main").total_weight
        ),
        (0, 10)
    );
    assert_eq!(stat(&p, &top, "b").self_samples, 2);
}

#[test]
fn recursion_counts_once_per_sample() {
    let p = profile(
        "1 0 main;f;f;f 4
         1 1 main;f;g 1
         1 2 main;f;g;f 2",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    let top = top_functions(&p, &n, &t);
    let f = stat(&p, &top, "f");
    assert_eq!((f.self_weight, f.total_weight, f.total_samples), (6, 7, 3));
    let g = stat(&p, &top, "g");
    assert_eq!((g.self_weight, g.total_weight), (1, 3));
}

#[test]
fn depth_first_order_and_contiguous_subtrees() {
    let p = profile(
        "1 0 r;x;y 1
         1 1 r;z 1
         1 2 r;x;w 1
         1 3 q;x 1",
    );
    let n = CallNodeTable::build(&p);
    for i in 0..n.len() {
        if let Some(par) = n.parent[i].get() {
            assert!(par.index() < i);
            assert!(i < n.subtree_end[par.index()] as usize);
        }
        for j in i + 1..n.subtree_end[i] as usize {
            assert!(n.depth[j] > n.depth[i], "node {j} inside subtree of {i}");
        }
    }
    let t = n.tree(&p, &Selection::all(0));
    assert_eq!(
        print_tree(&p, &n, &t),
        "q=0/1\n  x=1/1\nr=0/3\n  x=0/2\n    w=1/1\n    y=1/1\n  z=1/1\n"
    );
}

#[test]
fn selection_by_thread_and_time() {
    let p = profile(
        "1 100 main;a 1
         1 200 main;b 1
         1 300 main;a 1
         2 150 main;c 1
         2 250 main;c 1",
    );
    let n = CallNodeTable::build(&p);
    let t1 = p
        .threads
        .tid
        .iter()
        .position(|&t| t == 1)
        .map(ThreadId::from_index)
        .unwrap();
    let sel = Selection {
        sample_type: 0,
        threads: Some(vec![t1]),
        ranges: vec![],
        labels: vec![],
    };
    assert_eq!(n.tree(&p, &sel).samples, 3);
    let sel = Selection {
        sample_type: 0,
        threads: None,
        ranges: vec![(150, 260)],
        labels: vec![],
    };
    let t = n.tree(&p, &sel);
    assert_eq!(t.samples, 3);
    // Two disjoint ranges.
    let sel = Selection {
        sample_type: 0,
        threads: None,
        ranges: vec![(0, 120), (290, 400)],
        labels: vec![],
    };
    let t = n.tree(&p, &sel);
    let top = top_functions(&p, &n, &t);
    assert_eq!(t.samples, 2);
    assert_eq!(stat(&p, &top, "a").self_weight, 2);
}

/// A profile with enough samples on several threads that the aggregation splits into many
/// parallel tasks.
fn big_profile() -> Profile {
    let mut b = ProfileBuilder::new("test");
    let ty = b.add_sample_type("w", Unit::Count);
    let names: Vec<_> = (0..50)
        .map(|i| b.add_named_frame(&format!("f{i}"), ModuleId::NONE, FuncKind::Native))
        .collect();
    let mut x: u64 = 12345;
    for i in 0..600_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let t = b.add_thread(1, (x >> 60) as i32);
        let depth = 1 + (x >> 33) as usize % 12;
        let mut s = crate::model::StackId::NONE;
        for d in 0..depth {
            s = b.add_stack(s, names[((x >> (d * 3)) as usize + d) % names.len()]);
        }
        b.add_sample_one(t, s, i, ty, 1 + (x >> 40) as i64 % 7);
    }
    b.freeze()
}

#[test]
fn one_thread_and_many_threads_give_identical_results() {
    let p = big_profile();
    let n = CallNodeTable::build(&p);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let sel = Selection {
                    sample_type: 0,
                    threads: None,
                    ranges: vec![(1000, 500_000)],
                    labels: vec![],
                };
                let t = n.tree(&p, &sel);
                let top = top_functions(&p, &n, &t);
                (t, top)
            })
    };
    let (t1, top1) = run(1);
    for threads in [2, 3, 8] {
        let (tn, topn) = run(threads);
        assert_eq!(t1, tn, "call tree with {threads} threads");
        assert_eq!(top1, topn, "top functions with {threads} threads");
    }
    assert_eq!(t1.samples, 499_000);
}

#[test]
fn call_nodes_are_the_distinct_function_paths_of_the_stacks() {
    // 60 000 stacks over 8 functions with 3 lines each: stacks whose frames differ only in
    // lines are one call node; stacks whose function paths differ are different nodes.
    let mut b = ProfileBuilder::new("test");
    let ty = b.add_sample_type("w", Unit::Count);
    let mut frames = Vec::new();
    for f in 0..8 {
        let name = b.intern(&format!("f{f}"));
        let func = b.add_func(
            name,
            ModuleId::NONE,
            crate::model::StrId::NONE,
            0,
            FuncKind::Native,
        );
        for line in 1..=3 {
            frames.push(b.add_frame(func, ModuleId::NONE, 0, line, 0));
        }
    }
    let t = b.add_thread(1, 1);
    let mut x: u64 = 99;
    for i in 0..60_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let depth = 1 + (x >> 35) as usize % 9;
        let path = (0..depth).map(|d| frames[((x >> (d * 3 + 5)) as usize) % frames.len()]);
        let s = b.add_stack_root_first(path);
        b.add_sample_one(t, s, i, ty, 1);
    }
    let p = b.freeze();
    let n = CallNodeTable::build(&p);
    let func_path = |mut s: Option<crate::model::StackId>| {
        let mut out = Vec::new();
        while let Some(i) = s {
            out.push(p.frames.func[p.stacks.frame[i.index()].index()]);
            s = p.stacks.parent[i.index()].get();
        }
        out.reverse();
        out
    };
    let node_path = |mut c: crate::model::CallNodeId| {
        let mut out = vec![n.func[c.index()]];
        while let Some(parent) = n.parent[c.index()].get() {
            out.push(n.func[parent.index()]);
            c = parent;
        }
        out.reverse();
        out
    };
    let mut node_of_path = std::collections::HashMap::new();
    for s in 0..p.stacks.len() {
        let path = func_path(Some(crate::model::StackId::from_index(s)));
        let node = n.stack_node[s];
        assert_eq!(node_path(node), path, "stack {s}");
        assert_eq!(*node_of_path.entry(path).or_insert(node), node, "stack {s}");
    }
    assert_eq!(
        node_of_path.len(),
        n.len(),
        "every node is some stack's function path"
    );
    assert!(n.len() < p.stacks.len());
}

#[test]
fn a_100k_frame_stack_needs_no_recursion() {
    let run = || {
        let mut b = ProfileBuilder::new("test");
        let ty = b.add_sample_type("w", Unit::Count);
        let t = b.add_thread(1, 1);
        let f = b.add_named_frame("rec", ModuleId::NONE, FuncKind::Native);
        let g = b.add_named_frame("other", ModuleId::NONE, FuncKind::Native);
        let mut s = crate::model::StackId::NONE;
        for i in 0..100_000 {
            s = b.add_stack(s, if i % 2 == 0 { f } else { g });
        }
        b.add_sample_one(t, s, 0, ty, 1);
        let p = b.freeze();
        let n = CallNodeTable::build(&p);
        let tree = n.tree(&p, &Selection::all(0));
        let top = top_functions(&p, &n, &tree);
        (
            n.len(),
            tree.total_weight[0],
            top.len(),
            top.iter().map(|s| s.total_weight).max(),
        )
    };
    let out = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(out, (100_000, 1, 2, Some(1)));
}

#[test]
fn per_type_weights_and_a_switch_from_tagged() {
    let mut b = ProfileBuilder::new("test");
    let a = b.add_sample_type("a", Unit::Count);
    let c = b.add_sample_type("c", Unit::Count);
    let t = b.add_thread(1, 1);
    let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
    let s = b.add_stack_root_first([f]);
    b.add_sample_one(t, s, 0, a, 5); // tagged so far
    b.add_sample(t, s, 1, &[1, 2]); // several weights: every thread switches to columns
    b.add_sample_one(t, s, 2, c, 7);
    let p = b.freeze();
    assert!(matches!(
        p.samples.weights,
        crate::model::SampleWeights::PerType(_)
    ));
    assert_eq!((p.sample_count(a), p.sample_count(c)), (2, 2));
    let n = CallNodeTable::build(&p);
    assert_eq!(n.tree(&p, &Selection::all(a)).total, 6);
    assert_eq!(n.tree(&p, &Selection::all(c)).total, 9);
    assert_eq!(p.default_sample_type(), a);
}

#[test]
fn huge_weights_saturate_instead_of_overflowing() {
    let p = profile(
        "1 0 main;a 9223372036854775807
         1 1 main;a 9223372036854775807
         1 2 main;b 5",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    assert_eq!(t.total, i64::MAX);
    let top = top_functions(&p, &n, &t);
    assert_eq!(stat(&p, &top, "a").self_weight, i64::MAX);
}

/// The layout printed as `name@start+width` per node, depth-first.
fn print_layout(p: &Profile, n: &CallNodeTable, t: &CallTree, l: &FlameLayout) -> String {
    print_nodes(p, n, |i| format!("@{}+{}", l.start[i], t.total_weight[i]))
}

#[test]
fn flame_layout_places_children_inside_parents_in_name_order() {
    let p = profile(
        "1 0 main;b;x 3
         1 1 main;a 2
         1 2 main 1
         2 3 other;a 4",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    let l = FlameLayout::build(&n, &t);
    assert_eq!(
        print_layout(&p, &n, &t, &l),
        "main@0+6\n  a@0+2\n  b@2+3\n    x@2+3\nother@6+4\n  a@6+4\n"
    );
    assert_eq!((l.width, l.rows), (10, 3));

    let name_at = |x: f64, depth: u32| {
        l.node_at(&n, &t, x, depth)
            .map(|c| p.func_name(n.func[c.index()]).to_string())
    };
    assert_eq!(name_at(0.0, 0).as_deref(), Some("main"));
    assert_eq!(name_at(2.5, 2).as_deref(), Some("x"));
    assert_eq!(name_at(5.5, 1), None, "main's self time has no child box");
    assert_eq!(name_at(9.9, 1).as_deref(), Some("a"));
    assert_eq!(name_at(10.0, 0), None);

    let x = l.node_at(&n, &t, 2.0, 2).unwrap();
    let path: Vec<&str> = ancestors(&n, x)
        .iter()
        .map(|c| p.func_name(n.func[c.index()]))
        .collect();
    assert_eq!(path, ["main", "b", "x"]);

    // Excluding thread 2 leaves "other" with no width; it no longer counts for rows or hits.
    let mut sel = Selection::all(0);
    sel.threads = Some(vec![ThreadId::from_index(0)]);
    let t1 = n.tree(&p, &sel);
    let l1 = FlameLayout::build(&n, &t1);
    assert_eq!(l1.width, 6);
    assert_eq!(l1.node_at(&n, &t1, 7.0, 0), None);
}

#[test]
fn matched_total_counts_each_sample_once() {
    let p = profile(
        "1 0 main;a;a;x 3
         1 1 main;b;a 2
         1 2 main;b 1",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    let matches_of = |names: &[&str]| -> Vec<bool> {
        (0..p.funcs.len())
            .map(|f| names.contains(&p.func_name(crate::model::FuncId::from_index(f))))
            .collect()
    };
    assert_eq!(matched_total(&n, &t, &matches_of(&["a"])), 5);
    assert_eq!(matched_total(&n, &t, &matches_of(&["a", "x", "b"])), 6);
    assert_eq!(matched_total(&n, &t, &matches_of(&["main"])), 6);
    assert_eq!(matched_total(&n, &t, &matches_of(&[])), 0);
}

#[test]
fn flame_layout_of_a_100k_frame_stack() {
    let mut b = ProfileBuilder::new("deep");
    let ty = b.add_sample_type("samples", Unit::Count);
    let th = b.add_thread(1, 1);
    let frames: Vec<_> = (0..100_000)
        .map(|i| b.add_named_frame(&format!("f{i}"), ModuleId::NONE, FuncKind::Native))
        .collect();
    let s = b.add_stack_root_first(frames);
    b.add_sample_one(th, s, 0, ty, 1);
    let p = b.freeze();
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    let l = FlameLayout::build(&n, &t);
    assert_eq!(l.rows, 100_000);
    let leaf = l.node_at(&n, &t, 0.5, 99_999).unwrap();
    assert_eq!(ancestors(&n, leaf).len(), 100_000);
}

#[test]
fn node_lines_weigh_each_line_of_a_call_node() {
    let mut b = ProfileBuilder::new("lines");
    let ty = b.add_sample_type("samples", Unit::Count);
    let t = b.add_thread(1, 1);
    let m = b.add_module("/bin/x", "", crate::model::ModuleKind::Native);
    let main = b.add_named_frame("main", m, FuncKind::Native);
    // `work` at two lines: line 10 calls `leaf`, line 12 is hot itself.
    let name = b.intern("work");
    let work_fn = b.add_func(name, m, crate::model::StrId::NONE, 0x100, FuncKind::Native);
    let w10 = b.add_frame(work_fn, m, 0x110, 10, 0);
    let w12 = b.add_frame(work_fn, m, 0x120, 12, 0);
    let leaf = b.add_named_frame("leaf", m, FuncKind::Native);
    let s1 = b.add_stack_root_first([main, w10, leaf]);
    let s2 = b.add_stack_root_first([main, w12]);
    for (i, (s, w)) in [(s1, 3), (s2, 5), (s1, 1)].into_iter().enumerate() {
        b.add_sample_one(t, s, i as u64, ty, w);
    }
    let p = b.freeze();
    let n = CallNodeTable::build(&p);
    let sw = stack_weights(&p, &Selection::all(0));
    let work = (0..n.len())
        .find(|&i| p.func_name(n.func[i]) == "work")
        .map(crate::model::CallNodeId::from_index)
        .unwrap();
    assert_eq!(node_lines(&p, &n, &sw, work), [(12, 5), (10, 4)]);
}

/// The demo capture (a real `perf record -g` of the sample program), symbolized from the
/// committed binaries only.
fn demo_capture() -> Profile {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles");
    let o = crate::LoadOptions {
        symbols: crate::symbols::SymbolOptions {
            search_dirs: vec![dir.join("bin")],
            inline_frames: true,
            kallsyms: None,
            system_paths: false,
            ..Default::default()
        },
        ..crate::LoadOptions::default()
    };
    let bytes = std::fs::read(dir.join("demo.perf.data")).unwrap();
    crate::load_bytes(&bytes, &o, &crate::Progress::new()).unwrap()
}

/// Weight and sample count of every sample of `sel`'s threads whose time is in one of its
/// ranges, by looking at every sample.
fn brute_force(p: &Profile, sel: &Selection) -> (i64, u64) {
    let (mut w, mut c) = (0i64, 0u64);
    for t in 0..p.threads.len() {
        let t = ThreadId::from_index(t);
        if let Some(list) = &sel.threads
            && !list.contains(&t)
        {
            continue;
        }
        for row in p.threads.samples(t) {
            let time = p.samples.time_ns[row];
            let inside =
                sel.ranges.is_empty() || sel.ranges.iter().any(|&(a, b)| time >= a && time < b);
            if let Some(x) = p.samples.weights.get(sel.sample_type, row)
                && inside
                && p.samples.stack[row].get().is_some()
            {
                w += x;
                c += 1;
            }
        }
    }
    (w, c)
}

#[test]
fn range_selections_on_a_real_capture_equal_a_brute_force_count() {
    let p = demo_capture();
    let nodes = CallNodeTable::build(&p);
    let (start, end) = time_bounds(&p).expect("perf samples have times");
    let len = end - start;
    let busiest = (0..p.threads.len())
        .max_by_key(|&t| p.threads.samples(ThreadId::from_index(t)).len())
        .map(ThreadId::from_index)
        .unwrap();
    type Case = (Option<Vec<ThreadId>>, Vec<(u64, u64)>);
    let cases: Vec<Case> = vec![
        (None, vec![]),
        (None, vec![(start, start + len / 3)]),
        (None, vec![(start + len / 4, start + len / 2)]),
        // Disjoint ranges, as a heat map selection gives.
        (
            None,
            vec![
                (start, start + len / 10),
                (start + len / 2, start + len / 2 + len / 7),
                (end - len / 20, end),
            ],
        ),
        (Some(vec![busiest]), vec![(start + len / 3, end)]),
        // A range with no samples.
        (None, vec![(end + 10, end + 20)]),
    ];
    for (threads, ranges) in cases {
        let sel = Selection {
            sample_type: p.default_sample_type(),
            threads,
            ranges,
            labels: vec![],
        };
        let tree = nodes.tree(&p, &sel);
        let (w, c) = brute_force(&p, &sel);
        assert_eq!((tree.total, tree.samples), (w, c), "{sel:?}");
        // The bottom-up tree holds the same weight.
        let inv = bottom_up(&p, &nodes, &tree);
        let roots: i64 = (0..inv.nodes.len())
            .filter(|&i| inv.nodes.parent[i].get().is_none())
            .map(|i| inv.tree.total_weight[i])
            .sum();
        assert_eq!(roots, w);
    }
}

#[test]
fn heat_map_cells_and_their_ranges_match_a_brute_force_count() {
    let p = demo_capture();
    let nodes = CallNodeTable::build(&p);
    let sel = Selection::all(p.default_sample_type());
    let cell = 20_000_000;
    let hm = heat_map(&p, &sel, cell, 50).unwrap();
    assert_eq!(hm.rows, 50);
    assert_eq!(hm.column_ns(), 1_000_000_000);
    let (_, all) = brute_force(&p, &sel);
    assert_eq!(hm.samples.iter().map(|&c| c as u64).sum::<u64>(), all);
    assert_eq!(hm.cut_off, 0);
    // Each cell equals the samples in its time range, and selecting it gives that total.
    let mut checked = 0;
    for col in 0..hm.cols {
        for row in 0..hm.rows {
            let ranges = hm.rectangle_ranges((col, col), (row, row));
            assert_eq!(
                ranges,
                vec![(hm.cell_start(col, row), hm.cell_start(col, row) + cell)]
            );
            let s = Selection {
                ranges: ranges.clone(),
                ..sel.clone()
            };
            let (w, c) = brute_force(&p, &s);
            assert_eq!(hm.weight_at(col, row), w);
            assert_eq!(hm.samples[col * hm.rows + row] as u64, c);
            if c > 0 && checked < 20 {
                assert_eq!(nodes.tree(&p, &s).total, w);
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
    // A rectangle over two columns is two ranges; full-height columns join into one.
    if hm.cols >= 2 {
        let r = hm.rectangle_ranges((0, 1), (10, 20));
        assert_eq!(r.len(), 2);
        let s = Selection {
            ranges: r,
            ..sel.clone()
        };
        let expect: i64 = (0..2)
            .flat_map(|c| (10..=20).map(move |r| (c, r)))
            .map(|(c, r)| hm.weight_at(c, r))
            .sum();
        assert_eq!(nodes.tree(&p, &s).total, expect);
        assert_eq!(hm.rectangle_ranges((0, 1), (0, 49)).len(), 1);
    }
    let run = hm.run_range((0, 40), (0, 5));
    assert_eq!(run, (hm.cell_start(0, 5), hm.cell_start(0, 40) + cell));
}

#[test]
fn a_profile_without_timestamps_has_no_heat_map() {
    let p = profile("1 0 main;a 1\n1 0 main;b 2");
    assert_eq!(time_bounds(&p), None);
    assert!(heat_map(&p, &Selection::all(0), 20_000_000, 50).is_none());
}

#[test]
fn activity_buckets_weights_by_time_and_module() {
    let mut b = ProfileBuilder::new("test");
    let ty = b.add_sample_type("samples", Unit::Count);
    let libc = b.add_module("/lib/libc.so.6", "", crate::model::ModuleKind::Native);
    let app = b.add_module("/bin/app", "", crate::model::ModuleKind::Native);
    let t = b.add_thread(1, 1);
    let main = b.add_named_frame("main", app, FuncKind::Native);
    let memcpy = b.add_named_frame("memcpy", libc, FuncKind::Native);
    let work = b.add_named_frame("work", app, FuncKind::Native);
    let in_libc = b.add_stack_root_first([main, memcpy]);
    let in_app = b.add_stack_root_first([main, work]);
    // Bucket 0 (0..100): 2 libc, 1 app. Bucket 1: nothing. Bucket 2 (200..300): 3 app.
    for (time, s) in [
        (0, in_libc),
        (10, in_app),
        (20, in_libc),
        (200, in_app),
        (250, in_app),
        (299, in_app),
    ] {
        b.add_sample_one(t, s, time, ty, 1);
    }
    let p = b.freeze();
    let a = activity(&p, &Selection::all(0), (0, 300), 3);
    let track = &a.threads[0];
    assert_eq!(track.samples, vec![3, 0, 3]);
    assert_eq!(a.max, 3);
    assert_eq!(p.module_name(track.module[0]), "libc.so.6");
    assert!(track.module[1].get().is_none());
    assert_eq!(p.module_name(track.module[2]), "app");
}

/// Bottom-up, callers and callees against trees worked out by hand.
#[test]
fn bottom_up_and_sandwich_of_a_hand_built_profile() {
    let p = profile(
        "1 0 main;a;b 3
         1 1 main;a 2
         1 2 main;c;b 4
         1 3 main;b;b;d 1",
    );
    let n = CallNodeTable::build(&p);
    let t = n.tree(&p, &Selection::all(0));
    let inv = bottom_up(&p, &n, &t);
    assert_eq!(
        print_tree(&p, &inv.nodes, &inv.tree),
        "a=2/2
  main=0/2
b=7/7
  a=0/3
    main=0/3
  c=0/4
    main=0/4
d=1/1
  b=0/1
    b=0/1
      main=0/1
"
    );
    let func = |name: &str| {
        (0..p.funcs.len())
            .map(crate::model::FuncId::from_index)
            .find(|&f| p.func_name(f) == name)
            .unwrap()
    };
    let s = sandwich(&p, &n, &t, func("b"));
    // b is on the stack of 8 units (the recursive b;b counted once) and is the leaf of 7.
    assert_eq!((s.total_weight, s.self_weight), (8, 7));
    assert_eq!(
        print_tree(&p, &s.callers.nodes, &s.callers.tree),
        "b=7/8
  a=0/3
    main=0/3
  c=0/4
    main=0/4
  main=0/1
"
    );
    assert_eq!(
        print_tree(&p, &s.callees.nodes, &s.callees.tree),
        "b=7/8
  b=0/1
    d=1/1
"
    );
}

/// Self samples per (function, line) of `perf report --sort sym,srcline` on the demo capture
/// (`sample-profiles/demo.perf.data.srcline.txt`), against [`func_lines`] for every function
/// of `demo.c`; totals per function against the top functions table.
#[test]
fn line_costs_agree_with_perf_report_srcline() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles");
    let reference = std::fs::read_to_string(dir.join("demo.perf.data.srcline.txt")).unwrap();
    let mut expect: std::collections::BTreeMap<(String, u32), u64> = Default::default();
    for line in reference.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // "24.64%  358  [.] crc32_block  demo.c:239"
        if cols.len() == 5
            && let Some(l) = cols[4].strip_prefix("demo.c:")
        {
            *expect
                .entry((cols[3].to_owned(), l.parse().unwrap()))
                .or_default() += cols[1].parse::<u64>().unwrap();
        }
    }
    assert!(expect.len() > 20, "{} lines in the reference", expect.len());
    let p = demo_capture();
    let nodes = CallNodeTable::build(&p);
    let sel = Selection::all(p.default_sample_type());
    let sw = stack_weights(&p, &sel);
    let tree = nodes.tree_from(&sw);
    let top = top_functions(&p, &nodes, &tree);
    let mut got: std::collections::BTreeMap<(String, u32), u64> = Default::default();
    for s in &top {
        let name = p.func_name(s.func).to_owned();
        let file = p.funcs.file[s.func.index()];
        if !file.get().is_some_and(|f| p.str(f).ends_with("demo.c")) {
            continue;
        }
        let lines = func_lines(&p, &sw, s.func);
        let self_sum: u64 = lines.iter().map(|l| l.self_samples).sum();
        let total_sum: i64 = lines.iter().map(|l| l.total_weight).sum();
        assert_eq!(self_sum, s.self_samples, "{name}: self");
        assert_eq!(total_sum, s.total_weight, "{name}: total");
        // perf's `sym` is the ELF symbol: a function inlined into it is reported under the
        // symbol's name with the inlined code's line (make_source in main).
        let symbol = symbol_of(&p, s.func);
        for l in lines.iter().filter(|l| l.self_samples > 0) {
            *got.entry((symbol.clone(), l.line)).or_default() += l.self_samples;
        }
    }
    assert_eq!(got, expect);
}

/// The name of the real (not inlined) function `f`'s code sits in: `f` itself unless every
/// frame of it is an inline frame.
fn symbol_of(p: &Profile, f: crate::model::FuncId) -> String {
    for s in 0..p.stacks.len() {
        let fr = p.stacks.frame[s].index();
        if p.frames.func[fr] != f {
            continue;
        }
        let mut at = s;
        while p.frames.inline_depth[p.stacks.frame[at].index()] > 0 {
            match p.stacks.parent[at].get() {
                Some(up) => at = up.index(),
                None => break,
            }
        }
        return p
            .func_name(p.frames.func[p.stacks.frame[at].index()])
            .to_owned();
    }
    p.func_name(f).to_owned()
}

#[test]
fn source_files_are_found_under_a_root_by_their_trailing_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/a.c"), "int main;\n").unwrap();
    let roots = vec![dir.path().to_path_buf()];
    assert_eq!(
        find_source("/build/elsewhere/project/src/a.c", &roots),
        Some(dir.path().join("src/a.c"))
    );
    assert_eq!(find_source("/nowhere/b.c", &roots), None);
    assert_eq!(
        find_source("relative/src/a.c", &roots),
        Some(dir.path().join("src/a.c"))
    );
}

/// Samples per instruction of every function of the demo binary against `perf script`'s leaf
/// `symbol+offset` counts (`sample-profiles/demo.perf.data.symoff.txt`), and the instruction
/// boundaries against `objdump -d`.
#[test]
fn disassembly_costs_agree_with_perf_script_and_objdump() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles");
    let reference = std::fs::read_to_string(dir.join("demo.perf.data.symoff.txt")).unwrap();
    let mut expect: std::collections::BTreeMap<(String, u64), u64> = Default::default();
    for line in reference.lines() {
        let (at, n) = line.split_once(' ').unwrap();
        if let Some((sym, off)) = at.split_once("+0x") {
            expect.insert(
                (sym.to_owned(), u64::from_str_radix(off, 16).unwrap()),
                n.parse().unwrap(),
            );
        }
    }
    let p = demo_capture();
    let sw = stack_weights(&p, &Selection::all(p.default_sample_type()));
    let dirs = vec![dir.join("bin")];
    let objdump = std::process::Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(dir.join("bin/demo"))
        .output()
        .expect("objdump (binutils)");
    let objdump = String::from_utf8_lossy(&objdump.stdout).into_owned();
    let mut checked = 0;
    for f in 0..p.funcs.len() {
        let func = crate::model::FuncId::from_index(f);
        let name = p.func_name(func).to_owned();
        if p.func_module_name(func) != "demo" || p.funcs.address[f] == 0 {
            continue;
        }
        let d = disassemble(&p, &sw, func, &dirs).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.symbol, name);
        // Instruction starts as objdump lists them under `<name>:`.
        let header = format!("<{name}>:");
        let body: Vec<u64> = objdump
            .split(&header)
            .nth(1)
            .unwrap_or_else(|| panic!("objdump has no {name}"))
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| u64::from_str_radix(l.trim().split(':').next()?, 16).ok())
            // objdump runs on to the next symbol (alignment padding); the symbol ends before.
            .filter(|&a| a < d.end)
            .collect();
        let ours: Vec<u64> = d.instructions.iter().map(|i| i.address).collect();
        assert_eq!(ours, body, "{name}: instruction addresses");
        for ins in &d.instructions {
            let want = expect
                .get(&(name.clone(), ins.address - d.start))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                ins.self_samples,
                want,
                "{name}+{:#x}",
                ins.address - d.start
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} functions");
    // A hot loop instruction of crc32_block: the most samples land in its inner loop.
    let crc = (0..p.funcs.len())
        .map(crate::model::FuncId::from_index)
        .find(|&f| p.func_name(f) == "crc32_block")
        .unwrap();
    let d = disassemble(&p, &sw, crc, &dirs).unwrap();
    let self_sum: u64 = d.instructions.iter().map(|i| i.self_samples).sum();
    assert_eq!(self_sum, 484, "perf report: crc32_block 484 samples");
    // Totals: each sample once, at the outermost instruction of the function on its stack;
    // crc32_block calls nothing, so its totals are its self weight.
    let total_sum: i64 = d.instructions.iter().map(|i| i.total_weight).sum();
    let self_w: i64 = d.instructions.iter().map(|i| i.self_weight).sum();
    assert_eq!(total_sum, self_w);
    // main's totals hold every sample of the main thread below it, at its call instructions.
    let main = (0..p.funcs.len())
        .map(crate::model::FuncId::from_index)
        .find(|&f| p.func_name(f) == "main")
        .unwrap();
    let nodes = CallNodeTable::build(&p);
    let tree = nodes.tree_from(&sw);
    let top = top_functions(&p, &nodes, &tree);
    let main_total = top.iter().find(|s| s.func == main).unwrap().total_weight;
    let d = disassemble(&p, &sw, main, &dirs).unwrap();
    let total_sum: i64 = d.instructions.iter().map(|i| i.total_weight).sum();
    assert_eq!(total_sum, main_total);
    assert!(
        d.instructions
            .iter()
            .filter(|i| i.total_weight > 0)
            .all(|i| i.text.starts_with("call") || i.self_samples > 0),
        "main's cost sits at its calls"
    );
}

/// A profile of one thread with `n` one-weight samples of each stack (root first).
fn counted(stacks: &[(&str, usize)]) -> Profile {
    let mut b = ProfileBuilder::new("test");
    let ty = b.add_sample_type("samples", Unit::Count);
    let t = b.add_thread(1, 1);
    let mut time = 0;
    for &(stack, n) in stacks {
        let frames: Vec<_> = stack
            .split(';')
            .map(|f| b.add_named_frame(f, ModuleId::NONE, FuncKind::Native))
            .collect();
        let s = b.add_stack_root_first(frames);
        for _ in 0..n {
            b.add_sample_one(t, s, time, ty, 1);
            time += 1;
        }
    }
    b.freeze()
}

/// The call node of `p` at `path` (names root first).
fn node_at(p: &Profile, n: &CallNodeTable, path: &str) -> crate::model::CallNodeId {
    let names: Vec<&str> = path.split(';').collect();
    node_at_path(p, n, &names).unwrap_or_else(|| panic!("no node {path}"))
}

#[test]
fn path_diff_matches_call_paths_by_function_names() {
    // After: b does twice the work, `gone` stopped running, `new` appeared. Functions are
    // created in another order, so their ids differ from before's.
    let before = counted(&[
        ("main;a;b", 400),
        ("main;a", 100),
        ("main;c", 500),
        ("main;gone;x", 100),
    ]);
    let after = counted(&[
        ("main;c", 500),
        ("main;new", 50),
        ("main;a", 100),
        ("main;a;b", 800),
    ]);
    let side = |p: &Profile| {
        let nodes = CallNodeTable::build(p);
        let tree = nodes.tree(p, &Selection::all(0));
        (nodes, tree)
    };
    let ((bn, bt), (an, at)) = (side(&before), side(&after));
    let d = path_diff(
        &TreeSide {
            profile: &before,
            nodes: &bn,
            tree: &bt,
            seconds: 1.0,
        },
        &TreeSide {
            profile: &after,
            nodes: &an,
            tree: &at,
            seconds: 1.0,
        },
        0.01,
        0.5,
    );
    let path = |p: &str| d.path_of_after(node_at(&after, &an, p)).unwrap();
    // The same path on both sides, whatever the function ids.
    for p in ["main", "main;a", "main;a;b", "main;c"] {
        assert_eq!(
            Some(path(p)),
            d.path_of_before(node_at(&before, &bn, p)),
            "{p}"
        );
    }
    let ab = d
        .change(path("main;a;b"), Metric::Total, Normalize::Share)
        .unwrap();
    let want = (800.0 / 1450.0 - 400.0 / 1100.0) * 100.0;
    assert!((ab.share.delta - want).abs() < 1e-9, "{ab:?}");
    assert!((ab.before - 400.0 * 100.0 / 1100.0).abs() < 1e-9);
    assert!((ab.after - 800.0 * 100.0 / 1450.0).abs() < 1e-9);
    assert!(ab.significant && ab.q_value < 1e-6, "{ab:?}");
    assert!(ab.share.ci_low > 0.0 && ab.share.ci_high > ab.share.ci_low);
    let c = d
        .change(path("main;c"), Metric::Total, Normalize::Share)
        .unwrap();
    assert!(c.significant && c.delta < 0.0, "{c:?}");
    // main is every sample on both sides: no change.
    let m = d
        .change(path("main"), Metric::Total, Normalize::Share)
        .unwrap();
    assert_eq!(m.delta, 0.0);
    assert!(!m.significant);
    // Self of main;a: 100 of 1100 vs 100 of 1450, absolute weight unchanged.
    let a_self = d
        .change(path("main;a"), Metric::Exclusive, Normalize::Absolute)
        .unwrap();
    assert_eq!((a_self.before, a_self.after), (100.0, 100.0));
    // New: no before node; gone: listed as elided (its child is not, being under it).
    let new = path("main;new");
    assert_eq!(d.before_node_of(new), None);
    assert_eq!(d.paths[new as usize].after_total_samples, 50);
    let gone = d
        .path_of_before(node_at(&before, &bn, "main;gone"))
        .unwrap();
    assert_eq!(d.elided, vec![gone]);
    assert_eq!(d.after_node_of(gone), None);
    assert_eq!(d.paths[gone as usize].before_total, 100);
}

#[test]
fn path_diff_of_a_profile_with_itself_flags_nothing() {
    let p = demo_capture();
    let nodes = CallNodeTable::build(&p);
    let tree = nodes.tree(&p, &Selection::all(p.default_sample_type()));
    let side = TreeSide {
        profile: &p,
        nodes: &nodes,
        tree: &tree,
        seconds: 1.0,
    };
    let d = path_diff(&side, &side, 0.01, 0.0);
    assert!(d.elided.is_empty());
    for i in 0..nodes.len() {
        let path = d
            .path_of_after(crate::model::CallNodeId::from_index(i))
            .unwrap();
        let c = d.change(path, Metric::Total, Normalize::Share).unwrap();
        assert_eq!(c.delta, 0.0);
        assert!(!c.significant);
    }
    assert_eq!(
        d.max_significant_delta(Metric::Total, Normalize::Share),
        0.0
    );
}
