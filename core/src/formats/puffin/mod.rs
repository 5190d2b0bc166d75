//! puffin captures (`.puffin`): what puffin 0.19+'s `FrameView::write` saves (puffin_viewer's
//! "Save", stacklens' own View ▸ Frame cost ▸ Save): instrumentation scopes of a frame-based
//! program, per frame and thread. Read by hand here, every length checked against the bytes
//! that remain (puffin's own `FrameData::read_next` allocates whatever a length field says).
//!
//! ## File
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `PUF0` |
//! | … | frames, each as below, until the end of the file or 4 zero bytes |
//!
//! A frame (`FrameData::write_into`, header `PFD4`; integers little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | `PFD4` |
//! | 4 | `u32` length of the meta, then the meta: bincode `FrameMeta` |
//! | 4 | `u32` length of the packed streams |
//! | 1 | compression: 0 none, 1 lz4 (`u32` LE size + one LZ4 block), 2 zstd (a zstd frame) |
//! | n | packed streams: once unpacked, bincode `BTreeMap<ThreadInfo, StreamInfo>` |
//! | 4 | `u32` length of the scope details, then bincode `Vec<ScopeDetails>` |
//!
//! bincode is puffin's `bincode::options()`: integers other than `u8` as varints (below 251 one
//! byte; else a byte 251/252/253 then a `u16`/`u32`/`u64`), signed ones zigzag-encoded first;
//! lengths and `usize` likewise; `Option` a 0/1 byte then the value; strings a length then UTF-8.
//!
//! - `FrameMeta`: frame index `u64`, range `(i64, i64)` ns, unpacked bytes `usize`, scopes `usize`.
//! - `ThreadInfo`: start time `Option<i64>`, name `String`; `StreamInfo`: stream `Vec<u8>`,
//!   scope count `usize`, depth `usize`, range `(i64, i64)`.
//! - `ScopeDetails`: scope id `Option<u32>`, scope name `Option<String>`, function name,
//!   file path (both `String`), line `u32`. A frame carries the scopes first seen in it.
//!
//! A thread's stream is its scopes, depth-first, each `(` · scope id `u32` · start ns `i64` ·
//! data (a `u8` length, then UTF-8, e.g. a file name being loaded) · `u64` byte size of the
//! children · the children · `)` · stop ns `i64`. Times are ns since the Unix epoch.
//!
//! Older frame headers (`PFD0`–`PFD3`, puffin before 0.19, whose streams carried names
//! inline) are refused with a message saying so.
//!
//! ## Mapping
//!
//! - Each puffin thread (name + start time, as puffin keys them) → a thread: pid 0 (puffin does
//!   not record the process), tid 1, 2, … in order of first appearance, puffin's name.
//! - Each scope → a span on its thread (`add_span`, depth = nesting level, saturating at
//!   65 535), named by the scope's name, with its data in parentheses when it has any.
//! - Each scope → one sample of type `wall time` (ns) whose weight is its **self** time
//!   (duration minus its direct children's durations, 0 if the children overlap it) at the stack
//!   of scope names, outermost first, timed at the scope's start; a scope without self time
//!   adds no sample (its stack is still there for its children). So the call tree's total is
//!   the sum of the top-level scopes' durations, and a scope's total is its duration.
//!   Function = scope name (puffin's `ScopeDetails::name`: the scope name, or the function
//!   name for `profile_function!`), file = puffin's file path, line on the frame,
//!   `FuncKind::Instrumented`. A scope id without details (its frame dropped from the capture)
//!   becomes `scope #ID`, with a warning.
//! - Frames → spans `frame N` (puffin's frame range: first scope start to last scope end) on an
//!   extra thread `frames`, pid 0, tid one past puffin's threads (so it sorts last), so that a
//!   timeline can show the frame boundaries; it has no samples, so the call tree ignores it.
//!   `meta.info` gets the frame and scope counts and the compressions seen. (Frames as only a
//!   count would lose where they are; frames as an outer call-tree level would split every
//!   scope's self time by frame.)
//! - Damage: a cut or malformed frame ends the reading with a warning (the frames before it
//!   are kept; an error when there are none); a frame whose payload does not unpack is skipped
//!   with a warning; a malformed thread stream keeps the scopes that closed before the damage.
//!   Unpacked bytes are capped (all frames together) at the decompression limit.
//!
//! Nesting is walked with an explicit stack of open scopes, never by recursion.

