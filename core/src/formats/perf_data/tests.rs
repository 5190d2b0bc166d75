//! Tests on the committed real captures (sample-profiles/, made by record.sh) and on damaged
//! copies of them.

use super::*;
use crate::formats::{LoadOptions, load_bytes};
use crate::model::Profile;
use std::path::PathBuf;

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sample-profiles")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(sample_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn opts() -> LoadOptions {
    let mut o = LoadOptions::default();
    o.symbols.search_dirs = vec![sample_dir().join("bin")];
    o.symbols.kallsyms = None;
    // Only the committed binaries: the same on every machine, and fast (no distribution debug
    // files to decompress).
    o.symbols.system_paths = false;
    o
}

fn load(bytes: &[u8]) -> crate::Result<Profile> {
    load_bytes(bytes, &opts(), &Progress::new())
}

/// Asserts that some warning of `p` contains `needle`.
fn assert_warns(p: &Profile, needle: &str) {
    assert!(
        p.meta.warnings.iter().any(|w| w.contains(needle)),
        "no warning with {needle:?}: {:?}",
        p.meta.warnings
    );
}

/// Sample count per event from the `perf report -n` output saved next to each capture.
fn perf_report_counts(name: &str) -> Vec<(String, u64)> {
    let text =
        std::fs::read_to_string(sample_dir().join(format!("{name}.perf-report.txt"))).unwrap();
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# Samples: ") {
            let event = rest.split('\'').nth(1).unwrap_or("").to_string();
            out.push((event, 0));
        } else if !line.starts_with('#') && line.contains('%') {
            let n: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if let Some(last) = out.last_mut() {
                last.1 += n;
            }
        }
    }
    out
}

#[test]
fn every_committed_capture_loads_with_perf_reports_sample_counts() {
    for (name, threads) in [
        ("hot.perf.data", ["hot", "worker"]),
        ("hot-2events.perf.data", ["hot", "worker"]),
        ("hot-zstd.perf.data", ["hot", "worker"]),
        ("hot-dwarf.perf.data", ["hot-nofp", "worker"]),
        ("offcpu.perf.data", ["offcpu", "waiter"]),
        ("hot-pipe.perf.data", ["hot", "worker"]),
    ] {
        let p = load(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = perf_report_counts(name);
        assert!(!want.is_empty(), "{name}: no reference counts");
        for (event, count) in want {
            let ty = p
                .sample_type_index(&event)
                .unwrap_or_else(|| panic!("{name}: no event {event}"));
            assert_eq!(
                p.sample_count(ty) as u64,
                count,
                "{name}: samples of {event}"
            );
        }
        // Both threads of the program, by name.
        let names: Vec<&str> = (0..p.threads.len())
            .filter_map(|i| p.threads.name[i].get())
            .map(|s| p.str(s))
            .collect();
        assert!(
            threads.iter().all(|t| names.contains(t)),
            "{name}: threads {names:?}"
        );
        assert!(
            p.meta.start_ns.is_some() && p.meta.duration_ns().unwrap() > 100_000_000,
            "{name}: duration"
        );
        assert_eq!(p.meta.lost_samples, 0);
    }
}

#[test]
fn header_features_are_read() {
    let p = load(&read("hot.perf.data")).unwrap();
    assert!(
        p.meta
            .command_line
            .as_deref()
            .unwrap()
            .contains("perf record")
    );
    assert!(p.meta.hostname.is_some() && p.meta.os_release.is_some());
    assert_eq!(p.meta.arch.as_deref(), Some("x86_64"));
    assert!(
        p.meta
            .recorder_version
            .as_deref()
            .unwrap()
            .starts_with("perf ")
    );
    assert_eq!(p.sample_types.len(), 1);
    assert_eq!(p.sample_types[0].name, "cpu-clock:u");
    assert_eq!(p.sample_types[0].unit, crate::model::Unit::Nanoseconds);
    // The binary's build-id came from the BUILD_ID feature.
    let hot = (0..p.modules.len())
        .find(|&i| p.str(p.modules.name[i]) == "hot")
        .unwrap();
    assert!(p.modules.build_id[hot].is_some());
}

#[test]
fn two_events_become_two_sample_types() {
    let p = load(&read("hot-2events.perf.data")).unwrap();
    let names: Vec<&str> = p.sample_types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["cpu-clock:u", "page-faults:u"]);
    assert_eq!(p.sample_types[1].unit, crate::model::Unit::Events);
    // Each sample belongs to its own event only: the tagged layout.
    assert!(matches!(
        p.samples.weights,
        crate::model::SampleWeights::Tagged { .. }
    ));
    for i in 0..p.samples.len() {
        let types = (0..2)
            .filter(|&t| p.samples.weights.get(t, i).is_some())
            .count();
        assert_eq!(types, 1);
    }
}

#[test]
fn addresses_outside_every_mapping_are_one_unknown_function() {
    // The page-fault stacks in ld.so unwind into addresses no mapping holds.
    let p = load(&read("hot-2events.perf.data")).unwrap();
    let unknown: Vec<usize> = (0..p.funcs.len())
        .filter(|&f| {
            p.func_name(crate::model::FuncId::from_index(f))
                .starts_with("[unknown]")
        })
        .collect();
    assert_eq!(
        unknown.len(),
        1,
        "{:?}",
        unknown
            .iter()
            .map(|&f| p.func_name(crate::model::FuncId::from_index(f)))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        p.func_name(crate::model::FuncId::from_index(unknown[0])),
        "[unknown]"
    );
}

