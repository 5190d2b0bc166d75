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
