//! speedscope JSON: the file format of <https://www.speedscope.app>, written by py-spy
//! (`record -f speedscope`), pyinstrument (`-r speedscope`), rbspy, speedscope's own "Export"
//! and many converters. Its schema is `https://www.speedscope.app/file-format-schema.json`:
//!
//! ```text
//! {
//!   "$schema": "https://www.speedscope.app/file-format-schema.json",
//!   "shared": { "frames": [ {"name": "main", "file": "w.py", "line": 3, "col": 1}, … ] },
//!   "profiles": [
//!     { "type": "sampled", "name": "Thread 4242 \"MainThread\"", "unit": "seconds",
//!       "startValue": 0, "endValue": 0.51,
//!       "samples": [[0, 1, 2], …],            ← stacks of frame indices, root first
//!       "weights": [0.005, …] },              ← one per sample, in `unit`
//!     { "type": "evented", "name": "…", "unit": "milliseconds",
//!       "startValue": 0, "endValue": 14,
//!       "events": [ {"type": "O", "at": 0, "frame": 0},     ← open (enter) a frame
//!                   {"type": "C", "at": 9, "frame": 0} ] }  ← close (leave) it
//!   ],
//!   "name": "…", "activeProfileIndex": 0, "exporter": "py-spy@0.4.3"   (all optional)
//! }
//! ```
//!
//! Units: `nanoseconds`, `microseconds`, `milliseconds`, `seconds`, `bytes`, `none`. Only
//! `name` is required in a frame; `file`, `line` and `col` may be missing or `null`.
//!
//! How it maps onto the model:
//!
//! - **Frames**: each shared frame becomes function (`name`, `file`) with no module and a frame
//!   at `line` (0 when missing): the lines of one function are one call node, as in the folded
//!   parser. `col` is dropped (the model has no column). A missing or empty name reads
//!   `[unnamed]`. Every function is `Interpreted`: the format does not say what kind of code
//!   a frame is, and its writers are mostly interpreted-language profilers.
//! - **Threads**: each profile is one thread named after the profile. When the name carries
//!   ids the way py-spy writes them (`Thread 4242 "MainThread"`, `Process 7 Thread 4242 "…"`,
//!   decimal or `0x` hex), those are the pid and tid; otherwise the tid is the profile's index
//!   (pid 0). Two profiles never share a thread: a taken (pid, tid) moves to the next free tid.
//! - **Sample types**, one per measure, shared by all profiles that have it: `time`
//!   (nanoseconds, from any of the four time units), `bytes`, `samples` (a `sampled` profile
//!   in unit `none`: counts) and `value` (an `evented` profile in unit `none`). Weights are
//!   converted to the type's unit and rounded to integers (so `none` weights below 0.5 read 0).
//!   The profile `activeProfileIndex` points at decides the default sample type.
//! - **Sampled profiles**: one sample per stack, with its weight. An empty stack counts under
//!   `[unknown]`, so totals equal the sum of the weights. The format has no sample times:
//!   in a time unit, sample *i* is placed at `startValue + weights[0..i]` (where speedscope's
//!   time-order view draws it), otherwise at time 0.
//! - **Evented profiles**: the open frames form a stack; the time between two events is one
//!   sample on the stack open during it (self time of the innermost frame, as speedscope's
//!   flame graph counts it), at the interval's start. Times with no open frame are not
//!   samples. Converted times are rounded first and weights are their differences, so the
//!   weights of a profile add up exactly. In a time unit, each open/close pair is also a span
//!   (name = frame name, depth = nesting level) for the timeline; other units have no spans
//!   and their samples sit at time 0. Spans nested deeper than 65,535 are dropped (counted).
//! - **Times** are absolute as written, converted to nanoseconds; negative ones clamp to 0.
//!   The profile's start/end are the smallest `startValue` and largest `endValue` of the
//!   time-unit profiles.
//! - `exporter` becomes the recorder version; `name` and the active profile's name are listed
//!   as info.
//!
//! Bad input (speedscope itself refuses most of it; we load what makes sense and warn once per
//! kind of problem, with the first place it happened): a frame index outside `shared.frames`
//! becomes an `[invalid frame]` frame (weights are kept); `samples` and `weights` of different
//! lengths load the common part; a weight or time that is not a finite number (JavaScript
//! writes NaN as `null`) or that overflows in nanoseconds skips its sample or event, and so
//! does a weight that would make its sample type's total overflow an `i64`; a profile of unknown `type` is skipped; an unknown or missing unit reads as `none`; a close
//! event with no open frame of that index is ignored; a close event for a frame below the top
//! also closes the frames above it; events going back in time are taken at the previous
//! event's time; frames still open at the end close at `endValue` (or at the last event).
//! JSON that does not parse (including a truncated file) is an error with its line.
//!
//! The JSON is read with serde through a buffered reader that reports progress in bytes and
//! stops when the load is cancelled. Stacks are built iteratively (reusing the previous
//! sample's common prefix), so any depth works; serde_json's recursion limit (128) only
//! bounds JSON nesting, which this format never needs beyond 5.

