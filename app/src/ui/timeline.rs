//! The timeline: a track per thread (grouped by process) with its sample density over time,
//! coloured by the module most samples were in, span tracks (puffin, Chrome trace) drawn as a
//! flame chart, lost-sample marks, and the time range selection.
//!
//! Drag across the tracks to look at a time range (every view follows); Zoom commits it, and
//! the breadcrumbs above go back out. Ctrl+wheel zooms the timeline around the pointer,
//! Shift+wheel (or a horizontal wheel) pans it.

use super::derived::Derived;
use super::document::Document;
use super::flame::module_color;
use crate::format;
use egui::{Color32, CornerRadius, FontId, Pos2, Rect, Role, Sense, Stroke, Ui, Vec2, WidgetInfo};
use stacklens_core::analysis::{Activity, LabelFilter, activity};
use stacklens_core::model::{Profile, ThreadId};
use std::sync::Arc;

/// Width of the thread names on the left.
const LABEL_WIDTH: f32 = 170.0;
const TRACK_HEIGHT: f32 = 26.0;
const PROCESS_HEIGHT: f32 = 16.0;
const SPAN_ROW: f32 = 15.0;
/// Span rows shown per thread at most (deeper spans are in the tooltip's reach by zooming).
const MAX_SPAN_ROWS: u16 = 12;
const AXIS_HEIGHT: f32 = 18.0;

type ActivityKey = (usize, (u64, u64), usize, usize, Vec<LabelFilter>);

#[derive(Default)]
pub struct TimelineState {
    /// Visible window in profile nanoseconds; `None` = the document's base window.
    pub view: Option<(f64, f64)>,
    /// Time where a selection drag started.
    drag_from: Option<f64>,
    /// Tracks scrolled away from the top, in points.
    scroll: f32,
    activity: Derived<ActivityKey, Activity>,
    /// Where the track area was in the last frame (for tests).
    pub tracks: Option<Rect>,
    /// The track rows of a profile (by its address): sorted once, not every frame.
    rows: Option<(usize, Arc<Vec<Row>>)>,
}

impl TimelineState {
    pub fn is_computing(&self) -> bool {
        self.activity.is_computing()
    }

    pub fn poll(&mut self) {
        self.activity.poll();
    }
}

/// One row of the track list.
enum Row {
    Process(i32, String),
    Thread(ThreadId, u16),
}

