//! The flame graph (root at the bottom) and icicle (root at the top), painted by hand.
//!
//! Each frame walks the depth-first call node table once, and a node that is under a pixel
//! wide, outside the visible span, or beyond the visible rows is skipped together with its
//! whole subtree (`i = subtree_end[i]`): a million-node graph paints only the few thousand
//! boxes that can be seen.

use super::document::{Action, Analysis, Search};
use crate::format;
use egui::text::{LayoutJob, TextWrapping};
use egui::{
    Color32, CornerRadius, FontId, PopupAnchor, Pos2, Rect, Role, Sense, Stroke, TextFormat, Ui,
    WidgetInfo,
};
use serde::{Deserialize, Serialize};
use stacklens_core::analysis::{CallNodeTable, Transform, ancestors, node_lines};
use stacklens_core::analysis::{CallTree, DerivedTree, FlameLayout, Ratio, StackWeights};
use stacklens_core::format::stable_hash;
use stacklens_core::model::{CallNodeId, FuncId, Profile};

/// Height of one row of boxes.
pub const ROW_HEIGHT: f32 = 18.0;
/// Boxes narrower than this are skipped with their subtree.
const MIN_BOX_WIDTH: f64 = 1.0;
/// Boxes at least this wide get a label (and an accessibility node).
const MIN_LABEL_WIDTH: f32 = 24.0;
const FONT_SIZE: f32 = 12.0;

/// How boxes are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorBy {
    /// One hue per module (binary or library): see which code a path runs through.
    #[default]
    Module,
    /// A warm hue from a hash of the function name, like the classic flamegraph.pl.
    Name,
    /// By the picked ratio of two events (IPC, a miss rate, ...) on each call path, against
    /// the whole selection's: blue below, red above. Without a ratio, by module.
    Ratio,
}

/// A visible range of the graph in weight units.
pub type Span = (f64, f64);

/// Zoom, pan and selection of one flame graph.
#[derive(Clone, Debug, Default)]
pub struct FlameState {
    /// Horizontal span shown; `None` = the whole graph.
    pub view: Option<Span>,
    /// The node zoomed into (the end of the breadcrumb trail).
    pub zoom: Option<CallNodeId>,
    back: Vec<(Option<CallNodeId>, Option<Span>)>,
    /// The node moved with the arrow keys (outlined).
    pub selected: Option<CallNodeId>,
    pub hovered: Option<CallNodeId>,
    /// Rows scrolled away from the root, in points.
    pub scroll_y: f32,
    /// Boxes painted in the last frame.
    pub painted: usize,
    /// Where the canvas was in the last frame.
    pub canvas: Option<Rect>,
    /// Source lines of the hovered node, heaviest first (computed once per hovered node).
    hover_lines: Option<(CallNodeId, Vec<(u32, i64)>)>,
    /// The node whose context menu is open.
    context: Option<CallNodeId>,
}

/// A call tree with its layout: the main analysis, or a tree derived from it (bottom-up,
/// callers, callees).
#[derive(Clone, Copy)]
pub struct Graph<'a> {
    pub nodes: &'a CallNodeTable,
    pub tree: &'a CallTree,
    pub layout: &'a FlameLayout,
    /// Weights per stack, for the source lines of a hovered box (the main tree only).
    pub stack_weights: Option<&'a StackWeights>,
    /// Node paths are real call paths (the transforms' "focus on subtree" needs one).
    pub real_paths: bool,
}

impl<'a> Graph<'a> {
    /// The main call tree.
    pub fn main(nodes: &'a CallNodeTable, a: &'a Analysis) -> Self {
        Graph {
            nodes,
            tree: &a.tree,
            layout: &a.layout,
            stack_weights: Some(&a.stack_weights),
            real_paths: true,
        }
    }

    /// A derived tree (its paths are not call paths of the profile).
    pub fn derived(d: &'a DerivedTree) -> Self {
        Graph {
            nodes: &d.nodes,
            tree: &d.tree,
            layout: &d.layout,
            stack_weights: None,
            real_paths: false,
        }
    }
}

