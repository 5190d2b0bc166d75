//! Top functions: self and total per function, sortable by every column, with a filter box.
//! Only the rows in view are laid out (`TableBody::rows`).

use super::document::{Action, Analysis};
use super::flame::percent;
use crate::format;
use egui::{Sense, Ui};
use egui_extras::{Column, TableBuilder};
use stacklens_core::analysis::FuncStat;
use stacklens_core::model::{FuncId, Profile, Unit};
use std::cmp::Ordering;

/// A column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    SelfWeight,
    TotalWeight,
    Samples,
    /// The picked ratio's numerator and denominator self weights, and the ratio of self and
    /// of total weights.
    RatioNum,
    RatioDen,
    RatioSelf,
    RatioTotal,
    Module,
    Function,
}

const COLUMNS: [(&str, Option<SortBy>); 7] = [
    ("Self", Some(SortBy::SelfWeight)),
    ("Self %", None),
    ("Total", Some(SortBy::TotalWeight)),
    ("Total %", None),
    ("Samples", Some(SortBy::Samples)),
    ("Module", Some(SortBy::Module)),
    ("Function", Some(SortBy::Function)),
];

pub struct TableState {
    pub sort: SortBy,
    pub descending: bool,
    pub filter: String,
    /// Indexes into `Analysis::top` in display order.
    pub rows: Vec<usize>,
    /// `(analysis generation, sort, descending, filter)` that `rows` is for.
    rows_for: Option<(usize, SortBy, bool, String)>,
}

impl Default for TableState {
    fn default() -> Self {
        TableState {
            sort: SortBy::SelfWeight,
            descending: true,
            filter: String::new(),
            rows: Vec::new(),
            rows_for: None,
        }
    }
}

impl TableState {
    /// Clicking a column header sorts by it; clicking it again flips the order.
    pub fn sort_by(&mut self, col: SortBy) {
        if self.sort == col {
            self.descending = !self.descending;
        } else {
            self.sort = col;
            // Numbers biggest first, names A to Z.
            self.descending = !matches!(col, SortBy::Module | SortBy::Function);
        }
    }

    /// Filters and sorts the rows when the analysis, sort or filter changed.
    pub fn update_rows(&mut self, p: &Profile, a: &Analysis, generation: usize) {
        let key = (generation, self.sort, self.descending, self.filter.clone());
        if self.rows_for.as_ref() == Some(&key) {
            return;
        }
        puffin::profile_function!();
        let needle = self.filter.trim().to_lowercase();
        let ratio = |f: FuncId, total: bool| -> f64 {
            a.ratio.as_ref().map_or(f64::NEG_INFINITY, |r| {
                let (n, d) = if total { r.total_of(f) } else { r.self_of(f) };
                r.value(n, d).unwrap_or(f64::NEG_INFINITY)
            })
        };
        let part = |f: FuncId, num: bool| -> i64 {
            a.ratio.as_ref().map_or(0, |r| {
                let (n, d) = r.self_of(f);
                if num { n } else { d }
            })
        };
        let mut rows: Vec<usize> = (0..a.top.len())
            .filter(|&i| {
                needle.is_empty() || p.func_name(a.top[i].func).to_lowercase().contains(&needle)
            })
            .collect();
        let cmp = |x: &FuncStat, y: &FuncStat| -> Ordering {
            match self.sort {
                SortBy::SelfWeight => x.self_weight.cmp(&y.self_weight),
                SortBy::TotalWeight => x.total_weight.cmp(&y.total_weight),
                SortBy::Samples => x.total_samples.cmp(&y.total_samples),
                SortBy::RatioNum => part(x.func, true).cmp(&part(y.func, true)),
                SortBy::RatioDen => part(x.func, false).cmp(&part(y.func, false)),
                SortBy::RatioSelf => ratio(x.func, false).total_cmp(&ratio(y.func, false)),
                SortBy::RatioTotal => ratio(x.func, true).total_cmp(&ratio(y.func, true)),
                SortBy::Module => p.func_module_name(x.func).cmp(p.func_module_name(y.func)),
                SortBy::Function => p.func_name(x.func).cmp(p.func_name(y.func)),
            }
        };
        // Stable: ties keep the default order (self weight, descending).
        rows.sort_by(|&i, &j| {
            let o = cmp(&a.top[i], &a.top[j]);
            if self.descending { o.reverse() } else { o }
        });
        self.rows = rows;
        self.rows_for = Some(key);
    }
}

