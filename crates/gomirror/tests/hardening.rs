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
