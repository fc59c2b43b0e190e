//! What the mirror did, counted.

use crate::telemetry::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One counter's count, and the Prometheus counter it feeds.
type Slot = (u64, Option<Counter>);

/// Counts what the mirror did, by kind, into the Prometheus metrics (and a
/// local table that tests and the status page read).
pub struct Counters {
    /// name → label → count, and the Prometheus counter it feeds (resolved
    /// once: counting a hit on every request must not allocate).
    inner: Mutex<HashMap<&'static str, HashMap<String, Slot>>>,
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

    /// The Prometheus counter that `name{label}` feeds, if any.
    fn metric(&self, name: &'static str, label: &str) -> Option<Counter> {
        let m = &self.metrics;
        let family = |f: &Family<Vec<(String, String)>, Counter>, k: &str, v: &str| {
            Some(f.get_or_create(&vec![(k.to_owned(), v.to_owned())]).clone())
        };
        match name {
            "fleet" => family(&m.fleet_events, "event", label),
            "integrity_failures" => {
                let (kind, source) = label.split_once('|').unwrap_or((label, ""));
                let labels = vec![
                    ("kind".to_owned(), kind.to_owned()),
                    ("source".to_owned(), source.to_owned()),
                ];
                Some(m.integrity_failures.get_or_create(&labels).clone())
            }
            "cache" => family(&m.cache, "outcome", label),
            "upstream_requests" => family(&m.upstream_requests, "upstream", label),
            "upstream_errors" => family(&m.upstream_errors, "upstream", label),
            "upstream_timeouts" => family(&m.upstream_timeouts, "upstream", label),
            "fetches_abandoned" => Some(m.fetches_abandoned.clone()),
            "admitted" => family(&m.admitted, "file", label),
            "store_errors" => family(&m.store_errors, "op", label),
            "sumdb_vouched" => family(&m.sumdb_vouched, "file", label),
            "sumdb_unverified" => family(&m.sumdb_unverified, "file", label),
            "quarantined" => Some(m.quarantined.clone()),
            "singleflight_waiters" => Some(m.singleflight_waiters.clone()),
            "sumdb_fork" => Some(m.sumdb_forks.clone()),
            _ => None,
        }
    }

    /// Adds one to `name{label}` and to the matching Prometheus metric.
    pub fn inc(&self, name: &'static str, label: &str) {
        let mut inner = self.inner.lock().unwrap();
        let by_label = inner.entry(name).or_default();
        let slot = match by_label.get_mut(label) {
            Some(s) => s,
            None => by_label
                .entry(label.to_owned())
                .or_insert((0, self.metric(name, label))),
        };
        slot.0 += 1;
        if let Some(c) = &slot.1 {
            c.inc();
        }
    }
    /// The current value of `name{label}`.
    pub fn get(&self, name: &'static str, label: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .get(name)
            .and_then(|m| m.get(label))
            .map_or(0, |s| s.0)
    }
    /// Every counter, sorted.
    pub fn snapshot(&self) -> Vec<((&'static str, String), u64)> {
        let mut v: Vec<_> = self
            .inner
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(n, m)| m.iter().map(|(l, s)| ((*n, l.clone()), s.0)))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Counting through resolved handles is counting in the Prometheus
    /// families: the exposition shows every count, and a label set only
    /// once it is counted.
    #[test]
    fn counts_feed_the_prometheus_families() {
        let m = Arc::new(Metrics::new());
        let c = Counters::new(m.clone());
        c.inc("cache", "hit");
        c.inc("cache", "hit");
        c.inc("cache", "miss");
        c.inc("integrity_failures", "sha256|store");
        c.inc("quarantined", "");
        assert_eq!(c.get("cache", "hit"), 2);
        assert_eq!(c.get("cache", "stale"), 0);
        assert_eq!(
            c.snapshot(),
            vec![
                (("cache", "hit".to_owned()), 2),
                (("cache", "miss".to_owned()), 1),
                (("integrity_failures", "sha256|store".to_owned()), 1),
                (("quarantined", String::new()), 1),
            ]
        );
        m.count_request("info", 200, Duration::from_millis(3));
        m.count_request("info", 200, Duration::from_millis(3));
        m.count_request("info", 499, Duration::from_millis(3));
        m.served_bytes("zip").inc_by(5);
        m.served_bytes("zip").inc_by(6);
        let text = m.encode();
        for want in [
            r#"gomirror_cache_requests_total{outcome="hit"} 2"#,
            r#"gomirror_cache_requests_total{outcome="miss"} 1"#,
            r#"gomirror_integrity_failures_total{kind="sha256",source="store"} 1"#,
            "gomirror_quarantined_objects_total 1",
            r#"gomirror_requests_total{kind="info",status="200"} 2"#,
            r#"gomirror_requests_total{kind="info",status="499"} 1"#,
            r#"gomirror_request_duration_seconds_count{kind="info"} 3"#,
            r#"gomirror_served_bytes_total{kind="zip"} 11"#,
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        assert!(!text.contains(r#"outcome="stale""#));
        assert!(!text.contains(r#"served_bytes_total{kind="info"}"#));
    }
}
