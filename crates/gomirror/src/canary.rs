//! The CDN canary: the origin checks what its CDN serves.
//!
//! gomirror knows the exact size and sha256 of every object it ever served
//! (the store's metadata records), so it can fetch a sample of them back
//! through the CDN — from each edge, when edges are pinned — and compare
//! status, `Content-Length`, the bytes received and their sha256 with the
//! record. That is the check that would have caught the incident of
//! DESIGN.md (an edge serving damaged zips under correct headers) before
//! users did.
//!
//! [`Canary::pass`] makes one pass; [`Canary::run_loop`] repeats it. Both
//! are used by `gomirror watch` and can run inside `gomirror serve`.
//! Findings are counted (`cdn_findings{edge,kind}` and
//! `integrity_failures{kind="cdn",source=<edge>}`), recorded as `cdn`
//! events (alert webhooks) and, with a purge hook, purged and re-checked.

use crate::protocol::parse_versioned_key;
use crate::scrub::RateLimiter;
use crate::store::{Meta, Store};
use crate::telemetry::{Events, Metrics};
use crate::util::error_chain;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why the canary could not be set up or could not read the store.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    #[error("CDN URL {0:?}")]
    Url(String, #[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("CDN URL {0:?}: expected http or https")]
    Scheme(String),
    #[error("CDN URL {0:?} has no host")]
    NoHost(String),
    #[error(
        "--edge needs a CDN URL with a host name (the name is what edges are pinned for), not {0}"
    )]
    EdgeNeedsName(String),
    #[error("edge {0:?}: expected HOST:PORT")]
    EdgeAddr(String, #[source] std::io::Error),
    #[error("edge {0:?}: no address")]
    EdgeNoAddr(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

type Result<T, E = CanaryError> = std::result::Result<T, E>;

/// Settings of a [`Canary`].
#[derive(Debug, Clone)]
pub struct CanaryConfig {
    /// The CDN's public base URL (as clients use it); an object's URL is
    /// `<cdn>/<store key>`.
    pub cdn: String,
    /// Edge addresses (`HOST:PORT`) to pin connections to, like curl's
    /// `--resolve`: each object is fetched once per edge, with the URL's
    /// host name kept (Host header, TLS name). Empty: whatever the CDN's
    /// name resolves to, one fetch per object.
    pub edges: Vec<String>,
    /// Objects per pass: half the largest zips and newest objects, half the
    /// next ones of a cursor rotating over every key, so the whole cache is
    /// covered over time. `None`: every object, every pass.
    pub sample: Option<usize>,
    /// At most this many body bytes per second, all edges together
    /// (`None`: unlimited).
    pub rate: Option<u64>,
    /// Purge hook (JSON POST `{"urls": [...]}`), called with the URLs of
    /// objects found bad; they are then re-checked after `recheck_after`.
    /// `None`: findings are only reported.
    pub purge_webhook: Option<String>,
    /// Delay between the purge and the re-check.
    pub recheck_after: Duration,
    /// Connect timeout, and the longest wait for response headers or for
    /// the next piece of a body.
    pub timeout: Duration,
}

impl CanaryConfig {
    /// Defaults for everything but the CDN URL: no edges, every object,
    /// no rate limit, no purge, re-check after 30 s, 30 s timeout.
    pub fn new(cdn: &str) -> CanaryConfig {
        CanaryConfig {
            cdn: cdn.trim_end_matches('/').to_owned(),
            edges: vec![],
            sample: None,
            rate: None,
            purge_webhook: None,
            recheck_after: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What is wrong with an object as served by an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The body ended before the recorded size.
    Truncated,
    /// The recorded size, but another sha256.
    BodyDiffers,
    /// `Content-Length` (or the bytes of a complete body) differs from the
    /// recorded size.
    WrongLength,
    /// Not `200`.
    ErrorStatus,
    /// Connection or stream failure (refused, reset, timeout).
    Transport,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Truncated,
        FindingKind::BodyDiffers,
        FindingKind::WrongLength,
        FindingKind::ErrorStatus,
        FindingKind::Transport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Truncated => "truncated",
            FindingKind::BodyDiffers => "body_differs",
            FindingKind::WrongLength => "wrong_length",
            FindingKind::ErrorStatus => "error_status",
            FindingKind::Transport => "transport",
        }
    }
}

/// The result of fetching one object from one edge.
#[derive(Debug, Clone, Serialize)]
pub struct Fetch {
    /// HTTP status, when a response came.
    pub status: Option<u16>,
    /// The response's `Content-Length`, if any.
    pub content_length: Option<u64>,
    /// Body bytes received.
    pub received: u64,
    /// sha256 of the bytes received (hex), when the body was read whole.
    pub sha256: Option<String>,
    /// The finding, or `None` when the object matches its record.
    pub kind: Option<FindingKind>,
    /// What is wrong, in words (empty when nothing is).
    pub message: String,
}

/// The re-check of a finding after the purge hook was called.
#[derive(Debug, Clone, Serialize)]
pub struct Recheck {
    /// The purge hook's answer (`HTTP 200`) or error.
    pub purge: String,
    /// Whether the object now matches its record.
    pub healed: bool,
    /// "healed by purge" or "still bad: ...".
    pub message: String,
    /// The re-fetch.
    pub fetch: Fetch,
}

/// One object served wrong by one edge.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The edge (`HOST:PORT`), or the CDN's host when no edge is pinned.
    pub edge: String,
    pub kind: FindingKind,
    /// The store key.
    pub key: String,
    pub url: String,
    /// The record: size and sha256.
    pub expected_size: u64,
    pub expected_sha256: String,
    pub status: Option<u16>,
    pub content_length: Option<u64>,
    pub received: u64,
    pub sha256: Option<String>,
    pub message: String,
    /// Set when a purge hook is configured.
    pub recheck: Option<Recheck>,
}

/// The outcome of one pass.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cdn: String,
    pub edges: Vec<String>,
    /// Versioned objects in the store.
    pub objects_in_store: usize,
    /// Objects checked this pass (each once per edge).
    pub objects: usize,
    /// Fetches made (objects × edges, re-checks excluded).
    pub fetches: usize,
    /// Body bytes received.
    pub bytes: u64,
    pub findings: Vec<Finding>,
    /// A failure that stopped the pass (the store could not be listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

impl Report {
    /// No findings and no error.
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.error.is_none()
    }
}