mod lz4;
#[cfg(test)]
mod tests;

use crate::formats::bytes::Cursor;
use crate::formats::compression;
use crate::model::{FrameId, FuncKind, ModuleId, ProfileBuilder, StackId, StrId, ThreadId, Unit};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::io::Read;

const FORMAT: &str = "puffin";
const MAGIC: &[u8; 4] = b"PUF0";
/// The one frame header puffin 0.19+ writes.
const FRAME_MAGIC: &[u8; 4] = b"PFD4";
/// Scopes walked between two cancellation checks.
const CHECK_EVERY: u64 = 1 << 16;

/// Does `data` start like a `.puffin` file.
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// Parses a `.puffin` capture into `b`, unpacking at most the default decompression limit
/// (`max(256 MiB, 64 × file size)`).
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    parse_with_limit(data, b, progress, compression::default_limit(data.len()))
}

/// Parses a `.puffin` capture into `b`, unpacking at most `limit` bytes of thread streams in
/// all.
pub fn parse_with_limit(
    data: &[u8],
    b: &mut ProfileBuilder,
    progress: &Progress,
    limit: u64,
) -> Result<()> {
    if !sniff(data) {
        return Err(Error::at(FORMAT, 0, "the .puffin magic `PUF0`"));
    }
    progress.start_phase(Phase::Reading, data.len() as u64);

    // Pass 1: the framing, and every frame's scope details (a scope may be used in a frame
    // before the one that carries its details).
    let (frames, framing_error) = read_framing(data);
    if frames.is_empty() {
        return match framing_error {
            Some(e) => Err(e),
            None => {
                b.add_sample_type("wall time", Unit::Nanoseconds);
                b.warn("the capture holds no frames");
                Ok(())
            }
        };
    }
    let mut r = Reader::new(b, limit);
    for f in &frames {
        if let Err(e) = r.add_scope_details(f) {
            r.damaged_details += 1;
            r.first_details_error.get_or_insert(e);
        }
    }

    // Pass 2: the thread streams, frame by frame.
    let mut first_payload_error: Option<Error> = None;
    let mut skipped = 0usize;
    let mut loaded = 0usize;
    let mut last_index: Option<u64> = None;
    let mut backwards = 0usize;
    for f in &frames {
        progress.check()?;
        progress.set_done(f.start as u64);
        match r.add_frame(f, progress) {
            Ok(()) => {
                loaded += 1;
                if last_index.is_some_and(|l| f.meta.frame_index <= l) {
                    backwards += 1;
                }
                last_index = Some(f.meta.frame_index);
            }
            Err(e @ Error::Cancelled) => return Err(e),
            Err(e) => {
                skipped += 1;
                first_payload_error.get_or_insert(e);
            }
        }
    }
    progress.set_done(data.len() as u64);
    if loaded == 0
        && let Some(e) = first_payload_error
    {
        // Every frame failed.
        return Err(e);
    }
    r.finish(loaded);
    if let Some(e) = framing_error {
        b.warn(format!(
            "the capture is cut short or damaged after {} frame(s), which were kept: {e}",
            frames.len()
        ));
    }
    if let Some(e) = first_payload_error {
        b.warn(format!(
            "{skipped} frame(s) could not be unpacked and were skipped (first: {e})"
        ));
    }
    if backwards > 0 {
        b.warn(format!(
            "frame indices go backwards {backwards} time(s): the capture may join several runs"
        ));
    }
    Ok(())
}

