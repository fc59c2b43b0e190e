//! The checksum database: gomirror admits only what a (test) database on
//! loopback vouches for, detects a forked log, and proxies `/sumdb/` so the
//! real go command can verify through it.

mod support;

use std::path::Path;
use support::server::{ok, GoEnv, Server};
use support::sumdb::{TestSumdb, NAME};
use support::upstream::{publish, Fault, ModVersion, Upstream};

struct Published {
    path: &'static str,
    version: &'static str,
    zip_h1: String,
    mod_h1: String,
}

fn corpus(root: &Path) -> Vec<Published> {
    let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
    let mut out = vec![];
    for (path, version, extra) in [
        ("example.com/plain", "v1.0.0", "a"),
        ("example.com/plain", "v1.1.0", "b"),
        ("example.com/other", "v0.1.0", "c"),
    ] {
        let files = vec![
            ("go.mod", gomod(path)),
            ("x.go", format!("package x\n\n// {extra}\n").into_bytes()),
        ];
        let zip_h1 = publish(
            root,
            &ModVersion {
                path,
                version,
                files: files.clone(),
            },
        );
        let mod_h1 = gomod::dirhash::hash_go_mod(&files[0].1);
        out.push(Published {
            path,
            version,
            zip_h1,
            mod_h1,
        });
    }
    out
}

/// The corpus published by an upstream and recorded in a test database,
/// with a mirror (data in `data/d`) checking against that database.
struct Setup {
    db: TestSumdb,
    data: tempfile::TempDir,
    srv: Server,
    _up: Upstream,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn start() -> Setup {
        Setup::start_with(&[])
    }

    /// [`Setup::start`] with extra arguments for the server.
    fn start_with(extra: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let corpus = corpus(dir.path());
        let db = db_with(&corpus);
        let up = Upstream::start(dir.path());
        let data = tempfile::tempdir().unwrap();
        let gosumdb = format!("{} {}", db.vkey, db.url());
        let mut args = vec!["--gosumdb", gosumdb.as_str()];
        args.extend_from_slice(extra);
        let srv = Server::start(&data.path().join("d"), &up.url(), &args);
        Setup {
            db,
            data,
            srv,
            _up: up,
            _dir: dir,
        }
    }
}

fn db_with(corpus: &[Published]) -> TestSumdb {
    let db = TestSumdb::start();
    // Enough records that proofs span several tiles of height 8.
    db.add_filler(300);
    for p in corpus {
        db.add(p.path, p.version, &p.zip_h1, &p.mod_h1);
    }
    db
}

