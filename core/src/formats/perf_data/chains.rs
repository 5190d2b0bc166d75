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
/// so that the multiplications overlap instead of waiting for each other; the key joins the
/// mixed lanes, which are folded in two independent wide multiplications and a third.
///
/// The hash only places an entry: a match is always confirmed by comparing key and bytes, so
/// its quality decides speed, never which stack a sample gets. The finish used to be a chain of
/// eight dependent multiplications (FxHasher over the key and lanes, then fmix64): three
/// quarters of the hash's cycles in a profile of a 1 GB capture's load.
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
    // The key joins the mixed lanes, not the raw words: the sampled ip is also the chain's
    // first address, and xored into a lane before mixing it would cancel out.
    let k0 = ((key.pid as u32 as u64) << 32) | key.epoch as u64;
    let k1 = ((key.cpumode as u64) << 1) | key.ip.is_some() as u64 | (chain.len() as u64) << 32;
    let a = folded_mul(
        lanes[0] ^ k0 ^ 0x4528_21e6_38d0_1377,
        lanes[1] ^ 0xbe54_66cf_34e9_0c6c,
    );
    let b = folded_mul(
        lanes[2] ^ k1 ^ 0xc0ac_29b7_c97c_50dd,
        lanes[3] ^ key.ip.unwrap_or(0) ^ 0x3f84_d5b5_b547_0917,
    );
    folded_mul(a ^ 0x9216_d5d9_8979_fb1b, b ^ 0xd131_0ba6_98df_b5ac)
}

/// The 128-bit product of `a` and `b`, its halves xored: every input bit reaches the top bits
/// (hashbrown's control bytes) and the bottom ones (its bucket index).
fn folded_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// A callchain as perf writes it: a context marker, the sampled ip, then return addresses.
    fn chain(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn chains_that_differ_in_one_address_get_spread_hashes() {
        let mut all = HashSet::new();
        let mut top = HashSet::new();
        let mut buckets: HashMap<u64, usize> = HashMap::new();
        for i in 0..10_000u64 {
            // The leaf moves by an instruction, as in a hot loop; the sampled ip is the chain's
            // first address (xored into a lane raw, the two cancelled: 21 hashes for these).
            let ip = 0x5555_5555_0000 + i * 4;
            let words = [
                0xffff_ffff_ffff_fe00,
                ip,
                0x5555_5555_8000,
                0x7f00_0000_1000,
                0x5555_5555_9000,
                0x5555_5555_a000,
                0x5555_5555_b000,
                0x5555_5555_c000,
                0x5555_5555_d000,
                0x5555_5555_e000,
                0x5555_5555_f000,
            ];
            let key = ChainKey {
                pid: 1234,
                epoch: 0,
                cpumode: 2,
                ip: Some(ip),
            };
            let h = hash(&key, &chain(&words));
            all.insert(h);
            top.insert(h >> 57);
            *buckets.entry(h & 0xfff).or_default() += 1;
        }
        assert_eq!(all.len(), 10_000);
        // hashbrown's control byte takes the top 7 bits, its bucket the bottom ones.
        assert_eq!(top.len(), 128);
        // 10,000 keys in 4,096 buckets: about 3,740 used and at most a dozen in one.
        assert!(buckets.len() > 3_500, "{} buckets used", buckets.len());
        assert!(buckets.values().all(|&n| n <= 16), "{buckets:?}");
    }

    #[test]
    fn every_part_of_the_key_changes_the_hash() {
        let words = chain(&[0xffff_ffff_ffff_fe00, 0x40_1000, 0x40_2000, 0x40_3000]);
        let key = ChainKey {
            pid: 7,
            epoch: 1,
            cpumode: 2,
            ip: Some(0x40_1000),
        };
        let variants = [
            key,
            ChainKey { pid: 8, ..key },
            ChainKey { epoch: 2, ..key },
            ChainKey { cpumode: 1, ..key },
            ChainKey { ip: None, ..key },
            ChainKey { ip: Some(0), ..key },
            ChainKey {
                ip: Some(0x40_1004),
                ..key
            },
        ];
        let hashes: HashSet<u64> = variants.iter().map(|k| hash(k, &words)).collect();
        assert_eq!(hashes.len(), variants.len());
        // A chain cut one entry shorter, or with a zero entry more, hashes apart too.
        assert_ne!(hash(&key, &words), hash(&key, &words[..24]));
        let mut longer = words.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_ne!(hash(&key, &words), hash(&key, &longer));
    }
}
