//! One typed [`Config`], from a TOML file, then the environment, then
//! command-line flags (later sources win).
//!
//! Go's own variable names (`GOPROXY`, `GONOPROXY`, `GOPRIVATE`, `GOSUMDB`,
//! `GONOSUMDB`, `GOINSECURE`) mean what they mean to the go command.
//! gomirror's own settings use the `GOMIRROR_` prefix in the environment and
//! the same name in lower case in the TOML file (`GOMIRROR_DATA_DIR` ↔
//! `data_dir`, `GOPROXY` ↔ `goproxy`).

pub use crate::util::Secret;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by every subcommand that touches the store.
#[derive(Debug, Clone, Args, Default)]
pub struct StoreFlags {
    /// Directory holding the cache [env: GOMIRROR_DATA_DIR] [default: gomirror-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file [env: GOMIRROR_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where objects are stored: `file:///path` (a data directory, today's
    /// layout; default: the data directory), or object storage shared by a fleet:
    /// `s3://bucket/prefix` (with the AWS_* variables: AWS_ENDPOINT_URL,
    /// AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_ALLOW_HTTP), `gs://bucket/prefix`, `az://container/prefix`
    /// [env: GOMIRROR_STORE]
    #[arg(long = "store", value_name = "URL")]
    pub store_url: Option<String>,
}

