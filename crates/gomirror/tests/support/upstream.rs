//! A real HTTP server on loopback serving module files in the GOPROXY
//! layout, built with `gomod`, with faults that can be switched on per
//! path: the test "upstream mirror".

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What a faulty upstream does to a response.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Correct status and headers (full Content-Length), then the body is
    /// cut after this many bytes and the connection broken.
    Truncate(usize),
    /// Correct status and headers, but bytes flipped in the body.
    Corrupt,
    /// Answer with this status and a short body.
    Status(u16),
    /// Serve this body instead (with its own length).
    Replace(Vec<u8>),
    /// Correct headers, this many bytes, then nothing more (the connection
    /// stays open until the client gives up).
    Stall(usize),
    /// Answer the first N requests with this status, then serve normally.
    FailTimes(u32, u16),
    /// Serve these bodies in turn, one per request (content that changes
    /// on every fetch, such as a busy module's `list`).
    Cycle(Vec<Vec<u8>>),
    /// Correct headers, then one byte of the body per interval: never idle
    /// for long, never done (a hostile upstream dripping its answer).
    Drip(std::time::Duration),
}

#[derive(Default)]
struct UpState {
    root: PathBuf,
    counts: Mutex<HashMap<String, u64>>,
    faults: Mutex<HashMap<String, Fault>>,
    /// Fault applied to every path (unless a per-path one is set).
    fault_all: Mutex<Option<Fault>>,
    delay_ms: Mutex<u64>,
    /// Extra response headers per path (see `Upstream::set_headers`).
    headers: Mutex<HashMap<String, Vec<(String, String)>>>,
    /// The request headers last received per path.
    received: Mutex<HashMap<String, http::HeaderMap>>,
    /// Files served from memory (see `Upstream::serve_files`).
    files: Mutex<HashMap<String, Vec<u8>>>,
    /// Requests being answered now, and the most ever answered at once.
    active: AtomicUsize,
    max_active: AtomicUsize,
}

/// Counts a request as active while it lives.
struct Active(Arc<UpState>);

