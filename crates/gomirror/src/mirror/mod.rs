//! The core: look up → verify → (miss) fetch → admit → serve, with
//! singleflight.
//!
//! `mirror` orchestrates and decides no content: what may enter the cache
//! is decided in [`crate::admit`] (the only maker of the value the store
//! accepts), what may leave it in [`crate::verify`] (the only maker of a
//! response body). Files: this one holds the core, its state and the
//! read path; `fetch` the chain walk for versioned files, admission and the
//! checksum database's word; `volatile` `list`, `@latest` and queries;
//! `counters` what the mirror did; `usage` what the store holds.
//!
//! A rotten object is quarantined and fetched again through admission.

use crate::admit::{AdmitError, FailureKind};
use crate::protocol::{versioned_key, FileKind};
use crate::store::{Store, StoreError};
use crate::sumdb;
use crate::telemetry::{AlertConfig, Events, Metrics};
use crate::upstream::{self, Chain, FetchError};
use crate::verify::{Loaded, Verified, Verifier};
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Flight = Shared<BoxFuture<'static, Result<(), Failure>>>;

/// A fetch in flight: its shared outcome and the clients waiting for it.
struct InFlight {
    id: u64,
    future: Flight,
    interest: Interest,
    live: Option<Arc<crate::admit::Live>>,
    early: Arc<gate::Early>,
}

/// What a request for a versioned file is answered with.
pub enum Answer {
    /// The whole object, verified.
    Whole(Verified),
    /// A cold zip's bytes as they arrive (see [`crate::admit::Live`]).
    Live(LiveZip),
}

/// A cold zip streamed to a client while admission receives it: the end
/// of the body is sent only once admission admitted these very bytes, or
/// the stream ends with an error.
pub struct LiveZip {
    /// The length promised (the upstream's declared length), if known.
    pub len: Option<u64>,
    /// The bytes.
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

/// A client's place in a flight: the shared result, its interest (it waits
/// while this lives) and the flight's live bytes, if it has any.
pub(super) struct Joined {
    pub(super) flight: Flight,
    pub(super) waiting: gate::Waiter,
    pub(super) live: Option<Arc<crate::admit::Live>>,
    pub(super) early: Arc<gate::Early>,
}

/// How long after a failed fetch of a zip its clients are not served live.
const REFUSED_TTL: Duration = Duration::from_secs(600);
/// How many failed fetches are remembered for [`REFUSED_TTL`].
const REFUSED_KEPT: usize = 10_000;

/// Tells flights under the same key apart.
static FLIGHT_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Settings of the mirror core.
pub struct Settings {
    pub chain: Chain,
    pub gonoproxy: String,
    pub list_ttl: Duration,
    /// How long "no upstream has it" answers are kept (zero: not kept).
    pub negative_ttl: Duration,
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
    /// Where `direct` in the chain fetches from (version control); `None`:
    /// `direct` fails.
    pub direct: Option<Arc<dyn upstream::Fetch>>,
    /// Where upstreams may redirect to (see [`crate::egress`]).
    pub egress: Arc<crate::egress::Egress>,
    /// Alert webhooks.
    pub alerts: AlertConfig,
    /// The fleet this replica belongs to (`None`: a single mirror).
    pub fleet: Option<Arc<crate::fleet::Fleet>>,
    /// Bytes the store may hold (`None`: unbounded; see [`budget`]).
    pub cache_size: Option<u64>,
    /// Module path globs whose zips are never evicted.
    pub pins: String,
}

#[cfg(test)]
impl Settings {
    /// Settings for tests of the core: `GOPROXY=off`, no checksum
    /// database, short timeouts.
    pub fn offline() -> Settings {
        use std::time::Duration;
        Settings {
            chain: upstream::Chain::parse("off").unwrap(),
            gonoproxy: String::new(),
            list_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(60),
            memory_cache_bytes: 1 << 20,
            policy: upstream::Policy {
                connect_timeout: Duration::from_secs(1),
                first_byte_timeout: Duration::from_secs(1),
                idle_timeout: Duration::from_secs(1),
                retries: 0,
                total_timeout: Duration::from_secs(5),
                zip_total_timeout: Duration::from_secs(5),
                concurrency: 4,
                concurrency_total: 8,
            },
            reverify_interval: Duration::from_secs(600),
            sumdb: None,
            gonosumdb: String::new(),
            sumdb_mode: crate::sumdb::Unreachable::Strict,
            direct: None,
            egress: Default::default(),
            alerts: Default::default(),
            fleet: None,
            cache_size: None,
            pins: String::new(),
        }
    }
}

/// The mirror core. Cheap to share behind an `Arc`.
pub struct Mirror {
    store: Arc<dyn Store>,
    chain: Chain,
    gonoproxy: String,
    list_ttl: Duration,
    client: upstream::ProxyClient,
    inflight: Mutex<HashMap<String, InFlight>>,
    /// Keys whose last fetch failed, and when (see
    /// [`Mirror::recently_refused`]).
    refused: Mutex<HashMap<String, std::time::Instant>>,
    /// Records admitted whose commit is running (see
    /// [`Mirror::pending_meta`]).
    pending: Mutex<HashMap<String, crate::record::Meta>>,
    /// Bounds on concurrent upstream requests.
    gate: Gate,
    /// Recent "no upstream has it" answers.
    negative: NegativeCache,
    /// The door out: memory tier, verification state, hashed streams.
    verifier: Verifier,
    sumdb: Option<Arc<sumdb::Client>>,
    gonosumdb: String,
    sumdb_mode: sumdb::Unreachable,
    pub counters: Counters,
    /// The integrity event log (and alert webhooks).
    pub events: Arc<Events>,
    /// When the mirror started.
    pub started: std::time::Instant,
    /// Per upstream: (unix time of the last success, last error).
    pub upstream_health: Mutex<HashMap<String, UpstreamHealth>>,
    /// Objects and bytes in the store, kept up to date.
    pub usage: Usage,
    /// The versions admitted, by first admission (the `/index` feed).
    pub index: crate::index::Index,
    /// The cache budget and what was served when.
    budget: budget::Budget,
    /// The mirror's own checksum database, when configured (set once at
    /// start: opening it reads the store): the log, or its name and why it
    /// could not be opened.
    ownlog: std::sync::OnceLock<Result<Arc<crate::ownlog::OwnLog>, (String, String)>>,
    /// The last write probe of the store (readiness); held while a probe
    /// runs, so concurrent callers share it.
    probe: tokio::sync::Mutex<Option<Probe>>,
    /// The fleet this replica belongs to.
    fleet: Option<Arc<crate::fleet::Fleet>>,
    /// The last check of the shared bucket and Redis.
    shared: tokio::sync::Mutex<Option<(std::time::Instant, SharedHealth)>>,
    /// Per-minute samples for the status page's charts.
    pub history: crate::history::History,
}

/// How the shared parts of a fleet answer: `None` where there is no such
/// part (a file store; no Redis), else `Err` with why it fails.
#[derive(Debug, Clone, Default)]
pub struct SharedHealth {
    pub bucket: Option<Result<(), String>>,
    pub redis: Option<Result<(), String>>,
}

/// How often the store's write probe runs at most.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How long a write probe may take before the store counts as not
/// writable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of a write probe of the store.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `Err` with why the store is not writable.
    pub result: Result<(), String>,
    /// When it ran.
    pub at: std::time::Instant,
    /// Probes made since start, this one included.
    pub number: u64,
}

