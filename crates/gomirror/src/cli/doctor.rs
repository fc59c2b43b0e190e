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

use crate::store::Store;
use crate::sumdb::{self, DbConfig};
use crate::upstream::{Chain, Source};
use crate::util::error_chain;
use base64::Engine as _;
use clap::Args;
use serde::Serialize;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Proxies always checked when no `--proxy` is given (besides GOPROXY's).
const PUBLIC_PROXIES: [&str; 2] = ["https://proxy.golang.org", "https://goproxy.cn"];

/// Redirects followed per request (as the go command: 10).
const MAX_REDIRECTS: usize = 10;

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
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("gomirror doctor: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render(&report));
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------
// What to do
// ---------------------------------------------------------------------------

/// The checksum database to ask, or why none is asked.
enum DbPlan {
    Off,
    Skipped(String),
    Db(DbConfig),
}

struct Plan {
    module: String,
    version: String,
    proxies: Vec<String>,
    warnings: Vec<String>,
    db: DbPlan,
    timeout: Duration,
    cacert: Vec<reqwest::Certificate>,
}

impl Plan {
    fn new(args: &DoctorArgs) -> Result<Plan, String> {
        let (module, version) = args
            .module
            .split_once('@')
            .ok_or_else(|| format!("{:?}: expected <module path>@<version>", args.module))?;
        gomod::module::check(module, version).map_err(|e| e.to_string())?;
        let mut warnings = vec![];
        let proxies = if args.proxy.is_empty() {
            let goproxy = env_nonempty("GOPROXY");
            let (list, warn) = default_proxies(goproxy.as_deref());
            warnings.extend(warn);
            list
        } else {
            let mut out: Vec<String> = vec![];
            for p in &args.proxy {
                for base in parse_proxy_arg(p)? {
                    if !out.contains(&base) {
                        out.push(base);
                    }
                }
            }
            out
        };
        let gosumdb = match &args.gosumdb {
            Some(v) => v.clone(),
            None => env_nonempty("GOSUMDB").unwrap_or_else(|| "sum.golang.org".to_owned()),
        };
        let db = match sumdb::parse_gosumdb(&gosumdb).map_err(|e| format!("--gosumdb: {e}"))? {
            None => DbPlan::Off,
            Some(cfg) => {
                let nosumdb = env_nonempty("GONOSUMDB")
                    .or_else(|| env_nonempty("GOPRIVATE"))
                    .unwrap_or_default();
                if !nosumdb.is_empty() && gomod::glob::match_prefix_patterns(&nosumdb, module) {
                    DbPlan::Skipped(format!("{module} matches GONOSUMDB/GOPRIVATE ({nosumdb})"))
                } else {
                    DbPlan::Db(cfg)
                }
            }
        };
        let cacert = match &args.cacert {
            None => vec![],
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| format!("--cacert {}: {e}", path.display()))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("--cacert {}: {}", path.display(), error_chain(&e)))?;
                if certs.is_empty() {
                    return Err(format!(
                        "--cacert {}: no PEM certificate in it",
                        path.display()
                    ));
                }
                certs
            }
        };
        if args.timeout.is_zero() {
            return Err("--timeout must be more than 0s".into());
        }
        Ok(Plan {
            module: module.to_owned(),
            version: version.to_owned(),
            proxies,
            warnings,
            db,
            timeout: args.timeout,
            cacert,
        })
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The http(s) proxies of a `--proxy` value (GOPROXY syntax).
fn parse_proxy_arg(value: &str) -> Result<Vec<String>, String> {
    let chain = Chain::parse(value).map_err(|e| format!("--proxy {value:?}: {e}"))?;
    let mut out = vec![];
    for (source, _) in chain.entries {
        match source {
            Source::Http { base } => out.push(base),
            other => {
                return Err(format!(
                    "--proxy {value:?}: {} is not an http:// or https:// proxy",
                    other.name()
                ))
            }
        }
    }
    Ok(out)
}

/// The proxies checked by default: GOPROXY's http(s) entries (GOPROXY
/// unset means the go command's default), then the public ones, without
/// duplicates. Also returns a warning when GOPROXY cannot be parsed.
fn default_proxies(goproxy: Option<&str>) -> (Vec<String>, Option<String>) {
    let goproxy = goproxy.unwrap_or("https://proxy.golang.org,direct");
    let mut out: Vec<String> = vec![];
    let mut warning = None;
    match Chain::parse(goproxy) {
        Ok(chain) => {
            for (source, _) in chain.entries {
                if let Source::Http { base } = source {
                    if !out.contains(&base) {
                        out.push(base);
                    }
                }
            }
        }
        Err(e) => warning = Some(format!("ignoring GOPROXY: {e}")),
    }
    for p in PUBLIC_PROXIES {
        if !out.iter().any(|b| b == p) {
            out.push(p.to_owned());
        }
    }
    (out, warning)
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// Everything found, as printed by `--json`.
#[derive(Debug, Serialize)]
struct Report {
    module: String,
    version: String,
    /// Every proxy is right.
    ok: bool,
    warnings: Vec<String>,
    sumdb: SumdbReport,
    /// What each proxy's content was compared with.
    reference: References,
    proxies: Vec<ProxyReport>,
}

#[derive(Debug, Serialize)]
struct SumdbReport {
    /// `ok`, `off`, `skipped`, `not_found`, `unreachable` or `invalid`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_h1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mod_h1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tree_size: Option<u64>,
    lookup_ms: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
struct References {
    zip: Option<Reference>,
    #[serde(rename = "mod")]
    go_mod: Option<Reference>,
}

#[derive(Debug, Clone, Serialize)]
struct Reference {
    h1: String,
    /// `sumdb` or `majority`.
    source: &'static str,
    /// For a majority: how many proxies agree, of how many compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    agree: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    of: Option<usize>,
}

#[derive(Debug, Serialize)]
struct ProxyReport {
    url: String,
    ok: bool,
    /// One line: `ok`, or the problems joined with `; `.
    verdict: String,
    problems: Vec<String>,
    /// Facts worth knowing that do not make the proxy wrong.
    notes: Vec<String>,
    info: Object,
    #[serde(rename = "mod")]
    go_mod: Object,
    zip: Object,
}

/// One fetched file and what was learnt from it.
#[derive(Debug, Default, Serialize)]
struct Object {
    #[serde(flatten)]
    fetch: Fetch,
    /// `.info`: the version it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// `.zip`: whether it follows the module zip rules (unset: not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<bool>,
    /// Why the content is malformed (`.info` JSON, zip rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid: Option<String>,
    /// `.zip`: number of files.
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<usize>,
    /// `h1:` of the `.mod`, or of the zip.
    #[serde(skip_serializing_if = "Option::is_none")]
    h1: Option<String>,
    /// `.zip`: `h1:` of its go.mod (or of the one the go command
    /// synthesises when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    go_mod_h1: Option<String>,
    /// `match` or `differs`, when the database vouches for this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    vs_sumdb: Option<&'static str>,
    /// Other proxies that served the same `h1:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    same_as: Vec<String>,
    /// For a cut-off body: other proxies whose complete copy starts with
    /// the bytes received.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    prefix_of: Vec<String>,
}

/// One GET, as seen on the wire.
#[derive(Debug, Default, Serialize)]
struct Fetch {
    url: String,
    /// Redirects followed before the final answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redirects: Vec<Hop>,
    /// The address that answered (the proxy's, when an HTTP proxy is used).
    remote_addr: Option<String>,
    http_version: Option<String>,
    status: Option<u16>,
    /// Set for https.
    tls: Option<TlsFacts>,
    /// Every response header (lower-case names; repeated ones joined).
    headers: BTreeMap<String, String>,
    /// Time from sending the (final) request to its response headers.
    ttfb_ms: Option<f64>,
    /// Time from the first request to the end of the body (or the error).
    total_ms: f64,
    /// Time spent receiving the body.
    body_ms: Option<f64>,
    bytes_declared: Option<u64>,
    bytes_received: u64,
    throughput_bytes_per_sec: Option<f64>,
    /// The body ended cleanly (every declared byte arrived).
    complete: bool,
    timed_out: bool,
    /// The body exceeded the go command's size limit and was not read on.
    too_large: bool,
    /// The transport error, with its whole source chain.
    error: Option<String>,
    /// The HTTP/2 error code, when the error was an HTTP/2 one.
    #[serde(skip_serializing_if = "Option::is_none")]
    h2: Option<H2Error>,
    /// `Repr-Digest` / `Content-Digest` checked against the body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    digests: Vec<DigestCheck>,
    /// SHA-256 of the bytes received (complete bodies only).
    sha256: Option<String>,
    /// Start of a non-200 body (the server's explanation).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_body: Option<String>,
    #[serde(skip)]
    body: Vec<u8>,
}

#[derive(Debug, Serialize)]
struct Hop {
    url: String,
    status: u16,
    http_version: String,
    location: String,
}

#[derive(Debug, Serialize)]
struct TlsFacts {
    version: Option<String>,
    /// `h2` when HTTP/2 was negotiated; `http/1.1` otherwise (the client
    /// offers `h2` and `http/1.1`; a server without ALPN also gives
    /// HTTP/1.1).
    alpn: String,
    /// SHA-256 of the server's leaf certificate (DER).
    cert_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct H2Error {
    /// `RST_STREAM` (one stream reset), `GOAWAY` (the connection) or
    /// `protocol` (an error detected locally).
    frame: &'static str,
    /// The error code, e.g. `INTERNAL_ERROR`.
    reason: String,
    stream_id: Option<u32>,
    /// `server` (received), `client` (sent by this side) or `library`
    /// (detected by the HTTP/2 implementation).
    by: &'static str,
}

impl H2Error {
    fn describe(&self) -> String {
        let who = match self.by {
            "server" => "from the server",
            "client" => "sent by the client",
            _ => "detected by the client",
        };
        match (self.frame, self.stream_id) {
            ("RST_STREAM", Some(id)) => format!(
                "HTTP/2 RST_STREAM {who}: {} (stream error: stream ID {id}; {})",
                self.reason, self.reason
            ),
            ("protocol", _) => format!("HTTP/2 protocol error: {}", self.reason),
            (frame, _) => format!("HTTP/2 {frame} {who}: {}", self.reason),
        }
    }
}

#[derive(Debug, Serialize)]
struct DigestCheck {
    header: &'static str,
    algorithm: String,
    /// `match`, `mismatch`, `unsupported algorithm`, `malformed` or
    /// `not checked (incomplete body)`.
    result: &'static str,
}

// ---------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Info,
    Mod,
    Zip,
}

impl Kind {
    fn ext(self) -> &'static str {
        match self {
            Kind::Info => ".info",
            Kind::Mod => ".mod",
            Kind::Zip => ".zip",
        }
    }
    fn limit(self) -> u64 {
        match self {
            Kind::Info => crate::admit::MAX_INFO,
            Kind::Mod => crate::admit::MAX_MOD,
            Kind::Zip => crate::admit::MAX_ZIP,
        }
    }
}

fn http_client(plan: &Plan) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(plan.timeout)
        .tls_info(true)
        .user_agent(concat!("gomirror-doctor/", env!("CARGO_PKG_VERSION")));
    if !plan.cacert.is_empty() {
        b = b.tls_certs_merge(plan.cacert.iter().cloned());
    }
    Ok(b.build()?)
}

fn version_name(v: reqwest::Version) -> String {
    match v {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_11 => "HTTP/1.1",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
    .to_owned()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// GETs `url`, following redirects, streaming the body by hand.
async fn fetch(client: &reqwest::Client, url: &str, kind: Kind, timeout: Duration) -> Fetch {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut f = Fetch {
        url: url.to_owned(),
        ..Default::default()
    };
    let mut current = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            f.error = Some(format!("invalid URL {url}: {e}"));
            return f;
        }
    };
    let (mut resp, sent) = loop {
        let sent = Instant::now();
        let r = match tokio::time::timeout_at(deadline, client.get(current.clone()).send()).await {
            Err(_) => {
                f.timed_out = true;
                f.error = Some(format!(
                    "no response within {} (--timeout)",
                    humantime::format_duration(timeout)
                ));
                f.total_ms = ms(start.elapsed());
                return f;
            }
            Ok(Err(e)) => {
                f.set_error(&e);
                f.total_ms = ms(start.elapsed());
                return f;
            }
            Ok(Ok(r)) => r,
        };
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(loc) if r.status().is_redirection() && f.redirects.len() < MAX_REDIRECTS => {
                let next = match current.join(&loc) {
                    Ok(u) => u,
                    Err(e) => {
                        f.record_response(&r, sent);
                        f.error = Some(format!("bad redirect Location {loc:?}: {e}"));
                        f.total_ms = ms(start.elapsed());
                        return f;
                    }
                };
                f.redirects.push(Hop {
                    url: current.to_string(),
                    status: r.status().as_u16(),
                    http_version: version_name(r.version()),
                    location: next.to_string(),
                });
                current = next;
            }
            _ => break (r, sent),
        }
    };
    f.record_response(&resp, sent);
    let ok = resp.status() == reqwest::StatusCode::OK;
    // A non-200 body is only read for its explanation.
    let limit = if ok { kind.limit() } else { 64 << 10 };
    let body_start = Instant::now();
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => {
                f.timed_out = true;
                f.error = Some(format!(
                    "the body did not finish within {} (--timeout)",
                    humantime::format_duration(timeout)
                ));
                break;
            }
            Ok(Ok(Some(chunk))) => {
                if (body.len() + chunk.len()) as u64 > limit {
                    let take = (limit as usize).saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..take]);
                    if ok {
                        f.too_large = true;
                        f.error = Some(format!(
                            "body larger than the go command's limit of {}",
                            human_bytes(limit)
                        ));
                    }
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => {
                f.complete = true;
                break;
            }
            Ok(Err(e)) => {
                f.set_error(&e);
                break;
            }
        }
    }
    let body_time = body_start.elapsed();
    f.total_ms = ms(start.elapsed());
    f.body_ms = Some(ms(body_time));
    f.bytes_received = body.len() as u64;
    if body_time.as_secs_f64() > 0.0 && !body.is_empty() {
        f.throughput_bytes_per_sec = Some((body.len() as f64 / body_time.as_secs_f64()).round());
    }
    if f.complete {
        if let Some(d) = f.bytes_declared {
            if d != f.bytes_received {
                // hyper enforces Content-Length; keep the check anyway.
                f.complete = false;
                f.error = Some(format!(
                    "body ended after {} of {d} declared bytes",
                    f.bytes_received
                ));
            }
        }
    }
    if !ok {
        let text = String::from_utf8_lossy(&body);
        let line: String = text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect();
        if !line.is_empty() {
            f.error_body = Some(line);
        }
    } else {
        if f.complete {
            f.sha256 = Some(hex::encode(sha2::Sha256::digest(&body)));
        }
        f.digests = check_digests(&f.headers, &body, f.complete);
        f.body = body;
    }
    f
}

