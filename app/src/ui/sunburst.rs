//! The sunburst: the call tree as rings around a centre, each node an arc whose angle is its
//! share of the centre's total. Click an arc to make it the centre; click the centre to go up.
//! Colours and hover card are the flame graph's; hovering an arc outlines every arc of the same
//! function. Arcs under a pixel long are skipped with their subtree, as in the flame graph.

use super::document::Document;
use super::flame::{self, ColorBy, Graph, short};
use crate::format;
use egui::epaint::{Mesh, Vertex, WHITE_UV};
use egui::{Color32, FontId, Pos2, Rect, Role, Sense, Shape, Stroke, Ui, Vec2, WidgetInfo};
use stacklens_core::analysis::node_lines;
use stacklens_core::model::CallNodeId;
use std::f32::consts::TAU;

#[derive(Clone, Debug, Default)]
pub struct SunburstState {
    /// The node at the centre; `None` = all roots.
    pub root: Option<CallNodeId>,
    pub hovered: Option<CallNodeId>,
    /// Arcs painted in the last frame.
    pub painted: usize,
    /// Source lines of the hovered node (computed once per hovered node).
    hover_lines: Option<(CallNodeId, Vec<(u32, i64)>)>,
}

const MAX_RINGS: u32 = 16;
const MIN_RING: f32 = 16.0;

pub fn show(ui: &mut Ui, doc: &mut Document, color_by: ColorBy) {
    puffin::profile_function!();
    let g = Graph::main(&doc.nodes, &doc.analysis);
    let (nodes, tree, layout) = (g.nodes, g.tree, g.layout);
    let p = doc.profile.clone();
    let state = &mut doc.sunburst;
    if let Some(r) = state.root
        && tree.total_weight.get(r.index()).is_none_or(|&w| w <= 0)
    {
        state.root = None;
    }
    let (rect, resp) = ui.allocate_exact_size(ui.available_size(), Sense::click());
    let painter = ui.painter_at(rect);
    let dark = ui.visuals().dark_mode;
    painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
    // The centre's span in layout units and the depth of the first ring.
    let (x0, width, depth0, centre_name) = match state.root {
        Some(r) => (
            layout.start[r.index()] as f64,
            tree.total_weight[r.index()] as f64,
            nodes.depth[r.index()] + 1,
            p.func_name(nodes.func[r.index()]).to_owned(),
        ),
        None => (0.0, layout.width as f64, 0, "all".to_owned()),
    };
    if width <= 0.0 {
        flame::no_samples(ui, &painter, rect);
        return;
    }
    let centre = rect.center();
    let radius = (rect.width().min(rect.height()) / 2.0 - 8.0).max(60.0);
    let inner = (radius * 0.16).clamp(30.0, 70.0);
    // Rings at least MIN_RING wide: deeper levels are reached by clicking into the tree.
    let fit = ((radius - inner) / MIN_RING).floor().max(1.0) as u32;
    let rings = layout
        .rows
        .saturating_sub(depth0)
        .clamp(1, MAX_RINGS.min(fit));
    let ring = ((radius - inner) / rings as f32).min(60.0);
    let angle_of = |x: f64| ((x - x0) / width) as f32 * TAU - TAU / 4.0;

    // Hit test in polar coordinates: the ring gives the depth, the angle the offset.
    let hovered = resp.hover_pos().and_then(|pos| {
        let d = pos - centre;
        let r = d.length();
        if r < inner || r >= inner + ring * rings as f32 {
            return None;
        }
        let depth = depth0 + ((r - inner) / ring) as u32;
        let mut a = d.y.atan2(d.x) + TAU / 4.0;
        if a < 0.0 {
            a += TAU;
        }
        let x = x0 + (a / TAU) as f64 * width;
        layout.node_at(nodes, tree, x, depth)
    });
    state.hovered = hovered;
    let hovered_func = hovered.map(|h| nodes.func[h.index()]);

    let (first, end) = match state.root {
        Some(r) => (r.index() + 1, nodes.subtree_end[r.index()] as usize),
        None => (0, nodes.len()),
    };
    let mut mesh = Mesh::default();
    let mut outlines: Vec<Shape> = Vec::new();
    let mut labelled: Vec<(Pos2, usize)> = Vec::new();
    let mut painted = 0;
    let mut i = first;
    while i < end {
        let w = tree.total_weight[i];
        let skip = nodes.subtree_end[i] as usize;
        let ring_k = nodes.depth[i].saturating_sub(depth0);
        if w <= 0 || ring_k >= rings {
            i = skip;
            continue;
        }
        let s = layout.start[i] as f64;
        let (a0, a1) = (angle_of(s), angle_of(s + w as f64));
        let r0 = inner + ring_k as f32 * ring;
        let r1 = r0 + ring - 1.0;
        if (a1 - a0) * r1 < 1.0 {
            i = skip;
            continue;
        }
        let func = nodes.func[i];
        let fill = flame::box_color(&p, func, color_by, dark);
        // A hairline gap between neighbours of the same colour.
        let gap = if (a1 - a0) * r1 > 4.0 { 0.5 / r1 } else { 0.0 };
        annulus(&mut mesh, centre, r0, r1, a0 + gap, a1 - gap, fill);
        painted += 1;
        if hovered_func == Some(func) || doc.highlight == Some(func) {
            outlines.push(arc_outline(
                centre,
                r0,
                r1,
                a0,
                a1,
                ui.visuals().strong_text_color(),
            ));
        }
        if (a1 - a0) * (r0 + r1) / 2.0 >= 40.0 && ring >= 12.0 {
            let mid = (a0 + a1) / 2.0;
            let rm = (r0 + r1) / 2.0;
            labelled.push((centre + Vec2::new(mid.cos(), mid.sin()) * rm, i));
        }
        i += 1;
    }
    state.painted = painted;
    painter.add(Shape::mesh(mesh));
    for o in outlines {
        painter.add(o);
    }
    // The centre: the zoomed function (click to go up).
    painter.circle_filled(centre, inner - 2.0, ui.visuals().faint_bg_color);
    let unit = p
        .sample_types
        .get(doc.analysis.selection.sample_type)
        .map(|t| t.unit)
        .unwrap_or(stacklens_core::model::Unit::Count);
    let centre_text = format!(
        "{}\n{}",
        short(&centre_name, 18),
        format::weight(width as i64, unit)
    );
    painter.text(
        centre,
        egui::Align2::CENTER_CENTER,
        centre_text,
        FontId::proportional(11.0),
        ui.visuals().strong_text_color(),
    );
    let centre_rect = Rect::from_center_size(centre, Vec2::splat(inner * 1.4));
    ui.interact(centre_rect, resp.id.with("centre"), Sense::hover())
        .widget_info(|| WidgetInfo::labeled(Role::Button, true, "sunburst centre"));
    // Labels of arcs long enough, and an accessibility node per labelled arc.
    for &(pos, node) in &labelled {
        let name = p.func_name(nodes.func[node]);
        let text = short(name, ((ring / 6.0) as usize).clamp(4, 14));
        painter.text(
            pos,
            egui::Align2::CENTER_CENTER,
            text,
            FontId::proportional(10.0),
            Color32::from_gray(16),
        );
        let r = Rect::from_center_size(pos, Vec2::splat(8.0));
        ui.interact(r, resp.id.with(("arc", node)), Sense::hover())
            .widget_info(|| WidgetInfo::labeled(Role::Button, true, name));
    }

    let in_centre = resp
        .hover_pos()
        .is_some_and(|pos| (pos - centre).length() < inner);
    if resp.clicked() {
        if in_centre {
            state.root = state.root.and_then(|r| nodes.parent[r.index()].get());
        } else if let Some(h) = hovered {
            state.root = Some(h);
        }
    }
    doc.hovered_func = hovered_func;
    if let Some(h) = hovered {
        // The flame graph's hover card, source lines included.
        if state.hover_lines.as_ref().is_none_or(|(n, _)| *n != h) {
            let lines = node_lines(&p, nodes, &doc.analysis.stack_weights, h);
            state.hover_lines = Some((h, lines));
        }
        let lines = state.hover_lines.as_ref().map_or(&[][..], |(_, l)| &l[..]);
        let input = flame::FlameInput {
            profile: &p,
            graph: g,
            sample_type: doc.analysis.selection.sample_type,
            search: &doc.search,
            highlight: doc.highlight,
            hovered_func,
            color_by,
            icicle: false,
            diff: None,
            linked: None,
            comparison: false,
            ratio: None,
        };
        flame::tooltip(ui, &resp, &input, h, lines);
    } else if in_centre && state.root.is_some() {
        resp.on_hover_text_at_pointer("Click to go up one level");
    }
}

