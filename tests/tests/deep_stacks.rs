//! One stack 100,000 frames deep, in every input format, on a thread with a 256 KiB stack in
//! the debug build (whose frames are big): parsed, checked, aggregated, transformed, laid out,
//! exported to every output format and read back, formatted with `{:?}` and dropped. Any
//! recursion on stack depth in that path overflows the thread and fails the test.
//!
//! Every input is generated here, with the deep stack `f0;f1;…;f99999` (root first) carrying
//! most of the weight and a few ordinary samples (`main;work`, `main`) around it. Inputs made
//! of nested spans (Chrome trace, speedscope's evented profiles, puffin) open every level at
//! one time and close it at another, so only the innermost level has self time: a self weight
//! at every level would make the deep profile quadratic in size for the bottom-up tree and
//! every exporter (100,000 stacks of 50,000 frames on average), whatever the code.

use regex::Regex;
use stacklens_core::analysis::{
    CallNodeTable, FlameLayout, Selection, Transform, bottom_up, sandwich, top_functions, transform,
};
use stacklens_core::export::{self, ExportFormat, ExportOptions};
use stacklens_core::model::{FuncId, FuncKind, ModuleId, Profile, ProfileBuilder, StackId, Unit};
use stacklens_core::symbols::SymbolOptions;
use stacklens_core::{LoadOptions, Progress, load_bytes};
use std::fmt::Write as _;
use std::time::Instant;

/// Frames of the deep stack.
const DEPTH: usize = 100_000;
/// Stack of the thread everything runs on.
const SMALL_STACK: usize = 256 * 1024;
/// Weight of the deep stack's sample(s); the ordinary ones weigh a few units, so the deep
/// chain holds more than 1% of every total (hide-below keeps it) and its boxes are wide.
const DEEP_WEIGHT: i64 = 1000;

/// Name of the deep stack's frame at `depth` (0 = root).
fn name(depth: usize) -> String {
    format!("f{depth}")
}

/// What a loaded input must show.
struct Expect {
    /// Frames of the deepest stack.
    depth: usize,
    /// Its frames are named `f0`, `f1`, … from the root (formats that carry names).
    named: bool,
}

const NAMED: Expect = Expect {
    depth: DEPTH,
    named: true,
};

/// Loads `bytes` and runs everything on a thread with a [`SMALL_STACK`].
fn run(label: &str, bytes: Vec<u8>, opts: LoadOptions, expect: Expect) {
    let label = label.to_owned();
    let thread_label = label.clone();
    let started = Instant::now();
    std::thread::Builder::new()
        .name(format!("deep {label}"))
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let p = load_bytes(&bytes, &opts, &Progress::new())
                .unwrap_or_else(|e| panic!("{thread_label}: {e}"));
            drop(bytes);
            exercise(&thread_label, p, &expect);
        })
        .expect("spawning the small-stack thread")
        .join()
        .unwrap_or_else(|_| panic!("{label}: the small-stack thread panicked"));
    eprintln!("{label}: {:.1} s", started.elapsed().as_secs_f64());
}

/// The functions of the deepest stack that has samples, root first, found by walking the
/// stack table from its leaf.
fn deepest_chain(p: &Profile) -> Vec<FuncId> {
    // Depth of every stack in one forward pass (a parent comes before its children).
    let mut depth = vec![0u32; p.stacks.len()];
    for s in 0..p.stacks.len() {
        depth[s] = p.stacks.parent[s].get().map_or(0, |up| depth[up.index()]) + 1;
    }
    let Some(leaf) = p
        .samples
        .stack
        .iter()
        .filter_map(|s| s.get())
        .max_by_key(|s| depth[s.index()])
    else {
        return Vec::new();
    };
    let mut chain = Vec::new();
    let mut cur = StackId::from_index(leaf.index());
    while let Some(c) = cur.get() {
        chain.push(p.frames.func[p.stacks.frame[c.index()].index()]);
        cur = p.stacks.parent[c.index()];
    }
    chain.reverse();
    chain
}

/// The names of the deepest stack, root first.
fn chain_names(p: &Profile) -> Vec<String> {
    deepest_chain(p)
        .into_iter()
        .map(|f| p.func_name(f).to_owned())
        .collect()
}

