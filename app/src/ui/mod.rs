//! The window: tabs of open profiles, each with a side panel, a flame graph and the top
//! functions table, all derived from one shared selection.
//!
//! [`App`] is a plain struct with `fn ui(&mut self, ui)`, hosted by eframe in [`run`] and by
//! egui_kittest in the tests. Loading, symbolizing and aggregating run on worker threads; a
//! frame only polls their channels and paints what is visible.

pub mod compare;
pub mod demo;
mod derived;
pub mod document;
mod export;
pub mod flame;
mod frame_cost;
pub mod heatmap;
pub mod loader;
pub mod record;
mod side;
pub mod source;
pub mod sunburst;
pub mod table;
pub mod timeline;
pub mod tree;

use crate::format;
use document::Document;
use document::{Action, View};
use egui::{Key, KeyboardShortcut, Modifiers, Ui};
use flame::{ColorBy, FlameInput, Graph, Step};
use loader::{LoadJob, LoadRequest};
use serde::{Deserialize, Serialize};
use stacklens_core::analysis::Transform;
use stacklens_core::progress::Phase;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// Most recent files kept.
const MAX_RECENT: usize = 12;

/// Light, dark, or whatever the system uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// What is remembered between runs (eframe storage).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    pub theme: Theme,
    pub color_by: ColorBy,
    /// Icicle (root at the top) instead of flame (root at the bottom).
    pub icicle: bool,
    /// Show the frame cost window and record puffin scopes.
    pub profile_ui: bool,
    /// The demo opened itself once; after that, no file means the start page.
    pub demo_shown: bool,
    /// Ask the debuginfod servers of DEBUGINFOD_URLS for symbols not found locally.
    pub debuginfod: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            theme: Theme::System,
            color_by: ColorBy::Module,
            icicle: false,
            profile_ui: false,
            demo_shown: false,
            debuginfod: false,
        }
    }
}

impl Settings {
    fn remember(&mut self, path: PathBuf) {
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        self.recent.retain(|p| *p != path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }
}

/// How the window was started.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub files: Vec<PathBuf>,
    pub symbol_dirs: Vec<PathBuf>,
    pub demo: bool,
    pub profile_ui: bool,
    /// Save a PNG of the window once everything has loaded, then close.
    pub screenshot: Option<PathBuf>,
    /// The view documents open in.
    pub view: Option<View>,
    /// Folders searched for source files.
    pub source_roots: Vec<PathBuf>,
    /// Open a comparison of two files (before, after) with this setup.
    pub compare: Option<(PathBuf, PathBuf, compare::Setup)>,
    /// Start recording at once (`stacklens record --gui`), saving to this path on Stop.
    pub record: Option<(record::Start, PathBuf)>,
    /// Ask debuginfod servers (DEBUGINFOD_URLS) for symbols not found locally.
    pub debuginfod: bool,
}

/// The baseline of a comparison started from a tab.
#[derive(Clone, Debug)]
pub enum CompareWith {
    /// Another open tab's profile.
    Tab(usize),
    File(PathBuf),
}

/// One tab.
pub enum Tab {
    Loading(LoadJob),
    Failed {
        request: LoadRequest,
        error: String,
    },
    Ready(Box<Document>),
    /// A before/after comparison.
    Compare(Box<compare::Comparison>),
    /// A recording, shown live.
    Live(Box<record::Live>),
}

impl Tab {
    pub fn title(&self) -> String {
        match self {
            Tab::Loading(j) => j.request.title.clone(),
            Tab::Failed { request, .. } => request.title.clone(),
            Tab::Ready(d) => d.title.clone(),
            Tab::Compare(c) => c.title(),
            Tab::Live(l) => l.title.clone(),
        }
    }
}

/// Saving a screenshot after start-up (for the README and for looking at the window).
struct Screenshot {
    path: PathBuf,
    /// Frames drawn since everything finished loading.
    settled_frames: u32,
    requested: bool,
    done: Arc<AtomicBool>,
}

pub struct App {
    pub tabs: Vec<Tab>,
    pub active: usize,
    pub settings: Settings,
    symbol_dirs: Vec<PathBuf>,
    /// Paths picked in the native dialog, which runs on its own thread.
    dialog: Option<mpsc::Receiver<Vec<PathBuf>>>,
    /// The start page's path field (the dialog is unavailable without a desktop portal).
    pub path_field: String,
    /// A message for the start page (e.g. the dialog could not open).
    pub notice: Option<String>,
    /// Whether each recent file exists, checked when the start page first shows them (not
    /// every frame).
    recent_exists: Option<Vec<bool>>,
    /// Paths picked in the dialog, opened at the start of the next frame.
    pending_opens: Vec<PathBuf>,
    focus_search: bool,
    applied_theme: Option<Theme>,
    frame_cost: frame_cost::FrameCost,
    screenshot: Option<Screenshot>,
    export: export::ExportDialog,
    /// The "Compare with…" window: the tab compared (as after), and its path field.
    compare_dialog: Option<(usize, String)>,
    /// The Record window.
    pub record_dialog: record::RecordDialog,
    initial_view: Option<View>,
    source_roots: Vec<PathBuf>,
}