/// Draws the range breadcrumbs, the axis and the tracks.
pub fn show(ui: &mut Ui, doc: &mut Document) {
    puffin::profile_function!();
    let ctx = ui.ctx().clone();
    range_bar(ui, doc);
    let Some((b0, b1)) = doc.base_window() else {
        ui.weak(format!(
            "This profile has no timestamps ({}), so there is no timeline or heat map: every \
             view shows the whole profile.",
            doc.base.meta.source_format
        ));
        return;
    };
    let p = doc.profile.clone();
    let (base0, base1) = (b0 as f64, b1.max(b0 + 1) as f64);
    let (mut v0, mut v1) = doc.timeline.view.unwrap_or((base0, base1));

    let (rect, resp) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals().clone();
    painter.rect_filled(rect, CornerRadius::ZERO, visuals.extreme_bg_color);
    let area = Rect::from_min_max(
        Pos2::new(rect.left() + LABEL_WIDTH, rect.top() + AXIS_HEIGHT),
        rect.max,
    );
    doc.timeline.tracks = Some(area);
    if area.width() < 20.0 || area.height() < 4.0 {
        return;
    }

    // Wheel: Ctrl zooms around the pointer, horizontal pans, vertical scrolls the tracks.
    if resp.contains_pointer() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
        if let Some(pos) = resp.hover_pos()
            && (zoom - 1.0).abs() > 1e-4
            && pos.x >= area.left()
        {
            let at = v0 + (pos.x - area.left()) as f64 / area.width() as f64 * (v1 - v0);
            let w = ((v1 - v0) / zoom as f64).clamp(10.0, base1 - base0);
            let frac = (at - v0) / (v1 - v0);
            v0 = at - frac * w;
            v1 = v0 + w;
        } else {
            if scroll.x != 0.0 {
                let dx = -scroll.x as f64 / area.width() as f64 * (v1 - v0);
                v0 += dx;
                v1 += dx;
            }
            doc.timeline.scroll -= scroll.y;
        }
    }
    let w = (v1 - v0).min(base1 - base0);
    v0 = v0.clamp(base0, base1 - w);
    v1 = v0 + w;
    doc.timeline.view = if v0 <= base0 && v1 >= base1 {
        None
    } else {
        Some((v0, v1))
    };
    let x_of = |t: f64| area.left() + ((t - v0) / (v1 - v0) * area.width() as f64) as f32;
    let t_of = |x: f32| v0 + ((x - area.left()) / area.width()) as f64 * (v1 - v0);

    // Density per bucket of two points, on a worker.
    let buckets = (area.width() / 2.0).max(1.0) as usize;
    let window = (v0.floor() as u64, v1.ceil() as u64);
    let key: ActivityKey = (
        Arc::as_ptr(&p) as usize,
        window,
        buckets,
        doc.selection.sample_type,
        doc.selection.labels.clone(),
    );
    let sel = doc.selection.clone();
    let pa = p.clone();
    let act = doc
        .timeline
        .activity
        .get(&key, &ctx, move || activity(&pa, &sel, window, buckets));

    // Rows: threads with samples or spans, grouped by process, busiest process first.
    let identity = Arc::as_ptr(&p) as usize;
    let rows = match &doc.timeline.rows {
        Some((id, rows)) if *id == identity => rows.clone(),
        _ => {
            let rows = Arc::new(track_rows(&p));
            doc.timeline.rows = Some((identity, rows.clone()));
            rows
        }
    };
    let row_height = |r: &Row| match r {
        Row::Process(..) => PROCESS_HEIGHT,
        Row::Thread(_, depth) => TRACK_HEIGHT + *depth as f32 * SPAN_ROW,
    };
    let content: f32 = rows.iter().map(row_height).sum();
    doc.timeline.scroll = doc
        .timeline
        .scroll
        .clamp(0.0, (content - area.height()).max(0.0));

    let unit = p
        .sample_types
        .get(doc.selection.sample_type)
        .map(|t| t.unit)
        .unwrap_or(stacklens_core::model::Unit::Count);
    let pointer = resp.hover_pos();
    let mut tip: Option<String> = None;
    let mut toggle: Option<ThreadId> = None;
    let mut span_pick: Option<(u64, u64)> = None;
    let dark = visuals.dark_mode;
    let mut y = area.top() - doc.timeline.scroll;
    for row in rows.iter() {
        let h = row_height(row);
        let top = y;
        y += h;
        if top + h < area.top() || top > area.bottom() {
            continue;
        }
        match row {
            Row::Process(pid, name) => {
                painter.text(
                    Pos2::new(rect.left() + 4.0, top + PROCESS_HEIGHT / 2.0),
                    egui::Align2::LEFT_CENTER,
                    if *pid >= 0 {
                        format!("{name} ({pid})")
                    } else {
                        name.clone()
                    },
                    FontId::proportional(11.0),
                    visuals.strong_text_color(),
                );
                painter.hline(
                    rect.left()..=rect.right(),
                    top + PROCESS_HEIGHT - 0.5,
                    Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
                );
            }
            Row::Thread(t, depth) => {
                let included = doc.thread_included(*t);
                let label_rect = Rect::from_min_size(
                    Pos2::new(rect.left(), top),
                    Vec2::new(LABEL_WIDTH - 4.0, TRACK_HEIGHT),
                );
                let name = p.thread_label(*t);
                let label_color = if included {
                    visuals.text_color()
                } else {
                    visuals.weak_text_color()
                };
                painter.with_clip_rect(label_rect).text(
                    Pos2::new(label_rect.left() + 12.0, label_rect.center().y),
                    egui::Align2::LEFT_CENTER,
                    &name,
                    FontId::proportional(12.0),
                    label_color,
                );
                let lr = ui.interact(
                    label_rect.intersect(area.expand2(Vec2::new(LABEL_WIDTH, 0.0))),
                    resp.id.with(("thread", t.index())),
                    Sense::click(),
                );
                lr.widget_info(|| WidgetInfo::labeled(Role::Button, true, format!("track {name}")));
                if lr.clicked() {
                    toggle = Some(*t);
                }
                if lr.hovered() {
                    tip = Some(format!(
                        "{name}\nclick to {} this thread",
                        if included { "leave out" } else { "include" }
                    ));
                }
                let track = Rect::from_min_max(
                    Pos2::new(area.left(), top + 2.0),
                    Pos2::new(area.right(), top + TRACK_HEIGHT - 2.0),
                );
                painter.rect_filled(track, CornerRadius::ZERO, visuals.faint_bg_color);
                if let Some(act) = &act
                    && let Some(ta) = act.threads.get(t.index())
                    && act.max > 0
                {
                    let bw = area.width() / act.buckets as f32;
                    let x_start = x_of(act.window.0 as f64);
                    let x_end = x_of(act.window.1 as f64);
                    let scale = (x_end - x_start) / area.width();
                    for (i, &wt) in ta.weight.iter().enumerate() {
                        if wt <= 0 {
                            continue;
                        }
                        let frac = (wt as f32 / act.max as f32).clamp(0.05, 1.0);
                        let x = x_start + i as f32 * bw * scale;
                        let bar = Rect::from_min_max(
                            Pos2::new(x, track.bottom() - frac * track.height()),
                            Pos2::new(x + (bw * scale).max(1.0), track.bottom()),
                        );
                        let module = p.module_name(ta.module[i]);
                        let mut c = if module.is_empty() {
                            visuals.selection.bg_fill
                        } else {
                            module_color(module, dark)
                        };
                        if !included {
                            c = c.gamma_multiply(0.3);
                        }
                        painter.rect_filled(bar, CornerRadius::ZERO, c);
                    }
                    if let Some(pos) = pointer
                        && track.contains(pos)
                    {
                        let i = ((pos.x - x_start) / (bw * scale)) as usize;
                        if let (Some(&wt), Some(&n)) = (ta.weight.get(i), ta.samples.get(i)) {
                            let t0 = act.window.0 as f64
                                + i as f64 * (act.window.1 - act.window.0) as f64
                                    / act.buckets as f64;
                            let module = p.module_name(
                                ta.module
                                    .get(i)
                                    .copied()
                                    .unwrap_or(stacklens_core::model::ModuleId::NONE),
                            );
                            tip = Some(format!(
                                "{name}\n{} after the start: {} samples, {}{}",
                                format::duration_ns((t0 - base0) as i64),
                                format::grouped(n as i64),
                                format::weight(wt, unit),
                                if module.is_empty() {
                                    String::new()
                                } else {
                                    format!("\nmostly in {module}")
                                }
                            ));
                        }
                    }
                }
                if *depth > 0 {
                    let picked = spans(
                        ui,
                        &painter,
                        &p,
                        *t,
                        Pos2::new(area.left(), top + TRACK_HEIGHT),
                        area,
                        (v0, v1),
                        pointer,
                        &mut tip,
                        resp.clicked(),
                    );
                    span_pick = span_pick.or(picked);
                }
            }
        }
    }

    // The axis band over rows scrolled under it.
    painter.rect_filled(
        Rect::from_min_max(rect.min, Pos2::new(rect.right(), area.top())),
        CornerRadius::ZERO,
        visuals.extreme_bg_color,
    );
    axis(&painter, rect, area, v0, v1, base0, &visuals);

    // The selected ranges, shaded; everything else dimmed.
    let dim = if dark {
        Color32::from_black_alpha(110)
    } else {
        Color32::from_white_alpha(150)
    };
    let ranges = doc.selection.ranges.clone();
    if !ranges.is_empty() {
        let mut x = area.left();
        for &(a, b) in &ranges {
            let (xa, xb) = (
                x_of(a as f64).max(area.left()),
                x_of(b as f64).min(area.right()),
            );
            if xa > x {
                painter.rect_filled(
                    Rect::from_min_max(Pos2::new(x, area.top()), Pos2::new(xa, area.bottom())),
                    CornerRadius::ZERO,
                    dim,
                );
            }
            x = x.max(xb);
        }
        if x < area.right() {
            painter.rect_filled(
                Rect::from_min_max(Pos2::new(x, area.top()), area.max),
                CornerRadius::ZERO,
                dim,
            );
        }
    }

    // Lost samples: a red mark on the axis per report.
    for &(time, count) in &p.meta.lost_at {
        let x = x_of(time as f64);
        if x < area.left() || x > area.right() {
            continue;
        }
        let mark = Rect::from_min_max(
            Pos2::new(x - 1.5, rect.top()),
            Pos2::new(x + 1.5, area.bottom()),
        );
        painter.rect_filled(
            mark,
            CornerRadius::ZERO,
            Color32::from_rgba_unmultiplied(220, 40, 40, 90),
        );
        if pointer.is_some_and(|p| (p.x - x).abs() < 3.0) {
            tip = Some(format!(
                "{} samples lost here (the recorder's buffer overflowed)",
                format::grouped(count as i64)
            ));
        }
    }

    // Drag on the tracks: a new time range.
    if resp.drag_started()
        && let Some(pos) = ui.input(|i| i.pointer.press_origin())
        && pos.x >= area.left()
    {
        doc.timeline.drag_from = Some(t_of(pos.x).clamp(v0, v1));
    }
    if let (Some(from), Some(pos)) = (doc.timeline.drag_from, resp.interact_pointer_pos()) {
        let to = t_of(pos.x).clamp(v0, v1);
        let (a, b) = (from.min(to), from.max(to));
        let r = Rect::from_min_max(
            Pos2::new(x_of(a), area.top()),
            Pos2::new(x_of(b), area.bottom()),
        );
        painter.rect(
            r,
            CornerRadius::ZERO,
            visuals.selection.bg_fill.gamma_multiply(0.25),
            visuals.selection.stroke,
            egui::StrokeKind::Inside,
        );
        tip = Some(format::duration_ns((b - a) as i64));
        if resp.drag_stopped() {
            doc.timeline.drag_from = None;
            if x_of(b) - x_of(a) >= 3.0 {
                doc.set_preview(vec![(a as u64, b.ceil() as u64)], &ctx);
            }
        }
    }
    if !resp.dragged() && !resp.drag_stopped() {
        doc.timeline.drag_from = None;
    }
    if let Some(r) = span_pick {
        doc.set_preview(vec![r], &ctx);
    }
    if let Some(t) = toggle {
        let on = doc.thread_included(t);
        doc.set_thread_included(t, !on, &ctx);
    }
    if let Some(tip) = tip
        && doc.timeline.drag_from.is_none_or(|_| true)
    {
        resp.on_hover_text_at_pointer(tip);
    }
}

