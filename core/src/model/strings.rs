//! The string table: every name in a profile is stored once.

use super::ids::StrId;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// All strings of a profile in one byte blob, addressed by [`StrId`].
///
/// Layout: `data` holds the strings back to back; string `i` is
/// `data[offsets[i]..offsets[i + 1]]`. Interning looks the string up through a hash table of ids
/// whose keys are read from the blob, so no string is stored twice.
#[derive(Clone, Default)]
pub struct StringTable {
    data: String,
    offsets: Vec<usize>,
    index: HashTable<StrId>,
    hasher: rustc_hash::FxBuildHasher,
}

impl std::fmt::Debug for StringTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StringTable")
            .field("len", &self.len())
            .finish()
    }
}

impl StringTable {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            data: String::new(),
            offsets: vec![0],
            index: HashTable::new(),
            hasher: rustc_hash::FxBuildHasher,
        }
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when no string was interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The string with id `id`; the empty string for an id out of range.
    pub fn get(&self, id: StrId) -> &str {
        let i = id.index();
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.data[a..b],
            _ => "",
        }
    }

    /// The id of `s`, adding it if it is new.
    pub fn intern(&mut self, s: &str) -> StrId {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let hash = self.hasher.hash_one(s);
        let data = &self.data;
        let offsets = &self.offsets;
        if let Some(&id) = self.index.find(hash, |&id| {
            let i = id.index();
            &data[offsets[i]..offsets[i + 1]] == s
        }) {
            return id;
        }
        let id = StrId::from_index(self.len());
        self.data.push_str(s);
        self.offsets.push(self.data.len());
        let (data, offsets, hasher) = (&self.data, &self.offsets, &self.hasher);
        self.index.insert_unique(hash, id, |&id| {
            let i = id.index();
            hasher.hash_one(&data[offsets[i]..offsets[i + 1]])
        });
        id
    }

    /// The id of `s` if it was interned.
    pub fn find(&self, s: &str) -> Option<StrId> {
        let hash = self.hasher.hash_one(s);
        self.index.find(hash, |&id| self.get(id) == s).copied()
    }

    /// The table's text and its string boundaries (`len() + 1` offsets, the first 0).
    pub fn parts(&self) -> (&str, &[usize]) {
        (&self.data, &self.offsets)
    }

    /// A table from the parts [`parts`](Self::parts) gives, which the caller has validated
    /// (offsets start at 0, never decrease, fall on character boundaries of `data`). Strings
    /// that repeat keep their first id in the index.
    pub fn from_parts(data: String, offsets: Vec<usize>) -> Self {
        let mut t = Self {
            data,
            offsets,
            index: HashTable::new(),
            hasher: rustc_hash::FxBuildHasher,
        };
        if t.offsets.is_empty() {
            t.offsets.push(0);
        }
        let n = t.len();
        t.index.reserve(n, |_| 0);
        for i in 0..n {
            let s = &t.data[t.offsets[i]..t.offsets[i + 1]];
            let hash = t.hasher.hash_one(s);
            let (data, offsets) = (&t.data, &t.offsets);
            if t.index
                .find(hash, |&id| {
                    &data[offsets[id.index()]..offsets[id.index() + 1]] == s
                })
                .is_none()
            {
                let hasher = &t.hasher;
                t.index.insert_unique(hash, StrId::from_index(i), |&id| {
                    hasher.hash_one(&data[offsets[id.index()]..offsets[id.index() + 1]])
                });
            }
        }
        t
    }

    /// Iterates over `(id, string)`.
    pub fn iter(&self) -> impl Iterator<Item = (StrId, &str)> {
        (0..self.len()).map(|i| (StrId::from_index(i), self.get(StrId::from_index(i))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_deduplicates() {
        let mut t = StringTable::new();
        let a = t.intern("alpha");
        let b = t.intern("beta");
        let a2 = t.intern("alpha");
        let e = t.intern("");
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_eq!(t.get(a), "alpha");
        assert_eq!(t.get(b), "beta");
        assert_eq!(t.get(e), "");
        assert_eq!(t.len(), 3);
        assert_eq!(t.find("beta"), Some(b));
        assert_eq!(t.find("gamma"), None);
        assert_eq!(t.get(StrId(99)), "");
    }

    #[test]
    fn many_strings_survive_rehash() {
        let mut t = StringTable::new();
        let ids: Vec<_> = (0..10_000).map(|i| t.intern(&format!("s{i}"))).collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(t.get(*id), format!("s{i}"));
            assert_eq!(t.intern(&format!("s{i}")), *id);
        }
    }
}
