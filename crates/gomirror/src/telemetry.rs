//! Metrics, the integrity event log, and alert webhooks.
//!
//! Every metric is documented in README.md ("Operating gomirror"). Names
//! follow Prometheus conventions; counters end in `_total`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn git_histogram() -> Histogram {
    // 4 ms .. ~17 min (a git command may run up to GOMIRROR_GIT_TIMEOUT)
    Histogram::new(exponential_buckets(0.004, 2.0, 19))
}

/// The mirror's metrics, registered in one Prometheus registry.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<Labels, Counter>,
    pub request_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub bytes_served: Family<Labels, Counter>,
    pub cache: Family<Labels, Counter>,
    pub singleflight_waiters: Counter,
    pub upstream_requests: Family<Labels, Counter>,
    pub upstream_errors: Family<Labels, Counter>,
    pub upstream_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub upstream_in_flight: Family<Labels, Gauge<i64, AtomicI64>>,
    pub upstream_queued: Family<Labels, Gauge<i64, AtomicI64>>,
    pub upstream_timeouts: Family<Labels, Counter>,
    pub fetches_abandoned: Counter,
    pub integrity_failures: Family<Labels, Counter>,
    pub quarantined: Counter,
    pub store_errors: Family<Labels, Counter>,
    pub admitted: Family<Labels, Counter>,
    pub sumdb_vouched: Family<Labels, Counter>,
    pub sumdb_unverified: Family<Labels, Counter>,
    pub sumdb_forks: Counter,
    pub sumdb_tree_size: Gauge<i64, AtomicI64>,
    pub scrub_objects_total: Gauge<i64, AtomicI64>,
    pub scrub_objects_done: Gauge<i64, AtomicI64>,
    pub scrub_bytes: Counter,
    /// Zips evicted by the cache budget, and their bytes.
    pub evictions: Counter,
    pub evicted_bytes: Counter,
    /// The cache budget in bytes (0: unbounded).
    pub cache_budget: Gauge,
    pub scrub_rotten: Counter,
    pub scrub_last_pass: Gauge<i64, AtomicI64>,
    pub events_dropped: Family<Labels, Counter>,
    pub webhook_failures: Counter,
    pub cdn_findings: Family<Labels, Counter>,
    pub cdn_fetches: Counter,
    /// Records in the own checksum database's signed tree.
    pub own_sumdb_tree_size: Gauge<i64, AtomicI64>,
    /// Versions a sync pass inside `serve` handled, by outcome.
    pub sync_versions: Family<Labels, Counter>,
    /// When the last sync pass inside `serve` ended without error.
    pub sync_last_pass: Gauge<i64, AtomicI64>,
    pub cdn_last_pass: Gauge<i64, AtomicI64>,
    pub git_commands: Family<Labels, Counter>,
    pub git_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub git_processes: Gauge<i64, AtomicI64>,
    pub git_cache_bytes: Gauge<i64, AtomicI64>,
    pub git_cache_repositories: Gauge<i64, AtomicI64>,
    pub git_evictions: Counter,
    pub direct_refused: Family<Labels, Counter>,
    pub connections_open: Gauge<i64, AtomicI64>,
    pub connections_rejected: Counter,
    pub connections_closed: Family<Labels, Counter>,
    pub accept_errors: Counter,
    pub responses_incomplete: Family<Labels, Counter>,
    pub build_info: Family<Labels, Gauge<i64, AtomicI64>>,
    pub fleet_redis_up: Gauge<i64, AtomicI64>,
    pub fleet_redis_errors: Counter,
    pub fleet_changes_received: Counter,
    pub fleet_events: Family<Labels, Counter>,
    pub bucket_up: Gauge<i64, AtomicI64>,
    pub local_tier_bytes: Gauge<i64, AtomicI64>,
    pub local_tier_budget: Gauge<i64, AtomicI64>,
    pub local_served_bucket_down: Counter,
    /// Handles of the per-request metrics, resolved once per label set.
    handles: RequestHandles,
    /// Upstream time to response headers summed (µs) and counted, for the
    /// status page's history (the histogram does not give its sum back).
    pub upstream_micros: AtomicU64,
    pub upstream_timed: AtomicU64,
    /// CDN canary findings per edge, for the status page's history.
    pub cdn_findings_by_edge: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Handles of the per-request metrics by label set: looking a label set up
