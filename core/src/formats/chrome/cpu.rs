//! What `.cpuprofile`s and the CPU profiles inside traces share: the node table (a call tree
//! given as a flat list of nodes with parent or child links), stacks built from it, and the
//! samples with their two weights.

use super::json::{Int, List, Num, Obj, Str};
use crate::model::{FrameId, FuncKind, ModuleId, ProfileBuilder, StackId, StrId, ThreadId};
use crate::{Progress, Result};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// A profile node as written: `{"id", "callFrame": {...}, "hitCount"?, "children"?, "parent"?}`.
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct RawNode<'a> {
    pub id: Int,
    #[serde(borrow)]
    pub call_frame: Obj<RawCallFrame<'a>>,
    pub hit_count: Num,
    pub children: List<Int>,
    pub parent: Int,
}

/// `{"functionName", "scriptId", "url", "lineNumber" (0-based), "columnNumber", "codeType"?}`.
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct RawCallFrame<'a> {
    #[serde(borrow)]
    pub function_name: Str<'a>,
    #[serde(borrow)]
    pub url: Str<'a>,
    pub line_number: Num,
}

/// A node, its strings interned.
#[derive(Clone, Debug)]
pub(super) struct NodeRec {
    id: i64,
    parent: Option<i64>,
    children: Vec<i64>,
    name: StrId,
    /// `functionName` was `(root)`: V8's synthetic root, dropped from stacks.
    root_name: bool,
    file: StrId,
    /// 1-based line of the function's start, 0 when unknown.
    line: u32,
    kind: FuncKind,
    pub hit_count: f64,
}

impl NodeRec {
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Interns `raw`'s strings; `None` (counted in `issues`) when it has no integer id.
    pub fn new(b: &mut ProfileBuilder, raw: Obj<RawNode>, issues: &mut Issues) -> Option<NodeRec> {
        let Some(raw) = raw.0 else {
            issues.bad_nodes += 1;
            return None;
        };
        let Some(id) = raw.id.0 else {
            issues.bad_nodes += 1;
            return None;
        };
        let cf = raw.call_frame.0.unwrap_or_default();
        let fname = cf.function_name.as_str().unwrap_or("");
        let url = cf.url.as_str().unwrap_or("");
        let name = if fname.is_empty() {
            "(anonymous)"
        } else {
            fname
        };
        // V8's pseudo-functions: (root), (program), (idle), (garbage collector).
        let meta = url.is_empty() && name.starts_with('(') && name.ends_with(')');
        let line = match cf.line_number.0 {
            Some(l) if (0.0..f64::from(u32::MAX)).contains(&l) => l as u32 + 1,
            _ => 0,
        };
        if raw.children.wrong_type {
            issues.bad_nodes += 1;
        }
        let children = raw
            .children
            .items
            .iter()
            .filter_map(|c| {
                if c.0.is_none() {
                    issues.unknown_children += 1;
                }
                c.0
            })
            .collect();
        Some(NodeRec {
            id,
            parent: raw.parent.0,
            children,
            name: b.intern(name),
            root_name: fname == "(root)",
            file: if url.is_empty() {
                StrId::NONE
            } else {
                b.intern(url)
            },
            line,
            kind: if meta {
                FuncKind::Native
            } else {
                FuncKind::Interpreted
            },
            hit_count: raw.hit_count.0.unwrap_or(0.0).max(0.0),
        })
    }
}

/// Problems found in a profile's nodes and samples, reported once each at the end.
#[derive(Default, Debug)]
pub(super) struct Issues {
    pub bad_nodes: u64,
    pub duplicate_ids: u64,
    pub unknown_children: u64,
    pub unknown_parents: u64,
    pub two_parents: u64,
    pub cycles: u64,
    pub unknown_samples: u64,
    pub bad_deltas: u64,
    pub delta_mismatch: u64,
    pub huge_gaps: u64,
}

impl Issues {
    /// Adds one warning per kind of problem to `b`; `what` names the profile.
    pub fn report(&self, b: &mut ProfileBuilder, what: &str) {
        let mut warn = |n: u64, msg: &str| {
            if n > 0 {
                b.warn(format!("{what}: {n} {msg}"));
            }
        };
        warn(
            self.bad_nodes,
            "node(s) without an integer `id` or with malformed fields were skipped",
        );
        warn(
            self.duplicate_ids,
            "node(s) repeated an id already used; the first node with each id was kept",
        );
        warn(
            self.unknown_children,
            "`children` entries named no node and were ignored",
        );
        warn(
            self.unknown_parents,
            "`parent` links named no node; those nodes became roots",
        );
        warn(
            self.two_parents,
            "node(s) had a second parent; the first parent link was kept",
        );
        warn(
            self.cycles,
            "cycle(s) in the parent links were cut (the node where the walk met itself became a root)",
        );
        warn(
            self.unknown_samples,
            "sample(s) named no node; they count under `(unknown node)`",
        );
        warn(
            self.bad_deltas,
            "`timeDeltas` entries were not numbers and counted as 0",
        );
        warn(
            self.delta_mismatch,
            "time: `samples` and `timeDeltas` have different lengths; missing deltas count as 0",
        );
        warn(
            self.huge_gaps,
            "gap(s) between samples were over 2^48 ns (78 hours) and were clamped to it",
        );
    }
}