#[test]
fn pipe_mode_reads_in_band_attributes_and_features() {
    let p = load(&read("hot-pipe.perf.data")).unwrap();
    assert_eq!(p.sample_types[0].name, "cpu-clock:u");
    assert!(
        p.meta.command_line.is_some(),
        "features arrive as records in pipe mode"
    );
}

/// Call paths root first (function names joined by `;`) with their summed weight of `ty`.
fn paths(p: &Profile, ty: usize) -> std::collections::BTreeMap<String, i64> {
    let mut out = std::collections::BTreeMap::new();
    for t in 0..p.threads.len() {
        let rows = p.threads.samples(crate::model::ThreadId::from_index(t));
        p.samples.weights.for_each(ty, rows, |row, w| {
            if w == 0 {
                return;
            }
            let mut names = Vec::new();
            let mut s = p.samples.stack[row];
            while s.is_some() {
                let f = p.stacks.frame[s.index()];
                names.push(p.func_name(p.frames.func[f.index()]).to_string());
                s = p.stacks.parent[s.index()];
            }
            names.reverse();
            *out.entry(names.join(";")).or_insert(0) += w;
        });
    }
    out
}

#[test]
fn dwarf_mode_samples_are_unwound_through_the_program_built_without_frame_pointers() {
    // bin/hot-nofp has no frame pointers: the stacks only come from its .eh_frame. The libc
    // frames below main need the system libc (build-id checked), so this uses system paths and
    // compares the part of each path from main on: the program's own frames.
    let mut o = opts();
    o.symbols.system_paths = true;
    o.symbols.inline_frames = false;
    let p = load_bytes(&read("hot-dwarf.perf.data"), &o, &Progress::new()).unwrap();
    let got = paths(&p, 0);
    let from_main = |path: &str| -> String {
        let names: Vec<&str> = path.split(';').collect();
        let i = names
            .iter()
            .position(|n| *n == "main" || *n == "worker_main")
            .unwrap_or(0);
        names[i..].join(";")
    };
    let mut by_suffix: std::collections::BTreeMap<String, i64> = Default::default();
    for (path, w) in &got {
        *by_suffix.entry(from_main(path)).or_default() += w / 5_000_000; // 200 Hz: 5 ms each
    }
    assert_eq!(
        by_suffix.into_iter().collect::<Vec<_>>(),
        vec![
            ("main;main_work;leaf_a".to_string(), 82),
            ("main;main_work;leaf_b".to_string(), 40),
            (
                "main;main_work;recurse;recurse;recurse;recurse;recurse;recurse;recurse;recurse;recurse"
                    .to_string(),
                42
            ),
            ("worker_main;leaf_c".to_string(), 82),
        ],
        "{got:#?}"
    );
    assert!(
        !p.meta.warnings.iter().any(|w| w.contains("DWARF")),
        "every sample unwound to its root: {:?}",
        p.meta.warnings
    );
}

#[test]
fn an_unwind_without_the_binaries_stops_at_a_marker_frame_and_says_how_often() {
    let mut o = opts();
    o.symbols.search_dirs.clear();
    let p = load_bytes(&read("hot-dwarf.perf.data"), &o, &Progress::new()).unwrap();
    let got = paths(&p, 0);
    let marked: i64 = got
        .iter()
        .filter(|(path, _)| path.starts_with(unwind::STOPPED_FRAME))
        .map(|(_, w)| w)
        .sum();
    let total: i64 = got.values().sum();
    assert!(marked > 0, "{got:#?}");
    assert_eq!(total, 246 * 5_000_000, "no sample is dropped");
    assert_warns(&p, "DWARF unwinding stopped early in");
    assert_warns(&p, "no binary found to unwind DWARF stacks through");
}

/// The aarch64 sample (record-aarch64.sh): the real registers and stack of an aarch64 program
/// built without frame pointers, stopped by gdb under qemu-aarch64, in a perf.data written the
/// way `perf record --call-graph dwarf` writes one on arm64; gdb's backtraces at the same stops
/// are in its `.truth.txt`.
const ARM64_CAPTURE: &str = "aarch64-dwarf.perf.data";

/// The aarch64 capture, or `None` (and a note) when the file is not in the checkout.
fn arm64_capture() -> Option<Vec<u8>> {
    let path = sample_dir().join(ARM64_CAPTURE);
    if !path.is_file() {
        eprintln!(
            "skipped: sample-profiles/{ARM64_CAPTURE} is missing (make it with sample-profiles/record-aarch64.sh)"
        );
        return None;
    }
    Some(std::fs::read(path).unwrap())
}

/// gdb's truth: per sample (file order), its frames leaf first as (function, pc: the sampled
/// pc, then return addresses); and the other symbol names of each function.
type GdbTruth = (
    Vec<Vec<(String, u64)>>,
    std::collections::BTreeMap<String, Vec<String>>,
);