/// The committed ranges as breadcrumbs, the preview as a removable chip, and Zoom.
fn range_bar(ui: &mut Ui, doc: &mut Document) {
    let ctx = ui.ctx().clone();
    let Some((s0, s1)) = doc.bounds else {
        return;
    };
    let len = |r: &[(u64, u64)]| -> u64 { r.iter().map(|x| x.1 - x.0).sum() };
    let describe = |r: &[(u64, u64)]| -> String {
        match r {
            [] => String::new(),
            [(a, b)] => format!(
                "{} to {} ({})",
                format::duration_ns((a - s0) as i64),
                format::duration_ns((b - s0) as i64),
                format::duration_ns((b - a) as i64)
            ),
            _ => format!(
                "{} ranges ({} in all)",
                r.len(),
                format::duration_ns(len(r) as i64)
            ),
        }
    };
    ui.horizontal_wrapped(|ui| {
        ui.label("Time:");
        let mut go = None;
        if ui
            .selectable_label(
                doc.committed.is_empty(),
                format!("Full profile ({})", format::duration_ns((s1 - s0) as i64)),
            )
            .clicked()
        {
            go = Some(0);
        }
        for (k, r) in doc.committed.iter().enumerate() {
            ui.label(">");
            let last = k + 1 == doc.committed.len();
            if ui
                .selectable_label(last, format::duration_ns(len(r) as i64))
                .on_hover_text(describe(r))
                .clicked()
            {
                go = Some(k + 1);
            }
        }
        if let Some(k) = go {
            doc.pop_committed(k, &ctx);
        }
        if doc.preview.is_empty() {
            ui.weak("drag across the tracks to select a time range");
        } else {
            ui.separator();
            let label = format!("range: {}  x", describe(&doc.preview));
            if ui
                .add(egui::Button::new(label).selected(true))
                .on_hover_text("Clear the time range")
                .clicked()
            {
                doc.set_preview(Vec::new(), &ctx);
            } else if ui
                .button("Zoom")
                .on_hover_text("Zoom into the range (the breadcrumbs go back out)")
                .clicked()
            {
                doc.commit_preview(&ctx);
            }
        }
        if doc.timeline.view.is_some() && ui.small_button("Reset zoom").clicked() {
            doc.timeline.view = None;
        }
    });
}

