//! Recording from the window: the Record dialog (processes with their CPU use, a filter, a
//! command to launch) and a live session (the views fill in twice a second while the sampler
//! runs; Pause, Resume, Stop; the capture saved as `.stkl` at the end, also when the target
//! exits by itself).

use super::document::{Document, Loaded};
use crate::format;
use egui::Ui;
use stacklens_core::export::{self, ExportOptions};
use stacklens_core::record::{DEFAULT_FREQUENCY, RecordOptions, Recorder, Stats};
use stacklens_core::{LoadOptions, Progress};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the views are rebuilt from the capture while recording.
const REFRESH_EVERY: Duration = Duration::from_millis(500);
/// How often the process list is read again.
const PROCESSES_EVERY: Duration = Duration::from_secs(1);

/// One row of the process list.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessRow {
    pub pid: i32,
    pub name: String,
    pub user: String,
    /// CPU use since the previous reading, in percent of one core.
    pub cpu: f64,
    pub command: String,
}

/// CPU ticks per process at one moment.
type Ticks = (Instant, Vec<(i32, u64)>);

/// Reads every process of `/proc` with its CPU use since `before`.
fn read_processes(before: Option<&Ticks>) -> (Vec<ProcessRow>, Ticks) {
    let now = Instant::now();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let users = users();
    let mut rows = Vec::new();
    let mut ticks = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (rows, (now, ticks));
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 1..].split_ascii_whitespace().collect();
        // Fields after the name: state is 0; utime 11, stime 12.
        let t = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks.push((pid, t));
        let cpu = before
            .and_then(|(at, list)| {
                let prev = list.iter().find(|(p, _)| *p == pid)?.1;
                let secs = now.duration_since(*at).as_secs_f64();
                (secs > 0.0).then(|| t.saturating_sub(prev) as f64 / hz / secs * 100.0)
            })
            .unwrap_or(0.0);
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))?
                    .split_ascii_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
        let user = uid.map_or_else(String::new, |u| {
            users
                .iter()
                .find(|(id, _)| *id == u)
                .map_or_else(|| u.to_string(), |(_, n)| n.clone())
        });
        let command = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                c.split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        rows.push(ProcessRow {
            pid,
            name,
            user,
            cpu,
            command,
        });
    }
    rows.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then(a.pid.cmp(&b.pid)));
    ticks.sort_unstable();
    (rows, (now, ticks))
}

/// (uid, name) from /etc/passwd.
fn users() -> Vec<(u32, String)> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.to_string();
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name))
        })
        .collect()
}

/// What the dialog asks the window to do.
#[derive(Clone, Debug)]
pub enum Start {
    Attach(i32, RecordOptions),
    Launch(Vec<OsString>, RecordOptions),
}

/// The Record dialog.
pub struct RecordDialog {
    pub open: bool,
    pub filter: String,
    pub command: String,
    pub frequency: u32,
    pub selected: Option<i32>,
    pub rows: Vec<ProcessRow>,
    /// Why the last start failed.
    pub error: Option<String>,
    ticks: Option<Ticks>,
    pending: Option<mpsc::Receiver<(Vec<ProcessRow>, Ticks)>>,
    read_at: Option<Instant>,
}

impl Default for RecordDialog {
    fn default() -> Self {
        RecordDialog {
            open: false,
            filter: String::new(),
            command: String::new(),
            frequency: DEFAULT_FREQUENCY,
            selected: None,
            rows: Vec::new(),
            error: None,
            ticks: None,
            pending: None,
            read_at: None,
        }
    }
}

impl RecordDialog {
    /// Reads the process list on a worker every second while the dialog is open.
    fn refresh(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.pending
            && let Ok((rows, ticks)) = rx.try_recv()
        {
            self.rows = rows;
            self.ticks = Some(ticks);
            self.pending = None;
        }
        let due = self.read_at.is_none_or(|t| t.elapsed() >= PROCESSES_EVERY);
        if due && self.pending.is_none() {
            let (tx, rx) = mpsc::channel();
            let before = self.ticks.clone();
            let ctx = ctx.clone();
            rayon::spawn(move || {
                let _ = tx.send(read_processes(before.as_ref()));
                ctx.request_repaint();
            });
            self.pending = Some(rx);
            self.read_at = Some(Instant::now());
        }
        ctx.request_repaint_after(PROCESSES_EVERY);
    }