fn gdb_truth() -> GdbTruth {
    let text =
        std::fs::read_to_string(sample_dir().join(format!("{ARM64_CAPTURE}.truth.txt"))).unwrap();
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let (mut samples, mut aliases) = (Vec::new(), std::collections::BTreeMap::new());
    let mut in_aliases = false;
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("== ") {
            // "== sample 3: leaf_lr: pc 0x4006d4 sp … lr …, 6880 stack bytes"
            in_aliases = head.starts_with("aliases");
            if !in_aliases {
                let pc = head
                    .split(" pc ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap();
                samples.push((hex(pc), Vec::new()));
            }
        } else if in_aliases {
            let (name, others) = line.split_once(": ").unwrap();
            aliases.insert(
                name.to_string(),
                others.split(' ').map(str::to_string).collect(),
            );
        } else if let Some(rest) = line.strip_prefix('#')
            && rest.starts_with(|c: char| c.is_ascii_digit())
        {
            // "#1  0x00000000004007b4 in middle (n=...) at …" or "#0  inner (n=...) at …"
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
            let (pc, rest) = match rest.split_once(" in ") {
                Some((a, r)) if a.starts_with("0x") => (Some(hex(a)), r),
                _ => (None, rest),
            };
            let name = rest.split(' ').next().unwrap().to_string();
            let (leaf_pc, frames) = samples.last_mut().unwrap();
            let pc = if frames.is_empty() {
                *leaf_pc
            } else {
                pc.unwrap()
            };
            frames.push((name, pc));
        }
    }
    (samples.into_iter().map(|(_, f)| f).collect(), aliases)
}

/// Per sample in time order: (function, module-relative address) per frame, leaf first.
fn sample_frames(p: &Profile) -> Vec<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for t in 0..p.threads.len() {
        for row in p.threads.samples(crate::model::ThreadId::from_index(t)) {
            let mut frames = Vec::new();
            let mut s = p.samples.stack[row];
            while s.is_some() {
                let f = p.stacks.frame[s.index()].index();
                frames.push((
                    p.func_name(p.frames.func[f]).to_string(),
                    p.frames.address[f],
                ));
                s = p.stacks.parent[s.index()];
            }
            out.push(frames);
        }
    }
    out
}

#[test]
fn aarch64_dwarf_samples_unwind_to_gdbs_backtraces_frame_by_frame() {
    // Unwound on whatever machine runs the tests: the architecture is the file's (HEADER_ARCH).
    let Some(bytes) = arm64_capture() else {
        return;
    };
    let mut o = opts(); // --symbols sample-profiles/bin, which holds bin/unwind-aarch64
    o.symbols.inline_frames = false;
    let p = load_bytes(&bytes, &o, &Progress::new()).unwrap();
    assert!(p.meta.warnings.is_empty(), "{:?}", p.meta.warnings);
    let (want, aliases) = gdb_truth();
    let got = sample_frames(&p);
    assert_eq!(got.len(), want.len());
    assert_eq!(want.len(), 7, "the seven stops of gdb-dump.py");
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let gdb: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            got.len(),
            want.len(),
            "sample {}: {names:?} vs gdb {gdb:?}",
            i + 1
        );
        for (depth, ((name, addr), (gdb_name, pc))) in got.iter().zip(want).enumerate() {
            // gdb and stacklens may pick different symbols of one function (fflush and
            // _IO_fflush): the truth lists the others at the same address.
            assert!(
                name == gdb_name || aliases.get(gdb_name).is_some_and(|a| a.contains(name)),
                "sample {}, frame {depth}: {name} where gdb has {gdb_name}: {names:?} vs {gdb:?}",
                i + 1
            );
            // The static binary is mapped at its link address 0x400000 from file offset 0;
            // a return address is looked up one byte back, in its call instruction.
            let back = u64::from(depth > 0);
            assert_eq!(
                *addr,
                pc - back - 0x400000,
                "sample {}, frame {depth} ({gdb_name})",
                i + 1
            );
        }
    }
}

#[test]
fn aarch64_dwarf_samples_without_the_binary_keep_their_weight_under_the_marker() {
    let Some(bytes) = arm64_capture() else {
        return;
    };
    let mut o = opts();
    o.symbols.search_dirs.clear();
    let p = load_bytes(&bytes, &o, &Progress::new()).unwrap();
    let got = paths(&p, 0);
    // Past the sampled pc there is no unwind information: the stack is the marker and the
    // leaf, not a frame-pointer walk (x29 still holds libc's frame: it would skip the callers).
    assert!(
        got.keys().all(|path| {
            let names: Vec<&str> = path.split(';').collect();
            names.len() == 2 && names[0] == unwind::STOPPED_FRAME
        }),
        "{got:#?}"
    );
    assert_eq!(
        got.values().sum::<i64>(),
        7 * 1_000_000,
        "no sample is dropped"
    );
    assert_warns(
        &p,
        "DWARF unwinding stopped early in 7 of 7 samples (7: code whose binary was not found)",
    );
    assert_warns(&p, "no binary found to unwind DWARF stacks through");
}

/// A copy of the aarch64 capture whose HEADER_ARCH says `arch` (7 bytes, NUL padded).
fn with_arch(bytes: &[u8], arch: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(8)
        .rposition(|w| w == b"aarch64\0")
        .expect("the HEADER_ARCH string");
    let mut out = bytes.to_vec();
    out[at..at + 7].fill(0);
    out[at..at + arch.len()].copy_from_slice(arch);
    out
}

