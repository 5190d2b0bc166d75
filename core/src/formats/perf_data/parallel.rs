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
//! Only plain frame-pointer (or LBR) files take this path: DWARF samples are unwound in
//! batches of their own, and compressed records form one stream that must be read in order.

use super::chains::{self, ChainKey};
use super::records::{self, Record};
use super::{Counts, Decoder, MISC_CPUMODE_MASK, PerfData};
use crate::model::{ProfileBuilder, StackId};
use crate::{Progress, Result};
use hashbrown::HashTable;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Bytes of the data section per chunk of work.
pub const CHUNK: usize = 8 << 20;

/// Chunks decoded ahead of the merge, per worker: bounds the memory of decoded samples
/// (about 2 MB per chunk of a typical file).
const AHEAD_PER_WORKER: usize = 2;

/// A distinct callchain of a chunk, in the order of its first sample.
struct LocalChain<'a> {
    hash: u64,
    key: ChainKey,
    chain: &'a [u8],
    /// Time of its first sample.
    time: u64,
}

/// A decoded sample waiting for its stack.
struct ChunkSample {
    chain: u32,
    attr: u32,
    pid: i32,
    tid: i32,
    time: u64,
    weight: i64,
}

#[derive(Default)]
struct Chunk<'a> {
    chains: Vec<LocalChain<'a>>,
    samples: Vec<ChunkSample>,
    counts: Counts,
}

/// Decodes the samples of `range` (which starts at a record) without the builder.
fn decode_chunk<'a>(
    data: &'a [u8],
    range: Range<usize>,
    pipe: bool,
    decoder: Decoder<'_>,
    space: &super::maps::AddressSpace,
    progress: &Progress,
) -> Result<Chunk<'a>> {
    crate::mapped::read_ahead(&data[range.clone()]);
    let mut out = Chunk::default();
    let mut index: HashTable<u32> = HashTable::new();
    // The walk's truncation report is pass 1's to give.
    records::walk(
        &data[range.clone()],
        range.start as u64,
        pipe,
        progress,
        |rec: Record<'a>| {
            let Some(d) = decoder.decode(&rec, &mut out.counts) else {
                return Ok(());
            };
            let s = &d.sample;
            let key = ChainKey {
                pid: s.pid,
                epoch: space.epoch(s.pid, s.time),
                cpumode: rec.misc & MISC_CPUMODE_MASK,
                ip: s.ip,
            };
            let h = chains::hash(&key, s.callchain);
            let known = &out.chains;
            let chain = match index.find(h, |&i| {
                let c = &known[i as usize];
                c.hash == h && c.key == key && c.chain == s.callchain
            }) {
                Some(&i) => i,
                None => {
                    let i = u32::try_from(out.chains.len()).unwrap_or(u32::MAX);
                    out.chains.push(LocalChain {
                        hash: h,
                        key,
                        chain: s.callchain,
                        time: s.time,
                    });
                    let known = &out.chains;
                    index.insert_unique(h, i, |&i| known[i as usize].hash);
                    i
                }
            };
            out.samples.push(ChunkSample {
                chain,
                attr: d.attr as u32,
                pid: s.pid,
                tid: s.tid,
                time: s.time,
                weight: d.weight,
            });
            Ok(())
        },
    )?;
    Ok(out)
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

        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        // How many chunks are merged; a worker waits while its chunk is too far ahead.
        let merged = (Mutex::new(0usize), Condvar::new());
        let ahead = AHEAD_PER_WORKER * workers;
        let (tx, rx) = mpsc::channel::<(usize, Result<Chunk<'_>>)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, stop, merged, space) = (&next, &stop, &merged, &space);
                scope.spawn(move || {
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
                        let r =
                            decode_chunk(data, chunks[i].clone(), pipe, decoder, space, progress);
                        if tx.send((i, r)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let mut waiting: BTreeMap<usize, Result<Chunk<'_>>> = BTreeMap::new();
            let mut want = 0usize;
            let mut result = Ok(());
            'recv: for (i, r) in rx.iter() {
                waiting.insert(i, r);
                while let Some(r) = waiting.remove(&want) {
                    match r {
                        Ok(c) => self.merge_chunk(b, c),
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
            if result.is_err() {
                let _m = merged.0.lock().unwrap_or_else(|e| e.into_inner());
                stop.store(true, Ordering::Release);
                merged.1.notify_all();
            }
            result
        })
    }

    /// Adds a decoded chunk's samples, in order.
    fn merge_chunk(&mut self, b: &mut ProfileBuilder, chunk: Chunk<'_>) {
        self.counts.absorb(chunk.counts);
        // Per distinct chain: its stack, or NONE when it depends on each sample's time.
        let mut stacks: Vec<StackId> = Vec::with_capacity(chunk.chains.len());
        for c in &chunk.chains {
            let stack = match self.chains.get_hashed(c.hash, &c.key, c.chain) {
                Ok(stack) => stack,
                Err(h) => {
                    let stack = self.chain_stack(b, &c.key, c.chain, c.time);
                    if self.fallback_lookup {
                        StackId::NONE
                    } else {
                        self.chains.insert(h, c.key, c.chain, stack);
                        stack
                    }
                }
            };
            stacks.push(stack);
        }
        for s in &chunk.samples {
            let c = s.chain as usize;
            let stack = if stacks[c].is_some() {
                stacks[c]
            } else {
                let c = &chunk.chains[c];
                self.chain_stack(b, &c.key, c.chain, s.time)
            };
            let ai = s.attr as usize;
            let Some(Some(sample_type)) = self.attr_type.get(ai).copied() else {
                continue;
            };
            let thread = self.thread(b, s.pid, s.tid);
            self.add_sample_stack(b, stack, thread, s.time, sample_type, s.weight);
            self.after_sample(ai, thread, s.tid, s.time, stack);
        }
    }
}