    /// The rows the filter keeps (name, command, user or pid contain it).
    pub fn visible(&self) -> Vec<&ProcessRow> {
        let needle = self.filter.trim().to_lowercase();
        self.rows
            .iter()
            .filter(|r| {
                needle.is_empty()
                    || r.name.to_lowercase().contains(&needle)
                    || r.command.to_lowercase().contains(&needle)
                    || r.user.to_lowercase().contains(&needle)
                    || r.pid.to_string().contains(&needle)
            })
            .collect()
    }

    /// Draws the dialog; returns what to start.
    pub fn window(&mut self, ctx: &egui::Context) -> Option<Start> {
        if !self.open {
            return None;
        }
        self.refresh(ctx);
        let mut open = true;
        let mut start = None;
        egui::Window::new("Record")
            .open(&mut open)
            .default_size([640.0, 460.0])
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    let label = ui.label("Frequency:");
                    ui.add(
                        egui::DragValue::new(&mut self.frequency)
                            .range(1..=100_000)
                            .suffix(" Hz"),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("Samples per second of each thread's CPU time");
                });
                ui.separator();
                ui.strong("Launch a command");
                ui.horizontal(|ui| {
                    let label = ui.label("Command:");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.command)
                            .hint_text("program and arguments")
                            .desired_width(380.0),
                    )
                    .labelled_by(label.id);
                    let args: Vec<OsString> = self
                        .command
                        .split_whitespace()
                        .map(OsString::from)
                        .collect();
                    if ui
                        .add_enabled(!args.is_empty(), egui::Button::new("Launch"))
                        .clicked()
                    {
                        start = Some(Start::Launch(args, self.options()));
                    }
                });
                ui.separator();
                ui.strong("Or attach to a running process");
                ui.horizontal(|ui| {
                    let label = ui.label("Filter:");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.filter)
                            .hint_text("name, command, user or pid")
                            .desired_width(220.0),
                    )
                    .labelled_by(label.id);
                    let can = self.selected.is_some();
                    if ui.add_enabled(can, egui::Button::new("Attach")).clicked()
                        && let Some(pid) = self.selected
                    {
                        start = Some(Start::Attach(pid, self.options()));
                    }
                });
                if let Some(e) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                let rows = self.visible();
                let selected = self.selected;
                let (mut clicked, mut attach) = (None, None);
                egui_extras::TableBuilder::new(ui)
                    .id_salt("processes")
                    .striped(true)
                    .sense(egui::Sense::click())
                    .column(egui_extras::Column::auto().at_least(60.0))
                    .column(egui_extras::Column::auto().at_least(60.0))
                    .column(egui_extras::Column::initial(130.0).clip(true))
                    .column(egui_extras::Column::auto().at_least(80.0))
                    .column(egui_extras::Column::remainder().clip(true))
                    .header(20.0, |mut h| {
                        for c in ["PID", "CPU %", "Name", "User", "Command"] {
                            h.col(|ui| {
                                ui.strong(c);
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(20.0, rows.len(), |mut row| {
                            let r = rows[row.index()];
                            row.set_selected(selected == Some(r.pid));
                            row.col(|ui| super::table::cell(ui, r.pid.to_string()));
                            row.col(|ui| super::table::cell(ui, format!("{:.1}", r.cpu)));
                            row.col(|ui| super::table::cell(ui, r.name.as_str()));
                            row.col(|ui| super::table::cell(ui, r.user.as_str()));
                            row.col(|ui| super::table::cell(ui, r.command.as_str()));
                            let resp = row.response();
                            if resp.clicked() {
                                clicked = Some(r.pid);
                            }
                            if resp.double_clicked() {
                                attach = Some(r.pid);
                            }
                        });
                    });
                if clicked.is_some() {
                    self.selected = clicked;
                }
                if let Some(pid) = attach {
                    start = Some(Start::Attach(pid, self.options()));
                }
            });
        if !open {
            self.open = false;
        }
        start
    }

    fn options(&self) -> RecordOptions {
        RecordOptions {
            frequency: self.frequency,
            ..RecordOptions::default()
        }
    }
}

