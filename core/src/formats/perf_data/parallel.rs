//! The sample pass on several threads.
//!
//! Pass 1 notes where a record starts every [`CHUNK`] bytes. In pass 2, workers decode the
//! samples of one chunk each and gather the chunk's distinct callchains (keyed as in
//! [`chains`](super::chains): process, mapping epoch, cpumode, ip, callchain bytes) without
//! touching the builder. The calling thread merges the chunks in file order: each distinct
//! callchain of a chunk becomes a stack once, through the same cache and code as the one-thread
//! pass, then the chunk's samples are added in their order. Stacks, frames and threads are
//! therefore created in the order one thread would create them, and the profile is the same.
//!
//! Only plain frame-pointer (or LBR) files without off-CPU analysis take this path: DWARF
//! samples are unwound in batches of their own, compressed records form one stream that must be
//! read in order, and off-CPU time follows each sample in file order.

use super::chains::{self, ChainKey};
use super::records::{self, Record};
use super::{Counts, Decoder, MISC_CPUMODE_MASK, PerfData};
use crate::model::{ProfileBuilder, StackId};
use crate::{Progress, Result};
use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Bytes of the data section per chunk of work.
pub const CHUNK: usize = 8 << 20;

/// Chunks decoded ahead of the merge, per worker: bounds the memory of decoded samples
/// (about 2 MB per chunk of a typical file).
const AHEAD_PER_WORKER: usize = 2;

/// A panic caused on purpose in the sample pass, for the tests of what follows one.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// In the worker that decodes this chunk.
    Decode(usize),
    /// In the merger, before it merges this chunk.
    Merge(usize),
}

#[cfg(test)]
thread_local! {
    /// The fault of the next parser made on this thread.
    pub(super) static FAULT: std::cell::Cell<Option<Fault>> = const { std::cell::Cell::new(None) };
}

/// A distinct callchain of a chunk, in the order of its first sample.
struct LocalChain {
    hash: u64,
    key: ChainKey,
    /// Its bytes in [`Chunk::bytes`] (after its head).
    at: usize,
    len: usize,
    /// Time of its first sample.
    time: u64,
}

/// Bytes of a chain's head in [`Chunk::bytes`]: its key and length, right before its bytes, so
/// that a probe reads one stretch of memory (reading the key from [`LocalChain`] was a cache
/// miss of its own in a third of the probes' time).
const HEAD: usize = 24;

/// The head of a chain of `len` bytes under `key`.
fn head_of(key: &ChainKey, len: usize) -> [u8; HEAD] {
    let mut h = [0u8; HEAD];
    h[0..4].copy_from_slice(&key.pid.to_le_bytes());
    h[4..8].copy_from_slice(&key.epoch.to_le_bytes());
    h[8..10].copy_from_slice(&key.cpumode.to_le_bytes());
    h[10] = u8::from(key.ip.is_some());
    h[12..16].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    h[16..24].copy_from_slice(&key.ip.unwrap_or(0).to_le_bytes());
    h
}

/// The samples of one thread in a chunk, in order, waiting for their stacks.
#[derive(Default)]
struct ThreadRows {
    pid: i32,
    tid: i32,
    /// Index of each sample's callchain in [`Chunk::chains`].
    chain: Vec<u32>,
    time: Vec<u64>,
    sample_type: Vec<u16>,
    weight: Vec<i64>,
}

#[derive(Default)]
struct Chunk {
    chains: Vec<LocalChain>,
    /// The distinct callchains' heads and bytes, one after another: compared against while
    /// the chunk is decoded, they stay in the core's cache, where the first sample's bytes in
    /// the file would not.
    bytes: Vec<u8>,
    /// Per thread, in the order of each thread's first sample in the chunk.
    threads: Vec<ThreadRows>,
    counts: Counts,
    /// Rows of threads of an earlier chunk, emptied, for the next chunk's threads: a chunk is
    /// decoded into the buffers of one merged before, so that its columns do not grow from
    /// nothing (reallocations and fresh pages were a tenth of a 1 GB capture's page faults).
    spare: Vec<ThreadRows>,
}

impl Chunk {
    /// Empties the chunk for another, keeping its buffers.
    fn reset(&mut self) {
        self.chains.clear();
        self.bytes.clear();
        self.counts = Counts::default();
        self.spare.append(&mut self.threads);
    }

    /// Rows for thread `pid`/`tid`, from the spare ones when there are.
    fn new_thread(&mut self, pid: i32, tid: i32) -> usize {
        let mut rows = self.spare.pop().unwrap_or_default();
        rows.pid = pid;
        rows.tid = tid;
        rows.chain.clear();
        rows.time.clear();
        rows.sample_type.clear();
        rows.weight.clear();
        self.threads.push(rows);
        self.threads.len() - 1
    }
}

