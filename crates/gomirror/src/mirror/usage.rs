//! How many objects the store holds and their bytes, for the status page
//! and `/-/stats`: counted once in the background at start-up, then kept up
//! to date by the mirror's own writes (commit, quarantine, purge), so that
//! no request ever walks the store.
//!
//! Counted objects are the versioned files (`.info`, `.mod`, `.zip`).
//! Writes by other processes on the same data directory (`gomirror verify
//! --fix`, `prefetch`) are seen at the next start.

use crate::store::Store;
use std::collections::HashMap;
use std::sync::Mutex;

/// Whether `key` is counted: a versioned `.info`, `.mod` or `.zip`.
pub fn counts(key: &str) -> bool {
    key.contains("/@v/") && !key.ends_with("/@v/list")
}

/// The store's object count and bytes.
pub struct Usage {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Net changes made by this process, plus (once counted) what the
    /// start-up count found.
    objects: i64,
    bytes: i64,
    /// Until the start-up count is done: for each key this process changed,
    /// its size before the first change (`None`: absent), which the count
    /// uses in place of what it reads.
    touched: Option<HashMap<String, Option<u64>>>,
    /// The start-up count is running or done.
    started: bool,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            inner: Mutex::new(Inner {
                objects: 0,
                bytes: 0,
                touched: Some(HashMap::new()),
                started: false,
            }),
        }
    }
}

impl Usage {
    /// (objects, bytes), once the start-up count is done.
    pub fn get(&self) -> Option<(u64, u64)> {
        let i = self.inner.lock().unwrap();
        i.touched
            .is_none()
            .then(|| (i.objects.max(0) as u64, i.bytes.max(0) as u64))
    }

    /// Notes that this process changed `key` from `old` to `new` (sizes;
    /// `None`: absent).
    pub fn change(&self, key: &str, old: Option<u64>, new: Option<u64>) {
        if !counts(key) {
            return;
        }
        let mut i = self.inner.lock().unwrap();
        if let Some(touched) = &mut i.touched {
            touched.entry(key.to_owned()).or_insert(old);
        }
        i.objects += i64::from(new.is_some()) - i64::from(old.is_some());
        i.bytes += new.unwrap_or(0) as i64 - old.unwrap_or(0) as i64;
    }

    /// Counts what the store holds in one pass ([`Store::visit_records`]:
    /// each record read once, no list of every key kept; only the first
    /// call counts). Each key is taken at its state before this
    /// process first changed it (the changes themselves are counted
    /// already), so writes before or during the count are neither lost nor
    /// counted twice.
    /// `also` sees every record the pass reads (the index feed is built
    /// in the same pass).
    pub async fn count(
        &self,
        store: &dyn Store,
        also: &(dyn Fn(&str, &crate::record::Meta) + Sync),
    ) -> crate::store::Result<()> {
        {
            let mut i = self.inner.lock().unwrap();
            if i.started {
                return Ok(());
            }
            i.started = true;
        }
        let (mut objects, mut bytes) = (0i64, 0i64);
        // Keys changed before the count that the store holds.
        let mut seen = std::collections::HashSet::new();
        let mut visit = |k: &str, m: &crate::record::Meta| {
            also(k, m);
            let size = m.size;
            if !counts(k) {
                return;
            }
            let i = self.inner.lock().unwrap();
            let touched = i.touched.as_ref().expect("not counted yet");
            let size = match touched.get(k) {
                Some(old) => {
                    seen.insert(k.to_owned());
                    *old
                }
                None => Some(size),
            };
            if let Some(s) = size {
                objects += 1;
                bytes += s as i64;
            }
        };
        if let Err(e) = store.visit_records("", &mut visit).await {
            self.inner.lock().unwrap().started = false;
            return Err(e);
        }
        let mut i = self.inner.lock().unwrap();
        // Keys changed but not stored held what they held before their
        // first change.
        for (k, old) in i.touched.take().expect("not counted yet") {
            if let (Some(s), false) = (old, seen.contains(&k)) {
                objects += 1;
                bytes += s as i64;
            }
        }
        i.objects += objects;
        i.bytes += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, PutBytes};

    async fn put(store: &MemStore, key: &str, n: usize) {
        let data = vec![b'x'; n];
        let meta = crate::admit::testing::meta_of(&data, "test");
        store.put_bytes(key, &data, &meta).await.unwrap();
    }

    #[tokio::test]
    async fn counted_once_then_kept_up_to_date() {
        let store = MemStore::new().unwrap();
        put(&store, "example.com/m/@v/v1.0.0.zip", 100).await;
        put(&store, "example.com/m/@v/v1.0.0.mod", 10).await;
        put(&store, "example.com/m/@v/list", 7).await;
        put(&store, "sumdb/x/latest", 7).await;
        let u = Usage::default();
        assert_eq!(u.get(), None);
        // A change before the count: its old state is what the count uses.
        u.change("example.com/m/@v/v1.0.0.mod", Some(10), None);
        store.delete("example.com/m/@v/v1.0.0.mod").await.unwrap();
        u.change("example.com/n/@v/v1.0.0.info", None, Some(5));
        put(&store, "example.com/n/@v/v1.0.0.info", 5).await;
        u.count(&store, &|_, _| {}).await.unwrap();
        assert_eq!(u.get(), Some((2, 105)));
        u.change("example.com/m/@v/v1.0.0.zip", Some(100), Some(40));
        u.change("example.com/m/@v/list", None, Some(1));
        assert_eq!(u.get(), Some((2, 45)));
        u.change("example.com/m/@v/v1.0.0.zip", Some(40), None);
        assert_eq!(u.get(), Some((1, 5)));
    }
}
