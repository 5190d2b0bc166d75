//! `perf_event_open(2)` and its ring buffer: the attribute, the system call, the mapped buffer
//! and reading records out of it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

pub const TYPE_SOFTWARE: u32 = 1;
pub const SW_CPU_CLOCK: u64 = 0;

const SAMPLE_IP: u64 = 1 << 0;
const SAMPLE_TID: u64 = 1 << 1;
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_CALLCHAIN: u64 = 1 << 5;
const SAMPLE_CPU: u64 = 1 << 7;
const SAMPLE_PERIOD: u64 = 1 << 8;

const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_INHERIT: u64 = 1 << 1;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_MMAP: u64 = 1 << 8;
const FLAG_COMM: u64 = 1 << 9;
const FLAG_FREQ: u64 = 1 << 10;
const FLAG_ENABLE_ON_EXEC: u64 = 1 << 12;
const FLAG_TASK: u64 = 1 << 13;
const FLAG_SAMPLE_ID_ALL: u64 = 1 << 18;
const FLAG_EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
const FLAG_COMM_EXEC: u64 = 1 << 24;
const FLAG_USE_CLOCKID: u64 = 1 << 25;

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_SET_OUTPUT: libc::c_ulong = 0x2405;

/// `struct perf_event_attr` up to `sample_max_stack` (PERF_ATTR_SIZE_VER5, 112 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Attr {
    pub type_: u32,
    pub size: u32,
    pub config: u64,
    pub sample_freq: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    pub wakeup_events: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub branch_sample_type: u64,
    pub sample_regs_user: u64,
    pub sample_stack_user: u32,
    pub clockid: i32,
    pub sample_regs_intr: u64,
    pub aux_watermark: u32,
    pub sample_max_stack: u16,
    pub reserved: u16,
}

const _: () = assert!(std::mem::size_of::<Attr>() == 112);

impl Attr {
    /// `cpu-clock` at `hz` samples per second of CPU time, with callchains, tid, time (the
    /// monotonic clock), cpu and period; MMAP, COMM and FORK/EXIT records (`sample_id_all`);
    /// inherited by the threads and processes the task creates.
    pub fn cpu_clock(hz: u64, kernel: bool) -> Self {
        let mut flags = FLAG_DISABLED
            | FLAG_INHERIT
            | FLAG_EXCLUDE_HV
            | FLAG_MMAP
            | FLAG_COMM
            | FLAG_FREQ
            | FLAG_TASK
            | FLAG_SAMPLE_ID_ALL
            | FLAG_COMM_EXEC
            | FLAG_USE_CLOCKID;
        if !kernel {
            flags |= FLAG_EXCLUDE_KERNEL | FLAG_EXCLUDE_CALLCHAIN_KERNEL;
        }
        Attr {
            type_: TYPE_SOFTWARE,
            size: std::mem::size_of::<Attr>() as u32,
            config: SW_CPU_CLOCK,
            sample_freq: hz,
            sample_type: SAMPLE_IP
                | SAMPLE_TID
                | SAMPLE_TIME
                | SAMPLE_CALLCHAIN
                | SAMPLE_CPU
                | SAMPLE_PERIOD,
            flags,
            clockid: libc::CLOCK_MONOTONIC,
            ..Attr::default()
        }
    }

    /// Counting starts when the task calls exec (a launched command).
    pub fn enabled_on_exec(mut self) -> Self {
        self.flags |= FLAG_ENABLE_ON_EXEC;
        self
    }

    /// Counting starts at once (a running thread).
    pub fn enabled(mut self) -> Self {
        self.flags &= !FLAG_DISABLED;
        self
    }

    pub fn excludes_kernel(&self) -> bool {
        self.flags & FLAG_EXCLUDE_KERNEL != 0
    }

