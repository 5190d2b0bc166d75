//! Trace Event Format reading (see the module documentation in `mod.rs` for the mapping).

use super::cpu::{self, Issues, NodeRec, NodeTree, RawNode, SampleTypes, us_to_ns};
use super::json::{self, Id, Int, List, Num, Obj, Str, ValueError};
use crate::model::{FrameId, FuncKind, ModuleId, ProfileBuilder, StackId, StrId, ThreadId, Unit};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;

pub(super) const FORMAT: &str = "Chrome trace";

/// One trace event; only the fields stacklens uses.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(super) struct RawEvent<'a> {
    #[serde(borrow)]
    pub ph: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    pid: Id<'a>,
    #[serde(borrow)]
    tid: Id<'a>,
    ts: Num,
    dur: Num,
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    args: Obj<Args<'a>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Args<'a> {
    /// `thread_name` / `process_name` metadata.
    #[serde(borrow)]
    name: Str<'a>,
    /// `Profile`, `ProfileChunk` and `CpuProfile` payloads.
    #[serde(borrow)]
    data: Obj<ProfileData<'a>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct ProfileData<'a> {
    start_time: Num,
    end_time: Num,
    #[serde(borrow)]
    cpu_profile: Obj<ChunkProfile<'a>>,
    time_deltas: Option<List<Num>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct ChunkProfile<'a> {
    #[serde(borrow)]
    nodes: List<Obj<RawNode<'a>>>,
    samples: List<Int>,
    /// Only in whole-profile `CpuProfile` events.
    start_time: Num,
    end_time: Num,
    time_deltas: Option<List<Num>>,
}

/// `dur` of a `B` in [`SpanEvent`].
const BEGIN: i64 = -1;
/// `dur` of an `E` in [`SpanEvent`].
const END: i64 = -2;

/// A `B`, `E` or `X` event of one thread, compact: `dur` is the duration in ns of an `X`, or
/// [`BEGIN`] / [`END`].
#[derive(Clone, Copy, Debug)]
struct SpanEvent {
    ts: i64,
    dur: i64,
    name: StrId,
}

/// A sampled CPU profile inside the trace, gathered from its `Profile` and `ProfileChunk`s.
struct ProfileState {
    label: String,
    /// The thread of the `Profile` event: the profiled thread.
    thread: Option<(i32, i32)>,
    /// The thread of the first chunk (chunks are written by V8's sampler thread).
    chunk_thread: (i32, i32),
    start_us: Option<f64>,
    end_us: Option<f64>,
    nodes: Vec<NodeRec>,
    chunks: Vec<Chunk>,
    issues: Issues,
}

impl ProfileState {
    /// The thread the samples belong to.
    fn thread_key(&self) -> (i32, i32) {
        self.thread.unwrap_or(self.chunk_thread)
    }
}

struct Chunk {
    ts: f64,
    samples: Vec<Option<i64>>,
    deltas: Vec<Num>,
}

/// Where and how the data ended early.
struct Cut {
    offset: usize,
    /// The last event was incomplete and was dropped.
    event_dropped: bool,
}

#[derive(Default)]
struct Reader {
    spans: FxHashMap<(i32, i32), Vec<SpanEvent>>,
    /// Threads with spans, in order of their first span event.
    span_threads: Vec<(i32, i32)>,
    thread_names: FxHashMap<(i32, i32), String>,
    process_names: FxHashMap<i32, String>,
    /// Ids given to `pid`/`tid` strings (and numbers beyond `i32`), with the original text.
    synthetic: FxHashMap<String, i32>,
    synthetic_names: FxHashMap<i32, String>,
    profiles: Vec<ProfileState>,
    profile_index: FxHashMap<(i32, String), usize>,
    /// Phases skipped, with counts.
    skipped: BTreeMap<String, u64>,
    bad: u64,
    first_bad: usize,
    events: u64,
    min_ns: Option<i64>,
    max_ns: Option<i64>,
    cut: Option<Cut>,
    unread_sections: Vec<String>,
}

/// What a phase letter means, for the "skipped" warning.
fn phase_name(ph: &str) -> &'static str {
    match ph {
        "C" => "counter",
        "i" | "I" => "instant",
        "b" | "e" | "n" => "async",
        "S" | "T" | "p" | "F" => "legacy async",
        "s" | "t" | "f" => "flow",
        "P" => "sample",
        "N" | "O" | "D" => "object",
        "R" => "mark",
        "c" => "clock sync",
        "(" | ")" => "context",
        "V" | "v" => "memory dump",
        _ => "unknown phase",
    }
}

