//! gzip- and zstd-wrapped profiles (`.pb.gz`, `perf script | gzip`, `trace.json.gz`, ...),
//! recognized by their magic bytes and unpacked into memory with a cap on the output.
//!
//! The cap is what stops a decompression bomb: the decoder is read through `take(limit + 1)`,
//! so at most `limit + 1` bytes are ever produced, and producing the extra byte is the error.

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

/// Decompresses `data` (compressed with `c`), refusing to produce more than `limit` bytes.
pub fn decompress(c: Compression, data: &[u8], limit: u64) -> Result<Vec<u8>> {
    let format = c.name();
    let mut out = Vec::new();
    let read = match c {
        Compression::Gzip => {
            // MultiGzDecoder: `cat a.gz b.gz` is a valid gzip file too.
            flate2::read::MultiGzDecoder::new(data)
                .take(limit.saturating_add(1))
                .read_to_end(&mut out)
        }
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(data) {
            Ok(d) => d.take(limit.saturating_add(1)).read_to_end(&mut out),
            Err(e) => Err(e),
        },
    };
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
        assert_eq!(decompress(Compression::Gzip, &gz, 1 << 20).unwrap(), text);
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(detect(&zs), Some(Compression::Zstd));
        assert_eq!(decompress(Compression::Zstd, &zs, 1 << 20).unwrap(), text);
        assert_eq!(detect(b"main;work 3"), None);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros compresses to about 64 KiB.
        let zeros = vec![0u8; 64 << 20];
        let gz = gzip(&zeros);
        let err = decompress(Compression::Gzip, &gz, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("at most 1048576 bytes"), "{err}");
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_panic() {
        let gz = gzip(&b"main;work 3\n".repeat(1000));
        let err = decompress(Compression::Gzip, &gz[..gz.len() / 2], 1 << 20).unwrap_err();
        assert!(err.to_string().contains("a valid gzip stream"), "{err}");
    }
}
