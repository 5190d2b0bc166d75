//! A pprof profile's stages: loading it (decompress, decode, make the stacks, freeze), merging
//! its stacks into call nodes, and adding its samples up into the call tree and top functions.
//! Throughput in samples.
//!
//! The profile is `PPROF_BENCH_FILE` (e.g. the heap profile of 2 M distinct stacks that
//! `bench/compare-peers.sh` has Go write: `bench/data/heap-large.pb.gz`), else the committed
//! `sample-profiles/go-heap.pb.gz`.
//!
//! `PPROF_BENCH_FILE=bench/data/heap-large.pb.gz cargo bench -p stacklens-core --bench pprof`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stacklens_core::analysis::{CallNodeTable, Selection, stack_weights, top_functions};
use stacklens_core::{LoadOptions, Progress, load};
use std::hint::black_box;
use std::path::PathBuf;

fn benches(c: &mut Criterion) {
    let path: PathBuf = std::env::var_os("PPROF_BENCH_FILE").map_or_else(
        || {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../sample-profiles/go-heap.pb.gz"
            )
            .into()
        },
        PathBuf::from,
    );
    let open = || load(&path, &LoadOptions::default(), &Progress::new()).expect("loading");
    let p = open();
    eprintln!(
        "{}: {} samples, {} stacks",
        path.display(),
        p.samples.len(),
        p.stacks.len()
    );
    let nodes = CallNodeTable::build(&p);
    let all = Selection::all(p.default_sample_type());
    let mut g = c.benchmark_group("pprof");
    g.sample_size(10);
    g.throughput(Throughput::Elements(p.samples.len() as u64));
    g.bench_function("load", |b| b.iter(|| black_box(open().stacks.len())));
    g.bench_function("call_nodes", |b| {
        b.iter(|| black_box(CallNodeTable::build(&p).len()))
    });
    g.bench_function("aggregate", |b| {
        b.iter(|| {
            let tree = nodes.tree_from(&stack_weights(&p, &all));
            black_box(top_functions(&p, &nodes, &tree).len())
        })
    });
    g.finish();
}

criterion_group!(pprof, benches);
criterion_main!(pprof);
