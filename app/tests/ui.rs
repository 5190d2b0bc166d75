//! The window driven like a user would, headless (egui_kittest): widgets are found by their
//! accessibility labels; flame graph boxes are accessibility nodes named after their function.
//! Figures are checked against `perf report` on the same committed capture
//! (`sample-profiles/hot.perf.data.perf-report.txt`: leaf_a 399, leaf_c 397, recurse 200,
//! leaf_b 197 samples of 1,193).

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use stacklens::ui::flame::ColorBy;
use stacklens::ui::table::SortBy;
use stacklens::ui::{App, Options, Settings, Tab};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sample-profiles")
        .join(name)
}

/// The window at 1280×800 with the start page (no demo, no stored settings).
fn window() -> Harness<'static, App> {
    let settings = Settings {
        demo_shown: true,
        color_by: ColorBy::Module,
        ..Settings::default()
    };
    let ctx = egui::Context::default();
    let app = App::new(settings, Options::default(), &ctx);
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// Runs frames until `done` holds (loads and analyses run on worker threads).
fn wait_for(h: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        if start.elapsed() > Duration::from_secs(60) {
            panic!(
                "timed out waiting for {what}; tabs: {}{}",
                tab_states(h.state()),
                thread_stacks()
            );
        }
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Settle: a few frames so the views are laid out with the new data.
    h.run_steps(3);
}

/// What each tab is doing, for a test that waited too long.
fn tab_states(app: &App) -> String {
    let states: Vec<String> = (app.tabs.iter())
        .map(|t| match t {
            Tab::Loading(j) => format!(
                "{}: loading ({:?}, {} of {}, {:.1} s)",
                t.title(),
                j.progress.phase(),
                j.progress.done(),
                j.progress.total(),
                j.started.elapsed().as_secs_f64()
            ),
            Tab::Failed { error, .. } => format!("{}: failed: {error}", t.title()),
            Tab::Ready(d) => format!("{}: ready, computing {}", t.title(), d.is_computing()),
            Tab::Compare(c) => format!("{}: comparison, busy {}", t.title(), c.is_busy()),
            Tab::Live(l) => format!("{}: live, busy {}", t.title(), l.is_busy()),
        })
        .collect();
    format!(
        "[{}], rayon threads {}",
        states.join("; "),
        rayon::current_num_threads()
    )
}

/// Where this process's threads are (by gdb, once per process: it takes seconds), for a test
/// that waited too long: the frames of stacklens' own code and the innermost frame of each.
fn thread_stacks() -> String {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return String::new();
    }
    let out = std::process::Command::new("gdb")
        .args(["-p", &std::process::id().to_string(), "-batch", "-nx"])
        .args(["-ex", "set pagination off", "-ex", "thread apply all bt 40"])
        .stdin(std::process::Stdio::null())
        .output();
    let Ok(out) = out else {
        return "\n(no gdb for the threads' stacks)".into();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut kept = String::from("\nthreads:");
    let mut innermost = false;
    for line in text.lines() {
        if line.starts_with("Thread ") {
            kept.push('\n');
            kept.push_str(line);
            innermost = true;
        } else if line.starts_with('#') && (innermost || frame_is_ours(line)) {
            kept.push_str("\n  ");
            kept.push_str(&line.chars().take(160).collect::<String>());
            innermost = false;
        }
    }
    kept
}

/// Whether a gdb frame line ("#3  0x… in name (args) at file:line", or without the address)
/// is in a function of stacklens.
fn frame_is_ours(line: &str) -> bool {
    let rest = line.split_once("  ").map_or(line, |(_, r)| r);
    let name = rest.split_once(" in ").map_or(rest, |(_, n)| n);
    name.starts_with("stacklens")
}

/// Focuses the text field labelled `label` and types `text` at its end.
fn type_into(h: &mut Harness<'_, App>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label).focus();
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.run_steps(2);
}

fn ready(app: &App) -> bool {
    !app.is_busy() && app.document().is_some()
}

/// Opens `name` by typing its path on the start page.
fn open_sample(h: &mut Harness<'_, App>, name: &str) {
    type_into(h, "Path:", &sample(name).display().to_string());
    h.run_steps(2);
    h.get_by_label("Open path").click();
    h.run_steps(1);
    // A load that fails says why at once instead of running into the timeout.
    let failed = |app: &App| (app.tabs.iter()).any(|t| matches!(t, Tab::Failed { .. }));
    wait_for(h, "the profile to load", |app| ready(app) || failed(app));
    assert!(
        !failed(h.state()),
        "{name} did not load: {}",
        tab_states(h.state())
    );
}

