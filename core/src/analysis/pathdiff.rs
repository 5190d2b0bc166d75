//! Comparing two call trees path by path: a call path is the sequence of function identities
//! (name + module file name) from the root, so the same code path matches across two runs
//! whatever its addresses or function ids.
//!
//! Every call node of either tree maps to its identity path; sibling nodes of one identity
//! (the same function at two addresses) merge into one path. Each path gets both sides'
//! total and self figures and a two-proportion test of its share change, corrected for the
//! number of paths tested (Benjamini–Hochberg), for the total and the self figures
//! separately. The differential flame graph colours the after tree with it; paths only
//! before are listed as elided.

use super::diff::{Normalize, benjamini_hochberg, scaled, share_change};
use super::{CallNodeTable, CallTree};
use crate::model::{CallNodeId, FuncId, Profile};
use rustc_hash::FxHashMap;

/// No node on that side.
const NONE: u32 = u32::MAX;

/// Which figure of a path is compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Metric {
    /// Samples with the path anywhere on the stack (the box's width).
    #[default]
    Total,
    /// Samples whose stack ends at the path.
    Exclusive,
}

/// Both sides' figures of one identity path.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PathStat {
    pub before_total: i64,
    pub before_self: i64,
    pub before_total_samples: u64,
    pub before_self_samples: u64,
    pub after_total: i64,
    pub after_self: i64,
    pub after_total_samples: u64,
    pub after_self_samples: u64,
    /// Benjamini–Hochberg adjusted p-values of the total and the self share change.
    pub q_total: f32,
    pub q_self: f32,
}

/// One side of the comparison: a profile with its call nodes and the tree of a selection.
#[derive(Clone, Copy)]
pub struct TreeSide<'a> {
    pub profile: &'a Profile,
    pub nodes: &'a CallNodeTable,
    pub tree: &'a CallTree,
    /// Seconds the selection spans (for weight per second).
    pub seconds: f64,
}

/// The path-by-path comparison of two call trees.
#[derive(Clone, Debug, Default)]
pub struct PathDiff {
    /// Per identity path.
    pub paths: Vec<PathStat>,
    /// Per identity path: its parent path (`u32::MAX` for a root).
    pub parent: Vec<u32>,
    /// Per call node of each side: its identity path.
    pub before_path: Vec<u32>,
    pub after_path: Vec<u32>,
    /// Per identity path: the first call node of each side on it (`u32::MAX`: none).
    pub before_node: Vec<u32>,
    pub after_node: Vec<u32>,
    /// Paths with samples before and none after whose parent has samples after (or that are
    /// roots): the tops of what the after profile no longer runs, heaviest first.
    pub elided: Vec<u32>,
    pub before_total: i64,
    pub after_total: i64,
    pub before_samples: u64,
    pub after_samples: u64,
    pub before_seconds: f64,
    pub after_seconds: f64,
    pub alpha: f64,
    /// Smallest share change (percentage points) flagged as significant.
    pub min_delta: f64,
}

/// Compares the trees of `before` and `after` path by path.
pub fn path_diff<'a>(
    before: &TreeSide<'a>,
    after: &TreeSide<'a>,
    alpha: f64,
    min_delta: f64,
) -> PathDiff {
    // One id per function identity, shared by both profiles.
    let mut idents: FxHashMap<(&str, &str), u32> = FxHashMap::default();
    let before_ident = intern(&mut idents, before.profile);
    let after_ident = intern(&mut idents, after.profile);

    let mut d = PathDiff {
        before_total: before.tree.total,
        after_total: after.tree.total,
        before_samples: before.tree.samples,
        after_samples: after.tree.samples,
        before_seconds: before.seconds,
        after_seconds: after.seconds,
        alpha,
        min_delta,
        ..PathDiff::default()
    };
    // (parent path + 1, identity) -> path; parents come before children in both tables.
    let mut index: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    for (is_before, side, ident) in [(true, before, &before_ident), (false, after, &after_ident)] {
        let nodes = side.nodes;
        let tree = side.tree;
        let mut of_node = vec![NONE; nodes.len()];
        for i in 0..nodes.len() {
            let parent = nodes.parent[i].get().map_or(NONE, |p| of_node[p.index()]);
            let key = (parent.wrapping_add(1), ident[nodes.func[i].index()]);
            let path = *index.entry(key).or_insert_with(|| {
                d.paths.push(PathStat::default());
                d.parent.push(parent);
                d.before_node.push(NONE);
                d.after_node.push(NONE);
                (d.paths.len() - 1) as u32
            });
            of_node[i] = path;
            let pi = path as usize;
            let s = &mut d.paths[pi];
            let (tw, sw) = (
                tree.total_weight.get(i).copied().unwrap_or(0),
                tree.self_weight.get(i).copied().unwrap_or(0),
            );
            let (tn, sn) = (
                tree.total_samples.get(i).copied().unwrap_or(0),
                tree.self_samples.get(i).copied().unwrap_or(0),
            );
            if is_before {
                s.before_total += tw;
                s.before_self += sw;
                s.before_total_samples += tn;
                s.before_self_samples += sn;
                if d.before_node[pi] == NONE {
                    d.before_node[pi] = i as u32;
                }
            } else {
                s.after_total += tw;
                s.after_self += sw;
                s.after_total_samples += tn;
                s.after_self_samples += sn;
                if d.after_node[pi] == NONE {
                    d.after_node[pi] = i as u32;
                }
            }
        }
        if is_before {
            d.before_path = of_node;
        } else {
            d.after_path = of_node;
        }
    }

    // Test the paths with samples on either side; total and self separately.
    let (n1, n2) = (d.before_samples, d.after_samples);
    for metric in [Metric::Total, Metric::Exclusive] {
        let tested: Vec<usize> = (0..d.paths.len())
            .filter(|&i| {
                let (x1, x2) = counts(&d.paths[i], metric);
                x1 + x2 > 0
            })
            .collect();
        let p: Vec<f64> = tested
            .iter()
            .map(|&i| {
                let (x1, x2) = counts(&d.paths[i], metric);
                share_change(x1, n1, x2, n2).p_value
            })
            .collect();
        let q = benjamini_hochberg(&p);
        for (&i, q) in tested.iter().zip(q) {
            match metric {
                Metric::Total => d.paths[i].q_total = q as f32,
                Metric::Exclusive => d.paths[i].q_self = q as f32,
            }
        }
        // Untested paths have no samples: nothing changed.
        for s in &mut d.paths {
            let (x1, x2) = counts(s, metric);
            if x1 + x2 == 0 {
                match metric {
                    Metric::Total => s.q_total = 1.0,
                    Metric::Exclusive => s.q_self = 1.0,
                }
            }
        }
    }

    let mut elided: Vec<u32> = (0..d.paths.len() as u32)
        .filter(|&i| {
            let s = &d.paths[i as usize];
            let parent = d.parent[i as usize];
            s.before_total_samples > 0
                && s.after_total_samples == 0
                && (parent == NONE || d.paths[parent as usize].after_total_samples > 0)
        })
        .collect();
    elided.sort_by(|&x, &y| {
        d.paths[y as usize]
            .before_total
            .cmp(&d.paths[x as usize].before_total)
            .then(x.cmp(&y))
    });
    d.elided = elided;
    d
}

