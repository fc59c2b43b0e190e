//! Hardening: a hostile client or upstream, or a careless operator, cannot
//! exhaust, steer or blind the mirror. Each test reproduces a finding of the
//! hardening review on loopback (it failed before the fix).

mod support;

use support::server::Server;
use support::sumdb::{TestSumdb, NAME};
use support::upstream::{publish, ModVersion, Upstream};

/// Deterministic incompressible bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn get(url: &str) -> (u16, String) {
    let (s, b) = support::get_blocking(url);
    (s, String::from_utf8_lossy(&b).into_owned())
}

/// A full disk is the store's failure, not the upstream's: the client gets
/// 503 "storage unavailable" without a server path in the text; it is
/// counted as a store error, not as an integrity failure of the upstream;
/// the upstream is not retried and the next one is not tried; it is a
/// `store_error` event about the store; `/readyz` says the free space is
/// under its threshold.
#[test]
fn a_full_disk_is_a_store_error_not_the_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        &ModVersion {
            path: "example.com/big",
            version: "v1.0.0",
            files: vec![
                ("go.mod", b"module example.com/big\n".to_vec()),
                ("blob.bin", noise(6 << 20, 3)),
            ],
        },
    );
    let first = Upstream::start(dir.path());
    let second = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("d");
    let token = "hardening-admin-token-0123456789";
    let token_file = data.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let srv = Server::start_on_small_disk(
        &data_dir,
        "3m",
        &format!("{},{}", first.url(), second.url()),
        &[
            "--min-free-bytes",
            "8000000",
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let zip = "/example.com/big/@v/v1.0.0.zip";
    let (s, body) = get(&format!("{}{zip}", srv.url));
    assert_eq!(s, 503, "{body}");
    assert!(body.starts_with("storage unavailable"), "{body}");
    assert!(
        !body.contains(data_dir.to_str().unwrap()),
        "a server path in a client message: {body}"
    );
    assert_eq!(first.count(zip), 1, "a full disk is not retried");
    assert_eq!(second.count(zip), 0, "nor blamed on the upstream");
    let (_, metrics) = get(&format!("{}/metrics", srv.url));
    let failures = support::metric(&metrics, "gomirror_integrity_failures_total", &[]);
    assert_eq!(failures, 0.0, "{metrics}");
    let store_errors = support::metric(&metrics, "gomirror_store_errors_total", &[]);
    assert!(store_errors >= 1.0, "{metrics}");
    let events = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let r = support::http_client()
            .get(format!("{}/-/events", srv.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).unwrap()
    });
    let events = events["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "store_error"
            && e["source"] == "store"
            && e["message"]
                .as_str()
                .unwrap()
                .starts_with("example.com/big@v1.0.0.zip")),
        "{events:?}"
    );
    let (s, body) = get(&format!("{}/readyz", srv.url));
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("free space"), "{body}");
}

/// Checksum-database answers are size-capped as they arrive: a hostile
/// database serving a 64 MiB `latest` is refused as too large (nothing of
/// that size is held in memory), while its (normal-sized) lookups still
/// vouch for admission.
#[test]
fn oversized_checksum_database_answers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        ("go.mod", b"module example.com/m\n".to_vec()),
        ("m.go", b"package m\n".to_vec()),
    ];
    let zip_h1 = publish(
        dir.path(),
        &ModVersion {
            path: "example.com/m",
            version: "v1.0.0",
            files: files.clone(),
        },
    );
    let db = TestSumdb::start();
    db.add(
        "example.com/m",
        "v1.0.0",
        &zip_h1,
        &gomod::dirhash::hash_go_mod(&files[0].1),
    );
    db.pad_latest(64 << 20);
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start(&data.path().join("d"), &up.url(), &["--gosumdb", &gosumdb]);
    let (s, body) = get(&format!("{}/sumdb/{NAME}/latest", srv.url));
    assert_eq!(s, 502, "{body}");
    assert!(body.contains("larger than"), "{body}");
    let (s, _) = get(&format!("{}/example.com/m/@v/v1.0.0.zip", srv.url));
    assert_eq!(s, 200);
}