use crate::model::{FrameId, FuncKind, ModuleId, ProfileBuilder, StackId, ThreadId, Unit};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use rustc_hash::FxHashSet;
use serde::Deserialize;
use serde::de::{Deserializer, Visitor};
use std::fmt;
use std::io::Read;

#[cfg(test)]
mod tests;

const FORMAT: &str = "speedscope";
/// The schema URL every speedscope file names (without its scheme, plus the closing quote).
const SCHEMA: &[u8] = b"speedscope.app/file-format-schema.json\"";
/// Bytes at each end of a file where sniffing looks for the schema: writers put `$schema`
/// first (py-spy, pyinstrument) or among the small top-level fields before or after the
/// profiles (speedscope's exporter), never inside them.
const SNIFF_BYTES: usize = 64 * 1024;
/// Largest converted value accepted (weights, times in ns): 2^62 ns is 146 years, and the
/// difference of two such times still fits an `i64`. Their sums need not: each sample type
/// keeps a running total, and a sample that would overflow it is skipped.
const MAX_VALUE: f64 = (1u64 << 62) as f64;
/// Samples or events between two cancellation checks.
const CHECK_EVERY: usize = 4096;
/// Read buffer: one progress update and cancellation check per buffer refill.
const READ_BUFFER: usize = 64 * 1024;

/// Does `data` look like a speedscope file: a JSON object naming speedscope's schema near its
/// start or its end.
pub fn sniff(data: &[u8]) -> bool {
    let data = strip_bom(data);
    let Some(&first) = data.iter().find(|c| !c.is_ascii_whitespace()) else {
        return false;
    };
    if first != b'{' {
        return false;
    }
    let head = &data[..data.len().min(SNIFF_BYTES)];
    let tail = &data[data.len().saturating_sub(SNIFF_BYTES)..];
    let names_schema = |part: &[u8]| contains(part, b"\"$schema\"") && contains(part, SCHEMA);
    names_schema(head) || names_schema(tail)
}

fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---- The file as serde reads it. Every field is optional here; what is missing is decided
// ---- (warning or default) while converting, so one odd profile does not reject the file.

#[derive(Deserialize)]
struct RawFile {
    name: Option<String>,
    exporter: Option<String>,
    #[serde(rename = "activeProfileIndex")]
    active_profile_index: Option<Num>,
    profiles: Option<Vec<RawProfile>>,
    shared: Option<RawShared>,
}

#[derive(Deserialize)]
struct RawShared {
    frames: Option<Vec<RawFrame>>,
}

#[derive(Deserialize)]
struct RawFrame {
    name: Option<String>,
    file: Option<String>,
    line: Option<Num>,
}

