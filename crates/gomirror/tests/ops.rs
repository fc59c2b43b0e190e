//! Operators: metrics for every integrity failure kind, alert webhooks
//! (de-duplicated), the admin API and its token, health endpoints, and the
//! status page in a real headless browser.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::server::Server;
use support::sumdb::TestSumdb;
use support::upstream::{publish, Fault, ModVersion, Upstream};

const TOKEN: &str = "test-admin-token-0123456789";

fn corpus(root: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for (path, version) in [
        ("example.com/a", "v1.0.0"),
        ("example.com/a", "v1.1.0"),
        ("example.com/b", "v1.0.0"),
    ] {
        let files = vec![
            ("go.mod", format!("module {path}\n").into_bytes()),
            ("a.go", format!("package a // {version}\n").into_bytes()),
        ];
        let zip_h1 = publish(
            root,
            &ModVersion {
                path,
                version,
                files: files.clone(),
            },
        );
        out.push((zip_h1, gomod::dirhash::hash_go_mod(&files[0].1)));
    }
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = support::http_client().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = support::http_client().post(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A loopback webhook receiver collecting JSON bodies.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let rt = rt();
        let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let g = got.clone();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        rt.spawn(async move {
            let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    g.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
                    "ok"
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, got, _rt: rt }
    }
    fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.got.lock().unwrap().clone()
    }
}

#[test]
fn each_integrity_failure_is_counted_by_kind_and_source_and_alerted_once() {
    let dir = tempfile::tempdir().unwrap();
    let sums = corpus(dir.path());
    let up = Upstream::start(dir.path());
    let db = TestSumdb::start();
    db.add("example.com/a", "v1.0.0", &sums[0].0, &sums[0].1);
    db.add(
        "example.com/a",
        "v1.1.0",
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &sums[1].1,
    );
    db.add("example.com/b", "v1.0.0", &sums[2].0, &sums[2].1);
    let hook = Receiver::start();
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &[
            "--gosumdb",
            &gosumdb,
            "--upstream-retries",
            "0",
            "--alert-webhooks",
            &hook.url,
        ],
    );
    let u = up.url();
    rt().block_on(async {
        let base = &srv.url;
        // truncated: cut zip
        up.set_fault("/example.com/a/@v/v1.0.0.zip", Fault::Truncate(100));
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.0.0.zip"), None)
                .await
                .0,
            502
        );
        // again: de-duplicated alert, counted twice
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.0.0.zip"), None)
                .await
                .0,
            502
        );
        // zip_check: not a zip
        up.set_fault(
            "/example.com/b/@v/v1.0.0.zip",
            Fault::Replace(b"this is not a zip".to_vec()),
        );
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.zip"), None)
                .await
                .0,
            502
        );
        // info: wrong version
        up.set_fault(
            "/example.com/b/@v/v1.0.0.info",
            Fault::Replace(br#"{"Version":"v9.0.0"}"#.to_vec()),
        );
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.info"), None)
                .await
                .0,
            502
        );
        // size: an .info over 64 KiB
        up.set_fault(
            "/example.com/a/@v/v1.1.0.info",
            Fault::Replace(vec![b' '; 70 << 10]),
        );
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.1.0.info"), None)
                .await
                .0,
            502
        );
        // sumdb: the database has another h1 for a v1.1.0 zip
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.1.0.zip"), None)
                .await
                .0,
            502
        );
        // gomod_mismatch: admit the good b .mod, then a zip whose go.mod differs
        up.clear_faults();
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.0.0.mod"), None)
                .await
                .0,
            200
        );
        let other = tempfile::tempdir().unwrap();
        publish(
            other.path(),
            &ModVersion {
                path: "example.com/a",
                version: "v1.0.0",
                files: vec![
                    ("go.mod", b"module example.com/a\n\ngo 1.22\n".to_vec()),
                    ("a.go", b"package a\n".to_vec()),
                ],
            },
        );
        let z = std::fs::read(other.path().join("example.com/a/@v/v1.0.0.zip")).unwrap();
        up.set_fault("/example.com/a/@v/v1.0.0.zip", Fault::Replace(z));
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.0.0.zip"), None)
                .await
                .0,
            502
        );
        // sha256 (store): rot of a stored small object
        up.clear_faults();
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.mod"), None)
                .await
                .0,
            200
        );
        let stored = support::stored_file(&data.path().join("d"), "example.com/b/@v/v1.0.0.mod");
        let mut b = std::fs::read(&stored).unwrap();
        b[0] ^= 1;
        std::fs::write(&stored, &b).unwrap();
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.mod"), None)
                .await
                .0,
            200
        );

        let (_, m) = get(&format!("{base}/metrics"), None).await;
        for (kind, source, want) in [
            ("truncated", u.as_str(), 2.0),
            ("zip_check", u.as_str(), 1.0),
            ("info", u.as_str(), 1.0),
            ("size", u.as_str(), 1.0),
            ("sumdb", u.as_str(), 1.0),
            ("gomod_mismatch", u.as_str(), 1.0),
            ("sha256", "store", 1.0),
        ] {
            let got = support::metric(
                &m,
                "gomirror_integrity_failures_total",
                &[("kind", kind), ("source", source)],
            );
            assert_eq!(
                got,
                want,
                "{kind}/{source}\n{}",
                m.lines()
                    .filter(|l| l.contains("integrity"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        assert_eq!(
            support::metric(&m, "gomirror_quarantined_objects_total", &[]),
            1.0
        );
        assert!(
            support::metric(
                &m,
                "gomirror_requests_total",
                &[("kind", "zip"), ("status", "502")]
            ) >= 4.0
        );
        assert!(
            support::metric(
                &m,
                "gomirror_upstream_requests_total",
                &[("upstream", u.as_str())]
            ) >= 8.0
        );
        assert!(support::metric(&m, "gomirror_sumdb_verified_tree_size", &[]) >= 3.0);
        assert!(m.contains("gomirror_build_info{version=\""), "{m}");
        assert!(
            m.contains("gomirror_request_duration_seconds_bucket"),
            "{m}"
        );
    });
    // Webhooks: one per distinct (kind, source, object); the repeated
    // truncation is not sent twice.
    let got = hook.wait_for(7);
    std::thread::sleep(Duration::from_millis(300));
    let got2 = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), got2.len(), "more webhooks arrived late");
    let kinds: Vec<&str> = got2.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "truncated").count(),
        1,
        "{kinds:?}"
    );
    for k in [
        "zip_check",
        "info",
        "size",
        "sumdb",
        "gomod_mismatch",
        "sha256",
    ] {
        assert_eq!(
            kinds.iter().filter(|x| **x == k).count(),
            1,
            "{k} in {kinds:?}"
        );
    }
    assert_eq!(got2.len(), 7, "{got2:?}");
}

