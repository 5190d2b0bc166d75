//! pprof profiles (`profile.proto`, usually gzipped: `.pb.gz`), as written by Go's
//! `runtime/pprof`, `net/http/pprof`, pprof-rs, async-profiler, Cloud Profiler and `go tool pprof
//! -proto`. Gzip is unwrapped by [`super::compression`] before this module sees the bytes.
//!
//! The message has no magic number: [`sniff`] walks the top-level fields and accepts the bytes
//! only if every field is one of `Profile`'s with its wire type and the last one ends exactly at
//! the end. Prost decodes everything but the samples (lengths are checked against the bytes that
//! remain, so nothing is allocated beyond what the input holds); the samples, most of a big
//! profile, are decoded one at a time by hand into reused buffers and go straight into the
//! builder.
//!
//! Mapping to the model:
//! - every `sample_type` is a sample type, named by its type (`cpu`, `alloc_space`), its unit
//!   mapped: time units become nanoseconds (values scaled), `bytes` bytes, `count` counts,
//!   anything else events. Each sample carries a value of every type (the per-type layout).
//!   `default_sample_type` is honoured; without it, the last type, as pprof does.
//! - `mapping` → modules (file, build-id, address range);
//! - `location` → frames: one per `line`, outermost first (the last `line` is the function the
//!   others were inlined into) with the inline depth; a location without lines becomes an
//!   address frame symbolized like perf's, from the mapping's file if it is on this machine;
//! - `function` → functions (name, or the system name when the name is empty; file; start line);
//! - `label`s of a sample → a label set: string and numeric (with unit) labels, filterable;
//! - the profile has no threads and no per-sample times: one thread `all`, samples at time 0;
//!   `time_nanos`, `duration_nanos`, `period`, `comment`s go into the profile info.
//!
//! Dangling ids (a sample naming a location that does not exist, a line naming no function) are
//! not errors: the frame becomes `[unknown location N]` and one warning counts them, as pprof
//! itself would refuse to open such a file but losing the rest of the profile helps nobody.

pub(crate) mod proto;

use crate::model::{FrameId, FuncKind, ModuleId, ModuleKind, ProfileBuilder, StrId, Unit};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use prost::Message;
use rustc_hash::FxHashMap;

const FORMAT: &str = "pprof";
/// Frames all samples' stacks may expand to, at least: a location's `line`s are stored once and
/// named by id, so a few kilobytes (a location of 10 000 lines, named 10 000 times by a sample)
/// would expand to 10^8 stack nodes. Beyond [`frame_budget`], stacks are cut (with a warning).
const MIN_FRAME_BUDGET: u64 = 1 << 22;
/// Largest sample value taken as is, either sign (2^48 ns is 78 hours, 2^48 bytes 256 TiB in
/// one sample); damaged values are clamped to it so that sums cannot overflow, as the perf.data
/// reader clamps periods.
const MAX_VALUE: i64 = 1 << 48;
/// … and per byte of input (real profiles expand to a few frames per byte).
const FRAMES_PER_BYTE: u64 = 8;

/// The most frames the samples of a `len`-byte profile may expand to.
fn frame_budget(len: usize) -> u64 {
    (len as u64)
        .saturating_mul(FRAMES_PER_BYTE)
        .max(MIN_FRAME_BUDGET)
}

/// Reads a protobuf varint at `pos`: (value, bytes read).
fn varint(data: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *data.get(pos + i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// One top-level field of a `Profile` message: its number, and the byte range of its body
/// (after the length, for a length-delimited field) and of the whole field (tag included).
#[derive(Clone, Copy)]
struct Field {
    number: u64,
    body: usize,
    start: usize,
    end: usize,
}

/// The top-level fields of a `Profile` message in file order; after the first thing that does
/// not fit, its byte offset and a description of what was expected, then nothing.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Iterator for Fields<'_> {
    type Item = std::result::Result<Field, (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.data;
        if self.pos >= data.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.pos = data.len();
        }
        Some(field)
    }
}