#[test]
fn go_command_verifies_through_the_mirror_and_tampered_zips_are_refused() {
    let good_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(good_dir.path());
    let db = db_with(&corpus);
    // A second upstream serving a tampered but valid zip of plain v1.0.0.
    let bad_dir = tempfile::tempdir().unwrap();
    publish(
        bad_dir.path(),
        &ModVersion {
            path: "example.com/plain",
            version: "v1.0.0",
            files: vec![
                ("go.mod", b"module example.com/plain\n\ngo 1.21\n".to_vec()),
                ("x.go", b"package x\n\n// tampered\n".to_vec()),
            ],
        },
    );
    let bad_zip = std::fs::read(bad_dir.path().join("example.com/plain/@v/v1.0.0.zip")).unwrap();
    let good = Upstream::start(good_dir.path());
    let bad = Upstream::start(good_dir.path());
    bad.set_fault("/example.com/plain/@v/v1.0.0.zip", Fault::Replace(bad_zip));
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start(
        &data.path().join("d"),
        &format!("{},{}", bad.url(), good.url()),
        &["--gosumdb", &gosumdb],
    );

    // 1. The go command talks to the database directly.
    let mut env = GoEnv::new(&srv.url);
    env.gosumdb = gosumdb.clone();
    let work = env.new_module("app");
    for p in &corpus {
        let out = ok(env.go(&work).args([
            "mod",
            "download",
            "-json",
            &format!("{}@{}", p.path, p.version),
        ]));
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["Sum"].as_str(), Some(p.zip_h1.as_str()), "{out}");
        assert_eq!(j["GoModSum"].as_str(), Some(p.mod_h1.as_str()), "{out}");
    }
    // The tampered zip was refused (never stored); the good one admitted
    // with the tree size that vouched for it.
    assert_eq!(bad.count("/example.com/plain/@v/v1.0.0.zip"), 1);
    assert_eq!(good.count("/example.com/plain/@v/v1.0.0.zip"), 1);
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            data.path()
                .join("d/objects/example.com/plain/@v/v1.0.0.zip.gmeta"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["h1"].as_str(), Some(corpus[0].zip_h1.as_str()));
    assert_eq!(meta["origin"].as_str(), Some(good.url().as_str()));
    assert!(meta["sumdb_tree_size"].as_u64().unwrap() >= 303, "{meta}");
    let log = srv.log();
    assert!(
        log.contains("sumdb_mismatch")
            && log.contains("but checksum database sumdb.test.example has"),
        "{log}"
    );

    // 2. GOSUMDB=<vkey> alone: the go command reaches the database through
    //    gomirror's /sumdb/ endpoints.
    let mut env2 = GoEnv::new(&srv.url);
    env2.gosumdb = db.vkey.clone();
    let work2 = env2.new_module("app");
    let before = db.requests("/tile/");
    let lookups = db.requests("/lookup/");
    for p in &corpus {
        let out = ok(env2.go(&work2).args([
            "mod",
            "download",
            "-json",
            &format!("{}@{}", p.path, p.version),
        ]));
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["Sum"].as_str(), Some(p.zip_h1.as_str()));
    }
    // The database name does not resolve: every lookup went through the
    // mirror's /sumdb/ proxy, which answered each with the answer it had
    // proved itself to admit the version (step 1, a moment ago).
    // (A request's line is logged once its answer went out: the go
    // command may have exited a moment before; waited for, ≤ 5 s.)
    let asked = || {
        srv.log()
            .lines()
            .filter(|l| l.contains(&format!("path=/sumdb/{NAME}/lookup/")))
            .count()
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while asked() < corpus.len() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(asked(), corpus.len(), "{}", srv.log());
    assert_eq!(db.requests("/lookup/"), lookups);
    let r = support::get_blocking(&format!("{}/sumdb/{NAME}/supported", srv.url));
    assert_eq!(r.0, 200);
    // Full tiles the mirror verified are cached: asking again costs the
    // database nothing.
    let tile = format!("{}/sumdb/{NAME}/tile/8/0/000", srv.url);
    assert_eq!(support::get_blocking(&tile).0, 200);
    let n = db.requests("/tile/8/0/000");
    let (status, body) = support::get_blocking(&tile);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 256 * 32);
    assert_eq!(db.requests("/tile/8/0/000"), n);
    assert!(db.requests("/tile/") >= before);
    // Another database name: 404.
    assert_eq!(
        support::get_blocking(&format!("{}/sumdb/sum.golang.org/latest", srv.url)).0,
        404
    );
}

#[test]
fn a_forked_database_is_detected_and_admission_refused() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let db = db_with(&corpus);
    let up = Upstream::start(dir.path());
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let mut first = Server::start(&data.path().join("d"), &up.url(), &["--gosumdb", &gosumdb]);
    // Admit one version: the mirror now remembers a verified tree, and
    // keeps remembering it across a restart.
    let (s, _) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.mod", first.url));
    assert_eq!(s, 200);
    assert!(data.path().join("d/objects/sumdb").exists());
    first.terminate(std::time::Duration::from_secs(10));
    let token_file = data.path().join("token");
    std::fs::write(&token_file, "fork-test-admin-token-123456").unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &[
            "--gosumdb",
            &gosumdb,
            "--admin-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    // The database forks: a bigger tree whose history differs.
    db.fork();
    let (s, body) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.1.0.mod", srv.url));
    assert_eq!(s, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("FORK"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(!data
        .path()
        .join("d/objects/example.com/plain/@v/v1.1.0.mod.gmeta")
        .exists());
    // The forked head is not passed on to clients either.
    assert_eq!(
        support::get_blocking(&format!("{}/sumdb/{NAME}/latest", srv.url)).0,
        502
    );
    assert!(srv.log().contains("alert=\"sumdb_fork\""), "{}", srv.log());
    // Recorded as an alert event.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let events = rt.block_on(async {
        let r = support::http_client()
            .get(format!("{}/-/events", srv.url))
            .bearer_auth("fork-test-admin-token-123456")
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    });
    assert!(events.contains("\"kind\": \"sumdb_fork\""), "{events}");
}

