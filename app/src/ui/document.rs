//! One open profile: the frozen data, the user's selection, and the views' derived state.
//!
//! Everything derived from `(profile, selection)` is an [`Analysis`], computed on a worker
//! thread; the views keep showing the previous one until the new one arrives.

use super::derived::Derived;
use super::flame::{FlameState, Graph};
use super::heatmap::HeatState;
use super::source::SourceState;
use super::sunburst::SunburstState;
use super::table::TableState;
use super::timeline::TimelineState;
use super::tree::TreeState;
use regex::{Regex, RegexBuilder};
use stacklens_core::analysis::{
    CallNodeTable, CallTree, DerivedTree, FlameLayout, FuncStat, Ratio, RatioSpec, Sandwich,
    Selection, StackWeights, Transform, ancestors, bottom_up, matched_total, node_at_path,
    sandwich, stack_weights, time_bounds, top_functions, transform,
};
use stacklens_core::model::{FuncId, Profile, ThreadId};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

/// What the views show for one selection.
#[derive(Debug)]
pub struct Analysis {
    pub selection: Selection,
    /// Weight and samples per stack (for source lines of a hovered node).
    pub stack_weights: StackWeights,
    pub tree: CallTree,
    pub layout: FlameLayout,
    pub top: Vec<FuncStat>,
    /// Two events' weights over the same selection, when a ratio is picked.
    pub ratio: Option<Ratio>,
}

impl Analysis {
    pub fn compute(
        p: &Profile,
        nodes: &CallNodeTable,
        selection: Selection,
        ratio: Option<RatioSpec>,
    ) -> Self {
        puffin::profile_function!();
        let sw = stack_weights(p, &selection);
        let tree = nodes.tree_from(&sw);
        let layout = FlameLayout::build(nodes, &tree);
        let top = top_functions(p, nodes, &tree);
        let ratio = ratio
            .filter(|r| r.num < p.sample_types.len() && r.den < p.sample_types.len())
            .map(|r| Ratio::compute(p, nodes, &selection, r));
        Analysis {
            selection,
            stack_weights: sw,
            tree,
            layout,
            top,
            ratio,
        }
    }
}

/// A loaded profile with what is computed once per profile.
pub struct Loaded {
    pub profile: Arc<Profile>,
    pub nodes: Arc<CallNodeTable>,
    pub analysis: Arc<Analysis>,
    /// Samples per thread, per sample type.
    pub thread_samples: Vec<Vec<usize>>,
    /// Label keys with their values, for the label filter.
    pub label_values: Vec<(String, Vec<String>)>,
}

impl Loaded {
    /// Builds the call node table and the first analysis (all threads, default sample type).
    pub fn prepare(profile: Profile) -> Self {
        Self::prepare_shared(Arc::new(profile))
    }

    /// [`Loaded::prepare`] of a profile another tab holds too.
    pub fn prepare_shared(profile: Arc<Profile>) -> Self {
        let nodes = CallNodeTable::build(&profile);
        let sel = Selection::all(profile.default_sample_type());
        let analysis = Analysis::compute(&profile, &nodes, sel, None);
        let thread_samples = (0..profile.sample_types.len())
            .map(|ty| {
                (0..profile.threads.len())
                    .map(|t| {
                        let rows = profile.threads.samples(ThreadId::from_index(t));
                        profile.samples.weights.count(ty, rows)
                    })
                    .collect()
            })
            .collect();
        Loaded {
            label_values: profile.label_values(),
            profile,
            nodes: Arc::new(nodes),
            analysis: Arc::new(analysis),
            thread_samples,
        }
    }
}

/// The search box: a case-insensitive regex over function names.
#[derive(Default)]
pub struct Search {
    pub text: String,
    /// The compiled regex of `text`, or the reason it does not compile.
    pub regex: Option<Result<Regex, String>>,
    /// Per function: does its name match.
    pub matches: Vec<bool>,
    /// Weight under matching call nodes, each sample once.
    pub matched: i64,
    /// `(text, analysis generation)` the fields above were computed for.
    computed_for: Option<(String, usize)>,
}

