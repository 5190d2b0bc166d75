//! Sampling a running process with `perf_event_open(2)` (no `perf` binary needed).
//!
//! One software `cpu-clock` event per thread of the target and CPU, inherited by the threads
//! and processes they create (so a launched shell script's children are followed too), at a
//! chosen frequency, with callchains (frame pointers; kernel frames too where the system allows
//! them). The events of one CPU share one ring buffer, as `perf record` does. A background
//! thread drains the buffers every few milliseconds into one pipe-mode `perf.data` byte stream
//! ([`stream`]), which the ordinary perf.data parser reads: a snapshot at any moment is a
//! complete capture, symbolized like any file.
//!
//! What an unprivileged user can do depends on `kernel.perf_event_paranoid`; each refusal
//! becomes a [`RecordError`] that names the cause and the fix.

mod perf;
mod stream;
mod sys;

use std::ffi::{CString, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::formats::perf_data::records::{EXIT, FORK, LOST, SAMPLE};
use std::os::fd::OwnedFd;
use sys::{Attr, Ring};

/// Ring buffer pages per CPU (128 KiB: about 200 ms of samples of a busy CPU at 999 Hz with
/// deep stacks; the buffers are drained every 10 ms).
const DATA_PAGES: usize = 32;
/// How often the buffers are drained.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// Default sampling frequency (as perf: off the timer's 1 kHz beat).
pub const DEFAULT_FREQUENCY: u32 = 999;

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Samples per second of CPU time of each thread.
    pub frequency: u32,
    /// Record kernel frames too when the system allows it (else user frames only, and the
    /// capture says why).
    pub kernel: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            frequency: DEFAULT_FREQUENCY,
            kernel: true,
        }
    }
}