fn json_error(data: &[u8], base: usize, e: &serde_json::Error, what: &str) -> Error {
    Error::at(
        FORMAT,
        json::error_offset(data, base, e),
        format!("{what}: {}", json::error_message(e)),
    )
}

impl Reader {
    fn note_ts(&mut self, ns: i64) {
        self.min_ns = Some(self.min_ns.map_or(ns, |m| m.min(ns)));
        self.max_ns = Some(self.max_ns.map_or(ns, |m| m.max(ns)));
    }

    fn bad_event(&mut self, offset: usize) {
        if self.bad == 0 {
            self.first_bad = offset;
        }
        self.bad += 1;
    }

    /// A `pid`/`tid` as an `i32`: numbers as they are, other values (strings, huge numbers)
    /// get a synthetic negative id below -1, remembered with their text to name the thread.
    fn num_id(&mut self, id: &Id) -> i32 {
        let text = match id {
            Id::Missing => return 0,
            Id::Int(v) => match i32::try_from(*v) {
                Ok(v) => return v,
                Err(_) => v.to_string(),
            },
            Id::Str(s) => match s.parse::<i32>() {
                Ok(v) => return v,
                Err(_) => s.to_string(),
            },
        };
        if let Some(&v) = self.synthetic.get(&text) {
            return v;
        }
        let v = -2 - self.synthetic.len().min(i32::MAX as usize - 2) as i32;
        self.synthetic.insert(text.clone(), v);
        self.synthetic_names.insert(v, text);
        v
    }

    fn push_span(&mut self, key: (i32, i32), ev: SpanEvent) {
        let v = self.spans.entry(key).or_default();
        if v.is_empty() {
            self.span_threads.push(key);
        }
        v.push(ev);
    }

    fn profile(&mut self, key: (i32, String), thread: (i32, i32)) -> &mut ProfileState {
        let i = match self.profile_index.get(&key) {
            Some(&i) => i,
            None => {
                let label = if key.1.is_empty() {
                    format!("CPU profile (pid {})", key.0)
                } else {
                    format!("CPU profile {} (pid {})", key.1, key.0)
                };
                self.profiles.push(ProfileState {
                    label,
                    thread: None,
                    chunk_thread: thread,
                    start_us: None,
                    end_us: None,
                    nodes: Vec::new(),
                    chunks: Vec::new(),
                    issues: Issues::default(),
                });
                self.profile_index.insert(key, self.profiles.len() - 1);
                self.profiles.len() - 1
            }
        };
        &mut self.profiles[i]
    }

