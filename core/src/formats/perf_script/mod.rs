//! `perf script` text: one sample per header line, optionally followed by its call chain (one
//! frame per line, leaf first) and a blank line. Read in perf's default form and with the
//! common `-F` field sets (perf 6.1 output shown):
//!
//! ```text
//! hot 22152  5283.264442:    1001001 cpu-clock:u:         ← comm tid time: period event:
//!             1264 leaf_a+0x34 (/work/bin/hot)            ← (a tab) ip sym+off (dso), leaf first
//!             1415 main_work+0x25 (/work/bin/hot)
//!            2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)
//!                                                         ← a blank line ends the sample
//!              hot 22157/22157 [001] 5284.360433:          1 page-faults:u:      7f1637a1fb70 _start (/usr/lib/…/ld-linux-x86-64.so.2)
//!   ↑ -F comm,pid,tid,cpu,time,period,event,ip,sym,dso -G: no call chain, the frame on the
//!     header line, no blank lines
//! ```
//!
//! **Header line.** perf prints its fields in a fixed order, each optional: comm (may contain
//! spaces, right-aligned to 16 columns without a call chain), `tid` or `pid/tid`, `[cpu]`,
//! `secs.frac:` time, period, `event:` (right-aligned, with modifiers: `cpu-clock:u`,
//! `cycles:ppp`, tracepoints `sched:sched_switch`), then, without a call chain, `ip sym (dso)`.
//! The time token is the anchor: the tokens before it are read backwards (cpu, ids, then the
//! rest is the comm, so spaces in it are kept), the ones after forwards. Without a time field
//! the event token (`…:`) right after the ids is the anchor. Other fields are not read: a
//! tail that is not `ip sym (dso)` (a tracepoint's payload) is ignored; fields perf prints
//! between the event and the ip (`-F +addr`, `+flags`) are not supported (the first would be
//! read as the ip).
//!
//! **Frame lines** (tab-indented; also the header's tail): `ip`, then the symbol (offset
//! `+0x…` stripped: `-F +symoff` and perf's default), then `(dso)` (a trailing `+0x…` dso
//! offset is stripped). perf prints sym and dso only with an ip, so the first token is always
//! the hex ip. An inlined function (`perf script --inline`) is a line `ip name (inlined)`
//! without dso, before the function it was inlined into; with `-F +srcline` each frame is
//! followed by a line `  file:line` (` (inlined)` then ends that line instead).
//!
//! **Mapping.**
//! - Every event name is its own sample type, in order of first appearance (other readers of
//!   this format keep only the first event). Weight = the period when printed, else 1. Unit:
//!   nanoseconds for `cpu-clock` / `task-clock` (their period is in ns), events for other
//!   events, count when no period is printed. Periods above 2^48 are clamped (with a warning).
//!   Without an event field every sample is of one type `samples`.
//! - Threads by (pid, tid). With one number (perf's default prints the tid only), pid = tid:
//!   the text does not say which process a thread belongs to. No ids: thread (0, 0). A
//!   thread is named by its latest comm (by time), the process by its main thread's (tid ==
//!   pid).
//! - Time `secs.frac:` (µs, or ns with `--ns`) → ns, exact; no time field → every sample at 0.
//! - Frames: each line becomes a function `sym` in module `dso`
//!   (`add_module(dso, "", kind)`: `[kernel.kallsyms]` and other bracketed names at kernel
//!   addresses → Kernel, `[unknown]` → Unknown, `[vdso]` → Vdso, `//anon`, `[anon…]`,
//!   `/tmp/perf-N.map`, `/memfd:…` → Jit, other paths → Native) and a frame at the printed
//!   ip, stacks built root first. The function's address is 0: the ip is module-relative in
//!   perf 6.x call chains but absolute on the header line and in older versions, so `ip - off`
//!   would split one function across processes (ASLR). The cost: two same-named static
//!   functions of one module are one function here (`perf report --sort sym` keeps them
//!   apart; the self figures by name are the same).
//! - Unknown symbols are named as the perf.data reader names what it cannot symbolize:
//!   `[kernel]` in the kernel, `[unknown]` in `[unknown]` (or no) module, else
//!   `module+0xip` (module file name) — perf report prints these as bare addresses. Without a
//!   sym field a frame is `module+0xip` (or `0xip` without dso).
//! - Mangled names (`--no-demangle`) are demangled like symbols from ELF files.
//! - `(inlined)` frames get the module of the function they were inlined into and inline
//!   depth 1, 2, … above it, as symbolization gives them. The names come from perf, so the
//!   symbolization options (`--no-inline`) do not apply: run `perf script --no-inline` instead.
//! - `-F +srcline`: the function's file is the first srcline file seen for it (a function's
//!   file must not depend on which address was sampled, or it would split; frames of it seen
//!   before any file, `??:0`, stay a function without file); a frame keeps its line when its
//!   file is the function's.
//! - A sample without frames counts under `[unknown]` (module `[unknown]`), so totals match.
//!
//! Dropped: `#` lines (perf's `--header`; cmdline, perf version, hostname, os release, arch,
//! cpudesc and cpu count go to the profile's facts), side-band lines (`PERF_RECORD_*` from
//! `--show-*-events`). Lines that are neither header, frame nor srcline are skipped and
//! reported once with the first one's line number; a file without any sample is an error.
//! Lines that are not UTF-8 are read with replacement characters (and a warning). A text
//! that does not end with a newline was cut short: it loads, with a warning.

