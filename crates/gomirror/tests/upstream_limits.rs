//! Hostile upstreams and fan-out (hardening review, issue 12, findings 4
//! and 5): a fetch has a total deadline that every client waiting on it
//! shares; big lists are capped and processed off the async threads; the
//! fetches in flight are bounded per upstream; not-found answers are
//! cached briefly. Each test failed before the fix.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::server::Server;
use support::upstream::{publish, Fault, ModVersion, Upstream};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `GET url`: status (0 on a transport error or a client timeout), body,
/// and when the answer was complete.
async fn get(c: reqwest::Client, url: String) -> (u16, String, Instant) {
    match c.get(&url).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            let b = r.text().await.unwrap_or_else(|e| format!("body: {e}"));
            (s, b, Instant::now())
        }
        Err(e) => (0, format!("{e}"), Instant::now()),
    }
}

fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

fn small_module(root: &Path, path: &str, version: &str) {
    publish(
        root,
        &ModVersion {
            path,
            version,
            files: vec![
                ("go.mod", format!("module {path}\n").into_bytes()),
                ("a.go", b"package a\n".to_vec()),
            ],
        },
    );
}

/// A `list` of `n` distinct valid versions, in a scrambled order.
fn big_list(n: usize) -> String {
    let mut out = String::with_capacity(n * 16);
    for i in 0..n {
        let j = (i * 7919) % n;
        out.push_str(&format!("v1.{}.{}\n", j / 1000, j % 1000));
    }
    out
}

/// An upstream dripping an `.info` one byte per second (never idle long
/// enough for the idle timeout) is cut off at the total deadline: the
/// client gets 504 "upstream timed out", and a second client that joined
/// the same fetch gets the same answer at the same time; the upstream was
/// asked once; the timeout is counted.
#[test]
fn a_dripping_upstream_ends_at_the_total_deadline_for_every_waiting_client() {
    let dir = tempfile::tempdir().unwrap();
    small_module(dir.path(), "example.com/drip", "v1.0.0");
    let up = Upstream::start(dir.path());
    let info = "/example.com/drip/@v/v1.0.0.info";
    up.set_fault(info, Fault::Drip(Duration::from_secs(1)));
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &[],
        &[("GOMIRROR_UPSTREAM_TOTAL_TIMEOUT", OsStr::new("3s"))],
    );
    let url = format!("{}{info}", srv.url);
    let rt = runtime();
    let (start, a, b) = rt.block_on(async {
        let c = client(Duration::from_secs(30));
        let start = Instant::now();
        let a = tokio::spawn(get(c.clone(), url.clone()));
        while up.count(info) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let b = tokio::spawn(get(c, url.clone()));
        (start, a.await.unwrap(), b.await.unwrap())
    });
    assert_eq!(a.0, 504, "{}", a.1);
    assert_eq!(b.0, 504, "{}", b.1);
    assert!(a.1.contains("timed out"), "{}", a.1);
    assert_eq!(a.1, b.1, "the joined client gets the same answer");
    let took = a.2 - start;
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(10),
        "answered after {took:?}, the deadline is 3s"
    );
    let apart = if b.2 > a.2 { b.2 - a.2 } else { a.2 - b.2 };
    assert!(
        apart < Duration::from_secs(1),
        "the joined client was answered {apart:?} apart"
    );
    assert_eq!(up.count(info), 1, "one fetch, shared");
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", srv.url));
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        support::metric(&metrics, "gomirror_upstream_timeouts_total", &[]) >= 1.0,
        "{metrics}"
    );
}

/// A `list` naming more versions than the cap is refused with a message
/// that says so.
#[test]
fn a_list_with_too_many_versions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("example.com/many/@v");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("list"), big_list(200_001)).unwrap();
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let (s, body) = support::get_blocking(&format!("{}/example.com/many/@v/list", srv.url));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(s, 502, "{body}");
    assert!(
        body.contains("more than 200000 versions"),
        "not a clear message: {body}"
    );
}

