//! [`Column`]: a table column that either owns its rows (a `Vec`, as every parser builds them)
//! or borrows them straight from a memory-mapped `.stkl` file, so that opening a capture does
//! not copy its big columns (samples, stacks) at all.
//!
//! A column reads as a slice (`Deref<Target = [T]>`) either way, and cloning one copies no rows
//! (owned rows are shared behind an `Arc`). Writing copies borrowed or shared rows into a `Vec`
//! of its own first ([`Column::make_mut`]); frozen profiles are never written, so in practice
//! only the builder's columns are.
//!
//! Every column has a [version](Column::version): a number no other column content has had,
//! kept by clones (same rows) and replaced by every [`Column::make_mut`] (rows may change). A
//! result computed from columns and stored with their versions is therefore current exactly
//! while the versions match.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A version no column has had yet.
fn fresh_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Element types a column may borrow from file bytes: plain little-endian integers (and
/// `repr(transparent)` wrappers of them) for which every bit pattern is a valid value.
///
/// # Safety
/// Implementors must have no padding, no invalid bit patterns and no drop glue, and must be
/// laid out as the little-endian integer of their size.
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

// SAFETY: primitive integers: every bit pattern is a value, no padding.
unsafe impl Plain for u8 {}
unsafe impl Plain for u16 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}
unsafe impl Plain for i32 {}
unsafe impl Plain for i64 {}

/// `n` rows of all bits zero, from zeroed memory: the allocator maps a large block lazily, so
/// a row's page is touched when the row is first written, not here (`vec![x; n]` writes every
/// row, and a `Plain` wrapper type gets no such shortcut). `None` when the allocator refuses.
pub fn try_zeroed_vec<T: Plain>(n: usize) -> Option<Vec<T>> {
    let layout = std::alloc::Layout::array::<T>(n).ok()?;
    if layout.size() == 0 {
        return Some(Vec::new());
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `n` values of T, and
    // all-zero bits are a valid T (Plain: every bit pattern is a value).
    Some(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

/// Faults in the pages that lie wholly inside `rows` for writing, in one call, so that writing
/// the rows later does not fault page by page (Linux 5.14's `MADV_POPULATE_WRITE`; elsewhere,
/// and on older kernels, which refuse it, nothing happens). The rows' values do not change.
pub fn populate_for_writing<T: Plain>(rows: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        let span = (rows.as_mut_ptr() as usize, std::mem::size_of_val(rows));
        if let Some((at, len)) = crate::mapped::whole_pages(span.0, span.1) {
            // SAFETY: the pages lie inside `rows`, memory this call borrows mutably; faulting
            // them in keeps every byte's value (untouched anonymous pages read as zeroes
            // either way, and touched ones are left as they are).
            unsafe { libc::madvise(at, len, MADV_POPULATE_WRITE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = rows;
}

/// Keeps borrowed bytes alive (and at the same address) for as long as a column points at them.
pub trait Backing: Send + Sync {
    fn bytes(&self) -> &[u8];
}

/// A column of a profile table: owned rows or rows borrowed from a mapped file.
pub struct Column<T: Plain> {
    repr: Repr<T>,
    version: u64,
}

enum Repr<T> {
    /// Shared, so that cloning a profile (to derive a transformed one) copies no rows.
    Owned(Arc<Vec<T>>),
    Borrowed {
        ptr: NonNull<T>,
        len: usize,
        /// Holds the bytes `ptr..ptr + len` alive.
        _backing: Arc<dyn Backing>,
    },
}

// SAFETY: a borrowed column is an immutable view of bytes its `Arc<dyn Backing>` (Send + Sync)
// keeps alive; T is Plain (Send + Sync, no interior mutability).
unsafe impl<T: Plain> Send for Column<T> {}
unsafe impl<T: Plain> Sync for Column<T> {}

impl<T: Plain> Column<T> {
    pub fn new() -> Self {
        Self {
            repr: Repr::Owned(Arc::new(Vec::new())),
            version: fresh_version(),
        }
    }

    /// This content's version: equal for two columns only when one is a clone of the other
    /// with no [`Column::make_mut`] since.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Borrows `len` elements at byte `offset` of `backing`, or `None` when they do not fit in
    /// its bytes, are not aligned for `T`, or the machine is not little-endian (the file's
    /// byte order); the caller then copies instead.
    pub fn borrow(backing: &Arc<dyn Backing>, offset: usize, len: usize) -> Option<Self> {
        if cfg!(target_endian = "big") {
            return None;
        }
        let size = std::mem::size_of::<T>();
        let bytes = backing.bytes();
        let end = len.checked_mul(size)?.checked_add(offset)?;
        let region = bytes.get(offset..end)?;
        let ptr = region.as_ptr();
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        let ptr = NonNull::new(ptr as *mut T)?;
        Some(Self {
            repr: Repr::Borrowed {
                ptr,
                len,
                _backing: Arc::clone(backing),
            },
            version: fresh_version(),
        })
    }

    /// True when the rows are borrowed from a mapped file.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.repr, Repr::Borrowed { .. })
    }

    /// The rows as a `Vec` to change, copying borrowed or shared rows first.
    #[inline]
    pub fn make_mut(&mut self) -> &mut Vec<T> {
        self.version = fresh_version();
        if let Repr::Borrowed { .. } = self.repr {
            self.repr = Repr::Owned(Arc::new(self.to_vec()));
        }
        match &mut self.repr {
            Repr::Owned(v) => Arc::make_mut(v),
            Repr::Borrowed { .. } => unreachable!("made owned just above"),
        }
    }

    /// Rows the column holds without growing (its length when borrowed).
    pub fn capacity(&self) -> usize {
        match &self.repr {
            Repr::Owned(v) => v.capacity(),
            Repr::Borrowed { len, .. } => *len,
        }
    }

    #[inline]
    pub fn push(&mut self, value: T) {
        self.make_mut().push(value);
    }

    pub fn into_vec(self) -> Vec<T> {
        match self.repr {
            Repr::Owned(v) => Arc::try_unwrap(v).unwrap_or_else(|v| v.to_vec()),
            Repr::Borrowed { .. } => self.to_vec(),
        }
    }
}

impl<T: Plain> Deref for Column<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Owned(v) => v,
            // SAFETY: `borrow` checked that `len` elements at `ptr` lie inside the backing's
            // bytes and that `ptr` is aligned; the backing keeps them alive and unchanged for
            // as long as this column holds its Arc; T is Plain, so any bytes are a valid T.
            Repr::Borrowed { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
        }
    }
}

impl<T: Plain> Default for Column<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Plain> Clone for Column<T> {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Owned(v) => Repr::Owned(Arc::clone(v)),
            Repr::Borrowed { ptr, len, _backing } => Repr::Borrowed {
                ptr: *ptr,
                len: *len,
                _backing: Arc::clone(_backing),
            },
        };
        Self {
            repr,
            version: self.version,
        }
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Plain + PartialEq> PartialEq for Column<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Plain> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        Self {
            repr: Repr::Owned(Arc::new(v)),
            version: fresh_version(),
        }
    }
}

impl<T: Plain> FromIterator<T> for Column<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl<T: Plain> Extend<T> for Column<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.make_mut().extend(iter);
    }
}