impl App {
    /// A window with `settings`, starting the loads that `opts` asks for.
    pub fn new(mut settings: Settings, opts: Options, ctx: &egui::Context) -> Self {
        settings.debuginfod |= opts.debuginfod;
        loader::DEBUGINFOD.store(settings.debuginfod, std::sync::atomic::Ordering::Relaxed);
        let mut app = App {
            tabs: Vec::new(),
            active: 0,
            settings,
            symbol_dirs: opts.symbol_dirs.clone(),
            dialog: None,
            path_field: String::new(),
            notice: None,
            pending_opens: Vec::new(),
            recent_exists: None,
            focus_search: false,
            applied_theme: None,
            frame_cost: Default::default(),
            export: Default::default(),
            compare_dialog: None,
            record_dialog: Default::default(),
            initial_view: opts.view,
            source_roots: opts.source_roots.clone(),
            screenshot: opts.screenshot.map(|path| Screenshot {
                path,
                settled_frames: 0,
                requested: false,
                done: Arc::new(AtomicBool::new(false)),
            }),
        };
        if opts.profile_ui {
            app.settings.profile_ui = true;
        }
        app.frame_cost.set_enabled(app.settings.profile_ui);
        let opened_files = !opts.files.is_empty();
        for f in opts.files {
            app.open_path(f, ctx);
        }
        if opened_files {
            // `stacklens a b`: show a first.
            app.active = 0;
        }
        let compared = opts.compare.is_some() || opts.record.is_some();
        if let Some((start, save)) = opts.record {
            app.start_recording(start, Some(save), ctx);
        }
        if let Some((before, after, setup)) = opts.compare {
            app.open_comparison(before, after, setup, ctx);
        }
        // A new user (nothing opened yet) sees the demo at once.
        if opts.demo || (app.tabs.is_empty() && !app.settings.demo_shown && !compared) {
            app.open_demo(ctx);
        }
        app
    }

    /// Adds an already loaded profile as a new tab and shows it (benchmarks, embedding).
    pub fn add_document(&mut self, doc: Document) {
        self.tabs.push(Tab::Ready(Box::new(doc)));
        self.active = self.tabs.len() - 1;
    }

    /// Opens a comparison of two files in a new tab.
    pub fn open_comparison(
        &mut self,
        before: PathBuf,
        after: PathBuf,
        setup: compare::Setup,
        ctx: &egui::Context,
    ) {
        let before = LoadRequest::file(before, &self.symbol_dirs);
        let after = LoadRequest::file(after, &self.symbol_dirs);
        let cmp = compare::Comparison::open(before, after, setup, ctx);
        self.tabs.push(Tab::Compare(Box::new(cmp)));
        self.active = self.tabs.len() - 1;
    }

    /// Compares the profile of tab `after` with `before`: another tab's profile, or a file.
    pub fn compare_with(&mut self, after: usize, before: CompareWith, ctx: &egui::Context) {
        let Some(Tab::Ready(a)) = self.tabs.get(after) else {
            return;
        };
        let shared = |d: &Document| {
            let req = LoadRequest {
                path: d.path.clone(),
                title: d.title.clone(),
                symbol_dirs: Vec::new(),
                remember: false,
            };
            compare::Side::Loading(LoadJob::shared(req, d.base.clone(), ctx))
        };
        let after_side = shared(a);
        let setup = compare::Setup {
            transforms: a.transforms.clone(),
            ..Default::default()
        };
        let before_side = match before {
            CompareWith::Tab(i) => match self.tabs.get(i) {
                Some(Tab::Ready(b)) => shared(b),
                _ => return,
            },
            CompareWith::File(path) => compare::Side::Loading(LoadJob::start(
                LoadRequest::file(path, &self.symbol_dirs),
                ctx,
            )),
        };
        let cmp = compare::Comparison::new(before_side, after_side, setup);
        self.tabs.push(Tab::Compare(Box::new(cmp)));
        self.active = self.tabs.len() - 1;
    }