/// One edge: its label and a client pinned to it.
struct Edge {
    label: String,
    client: reqwest::Client,
}

/// A configured canary; see the module documentation.
pub struct Canary {
    store: Arc<dyn Store>,
    cfg: CanaryConfig,
    edges: Vec<Edge>,
    /// The request URL base (the CDN URL, without its port when edges are
    /// pinned: the edge address gives the port) and the Host header to send.
    base: String,
    host_header: Option<String>,
    metrics: Arc<Metrics>,
    events: Arc<Events>,
    limiter: Option<RateLimiter>,
    /// The last key checked by the rotating cursor.
    cursor: Mutex<Option<String>>,
}

impl Canary {
    /// Builds the canary: one HTTP client per edge (connections pinned to
    /// the edge's address, the URL's host name kept).
    pub fn new(
        store: Arc<dyn Store>,
        cfg: CanaryConfig,
        metrics: Arc<Metrics>,
        events: Arc<Events>,
    ) -> Result<Canary> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = reqwest::Url::parse(&cfg.cdn)
            .map_err(|e| CanaryError::Url(cfg.cdn.clone(), e.into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CanaryError::Scheme(cfg.cdn.clone()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| CanaryError::NoHost(cfg.cdn.clone()))?
            .to_owned();
        let builder = || {
            reqwest::Client::builder()
                .no_proxy()
                .connect_timeout(cfg.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("gomirror-canary/", env!("CARGO_PKG_VERSION")))
        };
        let mut edges = vec![];
        let (mut base, mut host_header) = (cfg.cdn.clone(), None);
        if cfg.edges.is_empty() {
            let label = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            };
            edges.push(Edge {
                label,
                client: builder().build()?,
            });
        } else {
            if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
                return Err(CanaryError::EdgeNeedsName(host));
            }
            // The connector replaces a pinned address's port with the URL's
            // when the URL names one: take it out of the URL and send the
            // Host header ourselves.
            if let Some(p) = url.port() {
                let mut u = url.clone();
                let _ = u.set_port(None);
                base = u.as_str().trim_end_matches('/').to_owned();
                host_header = Some(format!("{host}:{p}"));
            }
            for e in &cfg.edges {
                let addr = resolve_edge(e)?;
                edges.push(Edge {
                    label: e.clone(),
                    client: builder().resolve(&host, addr).build()?,
                });
            }
        }
        let limiter = cfg.rate.map(RateLimiter::new);
        // Each edge's findings are series from the start (see Metrics::zero).
        for e in &edges {
            Metrics::zero(
                &metrics.integrity_failures,
                &[("kind", "cdn"), ("source", &e.label)],
            );
            for k in FindingKind::ALL {
                Metrics::zero(
                    &metrics.cdn_findings,
                    &[("edge", &e.label), ("kind", k.as_str())],
                );
            }
        }
        Ok(Canary {
            store,
            cfg,
            edges,
            base,
            host_header,
            metrics,
            events,
            limiter,
            cursor: Mutex::new(None),
        })
    }

    /// The public URL of a store key.
    pub fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.cfg.cdn)
    }

    /// One pass: picks the sample, fetches each object from each edge,
    /// reports findings (metrics, events), then — with a purge hook —
    /// purges the bad URLs, waits and re-checks them.
    pub async fn pass(&self) -> Report {
        let start = Instant::now();
        let mut report = Report {
            cdn: self.cfg.cdn.clone(),
            edges: self.edges.iter().map(|e| e.label.clone()).collect(),
            objects_in_store: 0,
            objects: 0,
            fetches: 0,
            bytes: 0,
            findings: vec![],
            error: None,
            seconds: 0.0,
        };
        let all = match self.versioned_objects().await {
            Ok(a) => a,
            Err(e) => {
                report.error = Some(format!("listing the store: {e:#}"));
                return report;
            }
        };
        report.objects_in_store = all.len();
        let sample = self.select(&all);
        report.objects = sample.len();
        for (key, meta) in &sample {
            let url = self.url_of(key);
            let fetches = futures_util::future::join_all(
                self.edges.iter().map(|edge| self.fetch(edge, key, meta)),
            )
            .await;
            for (edge, f) in self.edges.iter().zip(fetches) {
                report.fetches += 1;
                report.bytes += f.received;
                let Some(kind) = f.kind else { continue };
                let finding = Finding {
                    edge: edge.label.clone(),
                    kind,
                    key: key.clone(),
                    url: url.clone(),
                    expected_size: meta.size,
                    expected_sha256: meta.sha256.clone(),
                    status: f.status,
                    content_length: f.content_length,
                    received: f.received,
                    sha256: f.sha256,
                    message: f.message,
                    recheck: None,
                };
                self.note(&finding);
                report.findings.push(finding);
            }
        }
        if let Some(hook) = &self.cfg.purge_webhook {
            if !report.findings.is_empty() {
                self.purge_and_recheck(hook, &sample, &mut report).await;
            }
        }
        report.seconds = start.elapsed().as_secs_f64();
        self.metrics.cdn_fetches.inc_by(report.fetches as u64);
        self.metrics
            .cdn_last_pass
            .set(chrono::Utc::now().timestamp());
        report
    }

    /// Runs passes forever, `interval` apart (from the end of one to the
    /// start of the next), handing each report to `on_pass`. Stop it by
    /// dropping the future (e.g. abort the task, or `select!` on a signal).
    pub async fn run_loop<F: FnMut(&Report)>(&self, interval: Duration, mut on_pass: F) {
        loop {
            let r = self.pass().await;
            on_pass(&r);
            tokio::time::sleep(interval).await;
        }
    }

    /// Every versioned `.info`/`.mod`/`.zip` in the store with its record.
    async fn versioned_objects(&self) -> Result<Vec<(String, Meta)>> {
        let keys = self.store.list("").await?;
        let mut out = vec![];
        for k in keys {
            if parse_versioned_key(&k).is_none() {
                continue;
            }
            // Gone since the listing: not an error.
            if let Some(m) = self.store.meta(&k).await? {
                out.push((k, m));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The objects of this pass (see [`CanaryConfig::sample`]); `all` is
    /// sorted by key.
    fn select(&self, all: &[(String, Meta)]) -> Vec<(String, Meta)> {
        let Some(n) = self.cfg.sample else {
            return all.to_vec();
        };
        let n = n.min(all.len());
        if n == 0 {
            return vec![];
        }
        let mut picked: Vec<usize> = vec![];
        let mut seen = HashSet::new();
        // Half: the largest zips and the newest objects, alternately.
        let mut zips: Vec<usize> = (0..all.len())
            .filter(|&i| all[i].0.ends_with(".zip"))
            .collect();
        zips.sort_by(|&a, &b| all[b].1.size.cmp(&all[a].1.size));
        let mut newest: Vec<usize> = (0..all.len()).collect();
        newest.sort_by(|&a, &b| all[b].1.admitted_at.cmp(&all[a].1.admitted_at));
        let (mut zi, mut ni) = (zips.into_iter(), newest.into_iter());
        let favoured = n.div_ceil(2);
        while picked.len() < favoured {
            let next = if picked.len().is_multiple_of(2) {
                zi.by_ref().find(|i| !seen.contains(i))
            } else {
                None
            }
            .or_else(|| ni.by_ref().find(|i| !seen.contains(i)));
            match next {
                Some(i) => {
                    seen.insert(i);
                    picked.push(i);
                }
                None => break,
            }
        }
        // The other half: the next keys after the cursor, wrapping around.
        let mut cursor = self.cursor.lock().unwrap();
        let start = match cursor.as_deref() {
            Some(last) => all.partition_point(|(k, _)| k.as_str() <= last),
            None => 0,
        };
        let mut last = cursor.clone();
        for step in 0..all.len() {
            if picked.len() >= n {
                break;
            }
            let i = (start + step) % all.len();
            last = Some(all[i].0.clone());
            if seen.insert(i) {
                picked.push(i);
            }
        }
        *cursor = last;
        picked.into_iter().map(|i| all[i].clone()).collect()
    }

    /// Fetches `key` from `edge` and compares it with its record.
    async fn fetch(&self, edge: &Edge, key: &str, meta: &Meta) -> Fetch {
        let mut f = Fetch {
            status: None,
            content_length: None,
            received: 0,
            sha256: None,
            kind: None,
            message: String::new(),
        };
        let mut req = edge.client.get(format!("{}/{key}", self.base));
        if let Some(h) = &self.host_header {
            req = req.header(reqwest::header::HOST, h);
        }
        let timeout = self.cfg.timeout;
        let mut resp = match tokio::time::timeout(timeout, req.send()).await {
            Err(_) => {
                f.kind = Some(FindingKind::Transport);
                f.message = format!("no response within {}", humantime::format_duration(timeout));
                return f;
            }
            Ok(Err(e)) => {
                f.kind = Some(FindingKind::Transport);
                f.message = error_chain(&e);
                return f;
            }
            Ok(Ok(r)) => r,
        };
        f.status = Some(resp.status().as_u16());
        f.content_length = resp
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        if resp.status() != reqwest::StatusCode::OK {
            f.kind = Some(FindingKind::ErrorStatus);
            f.message = format!("HTTP {}", resp.status());
            return f;
        }
        if let Some(cl) = f.content_length {
            if cl != meta.size {
                f.kind = Some(FindingKind::WrongLength);
                f.message = format!("Content-Length {cl}, but the object is {} bytes", meta.size);
                return f;
            }
        }
        let mut h = Sha256::new();
        let failure = loop {
            match tokio::time::timeout(timeout, resp.chunk()).await {
                Err(_) => {
                    break Some(format!(
                        "stalled for {}",
                        humantime::format_duration(timeout)
                    ))
                }
                Ok(Err(e)) => break Some(error_chain(&e)),
                Ok(Ok(None)) => break None,
                Ok(Ok(Some(c))) => {
                    f.received += c.len() as u64;
                    h.update(&c);
                    if let Some(l) = &self.limiter {
                        let d = l.delay(c.len() as u64);
                        if !d.is_zero() {
                            tokio::time::sleep(d).await;
                        }
                    }
                }
            }
        };
        let (n, m) = (f.received, meta.size);
        match failure {
            // The body stopped early, whatever ended it (a closed
            // connection, a reset stream, a stall): what users of a
            // poisoned edge see, in the incident's own words.
            Some(e) if n < m => {
                f.kind = Some(FindingKind::Truncated);
                f.message = format!("truncated after {n} of {m} bytes ({e})");
            }
            Some(e) => {
                f.kind = Some(FindingKind::Transport);
                f.message = format!("after {n} of {m} bytes: {e}");
            }
            None if n < m => {
                f.kind = Some(FindingKind::Truncated);
                f.message = format!("truncated after {n} of {m} bytes");
            }
            None if n > m => {
                f.kind = Some(FindingKind::WrongLength);
                f.message = format!("{n} bytes received, but the object is {m} bytes");
            }
            None => {
                let digest = h.finalize();
                let got = hex::encode(digest);
                if !crate::verify::digest_matches(meta, n, &digest) {
                    f.kind = Some(FindingKind::BodyDiffers);
                    f.message = format!(
                        "all {m} bytes received, but sha256 {got} is not the recorded {}",
                        meta.sha256
                    );
                }
                f.sha256 = Some(got);
            }
        }
        f
    }

    /// Counts, logs and records a finding as a `cdn` event.
    fn note(&self, x: &Finding) {
        Metrics::inc(
            &self.metrics.cdn_findings,
            &[("edge", &x.edge), ("kind", x.kind.as_str())],
        );
        Metrics::inc(
            &self.metrics.integrity_failures,
            &[("kind", "cdn"), ("source", &x.edge)],
        );
        *self
            .metrics
            .cdn_findings_by_edge
            .lock()
            .unwrap()
            .entry(x.edge.clone())
            .or_default() += 1;
        tracing::warn!(
            edge = x.edge,
            url = x.url,
            kind = x.kind.as_str(),
            "cdn canary: {}",
            x.message
        );
        self.events.record(
            "cdn",
            &x.edge,
            &x.url,
            &format!("{}: {}", x.kind.as_str(), x.message),
            &self.metrics,
        );
    }

    /// Purges the URLs of the findings, waits, re-checks each finding on
    /// its edge, and records the outcome (`cdn_recheck` events).
    async fn purge_and_recheck(&self, hook: &str, sample: &[(String, Meta)], report: &mut Report) {
        let mut urls: Vec<String> = report.findings.iter().map(|x| x.url.clone()).collect();
        urls.sort();
        urls.dedup();
        let purge = post_purge(hook, &urls, self.cfg.timeout).await;
        tokio::time::sleep(self.cfg.recheck_after).await;
        for x in &mut report.findings {
            let Some((_, meta)) = sample.iter().find(|(k, _)| *k == x.key) else {
                continue;
            };
            let Some(edge) = self.edges.iter().find(|e| e.label == x.edge) else {
                continue;
            };
            let f = self.fetch(edge, &x.key, meta).await;
            let healed = f.kind.is_none();
            let message = match f.kind {
                None => "healed by purge".to_owned(),
                Some(k) => format!("still bad: {}: {}", k.as_str(), f.message),
            };
            if healed {
                tracing::info!(edge = x.edge, url = x.url, "cdn canary: {message}");
            } else {
                tracing::warn!(edge = x.edge, url = x.url, purge, "cdn canary: {message}");
            }
            self.events.record(
                "cdn_recheck",
                &x.edge,
                &x.url,
                &format!("{message} (purge: {purge})"),
                &self.metrics,
            );
            x.recheck = Some(Recheck {
                purge: purge.clone(),
                healed,
                message,
                fetch: f,
            });
        }
    }
}

/// Resolves an edge's `HOST:PORT` to one socket address.
fn resolve_edge(e: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    e.to_socket_addrs()
        .map_err(|err| CanaryError::EdgeAddr(e.to_owned(), err))?
        .next()
        .ok_or_else(|| CanaryError::EdgeNoAddr(e.to_owned()))
}

/// Calls the purge hook: JSON POST `{"urls": [...]}`, as the admin purge
/// does; its status or error in words.
pub async fn post_purge(hook: &str, urls: &[String], timeout: Duration) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return error_chain(&e),
    };
    let body = serde_json::to_vec(&serde_json::json!({ "urls": urls })).expect("json");
    match client
        .post(hook)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => format!("HTTP {}", r.status().as_u16()),
        Err(e) => error_chain(&e),
    }
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let edges = if r.edges.len() == 1 {
        format!("edge {}", r.edges[0])
    } else {
        format!("{} edges", r.edges.len())
    };
    let _ = writeln!(
        s,
        "CDN canary {}: {} of {} objects × {edges}, {} fetches, {} bytes in {:.1}s",
        r.cdn, r.objects, r.objects_in_store, r.fetches, r.bytes, r.seconds
    );
    if let Some(e) = &r.error {
        let _ = writeln!(s, "error: {e}");
    }
    if r.findings.is_empty() {
        if r.error.is_none() {
            let _ = writeln!(s, "ok: every object matches its record");
        }
        return s;
    }
    let w_edge = r
        .findings
        .iter()
        .map(|x| x.edge.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_kind = 12;
    let w_key = r
        .findings
        .iter()
        .map(|x| x.key.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        s,
        "{:w_edge$}  {:w_kind$}  {:w_key$}  DETAIL",
        "EDGE", "KIND", "OBJECT"
    );
    for x in &r.findings {
        let _ = writeln!(
            s,
            "{:w_edge$}  {:w_kind$}  {:w_key$}  {}",
            x.edge,
            x.kind.as_str(),
            x.key,
            x.message
        );
        if let Some(rc) = &x.recheck {
            let _ = writeln!(
                s,
                "{:w_edge$}  {:w_kind$}  {:w_key$}  after purge ({}): {}",
                "", "", "", rc.purge, rc.message
            );
        }
    }
    let healed = r
        .findings
        .iter()
        .filter(|x| x.recheck.as_ref().is_some_and(|c| c.healed))
        .count();
    let _ = write!(s, "{} finding(s)", r.findings.len());
    if r.findings.iter().any(|x| x.recheck.is_some()) {
        let _ = write!(s, ", {healed} healed by purge");
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::testing::meta_of;
    use crate::store::{MemStore, PutBytes};

    #[tokio::test]
    async fn sample_favours_large_zips_and_new_objects_and_rotates_over_everything() {
        let store = Arc::new(MemStore::new().unwrap());
        let mut keys = vec![];
        for i in 0..10u64 {
            for ext in ["info", "mod", "zip"] {
                let k = format!("example.com/m{i}/@v/v1.0.0.{ext}");
                let mut meta = meta_of(b"x", "test");
                meta.size = if ext == "zip" { 1000 + i } else { 10 };
                meta.admitted_at = 100 + i;
                store.put_bytes(&k, b"x", &meta).await.unwrap();
                keys.push(k);
            }
        }
        // Not versioned files: never sampled.
        store
            .put_bytes("example.com/m1/@v/list", b"v1.0.0\n", &meta_of(b"", "t"))
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::new());
        let events = Events::new(10, Default::default(), metrics.clone());
        let cfg = CanaryConfig {
            sample: Some(4),
            ..CanaryConfig::new("https://cdn.example")
        };
        let c = Canary::new(store.clone(), cfg, metrics, events).unwrap();
        let all = c.versioned_objects().await.unwrap();
        assert_eq!(all.len(), 30);
        let mut covered = HashSet::new();
        for pass in 0..15 {
            let s = c.select(&all);
            assert_eq!(s.len(), 4);
            // The largest zip, then the newest object that is not it.
            assert_eq!(s[0].0, "example.com/m9/@v/v1.0.0.zip", "pass {pass}");
            assert!(s[1].0.starts_with("example.com/m9/@v/"), "pass {pass}");
            covered.extend(s.into_iter().map(|(k, _)| k));
        }
        assert_eq!(covered.len(), 30, "every key within a few passes");
    }
}
