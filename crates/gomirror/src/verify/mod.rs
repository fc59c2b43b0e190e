//! The door out: every body the mirror sends (proxy files, `/sumdb/`
//! answers, stale answers) and every stored copy that scrub, verify,
//! canary and doctor judge is compared with the digest it was admitted
//! with here, and only here.
//!
//! A [`Verified`] value is the only thing the HTTP layer can turn into a
//! response body, and only this module constructs one.
//!
//! * Small objects (`.info`, `.mod`, `list`, `@latest`, zips up to 1 MiB)
//!   are verified whole before a single byte is sent, then kept in a
//!   bounded in-memory tier; a memory hit is served only while the stored
//!   copy's fingerprint is unchanged.
//! * A large zip is verified whole before the first byte whenever its stored
//!   copy is not the one last verified (the store's fingerprint: on a file
//!   system any write changes the ctime). Concurrent requests share one
//!   verification.
//! * Unless the copy was verified within the re-verify interval, it is also
//!   hashed on the way out: if the bytes do not complete the admitted digest
//!   (rot that changed no metadata), the stream ends with an error in place
//!   of its last chunk, so the client sees a broken transfer, never a bad
//!   body with a good ending.

mod memtier;
mod stream;

use crate::admit::FailureKind;
use crate::record::Meta;
use crate::store::{ObjectRead, Store, StoreError};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use memtier::MemTier;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Objects up to this size are verified whole before sending.
pub const SMALL_OBJECT: u64 = 1 << 20;
/// Size of the chunks a stored object is streamed in: small enough that
/// hundreds of concurrent downloads stay within a few tens of MiB (with at
/// most one chunk queued per connection: 256 downloads of a 100 MiB zip
/// peak at ~23 MiB in all), large enough that a cached chunk costs one read
/// and one write.
const CHUNK: usize = 32 << 10;

pub use crate::record::{digest_matches, h1_matches};

/// Whether `body` hashes to `digest` under an HTTP digest algorithm
/// (`Repr-Digest`/`Content-Digest`: `sha-256` or `sha-512`); `None` for an
/// algorithm not supported.
pub fn digest_header_matches(alg: &str, digest: &[u8], body: &[u8]) -> Option<bool> {
    match alg {
        "sha-256" => Some(digest[..] == Sha256::digest(body)[..]),
        "sha-512" => Some(digest[..] == sha2::Sha512::digest(body)[..]),
        _ => None,
    }
}

/// Whether `data` is exactly what `meta` admitted.
pub fn bytes_match(meta: &Meta, data: &[u8]) -> bool {
    digest_matches(meta, data.len() as u64, &Sha256::digest(data))
}

/// Called when a stream finds a stored copy rotten: key, kind, message.
pub type OnRot = Arc<dyn Fn(String, FailureKind, String) + Send + Sync>;

/// A body that matches the digest it was admitted with (or, for bytes the
/// mirror composed itself, the digest computed from them).
pub struct Verified {
    key: String,
    meta: Meta,
    body: Body,
    stale: bool,
    outcome: &'static str,
}

/// Where a verified object's bytes come from.
enum Body {
    /// Verified bytes in memory.
    Memory(Bytes),
    /// A stored large object.
    Stored {
        reader: Box<dyn ObjectRead>,
        /// Hash while streaming (the copy was not verified recently).
        hash: bool,
        /// The stored copy's fingerprint, recorded when a hashed stream
        /// completes and matches.
        fingerprint: Option<String>,
    },
}

impl Verified {
    fn memory(key: &str, meta: Meta, data: Bytes) -> Verified {
        Verified {
            key: key.to_owned(),
            meta,
            body: Body::Memory(data),
            stale: false,
            outcome: "hit",
        }
    }

    /// Bytes admission checked this moment against `meta` (a small
    /// object's content, read whole and hashed while it was admitted),
    /// answered before its commit is durable.
    pub fn just_admitted(key: &str, meta: Meta, data: Bytes) -> Option<Verified> {
        bytes_match(&meta, &data).then(|| Verified {
            outcome: "miss",
            ..Verified::memory(key, meta, data)
        })
    }

