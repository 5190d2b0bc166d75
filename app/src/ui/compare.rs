//! Comparing two profiles in the window: a differential flame graph (the after profile's
//! shape coloured by the change of each call path's share), side-by-side flame graphs with
//! synchronized zoom, search and hover, and a table of functions with the significance of
//! each change.
//!
//! Each side is an ordinary [`Document`] with its own analysis; what the comparison's controls
//! change (transforms, event, time range) is applied to both, and the comparison itself is
//! computed on a worker from the two analyses whenever either changes.

use super::derived::Derived;
use super::document::{Action, Document};
use super::flame::{self, ColorBy, DiffPaint, FlameInput, FlameState, Graph, Span};
use super::loader::{LoadJob, LoadRequest};
use super::table::cell;
use crate::format;
use egui::{Color32, Sense, Ui};
use egui_extras::{Column, TableBuilder};
use stacklens_core::analysis::{
    Diff, DiffInput, FuncDiff, Metric, Normalize, PathChange, PathDiff, Transform, TreeSide,
    diff_of, path_diff, selection_seconds,
};
use stacklens_core::model::{CallNodeId, FuncId, Profile, Unit};
use std::sync::Arc;

/// One side of a comparison.
pub enum Side {
    Loading(LoadJob),
    Failed { request: LoadRequest, error: String },
    Ready(Box<Document>),
}

impl Side {
    pub fn doc(&self) -> Option<&Document> {
        match self {
            Side::Ready(d) => Some(d),
            _ => None,
        }
    }

    pub fn doc_mut(&mut self) -> Option<&mut Document> {
        match self {
            Side::Ready(d) => Some(d),
            _ => None,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Side::Loading(j) => &j.request.title,
            Side::Failed { request, .. } => &request.title,
            Side::Ready(d) => &d.title,
        }
    }

    fn cancel(&self) {
        if let Side::Loading(j) = self {
            j.cancel();
        }
    }
}

/// The comparison's central view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompareView {
    #[default]
    Differential,
    SideBySide,
}

/// What a comparison starts with: the command line's (or the tab's) transforms, event and
/// test settings.
#[derive(Clone, Debug)]
pub struct Setup {
    pub transforms: Vec<Transform>,
    /// Event (sample type) name; the first both sides have when `None`.
    pub event: Option<String>,
    pub normalize: Normalize,
    pub alpha: f64,
    pub min_delta: f64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            transforms: Vec::new(),
            event: None,
            normalize: Normalize::Share,
            alpha: 0.01,
            min_delta: 0.5,
        }
    }
}

/// The comparison of the two shown analyses.
pub struct DiffData {
    /// Functions matched by identity.
    pub functions: Diff,
    /// Call paths matched by the sequence of function identities.
    pub paths: PathDiff,
    /// The colour scale's end per (metric, scale): the largest significant |delta| of the
    /// after tree's paths (one pass over the paths, not one per frame).
    max_delta: Vec<((Metric, Normalize), f64)>,
}

impl DiffData {
    pub fn max_delta(&self, metric: Metric, normalize: Normalize) -> f64 {
        self.max_delta
            .iter()
            .find(|(k, _)| *k == (metric, normalize))
            .map_or(0.0, |(_, v)| *v)
    }
}

/// Which analyses (and settings) a [`DiffData`] was computed from.
type DataKey = (usize, usize, usize, usize, Normalize, u64, u64);

/// A function's identity across profiles: (name, module file name).
pub type Identity = (String, String);

/// Zoom, view and scroll of one graph of the side-by-side pair, as last seen.
type SyncState = (Option<CallNodeId>, Option<Span>, f32);

/// A before/after comparison: one tab.
pub struct Comparison {
    pub before: Side,
    pub after: Side,
    pub view: CompareView,
    pub normalize: Normalize,
    /// Colour boxes by the change of their total or their self share.
    pub metric: Metric,
    pub alpha: f64,
    pub min_delta: f64,
    /// Search text of both graphs.
    pub search: String,
    data: Derived<DataKey, DiffData>,
    /// The differential flame graph's zoom.
    pub flame: FlameState,
    pub table: DiffTable,
    /// The time range field, in seconds from each profile's first sample.
    pub time_from: f64,
    pub time_to: f64,
    /// The range applied to both sides, when one is.
    pub time_applied: Option<(f64, f64)>,
    /// The setup applied to each side once it loads.
    setup: Setup,
    set_up: [bool; 2],
    /// Why the event could not be matched on the before side.
    pub event_warning: Option<String>,
    /// Side-by-side sync: what each graph showed after the last frame.
    synced: [SyncState; 2],
    /// The identity path under the pointer in either side-by-side graph.
    pub hovered_path: Option<(usize, u32)>,
    /// The function picked in the table (name, module): outlined on both sides.
    pub highlight: Option<Identity>,
    /// That function's id on each side (before, after), and the profiles and identity it was
    /// looked up for (a lookup scans the functions: once per change, not per frame).
    highlight_ids: [Option<FuncId>; 2],
    highlight_for: Option<(usize, usize, Option<Identity>)>,
    pub hide_below_percent: f64,
}

impl Comparison {
    /// A comparison of two files, each loaded on its own thread.
    pub fn open(
        before: LoadRequest,
        after: LoadRequest,
        setup: Setup,
        ctx: &egui::Context,
    ) -> Self {
        Self::new(
            Side::Loading(LoadJob::start(before, ctx)),
            Side::Loading(LoadJob::start(after, ctx)),
            setup,
        )
    }

    pub fn new(before: Side, after: Side, setup: Setup) -> Self {
        Comparison {
            before,
            after,
            view: CompareView::default(),
            normalize: setup.normalize,
            metric: Metric::Total,
            alpha: setup.alpha,
            min_delta: setup.min_delta,
            search: String::new(),
            data: Derived::default(),
            flame: FlameState::default(),
            table: DiffTable::default(),
            time_from: 0.0,
            time_to: 0.0,
            time_applied: None,
            setup,
            set_up: [false; 2],
            event_warning: None,
            synced: Default::default(),
            hovered_path: None,
            highlight: None,
            highlight_ids: [None; 2],
            highlight_for: None,
            hide_below_percent: 0.5,
        }
    }

