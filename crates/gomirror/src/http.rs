//! HTTP routing and headers for the GOPROXY protocol; no business logic.
//!
//! ```text
//! GET|HEAD /<module>/@v/list
//! GET|HEAD /<module>/@v/<version>.info|.mod|.zip
//! GET|HEAD /<module>/@latest
//! ```
//!
//! Module paths and versions arrive case-encoded (`!` + lower case) and are
//! decoded and checked with `gomod`. Malformed requests get `400`, unknown
//! modules and versions `404` with a one-line plain-text reason (the go
//! command falls through to its next proxy on 404/410), failing upstreams
//! `502` (`504` when the fetch passed its total deadline), a failing store
//! `503`.

use crate::mirror::{Answer, Failure, LiveZip, Mirror};
use crate::protocol::{parse_path, percent_decode, FileKind, PathError, ProxyRequest};
use crate::verify::Verified;
use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// `GET /index?since=<RFC 3339>&limit=<n>`: a page of the index feed (see
/// [`crate::index`]): 400 for a `since` or `limit` that does not parse,
/// 503 while the start-up pass over the records runs.
fn index_feed(mirror: &Mirror, query: Option<&str>, head: bool) -> Response {
    use crate::index;
    let (mut since, mut limit) = ((0, 0), index::DEFAULT_LIMIT);
    for (k, v) in url_query(query.unwrap_or("")) {
        match k.as_str() {
            "since" => match index::parse_stamp(&v) {
                Ok(s) => since = s,
                Err(e) => return text(StatusCode::BAD_REQUEST, &format!("bad request: {e}")),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if n > 0 => limit = n,
                _ => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        &format!("bad request: limit={v:?}: not a positive number"),
                    )
                }
            },
            _ => {}
        }
    }
    let Some(page) = mirror.index.page(since, limit) else {
        let mut r = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the index feed is being built from the stored records: try again shortly",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let mut body = String::with_capacity(page.len() * 96);
    for e in &page {
        body.push_str(&serde_json::to_string(e).expect("an entry serializes"));
        body.push('\n');
    }
    // A newer page is a moment away: caches ask again each time.
    let mut r = plain(StatusCode::OK, body.into_bytes(), "no-cache", false, head);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The `key=value` pairs of a URL query, percent-decoded (`+` is a space).
fn url_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_default();
            (dec(k), dec(v))
        })
        .collect()
}

fn text(status: StatusCode, msg: &str) -> Response {
    let mut line: String = msg
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(1000)
        .collect();
    line.push('\n');
    let mut r = Response::new(Body::from(line));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let cc = if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        "public, max-age=60"
    } else {
        "no-store"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
    r
}