/// `FrameMeta` as written in a frame header.
#[derive(Clone, Copy, Debug, Default)]
struct FrameMeta {
    frame_index: u64,
    range_ns: (i64, i64),
}

/// One frame's pieces, located and bounds-checked, not yet unpacked.
struct FrameRecord<'a> {
    /// File offset of the `PFD4` header.
    start: usize,
    meta: FrameMeta,
    compression: u8,
    packed: &'a [u8],
    /// File offset of `packed`.
    packed_at: usize,
    scopes: &'a [u8],
    scopes_at: usize,
}

/// Locates every frame. Returns the frames read before the first damage, and that damage.
fn read_framing(data: &[u8]) -> (Vec<FrameRecord<'_>>, Option<Error>) {
    let mut frames = Vec::new();
    let mut c = Cursor::new(FORMAT, data, 0);
    c.pos = MAGIC.len();
    while c.remaining() > 0 {
        match read_frame(&mut c) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => break,
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

/// Reads one frame at the cursor; `None` at the end-of-stream marker (4 zero bytes).
fn read_frame<'a>(c: &mut Cursor<'a>) -> Result<Option<FrameRecord<'a>>> {
    let start = c.pos;
    let header = c.bytes(4, "a frame header `PFD4`")?;
    if header == [0; 4] {
        return Ok(None);
    }
    if header != FRAME_MAGIC {
        let expected = match header {
            [b'P', b'F', b'D', b'0'..=b'3'] => format!(
                "a frame header `PFD4`, found `{}`: frames of puffin before 0.19 are not \
                 supported (open and re-save the capture with a recent puffin_viewer)",
                String::from_utf8_lossy(header)
            ),
            [b'P', b'F', b'D', _] => format!(
                "a frame header `PFD4`, found `{}`: a newer puffin format",
                String::from_utf8_lossy(header)
            ),
            _ => format!("a frame header `PFD4`, found bytes {header:02x?}"),
        };
        return Err(Error::at(FORMAT, start as u64, expected));
    }
    let meta_len = c.u32("the frame meta's length")? as usize;
    let meta_at = c.pos;
    let meta_bytes = c.bytes(meta_len, "the frame meta")?;
    let meta = read_meta(meta_bytes).map_err(|e| {
        Error::at(
            FORMAT,
            (meta_at + e.pos) as u64,
            format!("frame meta: {}", e.what),
        )
    })?;
    let packed_len = c.u32("the packed streams' length")? as usize;
    let kind_at = c.pos;
    let compression = c.bytes(1, "the compression kind")?[0];
    if compression > 2 {
        return Err(Error::at(
            FORMAT,
            kind_at as u64,
            format!("a compression kind 0, 1 (lz4) or 2 (zstd), found {compression}"),
        ));
    }
    let packed_at = c.pos;
    let packed = c.bytes(packed_len, "the packed thread streams")?;
    let scopes_len = c.u32("the scope details' length")? as usize;
    let scopes_at = c.pos;
    let scopes = c.bytes(scopes_len, "the scope details")?;
    Ok(Some(FrameRecord {
        start,
        meta,
        compression,
        packed,
        packed_at,
        scopes,
        scopes_at,
    }))
}

fn read_meta(bytes: &[u8]) -> Result<FrameMeta, Bad> {
    let mut r = Bin::new(bytes);
    let frame_index = r.varint("the frame index")?;
    let range_ns = (r.i64("the frame start")?, r.i64("the frame end")?);
    // num_bytes and num_scopes: informational, not trusted for anything.
    r.varint("the frame's byte count")?;
    r.varint("the frame's scope count")?;
    Ok(FrameMeta {
        frame_index,
        range_ns,
    })
}

/// A malformed spot inside a bincode payload or a stream: byte position and what was expected.
#[derive(Debug)]
struct Bad {
    pos: usize,
    what: String,
}

