//! perf.data throughput on a generated 100+ MB file (the committed `hot.perf.data` capture with
//! its samples repeated, see `formats::perf_data::synth`).
//!
//! Groups:
//! - `record-walk`: decoding every SAMPLE record's fields, stacklens' hand-written walk over the
//!   mapped bytes vs the `linux-perf-data` crate over the same bytes (the measurement behind
//!   the choice documented in `formats::perf_data`).
//! - `pipeline`: parse + symbolize + freeze + call tree + top functions, the work of
//!   `stacklens report`, on 1 thread and on all cores.
//! - `stages`: each step of that on its own, with its throughput: `parse` (bytes into the
//!   builder's tables), `symbolize` (frames named per second), `freeze` (samples sorted into
//!   the profile), `aggregate` (samples into the call tree), `layout` (call nodes into the
//!   flame graph's rectangles). The generated file has few distinct frames, so these run on
//!   the real capture named by `STACKLENS_BENCH_PERF` when it is set (e.g. the
//!   `bench/data/fp-100mb.perf.data` that `bench/compare-peers.sh` records: 100 MB of a
//!   multi-threaded zstd with its inline frames).
//!
//! `cargo bench -p stacklens-core --bench perf_data`; throughput is printed in MiB/s.

use criterion::BatchSize;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stacklens_core::analysis::{CallNodeTable, FlameLayout, Selection, top_functions};
use stacklens_core::formats::{parse_bytes, perf_data};
use stacklens_core::{LoadOptions, Progress, load_bytes, symbols};
use std::hint::black_box;

const TARGET_BYTES: usize = 100 << 20;

fn big_file() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sample-profiles/hot.perf.data"
    );
    let small = std::fs::read(path).expect("sample-profiles/hot.perf.data");
    perf_data::synth::repeat_samples(&small, TARGET_BYTES).expect("generating the big file")
}

fn opts() -> LoadOptions {
    let mut o = LoadOptions::default();
    o.symbols.search_dirs =
        vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-profiles/bin").into()];
    o
}

fn linux_perf_data_walk(data: &[u8]) -> (u64, u64, u64) {
    use linux_perf_data::linux_perf_event_reader::EventRecord;
    use linux_perf_data::{PerfFileReader, PerfFileRecord};
    let PerfFileReader {
        mut perf_file,
        mut record_iter,
    } = PerfFileReader::parse_file(std::io::Cursor::new(data))
        .expect("linux-perf-data parses the file");
    let (mut samples, mut frames, mut checksum) = (0u64, 0u64, 0u64);
    while let Some(rec) = record_iter.next_record(&mut perf_file).expect("record") {
        if let PerfFileRecord::EventRecord { record, .. } = rec
            && let Ok(EventRecord::Sample(s)) = record.parse()
        {
            samples += 1;
            frames += s.callchain.map_or(0, |c| c.len() as u64);
            checksum = checksum
                .wrapping_add(s.ip.unwrap_or(0))
                .wrapping_add(s.timestamp.unwrap_or(0));
        }
    }
    (samples, frames, checksum)
}

fn benches(c: &mut Criterion) {
    let data = big_file();
    let mib = data.len() as f64 / (1 << 20) as f64;
    let ours = perf_data::decode_samples(&data).expect("decode");
    let theirs = linux_perf_data_walk(&data);
    assert_eq!(
        (ours.samples, ours.frames, ours.checksum),
        theirs,
        "both readers see the same samples"
    );
    eprintln!(
        "generated perf.data: {mib:.1} MiB, {} samples, {} callchain entries",
        ours.samples, ours.frames
    );

    let mut g = c.benchmark_group("record-walk");
    g.sample_size(10)
        .throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("stacklens", |b| {
        b.iter(|| black_box(perf_data::decode_samples(black_box(&data)).unwrap()))
    });
    g.bench_function("linux-perf-data", |b| {
        b.iter(|| black_box(linux_perf_data_walk(black_box(&data))))
    });
    g.finish();

    let report = |data: &[u8]| {
        let p = load_bytes(data, &opts(), &Progress::new()).unwrap();
        let nodes = CallNodeTable::build(&p);
        let tree = nodes.tree(&p, &Selection::all(p.default_sample_type()));
        top_functions(&p, &nodes, &tree).len()
    };
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("report/all-cores", |b| {
        b.iter(|| black_box(report(black_box(&data))))
    });
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    g.bench_function("report/1-thread", |b| {
        b.iter(|| one.install(|| black_box(report(black_box(&data)))))
    });
    g.finish();

    match std::env::var_os("STACKLENS_BENCH_PERF") {
        Some(path) => stages(c, &std::fs::read(&path).expect("STACKLENS_BENCH_PERF")),
        None => stages(c, &data),
    }
}

fn stages(c: &mut Criterion, data: &[u8]) {
    let o = opts();
    let parse = || parse_bytes(data, &o, &Progress::new()).unwrap();
    let symbolized = || {
        let mut b = parse();
        symbols::symbolize(&mut b, &o.symbols, &Progress::new()).unwrap();
        b
    };
    let p = symbolized().freeze();
    let nodes = CallNodeTable::build(&p);
    let all = Selection::all(p.default_sample_type());
    let tree = nodes.tree(&p, &all);
    let samples = p.samples.len() as u64;
    eprintln!(
        "stages: {samples} samples, {} frames, {} call nodes",
        p.frames.len(),
        nodes.len()
    );

    let mut g = c.benchmark_group("stages");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("parse", |b| b.iter(|| black_box(parse().sample_count())));
    g.throughput(Throughput::Elements(p.frames.len() as u64));
    g.bench_function("symbolize", |b| {
        b.iter_batched(
            parse,
            |mut b| {
                symbols::symbolize(&mut b, &o.symbols, &Progress::new()).unwrap();
                b
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(samples));
    g.bench_function("freeze", |b| {
        b.iter_batched(symbolized, |b| b.freeze(), BatchSize::LargeInput)
    });
    g.bench_function("aggregate", |b| {
        b.iter(|| black_box(nodes.tree(&p, &all).total))
    });
    g.throughput(Throughput::Elements(nodes.len() as u64));
    g.bench_function("layout", |b| {
        b.iter(|| black_box(FlameLayout::build(&nodes, &tree).width))
    });
    g.finish();
}

criterion_group!(perf_data_benches, benches);
criterion_main!(perf_data_benches);
