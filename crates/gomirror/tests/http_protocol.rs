//! The GOPROXY protocol on the wire: headers, conditional and range
//! requests, errors, HTTP/2 (h2c and TLS), stale lists, GONOPROXY,
//! graceful shutdown, and configuration precedence. gomirror runs as a real
//! process; the upstream is a real HTTP server on loopback.

mod support;

use base64::Engine as _;
use sha2::Digest;
use std::path::Path;
use std::time::Duration;
use support::server::Server;
use support::upstream::{publish, Fault, ModVersion, Upstream};

fn corpus(root: &Path) {
    let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
    for v in ["v1.0.0", "v1.1.0"] {
        publish(
            root,
            &ModVersion {
                path: "example.com/plain",
                version: v,
                files: vec![
                    ("go.mod", gomod("example.com/plain")),
                    ("plain.go", b"package plain\n".to_vec()),
                ],
            },
        );
    }
    let mut big = vec![0u8; 3 << 20];
    for (i, b) in big.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2654435761) >> 13) as u8;
    }
    publish(
        root,
        &ModVersion {
            path: "example.com/big",
            version: "v1.0.0",
            files: vec![("go.mod", gomod("example.com/big")), ("blob.bin", big)],
        },
    );
    // What a proxy answers for a branch query.
    std::fs::write(
        root.join("example.com/plain/@v/master.info"),
        r#"{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("example.com/plain/@latest"),
        r#"{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}"#,
    )
    .unwrap();
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sha256(b: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(b).to_vec()
}

#[test]
fn headers_conditional_head_and_range() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &["--list-ttl", "42s"]);
    let c = support::http_client();
    rt().block_on(async {
        let cases = [
            (
                "/example.com/plain/@v/v1.0.0.info",
                "application/json",
                true,
            ),
            (
                "/example.com/plain/@v/v1.0.0.mod",
                "text/plain; charset=utf-8",
                true,
            ),
            ("/example.com/plain/@v/v1.0.0.zip", "application/zip", true),
            ("/example.com/big/@v/v1.0.0.zip", "application/zip", true),
            (
                "/example.com/plain/@v/list",
                "text/plain; charset=utf-8",
                false,
            ),
            ("/example.com/plain/@latest", "application/json", false),
        ];
        for (path, ctype, versioned) in cases {
            let url = format!("{}{path}", srv.url);
            let r = c.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let h = r.headers().clone();
            let body = r.bytes().await.unwrap();
            assert_eq!(h["content-type"], ctype, "{path}");
            assert_eq!(
                h["content-length"].to_str().unwrap(),
                body.len().to_string(),
                "{path}"
            );
            let etag = format!("\"{}\"", hex::encode(sha256(&body)));
            assert_eq!(h["etag"].to_str().unwrap(), etag, "{path}");
            if versioned {
                let upstream_bytes = std::fs::read(up_dir.path().join(&path[1..])).unwrap();
                assert_eq!(
                    &body[..],
                    &upstream_bytes[..],
                    "{path}: bytes differ from upstream"
                );
                assert_eq!(
                    h["cache-control"], "public, max-age=31536000, immutable",
                    "{path}"
                );
                let digest = format!(
                    "sha-256=:{}:",
                    base64::engine::general_purpose::STANDARD.encode(sha256(&body))
                );
                assert_eq!(h["repr-digest"].to_str().unwrap(), digest, "{path}");
            } else {
                assert_eq!(h["cache-control"], "public, max-age=42", "{path}");
                assert!(h.get("repr-digest").is_none());
            }
            if ctype == "application/zip" {
                assert_eq!(h["accept-ranges"], "bytes");
            }
            // If-None-Match → 304 without a body.
            let r = c
                .get(&url)
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 304, "{path}");
            assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
            assert!(r.bytes().await.unwrap().is_empty());
            // HEAD: same length, no body.
            let r = c.head(&url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(
                r.headers()["content-length"].to_str().unwrap(),
                body.len().to_string(),
                "HEAD {path}"
            );
            assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
            assert!(r.bytes().await.unwrap().is_empty());
        }
        // Ranges on a zip (small: from memory; big: from the store).
        for path in [
            "/example.com/plain/@v/v1.0.0.zip",
            "/example.com/big/@v/v1.0.0.zip",
        ] {
            let url = format!("{}{path}", srv.url);
            let full = std::fs::read(up_dir.path().join(&path[1..])).unwrap();
            let n = full.len();
            for (spec, s, e) in [
                ("bytes=0-9", 0, 9),
                ("bytes=-10", n - 10, n - 1),
                ("bytes=100-", 100, n - 1),
            ] {
                let r = c.get(&url).header("range", spec).send().await.unwrap();
                assert_eq!(r.status(), 206, "{path} {spec}");
                assert_eq!(
                    r.headers()["content-range"].to_str().unwrap(),
                    format!("bytes {s}-{e}/{n}")
                );
                assert_eq!(
                    r.headers()["content-length"].to_str().unwrap(),
                    (e - s + 1).to_string()
                );
                assert_eq!(&r.bytes().await.unwrap()[..], &full[s..=e], "{path} {spec}");
            }
            let r = c
                .get(&url)
                .header("range", format!("bytes={n}-"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 416);
            assert_eq!(
                r.headers()["content-range"].to_str().unwrap(),
                format!("bytes */{n}")
            );
        }
    });
}

