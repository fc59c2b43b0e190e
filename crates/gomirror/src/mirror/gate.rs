//! Bounds on upstream fetches: how many run at once (per upstream and in
//! total, the rest wait their turn in order), how long one fetch may take
//! in all, and who still wants it.
//!
//! A fetch is one chain walk for one file, shared by every client asking
//! for it at the time (singleflight). Its [`FetchCtx`] carries the
//! deadline (set when the fetch starts, covering queueing, every retry and
//! every upstream of the chain) and the [`Interest`]: the clients still
//! waiting. A fetch still queued when its last client goes away never
//! starts.

use crate::telemetry::Metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The clients waiting on one fetch.
#[derive(Clone, Default)]
pub(crate) struct Interest(Arc<InterestInner>);

#[derive(Default)]
struct InterestInner {
    waiting: AtomicUsize,
    gone: Notify,
}

/// One client waiting on a fetch; it stops waiting when dropped.
pub(crate) struct Waiter(Interest);

impl Interest {
    /// Counts one more waiting client, until the returned guard is dropped.
    pub(crate) fn join(&self) -> Waiter {
        self.0.waiting.fetch_add(1, Ordering::SeqCst);
        Waiter(self.clone())
    }

    /// Whether any client still waits.
    pub(crate) fn wanted(&self) -> bool {
        self.0.waiting.load(Ordering::SeqCst) > 0
    }

    /// Resolves once no client waits any more.
    pub(crate) async fn all_gone(&self) {
        loop {
            let gone = self.0.gone.notified();
            tokio::pin!(gone);
            gone.as_mut().enable();
            if !self.wanted() {
                return;
            }
            gone.await;
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.0 .0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0 .0.gone.notify_waiters();
        }
    }
}

/// What one fetch carries down to each upstream request.
#[derive(Clone)]
pub(crate) struct FetchCtx {
    /// When the whole fetch must be over.
    pub deadline: Instant,
    /// Its total time (for messages).
    pub budget: Duration,
    /// The clients waiting for it.
    pub interest: Interest,
    /// Where a zip's bytes are shown to waiting clients as they arrive
    /// (cold zips only).
    pub live: Option<Arc<crate::admit::Live>>,
    /// For a module zip: its module and version, to digest it as it
    /// arrives.
    pub zip_of: Option<Arc<(String, String)>>,
    /// Where a small object's admitted bytes are shown to the waiting
    /// clients before the commit is durable.
    pub early: Arc<Early>,
}

/// A small object's admitted bytes and record, set once admission decided.
#[derive(Default)]
pub(crate) struct Early {
    cell: std::sync::OnceLock<(crate::record::Meta, bytes::Bytes)>,
    set: Notify,
}

impl Early {
    /// Shows the admitted bytes (once; later calls change nothing).
    pub(crate) fn set(&self, meta: crate::record::Meta, bytes: bytes::Bytes) {
        if self.cell.set((meta, bytes)).is_ok() {
            self.set.notify_waiters();
        }
    }

    /// Waits until the admitted bytes are shown (forever, if they never
    /// are: race it with the fetch).
    pub(crate) async fn get(&self) -> (crate::record::Meta, bytes::Bytes) {
        loop {
            let set = self.set.notified();
            tokio::pin!(set);
            set.as_mut().enable();
            if let Some(v) = self.cell.get() {
                return v.clone();
            }
            set.await;
        }
    }
}

impl FetchCtx {
    /// A fetch starting now with `budget` in all.
    pub(crate) fn new(budget: Duration) -> FetchCtx {
        FetchCtx {
            deadline: Instant::now() + budget,
            budget,
            interest: Interest::default(),
            live: None,
            zip_of: None,
            early: Arc::default(),
        }
    }
}

/// Why a fetch could not get its turn.
pub(crate) enum NoTurn {
    /// Every client waiting for it went away while it was queued.
    Abandoned,
}

/// The semaphores bounding concurrent upstream requests.
pub(crate) struct Gate {
    per_upstream: usize,
    total: Arc<Semaphore>,
    upstreams: Mutex<HashMap<String, Arc<Semaphore>>>,
    metrics: Arc<Metrics>,
}

/// The right to talk to one upstream, held while its request and body
/// last.
pub(crate) struct Turn {
    _upstream: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
    _in_flight: GaugeGuard,
}

/// Adds one to a gauge while it lives.
struct GaugeGuard(prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>);

impl GaugeGuard {
    fn new(
        g: prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>,
    ) -> GaugeGuard {
        g.inc();
        GaugeGuard(g)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Gate {
    /// At most `per_upstream` requests to any one upstream and `total` to
    /// all of them at once (each at least 1).
    pub(crate) fn new(per_upstream: usize, total: usize, metrics: Arc<Metrics>) -> Gate {
        Gate {
            per_upstream: per_upstream.max(1),
            total: Arc::new(Semaphore::new(total.max(1))),
            upstreams: Mutex::default(),
            metrics,
        }
    }

    /// Waits (in arrival order) for a turn to talk to `upstream`; gives up
    /// when no client waits for the fetch any more. The upstream's own
    /// bound is taken first, so that requests queued for a busy upstream do
    /// not hold places of the total bound that others could use.
    pub(crate) async fn enter(&self, upstream: &str, interest: &Interest) -> Result<Turn, NoTurn> {
        let sem = self
            .upstreams
            .lock()
            .unwrap()
            .entry(upstream.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_upstream)))
            .clone();
        let labels = vec![("upstream".to_owned(), upstream.to_owned())];
        let turn = {
            let _queued =
                GaugeGuard::new(self.metrics.upstream_queued.get_or_create(&labels).clone());
            let wait = async {
                let up = sem.acquire_owned().await.expect("never closed");
                let total = self
                    .total
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("never closed");
                (up, total)
            };
            tokio::select! {
                biased;
                t = wait => t,
                () = interest.all_gone() => return Err(NoTurn::Abandoned),
            }
        };
        if !interest.wanted() {
            return Err(NoTurn::Abandoned);
        }
        Ok(Turn {
            _upstream: turn.0,
            _total: turn.1,
            _in_flight: GaugeGuard::new(
                self.metrics
                    .upstream_in_flight
                    .get_or_create(&labels)
                    .clone(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The total bound holds across upstreams, the rest wait in order, and
    /// a queued fetch nobody waits for any more gives up its place.
    #[tokio::test]
    async fn bounds_queue_and_abandonment() {
        let gate = Arc::new(Gate::new(2, 3, Arc::new(Metrics::new())));
        let interest = Interest::default();
        let _w = interest.join();
        let a1 = gate.enter("a", &interest).await.ok().unwrap();
        let _a2 = gate.enter("a", &interest).await.ok().unwrap();
        let _b1 = gate.enter("b", &interest).await.ok().unwrap();
        // "b" has room of its own, but the total is used up.
        let g = gate.clone();
        let i = interest.clone();
        let queued = tokio::spawn(async move { g.enter("b", &i).await.is_ok() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!queued.is_finished());
        // A fetch nobody waits for leaves the queue without a turn.
        let lonely = Interest::default();
        let w = lonely.join();
        let g = gate.clone();
        let l = lonely.clone();
        let abandoned = tokio::spawn(async move { g.enter("c", &l).await.is_err() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(w);
        assert!(abandoned.await.unwrap());
        drop(a1);
        assert!(queued.await.unwrap());
    }
}