/// The inputs of one flame graph frame.
pub struct FlameInput<'a> {
    pub profile: &'a Profile,
    pub graph: Graph<'a>,
    /// Sample type of the weights (for units).
    pub sample_type: usize,
    pub search: &'a Search,
    /// Function picked in the table.
    pub highlight: Option<FuncId>,
    /// Function under the pointer in any view (its boxes are outlined).
    pub hovered_func: Option<FuncId>,
    pub color_by: ColorBy,
    pub icicle: bool,
    /// A comparison's colours and hover rows (the differential flame graph).
    pub diff: Option<&'a dyn DiffPaint>,
    /// A box outlined because its counterpart is hovered in the other graph of a pair.
    pub linked: Option<CallNodeId>,
    /// In a comparison: the context menu offers transforms only (no other views there).
    pub comparison: bool,
    /// The picked ratio's weights per call node of this graph (the main call tree only).
    pub ratio: Option<&'a Ratio>,
}

/// What a comparison adds to a graph: a fill per call node (`None`: the usual colour), and
/// rows for its hover card.
pub trait DiffPaint {
    fn fill(&self, node: CallNodeId, dark: bool) -> Option<Color32>;
    fn tooltip(&self, ui: &mut Ui, node: CallNodeId);
}

impl FlameState {
    /// The span of `node` in the current layout.
    pub fn span_of(g: &Graph<'_>, node: CallNodeId) -> Option<Span> {
        let i = node.index();
        let w = *g.tree.total_weight.get(i)?;
        if w <= 0 {
            return None;
        }
        let s = g.layout.start[i] as f64;
        Some((s, s + w as f64))
    }

    fn push_back(&mut self) {
        self.back.push((self.zoom, self.view));
        if self.back.len() > 256 {
            self.back.remove(0);
        }
    }

    /// Zooms into `node`: it fills the width, and its ancestors form the breadcrumb trail.
    pub fn zoom_to(&mut self, a: &Graph<'_>, node: CallNodeId) {
        let Some(span) = Self::span_of(a, node) else {
            return;
        };
        if self.zoom == Some(node) && self.view == Some(span) {
            return;
        }
        self.push_back();
        self.zoom = Some(node);
        self.view = Some(span);
        self.selected = Some(node);
    }

    /// Shows `view` with `zoom` as the end of the breadcrumb trail (Back returns to what was
    /// shown before): another graph's zoom mirrored onto this one.
    pub fn show(&mut self, zoom: Option<CallNodeId>, view: Option<Span>) {
        if self.zoom == zoom && self.view == view {
            return;
        }
        self.push_back();
        self.zoom = zoom;
        self.view = view;
    }

    /// Shows the whole graph again.
    pub fn reset(&mut self) {
        if self.zoom.is_none() && self.view.is_none() {
            return;
        }
        self.push_back();
        self.zoom = None;
        self.view = None;
    }

    /// Goes back to the previous zoom.
    pub fn go_back(&mut self) {
        if let Some((zoom, view)) = self.back.pop() {
            self.zoom = zoom;
            self.view = view;
        }
    }

    pub fn can_go_back(&self) -> bool {
        !self.back.is_empty()
    }

    /// Keeps the zoom on the same node when the selection changes (threads, event): its span
    /// moves with the new layout; a node that lost all weight resets the view.
    pub fn on_new_analysis(&mut self, a: &Graph<'_>) {
        self.back.clear();
        self.hovered = None;
        self.hover_lines = None;
        match self.zoom {
            Some(z) => match Self::span_of(a, z) {
                Some(span) => self.view = Some(span),
                None => {
                    self.zoom = None;
                    self.view = None;
                }
            },
            None => self.view = None,
        }
        if let Some(s) = self.selected
            && Self::span_of(a, s).is_none()
        {
            self.selected = None;
        }
    }