#[test]
fn errors_are_short_plain_text_with_the_right_status() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let c = support::http_client();
    rt().block_on(async {
        let cases = [
            ("/example.com/nothing/@v/list", 404),
            ("/example.com/plain/@v/v9.9.9.zip", 404),
            ("/example.com/plain/@v/v9.9.9.info", 404),
            ("/example.com/plain/@v/v2.0.0.mod", 404),
            ("/example.com/plain/@v/master.zip", 404),
            ("/example.com/plain/@v/v1.0.0.tgz", 404),
            ("/Example.com/plain/@v/list", 400),
            ("/example/@v/list", 400),
            ("/example.com/plain/@v/V1.0.0.zip", 400),
            ("/example.com/pl%zzain/@v/list", 400),
            ("/sumdb/sum.golang.org/latest", 404),
            ("/robots.txt", 404),
        ];
        for (path, status) in cases {
            let r = c.get(format!("{}{path}", srv.url)).send().await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{path}");
            assert_eq!(
                r.headers()["content-type"],
                "text/plain; charset=utf-8",
                "{path}"
            );
            let body = r.text().await.unwrap();
            assert!(
                body.ends_with('\n') && body.lines().count() == 1 && body.len() < 1100,
                "{path}: {body:?}"
            );
        }
        let r = c
            .post(format!("{}/example.com/plain/@v/list", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        // A non-canonical query is forwarded and answered canonically.
        let r = c
            .get(format!("{}/example.com/plain/@v/master.info", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let j: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(j["Version"], "v1.1.0");
        // An upstream 500 (the only upstream) → 502, and nothing cached.
        up.set_fault("/example.com/plain/@v/v1.0.0.zip", Fault::Status(500));
        let r = c
            .get(format!("{}/example.com/plain/@v/v1.0.0.zip", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        assert!(!data
            .path()
            .join("d/objects/example.com/plain/@v/v1.0.0.zip.gmeta")
            .exists());
        // The upstream's .info for another version than asked: refused.
        up.set_fault(
            "/example.com/plain/@v/v1.0.0.info",
            Fault::Replace(br#"{"Version":"v1.1.0"}"#.to_vec()),
        );
        let r = c
            .get(format!("{}/example.com/plain/@v/v1.0.0.info", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("not the version asked for"));
    });
}

#[test]
fn stale_list_and_latest_when_upstreams_fail() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--list-ttl", "4s", "--upstream-retries", "0"],
    );
    let c = support::http_client();
    rt().block_on(async {
        let list = format!("{}/example.com/plain/@v/list", srv.url);
        let latest = format!("{}/example.com/plain/@latest", srv.url);
        let r = c.get(&list).send().await.unwrap();
        assert!(r.headers().get("x-gomirror-stale").is_none());
        assert_eq!(r.text().await.unwrap(), "v1.0.0\nv1.1.0\n");
        assert_eq!(c.get(&latest).send().await.unwrap().status(), 200);
        // Within the TTL: answered from cache, the upstream is not asked.
        let n = up.count("/example.com/plain/@v/list");
        assert_eq!(c.get(&list).send().await.unwrap().status(), 200);
        assert_eq!(up.count("/example.com/plain/@v/list"), n);
        // A new version appears upstream but the upstream then fails.
        up.set_fault_all(Fault::Status(503));
        tokio::time::sleep(Duration::from_millis(4200)).await;
        let r = c.get(&list).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-gomirror-stale"], "1");
        assert!(r.headers()["warning"].to_str().unwrap().starts_with("110"));
        assert_eq!(r.text().await.unwrap(), "v1.0.0\nv1.1.0\n");
        let r = c.get(&latest).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-gomirror-stale"], "1");
        // A module never listed but with a cached version: the cached
        // versions are listed (stale) when the upstream fails.
        up.clear_faults();
        let r = c
            .get(format!("{}/example.com/big/@v/v1.0.0.info", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        up.set_fault_all(Fault::Status(503));
        let r = c
            .get(format!("{}/example.com/big/@v/list", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-gomirror-stale"], "1");
        assert_eq!(r.text().await.unwrap(), "v1.0.0\n");
        // Nothing cached at all: a clear 502.
        let r = c
            .get(format!("{}/example.com/other/@v/list", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
    });
}

#[test]
fn gonoproxy_modules_never_reach_public_upstreams() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--goprivate", "example.com/pl*,*.corp.example"],
    );
    let c = support::http_client();
    rt().block_on(async {
        for path in [
            "/example.com/plain/@v/list",
            "/example.com/plain/@v/v1.0.0.zip",
            "/git.corp.example/x/@latest",
        ] {
            let r = c.get(format!("{}{path}", srv.url)).send().await.unwrap();
            assert!(
                r.status().is_client_error() || r.status().is_server_error(),
                "{path}: {}",
                r.status()
            );
        }
        // Not private: fetched.
        let r = c
            .get(format!("{}/example.com/big/@v/list", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    assert_eq!(up.count_suffix("/example.com/plain/@v/list"), 0);
    assert_eq!(up.count_suffix("/example.com/plain/@v/v1.0.0.zip"), 0);
    assert_eq!(up.count_suffix("/git.corp.example/x/@latest"), 0);
    assert_eq!(up.count("/example.com/big/@v/list"), 1);
}

#[test]
fn http2_cleartext_and_tls_with_alpn() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let want = std::fs::read(up_dir.path().join("example.com/big/@v/v1.0.0.zip")).unwrap();
    // h2c with prior knowledge.
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    rt().block_on(async {
        let c = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let r = c
            .get(format!("{}/example.com/big/@v/v1.0.0.zip", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        assert_eq!(&r.bytes().await.unwrap()[..], &want[..]);
    });
    // TLS: ALPN offers h2 and http/1.1.
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = data.path().join("cert.pem");
    let key = data.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let tls = Server::start(
        &data.path().join("d2"),
        &up.url(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(tls.url.starts_with("https://"), "{}", tls.url);
    rt().block_on(async {
        let _ = support::http_client();
        for h1_only in [false, true] {
            let mut b = reqwest::Client::builder().danger_accept_invalid_certs(true);
            if h1_only {
                b = b.http1_only();
            }
            let c = b.build().unwrap();
            let r = c
                .get(format!("{}/example.com/big/@v/v1.0.0.zip", tls.url))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v = if h1_only {
                reqwest::Version::HTTP_11
            } else {
                reqwest::Version::HTTP_2
            };
            assert_eq!(r.version(), v);
            assert_eq!(&r.bytes().await.unwrap()[..], &want[..]);
        }
    });
}

#[test]
fn sigterm_lets_in_flight_downloads_finish() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let mut srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let url = format!("{}/example.com/big/@v/v1.0.0.zip", srv.url);
    let want = std::fs::read(up_dir.path().join("example.com/big/@v/v1.0.0.zip")).unwrap();
    let runtime = rt();
    // Warm the cache, then start a download that reads slowly.
    runtime.block_on(async {
        support::http_client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let u = url.clone();
    let handle = runtime.spawn(async move {
        use futures_util::StreamExt;
        let r = support::http_client().get(&u).send().await.unwrap();
        let mut s = r.bytes_stream();
        let mut got = Vec::new();
        let mut signalled = false;
        while let Some(chunk) = s.next().await {
            got.extend_from_slice(&chunk.unwrap());
            if !signalled {
                tx.send(()).unwrap();
                signalled = true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        got
    });
    rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let addr = srv.url.trim_start_matches("http://").to_owned();
    // SIGTERM while the download is in flight.
    let pid = srv.pid();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    // New connections are refused soon after.
    let start = std::time::Instant::now();
    loop {
        if std::net::TcpStream::connect(&addr).is_err() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still accepting connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = runtime.block_on(handle).unwrap();
    assert!(
        got == want,
        "the in-flight download was cut ({} of {} bytes)",
        got.len(),
        want.len()
    );
    let status = srv
        .terminate(Duration::from_secs(20))
        .expect("gomirror did not exit after draining");
    assert!(status.success(), "{status}");
}

#[test]
fn configuration_precedence_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gomirror.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1111\"\ndata_dir = \"/from/file\"\ngoproxy = \"https://file.example\"\nlist_ttl = \"5m\"\n",
    )
    .unwrap();
    let print = |env: &[(&str, &str)], args: &[&str]| -> String {
        let mut c = support::gomirror();
        c.args(["serve", "--print-config", "--config"])
            .arg(&file)
            .args(args);
        for k in [
            "GOPROXY",
            "GOMIRROR_LISTEN",
            "GOMIRROR_DATA_DIR",
            "GOMIRROR_LIST_TTL",
            "GOPRIVATE",
            "GONOPROXY",
        ] {
            c.env_remove(k);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        support::server::ok(&mut c)
    };
    let out = print(&[], &[]);
    assert!(
        out.contains("127.0.0.1:1111")
            && out.contains("/from/file")
            && out.contains("https://file.example"),
        "{out}"
    );
    assert!(out.contains("300s"), "{out}");
    let out = print(
        &[
            ("GOMIRROR_LISTEN", "127.0.0.1:2222"),
            ("GOPROXY", "https://env.example"),
        ],
        &[],
    );
    assert!(
        out.contains("127.0.0.1:2222")
            && out.contains("https://env.example")
            && out.contains("/from/file"),
        "{out}"
    );
    let out = print(
        &[("GOMIRROR_LISTEN", "127.0.0.1:2222")],
        &["--listen", "127.0.0.1:3333", "--data-dir", "/from/flag"],
    );
    assert!(
        out.contains("127.0.0.1:3333") && out.contains("/from/flag"),
        "{out}"
    );
    // GOPRIVATE is the default of GONOPROXY and GONOSUMDB.
    let out = print(&[("GOPRIVATE", "corp.example")], &[]);
    assert!(
        out.contains("gonoproxy: \"corp.example\"") && out.contains("gonosumdb: \"corp.example\""),
        "{out}"
    );

    // A fleet replica's settings; the Redis password is never printed.
    let out = print(
        &[
            ("GOMIRROR_STORE", "s3://bucket/mirror"),
            ("GOMIRROR_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0"),
            ("GOMIRROR_REPLICA", "replica-7"),
        ],
        &["--local-cache-size", "12345"],
    );
    assert!(
        out.contains("Remote(")
            && out.contains("\"s3://bucket/mirror\"")
            && out.contains("replica-7")
            && out.contains("local_cache_size: 12345")
            && !out.contains("hunter2"),
        "{out}"
    );

    // Invalid settings fail at start-up with a message naming them.
    // (environment, flags, the setting the error must name)
    type Bad<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let bad: &[Bad] = &[
        (&[("GOMIRROR_LISTEN", "nowhere")], &[], "GOMIRROR_LISTEN"),
        (&[], &["--list-ttl", "soon"], "GOMIRROR_LIST_TTL"),
        (
            &[("GOMIRROR_UPSTREAM_RETRIES", "many")],
            &[],
            "GOMIRROR_UPSTREAM_RETRIES",
        ),
        (&[], &["--log-format", "xml"], "GOMIRROR_LOG_FORMAT"),
        (&[], &["--tls-cert", "/x.pem"], "GOMIRROR_TLS_KEY"),
        (&[("GOMIRROR_STORE", "ftp://x/y")], &[], "GOMIRROR_STORE"),
        (&[], &["--store", "s3://"], "GOMIRROR_STORE"),
        (&[], &["--store", "file://relative"], "GOMIRROR_STORE"),
        (&[], &["--store", "s3://b/../up"], "GOMIRROR_STORE"),
        (
            &[("GOMIRROR_REDIS_URL", "redis://127.0.0.1:6379/0")],
            &[],
            "GOMIRROR_REDIS_URL",
        ),
        (
            &[
                ("GOMIRROR_STORE", "s3://bucket/p"),
                ("GOMIRROR_REDIS_URL", "http://127.0.0.1:6379"),
            ],
            &[],
            "GOMIRROR_REDIS_URL",
        ),
        (
            &[("GOMIRROR_LEASE_TTL", "10ms")],
            &["--store", "s3://bucket/p"],
            "GOMIRROR_LEASE_TTL",
        ),
    ];
    for (env, args, name) in bad {
        let mut c = support::gomirror();
        c.args(["serve", "--print-config"])
            .args(*args)
            .env_remove("GOMIRROR_CONFIG");
        for (k, v) in *env {
            c.env(k, v);
        }
        let out = support::run(&mut c);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name} not named in: {err}");
    }
    // An unknown key in the file, and a bad GOPROXY at start-up.
    std::fs::write(&file, "lisen = \"x\"\n").unwrap();
    let out = support::run(
        support::gomirror()
            .args(["serve", "--print-config", "--config"])
            .arg(&file),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    let out = support::run(
        support::gomirror()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--goproxy",
                "ftp://x",
                "--data-dir",
            ])
            .arg(dir.path().join("d")),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("GOPROXY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn timeouts_retries_and_go_mod_consistency() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let slow = Upstream::start(up_dir.path());
    let good = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let big = "/example.com/big/@v/v1.0.0.zip";
    // A body that stalls: the idle timeout ends it, and `|` moves on.
    slow.set_fault(big, Fault::Stall(10_000));
    // A transient 503 twice on the good upstream: retried, then served.
    good.set_fault(
        "/example.com/plain/@v/v1.0.0.info",
        Fault::FailTimes(2, 503),
    );
    let srv = Server::start(
        &data.path().join("d"),
        &format!("{}|{}", slow.url(), good.url()),
        &["--upstream-idle-timeout", "1s", "--upstream-retries", "2"],
    );
    let c = support::http_client();
    let want = std::fs::read(up_dir.path().join(&big[1..])).unwrap();
    rt().block_on(async {
        let r = c.get(format!("{}{big}", srv.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap()[..] == want[..]);
        assert_eq!(
            slow.count(big),
            3,
            "stalled body: one attempt and two retries\n{}",
            srv.log()
        );
        assert_eq!(good.count(big), 1);

        slow.set_fault_all(Fault::Status(404));
        let r = c
            .get(format!("{}/example.com/plain/@v/v1.0.0.info", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            good.count("/example.com/plain/@v/v1.0.0.info"),
            3,
            "two 503s retried"
        );

        // A .mod that differs from the go.mod in the zip: whichever comes
        // second is refused.
        good.set_fault(
            "/example.com/plain/@v/v1.1.0.mod",
            Fault::Replace(b"module example.com/plain\n\ngo 1.99\n".to_vec()),
        );
        let r = c
            .get(format!("{}/example.com/plain/@v/v1.1.0.mod", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = c
            .get(format!("{}/example.com/plain/@v/v1.1.0.zip", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("differs from the stored .mod"));
        assert!(!data
            .path()
            .join("d/objects/example.com/plain/@v/v1.1.0.zip.gmeta")
            .exists());
    });
    assert!(srv.log().contains("gomod_mismatch"));
}
