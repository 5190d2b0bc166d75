//! Flame graph layout and queries over it.
//!
//! A node's box spans `start[n] .. start[n] + total_weight[n]` in weight units and sits on row
//! `depth[n]`. Siblings are laid out in the call node table's order (by name), each child
//! starting where its previous sibling ended, so a subtree stays inside its parent's span. All
//! passes are one forward loop over the depth-first table: no recursion, no per-node allocation.

use super::calltree::{CallNodeTable, CallTree};
use crate::model::{CallNodeId, FuncId};

/// Horizontal positions of every call node for one [`CallTree`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlameLayout {
    /// Left edge of each node in weight units from the left of the graph.
    pub start: Vec<i64>,
    /// Sum of the root nodes' totals: the width of the whole graph.
    pub width: i64,
    /// Deepest row that has weight, plus one (0 for an empty tree).
    pub rows: u32,
}

impl FlameLayout {
    /// Lays out `tree` in O(call nodes). Negative totals (possible in differential data) take
    /// no width.
    pub fn build(nodes: &CallNodeTable, tree: &CallTree) -> Self {
        let n = nodes.len();
        let mut start = vec![0i64; n];
        // Where the next child of each node starts; the roots share one cursor.
        let mut cursor = vec![0i64; n];
        let mut root_cursor = 0i64;
        let mut rows = 0u32;
        for i in 0..n {
            let w = tree.total_weight[i].max(0);
            let s = match nodes.parent[i].get() {
                Some(p) => &mut cursor[p.index()],
                None => &mut root_cursor,
            };
            start[i] = *s;
            *s = s.saturating_add(w);
            cursor[i] = start[i];
            if w > 0 {
                rows = rows.max(nodes.depth[i] + 1);
            }
        }
        FlameLayout {
            start,
            width: root_cursor,
            rows,
        }
    }

    /// The node whose box contains weight offset `x` on row `depth`, descending from the roots
    /// through the one child that contains `x`: O(depth × siblings).
    pub fn node_at(
        &self,
        nodes: &CallNodeTable,
        tree: &CallTree,
        x: f64,
        depth: u32,
    ) -> Option<CallNodeId> {
        let n = nodes.len();
        let mut i = 0usize;
        let mut end = n;
        while i < end {
            let w = tree.total_weight[i].max(0);
            let s = self.start[i] as f64;
            if w > 0 && x >= s && x < s + w as f64 {
                if nodes.depth[i] == depth {
                    return Some(CallNodeId::from_index(i));
                }
                // Descend: the children are the rest of this node's subtree.
                end = nodes.subtree_end[i] as usize;
                i += 1;
            } else {
                i = nodes.subtree_end[i] as usize;
            }
        }
        None
    }
}

/// The path from a root to `node`, root first.
pub fn ancestors(nodes: &CallNodeTable, node: CallNodeId) -> Vec<CallNodeId> {
    let mut path = Vec::new();
    let mut cur = node;
    while let Some(c) = cur.get() {
        if c.index() >= nodes.len() {
            break;
        }
        path.push(c);
        cur = nodes.parent[c.index()];
    }
    path.reverse();
    path
}

/// Total weight under call nodes whose function is in `matches` (indexed by function), each
/// sample counted once: a match's subtree is skipped, so a match below a match adds nothing.
pub fn matched_total(nodes: &CallNodeTable, tree: &CallTree, matches: &[bool]) -> i64 {
    let mut sum = 0i64;
    let mut i = 0;
    while i < nodes.len() {
        let f: FuncId = nodes.func[i];
        if matches.get(f.index()).copied().unwrap_or(false) {
            sum = sum.saturating_add(tree.total_weight[i]);
            i = nodes.subtree_end[i] as usize;
        } else {
            i += 1;
        }
    }
    sum
}