    /// Tab title.
    pub fn title(&self) -> String {
        format!("{} vs {}", self.before.title(), self.after.title())
    }

    fn docs_mut(&mut self) -> impl Iterator<Item = &mut Document> {
        [&mut self.before, &mut self.after]
            .into_iter()
            .filter_map(|s| s.doc_mut())
    }

    /// Is a side loading, or anything being computed.
    pub fn is_busy(&self) -> bool {
        let side_busy = |s: &Side| match s {
            Side::Loading(_) => true,
            Side::Ready(d) => d.is_computing(),
            Side::Failed { .. } => false,
        };
        side_busy(&self.before) || side_busy(&self.after) || self.data.is_computing()
    }

    pub fn cancel(&self) {
        self.before.cancel();
        self.after.cancel();
    }

    /// The comparison of the shown analyses (perhaps of older ones while it is computed).
    pub fn data(&self) -> Option<&Arc<DiffData>> {
        self.data.latest()
    }

    /// Takes finished loads, applies the setup to a side that just loaded, polls both
    /// documents, and asks for the comparison of what they show.
    pub fn poll(&mut self, ctx: &egui::Context) {
        for (k, side) in [&mut self.before, &mut self.after].into_iter().enumerate() {
            if let Side::Loading(job) = side
                && let Some(result) = job.poll()
            {
                let request = job.request.clone();
                *side = match result {
                    Ok(loaded) => {
                        Side::Ready(Box::new(Document::new(request.path, request.title, loaded)))
                    }
                    Err(error) => Side::Failed { request, error },
                };
            }
            if !self.set_up[k]
                && let Some(d) = side.doc_mut()
            {
                self.set_up[k] = true;
                if !self.setup.transforms.is_empty() {
                    d.set_transforms(self.setup.transforms.clone(), ctx);
                }
            }
        }
        if self.set_up == [true; 2] && self.setup.event.is_some() {
            let event = self.setup.event.take();
            if let Some(i) = event.and_then(|e| {
                self.after
                    .doc()?
                    .profile
                    .sample_types
                    .iter()
                    .position(|t| t.name == e)
            }) {
                self.set_event(i, ctx);
            }
        }
        for d in self.docs_mut() {
            d.poll();
        }
        self.resolve_highlight();
        self.data.poll();
        self.request_data(ctx);
    }

    /// Starts computing the comparison of the two shown analyses when it is not current.
    fn request_data(&mut self, ctx: &egui::Context) {
        let (Some(b), Some(a)) = (self.before.doc(), self.after.doc()) else {
            return;
        };
        let key: DataKey = (
            Arc::as_ptr(&b.analysis) as usize,
            b.generation(),
            Arc::as_ptr(&a.analysis) as usize,
            a.generation(),
            self.normalize,
            self.alpha.to_bits(),
            self.min_delta.to_bits(),
        );
        let (bp, bn, ba) = (b.profile.clone(), b.nodes.clone(), b.analysis.clone());
        let (ap, an, aa) = (a.profile.clone(), a.nodes.clone(), a.analysis.clone());
        let (normalize, alpha, min_delta) = (self.normalize, self.alpha, self.min_delta);
        let fresh = !self.data.is_current(&key);
        self.data.get(&key, ctx, move || {
            let before = DiffInput {
                profile: &bp,
                nodes: &bn,
                tree: &ba.tree,
                top: &ba.top,
                seconds: selection_seconds(&bp, &ba.selection),
            };
            let after = DiffInput {
                profile: &ap,
                nodes: &an,
                tree: &aa.tree,
                top: &aa.top,
                seconds: selection_seconds(&ap, &aa.selection),
            };
            let functions = diff_of(&before, &after, normalize, alpha, min_delta);
            let paths = path_diff(
                &TreeSide {
                    profile: before.profile,
                    nodes: before.nodes,
                    tree: before.tree,
                    seconds: before.seconds,
                },
                &TreeSide {
                    profile: after.profile,
                    nodes: after.nodes,
                    tree: after.tree,
                    seconds: after.seconds,
                },
                alpha,
                min_delta,
            );
            let mut max_delta = Vec::new();
            for metric in [Metric::Total, Metric::Exclusive] {
                for n in [Normalize::Share, Normalize::Absolute, Normalize::PerSecond] {
                    max_delta.push(((metric, n), paths.max_significant_delta(metric, n)));
                }
            }
            DiffData {
                functions,
                paths,
                max_delta,
            }
        });
        if fresh && self.data.is_current(&key) {
            self.flame
                .on_new_analysis(&Graph::main(&a.nodes, &a.analysis));
        }
    }

    /// Applies a transform to both sides.
    pub fn push_transform(&mut self, t: Transform, ctx: &egui::Context) {
        for d in self.docs_mut() {
            d.push_transform(t.clone(), ctx);
        }
    }

    /// Undoes the last transform change on both sides.
    pub fn undo_transform(&mut self, ctx: &egui::Context) {
        for d in self.docs_mut() {
            d.undo_transform(ctx);
        }
    }

    /// Shows the whole graphs again (Esc) and unpicks the table's function.
    pub fn reset_zoom(&mut self) {
        self.flame.reset();
        for d in self.docs_mut() {
            d.flame.reset();
        }
        self.highlight = None;
        self.resolve_highlight();
    }

    /// Switches both sides to the after profile's event `i` (the before side to the event of
    /// the same name).
    pub fn set_event(&mut self, i: usize, ctx: &egui::Context) {
        let Some(name) = self
            .after
            .doc()
            .and_then(|a| a.profile.sample_types.get(i))
            .map(|t| t.name.clone())
        else {
            return;
        };
        if let Some(a) = self.after.doc_mut() {
            a.set_sample_type(i, ctx);
        }
        self.event_warning = None;
        if let Some(b) = self.before.doc_mut() {
            match b.profile.sample_types.iter().position(|t| t.name == name) {
                Some(j) => b.set_sample_type(j, ctx),
                None => {
                    self.event_warning = Some(format!(
                        "the before profile has no event {name}: not compared"
                    ))
                }
            }
        }
    }

