//! A [`Store`] on object storage (S3 and compatible, GCS, Azure, or a
//! local directory through the same API), shared by every replica of a
//! fleet.
//!
//! Object storage has no rename and (on Garage, among others) no
//! conditional write, so the commit point is an ordering of plain writes:
//!
//! * `b/<kh>/<sha256>`: the bytes, named by the key's hash (`kh`, sha256 of
//!   the key) and their own digest — immutable: a name always holds the
//!   same bytes, so a reader never sees a half-replaced object;
//! * `r/<key>` (or `l/<kh>` for a key too long for an object name): the
//!   record naming the blob, written **after** the blob. A blob no record
//!   names is not an object (it is what a crash mid-commit leaves, and
//!   [`Store::unrecorded`] finds it); a record is the commit.
//! * `c/<kh>/<claim>`: claims of writers racing to commit a key first (see
//!   [`BucketStore::put_first`]);
//! * `q/<when>-<rand>/`: quarantined records and bytes.

use super::{check_key, Commit, Meta, ObjectRead, Opened, Result, Staged, Store, StoreError};
use super::{Unrecorded, UnrecordedFile};
use crate::admit::Admitted;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Keys longer than this are stored under their hash (`l/<kh>`): S3 allows
/// object names of 1,024 bytes.
const LONG_KEY: usize = 900;
/// Objects up to this size are read whole when opened (one request).
const SMALL: u64 = 1 << 20;
/// Objects larger than this are uploaded in parts of this size.
const PART: usize = 8 << 20;
/// Parts of one upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;
/// Uploads in parts running at once, process-wide: with their parts in
/// flight they hold at most 4 × 4 × 8 MiB of memory; more wait their turn.
static LARGE_UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
/// How long a claim to commit a key first holds without a record: a
/// writer that stalls longer than this (between claiming and writing its
/// record) has lost its claim, and checks that it still holds before it
/// writes.
pub const CLAIM_LIFETIME: Duration = Duration::from_secs(600);

/// The record as stored: the key it commits (long keys are stored under a
/// hash), the admitted record, and the blob holding the bytes.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    meta: Meta,
    blob: String,
}

/// A [`Store`] on an [`ObjectStore`] (with the key prefix already applied).
pub struct BucketStore {
    inner: Arc<dyn ObjectStore>,
    /// Where admissions stage their bytes (local disk).
    staging: std::path::PathBuf,
    /// A name for logs and errors (`s3://bucket/prefix`).
    url: String,
    /// Tells this process's claims apart from other writers'.
    writer: String,
}

