//! Replicas of one mirror, coordinated through Redis.
//!
//! Redis holds nothing the mirror cannot lose: the objects and their
//! records are in the shared bucket ([`crate::store::BucketStore`]), whose
//! commit rule keeps the first writer without Redis. Redis makes the fleet
//! efficient and prompt:
//!
//! * **leases** (`SET NX PX` with a fencing number, refreshed while held,
//!   released by compare-and-delete): one replica fetches a missing
//!   version while the others wait for its record (singleflight across
//!   replicas); the scrubber and the CDN canary run on one replica at a
//!   time;
//! * **the change feed** (pub/sub): each replica announces the keys it
//!   commits, quarantines or purges; the others drop their local and
//!   memory copies at once ([`feed`]);
//! * **shared state**: the fleet's event log (`/-/events` from any
//!   replica) and the scrubber's progress.
//!
//! When Redis is down, every call here fails fast (a second at most) and
//! says so: replicas keep serving, admit with local singleflight only, and
//! check records in the bucket on every read; coordination resumes when
//! Redis answers again, without a restart.

mod feed;
mod lease;

pub use lease::{Lease, LeaseOutcome};

use crate::store::Coordination;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one Redis command may take before Redis counts as down.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Events kept in the fleet's shared log.
const EVENTS_KEPT: isize = 1000;

/// Runs `pass` once per `interval` across the fleet: the replica holding
/// the lease `name` runs it when the fleet's last pass (`<name>:last_pass`)
/// is older than `interval`; the others wait. A pass returns whether it
/// completed (an incomplete one is run again by the next holder). Without
/// Redis no pass starts. Never returns.
pub async fn once_per_interval<F, Fut>(
    fleet: &Arc<Fleet>,
    name: &str,
    interval: Duration,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let tick = (interval / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let last_key = format!("{name}:last_pass");
    let due = |v: &Option<String>| {
        let last: u64 = v.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
        crate::util::now_millis().saturating_sub(last) >= interval.as_millis() as u64
    };
    loop {
        match fleet.get(&last_key).await {
            Ok(v) if due(&v) => {}
            _ => {
                tokio::time::sleep(tick).await;
                continue;
            }
        }
        let LeaseOutcome::Acquired(lease) = fleet.lease(name, Duration::from_secs(30)).await else {
            tokio::time::sleep(tick).await;
            continue;
        };
        // Another replica may have finished a pass meanwhile.
        if !matches!(fleet.get(&last_key).await, Ok(v) if due(&v)) {
            continue;
        }
        if pass().await && !lease.lost() {
            let _ = fleet
                .set(&last_key, &crate::util::now_millis().to_string())
                .await;
        }
        drop(lease);
        tokio::time::sleep(tick).await;
    }
}

/// Copies every new event of this replica into the fleet's shared log
/// (with the replica's name), so `/-/events` on any replica shows them.
pub fn share_events(fleet: &Arc<Fleet>, events: &crate::telemetry::Events) {
    let weak = Arc::downgrade(fleet);
    events.set_sink(Arc::new(move |ev: &crate::telemetry::Event| {
        let Some(f) = weak.upgrade() else { return };
        let mut v = serde_json::to_value(ev).unwrap_or_default();
        v["replica"] = serde_json::Value::String(f.cfg.replica.clone());
        tokio::spawn(async move {
            if let Err(e) = f.push_event(v).await {
                tracing::debug!("fleet event log: {e}");
            }
        });
    }));
}

/// Settings of a fleet replica.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `redis://host:port/db` (or `rediss://`).
    pub redis_url: String,
    /// Prefix of every Redis key and channel of this mirror (replicas of
    /// one mirror share it; two mirrors on one Redis must not).
    pub namespace: String,
    /// This replica's name (in events and logs).
    pub replica: String,
    /// How long an admission lease lasts without being refreshed.
    pub lease_ttl: Duration,
}

/// Called with each key another replica changed.
pub type OnChange = Arc<dyn Fn(&str) + Send + Sync>;

/// A replica's connection to the fleet.
pub struct Fleet {
    cfg: FleetConfig,
    client: redis::Client,
    conn: ConnectionManager,
    coord: Arc<Coordination>,
    /// Whether the last command (or the change feed) reached Redis.
    up: AtomicBool,
    last_error: Mutex<Option<String>>,
    on_change: Mutex<Vec<OnChange>>,
    /// Commands that failed (Redis unreachable or erroring).
    pub errors: AtomicU64,
    /// Changes announced by other replicas and applied here.
    pub changes_received: AtomicU64,
}

/// Redis could not be reached (or answered with an error).
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct Unavailable(pub String);