    /// Looks at the time from `from` to `to` seconds after each profile's first sample.
    pub fn set_time_range(&mut self, range: Option<(f64, f64)>, ctx: &egui::Context) {
        self.time_applied = range;
        for d in self.docs_mut() {
            let ranges = match (range, d.bounds) {
                (Some((from, to)), Some((start, _))) if to > from => {
                    let at = |s: f64| start.saturating_add((s.max(0.0) * 1e9) as u64);
                    vec![(at(from), at(to))]
                }
                _ => Vec::new(),
            };
            d.set_preview(ranges, ctx);
        }
    }

    /// Before becomes after and after before.
    pub fn swap(&mut self) {
        std::mem::swap(&mut self.before, &mut self.after);
        self.set_up.swap(0, 1);
        self.flame = FlameState::default();
        self.synced = Default::default();
        self.hovered_path = None;
        self.event_warning = None;
    }

    /// Looks the highlighted function up on both sides when it or a side's profile changed.
    fn resolve_highlight(&mut self) {
        let ptr = |s: &Side| s.doc().map_or(0, |d| Arc::as_ptr(&d.profile) as usize);
        let key = (ptr(&self.before), ptr(&self.after), self.highlight.clone());
        if self.highlight_for.as_ref() == Some(&key) {
            return;
        }
        let find = |s: &Side| {
            let id = self.highlight.as_ref()?;
            Self::func_in(&s.doc()?.profile, id)
        };
        self.highlight_ids = [find(&self.before), find(&self.after)];
        self.highlight_for = Some(key);
    }

    /// The function `identity` in `p`, if it has one of that name and module.
    fn func_in(p: &Profile, identity: &(String, String)) -> Option<FuncId> {
        (0..p.funcs.len())
            .map(FuncId::from_index)
            .find(|&f| p.func_name(f) == identity.0 && p.func_module_name(f) == identity.1)
    }

    fn identity(p: &Profile, f: FuncId) -> (String, String) {
        (p.func_name(f).to_owned(), p.func_module_name(f).to_owned())
    }

    /// Does what a graph's box or the table asked for (on both sides).
    fn act(&mut self, action: Action, from: &Profile, ctx: &egui::Context) {
        match action {
            Action::Transform(t) => self.push_transform(t, ctx),
            Action::Highlight(f) => {
                let id = Self::identity(from, f);
                self.highlight = if self.highlight.as_ref() == Some(&id) {
                    None
                } else {
                    Some(id)
                };
                self.resolve_highlight();
            }
            // The comparison has no caller/callee or source view; its menus do not offer them.
            Action::Sandwich(_) | Action::Source(_) => {}
        }
    }

    /// The fill of an after call node in the differential flame graph (for tests and the
    /// legend): `None` until the comparison is computed.
    pub fn fill_of(&self, node: CallNodeId, dark: bool) -> Option<Color32> {
        let data = self.data()?;
        let paint = DiffColors::new(data, self.metric, self.normalize, Unit::Count);
        paint.fill(node, dark)
    }
}

/// The differential colouring of the after graph, and the before/after rows of the hover
/// card of either graph.
struct DiffColors<'a> {
    d: &'a PathDiff,
    /// The graph is the before profile's (side by side), else the after one's.
    before_side: bool,
    /// Colour boxes by change (the differential graph), else keep the usual colours.
    paint: bool,
    metric: Metric,
    normalize: Normalize,
    /// |delta| at full colour.
    max: f64,
    unit: Unit,
}

impl<'a> DiffColors<'a> {
    fn new(data: &'a DiffData, metric: Metric, normalize: Normalize, unit: Unit) -> Self {
        DiffColors {
            d: &data.paths,
            before_side: false,
            paint: true,
            metric,
            normalize,
            max: data.max_delta(metric, normalize),
            unit,
        }
    }

    fn value(&self, v: f64) -> String {
        scaled_text(self.normalize, v, self.unit)
    }
}

/// A value on the comparison's scale as text.
fn scaled_text(normalize: Normalize, v: f64, unit: Unit) -> String {
    match normalize {
        Normalize::Share => format!("{v:.2}%"),
        Normalize::Absolute => format::weight(v.round() as i64, unit),
        Normalize::PerSecond => format!("{}/s", format::weight(v.round() as i64, unit)),
    }
}

/// A change on the comparison's scale as signed text.
fn delta_text(normalize: Normalize, v: f64, unit: Unit) -> String {
    match normalize {
        Normalize::Share => format!("{v:+.2} pts"),
        _ => {
            let sign = if v >= 0.0 { "+" } else { "-" };
            format!("{sign}{}", scaled_text(normalize, v.abs(), unit))
        }
    }
}

/// Grey of a box whose change is not significant.
fn not_significant(dark: bool) -> Color32 {
    if dark {
        Color32::from_gray(110)
    } else {
        Color32::from_gray(208)
    }
}

/// Red for more, blue for less; the larger the change against `max`, the stronger; grey when
/// not significant.
pub fn diff_color(c: &PathChange, max: f64, dark: bool) -> Color32 {
    if !c.significant || c.delta == 0.0 {
        return not_significant(dark);
    }
    let t = if max > 0.0 {
        (c.delta.abs() / max).clamp(0.0, 1.0)
    } else {
        1.0
    };
    // A significant change is never as pale as white: a quarter of the colour at least.
    let t = 0.25 + 0.75 * t;
    let end = if c.delta > 0.0 {
        [222.0, 45.0, 38.0]
    } else {
        [49.0, 110.0, 222.0]
    };
    let start = [246.0, 244.0, 240.0];
    let mix = |k: usize| (start[k] + (end[k] - start[k]) * t as f32) as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

impl DiffColors<'_> {
    fn path_of(&self, node: CallNodeId) -> Option<u32> {
        if self.before_side {
            self.d.path_of_before(node)
        } else {
            self.d.path_of_after(node)
        }
    }
}

