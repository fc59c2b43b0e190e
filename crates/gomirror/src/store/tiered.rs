//! A replica's view of the shared bucket: a [`BucketStore`] (the truth,
//! shared by the fleet) behind a bounded [`LocalTier`] on this machine's
//! disk.
//!
//! * Reads take the record from the local tier while it is known to be
//!   current, else from the bucket; the bytes from the local tier when it
//!   has them, else they are copied into it (checked against the record
//!   on the way) or, when too large for it, streamed from the bucket.
//! * A local record is current while the fleet's invalidation feed
//!   ([`Coordination`]) has stayed connected since it was checked against
//!   the bucket: every replica announces the keys it commits, quarantines
//!   or deletes, and each drops its local copy of those keys. When the
//!   feed is down (epoch 0), every read checks the record in the bucket
//!   first; when the bucket is down too, the local copy is served (every
//!   byte is still verified against the admitted digest on the way out).
//! * Writes go to the bucket first (the commit), then into the local tier
//!   (the staged file, linked), then are announced.

use super::bucket::BucketStore;
use super::local::LocalTier;
use super::Unrecorded;
use super::{Commit, Meta, ObjectRead, Opened, Result, Staged, Store, StoreError};
use crate::admit::Admitted;
use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Called with each key this replica changed in the bucket.
pub type Announce = Arc<dyn Fn(&str) + Send + Sync>;

/// The state of the fleet's invalidation feed, as the store sees it.
pub struct Coordination {
    /// Non-zero while the feed is connected; a new value each time it
    /// (re)connects.
    epoch: AtomicU64,
    next: AtomicU64,
    announce: Mutex<Option<Announce>>,
}

impl Coordination {
    /// One replica alone on its bucket: nothing else writes it, so local
    /// records are always current.
    pub fn standalone() -> Arc<Coordination> {
        Arc::new(Coordination {
            epoch: AtomicU64::new(1),
            next: AtomicU64::new(2),
            announce: Mutex::new(None),
        })
    }

    /// A fleet replica: local records are not current until the feed
    /// connects ([`Coordination::connected`]).
    pub fn fleet() -> Arc<Coordination> {
        Arc::new(Coordination {
            epoch: AtomicU64::new(0),
            next: AtomicU64::new(1),
            announce: Mutex::new(None),
        })
    }

    /// The current epoch (0: no feed).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The feed (re)connected: a new epoch begins, and local records
    /// checked before it are checked again on their next use.
    pub fn connected(&self) {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        self.epoch.store(n, Ordering::SeqCst);
    }

    /// The feed is down: every read checks the bucket.
    pub fn disconnected(&self) {
        self.epoch.store(0, Ordering::SeqCst);
    }

    /// Sets who announces this replica's changes to the fleet.
    pub fn set_announce(&self, f: Announce) {
        *self.announce.lock().unwrap() = Some(f);
    }

    fn announce(&self, key: &str) {
        let f = self.announce.lock().unwrap().clone();
        if let Some(f) = f {
            f(key);
        }
    }
}

/// A [`Store`] on the shared bucket with a local tier in front.
pub struct TieredStore {
    bucket: Arc<BucketStore>,
    local: LocalTier,
    coord: Arc<Coordination>,
    /// One copy into the local tier per key at a time.
    fills: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Reads answered from the local tier because the bucket failed.
    pub served_while_bucket_down: AtomicU64,
}

fn io<'a>(op: &'static str, key: &'a str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        key: key.to_owned(),
        source,
    }
}

impl TieredStore {
    /// A tiered store on `bucket` with a local tier of `local_budget`
    /// bytes in `local_dir`.
    pub fn new(
        bucket: BucketStore,
        local_dir: &std::path::Path,
        local_budget: u64,
        coord: Arc<Coordination>,
    ) -> std::io::Result<TieredStore> {
        Ok(TieredStore {
            bucket: Arc::new(bucket),
            local: LocalTier::open(local_dir, local_budget)?,
            coord,
            fills: Mutex::default(),
            served_while_bucket_down: AtomicU64::new(0),
        })
    }

    /// Drops the local copy of `key` (another replica changed it).
    pub fn forget_local(&self, key: &str) {
        self.local.remove(key);
    }

