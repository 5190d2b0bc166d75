//! What part of a profile the views look at.

use crate::model::{Profile, ThreadId};
use std::ops::Range;

/// The shared selection every view derives from: which sample type, which threads, which time
/// ranges. (Transforms and search join it with the views that need them.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Index of the sample type (weight column).
    pub sample_type: usize,
    /// Threads to include; `None` = all.
    pub threads: Option<Vec<ThreadId>>,
    /// Time ranges `[start, end)` in profile nanoseconds; empty = the whole profile. Several
    /// disjoint ranges are allowed (a heat map selection).
    pub ranges: Vec<(u64, u64)>,
}

impl Selection {
    /// Everything, in `sample_type`.
    pub fn all(sample_type: usize) -> Self {
        Self {
            sample_type,
            threads: None,
            ranges: Vec::new(),
        }
    }

    /// The sample rows this selection covers, as slices of the sample table: per thread, and
    /// per time range two binary searches on the thread's sorted times.
    pub fn sample_slices(&self, p: &Profile) -> Vec<Range<usize>> {
        let threads: Vec<ThreadId> = match &self.threads {
            Some(t) => t
                .iter()
                .copied()
                .filter(|t| t.index() < p.threads.len())
                .collect(),
            None => (0..p.threads.len()).map(ThreadId::from_index).collect(),
        };
        let mut out = Vec::new();
        for t in threads {
            let rows = p.threads.samples(t);
            if self.ranges.is_empty() {
                if !rows.is_empty() {
                    out.push(rows);
                }
                continue;
            }
            let times = &p.samples.time_ns[rows.clone()];
            for &(start, end) in &self.ranges {
                let a = times.partition_point(|&x| x < start);
                let b = times.partition_point(|&x| x < end);
                if a < b {
                    out.push(rows.start + a..rows.start + b);
                }
            }
        }
        out
    }
}