/// An object-storage failure: logged whole (it names the endpoint), kept
/// short in the error (which may reach a client).
fn remote_err(op: &'static str, key: &str, e: object_store::Error) -> StoreError {
    tracing::warn!(
        op,
        object = key,
        "object storage: {}",
        crate::util::error_chain(&e)
    );
    let what = match &e {
        object_store::Error::Generic { store, .. } => format!("{store} request failed"),
        object_store::Error::NotFound { .. } => "not found".to_owned(),
        object_store::Error::Precondition { .. } => "precondition failed".to_owned(),
        object_store::Error::NotModified { .. } => "not modified".to_owned(),
        object_store::Error::PermissionDenied { .. } => "permission denied".to_owned(),
        object_store::Error::Unauthenticated { .. } => "unauthenticated".to_owned(),
        _ => "object storage error".to_owned(),
    };
    StoreError::Remote {
        op,
        key: key.to_owned(),
        what,
    }
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

/// The hex sha256 of a key (names its blobs and claims).
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl BucketStore {
    /// A store on `inner`, staging admissions in `staging` (created).
    pub fn new(
        inner: Arc<dyn ObjectStore>,
        staging: &std::path::Path,
        url: &str,
    ) -> std::io::Result<BucketStore> {
        std::fs::create_dir_all(staging)?;
        // Staging files of a previous run are left-overs of a crash.
        if let Ok(rd) = std::fs::read_dir(staging) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("stage-") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(BucketStore {
            inner,
            staging: staging.to_owned(),
            url: url.to_owned(),
            writer: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
        })
    }

    fn record_path(key: &str) -> Result<Path> {
        check_key(key)?;
        let s = if key.len() > LONG_KEY {
            format!("l/{}", key_hash(key))
        } else {
            format!("r/{key}")
        };
        Path::parse(&s).map_err(|_| StoreError::BadKey(key.to_owned()))
    }

    fn blob_path(key: &str, sha256: &str) -> Path {
        Path::from(format!("b/{}/{sha256}", key_hash(key)))
    }

    fn claims_dir(key: &str) -> Path {
        Path::from(format!("c/{}", key_hash(key)))
    }

    /// The stored record of `key`, or `None`.
    async fn stored(&self, key: &str) -> Result<Option<Stored>> {
        let path = Self::record_path(key)?;
        let body = match self.inner.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| remote_err("get", key, e))?,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(remote_err("get", key, e)),
        };
        let s: Stored = serde_json::from_slice(&body).map_err(|e| StoreError::BadMeta {
            key: key.to_owned(),
            source: e,
        })?;
        if s.key != key {
            // Two long keys with one hash: astronomically unlikely; never
            // serve one for the other.
            return Ok(None);
        }
        Ok(Some(s))
    }

    /// The object store underneath, and the name of a key's blob (tests
    /// that tamper with stored copies).
    #[cfg(test)]
    pub(crate) fn raw(&self, key: &str, sha256: &str) -> (Arc<dyn ObjectStore>, Path) {
        (self.inner.clone(), Self::blob_path(key, sha256))
    }

    /// The committed record of `key` and the blob it names, or `None`.
    pub(crate) async fn record(&self, key: &str) -> Result<Option<(Meta, String)>> {
        Ok(self.stored(key).await?.map(|s| (s.meta, s.blob)))
    }

    /// Uploads the bytes of a staged file to `blob` (in parts when large).
    async fn upload(&self, key: &str, staged: &std::path::Path, blob: &Path) -> Result<()> {
        let len = std::fs::metadata(staged)
            .map_err(|e| StoreError::Io {
                op: "read staged",
                key: key.to_owned(),
                source: e,
            })?
            .len();
        if len as usize <= PART {
            let data = tokio::fs::read(staged).await.map_err(|e| StoreError::Io {
                op: "read staged",
                key: key.to_owned(),
                source: e,
            })?;
            self.inner
                .put(blob, PutPayload::from(data))
                .await
                .map_err(|e| remote_err("put", key, e))?;
            return Ok(());
        }
        let _turn = LARGE_UPLOADS.acquire().await.expect("never closed");
        let up = self
            .inner
            .put_multipart(blob)
            .await
            .map_err(|e| remote_err("put", key, e))?;
        // Parts of PART bytes, UPLOAD_CONCURRENCY of them in flight at once.
        let mut w = object_store::WriteMultipart::new_with_chunk_size(up, PART);
        let r: Result<()> = async {
            use tokio::io::AsyncReadExt;
            let staged_err = |e| StoreError::Io {
                op: "read staged",
                key: key.to_owned(),
                source: e,
            };
            let mut f = tokio::fs::File::open(staged).await.map_err(staged_err)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf).await.map_err(staged_err)?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(|e| remote_err("put", key, e))?;
                w.write(&buf[..n]);
            }
            Ok(())
        }
        .await;
        match r {
            Ok(()) => {
                w.finish().await.map_err(|e| remote_err("put", key, e))?;
                Ok(())
            }
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }

    /// Writes the record of `key` naming `blob`: the commit point.
    async fn write_record(&self, key: &str, meta: &Meta, sha256: &str) -> Result<()> {
        let s = Stored {
            key: key.to_owned(),
            meta: meta.clone(),
            blob: sha256.to_owned(),
        };
        let body = serde_json::to_vec(&s).expect("a record serialises");
        self.inner
            .put(&Self::record_path(key)?, PutPayload::from(body))
            .await
            .map_err(|e| remote_err("put record", key, e))?;
        Ok(())
    }

    /// Uploads the bytes, then writes the record (the commit).
    async fn commit(&self, key: &str, staged: &std::path::Path, meta: &Meta) -> Result<()> {
        let blob = Self::blob_path(key, &meta.sha256);
        self.upload(key, staged, &blob).await?;
        self.write_record(key, meta, &meta.sha256).await
    }

    /// Commits a staged file under `key` with `meta` (replacing any
    /// object): the tiered store's way in, which keeps the staged file.
    pub(crate) async fn put_staged(
        &self,
        key: &str,
        staged: &std::path::Path,
        meta: &Meta,
    ) -> Result<()> {
        check_key(key)?;
        self.commit(key, staged, meta).await
    }

    /// The live claims on `key`, first first: (claim name, digest). A claim
    /// older than [`CLAIM_LIFETIME`] is void (its writer stalled or died
    /// before committing) and is removed.
    async fn claims(&self, key: &str) -> Result<Vec<(String, String)>> {
        let dir = Self::claims_dir(key);
        let mut found: Vec<object_store::ObjectMeta> = vec![];
        let mut s = self.inner.list(Some(&dir));
        while let Some(m) = s.next().await {
            found.push(m.map_err(|e| remote_err("list claims", key, e))?);
        }
        found.sort_by(|a, b| {
            (a.last_modified, a.location.as_ref()).cmp(&(b.last_modified, b.location.as_ref()))
        });
        let now = chrono_now();
        let mut live = vec![];
        for m in found {
            let age = now.signed_duration_since(m.last_modified);
            if age.num_milliseconds() > CLAIM_LIFETIME.as_millis() as i64 {
                let _ = self.inner.delete(&m.location).await;
                continue;
            }
            let name = m.location.filename().unwrap_or_default().to_owned();
            let digest = match self.inner.get(&m.location).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map_err(|e| remote_err("get claim", key, e))?,
                // Removed meanwhile (committed, or void).
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(remote_err("get claim", key, e)),
            };
            live.push((name, String::from_utf8_lossy(&digest).into_owned()));
        }
        Ok(live)
    }

    async fn remove_claims(&self, key: &str) {
        let dir = Self::claims_dir(key);
        let names: Vec<Path> = self
            .inner
            .list(Some(&dir))
            .filter_map(|m| async move { m.ok().map(|m| m.location) })
            .collect()
            .await;
        for p in names {
            let _ = self.inner.delete(&p).await;
        }
    }

    /// The first writer rule on a store without conditional writes. A
    /// writer (1) stops if a record exists; (2) writes a claim
    /// `c/<kh>/<name>` holding its digest; (3) lists the claims: the one
    /// stored first (the storage's own write time, then name) wins; (4) the
    /// winner — or a writer with the very same bytes — uploads and writes
    /// the record after checking once more that no record exists and that
    /// the winning claim still stands; every other writer keeps what the
    /// winner commits. A later claim is always stored after an earlier
    /// writer's list, so it sorts after it: nobody overtakes a writer that
    /// has seen itself first. Claims are removed once the record exists; a
    /// claim without a record expires after [`CLAIM_LIFETIME`].
    pub(crate) async fn put_first_staged(
        &self,
        key: &str,
        staged: &std::path::Path,
        meta: &Meta,
    ) -> Result<Commit> {
        check_key(key)?;
        if let Some(s) = self.stored(key).await? {
            return Ok(Commit::Kept(s.meta));
        }
        let name = format!("{:013}-{}", crate::util::now_millis(), self.writer);
        let claim = Path::from(format!("c/{}/{name}", key_hash(key)));
        self.inner
            .put(&claim, PutPayload::from(meta.sha256.clone().into_bytes()))
            .await
            .map_err(|e| remote_err("put claim", key, e))?;
        // A claim stored after this list is stored at a later time than
        // ours (write times have millisecond resolution).
        tokio::time::sleep(Duration::from_millis(3)).await;
        let claims = self.claims(key).await?;
        let first = claims.first().cloned();
        let ours = match &first {
            Some((n, d)) => n == &name || d == &meta.sha256,
            // Ours vanished (expired): start again later.
            None => false,
        };
        if !ours {
            let _ = self.inner.delete(&claim).await;
            return match self.stored(key).await? {
                Some(s) => Ok(Commit::Kept(s.meta)),
                None => Ok(Commit::Lost),
            };
        }
        let blob = Self::blob_path(key, &meta.sha256);
        self.upload(key, staged, &blob).await?;
        // The last check before the commit point: still no record, and the
        // first claim still ours (or our bytes).
        if let Some(s) = self.stored(key).await? {
            let _ = self.inner.delete(&claim).await;
            return Ok(Commit::Kept(s.meta));
        }
        let claims = self.claims(key).await?;
        if !matches!(claims.first(), Some((n, d)) if n == &name || d == &meta.sha256) {
            let _ = self.inner.delete(&claim).await;
            return Ok(Commit::Lost);
        }
        self.write_record(key, meta, &meta.sha256).await?;
        self.remove_claims(key).await;
        Ok(Commit::Written)
    }

    /// Quarantines `key` if its record is still `read` (the record the
    /// rotten copy was read with; `None`: whatever it is): a replica that
    /// found a copy rotten does not take out the object another replica
    /// has meanwhile healed it with (a new record, if the same bytes).
    pub(crate) async fn quarantine_blob(
        &self,
        key: &str,
        read: Option<(&Meta, &str)>,
        reason: &str,
    ) -> Result<()> {
        match self.stored(key).await? {
            Some(s) if read.is_none_or(|(m, b)| *m == s.meta && b == s.blob) => {
                self.quarantine_stored(key, &s, reason).await
            }
            _ => Ok(()),
        }
    }

    /// Moves the record and bytes of `key` under `q/`, then removes them.
    async fn quarantine_stored(&self, key: &str, s: &Stored, reason: &str) -> Result<()> {
        let dir = format!(
            "q/{}-{:08x}",
            crate::util::now_unix(),
            rand::random::<u32>()
        );
        let blob = Self::blob_path(key, &s.blob);
        match self
            .inner
            .copy(&blob, &Path::from(format!("{dir}/bytes")))
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(remote_err("quarantine", key, e)),
        }
        let note = serde_json::json!({
            "key": key,
            "meta": s.meta,
            "blob": s.blob,
            "reason": reason,
            "at": crate::util::now_unix(),
        });
        self.inner
            .put(
                &Path::from(format!("{dir}/record.json")),
                PutPayload::from(serde_json::to_vec_pretty(&note).expect("json")),
            )
            .await
            .map_err(|e| remote_err("quarantine", key, e))?;
        self.remove(key, s).await
    }

    /// Removes the record of `key` (first: the object is gone at once),
    /// then its bytes and any claims.
    async fn remove(&self, key: &str, s: &Stored) -> Result<()> {
        match self.inner.delete(&Self::record_path(key)?).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(remote_err("delete", key, e)),
        }
        let _ = self.inner.delete(&Self::blob_path(key, &s.blob)).await;
        self.remove_claims(key).await;
        Ok(())
    }

    /// Lists every object under `dir` (recursively).
    async fn list_dir(&self, dir: &str) -> Result<Vec<object_store::ObjectMeta>> {
        let p = if dir.is_empty() {
            None
        } else {
            Some(Path::from(dir))
        };
        let mut s = self.inner.list(p.as_ref());
        let mut out = vec![];
        while let Some(m) = s.next().await {
            out.push(m.map_err(|e| remote_err("list", dir, e))?);
        }
        Ok(out)
    }

    /// Keys of long-key records (`l/`) starting with `prefix`.
    async fn long_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = vec![];
        for m in self.list_dir("l").await? {
            let Ok(r) = self.inner.get(&m.location).await else {
                continue;
            };
            let Ok(body) = r.bytes().await else { continue };
            if let Ok(s) = serde_json::from_slice::<Stored>(&body) {
                if s.key.starts_with(prefix) {
                    out.push(s.key);
                }
            }
        }
        Ok(out)
    }
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// Reads of one blob: small ones are read whole at open; large ones are
/// streamed with one ranged request per sequential run.
enum BucketRead {
    Whole(Bytes),
    Stream(StreamRead),
}