/// Flags of `gomirror serve`. Each has a TOML key and an environment
/// variable; flags win over the environment, which wins over the file.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeFlags {
    #[command(flatten)]
    pub store: StoreFlags,
    /// Address to listen on [env: GOMIRROR_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Upstream chain with the go command's GOPROXY syntax: URLs (http, https,
    /// file) separated by `,` (fall through on 404/410) or `|` (fall through
    /// on any error); `direct`; `off` [env: GOPROXY] [default: https://proxy.golang.org,direct]
    #[arg(long, value_name = "LIST")]
    pub goproxy: Option<String>,
    /// Glob patterns of module paths never requested from proxy upstreams
    /// [env: GONOPROXY] [default: GOPRIVATE]
    #[arg(long, value_name = "PATTERNS")]
    pub gonoproxy: Option<String>,
    /// Glob patterns of private module paths (default for GONOPROXY and
    /// GONOSUMDB) [env: GOPRIVATE]
    #[arg(long, value_name = "PATTERNS")]
    pub goprivate: Option<String>,
    /// Checksum database: `sum.golang.org`, `name+key [url]`, or `off`
    /// [env: GOSUMDB] [default: sum.golang.org]
    #[arg(long, value_name = "DB")]
    pub gosumdb: Option<String>,
    /// When the checksum database is unreachable: `strict` refuses to admit,
    /// `warn` admits marked unverified and verifies later
    /// [env: GOMIRROR_SUMDB_UNREACHABLE] [default: strict]
    #[arg(long, value_name = "MODE")]
    pub sumdb_unreachable: Option<String>,
    /// Glob patterns of modules not checked against the checksum database
    /// [env: GONOSUMDB] [default: GOPRIVATE]
    #[arg(long, value_name = "PATTERNS")]
    pub gonosumdb: Option<String>,
    /// Glob patterns of modules that may be fetched over plain HTTP or
    /// without certificate checks [env: GOINSECURE]
    #[arg(long, value_name = "PATTERNS")]
    pub goinsecure: Option<String>,
    /// How long `list` and `@latest` answers are fresh, e.g. `60s`
    /// [env: GOMIRROR_LIST_TTL] [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub list_ttl: Option<String>,
    /// PEM certificate chain; with --tls-key, serve HTTPS (ALPN h2, http/1.1)
    /// [env: GOMIRROR_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert [env: GOMIRROR_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Upstream connect timeout [env: GOMIRROR_UPSTREAM_CONNECT_TIMEOUT] [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub upstream_connect_timeout: Option<String>,
    /// Upstream time to first byte of the response [env: GOMIRROR_UPSTREAM_FIRST_BYTE_TIMEOUT] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub upstream_first_byte_timeout: Option<String>,
    /// Longest pause while receiving an upstream body [env: GOMIRROR_UPSTREAM_IDLE_TIMEOUT] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub upstream_idle_timeout: Option<String>,
    /// Extra attempts per upstream on transient errors [env: GOMIRROR_UPSTREAM_RETRIES] [default: 2]
    #[arg(long, value_name = "N")]
    pub upstream_retries: Option<u32>,
    /// Longest one fetch of a `.info`, `.mod`, list, `@latest` or query may
    /// take in all: waiting for its turn, every retry and every upstream of
    /// the chain; past it the request fails with 504
    /// [env: GOMIRROR_UPSTREAM_TOTAL_TIMEOUT] [default: 2m]
    #[arg(long, value_name = "DURATION")]
    pub upstream_total_timeout: Option<String>,
    /// The same for a `.zip` [env: GOMIRROR_UPSTREAM_ZIP_TOTAL_TIMEOUT] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub upstream_zip_total_timeout: Option<String>,
    /// Most requests in flight to one upstream (direct mode counts as one);
    /// the others wait their turn [env: GOMIRROR_UPSTREAM_CONCURRENCY] [default: 32]
    #[arg(long, value_name = "N")]
    pub upstream_concurrency: Option<usize>,
    /// Most requests in flight to all upstreams together
    /// [env: GOMIRROR_UPSTREAM_CONCURRENCY_TOTAL] [default: 128]
    #[arg(long, value_name = "N")]
    pub upstream_concurrency_total: Option<usize>,
    /// How long a "no upstream has it" answer (404/410 from every upstream)
    /// is remembered; `0s` turns it off [env: GOMIRROR_NEGATIVE_TTL] [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub negative_ttl: Option<String>,
    /// Bytes of bucket objects kept on this replica's disk (under the data
    /// directory), least recently used out; with object storage only
    /// [env: GOMIRROR_LOCAL_CACHE_SIZE] [default: 10737418240]
    #[arg(long, value_name = "BYTES")]
    pub local_cache_size: Option<u64>,
    /// Redis that coordinates the replicas of a fleet (admission leases,
    /// the change feed, shared events and progress): `redis://host:port/db`
    /// [env: GOMIRROR_REDIS_URL]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// This replica's name in the fleet's events and logs
    /// [env: GOMIRROR_REPLICA] [default: <hostname>:<listen port>]
    #[arg(long, value_name = "NAME")]
    pub replica: Option<String>,
    /// How long an admission lease lasts unless its holder refreshes it
    /// (a replica that dies holding one delays that version this long)
    /// [env: GOMIRROR_LEASE_TTL] [default: 15s]
    #[arg(long, value_name = "DURATION")]
    pub lease_ttl: Option<String>,
    /// Bytes of small verified objects kept in memory [env: GOMIRROR_MEMORY_CACHE_BYTES] [default: 33554432]
    #[arg(long, value_name = "BYTES")]
    pub memory_cache_bytes: Option<u64>,
    /// Free space the data directory's file system must keep for /readyz to
    /// say ready [env: GOMIRROR_MIN_FREE_BYTES] [default: 1073741824]
    #[arg(long, value_name = "BYTES")]
    pub min_free_bytes: Option<u64>,
    /// How long a large zip verified whole is served without re-hashing
    /// while its stored copy is unchanged (any write to it forces a full
    /// verification); `0s` hashes every download
    /// [env: GOMIRROR_REVERIFY_INTERVAL] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub reverify_interval: Option<String>,
    /// Comma-separated URLs that receive integrity events as JSON POSTs
    /// [env: GOMIRROR_ALERT_WEBHOOKS]
    #[arg(long, value_name = "URLS")]
    pub alert_webhooks: Option<String>,
    /// Alert webhook deliveries per event kind and source per alert window
    /// (the rest are summarised in one `suppressed` event; events about the
    /// store are never held back; all sources together: four times this)
    /// [env: GOMIRROR_ALERT_BUDGET] [default: 30]
    #[arg(long, value_name = "N")]
    pub alert_budget: Option<u32>,
    /// The window of the alert budget [env: GOMIRROR_ALERT_WINDOW] [default: 1m]
    #[arg(long, value_name = "DURATION")]
    pub alert_window: Option<String>,
    /// File holding the bearer token of the admin API under /-/ (the token
    /// itself may be given as GOMIRROR_ADMIN_TOKEN); no token: admin API off
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// URL called (JSON POST of the purged URLs) when objects are purged
    /// [env: GOMIRROR_CDN_PURGE_WEBHOOK]
    #[arg(long, value_name = "URL")]
    pub cdn_purge_webhook: Option<String>,
    /// The mirror's public base URL (as clients and the CDN see it), used to
    /// name purged URLs [env: GOMIRROR_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Byte rate of the background scrubber re-verifying stored objects;
    /// 0 turns it off [env: GOMIRROR_SCRUB_RATE] [default: 8388608]
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub scrub_rate: Option<u64>,
    /// Largest repository (bytes on disk) that direct mode keeps: a clone or
    /// fetch growing past it is stopped and removed
    /// [env: GOMIRROR_GIT_MAX_REPO_SIZE] [default: 2147483648]
    #[arg(long, value_name = "BYTES")]
    pub git_max_repo_size: Option<u64>,
    /// Size budget of direct mode's repository cache: past it, the least
    /// recently used repositories are removed
    /// [env: GOMIRROR_GIT_CACHE_SIZE] [default: 21474836480]
    #[arg(long, value_name = "BYTES")]
    pub git_cache_size: Option<u64>,
    /// Bytes the store may hold: past it, the zips served least recently
    /// are evicted (their records kept: a version fetched again must be
    /// what was served); 0 is unbounded; a data directory only
    /// [env: GOMIRROR_CACHE_SIZE] [default: 0]
    #[arg(long, value_name = "BYTES")]
    pub cache_size: Option<u64>,
    /// Module path globs (GOPRIVATE syntax) whose zips are never evicted
    /// [env: GOMIRROR_PIN]
    #[arg(long, value_name = "PATTERNS")]
    pub pin: Option<String>,
    /// Another mirror to follow while serving: its `/index` feed is read
    /// every --sync-interval and every new version admitted from it (as
    /// `gomirror sync`) [env: GOMIRROR_SYNC_FROM]
    #[arg(long, value_name = "URL")]
    pub sync_from: Option<String>,
    /// Time between two sync passes [env: GOMIRROR_SYNC_INTERVAL] [default: 5m]
    #[arg(long, value_name = "DURATION")]
    pub sync_interval: Option<String>,
    /// Name of the mirror's own checksum database (e.g. sum.corp.example):
    /// every admitted version is logged and served under /sumdb/<name>/
    /// [env: GOMIRROR_SUMDB_NAME]
    #[arg(long, value_name = "NAME")]
    pub sumdb_name: Option<String>,
    /// Its signer key (written by `gomirror sumdb keygen`)
    /// [env: GOMIRROR_SUMDB_KEY_FILE]
    #[arg(long, value_name = "FILE")]
    pub sumdb_key_file: Option<PathBuf>,
    /// Longest run of one git command in direct mode
    /// [env: GOMIRROR_GIT_TIMEOUT] [default: 5m]
    #[arg(long, value_name = "DURATION")]
    pub git_timeout: Option<String>,
    /// Most git processes direct mode runs at once
    /// [env: GOMIRROR_GIT_MAX_PROCESSES] [default: 4]
    #[arg(long, value_name = "N")]
    pub git_max_processes: Option<usize>,
    /// Host globs and CIDRs direct mode may contact even when they are (or
    /// resolve to) internal addresses, e.g. `git.corp.example,10.1.0.0/16`
    /// [env: GOMIRROR_DIRECT_ALLOW]
    #[arg(long, value_name = "PATTERNS")]
    pub direct_allow: Option<String>,
    /// When set, the only host globs direct mode contacts (discovery pages,
    /// repositories, `mod` proxies) [env: GOMIRROR_DIRECT_HOSTS]
    #[arg(long, value_name = "PATTERNS")]
    pub direct_hosts: Option<String>,
    /// Fixed addresses for names in direct mode, `host=addr,...` (like
    /// curl's --resolve) [env: GOMIRROR_DIRECT_RESOLVE]
    #[arg(long, value_name = "LIST")]
    pub direct_resolve: Option<String>,
    /// Host globs an upstream may redirect to besides its own origin
    /// [env: GOMIRROR_UPSTREAM_REDIRECT_ALLOW]
    #[arg(long, value_name = "PATTERNS")]
    pub upstream_redirect_allow: Option<String>,
    /// Pause between scrub passes [env: GOMIRROR_SCRUB_INTERVAL] [default: 24h]
    #[arg(long, value_name = "DURATION")]
    pub scrub_interval: Option<String>,
    /// Public base URL of the CDN in front of this mirror: when set, the
    /// server runs the CDN canary (see `gomirror watch`) [env: GOMIRROR_WATCH_CDN]
    #[arg(long, value_name = "URL")]
    pub watch_cdn: Option<String>,
    /// Comma-separated edge addresses (HOST:PORT) the canary checks one by
    /// one [env: GOMIRROR_WATCH_EDGES]
    #[arg(long, value_name = "ADDRS")]
    pub watch_edges: Option<String>,
    /// Pause between canary passes [env: GOMIRROR_WATCH_INTERVAL] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub watch_interval: Option<String>,
    /// Objects checked per canary pass [env: GOMIRROR_WATCH_SAMPLE] [default: 50]
    #[arg(long, value_name = "N")]
    pub watch_sample: Option<usize>,
    /// Canary download rate cap in bytes/s [env: GOMIRROR_WATCH_RATE] [default: 4194304]
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub watch_rate: Option<u64>,
    /// Time a client has to send a request's headers (the first request's,
    /// and on HTTP/1.1 each next one's) [env: GOMIRROR_HEADER_READ_TIMEOUT] [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub header_read_timeout: Option<String>,
    /// A connection without a request in flight this long is closed
    /// [env: GOMIRROR_IDLE_TIMEOUT] [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Most client connections open at once; past it new ones get 503
    /// [env: GOMIRROR_MAX_CONNECTIONS] [default: the open-files limit minus 512]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most concurrent HTTP/2 streams per connection
    /// [env: GOMIRROR_H2_MAX_STREAMS] [default: 32]
    #[arg(long, value_name = "N")]
    pub h2_max_streams: Option<u32>,
    /// At shutdown, how long requests in flight may take to finish
    /// [env: GOMIRROR_DRAIN_TIMEOUT] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub drain_timeout: Option<String>,
    /// Log format: `human` or `json` [env: GOMIRROR_LOG_FORMAT] [default: human]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// The TOML file: every key optional, names as in [`ServeFlags`].
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    goproxy: Option<String>,
    gonoproxy: Option<String>,
    goprivate: Option<String>,
    gosumdb: Option<String>,
    gonosumdb: Option<String>,
    sumdb_unreachable: Option<String>,
    goinsecure: Option<String>,
    list_ttl: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    upstream_connect_timeout: Option<String>,
    upstream_first_byte_timeout: Option<String>,
    upstream_idle_timeout: Option<String>,
    upstream_retries: Option<u32>,
    upstream_total_timeout: Option<String>,
    upstream_zip_total_timeout: Option<String>,
    upstream_concurrency: Option<usize>,
    upstream_concurrency_total: Option<usize>,
    negative_ttl: Option<String>,
    memory_cache_bytes: Option<u64>,
    store: Option<String>,
    local_cache_size: Option<u64>,
    redis_url: Option<String>,
    replica: Option<String>,
    lease_ttl: Option<String>,
    min_free_bytes: Option<u64>,
    reverify_interval: Option<String>,
    alert_webhooks: Option<String>,
    alert_budget: Option<u32>,
    alert_window: Option<String>,
    admin_token_file: Option<PathBuf>,
    cdn_purge_webhook: Option<String>,
    public_url: Option<String>,
    scrub_rate: Option<u64>,
    git_max_repo_size: Option<u64>,
    git_cache_size: Option<u64>,
    cache_size: Option<u64>,
    pin: Option<String>,
    sync_from: Option<String>,
    sync_interval: Option<String>,
    sumdb_name: Option<String>,
    sumdb_key_file: Option<PathBuf>,
    git_timeout: Option<String>,
    git_max_processes: Option<usize>,
    direct_allow: Option<String>,
    direct_hosts: Option<String>,
    direct_resolve: Option<String>,
    upstream_redirect_allow: Option<String>,
    scrub_interval: Option<String>,
    watch_cdn: Option<String>,
    watch_edges: Option<String>,
    watch_interval: Option<String>,
    watch_sample: Option<usize>,
    watch_rate: Option<u64>,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<usize>,
    h2_max_streams: Option<u32>,
    drain_timeout: Option<String>,
    log_format: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The resolved configuration of a gomirror process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub goproxy: String,
    /// `goproxy`, parsed.
    pub chain: crate::upstream::Chain,
    pub gonoproxy: String,
    /// `GOPRIVATE` as given (shown by `--print-config`; it is what
    /// `gonoproxy` and `gonosumdb` default to).
    #[allow(dead_code)]
    pub goprivate: String,
    /// `GOSUMDB` as given (shown by `--print-config`; [`Config::sumdb`]
    /// is what it means).
    #[allow(dead_code)]
    pub gosumdb: String,
    pub gonosumdb: String,
    pub sumdb: Option<crate::sumdb::DbConfig>,
    pub sumdb_unreachable: crate::sumdb::Unreachable,
    pub goinsecure: String,
    pub list_ttl: Duration,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub upstream_connect_timeout: Duration,
    pub upstream_first_byte_timeout: Duration,
    pub upstream_idle_timeout: Duration,
    pub upstream_retries: u32,
    pub upstream_total_timeout: Duration,
    pub upstream_zip_total_timeout: Duration,
    pub upstream_concurrency: usize,
    pub upstream_concurrency_total: usize,
    pub negative_ttl: Duration,
    pub memory_cache_bytes: u64,
    /// Where objects are stored.
    pub store: StoreUrl,
    /// The local tier's budget (object storage only).
    pub local_cache_size: u64,
    /// The fleet, when GOMIRROR_REDIS_URL is set.
    pub fleet: Option<FleetSettings>,
    /// Free space under which /readyz says not ready.
    pub min_free_bytes: u64,
    pub reverify_interval: Duration,
    pub alert_webhooks: Vec<String>,
    /// Alert deliveries per (kind, source) per `alert_window`.
    pub alert_budget: u32,
    pub alert_window: Duration,
    /// The admin API's bearer token (never printed).
    pub admin_token: Option<Secret>,
    pub cdn_purge_webhook: Option<String>,
    pub public_url: Option<String>,
    pub scrub_rate: u64,
    pub git_max_repo_size: u64,
    pub git_cache_size: u64,
    /// The cache budget in bytes (`None`: unbounded) and its pins.
    pub cache_size: Option<u64>,
    pub pins: String,
    /// The mirror followed while serving, and how often.
    pub sync_from: Option<String>,
    pub sync_interval: Duration,
    /// The own checksum database: its name and signer key (read at start).
    pub own_sumdb: Option<(String, String)>,
    pub git_timeout: Duration,
    pub git_max_processes: usize,
    /// Where direct mode may connect (`GOMIRROR_DIRECT_*`) and where
    /// upstreams may redirect to.
    pub egress: crate::egress::EgressConfig,
    pub scrub_interval: Duration,
    /// The CDN canary, when GOMIRROR_WATCH_CDN is set.
    pub watch: Option<WatchConfig>,
    /// Client connection limits and timeouts.
    pub conns: super::conn::Limits,
    pub log_format: LogFormat,
}

