//! Transforms: rewrite every stack of a profile (focus, merge, drop, collapse), applied in
//! order, giving a derived [`Profile`] that every view and export reads unchanged.
//!
//! Each transform is a function of a stack alone, so it runs over the stack table, not over
//! samples: one pass per transform in stack order (a parent before its children, so no
//! recursion), each stack's result computed from its parent's. Only the final remapping of the
//! sample rows touches samples (in parallel), and the derived profile shares every other
//! column with the original (columns are reference-counted).
//!
//! Functions are named by pattern (a regex over function names, or a call path of names), not
//! by id, so a list of transforms means the same on any profile and can be saved as a preset.

use super::calltree::sample_chunks;
use crate::model::{FrameId, FuncId, FuncKind, ModuleId, Profile, StackId, StackTable};
use rayon::prelude::*;
use regex::Regex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One rewrite of the stacks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Transform {
    /// Only samples under this call path (function names from the root down), re-rooted at the
    /// path's last function.
    FocusSubtree { path: Vec<String> },
    /// Only samples whose stack has a function matching `pattern`, re-rooted at the outermost
    /// match.
    FocusFunction { pattern: String },
    /// Frames of matching functions are taken out of the stacks; their cost goes to the
    /// caller. (A sample whose every frame matches has no stack left and leaves the graph.)
    Merge { pattern: String },
    /// Samples with a matching function anywhere in the stack are left out.
    Drop { pattern: String },
    /// Recursion folded into its outermost call. Without a pattern, direct recursion of every
    /// function (a run of frames of one function becomes one frame); with one, any recursion
    /// of a matching function, through other functions too (the frames in between go).
    CollapseRecursion { pattern: Option<String> },
    /// Each run of frames in a module (by file name, e.g. `libc.so.6`) becomes one frame
    /// named after the module.
    CollapseModule { module: String },
    /// Call nodes holding less than `basis_points` / 100 percent of the weight (of the
    /// profile's default sample type) are cut off the stacks with everything below them; their
    /// samples count as their caller's self cost. Roots stay, so the total is unchanged.
    /// (pprof's `-nodefraction`, applied to the call tree.)
    HideBelow { basis_points: u32 },
}

impl Transform {
    /// A short description for a chip or a report header.
    pub fn label(&self) -> String {
        match self {
            Transform::FocusSubtree { path } => {
                format!("focus subtree: {}", path.last().map_or("", String::as_str))
            }
            Transform::FocusFunction { pattern } => format!("focus: {pattern}"),
            Transform::Merge { pattern } => format!("merge: {pattern}"),
            Transform::Drop { pattern } => format!("drop: {pattern}"),
            Transform::CollapseRecursion { pattern: None } => "collapse recursion".into(),
            Transform::CollapseRecursion {
                pattern: Some(pattern),
            } => format!("collapse recursion: {pattern}"),
            Transform::CollapseModule { module } => format!("collapse module: {module}"),
            Transform::HideBelow { basis_points } => {
                format!("hide below {}%", percent_text(*basis_points))
            }
        }
    }

    /// The pattern matching exactly the function named `name`.
    pub fn exact(name: &str) -> String {
        format!("^{}$", regex::escape(name))
    }
}

/// `basis_points` as a percentage without trailing zeros (`50` → `0.5`).
fn percent_text(basis_points: u32) -> String {
    let s = format!("{:.2}", basis_points as f64 / 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Parses a percentage (`0.5`, `2`, `1.25%`) into basis points.
pub fn parse_percent(text: &str) -> Result<u32, String> {
    let t = text.trim().trim_end_matches('%');
    let v: f64 = t
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{text}: a percentage is between 0 and 100"));
    }
    Ok((v * 100.0).round() as u32)
}

/// The stack table being built by a pass, deduplicating (parent, frame).
struct Out {
    parent: Vec<StackId>,
    frame: Vec<FrameId>,
    index: FxHashMap<(u32, u32), u32>,
}

/// Result of a pass for one input stack: not part of any output stack.
const DROPPED: StackId = StackId(u32::MAX - 1);

impl Out {
    fn new(capacity: usize) -> Self {
        Self {
            parent: Vec::with_capacity(capacity),
            frame: Vec::with_capacity(capacity),
            index: FxHashMap::default(),
        }
    }

    /// The stack `parent` + `frame` (`parent` NONE: a root).
    fn add(&mut self, parent: StackId, frame: FrameId) -> StackId {
        let next = self.parent.len() as u32;
        let id = *self.index.entry((parent.0, frame.0)).or_insert_with(|| {
            self.parent.push(parent);
            self.frame.push(frame);
            next
        });
        StackId(id)
    }
}

/// The working tables of a run of passes.
struct Work<'a> {
    p: &'a Profile,
    parent: Vec<StackId>,
    frame: Vec<FrameId>,
    /// Function and module of each frame, extended by synthetic module frames.
    frame_func: Vec<FuncId>,
    frame_module: Vec<ModuleId>,
    /// Synthetic functions (collapsed modules): (module) → (func id, frame id).
    synthetic: Vec<(ModuleId, FuncId, FrameId)>,
    /// Original stack → current stack (NONE: empty stack, DROPPED: left out).
    map: Vec<StackId>,
}