/// in a metric family hashes and allocates its labels, too much for every
/// request; a handle shares the family's value, so counting through it is
/// counting in the family. A label set appears in the exposition when it is
/// first counted, as through the family.
#[derive(Default)]
struct RequestHandles {
    requests: Mutex<HashMap<(&'static str, u16), Counter>>,
    duration: Mutex<HashMap<&'static str, Histogram>>,
    served: Mutex<HashMap<&'static str, Counter>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("gomirror");
        let m = Metrics {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            bytes_served: Family::default(),
            cache: Family::default(),
            singleflight_waiters: Counter::default(),
            upstream_requests: Family::default(),
            upstream_errors: Family::default(),
            upstream_duration: Family::new_with_constructor(latency_histogram),
            upstream_in_flight: Family::default(),
            upstream_queued: Family::default(),
            upstream_timeouts: Family::default(),
            fetches_abandoned: Counter::default(),
            integrity_failures: Family::default(),
            quarantined: Counter::default(),
            store_errors: Family::default(),
            admitted: Family::default(),
            sumdb_vouched: Family::default(),
            sumdb_unverified: Family::default(),
            sumdb_forks: Counter::default(),
            sumdb_tree_size: Gauge::default(),
            scrub_objects_total: Gauge::default(),
            scrub_objects_done: Gauge::default(),
            scrub_bytes: Counter::default(),
            evictions: Counter::default(),
            evicted_bytes: Counter::default(),
            cache_budget: Gauge::default(),
            scrub_rotten: Counter::default(),
            scrub_last_pass: Gauge::default(),
            events_dropped: Family::default(),
            webhook_failures: Counter::default(),
            cdn_findings: Family::default(),
            cdn_fetches: Counter::default(),
            own_sumdb_tree_size: Gauge::default(),
            sync_versions: Family::default(),
            sync_last_pass: Gauge::default(),
            cdn_last_pass: Gauge::default(),
            git_commands: Family::default(),
            git_duration: Family::new_with_constructor(git_histogram),
            git_processes: Gauge::default(),
            git_cache_bytes: Gauge::default(),
            git_cache_repositories: Gauge::default(),
            git_evictions: Counter::default(),
            direct_refused: Family::default(),
            connections_open: Gauge::default(),
            connections_rejected: Counter::default(),
            connections_closed: Family::default(),
            accept_errors: Counter::default(),
            responses_incomplete: Family::default(),
            build_info: Family::default(),
            fleet_redis_up: Gauge::default(),
            fleet_redis_errors: Counter::default(),
            fleet_changes_received: Counter::default(),
            fleet_events: Family::default(),
            bucket_up: Gauge::default(),
            local_tier_bytes: Gauge::default(),
            local_tier_budget: Gauge::default(),
            local_served_bucket_down: Counter::default(),
            handles: RequestHandles::default(),
            upstream_micros: AtomicU64::new(0),
            upstream_timed: AtomicU64::new(0),
            cdn_findings_by_edge: Mutex::default(),
            registry: Registry::default(),
        };
        r.register(
            "requests",
            "HTTP requests by endpoint kind and status",
            m.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "HTTP request latency by endpoint kind",
            m.request_duration.clone(),
        );
        r.register(
            "served_bytes",
            "Response body bytes by endpoint kind",
            m.bytes_served.clone(),
        );
        r.register(
            "cache_requests",
            "Cache outcomes: hit, miss, stale",
            m.cache.clone(),
        );
        r.register(
            "singleflight_waiters",
            "Requests that waited on another request's upstream fetch",
            m.singleflight_waiters.clone(),
        );
        r.register(
            "upstream_requests",
            "Requests sent to each upstream",
            m.upstream_requests.clone(),
        );
        r.register(
            "upstream_errors",
            "Failed upstream requests (transport, 5xx, timeouts) per upstream",
            m.upstream_errors.clone(),
        );
        r.register(
            "upstream_request_duration_seconds",
            "Upstream time to response headers per upstream",
            m.upstream_duration.clone(),
        );
        r.register(
            "upstream_fetches_in_flight",
            "Requests to each upstream in flight now (bounded by GOMIRROR_UPSTREAM_CONCURRENCY)",
            m.upstream_in_flight.clone(),
        );
        r.register(
            "upstream_fetches_queued",
            "Requests to each upstream waiting for their turn now",
            m.upstream_queued.clone(),
        );
        r.register(
            "upstream_timeouts",
            "Fetches cut off at their total deadline, by the upstream being asked then",
            m.upstream_timeouts.clone(),
        );
        r.register(
            "upstream_fetches_abandoned",
            "Queued fetches dropped before they started because every client waiting for them went away",
            m.fetches_abandoned.clone(),
        );
        r.register("integrity_failures", "Integrity failures by kind and by source (an upstream, the store, the checksum database, a CDN edge)", m.integrity_failures.clone());
        r.register(
            "store_errors",
            "Failures of the mirror's own store by operation (stage, read, write, ...): a full disk or a broken volume, never an upstream's fault",
            m.store_errors.clone(),
        );
        r.register(
            "quarantined_objects",
            "Objects taken out of service",
            m.quarantined.clone(),
        );
        r.register(
            "admitted_objects",
            "Objects admitted into the cache by file kind",
            m.admitted.clone(),
        );
        r.register(
            "sumdb_vouched",
            "Objects the checksum database vouched for at admission",
            m.sumdb_vouched.clone(),
        );
        r.register(
            "sumdb_unverified",
            "Objects admitted unverified (database unreachable, warn mode)",
            m.sumdb_unverified.clone(),
        );
        r.register(
            "sumdb_forks",
            "Checksum-database tree heads refused as inconsistent with a verified one",
            m.sumdb_forks.clone(),
        );
        r.register(
            "sumdb_verified_tree_size",
            "Size of the latest checksum-database tree verified",
            m.sumdb_tree_size.clone(),
        );
        r.register(
            "scrub_objects",
            "Objects in the current scrub pass",
            m.scrub_objects_total.clone(),
        );
        r.register(
            "scrub_objects_done",
            "Objects verified so far in the current scrub pass",
            m.scrub_objects_done.clone(),
        );
        r.register(
            "scrub_bytes",
            "Bytes re-verified by the scrubber",
            m.scrub_bytes.clone(),
        );
        r.register(
            "evictions",
            "Zips evicted because the store was over its budget (GOMIRROR_CACHE_SIZE)",
            m.evictions.clone(),
        );
        r.register(
            "evicted_bytes",
            "Bytes of the zips evicted by the cache budget",
            m.evicted_bytes.clone(),
        );
        r.register(
            "cache_budget_bytes",
            "Bytes the store may hold (GOMIRROR_CACHE_SIZE; 0: unbounded)",
            m.cache_budget.clone(),
        );
        r.register(
            "scrub_rotten",
            "Rotten objects found by the scrubber",
            m.scrub_rotten.clone(),
        );
        r.register(
            "scrub_last_pass_timestamp_seconds",
            "When the last complete scrub pass finished",
            m.scrub_last_pass.clone(),
        );
        r.register(
            "events_dropped",
            "Events not sent to the alert webhooks by kind and source: held back by the alert budget or a full queue (each window's count is sent in a `suppressed` summary event)",
            m.events_dropped.clone(),
        );
        r.register(
            "webhook_failures",
            "Alert webhook deliveries that failed after retries",
            m.webhook_failures.clone(),
        );
        r.register(
            "cdn_findings",
            "Objects the CDN canary found served wrong, by edge and kind",
            m.cdn_findings.clone(),
        );
        r.register(
            "cdn_fetches",
            "Objects the CDN canary fetched through the CDN (each edge's fetch counted)",
            m.cdn_fetches.clone(),
        );
        r.register(
            "own_sumdb_tree_size",
            "Records in the signed tree of the mirror's own checksum database (GOMIRROR_SUMDB_NAME)",
            m.own_sumdb_tree_size.clone(),
        );
        r.register(
            "sync_versions",
            "Versions the sync loop (GOMIRROR_SYNC_FROM) handled, by outcome (fetched, cached, failed)",
            m.sync_versions.clone(),
        );
        r.register(
            "sync_last_pass_timestamp_seconds",
            "When the last sync pass (GOMIRROR_SYNC_FROM) ended without error",
            m.sync_last_pass.clone(),
        );
        r.register(
            "cdn_last_pass_timestamp_seconds",
            "When the last CDN canary pass finished (Unix time)",
            m.cdn_last_pass.clone(),
        );
        r.register(
            "git_commands",
            "git commands run by direct mode, by subcommand and result (ok, error, timeout, too_large)",
            m.git_commands.clone(),
        );
        r.register(
            "git_command_duration_seconds",
            "Run time of direct mode's git commands by subcommand",
            m.git_duration.clone(),
        );
        r.register(
            "git_processes",
            "git processes direct mode is running now",
            m.git_processes.clone(),
        );
        r.register(
            "git_cache_bytes",
            "Bytes on disk of direct mode's repository cache (known after its first clone or fetch)",
            m.git_cache_bytes.clone(),
        );
        r.register(
            "git_cache_repositories",
            "Repositories in direct mode's cache (known after its first clone or fetch)",
            m.git_cache_repositories.clone(),
        );
        r.register(
            "git_cache_evictions",
            "Repositories removed from direct mode's cache to keep within its size budget",
            m.git_evictions.clone(),
        );
        r.register(
            "direct_refused",
            "Client-chosen destinations direct mode refused to contact, by reason (loopback, private, link_local, cgnat, multicast, unspecified, reserved, not_listed, scheme, redirect)",
            m.direct_refused.clone(),
        );
        r.register(
            "connections_open",
            "Client connections open now",
            m.connections_open.clone(),
        );
        r.register(
            "connections_rejected",
            "Client connections closed at once because GOMIRROR_MAX_CONNECTIONS were open",
            m.connections_rejected.clone(),
        );
        r.register(
            "connections_closed",
            "Client connections the server closed, by reason (header_timeout, idle, drain)",
            m.connections_closed.clone(),
        );
        r.register(
            "accept_errors",
            "Failed accepts of client connections (e.g. out of file descriptors)",
            m.accept_errors.clone(),
        );
        r.register(
            "responses_incomplete",
            "Responses whose body was cut short (a reset stream, a closed connection), by endpoint kind",
            m.responses_incomplete.clone(),
        );
        r.register(
            "fleet_redis_up",
            "Whether this replica reaches the fleet's Redis and its change feed is connected (1), or not (0); absent without a fleet",
            m.fleet_redis_up.clone(),
        );
        r.register(
            "fleet_redis_errors",
            "Redis commands that failed (unreachable, timed out, or an error)",
            m.fleet_redis_errors.clone(),
        );
        r.register(
            "fleet_changes_received",
            "Changes (commits, quarantines, purges) announced by other replicas and applied here",
            m.fleet_changes_received.clone(),
        );
        r.register(
            "fleet_events",
            "What the fleet coordination did, by event (admitted_elsewhere: a replica waited for another's admission; kept_first_writer: another replica's commit stayed; uncoordinated: admitted with Redis down)",
            m.fleet_events.clone(),
        );
        r.register(
            "bucket_up",
            "Whether the shared object storage answers (1) or not (0); absent with a file store",
            m.bucket_up.clone(),
        );
        r.register(
            "local_tier_bytes",
            "Bytes of bucket objects kept on this replica's disk",
            m.local_tier_bytes.clone(),
        );
        r.register(
            "local_tier_budget_bytes",
            "The local tier's budget (GOMIRROR_LOCAL_CACHE_SIZE)",
            m.local_tier_budget.clone(),
        );
        r.register(
            "local_served_bucket_down",
            "Reads answered from the local tier because the bucket failed",
            m.local_served_bucket_down.clone(),
        );
        r.register(
            "build_info",
            "Build information (always 1)",
            m.build_info.clone(),
        );
        m.build_info
            .get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
            .set(1);
        Metrics { registry: r, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry)
            .expect("writing to a String");
        s
    }

