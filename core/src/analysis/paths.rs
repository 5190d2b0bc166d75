//! Trees derived from a call tree by merging paths of functions: the inverted (bottom-up) tree,
//! and a function's callers and callees (the sandwich view).
//!
//! Each result is an ordinary [`CallNodeTable`] with its [`CallTree`] and [`FlameLayout`], so
//! the flame graph, the tree table and every query over call nodes work on it unchanged. Its
//! `stack_node` is empty: derived nodes do not stand for stacks of the profile.

use super::calltree::{CallNodeTable, CallTree};
use super::flame::FlameLayout;
use crate::model::{FuncId, Profile};
use rustc_hash::FxHashMap;

/// A call tree made from merged paths.
#[derive(Clone, Debug, Default)]
pub struct DerivedTree {
    pub nodes: CallNodeTable,
    pub tree: CallTree,
    pub layout: FlameLayout,
}

/// A function's callers and callees with its own figures.
#[derive(Clone, Debug)]
pub struct Sandwich {
    pub func: FuncId,
    /// Paths from the function up to the roots: the root of this tree is the function (with
    /// its self cost), its children are its callers. Weight is the function's total, counted
    /// once per sample.
    pub callers: DerivedTree,
    /// Everything the function calls, its occurrences merged: the root is the function.
    pub callees: DerivedTree,
    pub self_weight: i64,
    pub total_weight: i64,
}

/// Nodes keyed by (parent, function), each inserted once; weights added as paths go in.
#[derive(Default)]
struct Trie {
    parent: Vec<u32>,
    func: Vec<FuncId>,
    index: FxHashMap<(u32, u32), u32>,
    self_weight: Vec<i64>,
    total_weight: Vec<i64>,
    self_samples: Vec<u64>,
    total_samples: Vec<u64>,
}

impl Trie {
    fn child(&mut self, parent: u32, func: FuncId) -> u32 {
        let next = self.parent.len() as u32;
        let id = *self.index.entry((parent, func.0)).or_insert(next);
        if id == next {
            self.parent.push(parent);
            self.func.push(func);
            self.self_weight.push(0);
            self.total_weight.push(0);
            self.self_samples.push(0);
            self.total_samples.push(0);
        }
        id
    }

    fn add_total(&mut self, node: u32, weight: i64, samples: u64) {
        let i = node as usize;
        self.total_weight[i] = self.total_weight[i].saturating_add(weight);
        self.total_samples[i] += samples;
    }

    fn add_self(&mut self, node: u32, weight: i64, samples: u64) {
        let i = node as usize;
        self.self_weight[i] = self.self_weight[i].saturating_add(weight);
        self.self_samples[i] += samples;
    }

    /// Numbers the nodes depth-first (siblings by name) and lays them out.
    fn finish(self, p: &Profile, total: i64, samples: u64) -> DerivedTree {
        let (nodes, new_of) = CallNodeTable::number(p, &self.parent, &self.func);
        let n = nodes.len();
        let mut tree = CallTree {
            self_weight: vec![0; n],
            total_weight: vec![0; n],
            self_samples: vec![0; n],
            total_samples: vec![0; n],
            total,
            samples,
        };
        for (old, &new) in new_of.iter().enumerate() {
            let new = new as usize;
            tree.self_weight[new] = self.self_weight[old];
            tree.total_weight[new] = self.total_weight[old];
            tree.self_samples[new] = self.self_samples[old];
            tree.total_samples[new] = self.total_samples[old];
        }
        let layout = FlameLayout::build(&nodes, &tree);
        DerivedTree {
            nodes,
            tree,
            layout,
        }
    }
}

const ROOT: u32 = u32::MAX;

/// The inverted call tree: roots are the functions samples were in (their self cost), children
/// are callers. One walk to the root per call node with self weight: O(Σ depth of those nodes).
pub fn bottom_up(p: &Profile, nodes: &CallNodeTable, tree: &CallTree) -> DerivedTree {
    let mut trie = Trie::default();
    for i in 0..nodes.len() {
        let (w, c) = (tree.self_weight[i], tree.self_samples[i]);
        if c == 0 && w == 0 {
            continue;
        }
        let leaf = trie.child(ROOT, nodes.func[i]);
        trie.add_self(leaf, w, c);
        trie.add_total(leaf, w, c);
        let mut at = leaf;
        let mut up = nodes.parent[i];
        while let Some(u) = up.get() {
            at = trie.child(at, nodes.func[u.index()]);
            trie.add_total(at, w, c);
            up = nodes.parent[u.index()];
        }
    }
    trie.finish(p, tree.total, tree.samples)
}

/// Callers and callees of `func`. Its outermost occurrences on each path count (recursion
/// once), as in the top functions table; their subtrees are disjoint, so the callees cost
/// O(call nodes) at most and the callers O(occurrences × depth).
pub fn sandwich(p: &Profile, nodes: &CallNodeTable, tree: &CallTree, func: FuncId) -> Sandwich {
    let mut callers = Trie::default();
    let mut callees = Trie::default();
    let caller_root = callers.child(ROOT, func);
    let callee_root = callees.child(ROOT, func);
    let (mut self_weight, mut total_weight) = (0i64, 0i64);
    let mut self_samples = 0u64;
    // Trie node of each call node of the current occurrence's subtree (a contiguous range).
    let mut mapped: Vec<u32> = Vec::new();
    let n = nodes.len();
    let mut i = 0;
    while i < n {
        if nodes.func[i] != func || nodes.recursive[i] {
            i += 1;
            continue;
        }
        let end = nodes.subtree_end[i] as usize;
        let (w, c) = (tree.total_weight[i], tree.total_samples[i]);
        if c == 0 && w == 0 {
            i = end;
            continue;
        }
        total_weight = total_weight.saturating_add(w);
        // Callers: the path above this occurrence, nearest caller first.
        callers.add_total(caller_root, w, c);
        let mut at = caller_root;
        let mut up = nodes.parent[i];
        while let Some(u) = up.get() {
            at = callers.child(at, nodes.func[u.index()]);
            callers.add_total(at, w, c);
            up = nodes.parent[u.index()];
        }
        // Callees: the subtree merged into the root. Self weight of inner recursive
        // occurrences is the function's own cost too.
        mapped.clear();
        for m in i..end {
            let node = if m == i {
                callee_root
            } else {
                let parent = mapped[nodes.parent[m].index() - i];
                callees.child(parent, nodes.func[m])
            };
            mapped.push(node);
            callees.add_self(node, tree.self_weight[m], tree.self_samples[m]);
            callees.add_total(node, tree.total_weight[m], tree.total_samples[m]);
            if nodes.func[m] == func {
                self_weight = self_weight.saturating_add(tree.self_weight[m]);
                self_samples += tree.self_samples[m];
            }
        }
        i = end;
    }
    // The callers' root is the function itself: its self cost is the function's.
    callers.add_self(caller_root, self_weight, self_samples);
    Sandwich {
        func,
        // Percentages are of the whole selection, as everywhere else.
        callers: callers.finish(p, tree.total, tree.samples),
        callees: callees.finish(p, tree.total, tree.samples),
        self_weight,
        total_weight,
    }
}
