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