    /// The current record of `key` and its blob: the local one while
    /// current, else the bucket's (remembered locally); the local one
    /// when the bucket fails.
    async fn current(&self, key: &str) -> Result<Option<(Meta, String)>> {
        let epoch = self.coord.epoch();
        let local = self.local.get(key);
        if let Some(e) = &local {
            if epoch != 0 && e.epoch == epoch {
                return Ok(Some((e.meta.clone(), e.blob.clone())));
            }
        }
        match self.bucket.record(key).await {
            Ok(Some((meta, blob))) => {
                match &local {
                    Some(e) if e.blob == blob && e.meta == meta => {
                        self.local.checked(key, &blob, epoch)
                    }
                    _ => self.local.record(key, &meta, &blob, epoch),
                }
                Ok(Some((meta, blob)))
            }
            Ok(None) => {
                if local.is_some() {
                    self.local.remove(key);
                }
                Ok(None)
            }
            Err(e) => match local {
                Some(l) => {
                    self.served_while_bucket_down
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        object = key,
                        "bucket unavailable, serving the local copy: {e}"
                    );
                    Ok(Some((l.meta, l.blob)))
                }
                None => Err(e),
            },
        }
    }

    /// Opens the local copy of the bytes, if there is one.
    fn open_local(&self, key: &str, meta: &Meta, blob: &str) -> Option<Opened> {
        let e = self.local.peek(key)?;
        if e.blob != blob || !e.has_bytes {
            return None;
        }
        let path = self.local.bytes_path(key, blob);
        match std::fs::File::open(&path) {
            Ok(f) => {
                let fp = f.metadata().ok().map(|m| local_fingerprint(blob, &m));
                Some(Opened {
                    meta: meta.clone(),
                    reader: Box::new(LocalRead(Arc::new(f))),
                    fingerprint: fp,
                    probe: None,
                })
            }
            Err(_) => {
                self.local.drop_bytes(key);
                None
            }
        }
    }

    fn fill_gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.fills.lock().unwrap();
        if m.len() > 1024 {
            m.retain(|_, g| Arc::strong_count(g) > 1);
        }
        m.entry(key.to_owned()).or_default().clone()
    }

    /// Copies the bytes of `key` from the bucket into the local tier,
    /// checking them against the record on the way: the local copy when
    /// they match; when they do not (rot in the bucket), the copy as read,
    /// for the door out to find rotten; `None` if the record changed.
    async fn fill(&self, key: &str, meta: &Meta, blob: &str) -> Result<Option<Opened>> {
        let gate = self.fill_gate(key);
        let _turn = gate.lock().await;
        if let Some(o) = self.open_local(key, meta, blob) {
            return Ok(Some(o));
        }
        let Some((opened, found)) = self.bucket.open_with_blob(key).await? else {
            self.local.remove(key);
            return Ok(None);
        };
        if found != blob {
            // Replaced meanwhile: serve what the bucket holds now.
            return Ok(Some(opened));
        }
        let tmp =
            tempfile::NamedTempFile::new_in(self.local.tmp_dir()).map_err(io("stage", key))?;
        let mut h = Sha256::new();
        let mut pos = 0u64;
        {
            use std::io::Write;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
            loop {
                let chunk = opened
                    .reader
                    .read_at(pos, 1 << 20)
                    .await
                    .map_err(io("read", key))?;
                if chunk.is_empty() {
                    break;
                }
                h.update(&chunk);
                w.write_all(&chunk).map_err(io("write local", key))?;
                pos += chunk.len() as u64;
            }
            w.flush().map_err(io("write local", key))?;
        }
        let epoch = self.coord.epoch();
        if crate::record::digest_matches(meta, pos, &h.finalize()) {
            if let Err(e) = self.local.insert(key, meta, blob, tmp.path(), epoch) {
                tracing::warn!(object = key, "local tier: {e}");
            }
            if let Some(o) = self.open_local(key, meta, blob) {
                return Ok(Some(o));
            }
        }
        // Not kept: serve the copy as read (the door out judges it).
        let f = tmp.reopen().map_err(io("read", key))?;
        Ok(Some(Opened {
            meta: meta.clone(),
            reader: Box::new(LocalRead(Arc::new(f))),
            fingerprint: None,
            probe: None,
        }))
    }

    /// After a commit: keep the staged bytes locally, announce the key.
    fn committed(&self, key: &str, meta: &Meta, staged: &Staged) {
        if let Err(e) =
            self.local
                .insert(key, meta, &meta.sha256, staged.path(), self.coord.epoch())
        {
            tracing::warn!(object = key, "local tier: {e}");
        }
        self.coord.announce(key);
    }
}

/// The fingerprint of a local copy: the file store's (the file's identity
/// and times, so a local edit changes it) for the name `local:<blob>`.
fn local_fingerprint(blob: &str, m: &std::fs::Metadata) -> String {
    super::fs::fingerprint_of(m, &format!("local:{blob}"))
}

/// Positional reads of a local file.
struct LocalRead(Arc<std::fs::File>);

#[async_trait]
impl ObjectRead for LocalRead {
    async fn stored_len(&self) -> std::io::Result<u64> {
        let f = self.0.clone();
        tokio::task::spawn_blocking(move || f.metadata().map(|m| m.len()))
            .await
            .expect("store task panicked")
    }

    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        // Cached bytes are read here; the rest on the blocking pool.
        if let Some(b) = crate::file_read::read_cached_at(&self.0, pos, max) {
            return Ok(b);
        }
        let f = self.0.clone();
        tokio::task::spawn_blocking(move || crate::file_read::read_full_at(&f, pos, max))
            .await
            .expect("store task panicked")
    }
}