#[test]
fn the_unwinder_is_the_header_archs_arm64_too_and_others_are_said() {
    let Some(bytes) = arm64_capture() else {
        return;
    };
    let mut o = opts();
    o.symbols.inline_frames = false;
    let named = |arch: &[u8]| {
        let p = load_bytes(&with_arch(&bytes, arch), &o, &Progress::new()).unwrap();
        (paths(&p, 0), p.meta.warnings)
    };
    let (aarch64, _) = named(b"aarch64");
    let (arm64, warnings) = named(b"arm64");
    assert_eq!(arm64, aarch64);
    assert!(warnings.is_empty(), "{warnings:?}");
    // An architecture stacklens does not unwind: each sample is its sampled function alone.
    let (riscv, warnings) = named(b"riscv64");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unwinds x86-64 and aarch64 stacks only (this file: riscv64)")),
        "{warnings:?}"
    );
    assert_eq!(riscv.values().sum::<i64>(), 7 * 1_000_000);
    assert!(riscv.keys().all(|path| !path.contains(';')), "{riscv:#?}");
}

/// (off-cpu, wall) ns per thread name.
fn off_and_wall(p: &Profile) -> std::collections::BTreeMap<String, (i64, i64)> {
    let off = p
        .sample_type_index("off-cpu")
        .expect("an off-cpu sample type");
    let wall = p.sample_type_index("wall").expect("a wall sample type");
    let mut out = std::collections::BTreeMap::new();
    for t in 0..p.threads.len() {
        let id = crate::model::ThreadId::from_index(t);
        let sum = |ty| {
            let mut s = 0;
            p.samples
                .weights
                .for_each(ty, p.threads.samples(id), |_, w| s += w);
            s
        };
        let name = p.str(p.threads.name[t]).to_string();
        out.insert(name, (sum(off), sum(wall)));
    }
    out
}