    /// Moves the keyboard selection: `toward_leaves` to the heaviest child, `toward_root` to
    /// the parent, `sideways` (-1 or +1) to the previous or next sibling with weight.
    pub fn move_selection(&mut self, a: &Graph<'_>, step: Step) {
        let nodes = a.nodes;
        let n = nodes.len();
        let weight = |i: usize| a.tree.total_weight[i];
        let cur = match self.selected.or(self.zoom) {
            Some(c) if c.index() < n && weight(c.index()) > 0 => c.index(),
            _ => {
                // Nothing selected: start at the heaviest root.
                let mut best = None;
                let mut i = 0;
                while i < n {
                    if weight(i) > 0 && best.is_none_or(|b: usize| weight(i) > weight(b)) {
                        best = Some(i);
                    }
                    i = nodes.subtree_end[i] as usize;
                }
                self.selected = best.map(CallNodeId::from_index);
                return;
            }
        };
        let next = match step {
            Step::Root => nodes.parent[cur].get().map(|p| p.index()),
            Step::Leaves => {
                let mut best: Option<usize> = None;
                let mut c = cur + 1;
                while c < nodes.subtree_end[cur] as usize {
                    if weight(c) > 0 && best.is_none_or(|b| weight(c) > weight(b)) {
                        best = Some(c);
                    }
                    c = nodes.subtree_end[c] as usize;
                }
                best
            }
            Step::Prev | Step::Next => {
                // Siblings: the children of the parent (or the roots), in layout order.
                let (mut c, end) = match nodes.parent[cur].get() {
                    Some(p) => (p.index() + 1, nodes.subtree_end[p.index()] as usize),
                    None => (0, n),
                };
                let mut prev = None;
                let mut found = None;
                while c < end {
                    if weight(c) > 0 {
                        if c == cur {
                            if step == Step::Prev {
                                found = prev;
                                break;
                            }
                        } else if step == Step::Next && c > cur {
                            found = Some(c);
                            break;
                        }
                        prev = Some(c);
                    }
                    c = nodes.subtree_end[c] as usize;
                }
                found
            }
        };
        if let Some(next) = next {
            self.selected = Some(CallNodeId::from_index(next));
            // Keep the selection in view.
            if let (Some(view), Some(span)) =
                (self.view, Self::span_of(a, CallNodeId::from_index(next)))
                && (span.1 <= view.0 || span.0 >= view.1)
            {
                self.view = Some(span);
            }
        }
    }
}

/// A move of the keyboard selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Root,
    Leaves,
    Prev,
    Next,
}

/// The breadcrumb trail and Back / Reset buttons.
pub fn breadcrumbs(ui: &mut Ui, state: &mut FlameState, p: &Profile, a: &Graph<'_>) {
    let nodes = a.nodes;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(state.can_go_back(), egui::Button::new("Back"))
            .on_hover_text("Previous zoom")
            .clicked()
        {
            state.go_back();
        }
        if ui
            .add_enabled(
                state.zoom.is_some() || state.view.is_some(),
                egui::Button::new("Reset zoom"),
            )
            .on_hover_text("Show the whole graph (Esc or double-click)")
            .clicked()
        {
            state.reset();
        }
        ui.separator();
        if ui.selectable_label(state.zoom.is_none(), "All").clicked() {
            state.reset();
        }
        if let Some(z) = state.zoom {
            let path = ancestors(nodes, z);
            // A zoom deep in a deep stack has an ancestor per level: 100,000 crumbs laid out
            // every frame would stall the window. A long trail keeps both ends and says how
            // many crumbs it leaves out.
            const ENDS: usize = 12;
            let hidden = path.len().saturating_sub(2 * ENDS);
            let mut jump = None;
            for (k, c) in path.iter().enumerate() {
                if (ENDS..ENDS + hidden).contains(&k) {
                    if k == ENDS {
                        ui.label(format!("› … {hidden} more"));
                    }
                    continue;
                }
                ui.label("›");
                let name = p.func_name(nodes.func[c.index()]);
                let label = short(name, 40);
                let last = k + 1 == path.len();
                if ui
                    .selectable_label(last, label)
                    .on_hover_text(name)
                    .clicked()
                {
                    jump = Some(*c);
                }
            }
            if let Some(c) = jump {
                state.zoom_to(a, c);
            }
        }
    });
}

