//! Which module an address belongs to, per process and over time.
//!
//! The first pass over the records collects every MMAP/MMAP2, COMM and FORK record; this index
//! is then built once and only read while samples are decoded. Lookups take the sample's time
//! into account, because records are only roughly time-ordered in the file (per-CPU buffers are
//! flushed round by round) and an address can change owner: a process `exec`s, a library is
//! unloaded and another mapped at its place.

use crate::model::ModuleId;
use rustc_hash::FxHashMap;

/// One executable mapping of a process.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub pgoff: u64,
    pub module: ModuleId,
    /// False for anonymous (JIT) memory, whose addresses stay absolute.
    pub file_backed: bool,
    /// Valid from this time (when the MMAP record was written) ...
    pub time_start: u64,
    /// ... until this time (the process `exec`ed), `u64::MAX` if never replaced.
    pub time_end: u64,
}

/// The mappings of one process, sorted by start address.
#[derive(Clone, Default, Debug)]
struct ProcessMaps {
    maps: Vec<Mapping>,
    /// `max_end[i]` = largest `end` among `maps[..=i]`: lets a backward scan stop early.
    max_end: Vec<u64>,
}

/// Mappings of every process, plus the fork tree for processes that inherit their parent's.
#[derive(Clone, Default, Debug)]
pub struct AddressSpace {
    procs: FxHashMap<i32, ProcessMaps>,
    /// pid -> (parent pid, fork time) for processes created by fork (not threads).
    parents: FxHashMap<i32, (i32, u64)>,
    /// exec times per pid (COMM records with the exec flag).
    execs: FxHashMap<i32, Vec<u64>>,
    /// Per pid, every time at which a lookup's answer may change: the start and end of each
    /// mapping of the process and its fork ancestors, and their fork times. Between two of
    /// them (an epoch), [`AddressSpace::lookup`] gives the same live mapping for an address.
    boundaries: FxHashMap<i32, Vec<u64>>,
}

/// A lookup's answer: the mapping, and whether it is valid at the time asked (false: the
/// nearest in time, a fallback that depends on the exact time).
#[derive(Clone, Copy, Debug)]
pub struct Found<'a> {
    pub mapping: Option<&'a Mapping>,
    pub live: bool,
}

/// How deep to follow fork parents; a cycle in hostile data must not loop.
const MAX_FORK_DEPTH: usize = 16;

/// Most mappings examined per lookup. The scan starts at the mapping with the highest start at
/// or below the address, which is the one that holds it unless mappings overlap; real overlaps
/// (an exec, a library unloaded and another mapped in its place) are a handful deep. The bound
/// keeps hostile files (thousands of mappings under one huge one) linear.
const MAX_SCAN: usize = 64;

impl AddressSpace {
    pub fn add_mapping(&mut self, pid: i32, m: Mapping) {
        self.procs.entry(pid).or_default().maps.push(m);
    }

    pub fn add_fork(&mut self, pid: i32, ppid: i32, time: u64) {
        if pid != ppid {
            self.parents.entry(pid).or_insert((ppid, time));
        }
    }

    pub fn add_exec(&mut self, pid: i32, time: u64) {
        self.execs.entry(pid).or_default().push(time);
    }

    /// Sorts the mappings and closes the ones replaced by an `exec`. Call once after the first
    /// pass and before any lookup.
    pub fn finish(&mut self) {
        for execs in self.execs.values_mut() {
            execs.sort_unstable();
        }
        for (pid, p) in &mut self.procs {
            if let Some(execs) = self.execs.get(pid) {
                for m in &mut p.maps {
                    // A mapping ends at the first exec after it was made.
                    let i = execs.partition_point(|&t| t <= m.time_start);
                    if let Some(&t) = execs.get(i) {
                        m.time_end = m.time_end.min(t);
                    }
                }
            }
            p.maps.sort_by_key(|m| (m.start, m.time_start));
            let mut max = 0;
            p.max_end = p
                .maps
                .iter()
                .map(|m| {
                    max = max.max(m.end);
                    max
                })
                .collect();
        }
        let pids: Vec<i32> = self
            .procs
            .keys()
            .chain(self.parents.keys())
            .copied()
            .collect();
        for pid in pids {
            let mut times = Vec::new();
            let mut p = pid;
            for _ in 0..MAX_FORK_DEPTH {
                if let Some(maps) = self.procs.get(&p) {
                    for m in &maps.maps {
                        times.push(m.time_start);
                        if m.time_end != u64::MAX {
                            times.push(m.time_end);
                        }
                    }
                }
                match self.parents.get(&p) {
                    Some(&(ppid, fork_time)) => {
                        times.push(fork_time);
                        p = ppid;
                    }
                    None => break,
                }
            }
            times.sort_unstable();
            times.dedup();
            self.boundaries.insert(pid, times);
        }
    }

