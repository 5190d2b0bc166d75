//! Folded (collapsed) stacks: one line per distinct stack, frames root first, separated by `;`,
//! then whitespace and a count. Written by Brendan Gregg's `stackcollapse-*` scripts,
//! `inferno-collapse-*`, `py-spy record -f raw`, and most flame graph tools.
//!
//! ```text
//! main;parse;tokenize 42
//! main;checksum 17
//! <module> (work.py:42);main (work.py:35);parse (work.py:16) 3    ← py-spy: "name (file:line)"
//! ```
//!
//! - A frame written `name (file:line)` (py-spy) becomes function `name` in `file`, at `line`:
//!   the lines of one function are one call node, and the tooltip lists them.
//! - An empty stack (`" 2"`, py-spy's samples outside Python code) counts under `[unknown]`,
//!   so totals equal the sum of the counts.
//! - Lines that are not `stack count` are skipped and reported once, with the first bad line's
//!   number. A file with no valid line is an error.
//! - Counts are bounded (≤ 2^48); frames are split iteratively, so any depth is fine.
//!
//! The file has no threads or times: one thread named `all`, every sample at time 0. Each line
//! is one sample row whose weight is its count.

use crate::model::{FuncKind, ModuleId, ProfileBuilder, StackId, Unit};
use crate::{Error, Progress, Result};

const FORMAT: &str = "folded stacks";
/// Bigger counts are not counts (and would overflow sums).
const MAX_COUNT: u64 = 1 << 48;
/// Lines looked at to decide whether a text is folded stacks.
const SNIFF_LINES: usize = 8;

/// Does `data` look like folded stacks: text whose first non-empty lines all end in a count
/// after whitespace, with something before it.
pub fn sniff(data: &[u8]) -> bool {
    const WINDOW: usize = 64 * 1024;
    if data[..data.len().min(WINDOW)].contains(&0) {
        return false;
    }
    // At least the first non-blank line whole: one stack can be longer than the window
    // (100,000 frames of a deep recursion), and a line cut short proves nothing.
    let first = (data.iter())
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(data.len());
    let first_end = (data[first..].iter())
        .position(|&c| c == b'\n')
        .map_or(data.len(), |i| first + i + 1);
    let head = &data[..data.len().min(WINDOW.max(first_end))];
    if head.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    if lines.peek().is_none() {
        return false;
    }
    // The last line of the head may be cut in the middle: only look at complete ones.
    let complete = if head.len() < data.len() && !head.ends_with(b"\n") {
        text.lines().count().saturating_sub(1)
    } else {
        usize::MAX
    };
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        if i >= complete || seen == SNIFF_LINES {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some((stack, _)) = split_line(line) else {
            return false;
        };
        // A bare number line is not a stack (unless py-spy's empty stack " N").
        if stack.is_empty() && !line.starts_with(' ') {
            return false;
        }
        seen += 1;
    }
    seen > 0
}

/// `(stack, count)` of one line, `None` when the line is not `stack count`.
fn split_line(line: &str) -> Option<(&str, u64)> {
    let line = line.trim_end();
    let cut = line.rfind([' ', '\t'])?;
    let count: u64 = line[cut + 1..].parse().ok()?;
    if count > MAX_COUNT {
        return None;
    }
    Some((line[..cut].trim(), count))
}

/// `name (file:line)` → `(name, Some((file, line)))`.
fn split_location(frame: &str) -> (&str, Option<(&str, u32)>) {
    if let Some(inner) = frame.strip_suffix(')')
        && let Some(open) = inner.rfind(" (")
    {
        let loc = &inner[open + 2..];
        if let Some(colon) = loc.rfind(':')
            && let Ok(line) = loc[colon + 1..].parse::<u32>()
            && colon > 0
        {
            return (&inner[..open], Some((&loc[..colon], line)));
        }
    }
    (frame, None)
}

