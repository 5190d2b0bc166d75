//! Unit tests: every line shape perf prints (snippets of real perf 6.1 output), malformed
//! input, and a 100,000-frame call chain.

use super::*;
use crate::analysis::{CallNodeTable, Selection, top_functions};
use crate::model::Profile;

fn load(text: &str) -> Result<Profile> {
    let mut b = ProfileBuilder::new(FORMAT);
    parse(text.as_bytes(), &mut b, &Progress::new())?;
    Ok(b.freeze())
}

/// (self, total) weight per function name of sample type `ty`, summed over same-named ones.
fn by_name(p: &Profile, ty: usize) -> std::collections::BTreeMap<String, (i64, i64)> {
    let n = CallNodeTable::build(p);
    let t = n.tree(p, &Selection::all(ty));
    let mut m = std::collections::BTreeMap::new();
    for s in top_functions(p, &n, &t) {
        let e = m.entry(p.func_name(s.func).to_string()).or_insert((0, 0));
        e.0 += s.self_weight;
        e.1 += s.total_weight;
    }
    m
}

fn total(p: &Profile, ty: usize) -> i64 {
    let n = CallNodeTable::build(p);
    n.tree(p, &Selection::all(ty)).total
}

/// The function names of the (only) stack of sample `row`, root first, with module names.
fn stack_of(p: &Profile, row: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = p.samples.stack[row];
    while let Some(id) = s.get() {
        let f = p.stacks.frame[id.index()];
        let func = p.frames.func[f.index()];
        let m = p.funcs.module[func.index()];
        let module = m.get().map_or("-", |m| p.str(p.modules.name[m.index()]));
        out.push(format!("{}@{module}", p.func_name(func)));
        s = p.stacks.parent[id.index()];
    }
    out.reverse();
    out
}

// Default fields with a call chain (perf script on hot.perf.data).
const DEFAULT: &str = "\
hot 22152  5283.264442:    1001001 cpu-clock:u: 
\t            1264 leaf_a+0x34 (/work/main/sample-profiles/bin/hot)
\t            1415 main_work+0x25 (/work/main/sample-profiles/bin/hot)
\t            10f4 main+0x44 (/work/main/sample-profiles/bin/hot)
\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)

hot 22152  5283.265439:    1001001 cpu-clock:u: 
\t            126f leaf_a+0x3f (/work/main/sample-profiles/bin/hot)
\t            1415 main_work+0x25 (/work/main/sample-profiles/bin/hot)
\t            10f4 main+0x44 (/work/main/sample-profiles/bin/hot)
\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)

worker 22154  5283.266439:    1001001 cpu-clock:u: 
\t            137f leaf_c+0x3f (/work/main/sample-profiles/bin/hot)
\t            13d1 worker_main+0x41 (/work/main/sample-profiles/bin/hot)
\t           891f5 start_thread+0x305 (/usr/lib/x86_64-linux-gnu/libc.so.6)

";

