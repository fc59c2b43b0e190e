//! `gomirror watch`: the CDN canary from the command line (see
//! [`crate::canary`]): fetches objects back through the CDN and compares
//! them with the store's records.

use crate::canary::{render, Canary, CanaryConfig, Report};
use crate::cli::config::StoreFlags;
use crate::telemetry::{AlertConfig, Events, Metrics};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `gomirror watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The CDN's public base URL; an object's URL is `<cdn>/<store key>`
    #[arg(long, value_name = "URL")]
    pub cdn: String,
    /// Pin connections to this edge (HOST:PORT), keeping the CDN URL's host
    /// name, like curl --resolve; repeat for several edges: each object is
    /// fetched from each
    #[arg(long, value_name = "HOST:PORT")]
    pub edge: Vec<String>,
    /// Pause between passes
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Objects per pass: half the largest zips and newest objects, half
    /// rotating over every key [default: every object]
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// One pass, then exit: 0 when every object matched, 1 on any finding
    /// (even one healed by purge)
    #[arg(long)]
    pub once: bool,
    /// Print each pass as one JSON object
    #[arg(long)]
    pub json: bool,
    /// Read at most this many body bytes per second, e.g. `20M`
    /// [default: unlimited]
    #[arg(long, value_name = "BYTES_PER_SEC", value_parser = super::verify::parse_rate)]
    pub rate: Option<u64>,
    /// Connect timeout, and the longest wait for headers or body bytes
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Comma-separated URLs that receive each finding as a JSON POST
    #[arg(long, value_name = "URLS", env = "GOMIRROR_ALERT_WEBHOOKS")]
    pub alert_webhooks: Option<String>,
    /// Purge hook: JSON POST `{"urls": [...]}` of the objects found bad,
    /// which are then re-checked
    #[arg(long, value_name = "URL", env = "GOMIRROR_CDN_PURGE_WEBHOOK")]
    pub cdn_purge_webhook: Option<String>,
    /// Delay between a purge and the re-check
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub recheck_after: Duration,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Runs `gomirror watch`.
pub fn run(args: WatchArgs) -> ExitCode {
    let json = args.json;
    match watch(args) {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("gomirror watch: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn print(r: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).expect("reports serialise"));
    } else {
        print!("{}", render(r));
    }
}

fn watch(args: WatchArgs) -> Result<ExitCode> {
    let (store, _) = crate::cli::serve::open_store_for_tool(&args.store)?;
    let webhooks: Vec<String> = args
        .alert_webhooks
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    for u in &webhooks {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            bail!("invalid --alert-webhooks entry {u:?}: expected an http(s) URL");
        }
    }
    if std::env::var_os("GOMIRROR_LOG").is_some() {
        crate::cli::serve::init_logging(crate::cli::config::LogFormat::Human);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let _guard = rt.enter();
    let metrics = Arc::new(Metrics::new());
    let events = Events::new(
        1000,
        AlertConfig {
            webhooks: webhooks.clone(),
            ..AlertConfig::default()
        },
        metrics.clone(),
    );
    let cfg = CanaryConfig {
        edges: args.edge.clone(),
        sample: args.sample,
        rate: args.rate,
        purge_webhook: args.cdn_purge_webhook.clone(),
        recheck_after: args.recheck_after,
        timeout: args.timeout,
        ..CanaryConfig::new(&args.cdn)
    };
    let canary = Canary::new(store, cfg, metrics.clone(), events.clone())?;
    let json = args.json;
    if args.once {
        let report = rt.block_on(canary.pass());
        print(&report, json);
        rt.block_on(flush_alerts(&events));
        return Ok(if report.clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = canary.run_loop(args.interval, |r| print(r, json)) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        flush_alerts(&events).await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Sends what the alert budget still holds back as summaries and waits
/// (≤ 60 s) for the alert deliveries in flight before exiting.
async fn flush_alerts(events: &Events) {
    events.flush(Duration::from_secs(60)).await;
}
