//! Why a request could not be answered with content, as typed values: the
//! HTTP layer maps the three classes to 404, 502 and 503, and the text of
//! each is the one-line reason sent to the client.

use crate::admit::AdmitError;
use crate::protocol::NameError;
use crate::store::StoreError;
use crate::sumdb::SumdbError;
use crate::upstream::FetchError;
use crate::verify::ReadError;
use std::fmt;
use std::sync::Arc;

/// Why a request could not be answered with content.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// No upstream has it (every one answered 404/410), or it cannot exist.
    #[error("{0}")]
    NotFound(NotFound),
    /// Upstreams failed or served only content that failed admission.
    #[error("{0}")]
    Upstream(Upstream),
    /// The store failed.
    #[error("{0}")]
    Store(Arc<StoreFailure>),
}

/// What makes a request a "not found".
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotFound {
    /// The path or version cannot name a module file.
    #[error("{0}")]
    Name(#[from] NameError),
    /// Every upstream said it does not have it.
    #[error("{0}")]
    Walk(Walk),
    /// The checksum database has no such version.
    #[error("{0}")]
    Sumdb(SumdbError),
    /// Asked through `/cached-only/`, and not stored.
    #[error("{0}: not in this mirror's cache (/cached-only/ never asks an upstream)")]
    NotCached(String),
}

/// What makes a request an upstream failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Upstream {
    /// Upstreams failed, or served content that failed admission.
    #[error("{0}")]
    Walk(Walk),
    /// The checksum database is unreachable (strict mode), lying or forked.
    #[error("{0}")]
    Sumdb(SumdbError),
    /// The fetch task ended without an answer (it panicked).
    #[error("fetch task failed: {0}")]
    Task(String),
    /// The fetch passed its total deadline (GOMIRROR_UPSTREAM_TOTAL_TIMEOUT
    /// or GOMIRROR_UPSTREAM_ZIP_TOTAL_TIMEOUT): queueing, retries and the
    /// upstreams of the chain took longer than that in all.
    #[error("{what}: no complete answer within {}s (last asked: {upstream})", .after.as_secs_f64())]
    TimedOut {
        what: String,
        upstream: String,
        after: std::time::Duration,
    },
    /// Every client waiting for the fetch went away before it started.
    #[error("{0}: fetch abandoned: no client waits for it any more")]
    Abandoned(String),
    /// What was just admitted did not verify on the way out.
    #[error("{what}: {object} failed verification")]
    Unverified {
        what: String,
        /// `admitted object` or `stored answer`.
        object: &'static str,
    },
}

/// A failing store.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The staging area failed while content was received or prepared
    /// (a full disk, an I/O error).
    #[error("{0}")]
    Staging(AdmitError),
}

impl StoreFailure {
    /// The store operation that failed, as counted in
    /// `gomirror_store_errors_total{op}`.
    pub fn op(&self) -> &'static str {
        match self {
            StoreFailure::Store(StoreError::Io { op, .. }) => op,
            StoreFailure::Store(StoreError::Remote { op, .. }) => op,
            StoreFailure::Store(_) => "record",
            StoreFailure::Read(_) => "read",
            StoreFailure::Staging(_) => "stage",
        }
    }
}

impl From<NameError> for Failure {
    fn from(e: NameError) -> Failure {
        Failure::NotFound(NotFound::Name(e))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(Arc::new(StoreFailure::Store(e)))
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Failure {
        Failure::Store(Arc::new(StoreFailure::Read(e)))
    }
}

/// One upstream's answer in a chain walk.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Attempt {
    /// It does not have this (404/410).
    #[error("{0}")]
    NotFound(FetchError),
    /// It failed (transport, timeout, status).
    #[error("{0}")]
    Failed(FetchError),
    /// Its content failed admission.
    #[error("{upstream}: refused: {error}")]
    Refused { upstream: String, error: AdmitError },
}

/// The upstreams' answers for one file, in chain order.
#[derive(Debug, Clone)]
pub struct Walk {
    /// The file asked for (`module@version.zip`, `module/@v/list`, ...).
    pub what: String,
    pub attempts: Vec<Attempt>,
}

impl fmt::Display for Walk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.what)?;
        for (i, a) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}
