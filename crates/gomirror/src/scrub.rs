//! The scrubber: re-verifies every stored object against the record it was
//! admitted with, finds rot before a client does, and (in healing mode)
//! quarantines what rotted and fetches it again through admission.
//!
//! One pass walks every committed object ([`Store::list`]) and, for each:
//!
//! * checks the stored length against the record's `size`, then streams the
//!   bytes through SHA-256 (bounded memory: one chunk at a time) and checks
//!   the record's `sha256`;
//! * for a `.mod`, checks the record's `h1:` (the go.mod's `h1:` is a
//!   function of its SHA-256, so this costs no extra read);
//! * for a `.zip`, when asked ([`Scrubber::zip_h1`]), reads the zip once
//!   more with the go command's rules (`gomod::zip::check_and_hash_zip`)
//!   and checks its `h1:` and the `h1:` of its go.mod against the record.
//!
//! On a local file-system store it also walks `objects/` for what the store
//! does not list: bytes without a metadata record (never served: a crash
//! between the two renames of a commit, or a file put there by hand) and
//! records whose bytes are gone (rot: the object is missing).
//!
//! An optional byte rate ([`Scrubber::rate_limit`], a token bucket) keeps a
//! background pass from loading the disk noticeably. Progress goes to a
//! [`Progress`] observer: the CLI draws a bar with it, the server exports
//! [`ScrubStats`]. [`run_background`] is the server's endless loop.
//!
//! A scrub never changes the store unless it heals ([`Scrubber::healing`]):
//! then a rotten versioned object (`<module>/@v/<version>.<info|mod|zip>`)
//! is quarantined with [`Mirror::quarantine`] and fetched again with
//! [`Mirror::versioned`] (admission, the checksum database, everything a
//! first fetch goes through); any other rotten key (`list`, `@latest`,
//! `sumdb/...`) is only quarantined — the mirror fetches it again when it
//! is next asked for. Leftover bytes without a record are moved to the
//! quarantine once they are older than [`ORPHAN_GRACE`].

use crate::admit::FailureKind;
use crate::mirror::Mirror;
use crate::protocol::parse_versioned_key;
use crate::store::{FsStore, Meta, ObjectRead, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes read per call when no rate limit applies.
const CHUNK: usize = 256 << 10;

/// How old a file without a metadata record must be before a healing scrub
/// moves it to the quarantine: a commit in progress leaves its bytes
/// without a record for an instant, and a live server may be committing.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// What is wrong with a rotten object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotKind {
    /// The stored length differs from the record's size.
    Size,
    /// The bytes do not hash to the record's sha256.
    Sha256,
    /// The `h1:` (or a zip's go.mod `h1:`) differs from the record, or the
    /// zip no longer passes the module zip rules.
    H1,
    /// The record is there, the bytes are not.
    Missing,
    /// The bytes cannot be read (an I/O error).
    Unreadable,
    /// The metadata record itself is corrupt.
    BadRecord,
}

impl RotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RotKind::Size => "size",
            RotKind::Sha256 => "sha256",
            RotKind::H1 => "h1",
            RotKind::Missing => "missing",
            RotKind::Unreadable => "unreadable",
            RotKind::BadRecord => "bad_record",
        }
    }

    /// The integrity-failure kind a quarantine is counted under.
    pub fn failure_kind(self) -> FailureKind {
        match self {
            RotKind::Size | RotKind::Missing => FailureKind::Size,
            RotKind::Sha256 | RotKind::Unreadable | RotKind::BadRecord => FailureKind::Sha256,
            RotKind::H1 => FailureKind::H1,
        }
    }
}

/// What a healing scrub did about one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "error", rename_all = "snake_case")]
pub enum FixOutcome {
    /// Quarantined and fetched again through admission: the store holds a
    /// verified copy again.
    Healed,
    /// Quarantined (a `list`, `@latest` or `sumdb/` object, fetched again
    /// when next asked for; or bytes without a record).
    Removed,
    /// Quarantined (if it could be) but not fetched again: why.
    Failed(String),
}

