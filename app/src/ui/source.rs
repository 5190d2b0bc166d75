//! The source view: a function's source file with its self and total cost per line in the
//! margin, scrolled to the hottest line. Without the file on disk (or under a `--source-root`),
//! the per-line table alone.

use super::derived::Derived;
use super::document::Document;
use super::flame::{percent, short};
use crate::format;
use egui::{Color32, Sense, Ui};
use stacklens_core::analysis::{Disassembly, LineCost, disassemble, find_source, func_lines};
use stacklens_core::model::{FuncId, Unit};
use std::path::PathBuf;

const ROW_H: f32 = 17.0;
/// Width of the self and total columns.
const COST_W: f32 = 130.0;

/// Source files bigger than this are not shown (a generated file is not worth the memory).
const MAX_SOURCE: u64 = 32 << 20;

/// A file read for the view: its lines, or why it could not be.
type SourceText = Result<(PathBuf, Vec<String>), String>;

#[derive(Default)]
pub struct SourceState {
    /// The function shown; `None` = the one with the most self weight that has lines.
    pub func: Option<FuncId>,
    lines: Derived<(usize, FuncId), Vec<LineCost>>,
    text: Derived<(String, Vec<PathBuf>), SourceText>,
    /// The function the view last scrolled to the hottest line of.
    scrolled_for: Option<FuncId>,
    /// Scroll to this line in the next frame.
    scroll_to: Option<u32>,
    /// The line outlined (the hottest, or one clicked).
    pub selected_line: Option<u32>,
    /// Show the disassembly instead of the source.
    pub disassembly: bool,
    asm: Derived<(usize, FuncId), Result<Disassembly, String>>,
    /// The function the disassembly last scrolled to the hottest instruction of.
    asm_scrolled_for: Option<FuncId>,
}

impl SourceState {
    pub fn is_computing(&self) -> bool {
        self.lines.is_computing() || self.text.is_computing() || self.asm.is_computing()
    }

    pub fn poll(&mut self) {
        self.lines.poll();
        self.text.poll();
        self.asm.poll();
    }

    /// Shows `f`, scrolled to its hottest line.
    pub fn show_func(&mut self, f: FuncId) {
        self.func = Some(f);
        self.scrolled_for = None;
        self.selected_line = None;
    }
}

