//! Client connections: how many may be open, how long one may take to send
//! a request or stay idle, how many HTTP/2 streams it may open, and how
//! they end at shutdown.
//!
//! * **Header-read timeout** (`GOMIRROR_HEADER_READ_TIMEOUT`, 10 s): a
//!   connection must complete its first request's headers within it
//!   (a silent or trickling client is closed), and on HTTP/1.1 each next
//!   request's headers too — which also bounds how long an idle
//!   keep-alive connection is kept.
//! * **Idle timeout** (`GOMIRROR_IDLE_TIMEOUT`, 60 s): a connection with
//!   no request in flight for that long is closed (HTTP/2 gets a GOAWAY).
//! * **Connection limit** (`GOMIRROR_MAX_CONNECTIONS`; by default sized
//!   from the file-descriptor limit, which is first raised to its hard
//!   limit): past it, a new connection gets `503` (plain HTTP) or is closed
//!   (TLS) at once, counted in `gomirror_connections_rejected_total` and
//!   logged (at most one line per 10 s, with the count).
//! * **Accept errors** (e.g. `EMFILE`) back off from 10 ms up to 1 s
//!   instead of spinning, counted and logged the same way.
//! * **HTTP/2**: at most `GOMIRROR_H2_MAX_STREAMS` (32) concurrent streams
//!   per connection, a small per-stream send buffer, pings to find dead
//!   peers.
//! * **Shutdown**: connections without a request in flight close at once;
//!   the others finish their requests within `GOMIRROR_DRAIN_TIMEOUT`
//!   (30 s), after which they are cut.

use crate::telemetry::Metrics;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The connection settings.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: sized from the file-descriptor limit.
    pub max_connections: Option<usize>,
    pub h2_max_streams: u32,
    pub drain_timeout: Duration,
}

/// Bytes an HTTP/1.1 connection buffers at most: its request headers, and
/// its response waiting for the socket — a download reads its next chunk
/// only once the queued one is nearly out (hyper's default of ~400 KB let
/// each slow download buffer a dozen chunks: 256 concurrent downloads
/// peaked at 52-66 MiB).
const H1_MAX_BUF: usize = 32 << 10;

/// File descriptors kept aside from client connections: stored files being
/// served, staging files, upstream connections, git processes, logs.
const FD_RESERVE: u64 = 512;

/// Raises the soft limit on open files to the hard limit (as the Go
/// runtime does) and returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
    }
    rl.rlim_cur
}

/// The default connection limit for a file-descriptor limit: what is left
/// after [`FD_RESERVE`], at least 32.
pub fn default_max_connections(nofile: u64) -> usize {
    usize::try_from(nofile.saturating_sub(FD_RESERVE).max(32)).unwrap_or(usize::MAX)
}

/// A log line at most every 10 s for a repeated condition, with how many
/// times it happened since the last line.
struct Throttle {
    last: Mutex<(Option<Instant>, u64)>,
}

impl Throttle {
    fn new() -> Throttle {
        Throttle {
            last: Mutex::new((None, 0)),
        }
    }

    /// `Some(n)` when a line is due (n occurrences since the last line).
    fn hit(&self) -> Option<u64> {
        let mut g = self.last.lock().unwrap();
        g.1 += 1;
        match g.0 {
            Some(t) if t.elapsed() < Duration::from_secs(10) => None,
            _ => {
                let n = g.1;
                *g = (Some(Instant::now()), 0);
                Some(n)
            }
        }
    }
}

/// The server's connections: the limit, the count, the shutdown signal
/// (clones share them).
#[derive(Clone)]
pub struct Conns {
    limits: Limits,
    max: usize,
    open: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
    builder: auto::Builder<TokioExecutor>,
    shutdown: Arc<watch::Sender<bool>>,
    rejected_log: Arc<Throttle>,
    accept_log: Arc<Throttle>,
}