#[test]
fn database_down_strict_refuses_warn_admits_unverified() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let up = Upstream::start(dir.path());
    // A database address nothing listens on.
    let (_, vkey) = gomod::note::generate_key(NAME).unwrap();
    let gosumdb = format!("{vkey} http://127.0.0.1:9");
    let data = tempfile::tempdir().unwrap();
    let strict = Server::start(&data.path().join("s"), &up.url(), &["--gosumdb", &gosumdb]);
    let (s, body) =
        support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", strict.url));
    assert_eq!(s, 502);
    assert!(String::from_utf8_lossy(&body).contains("unreachable"));
    assert!(!data
        .path()
        .join("s/objects/example.com/plain/@v/v1.0.0.zip.gmeta")
        .exists());
    let warn = Server::start(
        &data.path().join("w"),
        &up.url(),
        &["--gosumdb", &gosumdb, "--sumdb-unreachable", "warn"],
    );
    let (s, _) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", warn.url));
    assert_eq!(s, 200);
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            data.path()
                .join("w/objects/example.com/plain/@v/v1.0.0.zip.gmeta"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(meta.get("sumdb_tree_size").is_none(), "{meta}");
    // GONOSUMDB modules are not checked at all.
    let private = Server::start(
        &data.path().join("p"),
        &up.url(),
        &["--gosumdb", &gosumdb, "--gonosumdb", "example.com/plain"],
    );
    assert_eq!(
        support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", private.url)).0,
        200
    );
    assert_eq!(
        support::get_blocking(&format!("{}/example.com/other/@v/v0.1.0.zip", private.url)).0,
        502
    );
}

#[test]
fn wrong_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let db = db_with(&corpus);
    let up = Upstream::start(dir.path());
    let (_, other_vkey) = gomod::note::generate_key(NAME).unwrap();
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--gosumdb", &format!("{other_vkey} {}", db.url())],
    );
    let (s, body) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", srv.url));
    assert_eq!(s, 502);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("invalid answer") && body.contains("signed tree"),
        "{body}"
    );
}

