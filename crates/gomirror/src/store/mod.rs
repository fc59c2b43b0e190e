//! Object storage behind the mirror.
//!
//! The mirror sees storage only through the [`Store`] trait: string keys,
//! whole-object puts from a staged local file, metadata records, and prefix
//! listing. No local paths, renames or directory walks leak into the mirror
//! logic, so an S3-compatible backend fits the same trait.
//!
//! An object is committed when its metadata record is: an object without a
//! metadata record does not exist for the mirror. Backends must make `put`
//! atomic in that sense — after a crash at any instant an object is either
//! whole (bytes and record) or absent.

mod bucket;
#[cfg(test)]
pub(crate) mod compliance;
mod fs;
mod local;
mod mem;
#[cfg(test)]
mod on_garage;
mod open_files;
pub mod remote;
mod tiered;

pub use bucket::{key_hash, BucketStore};
pub use fs::FsStore;
pub use mem::MemStore;
pub use tiered::{Coordination, TieredStore};

use crate::admit::Admitted;
pub use crate::record::{Meta, Staged};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

/// Positional reads of one stored copy of an object (a file handle, or an
/// object-store version): whatever happens to the key afterwards, reads
/// keep seeing the copy that was opened.
#[async_trait]
pub trait ObjectRead: Send + Sync {
    /// The stored copy's real length (which rot may have changed: never
    /// the record's size).
    async fn stored_len(&self) -> std::io::Result<u64>;
    /// Up to `max` bytes from offset `pos`: fewer only at the end of the
    /// copy, none past it.
    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes>;
}

/// An open stored object: its metadata record and a reader of its bytes.
pub struct Opened {
    pub meta: Meta,
    pub reader: Box<dyn ObjectRead>,
    /// Identifies this exact stored copy: it changes whenever the bytes
    /// are written or replaced (on a file system: the blob's name, device,
    /// inode, size, mtime and ctime). `None` when the backend cannot tell.
    pub fingerprint: Option<String>,
    /// A cheap check that this copy is still the one stored under its key,
    /// unchanged (see [`CopyProbe`]). `None`: the backend has none (then
    /// [`Store::fingerprint`] is compared).
    pub probe: Option<Arc<dyn CopyProbe>>,
}

/// Tells, without reading anything, whether the key a stored copy was
/// opened under still names that very copy, unchanged since it was opened.
/// It must never say yes when [`Store::fingerprint`] of the key differs
/// from the copy's [`Opened::fingerprint`] (it may say no more often), and
/// must be cheap: the memory tier asks it on every hit.
pub trait CopyProbe: Send + Sync {
    /// Whether the copy is still stored under its key, unchanged.
    fn unchanged(&self) -> bool;
}