#[test]
fn default_fields_with_call_chains() {
    let p = load(DEFAULT).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.sample_types.len(), 1);
    assert_eq!(p.sample_types[0].name, "cpu-clock:u");
    assert_eq!(p.sample_types[0].unit, Unit::Nanoseconds);
    assert_eq!(p.samples.len(), 3);
    assert_eq!(total(&p, 0), 3 * 1_001_001);
    let m = by_name(&p, 0);
    assert_eq!(
        m["leaf_a"],
        (2_002_002, 2_002_002),
        "two offsets, one function"
    );
    assert_eq!(m["main"], (0, 2_002_002));
    assert_eq!(m["start_thread"], (0, 1_001_001));
    assert_eq!(
        stack_of(&p, 0),
        [
            "__libc_start_call_main@libc.so.6",
            "main@hot",
            "main_work@hot",
            "leaf_a@hot"
        ]
    );
    // One function, two frames (its two sampled addresses, kept as printed).
    let leaf_a: Vec<usize> = (0..p.frames.len())
        .filter(|&f| p.func_name(p.frames.func[f]) == "leaf_a")
        .collect();
    let mut addrs: Vec<u64> = leaf_a.iter().map(|&f| p.frames.address[f]).collect();
    addrs.sort();
    assert_eq!(addrs, [0x1264, 0x126f]);
    let f = p.frames.func[leaf_a[0]];
    assert_eq!(p.funcs.kind[f.index()], FuncKind::Native);
    assert_eq!(p.funcs.address[f.index()], 0);
    let m = p.funcs.module[f.index()];
    assert_eq!(
        p.str(p.modules.path[m.index()]),
        "/work/main/sample-profiles/bin/hot"
    );
    assert_eq!(p.modules.kind[m.index()], ModuleKind::Native);
    // Threads by (pid, tid) = (tid, tid), named by comm; times exact in ns.
    let names: Vec<(i32, &str)> = (0..p.threads.len())
        .map(|t| (p.threads.tid[t], p.str(p.threads.name[t])))
        .collect();
    assert_eq!(names, [(22152, "hot"), (22154, "worker")]);
    assert_eq!(p.threads.pid[1], 22154);
    assert_eq!(p.samples.time_ns[0], 5_283_264_442_000);
    assert_eq!(p.meta.start_ns, Some(5_283_264_442_000));
    assert_eq!(p.meta.end_ns, Some(5_283_266_439_000));
}

#[test]
fn header_line_frames_pid_tid_cpu_and_comm_with_spaces() {
    // -F comm,pid,tid,cpu,time,period,event,ip,sym,dso,symoff -G (no call chain), no blank
    // lines between samples; a comm with spaces; --ns times.
    let text = "\
              dd  6620/6620  [001] 13512.767122:    1001001 cpu-clock:ppp:      55fd7f104b7f [unknown] (/usr/bin/dd)
              dd  6620/6620  [001] 13512.768108:    1001001 cpu-clock:ppp:  ffffffff816b9813 ksys_write+0x23 ([kernel.kallsyms])
     Web Content  4100/4107  [003] 13512.769112345:    1001001 cpu-clock:ppp:      7f55d46592ad read+0xd (/usr/lib/x86_64-linux-gnu/libc.so.6)
";
    let p = load(text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.samples.len(), 3);
    assert_eq!(p.sample_types[0].name, "cpu-clock:ppp");
    let m = by_name(&p, 0);
    assert_eq!(
        m["dd+0x55fd7f104b7f"].0, 1_001_001,
        "unknown symbol in a known dso"
    );
    assert_eq!(m["ksys_write"].0, 1_001_001);
    assert_eq!(m["read"].0, 1_001_001);
    let t: Vec<(i32, i32, &str, &str)> = (0..p.threads.len())
        .map(|t| {
            (
                p.threads.pid[t],
                p.threads.tid[t],
                p.str(p.threads.name[t]),
                p.str(p.threads.process_name[t]),
            )
        })
        .collect();
    assert_eq!(
        t,
        [(4100, 4107, "Web Content", ""), (6620, 6620, "dd", "dd")]
    );
    // Kernel symbol in the kernel module, kind Kernel.
    let f = (0..p.funcs.len())
        .find(|&f| p.func_name(crate::model::FuncId::from_index(f)) == "ksys_write")
        .unwrap();
    assert_eq!(p.funcs.kind[f], FuncKind::Kernel);
    let m = p.funcs.module[f];
    assert_eq!(p.modules.kind[m.index()], ModuleKind::Kernel);
    // --ns: nine fraction digits.
    let web = p.threads.samples(crate::model::ThreadId::from_index(0));
    assert_eq!(p.samples.time_ns[web.start], 13_512_769_112_345);
}