    fn event(&mut self, b: &mut ProfileBuilder, ev: Obj<RawEvent>, offset: usize) {
        self.events += 1;
        let Some(ev) = ev.0 else {
            self.bad_event(offset);
            return;
        };
        let ph = ev.ph.as_str().unwrap_or("");
        let name = ev.name.as_str().unwrap_or("");
        let key = (self.num_id(&ev.pid), self.num_id(&ev.tid));
        let ts = ev.ts.0.map(us_to_ns);
        if let Some(ts) = ts
            && ph != "M"
        {
            self.note_ts(ts);
        }
        let mut args = ev.args.0;
        let is_profile = match name {
            "Profile" | "ProfileChunk" => ph == "P",
            "CpuProfile" => true,
            _ => false,
        };
        if is_profile && let Some(data) = args.as_mut().and_then(|a| a.data.0.take()) {
            self.profile_event(b, name, key, &ev.id, ev.ts.0, data, offset);
            return;
        }
        match ph {
            "B" | "E" | "X" => {
                let Some(ts) = ts else {
                    self.bad_event(offset);
                    return;
                };
                let dur = match ph {
                    "B" => BEGIN,
                    "E" => END,
                    _ => match ev.dur.0 {
                        Some(d) if d >= 0.0 => us_to_ns(d),
                        _ => {
                            self.bad_event(offset);
                            return;
                        }
                    },
                };
                if dur >= 0 {
                    self.note_ts(ts.saturating_add(dur));
                }
                let name = if ph == "E" {
                    StrId::NONE
                } else if name.is_empty() {
                    b.intern("(unnamed)")
                } else {
                    b.intern(name)
                };
                self.push_span(key, SpanEvent { ts, dur, name });
            }
            "M" => {
                let value = args.and_then(|a| a.name.0).map(|s| s.into_owned());
                match (name, value) {
                    ("thread_name", Some(v)) => {
                        self.thread_names.insert(key, v);
                    }
                    ("process_name", Some(v)) => {
                        self.process_names.insert(key.0, v);
                    }
                    _ => {}
                }
            }
            "" => self.bad_event(offset),
            other => {
                // Phases are one letter: keep odd values from growing the tally without bound.
                let known = other.len() <= 2
                    && (self.skipped.len() < 32 || self.skipped.contains_key(other));
                let ph = if known { other } else { "?" };
                *self.skipped.entry(ph.to_string()).or_default() += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn profile_event(
        &mut self,
        b: &mut ProfileBuilder,
        name: &str,
        thread: (i32, i32),
        id: &Id,
        ts_us: Option<f64>,
        data: ProfileData,
        offset: usize,
    ) {
        let id = match id {
            Id::Missing => String::new(),
            Id::Int(v) => format!("{v:#x}"),
            Id::Str(s) => s.to_string(),
        };
        match name {
            "Profile" => {
                let p = self.profile((thread.0, id), thread);
                p.thread = Some(thread);
                // The event's `ts`, not `args.data.startTime`: Chrome converts `ts` to the
                // trace's clock but leaves `startTime` on CLOCK_MONOTONIC (DevTools does too).
                p.start_us = ts_us.or(data.start_time.0).or(p.start_us);
            }
            "ProfileChunk" => {
                let p = self.profile((thread.0, id), thread);
                if p.start_us.is_none() {
                    p.start_us = data.start_time.0;
                }
                if data.end_time.0.is_some() {
                    p.end_us = data.end_time.0;
                }
                let cp = data.cpu_profile.0.unwrap_or_default();
                let deltas = data.time_deltas.or(cp.time_deltas);
                let chunk = chunk_of(b, p, cp.nodes, cp.samples, deltas, ts_us);
                if let Some(c) = chunk {
                    p.chunks.push(c);
                }
            }
            _ => {
                // "CpuProfile": a whole profile in one event (older Chrome DevTools exports).
                let p = self.profile((thread.0, format!("CpuProfile@{offset}")), thread);
                p.thread = Some(thread);
                let cp = data.cpu_profile.0.unwrap_or_default();
                p.start_us = cp.start_time.0.or(data.start_time.0).or(ts_us);
                p.end_us = cp.end_time.0.or(data.end_time.0);
                let deltas = cp.time_deltas.or(data.time_deltas);
                let chunk = chunk_of(b, p, cp.nodes, cp.samples, deltas, ts_us);
                if let Some(c) = chunk {
                    p.chunks.push(c);
                }
            }
        }
    }

    /// Reads the event array starting at `pos` (on its `[`); returns the position after it.
    /// A missing `]` (the data ends after an event or inside one) is recorded in `self.cut`.
    fn events_array(
        &mut self,
        b: &mut ProfileBuilder,
        data: &[u8],
        mut pos: usize,
        progress: &Progress,
    ) -> Result<usize> {
        pos += 1;
        loop {
            pos = json::skip_ws(data, pos);
            match data.get(pos) {
                None => {
                    self.cut = Some(Cut {
                        offset: pos,
                        event_dropped: false,
                    });
                    return Ok(pos);
                }
                Some(b']') => return Ok(pos + 1),
                Some(_) => {}
            }
            if self.events.is_multiple_of(4096) {
                progress.check()?;
                progress.set_done(pos as u64);
            }
            match json::value_at::<Obj<RawEvent>>(data, pos) {
                Ok((ev, end)) => {
                    self.event(b, ev, pos);
                    pos = end;
                }
                Err(ValueError::Eof) => {
                    self.cut = Some(Cut {
                        offset: pos,
                        event_dropped: true,
                    });
                    return Ok(data.len());
                }
                Err(ValueError::Shape(_)) => {
                    // Valid JSON that is not an event we can read (e.g. duplicate keys): skip.
                    match json::value_at::<IgnoredAny>(data, pos) {
                        Ok((_, end)) => {
                            self.events += 1;
                            self.bad_event(pos);
                            pos = end;
                        }
                        Err(ValueError::Eof) => {
                            self.cut = Some(Cut {
                                offset: pos,
                                event_dropped: true,
                            });
                            return Ok(data.len());
                        }
                        Err(ValueError::Shape(e) | ValueError::Syntax(e)) => {
                            return Err(json_error(data, pos, &e, "a trace event"));
                        }
                    }
                }
                Err(ValueError::Syntax(e)) => {
                    return Err(json_error(data, pos, &e, "a trace event"));
                }
            }
            pos = json::skip_ws(data, pos);
            match data.get(pos) {
                Some(b',') => pos += 1,
                Some(b']') => return Ok(pos + 1),
                None => {
                    self.cut = Some(Cut {
                        offset: pos,
                        event_dropped: false,
                    });
                    return Ok(pos);
                }
                Some(_) => {
                    return Err(Error::at(
                        FORMAT,
                        pos as u64,
                        "`,` or `]` after a trace event",
                    ));
                }
            }
        }
    }

    /// Reads `{"traceEvents": [...], ...}` starting at `pos` (on its `{`).
    fn object(
        &mut self,
        b: &mut ProfileBuilder,
        data: &[u8],
        start: usize,
        progress: &Progress,
    ) -> Result<()> {
        let mut found = false;
        let mut pos = start + 1;
        let cut = |r: &mut Reader, offset| {
            if r.cut.is_none() {
                r.cut = Some(Cut {
                    offset,
                    event_dropped: false,
                });
            }
        };
        loop {
            pos = json::skip_ws(data, pos);
            match data.get(pos) {
                None => {
                    cut(self, pos);
                    break;
                }
                Some(b'}') => break,
                Some(b'"') => {}
                Some(_) => {
                    return Err(Error::at(
                        FORMAT,
                        pos as u64,
                        "a key or `}` in the top-level object",
                    ));
                }
            }
            let key = match json::value_at::<Str>(data, pos) {
                Ok((k, end)) => {
                    pos = end;
                    k.0.unwrap_or_default()
                }
                Err(ValueError::Eof) => {
                    cut(self, pos);
                    break;
                }
                Err(ValueError::Shape(e) | ValueError::Syntax(e)) => {
                    return Err(json_error(data, pos, &e, "a key of the top-level object"));
                }
            };
            pos = json::skip_ws(data, pos);
            match data.get(pos) {
                Some(b':') => pos = json::skip_ws(data, pos + 1),
                None => {
                    cut(self, pos);
                    break;
                }
                Some(_) => return Err(Error::at(FORMAT, pos as u64, "`:` after a key")),
            }
            if key == "traceEvents" && data.get(pos) == Some(&b'[') {
                found = true;
                pos = self.events_array(b, data, pos, progress)?;
                if self.cut.is_some() {
                    break;
                }
            } else {
                match json::value_at::<IgnoredAny>(data, pos) {
                    Ok((_, end)) => {
                        let inner = json::skip_ws(data, pos + 1);
                        let empty = matches!(data.get(inner), Some(b']' | b'}'));
                        if matches!(&*key, "stackFrames" | "samples" | "systemTraceEvents")
                            && !empty
                        {
                            self.unread_sections.push(key.into_owned());
                        }
                        pos = end;
                    }
                    Err(ValueError::Eof) => {
                        cut(self, pos);
                        break;
                    }
                    Err(ValueError::Shape(e) | ValueError::Syntax(e)) => {
                        return Err(json_error(data, pos, &e, "a value of the top-level object"));
                    }
                }
            }
            pos = json::skip_ws(data, pos);
            match data.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => break,
                None => {
                    cut(self, pos);
                    break;
                }
                Some(_) => {
                    return Err(Error::at(
                        FORMAT,
                        pos as u64,
                        "`,` or `}` in the top-level object",
                    ));
                }
            }
        }
        if !found {
            return Err(Error::at(
                FORMAT,
                start as u64,
                "a `traceEvents` array in the top-level object",
            ));
        }
        Ok(())
    }

    /// Turns what was gathered into threads, samples and spans.
    /// `end`: the length of the data.
    fn finish(mut self, b: &mut ProfileBuilder, progress: &Progress, end: usize) -> Result<()> {
        let has_profile = self
            .profiles
            .iter()
            .any(|p| p.chunks.iter().any(|c| !c.samples.is_empty()));
        let has_spans = !self.span_threads.is_empty();
        if !has_profile && !has_spans {
            // Where the events ran out: the cut, if the trace is cut short, else its end.
            let (offset, cut) = match &self.cut {
                Some(c) => (c.offset, " (the trace is cut short here)"),
                None => (end, ""),
            };
            return Err(Error::at(
                FORMAT,
                offset as u64,
                format!(
                    "a duration event (B/E/X) or a CPU profile sample before this point, but none \
                     of the {} events is one{}{cut}",
                    self.events,
                    self.skipped_text()
                        .map_or(String::new(), |s| format!(" (the trace has {s})"))
                ),
            ));
        }
        let mut n = 0;
        let mut types = SampleTypes {
            samples: 0,
            cpu: 0,
            n: 0,
        };
        if has_profile {
            types.samples = b.add_sample_type("samples", Unit::Count);
            types.cpu = b.add_sample_type("cpu time", Unit::Nanoseconds);
            n = 2;
        }
        let wall = if has_spans {
            n += 1;
            Some(b.add_sample_type("wall time", Unit::Nanoseconds))
        } else {
            None
        };
        types.n = n;
        b.meta.default_sample_type = if has_profile {
            Some(types.samples)
        } else {
            wall
        };

        // One profile per thread: V8 runs a second profiler next to one started by the
        // inspector (`node --cpu-prof` with the cpu_profiler category gives two); adding both
        // would count the thread's time twice. Keep the one with most samples, as Chrome
        // DevTools also shows one profile per thread.
        let mut by_thread: FxHashMap<(i32, i32), usize> = FxHashMap::default();
        let profiles = std::mem::take(&mut self.profiles);
        let counts: Vec<usize> = profiles
            .iter()
            .map(|p| p.chunks.iter().map(|c| c.samples.len()).sum())
            .collect();
        for (i, p) in profiles.iter().enumerate() {
            if counts[i] == 0 {
                continue;
            }
            let best = by_thread.entry(p.thread_key()).or_insert(i);
            if counts[i] > counts[*best] {
                *best = i;
            }
        }
        let mut used = vec![false; profiles.len()];
        for &i in by_thread.values() {
            used[i] = true;
        }
        for (i, p) in profiles.iter().enumerate() {
            if counts[i] > 0 && !used[i] {
                let kept = &profiles[by_thread[&p.thread_key()]];
                b.warn(format!(
                    "{}: another CPU profile of the same thread ({}) has more samples and is used; this one's {} samples are left out, not to count the thread's time twice",
                    p.label, kept.label, counts[i]
                ));
            }
        }
        for (i, p) in profiles.into_iter().enumerate() {
            if used[i] {
                self.add_profile(b, p, types, progress)?;
            }
        }
        if let Some(wall) = wall {
            self.add_spans(b, wall, n, progress)?;
        }
        self.name_threads(b);
        self.warn(b);
        if let (Some(lo), Some(hi)) = (self.min_ns, self.max_ns) {
            b.meta.start_ns = Some(lo.max(0) as u64);
            b.meta.end_ns = Some(hi.max(lo).max(0) as u64);
        }
        Ok(())
    }

    fn add_profile(
        &mut self,
        b: &mut ProfileBuilder,
        mut p: ProfileState,
        types: SampleTypes,
        progress: &Progress,
    ) -> Result<()> {
        if p.chunks.iter().all(|c| c.samples.is_empty()) {
            return Ok(());
        }
        let key = p.thread_key();
        if p.thread.is_none() {
            b.warn(format!(
                "{}: no `Profile` event names the profiled thread; its samples go to the thread that wrote its first chunk",
                p.label
            ));
        }
        // Chunks in time order (the writer's buffers may reach the file out of order); equal
        // times keep file order.
        p.chunks.sort_by(|a, b| a.ts.total_cmp(&b.ts));
        let start_us = p
            .start_us
            .or_else(|| p.chunks.first().map(|c| c.ts))
            .unwrap_or(0.0);
        let mut ids = Vec::new();
        let mut deltas = Vec::new();
        for c in &p.chunks {
            ids.extend_from_slice(&c.samples);
            deltas.extend_from_slice(&c.deltas);
        }
        let mut issues = std::mem::take(&mut p.issues);
        let times = cpu::sample_times(us_to_ns(start_us), ids.len(), &deltas, &mut issues);
        let mut tree = NodeTree::build(std::mem::take(&mut p.nodes), &mut issues);
        let thread = b.add_thread(key.0, key.1);
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
        issues.report(b, &p.label);
        if let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) {
            self.note_ts(first);
            self.note_ts(last);
        }
        if let Some(end) = p.end_us {
            self.note_ts(us_to_ns(end));
        }
        Ok(())
    }

    /// Matches `B`/`E` per thread, nests them with the `X` events, and adds each span and its
    /// self time.
    fn add_spans(
        &mut self,
        b: &mut ProfileBuilder,
        wall: usize,
        n_types: usize,
        progress: &Progress,
    ) -> Result<()> {
        let last_ns = self.max_ns.unwrap_or(0);
        let mut unmatched = 0u64;
        let mut unclosed = 0u64;
        let mut clipped = 0u64;
        let mut frames: FxHashMap<StrId, FrameId> = FxHashMap::default();
        let mut weights = vec![0i64; n_types];
        for key in std::mem::take(&mut self.span_threads) {
            let Some(mut evs) = self.spans.remove(&key) else {
                continue;
            };
            progress.check()?;
            evs.sort_by_key(|e| e.ts);
            // (start, end, name, place of the `B` or `X` among the sorted events).
            let mut intervals: Vec<(i64, i64, StrId, usize)> = Vec::with_capacity(evs.len());
            let mut open: Vec<(i64, StrId, usize)> = Vec::new();
            for (i, e) in evs.iter().enumerate() {
                match e.dur {
                    BEGIN => open.push((e.ts, e.name, i)),
                    END => match open.pop() {
                        Some((s, name, at)) => intervals.push((s, e.ts, name, at)),
                        None => unmatched += 1,
                    },
                    d => intervals.push((e.ts, e.ts.saturating_add(d), e.name, i)),
                }
            }
            for (s, name, at) in open.drain(..) {
                unclosed += 1;
                intervals.push((s, last_ns.max(s), name, at));
            }
            drop(evs);
            // Parents before children: by start, then longest first; ties in the order the
            // spans began (a `B`/`E` pair is pushed when it ends, innermost first, so push
            // order would turn `B a, B b, E b, E a` at one timestamp into b calling a).
            intervals.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.3.cmp(&b.3)));
            let thread = b.add_thread(key.0, key.1);
            let mut nest = Nest {
                thread,
                wall,
                weights: &mut weights,
                open: Vec::new(),
            };
            for (i, &(s, mut e, name, _)) in intervals.iter().enumerate() {
                if i.is_multiple_of(65536) {
                    progress.check()?;
                }
                // Close the spans that ended before this one starts. One that ends exactly
                // here is a sibling, unless it has no length (then this one nests in it).
                while nest
                    .open
                    .last()
                    .is_some_and(|top| top.end < s || (top.end == s && top.start < s))
                {
                    nest.close(b);
                }
                let parent = nest.open.last().map_or(StackId::NONE, |t| t.stack);
                if let Some(top) = nest.open.last()
                    && e > top.end
                {
                    e = top.end;
                    clipped += 1;
                }
                let frame = *frames.entry(name).or_insert_with(|| {
                    let func =
                        b.add_func(name, ModuleId::NONE, StrId::NONE, 0, FuncKind::Instrumented);
                    b.add_frame(func, ModuleId::NONE, 0, 0, 0)
                });
                let stack = b.add_stack(parent, frame);
                let depth = u16::try_from(nest.open.len()).unwrap_or(u16::MAX);
                let text = b.string(name).to_owned();
                b.add_span(thread, depth, s.max(0) as u64, e.max(0) as u64, &text);
                nest.open.push(OpenSpan {
                    start: s,
                    end: e,
                    stack,
                    children_ns: 0,
                });
            }
            while !nest.open.is_empty() {
                nest.close(b);
            }
        }
        let mut warn = |n: u64, msg: &str| {
            if n > 0 {
                b.warn(format!("{n} {msg}"));
            }
        };
        warn(
            unmatched,
            "`E` event(s) had no open `B` on their thread and were ignored",
        );
        warn(
            unclosed,
            "`B` event(s) were never closed; they end at the trace's last timestamp",
        );
        warn(
            clipped,
            "span(s) ended after the span enclosing them and were cut at its end",
        );
        Ok(())
    }

    fn name_threads(&self, b: &mut ProfileBuilder) {
        let threads: Vec<(ThreadId, i32, i32)> = b.thread_ids().collect();
        for (t, pid, tid) in threads {
            let name = self
                .thread_names
                .get(&(pid, tid))
                .or_else(|| self.synthetic_names.get(&tid));
            if let Some(name) = name {
                b.set_thread_name(t, name);
            }
            let process = self
                .process_names
                .get(&pid)
                .or_else(|| self.synthetic_names.get(&pid));
            if let Some(process) = process {
                b.set_process_name(t, process);
            }
        }
    }

    fn skipped_text(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let total: u64 = self.skipped.values().sum();
        let kinds: Vec<String> = self
            .skipped
            .iter()
            .map(|(ph, n)| format!("{n} × `{ph}` ({})", phase_name(ph)))
            .collect();
        Some(format!(
            "{total} event(s) of other phases: {}",
            kinds.join(", ")
        ))
    }

    fn warn(&self, b: &mut ProfileBuilder) {
        if let Some(s) = self.skipped_text() {
            b.warn(format!("skipped {s}"));
        }
        if self.bad > 0 {
            b.warn(format!(
                "{} event(s) could not be used (not an object, no `ph` or `ts`, or an `X` without `dur`); the first at byte offset {}",
                self.bad, self.first_bad
            ));
        }
        if let Some(cut) = &self.cut {
            b.warn(format!(
                "the trace ends at byte offset {} without its closing bracket (cut short?): the {} complete event(s) before were read{}",
                cut.offset,
                self.events,
                if cut.event_dropped {
                    ", the incomplete last one was dropped"
                } else {
                    ""
                }
            ));
        }
        for s in &self.unread_sections {
            b.warn(format!(
                "the trace's `{s}` section is not read by stacklens"
            ));
        }
    }
}