impl Fleet {
    /// A replica of the fleet described by `cfg`; `coord` is the store's
    /// view of the change feed. Connects lazily: Redis may be down at
    /// start. Call [`Fleet::start`] inside a runtime.
    pub fn new(cfg: FleetConfig, coord: Arc<Coordination>) -> anyhow::Result<Arc<Fleet>> {
        let client = redis::Client::open(cfg.redis_url.as_str())
            .map_err(|e| anyhow::anyhow!("GOMIRROR_REDIS_URL: {e}"))?;
        let mcfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), mcfg)
            .map_err(|e| anyhow::anyhow!("GOMIRROR_REDIS_URL: {e}"))?;
        Ok(Arc::new(Fleet {
            cfg,
            client,
            conn,
            coord,
            up: AtomicBool::new(false),
            last_error: Mutex::new(None),
            on_change: Mutex::default(),
            errors: AtomicU64::new(0),
            changes_received: AtomicU64::new(0),
        }))
    }

    /// Starts the change feed (and its reconnection loop) and announces
    /// this replica's own changes through it.
    pub fn start(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        self.coord.set_announce(Arc::new(move |key: &str| {
            if let Some(f) = me.upgrade() {
                f.announce(key);
            }
        }));
        feed::spawn(self.clone());
    }

    /// Also calls `f` with each key another replica changes.
    pub fn on_change(&self, f: OnChange) {
        self.on_change.lock().unwrap().push(f);
    }

    /// Whether Redis answered the last command and the feed is connected.
    pub fn redis_up(&self) -> bool {
        self.up.load(Ordering::SeqCst) && self.coord.epoch() != 0
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.cfg.namespace)
    }

    fn ok<T>(&self, r: redis::RedisResult<T>) -> Result<T, Unavailable> {
        match r {
            Ok(v) => {
                self.up.store(true, Ordering::SeqCst);
                Ok(v)
            }
            Err(e) => Err(self.failed(e.to_string())),
        }
    }

    fn failed(&self, msg: String) -> Unavailable {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!("redis unreachable: {msg}");
        }
        *self.last_error.lock().unwrap() = Some(msg.clone());
        Unavailable(msg)
    }

    /// Runs one command with the fleet's time limit.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(COMMAND_TIMEOUT * 2, f(self.conn.clone())).await {
            Ok(r) => self.ok(r),
            Err(_) => Err(self.failed("no answer in time".to_owned())),
        }
    }

    /// Checks that Redis answers (readiness, health metric).
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    /// Tells the other replicas that `key` changed in the bucket (best
    /// effort: while Redis is down they check the bucket on every read).
    pub fn announce(self: &Arc<Self>, key: &str) {
        let me = self.clone();
        let msg = format!("{}\n{key}", self.cfg.replica);
        tokio::spawn(async move {
            let chan = me.key("changed");
            let _ = me
                .run(|mut c| async move { c.publish::<_, _, i64>(chan, msg).await })
                .await;
        });
    }

    /// A change announced on the feed: applied unless it is our own.
    fn received(&self, payload: &str) {
        let Some((from, key)) = payload.split_once('\n') else {
            return;
        };
        if from == self.cfg.replica {
            return;
        }
        self.changes_received.fetch_add(1, Ordering::Relaxed);
        let handlers = self.on_change.lock().unwrap().clone();
        for h in handlers {
            h(key);
        }
    }

    /// Adds an event (JSON) to the fleet's shared log.
    pub async fn push_event(&self, event: serde_json::Value) -> Result<(), Unavailable> {
        let k = self.key("events");
        let body = event.to_string();
        self.run(|mut c| async move {
            redis::pipe()
                .lpush(&k, body)
                .ignore()
                .ltrim(&k, 0, EVENTS_KEPT - 1)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    /// The fleet's most recent events, newest first.
    pub async fn events(&self, n: usize) -> Result<Vec<serde_json::Value>, Unavailable> {
        let k = self.key("events");
        let raw: Vec<String> = self
            .run(|mut c| async move { c.lrange(k, 0, n as isize - 1).await })
            .await?;
        Ok(raw
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    /// Publishes this replica's summary (the status page's row), kept in
    /// the fleet's `replicas` hash under its name.
    pub async fn publish_replica(&self, summary: &serde_json::Value) -> Result<(), Unavailable> {
        let (k, f, v) = (
            self.key("replicas"),
            self.cfg.replica.clone(),
            summary.to_string(),
        );
        self.run(|mut c| async move { c.hset(k, f, v).await }).await
    }

    /// Every replica's last summary, by name (see [`Fleet::publish_replica`]).
    pub async fn replicas(&self) -> Result<Vec<(String, serde_json::Value)>, Unavailable> {
        let k = self.key("replicas");
        let all: std::collections::BTreeMap<String, String> =
            self.run(|mut c| async move { c.hgetall(k).await }).await?;
        Ok(all
            .into_iter()
            .filter_map(|(name, v)| Some((name, serde_json::from_str(&v).ok()?)))
            .collect())
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.cfg.replica
    }

    /// A shared value (the scrubber's progress).
    pub async fn get(&self, name: &str) -> Result<Option<String>, Unavailable> {
        let k = self.key(name);
        self.run(|mut c| async move { c.get(k).await }).await
    }

    /// Sets a shared value.
    pub async fn set(&self, name: &str, value: &str) -> Result<(), Unavailable> {
        let (k, v) = (self.key(name), value.to_owned());
        self.run(|mut c| async move { c.set(k, v).await }).await
    }

    /// Tries to take the lease `name` for `ttl` (refreshed while held).
    pub async fn lease(self: &Arc<Self>, name: &str, ttl: Duration) -> LeaseOutcome {
        lease::acquire(self, name, ttl).await
    }

    /// The admission lease time.
    pub fn lease_ttl(&self) -> Duration {
        self.cfg.lease_ttl
    }
}
