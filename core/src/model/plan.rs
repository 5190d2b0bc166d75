//! Room set aside for samples whose number per thread a parser knows before it adds them (a
//! perf.data file's first pass counts each thread's samples).
//!
//! Without a plan, each thread's samples grow in columns of their own and
//! [`freeze`](super::ProfileBuilder::freeze) gathers them into the profile's columns: the
//! sample table is written twice. With a plan, the profile's columns are allocated once, each
//! thread owns a region of them in the profile's thread order, and its rows are written in
//! place; freeze only closes the gaps left by samples that were counted but not added and puts
//! each region in time order, in place. On a 1 GB capture (8.2 million samples) the second
//! copy and its page faults were a fifth of the load.

use super::column::{populate_for_writing, try_zeroed_vec};
use super::ids::{StackId, ThreadId};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The rows of one thread.
#[derive(Clone, Debug)]
pub(super) struct Region {
    pub pid: i32,
    pub tid: i32,
    pub start: usize,
    pub cap: usize,
    pub filled: usize,
    /// The builder's thread whose rows these are, once added.
    pub thread: Option<ThreadId>,
}

/// The sample columns of the tagged layout (one sample type per row).
#[derive(Clone, Debug, Default)]
pub(super) struct Columns {
    pub stack: Vec<StackId>,
    pub time_ns: Vec<u64>,
    pub kind: Vec<u16>,
    pub weight: Vec<i64>,
}

/// Bytes of one row of [`Columns`].
pub(super) const ROW_BYTES: u64 = 4 + 8 + 2 + 8;

impl Columns {
    /// `rows` rows of zeroes, their pages not touched yet; `None` when the allocator refuses.
    fn zeroed(rows: usize) -> Option<Self> {
        Some(Columns {
            stack: try_zeroed_vec(rows)?,
            time_ns: try_zeroed_vec(rows)?,
            kind: try_zeroed_vec(rows)?,
            weight: try_zeroed_vec(rows)?,
        })
    }
}

/// Sample columns set aside before a parser knows how many samples each thread has, so that
/// their pages can be faulted in ahead of time, on a core that would otherwise wait: a perf.data
/// file's first pass counts the samples as it goes (on one core), and the plan made after it
/// takes these columns when they are long enough. Writing 8.2 million rows to fresh pages
/// faulted them in one by one, on the thread that merges the sample pass.
pub struct SampleRoom {
    pub(super) columns: Columns,
    /// Rows whose pages are faulted in.
    populated: usize,
}

impl SampleRoom {
    /// Room for `rows` samples (address space only, until populated); `None` when the
    /// allocator refuses.
    pub(super) fn new(rows: usize) -> Option<Self> {
        Some(SampleRoom {
            columns: Columns::zeroed(rows)?,
            populated: 0,
        })
    }

    /// How many rows there is room for.
    pub fn rows(&self) -> usize {
        self.columns.time_ns.len()
    }

