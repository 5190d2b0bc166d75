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
            ..SymbolOptions::default()
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
            ..SymbolOptions::default()
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

/// Runs `script` with `sh -e` in `dir` (binutils, gcc and xz at test time).
fn sh(dir: &Path, script: &str) {
    let out = std::process::Command::new("sh")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The canonical form of `p`, as files opened for symbols record their path.
fn canon(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

fn module_status<'a>(p: &'a Profile, file_name: &str) -> &'a crate::model::ModuleSymbols {
    p.meta
        .modules
        .iter()
        .find(|m| m.path.rsplit('/').next() == Some(file_name))
        .unwrap_or_else(|| panic!("no status for {file_name}: {:?}", p.meta.modules))
}

#[test]
fn module_status_names_the_files_used_or_the_problem() {
    let p = load_with(vec![sample("bin")], true);
    let hot = module_status(&p, "hot");
    assert_eq!(hot.kind, ModuleKind::Native);
    assert!(hot.build_id.is_some());
    let bin = canon(&sample("bin/hot"));
    assert_eq!(hot.symbols_from.as_deref(), Some(bin.as_str()));
    assert_eq!(hot.lines_from.as_deref(), Some(bin.as_str()));
    assert!(hot.resolved > 0 && hot.resolved <= hot.addresses, "{hot:?}");
    assert_eq!(hot.problem, None);

    let p = load_with(vec![], true);
    let hot = module_status(&p, "hot");
    assert_eq!(hot.resolved, 0);
    assert!(hot.addresses > 0);
    assert_eq!(hot.symbols_from, None);
    let problem = hot.problem.as_deref().unwrap_or("");
    assert!(
        problem.starts_with("no binary found (searched: "),
        "{problem}"
    );

    // A copy with another build-id: the problem says where.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sample("bin/hotpp"), dir.path().join("hot")).unwrap();
    let p = load_with(vec![dir.path().to_path_buf()], true);
    let problem = module_status(&p, "hot").problem.clone().unwrap_or_default();
    assert!(
        problem.starts_with("build-id mismatch at ")
            && problem.contains(&*dir.path().to_string_lossy()),
        "{problem}"
    );
}

/// Fedora's MiniDebugInfo recipe (as in its `find-debuginfo`): the function symbols `.dynsym`
/// lacks, in a symbol-only ELF file, xz-compressed into `.gnu_debugdata` of the stripped binary.
const MINIDEBUGINFO: &str = r#"
nm -D "$BIN" --format=posix --defined-only | awk '{ print $1 }' | sort > dynsyms
nm "$BIN" --format=posix --defined-only | awk '{ if ($2 == "T" || $2 == "t" || $2 == "D") print $1 }' | sort > funcsyms
comm -13 dynsyms funcsyms > keep_symbols
objcopy --only-keep-debug "$BIN" debug
objcopy -S --remove-section .gdb_index --remove-section .comment --keep-symbols=keep_symbols debug mini_debuginfo
xz -f mini_debuginfo
strip --strip-all -R .comment "$BIN"
objcopy --add-section .gnu_debugdata=mini_debuginfo.xz "$BIN"
"#;