impl Work<'_> {
    /// Runs one pass: `step(out, parent_result, parent_state, frame) -> (result, state)` for
    /// each current stack in order, roots getting `(NONE, S::default())` as their parent's.
    fn pass<S: Clone + Default>(
        &mut self,
        mut step: impl FnMut(&mut Out, StackId, &S, FrameId) -> (StackId, S),
    ) {
        let n = self.parent.len();
        let mut out = Out::new(n);
        let mut result = vec![StackId::NONE; n];
        let mut state: Vec<S> = Vec::with_capacity(n);
        let root = S::default();
        for s in 0..n {
            let (r, st) = match self.parent[s].get() {
                Some(par) => step(
                    &mut out,
                    result[par.index()],
                    &state[par.index()],
                    self.frame[s],
                ),
                None => step(&mut out, StackId::NONE, &root, self.frame[s]),
            };
            result[s] = r;
            state.push(st);
        }
        for m in &mut self.map {
            if m.is_some() && *m != DROPPED {
                *m = result[m.index()];
            }
        }
        self.parent = out.parent;
        self.frame = out.frame;
    }

    /// Per function: does its name match `pattern`.
    fn matching(&self, pattern: &str) -> Result<Vec<bool>, String> {
        let re = Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        Ok((0..self.p.funcs.len() + self.synthetic.len())
            .map(|f| re.is_match(self.name(FuncId::from_index(f))))
            .collect())
    }

    fn name(&self, f: FuncId) -> &str {
        match f.index().checked_sub(self.p.funcs.len()) {
            None => self.p.func_name(f),
            Some(i) => self.p.str(self.p.modules.name[self.synthetic[i].0.index()]),
        }
    }

    fn apply(&mut self, t: &Transform) -> Result<(), String> {
        match t {
            Transform::FocusSubtree { path } => focus_subtree(self, path),
            Transform::FocusFunction { pattern } => {
                let m = self.matching(pattern)?;
                let ff = self.frame_func.clone();
                self.pass(|out, up, inside: &bool, f| {
                    if *inside {
                        (out.add(up, f), true)
                    } else if m[ff[f.index()].index()] {
                        (out.add(StackId::NONE, f), true)
                    } else {
                        (DROPPED, false)
                    }
                });
            }
            Transform::Merge { pattern } => {
                let m = self.matching(pattern)?;
                let ff = self.frame_func.clone();
                self.pass(|out, up, _: &(), f| {
                    if m[ff[f.index()].index()] {
                        (up, ())
                    } else {
                        (out.add(up, f), ())
                    }
                });
            }
            Transform::Drop { pattern } => {
                let m = self.matching(pattern)?;
                let ff = self.frame_func.clone();
                self.pass(|out, up, dead: &bool, f| {
                    if *dead || m[ff[f.index()].index()] {
                        (DROPPED, true)
                    } else {
                        (out.add(up, f), false)
                    }
                });
            }
            Transform::CollapseRecursion { pattern: None } => {
                let ff = self.frame_func.clone();
                // State: the function of the stack's top frame after the pass.
                self.pass(|out, up, top: &Option<FuncId>, f| {
                    let func = ff[f.index()];
                    if *top == Some(func) && up.is_some() {
                        (up, *top)
                    } else {
                        (out.add(up, f), Some(func))
                    }
                });
            }
            Transform::CollapseRecursion {
                pattern: Some(pattern),
            } => {
                let m = self.matching(pattern)?;
                let ff = self.frame_func.clone();
                // State: the outermost call of a matching function on the path and its stack.
                self.pass(|out, up, outer: &Option<(FuncId, StackId)>, f| {
                    let func = ff[f.index()];
                    match *outer {
                        Some((g, at)) if g == func => (at, *outer),
                        Some(_) => (out.add(up, f), *outer),
                        None if m[func.index()] => {
                            let s = out.add(up, f);
                            (s, Some((func, s)))
                        }
                        None => (out.add(up, f), None),
                    }
                });
            }
            Transform::HideBelow { basis_points } => self.hide_below(*basis_points),
            Transform::CollapseModule { module } => {
                let mods: Vec<ModuleId> = (0..self.p.modules.len())
                    .map(ModuleId::from_index)
                    .filter(|&m| self.p.str(self.p.modules.name[m.index()]) == module)
                    .collect();
                if mods.is_empty() {
                    return Err(format!("no module named {module:?}"));
                }
                // One synthetic function and frame per collapsed module.
                let mut synth_frame: FxHashMap<ModuleId, FrameId> = FxHashMap::default();
                for &m in &mods {
                    let frame = match self.synthetic.iter().find(|s| s.0 == m) {
                        Some(s) => s.2,
                        None => {
                            let func =
                                FuncId::from_index(self.p.funcs.len() + self.synthetic.len());
                            let frame = FrameId::from_index(self.frame_func.len());
                            self.frame_func.push(func);
                            self.frame_module.push(m);
                            self.synthetic.push((m, func, frame));
                            frame
                        }
                    };
                    synth_frame.insert(m, frame);
                }
                let fm = self.frame_module.clone();
                // State: the top frame of the result is this module's synthetic frame.
                self.pass(|out, up, in_module: &Option<ModuleId>, f| {
                    let m = fm[f.index()];
                    match synth_frame.get(&m) {
                        Some(_) if *in_module == Some(m) => (up, Some(m)),
                        Some(&sf) => (out.add(up, sf), Some(m)),
                        None => (out.add(up, f), None),
                    }
                });
            }
        }
        Ok(())
    }
}