/// An identity id per function of `p`, added to `idents`.
fn intern<'a>(idents: &mut FxHashMap<(&'a str, &'a str), u32>, p: &'a Profile) -> Vec<u32> {
    (0..p.funcs.len())
        .map(|f| {
            let f = FuncId::from_index(f);
            let next = idents.len() as u32;
            *idents
                .entry((p.func_name(f), p.func_module_name(f)))
                .or_insert(next)
        })
        .collect()
}

/// Sample counts of a path before and after.
fn counts(s: &PathStat, metric: Metric) -> (u64, u64) {
    match metric {
        Metric::Total => (s.before_total_samples, s.after_total_samples),
        Metric::Exclusive => (s.before_self_samples, s.after_self_samples),
    }
}

/// What a path's box shows: its value on both sides on the chosen scale, and its share change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathChange {
    pub before: f64,
    pub after: f64,
    /// `after - before` on the chosen scale.
    pub delta: f64,
    /// Share change in percentage points, its 95% interval and p-value (from sample counts).
    pub share: super::diff::ShareChange,
    /// Benjamini–Hochberg adjusted p-value.
    pub q_value: f64,
    /// `q < alpha` and the share changed by at least the minimum.
    pub significant: bool,
}

impl PathDiff {
    /// The change of `path` on `metric`, with weights on the `normalize` scale.
    pub fn change(&self, path: u32, metric: Metric, normalize: Normalize) -> Option<PathChange> {
        let s = self.paths.get(path as usize)?;
        let (bw, aw, q) = match metric {
            Metric::Total => (s.before_total, s.after_total, s.q_total),
            Metric::Exclusive => (s.before_self, s.after_self, s.q_self),
        };
        let (x1, x2) = counts(s, metric);
        let share = share_change(x1, self.before_samples, x2, self.after_samples);
        let before = scaled(normalize, bw, self.before_total, self.before_seconds);
        let after = scaled(normalize, aw, self.after_total, self.after_seconds);
        let q_value = q as f64;
        Some(PathChange {
            before,
            after,
            delta: after - before,
            share,
            q_value,
            significant: q_value < self.alpha && share.delta.abs() >= self.min_delta,
        })
    }

    /// The path of call node `node` of the after tree.
    pub fn path_of_after(&self, node: CallNodeId) -> Option<u32> {
        self.after_path
            .get(node.index())
            .copied()
            .filter(|&p| p != NONE)
    }

    /// The path of call node `node` of the before tree.
    pub fn path_of_before(&self, node: CallNodeId) -> Option<u32> {
        self.before_path
            .get(node.index())
            .copied()
            .filter(|&p| p != NONE)
    }

    /// The before call node on `path`.
    pub fn before_node_of(&self, path: u32) -> Option<CallNodeId> {
        let n = *self.before_node.get(path as usize)?;
        (n != NONE).then(|| CallNodeId::from_index(n as usize))
    }

    /// The after call node on `path`.
    pub fn after_node_of(&self, path: u32) -> Option<CallNodeId> {
        let n = *self.after_node.get(path as usize)?;
        (n != NONE).then(|| CallNodeId::from_index(n as usize))
    }

    /// The largest |delta| over the after tree's paths that are significant on `metric` (the
    /// colour scale's end); 0 when none is.
    pub fn max_significant_delta(&self, metric: Metric, normalize: Normalize) -> f64 {
        let mut max = 0.0f64;
        for (i, &an) in self.after_node.iter().enumerate() {
            if an == NONE {
                continue;
            }
            if let Some(c) = self.change(i as u32, metric, normalize)
                && c.significant
            {
                max = max.max(c.delta.abs());
            }
        }
        max
    }
}