/// Where a live session is.
pub enum Phase {
    Recording,
    /// Stopped: the final capture is being read and saved.
    Saving(mpsc::Receiver<Result<(Loaded, PathBuf), String>>),
    /// Saved (or failed to save) the capture; the tab now shows the final profile.
    Done(Result<PathBuf, String>),
}

/// A recording shown live in a tab.
pub struct Live {
    pub title: String,
    recorder: Option<Recorder>,
    /// The latest capture's document (none before the first samples are read).
    pub doc: Option<Box<Document>>,
    parse: Option<mpsc::Receiver<Result<Loaded, String>>>,
    parsed_at: Option<Instant>,
    pub phase: Phase,
    /// Where Stop saves the capture.
    pub save_path: String,
    pub stats: Stats,
    /// Samples per second over the last refresh.
    pub rate: f64,
    rate_from: (Instant, u64),
    symbol_dirs: Vec<PathBuf>,
}

impl Live {
    pub fn new(
        title: String,
        recorder: Recorder,
        save_path: PathBuf,
        symbol_dirs: &[PathBuf],
    ) -> Self {
        let stats = recorder.stats();
        Live {
            title,
            recorder: Some(recorder),
            doc: None,
            parse: None,
            parsed_at: None,
            phase: Phase::Recording,
            save_path: save_path.display().to_string(),
            stats,
            rate: 0.0,
            rate_from: (Instant::now(), 0),
            symbol_dirs: symbol_dirs.to_vec(),
        }
    }

    pub fn is_recording(&self) -> bool {
        matches!(self.phase, Phase::Recording)
    }

    fn load_options(&self) -> LoadOptions {
        let mut lo = LoadOptions::default();
        lo.symbols.search_dirs = self.symbol_dirs.clone();
        if super::loader::DEBUGINFOD.load(std::sync::atomic::Ordering::Relaxed) {
            lo.symbols = lo.symbols.with_debuginfod_from_env();
        }
        lo
    }

    /// Rebuilds the views from the capture twice a second, takes finished reads, stops and
    /// saves when the target has exited.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(d) = &mut self.doc {
            d.poll();
        }
        if let Some(rx) = &self.parse
            && let Ok(result) = rx.try_recv()
        {
            self.parse = None;
            // A snapshot that arrives after Stop is older than the final capture.
            if let Ok(loaded) = result
                && self.is_recording()
            {
                self.show(loaded, ctx);
            }
        }
        if let Phase::Saving(rx) = &self.phase
            && let Ok(result) = rx.try_recv()
        {
            self.phase = Phase::Done(match result {
                Ok((loaded, path)) => {
                    self.show(loaded, ctx);
                    if let Some(d) = &mut self.doc {
                        d.path = path.clone();
                    }
                    Ok(path)
                }
                Err(e) => Err(e),
            });
        }
        let Some(rec) = &self.recorder else {
            return;
        };
        self.stats = rec.stats();
        let (at, n) = self.rate_from;
        let secs = at.elapsed().as_secs_f64();
        if secs >= 1.0 {
            self.rate = (self.stats.samples.saturating_sub(n)) as f64 / secs;
            self.rate_from = (Instant::now(), self.stats.samples);
        }
        if rec.is_finished() {
            // The target ended: keep and save everything.
            self.stop(ctx);
            return;
        }
        let due = self.parsed_at.is_none_or(|t| t.elapsed() >= REFRESH_EVERY);
        if due && self.parse.is_none() && self.stats.samples > 0 {
            let data = rec.snapshot();
            let lo = self.load_options();
            let (tx, rx) = mpsc::channel();
            let ctx2 = ctx.clone();
            rayon::spawn(move || {
                let r = stacklens_core::load_bytes(&data, &lo, &Progress::new())
                    .map(Loaded::prepare)
                    .map_err(|e| e.to_string());
                let _ = tx.send(r);
                ctx2.request_repaint();
            });
            self.parse = Some(rx);
            self.parsed_at = Some(Instant::now());
        }
        ctx.request_repaint_after(Duration::from_millis(100));
    }

    /// Shows a newly read capture, keeping what the user set up: view, search, transforms,
    /// event, threads, time ranges, the table's order and the flame graph's zoom (by path).
    fn show(&mut self, loaded: Loaded, ctx: &egui::Context) {
        let path = self
            .doc
            .as_ref()
            .map_or_else(|| PathBuf::from(&self.save_path), |d| d.path.clone());
        let mut new = Document::new(path, self.title.clone(), loaded);
        if let Some(old) = self.doc.take() {
            new.keep_settings_of(&old, ctx);
        }
        self.doc = Some(Box::new(new));
    }

    pub fn pause(&self) {
        if let Some(r) = &self.recorder {
            r.pause();
        }
    }

    pub fn resume(&self) {
        if let Some(r) = &self.recorder {
            r.resume();
        }
    }

    /// Stops sampling; the capture is read and saved to `save_path` on a worker.
    pub fn stop(&mut self, ctx: &egui::Context) {
        let Some(rec) = self.recorder.take() else {
            return;
        };
        let capture = rec.stop();
        self.stats = capture.stats.clone();
        self.parse = None;
        let lo = self.load_options();
        let path = PathBuf::from(self.save_path.trim());
        let title = self.title.clone();
        let (tx, rx) = mpsc::channel();
        let ctx2 = ctx.clone();
        rayon::spawn(move || {
            let r = (|| -> Result<(Loaded, PathBuf), String> {
                let p = stacklens_core::load_bytes(&capture.data, &lo, &Progress::new())
                    .map_err(|e| format!("cannot read the capture: {e}"))?;
                let opts = ExportOptions {
                    sample_type: p.default_sample_type(),
                    title,
                };
                export::write_file(&p, &path, &opts)
                    .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
                Ok((Loaded::prepare(p), path))
            })();
            let _ = tx.send(r);
            ctx2.request_repaint();
        });
        self.phase = Phase::Saving(rx);
    }

    /// Is anything being read or saved.
    pub fn is_busy(&self) -> bool {
        self.parse.is_some()
            || matches!(self.phase, Phase::Saving(_))
            || self.doc.as_ref().is_some_and(|d| d.is_computing())
    }
}

