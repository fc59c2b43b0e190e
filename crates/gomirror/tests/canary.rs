//! The CDN canary (`gomirror watch`) against a real CDN: nginx with
//! `proxy_cache` in front of a real `gomirror serve`, on loopback, whose
//! cache files are poisoned on disk the way the incident of DESIGN.md
//! poisoned an edge (flipped bytes, truncated bodies, headers intact).

mod support;

use serde_json::Value;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::server::Server;
use support::upstream::{publish, ModVersion, Upstream};

/// A private nginx caching reverse proxy on 127.0.0.1, killed on drop.
struct Nginx(support::nginx::Nginx);

impl Nginx {
    /// Starts nginx proxying to `origin` (`http://host:port`) with its own
    /// cache; waits (≤ 10 s) for it to listen.
    fn start(origin: &str) -> Nginx {
        Nginx(support::nginx::Nginx::start(false, |p, port| {
            format!(
                r#"    proxy_cache_path {p}/cache levels=1:2 keys_zone=cdn:10m max_size=1g inactive=1h use_temp_path=off;
    keepalive_timeout 0;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {origin};
            proxy_cache cdn;
            proxy_cache_key $uri;
            proxy_cache_valid 200 1h;
            proxy_ignore_headers Cache-Control Expires Set-Cookie;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}"#,
                p = p.display()
            )
        }))
    }

    fn addr(&self) -> String {
        self.0.addr()
    }

    fn cache_dir(&self) -> PathBuf {
        self.0.dir().join("cache")
    }

    /// The cache file holding `uri` (nginx writes the key line into it).
    fn cache_file(&self, uri: &str) -> Option<PathBuf> {
        let needle = format!("\nKEY: {uri}\n");
        files(&self.cache_dir()).into_iter().find(|f| {
            std::fs::read(f)
                .map(|d| find(&d, needle.as_bytes()).is_some())
                .unwrap_or(false)
        })
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Offset of the body in an nginx cache file: after the stored response
/// headers, which follow the key line.
fn body_offset(data: &[u8]) -> usize {
    let k = find(data, b"\nKEY: ").expect("an nginx cache file");
    k + find(&data[k..], b"\r\n\r\n").expect("stored headers") + 4
}

/// Flips 16 bytes of the cached body at `at` (headers untouched).
fn flip_cached_body(file: &Path, at: usize) {
    let data = std::fs::read(file).unwrap();
    let off = body_offset(&data) + at;
    let flipped: Vec<u8> = data[off..off + 16].iter().map(|b| b ^ 0xff).collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(off as u64)).unwrap();
    f.write_all(&flipped).unwrap();
}

/// Cuts the cached body to `keep` bytes (headers, Content-Length included,
/// untouched).
fn truncate_cached_body(file: &Path, keep: u64) {
    let data = std::fs::read(file).unwrap();
    let off = body_offset(&data) as u64;
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.set_len(off + keep).unwrap();
}

/// A plain HTTP/1.1 GET (nginx closes the connection after the response);
/// the status code and the X-Cache-Status header.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: cdn.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![];
    s.read_to_end(&mut buf).unwrap();
    let head_end = find(&buf, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let cache = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Cache-Status: "))
        .unwrap_or("")
        .to_owned();
    (status, cache)
}

/// Deterministic incompressible bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const BIG1: &str = "/example.com/big1/@v/v1.0.0.zip";
const BIG2: &str = "/example.com/big2/@v/v1.0.0.zip";

/// An upstream with two large zips and a small module, a gomirror in
/// front, and the store keys of the 9 versioned files.
struct Origin {
    _up_dir: tempfile::TempDir,
    _up: Upstream,
    data: tempfile::TempDir,
    srv: Server,
    uris: Vec<String>,
}