/// Where objects are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A data directory on this machine (today's layout: `objects/`
    /// under it).
    File(PathBuf),
    /// Object storage (`s3://`, `gs://`, `az://`, `memory://`): the URL.
    Remote(String),
}

impl StoreUrl {
    /// Parses `GOMIRROR_STORE`: `file:///abs/path`, or a bucket URL with a
    /// bucket name.
    pub fn parse(s: &str) -> Result<StoreUrl> {
        if let Some(p) = s.strip_prefix("file://") {
            if !p.starts_with('/') {
                bail!(
                    "invalid GOMIRROR_STORE {s:?}: file:// needs an absolute path (file:///path)"
                );
            }
            return Ok(StoreUrl::File(PathBuf::from(p)));
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| anyhow!("invalid GOMIRROR_STORE {s:?}: expected file:///path, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"))?;
        match scheme {
            "s3" | "gs" | "az" | "memory" => {}
            _ => bail!(
                "invalid GOMIRROR_STORE {s:?}: unsupported scheme {scheme:?} (file, s3, gs, az)"
            ),
        }
        if scheme != "memory" && rest.split('/').next().unwrap_or("").is_empty() {
            bail!("invalid GOMIRROR_STORE {s:?}: no bucket name");
        }
        if rest.split('/').any(|e| e == "." || e == "..") {
            bail!("invalid GOMIRROR_STORE {s:?}: the prefix may not hold . or ..");
        }
        Ok(StoreUrl::Remote(s.trim_end_matches('/').to_owned()))
    }
}