#[test]
fn minidebuginfo_names_what_dynsym_lacks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prog.c"),
        "#include <stdlib.h>\n\
         __attribute__((noinline)) static long local_one(long x) { return x * 3 + 1; }\n\
         __attribute__((noinline)) static long local_two(long x) { return local_one(x) ^ 5; }\n\
         __attribute__((noinline)) long exported(long x) { return local_two(x) + 2; }\n\
         int main(int c, char **v) { return (int)exported(atol(v[c - 1])); }\n",
    )
    .unwrap();
    sh(
        dir.path(),
        "gcc -O2 -g -rdynamic -o prog prog.c && cp prog full",
    );
    sh(dir.path(), &format!("BIN=prog\n{MINIDEBUGINFO}"));
    let full = ElfFile::open(&dir.path().join("full")).unwrap();
    let mini = ElfFile::open(&dir.path().join("prog")).unwrap();
    assert!(full.has_symtab && !mini.has_symtab);
    assert!(mini.minidebuginfo(), "{:?}", mini.minidebuginfo_error());
    assert!(!mini.has_dwarf());
    // Every function of the full symbol table has the same name at its start.
    let out = std::process::Command::new("nm")
        .args(["--defined-only", "--format=posix"])
        .arg(dir.path().join("full"))
        .output()
        .unwrap();
    let funcs: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && matches!(f[1], "T" | "t"))
                .then(|| Some((f[0].to_string(), u64::from_str_radix(f[2], 16).ok()?)))?
        })
        .collect();
    for name in ["local_one", "local_two", "exported", "main"] {
        assert!(funcs.iter().any(|(n, _)| n == name), "{funcs:?}");
    }
    for (name, addr) in &funcs {
        assert_eq!(
            mini.symbol(*addr).map(|s| s.name.as_str()),
            full.symbol(*addr).map(|s| s.name.as_str()),
            "{name} at {addr:#x}"
        );
    }
    let m = ElfModule {
        bin: Arc::new(mini),
        debug: None,
    };
    assert!(m.symbols_from().ends_with("prog (.gnu_debugdata)"));
}

#[test]
fn minidebuginfo_symbolizes_a_capture() {
    // The sample program stripped, with MiniDebugInfo: the same names as with its symbol
    // table, without lines or inline frames (MiniDebugInfo has no DWARF).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(sample("bin/hot"), dir.path().join("hot")).unwrap();
    sh(dir.path(), &format!("BIN=hot\n{MINIDEBUGINFO}"));
    for f in [
        "debug",
        "dynsyms",
        "funcsyms",
        "keep_symbols",
        "mini_debuginfo.xz",
    ] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let p = load_with(vec![dir.path().to_path_buf()], false);
    let want = top(&load_with(vec![sample("bin")], false));
    assert_eq!(top(&p), want);
    assert!(want.iter().any(|(n, _)| n == "leaf_a"), "{want:?}");
    let hot = module_status(&p, "hot");
    assert!(
        hot.symbols_from
            .as_deref()
            .unwrap_or("")
            .ends_with("hot (.gnu_debugdata)"),
        "{hot:?}"
    );
    assert_eq!(hot.lines_from, None);
    assert!(
        hot.problem
            .as_deref()
            .unwrap_or("")
            .starts_with("no line information")
    );
}

#[test]
fn a_hostile_gnu_debugdata_is_refused_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Garbage; a bomb (64 MiB of zeros is about 10 KiB of xz: far over the 64× ratio); valid
    // xz that is not an ELF file; a truncated real one.
    std::fs::write(
        d.join("garbage"),
        b"\xfd7zXZ\x00 this is not xz data at all",
    )
    .unwrap();
    sh(
        d,
        "head -c 67108864 /dev/zero | xz -0 > bomb; echo 'just text' | xz > text",
    );
    std::fs::copy(sample("bin/hot"), d.join("hot")).unwrap();
    sh(d, &format!("BIN=hot\n{MINIDEBUGINFO}"));
    let real = std::fs::read(d.join("mini_debuginfo.xz")).unwrap();
    std::fs::write(d.join("truncated"), &real[..real.len() / 2]).unwrap();
    let plt = objdump_plt_labels(&sample("bin/hot"));
    assert!(!plt.is_empty());
    for (section, why) in [
        ("garbage", "malformed xz data"),
        ("bomb", "more than"),
        ("text", "holds no ELF file"),
        ("truncated", "xz data"),
    ] {
        sh(
            d,
            &format!(
                "cp {} {section}.bin && strip --strip-all {section}.bin && objcopy --add-section .gnu_debugdata={section} {section}.bin",
                sample("bin/hot").display()
            ),
        );
        let elf = ElfFile::open(&d.join(format!("{section}.bin"))).unwrap();
        assert!(!elf.minidebuginfo(), "{section}");
        let err = elf.minidebuginfo_error().unwrap_or_default().to_string();
        assert!(err.contains(why), "{section}: {err}");
        // The PLT stubs are still named.
        for (addr, name) in &plt {
            assert_eq!(
                elf.symbol(*addr).map(|s| s.name.as_str()),
                Some(name.as_str())
            );
        }
    }
}

