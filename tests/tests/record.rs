//! `stacklens record` (perf_event_open, no perf binary) on the sample program `bin/hot`
//! (`sample-profiles/src/hot.c`: leaf_a and leaf_c, on two threads, each a third of the work;
//! recurse and leaf_b a sixth each): launched, attached mid-run, and killed mid-capture. The
//! raw capture is read by `perf report` too, and the two agree.

use stacklens_tests::{
    assert_agrees_with_perf, perf_report_by_symbol, sample, stacklens, stacklens_bin,
    stacklens_json,
};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hot() -> String {
    sample("bin/hot").display().to_string()
}

/// Self share per function of a saved capture (`stacklens report --format json`).
fn shares(
    path: &str,
) -> (
    u64,
    std::collections::HashMap<String, f64>,
    serde_json::Value,
) {
    let r = stacklens_json(&["report", path, "--no-inline", "--format", "json"]);
    let m = stacklens_tests::self_percent_by_name(&r);
    (r["samples"].as_u64().unwrap(), m, r)
}

fn near(m: &std::collections::HashMap<String, f64>, f: &str, want: f64, tol: f64) {
    let got = m.get(f).copied().unwrap_or(0.0);
    assert!(
        (got - want).abs() <= tol,
        "{f}: {got:.2}% (want {want:.1} ± {tol}): {m:?}"
    );
}

