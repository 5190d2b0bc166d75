//! Symbolization of the committed capture through the search rules, independent of the
//! machine (`system_paths: false`).

use super::*;
use crate::analysis::{CallNodeTable, Selection, top_functions};
use crate::model::Profile;
use crate::{LoadOptions, load_bytes};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sample-profiles")
        .join(name)
}

fn load_with(dirs: Vec<PathBuf>, inline: bool) -> Profile {
    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: dirs,
            inline_frames: inline,
            kallsyms: None,
            system_paths: false,
        },
        ..LoadOptions::default()
    };
    let bytes = std::fs::read(sample("hot.perf.data")).unwrap();
    load_bytes(&bytes, &o, &Progress::new()).unwrap()
}

/// (name, self weight) of every function with weight, by self descending.
fn top(p: &Profile) -> Vec<(String, i64)> {
    let n = CallNodeTable::build(p);
    let t = n.tree(p, &Selection::all(0));
    top_functions(p, &n, &t)
        .iter()
        .map(|s| (p.func_name(s.func).to_string(), s.self_weight))
        .collect()
}

fn total(p: &Profile) -> i64 {
    let mut sum = 0;
    p.samples
        .weights
        .for_each(0, 0..p.samples.len(), |_, w| sum += w);
    sum
}

#[test]
fn a_binary_is_found_by_build_id_under_any_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sample("bin/hot"), dir.path().join("some-other-name")).unwrap();
    let p = load_with(vec![dir.path().to_path_buf()], true);
    let names: Vec<String> = top(&p).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"leaf_a".to_string()) && names.contains(&"mix".to_string()),
        "{names:?}"
    );
    assert!(
        !p.meta.warnings.iter().any(|w| w.contains("/bin/hot")),
        "{:?}",
        p.meta.warnings
    );
}

#[test]
fn a_binary_with_another_build_id_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    // Same file name, different program.
    std::fs::copy(sample("bin/hotpp"), dir.path().join("hot")).unwrap();
    let p = load_with(vec![dir.path().to_path_buf()], true);
    let mismatch: Vec<_> = p
        .meta
        .warnings
        .iter()
        .filter(|w| w.contains("does not match"))
        .collect();
    assert_eq!(mismatch.len(), 1, "{:?}", p.meta.warnings);
    let names: Vec<String> = top(&p).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names
            .iter()
            .any(|n| n == "leaf_a" || n.starts_with("helper")),
        "{names:?}"
    );
    assert!(names[0].starts_with("hot+0x"), "{names:?}");
    assert_eq!(
        total(&p),
        total(&load_with(vec![sample("bin")], true)),
        "no weight is dropped"
    );
}

#[test]
fn without_the_binary_frames_keep_module_and_offset() {
    let p = load_with(vec![], true);
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("no binary found for") && w.contains("--symbols")),
        "{:?}",
        p.meta.warnings
    );
    let t = top(&p);
    assert!(
        t.iter()
            .all(|(n, _)| n.contains("+0x") || n.starts_with('[')),
        "{t:?}"
    );
    // Addresses are file offsets inside the module.
    let (name, _) = &t[0];
    let off = u64::from_str_radix(name.rsplit("+0x").next().unwrap(), 16).unwrap();
    assert!(off > 0x1000 && off < 0x2000, "{name}");
}

#[test]
fn no_inline_gives_the_inlined_code_to_its_caller() {
    let inl = top(&load_with(vec![sample("bin")], true));
    let flat = top(&load_with(vec![sample("bin")], false));
    let get = |v: &[(String, i64)], n: &str| v.iter().find(|(x, _)| x == n).map_or(0, |(_, w)| *w);
    assert!(get(&inl, "mix") > 0);
    assert_eq!(get(&flat, "mix"), 0);
    assert_eq!(get(&flat, "leaf_b"), get(&inl, "leaf_b") + get(&inl, "mix"));
    assert_eq!(get(&flat, "leaf_a"), get(&inl, "leaf_a"));
}

