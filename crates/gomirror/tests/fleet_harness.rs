//! The real peers of the fleet tests work as the fleet tests assume: a
//! 3-node Garage cluster (replication 3, quorum 2) that keeps serving with
//! a node down, a Redis that can be stopped and started again, and an
//! nginx balancer doing round robin over loopback backends.

mod support;

use std::time::Instant;
use support::balancer::Balancer;
use support::garage::Garage;
use support::redis::Redis;

#[test]
fn garage_cluster_replicates_and_serves_with_a_node_down() {
    let t = Instant::now();
    let mut g = Garage::start();
    eprintln!("garage cluster up in {:?}", t.elapsed());
    assert_eq!(g.nodes(), 3);
    assert_eq!(g.bucket(), "gomirror");
    assert_eq!(g.region(), "garage");
    assert!(g.key_id().starts_with("GK"), "{}", g.key_id());
    assert!(!g.secret().is_empty());

    // Written through node 0, read and listed through every node.
    g.put_via(0, "harness/a/x.txt", b"hello");
    g.put_via(0, "harness/a/y.txt", b"world");
    assert_eq!(
        g.get_via(0, "harness/a/x.txt").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        g.get_via(2, "harness/a/x.txt").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(g.get("harness/a/y.txt").as_deref(), Some(&b"world"[..]));
    for i in 0..3 {
        assert_eq!(
            g.list_via(i, "harness/a"),
            ["harness/a/x.txt", "harness/a/y.txt"],
            "node {i}"
        );
    }
    assert_eq!(g.get_via(1, "harness/a/none"), None);
    // Tampering: an object replaced in place.
    g.put("harness/a/y.txt", b"tampered");
    assert_eq!(
        g.get_via(2, "harness/a/y.txt").as_deref(),
        Some(&b"tampered"[..])
    );
    g.delete("harness/a/y.txt");
    assert_eq!(g.list("harness"), ["harness/a/x.txt"]);

    // The environment of a replica.
    let env = g.store_env(1, "fleet/r1");
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("GOMIRROR_STORE"), Some("s3://gomirror/fleet/r1"));
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(g.endpoint(1).as_str()));
    assert_eq!(get("AWS_REGION"), Some("garage"));
    assert_eq!(get("AWS_ACCESS_KEY_ID"), Some(g.key_id()));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY"), Some(g.secret()));
    assert_eq!(get("AWS_ALLOW_HTTP"), Some("true"));

    // Node 1 down: 2 of 3 still make a quorum for writes and reads.
    let t = Instant::now();
    g.stop_node(1);
    eprintln!("node 1 seen down in {:?}", t.elapsed());
    assert!(!g.is_running(1));
    assert!(g.try_get_via(1, "harness/a/x.txt").is_err());
    g.put_via(0, "harness/b.txt", b"while node 1 was down");
    assert_eq!(
        g.get_via(2, "harness/b.txt").as_deref(),
        Some(&b"while node 1 was down"[..])
    );
    assert_eq!(
        g.get_via(0, "harness/a/x.txt").as_deref(),
        Some(&b"hello"[..])
    );

    // Back: it serves what was written while it was away.
    let t = Instant::now();
    g.start_node(1);
    eprintln!("node 1 back in {:?}", t.elapsed());
    assert_eq!(
        g.get_via(1, "harness/b.txt").as_deref(),
        Some(&b"while node 1 was down"[..])
    );

    // Two nodes down: no quorum, an outage (Garage: 503 "Could not reach
    // quorum").
    g.stop_node(1);
    g.stop_node(2);
    let err = g
        .try_get_via(0, "harness/a/x.txt")
        .expect_err("a read without quorum");
    eprintln!("a read without quorum: {err}");
    assert!(err.contains("Could not reach quorum"), "{err}");
    let err = g
        .try_put_via(0, "harness/c.txt", b"x")
        .expect_err("a write without quorum");
    assert!(err.contains("Could not reach quorum"), "{err}");
    g.start_node(2);
    assert_eq!(
        g.get_via(2, "harness/a/x.txt").as_deref(),
        Some(&b"hello"[..])
    );
}

#[test]
fn redis_stops_and_starts_again_on_its_port() {
    let mut r = Redis::new();
    assert_eq!(r.url(), format!("redis://127.0.0.1:{}/", r.port()));
    assert_eq!(r.cli(&["PING"]), "PONG");
    assert_eq!(r.cli(&["SET", "k", "v"]), "OK");
    assert_eq!(r.cli(&["GET", "k"]), "v");
    assert!(r.try_cli(&["NOSUCHCOMMAND"]).is_err());

    r.stop();
    assert!(!r.is_running());
    let err = r.try_cli(&["PING"]).expect_err("PING with the server down");
    assert!(err.contains("refused"), "{err}");

    let port = r.port();
    r.start();
    assert_eq!(r.port(), port);
    assert_eq!(r.cli(&["PING"]), "PONG");
    // Nothing persisted.
    assert_eq!(r.cli(&["GET", "k"]), "");
}

/// A tiny backend answering every request with its name and the Host it
/// got; the runtime serves it until dropped.
fn backend(name: &'static str) -> (tokio::runtime::Runtime, String) {
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap| async move {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        format!("{name} host={host}")
    });
    let (rt, addr) = support::serve_app("127.0.0.1", 1, app);
    (rt, format!("http://{addr}"))
}

fn get(bal: &Balancer, path: &str) -> (u16, String, String) {
    let (status, head, body) =
        support::http10_get(&bal.addr(), path, &[]).expect("a request to the balancer");
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn balancer_round_robins_and_switches_backends() {
    let (_rt_a, a) = backend("A");
    let (_rt_b, b) = backend("B");
    let mut bal = Balancer::start(&[&a, &b]);
    assert!(bal.url().starts_with("http://127.0.0.1:"), "{}", bal.url());

    let answers: Vec<String> = (0..6)
        .map(|_| {
            let (status, head, body) = get(&bal, "/example.com/m/@v/list");
            assert_eq!(status, 200, "{head}\n{body}");
            // The client's Host reaches the backend.
            assert_eq!(
                body.split_once(' ').unwrap().1,
                format!("host={}", bal.addr())
            );
            assert!(head.contains("X-Upstream-Addr: 127.0.0.1:"), "{head}");
            body.split(' ').next().unwrap().to_owned()
        })
        .collect();
    // Strict alternation: A B A B ... or B A B A ...
    for w in answers.windows(2) {
        assert_ne!(w[0], w[1], "{answers:?}");
    }
    assert!(bal.access_log().contains("upstream=127.0.0.1:"));

    // One backend only.
    bal.set_backends(&[&b]);
    for _ in 0..4 {
        assert!(get(&bal, "/x").2.starts_with("B "));
    }

    // A backend that is down is skipped: every request still answered.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    bal.set_backends(&[&dead, &a]);
    assert_eq!(
        bal.backends(),
        [&dead["http://".len()..], &a["http://".len()..]]
    );
    for _ in 0..4 {
        let (status, _, body) = get(&bal, "/x");
        assert_eq!(status, 200);
        assert!(body.starts_with("A "), "{body}");
    }

    // No backend: 502.
    bal.set_backends::<&str>(&[]);
    assert_eq!(get(&bal, "/x").0, 502);
}
