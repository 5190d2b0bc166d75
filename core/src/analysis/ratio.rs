//! Ratios of two events per function and per call node: instructions per cycle, cache miss
//! rate, page faults per millisecond of CPU, ... Both events are aggregated over the same
//! selection (threads, time ranges, labels), each with its own weights.

use super::calltree::{CallNodeTable, CallTree, stack_weights};
use super::selection::Selection;
use crate::model::{FuncId, Profile, Unit};

/// A ratio of two sample types: `num` ÷ `den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RatioSpec {
    pub num: usize,
    pub den: usize,
}

impl RatioSpec {
    /// What the ratio is called: the usual name for the well-known pairs (IPC, miss rates),
    /// else "num ÷ den".
    pub fn name(self, p: &Profile) -> String {
        let (n, d) = (type_name(p, self.num), type_name(p, self.den));
        for &(pn, pd, label) in KNOWN {
            if base(&n) == pn && base(&d) == pd {
                return label.to_string();
            }
        }
        format!("{n} ÷ {d}")
    }

    /// The factor shown values are multiplied by, and its unit suffix: per millisecond when
    /// the denominator is time (ratio of counts to nanoseconds is unreadably small), percent
    /// for the miss rates, as is otherwise.
    pub fn scale(self, p: &Profile) -> (f64, &'static str) {
        let den_time = p
            .sample_types
            .get(self.den)
            .is_some_and(|t| t.unit == Unit::Nanoseconds);
        let num_time = p
            .sample_types
            .get(self.num)
            .is_some_and(|t| t.unit == Unit::Nanoseconds);
        if den_time && !num_time {
            return (1e6, " /ms");
        }
        let (n, d) = (type_name(p, self.num), type_name(p, self.den));
        if KNOWN
            .iter()
            .any(|&(pn, pd, l)| base(&n) == pn && base(&d) == pd && l.ends_with("rate"))
        {
            return (100.0, " %");
        }
        (1.0, "")
    }
}

/// Well-known event pairs: (numerator, denominator, name).
const KNOWN: &[(&str, &str, &str)] = &[
    ("instructions", "cycles", "IPC (instructions ÷ cycles)"),
    ("cycles", "instructions", "CPI (cycles ÷ instructions)"),
    ("cache-misses", "cache-references", "cache miss rate"),
    ("branch-misses", "branches", "branch miss rate"),
    (
        "L1-dcache-load-misses",
        "L1-dcache-loads",
        "L1 data miss rate",
    ),
    ("LLC-load-misses", "LLC-loads", "last-level cache miss rate"),
];

fn type_name(p: &Profile, ty: usize) -> String {
    p.sample_types
        .get(ty)
        .map_or_else(String::new, |t| t.name.clone())
}

/// The event name without perf's modifiers and terms: `cycles:u`, `cpu/cycles/u`,
/// `cycles#2` and `cpu-clock/freq=999/u` are `cycles`, `cycles`, `cycles`, `cpu-clock`.
fn base(name: &str) -> &str {
    let n = name.split('#').next().unwrap_or(name);
    let parts: Vec<&str> = n.split('/').collect();
    let n = match parts.as_slice() {
        [pmu, event, _, ..] if event.is_empty() || event.contains('=') => pmu,
        [_, event, _, ..] => event,
        _ => n,
    };
    n.split(':').next().unwrap_or(n)
}

/// The well-known ratios whose two events the profile has, in [`KNOWN`] order.
pub fn known_ratios(p: &Profile) -> Vec<RatioSpec> {
    let find =
        |want: &str| (0..p.sample_types.len()).find(|&i| base(&p.sample_types[i].name) == want);
    KNOWN
        .iter()
        .filter_map(|&(n, d, _)| {
            Some(RatioSpec {
                num: find(n)?,
                den: find(d)?,
            })
        })
        .collect()
}