#[derive(Deserialize)]
struct RawProfile {
    #[serde(rename = "type")]
    kind: Option<ProfileKind>,
    name: Option<String>,
    unit: Option<ValueUnit>,
    #[serde(rename = "startValue")]
    start_value: Option<Num>,
    #[serde(rename = "endValue")]
    end_value: Option<Num>,
    samples: Option<Vec<Vec<FrameIndex>>>,
    weights: Option<Vec<Num>>,
    events: Option<Vec<RawEvent>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum ProfileKind {
    Sampled,
    Evented,
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum ValueUnit {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Bytes,
    None,
    #[serde(other)]
    Other,
}

/// 16 bytes per event: files with millions of events stay within a small multiple of their
/// size.
#[derive(Deserialize, Default)]
struct RawEvent {
    #[serde(rename = "type", default)]
    kind: EventKind,
    #[serde(default)]
    at: Num,
    #[serde(default)]
    frame: FrameIndex,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default, Debug)]
enum EventKind {
    #[serde(rename = "O")]
    Open,
    #[serde(rename = "C")]
    Close,
    #[default]
    #[serde(other)]
    Other,
}

/// A JSON number read leniently: integer or float, and `null` (what JavaScript writes for
/// NaN) as NaN. Whether it is usable is decided where it is used.
#[derive(Clone, Copy, Debug)]
struct Num(f64);

impl Default for Num {
    fn default() -> Self {
        Num(f64::NAN)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_unit<E>(self) -> std::result::Result<Num, E> {
                Ok(Num(f64::NAN))
            }
        }
        d.deserialize_any(V)
    }
}

/// An index into `shared.frames`, 4 bytes; anything that is not a whole number below
/// `u32::MAX` (negative, fractional, huge, `null`) is [`FrameIndex::BAD`], which no frame
/// table reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FrameIndex(u32);

impl FrameIndex {
    const BAD: FrameIndex = FrameIndex(u32::MAX);
}

impl Default for FrameIndex {
    fn default() -> Self {
        Self::BAD
    }
}

impl<'de> Deserialize<'de> for FrameIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FrameIndex;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a frame index")
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<FrameIndex, E> {
                Ok(u32::try_from(v).map_or(FrameIndex::BAD, FrameIndex))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<FrameIndex, E> {
                Ok(u32::try_from(v).map_or(FrameIndex::BAD, FrameIndex))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<FrameIndex, E> {
                Ok(if v >= 0.0 && v.fract() == 0.0 && v < f64::from(u32::MAX) {
                    FrameIndex(v as u32)
                } else {
                    FrameIndex::BAD
                })
            }
            fn visit_unit<E>(self) -> std::result::Result<FrameIndex, E> {
                Ok(FrameIndex::BAD)
            }
        }
        d.deserialize_any(V)
    }
}

/// Feeds serde from the mapped bytes, reporting bytes read and failing once the load is
/// cancelled (checked at each buffer refill).
struct ProgressReader<'a> {
    data: &'a [u8],
    pos: usize,
    progress: &'a Progress,
}

impl Read for ProgressReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.progress.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let rest = &self.data[self.pos..];
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        self.progress.set_done(self.pos as u64);
        Ok(n)
    }
}

/// Line number just past the end of `data` (where a missing top-level field was expected).
fn last_line(data: &[u8]) -> u64 {
    data.trim_ascii_end()
        .iter()
        .filter(|&&c| c == b'\n')
        .count() as u64
        + 1
}

fn json_error(e: serde_json::Error, progress: &Progress) -> Error {
    if e.is_io() && progress.is_cancelled() {
        return Error::Cancelled;
    }
    let line = e.line() as u64;
    let column = e.column();
    let expected = if e.is_eof() {
        "more JSON: the file ends early (truncated?)".to_string()
    } else {
        // serde_json's message ends with " at line L column C"; keep the column only.
        let msg = e.to_string();
        let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        format!("column {column}: {msg}")
    };
    Error::AtLine {
        format: FORMAT,
        line: line.max(1),
        expected,
    }
}