use crate::model::{
    FuncKind, ModuleId, ModuleKind, ProfileBuilder, StackId, StrId, ThreadId, Unit,
};
use crate::progress::Phase;
use crate::{Error, Progress, Result};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

#[cfg(test)]
mod tests;

const FORMAT: &str = "perf script";
/// Bigger periods are not periods (and would overflow sums); as the perf.data reader.
const MAX_PERIOD: u64 = 1 << 48;
/// Most distinct event names: a perf session has a handful; beyond, samples are dropped.
const MAX_EVENTS: usize = 1024;
/// x86-64 and arm64 kernels live above this.
const KERNEL_SPACE_START: u64 = 0xffff_8000_0000_0000;
/// Bytes looked at to decide whether a text is `perf script` output.
const SNIFF_BYTES: usize = 64 * 1024;
/// Non-comment lines looked at when sniffing (side-band lines may come first).
const SNIFF_LINES: usize = 64;

/// Does `data` look like `perf script` output: text whose first sample line is a header
/// with a `secs.frac:` time and an event or a frame, or a header followed by a tab-indented
/// frame line.
pub fn sniff(data: &[u8]) -> bool {
    let head = &data[..data.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return false;
    }
    let text = String::from_utf8_lossy(head);
    let mut tokens = Vec::new();
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .take(SNIFF_LINES);
    while let Some(line) = lines.next() {
        match parse_header(line, &mut tokens) {
            Some(HeaderLine::Sideband) => continue,
            Some(HeaderLine::Sample(h)) => {
                if h.time_ns.is_some() && (h.event.is_some() || h.frame.is_some()) {
                    return true;
                }
                return lines
                    .next()
                    .and_then(|l| l.strip_prefix('\t'))
                    .and_then(parse_frame)
                    .is_some();
            }
            None => return false,
        }
    }
    false
}

/// A frame as printed: `ip [sym[+0xoff]] [(dso)] [(inlined)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameText<'a> {
    ip: u64,
    /// Without the offset; `None` when no symbol was printed.
    sym: Option<&'a str>,
    /// Without a `+0x…` offset; `None` when not printed.
    dso: Option<&'a str>,
    inlined: bool,
}