impl Active {
    fn new(st: &Arc<UpState>) -> Active {
        let now = st.active.fetch_add(1, Ordering::SeqCst) + 1;
        st.max_active.fetch_max(now, Ordering::SeqCst);
        Active(st.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running upstream: its base URL, request counts, fault switches.
pub struct Upstream {
    pub addr: SocketAddr,
    state: Arc<UpState>,
    _rt: tokio::runtime::Runtime,
}

impl Upstream {
    /// Serves `root` (a GOPROXY directory layout) on 127.0.0.1.
    pub fn start(root: &Path) -> Upstream {
        let state = Arc::new(UpState {
            root: root.to_owned(),
            ..Default::default()
        });
        let (rt, addr) = super::serve_app("127.0.0.1", 2, app(state.clone()));
        Upstream {
            addr,
            state,
            _rt: rt,
        }
    }

    /// Like [`Upstream::start`], over TLS (ALPN `h2`, `http/1.1`) with the
    /// given PEM certificate and key: HTTP/2 clients get their faults as
    /// HTTP/2 stream resets (`Fault::Truncate` → RST_STREAM INTERNAL_ERROR).
    /// Its URL is [`Upstream::https_url`].
    pub fn start_tls(root: &Path, cert_pem: &str, key_pem: &str) -> Upstream {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .unwrap()
            .unwrap();
        let mut sc = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(UpState {
            root: root.to_owned(),
            ..Default::default()
        });
        let router = app(state.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            use hyper_util::rt::{TokioExecutor, TokioIo};
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let svc = hyper_util::service::TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            state,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of an upstream started with [`Upstream::start_tls`].
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Adds these headers to every response for `path` (e.g. a CDN's
    /// `X-Cache: HIT`, or a `Repr-Digest`), whatever its fault.
    pub fn set_headers(&self, path: &str, headers: &[(&str, &str)]) {
        self.state.headers.lock().unwrap().insert(
            path.to_owned(),
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }

    /// How many requests reached `path` (e.g. `/example.com/m/@v/v1.0.0.zip`).
    pub fn count(&self, path: &str) -> u64 {
        self.state
            .counts
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Total requests whose path ends with `suffix`.
    pub fn count_suffix(&self, suffix: &str) -> u64 {
        self.state
            .counts
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v)
            .sum()
    }

    pub fn set_fault(&self, path: &str, f: Fault) {
        self.state.faults.lock().unwrap().insert(path.to_owned(), f);
    }

    pub fn clear_faults(&self) {
        self.state.faults.lock().unwrap().clear();
        *self.state.fault_all.lock().unwrap() = None;
    }

    pub fn set_fault_all(&self, f: Fault) {
        *self.state.fault_all.lock().unwrap() = Some(f);
    }

    /// Serves these files (URL path, content) from memory, before the
    /// directory: for module paths too long to be file names.
    pub fn serve_files(&self, files: Vec<(String, Vec<u8>)>) {
        self.state.files.lock().unwrap().extend(files);
    }

    /// The most requests this upstream was answering at one time (a
    /// request counts from its arrival until its handler returns: after
    /// the delay of [`Upstream::set_delay_ms`], before its body is sent).
    pub fn max_concurrent(&self) -> usize {
        self.state.max_active.load(Ordering::SeqCst)
    }

    /// Total requests received.
    pub fn total(&self) -> u64 {
        self.state.counts.lock().unwrap().values().sum()
    }

    /// The headers of the last request for `path`, if any came.
    pub fn request_headers(&self, path: &str) -> Option<http::HeaderMap> {
        self.state.received.lock().unwrap().get(path).cloned()
    }

    /// Delays every answer (to widen race windows in singleflight tests).
    pub fn set_delay_ms(&self, ms: u64) {
        *self.state.delay_ms.lock().unwrap() = ms;
    }
}

fn app(st: Arc<UpState>) -> axum::Router {
    axum::Router::new()
        .fallback(serve)
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            add_headers,
        ))
        .with_state(st)
}

/// Adds the headers set with `Upstream::set_headers` for the path.
async fn add_headers(
    State(st): State<Arc<UpState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_owned();
    st.received
        .lock()
        .unwrap()
        .insert(path.clone(), req.headers().clone());
    let mut r = next.run(req).await;
    let extra = st.headers.lock().unwrap().get(&path).cloned();
    for (k, v) in extra.unwrap_or_default() {
        r.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    r
}

async fn serve(State(st): State<Arc<UpState>>, uri: http::Uri) -> Response {
    let path = uri.path().to_owned();
    let _active = Active::new(&st);
    let n = {
        let mut counts = st.counts.lock().unwrap();
        let c = counts.entry(path.clone()).or_default();
        *c += 1;
        *c
    };
    let delay = *st.delay_ms.lock().unwrap();
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let fault = st
        .faults
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .or_else(|| st.fault_all.lock().unwrap().clone());
    if let Some(Fault::Status(s)) = fault {
        return resp(s, b"injected failure\n".to_vec(), None);
    }
    let fault = match fault {
        Some(Fault::FailTimes(n, status)) => {
            if n > 0 {
                st.faults
                    .lock()
                    .unwrap()
                    .insert(path.clone(), Fault::FailTimes(n - 1, status));
                return resp(status, b"injected failure\n".to_vec(), None);
            }
            None
        }
        f => f,
    };
    let rel = path.trim_start_matches('/');
    let file = st.root.join(rel);
    let in_memory = st.files.lock().unwrap().get(&path).cloned();
    let data = match (in_memory, rel.contains(".."), std::fs::read(&file)) {
        (Some(d), _, _) | (None, false, Ok(d)) => d,
        _ => return resp(404, b"not found\n".to_vec(), None),
    };
    match fault {
        None => resp(200, data, None),
        Some(Fault::Status(_)) | Some(Fault::FailTimes(..)) => unreachable!("answered above"),
        Some(Fault::Replace(b)) => resp(200, b, None),
        Some(Fault::Cycle(bodies)) => {
            let b = bodies[(n as usize - 1) % bodies.len()].clone();
            resp(200, b, None)
        }
        Some(Fault::Corrupt) => {
            let mut d = data;
            let n = d.len();
            for i in [n / 3, n / 2, n.saturating_sub(40)] {
                if i < n {
                    d[i] ^= 0x5a;
                }
            }
            resp(200, d, None)
        }
        Some(Fault::Stall(at)) => {
            let full = data.len();
            let head = Bytes::from(data[..at.min(full)].to_vec());
            let stream =
                futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(head) })
                    .chain(futures_util::stream::pending());
            resp_stream(200, Body::from_stream(stream), full)
        }
        Some(Fault::Drip(every)) => {
            let full = data.len();
            let stream = futures_util::stream::unfold(0usize, move |i| {
                let data = data.clone();
                async move {
                    if i >= data.len() {
                        return None;
                    }
                    tokio::time::sleep(every).await;
                    Some((
                        Ok::<Bytes, std::io::Error>(Bytes::copy_from_slice(&data[i..i + 1])),
                        i + 1,
                    ))
                }
            });
            resp_stream(200, Body::from_stream(stream), full)
        }
        Some(Fault::Truncate(at)) => {
            let full = data.len();
            let head = Bytes::from(data[..at.min(full)].to_vec());
            // The headers and the first bytes go out, then the cut: the
            // pause lets them reach the client first, as in the incident.
            let stream = futures_util::stream::once(
                async move { Ok::<Bytes, std::io::Error>(head) },
            )
            .chain(futures_util::stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                Err(std::io::Error::other("injected: connection cut"))
            }));
            resp_stream(200, Body::from_stream(stream), full)
        }
    }
}

fn content_type(status: u16) -> &'static str {
    if status == 200 {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn resp(status: u16, data: Vec<u8>, _len: Option<usize>) -> Response {
    let len = data.len();
    resp_stream(status, Body::from(data), len)
}

fn resp_stream(status: u16, body: Body, len: usize) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type(status))
        .header("content-length", len)
        .body(body)
        .unwrap()
}

/// One module version to publish in a GOPROXY directory.
pub struct ModVersion<'a> {
    pub path: &'a str,
    pub version: &'a str,
    /// Files of the module tree (relative path, content).
    pub files: Vec<(&'a str, Vec<u8>)>,
}

/// The files of `m` as a GOPROXY serves them (URL path, content): `.info`,
/// `.mod`, `.zip` and a `list` of its one version, built in memory (for
/// [`Upstream::serve_files`]); and the zip's `h1:`.
pub fn module_files(m: &ModVersion) -> (Vec<(String, Vec<u8>)>, String) {
    let tree = tempfile::tempdir().unwrap();
    for (rel, content) in &m.files {
        let p = tree.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let ep = gomod::module::escape_path(m.path).unwrap();
    let ev = gomod::module::escape_version(m.version).unwrap();
    let zip_path = tree.path().with_extension("zip");
    let f = std::fs::File::create(&zip_path).unwrap();
    gomod::zip::create_from_dir(f, m.path, m.version, tree.path()).unwrap();
    let zip = std::fs::read(&zip_path).unwrap();
    let h1 = gomod::dirhash::hash_zip(std::fs::File::open(&zip_path).unwrap()).unwrap();
    std::fs::remove_file(&zip_path).unwrap();
    let gomod_bytes = std::fs::read(tree.path().join("go.mod"))
        .unwrap_or_else(|_| gomod::modfile::synthesize_go_mod(m.path));
    let info = format!(
        "{{\"Version\":\"{}\",\"Time\":\"2024-01-02T03:04:05Z\"}}",
        m.version
    );
    let files = vec![
        (format!("/{ep}/@v/{ev}.zip"), zip),
        (format!("/{ep}/@v/{ev}.mod"), gomod_bytes),
        (format!("/{ep}/@v/{ev}.info"), info.into_bytes()),
        (
            format!("/{ep}/@v/list"),
            format!("{}\n", m.version).into_bytes(),
        ),
    ];
    (files, h1)
}

/// Writes `.info`, `.mod`, `.zip` for `m` under `root` and adds it to
/// `list`, building the zip from a real tree with `gomod` (the way the go
/// command would), and returns the zip's `h1:`.
pub fn publish(root: &Path, m: &ModVersion) -> String {
    let (files, h1) = module_files(m);
    for (url_path, content) in files {
        let p = root.join(url_path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        if url_path.ends_with("/@v/list") {
            // Added to the list (pseudo-versions are never listed).
            let mut list = std::fs::read_to_string(&p).unwrap_or_default();
            if !gomod::pseudo::is_pseudo_version(m.version) {
                list.push_str(m.version);
                list.push('\n');
            }
            std::fs::write(p, list).unwrap();
        } else {
            std::fs::write(p, content).unwrap();
        }
    }
    h1
}
