//! The memory budget of a load (issue 10, point 4). A test binary of its own: the budget is
//! measured on the whole process's memory, which other tests running alongside would move.

use stacklens_core::formats::perf_data::synth;
use stacklens_core::{Error, LoadOptions, Progress, load_bytes};
use stacklens_tests::*;

/// A load that outgrows its budget stops with "too big" (the default is 80% of the memory
/// available; here 1 MiB against a 16 MB capture); without a limit the same file loads.
#[test]
fn a_load_past_its_memory_budget_is_too_big_not_an_out_of_memory_kill() {
    let small = std::fs::read(sample("hot.perf.data")).unwrap();
    let big = synth::repeat_samples(&small, 16 << 20).unwrap();
    let mut o = LoadOptions::default();
    o.symbols.system_paths = false;
    o.symbols.kallsyms = None;
    o.memory_limit = Some(1 << 20);
    match load_bytes(&big, &o, &Progress::new()) {
        Err(e @ Error::TooBig { .. }) => {
            assert!(e.to_string().contains("too big"), "{e}");
        }
        other => panic!("expected TooBig, got {:?}", other.map(|p| p.samples.len())),
    }
    o.memory_limit = Some(0);
    assert!(
        load_bytes(&big, &o, &Progress::new())
            .unwrap()
            .samples
            .len()
            > 100_000
    );
}