    /// Counts a request of endpoint `kind` answered with `status` (`499`:
    /// the client went away before the response) and its time to response
    /// headers, in `gomirror_requests_total` and
    /// `gomirror_request_duration_seconds`.
    pub fn count_request(&self, kind: &'static str, status: u16, d: Duration) {
        let h = &self.handles;
        let c = h
            .requests
            .lock()
            .unwrap()
            .entry((kind, status))
            .or_insert_with(|| {
                self.requests
                    .get_or_create(&labels(&[("kind", kind), ("status", &status.to_string())]))
                    .clone()
            })
            .clone();
        c.inc();
        let hist = h
            .duration
            .lock()
            .unwrap()
            .entry(kind)
            .or_insert_with(|| {
                self.request_duration
                    .get_or_create(&labels(&[("kind", kind)]))
                    .clone()
            })
            .clone();
        hist.observe(d.as_secs_f64());
    }

    /// The `gomirror_served_bytes_total` counter of endpoint `kind`.
    pub fn served_bytes(&self, kind: &'static str) -> Counter {
        self.handles
            .served
            .lock()
            .unwrap()
            .entry(kind)
            .or_insert_with(|| {
                self.bytes_served
                    .get_or_create(&labels(&[("kind", kind)]))
                    .clone()
            })
            .clone()
    }