const NO_PARENT: u32 = u32::MAX;
const UNRESOLVED: u8 = 0;
const IN_PROGRESS: u8 = 1;
const RESOLVED: u8 = 2;

/// The nodes of one profile, linked, with their stacks computed on demand.
///
/// Ids in the file are arbitrary integers: `index` maps them to dense rows. Parent links come
/// from `children` lists first, then from `parent` fields; a node keeps its first parent. The
/// stack of a node is found by walking up to the first node whose stack is known (iteratively,
/// so chains of any length work) and is memoized, so each node is walked once.
pub(super) struct NodeTree {
    index: FxHashMap<i64, u32>,
    nodes: Vec<NodeRec>,
    parent: Vec<u32>,
    state: Vec<u8>,
    stack: Vec<StackId>,
    path: Vec<u32>,
    /// Stack of the `(root)` frame, for samples that hit the root itself.
    root_stack: StackId,
    unknown_stack: StackId,
}

impl NodeTree {
    pub fn build(recs: Vec<NodeRec>, issues: &mut Issues) -> NodeTree {
        let mut index = FxHashMap::default();
        index.reserve(recs.len());
        let mut nodes = Vec::with_capacity(recs.len());
        for r in recs {
            if index.contains_key(&r.id) {
                issues.duplicate_ids += 1;
                continue;
            }
            index.insert(r.id, nodes.len() as u32);
            nodes.push(r);
        }
        let mut parent = vec![NO_PARENT; nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for c in &n.children {
                match index.get(c) {
                    None => issues.unknown_children += 1,
                    Some(&c) if parent[c as usize] == NO_PARENT => parent[c as usize] = i as u32,
                    Some(&c) if parent[c as usize] == i as u32 => {}
                    Some(_) => issues.two_parents += 1,
                }
            }
        }
        for (i, n) in nodes.iter().enumerate() {
            let Some(p) = n.parent else { continue };
            match index.get(&p) {
                None => issues.unknown_parents += 1,
                Some(&p) if parent[i] == NO_PARENT => parent[i] = p,
                Some(&p) if parent[i] == p => {}
                Some(_) => issues.two_parents += 1,
            }
        }
        let n = nodes.len();
        NodeTree {
            index,
            nodes,
            parent,
            state: vec![UNRESOLVED; n],
            stack: vec![StackId::NONE; n],
            path: Vec::new(),
            root_stack: StackId::NONE,
            unknown_stack: StackId::NONE,
        }
    }

    pub fn nodes(&self) -> &[NodeRec] {
        &self.nodes
    }

    /// The frame of row `i`; `None` for V8's synthetic `(root)` (a parentless node named so).
    fn frame(&self, b: &mut ProfileBuilder, i: usize) -> Option<FrameId> {
        let n = &self.nodes[i];
        if n.root_name && self.parent[i] == NO_PARENT {
            return None;
        }
        let func = b.add_func(n.name, ModuleId::NONE, n.file, 0, n.kind);
        if n.line > 0 && b.funcs.start_line[func.index()] == 0 {
            b.funcs.start_line[func.index()] = n.line;
        }
        Some(b.add_frame(func, ModuleId::NONE, 0, n.line, 0))
    }

    /// The stack of row `i` (iterative walk to the nearest resolved ancestor, then down).
    fn stack_of_row(&mut self, b: &mut ProfileBuilder, i: u32, issues: &mut Issues) -> StackId {
        let mut cur = i;
        self.path.clear();
        let base = loop {
            match self.state[cur as usize] {
                RESOLVED => break self.stack[cur as usize],
                IN_PROGRESS => {
                    // Met a node of this walk again: a cycle. Cut it here.
                    issues.cycles += 1;
                    break StackId::NONE;
                }
                _ => {
                    self.state[cur as usize] = IN_PROGRESS;
                    self.path.push(cur);
                    match self.parent[cur as usize] {
                        NO_PARENT => break StackId::NONE,
                        p => cur = p,
                    }
                }
            }
        };
        let mut s = base;
        let path = std::mem::take(&mut self.path);
        for &n in path.iter().rev() {
            if let Some(f) = self.frame(b, n as usize) {
                s = b.add_stack(s, f);
            }
            self.stack[n as usize] = s;
            self.state[n as usize] = RESOLVED;
        }
        self.path = path;
        self.stack[i as usize]
    }