impl<'a, T: Plain> IntoIterator for &'a Column<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(Vec<u64>);
    impl Backing for Bytes {
        fn bytes(&self) -> &[u8] {
            // SAFETY: test helper: a u64 buffer viewed as its bytes.
            unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * 8) }
        }
    }

    #[test]
    fn a_borrowed_column_reads_the_backing_bytes_and_copies_on_write() {
        let backing: Arc<dyn Backing> = Arc::new(Bytes(vec![1, 2, 3, u64::MAX]));
        let mut c = Column::<u32>::borrow(&backing, 8, 4).expect("in bounds, aligned");
        assert!(c.is_borrowed());
        if cfg!(target_endian = "little") {
            assert_eq!(&*c, &[2, 0, 3, 0]);
        }
        let copy = c.clone();
        assert_eq!(copy.version(), c.version());
        c.push(7);
        assert_ne!(
            copy.version(),
            c.version(),
            "a changed column has a new version"
        );
        assert!(!c.is_borrowed());
        assert_eq!(c.len(), 5);
        assert_eq!(copy.len(), 4);
        assert!(copy.is_borrowed());
    }

    #[test]
    fn columns_with_equal_rows_but_separate_histories_have_different_versions() {
        let a: Column<u32> = vec![1, 2].into();
        let b: Column<u32> = vec![1, 2].into();
        assert_ne!(a.version(), b.version());
        let mut c = a.clone();
        let before = c.version();
        c.make_mut()[0] = 1; // same value written: still a new version
        assert_ne!(c.version(), before);
        assert_eq!(a.version(), before);
    }

    #[test]
    fn out_of_bounds_or_misaligned_regions_are_not_borrowed() {
        let backing: Arc<dyn Backing> = Arc::new(Bytes(vec![0; 4]));
        assert!(Column::<u64>::borrow(&backing, 8, 4).is_none());
        assert!(Column::<u64>::borrow(&backing, 4, 1).is_none());
        assert!(Column::<u32>::borrow(&backing, 0, usize::MAX).is_none());
        assert!(Column::<u32>::borrow(&backing, 32, 0).is_some());
    }
}