/// `s` cut to `max` characters with an ellipsis.
pub(crate) fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Draws the flame graph; returns what was picked from a box's context menu.
pub fn canvas(ui: &mut Ui, state: &mut FlameState, input: &FlameInput<'_>) -> Option<Action> {
    puffin::profile_function!();
    let (rect, resp) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    state.canvas = Some(rect);
    let painter = ui.painter_at(rect);
    let a = &input.graph;
    let nodes = a.nodes;
    let graph_width = a.layout.width as f64;
    let dark = ui.visuals().dark_mode;
    painter.rect_filled(rect, CornerRadius::ZERO, ui.visuals().extreme_bg_color);
    if graph_width <= 0.0 || nodes.is_empty() {
        no_samples(ui, &painter, rect);
        state.painted = 0;
        return None;
    }

    // Mouse: wheel zooms around the pointer, drag pans, click zooms into a box.
    let max_scroll = (a.layout.rows as f32 * ROW_HEIGHT - rect.height()).max(0.0);
    let (mut v0, mut v1) = state.view.unwrap_or((0.0, graph_width));
    if resp.contains_pointer() {
        let (scroll, zoom_delta) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        let mut factor = zoom_delta as f64;
        if scroll.y != 0.0 {
            factor *= (scroll.y as f64 * 0.004).exp();
        }
        if let Some(pos) = resp.hover_pos()
            && (factor - 1.0).abs() > 1e-6
        {
            let at = v0 + (pos.x - rect.left()) as f64 / rect.width() as f64 * (v1 - v0);
            let new_w = ((v1 - v0) / factor).clamp(graph_width * 1e-9, graph_width);
            let frac = (at - v0) / (v1 - v0);
            v0 = at - frac * new_w;
            v1 = v0 + new_w;
        }
        if scroll.x != 0.0 {
            let dx = -scroll.x as f64 / rect.width() as f64 * (v1 - v0);
            v0 += dx;
            v1 += dx;
        }
    }
    if resp.dragged() {
        let d = resp.drag_delta();
        let dx = -d.x as f64 / rect.width() as f64 * (v1 - v0);
        v0 += dx;
        v1 += dx;
        state.scroll_y += if input.icicle { -d.y } else { d.y };
    }
    // Keep the span inside the graph.
    let w = (v1 - v0).min(graph_width);
    v0 = v0.clamp(0.0, graph_width - w);
    v1 = v0 + w;
    state.view = if v0 <= 0.0 && v1 >= graph_width {
        None
    } else {
        Some((v0, v1))
    };
    state.scroll_y = state.scroll_y.clamp(0.0, max_scroll);

    let px_per_unit = rect.width() as f64 / (v1 - v0);
    let row_top = |depth: u32| -> f32 {
        if input.icicle {
            rect.top() + depth as f32 * ROW_HEIGHT - state.scroll_y
        } else {
            rect.bottom() - (depth + 1) as f32 * ROW_HEIGHT + state.scroll_y
        }
    };
    // Rows past this depth are off the deep side of the canvas, with all their descendants.
    let beyond = |y: f32| -> bool {
        if input.icicle {
            y >= rect.bottom()
        } else {
            y + ROW_HEIGHT <= rect.top()
        }
    };

    // Hit test first, so the hovered box is outlined in this frame.
    let pointer = resp.hover_pos();
    state.hovered = pointer.and_then(|pos| {
        let d = if input.icicle {
            (pos.y - rect.top() + state.scroll_y) / ROW_HEIGHT
        } else {
            (rect.bottom() + state.scroll_y - pos.y) / ROW_HEIGHT
        };
        if d < 0.0 {
            return None;
        }
        let x = v0 + (pos.x - rect.left()) as f64 / px_per_unit;
        let node = a.layout.node_at(nodes, a.tree, x, d as u32)?;
        let width = a.tree.total_weight[node.index()] as f64 * px_per_unit;
        (width >= MIN_BOX_WIDTH).then_some(node)
    });

    let text_color = Color32::from_gray(16);
    let zoom_depth = state
        .zoom
        .map_or(0, |z| nodes.depth.get(z.index()).copied().unwrap_or(0));
    let search_on = input.search.is_active();
    let n = nodes.len();
    let mut painted = 0usize;
    let mut labelled: Vec<(Rect, usize)> = Vec::new();
    let mut i = 0usize;
    while i < n {
        let total = a.tree.total_weight[i];
        let skip = nodes.subtree_end[i] as usize;
        if total <= 0 {
            i = skip;
            continue;
        }
        let x0 = rect.left() as f64 + (a.layout.start[i] as f64 - v0) * px_per_unit;
        let x1 = x0 + total as f64 * px_per_unit;
        if x1 - x0 < MIN_BOX_WIDTH || x1 <= rect.left() as f64 || x0 >= rect.right() as f64 {
            i = skip;
            continue;
        }
        let depth = nodes.depth[i];
        let y = row_top(depth);
        if beyond(y) {
            i = skip;
            continue;
        }
        i += 1;
        if y >= rect.bottom() || y + ROW_HEIGHT <= rect.top() {
            continue;
        }
        let node = i - 1;
        let left = (x0 as f32).max(rect.left() - 1.0);
        let right = (x1 as f32).min(rect.right() + 1.0);
        let gap = if right - left > 3.0 { 1.0 } else { 0.0 };
        let r = Rect::from_min_max(
            Pos2::new(left, y),
            Pos2::new(right - gap, y + ROW_HEIGHT - 1.0),
        );
        let func = nodes.func[node];
        let id = CallNodeId::from_index(node);
        let mut fill = input
            .diff
            .and_then(|d| d.fill(id, dark))
            .or_else(|| match (input.color_by, input.ratio) {
                (ColorBy::Ratio, Some(r)) => Some(ratio_color(r.node_log_ratio(node), dark)),
                _ => None,
            })
            .unwrap_or_else(|| box_color(input.profile, func, input.color_by, dark));
        if search_on && !input.search.matches(func) {
            fill = grey(fill, dark);
        }
        if depth < zoom_depth {
            fill = fill.gamma_multiply(0.55);
        }
        painter.rect_filled(r, CornerRadius::ZERO, fill);
        painted += 1;
        let outline = if input.highlight == Some(func) {
            Some(Stroke::new(2.0, ui.visuals().strong_text_color()))
        } else if state.selected == Some(id)
            || state.hovered == Some(id)
            || input.linked == Some(id)
        {
            Some(Stroke::new(1.5, ui.visuals().strong_text_color()))
        } else if input.hovered_func == Some(func) {
            Some(Stroke::new(1.0, ui.visuals().strong_text_color()))
        } else {
            None
        };
        if let Some(stroke) = outline {
            painter.rect_stroke(
                r.shrink(0.5),
                CornerRadius::ZERO,
                stroke,
                egui::StrokeKind::Inside,
            );
        }
        if r.width() >= MIN_LABEL_WIDTH {
            labelled.push((r, node));
        }
    }
    state.painted = painted;

    // Labels, elided to fit; each labelled box is also an accessibility node named after its
    // function, so screen readers (and UI tests) can find it.
    for &(r, node) in &labelled {
        let name = input.profile.func_name(nodes.func[node]);
        let visible = r.intersect(rect);
        let max_width = (visible.width() - 6.0).floor();
        if max_width >= 8.0 {
            let mut job = LayoutJob::single_section(
                name.to_owned(),
                TextFormat::simple(FontId::proportional(FONT_SIZE), text_color),
            );
            job.wrap = TextWrapping {
                max_width,
                max_rows: 1,
                break_anywhere: true,
                overflow_character: Some('…'),
            };
            let galley = painter.layout_job(job);
            let pos = Pos2::new(visible.left() + 3.0, r.center().y - galley.size().y / 2.0);
            painter.galley(pos, galley, text_color);
        }
        let wid = resp.id.with(("flame-box", node));
        let wr = ui.interact(visible, wid, Sense::hover());
        wr.widget_info(|| WidgetInfo::labeled(Role::Button, true, name));
    }

    // No hover card over an open context menu.
    let menu_open = resp.context_menu_opened();
    if let Some(h) = state.hovered.filter(|_| !menu_open) {
        if state.hover_lines.as_ref().is_none_or(|(n, _)| *n != h) {
            let lines = match a.stack_weights {
                Some(sw) => node_lines(input.profile, nodes, sw, h),
                None => Vec::new(),
            };
            state.hover_lines = Some((h, lines));
        }
        let lines = state.hover_lines.as_ref().map_or(&[][..], |(_, l)| &l[..]);
        tooltip(ui, &resp, input, h, lines);
    }
    if resp.double_clicked() {
        state.reset();
    } else if resp.clicked()
        && let Some(h) = state.hovered
    {
        state.zoom_to(a, h);
    }
    if resp.secondary_clicked() {
        state.context = state.hovered;
    }
    let mut picked = None;
    if let Some(node) = state.context {
        resp.context_menu(|ui| {
            picked = transform_menu(
                ui,
                input.profile,
                nodes,
                node,
                a.real_paths,
                !input.comparison,
            );
            if picked.is_some() {
                ui.close();
            }
        });
    }
    picked
}

