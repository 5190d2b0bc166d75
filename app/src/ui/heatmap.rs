//! FlameScope's sub-second offset heat map: a column per second since the first sample, a row
//! per slice of the second, coloured by the weight in the cell. Drag a rectangle of cells (or
//! click one cell, then Shift+click another for the run between them) to look at those time
//! ranges in every view.

use super::derived::Derived;
use super::document::Document;
use crate::format;
use egui::{Color32, CornerRadius, FontId, Pos2, Rect, Role, Sense, Stroke, Ui, Vec2, WidgetInfo};
use stacklens_core::analysis::{HeatMap, LabelFilter, heat_map};
use stacklens_core::model::ThreadId;
use std::sync::Arc;

/// Cell sizes offered, in milliseconds (rows = 1000 / size).
const CELL_MS: [u64; 5] = [10, 20, 50, 100, 200];
const AXIS_LEFT: f32 = 56.0;
const AXIS_TOP: f32 = 16.0;

type HeatKey = (usize, Option<Vec<ThreadId>>, usize, Vec<LabelFilter>, u64);

pub struct HeatState {
    pub cell_ms: u64,
    map: Derived<HeatKey, Option<HeatMap>>,
    /// The cell a drag (or a click) started on.
    anchor: Option<(usize, usize)>,
    /// Where the grid was in the last frame, with the cell size (for tests).
    pub grid: Option<(Rect, Vec2)>,
}

impl Default for HeatState {
    fn default() -> Self {
        HeatState {
            cell_ms: 20,
            map: Derived::default(),
            anchor: None,
            grid: None,
        }
    }
}

impl HeatState {
    pub fn is_computing(&self) -> bool {
        self.map.is_computing()
    }

    pub fn poll(&mut self) {
        self.map.poll();
    }
}

pub fn show(ui: &mut Ui, doc: &mut Document) {
    puffin::profile_function!();
    let ctx = ui.ctx().clone();
    if doc.bounds.is_none() {
        ui.add_space(20.0);
        ui.vertical_centered(|ui| {
            ui.label(format!(
                "No heat map: this profile ({}) has no timestamps.",
                doc.base.meta.source_format
            ));
            ui.weak("The heat map places samples by the time they were taken.");
        });
        return;
    }
    ui.horizontal(|ui| {
        ui.label("Cell:");
        for ms in CELL_MS {
            ui.selectable_value(&mut doc.heat.cell_ms, ms, format!("{ms} ms"));
        }
        ui.separator();
        threads_picker(ui, doc);
        ui.separator();
        ui.weak("columns are seconds; drag cells, or click one and Shift+click another");
    });
    let p = doc.profile.clone();
    let mut sel = doc.selection.clone();
    sel.ranges.clear();
    let cell_ns = doc.heat.cell_ms * 1_000_000;
    let key: HeatKey = (
        Arc::as_ptr(&p) as usize,
        sel.threads.clone(),
        sel.sample_type,
        sel.labels.clone(),
        cell_ns,
    );
    let rows = (1000 / doc.heat.cell_ms) as usize;
    let pm = p.clone();
    let map = doc
        .heat
        .map
        .get(&key, &ctx, move || heat_map(&pm, &sel, cell_ns, rows));
    let Some(map) = map else {
        ui.spinner();
        return;
    };
    let Some(hm) = map.as_ref().as_ref() else {
        ui.label("No timestamps in this selection.");
        return;
    };
    if hm.cut_off > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} samples after the first {} seconds are not shown",
                format::grouped(hm.cut_off as i64),
                hm.cols
            ),
        );
    }

    let avail = ui.available_size();
    let cell_h = ((avail.y - AXIS_TOP - 4.0) / hm.rows as f32).clamp(3.0, 18.0);
    let cell_w = ((avail.x - AXIS_LEFT - 4.0) / hm.cols as f32).clamp(6.0, 48.0);
    let size = Vec2::new(
        AXIS_LEFT + cell_w * hm.cols as f32 + 4.0,
        AXIS_TOP + cell_h * hm.rows as f32 + 4.0,
    );
    egui::ScrollArea::horizontal().show(ui, |ui| {
        let (rect, resp) = ui.allocate_exact_size(size, Sense::click_and_drag());
        grid(ui, doc, hm, rect, &resp, Vec2::new(cell_w, cell_h));
    });
}