    /// Creates the series at 0. A counter series born at 1 hides its first
    /// event from `increase()` and `rate()` (Prometheus takes a series'
    /// first sample as its start): series whose first increment matters
    /// (an integrity failure) exist from the start.
    pub fn zero(f: &Family<Labels, Counter>, pairs: &[(&str, &str)]) {
        let _ = f.get_or_create(&labels(pairs));
    }

    pub fn inc(f: &Family<Labels, Counter>, pairs: &[(&str, &str)]) {
        f.get_or_create(&labels(pairs)).inc();
    }

    pub fn inc_by(f: &Family<Labels, Counter>, pairs: &[(&str, &str)], n: u64) {
        f.get_or_create(&labels(pairs)).inc_by(n);
    }

    /// Records an upstream's time to response headers.
    pub fn observe_upstream(&self, upstream: &str, d: Duration) {
        self.upstream_duration
            .get_or_create(&labels(&[("upstream", upstream)]))
            .observe(d.as_secs_f64());
        use std::sync::atomic::Ordering::Relaxed;
        self.upstream_micros
            .fetch_add(d.as_micros() as u64, Relaxed);
        self.upstream_timed.fetch_add(1, Relaxed);
    }

    /// Requests answered so far, all endpoints and statuses.
    pub fn requests_total(&self) -> u64 {
        let h = self.handles.requests.lock().unwrap();
        h.values().map(|c| c.get()).sum()
    }

    /// Response bytes handed to connections so far, all endpoints.
    pub fn served_total(&self) -> u64 {
        let h = self.handles.served.lock().unwrap();
        h.values().map(|c| c.get()).sum()
    }

    pub fn get(f: &Family<Labels, Counter>, pairs: &[(&str, &str)]) -> u64 {
        f.get_or_create(&labels(pairs)).get()
    }
}

/// What the protocol handler tells the request log about a response.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub module: String,
    pub version: String,
    pub cache: &'static str,
    pub upstream: String,
}

