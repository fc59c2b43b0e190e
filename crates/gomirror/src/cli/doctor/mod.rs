//! `gomirror doctor`: fetch one module version from several mirrors, show
//! what curl -v would show about each transfer, check what arrived, and say
//! which mirror is wrong and how.
//!
//! The incident this answers: a CDN edge served a module zip with a correct
//! `200`, `Content-Type` and `Content-Length`, then broke the stream half
//! way (`stream error: stream ID 1; INTERNAL_ERROR`), while another mirror
//! served the same file fine. A user should be able to prove that with one
//! command.
//!
//! For each proxy, `.info`, `.mod` and `.zip` are fetched (redirects are
//! followed and recorded), the body is streamed by hand so that time to
//! first byte, throughput and the bytes received are known even when the
//! transfer breaks, and the error's whole source chain is kept (an HTTP/2
//! stream reset is only visible there). Then the content is checked: the
//! `.info` names the version, the zip follows the go command's rules, the
//! `h1:` of the zip and of the go.mod are compared with the checksum
//! database when it can be reached, else with what the other proxies
//! served (the majority wins; a cut-off zip whose bytes are a prefix of one
//! proxy's copy counts as agreeing with it), and `Repr-Digest` /
//! `Content-Digest` headers are checked against the body.
//!
//! Exit code: 0 when every proxy is right, 1 when any is wrong, 2 for bad
//! usage.
//!
//! The steps, one file each: [`plan`] (what to fetch and compare with),
//! [`probe`] (fetching with the transport's facts), [`database`] (the
//! checksum database's record), [`check`] (each body on its own),
//! [`judge`] (comparing the proxies and the verdicts), [`render`] (human
//! and JSON output); [`report`] holds what they fill in.

mod check;
mod database;
mod judge;
mod plan;
mod probe;
mod render;
mod report;

use crate::protocol::FileKind;
use clap::Args;
use plan::Plan;
use report::{References, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `gomirror doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// `<module path>@<version>`, e.g. `github.com/bytedance/sonic@v1.12.5`.
    pub module: String,
    /// A proxy to check (repeatable; GOPROXY syntax is accepted, so
    /// `https://a,https://b` names two). Default: the http(s) entries of
    /// GOPROXY, https://proxy.golang.org and https://goproxy.cn.
    #[arg(long = "proxy", value_name = "URL")]
    pub proxy: Vec<String>,
    /// Checksum database to compare with: `sum.golang.org`,
    /// `sum.golang.google.cn`, `<vkey>`, `<vkey> <url>`, or `off` (compare
    /// the proxies with each other only). Default: $GOSUMDB, else
    /// sum.golang.org. Not consulted for modules matching $GONOSUMDB
    /// (default $GOPRIVATE).
    #[arg(long, value_name = "VALUE")]
    pub gosumdb: Option<String>,
    /// Bound on each request: connecting, the response headers and the
    /// whole body (e.g. `60s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// PEM file of extra CA certificates to trust (a mirror behind a
    /// private CA), in addition to the system's.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Print one JSON object with everything measured, per proxy.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gomirror doctor`.
pub fn run(args: DoctorArgs) -> ExitCode {
    let plan = match Plan::new(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gomirror doctor: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gomirror doctor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = match rt.block_on(diagnose(&plan)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gomirror doctor: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match render::json(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("gomirror doctor: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render::render(&report));
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Checks every proxy and looks the version up in the checksum database,
/// all at once, then judges.
async fn diagnose(plan: &Plan) -> anyhow::Result<Report> {
    let client = probe::http_client(plan)?;
    let paths = gomod::module::ProxyPaths::new(&plan.module, &plan.version)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = database::lookup_sumdb(plan);
    let proxies = futures_util::future::join_all(
        plan.proxies
            .iter()
            .map(|base| check::check_proxy(&client, base, &paths, plan)),
    );
    let (sumdb, proxies) = tokio::join!(db, proxies);
    let (sumdb, vouch) = sumdb;
    let mut report = Report {
        module: plan.module.clone(),
        version: plan.version.clone(),
        ok: false,
        warnings: plan.warnings.clone(),
        sumdb,
        reference: References::default(),
        proxies,
    };
    judge::judge(&mut report, vouch.as_ref());
    Ok(report)
}

/// The file name suffix of a kind of file (`.zip`), as shown to the user.
fn ext(kind: FileKind) -> String {
    format!(".{}", kind.as_str())
}

/// Milliseconds, to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A size for people (`1.5 MiB`).
fn human_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1 << 20 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else if n < 1 << 30 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64)
    }
}
