//! CPU cost of one whole window frame, headless: `App::ui` (side panel, table, flame graph) plus
//! egui's tessellation, at 1280×800.
//!
//! - `frame/flame-1M-nodes`: a generated profile whose flame graph has over a million call
//!   nodes (random deep stacks over 12 modules), whole graph shown, then zoomed into a node.
//! - `frame/demo`: the bundled demo profile (`sample-profiles/demo.perf.data`).
//!
//! `cargo bench -p stacklens --bench ui_frame`

use criterion::{Criterion, criterion_group, criterion_main};
use stacklens::ui::document::{Document, Loaded, View};
use stacklens::ui::{App, Options, Settings};
use stacklens_core::model::{FuncKind, ModuleKind, Profile, ProfileBuilder, Unit};
use stacklens_core::{LoadOptions, Progress, load};
use std::hint::black_box;
use std::path::PathBuf;

const MIN_NODES: usize = 1_000_000;
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Random deep stacks until the call tree has a million nodes. Deterministic (an LCG).
fn million_node_profile(seed: u64) -> Profile {
    let mut b = ProfileBuilder::new("generated");
    let ty = b.add_sample_type("cpu-clock", Unit::Nanoseconds);
    let thread = b.add_thread(1, 1);
    let modules: Vec<_> = (0..12)
        .map(|m| b.add_module(&format!("/usr/lib/libgen{m}.so"), "", ModuleKind::Native))
        .collect();
    // Level l offers 2 + 3l functions, so paths fan out quickly as they deepen.
    let max_depth = 48;
    let frames: Vec<Vec<_>> = (0..max_depth)
        .map(|l| {
            (0..2 + 3 * l)
                .map(|c| {
                    let module = modules[(l * 7 + c) % modules.len()];
                    let name = format!("gen{}::level_{l}::function_{c}", (l + c) % 12);
                    b.add_named_frame(&name, module, FuncKind::Native)
                })
                .collect()
        })
        .collect();
    let mut state: u64 = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut time = 0u64;
    let mut path = Vec::with_capacity(max_depth);
    while b.stack_count() < MIN_NODES + MIN_NODES / 20 {
        let depth = 4 + next() % (max_depth - 4);
        path.clear();
        for level in frames.iter().take(depth) {
            // Skewed towards the first functions: some paths are hot, most are cold.
            let r = next() % level.len();
            let c = if next() % 4 == 0 { r } else { r / 3 };
            path.push(level[c]);
        }
        let stack = b.add_stack_root_first(path.iter().copied());
        time += 1_000_000;
        b.add_sample_one(thread, stack, time, ty, 1_000_000 + (next() % 1000) as i64);
    }
    b.freeze()
}

fn demo_profile() -> Profile {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-profiles"));
    let mut opts = LoadOptions::default();
    opts.symbols.search_dirs = vec![dir.join("bin")];
    load(&dir.join("demo.perf.data"), &opts, &Progress::new()).expect("the demo profile")
}

/// A window showing `profile`, with a few frames run so that fonts and layout are warm.
fn window(profile: Profile, ctx: &egui::Context) -> App {
    let settings = Settings {
        demo_shown: true,
        ..Settings::default()
    };
    let mut app = App::new(settings, Options::default(), ctx);
    let doc = Document::new(
        PathBuf::from("bench"),
        "bench".into(),
        Loaded::prepare(profile),
    );
    app.add_document(doc);
    app
}

fn input() -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    }
}

/// One frame: the UI pass and tessellation into triangles (what a renderer gets).
fn frame(ctx: &egui::Context, app: &mut App) -> usize {
    let out = ctx.run_ui(input(), |ui| app.ui(ui));
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    prims.len()
}

