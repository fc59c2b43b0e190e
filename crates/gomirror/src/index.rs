//! The index feed (`GET /index?since=<RFC 3339>&limit=<n>`): the module
//! versions this mirror admitted, in the index.golang.org format — one JSON
//! object `{"Path","Version","Timestamp"}` a line, ascending by the time the
//! version was first admitted.
//!
//! The feed is derived from the store's records, not kept beside them: a
//! version's timestamp is the earliest admission time (seconds and
//! nanoseconds, [`Meta::admitted`]) among its `.info`, `.mod` and `.zip`
//! records. It is therefore as durable as the objects themselves, the same
//! on every replica of a fleet reading one bucket, and rebuilt by the
//! start-up pass over the records ([`Index::note`] for each, then
//! [`Index::set_loaded`]); commits (this replica's, and other replicas' as
//! the fleet's change feed announces them) are noted as they happen.
//! Until the pass is done, [`Index::page`] answers `None` (the handler
//! answers 503): a partial feed would make followers skip versions.
//!
//! Paging is stable: a page never ends inside a group of versions sharing
//! one timestamp (such a group is returned whole, or left for the next
//! page), so a follower asking again `since` one nanosecond after the last
//! timestamp it read misses nothing and sees nothing twice.
//! index.golang.org's `since` is inclusive, and so is this one.
//!
//! Memory: about 150 bytes a version (two maps sharing one string).

use crate::record::Meta;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Entries a page holds when the client does not say (index.golang.org's
/// default and cap).
pub const DEFAULT_LIMIT: usize = 2000;
/// The most a page holds, whatever the client asks.
pub const MAX_LIMIT: usize = 2000;

/// A time: Unix seconds and nanoseconds.
pub type Stamp = (u64, u32);

/// One line of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
}

/// The versions admitted, by first admission time.
#[derive(Default)]
pub struct Index {
    inner: Mutex<Inner>,
    loaded: AtomicBool,
}

#[derive(Default)]
struct Inner {
    /// `path@version` → its timestamp.
    by_version: HashMap<Arc<str>, Stamp>,
    /// (timestamp, `path@version`), in feed order.
    ordered: BTreeSet<(Stamp, Arc<str>)>,
}

impl Index {
    /// Notes a committed object: a versioned file (`.info`, `.mod`, `.zip`)
    /// makes its version's timestamp the earlier of the one known and this
    /// record's admission time. Other keys are ignored.
    pub fn note(&self, key: &str, meta: &Meta) {
        let Some((path, version, _)) = crate::protocol::parse_versioned_key(key) else {
            return;
        };
        let at = meta.admitted();
        let mv: Arc<str> = Arc::from(format!("{path}@{version}"));
        let mut i = self.inner.lock().unwrap();
        match i.by_version.get(&mv).copied() {
            Some(known) if known <= at => {}
            Some(known) => {
                let shared = i.ordered.take(&(known, mv.clone())).map(|(_, s)| s);
                let s = shared.unwrap_or(mv);
                i.ordered.insert((at, s.clone()));
                i.by_version.insert(s, at);
            }
            None => {
                i.ordered.insert((at, mv.clone()));
                i.by_version.insert(mv, at);
            }
        }
    }

    /// The start-up pass over the records is done: the feed is complete.
    pub fn set_loaded(&self) {
        self.loaded.store(true, Ordering::SeqCst);
    }

    /// Whether the start-up pass is done.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }

    /// How many versions the feed lists.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().by_version.len()
    }

    /// The versions admitted at or after `since`, oldest first, at most
    /// `limit` of them (clamped to 1..=[`MAX_LIMIT`]) — except that a
    /// group sharing one timestamp is never split: one that does not fit
    /// is left for the next page, or returned whole when it alone is
    /// larger than the page. `None` until the start-up pass is done.
    pub fn page(&self, since: Stamp, limit: usize) -> Option<Vec<Entry>> {
        if !self.is_loaded() {
            return None;
        }
        let limit = limit.clamp(1, MAX_LIMIT);
        let i = self.inner.lock().unwrap();
        let start = (since, Arc::<str>::from(""));
        let mut out: Vec<(Stamp, &str)> = vec![];
        for (at, mv) in i.ordered.range(start..) {
            if out.len() >= limit {
                let last = out.last().map(|(t, _)| *t);
                if last != Some(*at) {
                    break;
                }
                // The group at the cut continues past the limit: drop it
                // from this page unless it is all the page holds.
                let group_start = out.iter().position(|(t, _)| Some(*t) == last);
                if group_start != Some(0) {
                    out.truncate(group_start.unwrap_or(out.len()));
                    break;
                }
            }
            out.push((*at, mv));
        }
        Some(
            out.into_iter()
                .map(|(at, mv)| {
                    let (path, version) = mv.rsplit_once('@').expect("path@version");
                    Entry {
                        path: path.to_owned(),
                        version: version.to_owned(),
                        timestamp: format_stamp(at),
                    }
                })
                .collect(),
        )
    }
}

