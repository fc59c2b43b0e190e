//! What the mirror knows about a stored object, and bytes on their way in.
//!
//! [`Meta`] is the record admitted with every object: the digest that
//! every read must match. [`Staged`] is a local file holding bytes that are
//! not yet part of the cache; only admission turns it into something a
//! store commits.

use serde::{Deserialize, Serialize};
use std::path::Path;

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
    /// The nanoseconds within `admitted_at`'s second (0 in records written
    /// before it was kept): orders admissions within a second (the index
    /// feed's timestamps).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub admitted_nanos: u32,
    /// The checksum-database tree size that vouched for the `h1:`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sumdb_tree_size: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Meta {
    /// When the object was admitted: Unix seconds and nanoseconds.
    pub fn admitted(&self) -> (u64, u32) {
        (self.admitted_at, self.admitted_nanos)
    }
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
    /// The open file handle, for reading it (or cloning it).
    pub fn file(&self) -> &std::fs::File {
        self.file.as_file()
    }
    /// The open file handle, for writing.
    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }
    /// A new empty staging file (`stage-*`) in `dir` (store backends
    /// only; the one way they stage).
    pub(crate) fn create_in(dir: &Path) -> std::io::Result<Staged> {
        let file = tempfile::Builder::new().prefix("stage-").tempfile_in(dir)?;
        Ok(Staged { file })
    }
    /// The temporary file, for a store backend to commit.
    pub(crate) fn into_temp(self) -> tempfile::NamedTempFile {
        self.file
    }
}

/// Whether `len` bytes with this sha256 are the bytes `meta` admitted: the
/// one digest comparison of the code base (both doors use it).
pub fn digest_matches(meta: &Meta, len: u64, sha256: &[u8]) -> bool {
    len == meta.size && hex::encode(sha256) == meta.sha256
}

/// Whether a computed Go `h1:` is the one recorded (`None`: nothing was
/// recorded, which never matches).
pub fn h1_matches(recorded: Option<&str>, computed: &str) -> bool {
    recorded == Some(computed)
}
