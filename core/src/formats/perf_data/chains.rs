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
}

/// Hash of a key and callchain. The chain (tens of entries) is hashed in four independent lanes,
/// so that the multiplications overlap instead of waiting for each other; the lanes and the key
/// are mixed at the end.
pub fn hash(key: &ChainKey, chain: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut lanes = [
        0x243f_6a88_85a3_08d3u64,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let mut blocks = chain.chunks_exact(32);
    for block in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    for (lane, w) in lanes.iter_mut().zip(blocks.remainder().chunks_exact(8)) {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut h = rustc_hash::FxHasher::default();
    h.write_u64(((key.pid as u32 as u64) << 32) | key.epoch as u64);
    h.write_u64(((key.cpumode as u64) << 1) | key.ip.is_some() as u64);
    h.write_u64(key.ip.unwrap_or(0));
    for lane in lanes {
        h.write_u64(lane);
    }
    h.write_usize(chain.len());
    // fmix64: every input bit reaches the top bits hashbrown's control bytes use.
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl ChainCache {
    /// The stack cached for `chain` under `key`, and the hash to [`ChainCache::insert`] it with
    /// when there is none.
    pub fn get(&self, key: &ChainKey, chain: &[u8]) -> Result<StackId, u64> {
        self.get_hashed(hash(key, chain), key, chain)
    }

    /// [`ChainCache::get`] with the [`hash`] of `key` and `chain` already known.
    pub fn get_hashed(&self, h: u64, key: &ChainKey, chain: &[u8]) -> Result<StackId, u64> {
        let bytes = &self.bytes;
        self.table
            .find(h, |e| {
                e.hash == h && e.key == *key && &bytes[e.at..e.at + e.len] == chain
            })
            .map(|e| e.stack)
            .ok_or(h)
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