/// The requests (paths) a test server was asked.
type RequestLog = Arc<std::sync::Mutex<Vec<String>>>;

/// A server on 127.0.0.1 that logs the path of every request and lets `answer` write the
/// response; over TLS with `tls`. Returns its URL (`http://127.0.0.1:PORT/`, or
/// `https://localhost:PORT/` for the certificate's name) and the log.
fn test_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    answer: impl Fn(&str, &mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
) -> (String, RequestLog) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = match tls {
        Some(_) => format!("https://localhost:{port}/"),
        None => format!("http://127.0.0.1:{port}/"),
    };
    let log = RequestLog::default();
    let seen = log.clone();
    let serve = move |conn: &mut dyn ReadWrite| {
        let mut r = BufReader::new(&mut *conn);
        let mut request = String::new();
        if r.read_line(&mut request).unwrap_or(0) == 0 {
            return; // no request: a client that gave up (on the certificate, say)
        }
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        drop(r);
        let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
        seen.lock().unwrap().push(path.clone());
        let _ = answer(&path, conn).and_then(|()| conn.flush());
    };
    trait ReadWrite: Read + Write {}
    impl<T: Read + Write> ReadWrite for T {}
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            match &tls {
                None => serve(&mut conn),
                Some(config) => {
                    let tls = rustls::ServerConnection::new(config.clone()).unwrap();
                    let mut conn = rustls::StreamOwned::new(tls, conn);
                    serve(&mut conn);
                    conn.conn.send_close_notify();
                    let _ = conn.flush();
                }
            }
        }
    });
    (url, log)
}

/// A debuginfod on 127.0.0.1 (over TLS with `tls`): serves `files` (URL path → file:
/// `…/executable` with a Content-Length, `…/debuginfo` chunked), 404 for anything else, and
/// logs every request.
fn debuginfod_server(
    files: Vec<(String, PathBuf)>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (String, RequestLog) {
    test_server(tls, move |path, conn| serve_files(&files, path, conn))
}

/// The answer of a debuginfod with `files` to a request for `path`.
fn serve_files(
    files: &[(String, PathBuf)],
    path: &str,
    conn: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match files.iter().find(|(p, _)| p == path) {
        Some((_, f)) if path.ends_with("/debuginfo") => {
            let body = std::fs::read(f).unwrap();
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for c in body.chunks(3000) {
                out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            conn.write_all(&out)
        }
        Some((_, f)) => {
            let body = std::fs::read(f).unwrap();
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            conn.write_all(head.as_bytes())
                .and_then(|_| conn.write_all(&body))
        }
        None => conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
    }
}

/// A TLS configuration for a test https server: a certificate for `localhost`, signed by a
/// certificate authority made here, which debuginfod clients trust from now on if `trusted`.
fn test_tls(trusted: bool) -> Arc<rustls::ServerConfig> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name = rcgen::DistinguishedName::new();
    // Each its own name: an authority is looked up by name.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("stacklens test authority {n}"),
    );
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    if trusted {
        debuginfod::trust_in_tests(ca_cert.der().clone());
    }
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    Arc::new(config)
}

