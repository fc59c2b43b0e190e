//! gomirror: a Go module mirror that never serves a corrupted byte.
//!
//! The binary is a thin shell over this library. The modules follow the
//! request path: [`http`] parses a GOPROXY request, [`mirror`] looks it up
//! and verifies it, fetching misses from [`upstream`] through [`admit`] (the
//! only door into the [`store`]). See README.md for the architecture.

pub mod admit;
pub mod canary;
pub mod cli;
pub mod config;
pub mod direct;
pub mod http;
pub mod mirror;
pub mod ops;
pub mod protocol;
pub mod record;
pub mod scrub;
pub mod serve;
pub mod server;
pub mod store;
pub mod sumdb;
pub mod telemetry;
pub mod upstream;
pub mod util;
pub mod verify;