/// What an empty graph says.
pub fn no_samples(ui: &Ui, painter: &egui::Painter, rect: Rect) {
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        "No samples in this selection",
        FontId::proportional(14.0),
        ui.visuals().weak_text_color(),
    );
}

/// The transforms a call node offers, as menu buttons, and its callers and callees; returns
/// the one clicked.
pub fn transform_menu(
    ui: &mut Ui,
    p: &Profile,
    nodes: &CallNodeTable,
    node: CallNodeId,
    real_path: bool,
    views: bool,
) -> Option<Action> {
    let func = *nodes.func.get(node.index())?;
    let name = p.func_name(func).to_owned();
    ui.label(egui::RichText::new(short(&name, 60)).strong());
    ui.separator();
    let mut path = vec![name.clone()];
    let mut up = nodes.parent[node.index()];
    while let Some(u) = up.get() {
        path.push(p.func_name(nodes.func[u.index()]).to_owned());
        up = nodes.parent[u.index()];
    }
    path.reverse();
    let mut items = Vec::new();
    if real_path {
        items.push((
            "Focus on subtree".to_owned(),
            Transform::FocusSubtree { path },
        ));
    }
    items.extend(function_transforms(p, func));
    let mut picked = None;
    if views && ui.button("Callers and callees").clicked() {
        picked = Some(Action::Sandwich(func));
    }
    if views && ui.button("Show source").clicked() {
        picked = Some(Action::Source(func));
    }
    for (label, t) in items {
        if ui.button(label).clicked() {
            picked = Some(Action::Transform(t));
        }
    }
    picked
}

