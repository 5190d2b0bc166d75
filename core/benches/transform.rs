//! What a transform change costs: apply the transforms to the whole profile, rebuild the call
//! nodes and aggregate the default selection (what the window recomputes when a chip is added
//! or removed), next to a selection change alone (aggregate only).
//!
//! The profile: see `common/mod.rs` (`STKL_BENCH_FILE`).
//!
//! `cargo bench -p stacklens-core --bench transform`

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use stacklens_core::analysis::{CallNodeTable, Selection, Transform, transform};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let p = common::big_profile();
    let sel = Selection::all(p.default_sample_type());
    let mut g = c.benchmark_group("transform");
    g.sample_size(10);
    g.bench_function("selection_change", |b| {
        let nodes = CallNodeTable::build(&p);
        b.iter(|| black_box(nodes.tree(&p, &sel).total))
    });
    let merge = [Transform::Merge {
        pattern: "^recurse$".into(),
    }];
    g.bench_function("merge_then_aggregate", |b| {
        b.iter(|| {
            let q = transform::apply(&p, &merge).expect("transform");
            let nodes = CallNodeTable::build(&q);
            black_box(nodes.tree(&q, &sel).total)
        })
    });
    let chain = [
        Transform::FocusFunction {
            pattern: "main".into(),
        },
        Transform::CollapseRecursion { pattern: None },
        Transform::Drop {
            pattern: "^leaf_a$".into(),
        },
    ];
    g.bench_function("three_transforms_then_aggregate", |b| {
        b.iter(|| {
            let q = transform::apply(&p, &chain).expect("transform");
            let nodes = CallNodeTable::build(&q);
            black_box(nodes.tree(&q, &sel).total)
        })
    });
    g.finish();
}

criterion_group!(transform_benches, benches);
criterion_main!(transform_benches);
