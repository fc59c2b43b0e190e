//! Operator endpoints: `/metrics`, `/healthz`, `/readyz`, the status page at
//! `/`, the admin API under `/-/` (bearer token), and the per-request log.

use crate::mirror::Mirror;
use crate::protocol::FileKind;
use crate::telemetry::Metrics;
use crate::util::Secret;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

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

/// Middleware: a request id (kept from `X-Request-Id` or made), metrics,
/// and one log line per request with module, version, cache outcome,
/// upstream, bytes and the time to response headers.
/// Logs and counts every request (the router's middleware).
pub async fn observe(mirror: &Mirror, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            use rand::Rng;
            format!("{:016x}", rand::thread_rng().gen::<u64>())
        });
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let kind = endpoint_kind(&path);
    let status = res.status().as_u16();
    let bytes: u64 = if method == Method::HEAD {
        0
    } else {
        res.headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let m = &mirror.counters.metrics;
    Metrics::inc(
        &m.requests,
        &[("kind", kind), ("status", &status.to_string())],
    );
    m.request_duration
        .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
        .observe(start.elapsed().as_secs_f64());
    m.bytes_served
        .get_or_create(&vec![("kind".to_owned(), kind.to_owned())])
        .inc_by(bytes);
    let info = res
        .extensions()
        .get::<crate::telemetry::RequestInfo>()
        .cloned()
        .unwrap_or_default();
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        module = %info.module,
        version = %info.version,
        status,
        cache = info.cache,
        upstream = %info.upstream,
        bytes,
        duration_ms = start.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
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

/// `/readyz`: the store is writable and at least one upstream is usable;
/// 503 with what is wrong otherwise.
pub async fn readyz(mirror: &Mirror, min_free_bytes: u64) -> Response {
    let store_err = mirror.probe_store().await.err();
    let free = mirror.store().free_space();
    let low_on_space = free.is_some_and(|f| f < min_free_bytes);
    let upstreams = upstream_health(mirror);
    let any_usable = upstreams.iter().any(|u| u["usable"] == json!(true));
    let ready = store_err.is_none() && any_usable && !low_on_space;
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
            "ready": ready, "problems": problems,
            "store": {"ok": store_err.is_none(), "error": store_err, "free_bytes": free},
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

/// Object count and bytes in the cache (walks the store's listing).
async fn cache_stats(mirror: &Mirror) -> (u64, u64) {
    let keys = mirror.store().list("").await.unwrap_or_default();
    let mut bytes = 0;
    let mut n = 0;
    for k in keys
        .iter()
        .filter(|k| k.contains("/@v/") && !k.ends_with("/@v/list"))
    {
        if let Ok(Some(m)) = mirror.store().meta(k).await {
            bytes += m.size;
            n += 1;
        }
    }
    (n, bytes)
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The status page: version, uptime, cache size, hit ratio, upstream
/// health, the last integrity events. Server-rendered, no scripts.
pub async fn status_page(mirror: &Mirror) -> Response {
    let (objects, bytes) = cache_stats(mirror).await;
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
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}.ok{{color:#070}}.bad{{color:#b00}}</style>
</head><body>
<h1>gomirror</h1>
<p>A Go module mirror. Use it with <code>GOPROXY=&lt;this URL&gt;</code>.</p>
<table id="summary">
<tr><th>Version</th><td id="version">{version}</td></tr>
<tr><th>Uptime</th><td id="uptime">{uptime} s</td></tr>
<tr><th>Cached objects</th><td id="objects">{objects}</td></tr>
<tr><th>Cache size</th><td id="bytes">{bytes} bytes</td></tr>
<tr><th>Hit ratio</th><td id="hit-ratio">{ratio:.1}%</td></tr>
</table>
<h2>Upstreams</h2>
<table id="upstreams"><tr><th>Upstream</th><th>State</th><th>Last error</th></tr>
{upstream_rows}</table>
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
        (Method::GET, "events") => json_response(
            StatusCode::OK,
            json!({"events": mirror.events.recent(1000)}),
        ),
        (Method::GET, "stats") => {
            let (objects, bytes) = cache_stats(mirror).await;
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
        "/" => status_page(mirror).await,
        "/metrics" => metrics(mirror),
        "/healthz" => healthz(mirror),
        "/readyz" => readyz(mirror, ops.min_free_bytes).await,
        _ => return None,
    })
}