#[test]
fn admin_api_token_events_purge_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let cdn = Receiver::start();
    let data = tempfile::tempdir().unwrap();
    // No token: the admin API is off.
    let off = Server::start(&data.path().join("off"), &up.url(), &[]);
    let token_file = data.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &[
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--cdn-purge-webhook",
            &cdn.url,
            "--public-url",
            "https://mirror.example",
        ],
    );
    rt().block_on(async {
        assert_eq!(
            get(&format!("{}/-/events", off.url), Some(TOKEN)).await.0,
            404
        );
        let base = &srv.url;
        assert_eq!(get(&format!("{base}/-/events"), None).await.0, 401);
        assert_eq!(
            get(&format!("{base}/-/events"), Some("wrong-token-wrong-token"))
                .await
                .0,
            401
        );
        assert_eq!(
            post(&format!("{base}/-/purge/example.com/a"), None).await.0,
            401
        );
        let (s, body) = get(&format!("{base}/-/events"), Some(TOKEN)).await;
        assert_eq!(s, 200, "{body}");
        // Fill, then purge one version: gone from disk, CDN told.
        for f in ["info", "mod", "zip"] {
            assert_eq!(
                get(&format!("{base}/example.com/a/@v/v1.0.0.{f}"), None)
                    .await
                    .0,
                200
            );
        }
        let (s, body) = post(&format!("{base}/-/purge/example.com/a@v1.0.0"), Some(TOKEN)).await;
        assert_eq!(s, 200, "{body}");
        assert!(
            support::key_files(&data.path().join("d"), "example.com/a/@v/v1.0.0.zip").is_empty()
        );
        assert!(!data
            .path()
            .join("d/objects/example.com/a/@v/v1.0.0.zip.gmeta")
            .exists());
        let hooks = cdn.wait_for(1);
        let urls: Vec<&str> = hooks[0]["urls"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u.as_str())
            .collect();
        assert!(
            urls.contains(&"https://mirror.example/example.com/a/@v/v1.0.0.zip"),
            "{urls:?}"
        );
        // Re-fetched on the next request.
        let n = up.count("/example.com/a/@v/v1.0.0.zip");
        assert_eq!(
            get(&format!("{base}/example.com/a/@v/v1.0.0.zip"), None)
                .await
                .0,
            200
        );
        assert_eq!(up.count("/example.com/a/@v/v1.0.0.zip"), n + 1);
        // Verify: rot on disk is found and healed.
        let stored = support::stored_file(&data.path().join("d"), "example.com/a/@v/v1.0.0.zip");
        let mut b = std::fs::read(&stored).unwrap();
        let i = b.len() / 2;
        b[i] ^= 1;
        std::fs::write(&stored, &b).unwrap();
        let (s, body) = post(
            &format!("{base}/-/verify/example.com/a@v1.0.0"),
            Some(TOKEN),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["zip"].as_str(), v["mod"].as_str()),
            (Some("healed"), Some("absent")),
            "{body}"
        );
        let (_, body) = get(&format!("{base}/-/events"), Some(TOKEN)).await;
        assert!(body.contains("\"kind\": \"sha256\""), "{body}");
        let (s, body) = get(&format!("{base}/-/stats"), Some(TOKEN)).await;
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        // After the purge only the zip came back.
        assert_eq!(v["objects"].as_u64(), Some(1), "{body}");
        assert!(v["counters"].as_array().unwrap().len() >= 3, "{body}");
        // Bad input: 400, nothing purged.
        assert_eq!(
            post(&format!("{base}/-/purge/-bad"), Some(TOKEN)).await.0,
            400
        );
    });
}