fn func_named(app: &App, name: &str) -> stacklens_core::model::FuncId {
    let p = &app.document().unwrap().profile;
    (0..p.funcs.len())
        .map(stacklens_core::model::FuncId::from_index)
        .find(|&f| p.func_name(f) == name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

fn flame_box(h: &Harness<'_, App>, name: &str) -> bool {
    h.query_by_role_and_label(Role::Button, name).is_some()
}

#[test]
fn opens_a_profile_and_zooms_into_a_flame_node() {
    let mut h = window();
    assert!(h.query_by_label("Open demo profile").is_some());
    open_sample(&mut h, "hot.perf.data");
    {
        let doc = h.state().document().unwrap();
        assert_eq!(
            doc.analysis.tree.samples, 1193,
            "perf report: 1K samples = 1,193"
        );
        assert_eq!(doc.profile.threads.len(), 2);
    }
    assert!(flame_box(&h, "main_work"));
    assert!(
        flame_box(&h, "leaf_c"),
        "the worker thread's leaf is visible"
    );

    let crumbs = ["__libc_start_call_main", "main"];
    let count = |h: &Harness<'_, App>, l: &str| h.query_all_by_label(l).count();
    let before: Vec<usize> = crumbs.iter().map(|c| count(&h, c)).collect();
    h.get_by_role_and_label(Role::Button, "main_work").click();
    h.run_steps(3);
    let main_work = {
        let app = h.state();
        let doc = app.document().unwrap();
        let z = doc.flame.zoom.expect("clicking a box zooms into it");
        assert_eq!(
            doc.profile.func_name(doc.nodes.func[z.index()]),
            "main_work"
        );
        z
    };
    // The breadcrumb trail names the path; leaf_c (another thread's subtree) left the view.
    for (crumb, before) in crumbs.iter().zip(before) {
        assert_eq!(count(&h, crumb), before + 1, "breadcrumb {crumb}");
    }
    assert!(!flame_box(&h, "leaf_c"), "zoomed: leaf_c is out of view");
    assert!(flame_box(&h, "leaf_a"));

    h.key_press(egui::Key::Escape);
    h.run_steps(3);
    assert_eq!(h.state().document().unwrap().flame.zoom, None, "Esc resets");
    assert!(flame_box(&h, "leaf_c"));

    h.get_by_label("Back").click();
    h.run_steps(3);
    assert_eq!(
        h.state().document().unwrap().flame.zoom,
        Some(main_work),
        "Back"
    );

    // Clicking a breadcrumb zooms out to it.
    h.get_by_role_and_label(Role::Button, "All").click();
    h.run_steps(3);
    assert_eq!(h.state().document().unwrap().flame.zoom, None);
}

#[test]
fn search_highlights_and_reports_the_matched_share() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    type_into(&mut h, "Search:", "^leaf_[ab]$");
    {
        let app = h.state();
        let doc = app.document().unwrap();
        assert!(doc.search.is_active());
        // leaf_a 399 + leaf_b 197 of 1,193 samples, every sample 1,000,000 ns apart (999 Hz).
        let share = doc.search.matched as f64 / doc.analysis.tree.total as f64;
        assert!((share - 596.0 / 1193.0).abs() < 0.002, "share {share}");
    }
    let shown = {
        let app = h.state();
        let doc = app.document().unwrap();
        format!(
            "matched {:.2}% of the total",
            doc.search.matched as f64 * 100.0 / doc.analysis.tree.total as f64
        )
    };
    assert!(
        h.query_by_label(&shown).is_some(),
        "the share is shown: {shown}"
    );

    // Matches below a match count once: "leaf|mix" covers leaf_b's inlined mix too.
    type_into(&mut h, "Search:", "|mix");
    let doc_share = {
        let app = h.state();
        let doc = app.document().unwrap();
        doc.search.matched as f64 / doc.analysis.tree.total as f64
    };
    assert!((doc_share - 596.0 / 1193.0).abs() < 0.002, "{doc_share}");

    // A bad regex says so instead of matching nothing silently.
    type_into(&mut h, "Search:", "(");
    assert!(h.query_by_label("invalid regex").is_some());
}

#[test]
fn table_sorts_by_every_column_and_highlights_a_function() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    let first = |h: &Harness<'_, App>| -> (String, i64, i64) {
        let app = h.state();
        let doc = app.document().unwrap();
        let s = &doc.analysis.top[doc.table.rows[0]];
        (
            doc.profile.func_name(s.func).to_owned(),
            s.self_weight,
            s.total_weight,
        )
    };
    assert_eq!(
        first(&h).0,
        "leaf_a",
        "default: self, descending (perf report order)"
    );

    h.get_by_label("Total").click();
    h.run_steps(2);
    assert_eq!(
        h.state().document().unwrap().table.sort,
        SortBy::TotalWeight
    );
    let max_total = h.state().document().unwrap().analysis.tree.total * 2 / 3;
    assert!(
        first(&h).2 >= max_total,
        "biggest total first: {:?}",
        first(&h)
    );

    h.get_by_label("Total").click();
    h.run_steps(2);
    assert!(!h.state().document().unwrap().table.descending);
    assert_eq!(first(&h).0, "mix", "smallest total first");

    h.get_by_label("Function").click();
    h.run_steps(2);
    assert_eq!(first(&h).0, "__libc_start_call_main", "names A to Z");
    h.get_by_label("Samples").click();
    h.run_steps(2);
    assert_eq!(h.state().document().unwrap().table.sort, SortBy::Samples);
    h.get_by_label("Module").click();
    h.run_steps(2);
    assert_eq!(h.state().document().unwrap().table.sort, SortBy::Module);
    h.get_by_label("Self").click();
    h.run_steps(2);
    assert_eq!(first(&h).0, "leaf_a");

    // Filter, then pick a row: the function is highlighted in the flame graph.
    type_into(&mut h, "Filter:", "leaf_b");
    assert_eq!(h.state().document().unwrap().table.rows.len(), 1);
    h.get_by_role_and_label(Role::Label, "leaf_b").click();
    h.run_steps(2);
    let leaf_b = func_named(h.state(), "leaf_b");
    assert_eq!(h.state().document().unwrap().highlight, Some(leaf_b));
}

#[test]
fn excluding_a_thread_changes_the_totals() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    assert_eq!(h.state().document().unwrap().analysis.tree.samples, 1193);

    let worker = {
        let app = h.state();
        let doc = app.document().unwrap();
        let p = &doc.profile;
        (0..p.threads.len())
            .map(|t| p.thread_label(stacklens_core::model::ThreadId::from_index(t)))
            .find(|l| l.starts_with("worker "))
            .expect("the worker thread")
    };
    h.get_by_role_and_label(Role::CheckBox, &worker).click();
    wait_for(&mut h, "the new selection", |app| {
        ready(app) && app.document().unwrap().analysis.selection.threads.is_some()
    });
    {
        let app = h.state();
        let doc = app.document().unwrap();
        // perf report: leaf_a 399 + recurse 200 + leaf_b 197 on the main thread.
        assert_eq!(doc.analysis.tree.samples, 796);
        let leaf_c = func_named(app, "leaf_c");
        assert!(doc.analysis.top.iter().all(|s| s.func != leaf_c));
    }
    assert!(!flame_box(&h, "leaf_c"));

    h.get_by_label("Include all").click();
    wait_for(&mut h, "all threads again", |app| {
        ready(app) && app.document().unwrap().analysis.selection.threads.is_none()
    });
    assert_eq!(h.state().document().unwrap().analysis.tree.samples, 1193);
}

#[test]
fn event_picker_switches_the_sample_type() {
    let mut h = window();
    open_sample(&mut h, "hot-2events.perf.data");
    let types = h.state().document().unwrap().profile.sample_types.len();
    assert_eq!(types, 2);
    let before = h.state().document().unwrap().analysis.selection.sample_type;
    let other = 1 - before;
    let other_name = h.state().document().unwrap().profile.sample_types[other]
        .name
        .clone();
    h.get_all_by_role(Role::ComboBox).next().unwrap().click();
    h.run_steps(2);
    h.get_by_label_contains(&format!("{other_name} (")).click();
    wait_for(&mut h, "the other event", |app| {
        ready(app) && app.document().unwrap().analysis.selection.sample_type == other
    });
    let app = h.state();
    let doc = app.document().unwrap();
    assert_eq!(
        doc.analysis.tree.samples as usize,
        doc.profile.sample_count(other)
    );
}

#[test]
fn a_ratio_of_two_events_adds_table_columns_and_colours_the_flame_graph() {
    let mut h = window();
    open_sample(&mut h, "hot-2events.perf.data");
    h.get_by_label("Ratio:").click();
    h.run_steps(2);
    h.get_by_label("page-faults:u ÷ cpu-clock:u").click();
    wait_for(&mut h, "the ratio", |app| {
        ready(app) && app.document().unwrap().analysis.ratio.is_some()
    });
    {
        let app = h.state();
        let r = app.document().unwrap().analysis.ratio.as_ref().unwrap();
        // perf report's event counts of the two events in this file.
        assert_eq!(r.overall, (413, 1_200_200_199));
    }
    // Both events' self weights and the ratios are columns, sortable: by ratio, biggest
    // first, functions without CPU time (no ratio) last.
    h.get_by_label("Ratio total /ms").click();
    h.run_steps(2);
    {
        let app = h.state();
        let doc = app.document().unwrap();
        assert_eq!(doc.table.sort, SortBy::RatioTotal);
        let r = doc.analysis.ratio.as_ref().unwrap();
        let values: Vec<f64> = doc
            .table
            .rows
            .iter()
            .map(|&i| {
                let (n, d) = r.total_of(doc.analysis.top[i].func);
                r.value(n, d).unwrap_or(f64::NEG_INFINITY)
            })
            .collect();
        // (In this capture the faults are all in the dynamic loader, before the program ran:
        // the program's functions have a ratio of 0.)
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    }
    assert!(h.query_by_label("page-faults:u self").is_some());
    assert!(h.query_by_label("Ratio self /ms").is_some());
    // Colour by ratio: a legend says what the colours mean.
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Colour by ratio").click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("Colour: page-faults:u ÷ cpu-clock:u")
            .is_some()
    );
}