impl Search {
    pub fn is_active(&self) -> bool {
        matches!(self.regex, Some(Ok(_)))
    }

    /// Recomputes matches when the text or the analysis changed: one regex test per function,
    /// one pass over call nodes.
    fn update(&mut self, p: &Profile, nodes: &CallNodeTable, a: &Analysis, generation: usize) {
        let key = (self.text.clone(), generation);
        if self.computed_for.as_ref() == Some(&key) {
            return;
        }
        puffin::profile_function!();
        self.computed_for = Some(key);
        let text = self.text.trim();
        if text.is_empty() {
            self.regex = None;
            self.matches.clear();
            self.matched = 0;
            return;
        }
        let re = RegexBuilder::new(text)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string());
        if let Ok(re) = &re {
            self.matches = (0..p.funcs.len())
                .map(|f| re.is_match(p.func_name(FuncId::from_index(f))))
                .collect();
            self.matched = matched_total(nodes, &a.tree, &self.matches);
        } else {
            self.matches.clear();
            self.matched = 0;
        }
        self.regex = Some(re);
    }

    /// Does function `f` match an active search.
    pub fn matches(&self, f: FuncId) -> bool {
        self.matches.get(f.index()).copied().unwrap_or(false)
    }
}

/// What the user asked for in a view's row or box.
#[derive(Clone, Debug)]
pub enum Action {
    /// Pick a function: highlighted in every view (again: unpicked).
    Highlight(FuncId),
    Transform(Transform),
    /// Show its callers and callees.
    Sandwich(FuncId),
    /// Show its source.
    Source(FuncId),
}

/// The views of the central area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    #[default]
    Flame,
    /// The bottom-up tree as a flame graph (leaf functions on top).
    Inverted,
    /// Top-down or bottom-up tree table.
    Tree,
    /// Callers and callees of one function.
    Sandwich,
    Sunburst,
    HeatMap,
    /// A function's source with per-line cost.
    Source,
}

impl View {
    pub const ALL: [View; 7] = [
        View::Flame,
        View::Inverted,
        View::Tree,
        View::Sandwich,
        View::Sunburst,
        View::HeatMap,
        View::Source,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Flame => "Flame graph",
            View::Inverted => "Inverted",
            View::Tree => "Call tree",
            View::Sandwich => "Caller / callee",
            View::Sunburst => "Sunburst",
            View::HeatMap => "Heat map",
            View::Source => "Source",
        }
    }
}

/// What a worker sends back: the analysis, and the transformed profile with its call nodes
/// when the transforms changed.
type Computed = Result<(Option<(Arc<Profile>, Arc<CallNodeTable>)>, Analysis), String>;

/// An analysis being computed: what it is for (selection, transforms, ratio) and where it
/// arrives.
type Pending = (
    Selection,
    Vec<Transform>,
    Option<RatioSpec>,
    mpsc::Receiver<Computed>,
);