/// An upstream's recent history, for /readyz and the status page.
#[derive(Debug, Clone, Default)]
pub struct UpstreamHealth {
    /// Unix time of the last answer (a 404 counts: the upstream answered).
    pub last_ok: u64,
    /// Unix time and text of the last failure.
    pub last_error: Option<(u64, String)>,
}

/// One upstream attempt's failure, classified for the chain walk.
pub(super) enum TryError {
    /// Ends the walk: no other upstream can change the outcome (the
    /// checksum database is unreachable, lying, or has no such version).
    Final(Failure),
    NotFound(FetchError),
    Fetch(FetchError),
    Admit(AdmitError),
    Store(StoreFailure),
}

impl From<StoreError> for TryError {
    fn from(e: StoreError) -> TryError {
        TryError::Store(StoreFailure::Store(e))
    }
}
mod budget;
mod cached_only;
mod counters;
mod failure;
mod fetch;
mod gate;
mod lookahead;
mod negative;
mod usage;
mod volatile;

use gate::{FetchCtx, Gate, Interest};
use negative::NegativeCache;

pub use counters::Counters;
pub use failure::{Attempt, Failure, NotFound, StoreFailure, Upstream, Walk};
pub use usage::Usage;

impl Mirror {
    /// Creates the mirror core over `store`; fails only when the HTTP
    /// client cannot be built (TLS set-up).
    pub fn new(store: Arc<dyn Store>, s: Settings) -> Result<Arc<Mirror>, reqwest::Error> {
        let metrics = Arc::new(Metrics::new());
        let gate = Gate::new(
            s.policy.concurrency,
            s.policy.concurrency_total,
            metrics.clone(),
        );
        let client = upstream::ProxyClient::new(s.policy, s.direct, s.egress.clone())?;
        let events = Events::new(1000, s.alerts, metrics.clone());
        if let Some(db) = &s.sumdb {
            db.set_alerts(metrics.clone(), events.clone());
        }
        // Series whose first increment matters exist from the start (see
        // Metrics::zero): every kind of integrity failure from every source
        // this mirror knows of (its upstreams, its store, its checksum
        // database), each upstream's timeouts, the store's failing ops.
        let upstreams: Vec<&str> = s
            .chain
            .entries
            .iter()
            .filter(|(src, _)| !matches!(src, upstream::Source::Off))
            .map(|(src, _)| src.name())
            .collect();
        for u in &upstreams {
            Metrics::zero(&metrics.upstream_timeouts, &[("upstream", u)]);
        }
        let mut sources = upstreams;
        sources.push("store");
        if let Some(db) = &s.sumdb {
            sources.push(&db.cfg.name);
        }
        for op in [
            "stage",
            "read",
            "record",
            "create",
            "open",
            "list",
            "delete",
            "quarantine",
            "sync",
        ] {
            Metrics::zero(&metrics.store_errors, &[("op", op)]);
        }
        metrics
            .cache_budget
            .set(i64::try_from(s.cache_size.unwrap_or(0)).unwrap_or(i64::MAX));
        for source in sources {
            for kind in FailureKind::ALL {
                Metrics::zero(
                    &metrics.integrity_failures,
                    &[("kind", kind.as_str()), ("source", source)],
                );
            }
        }
        Ok(Arc::new(Mirror {
            store,
            chain: s.chain,
            gonoproxy: s.gonoproxy,
            list_ttl: s.list_ttl,
            client,
            inflight: Mutex::new(HashMap::new()),
            refused: Mutex::default(),
            pending: Mutex::default(),
            gate,
            negative: NegativeCache::new(s.negative_ttl),
            verifier: Verifier::new(s.memory_cache_bytes, s.reverify_interval),
            sumdb: s.sumdb,
            gonosumdb: s.gonosumdb,
            sumdb_mode: s.sumdb_mode,
            counters: Counters::new(metrics.clone()),
            events,
            started: std::time::Instant::now(),
            upstream_health: Mutex::default(),
            usage: Usage::default(),
            index: Default::default(),
            budget: budget::Budget::new(s.cache_size, s.pins),
            ownlog: std::sync::OnceLock::new(),
            probe: tokio::sync::Mutex::new(None),
            fleet: s.fleet,
            shared: tokio::sync::Mutex::new(None),
            history: crate::history::History::default(),
        }))
    }