/// Reads puffin's bincode (varint) encoding from a byte slice.
struct Bin<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bin<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn bad(&self, what: impl Into<String>) -> Bad {
        Bad {
            pos: self.pos,
            what: what.into(),
        }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Bad> {
        match self
            .pos
            .checked_add(n)
            .and_then(|e| self.data.get(self.pos..e))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.bad(format!(
                "{what} ({n} bytes), but only {} bytes remain",
                self.data.len() - self.pos
            ))),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, Bad> {
        Ok(self.bytes(1, what)?[0])
    }

    fn varint(&mut self, what: &str) -> Result<u64, Bad> {
        let at = self.pos;
        let v = match self.u8(what)? {
            t @ 0..=250 => u64::from(t),
            251 => u64::from(u16::from_le_bytes(self.array(what)?)),
            252 => u64::from(u32::from_le_bytes(self.array(what)?)),
            253 => u64::from_le_bytes(self.array(what)?),
            t => {
                self.pos = at;
                return Err(self.bad(format!("{what}: a varint, found tag byte {t}")));
            }
        };
        Ok(v)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Bad> {
        let s = self.bytes(N, what)?;
        Ok(s.try_into().expect("bytes(N) returns N bytes"))
    }

    fn i64(&mut self, what: &str) -> Result<i64, Bad> {
        let v = self.varint(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn u32(&mut self, what: &str) -> Result<u32, Bad> {
        let at = self.pos;
        let v = self.varint(what)?;
        u32::try_from(v).map_err(|_| Bad {
            pos: at,
            what: format!("{what}: a u32, found {v}"),
        })
    }

    fn option(&mut self, what: &str) -> Result<bool, Bad> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            t => {
                self.pos -= 1;
                Err(self.bad(format!("{what}: an Option tag 0 or 1, found {t}")))
            }
        }
    }

    /// A length that counts bytes which must follow.
    fn len(&mut self, what: &str) -> Result<usize, Bad> {
        let at = self.pos;
        let n = self.varint(what)?;
        let remaining = self.data.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= remaining => Ok(n),
            _ => Err(Bad {
                pos: at,
                what: format!("{what}: a length of {n} bytes, but only {remaining} bytes remain"),
            }),
        }
    }

    fn str(&mut self, what: &str) -> Result<&'a str, Bad> {
        let n = self.len(what)?;
        let at = self.pos;
        let s = self.bytes(n, what)?;
        std::str::from_utf8(s).map_err(|_| Bad {
            pos: at,
            what: format!("{what}: UTF-8 text"),
        })
    }
}

/// What a scope id stands for.
struct ScopeInfo {
    name: String,
    frame: FrameId,
}

/// The state of one load.
struct Reader<'b> {
    b: &'b mut ProfileBuilder,
    wall: usize,
    limit: u64,
    unpacked: u64,
    scopes: FxHashMap<u32, ScopeInfo>,
    threads: FxHashMap<(Option<i64>, String), ThreadId>,
    /// (start, end, index) of the frames read, for the `frames` track made at the end.
    frame_spans: Vec<(u64, u64, u64)>,
    scope_count: u64,
    /// Sum of the self times added so far: the weights of one sample type must add up
    /// without overflowing.
    total_ns: i64,
    first_ns: i64,
    last_ns: i64,
    frame_range: (u64, u64),
    compressions: [bool; 3],
    unknown_ids: u64,
    overlaps: u64,
    damaged_streams: u64,
    first_stream_error: Option<String>,
    damaged_details: u64,
    first_details_error: Option<Error>,
}

/// A scope whose `)` has not been read yet.
#[derive(Clone, Copy)]
struct Open<'a> {
    /// Stream offset where its children end (and its `)` is).
    child_end: usize,
    id: u32,
    start_ns: i64,
    data: &'a str,
    stack: StackId,
    children_ns: i64,
}