/// RFC 3339 in UTC with as many fraction digits as needed (as Go's
/// `time.RFC3339Nano`, trailing zeros trimmed).
pub fn format_stamp((secs, nanos): Stamp) -> String {
    let t = DateTime::<Utc>::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), nanos)
        .unwrap_or_default();
    let s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // "…T19:08:52.997264000Z" → "…T19:08:52.997264Z"; ".000000000Z" → "Z".
    match s.rsplit_once('.') {
        Some((whole, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{whole}Z")
            } else {
                format!("{whole}.{digits}Z")
            }
        }
        None => s,
    }
}

/// Parses an RFC 3339 time (any offset, any fraction) to a stamp; times
/// before 1970 are 1970.
pub fn parse_stamp(s: &str) -> Result<Stamp, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("since={s:?}: not an RFC 3339 time ({e})"))?;
    let t = t.with_timezone(&Utc);
    if t.timestamp() < 0 {
        return Ok((0, 0));
    }
    Ok((t.timestamp() as u64, t.timestamp_subsec_nanos()))
}

/// The stamp one nanosecond after `at` (where a follower's next page
/// starts).
pub fn next_stamp((secs, nanos): Stamp) -> Stamp {
    if nanos >= 999_999_999 {
        (secs + 1, 0)
    } else {
        (secs, nanos + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_at(secs: u64, nanos: u32) -> Meta {
        Meta {
            admitted_at: secs,
            admitted_nanos: nanos,
            ..crate::admit::testing::meta_of(b"x", "test")
        }
    }

    fn loaded() -> Index {
        let ix = Index::default();
        ix.set_loaded();
        ix
    }

    fn versions(p: &[Entry]) -> Vec<String> {
        p.iter()
            .map(|e| format!("{}@{}", e.path, e.version))
            .collect()
    }

    #[test]
    fn a_version_is_listed_once_at_its_first_admission() {
        let ix = loaded();
        ix.note("example.com/a/@v/v1.0.0.zip", &meta_at(30, 0));
        ix.note("example.com/a/@v/v1.0.0.info", &meta_at(10, 5));
        ix.note("example.com/a/@v/v1.0.0.mod", &meta_at(20, 0));
        ix.note("example.com/!b/@v/v1.0.0-!r!c.mod", &meta_at(15, 0));
        ix.note("example.com/a/@v/list", &meta_at(1, 0));
        ix.note("sumdb/x/latest", &meta_at(1, 0));
        let p = ix.page((0, 0), 10).unwrap();
        assert_eq!(
            versions(&p),
            ["example.com/a@v1.0.0", "example.com/B@v1.0.0-RC"]
        );
        assert_eq!(p[0].timestamp, "1970-01-01T00:00:10.000000005Z");
        assert_eq!(p[1].timestamp, "1970-01-01T00:00:15Z");
        assert_eq!(ix.len(), 2);
        // since is inclusive.
        let p = ix.page((15, 0), 10).unwrap();
        assert_eq!(versions(&p), ["example.com/B@v1.0.0-RC"]);
        assert!(ix.page((15, 1), 10).unwrap().is_empty());
    }

    #[test]
    fn nothing_is_answered_before_the_records_were_read() {
        let ix = Index::default();
        ix.note("example.com/a/@v/v1.0.0.mod", &meta_at(1, 0));
        assert!(ix.page((0, 0), 10).is_none());
        ix.set_loaded();
        assert_eq!(ix.page((0, 0), 10).unwrap().len(), 1);
    }

    /// Following page by page (since = one nanosecond after the last
    /// timestamp read) sees every version exactly once, whatever the
    /// limit, when several share a timestamp.
    #[test]
    fn paging_skips_and_repeats_nothing_when_timestamps_are_shared() {
        let ix = loaded();
        let mut all = vec![];
        for i in 0..40u32 {
            // Groups of 1, 2, 3, ... sharing one timestamp.
            let at = (100 + u64::from((i as f64).sqrt() as u32), 7);
            let key = format!("example.com/m{i:02}/@v/v1.0.0.mod");
            ix.note(&key, &meta_at(at.0, at.1));
            all.push(format!("example.com/m{i:02}@v1.0.0"));
        }
        all.sort();
        for limit in 1..=12 {
            let (mut seen, mut since) = (vec![], (0, 0));
            for _ in 0..100 {
                let p = ix.page(since, limit).unwrap();
                let Some(last) = p.last() else { break };
                since = next_stamp(parse_stamp(&last.timestamp).unwrap());
                seen.extend(versions(&p));
            }
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(sorted, all, "limit {limit}: {seen:?}");
        }
        // A group larger than the page comes whole.
        assert_eq!(ix.page((106, 0), 2).unwrap().len(), 4);
    }

    #[test]
    fn timestamps_round_trip() {
        for s in [
            (0, 0),
            (1_700_000_000, 1),
            (1_700_000_000, 999_999_999),
            (1_700_000_000, 120_000_000),
        ] {
            assert_eq!(parse_stamp(&format_stamp(s)).unwrap(), s);
        }
        assert_eq!(
            format_stamp((1_700_000_000, 120_000_000)),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            parse_stamp("2023-11-14T23:13:20.12+01:00").unwrap(),
            (1_700_000_000, 120_000_000)
        );
        assert!(parse_stamp("yesterday").is_err());
        assert_eq!(next_stamp((5, 999_999_999)), (6, 0));
    }
}