    /// Starts a recording in a new live tab; a failure is shown in the Record window.
    pub fn start_recording(
        &mut self,
        start: record::Start,
        save: Option<PathBuf>,
        ctx: &egui::Context,
    ) {
        let (result, title) = match start {
            record::Start::Attach(pid, opts) => {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| pid.to_string());
                (
                    stacklens_core::record::Recorder::attach(pid, &opts),
                    format!("{name} ({pid})"),
                )
            }
            record::Start::Launch(cmd, opts) => {
                let name = cmd
                    .first()
                    .and_then(|c| std::path::Path::new(c).file_name())
                    .map_or_else(|| "command".into(), |n| n.to_string_lossy().into_owned());
                (stacklens_core::record::Recorder::launch(&cmd, &opts), name)
            }
        };
        match result {
            Ok(rec) => {
                let save = save.unwrap_or_else(|| {
                    record::default_save_path(title.split(' ').next().unwrap_or("capture"))
                });
                let live = record::Live::new(title, rec, save, &self.symbol_dirs);
                self.tabs.push(Tab::Live(Box::new(live)));
                self.active = self.tabs.len() - 1;
                self.record_dialog.open = false;
                self.record_dialog.error = None;
                ctx.request_repaint();
            }
            Err(e) => {
                self.record_dialog.open = true;
                self.record_dialog.error = Some(e.to_string());
            }
        }
    }

    /// The live session in the active tab.
    pub fn live(&self) -> Option<&record::Live> {
        match self.tabs.get(self.active)? {
            Tab::Live(l) => Some(l),
            _ => None,
        }
    }

    pub fn live_mut(&mut self) -> Option<&mut record::Live> {
        match self.tabs.get_mut(self.active)? {
            Tab::Live(l) => Some(l),
            _ => None,
        }
    }

    /// The comparison in the active tab.
    pub fn comparison(&self) -> Option<&compare::Comparison> {
        match self.tabs.get(self.active)? {
            Tab::Compare(c) => Some(c),
            _ => None,
        }
    }

    pub fn comparison_mut(&mut self) -> Option<&mut compare::Comparison> {
        match self.tabs.get_mut(self.active)? {
            Tab::Compare(c) => Some(c),
            _ => None,
        }
    }

    /// Adds a comparison as a new tab and shows it (benchmarks, embedding).
    pub fn add_comparison(&mut self, cmp: compare::Comparison) {
        self.tabs.push(Tab::Compare(Box::new(cmp)));
        self.active = self.tabs.len() - 1;
    }

    /// Starts loading `path` in a new tab.
    pub fn open_path(&mut self, path: PathBuf, ctx: &egui::Context) {
        let req = LoadRequest::file(path, &self.symbol_dirs);
        self.open(req, ctx);
    }

    /// Starts a load in a new tab and shows it.
    pub fn open(&mut self, req: LoadRequest, ctx: &egui::Context) {
        self.tabs.push(Tab::Loading(LoadJob::start(req, ctx)));
        // The start page re-checks the recent files when it shows again.
        self.recent_exists = None;
        self.active = self.tabs.len() - 1;
    }

    pub fn open_demo(&mut self, ctx: &egui::Context) {
        self.settings.demo_shown = true;
        match demo::request() {
            Ok(req) => self.open(req, ctx),
            Err(e) => self.notice = Some(format!("Could not unpack the demo profile: {e}")),
        }
    }

    /// The file dialog, on its own thread so the window keeps painting.
    pub fn open_dialog(&mut self, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("stacklens-dialog".into())
            .spawn(move || {
                let picked = rfd::FileDialog::new()
                    .set_title("Open profile")
                    .pick_files()
                    .unwrap_or_default();
                let _ = tx.send(picked);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some(rx),
            Err(e) => self.notice = Some(format!("Could not open the file dialog: {e}")),
        }
    }

    pub fn close_tab(&mut self, i: usize) {
        if i >= self.tabs.len() {
            return;
        }
        match &self.tabs[i] {
            Tab::Loading(job) => job.cancel(),
            Tab::Compare(c) => c.cancel(),
            _ => {}
        }
        self.tabs.remove(i);
        // The "Compare with…" window belongs to a tab.
        self.compare_dialog = None;
        if self.active >= self.tabs.len() {
            self.active = self.tabs.len().saturating_sub(1);
        } else if self.active > i {
            self.active -= 1;
        }
    }

    /// The export dialog's path field.
    pub fn export_path(&self) -> &str {
        &self.export.path
    }

    /// Sets the export dialog's path field.
    pub fn set_export_path(&mut self, path: &str) {
        self.export.path = path.to_string();
    }

    /// The profile in the active tab, when it has loaded.
    pub fn document(&self) -> Option<&Document> {
        match self.tabs.get(self.active)? {
            Tab::Ready(d) => Some(d),
            Tab::Live(l) => l.doc.as_deref(),
            _ => None,
        }
    }

    pub fn document_mut(&mut self) -> Option<&mut Document> {
        match self.tabs.get_mut(self.active)? {
            Tab::Ready(d) => Some(d),
            Tab::Live(l) => l.doc.as_deref_mut(),
            _ => None,
        }
    }

    /// Is anything still loading or computing.
    pub fn is_busy(&self) -> bool {
        self.export.is_busy()
            || self.tabs.iter().any(|t| match t {
                Tab::Loading(_) => true,
                Tab::Ready(d) => d.is_computing(),
                Tab::Compare(c) => c.is_busy(),
                Tab::Live(l) => l.is_busy(),
                Tab::Failed { .. } => false,
            })
    }

    /// Takes finished loads and dialog results.
    fn poll(&mut self, ctx: &egui::Context) {
        let mut i = 0;
        while i < self.tabs.len() {
            let Tab::Loading(job) = &self.tabs[i] else {
                i += 1;
                continue;
            };
            let Some(result) = job.poll() else {
                i += 1;
                continue;
            };
            if job.progress.is_cancelled() {
                // A cancelled load leaves no tab behind.
                self.close_tab(i);
                continue;
            }
            let request = job.request.clone();
            self.tabs[i] = match result {
                Ok(loaded) => {
                    if request.remember {
                        self.settings.remember(request.path.clone());
                        self.recent_exists = None;
                    }
                    let mut doc = Document::new(request.path, request.title, loaded);
                    if let Some(v) = self.initial_view {
                        doc.view = v;
                    }
                    doc.add_source_roots(&self.source_roots);
                    doc.add_binary_dirs(&self.symbol_dirs);
                    Tab::Ready(Box::new(doc))
                }
                Err(error) => Tab::Failed { request, error },
            };
            i += 1;
        }
        for t in &mut self.tabs {
            match t {
                Tab::Ready(d) => d.poll(),
                Tab::Compare(c) => c.poll(ctx),
                Tab::Live(l) => l.poll(ctx),
                _ => {}
            }
        }
        if let Some(rx) = &self.dialog {
            match rx.try_recv() {
                Ok(paths) => {
                    self.dialog = None;
                    if paths.is_empty() {
                        self.notice = Some(
                            "No file picked (without a desktop file portal the dialog cannot \
                             open: type a path below or drop a file on the window)."
                                .into(),
                        );
                    }
                    self.pending_opens.extend(paths);
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => self.dialog = None,
            }
        }
    }

    /// Draws the whole window.
    pub fn ui(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        self.frame_cost.new_frame();
        puffin::profile_function!();
        let ctx = ui.ctx().clone();
        if self.applied_theme != Some(self.settings.theme) {
            ctx.set_theme(match self.settings.theme {
                Theme::System => egui::ThemePreference::System,
                Theme::Light => egui::ThemePreference::Light,
                Theme::Dark => egui::ThemePreference::Dark,
            });
            self.applied_theme = Some(self.settings.theme);
        }
        self.poll(&ctx);
        for p in std::mem::take(&mut self.pending_opens) {
            self.open_path(p, &ctx);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for p in dropped {
            self.open_path(p, &ctx);
        }
        self.shortcuts(&ctx);

        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        if !self.tabs.is_empty() {
            egui::Panel::top("tabs").show(ui, |ui| self.tab_bar(ui));
        }
        match self.tabs.get_mut(self.active) {
            None => {
                egui::CentralPanel::default().show(ui, |ui| self.start_page(ui));
            }
            Some(Tab::Loading(job)) => {
                let job: &LoadJob = job;
                let mut cancel = false;
                egui::CentralPanel::default().show(ui, |ui| cancel = loading_panel(ui, job));
                if cancel {
                    job.cancel();
                }
            }
            Some(Tab::Failed { request, error }) => {
                let (request, error) = (request.clone(), error.clone());
                let mut action = None;
                egui::CentralPanel::default()
                    .show(ui, |ui| action = error_panel(ui, &request, &error));
                match action {
                    Some(ErrorAction::Retry) => {
                        self.tabs[self.active] = Tab::Loading(LoadJob::start(request, &ctx));
                    }
                    Some(ErrorAction::Close) => self.close_tab(self.active),
                    None => {}
                }
            }
            Some(Tab::Ready(_)) => self.document_ui(ui),
            Some(Tab::Compare(c)) => {
                let focus = std::mem::take(&mut self.focus_search);
                compare::show(ui, c, self.settings.icicle, self.settings.color_by, focus);
            }
            Some(Tab::Live(l)) => {
                egui::Panel::top("live").show(ui, |ui| record::bar(ui, l));
                if l.doc.is_some() {
                    self.document_ui(ui);
                } else {
                    egui::CentralPanel::default().show(ui, |ui| {
                        ui.vertical_centered(|ui| {
                            ui.add_space(60.0);
                            ui.spinner();
                            ui.label("Waiting for the first samples…");
                        });
                    });
                }
            }
        }
        self.compare_window(&ctx);
        if let Some(start) = self.record_dialog.window(&ctx) {
            self.start_recording(start, None, &ctx);
        }

        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("stacklens-drop"),
            ));
            let rect = ctx.content_rect();
            painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Drop to open",
                egui::FontId::proportional(28.0),
                egui::Color32::WHITE,
            );
        }

        let doc = match self.tabs.get(self.active) {
            Some(Tab::Ready(d)) => Some(&**d),
            _ => None,
        };
        self.export.window(&ctx, doc);

        let mut open = self.settings.profile_ui;
        if open {
            self.frame_cost.window(&ctx, &mut open);
            if !open {
                self.set_profile_ui(false);
            }
        }
        self.screenshot_step(&ctx);
        if self.is_busy() {
            // Progress bars move even when nothing else happens.
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        self.frame_cost
            .record(started.elapsed().as_secs_f32() * 1000.0);
    }

    /// The "Compare with…" window: pick the baseline among the other open profiles, or type
    /// a path.
    fn compare_window(&mut self, ctx: &egui::Context) {
        let Some((after, mut path)) = self.compare_dialog.take() else {
            return;
        };
        let Some(Tab::Ready(doc)) = self.tabs.get(after) else {
            return;
        };
        let title = doc.title.clone();
        let others: Vec<(usize, String)> = self
            .tabs
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != after && matches!(t, Tab::Ready(_)))
            .map(|(i, t)| (i, t.title()))
            .collect();
        let mut open = true;
        let mut picked = None;
        egui::Window::new("Compare with…")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(format!("After (this profile): {title}"));
                ui.label("Pick the baseline (before):");
                if others.is_empty() {
                    ui.weak("No other profile is open.");
                }
                for (i, t) in &others {
                    if ui.button(format!("Before: {t}")).clicked() {
                        picked = Some(CompareWith::Tab(*i));
                    }
                }
                ui.separator();
                ui.horizontal(|ui| {
                    let label = ui.label("Or a file:");
                    ui.add(egui::TextEdit::singleline(&mut path).desired_width(280.0))
                        .labelled_by(label.id);
                    if ui
                        .add_enabled(!path.trim().is_empty(), egui::Button::new("Compare"))
                        .clicked()
                    {
                        picked = Some(CompareWith::File(PathBuf::from(path.trim())));
                    }
                });
            });
        match picked {
            Some(with) => self.compare_with(after, with, ctx),
            None if open => self.compare_dialog = Some((after, path)),
            None => {}
        }
    }

    fn set_profile_ui(&mut self, on: bool) {
        self.settings.profile_ui = on;
        self.frame_cost.set_enabled(on);
    }

    /// Keyboard shortcuts of the whole window.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        let close = KeyboardShortcut::new(Modifiers::COMMAND, Key::W);
        let find = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
        let save = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
        let undo = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
        if ctx.input_mut(|i| i.consume_shortcut(&open)) {
            self.open_dialog(ctx);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&save))
            && let Some(Tab::Ready(doc)) = self.tabs.get(self.active)
        {
            self.export.show_for(doc);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&close)) {
            self.close_tab(self.active);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&find)) {
            self.focus_search = true;
        }
        let typing = ctx.egui_wants_keyboard_input();
        if typing {
            return;
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Slash)) {
            self.focus_search = true;
        }
        if let Some(cmp) = self.comparison_mut() {
            if ctx.input_mut(|i| i.consume_shortcut(&undo)) {
                cmp.undo_transform(ctx);
            }
            if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
                cmp.reset_zoom();
            }
            return;
        }
        if ctx.input_mut(|i| i.consume_shortcut(&undo))
            && let Some(doc) = self.document_mut()
        {
            doc.undo_transform(ctx);
        }
        let icicle = self.settings.icicle;
        let Some(doc) = self.document_mut() else {
            return;
        };
        if doc.view != View::Flame {
            // The other views read their own keys.
            return;
        }
        let (toward_leaves, toward_root) = if icicle {
            (Key::ArrowDown, Key::ArrowUp)
        } else {
            (Key::ArrowUp, Key::ArrowDown)
        };
        let steps = [
            (toward_leaves, Step::Leaves),
            (toward_root, Step::Root),
            (Key::ArrowLeft, Step::Prev),
            (Key::ArrowRight, Step::Next),
        ];
        for (key, step) in steps {
            if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key)) {
                doc.flame
                    .move_selection(&Graph::main(&doc.nodes, &doc.analysis), step);
            }
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter))
            && let Some(s) = doc.flame.selected
        {
            doc.flame
                .zoom_to(&Graph::main(&doc.nodes, &doc.analysis), s);
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            doc.flame.reset();
            doc.highlight = None;
        }
    }

    fn menu_bar(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open… (Ctrl+O)").clicked() {
                    self.open_dialog(&ctx);
                }
                if ui.button("Open demo profile").clicked() {
                    self.open_demo(&ctx);
                }
                if ui
                    .button("Record…")
                    .on_hover_text("Sample a running process or a command, live")
                    .clicked()
                {
                    self.record_dialog.open = true;
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.weak("No recent files");
                    }
                    let mut picked = None;
                    for p in &self.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            picked = Some(p.clone());
                        }
                    }
                    if let Some(p) = picked {
                        self.open_path(p, &ctx);
                    }
                });
                ui.separator();
                if ui
                    .add_enabled(
                        self.document().is_some(),
                        egui::Button::new("Save as / Export… (Ctrl+S)"),
                    )
                    .clicked()
                    && let Some(Tab::Ready(doc)) = self.tabs.get(self.active)
                {
                    self.export.show_for(doc);
                }
                if ui
                    .add_enabled(
                        self.document().is_some(),
                        egui::Button::new("Compare with…"),
                    )
                    .on_hover_text(
                        "Compare this profile (after) with another open profile or a file \
                         (before)",
                    )
                    .clicked()
                {
                    self.compare_dialog = Some((self.active, String::new()));
                }
                ui.separator();
                if ui
                    .add_enabled(
                        !self.tabs.is_empty(),
                        egui::Button::new("Close tab (Ctrl+W)"),
                    )
                    .clicked()
                {
                    self.close_tab(self.active);
                }
                if ui.button("Quit").clicked() {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                ui.radio_value(
                    &mut self.settings.icicle,
                    false,
                    "Flame graph (root at bottom)",
                );
                ui.radio_value(&mut self.settings.icicle, true, "Icicle (root at top)");
                ui.separator();
                ui.radio_value(
                    &mut self.settings.color_by,
                    ColorBy::Module,
                    "Colour by module",
                );
                ui.radio_value(&mut self.settings.color_by, ColorBy::Name, "Colour by name");
                ui.radio_value(
                    &mut self.settings.color_by,
                    ColorBy::Ratio,
                    "Colour by ratio",
                )
                .on_hover_text(
                    "By the ratio of two events picked in the side panel (IPC, miss rates, ...)",
                );
                ui.separator();
                ui.radio_value(&mut self.settings.theme, Theme::System, "Theme: system");
                ui.radio_value(&mut self.settings.theme, Theme::Light, "Theme: light");
                ui.radio_value(&mut self.settings.theme, Theme::Dark, "Theme: dark");
                ui.separator();
                let urls = stacklens_core::symbols::SymbolOptions::debuginfod_urls_from_env();
                let tip = if urls.is_empty() {
                    "DEBUGINFOD_URLS is not set: no servers to ask".to_string()
                } else {
                    format!(
                        "Profiles opened from now on ask {} for binaries and debug files not found locally (http:// or https://; cached in ~/.cache/stacklens/debuginfod)",
                        urls.join(", ")
                    )
                };
                ui.checkbox(&mut self.settings.debuginfod, "Fetch symbols with debuginfod")
                    .on_hover_text(tip);
                loader::DEBUGINFOD.store(
                    self.settings.debuginfod,
                    std::sync::atomic::Ordering::Relaxed,
                );
                ui.separator();
                let mut on = self.settings.profile_ui;
                if ui.checkbox(&mut on, "Frame cost (puffin)").changed() {
                    self.set_profile_ui(on);
                }
            });
        });
    }

    fn tab_bar(&mut self, ui: &mut Ui) {
        let mut close = None;
        ui.horizontal_wrapped(|ui| {
            for (i, t) in self.tabs.iter().enumerate() {
                let marker = match t {
                    Tab::Loading(_) => "loading: ",
                    Tab::Failed { .. } => "failed: ",
                    Tab::Ready(_) => "",
                    Tab::Compare(_) => "compare: ",
                    Tab::Live(l) if l.is_recording() => "recording: ",
                    Tab::Live(_) => "",
                };
                let title = format!("{marker}{}", t.title());
                if ui.selectable_label(i == self.active, title).clicked() {
                    self.active = i;
                }
                if ui
                    .small_button("×")
                    .on_hover_text(format!("Close {}", t.title()))
                    .clicked()
                {
                    close = Some(i);
                }
                ui.separator();
            }
        });
        if let Some(i) = close {
            self.close_tab(i);
        }
    }

    fn start_page(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.vertical_centered(|ui| {
            ui.add_space(40.0);
            ui.heading(egui::RichText::new("stacklens").size(32.0));
            ui.label("Open a profile and see where the time went.");
            ui.add_space(16.0);
            ui.horizontal(|ui| {
                ui.add_space((ui.available_width() - 400.0).max(0.0) / 2.0);
                if ui.button("Open…").clicked() {
                    self.open_dialog(&ctx);
                }
                if ui.button("Open demo profile").clicked() {
                    self.open_demo(&ctx);
                }
                if ui
                    .button("Record…")
                    .on_hover_text("Sample a running process or a command, live")
                    .clicked()
                {
                    self.record_dialog.open = true;
                }
            });
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                ui.add_space((ui.available_width() - 520.0).max(0.0) / 2.0);
                let label = ui.label("Path:");
                let resp = ui
                    .add(
                        egui::TextEdit::singleline(&mut self.path_field)
                            .hint_text("/path/to/perf.data")
                            .desired_width(380.0),
                    )
                    .labelled_by(label.id);
                let enter = resp.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if (ui.button("Open path").clicked() || enter) && !self.path_field.trim().is_empty()
                {
                    let p = PathBuf::from(self.path_field.trim());
                    self.path_field.clear();
                    self.open_path(p, &ctx);
                }
            });
            ui.add_space(6.0);
            ui.weak("…or drop a profile file anywhere on this window. Formats: perf.data (file, pipe, zstd), folded stacks.");
            if let Some(n) = &self.notice {
                ui.add_space(6.0);
                ui.colored_label(ui.visuals().warn_fg_color, n);
            }
            ui.add_space(20.0);
            ui.heading("Recent files");
            if self.settings.recent.is_empty() {
                ui.weak("Nothing yet.");
            }
            let exists_of = self
                .recent_exists
                .get_or_insert_with(|| self.settings.recent.iter().map(|p| p.exists()).collect());
            let mut picked = None;
            for (p, &exists) in self.settings.recent.iter().zip(exists_of.iter()) {
                let text = p.display().to_string();
                let resp = ui.add_enabled(exists, egui::Button::new(text).frame(false));
                if resp.clicked() {
                    picked = Some(p.clone());
                }
                if !exists {
                    resp.on_disabled_hover_text("The file no longer exists");
                }
            }
            if let Some(p) = picked {
                self.open_path(p, &ctx);
            }
        });
    }

    /// Side panel, top functions and flame graph of the active document.
    fn document_ui(&mut self, ui: &mut Ui) {
        let icicle = self.settings.icicle;
        let color_by = self.settings.color_by;
        let focus_search = std::mem::take(&mut self.focus_search);
        let Some(doc) = self.document_mut() else {
            return;
        };
        egui::Panel::left("side")
            .resizable(true)
            .default_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| side::show(ui, doc));
            });
        let ctx = ui.ctx().clone();
        let generation = doc.generation();
        let avail = ui.available_height();
        let timeline_height = if doc.bounds.is_some() {
            (avail * 0.2).clamp(100.0, 240.0)
        } else {
            40.0
        };
        egui::Panel::top("timeline")
            .resizable(true)
            .default_size(timeline_height)
            .show(ui, |ui| {
                ui.add_space(2.0);
                timeline::show(ui, doc);
            });
        let table_action = egui::Panel::bottom("top-functions")
            .resizable(true)
            .default_size((avail * 0.26).max(120.0))
            .show(ui, |ui| {
                ui.add_space(4.0);
                ui.strong("Top functions");
                table::show(
                    ui,
                    &mut doc.table,
                    &doc.profile,
                    &doc.analysis,
                    generation,
                    doc.highlight,
                )
            })
            .inner;
        if let Some(a) = table_action {
            doc.act(a, &ctx);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for v in View::ALL {
                    ui.selectable_value(&mut doc.view, v, v.title());
                }
            });
            ui.horizontal(|ui| {
                let label = ui.label("Search:");
                let id = egui::Id::unique("stacklens-flame-search");
                let resp = ui
                    .add(
                        egui::TextEdit::singleline(&mut doc.search.text)
                            .id(id)
                            .hint_text("regex ( / )")
                            .desired_width(200.0),
                    )
                    .labelled_by(label.id);
                if focus_search {
                    resp.request_focus();
                }
                match &doc.search.regex {
                    Some(Ok(_)) => {
                        ui.label(format!(
                            "matched {} of the total",
                            flame::percent(doc.search.matched, doc.analysis.tree.total)
                        ));
                    }
                    Some(Err(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, "invalid regex")
                            .on_hover_text(e);
                    }
                    None => {}
                }
                if doc.is_computing() {
                    ui.spinner();
                }
            });
            transform_chips(ui, doc);
            let action = match doc.view {
                View::Flame => {
                    let graph = Graph::main(&doc.nodes, &doc.analysis);
                    flame::breadcrumbs(ui, &mut doc.flame, &doc.profile, &graph);
                    let ratio = doc
                        .analysis
                        .ratio
                        .as_ref()
                        .filter(|_| color_by == ColorBy::Ratio);
                    if let Some(r) = ratio {
                        flame::ratio_legend(ui, &doc.profile, r);
                    }
                    let input = FlameInput {
                        profile: &doc.profile,
                        graph,
                        sample_type: doc.analysis.selection.sample_type,
                        search: &doc.search,
                        highlight: doc.highlight,
                        hovered_func: doc.hovered_func,
                        color_by,
                        icicle,
                        diff: None,
                        linked: None,
                        comparison: false,
                        ratio,
                    };
                    let action = flame::canvas(ui, &mut doc.flame, &input);
                    doc.hovered_func = doc.flame.hovered.map(|h| doc.nodes.func[h.index()]);
                    action
                }
                View::Inverted => inverted_view(ui, doc, color_by),
                View::Tree => tree_view(ui, doc),
                View::Sandwich => sandwich_view(ui, doc, color_by),
                View::Sunburst => {
                    sunburst::show(ui, doc, color_by);
                    None
                }
                View::HeatMap => {
                    heatmap::show(ui, doc);
                    None
                }
                View::Source => {
                    source::show(ui, doc);
                    None
                }
            };
            if let Some(a) = action {
                doc.act(a, &ctx);
            }
        });
    }

    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let busy = self.is_busy();
        let Some(shot) = &mut self.screenshot else {
            return;
        };
        if shot.done.load(Ordering::Relaxed) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
        if busy || shot.requested {
            return;
        }
        shot.settled_frames += 1;
        if shot.settled_frames < 5 {
            return;
        }
        shot.requested = true;
        let (path, done) = (shot.path.clone(), shot.done.clone());
        ctx.request_screenshot(move |image| {
            let [w, h] = image.size;
            let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
            match image::save_buffer(&path, &bytes, w as u32, h as u32, image::ColorType::Rgba8) {
                Ok(()) => eprintln!("stacklens: saved screenshot {}", path.display()),
                Err(e) => eprintln!("stacklens: cannot save {}: {e}", path.display()),
            }
            done.store(true, Ordering::Relaxed);
        });
    }
}