    /// The running totals the status page's history samples (see
    /// [`crate::history`]).
    pub fn totals(&self) -> crate::history::Totals {
        let m = &self.counters.metrics;
        let mut t = crate::history::Totals {
            at: chrono::Utc::now().timestamp(),
            requests: m.requests_total(),
            hits: self.counters.get("cache", "hit"),
            misses: self.counters.get("cache", "miss"),
            bytes: m.served_total(),
            upstream_micros: m.upstream_micros.load(std::sync::atomic::Ordering::Relaxed),
            upstream_timed: m.upstream_timed.load(std::sync::atomic::Ordering::Relaxed),
            tree_size: m.sumdb_tree_size.get(),
            forks: m.sumdb_forks.get(),
            scrub_done: m.scrub_objects_done.get(),
            scrub_total: m.scrub_objects_total.get(),
            scrub_bytes: m.scrub_bytes.get(),
            cdn_fetches: m.cdn_fetches.get(),
            ..Default::default()
        };
        for ((name, label), n) in self.counters.snapshot() {
            match name {
                "integrity_failures" => {
                    t.failures.insert(label, n);
                }
                "upstream_requests" => t.upstream_requests += n,
                "upstream_errors" => t.upstream_errors += n,
                _ => {}
            }
        }
        for (edge, n) in m.cdn_findings_by_edge.lock().unwrap().iter() {
            t.failures.insert(format!("cdn|{edge}"), *n);
        }
        t
    }

    /// The fleet this replica belongs to, if any.
    pub fn fleet(&self) -> Option<&Arc<crate::fleet::Fleet>> {
        self.fleet.as_ref()
    }

    /// Checks the shared bucket and Redis (at most every two seconds;
    /// concurrent callers share one check) and updates their metrics.
    pub async fn shared_health(&self) -> SharedHealth {
        let mut last = self.shared.lock().await;
        if let Some((at, h)) = last.as_ref() {
            if at.elapsed() < Duration::from_secs(2) {
                return h.clone();
            }
        }
        let bucket = self.store.shared_health().await;
        let redis = match &self.fleet {
            None => None,
            Some(f) => Some(match f.ping().await {
                Ok(()) if f.redis_up() => Ok(()),
                Ok(()) => Err("the change feed is not connected".to_owned()),
                Err(e) => Err(e.to_string()),
            }),
        };
        let m = &self.counters.metrics;
        if let Some(b) = &bucket {
            m.bucket_up.set(i64::from(b.is_ok()));
        }
        if let Some(r) = &redis {
            m.fleet_redis_up.set(i64::from(r.is_ok()));
        }
        if let Some(f) = &self.fleet {
            let errors = f.errors.load(std::sync::atomic::Ordering::Relaxed);
            m.fleet_redis_errors
                .inc_by(errors.saturating_sub(m.fleet_redis_errors.get()));
            let got = f
                .changes_received
                .load(std::sync::atomic::Ordering::Relaxed);
            m.fleet_changes_received
                .inc_by(got.saturating_sub(m.fleet_changes_received.get()));
        }
        if let Some((bytes, budget, down)) = self.store.local_tier() {
            m.local_tier_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            m.local_tier_budget
                .set(i64::try_from(budget).unwrap_or(i64::MAX));
            m.local_served_bucket_down
                .inc_by(down.saturating_sub(m.local_served_bucket_down.get()));
        }
        let h = SharedHealth { bucket, redis };
        *last = Some((std::time::Instant::now(), h.clone()));
        h
    }

