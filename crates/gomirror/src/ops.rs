//! Operator endpoints: `/metrics`, `/healthz`, `/readyz`, the status page at
//! `/`, and the admin API under `/-/` (bearer token).

use crate::chart::esc;
use crate::mirror::Mirror;
use crate::protocol::FileKind;
use crate::util::Secret;
use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

/// Settings of the operator endpoints.
#[derive(Clone, Default)]
pub struct OpsConfig {
    pub admin_token: Option<Secret>,
    pub cdn_purge_webhook: Option<String>,
    pub public_url: Option<String>,
    /// Free space under which `/readyz` says not ready (0: not checked).
    pub min_free_bytes: u64,
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response {
    let body = serde_json::to_vec_pretty(&v).expect("json serialises");
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The endpoint kind of a path, for metrics labels (bounded cardinality).
pub fn endpoint_kind(path: &str) -> &'static str {
    if path.starts_with("/sumdb/") {
        "sumdb"
    } else if path.starts_with("/-/") {
        "admin"
    } else if matches!(path, "/" | "/metrics" | "/healthz" | "/readyz") {
        "ops"
    } else if path.ends_with("/@latest") {
        "latest"
    } else if path.ends_with("/@v/list") {
        "list"
    } else if path.ends_with(".info") {
        "info"
    } else if path.ends_with(".mod") {
        "mod"
    } else if path.ends_with(".zip") {
        "zip"
    } else {
        "other"
    }
}

/// `/healthz`: the process is alive.
pub fn healthz(mirror: &Mirror) -> Response {
    json_response(
        StatusCode::OK,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "uptime_seconds": mirror.started.elapsed().as_secs()}),
    )
}

/// Per upstream: whether it looks usable (it answered last time it was
/// asked, or was never asked), with its last success and error.
fn upstream_health(mirror: &Mirror) -> Vec<serde_json::Value> {
    let health = mirror.upstream_health.lock().unwrap().clone();
    mirror
        .chain()
        .entries
        .iter()
        .map(|(src, _)| {
            let name = src.name();
            let h = health.get(name).cloned().unwrap_or_default();
            let (last_ok, last_err) = (h.last_ok, h.last_error);
            let usable = !matches!(src, crate::upstream::Source::Off)
                && last_err.as_ref().is_none_or(|(t, _)| last_ok >= *t);
            json!({
                "name": name, "usable": usable, "last_ok": last_ok,
                "last_error": last_err.map(|(t, e)| json!({"time": t, "error": e})),
            })
        })
        .collect()
}

/// `/readyz`: the store is writable (the last write probe, at most
/// [`crate::mirror::PROBE_INTERVAL`] old, succeeded), has the free space
/// asked for, and at least one upstream is usable; 503 with what is wrong
/// otherwise. Nothing here reads the store's objects.
pub async fn readyz(mirror: &Mirror, min_free_bytes: u64) -> Response {
    let probe = mirror.store_writable().await;
    let store_err = probe.result.clone().err();
    let free = mirror.store().free_space();
    let low_on_space = free.is_some_and(|f| f < min_free_bytes);
    let upstreams = upstream_health(mirror);
    // A chain of `off` alone is a mirror offline by design: it needs no
    // upstream to be ready.
    let offline = mirror
        .chain()
        .entries
        .iter()
        .all(|(s, _)| matches!(s, crate::upstream::Source::Off));
    let any_usable = offline || upstreams.iter().any(|u| u["usable"] == json!(true));
    let ready = store_err.is_none() && any_usable && !low_on_space;
    // The shared parts of a fleet fail for every replica at once: taking
    // every replica out of the load balancer would stop what still works
    // (the local tiers, the memory tiers), so they are named as degraded,
    // not as not ready.
    let shared = mirror.shared_health().await;
    let mut degraded = vec![];
    if let Some(Err(e)) = &shared.bucket {
        degraded.push(format!(
            "object storage unreachable: serving the local tier only, misses answer 503: {e}"
        ));
    }
    if let Some(Err(e)) = &shared.redis {
        degraded.push(format!(
            "redis unreachable: no fleet coordination (local singleflight, records checked in the bucket on every read): {e}"
        ));
    }
    let mut problems = vec![];
    if let Some(e) = &store_err {
        problems.push(format!("store not writable: {e}"));
    }
    if let (true, Some(f)) = (low_on_space, free) {
        problems.push(format!(
            "free space {f} bytes is under the threshold of {min_free_bytes} bytes (GOMIRROR_MIN_FREE_BYTES)"
        ));
    }
    if !any_usable {
        problems.push("no usable upstream".to_owned());
    }
    json_response(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        json!({
            "ready": ready, "problems": problems, "degraded": degraded,
            "bucket": shared.bucket.as_ref().map(|r| json!({"ok": r.is_ok(), "error": r.as_ref().err()})),
            "redis": shared.redis.as_ref().map(|r| json!({"ok": r.is_ok(), "error": r.as_ref().err()})),
            "store": {
                "ok": store_err.is_none(), "error": store_err, "free_bytes": free,
                "probe": probe.number, "probed_seconds_ago": probe.at.elapsed().as_secs(),
            },
            "upstreams": upstreams,
        }),
    )
}