/// The bottom-up tree as a flame graph, leaf functions on top.
fn inverted_view(ui: &mut Ui, doc: &mut Document, color_by: ColorBy) -> Option<Action> {
    let ctx = ui.ctx().clone();
    let Some(d) = doc.bottom_up(&ctx) else {
        ui.spinner();
        return None;
    };
    let graph = Graph::derived(&d);
    flame::breadcrumbs(ui, &mut doc.inverted_flame, &doc.profile, &graph);
    let input = FlameInput {
        profile: &doc.profile,
        graph,
        sample_type: doc.analysis.selection.sample_type,
        search: &doc.search,
        highlight: doc.highlight,
        hovered_func: doc.hovered_func,
        color_by,
        icicle: true,
        diff: None,
        linked: None,
        comparison: false,
        ratio: None,
    };
    let action = flame::canvas(ui, &mut doc.inverted_flame, &input);
    doc.hovered_func = doc.inverted_flame.hovered.map(|h| d.nodes.func[h.index()]);
    action
}

/// The call tree table, top-down or bottom-up.
fn tree_view(ui: &mut Ui, doc: &mut Document) -> Option<Action> {
    let ctx = ui.ctx().clone();
    ui.horizontal(|ui| {
        ui.selectable_value(&mut doc.tree.bottom_up, false, "Top-down");
        ui.selectable_value(&mut doc.tree.bottom_up, true, "Bottom-up");
        ui.weak("arrows move and expand, * expands all below");
    });
    let unit = doc
        .profile
        .sample_types
        .get(doc.analysis.selection.sample_type)
        .map_or(stacklens_core::model::Unit::Count, |t| t.unit);
    let p = doc.profile.clone();
    if doc.tree.bottom_up {
        let Some(d) = doc.bottom_up(&ctx) else {
            ui.spinner();
            return None;
        };
        let identity = Arc::as_ptr(&d) as usize;
        tree::show(ui, &mut doc.tree, &p, &d.nodes, &d.tree, identity, unit)
    } else {
        let (nodes, a) = (doc.nodes.clone(), doc.analysis.clone());
        let identity = Arc::as_ptr(&a) as usize;
        tree::show(ui, &mut doc.tree, &p, &nodes, &a.tree, identity, unit)
    }
}