/// The admin API reads the `Authorization` scheme case-insensitively (RFC
/// 9110), and a purge target in the `!`-encoded form of the URLs purges the
/// same module and version.
#[test]
fn admin_bearer_scheme_and_encoded_purge_targets() {
    let dir = tempfile::tempdir().unwrap();
    publish(
        dir.path(),
        &ModVersion {
            path: "example.com/Upper",
            version: "v1.0.0-RC1",
            files: vec![
                ("go.mod", b"module example.com/Upper\n".to_vec()),
                ("a.go", b"package a\n".to_vec()),
            ],
        },
    );
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let token_file = data.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--admin-token-file", token_file.to_str().unwrap()],
    );
    let base = &srv.url;
    rt().block_on(async {
        let with = |auth: String| {
            support::http_client()
                .get(format!("{base}/-/events"))
                .header("authorization", auth)
        };
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let r = with(format!("{scheme} {TOKEN}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{scheme}");
        }
        for wrong in [
            format!("Basic {TOKEN}"),
            format!("Bearer {TOKEN}x"),
            "Bearer ".to_owned(),
            "Bearer".to_owned(),
        ] {
            let r = with(wrong.clone()).send().await.unwrap();
            assert_eq!(r.status(), 401, "{wrong}");
        }
        let zip = format!("{base}/example.com/!upper/@v/v1.0.0-!r!c1.zip");
        assert_eq!(get(&zip, None).await.0, 200);
        let stored = support::stored_file(
            &data.path().join("d"),
            "example.com/!upper/@v/v1.0.0-!r!c1.zip",
        );
        assert!(stored.exists());
        let (s, body) = post(
            &format!("{base}/-/purge/example.com/!upper@v1.0.0-!r!c1"),
            Some(TOKEN),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert!(
            !stored.exists(),
            "the encoded target purged nothing: {body}"
        );
    });
}

#[test]
fn health_endpoints_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--upstream-retries", "0"],
    );
    rt().block_on(async {
        let (s, body) = get(&format!("{}/healthz", srv.url), None).await;
        assert_eq!(s, 200);
        assert!(body.contains("\"status\": \"ok\""));
        let (s, body) = get(&format!("{}/readyz", srv.url), None).await;
        assert_eq!(s, 200, "{body}");
        up.set_fault_all(Fault::Status(500));
        assert_eq!(
            get(&format!("{}/example.com/a/@v/v1.0.0.info", srv.url), None)
                .await
                .0,
            502
        );
        let (s, body) = get(&format!("{}/readyz", srv.url), None).await;
        assert_eq!(s, 503, "{body}");
        assert!(body.contains("no usable upstream"), "{body}");
        up.clear_faults();
        assert_eq!(
            get(&format!("{}/example.com/a/@v/v1.0.0.info", srv.url), None)
                .await
                .0,
            200
        );
        assert_eq!(get(&format!("{}/readyz", srv.url), None).await.0, 200);
    });
}

