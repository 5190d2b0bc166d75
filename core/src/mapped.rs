//! Profile files mapped into memory, guarded against being cut short under us.
//!
//! A mapped file that another process truncates kills the reader with SIGBUS on its next touch
//! of a page past the new end. stacklens keeps the mapping of a `.stkl` for as long as the
//! profile is open (its big columns borrow from it), so on Linux it takes a **read lease** on the
//! file (`fcntl(F_SETLEASE, F_RDLCK)`) before mapping it: a process that then opens the file for
//! writing or truncates it is held by the kernel (up to `/proc/sys/fs/lease-break-time`, 45 s by
//! default) while the kernel signals us. A watcher thread then copies the mapped bytes into
//! anonymous memory, moves that copy over the mapping at the same address (`mremap`), and
//! releases the lease — every borrowed column stays valid and unchanged, and the writer goes on.
//!
//! The lease is refused when the file is already open for writing (a `perf record` still
//! running), on file systems without leases, and for files of another user without
//! `CAP_LEASE`; [`MappedFile::is_stable`] is then false and readers copy what they keep. Such a
//! map is **guarded** instead: a SIGBUS handler recognises a fault inside it (the file was cut
//! short while being read), maps zero pages over the rest of the map so the reader goes on, and
//! marks the map [cut](MappedFile::was_cut); the load then fails with a clear error instead of the
//! process dying.
//! Renaming a new file over the old one (as stacklens' own writers do) never affects the map.
//!
//! Parsers that read a big file once, front to back, keep its resident memory small with
//! [`read_ahead`] (map the pages of the next stretch in one call instead of one fault per page
//! group) and [`done_with`] (drop the pages of a stretch already read from this process's
//! memory: they stay in the page cache and come back from it, unchanged, if touched again).

use crate::model::column::Backing;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Opens `path` for reading only if it is a regular file. Paths named by a profile (binaries,
/// debug files, perf maps, source files) are untrusted: a FIFO there would block the open or
/// the read forever, and a device such as `/dev/zero` would never end. The open does not block
/// (`O_NONBLOCK`, which means nothing for a regular file), and what it opened is checked, not
/// the path before (which could change in between).
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?
    };
    #[cfg(not(unix))]
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// A read-only memory map of a whole file.
pub struct MappedFile {
    map: memmap2::Mmap,
    /// Holds the lease (a lease lives with its open file).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: File,
    /// A read lease is held: the bytes cannot change until we have copied them.
    leased: AtomicBool,
    /// The lease was broken and the bytes now live in anonymous memory.
    detached: AtomicBool,
    /// Held while the bytes are moved to anonymous memory and while pages are dropped: pages of
    /// anonymous memory must never be dropped (they would read back as zeros).
    moving: std::sync::Mutex<()>,
    /// The SIGBUS guard's slot of an unleased map.
    guard: Option<usize>,
}

/// Every live map, for [`read_ahead`] and [`done_with`], which get only the bytes.
static LIVE: std::sync::Mutex<Vec<std::sync::Weak<MappedFile>>> = std::sync::Mutex::new(Vec::new());

/// The live map that holds `bytes`, if any.
fn holder(bytes: &[u8]) -> Option<Arc<MappedFile>> {
    let (start, end) = (
        bytes.as_ptr() as usize,
        bytes.as_ptr() as usize + bytes.len(),
    );
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.iter().filter_map(std::sync::Weak::upgrade).find(|m| {
        let at = m.map.as_ptr() as usize;
        at <= start && end <= at + m.map.len()
    })
}

/// Whether `bytes` lie in a mapped file ([`read_ahead`] and [`done_with`] act only on those).
pub fn is_file_mapped(bytes: &[u8]) -> bool {
    holder(bytes).is_some()
}

/// The whole pages inside `bytes`, as (address, length).
fn inner_pages(bytes: &[u8]) -> Option<(*mut libc::c_void, usize)> {
    whole_pages(bytes.as_ptr() as usize, bytes.len())
}