/// Parses a speedscope file into `b`.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    let data = strip_bom(data);
    progress.start_phase(Phase::Reading, data.len() as u64);
    let reader = ProgressReader {
        data,
        pos: 0,
        progress,
    };
    let file: RawFile =
        serde_json::from_reader(std::io::BufReader::with_capacity(READ_BUFFER, reader))
            .map_err(|e| json_error(e, progress))?;
    let Some(profiles) = file.profiles else {
        return Err(Error::AtLine {
            format: FORMAT,
            line: last_line(data),
            expected: "a `profiles` array in the top-level object".into(),
        });
    };
    let frames = file.shared.and_then(|s| s.frames).unwrap_or_default();
    let mut cx = Converter::new(b, progress, &frames);
    let mut loaded = 0usize;
    let mut types = Vec::with_capacity(profiles.len());
    for (i, p) in profiles.iter().enumerate() {
        progress.check()?;
        let ty = cx.profile(i, p)?;
        loaded += usize::from(ty.is_some());
        types.push(ty);
    }
    cx.finish();
    if loaded == 0 {
        return Err(Error::AtLine {
            format: FORMAT,
            line: last_line(data),
            expected: if profiles.is_empty() {
                "at least one profile in `profiles`".into()
            } else {
                "a profile of type \"sampled\" or \"evented\"".into()
            },
        });
    }
    let active = file
        .active_profile_index
        .map(|n| n.0)
        .filter(|&n| n >= 0.0 && n.fract() == 0.0 && n < profiles.len() as f64)
        .map(|n| n as usize);
    if let Some(a) = active {
        b.meta.default_sample_type = types[a];
        if let Some(name) = &profiles[a].name {
            b.meta.info.push(("active profile".into(), name.clone()));
        }
    }
    if let Some(name) = file.name {
        b.meta.info.push(("name".into(), name));
    }
    b.meta.recorder_version = file.exporter;
    Ok(())
}

/// What a profile's values measure: decides its sample type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Measure {
    Time,
    Bytes,
    /// `none` in a sampled profile: sample counts.
    Samples,
    /// `none` in an evented profile: an abstract value.
    Value,
}

impl Measure {
    fn sample_type(self) -> (&'static str, Unit) {
        match self {
            Measure::Time => ("time", Unit::Nanoseconds),
            Measure::Bytes => ("bytes", Unit::Bytes),
            Measure::Samples => ("samples", Unit::Count),
            Measure::Value => ("value", Unit::Count),
        }
    }
}

/// `value × factor`, rounded, when it is finite and within ±[`MAX_VALUE`].
fn scaled(value: Num, factor: f64) -> Option<i64> {
    let x = (value.0 * factor).round();
    (x.is_finite() && x.abs() <= MAX_VALUE).then_some(x as i64)
}

fn time_ns(t: i64) -> u64 {
    t.max(0) as u64
}

/// A kind of problem: how often, and where first.
#[derive(Default)]
struct Tally {
    count: u64,
    first: String,
}

impl Tally {
    fn note(&mut self, first: impl FnOnce() -> String) {
        if self.count == 0 {
            self.first = first();
        }
        self.count += 1;
    }

    fn warn(&self, b: &mut ProfileBuilder, what: &str) {
        if self.count > 0 {
            b.warn(format!("{} {what} (first: {})", self.count, self.first));
        }
    }
}

/// The problems met, reported once each at the end.
#[derive(Default)]
struct Issues {
    bad_frame_refs: Tally,
    length_mismatch: Tally,
    bad_weights: Tally,
    overflowing_totals: Tally,
    unknown_type: Tally,
    unknown_unit: Tally,
    bad_events: Tally,
    unmatched_close: Tally,
    out_of_order_close: Tally,
    unclosed: Tally,
    backwards: Tally,
    deep_spans: Tally,
}

/// The stack of the previous sample, frame by frame, to rebuild only what differs.
#[derive(Default)]
struct StackCache {
    frames: Vec<FrameIndex>,
    stacks: Vec<StackId>,
}

/// A frame open in an evented profile.
struct Open {
    frame: u32,
    stack: StackId,
    start: i64,
}

struct Converter<'a> {
    b: &'a mut ProfileBuilder,
    progress: &'a Progress,
    frames: &'a [RawFrame],
    frame_ids: Vec<FrameId>,
    invalid_frame: Option<FrameId>,
    unknown_frame: Option<FrameId>,
    types: Vec<(Measure, usize)>,
    threads: FxHashSet<(i32, i32)>,
    cache: StackCache,
    /// Extent of the time-unit profiles, in ns.
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    /// Sum of the weights added, per sample type: every view adds them up.
    totals: Vec<i64>,
    issues: Issues,
}

