//! Admission: the only door into the cache.
//!
//! Every byte the mirror stores passes through here first. An upstream body
//! is streamed into a staging file while it is hashed, with a hard size
//! limit, an idle timeout and a check of the declared length. Then the
//! content is checked by kind:
//!
//! * `.zip`: the module zip rules (prefix, names, case-fold collisions, real
//!   sizes), its `h1:`, and its go.mod against an already stored `.mod`;
//! * `.mod`: size, `h1:`, and equality with an already stored zip's go.mod;
//! * `.info` / `@latest`: JSON whose `Version` is canonical (and, for
//!   `.info`, is the version asked for);
//! * `list`: text lines, keeping only valid versions.
//!
//! Whatever fails is not stored; the error says what kind of failure it was
//! so that it can be counted and the next upstream tried.

use crate::store::{Meta, Staged, Store};
use crate::upstream::Body;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::time::Duration;

/// Largest module zip, as the go command enforces (500 MiB).
pub const MAX_ZIP: u64 = 500 << 20;
/// Largest go.mod, as the go command enforces (16 MiB).
pub const MAX_MOD: u64 = 16 << 20;
/// Largest `.info` / `@latest` JSON accepted.
pub const MAX_INFO: u64 = 64 << 10;
/// Largest `list` accepted.
pub const MAX_LIST: u64 = 16 << 20;

/// The kind of an integrity failure, as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The body ended before its declared length, or the transfer broke.
    Truncated,
    /// More bytes than declared, or than the size limit allows.
    Size,
    /// Stored bytes no longer match their recorded sha256.
    Sha256,
    /// The `h1:` hash does not match what it must be.
    H1,
    /// The zip breaks the module zip rules.
    ZipCheck,
    /// The `.mod` differs from the go.mod inside the zip.
    GoModMismatch,
    /// The `.info`, `@latest` or `list` is malformed or for another version.
    Info,
    /// The checksum database disagrees.
    Sumdb,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Truncated => "truncated",
            FailureKind::Size => "size",
            FailureKind::Sha256 => "sha256",
            FailureKind::H1 => "h1",
            FailureKind::ZipCheck => "zip_check",
            FailureKind::GoModMismatch => "gomod_mismatch",
            FailureKind::Info => "info",
            FailureKind::Sumdb => "sumdb",
        }
    }
}

/// Why content was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {msg}")]
pub struct AdmitError {
    pub kind: FailureKind,
    pub msg: String,
}

fn fail(kind: FailureKind, msg: impl Into<String>) -> AdmitError {
    AdmitError {
        kind,
        msg: msg.into(),
    }
}

/// What was received: the staged bytes and their digest.
pub struct Received {
    pub staged: Staged,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Streams `body` into a new staging file of `store`, hashing as it goes.
///
/// Refuses (and discards) the body when it exceeds `limit`, when it exceeds
/// or falls short of its declared length, when the transfer breaks, or when
/// no bytes arrive for `idle` — never trusting the declared length.
pub async fn receive(
    store: &dyn Store,
    mut body: Body,
    limit: u64,
    idle: Duration,
) -> Result<Received, AdmitError> {
    if let Some(d) = body.declared_len {
        if d > limit {
            return Err(fail(
                FailureKind::Size,
                format!("declared length {d} exceeds the limit of {limit} bytes"),
            ));
        }
    }
    let mut staged = store
        .stage()
        .map_err(|e| fail(FailureKind::Truncated, format!("staging: {e}")))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut w = std::io::BufWriter::with_capacity(
        256 << 10,
        staged
            .file_mut()
            .try_clone()
            .map_err(|e| fail(FailureKind::Truncated, format!("staging: {e}")))?,
    );
    loop {
        let next = match tokio::time::timeout(idle, body.stream.next()).await {
            Err(_) => {
                return Err(fail(
                    FailureKind::Truncated,
                    format!("no data for {idle:?} after {size} bytes"),
                ));
            }
            Ok(n) => n,
        };
        let chunk = match next {
            None => break,
            Some(Err(e)) => {
                let of = body
                    .declared_len
                    .map(|d| format!(" of {d}"))
                    .unwrap_or_default();
                return Err(fail(
                    FailureKind::Truncated,
                    format!("truncated after {size}{of} bytes: {e}"),
                ));
            }
            Some(Ok(c)) => c,
        };
        size += chunk.len() as u64;
        if size > limit {
            return Err(fail(
                FailureKind::Size,
                format!("body exceeds the limit of {limit} bytes"),
            ));
        }
        if let Some(d) = body.declared_len {
            if size > d {
                return Err(fail(
                    FailureKind::Size,
                    format!("body is longer than its declared length {d}"),
                ));
            }
        }
        hasher.update(&chunk);
        w.write_all(&chunk)
            .map_err(|e| fail(FailureKind::Truncated, format!("staging write: {e}")))?;
    }
    if let Some(d) = body.declared_len {
        if size < d {
            return Err(fail(
                FailureKind::Truncated,
                format!("truncated after {size} of {d} bytes"),
            ));
        }
    }
    w.flush()
        .map_err(|e| fail(FailureKind::Truncated, format!("staging write: {e}")))?;
    drop(w);
    staged
        .file()
        .sync_all()
        .map_err(|e| fail(FailureKind::Truncated, format!("staging sync: {e}")))?;
    Ok(Received {
        staged,
        size,
        sha256: hasher.finalize().into(),
    })
}

/// The `.info` JSON of the GOPROXY protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Checks an `.info` or `@latest` answer: JSON with a canonical `Version`
/// (equal to `want` when given), and a `Time` that looks like RFC 3339.
pub fn check_info(data: &[u8], want: Option<&str>) -> Result<Info, AdmitError> {
    let info: Info = serde_json::from_slice(data)
        .map_err(|e| fail(FailureKind::Info, format!("not valid info JSON: {e}")))?;
    if gomod::module::canonical_version(&info.version) != info.version || info.version.is_empty() {
        return Err(fail(
            FailureKind::Info,
            format!("Version {:?} is not a canonical version", info.version),
        ));
    }
    if let Some(want) = want {
        if info.version != want {
            return Err(fail(
                FailureKind::Info,
                format!(
                    "Version {:?} is not the version asked for ({want})",
                    info.version
                ),
            ));
        }
    }
    if let Some(t) = &info.time {
        let ok = t.len() >= 20 && t.as_bytes()[4] == b'-' && t.as_bytes()[10] == b'T';
        if !ok {
            return Err(fail(
                FailureKind::Info,
                format!("Time {t:?} is not an RFC 3339 time"),
            ));
        }
    }
    Ok(info)
}

/// Cleans a `list` answer: one version per line, keeping the first field
/// of each line when it is a valid semantic version (as the go command
/// reads it), without duplicates, sorted.
pub fn clean_list(data: &[u8]) -> Result<Vec<String>, AdmitError> {
    let text =
        std::str::from_utf8(data).map_err(|_| fail(FailureKind::Info, "list is not UTF-8"))?;
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| gomod::semver::is_valid(v))
        .map(str::to_owned)
        .collect();
    gomod::semver::sort(&mut out);
    out.dedup();
    Ok(out)
}