impl<'b> Reader<'b> {
    fn new(b: &'b mut ProfileBuilder, limit: u64) -> Self {
        let wall = b.add_sample_type("wall time", Unit::Nanoseconds);
        Self {
            b,
            wall,
            limit,
            unpacked: 0,
            scopes: FxHashMap::default(),
            threads: FxHashMap::default(),
            frame_spans: Vec::new(),
            scope_count: 0,
            total_ns: 0,
            first_ns: i64::MAX,
            last_ns: i64::MIN,
            frame_range: (u64::MAX, 0),
            compressions: [false; 3],
            unknown_ids: 0,
            overlaps: 0,
            damaged_streams: 0,
            first_stream_error: None,
            damaged_details: 0,
            first_details_error: None,
        }
    }

    /// Registers a frame's `Vec<ScopeDetails>`; the first details of an id win (as in
    /// puffin's `ScopeCollection`).
    fn add_scope_details(&mut self, f: &FrameRecord<'_>) -> Result<()> {
        let at = |e: Bad| {
            Error::at(
                FORMAT,
                (f.scopes_at + e.pos) as u64,
                format!("scope details: {}", e.what),
            )
        };
        let mut r = Bin::new(f.scopes);
        if f.scopes.is_empty() {
            return Ok(());
        }
        let n = r.varint("the number of scope details").map_err(at)?;
        for _ in 0..n {
            let id = if r.option("a scope id").map_err(at)? {
                Some(r.u32("a scope id").map_err(at)?)
            } else {
                None
            };
            let scope_name = if r.option("a scope name").map_err(at)? {
                Some(r.str("a scope name").map_err(at)?)
            } else {
                None
            };
            let function_name = r.str("a function name").map_err(at)?;
            let file = r.str("a file path").map_err(at)?;
            let line = r.u32("a line number").map_err(at)?;
            let Some(id) = id else { continue };
            if self.scopes.contains_key(&id) {
                continue;
            }
            let name = match scope_name.unwrap_or(function_name) {
                "" => format!("scope #{id}"),
                s => s.to_string(),
            };
            let name_id = self.b.intern(&name);
            let file_id = if file.is_empty() {
                StrId::NONE
            } else {
                self.b.intern(file)
            };
            let func = self
                .b
                .add_func(name_id, ModuleId::NONE, file_id, 0, FuncKind::Instrumented);
            let frame = self.b.add_frame(func, ModuleId::NONE, 0, line, 0);
            self.scopes.insert(id, ScopeInfo { name, frame });
        }
        Ok(())
    }

    /// Unpacks a frame and adds its threads' scopes.
    fn add_frame(&mut self, f: &FrameRecord<'_>, progress: &Progress) -> Result<()> {
        let streams = self.unpack(f)?;
        let at = |e: Bad| {
            Error::at(
                FORMAT,
                f.packed_at as u64,
                format!(
                    "frame {}: thread streams, unpacked byte {}: expected {}",
                    f.meta.frame_index, e.pos, e.what
                ),
            )
        };
        // Decode the whole map first, so that a damaged payload adds nothing of the frame.
        let mut r = Bin::new(&streams);
        let n = r.varint("the number of threads").map_err(at)?;
        let mut threads = Vec::new();
        for _ in 0..n {
            let start_time = if r.option("a thread start time").map_err(at)? {
                Some(r.i64("a thread start time").map_err(at)?)
            } else {
                None
            };
            let name = r.str("a thread name").map_err(at)?;
            let len = r.len("a thread stream").map_err(at)?;
            let stream = r.bytes(len, "a thread stream").map_err(at)?;
            r.varint("a stream's scope count").map_err(at)?;
            r.varint("a stream's depth").map_err(at)?;
            r.i64("a stream's start").map_err(at)?;
            r.i64("a stream's end").map_err(at)?;
            threads.push((start_time, name, stream));
        }
        for (start_time, name, stream) in threads {
            let thread = self.thread(start_time, name);
            match self.walk_stream(thread, stream, progress) {
                Ok(()) => {}
                Err(StreamError::Cancelled) => return Err(Error::Cancelled),
                Err(StreamError::Bad(e)) => {
                    self.damaged_streams += 1;
                    self.first_stream_error.get_or_insert_with(|| {
                        format!(
                            "frame {}, thread {name:?}, stream byte {}: expected {}",
                            f.meta.frame_index, e.pos, e.what
                        )
                    });
                }
            }
        }
        // The frame's span, once its streams were read.
        let (s, e) = f.meta.range_ns;
        if s <= e {
            self.frame_spans.push((ns(s), ns(e), f.meta.frame_index));
        }
        let i = f.meta.frame_index;
        self.frame_range = (self.frame_range.0.min(i), self.frame_range.1.max(i));
        Ok(())
    }