/// Errors from a storage backend, with the key they concern.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The text names no path (`source` may: it is kept for logs).
    #[error("store: {op} {key}: {}", crate::util::io_cause(source))]
    Io {
        op: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    /// Object storage failed (the whole error is logged where it
    /// happens; `what` is its short kind).
    #[error("store: {op} {key}: {what}")]
    Remote {
        op: &'static str,
        key: String,
        what: String,
    },
    #[error("store: invalid key {0:?}")]
    BadKey(String),
    #[error("store: metadata record of {key} is corrupt: {source}")]
    BadMeta {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the mirror keeps objects. Keys are `/`-separated relative paths
/// made of case-encoded module paths and versions (so they are safe on
/// case-insensitive file systems): see [`crate::store::key_for`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The metadata record of `key`, or `None` when the object is absent.
    async fn meta(&self, key: &str) -> Result<Option<Meta>>;

    /// Opens `key` for reading: its record and its bytes, or `None`. The
    /// bytes are always those committed with that record, however often
    /// the key is replaced meanwhile; and a key that exists is never found
    /// absent because a put is replacing it.
    async fn open(&self, key: &str) -> Result<Option<Opened>>;

    /// The fingerprint of the stored copy of `key` (see
    /// [`Opened::fingerprint`]), without reading it. Must be cheap (a
    /// `stat` or two on a file system): the memory tier calls it on every
    /// hit of a copy that came without a [`CopyProbe`]. `None` when absent
    /// or when the backend cannot tell.
    fn fingerprint(&self, _key: &str) -> Option<String> {
        None
    }

    /// A new empty staging file on local disk, for admission to write into.
    fn stage(&self) -> Result<Staged>;

    /// Commits an admitted object under its key with its record,
    /// atomically: the object is either whole (bytes and record) or absent,
    /// whatever instant a crash happens at. Replaces any existing object.
    /// Only [`crate::admit`] can make an [`Admitted`]: this is the one way
    /// into the store.
    async fn put(&self, obj: Admitted) -> Result<()>;

    /// Commits an admitted object unless `key` already has one: the
    /// object a key was first committed with stays (first writer wins),
    /// however many writers — other processes on a shared store included
    /// — commit the same key at the same moment. [`Commit::Kept`] names
    /// what stays when another writer was first; [`Commit::Lost`] says
    /// another writer won and has not committed yet (the caller waits for
    /// it). This default is right for a store with one writer process
    /// (its callers serialise writes of one key).
    async fn put_first(&self, obj: Admitted) -> Result<Commit> {
        if let Some(m) = self.meta(obj.key()).await? {
            return Ok(Commit::Kept(m));
        }
        self.put(obj).await.map(|()| Commit::Written)
    }

    /// Takes `key` out of service, keeping its bytes aside for inspection
    /// (not served, not listed). Absent keys are not an error.
    async fn quarantine(&self, key: &str, reason: &str) -> Result<()>;

    /// Removes `key`. Absent keys are not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Keys of committed objects whose key starts with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Calls `visit` with the key and record of every committed object
    /// whose key starts with `prefix`, each once, in no set order: for
    /// going through them in one pass without holding every key (the file
    /// store reads each record once, and keeps one directory's records at
    /// a time). A record that cannot be read is skipped. The default lists
    /// the keys, then reads each record.
    async fn visit_records(
        &self,
        prefix: &str,
        visit: &mut (dyn for<'k> FnMut(&'k str, &'k Meta) + Send),
    ) -> Result<()> {
        for k in self.list(prefix).await? {
            if let Ok(Some(m)) = self.meta(&k).await {
                visit(&k, &m);
            }
        }
        Ok(())
    }

    /// What [`Store::list`] does not show, under `prefix`: bytes no
    /// metadata record names (left by a crash mid-commit, or a file put
    /// there by hand) and records without their bytes (lost). Sorted. A
    /// backend whose commit leaves no such state finds nothing.
    async fn unrecorded(&self, _prefix: &str) -> Result<Unrecorded> {
        Ok(Unrecorded::default())
    }

    /// For a store on object storage shared by replicas: whether it
    /// answers (`Err` says why not). `None` for a store on this machine.
    async fn shared_health(&self) -> Option<std::result::Result<(), String>> {
        None
    }

    /// For a store that caches a shared store (a local tier in front of
    /// object storage): the shared store itself, which the scrubber reads
    /// (rot there concerns every replica). `None` otherwise.
    fn shared(&self) -> Option<Arc<dyn Store>> {
        None
    }

    /// For a store with a local tier: bytes kept, the budget, and reads
    /// answered from it because the shared storage failed.
    fn local_tier(&self) -> Option<(u64, u64, u64)> {
        None
    }

    /// Free bytes where the store writes, when it can tell.
    fn free_space(&self) -> Option<u64> {
        None
    }

    /// Whether the bytes of `key` are absent, whatever its record says.
    fn object_missing(&self, _key: &str) -> bool {
        false
    }

    /// Whether `name` (an [`UnrecordedFile::key`]) is still bytes that no
    /// metadata record names.
    fn is_unrecorded(&self, _name: &str) -> bool {
        false
    }

    /// Moves `name` (an [`UnrecordedFile::key`]) to the quarantine if it is
    /// still bytes that no metadata record names; otherwise does nothing.
    async fn quarantine_unrecorded(&self, _name: &str, _reason: &str) -> Result<()> {
        Ok(())
    }
}

/// The parts of `obj` a backend commits: its key, its bytes in a staging
/// file (a new one in `dir` when admission held them in memory) and its
/// record.
pub(crate) fn staged_parts(obj: Admitted, dir: &std::path::Path) -> Result<(String, Staged, Meta)> {
    let key = obj.key().to_owned();
    obj.into_parts(|| Staged::create_in(dir))
        .map_err(|source| StoreError::Io {
            op: "stage",
            key,
            source,
        })
}

/// What [`Store::put_first`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// The object is committed.
    Written,
    /// Another writer committed `key` first: its record stays.
    Kept(Meta),
    /// Another writer claimed `key` first and is committing it.
    Lost,
}

/// What [`Store::unrecorded`] finds.
#[derive(Debug, Default, Clone)]
pub struct Unrecorded {
    /// Stored bytes that no metadata record names: not objects for the
    /// mirror (never served, never listed).
    pub bytes_without_record: Vec<UnrecordedFile>,
    /// Keys whose metadata record is there but whose bytes are not.
    pub records_without_bytes: Vec<String>,
}

/// Stored bytes that no metadata record names.
#[derive(Debug, Clone)]
pub struct UnrecordedFile {
    /// Where the store keeps them (on a file system: the path under
    /// `objects/`, which starts with the key they were stored for when the
    /// key is its own path). Not necessarily a key: pass it to
    /// [`Store::is_unrecorded`] and [`Store::quarantine_unrecorded`].
    pub key: String,
    pub size: u64,
    /// Its modification time: a commit in flight leaves bytes without a
    /// record for an instant, so only old ones are leftovers.
    pub modified: Option<std::time::SystemTime>,
}

/// Checks that a key is a clean relative `/`-separated path: no empty, `.`
/// or `..` elements, no leading `/`, no NUL or backslash. Length and the
/// names a backend reserves are the backend's business (the file store
/// maps such keys to other paths): every valid Go module path is a key.
pub fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\0')
        || key.contains('\\')
        || key
            .split('/')
            .any(|e| e.is_empty() || e == "." || e == "..");
    if bad {
        Err(StoreError::BadKey(key.to_owned()))
    } else {
        Ok(())
    }
}