    /// The epoch of `pid` at `time`: lookups of `pid` at two times of the same epoch that find
    /// a live mapping find the same one.
    pub fn epoch(&self, pid: i32, time: u64) -> u32 {
        epoch_in(self.epoch_starts(pid), time)
    }

    /// The times at which `pid`'s epochs change, for [`epoch_in`]: a reader of many samples
    /// of one process looks them up once.
    pub fn epoch_starts(&self, pid: i32) -> &[u64] {
        self.boundaries.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// The mapping of `pid` that holds `addr` at `time`, looking through fork parents.
    #[cfg(test)]
    pub fn find(&self, pid: i32, addr: u64, time: u64) -> Option<&Mapping> {
        self.lookup(pid, addr, time).mapping
    }

    /// [`AddressSpace::find`], saying whether the mapping is live at `time`.
    pub fn lookup(&self, pid: i32, addr: u64, time: u64) -> Found<'_> {
        let (mut pid, mut time) = (pid, time);
        let none = Found {
            mapping: None,
            live: true,
        };
        for _ in 0..MAX_FORK_DEPTH {
            if let Some((m, live)) = self.find_in(pid, addr, time) {
                return Found {
                    mapping: Some(m),
                    live,
                };
            }
            let Some(&(ppid, fork_time)) = self.parents.get(&pid) else {
                return none;
            };
            pid = ppid;
            time = time.min(fork_time);
        }
        none
    }

    /// The executable mappings to unwind `pid`'s stacks with, without overlaps: its own
    /// before its fork parents', live ones before those closed by an exec, newer before older.
    pub fn unwind_mappings(&self, pid: i32) -> Vec<Mapping> {
        let mut all: Vec<(usize, &Mapping)> = Vec::new();
        let mut p = pid;
        for depth in 0..MAX_FORK_DEPTH {
            if let Some(maps) = self.procs.get(&p) {
                all.extend(maps.maps.iter().map(|m| (depth, m)));
            }
            match self.parents.get(&p) {
                Some(&(ppid, _)) => p = ppid,
                None => break,
            }
        }
        all.sort_by_key(|&(depth, m)| {
            (
                depth,
                m.time_end != u64::MAX,
                std::cmp::Reverse(m.time_start),
            )
        });
        let mut out: Vec<Mapping> = Vec::new();
        for (_, m) in all {
            if out.iter().all(|o| m.end <= o.start || m.start >= o.end) {
                out.push(*m);
            }
        }
        out
    }

    /// The mapping of `pid` itself holding `addr` at `time` (true), else the one nearest in
    /// time (false).
    fn find_in(&self, pid: i32, addr: u64, time: u64) -> Option<(&Mapping, bool)> {
        let p = self.procs.get(&pid)?;
        let mut i = p.maps.partition_point(|m| m.start <= addr);
        let mut live: Option<&Mapping> = None;
        let mut nearest: Option<(u64, &Mapping)> = None;
        let mut scanned = 0;
        while i > 0 && scanned < MAX_SCAN {
            i -= 1;
            scanned += 1;
            if p.max_end[i] <= addr {
                break;
            }
            let m = &p.maps[i];
            if addr >= m.end {
                continue;
            }
            if m.time_start <= time && time < m.time_end {
                if live.is_none_or(|l| m.time_start >= l.time_start) {
                    live = Some(m);
                }
            } else {
                // Not valid at this time: keep the one closest in time as a fallback (its
                // MMAP record may have been written a little after the sample).
                let d = if time < m.time_start {
                    m.time_start - time
                } else {
                    time - m.time_end.min(time)
                };
                if nearest.is_none_or(|(nd, _)| d < nd) {
                    nearest = Some((d, m));
                }
            }
        }
        live.map(|m| (m, true)).or(nearest.map(|(_, m)| (m, false)))
    }
}

