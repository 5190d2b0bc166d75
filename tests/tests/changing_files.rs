//! Files that change while stacklens reads them (issue 10, point 6).
//!
//! A mapped file that another program cuts short kills its reader with SIGBUS at the next touch
//! past the new end. stacklens takes a read lease on what it maps; when the lease is refused (the
//! file is still open for writing, as a perf.data is while `perf record` runs), a SIGBUS guard
//! puts zero pages where the file was cut and the load fails with a clear error. These tests cut
//! files at random moments during their loads, in both situations, 100 times each.

use stacklens_core::formats::perf_data::synth;
use stacklens_core::{Error, LoadOptions, Progress, load};
use stacklens_tests::*;
use std::time::{Duration, Instant};

const RUNS: usize = 100;

/// A load's (samples, warnings), or its error.
type Outcome = Result<(usize, usize), Error>;

fn opts() -> LoadOptions {
    let mut o = LoadOptions::default();
    o.symbols.system_paths = false;
    o.symbols.kallsyms = None;
    o
}

/// A perf.data of a few MB: the committed capture's samples repeated.
fn big_capture() -> Vec<u8> {
    let small = std::fs::read(sample("hot.perf.data")).unwrap();
    synth::repeat_samples(&small, 4 << 20).unwrap()
}

/// A small deterministic generator (the runs must be the same on every machine).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Loads `path` while another thread cuts it to a random length after a random delay (within
/// the time one load takes), `RUNS` times; `writer_open` keeps the file open for writing during
/// the load, which refuses the lease as a running `perf record` does. Returns the results.
fn cut_during_loads(writer_open: bool) -> (usize, Vec<Outcome>) {
    let bytes = big_capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("being-written.perf.data");
    std::fs::write(&path, &bytes).unwrap();
    let t = Instant::now();
    let whole = load(&path, &opts(), &Progress::new()).unwrap();
    let load_time = t.elapsed();
    let mut rng = Lcg(7);
    let mut results = Vec::new();
    for _ in 0..RUNS {
        std::fs::write(&path, &bytes).unwrap();
        let writer =
            writer_open.then(|| std::fs::OpenOptions::new().write(true).open(&path).unwrap());
        let delay = Duration::from_micros(rng.below(load_time.as_micros() as u64));
        let cut_to = rng.below(bytes.len() as u64);
        let cutter = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                match writer {
                    Some(w) => w.set_len(cut_to).unwrap(),
                    // Opening for writing breaks the lease: the truncate waits until stacklens
                    // has copied the bytes away.
                    None => std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(cut_to)
                        .unwrap(),
                }
            })
        };
        let r = load(&path, &opts(), &Progress::new())
            .map(|p| (p.samples.len(), p.meta.warnings.len()));
        cutter.join().unwrap();
        results.push(r);
    }
    assert!(whole.samples.len() > 10_000);
    (whole.samples.len(), results)
}

#[test]
fn a_file_cut_while_loading_without_a_lease_is_an_error_not_a_crash() {
    let (_, results) = cut_during_loads(true);
    // Still alive after 100 cuts. A load either finished before the cut reached what it read,
    // or failed: the guard's error when it read past the cut, or a parser's for a file whose
    // header no longer matches its length.
    let changed = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Changed { .. })))
        .count();
    for r in &results {
        if let Err(e) = r {
            let text = e.to_string();
            assert!(
                text.contains("being-written.perf.data"),
                "the error names the file: {text}"
            );
        }
    }
    assert!(
        changed > 0,
        "no load read past a cut: the guard was never exercised ({results:?})"
    );
    for r in results
        .iter()
        .filter(|r| matches!(r, Err(Error::Changed { .. })))
    {
        let text = r.as_ref().unwrap_err().to_string();
        assert!(text.contains("changed while it was read"), "{text}");
    }
}

#[test]
fn a_file_cut_while_loading_under_a_lease_loads_whole() {
    // With the lease held, the cutter waits until the bytes are copied away: a load that opened
    // the file before the cut sees all of it. One that opened it after sees the cut file: a
    // partial load with a warning, or an error naming the file.
    let (whole, results) = cut_during_loads(false);
    let mut complete = 0;
    for r in &results {
        match r {
            Ok((n, _)) if *n == whole => complete += 1,
            Ok((n, warnings)) => assert!(*warnings > 0, "{n} of {whole} samples, no warning"),
            Err(e) => assert!(e.to_string().contains("being-written.perf.data"), "{e}"),
        }
    }
    assert!(complete > 0, "no load saw the whole file: {results:?}");
}
