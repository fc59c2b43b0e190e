//! gomirror: a Go module mirror that never serves a corrupted byte.
//!
//! The binary is a thin shell over this library ([`cli::main`]). The public
//! API is deliberately small: [`cli`] (the command line), [`telemetry`]
//! (the metric catalogue that dashboards and alert rules are written
//! against) and [`canary`] (the CDN canary as a library). Everything else
//! is crate-private; see README.md for the architecture and the import
//! structure (no cycles among these modules).
//!
//! The two invariants are types: only `admit` makes the value the
//! store accepts for writing (`admit::Admitted`), and only `verify` makes a
//! response body (`verify::Verified`).

pub(crate) mod access;
pub(crate) mod admit;
pub(crate) mod canary;
pub(crate) mod chart;
pub mod cli;
pub(crate) mod direct;
pub(crate) mod egress;
pub(crate) mod file_read;
pub(crate) mod fleet;
pub(crate) mod history;
pub(crate) mod http;
pub(crate) mod index;
pub(crate) mod mirror;
pub(crate) mod ops;
pub(crate) mod ownlog;
pub(crate) mod protocol;
pub(crate) mod record;
pub(crate) mod scrub;
pub(crate) mod server;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod sumdb;
pub mod telemetry;
pub(crate) mod upstream;
pub(crate) mod util;
pub(crate) mod verify;