/// The whole pages inside the `len` bytes at address `at`, as (address, length).
pub(crate) fn whole_pages(at: usize, len: usize) -> Option<(*mut libc::c_void, usize)> {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    let page = *PAGE.get_or_init(|| {
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
    });
    let start = at.next_multiple_of(page);
    let end = at.saturating_add(len) / page * page;
    (end > start).then(|| (start as *mut libc::c_void, end - start))
}

/// Maps the pages of `bytes` (a stretch of a mapped file about to be read) in one call.
pub fn read_ahead(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    if let (Some(_), Some((at, len))) = (holder(bytes), inner_pages(bytes)) {
        /// `MADV_POPULATE_READ` (Linux 5.14); older kernels refuse it, which costs nothing.
        const MADV_POPULATE_READ: libc::c_int = 22;
        // SAFETY: advice on pages of a live map; it changes no contents (of file or anonymous
        // pages alike), so it needs no lock against the move to anonymous memory.
        unsafe { libc::madvise(at, len, MADV_POPULATE_READ) };
    }
}

/// Drops the pages of `bytes` (a stretch of a mapped file already read) from this process's
/// resident memory. Their contents do not change: touched again, they come back from the file.
/// Does nothing to bytes that are not a file map's (anonymous pages would come back zeroed).
pub fn done_with(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    if let (Some(m), Some((at, len))) = (holder(bytes), inner_pages(bytes)) {
        let _moving = m.moving.lock().unwrap_or_else(|e| e.into_inner());
        if !m.detached.load(Ordering::Acquire) {
            // SAFETY: pages of a live private read-only file map that were never written:
            // dropping them only unmaps them; the next touch reads the file again.
            unsafe { libc::madvise(at, len, libc::MADV_DONTNEED) };
        }
    }
}

impl MappedFile {
    /// Opens and maps `path`, taking a read lease first when the system allows it.
    pub fn open(path: &Path) -> std::io::Result<Arc<Self>> {
        let file = File::open(path)?;
        #[cfg(target_os = "linux")]
        let leased = lease::take(&file);
        #[cfg(not(target_os = "linux"))]
        let leased = false;
        // The length is read after the lease is in place: from then on it cannot shrink.
        let len = file.metadata()?.len();
        if len == 0 {
            // Mapping zero bytes fails; callers report the empty file.
            return Ok(Arc::new(Self {
                map: memmap2::MmapOptions::new()
                    .len(0)
                    .map_anon()?
                    .make_read_only()?,
                file,
                leased: AtomicBool::new(false),
                detached: AtomicBool::new(false),
                moving: std::sync::Mutex::new(()),
                guard: None,
            }));
        }
        // SAFETY: a read-only map. With the lease held, nobody can shrink the file without the
        // watcher first moving the bytes to anonymous memory; without it, the map is only read
        // during the load (see `formats::load`), the trade-off every mapping reader makes.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        #[cfg(target_os = "linux")]
        let guard = if leased {
            None
        } else {
            guard::register(map.as_ptr() as usize, map.len())
        };
        #[cfg(not(target_os = "linux"))]
        let guard = None;
        let m = Arc::new(Self {
            map,
            file,
            leased: AtomicBool::new(leased),
            detached: AtomicBool::new(false),
            moving: std::sync::Mutex::new(()),
            guard,
        });
        {
            let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&m));
        }
        #[cfg(target_os = "linux")]
        if leased {
            lease::register(&m);
        }
        Ok(m)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// True when the bytes can be kept for as long as this map lives: a lease guards them, or
    /// they were already copied away from the file.
    pub fn is_stable(&self) -> bool {
        self.leased.load(Ordering::Acquire) || self.detached.load(Ordering::Acquire)
    }

    /// True once a writer broke the lease and the bytes were moved to anonymous memory.
    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    /// True when the file was cut short while mapped without a lease: reading past its new end
    /// found zeros (put there by the SIGBUS guard), not the file's bytes.
    pub fn was_cut(&self) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(slot) = self.guard {
            return guard::was_cut(slot);
        }
        false
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(slot) = self.guard {
            guard::release(slot);
        }
    }
}

