//! Comparing two profiles: functions matched by identity (name + module file name, never by
//! address), their shares before and after, and whether a change is more than sampling noise.
//!
//! Significance: each sample is a draw; a function's self share is the proportion of draws
//! that landed in it. The change of that proportion between the two profiles is tested with a
//! two-proportion z-test on sample counts, and the p-values of all functions are corrected for
//! testing many at once with Benjamini–Hochberg (false discovery rate). A change is flagged
//! only when its corrected p-value is under α *and* it is at least a minimum size.

use super::{CallNodeTable, CallTree, FuncStat, Selection, top_functions};
use crate::model::Profile;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// How the two sides' weights are put on one scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalize {
    /// Share of each profile's total (the default: different lengths compare).
    #[default]
    Share,
    /// Weights as they are.
    Absolute,
    /// Weight per second of each profile's duration.
    PerSecond,
}

/// One function in both profiles.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FuncDiff {
    pub name: String,
    /// Module file name ("" without one).
    pub module: String,
    pub before_self: i64,
    pub after_self: i64,
    pub before_total: i64,
    pub after_total: i64,
    pub before_self_samples: u64,
    pub after_self_samples: u64,
    /// Self weight on the chosen scale (a share in percent, a weight, or weight per second).
    pub before: f64,
    pub after: f64,
    /// `after - before` on that scale.
    pub delta: f64,
    /// `after / before` (infinite for a new function, 0 for a gone one).
    pub ratio: f64,
    /// Self share change in percentage points, with its 95% confidence interval (from the
    /// sample counts).
    pub share_delta: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of the self share change, and after Benjamini–Hochberg.
    pub p_value: f64,
    pub q_value: f64,
    /// Significant (q < α) and at least the minimum change.
    pub significant: bool,
}

/// The comparison of two selections.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    pub normalize: Normalize,
    pub before_total: i64,
    pub after_total: i64,
    pub before_samples: u64,
    pub after_samples: u64,
    pub alpha: f64,
    /// Smallest self share change (percentage points) that is flagged.
    pub min_delta: f64,
    /// Every function of either side, largest share change first.
    pub functions: Vec<FuncDiff>,
}

#[derive(Default, Clone, Copy)]
struct Side {
    self_w: i64,
    total_w: i64,
    self_n: u64,
}

/// One side of a comparison as the views have it: a profile, its call nodes, the call tree of
/// a selection with that tree's top functions, and the seconds the selection spans.
#[derive(Clone, Copy)]
pub struct DiffInput<'a> {
    pub profile: &'a Profile,
    pub nodes: &'a CallNodeTable,
    pub tree: &'a CallTree,
    pub top: &'a [FuncStat],
    /// Seconds the selection spans (for weight per second).
    pub seconds: f64,
}

/// Seconds a selection of `p` spans: the sum of its time ranges, else the profile's duration
/// (1 when unknown, so "per second" stays a plain weight).
pub fn selection_seconds(p: &Profile, sel: &Selection) -> f64 {
    let ns: u64 = if sel.ranges.is_empty() {
        p.meta.duration_ns().unwrap_or(0)
    } else {
        sel.ranges
            .iter()
            .map(|r| r.1.saturating_sub(r.0))
            .fold(0u64, u64::saturating_add)
    };
    if ns == 0 { 1.0 } else { ns as f64 / 1e9 }
}

/// Per function identity: self and total weight and self samples of one side.
fn by_identity(side: &DiffInput<'_>) -> FxHashMap<(String, String), Side> {
    let p = side.profile;
    let mut out: FxHashMap<(String, String), Side> = FxHashMap::default();
    for s in side.top {
        let key = (
            p.func_name(s.func).to_owned(),
            p.func_module_name(s.func).to_owned(),
        );
        let e = out.entry(key).or_default();
        e.self_w = e.self_w.saturating_add(s.self_weight);
        // Two functions of one identity (same name and module, different addresses) each
        // count their samples; a sample in both is rare and counted twice in this total.
        e.total_w = e.total_w.saturating_add(s.total_weight);
        e.self_n += s.self_samples;
    }
    out
}

/// Two-sided p-value of a standard normal deviate: erfc(|z| / √2).
fn p_of_z(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// The complementary error function (Numerical Recipes' `erfcc`: relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Benjamini–Hochberg adjusted p-values, in the input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let v = (p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

/// The change of a proportion between two sets of draws: `x1` of `n1` before, `x2` of `n2`
/// after.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShareChange {
    /// Change in percentage points.
    pub delta: f64,
    /// 95% confidence interval of the change (unpooled standard error).
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of the two-proportion z-test (pooled proportion).
    pub p_value: f64,
}

/// Tests whether a proportion changed: `x1` of `n1` draws before, `x2` of `n2` after.
pub fn share_change(x1: u64, n1: u64, x2: u64, n2: u64) -> ShareChange {
    let (nf1, nf2) = (n1.max(1) as f64, n2.max(1) as f64);
    let (p1, p2) = (x1 as f64 / nf1, x2 as f64 / nf2);
    let pooled = (x1 + x2) as f64 / (n1 + n2).max(1) as f64;
    let se0 = (pooled * (1.0 - pooled) * (1.0 / nf1 + 1.0 / nf2)).sqrt();
    let p_value = if se0 > 0.0 {
        p_of_z((p2 - p1) / se0)
    } else {
        1.0
    };
    let se = (p1 * (1.0 - p1) / nf1 + p2 * (1.0 - p2) / nf2).sqrt();
    let d = (p2 - p1) * 100.0;
    ShareChange {
        delta: d,
        ci_low: d - 1.96 * se * 100.0,
        ci_high: d + 1.96 * se * 100.0,
        p_value,
    }
}