#[test]
fn status_page_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--upstream-retries", "0"],
    );
    rt().block_on(async {
        assert_eq!(
            get(&format!("{}/example.com/a/@v/v1.0.0.zip", srv.url), None)
                .await
                .0,
            200
        );
        assert_eq!(
            get(&format!("{}/example.com/a/@v/v1.0.0.zip", srv.url), None)
                .await
                .0,
            200
        );
        up.set_fault(
            "/example.com/b/@v/v1.0.0.zip",
            Fault::Replace(b"garbage".to_vec()),
        );
        assert_eq!(
            get(&format!("{}/example.com/b/@v/v1.0.0.zip", srv.url), None)
                .await
                .0,
            502
        );
    });
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find(|c| {
            support::run(std::process::Command::new("sh").args(["-c", &format!("command -v {c}")]))
                .status
                .success()
        })
        .expect("chromium is not installed: run ./scripts/test, which installs it");
    let profile = tempfile::tempdir().unwrap();
    // Headless Chromium on the page, with `what` (--dump-dom, --screenshot).
    let browse = |what: &[&str]| {
        support::run(
            std::process::Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    &format!("--user-data-dir={}", profile.path().display()),
                ])
                .args(what)
                .arg(format!("{}/", srv.url)),
        )
    };
    let out = browse(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("<h1>gomirror</h1>"), "{dom}");
    assert!(
        dom.contains(&format!(
            "<td id=\"version\">{}</td>",
            env!("CARGO_PKG_VERSION")
        )),
        "{dom}"
    );
    assert!(dom.contains("<td id=\"objects\">"), "{dom}");
    assert!(
        dom.contains("33.3%"),
        "hit ratio: one hit, two misses (the admitted zip and the refused one): {dom}"
    );
    assert!(dom.contains(&up.url()), "upstream listed: {dom}");
    assert!(
        dom.contains("zip_check") && dom.contains("example.com/b/@v/v1.0.0.zip"),
        "event shown: {dom}"
    );
    // The line a developer pastes: the address the browser asked.
    assert!(
        dom.contains(&format!(
            "<pre id=\"use\"><code>go env -w GOPROXY={},direct</code></pre>",
            srv.url
        )),
        "{dom}"
    );
    // Charts of the last hour and day, each an inline SVG.
    let figure = |id: &str| -> String {
        let start = dom
            .find(&format!("<figure class=\"chart\" id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no chart {id}: {dom}"));
        let end = start + dom[start..].find("</figure>").unwrap();
        dom[start..end].to_owned()
    };
    for span in ["hour", "day"] {
        for chart in [
            "requests",
            "hit-ratio",
            "bytes",
            "integrity",
            "upstream-latency",
            "upstream-errors",
            "sumdb",
            "scrub",
            "canary",
        ] {
            let f = figure(&format!("{span}-{chart}"));
            assert!(
                f.contains("<svg") && f.contains("</svg>"),
                "{span}-{chart}: {f}"
            );
        }
        // The traffic and the refused zip, as they happened.
        let req = figure(&format!("{span}-requests"));
        assert!(
            req.contains("class=\"series\" data-label=\"requests\""),
            "{req}"
        );
        let integ = figure(&format!("{span}-integrity"));
        let label = format!("zip_check from {}", up.url());
        assert!(
            integ.contains(&format!("data-label=\"{label}\""))
                && integ.contains(&format!("{label}: 1")),
            "the refused zip in the integrity chart: {integ}"
        );
        let lat = figure(&format!("{span}-upstream-latency"));
        assert!(
            lat.contains("class=\"series\" data-label=\"latency ms\""),
            "upstream latency drawn: {lat}"
        );
    }
    // A screenshot, as a person sees the page.
    let shot = data.path().join("status.png");
    let out = browse(&[
        "--hide-scrollbars",
        "--window-size=1280,2600",
        &format!("--screenshot={}", shot.display()),
    ]);
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("GOMIRROR_KEEP_SCREENSHOT") {
        std::fs::write(keep, &png).unwrap();
    }
}

