//! Top functions: self and total per function.

use super::calltree::{CallNodeTable, CallTree};
use crate::model::{FuncId, Profile};

/// One function's figures in a selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncStat {
    pub func: FuncId,
    /// Weight of samples where the function is the leaf.
    pub self_weight: i64,
    /// Weight of samples where the function is anywhere on the stack, counted once per sample
    /// even when it recurses.
    pub total_weight: i64,
    pub self_samples: u64,
    pub total_samples: u64,
}

/// Per-function figures, sorted by self weight (then total, then name), descending; functions
/// with no weight are left out.
pub fn top_functions(p: &Profile, nodes: &CallNodeTable, tree: &CallTree) -> Vec<FuncStat> {
    let n_funcs = p.funcs.len();
    let mut stats: Vec<FuncStat> = (0..n_funcs)
        .map(|f| FuncStat {
            func: FuncId::from_index(f),
            self_weight: 0,
            total_weight: 0,
            self_samples: 0,
            total_samples: 0,
        })
        .collect();
    for i in 0..nodes.len() {
        let Some(s) = stats.get_mut(nodes.func[i].index()) else {
            continue;
        };
        s.self_weight = s.self_weight.saturating_add(tree.self_weight[i]);
        s.self_samples += tree.self_samples[i];
        if !nodes.recursive[i] {
            s.total_weight = s.total_weight.saturating_add(tree.total_weight[i]);
            s.total_samples += tree.total_samples[i];
        }
    }
    stats.retain(|s| s.total_samples > 0 || s.total_weight != 0);
    stats.sort_by(|a, b| {
        b.self_weight
            .cmp(&a.self_weight)
            .then(b.total_weight.cmp(&a.total_weight))
            .then_with(|| p.func_name(a.func).cmp(p.func_name(b.func)))
    });
    stats
}