#[test]
fn two_events_are_two_sample_types_with_their_units() {
    let text = "\
hot 22157  5284.360449:          1 page-faults:u: 
\t           1b7ad _dl_start+0x3d (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
\t           1ab78 _dl_start_user+0x0 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)

hot 22157  5284.360753:        392 page-faults:u: 
\t           13608 _dl_load_cache_lookup+0x148 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
\t            81e3 _dl_map_object+0x333 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
\t    7f1637a398a8 [unknown] ([unknown])
\t               0 [unknown] ([unknown])

hot 22157  5284.361337:    1001001   cpu-clock:u: 
\t            126c leaf_a+0x3c (/work/main/sample-profiles/bin/hot)

";
    let p = load(text).unwrap();
    let types: Vec<(&str, Unit)> = p
        .sample_types
        .iter()
        .map(|t| (t.name.as_str(), t.unit))
        .collect();
    assert_eq!(
        types,
        [
            ("page-faults:u", Unit::Events),
            ("cpu-clock:u", Unit::Nanoseconds)
        ]
    );
    assert_eq!(total(&p, 0), 393);
    assert_eq!(total(&p, 1), 1_001_001);
    let faults = by_name(&p, 0);
    assert_eq!(faults["_dl_load_cache_lookup"], (392, 392));
    assert_eq!(
        faults["[unknown]"],
        (0, 392),
        "both unknown frames are one function"
    );
    assert_eq!(faults["_dl_start"], (1, 1));
    assert!(!faults.contains_key("leaf_a"));
    assert_eq!(by_name(&p, 1)["leaf_a"], (1_001_001, 1_001_001));
    // The [unknown] module is the perf.data reader's: kind Unknown.
    let f = (0..p.funcs.len())
        .find(|&f| p.func_name(crate::model::FuncId::from_index(f)) == "[unknown]")
        .unwrap();
    assert_eq!(p.funcs.kind[f], FuncKind::Unresolved);
    let m = p.funcs.module[f].index();
    assert_eq!(p.modules.kind[m], ModuleKind::Unknown);
    assert_eq!(p.str(p.modules.path[m]), "[unknown]");
}

#[test]
fn without_period_samples_count_one() {
    // -F comm,pid,tid,time,event,ip,sym,dso: no period column.
    let text = "\
hotpp 22178/22178  5288.750841: cpu-clock:u: 
\t            12b7 helper (/work/bin/hotpp)
\t            12d9 geo::work_a (/work/bin/hotpp)

hotpp 22178/22178  5288.751838: cpu-clock:u: 
\t            12b7 helper (/work/bin/hotpp)
\t            12d9 geo::work_a (/work/bin/hotpp)
";
    let p = load(text).unwrap();
    assert_eq!(p.sample_types[0].unit, Unit::Count);
    assert_eq!(total(&p, 0), 2);
    assert_eq!(by_name(&p, 0)["helper"], (2, 2));
}

#[test]
fn event_modifiers_tracepoints_and_missing_fields() {
    let text = "\
perf 100 [000] 1.000001: 5 cycles:ppp: 
\tffffffff81000130 entry_SYSCALL_64+0x10 ([kernel.kallsyms])
\tffffffff81000140 [unknown] ([kernel.kallsyms])

swapper 0 [001] 1.000002: sched:sched_switch: prev_comm=swapper/1 prev_pid=0 ==> next_comm=x next_pid=7
\tffffffff81aa0000 __schedule+0x2a0 ([kernel.kallsyms])

perf 100 [000] 1.000003: 7 cycles:ppp: 

";
    let p = load(text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    let names: Vec<&str> = p.sample_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["cycles:ppp", "sched:sched_switch"]);
    assert_eq!(p.sample_types[0].unit, Unit::Events);
    assert_eq!(p.sample_types[1].unit, Unit::Count);
    let m = by_name(&p, 0);
    assert_eq!(m["entry_SYSCALL_64"], (5, 5));
    assert_eq!(
        m["[kernel]"],
        (0, 5),
        "unknown kernel symbol, as the perf.data reader"
    );
    assert_eq!(m["[unknown]"], (7, 7), "a sample without frames");
    assert_eq!(by_name(&p, 1)["__schedule"], (1, 1));
    // No ip/sym/dso at all (-F comm,tid,time,event): every sample under [unknown].
    let p = load("a 1 1.5: ev: \nb 2 1.6: ev: \n").unwrap();
    assert_eq!(by_name(&p, 0)["[unknown]"], (2, 2));
    // Only ips: module-less addresses.
    let p = load("a 1 1.5: ev: \n\t  12b7\n\t  12d9\n").unwrap();
    assert_eq!(stack_of(&p, 0), ["0x12d9@-", "0x12b7@-"]);
}

