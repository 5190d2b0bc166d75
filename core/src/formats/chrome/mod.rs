//! Chrome / V8 profiles: the `.cpuprofile` JSON of V8's sampling profiler, and the Trace Event
//! Format of Chrome's tracing (`chrome://tracing`, DevTools "Save trace", `node
//! --trace-events-enabled`, Perfetto's JSON export, and many other tools).
//!
//! # `.cpuprofile`
//!
//! Written by `node --cpu-prof`, Chrome DevTools ("Save profile"), and the DevTools protocol's
//! `Profiler.stop`. One JSON object, times in microseconds:
//!
//! ```text
//! {"nodes": [{"id": 1, "callFrame": {"functionName": "(root)", "scriptId": "0", "url": "",
//!             "lineNumber": -1, "columnNumber": -1}, "hitCount": 0, "children": [2, 3]},
//!            {"id": 2, "callFrame": {"functionName": "main", "url": "file:///app.js",
//!             "lineNumber": 9, ...}, "hitCount": 4, "children": [...]}, ...],
//!  "startTime": 5123000, "endTime": 5623000,          ← µs, the profiler's clock
//!  "samples": [2, 7, 7, 3, ...],                      ← node id of each sample
//!  "timeDeltas": [1250, 999, 1003, ...],              ← µs since the previous sample (the
//!  "title": "..."}                                       first: since startTime); may be < 0
//! ```
//!
//! - The nodes form V8's call tree. Links come from `children` (the protocol's form) or
//!   `parent` (the form inside traces); both are accepted, `children` first. Ids are arbitrary
//!   integers. A node keeps its first parent (a second one is counted and reported), an unknown
//!   id is reported and ignored, and a cycle is cut where the walk meets itself. Stacks are
//!   built by an iterative walk with memoization, so chains of any depth work.
//! - A node is a frame: function `functionName` (empty → `(anonymous)`), file `url` (none when
//!   empty), line `lineNumber + 1` (the line where the function starts: V8 gives no per-sample
//!   line here), no module; kind interpreted, except V8's pseudo-functions in parentheses
//!   (`(program)`, `(idle)`, `(garbage collector)`), which are native. Functions are identified
//!   by (name, url), so two anonymous functions of one script are one function with two frames.
//! - V8's synthetic `(root)` node (the parentless node of that name) is dropped from stacks;
//!   `(program)`, `(idle)` and `(garbage collector)` are kept as the roots V8 makes them, so the
//!   totals are the samples of the file. A sample of an unknown node id counts under
//!   `(unknown node)`.
//! - Two sample types: "samples" (count, 1 per sample, the default) and "cpu time"
//!   (nanoseconds): each sample weighs the time to the next sample in time order, and the last
//!   one the average interval, as Chrome DevTools' timeline does. Sample times are `startTime`
//!   plus the running sum of `timeDeltas`. Without `timeDeltas` the samples are spread evenly
//!   over `startTime..endTime` (as DevTools does); without `samples` each node's `hitCount`
//!   becomes one weighted sample at `startTime` (no timeline).
//! - One thread, pid 0 / tid 0 (the file does not say), named by `title` or `main`.
//! - Not read: `positionTicks` (per-line hit counts) and the legacy nested `head` form.
//!
//! # Trace Event Format
//!
//! A JSON array of events, or an object `{"traceEvents": [...], ...}`. The array may lack its
//! closing `]` (Chrome writes that when a trace is cut, and the format allows it): what was
//! read is kept, with a warning (also when the last event is incomplete). Events:
//!
//! ```text
//! {"ph": "B", "name": "parse", "pid": 1, "tid": 7, "ts": 1000.5}   ← begin, µs
//! {"ph": "E", "pid": 1, "tid": 7, "ts": 1900}                      ← end of the innermost B
//! {"ph": "X", "name": "gc", "pid": 1, "tid": 7, "ts": 1200, "dur": 40}      ← complete
//! {"ph": "M", "name": "thread_name", "pid": 1, "tid": 7, "args": {"name": "main"}}
//! {"ph": "P", "name": "Profile", "id": "0x1", "pid": 1, "tid": 7, "args": {"data":
//!   {"startTime": 990}}}                                           ← a V8 CPU profile starts
//! {"ph": "P", "name": "ProfileChunk", "id": "0x1", "pid": 1, "tid": 9, "args": {"data":
//!   {"cpuProfile": {"nodes": [...], "samples": [...]}, "timeDeltas": [...]}}}
//! ```
//!
//! - Each (pid, tid) is a thread, named by `thread_name` metadata, its process by
//!   `process_name`. A `pid`/`tid` given as a string gets a synthetic id below -1 and names
//!   its thread/process unless metadata does.
//! - `B`/`E` are matched per thread as a stack (events sorted by `ts` first, file order for
//!   equal times); an `E` without an open `B` is ignored and an unclosed `B` ends at the trace's
//!   last timestamp (both reported). `X` events (`ts` + `dur`) are nested with them: a span
//!   belongs to the innermost span containing its start; one that ends after its parent is cut
//!   at the parent's end (reported). Each becomes a span of the thread's timeline at its
//!   nesting depth, and its self time (duration minus its children's) a sample of the sample
//!   type "wall time" (nanoseconds) at the stack of span names (instrumented functions), timed
//!   at the span's start. So a thread's wall-time total is the time covered by its top-level
//!   spans.
//! - V8 CPU profiles in the trace (category `disabled-by-default-v8.cpu_profiler`): a `Profile`
//!   event (its thread is the profiled thread, its `ts` the start: Chrome leaves
//!   `args.data.startTime` on another clock, so DevTools uses `ts` too) and `ProfileChunk`s with
//!   the same `id` and pid, written from V8's sampler thread, which add nodes (linked by
//!   `parent`), samples and `timeDeltas` incrementally (chunks are sorted by `ts`; deltas
//!   continue across chunks). Older DevTools exports put a whole profile in one `CpuProfile`
//!   event. Samples get the sample types "samples" and "cpu time", exactly as a `.cpuprofile`;
//!   "samples" is then the default sample type, else "wall time". When one thread has several
//!   profiles at once (node runs V8's tracing profiler next to the one `--cpu-prof` starts),
//!   only the one with most samples is used, with a warning: adding them would count the
//!   thread's time twice (DevTools also keeps one profile per thread).
//! - Other phases (counters `C`, instants `i`/`I`, async `b`/`e`/`n`, flows `s`/`t`/`f`,
//!   objects, memory dumps, …) are skipped, reported in one warning with a count per phase.
//!   Events that are not objects or lack `ph`/`ts` (or an `X` its `dur`) are counted and
//!   reported once. The object form's `stackFrames`/`samples` sections are not read (reported).
//!
//! Both formats are read with lenient field types (`json.rs`): a field of the wrong type counts
//! as absent, so only malformed JSON is an error, reported at its byte offset. Trace events are
//! read one at a time from the memory-mapped file, never as one big JSON tree.