pub struct Document {
    pub path: PathBuf,
    /// Tab title.
    pub title: String,
    /// The profile as loaded.
    pub base: Arc<Profile>,
    /// The profile the views show: `base` with `applied` transforms.
    pub profile: Arc<Profile>,
    pub nodes: Arc<CallNodeTable>,
    /// Transforms wanted, in order (the views follow once computed).
    pub transforms: Vec<Transform>,
    /// Transforms `profile` was made with.
    applied: Vec<Transform>,
    /// Earlier transform lists, for Undo.
    undo: Vec<Vec<Transform>>,
    /// Why the last transform could not be applied.
    pub transform_error: Option<String>,
    pub thread_samples: Vec<Vec<usize>>,
    pub label_values: Vec<(String, Vec<String>)>,
    /// What the user asked for; `analysis.selection` is what is shown.
    pub selection: Selection,
    pub analysis: Arc<Analysis>,
    /// The ratio of two events shown in the table and the flame graph's colours, if any.
    pub ratio: Option<RatioSpec>,
    pending: Option<Pending>,
    /// Counts analyses swapped in, so caches know when theirs is stale.
    generation: usize,
    pub search: Search,
    /// Function picked in the table, highlighted in the flame graph.
    pub highlight: Option<FuncId>,
    pub flame: FlameState,
    pub table: TableState,
    pub view: View,
    /// First and last sample time of the loaded profile; `None` without timestamps.
    pub bounds: Option<(u64, u64)>,
    /// Committed time ranges, outermost first: the timeline zooms into the last one, and the
    /// breadcrumbs go back out.
    pub committed: Vec<Vec<(u64, u64)>>,
    /// The time ranges being looked at inside the last committed one (a drag on the timeline,
    /// cells of the heat map); empty = none.
    pub preview: Vec<(u64, u64)>,
    pub timeline: TimelineState,
    pub heat: HeatState,
    pub sunburst: SunburstState,
    pub tree: TreeState,
    /// The function of the caller/callee view.
    pub sandwich_func: Option<FuncId>,
    /// The function under the pointer in the last frame (highlighted in every view).
    pub hovered_func: Option<FuncId>,
    /// Bottom-up tree of the current analysis (keyed by generation).
    pub inverted: Derived<usize, DerivedTree>,
    pub inverted_flame: FlameState,
    pub sandwich: Derived<(usize, FuncId), Sandwich>,
    pub callers_flame: FlameState,
    pub callees_flame: FlameState,
    pub source: SourceState,
    /// Folders searched for source files (`--source-root`, then the profile's folder).
    pub source_roots: Vec<PathBuf>,
    /// Folders searched for binaries to disassemble (`--symbols`, then the profile's folder).
    pub binary_dirs: Vec<PathBuf>,
    /// The "hide below" field, in percent.
    pub hide_below_percent: f64,
    /// The presets menu's name field and its last message.
    pub preset_name: String,
    pub preset_message: Option<String>,
    /// The saved presets, read when the menu opens.
    pub preset_names: Option<Vec<String>>,
}

impl Document {
    pub fn new(path: PathBuf, title: String, loaded: Loaded) -> Self {
        Document {
            path,
            title,
            selection: loaded.analysis.selection.clone(),
            base: loaded.profile.clone(),
            profile: loaded.profile,
            transforms: Vec::new(),
            applied: Vec::new(),
            undo: Vec::new(),
            transform_error: None,
            nodes: loaded.nodes,
            thread_samples: loaded.thread_samples,
            label_values: loaded.label_values,
            analysis: loaded.analysis,
            ratio: None,
            pending: None,
            generation: 0,
            search: Search::default(),
            highlight: None,
            flame: FlameState::default(),
            table: TableState::default(),
            view: View::default(),
            bounds: None,
            committed: Vec::new(),
            preview: Vec::new(),
            timeline: TimelineState::default(),
            heat: HeatState::default(),
            sunburst: SunburstState::default(),
            tree: TreeState::default(),
            sandwich_func: None,
            hovered_func: None,
            inverted: Derived::default(),
            inverted_flame: FlameState::default(),
            sandwich: Derived::default(),
            callers_flame: FlameState::default(),
            callees_flame: FlameState::default(),
            source: SourceState::default(),
            source_roots: Vec::new(),
            binary_dirs: Vec::new(),
            hide_below_percent: 0.5,
            preset_name: String::new(),
            preset_message: None,
            preset_names: None,
        }
        .with_bounds()
    }

    fn with_bounds(mut self) -> Self {
        self.bounds = time_bounds(&self.base);
        self.source_roots = self
            .path
            .parent()
            .map(|d| d.to_path_buf())
            .into_iter()
            .collect();
        self.binary_dirs = self.source_roots.clone();
        self
    }