struct StreamRead {
    inner: Arc<dyn ObjectStore>,
    path: Path,
    len: u64,
    /// The entity tag of the copy opened: every ranged read asks for that
    /// copy (`If-Match`), so a copy replaced meanwhile fails the read
    /// instead of mixing two copies.
    e_tag: Option<String>,
    /// The open ranged response: its position, the body, bytes read
    /// ahead of the position.
    cursor: tokio::sync::Mutex<Option<Cursor>>,
}

struct Cursor {
    pos: u64,
    body: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
    ahead: Bytes,
}

#[async_trait]
impl ObjectRead for BucketRead {
    async fn stored_len(&self) -> std::io::Result<u64> {
        Ok(match self {
            BucketRead::Whole(b) => b.len() as u64,
            BucketRead::Stream(s) => s.len,
        })
    }

    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        match self {
            BucketRead::Whole(b) => {
                let start = pos.min(b.len() as u64) as usize;
                let end = start.saturating_add(max).min(b.len());
                Ok(b.slice(start..end))
            }
            BucketRead::Stream(s) => s.read_at(pos, max).await,
        }
    }
}

impl StreamRead {
    /// Reads `max` bytes from `pos` (fewer only at the end of the copy),
    /// continuing the open ranged response when `pos` is where it is, else
    /// asking for the copy opened from `pos` on.
    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        if pos >= self.len || max == 0 {
            return Ok(Bytes::new());
        }
        let mut cur = self.cursor.lock().await;
        if cur.as_ref().is_none_or(|c| c.pos != pos) {
            let opts = object_store::GetOptions {
                range: Some(object_store::GetRange::Offset(pos)),
                if_match: self.e_tag.clone(),
                ..Default::default()
            };
            let r = self
                .inner
                .get_opts(&self.path, opts)
                .await
                .map_err(std::io::Error::other)?;
            *cur = Some(Cursor {
                pos,
                body: r.into_stream(),
                ahead: Bytes::new(),
            });
        }
        let c = cur.as_mut().expect("set above");
        let mut out = bytes::BytesMut::new();
        while out.len() < max {
            if c.ahead.is_empty() {
                match c.body.next().await {
                    Some(b) => c.ahead = b.map_err(std::io::Error::other)?,
                    None => break,
                }
                continue;
            }
            let n = (max - out.len()).min(c.ahead.len());
            let part = c.ahead.split_to(n);
            c.pos += n as u64;
            if out.is_empty() && n == max {
                // One network chunk holds it all: no copy.
                return Ok(part);
            }
            out.extend_from_slice(&part);
        }
        Ok(out.freeze())
    }
}