/// A plain HTTP server on `ip` (any loopback address) answering every
/// request with `answer(path_and_query)`, counting requests. Runs on its
/// own runtime until the returned guard is dropped.
struct Plain {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

type Answer = fn(&str) -> axum::response::Response;

impl Plain {
    fn start(ip: &str, answer: Answer) -> Plain {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let h = hits.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let h = h.clone();
            async move {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let pq = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                answer(&pq)
            }
        });
        let (rt, addr) = support::serve_app(ip, 1, app);
        Plain {
            port: addr.port(),
            hits,
            _rt: rt,
        }
    }

    fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: &str) -> axum::response::Response {
    let mut b = axum::response::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(axum::body::Body::from(body.to_owned())).unwrap()
}

/// The "public" side of the SSRF test: go-import pages for `public.test`,
/// a module proxy under `/proxy/`, and a configured upstream under `/up/`.
/// The internal server's port is in the `SECRET_PORT` of the page texts.
fn public_answer(pq: &str) -> axum::response::Response {
    let secret = SECRET_PORT.load(std::sync::atomic::Ordering::SeqCst);
    let tag = |content: String| {
        respond(
            200,
            &[],
            &format!("<html><head><meta name=\"go-import\" content=\"{content}\"></head></html>"),
        )
    };
    let path = pq.split('?').next().unwrap_or("");
    match path {
        "/m1" => tag(format!(
            "public.test/m1 mod http://127.0.0.3:{secret}/secret.txt?x="
        )),
        "/m2" => tag(format!(
            "public.test/m2 mod http://secret.test:{secret}/secret.txt?x="
        )),
        "/m3" => tag("public.test/m3 git https://secret.test/repo.git".into()),
        "/m4" => respond(
            302,
            &[("location", format!("http://127.0.0.3:{secret}/secret.txt"))],
            "",
        ),
        "/m5" => tag("public.test/m5 mod http://public.test/proxy".into()),
        "/proxy/public.test/m5/@v/list" => respond(
            302,
            &[("location", format!("http://127.0.0.3:{secret}/secret.txt"))],
            "",
        ),
        "/up/example.com/r/@v/list" => respond(
            302,
            &[("location", format!("http://127.0.0.3:{secret}/secret.txt"))],
            "",
        ),
        _ if path.starts_with("/up/") => respond(404, &[], "upstream-private-text: do not relay\n"),
        _ => respond(404, &[], "no such page"),
    }
}