impl<'a> Converter<'a> {
    fn new(b: &'a mut ProfileBuilder, progress: &'a Progress, frames: &'a [RawFrame]) -> Self {
        Self {
            b,
            progress,
            frames,
            frame_ids: vec![FrameId::NONE; frames.len()],
            invalid_frame: None,
            unknown_frame: None,
            types: Vec::new(),
            threads: FxHashSet::default(),
            cache: StackCache::default(),
            start_ns: None,
            end_ns: None,
            totals: Vec::new(),
            issues: Issues::default(),
        }
    }

    /// The model frame of shared frame `i`, added on first use (frames no sample or event
    /// uses stay out of the tables); `None` when `i` is out of range.
    fn frame(&mut self, i: FrameIndex) -> Option<FrameId> {
        let slot = self.frame_ids.get_mut(i.0 as usize)?;
        if slot.is_some() {
            return Some(*slot);
        }
        let f = &self.frames[i.0 as usize];
        let b = &mut *self.b;
        let name = match f.name.as_deref() {
            Some(n) if !n.is_empty() => b.intern(n),
            _ => b.intern("[unnamed]"),
        };
        let file = match f.file.as_deref() {
            Some(p) if !p.is_empty() => b.intern(p),
            _ => crate::model::StrId::NONE,
        };
        let line = f
            .line
            .map(|n| n.0)
            .filter(|&l| l >= 1.0 && l <= f64::from(u32::MAX))
            .map_or(0, |l| l as u32);
        let func = b.add_func(name, ModuleId::NONE, file, 0, FuncKind::Interpreted);
        *slot = b.add_frame(func, ModuleId::NONE, 0, line, 0);
        Some(*slot)
    }

    /// The `[invalid frame]` frame that stands for indices outside `shared.frames`.
    fn invalid_frame(&mut self) -> FrameId {
        *self.invalid_frame.get_or_insert_with(|| {
            self.b
                .add_named_frame("[invalid frame]", ModuleId::NONE, FuncKind::Interpreted)
        })
    }

    fn sample_type(&mut self, m: Measure) -> usize {
        if let Some(&(_, t)) = self.types.iter().find(|(k, _)| *k == m) {
            return t;
        }
        let (name, unit) = m.sample_type();
        let t = self.b.add_sample_type(name, unit);
        self.types.push((m, t));
        t
    }

    /// The thread of profile `index` named `name`.
    fn thread(&mut self, index: usize, name: &str) -> ThreadId {
        let pid = number_after(name, "Process ").unwrap_or(0);
        let mut tid = match number_after(name, "Thread ") {
            Some(t) if !self.threads.contains(&(pid, t)) => t,
            _ => i32::try_from(index).unwrap_or(i32::MAX),
        };
        while self.threads.contains(&(pid, tid)) {
            tid = tid.wrapping_add(1).max(0);
        }
        self.threads.insert((pid, tid));
        let t = self.b.add_thread(pid, tid);
        self.b.set_thread_name(t, name);
        t
    }