impl Conns {
    /// `nofile`: the file-descriptor limit in force (for the default
    /// connection limit).
    pub fn new(limits: Limits, nofile: u64, metrics: Arc<Metrics>) -> Conns {
        let max = limits
            .max_connections
            .unwrap_or_else(|| default_max_connections(nofile));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(H1_MAX_BUF);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.h2_max_streams)
            .max_send_buf_size(64 << 10)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20));
        Conns {
            limits,
            max,
            open: Arc::new(AtomicUsize::new(0)),
            metrics,
            builder,
            shutdown: Arc::new(watch::channel(false).0),
            rejected_log: Arc::new(Throttle::new()),
            accept_log: Arc::new(Throttle::new()),
        }
    }

    /// The connection limit in force.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The header-read timeout (also the TLS handshake's).
    pub fn header_read_timeout(&self) -> Duration {
        self.limits.header_read_timeout
    }

    /// Notes a failed accept and waits before the next one: 10 ms after a
    /// first failure, doubling up to 1 s while they continue.
    pub async fn accept_failed(&self, e: &std::io::Error, streak: &mut u32) {
        self.metrics.accept_errors.inc();
        if let Some(n) = self.accept_log.hit() {
            tracing::warn!(
                failures = n,
                "accepting connections failed: {e} (if it is 'Too many open files', raise LimitNOFILE or lower GOMIRROR_MAX_CONNECTIONS)"
            );
        }
        let wait = Duration::from_millis(10u64 << (*streak).min(7)).min(Duration::from_secs(1));
        *streak += 1;
        tokio::time::sleep(wait).await;
    }

    /// Takes a slot for a new connection, or `None` at the limit (then the
    /// rejection is counted and logged).
    pub fn admit(&self) -> Option<Slot> {
        let prev = self.open.fetch_add(1, Ordering::SeqCst);
        if prev >= self.max {
            self.open.fetch_sub(1, Ordering::SeqCst);
            self.metrics.connections_rejected.inc();
            if let Some(n) = self.rejected_log.hit() {
                tracing::warn!(
                    rejected = n,
                    limit = self.max,
                    "connection limit reached: new connections are refused (GOMIRROR_MAX_CONNECTIONS; raise LimitNOFILE to allow more)"
                );
            }
            return None;
        }
        self.metrics.connections_open.inc();
        Some(Slot {
            open: self.open.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// Answers a plain-HTTP connection refused at the limit with a `503`
    /// (best effort, within a second), then closes it.
    pub fn refuse(stream: tokio::net::TcpStream) {
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut stream = stream;
            let msg = "server busy: too many connections\n";
            let resp = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            );
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(resp.as_bytes()))
                .await;
            let _ = stream.shutdown().await;
        });
    }

    /// Serves one connection with `app` until it ends, is idle too long,
    /// or shutdown closes it (see the module documentation).
    pub fn serve<I>(
        &self,
        io: I,
        app: Arc<crate::server::AppState>,
        slot: Slot,
        peer: std::net::SocketAddr,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let track = Arc::new(Track::new());
        let svc = TrackedService {
            app,
            track: track.clone(),
        };
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), svc)
            .into_owned();
        let limits = self.limits.clone();
        let shutdown = self.shutdown.subscribe();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let _slot = slot;
            drive(conn, track, limits, shutdown, metrics, peer).await;
        });
    }

    /// Starts the shutdown: idle connections close at once, the others
    /// once their requests are done; returns when all are closed or the
    /// drain deadline passed (then the rest are cut, and counted).
    pub async fn drain(&self) {
        let _ = self.shutdown.send(true);
        let deadline = Instant::now() + self.limits.drain_timeout;
        while self.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.open.load(Ordering::SeqCst);
        if left > 0 {
            Metrics::inc(&self.metrics.connections_closed, &[("reason", "drain")]);
            tracing::warn!(
                connections = left,
                "drain deadline ({:?}, GOMIRROR_DRAIN_TIMEOUT) passed: cutting the connections still busy",
                self.limits.drain_timeout
            );
        }
    }
}

/// One open connection's place under the limit (released when dropped).
pub struct Slot {
    open: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.metrics.connections_open.dec();
    }
}

