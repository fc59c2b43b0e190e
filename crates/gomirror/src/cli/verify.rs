//! `gomirror verify` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gomirror verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {}

/// Runs `gomirror verify`.
pub fn run(_args: VerifyArgs) -> ExitCode {
    eprintln!("gomirror verify: not available yet");
    ExitCode::from(2)
}
