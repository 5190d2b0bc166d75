//! `report --focus/--merge/--drop/--collapse-recursion` on a real folded capture (inferno's
//! collapse of `perf script`), checked against sums over the file's own lines.

use regex::Regex;
use stacklens_tests::{sample, stacklens_json};

/// The lines of the folded file: (frames root first, weight).
fn lines() -> Vec<(Vec<String>, i64)> {
    std::fs::read_to_string(sample("demo.inferno.folded"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (stack, w) = l.rsplit_once(' ')?;
            Some((
                stack.split(';').map(str::to_owned).collect(),
                w.parse().ok()?,
            ))
        })
        .collect()
}

fn report(extra: &[&str]) -> serde_json::Value {
    let file = sample("demo.inferno.folded");
    let mut args = vec!["report", file.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    stacklens_json(&args)
}

/// Self weight per function name in a JSON report.
fn self_of(r: &serde_json::Value, name: &str) -> i64 {
    r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .map_or(0, |f| f["self"].as_i64().unwrap())
}

#[test]
fn focus_and_drop_keep_exactly_the_samples_with_and_without_a_match() {
    let all = lines();
    let re = Regex::new("crc32").unwrap();
    let with: i64 = all
        .iter()
        .filter(|(s, _)| s.iter().any(|f| re.is_match(f)))
        .map(|(_, w)| w)
        .sum();
    let total: i64 = all.iter().map(|(_, w)| w).sum();
    assert!(
        with > 0 && with < total,
        "the file has both kinds of samples"
    );
    let r = report(&["--focus", "crc32"]);
    assert_eq!(r["total"].as_i64(), Some(with));
    assert_eq!(r["transforms"][0], "focus: crc32");
    // Re-rooted at the outermost match: nothing above it remains.
    assert_eq!(self_of(&r, "start_thread"), 0);
    assert!(
        r["functions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"] != "start_thread")
    );
    let r = report(&["--drop", "crc32"]);
    assert_eq!(r["total"].as_i64(), Some(total - with));
}

#[test]
fn merge_gives_self_time_to_the_nearest_caller_that_stays() {
    let all = lines();
    let re = Regex::new("^crc32_block$").unwrap();
    let r = report(&["--merge", "^crc32_block$"]);
    let total: i64 = all.iter().map(|(_, w)| w).sum();
    assert_eq!(r["total"].as_i64(), Some(total));
    assert_eq!(self_of(&r, "crc32_block"), 0);
    // Brute force: each line's weight goes to its last frame that does not match.
    let mut expected: std::collections::HashMap<&str, i64> = Default::default();
    for (s, w) in &all {
        if let Some(f) = s.iter().rev().find(|f| !re.is_match(f)) {
            *expected.entry(f.as_str()).or_default() += w;
        }
    }
    for (name, w) in &expected {
        assert_eq!(self_of(&r, name), *w, "{name}");
    }
}

#[test]
fn transforms_apply_in_command_line_order() {
    // Merging a function away and then focusing on it leaves nothing; the other order keeps
    // what ran below it.
    let r = report(&[
        "--merge",
        "^checksum_worker$",
        "--focus",
        "^checksum_worker$",
    ]);
    assert_eq!(r["total"].as_i64(), Some(0));
    let r = report(&[
        "--focus",
        "^checksum_worker$",
        "--merge",
        "^checksum_worker$",
    ]);
    assert!(r["total"].as_i64().unwrap() > 0);
    assert_eq!(
        r["transforms"],
        serde_json::json!(["focus: ^checksum_worker$", "merge: ^checksum_worker$"])
    );
}

#[test]
fn a_bad_pattern_is_a_clear_error() {
    let out = stacklens_tests::stacklens(&[
        "report",
        sample("demo.inferno.folded").to_str().unwrap(),
        "--merge",
        "(",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pattern \"(\""), "{err}");
}

#[test]
fn hide_below_cuts_paths_under_the_share_and_keeps_the_total() {
    // Path totals from the file: every prefix of every line.
    let all = lines();
    let total: i64 = all.iter().map(|(_, w)| w).sum();
    let mut path_total: std::collections::HashMap<Vec<String>, i64> = Default::default();
    for (stack, w) in &all {
        for k in 1..=stack.len() {
            *path_total.entry(stack[..k].to_vec()).or_default() += w;
        }
    }
    let pct = 2.0;
    let threshold = (total as f64 * pct / 100.0).ceil() as i64;
    // Each line keeps its longest prefix whose every node is over the threshold (the root
    // always); its weight is that prefix's leaf's self cost.
    let mut expect_self: std::collections::HashMap<String, i64> = Default::default();
    for (stack, w) in &all {
        let mut keep = 1;
        while keep < stack.len() && path_total[&stack[..=keep]] >= threshold {
            keep += 1;
        }
        *expect_self.entry(stack[keep - 1].clone()).or_default() += w;
    }
    let r = report(&["--hide-below", "2%"]);
    assert_eq!(r["total"].as_i64(), Some(total), "the total is unchanged");
    assert_eq!(r["transforms"], serde_json::json!(["hide below 2%"]));
    let reported: i64 = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["self"].as_i64().unwrap())
        .sum();
    assert_eq!(reported, total);
    for (name, w) in &expect_self {
        assert_eq!(self_of(&r, name), *w, "{name}");
    }
    // Something was actually cut: a function of the file has no self cost any more.
    let full = report(&[]);
    assert!(
        full["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["self"].as_i64().unwrap() > 0
                && !expect_self.contains_key(f["name"].as_str().unwrap())),
        "2% hides some leaf"
    );
}

#[test]
fn a_saved_preset_applies_like_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("workers.json");
    std::fs::write(
        &preset,
        r#"{"name": "workers", "transforms": [
            {"kind": "focus-function", "pattern": "^checksum_worker$"},
            {"kind": "merge", "pattern": "^crc32_block$"}
        ]}"#,
    )
    .unwrap();
    let by_preset = report(&["--preset", preset.to_str().unwrap()]);
    let by_options = report(&["--focus", "^checksum_worker$", "--merge", "^crc32_block$"]);
    assert_eq!(by_preset["total"], by_options["total"]);
    assert_eq!(by_preset["functions"], by_options["functions"]);
    assert_eq!(by_preset["transforms"], by_options["transforms"]);
    // A preset by name, from the presets folder.
    std::fs::rename(&preset, dir.path().join("w.json")).unwrap();
    let out = std::process::Command::new(stacklens_tests::stacklens_bin())
        .args([
            "report",
            sample("demo.inferno.folded").to_str().unwrap(),
            "--preset",
            "w",
            "--format",
            "json",
        ])
        .env("STACKLENS_PRESETS", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_name: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(by_name["total"], by_options["total"]);
    // A missing preset is a clear error.
    let out = std::process::Command::new(stacklens_tests::stacklens_bin())
        .args([
            "report",
            sample("demo.inferno.folded").to_str().unwrap(),
            "--preset",
            "nope",
        ])
        .env("STACKLENS_PRESETS", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no preset named \"nope\"") && err.contains("saved: w"),
        "{err}"
    );
}