impl Fields<'_> {
    fn field(&mut self) -> std::result::Result<Field, (usize, String)> {
        let data = self.data;
        let start = self.pos;
        let (tag, _) =
            varint(data, start).ok_or_else(|| (start, "a field tag (varint)".to_string()))?;
        let number = tag >> 3;
        let wire = tag & 7;
        let ok = match number {
            1..=6 | 11 | 16 => wire == 2,
            7..=10 | 12 | 14 => wire == 0,
            13 | 15 => wire == 0 || wire == 2,
            _ => false,
        };
        if !ok {
            return Err((
                start,
                format!("a profile.proto field (got field {number}, wire type {wire})"),
            ));
        }
        let (_, _, _, body, end) = read_field(data, start, data.len())?;
        self.pos = end;
        Ok(Field {
            number,
            body,
            start,
            end,
        })
    }
}

fn fields(data: &[u8]) -> Fields<'_> {
    Fields { data, pos: 0 }
}

/// Does `data` look like an (unzipped) pprof profile: a non-empty run of `Profile` fields, each
/// with the right wire type, ending exactly at the end, with a string table.
pub fn sniff(data: &[u8]) -> bool {
    // Field 1 (sample_type) or 2 (sample) usually comes first; any Profile field may.
    fields(data).next().is_some()
        && fields(data).all(|f| f.is_ok())
        && data.first().is_some_and(|&b| b & 7 <= 2)
}

/// The unit of a pprof unit string, and the factor that converts its values.
fn unit_of(unit: &str) -> (Unit, i64) {
    match unit {
        "nanoseconds" | "nanosecond" | "ns" => (Unit::Nanoseconds, 1),
        "microseconds" | "microsecond" | "us" => (Unit::Nanoseconds, 1_000),
        "milliseconds" | "millisecond" | "ms" => (Unit::Nanoseconds, 1_000_000),
        "seconds" | "second" | "s" => (Unit::Nanoseconds, 1_000_000_000),
        "bytes" | "byte" | "B" => (Unit::Bytes, 1),
        "kilobytes" | "KB" => (Unit::Bytes, 1 << 10),
        "megabytes" | "MB" => (Unit::Bytes, 1 << 20),
        "count" | "samples" | "objects" | "" => (Unit::Count, 1),
        _ => (Unit::Events, 1),
    }
}

/// `ns` since 1970 as `YYYY-MM-DD HH:MM:SS UTC` (civil date from day count, proleptic
/// Gregorian calendar).
fn utc_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 → (year, month, day), after Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A byte offset and what was expected there.
type At = (usize, String);

/// One `Sample` message, decoded by hand into buffers that are reused from sample to sample:
/// prost would allocate three vectors for each of the millions of samples a big profile holds
/// (2 M samples took 1.1 GB before import began).
#[derive(Default)]
struct RawSample {
    /// Location ids, leaf first.
    locations: Vec<u64>,
    values: Vec<i64>,
    labels: Vec<proto::Label>,
}

/// The field at `pos` of a message ending at `end`: (number, wire type, value, body, next),
/// `value` being a varint's value or a length-delimited field's length, `body` where the
/// field's bytes start and `next` where the next field does.
fn read_field(
    data: &[u8],
    pos: usize,
    end: usize,
) -> std::result::Result<(u64, u64, u64, usize, usize), At> {
    let data = &data[..end];
    let (tag, n) = varint(data, pos).ok_or_else(|| (pos, "a field tag (varint)".to_string()))?;
    let (number, wire) = (tag >> 3, tag & 7);
    let at = pos + n;
    let (value, body, next) = match wire {
        0 => {
            let (v, m) = varint(data, at).ok_or_else(|| (at, "a varint".to_string()))?;
            (v, at, at + m)
        }
        1 | 5 => {
            let size = if wire == 1 { 8 } else { 4 };
            let next = at + size;
            if next > end {
                return Err((at, format!("{size} bytes of a fixed-size field")));
            }
            (0, at, next)
        }
        2 => {
            let (len, m) = varint(data, at).ok_or_else(|| (at, "a length".to_string()))?;
            let next = usize::try_from(len)
                .ok()
                .and_then(|len| (at + m).checked_add(len))
                .filter(|&e| e <= end)
                .ok_or_else(|| {
                    (
                        at,
                        format!(
                            "a field of {len} bytes within the {} bytes that remain",
                            end - at - m
                        ),
                    )
                })?;
            (len, at + m, next)
        }
        _ => return Err((pos, format!("a wire type of 0, 1, 2 or 5 (got {wire})"))),
    };
    Ok((number, wire, value, body, next))
}