#[test]
fn inlined_frames_take_their_callers_module_and_depth() {
    // perf script --inline, then -F +srcline (where " (inlined)" ends the srcline line).
    let text = "\
hot 1 1.000001: 10 cpu-clock:u: 
\t            12b4 mix (inlined)
\t            12b4 leaf_b+0x34 (/bin/hot)
\t            1429 main_work+0x39 (/bin/hot)

hot 1 1.000002: 10 cpu-clock:u: 
\t            12b4 mix
  hot.c:12 (inlined)
\t            12b4 leaf_b+0x34 (/bin/hot)
  hot.c:52
\t            1429 main_work+0x39 (/bin/hot)
  hot.c:101
";
    let p = load(text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(stack_of(&p, 0), ["main_work@hot", "leaf_b@hot", "mix@hot"]);
    assert_eq!(stack_of(&p, 1), stack_of(&p, 0));
    let m = by_name(&p, 0);
    assert_eq!(m["mix"], (20, 20));
    assert_eq!(m["leaf_b"], (0, 20));
    let mix = (0..p.frames.len())
        .filter(|&f| p.func_name(p.frames.func[f]) == "mix")
        .collect::<Vec<_>>();
    assert!(mix.iter().all(|&f| p.frames.inline_depth[f] == 1));
    // srcline: the function's file and the frame's line.
    let main_work = (0..p.frames.len())
        .find(|&f| p.frames.line[f] == 101)
        .unwrap();
    let func = p.frames.func[main_work];
    assert_eq!(p.func_name(func), "main_work");
    assert_eq!(p.str(p.funcs.file[func.index()]), "hot.c");
}

#[test]
fn srcline_fields_and_unknown_locations() {
    // -F comm,tid,time,period,event,ip,sym,dso,srcline -G: srcline after the header line.
    let text = "\
           hotpp 22178  5288.750841:    1001001 cpu-clock:u:      561d84f902b7 helper (/b/hotpp)
  a.cpp:8
           hotpp 22178  5288.751838:    1001001 cpu-clock:u:      561d84f902c0 helper (/b/hotpp)
  ??:0
           hotpp 22178  5288.751839:    1001001 cpu-clock:u:      561d84f902c1 helper (/b/hotpp)
  b.cpp:3 (discriminator 2)
";
    let p = load(text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(
        p.funcs.len(),
        1,
        "the first srcline file names the function"
    );
    assert_eq!(p.str(p.funcs.file[0]), "a.cpp");
    let mut lines: Vec<u32> = p.frames.line.clone();
    lines.sort();
    assert_eq!(lines, [0, 0, 8], "b.cpp:3 is not a line of a.cpp");
}

#[test]
fn no_demangle_names_are_demangled() {
    let text = "\
hotpp 22178  5288.750841:    1001001 cpu-clock:u: 
\t            12b7 _ZL6helpermm+0x47 (/work/bin/hotpp)
\t            12d9 _ZN3geo6work_aEmm+0x9 (/work/bin/hotpp)
\t            109d main+0x3d (/work/bin/hotpp)
";
    let p = load(text).unwrap();
    assert_eq!(
        stack_of(&p, 0),
        [
            "main@hotpp",
            "geo::work_a(unsigned long, unsigned long)@hotpp",
            "helper(unsigned long, unsigned long)@hotpp"
        ]
    );
}

#[test]
fn dso_offsets_operator_names_and_special_modules() {
    let text = "\
x 1 1.000001: 1 ev: 
\t            1000 Foo::operator()+0x10 (/lib/libfoo.so+0x1000)
\t            2000 jitted_fn (/tmp/perf-1.map)
\t            3000 __vdso_clock_gettime+0x5 ([vdso])
\tffffffffc0a01000 nvme_irq+0x10 ([nvme])
";
    let p = load(text).unwrap();
    assert_eq!(
        stack_of(&p, 0),
        [
            "nvme_irq@[nvme]",
            "__vdso_clock_gettime@[vdso]",
            "jitted_fn@perf-1.map",
            "Foo::operator()@libfoo.so"
        ]
    );
    let kind = |path: &str| {
        let m = (0..p.modules.len())
            .find(|&m| p.str(p.modules.path[m]) == path)
            .unwrap();
        p.modules.kind[m]
    };
    assert_eq!(kind("[nvme]"), ModuleKind::Kernel);
    assert_eq!(kind("[vdso]"), ModuleKind::Vdso);
    assert_eq!(kind("/tmp/perf-1.map"), ModuleKind::Jit);
    assert_eq!(kind("/lib/libfoo.so"), ModuleKind::Native);
}

#[test]
fn header_comments_and_sideband_lines() {
    let text = "\
# ========
# captured on    : Tue Nov 24 13:37:29 2026
# hostname : vm
# os release : 6.18.44
# perf version : 6.1.187
# arch : x86_64
# nrcpus online : 2
# cpudesc : AMD EPYC
# cmdline : /usr/bin/perf record -g ./bin/hot 35 
# ========
#
hotpp 22178  5288.749880: PERF_RECORD_MMAP2 22178/22178: [0x561d84f90000(0x1000) @ 0x1000 fe:00 5316618 720067330]: r-xp /work/bin/hotpp
hotpp 22178  5288.750841:    1001001 cpu-clock:u: 
\t            12b7 helper+0x47 (/work/bin/hotpp)

hotpp 22178  5288.750900: PERF_RECORD_EXIT(22178:22178):(22178:22178)
";
    assert!(sniff(text.as_bytes()));
    let p = load(text).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    assert_eq!(p.samples.len(), 1);
    assert_eq!(p.meta.hostname.as_deref(), Some("vm"));
    assert_eq!(p.meta.recorder_version.as_deref(), Some("perf 6.1.187"));
    assert_eq!(p.meta.nr_cpus, Some(2));
    assert_eq!(
        p.meta.command_line.as_deref(),
        Some("/usr/bin/perf record -g ./bin/hot 35")
    );
}

#[test]
fn malformed_lines_are_counted_once_with_the_first_line_number() {
    let text = "\
\t            1264 leaf_a+0x34 (/bin/hot)
hot 1  1.000001:    10 cpu-clock:u: 
\t            1264 leaf_a+0x34 (/bin/hot)
\t            zzzz not a frame
this is no perf script line

hot 1  1.000002:    10 cpu-clock:u: 
\t            1264 leaf_a+0x34 (/bin/hot)
";
    let p = load(text).unwrap();
    assert_eq!(p.meta.warnings.len(), 1, "{:?}", p.meta.warnings);
    let w = &p.meta.warnings[0];
    assert!(
        w.contains("3 line(s)") && w.contains("first: line 1"),
        "{w}"
    );
    assert_eq!(total(&p, 0), 20);
    assert_eq!(by_name(&p, 0)["leaf_a"], (20, 20));

    // Cut in the middle of a frame line: loads, says so.
    let cut = &text[..text.len() - 10];
    let p = load(cut).unwrap();
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("line 8") && w.contains("truncated")),
        "{:?}",
        p.meta.warnings
    );
    assert_eq!(total(&p, 0), 20);

    let e = load("hello world\nsecond line\n").unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("perf script"), "{e}");
    let e = load("\n\n\t  12b7 foo (/x)\n").unwrap_err().to_string();
    assert!(e.contains("line 3"), "a frame without a header: {e}");
    assert!(load("").is_err());
}