impl DiffPaint for DiffColors<'_> {
    fn fill(&self, node: CallNodeId, dark: bool) -> Option<Color32> {
        if !self.paint {
            return None;
        }
        Some(
            match self
                .path_of(node)
                .and_then(|p| self.d.change(p, self.metric, self.normalize))
            {
                Some(c) => diff_color(&c, self.max, dark),
                None => not_significant(dark),
            },
        )
    }

    fn tooltip(&self, ui: &mut Ui, node: CallNodeId) {
        let Some(path) = self.path_of(node) else {
            return;
        };
        egui::Grid::new("diff-tip").num_columns(4).show(ui, |ui| {
            ui.label("");
            ui.strong("before");
            ui.strong("after");
            ui.strong("change");
            ui.end_row();
            for (label, metric) in [("total", Metric::Total), ("self", Metric::Exclusive)] {
                let Some(c) = self.d.change(path, metric, self.normalize) else {
                    continue;
                };
                ui.label(label);
                ui.label(self.value(c.before));
                ui.label(self.value(c.after));
                let text = format!(
                    "{}  (share {:+.2} pts, 95% CI {:+.2} to {:+.2}; q = {:.2e})",
                    delta_text(self.normalize, c.delta, self.unit),
                    c.share.delta,
                    c.share.ci_low,
                    c.share.ci_high,
                    c.q_value
                );
                ui.label(text);
                ui.end_row();
            }
        });
        let verdict = match self.d.change(path, self.metric, self.normalize) {
            Some(c) if c.significant && c.delta > 0.0 => "significantly more",
            Some(c) if c.significant && c.delta < 0.0 => "significantly less",
            _ => "no significant change",
        };
        let what = match self.metric {
            Metric::Total => "total",
            Metric::Exclusive => "self",
        };
        if self.d.before_node_of(path).is_none() {
            ui.label(format!("new in after: {verdict} ({what})"));
        } else if self.d.after_node_of(path).is_none() {
            ui.label(format!("gone in after: {verdict} ({what})"));
        } else {
            ui.label(format!("{verdict} ({what})"));
        }
    }
}

/// Draws a comparison tab; `focus_search` puts the cursor in its search box.
pub fn show(
    ui: &mut Ui,
    cmp: &mut Comparison,
    icicle: bool,
    color_by: ColorBy,
    focus_search: bool,
) {
    let ctx = ui.ctx().clone();
    egui::Panel::top("compare-head").show(ui, |ui| {
        ui.add_space(2.0);
        header(ui, cmp);
        controls(ui, cmp, focus_search);
        transform_row(ui, cmp);
        ui.add_space(2.0);
    });
    // Both loaded, or what is happening to each side.
    let ready = cmp.before.doc().is_some() && cmp.after.doc().is_some();
    if !ready {
        egui::CentralPanel::default().show(ui, |ui| {
            for side in [&cmp.before, &cmp.after] {
                match side {
                    Side::Loading(job) => {
                        ui.label(format!("Loading {}…", job.request.title));
                        ui.add(
                            egui::ProgressBar::new(job.progress.fraction())
                                .desired_width(420.0)
                                .show_percentage(),
                        );
                    }
                    Side::Failed { request, error } => {
                        ui.colored_label(
                            ui.visuals().error_fg_color,
                            format!("Could not open {}: {error}", request.path.display()),
                        );
                    }
                    Side::Ready(d) => {
                        ui.label(format!("{} loaded", d.title));
                    }
                }
                ui.add_space(8.0);
            }
            let cancel =
                matches!(cmp.before, Side::Loading(_)) || matches!(cmp.after, Side::Loading(_));
            if cancel && ui.button("Cancel").clicked() {
                cmp.cancel();
            }
        });
        return;
    }
    let avail = ui.available_height();
    let table_action = egui::Panel::bottom("compare-table")
        .resizable(true)
        .default_size((avail * 0.3).max(140.0))
        .show(ui, |ui| {
            ui.add_space(4.0);
            diff_table(ui, cmp)
        })
        .inner;
    if let Some((f, p)) = table_action {
        cmp.act(Action::Highlight(f), &p, &ctx);
    }
    if cmp.view == CompareView::Differential {
        egui::Panel::right("compare-elided")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| elided_list(ui, cmp));
    }
    egui::CentralPanel::default().show(ui, |ui| match cmp.view {
        CompareView::Differential => differential(ui, cmp, icicle),
        CompareView::SideBySide => side_by_side(ui, cmp, icicle, color_by),
    });
}

/// What is compared with what.
fn header(ui: &mut Ui, cmp: &mut Comparison) {
    ui.horizontal_wrapped(|ui| {
        for (label, side) in [("Before:", &cmp.before), ("After:", &cmp.after)] {
            ui.strong(label);
            match side.doc() {
                Some(d) => {
                    let a = &d.analysis;
                    let unit = d
                        .profile
                        .sample_types
                        .get(a.selection.sample_type)
                        .map_or(Unit::Count, |t| t.unit);
                    ui.label(&d.title)
                        .on_hover_text(d.path.display().to_string());
                    ui.weak(format!(
                        "{} samples, {}",
                        format::grouped(a.tree.samples as i64),
                        format::weight(a.tree.total, unit)
                    ));
                }
                None => {
                    ui.label(side.title());
                }
            }
            ui.separator();
        }
        if ui
            .button("Swap")
            .on_hover_text("Make the after profile the baseline")
            .clicked()
        {
            cmp.swap();
        }
    });
}