/// Threads that have samples or spans, grouped by process: the process with the most samples
/// first, threads by id inside it.
fn track_rows(p: &Profile) -> Vec<Row> {
    let mut threads: Vec<usize> = (0..p.threads.len())
        .filter(|&t| {
            !p.threads.samples(ThreadId::from_index(t)).is_empty()
                || p.threads.span_end[t] > p.threads.span_start[t]
        })
        .collect();
    let weight = |t: usize| {
        let r = p.threads.samples(ThreadId::from_index(t));
        r.len() + (p.threads.span_end[t] - p.threads.span_start[t])
    };
    let mut per_pid: std::collections::HashMap<i32, usize> = Default::default();
    for &t in &threads {
        *per_pid.entry(p.threads.pid[t]).or_default() += weight(t);
    }
    threads.sort_by_key(|&t| {
        let pid = p.threads.pid[t];
        (std::cmp::Reverse(per_pid[&pid]), pid, p.threads.tid[t], t)
    });
    let mut rows = Vec::new();
    let mut last_pid = None;
    for t in threads {
        let pid = p.threads.pid[t];
        if last_pid != Some(pid) {
            let name = p.str(p.threads.process_name[t]);
            let name = if name.is_empty() { "process" } else { name };
            rows.push(Row::Process(pid, name.to_owned()));
            last_pid = Some(pid);
        }
        let (a, b) = (p.threads.span_start[t], p.threads.span_end[t]);
        let depth = p.spans.depth[a..b]
            .iter()
            .map(|&d| d + 1)
            .max()
            .unwrap_or(0)
            .min(MAX_SPAN_ROWS);
        rows.push(Row::Thread(ThreadId::from_index(t), depth));
    }
    rows
}