/// One integrity (or alert-worthy) event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// Sequence number, increasing.
    pub id: u64,
    /// Unix seconds of the first occurrence.
    pub time: u64,
    /// Unix seconds of the last occurrence.
    pub last: u64,
    /// `size`, `sha256`, `h1`, `zip_check`, `gomod_mismatch`, `info`,
    /// `sumdb`, `truncated`, `sumdb_fork`, `cdn`, `cdn_recheck`,
    /// `store_error` (the store itself failed), ...; and `suppressed` for a
    /// summary of events the alert budget held back.
    pub kind: String,
    /// Where the bad content came from: an upstream URL, `store`, a
    /// checksum database, a CDN edge.
    pub source: String,
    /// The object concerned (a store key or URL).
    pub object: String,
    pub message: String,
    /// How many times it happened within the de-duplication window (for a
    /// `suppressed` summary: how many events were held back).
    pub count: u64,
    /// Only on a `suppressed` summary: what was held back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// What a `suppressed` summary event reports: events of one kind from one
/// source that were recorded but not sent to the webhooks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suppressed {
    /// The kind of the events held back (the summary's `source` is theirs).
    pub kind: String,
    /// How many were held back.
    pub count: u64,
    /// The budget window they fell in, in seconds.
    pub window_seconds: u64,
    /// A few of the objects concerned (at most [`EXAMPLES`]).
    pub examples: Vec<String>,
}

/// How many objects a `suppressed` summary names.
pub const EXAMPLES: usize = 5;

/// The source of events about the mirror's own store (rot found when
/// reading or scrubbing, quarantines, `store_error`s): these are never
/// held back by the alert budget.
pub const STORE_SOURCE: &str = "store";

/// Alert settings.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// URLs that receive each new event as a JSON POST.
    pub webhooks: Vec<String>,
    /// Same (kind, source, object) within this window: counted, not re-sent.
    pub dedupe_window: Duration,
    /// At most this many deliveries per (kind, source) per `window`; the
    /// rest are held back and reported by one `suppressed` summary event
    /// when the window ends. Events about the store are never held back.
    pub per_source: u32,
    /// At most this many deliveries per `window` over every (kind, source)
    /// (events about the store and summaries not counted).
    pub total: u32,
    /// The budget window.
    pub window: Duration,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            webhooks: vec![],
            dedupe_window: Duration::from_secs(600),
            per_source: 30,
            total: 120,
            window: Duration::from_secs(60),
        }
    }
}

/// What makes two events the same: kind, source, object.
type EventKey = (String, String, String);

/// The delivery budgets: per (kind, source) and overall, per window.
/// Events about the store always pass. Time is passed in, so tests can
/// drive it.
#[derive(Debug)]
struct Budgets {
    per_source: u32,
    total: u32,
    window: Duration,
    /// (kind, source) → its current window.
    pairs: HashMap<(String, String), PairWindow>,
    /// The overall window: its start and the deliveries in it.
    overall: Option<(Instant, u32)>,
}

/// The window of (`kind`, `source`), opened at `now` if there is none.
fn pair_window<'a>(
    pairs: &'a mut HashMap<(String, String), PairWindow>,
    kind: &str,
    source: &str,
    now: Instant,
) -> &'a mut PairWindow {
    pairs
        .entry((kind.to_owned(), source.to_owned()))
        .or_insert_with(|| PairWindow {
            start: now,
            sent: 0,
            held: 0,
            examples: vec![],
        })
}

/// One (kind, source)'s budget window.
#[derive(Debug)]
struct PairWindow {
    start: Instant,
    sent: u32,
    held: u64,
    examples: Vec<String>,
}

impl PairWindow {
    fn hold(&mut self, object: &str) {
        self.held += 1;
        if self.examples.len() < EXAMPLES && !self.examples.iter().any(|e| e == object) {
            self.examples.push(object.to_owned());
        }
    }
}

/// A window that held events back: one `suppressed` summary.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    source: String,
    suppressed: Suppressed,
}

impl Budgets {
    fn new(cfg: &AlertConfig) -> Budgets {
        Budgets {
            per_source: cfg.per_source,
            total: cfg.total,
            window: cfg.window,
            pairs: HashMap::new(),
            overall: None,
        }
    }

    /// Whether an event of `kind` from `source` about `object` may be
    /// delivered `now` (if not, it is counted for its window's summary),
    /// and the summaries of the windows that ended by `now`.
    fn allow(
        &mut self,
        kind: &str,
        source: &str,
        object: &str,
        now: Instant,
    ) -> (bool, Vec<Summary>) {
        let ended = self.due(now);
        if source == STORE_SOURCE {
            return (true, ended);
        }
        let window = self.window;
        if self
            .overall
            .is_none_or(|(start, _)| now.duration_since(start) >= window)
        {
            self.overall = Some((now, 0));
        }
        let (_, overall) = self.overall.as_mut().expect("set above");
        let w = pair_window(&mut self.pairs, kind, source, now);
        let ok = w.sent < self.per_source && *overall < self.total;
        if ok {
            w.sent += 1;
            *overall += 1;
        } else {
            w.hold(object);
        }
        (ok, ended)
    }

    /// Counts an event that could not be sent for another reason (a full
    /// queue) in its window's summary.
    fn hold(&mut self, kind: &str, source: &str, object: &str, now: Instant) {
        pair_window(&mut self.pairs, kind, source, now).hold(object);
    }

