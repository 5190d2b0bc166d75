//! Opens a profile file and prints how long it took and what it holds — for timing a format's
//! reader from the shell and for `perf record` of the reader alone.
//!
//! `cargo run --release -p stacklens-core --example open -- FILE [REPEAT]`

use stacklens_core::{LoadOptions, Progress, load};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        return Err("usage: open FILE [REPEAT]".into());
    };
    let repeat: usize = args.get(2).map(|r| r.parse()).transpose()?.unwrap_or(1);
    for _ in 0..repeat {
        let t = Instant::now();
        let p = load(path.as_ref(), &LoadOptions::default(), &Progress::new())?;
        let took = t.elapsed();
        eprintln!(
            "{path}: {} samples, {} stacks, {} frames in {:.1} ms",
            p.samples.len(),
            p.stacks.len(),
            p.frames.len(),
            took.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
