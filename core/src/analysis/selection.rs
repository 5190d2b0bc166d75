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
    /// Label filters: a sample is kept when, for every key named here, it has a label with that
    /// key and one of the values given for it (filters on one key are alternatives, filters on
    /// different keys must all hold). Empty = no filter.
    pub labels: Vec<LabelFilter>,
}

/// "Samples labelled `key` = `value`" (the value as [`Profile::label_value`] prints it: the
/// string, or the number with its unit).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LabelFilter {
    pub key: String,
    pub value: String,
}

impl LabelFilter {
    /// Parses `KEY=VALUE`.
    pub fn parse(s: &str) -> Option<Self> {
        let (k, v) = s.split_once('=')?;
        (!k.is_empty()).then(|| Self {
            key: k.to_owned(),
            value: v.to_owned(),
        })
    }
}

impl Selection {
    /// Everything, in `sample_type`.
    pub fn all(sample_type: usize) -> Self {
        Self {
            sample_type,
            threads: None,
            ranges: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// True when the selection keeps every sample of its type (all threads, the whole time,
    /// no label filter).
    pub fn is_whole(&self) -> bool {
        self.threads.is_none() && self.ranges.is_empty() && self.labels.is_empty()
    }

    /// Which label sets pass the label filters (indexed by set), `None` without filters.
    pub fn label_mask(&self, p: &Profile) -> Option<Vec<bool>> {
        if self.labels.is_empty() {
            return None;
        }
        let mut keys: Vec<&str> = self.labels.iter().map(|f| f.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        // Per label row: the index of the key it satisfies, if it passes a filter.
        let passes: Vec<Option<usize>> = (0..p.labels.len() as u32)
            .map(|l| {
                let key = p.label_key(l);
                let k = keys.iter().position(|&x| x == key)?;
                let value = p.label_value(l);
                self.labels
                    .iter()
                    .any(|f| f.key == key && f.value == value)
                    .then_some(k)
            })
            .collect();
        let mut seen = vec![false; keys.len()];
        Some(
            (0..p.labels.set_count() as u32)
                .map(|s| {
                    seen.iter_mut().for_each(|x| *x = false);
                    for &l in p.labels.set(s) {
                        if let Some(Some(k)) = passes.get(l as usize) {
                            seen[*k] = true;
                        }
                    }
                    seen.iter().all(|&x| x)
                })
                .collect(),
        )
    }

    /// The sample rows this selection covers, as slices of the sample table: per thread, and
    /// per time range two binary searches on the thread's sorted times.
    pub fn sample_slices(&self, p: &Profile) -> Vec<Range<usize>> {
        self.thread_slices(p).into_iter().map(|(_, r)| r).collect()
    }

    /// [`Selection::sample_slices`], each with its thread.
    pub fn thread_slices(&self, p: &Profile) -> Vec<(ThreadId, Range<usize>)> {
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
                    out.push((t, rows));
                }
                continue;
            }
            let times = &p.samples.time_ns[rows.clone()];
            for &(start, end) in &self.ranges {
                let a = times.partition_point(|&x| x < start);
                let b = times.partition_point(|&x| x < end);
                if a < b {
                    out.push((t, rows.start + a..rows.start + b));
                }
            }
        }
        out
    }
}