/// A header line's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Header<'a> {
    comm: &'a str,
    pid: Option<i32>,
    tid: Option<i32>,
    time_ns: Option<u64>,
    period: Option<u64>,
    event: Option<&'a str>,
    /// The sample's ip, sym and dso when printed on the header line (no call chain).
    frame: Option<FrameText<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HeaderLine<'a> {
    Sample(Header<'a>),
    /// `PERF_RECORD_*` lines of `--show-mmap-events` and friends.
    Sideband,
}

/// Parses a lowercase or uppercase hex number of 1 to 16 digits (an optional `0x` allowed).
fn parse_hex(t: &str) -> Option<u64> {
    let t = t.strip_prefix("0x").unwrap_or(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// Strips a trailing `+0x<hex>` (symbol or dso offset).
fn strip_offset(s: &str) -> &str {
    if let Some(p) = s.rfind("+0x")
        && p > 0
        && parse_hex(&s[p + 3..]).is_some()
    {
        return &s[..p];
    }
    s
}

/// `(sym text, dso)`: the dso is a trailing balanced `( … )` group preceded by a space (or
/// the whole text), so `operator()` stays in the symbol.
fn split_dso(rest: &str) -> (&str, Option<&str>) {
    if !rest.ends_with(')') {
        return (rest, None);
    }
    let bytes = rest.as_bytes();
    let mut depth = 0usize;
    let mut open = None;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    match open {
        Some(o) if o == 0 || bytes[o - 1] == b' ' => (
            rest[..o].trim_end(),
            Some(strip_offset(&rest[o + 1..rest.len() - 1])),
        ),
        _ => (rest, None),
    }
}

/// Parses a frame: `ip [sym] [(dso)] [(inlined)]`. `None` when it does not start with a hex ip.
fn parse_frame(s: &str) -> Option<FrameText<'_>> {
    let s = s.trim();
    let (s, inlined) = match s.strip_suffix("(inlined)") {
        Some(r) if r.is_empty() || r.ends_with(' ') => (r.trim_end(), true),
        _ => (s, false),
    };
    let (ip_text, rest) = match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    };
    let ip = parse_hex(ip_text)?;
    let (sym, dso) = split_dso(rest);
    let sym = (!sym.is_empty()).then(|| strip_offset(sym));
    Some(FrameText {
        ip,
        sym,
        dso,
        inlined,
    })
}

/// Is `t` shaped like a time token, `digits.digits:`.
fn is_time(t: &str) -> bool {
    t.strip_suffix(':')
        .and_then(|t| t.split_once('.'))
        .is_some_and(|(secs, frac)| is_number(secs) && is_number(frac))
}

/// `secs.frac:` → ns (the fraction is µs, or ns with `--ns`; digits beyond ns are dropped).
/// `None` when not a time or beyond `u64` ns.
fn parse_time(t: &str) -> Option<u64> {
    if !is_time(t) {
        return None;
    }
    let (secs, frac) = t.strip_suffix(':')?.split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    let mut ns = 0u64;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |c| u64::from(c - b'0'));
        ns = ns * 10 + d;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

fn is_cpu(t: &str) -> bool {
    t.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
}

/// Is `t` shaped like thread ids, `tid` or `pid/tid` (perf prints `-1` for unknown ones).
fn is_ids(t: &str) -> bool {
    let num = |s: &str| is_number(s.strip_prefix('-').unwrap_or(s));
    match t.split_once('/') {
        Some((p, t)) => num(p) && num(t),
        None => num(t),
    }
}

/// `tid` or `pid/tid` → `(pid, tid)`; `None` when not ids or beyond `i32`.
fn parse_ids(t: &str) -> Option<(Option<i32>, i32)> {
    if !is_ids(t) {
        return None;
    }
    match t.split_once('/') {
        Some((p, t)) => Some((Some(p.parse().ok()?), t.parse().ok()?)),
        None => Some((None, t.parse().ok()?)),
    }
}

fn is_number(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())
}

/// A period token; `u64::MAX` for an absurdly long one (clamped later).
fn parse_period(t: &str) -> u64 {
    t.parse().unwrap_or(u64::MAX)
}

