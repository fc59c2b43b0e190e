//! `gomirror sumdb keygen`: the key pair of the mirror's own checksum
//! database.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// `gomirror sumdb ...`.
#[derive(Debug, Subcommand)]
pub enum SumdbCommand {
    /// Write a new signer key to FILE (mode 0600, never over an existing
    /// file) and print the verifier key — the value clients put in GOSUMDB
    /// — as the only line on standard output.
    Keygen {
        /// The database's name (e.g. sum.corp.example).
        #[arg(long)]
        name: String,
        /// Where the signer key goes.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Runs `gomirror sumdb ...`.
pub fn run(cmd: SumdbCommand) -> ExitCode {
    match cmd {
        SumdbCommand::Keygen { name, out } => match keygen(&name, &out) {
            Ok(vkey) => {
                println!("{vkey}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gomirror sumdb keygen: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn keygen(name: &str, out: &PathBuf) -> Result<String> {
    if !gomod::note::is_valid_name(name) {
        bail!("--name {name:?}: not a valid key name");
    }
    let (skey, vkey) = gomod::note::generate_key(name).context("generating the key")?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never replaced)",
                out.display()
            )
        })?;
    f.write_all(format!("{skey}\n").as_bytes())?;
    f.sync_all()?;
    Ok(vkey)
}