    /// The attribute as bytes (for the stream's attribute record).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(112);
        let words = [
            (self.type_ as u64) | ((self.size as u64) << 32),
            self.config,
            self.sample_freq,
            self.sample_type,
            self.read_format,
            // Recorded as the event was meant: enabled.
            self.flags & !(FLAG_DISABLED | FLAG_ENABLE_ON_EXEC),
            (self.wakeup_events as u64) | ((self.bp_type as u64) << 32),
            self.config1,
            self.config2,
            self.branch_sample_type,
            self.sample_regs_user,
            (self.sample_stack_user as u64) | ((self.clockid as u32 as u64) << 32),
            self.sample_regs_intr,
            (self.aux_watermark as u64)
                | ((self.sample_max_stack as u64) << 32)
                | ((self.reserved as u64) << 48),
        ];
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Opens the event for thread `tid` on CPU `cpu` (-1: any CPU).
pub fn open(attr: &Attr, tid: i32, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid perf_event_attr of the size it declares; the other arguments
    // are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const Attr,
            tid as libc::pid_t,
            cpu as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, arg: libc::c_int) -> io::Result<()> {
    // SAFETY: ENABLE, DISABLE and SET_OUTPUT take an integer argument.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts or stops counting.
pub fn set_enabled(fd: &OwnedFd, on: bool) -> io::Result<()> {
    ioctl(fd, if on { IOC_ENABLE } else { IOC_DISABLE }, 0)
}

/// Makes event `fd` write its records into the ring buffer of event `ring` (same CPU).
pub fn set_output(fd: &OwnedFd, ring: &OwnedFd) -> io::Result<()> {
    ioctl(fd, IOC_SET_OUTPUT, ring.as_raw_fd())
}

/// An event with its mapped ring buffer (other events of the same CPU write into it too).
pub struct Ring {
    pub fd: OwnedFd,
    base: *mut u8,
    len: usize,
    data_offset: usize,
    data_size: usize,
}

// SAFETY: the mapping belongs to this value alone; it is only read and written through it.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps `data_pages` (a power of two) pages of ring buffer for the event `fd`.
    pub fn map(fd: OwnedFd, data_pages: usize) -> io::Result<Ring> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
        let len = page * (1 + data_pages);
        // SAFETY: a fresh shared mapping of the event's buffer; the kernel checks the size.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = base as *mut u8;
        // SAFETY: the first page is the perf_event_mmap_page; data_offset and data_size are
        // at 1040 and 1048 (zero on kernels before 4.1: the data follows the first page).
        let (off, size) = unsafe {
            (
                std::ptr::read_volatile(base.add(1040) as *const u64) as usize,
                std::ptr::read_volatile(base.add(1048) as *const u64) as usize,
            )
        };
        let (data_offset, data_size) =
            if off == 0 || size == 0 || off.saturating_add(size) > len || !size.is_power_of_two() {
                (page, len - page)
            } else {
                (off, size)
            };
        Ok(Ring {
            fd,
            base,
            len,
            data_offset,
            data_size,
        })
    }

    fn head(&self) -> &AtomicU64 {
        // SAFETY: data_head (offset 1024) is an aligned u64 in the mapped first page, written
        // by the kernel.
        unsafe { &*(self.base.add(1024) as *const AtomicU64) }
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: data_tail (offset 1032) is an aligned u64 in the mapped first page, written
        // by us.
        unsafe { &*(self.base.add(1032) as *const AtomicU64) }
    }

    /// Copies `n` bytes at ring position `pos` (wrapping) to `out`.
    fn copy(&self, pos: u64, n: usize, out: &mut Vec<u8>) {
        let size = self.data_size;
        let start = (pos % size as u64) as usize;
        let first = n.min(size - start);
        // SAFETY: both ranges lie inside the data area of the mapping.
        unsafe {
            let data = self.base.add(self.data_offset);
            out.extend_from_slice(std::slice::from_raw_parts(data.add(start), first));
            if first < n {
                out.extend_from_slice(std::slice::from_raw_parts(data, n - first));
            }
        }
    }

    /// Appends every complete record in the buffer to `out` and frees their space; calls
    /// `seen(kind, record)` for each. Returns the number of records.
    pub fn drain(&mut self, out: &mut Vec<u8>, mut seen: impl FnMut(u32, &[u8])) -> usize {
        let head = self.head().load(Ordering::Acquire);
        let mut tail = self.tail().load(Ordering::Relaxed);
        let mut n = 0;
        let mut header = Vec::with_capacity(8);
        while tail < head {
            header.clear();
            self.copy(tail, 8, &mut header);
            let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let size = u16::from_le_bytes([header[6], header[7]]) as u64;
            if size < 8 || tail + size > head {
                // A record the kernel cannot have written: skip what is there.
                tail = head;
                break;
            }
            let at = out.len();
            self.copy(tail, size as usize, out);
            seen(kind, &out[at..]);
            tail += size;
            n += 1;
        }
        self.tail().store(tail, Ordering::Release);
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are the mapping made in `map`, unmapped once.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

/// `/proc/sys/kernel/<name>` as a number.
pub fn sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The online CPUs (`/sys/devices/system/cpu/online`: "0-3,6"), else 0..available_parallelism.
pub fn online_cpus() -> Vec<i32> {
    let parse = |text: &str| -> Option<Vec<i32>> {
        let mut out = Vec::new();
        for part in text.trim().split(',').filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => out.extend(a.parse::<i32>().ok()?..=b.parse::<i32>().ok()?),
                None => out.push(part.parse().ok()?),
            }
        }
        (!out.is_empty() && out.len() <= 4096).then_some(out)
    };
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse(&t))
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n as i32).collect()
        })
}
