//! Bounded decompression of the `.xz` data in a MiniDebugInfo section (`.gnu_debugdata`).
//!
//! The decoder (`lzma-rs`, pure Rust) keeps a whole LZMA2 block in memory until the block ends
//! and takes no output limit, so a hostile section could expand a few kilobytes into gigabytes
//! before any bounded writer saw a byte. Before decoding, the container is therefore walked
//! without decompressing: every LZMA2 chunk header states how many bytes it unpacks to, and
//! their sum bounds the output. Data whose sum is over the limit, or whose structure does not
//! parse, is not decoded at all. (The decoder verifies CRC32 and CRC64 checks but not SHA-256;
//! MiniDebugInfo is made with xz's default, CRC64.)
//!
//! The parts of the xz format read here (all multi-byte integers of the container are
//! little-endian except the LZMA2 chunk sizes, which are big-endian):
//!
//! | Part | Bytes | Content |
//! |---|---|---|
//! | stream header | 12 | magic `FD 37 7A 58 5A 00`, flags (2; low 4 bits of the 2nd: check type), CRC32 |
//! | block header | `(b + 1) × 4` | `b` (1, non-zero), flags (1; bits 0-1: filters − 1; bit 6/7: sizes present), optional sizes (varints), filters (id, properties size, properties as varints), padding, CRC32 |
//! | block data | … | LZMA2 chunks, see below |
//! | block padding | 0–3 | zeros to a multiple of 4 from the block start |
//! | check | 0–64 | by check type: 0 → 0, 1–3 → 4, 4–6 → 8, 7–9 → 16, 10–12 → 32, 13–15 → 64 |
//! | index | … | starts with a zero byte where a block header would be |
//!
//! LZMA2 chunks, by their first (control) byte `c`:
//!
//! | `c` | Header after `c` | Unpacked size | Then |
//! |---|---|---|---|
//! | `00` | — | — | end of the block data |
//! | `01`, `02` | u16 `s` | `s + 1` | `s + 1` stored bytes |
//! | `80`–`FF` | u16 `u`, u16 `p`, and 1 properties byte when `(c >> 5) & 3 >= 2` | `((c & 1F) << 16 \| u) + 1` | `p + 1` compressed bytes |

/// Why xz data was not decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XzError {
    /// The container or an LZMA2 chunk header does not parse.
    Malformed(&'static str),
    /// The chunk headers add up to more than the limit.
    TooLarge { declared: u64, limit: u64 },
    /// The decoder failed (corrupt compressed data, bad checksum).
    Decode(String),
}

impl std::fmt::Display for XzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed xz data: {what}"),
            Self::TooLarge { declared, limit } => write!(
                f,
                "xz data would unpack to {declared} bytes, more than the {limit} allowed"
            ),
            Self::Decode(e) => write!(f, "xz data does not decode: {e}"),
        }
    }
}

const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

/// Longest match an LZMA decoder may write past a chunk's stated size before it notices the
/// chunk is full (the longest LZMA match). Counted per chunk in the bound.
const MAX_MATCH_LEN: u64 = 273;

/// Decompresses the first xz stream of `data`, refusing data that states it unpacks to more
/// than `limit` bytes.
pub fn decompress(data: &[u8], limit: u64) -> Result<Vec<u8>, XzError> {
    let declared = declared_size(data, limit)?;
    // The bound holds, so the output may be reserved up front; the decoder writes no more.
    let mut out = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    lzma_rs::xz_decompress(&mut &data[..], &mut out).map_err(|e| XzError::Decode(e.to_string()))?;
    Ok(out)
}