/// Calls `each(number, wire, value, body)` on every field of the message in `data[start..end]`
/// (see [`read_field`]).
fn message_fields(
    data: &[u8],
    start: usize,
    end: usize,
    mut each: impl FnMut(u64, u64, u64, usize) -> std::result::Result<(), At>,
) -> std::result::Result<(), At> {
    let mut pos = start;
    while pos < end {
        let (number, wire, value, body, next) = read_field(data, pos, end)?;
        each(number, wire, value, body)?;
        pos = next;
    }
    Ok(())
}

/// The varints packed in `data[start..end]`, each passed to `each`.
fn packed(
    data: &[u8],
    start: usize,
    end: usize,
    mut each: impl FnMut(u64),
) -> std::result::Result<(), At> {
    let data = &data[..end];
    let mut pos = start;
    while pos < end {
        let (v, n) = varint(data, pos).ok_or_else(|| (pos, "a packed varint".to_string()))?;
        each(v);
        pos += n;
    }
    Ok(())
}

impl RawSample {
    /// Decodes the `Sample` message in `data[start..end]`. Unknown fields are skipped, as prost
    /// and pprof skip them; repeated numbers may be packed or not.
    fn decode(&mut self, data: &[u8], start: usize, end: usize) -> std::result::Result<(), At> {
        self.locations.clear();
        self.values.clear();
        self.labels.clear();
        message_fields(data, start, end, |number, wire, value, body| {
            match (number, wire) {
                (1, 0) => self.locations.push(value),
                (1, 2) => packed(data, body, body + value as usize, |v| {
                    self.locations.push(v)
                })?,
                (2, 0) => self.values.push(value as i64),
                (2, 2) => packed(data, body, body + value as usize, |v| {
                    self.values.push(v as i64)
                })?,
                (3, 2) => {
                    let mut l = proto::Label::default();
                    message_fields(data, body, body + value as usize, |n, w, v, _| {
                        match (n, w) {
                            (1, 0) => l.key = v as i64,
                            (2, 0) => l.str = v as i64,
                            (3, 0) => l.num = v as i64,
                            (4, 0) => l.num_unit = v as i64,
                            _ => {}
                        }
                        Ok(())
                    })?;
                    self.labels.push(l);
                }
                (1..=3, _) => {
                    return Err((
                        body,
                        format!("field {number} of a Sample with its wire type (got {wire})"),
                    ));
                }
                _ => {}
            }
            Ok(())
        })
    }
}

fn at_error((offset, expected): At) -> Error {
    Error::at(FORMAT, offset as u64, expected)
}

/// Parses an unzipped pprof profile into `b`.
///
/// Everything but the samples is decoded by prost, from a copy of those fields (a few percent
/// of a big profile); the samples are then decoded one at a time, straight from `data`.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    progress.start_phase(Phase::Reading, data.len() as u64);
    let mut head = Vec::new();
    for f in fields(data) {
        let f = f.map_err(at_error)?;
        if f.number != 2 {
            head.extend_from_slice(&data[f.start..f.end]);
        }
    }
    let p = proto::Profile::decode(head.as_slice()).map_err(|e| {
        Error::at(
            FORMAT,
            0,
            format!("a valid profile.proto message (prost: {e})"),
        )
    })?;
    drop(head);
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }
    import(&p, data, b, progress, frame_budget(data.len()))?;
    progress.set_done(data.len() as u64);
    Ok(())
}