impl BucketStore {
    /// Opens the bytes of a record.
    async fn open_stored(&self, key: &str, s: Stored) -> Result<Option<Opened>> {
        let path = Self::blob_path(key, &s.blob);
        // The fingerprint names this very stored copy: the blob and the
        // storage's entity tag and time, which any overwrite changes (a
        // blob's name alone would not tell a copy changed in place).
        let fp = |m: &object_store::ObjectMeta| {
            format!(
                "bucket:{}:{}:{}",
                s.blob,
                m.e_tag.as_deref().unwrap_or(""),
                m.last_modified.timestamp_micros()
            )
        };
        let (reader, fingerprint) = if s.meta.size <= SMALL {
            match self.inner.get(&path).await {
                Ok(r) => {
                    let f = fp(&r.meta);
                    let b = r.bytes().await.map_err(|e| remote_err("get", key, e))?;
                    (BucketRead::Whole(b), Some(f))
                }
                // Record without bytes: read as empty (the length check
                // calls it rot).
                Err(e) if is_not_found(&e) => (BucketRead::Whole(Bytes::new()), None),
                Err(e) => return Err(remote_err("get", key, e)),
            }
        } else {
            // One request: the copy's metadata and its body from the
            // start (where reads usually begin).
            match self.inner.get(&path).await {
                Ok(r) => {
                    let f = fp(&r.meta);
                    let (len, e_tag) = (r.meta.size, r.meta.e_tag.clone());
                    let cursor = Cursor {
                        pos: 0,
                        body: r.into_stream(),
                        ahead: Bytes::new(),
                    };
                    let r = StreamRead {
                        inner: self.inner.clone(),
                        path,
                        len,
                        e_tag,
                        cursor: tokio::sync::Mutex::new(Some(cursor)),
                    };
                    (BucketRead::Stream(r), Some(f))
                }
                Err(e) if is_not_found(&e) => (BucketRead::Whole(Bytes::new()), None),
                Err(e) => return Err(remote_err("get", key, e)),
            }
        };
        Ok(Some(Opened {
            meta: s.meta,
            reader: Box::new(reader),
            fingerprint,
            probe: None,
        }))
    }

