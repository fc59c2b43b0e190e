//! A bounded in-memory tier of verified small objects.

use crate::record::Meta;
use bytes::Bytes;
use std::num::NonZeroUsize;

/// Verified small objects, least recently used out past a byte budget. An
/// entry remembers the fingerprint of the stored copy it was read from.
pub(super) struct MemTier {
    /// key → (record, verified bytes, fingerprint of the stored copy they
    /// were read from).
    lru: lru::LruCache<String, (Meta, Bytes, Option<String>)>,
    bytes: u64,
    budget: u64,
}

impl MemTier {
    pub(super) fn new(budget: u64) -> MemTier {
        MemTier {
            lru: lru::LruCache::new(NonZeroUsize::new(1 << 20).expect("non-zero")),
            bytes: 0,
            budget,
        }
    }
    pub(super) fn get(&mut self, key: &str) -> Option<(Meta, Bytes, Option<String>)> {
        self.lru.get(key).cloned()
    }
    /// Keeps verified bytes; an object larger than an eighth of the budget
    /// is not kept.
    pub(super) fn put(&mut self, key: &str, meta: Meta, data: Bytes, fingerprint: Option<String>) {
        if data.len() as u64 > self.budget / 8 {
            return;
        }
        if let Some((_, old, _)) = self
            .lru
            .put(key.to_owned(), (meta, data.clone(), fingerprint))
        {
            self.bytes -= old.len() as u64;
        }
        self.bytes += data.len() as u64;
        while self.bytes > self.budget {
            match self.lru.pop_lru() {
                Some((_, (_, d, _))) => self.bytes -= d.len() as u64,
                None => break,
            }
        }
    }
    pub(super) fn remove(&mut self, key: &str) {
        if let Some((_, d, _)) = self.lru.pop(key) {
            self.bytes -= d.len() as u64;
        }
    }
}
