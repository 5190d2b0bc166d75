//! LZ4 *block* decoding (no frame format), as `lz4_flex::compress_prepend_size` writes it for
//! puffin: a `u32` LE uncompressed size, then one block. The block is a series of sequences:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | token: literal length (high 4 bits), match length − 4 (low 4 bits) |
//! | 0+ | literal length continued: while the nibble is 15, add bytes until one is not 255 |
//! | n | the literals |
//! | 2 | match offset, `u16` LE, 1..=bytes already produced (the last sequence has no match) |
//! | 0+ | match length continued, as for literals |
//!
//! Written here rather than taken from puffin's `lz4_flex` (not a dependency of ours) so that
//! the output is bounded by the size the caller allowed, checked before anything is allocated.

/// Decodes one block into exactly `expected` bytes; anything else is an error.
pub(super) fn decompress_block(input: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    // LZ4 expands at most 255× (a run-length match of 255 bytes per length byte): do not
    // reserve more than the input can produce, whatever `expected` claims.
    let cap = expected.min(input.len().saturating_mul(255).saturating_add(16));
    let mut out: Vec<u8> = Vec::with_capacity(cap);
    let mut i = 0usize;
    while i < input.len() {
        let token = input[i];
        i += 1;
        let lit = extended(input, &mut i, usize::from(token >> 4))?;
        let lits = i
            .checked_add(lit)
            .and_then(|end| input.get(i..end))
            .ok_or_else(|| {
                format!("{lit} literal bytes at block byte {i}, past the block's end")
            })?;
        if lit > expected - out.len() {
            return Err(format!(
                "literals beyond the {expected} bytes the block declares"
            ));
        }
        out.extend_from_slice(lits);
        i += lit;
        if i == input.len() {
            break;
        }
        let Some(off) = input.get(i..i + 2) else {
            return Err(format!("a match offset at block byte {i}"));
        };
        let offset = usize::from(u16::from_le_bytes([off[0], off[1]]));
        i += 2;
        if offset == 0 || offset > out.len() {
            return Err(format!(
                "match offset {offset} at block byte {} reaches before the output's start ({} bytes so far)",
                i - 2,
                out.len()
            ));
        }
        let len = extended(input, &mut i, usize::from(token & 15))?.saturating_add(4);
        if len > expected - out.len() {
            return Err(format!(
                "a match beyond the {expected} bytes the block declares"
            ));
        }
        let start = out.len() - offset;
        if offset >= len {
            out.extend_from_within(start..start + len);
        } else {
            // Overlapping copy (a run): byte by byte, each may read what was just written.
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    if out.len() != expected {
        return Err(format!(
            "a block of {expected} bytes once decompressed, but it decodes to {}",
            out.len()
        ));
    }
    Ok(out)
}

/// A length nibble, extended by the following bytes when it is 15.
fn extended(input: &[u8], i: &mut usize, nibble: usize) -> Result<usize, String> {
    let mut n = nibble;
    if nibble == 15 {
        loop {
            let Some(&b) = input.get(*i) else {
                return Err(format!("a length byte at block byte {i}"));
            };
            *i += 1;
            n = n.saturating_add(usize::from(b));
            if b != 255 {
                break;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::decompress_block;

    #[test]
    fn literals_matches_and_runs() {
        // "abc" + match(offset 3, len 6) → "abcabcabc", then literal "!"
        let block = [0x32, b'a', b'b', b'c', 3, 0, 0x10, b'!'];
        assert_eq!(decompress_block(&block, 10).unwrap(), b"abcabcabc!");
        // "a" + run (offset 1, len 4 + 15 + 5 = 24) → 25 × 'a'
        let block = [0x1f, b'a', 1, 0, 5];
        assert_eq!(decompress_block(&block, 25).unwrap(), vec![b'a'; 25]);
        // 20 literals: nibble 15 + 5
        let mut block = vec![0xf0, 5];
        block.extend_from_slice(&[7u8; 20]);
        assert_eq!(decompress_block(&block, 20).unwrap(), vec![7u8; 20]);
        assert_eq!(decompress_block(&[], 0).unwrap(), b"");
        assert_eq!(decompress_block(&[0], 0).unwrap(), b"");
    }

    #[test]
    fn bad_blocks_are_errors() {
        // wrong declared size, both ways
        assert!(decompress_block(&[0x10, b'x'], 2).is_err());
        assert!(decompress_block(&[0x20, b'x', b'y'], 1).is_err());
        // offset 0, offset before the start
        assert!(decompress_block(&[0x10, b'x', 0, 0], 10).is_err());
        assert!(decompress_block(&[0x10, b'x', 2, 0], 10).is_err());
        // literals past the end, cut length bytes, cut offset
        assert!(decompress_block(&[0x50, b'x'], 5).is_err());
        assert!(decompress_block(&[0xf0, 255, 255], 1000).is_err());
        assert!(decompress_block(&[0x10, b'x', 1], 10).is_err());
        // a bomb: a 4 GiB claim with a tiny block only reserves what the block can produce
        let e = decompress_block(&[0x1f, b'a', 1, 0, 255, 255, 0], u32::MAX as usize);
        assert!(e.unwrap_err().contains("decodes to"));
    }
}