/// A fleet replica's coordination settings.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    pub redis_url: Secret,
    pub replica: String,
    pub lease_ttl: Duration,
}

/// The CDN canary run by the server.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub cdn: String,
    pub edges: Vec<String>,
    pub interval: Duration,
    pub sample: usize,
    pub rate: u64,
}

/// This machine's host name (`localhost` when it cannot be read).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Reads a variable; an empty value counts as unset, like the go command.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// How an error names the setting read from environment variable `var`:
/// its key in the TOML file, then the variable (`list_ttl
/// (GOMIRROR_LIST_TTL)`).
pub(crate) fn setting(var: &str) -> String {
    let key = var.strip_prefix("GOMIRROR_").unwrap_or(var).to_lowercase();
    format!("{key} ({var})")
}

fn duration(name: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s).map_err(|e| {
        anyhow!(
            "invalid {} {s:?}: {e} (expected e.g. 30s, 5m)",
            setting(name)
        )
    })
}

/// Picks flag, else environment, else file, else default.
/// A number from the flag, else the environment variable `var` (a value
/// that does not parse is an error naming the variable), else the file.
fn number<T>(flag: &Option<T>, var: &str, file: &Option<T>) -> Result<Option<T>>
where
    T: std::str::FromStr + Clone,
    T::Err: std::fmt::Display,
{
    let from_env = env(var)
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| anyhow!("invalid {} {v:?}: {e}", setting(var)))
        })
        .transpose()?;
    Ok(layer(flag, from_env, file))
}

fn layer<T: Clone>(flag: &Option<T>, env_val: Option<T>, file: &Option<T>) -> Option<T> {
    flag.clone().or(env_val).or_else(|| file.clone())
}

impl StoreFlags {
    /// Resolves where objects are stored (`GOMIRROR_STORE`, default: the
    /// data directory).
    pub fn store_url(&self) -> Result<StoreUrl> {
        let file = load_file(
            self.config
                .clone()
                .or_else(|| env("GOMIRROR_CONFIG").map(PathBuf::from)),
        )?;
        match layer(&self.store_url, env("GOMIRROR_STORE"), &file.store) {
            None => Ok(StoreUrl::File(self.data_dir()?)),
            Some(u) => StoreUrl::parse(&u),
        }
    }