/// Fills `b` from a decoded profile (all but its samples) and the samples of `data`; stacks
/// expand to at most `frame_budget` frames in all.
fn import(
    p: &proto::Profile,
    data: &[u8],
    b: &mut ProfileBuilder,
    progress: &Progress,
    mut frame_budget: u64,
) -> Result<()> {
    let strings = &p.string_table;
    let mut bad_strings = 0u64;
    let mut s = |i: i64| -> &str {
        match usize::try_from(i).ok().and_then(|i| strings.get(i)) {
            Some(s) => s,
            None => {
                bad_strings += 1;
                ""
            }
        }
    };

    // Sample types.
    let mut scale = Vec::with_capacity(p.sample_type.len());
    for vt in &p.sample_type {
        let (unit, factor) = unit_of(s(vt.unit));
        let mut name = s(vt.ty).to_owned();
        if name.is_empty() {
            name = format!("type {}", scale.len());
        }
        b.add_sample_type(&name, unit);
        scale.push(factor);
    }
    if scale.is_empty() {
        return Err(Error::at(FORMAT, 0, "at least one sample_type"));
    }
    let default = if p.default_sample_type != 0 {
        let want = s(p.default_sample_type);
        p.sample_type.iter().position(|vt| s(vt.ty) == want)
    } else {
        None
    };
    b.meta.default_sample_type = Some(default.unwrap_or(scale.len() - 1));

    // Facts for the info panel.
    if p.time_nanos > 0 {
        b.meta
            .info
            .push(("recorded".into(), utc_time(p.time_nanos)));
    }
    if p.duration_nanos > 0 {
        let ms = p.duration_nanos as f64 / 1e6;
        b.meta.info.push(("duration".into(), format!("{ms:.1} ms")));
    }
    if p.period != 0 {
        let (ty, unit) = p
            .period_type
            .as_ref()
            .map_or(("", ""), |vt| (s(vt.ty), s(vt.unit)));
        b.meta
            .info
            .push(("period".into(), format!("{} {unit} ({ty})", p.period)));
    }
    for &c in &p.comment {
        let c = s(c).to_owned();
        b.meta.info.push(("comment".into(), c));
    }
    if p.drop_frames != 0 || p.keep_frames != 0 {
        let (d, k) = (s(p.drop_frames).to_owned(), s(p.keep_frames).to_owned());
        b.warn(format!(
            "pprof: the profile asks to drop frames matching {d:?} (keep {k:?}); stacklens \
             shows them"
        ));
    }

    // Mappings → modules.
    let mut modules: FxHashMap<u64, (ModuleId, u64, u64)> = FxHashMap::default();
    for m in &p.mapping {
        let path = s(m.filename);
        if path.is_empty() && m.memory_limit == 0 {
            continue;
        }
        let path = if path.is_empty() { "[unknown]" } else { path };
        let kind = if path.starts_with("[kernel") {
            ModuleKind::Kernel
        } else if path == "[vdso]" {
            ModuleKind::Vdso
        } else if path.starts_with('[') {
            ModuleKind::Unknown
        } else {
            ModuleKind::Native
        };
        let build_id = s(m.build_id).to_owned();
        let id = b.add_module(path, &build_id, kind);
        b.set_module_range(id, m.memory_start, m.memory_limit, m.file_offset);
        modules.insert(m.id, (id, m.memory_start, m.file_offset));
    }

    // Functions.
    let mut funcs: FxHashMap<u64, (StrId, StrId, u32)> = FxHashMap::default();
    for f in &p.function {
        let mut name = s(f.name);
        if name.is_empty() {
            name = s(f.system_name);
        }
        let name = b.intern(name);
        let file = s(f.filename);
        let file = if file.is_empty() {
            StrId::NONE
        } else {
            b.intern(file)
        };
        let line = u32::try_from(f.start_line).unwrap_or(0);
        funcs.insert(f.id, (name, file, line));
    }

    // Locations → frames, outermost first.
    let mut locations: FxHashMap<u64, Vec<FrameId>> = FxHashMap::default();
    let mut missing_funcs = 0u64;
    for loc in &p.location {
        let module = modules.get(&loc.mapping_id).copied();
        let module_id = module.map_or(ModuleId::NONE, |m| m.0);
        let rel = module.map_or(loc.address, |(_, start, off)| {
            loc.address.wrapping_sub(start).wrapping_add(off)
        });
        let kind = match module_id.get().map(|m| b.modules.kind[m.index()]) {
            Some(ModuleKind::Kernel) => FuncKind::Kernel,
            _ => FuncKind::Native,
        };
        let mut frames = Vec::with_capacity(loc.line.len().max(1));
        for (i, line) in loc.line.iter().rev().enumerate() {
            let Some(&(name, file, start_line)) = funcs.get(&line.function_id) else {
                missing_funcs += 1;
                continue;
            };
            let func = b.add_func(name, module_id, file, 0, kind);
            if start_line != 0 {
                b.funcs.start_line[func.index()] = start_line;
            }
            let inline_depth = u16::try_from(i).unwrap_or(u16::MAX);
            let line_no = u32::try_from(line.line).unwrap_or(0);
            frames.push(b.add_frame(func, module_id, rel, line_no, inline_depth));
        }
        if frames.is_empty() {
            frames.push(if module_id.is_some() {
                b.add_address_frame(module_id, rel)
            } else {
                let name = format!("{:#x}", loc.address);
                b.add_named_frame(&name, ModuleId::NONE, FuncKind::Unresolved)
            });
        }
        locations.insert(loc.id, frames);
    }

    // Samples.
    let thread = b.add_thread(0, 0);
    b.set_thread_name(thread, "all");
    let mut missing_locations = 0u64;
    let mut huge_values = 0u64;
    let mut cut_stacks = 0u64;
    let mut weights = vec![0i64; scale.len()];
    let mut labels = Vec::new();
    let s_ok = |i: i64| usize::try_from(i).ok().and_then(|i| strings.get(i));
    let mut sample = RawSample::default();
    // Every kept sample's frames, root first, one after the other; the stacks are made from
    // all of them at once below (see `ProfileBuilder::add_paths`).
    let mut path_frames: Vec<FrameId> = Vec::new();
    let mut path_ends: Vec<usize> = Vec::new();
    let first_row = b.thread_sample_count(thread);
    let mut n = 0usize;
    for f in fields(data) {
        let f = f.map_err(at_error)?;
        if f.number != 2 {
            continue;
        }
        if n.is_multiple_of(65536) {
            progress.set_done(f.start as u64);
            progress.check()?; // cancelled, or past the memory budget
        }
        n += 1;
        sample.decode(data, f.body, f.end).map_err(at_error)?;
        let path_start = path_frames.len();
        for id in sample.locations.iter().rev() {
            let frames = locations.get(id);
            let n_frames = frames.map_or(1, Vec::len) as u64;
            if n_frames > frame_budget {
                // Keep the root part: the sample's weight stays in the profile.
                cut_stacks += 1;
                break;
            }
            frame_budget -= n_frames;
            let need = n_frames as usize;
            if path_frames.capacity() - path_frames.len() < need {
                let cap = (path_frames.capacity() * 2).max(path_frames.len() + need);
                if !b.memory_gate().admit(4 * cap as u64) {
                    break; // the load is over: its next progress check fails
                }
            }
            match frames {
                Some(frames) => path_frames.extend_from_slice(frames),
                None => {
                    missing_locations += 1;
                    path_frames.push(b.add_named_frame(
                        &format!("[unknown location {id}]"),
                        ModuleId::NONE,
                        FuncKind::Unresolved,
                    ));
                }
            }
        }
        for (i, w) in weights.iter_mut().enumerate() {
            *w = sample
                .values
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_mul(scale[i]);
            if w.abs() > MAX_VALUE {
                *w = (*w).clamp(-MAX_VALUE, MAX_VALUE);
                huge_values += 1;
            }
        }
        labels.clear();
        for l in &sample.labels {
            let Some(key) = s_ok(l.key).filter(|k| !k.is_empty()) else {
                continue;
            };
            let id = if l.str != 0 {
                let v = s_ok(l.str).map_or("", String::as_str);
                b.add_str_label(key, v)
            } else {
                let unit = s_ok(l.num_unit).map_or("", String::as_str);
                b.add_num_label(key, l.num, unit)
            };
            labels.push(id);
        }
        let set = b.add_label_set(&mut labels);
        if b.add_sample_labeled(thread, crate::model::StackId::NONE, 0, &weights, set) {
            path_ends.push(path_frames.len());
        } else {
            path_frames.truncate(path_start);
        }
    }
    let stacks = b.add_paths(&path_frames, &path_ends);
    b.set_sample_stacks(thread, first_row, &stacks);
    if missing_locations > 0 {
        b.warn(format!(
            "pprof: {missing_locations} stack entries name a location the file does not define"
        ));
    }
    if huge_values > 0 {
        b.warn(format!(
            "pprof: {huge_values} sample values were beyond ±2^48 and were clamped to it"
        ));
    }
    if cut_stacks > 0 {
        b.warn(format!(
            "pprof: the stacks expand to more frames than a file of this size can hold \
             (locations with many lines named many times); {cut_stacks} stacks were cut short"
        ));
    }
    if missing_funcs > 0 {
        b.warn(format!(
            "pprof: {missing_funcs} location lines name a function the file does not define"
        ));
    }
    if bad_strings > 0 {
        b.warn(format!(
            "pprof: {bad_strings} string indexes point past the string table"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