/// View, scale, colouring, event, search and time range.
fn controls(ui: &mut Ui, cmp: &mut Comparison, focus_search: bool) {
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        ui.selectable_value(&mut cmp.view, CompareView::Differential, "Differential");
        ui.selectable_value(&mut cmp.view, CompareView::SideBySide, "Side by side");
        ui.separator();
        let label = ui.label("Compare:");
        egui::ComboBox::from_id_salt("compare-normalize")
            .selected_text(match cmp.normalize {
                Normalize::Share => "share of total",
                Normalize::Absolute => "absolute weight",
                Normalize::PerSecond => "weight per second",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut cmp.normalize, Normalize::Share, "share of total");
                ui.selectable_value(&mut cmp.normalize, Normalize::Absolute, "absolute weight");
                ui.selectable_value(
                    &mut cmp.normalize,
                    Normalize::PerSecond,
                    "weight per second",
                );
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(
                "Share: each profile's weights as a percentage of its total (runs of different \
                 lengths compare). Absolute: the weights as they are. Per second: weight per \
                 second of each profile's selected time. Significance is always tested on the \
                 share of sample counts.",
            );
        let label = ui.label("Colour by change of:");
        ui.selectable_value(&mut cmp.metric, Metric::Total, "total")
            .labelled_by(label.id);
        ui.selectable_value(&mut cmp.metric, Metric::Exclusive, "self");
        ui.separator();
        if let Some(a) = cmp.after.doc() {
            let types: Vec<String> = a
                .profile
                .sample_types
                .iter()
                .map(|t| t.name.clone())
                .collect();
            let current = a.analysis.selection.sample_type;
            if types.len() > 1 {
                let label = ui.label("Event:");
                let mut picked = None;
                egui::ComboBox::from_id_salt("compare-event")
                    .selected_text(types.get(current).cloned().unwrap_or_default())
                    .show_ui(ui, |ui| {
                        for (i, t) in types.iter().enumerate() {
                            if ui.selectable_label(i == current, t).clicked() {
                                picked = Some(i);
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if let Some(i) = picked {
                    cmp.set_event(i, &ctx);
                }
            }
        }
        if let Some(w) = &cmp.event_warning {
            ui.colored_label(ui.visuals().warn_fg_color, w);
        }
        ui.separator();
        let label = ui.label("Search:");
        let resp = ui
            .add(
                egui::TextEdit::singleline(&mut cmp.search)
                    .hint_text("regex ( / )")
                    .desired_width(160.0),
            )
            .labelled_by(label.id);
        if focus_search {
            resp.request_focus();
        }
        let text = cmp.search.clone();
        for d in cmp.docs_mut() {
            if d.search.text != text {
                d.search.text = text.clone();
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        let has_time = [&cmp.before, &cmp.after]
            .iter()
            .all(|s| s.doc().is_some_and(|d| d.bounds.is_some()));
        ui.add_enabled_ui(has_time, |ui| {
            let label = ui.label("Time from");
            ui.add(
                egui::DragValue::new(&mut cmp.time_from)
                    .range(0.0..=1e6)
                    .speed(0.05)
                    .suffix(" s"),
            )
            .labelled_by(label.id);
            let label = ui.label("to");
            ui.add(
                egui::DragValue::new(&mut cmp.time_to)
                    .range(0.0..=1e6)
                    .speed(0.05)
                    .suffix(" s"),
            )
            .labelled_by(label.id);
            ui.weak("after each profile's first sample");
            if ui
                .add_enabled(
                    cmp.time_to > cmp.time_from,
                    egui::Button::new("Apply range"),
                )
                .on_hover_text("Compare only this part of each profile")
                .clicked()
            {
                let r = Some((cmp.time_from, cmp.time_to));
                cmp.set_time_range(r, &ctx);
            }
            if ui
                .add_enabled(
                    cmp.time_applied.is_some(),
                    egui::Button::new("Whole profiles"),
                )
                .clicked()
            {
                cmp.set_time_range(None, &ctx);
            }
        });
        if !has_time {
            ui.weak("(no timestamps: whole profiles)");
        } else if let Some((a, b)) = cmp.time_applied {
            ui.label(format!("comparing {a:.2} s to {b:.2} s of each"));
        }
    });
}

/// The transforms in force on both sides as chips, Undo, and "hide below".
fn transform_row(ui: &mut Ui, cmp: &mut Comparison) {
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        ui.label("Transforms (both sides):");
        let list = cmp
            .after
            .doc()
            .map(|d| d.transforms.clone())
            .unwrap_or_default();
        let mut remove = None;
        for (i, t) in list.iter().enumerate() {
            let chip = egui::Button::new(format!("{}  x", super::chip_label(t))).selected(true);
            if ui
                .add(chip)
                .on_hover_text("Remove this transform")
                .clicked()
            {
                remove = Some(i);
            }
        }
        if list.is_empty() {
            ui.weak("none (right-click a box)");
        }
        if let Some(i) = remove {
            for d in cmp.docs_mut() {
                d.remove_transform(i, &ctx);
            }
        }
        let can_undo = cmp.after.doc().is_some_and(|d| d.can_undo());
        if ui
            .add_enabled(can_undo, egui::Button::new("Undo"))
            .clicked()
        {
            for d in cmp.docs_mut() {
                d.undo_transform(&ctx);
            }
        }
        ui.separator();
        let label = ui.label("Hide below");
        ui.add(
            egui::DragValue::new(&mut cmp.hide_below_percent)
                .range(0.01..=50.0)
                .speed(0.05)
                .suffix(" %"),
        )
        .labelled_by(label.id);
        if ui.button("Hide").clicked() {
            let basis_points = (cmp.hide_below_percent * 100.0).round() as u32;
            cmp.push_transform(Transform::HideBelow { basis_points }, &ctx);
        }
        let errors: Vec<String> = [&cmp.before, &cmp.after]
            .iter()
            .filter_map(|s| s.doc()?.transform_error.clone())
            .collect();
        for e in errors {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if cmp.is_busy() {
            ui.spinner();
        }
    });
}

/// The colour legend of the differential graph.
fn legend(ui: &mut Ui, cmp: &Comparison, data: &DiffData, unit: Unit) {
    let max = data.max_delta(cmp.metric, cmp.normalize);
    let what = match cmp.metric {
        Metric::Total => "total",
        Metric::Exclusive => "self",
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Colour: change of each call path's {what}"));
        ui.weak("less");
        let (rect, _) = ui.allocate_exact_size(egui::vec2(180.0, 14.0), Sense::hover());
        let steps = 36;
        for k in 0..steps {
            let x = k as f64 / (steps - 1) as f64 * 2.0 - 1.0;
            let c = PathChange {
                before: 0.0,
                after: 0.0,
                delta: x * max.max(1e-12),
                share: stacklens_core::analysis::share_change(0, 1, 0, 1),
                q_value: 0.0,
                significant: x != 0.0,
            };
            let w = rect.width() / steps as f32;
            let r = egui::Rect::from_min_size(
                egui::pos2(rect.left() + k as f32 * w, rect.top()),
                egui::vec2(w + 0.5, rect.height()),
            );
            ui.painter()
                .rect_filled(r, 0.0, diff_color(&c, max, ui.visuals().dark_mode));
        }
        ui.label(format!(
            "more   (full colour at {} either way)",
            delta_text(cmp.normalize, max, unit).trim_start_matches('+')
        ));
        let (r, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), Sense::hover());
        ui.painter()
            .rect_filled(r, 0.0, not_significant(ui.visuals().dark_mode));
        ui.label(format!(
            "not significant (q ≥ {} after Benjamini–Hochberg, or under {} pts)",
            cmp.alpha, cmp.min_delta
        ));
    });
}

fn unit_of(d: &Document) -> Unit {
    d.profile
        .sample_types
        .get(d.analysis.selection.sample_type)
        .map_or(Unit::Count, |t| t.unit)
}

/// The after profile's flame graph coloured by change.
fn differential(ui: &mut Ui, cmp: &mut Comparison, icicle: bool) {
    let ctx = ui.ctx().clone();
    let Some(data) = cmp.data().cloned() else {
        ui.spinner();
        return;
    };
    let Some(a) = cmp.after.doc() else {
        return;
    };
    // The comparison is of the shown analyses; until it catches up, wait.
    if data.paths.after_path.len() != a.nodes.len() {
        ui.spinner();
        return;
    }
    let unit = unit_of(a);
    legend(ui, cmp, &data, unit);
    let (profile, nodes, analysis) = (a.profile.clone(), a.nodes.clone(), a.analysis.clone());
    let graph = Graph::main(&nodes, &analysis);
    flame::breadcrumbs(ui, &mut cmp.flame, &profile, &graph);
    let paint = DiffColors::new(&data, cmp.metric, cmp.normalize, unit);
    let highlight = cmp.highlight_ids[1];
    let Some(a) = cmp.after.doc() else {
        return;
    };
    let input = FlameInput {
        profile: &profile,
        graph,
        sample_type: analysis.selection.sample_type,
        search: &a.search,
        highlight,
        hovered_func: None,
        color_by: ColorBy::Module,
        icicle,
        diff: Some(&paint),
        linked: None,
        comparison: true,
        ratio: None,
    };
    if let Some(action) = flame::canvas(ui, &mut cmp.flame, &input) {
        cmp.act(action, &profile, &ctx);
    }
}

/// The two flame graphs next to each other, zoom, search and hover kept in step.
fn side_by_side(ui: &mut Ui, cmp: &mut Comparison, icicle: bool, color_by: ColorBy) {
    let ctx = ui.ctx().clone();
    let data = cmp.data().cloned();
    // Only a comparison of the shown trees maps their nodes.
    let data = data.filter(|d| {
        cmp.before
            .doc()
            .is_some_and(|b| b.nodes.len() == d.paths.before_path.len())
            && cmp
                .after
                .doc()
                .is_some_and(|a| a.nodes.len() == d.paths.after_path.len())
    });
    let highlight = cmp.highlight_ids;
    let hovered = cmp.hovered_path;
    let (metric, normalize) = (cmp.metric, cmp.normalize);
    let unit = cmp.after.doc().map_or(Unit::Count, unit_of);
    let mut actions: Vec<(Action, Arc<Profile>)> = Vec::new();
    let mut now_hovered = None;
    ui.columns(2, |cols| {
        for (k, ui) in cols.iter_mut().enumerate() {
            let side = if k == 0 {
                &mut cmp.before
            } else {
                &mut cmp.after
            };
            let Some(d) = side.doc_mut() else {
                continue;
            };
            let profile = d.profile.clone();
            let (nodes, analysis) = (d.nodes.clone(), d.analysis.clone());
            let graph = Graph::main(&nodes, &analysis);
            // The hovered path of the other graph, on this one.
            let linked = match (&data, hovered) {
                (Some(data), Some((from, path))) if from != k => {
                    if k == 0 {
                        data.paths.before_node_of(path)
                    } else {
                        data.paths.after_node_of(path)
                    }
                }
                _ => None,
            };
            let hl = highlight[k];
            let tip = data.as_deref().map(|data| DiffColors {
                before_side: k == 0,
                paint: false,
                ..DiffColors::new(data, metric, normalize, unit)
            });
            ui.horizontal(|ui| {
                ui.strong(if k == 0 { "Before" } else { "After" });
                ui.label(&d.title);
            });
            flame::breadcrumbs(ui, &mut d.flame, &profile, &graph);
            let input = FlameInput {
                profile: &profile,
                graph,
                sample_type: analysis.selection.sample_type,
                search: &d.search,
                highlight: hl,
                hovered_func: None,
                color_by,
                icicle,
                diff: tip.as_ref().map(|t| t as &dyn DiffPaint),
                linked,
                comparison: true,
                ratio: None,
            };
            if let Some(a) = flame::canvas(ui, &mut d.flame, &input) {
                actions.push((a, profile.clone()));
            }
            if let (Some(h), Some(data)) = (d.flame.hovered, &data) {
                let path = if k == 0 {
                    data.paths.path_of_before(h)
                } else {
                    data.paths.path_of_after(h)
                };
                if let Some(p) = path {
                    now_hovered = Some((k, p));
                }
            }
        }
    });
    cmp.hovered_path = now_hovered;
    if let Some(data) = &data {
        sync(cmp, &data.paths);
    }
    for (a, p) in actions {
        cmp.act(a, &p, &ctx);
    }
}

/// Makes the graph that changed this frame show the same thing in the other: the same call
/// path zoomed, the same part of it in view, the same scroll.
fn sync(cmp: &mut Comparison, paths: &PathDiff) {
    let (Some(b), Some(a)) = (cmp.before.doc(), cmp.after.doc()) else {
        return;
    };
    let state = |d: &Document| -> SyncState { (d.flame.zoom, d.flame.view, d.flame.scroll_y) };
    let now = [state(b), state(a)];
    let from = if now[0] != cmp.synced[0] {
        0
    } else if now[1] != cmp.synced[1] {
        1
    } else {
        return;
    };
    let (src, dst): (&mut Side, &mut Side) = if from == 0 {
        (&mut cmp.before, &mut cmp.after)
    } else {
        (&mut cmp.after, &mut cmp.before)
    };
    let (Some(s), Some(t)) = (src.doc_mut(), dst.doc_mut()) else {
        return;
    };
    let (sg, tg) = (
        Graph::main(&s.nodes, &s.analysis),
        Graph::main(&t.nodes, &t.analysis),
    );
    let to_path = |n: CallNodeId| {
        if from == 0 {
            paths.path_of_before(n)
        } else {
            paths.path_of_after(n)
        }
    };
    let to_node = |p: u32| {
        if from == 0 {
            paths.after_node_of(p)
        } else {
            paths.before_node_of(p)
        }
    };
    let zoom = s.flame.zoom.and_then(to_path).and_then(to_node);
    let whole = |g: &Graph<'_>, z: Option<CallNodeId>| -> Span {
        z.and_then(|z| FlameState::span_of(g, z))
            .unwrap_or((0.0, g.layout.width as f64))
    };
    let (f0, f1) = whole(&sg, s.flame.zoom);
    let (t0, t1) = whole(&tg, zoom);
    let view = match s.flame.view {
        Some((v0, v1)) if f1 > f0 => {
            let at = |v: f64| t0 + (v - f0) / (f1 - f0) * (t1 - t0);
            Some((at(v0), at(v1)))
        }
        _ => zoom.map(|_| (t0, t1)),
    };
    // A zoom is a step Back can undo; a wheel or drag step is not.
    if zoom == t.flame.zoom {
        t.flame.view = view;
    } else {
        t.flame.show(zoom, view);
    }
    t.flame.scroll_y = s.flame.scroll_y;
    let (b, a) = (cmp.before.doc(), cmp.after.doc());
    if let (Some(b), Some(a)) = (b, a) {
        cmp.synced = [state(b), state(a)];
    }
}

/// Paths only in the before profile: the tops of what no longer runs.
fn elided_list(ui: &mut Ui, cmp: &mut Comparison) {
    ui.add_space(4.0);
    ui.strong("Only before (elided)");
    let Some(data) = cmp.data().cloned() else {
        return;
    };
    let Some(b) = cmp.before.doc() else {
        return;
    };
    if data.paths.before_path.len() != b.nodes.len() {
        ui.spinner();
        return;
    }
    let d = &data.paths;
    if d.elided.is_empty() {
        ui.weak("Every call path of the before profile also runs after.");
        return;
    }
    let total: i64 = d
        .elided
        .iter()
        .map(|&p| d.paths[p as usize].before_total)
        .sum();
    ui.weak(format!(
        "{} call paths, {} of the before profile; not in the graph. Click one to see it in \
         the side-by-side view.",
        format::grouped(d.elided.len() as i64),
        flame::percent(total, d.before_total)
    ));
    let p = b.profile.clone();
    let nodes = b.nodes.clone();
    let mut picked = None;
    egui::ScrollArea::vertical().show_rows(ui, 18.0, d.elided.len(), |ui, rows| {
        for &path in &d.elided[rows] {
            let Some(node) = d.before_node_of(path) else {
                continue;
            };
            let name = p.func_name(nodes.func[node.index()]);
            let share = flame::percent(d.paths[path as usize].before_total, d.before_total);
            let full: Vec<&str> = stacklens_core::analysis::ancestors(&nodes, node)
                .iter()
                .map(|c| p.func_name(nodes.func[c.index()]))
                .collect();
            if ui
                .add(egui::Button::new(format!("{share}  {}", flame::short(name, 40))).frame(false))
                .on_hover_text(full.join(" → "))
                .clicked()
            {
                picked = Some(node);
            }
        }
    });
    if let Some(node) = picked
        && let Some(b) = cmp.before.doc_mut()
    {
        let (nodes, a) = (b.nodes.clone(), b.analysis.clone());
        b.flame.zoom_to(&Graph::main(&nodes, &a), node);
        cmp.view = CompareView::SideBySide;
    }
}

/// Columns of the diff table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffSort {
    Change,
    Before,
    After,
    Delta,
    Ratio,
    P,
    Function,
}