#[async_trait]
impl Store for TieredStore {
    async fn meta(&self, key: &str) -> Result<Option<Meta>> {
        Ok(self.current(key).await?.map(|(m, _)| m))
    }

    async fn open(&self, key: &str) -> Result<Option<Opened>> {
        let Some((meta, blob)) = self.current(key).await? else {
            return Ok(None);
        };
        if let Some(o) = self.open_local(key, &meta, &blob) {
            return Ok(Some(o));
        }
        if self.local.fits(meta.size) {
            return self.fill(key, &meta, &blob).await;
        }
        // Too large for the local tier: streamed from the bucket (the blob
        // the current record names; the record is read again only if that
        // blob is gone).
        if let Some(o) = self.bucket.open_blob(key, &meta, &blob).await? {
            return Ok(Some(o));
        }
        self.local.remove(key);
        Ok(self.bucket.open_with_blob(key).await?.map(|(o, _)| o))
    }

    fn fingerprint(&self, key: &str) -> Option<String> {
        let epoch = self.coord.epoch();
        let e = self.local.peek(key)?;
        if epoch == 0 || e.epoch != epoch {
            return None;
        }
        if !e.has_bytes {
            // Streamed from the bucket: only a request can tell which copy.
            return None;
        }
        let m = std::fs::metadata(self.local.bytes_path(key, &e.blob)).ok()?;
        Some(local_fingerprint(&e.blob, &m))
    }

    fn stage(&self) -> Result<Staged> {
        Staged::create_in(&self.local.tmp_dir()).map_err(io("stage", ""))
    }

    async fn put(&self, obj: Admitted) -> Result<()> {
        let (key, staged, meta) = super::staged_parts(obj, &self.local.tmp_dir())?;
        self.bucket.put_staged(&key, staged.path(), &meta).await?;
        self.committed(&key, &meta, &staged);
        Ok(())
    }

    async fn put_first(&self, obj: Admitted) -> Result<Commit> {
        let (key, staged, meta) = super::staged_parts(obj, &self.local.tmp_dir())?;
        let r = self
            .bucket
            .put_first_staged(&key, staged.path(), &meta)
            .await?;
        match &r {
            Commit::Written => self.committed(&key, &meta, &staged),
            Commit::Kept(_) | Commit::Lost => self.local.remove(&key),
        }
        Ok(r)
    }