impl FixOutcome {
    /// Whether nothing is left to do.
    pub fn resolved(&self) -> bool {
        !matches!(self, FixOutcome::Failed(_))
    }
}

/// A rotten object.
#[derive(Debug, Clone, Serialize)]
pub struct Rotten {
    pub key: String,
    pub kind: RotKind,
    pub reason: String,
    /// Set by a healing scrub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixOutcome>,
}

/// Bytes under `objects/` without a metadata record (not an object for the
/// mirror: never served).
#[derive(Debug, Clone, Serialize)]
pub struct Unrecorded {
    pub key: String,
    pub size: u64,
    /// Set by a healing scrub for files older than the grace period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixOutcome>,
}

/// The result of one pass.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Objects checked.
    pub objects: u64,
    /// Bytes read (a zip checked for its `h1:` is read twice).
    pub bytes: u64,
    /// Objects that matched their record.
    pub ok: u64,
    /// Objects that did not, in key order.
    pub rotten: Vec<Rotten>,
    /// Bytes without a record (file-system stores only).
    pub missing_metadata: Vec<Unrecorded>,
    /// Objects listed at the start that were gone (quarantined, deleted)
    /// by the time they were checked.
    pub vanished: u64,
    /// Wall-clock time of the pass.
    pub seconds: f64,
}

impl Report {
    /// Rotten objects that a healing scrub fetched again.
    pub fn healed(&self) -> u64 {
        self.rotten
            .iter()
            .filter(|r| r.fix == Some(FixOutcome::Healed))
            .count() as u64
    }
    /// Rotten objects a healing scrub quarantined without fetching again
    /// (volatile and `sumdb/` keys).
    pub fn removed(&self) -> u64 {
        self.rotten
            .iter()
            .filter(|r| r.fix == Some(FixOutcome::Removed))
            .count() as u64
    }
    /// Rotten objects still not healed (all of them without healing).
    pub fn unhealed(&self) -> u64 {
        self.rotten
            .iter()
            .filter(|r| !r.fix.as_ref().is_some_and(FixOutcome::resolved))
            .count() as u64
    }
}

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