    /// A body whose record is computed from the bytes themselves.
    fn computed(key: &str, data: Vec<u8>, stale: bool) -> Verified {
        let sha = Sha256::digest(&data);
        let meta = Meta {
            size: data.len() as u64,
            sha256: hex::encode(sha),
            h1: None,
            gomod_h1: None,
            origin: "gomirror".to_owned(),
            admitted_at: crate::util::now_unix(),
            admitted_nanos: 0,
            sumdb_tree_size: None,
        };
        Verified {
            key: key.to_owned(),
            meta,
            body: Body::Memory(Bytes::from(data)),
            stale,
            outcome: if stale { "stale" } else { "miss" },
        }
    }

    /// A version list composed from verified parts: the lines of `base` (a
    /// verified `list`) and `extra` (versions named by stored keys), sorted
    /// by semantic version, without duplicates, one per line.
    pub fn version_list(
        key: &str,
        base: Option<&Verified>,
        extra: Vec<String>,
        stale: bool,
    ) -> Verified {
        let mut all: Vec<String> = base
            .and_then(Verified::bytes)
            .map(|b| {
                String::from_utf8_lossy(b)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        all.extend(extra);
        gomod::semver::sort(&mut all);
        all.dedup();
        let body = all.iter().map(|v| format!("{v}\n")).collect::<String>();
        Verified::computed(key, body.into_bytes(), stale)
    }

    /// A query's `.info` answer as admission checked it (its canonical
    /// `.info` is stored on its own; the answer itself is served as
    /// received).
    pub fn query_answer(key: &str, answer: crate::admit::QueryInfo) -> Verified {
        Verified::computed(key, answer.into_data().into(), false)
    }

    /// The key it was read from.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Its admitted record.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }
    /// Served from cache because every upstream failed.
    pub fn is_stale(&self) -> bool {
        self.stale
    }
    /// Marks it as served stale.
    pub fn mark_stale(&mut self) {
        self.stale = true;
        self.outcome = "stale";
    }
    /// `hit` (served from the cache), `miss` (fetched for this request) or
    /// `stale`.
    pub fn outcome(&self) -> &'static str {
        self.outcome
    }
    /// Says it was fetched for this request.
    pub fn mark_miss(&mut self) {
        self.outcome = "miss";
    }
    /// The bytes, when they are in memory (small objects).
    pub fn bytes(&self) -> Option<&Bytes> {
        match &self.body {
            Body::Memory(b) => Some(b),
            Body::Stored { .. } => None,
        }
    }
    /// The bytes of a small object, consuming it.
    pub fn into_bytes(self) -> Option<Bytes> {
        match self.body {
            Body::Memory(b) => Some(b),
            Body::Stored { .. } => None,
        }
    }
    /// Whether a stored body will be hashed while it streams.
    #[cfg(test)]
    pub fn hashes_on_the_way_out(&self) -> bool {
        matches!(self.body, Body::Stored { hash: true, .. })
    }
    /// Whether the body is a stored copy streamed from the store.
    #[cfg(test)]
    pub fn is_streamed(&self) -> bool {
        matches!(self.body, Body::Stored { .. })
    }
}

/// What a load found.
// Lived for one call, and `Ok` is by far the common case: boxing it would
// cost an allocation per hit to save bytes on a stack for a moment.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    /// No such object.
    Absent,
    /// The stored copy does not match its record: the kind and why.
    Rotten(FailureKind, String),
    /// The object, verified.
    Ok(Verified),
}

/// A store that failed while an object was read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{key}: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a kept object (state the mirror keeps for itself: a cursor, a
/// record, a log) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    /// The stored copy does not match its record.
    #[error("{key} does not match its record ({}: {msg})", kind.as_str())]
    Rotten {
        key: String,
        kind: FailureKind,
        msg: String,
    },
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The whole of a kept object, verified against its record ([`read_whole`]):
/// `None` when absent, an error when rotten or unreadable.
pub async fn read_kept(store: &dyn Store, key: &str) -> Result<Option<Bytes>, KeptError> {
    match read_whole(store, key).await? {
        Loaded::Ok(v) => Ok(Some(v.into_bytes().unwrap_or_default())),
        Loaded::Absent => Ok(None),
        Loaded::Rotten(kind, msg) => Err(KeptError::Rotten {
            key: key.to_owned(),
            kind,
            msg,
        }),
    }
}

fn io_err(key: &str) -> impl Fn(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        key: key.to_owned(),
        source,
    }
}

