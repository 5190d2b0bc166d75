//! Symbols from separate debug files, through the library's public API: the sample program
//! split with binutils at test time (`objcopy --only-keep-debug`, stripped, linked by
//! `.gnu_debuglink` or placed by build-id), plain and with compressed debug sections, must give
//! the same functions, source files and lines as the unsplit binary.

use stacklens_core::model::Profile;
use stacklens_core::symbols::SymbolOptions;
use stacklens_core::{LoadOptions, Progress, load};
use stacklens_tests::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `hot.perf.data` symbolized from `dirs` only.
fn load_hot(dirs: &[&Path]) -> Profile {
    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            inline_frames: true,
            kallsyms: None,
            system_paths: false,
            ..SymbolOptions::default()
        },
        ..LoadOptions::default()
    };
    load(&sample("hot.perf.data"), &o, &Progress::new()).unwrap()
}

/// Every (function, source file name, line, inline depth) the frames of `p` carry.
fn frame_lines(p: &Profile) -> BTreeSet<(String, String, u32, u16)> {
    (0..p.frames.len())
        .filter(|&i| p.frames.func[i].is_some())
        .map(|i| {
            let f = p.frames.func[i];
            let file = p.str(p.funcs.file[f.index()]);
            let file = file.rsplit('/').next().unwrap_or(file).to_string();
            (
                p.func_name(f).to_string(),
                file,
                p.frames.line[i],
                p.frames.inline_depth[i],
            )
        })
        .collect()
}