/// The debuginfod fixture in `d`: `bin/hot` stripped; `srv/hot` (stripped) and
/// `srv/hot.debug`, its debug file, for a server; `none/` empty. Returns hot's build-id.
fn debuginfod_fixture(d: &Path) -> String {
    for sub in ["bin", "srv", "none"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    std::fs::copy(sample("bin/hot"), d.join("srv/hot")).unwrap();
    sh(
        &d.join("srv"),
        "objcopy --only-keep-debug hot hot.debug && objcopy --strip-all hot && cp hot ../bin/hot",
    );
    ElfFile::open(&sample("bin/hot"))
        .unwrap()
        .build_id
        .map(|b| crate::formats::bytes::hex(&b))
        .unwrap()
}

/// The capture symbolized with `dirs` and the debuginfod servers `urls`, caching in `cache`.
fn load_debuginfod(dirs: Vec<PathBuf>, urls: &[&str], cache: PathBuf) -> Profile {
    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: dirs,
            kallsyms: None,
            system_paths: false,
            debuginfod_urls: urls.iter().map(|u| u.to_string()).collect(),
            debuginfod_cache: Some(cache),
            ..SymbolOptions::default()
        },
        ..LoadOptions::default()
    };
    let bytes = std::fs::read(sample("hot.perf.data")).unwrap();
    load_bytes(&bytes, &o, &Progress::new()).unwrap()
}

/// The requests in `log` that are for build-id `bid`.
fn requests_for(log: &RequestLog, bid: &str) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|p| p.contains(bid))
        .cloned()
        .collect()
}

#[test]
fn debuginfod_supplies_what_is_missing_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bid = debuginfod_fixture(d);
    let (url, log) = debuginfod_server(
        vec![
            (format!("/buildid/{bid}/debuginfo"), d.join("srv/hot.debug")),
            (format!("/buildid/{bid}/executable"), d.join("srv/hot")),
        ],
        None,
    );
    let load = |dirs: Vec<PathBuf>, cache: &str| {
        load_debuginfod(dirs, &["ftp://example.org/", &url], d.join(cache))
    };
    let want = top(&load_with(vec![sample("bin")], true));
    assert!(
        want.iter().any(|(n, _)| n == "mix"),
        "inline frames need DWARF: {want:?}"
    );

    // A stripped binary here, its debug file on the server.
    let p = load(vec![d.join("bin")], "cache1");
    assert_eq!(top(&p), want);
    assert_eq!(
        requests_for(&log, &bid),
        [format!("/buildid/{bid}/debuginfo")]
    );
    let hot = module_status(&p, "hot");
    let cached = d.join("cache1").join(&bid).join("debuginfo");
    assert_eq!(hot.lines_from, Some(canon(&cached)));
    assert_eq!(hot.symbols_from, Some(canon(&cached)));
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains("ftp://example.org/")
                && w.contains("not an http:// or https:// URL")),
        "{:?}",
        p.meta.warnings
    );
    let all_requests = log.lock().unwrap().len();
    // Again: the cached file, and the remembered misses (ld.so, libc), ask nothing.
    let p = load(vec![d.join("bin")], "cache1");
    assert_eq!(top(&p), want);
    assert_eq!(log.lock().unwrap().len(), all_requests);

    // No binary here at all: both from the server.
    let p = load(vec![d.join("none")], "cache2");
    assert_eq!(top(&p), want);
    assert_eq!(
        requests_for(&log, &bid)[1..],
        [
            format!("/buildid/{bid}/executable"),
            format!("/buildid/{bid}/debuginfo")
        ]
    );
    let hot = module_status(&p, "hot");
    assert_eq!(
        hot.lines_from,
        Some(canon(&d.join("cache2").join(&bid).join("debuginfo")))
    );
    assert_eq!(hot.problem, None);
}

