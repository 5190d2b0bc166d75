//! The call node table (stacks merged by function) and the call tree of a selection.
//!
//! Several stacks can map to one call node: two frames of the same function at different
//! addresses or lines are one node. Call nodes are numbered in depth-first order, so a node's
//! subtree is the contiguous range `n..subtree_end[n]` and `parent[n] < n` — totals are one
//! reverse pass, and a view can skip a whole subtree in one step.

use super::Selection;
use crate::model::{CallNodeId, FuncId, Profile, ThreadId};
use rustc_hash::FxHashMap;

/// Call nodes in depth-first order. Derived from the profile alone (not the selection).
#[derive(Clone, Debug, Default)]
pub struct CallNodeTable {
    pub parent: Vec<CallNodeId>,
    pub func: Vec<FuncId>,
    pub depth: Vec<u32>,
    /// Exclusive end of the node's subtree in this table's order.
    pub subtree_end: Vec<u32>,
    /// True when an ancestor of the node has the same function (recursion): the function's
    /// total is counted at the outermost occurrence only.
    pub recursive: Vec<bool>,
    /// The call node of every stack.
    pub stack_node: Vec<CallNodeId>,
}

/// Each function's place in the order of (name, id), as a lookup: siblings are sorted by it.
/// Functions past the profile's table (none in a checked profile) come last, by id.
fn name_ranks<'a>(p: &'a Profile, used: &[FuncId]) -> impl Fn(FuncId) -> (u32, u32) + 'a {
    let n = p.funcs.len();
    let mut seen = vec![false; n];
    for f in used {
        if let Some(s) = seen.get_mut(f.index()) {
            *s = true;
        }
    }
    let mut by_name: Vec<u32> = (0..n as u32).filter(|&f| seen[f as usize]).collect();
    by_name.sort_unstable_by(|&a, &b| {
        p.func_name(FuncId(a))
            .cmp(p.func_name(FuncId(b)))
            .then(a.cmp(&b))
    });
    let mut rank = vec![u32::MAX; n];
    for (r, &f) in by_name.iter().enumerate() {
        rank[f as usize] = r as u32;
    }
    move |f: FuncId| (rank.get(f.index()).copied().unwrap_or(u32::MAX), f.0)
}

/// How many lookups ahead [`CallNodeTable::build`] fetches the slot of.
const PREFETCH_AHEAD: usize = 16;

/// (parent node, function) → node, for [`CallNodeTable::build`]: open addressing with linear
/// probing in one array of 12-byte slots, sized once for every stack (no rehash), with a
/// prefetch of the slot a key will probe first.
struct PairIndex {
    slots: Vec<[u32; 3]>,
    shift: u32,
}

impl PairIndex {
    const EMPTY: u32 = u32::MAX;

    fn with_capacity(n: usize) -> Self {
        let len = (n.saturating_mul(8) / 7 + 1).next_power_of_two().max(16);
        Self {
            slots: vec![[0, 0, Self::EMPTY]; len],
            shift: 64 - len.trailing_zeros(),
        }
    }