    /// Faults in the pages of the first `rows` rows (at most `step` rows more than before);
    /// false once there is nothing left to do below `rows`.
    pub fn populate(&mut self, rows: usize, step: usize) -> bool {
        let to = rows
            .min(self.rows())
            .min(self.populated.saturating_add(step));
        if to <= self.populated {
            return false;
        }
        let span = self.populated..to;
        let c = &mut self.columns;
        populate_for_writing(&mut c.stack[span.clone()]);
        populate_for_writing(&mut c.time_ns[span.clone()]);
        populate_for_writing(&mut c.kind[span.clone()]);
        populate_for_writing(&mut c.weight[span]);
        self.populated = to;
        true
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Plan {
    /// In (pid, tid) order: the order of the profile's threads.
    pub regions: Vec<Region>,
    index: FxHashMap<(i32, i32), u32>,
    pub columns: Columns,
}

impl Plan {
    /// Room for `rows` samples of each (pid, tid) (a key given twice gets the sum), in `room`
    /// when it is long enough; `None` when the allocator refuses the columns.
    pub fn new(
        counts: impl IntoIterator<Item = ((i32, i32), usize)>,
        room: Option<SampleRoom>,
    ) -> Option<Self> {
        let mut counts: Vec<((i32, i32), usize)> = counts.into_iter().collect();
        counts.sort_unstable();
        let mut regions: Vec<Region> = Vec::with_capacity(counts.len());
        let mut start = 0usize;
        for ((pid, tid), rows) in counts {
            match regions.last_mut() {
                Some(r) if (r.pid, r.tid) == (pid, tid) => r.cap = r.cap.saturating_add(rows),
                _ => regions.push(Region {
                    pid,
                    tid,
                    start,
                    cap: rows,
                    filled: 0,
                    thread: None,
                }),
            }
            start = start.saturating_add(rows);
        }
        let index = (regions.iter().enumerate())
            .map(|(i, r)| ((r.pid, r.tid), i as u32))
            .collect();
        let columns = match room {
            Some(room) if room.rows() >= start => {
                // Rows past `start` are not needed: shrinking gives their pages and address
                // space back without copying (glibc shrinks a block in place, and a large one
                // by remapping it).
                let mut c = room.columns;
                cut_to(&mut c, start);
                c
            }
            // Zeroed, so that a page is touched when its rows are written (once), not before;
            // room never used costs address space only.
            _ => Columns::zeroed(start)?,
        };
        Some(Plan {
            regions,
            index,
            columns,
        })
    }

    /// Bytes the columns of room for `rows` samples take.
    pub fn bytes(rows: usize) -> u64 {
        (rows as u64).saturating_mul(ROW_BYTES)
    }

    /// The region of (pid, tid), which `thread` now writes: `None` when the plan has none or
    /// another thread took it.
    pub fn link(&mut self, pid: i32, tid: i32, thread: ThreadId) -> Option<u32> {
        let &r = self.index.get(&(pid, tid))?;
        let region = &mut self.regions[r as usize];
        if region.thread.is_some() {
            return None;
        }
        region.thread = Some(thread);
        Some(r)
    }

    /// Where `n` more rows of `region` go, if they fit.
    pub fn room(&self, region: u32, n: usize) -> Option<usize> {
        let r = self.regions.get(region as usize)?;
        (r.filled.checked_add(n)? <= r.cap).then_some(r.start + r.filled)
    }

    /// Appends rows to `region` (which [`room`](Self::room) said they fit in).
    pub fn write(
        &mut self,
        region: u32,
        stack: impl Iterator<Item = StackId>,
        time_ns: &[u64],
        kind: &[u16],
        weight: &[i64],
    ) {
        let n = time_ns.len();
        let Some(at) = self.room(region, n) else {
            return;
        };
        let c = &mut self.columns;
        for (d, s) in c.stack[at..at + n].iter_mut().zip(stack) {
            *d = s;
        }
        c.time_ns[at..at + n].copy_from_slice(time_ns);
        c.kind[at..at + n].copy_from_slice(&kind[..n]);
        c.weight[at..at + n].copy_from_slice(&weight[..n]);
        self.regions[region as usize].filled += n;
    }

    /// Rows written to `region` so far.
    pub fn filled(&self, region: u32) -> usize {
        self.regions.get(region as usize).map_or(0, |r| r.filled)
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.regions.iter().map(|r| r.filled).sum()
    }

    /// The rows written to `region`, as columns.
    pub fn rows_of(&self, region: &Region) -> (&[StackId], &[u64], &[u16], &[i64]) {
        let span = region.start..region.start + region.filled;
        let c = &self.columns;
        (
            &c.stack[span.clone()],
            &c.time_ns[span.clone()],
            &c.kind[span.clone()],
            &c.weight[span],
        )
    }

    /// Replaces every written row's stack `s` by `map[s]`.
    pub fn remap_stacks(&mut self, map: &[StackId]) {
        for r in &self.regions {
            for s in &mut self.columns.stack[r.start..r.start + r.filled] {
                if let Some(old) = s.get() {
                    *s = map.get(old.index()).copied().unwrap_or(StackId::NONE);
                }
            }
        }
    }

    /// The profile's columns: the regions' rows one after another (the room left unused
    /// dropped), each region's rows in time order (stable). Also the rows of each region.
    pub fn finish(mut self) -> (Columns, Vec<usize>) {
        let c = &mut self.columns;
        let mut end = 0usize;
        for r in &mut self.regions {
            if r.start != end {
                let span = r.start..r.start + r.filled;
                c.stack.copy_within(span.clone(), end);
                c.time_ns.copy_within(span.clone(), end);
                c.kind.copy_within(span.clone(), end);
                c.weight.copy_within(span, end);
                r.start = end;
            }
            end += r.filled;
        }
        c.stack.truncate(end);
        c.time_ns.truncate(end);
        c.kind.truncate(end);
        c.weight.truncate(end);
        // Each region is sorted on its own, on all cores.
        let mut parts: Vec<RowsMut<'_>> = Vec::with_capacity(self.regions.len());
        let (mut stack, mut time_ns, mut kind, mut weight) = (
            &mut c.stack[..],
            &mut c.time_ns[..],
            &mut c.kind[..],
            &mut c.weight[..],
        );
        for r in &self.regions {
            let n = r.filled;
            let (a, rest) = stack.split_at_mut(n);
            stack = rest;
            let (b, rest) = time_ns.split_at_mut(n);
            time_ns = rest;
            let (k, rest) = kind.split_at_mut(n);
            kind = rest;
            let (w, rest) = weight.split_at_mut(n);
            weight = rest;
            parts.push(RowsMut {
                stack: a,
                time_ns: b,
                kind: k,
                weight: w,
            });
        }
        parts.into_par_iter().for_each(RowsMut::sort_by_time);
        let lens = self.regions.iter().map(|r| r.filled).collect();
        (self.columns, lens)
    }
}

/// Cuts each of `c`'s columns to `rows` rows and gives the rest of their memory back.
fn cut_to(c: &mut Columns, rows: usize) {
    c.stack.truncate(rows);
    c.stack.shrink_to_fit();
    c.time_ns.truncate(rows);
    c.time_ns.shrink_to_fit();
    c.kind.truncate(rows);
    c.kind.shrink_to_fit();
    c.weight.truncate(rows);
    c.weight.shrink_to_fit();
}

/// One thread's rows of [`Columns`].
pub(super) struct RowsMut<'a> {
    pub stack: &'a mut [StackId],
    pub time_ns: &'a mut [u64],
    pub kind: &'a mut [u16],
    pub weight: &'a mut [i64],
}

impl RowsMut<'_> {
    /// Moves row `from` to row `to`.
    fn shift(&mut self, from: usize, to: usize) {
        self.stack[to] = self.stack[from];
        self.time_ns[to] = self.time_ns[from];
        self.kind[to] = self.kind[from];
        self.weight[to] = self.weight[from];
    }