/// Callers of the picked function above it, its callees below.
fn sandwich_view(ui: &mut Ui, doc: &mut Document, color_by: ColorBy) -> Option<Action> {
    let ctx = ui.ctx().clone();
    if doc.sandwich_func.is_none() {
        // The function picked in a table, else the one with the most self weight.
        doc.sandwich_func = doc
            .highlight
            .or_else(|| doc.analysis.top.first().map(|s| s.func));
    }
    if doc.sandwich_func.is_none() {
        ui.add_space(12.0);
        ui.label("No samples in this selection.");
        return None;
    }
    let Some(s) = doc.sandwich(&ctx) else {
        ui.spinner();
        return None;
    };
    let unit = doc
        .profile
        .sample_types
        .get(doc.analysis.selection.sample_type)
        .map_or(stacklens_core::model::Unit::Count, |t| t.unit);
    let total = doc.analysis.tree.total;
    ui.horizontal(|ui| {
        ui.strong(flame::short(doc.profile.func_name(s.func), 80));
        ui.label(format!(
            "self {} ({})   total {} ({})",
            format::weight(s.self_weight, unit),
            flame::percent(s.self_weight, total),
            format::weight(s.total_weight, unit),
            flame::percent(s.total_weight, total),
        ));
        ui.weak("(right-click a box or row and pick \"Callers and callees\" for another)");
    });
    let half = ((ui.available_height() - 24.0) / 2.0).max(60.0);
    let width = ui.available_width();
    let mut action = None;
    for (label, callers) in [("Callers (root at the bottom)", true), ("Callees", false)] {
        ui.weak(label);
        let d = if callers { &s.callers } else { &s.callees };
        let state = if callers {
            &mut doc.callers_flame
        } else {
            &mut doc.callees_flame
        };
        let input = FlameInput {
            profile: &doc.profile,
            graph: Graph::derived(d),
            sample_type: doc.analysis.selection.sample_type,
            search: &doc.search,
            highlight: doc.highlight,
            hovered_func: doc.hovered_func,
            color_by,
            icicle: !callers,
            diff: None,
            linked: None,
            comparison: false,
            ratio: None,
        };
        ui.allocate_ui(egui::vec2(width, half - 10.0), |ui| {
            if let Some(a) = flame::canvas(ui, state, &input) {
                action = Some(a);
            }
        });
    }
    action
}

