//! Why content was refused, as typed values: each rule's refusal with its
//! facts, the [`FailureKind`] it is counted under, and the one-line text
//! operators and clients see.

use serde::Serialize;
use std::time::Duration;

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
    /// Every kind.
    pub const ALL: [FailureKind; 8] = [
        FailureKind::Truncated,
        FailureKind::Size,
        FailureKind::Sha256,
        FailureKind::H1,
        FailureKind::ZipCheck,
        FailureKind::GoModMismatch,
        FailureKind::Info,
        FailureKind::Sumdb,
    ];

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

/// Why content was refused. The text (Display) is the reason; [`kind`]
/// says how it is counted.
///
/// [`kind`]: AdmitError::kind
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// The declared length is over the limit for this kind of file.
    #[error("declared length {declared} exceeds the limit of {limit} bytes")]
    DeclaredTooLong { declared: u64, limit: u64 },
    /// More bytes arrived than the limit allows.
    #[error("body exceeds the limit of {limit} bytes")]
    OverLimit { limit: u64 },
    /// More bytes arrived than declared.
    #[error("body is longer than its declared length {declared}")]
    OverDeclared { declared: u64 },
    /// No bytes arrived for the idle timeout.
    #[error("no data for {idle:?} after {received} bytes")]
    Idle { idle: Duration, received: u64 },
    /// The transfer broke.
    #[error("truncated after {received}{} bytes: {cause}", of(*.declared))]
    Broken {
        received: u64,
        declared: Option<u64>,
        cause: String,
    },
    /// The body ended before its declared length.
    #[error("truncated after {received} of {declared} bytes")]
    Short { received: u64, declared: u64 },
    /// The local staging file failed (`staging`, `staging write`, `staging
    /// sync`, `reading staged bytes`): a store failure, not a refusal of
    /// the content ([`AdmitError::kind`] is `None`).
    #[error("{step}: {cause}")]
    Staging { step: &'static str, cause: String },
    /// An `.info` or `@latest` that is not JSON of the right shape.
    #[error("not valid info JSON: {0}")]
    InfoJson(String),
    /// A `Version` that is not canonical.
    #[error("Version {0:?} is not a canonical version")]
    NotCanonical(String),
    /// An `.info` for another version than the one asked for.
    #[error("Version {got:?} is not the version asked for ({want})")]
    OtherVersion { got: String, want: String },
    /// A `Time` that is not RFC 3339.
    #[error("Time {0:?} is not an RFC 3339 time")]
    BadTime(String),
    /// A `list` that is not UTF-8.
    #[error("list is not UTF-8")]
    ListNotUtf8,
    /// A `list` naming more versions than the mirror keeps.
    #[error("list names more than {limit} versions")]
    TooManyVersions { limit: usize },
    /// A version that does not fit the module path (`module.Check`), or a
    /// name that cannot be a key.
    #[error("{0}")]
    BadVersion(String),
    /// The zip breaks the module zip rules (the go command's text), or could
    /// not be read back.
    #[error("{0}")]
    Zip(String),
    /// The `.mod` is not the go.mod inside the stored zip.
    #[error("go.mod {h1} differs from the go.mod in the stored zip")]
    ModNotZips { h1: String },
    /// The zip's go.mod is not the stored `.mod`.
    #[error("the zip's go.mod {h1} differs from the stored .mod")]
    ZipNotMod { h1: String },
    /// The checksum database has another hash for this file.
    #[error("{what}: {h1} from {origin}, but checksum database {db} has {}", want.as_deref().unwrap_or("no hash"))]
    SumdbMismatch {
        what: String,
        h1: String,
        origin: String,
        db: String,
        want: Option<String>,
    },
    /// Checksum-database state that does not verify (signature, proof,
    /// consistency, a tile under another key).
    #[error("{0}")]
    SumdbState(String),
    /// This zip was served before with another `h1:` (and evicted since):
    /// once served, never different.
    #[error("{what}: {h1} now, but {before} was served before (from {origin}): once served, never different")]
    ServedBefore {
        what: String,
        h1: String,
        before: String,
        origin: String,
    },
    /// The mirror's own checksum database refuses it (a malformed record
    /// or head, or content other than what it logged).
    #[error("{0}")]
    OwnLog(String),
    /// A kept record of an evicted zip that is not one.
    #[error("{0}")]
    ServedRecord(String),
    /// A sync cursor that is not well formed.
    #[error("sync cursor: {0}")]
    SyncCursor(String),
}

fn of(declared: Option<u64>) -> String {
    declared.map(|d| format!(" of {d}")).unwrap_or_default()
}

impl AdmitError {
    /// How this refusal is counted as an integrity failure of its source;
    /// `None` for a failure of the mirror's own staging area (a full disk is
    /// the store's problem, not the upstream's).
    pub fn kind(&self) -> Option<FailureKind> {
        use AdmitError::*;
        Some(match self {
            Staging { .. } | SyncCursor(_) | ServedRecord(_) => return None,
            ServedBefore { .. } | OwnLog(_) => FailureKind::H1,
            DeclaredTooLong { .. }
            | OverLimit { .. }
            | OverDeclared { .. }
            | TooManyVersions { .. } => FailureKind::Size,
            Idle { .. } | Broken { .. } | Short { .. } => FailureKind::Truncated,
            InfoJson(_)
            | NotCanonical(_)
            | OtherVersion { .. }
            | BadTime(_)
            | ListNotUtf8
            | BadVersion(_) => FailureKind::Info,
            Zip(_) => FailureKind::ZipCheck,
            ModNotZips { .. } | ZipNotMod { .. } => FailureKind::GoModMismatch,
            SumdbMismatch { .. } | SumdbState(_) => FailureKind::Sumdb,
        })
    }

    /// A staging step's failure, described without any path (the text may
    /// reach clients).
    pub(super) fn staging(step: &'static str, e: &std::io::Error) -> AdmitError {
        AdmitError::Staging {
            step,
            cause: crate::util::io_cause(e),
        }
    }
}
