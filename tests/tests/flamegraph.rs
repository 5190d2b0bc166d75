//! `stacklens flamegraph IN -o OUT.svg`: the SVG is well-formed XML and its figures are the
//! input's, computed here from the folded file itself.

use stacklens_tests::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One frame `<g>` of the SVG: weight, function name, the title's group in parentheses, the
/// rectangle's top.
#[derive(Debug)]
struct Frame {
    weight: i64,
    name: String,
    title: String,
    y: f64,
}

fn attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    let a = tag
        .find(&key)
        .unwrap_or_else(|| panic!("{name} missing in {tag}"))
        + key.len();
    let b = a + tag[a..].find('"').unwrap();
    tag[a..b].to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The frames of the `frames` layer, in document order (the first is `all`).
fn frames(svg: &str) -> Vec<Frame> {
    let start = svg.find("<g id=\"frames\">\n").expect("frames layer") + 16;
    let end = start
        + svg[start..]
            .find("</g>\n<script")
            .expect("end of the frames layer");
    svg[start..end]
        .split("</g>\n")
        .filter(|g| !g.is_empty())
        .map(|g| {
            let open = &g[..g.find('>').unwrap()];
            let a = g.find("<title>").unwrap() + 7;
            let title = unescape(&g[a..a + g[a..].find("</title>").unwrap()]);
            let len: usize = attr(open, "data-l").parse().unwrap();
            let units: Vec<u16> = title.encode_utf16().take(len).collect();
            let rect = &g[g.find("<rect").unwrap()..];
            Frame {
                weight: attr(open, "data-w").parse().unwrap(),
                name: String::from_utf16(&units).unwrap(),
                y: attr(rect, "y").parse().unwrap(),
                title,
            }
        })
        .collect()
}

/// Fails unless `path` parses as XML (python3's `xml.etree`, an independent parser); without
/// python3, falls back to counting `<g>` against `</g>`.
fn assert_xml(path: &Path, svg: &str) {
    let script = "import sys, xml.etree.ElementTree as E\n\
                  r = E.parse(sys.argv[1]).getroot()\n\
                  assert r.tag == '{http://www.w3.org/2000/svg}svg', r.tag\n\
                  print(sum(1 for _ in r.iter('{http://www.w3.org/2000/svg}rect')))";
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}: not well-formed XML:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let rects: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            // The background, then one per frame.
            assert_eq!(rects, svg.matches("<rect ").count());
        }
        Err(e) => {
            eprintln!("python3 not available ({e}): checking tag balance only");
            assert_eq!(
                svg.matches("<g ").count() + svg.matches("<g>").count(),
                svg.matches("</g>").count()
            );
        }
    }
}

/// `stacklens flamegraph ARGS` writing `OUT`; returns the SVG.
fn flamegraph(args: &[&str], out: &Path) -> String {
    let mut all = vec!["flamegraph"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().unwrap()]);
    let run = stacklens(&all);
    assert!(
        run.status.success(),
        "stacklens {all:?} failed ({}):\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out).expect("the SVG was written")
}

#[test]
fn folded_flame_graph_has_the_files_totals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.svg");
    let svg = flamegraph(&["sample-profiles/py-work.folded"], &out);
    assert_xml(&out, &svg);

    // The reference: the folded file's own counts, total and per root function. A py-spy frame
    // is `name (file:line)`: the function is `name (file)` in the SVG's titles.
    let text = std::fs::read_to_string(sample("py-work.folded")).unwrap();
    let mut total = 0i64;
    let mut lines = 0u64;
    let mut roots: BTreeMap<String, i64> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (stack, count) = line.trim_end().rsplit_once(' ').unwrap();
        let count: i64 = count.parse().unwrap();
        total += count;
        lines += 1;
        let first = stack.trim().split(';').next().unwrap();
        let root = match first.rsplit_once(" (") {
            Some((name, file_line)) => {
                let file = file_line.trim_end_matches(')');
                let file = file.rsplit_once(':').map_or(file, |(f, _)| f);
                format!("{name} ({file})")
            }
            None if first.is_empty() => "[unknown]".to_string(),
            None => first.to_string(),
        };
        *roots.entry(root).or_insert(0) += count;
    }
    assert_eq!((total, lines), (630, 13), "the sample file changed?");

    let fs = frames(&svg);
    let all = &fs[0];
    assert_eq!(all.name, "all");
    assert_eq!(
        all.weight, total,
        "root frame total = the file's sum of counts"
    );
    assert_eq!(
        all.title,
        format!("all — {total} samples, 100.00%, {lines} samples")
    );
    // The root functions, one row above `all`.
    let mut ours: BTreeMap<String, i64> = BTreeMap::new();
    for f in fs.iter().filter(|f| f.y == all.y - 16.0) {
        let group = f.title[f.name.len()..].split(" — ").next().unwrap();
        *ours.entry(format!("{}{group}", f.name)).or_insert(0) += f.weight;
        let pct = f.weight as f64 * 100.0 / total as f64;
        assert!(
            f.title
                .contains(&format!(" — {} samples, {pct:.2}%, ", f.weight)),
            "{f:?}"
        );
    }
    assert_eq!(ours, roots);
    // The script is there, parses as JavaScript, and nothing external is referenced.
    assert!(!svg.contains("href"));
    let open = "<script type=\"text/ecmascript\"><![CDATA[";
    let a = svg.find(open).expect("the script") + open.len();
    let b = a + svg[a..].find("]]></script>").expect("end of the script");
    let js = dir.path().join("flamegraph.js");
    std::fs::write(&js, &svg[a..b]).unwrap();
    match Command::new("node").arg("--check").arg(&js).output() {
        Ok(out) => assert!(
            out.status.success(),
            "the embedded script does not parse:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("node not available ({e}): script syntax not checked"),
    }
}

#[test]
fn inverted_and_titled() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("icicle.svg");
    let svg = flamegraph(
        &[
            "sample-profiles/demo.perf.data",
            "--symbols",
            "sample-profiles/bin",
            "--inverted",
            "--title",
            "demo <&> \"icicle\"",
        ],
        &out,
    );
    assert_xml(&out, &svg);
    assert!(svg.contains(">demo &lt;&amp;&gt; &quot;icicle&quot;</text>"));
    let fs = frames(&svg);
    // Root at the top: `all` has the smallest y, and every frame is below it.
    assert!(fs[1..].iter().all(|f| f.y > fs[0].y), "{:?}", &fs[..2]);
    let report = stacklens_json(&[
        "report",
        "sample-profiles/demo.perf.data",
        "--symbols",
        "sample-profiles/bin",
        "--format",
        "json",
    ]);
    assert_eq!(Some(fs[0].weight), report["total"].as_i64());
}
