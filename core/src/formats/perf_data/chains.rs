//! The stacks of callchains already seen.
//!
//! Most samples of a profile repeat a callchain an earlier sample had: a hot loop is sampled
//! thousands of times at the same few return addresses. Turning a callchain into a stack costs
//! a mapping lookup, a frame lookup and a stack-node lookup per entry; this cache turns a
//! repeated one into its stack with one hash of the raw callchain bytes and one comparison.
//!
//! The stack of a callchain depends on the process's mappings at the sample's time, so the key
//! includes the process and its [epoch](super::maps::AddressSpace::epoch). A chain whose
//! lookups fell back on a mapping that is not live at that time is not cached (that answer
//! depends on the exact time).

use crate::model::StackId;
use hashbrown::HashTable;
use std::hash::Hasher;

/// Most bytes of callchains held; past this the cache starts over (a long capture whose code
/// keeps changing must not grow it without bound).
const MAX_BYTES: usize = 128 << 20;

/// What besides the callchain decides a sample's stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChainKey {
    pub pid: i32,
    pub epoch: u32,
    /// The record's cpumode bits.
    pub cpumode: u16,
    /// The sampled ip, if the sample has one.
    pub ip: Option<u64>,
}

struct Entry {
    hash: u64,
    key: ChainKey,
    /// The callchain's bytes in `bytes`.
    at: usize,
    len: usize,
    stack: StackId,
}

#[derive(Default)]
pub struct ChainCache {
    table: HashTable<Entry>,
    bytes: Vec<u8>,
    pub hits: u64,
    pub misses: u64,
}

fn hash(key: &ChainKey, chain: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_u64(((key.pid as u32 as u64) << 32) | key.epoch as u64);
    h.write_u64(((key.cpumode as u64) << 1) | key.ip.is_some() as u64);
    h.write_u64(key.ip.unwrap_or(0));
    for w in chain.chunks_exact(8) {
        h.write_u64(u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    h.write_usize(chain.len());
    h.finish()
}

impl ChainCache {
    /// The stack cached for `chain` under `key`, and the hash to [`ChainCache::insert`] it with
    /// when there is none.
    pub fn get(&mut self, key: &ChainKey, chain: &[u8]) -> Result<StackId, u64> {
        let h = hash(key, chain);
        let bytes = &self.bytes;
        match self.table.find(h, |e| {
            e.hash == h && e.key == *key && &bytes[e.at..e.at + e.len] == chain
        }) {
            Some(e) => {
                self.hits += 1;
                Ok(e.stack)
            }
            None => {
                self.misses += 1;
                Err(h)
            }
        }
    }

    pub fn insert(&mut self, hash: u64, key: ChainKey, chain: &[u8], stack: StackId) {
        if self.bytes.len() + chain.len() > MAX_BYTES {
            self.table.clear();
            self.bytes.clear();
        }
        let at = self.bytes.len();
        self.bytes.extend_from_slice(chain);
        self.table.insert_unique(
            hash,
            Entry {
                hash,
                key,
                at,
                len: chain.len(),
                stack,
            },
            |e| e.hash,
        );
    }
}