    /// The packed streams, unpacked within what is left of the limit.
    fn unpack<'a>(&mut self, f: &FrameRecord<'a>) -> Result<Cow<'a, [u8]>> {
        let left = self.limit.saturating_sub(self.unpacked);
        let too_big = |n: String| {
            Error::at(
                FORMAT,
                f.packed_at as u64,
                format!(
                    "frame {}: thread streams that unpack to at most the {} bytes left of the \
                     decompression limit ({} bytes for the whole file); they unpack to {n}",
                    f.meta.frame_index, left, self.limit
                ),
            )
        };
        let out: Cow<'a, [u8]> = match f.compression {
            0 => Cow::Borrowed(f.packed),
            1 => {
                let Some(size) = crate::formats::bytes::u32_at(f.packed, 0) else {
                    return Err(Error::at(
                        FORMAT,
                        f.packed_at as u64,
                        "an lz4 block's 4-byte size",
                    ));
                };
                if u64::from(size) > left {
                    return Err(too_big(format!("{size} bytes")));
                }
                let block = lz4::decompress_block(&f.packed[4..], size as usize).map_err(|e| {
                    Error::at(
                        FORMAT,
                        f.packed_at as u64 + 4,
                        format!("frame {}: a valid lz4 block: {e}", f.meta.frame_index),
                    )
                })?;
                Cow::Owned(block)
            }
            _ => {
                let mut out = Vec::new();
                let read = zstd::stream::read::Decoder::with_buffer(f.packed)
                    .and_then(|d| d.take(left.saturating_add(1)).read_to_end(&mut out));
                if let Err(e) = read {
                    return Err(Error::at(
                        FORMAT,
                        f.packed_at as u64,
                        format!("frame {}: a valid zstd stream: {e}", f.meta.frame_index),
                    ));
                }
                if out.len() as u64 > left {
                    return Err(too_big("more".into()));
                }
                Cow::Owned(out)
            }
        };
        self.compressions[usize::from(f.compression)] = true;
        self.unpacked += out.len() as u64;
        Ok(out)
    }

    /// The thread puffin calls (start time, name), added on first sight.
    fn thread(&mut self, start_time: Option<i64>, name: &str) -> ThreadId {
        let key = (start_time, name.to_string());
        if let Some(&t) = self.threads.get(&key) {
            return t;
        }
        // Ids fit: each thread took bytes of the file.
        let tid = i32::try_from(self.threads.len() + 1).unwrap_or(i32::MAX);
        let t = self.b.add_thread(0, tid);
        if name.is_empty() {
            self.b.set_thread_name(t, &format!("thread {tid}"));
        } else {
            self.b.set_thread_name(t, name);
        }
        self.threads.insert(key, t);
        t
    }

    /// The frame of scope `id`, `scope #ID` when the capture has no details for it.
    fn scope_frame(&mut self, id: u32) -> FrameId {
        if let Some(s) = self.scopes.get(&id) {
            return s.frame;
        }
        self.unknown_ids += 1;
        let name = format!("scope #{id}");
        let frame = self
            .b
            .add_named_frame(&name, ModuleId::NONE, FuncKind::Instrumented);
        self.scopes.insert(id, ScopeInfo { name, frame });
        frame
    }

    /// Adds the scopes of one thread stream, depth-first with an explicit stack of open
    /// scopes. On damage, the scopes closed before it stay.
    fn walk_stream(
        &mut self,
        thread: ThreadId,
        stream: &[u8],
        progress: &Progress,
    ) -> Result<(), StreamError> {
        let mut open: Vec<Open<'_>> = Vec::new();
        let mut r = Bin::new(stream);
        loop {
            let end = open.last().map_or(stream.len(), |o| o.child_end);
            if r.pos == end {
                let Some(o) = open.pop() else { break };
                // The scope's `)` and stop time (their room was checked when it opened).
                if r.u8("`)`")? != b')' {
                    r.pos -= 1;
                    return Err(r.bad("`)` (a scope's end)").into());
                }
                let stop = i64::from_le_bytes(r.array("a scope's stop time")?);
                let Some(duration) = stop.checked_sub(o.start_ns).filter(|&d| d >= 0) else {
                    r.pos -= 8;
                    return Err(r
                        .bad(format!(
                            "a stop time not before the start ({} ns), found {stop} ns",
                            o.start_ns
                        ))
                        .into());
                };
                let self_ns = duration - o.children_ns;
                let self_ns = if self_ns < 0 {
                    self.overlaps += 1;
                    0
                } else {
                    self_ns
                };
                // Each duration fits in an i64, but many (of a damaged stream, or a small file
                // that unpacks to millions of scopes) need not add up in one.
                let Some(total_ns) = self.total_ns.checked_add(self_ns) else {
                    r.pos -= 8;
                    return Err(r
                        .bad(format!(
                            "a stop time that keeps the capture's total time below 2^63 ns, \
                             found {stop} ns ({self_ns} ns of self time after {} ns)",
                            self.total_ns
                        ))
                        .into());
                };
                self.total_ns = total_ns;
                if let Some(p) = open.last_mut() {
                    p.children_ns = p.children_ns.saturating_add(duration);
                }
                let depth = u16::try_from(open.len()).unwrap_or(u16::MAX);
                let name = self.scopes.get(&o.id).map_or("", |s| s.name.as_str());
                let span_name: Cow<'_, str> = if o.data.is_empty() {
                    Cow::Borrowed(name)
                } else {
                    Cow::Owned(format!("{name} ({})", o.data))
                };
                let (start_ns, stop_ns) = (ns(o.start_ns), ns(stop));
                self.b
                    .add_span(thread, depth, start_ns, stop_ns, &span_name);
                // A scope its children fill has no self time: no sample row, as for Chrome
                // trace spans. Its stack stays (its children's stacks hang from it), and a
                // deep nest of such scopes costs one row for its innermost, not one per level
                // (rows at every level would make the bottom-up tree and the exports quadratic
                // in the depth).
                if self_ns > 0 {
                    self.b
                        .add_sample_one(thread, o.stack, start_ns, self.wall, self_ns);
                }
                self.first_ns = self.first_ns.min(o.start_ns);
                self.last_ns = self.last_ns.max(stop);
                self.scope_count += 1;
                if self.scope_count.is_multiple_of(CHECK_EVERY) && progress.is_cancelled() {
                    return Err(StreamError::Cancelled);
                }
                continue;
            }
            // A new scope: `(`, id, start, data, size of its children.
            if r.u8("`(`")? != b'(' {
                r.pos -= 1;
                return Err(r.bad("`(` (a scope's start)").into());
            }
            let id_at = r.pos;
            let id = u32::from_le_bytes(r.array("a scope id")?);
            if id == 0 {
                r.pos = id_at;
                return Err(r.bad("a scope id, found 0").into());
            }
            let start_ns = i64::from_le_bytes(r.array("a scope's start time")?);
            let n = usize::from(r.u8("a scope's data length")?);
            let data = r.bytes(n, "a scope's data")?;
            // Like puffin: old writers could cut a character in two; keep the valid prefix.
            let data = match std::str::from_utf8(data) {
                Ok(s) => s,
                Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or(""),
            };
            let size_at = r.pos;
            let size = u64::from_le_bytes(r.array("a scope's size")?);
            if size == u64::MAX {
                r.pos = size_at;
                return Err(r.bad("a closed scope (this one never ended)").into());
            }
            // Children, then `)` and the stop time, must fit in the parent (or the stream).
            let child_end = usize::try_from(size)
                .ok()
                .and_then(|s| r.pos.checked_add(s))
                .filter(|&e| e.checked_add(9).is_some_and(|close| close <= end));
            let Some(child_end) = child_end else {
                r.pos = size_at;
                return Err(r
                    .bad(format!(
                        "children of at most {} bytes (what is left of the enclosing scope), \
                         found {size}",
                        end.saturating_sub(r.pos + 8 + 9)
                    ))
                    .into());
            };
            let frame = self.scope_frame(id);
            let parent = open.last().map_or(StackId::NONE, |o| o.stack);
            let stack = self.b.add_stack(parent, frame);
            open.push(Open {
                child_end,
                id,
                start_ns,
                data,
                stack,
                children_ns: 0,
            });
        }
        Ok(())
    }

    /// Warnings and facts once every frame was read.
    fn finish(self, loaded: usize) {
        let b = self.b;
        if !self.frame_spans.is_empty() {
            // After puffin's threads (threads are ordered by tid): the call tree skips it, having
            // no samples, and a report listing threads with samples needs none of its rows.
            let tid = i32::try_from(self.threads.len() + 1).unwrap_or(i32::MAX);
            let t = b.add_thread(0, tid);
            b.set_thread_name(t, "frames");
            for &(s, e, i) in &self.frame_spans {
                b.add_span(t, 0, s, e, &format!("frame {i}"));
            }
        }
        if self.first_ns <= self.last_ns {
            b.meta.start_ns = Some(ns(self.first_ns));
            b.meta.end_ns = Some(ns(self.last_ns));
        }
        let (lo, hi) = self.frame_range;
        b.meta.info.push((
            "puffin frames".into(),
            if loaded == 1 {
                format!("1 (frame {lo})")
            } else {
                format!("{loaded} (frames {lo} to {hi})")
            },
        ));
        b.meta
            .info
            .push(("puffin scopes".into(), self.scope_count.to_string()));
        let kinds: Vec<&str> = ["none", "lz4", "zstd"]
            .iter()
            .zip(self.compressions)
            .filter(|(_, used)| *used)
            .map(|(k, _)| *k)
            .collect();
        b.meta
            .info
            .push(("puffin compression".into(), kinds.join(", ")));
        if self.unknown_ids > 0 {
            b.warn(format!(
                "{} scope id(s) have no name in the capture (the frames that introduced them \
                 were not saved); they show as `scope #ID`",
                self.unknown_ids
            ));
        }
        if let Some(e) = self.first_details_error {
            b.warn(format!(
                "the scope details of {} frame(s) are damaged; the names read before the \
                 damage are kept (first: {e})",
                self.damaged_details
            ));
        }
        if let Some(e) = self.first_stream_error {
            b.warn(format!(
                "{} thread stream(s) are damaged; their scopes that closed before the damage \
                 are kept (first: {e})",
                self.damaged_streams
            ));
        }
        if self.overlaps > 0 {
            b.warn(format!(
                "{} scope(s) are shorter than their children together; their self time counts \
                 as 0",
                self.overlaps
            ));
        }
    }
}

/// Why a stream walk stopped early.
enum StreamError {
    Bad(Bad),
    Cancelled,
}

impl From<Bad> for StreamError {
    fn from(b: Bad) -> Self {
        StreamError::Bad(b)
    }
}

/// A puffin time (ns since the Unix epoch, signed) on the profile's clock (unsigned).
fn ns(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}
