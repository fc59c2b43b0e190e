//! The door for a sync's cursor (`gomirror sync`): where following another
//! mirror's index feed stopped, kept in the store so that a restarted sync
//! continues there. Only a well-formed cursor under `sync/` enters.

use super::{meta_of, AdmitError, Admitted};
use serde::{Deserialize, Serialize};

/// How far a sync has followed a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    /// The feed followed (its URL, without query).
    pub index: String,
    /// Where the next page starts (RFC 3339, inclusive); empty: the start.
    pub since: String,
    /// Versions (`path@version`) listed before `since` that could not be
    /// admitted: tried again by the next sync.
    #[serde(default)]
    pub retry: Vec<String>,
}

/// Admits `cursor` under `key`: the key is under `sync/`, `since` is empty
/// or an RFC 3339 time, and every version to retry is a valid
/// `path@version`.
pub fn sync_cursor(key: &str, cursor: &SyncCursor) -> Result<Admitted, AdmitError> {
    let bad = |m: String| AdmitError::SyncCursor(m);
    if !key.starts_with("sync/") {
        return Err(bad(format!("a sync cursor offered under key {key}")));
    }
    if !cursor.since.is_empty() {
        chrono::DateTime::parse_from_rfc3339(&cursor.since)
            .map_err(|e| bad(format!("since {:?}: {e}", cursor.since)))?;
    }
    for mv in &cursor.retry {
        let (p, v) = mv
            .rsplit_once('@')
            .ok_or_else(|| bad(format!("{mv:?} is not path@version")))?;
        gomod::module::check(p, v).map_err(|e| bad(format!("{mv}: {e}")))?;
    }
    let bytes = serde_json::to_vec_pretty(cursor).expect("a cursor serializes");
    let meta = meta_of(&bytes, "gomirror sync");
    Ok(Admitted::in_memory(key, bytes, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_cursor_under_sync_enters() {
        let ok = SyncCursor {
            index: "http://a/index".into(),
            since: "2026-11-29T20:00:00.5Z".into(),
            retry: vec!["example.com/m@v1.0.0".into()],
        };
        assert_eq!(
            sync_cursor("sync/abc/cursor", &ok).unwrap().key(),
            "sync/abc/cursor"
        );
        assert!(sync_cursor("example.com/m/@v/list", &ok).is_err());
        let when = SyncCursor {
            since: "yesterday".into(),
            ..ok.clone()
        };
        assert!(sync_cursor("sync/abc/cursor", &when).is_err());
        let which = SyncCursor {
            retry: vec!["example.com/m@latest".into()],
            ..ok
        };
        assert!(sync_cursor("sync/abc/cursor", &which).is_err());
    }
}
