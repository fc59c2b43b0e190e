//! Admission: the only door into the cache.
//!
//! Every byte the mirror stores passes through here first. An upstream body
//! is received — a zip into a staging file, digested and hashed behind the
//! receiver ([`digest`]); anything else into memory, hashed as it arrives —
//! with a hard size limit, an idle timeout and a check of the declared
//! length. Then the content is checked by kind:
//!
//! * `.zip`: the module zip rules (prefix, names, case-fold collisions, real
//!   sizes), its `h1:`, and its go.mod against an already stored `.mod`;
//! * `.mod`: size, `h1:`, and equality with an already stored zip's go.mod;
//! * `.info` / `@latest`: JSON whose `Version` is canonical (and, for
//!   `.info`, is the version asked for);
//! * `list`: text lines, keeping only valid versions.
//!
//! Whatever fails is not stored; the error says what kind of failure it was
//! so that it can be counted and the next upstream tried.

use crate::record::{Meta, Staged};
use crate::upstream::Body;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::time::Duration;

mod content;
mod cursor;
mod digest;
mod error;
mod live;
mod ownlog;
mod served;
mod sumdb;

pub use cursor::{sync_cursor, SyncCursor};
pub use error::{AdmitError, FailureKind};
pub use live::Live;
pub use ownlog::{check_logged, own_head, own_record, own_record_text};
pub use served::{check_served_before, served_key, served_record};

pub use content::{
    check_info, check_versioned, query_info, Admissible, Checked, QueryInfo, Volatile,
};
pub use sumdb::{check_answer, open_tree, sumdb_answer, sumdb_head, sumdb_tile};

/// Largest module zip, as the go command enforces (500 MiB).
pub const MAX_ZIP: u64 = 500 << 20;
/// Largest go.mod, as the go command enforces (16 MiB).
pub const MAX_MOD: u64 = 16 << 20;
/// Largest `.info` / `@latest` JSON accepted.
pub const MAX_INFO: u64 = 64 << 10;
/// Largest `list` accepted.
pub const MAX_LIST: u64 = 16 << 20;
/// Most versions a `list` may name (valid versions, before duplicates are
/// removed). The largest real lists have a few thousand; at this many,
/// cleaning and sorting one takes a fraction of a second.
pub const MAX_LIST_VERSIONS: usize = 200_000;

/// The largest body admitted for a versioned file of this kind.
pub fn max_size(kind: crate::protocol::FileKind) -> u64 {
    use crate::protocol::FileKind;
    match kind {
        FileKind::Info => MAX_INFO,
        FileKind::Mod => MAX_MOD,
        FileKind::Zip => MAX_ZIP,
    }
}

/// Where received or admitted bytes are: a staging file of the store
/// (module zips), or memory (everything else: small enough to be read
/// whole to be checked). Bytes in memory reach a staging file only when
/// the store commits them ([`Admitted::into_parts`]), after the clients
/// waiting for them were answered.
enum Content {
    Staged(Staged),
    Memory(bytes::Bytes),
}

/// The SHA-256 of received bytes: computed, or still computing on a
/// thread reading the staging file (see [`digest`]).
enum Sha {
    Done([u8; 32]),
    Pending(digest::Behind<std::io::Result<[u8; 32]>>),
}

impl Sha {
    /// The digest, once computed.
    async fn get(self) -> Result<[u8; 32], AdmitError> {
        match self {
            Sha::Done(d) => Ok(d),
            Sha::Pending(p) => match p.finish().await {
                Some(Ok(d)) => Ok(d),
                Some(Err(e)) => Err(AdmitError::staging("hashing the staged body", &e)),
                None => Err(AdmitError::staging(
                    "hashing the staged body",
                    &std::io::Error::other("the hashing thread failed"),
                )),
            },
        }
    }
}

/// What was received: the bytes and their digest. Nothing about the
/// content has been checked yet.
pub struct Received {
    content: Content,
    size: u64,
    sha256: Sha,
    /// A zip's entries, digested while it arrived (see [`digest`]).
    digests: Option<gomod::zip::StreamDigests>,
}

impl Received {
    /// The received bytes, whole (small files only: `.info`, `.mod`,
    /// `list`, `@latest`, which arrive into memory).
    pub fn read(&self) -> Result<bytes::Bytes, AdmitError> {
        match &self.content {
            Content::Memory(b) => Ok(b.clone()),
            Content::Staged(s) => std::fs::read(s.path())
                .map(bytes::Bytes::from)
                .map_err(|e| AdmitError::staging("reading staged bytes", &e)),
        }
    }
}

/// Content that passed admission, ready to be committed under its key: the
/// only value the store accepts for writing.
///
/// Its constructor is private to this module (and its submodules), so the
/// compiler enforces that nothing enters the cache except through the
/// rules written here.
pub struct Admitted {
    key: String,
    content: Content,
    meta: Meta,
}