/// Reads a whole stored object and checks it against its record, without
/// any cache (the checksum database's state, stale `/sumdb/` answers,
/// scrub and tools). For objects small enough to hold in memory.
pub async fn read_whole(store: &dyn Store, key: &str) -> Result<Loaded, ReadError> {
    let Some(opened) = store.open(key).await? else {
        return Ok(Loaded::Absent);
    };
    let reader = opened.reader.as_ref();
    if let Some(rot) = length_rot(key, &opened.meta, reader).await? {
        return Ok(rot);
    }
    Ok(match read_verified(key, &opened.meta, reader).await? {
        Ok(data) => Loaded::Ok(Verified::memory(key, opened.meta, data)),
        Err(rot) => rot,
    })
}

/// The stored copy's length against the record: the rot when they differ.
async fn length_rot(
    key: &str,
    meta: &Meta,
    reader: &dyn ObjectRead,
) -> Result<Option<Loaded>, ReadError> {
    let len = reader.stored_len().await.map_err(io_err(key))?;
    Ok((len != meta.size).then(|| {
        let msg = format!("stored length {len}, admitted {}", meta.size);
        Loaded::Rotten(FailureKind::Size, msg)
    }))
}

/// The whole stored copy (of a small object), read and compared with the
/// record: its bytes, or the rot.
async fn read_verified(
    key: &str,
    meta: &Meta,
    reader: &dyn ObjectRead,
) -> Result<Result<Bytes, Loaded>, ReadError> {
    let data = read_all(reader, meta.size).await.map_err(io_err(key))?;
    if !bytes_match(meta, &data) {
        let msg = "stored bytes do not match the admitted sha256".to_owned();
        return Ok(Err(Loaded::Rotten(FailureKind::Sha256, msg)));
    }
    Ok(Ok(data))
}

