//! File ▸ Save as / Export: writes the active profile as `.stkl`, pprof, folded, speedscope or a
//! flame graph SVG, on a worker thread, through the same writers as `stacklens convert`.
//!
//! The single-type formats (folded, speedscope, SVG) take the event shown; the SVG also takes
//! the selected threads and labels, so it shows what the window shows.

use super::document::Document;
use egui::Ui;
use stacklens_core::analysis::Selection;
use stacklens_core::export::{self, ExportFormat, ExportOptions};
use stacklens_core::model::Profile;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

/// The choices of the dialog, with the extension each writes.
const CHOICES: &[(&str, &str)] = &[
    ("stacklens capture", ".stkl"),
    ("pprof", ".pb.gz"),
    ("folded stacks", ".folded"),
    ("speedscope", ".speedscope.json"),
    ("flame graph SVG", ".svg"),
];

#[derive(Default)]
pub struct ExportDialog {
    pub open: bool,
    /// The path field.
    pub path: String,
    /// The last export's outcome, shown under the buttons.
    pub status: Option<Result<String, String>>,
    job: Option<mpsc::Receiver<Result<String, String>>>,
    /// A "Browse…" save dialog running on its own thread.
    browse: Option<mpsc::Receiver<Option<PathBuf>>>,
}

impl ExportDialog {
    /// Opens the dialog for `doc`, proposing `<input name>.stkl` next to the input.
    pub fn show_for(&mut self, doc: &Document) {
        self.open = true;
        self.status = None;
        if self.path.is_empty() {
            self.path = with_extension(&doc.path, ".stkl").display().to_string();
        }
    }

    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    /// Draws the dialog (when open) and collects finished work.
    pub fn window(&mut self, ctx: &egui::Context, doc: Option<&Document>) {
        if let Some(rx) = &self.job
            && let Ok(r) = rx.try_recv()
        {
            self.status = Some(r);
            self.job = None;
        }
        if let Some(rx) = &self.browse
            && let Ok(picked) = rx.try_recv()
        {
            if let Some(p) = picked {
                self.path = p.display().to_string();
            }
            self.browse = None;
        }
        if !self.open {
            return;
        }
        let mut open = self.open;
        egui::Window::new("Save as / Export")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| self.contents(ui, doc));
        self.open = open;
    }

    fn contents(&mut self, ui: &mut Ui, doc: Option<&Document>) {
        let Some(doc) = doc else {
            ui.label("Open a profile first.");
            return;
        };
        ui.horizontal(|ui| {
            let label = ui.label("Export path:");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0))
                .labelled_by(label.id);
            if ui
                .add_enabled(self.browse.is_none(), egui::Button::new("Browse…"))
                .clicked()
            {
                self.browse_dialog(ui.ctx());
            }
        });
        let current = ExportFormat::from_path(Path::new(self.path.trim()));
        ui.horizontal_wrapped(|ui| {
            ui.label("Format:");
            for &(name, ext) in CHOICES {
                let selected = current.is_some()
                    && current == ExportFormat::from_path(Path::new(&format!("x{ext}")));
                if ui
                    .selectable_label(selected, format!("{name} ({ext})"))
                    .clicked()
                {
                    self.path = with_extension(Path::new(self.path.trim()), ext)
                        .display()
                        .to_string();
                }
            }
        });
        let p = &doc.profile;
        let ty = p
            .sample_types
            .get(doc.selection.sample_type)
            .map_or("", |t| t.name.as_str());
        ui.weak(match current {
            Some(ExportFormat::Stkl) => {
                "Everything: every event, thread and label; reopens instantly.".to_string()
            }
            Some(ExportFormat::Pprof { .. }) => {
                "Every event; threads become a `thread` label.".to_string()
            }
            Some(ExportFormat::Svg) => {
                format!("Event {ty}, the selected threads and labels.")
            }
            Some(_) => format!("Event {ty}, all threads."),
            None => format!(
                "The name must end in one of {}.",
                ExportFormat::EXTENSIONS.join(", ")
            ),
        });
        ui.horizontal(|ui| {
            let ready = current.is_some() && self.job.is_none();
            if ui.add_enabled(ready, egui::Button::new("Save")).clicked() {
                self.start(doc, PathBuf::from(self.path.trim()), ui.ctx());
            }
            if self.job.is_some() {
                ui.spinner();
                ui.label("Writing…");
            }
        });
        match &self.status {
            Some(Ok(msg)) => {
                ui.label(msg);
            }
            Some(Err(msg)) => {
                ui.colored_label(ui.visuals().error_fg_color, msg);
            }
            None => {}
        }
    }

    fn start(&mut self, doc: &Document, path: PathBuf, ctx: &egui::Context) {
        let profile: Arc<Profile> = doc.profile.clone();
        let selection: Selection = doc.selection.clone();
        let title = doc.title.clone();
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        rayon::spawn(move || {
            let r = write(&profile, &selection, &title, &path);
            let _ = tx.send(r);
            ctx.request_repaint();
        });
        self.status = None;
        self.job = Some(rx);
    }

    fn browse_dialog(&mut self, ctx: &egui::Context) {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let start = PathBuf::from(self.path.trim());
        let spawned = std::thread::Builder::new()
            .name("stacklens-save-dialog".into())
            .spawn(move || {
                let mut d = rfd::FileDialog::new().set_title("Save profile as");
                if let Some(dir) = start.parent().filter(|d| d.is_dir()) {
                    d = d.set_directory(dir);
                }
                if let Some(name) = start.file_name() {
                    d = d.set_file_name(name.to_string_lossy());
                }
                let _ = tx.send(d.save_file());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.browse = Some(rx),
            Err(e) => self.status = Some(Err(format!("Could not open the file dialog: {e}"))),
        }
    }
}

