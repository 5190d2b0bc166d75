//! Time-based views: sample density per thread (the timeline's tracks) and FlameScope's
//! sub-second offset heat map, plus the conversions from what the user drags to the
//! selection's time ranges.

use super::Selection;
use super::calltree::sample_chunks;
use crate::model::{ModuleId, Profile, StackId, ThreadId};
use rayon::prelude::*;

/// First and last sample time over all threads (samples are sorted per thread, so this reads
/// two values per thread); `None` when the profile has no timestamps.
pub fn time_bounds(p: &Profile) -> Option<(u64, u64)> {
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for t in 0..p.threads.len() {
        let rows = p.threads.samples(ThreadId::from_index(t));
        if rows.is_empty() {
            continue;
        }
        lo = lo.min(p.samples.time_ns[rows.start]);
        hi = hi.max(p.samples.time_ns[rows.end - 1]);
    }
    if lo == u64::MAX || hi == 0 {
        return None;
    }
    // End exclusive, so the last sample falls inside.
    Some((lo, hi + 1))
}

/// One thread's samples in equal time buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadActivity {
    /// Weight per bucket.
    pub weight: Vec<i64>,
    /// Samples per bucket.
    pub samples: Vec<u32>,
    /// The module most samples of the bucket were in (their leaf frame), `NONE` when empty or
    /// without modules.
    pub module: Vec<ModuleId>,
}

/// Sample density of every thread over a time window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// `[start, end)` in profile nanoseconds.
    pub window: (u64, u64),
    pub buckets: usize,
    /// Indexed by thread.
    pub threads: Vec<ThreadActivity>,
    /// The largest bucket weight over all threads.
    pub max: i64,
}

/// Bucketed weight of every thread's samples in `window`, for `sel`'s sample type and label
/// filters (not its threads or ranges: the timeline shows every thread and the whole window).
/// Threads in parallel; each reads only its samples inside the window (two binary searches).
pub fn activity(p: &Profile, sel: &Selection, window: (u64, u64), buckets: usize) -> Activity {
    let buckets = buckets.clamp(1, 1 << 16);
    let (w0, w1) = (window.0, window.1.max(window.0 + 1));
    let span = (w1 - w0) as u128;
    let mask = sel.label_mask(p);
    let leaf_module: Vec<ModuleId> = (0..p.stacks.len())
        .map(|s| {
            let f = p.frames.func[p.stacks.frame[s].index()];
            p.funcs
                .module
                .get(f.index())
                .copied()
                .unwrap_or(ModuleId::NONE)
        })
        .collect();
    let n_modules = p.modules.len();
    let threads: Vec<ThreadActivity> = (0..p.threads.len())
        .into_par_iter()
        .map(|t| {
            let rows = p.threads.samples(ThreadId::from_index(t));
            let times = &p.samples.time_ns[rows.clone()];
            let a = rows.start + times.partition_point(|&x| x < w0);
            let b = rows.start + times.partition_point(|&x| x < w1);
            let mut out = ThreadActivity {
                weight: vec![0; buckets],
                samples: vec![0; buckets],
                module: vec![ModuleId::NONE; buckets],
            };
            if a >= b {
                return out;
            }
            // Module counts of the current bucket (buckets are visited in time order).
            let mut counts = vec![0u32; n_modules];
            let mut touched: Vec<usize> = Vec::new();
            let mut current = usize::MAX;
            let flush = |bucket: usize,
                         counts: &mut Vec<u32>,
                         touched: &mut Vec<usize>,
                         out: &mut ThreadActivity| {
                if bucket == usize::MAX {
                    return;
                }
                let mut best: Option<(u32, usize)> = None;
                for &m in touched.iter() {
                    if best.is_none_or(|(c, bm)| counts[m] > c || (counts[m] == c && m < bm)) {
                        best = Some((counts[m], m));
                    }
                    counts[m] = 0;
                }
                touched.clear();
                if let Some((_, m)) = best {
                    out.module[bucket] = ModuleId::from_index(m);
                }
            };
            p.samples.weights.for_each(sel.sample_type, a..b, |row, w| {
                if let Some(m) = &mask {
                    let set = p.samples.label_set.get(row).copied().unwrap_or(0) as usize;
                    if !m.get(set).copied().unwrap_or(false) {
                        return;
                    }
                }
                let t = p.samples.time_ns[row];
                let bucket = (((t - w0) as u128 * buckets as u128) / span) as usize;
                let bucket = bucket.min(buckets - 1);
                if bucket != current {
                    flush(current, &mut counts, &mut touched, &mut out);
                    current = bucket;
                }
                out.weight[bucket] = out.weight[bucket].saturating_add(w);
                out.samples[bucket] = out.samples[bucket].saturating_add(1);
                let stack: StackId = p.samples.stack[row];
                if let Some(s) = stack.get()
                    && let Some(m) = leaf_module.get(s.index()).and_then(|m| m.get())
                    && m.index() < n_modules
                {
                    if counts[m.index()] == 0 {
                        touched.push(m.index());
                    }
                    counts[m.index()] += 1;
                }
            });
            flush(current, &mut counts, &mut touched, &mut out);
            out
        })
        .collect();
    let max = threads
        .iter()
        .flat_map(|t| t.weight.iter().copied())
        .max()
        .unwrap_or(0);
    Activity {
        window: (w0, w1),
        buckets,
        threads,
        max,
    }
}