#[test]
fn debuginfod_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bid = debuginfod_fixture(d);
    let files = vec![(format!("/buildid/{bid}/debuginfo"), d.join("srv/hot.debug"))];
    let (url, log) = debuginfod_server(files.clone(), Some(test_tls(true)));
    let debuginfo = [format!("/buildid/{bid}/debuginfo")];
    let want = top(&load_with(vec![sample("bin")], true));
    assert!(want.iter().any(|(n, _)| n == "mix"), "{want:?}");
    let cached = |cache: &str| Some(canon(&d.join(cache).join(&bid).join("debuginfo")));

    // A stripped binary here, its debug file on the https server: lines and inline frames
    // from the download.
    let p = load_debuginfod(vec![d.join("bin")], &[&url], d.join("cache1"));
    assert_eq!(top(&p), want);
    assert_eq!(requests_for(&log, &bid), debuginfo);
    let hot = module_status(&p, "hot");
    assert_eq!(hot.lines_from, cached("cache1"));
    assert_eq!(hot.symbols_from, cached("cache1"));
    assert!(
        !p.meta.warnings.iter().any(|w| w.contains(&url)),
        "{:?}",
        p.meta.warnings
    );
    // Again: nothing asked.
    let all_requests = log.lock().unwrap().len();
    let p = load_debuginfod(vec![d.join("bin")], &[&url], d.join("cache1"));
    assert_eq!(top(&p), want);
    assert_eq!(log.lock().unwrap().len(), all_requests);

    // An http server that redirects everything to the https one.
    let to = url.trim_end_matches('/').to_string();
    let (plain, plain_log) = test_server(None, move |path, conn| {
        let head =
            format!("HTTP/1.1 302 Found\r\nLocation: {to}{path}\r\nContent-Length: 0\r\n\r\n");
        conn.write_all(head.as_bytes())
    });
    let p = load_debuginfod(vec![d.join("bin")], &[&plain], d.join("cache2"));
    assert_eq!(top(&p), want);
    assert_eq!(requests_for(&plain_log, &bid), debuginfo);
    assert_eq!(
        requests_for(&log, &bid),
        [&debuginfo[..], &debuginfo[..]].concat()
    );
    assert_eq!(module_status(&p, "hot").lines_from, cached("cache2"));

    // A certificate from an authority nobody trusts: a warning, not a crash, and no request.
    let (untrusted, untrusted_log) = debuginfod_server(files, Some(test_tls(false)));
    let p = load_debuginfod(vec![d.join("bin")], &[&untrusted], d.join("cache3"));
    let warned = |p: &Profile| {
        p.meta
            .warnings
            .iter()
            .filter(|w| {
                w.contains(&untrusted) && w.contains("certificate of localhost not trusted")
            })
            .count()
    };
    assert_eq!(warned(&p), 1, "{:?}", p.meta.warnings);
    assert_eq!(module_status(&p, "hot").lines_from, None);
    assert_ne!(top(&p), want);
    assert!(untrusted_log.lock().unwrap().is_empty());
    // Not asked again in this process.
    let p = load_debuginfod(vec![d.join("bin")], &[&untrusted], d.join("cache3"));
    assert_eq!(warned(&p), 0, "{:?}", p.meta.warnings);
    assert!(untrusted_log.lock().unwrap().is_empty());
}

