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
/// the upstream is not retried and the next one is not tried; `/readyz`
/// says the free space is under its threshold.
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
    let srv = Server::start_on_small_disk(
        &data_dir,
        "3m",
        &format!("{},{}", first.url(), second.url()),
        &["--min-free-bytes", "8000000"],
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

type Answer = fn(&str, u16) -> axum::response::Response;

impl Plain {
    fn start(ip: &str, answer: Answer) -> Plain {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(format!("{ip}:0")))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
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
                answer(&pq, port)
            }
        });
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Plain {
            port,
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
fn public_answer(pq: &str, _port: u16) -> axum::response::Response {
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
    let secret = Plain::start("127.0.0.3", |_, _| respond(200, &[], "TOP SECRET\n"));
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