mod cpu;
mod json;
#[cfg(test)]
mod tests;
mod trace;

use crate::model::{ProfileBuilder, Unit};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use cpu::{Issues, NodeRec, NodeTree, RawNode, SampleTypes, us_to_ns};
use json::{Int, List, Num, Obj, Str, ValueError};
use serde::Deserialize;

const FORMAT_CPU: &str = "Chrome cpuprofile";
/// Bytes looked at to recognize a format.
const SNIFF_BYTES: usize = 64 * 1024;

/// A `.cpuprofile`'s top-level object.
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct RawCpuProfile<'a> {
    #[serde(borrow)]
    nodes: Option<List<Obj<RawNode<'a>>>>,
    start_time: Num,
    end_time: Num,
    samples: Option<List<Int>>,
    time_deltas: Option<List<Num>>,
    #[serde(borrow)]
    title: Str<'a>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Does `data` look like a V8 `.cpuprofile`: a JSON object with a top-level `nodes` key (and
/// `callFrame`s or `samples`/`timeDeltas` keys), and no `traceEvents`.
pub fn sniff_cpuprofile(data: &[u8]) -> bool {
    let head = &data[..data.len().min(SNIFF_BYTES)];
    let keys = json::top_level_keys(head, 64);
    let has = |k: &str| keys.iter().any(|x| x == k);
    has("nodes")
        && !has("traceEvents")
        && (has("samples") || has("timeDeltas") || contains(head, b"\"callFrame\""))
}

