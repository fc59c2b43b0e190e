//! `gomirror doctor` (being written).

use clap::Args;
use std::process::ExitCode;

/// Arguments of `gomirror doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {}

/// Runs `gomirror doctor`.
pub fn run(_args: DoctorArgs) -> ExitCode {
    eprintln!("gomirror doctor: not available yet");
    ExitCode::from(2)
}