/// Parses folded stacks into `b`.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    let text = std::str::from_utf8(data).map_err(|e| {
        let line = data[..e.valid_up_to()]
            .iter()
            .filter(|&&c| c == b'\n')
            .count() as u64
            + 1;
        Error::AtLine {
            format: FORMAT,
            line,
            expected: "UTF-8 text".into(),
        }
    })?;
    let ty = b.add_sample_type("samples", Unit::Count);
    let thread = b.add_thread(0, 0);
    b.set_thread_name(thread, "all");
    progress.start_phase(crate::progress::Phase::Reading, data.len() as u64);
    let mut bad = 0u64;
    let mut first_bad = 0u64;
    let mut good = 0u64;
    // Each count is at most 2^48, but 2^15 of them are not within an i64: a line that would
    // overflow the total (which every view computes) is skipped.
    let mut total = 0i64;
    let mut overflowing = 0u64;
    let mut first_overflowing = 0u64;
    let mut done = 0usize;
    for (i, line) in text.lines().enumerate() {
        done += line.len() + 1;
        if i % 4096 == 0 {
            progress.check()?;
            progress.set_done(done as u64);
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some((stack_text, count)) = split_line(line) else {
            bad += 1;
            if first_bad == 0 {
                first_bad = i as u64 + 1;
            }
            continue;
        };
        let Some(new_total) = total.checked_add(count as i64) else {
            overflowing += 1;
            if first_overflowing == 0 {
                first_overflowing = i as u64 + 1;
            }
            continue;
        };
        total = new_total;
        let mut stack = StackId::NONE;
        for frame in stack_text.split(';').filter(|f| !f.is_empty()) {
            let (name, loc) = split_location(frame);
            let f = match loc {
                None => b.add_named_frame(name, ModuleId::NONE, FuncKind::Native),
                Some((file, line)) => {
                    let name = b.intern(name);
                    let file = b.intern(file);
                    let func = b.add_func(name, ModuleId::NONE, file, 0, FuncKind::Interpreted);
                    b.add_frame(func, ModuleId::NONE, 0, line, 0)
                }
            };
            stack = b.add_stack(stack, f);
        }
        if stack.get().is_none() {
            let f = b.add_named_frame("[unknown]", ModuleId::NONE, FuncKind::Native);
            stack = b.add_stack(StackId::NONE, f);
        }
        // No times in the format: every sample at 0 (so no duration is claimed).
        b.add_sample_one(thread, stack, 0, ty, count as i64);
        good += 1;
    }
    if good == 0 {
        return Err(Error::AtLine {
            format: FORMAT,
            line: first_bad.max(1),
            expected: "`frame;frame;… count` lines".into(),
        });
    }
    if bad > 0 {
        b.warn(format!(
            "{bad} line(s) were not `stack count` and were skipped (first: line {first_bad})"
        ));
    }
    if overflowing > 0 {
        b.warn(format!(
            "{overflowing} line(s) had a count that would make the total overflow a 64-bit \
             integer and were skipped (first: line {first_overflowing})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{CallNodeTable, Selection, top_functions};

    fn load(text: &str) -> Result<crate::model::Profile> {
        let mut b = ProfileBuilder::new(FORMAT);
        parse(text.as_bytes(), &mut b, &Progress::new())?;
        Ok(b.freeze())
    }

    #[test]
    fn counts_that_would_overflow_the_total_are_skipped() {
        let line = format!("a {MAX_COUNT}\n");
        let p = load(&line.repeat(1 << 15)).unwrap();
        p.check().unwrap();
        assert_eq!(p.samples.len(), (1 << 15) - 1);
        assert!(
            p.meta.warnings[0].starts_with("1 line(s) had a count")
                && p.meta.warnings[0].ends_with("(first: line 32768)"),
            "{:?}",
            p.meta.warnings
        );
    }

    #[test]
    fn sums_and_self_weights_follow_the_counts() {
        let p = load("main;a;b 3\nmain;a 2\nmain;c 5\n \nmain;a;b 1\n").unwrap();
        let n = CallNodeTable::build(&p);
        let t = n.tree(&p, &Selection::all(0));
        assert_eq!(t.total, 11);
        let top = top_functions(&p, &n, &t);
        let get = |name: &str| top.iter().find(|s| p.func_name(s.func) == name).unwrap();
        assert_eq!((get("b").self_weight, get("a").total_weight), (4, 6));
        assert_eq!((get("c").self_weight, get("main").total_weight), (5, 11));
    }

    #[test]
    fn py_spy_locations_and_empty_stacks() {
        let p = load(" 2\nmain (w.py:3);f (w.py:9) 4\nmain (w.py:3);f (w.py:10) 1\n").unwrap();
        let n = CallNodeTable::build(&p);
        let t = n.tree(&p, &Selection::all(0));
        assert_eq!(t.total, 7);
        let top = top_functions(&p, &n, &t);
        let f = top.iter().find(|s| p.func_name(s.func) == "f").unwrap();
        assert_eq!(f.self_weight, 5, "both lines of f are one function");
        assert_eq!(p.str(p.funcs.file[f.func.index()]), "w.py");
        assert!(
            top.iter()
                .any(|s| p.func_name(s.func) == "[unknown]" && s.self_weight == 2)
        );
    }

    #[test]
    fn bad_lines_are_counted_once_and_nothing_valid_is_an_error() {
        let p = load("a;b 1\nnot a count\na;c x\na 2\n").unwrap();
        assert_eq!(p.meta.warnings.len(), 1);
        assert!(p.meta.warnings[0].contains("2 line(s)"));
        assert!(p.meta.warnings[0].contains("line 2"));
        let e = load("hello\nworld\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(
            load("a 999999999999999999999\n").is_err(),
            "an absurd count"
        );
    }

    #[test]
    fn sniffing() {
        assert!(sniff(b"main;a 1\nmain;b 22\n"));
        assert!(sniff(b" 2\nmain (w.py:1) 3\n"));
        assert!(!sniff(b"12\n"));
        assert!(!sniff(b"hello world\n"));
        assert!(!sniff(b"PERFILE2"));
        assert!(!sniff(b""));
    }

    #[test]
    fn a_100k_frame_line() {
        let mut line: String = (0..100_000).map(|i| format!("f{i};")).collect();
        line.push_str("leaf 1\n");
        let p = load(&line).unwrap();
        assert_eq!(p.stacks.len(), 100_001);
    }
}