    /// Opens the bytes of `key` as stored in the bucket, with the record's
    /// blob name (the tiered store fills its local tier from here).
    pub(crate) async fn open_with_blob(&self, key: &str) -> Result<Option<(Opened, String)>> {
        let Some(s) = self.stored(key).await? else {
            return Ok(None);
        };
        let blob = s.blob.clone();
        Ok(self.open_stored(key, s).await?.map(|o| (o, blob)))
    }

    /// Opens the bytes of `key` as the record `meta`/`blob` (known current)
    /// names, without reading the record again; `None` when the blob is
    /// gone (the record changed meanwhile: ask again).
    pub(crate) async fn open_blob(
        &self,
        key: &str,
        meta: &Meta,
        blob: &str,
    ) -> Result<Option<Opened>> {
        let s = Stored {
            key: key.to_owned(),
            meta: meta.clone(),
            blob: blob.to_owned(),
        };
        match self.open_stored(key, s).await? {
            Some(o) if o.fingerprint.is_none() => Ok(None),
            o => Ok(o),
        }
    }

    /// Checks that the bucket answers (a list of one page of records).
    pub async fn ping(&self) -> Result<()> {
        let mut s = self.inner.list(Some(&Path::from("r")));
        match tokio::time::timeout(Duration::from_secs(5), s.next()).await {
            Ok(Some(Err(e))) => Err(remote_err("list", &self.url, e)),
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Io {
                op: "list",
                key: self.url.clone(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5s"),
            }),
        }
    }
}

