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
//! does not list: bytes no metadata record names (never served: a blob left
//! by a crash mid-commit, or a file put there by hand) and records whose
//! bytes are gone (rot: the object is missing).
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

use crate::mirror::Mirror;
use crate::protocol::parse_versioned_key;
use crate::store::{Meta, Store, StoreError};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod heal;
mod progress;
mod rate;
mod report;
mod zip;

use heal::heal;
pub use progress::{Progress, ScrubStats};
pub use rate::RateLimiter;
pub use report::{FixOutcome, Report, RotKind, Rotten, Unrecorded};
use zip::zip_hashes;

/// Bytes read per call when no rate limit applies.
pub(crate) const CHUNK: usize = 256 << 10;

/// How old a file without a metadata record must be before a healing scrub
/// moves it to the quarantine: a commit in progress leaves its bytes
/// without a record for an instant, and a live server may be committing.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
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
    zip_h1: bool,
    rate: Option<u64>,
    orphan_grace: Duration,
    /// Keys up to and including this one were checked by an earlier,
    /// interrupted pass (another replica's): start after it.
    resume_after: Option<String>,
    /// Told each key once it is checked (the fleet's shared progress).
    checkpoint: Option<Checkpoint>,
}

/// Told each key once a pass has checked it.
pub type Checkpoint = Arc<dyn Fn(&str) + Send + Sync>;

impl Scrubber {
    /// A read-only scrub of `store` (it reports, never changes anything).
    /// What the store holds outside its listing ([`Store::unrecorded`]:
    /// bytes without a record, records without bytes) is reported too.
    pub fn new(store: Arc<dyn Store>) -> Scrubber {
        Scrubber {
            store,
            mirror: None,
            zip_h1: false,
            rate: None,
            orphan_grace: ORPHAN_GRACE,
            resume_after: None,
            checkpoint: None,
        }
    }

    /// Starts the pass after `key` (keys are checked in sorted order).
    pub fn resume_after(mut self, key: Option<String>) -> Scrubber {
        self.resume_after = key;
        self
    }

    /// Calls `f` with each key once it is checked.
    pub fn checkpoint(mut self, f: Checkpoint) -> Scrubber {
        self.checkpoint = Some(f);
        self
    }

    /// A healing scrub of `mirror`'s store: rotten objects are quarantined
    /// and fetched again through admission (see the module documentation).
    /// A store that caches a shared one (a replica's local tier in front of
    /// the fleet's bucket) is scrubbed where the fleet keeps it: in the
    /// shared store.
    pub fn healing(mirror: Arc<Mirror>) -> Scrubber {
        let store = mirror
            .store()
            .shared()
            .unwrap_or_else(|| mirror.store().clone());
        let mut s = Scrubber::new(store);
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

    /// One pass over every stored object. Errors only when the store cannot
    /// be listed; a single object's failure is a finding, not an error.
    pub async fn run(&self, progress: &dyn Progress) -> Result<Report, StoreError> {
        let started = Instant::now();
        let mut keys = self.store.list("").await?;
        if let Some(after) = &self.resume_after {
            keys.retain(|k| k > after);
        }
        let u = self.store.unrecorded("").await?;
        let (bytes_without_record, records_without_bytes) =
            (u.bytes_without_record, u.records_without_bytes);
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
            if let Some(f) = &self.checkpoint {
                f(key);
            }
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
                && self.store.object_missing(&key);
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
            if !self.store.is_unrecorded(&f.key) {
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
                        .quarantine_unrecorded(&f.key, "scrub: bytes without a metadata record")
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
            Err(StoreError::BadMeta { source, .. }) => {
                let why = format!("the metadata record is corrupt: {source}");
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
    if let Some(fleet) = mirror.fleet().cloned() {
        return fleet_loop(mirror, fleet, rate, interval, stats).await;
    }
    loop {
        let scrubber = Scrubber::healing(mirror.clone()).rate_limit(rate);
        run_pass(&scrubber, &stats).await;
        tokio::time::sleep(interval).await;
    }
}

/// One pass, logged.
async fn run_pass(scrubber: &Scrubber, stats: &Arc<ScrubStats>) -> bool {
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
            true
        }
        Err(e) => {
            stats.running.store(false, Ordering::Relaxed);
            tracing::error!("scrub pass failed: {e}");
            false
        }
    }
}

/// The scrubber of a fleet ([`crate::fleet::once_per_interval`]): one
/// replica at a time scrubs the shared bucket, once per interval across
/// the fleet; how far the current pass got is shared (`scrub:checkpoint`),
/// so a replica taking over from one that died goes on from there.
async fn fleet_loop(
    mirror: Arc<Mirror>,
    fleet: Arc<crate::fleet::Fleet>,
    rate: Option<u64>,
    interval: Duration,
    stats: Arc<ScrubStats>,
) {
    let f = fleet.clone();
    crate::fleet::once_per_interval(&fleet, "scrub", interval, || {
        let (mirror, fleet, stats) = (mirror.clone(), f.clone(), stats.clone());
        async move {
            let resume = fleet
                .get("scrub:checkpoint")
                .await
                .ok()
                .flatten()
                .filter(|k| !k.is_empty());
            if let Some(k) = &resume {
                tracing::info!(after = k, "scrub: resuming the fleet's interrupted pass");
            }
            let f = fleet.clone();
            let checkpoint: Checkpoint = Arc::new(move |key: &str| {
                let (f, key) = (f.clone(), key.to_owned());
                tokio::spawn(async move {
                    let _ = f.set("scrub:checkpoint", &key).await;
                });
            });
            let scrubber = Scrubber::healing(mirror)
                .rate_limit(rate)
                .resume_after(resume)
                .checkpoint(checkpoint);
            let done = run_pass(&scrubber, &stats).await;
            if done {
                let _ = fleet.set("scrub:checkpoint", "").await;
            }
            done
        }
    })
    .await
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
