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

/// Peak resident memory of this process (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_ascii_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Resets [`peak_rss`] to what the process holds now.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// The budget holds before the big steps, not after them: a load refused at its budget has
/// not grown the process past the budget, because the stack table and the sample columns ask
/// before a step of 1 MiB or more (checking after the fact, every 10 ms, the same loads grew
/// 11, 24 and 37 MiB against budgets of 8, 16 and 32).
#[test]
fn a_refused_load_stays_near_its_budget() {
    let small = std::fs::read(sample("hot.perf.data")).unwrap();
    let big = synth::repeat_samples(&small, 256 << 20).unwrap();
    let mut o = LoadOptions::default();
    o.symbols.system_paths = false;
    o.symbols.kallsyms = None;
    for budget_mib in [8u64, 16, 32] {
        o.memory_limit = Some(budget_mib << 20);
        reset_peak_rss();
        let before = peak_rss();
        let r = load_bytes(&big, &o, &Progress::new());
        let grew = peak_rss().saturating_sub(before);
        match r {
            Err(e @ Error::TooBig { more, .. }) => {
                assert!(
                    more >= 1 << 20,
                    "refused by the periodic check, not the gate: {e}"
                );
                assert!(
                    grew <= budget_mib << 20,
                    "budget {budget_mib} MiB, grew {} KiB: {e}",
                    grew >> 10
                );
            }
            other => panic!("expected TooBig, got {:?}", other.map(|p| p.samples.len())),
        }
    }
}