/// Adds an annulus sector as triangles, with enough segments that the arc looks round.
fn annulus(mesh: &mut Mesh, c: Pos2, r0: f32, r1: f32, a0: f32, a1: f32, color: Color32) {
    let segments = (((a1 - a0) * r1 / 6.0).ceil() as usize).clamp(1, 128);
    let base = mesh.vertices.len() as u32;
    for k in 0..=segments {
        let a = a0 + (a1 - a0) * k as f32 / segments as f32;
        let dir = Vec2::new(a.cos(), a.sin());
        for r in [r0, r1] {
            mesh.vertices.push(Vertex {
                pos: c + dir * r,
                uv: WHITE_UV,
                color,
            });
        }
    }
    for k in 0..segments as u32 {
        let v = base + 2 * k;
        mesh.add_triangle(v, v + 1, v + 2);
        mesh.add_triangle(v + 1, v + 3, v + 2);
    }
}

fn arc_outline(c: Pos2, r0: f32, r1: f32, a0: f32, a1: f32, color: Color32) -> Shape {
    let segments = (((a1 - a0) * r1 / 6.0).ceil() as usize).clamp(1, 128);
    let mut pts = Vec::with_capacity(2 * segments + 2);
    for k in 0..=segments {
        let a = a0 + (a1 - a0) * k as f32 / segments as f32;
        pts.push(c + Vec2::new(a.cos(), a.sin()) * r1);
    }
    for k in (0..=segments).rev() {
        let a = a0 + (a1 - a0) * k as f32 / segments as f32;
        pts.push(c + Vec2::new(a.cos(), a.sin()) * r0);
    }
    Shape::closed_line(pts, Stroke::new(1.5, color))
}
