//! What a transform change costs: apply the transforms to the whole profile, rebuild the call
//! nodes and aggregate the default selection (what the window recomputes when a chip is added
//! or removed), next to a selection change alone (aggregate only).
//!
//! The profile is a `.stkl` named by `STKL_BENCH_FILE` (e.g. one converted from a 1 GB
//! perf.data: `stacklens convert big.perf.data -o big.stkl`), else the committed
//! `hot.perf.data` with its samples repeated to 100 MB.
//!
//! `cargo bench -p stacklens-core --bench transform`

use criterion::{Criterion, criterion_group, criterion_main};
use stacklens_core::analysis::{CallNodeTable, Selection, Transform, transform};
use stacklens_core::formats::perf_data;
use stacklens_core::{LoadOptions, Progress, load, load_bytes};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let p = match std::env::var_os("STKL_BENCH_FILE") {
        Some(path) => load(path.as_ref(), &LoadOptions::default(), &Progress::new()).expect("load"),
        None => {
            let mut opts = LoadOptions::default();
            opts.symbols.search_dirs =
                vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-profiles/bin").into()];
            let small = std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../sample-profiles/hot.perf.data"
            ))
            .expect("sample-profiles/hot.perf.data");
            let big = perf_data::synth::repeat_samples(&small, 100 << 20).expect("generating");
            load_bytes(&big, &opts, &Progress::new()).expect("loading")
        }
    };
    eprintln!("{} samples, {} stacks", p.samples.len(), p.stacks.len());
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