/// Progress of one load; returns true when Cancel was clicked.
/// The transforms in force as chips (click one to remove it), Undo, "hide below x %", the
/// presets menu, and a transform's error.
fn transform_chips(ui: &mut Ui, doc: &mut Document) {
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        ui.label("Transforms:");
        let mut remove = None;
        for (i, t) in doc.transforms.iter().enumerate() {
            let chip = egui::Button::new(format!("{}  x", chip_label(t))).selected(true);
            if ui
                .add(chip)
                .on_hover_text("Remove this transform (the others stay, in order)")
                .clicked()
            {
                remove = Some(i);
            }
        }
        if doc.transforms.is_empty() {
            ui.weak("none (right-click a box or row)");
        }
        if let Some(i) = remove {
            doc.remove_transform(i, &ctx);
        }
        if ui
            .add_enabled(doc.can_undo(), egui::Button::new("Undo"))
            .on_hover_text("Undo the last transform change (Ctrl+Z)")
            .clicked()
        {
            doc.undo_transform(&ctx);
        }
        ui.separator();
        let label = ui.label("Hide below");
        ui.add(
            egui::DragValue::new(&mut doc.hide_below_percent)
                .range(0.01..=50.0)
                .speed(0.05)
                .suffix(" %"),
        )
        .labelled_by(label.id);
        if ui
            .button("Hide")
            .on_hover_text("Cut call nodes with a smaller share of the samples off the stacks")
            .clicked()
        {
            let basis_points = (doc.hide_below_percent * 100.0).round() as u32;
            doc.push_transform(Transform::HideBelow { basis_points }, &ctx);
        }
        ui.separator();
        presets_menu(ui, doc);
        if let Some(e) = &doc.transform_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
}

