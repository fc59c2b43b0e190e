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

pub mod compliance;
mod fs;
mod mem;

pub use fs::{FsStore, Unrecorded, UnrecordedFile};
pub use mem::MemStore;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The metadata record admitted with every object: what the bytes must be,
/// and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Exact length of the object in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the object's bytes.
    pub sha256: String,
    /// The Go `h1:` hash (zip: of its files; mod: of the go.mod), when the
    /// object is a zip or a go.mod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h1: Option<String>,
    /// For a zip: the `h1:` of the go.mod inside it (or of the synthesised
    /// one), which the `.mod` of the same version must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gomod_h1: Option<String>,
    /// Which upstream the bytes came from (its URL, or `direct`).
    pub origin: String,
    /// When the object was admitted (Unix seconds).
    pub admitted_at: u64,
    /// The checksum-database tree size that vouched for the `h1:`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sumdb_tree_size: Option<u64>,
}

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
    /// are written or replaced (on a file system: device, inode, size,
    /// mtime and ctime). `None` when the backend cannot tell.
    pub fingerprint: Option<String>,
}

/// A file fully written and synced in the store's staging area, waiting to
/// be committed by [`Store::put`]. Dropping it removes the file.
pub struct Staged {
    file: tempfile::NamedTempFile,
}

impl Staged {
    /// The staged file's path (for reading it back during admission).
    pub fn path(&self) -> &Path {
        self.file.path()
    }
    /// The open file handle.
    pub fn file(&self) -> &std::fs::File {
        self.file.as_file()
    }
    /// The open file handle, for writing.
    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }
    fn into_temp(self) -> tempfile::NamedTempFile {
        self.file
    }
}

/// Errors from a storage backend, with the key they concern.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {op} {key}: {source}")]
    Io {
        op: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store: invalid key {0:?}")]
    BadKey(String),
    #[error("store: metadata record of {key} is corrupt: {msg}")]
    BadMeta { key: String, msg: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the mirror keeps objects. Keys are `/`-separated relative paths
/// made of case-encoded module paths and versions (so they are safe on
/// case-insensitive file systems): see [`crate::store::key_for`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The metadata record of `key`, or `None` when the object is absent.
    async fn meta(&self, key: &str) -> Result<Option<Meta>>;

    /// Opens `key` for reading: its record and its bytes, or `None`.
    async fn open(&self, key: &str) -> Result<Option<Opened>>;

    /// The fingerprint of the stored copy of `key` (see
    /// [`Opened::fingerprint`]), without reading it. Must be cheap (one
    /// `stat` on a file system): it is called on every memory-tier hit.
    /// `None` when absent or when the backend cannot tell.
    fn fingerprint(&self, _key: &str) -> Option<String> {
        None
    }

    /// A new empty staging file on local disk, for admission to write into.
    fn stage(&self) -> Result<Staged>;

    /// Commits a staged file under `key` with its record, atomically: the
    /// object is either whole (bytes and record) or absent, whatever instant
    /// a crash happens at. Replaces any existing object.
    async fn put(&self, key: &str, staged: Staged, meta: &Meta) -> Result<()>;

    /// Commits small bytes under `key` (same atomicity as [`Store::put`]).
    async fn put_bytes(&self, key: &str, bytes: &[u8], meta: &Meta) -> Result<()> {
        let mut staged = self.stage()?;
        {
            use std::io::Write;
            let f = staged.file_mut();
            f.write_all(bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| StoreError::Io {
                    op: "stage",
                    key: key.to_owned(),
                    source: e,
                })?;
        }
        self.put(key, staged, meta).await
    }

    /// Reads a whole small object (records, list caches); `None` if absent.
    async fn get_bytes(&self, key: &str) -> Result<Option<(Meta, Vec<u8>)>> {
        let Some(o) = self.open(key).await? else {
            return Ok(None);
        };
        let mut buf = Vec::with_capacity(o.meta.size.min(1 << 20) as usize);
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

    /// Takes `key` out of service, keeping its bytes aside for inspection
    /// (not served, not listed). Absent keys are not an error.
    async fn quarantine(&self, key: &str, reason: &str) -> Result<()>;

    /// Removes `key`. Absent keys are not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Keys of committed objects whose key starts with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// A local directory for this store's own housekeeping, when it has one.
    fn local_root(&self) -> Option<PathBuf> {
        None
    }
}

/// A metadata record for bytes kept by the mirror itself (database heads,
/// tiles, lookup answers): size, sha256, origin, now.
pub fn meta_of(bytes: &[u8], origin: &str) -> Meta {
    use sha2::Digest;
    Meta {
        size: bytes.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
        h1: None,
        gomod_h1: None,
        origin: origin.to_owned(),
        admitted_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        sumdb_tree_size: None,
    }
}

/// Checks that a key is a clean relative `/`-separated path: no empty, `.`
/// or `..` elements, no leading `/`, no NUL or backslash, and no element
/// ending in the store's reserved suffixes.
pub fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\0')
        || key.contains('\\')
        || key
            .split('/')
            .any(|e| e.is_empty() || e == "." || e == ".." || e.ends_with(fs::META_SUFFIX));
    if bad {
        Err(StoreError::BadKey(key.to_owned()))
    } else {
        Ok(())
    }
}