/// The transforms a function offers in any view (menu label, transform).
pub fn function_transforms(p: &Profile, func: FuncId) -> Vec<(String, Transform)> {
    let exact = Transform::exact(p.func_name(func));
    let mut items = vec![
        (
            "Focus on function".to_owned(),
            Transform::FocusFunction {
                pattern: exact.clone(),
            },
        ),
        (
            "Merge function".to_owned(),
            Transform::Merge {
                pattern: exact.clone(),
            },
        ),
        (
            "Drop samples with function".to_owned(),
            Transform::Drop {
                pattern: exact.clone(),
            },
        ),
        (
            "Collapse recursion".to_owned(),
            Transform::CollapseRecursion {
                pattern: Some(exact),
            },
        ),
        (
            "Collapse direct recursion (all functions)".to_owned(),
            Transform::CollapseRecursion { pattern: None },
        ),
    ];
    let module = p.func_module_name(func);
    if !module.is_empty() {
        items.push((
            format!("Collapse module {module}"),
            Transform::CollapseModule {
                module: module.to_owned(),
            },
        ));
    }
    items
}

/// The hover card of one box.
pub(crate) fn tooltip(
    ui: &Ui,
    resp: &egui::Response,
    input: &FlameInput<'_>,
    node: CallNodeId,
    lines: &[(u32, i64)],
) {
    let (p, a) = (input.profile, &input.graph);
    let nodes = a.nodes;
    let i = node.index();
    let func = nodes.func[i];
    let unit = p
        .sample_types
        .get(input.sample_type)
        .map(|t| t.unit)
        .unwrap_or(stacklens_core::model::Unit::Count);
    let total = a.tree.total_weight[i];
    let parent_total = nodes.parent[i]
        .get()
        .map(|pp| a.tree.total_weight[pp.index()]);
    egui::Tooltip::always_open(
        ui.ctx().clone(),
        ui.layer_id(),
        resp.id,
        PopupAnchor::Pointer,
    )
    .show(|ui| {
        ui.set_max_width(460.0);
        ui.label(egui::RichText::new(p.func_name(func)).strong());
        let module = p.func_module_name(func);
        if !module.is_empty() {
            ui.label(format!("module: {module}"));
        }
        if let Some(d) = input.diff {
            d.tooltip(ui, node);
            ui.separator();
            ui.weak("this profile:");
        }
        if let Some(file) = source_file(p, func) {
            match lines.first() {
                Some((line, _)) => ui.label(format!("source: {file}:{line}")),
                None => ui.label(format!("source: {file}")),
            };
        }
        if lines.len() > 1 {
            let sum: i64 = lines.iter().map(|l| l.1).sum();
            let shown: Vec<String> = lines
                .iter()
                .take(4)
                .map(|(line, w)| format!("{line} ({})", percent(*w, sum)))
                .collect();
            let more = if lines.len() > 4 { ", …" } else { "" };
            ui.label(format!("lines: {}{more}", shown.join(", ")));
        }
        if let Some(r) = input.ratio {
            let (scale, suffix) = r.scale;
            let (n, d) = (r.node_num[i], r.node_den[i]);
            let here = if d != 0 {
                format!("{}{suffix}", format::ratio(n as f64 / d as f64 * scale))
            } else {
                "—".to_string()
            };
            ui.label(format!("{}: {here}", r.spec.name(p)));
        }
        egui::Grid::new("flame-tip").num_columns(2).show(ui, |ui| {
            ui.label("total");
            ui.label(format!(
                "{}  ({} of all)",
                format::weight(total, unit),
                percent(total, a.tree.total)
            ));
            ui.end_row();
            ui.label("self");
            ui.label(format!(
                "{}  ({})",
                format::weight(a.tree.self_weight[i], unit),
                percent(a.tree.self_weight[i], a.tree.total)
            ));
            ui.end_row();
            if let Some(pt) = parent_total {
                ui.label("of parent");
                ui.label(percent(total, pt));
                ui.end_row();
            }
            ui.label("samples");
            ui.label(format!(
                "{} ({} self)",
                format::grouped(a.tree.total_samples[i] as i64),
                format::grouped(a.tree.self_samples[i] as i64)
            ));
            ui.end_row();
        });
    });
}