    /// Forgets what this replica holds of `key` in memory (another replica
    /// changed it in the shared store).
    pub fn forget_cached(&self, key: &str) {
        self.verifier.forget(key);
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configured checksum database, if any.
    pub fn sumdb(&self) -> Option<&Arc<sumdb::Client>> {
        self.sumdb.as_ref()
    }

    /// The mirror's own checksum database, if configured.
    pub fn ownlog(&self) -> Option<&Arc<crate::ownlog::OwnLog>> {
        self.ownlog.get()?.as_ref().ok()
    }

    /// The own checksum database that is configured but not served: its
    /// name and why.
    pub fn ownlog_failed(&self) -> Option<&(String, String)> {
        self.ownlog.get()?.as_ref().err()
    }

    /// Notes that the own checksum database `name` cannot be served.
    pub fn set_ownlog_failed(&self, name: &str, why: String) {
        let _ = self.ownlog.set(Err((name.to_owned(), why)));
    }

    /// Makes `log` the mirror's own checksum database: from now on every
    /// admitted zip is logged, and content must match what is logged.
    pub fn set_ownlog(&self, log: Arc<crate::ownlog::OwnLog>) {
        self.counters
            .metrics
            .own_sumdb_tree_size
            .set(i64::try_from(log.size()).unwrap_or(i64::MAX));
        let _ = self.ownlog.set(Ok(log));
    }

    /// The own log's lookup answer for `module@version`; a version not
    /// logged yet is admitted first (its zip, through the normal door),
    /// then logged.
    pub async fn own_lookup(
        self: &Arc<Self>,
        module: &str,
        version: &str,
    ) -> Result<Vec<u8>, Failure> {
        let log = self
            .ownlog()
            .cloned()
            .ok_or_else(|| Failure::Upstream(Upstream::Task("no own checksum database".into())))?;
        if let Some(b) = log.lookup(module, version) {
            return Ok(b);
        }
        let zip = self.versioned(module, version, FileKind::Zip).await?;
        self.log_zip(module, version, zip.meta()).await?;
        log.lookup(module, version).ok_or_else(|| {
            Failure::Upstream(Upstream::Task(format!("{module}@{version} was not logged")))
        })
    }

    /// Appends an admitted zip's version to the own log (its zip's and its
    /// go.mod's `h1:`).
    pub(super) async fn log_zip(
        &self,
        module: &str,
        version: &str,
        meta: &crate::record::Meta,
    ) -> Result<(), Failure> {
        let Some(log) = self.ownlog() else {
            return Ok(());
        };
        let (Some(zip), Some(gomod)) = (meta.h1.as_deref(), meta.gomod_h1.as_deref()) else {
            return Err(Failure::Upstream(Upstream::Task(format!(
                "{module}@{version}: the zip's record has no h1: to log"
            ))));
        };
        log.append(module, version, zip, gomod)
            .await
            .map_err(|e| Failure::Upstream(Upstream::Task(e.to_string())))?;
        self.counters
            .metrics
            .own_sumdb_tree_size
            .set(i64::try_from(log.size()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// The list time-to-live, for `Cache-Control`.
    pub fn list_ttl(&self) -> Duration {
        self.list_ttl
    }

    fn chain_for(&self, module: &str) -> Chain {
        if !self.gonoproxy.is_empty() && gomod::glob::match_prefix_patterns(&self.gonoproxy, module)
        {
            self.chain.private()
        } else {
            self.chain.clone()
        }
    }

    /// Classifies content that admission refused: an integrity failure of
    /// `source` (counted, logged, alerted; the next upstream is tried), or a
    /// failure of the mirror's own staging area (a store error: no upstream
    /// is blamed or tried).
    pub(super) fn refuse(&self, e: AdmitError, source: &str, what: &str) -> TryError {
        match e.kind() {
            Some(kind) => {
                self.integrity_failure(kind, source, what, &e.to_string());
                TryError::Admit(e)
            }
            None => TryError::Store(StoreFailure::Staging(e)),
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
            trace_id = crate::util::trace_id().as_deref(),
            kind = kind.as_str(),
            source,
            object = what,
            "integrity failure: {msg}"
        );
    }

    /// Records a failure of the mirror's own store (a full disk, a broken
    /// volume): counted by `op`, logged, and raised as a `store_error` event
    /// about the store (never held back by the alert budget; one per `op`
    /// per de-duplication window, the first failing object named).
    fn store_failure(&self, op: &str, what: &str, msg: &str) {
        self.counters.inc("store_errors", op);
        self.events.record(
            "store_error",
            crate::telemetry::STORE_SOURCE,
            op,
            &format!("{what}: {msg}"),
            &self.counters.metrics,
        );
        tracing::error!(op, object = what, "store error: {msg}");
    }

    /// Takes a rotten object out of service and out of every cache tier.
    pub async fn quarantine(&self, key: &str, kind: FailureKind, msg: &str) {
        self.verifier.forget(key);
        self.integrity_failure(kind, "store", key, msg);
        self.counters.inc("quarantined", "");
        let old = self.stored_size(key).await;
        match self.store.quarantine(key, msg).await {
            Ok(()) => self.usage.change(key, old, None),
            Err(e) => self.store_failure("quarantine", key, &e.to_string()),
        }
    }

    /// Loads a stored object through the door out ([`Verifier::load`]);
    /// `None` when absent or rotten (a rotten object is quarantined first).
    #[tracing::instrument(name = "store read", skip_all, fields(object = key))]
    async fn load(&self, key: &str) -> Result<Option<Verified>, Failure> {
        match self.verifier.load(self.store.as_ref(), key).await {
            Ok(Loaded::Ok(v)) => Ok(Some(v)),
            Ok(Loaded::Absent) => Ok(None),
            Ok(Loaded::Rotten(kind, msg)) => {
                self.quarantine(key, kind, &msg).await;
                Ok(None)
            }
            Err(e) => {
                self.store_failure("read", key, &e.to_string());
                Err(e.into())
            }
        }
    }

    /// The body of `obj` (or of `range` of it, inclusive bounds), holding the
    /// integrity guarantee: a stored copy found rotten while it streams is
    /// quarantined.
    pub fn body(
        self: &Arc<Self>,
        obj: Verified,
        range: Option<(u64, u64)>,
    ) -> BoxStream<'static, std::io::Result<Bytes>> {
        let m = self.clone();
        let on_rot: crate::verify::OnRot = Arc::new(move |key, kind, msg| {
            let m = m.clone();
            tokio::spawn(async move { m.quarantine(&key, kind, &msg).await });
        });
        self.verifier.body(obj, range, on_rot)
    }

    /// Runs the fetch `fill` for `key` once, however many callers ask at
    /// the same time; every caller gets the one result. The work runs in
    /// its own task so a caller that goes away does not cancel it for the
    /// others; its [`FetchCtx`] carries the deadline (`budget` from now)
    /// and the callers still waiting (a fetch still queued when the last
    /// one leaves never starts). A recent "no upstream has it" for `key` is
    /// answered without fetching.
    async fn singleflight<F, Fut>(
        self: &Arc<Self>,
        key: &str,
        budget: Duration,
        fill: F,
    ) -> Result<(), Failure>
    where
        F: FnOnce(FetchCtx) -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>> + Send + 'static,
    {
        let joined = self.join_flight(key, budget, false, fill)?;
        let _waiting = joined.waiting;
        joined.flight.await
    }

    /// [`Mirror::singleflight`], returning the client's place in the flight
    /// instead of waiting for it; with `live`, a new flight shows its bytes
    /// to waiting clients as they arrive ([`crate::admit::Live`]).
    pub(super) fn join_flight<F, Fut>(
        self: &Arc<Self>,
        key: &str,
        budget: Duration,
        live: bool,
        fill: F,
    ) -> Result<Joined, Failure>
    where
        F: FnOnce(FetchCtx) -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>> + Send + 'static,
    {
        if let Some(f) = self.recent_not_found(key) {
            return Err(f);
        }
        let mut map = self.inflight.lock().unwrap();
        // A flight nobody waits for may be giving up: start anew.
        if let Some(f) = map.get(key).filter(|f| f.interest.wanted()) {
            self.counters.inc("singleflight_waiters", "");
            return Ok(Joined {
                flight: f.future.clone(),
                waiting: f.interest.join(),
                live: f.live.clone(),
                early: f.early.clone(),
            });
        }
        let mut ctx = FetchCtx::new(budget);
        // On shared storage no bytes go out before the commit: another
        // replica may commit different bytes first (first writer wins).
        if live && !self.recently_refused(key) && self.store.shared().is_none() {
            let interest = ctx.interest.clone();
            ctx.live = Some(Arc::new(crate::admit::Live::new(move || {
                Box::new(interest.join())
            })));
        }
        let live = ctx.live.clone();
        let early = ctx.early.clone();
        let interest = ctx.interest.clone();
        let waiting = interest.join();
        let id = FLIGHT_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let this = self.clone();
        let k = key.to_owned();
        let work = fill(ctx);
        let shown = live.clone();
        // The fetch's span: a child of the request that started it.
        let span = tracing::info_span!("fetch", object = %k);
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                // Removed however the work ends, a panic included: a
                // failed flight must not answer every later request.
                let _done = FlightDone(this.clone(), k.clone(), id, shown);
                let r = work.await;
                this.negative.note(&k, &r);
                if matches!(r, Err(Failure::Upstream(_))) {
                    this.note_refused(&k);
                }
                r
            },
            span,
        ));
        let f: Flight = async move {
            handle
                .await
                .unwrap_or_else(|e| Err(Failure::Upstream(Upstream::Task(e.to_string()))))
        }
        .boxed()
        .shared();
        map.insert(
            key.to_owned(),
            InFlight {
                id,
                future: f.clone(),
                interest,
                live: live.clone(),
                early: early.clone(),
            },
        );
        Ok(Joined {
            flight: f,
            waiting,
            live,
            early,
        })
    }