/// The reading side of the mirror: the memory tier, the record of which
/// stored copies were verified whole and when, and the streams that hash
/// on the way out.
pub struct Verifier {
    mem: Mutex<MemTier>,
    /// Large objects: the fingerprint of the stored copy last verified
    /// whole, and when.
    verified: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    reverify_interval: Duration,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Verifier {
    /// A verifier with a memory tier of `memory_cache_bytes`; a large copy
    /// verified whole streams without hashing for `reverify_interval`.
    pub fn new(memory_cache_bytes: u64, reverify_interval: Duration) -> Verifier {
        Verifier {
            mem: Mutex::new(MemTier::new(memory_cache_bytes)),
            verified: Arc::default(),
            reverify_interval,
            gates: Mutex::default(),
        }
    }

    /// Forgets everything known about `key` (its memory copy, its last
    /// verification): the next load reads it whole again.
    pub fn forget(&self, key: &str) {
        self.mem.lock().unwrap().remove(key);
        self.verified.lock().unwrap().remove(key);
    }

    /// Records that the stored copy of `key` with `fingerprint` was just
    /// verified whole: admission hashed exactly these bytes on their way
    /// in, and the store committed that very file (the copy its
    /// fingerprint names), so the first serve need not read it again. A
    /// copy changed afterwards has another fingerprint and is verified
    /// whole as before.
    pub fn admitted(&self, key: &str, fingerprint: String) {
        self.mem.lock().unwrap().remove(key);
        self.verified
            .lock()
            .unwrap()
            .insert(key.to_owned(), (fingerprint, Instant::now()));
    }

    /// The lock serialising full verifications of one key.
    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap();
        // Forget gates nobody holds, so the map stays small.
        if gates.len() > 1024 {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(key.to_owned()).or_default().clone()
    }

    /// Loads a stored object with its guarantee. Small objects are
    /// verified whole, then kept in memory. A large object is verified whole
    /// unless this exact stored copy (its store fingerprint) was verified
    /// whole before, and is then verified again while it streams.
    pub async fn load(&self, store: &dyn Store, key: &str) -> Result<Loaded, ReadError> {
        let hit = self.mem.lock().unwrap().get(key);
        if let Some(e) = hit {
            // The stored copy changed since it was read (rewritten, or
            // tampered with): verify it again rather than serve from memory.
            if e.still_stored(store, key, memtier::CHECK_STANDS) {
                let (meta, data) = (e.meta.clone(), e.data.clone());
                return Ok(Loaded::Ok(Verified::memory(key, meta, data)));
            }
            self.mem.lock().unwrap().remove(key);
        }
        let Some(opened) = store.open(key).await? else {
            return Ok(Loaded::Absent);
        };
        let meta = opened.meta;
        let reader = opened.reader;
        if let Some(rot) = length_rot(key, &meta, reader.as_ref()).await? {
            return Ok(rot);
        }
        if meta.size <= SMALL_OBJECT {
            let data = match read_verified(key, &meta, reader.as_ref()).await? {
                Ok(data) => data,
                Err(rot) => return Ok(rot),
            };
            self.mem.lock().unwrap().put(
                key,
                meta.clone(),
                data.clone(),
                opened.fingerprint,
                opened.probe,
            );
            return Ok(Loaded::Ok(Verified::memory(key, meta, data)));
        }
        // When was this exact stored copy last verified whole?
        let last_verified = |v: &Verifier| -> Option<Instant> {
            let fp = opened.fingerprint.as_ref()?;
            let v = v.verified.lock().unwrap();
            v.get(key).filter(|(f, _)| f == fp).map(|(_, at)| *at)
        };
        let mut at = last_verified(self);
        if at.is_none() {
            // Concurrent first requests for a large object wait for one
            // full verification instead of each reading the whole object.
            let gate = self.gate(key);
            let _turn = gate.lock().await;
            at = last_verified(self);
            if at.is_none() {
                let mut h = Sha256::new();
                let mut pos = 0;
                while pos < meta.size {
                    let chunk = reader.read_at(pos, CHUNK).await.map_err(io_err(key))?;
                    if chunk.is_empty() {
                        break;
                    }
                    h.update(&chunk);
                    pos += chunk.len() as u64;
                }
                if !digest_matches(&meta, pos, &h.finalize()) {
                    let msg = "stored bytes do not match the admitted sha256".to_owned();
                    return Ok(Loaded::Rotten(FailureKind::Sha256, msg));
                }
                if let Some(fp) = &opened.fingerprint {
                    self.verified
                        .lock()
                        .unwrap()
                        .insert(key.to_owned(), (fp.clone(), Instant::now()));
                }
            }
        }
        // Hash on the way out unless this copy was verified (whole, or by a
        // complete hashed stream) within the re-verify interval.
        let hash = at.is_none_or(|t| t.elapsed() >= self.reverify_interval);
        Ok(Loaded::Ok(Verified {
            key: key.to_owned(),
            meta,
            body: Body::Stored {
                reader,
                hash,
                fingerprint: opened.fingerprint,
            },
            stale: false,
            outcome: "hit",
        }))
    }

    /// The body of `obj` (or of `range` of it, inclusive bounds), holding the
    /// integrity guarantee. A stored object streamed whole with hashing (see
    /// [`Verifier::load`]) ends in an error, not a clean end, if it does not
    /// match; `on_rot` is told.
    pub fn body(
        &self,
        obj: Verified,
        range: Option<(u64, u64)>,
        on_rot: OnRot,
    ) -> BoxStream<'static, std::io::Result<Bytes>> {
        match obj.body {
            Body::Memory(b) => {
                let b = match range {
                    Some((s, e)) => b.slice(s as usize..=e as usize),
                    None => b,
                };
                futures_util::stream::once(async move { Ok(b) }).boxed()
            }
            Body::Stored {
                reader,
                hash,
                fingerprint,
            } => match range {
                // `load` verified this copy whole (now or before).
                Some((s, e)) => stream::range(reader, s, e),
                None if hash => stream::hashed(
                    stream::Hashed {
                        key: obj.key,
                        meta: obj.meta,
                        reader,
                        fingerprint,
                        verified: self.verified.clone(),
                    },
                    on_rot,
                ),
                None => stream::range(reader, 0, obj.meta.size.saturating_sub(1)),
            },
        }
    }
}

/// Reads a whole small object (at most `size` bytes).
async fn read_all(reader: &dyn ObjectRead, size: u64) -> std::io::Result<Bytes> {
    let first = reader.read_at(0, size as usize).await?;
    if first.len() as u64 >= size {
        return Ok(first);
    }
    let mut all = bytes::BytesMut::from(&first[..]);
    while (all.len() as u64) < size {
        let more = reader
            .read_at(all.len() as u64, size as usize - all.len())
            .await?;
        if more.is_empty() {
            break;
        }
        all.extend_from_slice(&more);
    }
    Ok(all.freeze())
}
