//! The fallback when `perf_event_open` cannot be used directly: `perf record -o -` (pipe mode)
//! as a child process, its output read as it comes. The stream is perf's own pipe-mode
//! perf.data, which the same parser reads, so the views work the same.

use super::{RecordError, RecordOptions, Recorder, Shared, reap};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The `perf record` process and its control FIFO (enable / disable).
pub(super) struct PerfProcess {
    pub pid: i32,
    ctl: Option<std::fs::File>,
    dir: std::path::PathBuf,
}

impl PerfProcess {
    pub fn set_enabled(&self, on: bool) {
        if let Some(mut ctl) = self.ctl.as_ref() {
            let _ = ctl.write_all(if on { b"enable\n" } else { b"disable\n" });
        }
    }

    /// Asks perf to finish (SIGINT: it flushes and exits), then insists.
    pub fn end(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if reap(self.pid) {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What to record.
pub(super) enum Target<'a> {
    Pid(i32),
    Command(&'a [OsString]),
}

/// Starts `perf record` on the target; the reader thread fills `shared`.
pub(super) fn start(target: Target<'_>, opts: &RecordOptions) -> Result<Recorder, RecordError> {
    let dir = std::env::temp_dir().join(format!("stacklens-perf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let ctl_path = dir.join("ctl");
    let _ = std::fs::remove_file(&ctl_path);
    let c = std::ffi::CString::new(ctl_path.as_os_str().as_encoded_bytes()).ok();
    // SAFETY: a NUL-terminated path.
    let fifo = c.is_some_and(|c| unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0);
    let mut cmd = Command::new("perf");
    cmd.args([
        "record",
        "-q",
        "-g",
        "-F",
        &opts.frequency.to_string(),
        "-o",
        "-",
    ]);
    cmd.arg("-e").arg(if opts.kernel {
        "cpu-clock"
    } else {
        "cpu-clock:u"
    });
    if fifo {
        cmd.arg(format!("--control=fifo:{}", ctl_path.display()));
    }
    match target {
        Target::Pid(pid) => {
            cmd.arg("-p").arg(pid.to_string());
        }
        Target::Command(args) => {
            // The program's own output goes to stderr: stdout carries the capture.
            cmd.args(["--", "sh", "-c", "exec \"$@\" 1>&2", "sh"]);
            cmd.args(args);
        }
    }
    cmd.stdout(Stdio::piped()).stdin(Stdio::null());
    // perf must not get the terminal's Ctrl+C before we ask it to stop.
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        RecordError::Unavailable(std::io::Error::new(
            e.kind(),
            format!("and `perf` cannot be run either: {e}"),
        ))
    })?;
    let perf_pid = child.id() as i32;
    let mut out = child.stdout.take().expect("piped");
    // Without a reader on the FIFO, opening it for writing would block: read-write does not.
    let ctl = fifo
        .then(|| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&ctl_path)
                .ok()
        })
        .flatten();
    let shared = Arc::new(Shared::new(Vec::new(), 0));
    let s = shared.clone();
    let worker = std::thread::Builder::new()
        .name("stacklens-perf-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            // Records are counted as they complete: `at` is the next record's offset.
            let mut at = 16usize;
            loop {
                let n = match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let Ok(mut st) = s.stream.lock() else { break };
                st.extend_from_slice(&buf[..n]);
                let mut tally = super::Tally::default();
                while at + 8 <= st.len() {
                    let kind = u32::from_le_bytes(st[at..at + 4].try_into().unwrap_or([0; 4]));
                    let size = u16::from_le_bytes([st[at + 6], st[at + 7]]) as usize;
                    if size < 8 || at + size > st.len() {
                        break;
                    }
                    tally.see(kind, &st[at..at + size]);
                    at += size;
                }
                drop(st);
                tally.publish(&s);
            }
            // perf ended: asked to (stop), or the target did.
            if !s.stop.load(Ordering::Relaxed) {
                s.exited.store(true, Ordering::Relaxed);
            }
        })
        .map_err(|e| RecordError::Other(format!("cannot start a reader thread: {e}")))?;
    // Reaped by `PerfProcess::end` (a `Child` does nothing when dropped).
    drop(child);
    let perf = PerfProcess {
        pid: perf_pid,
        ctl,
        dir,
    };
    Ok(Recorder::with_perf(shared, worker, perf, opts.kernel))
}