#[test]
fn keyboard_moves_the_selection_and_closes_tabs() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(1);
    let name_of_selected = |h: &Harness<'_, App>| {
        let app = h.state();
        let doc = app.document().unwrap();
        let s = doc.flame.selected.expect("a selection");
        doc.profile.func_name(doc.nodes.func[s.index()]).to_owned()
    };
    assert_eq!(
        name_of_selected(&h),
        "__libc_start_call_main",
        "heaviest root first"
    );
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(1);
    assert_eq!(name_of_selected(&h), "main");
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(1);
    assert_eq!(name_of_selected(&h), "__libc_start_call_main");
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(1);
    assert_eq!(name_of_selected(&h), "start_thread");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert!(h.state().document().unwrap().flame.zoom.is_some());

    h.key_press(egui::Key::Slash);
    h.run_steps(2);
    assert!(
        h.get_by_role_and_label(Role::TextInput, "Search:")
            .is_focused()
    );

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::W);
    h.run_steps(2);
    assert!(h.state().tabs.is_empty());
    assert!(
        h.query_by_label("Open path").is_some(),
        "back to the start page"
    );
}

/// A dropped file as eframe hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_bad_file_shows_an_error_and_the_open_profile_survives() {
    let mut h = window();
    open_sample(&mut h, "hotpp.perf.data");
    let not_a_profile = sample("README.md");
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(not_a_profile.clone())));
    h.run_steps(1);
    wait_for(&mut h, "the load to fail", |app| !app.is_busy());
    let app = h.state();
    assert_eq!(app.tabs.len(), 2);
    match &app.tabs[app.active] {
        Tab::Failed { request, error } => {
            assert_eq!(request.path, not_a_profile);
            assert!(error.contains("README.md"), "names the file: {error}");
            assert!(error.contains("format"), "says why: {error}");
        }
        _ => panic!("expected an error tab"),
    }
    assert!(h.query_by_label("Could not open README.md").is_some());
    assert!(
        matches!(app.tabs[0], Tab::Ready(_)),
        "the first profile is still open"
    );

    h.get_by_label("Close tab").click();
    h.run_steps(2);
    assert_eq!(h.state().tabs.len(), 1);
    assert!(h.state().document().is_some());
}

/// `(symbol, samples)` rows of a saved `perf report -n --sort sym` output.
fn perf_report_rows(capture: &str) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(sample(&format!("{capture}.perf-report.txt"))).unwrap();
    text.lines()
        .filter(|l| l.contains("[.]") || l.contains("[k]"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[3..].join(" "), cols[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_demo_profile_opens_symbolized() {
    let mut h = window();
    h.get_by_label("Open demo profile").click();
    h.run_steps(1);
    wait_for(&mut h, "the demo", ready);
    let reference = perf_report_rows("demo.perf.data");
    let app = h.state();
    let doc = app.document().unwrap();
    let total: u64 = reference.iter().map(|r| r.1).sum();
    assert_eq!(
        doc.analysis.tree.samples, total,
        "same samples as perf report"
    );
    assert_eq!(doc.profile.threads.len(), 3);
    // The three hottest functions, with perf's sample counts.
    for (name, samples) in &reference[..3] {
        let s = doc
            .analysis
            .top
            .iter()
            .find(|s| doc.profile.func_name(s.func) == name)
            .unwrap_or_else(|| panic!("{name} symbolized"));
        assert_eq!(s.self_samples, *samples, "{name}");
    }
    assert!(
        app.settings.recent.is_empty(),
        "the demo is not a recent file"
    );
}

#[test]
fn opened_files_join_the_recent_list() {
    let mut h = window();
    open_sample(&mut h, "hot-zstd.perf.data");
    let recent = &h.state().settings.recent;
    assert_eq!(recent.len(), 1);
    assert!(recent[0].ends_with("sample-profiles/hot-zstd.perf.data"));
    let json = serde_json::to_string(&h.state().settings).unwrap();
    let back: Settings = serde_json::from_str(&json).unwrap();
    assert_eq!(back.recent, *recent);
}

#[test]
fn mouse_wheel_zooms_around_the_pointer_and_drag_pans() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    let (canvas, width) = {
        let doc = h.state().document().unwrap();
        (doc.flame.canvas.unwrap(), doc.analysis.layout.width as f64)
    };
    // A quarter from the left: the weight under the pointer stays under it.
    let at = egui::pos2(canvas.left() + canvas.width() / 4.0, canvas.center().y);
    h.hover_at(at);
    h.run_steps(1);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, 200.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(30);
    let (v0, v1) = h.state().document().unwrap().flame.view.expect("zoomed in");
    assert!(v1 - v0 < width * 0.8, "narrower: {v0}..{v1} of {width}");
    let anchor = width / 4.0;
    let under = v0 + (v1 - v0) / 4.0;
    assert!((under - anchor).abs() < width * 0.01, "{under} vs {anchor}");

    // Dragging to the right shows what was to the left.
    let to = at + egui::vec2(120.0, 0.0);
    h.event(egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
    for k in 1..=6 {
        h.event(egui::Event::PointerMoved(
            at + egui::vec2(20.0 * k as f32, 0.0),
        ));
        h.run_steps(1);
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(2);
    let (p0, p1) = h
        .state()
        .document()
        .unwrap()
        .flame
        .view
        .expect("still zoomed");
    assert!(p0 < v0, "panned left: {p0} < {v0}");
    assert!(((p1 - p0) - (v1 - v0)).abs() < 1e-6 * width, "same zoom");
    assert_eq!(
        h.state().document().unwrap().flame.zoom,
        None,
        "a drag is not a click"
    );
}

#[test]
fn file_export_writes_a_capture_that_reopens_with_the_same_figures() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hot.stkl");
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Save as / Export… (Ctrl+S)").click();
    h.run_steps(2);
    // The path field proposes a .stkl next to the input; replace it with ours.
    let proposed = h.state().export_path().to_string();
    assert!(proposed.ends_with("hot.stkl"), "{proposed}");
    h.state_mut().set_export_path("");
    h.run_steps(1);
    type_into(&mut h, "Export path:", &out.display().to_string());
    h.get_by_label("Save").click();
    wait_for(&mut h, "the export to finish", |app| {
        !app.is_busy() && out.exists()
    });
    assert!(
        h.query_by_label_contains("Saved ").is_some(),
        "the dialog says where it saved"
    );
    // Reopen it in a new tab: the same samples and the same hottest function.
    let ctx = h.ctx.clone();
    h.state_mut().open_path(out.clone(), &ctx);
    wait_for(&mut h, "the .stkl to load", ready);
    let doc = h.state().document().unwrap();
    assert_eq!(doc.path, out);
    assert_eq!(doc.analysis.tree.samples, 1193);
    assert_eq!(doc.profile.meta.source_format, "perf.data");
    let top = &doc.analysis.top[0];
    assert_eq!(doc.profile.func_name(top.func), "leaf_a");
    assert_eq!(top.self_samples, 399, "perf report: leaf_a 399 samples");
}

/// Right-clicks the flame box of `func` and picks `item` from its context menu, then waits for
/// the transformed profile's analysis.
fn transform_via_menu(h: &mut Harness<'_, App>, func: &str, item: &str) {
    // The outermost box when a function has several (recursion).
    h.get_all_by_role_and_label(Role::Button, func)
        .next()
        .unwrap_or_else(|| panic!("no flame box {func}"))
        .click_secondary();
    h.run_steps(2);
    h.get_by_label(item).click();
    h.run_steps(1);
    wait_for(h, item, |app| {
        app.document().is_some_and(|d| !d.is_computing())
    });
}

/// (samples in the selection, self samples of `func` or 0 when it has none).
fn figures(app: &App, func: &str) -> (u64, u64) {
    let doc = app.document().unwrap();
    let p = &doc.profile;
    let own = doc
        .analysis
        .top
        .iter()
        .find(|s| p.func_name(s.func) == func)
        .map_or(0, |s| s.self_samples);
    (doc.analysis.tree.samples, own)
}

#[test]
fn every_transform_applies_from_the_flame_graph_menu_and_undoes() {
    let mut h = window();
    open_sample(&mut h, "hot.perf.data");
    assert_eq!(figures(h.state(), "leaf_b"), (1193, 111));

    // Merge: leaf_b's own 111 samples go to its caller main_work; the total stays.
    transform_via_menu(&mut h, "leaf_b", "Merge function");
    assert_eq!(figures(h.state(), "leaf_b"), (1193, 0));
    assert_eq!(figures(h.state(), "main_work").1, 111);
    assert!(
        h.query_by_label("merge: leaf_b  x").is_some(),
        "a chip shows it"
    );
    h.get_by_label("Undo").click();
    // (Waiting on the transforms too: the click takes effect at the next frame, and until then
    // nothing is computing.)
    wait_for(&mut h, "undo", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });
    assert_eq!(figures(h.state(), "leaf_b"), (1193, 111));
    assert!(h.query_by_label("merge: leaf_b  x").is_none());

    // Focus on a function: only main_work's 796 samples (the main thread's).
    transform_via_menu(&mut h, "main_work", "Focus on function");
    assert_eq!(figures(h.state(), "leaf_c"), (796, 0));
    // Removing the chip brings everything back.
    h.get_by_label("focus: main_work  x").click();
    wait_for(&mut h, "chip removal", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });
    assert_eq!(figures(h.state(), "leaf_c"), (1193, 397));

    // Drop: leaf_a's 399 samples leave.
    transform_via_menu(&mut h, "leaf_a", "Drop samples with function");
    assert_eq!(figures(h.state(), "leaf_a"), (1193 - 399, 0));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    wait_for(&mut h, "Ctrl+Z", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });
    assert_eq!(figures(h.state(), "leaf_a"), (1193, 399));

    // Collapse recursion: recurse's chain becomes one node with all 200 samples.
    let recurse_nodes = |app: &App| {
        let doc = app.document().unwrap();
        let f = func_named(app, "recurse");
        doc.nodes.func.iter().filter(|&&x| x == f).count()
    };
    assert!(recurse_nodes(h.state()) > 1);
    transform_via_menu(&mut h, "recurse", "Collapse recursion");
    assert_eq!(recurse_nodes(h.state()), 1);
    assert_eq!(figures(h.state(), "recurse"), (1193, 200));
    h.get_by_label("Undo").click();
    wait_for(&mut h, "undo", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });

    // Focus on the subtree of the worker thread's leaf: its 397 samples, rooted at leaf_c.
    transform_via_menu(&mut h, "leaf_c", "Focus on subtree");
    assert_eq!(figures(h.state(), "leaf_c"), (397, 397));
    h.get_by_label("Undo").click();
    wait_for(&mut h, "undo", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });

    // Collapse the program's own module: one frame "hot" holds every sample spent in it.
    transform_via_menu(&mut h, "leaf_b", "Collapse module hot");
    assert_eq!(
        figures(h.state(), "hot"),
        (1193, 399 + 397 + 200 + 111 + 86)
    );
    // One box per thread: each thread's run of frames in `hot` is one frame now.
    assert_eq!(
        h.query_all_by_role_and_label(Role::Button, "hot").count(),
        2
    );
    h.get_by_label("Undo").click();
    wait_for(&mut h, "undo", |app| {
        app.document()
            .is_some_and(|d| d.transforms.is_empty() && !d.is_computing())
    });

    // The same menu on a row of the top-functions table.
    h.get_by_role_and_label(Role::Label, "leaf_a")
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Drop samples with function").click();
    h.run_steps(1);
    wait_for(&mut h, "drop from the table", |app| {
        app.document()
            .is_some_and(|d| !d.transforms.is_empty() && !d.is_computing())
    });
    assert_eq!(figures(h.state(), "leaf_a"), (1193 - 399, 0));
}

