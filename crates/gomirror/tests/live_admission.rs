//! Live admission: a client waiting for a cold zip receives its bytes while
//! they arrive from the upstream, and the end only once admission decided
//! — a copy that is refused never ends cleanly, and a second attempt's
//! bytes continue a stream only where they agree with what was sent.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::server::Server;
use support::upstream::{publish, Fault, ModVersion, Upstream};

/// `n` incompressible bytes (xorshift from the state `x`).
fn noise(x: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x as u8
        })
        .collect()
}

/// Publishes a module whose zip is about `mib` MiB (incompressible), and
/// returns the zip's URL path and bytes.
fn big_module(root: &Path, path: &'static str, mib: usize) -> (String, Vec<u8>) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let blob = noise(&mut x, mib << 20);
    publish(
        root,
        &ModVersion {
            path,
            version: "v1.0.0",
            files: vec![
                ("go.mod", format!("module {path}\n\ngo 1.21\n").into_bytes()),
                ("blob.bin", blob),
            ],
        },
    );
    let rel = format!("/{path}/@v/v1.0.0.zip");
    let zip = std::fs::read(root.join(rel.trim_start_matches('/'))).unwrap();
    (rel, zip)
}

/// What a client read: the bytes before the body ended, and whether it
/// ended cleanly.
struct Read {
    bytes: Vec<u8>,
    clean: bool,
    live: bool,
}

/// Publishes a module of `files` incompressible files of `kib` KiB each.
fn many_files_module(
    root: &Path,
    path: &'static str,
    files: usize,
    kib: usize,
) -> (String, Vec<u8>) {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let names: Vec<String> = (0..files).map(|i| format!("f{i:04}.bin")).collect();
    let mut tree = vec![("go.mod", format!("module {path}\n\ngo 1.21\n").into_bytes())];
    for n in &names {
        tree.push((n.as_str(), noise(&mut x, kib << 10)));
    }
    publish(
        root,
        &ModVersion {
            path,
            version: "v1.0.0",
            files: tree,
        },
    );
    let rel = format!("/{path}/@v/v1.0.0.zip");
    let zip = std::fs::read(root.join(rel.trim_start_matches('/'))).unwrap();
    (rel, zip)
}

/// A mirror (data under `data`) in front of two upstreams serving `dir`,
/// the first with `rel` corrupt; and `n` clients fetching `rel` through it
/// at once.
fn corrupt_then_good(
    dir: &Path,
    data: &Path,
    rel: &str,
    n: usize,
) -> (Upstream, Upstream, Server, Vec<Read>) {
    let bad = Upstream::start(dir);
    let good = Upstream::start(dir);
    bad.set_fault(rel, Fault::Corrupt);
    let srv = Server::start(
        &data.join("d"),
        &format!("{},{}", bad.url(), good.url()),
        &[],
    );
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let url = format!("{}{rel}", srv.url);
            std::thread::spawn(move || get_streaming(&url, |_| {}))
        })
        .collect();
    let reads = clients.into_iter().map(|c| c.join().unwrap()).collect();
    (bad, good, srv, reads)
}

/// GETs `url`, calling `on_progress` with the bytes received so far after
/// each chunk (bounded by a 60 s limit).
fn get_streaming(url: &str, mut on_progress: impl FnMut(usize)) -> Read {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = support::http_client().get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let live = r.headers().get("x-gomirror-live").is_some();
        let mut bytes = vec![];
        let limit = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < limit, "download did not end");
            match tokio::time::timeout(Duration::from_secs(30), r.chunk()).await {
                Ok(Ok(Some(c))) => {
                    bytes.extend_from_slice(&c);
                    on_progress(bytes.len());
                }
                Ok(Ok(None)) => {
                    return Read {
                        bytes,
                        clean: true,
                        live,
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    return Read {
                        bytes,
                        clean: false,
                        live,
                    }
                }
            }
        }
    })
}

