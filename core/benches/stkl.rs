//! Opening a `.stkl` capture against reading the same file from the page cache.
//!
//! The `.stkl` is made once from a big perf.data: `STKL_BENCH_PERF_DATA=/path/to/perf.data`
//! (e.g. a 1 GB capture), else the committed `hot.perf.data` with its samples repeated to
//! 100 MB (`formats::perf_data::synth`). Both benchmarks run in the same process, so their
//! ratio is what to quote:
//! - `page_cache`: the file read through one 128 KiB buffer, as `cat FILE > /dev/null` does
//!   (the floor: reading the file from the page cache);
//! - `read`: `std::fs::read` of the `.stkl` (the whole file into a new buffer);
//! - `open`: `stacklens_core::load` of the `.stkl` (map under a lease, validate, borrow the big
//!   columns from the map).
//!
//! `cargo bench -p stacklens-core --bench stkl`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stacklens_core::export::{ExportOptions, write_file};
use stacklens_core::formats::perf_data;
use stacklens_core::{LoadOptions, Progress, load, load_bytes};
use std::hint::black_box;
use std::path::PathBuf;

fn make_stkl(dir: &std::path::Path) -> PathBuf {
    let mut opts = LoadOptions::default();
    opts.symbols.search_dirs =
        vec![concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-profiles/bin").into()];
    let p = match std::env::var_os("STKL_BENCH_PERF_DATA") {
        Some(path) => load(path.as_ref(), &opts, &Progress::new()).expect("loading the perf.data"),
        None => {
            let small = std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../sample-profiles/hot.perf.data"
            ))
            .expect("sample-profiles/hot.perf.data");
            let big = perf_data::synth::repeat_samples(&small, 100 << 20).expect("generating");
            load_bytes(&big, &opts, &Progress::new()).expect("loading the generated file")
        }
    };
    let out = dir.join("bench.stkl");
    let eo = ExportOptions {
        sample_type: 0,
        title: String::new(),
    };
    write_file(&p, &out, &eo).expect("writing the .stkl");
    out
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = make_stkl(dir.path());
    let len = std::fs::metadata(&path).expect("stkl").len();
    eprintln!("stkl: {} MB", len >> 20);
    let mut g = c.benchmark_group("stkl");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("page_cache", |b| {
        b.iter(|| {
            use std::io::Read;
            let mut f = std::fs::File::open(&path).expect("open");
            let mut buf = vec![0u8; 128 << 10];
            let mut n = 0;
            loop {
                match f.read(&mut buf).expect("read") {
                    0 => break,
                    k => n += k,
                }
            }
            black_box(n)
        })
    });
    g.bench_function("read", |b| {
        b.iter(|| black_box(std::fs::read(&path).expect("read").len()))
    });
    g.bench_function("open", |b| {
        b.iter(|| {
            let p = load(&path, &LoadOptions::default(), &Progress::new()).expect("open");
            black_box(p.samples.len())
        })
    });
    g.finish();
}

criterion_group!(stkl, benches);
criterion_main!(stkl);