    /// The stack of the node with id `id` (a sample); never `NONE`: a sample of the root itself
    /// gets a `(root)` frame, an unknown id an `(unknown node)` frame (counted in `issues`).
    pub fn stack_of(
        &mut self,
        b: &mut ProfileBuilder,
        id: Option<i64>,
        issues: &mut Issues,
    ) -> StackId {
        let Some(&row) = id.and_then(|id| self.index.get(&id)) else {
            issues.unknown_samples += 1;
            if !self.unknown_stack.is_some() {
                let f = b.add_named_frame("(unknown node)", ModuleId::NONE, FuncKind::Native);
                self.unknown_stack = b.add_stack(StackId::NONE, f);
            }
            return self.unknown_stack;
        };
        let s = self.stack_of_row(b, row, issues);
        if s.is_some() {
            return s;
        }
        if !self.root_stack.is_some() {
            let f = b.add_named_frame("(root)", ModuleId::NONE, FuncKind::Native);
            self.root_stack = b.add_stack(StackId::NONE, f);
        }
        self.root_stack
    }
}

/// Sample type indices and count.
#[derive(Clone, Copy, Debug)]
pub(super) struct SampleTypes {
    /// "samples" (count): 1 per sample.
    pub samples: usize,
    /// "cpu time" (ns): the time until the next sample.
    pub cpu: usize,
    /// Number of sample types of the profile.
    pub n: usize,
}

/// Longest "cpu time" of one sample (2^48 ns, 78 hours), as the perf.data reader clamps
/// periods: a bigger gap comes from a damaged time, and the weights must add up without
/// overflowing.
const MAX_GAP_NS: i64 = 1 << 48;

/// µs (the formats' unit, possibly fractional) → ns, saturating.
pub(super) fn us_to_ns(us: f64) -> i64 {
    // `as` saturates on overflow and maps NaN to 0.
    (us * 1000.0).round() as i64
}

/// Adds the samples `ids` taken at `times_ns` to `thread`.
///
/// Weights: 1 for "samples"; for "cpu time", the time from the sample to the next one in time
/// order (samples are sorted by time first: V8 can write slightly out-of-order timestamps),
/// and for the last sample the profile's average interval, as Chrome DevTools does (speedscope
/// gives it 0; the time to `endTime` would favour whatever ran last).
#[allow(clippy::too_many_arguments)]
pub(super) fn add_samples(
    b: &mut ProfileBuilder,
    tree: &mut NodeTree,
    thread: ThreadId,
    ids: &[Option<i64>],
    times_ns: &[i64],
    types: SampleTypes,
    progress: &Progress,
    issues: &mut Issues,
) -> Result<()> {
    let n = ids.len().min(times_ns.len());
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| times_ns[i as usize]);
    let mut cpu = vec![0i64; n];
    for w in order.windows(2) {
        cpu[w[0] as usize] = times_ns[w[1] as usize].saturating_sub(times_ns[w[0] as usize]);
    }
    if let (Some(&first), Some(&last)) = (order.first(), order.last())
        && n >= 2
    {
        let span = times_ns[last as usize].saturating_sub(times_ns[first as usize]);
        cpu[last as usize] = span / (n as i64 - 1);
    }
    for c in &mut cpu {
        if *c > MAX_GAP_NS {
            *c = MAX_GAP_NS;
            issues.huge_gaps += 1;
        }
    }
    let mut weights = vec![0i64; types.n];
    for i in 0..n {
        if i.is_multiple_of(65536) {
            progress.check()?;
        }
        let stack = tree.stack_of(b, ids[i], issues);
        weights[types.samples] = 1;
        weights[types.cpu] = cpu[i];
        b.add_sample(thread, stack, times_ns[i].max(0) as u64, &weights);
    }
    Ok(())
}

/// Sample times: `start_ns` plus the running sum of `deltas` (µs, `None` = not a number,
/// counted as 0). A length mismatch is counted in `issues`; missing deltas are 0.
pub(super) fn sample_times(
    start_ns: i64,
    n_samples: usize,
    deltas: &[Num],
    issues: &mut Issues,
) -> Vec<i64> {
    if deltas.len() != n_samples {
        issues.delta_mismatch += 1;
    }
    let mut t = start_ns;
    let mut times = Vec::with_capacity(n_samples);
    for i in 0..n_samples {
        let d = match deltas.get(i) {
            Some(Num(Some(d))) => us_to_ns(*d),
            Some(Num(None)) => {
                issues.bad_deltas += 1;
                0
            }
            None => 0,
        };
        t = t.saturating_add(d);
        times.push(t);
    }
    times
}