    /// Converts profile `i`; returns its sample type, `None` when it was skipped.
    fn profile(&mut self, i: usize, p: &RawProfile) -> Result<Option<usize>> {
        let kind = p.kind.unwrap_or(ProfileKind::Other);
        if kind == ProfileKind::Other {
            self.issues
                .unknown_type
                .note(|| format!("profile {i}, {:?}", p.name.as_deref().unwrap_or("")));
            return Ok(None);
        }
        let unit = match p.unit {
            Some(u) if u != ValueUnit::Other => u,
            _ => {
                self.issues.unknown_unit.note(|| format!("profile {i}"));
                ValueUnit::None
            }
        };
        let (factor, measure) = match unit {
            ValueUnit::Nanoseconds => (1.0, Measure::Time),
            ValueUnit::Microseconds => (1e3, Measure::Time),
            ValueUnit::Milliseconds => (1e6, Measure::Time),
            ValueUnit::Seconds => (1e9, Measure::Time),
            ValueUnit::Bytes => (1.0, Measure::Bytes),
            ValueUnit::None | ValueUnit::Other if kind == ProfileKind::Sampled => {
                (1.0, Measure::Samples)
            }
            ValueUnit::None | ValueUnit::Other => (1.0, Measure::Value),
        };
        let ty = self.sample_type(measure);
        let name = p.name.clone().unwrap_or_else(|| format!("profile {i}"));
        let thread = self.thread(i, &name);
        let start = p.start_value.and_then(|v| scaled(v, factor));
        let end = p.end_value.and_then(|v| scaled(v, factor));
        let timed = measure == Measure::Time;
        if timed {
            if let Some(s) = start {
                self.start_ns = Some(self.start_ns.map_or(s, |x| x.min(s)));
            }
            if let Some(e) = end {
                self.end_ns = Some(self.end_ns.map_or(e, |x| x.max(e)));
            }
        }
        let cx = ProfileCx {
            index: i,
            thread,
            ty,
            factor,
            timed,
            start: start.unwrap_or(0),
            end,
        };
        match kind {
            ProfileKind::Sampled => self.sampled(&cx, p)?,
            _ => self.evented(&cx, p)?,
        }
        Ok(Some(ty))
    }

    fn sampled(&mut self, cx: &ProfileCx, p: &RawProfile) -> Result<()> {
        let samples = p.samples.as_deref().unwrap_or_default();
        let weights = p.weights.as_deref().unwrap_or_default();
        if samples.len() != weights.len() {
            let i = cx.index;
            self.issues.length_mismatch.note(|| {
                format!(
                    "profile {i}: {} samples, {} weights",
                    samples.len(),
                    weights.len()
                )
            });
        }
        let mut t = cx.start;
        for (k, (stack, &w)) in samples.iter().zip(weights).enumerate() {
            if k % CHECK_EVERY == 0 {
                self.progress.check()?;
            }
            let Some(w) = scaled(w, cx.factor) else {
                let i = cx.index;
                self.issues
                    .bad_weights
                    .note(|| format!("profile {i}, sample {k}: {}", w.0));
                continue;
            };
            let s = self.stack_of(cx.index, k, stack);
            let time = if cx.timed { time_ns(t) } else { 0 };
            self.add_sample(cx, s, time, Some(w), || format!("sample {k}"));
            t = t.saturating_add(w);
        }
        Ok(())
    }

    /// The stack of a sample (root first), built from the previous sample's common prefix.
    fn stack_of(&mut self, profile: usize, sample: usize, stack: &[FrameIndex]) -> StackId {
        if stack.is_empty() {
            let f = *self.unknown_frame.get_or_insert_with(|| {
                self.b
                    .add_named_frame("[unknown]", ModuleId::NONE, FuncKind::Interpreted)
            });
            return self.b.add_stack(StackId::NONE, f);
        }
        let n = self.frame_ids.len();
        if let Some(bad) = stack.iter().find(|f| f.0 as usize >= n) {
            self.issues.bad_frame_refs.note(|| {
                let shown = if *bad == FrameIndex::BAD {
                    "not an index".to_string()
                } else {
                    bad.0.to_string()
                };
                format!("profile {profile}, sample {sample}: frame index {shown}, {n} frames")
            });
        }
        let mut cache = std::mem::take(&mut self.cache);
        let common = cache
            .frames
            .iter()
            .zip(stack)
            .take_while(|(a, b)| a == b)
            .count();
        cache.frames.truncate(common);
        cache.stacks.truncate(common);
        let mut s = cache.stacks.last().copied().unwrap_or(StackId::NONE);
        for &fi in &stack[common..] {
            let f = match self.frame(fi) {
                Some(f) => f,
                None => self.invalid_frame(),
            };
            s = self.b.add_stack(s, f);
            cache.frames.push(fi);
            cache.stacks.push(s);
        }
        self.cache = cache;
        s
    }