    /// Closes the windows that ended by `now`: the summaries of those that
    /// held events back.
    fn due(&mut self, now: Instant) -> Vec<Summary> {
        let window = self.window;
        self.close(|w| now.duration_since(w.start) >= window)
    }

    /// Closes every window now (at exit).
    fn drain(&mut self) -> Vec<Summary> {
        self.close(|_| true)
    }

    fn close(&mut self, ended: impl Fn(&PairWindow) -> bool) -> Vec<Summary> {
        let window_seconds = self.window.as_secs();
        let mut out = vec![];
        self.pairs.retain(|(kind, source), w| {
            if !ended(w) {
                return true;
            }
            if w.held > 0 {
                out.push(Summary {
                    source: source.clone(),
                    suppressed: Suppressed {
                        kind: kind.clone(),
                        count: w.held,
                        window_seconds,
                        examples: std::mem::take(&mut w.examples),
                    },
                });
            }
            false
        });
        out.sort_by(|a, b| (&a.suppressed.kind, &a.source).cmp(&(&b.suppressed.kind, &b.source)));
        out
    }
}

/// Most events waiting for delivery in the normal lane; past it, new
/// events are held back (and summarised).
const NORMAL_LANE: usize = 256;
/// Most events waiting in the urgent lane (events about the store and
/// summaries), delivered before any other: a last resort against a
/// receiver that is down for long; past it, store events are summarised.
const URGENT_LANE: usize = 10_000;

/// The delivery queue: two bounded lanes, the urgent one first.
#[derive(Default)]
struct Queue {
    lanes: Mutex<Lanes>,
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct Lanes {
    urgent: VecDeque<Event>,
    normal: VecDeque<Event>,
    /// The delivery task is sending an event.
    busy: bool,
}

impl Queue {
    /// Queues `ev` (in the urgent lane if `urgent`); `false` when its lane
    /// is full.
    fn push(&self, ev: Event, urgent: bool) -> bool {
        let mut l = self.lanes.lock().unwrap();
        let (lane, cap) = if urgent {
            (&mut l.urgent, URGENT_LANE)
        } else {
            (&mut l.normal, NORMAL_LANE)
        };
        if lane.len() >= cap {
            return false;
        }
        lane.push_back(ev);
        drop(l);
        self.wake.notify_one();
        true
    }

    /// The next event to send, urgent ones first.
    fn pop(&self) -> Option<Event> {
        let mut l = self.lanes.lock().unwrap();
        let ev = l.urgent.pop_front().or_else(|| l.normal.pop_front());
        l.busy = ev.is_some();
        ev
    }