pub fn show(ui: &mut Ui, doc: &mut Document) {
    puffin::profile_function!();
    let ctx = ui.ctx().clone();
    let p = doc.profile.clone();
    if doc.source.func.is_none_or(|f| f.index() >= p.funcs.len()) {
        // The picked function, else the hottest one with a source file.
        doc.source.func = doc.highlight.filter(|&f| has_file(doc, f)).or_else(|| {
            doc.analysis
                .top
                .iter()
                .map(|s| s.func)
                .find(|&f| has_file(doc, f))
        });
    }
    let Some(func) = doc.source.func else {
        ui.add_space(12.0);
        ui.label("No function of this selection has source lines (no DWARF line information).");
        return;
    };
    let unit = p
        .sample_types
        .get(doc.analysis.selection.sample_type)
        .map_or(Unit::Count, |t| t.unit);
    let total = doc.analysis.tree.total;
    let (pa, a) = (p.clone(), doc.analysis.clone());
    let lines = doc
        .source
        .lines
        .get(&(doc.generation(), func), &ctx, move || {
            func_lines(&pa, &a.stack_weights, func)
        });
    let recorded = p
        .funcs
        .file
        .get(func.index())
        .and_then(|f| f.get())
        .map(|f| p.str(f).to_owned());
    ui.horizontal(|ui| {
        ui.strong(short(p.func_name(func), 80));
        match &recorded {
            Some(file) => ui.label(file),
            None => ui.weak("no source file recorded"),
        };
        ui.weak("(right-click a box or row and pick \"Show source\" for another)");
    });
    ui.horizontal(|ui| {
        ui.selectable_value(&mut doc.source.disassembly, false, "Source lines");
        ui.selectable_value(&mut doc.source.disassembly, true, "Disassembly");
    });
    if doc.source.disassembly {
        disassembly(ui, doc, func, unit, total);
        return;
    }
    let Some(lines) = lines.filter(|_| doc.source.lines.is_current(&(doc.generation(), func)))
    else {
        ui.spinner();
        return;
    };
    let text = recorded.as_ref().and_then(|file| {
        let key = (file.clone(), doc.source_roots.clone());
        let (file, roots) = key.clone();
        doc.source
            .text
            .get(&key, &ctx, move || read_source(&file, &roots))
    });
    let hottest = lines
        .iter()
        .max_by_key(|l| (l.self_weight, l.total_weight))
        .map(|l| l.line);
    if doc.source.scrolled_for != Some(func)
        && let Some(h) = hottest
    {
        doc.source.scrolled_for = Some(func);
        doc.source.scroll_to = Some(h);
        doc.source.selected_line = Some(h);
    }
    let self_sum: i64 = lines.iter().map(|l| l.self_weight).sum();
    let max_total = lines
        .iter()
        .map(|l| l.total_weight)
        .max()
        .unwrap_or(0)
        .max(1);
    ui.label(format!(
        "{} lines with samples; self {} ({} of all); hottest line {}",
        lines.len(),
        format::weight(self_sum, unit),
        percent(self_sum, total),
        hottest.map_or("-".to_owned(), |h| h.to_string()),
    ));
    let cost_of = |n: u32| {
        lines
            .binary_search_by_key(&n, |l| l.line)
            .ok()
            .map(|i| &lines[i])
    };
    // One row, painted: self and total cells (shaded by cost), line number, code.
    let row_ui = |ui: &mut Ui, number: u32, code: Option<&str>, selected: bool| -> bool {
        let cost = cost_of(number);
        let width = ui.available_width().max(400.0);
        let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, ROW_H), Sense::click());
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals();
        if selected {
            painter.rect_filled(rect, 0.0, visuals.selection.bg_fill.gamma_multiply(0.35));
        }
        let (sw, tw) = cost.map_or((0, 0), |c| (c.self_weight, c.total_weight));
        let x = cost_cells(&painter, rect, [sw, tw], max_total, unit, total, visuals);
        painter.text(
            egui::pos2(x + 40.0, rect.center().y),
            egui::Align2::RIGHT_CENTER,
            number.to_string(),
            egui::FontId::monospace(12.0),
            visuals.weak_text_color(),
        );
        if let Some(code) = code {
            painter.text(
                egui::pos2(x + 52.0, rect.center().y),
                egui::Align2::LEFT_CENTER,
                code,
                egui::FontId::monospace(12.0),
                if selected {
                    visuals.strong_text_color()
                } else {
                    visuals.text_color()
                },
            );
        }
        let label = match cost {
            Some(c) => format!(
                "line {number}: self {}, total {}",
                c.self_weight, c.total_weight
            ),
            None => format!("line {number}"),
        };
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        resp.clicked()
    };
    ui.horizontal(|ui| {
        ui.add_sized(
            [COST_W - 8.0, 16.0],
            egui::Label::new(egui::RichText::new("Self").strong()),
        );
        ui.add_sized(
            [COST_W - 8.0, 16.0],
            egui::Label::new(egui::RichText::new("Total").strong()),
        );
        ui.strong("  Line  Source");
    });
    if text.is_none() && recorded.is_some() {
        // Still reading the file.
        ui.spinner();
        return;
    }
    ui.spacing_mut().item_spacing.y = 0.0;
    let row_h = ROW_H;
    let row_step = ROW_H;
    match text.as_deref() {
        Some(Ok((path, text))) => {
            ui.weak(format!("{}", path.display()));
            let mut area = egui::ScrollArea::both().auto_shrink([false, false]);
            if let Some(line) = doc.source.scroll_to.take() {
                // A few lines of context above the hottest one.
                area = area.vertical_scroll_offset(line.saturating_sub(6) as f32 * row_step);
            }
            let selected = doc.source.selected_line;
            let mut clicked = None;
            area.show_rows(ui, row_h, text.len(), |ui, range| {
                for i in range {
                    let n = i as u32 + 1;
                    if row_ui(ui, n, Some(&text[i]), selected == Some(n)) {
                        clicked = Some(n);
                    }
                }
            });
            if clicked.is_some() {
                doc.source.selected_line = clicked;
            }
        }
        other => {
            match other {
                Some(Err(e)) => ui.colored_label(ui.visuals().warn_fg_color, e),
                _ => ui.weak("No source file recorded. The lines with samples:"),
            };
            let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
            if let Some(line) = doc.source.scroll_to.take()
                && let Some(i) = lines.iter().position(|l| l.line == line)
            {
                area = area.vertical_scroll_offset(i.saturating_sub(3) as f32 * row_step);
            }
            let selected = doc.source.selected_line;
            area.show_rows(ui, row_h, lines.len(), |ui, range| {
                for i in range {
                    row_ui(ui, lines[i].line, None, selected == Some(lines[i].line));
                }
            });
        }
    }
}

fn has_file(doc: &Document, f: FuncId) -> bool {
    doc.profile
        .funcs
        .file
        .get(f.index())
        .is_some_and(|s| s.get().is_some())
}