/// The source file of a function, when known.
pub fn source_file(p: &Profile, f: FuncId) -> Option<&str> {
    let file = p.funcs.file.get(f.index())?.get()?;
    Some(p.str(file))
}

/// `part` as a percentage of `whole`, `—` for an empty whole.
pub fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "—".to_owned();
    }
    format!("{:.2}%", part as f64 * 100.0 / whole as f64)
}

/// The colour of a function's box.
pub fn box_color(p: &Profile, func: FuncId, color_by: ColorBy, dark: bool) -> Color32 {
    match color_by {
        // Without a module (folded stacks, interpreters), the source file groups code.
        ColorBy::Module => match p.func_module_name(func) {
            "" => match source_file(p, func) {
                Some(file) => module_color(file, dark),
                None => name_color(p.func_name(func), dark),
            },
            module => module_color(module, dark),
        },
        ColorBy::Name => name_color(p.func_name(func), dark),
        // Only the main flame graph has a ratio per box; elsewhere boxes keep module colours.
        ColorBy::Ratio => box_color(p, func, ColorBy::Module, dark),
    }
}

/// How far a ratio lies from the selection's (log2 of their quotient) at which a box gets the
/// full colour: 4× above or below.
const RATIO_FULL_LOG2: f64 = 2.0;

/// Blue below the selection's ratio, red above, grey at it or without a ratio.
pub fn ratio_color(log2: Option<f64>, dark: bool) -> Color32 {
    let neutral = if dark { 0.42 } else { 0.80 };
    let Some(l) = log2 else {
        return hsl(0.0, 0.0, neutral);
    };
    let t = (l.abs() / RATIO_FULL_LOG2).min(1.0) as f32;
    let hue = if l >= 0.0 { 0.0 } else { 0.6 };
    let light = neutral + (if dark { 0.50 } else { 0.58 } - neutral) * t;
    hsl(hue, 0.15 + 0.65 * t, light)
}