impl Work<'_> {
    /// Weight of the default sample type per current stack: one parallel pass over the
    /// sample rows.
    fn stack_weights(&self) -> Vec<i64> {
        let n_orig = self.map.len();
        let p = self.p;
        let ty = p.default_sample_type();
        let chunks: Vec<_> = sample_chunks(p, &super::Selection::all(ty))
            .into_iter()
            .map(|r| (r.clone(), r.len()))
            .collect();
        let per_orig = super::accumulate(
            &chunks,
            n_orig,
            || super::zeroed::<i64>(n_orig),
            |acc, r| {
                p.samples.weights.for_each(ty, r.clone(), |row, w| {
                    if let Some(s) = p.samples.stack[row].get()
                        && s.index() < n_orig
                    {
                        acc[s.index()] = acc[s.index()].saturating_add(w.max(0));
                    }
                });
            },
            |a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x = x.saturating_add(*y);
                }
            },
        );
        let mut cur = vec![0i64; self.parent.len()];
        for (orig, &m) in self.map.iter().enumerate() {
            if m.is_some() && m != DROPPED {
                cur[m.index()] = cur[m.index()].saturating_add(per_orig[orig]);
            }
        }
        cur
    }

    fn hide_below(&mut self, basis_points: u32) {
        let counts = self.stack_weights();
        let n = self.parent.len();
        // Call nodes of the current stacks (stacks merged by function path), numbered in
        // stack order so a parent comes first; totals by one reverse pass.
        let mut index: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        let mut node_parent: Vec<u32> = Vec::new();
        let mut node_of = vec![0u32; n];
        for s in 0..n {
            let up = self.parent[s]
                .get()
                .map_or(u32::MAX, |p| node_of[p.index()]);
            let func = self.frame_func[self.frame[s].index()];
            let next = node_parent.len() as u32;
            let id = *index.entry((up, func.0)).or_insert_with(|| {
                node_parent.push(up);
                next
            });
            node_of[s] = id;
        }
        let mut total = vec![0i64; node_parent.len()];
        for s in 0..n {
            let v = node_of[s] as usize;
            total[v] = total[v].saturating_add(counts[s]);
        }
        for v in (0..node_parent.len()).rev() {
            if node_parent[v] != u32::MAX {
                let up = node_parent[v] as usize;
                total[up] = total[up].saturating_add(total[v]);
            }
        }
        let all = counts.iter().fold(0i64, |a, &b| a.saturating_add(b));
        let threshold = (all as i128 * basis_points as i128 + 9_999) / 10_000;
        let mut k = 0usize;
        // State: this stack was cut (so is everything below it).
        self.pass(|out, up, cut: &bool, f| {
            let s = k;
            k += 1;
            if *cut {
                return (up, true);
            }
            let keep = up.get().is_none() || total[node_of[s] as usize] as i128 >= threshold;
            if keep {
                (out.add(up, f), false)
            } else {
                (up, true)
            }
        });
    }
}