impl Fetch {
    fn record_response(&mut self, r: &reqwest::Response, sent: Instant) {
        self.ttfb_ms = Some(ms(sent.elapsed()));
        self.status = Some(r.status().as_u16());
        self.http_version = Some(version_name(r.version()));
        self.remote_addr = r.remote_addr().map(|a| a.to_string());
        self.headers.clear();
        for (name, value) in r.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            self.headers
                .entry(name.as_str().to_owned())
                .and_modify(|old| {
                    old.push_str(", ");
                    old.push_str(&v);
                })
                .or_insert(v);
        }
        self.bytes_declared = r
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        self.tls = if r.url().scheme() == "https" {
            let info = r.extensions().get::<reqwest::tls::TlsInfo>();
            let version = info.and_then(|i| i.version()).map(|v| {
                match v {
                    reqwest::tls::Version::TLS_1_0 => "TLS 1.0",
                    reqwest::tls::Version::TLS_1_1 => "TLS 1.1",
                    reqwest::tls::Version::TLS_1_2 => "TLS 1.2",
                    reqwest::tls::Version::TLS_1_3 => "TLS 1.3",
                    _ => "TLS ?",
                }
                .to_owned()
            });
            let cert_sha256 = info
                .and_then(|i| i.peer_certificate())
                .map(|der| hex::encode(sha2::Sha256::digest(der)));
            Some(TlsFacts {
                version,
                alpn: if r.version() == reqwest::Version::HTTP_2 {
                    "h2".into()
                } else {
                    "http/1.1".into()
                },
                cert_sha256,
            })
        } else {
            None
        };
    }

    fn set_error(&mut self, e: &reqwest::Error) {
        let mut chain = error_chain(e);
        if let Some(u) = e.url() {
            // The URL is shown elsewhere.
            chain = chain.replace(&format!(" for url ({u})"), "");
        }
        self.h2 = h2_error(&format!("{e:?}"), &chain);
        self.timed_out |= e.is_timeout();
        self.error = Some(chain);
    }

    /// The transport failure in a few words: the HTTP/2 error code when
    /// there is one, else the innermost cause.
    fn cause(&self) -> String {
        if let Some(h2) = &self.h2 {
            return h2.describe();
        }
        let e = self.error.as_deref().unwrap_or("");
        if self.timed_out || self.too_large {
            return e.to_owned();
        }
        let last = e.rsplit(": ").next().unwrap_or(e);
        if last.contains("end of file before message length reached") {
            format!("connection closed early ({last})")
        } else {
            last.to_owned()
        }
    }
}