/// The first upstream sends 12 MiB of a 16 MiB zip (one large entry) and
/// stalls: the client already has most of those bytes (all but the 4 MiB
/// the release lags behind the digest inside a large entry) while the
/// mirror still waits on it — before the second upstream was even asked —
/// and then receives the rest from the second upstream, whose bytes agree
/// with what was sent.
#[test]
fn a_cold_zip_streams_while_it_arrives_and_continues_from_the_next_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, zip) = big_module(dir.path(), "example.com/big", 16);
    let stalling = Upstream::start(dir.path());
    let good = Upstream::start(dir.path());
    stalling.set_fault(&rel, Fault::Stall(12 << 20));
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &format!("{},{}", stalling.url(), good.url()),
        &["--upstream-idle-timeout", "2s", "--upstream-retries", "0"],
    );
    let mut asked_good_before_6mib = None;
    let got = get_streaming(&format!("{}{rel}", srv.url), |n| {
        if n >= 6 << 20 && asked_good_before_6mib.is_none() {
            asked_good_before_6mib = Some(good.count(&rel) > 0);
        }
    });
    assert!(got.live, "a cold 16 MiB zip is served live");
    assert_eq!(
        asked_good_before_6mib,
        Some(false),
        "6 MiB reached the client while the first upstream stalled"
    );
    assert!(got.clean, "the stream completes once the zip is admitted");
    assert!(got.bytes == zip, "the client got exactly the zip");
    assert_eq!((stalling.count(&rel), good.count(&rel)), (1, 1));
    // Its record is the zip's: the SHA-256 computed behind the download
    // (after the client had its end) is of the bytes kept.
    let (d, key) = (data.path().join("d"), rel.trim_start_matches('/'));
    assert!(std::fs::read(support::stored_file(&d, key)).unwrap() == zip);
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::record_file(&d, key)).unwrap()).unwrap();
    use sha2::Digest;
    assert_eq!(rec["sha256"], hex::encode(sha2::Sha256::digest(&zip)));
    assert_eq!(rec["size"], zip.len() as u64);
    // Admitted and stored: the next client is served from the cache.
    let (status, again) = support::get_blocking(&format!("{}{rel}", srv.url));
    assert_eq!(status, 200);
    assert!(again == zip);
    assert_eq!(good.count(&rel), 1, "{}", srv.log());
}

/// The only upstream's copy is corrupt: the client may get all of it but
/// its end, never a body that ends cleanly; nothing is stored.
#[test]
fn a_refused_copy_never_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, zip) = big_module(dir.path(), "example.com/bad", 6);
    let up = Upstream::start(dir.path());
    up.set_fault(&rel, Fault::Corrupt);
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let got = get_streaming(&format!("{}{rel}", srv.url), |_| {});
    assert!(got.live);
    assert!(!got.clean, "a refused copy's stream must not end cleanly");
    assert!(got.bytes.len() < zip.len(), "its end was held back");
    assert!(
        !support::record_file(&data.path().join("d"), &rel[1..]).exists(),
        "the corrupt zip was admitted"
    );
    // Later clients (no live copy in flight) get the error status.
    let (status, _) = support::get_blocking(&format!("{}{rel}", srv.url));
    assert!(status >= 500, "{status}");
}

/// The first upstream's copy is corrupt in its middle, the second's good:
/// a client either gets exactly the good zip or a broken transfer (when it
/// was already sent bytes the good copy does not have) — never a complete
/// body that is not the admitted zip. The good copy is stored.
#[test]
fn a_second_copy_continues_a_stream_only_where_it_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, zip) = big_module(dir.path(), "example.com/flip", 6);
    let data = tempfile::tempdir().unwrap();
    let (_bad, _good, srv, reads) = corrupt_then_good(dir.path(), data.path(), &rel, 4);
    for got in reads {
        if got.clean {
            assert!(got.bytes == zip, "a complete body that is not the zip");
        } else {
            assert!(got.bytes.len() < zip.len());
        }
    }
    let (status, again) = support::get_blocking(&format!("{}{rel}", srv.url));
    assert_eq!(status, 200);
    assert!(again == zip);
}

/// A corrupt byte inside a small entry is caught (its CRC-32) before any
/// live client is sent it: the first upstream's copy is refused, the
/// second's continues every stream seamlessly, and each client gets
/// exactly the zip.
#[test]
fn a_corrupt_small_entry_is_caught_before_any_client_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, zip) = many_files_module(dir.path(), "example.com/many", 128, 64);
    assert!(zip.len() > 8 << 20);
    let data = tempfile::tempdir().unwrap();
    let (bad, good, srv, reads) = corrupt_then_good(dir.path(), data.path(), &rel, 3);
    for got in reads {
        assert!(got.live);
        assert!(got.clean, "a client was broken off:\n{}", srv.log());
        assert!(got.bytes == zip, "a complete body that is not the zip");
    }
    assert_eq!((bad.count(&rel), good.count(&rel)), (1, 1));
}