/// A `fmt::Write` that only counts: `{:?}` of a whole profile without holding the text.
#[derive(Default)]
struct Count(usize);

impl std::fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

fn debug_len(v: &impl std::fmt::Debug) -> usize {
    let mut c = Count::default();
    write!(c, "{v:?}").expect("counting never fails");
    c.0
}

/// Everything a deep profile goes through, with its depth asserted at each step.
fn exercise(label: &str, p: Profile, expect: &Expect) {
    p.check().unwrap_or_else(|e| panic!("{label}: {e}"));
    let names = chain_names(&p);
    let d = expect.depth;
    assert_eq!(names.len(), d, "{label}: depth of the deepest stack");
    if expect.named {
        for (i, n) in names.iter().enumerate() {
            assert_eq!(*n, name(i), "{label}: frame {i} from the root");
        }
    }
    let chain = deepest_chain(&p);
    let (mid, leaf) = (chain[d / 2], chain[d - 1]);

    // Aggregation.
    let ty = p.default_sample_type();
    let nodes = CallNodeTable::build(&p);
    let tree = nodes.tree(&p, &Selection::all(ty));
    assert_eq!(
        nodes.depth.iter().max().map(|&x| x as usize + 1),
        Some(d),
        "{label}: call tree depth"
    );
    let top = top_functions(&p, &nodes, &tree);
    let leaf_stat = top
        .iter()
        .find(|s| s.func == leaf)
        .expect("the leaf has weight");
    assert!(leaf_stat.self_weight > 0, "{label}: the leaf's self weight");
    let mid_stat = top
        .iter()
        .find(|s| s.func == mid)
        .expect("the middle has weight");
    assert!(
        mid_stat.total_weight >= leaf_stat.self_weight,
        "{label}: the middle's total includes the leaf"
    );
    let up = bottom_up(&p, &nodes, &tree);
    assert_eq!(
        up.nodes.depth.iter().max().map(|&x| x as usize + 1),
        Some(d),
        "{label}: bottom-up depth"
    );
    let sw = sandwich(&p, &nodes, &tree, mid);
    let deepest = |t: &stacklens_core::analysis::DerivedTree| {
        t.nodes.depth.iter().max().map_or(0, |&x| x as usize + 1)
    };
    assert_eq!(
        deepest(&sw.callers),
        d / 2 + 1,
        "{label}: callers of the middle"
    );
    assert_eq!(
        deepest(&sw.callees),
        d - d / 2,
        "{label}: callees of the middle"
    );
    let layout = FlameLayout::build(&nodes, &tree);
    assert_eq!(layout.rows as usize, d, "{label}: flame graph rows");
    for v in [
        debug_len(&nodes),
        debug_len(&tree),
        debug_len(&layout),
        debug_len(&up),
        debug_len(&sw),
        debug_len(&top),
    ] {
        assert!(v > 0);
    }
    drop((nodes, tree, layout, up, sw, top));

    // Transforms, each checked by the depth it must leave.
    let exact = |f: FuncId| Transform::exact(p.func_name(f));
    let odd = Regex::new("[13579]$").unwrap();
    let kept_by_merge = names.iter().filter(|n| !odd.is_match(n)).count();
    let transforms = [
        (
            Transform::FocusFunction {
                pattern: exact(mid),
            },
            Some(d - d / 2),
        ),
        (
            Transform::FocusSubtree {
                path: names[..d / 2 + 1].to_vec(),
            },
            Some(d - d / 2),
        ),
        (
            Transform::Merge {
                pattern: odd.as_str().to_owned(),
            },
            Some(kept_by_merge),
        ),
        // The deep stack leaves: what remains is the ordinary samples.
        (
            Transform::Drop {
                pattern: exact(leaf),
            },
            None,
        ),
        (Transform::CollapseRecursion { pattern: None }, Some(d)),
        (
            Transform::CollapseRecursion {
                pattern: Some(".".into()),
            },
            Some(d),
        ),
        (Transform::HideBelow { basis_points: 100 }, Some(d)),
    ];
    for (t, want) in transforms {
        let q = transform::apply(&p, std::slice::from_ref(&t))
            .unwrap_or_else(|e| panic!("{label}: {}: {e}", t.label()));
        q.check()
            .unwrap_or_else(|e| panic!("{label}: {}: {e}", t.label()));
        let got = deepest_chain(&q).len();
        match want {
            Some(want) => assert_eq!(got, want, "{label}: depth after {}", t.label()),
            None => assert!(got < 10, "{label}: depth after {}: {got}", t.label()),
        }
    }

    // Every output format, each read back (SVG is not an input format). pprof is written
    // without gzip: the wrapper does not depend on the depth (the pprof input is gzipped), and
    // packing and unpacking it in a debug build would double the round trip's time.
    let opts = ExportOptions {
        sample_type: ty,
        title: label.to_owned(),
    };
    for format in [
        ExportFormat::Folded,
        ExportFormat::Pprof { gzip: false },
        ExportFormat::Speedscope,
        ExportFormat::Svg,
        ExportFormat::Stkl,
    ] {
        let mut out = Vec::new();
        export::write(&p, format, &opts, &mut out)
            .unwrap_or_else(|e| panic!("{label}: export {format:?}: {e}"));
        if format == ExportFormat::Svg {
            let text = std::str::from_utf8(&out).expect("the SVG is UTF-8");
            assert!(text.trim_end().ends_with("</svg>"), "{label}: SVG end");
            // One `<g>` per box: the deep chain is wide enough to draw whole.
            let boxes = text.matches("<g data-x=").count();
            assert!(boxes >= d, "{label}: {boxes} SVG boxes");
            continue;
        }
        let back = load_bytes(&out, &LoadOptions::default(), &Progress::new())
            .unwrap_or_else(|e| panic!("{label}: re-import of {format:?}: {e}"));
        drop(out);
        back.check()
            .unwrap_or_else(|e| panic!("{label}: re-import of {format:?}: {e}"));
        assert!(
            chain_names(&back) == names,
            "{label}: the deep stack read back from {format:?}"
        );
        assert!(debug_len(&back) > 0);
    }

    // `Debug` of the whole profile, then everything is dropped here.
    assert!(debug_len(&p) > DEPTH);
    drop(p);
}