/// Presses the primary button at `from`, moves to `to` in steps, releases there.
fn drag(h: &mut Harness<'_, App>, from: egui::Pos2, to: egui::Pos2, modifiers: egui::Modifiers) {
    h.hover_at(from);
    h.run_steps(1);
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers,
    });
    h.run_steps(1);
    for k in 1..=8 {
        h.event(egui::Event::PointerMoved(
            from + (to - from) * (k as f32 / 8.0),
        ));
        h.run_steps(1);
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers,
    });
    h.run_steps(1);
}

/// Weight of the samples whose time is inside one of `ranges`, counted sample by sample.
fn weight_in(app: &App, ranges: &[(u64, u64)]) -> i64 {
    let doc = app.document().unwrap();
    let p = &doc.profile;
    let ty = doc.selection.sample_type;
    (0..p.samples.len())
        .filter(|&r| {
            let t = p.samples.time_ns[r];
            ranges.iter().any(|&(a, b)| t >= a && t < b)
        })
        .filter_map(|r| p.samples.weights.get(ty, r))
        .sum()
}

/// A primary click at `pos` with `modifiers` held.
fn click_at(h: &mut Harness<'_, App>, pos: egui::Pos2, modifiers: egui::Modifiers) {
    h.hover_at(pos);
    h.event(egui::Event::ModifiersChanged(modifiers));
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers,
        });
    }
    h.run_steps(2);
    h.event(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
}

fn switch_view(h: &mut Harness<'_, App>, title: &str) {
    h.get_by_role_and_label(Role::Button, title).click();
    h.run_steps(2);
    wait_for(h, "the view's data", ready);
}

#[test]
fn dragging_across_the_timeline_selects_a_range_that_every_view_follows() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    let (area, full) = {
        let doc = h.state().document().unwrap();
        (
            doc.timeline.tracks.expect("timeline drawn"),
            doc.analysis.tree.total,
        )
    };
    let y = area.top() + 30.0;
    let from = egui::pos2(area.left() + area.width() * 0.25, y);
    let to = egui::pos2(area.left() + area.width() * 0.5, y);
    drag(&mut h, from, to, egui::Modifiers::NONE);
    wait_for(&mut h, "the range's analysis", |app| {
        ready(app) && !app.document().unwrap().analysis.selection.ranges.is_empty()
    });
    let ranges = h
        .state()
        .document()
        .unwrap()
        .analysis
        .selection
        .ranges
        .clone();
    assert_eq!(ranges.len(), 1);
    let expect = weight_in(h.state(), &ranges);
    let total = h.state().document().unwrap().analysis.tree.total;
    assert_eq!(total, expect, "the flame graph holds the range's samples");
    assert!(total > 0 && total < full, "{total} of {full}");
    // The top functions table and the sunburst read the same selection.
    let top: i64 = h
        .state()
        .document()
        .unwrap()
        .analysis
        .top
        .iter()
        .map(|s| s.self_weight)
        .sum();
    assert_eq!(top, total);

    // The range shows as a chip; Zoom commits it, the breadcrumb goes back out.
    assert!(h.query_by_label_contains("range: ").is_some());
    h.get_by_label("Zoom").click();
    h.run_steps(2);
    wait_for(&mut h, "the zoom", ready);
    {
        let doc = h.state().document().unwrap();
        assert_eq!(doc.committed, vec![ranges.clone()]);
        assert!(doc.preview.is_empty());
        assert_eq!(doc.base_window(), Some(ranges[0]));
        assert_eq!(doc.analysis.tree.total, expect);
    }
    h.get_by_label_contains("Full profile").click();
    h.run_steps(2);
    wait_for(&mut h, "the whole profile", |app| {
        ready(app) && app.document().unwrap().analysis.selection.ranges.is_empty()
    });
    assert_eq!(h.state().document().unwrap().analysis.tree.total, full);

    // A new range, cleared from its chip.
    drag(&mut h, to, from, egui::Modifiers::NONE);
    wait_for(&mut h, "the new range", |app| {
        ready(app) && !app.document().unwrap().analysis.selection.ranges.is_empty()
    });
    h.get_by_label_contains("range: ").click();
    h.run_steps(2);
    wait_for(&mut h, "the cleared range", |app| {
        ready(app) && app.document().unwrap().analysis.selection.ranges.is_empty()
    });
    assert_eq!(h.state().document().unwrap().analysis.tree.total, full);
}