/// Why recording could not start (or stopped), with what to do about it.
#[derive(Debug)]
pub enum RecordError {
    /// `kernel.perf_event_paranoid` forbids this user to sample.
    Paranoid {
        level: i64,
    },
    /// The process is another user's (or the caller lacks ptrace rights over it).
    NotPermitted {
        pid: i32,
    },
    NoSuchProcess {
        pid: i32,
    },
    /// Ring buffers need more locked memory than allowed.
    LockedMemory {
        kb: i64,
    },
    /// The frequency is above `kernel.perf_event_max_sample_rate`.
    RateTooHigh {
        asked: u32,
        max: i64,
    },
    /// `perf_event_open` does not exist or has no `cpu-clock` event here.
    Unavailable(io::Error),
    /// The command could not be started.
    Launch {
        command: String,
        error: io::Error,
    },
    Other(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Paranoid { level } => write!(
                f,
                "kernel.perf_event_paranoid is {level}, which does not allow this user to sample \
                 this process. Fix: `sudo sysctl kernel.perf_event_paranoid=1` (or run as root, \
                 or give stacklens the capability: `sudo setcap cap_perfmon,cap_sys_ptrace+ep \
                 $(command -v stacklens)`)"
            ),
            RecordError::NotPermitted { pid } => write!(
                f,
                "not permitted to sample process {pid} (another user's, or ptrace is restricted). \
                 Fix: run stacklens as that user or as root, or grant it CAP_PERFMON and \
                 CAP_SYS_PTRACE (`sudo setcap cap_perfmon,cap_sys_ptrace+ep $(command -v \
                 stacklens)`); with kernel.yama.ptrace_scope > 0, `sudo sysctl \
                 kernel.yama.ptrace_scope=0`"
            ),
            RecordError::NoSuchProcess { pid } => write!(f, "no process with pid {pid}"),
            RecordError::LockedMemory { kb } => write!(
                f,
                "the ring buffers need more locked memory than this user may have \
                 (kernel.perf_event_mlock_kb = {kb} KiB, plus `ulimit -l`). Fix: `sudo sysctl \
                 kernel.perf_event_mlock_kb=2048` or raise the memlock limit (`ulimit -l`)"
            ),
            RecordError::RateTooHigh { asked, max } => write!(
                f,
                "a sampling frequency of {asked} Hz is above kernel.perf_event_max_sample_rate \
                 ({max} Hz). Fix: ask for at most {max} Hz (-F {max}), or raise the limit: \
                 `sudo sysctl kernel.perf_event_max_sample_rate={asked}`"
            ),
            RecordError::Unavailable(e) => write!(
                f,
                "perf_event_open is not available here ({e}); stacklens falls back to `perf \
                 record` when it is installed"
            ),
            RecordError::Launch { command, error } => write!(f, "cannot run {command}: {error}"),
            RecordError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for RecordError {}

/// Where the recording stands.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub samples: u64,
    /// Samples the kernel dropped because a ring buffer was full (LOST records), exactly.
    pub lost: u64,
    /// Threads being sampled now.
    pub threads: usize,
    pub elapsed: Duration,
    /// The target has exited (everything it did is in the capture).
    pub target_exited: bool,
    pub paused: bool,
    /// Kernel frames are recorded.
    pub kernel: bool,
    /// Why kernel frames are not recorded, when they were asked for.
    pub kernel_note: Option<String>,
    /// An error of the background thread (the capture so far is kept).
    pub error: Option<String>,
}

struct Shared {
    stream: Mutex<Vec<u8>>,
    samples: AtomicU64,
    lost: AtomicU64,
    threads: AtomicUsize,
    stop: AtomicBool,
    paused: AtomicBool,
    exited: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Shared {
    fn new(stream: Vec<u8>, threads: usize) -> Self {
        Shared {
            stream: Mutex::new(stream),
            samples: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            threads: AtomicUsize::new(threads),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }
}

/// A recording in progress. Dropping it stops it.
pub struct Recorder {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    /// The launched command's pid (killed on stop if still running).
    child: Option<i32>,
    started: Instant,
    kernel: bool,
    kernel_note: Option<String>,
    /// The `perf record` process of the fallback.
    perf: Option<perf::PerfProcess>,
}

/// The recorded bytes (pipe-mode perf.data) and the final figures.
pub struct Capture {
    pub data: Vec<u8>,
    pub stats: Stats,
}

/// Maps an error of `perf_event_open` for `pid` to what the user can do about it.
fn open_error(e: io::Error, pid: i32) -> RecordError {
    match e.raw_os_error() {
        Some(libc::ESRCH) => RecordError::NoSuchProcess { pid },
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let level = sys::sysctl("perf_event_paranoid").unwrap_or(2);
            // Another user's process needs ptrace rights whatever the paranoid level; our own
            // is refused only by the level (above 2 even user-only sampling is).
            let ours = owner(pid).is_none_or(|uid| uid == effective_uid());
            if ours && !is_root() {
                RecordError::Paranoid { level }
            } else {
                RecordError::NotPermitted { pid }
            }
        }
        Some(libc::ENOENT) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            RecordError::Unavailable(e)
        }
        _ => RecordError::Other(format!("perf_event_open for pid {pid}: {e}")),
    }
}

/// The real user id owning process `pid`.
fn owner(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Checks the frequency against the system's limit.
fn check_rate(hz: u32) -> Result<(), RecordError> {
    if hz == 0 {
        return Err(RecordError::Other(
            "the sampling frequency must be at least 1 Hz".into(),
        ));
    }
    match sys::sysctl("perf_event_max_sample_rate") {
        Some(max) if hz as i64 > max => Err(RecordError::RateTooHigh { asked: hz, max }),
        _ => Ok(()),
    }
}

/// The events of the followed threads: one per (thread, CPU), inherited by what the thread
/// creates; every event of a CPU writes into that CPU's ring buffer.
struct Events {
    attr: Attr,
    cpus: Vec<i32>,
    /// Per CPU (as `cpus`): its ring, made with the first event opened on it.
    rings: Vec<Option<Ring>>,
    /// The other events (writing into the rings).
    others: Vec<OwnedFd>,
    /// Threads opened explicitly.
    threads: Vec<i32>,
}

impl Events {
    fn new(attr: Attr) -> Self {
        let cpus = sys::online_cpus();
        Events {
            attr,
            rings: cpus.iter().map(|_| None).collect(),
            cpus,
            others: Vec::new(),
            threads: Vec::new(),
        }
    }

    /// Opens thread `tid`'s events on every CPU.
    fn add_thread(&mut self, tid: i32) -> Result<(), RecordError> {
        for k in 0..self.cpus.len() {
            let fd = sys::open(&self.attr, tid, self.cpus[k]).map_err(|e| open_error(e, tid))?;
            match &self.rings[k] {
                Some(ring) => {
                    sys::set_output(&fd, &ring.fd).map_err(|e| {
                        RecordError::Other(format!("cannot share a ring buffer: {e}"))
                    })?;
                    self.others.push(fd);
                }
                None => {
                    let ring = Ring::map(fd, DATA_PAGES).map_err(|e| match e.raw_os_error() {
                        Some(libc::EPERM) | Some(libc::ENOMEM) => RecordError::LockedMemory {
                            kb: sys::sysctl("perf_event_mlock_kb").unwrap_or(516),
                        },
                        _ => RecordError::Other(format!("cannot map a ring buffer: {e}")),
                    })?;
                    self.rings[k] = Some(ring);
                }
            }
        }
        self.threads.push(tid);
        Ok(())
    }

    fn set_enabled(&self, on: bool) {
        let rings = self.rings.iter().flatten().map(|r| &r.fd);
        for fd in rings.chain(&self.others) {
            let _ = sys::set_enabled(fd, on);
        }
    }
}

/// The attribute to use: kernel frames when wanted and allowed (tried on `pid`), else user
/// frames only with the reason.
fn choose_attr(
    opts: &RecordOptions,
    pid: i32,
    on_exec: bool,
) -> Result<(Attr, Option<String>), RecordError> {
    check_rate(opts.frequency)?;
    let hz = opts.frequency as u64;
    let finish = |a: Attr| if on_exec { a.enabled_on_exec() } else { a };
    if opts.kernel {
        let a = finish(Attr::cpu_clock(hz, true));
        match sys::open(&a, pid, -1) {
            Ok(_) => return Ok((a, None)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
                let level = sys::sysctl("perf_event_paranoid").unwrap_or(2);
                let note = format!(
                    "kernel frames not recorded: kernel.perf_event_paranoid is {level} (set it to 1 \
                     or lower, or run as root, to see them)"
                );
                return Ok((finish(Attr::cpu_clock(hz, false)), Some(note)));
            }
            Err(e) => return Err(open_error(e, pid)),
        }
    }
    Ok((finish(Attr::cpu_clock(hz, false)), None))
}

/// `STACKLENS_RECORD_BACKEND=perf` records with `perf record` even where `perf_event_open`
/// works (to test the fallback, or to compare).
fn use_perf() -> bool {
    std::env::var("STACKLENS_RECORD_BACKEND").is_ok_and(|v| v == "perf")
}

/// Thread ids of process `pid`.
fn tasks(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

fn thread_name(pid: i32, tid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/task/{tid}/comm"))
        .map(|mut c| {
            while c.last() == Some(&b'\n') {
                c.pop();
            }
            c
        })
        .unwrap_or_default()
}

impl Recorder {
    /// Starts sampling the running process `pid` (all its threads); falls back to `perf
    /// record` when `perf_event_open` is not available (or `STACKLENS_RECORD_BACKEND=perf`).
    pub fn attach(pid: i32, opts: &RecordOptions) -> Result<Recorder, RecordError> {
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(RecordError::NoSuchProcess { pid });
        }
        if use_perf() {
            return perf::start(perf::Target::Pid(pid), opts);
        }
        match Self::attach_native(pid, opts) {
            Err(RecordError::Unavailable(e)) => {
                perf::start(perf::Target::Pid(pid), opts).map_err(|_| RecordError::Unavailable(e))
            }
            other => other,
        }
    }

    /// Starts `command` (program and arguments) and samples it from its first instruction,
    /// with the children it starts; falls back to `perf record` like [`Recorder::attach`].
    pub fn launch(command: &[OsString], opts: &RecordOptions) -> Result<Recorder, RecordError> {
        if command.is_empty() {
            return Err(RecordError::Other("no command to run".into()));
        }
        if use_perf() {
            return perf::start(perf::Target::Command(command), opts);
        }
        match Self::launch_native(command, opts) {
            Err(RecordError::Unavailable(e)) => perf::start(perf::Target::Command(command), opts)
                .map_err(|_| RecordError::Unavailable(e)),
            other => other,
        }
    }

    fn attach_native(pid: i32, opts: &RecordOptions) -> Result<Recorder, RecordError> {
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(RecordError::NoSuchProcess { pid });
        }
        let (attr, note) = choose_attr(opts, pid, false)?;
        let mut events = Events::new(attr.enabled());
        let add = |events: &mut Events, tid| match events.add_thread(tid) {
            // A thread that ended meanwhile.
            Err(RecordError::NoSuchProcess { .. }) => Ok(()),
            other => other,
        };
        for tid in tasks(pid) {
            add(&mut events, tid)?;
        }
        // Threads started while the events were being opened (later ones inherit them).
        for tid in tasks(pid) {
            if !events.threads.contains(&tid) {
                add(&mut events, tid)?;
            }
        }
        if events.threads.is_empty() {
            return Err(RecordError::NoSuchProcess { pid });
        }
        // What existed before the first sample: thread names and executable mappings.
        let mut out = stream::start(&attr.bytes());
        for &tid in &events.threads {
            stream::comm(&mut out, pid, tid, &thread_name(pid, tid), 0);
        }
        Self::synthesize_mappings(&mut out, pid, !attr.excludes_kernel());
        Ok(Self::run(pid, None, note, events, out))
    }

    fn launch_native(command: &[OsString], opts: &RecordOptions) -> Result<Recorder, RecordError> {
        let shown = command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let args: Vec<CString> = command
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| RecordError::Other("an argument contains a NUL byte".into()))?;
        let child = spawn_stopped(&args).map_err(|error| RecordError::Launch {
            command: shown.clone(),
            error,
        })?;
        let pid = child.pid;
        let start = || -> Result<(Attr, Option<String>, Events), RecordError> {
            let (attr, note) = choose_attr(opts, pid, true)?;
            let mut events = Events::new(attr);
            events.add_thread(pid)?;
            Ok((attr, note, events))
        };
        let (attr, note, events) = match start() {
            Ok(x) => x,
            Err(e) => {
                child.abandon();
                return Err(e);
            }
        };
        let mut out = stream::start(&attr.bytes());
        if !attr.excludes_kernel()
            && let Some(k) = std::fs::read_to_string("/proc/kallsyms")
                .ok()
                .and_then(|k| stream::kernel_mapping(&k))
        {
            stream::mmap(&mut out, -1, &k, 0);
        }
        // Exec: the kernel enables the events and writes COMM and MMAP records from here on.
        child.go().map_err(|error| RecordError::Launch {
            command: shown,
            error,
        })?;
        Ok(Self::run(pid, Some(pid), note, events, out))
    }

