//! `gomirror serve`: the listener (HTTP/1.1 and HTTP/2 — h2c with prior
//! knowledge, or TLS with ALPN `h2`/`http/1.1`) and shutdown: on SIGTERM
//! or SIGINT the listener closes, idle connections close at once,
//! requests in flight (downloads included) get the drain deadline to
//! finish, then the process exits. Connection limits and timeouts are
//! [`super::conn`]'s.

use super::conn::Conns;
use crate::cli::config::{Config, LogFormat};
use crate::mirror::{Mirror, Settings};
use crate::server::AppState;
use crate::store::FsStore;
use crate::upstream::Policy;
use anyhow::{anyhow, Context, Result};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Sets up logging for a tool: human-readable by default, JSON lines for
/// machines, written straight to stderr.
pub fn init_logging(format: LogFormat) {
    init_logging_to(format, std::io::stderr);
}

/// malloc arenas the server uses at most, unless `MALLOC_ARENA_MAX` is set.
const MALLOC_ARENAS: i32 = 2;

/// The malloc arena limit to set for the server: [`MALLOC_ARENAS`], or
/// none when the operator set `MALLOC_ARENA_MAX` (glibc reads it itself).
fn arena_limit(env_value: Option<std::ffi::OsString>) -> Option<i32> {
    env_value.is_none().then_some(MALLOC_ARENAS)
}

/// Bounds glibc's malloc arenas before the server starts its threads.
/// glibc gives threads up to eight arenas per core, each keeping the
/// memory freed into it: 256 downloads whose chunks are allocated and freed
/// across the runtime's threads peaked at 34 MiB with the default and 23
/// MiB with two arenas (`scripts/bench-serve`). Call it before any thread
/// is started.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Some(n) = arena_limit(std::env::var_os("MALLOC_ARENA_MAX")) {
        // SAFETY: mallopt only changes a malloc parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, n);
        }
    }
}

/// The server's log output, once [`init_server_logging`] has set it up.
static SERVER_LOG: std::sync::OnceLock<super::logsink::LogSink> = std::sync::OnceLock::new();

/// Sets up the server's logging: as [`init_logging`], but lines go to
/// stderr through a [`super::logsink::LogSink`], so that no request waits
/// on the log's file descriptor (lines are never dropped: see there).
/// [`flush_server_log`] before exiting.
pub fn init_server_logging(format: LogFormat) {
    let sink = match super::logsink::LogSink::new(
        Box::new(std::io::stderr()),
        super::logsink::DEFAULT_CAP,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gomirror: no log thread ({e}): logging straight to stderr");
            return init_logging(format);
        }
    };
    let _ = SERVER_LOG.set(sink.clone());
    // A panic's message goes to stderr directly: the lines before it first.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush_server_log(std::time::Duration::from_millis(200));
        prev(info)
    }));
    init_logging_to(format, sink);
}

/// Waits (at most `timeout`) until every server log line so far is
/// written out.
pub fn flush_server_log(timeout: std::time::Duration) {
    if let Some(s) = SERVER_LOG.get() {
        s.flush(timeout);
    }
}