    /// Takes what the user set up in `old`, a document of an earlier read of the same
    /// capture (a live recording): view, search, table order, time ranges, event, threads,
    /// labels, transforms and the flame graph's zoom (by its path of function names).
    pub fn keep_settings_of(&mut self, old: &Document, ctx: &egui::Context) {
        self.view = old.view;
        self.search.text = old.search.text.clone();
        self.table.sort = old.table.sort;
        self.table.descending = old.table.descending;
        self.table.filter = old.table.filter.clone();
        self.committed = old.committed.clone();
        self.preview = old.preview.clone();
        self.hide_below_percent = old.hide_below_percent;
        let mut sel = old.selection.clone();
        if sel.sample_type >= self.profile.sample_types.len() {
            sel.sample_type = self.selection.sample_type;
        }
        let n = self.profile.threads.len();
        sel.threads = sel
            .threads
            .map(|t| t.into_iter().filter(|t| t.index() < n).collect());
        self.set_selection(sel, ctx);
        let types = self.profile.sample_types.len();
        self.set_ratio(old.ratio.filter(|r| r.num < types && r.den < types), ctx);
        if !old.transforms.is_empty() {
            self.set_transforms(old.transforms.clone(), ctx);
        }
        if let Some(z) = old.flame.zoom {
            let names: Vec<&str> = ancestors(&old.nodes, z)
                .iter()
                .map(|c| old.profile.func_name(old.nodes.func[c.index()]))
                .collect();
            if let Some(node) = node_at_path(&self.profile, &self.nodes, &names) {
                self.flame
                    .zoom_to(&Graph::main(&self.nodes, &self.analysis), node);
            }
        }
    }

    /// Searches `dirs` first for binaries.
    pub fn add_binary_dirs(&mut self, dirs: &[PathBuf]) {
        let mut all = dirs.to_vec();
        all.append(&mut self.binary_dirs);
        self.binary_dirs = all;
    }

    /// Searches `roots` first for source files.
    pub fn add_source_roots(&mut self, roots: &[PathBuf]) {
        let mut all = roots.to_vec();
        all.append(&mut self.source_roots);
        self.source_roots = all;
    }

    /// The bottom-up tree of the shown analysis (computed on a worker; the previous one until
    /// it is ready).
    pub fn bottom_up(&mut self, ctx: &egui::Context) -> Option<Arc<DerivedTree>> {
        let (p, nodes, a) = (
            self.profile.clone(),
            self.nodes.clone(),
            self.analysis.clone(),
        );
        let fresh = !self.inverted.is_current(&self.generation);
        let out = self.inverted.get(&self.generation, ctx, move || {
            bottom_up(&p, &nodes, &a.tree)
        });
        if fresh && self.inverted.is_current(&self.generation) {
            self.inverted_flame = FlameState::default();
        }
        out
    }

    /// Callers and callees of the caller/callee view's function.
    pub fn sandwich(&mut self, ctx: &egui::Context) -> Option<Arc<Sandwich>> {
        let f = self.sandwich_func?;
        if f.index() >= self.profile.funcs.len() {
            return None;
        }
        let (p, nodes, a) = (
            self.profile.clone(),
            self.nodes.clone(),
            self.analysis.clone(),
        );
        let key = (self.generation, f);
        let fresh = !self.sandwich.is_current(&key);
        let out = self
            .sandwich
            .get(&key, ctx, move || sandwich(&p, &nodes, &a.tree, f));
        if fresh && self.sandwich.is_current(&key) {
            self.callers_flame = FlameState::default();
            self.callees_flame = FlameState::default();
        }
        out.filter(|s| s.func == f)
    }