/// Writes the export; the message to show.
fn write(p: &Profile, sel: &Selection, title: &str, path: &Path) -> Result<String, String> {
    let format = ExportFormat::from_path(path).ok_or("unknown format")?;
    let result = if format == ExportFormat::Svg {
        // The SVG shows the selection (threads, labels), like the window.
        (|| {
            let f = std::fs::File::create(path)?;
            let mut w = std::io::BufWriter::new(f);
            let opts = export::svg::SvgOptions::titled(title);
            export::svg::write(p, sel, &opts, &mut w)?;
            std::io::Write::flush(&mut w)
        })()
    } else {
        let opts = ExportOptions {
            sample_type: sel.sample_type,
            title: title.to_string(),
        };
        export::write_file(p, path, &opts)
    };
    match result {
        Ok(()) => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            Ok(format!(
                "Saved {} ({})",
                path.display(),
                crate::format::bytes(size as i64)
            ))
        }
        Err(e) => Err(format!("Could not write {}: {e}", path.display())),
    }
}

/// `path` with its profile extension replaced by `ext` (`a/demo.perf.data` → `a/demo.stkl`).
fn with_extension(path: &Path, ext: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    let mut stem = name.as_str();
    for known in [
        ".speedscope.json",
        ".perf-script.txt.gz",
        ".perf-script.txt",
        ".perf.data",
        ".pb.gz",
        ".cpuprofile",
        ".puffin",
        ".folded",
        ".stkl",
        ".json",
        ".svg",
        ".pb",
        ".gz",
        ".zst",
        ".data",
    ] {
        if let Some(s) = stem.strip_suffix(known) {
            stem = s;
            break;
        }
    }
    if stem.is_empty() {
        stem = "profile";
    }
    path.with_file_name(format!("{stem}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::with_extension;
    use std::path::Path;

    #[test]
    fn extensions_are_replaced() {
        let w = |p: &str, e: &str| with_extension(Path::new(p), e).display().to_string();
        assert_eq!(w("a/demo.perf.data", ".stkl"), "a/demo.stkl");
        assert_eq!(w("go-cpu.pb.gz", ".folded"), "go-cpu.folded");
        assert_eq!(
            w("x/demo.stkl", ".speedscope.json"),
            "x/demo.speedscope.json"
        );
        assert_eq!(w("perf.data", ".svg"), "perf.svg");
        assert_eq!(w("trace", ".pb.gz"), "trace.pb.gz");
    }
}