#[test]
fn debuginfod_follows_five_redirects_between_http_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bid = debuginfod_fixture(d);
    let file = format!("/buildid/{bid}/debuginfo");
    let files = vec![(file.clone(), d.join("srv/hot.debug"))];
    // Two servers, http and https, each sending `/N/…` to the other's `/N-1/…`, and serving
    // `/0/…` from `files`.
    let hop = |other: Arc<std::sync::OnceLock<String>>| {
        let files = files.clone();
        move |path: &str, conn: &mut dyn std::io::Write| {
            let (n, rest) = path[1..].split_once('/').unwrap_or(("", ""));
            match n.parse::<u32>() {
                Ok(0) => serve_files(&files, &format!("/{rest}"), conn),
                Ok(n) => {
                    let to = other.get().unwrap().trim_end_matches('/');
                    let head = format!(
                        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}/{}/{rest}\r\nContent-Length: 0\r\n\r\n",
                        n - 1
                    );
                    conn.write_all(head.as_bytes())
                }
                Err(_) => conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            }
        }
    };
    let to_http = Arc::new(std::sync::OnceLock::<String>::new());
    let to_https = Arc::new(std::sync::OnceLock::<String>::new());
    let (http, http_log) = test_server(None, hop(to_https.clone()));
    let (https, https_log) = test_server(Some(test_tls(true)), hop(to_http.clone()));
    to_http.set(http.clone()).unwrap();
    to_https.set(https.clone()).unwrap();

    // http /5 → https /4 → http /3 → https /2 → http /1 → https /0: five redirects.
    let client = debuginfod::Client::new(&[format!("{http}5")], Some(&d.join("cache1"))).unwrap();
    let got = client.fetch(&bid, debuginfod::Artifact::Debuginfo);
    assert_eq!(got, Some(d.join("cache1").join(&bid).join("debuginfo")));
    assert_eq!(client.take_warnings(), Vec::<String>::new());
    let asked = |log: &RequestLog| log.lock().unwrap().clone();
    assert_eq!(asked(&http_log), [5, 3, 1].map(|n| format!("/{n}{file}")));
    assert_eq!(asked(&https_log), [4, 2, 0].map(|n| format!("/{n}{file}")));

    // Six are too many.
    let client = debuginfod::Client::new(&[format!("{https}6")], Some(&d.join("cache2"))).unwrap();
    assert_eq!(client.fetch(&bid, debuginfod::Artifact::Debuginfo), None);
    let warnings = client.take_warnings();
    assert!(
        warnings.len() == 1 && warnings[0].contains("too many redirects"),
        "{warnings:?}"
    );
    assert_eq!(
        http_log.lock().unwrap().len() + https_log.lock().unwrap().len(),
        6 + 6
    );
}

#[test]
fn jit_code_is_named_from_its_perf_map() {
    use crate::model::ProfileBuilder;
    // A real map: node writes /tmp/perf-<pid>.map with --perf-basic-prof.
    let dir = tempfile::tempdir().unwrap();
    // node writes a V8 log (isolate-*.log) into its working directory: the temp dir.
    let node = std::process::Command::new("node")
        .current_dir(dir.path())
        .args([
            "--perf-basic-prof",
            "-e",
            "function spin(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; } \
             for (let k = 0; k < 200; k++) spin(20000); console.log(process.pid);",
        ])
        .output();
    let Ok(node) = node else {
        eprintln!("node is not installed: skipped");
        return;
    };
    assert!(node.status.success());
    let pid = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let tmp_map = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let map_name = format!("perf-{pid}.map");
    std::fs::copy(&tmp_map, dir.path().join(&map_name)).unwrap();
    let _ = std::fs::remove_file(&tmp_map);
    let map = PerfMap::load(&dir.path().join(&map_name)).unwrap();
    assert!(map.len() > 100 && map.bad_lines == 0, "{} lines", map.len());
    let text = std::fs::read_to_string(dir.path().join(&map_name)).unwrap();
    let spin = text
        .lines()
        .rfind(|l| l.contains("spin"))
        .expect("an entry for spin");
    let mut f = spin.splitn(3, ' ');
    let start = u64::from_str_radix(f.next().unwrap(), 16).unwrap();
    let name = f.nth(1).unwrap().to_string();

    let mut b = ProfileBuilder::new("test");
    b.add_sample_type("samples", crate::model::Unit::Count);
    let m = b.add_module(&tmp_map.to_string_lossy(), "", ModuleKind::Jit);
    let t = b.add_thread(pid.parse().unwrap(), pid.parse().unwrap());
    let inside = b.add_address_frame(m, start + 1);
    let outside = b.add_address_frame(m, 0x10);
    let s1 = b.add_stack_root_first([inside]);
    let s2 = b.add_stack_root_first([outside]);
    b.add_sample(t, s1, 1, &[3]);
    b.add_sample(t, s2, 2, &[1]);
    let opts = SymbolOptions {
        search_dirs: vec![dir.path().to_path_buf()],
        kallsyms: None,
        system_paths: false,
        ..SymbolOptions::default()
    };
    symbolize(&mut b, &opts, &Progress::new()).unwrap();
    let p = b.freeze();
    let t = top(&p);
    assert!(t.contains(&(name.clone(), 3)), "{name}: {t:?}");
    assert!(t.contains(&(format!("{map_name}+0x10"), 1)), "{t:?}");
    let jit = (0..p.funcs.len())
        .find(|&i| p.str(p.funcs.name[i]) == name)
        .unwrap();
    assert_eq!(p.funcs.kind[jit], FuncKind::Jit);
    let st = module_status(&p, &map_name);
    assert_eq!(
        st.symbols_from.as_deref(),
        Some(&*dir.path().join(&map_name).to_string_lossy())
    );
    assert_eq!((st.addresses, st.resolved), (2, 1));

    // Without the map: a warning and a problem that says where it was looked for.
    let mut b = ProfileBuilder::new("test");
    b.add_sample_type("samples", crate::model::Unit::Count);
    let m = b.add_module(&tmp_map.to_string_lossy(), "", ModuleKind::Jit);
    let t = b.add_thread(1, 1);
    let f = b.add_address_frame(m, start + 1);
    let s = b.add_stack_root_first([f]);
    b.add_sample(t, s, 1, &[1]);
    let opts = SymbolOptions {
        kallsyms: None,
        system_paths: false,
        ..SymbolOptions::default()
    };
    symbolize(&mut b, &opts, &Progress::new()).unwrap();
    let p = b.freeze();
    assert!(
        p.meta
            .warnings
            .iter()
            .any(|w| w.contains(&format!("no {map_name} found")))
    );
    let st = module_status(&p, &map_name);
    assert!(
        st.problem
            .as_deref()
            .unwrap_or("")
            .starts_with("no perf map found"),
        "{st:?}"
    );
}