/// An event token: `name:` (at least one character before the colon).
fn event_token(t: &str) -> Option<&str> {
    t.strip_suffix(':').filter(|e| !e.is_empty())
}

/// Parses a header line; `None` when the line is not one. `tokens` is scratch space.
fn parse_header<'a>(line: &'a str, tokens: &mut Vec<(usize, usize)>) -> Option<HeaderLine<'a>> {
    tokens.clear();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                tokens.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push((s, line.len()));
    }
    let n = tokens.len();
    let tok = |i: usize| &line[tokens[i].0..tokens[i].1];
    if n < 2 {
        return None;
    }
    // A token shaped like a field whose value does not fit makes the line no header (rather
    // than a header whose comm swallowed the field).
    let time_at = (0..n).find(|&i| is_time(tok(i)));
    let (anchor, mut k, time_ns) = match time_at {
        Some(i) => (i, i + 1, Some(parse_time(tok(i))?)),
        None => {
            // No time: the event token right after the thread ids (or cpu).
            let e = (1..n).find(|&i| {
                event_token(tok(i)).is_some() && (is_cpu(tok(i - 1)) || is_ids(tok(i - 1)))
            })?;
            (e, e, None)
        }
    };
    let mut period = None;
    let mut j = anchor;
    if time_at.is_none()
        && j >= 2
        && is_number(tok(j - 1))
        && (is_cpu(tok(j - 2)) || is_ids(tok(j - 2)))
    {
        // `comm tid period event:` (no time): the number right before the event is the period.
        period = Some(parse_period(tok(j - 1)));
        j -= 1;
    }
    if j > 0 && is_cpu(tok(j - 1)) {
        j -= 1;
    }
    let (mut pid, mut tid) = (None, None);
    if j > 0 && is_ids(tok(j - 1)) {
        let (p, t) = parse_ids(tok(j - 1))?;
        pid = p;
        tid = Some(t);
        j -= 1;
    }
    let comm = line[..tokens[j].0].trim();
    if time_at.is_none() && tid.is_none() {
        return None;
    }
    if k < n && tok(k).starts_with("PERF_RECORD_") {
        return Some(HeaderLine::Sideband);
    }
    if time_at.is_some()
        && k < n
        && is_number(tok(k))
        && (k + 1 == n || event_token(tok(k + 1)).is_some())
    {
        period = Some(parse_period(tok(k)));
        k += 1;
    }
    let mut event = None;
    if k < n
        && let Some(e) = event_token(tok(k))
    {
        event = Some(e);
        k += 1;
    }
    if k < n && tok(k).starts_with("PERF_RECORD_") {
        return Some(HeaderLine::Sideband);
    }
    let frame = if k < n {
        parse_frame(&line[tokens[k].0..])
    } else {
        None
    };
    Some(HeaderLine::Sample(Header {
        comm,
        pid,
        tid,
        time_ns,
        period,
        event,
        frame,
    }))
}

/// A srcline line `  file:line` (optionally ` (discriminator N)`, ` (inlined)`):
/// `(Some((file, line)) or None for `??:0`, inlined)`. `None` when the line is not one.
fn parse_srcline(line: &str) -> Option<(Option<(&str, u32)>, bool)> {
    let mut s = line.trim();
    let mut inlined = false;
    if let Some(r) = s.strip_suffix(" (inlined)") {
        s = r.trim_end();
        inlined = true;
    }
    if let Some(p) = s.rfind(" (discriminator ")
        && s.ends_with(')')
    {
        s = s[..p].trim_end();
    }
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    let (file, num) = s.rsplit_once(':')?;
    if file.is_empty() {
        return None;
    }
    if file == "??" {
        return Some((None, inlined));
    }
    if num == "?" || num == "0" {
        return Some((None, inlined));
    }
    if !is_number(num) {
        return None;
    }
    let line_no = num.parse().ok()?;
    Some((Some((file, line_no)), inlined))
}

