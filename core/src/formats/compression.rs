//! gzip- and zstd-wrapped profiles (`.pb.gz`, `perf script | gzip`, `trace.json.gz`, ...),
//! recognized by their magic bytes and unpacked into memory with a cap on the output.
//!
//! The cap is what stops a decompression bomb: the decoder is read through `take(limit + 1)`,
//! so at most `limit + 1` bytes are ever produced, and producing the extra byte is the error.
//! The output grows in steps the load's memory budget admits first, into a reserved map.

use crate::progress::MemoryGate;
use crate::{Error, Result};
use std::io::Read;

/// The compression wrapping a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The compression of `data`, from its magic bytes.
pub fn detect(data: &[u8]) -> Option<Compression> {
    match data {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
        _ => None,
    }
}

/// The default cap on decompressed bytes: `max(256 MiB, 64 × input size)`.
pub fn default_limit(input_len: usize) -> u64 {
    (256u64 << 20).max(64u64.saturating_mul(input_len as u64))
}

/// Decompressed bytes. They go into an anonymous map reserved up front for all they may grow
/// to (with how much of it is written): a page exists only once written, and the output
/// never moves, doubles or is copied, so the memory it holds is what was written. When the
/// system refuses the reservation they go into a `Vec` instead.
pub enum Unpacked {
    Map(memmap2::MmapMut, usize),
    Vec(Vec<u8>),
}

impl std::ops::Deref for Unpacked {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Unpacked::Map(m, len) => &m[..*len],
            Unpacked::Vec(v) => v,
        }
    }
}

impl std::fmt::Debug for Unpacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Unpacked({} bytes)", self.len())
    }
}

/// Largest step of output asked of the memory gate at once.
const STEP: usize = 16 << 20;

/// The next step of output after `filled` bytes: doubling from 64 KiB up to [`STEP`].
fn step_after(filled: usize) -> usize {
    filled.clamp(1 << 16, STEP)
}

/// Decompresses `data` (compressed with `c`), refusing to produce more than `limit` bytes, or
/// to grow its output past what `gate` admits.
pub fn decompress(c: Compression, data: &[u8], limit: u64, gate: &MemoryGate) -> Result<Unpacked> {
    let format = c.name();
    // Room for limit + 1 bytes (the extra byte is the error), or, under a memory budget, for
    // what the gate can admit: it refuses a step before the output passes the budget.
    let want = match gate.budget() {
        0 => limit.saturating_add(1),
        b => limit.saturating_add(1).min(b.saturating_add(STEP as u64)),
    };
    let map = usize::try_from(want)
        .ok()
        .and_then(|n| memmap2::MmapOptions::new().len(n).map_anon().ok());
    let mut out = match map {
        Some(m) => Unpacked::Map(m, 0),
        None => Unpacked::Vec(Vec::new()),
    };
    let read = match c {
        // MultiGzDecoder: `cat a.gz b.gz` is a valid gzip file too.
        Compression::Gzip => read_gated(
            flate2::read::MultiGzDecoder::new(data),
            limit,
            gate,
            &mut out,
        ),
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(data) {
            Ok(d) => read_gated(d, limit, gate, &mut out),
            Err(e) => Err(e),
        },
    };
    if let Some(e) = gate.refusal() {
        return Err(e);
    }
    if let Err(e) = read {
        return Err(Error::at(
            format,
            0,
            format!(
                "a valid {format} stream (after {} bytes out): {e}",
                out.len()
            ),
        ));
    }
    if out.len() as u64 > limit {
        return Err(Error::at(
            format,
            0,
            format!(
                "at most {limit} bytes once decompressed (the limit; raise it with \
                 --decompression-limit); it expands to more"
            ),
        ));
    }
    Ok(out)
}

/// Reads `r` to its end or to `limit + 1` bytes into `out`, in steps the memory gate admits
/// first (a refused step ends the read; [`MemoryGate::refusal`] says so).
fn read_gated(
    r: impl Read,
    limit: u64,
    gate: &MemoryGate,
    out: &mut Unpacked,
) -> std::io::Result<()> {
    let mut r = r.take(limit.saturating_add(1));
    match out {
        Unpacked::Map(map, len) => {
            let mut admitted = 0;
            while *len < map.len() {
                if *len == admitted {
                    let step = step_after(*len).min(map.len() - admitted);
                    if !gate.admit(step as u64) {
                        return Ok(());
                    }
                    admitted += step;
                }
                match r.read(&mut map[*len..admitted]) {
                    Ok(0) => return Ok(()),
                    Ok(n) => *len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if (map.len() as u64) <= limit {
                // Full before the limit: the map was sized to the budget, which the gate
                // should have refused first. Refuse now rather than return a cut output.
                gate.refuse(step_after(*len) as u64);
            }
            Ok(())
        }
        // A Vec, whose every step allocates its whole new size (the old one is freed only
        // after the copy).
        Unpacked::Vec(v) => loop {
            let step = step_after(v.len());
            if !gate.admit((v.len() + step) as u64) {
                return Ok(());
            }
            v.reserve_exact(step);
            if (&mut r).take(step as u64).read_to_end(v)? == 0 {
                return Ok(());
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_and_detects() {
        let text = b"main;work 3\n".repeat(100);
        let gz = gzip(&text);
        assert_eq!(detect(&gz), Some(Compression::Gzip));
        assert_eq!(
            *decompress(Compression::Gzip, &gz, 1 << 20, &MemoryGate::default()).unwrap(),
            text[..]
        );
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(detect(&zs), Some(Compression::Zstd));
        assert_eq!(
            *decompress(Compression::Zstd, &zs, 1 << 20, &MemoryGate::default()).unwrap(),
            text[..]
        );
        assert_eq!(detect(b"main;work 3"), None);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compresses to about 64 KiB.
        let zeros = vec![0u8; 64 << 20];
        let gz = gzip(&zeros);
        let err = decompress(Compression::Gzip, &gz, 1 << 20, &MemoryGate::default()).unwrap_err();
        assert!(err.to_string().contains("at most 1048576 bytes"), "{err}");
    }

    /// Under the limit but past the memory budget: the first step of 1 MiB or more is refused
    /// (a budget of one byte refuses any), and the error is the budget's.
    #[test]
    fn output_grows_only_in_steps_the_budget_admits() {
        let zeros = vec![0u8; 8 << 20];
        let gz = gzip(&zeros);
        let progress = crate::Progress::new();
        let all = decompress(Compression::Gzip, &gz, 64 << 20, &progress.memory_gate()).unwrap();
        assert_eq!(all.len(), 8 << 20);
        progress.set_memory_budget(1);
        let err =
            decompress(Compression::Gzip, &gz, 64 << 20, &progress.memory_gate()).unwrap_err();
        match err {
            Error::TooBig { more, .. } => assert_eq!(more, 1 << 20),
            e => panic!("expected TooBig, got {e}"),
        }
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_panic() {
        let gz = gzip(&b"main;work 3\n".repeat(1000));
        let err = decompress(
            Compression::Gzip,
            &gz[..gz.len() / 2],
            1 << 20,
            &MemoryGate::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("a valid gzip stream"), "{err}");
    }
}