    fn evented(&mut self, cx: &ProfileCx, p: &RawProfile) -> Result<()> {
        let events = p.events.as_deref().unwrap_or_default();
        let n = self.frame_ids.len();
        let i = cx.index;
        let frames = self.frames;
        let mut open: Vec<Open> = Vec::new();
        // Open frames per frame index: tells in O(1) whether a close event matches anything.
        let mut open_count = vec![0u32; n];
        let mut last: Option<i64> = None;
        for (k, ev) in events.iter().enumerate() {
            if k % CHECK_EVERY == 0 {
                self.progress.check()?;
            }
            let Some(mut at) = scaled(ev.at, cx.factor) else {
                self.issues
                    .bad_events
                    .note(|| format!("profile {i}, event {k}: time {}", ev.at.0));
                continue;
            };
            if ev.kind == EventKind::Other {
                self.issues
                    .bad_events
                    .note(|| format!("profile {i}, event {k}: type not \"O\" or \"C\""));
                continue;
            }
            let f = ev.frame.0;
            if f as usize >= n {
                self.issues.bad_frame_refs.note(|| {
                    format!(
                        "profile {i}, event {k}: frame index {}, {n} frames",
                        ev.frame.0
                    )
                });
                continue;
            }
            if let Some(l) = last {
                if at < l {
                    self.issues
                        .backwards
                        .note(|| format!("profile {i}, event {k}: {} after {}", ev.at.0, l));
                    at = l;
                }
                if let Some(top) = open.last()
                    && at > l
                {
                    let time = if cx.timed { time_ns(l) } else { 0 };
                    let stack = top.stack;
                    self.add_sample(cx, stack, time, at.checked_sub(l), || format!("event {k}"));
                }
            }
            last = Some(at);
            match ev.kind {
                EventKind::Open => {
                    let parent = open.last().map_or(StackId::NONE, |o| o.stack);
                    let Some(frame) = self.frame(ev.frame) else {
                        continue; // checked above
                    };
                    let stack = self.b.add_stack(parent, frame);
                    open.push(Open {
                        frame: f,
                        stack,
                        start: at,
                    });
                    open_count[f as usize] += 1;
                }
                EventKind::Close => {
                    if open_count[f as usize] == 0 {
                        self.issues.unmatched_close.note(|| {
                            format!("profile {i}, event {k}: {:?}", frame_name(frames, f))
                        });
                        continue;
                    }
                    // Pops up to the most recent open of `f`: the frames above it (which
                    // speedscope would refuse) close with it. Each pop is paid for by its
                    // open, so this stays linear.
                    while let Some(o) = open.pop() {
                        open_count[o.frame as usize] -= 1;
                        let matched = o.frame == f;
                        if !matched {
                            self.issues.out_of_order_close.note(|| {
                                format!(
                                    "profile {i}, event {k}: {:?} closed while {:?} was open",
                                    frame_name(frames, f),
                                    frame_name(frames, o.frame)
                                )
                            });
                        }
                        self.span(cx, open.len(), &o, at);
                        if matched {
                            break;
                        }
                    }
                }
                EventKind::Other => {}
            }
        }
        if !open.is_empty() {
            let last = last.unwrap_or(cx.start);
            let end = cx.end.filter(|&e| e > last).unwrap_or(last);
            if let Some(top) = open.last()
                && end > last
            {
                let time = if cx.timed { time_ns(last) } else { 0 };
                let stack = top.stack;
                self.add_sample(cx, stack, time, end.checked_sub(last), || {
                    "the end".to_string()
                });
            }
            let unclosed = open.len();
            self.issues
                .unclosed
                .note(|| format!("profile {i}: {unclosed} frame(s)"));
            while let Some(o) = open.pop() {
                self.span(cx, open.len(), &o, end);
            }
        }
        Ok(())
    }

