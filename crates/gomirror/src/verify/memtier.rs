//! A bounded in-memory tier of verified small objects.

use crate::record::Meta;
use crate::store::{CopyProbe, Store};
use bytes::Bytes;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a check that the stored copy is unchanged stands: requests
/// for the same object within it share one check (under load, thousands a
/// second), as if they had all arrived when it was made.
pub(super) const CHECK_STANDS: Duration = Duration::from_millis(1);

/// Microseconds since the first call (a monotonic clock for the
/// entries' check times).
fn now_us() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A verified small object in memory, and how to tell that the stored copy
/// it was read from is still there, unchanged.
pub(super) struct Entry {
    pub(super) meta: Meta,
    pub(super) data: Bytes,
    /// The stored copy's fingerprint when it was read.
    fingerprint: Option<String>,
    /// The store's cheap check of that copy, if it has one.
    probe: Option<Arc<dyn CopyProbe>>,
    /// When the copy was last found unchanged ([`now_us`]).
    checked_us: AtomicU64,
}

impl Entry {
    /// Whether this entry may be served for `key`: only while the stored
    /// copy it was read from is still stored under `key`, unchanged. The
    /// copy's probe answers when the store gave one (two `stat` calls on a
    /// file system, no allocation); otherwise the store's fingerprint of
    /// `key` now must equal the copy's. An entry whose store can tell
    /// neither is served as it is.
    /// A check made less than `stands` ago stands ([`CHECK_STANDS`] when
    /// serving).
    pub(super) fn still_stored(&self, store: &dyn Store, key: &str, stands: Duration) -> bool {
        let now = now_us();
        if now.saturating_sub(self.checked_us.load(Ordering::Relaxed)) < stands.as_micros() as u64 {
            return true;
        }
        let same = match (&self.probe, &self.fingerprint) {
            (Some(p), _) => p.unchanged(),
            (None, Some(fp)) => store.fingerprint(key).as_ref() == Some(fp),
            (None, None) => true,
        };
        if same {
            self.checked_us.fetch_max(now, Ordering::Relaxed);
        }
        same
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
            // Read and verified just now.
            checked_us: AtomicU64::new(now_us()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe that counts its calls and answers what it is told.
    struct Counting(AtomicU64, std::sync::atomic::AtomicBool);
    impl CopyProbe for Counting {
        fn unchanged(&self) -> bool {
            self.0.fetch_add(1, Ordering::Relaxed);
            self.1.load(Ordering::Relaxed)
        }
    }

    /// Requests within the time a check stands share it; past it, or once
    /// the copy changed, the store is asked again (and a changed copy is
    /// never found unchanged later on the strength of an old check).
    #[test]
    fn a_check_stands_for_its_time_only() {
        let store = crate::store::MemStore::new().unwrap();
        let probe = Arc::new(Counting(
            AtomicU64::new(0),
            std::sync::atomic::AtomicBool::new(true),
        ));
        let mut t = MemTier::new(1 << 20);
        let meta = crate::admit::testing::meta_of(b"x", "test");
        t.put(
            "k",
            meta,
            Bytes::from_static(b"x"),
            None,
            Some(probe.clone()),
        );
        let e = t.get("k").unwrap();
        let calls = || probe.0.load(Ordering::Relaxed);
        let hour = Duration::from_secs(3600);
        assert!(e.still_stored(&store, "k", hour));
        assert!(e.still_stored(&store, "k", hour));
        assert_eq!(calls(), 0, "a check made at reading stands");
        assert!(e.still_stored(&store, "k", Duration::ZERO));
        assert_eq!(calls(), 1);
        probe.1.store(false, Ordering::Relaxed);
        assert!(!e.still_stored(&store, "k", Duration::ZERO));
        assert_eq!(calls(), 2);
        // Only a check that found the copy unchanged stands.
        std::thread::sleep(Duration::from_millis(2));
        assert!(!e.still_stored(&store, "k", Duration::from_millis(1)));
        assert_eq!(calls(), 3);
    }
}