#[async_trait]
impl Store for BucketStore {
    async fn meta(&self, key: &str) -> Result<Option<Meta>> {
        Ok(self.stored(key).await?.map(|s| s.meta))
    }

    async fn open(&self, key: &str) -> Result<Option<Opened>> {
        let Some(s) = self.stored(key).await? else {
            return Ok(None);
        };
        self.open_stored(key, s).await
    }

    fn stage(&self) -> Result<Staged> {
        Staged::create_in(&self.staging).map_err(|e| StoreError::Io {
            op: "stage",
            key: String::new(),
            source: e,
        })
    }

    async fn put(&self, obj: Admitted) -> Result<()> {
        let (key, staged, meta) = super::staged_parts(obj, &self.staging)?;
        check_key(&key)?;
        self.commit(&key, staged.path(), &meta).await
    }

    async fn put_first(&self, obj: Admitted) -> Result<Commit> {
        let (key, staged, meta) = super::staged_parts(obj, &self.staging)?;
        self.put_first_staged(&key, staged.path(), &meta).await
    }

    async fn quarantine(&self, key: &str, reason: &str) -> Result<()> {
        self.quarantine_blob(key, None, reason).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.stored(key).await? {
            Some(s) => self.remove(key, &s).await,
            None => {
                self.remove_claims(key).await;
                Ok(())
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // Object stores list whole path elements: list the directory the
        // prefix is in, then keep the keys that start with it.
        let dir = match prefix.rfind('/') {
            Some(i) => format!("r/{}", &prefix[..i]),
            None => "r".to_owned(),
        };
        let mut keys: Vec<String> = self
            .list_dir(&dir)
            .await?
            .into_iter()
            .filter_map(|m| m.location.as_ref().strip_prefix("r/").map(str::to_owned))
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.extend(self.long_keys(prefix).await?);
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Blobs no record names (a crash between the upload and the record,
    /// or a replaced object's old blob). A record whose blob is gone is
    /// listed like any object, and reading it finds it rotten (the scrub
    /// heals it), so it is not reported here.
    async fn unrecorded(&self, prefix: &str) -> Result<Unrecorded> {
        // Blobs are named by key hash: only a whole-store pass can tell
        // which ones no record names.
        if !prefix.is_empty() {
            return Ok(Unrecorded::default());
        }
        let mut named = std::collections::HashSet::new();
        for key in self.list("").await? {
            if let Ok(Some(s)) = self.stored(&key).await {
                named.insert(Self::blob_path(&key, &s.blob).to_string());
            }
        }
        let mut out = Unrecorded::default();
        for m in self.list_dir("b").await? {
            if !named.contains(m.location.as_ref()) {
                out.bytes_without_record.push(UnrecordedFile {
                    key: m.location.to_string(),
                    size: m.size,
                    modified: Some(SystemTime::from(m.last_modified)),
                });
            }
        }
        out.bytes_without_record.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn is_unrecorded(&self, name: &str) -> bool {
        // Checked again by `quarantine_unrecorded` (async).
        name.starts_with("b/")
    }

    async fn quarantine_unrecorded(&self, name: &str, _reason: &str) -> Result<()> {
        if !name.starts_with("b/") {
            return Ok(());
        }
        // Still named by no record? The keys of its directory's hash are
        // the only ones whose record could name it.
        let Some(kh) = name.split('/').nth(1) else {
            return Ok(());
        };
        for key in self.list("").await? {
            if key_hash(&key) != kh {
                continue;
            }
            if let Some(s) = self.stored(&key).await? {
                if Self::blob_path(&key, &s.blob).as_ref() == name {
                    return Ok(());
                }
            }
        }
        let path = Path::from(name);
        let dest = Path::from(format!(
            "q/{}-{:08x}/unrecorded",
            crate::util::now_unix(),
            rand::random::<u32>()
        ));
        match self.inner.copy(&path, &dest).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(remote_err("quarantine", name, e)),
        }
        let _ = self.inner.delete(&path).await;
        Ok(())
    }
}

/// The check of a copy changed in place behind the store's back (same
/// blob name, through the object store itself): a reader of the old copy
/// fails rather than read the new bytes (ranged reads ask `If-Match`), and
/// the copy's fingerprint changes. Run on every backend the suite covers.
#[cfg(test)]
pub(crate) async fn check_changed_in_place(s: &BucketStore) {
    use crate::store::PutBytes;
    let data: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 253) as u8).collect();
    let meta = crate::admit::testing::meta_of(&data, "up");
    let key = "example.com/big/@v/v1.0.0.zip";
    s.put_bytes(key, &data, &meta).await.unwrap();
    let o = s.open(key).await.unwrap().unwrap();
    assert_eq!(o.reader.read_at(0, 10).await.unwrap(), &data[..10]);
    let (inner, blob) = s.raw(key, &meta.sha256);
    let mut bad = data.clone();
    bad[2 << 20] ^= 1;
    inner.put(&blob, PutPayload::from(bad)).await.unwrap();
    // A read elsewhere in the old copy needs a new request: refused.
    assert!(o.reader.read_at(2 << 20, 10).await.is_err());
    let again = s.open(key).await.unwrap().unwrap();
    assert_ne!(again.fingerprint, o.fingerprint);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (BucketStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let s = BucketStore::new(inner, &dir.path().join("stage"), "memory://").unwrap();
        (s, dir)
    }

    #[tokio::test]
    async fn bucket_store_passes_compliance() {
        let (s, _d) = store();
        crate::store::compliance::run_all(&s).await;
    }

    /// A large copy overwritten in place in the bucket (same blob name):
    /// its fingerprint changes, and a reader of the old copy fails rather
    /// than read the new bytes.
    #[tokio::test]
    async fn a_copy_changed_in_place_changes_fingerprint_and_fails_readers() {
        let (s, _d) = store();
        check_changed_in_place(&s).await;
    }

    /// What `unrecorded("")` finds: the names of blobs no record names.
    async fn unrecorded_blobs(s: &BucketStore) -> Vec<String> {
        s.unrecorded("")
            .await
            .unwrap()
            .bytes_without_record
            .into_iter()
            .map(|f| f.key)
            .collect()
    }

    /// A blob no record names (a crash between upload and record, or a
    /// replaced object's old blob) is found, and moved aside; a named one
    /// is left alone.
    #[tokio::test]
    async fn blobs_without_records_are_found_and_quarantined() {
        use crate::store::PutBytes;
        let (s, _d) = store();
        let key = "example.com/o/@v/list";
        let one = crate::admit::testing::meta_of(b"v1.0.0\n", "up");
        s.put_bytes(key, b"v1.0.0\n", &one).await.unwrap();
        assert!(unrecorded_blobs(&s).await.is_empty());
        let two = crate::admit::testing::meta_of(b"v1.0.0\nv1.1.0\n", "up");
        s.put_bytes(key, b"v1.0.0\nv1.1.0\n", &two).await.unwrap();
        let (_, old) = s.raw(key, &one.sha256);
        let (_, current) = s.raw(key, &two.sha256);
        assert_eq!(unrecorded_blobs(&s).await, [old.to_string()]);
        s.quarantine_unrecorded(current.as_ref(), "test")
            .await
            .unwrap();
        s.quarantine_unrecorded(old.as_ref(), "test").await.unwrap();
        assert!(unrecorded_blobs(&s).await.is_empty());
        assert_eq!(
            s.get_bytes(key).await.unwrap().unwrap().1,
            b"v1.0.0\nv1.1.0\n"
        );
        assert_eq!(s.list_dir("q").await.unwrap().len(), 1);
    }
}
