//! What a scrub pass found.

use crate::admit::FailureKind;
use serde::Serialize;

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

/// Bytes under `objects/` that no metadata record names (not an object for
/// the mirror: never served).
#[derive(Debug, Clone, Serialize)]
pub struct Unrecorded {
    /// Where they are: their path under `objects/` (see
    /// [`crate::store::UnrecordedFile::key`]).
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