const DIFF_COLUMNS: [(&str, Option<DiffSort>, &str); 9] = [
    (
        "Before",
        Some(DiffSort::Before),
        "Self before, on the chosen scale",
    ),
    (
        "After",
        Some(DiffSort::After),
        "Self after, on the chosen scale",
    ),
    (
        "Delta",
        Some(DiffSort::Delta),
        "After minus before, on the chosen scale",
    ),
    ("Ratio", Some(DiffSort::Ratio), "After divided by before"),
    (
        "Share change (95% CI)",
        Some(DiffSort::Change),
        "Change of the self share in percentage points, with its 95% confidence interval",
    ),
    (
        "p",
        Some(DiffSort::P),
        "Two-proportion test of the self share change",
    ),
    (
        "q",
        None,
        "p corrected for testing every function (Benjamini–Hochberg)",
    ),
    ("Module", None, ""),
    ("Function", Some(DiffSort::Function), ""),
];

/// Sort, filter and row order of the diff table.
pub struct DiffTable {
    pub sort: DiffSort,
    pub descending: bool,
    pub filter: String,
    pub only_significant: bool,
    /// Indexes into `Diff::functions` in display order.
    pub rows: Vec<usize>,
    rows_for: Option<(usize, DiffSort, bool, String, bool)>,
}