/// Frames until the work they started on workers is in: a few to start it, then until done.
fn settle(ctx: &egui::Context, app: &mut App) {
    for _ in 0..3 {
        frame(ctx, app);
    }
    while app.is_busy() {
        frame(ctx, app);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");

    let ctx = egui::Context::default();
    let profile = million_node_profile(SEED);
    let mut app = window(profile, &ctx);
    for _ in 0..3 {
        frame(&ctx, &mut app);
    }
    let (nodes, painted) = {
        let doc = app.document().expect("document");
        (doc.nodes.len(), doc.flame.painted)
    };
    assert!(nodes >= MIN_NODES, "{nodes} call nodes");
    eprintln!("flame-1M-nodes: {nodes} call nodes, {painted} boxes painted per frame");
    group.bench_function("flame-1M-nodes/whole", |b| {
        b.iter(|| black_box(frame(&ctx, &mut app)))
    });

    // Zoomed into the heaviest node at depth 3: deep rows, many labels.
    {
        let doc = app.document_mut().expect("document");
        let a = doc.analysis.clone();
        let nodes = doc.nodes.clone();
        let target = (0..doc.nodes.len())
            .filter(|&i| doc.nodes.depth[i] == 3)
            .max_by_key(|&i| a.tree.total_weight[i])
            .expect("a node at depth 3");
        doc.flame.zoom_to(
            &stacklens::ui::flame::Graph::main(&nodes, &a),
            stacklens_core::model::CallNodeId::from_index(target),
        );
    }
    frame(&ctx, &mut app);
    eprintln!(
        "flame-1M-nodes zoomed: {} boxes painted per frame",
        app.document().expect("document").flame.painted
    );
    group.bench_function("flame-1M-nodes/zoomed", |b| {
        b.iter(|| black_box(frame(&ctx, &mut app)))
    });

    // The other views of the same million-node tree (their data computed on workers first).
    for view in [
        View::Sunburst,
        View::Tree,
        View::Inverted,
        View::Sandwich,
        View::HeatMap,
    ] {
        app.document_mut().expect("document").view = view;
        let start = std::time::Instant::now();
        settle(&ctx, &mut app);
        let name = format!("{view:?}-1M-nodes").to_lowercase();
        frame(&ctx, &mut app);
        eprintln!(
            "{name}: its data ready {:.0} ms after the switch",
            start.elapsed().as_secs_f64() * 1e3,
        );
        group.bench_function(&name, |b| b.iter(|| black_box(frame(&ctx, &mut app))));
    }

    // A comparison of two million-node profiles from different seeds (most paths differ).
    {
        use stacklens::ui::compare::{CompareView, Comparison, Setup, Side};
        let ctx = egui::Context::default();
        let mut app = window(demo_profile(), &ctx);
        let side = |seed: u64, name: &str| {
            Side::Ready(Box::new(Document::new(
                PathBuf::from(name),
                name.into(),
                Loaded::prepare(million_node_profile(seed)),
            )))
        };
        let cmp = Comparison::new(
            side(SEED, "before"),
            side(SEED ^ 0x5555, "after"),
            Setup::default(),
        );
        app.add_comparison(cmp);
        let start = std::time::Instant::now();
        settle(&ctx, &mut app);
        frame(&ctx, &mut app);
        let paths = app
            .comparison()
            .and_then(|c| c.data().map(|d| d.paths.paths.len()))
            .unwrap_or(0);
        eprintln!(
            "compare-1M-nodes: {paths} call paths compared {:.0} ms after opening",
            start.elapsed().as_secs_f64() * 1e3
        );
        group.bench_function("compare-1M-nodes/differential", |b| {
            b.iter(|| black_box(frame(&ctx, &mut app)))
        });
        app.comparison_mut().expect("comparison").view = CompareView::SideBySide;
        frame(&ctx, &mut app);
        group.bench_function("compare-1M-nodes/side-by-side", |b| {
            b.iter(|| black_box(frame(&ctx, &mut app)))
        });
    }

    let ctx = egui::Context::default();
    let mut app = window(demo_profile(), &ctx);
    for _ in 0..3 {
        frame(&ctx, &mut app);
    }
    let doc = app.document().expect("document");
    eprintln!(
        "demo: {} call nodes, {} boxes painted per frame",
        doc.nodes.len(),
        doc.flame.painted
    );
    group.bench_function("demo", |b| b.iter(|| black_box(frame(&ctx, &mut app))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