/// What a frame line's symbol column said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    Name(StrId),
    /// perf printed `[unknown]`.
    Unknown,
    /// No sym field.
    NotPrinted,
}

/// A frame line of the open sample, resolved into the model when the sample ends (inlined
/// frames take the module of the frame below them, which comes later in the text).
#[derive(Clone, Copy, Debug)]
struct RawFrame {
    ip: u64,
    sym: Sym,
    module: ModuleId,
    inlined: bool,
    file: StrId,
    line: u32,
}

struct OpenSample {
    thread: ThreadId,
    time_ns: u64,
    /// `None` when the sample's event was dropped (too many events).
    sample_type: Option<usize>,
    weight: i64,
}

/// Distinct frame lines remembered at most (then the memory starts over).
const MAX_SEEN_LINES: usize = 1 << 20;

/// Parser state across lines.
#[derive(Default)]
struct State {
    events: FxHashMap<String, usize>,
    dropped_events: u64,
    sample: Option<OpenSample>,
    /// Frames of the open sample, leaf first.
    frames: Vec<RawFrame>,
    /// `frames` holds only the header line's frame (replaced by a call chain if one follows).
    header_frame: bool,
    last_thread: Option<((i32, i32), ThreadId)>,
    /// Latest (time, comm) per thread.
    comms: FxHashMap<ThreadId, (u64, StrId)>,
    /// The file of each function (name, module): the first srcline file seen for it.
    file_of: FxHashMap<(StrId, ModuleId), StrId>,
    /// Mangled name → demangled name.
    demangled: FxHashMap<StrId, StrId>,
    unknown_module: Option<ModuleId>,
    samples: u64,
    clamped: u64,
    bad: u64,
    first_bad: u64,
    lossy: u64,
    first_lossy: u64,
}

fn module_kind(dso: &str, ip: u64) -> ModuleKind {
    if dso == "[unknown]" {
        ModuleKind::Unknown
    } else if dso.starts_with("[kernel")
        || dso.starts_with("[guest.kernel")
        || (dso.starts_with('[') && ip >= KERNEL_SPACE_START)
    {
        ModuleKind::Kernel
    } else if matches!(dso, "[vdso]" | "[vdso32]" | "[vdsox32]" | "[vsyscall]") {
        ModuleKind::Vdso
    } else if dso.starts_with("//anon")
        || dso.starts_with("[anon")
        || dso.starts_with("/memfd:")
        || dso.starts_with("[JIT]")
        || (dso.starts_with("/tmp/perf-") && dso.ends_with(".map"))
    {
        ModuleKind::Jit
    } else {
        ModuleKind::Native
    }
}

impl State {
    fn bad_line(&mut self, line_no: u64) {
        self.bad += 1;
        if self.first_bad == 0 {
            self.first_bad = line_no;
        }
    }

    fn unknown_module(&mut self, b: &mut ProfileBuilder) -> ModuleId {
        *self
            .unknown_module
            .get_or_insert_with(|| b.add_module("[unknown]", "", ModuleKind::Unknown))
    }

    /// The frame of a printed frame line, not yet in the model.
    fn raw_frame(&mut self, b: &mut ProfileBuilder, f: &FrameText<'_>) -> RawFrame {
        let module = match f.dso {
            Some(d) => b.add_module(d, "", module_kind(d, f.ip)),
            None => ModuleId::NONE,
        };
        let sym = match f.sym {
            None => Sym::NotPrinted,
            Some("[unknown]") => Sym::Unknown,
            Some(name) => {
                let raw = b.intern(name);
                if name.starts_with("_Z") || name.starts_with("_R") || name.starts_with("__Z") {
                    let d = match self.demangled.get(&raw) {
                        Some(&d) => d,
                        None => {
                            let d = b.intern(&crate::symbols::demangle(name));
                            self.demangled.insert(raw, d);
                            d
                        }
                    };
                    Sym::Name(d)
                } else {
                    Sym::Name(raw)
                }
            }
        };
        RawFrame {
            ip: f.ip,
            sym,
            module,
            inlined: f.inlined,
            file: StrId::NONE,
            line: 0,
        }
    }