    fn synthesize_mappings(out: &mut Vec<u8>, pid: i32, kernel: bool) {
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            for m in stream::exec_mappings(&maps) {
                stream::mmap(out, pid, &m, 0);
            }
        }
        if kernel
            && let Some(k) = std::fs::read_to_string("/proc/kallsyms")
                .ok()
                .and_then(|k| stream::kernel_mapping(&k))
        {
            stream::mmap(out, -1, &k, 0);
        }
    }

    fn run(
        pid: i32,
        child: Option<i32>,
        note: Option<String>,
        events: Events,
        out: Vec<u8>,
    ) -> Recorder {
        let kernel = !events.attr.excludes_kernel();
        let shared = Arc::new(Shared::new(out, events.threads.len()));
        let s = shared.clone();
        let worker = std::thread::Builder::new()
            .name("stacklens-record".into())
            .spawn(move || worker(pid, child, events, &s))
            .ok();
        if worker.is_none() {
            *shared.error.lock().unwrap_or_else(|p| p.into_inner()) =
                Some("cannot start the recording thread".into());
        }
        Recorder {
            shared,
            worker,
            child,
            started: Instant::now(),
            kernel,
            kernel_note: note,
            perf: None,
        }
    }

    fn with_perf(
        shared: Arc<Shared>,
        worker: JoinHandle<()>,
        perf: perf::PerfProcess,
        kernel: bool,
    ) -> Recorder {
        Recorder {
            shared,
            worker: Some(worker),
            child: None,
            started: Instant::now(),
            kernel,
            kernel_note: Some(if use_perf() {
                "recorded with `perf record` (STACKLENS_RECORD_BACKEND=perf)".into()
            } else {
                "recorded with `perf record` (perf_event_open was not available)".into()
            }),
            perf: Some(perf),
        }
    }

    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            samples: s.samples.load(Ordering::Relaxed),
            lost: s.lost.load(Ordering::Relaxed),
            threads: s.threads.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
            target_exited: s.exited.load(Ordering::Relaxed),
            paused: s.paused.load(Ordering::Relaxed),
            kernel: self.kernel,
            kernel_note: self.kernel_note.clone(),
            error: s.error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// A copy of the capture so far (a complete pipe-mode perf.data).
    pub fn snapshot(&self) -> Vec<u8> {
        self.shared
            .stream
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Stops sampling until [`Recorder::resume`] (the threads keep being followed).
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Relaxed);
        if let Some(p) = &self.perf {
            p.set_enabled(false);
        }
    }

    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::Relaxed);
        if let Some(p) = &self.perf {
            p.set_enabled(true);
        }
    }

    /// Has the target exited (and everything it did been read).
    pub fn is_finished(&self) -> bool {
        self.shared.exited.load(Ordering::Relaxed)
    }

    /// Stops: drains the buffers a last time, ends a launched command that is still running,
    /// and returns the capture.
    pub fn stop(mut self) -> Capture {
        self.finish();
        let stats = self.stats();
        let data =
            std::mem::take(&mut *self.shared.stream.lock().unwrap_or_else(|p| p.into_inner()));
        Capture { data, stats }
    }

    fn finish(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(mut p) = self.perf.take() {
            p.end();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        if let Some(child) = self.child.take() {
            end_child(child);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The background thread: drains every ring buffer into the stream, keeps count of the
/// threads alive (FORK and EXIT records), pauses and resumes, notices the end of the target.
fn worker(pid: i32, child: Option<i32>, mut events: Events, s: &Shared) {
    let mut live: std::collections::BTreeSet<i32> = events.threads.iter().copied().collect();
    let mut paused = false;
    let mut chunk = Vec::with_capacity(1 << 16);
    loop {
        let stopping = s.stop.load(Ordering::Relaxed);
        // Has the target ended? (Checked before the last drain, so nothing is left behind.)
        let gone = !stopping
            && match child {
                Some(c) => reap(c),
                None => !process_exists(pid),
            };
        let mut tally = Tally::default();
        for r in events.rings.iter_mut().flatten() {
            r.drain(&mut chunk, |kind, rec| {
                tally.see(kind, rec);
                // pid, ppid, tid, ptid after the header.
                if (kind == FORK || kind == EXIT)
                    && let Some(tid) = rec.get(16..20)
                {
                    let tid = i32::from_le_bytes(tid.try_into().unwrap_or([0; 4]));
                    if kind == FORK {
                        live.insert(tid);
                    } else {
                        live.remove(&tid);
                    }
                }
            });
        }
        if !chunk.is_empty() {
            if let Ok(mut st) = s.stream.lock() {
                st.extend_from_slice(&chunk);
            }
            chunk.clear();
        }
        tally.publish(s);
        s.threads.store(live.len(), Ordering::Relaxed);
        if gone {
            s.exited.store(true, Ordering::Relaxed);
            break;
        }
        if stopping {
            break;
        }
        let want_pause = s.paused.load(Ordering::Relaxed);
        if want_pause != paused {
            events.set_enabled(!want_pause);
            paused = want_pause;
        }
        std::thread::sleep(DRAIN_EVERY);
    }
    s.threads.store(0, Ordering::Relaxed);
}

/// Samples and lost samples among records, as they are read.
#[derive(Default)]
struct Tally {
    samples: u64,
    lost: u64,
}

impl Tally {
    fn see(&mut self, kind: u32, rec: &[u8]) {
        match kind {
            SAMPLE => self.samples += 1,
            // header, id, lost
            LOST => {
                self.lost += rec
                    .get(16..24)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u64::from_le_bytes)
            }
            _ => {}
        }
    }

    /// Adds the counts to the shared figures.
    fn publish(self, s: &Shared) {
        s.samples.fetch_add(self.samples, Ordering::Relaxed);
        s.lost.fetch_add(self.lost, Ordering::Relaxed);
    }
}

/// Does process `pid` exist (a zombie counts as ended).
fn process_exists(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized name: "Z" is a zombie, "X" dead.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z') | Some('X') | None
        ),
        Err(_) => false,
    }
}

