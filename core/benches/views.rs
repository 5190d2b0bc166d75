//! What the window recomputes when the selection changes or another view opens, on a big
//! profile (see `common/mod.rs`: `STKL_BENCH_FILE`): the aggregation of a time range, the
//! bottom-up tree, a function's callers and callees, the timeline's density and the heat map.
//! The target is a result within 200 ms on the profile of a 1 GB perf.data.
//!
//! `STKL_BENCH_FILE=big.stkl cargo bench -p stacklens-core --bench views`

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use stacklens_core::analysis::{
    CallNodeTable, FlameLayout, Selection, activity, bottom_up, heat_map, sandwich, stack_weights,
    time_bounds, top_functions,
};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let p = common::big_profile();
    let nodes = CallNodeTable::build(&p);
    let all = Selection::all(p.default_sample_type());
    let (start, end) = time_bounds(&p).expect("timestamps");
    let tenth = Selection {
        ranges: vec![(start + (end - start) / 3, start + (end - start) * 13 / 30)],
        ..all.clone()
    };
    let tree = nodes.tree(&p, &all);
    let top = top_functions(&p, &nodes, &tree);
    let hottest = top[0].func;
    let busiest_total = top
        .iter()
        .max_by_key(|s| s.total_weight)
        .map(|s| s.func)
        .unwrap();
    let mut g = c.benchmark_group("views");
    g.sample_size(10);
    // What a selection change computes before the views can draw (the window's Analysis).
    for (name, sel) in [("selection_all", &all), ("selection_range_tenth", &tenth)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let sw = stack_weights(&p, sel);
                let tree = nodes.tree_from(&sw);
                let layout = FlameLayout::build(&nodes, &tree);
                let top = top_functions(&p, &nodes, &tree);
                black_box((layout.width, top.len()))
            })
        });
    }
    g.bench_function("bottom_up", |b| {
        b.iter(|| black_box(bottom_up(&p, &nodes, &tree).nodes.len()))
    });
    g.bench_function("sandwich_hottest_self", |b| {
        b.iter(|| black_box(sandwich(&p, &nodes, &tree, hottest).total_weight))
    });
    g.bench_function("sandwich_biggest_total", |b| {
        b.iter(|| black_box(sandwich(&p, &nodes, &tree, busiest_total).total_weight))
    });
    g.bench_function("timeline_1000_buckets", |b| {
        b.iter(|| black_box(activity(&p, &all, (start, end), 1000).max))
    });
    g.bench_function("heat_map_20ms", |b| {
        b.iter(|| black_box(heat_map(&p, &all, 20_000_000, 50).map(|h| h.max)))
    });
    g.finish();
}

criterion_group!(view_benches, benches);
criterion_main!(view_benches);
