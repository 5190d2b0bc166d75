//! speedscope JSON out (<https://www.speedscope.app/file-format-schema.json>): one "sampled"
//! profile per thread in time order, weights of the chosen sample type. Consecutive samples
//! with the same stack are merged (adding weights), which keeps the time order speedscope's
//! "Time Order" view shows. A speedscope frame is a function (name, file, start line).
//!
//! Written as a stream: no JSON tree of the whole profile is built in memory.

use crate::model::{FuncId, Profile, StackId, Unit};
use rustc_hash::FxHashMap;
use std::io::Write;

fn unit(u: Unit) -> &'static str {
    match u {
        Unit::Nanoseconds => "nanoseconds",
        Unit::Bytes => "bytes",
        Unit::Events | Unit::Count => "none",
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes the samples of `sample_type`.
pub fn write(p: &Profile, sample_type: usize, w: &mut impl Write) -> std::io::Result<()> {
    // Frames: the functions the samples of this type use, in first-use order.
    let mut frame_of: FxHashMap<FuncId, usize> = FxHashMap::default();
    let mut funcs: Vec<FuncId> = Vec::new();
    // Per thread: (stack, weight) runs in time order.
    let mut threads: Vec<(usize, Vec<(StackId, i64)>)> = Vec::new();
    for t in 0..p.threads.len() {
        let rows = p.threads.sample_start[t]..p.threads.sample_end[t];
        let mut runs: Vec<(StackId, i64)> = Vec::new();
        p.samples
            .weights
            .for_each(sample_type, rows, |row, weight| {
                let stack = p.samples.stack[row];
                match runs.last_mut() {
                    Some((s, w)) if *s == stack => *w = w.saturating_add(weight),
                    _ => runs.push((stack, weight)),
                }
            });
        if !runs.is_empty() {
            threads.push((t, runs));
        }
    }
    for (_, runs) in &threads {
        for &(stack, _) in runs {
            let mut cur = stack;
            while let Some(c) = cur.get() {
                let f = p.frames.func[p.stacks.frame[c.index()].index()];
                frame_of.entry(f).or_insert_with(|| {
                    funcs.push(f);
                    funcs.len() - 1
                });
                cur = p.stacks.parent[c.index()];
            }
        }
    }
    let ty = p.sample_types.get(sample_type);
    let u = ty.map_or("none", |t| unit(t.unit));
    write!(
        w,
        "{{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":{},\"name\":{},\"activeProfileIndex\":0,\"shared\":{{\"frames\":[",
        json_str(&format!("stacklens {}", env!("CARGO_PKG_VERSION"))),
        json_str(&format!(
            "{} ({})",
            ty.map_or("", |t| t.name.as_str()),
            p.meta.source_format
        )),
    )?;
    for (i, &f) in funcs.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{{\"name\":{}", json_str(p.func_name(f)))?;
        if let Some(file) = p.funcs.file.get(f.index()).and_then(|s| s.get()) {
            write!(w, ",\"file\":{}", json_str(p.str(file)))?;
        }
        let line = p.funcs.start_line.get(f.index()).copied().unwrap_or(0);
        if line != 0 {
            write!(w, ",\"line\":{line}")?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"]},\"profiles\":[")?;
    let mut path: Vec<usize> = Vec::new();
    for (i, (t, runs)) in threads.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let total = runs.iter().fold(0i64, |a, r| a.saturating_add(r.1));
        write!(
            w,
            "{{\"type\":\"sampled\",\"name\":{},\"unit\":\"{u}\",\"startValue\":0,\"endValue\":{total},\"samples\":[",
            json_str(&p.thread_label(crate::model::ThreadId::from_index(*t)))
        )?;
        for (j, &(stack, _)) in runs.iter().enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            path.clear();
            let mut cur = stack;
            while let Some(c) = cur.get() {
                let f = p.frames.func[p.stacks.frame[c.index()].index()];
                path.push(frame_of[&f]);
                cur = p.stacks.parent[c.index()];
            }
            w.write_all(b"[")?;
            for (k, f) in path.iter().rev().enumerate() {
                if k > 0 {
                    w.write_all(b",")?;
                }
                write!(w, "{f}")?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(b"],\"weights\":[")?;
        for (j, &(_, weight)) in runs.iter().enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            write!(w, "{weight}")?;
        }
        w.write_all(b"]}")?;
    }
    w.write_all(b"]}\n")
}