    async fn quarantine(&self, key: &str, reason: &str) -> Result<()> {
        // The copy found rotten is the one the local record names (the
        // record it was read with); another replica may have healed the
        // key since.
        let read = self.local.peek(key);
        self.local.remove(key);
        self.bucket
            .quarantine_blob(
                key,
                read.as_ref().map(|e| (&e.meta, e.blob.as_str())),
                reason,
            )
            .await?;
        self.local.remove(key);
        self.coord.announce(key);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.local.remove(key);
        self.bucket.delete(key).await?;
        self.local.remove(key);
        self.coord.announce(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.bucket.list(prefix).await
    }

    async fn shared_health(&self) -> Option<std::result::Result<(), String>> {
        Some(self.bucket.ping().await.map_err(|e| e.to_string()))
    }

    /// Free space where this replica stages and keeps its local tier.
    fn free_space(&self) -> Option<u64> {
        crate::util::free_space(&self.local.tmp_dir())
    }

    fn shared(&self) -> Option<Arc<dyn Store>> {
        Some(self.bucket.clone())
    }

    fn local_tier(&self) -> Option<(u64, u64, u64)> {
        let (bytes, _) = self.local.usage();
        Some((
            bytes,
            self.local.budget(),
            self.served_while_bucket_down.load(Ordering::Relaxed),
        ))
    }

    async fn unrecorded(&self, prefix: &str) -> Result<Unrecorded> {
        self.bucket.unrecorded(prefix).await
    }

    fn is_unrecorded(&self, name: &str) -> bool {
        self.bucket.is_unrecorded(name)
    }

    async fn quarantine_unrecorded(&self, name: &str, reason: &str) -> Result<()> {
        self.bucket.quarantine_unrecorded(name, reason).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PutBytes;
    use object_store::ObjectStore;

    fn tiered(
        inner: Arc<dyn ObjectStore>,
        dir: &std::path::Path,
        budget: u64,
        coord: Arc<Coordination>,
    ) -> TieredStore {
        let b = BucketStore::new(inner, &dir.join("stage"), "memory://").unwrap();
        TieredStore::new(b, &dir.join("local"), budget, coord).unwrap()
    }

    /// Two replicas (local tiers of 1 MiB) on one in-memory bucket.
    fn two_replicas(
        ca: Arc<Coordination>,
        cb: Arc<Coordination>,
    ) -> (TieredStore, TieredStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let a = tiered(inner.clone(), &dir.path().join("a"), 1 << 20, ca);
        let b = tiered(inner, &dir.path().join("b"), 1 << 20, cb);
        (a, b, dir)
    }

    #[tokio::test]
    async fn tiered_store_passes_compliance() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let s = tiered(inner, dir.path(), 1 << 20, Coordination::standalone());
        crate::store::compliance::run_all(&s).await;
    }

    /// Two replicas on one bucket: a change by one is seen by the other
    /// at once without a feed, and after an announcement with one.
    #[tokio::test]
    async fn replicas_see_each_others_changes() {
        let (ca, cb) = (Coordination::fleet(), Coordination::fleet());
        let (a, b, _dir) = two_replicas(ca.clone(), cb.clone());
        let (a, b) = (Arc::new(a), Arc::new(b));
        let meta = |d: &[u8]| crate::admit::testing::meta_of(d, "t");
        a.put_bytes("m/@v/v1.0.0.zip", b"one", &meta(b"one"))
            .await
            .unwrap();
        assert_eq!(
            b.get_bytes("m/@v/v1.0.0.zip").await.unwrap().unwrap().1,
            b"one"
        );
        // Feed up on b: its local record is current once checked.
        cb.connected();
        assert_eq!(
            b.get_bytes("m/@v/v1.0.0.zip").await.unwrap().unwrap().1,
            b"one"
        );
        assert!(b.fingerprint("m/@v/v1.0.0.zip").is_some());
        let b2 = b.clone();
        ca.set_announce(Arc::new(move |k| b2.forget_local(k)));
        a.delete("m/@v/v1.0.0.zip").await.unwrap();
        assert!(b.fingerprint("m/@v/v1.0.0.zip").is_none());
        assert!(b.open("m/@v/v1.0.0.zip").await.unwrap().is_none());
    }

    /// First writer wins across replicas: the second commit keeps the
    /// first one's record.
    #[tokio::test]
    async fn put_first_keeps_the_first_commit() {
        let (a, b, _dir) = two_replicas(Coordination::fleet(), Coordination::fleet());
        let key = "m/@v/v1.0.0.zip";
        let one = crate::admit::testing::admitted(
            key,
            a.stage().unwrap(),
            b"one",
            crate::admit::testing::meta_of(b"one", "a"),
        );
        let two = crate::admit::testing::admitted(
            key,
            b.stage().unwrap(),
            b"two",
            crate::admit::testing::meta_of(b"two", "b"),
        );
        let (ra, rb) = tokio::join!(a.put_first(one), b.put_first(two));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let written = [&ra, &rb]
            .iter()
            .filter(|r| ***r == Commit::Written)
            .count();
        assert_eq!(written, 1, "{ra:?} {rb:?}");
        let (_, x) = a.get_bytes(key).await.unwrap().unwrap();
        let (_, y) = b.get_bytes(key).await.unwrap().unwrap();
        assert_eq!(x, y);
        // Later commits keep it.
        let three = crate::admit::testing::admitted(
            key,
            b.stage().unwrap(),
            b"three",
            crate::admit::testing::meta_of(b"three", "b"),
        );
        assert!(matches!(b.put_first(three).await.unwrap(), Commit::Kept(_)));
        assert_eq!(b.get_bytes(key).await.unwrap().unwrap().1, x);
    }

    /// Two replicas find one copy rotten: the first quarantines and heals
    /// it; the second's late quarantine leaves the healed object alone.
    #[tokio::test]
    async fn a_late_quarantine_spares_the_healed_object() {
        let (a, b, _dir) = two_replicas(Coordination::fleet(), Coordination::fleet());
        let key = "m/@v/v1.0.0.mod";
        let meta = crate::admit::testing::meta_of(b"module m\n", "up");
        a.put_bytes(key, b"module m\n", &meta).await.unwrap();
        // Both have read it (with its record).
        assert!(b.get_bytes(key).await.unwrap().is_some());
        a.quarantine(key, "rot").await.unwrap();
        let healed = Meta {
            admitted_at: meta.admitted_at + 1,
            ..meta.clone()
        };
        a.put_bytes(key, b"module m\n", &healed).await.unwrap();
        b.quarantine(key, "rot").await.unwrap();
        assert_eq!(a.meta(key).await.unwrap(), Some(healed));
        // A quarantine of what it read now takes it out.
        b.get_bytes(key).await.unwrap();
        b.quarantine(key, "rot").await.unwrap();
        assert_eq!(a.meta(key).await.unwrap(), None);
    }
}