impl Origin {
    fn start() -> Origin {
        let up_dir = tempfile::tempdir().unwrap();
        let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
        for (path, blob) in [
            ("example.com/big1", noise(3 << 20, 7)),
            ("example.com/big2", noise((2 << 20) + 12345, 11)),
            ("example.com/small", b"hello\n".to_vec()),
        ] {
            let name = format!("{}.go", path.rsplit('/').next().unwrap());
            publish(
                up_dir.path(),
                &ModVersion {
                    path,
                    version: "v1.0.0",
                    files: vec![
                        ("go.mod", gomod(path)),
                        (&name, b"package p\n".to_vec()),
                        ("blob.bin", blob),
                    ],
                },
            );
        }
        let up = Upstream::start(up_dir.path());
        let data = tempfile::tempdir().unwrap();
        let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
        let mut uris = vec![];
        for m in ["big1", "big2", "small"] {
            for ext in ["info", "mod", "zip"] {
                uris.push(format!("/example.com/{m}/@v/v1.0.0.{ext}"));
            }
        }
        Origin {
            _up_dir: up_dir,
            _up: up,
            data,
            srv,
            uris,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.data.path().join("d")
    }

    /// The store's record of `uri` (`/` + key).
    fn record(&self, uri: &str) -> Value {
        let p = self
            .data_dir()
            .join("objects")
            .join(format!("{}.gmeta", &uri[1..]));
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }

    /// Fetches every object through `cdn` until nginx has cached it.
    fn warm(&self, cdn: &Nginx) {
        for uri in &self.uris {
            let (status, _) = get(&cdn.addr(), uri);
            assert_eq!(status, 200, "GET {uri} through nginx");
        }
        let start = Instant::now();
        loop {
            let missing: Vec<&String> = self
                .uris
                .iter()
                .filter(|u| cdn.cache_file(u).is_none())
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nginx did not cache {missing:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Served from the cache now.
        assert_eq!(get(&cdn.addr(), BIG1).1, "HIT");
    }

    /// `gomirror watch --once --json` with `args`: exit code and report.
    fn watch(&self, args: &[&str]) -> (i32, Value) {
        let out = support::run(
            support::gomirror()
                .args(["watch", "--once", "--json", "--data-dir"])
                .arg(self.data_dir())
                .args(args)
                .env_remove("GOMIRROR_ALERT_WEBHOOKS")
                .env_remove("GOMIRROR_CDN_PURGE_WEBHOOK")
                .env_remove("GOMIRROR_CONFIG"),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "watch output is not JSON ({e}):\n{stdout}\nstderr: {}\nserver log: {}",
                String::from_utf8_lossy(&out.stderr),
                self.srv.log()
            )
        });
        (out.status.code().unwrap_or(-1), v)
    }

    /// The same in the human form (printed, for the README).
    fn watch_human(&self, args: &[&str]) -> (i32, String) {
        let out = support::run(
            support::gomirror()
                .args(["watch", "--once", "--data-dir"])
                .arg(self.data_dir())
                .args(args)
                .env_remove("GOMIRROR_ALERT_WEBHOOKS")
                .env_remove("GOMIRROR_CDN_PURGE_WEBHOOK")
                .env_remove("GOMIRROR_CONFIG"),
        );
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("$ gomirror watch --once {}\n{s}", args.join(" "));
        (out.status.code().unwrap_or(-1), s)
    }
}

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"].as_array().unwrap().iter().collect()
}

/// A purge hook on loopback: records each request body and deletes every
/// file of the nginx cache directories it was given.
struct PurgeHook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl PurgeHook {
    fn start(cache_dirs: Vec<PathBuf>) -> PurgeHook {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/purge", l.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(vec![]));
        let b = bodies.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = vec![];
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(h) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse().unwrap())
                            .unwrap_or(0);
                        if buf.len() >= h + 4 + len {
                            break Some(buf[h + 4..h + 4 + len].to_vec());
                        }
                    }
                };
                if let Some(body) = body {
                    for d in &cache_dirs {
                        for f in files(d) {
                            let _ = std::fs::remove_file(f);
                        }
                    }
                    b.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        PurgeHook { url, bodies }
    }
}