/// Big lists (half the cap: a few seconds of work each in a debug build)
/// are parsed, sorted and stored off the async threads: `/healthz` answers
/// while several are being processed, before any of them is done.
#[test]
fn health_answers_while_big_lists_are_processed() {
    const LISTS: usize = 8;
    const VERSIONS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let list = big_list(VERSIONS);
    for i in 0..LISTS {
        let d = dir.path().join(format!("example.com/big{i}/@v"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("list"), &list).unwrap();
    }
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let rt = runtime();
    let (health_done, lists) = rt.block_on(async {
        let c = client(Duration::from_secs(300));
        let lists: Vec<_> = (0..LISTS)
            .map(|i| {
                tokio::spawn(get(
                    c.clone(),
                    format!("{}/example.com/big{i}/@v/list", srv.url),
                ))
            })
            .collect();
        while (up.count_suffix("/@v/list") as usize) < LISTS {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The bodies are on their way: processing starts now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut health_done = Instant::now();
        for _ in 0..3 {
            let (s, b, t) = get(c.clone(), format!("{}/healthz", srv.url)).await;
            assert_eq!(s, 200, "{b}");
            health_done = t;
        }
        let mut out = vec![];
        for l in lists {
            out.push(l.await.unwrap());
        }
        (health_done, out)
    });
    let first_list = lists.iter().map(|l| l.2).min().unwrap();
    assert!(
        health_done < first_list,
        "/healthz finished {:?} after the first list",
        health_done - first_list
    );
    for (s, b, _) in &lists {
        assert_eq!(*s, 200, "{b}");
        assert_eq!(b.lines().count(), VERSIONS);
    }
}

/// 200 distinct cold paths at once: the upstream never sees more than the
/// per-upstream bound at a time, every request still succeeds (the rest
/// queue), and the gauges are exported.
#[test]
fn concurrent_fetches_are_bounded_per_upstream() {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("example.com/fan/@v");
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..N {
        std::fs::write(
            d.join(format!("v1.0.{i}.info")),
            format!("{{\"Version\":\"v1.0.{i}\",\"Time\":\"2024-01-02T03:04:05Z\"}}"),
        )
        .unwrap();
    }
    let up = Upstream::start(dir.path());
    up.set_delay_ms(100);
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &[],
        &[("GOMIRROR_UPSTREAM_CONCURRENCY", OsStr::new("8"))],
    );
    let rt = runtime();
    let answers = rt.block_on(async {
        let c = client(Duration::from_secs(120));
        let all: Vec<_> = (0..N)
            .map(|i| {
                tokio::spawn(get(
                    c.clone(),
                    format!("{}/example.com/fan/@v/v1.0.{i}.info", srv.url),
                ))
            })
            .collect();
        let mut out = vec![];
        for a in all {
            out.push(a.await.unwrap());
        }
        out
    });
    for (s, b, _) in &answers {
        assert_eq!(*s, 200, "{b}");
    }
    assert_eq!(up.total(), N as u64);
    let most = up.max_concurrent();
    assert!(
        most <= 8,
        "{most} upstream requests at once, the bound is 8"
    );
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", srv.url));
    let metrics = String::from_utf8_lossy(&metrics);
    for m in [
        "gomirror_upstream_fetches_in_flight",
        "gomirror_upstream_fetches_queued",
    ] {
        assert!(metrics.contains(m), "{m} missing:\n{metrics}");
    }
}

/// A fetch waiting in the queue whose only client went away never
/// reaches the upstream, and is counted as abandoned.
#[test]
fn a_queued_fetch_nobody_waits_for_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("example.com/q/@v");
    std::fs::create_dir_all(&d).unwrap();
    for v in ["v1.0.0", "v1.0.1"] {
        std::fs::write(
            d.join(format!("{v}.info")),
            format!("{{\"Version\":\"{v}\",\"Time\":\"2024-01-02T03:04:05Z\"}}"),
        )
        .unwrap();
    }
    let up = Upstream::start(dir.path());
    up.set_delay_ms(1500);
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &[],
        &[("GOMIRROR_UPSTREAM_CONCURRENCY", OsStr::new("1"))],
    );
    let (first, second) = (
        "/example.com/q/@v/v1.0.0.info",
        "/example.com/q/@v/v1.0.1.info",
    );
    let rt = runtime();
    let (a, b) = rt.block_on(async {
        let a = tokio::spawn(get(
            client(Duration::from_secs(30)),
            format!("{}{first}", srv.url),
        ));
        while up.count(first) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Queued behind the first; its client gives up.
        let b = get(
            client(Duration::from_millis(300)),
            format!("{}{second}", srv.url),
        )
        .await;
        (a.await.unwrap(), b)
    });
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(b.0, 0, "the client gave up: {}", b.1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(up.count(second), 0, "a fetch nobody waits for started");
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", srv.url));
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(
        support::metric(&metrics, "gomirror_upstream_fetches_abandoned_total", &[]),
        1.0,
        "{metrics}"
    );
}

/// Not-found answers are cached for GOMIRROR_NEGATIVE_TTL: 50 requests for
/// a missing list make one upstream GET (each answered with the same 404
/// message); after the TTL the upstream is asked again; a missing `.info`
/// and `@latest` likewise; an admin purge forgets them at once.
#[test]
fn not_found_answers_are_cached_briefly() {
    let dir = tempfile::tempdir().unwrap();
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let token = "negative-cache-test-token";
    let srv = Server::start_with_env(
        &data.path().join("d"),
        &up.url(),
        &[],
        &[
            ("GOMIRROR_NEGATIVE_TTL", OsStr::new("2s")),
            ("GOMIRROR_ADMIN_TOKEN", OsStr::new(token)),
        ],
    );
    let list = "/example.com/gone/@v/list";
    let rt = runtime();
    let c = client(Duration::from_secs(30));
    let get = |path: &str| {
        let (s, b, _) = rt.block_on(get(c.clone(), format!("{}{path}", srv.url)));
        (s, b)
    };
    let started = Instant::now();
    let (s, first) = get(list);
    assert_eq!(s, 404, "{first}");
    for _ in 1..50 {
        assert_eq!(get(list), (404, first.clone()));
    }
    for path in [
        "/example.com/gone/@v/v1.0.0.info",
        "/example.com/gone/@latest",
    ] {
        for _ in 0..10 {
            assert_eq!(get(path).0, 404);
        }
        assert_eq!(up.count(path), 1, "{path}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "too slow to test a 2s TTL: {:?}",
        started.elapsed()
    );
    assert_eq!(up.count(list), 1, "one upstream GET within the TTL");
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", srv.url));
    let metrics = String::from_utf8_lossy(&metrics);
    let negative = support::metric(
        &metrics,
        "gomirror_cache_requests_total",
        &[("outcome", "negative")],
    );
    assert_eq!(negative, 49.0 + 9.0 + 9.0, "{metrics}");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(get(list).0, 404);
    assert_eq!(up.count(list), 2, "asked again after the TTL");

    // The module appears; a purge makes it visible at once.
    small_module(dir.path(), "example.com/gone", "v1.0.0");
    assert_eq!(get(list).0, 404, "still cached as missing");
    let s = rt.block_on(async {
        c.post(format!("{}/-/purge/example.com/gone", srv.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(s, 200);
    assert_eq!(get(list), (200, "v1.0.0\n".to_owned()));
}