/// Saved transform lists: apply one (replacing the chips, undoable), save the chips under a
/// name, delete one.
fn presets_menu(ui: &mut Ui, doc: &mut Document) {
    let ctx = ui.ctx().clone();
    let resp = ui.menu_button("Presets", |ui| {
        // Read the folder once per opening of the menu, not every frame it is open.
        let names = doc
            .preset_names
            .get_or_insert_with(crate::presets::list)
            .clone();
        if names.is_empty() {
            ui.weak("No saved presets");
        }
        let mut apply = None;
        let mut delete = None;
        for name in &names {
            ui.horizontal(|ui| {
                if ui.button(format!("Apply {name}")).clicked() {
                    apply = Some(name.clone());
                }
                if ui.small_button("Delete").clicked() {
                    delete = Some(name.clone());
                }
            });
        }
        ui.separator();
        ui.horizontal(|ui| {
            let label = ui.label("Name:");
            ui.add(egui::TextEdit::singleline(&mut doc.preset_name).desired_width(140.0))
                .labelled_by(label.id);
            let can = !doc.transforms.is_empty() && crate::presets::valid_name(&doc.preset_name);
            if ui
                .add_enabled(can, egui::Button::new("Save preset"))
                .on_hover_text("Save the transforms in force under this name")
                .clicked()
            {
                doc.preset_message = Some(
                    match crate::presets::save(&doc.preset_name, &doc.transforms) {
                        Ok(path) => format!("saved {}", path.display()),
                        Err(e) => e,
                    },
                );
                doc.preset_names = None;
            }
        });
        if let Some(m) = &doc.preset_message {
            ui.weak(m);
        }
        if let Some(name) = apply {
            match crate::presets::load(&name) {
                Ok(p) => {
                    doc.set_transforms(p.transforms, &ctx);
                    ui.close();
                }
                Err(e) => doc.preset_message = Some(e),
            }
        }
        if let Some(name) = delete {
            if let Err(e) = crate::presets::delete(&name) {
                doc.preset_message = Some(e);
            }
            doc.preset_names = None;
        }
    });
    if resp.inner.is_none() {
        doc.preset_names = None;
    }
    resp.response
        .on_hover_text("Save or apply a named list of transforms");
}