impl Backing for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// Survival of a mapped file cut short under us (see the module docs).
///
/// Unleased maps are listed in a fixed table of atomics (a signal handler may not lock). On
/// SIGBUS at an address inside a listed map, the handler maps anonymous zero pages over the
/// map from the faulting page to its end and returns: the read is retried and sees zeros. Any
/// other SIGBUS goes to the handler that was installed before (Rust's own, or the default
/// action, which ends the process as it would have).
#[cfg(target_os = "linux")]
mod guard {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Unleased maps open at once, at most; more are still read, unguarded.
    const SLOTS: usize = 64;

    struct Slot {
        /// Start address of the map; 0 when the slot is free.
        start: AtomicUsize,
        len: AtomicUsize,
        cut: AtomicBool,
    }

    static TABLE: [Slot; SLOTS] = [const {
        Slot {
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            cut: AtomicBool::new(false),
        }
    }; SLOTS];

    /// The SIGBUS action that was in place before ours.
    static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

    fn install() -> bool {
        PREVIOUS
            .get_or_init(|| {
                // SAFETY: installing a handler whose body only reads atomics and calls mmap(2)
                // and sigaction(2), saving the previous action to chain to.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = on_sigbus as *const () as usize;
                    sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                    libc::sigemptyset(&mut sa.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    (libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0).then_some(old)
                }
            })
            .is_some()
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        for slot in &TABLE {
            let start = slot.start.load(Ordering::Acquire);
            let len = slot.len.load(Ordering::Acquire);
            if start == 0 || addr < start || addr - start >= len {
                continue;
            }
            // SAFETY: sysconf is async-signal-safe in practice (a read of a cached value).
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            let from = addr / page * page;
            let end = (start + len).div_ceil(page) * page;
            // SAFETY: the range lies inside a live read-only map of ours whose file no longer
            // backs it; replacing those pages with private zero pages changes only what the
            // reader sees there. mmap(2) is a plain system call.
            let at = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if at != libc::MAP_FAILED {
                slot.cut.store(true, Ordering::Release);
                return;
            }
        }
        chain(sig, info, ctx);
    }

    /// Hands a SIGBUS that is not ours to the action installed before.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        match PREVIOUS.get().copied().flatten() {
            Some(old) if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN => {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    // SAFETY: the previous handler was installed with SA_SIGINFO: this is its
                    // signature.
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        unsafe { std::mem::transmute(old.sa_sigaction) };
                    f(sig, info, ctx);
                } else {
                    // SAFETY: as above, the one-argument form.
                    let f: extern "C" fn(libc::c_int) =
                        unsafe { std::mem::transmute(old.sa_sigaction) };
                    f(sig);
                }
            }
            _ => {
                // The default action: restore it and return; the fault repeats and ends the
                // process as it would have without us.
                // SAFETY: sigaction(2) is async-signal-safe.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
                }
            }
        }
    }

    /// Lists the map at `start..start + len`; its slot, or `None` when all are taken or the
    /// handler could not be installed.
    pub(super) fn register(start: usize, len: usize) -> Option<usize> {
        if start == 0 || !install() {
            return None;
        }
        for (i, slot) in TABLE.iter().enumerate() {
            if slot
                .start
                .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // Reserved (usize::MAX matches no address); fill it in, start last.
                slot.cut.store(false, Ordering::Relaxed);
                slot.len.store(len, Ordering::Relaxed);
                slot.start.store(start, Ordering::Release);
                return Some(i);
            }
        }
        None
    }

    pub(super) fn was_cut(slot: usize) -> bool {
        TABLE[slot].cut.load(Ordering::Acquire)
    }

    pub(super) fn release(slot: usize) {
        TABLE[slot].start.store(0, Ordering::Release);
    }
}