// ---- Inputs.

/// The deep stack's names, root first, joined by `sep`.
fn joined(sep: &str) -> String {
    let mut s = String::with_capacity(DEPTH * 8);
    for i in 0..DEPTH {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&name(i));
    }
    s
}

#[test]
fn folded() {
    // The deep line first: a file's first line can be longer than any sniffing window.
    let text = format!("{} {DEEP_WEIGHT}\nmain;work 2\nmain 1\n", joined(";"));
    run("folded", text.into_bytes(), LoadOptions::default(), NAMED);
}

#[test]
fn perf_script() {
    let mut text = String::new();
    let mut sample = |time: &str, period: i64, frames: &mut dyn Iterator<Item = String>| {
        writeln!(text, "deep 42  5288.{time}:    {period} cpu-clock:u: ").unwrap();
        for (k, f) in frames.enumerate() {
            writeln!(text, "\t{:16x} {f}+0x4 (/work/bin/deep)", 0x1000 + 16 * k).unwrap();
        }
        text.push('\n');
    };
    sample(
        "000001",
        1,
        &mut ["work", "main"].map(String::from).into_iter(),
    );
    sample("000002", DEEP_WEIGHT, &mut (0..DEPTH).rev().map(name));
    sample("000003", 1, &mut ["main"].map(String::from).into_iter());
    run(
        "perf script",
        text.into_bytes(),
        LoadOptions::default(),
        NAMED,
    );
}

