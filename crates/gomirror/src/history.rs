//! A small in-memory ring of per-minute samples of what the mirror did
//! (requests, cache hits, bytes served, integrity failures by kind and
//! source, upstream latency and errors, the checksum database's tree, the
//! scrubber's and the canary's progress), for the status page's charts of
//! the last hour and day. A sample holds running totals; a chart point is
//! the difference between two samples (the last point: from the newest
//! sample to now).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Samples kept: a day of minutes, and one more to difference against.
pub const KEPT: usize = 24 * 60 + 1;

/// Running totals at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Unix seconds.
    pub at: i64,
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
    /// `kind|source` → failures.
    pub failures: BTreeMap<String, u64>,
    pub upstream_requests: u64,
    pub upstream_errors: u64,
    /// Upstream time to response headers, summed (µs), and how many.
    pub upstream_micros: u64,
    pub upstream_timed: u64,
    /// Gauges: the verified tree size, the scrub pass's objects done of
    /// total.
    pub tree_size: i64,
    pub forks: u64,
    pub scrub_done: i64,
    pub scrub_total: i64,
    pub scrub_bytes: u64,
    pub cdn_fetches: u64,
}

/// One chart point: what happened between two samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    /// Unix seconds at the end of the interval.
    pub at: i64,
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    pub bytes: u64,
    pub failures: BTreeMap<String, u64>,
    pub upstream_errors: u64,
    /// Mean upstream time to response headers in the interval (ms), if any
    /// request was timed.
    pub upstream_ms: Option<f64>,
    pub tree_size: i64,
    /// Scrub pass progress at the end of the interval (0–100), if a pass
    /// has objects.
    pub scrub_percent: Option<f64>,
    pub scrub_bytes: u64,
    pub cdn_fetches: u64,
}

impl Point {
    /// `b` less `a` (counters), `b`'s gauges.
    fn between(a: &Totals, b: &Totals) -> Point {
        let d = |x: u64, y: u64| y.saturating_sub(x);
        let failures = b
            .failures
            .iter()
            .map(|(k, v)| (k.clone(), d(a.failures.get(k).copied().unwrap_or(0), *v)))
            .filter(|(_, v)| *v > 0)
            .collect();
        let timed = d(a.upstream_timed, b.upstream_timed);
        Point {
            at: b.at,
            requests: d(a.requests, b.requests),
            hits: d(a.hits, b.hits),
            misses: d(a.misses, b.misses),
            bytes: d(a.bytes, b.bytes),
            failures,
            upstream_errors: d(a.upstream_errors, b.upstream_errors),
            upstream_ms: (timed > 0)
                .then(|| d(a.upstream_micros, b.upstream_micros) as f64 / timed as f64 / 1000.0),
            tree_size: b.tree_size,
            scrub_percent: (b.scrub_total > 0)
                .then(|| 100.0 * b.scrub_done as f64 / b.scrub_total as f64),
            scrub_bytes: d(a.scrub_bytes, b.scrub_bytes),
            cdn_fetches: d(a.cdn_fetches, b.cdn_fetches),
        }
    }
}

/// The ring of samples.
#[derive(Default)]
pub struct History {
    samples: Mutex<VecDeque<Totals>>,
}

impl History {
    /// Keeps `t` (the oldest sample goes past [`KEPT`]).
    pub fn record(&self, t: Totals) {
        let mut s = self.samples.lock().unwrap();
        if s.len() == KEPT {
            s.pop_front();
        }
        s.push_back(t);
    }

    /// The points of the last `minutes` (oldest first), the last one from
    /// the newest sample to `now`; an interval before the first sample
    /// counts from zero (what happened since the process started).
    pub fn points(&self, now: &Totals, minutes: usize) -> Vec<Point> {
        let s = self.samples.lock().unwrap();
        // Zero before the first sample: within the window only while the
        // ring still holds the process's first sample (it holds a minute
        // more than any window).
        let zero = Totals::default();
        let all: Vec<&Totals> = std::iter::once(&zero)
            .chain(s.iter())
            .chain(std::iter::once(now))
            .collect();
        let first = all.len().saturating_sub(minutes + 1);
        all[first..]
            .windows(2)
            .map(|w| Point::between(w[0], w[1]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(at: i64, requests: u64, fail: u64) -> Totals {
        let mut failures = BTreeMap::new();
        if fail > 0 {
            failures.insert("truncated|up".to_owned(), fail);
        }
        Totals {
            at,
            requests,
            failures,
            ..Totals::default()
        }
    }

    #[test]
    fn points_are_differences_and_the_last_runs_to_now() {
        let h = History::default();
        h.record(t(60, 10, 0));
        h.record(t(120, 25, 1));
        let p = h.points(&t(150, 30, 3), 60);
        assert_eq!(
            p.iter().map(|p| p.requests).collect::<Vec<_>>(),
            vec![10, 15, 5]
        );
        assert_eq!(p[1].failures.get("truncated|up"), Some(&1));
        assert_eq!(p[2].failures.get("truncated|up"), Some(&2));
        assert!(p[0].failures.is_empty());
        // Only the last `minutes`.
        let p = h.points(&t(150, 30, 3), 2);
        assert_eq!(
            p.iter().map(|p| p.requests).collect::<Vec<_>>(),
            vec![15, 5]
        );
    }

    #[test]
    fn the_ring_keeps_a_day() {
        let h = History::default();
        for i in 0..(KEPT as i64 + 100) {
            h.record(t(i * 60, i as u64, 0));
        }
        let now = t(KEPT as i64 * 60 + 6000, KEPT as u64 + 100, 0);
        let p = h.points(&now, 24 * 60);
        assert_eq!(p.len(), 24 * 60);
        assert!(p.iter().all(|p| p.requests == 1));
    }
}
