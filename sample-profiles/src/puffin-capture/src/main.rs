//! Makes `app-frames.puffin`: a few frames of a toy game loop on three threads, instrumented
//! with puffin 0.20 scopes and saved with puffin's own writer (`GlobalFrameView` → `FrameView::
//! write`, the same path puffin_viewer and stacklens' frame-cost window take), then reads the
//! file back with puffin's own reader and prints the reference figures the tests compare
//! stacklens against.
//!
//!     puffin-capture OUT.puffin OUT.expected.txt [FRAMES]
//!
//! Per frame: the main thread runs `frame` → `update` (→ `physics` → `broadphase`, `ai`),
//! `render` (→ `upload` with data, twice); two named worker threads each run `process_chunk`
//! (→ `decode`, `checksum`) and a 4-level recursive `subdivide`. Work is busy-waiting on the
//! clock, so durations are close to the amounts below whatever the machine.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Busy-waits `us` microseconds (a sleep would leave the scope without CPU work, and its
/// length at the mercy of the scheduler).
fn spin(us: u64) {
    let end = Instant::now() + Duration::from_micros(us);
    let mut x = 0u64;
    while Instant::now() < end {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn physics() {
    puffin::profile_function!();
    spin(200);
    {
        puffin::profile_scope!("broadphase");
        spin(150);
    }
}

fn ai() {
    puffin::profile_function!();
    spin(250);
}

fn update() {
    puffin::profile_function!();
    physics();
    ai();
    spin(50);
}

fn render(frame: usize) {
    puffin::profile_function!();
    spin(100);
    for tex in ["grass.png", "sky.png"] {
        puffin::profile_scope!("upload", tex);
        spin(if frame % 2 == 0 { 120 } else { 80 });
    }
}

fn decode() {
    puffin::profile_function!();
    spin(300);
}

fn checksum() {
    puffin::profile_function!();
    spin(100);
}

fn process_chunk(chunk: usize) {
    puffin::profile_function!(format!("chunk {chunk}"));
    decode();
    checksum();
}

fn subdivide(level: u32) {
    puffin::profile_function!();
    spin(40);
    if level > 0 {
        subdivide(level - 1);
    }
}

fn worker(index: usize, frames: usize, start: Arc<Barrier>, done: Arc<Barrier>) {
    for frame in 0..frames {
        start.wait();
        process_chunk(frame * 2 + index);
        subdivide(3);
        done.wait();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(expected)) = (args.get(1), args.get(2)) else {
        return Err("usage: puffin-capture OUT.puffin OUT.expected.txt [FRAMES]".into());
    };
    let frames: usize = args.get(3).map_or(Ok(6), |s| s.parse())?;

    puffin::set_scopes_on(true);
    let view = puffin::GlobalFrameView::default();
    let start = Arc::new(Barrier::new(3));
    let done = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (s, d) = (start.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker(i, frames, s, d))
        })
        .collect::<Result<_, _>>()?;
    for frame in 0..frames {
        {
            puffin::profile_scope!("frame", frame.to_string());
            start.wait();
            update();
            render(frame);
            done.wait();
        }
        // Every worker closed its scopes before `done`: this frame holds all three threads.
        puffin::GlobalProfiler::lock().new_frame();
    }
    for w in workers {
        w.join().map_err(|_| "worker panicked")?;
    }
    let mut file = std::fs::File::create(out)?;
    view.lock().write(&mut file)?;
    file.flush()?;
    drop(file);
    write_reference(out, expected)?;
    Ok(())
}

/// Reads `path` back with puffin's own reader and writes the figures the tests check:
/// per thread the sum of its top-level scope durations, per scope name the self time
/// (duration minus the durations of its direct children), all in nanoseconds.
fn write_reference(path: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut read = std::io::BufReader::new(std::fs::File::open(path)?);
    // FrameView::read: checks the `PUF0` magic, then FrameData::read_next until the end,
    // collecting each frame's scope details into one ScopeCollection.
    let view = puffin::FrameView::read(&mut read)?;
    let names: BTreeMap<puffin::ScopeId, String> = view
        .scope_collection()
        .scopes_by_id()
        .iter()
        .map(|(id, d)| (*id, d.name().to_string()))
        .collect();
    let frames: Vec<_> = view.all_uniq().collect();
    let mut threads: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    let mut self_ns: BTreeMap<String, i64> = BTreeMap::new();
    let mut scopes = 0u64;
    for frame in frames.iter() {
        let unpacked = frame.unpacked()?;
        for (info, stream) in &unpacked.thread_streams {
            let top = puffin::Reader::from_start(&stream.stream)
                .read_top_scopes()
                .map_err(|e| format!("{e:?}"))?;
            let t = threads.entry(info.name.clone()).or_default();
            t.0 += top.iter().map(|s| s.record.duration_ns).sum::<i64>();
            // Depth-first over the scopes, with an explicit list of scopes to visit.
            let mut todo: Vec<puffin::Scope<'_>> = top;
            while let Some(s) = todo.pop() {
                scopes += 1;
                t.1 += 1;
                let children = puffin::Reader::with_offset(&stream.stream, s.child_begin_position)
                    .map_err(|e| format!("{e:?}"))?
                    .read_top_scopes()
                    .map_err(|e| format!("{e:?}"))?;
                let child_ns: i64 = children.iter().map(|c| c.record.duration_ns).sum();
                let name = names.get(&s.id).cloned().unwrap_or_else(|| "?".into());
                *self_ns.entry(name).or_default() += s.record.duration_ns - child_ns;
                todo.extend(children);
            }
        }
    }
    let mut f = std::fs::File::create(out)?;
    writeln!(
        f,
        "# {path} read back with puffin 0.20's own reader (FrameView::read → FrameData::read_next, Reader).\n\
         # Tab-separated. thread: NAME, sum of top-level scope durations (ns), scopes.\n\
         # self: SCOPE NAME, self time (duration minus direct children) summed over all scopes."
    )?;
    writeln!(f, "frames\t{}", frames.len())?;
    writeln!(f, "scopes\t{scopes}")?;
    writeln!(
        f,
        "total_ns\t{}",
        threads.values().map(|t| t.0).sum::<i64>()
    )?;
    for (name, (ns, n)) in &threads {
        writeln!(f, "thread\t{name}\t{ns}\t{n}")?;
    }
    for (name, ns) in &self_ns {
        writeln!(f, "self\t{name}\t{ns}")?;
    }
    Ok(())
}