#[test]
fn heat_map_cells_select_disjoint_time_ranges() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    let full = h.state().document().unwrap().analysis.tree.total;
    switch_view(&mut h, "Heat map");
    let (grid, cell) = h
        .state()
        .document()
        .unwrap()
        .heat
        .grid
        .expect("heat map drawn");
    let at = |c: usize, r: usize| {
        grid.min + egui::vec2((c as f32 + 0.5) * cell.x, (r as f32 + 0.5) * cell.y)
    };
    // A rectangle over both columns (seconds 0 and 1), rows 2 to 9: two disjoint ranges.
    drag(&mut h, at(0, 2), at(1, 9), egui::Modifiers::NONE);
    wait_for(&mut h, "the cells' analysis", |app| {
        ready(app) && !app.document().unwrap().analysis.selection.ranges.is_empty()
    });
    let (ranges, total) = {
        let doc = h.state().document().unwrap();
        (
            doc.analysis.selection.ranges.clone(),
            doc.analysis.tree.total,
        )
    };
    assert_eq!(ranges.len(), 2, "one range per column: {ranges:?}");
    for (a, b) in &ranges {
        assert_eq!(b - a, 8 * 20_000_000, "eight cells of 20 ms");
    }
    assert_eq!(total, weight_in(h.state(), &ranges));
    assert!(total > 0 && total < full);

    // Click one cell, Shift+click another: the continuous run between them.
    click_at(&mut h, at(0, 30), egui::Modifiers::NONE);
    let start = h.state().document().unwrap().preview.clone();
    assert_eq!(start.len(), 1);
    click_at(&mut h, at(0, 40), egui::Modifiers::SHIFT);
    wait_for(&mut h, "the run's analysis", ready);
    let doc = h.state().document().unwrap();
    let run = doc.analysis.selection.ranges.clone();
    assert_eq!(run.len(), 1);
    assert_eq!(
        run[0].1 - run[0].0,
        11 * 20_000_000,
        "rows 30 to 40 of second 0"
    );
    assert_eq!(doc.analysis.tree.total, weight_in(h.state(), &run));
}

#[test]
fn sunburst_rings_zoom_in_and_the_centre_goes_back_up() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    switch_view(&mut h, "Sunburst");
    let painted = h.state().document().unwrap().sunburst.painted;
    assert!(painted > 5, "{painted} arcs");
    h.get_by_role_and_label(Role::Button, "main").click();
    h.run_steps(2);
    let root = {
        let doc = h.state().document().unwrap();
        let r = doc.sunburst.root.expect("clicking a ring zooms into it");
        assert_eq!(doc.profile.func_name(doc.nodes.func[r.index()]), "main");
        r
    };
    // Deeper functions now have room for labels: run_round is main's child.
    assert!(
        h.query_by_role_and_label(Role::Button, "run_round")
            .is_some()
    );
    h.get_by_label("sunburst centre").click();
    h.run_steps(2);
    let doc = h.state().document().unwrap();
    assert_eq!(
        doc.sunburst.root,
        doc.nodes.parent[root.index()].get(),
        "the centre goes up one level"
    );
}

#[test]
fn call_tree_table_expands_with_the_keyboard_and_turns_bottom_up() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    switch_view(&mut h, "Call tree");
    // The heaviest path opens by itself: main's subtree is visible.
    assert!(h.query_by_label("run_round  [demo]").is_some());
    assert!(h.query_by_label("compress  [demo]").is_some());
    // Down from the first row, Left collapses it: only the roots are left.
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(1);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    assert!(h.query_by_label("run_round  [demo]").is_none());
    assert!(h.query_by_label("main  [demo]").is_none());
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert!(h.query_by_label("main  [demo]").is_some());
    // Bottom-up: the roots are where samples were, heaviest first (crc32_block: 484 of 1,453).
    h.get_by_label("Bottom-up").click();
    h.run_steps(2);
    wait_for(&mut h, "the bottom-up tree", ready);
    h.run_steps(2);
    let app = h.state();
    let doc = app.document().unwrap();
    let inv = doc.inverted.is_current(&doc.generation());
    assert!(inv, "the bottom-up tree was computed");
    let row_top = |label: &str| h.get_by_label(label).rect().top();
    for other in ["find_match  [demo]", "hash_name  [demo]", "merge  [demo]"] {
        assert!(row_top("crc32_block  [demo]") < row_top(other), "{other}");
    }
}

#[test]
fn caller_callee_view_from_a_flame_box() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    h.get_all_by_role_and_label(Role::Button, "merge_sort")
        .next()
        .unwrap()
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Callers and callees").click();
    h.run_steps(2);
    wait_for(&mut h, "the sandwich", ready);
    h.run_steps(3);
    let merge_sort = func_named(h.state(), "merge_sort");
    let app = h.state();
    let doc = app.document().unwrap();
    assert_eq!(doc.sandwich_func, Some(merge_sort));
    let stat = doc
        .analysis
        .top
        .iter()
        .find(|s| s.func == merge_sort)
        .unwrap()
        .clone();
    // Both halves are drawn: merge_sort's caller run_round above, its callee merge below.
    assert!(
        h.query_by_role_and_label(Role::Button, "run_round")
            .is_some()
    );
    assert!(h.query_all_by_role_and_label(Role::Button, "merge").count() > 0);
    // Its figures are the top functions table's (recursion counted once).
    let s = doc.sandwich.latest().expect("computed");
    assert_eq!(
        (s.self_weight, s.total_weight),
        (stat.self_weight, stat.total_weight)
    );
    let root_total = |d: &stacklens_core::analysis::DerivedTree| -> i64 {
        (0..d.nodes.len())
            .filter(|&i| d.nodes.parent[i].get().is_none())
            .map(|i| d.tree.total_weight[i])
            .sum()
    };
    assert_eq!(root_total(&s.callers), stat.total_weight);
    assert_eq!(root_total(&s.callees), stat.total_weight);
}