// -- pprof, encoded by hand (profile.proto), gzipped.

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field.
fn field(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
    varint(out, u64::from(tag) << 3 | 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A varint field.
fn vfield(out: &mut Vec<u8>, tag: u32, v: u64) {
    varint(out, u64::from(tag) << 3);
    varint(out, v);
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks: the wrapper the
/// loader must unpack, without a compression library in this crate.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut crc_table = [0u32; 256];
    for (i, e) in crc_table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    let crc = !data.iter().fold(!0u32, |c, &b| {
        crc_table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    });
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut blocks = data.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(b) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[test]
fn pprof() {
    // Strings: "", "samples", "count", then the function names; function and location i + 1
    // are name i + 3.
    let mut strings: Vec<String> = vec!["".into(), "samples".into(), "count".into()];
    strings.extend((0..DEPTH).map(name));
    strings.extend(["main".into(), "work".into()]);
    let n_funcs = DEPTH + 2;
    let (main_id, work_id) = (DEPTH as u64 + 1, DEPTH as u64 + 2);
    let mut msg = Vec::new();
    let mut sub = Vec::new();
    vfield(&mut sub, 1, 1);
    vfield(&mut sub, 2, 2);
    field(&mut msg, 1, &sub);
    // Samples: location ids leaf first, packed.
    let mut sample = |ids: &mut dyn Iterator<Item = u64>, value: i64| {
        let mut packed = Vec::new();
        for id in ids {
            varint(&mut packed, id);
        }
        let mut s = Vec::new();
        field(&mut s, 1, &packed);
        let mut v = Vec::new();
        varint(&mut v, value as u64);
        field(&mut s, 2, &v);
        field(&mut msg, 2, &s);
    };
    sample(&mut (1..=DEPTH as u64).rev(), DEEP_WEIGHT);
    sample(&mut [work_id, main_id].into_iter(), 2);
    sample(&mut [main_id].into_iter(), 1);
    for id in 1..=n_funcs as u64 {
        let mut line = Vec::new();
        vfield(&mut line, 1, id);
        let mut loc = Vec::new();
        vfield(&mut loc, 1, id);
        field(&mut loc, 4, &line);
        field(&mut msg, 4, &loc);
    }
    for id in 1..=n_funcs as u64 {
        let mut f = Vec::new();
        vfield(&mut f, 1, id);
        vfield(&mut f, 2, id + 2);
        field(&mut msg, 5, &f);
    }
    for s in &strings {
        field(&mut msg, 6, s.as_bytes());
    }
    run("pprof", gzip_stored(&msg), LoadOptions::default(), NAMED);
}

// -- Chrome.

#[test]
fn chrome_cpuprofile() {
    // Node 1 is V8's (root); node i + 2 is f{i}, the only child of node i + 1. Then main and
    // work under the root. Links alternate between the two forms V8 writes: the parent's
    // `children` (the protocol's form) into even levels, the child's `parent` (the form inside
    // traces) into odd ones.
    let (main_id, work_id) = (DEPTH + 2, DEPTH + 3);
    let node = |s: &mut String,
                id: usize,
                func: &str,
                children: &[usize],
                parent: Option<usize>| {
        let kids: Vec<String> = children.iter().map(|c| c.to_string()).collect();
        write!(
            s,
            r#"{{"id":{id},"callFrame":{{"functionName":"{func}","scriptId":"1","url":"","lineNumber":-1,"columnNumber":-1}},"hitCount":0,"children":[{}]"#,
            kids.join(",")
        )
        .unwrap();
        if let Some(up) = parent {
            write!(s, r#","parent":{up}"#).unwrap();
        }
        s.push_str("},");
    };
    let mut s = String::from(r#"{"nodes":["#);
    node(&mut s, 1, "(root)", &[2, main_id], None);
    for i in 0..DEPTH {
        let id = i + 2;
        let child_listed = i + 1 < DEPTH && (i + 1) % 2 == 0;
        let kids: &[usize] = if child_listed { &[id + 1] } else { &[] };
        let parent = (i % 2 == 1).then_some(id - 1);
        node(&mut s, id, &name(i), kids, parent);
    }
    node(&mut s, main_id, "main", &[work_id], None);
    node(&mut s, work_id, "work", &[], None);
    s.pop();
    let mut samples = vec![DEPTH + 1; 10];
    samples.extend([work_id, main_id]);
    let ids: Vec<String> = samples.iter().map(|x| x.to_string()).collect();
    let deltas = vec!["1000"; samples.len()];
    write!(
        s,
        r#"],"startTime":0,"endTime":{},"samples":[{}],"timeDeltas":[{}]}}"#,
        samples.len() * 1000,
        ids.join(","),
        deltas.join(",")
    )
    .unwrap();
    run("cpuprofile", s.into_bytes(), LoadOptions::default(), NAMED);
}

/// A trace of one thread: `deep` events for the deep stack, then main/work as B/E.
fn trace(deep: impl FnOnce(&mut String)) -> Vec<u8> {
    let mut s = String::from(r#"{"traceEvents":["#);
    s.push_str(r#"{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"deep"}},"#);
    deep(&mut s);
    for (ph, name, ts) in [
        ("B", "main", 200),
        ("B", "work", 201),
        ("E", "work", 203),
        ("E", "main", 204),
    ] {
        write!(
            s,
            r#"{{"ph":"{ph}","name":"{name}","pid":1,"tid":1,"ts":{ts}}},"#
        )
        .unwrap();
    }
    s.pop();
    s.push_str("]}");
    s.into_bytes()
}

#[test]
fn chrome_trace_begin_end() {
    // Every level opens at 0 and closes at 100 µs: only the innermost has self time.
    let bytes = trace(|s| {
        for i in 0..DEPTH {
            write!(
                s,
                r#"{{"ph":"B","name":"{}","pid":1,"tid":1,"ts":0}},"#,
                name(i)
            )
            .unwrap();
        }
        for i in (0..DEPTH).rev() {
            write!(
                s,
                r#"{{"ph":"E","name":"{}","pid":1,"tid":1,"ts":100}},"#,
                name(i)
            )
            .unwrap();
        }
    });
    run("trace B/E", bytes, LoadOptions::default(), NAMED);
}

#[test]
fn chrome_trace_complete() {
    // Complete events with one start and duration nest in file order.
    let bytes = trace(|s| {
        for i in 0..DEPTH {
            write!(
                s,
                r#"{{"ph":"X","name":"{}","pid":1,"tid":1,"ts":0,"dur":100}},"#,
                name(i)
            )
            .unwrap();
        }
    });
    run("trace X", bytes, LoadOptions::default(), NAMED);
}

// -- speedscope.

/// A speedscope file whose shared frames are f0…f99999, main, work and whose profile is
/// `profile`.
fn speedscope(profile: &str) -> Vec<u8> {
    let mut s = String::from(
        r#"{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":["#,
    );
    for i in 0..DEPTH {
        write!(s, r#"{{"name":"{}"}},"#, name(i)).unwrap();
    }
    s.push_str(r#"{"name":"main"},{"name":"work"}]},"profiles":["#);
    s.push_str(profile);
    s.push_str("]}");
    s.into_bytes()
}

#[test]
fn speedscope_sampled() {
    let (main, work) = (DEPTH, DEPTH + 1);
    let deep: Vec<String> = (0..DEPTH).map(|i| i.to_string()).collect();
    let profile = format!(
        r#"{{"type":"sampled","name":"deep","unit":"none","startValue":0,"endValue":{},"samples":[[{}],[{main},{work}],[{main}]],"weights":[{DEEP_WEIGHT},2,1]}}"#,
        DEEP_WEIGHT + 3,
        deep.join(",")
    );
    run(
        "speedscope sampled",
        speedscope(&profile),
        LoadOptions::default(),
        NAMED,
    );
}

#[test]
fn speedscope_evented() {
    let (main, work) = (DEPTH, DEPTH + 1);
    let mut events = String::new();
    for i in 0..DEPTH {
        write!(events, r#"{{"type":"O","at":0,"frame":{i}}},"#).unwrap();
    }
    for i in (0..DEPTH).rev() {
        write!(events, r#"{{"type":"C","at":100,"frame":{i}}},"#).unwrap();
    }
    write!(
        events,
        r#"{{"type":"O","at":200,"frame":{main}}},{{"type":"O","at":201,"frame":{work}}},{{"type":"C","at":203,"frame":{work}}},{{"type":"C","at":204,"frame":{main}}}"#
    )
    .unwrap();
    let profile = format!(
        r#"{{"type":"evented","name":"deep","unit":"microseconds","startValue":0,"endValue":204,"events":[{events}]}}"#
    );
    run(
        "speedscope evented",
        speedscope(&profile),
        LoadOptions::default(),
        NAMED,
    );
}

// -- puffin, written by hand as puffin 0.19+ saves it (see core/src/formats/puffin).

/// A bincode varint as puffin's `bincode::options()` writes it.
fn bin_varint(out: &mut Vec<u8>, v: u64) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn bin_ivarint(out: &mut Vec<u8>, v: i64) {
    bin_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn bin_string(out: &mut Vec<u8>, s: &str) {
    bin_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Bytes of a scope without data, apart from its children: `(`, id, start, data length,
/// children size, `)`, stop.
const SCOPE_BYTES: u64 = 1 + 4 + 8 + 1 + 8 + 1 + 8;

/// Opens a scope whose children take `children` bytes.
fn open_scope(out: &mut Vec<u8>, id: u32, start: i64, children: u64) {
    out.push(b'(');
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&children.to_le_bytes());
}

fn close_scope(out: &mut Vec<u8>, stop: i64) {
    out.push(b')');
    out.extend_from_slice(&stop.to_le_bytes());
}

#[test]
fn puffin() {
    const T0: i64 = 1_700_000_000_000_000_000;
    // Scope id i + 1 is f{i}; main and work follow. Every deep scope runs from T0 to T0 + 100
    // µs (only the innermost has self time), then main [200, 204) µs holds work [201, 203).
    let (main, work) = (DEPTH as u32 + 1, DEPTH as u32 + 2);
    let us = |t: i64| T0 + t * 1000;
    let mut stream = Vec::new();
    for i in 0..DEPTH {
        let inside = (DEPTH - 1 - i) as u64 * SCOPE_BYTES;
        open_scope(&mut stream, i as u32 + 1, us(0), inside);
    }
    for _ in 0..DEPTH {
        close_scope(&mut stream, us(100));
    }
    open_scope(&mut stream, main, us(200), SCOPE_BYTES);
    open_scope(&mut stream, work, us(201), 0);
    close_scope(&mut stream, us(203));
    close_scope(&mut stream, us(204));

    let mut meta = Vec::new();
    bin_varint(&mut meta, 1); // frame index
    bin_ivarint(&mut meta, us(0));
    bin_ivarint(&mut meta, us(204));
    bin_varint(&mut meta, stream.len() as u64);
    bin_varint(&mut meta, DEPTH as u64 + 2);
    let mut streams = Vec::new();
    bin_varint(&mut streams, 1); // threads
    streams.push(1); // start time: Some
    bin_ivarint(&mut streams, T0);
    bin_string(&mut streams, "main");
    bin_varint(&mut streams, stream.len() as u64);
    streams.extend_from_slice(&stream);
    bin_varint(&mut streams, DEPTH as u64 + 2); // scopes
    bin_varint(&mut streams, DEPTH as u64); // depth
    bin_ivarint(&mut streams, us(0));
    bin_ivarint(&mut streams, us(204));
    let mut details = Vec::new();
    bin_varint(&mut details, DEPTH as u64 + 2);
    let names = (0..DEPTH).map(name).chain(["main".into(), "work".into()]);
    for (i, n) in names.enumerate() {
        details.push(1);
        bin_varint(&mut details, i as u64 + 1);
        details.push(1);
        bin_string(&mut details, &n);
        bin_string(&mut details, &n);
        bin_string(&mut details, "src/deep.rs");
        bin_varint(&mut details, 1);
    }
    let mut file = b"PUF0PFD4".to_vec();
    file.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    file.extend_from_slice(&meta);
    file.extend_from_slice(&(streams.len() as u32).to_le_bytes());
    file.push(0); // not compressed
    file.extend_from_slice(&streams);
    file.extend_from_slice(&(details.len() as u32).to_le_bytes());
    file.extend_from_slice(&details);
    run("puffin", file, LoadOptions::default(), NAMED);
}

#[test]
fn stkl() {
    let mut b = ProfileBuilder::new("deep");
    let ty = b.add_sample_type("samples", Unit::Count);
    let t = b.add_thread(1, 1);
    let mut s = StackId::NONE;
    for i in 0..DEPTH {
        let f = b.add_named_frame(&name(i), ModuleId::NONE, FuncKind::Native);
        s = b.add_stack(s, f);
    }
    b.add_sample_one(t, s, 0, ty, DEEP_WEIGHT);
    let main = b.add_named_frame("main", ModuleId::NONE, FuncKind::Native);
    let work = b.add_named_frame("work", ModuleId::NONE, FuncKind::Native);
    let m = b.add_stack(StackId::NONE, main);
    let mw = b.add_stack(m, work);
    b.add_sample_one(t, mw, 1, ty, 2);
    b.add_sample_one(t, m, 2, ty, 1);
    let p = b.freeze();
    let mut bytes = Vec::new();
    stacklens_core::formats::stkl::write(&p, &mut bytes).unwrap();
    drop(p);
    run("stkl", bytes, LoadOptions::default(), NAMED);
}

// -- perf.data, written by hand (as core's perf_data tests craft them).

/// Largest record: the header's size field is a `u16`, and records are 8-byte aligned.
const MAX_RECORD: usize = u16::MAX as usize & !7;
const SAMPLE_IP: u64 = 1;
const SAMPLE_TID: u64 = 2;
const SAMPLE_CALLCHAIN: u64 = 32;
const CONTEXT_USER: u64 = (-512i64) as u64;

fn words(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn record(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut r = kind.to_le_bytes().to_vec();
    r.extend_from_slice(&2u16.to_le_bytes()); // cpumode user
    r.extend_from_slice(&u16::try_from(8 + body.len()).unwrap().to_le_bytes());
    r.extend_from_slice(body);
    r
}

#[test]
fn perf_data() {
    // A SAMPLE record's size is a u16: with ip, pid/tid and the callchain's length that leaves
    // room for (65,528 − 8 − 24) / 8 = 8,187 callchain entries. As perf writes them, the first
    // is the PERF_CONTEXT_USER marker and the second repeats the sampled ip, so the deepest
    // stack a perf.data sample can hold is 8,186 frames: that is the depth tested here.
    let entries = (MAX_RECORD - 8 - 3 * 8) / 8;
    let depth = entries - 1;
    const BASE: u64 = 0x40_0000;
    let pid = 7u64;
    let mut data = Vec::new();
    // An executable mapping of /work/bin/deep covering every address.
    let mut mmap = Vec::new();
    mmap.extend_from_slice(&(pid as u32).to_le_bytes());
    mmap.extend_from_slice(&(pid as u32).to_le_bytes());
    mmap.extend_from_slice(&words(&[BASE, 0x10_0000, 0]));
    mmap.extend_from_slice(&[0u8; 24]);
    mmap.extend_from_slice(&5u32.to_le_bytes()); // PROT_READ | PROT_EXEC
    mmap.extend_from_slice(&2u32.to_le_bytes()); // MAP_PRIVATE
    mmap.extend_from_slice(b"/work/bin/deep\0\0");
    data.extend(record(10, &mmap));
    // The leaf is the lowest address; return addresses climb, 16 bytes apart.
    let addr = |depth_from_leaf: usize| BASE + 0x1000 + 16 * depth_from_leaf as u64;
    let mut chain = vec![addr(0), pid | pid << 32, entries as u64, CONTEXT_USER];
    chain.extend((0..entries - 1).map(addr));
    let deep = record(9, &words(&chain));
    assert_eq!(deep.len(), MAX_RECORD);
    data.extend(deep);
    for ip in [addr(5000), addr(6000), addr(6000)] {
        data.extend(record(
            9,
            &words(&[ip, pid | pid << 32, 2, CONTEXT_USER, ip]),
        ));
    }
    // File mode: header, one attr (attr_size 80, no ids), data.
    let mut attr = vec![0u8; 64];
    attr[0..4].copy_from_slice(&1u32.to_le_bytes()); // PERF_TYPE_SOFTWARE
    attr[4..8].copy_from_slice(&64u32.to_le_bytes());
    attr[16..24].copy_from_slice(&1000u64.to_le_bytes()); // period
    let sample_type = SAMPLE_IP | SAMPLE_TID | SAMPLE_CALLCHAIN;
    attr[24..32].copy_from_slice(&sample_type.to_le_bytes());
    let mut file = b"PERFILE2".to_vec();
    file.extend(words(&[104, 80, 104, 80, 184, data.len() as u64]));
    file.extend_from_slice(&[0u8; 16 + 32]);
    file.extend_from_slice(&attr);
    file.extend_from_slice(&[0u8; 16]);
    file.extend_from_slice(&data);
    // Only the capture itself: no symbol files of this machine.
    let opts = LoadOptions {
        symbols: SymbolOptions {
            system_paths: false,
            kallsyms: None,
            ..SymbolOptions::default()
        },
        ..LoadOptions::default()
    };
    run(
        "perf.data",
        file,
        opts,
        Expect {
            depth,
            named: false,
        },
    );
}