#[test]
fn poisoned_nginx_cache_is_reported_purged_and_healed() {
    let origin = Origin::start();
    let cdn = Nginx::start(&origin.srv.url);
    origin.warm(&cdn);
    let cdn_url = format!("http://{}", cdn.addr());

    // A clean cache: nothing to report.
    let (code, r) = origin.watch(&["--cdn", &cdn_url]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["objects"], 9, "{r:#}");
    assert_eq!(r["fetches"], 9, "{r:#}");
    assert!(findings(&r).is_empty(), "{r:#}");

    // Poison two cached zips the way the incident did: damaged bodies
    // under correct headers.
    let size1 = origin.record(BIG1)["size"].as_u64().unwrap();
    let size2 = origin.record(BIG2)["size"].as_u64().unwrap();
    assert!(size1 > 3 << 20 && size2 > 2 << 20, "{size1} {size2}");
    flip_cached_body(&cdn.cache_file(BIG1).unwrap(), 1 << 20);
    let keep = size2 / 2;
    truncate_cached_body(&cdn.cache_file(BIG2).unwrap(), keep);

    let alerts = PurgeHook::start(vec![]);
    let (code, r) = origin.watch(&["--cdn", &cdn_url, "--alert-webhooks", &alerts.url]);
    assert_eq!(code, 1, "{r:#}");
    let mut f = findings(&r);
    f.sort_by_key(|x| x["key"].as_str().unwrap().to_owned());
    assert_eq!(f.len(), 2, "exactly the poisoned objects: {r:#}");
    let edge = cdn.addr();
    assert_eq!(f[0]["key"], &BIG1[1..]);
    assert_eq!(f[0]["kind"], "body_differs", "{r:#}");
    assert_eq!(f[0]["edge"], edge.as_str());
    assert_eq!(f[0]["received"], size1);
    assert_eq!(f[0]["content_length"], size1);
    assert_eq!(f[0]["url"], format!("{cdn_url}{BIG1}"));
    assert_ne!(f[0]["sha256"], f[0]["expected_sha256"]);
    assert_eq!(f[1]["key"], &BIG2[1..]);
    assert_eq!(f[1]["kind"], "truncated", "{r:#}");
    assert_eq!(f[1]["received"], keep);
    assert_eq!(f[1]["content_length"], size2);
    assert!(
        f[1]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("truncated after {keep} of {size2} bytes")),
        "{r:#}"
    );
    assert!(f.iter().all(|x| x["recheck"].is_null()));
    // Each finding went to the alert webhook as a `cdn` event.
    let mut events = alerts.bodies.lock().unwrap().clone();
    events.sort_by_key(|e| e["object"].as_str().unwrap_or("").to_owned());
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["kind"] == "cdn" && e["source"] == edge.as_str()));
    assert_eq!(events[0]["object"], format!("{cdn_url}{BIG1}"));
    assert!(events[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("body_differs: all "));
    assert!(events[1]["message"].as_str().unwrap().starts_with(&format!(
        "truncated: truncated after {keep} of {size2} bytes"
    )));

    // The human form (shown in the test output for the README).
    let (code, text) = origin.watch_human(&["--cdn", &cdn_url]);
    assert_eq!(code, 1);
    assert!(
        text.contains("body_differs") && text.contains("truncated after"),
        "{text}"
    );

    // With a purge hook the bad URLs are purged and re-checked: healed.
    let hook = PurgeHook::start(vec![cdn.cache_dir()]);
    let (code, r) = origin.watch(&[
        "--cdn",
        &cdn_url,
        "--cdn-purge-webhook",
        &hook.url,
        "--recheck-after",
        "1s",
    ]);
    assert_eq!(code, 1, "findings were made: {r:#}");
    let f = findings(&r);
    assert_eq!(f.len(), 2, "{r:#}");
    for x in &f {
        let rc = &x["recheck"];
        assert_eq!(rc["healed"], true, "{r:#}");
        assert_eq!(rc["message"], "healed by purge");
        assert_eq!(rc["purge"], "HTTP 200");
    }
    let bodies = hook.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "one purge call: {bodies:?}");
    let mut urls: Vec<&str> = bodies[0]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        vec![format!("{cdn_url}{BIG1}"), format!("{cdn_url}{BIG2}")]
    );

    // The same in the human form: poison again, purge, healed.
    flip_cached_body(&cdn.cache_file(BIG1).unwrap(), 1 << 20);
    let (code, text) = origin.watch_human(&[
        "--cdn",
        &cdn_url,
        "--cdn-purge-webhook",
        &hook.url,
        "--recheck-after",
        "1s",
    ]);
    assert_eq!(code, 1);
    assert!(
        text.contains("after purge (HTTP 200): healed by purge")
            && text.contains("1 finding(s), 1 healed by purge"),
        "{text}"
    );

    // And the next pass is clean.
    let (code, r) = origin.watch(&["--cdn", &cdn_url]);
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn only_the_poisoned_edge_is_named() {
    let origin = Origin::start();
    let edge1 = Nginx::start(&origin.srv.url);
    let edge2 = Nginx::start(&origin.srv.url);
    origin.warm(&edge1);
    origin.warm(&edge2);
    let size1 = origin.record(BIG1)["size"].as_u64().unwrap();
    truncate_cached_body(&edge2.cache_file(BIG1).unwrap(), 1 << 20);

    // Both edges behind one public name (with a port no edge listens on).
    let (e1, e2) = (edge1.addr(), edge2.addr());
    let (code, r) = origin.watch(&[
        "--cdn",
        "http://cdn.test:8443",
        "--edge",
        &e1,
        "--edge",
        &e2,
    ]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["fetches"], 18, "every object from each edge: {r:#}");
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["edge"], e2.as_str());
    assert_eq!(f[0]["kind"], "truncated");
    assert_eq!(f[0]["received"], 1 << 20);
    assert_eq!(f[0]["expected_size"], size1);
    assert_eq!(f[0]["url"], format!("http://cdn.test:8443{BIG1}"));

    // A sample: 4 objects per pass, the largest zips among them, and the
    // rotating half covers the rest over passes (one process: one pass).
    let (code, r) = origin.watch(&[
        "--cdn",
        "http://cdn.test",
        "--edge",
        &e1,
        "--edge",
        &e2,
        "--sample",
        "4",
    ]);
    assert_eq!(r["objects"], 4, "{r:#}");
    assert_eq!(code, 1, "the largest zip is always in the sample: {r:#}");
    assert_eq!(findings(&r)[0]["key"], &BIG1[1..]);
}