/// A transform's label with exact-name patterns (`^name$`, as the menus make them) shown as
/// the plain name.
pub(crate) fn chip_label(t: &stacklens_core::analysis::Transform) -> String {
    use stacklens_core::analysis::Transform as T;
    let plain = |p: &str| -> String {
        let inner = p.strip_prefix('^').and_then(|p| p.strip_suffix('$'));
        if let Some(inner) = inner {
            let mut name = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                name.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            if T::exact(&name) == p {
                return name;
            }
        }
        p.to_owned()
    };
    match t {
        T::FocusFunction { pattern } => format!("focus: {}", plain(pattern)),
        T::Merge { pattern } => format!("merge: {}", plain(pattern)),
        T::Drop { pattern } => format!("drop: {}", plain(pattern)),
        T::CollapseRecursion {
            pattern: Some(pattern),
        } => format!("collapse recursion: {}", plain(pattern)),
        other => other.label(),
    }
}

fn loading_panel(ui: &mut Ui, job: &LoadJob) -> bool {
    let mut cancel = false;
    ui.vertical_centered(|ui| {
        ui.add_space(60.0);
        ui.heading(format!("Loading {}", job.request.title));
        ui.weak(job.request.path.display().to_string());
        ui.add_space(12.0);
        let p = &job.progress;
        let text = match p.phase() {
            Phase::Reading => format!(
                "Reading: {} of {}",
                crate::format::bytes(p.done() as i64),
                crate::format::bytes(if p.total() > 0 {
                    p.total()
                } else {
                    job.file_size
                } as i64)
            ),
            Phase::Symbolizing => format!(
                "Symbolizing: {} of {} addresses",
                crate::format::grouped(p.done() as i64),
                crate::format::grouped(p.total() as i64)
            ),
            Phase::Aggregating | Phase::Done => "Building the call tree".to_owned(),
        };
        ui.add(
            egui::ProgressBar::new(p.fraction())
                .desired_width(420.0)
                .show_percentage()
                .animate(true),
        );
        ui.label(text);
        ui.weak(format!("{:.1} s", job.started.elapsed().as_secs_f32()));
        ui.add_space(8.0);
        if ui.button("Cancel").clicked() {
            cancel = true;
        }
    });
    cancel
}

enum ErrorAction {
    Retry,
    Close,
}

fn error_panel(ui: &mut Ui, request: &LoadRequest, error: &str) -> Option<ErrorAction> {
    let mut action = None;
    ui.vertical_centered(|ui| {
        ui.add_space(60.0);
        ui.heading(format!("Could not open {}", request.title));
        ui.weak(request.path.display().to_string());
        ui.add_space(12.0);
        ui.colored_label(ui.visuals().error_fg_color, error);
        ui.add_space(12.0);
        ui.horizontal(|ui| {
            ui.add_space((ui.available_width() - 140.0).max(0.0) / 2.0);
            if ui.button("Retry").clicked() {
                action = Some(ErrorAction::Retry);
            }
            if ui.button("Close tab").clicked() {
                action = Some(ErrorAction::Close);
            }
        });
    });
    action
}

/// eframe's host for [`App`].
struct Host(App);

impl eframe::App for Host {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.0.ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.0.settings);
    }
}

/// Opens the window and runs until it is closed.
pub fn run(opts: Options) -> Result<(), String> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("stacklens")
            .with_app_id("stacklens")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([480.0, 320.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "stacklens",
        native,
        Box::new(move |cc| {
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            Ok(Box::new(Host(App::new(settings, opts, &cc.egui_ctx))))
        }),
    )
    .map_err(|e| e.to_string())
}
