//! Watching a pass: the observer trait and the server's exported stats.

use super::Report;
use super::{FixOutcome, Rotten};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Observes a pass. Every method has an empty default; `()` observes
/// nothing.
pub trait Progress: Send + Sync {
    /// A pass begins: how many objects it will check and how many bytes it
    /// will read.
    fn start(&self, objects: u64, bytes: u64) {
        let _ = (objects, bytes);
    }
    /// `n` more bytes were read (or skipped: the counts always end at the
    /// announced total for objects that were checked).
    fn bytes(&self, n: u64) {
        let _ = n;
    }
    /// One object is done: `None` when it is fine (or vanished), else what
    /// is wrong with it and, when healing, what was done.
    fn object(&self, key: &str, rot: Option<&Rotten>) {
        let _ = (key, rot);
    }
    /// The pass is over.
    fn finish(&self, report: &Report) {
        let _ = report;
    }
}

impl Progress for () {}

/// Live numbers of the background scrubber, for metrics and status pages.
/// Times are Unix seconds, 0 for never.
#[derive(Debug, Default)]
pub struct ScrubStats {
    /// Objects the current (or last) pass checks.
    pub objects_total: AtomicU64,
    /// Objects checked so far in the current (or last) pass.
    pub objects_done: AtomicU64,
    /// Bytes the current (or last) pass reads.
    pub bytes_total: AtomicU64,
    /// Bytes read so far in the current (or last) pass.
    pub bytes_done: AtomicU64,
    /// Bytes scrubbed, over every pass (a counter; an object found rotten
    /// before its end counts whole).
    pub bytes_read: AtomicU64,
    /// Rotten objects found, over every pass (a counter).
    pub rotten_found: AtomicU64,
    /// Rotten objects healed (fetched again), over every pass (a counter).
    pub healed: AtomicU64,
    /// Bytes without a record found by the last finished pass (a gauge).
    pub missing_metadata: AtomicU64,
    /// Passes finished (a counter).
    pub passes: AtomicU64,
    /// When the current (or last) pass started.
    pub last_pass_started: AtomicU64,
    /// When the last pass finished.
    pub last_pass_finished: AtomicU64,
    /// Whether a pass is running.
    pub running: AtomicBool,
}

/// A plain copy of [`ScrubStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScrubSnapshot {
    pub objects_total: u64,
    pub objects_done: u64,
    pub bytes_total: u64,
    pub bytes_done: u64,
    pub bytes_read: u64,
    pub rotten_found: u64,
    pub healed: u64,
    pub missing_metadata: u64,
    pub passes: u64,
    pub last_pass_started: u64,
    pub last_pass_finished: u64,
    pub running: bool,
}

impl ScrubStats {
    pub fn snapshot(&self) -> ScrubSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ScrubSnapshot {
            objects_total: g(&self.objects_total),
            objects_done: g(&self.objects_done),
            bytes_total: g(&self.bytes_total),
            bytes_done: g(&self.bytes_done),
            bytes_read: g(&self.bytes_read),
            rotten_found: g(&self.rotten_found),
            healed: g(&self.healed),
            missing_metadata: g(&self.missing_metadata),
            passes: g(&self.passes),
            last_pass_started: g(&self.last_pass_started),
            last_pass_finished: g(&self.last_pass_finished),
            running: self.running.load(Ordering::Relaxed),
        }
    }
}

impl Progress for ScrubStats {
    fn start(&self, objects: u64, bytes: u64) {
        self.objects_total.store(objects, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
        self.objects_done.store(0, Ordering::Relaxed);
        self.bytes_done.store(0, Ordering::Relaxed);
        self.last_pass_started
            .store(crate::util::now_unix(), Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
    }
    fn bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Ordering::Relaxed);
        self.bytes_read.fetch_add(n, Ordering::Relaxed);
    }
    fn object(&self, _key: &str, rot: Option<&Rotten>) {
        self.objects_done.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = rot {
            self.rotten_found.fetch_add(1, Ordering::Relaxed);
            if r.fix == Some(FixOutcome::Healed) {
                self.healed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    fn finish(&self, report: &Report) {
        self.missing_metadata
            .store(report.missing_metadata.len() as u64, Ordering::Relaxed);
        self.last_pass_finished
            .store(crate::util::now_unix(), Ordering::Relaxed);
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.running.store(false, Ordering::Relaxed);
    }
}