fn failure_response(f: &Failure) -> Response {
    match f {
        Failure::NotFound(m) => text(StatusCode::NOT_FOUND, &format!("not found: {m}")),
        Failure::Upstream(m @ crate::mirror::Upstream::TimedOut { .. }) => text(
            StatusCode::GATEWAY_TIMEOUT,
            &format!("upstream timed out: {m}"),
        ),
        Failure::Upstream(m) => text(StatusCode::BAD_GATEWAY, &format!("upstream failed: {m}")),
        Failure::Store(m) => {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("storage unavailable: {m}"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

/// A single byte range `bytes=a-b`, `bytes=a-` or `bytes=-n`; `None` for
/// anything else (served as a full `200`).
fn parse_range(h: &HeaderMap) -> Option<(Option<u64>, Option<u64>)> {
    let v = h.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let a = a.trim();
    let b = b.trim();
    let a = if a.is_empty() {
        None
    } else {
        Some(a.parse().ok()?)
    };
    let b = if b.is_empty() {
        None
    } else {
        Some(b.parse().ok()?)
    };
    if a.is_none() && b.is_none() {
        return None;
    }
    Some((a, b))
}

/// Resolves a range against the length: inclusive bounds, or `Err` when
/// unsatisfiable.
fn resolve_range(r: (Option<u64>, Option<u64>), len: u64) -> Result<(u64, u64), ()> {
    let (s, e) = match r {
        (Some(s), Some(e)) if s <= e => (s, e.min(len.saturating_sub(1))),
        (Some(_), Some(_)) => return Err(()),
        (Some(s), None) => (s, len.saturating_sub(1)),
        (None, Some(n)) if n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
        _ => return Err(()),
    };
    if len == 0 || s >= len {
        return Err(());
    }
    Ok((s, e))
}

fn etag_matches(h: &HeaderMap, etag: &str) -> bool {
    let Some(v) = h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// Answers a GOPROXY (or `/sumdb/`) request.
pub async fn handle(
    mirror: &Arc<Mirror>,
    method: Method,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET or HEAD",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let raw = uri.path();
    let path = match percent_decode(raw) {
        Some(p) => p,
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                "bad request: malformed percent-encoding",
            )
        }
    };
    // `/cached-only/...` (no module path is `cached-only`: its first
    // element has no dot): the same protocol, answered from the store only.
    let (path, cached_only) = match path.strip_prefix("/cached-only/") {
        Some(rest) => (format!("/{rest}"), true),
        None => (path, false),
    };
    if let Some(rest) = path.strip_prefix("/sumdb/") {
        return sumdb_proxy(mirror, rest, method == Method::HEAD).await;
    }
    // No module path is `index` (its first element has no dot).
    if path == "/index" && !cached_only {
        return index_feed(mirror, uri.query(), method == Method::HEAD);
    }
    let req = match parse_path(&path) {
        Ok(r) => r,
        Err(e @ PathError::BadRequest(_)) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ PathError::NotFound(_)) => return text(StatusCode::NOT_FOUND, &e.to_string()),
    };
    let head = method == Method::HEAD;
    let range = parse_range(&headers);
    let result = match &req {
        _ if cached_only => mirror.cached_only(&req).await,
        ProxyRequest::List { module } => mirror.list(module).await,
        ProxyRequest::Latest { module } => mirror.latest(module).await,
        ProxyRequest::Query { module, query } => mirror.query_info(module, query).await,
        ProxyRequest::Versioned {
            module,
            version,
            kind,
        } => {
            // A cold zip may be streamed while it arrives: only a whole GET
            // (a range or HEAD waits for the admitted copy).
            let live = *kind == FileKind::Zip && range.is_none() && !head;
            match mirror
                .versioned_answer(module, version, *kind, true, live)
                .await
            {
                Ok(Answer::Whole(o)) => Ok(o),
                Ok(Answer::Live(z)) => return respond_live(&req, z),
                Err(f) => Err(f),
            }
        }
    };
    let obj = match result {
        Ok(o) => o,
        Err(f) => return failure_response(&f),
    };
    let cache = obj.outcome();
    let upstream = if cache == "miss" {
        obj.meta().origin.clone()
    } else {
        String::new()
    };
    let mut r = respond(mirror, &req, obj, &headers, range, head);
    let (module, version) = match req {
        ProxyRequest::List { module } | ProxyRequest::Latest { module } => (module, String::new()),
        ProxyRequest::Query { module, query } => (module, query),
        ProxyRequest::Versioned {
            module, version, ..
        } => (module, version),
    };
    r.headers_mut()
        .insert(X_GOMIRROR_CACHE, HeaderValue::from_static(cache));
    r.extensions_mut().insert(crate::telemetry::RequestInfo {
        module,
        version,
        cache,
        upstream,
    });
    r
}

/// A cold zip streamed as it arrives ([`LiveZip`]): no `ETag` or
/// `Repr-Digest` (the digest is known only at the end), the upstream's
/// length when it declared one.
fn respond_live(req: &ProxyRequest, z: LiveZip) -> Response {
    let mut r = Response::new(Body::from_stream(z.body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Some(n) = z.len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    h.insert("x-gomirror-cache", HeaderValue::from_static("miss"));
    h.insert("x-gomirror-live", HeaderValue::from_static("1"));
    let (module, version) = match req {
        ProxyRequest::Versioned {
            module, version, ..
        } => (module.clone(), version.clone()),
        _ => Default::default(),
    };
    r.extensions_mut().insert(crate::telemetry::RequestInfo {
        module,
        version,
        cache: "miss",
        upstream: String::new(),
    });
    r
}

const X_GOMIRROR_CACHE: HeaderName = HeaderName::from_static("x-gomirror-cache");
const X_GOMIRROR_STALE: HeaderName = HeaderName::from_static("x-gomirror-stale");
const REPR_DIGEST: HeaderName = HeaderName::from_static("repr-digest");

/// The `Repr-Digest` value of a hex SHA-256: `sha-256=:<base64>:`.
fn repr_digest(sha256_hex: &str) -> Option<HeaderValue> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(sha256_hex, &mut raw).ok()?;
    let mut v = String::with_capacity(56);
    v.push_str("sha-256=:");
    base64::engine::general_purpose::STANDARD.encode_string(raw, &mut v);
    v.push(':');
    HeaderValue::try_from(v).ok()
}

fn respond(
    mirror: &Arc<Mirror>,
    req: &ProxyRequest,
    obj: Verified,
    headers: &HeaderMap,
    range: Option<(Option<u64>, Option<u64>)>,
    head: bool,
) -> Response {
    let (content_type, versioned, is_zip) = match req {
        ProxyRequest::List { .. } => ("text/plain; charset=utf-8", false, false),
        ProxyRequest::Latest { .. } | ProxyRequest::Query { .. } => {
            ("application/json", false, false)
        }
        ProxyRequest::Versioned {
            kind: FileKind::Info,
            ..
        } => ("application/json", true, false),
        ProxyRequest::Versioned {
            kind: FileKind::Mod,
            ..
        } => ("text/plain; charset=utf-8", true, false),
        ProxyRequest::Versioned {
            kind: FileKind::Zip,
            ..
        } => ("application/zip", true, true),
    };
    let etag = format!("\"{}\"", obj.meta().sha256);
    let cache_control = if obj.is_stale() {
        HeaderValue::from_static("public, max-age=0, must-revalidate")
    } else if versioned {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::try_from(format!("public, max-age={}", mirror.list_ttl().as_secs()))
            .expect("ascii")
    };
    let mut h = HeaderMap::with_capacity(12);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex etag"),
    );
    h.insert(header::CACHE_CONTROL, cache_control);
    if versioned {
        let digest = repr_digest(&obj.meta().sha256)
            .unwrap_or_else(|| HeaderValue::from_static("sha-256=::"));
        h.insert(REPR_DIGEST, digest);
    }
    if is_zip {
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if obj.is_stale() {
        h.insert(X_GOMIRROR_STALE, HeaderValue::from_static("1"));
        h.insert(
            header::WARNING,
            HeaderValue::from_static("110 gomirror \"Response is Stale\""),
        );
    }
    if etag_matches(headers, &etag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        h.remove(header::CONTENT_TYPE);
        *r.headers_mut() = h;
        return r;
    }
    let size = obj.meta().size;
    let mut status = StatusCode::OK;
    let mut span = None;
    if let (true, Some(r)) = (is_zip, range) {
        match resolve_range(r, size) {
            Ok((s, e)) => {
                status = StatusCode::PARTIAL_CONTENT;
                h.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {s}-{e}/{size}")).expect("ascii"),
                );
                span = Some((s, e));
            }
            Err(()) => {
                let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return r;
            }
        }
    }
    let len = span.map(|(s, e)| e - s + 1).unwrap_or(size);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = if head {
        Body::empty()
    } else if let Some(b) = obj.bytes() {
        // Verified whole in memory: the bytes as one body of known length
        // (what `Mirror::body` would stream as its single chunk).
        Body::from(match span {
            Some((s, e)) => b.slice(s as usize..=e as usize),
            None => b.clone(),
        })
    } else {
        Body::from_stream(mirror.body(obj, span))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = h;
    r
}

fn plain(
    status: StatusCode,
    body: Vec<u8>,
    cache_control: &str,
    stale: bool,
    head: bool,
) -> Response {
    let len = body.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::from(body)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(cache_control).expect("ascii"),
    );
    if stale {
        h.insert(X_GOMIRROR_STALE, HeaderValue::from_static("1"));
        h.insert(
            header::WARNING,
            HeaderValue::from_static("110 gomirror \"Response is Stale\""),
        );
    }
    r
}

/// `/sumdb/<name>/...` for the configured database only: `supported`,
/// `latest` (verified and checked for consistency before it is passed on;
/// the last verified head is served stale when the database is down),
/// `lookup/<module>@<version>` (only well-formed lookups of modules the
/// database is asked about, forwarded as rebuilt from their parts; passed
/// through, kept once verified, served stale when the database is down)
/// and `tile/8/...` (the go command's height only; hash tiles checked
/// against the verified tree and kept; data tiles passed through).
async fn sumdb_proxy(mirror: &Arc<Mirror>, rest: &str, head: bool) -> Response {
    use crate::sumdb::SumdbError;
    if let Some(log) = mirror.ownlog() {
        if let Some(sub) = rest
            .strip_prefix(log.name())
            .and_then(|r| r.strip_prefix('/'))
        {
            return own_sumdb(mirror, sub, head).await;
        }
    }
    if let Some((name, why)) = mirror.ownlog_failed() {
        if rest
            .strip_prefix(name.as_str())
            .is_some_and(|r| r.starts_with('/'))
        {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("checksum database {name} is not served: {why}"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return r;
        }
    }
    let Some(db) = mirror.sumdb() else {
        return text(
            StatusCode::NOT_FOUND,
            "not found: no checksum database is configured",
        );
    };
    let Some(sub) = rest
        .strip_prefix(db.cfg.name.as_str())
        .and_then(|r| r.strip_prefix('/'))
    else {
        return text(
            StatusCode::NOT_FOUND,
            "not found: unknown checksum database",
        );
    };
    let short = format!("public, max-age={}", mirror.list_ttl().as_secs());
    // Stale answers are kept state, re-verified (signature, proofs, tile
    // hashes) by the client before they are served.
    let stale = |b: Vec<u8>| stale_answer(b, head);
    match sub {
        "supported" => plain(StatusCode::OK, vec![], "public, max-age=3600", false, head),
        "latest" => match db.fetch_latest().await {
            Ok(b) => plain(StatusCode::OK, b, &short, false, head),
            Err(e @ SumdbError::Fork { .. }) | Err(e @ SumdbError::Invalid { .. }) => {
                text(StatusCode::BAD_GATEWAY, &e.to_string())
            }
            Err(e) => match db.stale_latest().await {
                Some(b) => stale(b),
                None => text(StatusCode::BAD_GATEWAY, &e.to_string()),
            },
        },
        s if s.starts_with("lookup/") => {
            let lookup = match crate::protocol::parse_sumdb_lookup(s) {
                Ok(l) => l,
                Err(e) => return text(StatusCode::NOT_FOUND, &e.to_string()),
            };
            let module = &lookup.module;
            if mirror.sumdb_skips(module) {
                return text(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "not found: {module} is private (GONOSUMDB): the checksum database is not asked about it"
                    ),
                );
            }
            sumdb_lookup(db, &lookup.path, &short, head).await
        }
        s if s.starts_with("tile/") => {
            let Ok(tile) = gomod::tlog::parse_tile_path(s) else {
                return text(StatusCode::NOT_FOUND, "not found: malformed tile path");
            };
            if tile.h != crate::sumdb::TILE_HEIGHT {
                return text(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "not found: tiles of height {} are not served (the go command uses {})",
                        tile.h,
                        crate::sumdb::TILE_HEIGHT
                    ),
                );
            }
            sumdb_tile(db, tile, &short, head).await
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: unknown checksum database path",
        ),
    }
}

/// The mirror's own checksum database (see [`crate::ownlog`]): its
/// signed head, lookups (a version not logged yet is admitted first) and
/// tiles.
async fn own_sumdb(mirror: &Arc<Mirror>, sub: &str, head: bool) -> Response {
    let log = mirror
        .ownlog()
        .expect("routed here only when configured")
        .clone();
    match sub {
        "supported" => plain(StatusCode::OK, vec![], "public, max-age=3600", false, head),
        "latest" => plain(StatusCode::OK, log.latest(), "no-cache", false, head),
        s if s.starts_with("lookup/") => {
            let lookup = match crate::protocol::parse_sumdb_lookup(s) {
                Ok(l) => l,
                Err(e) => return text(StatusCode::NOT_FOUND, &e.to_string()),
            };
            match mirror.own_lookup(&lookup.module, &lookup.version).await {
                Ok(b) => plain(StatusCode::OK, b, "no-cache", false, head),
                Err(f) => failure_response(&f),
            }
        }
        s if s.starts_with("tile/") => {
            let Ok(tile) = gomod::tlog::parse_tile_path(s) else {
                return text(StatusCode::NOT_FOUND, "not found: malformed tile path");
            };
            let full = tile.w == 1 << tile.h;
            match log.tile(&tile) {
                Some(b) => plain(
                    StatusCode::OK,
                    b,
                    if full {
                        "public, max-age=31536000, immutable"
                    } else {
                        "no-cache"
                    },
                    false,
                    head,
                ),
                None => text(StatusCode::NOT_FOUND, "not found: no such tile in the log"),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: unknown checksum database path",
        ),
    }
}

/// A stale answer: served, but never cached downstream.
fn stale_answer(b: Vec<u8>, head: bool) -> Response {
    plain(
        StatusCode::OK,
        b,
        "public, max-age=0, must-revalidate",
        true,
        head,
    )
}

/// A lookup through the checksum-database client: passed on, or served
/// stale (re-verified) when the database is down.
async fn sumdb_lookup(
    db: &Arc<crate::sumdb::Client>,
    path: &str,
    short: &str,
    head: bool,
) -> Response {
    match db.proxy_lookup(path).await {
        Ok(Ok(b)) => plain(StatusCode::OK, b, short, false, head),
        Ok(Err((status, msg))) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
            &msg,
        ),
        Err(e) => match db.stale_lookup(path).await {
            Some(b) => stale_answer(b, head),
            None => text(StatusCode::BAD_GATEWAY, &e.to_string()),
        },
    }
}

/// A tile through the checksum-database client: checked against the
/// verified tree and kept (hash tiles), or served stale (re-verified) when
/// the database is down.
async fn sumdb_tile(
    db: &Arc<crate::sumdb::Client>,
    tile: gomod::tlog::Tile,
    short: &str,
    head: bool,
) -> Response {
    use crate::sumdb::SumdbError;
    let immutable = tile.w == 1 << tile.h;
    match db.proxy_tile(tile).await {
        Ok(Ok(b)) => {
            let cc = if immutable {
                "public, max-age=31536000, immutable"
            } else {
                short
            };
            plain(StatusCode::OK, b, cc, false, head)
        }
        Ok(Err((status, msg))) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
            &msg,
        ),
        Err(e @ SumdbError::Unreachable { .. }) => match db.stale_tile(tile).await {
            Some(b) => stale_answer(b, head),
            None => text(StatusCode::BAD_GATEWAY, &e.to_string()),
        },
        Err(e) => text(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range((Some(0), Some(9)), 100), Ok((0, 9)));
        assert_eq!(resolve_range((Some(90), None), 100), Ok((90, 99)));
        assert_eq!(resolve_range((None, Some(10)), 100), Ok((90, 99)));
        assert_eq!(resolve_range((Some(50), Some(500)), 100), Ok((50, 99)));
        assert_eq!(resolve_range((Some(100), None), 100), Err(()));
        assert_eq!(resolve_range((Some(5), Some(1)), 100), Err(()));
        assert_eq!(resolve_range((None, Some(0)), 100), Err(()));
    }
}
