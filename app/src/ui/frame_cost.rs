//! The window's own frame cost: puffin scopes around every view, and a small window showing
//! recent frame times and where the latest frame spent its time. Off by default; turned on with
//! `--profile-ui` or View ▸ Frame cost (puffin). The frames can be saved as a `.puffin` file.

use egui::{Color32, Ui};
use std::collections::VecDeque;
use std::path::Path;

const HISTORY: usize = 240;

#[derive(Default)]
pub struct FrameCost {
    view: Option<puffin::GlobalFrameView>,
    /// CPU time of `App::ui` in recent frames, milliseconds.
    history: VecDeque<f32>,
    pub saved: Option<String>,
}

impl FrameCost {
    /// Starts or stops recording scopes.
    pub fn set_enabled(&mut self, on: bool) {
        puffin::set_scopes_on(on);
        if on && self.view.is_none() {
            self.view = Some(puffin::GlobalFrameView::default());
        }
    }

    /// Marks a frame boundary for puffin.
    pub fn new_frame(&self) {
        if puffin::are_scopes_on() {
            puffin::GlobalProfiler::lock().new_frame();
        }
    }

    /// Records the CPU time of one `App::ui`.
    pub fn record(&mut self, ms: f32) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(ms);
    }

    pub fn window(&mut self, ctx: &egui::Context, open: &mut bool) {
        egui::Window::new("Frame cost (puffin)")
            .open(open)
            .default_width(340.0)
            .show(ctx, |ui| self.contents(ui));
    }

    fn contents(&mut self, ui: &mut Ui) {
        let n = self.history.len().max(1) as f32;
        let last = self.history.back().copied().unwrap_or(0.0);
        let mean = self.history.iter().sum::<f32>() / n;
        let max = self.history.iter().copied().fold(0.0, f32::max);
        ui.label(format!(
            "UI code per frame: last {last:.2} ms · mean {mean:.2} ms · max {max:.2} ms ({} frames)",
            self.history.len()
        ));
        // Bars, 16 ms at the top.
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), 60.0), egui::Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color);
        let bw = rect.width() / HISTORY as f32;
        for (k, &ms) in self.history.iter().enumerate() {
            let h = (ms / 16.0).min(1.0) * rect.height();
            let x = rect.left() + k as f32 * bw;
            let color = if ms > 16.0 {
                Color32::from_rgb(220, 80, 60)
            } else if ms > 8.0 {
                Color32::from_rgb(230, 180, 60)
            } else {
                Color32::from_rgb(90, 170, 90)
            };
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(x, rect.bottom() - h),
                    egui::pos2(x + bw, rect.bottom()),
                ),
                0.0,
                color,
            );
        }
        let Some(view) = &self.view else {
            return;
        };
        let view = view.lock();
        let Some(frame) = view.latest_frame() else {
            ui.weak("No puffin frame yet.");
            return;
        };
        ui.separator();
        ui.label(format!(
            "Latest frame: {:.2} ms across all threads",
            frame.duration_ns() as f64 / 1e6
        ));
        let Ok(unpacked) = frame.unpacked() else {
            return;
        };
        egui::Grid::new("scopes").striped(true).show(ui, |ui| {
            for (thread, stream) in &unpacked.thread_streams {
                let Ok(top) = puffin::Reader::from_start(&stream.stream).read_top_scopes() else {
                    continue;
                };
                for scope in top {
                    let name = view
                        .scope_collection()
                        .fetch_by_id(&scope.id)
                        .map_or_else(|| "?".to_owned(), |d| d.name().to_string());
                    ui.label(format!("{} · {name}", thread.name));
                    ui.label(format!("{:.3} ms", scope.record.duration_ns as f64 / 1e6));
                    ui.end_row();
                    // One level down: the views.
                    let Ok(reader) =
                        puffin::Reader::with_offset(&stream.stream, scope.child_begin_position)
                    else {
                        continue;
                    };
                    for child in reader.flatten() {
                        if child.child_begin_position > scope.child_end_position {
                            break;
                        }
                        let name = view
                            .scope_collection()
                            .fetch_by_id(&child.id)
                            .map_or_else(|| "?".to_owned(), |d| d.name().to_string());
                        ui.label(format!("    {name}"));
                        ui.label(format!("{:.3} ms", child.record.duration_ns as f64 / 1e6));
                        ui.end_row();
                    }
                }
            }
        });
        if ui
            .button("Save recent frames as stacklens-frames.puffin")
            .clicked()
        {
            let path = Path::new("stacklens-frames.puffin");
            self.saved = Some(
                match std::fs::File::create(path)
                    .map_err(|e| e.to_string())
                    .and_then(|mut f| view.write(&mut f).map_err(|e| e.to_string()))
                {
                    Ok(()) => format!("saved {}", path.display()),
                    Err(e) => format!("could not save {}: {e}", path.display()),
                },
            );
        }
        if let Some(s) = &self.saved {
            ui.weak(s);
        }
    }
}
