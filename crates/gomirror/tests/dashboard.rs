//! The Grafana dashboard (`deploy/grafana/gomirror.json`) against a real
//! Prometheus (Debian's) scraping a real gomirror under a short load with
//! provoked integrity failures: every panel's query is evaluated through
//! Prometheus's HTTP API and must parse and return data, and the integrity
//! panels must show the failures provoked, by kind and source.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::server::{ok, GoEnv, Server};
use support::sumdb::TestSumdb;
use support::upstream::{publish, Fault, ModVersion, Upstream};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Debian's prometheus scraping `target` (host:port) every second.
    fn start(dir: &Path, target: &str) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: gomirror\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian's prometheus package) on PATH");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// An instant query: the result vector (or scalar as one sample).
    fn query(&self, q: &str) -> Result<Vec<serde_json::Value>, String> {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.url), &[("query", q)])
                .unwrap();
        let addr = self.url.trim_start_matches("http://");
        if std::net::TcpStream::connect(addr).is_err() {
            return Err(format!("Prometheus at {addr} is not listening (yet)"));
        }
        let (_, body) = support::get_blocking(url.as_str());
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&body)))?;
        if v["status"] != "success" {
            return Err(format!("{v}"));
        }
        match v["data"]["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
            }
            Some("scalar") => Ok(vec![v["data"]["result"].clone()]),
            other => Err(format!("result type {other:?}: {v}")),
        }
    }
}

/// The dashboard's panels: (title, queries) with Grafana's variables
/// replaced as Grafana would for "all replicas, the last 5 minutes".
fn panels() -> Vec<(String, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/gomirror.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(d["uid"], "gomirror");
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .map(|p| {
            let qs = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    t["expr"]
                        .as_str()
                        .unwrap()
                        .replace("$__rate_interval", "30s")
                        .replace("$__range", "5m")
                        .replace("$instance", ".*")
                })
                .collect();
            (p["title"].as_str().unwrap().to_owned(), qs)
        })
        .collect()
}

#[test]
fn every_dashboard_panel_has_data_from_a_real_prometheus() {
    let panels = panels();
    assert!(panels.len() >= 25, "{} panels", panels.len());
    let names = [
        "Cache hit ratio",
        "Upstream latency to response headers (p99)",
        "Integrity failures by kind and source",
        "Verified tree size",
        "Scrub pass progress",
        "CDN canary: fetches and findings by edge",
        "git commands by result",
    ];
    for n in names {
        assert!(panels.iter().any(|(t, _)| t == n), "no panel {n:?}");
    }

    // An upstream with good modules, one served truncated; a checksum
    // database that knows them all (one with a different h1).
    let dir = tempfile::tempdir().unwrap();
    let db = TestSumdb::start();
    let mut modules = vec![];
    for (i, path) in [
        "example.com/a",
        "example.com/b",
        "example.com/cut",
        "example.com/lied",
    ]
    .into_iter()
    .enumerate()
    {
        let files = vec![
            ("go.mod", format!("module {path}\n\ngo 1.21\n").into_bytes()),
            ("x.go", format!("package x // {i}\n").into_bytes()),
        ];
        let zip_h1 = publish(
            dir.path(),
            &ModVersion {
                path,
                version: "v1.0.0",
                files: files.clone(),
            },
        );
        let mod_h1 = gomod::dirhash::hash_go_mod(&files[0].1);
        let said = if path == "example.com/lied" {
            "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned()
        } else {
            zip_h1
        };
        db.add(path, "v1.0.0", &said, &mod_h1);
        modules.push(path);
    }
    let up = Upstream::start(dir.path());
    up.set_fault("/example.com/cut/@v/v1.0.0.zip", Fault::Truncate(40));
    let data = tempfile::tempdir().unwrap();
    let dd = data.path().join("d");
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start(
        &dd,
        &up.url(),
        &[
            "--gosumdb",
            &gosumdb,
            "--upstream-retries",
            "0",
            "--scrub-interval",
            "1s",
            "--scrub-rate",
            "100000000",
        ],
    );
    let target = srv.url.trim_start_matches("http://").to_owned();
    let prom_dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(prom_dir.path(), &target);

    // Prometheus has the series at 0 before anything happens.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !prom
        .query("up{job=\"gomirror\"} == 1")
        .is_ok_and(|r| !r.is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped gomirror"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Load: the go command downloads the good modules (misses, then hits
    // for a second client), the two bad ones fail; a rotten stored copy is
    // found by the scrubber; an unknown module is a 404.
    let mut go = GoEnv::new(&srv.url);
    go.gosumdb = gosumdb.clone();
    for m in ["example.com/a@v1.0.0", "example.com/b@v1.0.0"] {
        ok(go.go(go.dir.path()).args(["mod", "download", "-json", m]));
    }
    let go2 = GoEnv::new(&srv.url);
    ok(go2
        .go(go2.dir.path())
        .args(["mod", "download", "example.com/a@v1.0.0"]));
    for m in ["example.com/cut", "example.com/lied"] {
        let (s, _) = support::get_blocking(&format!("{}/{m}/@v/v1.0.0.zip", srv.url));
        assert!(s >= 400, "{m}: {s}");
    }
    let (s, _) = support::get_blocking(&format!("{}/example.com/nope/@v/v1.0.0.info", srv.url));
    assert_eq!(s, 404);
    let stored = support::stored_file(&dd, "example.com/b/@v/v1.0.0.zip");
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[12] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();

    // Wait until Prometheus has scraped the rot's discovery and a few
    // samples after it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rot = prom
            .query("sum(gomirror_integrity_failures_total{source=\"store\"})")
            .unwrap_or_default();
        let found = rot
            .first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|v| v >= 1.0);
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the scrubber's finding; gomirror log:\n{}\nprometheus log:\n{}",
            srv.log(),
            std::fs::read_to_string(prom_dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(3));

    let mut empty = vec![];
    for (title, queries) in &panels {
        for q in queries {
            match prom.query(q) {
                Err(e) => panic!("panel {title:?}: query {q} failed: {e}"),
                Ok(r) if r.is_empty() => empty.push(format!("{title}: {q}")),
                Ok(r) => {
                    if title.starts_with("Integrity failures") {
                        let kinds: Vec<(String, String)> = r
                            .iter()
                            .filter(|s| {
                                s["value"][1]
                                    .as_str()
                                    .and_then(|v| v.parse::<f64>().ok())
                                    .is_some_and(|v| v > 0.0)
                            })
                            .map(|s| {
                                (
                                    s["metric"]["kind"].as_str().unwrap_or("").to_owned(),
                                    s["metric"]["source"].as_str().unwrap_or("").to_owned(),
                                )
                            })
                            .collect();
                        let has = |k: &str, src: &str| {
                            kinds.iter().any(|(kk, ss)| kk == k && ss.contains(src))
                        };
                        assert!(
                            has("truncated", &up.url()) && has("sha256", "store"),
                            "panel {title:?}: {kinds:?} (want truncated from the upstream, sha256 from the store)"
                        );
                        assert!(
                            kinds.iter().any(|(k, _)| k == "sumdb" || k == "h1"),
                            "panel {title:?}: the checksum database's refusal missing: {kinds:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
}