/// The profile with `transforms` applied in order (the original when the list is empty). Errors
/// name a pattern that is not a valid regex or a module the profile does not have.
pub fn apply(p: &Profile, transforms: &[Transform]) -> Result<Profile, String> {
    let mut out = p.clone();
    if transforms.is_empty() {
        return Ok(out);
    }
    let mut w = Work {
        p,
        parent: p.stacks.parent.to_vec(),
        frame: p.stacks.frame.to_vec(),
        frame_func: p.frames.func.clone(),
        frame_module: p.frames.module.clone(),
        synthetic: Vec::new(),
        map: (0..p.stacks.len()).map(StackId::from_index).collect(),
    };
    for t in transforms {
        w.apply(t)?;
    }
    // Synthetic functions and frames for collapsed modules.
    for &(m, func, _) in &w.synthetic {
        out.funcs.name.push(p.modules.name[m.index()]);
        out.funcs.module.push(m);
        out.funcs.file.push(crate::model::StrId::NONE);
        out.funcs.start_line.push(0);
        out.funcs.address.push(0);
        out.funcs.kind.push(FuncKind::Native);
        out.frames.func.push(func);
        out.frames.module.push(m);
        out.frames.address.push(0);
        out.frames.line.push(0);
        out.frames.inline_depth.push(0);
    }
    out.stacks = StackTable {
        parent: w.parent.into(),
        frame: w.frame.into(),
    };
    let map = &w.map;
    let stacks: Vec<StackId> = p
        .samples
        .stack
        .par_iter()
        .map(|s| match s.get() {
            Some(s) if map[s.index()] != DROPPED => map[s.index()],
            _ => StackId::NONE,
        })
        .collect();
    out.samples.stack = stacks.into();
    let labels: Vec<String> = transforms.iter().map(Transform::label).collect();
    out.meta.info.push(("transforms".into(), labels.join("; ")));
    Ok(out)
}