/// Does `data` look like a Chrome Trace Event Format file: an object with a top-level
/// `traceEvents` key, or an array whose first element is an object with a `ph` string.
pub fn sniff_trace(data: &[u8]) -> bool {
    let head = &data[..data.len().min(SNIFF_BYTES)];
    let pos = json::start(head);
    match head.get(pos) {
        Some(b'{') => {
            let keys = json::top_level_keys(head, 64);
            let has = |k: &str| keys.iter().any(|x| x == k);
            // A key after a value longer than the head is not seen: fall back to the text.
            has("traceEvents") || (!has("nodes") && contains(head, b"\"traceEvents\""))
        }
        Some(b'[') => {
            let pos = json::skip_ws(head, pos + 1);
            if head.get(pos) != Some(&b'{') {
                return false;
            }
            match json::value_at::<Obj<trace::RawEvent>>(head, pos) {
                Ok((Obj(Some(ev)), _)) => ev.ph.0.is_some(),
                Err(ValueError::Eof) => contains(head, b"\"ph\""),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Parses a `.cpuprofile` into `b`.
pub fn parse_cpuprofile(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    progress.start_phase(Phase::Reading, data.len() as u64);
    let pos = json::start(data);
    let raw = match json::value_at::<Obj<RawCpuProfile>>(data, pos) {
        Ok((Obj(Some(raw)), _)) => raw,
        Ok((Obj(None), _)) => {
            return Err(Error::at(FORMAT_CPU, pos as u64, "a JSON object"));
        }
        Err(ValueError::Eof) => {
            return Err(Error::at(
                FORMAT_CPU,
                data.len() as u64,
                "more data: the JSON ends early (truncated file?)",
            ));
        }
        Err(ValueError::Shape(e) | ValueError::Syntax(e)) => {
            return Err(Error::at(
                FORMAT_CPU,
                json::error_offset(data, pos, &e),
                json::error_message(&e),
            ));
        }
    };
    progress.check()?;
    progress.set_done(data.len() as u64 / 2);
    let nodes = match raw.nodes {
        Some(n) if !n.wrong_type && !n.items.is_empty() => n.items,
        _ => {
            return Err(Error::at(
                FORMAT_CPU,
                pos as u64,
                "a non-empty `nodes` array of profile nodes",
            ));
        }
    };
    let mut issues = Issues::default();
    let recs: Vec<NodeRec> = nodes
        .into_iter()
        .filter_map(|n| NodeRec::new(b, n, &mut issues))
        .collect();
    let mut tree = NodeTree::build(recs, &mut issues);
    let start_us = raw.start_time.0.unwrap_or(0.0);
    let start_ns = us_to_ns(start_us);
    let end_ns = raw.end_time.0.map(us_to_ns).filter(|&e| e >= start_ns);

    let thread = b.add_thread(0, 0);
    b.set_thread_name(
        thread,
        raw.title
            .as_str()
            .filter(|t| !t.is_empty())
            .unwrap_or("main"),
    );
    let types = SampleTypes {
        samples: b.add_sample_type("samples", Unit::Count),
        cpu: b.add_sample_type("cpu time", Unit::Nanoseconds),
        n: 2,
    };
    b.meta.default_sample_type = Some(types.samples);

    let samples = raw.samples.filter(|s| !s.wrong_type && !s.items.is_empty());
    let mut first_last = None;
    if let Some(samples) = samples {
        let ids: Vec<Option<i64>> = samples.items.iter().map(|s| s.0).collect();
        let times = match raw.time_deltas.filter(|d| !d.wrong_type) {
            Some(deltas) => cpu::sample_times(start_ns, ids.len(), &deltas.items, &mut issues),
            None => {
                b.warn(format!(
                    "{FORMAT_CPU}: no `timeDeltas`: the samples are spread evenly between `startTime` and `endTime`"
                ));
                let span = i128::from(end_ns.unwrap_or(start_ns)) - i128::from(start_ns);
                let n = ids.len() as i128;
                (0..n)
                    .map(|i| (i128::from(start_ns) + span * i / n) as i64)
                    .collect()
            }
        };
        if let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max())
            && ids.len() >= 2
        {
            first_last = Some((lo, hi, ids.len()));
        }
        cpu::add_samples(
            b,
            &mut tree,
            thread,
            &ids,
            &times,
            types,
            progress,
            &mut issues,
        )?;
    } else {
        // No samples array: the nodes' hit counts, without times.
        let total: f64 = tree.nodes().iter().map(|n| n.hit_count).sum();
        if total < 1.0 {
            return Err(Error::at(
                FORMAT_CPU,
                pos as u64,
                "a `samples` array (or nodes with a `hitCount`): the profile has no samples",
            ));
        }
        b.warn(format!(
            "{FORMAT_CPU}: no `samples` array: each node's `hitCount` is used, without a timeline"
        ));
        let interval = end_ns.map_or(0.0, |e| e.saturating_sub(start_ns) as f64 / total);
        let hits: Vec<(Option<i64>, f64)> = tree
            .nodes()
            .iter()
            .filter(|n| n.hit_count >= 1.0)
            .map(|n| (Some(n.id()), n.hit_count.min(1e15)))
            .collect();
        let mut weights = [0i64; 2];
        for (id, h) in hits {
            let stack = tree.stack_of(b, id, &mut issues);
            weights[types.samples] = h as i64;
            weights[types.cpu] = (h * interval).round() as i64;
            b.add_sample(thread, stack, start_ns.max(0) as u64, &weights);
        }
    }
    issues.report(b, FORMAT_CPU);
    b.meta.start_ns = Some(start_ns.max(0) as u64);
    b.meta.end_ns = Some(end_ns.unwrap_or(start_ns).max(0) as u64);
    if let Some((lo, hi, n)) = first_last {
        let mean_us = hi.saturating_sub(lo) as f64 / (n - 1) as f64 / 1000.0;
        b.meta.info.push((
            "sampling interval (mean)".into(),
            format!("{mean_us:.0} µs"),
        ));
    }
    progress.set_done(data.len() as u64);
    Ok(())
}

/// Parses a Chrome trace into `b`.
pub fn parse_trace(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    trace::parse(data, b, progress)
}