/// The table; returns what a row was clicked for, if anything.
pub fn show(
    ui: &mut Ui,
    state: &mut TableState,
    p: &Profile,
    a: &Analysis,
    generation: usize,
    highlight: Option<FuncId>,
) -> Option<Action> {
    puffin::profile_function!();
    ui.horizontal(|ui| {
        let label = ui.label("Filter:");
        ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .hint_text("function name")
                .desired_width(220.0),
        )
        .labelled_by(label.id);
        if !state.filter.is_empty() && ui.button("Clear").on_hover_text("Clear filter").clicked() {
            state.filter.clear();
        }
    });
    state.update_rows(p, a, generation);
    let unit = p
        .sample_types
        .get(a.selection.sample_type)
        .map_or(Unit::Count, |t| t.unit);
    let total = a.tree.total;
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut action = None;
    let mut sort_click = None;
    // With a ratio picked: both events' self weights and the ratio of self and of total
    // weights, after the samples.
    let ratio = a.ratio.as_ref();
    let mut columns: Vec<(String, Option<SortBy>)> = COLUMNS[..5]
        .iter()
        .map(|&(l, s)| (l.to_string(), s))
        .collect();
    if let Some(r) = ratio {
        let name = |ty: usize| p.sample_types.get(ty).map_or("?", |t| t.name.as_str());
        let (_, suffix) = r.scale;
        columns.push((format!("{} self", name(r.spec.num)), Some(SortBy::RatioNum)));
        columns.push((format!("{} self", name(r.spec.den)), Some(SortBy::RatioDen)));
        columns.push((format!("Ratio self{suffix}"), Some(SortBy::RatioSelf)));
        columns.push((format!("Ratio total{suffix}"), Some(SortBy::RatioTotal)));
    }
    columns.extend(COLUMNS[5..].iter().map(|&(l, s)| (l.to_string(), s)));
    let show_ratio = |v: Option<f64>| v.map_or("—".to_string(), format::ratio);
    TableBuilder::new(ui)
        .id_salt("top-functions")
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .columns(Column::auto().at_least(72.0), columns.len() - 2)
        .column(Column::initial(110.0).at_least(40.0).clip(true))
        .column(Column::remainder().at_least(120.0).clip(true))
        .header(20.0, |mut header| {
            for (label, sort) in &columns {
                header.col(|ui| {
                    let Some(sort) = *sort else {
                        ui.strong(label);
                        return;
                    };
                    if ui
                        .add(egui::Button::new(egui::RichText::new(label).strong()).frame(false))
                        .on_hover_text(format!("Sort by {}", label.to_lowercase()))
                        .clicked()
                    {
                        sort_click = Some(sort);
                    }
                    if state.sort == sort {
                        sort_arrow(ui, state.descending);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, state.rows.len(), |mut row| {
                let Some(s) = state.rows.get(row.index()).and_then(|&i| a.top.get(i)) else {
                    return;
                };
                row.set_selected(highlight == Some(s.func));
                row.col(|ui| {
                    cell(ui, format::weight(s.self_weight, unit));
                });
                row.col(|ui| {
                    cell(ui, percent(s.self_weight, total));
                });
                row.col(|ui| {
                    cell(ui, format::weight(s.total_weight, unit));
                });
                row.col(|ui| {
                    cell(ui, percent(s.total_weight, total));
                });
                row.col(|ui| {
                    cell(ui, format::grouped(s.total_samples as i64));
                });
                if let Some(r) = ratio {
                    let (sn, sd) = r.self_of(s.func);
                    let (tn, td) = r.total_of(s.func);
                    let unit_of =
                        |ty: usize| p.sample_types.get(ty).map_or(Unit::Count, |t| t.unit);
                    row.col(|ui| {
                        cell(ui, format::weight(sn, unit_of(r.spec.num)));
                    });
                    row.col(|ui| {
                        cell(ui, format::weight(sd, unit_of(r.spec.den)));
                    });
                    row.col(|ui| {
                        cell(ui, show_ratio(r.value(sn, sd)));
                    });
                    row.col(|ui| {
                        cell(ui, show_ratio(r.value(tn, td)));
                    });
                }
                row.col(|ui| {
                    cell(ui, p.func_module_name(s.func));
                });
                row.col(|ui| {
                    cell(ui, p.func_name(s.func));
                });
                let resp = row.response();
                if resp.clicked() {
                    action = Some(Action::Highlight(s.func));
                }
                resp.context_menu(|ui| {
                    ui.label(egui::RichText::new(p.func_name(s.func)).strong());
                    ui.separator();
                    if ui.button("Callers and callees").clicked() {
                        action = Some(Action::Sandwich(s.func));
                        ui.close();
                    }
                    if ui.button("Show source").clicked() {
                        action = Some(Action::Source(s.func));
                        ui.close();
                    }
                    for (label, t) in super::flame::function_transforms(p, s.func) {
                        if ui.button(label).clicked() {
                            action = Some(Action::Transform(t));
                            ui.close();
                        }
                    }
                });
            });
        });
    if let Some(col) = sort_click {
        state.sort_by(col);
    }
    action
}

/// A table cell: plain text that lets clicks through to the row.
pub(crate) fn cell(ui: &mut Ui, text: impl Into<egui::WidgetText>) {
    ui.add(egui::Label::new(text).selectable(false).truncate());
}

/// A small triangle after the sorted column's name, pointing down for descending order. (The
/// default fonts have no arrow glyphs.)
fn sort_arrow(ui: &mut Ui, descending: bool) {
    let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), Sense::hover());
    let c = r.center();
    let (tip, base) = if descending { (4.0, -3.0) } else { (-4.0, 3.0) };
    let points = vec![
        egui::pos2(c.x - 4.0, c.y + base),
        egui::pos2(c.x + 4.0, c.y + base),
        egui::pos2(c.x, c.y + tip),
    ];
    let color = ui.visuals().strong_text_color();
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        color,
        egui::Stroke::NONE,
    ));
}
