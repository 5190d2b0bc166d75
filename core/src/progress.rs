//! Progress and cancellation shared between a loading thread and the thread watching it.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// When each step of the load ended, and the process's CPU time then, for `--timings`.
    laps: Mutex<Vec<(&'static str, Instant, Duration)>>,
    /// The load's memory budget, shared with the [`MemoryGate`]s of its builders.
    memory: Arc<Budget>,
    /// When [`check`](Self::check) last measured the memory (ns since `created`).
    memory_checked: AtomicU64,
    created: std::sync::OnceLock<Instant>,
}

/// A load's memory budget.
#[derive(Debug, Default)]
struct Budget {
    /// Bytes of anonymous memory the load may add (0: no budget), over `base`.
    budget: AtomicU64,
    base: AtomicU64,
    /// Set when a [`MemoryGate`] refused a growth: the memory the load held then, and how
    /// much more the growth asked for (0: nothing refused).
    refused_used: AtomicU64,
    refused_more: AtomicU64,
}

impl Budget {
    /// Anonymous memory the load holds now, over its base.
    fn used(&self) -> u64 {
        anonymous_rss()
            .unwrap_or(0)
            .saturating_sub(self.base.load(Ordering::Relaxed))
    }

    fn refuse(&self, used: u64, more: u64) {
        self.refused_used.store(used, Ordering::Relaxed);
        self.refused_more.store(more.max(1), Ordering::Relaxed);
    }

    fn too_big(&self) -> Option<crate::Error> {
        let more = self.refused_more.load(Ordering::Relaxed);
        (more != 0).then(|| crate::Error::TooBig {
            budget: self.budget.load(Ordering::Relaxed),
            used: self.refused_used.load(Ordering::Relaxed),
            more,
        })
    }
}

/// Asked before a load's big allocations grow (a builder's stack table and sample columns,
/// the output of decompression): the growth is refused when it would take the load past its
/// memory budget. A refusal also fails the load's next
/// [`Progress::check`] with [`Error::TooBig`](crate::Error::TooBig).
///
/// The periodic check of [`Progress`] measures what a load holds, after the fact: between two
/// checks, one doubling of a table of hundreds of MB would overshoot the budget by its whole
/// size. The gate looks before the allocation instead.
#[derive(Clone, Debug, Default)]
pub struct MemoryGate(Option<Arc<Budget>>);

/// Growths smaller than this are let through without a look (the periodic check sees them).
pub const GATE_MIN_BYTES: u64 = 1 << 20;

impl MemoryGate {
    /// Whether the load may allocate `more` bytes now. Refusing is sticky: once refused, the
    /// load is over.
    pub fn admit(&self, more: u64) -> bool {
        match self.look(more) {
            Ok(fits) => fits,
            Err((b, used)) => {
                b.refuse(used, more);
                false
            }
        }
    }

    /// Whether [`admit`](Self::admit) would let `more` bytes through, without refusing: for
    /// an allocation the load can do without.
    pub fn would_admit(&self, more: u64) -> bool {
        self.look(more).unwrap_or(false)
    }

    /// Whether `more` bytes fit; `Err` with the budget and what the load holds when they do
    /// not, and nothing was refused before.
    fn look(&self, more: u64) -> std::result::Result<bool, (&Budget, u64)> {
        let Some(b) = &self.0 else {
            return Ok(true);
        };
        if b.refused_more.load(Ordering::Relaxed) != 0 {
            return Ok(false);
        }
        let budget = b.budget.load(Ordering::Relaxed);
        if budget == 0 || more < GATE_MIN_BYTES {
            return Ok(true);
        }
        let used = b.used();
        if used.saturating_add(more) <= budget {
            return Ok(true);
        }
        Err((b, used))
    }

    /// Refuses a growth of `more` bytes without looking: the load is over.
    pub fn refuse(&self, more: u64) {
        if let Some(b) = &self.0 {
            b.refuse(b.used(), more);
        }
    }

    /// The load's memory budget in bytes (0: none).
    pub fn budget(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |b| b.budget.load(Ordering::Relaxed))
    }

    /// The "too big" error once the gate has refused a growth.
    pub fn refusal(&self) -> Option<crate::Error> {
        self.0.as_ref().and_then(|b| b.too_big())
    }
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

/// One step of a load: its wall time and the process's CPU time meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct LapTime {
    pub what: &'static str,
    pub wall: Duration,
    pub cpu: Duration,
}