impl Default for DiffTable {
    fn default() -> Self {
        DiffTable {
            sort: DiffSort::Change,
            descending: true,
            filter: String::new(),
            only_significant: false,
            rows: Vec::new(),
            rows_for: None,
        }
    }
}

impl DiffTable {
    fn sort_by(&mut self, col: DiffSort) {
        if self.sort == col {
            self.descending = !self.descending;
        } else {
            self.sort = col;
            self.descending = !matches!(col, DiffSort::Function | DiffSort::P);
        }
    }

    fn update_rows(&mut self, d: &Diff, identity: usize) {
        let key = (
            identity,
            self.sort,
            self.descending,
            self.filter.clone(),
            self.only_significant,
        );
        if self.rows_for.as_ref() == Some(&key) {
            return;
        }
        let needle = self.filter.trim().to_lowercase();
        let mut rows: Vec<usize> = (0..d.functions.len())
            .filter(|&i| {
                let f = &d.functions[i];
                // Functions that are never a leaf have no self share to compare.
                (f.before_self_samples + f.after_self_samples > 0)
                    && (!self.only_significant || f.significant)
                    && (needle.is_empty() || f.name.to_lowercase().contains(&needle))
            })
            .collect();
        let key_of = |f: &FuncDiff| -> f64 {
            match self.sort {
                // Largest change either way first, as the command line prints it.
                DiffSort::Change => f.share_delta.abs(),
                DiffSort::Before => f.before,
                DiffSort::After => f.after,
                DiffSort::Delta => f.delta,
                DiffSort::Ratio => f.ratio,
                DiffSort::P => f.p_value,
                DiffSort::Function => 0.0,
            }
        };
        rows.sort_by(|&i, &j| {
            let (x, y) = (&d.functions[i], &d.functions[j]);
            let o = if self.sort == DiffSort::Function {
                x.name.cmp(&y.name)
            } else {
                key_of(x).total_cmp(&key_of(y))
            };
            if self.descending { o.reverse() } else { o }
        });
        self.rows = rows;
        self.rows_for = Some(key);
    }
}

