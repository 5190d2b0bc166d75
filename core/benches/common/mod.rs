//! The profile the analysis benches run on: the `.stkl` named by `STKL_BENCH_FILE` (e.g. one
//! converted from a 1 GB perf.data: `stacklens convert big.perf.data -o big.stkl`), else the
//! committed `hot.perf.data` with its samples repeated to 100 MB.

use stacklens_core::formats::perf_data;
use stacklens_core::model::Profile;
use stacklens_core::{LoadOptions, Progress, load, load_bytes};

pub fn big_profile() -> Profile {
    let mut p = match std::env::var_os("STKL_BENCH_FILE") {
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
    // A `.stkl` keeps the whole profile's sums, which would make the whole-profile selection
    // free; the benches measure adding the samples up, which every other selection needs.
    p.samples.whole = None;
    eprintln!("{} samples, {} stacks", p.samples.len(), p.stacks.len());
    p
}
