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
    pub scrub_rotten: Counter,
    pub scrub_last_pass: Gauge<i64, AtomicI64>,
    pub events_dropped: Counter,
    pub webhook_failures: Counter,
    pub cdn_findings: Family<Labels, Counter>,
    pub git_commands: Family<Labels, Counter>,
    pub git_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub git_processes: Gauge<i64, AtomicI64>,
    pub git_cache_bytes: Gauge<i64, AtomicI64>,
    pub git_cache_repositories: Gauge<i64, AtomicI64>,
    pub git_evictions: Counter,
    pub build_info: Family<Labels, Gauge<i64, AtomicI64>>,
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
            scrub_rotten: Counter::default(),
            scrub_last_pass: Gauge::default(),
            events_dropped: Counter::default(),
            webhook_failures: Counter::default(),
            cdn_findings: Family::default(),
            git_commands: Family::default(),
            git_duration: Family::new_with_constructor(git_histogram),
            git_processes: Gauge::default(),
            git_cache_bytes: Gauge::default(),
            git_cache_repositories: Gauge::default(),
            git_evictions: Counter::default(),
            build_info: Family::default(),
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
            "Alert webhook deliveries dropped by rate limiting",
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

    pub fn inc(f: &Family<Labels, Counter>, pairs: &[(&str, &str)]) {
        f.get_or_create(&labels(pairs)).inc();
    }

    /// Records an upstream's time to response headers.
    pub fn observe_upstream(&self, upstream: &str, d: Duration) {
        self.upstream_duration
            .get_or_create(&labels(&[("upstream", upstream)]))
            .observe(d.as_secs_f64());
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
    /// `sumdb`, `truncated`, `sumdb_fork`, `cdn`, `cdn_recheck`, ...
    pub kind: String,
    /// Where the bad content came from: an upstream URL, `store`, a
    /// checksum database, a CDN edge.
    pub source: String,
    /// The object concerned (a store key or URL).
    pub object: String,
    pub message: String,
    /// How many times it happened within the de-duplication window.
    pub count: u64,
}

/// Alert settings.
#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    /// URLs that receive each new event as a JSON POST.
    pub webhooks: Vec<String>,
    /// Same (kind, source, object) within this window: counted, not re-sent.
    pub dedupe_window: Duration,
    /// At most this many webhook deliveries per minute (per URL).
    pub max_per_minute: u32,
}

/// What makes two events the same: kind, source, object.
type EventKey = (String, String, String);

/// A bounded in-memory log of events, de-duplicated, fanned out to
/// webhooks with retries and a rate limit.
pub struct Events {
    log: Mutex<VecDeque<Event>>,
    capacity: usize,
    /// (kind, source, object) → when first seen in this window, event id.
    index: Mutex<HashMap<EventKey, (Instant, u64)>>,
    next_id: AtomicU64,
    cfg: AlertConfig,
    sent_this_minute: Mutex<(Instant, u32)>,
    tx: Option<tokio::sync::mpsc::Sender<Event>>,
    pub delivered: AtomicU64,
}

impl Events {
    /// A log holding the last `capacity` events; with webhooks configured,
    /// spawns the delivery task (call inside a tokio runtime).
    pub fn new(
        capacity: usize,
        cfg: AlertConfig,
        metrics: std::sync::Arc<Metrics>,
    ) -> std::sync::Arc<Events> {
        let (tx, rx) = if cfg.webhooks.is_empty() {
            (None, None)
        } else {
            let (tx, rx) = tokio::sync::mpsc::channel(256);
            (Some(tx), Some(rx))
        };
        let ev = std::sync::Arc::new(Events {
            log: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            index: Mutex::default(),
            next_id: AtomicU64::new(1),
            cfg: cfg.clone(),
            sent_this_minute: Mutex::new((Instant::now(), 0)),
            tx,
            delivered: AtomicU64::new(0),
        });
        if let Some(rx) = rx {
            tokio::spawn(deliver(rx, cfg.webhooks, metrics, ev.clone()));
        }
        ev
    }

    /// Records an event; a repeat within the window only bumps the count of
    /// the first. New events go to the webhooks, within the rate limit.
    pub fn record(&self, kind: &str, source: &str, object: &str, message: &str, metrics: &Metrics) {
        let now = crate::util::now_unix();
        let key = (kind.to_owned(), source.to_owned(), object.to_owned());
        {
            let mut index = self.index.lock().unwrap();
            let mut log = self.log.lock().unwrap();
            if let Some((at, id)) = index.get(&key) {
                if at.elapsed() < self.cfg.dedupe_window {
                    // It may have scrolled out of the log already.
                    if let Some(e) = log.iter_mut().rev().find(|e| e.id == *id) {
                        e.count += 1;
                        e.last = now;
                    }
                    return;
                }
            }
            let id = self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            index.insert(key, (Instant::now(), id));
            if index.len() > 4 * self.capacity {
                let window = self.cfg.dedupe_window;
                index.retain(|_, (at, _)| at.elapsed() < window);
            }
            if log.len() == self.capacity {
                log.pop_front();
            }
            log.push_back(Event {
                id,
                time: now,
                last: now,
                kind: kind.to_owned(),
                source: source.to_owned(),
                object: object.to_owned(),
                message: message.to_owned(),
                count: 1,
            });
        }
        let Some(tx) = &self.tx else { return };
        {
            let mut s = self.sent_this_minute.lock().unwrap();
            if s.0.elapsed() >= Duration::from_secs(60) {
                *s = (Instant::now(), 0);
            }
            if s.1 >= self.cfg.max_per_minute {
                metrics.events_dropped.inc();
                return;
            }
            s.1 += 1;
        }
        let ev = self
            .log
            .lock()
            .unwrap()
            .back()
            .cloned()
            .expect("just pushed");
        if tx.try_send(ev).is_err() {
            metrics.events_dropped.inc();
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

/// Delivers events to every webhook: JSON POST, up to 4 attempts with
/// exponential backoff and jitter.
async fn deliver(
    mut rx: tokio::sync::mpsc::Receiver<Event>,
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
    while let Some(ev) = rx.recv().await {
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