/// The line above a flame graph coloured by a ratio: what the colours mean.
pub fn ratio_legend(ui: &mut Ui, p: &Profile, r: &Ratio) {
    let (scale, suffix) = r.scale;
    let (n, d) = r.overall;
    let overall = if d != 0 {
        format::ratio(n as f64 / d as f64 * scale)
    } else {
        "—".to_string()
    };
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(format!("Colour: {}.", r.spec.name(p)));
        for (l, text) in [
            (-RATIO_FULL_LOG2, "4× lower".to_string()),
            (0.0, format!("the selection's {overall}{suffix}")),
            (RATIO_FULL_LOG2, "4× higher".to_string()),
        ] {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), Sense::hover());
            ui.painter()
                .rect_filled(rect, CornerRadius::ZERO, ratio_color(Some(l), dark));
            ui.label(text);
        }
    });
}

/// A light colour per module, well apart in hue for the first few modules.
pub fn module_color(module: &str, dark: bool) -> Color32 {
    let h = stable_hash(module);
    let hue = (h % 360) as f32 / 360.0;
    let light = if dark { 0.62 } else { 0.72 };
    hsl(hue, 0.55, light)
}

/// A warm (red to yellow) colour from the function name.
fn name_color(name: &str, dark: bool) -> Color32 {
    let h = stable_hash(name);
    let hue = (h % 55) as f32 / 360.0;
    let sat = 0.75 + ((h >> 8) % 20) as f32 / 100.0;
    let light = if dark { 0.55 } else { 0.62 } + ((h >> 16) % 10) as f32 / 100.0;
    hsl(hue, sat.min(1.0), light)
}

/// Boxes that do not match the search fade to grey.
fn grey(c: Color32, dark: bool) -> Color32 {
    let v = ((c.r() as u32 + c.g() as u32 + c.b() as u32) / 3) as u8;
    let v = if dark { v / 2 } else { v / 2 + 110 };
    Color32::from_gray(v)
}

/// The core's colour as an egui colour.
fn hsl(h: f32, s: f32, l: f32) -> Color32 {
    let [r, g, b] = stacklens_core::format::hsl(h, s, l);
    Color32::from_rgb(r, g, b)
}