#[test]
fn one_json_log_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &["--log-format", "json"]);
    rt().block_on(async {
        let r = support::http_client()
            .get(format!("{}/example.com/a/@v/v1.0.0.zip", srv.url))
            .header("x-request-id", "req-123")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-request-id"], "req-123");
        assert_eq!(r.headers()["x-gomirror-cache"], "miss");
        let len = r.bytes().await.unwrap().len();
        // Logged after the response headers; give the line a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let lines: Vec<serde_json::Value> = srv
            .log()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect();
        let req: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["fields"]["message"] == "request")
            .collect();
        assert_eq!(req.len(), 1, "{req:?}");
        let f = &req[0]["fields"];
        assert_eq!(f["request_id"], "req-123");
        assert_eq!(f["module"], "example.com/a");
        assert_eq!(f["version"], "v1.0.0");
        assert_eq!(f["cache"], "miss");
        assert_eq!(f["upstream"], up.url());
        assert_eq!(f["status"], 200);
        assert_eq!(f["bytes"], len as u64);
        assert!(f["duration_ms"].is_u64());
    });
}

#[test]
fn background_scrubber_finds_and_heals_rot_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--scrub-interval", "1s", "--scrub-rate", "100000000"],
    );
    let key = "example.com/a/@v/v1.0.0.zip";
    let dd = data.path().join("d");
    rt().block_on(async {
        assert_eq!(
            get(&format!("{}/example.com/a/@v/v1.0.0.zip", srv.url), None)
                .await
                .0,
            200
        );
        let stored = support::stored_file(&dd, key);
        let good = std::fs::read(&stored).unwrap();
        let mut bad = good.clone();
        bad[10] ^= 1;
        std::fs::write(&stored, &bad).unwrap();
        let n = up.count("/example.com/a/@v/v1.0.0.zip");
        // No request for it: the scrubber alone must find and heal it.
        let mut healed = false;
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = support::try_stored_file(&dd, key).and_then(|p| std::fs::read(p).ok());
            if now.as_deref() == Some(&good[..]) {
                healed = true;
                break;
            }
        }
        assert!(healed, "not healed by the scrubber:\n{}", srv.log());
        assert_eq!(up.count("/example.com/a/@v/v1.0.0.zip"), n + 1);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (_, m) = get(&format!("{}/metrics", srv.url), None).await;
        assert!(
            support::metric(&m, "gomirror_scrub_rotten_total", &[]) >= 1.0,
            "{m}"
        );
        assert!(
            support::metric(&m, "gomirror_scrub_last_pass_timestamp_seconds", &[]) > 0.0,
            "{m}"
        );
        assert_eq!(
            support::metric(
                &m,
                "gomirror_integrity_failures_total",
                &[("kind", "sha256"), ("source", "store")]
            ),
            1.0
        );
        // A record whose h1 no longer matches its .mod: h1 rot, also found
        // by the scrubber alone.
        assert_eq!(
            get(&format!("{}/example.com/b/@v/v1.0.0.mod", srv.url), None)
                .await
                .0,
            200
        );
        let rec = data
            .path()
            .join("d/objects/example.com/b/@v/v1.0.0.mod.gmeta");
        // Answered before the commit ends: wait for the record.
        let _ = support::stored_file(&data.path().join("d"), "example.com/b/@v/v1.0.0.mod");
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
        meta["h1"] = serde_json::json!("h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        std::fs::write(&rec, serde_json::to_vec(&meta).unwrap()).unwrap();
        let mut seen = 0.0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (_, m) = get(&format!("{}/metrics", srv.url), None).await;
            seen = support::metric(
                &m,
                "gomirror_integrity_failures_total",
                &[("kind", "h1"), ("source", "store")],
            );
            if seen >= 1.0 {
                break;
            }
        }
        assert_eq!(seen, 1.0, "h1 rot not counted:\n{}", srv.log());
    });
}