    /// Nothing queued or being sent.
    fn idle(&self) -> bool {
        let l = self.lanes.lock().unwrap();
        l.urgent.is_empty() && l.normal.is_empty() && !l.busy
    }
}

/// A bounded in-memory log of events, de-duplicated, fanned out to
/// webhooks with retries, within delivery budgets per (kind, source) and
/// overall (events about the store always go out first), with a summary of
/// what the budgets held back.
pub struct Events {
    log: Mutex<VecDeque<Event>>,
    capacity: usize,
    /// (kind, source, object) → when first seen in this window, event id.
    index: Mutex<HashMap<EventKey, (Instant, u64)>>,
    next_id: AtomicU64,
    cfg: AlertConfig,
    budgets: Mutex<Budgets>,
    /// `None` without webhooks.
    queue: Option<std::sync::Arc<Queue>>,
    pub delivered: AtomicU64,
    /// Also given every new event (the fleet's shared log).
    sink: std::sync::OnceLock<EventSink>,
}

/// Receives every new event (see [`Events::set_sink`]).
pub type EventSink = std::sync::Arc<dyn Fn(&Event) + Send + Sync>;

impl Events {
    /// A log holding the last `capacity` events; with webhooks configured,
    /// spawns the delivery task and the task that sends the summaries of
    /// ended budget windows (call inside a tokio runtime).
    pub fn new(
        capacity: usize,
        cfg: AlertConfig,
        metrics: std::sync::Arc<Metrics>,
    ) -> std::sync::Arc<Events> {
        let queue = (!cfg.webhooks.is_empty()).then(|| std::sync::Arc::new(Queue::default()));
        let ev = std::sync::Arc::new(Events {
            log: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            index: Mutex::default(),
            next_id: AtomicU64::new(1),
            budgets: Mutex::new(Budgets::new(&cfg)),
            cfg: cfg.clone(),
            queue: queue.clone(),
            delivered: AtomicU64::new(0),
            sink: std::sync::OnceLock::new(),
        });
        if let Some(q) = queue {
            tokio::spawn(deliver(q, cfg.webhooks.clone(), metrics, ev.clone()));
            let weak = std::sync::Arc::downgrade(&ev);
            let tick = (cfg.window / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(tick).await;
                    let Some(ev) = weak.upgrade() else { return };
                    let ended = ev.budgets.lock().unwrap().due(Instant::now());
                    for s in ended {
                        ev.summarise(s);
                    }
                }
            });
        }
        ev
    }

    fn push_log(&self, mut ev: Event) -> Event {
        ev.id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut log = self.log.lock().unwrap();
        if log.len() == self.capacity {
            log.pop_front();
        }
        log.push_back(ev.clone());
        drop(log);
        if let Some(sink) = self.sink.get() {
            sink(&ev);
        }
        ev
    }

    /// Gives every new event to `sink` too (once: later calls are
    /// ignored).
    pub fn set_sink(&self, sink: EventSink) {
        let _ = self.sink.set(sink);
    }

    /// Records an event; a repeat within the window only bumps the count of
    /// the first. New events go to the webhooks within the budgets; events
    /// about the store always do.
    pub fn record(&self, kind: &str, source: &str, object: &str, message: &str, metrics: &Metrics) {
        let now = crate::util::now_unix();
        let key = (kind.to_owned(), source.to_owned(), object.to_owned());
        let ev = {
            let mut index = self.index.lock().unwrap();
            if let Some((at, id)) = index.get(&key) {
                if at.elapsed() < self.cfg.dedupe_window {
                    // It may have scrolled out of the log already.
                    let mut log = self.log.lock().unwrap();
                    if let Some(e) = log.iter_mut().rev().find(|e| e.id == *id) {
                        e.count += 1;
                        e.last = now;
                    }
                    return;
                }
            }
            let ev = self.push_log(Event {
                id: 0,
                time: now,
                last: now,
                kind: kind.to_owned(),
                source: source.to_owned(),
                object: object.to_owned(),
                message: message.to_owned(),
                count: 1,
                suppressed: None,
            });
            index.insert(key, (Instant::now(), ev.id));
            if index.len() > 4 * self.capacity {
                let window = self.cfg.dedupe_window;
                index.retain(|_, (at, _)| at.elapsed() < window);
            }
            ev
        };
        let Some(queue) = &self.queue else { return };
        let at = Instant::now();
        let (ok, ended) = self.budgets.lock().unwrap().allow(kind, source, object, at);
        for s in ended {
            self.summarise(s);
        }
        let dropped = || {
            Metrics::inc(
                &metrics.events_dropped,
                &[("kind", kind), ("source", source)],
            )
        };
        if !ok {
            dropped();
            return;
        }
        if !queue.push(ev, source == STORE_SOURCE) {
            dropped();
            self.budgets.lock().unwrap().hold(kind, source, object, at);
            tracing::warn!(kind, source, object, "alert queue full: event held back");
        }
    }

    /// Logs and queues the summary of a window that held events back.
    fn summarise(&self, s: Summary) {
        let now = crate::util::now_unix();
        let x = &s.suppressed;
        let message = format!(
            "{} {} events from {} were not sent in the last {} s (alert budget: {} per kind and source, {} in all); examples: {}",
            x.count,
            x.kind,
            s.source,
            x.window_seconds,
            self.cfg.per_source,
            self.cfg.total,
            x.examples.join(", ")
        );
        tracing::warn!(
            kind = x.kind,
            source = s.source,
            count = x.count,
            "alerts suppressed"
        );
        let ev = self.push_log(Event {
            id: 0,
            time: now,
            last: now,
            kind: "suppressed".to_owned(),
            source: s.source,
            object: String::new(),
            message,
            count: x.count,
            suppressed: Some(s.suppressed),
        });
        if let Some(q) = &self.queue {
            if !q.push(ev, true) {
                tracing::error!("alert queue full: a suppression summary was not sent");
            }
        }
    }

    /// Sends the summaries of every open budget window now, then waits (at
    /// most `limit`) until every queued event has been delivered or given
    /// up on (before exiting).
    pub async fn flush(&self, limit: Duration) {
        let Some(q) = &self.queue else { return };
        let open = self.budgets.lock().unwrap().drain();
        for s in open {
            self.summarise(s);
        }
        let start = Instant::now();
        while !q.idle() && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The most recent events, newest first.
    pub fn recent(&self, n: usize) -> Vec<Event> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(n)
            .cloned()
            .collect()
    }
}