    /// Sorts the rows by time, in place; rows of equal time keep their order.
    ///
    /// Rows are nearly in time order (see [`time_order`](super::builder::time_order)): the
    /// late rows (below the running maximum) are taken out and sorted, and merged back from
    /// the end, each row moved once. The rows in place never move down: a late row that comes
    /// before one of them in the file is earlier than it too.
    pub fn sort_by_time(mut self) {
        let times = &*self.time_ns;
        if times.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let n = times.len();
        let mut late: Vec<u32> = Vec::new();
        let mut high = 0u64;
        for (r, &t) in times.iter().enumerate() {
            if t >= high {
                high = t;
            } else {
                late.push(r as u32);
                if late.len() > n / 8 {
                    return self.sort_by_permutation();
                }
            }
        }
        // The late rows, sorted by (time, row): the stable order.
        let mut moved: Vec<(u64, u32, StackId, u16, i64)> = (late.iter())
            .map(|&r| {
                let r = r as usize;
                let s = &self;
                (s.time_ns[r], r as u32, s.stack[r], s.kind[r], s.weight[r])
            })
            .collect();
        moved.sort_unstable_by_key(|m| (m.0, m.1));
        // Backwards: `to` is the next place to fill, `kept` one past the next row in place to
        // consider, `li` the late rows (by position) at or above `kept` already skipped.
        let mut to = n;
        let mut kept = n;
        let mut li = late.len();
        while let Some(&(t, r, stack, kind, weight)) = moved.last() {
            // The next row in place below `kept`, skipping late ones.
            let mut k = kept;
            while k > 0 && li > 0 && late[li - 1] as usize == k - 1 {
                k -= 1;
                li -= 1;
            }
            to -= 1;
            if k > 0 && (self.time_ns[k - 1], k as u32 - 1) > (t, r) {
                self.shift(k - 1, to);
                kept = k - 1;
            } else {
                self.stack[to] = stack;
                self.time_ns[to] = t;
                self.kind[to] = kind;
                self.weight[to] = weight;
                moved.pop();
                kept = k;
            }
        }
    }

    /// Sorts rows far out of order: through a permutation, each column gathered in a copy.
    fn sort_by_permutation(self) {
        let Some(perm) = super::builder::time_order(self.time_ns) else {
            return;
        };
        fn apply<T: Copy>(col: &mut [T], perm: &[u32]) {
            let sorted: Vec<T> = perm.iter().map(|&r| col[r as usize]).collect();
            col.copy_from_slice(&sorted);
        }
        apply(self.stack, &perm);
        apply(self.time_ns, &perm);
        apply(self.kind, &perm);
        apply(self.weight, &perm);
    }
}