/// The epoch at `time` of a process whose epochs change at `starts` ([`AddressSpace::epoch`]).
pub fn epoch_in(starts: &[u64], time: u64) -> u32 {
    starts.partition_point(|&t| t <= time) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(start: u64, end: u64, module: u32, t: u64) -> Mapping {
        Mapping {
            start,
            end,
            pgoff: 0,
            module: ModuleId(module),
            file_backed: true,
            time_start: t,
            time_end: u64::MAX,
        }
    }

    #[test]
    fn finds_by_address_and_time() {
        let mut a = AddressSpace::default();
        a.add_mapping(1, map(0x1000, 0x2000, 0, 0));
        a.add_mapping(1, map(0x3000, 0x4000, 1, 0));
        // After exec at t=100, another binary at an overlapping range.
        a.add_exec(1, 100);
        a.add_mapping(1, map(0x1800, 0x2800, 2, 100));
        a.finish();
        assert_eq!(a.find(1, 0x1500, 50).unwrap().module, ModuleId(0));
        assert_eq!(a.find(1, 0x1900, 50).unwrap().module, ModuleId(0));
        assert_eq!(a.find(1, 0x1900, 150).unwrap().module, ModuleId(2));
        assert_eq!(a.find(1, 0x2500, 150).unwrap().module, ModuleId(2));
        // The pre-exec mapping of 0x3000 is closed too, but still the nearest fallback.
        assert_eq!(a.find(1, 0x3500, 150).unwrap().module, ModuleId(1));
        assert!(a.find(1, 0x5000, 150).is_none());
        assert!(a.find(2, 0x1500, 50).is_none());
    }

    #[test]
    fn forked_children_see_parent_mappings_and_cycles_end() {
        let mut a = AddressSpace::default();
        a.add_mapping(1, map(0x1000, 0x2000, 0, 0));
        a.add_fork(2, 1, 10);
        a.add_fork(3, 4, 10);
        a.add_fork(4, 3, 10);
        a.finish();
        assert_eq!(a.find(2, 0x1500, 20).unwrap().module, ModuleId(0));
        assert!(a.find(3, 0x1500, 20).is_none());
    }

    #[test]
    fn a_late_mmap_record_is_still_found() {
        let mut a = AddressSpace::default();
        a.add_mapping(1, map(0x1000, 0x2000, 0, 500));
        a.finish();
        assert_eq!(a.find(1, 0x1500, 490).unwrap().module, ModuleId(0));
    }

    #[test]
    fn an_epoch_changes_exactly_where_a_lookup_may_change() {
        let mut a = AddressSpace::default();
        a.add_mapping(1, map(0x1000, 0x2000, 0, 10));
        a.add_exec(1, 100);
        a.add_mapping(1, map(0x1000, 0x2000, 2, 100));
        a.add_fork(2, 1, 50);
        a.finish();
        // Before the first mmap record: a fallback, not live.
        assert!(!a.lookup(1, 0x1500, 5).live);
        assert_eq!(a.epoch(1, 10), a.epoch(1, 99));
        assert_ne!(a.epoch(1, 99), a.epoch(1, 100));
        assert!(a.lookup(1, 0x1500, 99).live);
        assert_eq!(a.lookup(1, 0x1500, 99).mapping.unwrap().module, ModuleId(0));
        assert_eq!(
            a.lookup(1, 0x1500, 100).mapping.unwrap().module,
            ModuleId(2)
        );
        // The child sees the parent's mappings as they were at the fork: its epochs change at
        // the fork time too.
        assert_ne!(a.epoch(2, 49), a.epoch(2, 50));
        assert_eq!(
            a.lookup(2, 0x1500, 200).mapping.unwrap().module,
            ModuleId(0)
        );
        // An address no mapping holds: no mapping at any time, a cacheable answer.
        let f = a.lookup(1, 0x9000, 5);
        assert!(f.mapping.is_none() && f.live);
        assert_eq!(a.epoch(7, 123), 0);
    }
}