/// A weight on the chosen scale: percent of `total`, the weight, or weight per second.
pub fn scaled(normalize: Normalize, w: i64, total: i64, seconds: f64) -> f64 {
    match normalize {
        Normalize::Share => {
            if total == 0 {
                0.0
            } else {
                w as f64 * 100.0 / total as f64
            }
        }
        Normalize::Absolute => w as f64,
        Normalize::PerSecond => w as f64 / seconds.max(1e-9),
    }
}

/// `after / before` (infinite for a new function, 0 for a gone one, 1 for neither).
fn ratio(before: f64, after: f64) -> f64 {
    if before == 0.0 {
        if after == 0.0 { 1.0 } else { f64::INFINITY }
    } else {
        after / before
    }
}

/// Compares `before` and `after` (each with its own selection, e.g. its sample type).
pub fn diff(
    before: (&Profile, &Selection),
    after: (&Profile, &Selection),
    normalize: Normalize,
    alpha: f64,
    min_delta: f64,
) -> Diff {
    let side = |p: &Profile, sel: &Selection| {
        let nodes = CallNodeTable::build(p);
        let tree = nodes.tree(p, sel);
        let top = top_functions(p, &nodes, &tree);
        (nodes, tree, top, selection_seconds(p, sel))
    };
    let (an, at, atop, asecs) = side(before.0, before.1);
    let (bn, bt, btop, bsecs) = side(after.0, after.1);
    diff_of(
        &DiffInput {
            profile: before.0,
            nodes: &an,
            tree: &at,
            top: &atop,
            seconds: asecs,
        },
        &DiffInput {
            profile: after.0,
            nodes: &bn,
            tree: &bt,
            top: &btop,
            seconds: bsecs,
        },
        normalize,
        alpha,
        min_delta,
    )
}

/// Compares two sides whose trees are already built (the window's analyses).
pub fn diff_of(
    before: &DiffInput<'_>,
    after: &DiffInput<'_>,
    normalize: Normalize,
    alpha: f64,
    min_delta: f64,
) -> Diff {
    let a = by_identity(before);
    let b = by_identity(after);
    let (a_total, a_n) = (before.tree.total, before.tree.samples);
    let (b_total, b_n) = (after.tree.total, after.tree.samples);
    let mut keys: Vec<&(String, String)> = a.keys().chain(b.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut functions: Vec<FuncDiff> = keys
        .into_iter()
        .map(|key| {
            let x = a.get(key).copied().unwrap_or_default();
            let y = b.get(key).copied().unwrap_or_default();
            let c = share_change(x.self_n, a_n, y.self_n, b_n);
            let before_v = scaled(normalize, x.self_w, a_total, before.seconds);
            let after_v = scaled(normalize, y.self_w, b_total, after.seconds);
            FuncDiff {
                name: key.0.clone(),
                module: key.1.clone(),
                before_self: x.self_w,
                after_self: y.self_w,
                before_total: x.total_w,
                after_total: y.total_w,
                before_self_samples: x.self_n,
                after_self_samples: y.self_n,
                before: before_v,
                after: after_v,
                delta: after_v - before_v,
                ratio: ratio(before_v, after_v),
                share_delta: c.delta,
                ci_low: c.ci_low,
                ci_high: c.ci_high,
                p_value: c.p_value,
                q_value: 1.0,
                significant: false,
            }
        })
        .collect();
    let q = benjamini_hochberg(&functions.iter().map(|f| f.p_value).collect::<Vec<_>>());
    for (f, q) in functions.iter_mut().zip(q) {
        f.q_value = q;
        f.significant = q < alpha && f.share_delta.abs() >= min_delta;
    }
    functions.sort_by(|x, y| {
        y.share_delta
            .abs()
            .total_cmp(&x.share_delta.abs())
            .then_with(|| x.name.cmp(&y.name))
    });
    Diff {
        normalize,
        before_total: a_total,
        after_total: b_total,
        before_samples: a_n,
        after_samples: b_n,
        alpha,
        min_delta,
        functions,
    }
}

impl Diff {
    /// Functions whose self share grew by at least `pct` points, significantly; the largest
    /// growth first.
    pub fn regressions(&self, pct: f64) -> Vec<&FuncDiff> {
        let mut out: Vec<&FuncDiff> = self
            .functions
            .iter()
            .filter(|f| f.share_delta >= pct && f.q_value < self.alpha)
            .collect();
        out.sort_by(|x, y| y.share_delta.total_cmp(&x.share_delta));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_and_p_values_match_tables() {
        // Standard normal: two-sided p of 1.96 is 0.05, of 2.576 is 0.01, of 0 is 1.
        assert!((p_of_z(1.959_964) - 0.05).abs() < 1e-6);
        assert!((p_of_z(2.575_829) - 0.01).abs() < 1e-6);
        assert!((p_of_z(0.0) - 1.0).abs() < 1e-6);
        assert!(p_of_z(10.0) < 1e-20);
    }

    #[test]
    fn benjamini_hochberg_matches_a_worked_example() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }
}
