//! The cache budget (`GOMIRROR_CACHE_SIZE`): when the stored bytes pass
//! it, the zips served least recently are evicted until they fit again —
//! never a zip of a module matching `GOMIRROR_PIN`, never a `.info` or a
//! `.mod` (small, and what the module graph needs). The record of an
//! evicted zip is kept (`admit::served_record`), so a version fetched
//! again must have the `h1:` served before: once served, never different,
//! even with `GOSUMDB=off`.
//!
//! When a zip was last served is kept in memory: at start-up it is the
//! zip's admission time (read in the start-up pass over the records), then
//! the time of each answer. After a restart, zips served since their
//! admission therefore look older than they were; that errs toward
//! evicting what was admitted long ago.

use super::Mirror;
use crate::admit;
use crate::index::Stamp;
use crate::protocol::{parse_versioned_key, FileKind};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The budget and what it needs to choose what goes.
#[derive(Default)]
pub struct Budget {
    /// Bytes the store may hold (`None`: unbounded).
    limit: Option<u64>,
    /// Module path globs never evicted (GOPRIVATE syntax).
    pins: String,
    /// Stored zips: key → (size, last served).
    zips: Mutex<HashMap<String, (u64, Stamp)>>,
    /// An eviction pass is running (one at a time).
    running: AtomicBool,
    /// "Over budget, and everything left is pinned" was said already.
    warned: AtomicBool,
}

impl Budget {
    pub fn new(limit: Option<u64>, pins: String) -> Budget {
        Budget {
            limit: limit.filter(|&n| n > 0),
            pins,
            ..Default::default()
        }
    }

    /// The bytes the store may hold, if bounded.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Notes a stored zip (from the start-up pass, or a commit) with the
    /// time it counts as last served, unless a later one is known.
    pub fn note(&self, key: &str, size: u64, at: Stamp) {
        let zip = matches!(parse_versioned_key(key), Some((_, _, FileKind::Zip)));
        if self.limit.is_none() || !zip {
            return;
        }
        let mut z = self.zips.lock().unwrap();
        let e = z.entry(key.to_owned()).or_insert((size, at));
        e.0 = size;
        e.1 = e.1.max(at);
    }

    /// A zip was served now.
    pub fn served(&self, key: &str) {
        if self.limit.is_none() {
            return;
        }
        if let Some(e) = self.zips.lock().unwrap().get_mut(key) {
            e.1 = crate::util::now_unix_nanos();
        }
    }

    /// Forgets a zip that is no longer stored.
    pub fn forget(&self, key: &str) {
        self.zips.lock().unwrap().remove(key);
    }

    /// The zip served least recently whose module is not pinned.
    fn oldest_unpinned(&self) -> Option<String> {
        let z = self.zips.lock().unwrap();
        z.iter()
            .filter(|(k, _)| !self.pinned(k))
            .min_by_key(|(k, (_, at))| (*at, (*k).clone()))
            .map(|(k, _)| k.clone())
    }

    fn pinned(&self, key: &str) -> bool {
        if self.pins.is_empty() {
            return false;
        }
        parse_versioned_key(key)
            .is_some_and(|(m, _, _)| gomod::glob::match_prefix_patterns(&self.pins, &m))
    }
}

impl Mirror {
    /// Evicts zips, least recently served first, while the store holds more
    /// than the budget (once the start-up count is known). One pass at a
    /// time; a pass asked for while one runs is left to it.
    pub async fn enforce_budget(self: &Arc<Self>) {
        let Some(limit) = self.budget.limit() else {
            return;
        };
        if self.budget.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let _done = Done(&self.budget.running);
        let m = &self.counters.metrics;
        while let Some((_, bytes)) = self.usage.get() {
            if bytes <= limit {
                break;
            }
            let Some(key) = self.budget.oldest_unpinned() else {
                if !self.budget.warned.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        stored = bytes,
                        budget = limit,
                        "the store is over its budget (GOMIRROR_CACHE_SIZE) and only pinned zips (GOMIRROR_PIN) are left to evict"
                    );
                }
                break;
            };
            if let Err(e) = self.evict(&key).await {
                tracing::warn!(object = key, "evicting failed: {e}");
                self.budget.forget(&key);
                break;
            }
            m.evictions.inc();
        }
    }

    /// Evicts one zip: its record is kept for [`admit::check_served_before`],
    /// then the zip is removed from the store and every cache tier.
    async fn evict(&self, key: &str) -> Result<(), crate::store::StoreError> {
        let Some(meta) = self.store.meta(key).await? else {
            self.budget.forget(key);
            return Ok(());
        };
        match admit::served_record(key, &meta) {
            Ok(kept) => self.store.put(kept).await?,
            Err(e) => tracing::warn!(object = key, "its record is not kept: {e}"),
        }
        self.forget(key).await?;
        self.budget.forget(key);
        self.counters.metrics.evicted_bytes.inc_by(meta.size);
        tracing::info!(object = key, size = meta.size, "evicted (cache budget)");
        Ok(())
    }

    /// The record of `zip_key` as it was served before its eviction, if it
    /// was evicted (verified against its own record; an unreadable one is
    /// an error: admission must not go on without it).
    pub(super) async fn served_before(
        &self,
        zip_key: &str,
    ) -> Result<Option<crate::record::Meta>, super::Failure> {
        use crate::verify::KeptError;
        let key = admit::served_key(zip_key);
        match crate::verify::read_kept(self.store.as_ref(), &key).await {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| crate::store::StoreError::BadMeta { key, source }.into()),
            Ok(None) => Ok(None),
            Err(e @ KeptError::Rotten { .. }) => Err(crate::store::StoreError::Io {
                op: "read",
                key,
                source: std::io::Error::other(e.to_string()),
            }
            .into()),
            Err(KeptError::Read(e)) => Err(e.into()),
        }
    }
}

/// Clears the "pass running" flag when the pass ends, however it ends.
struct Done<'a>(&'a AtomicBool);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_served_unpinned_zip_goes_first() {
        let b = Budget::new(Some(100), "example.com/pinned".into());
        b.note("example.com/pinned/@v/v1.0.0.zip", 10, (1, 0));
        b.note("example.com/a/@v/v1.0.0.zip", 10, (2, 0));
        b.note("example.com/b/@v/v1.0.0.zip", 10, (3, 0));
        b.note("example.com/b/@v/v1.0.0.mod", 10, (0, 0));
        assert_eq!(
            b.oldest_unpinned().as_deref(),
            Some("example.com/a/@v/v1.0.0.zip")
        );
        b.served("example.com/a/@v/v1.0.0.zip");
        assert_eq!(
            b.oldest_unpinned().as_deref(),
            Some("example.com/b/@v/v1.0.0.zip")
        );
        b.forget("example.com/b/@v/v1.0.0.zip");
        b.forget("example.com/a/@v/v1.0.0.zip");
        assert_eq!(b.oldest_unpinned(), None);
        // Unbounded: nothing is tracked.
        let u = Budget::new(None, String::new());
        u.note("example.com/a/@v/v1.0.0.zip", 10, (2, 0));
        assert_eq!(u.oldest_unpinned(), None);
    }
}