/// CPU time (user and system) of all of this process's threads so far.
pub fn process_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write to.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    Duration::ZERO
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
        let m = &self.memory;
        m.base
            .store(anonymous_rss().unwrap_or(0), Ordering::Relaxed);
        m.refused_more.store(0, Ordering::Relaxed);
        self.memory_checked.store(0, Ordering::Relaxed);
        m.budget.store(bytes, Ordering::Relaxed);
    }

    /// The gate a builder filling this load asks before its big tables grow.
    pub fn memory_gate(&self) -> MemoryGate {
        MemoryGate(Some(Arc::clone(&self.memory)))
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
        if let Some(e) = self.memory.too_big() {
            return Err(e);
        }
        let budget = self.memory.budget.load(Ordering::Relaxed);
        if budget == 0 {
            return Ok(());
        }
        let now = self.created.get_or_init(Instant::now).elapsed().as_nanos() as u64;
        let last = self.memory_checked.load(Ordering::Relaxed);
        if !now_anyway && last != 0 && now.saturating_sub(last) < MEMORY_CHECK_INTERVAL_NS {
            return Ok(());
        }
        self.memory_checked.store(now.max(1), Ordering::Relaxed);
        let used = self.memory.used();
        if used > budget {
            return Err(crate::Error::TooBig {
                budget,
                used,
                more: 0,
            });
        }
        Ok(())
    }

    /// Notes that a step of the load named `what` ends now.
    pub fn lap(&self, what: &'static str) {
        let mut laps = self.laps.lock().unwrap_or_else(|e| e.into_inner());
        // A load has a handful of steps; a bound keeps a misuse from growing it.
        if laps.len() < 64 {
            laps.push((what, Instant::now(), process_cpu_time()));
        }
    }

    /// Each step noted with [`lap`](Self::lap): how long it took (from the step before, or
    /// from [`Progress::new`]) and the CPU time the whole process spent meanwhile (on all its
    /// threads: the step's own, and whatever else the process ran).
    pub fn lap_times(&self) -> Vec<LapTime> {
        let laps = self.laps.lock().unwrap_or_else(|e| e.into_inner());
        (laps.windows(2))
            .map(|w| LapTime {
                what: w[1].0,
                wall: w[1].1.duration_since(w[0].1),
                cpu: w[1].2.saturating_sub(w[0].2),
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModuleId, ProfileBuilder, StackId, Unit};

    /// A builder filling `progress`'s load, after it was asked for a chain `depth` stacks deep.
    fn chain(progress: &Progress, depth: usize) -> ProfileBuilder {
        let mut b = ProfileBuilder::new("test");
        b.set_memory_gate(progress.memory_gate());
        let frame = b.add_address_frame(ModuleId::NONE, 0x1000);
        let mut s = StackId::NONE;
        for _ in 0..depth {
            s = b.add_stack(s, frame);
        }
        b
    }

    /// With a budget smaller than any large step, the builder's stack table and sample columns
    /// stop before the step that would cross it, and the load's next check says why, with
    /// the size of the step it refused.
    #[test]
    fn big_tables_ask_the_gate_before_they_grow() {
        let progress = Progress::new();
        progress.set_memory_budget(1);
        let stacks = chain(&progress, 1_000_000).stacks.len();
        // 17 bytes of table per stack: its step from 32 Ki to 64 Ki buckets (1.1 MB, when it
        // holds 28,672) is the first of 1 MiB or more; the 8 bytes of columns grow later.
        assert!((16_384..=65_536).contains(&stacks), "{stacks}");
        match progress.check() {
            Err(crate::Error::TooBig {
                budget: 1, more, ..
            }) => {
                assert!(more >= GATE_MIN_BYTES, "{more}")
            }
            other => panic!("expected TooBig, got {other:?}"),
        }

        // Samples, on a builder whose stacks could grow: rows stop at the first 1 MiB step.
        let progress = Progress::new();
        let mut b = ProfileBuilder::new("test");
        let t = b.add_thread(1, 1);
        b.add_sample_type("samples", Unit::Count);
        b.set_memory_gate(progress.memory_gate());
        progress.set_memory_budget(1);
        for i in 0..1_000_000 {
            b.add_sample_one(t, StackId::NONE, i, 0, 1);
        }
        let p = b.freeze();
        assert!(
            (1..=65_536).contains(&p.samples.len()),
            "{}",
            p.samples.len()
        );
        assert!(matches!(progress.check(), Err(crate::Error::TooBig { .. })));
    }

    /// Without a budget the gate lets everything through.
    #[test]
    fn no_budget_no_refusal() {
        let progress = Progress::new();
        assert_eq!(chain(&progress, 200_000).stacks.len(), 200_000);
        assert!(progress.check().is_ok());
    }
}