#[test]
fn odd_values_are_bounded() {
    // A period beyond 2^48 is clamped; absurd times, ids and ips are no header/frame.
    let text = "\
a 1 1.000001: 99999999999999999999999 ev: 
\t  12b7 f (/x)
a 99999999999 1.000002: 1 ev: 
a 1 99999999999999999999.5: 1 ev: 
a 1 1.000003: 1 ev: 
\t  112233445566778899 g (/x)
";
    let p = load(text).unwrap();
    assert!(
        p.meta.warnings.iter().any(|w| w.contains("clamped")),
        "{:?}",
        p.meta.warnings
    );
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("3 line(s)") && w.contains("line 3")),
        "{:?}",
        p.meta.warnings
    );
    assert_eq!(total(&p, 0), (1 << 48) + 1);
}

#[test]
fn invalid_utf8_is_replaced_with_a_warning() {
    let mut text = b"caf\xe9 7 1.000001: 1 ev: \n\t  12b7 f\xff (/x)\n".to_vec();
    text.extend_from_slice(b"\n");
    let mut b = ProfileBuilder::new(FORMAT);
    parse(&text, &mut b, &Progress::new()).unwrap();
    let p = b.freeze();
    assert_eq!(p.samples.len(), 1);
    assert!(
        p.meta.warnings[0].contains("2 line(s)") && p.meta.warnings[0].contains("line 1"),
        "{:?}",
        p.meta.warnings
    );
}

