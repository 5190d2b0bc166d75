//! Per-line cost of a function (for the source view) and finding its source file on disk.

use super::StackWeights;
use super::calltree::stack_totals;
use crate::model::{FuncId, Profile};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// One source line of a function with the weight spent there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCost {
    pub line: u32,
    /// Samples whose leaf frame is this line of the function.
    pub self_weight: i64,
    /// Samples with the function on the stack at this line (the line itself, or the call
    /// made from it), each sample once even when the function recurses.
    pub total_weight: i64,
    pub self_samples: u64,
    pub total_samples: u64,
}

/// Lines of `func` with their self and total cost in a selection (`sw`), by line number.
/// O(stacks): a reverse pass gives each stack's subtree weight, a forward pass marks stacks
/// that already have the function above them (their line cost is the outer call's).
pub fn func_lines(p: &Profile, sw: &StackWeights, func: FuncId) -> Vec<LineCost> {
    let StackWeights {
        weight: total_w,
        count: total_c,
        ..
    } = stack_totals(p, sw);
    let n = total_w.len();
    let is_func = |s: usize| p.frames.func[p.stacks.frame[s].index()] == func;
    // Does a stack's path (itself included) hold the function.
    let mut holds = vec![false; n];
    let mut lines: FxHashMap<u32, LineCost> = FxHashMap::default();
    for s in 0..n {
        let above = p.stacks.parent[s]
            .get()
            .is_some_and(|par| par.index() < n && holds[par.index()]);
        let here = is_func(s);
        holds[s] = above || here;
        if !here || total_c[s] == 0 {
            continue;
        }
        let line = p.frames.line[p.stacks.frame[s].index()];
        let e = lines.entry(line).or_insert_with(|| LineCost {
            line,
            ..LineCost::default()
        });
        e.self_weight = e.self_weight.saturating_add(sw.weight[s]);
        e.self_samples += sw.count[s];
        if !above {
            e.total_weight = e.total_weight.saturating_add(total_w[s]);
            e.total_samples += total_c[s];
        }
    }
    let mut out: Vec<LineCost> = lines.into_values().collect();
    out.sort_by_key(|l| l.line);
    out
}

/// Where the source file recorded as `recorded` is on this machine: the path itself, else
/// under each root, the recorded path with leading directories dropped one by one
/// (`/build/x/src/a.c` under `ROOT` tries `ROOT/build/x/src/a.c`, `ROOT/x/src/a.c`,
/// `ROOT/src/a.c`, `ROOT/a.c`).
pub fn find_source(recorded: &str, roots: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(recorded);
    if path.is_absolute() && path.is_file() {
        return Some(path.to_path_buf());
    }
    let parts: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    for root in roots {
        for skip in 0..parts.len().min(64) {
            let mut candidate = root.clone();
            candidate.extend(&parts[skip..]);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}