#[test]
fn hide_below_and_a_saved_preset_from_the_transform_row() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: no other test of this binary reads or writes this variable.
    unsafe { std::env::set_var("STACKLENS_PRESETS", dir.path()) };
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    let (total, nodes) = {
        let doc = h.state().document().unwrap();
        (doc.analysis.tree.total, doc.nodes.len())
    };
    // 2%: functions with a smaller share leave the graph; the total stays.
    h.get_by_label("Hide below").set_value_accesskit(2.0);
    h.run_steps(2);
    h.get_by_label("Hide").click();
    h.run_steps(2);
    wait_for(&mut h, "the hidden nodes", |app| {
        ready(app) && !app.document().unwrap().transforms.is_empty()
    });
    {
        let doc = h.state().document().unwrap();
        assert_eq!(
            doc.transforms,
            vec![stacklens_core::analysis::Transform::HideBelow { basis_points: 200 }]
        );
        assert_eq!(doc.analysis.tree.total, total);
        assert!(
            doc.nodes.len() < nodes,
            "{} of {nodes} nodes",
            doc.nodes.len()
        );
    }
    // Saved as a preset, removed, applied again from the menu.
    h.get_by_label("Presets").click();
    h.run_steps(2);
    h.get_by_label("Name:").focus();
    h.run_steps(1);
    h.get_by_label("Name:").type_text("small");
    h.run_steps(2);
    h.get_by_label("Save preset").click();
    h.run_steps(2);
    assert!(dir.path().join("small.json").exists());
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "hide below 2%  x")
        .click();
    h.run_steps(2);
    wait_for(&mut h, "the removed chip", |app| {
        ready(app) && app.document().unwrap().transforms.is_empty()
    });
    assert_eq!(h.state().document().unwrap().nodes.len(), nodes);
    h.get_by_label("Presets").click();
    h.run_steps(2);
    h.get_by_label("Apply small").click();
    h.run_steps(2);
    wait_for(&mut h, "the preset", |app| {
        ready(app) && !app.document().unwrap().transforms.is_empty()
    });
    assert!(h.state().document().unwrap().nodes.len() < nodes);
}

#[test]
fn source_view_of_the_hot_function_opens_at_its_hot_line() {
    let mut h = window();
    open_sample(&mut h, "demo.perf.data");
    // The hottest function first: crc32_block, whose hottest line perf puts at demo.c:239
    // (`sample-profiles/demo.perf.data.srcline.txt`: 358 of its 484 samples).
    switch_view(&mut h, "Source");
    wait_for(&mut h, "the source file", ready);
    h.run_steps(3);
    assert_eq!(
        h.state().document().unwrap().source.selected_line,
        Some(239)
    );
    let hot = h.get_by_label_contains("line 239: self 358");
    assert!(hot.rect().height() > 0.0, "the hot line is on screen");
    assert!(
        h.query_all_by_label_contains("sample-profiles/src/demo.c")
            .count()
            >= 1
    );
    // Another function from the flame graph's menu: find_match, hot at line 209.
    switch_view(&mut h, "Flame graph");
    h.get_by_role_and_label(Role::Button, "find_match")
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Show source").click();
    h.run_steps(2);
    wait_for(&mut h, "find_match's lines", ready);
    h.run_steps(3);
    let doc = h.state().document().unwrap();
    assert_eq!(doc.view, stacklens::ui::document::View::Source);
    assert_eq!(doc.source.selected_line, Some(209));
    assert!(h.query_by_label_contains("line 209: self 203").is_some());
}

/// The comparison window of `stacklens diff BEFORE AFTER`.
fn comparison_window(before: &str, after: &str) -> Harness<'static, App> {
    let settings = Settings {
        demo_shown: true,
        ..Settings::default()
    };
    let opts = Options {
        compare: Some((
            sample(before),
            sample(after),
            stacklens::ui::compare::Setup::default(),
        )),
        ..Options::default()
    };
    let ctx = egui::Context::default();
    let app = App::new(settings, opts, &ctx);
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app);
    wait_for(&mut h, "the comparison", compared);
    h
}

/// Both sides loaded and compared, nothing computing.
fn compared(app: &App) -> bool {
    !app.is_busy()
        && app.comparison().is_some_and(|c| {
            let (Some(b), Some(a)) = (c.before.doc(), c.after.doc()) else {
                return false;
            };
            c.data().is_some_and(|d| {
                d.paths.before_path.len() == b.nodes.len()
                    && d.paths.after_path.len() == a.nodes.len()
            })
        })
}

/// Self share of `func` in a saved `perf report` of `capture`, as the window prints it.
fn perf_share(capture: &str, func: &str) -> String {
    let rows = perf_report_rows(capture);
    let total: u64 = rows.iter().map(|r| r.1).sum();
    let n = rows.iter().find(|r| r.0 == func).unwrap().1;
    format!("{:.2}%", n as f64 * 100.0 / total as f64)
}