/// A token bucket of bytes: [`RateLimiter::delay`] charges a read and says
/// how long to wait so that reads average `rate` bytes per second. Shared by
/// async and blocking readers (it only computes; the caller sleeps).
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// At most `bytes_per_sec` on average, with bursts of about a tenth of
    /// a second's worth (at least one read).
    pub fn new(bytes_per_sec: u64) -> RateLimiter {
        let rate = bytes_per_sec.max(1) as f64;
        let burst = (rate / 10.0).max(Self::chunk_for(bytes_per_sec) as f64);
        RateLimiter {
            rate,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    /// The read size that keeps the waits short at this rate.
    fn chunk_for(bytes_per_sec: u64) -> usize {
        (bytes_per_sec / 8).clamp(4096, CHUNK as u64) as usize
    }

    /// Charges `n` bytes; the time to wait before reading them.
    pub fn delay(&self, n: u64) -> Duration {
        let mut b = self.bucket.lock().unwrap();
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * self.rate;
        b.0 = (b.0 + refill).min(self.burst) - n as f64;
        b.1 = now;
        if b.0 >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.0 / self.rate)
        }
    }

    async fn wait(&self, n: u64) {
        let d = self.delay(n);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

/// One object's verdict.
enum Verdict {
    Ok,
    Vanished,
    Rotten(RotKind, String),
}

/// A configured scrub; [`Scrubber::run`] makes one pass.
pub struct Scrubber {
    store: Arc<dyn Store>,
    mirror: Option<Arc<Mirror>>,
    fs: Option<FsStore>,
    zip_h1: bool,
    rate: Option<u64>,
    orphan_grace: Duration,
}

impl Scrubber {
    /// A read-only scrub of `store` (it reports, never changes anything).
    /// A file-system store (one whose [`Store::local_root`] holds an
    /// `objects/` directory) is also walked for bytes without a record.
    pub fn new(store: Arc<dyn Store>) -> Scrubber {
        let fs = store.local_root().and_then(|r| FsStore::attach(r).ok());
        Scrubber {
            store,
            mirror: None,
            fs,
            zip_h1: false,
            rate: None,
            orphan_grace: ORPHAN_GRACE,
        }
    }

    /// A healing scrub of `mirror`'s store: rotten objects are quarantined
    /// and fetched again through admission (see the module documentation).
    pub fn healing(mirror: Arc<Mirror>) -> Scrubber {
        let mut s = Scrubber::new(mirror.store().clone());
        s.mirror = Some(mirror);
        s
    }

    /// Also check each zip's `h1:` by reading it with the module zip rules
    /// (a second read of every zip). Off by default.
    pub fn zip_h1(mut self, on: bool) -> Scrubber {
        self.zip_h1 = on;
        self
    }

    /// Read at most this many bytes per second on average (`None`: as fast
    /// as the disk goes).
    pub fn rate_limit(mut self, bytes_per_sec: Option<u64>) -> Scrubber {
        self.rate = bytes_per_sec.filter(|&r| r > 0);
        self
    }

    /// How old bytes without a record must be before healing moves them
    /// aside (default [`ORPHAN_GRACE`]).
    pub fn orphan_grace(mut self, d: Duration) -> Scrubber {
        self.orphan_grace = d;
        self
    }

    /// Whether this scrub heals.
    pub fn is_healing(&self) -> bool {
        self.mirror.is_some()
    }

    /// One pass over every stored object. Errors only when the store cannot
    /// be listed; a single object's failure is a finding, not an error.
    pub async fn run(&self, progress: &dyn Progress) -> Result<Report, StoreError> {
        let started = Instant::now();
        let keys = self.store.list("").await?;
        let (bytes_without_record, records_without_bytes) = match &self.fs {
            Some(fs) => {
                let u = fs.unrecorded("").await?;
                (u.bytes_without_record, u.records_without_bytes)
            }
            None => (vec![], vec![]),
        };
        // What the pass will read, for the progress total.
        let mut planned = Vec::with_capacity(keys.len());
        for key in &keys {
            let n = match self.store.meta(key).await {
                Ok(Some(m)) => self.planned_bytes(key, &m),
                _ => 0,
            };
            planned.push(n);
        }
        let total_objects = (keys.len() + records_without_bytes.len()) as u64;
        progress.start(total_objects, planned.iter().sum());
        let limiter = self.rate.map(|r| Arc::new(RateLimiter::new(r)));
        let chunk = self.rate.map_or(CHUNK, RateLimiter::chunk_for);

        let mut report = Report::default();
        for (key, planned) in keys.iter().zip(planned) {
            let mut verdict = self.check(key, limiter.as_ref(), chunk, progress).await;
            let read = verdict.1;
            report.bytes += read;
            if read < planned {
                progress.bytes(planned - read);
            }
            if let Verdict::Rotten(..) = verdict.0 {
                // The object may have been replaced while it was read (a
                // server healing it, a list refreshed): look once more.
                if self.changed_since(key, &verdict.2).await {
                    verdict = self.check(key, limiter.as_ref(), chunk, &()).await;
                    report.bytes += verdict.1;
                }
            }
            report.objects += 1;
            match verdict.0 {
                Verdict::Ok => {
                    report.ok += 1;
                    progress.object(key, None);
                }
                Verdict::Vanished => {
                    report.vanished += 1;
                    progress.object(key, None);
                }
                Verdict::Rotten(kind, reason) => {
                    let mut rot = Rotten {
                        key: key.clone(),
                        kind,
                        reason,
                        fix: None,
                    };
                    if let Some(m) = &self.mirror {
                        rot.fix = Some(heal(m, &rot).await);
                    }
                    progress.object(key, Some(&rot));
                    report.rotten.push(rot);
                }
            }
        }
        for key in records_without_bytes {
            report.objects += 1;
            // Still a record without bytes (not a commit or quarantine that
            // has since moved on)?
            let gone = matches!(self.store.meta(&key).await, Ok(Some(_)))
                && self.fs.as_ref().is_some_and(|fs| fs.object_missing(&key));
            if !gone {
                report.vanished += 1;
                progress.object(&key, None);
                continue;
            }
            let mut rot = Rotten {
                key,
                kind: RotKind::Missing,
                reason: "the metadata record is there, the bytes are not".into(),
                fix: None,
            };
            if let Some(m) = &self.mirror {
                rot.fix = Some(heal(m, &rot).await);
            }
            progress.object(&rot.key, Some(&rot));
            report.rotten.push(rot);
        }
        report.rotten.sort_by(|a, b| a.key.cmp(&b.key));
        for f in bytes_without_record {
            // Still without a record (not a commit finishing meanwhile)?
            if !self.fs.as_ref().is_some_and(|fs| fs.is_unrecorded(&f.key)) {
                continue;
            }
            let old = f
                .modified
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= self.orphan_grace);
            let fix = match (&self.mirror, old) {
                (Some(_), true) => Some(
                    match self
                        .store
                        .quarantine(&f.key, "scrub: bytes without a metadata record")
                        .await
                    {
                        Ok(()) => FixOutcome::Removed,
                        Err(e) => FixOutcome::Failed(e.to_string()),
                    },
                ),
                _ => None,
            };
            report.missing_metadata.push(Unrecorded {
                key: f.key,
                size: f.size,
                fix,
            });
        }
        report.seconds = started.elapsed().as_secs_f64();
        progress.finish(&report);
        Ok(report)
    }

    /// Bytes a check of `key` reads when all is well.
    fn planned_bytes(&self, key: &str, m: &Meta) -> u64 {
        let twice = self.zip_h1 && m.h1.is_some() && key.ends_with(".zip");
        if twice {
            m.size * 2
        } else {
            m.size
        }
    }

    /// Whether `key`'s record or stored copy differs from what was checked.
    async fn changed_since(&self, key: &str, seen: &Option<(Meta, Option<String>)>) -> bool {
        let Some((meta, fp)) = seen else {
            return false;
        };
        let now = match self.store.meta(key).await {
            Ok(m) => m,
            Err(_) => return false,
        };
        now.as_ref() != Some(meta) || (fp.is_some() && self.store.fingerprint(key) != *fp)
    }

    /// Checks one object: its verdict, the bytes read, and the record and
    /// fingerprint it was checked against.
    async fn check(
        &self,
        key: &str,
        limiter: Option<&Arc<RateLimiter>>,
        chunk: usize,
        progress: &dyn Progress,
    ) -> (Verdict, u64, Option<(Meta, Option<String>)>) {
        let opened = match self.store.open(key).await {
            Ok(Some(o)) => o,
            Ok(None) => return (Verdict::Vanished, 0, None),
            Err(StoreError::BadMeta { msg, .. }) => {
                let why = format!("the metadata record is corrupt: {msg}");
                return (Verdict::Rotten(RotKind::BadRecord, why), 0, None);
            }
            Err(e) => return (Verdict::Rotten(RotKind::Unreadable, e.to_string()), 0, None),
        };
        let meta = opened.meta;
        let seen = Some((meta.clone(), opened.fingerprint.clone()));
        let reader = opened.reader;
        let rot = |k, why: String| Verdict::Rotten(k, why);
        let len = match reader.stored_len().await {
            Ok(n) => n,
            Err(e) => return (rot(RotKind::Unreadable, e.to_string()), 0, seen),
        };
        if len != meta.size {
            let why = format!("stored length {len}, admitted {}", meta.size);
            return (rot(RotKind::Size, why), 0, seen);
        }
        let mut h = Sha256::new();
        let mut pos = 0u64;
        while pos < meta.size {
            let want = chunk.min((meta.size - pos) as usize);
            if let Some(l) = limiter {
                l.wait(want as u64).await;
            }
            let got = match reader.read_at(pos, want).await {
                Ok(b) => b,
                Err(e) => {
                    let why = format!("read at offset {pos}: {e}");
                    return (rot(RotKind::Unreadable, why), pos, seen);
                }
            };
            if got.is_empty() {
                break;
            }
            h.update(&got);
            pos += got.len() as u64;
            progress.bytes(got.len() as u64);
        }
        if pos != meta.size {
            let why = format!("stored copy ended at {pos} of {} bytes", meta.size);
            return (rot(RotKind::Size, why), pos, seen);
        }
        let digest: [u8; 32] = h.finalize().into();
        let hex = hex::encode(digest);
        if !crate::verify::digest_matches(&meta, pos, &digest) {
            let why = format!(
                "stored bytes hash to sha256 {hex}, admitted {}",
                meta.sha256
            );
            return (rot(RotKind::Sha256, why), pos, seen);
        }
        if let (true, Some(want)) = (key.ends_with(".mod"), &meta.h1) {
            let mut hasher = gomod::dirhash::Hasher::new();
            hasher
                .add_digest("go.mod", digest)
                .expect("\"go.mod\" contains no newline");
            let got = hasher.finish();
            if !crate::verify::h1_matches(Some(want), &got) {
                let why = format!("go.mod hashes to {got}, admitted {want}");
                return (rot(RotKind::H1, why), pos, seen);
            }
        }
        if self.zip_h1 && key.ends_with(".zip") && meta.h1.is_some() {
            if let Some((module, version, _)) = parse_versioned_key(key) {
                let (res, read) =
                    zip_hashes(reader, module, version, meta.size, limiter, chunk, progress).await;
                let total = pos + read;
                let h1 = meta.h1.as_deref().unwrap_or_default();
                match res {
                    Err(why) => return (rot(RotKind::H1, why), total, seen),
                    Ok((got, _)) if !crate::verify::h1_matches(Some(h1), &got) => {
                        let why = format!("zip hashes to {got}, admitted {h1}");
                        return (rot(RotKind::H1, why), total, seen);
                    }
                    Ok((_, gm))
                        if meta.gomod_h1.is_some()
                            && !crate::verify::h1_matches(meta.gomod_h1.as_deref(), &gm) =>
                    {
                        let want = meta.gomod_h1.as_deref().unwrap_or_default();
                        let why = format!("the zip's go.mod hashes to {gm}, admitted {want}");
                        return (rot(RotKind::H1, why), total, seen);
                    }
                    Ok(_) => return (Verdict::Ok, total, seen),
                }
            }
        }
        (Verdict::Ok, pos, seen)
    }
}