#[test]
fn off_cpu_time_matches_what_the_program_measured_of_itself() {
    // offcpu.c: main burns 5 ms then sleeps 5 ms per round; the waiter blocks on a pipe. The
    // program printed each thread's wall and CPU time at exit (the .truth.txt file).
    let p = load(&read("offcpu.perf.data")).unwrap();
    let truth = std::fs::read_to_string(sample_dir().join("offcpu.perf.data.truth.txt")).unwrap();
    let share = |who: &str| -> f64 {
        let line = truth.lines().find(|l| l.starts_with(who)).unwrap();
        line.split("off_cpu_share=")
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let got = off_and_wall(&p);
    let (off, wall) = got["offcpu"];
    let main_share = off as f64 / wall as f64;
    assert!(
        (main_share - share("main")).abs() < 0.05 && (main_share - 0.5).abs() < 0.05,
        "main off CPU {main_share:.3} of wall, the program says {}",
        share("main")
    );
    // Wall time accounts for the thread's whole life.
    let truth_wall = |who: &str| -> f64 {
        let line = truth.lines().find(|l| l.starts_with(who)).unwrap();
        let v = line.split("wall_ns=").nth(1).unwrap();
        v.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(
        (wall as f64 / truth_wall("main") - 1.0).abs() < 0.05,
        "main wall {wall} ns, the program says {}",
        truth_wall("main")
    );
    let (off, wall) = got["waiter"];
    let waiter_share = off as f64 / wall as f64;
    assert!(
        (waiter_share - share("waiter")).abs() < 0.05,
        "waiter off CPU {waiter_share:.3}, the program says {}",
        share("waiter")
    );
    // The sleep is where main was off CPU: below main, in libc's nanosleep (the frame-pointer
    // walk from libc, which has none, skips nap itself), not in burn.
    let off_ty = p.sample_type_index("off-cpu").unwrap();
    let sleeping: i64 = paths(&p, off_ty)
        .iter()
        .filter(|(path, _)| path.contains(";main;libc.so.6+"))
        .map(|(_, w)| w)
        .sum();
    let (main_off, _) = got["offcpu"];
    assert!(
        sleeping as f64 > 0.9 * main_off as f64,
        "{sleeping} of {main_off}: {:#?}",
        paths(&p, off_ty)
    );
    // The timeline's spans: each thread's off-CPU intervals.
    let spans: i64 = (0..p.spans.len())
        .filter(|&i| p.str(p.spans.name[i]).starts_with("off CPU"))
        .map(|i| (p.spans.end_ns[i] - p.spans.start_ns[i]) as i64)
        .sum();
    let all_off: i64 = got.values().map(|v| v.0).sum();
    assert!(
        (spans - all_off).abs() < all_off / 20,
        "spans {spans} vs off-cpu {all_off}"
    );
}

#[test]
fn samples_are_grouped_by_thread_and_sorted_by_time() {
    let p = load(&read("hot-zstd.perf.data")).unwrap();
    for t in 0..p.threads.len() {
        let rows = p.threads.samples(crate::model::ThreadId::from_index(t));
        assert!(p.samples.time_ns[rows].windows(2).all(|w| w[0] <= w[1]));
    }
    assert_eq!(p.threads.sample_end.last().copied(), Some(p.samples.len()));
}

/// The file with its header's data size set to 0 and the feature sections cut off: what a
/// `perf record` killed with SIGKILL leaves behind.
fn killed_copy(bytes: &[u8]) -> Vec<u8> {
    let h = FileHeader::parse(bytes).unwrap();
    let end = (h.data.offset + h.data.size) as usize;
    let mut v = bytes[..end].to_vec();
    v[48..56].copy_from_slice(&0u64.to_le_bytes());
    v
}

#[test]
fn a_killed_perf_record_loads_with_one_warning() {
    let full = read("hot.perf.data");
    let whole = load(&full).unwrap();
    let p = load(&killed_copy(&full)).unwrap();
    assert_eq!(p.samples.len(), whole.samples.len());
    let w: Vec<_> = p
        .meta
        .warnings
        .iter()
        .filter(|w| w.contains("did not finish"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", p.meta.warnings);
}

#[test]
fn a_cut_inside_the_data_section_keeps_the_samples_before_it() {
    let full = read("hot.perf.data");
    let whole = load(&full).unwrap();
    let h = FileHeader::parse(&full).unwrap();
    let killed = killed_copy(&full);
    let data_start = h.data.offset as usize;
    let mut last = 0;
    for frac in [0.1, 0.37, 0.5, 0.83, 0.99] {
        let cut = data_start + ((killed.len() - data_start) as f64 * frac) as usize + 3;
        let p = load(&killed[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert!(p.samples.len() < whole.samples.len(), "cut at {cut}");
        assert!(p.samples.len() >= last, "more data, not fewer samples");
        last = p.samples.len();
        let cut_warnings: Vec<_> = p
            .meta
            .warnings
            .iter()
            .filter(|w| w.contains("ends early at byte offset"))
            .collect();
        assert_eq!(cut_warnings.len(), 1, "cut at {cut}: {:?}", p.meta.warnings);
    }
    assert!(last > whole.samples.len() * 9 / 10);
}

#[test]
fn truncated_copies_fail_cleanly_or_load_partially() {
    for name in ["hot.perf.data", "hot-zstd.perf.data", "hot-pipe.perf.data"] {
        let full = read(name);
        let mut cuts: Vec<usize> = vec![0, 1, 7, 8, 15, 16, 17, 40, 103, 104, 105, 200, 1000];
        cuts.extend((1..20).map(|i| full.len() * i / 20));
        cuts.push(full.len() - 1);
        for cut in cuts {
            match load(&full[..cut]) {
                Ok(p) => assert!(
                    !p.meta.warnings.is_empty() || p.samples.is_empty() || name.contains("pipe"),
                    "{name} cut at {cut}: loaded without a warning"
                ),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        e.offset().is_some()
                            || matches!(
                                e,
                                crate::Error::Empty | crate::Error::UnknownFormat { .. }
                            ),
                        "{name} cut at {cut}: error without an offset: {msg}"
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_magic_and_big_endian_are_clear_errors() {
    let e = load(b"PERFILE3\x68\0\0\0\0\0\0\0").unwrap_err();
    assert!(e.to_string().contains("not a profile format"), "{e}");
    let mut be = read("hot.perf.data");
    be[..8].copy_from_slice(b"2ELIFREP");
    let e = load(&be).unwrap_err();
    assert!(e.to_string().contains("big-endian"), "{e}");
    let mut bad = read("hot.perf.data");
    bad[8..16].copy_from_slice(&50u64.to_le_bytes());
    let e = load(&bad).unwrap_err();
    assert_eq!(e.offset(), Some(8), "{e}");
}

#[test]
fn hostile_length_fields_do_not_allocate_or_panic() {
    let full = read("hot.perf.data");
    let h = FileHeader::parse(&full).unwrap();
    // attrs section pointing past the end of the file
    let mut v = full.clone();
    v[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(load(&v).is_err());
    // huge data size: clamped to the file, with a warning
    let mut v = full.clone();
    v[48..56].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let p = load(&v).unwrap();
    assert_warns(&p, "cut short");
    // every record size byte in the first records set to garbage
    let mut v = full.clone();
    let d = h.data.offset as usize;
    v[d + 6] = 0xff;
    v[d + 7] = 0xff;
    let _ = load(&v);
    // a sample whose callchain claims 2^60 entries
    let mut v = full.clone();
    let mut pos = d;
    while pos + 8 < v.len() {
        let kind = u32::from_le_bytes(v[pos..pos + 4].try_into().unwrap());
        let size = u16::from_le_bytes(v[pos + 6..pos + 8].try_into().unwrap()) as usize;
        if kind == 9 {
            // sample_type of this file: IP TID TIME ID? CPU PERIOD CALLCHAIN; find nr by scan
            for off in (pos + 8..pos + size - 8).step_by(8) {
                let x = u64::from_le_bytes(v[off..off + 8].try_into().unwrap());
                if x > 0 && x < 200 && (off + 8 + x as usize * 8) == pos + size {
                    v[off..off + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
                    break;
                }
            }
            break;
        }
        pos += size.max(8);
    }
    let p = load(&v).unwrap();
    assert_warns(&p, "malformed sample");
}

#[test]
fn decompression_is_capped() {
    let full = read("hot-zstd.perf.data");
    let mut b = ProfileBuilder::new("perf.data");
    let e = parse_with(
        &full,
        &mut b,
        &Progress::new(),
        4096,
        &SymbolOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("refusing"), "{e}");
}

#[test]
fn progress_reports_each_phase_to_the_end() {
    let full = read("hot.perf.data");
    let progress = Progress::new();
    load_bytes(&full, &opts(), &progress).unwrap();
    assert_eq!(progress.phase(), crate::progress::Phase::Done);
    progress.start_phase(crate::progress::Phase::Reading, 200);
    progress.add_done(50);
    assert_eq!(progress.fraction(), 0.25);
}

#[test]
fn cancel_stops_the_load() {
    let full = read("hot.perf.data");
    let progress = Progress::new();
    progress.cancel();
    let e = load_bytes(&full, &opts(), &progress).unwrap_err();
    assert!(matches!(e, crate::Error::Cancelled), "{e}");
}

/// Seeded random damage (byte overwrites and bit flips in the header, attributes and records)
/// must never panic: each load ends in a located error or a profile.
#[test]
fn random_damage_never_panics() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for name in [
        "hot.perf.data",
        "hot-zstd.perf.data",
        "hot-pipe.perf.data",
        "hot-2events.perf.data",
    ] {
        let full = read(name);
        for _ in 0..100 {
            let mut v = full.clone();
            for _ in 0..1 + rnd() % 8 {
                // Bias towards the first 4 KiB, where headers, attributes and early records are.
                let limit = if rnd() % 2 == 0 {
                    4096.min(v.len())
                } else {
                    v.len()
                };
                let at = (rnd() as usize) % limit;
                if rnd() % 2 == 0 {
                    v[at] ^= 1 << (rnd() % 8);
                } else {
                    v[at] = rnd() as u8;
                }
            }
            let result = std::panic::catch_unwind(|| load(&v).map(|p| p.samples.len()));
            assert!(result.is_ok(), "{name}: a damaged copy panicked");
        }
    }
}

/// Hand-made perf.data files for cases no real recording produces (issue 2 review: damaged
/// length and count fields).
mod crafted {
    pub const IP: u64 = 1;
    pub const TID: u64 = 2;
    pub const READ: u64 = 16;
    pub const CALLCHAIN: u64 = 32;
    pub const PERIOD: u64 = 256;

    /// A 64-byte perf_event_attr (software cpu-clock unless `config` says otherwise).
    pub fn attr(sample_type: u64, read_format: u64, config: u64) -> Vec<u8> {
        let mut a = vec![0u8; 64];
        a[0..4].copy_from_slice(&1u32.to_le_bytes());
        a[4..8].copy_from_slice(&64u32.to_le_bytes());
        a[8..16].copy_from_slice(&config.to_le_bytes());
        a[16..24].copy_from_slice(&1000u64.to_le_bytes());
        a[24..32].copy_from_slice(&sample_type.to_le_bytes());
        a[32..40].copy_from_slice(&read_format.to_le_bytes());
        a
    }

    pub fn record(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend_from_slice(&2u16.to_le_bytes()); // cpumode user
        r.extend_from_slice(&u16::try_from(8 + body.len()).unwrap().to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    pub fn words(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// An executable MMAP2 of `/bin/x` for process `pid`.
    pub fn mmap2(pid: u32, start: u64, len: u64, pgoff: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&pid.to_le_bytes());
        b.extend_from_slice(&pid.to_le_bytes());
        b.extend_from_slice(&words(&[start, len, pgoff]));
        b.extend_from_slice(&[0u8; 24]);
        b.extend_from_slice(&5u32.to_le_bytes()); // PROT_READ | PROT_EXEC
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(b"/bin/x\0\0");
        record(10, &b)
    }

    /// File mode: header, attrs (attr_size 80, no ids), data.
    pub fn file(attrs: &[Vec<u8>], data: &[u8]) -> Vec<u8> {
        let mut f = b"PERFILE2".to_vec();
        let attrs_len = attrs.len() as u64 * 80;
        f.extend_from_slice(&words(&[
            104,
            80,
            104,
            attrs_len,
            104 + attrs_len,
            data.len() as u64,
        ]));
        f.extend_from_slice(&[0u8; 16 + 32]);
        for a in attrs {
            f.extend_from_slice(a);
            f.extend_from_slice(&[0u8; 16]);
        }
        f.extend_from_slice(data);
        f
    }

    pub fn sample(v: &[u64]) -> Vec<u8> {
        record(9, &words(v))
    }
}

#[test]
fn a_read_group_count_of_2_64_is_a_malformed_sample() {
    use crafted::*;
    let f = file(
        &[attr(IP | TID | READ, 8, 0)],
        &sample(&[0x1000, 1 | (1 << 32), u64::MAX]),
    );
    let p = load(&f).unwrap();
    assert_warns(&p, "malformed sample");
}

#[test]
fn odd_mapping_arithmetic_does_not_overflow() {
    use crafted::*;
    // A return address equal to the mapping's start (looked up one byte earlier), and a
    // mapping whose file offset is near 2^64.
    let mut d = mmap2(1, 0x400000, 0x1000, 0);
    d.extend(sample(&[
        0x400500,
        1 | (1 << 32),
        3,
        (-512i64) as u64,
        0x400500,
        0x400000,
    ]));
    d.extend(mmap2(2, 0x400000, 0x1000, u64::MAX - 10));
    d.extend(sample(&[0x400500, 2 | (2 << 32), 0]));
    let p = load(&file(&[attr(IP | TID | CALLCHAIN, 0, 0)], &d)).unwrap();
    assert_eq!(p.samples.len(), 2);
}

#[test]
fn absurd_periods_are_clamped_and_said() {
    use crafted::*;
    let mut d = Vec::new();
    for _ in 0..3 {
        d.extend(sample(&[0x400500, 1 | (1 << 32), i64::MAX as u64]));
    }
    let p = load(&file(&[attr(IP | TID | PERIOD, 0, 0)], &d)).unwrap();
    let n = crate::analysis::CallNodeTable::build(&p);
    let t = n.tree(&p, &crate::analysis::Selection::all(0));
    assert_eq!(t.total, 3 << 48);
    assert_warns(&p, "2^48");
}

#[test]
fn thousands_of_events_stay_cheap() {
    use crafted::*;
    let n = MAX_EVENTS + 100;
    let attrs: Vec<Vec<u8>> = (0..n).map(|i| attr(IP | TID, 0, 100 + i as u64)).collect();
    let mut d = Vec::new();
    for _ in 0..1000 {
        d.extend(sample(&[0x400500, 1 | (1 << 32)]));
    }
    let p = load(&file(&attrs, &d)).unwrap();
    assert_eq!(p.sample_types.len(), MAX_EVENTS);
    // One weight per sample whatever the number of events.
    let crate::model::SampleWeights::Tagged { weight, .. } = &p.samples.weights else {
        panic!("perf samples use the tagged layout");
    };
    assert_eq!(weight.len(), 1000);
    assert_warns(&p, "more events");
}

#[test]
fn an_impossibly_long_mapping_is_skipped() {
    use crafted::*;
    let mut d = mmap2(1, 0x1000, 1 << 62, 0);
    for i in 0..2000u64 {
        d.extend(mmap2(1, 0x10_0000 + i * 0x10000, 0x1000, 0));
    }
    d.extend(sample(&[0x10_0000 + 5 * 0x10000 + 0x10, 1 | (1 << 32)]));
    let p = load(&file(&[attr(IP | TID, 0, 0)], &d)).unwrap();
    assert_warns(&p, "impossible lengths");
    let f = p.frames.func[p.stacks.frame[0].index()];
    assert_eq!(
        p.func_name(f),
        "x+0x10",
        "the sample lands in its own small mapping"
    );
}

/// A capture that overflowed its ring buffer: the lost count is perf's, each LOST record is a
/// mark at its time inside the capture, and the end-of-record summaries (no time) are not
/// counted twice.
#[test]
fn lost_samples_match_perf_and_are_placed_in_time() {
    let dir = sample_dir();
    let stats = std::fs::read_to_string(dir.join("lost.perf.data.stats.txt")).unwrap();
    // perf prints the LOST record count, then the LOST_SAMPLES record count, then the total
    // lost samples on a second "LOST_SAMPLES events:" line without a percentage.
    let number = |line: &str| -> u64 {
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let lost_records = stats
        .lines()
        .find(|l| l.trim_start().starts_with("LOST events:"))
        .map(number)
        .unwrap();
    let lost_total = stats
        .lines()
        .filter(|l| l.trim_start().starts_with("LOST_SAMPLES events:") && !l.contains('%'))
        .map(number)
        .next()
        .unwrap();
    assert!(lost_records > 0 && lost_total > 0);
    let bytes = std::fs::read(dir.join("lost.perf.data")).unwrap();
    let p = load(&bytes).unwrap();
    assert_eq!(p.meta.lost_samples, lost_total);
    assert_eq!(p.meta.lost_at.len() as u64, lost_records);
    let (start, end) = crate::analysis::time_bounds(&p).unwrap();
    for &(t, n) in &p.meta.lost_at {
        assert!(
            t >= start.saturating_sub(1_000_000_000) && t <= end + 1_000_000_000,
            "{t}"
        );
        assert!(n > 0);
    }
    assert_eq!(
        p.meta.lost_at.iter().map(|l| l.1).sum::<u64>(),
        lost_total,
        "the LOST records hold every lost sample"
    );
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains(&format!("lost {lost_total} samples")))
    );
}

/// The profile of `bytes` with the sample pass in chunks of `chunk` bytes on `workers` threads,
/// as a `.stkl` capture's bytes (which hold every table).
fn chunked(bytes: &[u8], chunk: usize, workers: usize) -> crate::Result<Vec<u8>> {
    let o = opts();
    let progress = Progress::new();
    let mut b = ProfileBuilder::new("perf.data");
    parse_in_chunks(
        bytes,
        &mut b,
        &progress,
        default_decompression_limit(bytes.len()),
        &o.symbols,
        chunk,
        workers,
    )?;
    let p = crate::formats::symbolize_and_freeze(b, &o, &progress)?;
    let mut out = Vec::new();
    crate::formats::stkl::write(&p, &mut out).unwrap();
    Ok(out)
}

/// A panic in the parallel sample pass (a bug, in a worker or in the merger) is passed on to
/// the caller: no thread is left waiting for a chunk or a merge that will not come, which
/// would hang the load (and the window that waits for it) for good.
#[test]
fn a_panic_in_the_sample_pass_is_passed_on_instead_of_hanging() {
    use parallel::Fault;
    let bytes = std::fs::read(sample_dir().join("hot.perf.data")).unwrap();
    // 4 KiB chunks: about 30 of them; 2 workers decode at most 4 ahead of the merge.
    for fault in [
        Fault::Decode(0),
        Fault::Decode(7),
        Fault::Merge(0),
        Fault::Merge(7),
    ] {
        let bytes = bytes.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            parallel::FAULT.set(Some(fault));
            let r = std::panic::catch_unwind(|| chunked(&bytes, 4096, 2));
            let _ = tx.send(r.is_err());
        });
        let panicked = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{fault:?}: the load hung"));
        assert!(panicked, "{fault:?}: the load ended without the panic");
    }
    // Without a fault the same load ends normally (the chunks above are the parallel pass's).
    assert_eq!(
        chunked(&bytes, 4096, 2).unwrap(),
        chunked(&bytes, usize::MAX, 1).unwrap()
    );
}

#[test]
fn the_sample_pass_on_several_threads_makes_the_same_profile_as_one() {
    let mut parallel_files = 0;
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".perf.data") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        // Whole, and cut in the middle of the data section.
        for bytes in [&bytes[..], &bytes[..bytes.len() * 3 / 5]] {
            let one = chunked(bytes, usize::MAX, 1);
            let mut p = PerfData::new(bytes, FileHeader::parse(bytes).unwrap(), u64::MAX);
            // Files the parallel pass takes (not DWARF, not compressed) are counted.
            if !p.header.pipe
                && p.read_file_attrs().is_ok()
                && !p
                    .attrs
                    .iter()
                    .any(|a| a.sample_type & SAMPLE_STACK_USER != 0)
                && !path.to_string_lossy().contains("zstd")
            {
                parallel_files += 1;
            }
            for (chunk, workers) in [(4096, 2), (64 << 10, 3), (1, 2)] {
                let many = chunked(bytes, chunk, workers);
                match (&one, &many) {
                    (Ok(a), Ok(b)) => assert!(
                        a == b,
                        "{}: {} bytes in chunks of {chunk} on {workers} threads differ",
                        path.display(),
                        bytes.len()
                    ),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{}: {a:?} against {b:?}", path.display()),
                }
            }
        }
    }
    assert!(parallel_files >= 10, "only {parallel_files} files");
}

/// A mapped file's first pass has a helper thread that maps the file ahead of it and faults in
/// the room for pass 2's rows as samples are counted; the profile is the same as one thread's
/// from bytes in memory (no helper, no room).
#[test]
fn pass_1_with_its_helper_thread_and_the_sample_room_makes_the_same_profile() {
    for name in [
        "hot.perf.data",
        "demo.perf.data",
        "lost.perf.data",
        "node-jit.perf.data",
    ] {
        let path = sample_dir().join(name);
        let map = crate::mapped::MappedFile::open(&path).unwrap();
        let mapped = map.bytes();
        assert!(crate::mapped::is_file_mapped(mapped));
        let bytes = std::fs::read(&path).unwrap();
        let one = chunked(&bytes, usize::MAX, 1).unwrap();
        for (chunk, workers) in [(4096, 2), (64 << 10, 3)] {
            assert!(
                chunked(mapped, chunk, workers).unwrap() == one,
                "{name} in chunks of {chunk} on {workers} threads differs"
            );
        }
    }
}

#[test]
fn every_committed_capture_is_consistent() {
    for entry in std::fs::read_dir(sample_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".perf.data") {
            continue;
        }
        let p = load(&std::fs::read(&path).unwrap()).unwrap();
        p.check()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Every combination of the fixed-offset fields: the fixed layout reads the same values as the
/// general decoder, and refuses exactly the records the general decoder calls damaged (then the
/// general decoder's description is what the warning says).
#[test]
fn the_fixed_layout_decodes_as_the_general_decoder() {
    use super::{decode_fixed, decode_sample_any};
    let fields = [
        SAMPLE_IDENTIFIER,
        SAMPLE_IP,
        SAMPLE_TID,
        SAMPLE_TIME,
        SAMPLE_ADDR,
        SAMPLE_ID,
        SAMPLE_STREAM_ID,
        SAMPLE_CPU,
        SAMPLE_PERIOD,
        SAMPLE_CALLCHAIN,
    ];
    let mut compared = 0;
    for mask in 0u32..(1 << fields.len()) {
        let st = (0..fields.len())
            .filter(|&i| mask & (1 << i) != 0)
            .fold(0, |st, i| st | fields[i]);
        let attr = Attr::parse(&crafted::attr(st, 0, 0), 0).unwrap();
        let layout = attr.layout.expect("no variable fields");
        for chain_len in [0u64, 1, 3] {
            // Field values that differ from each other; the callchain count, then entries.
            let mut words: Vec<u64> = Vec::new();
            for (i, &f) in fields.iter().enumerate() {
                if st & f == 0 {
                    continue;
                }
                if f == SAMPLE_CALLCHAIN {
                    words.push(chain_len);
                    words.extend((0..chain_len).map(|e| 0xffff_0000 + e));
                } else {
                    words.push(0x1000 * (i as u64 + 1) + u64::from(mask));
                }
            }
            let rec = crafted::sample(&words);
            for cut in (8..=rec.len()).rev() {
                let r = &rec[..cut];
                let fixed = decode_fixed(&layout, r);
                let any = decode_sample_any(&attr, r);
                // The general decoder does not read past the callchain: a record cut after
                // its fields is damaged for neither.
                assert_eq!(fixed.is_some(), any.is_ok(), "type {st:#x}, cut at {cut}");
                if let (Some(a), Ok(b)) = (fixed, any) {
                    assert_eq!(
                        (a.ip, a.pid, a.tid, a.time, a.period, a.callchain),
                        (b.ip, b.pid, b.tid, b.time, b.period, b.callchain),
                        "type {st:#x}, cut at {cut}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 3000, "{compared} records compared");
    // Variable-size fields have no fixed layout.
    for st in [
        SAMPLE_READ,
        SAMPLE_RAW,
        SAMPLE_BRANCH_STACK,
        SAMPLE_REGS_USER,
        SAMPLE_STACK_USER,
    ] {
        let attr = Attr::parse(&crafted::attr(SAMPLE_IP | st, 0, 0), 0).unwrap();
        assert_eq!(attr.layout, None, "type {st:#x}");
    }
}