/// Both events' weights over one selection, per call node and per function.
#[derive(Debug)]
pub struct Ratio {
    pub spec: RatioSpec,
    /// Per call node: the numerator's and the denominator's total (inclusive) weight.
    pub node_num: Vec<i64>,
    pub node_den: Vec<i64>,
    /// Per function (indexed by `FuncId`): self weights of both events.
    pub func_self: Vec<(i64, i64)>,
    /// Per function: total weights of both, each sample counted once however often the
    /// function recurses in it.
    pub func_total: Vec<(i64, i64)>,
    /// The whole selection: (numerator, denominator).
    pub overall: (i64, i64),
    /// [`RatioSpec::scale`], worked out once.
    pub scale: (f64, &'static str),
}

impl Ratio {
    /// Computes both events over `sel` (its sample type is ignored).
    pub fn compute(p: &Profile, nodes: &CallNodeTable, sel: &Selection, spec: RatioSpec) -> Self {
        let tree = |ty: usize| -> CallTree {
            let s = Selection {
                sample_type: ty,
                ..sel.clone()
            };
            nodes.tree_from(&stack_weights(p, &s))
        };
        let (tn, td) = rayon::join(|| tree(spec.num), || tree(spec.den));
        let per_func = |t: &CallTree| {
            let stats = super::top::top_functions(p, nodes, t);
            let mut self_w = vec![0i64; p.funcs.len()];
            let mut total_w = vec![0i64; p.funcs.len()];
            for s in stats {
                self_w[s.func.index()] = s.self_weight;
                total_w[s.func.index()] = s.total_weight;
            }
            (self_w, total_w)
        };
        let ((sn, tn_f), (sd, td_f)) = (per_func(&tn), per_func(&td));
        Ratio {
            spec,
            scale: spec.scale(p),
            overall: (tn.total, td.total),
            func_self: sn.into_iter().zip(sd).collect(),
            func_total: tn_f.into_iter().zip(td_f).collect(),
            node_num: tn.total_weight,
            node_den: td.total_weight,
        }
    }

    /// `num / den` scaled for display (see [`RatioSpec::value`]).
    pub fn value(&self, num: i64, den: i64) -> Option<f64> {
        (den != 0).then(|| num as f64 / den as f64 * self.scale.0)
    }

    /// Self weights of both events for `f`.
    pub fn self_of(&self, f: FuncId) -> (i64, i64) {
        self.func_self.get(f.index()).copied().unwrap_or((0, 0))
    }

    /// Total weights of both events for `f`.
    pub fn total_of(&self, f: FuncId) -> (i64, i64) {
        self.func_total.get(f.index()).copied().unwrap_or((0, 0))
    }

    /// How far a call node's ratio lies from the whole selection's: log2(node ÷ overall),
    /// `None` when either has a zero denominator or numerator ratio is undefined.
    pub fn node_log_ratio(&self, node: usize) -> Option<f64> {
        let (n, d) = (*self.node_num.get(node)?, *self.node_den.get(node)?);
        let (on, od) = self.overall;
        if d == 0 || od == 0 || on == 0 {
            return None;
        }
        let r = (n as f64 / d as f64) / (on as f64 / od as f64);
        (r > 0.0).then(|| r.log2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Progress, load};

    fn hot_2events() -> Profile {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles");
        let mut o = LoadOptions::default();
        o.symbols.search_dirs = vec![dir.join("bin")];
        o.symbols.kallsyms = None;
        o.symbols.system_paths = false;
        load(&dir.join("hot-2events.perf.data"), &o, &Progress::new()).unwrap()
    }

    #[test]
    fn both_events_agree_with_perf_report_and_divide() {
        // perf report on the file (hot-2events.perf.data.perf-report.txt): cpu-clock:u event
        // count 1200200199, leaf_a 34.03 % of it; page-faults:u event count 413.
        let p = hot_2events();
        let clock = p.sample_type_index("cpu-clock:u").unwrap();
        let faults = p.sample_type_index("page-faults:u").unwrap();
        let spec = RatioSpec {
            num: faults,
            den: clock,
        };
        let nodes = CallNodeTable::build(&p);
        let r = Ratio::compute(&p, &nodes, &Selection::all(0), spec);
        assert_eq!(r.overall, (413, 1_200_200_199));
        let leaf_a = (0..p.funcs.len())
            .map(FuncId::from_index)
            .find(|&f| p.func_name(f) == "leaf_a")
            .unwrap();
        let (pf, clk) = r.self_of(leaf_a);
        assert_eq!(pf, 0, "no page faults in the hot loop");
        let share = clk as f64 / 1_200_200_199.0 * 100.0;
        assert!((share - 34.03).abs() < 0.006, "leaf_a {share:.3}%");
        // Per millisecond of CPU, since the denominator is time.
        assert_eq!(spec.scale(&p), (1e6, " /ms"));
        let v = r.value(r.overall.0, r.overall.1).unwrap();
        assert!((v - 413.0 / 1200.200199).abs() < 1e-9, "{v}");
        assert_eq!(spec.name(&p), "page-faults:u ÷ cpu-clock:u");
        // The root call nodes hold everything of both events.
        let roots: i64 = (0..nodes.len())
            .filter(|&i| !nodes.parent[i].is_some())
            .map(|i| r.node_num[i])
            .sum();
        assert_eq!(roots, 413);
    }

    #[test]
    fn modifiers_do_not_hide_a_known_pair() {
        assert_eq!(base("cycles:u"), "cycles");
        assert_eq!(base("cpu/instructions/"), "instructions");
        assert_eq!(base("cache-misses#2"), "cache-misses");
        assert_eq!(base("cpu/cycles/u"), "cycles");
        assert_eq!(base("cpu-clock/freq=999/u"), "cpu-clock");
        assert_eq!(base("page-faults"), "page-faults");
    }
}
