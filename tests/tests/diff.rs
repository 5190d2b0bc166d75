//! `stacklens diff` and its CI gate on real captures of `sample-profiles/src/diffprog.c`
//! (`record-diff.sh`): four runs of the same program, and one where render_page does twice
//! the work.

use stacklens_tests::{parse_perf_report, sample, stacklens};

const BASES: [&str; 4] = [
    "diff-base-1.perf.data",
    "diff-base-2.perf.data",
    "diff-base-3.perf.data",
    "diff-base-4.perf.data",
];

fn path(name: &str) -> String {
    sample(name).display().to_string()
}

/// Runs the gate at 2 points; returns (exit status, JSON, stderr).
fn gate(before: &str, after: &str) -> (i32, serde_json::Value, String) {
    let out = stacklens(&[
        "diff",
        &path(before),
        &path(after),
        "--format",
        "json",
        "--fail-on-regression",
        "2",
    ]);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn function<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn runs_of_the_same_program_pass_the_gate_in_every_pair() {
    for a in BASES {
        for b in BASES {
            if a == b {
                continue;
            }
            let (code, j, err) = gate(a, b);
            assert_eq!(code, 0, "{a} vs {b}: a false regression: {err}");
            assert_eq!(j["regressions"], serde_json::json!([]), "{a} vs {b}");
            for f in j["functions"].as_array().unwrap() {
                assert_eq!(f["significant"], false, "{a} vs {b}: {}", f["name"]);
                for key in [
                    "before", "after", "delta", "p_value", "q_value", "ci_low", "ci_high",
                ] {
                    assert!(f[key].is_number(), "{key} of {}", f["name"]);
                }
            }
        }
    }
}

#[test]
fn a_function_doing_twice_the_work_fails_the_gate_and_comes_first() {
    for a in BASES {
        let (code, j, err) = gate(a, "diff-slow.perf.data");
        assert_eq!(code, 3, "{a} vs slow: {err}");
        assert_eq!(j["regressions"], serde_json::json!(["render_page"]));
        assert_eq!(j["functions"][0]["name"], "render_page");
        assert!(
            err.lines()
                .next()
                .unwrap()
                .contains("regression: render_page"),
            "{err}"
        );
        let r = function(&j, "render_page");
        assert_eq!(r["significant"], true);
        assert!(r["q_value"].as_f64().unwrap() < 0.01);
        // The shares are perf report's.
        for (file, side) in [(a, "before"), ("diff-slow.perf.data", "after")] {
            let text = std::fs::read_to_string(sample(&format!("{file}.perf-report.txt"))).unwrap();
            let ev = &parse_perf_report(&text)[0];
            let (_, pct, n) = ev.rows.iter().find(|r| r.0 == "render_page").unwrap();
            assert_eq!(r[format!("{side}_self_samples")].as_u64(), Some(*n));
            assert!(
                (r[side].as_f64().unwrap() - pct).abs() < 0.01,
                "{file}: {pct}"
            );
        }
        // The other stages lost share, and the faster direction is no regression.
        let (code, _, err) = gate("diff-slow.perf.data", a);
        assert_eq!(code, 0, "slow vs {a}: {err}");
    }
}

#[test]
fn formats_mix_and_transforms_apply_to_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let stkl = dir.path().join("slow.stkl");
    let out = stacklens(&[
        "convert",
        &path("diff-slow.perf.data"),
        "-o",
        stkl.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, from_perf, _) = gate(BASES[0], "diff-slow.perf.data");
    let out = stacklens(&[
        "diff",
        &path(BASES[0]),
        stkl.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on-regression",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(code));
    let from_stkl: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_stkl["functions"], from_perf["functions"]);
    // Dropping render_page on both sides leaves nothing to find.
    let out = stacklens(&[
        "diff",
        &path(BASES[0]),
        &path("diff-slow.perf.data"),
        "--drop",
        "^render_page$",
        "--fail-on-regression",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_input_exits_2() {
    let out = stacklens(&[
        "diff",
        &path(BASES[0]),
        "/nonexistent/after.perf.data",
        "--no-gui",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("after.perf.data"));
}

#[test]
fn without_a_display_the_comparison_is_printed() {
    let out = std::process::Command::new(stacklens_tests::stacklens_bin())
        .args(["diff", &path(BASES[0]), &path("diff-slow.perf.data")])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no display"), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    // The text table, render_page first and flagged.
    let first = text
        .lines()
        .find(|l| l.contains("render_page") || l.contains("parse_request"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(first.contains("* render_page"), "{first}");
}