impl Admitted {
    /// Only admission builds an `Admitted`.
    fn new(key: &str, content: Content, meta: Meta) -> Admitted {
        Admitted {
            key: key.to_owned(),
            content,
            meta,
        }
    }
    /// Admits bytes held in memory.
    fn in_memory(key: &str, bytes: impl Into<bytes::Bytes>, meta: Meta) -> Admitted {
        Admitted::new(key, Content::Memory(bytes.into()), meta)
    }
    /// The key it is admitted under.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// The record it is admitted with.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }
    /// Its parts, for a store backend to commit (consumes the token): the
    /// bytes in a staging file — when admission held them in memory,
    /// written into a new one that `stage` makes (not synced: the store
    /// syncs what it commits).
    pub(crate) fn into_parts(
        self,
        stage: impl FnOnce() -> std::io::Result<Staged>,
    ) -> std::io::Result<(String, Staged, Meta)> {
        let staged = match self.content {
            Content::Staged(s) => s,
            Content::Memory(b) => {
                let mut s = stage()?;
                s.file_mut().write_all(&b)?;
                s
            }
        };
        Ok((self.key, staged, self.meta))
    }
}

/// A record for bytes the mirror composes itself (lists, database state).
fn meta_of(bytes: &[u8], origin: &str) -> Meta {
    let (admitted_at, admitted_nanos) = crate::util::now_unix_nanos();
    Meta {
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        h1: None,
        gomod_h1: None,
        origin: origin.to_owned(),
        admitted_at,
        admitted_nanos,
        sumdb_tree_size: None,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Test-only doors: tests of stores and readers need objects with
    //! chosen (also wrong) records.
    use super::*;

    /// Admits `bytes` under `key` with `meta`, unchecked (tests only),
    /// staged in `staged`.
    pub(crate) fn admitted(key: &str, mut staged: Staged, bytes: &[u8], meta: Meta) -> Admitted {
        staged.file_mut().write_all(bytes).expect("staging");
        Admitted::new(key, Content::Staged(staged), meta)
    }

    /// A correct record of `bytes` (tests only).
    pub(crate) fn meta_of(bytes: &[u8], origin: &str) -> Meta {
        super::meta_of(bytes, origin)
    }
}

/// Receives `body`: a module zip of `zip_of` (module, version) is streamed
/// into `staged` (a new staging file of the store), where threads digest
/// it and hash it as it lands (see [`digest`]: its SHA-256 may still be
/// computing when this returns), and its bytes are shown to `live` clients
/// as they land (see [`Live`]); any other body (`staged` is `None`) is
/// gathered in memory and hashed (it is read whole to be checked; at most
/// [`MAX_MOD`] bytes).
///
/// Refuses (and discards) the body when it exceeds `limit`, when it exceeds
/// or falls short of its declared length, when the transfer breaks, or when
/// no bytes arrive for `idle` — never trusting the declared length. The
/// staged file is not synced here: the store syncs it when it commits
/// (bytes that are refused need not reach the disk).
pub async fn receive(
    staged: Option<Staged>,
    mut body: Body,
    limit: u64,
    idle: Duration,
    live: Option<&std::sync::Arc<Live>>,
    zip_of: Option<(&str, &str)>,
) -> Result<Received, AdmitError> {
    use std::sync::Arc;
    if let Some(d) = body.declared_len {
        if d > limit {
            return Err(AdmitError::DeclaredTooLong { declared: d, limit });
        }
    }
    let staging = |e: std::io::Error| AdmitError::staging("staging", &e);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut memory = None;
    let mut w = None;
    let mut landing = None;
    let mut digesting = None;
    let mut hashing = None;
    match &staged {
        Some(staged) => {
            let file = staged.file().try_clone().map_err(staging)?;
            let reading = Arc::new(file.try_clone().map_err(staging)?);
            if let Some(live) = live {
                live.start(reading.clone(), body.declared_len, zip_of.is_some());
            }
            let l = digest::Landing::new();
            // Ended however receiving ends, also if a thread below cannot
            // be started (one that was waits for the end).
            landing = Some(digest::EndOnDrop(l.clone()));
            if let Some((m, v)) = zip_of {
                digesting = Some(
                    digest::digesting(reading.clone(), l.clone(), m, v, live.cloned())
                        .map_err(staging)?,
                );
            }
            hashing = Some(digest::hashing(reading, l).map_err(staging)?);
            w = Some(std::io::BufWriter::with_capacity(256 << 10, file));
        }
        None if limit <= MAX_MOD && live.is_none() && zip_of.is_none() => {
            let cap = body.declared_len.unwrap_or(0).min(limit) as usize;
            memory = Some(bytes::BytesMut::with_capacity(cap));
        }
        None => {
            return Err(staging(std::io::Error::other(
                "a module zip (or a body over 16 MiB) needs a staging file",
            )))
        }
    }
    loop {
        let next = match tokio::time::timeout(idle, body.stream.next()).await {
            Err(_) => {
                return Err(AdmitError::Idle {
                    idle,
                    received: size,
                });
            }
            Ok(n) => n,
        };
        let chunk = match next {
            None => break,
            Some(Err(e)) => {
                return Err(AdmitError::Broken {
                    received: size,
                    declared: body.declared_len,
                    cause: e.to_string(),
                });
            }
            Some(Ok(c)) => c,
        };
        if let Some(live) = live {
            live.compare(size, &chunk);
        }
        size += chunk.len() as u64;
        if size > limit {
            return Err(AdmitError::OverLimit { limit });
        }
        if let Some(d) = body.declared_len {
            if size > d {
                return Err(AdmitError::OverDeclared { declared: d });
            }
        }
        if let Some(m) = &mut memory {
            hasher.update(&chunk);
            m.extend_from_slice(&chunk);
        }
        if let Some(w) = &mut w {
            w.write_all(&chunk)
                .map_err(|e| AdmitError::staging("staging write", &e))?;
            let written = size - w.buffer().len() as u64;
            if let Some(l) = &landing {
                l.0.advance(written);
            }
            if let Some(live) = live {
                live.written(written);
            }
        }
    }
    if let Some(d) = body.declared_len {
        if size < d {
            return Err(AdmitError::Short {
                received: size,
                declared: d,
            });
        }
    }
    if let Some(mut w) = w.take() {
        w.flush()
            .map_err(|e| AdmitError::staging("staging write", &e))?;
    }
    if let Some(l) = &landing {
        l.0.advance(size);
        l.0.end(true);
    }
    if let Some(live) = live {
        live.written(size);
    }
    let digests = match digesting {
        Some(d) => d.finish().await.and_then(Result::ok),
        None => None,
    };
    let (content, sha256) = match (staged, memory) {
        (Some(s), _) => (
            Content::Staged(s),
            Sha::Pending(hashing.expect("a staged body is hashed")),
        ),
        (None, Some(m)) => (
            Content::Memory(m.freeze()),
            Sha::Done(hasher.finalize().into()),
        ),
        (None, None) => unreachable!("a body is received into a staging file or memory"),
    };
    Ok(Received {
        content,
        size,
        sha256,
        digests,
    })
}

/// The metadata record of received bytes.
fn meta(received: &Received, h1: Option<String>, origin: &str) -> Meta {
    let (admitted_at, admitted_nanos) = crate::util::now_unix_nanos();
    Meta {
        size: received.size,
        // A body still being hashed gets its digest when admitted.
        sha256: match &received.sha256 {
            Sha::Done(d) => hex::encode(d),
            Sha::Pending(_) => String::new(),
        },
        h1,
        gomod_h1: None,
        origin: origin.to_owned(),
        admitted_at,
        admitted_nanos,
        sumdb_tree_size: None,
    }
}

#[cfg(test)]
mod tests {
    use super::content::clean_list;
    use super::*;

    #[test]
    fn info_rules() {
        assert!(check_info(
            br#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#,
            Some("v1.0.0")
        )
        .is_ok());
        assert!(check_info(br#"{"Version":"v1.0.0"}"#, None).is_ok());
        assert_eq!(
            check_info(br#"{"Version":"v1.0"}"#, None)
                .unwrap_err()
                .kind()
                .unwrap(),
            FailureKind::Info
        );
        assert_eq!(
            check_info(br#"{"Version":"v1.0.1"}"#, Some("v1.0.0"))
                .unwrap_err()
                .kind()
                .unwrap(),
            FailureKind::Info
        );
        assert_eq!(
            check_info(b"<html>", None).unwrap_err().kind().unwrap(),
            FailureKind::Info
        );
        assert_eq!(
            check_info(br#"{"Version":"v1.0.0","Time":"yesterday"}"#, None)
                .unwrap_err()
                .kind()
                .unwrap(),
            FailureKind::Info
        );
    }

    #[test]
    fn list_is_cleaned() {
        let l = clean_list(b"v1.1.0\nv1.0.0 2020-01-01T00:00:00Z\n\ngarbage\nv1.0.0\nv1.10.0\n")
            .unwrap();
        assert_eq!(l, vec!["v1.0.0", "v1.1.0", "v1.10.0"]);
        let at_cap: String = (0..MAX_LIST_VERSIONS)
            .map(|i| format!("v1.0.{i}\n"))
            .collect();
        assert_eq!(
            clean_list(at_cap.as_bytes()).unwrap().len(),
            MAX_LIST_VERSIONS
        );
        let over = format!("{at_cap}garbage\nv2.0.0\n");
        assert_eq!(
            clean_list(over.as_bytes()).unwrap_err(),
            AdmitError::TooManyVersions {
                limit: MAX_LIST_VERSIONS
            }
        );
    }
}
