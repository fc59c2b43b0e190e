//! The server's request handling and shared state: operator routes
//! ([`crate::ops`]) and the GOPROXY protocol ([`crate::http`]) as siblings,
//! under one request log ([`crate::access`]).
//!
//! Requests are dispatched by a plain function, not a router: every path
//! goes through the same two steps (operator routes, then the protocol),
//! so a routing table would only add work to each request.

use crate::mirror::Mirror;
use crate::ops::OpsConfig;
use axum::body::Body;
use axum::response::Response;
use std::sync::Arc;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub mirror: Arc<Mirror>,
    pub ops: OpsConfig,
}

/// Answers one request of the whole HTTP surface — operator routes first
/// (`/`, `/metrics`, `/healthz`, `/readyz`, `/-/...`), then the protocol —
/// with exactly one log line and one count (see [`crate::access`]).
pub async fn serve(st: &AppState, req: http::Request<Body>) -> Response {
    crate::access::observe(&st.mirror, req, |req| handle(st, req)).await
}

async fn handle(st: &AppState, req: http::Request<Body>) -> Response {
    // No route reads a request body.
    let (parts, _) = req.into_parts();
    let path = parts.uri.path();
    if let Some(r) =
        crate::ops::route(&st.mirror, &st.ops, &parts.method, path, &parts.headers).await
    {
        return r;
    }
    crate::http::handle(&st.mirror, parts.method, parts.uri, parts.headers).await
}