/// Focus on a call path (names from the root down), re-rooted at its last function.
fn focus_subtree(w: &mut Work<'_>, path: &[String]) {
    let k = path.len();
    if k == 0 {
        return;
    }
    let names: Vec<String> = (0..w.frame_func.len())
        .map(|f| w.name(w.frame_func[f]).to_owned())
        .collect();
    // State: Some(d) = the stack's frames are the first d names of the path (d == k: inside
    // the subtree); None = the stack left the path. Roots get the default: Some(0).
    #[derive(Clone, Copy)]
    struct Depth(Option<usize>);
    impl Default for Depth {
        fn default() -> Self {
            Depth(Some(0))
        }
    }
    w.pass(|out, up, st: &Depth, f| match st.0 {
        Some(d) if d == k => (out.add(up, f), Depth(Some(k))),
        Some(d) if names[f.index()] == path[d] => {
            if d + 1 == k {
                (out.add(StackId::NONE, f), Depth(Some(k)))
            } else {
                (DROPPED, Depth(Some(d + 1)))
            }
        }
        _ => (DROPPED, Depth(None)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModuleKind, ProfileBuilder, Unit};

    /// A profile from folded lines; a frame `lib:name` is function `name` in module `lib`.
    fn folded(text: &str) -> Profile {
        let mut b = ProfileBuilder::new("test");
        let ty = b.add_sample_type("samples", Unit::Count);
        let t = b.add_thread(1, 1);
        for (i, line) in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let (stack, w) = line.rsplit_once(' ').unwrap();
            let frames: Vec<_> = stack
                .split(';')
                .map(|f| match f.split_once(':') {
                    Some((lib, name)) => {
                        let m = b.add_module(lib, "", ModuleKind::Native);
                        b.add_named_frame(name, m, FuncKind::Native)
                    }
                    None => b.add_named_frame(f, ModuleId::NONE, FuncKind::Native),
                })
                .collect();
            let s = b.add_stack_root_first(frames);
            b.add_sample_one(t, s, i as u64, ty, w.parse().unwrap());
        }
        b.freeze()
    }

    /// The folded text of `p` (lines sorted).
    fn text(p: &Profile) -> String {
        let mut out = Vec::new();
        crate::export::folded::write(p, 0, &mut out).unwrap();
        let mut lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    }

    const INPUT: &str = "
        main;parse;expr;term;expr;num 10
        main;parse;expr;num 5
        main;render;libc.so.6:memcpy;libc.so.6:__memmove 7
        main;render;draw 3
        main;idle 2
        main;fib;fib;fib 4
    ";

    fn run(transforms: &[Transform]) -> String {
        text(&apply(&folded(INPUT), transforms).unwrap())
    }

    fn pat(s: &str) -> String {
        Transform::exact(s)
    }

    #[test]
    fn focus_on_a_function_keeps_its_samples_rooted_at_the_outermost_call() {
        let t = Transform::FocusFunction {
            pattern: pat("expr"),
        };
        assert_eq!(run(&[t]), "expr;num 5\nexpr;term;expr;num 10");
    }

    #[test]
    fn focus_on_a_subtree_keeps_the_samples_under_the_path() {
        let t = Transform::FocusSubtree {
            path: vec!["main".into(), "render".into()],
        };
        assert_eq!(run(&[t]), "render;draw 3\nrender;memcpy;__memmove 7");
        // A path that is only a prefix of stacks elsewhere keeps nothing else.
        let t = Transform::FocusSubtree {
            path: vec!["main".into(), "fib".into(), "fib".into()],
        };
        assert_eq!(run(&[t]), "fib;fib 4");
    }

    #[test]
    fn merge_gives_a_function_cost_to_its_caller() {
        let t = Transform::Merge {
            pattern: pat("expr"),
        };
        assert_eq!(
            run(&[t]),
            "main;fib;fib;fib 4\nmain;idle 2\nmain;parse;num 5\nmain;parse;term;num 10\n\
             main;render;draw 3\nmain;render;memcpy;__memmove 7"
        );
    }

    #[test]
    fn drop_leaves_out_every_sample_with_the_function() {
        let t = Transform::Drop {
            pattern: "^(render|fib)$".into(),
        };
        let p = apply(&folded(INPUT), &[t]).unwrap();
        assert_eq!(
            text(&p),
            "main;idle 2\nmain;parse;expr;num 5\nmain;parse;expr;term;expr;num 10"
        );
        // The totals follow: 17 of the 31 samples' weight remain.
        let nodes = crate::analysis::CallNodeTable::build(&p);
        let tree = nodes.tree(&p, &crate::analysis::Selection::all(0));
        assert_eq!(tree.total, 17);
    }

    #[test]
    fn collapse_recursion_direct_for_all_and_indirect_for_one_function() {
        let direct = Transform::CollapseRecursion { pattern: None };
        assert_eq!(
            run(&[direct]),
            "main;fib 4\nmain;idle 2\nmain;parse;expr;num 5\nmain;parse;expr;term;expr;num 10\n\
             main;render;draw 3\nmain;render;memcpy;__memmove 7"
        );
        let indirect = Transform::CollapseRecursion {
            pattern: Some(pat("expr")),
        };
        assert_eq!(
            run(&[indirect]),
            "main;fib;fib;fib 4\nmain;idle 2\nmain;parse;expr;num 15\n\
             main;render;draw 3\nmain;render;memcpy;__memmove 7"
        );
    }

    #[test]
    fn collapse_module_makes_one_frame_named_after_it() {
        let t = Transform::CollapseModule {
            module: "libc.so.6".into(),
        };
        let p = apply(&folded(INPUT), &[t]).unwrap();
        assert!(text(&p).contains("main;render;libc.so.6 7"), "{}", text(&p));
        assert_eq!(p.funcs.len(), folded(INPUT).funcs.len() + 1);
    }

    #[test]
    fn hide_below_cuts_small_call_nodes_and_gives_their_samples_to_the_caller() {
        // Eleven samples: main;a;b;c five times, main;a;d three, main;e once, main;f;g twice.
        let mut lines = String::new();
        for (stack, n) in [
            ("main;a;b;c", 5),
            ("main;a;d", 3),
            ("main;e", 1),
            ("main;f;g", 2),
        ] {
            for _ in 0..n {
                lines.push_str(&format!("{stack} 1\n"));
            }
        }
        let p = folded(&lines);
        // 15% of 11 = 1.65: nodes with one sample go (e), f;g (2 samples) stays.
        let q = apply(&p, &[Transform::HideBelow { basis_points: 1500 }]).unwrap();
        assert_eq!(text(&q), "main 1\nmain;a;b;c 5\nmain;a;d 3\nmain;f;g 2");
        // 35% = 3.85: d (3) and f (2) go too, their samples to their callers.
        let q = apply(&p, &[Transform::HideBelow { basis_points: 3500 }]).unwrap();
        assert_eq!(text(&q), "main 3\nmain;a 3\nmain;a;b;c 5");
        // Roots stay whatever their share: the total never changes.
        let q = apply(
            &p,
            &[Transform::HideBelow {
                basis_points: 10_000,
            }],
        )
        .unwrap();
        assert_eq!(text(&q), "main 11");
        assert_eq!(parse_percent("0.5%"), Ok(50));
        assert_eq!(parse_percent("2"), Ok(200));
        assert!(parse_percent("101").is_err() && parse_percent("x").is_err());
        assert_eq!(
            Transform::HideBelow { basis_points: 50 }.label(),
            "hide below 0.5%"
        );
    }

    #[test]
    fn transforms_apply_in_order() {
        let focus = Transform::FocusFunction {
            pattern: pat("expr"),
        };
        let merge = Transform::Merge {
            pattern: pat("term"),
        };
        assert_eq!(
            run(&[focus.clone(), merge.clone()]),
            "expr;expr;num 10\nexpr;num 5"
        );
        let collapse = Transform::CollapseRecursion { pattern: None };
        assert!(run(&[merge, collapse]).contains("main;parse;expr;num 15"));
        // Focus on a function the first focus removed: nothing is left.
        let gone = Transform::FocusFunction {
            pattern: pat("idle"),
        };
        assert_eq!(run(&[focus, gone]), "");
    }

    #[test]
    fn bad_patterns_and_unknown_modules_are_errors() {
        let p = folded(INPUT);
        let e = apply(
            &p,
            &[Transform::Merge {
                pattern: "(".into(),
            }],
        )
        .unwrap_err();
        assert!(e.contains("pattern \"(\""), "{e}");
        let e = apply(
            &p,
            &[Transform::CollapseModule {
                module: "nope".into(),
            }],
        )
        .unwrap_err();
        assert!(e.contains("no module named \"nope\""), "{e}");
    }

    #[test]
    fn deep_stacks_transform_on_a_small_thread_stack() {
        let mut b = ProfileBuilder::new("deep");
        b.add_sample_type("samples", Unit::Count);
        let t = b.add_thread(1, 1);
        let f = b.add_named_frame("f", ModuleId::NONE, FuncKind::Native);
        let g = b.add_named_frame("g", ModuleId::NONE, FuncKind::Native);
        let mut s = StackId::NONE;
        for i in 0..100_000 {
            s = b.add_stack(s, if i % 2 == 0 { f } else { g });
        }
        b.add_sample_one(t, s, 0, 0, 1);
        let p = b.freeze();
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let q = apply(
                    &p,
                    &[Transform::Merge {
                        pattern: "^g$".into(),
                    }],
                )
                .unwrap();
                // f;f;f... (50 000 frames) then direct recursion collapses it to one frame.
                let r = apply(&q, &[Transform::CollapseRecursion { pattern: None }]).unwrap();
                assert_eq!(q.stacks.len(), 50_000);
                assert_eq!(r.stacks.len(), 1);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