#[test]
fn a_launched_command_is_recorded_with_every_thread_and_perf_report_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hot.data");
    let out = stacklens(&["record", "-o", data.to_str().unwrap(), "--", &hot(), "35"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the process ended"), "{err}");
    let (samples, m, report) = shares(data.to_str().unwrap());
    assert!(samples > 600, "{samples} samples");
    // The source's shares: a third each on two threads (the worker started after exec: it
    // was followed), a sixth each for leaf_b (with its inlined mix) and recurse.
    near(&m, "leaf_a", 33.3, 5.0);
    near(&m, "leaf_c", 33.3, 5.0);
    near(&m, "leaf_b", 16.7, 4.0);
    near(&m, "recurse", 16.7, 4.0);
    let threads: Vec<String> = report["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(threads.iter().any(|t| t == "worker"), "{threads:?}");

    // perf reads the same bytes: same sample total, same per-symbol shares.
    let events = perf_report_by_symbol(&data);
    assert_eq!(events.len(), 1);
    let rows = assert_agrees_with_perf(&report, &events[0], 20, 0.1, "stacklens record");
    assert!(rows.len() >= 4, "{rows:?}");

    // The .stkl output reopens with the same figures.
    let stkl = dir.path().join("hot.stkl");
    let out = stacklens(&["record", "-o", stkl.to_str().unwrap(), "--", &hot(), "20"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (n, m, _) = shares(stkl.to_str().unwrap());
    assert!(n > 300, "{n}");
    near(&m, "leaf_a", 33.3, 6.0);
}

#[test]
fn child_processes_of_a_launched_command_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sh.data");
    let script = format!("{} 20 >/dev/null", hot());
    let out = stacklens(&[
        "record",
        "-o",
        data.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (samples, m, _) = shares(data.to_str().unwrap());
    assert!(samples > 300, "{samples} samples");
    near(&m, "leaf_a", 33.3, 6.0);
    near(&m, "leaf_c", 33.3, 6.0);
}

/// Records a running `bin/hot` (started here, its worker thread already running) for `secs`
/// seconds into `out`, with the recording backend `backend` when given; asserts success.
fn record_attached(secs: &str, backend: Option<&str>, out: &std::path::Path) {
    let mut target = spawn_hot("400");
    std::thread::sleep(Duration::from_millis(300));
    let mut cmd = Command::new(stacklens_bin());
    cmd.args([
        "record",
        "--pid",
        &target.id().to_string(),
        "--duration",
        secs,
    ])
    .arg("-o")
    .arg(out);
    if let Some(b) = backend {
        cmd.env("STACKLENS_RECORD_BACKEND", b);
    }
    let result = cmd.output().unwrap();
    let _ = target.kill();
    let _ = target.wait();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// Runs `bin/hot ARG` in the background.
fn spawn_hot(arg: &str) -> std::process::Child {
    Command::new(hot())
        .arg(arg)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn attaching_to_a_running_process_samples_its_threads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("attached.data");
    record_attached("1.5", None, &data);
    let (samples, m, _) = shares(data.to_str().unwrap());
    // Two busy threads for 1.5 s at 999 Hz.
    assert!(samples > 1500, "{samples} samples");
    // Whatever phase it was in, the hot functions are symbolized and take the samples.
    let hot_share: f64 = ["leaf_a", "leaf_b", "leaf_c", "recurse"]
        .iter()
        .map(|f| m.get(*f).copied().unwrap_or(0.0))
        .sum();
    assert!(hot_share > 90.0, "{m:?}");
    assert!(
        m.get("leaf_c").copied().unwrap_or(0.0) > 20.0,
        "the worker thread: {m:?}"
    );
}

#[test]
fn a_target_killed_mid_capture_leaves_a_capture_that_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let stkl = dir.path().join("killed.stkl");
    let rec = Command::new(stacklens_bin())
        .args(["record", "-o", stkl.to_str().unwrap(), "--", &hot(), "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Find the launched program (a child of stacklens) and kill it after a second.
    std::thread::sleep(Duration::from_millis(1000));
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", rec.id()))
        .unwrap_or_default();
    let child: i32 = children
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .expect("the launched program");
    // SAFETY: killing the test's own grandchild.
    unsafe { libc::kill(child, libc::SIGKILL) };
    let start = Instant::now();
    let out = rec.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the process ended"), "{err}");
    let (samples, m, _) = shares(stkl.to_str().unwrap());
    assert!(samples > 500, "{samples} samples");
    assert!(m.get("leaf_a").copied().unwrap_or(0.0) > 10.0, "{m:?}");
}

#[test]
fn errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("x.data");
    let o = out_path.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = stacklens(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["record", "--pid", "999999999", "-o", o]);
    assert!(e.contains("no process with pid 999999999"), "{e}");
    let e = run(&["record", "-F", "100000000", "-o", o, "--", "true"]);
    assert!(
        e.contains("perf_event_max_sample_rate") && e.contains("sysctl"),
        "{e}"
    );
    let e = run(&["record", "-o", o, "--", "/nonexistent/program"]);
    assert!(e.contains("cannot run /nonexistent/program"), "{e}");
    let e = run(&["record", "-o", "x.unknown", "--", "true"]);
    assert!(e.contains("output format"), "{e}");
}

/// As an unprivileged user (when the tests run as root and `setpriv` exists): another user's
/// process is refused with the fix named; the user's own command records user frames.
#[test]
fn an_unprivileged_user_gets_the_reason_and_the_fix() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || Command::new("setpriv").arg("--version").output().is_err()
    {
        eprintln!("skipped: needs root and setpriv to become an unprivileged user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(stacklens_bin())
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let out = as_nobody(&[
        "record",
        "--pid",
        "1",
        "-o",
        dir.path().join("a.data").to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("not permitted to sample process 1") && e.contains("cap_perfmon"),
        "{e}"
    );
    // Their own command: allowed up to perf_event_paranoid 2, user frames only.
    let level: i64 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if level <= 2 {
        let data = dir.path().join("own.data");
        let out = as_nobody(&["record", "-o", data.to_str().unwrap(), "--", &hot(), "10"]);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{e}");
        if level == 2 {
            assert!(e.contains("kernel frames not recorded"), "{e}");
        }
        let (samples, _, _) = shares(data.to_str().unwrap());
        assert!(samples > 100, "{samples}");
    }
}

#[test]
fn the_perf_record_fallback_gives_the_same_profile() {
    let dir = tempfile::tempdir().unwrap();
    let stkl = dir.path().join("fallback.stkl");
    let out = Command::new(stacklens_bin())
        .args(["record", "-o", stkl.to_str().unwrap(), "--", &hot(), "35"])
        .env("STACKLENS_RECORD_BACKEND", "perf")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("recorded with `perf record`"), "{err}");
    assert!(err.contains("the process ended"), "{err}");
    let (samples, m, _) = shares(stkl.to_str().unwrap());
    assert!(samples > 600, "{samples}");
    near(&m, "leaf_a", 33.3, 5.0);
    near(&m, "leaf_c", 33.3, 5.0);

    // Attached, stopped by --duration.
    let data = dir.path().join("fallback-attach.data");
    record_attached("1", Some("perf"), &data);
    let (samples, m, _) = shares(data.to_str().unwrap());
    assert!(samples > 1000, "{samples}");
    assert!(m.get("leaf_c").copied().unwrap_or(0.0) > 20.0, "{m:?}");
}