    fn start_sample(&mut self, b: &mut ProfileBuilder, h: &Header<'_>) {
        let key = match (h.pid, h.tid) {
            (Some(p), Some(t)) => (p, t),
            (None, Some(t)) => (t, t),
            _ => (0, 0),
        };
        let thread = match self.last_thread {
            Some((k, t)) if k == key => t,
            _ => {
                let t = b.add_thread(key.0, key.1);
                self.last_thread = Some((key, t));
                t
            }
        };
        let time_ns = h.time_ns.unwrap_or(0);
        if !h.comm.is_empty() {
            let newer = self.comms.get(&thread).is_none_or(|&(t, _)| time_ns >= t);
            if newer {
                let comm = b.intern(h.comm);
                self.comms.insert(thread, (time_ns, comm));
            }
        }
        let name = h.event.unwrap_or("samples");
        let sample_type = match self.events.get(name) {
            Some(&t) => Some(t),
            None if self.events.len() < MAX_EVENTS => {
                let base = name.split(':').next().unwrap_or(name);
                let unit = match h.period {
                    None => Unit::Count,
                    Some(_) if matches!(base, "cpu-clock" | "task-clock") => Unit::Nanoseconds,
                    Some(_) => Unit::Events,
                };
                let t = b.add_sample_type(name, unit);
                self.events.insert(name.to_string(), t);
                Some(t)
            }
            None => None,
        };
        if sample_type.is_none() {
            self.dropped_events += 1;
        }
        let weight = match h.period {
            Some(p) if p > MAX_PERIOD => {
                self.clamped += 1;
                MAX_PERIOD as i64
            }
            Some(p) => p as i64,
            None => 1,
        };
        self.sample = Some(OpenSample {
            thread,
            time_ns,
            sample_type,
            weight,
        });
        self.frames.clear();
        self.header_frame = false;
        if let Some(f) = &h.frame {
            let raw = self.raw_frame(b, f);
            self.frames.push(raw);
            self.header_frame = true;
        }
    }

    /// Ends the open sample: builds its stack root first and adds it.
    fn finish_sample(&mut self, b: &mut ProfileBuilder) {
        let Some(s) = self.sample.take() else {
            self.frames.clear();
            return;
        };
        let mut stack = StackId::NONE;
        let mut module = ModuleId::NONE;
        let mut depth = 0u16;
        for i in (0..self.frames.len()).rev() {
            let raw = self.frames[i];
            let frame_module = if raw.inlined {
                depth = depth.saturating_add(1);
                if raw.module.is_some() {
                    raw.module
                } else {
                    module
                }
            } else {
                depth = 0;
                module = raw.module;
                raw.module
            };
            let module_kind = frame_module.get().map(|m| b.modules.kind[m.index()]);
            let code_kind = match module_kind {
                Some(ModuleKind::Kernel) => FuncKind::Kernel,
                Some(ModuleKind::Jit) => FuncKind::Jit,
                _ => FuncKind::Native,
            };
            let (name, kind, file, line) = match raw.sym {
                Sym::Name(name) => {
                    let file = if raw.file.is_some() {
                        *self.file_of.entry((name, frame_module)).or_insert(raw.file)
                    } else {
                        let known = self.file_of.get(&(name, frame_module));
                        known.copied().unwrap_or(StrId::NONE)
                    };
                    let line = if file == raw.file { raw.line } else { 0 };
                    (name, code_kind, file, line)
                }
                Sym::Unknown | Sym::NotPrinted => {
                    let name = match module_kind {
                        Some(ModuleKind::Kernel) => Cow::Borrowed("[kernel]"),
                        Some(ModuleKind::Unknown) => Cow::Borrowed("[unknown]"),
                        None if raw.sym == Sym::Unknown => Cow::Borrowed("[unknown]"),
                        _ => Cow::Owned(crate::model::unresolved_name(b, frame_module, raw.ip)),
                    };
                    let kind = if module_kind == Some(ModuleKind::Kernel) {
                        FuncKind::Kernel
                    } else {
                        FuncKind::Unresolved
                    };
                    (b.intern(&name), kind, StrId::NONE, 0)
                }
            };
            let func = b.add_func(name, frame_module, file, 0, kind);
            let frame = b.add_frame(func, frame_module, raw.ip, line, depth);
            stack = b.add_stack(stack, frame);
        }
        self.frames.clear();
        self.header_frame = false;
        if stack.get().is_none() {
            // No frames printed: keep the sample's weight on an unknown frame.
            let module = self.unknown_module(b);
            let name = b.intern("[unknown]");
            let func = b.add_func(name, module, StrId::NONE, 0, FuncKind::Unresolved);
            let frame = b.add_frame(func, module, 0, 0, 0);
            stack = b.add_stack(StackId::NONE, frame);
        }
        if let Some(t) = s.sample_type {
            // A period is at most 2^48, but 2^15 of them overflow an i64: the builder leaves
            // out a sample that would overflow its event's total, and says so.
            b.add_sample_one(s.thread, stack, s.time_ns, t, s.weight);
            self.samples += 1;
        }
    }