/// An edge that answers with the right status and Content-Length and then
/// only half of each body, and stalls (keeps the connection open, sends
/// nothing more): what a client sees as a truncated download.
struct StallingEdge {
    addr: String,
}

impl StallingEdge {
    /// Serves the stored objects of the data directory `data`.
    fn start(data: PathBuf) -> StallingEdge {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { return };
                let data = data.clone();
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        if c.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split_whitespace().nth(1).unwrap_or("/");
                    let body = support::try_stored_file(&data, &path[1..])
                        .and_then(|p| std::fs::read(p).ok())
                        .unwrap_or_default();
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = c.write_all(&body[..body.len() / 2]);
                    let _ = c.flush();
                    // Stall: hold the connection, send nothing more.
                    std::thread::sleep(Duration::from_secs(30));
                });
            }
        });
        StallingEdge { addr }
    }
}

/// A body that stalls short of its Content-Length is reported the way a
/// client experiences it: "truncated after N of M bytes", whatever ended the
/// transfer (here a stall, not a closed connection).
#[test]
fn a_stalled_body_is_reported_as_truncated() {
    let origin = Origin::start();
    for uri in &origin.uris {
        let (s, _) = get(origin.srv.url.trim_start_matches("http://"), uri);
        assert_eq!(s, 200, "{uri}");
    }
    let edge = StallingEdge::start(origin.data_dir());
    let (code, r) = origin.watch(&[
        "--cdn",
        "http://cdn.test",
        "--edge",
        &edge.addr,
        "--timeout",
        "1s",
        "--sample",
        "2",
    ]);
    assert_eq!(code, 1, "{r:#}");
    let f = findings(&r);
    assert!(!f.is_empty(), "{r:#}");
    for x in f {
        let (n, m) = (
            x["received"].as_u64().unwrap(),
            x["expected_size"].as_u64().unwrap(),
        );
        assert_eq!(x["kind"], "truncated", "{x:#}");
        let msg = x["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("truncated after {n} of {m} bytes")),
            "{msg}"
        );
    }
}

/// The same canary inside `gomirror serve` (GOMIRROR_WATCH_CDN): a second
/// server process over the origin's data finds the poisoned edge on its
/// own and exports it in /metrics and /-/events.
#[test]
fn the_server_runs_the_canary_when_configured() {
    let origin = Origin::start();
    let cdn = Nginx::start(&origin.srv.url);
    origin.warm(&cdn);
    let size = origin.record(BIG1)["size"].as_u64().unwrap();
    truncate_cached_body(&cdn.cache_file(BIG1).unwrap(), size / 3);
    let token_file = origin.data.path().join("token");
    std::fs::write(&token_file, "canary-admin-token-0123456789").unwrap();
    let watcher_cdn = format!("http://{}", cdn.addr());
    let watcher = Server::start(
        &origin.data_dir(),
        "off",
        &[
            "--watch-cdn",
            &watcher_cdn,
            "--watch-interval",
            "1s",
            "--watch-sample",
            "20",
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--scrub-rate",
            "0",
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fetch = |path: &str, token: Option<&str>| {
        rt.block_on(async {
            let mut r = support::http_client().get(format!("{}{path}", watcher.url));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap().text().await.unwrap()
        })
    };
    // Every edge's series exist from the start (at 0): the finding is the
    // one counted.
    let mut metrics = String::new();
    let found = |m: &str| {
        m.lines()
            .any(|l| l.starts_with("gomirror_cdn_findings_total{") && !l.ends_with(" 0"))
    };
    for _ in 0..100 {
        metrics = fetch("/metrics", None);
        if found(&metrics) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("gomirror_cdn_findings_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(
        lines.len() == 1
            && lines[0].contains("kind=\"truncated\"")
            && lines[0].contains(&format!("edge=\"{}\"", cdn.addr())),
        "canary findings exported: {lines:?}\n{}",
        watcher.log()
    );
    let events = fetch("/-/events", Some("canary-admin-token-0123456789"));
    assert!(
        events.contains("\"kind\": \"cdn\"") && events.contains("truncated after"),
        "{events}"
    );
}