/// All threads, one process or one thread: sets the selection's threads (every view follows).
fn threads_picker(ui: &mut Ui, doc: &mut Document) {
    let ctx = ui.ctx().clone();
    let p = doc.profile.clone();
    let current = doc.selection.threads.clone();
    let mut pids: Vec<i32> = p.threads.pid.to_vec();
    pids.sort_unstable();
    pids.dedup();
    let of_pid = |pid: i32| -> Vec<ThreadId> {
        (0..p.threads.len())
            .filter(|&t| p.threads.pid[t] == pid)
            .map(ThreadId::from_index)
            .collect()
    };
    let text = match &current {
        None => "all threads".to_owned(),
        Some(list) if list.len() == 1 => p.thread_label(list[0]),
        Some(list) => match pids.iter().find(|&&pid| of_pid(pid) == *list) {
            Some(pid) => format!("process {pid}"),
            None => format!("{} threads", list.len()),
        },
    };
    let mut pick: Option<Option<Vec<ThreadId>>> = None;
    let label = ui.label("Of:");
    egui::ComboBox::from_id_salt("heat-threads")
        .selected_text(text)
        .show_ui(ui, |ui| {
            if ui
                .selectable_label(current.is_none(), "all threads")
                .clicked()
            {
                pick = Some(None);
            }
            if pids.len() > 1 {
                for &pid in &pids {
                    let list = of_pid(pid);
                    let name = p.str(p.threads.process_name[list[0].index()]);
                    if ui
                        .selectable_label(
                            current.as_ref() == Some(&list),
                            format!("process {pid} {name}"),
                        )
                        .clicked()
                    {
                        pick = Some(Some(list));
                    }
                }
            }
            for t in 0..p.threads.len() {
                let t = ThreadId::from_index(t);
                if ui
                    .selectable_label(current.as_deref() == Some(&[t][..]), p.thread_label(t))
                    .clicked()
                {
                    pick = Some(Some(vec![t]));
                }
            }
        })
        .response
        .labelled_by(label.id);
    if let Some(threads) = pick {
        let mut sel = doc.selection.clone();
        sel.threads = threads;
        doc.set_selection(sel, &ctx);
    }
}