#[test]
fn inline_frames_carry_source_lines() {
    let p = load_with(vec![sample("bin")], true);
    let mix = (0..p.frames.len())
        .find(|&i| p.frames.func[i].is_some() && p.func_name(p.frames.func[i]) == "mix")
        .expect("a mix frame");
    assert_eq!(p.frames.inline_depth[mix], 1);
    assert!(p.frames.line[mix] > 0);
    let file = p.funcs.file[p.frames.func[mix].index()];
    assert!(p.str(file).ends_with("hot.c"));
}

#[test]
fn same_named_static_functions_stay_apart_without_dwarf() {
    // bin/hotpp has two `static helper(unsigned long, unsigned long)`, in a.cpp and b.cpp.
    // Without DWARF nothing but their symbols' addresses tells them apart.
    let dir = tempfile::tempdir().unwrap();
    let stripped = dir.path().join("hotpp");
    let st = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(sample("bin/hotpp"))
        .arg(&stripped)
        .status()
        .expect("objcopy (binutils) is needed for this test");
    assert!(st.success());
    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: vec![dir.path().to_path_buf()],
            inline_frames: true,
            kallsyms: None,
            system_paths: false,
        },
        ..LoadOptions::default()
    };
    let bytes = std::fs::read(sample("hotpp.perf.data")).unwrap();
    let p = load_bytes(&bytes, &o, &Progress::new()).unwrap();
    let helpers: Vec<_> = top(&p)
        .into_iter()
        .filter(|(n, _)| n.starts_with("helper("))
        .collect();
    assert_eq!(helpers.len(), 2, "{helpers:?}");
    assert!(
        helpers[0].1 > helpers[1].1 * 3 / 2,
        "a.cpp's helper does twice the work: {helpers:?}"
    );
}

/// `(address, name)` of every `<name@plt>` label objdump prints for the PLT sections of `bin`.
fn objdump_plt_labels(bin: &Path) -> Vec<(u64, String)> {
    let out = std::process::Command::new("objdump")
        .args(["-d", "-j", ".plt", "-j", ".plt.sec", "-j", ".plt.got"])
        .arg(bin)
        .output()
        .expect("objdump (binutils) is needed for this test");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (addr, rest) = l.split_once(" <")?;
            let name = rest.strip_suffix(">:")?;
            name.ends_with("@plt")
                .then(|| Some((u64::from_str_radix(addr, 16).ok()?, name.to_owned())))?
        })
        .collect()
}

#[test]
fn plt_stubs_are_named_like_objdump_and_perf() {
    let dir = tempfile::tempdir().unwrap();
    let mut bins = vec![sample("bin/hot")];
    // A build with IBT has `.plt.sec` stubs (and lazy `.plt` entries that jump elsewhere).
    let src = dir.path().join("ibt.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { puts(v[0]); return atoi(v[0]); }\n",
    )
    .unwrap();
    let ibt = dir.path().join("ibt");
    let built = std::process::Command::new("gcc")
        .args(["-O1", "-fcf-protection=full", "-Wl,-z,ibtplt", "-o"])
        .arg(&ibt)
        .arg(&src)
        .status()
        .expect("gcc is needed for this test");
    assert!(built.success());
    bins.push(ibt);
    bins.extend(
        ["/usr/bin/find", "/usr/bin/ls"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists()),
    );
    for bin in &bins {
        let labels = objdump_plt_labels(bin);
        assert!(!labels.is_empty(), "{}: no PLT labels", bin.display());
        let elf = elf::ElfFile::open(bin).unwrap();
        for (addr, name) in &labels {
            let ours = elf.symbol(*addr + 2).map(|s| s.name.as_str());
            assert_eq!(ours, Some(name.as_str()), "{} at {addr:#x}", bin.display());
        }
    }
}