/// Reads a stored zip with the module zip rules on a blocking thread: its
/// `h1:` and its go.mod's `h1:` (or a reason it fails the rules), and the
/// bytes read. Progress is reported while it runs.
async fn zip_hashes(
    reader: Box<dyn ObjectRead>,
    module: String,
    version: String,
    size: u64,
    limiter: Option<&Arc<RateLimiter>>,
    chunk: usize,
    progress: &dyn Progress,
) -> (Result<(String, String), String>, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let src = BlockingReader {
        reader,
        handle: tokio::runtime::Handle::current(),
        pos: 0,
        size,
        limiter: limiter.cloned(),
        chunk,
        read: counter.clone(),
        buf: bytes::Bytes::new(),
        buf_at: 0,
    };
    let mut task = tokio::task::spawn_blocking(move || {
        let summary = gomod::zip::check_and_hash_zip(&module, &version, src)
            .map_err(|e| format!("the zip no longer passes the module zip rules: {e}"))?;
        summary
            .checked
            .err()
            .map_err(|e| format!("the zip no longer passes the module zip rules: {e}"))?;
        let h1 = summary.h1.ok_or("the zip could not be hashed")?;
        let gomod = summary
            .go_mod
            .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&module));
        Ok((h1, gomod::dirhash::hash_go_mod(&gomod)))
    });
    let mut reported = 0;
    let result = loop {
        tokio::select! {
            r = &mut task => break r.unwrap_or_else(|e| Err(format!("zip check task failed: {e}"))),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                let n = counter.load(Ordering::Relaxed).min(size);
                progress.bytes(n.saturating_sub(reported));
                reported = reported.max(n);
            }
        }
    };
    let n = counter.load(Ordering::Relaxed);
    // Progress counts the zip once, whatever the reader re-read.
    progress.bytes(n.min(size).saturating_sub(reported));
    (result, n)
}

