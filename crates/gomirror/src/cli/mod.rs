//! Command-line interface: argument parsing and dispatch.

mod assets;
mod bundle;
mod check_config;
pub(crate) mod config;
mod conn;
mod doctor;
pub(crate) mod logsink;
mod modcmd;
mod otel;
mod prefetch;
pub(crate) mod serve;
mod sumdbcmd;
mod sync;
mod verify;
mod watch;

use crate::cli::config::{Config, ServeFlags};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A Go module mirror that never serves a corrupted byte.
#[derive(Debug, Parser)]
#[command(name = "gomirror", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the GOPROXY protocol from a verified cache filled from upstreams.
    ///
    /// Every setting below can also come from the environment (the name in
    /// brackets) or from the TOML file given by --config (the flag's name
    /// with `_` for `-`). Flags win over the environment, which wins over
    /// the file.
    Serve {
        #[command(flatten)]
        flags: Box<ServeFlags>,
        /// Print the resolved configuration and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Build, hash and check module zips exactly as the go command does.
    #[command(subcommand)]
    Mod(modcmd::ModCommand),
    /// Fetch a module version from several mirrors and say which is wrong.
    Doctor(doctor::DoctorArgs),
    /// Re-verify every object in the store (scrub); --fix heals rot.
    Verify(verify::VerifyArgs),
    /// Warm the cache from a go.mod, a go.sum or a list of module@version.
    Prefetch(prefetch::PrefetchArgs),
    /// Follow another mirror's index feed and admit every version it lists.
    Sync(sync::SyncArgs),
    /// The mirror's own checksum database: key generation.
    #[command(subcommand)]
    Sumdb(sumdbcmd::SumdbCommand),
    /// Write stored versions and the checksum-database proofs that verify
    /// them offline into one bundle (for an air-gapped mirror).
    Export(bundle::ExportArgs),
    /// Check a bundle (proofs, every object against its proven h1:) and
    /// admit what it holds; refuse an altered one, naming what changed.
    Import(bundle::ImportArgs),
    /// Check the CDN: fetch cached objects through it (per edge) and compare
    /// them with the store's records; purge and re-check what is wrong.
    Watch(watch::WatchArgs),
    /// Check the configuration `serve` would run with (file, environment,
    /// flags) and exit: 0 when valid, 2 naming the offending setting.
    CheckConfig {
        #[command(flatten)]
        flags: Box<ServeFlags>,
    },
    /// Write man pages, shell completions and the commented configuration
    /// file into DIR (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Output directory.
        out: std::path::PathBuf,
        /// The data directory the configuration file sets (the package's).
        #[arg(long)]
        data_dir: Option<String>,
    },
}

/// Parses the command line, runs the command and maps its outcome to an
/// exit code: 0 success, 1 a failed check or operation, 2 bad usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mod(cmd) => modcmd::run(cmd),
        Command::Doctor(args) => doctor::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Prefetch(args) => prefetch::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Sumdb(cmd) => sumdbcmd::run(cmd),
        Command::Export(args) => bundle::export(args),
        Command::Import(args) => bundle::import(args),
        Command::Watch(args) => watch::run(args),
        Command::CheckConfig { flags } => check_config::run(&flags),
        Command::GenerateAssets { out, data_dir } => assets::run(&out, data_dir.as_deref()),
        Command::Serve {
            flags,
            print_config,
        } => {
            let cfg = match Config::resolve(&flags) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gomirror: invalid configuration: {e:#}");
                    return ExitCode::from(2);
                }
            };
            if print_config {
                println!("{cfg:#?}");
                return ExitCode::SUCCESS;
            }
            crate::cli::serve::limit_malloc_arenas();
            crate::cli::serve::init_server_logging(cfg.log_format);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("gomirror: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // The listener runs on a worker thread, not this one: the
            // thread blocked here sleeps on a futex, and a connection
            // accepted on it costs a wake-up of its own before a worker
            // sees the request.
            let result = rt.block_on(async {
                match tokio::spawn(crate::cli::serve::run(cfg)).await {
                    Ok(r) => r,
                    Err(e) => Err(anyhow::anyhow!("the server task ended: {e}")),
                }
            });
            // Whatever is still running (a cut connection's file read, a
            // git process) gets a second, not forever.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            crate::cli::serve::flush_server_log(std::time::Duration::from_secs(5));
            otel::shutdown();
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gomirror: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
