//! Bounds-checked little-endian reads over untrusted bytes. Nothing here panics or allocates
//! from a length field: every read checks the bytes that remain.

/// Reads `N` bytes at `pos`, or `None` past the end.
#[inline]
fn array<const N: usize>(data: &[u8], pos: usize) -> Option<[u8; N]> {
    data.get(pos..pos.checked_add(N)?)?.try_into().ok()
}

#[inline]
pub fn u16_at(data: &[u8], pos: usize) -> Option<u16> {
    array(data, pos).map(u16::from_le_bytes)
}

#[inline]
pub fn u32_at(data: &[u8], pos: usize) -> Option<u32> {
    array(data, pos).map(u32::from_le_bytes)
}

#[inline]
pub fn i32_at(data: &[u8], pos: usize) -> Option<i32> {
    array(data, pos).map(i32::from_le_bytes)
}

#[inline]
pub fn u64_at(data: &[u8], pos: usize) -> Option<u64> {
    array(data, pos).map(u64::from_le_bytes)
}

/// The bytes up to the first NUL (or the end), as UTF-8 with invalid bytes replaced.
pub fn c_str(data: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end])
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A forward cursor whose errors carry the absolute file offset of the failed read.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// File offset of `data[0]`.
    pub base: u64,
    pub format: &'static str,
}

impl<'a> Cursor<'a> {
    pub fn new(format: &'static str, data: &'a [u8], base: u64) -> Self {
        Self {
            data,
            pos: 0,
            base,
            format,
        }
    }

    /// File offset of the next read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn err(&self, what: &str, n: usize) -> crate::Error {
        crate::Error::at(
            self.format,
            self.offset(),
            format!(
                "expected {what} ({n} bytes), but only {} bytes remain",
                self.remaining()
            ),
        )
    }

    pub fn u32(&mut self, what: &str) -> crate::Result<u32> {
        let v = u32_at(self.data, self.pos).ok_or_else(|| self.err(what, 4))?;
        self.pos += 4;
        Ok(v)
    }

    pub fn u64(&mut self, what: &str) -> crate::Result<u64> {
        let v = u64_at(self.data, self.pos).ok_or_else(|| self.err(what, 8))?;
        self.pos += 8;
        Ok(v)
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> crate::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(self.err(what, n));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let d = [1u8, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(u32_at(&d, 0), Some(1));
        assert_eq!(u32_at(&d, 4), Some(2));
        assert_eq!(u32_at(&d, 5), None);
        assert_eq!(u64_at(&d, 0), Some(0x0000_0002_0000_0001));
        assert_eq!(u64_at(&d, usize::MAX - 2), None);
        let mut c = Cursor::new("test", &d, 100);
        assert_eq!(c.u32("a").unwrap(), 1);
        let e = c.u64("b").unwrap_err();
        assert_eq!(e.offset(), Some(104));
        assert!(e.to_string().contains("only 4 bytes remain"), "{e}");
        assert!(c.bytes(usize::MAX, "huge").is_err());
    }

    #[test]
    fn c_strings() {
        assert_eq!(c_str(b"abc\0def"), "abc");
        assert_eq!(c_str(b"abc"), "abc");
        assert_eq!(hex(&[0xde, 0xad, 0x01]), "dead01");
    }
}