static SECRET_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// Finding 1 (SSRF): client-chosen destinations that are, or resolve to,
/// internal addresses are refused — a module path naming one, a go-import
/// `mod` tag or git remote pointing at one (by IP literal or by a name
/// resolving there), a discovery page redirecting there, a `mod` proxy
/// redirecting to another origin; a configured upstream's redirect to
/// another origin is refused too, and an upstream's error body is never
/// relayed to the client. The internal server sees no request at all;
/// with `GOMIRROR_DIRECT_ALLOW` naming it, the same request reaches it.
#[test]
fn direct_mode_never_contacts_internal_destinations() {
    let secret = Plain::start("127.0.0.3", |_| respond(200, &[], "TOP SECRET\n"));
    SECRET_PORT.store(secret.port, std::sync::atomic::Ordering::SeqCst);
    let public = Plain::start("127.0.0.1", public_answer);
    let resolve = format!(
        "public.test=127.0.0.1:{p},secret.test=127.0.0.3:{s},internal.test=127.0.0.3:{s}",
        p = public.port,
        s = secret.port
    );
    let data = tempfile::tempdir().unwrap();
    let goproxy = format!("http://127.0.0.1:{}/up,direct", public.port);
    let env = |allow: &str| {
        vec![
            ("GOMIRROR_DIRECT_RESOLVE", resolve.clone()),
            ("GOMIRROR_DIRECT_ALLOW", allow.to_owned()),
            ("GOINSECURE", "*".to_owned()),
            ("GOSUMDB", "off".to_owned()),
            ("HTTP_PROXY", String::new()),
            ("HTTPS_PROXY", String::new()),
            ("http_proxy", String::new()),
            ("https_proxy", String::new()),
        ]
    };
    let as_os = |v: &[(&'static str, String)]| -> Vec<(&'static str, std::ffi::OsString)> {
        v.iter().map(|(k, v)| (*k, v.into())).collect()
    };
    let env1 = as_os(&env("public.test"));
    let env1: Vec<(&str, &std::ffi::OsStr)> =
        env1.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let srv = Server::start_with_env(&data.path().join("d"), &goproxy, &[], &env1);

    for (path, by_name, why) in [
        (
            "/internal.test/x/@v/list",
            true,
            "a module path resolving internally",
        ),
        ("/127.0.0.3/x/@v/list", false, "an IP-literal module path"),
        (
            "/public.test/m1/@v/list",
            false,
            "a mod tag naming an internal IP",
        ),
        (
            "/public.test/m2/@v/list",
            true,
            "a mod tag naming a name resolving internally",
        ),
        (
            "/public.test/m3/@v/list",
            true,
            "a git remote resolving internally",
        ),
        (
            "/public.test/m4/@v/list",
            false,
            "a discovery redirect to an internal IP",
        ),
    ] {
        let (s, body) = get(&format!("{}{path}", srv.url));
        assert_eq!(s, 404, "{why}: {body}");
        assert!(body.contains("refused"), "{why}: {body}");
        // What a name resolves to is not told to the client.
        assert!(
            !(by_name && body.contains("127.0.0.3")),
            "{why}: the address is told: {body}"
        );
    }
    // A `mod` proxy redirecting to another origin: refused.
    let (s, body) = get(&format!("{}/public.test/m5/@v/list", srv.url));
    assert_ne!(s, 200, "{body}");
    assert!(body.contains("refused"), "{body}");
    // The configured upstream redirecting elsewhere: refused, not admitted.
    let (s, body) = get(&format!("{}/example.com/r/@v/list", srv.url));
    assert_eq!(s, 502, "{body}");
    assert!(body.contains("redirect"), "{body}");
    assert!(!body.contains("TOP SECRET"), "{body}");
    // An upstream's error body is not relayed.
    let (s, body) = get(&format!("{}/127.0.0.9/e/@v/list", srv.url));
    assert_eq!(s, 404, "{body}");
    assert!(!body.contains("upstream-private-text"), "{body}");
    assert!(body.contains("404"), "the status line is: {body}");

    assert_eq!(secret.hits(), 0, "the internal server was contacted");
    let (_, metrics) = get(&format!("{}/metrics", srv.url));
    let refused = support::metric(
        &metrics,
        "gomirror_direct_refused_total",
        &[("reason", "loopback")],
    );
    assert!(refused >= 6.0, "{refused}\n{metrics}");
    drop(srv);

    // The control: allowed by the operator, the same request reaches it.
    let env2 = as_os(&env("public.test,127.0.0.3/32"));
    let env2: Vec<(&str, &std::ffi::OsStr)> =
        env2.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let srv = Server::start_with_env(&data.path().join("d2"), &goproxy, &[], &env2);
    let _ = get(&format!("{}/public.test/m1/@v/list", srv.url));
    assert!(secret.hits() > 0, "allowed, the internal server is reached");
}

/// Reads from `s` until the peer closes it (EOF or reset) or `limit`
/// passes; returns what was read and whether it was closed.
fn read_until_closed(s: &mut std::net::TcpStream, limit: std::time::Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Finding 2: silent and trickling connections are closed by the
/// header-read timeout, a connection limit holds (past it: a clear 503,
/// counted and logged), and normal requests are answered afterwards.
#[test]
fn slow_and_silent_connections_are_closed_and_the_limit_holds() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        "off",
        &[
            "--header-read-timeout",
            "2s",
            "--idle-timeout",
            "3s",
            "--max-connections",
            "20",
        ],
    );
    let addr = addr_of(&srv.url);
    let mut held = vec![];
    for i in 0..20 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        if i % 2 == 1 {
            // A trickling request: headers that never end.
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
        }
        held.push(s);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle: Vec<_> = held
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.try_clone().unwrap())
        .collect();
    let stop2 = stop.clone();
    let trickler = std::thread::spawn(move || {
        let mut trickle = trickle;
        for _ in 0..100 {
            if stop2.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            for s in &mut trickle {
                let _ = s.write_all(b"X");
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    // The 21st connection is refused with a clear answer.
    let mut extra = std::net::TcpStream::connect(&addr).unwrap();
    let (answer, closed) = read_until_closed(&mut extra, std::time::Duration::from_secs(5));
    let answer = String::from_utf8_lossy(&answer);
    assert!(closed, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("too many connections"), "{answer}");
    // Every held connection is closed by the server, trickling or not.
    for (i, s) in held.iter_mut().enumerate() {
        let (_, closed) = read_until_closed(s, std::time::Duration::from_secs(15));
        assert!(closed, "connection {i} was kept open");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    trickler.join().unwrap();
    let (s, metrics) = get(&format!("{}/metrics", srv.url));
    assert_eq!(s, 200);
    assert!(support::metric(&metrics, "gomirror_connections_rejected_total", &[]) >= 1.0);
    assert!(
        support::metric(
            &metrics,
            "gomirror_connections_closed_total",
            &[("reason", "header_timeout")]
        ) >= 20.0,
        "{metrics}"
    );
    assert!(
        srv.log().contains("connection limit reached"),
        "{}",
        srv.log()
    );
}

/// Finding 2: out of file descriptors, accepting backs off instead of
/// spinning: few failed accepts and few log lines, and the server answers
/// again once descriptors are free.
#[test]
fn accept_errors_back_off() {
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start_with_nofile(
        &data.path().join("d"),
        "off",
        &["--max-connections", "1000", "--header-read-timeout", "30s"],
        64,
    );
    let addr = addr_of(&srv.url);
    let mut held = vec![];
    for _ in 0..80 {
        if let Ok(s) = std::net::TcpStream::connect(&addr) {
            held.push(s);
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    let log = srv.log();
    let lines = log.matches("accepting connections failed").count();
    assert!(lines >= 1, "{log}");
    assert!(
        lines <= 3,
        "the failure is logged at most every 10 s: {lines}\n{log}"
    );
    drop(held);
    // Descriptors free again: answered (the failed accepts were bounded).
    let mut ok = false;
    for _ in 0..50 {
        let (s, metrics) = support::get_blocking(&format!("{}/metrics", srv.url));
        if s == 200 {
            let metrics = String::from_utf8_lossy(&metrics);
            let failures = support::metric(&metrics, "gomirror_accept_errors_total", &[]);
            assert!(failures >= 1.0, "{metrics}");
            // A spinning accept loop fails thousands of times in 3 s.
            assert!(failures < 100.0, "{failures} failed accepts: no backoff");
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(ok, "the server did not answer after descriptors were freed");
}

/// An HTTP/2 (h2c, prior knowledge) connection to `addr` made with
/// hyper's client: its request sender, and a handle that finishes when
/// the server closes the connection.
async fn h2c(
    addr: &str,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let done = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, done)
}

fn h2_get(path: &str) -> http::Request<http_body_util::Empty<bytes::Bytes>> {
    http::Request::get(format!("http://mirror{path}"))
        .body(http_body_util::Empty::new())
        .unwrap()
}

/// A cached zip of `mib` MiB for `example.com/big`, served by `srv`.
fn big_zip(up_dir: &std::path::Path, mib: usize) -> &'static str {
    publish(
        up_dir,
        &ModVersion {
            path: "example.com/big",
            version: "v1.0.0",
            files: vec![
                ("go.mod", b"module example.com/big\n".to_vec()),
                ("blob.bin", noise(mib << 20, 7)),
            ],
        },
    );
    "/example.com/big/@v/v1.0.0.zip"
}

/// Finding 3 (and 2 for HTTP/2): an idle HTTP/2 connection is closed after
/// the idle timeout; streams are capped per connection; a stream reset
/// mid-body and a request abandoned before its response are both logged
/// and counted.
#[test]
fn http2_streams_are_capped_and_resets_are_logged() {
    let up_dir = tempfile::tempdir().unwrap();
    let zip = big_zip(up_dir.path(), 8);
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--idle-timeout", "2s", "--h2-max-streams", "4"],
    );
    let (s, _) = support::get_blocking(&format!("{}{zip}", srv.url));
    assert_eq!(s, 200);
    let addr = addr_of(&srv.url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use http_body_util::BodyExt;
        // Stalled streams: responses taken, bodies never read.
        let (mut send, done) = h2c(&addr).await;
        // One request first: the client then knows the server's settings
        // (its stream cap) before it opens more.
        send.ready().await.unwrap();
        let r = send.send_request(h2_get("/healthz")).await.unwrap();
        assert_eq!(r.status(), 200);
        let mut stalled = vec![];
        let mut pending = vec![];
        for _ in 0..6 {
            send.ready().await.unwrap();
            let fut = send.send_request(h2_get(zip));
            pending.push(tokio::spawn(fut));
        }
        // The server lets 4 streams run; the others wait for a slot.
        let finished = || pending.iter().filter(|p| p.is_finished()).count();
        for _ in 0..100 {
            if finished() >= 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(finished(), 4, "streams past the cap were answered");
        for p in pending.drain(..4) {
            stalled.push(p.await.unwrap().unwrap());
        }
        // Reset them mid-body: drop after one frame.
        for mut r in stalled.drain(..) {
            let _ = r.body_mut().frame().await;
            drop(r);
        }
        for p in pending {
            let r = tokio::time::timeout(std::time::Duration::from_secs(10), p)
                .await
                .expect("a waiting stream got its turn")
                .unwrap()
                .unwrap();
            assert_eq!(r.status(), 200);
            drop(r);
        }
        // A request abandoned before its response (a slow upstream).
        up.set_delay_ms(3000);
        send.ready().await.unwrap();
        let fut = send.send_request(h2_get("/example.com/slow/@v/list"));
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), fut).await;
        // Now idle: the server closes the connection.
        tokio::time::timeout(std::time::Duration::from_secs(15), done)
            .await
            .expect("the idle HTTP/2 connection was kept")
            .unwrap();
    });
    up.set_delay_ms(0);
    let (_, metrics) = get(&format!("{}/metrics", srv.url));
    let cut = support::metric(
        &metrics,
        "gomirror_responses_incomplete_total",
        &[("kind", "zip")],
    );
    assert!(cut >= 6.0, "{cut}\n{metrics}");
    let gone = support::metric(
        &metrics,
        "gomirror_requests_total",
        &[("kind", "list"), ("status", "499")],
    );
    assert_eq!(gone, 1.0, "{metrics}");
    assert!(
        support::metric(
            &metrics,
            "gomirror_connections_closed_total",
            &[("reason", "idle")]
        ) >= 1.0
    );
    let log = srv.log();
    assert!(log.contains("response cut short"), "{log}");
    assert!(
        log.contains("client went away before the response"),
        "{log}"
    );
}

/// Finding 9: SIGTERM with stuck clients — an idle HTTP/2 connection, a
/// half-sent request, an idle keep-alive connection and a download whose
/// reader stalled — ends within the drain deadline; the idle ones are
/// closed at once.
#[test]
fn shutdown_ends_within_the_drain_deadline() {
    use std::io::{Read, Write};
    let up_dir = tempfile::tempdir().unwrap();
    let zip = big_zip(up_dir.path(), 16);
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let mut srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &[
            "--drain-timeout",
            "3s",
            "--header-read-timeout",
            "60s",
            "--idle-timeout",
            "60s",
        ],
    );
    let (s, _) = support::get_blocking(&format!("{}{zip}", srv.url));
    assert_eq!(s, 200);
    let addr = addr_of(&srv.url);
    // A download whose reader stalls after 64 KiB.
    let mut download = std::net::TcpStream::connect(&addr).unwrap();
    write!(download, "GET {zip} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = vec![0u8; 65536];
    download.read_exact(&mut first).unwrap();
    // A half-sent request.
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    // An idle keep-alive connection.
    let mut keep = std::net::TcpStream::connect(&addr).unwrap();
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = keep.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // An idle HTTP/2 connection.
    let rt = tokio::runtime::Runtime::new().unwrap();
    // (The sender is kept until the end: dropping it would let the client
    // close the connection itself.)
    let (mut send, h2_done) = rt.block_on(h2c(&addr));
    rt.block_on(async {
        send.ready().await.unwrap();
        let r = send.send_request(h2_get("/healthz")).await.unwrap();
        assert_eq!(r.status(), 200);
    });
    std::thread::sleep(std::time::Duration::from_millis(300));

    let start = std::time::Instant::now();
    let waiter = std::thread::spawn(move || {
        let st = srv.terminate(std::time::Duration::from_secs(20));
        (st, start.elapsed())
    });
    // The idle ones close at once (well before the drain deadline).
    for (name, s) in [("half-sent", &mut half), ("keep-alive", &mut keep)] {
        let (_, closed) = read_until_closed(s, std::time::Duration::from_secs(2));
        assert!(closed, "the {name} connection was not closed at once");
    }
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(2), h2_done)
            .await
            .expect("the idle HTTP/2 connection was not closed at once")
            .unwrap();
    });
    let (st, took) = waiter.join().unwrap();
    assert!(st.is_some(), "still running 20 s after SIGTERM");
    assert!(
        took < std::time::Duration::from_secs(10),
        "exit took {took:?}"
    );
    drop(download);
    drop(send);
}

