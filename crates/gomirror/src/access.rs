//! The access log and the request metrics: exactly one log line and one
//! count per request, whatever ends it — a whole response, a client that
//! went away before the response headers (counted with status `499`, as
//! nginx does), or a response body cut short (an HTTP/2 stream reset, a
//! closed connection: logged with the bytes sent of those due, counted in
//! `gomirror_responses_incomplete_total`). `gomirror_bytes_served_total`
//! counts the bytes actually handed to the connection.

use crate::mirror::Mirror;
use crate::ops::endpoint_kind;
use crate::telemetry::{Metrics, RequestInfo};
use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderName, HeaderValue, Method};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
use prometheus_client::metrics::counter::Counter;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// One request's log record, written once when dropped.
struct Record {
    metrics: Arc<Metrics>,
    id: String,
    method: Method,
    path: String,
    kind: &'static str,
    start: Instant,
    /// Set when the response headers are ready.
    status: Option<u16>,
    info: RequestInfo,
    /// Bytes the response declared (Content-Length), if any.
    declared: Option<u64>,
    sent: u64,
    /// Whether the body reached its end.
    complete: bool,
    /// `gomirror_served_bytes_total` of this kind, once bytes are sent.
    served: Option<Counter>,
    /// The OpenTelemetry trace this request is part of (traces on).
    trace_id: Option<String>,
}

impl Drop for Record {
    fn drop(&mut self) {
        let m = &self.metrics;
        let elapsed = self.start.elapsed();
        // A body of known length handed over whole is done, even if it was
        // not polled past its last frame.
        self.complete |= self.declared == Some(self.sent);
        let (status, outcome) = match self.status {
            None => (499, "client went away before the response"),
            Some(s) if self.complete => (s, "done"),
            Some(s) => (s, "response cut short"),
        };
        if self.status.is_none() {
            // Counted here; a response with headers was counted then.
            m.count_request(self.kind, 499, elapsed);
        } else if !self.complete {
            Metrics::inc(&m.responses_incomplete, &[("kind", self.kind)]);
        }
        let i = &self.info;
        tracing::info!(
            request_id = %self.id,
            method = %self.method,
            path = %self.path,
            module = %i.module,
            version = %i.version,
            status,
            cache = i.cache,
            upstream = %i.upstream,
            bytes = self.sent,
            declared_bytes = self.declared,
            outcome,
            duration_ms = elapsed.as_millis() as u64,
            trace_id = self.trace_id.as_deref(),
            "request"
        );
    }
}

/// Runs `handle` on `req` under the request log: a request id (kept from
/// `X-Request-Id` or made), metrics, and one log line per request (see the
/// module documentation) with module, version, cache outcome, upstream,
/// bytes sent and duration.
pub async fn observe<F, Fut>(mirror: &Mirror, req: http::Request<Body>, handle: F) -> Response
where
    F: FnOnce(http::Request<Body>) -> Fut,
    Fut: Future<Output = Response>,
{
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            use rand::Rng;
            format!("{:016x}", rand::thread_rng().gen::<u64>())
        });
    let path = req.uri().path().to_owned();
    let mut rec = Record {
        metrics: mirror.counters.metrics.clone(),
        id,
        method: req.method().clone(),
        kind: endpoint_kind(&path),
        path,
        start: Instant::now(),
        status: None,
        info: RequestInfo::default(),
        declared: None,
        sent: 0,
        complete: false,
        served: None,
        trace_id: None,
    };
    // The request's span: a child of the caller's (W3C `traceparent`), when
    // traces are on.
    let span = tracing::info_span!(
        "request",
        http.request.method = %rec.method,
        url.path = %rec.path,
        gomirror.endpoint = rec.kind,
        request_id = %rec.id,
        http.response.status_code = tracing::field::Empty,
    );
    if !span.is_disabled() {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
        });
        let _ = span.set_parent(parent);
        rec.trace_id = crate::util::trace_id_of(&span);
    }
    // If this future is dropped here (the client went away), `rec` logs
    // and counts it.
    let mut res = tracing::Instrument::instrument(handle(req), span.clone()).await;
    let status = res.status().as_u16();
    span.record("http.response.status_code", i64::from(status));
    rec.status = Some(status);
    rec.info = res
        .extensions_mut()
        .remove::<RequestInfo>()
        .unwrap_or_default();
    rec.declared = if rec.method == Method::HEAD {
        Some(0)
    } else {
        res.headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    rec.metrics
        .count_request(rec.kind, status, rec.start.elapsed());
    let (mut parts, body) = res.into_parts();
    if let Ok(v) = HeaderValue::from_str(&rec.id) {
        parts.headers.insert(X_REQUEST_ID, v);
    }
    rec.complete = rec.method == Method::HEAD;
    Response::from_parts(parts, WatchedBody::wrap(body, rec))
}

/// What a [`WatchedBody`] tells as its bytes are handed over; it is
/// dropped with the body (finished or not).
pub(crate) trait BodyWatch: Send + Unpin + 'static {
    /// `n` bytes of data handed over.
    fn data(&mut self, _n: u64) {}
    /// The body reached its end.
    fn end(&mut self) {}
}

/// A response body that tells its [`BodyWatch`] what it hands over and
/// keeps it until the body is finished or dropped (a reset stream, a
/// closed connection).
pub(crate) struct WatchedBody<W> {
    inner: Body,
    watch: W,
}

impl<W: BodyWatch> WatchedBody<W> {
    /// `inner`, watched by `watch` (told at once of an empty body's end).
    pub(crate) fn wrap(inner: Body, mut watch: W) -> Body {
        if http_body::Body::is_end_stream(&inner) {
            watch.end();
        }
        Body::new(WatchedBody { inner, watch })
    }
}

impl<W: BodyWatch> http_body::Body for WatchedBody<W> {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    this.watch.data(d.len() as u64);
                }
                if this.inner.is_end_stream() {
                    this.watch.end();
                }
            }
            Poll::Ready(None) => this.watch.end(),
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The log record watches its response body: bytes sent (counted in
/// `gomirror_served_bytes_total`) and whether it was finished.
impl BodyWatch for Record {
    fn data(&mut self, n: u64) {
        self.sent += n;
        self.served
            .get_or_insert_with(|| self.metrics.served_bytes(self.kind))
            .inc_by(n);
    }

    fn end(&mut self) {
        self.complete = true;
    }
}