#[test]
fn the_vdso_is_read_from_the_running_kernel_when_it_is_the_recorded_one() {
    let o = LoadOptions {
        symbols: SymbolOptions {
            search_dirs: vec![sample("bin")],
            kallsyms: None,
            ..SymbolOptions::default()
        },
        ..LoadOptions::default()
    };
    let bytes = std::fs::read(sample("offcpu.perf.data")).unwrap();
    let p = load_bytes(&bytes, &o, &Progress::new()).unwrap();
    let vdso = p
        .meta
        .modules
        .iter()
        .find(|m| m.path == "[vdso]")
        .expect("the capture has vDSO frames");
    let recorded = vdso.build_id.as_deref().map(normalize_build_id);
    let running = kernel::running_vdso_file()
        .and_then(|f| read_build_id(&f))
        .map(|b| normalize_build_id(&b));
    let names: Vec<String> = top(&p).into_iter().map(|(n, _)| n).collect();
    if recorded.is_some() && recorded == running {
        // Recorded on this kernel (the machine that made the capture, or one like it).
        assert!(
            names.iter().any(|n| n == "__vdso_clock_gettime"),
            "{names:?}"
        );
        assert_eq!(vdso.resolved, vdso.addresses);
    } else {
        eprintln!("another kernel runs here: its vDSO must not name the capture's");
        assert!(
            vdso.problem
                .as_deref()
                .unwrap_or("")
                .contains("not the running kernel's"),
            "{vdso:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("__vdso")), "{names:?}");
    }
}

/// Module paths come from the profile: a FIFO, a device that never ends and a directory are
/// refused at once (the FIFO would block the open forever, /dev/zero the read), and the frames
/// keep their weight under `module+0xaddress`.
#[test]
fn module_paths_that_are_not_regular_files_neither_hang_nor_read_forever() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("libfifo.so");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let perf_map = dir.path().join("perf-4242.map");
    // SAFETY: as above.
    let c = std::ffi::CString::new(perf_map.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let paths = [
        fifo.to_string_lossy().into_owned(),
        "/dev/zero".to_string(),
        dir.path().to_string_lossy().into_owned(),
    ];
    let map_path = perf_map.to_string_lossy().into_owned();
    std::thread::spawn(move || {
        let mut b = ProfileBuilder::new("test");
        let cpu = b.add_sample_type("cpu", crate::model::Unit::Count);
        let t = b.add_thread(1, 1);
        for p in &paths {
            let m = b.add_module(p, "", ModuleKind::Native);
            let f = b.add_address_frame(m, 0x1234);
            let s = b.add_stack(crate::model::StackId::NONE, f);
            b.add_sample_one(t, s, 0, cpu, 1);
        }
        let m = b.add_module(&map_path, "", ModuleKind::Jit);
        let f = b.add_address_frame(m, 0x1234);
        let s = b.add_stack(crate::model::StackId::NONE, f);
        b.add_sample_one(t, s, 0, cpu, 1);
        let opts = SymbolOptions {
            search_dirs: Vec::new(),
            kallsyms: None,
            system_paths: false,
            ..SymbolOptions::default()
        };
        symbolize(&mut b, &opts, &Progress::new()).unwrap();
        let p = b.freeze();
        let names: Vec<String> = (0..p.funcs.len())
            .map(|i| p.str(p.funcs.name[i]).to_string())
            .collect();
        tx.send((names, p.meta.modules.clone())).unwrap();
    });
    let (names, modules) = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("symbolization hung on a module path that is not a regular file");
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.iter().all(|n| n.contains("+0x")), "{names:?}");
    assert!(modules.iter().all(|m| m.resolved == 0), "{modules:?}");
}