#[test]
fn truncated_tiles_are_rejected_and_stale_answers_served_when_down() {
    let setup = Setup::start();
    let (db, data, srv) = (&setup.db, &setup.data, &setup.srv);
    db.truncate_tiles(5);
    let (s, body) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", srv.url));
    assert_eq!(s, 502);
    assert!(
        String::from_utf8_lossy(&body).contains("invalid answer"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(!data
        .path()
        .join("d/objects/example.com/plain/@v/v1.0.0.zip.gmeta")
        .exists());
    db.truncate_tiles(0);
    assert_eq!(
        support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.zip", srv.url)).0,
        200
    );
    // Through the proxy while up, then down: latest, lookups and tiles are
    // served stale.
    let latest = support::get_blocking(&format!("{}/sumdb/{NAME}/latest", srv.url));
    let lookup_url = format!("{}/sumdb/{NAME}/lookup/example.com/plain@v1.0.0", srv.url);
    let lookup = support::get_blocking(&lookup_url);
    let partial = format!("{}/sumdb/{NAME}/tile/8/0/001.p/47", srv.url);
    let tile = support::get_blocking(&partial);
    let full_url = format!("{}/sumdb/{NAME}/tile/8/0/000", srv.url);
    let full = support::get_blocking(&full_url);
    assert_eq!((latest.0, lookup.0, tile.0, full.0), (200, 200, 200, 200));
    db.set_down(true);
    assert_eq!(
        support::get_blocking(&format!("{}/sumdb/{NAME}/latest", srv.url)),
        latest
    );
    assert_eq!(support::get_blocking(&lookup_url), lookup);
    assert_eq!(support::get_blocking(&partial), tile);
    assert_eq!(support::get_blocking(&full_url), full);
}

/// Rewrites a kept object and its record so that the record matches the
/// new bytes: rot (or tampering) that a sha256 check alone cannot see.
fn rewrite_kept(objects: &Path, key: &str, change: impl FnOnce(&mut Vec<u8>)) {
    use sha2::Digest;
    let data = objects.parent().unwrap();
    let path = support::stored_file(data, key);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let before = bytes.clone();
    change(&mut bytes);
    assert_ne!(bytes, before, "{key}: the change changed nothing");
    let rec_path = support::record_file(data, key);
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    rec["size"] = serde_json::json!(bytes.len());
    rec["sha256"] = serde_json::json!(hex::encode(sha2::Sha256::digest(&bytes)));
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&path, perm).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    std::fs::write(&rec_path, serde_json::to_vec(&rec).unwrap()).unwrap();
}

/// Stale `/sumdb/` answers are re-verified (signature, record proof, tile
/// hashes against the kept signed tree) before they are served, not only
/// compared with their record: a kept copy rewritten together with its
/// record is refused (502), while the untouched ones are served.
#[test]
fn stale_answers_are_reverified_before_they_are_served() {
    let setup = Setup::start();
    let (db, data, srv) = (&setup.db, &setup.data, &setup.srv);
    let latest_url = format!("{}/sumdb/{NAME}/latest", srv.url);
    let lookup_url = format!("{}/sumdb/{NAME}/lookup/example.com/plain@v1.0.0", srv.url);
    let other_url = format!("{}/sumdb/{NAME}/lookup/example.com/other@v0.1.0", srv.url);
    let partial_url = format!("{}/sumdb/{NAME}/tile/8/0/001.p/47", srv.url);
    for u in [&latest_url, &lookup_url, &other_url, &partial_url] {
        assert_eq!(support::get_blocking(u).0, 200, "{u}");
    }
    let other = support::get_blocking(&other_url);
    db.set_down(true);
    let objects = data.path().join("d/objects");
    // The record text of one lookup: another hash for the zip.
    rewrite_kept(
        &objects,
        &format!("sumdb/{NAME}/lookup/example.com/plain@v1.0.0"),
        |b| {
            let i = b.windows(3).position(|w| w == b"h1:").unwrap() + 3;
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        },
    );
    let (s, body) = support::get_blocking(&lookup_url);
    assert_eq!(s, 502, "{}", String::from_utf8_lossy(&body));
    // Another lookup, untouched, is still served stale.
    assert_eq!(support::get_blocking(&other_url), other);
    // One hash in the partial tile.
    rewrite_kept(&objects, &format!("sumdb/{NAME}/tile/8/0/001.p/47"), |b| {
        b[100] ^= 1
    });
    let (s, body) = support::get_blocking(&partial_url);
    assert_eq!(s, 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(support::get_blocking(&latest_url).0, 200);
    // The signed tree head itself: a changed tree hash fails its signature.
    rewrite_kept(&objects, &format!("sumdb/{NAME}/latest"), |b| {
        let i = b.iter().position(|&c| c == b'\n').unwrap() + 1;
        let j = i + b[i..].iter().position(|&c| c == b'\n').unwrap() + 1;
        b[j] = if b[j] == b'A' { b'B' } else { b'A' };
    });
    let (s, body) = support::get_blocking(&latest_url);
    assert_eq!(s, 502, "{}", String::from_utf8_lossy(&body));
}

/// Sends `GET <path>` exactly as written (no URL normalisation of dot
/// segments or escapes, as a hostile client would) and returns the status.
fn raw_status(base: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {path}: {text:?}"))
}

/// The `/sumdb/` pass-through forwards only what the go command asks for: a
/// well-formed lookup of a module the database is asked about, and tiles of
/// the go command's height. Dot segments, escaped query characters, other
/// heights and private (GOPRIVATE/GONOSUMDB) module names are refused
/// before anything reaches the database.
#[test]
fn sumdb_proxy_forwards_only_well_formed_public_paths() {
    let setup = Setup::start_with(&["--goprivate", "example.com/private"]);
    let (db, srv) = (&setup.db, &setup.srv);
    let good = format!("/sumdb/{NAME}/lookup/example.com/plain@v1.0.0");
    assert_eq!(raw_status(&srv.url, &good), 200);
    assert_eq!(
        raw_status(&srv.url, &format!("/sumdb/{NAME}/tile/8/0/000")),
        200
    );
    let before = db.requests("");
    for bad in [
        format!("/sumdb/{NAME}/lookup/../../latest@v1.0.0"),
        format!("/sumdb/{NAME}/lookup/example.com/../../../x@v1.0.0"),
        format!("/sumdb/{NAME}/lookup/%2e%2e/%2e%2e/latest@v1.0.0"),
        format!("/sumdb/{NAME}/lookup/example.com/plain%3Fx=1@v1.0.0"),
        format!("/sumdb/{NAME}/lookup/example.com/plain@v1.0.0%3Fx=1"),
        format!("/sumdb/{NAME}/lookup/example.com/plain@master"),
        format!("/sumdb/{NAME}/lookup/example.com/private/m@v1.0.0"),
        format!("/sumdb/{NAME}/tile/30/0/000"),
        format!("/sumdb/{NAME}/tile/2/0/000"),
    ] {
        assert_eq!(raw_status(&srv.url, &bad), 404, "{bad}");
    }
    assert_eq!(
        db.requests(""),
        before,
        "a refused path reached the database"
    );
    // A well-formed lookup the database does not know: its 404 is passed
    // on as a status line, not with the database's own text.
    let (s, body) = support::get_blocking(&format!(
        "{}/sumdb/{NAME}/lookup/example.com/unknown@v1.0.0",
        srv.url
    ));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(s, 404, "{body}");
    assert!(!body.contains("not found: example.com"), "{body}");
    assert!(body.contains("404"), "{body}");
}

/// The checksum database is asked while the body downloads, not after it:
/// with the upstream's zip stalled after a few bytes, the lookup has
/// already been made.
#[test]
fn the_lookup_overlaps_the_download() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path());
    let db = db_with(&corpus);
    let up = Upstream::start(dir.path());
    up.set_fault("/example.com/plain/@v/v1.0.0.zip", Fault::Stall(100));
    let data = tempfile::tempdir().unwrap();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let srv = Server::start(
        &data.path().join("d"),
        &up.url(),
        &["--gosumdb", &gosumdb, "--upstream-idle-timeout", "3s"],
    );
    let lookups = db.requests("/lookup/");
    let url = format!("{}/example.com/plain/@v/v1.0.0.zip", srv.url);
    let client = std::thread::spawn(move || support::get_blocking(&url));
    let start = std::time::Instant::now();
    while db.requests("/lookup/") == lookups && start.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        db.requests("/lookup/"),
        lookups + 1,
        "no lookup while the body was stalled"
    );
    assert!(!client.is_finished(), "the download had already ended");
    // The stalled body then fails (idle timeout): nothing is admitted.
    let (st, _) = client.join().unwrap();
    assert_ne!(st, 200);
}