/// Has the launched child exited (reaped if so).
fn reap(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waits on our own child without blocking.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    r == pid || (r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Ends a launched command that is still running: SIGTERM, then SIGKILL after a second.
fn end_child(pid: i32) {
    if reap(pid) {
        return;
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if reap(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// A forked child waiting to exec until told to (so its events can be opened first).
struct Stopped {
    pid: i32,
    /// Write end of the "go" pipe.
    go: libc::c_int,
    /// Read end of the exec-error pipe.
    err: libc::c_int,
}

/// Forks a child that waits for [`Stopped::go`] and then runs `args` (searched in PATH).
fn spawn_stopped(args: &[CString]) -> io::Result<Stopped> {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let pipe = || -> io::Result<[libc::c_int; 2]> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fds)
    };
    let go = pipe()?;
    let err = pipe()?;
    // SAFETY: between fork and exec the child only calls async-signal-safe functions (read,
    // execvp, write, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            libc::close(go[1]);
            libc::close(err[0]);
            let mut b = 0u8;
            if libc::read(go[0], &mut b as *mut u8 as *mut libc::c_void, 1) != 1 {
                libc::_exit(126);
            }
            libc::execvp(argv[0], argv.as_ptr());
            let e = *libc::__errno_location();
            libc::write(err[1], &e as *const i32 as *const libc::c_void, 4);
            libc::_exit(127);
        }
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(go[0]);
        libc::close(err[1]);
    }
    Ok(Stopped {
        pid,
        go: go[1],
        err: err[0],
    })
}

impl Stopped {
    /// Lets the child exec; an error if exec failed.
    fn go(self) -> io::Result<()> {
        let (pid, go, err) = (self.pid, self.go, self.err);
        std::mem::forget(self);
        let mut e = 0i32;
        // SAFETY: plain reads and writes on our pipe ends, closed once.
        let n = unsafe {
            libc::write(go, b"g".as_ptr() as *const libc::c_void, 1);
            libc::close(go);
            let n = libc::read(err, &mut e as *mut i32 as *mut libc::c_void, 4);
            libc::close(err);
            n
        };
        if n == 4 {
            let mut status = 0;
            // SAFETY: reaping our own child, which exits at once.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(io::Error::from_raw_os_error(e));
        }
        Ok(())
    }

    /// Ends the child without running the command.
    fn abandon(self) {
        let pid = self.pid;
        drop(self);
        let mut status = 0;
        // SAFETY: the child exits when its go pipe closes (dropped above); reap it.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: closing our pipe ends once.
        unsafe {
            libc::close(self.go);
            libc::close(self.err);
        }
    }
}
