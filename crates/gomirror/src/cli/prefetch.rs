//! `gomirror prefetch` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gomirror prefetch`.
#[derive(Debug, Args)]
pub struct PrefetchArgs {}

/// Runs `gomirror prefetch`.
pub fn run(_args: PrefetchArgs) -> ExitCode {
    eprintln!("gomirror prefetch: not available yet");
    ExitCode::from(2)
}
