//! Progress and cancellation shared between a loading thread and the thread watching it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a load is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Reading = 0,
    Symbolizing = 1,
    Aggregating = 2,
    Done = 3,
}

/// Shared, lock-free progress of one load: `done` of `total` units (bytes while reading,
/// addresses while symbolizing) in the current phase, and a cancel flag that the loader
/// checks between records.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    phase: AtomicU8,
    cancelled: AtomicBool,
    /// When each step of the load ended, for `--timings`.
    laps: Mutex<Vec<(&'static str, Instant)>>,
    /// Bytes of anonymous memory the load may add (0: no budget), over `memory_base`.
    memory_budget: AtomicU64,
    memory_base: AtomicU64,
    /// When [`check`](Self::check) last measured the memory (ns since `created`).
    memory_checked: AtomicU64,
    created: std::sync::OnceLock<Instant>,
}

/// How often [`Progress::check`] measures the process's memory, at most.
const MEMORY_CHECK_INTERVAL_NS: u64 = 10_000_000;

/// Resident anonymous memory of this process (resident minus file-backed pages, from
/// `/proc/self/statm`): what a load allocates, without the mapped profile file's pages, which
/// the kernel can drop at any time.
pub fn anonymous_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut f = statm.split_ascii_whitespace().skip(1);
    let resident: u64 = f.next()?.parse().ok()?;
    let shared: u64 = f.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    Some(resident.saturating_sub(shared) * page)
}

/// Memory the system can still give (`MemAvailable` of `/proc/meminfo`).
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Progress {
    pub fn new() -> Self {
        let p = Self::default();
        p.lap("start");
        p
    }

    /// Gives the load a budget of `bytes` of memory on top of what the process holds now;
    /// past it, [`check`](Self::check) fails with [`Error::TooBig`](crate::Error::TooBig)
    /// instead of the machine running out of memory. 0 removes the budget.
    pub fn set_memory_budget(&self, bytes: u64) {
        self.memory_base
            .store(anonymous_rss().unwrap_or(0), Ordering::Relaxed);
        self.memory_checked.store(0, Ordering::Relaxed);
        self.memory_budget.store(bytes, Ordering::Relaxed);
    }

    /// `Err(TooBig)` when the load has grown past its memory budget (measured at most every
    /// 10 ms: reading the process's memory costs a system call).
    fn check_memory(&self) -> crate::Result<()> {
        self.check_memory_at(false)
    }

    /// [`check`](Self::check)'s memory test, now (between the steps of a load, where no
    /// parser's periodic check would see what the step allocated).
    pub fn check_memory_now(&self) -> crate::Result<()> {
        self.check_memory_at(true)
    }

    fn check_memory_at(&self, now_anyway: bool) -> crate::Result<()> {
        let budget = self.memory_budget.load(Ordering::Relaxed);
        if budget == 0 {
            return Ok(());
        }
        let now = self.created.get_or_init(Instant::now).elapsed().as_nanos() as u64;
        let last = self.memory_checked.load(Ordering::Relaxed);
        if !now_anyway && last != 0 && now.saturating_sub(last) < MEMORY_CHECK_INTERVAL_NS {
            return Ok(());
        }
        self.memory_checked.store(now.max(1), Ordering::Relaxed);
        let used = anonymous_rss()
            .unwrap_or(0)
            .saturating_sub(self.memory_base.load(Ordering::Relaxed));
        if used > budget {
            return Err(crate::Error::TooBig { budget, used });
        }
        Ok(())
    }

    /// Notes that a step of the load named `what` ends now.
    pub fn lap(&self, what: &'static str) {
        let mut laps = self.laps.lock().unwrap_or_else(|e| e.into_inner());
        // A load has a handful of steps; a bound keeps a misuse from growing it.
        if laps.len() < 64 {
            laps.push((what, Instant::now()));
        }
    }

    /// Each step noted with [`lap`](Self::lap) and how long it took (from the step before,
    /// or from [`Progress::new`]).
    pub fn laps(&self) -> Vec<(&'static str, Duration)> {
        let laps = self.laps.lock().unwrap_or_else(|e| e.into_inner());
        laps.windows(2)
            .map(|w| (w[1].0, w[1].1.duration_since(w[0].1)))
            .collect()
    }

    /// Enters `phase` with `total` units of work.
    pub fn start_phase(&self, phase: Phase, total: u64) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    /// Sets how much of the current phase is done.
    pub fn set_done(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    /// Adds to how much of the current phase is done.
    pub fn add_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Reading,
            1 => Phase::Symbolizing,
            2 => Phase::Aggregating,
            _ => Phase::Done,
        }
    }

    /// Units of the current phase done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Units of work in the current phase.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Fraction of the current phase done, 0.0 to 1.0.
    pub fn fraction(&self) -> f32 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0.0;
        }
        (self.done.load(Ordering::Relaxed) as f64 / total as f64).min(1.0) as f32
    }

    /// Asks the load to stop; it returns [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once [`cancel`](Self::cancel) was called; `Err(TooBig)` once the load
    /// grew past its memory budget.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::Cancelled)
        } else {
            self.check_memory()
        }
    }
}