    /// Resolves only the data directory (for commands that need the store
    /// but not the server settings).
    pub fn data_dir(&self) -> Result<PathBuf> {
        let file = load_file(
            self.config
                .clone()
                .or_else(|| env("GOMIRROR_CONFIG").map(PathBuf::from)),
        )?;
        Ok(layer(
            &self.data_dir,
            env("GOMIRROR_DATA_DIR").map(PathBuf::from),
            &file.data_dir,
        )
        .unwrap_or_else(|| PathBuf::from("gomirror-data")))
    }
}

fn load_file(path: Option<PathBuf>) -> Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

impl Config {
    /// Resolves the configuration from flags, environment and file, and
    /// validates every setting; an invalid one is an error naming it.
    pub fn resolve(flags: &ServeFlags) -> Result<Config> {
        let file = load_file(
            flags
                .store
                .config
                .clone()
                .or_else(|| env("GOMIRROR_CONFIG").map(PathBuf::from)),
        )?;
        let s = |flag: &Option<String>, var: &str, f: &Option<String>| layer(flag, env(var), f);

        let listen_s = s(&flags.listen, "GOMIRROR_LISTEN", &file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s.parse().map_err(|e| {
            anyhow!("invalid listen address (GOMIRROR_LISTEN / --listen) {listen_s:?}: {e}")
        })?;
        let data_dir = flags.store.data_dir()?;
        let goproxy = s(&flags.goproxy, "GOPROXY", &file.goproxy)
            .unwrap_or_else(|| "https://proxy.golang.org,direct".into());
        let goprivate = s(&flags.goprivate, "GOPRIVATE", &file.goprivate).unwrap_or_default();
        let gonoproxy =
            s(&flags.gonoproxy, "GONOPROXY", &file.gonoproxy).unwrap_or_else(|| goprivate.clone());
        let gonosumdb =
            s(&flags.gonosumdb, "GONOSUMDB", &file.gonosumdb).unwrap_or_else(|| goprivate.clone());
        let gosumdb =
            s(&flags.gosumdb, "GOSUMDB", &file.gosumdb).unwrap_or_else(|| "sum.golang.org".into());
        let goinsecure = s(&flags.goinsecure, "GOINSECURE", &file.goinsecure).unwrap_or_default();
        let chain = crate::upstream::Chain::parse(&goproxy)
            .map_err(|e| anyhow!("invalid {} {goproxy:?}: {e}", setting("GOPROXY")))?;
        for (name, v) in [
            ("GONOPROXY", &gonoproxy),
            ("GOPRIVATE", &goprivate),
            ("GONOSUMDB", &gonosumdb),
            ("GOINSECURE", &goinsecure),
        ] {
            gomod::glob::check_patterns(v)
                .map_err(|e| anyhow!("invalid {} {v:?}: {e}", setting(name)))?;
        }
        let sumdb = crate::sumdb::parse_gosumdb(&gosumdb)
            .map_err(|e| anyhow!("invalid {} {gosumdb:?}: {e}", setting("GOSUMDB")))?;
        let sumdb_unreachable = match s(&flags.sumdb_unreachable, "GOMIRROR_SUMDB_UNREACHABLE", &file.sumdb_unreachable)
            .as_deref()
        {
            None | Some("strict") => crate::sumdb::Unreachable::Strict,
            Some("warn") => crate::sumdb::Unreachable::Warn,
            Some(other) => bail!(
                "invalid GOMIRROR_SUMDB_UNREACHABLE (--sumdb-unreachable) {other:?}: expected strict or warn"
            ),
        };
        let dur = |flag: &Option<String>,
                   var: &str,
                   f: &Option<String>,
                   default: &str|
         -> Result<Duration> {
            let v = s(flag, var, f).unwrap_or_else(|| default.into());
            duration(var, &v)
        };
        let list_ttl = dur(&flags.list_ttl, "GOMIRROR_LIST_TTL", &file.list_ttl, "60s")?;
        let upstream_connect_timeout = dur(
            &flags.upstream_connect_timeout,
            "GOMIRROR_UPSTREAM_CONNECT_TIMEOUT",
            &file.upstream_connect_timeout,
            "10s",
        )?;
        let upstream_first_byte_timeout = dur(
            &flags.upstream_first_byte_timeout,
            "GOMIRROR_UPSTREAM_FIRST_BYTE_TIMEOUT",
            &file.upstream_first_byte_timeout,
            "30s",
        )?;
        let upstream_idle_timeout = dur(
            &flags.upstream_idle_timeout,
            "GOMIRROR_UPSTREAM_IDLE_TIMEOUT",
            &file.upstream_idle_timeout,
            "30s",
        )?;
        let upstream_retries = match number(
            &flags.upstream_retries,
            "GOMIRROR_UPSTREAM_RETRIES",
            &file.upstream_retries,
        )? {
            Some(n) if n > 10 => bail!("invalid upstream_retries {n}: at most 10"),
            Some(n) => n,
            None => 2,
        };
        let upstream_total_timeout = dur(
            &flags.upstream_total_timeout,
            "GOMIRROR_UPSTREAM_TOTAL_TIMEOUT",
            &file.upstream_total_timeout,
            "2m",
        )?;
        let upstream_zip_total_timeout = dur(
            &flags.upstream_zip_total_timeout,
            "GOMIRROR_UPSTREAM_ZIP_TOTAL_TIMEOUT",
            &file.upstream_zip_total_timeout,
            "10m",
        )?;
        for (name, d) in [
            ("GOMIRROR_UPSTREAM_TOTAL_TIMEOUT", upstream_total_timeout),
            (
                "GOMIRROR_UPSTREAM_ZIP_TOTAL_TIMEOUT",
                upstream_zip_total_timeout,
            ),
        ] {
            if d.is_zero() {
                bail!("invalid {name}: must be more than 0s");
            }
        }
        let upstream_concurrency = number(
            &flags.upstream_concurrency,
            "GOMIRROR_UPSTREAM_CONCURRENCY",
            &file.upstream_concurrency,
        )?
        .unwrap_or(32);
        let upstream_concurrency_total = number(
            &flags.upstream_concurrency_total,
            "GOMIRROR_UPSTREAM_CONCURRENCY_TOTAL",
            &file.upstream_concurrency_total,
        )?
        .unwrap_or(128);
        if upstream_concurrency == 0 || upstream_concurrency_total == 0 {
            bail!("invalid GOMIRROR_UPSTREAM_CONCURRENCY / GOMIRROR_UPSTREAM_CONCURRENCY_TOTAL: must be at least 1");
        }
        let negative_ttl = dur(
            &flags.negative_ttl,
            "GOMIRROR_NEGATIVE_TTL",
            &file.negative_ttl,
            "60s",
        )?;
        let memory_cache_bytes = number(
            &flags.memory_cache_bytes,
            "GOMIRROR_MEMORY_CACHE_BYTES",
            &file.memory_cache_bytes,
        )?
        .unwrap_or(32 << 20);
        let store = flags.store.store_url()?;
        let local_cache_size = number(
            &flags.local_cache_size,
            "GOMIRROR_LOCAL_CACHE_SIZE",
            &file.local_cache_size,
        )?
        .unwrap_or(10 << 30);
        let lease_ttl = dur(
            &flags.lease_ttl,
            "GOMIRROR_LEASE_TTL",
            &file.lease_ttl,
            "15s",
        )?;
        if lease_ttl < Duration::from_secs(1) {
            bail!("GOMIRROR_LEASE_TTL must be at least 1s");
        }
        let fleet = match s(&flags.redis_url, "GOMIRROR_REDIS_URL", &file.redis_url) {
            None => None,
            Some(url) => {
                if !(url.starts_with("redis://")
                    || url.starts_with("redis+unix://")
                    || url.starts_with("unix://"))
                {
                    bail!("invalid GOMIRROR_REDIS_URL: expected redis://[user:password@]host:port/db or unix:///path (TLS, rediss://, is not built in: use a local TLS tunnel)");
                }
                if !matches!(store, StoreUrl::Remote(_)) {
                    bail!("GOMIRROR_REDIS_URL needs a shared GOMIRROR_STORE (s3://, gs://, az://): replicas on their own disks are not one mirror");
                }
                let replica = s(&flags.replica, "GOMIRROR_REPLICA", &file.replica)
                    .unwrap_or_else(|| format!("{}:{}", hostname(), listen.port()));
                Some(FleetSettings {
                    redis_url: Secret(url),
                    replica,
                    lease_ttl,
                })
            }
        };
        let min_free_bytes = number(
            &flags.min_free_bytes,
            "GOMIRROR_MIN_FREE_BYTES",
            &file.min_free_bytes,
        )?
        .unwrap_or(1 << 30);
        let reverify_interval = dur(
            &flags.reverify_interval,
            "GOMIRROR_REVERIFY_INTERVAL",
            &file.reverify_interval,
            "10m",
        )?;
        let alert_webhooks: Vec<String> = s(
            &flags.alert_webhooks,
            "GOMIRROR_ALERT_WEBHOOKS",
            &file.alert_webhooks,
        )
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
        for u in &alert_webhooks {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("invalid GOMIRROR_ALERT_WEBHOOKS entry {u:?}: expected an http(s) URL");
            }
        }
        let alert_budget = match number(
            &flags.alert_budget,
            "GOMIRROR_ALERT_BUDGET",
            &file.alert_budget,
        )? {
            Some(0) => bail!("invalid alert_budget 0: at least 1"),
            Some(n) => n,
            None => 30,
        };
        let alert_window = dur(
            &flags.alert_window,
            "GOMIRROR_ALERT_WINDOW",
            &file.alert_window,
            "1m",
        )?;
        if alert_window.is_zero() {
            bail!("invalid alert_window 0s: expected a positive duration");
        }
        // Flag, then the environment's token, then the file's token file.
        let read_token = |path: &PathBuf| -> Result<String> {
            let t = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "admin_token_file (--admin-token-file): cannot read {}",
                    path.display()
                )
            })?;
            Ok(t.trim().to_owned())
        };
        let admin_token = match (
            &flags.admin_token_file,
            env("GOMIRROR_ADMIN_TOKEN"),
            &file.admin_token_file,
        ) {
            (Some(p), _, _) => Some(read_token(p)?),
            (None, Some(t), _) => Some(t),
            (None, None, Some(p)) => Some(read_token(p)?),
            (None, None, None) => None,
        };
        if admin_token.as_deref().is_some_and(|t| t.len() < 16) {
            bail!("the admin token (GOMIRROR_ADMIN_TOKEN / --admin-token-file) must be at least 16 characters");
        }
        let admin_token = admin_token.map(Secret);
        let cdn_purge_webhook = s(
            &flags.cdn_purge_webhook,
            "GOMIRROR_CDN_PURGE_WEBHOOK",
            &file.cdn_purge_webhook,
        );
        let public_url = s(&flags.public_url, "GOMIRROR_PUBLIC_URL", &file.public_url)
            .map(|u| u.trim_end_matches('/').to_owned());
        let scrub_rate =
            number(&flags.scrub_rate, "GOMIRROR_SCRUB_RATE", &file.scrub_rate)?.unwrap_or(8 << 20);
        let git_max_repo_size = number(
            &flags.git_max_repo_size,
            "GOMIRROR_GIT_MAX_REPO_SIZE",
            &file.git_max_repo_size,
        )?
        .unwrap_or(2 << 30);
        let git_cache_size = number(
            &flags.git_cache_size,
            "GOMIRROR_GIT_CACHE_SIZE",
            &file.git_cache_size,
        )?
        .unwrap_or(20 << 30);
        let cache_size =
            number(&flags.cache_size, "GOMIRROR_CACHE_SIZE", &file.cache_size)?.filter(|&n| n > 0);
        if cache_size.is_some() && matches!(store, StoreUrl::Remote(_)) {
            bail!("invalid GOMIRROR_CACHE_SIZE (--cache-size): a budget is for a data directory; object storage shared by a fleet is not bounded by it (its replicas' local tiers are: GOMIRROR_LOCAL_CACHE_SIZE)");
        }
        let pins = s(&flags.pin, "GOMIRROR_PIN", &file.pin).unwrap_or_default();
        let sync_from =
            s(&flags.sync_from, "GOMIRROR_SYNC_FROM", &file.sync_from).filter(|u| !u.is_empty());
        if let Some(u) = &sync_from {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("invalid GOMIRROR_SYNC_FROM (--sync-from) {u:?}: the http(s) URL of a mirror is needed");
            }
        }
        let sync_interval = dur(
            &flags.sync_interval,
            "GOMIRROR_SYNC_INTERVAL",
            &file.sync_interval,
            "5m",
        )?;
        if sync_interval.is_zero() {
            bail!("invalid GOMIRROR_SYNC_INTERVAL (--sync-interval): must be more than 0s");
        }
        let own_name =
            s(&flags.sumdb_name, "GOMIRROR_SUMDB_NAME", &file.sumdb_name).filter(|n| !n.is_empty());
        let own_key = layer(
            &flags.sumdb_key_file,
            env("GOMIRROR_SUMDB_KEY_FILE").map(PathBuf::from),
            &file.sumdb_key_file,
        );
        let own_sumdb = match (own_name, own_key) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => bail!(
                "invalid GOMIRROR_SUMDB_NAME / GOMIRROR_SUMDB_KEY_FILE: the own checksum database needs both"
            ),
            (Some(name), Some(file)) => {
                if !gomod::note::is_valid_name(&name) {
                    bail!("invalid GOMIRROR_SUMDB_NAME (--sumdb-name) {name:?}: not a note key name");
                }
                if sumdb.as_ref().is_some_and(|d| d.name == name) {
                    bail!("invalid GOMIRROR_SUMDB_NAME (--sumdb-name) {name:?}: it is the upstream checksum database's name (GOSUMDB); the mirror's own log needs a name of its own");
                }
                if matches!(store, StoreUrl::Remote(_)) && fleet.is_none() {
                    bail!("invalid GOMIRROR_SUMDB_NAME (--sumdb-name): on shared storage the own checksum database needs the fleet's Redis (GOMIRROR_REDIS_URL): one appender at a time");
                }
                let skey = std::fs::read_to_string(&file).with_context(|| {
                    format!("invalid GOMIRROR_SUMDB_KEY_FILE (--sumdb-key-file): reading {}", file.display())
                })?;
                Some((name, skey.trim().to_owned()))
            }
        };
        let git_timeout = dur(
            &flags.git_timeout,
            "GOMIRROR_GIT_TIMEOUT",
            &file.git_timeout,
            "5m",
        )?;
        if git_timeout.is_zero() {
            bail!("invalid GOMIRROR_GIT_TIMEOUT (--git-timeout): must be more than 0s");
        }
        let git_max_processes = number(
            &flags.git_max_processes,
            "GOMIRROR_GIT_MAX_PROCESSES",
            &file.git_max_processes,
        )?
        .unwrap_or(4);
        if git_max_processes == 0 {
            bail!("invalid GOMIRROR_GIT_MAX_PROCESSES (--git-max-processes): must be at least 1");
        }
        let egress = crate::egress::EgressConfig {
            allow: s(
                &flags.direct_allow,
                "GOMIRROR_DIRECT_ALLOW",
                &file.direct_allow,
            )
            .unwrap_or_default(),
            hosts: s(
                &flags.direct_hosts,
                "GOMIRROR_DIRECT_HOSTS",
                &file.direct_hosts,
            )
            .unwrap_or_default(),
            resolve: s(
                &flags.direct_resolve,
                "GOMIRROR_DIRECT_RESOLVE",
                &file.direct_resolve,
            )
            .unwrap_or_default(),
            redirect_allow: s(
                &flags.upstream_redirect_allow,
                "GOMIRROR_UPSTREAM_REDIRECT_ALLOW",
                &file.upstream_redirect_allow,
            )
            .unwrap_or_default(),
        };
        crate::egress::Egress::new(&egress)?;
        let scrub_interval = dur(
            &flags.scrub_interval,
            "GOMIRROR_SCRUB_INTERVAL",
            &file.scrub_interval,
            "24h",
        )?;
        let watch = match s(&flags.watch_cdn, "GOMIRROR_WATCH_CDN", &file.watch_cdn) {
            None => None,
            Some(cdn) => {
                if !(cdn.starts_with("http://") || cdn.starts_with("https://")) {
                    bail!("invalid GOMIRROR_WATCH_CDN {cdn:?}: expected an http(s) URL");
                }
                let edges = s(
                    &flags.watch_edges,
                    "GOMIRROR_WATCH_EDGES",
                    &file.watch_edges,
                )
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
                Some(WatchConfig {
                    cdn,
                    edges,
                    interval: dur(
                        &flags.watch_interval,
                        "GOMIRROR_WATCH_INTERVAL",
                        &file.watch_interval,
                        "10m",
                    )?,
                    sample: number(
                        &flags.watch_sample,
                        "GOMIRROR_WATCH_SAMPLE",
                        &file.watch_sample,
                    )?
                    .unwrap_or(50),
                    rate: number(&flags.watch_rate, "GOMIRROR_WATCH_RATE", &file.watch_rate)?
                        .unwrap_or(4 << 20),
                })
            }
        };
        let tls_cert = layer(
            &flags.tls_cert,
            env("GOMIRROR_TLS_CERT").map(PathBuf::from),
            &file.tls_cert,
        );
        let tls_key = layer(
            &flags.tls_key,
            env("GOMIRROR_TLS_KEY").map(PathBuf::from),
            &file.tls_key,
        );
        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("GOMIRROR_TLS_CERT (--tls-cert) and GOMIRROR_TLS_KEY (--tls-key) must be set together"),
        };
        let conns = super::conn::Limits {
            header_read_timeout: dur(
                &flags.header_read_timeout,
                "GOMIRROR_HEADER_READ_TIMEOUT",
                &file.header_read_timeout,
                "10s",
            )?,
            idle_timeout: dur(
                &flags.idle_timeout,
                "GOMIRROR_IDLE_TIMEOUT",
                &file.idle_timeout,
                "60s",
            )?,
            max_connections: number(
                &flags.max_connections,
                "GOMIRROR_MAX_CONNECTIONS",
                &file.max_connections,
            )?,
            h2_max_streams: number(
                &flags.h2_max_streams,
                "GOMIRROR_H2_MAX_STREAMS",
                &file.h2_max_streams,
            )?
            .unwrap_or(32),
            drain_timeout: dur(
                &flags.drain_timeout,
                "GOMIRROR_DRAIN_TIMEOUT",
                &file.drain_timeout,
                "30s",
            )?,
        };
        if conns.header_read_timeout.is_zero() || conns.idle_timeout.is_zero() {
            bail!("GOMIRROR_HEADER_READ_TIMEOUT and GOMIRROR_IDLE_TIMEOUT must be more than 0s");
        }
        if conns.max_connections == Some(0) || conns.h2_max_streams == 0 {
            bail!("GOMIRROR_MAX_CONNECTIONS and GOMIRROR_H2_MAX_STREAMS must be at least 1");
        }
        let log_format = match s(&flags.log_format, "GOMIRROR_LOG_FORMAT", &file.log_format).as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("invalid log format (GOMIRROR_LOG_FORMAT / --log-format) {other:?}: expected human or json"),
        };
        Ok(Config {
            listen,
            data_dir,
            goproxy,
            chain,
            gonoproxy,
            goprivate,
            gosumdb,
            gonosumdb,
            sumdb,
            sumdb_unreachable,
            goinsecure,
            git_max_repo_size,
            git_cache_size,
            cache_size,
            pins,
            sync_from,
            sync_interval,
            own_sumdb,
            git_timeout,
            git_max_processes,
            egress,
            list_ttl,
            tls,
            upstream_connect_timeout,
            upstream_first_byte_timeout,
            upstream_idle_timeout,
            upstream_retries,
            upstream_total_timeout,
            upstream_zip_total_timeout,
            upstream_concurrency,
            upstream_concurrency_total,
            negative_ttl,
            memory_cache_bytes,
            store,
            local_cache_size,
            fleet,
            min_free_bytes,
            reverify_interval,
            alert_webhooks,
            alert_budget,
            alert_window,
            admin_token,
            cdn_purge_webhook,
            public_url,
            scrub_rate,
            scrub_interval,
            watch,
            conns,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commented configuration file the package installs
    /// (`generate-assets`): every key the file accepts, each commented at
    /// its default.
    #[test]
    fn the_generated_configuration_file_has_every_setting_at_its_default() {
        let text = crate::cli::assets::config_file(None);
        let settings: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|r| r.starts_with(|c: char| c.is_ascii_lowercase()))
            .collect();
        let keys: std::collections::BTreeSet<String> = settings
            .iter()
            .map(|r| r.split('=').next().unwrap_or("").trim().to_owned())
            .collect();
        let accepted: std::collections::BTreeSet<String> =
            serde_json::to_value(FileConfig::default())
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(
            keys, accepted,
            "settings in the file vs keys the file accepts"
        );
        // Every default written out, set: the same configuration as none.
        let set: String = settings
            .iter()
            .filter(|r| !r.trim_end().ends_with('='))
            .map(|r| format!("{r}\n"))
            .collect();
        assert!(set.lines().count() > 30, "{set}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gomirror.toml");
        std::fs::write(&file, &set).unwrap();
        let with = ServeFlags {
            store: StoreFlags {
                config: Some(file),
                ..StoreFlags::default()
            },
            ..ServeFlags::default()
        };
        let a = Config::resolve(&with).unwrap();
        let b = Config::resolve(&ServeFlags::default()).unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    /// The own checksum database needs both its settings, a name of its
    /// own, and a readable key.
    #[test]
    fn the_own_checksum_database_settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let (skey, _) = gomod::note::generate_key("sum.own.test").unwrap();
        std::fs::write(&key, skey).unwrap();
        let flags = |name: Option<&str>, key: Option<&std::path::Path>| ServeFlags {
            gosumdb: Some("off".into()),
            sumdb_name: name.map(str::to_owned),
            sumdb_key_file: key.map(|p| p.to_owned()),
            ..ServeFlags::default()
        };
        let c = Config::resolve(&flags(Some("sum.own.test"), Some(&key))).unwrap();
        assert_eq!(
            c.own_sumdb.as_ref().map(|(n, _)| n.as_str()),
            Some("sum.own.test")
        );
        let err = |f: ServeFlags| format!("{:#}", Config::resolve(&f).unwrap_err());
        assert!(err(flags(Some("sum.own.test"), None)).contains("needs both"));
        assert!(err(flags(None, Some(&key))).contains("needs both"));
        assert!(
            err(flags(Some("sum.own.test"), Some(&dir.path().join("none"))))
                .contains("GOMIRROR_SUMDB_KEY_FILE")
        );
        let same = ServeFlags {
            gosumdb: Some("sum.golang.org".into()),
            ..flags(Some("sum.golang.org"), Some(&key))
        };
        assert!(err(same).contains("upstream checksum database's name"));
    }
}