/// A `list` that changes on every fetch, refreshed every second under 256
/// concurrent clients, never raises a false rot alarm: a reader never pairs
/// the record of one copy with the bytes of another (the store replaced a
/// record in three steps while readers read record and bytes separately:
/// "stored length 7, admitted 21", quarantines and 502s).
#[test]
fn a_list_replaced_under_readers_raises_no_false_rot() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        &ModVersion {
            path: "example.com/busy",
            version: "v1.0.0",
            files: vec![("go.mod", b"module example.com/busy\n".to_vec())],
        },
    );
    let up = Upstream::start(dir.path());
    let list = "/example.com/busy/@v/list";
    let bodies = [b"v1.0.0\n".to_vec(), b"v1.0.0\nv1.1.0\nv1.2.0\n".to_vec()];
    up.set_fault(list, support::upstream::Fault::Cycle(bodies.to_vec()));
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("d");
    let srv = Server::start_with_env(
        &data_dir,
        &up.url(),
        &[],
        &[("GOMIRROR_LIST_TTL", std::ffi::OsStr::new("1s"))],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}{list}", srv.url);
    let (statuses, odd) = rt.block_on(async {
        let c = support::http_client();
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(6);
        let tasks: Vec<_> = (0..256)
            .map(|_| {
                let (c, url, bodies) = (c.clone(), url.clone(), bodies.clone());
                tokio::spawn(async move {
                    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
                    let mut odd = vec![];
                    while tokio::time::Instant::now() < until {
                        let Ok(r) = c.get(&url).send().await else {
                            *statuses.entry(0).or_default() += 1;
                            continue;
                        };
                        let s = r.status().as_u16();
                        let b = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                        *statuses.entry(s).or_default() += 1;
                        if s == 200 && !bodies.contains(&b) {
                            odd.push(String::from_utf8_lossy(&b).into_owned());
                        }
                    }
                    (statuses, odd)
                })
            })
            .collect();
        let mut all = std::collections::BTreeMap::<u16, u64>::new();
        let mut odd = vec![];
        for t in tasks {
            let (s, o) = t.await.unwrap();
            for (k, v) in s {
                *all.entry(k).or_default() += v;
            }
            odd.extend(o);
        }
        (all, odd)
    });
    let (_, metrics) = get(&format!("{}/metrics", srv.url));
    let log = srv.log();
    let tail = &log[log.len().saturating_sub(4000)..];
    assert!(
        up.count(list) >= 4,
        "the list was not refreshed during the run ({} fetches)",
        up.count(list)
    );
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [200],
        "every answer is a 200: {statuses:?}\n{tail}"
    );
    assert!(odd.is_empty(), "answers that are neither list: {odd:?}");
    let quarantined = support::metric(&metrics, "gomirror_quarantined_objects_total", &[]);
    let failures = support::metric(&metrics, "gomirror_integrity_failures_total", &[]);
    assert_eq!(
        (quarantined, failures),
        (0.0, 0.0),
        "false rot alarms ({statuses:?}):\n{tail}"
    );
    assert!(support::files_under(&data_dir.join("quarantine")).is_empty());
}