/// Decodes the samples of `range` (which starts at a record) without the builder, into `out`
/// (emptied first).
fn decode_chunk(
    data: &[u8],
    range: Range<usize>,
    pipe: bool,
    decoder: Decoder<'_>,
    space: &super::maps::AddressSpace,
    progress: &Progress,
    mut out: Chunk,
) -> Result<Chunk> {
    crate::mapped::read_ahead(&data[range.clone()]);
    out.reset();
    // (hash, where its head is in `bytes`, index in chains): a probe compares hashes, then the
    // head and bytes it points at, without touching the chains.
    let mut index: HashTable<(u64, usize, u32)> = HashTable::new();
    let mut thread_index: FxHashMap<(i32, i32), usize> = FxHashMap::default();
    let mut last_thread: Option<((i32, i32), usize)> = None;
    // Samples come in runs of one process: its epoch boundaries are looked up once per run.
    let mut epochs: (i32, &[u64]) = (i32::MIN, &[]);
    // The walk's truncation report is pass 1's to give.
    records::walk(
        &data[range.clone()],
        range.start as u64,
        pipe,
        progress,
        |rec: Record<'_>| {
            let Some(d) = decoder.decode(&rec, &mut out.counts) else {
                return Ok(());
            };
            let s = &d.sample;
            if epochs.0 != s.pid {
                epochs = (s.pid, space.epoch_starts(s.pid));
            }
            let key = ChainKey {
                pid: s.pid,
                epoch: super::maps::epoch_in(epochs.1, s.time),
                cpumode: rec.misc & MISC_CPUMODE_MASK,
                ip: s.ip,
            };
            let h = chains::hash(&key, s.callchain);
            let head = head_of(&key, s.callchain.len());
            let bytes = &out.bytes;
            let chain = match index.find(h, |&(eh, at, _)| {
                eh == h && {
                    let (their_head, chain) = bytes[at..].split_at(HEAD);
                    their_head == head && chain.get(..s.callchain.len()) == Some(s.callchain)
                }
            }) {
                Some(&(_, _, i)) => i,
                None => {
                    let i = u32::try_from(out.chains.len()).unwrap_or(u32::MAX);
                    let at = out.bytes.len();
                    out.chains.push(LocalChain {
                        hash: h,
                        key,
                        at: at + HEAD,
                        len: s.callchain.len(),
                        time: s.time,
                    });
                    out.bytes.extend_from_slice(&head);
                    out.bytes.extend_from_slice(s.callchain);
                    index.insert_unique(h, (h, at, i), |&(h, _, _)| h);
                    i
                }
            };
            let who = (s.pid, s.tid);
            let t = match last_thread {
                Some((k, t)) if k == who => t,
                _ => {
                    let t = *thread_index
                        .entry(who)
                        .or_insert_with(|| out.new_thread(s.pid, s.tid));
                    last_thread = Some((who, t));
                    t
                }
            };
            let rows = &mut out.threads[t];
            rows.chain.push(chain);
            rows.time.push(s.time);
            rows.sample_type
                .push(u16::try_from(d.sample_type).unwrap_or(u16::MAX));
            rows.weight.push(d.weight);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Stops the sample pass's workers.
struct Halt<'a> {
    stop: &'a AtomicBool,
    merged: &'a (Mutex<usize>, Condvar),
}

impl Halt<'_> {
    fn now(&self) {
        let _m = self.merged.0.lock().unwrap_or_else(|e| e.into_inner());
        self.stop.store(true, Ordering::Release);
        self.merged.1.notify_all();
    }

    /// Stops the workers when dropped, however the merge ends.
    fn on_end(&self) -> HaltOnDrop<'_, '_> {
        HaltOnDrop(self, false)
    }

    /// Stops the workers when dropped while unwinding.
    fn on_panic(&self) -> HaltOnDrop<'_, '_> {
        HaltOnDrop(self, true)
    }
}

struct HaltOnDrop<'h, 'a>(&'h Halt<'a>, bool);

impl Drop for HaltOnDrop<'_, '_> {
    fn drop(&mut self) {
        if !self.1 || std::thread::panicking() {
            self.0.now();
        }
    }
}

impl Counts {
    /// Adds the sample-pass counts of a chunk.
    fn absorb(&mut self, c: Counts) {
        self.unknown_event_ids += c.unknown_event_ids;
        self.malformed_samples += c.malformed_samples;
        if self.first_malformed.is_none() {
            self.first_malformed = c.first_malformed;
        }
        self.stack_user_samples += c.stack_user_samples;
        self.clamped_periods += c.clamped_periods;
    }
}