    fn slot(&self, parent: u32, func: u32) -> usize {
        // Fibonacci hashing: the product's top bits depend on every bit of the pair.
        let key = (u64::from(parent) << 32) | u64::from(func);
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn prefetch(&self, parent: u32, func: u32) {
        crate::prefetch(&self.slots, self.slot(parent, func));
    }

    /// The node of (`parent`, `func`), made by `make` when new. The table never fills: it has
    /// more slots than [`with_capacity`](Self::with_capacity)'s `n`, and at most `n` are taken.
    fn get_or_insert(&mut self, parent: u32, func: u32, make: impl FnOnce() -> u32) -> u32 {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(parent, func);
        loop {
            let [p, f, node] = self.slots[i];
            if node == Self::EMPTY {
                let node = make();
                self.slots[i] = [parent, func, node];
                return node;
            }
            if p == parent && f == func {
                return node;
            }
            i = (i + 1) & mask;
        }
    }
}

/// The stacks ordered by depth (roots first), by index within a depth.
///
/// Merging stacks into call nodes looks up (parent's node, function) for each stack. In stack
/// order a stack's parent is mostly the stack just before, so each lookup waits for the one
/// before it; in a table of millions of nodes each is a cache miss, taken one at a time. By
/// depth, the lookups of one level depend only on the level before, and the processor
/// overlaps their misses, or [`PairIndex::prefetch`] fetches them ahead (a pprof heap
/// profile of 9 M stacks: 1.15 s in stack order, 0.76 s by level, 0.33 s with prefetch).
fn level_order(p: &Profile) -> Vec<u32> {
    let n = p.stacks.len();
    let mut depth: Vec<u32> = Vec::with_capacity(n);
    let mut per_depth: Vec<u32> = Vec::new();
    for s in 0..n {
        let d = match p.stacks.parent[s].get() {
            Some(ps) if ps.index() < s => depth[ps.index()] + 1,
            _ => 0,
        };
        depth.push(d);
        if per_depth.len() <= d as usize {
            per_depth.resize(d as usize + 1, 0);
        }
        per_depth[d as usize] += 1;
    }
    let mut next: Vec<u32> = Vec::with_capacity(per_depth.len());
    let mut at = 0u32;
    for c in per_depth {
        next.push(at);
        at += c;
    }
    let mut order = vec![0u32; n];
    for (s, &d) in depth.iter().enumerate() {
        order[next[d as usize] as usize] = s as u32;
        next[d as usize] += 1;
    }
    order
}

impl CallNodeTable {
    /// Builds the table in O(stacks), without recursion.
    pub fn build(p: &Profile) -> Self {
        let n_stacks = p.stacks.len();
        // 1. Provisional nodes, a level at a time (parents before children).
        let mut index = PairIndex::with_capacity(n_stacks);
        let mut prov_parent: Vec<u32> = Vec::with_capacity(n_stacks);
        let mut prov_func: Vec<FuncId> = Vec::with_capacity(n_stacks);
        let mut stack_prov: Vec<u32> = vec![0; n_stacks];
        let order = level_order(p);
        let key = |s: u32, stack_prov: &[u32]| {
            let s = s as usize;
            let parent = match p.stacks.parent[s].get() {
                Some(ps) => stack_prov[ps.index()],
                None => u32::MAX,
            };
            (parent, p.frames.func[p.stacks.frame[s].index()])
        };
        for (k, &s) in order.iter().enumerate() {
            // The lookups of a level are independent: fetch the slot of one a few ahead.
            // (Its parent is in an earlier level, so its key is known already.)
            if let Some(&ahead) = order.get(k + PREFETCH_AHEAD) {
                let (parent, func) = key(ahead, &stack_prov);
                index.prefetch(parent, func.0);
            }
            let (parent, func) = key(s, &stack_prov);
            stack_prov[s as usize] = index.get_or_insert(parent, func.0, || {
                prov_parent.push(parent);
                prov_func.push(func);
                prov_parent.len() as u32 - 1
            });
        }
        drop(index);
        let (mut t, new_of) = Self::number(p, &prov_parent, &prov_func);
        t.stack_node = stack_prov
            .iter()
            .map(|&v| CallNodeId(new_of[v as usize]))
            .collect();
        t
    }

    /// Numbers provisional nodes (`prov_parent[i] < i` or `u32::MAX` for a root) in
    /// depth-first order with siblings by name; returns the table (without `stack_node`) and
    /// each provisional node's new number.
    pub(crate) fn number(
        p: &Profile,
        prov_parent: &[u32],
        prov_func: &[FuncId],
    ) -> (Self, Vec<u32>) {
        let n = prov_parent.len();

        // 2. Children lists (CSR), then an iterative depth-first numbering.
        let mut child_count = vec![0u32; n + 1];
        for &par in prov_parent {
            if par != u32::MAX {
                child_count[par as usize] += 1;
            }
        }
        let mut child_start = vec![0u32; n + 1];
        for i in 0..n {
            child_start[i + 1] = child_start[i] + child_count[i];
        }
        let mut fill = child_start.clone();
        let mut children = vec![0u32; child_start[n] as usize];
        for (c, &par) in prov_parent.iter().enumerate() {
            if par != u32::MAX {
                children[fill[par as usize] as usize] = c as u32;
                fill[par as usize] += 1;
            }
        }
        // Siblings in name order (then function id): the flame graph's left-to-right order,
        // independent of the order samples arrived in.
        // Compared as ranks: the names are sorted once, not once per pair of siblings.
        let rank = name_ranks(p, prov_func);
        let by_name = |a: &u32, b: &u32| {
            let (fa, fb) = (prov_func[*a as usize], prov_func[*b as usize]);
            rank(fa).cmp(&rank(fb))
        };
        for v in 0..n {
            let (a, b) = (child_start[v] as usize, child_start[v + 1] as usize);
            children[a..b].sort_unstable_by(by_name);
        }
        let mut roots: Vec<u32> = (0..n as u32)
            .filter(|&i| prov_parent[i as usize] == u32::MAX)
            .collect();
        roots.sort_unstable_by(by_name);
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut todo: Vec<u32> = roots.into_iter().rev().collect();
        while let Some(v) = todo.pop() {
            order.push(v);
            let (a, b) = (
                child_start[v as usize] as usize,
                child_start[v as usize + 1] as usize,
            );
            todo.extend(children[a..b].iter().rev());
        }
        let mut new_of = vec![0u32; n];
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }

        // 3. Columns in the new order.
        let mut t = CallNodeTable {
            parent: Vec::with_capacity(n),
            func: Vec::with_capacity(n),
            depth: Vec::with_capacity(n),
            subtree_end: vec![0; n],
            recursive: vec![false; n],
            stack_node: Vec::new(),
        };
        for &old in &order {
            let par = prov_parent[old as usize];
            let parent = if par == u32::MAX {
                CallNodeId::NONE
            } else {
                CallNodeId(new_of[par as usize])
            };
            let depth = parent.get().map_or(0, |pp| t.depth[pp.index()] + 1);
            t.parent.push(parent);
            t.func.push(prov_func[old as usize]);
            t.depth.push(depth);
        }
        for i in (0..n).rev() {
            if t.subtree_end[i] == 0 {
                t.subtree_end[i] = i as u32 + 1;
            }
            if let Some(pp) = t.parent[i].get() {
                t.subtree_end[pp.index()] = t.subtree_end[pp.index()].max(t.subtree_end[i]);
            }
        }

        // 4. Recursion flags: walk in depth-first order keeping the functions on the path.
        // (No function, or one past the table, shares the last slot.)
        let slot = |f: FuncId| f.index().min(p.funcs.len());
        let mut on_path: Vec<u32> = vec![0; p.funcs.len() + 1];
        let mut path: Vec<usize> = Vec::new();
        for i in 0..n {
            while path.len() > t.depth[i] as usize {
                let gone = path.pop().expect("path is deeper than the node");
                on_path[slot(t.func[gone])] -= 1;
            }
            let f = slot(t.func[i]);
            t.recursive[i] = on_path[f] > 0;
            on_path[f] += 1;
            path.push(i);
        }
        (t, new_of)
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The call tree of a selection.
    pub fn tree(&self, p: &Profile, sel: &Selection) -> CallTree {
        self.tree_from(&stack_weights(p, sel))
    }

    /// The call tree from weights per stack (see [`stack_weights`]).
    pub fn tree_from(&self, sw: &StackWeights) -> CallTree {
        let n = self.len();
        let mut tree = CallTree {
            self_weight: super::zeroed(n),
            total_weight: super::zeroed(n),
            self_samples: super::zeroed(n),
            total_samples: super::zeroed(n),
            total: 0,
            samples: 0,
        };
        for (s, (&w, &c)) in sw.weight.iter().zip(&sw.count).enumerate() {
            if c == 0 {
                continue;
            }
            let node = self.stack_node[s].index();
            tree.self_weight[node] = tree.self_weight[node].saturating_add(w);
            tree.self_samples[node] += c;
            tree.total = tree.total.saturating_add(w);
            tree.samples += c;
        }
        tree.total_weight.copy_from_slice(&tree.self_weight);
        tree.total_samples.copy_from_slice(&tree.self_samples);
        for i in (0..n).rev() {
            if let Some(pp) = self.parent[i].get() {
                tree.total_weight[pp.index()] =
                    tree.total_weight[pp.index()].saturating_add(tree.total_weight[i]);
                tree.total_samples[pp.index()] += tree.total_samples[i];
            }
        }
        tree
    }
}

/// The call node whose path from the root has these function names (the first such node in
/// depth-first order): the same place in another table of the same code.
pub fn node_at_path<S: AsRef<str>>(
    p: &Profile,
    nodes: &CallNodeTable,
    names: &[S],
) -> Option<CallNodeId> {
    let mut matched = vec![false; nodes.len()];
    for i in 0..nodes.len() {
        let d = nodes.depth[i] as usize;
        if d >= names.len() || p.func_name(nodes.func[i]) != names[d].as_ref() {
            continue;
        }
        let parent_ok = match nodes.parent[i].get() {
            Some(up) => matched[up.index()],
            None => d == 0,
        };
        if parent_ok {
            matched[i] = true;
            if d + 1 == names.len() {
                return Some(CallNodeId::from_index(i));
            }
        }
    }
    None
}

/// The weights of one selection per call node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallTree {
    pub self_weight: Vec<i64>,
    pub total_weight: Vec<i64>,
    pub self_samples: Vec<u64>,
    pub total_samples: Vec<u64>,
    /// Sum of the selection's weights.
    pub total: i64,
    /// Samples in the selection (with a non-zero weight in its sample type).
    pub samples: u64,
}

pub use crate::model::StackWeights;