/// Time ticks along the top, labelled from the start of the profile.
fn axis(
    painter: &egui::Painter,
    rect: Rect,
    area: Rect,
    v0: f64,
    v1: f64,
    start: f64,
    visuals: &egui::Visuals,
) {
    let span = v1 - v0;
    // A step of 1, 2 or 5 × 10^k ns giving ticks about 90 points apart.
    let want = span * 90.0 / area.width() as f64;
    let mut step = 1.0f64;
    while step * 10.0 <= want {
        step *= 10.0;
    }
    for m in [1.0, 2.0, 5.0, 10.0] {
        if step * m >= want {
            step *= m;
            break;
        }
    }
    let first = ((v0 - start) / step).ceil() * step + start;
    let mut t = first;
    let color = visuals.weak_text_color();
    while t <= v1 {
        let x = area.left() + ((t - v0) / span * area.width() as f64) as f32;
        painter.vline(
            x,
            rect.top() + AXIS_HEIGHT - 5.0..=area.bottom(),
            Stroke::new(1.0, color.gamma_multiply(0.25)),
        );
        painter.text(
            Pos2::new(x + 2.0, rect.top() + 2.0),
            egui::Align2::LEFT_TOP,
            format::duration_ns((t - start) as i64),
            FontId::proportional(10.0),
            color,
        );
        t += step;
    }
}

/// One thread's spans as a flame chart below its density track; returns the time range of a
/// clicked span.
#[allow(clippy::too_many_arguments)]
fn spans(
    ui: &Ui,
    painter: &egui::Painter,
    p: &Profile,
    t: ThreadId,
    origin: Pos2,
    area: Rect,
    (v0, v1): (f64, f64),
    pointer: Option<Pos2>,
    tip: &mut Option<String>,
    clicked: bool,
) -> Option<(u64, u64)> {
    let (a, b) = (
        p.threads.span_start[t.index()],
        p.threads.span_end[t.index()],
    );
    let starts = &p.spans.start_ns[a..b];
    // Spans are sorted by start: those starting after the window are skipped in one step.
    let last = a + starts.partition_point(|&s| (s as f64) < v1);
    let px = area.width() as f64 / (v1 - v0);
    let mut picked = None;
    let dark = ui.visuals().dark_mode;
    for i in a..last {
        let (s, e) = (p.spans.start_ns[i] as f64, p.spans.end_ns[i] as f64);
        if e < v0 {
            continue;
        }
        let depth = p.spans.depth[i];
        if depth >= MAX_SPAN_ROWS {
            continue;
        }
        let x0 = area.left() + ((s - v0) * px) as f32;
        let x1 = area.left() + ((e - v0) * px) as f32;
        if x1 - x0 < 0.5 {
            continue;
        }
        let y = origin.y + depth as f32 * SPAN_ROW;
        let r = Rect::from_min_max(
            Pos2::new(x0.max(area.left() - 1.0), y),
            Pos2::new(x1.min(area.right() + 1.0), y + SPAN_ROW - 1.0),
        );
        if r.bottom() < area.top() || r.top() > area.bottom() {
            continue;
        }
        let name = p.str(p.spans.name[i]);
        painter.rect_filled(r, CornerRadius::ZERO, module_color(name, dark));
        if r.width() > 30.0 {
            painter.with_clip_rect(r.intersect(area)).text(
                Pos2::new(r.left().max(area.left()) + 2.0, r.center().y),
                egui::Align2::LEFT_CENTER,
                name,
                FontId::proportional(10.5),
                Color32::from_gray(16),
            );
        }
        if let Some(pos) = pointer
            && r.contains(pos)
        {
            *tip = Some(format!(
                "{name}\n{}\nclick to select its time range",
                format::duration_ns((e - s) as i64)
            ));
            if clicked {
                picked = Some((
                    p.spans.start_ns[i],
                    p.spans.end_ns[i].max(p.spans.start_ns[i] + 1),
                ));
            }
        }
    }
    picked
}