fn grid(
    ui: &mut Ui,
    doc: &mut Document,
    hm: &HeatMap,
    rect: Rect,
    resp: &egui::Response,
    cell: Vec2,
) {
    let ctx = ui.ctx().clone();
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals().clone();
    let origin = Pos2::new(rect.left() + AXIS_LEFT, rect.top() + AXIS_TOP);
    let grid_rect = Rect::from_min_size(
        origin,
        Vec2::new(cell.x * hm.cols as f32, cell.y * hm.rows as f32),
    );
    doc.heat.grid = Some((grid_rect, cell));
    let cell_at = |pos: Pos2| -> Option<(usize, usize)> {
        let c = ((pos.x - origin.x) / cell.x).floor();
        let r = ((pos.y - origin.y) / cell.y).floor();
        (c >= 0.0 && r >= 0.0 && (c as usize) < hm.cols && (r as usize) < hm.rows)
            .then_some((c as usize, r as usize))
    };
    let clamp_cell = |pos: Pos2| -> (usize, usize) {
        let c = ((pos.x - origin.x) / cell.x)
            .floor()
            .clamp(0.0, hm.cols as f32 - 1.0);
        let r = ((pos.y - origin.y) / cell.y)
            .floor()
            .clamp(0.0, hm.rows as f32 - 1.0);
        (c as usize, r as usize)
    };
    let dark = visuals.dark_mode;
    let ranges = doc.selection.ranges.clone();
    let selected = |a: u64, b: u64| ranges.iter().any(|&(x, y)| x < b && a < y);
    // Only the columns scrolled into view are painted (a long profile has thousands).
    let clip = ui.clip_rect();
    let first = (((clip.left() - origin.x) / cell.x).floor().max(0.0) as usize).min(hm.cols);
    let last = ((((clip.right() - origin.x) / cell.x).ceil().max(0.0)) as usize).min(hm.cols);
    let visible = first..last;
    // Cells, white (nothing) to deep red (the busiest cell), as FlameScope draws them.
    let max = hm.max.max(1) as f32;
    for c in visible.clone() {
        for r in 0..hm.rows {
            let w = hm.weight_at(c, r);
            let r0 = Rect::from_min_size(
                Pos2::new(origin.x + c as f32 * cell.x, origin.y + r as f32 * cell.y),
                cell,
            );
            let f = (w.max(0) as f32 / max).sqrt();
            let fill = heat_color(f, dark);
            painter.rect_filled(r0.shrink(0.5), CornerRadius::ZERO, fill);
            let t = hm.cell_start(c, r);
            if !ranges.is_empty() && selected(t, t + hm.cell_ns) {
                painter.rect_stroke(
                    r0,
                    CornerRadius::ZERO,
                    Stroke::new(1.5, visuals.selection.stroke.color),
                    egui::StrokeKind::Inside,
                );
            }
        }
    }
    // Axes: seconds along the top, offsets in milliseconds on the left.
    let every = ((40.0 / cell.x).ceil() as usize).max(1);
    for c in (0..hm.cols).step_by(every).filter(|c| visible.contains(c)) {
        painter.text(
            Pos2::new(origin.x + c as f32 * cell.x, rect.top()),
            egui::Align2::LEFT_TOP,
            format!("{c}s"),
            FontId::proportional(10.0),
            visuals.weak_text_color(),
        );
    }
    let every_row = ((14.0 / cell.y).ceil() as usize).max(1);
    for r in (0..hm.rows).step_by(every_row) {
        painter.text(
            Pos2::new(origin.x - 4.0, origin.y + r as f32 * cell.y),
            egui::Align2::RIGHT_TOP,
            format!("{} ms", r as u64 * hm.cell_ns / 1_000_000),
            FontId::proportional(10.0),
            visuals.weak_text_color(),
        );
    }
    // Each visible column is an accessibility node, for screen readers and tests.
    for c in visible {
        let col = Rect::from_min_size(
            Pos2::new(origin.x + c as f32 * cell.x, origin.y),
            Vec2::new(cell.x, grid_rect.height()),
        );
        let id = resp.id.with(("heat-col", c));
        ui.interact(col, id, Sense::hover())
            .widget_info(|| WidgetInfo::labeled(Role::Button, true, format!("second {c}")));
    }

    let shift = ui.input(|i| i.modifiers.shift);
    if resp.drag_started()
        && let Some(pos) = ui.input(|i| i.pointer.press_origin())
    {
        doc.heat.anchor = cell_at(pos);
    }
    if resp.dragged()
        && let (Some(a), Some(pos)) = (doc.heat.anchor, resp.interact_pointer_pos())
    {
        let b = clamp_cell(pos);
        let r = Rect::from_two_pos(
            Pos2::new(
                origin.x + a.0.min(b.0) as f32 * cell.x,
                origin.y + a.1.min(b.1) as f32 * cell.y,
            ),
            Pos2::new(
                origin.x + (a.0.max(b.0) + 1) as f32 * cell.x,
                origin.y + (a.1.max(b.1) + 1) as f32 * cell.y,
            ),
        );
        painter.rect_stroke(
            r,
            CornerRadius::ZERO,
            Stroke::new(2.0, visuals.strong_text_color()),
            egui::StrokeKind::Outside,
        );
    }
    if resp.drag_stopped()
        && let (Some(a), Some(pos)) = (doc.heat.anchor, resp.interact_pointer_pos())
    {
        let b = clamp_cell(pos);
        doc.set_preview(hm.rectangle_ranges((a.0, b.0), (a.1, b.1)), &ctx);
    } else if resp.clicked()
        && let Some(pos) = resp.interact_pointer_pos()
        && let Some(b) = cell_at(pos)
    {
        match doc.heat.anchor {
            Some(a) if shift => {
                let (x, y) = hm.run_range(a, b);
                doc.set_preview(vec![(x, y)], &ctx);
            }
            _ => {
                doc.heat.anchor = Some(b);
                doc.set_preview(hm.rectangle_ranges((b.0, b.0), (b.1, b.1)), &ctx);
            }
        }
    }
    if let Some(pos) = resp.hover_pos()
        && let Some((c, r)) = cell_at(pos)
    {
        let unit = doc
            .profile
            .sample_types
            .get(doc.selection.sample_type)
            .map(|t| t.unit)
            .unwrap_or(stacklens_core::model::Unit::Count);
        let from = r as u64 * hm.cell_ns / 1_000_000;
        let tip = format!(
            "second {c}, {from} to {} ms\n{} samples, {}",
            from + hm.cell_ns / 1_000_000,
            format::grouped(hm.samples[c * hm.rows + r] as i64),
            format::weight(hm.weight_at(c, r), unit),
        );
        resp.clone().on_hover_text_at_pointer(tip);
    }
}

/// White to red by `f` in 0..=1 (dark mode: from the background to orange).
fn heat_color(f: f32, dark: bool) -> Color32 {
    let f = f.clamp(0.0, 1.0);
    if dark {
        if f == 0.0 {
            return Color32::from_gray(40);
        }
        let r = 90.0 + 165.0 * f;
        let g = 40.0 + 110.0 * f * (1.0 - f) * 2.0;
        Color32::from_rgb(r as u8, g as u8, 30)
    } else {
        if f == 0.0 {
            return Color32::from_gray(250);
        }
        let r = 255.0 - 60.0 * f;
        let g = 235.0 * (1.0 - f);
        let b = 220.0 * (1.0 - f) * (1.0 - f);
        Color32::from_rgb(r as u8, g as u8, b as u8)
    }
}
