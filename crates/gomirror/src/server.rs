//! The HTTP server's router and shared state: operator routes ([`crate::ops`])
//! and the GOPROXY protocol ([`crate::http`]) as siblings, under one
//! request-logging middleware.

use crate::mirror::Mirror;
use crate::ops::OpsConfig;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, Method};
use std::sync::Arc;

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState {
    pub mirror: Arc<Mirror>,
    pub ops: OpsConfig,
}

/// The whole HTTP surface: operator routes first (`/`, `/metrics`,
/// `/healthz`, `/readyz`, `/-/...`), then the protocol.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    crate::access::observe(&st.mirror, req, next).await
}

async fn handle(
    State(st): State<AppState>,
    method: Method,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = crate::ops::route(&st.mirror, &st.ops, &method, uri.path(), &headers).await {
        return r;
    }
    crate::http::handle(&st.mirror, method, uri, headers).await
}