/// `Read + Seek` over a stored copy, for the synchronous zip reader (used
/// on a blocking thread only). It keeps the last chunk read, so the zip
/// reader's seeks between entries do not read the same bytes again.
struct BlockingReader {
    reader: Box<dyn ObjectRead>,
    handle: tokio::runtime::Handle,
    pos: u64,
    size: u64,
    limiter: Option<Arc<RateLimiter>>,
    chunk: usize,
    read: Arc<AtomicU64>,
    buf: bytes::Bytes,
    buf_at: u64,
}

impl std::io::Read for BlockingReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let cached = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !cached {
            let want = self.chunk.min((self.size - self.pos) as usize);
            if let Some(l) = &self.limiter {
                let d = l.delay(want as u64);
                if !d.is_zero() {
                    std::thread::sleep(d);
                }
            }
            let got = self.handle.block_on(self.reader.read_at(self.pos, want))?;
            if got.is_empty() {
                return Ok(0);
            }
            self.read.fetch_add(got.len() as u64, Ordering::Relaxed);
            self.buf = got;
            self.buf_at = self.pos;
        }
        let off = (self.pos - self.buf_at) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for BlockingReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let next = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::End(d) => self.size.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// Quarantines a rotten object and, for a versioned file, fetches it again
/// through admission.
async fn heal(mirror: &Arc<Mirror>, rot: &Rotten) -> FixOutcome {
    let msg = format!("scrub: {}: {}", rot.kind.as_str(), rot.reason);
    mirror
        .quarantine(&rot.key, rot.kind.failure_kind(), &msg)
        .await;
    if let Ok(Some(_)) = mirror.store().meta(&rot.key).await {
        if parse_versioned_key(&rot.key).is_none() {
            return FixOutcome::Failed("the quarantine did not take the object out".into());
        }
    }
    match parse_versioned_key(&rot.key) {
        Some((module, version, ext)) => match mirror.versioned(&module, &version, ext).await {
            Ok(_) => {
                tracing::info!(key = rot.key, "scrub: healed");
                FixOutcome::Healed
            }
            Err(e) => FixOutcome::Failed(e.to_string()),
        },
        None => FixOutcome::Removed,
    }
}

