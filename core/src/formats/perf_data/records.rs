//! Walking the record stream: plain, pipe-mode and zstd-compressed (`perf record -z`).
//!
//! Every record starts with an 8-byte header:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | type (1 MMAP, 2 LOST, 3 COMM, 4 EXIT, 7 FORK, 9 SAMPLE, 10 MMAP2, 13 LOST_SAMPLES, 64+ perf's own) |
//! | 4 | 2 | misc (bits 0-2 cpumode; type-specific flags above) |
//! | 6 | 2 | size of the whole record, header included |
//!
//! Two record types carry payload *after* their `size`: AUXTRACE (its u64 `size` at offset 8
//! counts bytes that follow the record) and, in pipe mode, TRACING_DATA (u32 at offset 8).
//! COMPRESSED (81) and COMPRESSED2 (83) records hold a chunk of one zstd stream that continues
//! from record to record; records of the decompressed stream may straddle two chunks.

use super::super::bytes::{u16_at, u32_at, u64_at};
use super::header::FORMAT;
use crate::{Error, Progress, Result};

pub const MMAP: u32 = 1;
pub const LOST: u32 = 2;
pub const COMM: u32 = 3;
pub const EXIT: u32 = 4;
pub const THROTTLE: u32 = 5;
pub const UNTHROTTLE: u32 = 6;
pub const FORK: u32 = 7;
pub const SAMPLE: u32 = 9;
pub const MMAP2: u32 = 10;
pub const LOST_SAMPLES: u32 = 13;
pub const SWITCH: u32 = 14;
pub const SWITCH_CPU_WIDE: u32 = 15;
/// Highest kernel record type known (AUX_OUTPUT_HW_ID, CALLCHAIN_DEFERRED in newer kernels).
pub const LAST_KERNEL_TYPE: u32 = 22;

pub const HEADER_ATTR: u32 = 64;
pub const HEADER_TRACING_DATA: u32 = 66;
pub const HEADER_BUILD_ID: u32 = 67;
pub const FINISHED_ROUND: u32 = 68;
pub const AUXTRACE: u32 = 71;
pub const HEADER_FEATURE: u32 = 80;
pub const COMPRESSED: u32 = 81;
/// Highest user record type perf 6.x writes (COMPRESSED2).
pub const COMPRESSED2: u32 = 83;

/// One record: its type, misc flags, bytes (header included) and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub kind: u32,
    pub misc: u16,
    pub bytes: &'a [u8],
    /// File offset of the record, or of the compressed record that contained it.
    pub offset: u64,
}

/// Why a walk stopped before the end of its byte range.
#[derive(Debug)]
pub struct Truncation {
    pub offset: u64,
    pub reason: String,
}

/// Splits `data` into records; `base` is the file offset of `data[0]`. Calls `f` for each.
/// Returns where and why it stopped early, if it did (a cut-short file is not an error: the
/// records before the cut are valid).
pub fn walk<'a>(
    data: &'a [u8],
    base: u64,
    pipe: bool,
    progress: &Progress,
    mut f: impl FnMut(Record<'a>) -> Result<()>,
) -> Result<Option<Truncation>> {
    let mut pos = 0usize;
    let mut n = 0u32;
    while pos < data.len() {
        n = n.wrapping_add(1);
        if n.is_multiple_of(4096) {
            progress.check()?;
            progress.set_done(base + pos as u64);
        }
        prefetch(data, pos + PREFETCH_DISTANCE);
        let offset = base + pos as u64;
        let remaining = data.len() - pos;
        if remaining < 8 {
            return Ok(Some(Truncation {
                offset,
                reason: format!("expected an 8-byte record header, {remaining} bytes remain"),
            }));
        }
        let kind = u32_at(data, pos).unwrap_or(0);
        let misc = u16_at(data, pos + 4).unwrap_or(0);
        let size = u16_at(data, pos + 6).unwrap_or(0) as usize;
        if size < 8 {
            return Ok(Some(Truncation {
                offset,
                reason: format!(
                    "expected a record size of at least 8, found {size} (record type {kind})"
                ),
            }));
        }
        if size > remaining {
            return Ok(Some(Truncation {
                offset,
                reason: format!(
                    "record of type {kind} claims {size} bytes, only {remaining} remain"
                ),
            }));
        }
        let bytes = &data[pos..pos + size];
        // Payload that follows the record without being counted in its size.
        let trailing = match kind {
            AUXTRACE => u64_at(bytes, 8).unwrap_or(0),
            HEADER_TRACING_DATA if pipe => {
                (u32_at(bytes, 8).unwrap_or(0) as u64).next_multiple_of(8)
            }
            _ => 0,
        };
        f(Record {
            kind,
            misc,
            bytes,
            offset,
        })?;
        let next = (pos as u64)
            .saturating_add(size as u64)
            .saturating_add(trailing);
        if next > data.len() as u64 {
            return Ok(Some(Truncation {
                offset,
                reason: format!(
                    "record of type {kind} is followed by {trailing} bytes of payload past the end"
                ),
            }));
        }
        pos = next as usize;
    }
    progress.set_done(base + data.len() as u64);
    Ok(None)
}