    /// Adds a sample of weight `w` unless it (`None`: a difference of times that overflowed)
    /// would make its sample type's total overflow; `at` names the sample for the warning.
    fn add_sample(
        &mut self,
        cx: &ProfileCx,
        stack: StackId,
        time: u64,
        w: Option<i64>,
        at: impl FnOnce() -> String,
    ) {
        if self.totals.len() <= cx.ty {
            self.totals.resize(cx.ty + 1, 0);
        }
        match w.and_then(|w| Some((w, self.totals[cx.ty].checked_add(w)?))) {
            Some((w, total)) => {
                self.totals[cx.ty] = total;
                self.b.add_sample_one(cx.thread, stack, time, cx.ty, w);
            }
            None => {
                let i = cx.index;
                (self.issues.overflowing_totals).note(|| format!("profile {i}, {}", at()));
            }
        }
    }

    /// The span of frame `o`, closed at `end`, at nesting `depth` (time units only).
    fn span(&mut self, cx: &ProfileCx, depth: usize, o: &Open, end: i64) {
        if !cx.timed {
            return;
        }
        let Ok(depth) = u16::try_from(depth) else {
            let i = cx.index;
            self.issues
                .deep_spans
                .note(|| format!("profile {i}, depth {depth}"));
            return;
        };
        let name = frame_name(self.frames, o.frame);
        self.b
            .add_span(cx.thread, depth, time_ns(o.start), time_ns(end), name);
    }

    /// Sets the profile's extent and reports the problems met.
    fn finish(self) {
        let b = self.b;
        if let (Some(s), Some(e)) = (self.start_ns, self.end_ns) {
            b.meta.start_ns = Some(time_ns(s));
            b.meta.end_ns = Some(time_ns(e.max(s)));
        }
        let is = &self.issues;
        is.bad_frame_refs.warn(
            b,
            "reference(s) to frames missing from shared.frames, shown as [invalid frame] (or \
             skipped, for events)",
        );
        is.length_mismatch.warn(
            b,
            "sampled profile(s) with different numbers of samples and weights: the extra \
             ones were skipped",
        );
        is.bad_weights.warn(
            b,
            "sample(s) with a weight that is not a usable number, skipped",
        );
        is.overflowing_totals.warn(
            b,
            "sample(s) whose weight would make the total of their sample type overflow a \
             64-bit integer, skipped",
        );
        is.unknown_type.warn(
            b,
            "profile(s) of a type other than \"sampled\" or \"evented\", skipped",
        );
        is.unknown_unit
            .warn(b, "profile(s) without a known unit, read as unit \"none\"");
        is.bad_events
            .warn(b, "event(s) without a usable type or time, skipped");
        is.unmatched_close
            .warn(b, "close event(s) of a frame that was not open, ignored");
        is.out_of_order_close.warn(
            b,
            "frame(s) still open above a closed frame, closed with it",
        );
        is.unclosed.warn(
            b,
            "evented profile(s) ending with open frames, closed at endValue",
        );
        is.backwards.warn(
            b,
            "event(s) going back in time, taken at the previous event's time",
        );
        is.deep_spans.warn(
            b,
            "span(s) nested deeper than 65535 levels, left out of the timeline",
        );
    }
}

/// The name of frame `f` as the model shows it.
fn frame_name(frames: &[RawFrame], f: u32) -> &str {
    match frames.get(f as usize).and_then(|f| f.name.as_deref()) {
        Some(n) if !n.is_empty() => n,
        _ => "[unnamed]",
    }
}

/// Per-profile facts the sample loops need.
struct ProfileCx {
    index: usize,
    thread: ThreadId,
    ty: usize,
    /// Multiplier from the file's unit to the sample type's.
    factor: f64,
    /// The unit is time: samples get times and evented profiles get spans.
    timed: bool,
    start: i64,
    end: Option<i64>,
}

/// The id after `key` in a profile name (`Thread 4242 "x"` → 4242), decimal or `0x` hex, when
/// `key` starts the name or follows a space, and the id fits an `i32`.
fn number_after(name: &str, key: &str) -> Option<i32> {
    let (at, _) = name
        .match_indices(key)
        .find(|&(i, _)| i == 0 || name[..i].ends_with(' '))?;
    let token = name[at + key.len()..]
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | ':' | ',' | ')' | ']'))
        .next()?;
    let v = match token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => token.parse::<i64>().ok()?,
    };
    i32::try_from(v).ok().filter(|&v| v >= 0)
}