/// Tiles a proof checked are remembered: a second lookup in the same tree
/// reads no tile again from the database (its records sit in partial
/// tiles at the right edge, which the store does not keep), as the go
/// command's own client does.
#[test]
fn a_lookup_reads_no_tile_it_checked_before() {
    let setup = Setup::start();
    let (db, srv) = (&setup.db, &setup.srv);
    let get = |p: &str| support::get_blocking(&format!("{}/{p}", srv.url)).0;
    assert_eq!(get("example.com/plain/@v/v1.0.0.mod"), 200);
    let (lookups, tiles) = (db.requests("/lookup/"), db.requests("/tile/"));
    assert!(tiles > 0, "the first proof read tiles");
    assert_eq!(get("example.com/plain/@v/v1.1.0.mod"), 200);
    assert_eq!(get("example.com/other/@v/v0.1.0.mod"), 200);
    assert_eq!(db.requests("/lookup/"), lookups + 2);
    assert_eq!(db.requests("/tile/"), tiles, "tiles read again");
}

/// The go command asks the `/sumdb/` proxy about a version right after the
/// mirror asked the database to admit it: the answer the mirror proved is
/// served, without asking the database again, and is kept, so that it is
/// served (re-verified) when the database is down.
#[test]
fn the_go_commands_lookup_is_answered_from_the_mirrors_own() {
    let setup = Setup::start();
    let (db, srv) = (&setup.db, &setup.srv);
    let (s, _) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.mod", srv.url));
    assert_eq!(s, 200);
    let lookups = db.requests("/lookup/");
    let url = format!("{}/sumdb/{NAME}/lookup/example.com/plain@v1.0.0", srv.url);
    let (s, body) = support::get_blocking(&url);
    assert_eq!(s, 200);
    let (_, straight) =
        support::get_blocking(&format!("{}/lookup/example.com/plain@v1.0.0", db.url()));
    assert!(body == straight, "the database's own answer");
    assert_eq!(
        db.requests("/lookup/"),
        lookups + 1,
        "only the request above"
    );
    // Kept meanwhile: served when the database is down.
    let key = format!("sumdb/{NAME}/lookup/example.com/plain@v1.0.0");
    support::stored_file(&setup.data.path().join("d"), &key);
    db.set_down(true);
    assert_eq!(support::get_blocking(&url), (200, body));
}
