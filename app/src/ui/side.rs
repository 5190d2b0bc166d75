//! The side panel: event picker, threads to include, profile information and warnings.

use super::document::Document;
use crate::format;
use egui::Ui;
use stacklens_core::analysis::{RatioSpec, known_ratios};
use stacklens_core::model::{ModuleSymbols, Profile, ThreadId};

/// Picks a ratio of two events (IPC, miss rates, or any pair): columns in the table and a
/// colouring of the flame graph.
fn ratio_picker(ui: &mut Ui, doc: &mut Document, p: &Profile) {
    let ctx = ui.ctx().clone();
    let current = doc.ratio;
    let mut picked = current;
    let known = known_ratios(p);
    let n = p.sample_types.len();
    let pairs = (0..n)
        .flat_map(|a| (0..n).map(move |b| RatioSpec { num: a, den: b }))
        .filter(|r| r.num != r.den && !known.contains(r));
    ui.horizontal(|ui| {
        let label = ui.label("Ratio:");
        egui::ComboBox::from_id_salt("ratio")
            .selected_text(current.map_or("none".to_string(), |r| r.name(p)))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut picked, None, "none");
                for r in known.iter().copied().chain(pairs) {
                    ui.selectable_value(&mut picked, Some(r), r.name(p));
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(
                "Divide one event by another per function (table columns) and per call path (flame graph colours)",
            );
    });
    if picked != current {
        doc.set_ratio(picked, &ctx);
    }
}

pub fn show(ui: &mut Ui, doc: &mut Document) {
    puffin::profile_function!();
    let ctx = ui.ctx().clone();
    let p = doc.profile.clone();

    if p.sample_types.len() > 1 {
        ui.heading("Event");
        let current = doc.selection.sample_type;
        let mut picked = current;
        egui::ComboBox::from_id_salt("event")
            .selected_text(p.sample_types.get(current).map_or("?", |t| t.name.as_str()))
            .show_ui(ui, |ui| {
                for (i, t) in p.sample_types.iter().enumerate() {
                    let n: usize = doc.thread_samples.get(i).map_or(0, |c| c.iter().sum());
                    ui.selectable_value(
                        &mut picked,
                        i,
                        format!("{} ({} samples)", t.name, format::grouped(n as i64)),
                    );
                }
            });
        if picked != current {
            doc.set_sample_type(picked, &ctx);
        }
        ratio_picker(ui, doc, &p);
        ui.add_space(6.0);
    }

    ui.horizontal(|ui| {
        ui.heading("Threads");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .small_button("Include all")
                .on_hover_text("Include every thread")
                .clicked()
            {
                let mut sel = doc.selection.clone();
                sel.threads = None;
                doc.set_selection(sel, &ctx);
            }
        });
    });
    let counts = doc
        .thread_samples
        .get(doc.selection.sample_type)
        .cloned()
        .unwrap_or_default();
    // Busiest threads first.
    let mut order: Vec<usize> = (0..p.threads.len()).collect();
    order.sort_by_key(|&t| std::cmp::Reverse(counts.get(t).copied().unwrap_or(0)));
    egui::ScrollArea::vertical()
        .id_salt("threads")
        .max_height(220.0)
        .show(ui, |ui| {
            for t in order {
                let tid = ThreadId::from_index(t);
                let mut on = doc.thread_included(tid);
                let n = counts.get(t).copied().unwrap_or(0);
                let label = p.thread_label(tid);
                let resp = ui.checkbox(&mut on, label).on_hover_text(format!(
                    "{} samples; process {}",
                    format::grouped(n as i64),
                    p.threads.pid[t]
                ));
                if resp.changed() {
                    doc.set_thread_included(tid, on, &ctx);
                }
                ui.indent(("count", t), |ui| {
                    ui.weak(format!("{} samples", format::grouped(n as i64)));
                });
            }
        });
    ui.add_space(6.0);

    if !doc.label_values.is_empty() {
        ui.heading("Labels");
        let labels = doc.label_values.clone();
        egui::Grid::new("labels").num_columns(2).show(ui, |ui| {
            for (key, values) in &labels {
                let current = doc
                    .selection
                    .labels
                    .iter()
                    .find(|f| &f.key == key)
                    .map(|f| f.value.clone());
                let mut picked = current.clone();
                let label = ui.label(key);
                egui::ComboBox::from_id_salt(("label", key))
                    .selected_text(current.as_deref().unwrap_or("all"))
                    .width(150.0)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut picked, None, "all");
                        for v in values {
                            ui.selectable_value(&mut picked, Some(v.clone()), v);
                        }
                    })
                    .response
                    .labelled_by(label.id);
                if picked != current {
                    doc.set_label_filter(key, picked, &ctx);
                }
                ui.end_row();
            }
        });
        ui.add_space(6.0);
    }

    ui.heading("Profile");
    let m = &p.meta;
    egui::Grid::new("info")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let mut row = |k: &str, v: String| {
                ui.label(k);
                ui.add(egui::Label::new(v).wrap());
                ui.end_row();
            };
            row("format", m.source_format.clone());
            if let Some(c) = &m.command_line {
                row("command", c.clone());
            }
            if let Some(h) = &m.hostname {
                row("host", h.clone());
            }
            if let Some(o) = &m.os_release {
                row("os", o.clone());
            }
            if let Some(c) = &m.cpu_desc {
                row("cpu", c.clone());
            }
            if let Some(r) = &m.recorder_version {
                row("recorder", r.clone());
            }
            if let Some(d) = m.duration_ns() {
                row("duration", format::duration_ns(d as i64));
            }
            let ty = doc.analysis.selection.sample_type;
            // Per-thread counts were taken once at load: no scan of the samples per frame.
            let samples: usize = doc.thread_samples.get(ty).map_or(0, |c| c.iter().sum());
            row("samples", format::grouped(samples as i64));
            row(
                "selected",
                format::grouped(doc.analysis.tree.samples as i64),
            );
            row("lost samples", format::grouped(m.lost_samples as i64));
            for (k, v) in &m.info {
                row(k, v.clone());
            }
            row("functions", format::grouped(p.funcs.len() as i64));
            row("call nodes", format::grouped(doc.nodes.len() as i64));
        });

    if !m.modules.is_empty() {
        ui.add_space(6.0);
        symbol_status(ui, &m.modules);
    }

    if !m.warnings.is_empty() {
        ui.add_space(6.0);
        egui::CollapsingHeader::new(format!("Warnings ({})", m.warnings.len()))
            .default_open(true)
            .show(ui, |ui| {
                for w in &m.warnings {
                    ui.add(
                        egui::Label::new(egui::RichText::new(w).color(ui.visuals().warn_fg_color))
                            .wrap(),
                    );
                }
            });
    }
}