/// Valid module paths the file system cannot take as paths — an element of
/// 300 bytes, a path of more than 4,096 bytes, an element ending in the
/// store's record suffix — are stored and served like any other (they
/// answered 503), and served from the store once the upstream is gone.
#[test]
fn module_paths_too_long_for_file_names_are_stored_and_served() {
    let many: Vec<String> = (0..42)
        .map(|i| format!("p{i:02}{}", "x".repeat(97)))
        .collect();
    let paths = [
        format!("example.com/{}", "a".repeat(300)),
        format!("example.com/{}", many.join("/")),
        "example.com/x.gmeta".to_owned(),
    ];
    assert!(paths[1].len() > 4096);
    let up = Upstream::start(tempfile::tempdir().unwrap().path());
    let mut expected = vec![];
    for p in &paths {
        gomod::module::check_path(p).unwrap();
        let (files, _) = support::upstream::module_files(&ModVersion {
            path: p,
            version: "v1.0.0",
            files: vec![
                ("go.mod", format!("module {p}\n").into_bytes()),
                ("a.go", b"package a\n".to_vec()),
            ],
        });
        expected.extend(files.clone());
        up.serve_files(files);
    }
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("d");
    let mut srv = Server::start(&data_dir, &up.url(), &[]);
    for (path, body) in &expected {
        let (s, b) = support::get_blocking(&format!("{}{path}", srv.url));
        assert_eq!(
            s,
            200,
            "{}: {}",
            &path[..80.min(path.len())],
            String::from_utf8_lossy(&b)
        );
        assert_eq!(&b, body, "{}", &path[..80.min(path.len())]);
        let key = &path[1..];
        let stored = support::stored_file(&data_dir, key);
        if !path.ends_with("/list") {
            assert_eq!(&std::fs::read(&stored).unwrap(), body);
        }
        assert!(stored.file_name().unwrap().len() <= 255);
    }
    srv.terminate(std::time::Duration::from_secs(10));
    // The upstream is gone: what was stored is served from the store.
    up.set_fault_all(support::upstream::Fault::Status(500));
    let srv = Server::start(&data_dir, &up.url(), &[]);
    for (path, body) in expected.iter().filter(|(p, _)| !p.ends_with("/list")) {
        let (s, b) = support::get_blocking(&format!("{}{path}", srv.url));
        assert_eq!((s, &b), (200, body), "{}", &path[..80.min(path.len())]);
    }
}
