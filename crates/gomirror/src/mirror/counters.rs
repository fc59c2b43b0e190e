//! What the mirror did, counted.

use crate::telemetry::Metrics;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts what the mirror did, by kind, into the Prometheus metrics (and a
/// local table that tests and the status page read).
pub struct Counters {
    inner: Mutex<HashMap<(&'static str, String), u64>>,
    pub metrics: Arc<Metrics>,
}

impl Counters {
    /// Empty counters feeding `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Counters {
        Counters {
            inner: Mutex::default(),
            metrics,
        }
    }

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
            "fleet" => Metrics::inc(&m.fleet_events, &[("event", label)]),
            "integrity_failures" => {
                let (kind, source) = label.split_once('|').unwrap_or((label, ""));
                Metrics::inc(&m.integrity_failures, &[("kind", kind), ("source", source)]);
            }
            "cache" => Metrics::inc(&m.cache, &[("outcome", label)]),
            "upstream_requests" => Metrics::inc(&m.upstream_requests, &[("upstream", label)]),
            "upstream_errors" => Metrics::inc(&m.upstream_errors, &[("upstream", label)]),
            "upstream_timeouts" => Metrics::inc(&m.upstream_timeouts, &[("upstream", label)]),
            "fetches_abandoned" => {
                m.fetches_abandoned.inc();
            }
            "admitted" => Metrics::inc(&m.admitted, &[("file", label)]),
            "store_errors" => Metrics::inc(&m.store_errors, &[("op", label)]),
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