impl PerfData<'_> {
    /// Pass 2 over `chunks` (consecutive ranges, each starting at a record) on `workers`
    /// threads besides the calling one, which merges.
    pub(super) fn parallel_samples(
        &mut self,
        chunks: &[Range<usize>],
        workers: usize,
        progress: &Progress,
        b: &mut ProfileBuilder,
    ) -> Result<()> {
        // The workers' copy of what decoding needs (the parser itself stays the merger's).
        let attrs = self.attrs.clone();
        let id_to_attr = self.id_to_attr.clone();
        let attr_type = self.attr_type.clone();
        let decoder = Decoder {
            attrs: &attrs,
            id_to_attr: &id_to_attr,
            attr_type: &attr_type,
        };
        let space = self.space.clone();
        let (data, pipe) = (self.data, self.header.pipe);
        #[cfg(test)]
        let fault = self.fault;

        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        // How many chunks are merged; a worker waits while its chunk is too far ahead.
        let merged = (Mutex::new(0usize), Condvar::new());
        // Stops the workers: set when the merge ends, and by a thread that panics, so that no
        // thread waits forever for a merge or a chunk that will not come (the scope then
        // joins every thread and passes the panic on).
        let halt = Halt {
            stop: &stop,
            merged: &merged,
        };
        let ahead = AHEAD_PER_WORKER * workers;
        let (tx, rx) = mpsc::channel::<(usize, Result<Chunk>)>();
        // Chunks merged, for the workers to decode the next ones into.
        let merged_chunks: Mutex<Vec<Chunk>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, stop, merged, space) = (&next, &stop, &merged, &space);
                let spare = &merged_chunks;
                let halt = &halt;
                scope.spawn(move || {
                    let _on_panic = halt.on_panic();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= chunks.len() {
                            return;
                        }
                        {
                            let mut m = merged.0.lock().unwrap_or_else(|e| e.into_inner());
                            while i >= *m + ahead && !stop.load(Ordering::Acquire) {
                                m = merged.1.wait(m).unwrap_or_else(|e| e.into_inner());
                            }
                        }
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        #[cfg(test)]
                        assert!(
                            fault != Some(Fault::Decode(i)),
                            "fault in decoding chunk {i}"
                        );
                        let buffers = (spare.lock().unwrap_or_else(|e| e.into_inner()).pop())
                            .unwrap_or_default();
                        let r = decode_chunk(
                            data,
                            chunks[i].clone(),
                            pipe,
                            decoder,
                            space,
                            progress,
                            buffers,
                        );
                        if tx.send((i, r)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let _on_end = halt.on_end();
            let mut waiting: BTreeMap<usize, Result<Chunk>> = BTreeMap::new();
            let mut want = 0usize;
            let mut result = Ok(());
            'recv: for (i, r) in rx.iter() {
                waiting.insert(i, r);
                while let Some(r) = waiting.remove(&want) {
                    #[cfg(test)]
                    assert!(
                        fault != Some(Fault::Merge(want)),
                        "fault in merging chunk {want}"
                    );
                    match r {
                        Ok(mut c) => {
                            self.merge_chunk(b, &mut c);
                            (merged_chunks.lock().unwrap_or_else(|e| e.into_inner())).push(c);
                        }
                        Err(e) => {
                            result = Err(e);
                            break 'recv;
                        }
                    }
                    crate::mapped::done_with(&data[chunks[want].clone()]);
                    want += 1;
                    *merged.0.lock().unwrap_or_else(|e| e.into_inner()) = want;
                    merged.1.notify_all();
                }
            }
            result
        })
    }

    /// Adds a decoded chunk's samples, in order.
    fn merge_chunk(&mut self, b: &mut ProfileBuilder, chunk: &mut Chunk) {
        self.counts.absorb(std::mem::take(&mut chunk.counts));
        // Per distinct chain: its stack, or NONE when it depends on each sample's time.
        let mut stacks: Vec<StackId> = Vec::with_capacity(chunk.chains.len());
        let mut timed = false;
        for c in &chunk.chains {
            let chain = &chunk.bytes[c.at..c.at + c.len];
            let stack = match self.chains.get_hashed(c.hash, &c.key, chain) {
                Ok(stack) => stack,
                Err(h) => {
                    let stack = self.chain_stack(b, &c.key, chain, c.time);
                    if self.fallback_lookup {
                        timed = true;
                        StackId::NONE
                    } else {
                        self.chains.insert(h, c.key, chain, stack);
                        stack
                    }
                }
            };
            stacks.push(stack);
        }
        for rows in &chunk.threads {
            let thread = self.thread(b, rows.pid, rows.tid);
            if timed {
                let row_stacks: Vec<StackId> = (rows.chain.iter().zip(&rows.time))
                    .map(|(&c, &time)| {
                        let stack = stacks[c as usize];
                        if stack.is_some() {
                            return stack;
                        }
                        let c = &chunk.chains[c as usize];
                        self.chain_stack(b, &c.key, &chunk.bytes[c.at..c.at + c.len], time)
                    })
                    .collect();
                b.add_samples_one(
                    thread,
                    row_stacks.into_iter(),
                    &rows.time,
                    &rows.sample_type,
                    &rows.weight,
                );
            } else {
                b.add_samples_one(
                    thread,
                    rows.chain.iter().map(|&c| stacks[c as usize]),
                    &rows.time,
                    &rows.sample_type,
                    &rows.weight,
                );
            }
        }
    }
}