struct OpenSpan {
    start: i64,
    end: i64,
    stack: StackId,
    children_ns: i64,
}

/// The open spans of one thread while nesting.
struct Nest<'w> {
    thread: ThreadId,
    wall: usize,
    weights: &'w mut Vec<i64>,
    open: Vec<OpenSpan>,
}

impl Nest<'_> {
    /// Closes the innermost open span: its self time becomes a "wall time" sample.
    fn close(&mut self, b: &mut ProfileBuilder) {
        let Some(top) = self.open.pop() else { return };
        let dur = top.end.saturating_sub(top.start);
        let self_ns = dur.saturating_sub(top.children_ns);
        if self_ns > 0 {
            self.weights[self.wall] = self_ns;
            b.add_sample(
                self.thread,
                top.stack,
                top.start.max(0) as u64,
                self.weights,
            );
            self.weights[self.wall] = 0;
        }
        if let Some(parent) = self.open.last_mut() {
            parent.children_ns = parent.children_ns.saturating_add(dur);
        }
    }
}

/// One chunk's nodes (added to `p`) and samples.
fn chunk_of(
    b: &mut ProfileBuilder,
    p: &mut ProfileState,
    nodes: List<Obj<RawNode>>,
    samples: List<Int>,
    deltas: Option<List<Num>>,
    ts_us: Option<f64>,
) -> Option<Chunk> {
    let issues = &mut p.issues;
    for n in nodes.items {
        if let Some(rec) = NodeRec::new(b, n, issues) {
            p.nodes.push(rec);
        }
    }
    if samples.items.is_empty() {
        return None;
    }
    let samples: Vec<Option<i64>> = samples.items.iter().map(|s| s.0).collect();
    let mut deltas = deltas.map(|d| d.items).unwrap_or_default();
    if deltas.len() != samples.len() {
        issues.delta_mismatch += 1;
        deltas.resize(samples.len(), Num(Some(0.0)));
    }
    Some(Chunk {
        ts: ts_us.unwrap_or(f64::NEG_INFINITY),
        samples,
        deltas,
    })
}

/// Parses a trace (array or object form) into `b`.
pub(super) fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    progress.start_phase(Phase::Reading, data.len() as u64);
    let mut r = Reader::default();
    let pos = json::start(data);
    match data.get(pos) {
        Some(b'[') => {
            r.events_array(b, data, pos, progress)?;
        }
        Some(b'{') => r.object(b, data, pos, progress)?,
        _ => {
            return Err(Error::at(
                FORMAT,
                pos as u64,
                "a JSON array of trace events, or an object with a `traceEvents` array",
            ));
        }
    }
    progress.set_done(data.len() as u64);
    r.finish(b, progress, data.len())
}