/// What a checked zip tells the mirror.
pub struct ZipFacts {
    pub h1: String,
    /// `h1:` of the module's go.mod: the zip's, or the synthesised one.
    pub gomod_h1: String,
}

/// Checks a staged module zip by the go command's rules (plus full content
/// verification: sizes and CRC-32 of every entry), hashes it, and takes its
/// go.mod (or the synthesised one), reading the zip once. Runs on a
/// blocking thread.
pub fn check_zip(
    path: &str,
    version: &str,
    staged: &std::path::Path,
) -> Result<ZipFacts, AdmitError> {
    let f = std::fs::File::open(staged)
        .map_err(|e| fail(FailureKind::ZipCheck, format!("reopening staged zip: {e}")))?;
    let summary = gomod::zip::check_and_hash_zip(
        path,
        version,
        std::io::BufReader::with_capacity(256 << 10, f),
    )
    .map_err(|e| fail(FailureKind::ZipCheck, e.to_string()))?;
    summary
        .checked
        .err()
        .map_err(|e| fail(FailureKind::ZipCheck, e.to_string()))?;
    let h1 = summary
        .h1
        .ok_or_else(|| fail(FailureKind::ZipCheck, "zip was not hashed"))?;
    let gomod = summary
        .go_mod
        .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(path));
    Ok(ZipFacts {
        h1,
        gomod_h1: gomod::dirhash::hash_go_mod(&gomod),
    })
}

/// Builds the metadata record for received bytes.
pub fn meta(received: &Received, h1: Option<String>, origin: &str) -> Meta {
    Meta {
        size: received.size,
        sha256: hex::encode(received.sha256),
        h1,
        gomod_h1: None,
        origin: origin.to_owned(),
        admitted_at: crate::util::now_unix(),
        sumdb_tree_size: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_rules() {
        assert!(check_info(
            br#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#,
            Some("v1.0.0")
        )
        .is_ok());
        assert!(check_info(br#"{"Version":"v1.0.0"}"#, None).is_ok());
        assert_eq!(
            check_info(br#"{"Version":"v1.0"}"#, None).unwrap_err().kind,
            FailureKind::Info
        );
        assert_eq!(
            check_info(br#"{"Version":"v1.0.1"}"#, Some("v1.0.0"))
                .unwrap_err()
                .kind,
            FailureKind::Info
        );
        assert_eq!(
            check_info(b"<html>", None).unwrap_err().kind,
            FailureKind::Info
        );
        assert_eq!(
            check_info(br#"{"Version":"v1.0.0","Time":"yesterday"}"#, None)
                .unwrap_err()
                .kind,
            FailureKind::Info
        );
    }

    #[test]
    fn list_is_cleaned() {
        let l = clean_list(b"v1.1.0\nv1.0.0 2020-01-01T00:00:00Z\n\ngarbage\nv1.0.0\nv1.10.0\n")
            .unwrap();
        assert_eq!(l, vec!["v1.0.0", "v1.1.0", "v1.10.0"]);
    }
}