#[cfg(target_os = "linux")]
mod lease {
    use super::MappedFile;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, Weak};

    /// Maps that hold a lease; the watcher looks at each when a lease-break signal arrives.
    static MAPS: Mutex<Vec<Weak<MappedFile>>> = Mutex::new(Vec::new());
    /// `fcntl` command naming the signal for lease breaks (Linux `F_SETSIG`).
    const F_SETSIG: libc::c_int = 10;
    /// Write end of the pipe the signal handler pokes.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// The signal number, once the handler and watcher run (`None`: leases are not used).
    static SIGNAL: OnceLock<Option<i32>> = OnceLock::new();

    extern "C" fn on_lease_break(_: libc::c_int) {
        let fd = WAKE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = 1u8;
            // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking, so a full pipe
            // (the watcher already has a wake-up pending) drops the byte.
            unsafe { libc::write(fd, (&raw const b).cast(), 1) };
        }
    }

    /// Installs the handler and starts the watcher, once.
    fn signal() -> Option<i32> {
        *SIGNAL.get_or_init(|| {
            let mut fds = [0i32; 2];
            // SAFETY: plain syscalls on fds we own.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
                return None;
            }
            let [rd, wr] = fds;
            // The reader blocks: clear O_NONBLOCK on it.
            // SAFETY: fcntl on our own fd.
            unsafe { libc::fcntl(rd, libc::F_SETFL, 0) };
            WAKE_FD.store(wr, Ordering::Relaxed);
            let sig = libc::SIGRTMIN() + 5;
            // SAFETY: installing a handler that only calls write(2).
            let ok = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_lease_break as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut()) == 0
            };
            if !ok {
                return None;
            }
            let spawned = std::thread::Builder::new()
                .name("stacklens-lease".into())
                .spawn(move || watch(rd));
            spawned.is_ok().then_some(sig)
        })
    }

    /// Takes a read lease on `file`, telling the kernel to signal a break with our signal.
    pub(super) fn take(file: &std::fs::File) -> bool {
        let Some(sig) = signal() else { return false };
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on an fd we own. F_SETSIG first: a break must never raise SIGIO, whose
        // default action ends the process.
        unsafe {
            libc::fcntl(fd, F_SETSIG, sig) == 0
                && libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) == 0
        }
    }

    pub(super) fn register(m: &Arc<MappedFile>) {
        let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
        maps.retain(|w| w.strong_count() > 0);
        maps.push(Arc::downgrade(m));
    }

    fn watch(rd: i32) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reading into our own buffer from our own fd.
            let n = unsafe { libc::read(rd, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                return;
            }
            let live: Vec<Arc<MappedFile>> = {
                let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
                maps.retain(|w| w.strong_count() > 0);
                maps.iter().filter_map(Weak::upgrade).collect()
            };
            for m in live {
                if !m.leased.load(Ordering::Acquire) {
                    continue;
                }
                // SAFETY: fcntl on the map's own fd.
                let kind = unsafe { libc::fcntl(m.file.as_raw_fd(), libc::F_GETLEASE) };
                if kind != libc::F_RDLCK {
                    detach(&m);
                }
            }
        }
    }

    /// Copies the mapped bytes into anonymous memory moved over the map's own address range,
    /// then releases the lease so the writer may go on.
    fn detach(m: &MappedFile) {
        let _moving = m.moving.lock().unwrap_or_else(|e| e.into_inner());
        let ptr = m.map.as_ptr() as *mut libc::c_void;
        let len = m.map.len();
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let span = len.div_ceil(page) * page;
        // SAFETY: a fresh private anonymous mapping, filled from the file map (still intact:
        // the writer waits for our lease), made read-only, then moved over the file map's exact
        // page range; the map's Drop later unmaps that same range.
        let moved = unsafe {
            let anon = libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if anon == libc::MAP_FAILED {
                false
            } else {
                std::ptr::copy_nonoverlapping(ptr as *const u8, anon as *mut u8, len);
                libc::mprotect(anon, span, libc::PROT_READ);
                let at = libc::mremap(
                    anon,
                    span,
                    span,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    ptr,
                );
                if at == ptr {
                    true
                } else {
                    libc::munmap(anon, span);
                    false
                }
            }
        };
        if moved {
            m.detached.store(true, Ordering::Release);
        } else {
            eprintln!(
                "stacklens: a profile file is being changed and its {len} mapped bytes could \
                 not be copied away; views of it may fail"
            );
        }
        m.leased.store(false, Ordering::Release);
        // SAFETY: fcntl on the map's own fd.
        unsafe { libc::fcntl(m.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
}