/// HTTP/2 error codes (RFC 9113 section 7) with the descriptions the `h2`
/// crate prints for them.
const H2_REASONS: [(&str, &str); 14] = [
    ("NO_ERROR", "not a result of an error"),
    ("PROTOCOL_ERROR", "unspecific protocol error detected"),
    ("INTERNAL_ERROR", "unexpected internal error encountered"),
    ("FLOW_CONTROL_ERROR", "flow-control protocol violated"),
    (
        "SETTINGS_TIMEOUT",
        "settings ACK not received in timely manner",
    ),
    ("STREAM_CLOSED", "received frame when stream half-closed"),
    ("FRAME_SIZE_ERROR", "frame with invalid size"),
    (
        "REFUSED_STREAM",
        "refused stream before processing any application logic",
    ),
    ("CANCEL", "stream no longer needed"),
    (
        "COMPRESSION_ERROR",
        "unable to maintain the header compression context",
    ),
    (
        "CONNECT_ERROR",
        "connection established in response to a CONNECT request",
    ),
    (
        "ENHANCE_YOUR_CALM",
        "detected excessive load generating behavior",
    ),
    (
        "INADEQUATE_SECURITY",
        "security properties do not meet minimum requirements",
    ),
    ("HTTP_1_1_REQUIRED", "endpoint requires HTTP/1.1"),
];