/// Requests in flight on one connection and when the last one ended.
struct Track {
    inflight: AtomicUsize,
    /// When the connection last went from busy to idle (or opened), and
    /// whether it has had a request.
    idle_since: Mutex<(Instant, bool)>,
}

impl Track {
    fn new() -> Track {
        Track {
            inflight: AtomicUsize::new(0),
            idle_since: Mutex::new((Instant::now(), false)),
        }
    }

    fn begin(self: &Arc<Self>) -> Active {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        self.idle_since.lock().unwrap().1 = true;
        Active(self.clone())
    }

    /// Completes when the connection has had no request in flight for
    /// `header` (before its first request) or `idle` (after).
    async fn idle(&self, header: Duration, idle: Duration) {
        loop {
            let wait = if self.inflight.load(Ordering::SeqCst) > 0 {
                idle
            } else {
                let (since, used) = *self.idle_since.lock().unwrap();
                let limit = if used { idle } else { header };
                match limit.checked_sub(since.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request in flight: from the call of the service until its response
/// body is finished or dropped (a reset stream, a client gone).
struct Active(Arc<Track>);

/// Its response body keeps the request in flight until finished or
/// dropped.
impl crate::access::BodyWatch for Active {}

impl Drop for Active {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle_since.lock().unwrap().0 = Instant::now();
        }
    }
}

/// The server as a hyper service that tracks requests in flight.
#[derive(Clone)]
struct TrackedService {
    app: Arc<crate::server::AppState>,
    track: Arc<Track>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for TrackedService {
    type Response = http::Response<axum::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let active = self.track.begin();
        let app = self.app.clone();
        Box::pin(async move {
            let resp = crate::server::serve(&app, req.map(axum::body::Body::new)).await;
            Ok(resp.map(|b| crate::access::WatchedBody::wrap(b, active)))
        })
    }
}

/// Runs a connection to its end: closed by the client, by the header or
/// idle timeout, or by shutdown (at once when idle, else after its
/// requests; the drain deadline is [`Conns::drain`]'s).
async fn drive<I>(
    conn: auto::Connection<'static, TokioIo<I>, TrackedService, TokioExecutor>,
    track: Arc<Track>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    peer: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    // Once asked to close, how long the connection may take (its
    // requests' time at shutdown; a few seconds for a client to take its
    // GOAWAY after an idle timeout).
    let mut close_by = tokio::time::Instant::now();
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = tokio::time::sleep_until(close_by), if closing => return,
            _ = track.idle(limits.header_read_timeout, limits.idle_timeout), if !closing => {
                let used = track.idle_since.lock().unwrap().1;
                Metrics::inc(
                    &metrics.connections_closed,
                    &[("reason", if used { "idle" } else { "header_timeout" })],
                );
                if !used {
                    // Never sent a whole request: nothing to finish.
                    return;
                }
                conn.as_mut().graceful_shutdown();
                closing = true;
                close_by = tokio::time::Instant::now() + Duration::from_secs(5);
            }
            r = shutdown.wait_for(|s| *s), if !closing => {
                if r.is_err() || track.inflight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                conn.as_mut().graceful_shutdown();
                closing = true;
                close_by = tokio::time::Instant::now() + limits.drain_timeout;
            }
        }
    };
    if let Err(e) = result {
        let header_timeout = e
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_timeout());
        if header_timeout {
            Metrics::inc(&metrics.connections_closed, &[("reason", "header_timeout")]);
        }
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limit_leaves_room_for_files() {
        assert_eq!(default_max_connections(1024), 512);
        assert_eq!(default_max_connections(65536), 65024);
        assert_eq!(default_max_connections(100), 32);
    }

    #[test]
    fn throttle_says_once_per_window_with_the_count() {
        let t = Throttle::new();
        assert_eq!(t.hit(), Some(1));
        assert_eq!(t.hit(), None);
        assert_eq!(t.hit(), None);
        t.last.lock().unwrap().0 = Some(Instant::now() - Duration::from_secs(11));
        assert_eq!(t.hit(), Some(3));
    }
}