/// The server's background scrubber: a healing pass at most `rate` bytes
/// per second (`None`: unlimited), then a pause of `interval`, forever.
/// Progress and findings go to `stats`; findings are also logged (and
/// counted by [`Mirror::quarantine`] as integrity failures from `store`).
/// Zips are checked by size and sha256 (their `h1:` was computed from the
/// same bytes at admission).
pub async fn run_background(
    mirror: Arc<Mirror>,
    rate: Option<u64>,
    interval: Duration,
    stats: Arc<ScrubStats>,
) {
    loop {
        let scrubber = Scrubber::healing(mirror.clone()).rate_limit(rate);
        match scrubber.run(stats.as_ref()).await {
            Ok(r) => {
                for rot in &r.rotten {
                    tracing::warn!(
                        key = rot.key,
                        kind = rot.kind.as_str(),
                        fix = ?rot.fix,
                        "scrub: rotten object: {}",
                        rot.reason
                    );
                }
                for u in &r.missing_metadata {
                    tracing::warn!(key = u.key, size = u.size, fix = ?u.fix, "scrub: bytes without a metadata record");
                }
                tracing::info!(
                    objects = r.objects,
                    bytes = r.bytes,
                    rotten = r.rotten.len(),
                    healed = r.healed(),
                    missing_metadata = r.missing_metadata.len(),
                    seconds = r.seconds,
                    "scrub pass finished"
                );
            }
            Err(e) => {
                stats.running.store(false, Ordering::Relaxed);
                tracing::error!("scrub pass failed: {e}");
            }
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::testing::meta_of;
    use crate::store::{MemStore, PutBytes};

    #[test]
    fn mod_h1_from_digest_is_hash_go_mod() {
        let data = b"module example.com/m\n\ngo 1.21\n";
        let mut h = gomod::dirhash::Hasher::new();
        h.add_digest("go.mod", Sha256::digest(data).into()).unwrap();
        assert_eq!(h.finish(), gomod::dirhash::hash_go_mod(data));
    }

    #[test]
    fn rate_limiter_averages_the_rate() {
        let l = RateLimiter::new(1 << 20);
        // 2 MiB charged at once at 1 MiB/s: wait about 2 s, less the burst.
        let mut wait = Duration::ZERO;
        for _ in 0..32 {
            wait = l.delay(64 << 10);
        }
        assert!(wait >= Duration::from_millis(1700), "{wait:?}");
        assert!(wait <= Duration::from_millis(2000), "{wait:?}");
    }

    #[tokio::test]
    async fn rate_limited_scrub_takes_its_time() {
        let store = Arc::new(MemStore::new().unwrap());
        let data = vec![7u8; 300 << 10];
        store
            .put_bytes("a/@v/list", &data, &meta_of(&data, "test"))
            .await
            .unwrap();
        let t = Instant::now();
        let r = Scrubber::new(store)
            .rate_limit(Some(1 << 20))
            .run(&())
            .await
            .unwrap();
        assert_eq!((r.ok, r.bytes), (1, 300 << 10));
        // 300 KiB at 1 MiB/s, less a 100 KiB burst: about 0.2 s.
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn finds_rot_and_reports_progress() {
        let store = Arc::new(MemStore::new().unwrap());
        let good = b"module example.com/m\n".to_vec();
        let mut meta = meta_of(&good, "test");
        meta.h1 = Some(gomod::dirhash::hash_go_mod(&good));
        store
            .put_bytes("example.com/m/@v/v1.0.0.mod", &good, &meta)
            .await
            .unwrap();
        let mut bad_h1 = meta.clone();
        bad_h1.h1 = Some("h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
        store
            .put_bytes("example.com/m/@v/v1.1.0.mod", &good, &bad_h1)
            .await
            .unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        store
            .put_bytes("example.com/m/@v/v1.0.0.zip", &big, &meta_of(&big, "test"))
            .await
            .unwrap();
        store.rot("example.com/m/@v/v1.0.0.zip", |b| b[2_000_000] ^= 1);
        let stats = ScrubStats::default();
        let report = Scrubber::new(store.clone()).run(&stats).await.unwrap();
        assert_eq!(report.objects, 3);
        assert_eq!(report.ok, 1);
        let kinds: Vec<_> = report
            .rotten
            .iter()
            .map(|r| (r.key.as_str(), r.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("example.com/m/@v/v1.0.0.zip", RotKind::Sha256),
                ("example.com/m/@v/v1.1.0.mod", RotKind::H1)
            ]
        );
        assert_eq!(report.unhealed(), 2);
        let s = stats.snapshot();
        assert_eq!((s.objects_done, s.objects_total), (3, 3));
        assert_eq!(s.bytes_done, s.bytes_total);
        assert_eq!(s.bytes_total, 3_000_000 + 2 * good.len() as u64);
        assert_eq!((s.rotten_found, s.passes, s.running), (2, 1, false));
        // A read-only scrub changed nothing.
        assert!(store.quarantined().is_empty());
    }
}
