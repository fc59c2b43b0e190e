//! `gomirror check-config`: validates the configuration `gomirror serve`
//! would run with (file, environment and flags, resolved the same way)
//! without starting anything; the unit's `ExecStartPre`.

use super::config::{Config, ServeFlags};
use std::process::ExitCode;

/// Checks every setting (and reads the files they name: the admin token,
/// the TLS certificate and key); prints what was checked and exits 0, or
/// prints the offending setting and exits 2.
pub fn run(flags: &ServeFlags) -> ExitCode {
    match check(flags) {
        Ok(cfg) => {
            let file = flags
                .store
                .config
                .clone()
                .or_else(|| std::env::var_os("GOMIRROR_CONFIG").map(Into::into));
            match file {
                Some(f) => println!("configuration OK: {}", f.display()),
                None => println!("configuration OK (no file: environment and flags)"),
            }
            println!(
                "listen {}, data {}, upstreams {}, checksum database {}",
                cfg.listen,
                cfg.data_dir.display(),
                cfg.goproxy,
                cfg.sumdb.as_ref().map_or("off", |d| d.name.as_str())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gomirror: invalid configuration: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn check(flags: &ServeFlags) -> anyhow::Result<Config> {
    let cfg = Config::resolve(flags)?;
    if let Some((cert, key)) = &cfg.tls {
        super::serve::tls_acceptor(cert, key)?;
    }
    Ok(cfg)
}
