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