fn init_logging_to<W>(format: LogFormat, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOMIRROR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match format {
        LogFormat::Human => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    // Spans go to OpenTelemetry at INFO whatever the log level is.
    let otel =
        super::otel::layer().map(|l| l.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let _ = tracing_subscriber::registry()
        // The log shows events only (spans are for traces: no span context
        // in log lines, and no span bookkeeping per request without traces).
        .with(fmt.with_filter(tracing_subscriber::filter::FilterExt::and(
            filter,
            tracing_subscriber::filter::filter_fn(|m| m.is_event()),
        )))
        .with(otel)
        .try_init();
}

/// Builds the mirror core of the server from a configuration. Opening the
/// store empties its staging directory (left-overs of a crash).
pub fn build_mirror(cfg: &Config) -> Result<Arc<Mirror>> {
    build_parts(cfg, false)
}

/// Builds a mirror core for a tool (`verify --fix`, `prefetch`) that may
/// run beside a live server on the same data directory: the staging
/// directory, where the server's admissions in flight are, is left alone.
pub fn build_mirror_beside_server(cfg: &Config) -> Result<Arc<Mirror>> {
    build_parts(cfg, true)
}

/// What a one-shot command (prefetch, sync, export, import) runs on: the
/// configuration resolved from `flags` (then the environment and the
/// file), logging when `GOMIRROR_LOG` is set, a runtime, and a mirror
/// beside any server on the same store.
pub(crate) fn tool_mirror(
    flags: &crate::cli::config::ServeFlags,
) -> Result<(tokio::runtime::Runtime, Arc<Mirror>, Config)> {
    let cfg = Config::resolve(flags).context("configuration")?;
    if std::env::var_os("GOMIRROR_LOG").is_some() {
        init_logging(cfg.log_format);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mirror = {
        let _guard = rt.enter();
        build_mirror_beside_server(&cfg)?
    };
    Ok((rt, mirror, cfg))
}

fn build_parts(cfg: &Config, beside: bool) -> Result<Arc<Mirror>> {
    // The chain and the glob lists were checked when the configuration
    // was resolved.
    let chain = cfg.chain.clone();
    let (store, fleet) = open_store(cfg, beside)?;
    let sumdb = match &cfg.sumdb {
        Some(db) => Some(
            crate::sumdb::Client::new(db.clone(), store.clone(), cfg.upstream_connect_timeout)
                .context("GOSUMDB")?,
        ),
        None => None,
    };
    let egress = Arc::new(crate::egress::Egress::new(&cfg.egress)?);
    // The fetcher of the chain's `direct` entries (its cache is
    // `$GOMIRROR_GIT_DIR`, else `<data dir>/git`).
    let direct = Arc::new(crate::direct::Direct::new(crate::direct::Options {
        git_dir: Some(cfg.data_dir.join("git")),
        goinsecure: cfg.goinsecure.clone(),
        max_repo_size: cfg.git_max_repo_size,
        timeout: cfg.git_timeout,
        max_processes: cfg.git_max_processes,
        max_cache_size: cfg.git_cache_size,
        egress: egress.clone(),
    }));
    let mirror = Mirror::new(
        store,
        Settings {
            sumdb,
            gonosumdb: cfg.gonosumdb.clone(),
            sumdb_mode: cfg.sumdb_unreachable,
            alerts: crate::telemetry::AlertConfig {
                webhooks: cfg.alert_webhooks.clone(),
                per_source: cfg.alert_budget,
                total: cfg.alert_budget.saturating_mul(4),
                window: cfg.alert_window,
                ..crate::telemetry::AlertConfig::default()
            },
            chain,
            gonoproxy: cfg.gonoproxy.clone(),
            cache_size: cfg.cache_size,
            pins: cfg.pins.clone(),
            list_ttl: cfg.list_ttl,
            negative_ttl: cfg.negative_ttl,
            memory_cache_bytes: cfg.memory_cache_bytes,
            reverify_interval: cfg.reverify_interval,
            policy: Policy {
                connect_timeout: cfg.upstream_connect_timeout,
                first_byte_timeout: cfg.upstream_first_byte_timeout,
                idle_timeout: cfg.upstream_idle_timeout,
                retries: cfg.upstream_retries,
                total_timeout: cfg.upstream_total_timeout,
                zip_total_timeout: cfg.upstream_zip_total_timeout,
                concurrency: cfg.upstream_concurrency,
                concurrency_total: cfg.upstream_concurrency_total,
            },
            direct: Some(direct.clone()),
            egress,
            fleet,
        },
    )?;
    direct.count_into(mirror.counters.metrics.clone());
    if let Some(f) = mirror.fleet() {
        // Another replica changed a key: forget what memory holds of it.
        let m = Arc::downgrade(&mirror);
        f.on_change(Arc::new(move |key: &str| {
            if let Some(m) = m.upgrade() {
                m.forget_cached(key);
                // A version another replica admitted joins the index feed.
                let key = key.to_owned();
                tokio::spawn(async move { m.note_committed_elsewhere(&key).await });
            }
        }));
        f.start();
        crate::fleet::share_events(f, &mirror.events);
    }
    Ok(mirror)
}

/// Opens the store a tool (`verify`, `watch`) reads: the data directory
/// (attached: a server's staging area is left alone), or the bucket
/// `GOMIRROR_STORE` names, with a private staging directory.
pub fn open_store_for_tool(
    flags: &crate::cli::config::StoreFlags,
) -> Result<(Arc<dyn crate::store::Store>, String)> {
    use crate::cli::config::StoreUrl;
    match flags.store_url()? {
        StoreUrl::File(dir) => {
            if !dir.join("objects").is_dir() {
                anyhow::bail!(
                    "{}: no gomirror cache here (set --data-dir or GOMIRROR_DATA_DIR)",
                    dir.display()
                );
            }
            let s = FsStore::attach(&dir).map_err(|e| anyhow!("opening {}: {e}", dir.display()))?;
            Ok((Arc::new(s), dir.display().to_string()))
        }
        StoreUrl::Remote(url) => {
            let inner = crate::store::remote::object_store_for(&url)
                .with_context(|| format!("GOMIRROR_STORE {url}"))?;
            let stage = tool_dir(&std::env::temp_dir().join("gomirror-tools"));
            let b = crate::store::BucketStore::new(inner, &stage, &url)
                .with_context(|| format!("staging directory {}", stage.display()))?;
            Ok((Arc::new(b), url))
        }
    }
}

/// `<parent>/<pid>`: this process's working directory under `parent`;
/// the directories of processes that no longer run are removed first.
fn tool_dir(parent: &std::path::Path) -> std::path::PathBuf {
    if let Ok(rd) = std::fs::read_dir(parent) {
        for e in rd.flatten() {
            let gone = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    parent.join(std::process::id().to_string())
}

/// A store and, for a fleet replica, its fleet.
type OpenedStore = (
    Arc<dyn crate::store::Store>,
    Option<Arc<crate::fleet::Fleet>>,
);

/// Opens the store the configuration names: the data directory's file
/// store, or object storage with a local tier in front (and, with
/// GOMIRROR_REDIS_URL, the fleet that coordinates its replicas).
fn open_store(cfg: &Config, beside: bool) -> Result<OpenedStore> {
    use crate::cli::config::StoreUrl;
    let url = match &cfg.store {
        StoreUrl::File(dir) => {
            let fs = if beside {
                // A data directory without objects has no server: create it.
                FsStore::attach(dir).or_else(|_| FsStore::open(dir))
            } else {
                FsStore::open(dir)
            };
            let fs = fs.with_context(|| format!("opening the data directory {}", dir.display()))?;
            return Ok((Arc::new(fs), None));
        }
        StoreUrl::Remote(url) => url,
    };
    let inner = crate::store::remote::object_store_for(url)
        .with_context(|| format!("GOMIRROR_STORE {url}"))?;
    // A tool beside a server stages and caches in its own directories
    // (those of tools that have exited are removed).
    let (stage, local) = if beside {
        let d = tool_dir(&cfg.data_dir.join("tools"));
        (d.join("stage"), d.join("local"))
    } else {
        (cfg.data_dir.join("stage"), cfg.data_dir.join("local"))
    };
    let bucket = crate::store::BucketStore::new(inner, &stage, url)
        .with_context(|| format!("staging directory {}", stage.display()))?;
    let coord = if cfg.fleet.is_some() {
        crate::store::Coordination::fleet()
    } else {
        crate::store::Coordination::standalone()
    };
    let tiered = Arc::new(
        crate::store::TieredStore::new(bucket, &local, cfg.local_cache_size, coord.clone())
            .with_context(|| format!("local tier {}", local.display()))?,
    );
    let fleet = match &cfg.fleet {
        None => None,
        Some(f) => Some(crate::fleet::Fleet::new(
            crate::fleet::FleetConfig {
                redis_url: f.redis_url.0.clone(),
                namespace: format!("gomirror:{url}"),
                replica: f.replica.clone(),
                lease_ttl: f.lease_ttl,
            },
            coord,
        )?),
    };
    if let Some(f) = &fleet {
        // Another replica changed a key: drop the local copy.
        let t = tiered.clone();
        f.on_change(Arc::new(move |key: &str| t.forget_local(key)));
    }
    Ok((tiered, fleet))
}

pub(crate) fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert)
            .with_context(|| format!("GOMIRROR_TLS_CERT {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("GOMIRROR_TLS_CERT {}: not PEM certificates", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("GOMIRROR_TLS_KEY {}", key.display()))?,
    ))
    .with_context(|| format!("GOMIRROR_TLS_KEY {}", key.display()))?
    .ok_or_else(|| anyhow!("GOMIRROR_TLS_KEY {}: no private key found", key.display()))?;
    let mut sc = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not form a valid pair")?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(sc)))
}

/// Runs the server until SIGTERM/SIGINT, then drains in-flight requests.
pub async fn run(cfg: Config) -> Result<()> {
    let mirror = build_mirror(&cfg)?;
    if let Some((name, skey)) = &cfg.own_sumdb {
        match crate::ownlog::OwnLog::open(
            mirror.store().clone(),
            mirror.fleet().cloned(),
            name,
            skey,
        )
        .await
        {
            Ok(log) => {
                tracing::info!(db = %name, vkey = log.vkey(), records = log.size(), "own checksum database open");
                if let Some(f) = mirror.fleet() {
                    // Another replica appended: serve its tree too.
                    let head = format!("ownlog/{name}/latest");
                    let l = Arc::downgrade(&log);
                    f.on_change(Arc::new(move |key: &str| {
                        if key == head {
                            if let Some(l) = l.upgrade() {
                                tokio::spawn(async move { l.refresh().await });
                            }
                        }
                    }));
                }
                mirror.set_ownlog(log);
            }
            // Served by nobody, and said loudly: a log that does not
            // verify is never handed out.
            Err(e) => {
                tracing::error!(db = %name, alert = "own_sumdb_broken", "the own checksum database is not served: {e}");
                mirror.events.record(
                    "own_sumdb_broken",
                    crate::telemetry::STORE_SOURCE,
                    name,
                    &e.to_string(),
                    &mirror.counters.metrics,
                );
                mirror.set_ownlog_failed(name, e.to_string());
            }
        }
    }
    {
        // The status page's object count: once, in the background.
        let m = mirror.clone();
        tokio::spawn(async move { m.count_usage().await });
    }
    if let Some(from) = cfg.sync_from.clone() {
        tracing::info!(from = %from, every = ?cfg.sync_interval, "following another mirror's index feed");
        tokio::spawn(crate::cli::sync::serve_loop(
            mirror.clone(),
            from,
            cfg.sync_interval,
        ));
    }
    if mirror.store().shared().is_some() || mirror.fleet().is_some() {
        // The bucket and Redis gauges (and the local tier's), kept fresh for
        // the alert rules whether or not anyone asks /readyz.
        let m = Arc::downgrade(&mirror);
        tokio::spawn(async move {
            loop {
                let Some(m) = m.upgrade() else { return };
                m.shared_health().await;
                drop(m);
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        });
    }
    if cfg.scrub_rate > 0 {
        let stats = Arc::new(crate::scrub::ScrubStats::default());
        tokio::spawn(crate::scrub::run_background(
            mirror.clone(),
            Some(cfg.scrub_rate),
            cfg.scrub_interval,
            stats.clone(),
        ));
        tokio::spawn(export_scrub_stats(mirror.clone(), stats));
    }
    {
        // The status page's history: one sample a minute.
        let m = Arc::downgrade(&mirror);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(m) = m.upgrade() else { return };
                m.history.record(m.totals());
                // A fleet's replicas show each other's rows.
                if let Some(f) = m.fleet() {
                    let _ = f.publish_replica(&crate::status::summary(&m)).await;
                }
            }
        });
    }
    if let Some(w) = &cfg.watch {
        let ccfg = crate::canary::CanaryConfig {
            edges: w.edges.clone(),
            sample: Some(w.sample),
            rate: Some(w.rate),
            purge_webhook: cfg.cdn_purge_webhook.clone(),
            ..crate::canary::CanaryConfig::new(&w.cdn)
        };
        let canary = crate::canary::Canary::new(
            mirror.store().clone(),
            ccfg,
            mirror.counters.metrics.clone(),
            mirror.events.clone(),
        )
        .context("GOMIRROR_WATCH_CDN")?;
        let interval = w.interval;
        let on_pass = |r: &crate::canary::Report| {
            tracing::info!(
                objects = r.objects,
                findings = r.findings.len(),
                "cdn canary pass"
            )
        };
        match mirror.fleet().cloned() {
            None => {
                tokio::spawn(async move { canary.run_loop(interval, on_pass).await });
            }
            Some(fleet) => {
                tokio::spawn(async move {
                    crate::fleet::once_per_interval(&fleet, "canary", interval, || async {
                        on_pass(&canary.pass().await);
                        true
                    })
                    .await
                });
            }
        }
    }
    let metrics = mirror.counters.metrics.clone();
    let events = mirror.events.clone();
    let app = Arc::new(AppState {
        mirror,
        ops: crate::ops::OpsConfig {
            admin_token: cfg.admin_token.clone(),
            cdn_purge_webhook: cfg.cdn_purge_webhook.clone(),
            public_url: cfg.public_url.clone(),
            min_free_bytes: cfg.min_free_bytes,
        },
    });
    let tls = match &cfg.tls {
        Some((c, k)) => Some(tls_acceptor(c, k)?),
        None => None,
    };
    let nofile = super::conn::raise_nofile_limit();
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = tls.is_some(), data_dir = %cfg.data_dir.display(), goproxy = %cfg.goproxy, "gomirror listening");
    // A line on stdout for scripts and tests that bind port 0.
    println!(
        "listening on {}://{addr}",
        if tls.is_some() { "https" } else { "http" }
    );

    let conns = Conns::new(cfg.conns.clone(), nofile, metrics);
    tracing::info!(
        max_connections = conns.max(),
        open_files_limit = nofile,
        "connection limit"
    );
    let mut shutdown = std::pin::pin!(shutdown_signal());
    let mut failures = 0u32;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => {
                    failures = 0;
                    x
                }
                Err(e) => {
                    conns.accept_failed(&e, &mut failures).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = conns.admit() else {
            match &tls {
                None => Conns::refuse(stream),
                Some(_) => drop(stream),
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        match &tls {
            None => conns.serve(stream, app.clone(), slot, peer),
            Some(acc) => {
                let acc = acc.clone();
                let app = app.clone();
                let handshake = conns.header_read_timeout();
                let serve = conns.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake, acc.accept(stream)).await {
                        Ok(Ok(s)) => serve.serve(s, app, slot, peer),
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    conns.drain().await;
    // What the alert budget still holds back goes out as summaries.
    events.flush(std::time::Duration::from_secs(5)).await;
    tracing::info!("stopped");
    Ok(())
}

/// Copies the scrubber's progress into the metrics every few seconds.
async fn export_scrub_stats(mirror: Arc<Mirror>, stats: Arc<crate::scrub::ScrubStats>) {
    let m = mirror.counters.metrics.clone();
    let (mut bytes, mut rotten) = (0u64, 0u64);
    loop {
        let s = stats.snapshot();
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        m.scrub_objects_total.set(g(s.objects_total));
        m.scrub_objects_done.set(g(s.objects_done));
        m.scrub_last_pass.set(g(s.last_pass_finished));
        m.scrub_bytes.inc_by(s.bytes_read.saturating_sub(bytes));
        m.scrub_rotten.inc_by(s.rotten_found.saturating_sub(rotten));
        (bytes, rotten) = (s.bytes_read, s.rotten_found);
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server bounds malloc's arenas, unless the operator chose.
    #[test]
    fn arenas_are_bounded_unless_the_operator_chose() {
        assert_eq!(arena_limit(None), Some(MALLOC_ARENAS));
        assert_eq!(arena_limit(Some("8".into())), None);
    }
}