/// The table of functions; returns a clicked row's function (in the after profile, else the
/// before one) and that profile.
fn diff_table(ui: &mut Ui, cmp: &mut Comparison) -> Option<(FuncId, Arc<Profile>)> {
    let data = cmp.data()?.clone();
    let d = &data.functions;
    let unit = cmp.after.doc().map_or(Unit::Count, unit_of);
    ui.horizontal(|ui| {
        ui.strong("Functions");
        ui.weak(format!(
            "self {}; p: two-proportion test on self sample counts ({} vs {} samples); q: Benjamini–Hochberg; * = q < {} and at least {} pts",
            match d.normalize {
                Normalize::Share => "share of each profile's total",
                Normalize::Absolute => "weight",
                Normalize::PerSecond => "weight per second",
            },
            format::grouped(d.before_samples as i64),
            format::grouped(d.after_samples as i64),
            d.alpha,
            d.min_delta
        ));
    });
    ui.horizontal(|ui| {
        let label = ui.label("Filter:");
        ui.add(
            egui::TextEdit::singleline(&mut cmp.table.filter)
                .hint_text("function name")
                .desired_width(200.0),
        )
        .labelled_by(label.id);
        ui.checkbox(&mut cmp.table.only_significant, "Significant only");
    });
    cmp.table.update_rows(d, Arc::as_ptr(&data) as usize);
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut clicked = None;
    let mut sort_click = None;
    let highlight = cmp.highlight.clone();
    let (red, blue) = if ui.visuals().dark_mode {
        (
            Color32::from_rgb(255, 120, 110),
            Color32::from_rgb(120, 170, 255),
        )
    } else {
        (
            Color32::from_rgb(190, 30, 25),
            Color32::from_rgb(30, 80, 200),
        )
    };
    TableBuilder::new(ui)
        .id_salt("diff-functions")
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .columns(Column::auto().at_least(64.0), 4)
        .column(Column::initial(200.0).at_least(80.0).clip(true))
        .columns(Column::auto().at_least(64.0), 2)
        .column(Column::initial(110.0).at_least(40.0).clip(true))
        .column(Column::remainder().at_least(120.0).clip(true))
        .header(20.0, |mut header| {
            for (label, sort, tip) in DIFF_COLUMNS {
                header.col(|ui| {
                    let resp = match sort {
                        Some(sort) => {
                            let r = ui.add(
                                egui::Button::new(egui::RichText::new(label).strong()).frame(false),
                            );
                            if r.clicked() {
                                sort_click = Some(sort);
                            }
                            r
                        }
                        None => ui.strong(label),
                    };
                    if !tip.is_empty() {
                        resp.on_hover_text(tip);
                    }
                });
            }
        })
        .body(|body| {
            let rows = cmp.table.rows.clone();
            body.rows(row_height, rows.len(), |mut row| {
                let Some(f) = rows.get(row.index()).and_then(|&i| d.functions.get(i)) else {
                    return;
                };
                let selected = highlight
                    .as_ref()
                    .is_some_and(|h| h.0 == f.name && h.1 == f.module);
                row.set_selected(selected);
                let color = match (f.significant, f.share_delta > 0.0) {
                    (true, true) => Some(red),
                    (true, false) => Some(blue),
                    _ => None,
                };
                let text = |s: String| -> egui::WidgetText {
                    match color {
                        Some(c) => egui::RichText::new(s).color(c).into(),
                        None => s.into(),
                    }
                };
                row.col(|ui| cell(ui, text(scaled_text(d.normalize, f.before, unit))));
                row.col(|ui| cell(ui, text(scaled_text(d.normalize, f.after, unit))));
                row.col(|ui| cell(ui, text(delta_text(d.normalize, f.delta, unit))));
                row.col(|ui| {
                    cell(
                        ui,
                        if f.ratio.is_finite() {
                            format!("{:.2}x", f.ratio)
                        } else {
                            "new".to_owned()
                        },
                    )
                });
                row.col(|ui| {
                    cell(
                        ui,
                        text(format!(
                            "{:+.2} ({:+.2} to {:+.2}){}",
                            f.share_delta,
                            f.ci_low,
                            f.ci_high,
                            if f.significant { " *" } else { "" }
                        )),
                    )
                });
                row.col(|ui| cell(ui, format!("{:.2e}", f.p_value)));
                row.col(|ui| cell(ui, format!("{:.2e}", f.q_value)));
                row.col(|ui| cell(ui, f.module.as_str()));
                row.col(|ui| cell(ui, text(f.name.clone())));
                if row.response().clicked() {
                    clicked = Some((f.name.clone(), f.module.clone()));
                }
            });
        });
    if let Some(col) = sort_click {
        cmp.table.sort_by(col);
    }
    let id = clicked?;
    for side in [&cmp.after, &cmp.before] {
        if let Some(doc) = side.doc()
            && let Some(f) = Comparison::func_in(&doc.profile, &id)
        {
            return Some((f, doc.profile.clone()));
        }
    }
    None
}