/// Delivers queued events to every webhook, urgent ones first: JSON POST,
/// up to 4 attempts with exponential backoff and jitter.
async fn deliver(
    queue: std::sync::Arc<Queue>,
    urls: Vec<String>,
    metrics: std::sync::Arc<Metrics>,
    events: std::sync::Arc<Events>,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    else {
        return;
    };
    loop {
        let Some(ev) = queue.pop() else {
            queue.wake.notified().await;
            continue;
        };
        let body = serde_json::to_vec(&ev).expect("events serialise");
        for url in &urls {
            let mut ok = false;
            for attempt in 0..4u32 {
                if attempt > 0 {
                    tokio::time::sleep(crate::util::backoff(attempt)).await;
                }
                let r = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                if matches!(&r, Ok(resp) if resp.status().is_success()) {
                    ok = true;
                    break;
                }
            }
            if ok {
                events
                    .delivered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            } else {
                metrics.webhook_failures.inc();
                tracing::warn!(url, "alert webhook delivery failed after retries");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(per_source: u32, total: u32) -> AlertConfig {
        AlertConfig {
            webhooks: vec![],
            dedupe_window: Duration::from_secs(600),
            per_source,
            total,
            window: Duration::from_secs(60),
        }
    }

    /// Past its budget a (kind, source) is held back, and the window's
    /// end yields one summary with the count; other pairs keep their own
    /// budget.
    #[test]
    fn budget_per_kind_and_source_with_a_summary() {
        let mut b = Budgets::new(&cfg(3, 100));
        let t0 = Instant::now();
        let sent = (0..10)
            .filter(|i| b.allow("size", "https://up", &format!("m{i}"), t0).0)
            .count();
        assert_eq!(sent, 3);
        // Another kind from the same source, and the same kind from another
        // source, have budgets of their own.
        assert!(b.allow("h1", "https://up", "x", t0).0);
        assert!(b.allow("size", "https://other", "x", t0).0);
        assert!(b.due(t0 + Duration::from_secs(59)).is_empty());
        let (ok, ended) = b.allow("size", "https://up", "late", t0 + Duration::from_secs(61));
        assert!(ok, "a new window has a new budget");
        assert_eq!(
            ended,
            vec![Summary {
                source: "https://up".into(),
                suppressed: Suppressed {
                    kind: "size".into(),
                    count: 7,
                    window_seconds: 60,
                    examples: ["m3", "m4", "m5", "m6", "m7"].map(String::from).to_vec(),
                },
            }]
        );
        // Pairs that held nothing back end without a summary.
        assert!(b.due(t0 + Duration::from_secs(200)).is_empty());
        assert!(b.pairs.is_empty());
    }

    /// The overall cap holds back every pair once reached, except events
    /// about the store, which always pass.
    #[test]
    fn overall_cap_never_holds_back_store_events() {
        let mut b = Budgets::new(&cfg(30, 5));
        let t0 = Instant::now();
        let mut sent = 0;
        for s in 0..4 {
            for i in 0..10 {
                if b.allow("size", &format!("up{s}"), &i.to_string(), t0).0 {
                    sent += 1;
                }
            }
        }
        assert_eq!(sent, 5);
        for i in 0..1000 {
            assert!(b.allow("sha256", STORE_SOURCE, &i.to_string(), t0).0);
        }
        let sums = b.due(t0 + Duration::from_secs(60));
        let held: u64 = sums.iter().map(|s| s.suppressed.count).sum();
        assert_eq!(held, 35);
        assert!(sums.iter().all(|s| s.source != STORE_SOURCE));
        // A full queue's events are summarised too.
        b.hold("sha256", STORE_SOURCE, "k", t0);
        let sums = b.drain();
        assert_eq!(sums.len(), 1);
        assert_eq!(
            (sums[0].source.as_str(), sums[0].suppressed.count),
            ("store", 1)
        );
    }

    /// End to end inside the process: a flood from one source is limited,
    /// a store event behind it is queued in the urgent lane (sent first),
    /// and the flush at exit queues the summary; drops are counted per
    /// (kind, source).
    #[tokio::test]
    async fn flood_is_limited_and_store_events_go_first() {
        let metrics = std::sync::Arc::new(Metrics::new());
        let mut c = cfg(30, 120);
        // Nothing listens there: deliveries fail, which does not matter here.
        c.webhooks = vec!["http://127.0.0.1:9/hook".into()];
        let ev = Events::new(1000, c, metrics.clone());
        for i in 0..100 {
            ev.record("size", "https://up", &format!("m{i}"), "too big", &metrics);
        }
        ev.record("sha256", STORE_SOURCE, "k", "rot", &metrics);
        let q = ev.queue.as_ref().unwrap();
        {
            let l = q.lanes.lock().unwrap();
            assert_eq!(l.urgent.len(), 1);
            assert_eq!(l.urgent[0].kind, "sha256");
            // 30 sent or queued: the delivery task may have taken one.
            assert!(l.normal.len() + usize::from(l.busy) <= 30);
        }
        assert_eq!(
            Metrics::get(
                &metrics.events_dropped,
                &[("kind", "size"), ("source", "https://up")]
            ),
            70
        );
        let open = ev.budgets.lock().unwrap().drain();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].suppressed.count, 70);
        ev.summarise(open.into_iter().next().unwrap());
        let recent = ev.recent(1);
        assert_eq!(recent[0].kind, "suppressed");
        assert_eq!(recent[0].count, 70);
        assert!(recent[0]
            .message
            .starts_with("70 size events from https://up"));
    }

    /// The normal lane is bounded; the urgent lane is served first.
    #[test]
    fn queue_lanes() {
        let q = Queue::default();
        let ev = |kind: &str| Event {
            id: 0,
            time: 0,
            last: 0,
            kind: kind.into(),
            source: String::new(),
            object: String::new(),
            message: String::new(),
            count: 1,
            suppressed: None,
        };
        for _ in 0..NORMAL_LANE {
            assert!(q.push(ev("size"), false));
        }
        assert!(!q.push(ev("size"), false));
        assert!(q.push(ev("sha256"), true));
        assert_eq!(q.pop().unwrap().kind, "sha256");
        assert!(!q.idle());
    }
}