/// Samples per rayon task: big enough that the per-task bookkeeping is noise, small enough to
/// spread a thread's samples over every core. (64K rows of 12 bytes ≈ 768 KiB, an L2's worth.)
const SAMPLES_PER_TASK: usize = 64 * 1024;

/// The selection's sample rows cut into tasks of at most [`SAMPLES_PER_TASK`] rows, for the
/// passes over samples that run in parallel.
pub(crate) fn sample_chunks(p: &Profile, sel: &Selection) -> Vec<std::ops::Range<usize>> {
    thread_chunks(p, sel).into_iter().map(|(_, r)| r).collect()
}

/// [`sample_chunks`], each with its thread.
fn thread_chunks(p: &Profile, sel: &Selection) -> Vec<(ThreadId, std::ops::Range<usize>)> {
    let mut chunks = Vec::new();
    for (t, r) in sel.thread_slices(p) {
        let mut a = r.start;
        while a < r.end {
            let b = (a + SAMPLES_PER_TASK).min(r.end);
            chunks.push((t, a..b));
            a = b;
        }
    }
    chunks
}

/// Weight and sample count of every stack's subtree (the stack and all stacks above it):
/// one reverse pass, since a parent comes before its children.
pub(crate) fn stack_totals(p: &Profile, sw: &StackWeights) -> StackWeights {
    let n = p.stacks.len().min(sw.weight.len()).min(sw.count.len());
    let mut t = StackWeights {
        weight: sw.weight[..n].to_vec(),
        count: sw.count[..n].to_vec(),
        per_thread: sw.per_thread.clone(),
    };
    for s in (0..n).rev() {
        if let Some(par) = p.stacks.parent[s].get()
            && par.index() < n
        {
            t.weight[par.index()] = t.weight[par.index()].saturating_add(t.weight[s]);
            t.count[par.index()] += t.count[s];
        }
    }
    t
}

/// The only pass over samples: weight and count per stack (and samples per thread) for a
/// selection, in parallel over chunks of rows; each task adds into its own vectors, merged by
/// addition, so the result does not depend on the number of threads. Nothing is allocated per
/// sample. A whole-profile selection whose sums a reader already made ([`Profile::whole_weights`])
/// takes those.
pub fn stack_weights(p: &Profile, sel: &Selection) -> StackWeights {
    if sel.is_whole()
        && let Some(w) = p.whole_weights(sel.sample_type)
    {
        return w.clone();
    }
    let (n, n_threads) = (p.stacks.len(), p.threads.len());
    let chunks = thread_chunks(p, sel);
    let stacks = &p.samples.stack;
    let ty = sel.sample_type;
    let mask = sel.label_mask(p);
    let sets = &p.samples.label_set;
    let keep = |row: usize| match &mask {
        None => true,
        Some(m) => {
            let s = sets.get(row).copied().unwrap_or(0) as usize;
            m.get(s).copied().unwrap_or(false)
        }
    };
    let add = |acc: &mut StackWeights, (t, r): &(ThreadId, std::ops::Range<usize>)| {
        let mut added = 0u64;
        p.samples.weights.for_each(ty, r.clone(), |row, w| {
            if !keep(row) {
                return;
            }
            if let Some(i) = stacks[row].get() {
                // Saturating: hostile periods must not overflow (or panic in debug builds).
                acc.weight[i.index()] = acc.weight[i.index()].saturating_add(w);
                acc.count[i.index()] += 1;
                added += 1;
            }
        });
        acc.per_thread[t.index()] += added;
    };
    let empty = || StackWeights {
        weight: super::zeroed(n),
        count: super::zeroed(n),
        per_thread: vec![0; n_threads],
    };
    let chunks: Vec<_> = chunks.into_iter().map(|c| (c.clone(), c.1.len())).collect();
    super::accumulate(&chunks, n, empty, add, |a, b| a.absorb(&b))
}

/// Source lines of one call node's frames with the weight spent at each (the line itself for
/// samples in the node, the call site for samples below it), heaviest first. One pass over the
/// stacks: meant for a hover, not for every node.
pub fn node_lines(
    p: &Profile,
    nodes: &CallNodeTable,
    sw: &StackWeights,
    node: CallNodeId,
) -> Vec<(u32, i64)> {
    let mut total = stack_totals(p, sw).weight;
    total.truncate(nodes.stack_node.len());
    let mut lines: FxHashMap<u32, i64> = FxHashMap::default();
    for (s, &w) in total.iter().enumerate() {
        if nodes.stack_node[s] != node || w == 0 {
            continue;
        }
        let line = p.frames.line[p.stacks.frame[s].index()];
        if line > 0 {
            let e = lines.entry(line).or_insert(0);
            *e = e.saturating_add(w);
        }
    }
    let mut out: Vec<(u32, i64)> = lines.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}