    /// Whether the last fetch of `key` failed within [`REFUSED_TTL`]: its
    /// next clients wait for the verdict (a clear error status) instead of
    /// a live stream that might be cut.
    fn recently_refused(&self, key: &str) -> bool {
        let m = self.refused.lock().unwrap();
        m.get(key).is_some_and(|at| at.elapsed() < REFUSED_TTL)
    }

    /// Notes that the fetch of `key` failed (at most [`REFUSED_KEPT`] keys
    /// are remembered; the oldest notes go first).
    fn note_refused(&self, key: &str) {
        let mut m = self.refused.lock().unwrap();
        if m.len() >= REFUSED_KEPT {
            m.retain(|_, at| at.elapsed() < REFUSED_TTL);
            if m.len() >= REFUSED_KEPT {
                m.clear();
            }
        }
        m.insert(key.to_owned(), std::time::Instant::now());
    }

    /// The recent "no upstream has it" answer for `key`, if any (counted as
    /// a `negative` cache outcome).
    fn recent_not_found(&self, key: &str) -> Option<Failure> {
        let f = self.negative.get(key)?;
        self.counters.inc("cache", "negative");
        Some(f)
    }

    /// Forgets the recent "no upstream has it" answers about the module
    /// whose escaped path is `escaped` (admin purge).
    pub fn forget_not_found(&self, escaped: &str) {
        self.negative.forget_module(escaped);
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

    /// Whether the store is writable: the result of the last write probe
    /// if it is younger than [`PROBE_INTERVAL`], else of a new one.
    /// Concurrent callers share one probe.
    pub async fn store_writable(&self) -> Probe {
        let mut last = self.probe.lock().await;
        if let Some(p) = last.as_ref().filter(|p| p.at.elapsed() < PROBE_INTERVAL) {
            return p.clone();
        }
        let number = last.as_ref().map_or(0, |p| p.number) + 1;
        if number == 1 {
            self.remove_old_probe_objects().await;
        }
        // A hung volume must not hang readiness: the probe is given up on
        // (and reported) after PROBE_TIMEOUT.
        let result = tokio::time::timeout(PROBE_TIMEOUT, self.probe_store())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "store: probe write did not finish within {} s",
                    PROBE_TIMEOUT.as_secs()
                ))
            });
        let p = Probe {
            result,
            at: std::time::Instant::now(),
            number,
        };
        *last = Some(p.clone());
        p
    }

    /// Writes and syncs a small file in the store's staging area, which is
    /// removed however the probe ends (and staging is emptied at start-up):
    /// `Err` with why the store is not writable. Nothing is committed.
    async fn probe_store(&self) -> Result<(), String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            use std::io::Write;
            let mut staged = store.stage().map_err(|e| e.to_string())?;
            let f = staged.file_mut();
            f.write_all(crate::util::now_unix().to_string().as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("store: probe write: {}", crate::util::io_cause(&e)))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Removes the probe objects earlier versions committed under
    /// `health/` (one could be left behind by a crash or a failed delete).
    async fn remove_old_probe_objects(&self) {
        for k in self.store.list("health/").await.unwrap_or_default() {
            let _ = self.store.delete(&k).await;
        }
    }

    /// The start-up pass over the stored records, in the background: counts
    /// them (the status page's usage; from then on [`Mirror::usage`] is kept
    /// up to date), builds the index feed and the cache budget's view, then
    /// enforces the budget. A pass that fails is tried again every 30 s
    /// until one succeeds (the feed answers 503 meanwhile).
    pub async fn count_usage(self: &Arc<Self>) {
        let (index, budget) = (&self.index, &self.budget);
        loop {
            let also = |k: &str, m: &crate::record::Meta| {
                index.note(k, m);
                budget.note(k, m.size, m.admitted());
            };
            match self.usage.count(self.store.as_ref(), &also).await {
                Ok(()) => {
                    index.set_loaded();
                    tracing::info!(versions = index.len(), "index feed ready");
                    self.enforce_budget().await;
                    return;
                }
                Err(e) => {
                    tracing::warn!("reading the stored records failed (tried again in 30 s): {e}")
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }

    /// Notes, for the index feed, an object another replica committed
    /// (announced by the fleet's change feed).
    pub async fn note_committed_elsewhere(&self, key: &str) {
        if let Ok(Some(m)) = self.store.meta(key).await {
            self.index.note(key, &m);
        }
    }

    /// The recorded size of `key`, if it is stored and counted in
    /// [`Mirror::usage`] (one record read, for writes only).
    async fn stored_size(&self, key: &str) -> Option<u64> {
        if !usage::counts(key) {
            return None;
        }
        self.store.meta(key).await.ok().flatten().map(|m| m.size)
    }

    /// Removes `key` from the store and every cache tier (admin purge).
    pub async fn forget(&self, key: &str) -> Result<(), crate::store::StoreError> {
        self.verifier.forget(key);
        let old = self.stored_size(key).await;
        self.store.delete(key).await?;
        self.usage.change(key, old, None);
        self.budget.forget(key);
        Ok(())
    }

    /// Notes a commit of this replica: the index feed, the cache budget
    /// (a new zip counts as served now; a pass evicts if the store is
    /// over budget).
    fn committed(self: &Arc<Self>, key: &str, meta: &crate::record::Meta) {
        self.index.note(key, meta);
        if let Some(limit) = self.budget.limit() {
            self.budget
                .note(key, meta.size, crate::util::now_unix_nanos());
            if self.usage.get().is_some_and(|(_, bytes)| bytes > limit) {
                let m = self.clone();
                tokio::spawn(async move { m.enforce_budget().await });
            }
        }
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
        self.verifier.forget(&key);
        if self
            .store
            .meta(&key)
            .await
            .map_err(Failure::from)?
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
        if self.sumdb_skips(module) {
            return None;
        }
        Some(db)
    }

    /// Whether `module` is never checked against the checksum database
    /// (GONOSUMDB, default GOPRIVATE): the go command never asks the
    /// database about it, and neither does the mirror.
    pub fn sumdb_skips(&self, module: &str) -> bool {
        !self.gonosumdb.is_empty() && gomod::glob::match_prefix_patterns(&self.gonosumdb, module)
    }
}

/// Takes a finished flight out of the in-flight map when dropped (unless
/// a newer flight for the same key has taken its place).
/// Ends a flight: forgets it, and ends its live streams (with an error
/// unless admission decided).
struct FlightDone(Arc<Mirror>, String, u64, Option<Arc<crate::admit::Live>>);

impl Drop for FlightDone {
    fn drop(&mut self) {
        if let Some(live) = &self.3 {
            live.finish();
        }
        if let Ok(mut map) = self.0.inflight.lock() {
            if map.get(&self.1).is_some_and(|f| f.id == self.2) {
                map.remove(&self.1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, PutBytes};
    use futures_util::StreamExt;

    const KEY: &str = "example.com/m/@v/v1.0.0.zip";

    /// A fetch that panics fails its callers once and is then forgotten:
    /// the next request for the same object runs a new fetch.
    #[tokio::test]
    async fn a_panicking_flight_is_forgotten() {
        let m = mirror(Arc::new(MemStore::new().unwrap()), Duration::ZERO);
        let r = m
            .singleflight(
                "example.com/m/@v/v1.0.0.zip",
                Duration::from_secs(1),
                |_| async { panic!("injected panic in a fetch") },
            )
            .await;
        assert!(
            matches!(&r, Err(Failure::Upstream(Upstream::Task(_)))),
            "{r:?}"
        );
        assert!(m.inflight.lock().unwrap().is_empty());
        let r = m
            .singleflight(
                "example.com/m/@v/v1.0.0.zip",
                Duration::from_secs(1),
                |_| async { Ok(()) },
            )
            .await;
        assert!(r.is_ok(), "{r:?}");
    }

    /// A store whose commits wait until the test lets them through.
    struct HeldCommits {
        inner: MemStore,
        open: tokio::sync::Semaphore,
    }

    #[async_trait::async_trait]
    impl Store for HeldCommits {
        async fn meta(&self, key: &str) -> crate::store::Result<Option<crate::record::Meta>> {
            self.inner.meta(key).await
        }
        async fn open(&self, key: &str) -> crate::store::Result<Option<crate::store::Opened>> {
            self.inner.open(key).await
        }
        fn stage(&self) -> crate::store::Result<crate::record::Staged> {
            self.inner.stage()
        }
        async fn put(&self, obj: crate::admit::Admitted) -> crate::store::Result<()> {
            let _through = self.open.acquire().await.unwrap();
            self.inner.put(obj).await
        }
        async fn quarantine(&self, key: &str, reason: &str) -> crate::store::Result<()> {
            self.inner.quarantine(key, reason).await
        }
        async fn delete(&self, key: &str) -> crate::store::Result<()> {
            self.inner.delete(key).await
        }
        async fn list(&self, prefix: &str) -> crate::store::Result<Vec<String>> {
            self.inner.list(prefix).await
        }
    }

    /// A cold `.info` is answered from the bytes admission checked, as soon
    /// as it decided: not after the commit (its fsyncs). The commit still
    /// happens, and a client arriving meanwhile does not fetch again.
    #[tokio::test]
    async fn a_small_object_is_answered_before_its_commit_ends() {
        let up = tempfile::tempdir().unwrap();
        let info = br#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#;
        std::fs::create_dir_all(up.path().join("example.com/m/@v")).unwrap();
        std::fs::write(up.path().join("example.com/m/@v/v1.0.0.info"), info).unwrap();
        let store = Arc::new(HeldCommits {
            inner: MemStore::new().unwrap(),
            open: tokio::sync::Semaphore::new(0),
        });
        let m = Mirror::new(
            store.clone(),
            Settings {
                chain: upstream::Chain::parse(&format!("file://{}", up.path().display())).unwrap(),
                ..Settings::offline()
            },
        )
        .unwrap();
        let key = "example.com/m/@v/v1.0.0.info";
        let answer = |m: Arc<Mirror>| async move {
            match m
                .versioned_answer("example.com/m", "v1.0.0", FileKind::Info, true, false)
                .await
                .unwrap()
            {
                Answer::Whole(v) => v,
                Answer::Live(_) => panic!("an .info is never live"),
            }
        };
        let got = tokio::time::timeout(Duration::from_secs(20), answer(m.clone()))
            .await
            .expect("answered while its commit is held");
        assert_eq!(got.bytes().unwrap().as_ref(), info);
        assert_eq!(got.outcome(), "miss");
        assert!(
            store.inner.meta(key).await.unwrap().is_none(),
            "committed already"
        );
        // A second client while the commit is held joins the same fetch.
        std::fs::remove_file(up.path().join("example.com/m/@v/v1.0.0.info")).unwrap();
        let again = tokio::time::timeout(Duration::from_secs(20), answer(m.clone()))
            .await
            .expect("answered");
        assert_eq!(again.bytes().unwrap().as_ref(), info);
        // Prefetch, healing and `verify --fix` wait for the commit.
        let waiting = tokio::spawn({
            let m = m.clone();
            async move { m.versioned("example.com/m", "v1.0.0", FileKind::Info).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "returned before the commit ended");
        store.open.add_permits(1);
        assert!(waiting.await.unwrap().is_ok());
        for _ in 0..200 {
            if store.inner.meta(key).await.unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the commit never ended");
    }

    fn mirror(store: Arc<MemStore>, reverify: Duration) -> Arc<Mirror> {
        Mirror::new(
            store,
            Settings {
                reverify_interval: reverify,
                ..Settings::offline()
            },
        )
        .unwrap()
    }

    async fn put_large(store: &MemStore) -> Vec<u8> {
        let data: Vec<u8> = (0..3 * crate::verify::SMALL_OBJECT as u32)
            .map(|i| (i % 253) as u8)
            .collect();
        let meta = crate::admit::testing::meta_of(&data, "test");
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
        assert!(obj.is_streamed() && !obj.hashes_on_the_way_out());
        let m0 = mirror(store, Duration::ZERO);
        let obj = m0
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await
            .unwrap();
        assert!(obj.hashes_on_the_way_out());
    }

    /// Admission's hash of a large object is its first verification: the
    /// first serve of the committed copy reads it once (no whole
    /// verification first, no hashing on the way out); a copy changed
    /// after the commit is verified again.
    #[tokio::test]
    async fn an_admitted_copy_is_served_without_reading_it_twice() {
        let store = Arc::new(MemStore::new().unwrap());
        let m = mirror(store.clone(), Duration::from_secs(600));
        let data: Vec<u8> = (0..3 * crate::verify::SMALL_OBJECT as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let meta = crate::admit::testing::meta_of(&data, "test");
        let obj = crate::admit::testing::admitted(KEY, store.stage().unwrap(), &data, meta.clone());
        assert!(matches!(m.commit_first(obj, "test").await, Ok(true)));
        let v = m
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await
            .unwrap();
        assert!(v.is_streamed() && !v.hashes_on_the_way_out());
        assert_eq!(collect(&m, None).await.unwrap(), (data.clone(), true));
        // Another copy under the same key (not through admission): read
        // whole and hashed on the way out as before.
        store.put_bytes(KEY, &data, &meta).await.unwrap();
        let v = m
            .versioned("example.com/m", "v1.0.0", FileKind::Zip)
            .await
            .unwrap();
        assert!(v.hashes_on_the_way_out());
    }
}
