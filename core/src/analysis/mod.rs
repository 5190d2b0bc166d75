//! Aggregation over a [`Selection`]: call tree, top functions, flame graph layout.
//!
//! Cost is O(samples + stacks) per selection change: one parallel pass over the selected
//! sample rows gives a weight per stack, everything else runs over stacks and call nodes.

/// `n` zeros, written. `vec![0; n]` takes fresh pages that read as the kernel's shared zero
/// page until written; an accumulator that reads before it writes (`a[i] += w`) then faults
/// twice per page, and the second fault (copy on write) flushes the TLB of every core running
/// a thread of the process. On the 1 GB capture's 8 M samples that was a fifth of the time of
/// adding them up. Writing the zeros first faults each page once, without a flush.
pub(crate) fn zeroed<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, T::default());
    v
}

/// Adds `chunks` of rows up in parallel into dense accumulators of `size` entries each:
/// `empty` makes one, `add` adds a chunk into one, `merge` adds one into another.
///
/// Every accumulator costs `size` to zero and `size` to merge, whatever its rows: a pprof heap
/// profile's 9 M stacks against 2 M samples made each rayon split a 144 MB accumulator (page
/// faults, zeroing and merging of 2 GB for 2 M additions). So there are about as many
/// accumulators as rows fill (rows / `size`), at most a few per core, one when the rows are
/// fewer than the entries.
pub(crate) fn accumulate<C, A>(
    chunks: &[(C, usize)],
    size: usize,
    empty: impl Fn() -> A + Sync,
    add: impl Fn(&mut A, &C) + Sync,
    merge: impl Fn(&mut A, A) + Sync,
) -> A
where
    C: Sync,
    A: Send,
{
    use rayon::prelude::*;
    let rows: usize = chunks.iter().map(|c| c.1).sum();
    let tasks = (rows / size.max(1))
        .min(4 * rayon::current_num_threads())
        .min(chunks.len())
        .max(1);
    let per_task = chunks.len().div_ceil(tasks).max(1);
    let one = |group: &[(C, usize)]| {
        let mut acc = empty();
        for (c, _) in group {
            add(&mut acc, c);
        }
        acc
    };
    if tasks == 1 {
        return one(chunks);
    }
    chunks
        .par_chunks(per_task)
        .map(one)
        .reduce_with(|mut a, b| {
            merge(&mut a, b);
            a
        })
        .unwrap_or_else(empty)
}

mod calltree;
mod diff;
mod disasm;
mod flame;
mod pathdiff;
mod paths;
mod ratio;
mod selection;
mod source;
mod timeline;
mod top;
pub mod transform;

pub use calltree::{
    CallNodeTable, CallTree, StackWeights, node_at_path, node_lines, stack_weights,
};
pub use diff::{
    Diff, DiffInput, FuncDiff, Normalize, ShareChange, benjamini_hochberg, diff, diff_of, scaled,
    selection_seconds, share_change,
};
pub use disasm::{Disassembly, Instruction, disassemble};
pub use flame::{FlameLayout, ancestors, matched_total};
pub use pathdiff::{Metric, PathChange, PathDiff, PathStat, TreeSide, path_diff};
pub use paths::{DerivedTree, Sandwich, bottom_up, sandwich};
pub use ratio::{Ratio, RatioSpec, known_ratios};
pub use selection::{LabelFilter, Selection};
pub use source::{LineCost, find_source, func_lines};
pub use timeline::{
    Activity, HeatMap, MAX_HEAT_COLUMNS, ThreadActivity, activity, heat_map, time_bounds,
};
pub use top::{FuncStat, top_functions};
pub use transform::Transform;

#[cfg(test)]
mod tests;