/// `/metrics`: the Prometheus text format.
pub fn metrics(mirror: &Mirror) -> Response {
    let mut r = Response::new(Body::from(mirror.counters.metrics.encode()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Object count and bytes in the cache, as the mirror keeps them (never a
/// walk of the store); `None` while the start-up count runs.
fn cache_stats(mirror: &Mirror) -> Option<(u64, u64)> {
    mirror.usage.get()
}

fn hit_ratio(mirror: &Mirror) -> f64 {
    let hit = mirror.counters.get("cache", "hit") as f64;
    let miss = mirror.counters.get("cache", "miss") as f64;
    if hit + miss == 0.0 {
        0.0
    } else {
        hit / (hit + miss)
    }
}

/// The status page: the line that points the go command at this mirror,
/// version, uptime, cache size, hit ratio, upstream health, charts of the
/// last hour and day ([`crate::status`]), the last integrity events.
/// Server-rendered, no scripts: it carries a Content-Security-Policy that
/// allows nothing but its own inline style.
pub async fn status_page(mirror: &Mirror, ops: &OpsConfig, headers: &HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let goproxy = crate::status::goproxy_line(ops.public_url.as_deref(), host, tls);
    let charts = crate::status::charts(mirror);
    let replicas = crate::status::replica_rows(mirror).await;
    let (objects, bytes) = match cache_stats(mirror) {
        Some((o, b)) => (o.to_string(), format!("{b} bytes")),
        None => ("counting…".to_owned(), "counting…".to_owned()),
    };
    let mut upstream_rows = String::new();
    for u in upstream_health(mirror) {
        let err = u["last_error"]["error"].as_str().unwrap_or("");
        upstream_rows.push_str(&format!(
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
            esc(u["name"].as_str().unwrap_or("")),
            if u["usable"] == json!(true) {
                "ok"
            } else {
                "bad"
            },
            if u["usable"] == json!(true) {
                "usable"
            } else {
                "failing"
            },
            esc(err)
        ));
    }
    let events = mirror.events.recent(20);
    let mut event_rows = String::new();
    for e in &events {
        event_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e.time,
            esc(&e.kind),
            esc(&e.source),
            esc(&e.object),
            e.count,
            esc(&e.message)
        ));
    }
    if events.is_empty() {
        event_rows.push_str("<tr><td colspan=\"6\">No integrity events.</td></tr>\n");
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gomirror status</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1240px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}.ok{{color:#070}}.bad{{color:#b00}}
#use{{background:#f4f6f8;border:1px solid #ccd;padding:.6em 1em;font-size:1.1em}}
section{{display:flex;flex-wrap:wrap;gap:8px}}section h2{{width:100%}}figure.chart{{margin:0;border:1px solid #ddd;padding:4px}}figcaption{{font-weight:bold;font-size:.9em}}ul.legend{{margin:2px 0;padding-left:1em;font-size:.8em;list-style:none;max-width:560px}}</style>
</head><body>
<h1>gomirror</h1>
<p>A Go module mirror that checks every module against the checksum database before it serves it. Use it:</p>
<pre id="use"><code>{goproxy}</code></pre>
<table id="summary">
<tr><th>Version</th><td id="version">{version}</td></tr>
<tr><th>Uptime</th><td id="uptime">{uptime} s</td></tr>
<tr><th>Cached objects</th><td id="objects">{objects}</td></tr>
<tr><th>Cache size</th><td id="bytes">{bytes}</td></tr>
<tr><th>Hit ratio</th><td id="hit-ratio">{ratio:.1}%</td></tr>
</table>
<h2>Upstreams</h2>
<table id="upstreams"><tr><th>Upstream</th><th>State</th><th>Last error</th></tr>
{upstream_rows}</table>
{replicas}{charts}
<h2>Recent integrity events</h2>
<table id="events"><tr><th>Time</th><th>Kind</th><th>Source</th><th>Object</th><th>Count</th><th>Message</th></tr>
{event_rows}</table>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        uptime = mirror.started.elapsed().as_secs(),
        ratio = hit_ratio(mirror) * 100.0,
    );
    let mut r = Response::new(Body::from(html));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    r
}

/// Compares two byte strings in time independent of where they differ.
/// Whether `a` and `b` are the same secret, in time that depends on
/// neither their content nor their lengths: both are hashed to 32 bytes,
/// which are compared without an early exit.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110) and spaces around the token are ignored.
fn bearer_token(headers: &HeaderMap) -> &str {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return "";
    };
    match v.trim_start().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => "",
    }
}

/// The admin API under `/-/`, guarded by a bearer token; off (404) when
/// no token is configured.
///
/// * `GET /-/events` — recent integrity events (newest first)
/// * `GET /-/stats` — cache statistics and counters
/// * `POST /-/purge/<module>[@<version>]` — remove from the cache (and
///   call the CDN purge webhook with the URLs purged)
/// * `POST /-/verify/<module>@<version>` — re-verify the stored files of
///   that version now (rot is quarantined and re-fetched)
pub async fn admin(
    mirror: &Arc<Mirror>,
    ops: &OpsConfig,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response {
    let text = |s: StatusCode, m: &str| json_response(s, json!({"error": m}));
    let Some(token) = &ops.admin_token else {
        return text(
            StatusCode::NOT_FOUND,
            "the admin API is off: no admin token is configured",
        );
    };
    let given = bearer_token(headers);
    if given.is_empty() || !same_secret(given.as_bytes(), token.0.as_bytes()) {
        let mut r = text(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let rest = path.strip_prefix("/-/").unwrap_or("");
    match (method.clone(), rest) {
        (Method::GET, "events") => {
            // A fleet's events are shared: any replica shows them all (this
            // replica's own alone while Redis is down).
            if let Some(f) = mirror.fleet() {
                match f.events(1000).await {
                    Ok(ev) => {
                        return json_response(StatusCode::OK, json!({"fleet": true, "events": ev}))
                    }
                    Err(e) => {
                        return json_response(
                            StatusCode::OK,
                            json!({"fleet": false, "fleet_error": e.to_string(),
                                   "events": mirror.events.recent(1000)}),
                        )
                    }
                }
            }
            json_response(
                StatusCode::OK,
                json!({"events": mirror.events.recent(1000)}),
            )
        }
        (Method::GET, "stats") => {
            let usage = cache_stats(mirror);
            let (objects, bytes) = (usage.map(|u| u.0), usage.map(|u| u.1));
            json_response(
                StatusCode::OK,
                json!({
                    "objects": objects, "bytes": bytes, "hit_ratio": hit_ratio(mirror),
                    "uptime_seconds": mirror.started.elapsed().as_secs(),
                    "counters": mirror.counters.snapshot().into_iter()
                        .map(|((n, l), v)| json!({"name": n, "label": l, "value": v})).collect::<Vec<_>>(),
                }),
            )
        }
        (Method::POST, r) if r.starts_with("purge/") => {
            let target = &r["purge/".len()..];
            match purge(mirror, ops, target).await {
                Ok(v) => json_response(StatusCode::OK, v),
                Err(e) => text(StatusCode::BAD_REQUEST, &e),
            }
        }
        (Method::POST, r) if r.starts_with("verify/") => {
            let target = &r["verify/".len()..];
            let Some((m, v)) = target.split_once('@') else {
                return text(
                    StatusCode::BAD_REQUEST,
                    "expected /-/verify/<module>@<version>",
                );
            };
            if let Err(e) = gomod::module::check(m, v) {
                return text(StatusCode::BAD_REQUEST, &e.to_string());
            }
            let mut out = serde_json::Map::new();
            for ext in [FileKind::Info, FileKind::Mod, FileKind::Zip] {
                let r = match mirror.reverify(m, v, ext).await {
                    Ok(s) => json!(s),
                    Err(e) => json!(format!("error: {e}")),
                };
                out.insert(ext.as_str().to_owned(), r);
            }
            json_response(StatusCode::OK, serde_json::Value::Object(out))
        }
        _ => text(StatusCode::NOT_FOUND, "unknown admin endpoint"),
    }
}

/// Purges `module` or `module@version` from the cache, then tells the CDN.
async fn purge(
    mirror: &Arc<Mirror>,
    ops: &OpsConfig,
    target: &str,
) -> Result<serde_json::Value, String> {
    let (module, version) = match target.split_once('@') {
        Some((m, v)) => (m, Some(v)),
        None => (target, None),
    };
    // The `!`-encoded form of the URLs (and store keys) names the same
    // module: `example.com/!upper@v1.0.0-!r!c1`.
    let decoded_module;
    let module = if module.contains('!') {
        decoded_module = gomod::module::unescape_path(module).map_err(|e| e.to_string())?;
        decoded_module.as_str()
    } else {
        module
    };
    let decoded_version;
    let version = match version {
        Some(v) if v.contains('!') => {
            decoded_version = gomod::module::unescape_version(v).map_err(|e| e.to_string())?;
            Some(decoded_version.as_str())
        }
        v => v,
    };
    gomod::module::check_path(module).map_err(|e| e.to_string())?;
    let esc = gomod::module::escape_path(module).map_err(|e| e.to_string())?;
    let mut keys = vec![];
    match version {
        Some(v) => {
            gomod::module::check(module, v).map_err(|e| e.to_string())?;
            for ext in [FileKind::Info, FileKind::Mod, FileKind::Zip] {
                keys.push(
                    crate::protocol::versioned_key(module, v, ext).map_err(|e| e.to_string())?,
                );
            }
            keys.push(format!("{esc}/@v/list"));
            keys.push(format!("{esc}/@latest"));
        }
        None => {
            keys.extend(
                mirror
                    .store()
                    .list(&format!("{esc}/@v/"))
                    .await
                    .map_err(|e| e.to_string())?,
            );
            keys.push(format!("{esc}/@v/list"));
            keys.push(format!("{esc}/@latest"));
        }
    }
    keys.sort();
    keys.dedup();
    mirror.forget_not_found(&esc);
    for k in &keys {
        mirror
            .forget(k)
            .await
            .map_err(|e| format!("purging {k}: {e}"))?;
    }
    let base = ops.public_url.clone().unwrap_or_default();
    let urls: Vec<String> = keys.iter().map(|k| format!("{base}/{k}")).collect();
    let mut cdn = serde_json::Value::Null;
    if let Some(hook) = &ops.cdn_purge_webhook {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(&json!({"urls": urls})).expect("json");
        cdn = match client
            .post(hook)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => json!({"status": r.status().as_u16()}),
            Err(e) => json!({"error": crate::util::error_chain(&e)}),
        };
    }
    tracing::info!(target, purged = keys.len(), "purged");
    Ok(json!({"purged": urls, "cdn_purge": cdn}))
}

/// Whether the request is for an operator endpoint; if so, answers it.
pub async fn route(
    mirror: &Arc<Mirror>,
    ops: &OpsConfig,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    if path.starts_with("/-/") {
        return Some(admin(mirror, ops, method, path, headers).await);
    }
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    Some(match path {
        "/" => status_page(mirror, ops, headers).await,
        "/metrics" => metrics(mirror),
        "/healthz" => healthz(mirror),
        "/readyz" => readyz(mirror, ops.min_free_bytes).await,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admit::Admitted;
    use crate::store::{MemStore, Meta, Opened, PutBytes, Staged, Store, StoreError};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A store that counts what is asked of it.
    #[derive(Default)]
    struct Calls {
        meta: AtomicU64,
        open: AtomicU64,
        list: AtomicU64,
        stage: AtomicU64,
        put: AtomicU64,
    }

    struct Counting(MemStore, Arc<Calls>);

    #[async_trait::async_trait]
    impl Store for Counting {
        async fn meta(&self, key: &str) -> Result<Option<Meta>, StoreError> {
            self.1.meta.fetch_add(1, Ordering::SeqCst);
            self.0.meta(key).await
        }
        async fn open(&self, key: &str) -> Result<Option<Opened>, StoreError> {
            self.1.open.fetch_add(1, Ordering::SeqCst);
            self.0.open(key).await
        }
        fn stage(&self) -> Result<Staged, StoreError> {
            self.1.stage.fetch_add(1, Ordering::SeqCst);
            self.0.stage()
        }
        async fn put(&self, obj: Admitted) -> Result<(), StoreError> {
            self.1.put.fetch_add(1, Ordering::SeqCst);
            self.0.put(obj).await
        }
        async fn quarantine(&self, key: &str, reason: &str) -> Result<(), StoreError> {
            self.0.quarantine(key, reason).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.0.delete(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            self.1.list.fetch_add(1, Ordering::SeqCst);
            self.0.list(prefix).await
        }
    }

    fn mirror(store: Arc<dyn Store>) -> Arc<Mirror> {
        Mirror::new(store, crate::mirror::Settings::offline()).unwrap()
    }

    /// A store of `n` versions (`.info`, `.mod` and `.zip` each).
    async fn filled(n: usize) -> (Arc<dyn Store>, Arc<Calls>) {
        let mem = MemStore::new().unwrap();
        for i in 0..n {
            for ext in ["info", "mod", "zip"] {
                let data = format!("{i}.{ext}").into_bytes();
                let meta = crate::admit::testing::meta_of(&data, "test");
                mem.put_bytes(&format!("example.com/m/@v/v1.0.{i}.{ext}"), &data, &meta)
                    .await
                    .unwrap();
            }
        }
        let calls = Arc::new(Calls::default());
        (Arc::new(Counting(mem, calls.clone())), calls)
    }

    fn reads(c: &Calls) -> u64 {
        c.meta.load(Ordering::SeqCst)
            + c.open.load(Ordering::SeqCst)
            + c.list.load(Ordering::SeqCst)
    }

    async fn page(m: &Mirror) -> String {
        let r = status_page(m, &OpsConfig::default(), &HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// `GET /` neither lists the store nor reads a record: its figures are
    /// counted once at start-up and then kept up to date.
    #[tokio::test]
    async fn status_page_reads_no_records() {
        let (store, calls) = filled(200).await;
        let m = mirror(store);
        let before = reads(&calls);
        for _ in 0..5 {
            assert!(page(&m).await.contains("<td id=\"objects\">counting…</td>"));
        }
        assert_eq!(reads(&calls), before, "the status page read the store");
        m.count_usage().await;
        let before = reads(&calls);
        for _ in 0..5 {
            let p = page(&m).await;
            assert!(p.contains("<td id=\"objects\">600</td>"), "{p}");
        }
        assert_eq!(reads(&calls), before, "the status page read the store");
        m.forget("example.com/m/@v/v1.0.7.zip").await.unwrap();
        let p = page(&m).await;
        assert!(p.contains("<td id=\"objects\">599</td>"), "{p}");
    }

    /// Concurrent `/readyz` calls share one write probe, which leaves
    /// nothing in the store.
    #[tokio::test]
    async fn concurrent_readyz_share_one_probe() {
        let (store, calls) = filled(1).await;
        let m = mirror(store.clone());
        let answers = futures_util::future::join_all((0..50).map(|_| readyz(&m, 0))).await;
        for r in answers {
            // 503 all the same: GOPROXY=off leaves no usable upstream.
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["store"]["ok"], true, "{v}");
        }
        assert_eq!(calls.stage.load(Ordering::SeqCst), 1, "probes made");
        assert_eq!(calls.put.load(Ordering::SeqCst), 0, "probe objects put");
        assert_eq!(store.list("").await.unwrap().len(), 3);
        // Within the interval the result is reused.
        let p = m.store_writable().await;
        assert_eq!((p.number, p.result), (1, Ok(())));
        assert_eq!(calls.stage.load(Ordering::SeqCst), 1, "probes made");
    }

    /// The probe writes in the staging directory only, leaves nothing
    /// behind, and clears the probe objects earlier versions committed.
    #[tokio::test]
    async fn fs_probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::store::FsStore::open(dir.path()).unwrap());
        let data = b"1795722211".to_vec();
        let meta = crate::admit::testing::meta_of(&data, "gomirror");
        store
            .put_bytes("health/probe-1", &data, &meta)
            .await
            .unwrap();
        let m = mirror(store.clone());
        assert_eq!(m.store_writable().await.result, Ok(()));
        assert!(store.list("").await.unwrap().is_empty());
        let left: Vec<_> = walkdir(dir.path());
        assert!(left.is_empty(), "files left: {left:?}");
    }

    fn walkdir(d: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