#[test]
fn cancelled_load_stops() {
    let progress = Progress::new();
    progress.cancel();
    let mut b = ProfileBuilder::new(FORMAT);
    assert!(matches!(
        parse(DEFAULT.as_bytes(), &mut b, &progress),
        Err(Error::Cancelled)
    ));
}

#[test]
fn header_shapes() {
    let mut tok = Vec::new();
    let h = |line: &'static str, tok: &mut Vec<(usize, usize)>| match parse_header(line, tok) {
        Some(HeaderLine::Sample(h)) => h,
        other => panic!("{line:?}: {other:?}"),
    };
    let x = h("hot 22152  5283.264442:    1001001 cpu-clock:u: ", &mut tok);
    assert_eq!(
        (x.comm, x.pid, x.tid, x.time_ns, x.period, x.event),
        (
            "hot",
            None,
            Some(22152),
            Some(5_283_264_442_000),
            Some(1_001_001),
            Some("cpu-clock:u")
        )
    );
    let x = h(
        "  kworker/u8:2 1234/1235 [007] 1.5: sched:sched_wakeup: comm=x",
        &mut tok,
    );
    assert_eq!(
        (x.comm, x.pid, x.tid, x.period, x.event, x.frame),
        (
            "kworker/u8:2",
            Some(1234),
            Some(1235),
            None,
            Some("sched:sched_wakeup"),
            None
        )
    );
    // No time field: the event after the ids; a period right before it.
    let x = h("my comm 42 1001 cpu-clock:", &mut tok);
    assert_eq!(
        (x.comm, x.tid, x.period, x.event, x.time_ns),
        ("my comm", Some(42), Some(1001), Some("cpu-clock"), None)
    );
    // No comm.
    let x = h("  22152  5283.5: ev:", &mut tok);
    assert_eq!((x.comm, x.tid), ("", Some(22152)));
    // Header-line frame without event name.
    let x = h("a 1 2.5:  55fd7f104b7f main+0x10 (/bin/a)", &mut tok);
    assert_eq!(
        x.frame,
        Some(FrameText {
            ip: 0x55fd7f104b7f,
            sym: Some("main"),
            dso: Some("/bin/a"),
            inlined: false
        })
    );
    assert_eq!(parse_header("main;a;b 12", &mut tok), None);
    assert_eq!(parse_header("12b7 foo (/x)", &mut tok), None);
    assert_eq!(
        parse_header("a 1 2.5: PERF_RECORD_COMM: a:1/1", &mut tok),
        Some(HeaderLine::Sideband)
    );
}