    /// A frame line of the open sample.
    fn add_frame_line(&mut self, b: &mut ProfileBuilder, f: &FrameText<'_>) {
        let raw = self.raw_frame(b, f);
        self.add_raw_frame(raw);
    }

    fn add_raw_frame(&mut self, raw: RawFrame) {
        if self.header_frame {
            self.frames.clear();
            self.header_frame = false;
        }
        self.frames.push(raw);
    }

    /// `# key : value` lines of `perf script --header`.
    fn header_comment(b: &mut ProfileBuilder, line: &str) {
        let Some((key, value)) = line.trim_start_matches('#').split_once(" : ") else {
            return;
        };
        let value = value.trim().to_string();
        let m = &mut b.meta;
        match key.trim() {
            "cmdline" => m.command_line = Some(value),
            "perf version" => m.recorder_version = Some(format!("perf {value}")),
            "hostname" => m.hostname = Some(value),
            "os release" => m.os_release = Some(value),
            "arch" => m.arch = Some(value),
            "cpudesc" => m.cpu_desc = Some(value),
            "nrcpus online" => m.nr_cpus = value.parse().ok(),
            _ => {}
        }
    }
}

/// Parses `perf script` output into `b`.
pub fn parse(data: &[u8], b: &mut ProfileBuilder, progress: &Progress) -> Result<()> {
    progress.start_phase(Phase::Reading, data.len() as u64);
    let mut st = State::default();
    let mut tokens = Vec::new();
    let mut done = 0u64;
    // Frame lines already seen, as printed: a profile repeats the same few thousand lines
    // millions of times, and looking one up is cheaper than parsing and interning it again.
    let mut seen: FxHashMap<&[u8], RawFrame> = FxHashMap::default();
    for (i, raw_line) in data.split(|&c| c == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        done += raw_line.len() as u64 + 1;
        if i % 4096 == 0 {
            progress.check()?;
            progress.set_done(done.min(data.len() as u64));
        }
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if raw_line.first() == Some(&b'\t') && st.sample.is_some() {
            if let Some(&f) = seen.get(raw_line) {
                st.add_raw_frame(f);
                continue;
            }
            if let Ok(line) = std::str::from_utf8(&raw_line[1..])
                && let Some(f) = parse_frame(line)
            {
                let f = st.raw_frame(b, &f);
                if seen.len() >= MAX_SEEN_LINES {
                    seen.clear();
                }
                seen.insert(raw_line, f);
                st.add_raw_frame(f);
                continue;
            }
        }
        let line: Cow<'_, str> = match std::str::from_utf8(raw_line) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                st.lossy += 1;
                if st.first_lossy == 0 {
                    st.first_lossy = line_no;
                }
                String::from_utf8_lossy(raw_line)
            }
        };
        let line = line.as_ref();
        if line.trim().is_empty() {
            st.finish_sample(b);
            continue;
        }
        if line.starts_with('#') {
            State::header_comment(b, line);
            continue;
        }
        if let Some(rest) = line.strip_prefix('\t') {
            match parse_frame(rest) {
                Some(f) if st.sample.is_some() => st.add_frame_line(b, &f),
                _ => st.bad_line(line_no),
            }
            continue;
        }
        if line.starts_with(' ')
            && st.sample.is_some()
            && !st.frames.is_empty()
            && let Some((loc, inlined)) = parse_srcline(line)
        {
            let loc = loc.map(|(file, n)| (b.intern(file), n));
            if let Some(last) = st.frames.last_mut() {
                if let Some((file, n)) = loc {
                    last.file = file;
                    last.line = n;
                }
                last.inlined |= inlined;
            }
            continue;
        }
        match parse_header(line, &mut tokens) {
            Some(HeaderLine::Sample(h)) => {
                st.finish_sample(b);
                st.start_sample(b, &h);
            }
            Some(HeaderLine::Sideband) => st.finish_sample(b),
            None => {
                // Some tools indent call chains with spaces instead of a tab.
                match parse_frame(line) {
                    Some(f) if line.starts_with(' ') && st.sample.is_some() => {
                        st.add_frame_line(b, &f)
                    }
                    _ => st.bad_line(line_no),
                }
            }
        }
    }
    st.finish_sample(b);
    progress.set_done(data.len() as u64);
    if st.samples == 0 && st.dropped_events == 0 {
        return Err(Error::AtLine {
            format: FORMAT,
            line: st.first_bad.max(1),
            expected: "a `perf script` sample line (`comm tid time: period event:` …)".into(),
        });
    }
    // Names: the latest comm of each thread; the process's is its main thread's.
    let mut main_comm: FxHashMap<i32, StrId> = FxHashMap::default();
    let threads: Vec<_> = b.thread_ids().collect();
    for &(t, pid, tid) in &threads {
        if pid == tid
            && let Some(&(_, c)) = st.comms.get(&t)
        {
            main_comm.insert(pid, c);
        }
    }
    for (t, pid, _) in threads {
        if let Some(&(_, c)) = st.comms.get(&t) {
            let name = b.string(c).to_string();
            b.set_thread_name(t, &name);
        }
        if let Some(&c) = main_comm.get(&pid) {
            let name = b.string(c).to_string();
            b.set_process_name(t, &name);
        }
    }
    if st.bad > 0 {
        b.warn(format!(
            "{} line(s) were not perf script sample, frame or srcline lines and were skipped (first: line {})",
            st.bad, st.first_bad
        ));
    }
    if !data.ends_with(b"\n") {
        // perf ends every line with a newline: a file cut short (a copy interrupted, a disk
        // full) ends mid-line, and its last sample may have lost frames.
        let lines = data.split(|&c| c == b'\n').count();
        b.warn(format!(
            "the text ends in the middle of line {lines} (truncated?): its last sample may be incomplete"
        ));
    }
    if st.lossy > 0 {
        b.warn(format!(
            "{} line(s) were not UTF-8; invalid bytes were replaced (first: line {})",
            st.lossy, st.first_lossy
        ));
    }
    if st.clamped > 0 {
        b.warn(format!(
            "{} sample(s) had a period above 2^48; clamped",
            st.clamped
        ));
    }
    if st.dropped_events > 0 {
        b.warn(format!(
            "more than {MAX_EVENTS} event names: {} sample(s) of the others were dropped",
            st.dropped_events
        ));
    }
    Ok(())
}