/// Alerts cannot be drowned: 110 integrity events from one upstream (an
/// `.info` over the size limit for 110 versions) send at most the budget
/// of their (kind, source), the rest are counted in one `suppressed`
/// summary event when the budget window ends, and rot found in the store
/// right after the flood is still delivered.
#[test]
fn an_integrity_flood_does_not_drown_store_rot_alerts() {
    use futures_util::StreamExt;
    const FLOOD: usize = 110;
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let flood_dir = dir.path().join("example.com/flood/@v");
    std::fs::create_dir_all(&flood_dir).unwrap();
    for i in 0..FLOOD {
        std::fs::write(
            flood_dir.join(format!("v1.0.{i}.info")),
            vec![b' '; 70 << 10],
        )
        .unwrap();
    }
    let up = Upstream::start(dir.path());
    let hook = Receiver::start();
    let data = tempfile::tempdir().unwrap();
    // The window through the environment, so that this test also runs (and
    // fails) against a mirror that knows no such setting.
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &["--upstream-retries", "0", "--alert-webhooks", &hook.url],
        &[("GOMIRROR_ALERT_WINDOW", std::ffi::OsStr::new("10s"))],
    );
    let u = up.url();
    let base = srv.url.clone();
    rt().block_on(async {
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.mod"), None)
                .await
                .0,
            200
        );
        let gets = (0..FLOOD).map(|i| {
            let url = format!("{base}/example.com/flood/@v/v1.0.{i}.info");
            async move { get(&url, None).await.0 }
        });
        let codes: Vec<u16> = futures_util::stream::iter(gets)
            .buffer_unordered(8)
            .collect()
            .await;
        assert!(codes.iter().all(|c| *c == 502), "{codes:?}");
        // Rot in the store, found when it is read.
        let stored = support::stored_file(&data.path().join("d"), "example.com/b/@v/v1.0.0.mod");
        let mut b = std::fs::read(&stored).unwrap();
        b[0] ^= 1;
        std::fs::write(&stored, &b).unwrap();
        assert_eq!(
            get(&format!("{base}/example.com/b/@v/v1.0.0.mod"), None)
                .await
                .0,
            200
        );
    });
    let events = |kind: &str| -> Vec<serde_json::Value> {
        hook.got
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .cloned()
            .collect()
    };
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(40)
        && (events("sha256").is_empty() || events("suppressed").is_empty())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let rot = events("sha256");
    assert_eq!(
        rot.len(),
        1,
        "the store rot event was not delivered: {rot:?}"
    );
    assert_eq!(rot[0]["source"], "store");
    assert_eq!(rot[0]["object"], "example.com/b/@v/v1.0.0.mod");
    let sent = events("size").len();
    assert!(
        (1..=60).contains(&sent),
        "{sent} of {FLOOD} flood events were sent (budget: 30 per 10 s window)"
    );
    let summaries = events("suppressed");
    assert!(!summaries.is_empty(), "no summary arrived");
    let held: u64 = summaries
        .iter()
        .map(|s| {
            assert_eq!(s["source"], u.as_str(), "{s}");
            assert_eq!(s["suppressed"]["kind"], "size", "{s}");
            assert_eq!(s["count"], s["suppressed"]["count"], "{s}");
            s["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(
        sent as u64 + held,
        FLOOD as u64,
        "every flood event is either sent or summarised: {summaries:?}"
    );
    assert!(
        summaries[0]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{held} size events from {u}")),
        "{summaries:?}"
    );
    let (_, m) = support::get_blocking(&format!("{base}/metrics"));
    let m = String::from_utf8(m).unwrap();
    assert_eq!(
        support::metric(
            &m,
            "gomirror_events_dropped_total",
            &[("kind", "size"), ("source", u.as_str())]
        ),
        held as f64,
        "{m}"
    );
}

/// `/readyz` does not write the store on every call: 50 concurrent calls
/// share one write probe (the answer names the probe), and the probe
/// leaves no file in the data directory.
#[test]
fn concurrent_readyz_calls_share_one_store_probe() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let url = format!("{}/readyz", srv.url);
    let answers: Vec<(u16, String)> = rt().block_on(async {
        futures_util::stream::iter((0..50).map(|_| get(&url, None)))
            .buffer_unordered(50)
            .collect()
            .await
    });
    let mut probes = vec![];
    for (s, body) in &answers {
        assert_eq!(*s, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["store"]["ok"], true, "{body}");
        probes.push(v["store"]["probe"].as_u64().expect("the probe is named"));
    }
    probes.sort();
    probes.dedup();
    // One probe, or two if the calls straddled the 5 s interval.
    assert!(probes == [1] || probes == [1, 2], "{probes:?}");
    let files = support::files_under(&data.path().join("d"));
    assert!(files.is_empty(), "files left by the probe: {files:?}");
}