#[test]
fn frame_shapes() {
    let f = parse_frame(
        "  7f00 std::vector<int, std::allocator<int> >::push_back+0x1a (/lib/a (deleted))",
    )
    .unwrap();
    assert_eq!(
        (f.ip, f.sym, f.dso),
        (
            0x7f00,
            Some("std::vector<int, std::allocator<int> >::push_back"),
            Some("/lib/a (deleted)")
        )
    );
    let f = parse_frame("1 f(int)").unwrap();
    assert_eq!((f.sym, f.dso), (Some("f(int)"), None));
    let f = parse_frame("1 (/x)").unwrap();
    assert_eq!((f.sym, f.dso), (None, Some("/x")));
    assert_eq!(parse_frame("main+0x1 (/x)"), None);
    assert_eq!(parse_frame("11223344556677889 f"), None, "17 hex digits");
    assert_eq!(
        parse_srcline("  a.cpp:8"),
        Some((Some(("a.cpp", 8)), false))
    );
    assert_eq!(parse_srcline("  ??:0 (inlined)"), Some((None, true)));
    assert_eq!(parse_srcline("  a b:8"), None);
    assert_eq!(parse_time("1.5:"), Some(1_500_000_000));
    assert_eq!(parse_time("1.0000000019:"), Some(1_000_000_001));
    assert_eq!(parse_time("1.5"), None);
}

#[test]
fn sniffing() {
    assert!(sniff(DEFAULT.as_bytes()));
    assert!(sniff(
        b"             hot 22157/22157  5284.360433:          1 page-faults:u:      7f1637a1fb70 _start (/x)\n"
    ));
    assert!(
        sniff(b"hot 22152 cpu-clock:u:\n\t  1264 leaf_a (/x)\n"),
        "no time field"
    );
    assert!(!sniff(b"main;a 1\nmain;b 22\n"), "folded");
    assert!(!sniff(b"{\"traceEvents\": []}"));
    assert!(!sniff(b"PERFILE2\x00\x00"));
    assert!(!sniff(b""));
    assert!(!sniff(b"hello world\n"));
    assert!(!sniff(b"hot 22152 cpu-clock:u:\nsomething else\n"));
}

#[test]
fn a_100k_frame_call_chain() {
    let mut text = String::from("deep 7 1.000001: 3 ev: \n");
    for i in (0..100_000).rev() {
        text.push_str(&format!("\t  {:x} f{i}+0x1 (/bin/deep)\n", 0x1000 + i));
    }
    text.push('\n');
    let p = load(&text).unwrap();
    assert_eq!(p.stacks.len(), 100_000);
    let m = by_name(&p, 0);
    assert_eq!(m["f99999"], (3, 3));
    assert_eq!(m["f0"], (0, 3));
    let root = stack_of(&p, 0);
    assert_eq!(root.first().map(String::as_str), Some("f0@deep"));
}

#[test]
fn periods_that_would_overflow_the_total_are_skipped() {
    // Each clamped period is 2^48: the 2^15-th of them would overflow the event's total.
    let text = "a 1 1.000001: 99999999999999999999999 ev: \n\t  12b7 f (/x)\n\n".repeat(1 << 15);
    let p = load(&text).unwrap();
    p.check().unwrap();
    assert_eq!(p.samples.len(), (1 << 15) - 1);
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.starts_with("1 samples were left out")),
        "{:?}",
        p.meta.warnings
    );
}
