//! A bounded in-memory tier of verified small objects.

use crate::record::Meta;
use crate::store::{CopyProbe, Store};
use bytes::Bytes;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// A verified small object in memory, and how to tell that the stored copy
/// it was read from is still there, unchanged.
pub(super) struct Entry {
    pub(super) meta: Meta,
    pub(super) data: Bytes,
    /// The stored copy's fingerprint when it was read.
    fingerprint: Option<String>,
    /// The store's cheap check of that copy, if it has one.
    probe: Option<Arc<dyn CopyProbe>>,
}

impl Entry {
    /// Whether this entry may be served for `key`: only while the stored
    /// copy it was read from is still stored under `key`, unchanged. The
    /// copy's probe answers when the store gave one (two `stat` calls on a
    /// file system, no allocation); otherwise the store's fingerprint of
    /// `key` now must equal the copy's. An entry whose store can tell
    /// neither is served as it is.
    pub(super) fn still_stored(&self, store: &dyn Store, key: &str) -> bool {
        match (&self.probe, &self.fingerprint) {
            (Some(p), _) => p.unchanged(),
            (None, Some(fp)) => store.fingerprint(key).as_ref() == Some(fp),
            (None, None) => true,
        }
    }
}

/// Verified small objects, least recently used out past a byte budget.
pub(super) struct MemTier {
    lru: lru::LruCache<String, Arc<Entry>>,
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
    pub(super) fn get(&mut self, key: &str) -> Option<Arc<Entry>> {
        self.lru.get(key).cloned()
    }
    /// Keeps verified bytes with what tells their stored copy unchanged
    /// (see [`Entry::still_stored`]); an object larger than an eighth of
    /// the budget is not kept.
    pub(super) fn put(
        &mut self,
        key: &str,
        meta: Meta,
        data: Bytes,
        fingerprint: Option<String>,
        probe: Option<Arc<dyn CopyProbe>>,
    ) {
        if data.len() as u64 > self.budget / 8 {
            return;
        }
        let len = data.len() as u64;
        let e = Entry {
            meta,
            data,
            fingerprint,
            probe,
        };
        if let Some(old) = self.lru.put(key.to_owned(), Arc::new(e)) {
            self.bytes -= old.data.len() as u64;
        }
        self.bytes += len;
        while self.bytes > self.budget {
            match self.lru.pop_lru() {
                Some((_, e)) => self.bytes -= e.data.len() as u64,
                None => break,
            }
        }
    }
    pub(super) fn remove(&mut self, key: &str) {
        if let Some(e) = self.lru.pop(key) {
            self.bytes -= e.data.len() as u64;
        }
    }
}