/// Answers kept on disk are what a later load of the same files uses, and only of the same
/// files: a load through the disk cache makes the profile a load without it makes; an answer
/// changed in the kept file shows up (it was read back, not looked up again); once the binary
/// is replaced by a copy of itself (another file: new inode and times), it is looked up again.
#[test]
fn kept_answers_are_read_back_for_the_same_files_only() {
    let kept = tempfile::tempdir().unwrap();
    let bins = tempfile::tempdir().unwrap();
    std::fs::copy(sample("bin/hot"), bins.path().join("hot")).unwrap();
    let bytes = std::fs::read(sample("hot.perf.data")).unwrap();
    let load = |keep: bool| {
        let o = LoadOptions {
            symbols: SymbolOptions {
                search_dirs: vec![bins.path().to_path_buf()],
                kallsyms: None,
                system_paths: false,
                resolved_cache: keep.then(|| kept.path().to_path_buf()),
                ..SymbolOptions::default()
            },
            ..LoadOptions::default()
        };
        load_bytes(&bytes, &o, &Progress::new()).unwrap()
    };
    let plain = top(&load(false));
    assert!(plain.iter().any(|(n, _)| n == "leaf_a"), "{plain:?}");
    assert_eq!(top(&load(true)), plain, "first load through the cache");
    assert_eq!(top(&load(true)), plain, "answers read back");

    // One file, for the one module found (the others have no binary here).
    let files: Vec<PathBuf> = std::fs::read_dir(kept.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let key = u64::from_str_radix(files[0].file_stem().unwrap().to_str().unwrap(), 16).unwrap();
    let disk = store::Store::new(kept.path());
    let mut answers = disk.load(key);
    let mut renamed = 0;
    for f in answers.values_mut().flatten() {
        if f.name == "leaf_a" {
            f.name = "kept_leaf_a".into();
            renamed += 1;
        }
    }
    assert!(renamed > 0);
    disk.save(key, &answers);
    let changed = top(&load(true));
    let weight = |t: &[(String, i64)], name: &str| t.iter().find(|(n, _)| n == name).map(|x| x.1);
    assert_eq!(weight(&changed, "kept_leaf_a"), weight(&plain, "leaf_a"));
    assert_eq!(weight(&changed, "leaf_a"), None);

    // The same bytes as another file: not the file the answers were kept for.
    let fresh = bins.path().join("hot.new");
    std::fs::copy(sample("bin/hot"), &fresh).unwrap();
    std::fs::rename(&fresh, bins.path().join("hot")).unwrap();
    clear_file_cache();
    assert_eq!(top(&load(true)), plain);
}