/// The call node of `name` in one side's tree.
fn node_named(
    d: &stacklens::ui::document::Document,
    name: &str,
) -> stacklens_core::model::CallNodeId {
    (0..d.nodes.len())
        .map(stacklens_core::model::CallNodeId::from_index)
        .find(|&n| d.profile.func_name(d.nodes.func[n.index()]) == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

#[test]
fn compare_with_from_the_menu_hover_shows_before_after_and_change() {
    let mut h = window();
    open_sample(&mut h, "diff-base-1.perf.data");
    let ctx = h.ctx.clone();
    h.state_mut().open_path(sample("diff-slow.perf.data"), &ctx);
    wait_for(&mut h, "the second profile", ready);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Compare with…").click();
    h.run_steps(2);
    h.get_by_label("Before: diff-base-1.perf.data").click();
    h.run_steps(1);
    wait_for(&mut h, "the comparison", compared);
    assert_eq!(
        h.state().tabs.len(),
        3,
        "the comparison opens in its own tab"
    );
    assert!(
        h.query_by_label_contains("diff-base-1.perf.data vs diff-slow.perf.data")
            .is_some()
    );

    // The differential graph: render_page (twice the work) red, its siblings not significant
    // at these sample counts (grey), main unchanged (grey).
    {
        let cmp = h.state().comparison().unwrap();
        let a = cmp.after.doc().unwrap();
        let fill = |name: &str| cmp.fill_of(node_named(a, name), false).unwrap();
        let red = fill("render_page");
        assert!(red.r() > 200 && red.g() < 120 && red.b() < 120, "{red:?}");
        for name in ["main", "parse_request", "lookup_user"] {
            let c = fill(name);
            assert!(c.r() == c.g() && c.g() == c.b(), "{name} grey: {c:?}");
        }
        let d = &cmp.data().unwrap().functions;
        assert_eq!(d.functions[0].name, "render_page", "largest change first");
        assert!(d.functions[0].significant);
    }

    // Hover render_page: before, after and the change, with the shares perf report gives.
    h.get_by_role_and_label(Role::Button, "render_page").hover();
    h.run_steps(3);
    for label in ["before", "after", "change", "significantly more (total)"] {
        assert!(
            h.query_by_label(label).is_some(),
            "hover card shows {label}"
        );
    }
    let before = perf_share("diff-base-1.perf.data", "render_page");
    let after = perf_share("diff-slow.perf.data", "render_page");
    assert_eq!((before.as_str(), after.as_str()), ("24.74%", "40.02%"));
    // Twice in the card (total and self: render_page is a leaf), once in the table.
    assert!(h.query_all_by_label(&before).count() >= 3, "{before}");
    assert!(h.query_all_by_label(&after).count() >= 3, "{after}");
    assert!(h.query_all_by_label_contains("+15.28 pts").count() >= 2);
}

#[test]
fn side_by_side_graphs_zoom_hover_and_search_together_and_transforms_apply_to_both() {
    let mut h = comparison_window("diff-base-2.perf.data", "diff-slow.perf.data");
    h.get_by_role_and_label(Role::Button, "Side by side")
        .click();
    h.run_steps(3);
    // Two graphs: every function has a box in each.
    assert_eq!(
        h.query_all_by_role_and_label(Role::Button, "render_page")
            .count(),
        2
    );
    // Zoom into render_page in the after graph: the before graph follows.
    h.get_all_by_role_and_label(Role::Button, "render_page")
        .last()
        .unwrap()
        .click();
    h.run_steps(3);
    {
        let cmp = h.state().comparison().unwrap();
        for side in [&cmp.before, &cmp.after] {
            let d = side.doc().unwrap();
            let z = d.flame.zoom.expect("zoomed");
            assert_eq!(d.profile.func_name(d.nodes.func[z.index()]), "render_page");
        }
    }
    // Back out in the before graph: the after graph follows.
    h.get_all_by_label("Reset zoom").next().unwrap().click();
    h.run_steps(3);
    {
        let cmp = h.state().comparison().unwrap();
        assert_eq!(cmp.before.doc().unwrap().flame.zoom, None);
        assert_eq!(cmp.after.doc().unwrap().flame.zoom, None);
    }
    // Hover parse_request before: the after graph's parse_request is the linked box.
    h.get_all_by_role_and_label(Role::Button, "parse_request")
        .next()
        .unwrap()
        .hover();
    h.run_steps(2);
    {
        let cmp = h.state().comparison().unwrap();
        let (from, path) = cmp.hovered_path.expect("a hovered path");
        assert_eq!(from, 0);
        let d = &cmp.data().unwrap().paths;
        let a = cmp.after.doc().unwrap();
        assert_eq!(d.after_node_of(path), Some(node_named(a, "parse_request")));
    }
    // One search for both.
    type_into(&mut h, "Search:", "render");
    wait_for(&mut h, "the search", compared);
    {
        let cmp = h.state().comparison().unwrap();
        for side in [&cmp.before, &cmp.after] {
            let d = side.doc().unwrap();
            let rp = &d.analysis.top;
            let own = rp
                .iter()
                .find(|s| d.profile.func_name(s.func) == "render_page")
                .unwrap()
                .total_weight;
            assert_eq!(d.search.matched, own, "{}", d.title);
        }
    }
    // Drop render_page from a box's menu: gone on both sides, the rest compared.
    let samples = |app: &App| {
        let c = app.comparison().unwrap();
        [&c.before, &c.after].map(|s| s.doc().unwrap().analysis.tree.samples)
    };
    let self_of = |app: &App, name: &str| {
        let c = app.comparison().unwrap();
        [&c.before, &c.after].map(|s| {
            let d = s.doc().unwrap();
            d.analysis
                .top
                .iter()
                .find(|t| d.profile.func_name(t.func) == name)
                .map_or(0, |t| t.self_samples)
        })
    };
    let (all, render) = (samples(h.state()), self_of(h.state(), "render_page"));
    h.get_all_by_role_and_label(Role::Button, "render_page")
        .last()
        .unwrap()
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Drop samples with function").click();
    h.run_steps(1);
    wait_for(&mut h, "the transform", compared);
    assert_eq!(samples(h.state()), [all[0] - render[0], all[1] - render[1]]);
    assert!(
        h.query_by_label_contains("drop: render_page").is_some(),
        "chip"
    );
    let d = h.state().comparison().unwrap().data().unwrap().clone();
    assert!(
        d.functions
            .functions
            .iter()
            .all(|f| f.name != "render_page" || (f.before_self == 0 && f.after_self == 0))
    );
    // Ctrl+Z undoes it on both sides (once the search box gave the keyboard back).
    h.key_press(egui::Key::Escape);
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(1);
    wait_for(&mut h, "the undo", compared);
    assert_eq!(samples(h.state()), all);
}

#[test]
fn a_time_range_applies_to_both_sides_from_each_start() {
    let mut h = comparison_window("diff-base-3.perf.data", "diff-slow.perf.data");
    {
        let c = h.state_mut().comparison_mut().unwrap();
        c.time_from = 0.1;
        c.time_to = 0.4;
    }
    h.run_steps(1);
    h.get_by_label("Apply range").click();
    h.run_steps(1);
    wait_for(&mut h, "the range", compared);
    let c = h.state().comparison().unwrap();
    for side in [&c.before, &c.after] {
        let d = side.doc().unwrap();
        let (start, _) = d.bounds.unwrap();
        let (a, b) = (start + 100_000_000, start + 400_000_000);
        assert_eq!(d.analysis.selection.ranges, vec![(a, b)], "{}", d.title);
        let p = &d.profile;
        let want = (0..p.samples.len())
            .filter(|&r| (a..b).contains(&p.samples.time_ns[r]))
            .count() as u64;
        assert!(want > 200, "{want}");
        assert_eq!(d.analysis.tree.samples, want, "{}", d.title);
    }
    let d = c.data().unwrap();
    assert_eq!(
        (d.functions.before_samples, d.functions.after_samples),
        (
            c.before.doc().unwrap().analysis.tree.samples,
            c.after.doc().unwrap().analysis.tree.samples
        )
    );
    assert!(
        h.query_by_label_contains("comparing 0.10 s to 0.40 s")
            .is_some()
    );
}

#[test]
fn compare_with_a_file_keeps_the_tabs_transforms_on_both_sides() {
    let mut h = window();
    open_sample(&mut h, "diff-slow.perf.data");
    transform_via_menu(&mut h, "compress_reply", "Drop samples with function");
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Compare with…").click();
    h.run_steps(2);
    // A .stkl before (another format) typed as a path.
    let dir = tempfile::tempdir().unwrap();
    let stkl = dir.path().join("base.stkl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stacklens"))
        .args([
            "convert",
            sample("diff-base-4.perf.data").to_str().unwrap(),
            "--output",
            stkl.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    type_into(&mut h, "Or a file:", &stkl.display().to_string());
    h.get_by_label("Compare").click();
    h.run_steps(1);
    wait_for(&mut h, "the comparison", compared);
    let c = h.state().comparison().unwrap();
    assert_eq!(c.before.title(), "base.stkl");
    assert_eq!(c.after.title(), "diff-slow.perf.data");
    for side in [&c.before, &c.after] {
        let d = side.doc().unwrap();
        assert_eq!(d.transforms.len(), 1, "{}", d.title);
        assert!(
            d.analysis
                .top
                .iter()
                .all(|s| d.profile.func_name(s.func) != "compress_reply"),
            "{}",
            d.title
        );
    }
    let f = &c.data().unwrap().functions.functions;
    assert_eq!(f[0].name, "render_page");
}

#[test]
fn record_dialog_lists_and_filters_processes_and_a_launched_command_fills_in_live() {
    // A process to find in the list: bin/hot, busy for a while.
    let mut target = std::process::Command::new(sample("bin/hot"))
        .arg("300")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = target.id() as i32;
    let mut h = window();
    // The start page's button (the File menu has the same).
    h.get_all_by_role_and_label(Role::Button, "Record…")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    wait_for(&mut h, "the process list", |app| {
        app.record_dialog.rows.iter().any(|r| r.pid == pid)
    });
    // The list has the process with its user; our own pid too.
    {
        let d = &h.state().record_dialog;
        let row = d.rows.iter().find(|r| r.pid == pid).unwrap();
        assert_eq!(row.name, "hot");
        assert!(!row.user.is_empty());
        assert!(d.rows.iter().any(|r| r.pid == std::process::id() as i32));
    }
    // Its CPU use shows after a second reading (it keeps one core busy, two threads).
    wait_for(&mut h, "a CPU reading", |app| {
        app.record_dialog
            .rows
            .iter()
            .any(|r| r.pid == pid && r.cpu > 20.0)
    });
    type_into(&mut h, "Filter:", &pid.to_string());
    {
        let d = &h.state().record_dialog;
        let visible = d.visible();
        assert!(
            !visible.is_empty()
                && visible
                    .iter()
                    .all(|r| r.pid.to_string().contains(&pid.to_string()))
        );
        assert!(visible.len() < d.rows.len());
    }
    assert!(
        h.query_by_label(&pid.to_string()).is_some(),
        "the row is shown"
    );
    let _ = target.kill();
    let _ = target.wait();

    // Launch a command: the views fill in while it runs, then it ends and the capture is saved.
    let dir = tempfile::tempdir().unwrap();
    type_into(
        &mut h,
        "Command:",
        &format!("{} 150", sample("bin/hot").display()),
    );
    h.get_by_label("Launch").click();
    h.run_steps(2);
    assert!(h.state().live().is_some(), "a live tab");
    let save = dir.path().join("live.stkl");
    h.state_mut().live_mut().unwrap().save_path = save.display().to_string();
    // Live: a document with samples while recording.
    wait_for(&mut h, "live samples", |app| {
        app.live().is_some_and(|l| {
            l.is_recording() && l.doc.as_ref().is_some_and(|d| d.analysis.tree.samples > 50)
        })
    });
    assert!(h.query_by_label_contains("Recording hot").is_some());
    assert!(
        flame_box(&h, "leaf_a"),
        "the flame graph shows the hot function"
    );
    // Pause: no new samples; Resume: they come again.
    h.get_by_label("Pause").click();
    h.run_steps(1);
    std::thread::sleep(Duration::from_millis(150));
    h.run_steps(1);
    let paused_at = h.state().live().unwrap().stats.samples;
    assert!(h.state().live().unwrap().stats.paused);
    std::thread::sleep(Duration::from_millis(400));
    h.run_steps(1);
    assert_eq!(h.state().live().unwrap().stats.samples, paused_at, "paused");
    h.get_by_label("Resume").click();
    wait_for(&mut h, "samples after Resume", |app| {
        app.live().unwrap().stats.samples > paused_at
    });
    // The command ends by itself: saved, and the tab shows the whole capture.
    wait_for(&mut h, "the save", |app| {
        app.live()
            .is_some_and(|l| matches!(l.phase, stacklens::ui::record::Phase::Done(_)))
            && !app.is_busy()
    });
    let l = h.state().live().unwrap();
    match &l.phase {
        stacklens::ui::record::Phase::Done(Ok(p)) => assert_eq!(p, &save),
        _ => panic!("not saved"),
    }
    assert!(l.stats.target_exited);
    let doc = l.doc.as_ref().unwrap();
    assert_eq!(
        doc.analysis.tree.samples, l.stats.samples,
        "every sample shown"
    );
    let reopened = stacklens_core::load(
        &save,
        &stacklens_core::LoadOptions::default(),
        &stacklens_core::Progress::new(),
    )
    .unwrap();
    assert_eq!(reopened.samples.len() as u64, l.stats.samples);
    assert!(h.query_by_label_contains("Saved").is_some());
}

#[test]
fn a_recording_that_cannot_start_says_why_in_the_dialog() {
    let mut h = window();
    h.get_all_by_role_and_label(Role::Button, "Record…")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    // A process that ended between the listing and the click.
    h.state_mut().record_dialog.selected = Some(999_999_999);
    h.run_steps(1);
    h.get_by_label("Attach").click();
    h.run_steps(2);
    assert!(h.state().live().is_none(), "no live tab");
    assert!(h.query_by_label("no process with pid 999999999").is_some());
    type_into(&mut h, "Command:", "/nonexistent/program");
    h.get_by_label("Launch").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("cannot run /nonexistent/program")
            .is_some()
    );
    assert!(h.state().tabs.is_empty());
}

/// A stack 100,000 frames deep opens, and every view draws it and answers clicks and keys:
/// nothing in the window walks the call tree by recursion. (tests/tests/deep_stacks.rs runs
/// the parsers, analyses and exporters on such stacks on a 256 KiB thread.)
#[test]
fn a_stack_100000_frames_deep_opens_in_every_view() {
    const DEPTH: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.folded");
    let mut text = (0..DEPTH)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(";");
    text.push_str(" 1000\nmain;work 2\nmain 1\n");
    std::fs::write(&path, text).unwrap();

    let mut h = window();
    type_into(&mut h, "Path:", &path.display().to_string());
    h.run_steps(2);
    h.get_by_label("Open path").click();
    h.run_steps(1);
    wait_for(&mut h, "the deep profile to load", ready);
    {
        let doc = h.state().document().unwrap();
        assert_eq!(doc.analysis.layout.rows as usize, DEPTH);
        assert_eq!(doc.nodes.len(), DEPTH + 2);
    }
    assert!(flame_box(&h, "f0"));
    // Zoom into the root of the deep chain; Down walks into its child, Up back out.
    h.get_by_role_and_label(Role::Button, "f0").click();
    h.run_steps(3);
    assert!(h.state().document().unwrap().flame.zoom.is_some());
    type_into(&mut h, "Search:", "^f99999$");
    assert!(h.state().document().unwrap().search.matched >= 1000);
    // Zoomed into the deepest frame, the breadcrumb trail keeps its ends: 99,999 crumbs laid
    // out every frame would stall the window. Up and Down move the selection from there.
    {
        use stacklens::ui::flame::Graph;
        let doc = h.state_mut().document_mut().unwrap();
        let (nodes, analysis) = (doc.nodes.clone(), doc.analysis.clone());
        let leaf = (0..nodes.len())
            .find(|&i| nodes.depth[i] as usize == DEPTH - 1)
            .unwrap();
        let leaf = stacklens_core::model::CallNodeId::from_index(leaf);
        doc.flame.zoom_to(&Graph::main(&nodes, &analysis), leaf);
    }
    h.run_steps(3);
    assert!(
        h.query_by_label(&format!("› … {} more", DEPTH - 24))
            .is_some()
    );
    for key in [egui::Key::ArrowDown, egui::Key::ArrowUp, egui::Key::Escape] {
        h.key_press(key);
        h.run_steps(2);
    }

    switch_view(&mut h, "Inverted");
    let doc = h.state().document().unwrap();
    let inverted = doc
        .inverted
        .latest()
        .expect("the bottom-up tree was computed");
    let depth = inverted.nodes.depth.iter().max().copied();
    assert_eq!(depth, Some(DEPTH as u32 - 1));

    switch_view(&mut h, "Call tree");
    // The heaviest path opens a few levels by itself; `*` expands everything below the
    // selected first row (a bounded number of nodes per press).
    assert!(h.query_by_label("f11").is_some());
    assert!(h.query_by_label("f13").is_none());
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(1);
    h.event(egui::Event::Text("*".into()));
    h.run_steps(2);
    // Rows below the opened path fill the table (as many as the window shows).
    assert!(h.query_all_by_label("f15").count() > 0);
    h.get_by_label("Bottom-up").click();
    h.run_steps(2);
    wait_for(&mut h, "the bottom-up tree", ready);

    switch_view(&mut h, "Sunburst");
    assert!(h.state().document().unwrap().sunburst.painted > 0);
    switch_view(&mut h, "Heat map");

    switch_view(&mut h, "Flame graph");
    h.get_all_by_role_and_label(Role::Button, "f0")
        .next()
        .unwrap()
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Callers and callees").click();
    h.run_steps(2);
    wait_for(&mut h, "the sandwich", ready);
    h.run_steps(3);
    let doc = h.state().document().unwrap();
    let s = doc.sandwich.latest().expect("computed");
    let callees = s.callees.nodes.depth.iter().max().copied();
    assert_eq!(callees, Some(DEPTH as u32 - 1));
}