/// Test-only writes of chosen bytes and records (also wrong ones), through
/// admission's test door.
#[cfg(test)]
#[async_trait]
pub(crate) trait PutBytes {
    async fn put_bytes(&self, key: &str, bytes: &[u8], meta: &Meta) -> Result<()>;
    /// The stored record and bytes of `key`, unchecked.
    async fn get_bytes(&self, key: &str) -> Result<Option<(Meta, Vec<u8>)>>;
}

#[cfg(test)]
#[async_trait]
impl<S: Store + ?Sized> PutBytes for S {
    async fn put_bytes(&self, key: &str, bytes: &[u8], meta: &Meta) -> Result<()> {
        let staged = self.stage()?;
        let obj = crate::admit::testing::admitted(key, staged, bytes, meta.clone());
        self.put(obj).await
    }
    async fn get_bytes(&self, key: &str) -> Result<Option<(Meta, Vec<u8>)>> {
        let Some(o) = self.open(key).await? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        loop {
            let chunk = o
                .reader
                .read_at(buf.len() as u64, 1 << 20)
                .await
                .map_err(|e| StoreError::Io {
                    op: "read",
                    key: key.to_owned(),
                    source: e,
                })?;
            if chunk.is_empty() {
                break;
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Some((o.meta, buf)))
    }
}