/// The most bytes the stream at the start of `data` can unpack to, from its chunk headers;
/// an error as soon as that passes `limit`.
fn declared_size(data: &[u8], limit: u64) -> Result<u64, XzError> {
    use XzError::Malformed;
    if data.get(..6) != Some(&MAGIC[..]) {
        return Err(Malformed("no xz magic"));
    }
    let check_type = data.get(7).ok_or(Malformed("short stream header"))? & 0x0f;
    let check_len: usize = match check_type {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    };
    let mut at = 12usize;
    let mut total = 0u64;
    loop {
        let block_start = at;
        let size_byte = *data
            .get(at)
            .ok_or(Malformed("stream ends before its index"))?;
        if size_byte == 0 {
            return Ok(total); // the index: no more blocks
        }
        let header_len = (usize::from(size_byte) + 1) * 4;
        let header = data
            .get(at..at + header_len)
            .ok_or(Malformed("short block header"))?;
        // Only a single LZMA2 filter is supported by the decoder; say so early.
        if header[1] & 0x03 != 0 {
            return Err(Malformed("more than one filter"));
        }
        at += header_len;
        loop {
            let c = *data.get(at).ok_or(Malformed("LZMA2 data ends early"))?;
            at += 1;
            let u16_at = |i: usize| -> Result<u64, XzError> {
                let b = data
                    .get(i..i + 2)
                    .ok_or(Malformed("short LZMA2 chunk header"))?;
                Ok(u64::from(u16::from_be_bytes([b[0], b[1]])))
            };
            match c {
                0x00 => break,
                0x01 | 0x02 => {
                    let n = u16_at(at)? + 1;
                    total = total.saturating_add(n);
                    at = skip(data, at + 2, n)?;
                }
                0x80..=0xff => {
                    let unpacked = ((u64::from(c & 0x1f) << 16) | u16_at(at)?) + 1;
                    let packed = u16_at(at + 2)? + 1;
                    let props = usize::from((c >> 5) & 3 >= 2);
                    total = total.saturating_add(unpacked + MAX_MATCH_LEN);
                    at = skip(data, at + 4 + props, packed)?;
                }
                _ => return Err(Malformed("invalid LZMA2 control byte")),
            }
            if total > limit {
                return Err(XzError::TooLarge {
                    declared: total,
                    limit,
                });
            }
        }
        // Block padding to a multiple of four from the block's start, then the check.
        at += (4 - (at - block_start) % 4) % 4;
        at = skip(data, at, check_len as u64)?;
    }
}

/// `at + n`, if that is still inside `data`.
fn skip(data: &[u8], at: usize, n: u64) -> Result<usize, XzError> {
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| at.checked_add(n))
        .filter(|&e| e <= data.len())
        .ok_or(XzError::Malformed("chunk runs past the end"))?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `data` compressed by the `xz` tool with `args`.
    fn xz(data: &[u8], args: &[&str]) -> Vec<u8> {
        let mut child = Command::new("xz")
            .args(args)
            .args(["-c", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("xz is needed for this test");
        let mut stdin = child.stdin.take().unwrap();
        let input = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn real_xz_output_round_trips() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i} {}\n", i % 7).into_bytes())
            .collect();
        for args in [
            &[][..],
            &["-0"],
            &["-9e", "--check=crc32"],
            &["--check=none"],
        ] {
            let packed = xz(&text, args);
            assert_eq!(decompress(&packed, 64 << 20).unwrap(), text, "{args:?}");
        }
        // Several blocks (multi-threaded xz splits the input).
        let packed = xz(&text, &["-T2", "--block-size=100000"]);
        assert_eq!(decompress(&packed, 64 << 20).unwrap(), text);
    }

    #[test]
    fn a_bomb_is_refused_before_decoding() {
        let zeros = vec![0u8; 64 << 20];
        let packed = xz(&zeros, &["-0"]);
        assert!(packed.len() < 64 << 10, "{}", packed.len());
        let err = decompress(&packed, packed.len() as u64 * 64).unwrap_err();
        assert!(matches!(err, XzError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn garbage_and_truncations_are_errors() {
        let packed = xz(b"hello hello hello hello", &[]);
        for n in 0..packed.len() {
            assert!(decompress(&packed[..n], 1 << 20).is_err(), "cut at {n}");
        }
        let mut flipped = packed.clone();
        for i in 12..flipped.len() {
            flipped[i] ^= 0x55;
            let _ = decompress(&flipped, 1 << 20); // must not panic
            flipped[i] ^= 0x55;
        }
        assert!(decompress(b"not xz at all", 1 << 20).is_err());
        // A stream header followed by chunk headers that each claim 2 MiB.
        let mut bomb = packed[..12].to_vec();
        bomb.extend_from_slice(&[0x02, 0x00, 0x21, 0x01, 0x16, 0, 0, 0, 0, 0, 0, 0]);
        for _ in 0..1000 {
            bomb.extend_from_slice(&[0xff, 0xff, 0xff, 0x00, 0x00, 0x5d, 0x00]);
        }
        assert!(matches!(
            decompress(&bomb, 100 << 20),
            Err(XzError::TooLarge { .. })
        ));
    }
}