/// Per module: were names and source lines found, from which file, and if not, why.
fn symbol_status(ui: &mut Ui, modules: &[ModuleSymbols]) {
    let missing = modules
        .iter()
        .filter(|m| m.symbols_from.is_none() || m.problem.is_some())
        .count();
    let title = if missing > 0 {
        format!(
            "Symbols ({} modules, {missing} with problems)",
            modules.len()
        )
    } else {
        format!("Symbols ({} modules)", modules.len())
    };
    egui::CollapsingHeader::new(title)
        .id_salt("symbols")
        .default_open(missing > 0)
        .show(ui, |ui| {
            for m in modules {
                let (state, color) = match (&m.symbols_from, &m.lines_from) {
                    (Some(_), Some(_)) => ("names + lines", ui.visuals().text_color()),
                    (Some(_), None) => ("names only", ui.visuals().warn_fg_color),
                    (None, _) => ("no symbols", ui.visuals().error_fg_color),
                };
                let name = m.path.rsplit('/').next().unwrap_or(&m.path);
                let mut tip = format!("{}\n", m.path);
                if let Some(b) = &m.build_id {
                    tip += &format!("build-id {b}\n");
                }
                if let Some(f) = &m.symbols_from {
                    tip += &format!("names from {f}\n");
                }
                if let Some(f) = &m.lines_from {
                    tip += &format!("lines from {f}\n");
                }
                ui.horizontal(|ui| {
                    ui.label(egui::RichText::new(name).strong())
                        .on_hover_text(tip.trim_end());
                    ui.colored_label(color, state);
                    ui.weak(format!(
                        "{} of {} addresses",
                        format::grouped(m.resolved as i64),
                        format::grouped(m.addresses as i64)
                    ));
                });
                if let Some(why) = &m.problem {
                    ui.add(egui::Label::new(egui::RichText::new(why).weak().small()).wrap());
                }
                ui.add_space(2.0);
            }
        });
}