    /// Does what a view asked for.
    pub fn act(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Highlight(f) => {
                self.highlight = if self.highlight == Some(f) {
                    None
                } else {
                    Some(f)
                };
            }
            Action::Transform(t) => self.push_transform(t, ctx),
            Action::Sandwich(f) => self.show_sandwich(f),
            Action::Source(f) => {
                self.source.show_func(f);
                self.view = View::Source;
            }
        }
    }

    /// Shows `f` in the caller/callee view.
    pub fn show_sandwich(&mut self, f: FuncId) {
        self.sandwich_func = Some(f);
        self.view = View::Sandwich;
    }

    /// The ranges the selection should have: the preview, else the last committed ranges.
    fn wanted_ranges(&self) -> Vec<(u64, u64)> {
        if !self.preview.is_empty() {
            return self.preview.clone();
        }
        self.committed.last().cloned().unwrap_or_default()
    }

    fn apply_ranges(&mut self, ctx: &egui::Context) {
        let mut sel = self.selection.clone();
        sel.ranges = self.wanted_ranges();
        self.set_selection(sel, ctx);
    }

    /// Looks at `ranges` (sorted, disjoint) inside the committed range; empty clears it.
    pub fn set_preview(&mut self, mut ranges: Vec<(u64, u64)>, ctx: &egui::Context) {
        ranges.retain(|r| r.1 > r.0);
        ranges.sort_unstable();
        self.preview = ranges;
        self.apply_ranges(ctx);
    }

    /// Zooms into the preview: it becomes the innermost committed range.
    pub fn commit_preview(&mut self, ctx: &egui::Context) {
        if self.preview.is_empty() {
            return;
        }
        let ranges = std::mem::take(&mut self.preview);
        self.committed.push(ranges);
        self.timeline.view = None;
        self.apply_ranges(ctx);
    }

    /// Goes back out to the first `depth` committed ranges (0 = the whole profile).
    pub fn pop_committed(&mut self, depth: usize, ctx: &egui::Context) {
        self.committed.truncate(depth);
        self.preview.clear();
        self.timeline.view = None;
        self.apply_ranges(ctx);
    }

    /// The time window the timeline shows when not zoomed: the hull of the last committed
    /// ranges, or the whole profile.
    pub fn base_window(&self) -> Option<(u64, u64)> {
        match self.committed.last() {
            Some(r) if !r.is_empty() => Some((r[0].0, r.iter().map(|x| x.1).max()?)),
            _ => self.bounds,
        }
    }

    /// Changes whenever a new analysis is swapped in.
    pub fn generation(&self) -> usize {
        self.generation
    }

    /// Is a new analysis, or a view's data, being computed.
    pub fn is_computing(&self) -> bool {
        self.pending.is_some()
            || self.inverted.is_computing()
            || self.sandwich.is_computing()
            || self.timeline.is_computing()
            || self.heat.is_computing()
            || self.source.is_computing()
    }

    /// Asks for `selection`; the analysis follows on a worker thread.
    pub fn set_selection(&mut self, selection: Selection, ctx: &egui::Context) {
        if selection == self.selection {
            return;
        }
        self.selection = selection;
        self.request(ctx);
    }

    /// Appends a transform (undoable).
    pub fn push_transform(&mut self, t: Transform, ctx: &egui::Context) {
        let mut list = self.transforms.clone();
        list.push(t);
        self.set_transforms(list, ctx);
    }

    /// Removes the transform at `i` (undoable).
    pub fn remove_transform(&mut self, i: usize, ctx: &egui::Context) {
        let mut list = self.transforms.clone();
        if i < list.len() {
            list.remove(i);
            self.set_transforms(list, ctx);
        }
    }

    /// Goes back to the transforms before the last change.
    pub fn undo_transform(&mut self, ctx: &egui::Context) {
        if let Some(list) = self.undo.pop() {
            self.transforms = list;
            self.request(ctx);
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Replaces the transforms (undoable).
    pub fn set_transforms(&mut self, list: Vec<Transform>, ctx: &egui::Context) {
        if list == self.transforms {
            return;
        }
        self.undo
            .push(std::mem::replace(&mut self.transforms, list));
        self.request(ctx);
    }

    /// Computes what the wanted selection and transforms give, on a worker thread: the
    /// transformed profile and its call nodes first when the transforms changed.
    fn request(&mut self, ctx: &egui::Context) {
        let (tx, rx) = mpsc::channel();
        let sel = self.selection.clone();
        let wanted = self.transforms.clone();
        let ratio = self.ratio;
        let job = if wanted == self.applied {
            Err((self.profile.clone(), self.nodes.clone()))
        } else {
            Ok((self.base.clone(), wanted.clone()))
        };
        let ctx = ctx.clone();
        rayon::spawn(move || {
            let computed: Computed = match job {
                Err((p, nodes)) => Ok((None, Analysis::compute(&p, &nodes, sel, ratio))),
                Ok((base, list)) => transform::apply(&base, &list).map(|p| {
                    let nodes = CallNodeTable::build(&p);
                    let a = Analysis::compute(&p, &nodes, sel, ratio);
                    (Some((Arc::new(p), Arc::new(nodes))), a)
                }),
            };
            // The receiver is gone when the tab was closed or another request replaced it.
            let _ = tx.send(computed);
            ctx.request_repaint();
        });
        self.pending = Some((self.selection.clone(), wanted, ratio, rx));
    }

    /// Takes a finished analysis (if the selection it was made for is still wanted) and brings
    /// the search up to date. Called once per frame.
    pub fn poll(&mut self) {
        if let Some((sel, list, ratio, rx)) = &self.pending {
            match rx.try_recv() {
                Ok(Ok((derived, a))) => {
                    if *sel == self.selection && *list == self.transforms && *ratio == self.ratio {
                        if let Some((p, nodes)) = derived {
                            self.profile = p;
                            self.nodes = nodes;
                            self.applied = list.clone();
                            // Node ids of the old call tree mean nothing in the new one.
                            self.flame = FlameState::default();
                        }
                        self.transform_error = None;
                        self.analysis = Arc::new(a);
                        self.generation += 1;
                        self.flame
                            .on_new_analysis(&Graph::main(&self.nodes, &self.analysis));
                    }
                    self.pending = None;
                }
                Ok(Err(e)) => {
                    // Back to what is shown; the error stays visible until the next change.
                    self.transform_error = Some(e);
                    self.transforms = self.applied.clone();
                    self.pending = None;
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => self.pending = None,
            }
        }
        self.search
            .update(&self.profile, &self.nodes, &self.analysis, self.generation);
        self.inverted.poll();
        self.sandwich.poll();
        self.timeline.poll();
        self.heat.poll();
        self.source.poll();
    }

    /// The threads included in the selection.
    pub fn thread_included(&self, t: ThreadId) -> bool {
        match &self.selection.threads {
            None => true,
            Some(list) => list.contains(&t),
        }
    }

    /// Includes or excludes thread `t`.
    pub fn set_thread_included(&mut self, t: ThreadId, include: bool, ctx: &egui::Context) {
        let n = self.profile.threads.len();
        let mut list: Vec<ThreadId> = match &self.selection.threads {
            None => (0..n).map(ThreadId::from_index).collect(),
            Some(l) => l.clone(),
        };
        list.retain(|&x| x != t);
        if include {
            list.push(t);
            list.sort_by_key(|t| t.index());
        }
        let mut sel = self.selection.clone();
        sel.threads = if list.len() == n { None } else { Some(list) };
        self.set_selection(sel, ctx);
    }

    /// Filters on label `key`: `None` keeps every sample, `Some(v)` only those labelled `key=v`.
    pub fn set_label_filter(&mut self, key: &str, value: Option<String>, ctx: &egui::Context) {
        let mut sel = self.selection.clone();
        sel.labels.retain(|f| f.key != key);
        if let Some(value) = value {
            sel.labels.push(stacklens_core::analysis::LabelFilter {
                key: key.to_string(),
                value,
            });
        }
        self.set_selection(sel, ctx);
    }

    /// Switches the sample type (event) shown.
    /// Shows the ratio of two events (`None`: no ratio) in the table and as flame colours.
    pub fn set_ratio(&mut self, ratio: Option<RatioSpec>, ctx: &egui::Context) {
        if ratio != self.ratio {
            self.ratio = ratio;
            self.request(ctx);
        }
    }

    pub fn set_sample_type(&mut self, ty: usize, ctx: &egui::Context) {
        let mut sel = self.selection.clone();
        sel.sample_type = ty;
        self.set_selection(sel, ctx);
    }
}
