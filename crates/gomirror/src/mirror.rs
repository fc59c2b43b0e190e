//! The core: look up → verify → (miss) fetch → admit → serve, with
//! singleflight.
//!
//! Invariant 2 lives here, in `Mirror::load` and [`Mirror::body`]: nothing
//! leaves the cache without matching the sha256 and size it was admitted
//! with.
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
//!   body with a good ending. Within the interval a verified, unchanged copy
//!   streams without hashing (interval zero: every download is hashed).
//!
//! A rotten object is quarantined and fetched again through admission.

use crate::admit::{self, AdmitError, FailureKind};
use crate::protocol::{escaped_module as escaped, versioned_key, FileKind, PathError};
use crate::store::{Meta, ObjectRead, Store};
use crate::sumdb;
use crate::telemetry::{AlertConfig, Events, Metrics};
use crate::upstream::{self, Chain, Fallthrough, FetchError, Source};
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Objects up to this size are verified whole before sending.
pub const SMALL_OBJECT: u64 = 1 << 20;
/// Size of the chunks a stored object is streamed in: small enough that
/// hundreds of concurrent downloads stay within a few tens of MiB.
const CHUNK: usize = 64 << 10;

/// Why a request could not be answered with content.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// No upstream has it (every one answered 404/410), or it is invalid.
    #[error("{0}")]
    NotFound(String),
    /// Upstreams failed or served only content that failed admission.
    #[error("{0}")]
    Upstream(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

/// An object ready to be sent.
pub struct Object {
    pub key: String,
    pub meta: Meta,
    pub data: Data,
    /// Served from cache because every upstream failed.
    pub stale: bool,
    /// `hit` (served from the cache), `miss` (fetched for this request) or
    /// `stale`.
    pub outcome: &'static str,
}

/// Where an object's bytes come from.
pub enum Data {
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

/// Counts what the mirror did, by kind, into the Prometheus metrics (and a
/// local table that tests and the status page read).
pub struct Counters {
    inner: Mutex<HashMap<(&'static str, String), u64>>,
    pub metrics: Arc<Metrics>,
}

impl Counters {
    /// Adds one to `name{label}` and to the matching Prometheus metric.
    pub fn inc(&self, name: &'static str, label: &str) {
        *self
            .inner
            .lock()
            .unwrap()
            .entry((name, label.to_owned()))
            .or_default() += 1;
        let m = &self.metrics;
        match name {
            "integrity_failures" => {
                let (kind, source) = label.split_once('|').unwrap_or((label, ""));
                Metrics::inc(&m.integrity_failures, &[("kind", kind), ("source", source)]);
            }
            "cache" => Metrics::inc(&m.cache, &[("outcome", label)]),
            "upstream_requests" => Metrics::inc(&m.upstream_requests, &[("upstream", label)]),
            "upstream_errors" => Metrics::inc(&m.upstream_errors, &[("upstream", label)]),
            "admitted" => Metrics::inc(&m.admitted, &[("file", label)]),
            "sumdb_vouched" => Metrics::inc(&m.sumdb_vouched, &[("file", label)]),
            "sumdb_unverified" => Metrics::inc(&m.sumdb_unverified, &[("file", label)]),
            "quarantined" => {
                m.quarantined.inc();
            }
            "singleflight_waiters" => {
                m.singleflight_waiters.inc();
            }
            "sumdb_fork" => {
                m.sumdb_forks.inc();
            }
            _ => {}
        }
    }
    /// The current value of `name{label}`.
    pub fn get(&self, name: &'static str, label: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .get(&(name, label.to_owned()))
            .copied()
            .unwrap_or(0)
    }
    /// Every counter, sorted.
    pub fn snapshot(&self) -> Vec<((&'static str, String), u64)> {
        let mut v: Vec<_> = self
            .inner
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }
}

type Flight = Shared<BoxFuture<'static, Result<(), Failure>>>;

/// Settings of the mirror core.
pub struct Settings {
    pub chain: Chain,
    pub gonoproxy: String,
    pub list_ttl: Duration,
    pub memory_cache_bytes: u64,
    pub policy: upstream::Policy,
    /// How long a large object verified whole is streamed without hashing
    /// while its stored copy is unchanged; zero hashes every download.
    pub reverify_interval: Duration,
    /// The checksum database that vouches for public modules (`None`:
    /// GOSUMDB=off).
    pub sumdb: Option<Arc<sumdb::Client>>,
    /// Modules not checked against the database (GONOSUMDB).
    pub gonosumdb: String,
    /// What to do when the database is unreachable.
    pub sumdb_mode: sumdb::Unreachable,
    /// Alert webhooks.
    pub alerts: AlertConfig,
    /// What answers the chain's `direct` entries (`None`: refused).
    pub direct: Option<Arc<dyn upstream::Fetch>>,
}

/// The mirror core. Cheap to share behind an `Arc`.
pub struct Mirror {
    store: Arc<dyn Store>,
    chain: Chain,
    gonoproxy: String,
    list_ttl: Duration,
    client: upstream::Client,
    inflight: Mutex<HashMap<String, Flight>>,
    mem: Mutex<MemTier>,
    /// Large objects: the fingerprint of the stored copy last verified
    /// whole, and when.
    verified: Mutex<HashMap<String, (String, Instant)>>,
    reverify_interval: Duration,
    sumdb: Option<Arc<sumdb::Client>>,
    gonosumdb: String,
    sumdb_mode: sumdb::Unreachable,
    verify_gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub counters: Counters,
    /// The integrity event log (and alert webhooks).
    pub events: Arc<Events>,
    /// When the mirror started.
    pub started: std::time::Instant,
    /// Per upstream: (unix time of the last success, last error).
    pub upstream_health: Mutex<HashMap<String, UpstreamHealth>>,
}

/// An upstream's recent history, for /readyz and the status page.
#[derive(Debug, Clone, Default)]
pub struct UpstreamHealth {
    /// Unix time of the last answer (a 404 counts: the upstream answered).
    pub last_ok: u64,
    /// Unix time and text of the last failure.
    pub last_error: Option<(u64, String)>,
}

/// A bounded in-memory tier of verified small objects.
struct MemTier {
    /// key → (record, verified bytes, fingerprint of the stored copy they
    /// were read from).
    lru: lru::LruCache<String, (Meta, Bytes, Option<String>)>,
    bytes: u64,
    budget: u64,
}

impl MemTier {
    fn get(&mut self, key: &str) -> Option<(Meta, Bytes, Option<String>)> {
        self.lru.get(key).cloned()
    }
    fn put(&mut self, key: &str, meta: Meta, data: Bytes, fingerprint: Option<String>) {
        if data.len() as u64 > self.budget / 8 {
            return;
        }
        if let Some((_, old, _)) = self
            .lru
            .put(key.to_owned(), (meta, data.clone(), fingerprint))
        {
            self.bytes -= old.len() as u64;
        }
        self.bytes += data.len() as u64;
        while self.bytes > self.budget {
            match self.lru.pop_lru() {
                Some((_, (_, d, _))) => self.bytes -= d.len() as u64,
                None => break,
            }
        }
    }
    fn remove(&mut self, key: &str) {
        if let Some((_, d, _)) = self.lru.pop(key) {
            self.bytes -= d.len() as u64;
        }
    }
}

impl From<PathError> for Failure {
    fn from(e: PathError) -> Failure {
        Failure::NotFound(e.message().to_owned())
    }
}

/// The largest body admitted for a versioned file of this kind.
fn limit(ext: FileKind) -> u64 {
    match ext {
        FileKind::Info => admit::MAX_INFO,
        FileKind::Mod => admit::MAX_MOD,
        FileKind::Zip => admit::MAX_ZIP,
    }
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// One upstream attempt's failure, classified for the chain walk.
enum TryError {
    /// Ends the walk: no other upstream can change the outcome (the
    /// checksum database is unreachable, lying, or has no such version).
    Final(Failure),
    NotFound(String),
    Fetch(FetchError),
    Admit(AdmitError),
    Store(String),
}

impl Mirror {
    /// Creates the mirror core over `store`.
    pub fn new(store: Arc<dyn Store>, s: Settings) -> anyhow::Result<Arc<Mirror>> {
        let client = upstream::Client::new(s.policy, s.direct)?;
        let metrics = Arc::new(Metrics::new());
        let events = Events::new(1000, s.alerts, metrics.clone());
        if let Some(db) = &s.sumdb {
            db.set_alerts(metrics.clone(), events.clone());
        }
        Ok(Arc::new(Mirror {
            store,
            chain: s.chain,
            gonoproxy: s.gonoproxy,
            list_ttl: s.list_ttl,
            client,
            inflight: Mutex::new(HashMap::new()),
            mem: Mutex::new(MemTier {
                lru: lru::LruCache::new(NonZeroUsize::new(1 << 20).expect("non-zero")),
                bytes: 0,
                budget: s.memory_cache_bytes,
            }),
            verified: Mutex::new(HashMap::new()),
            reverify_interval: s.reverify_interval,
            sumdb: s.sumdb,
            gonosumdb: s.gonosumdb,
            sumdb_mode: s.sumdb_mode,
            verify_gates: Mutex::new(HashMap::new()),
            counters: Counters {
                inner: Mutex::default(),
                metrics: metrics.clone(),
            },
            events,
            started: std::time::Instant::now(),
            upstream_health: Mutex::default(),
        }))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configured checksum database, if any.
    pub fn sumdb(&self) -> Option<&Arc<sumdb::Client>> {
        self.sumdb.as_ref()
    }

    /// The list time-to-live, for `Cache-Control`.
    pub fn list_ttl(&self) -> Duration {
        self.list_ttl
    }

    /// The lock serialising full verifications of one key.
    fn verify_gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.verify_gates.lock().unwrap();
        // Forget gates nobody holds, so the map stays small.
        if gates.len() > 1024 {
            gates.retain(|_, g| Arc::strong_count(g) > 1);
        }
        gates.entry(key.to_owned()).or_default().clone()
    }

    fn chain_for(&self, module: &str) -> Chain {
        if !self.gonoproxy.is_empty() && gomod::glob::match_prefix_patterns(&self.gonoproxy, module)
        {
            self.chain.private()
        } else {
            self.chain.clone()
        }
    }

    /// Records an integrity failure of `kind` from `source` (an upstream
    /// name, or `store`).
    fn integrity_failure(&self, kind: FailureKind, source: &str, what: &str, msg: &str) {
        self.counters
            .inc("integrity_failures", &format!("{}|{source}", kind.as_str()));
        self.events
            .record(kind.as_str(), source, what, msg, &self.counters.metrics);
        tracing::warn!(
            kind = kind.as_str(),
            source,
            object = what,
            "integrity failure: {msg}"
        );
    }

    /// Takes a rotten object out of service and out of every cache tier.
    pub async fn quarantine(&self, key: &str, kind: FailureKind, msg: &str) {
        self.mem.lock().unwrap().remove(key);
        self.verified.lock().unwrap().remove(key);
        self.integrity_failure(kind, "store", key, msg);
        self.counters.inc("quarantined", "");
        if let Err(e) = self.store.quarantine(key, msg).await {
            tracing::error!(key, "quarantine failed: {e}");
        }
    }

    /// Loads a stored object with its guarantee. Small objects are
    /// verified whole, then kept in memory. A large object is verified whole
    /// unless this exact stored copy (its store fingerprint) was verified
    /// whole before, and is then verified again while it streams. `None`
    /// when absent or rotten (a rotten object is quarantined first).
    async fn load(&self, key: &str) -> Result<Option<Object>, Failure> {
        let hit = self.mem.lock().unwrap().get(key);
        if let Some((meta, data, fp)) = hit {
            // The stored copy changed since it was read (rewritten, or
            // tampered with): verify it again rather than serve from memory.
            if fp.is_none() || self.store.fingerprint(key) == fp {
                return Ok(Some(Object {
                    key: key.to_owned(),
                    meta,
                    data: Data::Memory(data),
                    stale: false,
                    outcome: "hit",
                }));
            }
            self.mem.lock().unwrap().remove(key);
        }
        let opened = match self.store.open(key).await {
            Ok(Some(o)) => o,
            Ok(None) => return Ok(None),
            Err(e) => return Err(Failure::Store(e.to_string())),
        };
        let store_err = |e: std::io::Error| Failure::Store(format!("{key}: {e}"));
        let meta = opened.meta;
        let reader = opened.reader;
        let len = reader.stored_len().await.map_err(store_err)?;
        if len != meta.size {
            let msg = format!("stored length {len}, admitted {}", meta.size);
            self.quarantine(key, FailureKind::Size, &msg).await;
            return Ok(None);
        }
        if meta.size <= SMALL_OBJECT {
            let data = read_whole(reader.as_ref(), meta.size)
                .await
                .map_err(store_err)?;
            if data.len() as u64 != meta.size || sha_hex(&data) != meta.sha256 {
                let msg = "stored bytes do not match the admitted sha256";
                self.quarantine(key, FailureKind::Sha256, msg).await;
                return Ok(None);
            }
            self.mem
                .lock()
                .unwrap()
                .put(key, meta.clone(), data.clone(), opened.fingerprint);
            return Ok(Some(Object {
                key: key.to_owned(),
                meta,
                data: Data::Memory(data),
                stale: false,
                outcome: "hit",
            }));
        }
        // When was this exact stored copy last verified whole?
        let last_verified = |m: &Mirror| -> Option<Instant> {
            let fp = opened.fingerprint.as_ref()?;
            let v = m.verified.lock().unwrap();
            v.get(key).filter(|(f, _)| f == fp).map(|(_, at)| *at)
        };
        let mut at = last_verified(self);
        if at.is_none() {
            // Concurrent first requests for a large object wait for one
            // full verification instead of each reading the whole object.
            let gate = self.verify_gate(key);
            let _turn = gate.lock().await;
            at = last_verified(self);
            if at.is_none() {
                let mut h = Sha256::new();
                let mut pos = 0;
                while pos < meta.size {
                    let chunk = reader.read_at(pos, CHUNK).await.map_err(store_err)?;
                    if chunk.is_empty() {
                        break;
                    }
                    h.update(&chunk);
                    pos += chunk.len() as u64;
                }
                if pos != meta.size || hex::encode(h.finalize()) != meta.sha256 {
                    let msg = "stored bytes do not match the admitted sha256";
                    self.quarantine(key, FailureKind::Sha256, msg).await;
                    return Ok(None);
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
        Ok(Some(Object {
            key: key.to_owned(),
            meta,
            data: Data::Stored {
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
    /// `load`) ends in an error, not a clean end, if it does not match.
    pub fn body(
        self: &Arc<Self>,
        obj: Object,
        range: Option<(u64, u64)>,
    ) -> BoxStream<'static, std::io::Result<Bytes>> {
        match obj.data {
            Data::Memory(b) => {
                let b = match range {
                    Some((s, e)) => b.slice(s as usize..=e as usize),
                    None => b,
                };
                futures_util::stream::once(async move { Ok(b) }).boxed()
            }
            Data::Stored {
                reader,
                hash,
                fingerprint,
            } => match range {
                // `load` verified this copy whole (now or before).
                Some((s, e)) => range_stream(reader, s, e),
                None if hash => {
                    verified_stream(self.clone(), obj.key, obj.meta, reader, fingerprint)
                }
                None => range_stream(reader, 0, obj.meta.size.saturating_sub(1)),
            },
        }
    }

    /// Runs `fill` for `key` once, however many callers ask at the same
    /// time; every caller gets the one result. The work runs in its own task
    /// so a caller that goes away does not cancel it for the others.
    async fn singleflight<F>(self: &Arc<Self>, key: &str, fill: F) -> Result<(), Failure>
    where
        F: std::future::Future<Output = Result<(), Failure>> + Send + 'static,
    {
        let flight = {
            let mut map = self.inflight.lock().unwrap();
            if let Some(f) = map.get(key) {
                self.counters.inc("singleflight_waiters", "");
                f.clone()
            } else {
                let this = self.clone();
                let k = key.to_owned();
                let handle = tokio::spawn(async move {
                    // Removed however the work ends, a panic included: a
                    // failed flight must not answer every later request.
                    let _done = FlightDone(this, k);
                    fill.await
                });
                let f: Flight = async move {
                    handle.await.unwrap_or_else(|e| {
                        Err(Failure::Upstream(format!("fetch task failed: {e}")))
                    })
                }
                .boxed()
                .shared();
                map.insert(key.to_owned(), f.clone());
                f
            }
        };
        flight.await
    }

    /// A versioned `.info`, `.mod` or `.zip` (canonical version): from the
    /// cache, verified; on a miss or rot, fetched through admission first.
    pub async fn versioned(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<Object, Failure> {
        let key = versioned_key(module, version, ext)?;
        if let Some(o) = self.load(&key).await? {
            self.counters.inc("cache", "hit");
            return Ok(o);
        }
        self.counters.inc("cache", "miss");
        let this = self.clone();
        let (m, v) = (module.to_owned(), version.to_owned());
        self.singleflight(&key, async move { this.fetch_versioned(&m, &v, ext).await })
            .await?;
        match self.load(&key).await? {
            Some(mut o) => {
                o.outcome = "miss";
                Ok(o)
            }
            None => Err(Failure::Upstream(format!(
                "{module}@{version}: admitted object failed verification"
            ))),
        }
    }

    /// Walks the chain for a versioned file until one upstream's content is
    /// admitted and stored.
    async fn fetch_versioned(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<(), Failure> {
        let key = versioned_key(module, version, ext)?;
        let rel = key.clone();
        let chain = self.chain_for(module);
        self.walk_chain(
            &chain,
            &format!("{module}@{version}.{}", ext.as_str()),
            |src| {
                let this = self.clone();
                let (rel, key, module, version) = (
                    rel.clone(),
                    key.clone(),
                    module.to_owned(),
                    version.to_owned(),
                );
                async move {
                    this.try_versioned(&src, &rel, &key, &module, &version, ext)
                        .await
                }
                .boxed()
            },
        )
        .await
    }

    /// Tries each chain entry with the GOPROXY fall-through rules; content
    /// failing admission always moves on to the next entry.
    async fn walk_chain<F>(&self, chain: &Chain, what: &str, mut attempt: F) -> Result<(), Failure>
    where
        F: FnMut(Source) -> BoxFuture<'static, Result<(), TryError>>,
    {
        let mut errors: Vec<String> = vec![];
        let mut all_not_found = true;
        for (src, fall) in &chain.entries {
            match attempt(src.clone()).await {
                Ok(()) => return Ok(()),
                Err(TryError::NotFound(msg)) => errors.push(msg),
                Err(TryError::Admit(e)) => {
                    all_not_found = false;
                    errors.push(format!("{}: refused: {}", src.name(), e.msg));
                }
                Err(TryError::Store(msg)) => return Err(Failure::Store(msg)),
                Err(TryError::Final(f)) => return Err(f),
                Err(TryError::Fetch(e)) => {
                    all_not_found = false;
                    errors.push(e.to_string());
                    if *fall == Fallthrough::OnNotFound {
                        break;
                    }
                }
            }
        }
        let msg = format!("{what}: {}", errors.join("; "));
        if all_not_found {
            Err(Failure::NotFound(msg))
        } else {
            Err(Failure::Upstream(msg))
        }
    }

    /// GETs `rel` from `src` with retries on transient failures (including
    /// truncated bodies), and receives the body into staging.
    async fn fetch_body(
        &self,
        src: &Source,
        rel: &str,
        limit: u64,
    ) -> Result<admit::Received, TryError> {
        let retries = self.client.policy.retries;
        let mut attempt = 0;
        loop {
            self.counters.inc("upstream_requests", src.name());
            let started = std::time::Instant::now();
            let got = self.client.get(src, rel).await;
            Metrics::observe_upstream(&self.counters.metrics, src.name(), started.elapsed());
            self.note_upstream(src.name(), got.as_ref().err());
            let r = match got {
                Ok(body) => admit::receive(
                    self.store.as_ref(),
                    body,
                    limit,
                    self.client.policy.idle_timeout,
                )
                .await
                .map_err(|e| {
                    self.integrity_failure(e.kind, src.name(), rel, &e.msg);
                    TryError::Admit(e)
                }),
                Err(e) if e.is_not_found() => return Err(TryError::NotFound(e.to_string())),
                Err(e) => {
                    self.counters.inc("upstream_errors", src.name());
                    Err(TryError::Fetch(e))
                }
            };
            let retryable = matches!(&r, Err(TryError::Fetch(FetchError::Transient { .. })))
                || matches!(&r, Err(TryError::Admit(e)) if e.kind == FailureKind::Truncated);
            if r.is_ok() || !retryable || attempt >= retries {
                return r;
            }
            attempt += 1;
            tokio::time::sleep(upstream::backoff(attempt)).await;
        }
    }

    async fn try_versioned(
        self: &Arc<Self>,
        src: &Source,
        rel: &str,
        key: &str,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<(), TryError> {
        let received = self.fetch_body(src, rel, limit(ext)).await?;
        let refuse = |e: AdmitError| {
            self.integrity_failure(e.kind, src.name(), key, &e.msg);
            TryError::Admit(e)
        };
        let mut meta = admit::meta(&received, None, src.name());
        match ext {
            FileKind::Info => {
                let data = std::fs::read(received.staged.path())
                    .map_err(|e| TryError::Store(format!("reading staged info: {e}")))?;
                admit::check_info(&data, Some(version)).map_err(refuse)?;
            }
            FileKind::Mod => {
                let data = std::fs::read(received.staged.path())
                    .map_err(|e| TryError::Store(format!("reading staged go.mod: {e}")))?;
                let h1 = gomod::dirhash::hash_go_mod(&data);
                let zip_key = versioned_key(module, version, FileKind::Zip)
                    .map_err(|e| TryError::Store(e.to_string()))?;
                if let Ok(Some(zm)) = self.store.meta(&zip_key).await {
                    if zm.gomod_h1.as_deref().is_some_and(|z| z != h1) {
                        return Err(refuse(AdmitError {
                            kind: FailureKind::GoModMismatch,
                            msg: format!("go.mod {h1} differs from the go.mod in the stored zip"),
                        }));
                    }
                }
                meta.h1 = Some(h1);
            }
            FileKind::Zip => {
                let path = received.staged.path().to_owned();
                let (m, v) = (module.to_owned(), version.to_owned());
                let facts = tokio::task::spawn_blocking(move || admit::check_zip(&m, &v, &path))
                    .await
                    .map_err(|e| TryError::Store(format!("zip check task: {e}")))?
                    .map_err(refuse)?;
                let mod_key = versioned_key(module, version, FileKind::Mod)
                    .map_err(|e| TryError::Store(e.to_string()))?;
                if let Ok(Some(mm)) = self.store.meta(&mod_key).await {
                    if mm.h1.as_deref().is_some_and(|h| h != facts.gomod_h1) {
                        return Err(refuse(AdmitError {
                            kind: FailureKind::GoModMismatch,
                            msg: format!(
                                "the zip's go.mod {} differs from the stored .mod",
                                facts.gomod_h1
                            ),
                        }));
                    }
                }
                meta.h1 = Some(facts.h1);
                meta.gomod_h1 = Some(facts.gomod_h1);
            }
        }
        if ext != FileKind::Info {
            self.vouch(module, version, ext, &mut meta, src, key)
                .await?;
        }
        self.store
            .put(key, received.staged, &meta)
            .await
            .map_err(|e| TryError::Store(e.to_string()))?;
        self.counters.inc("admitted", ext.as_str());
        tracing::info!(
            object = key,
            upstream = src.name(),
            size = meta.size,
            "admitted"
        );
        Ok(())
    }

    /// Remembers an upstream's last success or failure (for /readyz and the
    /// status page). A 404 counts as a success: the upstream answered.
    fn note_upstream(&self, name: &str, err: Option<&FetchError>) {
        let now = crate::util::now_unix();
        let mut h = self.upstream_health.lock().unwrap();
        let e = h.entry(name.to_owned()).or_default();
        match err {
            None | Some(FetchError::NotFound { .. }) => e.last_ok = now,
            Some(err) => e.last_error = Some((now, err.to_string())),
        }
    }

    /// Removes `key` from the store and every cache tier (admin purge).
    pub async fn forget(&self, key: &str) -> Result<(), crate::store::StoreError> {
        self.mem.lock().unwrap().remove(key);
        self.verified.lock().unwrap().remove(key);
        self.store.delete(key).await
    }

    /// Re-verifies one stored file now, whole: `ok`, `absent`, or `healed`
    /// (it was rotten: quarantined and fetched again through admission).
    pub async fn reverify(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
    ) -> Result<&'static str, Failure> {
        let key = versioned_key(module, version, ext)?;
        // Forget what is known about the stored copy so `load` reads it
        // whole again.
        self.mem.lock().unwrap().remove(&key);
        self.verified.lock().unwrap().remove(&key);
        if self
            .store
            .meta(&key)
            .await
            .map_err(|e| Failure::Store(e.to_string()))?
            .is_none()
        {
            return Ok("absent");
        }
        if self.load(&key).await?.is_some() {
            return Ok("ok");
        }
        self.versioned(module, version, ext).await?;
        Ok("healed")
    }

    /// The upstream chain (for health reporting).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The checksum database that must vouch for `module`, if any (none
    /// when GOSUMDB=off or the module matches GONOSUMDB/GOPRIVATE).
    fn sumdb_for(&self, module: &str) -> Option<&Arc<sumdb::Client>> {
        let db = self.sumdb.as_ref()?;
        if !self.gonosumdb.is_empty() && gomod::glob::match_prefix_patterns(&self.gonosumdb, module)
        {
            return None;
        }
        Some(db)
    }

    /// Checks the `h1:` in `meta` against the checksum database before the
    /// object is committed, and records the tree size that vouched for it.
    /// A mismatch refuses this upstream's content (the next is tried); a
    /// database that is unreachable (strict mode), lying or without the
    /// version ends the walk.
    async fn vouch(
        self: &Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        meta: &mut Meta,
        src: &Source,
        key: &str,
    ) -> Result<(), TryError> {
        let Some(db) = self.sumdb_for(module).cloned() else {
            return Ok(());
        };
        let h1 = meta.h1.clone().unwrap_or_default();
        match db.lookup(module, version).await {
            Ok(v) => {
                let want = if ext == FileKind::Zip { v.zip } else { v.gomod };
                if want.as_deref() == Some(h1.as_str()) {
                    meta.sumdb_tree_size = Some(v.tree_size);
                    self.counters.inc("sumdb_vouched", ext.as_str());
                    return Ok(());
                }
                let e = AdmitError {
                    kind: FailureKind::Sumdb,
                    msg: format!(
                        "{module}@{version}.{}: {h1} from {}, but checksum database {} has {}",
                        ext.as_str(),
                        src.name(),
                        db.cfg.name,
                        want.as_deref().unwrap_or("no hash")
                    ),
                };
                self.integrity_failure(e.kind, src.name(), key, &e.msg);
                tracing::error!(
                    alert = "sumdb_mismatch",
                    upstream = src.name(),
                    object = key,
                    "{}",
                    e.msg
                );
                Err(TryError::Admit(e))
            }
            Err(sumdb::SumdbError::Unreachable { msg, .. })
                if self.sumdb_mode == sumdb::Unreachable::Warn =>
            {
                tracing::warn!(
                    object = key,
                    "admitting unverified (checksum database unreachable): {msg}"
                );
                self.counters.inc("sumdb_unverified", ext.as_str());
                let (this, m, v, k, h) = (
                    self.clone(),
                    module.to_owned(),
                    version.to_owned(),
                    key.to_owned(),
                    h1,
                );
                tokio::spawn(async move { this.verify_later(&m, &v, ext, &k, &h).await });
                Ok(())
            }
            Err(e @ sumdb::SumdbError::NotFound { .. }) => {
                Err(TryError::Final(Failure::NotFound(e.to_string())))
            }
            Err(e) => {
                if matches!(e, sumdb::SumdbError::Invalid { .. }) {
                    self.integrity_failure(FailureKind::Sumdb, &db.cfg.name, key, &e.to_string());
                }
                Err(TryError::Final(Failure::Upstream(e.to_string())))
            }
        }
    }

    /// Warn mode: keeps asking the database about an object admitted
    /// unverified (with backoff, for about an hour) and quarantines it if
    /// the database disagrees.
    async fn verify_later(
        self: Arc<Self>,
        module: &str,
        version: &str,
        ext: FileKind,
        key: &str,
        h1: &str,
    ) {
        let Some(db) = self.sumdb_for(module).cloned() else {
            return;
        };
        for delay in [2u64, 10, 60, 300, 900, 1800] {
            tokio::time::sleep(Duration::from_secs(delay)).await;
            match db.lookup(module, version).await {
                Ok(v) => {
                    let want = if ext == FileKind::Zip { v.zip } else { v.gomod };
                    if want.as_deref() == Some(h1) {
                        tracing::info!(
                            object = key,
                            tree = v.tree_size,
                            "verified later by the checksum database"
                        );
                    } else {
                        let msg = format!(
                            "checksum database {} has {:?}, stored {h1}",
                            db.cfg.name, want
                        );
                        self.quarantine(key, FailureKind::Sumdb, &msg).await;
                    }
                    return;
                }
                Err(sumdb::SumdbError::Unreachable { .. }) => continue,
                Err(e) => {
                    self.quarantine(key, FailureKind::Sumdb, &e.to_string())
                        .await;
                    return;
                }
            }
        }
    }

    /// `@v/list`: fresh from the cache within the TTL, else from upstream;
    /// when every upstream fails, the last list (marked stale) merged with
    /// the versions present in the cache.
    pub async fn list(self: &Arc<Self>, module: &str) -> Result<Object, Failure> {
        let key = format!("{}/@v/list", escaped(module)?);
        self.volatile(module, &key, "@v/list", admit::MAX_LIST, |data| {
            let list = admit::clean_list(data)?;
            Ok(list
                .iter()
                .map(|v| format!("{v}\n"))
                .collect::<String>()
                .into_bytes())
        })
        .await
    }

    /// `@latest`: like `list`, the answer is cached briefly, served stale
    /// when every upstream fails.
    pub async fn latest(self: &Arc<Self>, module: &str) -> Result<Object, Failure> {
        let key = format!("{}/@latest", escaped(module)?);
        self.volatile(module, &key, "@latest", admit::MAX_INFO, |data| {
            admit::check_info(data, None)?;
            Ok(data.to_vec())
        })
        .await
    }

    async fn volatile(
        self: &Arc<Self>,
        module: &str,
        key: &str,
        rel_suffix: &'static str,
        limit: u64,
        clean: fn(&[u8]) -> Result<Vec<u8>, AdmitError>,
    ) -> Result<Object, Failure> {
        let cached = self.load(key).await?;
        if let Some(o) = &cached {
            if crate::util::now_unix().saturating_sub(o.meta.admitted_at)
                < self.list_ttl.as_secs().max(1)
            {
                self.counters.inc("cache", "hit");
                return Ok(cached.expect("checked"));
            }
        }
        let this = self.clone();
        let (m, k) = (module.to_owned(), key.to_owned());
        let r = self
            .singleflight(key, async move {
                let rel = format!("{}/{rel_suffix}", escaped(&m)?);
                let chain = this.chain_for(&m);
                let this2 = this.clone();
                this.walk_chain(&chain, &format!("{m}/{rel_suffix}"), move |src| {
                    let this = this2.clone();
                    let (rel, k) = (rel.clone(), k.clone());
                    async move {
                        let received = this.fetch_body(&src, &rel, limit).await?;
                        let data = std::fs::read(received.staged.path())
                            .map_err(|e| TryError::Store(format!("reading staged {rel}: {e}")))?;
                        let cleaned = clean(&data).map_err(|e| {
                            this.integrity_failure(e.kind, src.name(), &k, &e.msg);
                            TryError::Admit(e)
                        })?;
                        let meta = crate::store::meta_of(&cleaned, src.name());
                        this.mem.lock().unwrap().remove(&k);
                        this.store
                            .put_bytes(&k, &cleaned, &meta)
                            .await
                            .map_err(|e| TryError::Store(e.to_string()))
                    }
                    .boxed()
                })
                .await
            })
            .await;
        match r {
            Ok(()) => {
                self.counters.inc("cache", "miss");
                let mut o = self.load(key).await?.ok_or_else(|| {
                    Failure::Upstream(format!(
                        "{module}/{rel_suffix}: stored answer failed verification"
                    ))
                })?;
                o.outcome = "miss";
                Ok(o)
            }
            Err(f) => {
                let is_list = rel_suffix == "@v/list";
                if let Some(mut o) = cached {
                    self.counters.inc("cache", "stale");
                    tracing::warn!(module, "serving stale {rel_suffix}: {f}");
                    if is_list {
                        o = self.merge_cached_versions(module, o).await?;
                    }
                    o.stale = true;
                    o.outcome = "stale";
                    return Ok(o);
                }
                if is_list {
                    let versions = self.cached_versions(module).await?;
                    if !versions.is_empty() {
                        self.counters.inc("cache", "stale");
                        let body = versions
                            .iter()
                            .map(|v| format!("{v}\n"))
                            .collect::<String>();
                        return Ok(memory_object(
                            key,
                            body.into_bytes(),
                            matches!(f, Failure::Upstream(_)),
                        ));
                    }
                }
                Err(f)
            }
        }
    }

    /// Versions of `module` present in the cache (any of .info/.mod/.zip),
    /// excluding pseudo-versions, sorted.
    async fn cached_versions(&self, module: &str) -> Result<Vec<String>, Failure> {
        let prefix = format!("{}/@v/", escaped(module)?);
        let keys = self
            .store
            .list(&prefix)
            .await
            .map_err(|e| Failure::Store(e.to_string()))?;
        let mut out: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|f| f.rsplit_once('.').map(|(v, _)| v))
            .filter_map(|v| gomod::module::unescape_version(v).ok())
            .filter(|v| gomod::semver::is_valid(v) && !gomod::pseudo::is_pseudo_version(v))
            .collect();
        gomod::semver::sort(&mut out);
        out.dedup();
        Ok(out)
    }

    async fn merge_cached_versions(&self, module: &str, o: Object) -> Result<Object, Failure> {
        let Data::Memory(b) = &o.data else {
            return Ok(o);
        };
        let mut all: Vec<String> = String::from_utf8_lossy(b)
            .lines()
            .map(str::to_owned)
            .collect();
        all.extend(self.cached_versions(module).await?);
        gomod::semver::sort(&mut all);
        all.dedup();
        let body = all.iter().map(|v| format!("{v}\n")).collect::<String>();
        Ok(memory_object(&o.key, body.into_bytes(), true))
    }

    /// `.info` for a non-canonical query (a branch, a commit, `v1.2`):
    /// forwarded to the upstreams, answered with the canonical info, which
    /// is also admitted under its canonical version.
    pub async fn query_info(
        self: &Arc<Self>,
        module: &str,
        query: &str,
    ) -> Result<Object, Failure> {
        let q =
            gomod::module::escape_version(query).map_err(|e| Failure::NotFound(e.to_string()))?;
        let rel = format!("{}/@v/{q}.info", escaped(module)?);
        let chain = self.chain_for(module);
        let result: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let this = self.clone();
        let res2 = result.clone();
        self.walk_chain(&chain, &format!("{module}@{query}.info"), move |src| {
            let this = this.clone();
            let rel = rel.clone();
            let res = res2.clone();
            let module = module.to_owned();
            async move {
                let received = this.fetch_body(&src, &rel, admit::MAX_INFO).await?;
                let data = std::fs::read(received.staged.path())
                    .map_err(|e| TryError::Store(format!("reading staged info: {e}")))?;
                let info = admit::check_info(&data, None).map_err(|e| {
                    this.integrity_failure(e.kind, src.name(), &rel, &e.msg);
                    TryError::Admit(e)
                })?;
                if let Err(e) = gomod::module::check(&module, &info.version) {
                    let e = AdmitError {
                        kind: FailureKind::Info,
                        msg: e.to_string(),
                    };
                    this.integrity_failure(e.kind, src.name(), &rel, &e.msg);
                    return Err(TryError::Admit(e));
                }
                let key = versioned_key(&module, &info.version, FileKind::Info)
                    .map_err(|e| TryError::Store(e.to_string()))?;
                if matches!(this.store.meta(&key).await, Ok(None)) {
                    let meta = admit::meta(&received, None, src.name());
                    this.store
                        .put(&key, received.staged, &meta)
                        .await
                        .map_err(|e| TryError::Store(e.to_string()))?;
                }
                *res.lock().unwrap() = Some(data);
                Ok(())
            }
            .boxed()
        })
        .await?;
        let data = result.lock().unwrap().take().expect("set on success");
        Ok(memory_object(
            &format!("query:{module}@{query}"),
            data,
            false,
        ))
    }
}

/// An object built in memory (merged lists, query answers).
fn memory_object(key: &str, data: Vec<u8>, stale: bool) -> Object {
    let meta = crate::store::meta_of(&data, "gomirror");
    Object {
        key: key.to_owned(),
        meta,
        data: Data::Memory(Bytes::from(data)),
        stale,
        outcome: if stale { "stale" } else { "miss" },
    }
}

/// Reads a whole small object (at most `size` bytes).
async fn read_whole(reader: &dyn ObjectRead, size: u64) -> std::io::Result<Bytes> {
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

/// Streams a stored object whole while hashing it; if the bytes do not
/// complete the admitted digest (or end early), the stream yields an error
/// instead of its last chunk, so the client never sees a clean end of a bad
/// body, and the object is quarantined. A matching stream records the copy
/// as verified.
fn verified_stream(
    mirror: Arc<Mirror>,
    key: String,
    meta: Meta,
    reader: Box<dyn ObjectRead>,
    fingerprint: Option<String>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    struct St {
        mirror: Arc<Mirror>,
        key: String,
        fingerprint: Option<String>,
        meta: Meta,
        reader: Box<dyn ObjectRead>,
        hasher: Sha256,
        sent: u64,
        done: bool,
    }
    let st = St {
        mirror,
        key,
        fingerprint,
        meta,
        reader,
        hasher: Sha256::new(),
        sent: 0,
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let want = (st.meta.size - st.sent).min(CHUNK as u64) as usize;
        let chunk = match st.reader.read_at(st.sent, want).await {
            Ok(c) => c,
            Err(e) => {
                st.done = true;
                return Some((Err(e), st));
            }
        };
        st.hasher.update(&chunk);
        st.sent += chunk.len() as u64;
        if chunk.len() < want || st.sent == st.meta.size {
            st.done = true;
            let digest = hex::encode(std::mem::take(&mut st.hasher).finalize());
            if st.sent != st.meta.size || digest != st.meta.sha256 {
                let msg = format!(
                    "stored bytes do not match the admitted digest ({} of {} bytes read)",
                    st.sent, st.meta.size
                );
                let (m, k) = (st.mirror.clone(), st.key.clone());
                let msg2 = msg.clone();
                tokio::spawn(async move { m.quarantine(&k, FailureKind::Sha256, &msg2).await });
                // Never the last good-looking chunk: the client must see a
                // broken transfer.
                return Some((Err(std::io::Error::other(msg)), st));
            }
            if let Some(fp) = st.fingerprint.take() {
                st.mirror
                    .verified
                    .lock()
                    .unwrap()
                    .insert(st.key.clone(), (fp, Instant::now()));
            }
        }
        Some((Ok(chunk), st))
    })
    .boxed()
}

/// Streams bytes `start..=end` of a stored copy verified whole (by `load`,
/// now or within the re-verify interval); a copy that ends early is an
/// error, never a short clean body.
fn range_stream(
    reader: Box<dyn ObjectRead>,
    start: u64,
    end: u64,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    futures_util::stream::unfold((reader, start), move |(r, pos)| async move {
        if pos > end {
            return None;
        }
        let want = (end + 1 - pos).min(CHUNK as u64) as usize;
        match r.read_at(pos, want).await {
            Ok(c) if c.is_empty() => Some((
                Err(std::io::Error::other("stored object ended early")),
                (r, end + 1),
            )),
            Ok(c) => {
                let next = pos + c.len() as u64;
                Some((Ok(c), (r, next)))
            }
            Err(e) => Some((Err(e), (r, end + 1))),
        }
    })
    .boxed()
}

/// Takes a finished flight out of the in-flight map when dropped.
struct FlightDone(Arc<Mirror>, String);

impl Drop for FlightDone {
    fn drop(&mut self) {
        if let Ok(mut map) = self.0.inflight.lock() {
            map.remove(&self.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use futures_util::StreamExt;

    const KEY: &str = "example.com/m/@v/v1.0.0.zip";

    /// A fetch that panics fails its callers once and is then forgotten:
    /// the next request for the same object runs a new fetch.
    #[tokio::test]
    async fn a_panicking_flight_is_forgotten() {
        let m = mirror(Arc::new(MemStore::new().unwrap()), Duration::ZERO);
        let r = m
            .singleflight("example.com/m/@v/v1.0.0.zip", async {
                panic!("injected panic in a fetch")
            })
            .await;
        assert!(
            matches!(&r, Err(Failure::Upstream(msg)) if msg.contains("fetch task failed")),
            "{r:?}"
        );
        assert!(m.inflight.lock().unwrap().is_empty());
        let r = m
            .singleflight("example.com/m/@v/v1.0.0.zip", async { Ok(()) })
            .await;
        assert!(r.is_ok(), "{r:?}");
    }

    fn mirror(store: Arc<MemStore>, reverify: Duration) -> Arc<Mirror> {
        Mirror::new(
            store,
            Settings {
                chain: Chain::parse("off").unwrap(),
                gonoproxy: String::new(),
                list_ttl: Duration::from_secs(60),
                memory_cache_bytes: 1 << 20,
                policy: upstream::Policy {
                    connect_timeout: Duration::from_secs(1),
                    first_byte_timeout: Duration::from_secs(1),
                    idle_timeout: Duration::from_secs(1),
                    retries: 0,
                },
                reverify_interval: reverify,
                sumdb: None,
                gonosumdb: String::new(),
                sumdb_mode: sumdb::Unreachable::Strict,
                alerts: AlertConfig::default(),
                direct: None,
            },
        )
        .unwrap()
    }

    async fn put_large(store: &MemStore) -> Vec<u8> {
        let data: Vec<u8> = (0..3 * SMALL_OBJECT as u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let meta = crate::store::meta_of(&data, "test");
        store.put_bytes(KEY, &data, &meta).await.unwrap();
        data
    }

    /// Collects a body: the bytes of the Ok chunks, and whether it ended
    /// cleanly (no error item).
    async fn collect(
        m: &Arc<Mirror>,
        range: Option<(u64, u64)>,
    ) -> Result<(Vec<u8>, bool), Failure> {
        let obj = m
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await?;
        let mut s = m.body(obj, range);
        let mut out = vec![];
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => return Ok((out, false)),
            }
        }
        Ok((out, true))
    }

    /// Silent rot (bytes change, metadata does not): with the strictest
    /// setting the client never gets a clean end of a bad body, and the
    /// object is quarantined.
    #[tokio::test]
    async fn silent_rot_never_ends_cleanly() {
        let store = Arc::new(MemStore::new().unwrap());
        let data = put_large(&store).await;
        let m = mirror(store.clone(), Duration::ZERO);
        assert_eq!(collect(&m, None).await.unwrap(), (data.clone(), true));
        store.rot(KEY, |b| {
            let i = b.len() - 10;
            b[i] ^= 1;
        });
        let (got, clean) = collect(&m, None).await.unwrap();
        assert!(!clean, "a rotten body ended cleanly");
        assert!(
            got.len() < data.len(),
            "all bytes of a rotten body were sent"
        );
        assert_eq!(&got[..], &data[..got.len()], "the good prefix is intact");
        for _ in 0..100 {
            if !store.quarantined().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.quarantined().len(), 1);
        assert_eq!(m.counters.get("integrity_failures", "sha256|store"), 1);
        // Gone, and GOPROXY=off cannot heal it: a clear failure, not bytes.
        assert!(collect(&m, None).await.is_err());
    }

    /// A stored copy that changed (new fingerprint) is verified whole before
    /// anything is sent: rot is found before the first byte.
    #[tokio::test]
    async fn changed_copy_is_verified_before_sending() {
        let store = Arc::new(MemStore::new().unwrap());
        let data = put_large(&store).await;
        let m = mirror(store.clone(), Duration::from_secs(600));
        assert_eq!(
            collect(&m, Some((0, 9))).await.unwrap(),
            (data[..10].to_vec(), true)
        );
        // Re-put corrupt bytes under the old record: a new copy.
        let mut bad = data.clone();
        bad[5] ^= 1;
        let meta = store.meta(KEY).await.unwrap().unwrap();
        store.put_bytes(KEY, &bad, &meta).await.unwrap();
        assert!(
            collect(&m, Some((0, 9))).await.is_err(),
            "rot served through a range"
        );
        assert_eq!(store.quarantined().len(), 1);
    }

    /// Within the re-verify interval a verified copy streams without
    /// hashing; the default keeps the documented trade-off explicit.
    #[tokio::test]
    async fn verified_copy_streams_within_interval() {
        let store = Arc::new(MemStore::new().unwrap());
        let data = put_large(&store).await;
        let m = mirror(store.clone(), Duration::from_secs(600));
        assert_eq!(collect(&m, None).await.unwrap(), (data.clone(), true));
        let obj = m
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await
            .unwrap();
        assert!(matches!(obj.data, Data::Stored { hash: false, .. }));
        let m0 = mirror(store, Duration::ZERO);
        let obj = m0
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await
            .unwrap();
        assert!(matches!(obj.data, Data::Stored { hash: true, .. }));
    }
}