/// FlameScope's sub-second offset heat map: column `c` is second `c` since the first sample,
/// row `r` the `r`-th slice of `cell_ns` inside that second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeatMap {
    /// Time of column 0, row 0.
    pub start_ns: u64,
    pub cell_ns: u64,
    pub rows: usize,
    pub cols: usize,
    /// `weight[col * rows + row]`.
    pub weight: Vec<i64>,
    pub samples: Vec<u32>,
    pub max: i64,
    /// Samples after the last column (profiles longer than [`MAX_HEAT_COLUMNS`] seconds).
    pub cut_off: u64,
}

/// Columns a heat map keeps (a bit over five and a half hours at one second per column).
pub const MAX_HEAT_COLUMNS: usize = 20_000;

impl HeatMap {
    /// Time span of one column.
    pub fn column_ns(&self) -> u64 {
        self.cell_ns * self.rows as u64
    }

    /// Start time of a cell.
    pub fn cell_start(&self, col: usize, row: usize) -> u64 {
        self.start_ns + col as u64 * self.column_ns() + row as u64 * self.cell_ns
    }

    pub fn weight_at(&self, col: usize, row: usize) -> i64 {
        self.weight.get(col * self.rows + row).copied().unwrap_or(0)
    }

    /// The time ranges of a rectangle of cells (columns `c0..=c1`, rows `r0..=r1`): one range
    /// per column, joined where they touch (a full-height rectangle is one range).
    pub fn rectangle_ranges(&self, cols: (usize, usize), rows: (usize, usize)) -> Vec<(u64, u64)> {
        let (c0, c1) = (cols.0.min(cols.1), cols.0.max(cols.1));
        let (r0, r1) = (rows.0.min(rows.1), rows.0.max(rows.1).min(self.rows - 1));
        let mut out: Vec<(u64, u64)> = Vec::new();
        for c in c0..=c1.min(self.cols.saturating_sub(1)) {
            let a = self.cell_start(c, r0);
            let b = self.cell_start(c, r1) + self.cell_ns;
            match out.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// The time range from one cell to another in time order (FlameScope's click-to-click
    /// selection): one continuous range.
    pub fn run_range(&self, a: (usize, usize), b: (usize, usize)) -> (u64, u64) {
        let ta = self.cell_start(a.0, a.1);
        let tb = self.cell_start(b.0, b.1);
        (ta.min(tb), ta.max(tb) + self.cell_ns)
    }
}

/// The heat map of `sel`'s threads, sample type and labels (its time ranges are ignored: the
/// heat map is where ranges are picked). `None` without timestamps. O(selected samples), in
/// parallel over chunks of rows.
pub fn heat_map(p: &Profile, sel: &Selection, cell_ns: u64, rows: usize) -> Option<HeatMap> {
    let (start, end) = time_bounds(p)?;
    let cell_ns = cell_ns.max(1);
    let rows = rows.clamp(1, 1000);
    let column_ns = cell_ns.saturating_mul(rows as u64);
    let needed = (end - start).div_ceil(column_ns) as usize;
    let cols = needed.clamp(1, MAX_HEAT_COLUMNS);
    let mut all = sel.clone();
    all.ranges.clear();
    let mask = all.label_mask(p);
    let cells = cols * rows;
    let chunks = sample_chunks(p, &all);
    type Grid = (Vec<i64>, Vec<u32>, u64);
    let empty = || -> Grid { (vec![0; cells], vec![0; cells], 0) };
    let (weight, samples, cut_off) = chunks
        .into_par_iter()
        .fold(empty, |mut g: Grid, r| {
            p.samples.weights.for_each(all.sample_type, r, |row, w| {
                if let Some(m) = &mask {
                    let set = p.samples.label_set.get(row).copied().unwrap_or(0) as usize;
                    if !m.get(set).copied().unwrap_or(false) {
                        return;
                    }
                }
                let dt = p.samples.time_ns[row].saturating_sub(start);
                let col = (dt / column_ns) as usize;
                if col >= cols {
                    g.2 += 1;
                    return;
                }
                let row_in = ((dt % column_ns) / cell_ns) as usize;
                let i = col * rows + row_in;
                g.0[i] = g.0[i].saturating_add(w);
                g.1[i] = g.1[i].saturating_add(1);
            });
            g
        })
        .reduce(empty, |mut a, b| {
            for (x, y) in a.0.iter_mut().zip(&b.0) {
                *x = x.saturating_add(*y);
            }
            for (x, y) in a.1.iter_mut().zip(&b.1) {
                *x = x.saturating_add(*y);
            }
            a.2 += b.2;
            a
        });
    let max = weight.iter().copied().max().unwrap_or(0);
    Some(HeatMap {
        start_ns: start,
        cell_ns,
        rows,
        cols,
        weight,
        samples,
        max,
        cut_off,
    })
}
