//! `gomirror sync`: follow another mirror's index feed (gomirror's own
//! `/index`, or any index.golang.org-compatible one) and admit every listed
//! version — `.info`, `.mod`, `.zip` — through the normal door: the other
//! mirror is this run's only upstream, and every object passes admission
//! and the checksum database configured here, as a client's request would.
//!
//! Where the feed was followed to is kept in the store (a cursor under
//! `sync/`, admitted like everything else) after every page, so a sync
//! that is stopped continues where it stopped; versions that could not be
//! admitted are kept in the cursor and tried again by the next sync.

use crate::admit::{sync_cursor, SyncCursor};
use crate::cli::config::{ServeFlags, StoreFlags};
use crate::cli::prefetch::{fetch_shown, progress_bar, want, ModResult, Status};
use crate::index::{next_stamp, parse_stamp, Entry};
use crate::mirror::Mirror;
use crate::upstream::Chain;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `gomirror sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The mirror to copy from (a GOPROXY URL): every object is fetched
    /// from it and admitted here.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The index feed to follow [default: <--from>/index].
    #[arg(long, value_name = "URL")]
    pub index: Option<String>,
    /// Start at this time (RFC 3339) instead of the kept cursor.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only module paths matching these globs (comma-separated, as GOPRIVATE).
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Never module paths matching these globs (comma-separated).
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
    /// Module versions fetched at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Versions asked of the feed per page (the cursor is kept after each).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub batch: u16,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreFlags,
}

/// Runs `gomirror sync`.
pub fn run(args: SyncArgs) -> ExitCode {
    let json = args.json;
    match sync(args) {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("gomirror sync: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The store key of the cursor for a feed.
fn cursor_key(index: &str) -> String {
    let h = hex::encode(Sha256::digest(index.as_bytes()));
    format!("sync/{}/cursor", &h[..16])
}

/// What to follow, and how.
pub(super) struct Follow {
    /// The feed's URL.
    pub index: String,
    /// Start here instead of the kept cursor.
    pub since: Option<String>,
    pub include: Option<String>,
    pub exclude: Option<String>,
    pub concurrency: usize,
    pub batch: u16,
    /// Where objects are fetched from (the mirror followed).
    pub via: Chain,
}

/// What one sync did.
#[derive(Default)]
pub(super) struct Tally {
    listed: usize,
    skipped: usize,
    results: Vec<ModResult>,
    bytes: u64,
}

fn sync(args: SyncArgs) -> Result<ExitCode> {
    let from = args.from.trim_end_matches('/').to_owned();
    if !(from.starts_with("http://") || from.starts_with("https://")) {
        bail!("--from {from:?}: an http(s) URL of a mirror is needed");
    }
    let index = args
        .index
        .clone()
        .unwrap_or_else(|| format!("{from}/index"));
    let (rt, mirror, _) = crate::cli::serve::tool_mirror(&ServeFlags {
        store: args.store.clone(),
        goproxy: Some(from.clone()),
        ..Default::default()
    })?;
    let follow_args = Follow {
        index: index.clone(),
        since: args.since.clone(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        concurrency: usize::from(args.concurrency),
        batch: args.batch,
        via: Chain::parse(&from).map_err(|e| anyhow!("--from {from:?}: {e}"))?,
    };
    let bar = progress_bar(args.json, 0);
    let started = Instant::now();
    let tally = rt.block_on(follow(&mirror, &follow_args, &bar));
    bar.finish_and_clear();
    let tally = tally?;
    let elapsed = started.elapsed();
    report(&args, &index, &tally, elapsed);
    let failed = tally
        .results
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Follows the feed page by page until a page is empty.
pub(super) async fn follow(
    mirror: &Arc<Mirror>,
    args: &Follow,
    bar: &indicatif::ProgressBar,
) -> Result<Tally> {
    let index = args.index.as_str();
    let key = cursor_key(index);
    let mut cursor = read_cursor(mirror, &key).await?.unwrap_or(SyncCursor {
        index: index.to_owned(),
        ..Default::default()
    });
    if let Some(s) = &args.since {
        parse_stamp(s).map_err(|e| anyhow!("--since: {e}"))?;
        cursor.since = s.clone();
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut tally = Tally::default();
    let selected = |path: &str| {
        args.include
            .as_deref()
            .is_none_or(|g| gomod::glob::match_prefix_patterns(g, path))
            && !args
                .exclude
                .as_deref()
                .is_some_and(|g| gomod::glob::match_prefix_patterns(g, path))
    };
    // Versions a previous sync could not admit come first; the cursor
    // keeps every version that still fails.
    let retry: Vec<(String, String)> = std::mem::take(&mut cursor.retry)
        .iter()
        .filter_map(|mv| {
            mv.rsplit_once('@')
                .map(|(p, v)| (p.to_owned(), v.to_owned()))
        })
        .collect();
    let mut failing = vec![];
    if !retry.is_empty() {
        batch(mirror, args, bar, retry, &mut tally, &mut failing).await;
        cursor.retry.clone_from(&failing);
        save_cursor(mirror, &key, &cursor).await?;
    }
    loop {
        let page = fetch_page(&http, index, &cursor.since, args.batch).await?;
        let Some(last) = page.last() else { break };
        let next = parse_stamp(&last.timestamp)
            .map(next_stamp)
            .map_err(|e| anyhow!("{index}: {e}"))?;
        tally.listed += page.len();
        let mut todo = vec![];
        for e in page {
            if selected(&e.path) {
                todo.push((e.path, e.version));
            } else {
                tally.skipped += 1;
            }
        }
        batch(mirror, args, bar, todo, &mut tally, &mut failing).await;
        cursor.since = crate::index::format_stamp(next);
        cursor.retry.clone_from(&failing);
        save_cursor(mirror, &key, &cursor).await?;
    }
    tally
        .results
        .sort_by(|a, b| (&a.module, &a.version).cmp(&(&b.module, &b.version)));
    Ok(tally)
}

/// Admits `todo` (module, version) with bounded concurrency; what fails
/// is added to `failing` (as `path@version`).
async fn batch(
    mirror: &Arc<Mirror>,
    args: &Follow,
    bar: &indicatif::ProgressBar,
    todo: Vec<(String, String)>,
    tally: &mut Tally,
    failing: &mut Vec<String>,
) {
    bar.inc_length(todo.len() as u64);
    let results: Vec<ModResult> = futures_util::stream::iter(todo)
        .map(|(p, v)| {
            let (mirror, bar, via) = (mirror.clone(), bar.clone(), &args.via);
            async move { fetch_shown(&mirror, want(&p, &v, true), Some(via), &bar).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    for r in &results {
        tally.bytes += r.files.iter().map(|f| f.fetched_bytes).sum::<u64>();
        if r.status == Status::Failed {
            failing.push(format!("{}@{}", r.module, r.version));
        }
    }
    tally.results.extend(results);
}

/// The sync loop inside `serve` (`GOMIRROR_SYNC_FROM`): a pass every
/// `interval`, each one counted and logged; a failed pass is logged and
/// the next one tries again.
pub(crate) async fn serve_loop(mirror: Arc<Mirror>, from: String, interval: Duration) {
    let from = from.trim_end_matches('/').to_owned();
    let via = match Chain::parse(&from) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("GOMIRROR_SYNC_FROM {from:?}: {e}: no sync");
            return;
        }
    };
    let f = Follow {
        index: format!("{from}/index"),
        since: None,
        include: None,
        exclude: None,
        concurrency: 8,
        batch: 2000,
        via,
    };
    let m = mirror.counters.metrics.clone();
    for outcome in ["fetched", "cached", "failed"] {
        crate::telemetry::Metrics::zero(&m.sync_versions, &[("outcome", outcome)]);
    }
    loop {
        let bar = indicatif::ProgressBar::hidden();
        let started = Instant::now();
        match follow(&mirror, &f, &bar).await {
            Ok(t) => {
                let count = |s: Status| t.results.iter().filter(|r| r.status == s).count();
                let (fetched, cached, failed) = (
                    count(Status::Fetched),
                    count(Status::Cached),
                    count(Status::Failed),
                );
                for (outcome, n) in [("fetched", fetched), ("cached", cached), ("failed", failed)] {
                    crate::telemetry::Metrics::inc_by(
                        &m.sync_versions,
                        &[("outcome", outcome)],
                        n as u64,
                    );
                }
                m.sync_last_pass
                    .set(i64::try_from(crate::util::now_unix()).unwrap_or(i64::MAX));
                tracing::info!(
                    from = %from,
                    listed = t.listed,
                    fetched,
                    cached,
                    failed,
                    bytes = t.bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "sync pass"
                );
            }
            Err(e) => tracing::warn!(from = %from, "sync pass failed: {e:#}"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// One page of the feed from `since` (tried up to 4 times: a feed still
/// being built answers 503, a network hiccup is retried).
async fn fetch_page(
    http: &reqwest::Client,
    index: &str,
    since: &str,
    limit: u16,
) -> Result<Vec<Entry>> {
    let mut url = reqwest::Url::parse(index).with_context(|| format!("--index {index:?}"))?;
    {
        let mut q = url.query_pairs_mut();
        if !since.is_empty() {
            q.append_pair("since", since);
        }
        q.append_pair("limit", &limit.to_string());
    }
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        let resp = match http.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                last = crate::util::error_chain(&e);
                continue;
            }
        };
        let status = resp.status();
        if status.is_server_error() {
            last = format!("{status}");
            continue;
        }
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        let body = resp.text().await.with_context(|| format!("GET {url}"))?;
        return body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str::<Entry>(l)
                    .map_err(|e| anyhow!("GET {url}: not an index line ({e}): {l:.200}"))
            })
            .collect();
    }
    bail!("GET {url}: {last} (4 attempts)")
}

/// The kept cursor, verified against its record.
async fn read_cursor(mirror: &Mirror, key: &str) -> Result<Option<SyncCursor>> {
    use crate::verify::KeptError;
    match crate::verify::read_kept(mirror.store().as_ref(), key).await {
        Ok(Some(bytes)) => Ok(Some(
            serde_json::from_slice(&bytes).context("the kept sync cursor")?,
        )),
        Ok(None) => Ok(None),
        Err(e @ KeptError::Rotten { .. }) => bail!("the kept sync cursor {e}; start with --since"),
        Err(e) => Err(anyhow!("reading the sync cursor {key}: {e}")),
    }
}

async fn save_cursor(mirror: &Mirror, key: &str, cursor: &SyncCursor) -> Result<()> {
    let admitted = sync_cursor(key, cursor)?;
    mirror
        .store()
        .put(admitted)
        .await
        .with_context(|| format!("keeping the sync cursor {key}"))
}

fn report(args: &SyncArgs, index: &str, t: &Tally, elapsed: Duration) {
    let count = |s: Status| t.results.iter().filter(|r| r.status == s).count();
    let files = |s: Status| {
        t.results
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status == s)
            .count()
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let fetched = count(Status::Fetched);
    if args.json {
        println!(
            "{}",
            json!({
                "index": index,
                "listed": t.listed,
                "skipped": t.skipped,
                "fetched": fetched,
                "cached": count(Status::Cached),
                "failed": count(Status::Failed),
                "files": {
                    "fetched": files(Status::Fetched),
                    "cached": files(Status::Cached),
                    "failed": files(Status::Failed),
                },
                "bytes": t.bytes,
                "seconds": secs,
                "modules": t.results,
            })
        );
        return;
    }
    println!("synced from {index} in {secs:.2} s");
    println!("{:<10} {:>8} {:>8}", "", "versions", "files");
    println!("{:<10} {:>8}", "listed", t.listed);
    println!("{:<10} {:>8}", "skipped", t.skipped);
    for (label, s) in [
        ("fetched", Status::Fetched),
        ("cached", Status::Cached),
        ("failed", Status::Failed),
    ] {
        println!("{label:<10} {:>8} {:>8}", count(s.clone()), files(s));
    }
    println!(
        "throughput {:.1} versions/s, {:.1} MB/s",
        fetched as f64 / secs,
        t.bytes as f64 / 1e6 / secs
    );
    if count(Status::Failed) > 0 {
        println!("failed (tried again by the next sync):");
        for r in t.results.iter().filter(|r| r.status == Status::Failed) {
            println!(
                "  {}@{}: {}",
                r.module,
                r.version,
                r.error.as_deref().unwrap_or_default()
            );
        }
    }
}