/// Finds and reads a source file (lossy UTF-8, tabs as four spaces).
fn read_source(recorded: &str, roots: &[PathBuf]) -> SourceText {
    let Some(path) = find_source(recorded, roots) else {
        let searched: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(format!(
            "Source file not found: {recorded} (searched it as is and under {}; add \
             --source-root DIR). The lines with samples:",
            if searched.is_empty() {
                "no source roots".to_owned()
            } else {
                searched.join(", ")
            }
        ));
    };
    // The path comes from the profile's debug information: only a regular file is read, and
    // no more of it than can be shown (the size can change after it is checked).
    let file = stacklens_core::mapped::open_regular(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let size = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_SOURCE {
        return Err(format!(
            "{}: {size} bytes is too big to show (at most {MAX_SOURCE})",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_SOURCE), &mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines = text.lines().map(|l| l.replace('\t', "    ")).collect();
    Ok((path, lines))
}

/// The function's instructions with self and total cost, opened at the hottest one.
fn disassembly(ui: &mut Ui, doc: &mut Document, func: FuncId, unit: Unit, total: i64) {
    let ctx = ui.ctx().clone();
    let key = (doc.generation(), func);
    let (p, a, dirs) = (
        doc.profile.clone(),
        doc.analysis.clone(),
        doc.binary_dirs.clone(),
    );
    let asm = doc.source.asm.get(&key, &ctx, move || {
        disassemble(&p, &a.stack_weights, func, &dirs)
    });
    let Some(asm) = asm.filter(|_| doc.source.asm.is_current(&key)) else {
        ui.spinner();
        return;
    };
    let d = match asm.as_ref() {
        Ok(d) => d,
        Err(e) => {
            ui.colored_label(ui.visuals().warn_fg_color, e);
            return;
        }
    };
    let self_sum: i64 = d.instructions.iter().map(|i| i.self_weight).sum();
    let hottest = d
        .instructions
        .iter()
        .enumerate()
        .max_by_key(|(_, i)| (i.self_weight, i.total_weight))
        .filter(|(_, i)| i.self_weight > 0 || i.total_weight > 0)
        .map(|(k, _)| k);
    ui.label(format!(
        "{} in {}: {} instructions, {} bytes; self {} ({} of all)",
        d.symbol,
        d.path.display(),
        d.instructions.len(),
        d.end - d.start,
        format::weight(self_sum, unit),
        percent(self_sum, total),
    ));
    let max = d
        .instructions
        .iter()
        .map(|i| i.total_weight.max(i.self_weight))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut area = egui::ScrollArea::both().auto_shrink([false, false]);
    if doc.source.asm_scrolled_for != Some(func) {
        doc.source.asm_scrolled_for = Some(func);
        if let Some(k) = hottest {
            area = area.vertical_scroll_offset(k.saturating_sub(6) as f32 * ROW_H);
        }
    }
    ui.spacing_mut().item_spacing.y = 0.0;
    area.show_rows(ui, ROW_H, d.instructions.len(), |ui, range| {
        for k in range {
            let ins = &d.instructions[k];
            let width = ui.available_width().max(400.0);
            let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, ROW_H), Sense::hover());
            let painter = ui.painter_at(rect);
            let visuals = ui.visuals();
            if Some(k) == hottest {
                painter.rect_filled(rect, 0.0, visuals.selection.bg_fill.gamma_multiply(0.35));
            }
            let weights = [ins.self_weight, ins.total_weight];
            let x = cost_cells(&painter, rect, weights, max, unit, total, visuals);
            painter.text(
                egui::pos2(x + 4.0, rect.center().y),
                egui::Align2::LEFT_CENTER,
                format!("{:>8x}  {}", ins.address, ins.text),
                egui::FontId::monospace(12.0),
                visuals.text_color(),
            );
            let label = format!(
                "{:x} {}: self {}, total {}",
                ins.address, ins.text, ins.self_samples, ins.total_weight
            );
            resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        }
    });
}

/// The self and total cells at the left of a row, shaded by `weight / max`; returns where the
/// rest of the row starts.
fn cost_cells(
    painter: &egui::Painter,
    rect: egui::Rect,
    weights: [i64; 2],
    max: i64,
    unit: Unit,
    total: i64,
    visuals: &egui::Visuals,
) -> f32 {
    let mut x = rect.left();
    for w in weights {
        let cell = egui::Rect::from_min_size(
            egui::pos2(x, rect.top()),
            egui::vec2(COST_W - 4.0, ROW_H - 1.0),
        );
        if w != 0 {
            let f = (w as f32 / max.max(1) as f32).clamp(0.0, 1.0);
            let shade = Color32::from_rgba_unmultiplied(230, 80, 40, (f * 150.0) as u8);
            painter.rect_filled(cell, 0.0, shade);
            painter.text(
                cell.right_center() - egui::vec2(4.0, 0.0),
                egui::Align2::RIGHT_CENTER,
                format!("{} {}", format::weight(w, unit), percent(w, total)),
                egui::FontId::monospace(10.5),
                visuals.strong_text_color(),
            );
        }
        x += COST_W;
    }
    x
}