/// Finds an HTTP/2 error in an error's debug form (where hyper shows the
/// `h2` error as `Reset(StreamId(1), INTERNAL_ERROR, Remote)` or
/// `GoAway(.., REASON, Remote)`), falling back to the messages of its
/// source chain (`stream error received: unexpected internal error
/// encountered`).
fn h2_error(debug: &str, chain: &str) -> Option<H2Error> {
    fn by(s: &str) -> &'static str {
        if s.contains("Remote") {
            "server"
        } else if s.contains("User") {
            "client"
        } else {
            "library"
        }
    }
    fn reason_in(s: &str) -> Option<&'static str> {
        let bytes = s.as_bytes();
        let mut best: Option<(usize, &'static str)> = None;
        for (name, _) in H2_REASONS {
            let mut from = 0;
            while let Some(i) = s[from..].find(name) {
                let at = from + i;
                let end = at + name.len();
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                let left = at == 0 || !word(bytes[at - 1]);
                let right = end == bytes.len() || !word(bytes[end]);
                if left && right {
                    if best.is_none_or(|(b, _)| at < b) {
                        best = Some((at, name));
                    }
                    break;
                }
                from = end;
            }
        }
        best.map(|(_, n)| n)
    }
    if let Some(i) = debug.find("Reset(StreamId(") {
        let rest = &debug[i + "Reset(StreamId(".len()..];
        let id = rest
            .split(')')
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok());
        let tail = &rest[..rest.find("))").map_or(rest.len(), |j| j + 2)];
        if let Some(reason) = reason_in(tail) {
            return Some(H2Error {
                frame: "RST_STREAM",
                reason: reason.to_owned(),
                stream_id: id,
                by: by(tail),
            });
        }
    }
    if let Some(i) = debug.find("GoAway(") {
        let rest = &debug[i..];
        let tail = &rest[..rest.find("))").map_or(rest.len(), |j| j + 2)];
        if let Some(reason) = reason_in(tail) {
            return Some(H2Error {
                frame: "GOAWAY",
                reason: reason.to_owned(),
                stream_id: None,
                by: by(tail),
            });
        }
    }
    for (prefix, frame, who) in [
        ("stream error received: ", "RST_STREAM", "server"),
        ("stream error detected: ", "RST_STREAM", "library"),
        ("stream error sent by user: ", "RST_STREAM", "client"),
        ("connection error received: ", "GOAWAY", "server"),
        ("connection error detected: ", "GOAWAY", "library"),
        ("connection error sent by user: ", "GOAWAY", "client"),
        ("protocol error: ", "protocol", "library"),
    ] {
        if let Some(i) = chain.find(prefix) {
            let rest = &chain[i + prefix.len()..];
            if let Some((name, _)) = H2_REASONS.iter().find(|(_, d)| rest.starts_with(d)) {
                return Some(H2Error {
                    frame,
                    reason: (*name).to_owned(),
                    stream_id: None,
                    by: who,
                });
            }
        }
    }
    None
}

