//! The negative cache: "no upstream has this" answers, kept for a short
//! time (`GOMIRROR_NEGATIVE_TTL`) so that a burst of requests for a missing
//! list, `@latest`, query or version (`.info`, what the go command asks
//! first) makes one upstream request, as proxy.golang.org does. An entry never outlives its TTL, so a module
//! published later is seen at most that much later (an admin purge of the
//! module forgets its entries at once). Bounded: the least recently used
//! entries go first.

use super::{Failure, NotFound};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most entries kept.
const CAPACITY: usize = 10_000;

pub(crate) struct NegativeCache {
    ttl: Duration,
    entries: Mutex<lru::LruCache<String, (Instant, Failure)>>,
}

impl NegativeCache {
    /// A cache keeping not-found answers for `ttl` (zero: off).
    pub(crate) fn new(ttl: Duration) -> NegativeCache {
        NegativeCache {
            ttl,
            entries: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("non-zero"),
            )),
        }
    }

    /// The cached answer for `key`, while it is fresh.
    pub(crate) fn get(&self, key: &str) -> Option<Failure> {
        let mut e = self.entries.lock().unwrap();
        match e.get(key) {
            Some((until, f)) if Instant::now() < *until => Some(f.clone()),
            Some(_) => {
                e.pop(key);
                None
            }
            None => None,
        }
    }

    /// Remembers the outcome of a fetch of `key` when every upstream said
    /// it does not have it (not other not-founds: a name that cannot exist
    /// costs nothing to refuse again, and the checksum database's word is
    /// its own cache's business).
    pub(crate) fn note(&self, key: &str, outcome: &Result<(), Failure>) {
        let lookup =
            key.ends_with("/@v/list") || key.ends_with("/@latest") || key.ends_with(".info");
        if self.ttl.is_zero() || !lookup {
            return;
        }
        if let Err(f @ Failure::NotFound(NotFound::Walk(_))) = outcome {
            self.entries
                .lock()
                .unwrap()
                .put(key.to_owned(), (Instant::now() + self.ttl, f.clone()));
        }
    }

    /// Forgets every entry of the module whose escaped path is `escaped`
    /// (its list, `@latest`, queries and versions).
    pub(crate) fn forget_module(&self, escaped: &str) {
        let prefix = format!("{escaped}/@");
        let mut e = self.entries.lock().unwrap();
        let keys: Vec<String> = e
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            e.pop(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::Walk;

    fn missing() -> Result<(), Failure> {
        Err(Failure::NotFound(NotFound::Walk(Walk {
            what: "example.com/m/@v/list".into(),
            attempts: vec![],
        })))
    }

    #[test]
    fn entries_expire_and_are_forgotten_by_module() {
        let c = NegativeCache::new(Duration::from_millis(50));
        c.note("example.com/m/@v/list", &missing());
        c.note("example.com/m/sub/@v/list", &missing());
        c.note("example.com/ok/@v/list", &Ok(()));
        c.note("example.com/m/@v/v1.0.0.zip", &missing());
        assert!(
            c.get("example.com/m/@v/v1.0.0.zip").is_none(),
            "not a lookup"
        );
        assert!(c.get("example.com/m/@v/list").is_some());
        assert!(c.get("example.com/ok/@v/list").is_none());
        c.forget_module("example.com/m");
        assert!(c.get("example.com/m/@v/list").is_none());
        assert!(
            c.get("example.com/m/sub/@v/list").is_some(),
            "another module"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("example.com/m/sub/@v/list").is_none(), "expired");
        let off = NegativeCache::new(Duration::ZERO);
        off.note("example.com/m/@v/list", &missing());
        assert!(off.get("example.com/m/@v/list").is_none());
    }
}