/// The bar above a live session's views; returns true when the tab should become an ordinary
/// profile (saved).
pub fn bar(ui: &mut Ui, live: &mut Live) {
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        let s = &live.stats;
        match &live.phase {
            Phase::Recording => {
                let (dot, state) = if s.paused {
                    (egui::Color32::from_rgb(230, 160, 40), "Paused")
                } else {
                    (egui::Color32::from_rgb(220, 40, 40), "Recording")
                };
                let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().circle_filled(r.center(), 5.0, dot);
                ui.strong(format!("{state} {}", live.title));
            }
            Phase::Saving(_) => {
                ui.spinner();
                ui.strong(format!("Saving {}…", live.title));
            }
            Phase::Done(Ok(path)) => {
                ui.strong(format!("Saved {}", path.display()));
            }
            Phase::Done(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
        ui.separator();
        ui.label(format!("{:.1} s", s.elapsed.as_secs_f64()));
        ui.label(format!("{} samples", format::grouped(s.samples as i64)));
        if live.is_recording() {
            ui.label(format!("{:.0} samples/s", live.rate));
        }
        let lost = format!("{} lost", format::grouped(s.lost as i64));
        if s.lost > 0 {
            ui.colored_label(ui.visuals().warn_fg_color, lost);
        } else {
            ui.label(lost);
        }
        if live.is_recording() && s.threads > 0 {
            ui.label(format!("{} threads", s.threads));
        }
        if s.target_exited {
            ui.weak("the process ended");
        }
        if let Some(n) = &s.kernel_note {
            ui.weak("user frames only").on_hover_text(n);
        }
        if let Some(e) = &s.error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        if live.is_recording() {
            ui.separator();
            if s.paused {
                if ui.button("Resume").clicked() {
                    live.resume();
                }
            } else if ui.button("Pause").clicked() {
                live.pause();
            }
            let label = ui.label("Save to:");
            ui.add(egui::TextEdit::singleline(&mut live.save_path).desired_width(260.0))
                .labelled_by(label.id);
            if ui
                .button("Stop")
                .on_hover_text("Stop sampling and save the capture (.stkl)")
                .clicked()
            {
                live.stop(&ctx);
            }
        }
    });
}

/// Where a new capture is saved by default: the current folder, named after the target.
pub fn default_save_path(name: &str) -> PathBuf {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let dir = std::env::current_dir().unwrap_or_else(|_| std::env::temp_dir());
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    dir.join(format!("stacklens-{clean}-{secs}.stkl"))
}