/// Checks `Repr-Digest` and `Content-Digest` (RFC 9530: a dictionary of
/// `algorithm=:base64:`) against the body. Without content coding both
/// cover the bytes received.
fn check_digests(
    headers: &BTreeMap<String, String>,
    body: &[u8],
    complete: bool,
) -> Vec<DigestCheck> {
    let mut out = vec![];
    for header in ["repr-digest", "content-digest"] {
        let Some(value) = headers.get(header) else {
            continue;
        };
        for member in value.split(',') {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            let (alg, val) = member.split_once('=').unwrap_or((member, ""));
            let alg = alg.trim().to_ascii_lowercase();
            let decoded = val
                .trim()
                .strip_prefix(':')
                .and_then(|v| v.strip_suffix(':'))
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
            let result = match (alg.as_str(), decoded) {
                (_, None) => "malformed",
                _ if !complete => "not checked (incomplete body)",
                ("sha-256", Some(d)) => {
                    if d[..] == sha2::Sha256::digest(body)[..] {
                        "match"
                    } else {
                        "mismatch"
                    }
                }
                ("sha-512", Some(d)) => {
                    if d[..] == sha2::Sha512::digest(body)[..] {
                        "match"
                    } else {
                        "mismatch"
                    }
                }
                _ => "unsupported algorithm",
            };
            out.push(DigestCheck {
                header: if header == "repr-digest" {
                    "Repr-Digest"
                } else {
                    "Content-Digest"
                },
                algorithm: alg,
                result,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Checking and judging
// ---------------------------------------------------------------------------

async fn diagnose(plan: &Plan) -> anyhow::Result<Report> {
    let client = http_client(plan)?;
    let paths = gomod::module::ProxyPaths::new(&plan.module, &plan.version)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = lookup_sumdb(plan);
    let proxies = futures_util::future::join_all(
        plan.proxies
            .iter()
            .map(|base| check_proxy(&client, base, &paths, plan)),
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
    judge(&mut report, vouch.as_ref());
    Ok(report)
}

async fn lookup_sumdb(plan: &Plan) -> (SumdbReport, Option<sumdb::Vouch>) {
    let mut r = SumdbReport {
        status: "off",
        name: None,
        url: None,
        message: None,
        zip_h1: None,
        mod_h1: None,
        tree_size: None,
        lookup_ms: None,
    };
    let cfg = match &plan.db {
        DbPlan::Off => return (r, None),
        DbPlan::Skipped(why) => {
            r.status = "skipped";
            r.message = Some(why.clone());
            return (r, None);
        }
        DbPlan::Db(cfg) => cfg.clone(),
    };
    r.name = Some(cfg.name.clone());
    r.url = Some(cfg.url.clone());
    let start = Instant::now();
    let store: Arc<dyn Store> = match crate::store::MemStore::new() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            r.status = "unreachable";
            r.message = Some(format!("cannot create a temporary store: {e}"));
            return (r, None);
        }
    };
    let client = match sumdb::Client::new(cfg, store, plan.timeout) {
        Ok(c) => c,
        Err(e) => {
            r.status = "invalid";
            r.message = Some(format!("{e:#}"));
            return (r, None);
        }
    };
    // A lookup is several requests (latest, lookup, tiles).
    let bound = plan.timeout * 2;
    let res = tokio::time::timeout(bound, client.lookup(&plan.module, &plan.version)).await;
    r.lookup_ms = Some(ms(start.elapsed()));
    match res {
        Err(_) => {
            r.status = "unreachable";
            r.message = Some(format!(
                "no answer within {}",
                humantime::format_duration(bound)
            ));
            (r, None)
        }
        Ok(Err(e)) => {
            r.status = match e {
                sumdb::SumdbError::NotFound { .. } => "not_found",
                sumdb::SumdbError::Unreachable { .. } => "unreachable",
                _ => "invalid",
            };
            r.message = Some(e.to_string());
            (r, None)
        }
        Ok(Ok(v)) => {
            r.status = "ok";
            r.zip_h1 = v.zip.clone();
            r.mod_h1 = v.gomod.clone();
            r.tree_size = Some(v.tree_size);
            (r, Some(v))
        }
    }
}

/// Fetches the three files from one proxy and checks each on its own.
async fn check_proxy(
    client: &reqwest::Client,
    base: &str,
    paths: &gomod::module::ProxyPaths,
    plan: &Plan,
) -> ProxyReport {
    let url = |p: &str| format!("{base}{p}");
    // In the go command's order: .info, .mod, then the zip.
    let info = fetch(client, &url(&paths.info), Kind::Info, plan.timeout).await;
    let go_mod = fetch(client, &url(&paths.go_mod), Kind::Mod, plan.timeout).await;
    let zip = fetch(client, &url(&paths.zip), Kind::Zip, plan.timeout).await;
    let mut info = Object {
        fetch: info,
        ..Default::default()
    };
    let mut go_mod = Object {
        fetch: go_mod,
        ..Default::default()
    };
    let mut zip = Object {
        fetch: zip,
        ..Default::default()
    };
    if info.fetch.complete && info.fetch.status == Some(200) {
        match crate::admit::check_info(&info.fetch.body, Some(&plan.version)) {
            Ok(i) => info.version = Some(i.version),
            Err(e) => {
                let v = serde_json::from_slice::<serde_json::Value>(&info.fetch.body).ok();
                info.version = v
                    .as_ref()
                    .and_then(|v| v.get("Version"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                info.invalid = Some(e.msg.clone());
            }
        }
    }
    if go_mod.fetch.complete && go_mod.fetch.status == Some(200) {
        go_mod.h1 = Some(gomod::dirhash::hash_go_mod(&go_mod.fetch.body));
    }
    if zip.fetch.complete && zip.fetch.status == Some(200) {
        let body = std::mem::take(&mut zip.fetch.body);
        let (module, version) = (plan.module.clone(), plan.version.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let r = gomod::zip::check_and_hash_zip(&module, &version, std::io::Cursor::new(&body));
            (r, body)
        })
        .await;
        match checked {
            Ok((res, body)) => {
                zip.fetch.body = body;
                match res {
                    Err(e) => {
                        zip.valid = Some(false);
                        zip.invalid = Some(e.to_string());
                    }
                    Ok(s) => match s.checked.err() {
                        Err(e) => {
                            zip.valid = Some(false);
                            zip.invalid = Some(e.to_string());
                        }
                        Ok(()) => {
                            zip.valid = Some(true);
                            zip.files = Some(s.checked.valid.len());
                            zip.h1 = s.h1;
                            let gm = s
                                .go_mod
                                .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&plan.module));
                            zip.go_mod_h1 = Some(gomod::dirhash::hash_go_mod(&gm));
                        }
                    },
                }
            }
            Err(e) => {
                zip.valid = Some(false);
                zip.invalid = Some(format!("checking task failed: {e}"));
            }
        }
    }
    ProxyReport {
        url: base.to_owned(),
        ok: false,
        verdict: String::new(),
        problems: vec![],
        notes: vec![],
        info,
        go_mod,
        zip,
    }
}

/// A problem of one fetch on its own (status, transport, size, digests),
/// without the file's name: `(text, joined)` where `joined` means the text
/// reads after the file's name (`.zip truncated ...`) rather than after a
/// colon (`.zip: HTTP 500`).
fn transfer_problems(f: &Fetch) -> Vec<(String, bool)> {
    let mut out = vec![];
    match f.status {
        None => {
            out.push((
                format!(
                    "request failed: {}",
                    f.error.as_deref().unwrap_or("no response")
                ),
                false,
            ));
            return out;
        }
        Some(200) => {}
        Some(s) => {
            let mut p = format!("HTTP {s}");
            if let Some(b) = &f.error_body {
                let _ = write!(p, " ({b})");
            }
            out.push((p, false));
            return out;
        }
    }
    if !f.complete {
        let n = f.bytes_received;
        let p = if f.too_large {
            (f.cause(), false)
        } else if f.timed_out {
            match f.bytes_declared {
                Some(m) => (
                    format!("stalled after {n} of {m} bytes: {}", f.cause()),
                    true,
                ),
                None => (format!("stalled after {n} bytes: {}", f.cause()), true),
            }
        } else {
            match f.bytes_declared {
                Some(m) => (
                    format!("truncated after {n} of {m} bytes: {}", f.cause()),
                    true,
                ),
                None => (
                    format!(
                        "transfer broken after {n} bytes (no Content-Length): {}",
                        f.cause()
                    ),
                    true,
                ),
            }
        };
        out.push(p);
    }
    for d in &f.digests {
        if d.result == "mismatch" {
            out.push((format!("{} does not match body", d.header), false));
        }
    }
    out
}

/// Whether a header reports a CDN cache hit (`X-Cache: HIT`,
/// `CF-Cache-Status: HIT`, ...).
fn cache_hit(f: &Fetch) -> Option<String> {
    f.headers.iter().find_map(|(k, v)| {
        let cachey = k.contains("cache") && k != "cache-control" && k != "cdn-cache-control";
        (cachey && v.to_ascii_uppercase().contains("HIT")).then(|| format!("{k}: {v}"))
    })
}

/// Compares every proxy with the database (when it vouches) or with the
/// majority, and writes the verdicts.
fn judge(report: &mut Report, vouch: Option<&sumdb::Vouch>) {
    let db_name = report.sumdb.name.clone().unwrap_or_default();
    for p in report.proxies.iter_mut() {
        let mut problems = vec![];
        let mut notes = vec![];
        let each: Vec<(Kind, Vec<(String, bool)>)> = [Kind::Info, Kind::Mod, Kind::Zip]
            .into_iter()
            .map(|k| (k, transfer_problems(&obj(p, k).fetch)))
            .collect();
        if !each[0].1.is_empty() && each.iter().all(|(_, t)| *t == each[0].1) {
            // The same failure for all three files (a 404, a refused
            // connection) is said once.
            problems.extend(each[0].1.iter().map(|(t, _)| t.clone()));
        } else {
            for (kind, texts) in each {
                for (t, joined) in texts {
                    let sep = if joined { " " } else { ": " };
                    problems.push(format!("{}{sep}{t}", kind.ext()));
                }
            }
        }
        if let Some(e) = &p.info.invalid {
            problems.push(format!(".info: {e}"));
        }
        if let Some(e) = &p.zip.invalid {
            problems.push(format!("invalid zip: {e}"));
        }
        if let (Some(m), Some(z)) = (&p.go_mod.h1, &p.zip.go_mod_h1) {
            if m != z {
                notes.push(format!(
                    "the .mod ({m}) differs from the go.mod in the zip ({z})"
                ));
            }
        }
        p.problems = problems;
        p.notes = notes;
    }
    let n = report.proxies.len();
    for kind in [Kind::Zip, Kind::Mod] {
        // Who agrees with whom.
        let h1s: Vec<Option<String>> = report
            .proxies
            .iter()
            .map(|p| obj(p, kind).h1.clone())
            .collect();
        for i in 0..n {
            let mut same = vec![];
            let mut prefix = vec![];
            let fi = &obj(&report.proxies[i], kind).fetch;
            for j in 0..n {
                if i == j {
                    continue;
                }
                let pj = &report.proxies[j];
                if h1s[i].is_some() && h1s[i] == h1s[j] {
                    same.push(pj.url.clone());
                }
                let fj = &obj(pj, kind).fetch;
                if h1s[i].is_none()
                    && h1s[j].is_some()
                    && fi.status == Some(200)
                    && !fi.complete
                    && !fi.body.is_empty()
                    && fj.body.starts_with(&fi.body)
                {
                    prefix.push(pj.url.clone());
                }
            }
            let o = obj_mut(&mut report.proxies[i], kind);
            o.same_as = same;
            o.prefix_of = prefix;
        }
        // A vote per proxy: its h1, or the one h1 its cut-off bytes are a
        // prefix of.
        let votes: Vec<Option<String>> = (0..n)
            .map(|i| {
                h1s[i].clone().or_else(|| {
                    let o = obj(&report.proxies[i], kind);
                    let mut supported: Vec<String> = o
                        .prefix_of
                        .iter()
                        .filter_map(|u| {
                            report
                                .proxies
                                .iter()
                                .position(|p| &p.url == u)
                                .and_then(|j| h1s[j].clone())
                        })
                        .collect();
                    supported.sort();
                    supported.dedup();
                    (supported.len() == 1).then(|| supported.remove(0))
                })
            })
            .collect();
        let voters = votes.iter().flatten().count();
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for v in votes.iter().flatten() {
            *tally.entry(v.as_str()).or_default() += 1;
        }
        let majority = tally
            .iter()
            .find(|(_, &c)| c >= 2 && 2 * c > voters)
            .map(|(h, &c)| Reference {
                h1: (*h).to_owned(),
                source: "majority",
                agree: Some(c),
                of: Some(voters),
            });
        let db_h1 = vouch.and_then(|v| match kind {
            Kind::Zip => v.zip.clone(),
            _ => v.gomod.clone(),
        });
        let reference = match db_h1 {
            Some(h1) => Some(Reference {
                h1,
                source: "sumdb",
                agree: None,
                of: None,
            }),
            None => majority,
        };
        let what = if kind == Kind::Zip { "zip" } else { "go.mod" };
        for (i, h1) in h1s.iter().enumerate() {
            let p = &mut report.proxies[i];
            let Some(h1) = h1 else {
                continue;
            };
            match &reference {
                Some(r) if r.source == "sumdb" => {
                    let matches = *h1 == r.h1;
                    obj_mut(p, kind).vs_sumdb = Some(if matches { "match" } else { "differs" });
                    if !matches {
                        p.problems.push(format!(
                            "{what} content differs from the checksum database {db_name} ({h1}, database has {})",
                            r.h1
                        ));
                    }
                }
                Some(r) if *h1 != r.h1 => {
                    p.problems.push(format!(
                        "{what} content differs from the majority of proxies ({h1}; {} of {} agree on {})",
                        r.agree.unwrap_or(0),
                        r.of.unwrap_or(0),
                        r.h1
                    ));
                }
                Some(_) => {}
                None if tally.len() > 1 => {
                    p.problems.push(format!(
                        "{what} content differs between proxies, with no majority and no checksum database answer to tell which is right ({h1})"
                    ));
                }
                None => {}
            }
        }
        match kind {
            Kind::Zip => report.reference.zip = reference,
            _ => report.reference.go_mod = reference,
        }
    }
    for p in report.proxies.iter_mut() {
        let zip = &p.zip;
        if zip.fetch.status == Some(200) && !zip.fetch.complete && zip.fetch.bytes_received > 0 {
            if zip.prefix_of.is_empty() {
                p.notes.push(format!(
                    "the {} zip bytes received are not a prefix of any other proxy's copy",
                    zip.fetch.bytes_received
                ));
            } else {
                p.notes.push(format!(
                    "the {} zip bytes received match the start of the copy from {}",
                    zip.fetch.bytes_received,
                    zip.prefix_of.join(", ")
                ));
            }
        }
        let untrusted = [&p.info, &p.go_mod, &p.zip].iter().any(|o| {
            o.fetch
                .error
                .as_deref()
                .is_some_and(|e| e.contains("UnknownIssuer"))
        });
        if untrusted {
            p.notes.push(
                "the server's certificate is not signed by a trusted authority: for a mirror with a private CA, pass its certificate with --cacert".to_owned(),
            );
        }
        if !p.problems.is_empty() {
            if let Some(hit) = cache_hit(&p.zip.fetch) {
                p.notes.push(format!(
                    "the zip came from a CDN cache ({hit}): the edge's cached copy is the likely culprit; its operator should purge it"
                ));
            }
        }
        p.ok = p.problems.is_empty();
        p.verdict = if p.ok {
            "ok".to_owned()
        } else {
            p.problems.join("; ")
        };
    }
    report.ok = !report.proxies.is_empty() && report.proxies.iter().all(|p| p.ok);
}

fn obj(p: &ProxyReport, kind: Kind) -> &Object {
    match kind {
        Kind::Info => &p.info,
        Kind::Mod => &p.go_mod,
        Kind::Zip => &p.zip,
    }
}

fn obj_mut(p: &mut ProxyReport, kind: Kind) -> &mut Object {
    match kind {
        Kind::Info => &mut p.info,
        Kind::Mod => &mut p.go_mod,
        Kind::Zip => &mut p.zip,
    }
}

// ---------------------------------------------------------------------------
// Human output
// ---------------------------------------------------------------------------

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

fn human_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn human_rate(bps: f64) -> String {
    format!("{}/s", human_bytes(bps as u64))
}

/// Headers shown in the human output (JSON has them all): the ones that
/// say what was sent and which cache sent it.
fn shown_header(name: &str) -> bool {
    const SHOWN: [&str; 20] = [
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "etag",
        "last-modified",
        "cache-control",
        "age",
        "via",
        "server",
        "repr-digest",
        "content-digest",
        "x-served-by",
        "x-amz-cf-pop",
        "x-amz-cf-id",
        "cf-ray",
        "x-request-id",
        "x-goog-hash",
        "location",
        "date",
    ];
    SHOWN.contains(&name) || name.contains("cache")
}

/// Cache-related headers, for the one-line `.info` / `.mod` summaries.
fn cache_headers(f: &Fetch) -> String {
    let mut s = String::new();
    for (k, v) in &f.headers {
        if (k.contains("cache") && k != "cache-control") || k == "age" {
            let _ = write!(s, "  {k}: {v}");
        }
    }
    s
}

fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "gomirror doctor {}@{}", r.module, r.version);
    for w in &r.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let s = &r.sumdb;
    let name = s.name.as_deref().unwrap_or("");
    let fallback = "comparing the proxies with each other instead";
    let _ = match s.status {
        "ok" => writeln!(
            o,
            "checksum database {name}: zip {}, go.mod {} (tree size {}, {})",
            s.zip_h1.as_deref().unwrap_or("-"),
            s.mod_h1.as_deref().unwrap_or("-"),
            s.tree_size.unwrap_or(0),
            human_ms(s.lookup_ms.unwrap_or(0.0))
        ),
        "off" => writeln!(o, "checksum database: off; {fallback}"),
        "skipped" => writeln!(
            o,
            "checksum database: not consulted: {}; {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
        "not_found" => writeln!(
            o,
            "checksum database {name}: no record ({}); {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
        "unreachable" => {
            let msg = s.message.as_deref().unwrap_or("");
            let msg = msg
                .strip_prefix(&format!("checksum database {name} unreachable: "))
                .unwrap_or(msg);
            writeln!(
                o,
                "checksum database {name} could not be reached ({}); {fallback}",
                strip_url_mentions(msg)
            )
        }
        _ => writeln!(
            o,
            "checksum database {name}: INVALID ANSWER ({}); {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
    };
    for p in &r.proxies {
        let _ = writeln!(o);
        let rule = 72usize.saturating_sub(p.url.len() + 4).max(4);
        let _ = writeln!(o, "── {} {}", p.url, "─".repeat(rule));
        let failed: Vec<Option<&str>> = [&p.info, &p.go_mod, &p.zip]
            .iter()
            .map(|o| {
                o.fetch
                    .status
                    .is_none()
                    .then(|| o.fetch.error.as_deref().unwrap_or(""))
            })
            .collect();
        if failed[0].is_some() && failed.iter().all(|e| *e == failed[0]) {
            // Nothing answered, the same way three times: say it once.
            let _ = writeln!(o, "  no response: {}", failed[0].unwrap_or(""));
        } else {
            render_small(&mut o, &p.url, Kind::Info, r);
            render_small(&mut o, &p.url, Kind::Mod, r);
            render_zip(&mut o, &p.url, r);
        }
        for n in &p.notes {
            let _ = writeln!(o, "  note: {n}");
        }
        let _ = writeln!(o, "  verdict: {}", p.verdict);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "verdict");
    let w = r.proxies.iter().map(|p| p.url.len()).max().unwrap_or(0);
    for p in &r.proxies {
        let _ = writeln!(
            o,
            "  {} {:w$}  {}",
            if p.ok { "✓" } else { "✗" },
            p.url,
            p.verdict
        );
    }
    let bad = r.proxies.iter().filter(|p| !p.ok).count();
    let unreached = r
        .proxies
        .iter()
        .all(|p| p.info.fetch.status.is_none() && p.zip.fetch.status.is_none());
    if !r.proxies.is_empty() && unreached && matches!(s.status, "unreachable" | "off") {
        let _ = writeln!(
            o,
            "nothing could be reached: check this machine's network first (DNS, firewall, HTTPS_PROXY)"
        );
    }
    if r.proxies.is_empty() {
        let _ = writeln!(o, "no proxy to check");
    } else if bad == 0 {
        let _ = writeln!(o, "all {} proxies are ok", r.proxies.len());
    } else {
        let _ = writeln!(
            o,
            "{bad} of {} proxies are wrong (exit status 1); `--json` gives every measurement",
            r.proxies.len()
        );
    }
    o
}

/// Removes reqwest's ` for url (...)` from a message that already names
/// the URL.
fn strip_url_mentions(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(i) = rest.find(" for url (") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " for url (".len()..];
        match after.find(')') {
            Some(j) => rest = &after[j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn status_line(f: &Fetch) -> String {
    match (f.http_version.as_deref(), f.status) {
        (Some(v), Some(s)) => format!("{v} {s}"),
        _ => "no response".to_owned(),
    }
}

fn render_small(o: &mut String, url: &str, kind: Kind, r: &Report) {
    let Some(obj) = r
        .proxies
        .iter()
        .find(|p| p.url == url)
        .map(|p| self::obj(p, kind))
    else {
        return;
    };
    let ext = kind.ext();
    let f = &obj.fetch;
    let mut line = format!("  {ext:<6} {}", status_line(f));
    if f.status.is_some() {
        let _ = write!(line, "  {}", human_bytes(f.bytes_received));
        if let Some(t) = f.ttfb_ms {
            let _ = write!(line, "  ttfb {}", human_ms(t));
        }
    }
    if let Some(v) = &obj.version {
        let _ = write!(line, "  Version {v}");
    }
    if let Some(h1) = &obj.h1 {
        let _ = write!(line, "  {h1}{}", compare_suffix(url, kind, r));
    }
    line.push_str(&cache_headers(f));
    let _ = writeln!(o, "{line}");
    if !f.redirects.is_empty() {
        for h in &f.redirects {
            let _ = writeln!(
                o,
                "         redirected: {} {} → {}",
                h.status, h.url, h.location
            );
        }
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "         error: {e}");
    }
    if let Some(b) = &f.error_body {
        let _ = writeln!(o, "         body: {b}");
    }
}

/// How a proxy's `h1:` compares with the database and the other proxies.
fn compare_suffix(url: &str, kind: Kind, r: &Report) -> String {
    let Some(p) = r.proxies.iter().find(|p| p.url == url) else {
        return String::new();
    };
    let o = obj(p, kind);
    let mut s = String::new();
    match o.vs_sumdb {
        Some("match") => s.push_str(" = checksum database"),
        Some(_) => s.push_str(" ≠ checksum database"),
        None => {}
    }
    let n = o.same_as.len();
    if n > 0 {
        let _ = write!(
            s,
            ", same as {n} other prox{}",
            if n == 1 { "y" } else { "ies" }
        );
    }
    let partial: Vec<&str> = r
        .proxies
        .iter()
        .filter(|q| obj(q, kind).prefix_of.iter().any(|u| u == url))
        .map(|q| q.url.as_str())
        .collect();
    if !partial.is_empty() {
        let _ = write!(
            s,
            ", and the cut-off copy from {} matches it as far as it goes",
            partial.join(", ")
        );
    }
    let others = r
        .proxies
        .iter()
        .filter(|q| q.url != url && obj(q, kind).h1.is_some())
        .count();
    if n == 0 && partial.is_empty() && others > 0 {
        s.push_str(", unlike every other proxy");
    }
    s
}

fn render_zip(o: &mut String, url: &str, r: &Report) {
    let Some(obj) = r.proxies.iter().find(|p| p.url == url).map(|p| &p.zip) else {
        return;
    };
    let f = &obj.fetch;
    let pad = "         ";
    let _ = writeln!(o, "  .zip   GET {}", f.url);
    for h in &f.redirects {
        let _ = writeln!(
            o,
            "{pad}< {} {}  location: {}",
            h.http_version, h.status, h.location
        );
    }
    if let Some(status) = f.status {
        let tls = match &f.tls {
            None => "no TLS".to_owned(),
            Some(t) => format!("{}, ALPN {}", t.version.as_deref().unwrap_or("TLS"), t.alpn),
        };
        let _ = writeln!(
            o,
            "{pad}* connected to {} ({tls})",
            f.remote_addr.as_deref().unwrap_or("?")
        );
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let _ = writeln!(
            o,
            "{pad}< {} {status} {reason}",
            f.http_version.as_deref().unwrap_or("")
        );
        for (k, v) in &f.headers {
            if shown_header(k) {
                let _ = writeln!(o, "{pad}< {k}: {v}");
            }
        }
        if f.bytes_declared.is_none() {
            let _ = writeln!(o, "{pad}  (no content-length)");
        }
        let mut line = match f.bytes_declared {
            Some(m) if !f.complete && m > 0 => format!(
                "{pad}* received {} of {m} bytes ({:.1}%)",
                f.bytes_received,
                100.0 * f.bytes_received as f64 / m as f64
            ),
            Some(m) => format!("{pad}* received {} of {m} bytes", f.bytes_received),
            None => format!("{pad}* received {} bytes", f.bytes_received),
        };
        if let Some(t) = f.ttfb_ms {
            let _ = write!(line, ", ttfb {}", human_ms(t));
        }
        if let Some(b) = f.body_ms {
            let _ = write!(line, ", body {}", human_ms(b));
        }
        // A rate over a few bytes says nothing.
        match f.throughput_bytes_per_sec {
            Some(t) if f.bytes_received >= 64 << 10 || f.timed_out => {
                let _ = write!(line, ", {}", human_rate(t));
            }
            _ => {}
        }
        let _ = writeln!(o, "{line}");
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "{pad}* error: {e}");
    }
    if let Some(h2) = &f.h2 {
        let _ = writeln!(o, "{pad}* {}", h2.describe());
    }
    if let Some(b) = &f.error_body {
        let _ = writeln!(o, "{pad}* body: {b}");
    }
    for d in &f.digests {
        let _ = writeln!(o, "{pad}* {} {}: {}", d.header, d.algorithm, d.result);
    }
    match (obj.valid, &obj.h1) {
        (Some(true), Some(h1)) => {
            let _ = writeln!(
                o,
                "{pad}* zip valid ({} files), {h1}{}",
                obj.files.unwrap_or(0),
                compare_suffix(url, Kind::Zip, r)
            );
        }
        (Some(false), _) => {
            let _ = writeln!(
                o,
                "{pad}* zip INVALID: {}",
                obj.invalid.as_deref().unwrap_or("")
            );
        }
        _ if f.status == Some(200) => {
            let _ = writeln!(o, "{pad}* zip not checked: the body is incomplete");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_reset_from_debug_and_from_message() {
        let debug = "reqwest::Error { kind: Decode, source: hyper::Error(Body, Error { kind: Reset(StreamId(1), INTERNAL_ERROR, Remote) }) }";
        let e = h2_error(debug, "").unwrap();
        assert_eq!(
            e,
            H2Error {
                frame: "RST_STREAM",
                reason: "INTERNAL_ERROR".into(),
                stream_id: Some(1),
                by: "server"
            }
        );
        assert_eq!(
            e.describe(),
            "HTTP/2 RST_STREAM from the server: INTERNAL_ERROR (stream error: stream ID 1; INTERNAL_ERROR)"
        );
        let chain = "error decoding response body: request or response body error: stream error received: unexpected internal error encountered";
        let e = h2_error("", chain).unwrap();
        assert_eq!(e.reason, "INTERNAL_ERROR");
        assert_eq!(e.by, "server");
        let goaway =
            "hyper::Error(Http2, Error { kind: GoAway(b\"bye, now\", ENHANCE_YOUR_CALM, Remote) })";
        let e = h2_error(goaway, "").unwrap();
        assert_eq!(
            (e.frame, e.reason.as_str()),
            ("GOAWAY", "ENHANCE_YOUR_CALM")
        );
        assert!(h2_error("hyper::Error(IncompleteMessage)", "connection closed").is_none());
    }

    #[test]
    fn url_mentions_are_stripped() {
        assert_eq!(
            strip_url_mentions(
                "GET https://x/a: error sending request for url (https://x/a): dns error"
            ),
            "GET https://x/a: error sending request: dns error"
        );
        assert_eq!(strip_url_mentions("plain"), "plain");
    }

    #[test]
    fn digests_are_checked() {
        let body = b"hello";
        let good = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
        let mut h = BTreeMap::new();
        h.insert(
            "repr-digest".to_owned(),
            format!("sha-256=:{good}:, md5=:AAAA:"),
        );
        h.insert("content-digest".to_owned(), "sha-256=:AAAA:".to_owned());
        let d = check_digests(&h, body, true);
        let got: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.header, d.algorithm.as_str(), d.result))
            .collect();
        assert_eq!(
            got,
            [
                ("Repr-Digest", "sha-256", "match"),
                ("Repr-Digest", "md5", "unsupported algorithm"),
                ("Content-Digest", "sha-256", "mismatch"),
            ]
        );
        let d = check_digests(&h, b"hel", false);
        assert!(d.iter().all(|d| d.result.starts_with("not checked")));
    }

    #[test]
    fn default_proxies_come_from_goproxy_then_public_ones() {
        let (l, w) = default_proxies(None);
        assert_eq!(l, ["https://proxy.golang.org", "https://goproxy.cn"]);
        assert!(w.is_none());
        let (l, _) = default_proxies(Some("http://127.0.0.1:1/,goproxy.cn|direct"));
        assert_eq!(
            l,
            [
                "http://127.0.0.1:1",
                "https://goproxy.cn",
                "https://proxy.golang.org"
            ]
        );
        let (l, w) = default_proxies(Some("ftp://x"));
        assert_eq!(l, ["https://proxy.golang.org", "https://goproxy.cn"]);
        assert!(w.unwrap().contains("GOPROXY"));
        assert_eq!(
            parse_proxy_arg("https://a.example/,https://b.example").unwrap(),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_proxy_arg("direct").is_err());
        assert!(parse_proxy_arg("file:///tmp/x").is_err());
    }
}