/// How far ahead of the record being read its successors are fetched into the cache: records
/// follow each other, but the hardware prefetcher stops at each 4 KiB page, and the next
/// record's address is known only once this one's size is read.
const PREFETCH_DISTANCE: usize = 2048;

pub(super) use crate::prefetch;

/// Decompresses the zstd stream spread over COMPRESSED records and hands out whole records.
pub struct Decompressor {
    dctx: zstd::stream::raw::Decoder<'static>,
    pending: Vec<u8>,
    out: Vec<u8>,
    total_out: u64,
    limit: u64,
}

impl Decompressor {
    /// `limit`: most bytes the whole stream may decompress to (a bound against zstd bombs).
    pub fn new(limit: u64) -> Result<Self> {
        let dctx = zstd::stream::raw::Decoder::new()
            .map_err(|e| Error::Unsupported(format!("zstd decoder: {e}")))?;
        Ok(Self {
            dctx,
            pending: Vec::new(),
            out: vec![0; 256 * 1024],
            total_out: 0,
            limit,
        })
    }

    /// Feeds the payload of the compressed record `rec` and calls `f` for every record that is
    /// now complete.
    pub fn feed(
        &mut self,
        rec: &Record<'_>,
        mut f: impl FnMut(Record<'_>) -> Result<()>,
    ) -> Result<()> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let payload_start = if rec.kind == COMPRESSED2 { 16 } else { 8 };
        let mut payload = rec.bytes.get(payload_start..).unwrap_or(&[]);
        if rec.kind == COMPRESSED2 {
            let declared = u64_at(rec.bytes, 8).unwrap_or(0);
            payload = &payload[..payload
                .len()
                .min(usize::try_from(declared).unwrap_or(usize::MAX))];
        }
        let mut input = InBuffer::around(payload);
        loop {
            let mut output = OutBuffer::around(&mut self.out[..]);
            self.dctx.run(&mut input, &mut output).map_err(|e| {
                Error::at(
                    FORMAT,
                    rec.offset,
                    format!("expected valid zstd data in a compressed record: {e}"),
                )
            })?;
            let produced = output.pos();
            self.total_out += produced as u64;
            if self.total_out > self.limit {
                return Err(Error::at(
                    FORMAT,
                    rec.offset,
                    format!(
                        "compressed records expand to more than {} bytes; refusing to go on (raise the decompression limit to load it)",
                        self.limit
                    ),
                ));
            }
            self.pending.extend_from_slice(&self.out[..produced]);
            self.drain_records(rec.offset, &mut f)?;
            if input.pos() >= payload.len() && produced < self.out.len() {
                break;
            }
        }
        Ok(())
    }

    /// Hands out the complete records of `pending`; keeps a straddling tail for the next chunk.
    fn drain_records(
        &mut self,
        offset: u64,
        f: &mut impl FnMut(Record<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut pos = 0usize;
        while self.pending.len() - pos >= 8 {
            let size = u16_at(&self.pending, pos + 6).unwrap_or(0) as usize;
            if size < 8 {
                return Err(Error::at(
                    FORMAT,
                    offset,
                    format!("decompressed record with size {size} (expected at least 8)"),
                ));
            }
            if self.pending.len() - pos < size {
                break;
            }
            let bytes = &self.pending[pos..pos + size];
            let kind = u32_at(bytes, 0).unwrap_or(0);
            let misc = u16_at(bytes, 4).unwrap_or(0);
            f(Record {
                kind,
                misc,
                bytes,
                offset,
            })?;
            pos += size;
        }
        self.pending.drain(..pos);
        Ok(())
    }

    /// Bytes of an incomplete record left at the end of the stream.
    pub fn leftover(&self) -> usize {
        self.pending.len()
    }
}