/// Runs `script` with `sh -e` in `dir`; false if it fails (with its stderr printed).
fn sh(dir: &Path, script: &str) -> bool {
    let out = Command::new("sh")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .output()
        .expect("sh");
    if !out.status.success() {
        eprintln!("{script}: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

/// The sample program split in a new directory: `hot` stripped by `strip`, `hot.debug` made by
/// `objcopy --only-keep-debug` and compressed with `compress` (an objcopy
/// `--compress-debug-sections` value, or "none"); `link` adds `.gnu_debuglink`.
fn split(strip: &str, compress: &str, link: bool) -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sample("bin/hot"), dir.path().join("hot")).unwrap();
    let mut script = format!(
        "objcopy --only-keep-debug hot hot.debug\n\
         objcopy --compress-debug-sections={compress} hot.debug\n\
         {strip} hot\n"
    );
    if link {
        script.push_str("objcopy --add-gnu-debuglink=hot.debug hot\n");
    }
    sh(dir.path(), &script).then_some(dir)
}

/// The reference: what the unsplit binary gives, with the function names the tests expect.
fn reference() -> BTreeSet<(String, String, u32, u16)> {
    let want = frame_lines(&load_hot(&[&sample("bin")]));
    for f in ["leaf_a", "leaf_b", "mix", "recurse"] {
        assert!(
            want.iter()
                .any(|(n, file, line, _)| n == f && file == "hot.c" && *line > 0),
            "{f}: {want:?}"
        );
    }
    // `mix` is inlined: an inline frame with its own line.
    assert!(
        want.iter()
            .any(|(n, _, _, depth)| n == "mix" && *depth == 1)
    );
    want
}

/// The canonical form of `p`, as files opened for symbols record their path.
fn canon(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

fn hot_status(p: &Profile) -> &stacklens_core::model::ModuleSymbols {
    p.meta
        .modules
        .iter()
        .find(|m| m.path.ends_with("/hot"))
        .expect("a status for the hot module")
}

#[test]
fn a_debuglinked_debug_file_gives_the_same_lines() {
    let want = reference();
    for strip in ["strip --strip-debug", "objcopy --strip-all"] {
        let dir = split(strip, "none", true).expect("binutils are needed for this test");
        let p = load_hot(&[dir.path()]);
        assert_eq!(frame_lines(&p), want, "{strip}");
        let st = hot_status(&p);
        let debug = canon(&dir.path().join("hot.debug"));
        assert_eq!(st.lines_from.as_deref(), Some(debug.as_str()), "{strip}");
        // `strip --strip-debug` keeps `.symtab`: names from the binary, lines from the debug file.
        let symbols = if strip.starts_with("strip") {
            canon(&dir.path().join("hot"))
        } else {
            debug.clone()
        };
        assert_eq!(
            st.symbols_from.as_deref(),
            Some(symbols.as_str()),
            "{strip}"
        );
        assert_eq!(st.problem, None);
    }
}

#[test]
fn compressed_debug_sections_give_the_same_lines() {
    let want = reference();
    let mut tried = 0;
    for compress in ["zlib", "zlib-gnu", "zstd"] {
        let Some(dir) = split("objcopy --strip-all", compress, true) else {
            // Only zstd may be missing (binutils built without it).
            assert_eq!(compress, "zstd", "objcopy cannot compress with {compress}");
            eprintln!("objcopy without zstd: skipped");
            continue;
        };
        tried += 1;
        let p = load_hot(&[dir.path()]);
        assert_eq!(frame_lines(&p), want, "{compress}");
        assert!(hot_status(&p).lines_from.is_some(), "{compress}");
    }
    assert!(tried >= 2);
}

#[test]
fn a_debug_file_is_found_by_build_id() {
    let want = reference();
    // No debuglink: only the `.build-id/xx/rest.debug` layout below the search directory
    // leads to the debug file.
    let dir = split("objcopy --strip-all", "zlib", false).expect("binutils are needed");
    let bin = stacklens_core::symbols::ElfFile::open(&dir.path().join("hot")).unwrap();
    assert_eq!(bin.debuglink, None);
    let id: String = bin
        .build_id
        .as_ref()
        .expect("the sample program has a build-id")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let debug_dir = dir.path().join("symbols/.build-id").join(&id[..2]);
    std::fs::create_dir_all(&debug_dir).unwrap();
    let debug: PathBuf = debug_dir.join(format!("{}.debug", &id[2..]));
    std::fs::rename(dir.path().join("hot.debug"), &debug).unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::fs::rename(dir.path().join("hot"), bin_dir.join("hot")).unwrap();

    let p = load_hot(&[&bin_dir, &dir.path().join("symbols")]);
    assert_eq!(frame_lines(&p), want);
    let st = hot_status(&p);
    assert_eq!(st.lines_from, Some(canon(&debug)));
    assert_eq!(st.symbols_from, Some(canon(&debug)));

    // Without the debug file the stripped binary has only its PLT: the status says why.
    let p = load_hot(&[&bin_dir]);
    let problem = hot_status(&p).problem.clone().unwrap_or_default();
    assert!(problem.starts_with("stripped: no .symtab"), "{problem}");
}

#[test]
fn a_debug_file_next_to_the_binary_is_not_taken_for_it() {
    // Both carry the build-id; only the binary maps file offsets to addresses.
    let want = reference();
    let dir = split("objcopy --strip-all", "none", false).expect("binutils are needed");
    std::fs::rename(dir.path().join("hot"), dir.path().join("program")).unwrap();
    let p = load_hot(&[dir.path()]);
    assert_eq!(frame_lines(&p), want);
    let st = hot_status(&p);
    assert_eq!(st.lines_from, Some(canon(&dir.path().join("hot.debug"))));

    // The debug file alone: nothing resolves, and the status says why.
    std::fs::remove_file(dir.path().join("program")).unwrap();
    let p = load_hot(&[dir.path()]);
    let problem = hot_status(&p).problem.clone().unwrap_or_default();
    assert!(
        problem.starts_with("only a separate debug file found"),
        "{problem}"
    );
}

/// The kernel call chains (root first, `;`-joined, kernel frames only) of the
/// `sched:sched_switch` samples, counted.
fn kernel_chains(p: &Profile) -> std::collections::BTreeMap<String, u64> {
    use stacklens_core::model::ModuleKind;
    let switch = p.sample_type_index("sched:sched_switch").unwrap();
    let mut out = std::collections::BTreeMap::new();
    for s in 0..p.samples.len() {
        if p.samples.weights.get(switch, s).is_none() {
            continue;
        }
        let mut names = Vec::new();
        let mut stack = p.samples.stack[s];
        while let Some(i) = stack.get().map(|_| stack.index()) {
            let frame = p.stacks.frame[i];
            let f = p.frames.func[frame.index()];
            let m = p.frames.module[frame.index()];
            if m.get().is_some() && p.modules.kind[m.index()] == ModuleKind::Kernel {
                names.push(if f.is_some() {
                    p.func_name(f).to_string()
                } else {
                    "?".to_string()
                });
            }
            stack = p.stacks.parent[i];
        }
        if !names.is_empty() {
            names.reverse();
            *out.entry(names.join(";")).or_default() += 1;
        }
    }
    out
}

/// On a machine that runs another kernel, the kernel frames of a capture are named from the
/// copy of its kallsyms in perf's build-id cache (what `perf archive` carries): the same names
/// `perf script` gave on the recording machine, chain for chain.
#[test]
fn kernel_frames_are_named_from_the_build_id_cache_when_the_running_kernel_is_another() {
    let capture = sample("offcpu.perf.data");
    let cache = tempfile::tempdir().unwrap();
    // The recorded kernel build-id, from the capture itself.
    let bid = {
        let p = load(
            &capture,
            &LoadOptions {
                symbols: SymbolOptions {
                    kallsyms: None,
                    system_paths: false,
                    ..SymbolOptions::default()
                },
                ..LoadOptions::default()
            },
            &Progress::new(),
        )
        .unwrap();
        p.meta
            .modules
            .iter()
            .find(|m| m.path == "[kernel.kallsyms]")
            .and_then(|m| m.build_id.clone())
            .expect("the capture records its kernel's build-id")
    };
    let dir = cache
        .path()
        .join(".build-id")
        .join(&bid[..2])
        .join(&bid[2..]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(sample("offcpu.perf.data.kallsyms"), dir.join("kallsyms")).unwrap();

    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: vec![cache.path().to_path_buf(), sample("bin")],
            // Stands for a running kernel whose symbols are not the capture's.
            kallsyms: Some(cache.path().join("no-such-kallsyms")),
            system_paths: false,
            ..SymbolOptions::default()
        },
        ..LoadOptions::default()
    };
    let p = load(&capture, &o, &Progress::new()).unwrap();
    let kernel = p
        .meta
        .modules
        .iter()
        .find(|m| m.path == "[kernel.kallsyms]")
        .unwrap();
    assert_eq!(
        kernel.symbols_from.as_deref(),
        Some(dir.join("kallsyms").to_str().unwrap()),
        "{kernel:?}"
    );
    assert_eq!(kernel.resolved, kernel.addresses, "{kernel:?}");

    let text = std::fs::read_to_string(sample("offcpu.perf.data.kernel-stacks.txt")).unwrap();
    let want: std::collections::BTreeMap<String, u64> = text
        .lines()
        .map(|l| {
            let (n, chain) = l.split_once(' ').unwrap();
            (chain.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(kernel_chains(&p), want);

    // Without the copy: unnamed, with the reason.
    std::fs::remove_file(dir.join("kallsyms")).unwrap();
    let p = load(&capture, &o, &Progress::new()).unwrap();
    assert!(
        kernel_chains(&p)
            .keys()
            .all(|c| c.split(';').all(|n| n == "?" || n == "[kernel]"))
    );
}
