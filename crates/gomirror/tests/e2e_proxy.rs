//! End-to-end: the real `go` command → gomirror (a real process) → an
//! upstream that is a real HTTP server on loopback serving module files
//! built with `gomod`, some of them deliberately broken.

mod support;

use std::path::Path;
use std::time::Duration;
use support::server::{ok, GoEnv, Server};
use support::upstream::{publish, Fault, ModVersion, Upstream};

const GO_FILE: &[u8] =
    b"package plain\n\n// Hello says hello.\nfunc Hello() string { return \"hello\" }\n";

/// Publishes the test corpus under `root`; returns (module, version, h1).
fn corpus(root: &Path) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![];
    let mut add =
        |path: &'static str, version: &'static str, files: Vec<(&'static str, Vec<u8>)>| {
            let h1 = publish(
                root,
                &ModVersion {
                    path,
                    version,
                    files,
                },
            );
            out.push((path, version, h1));
        };
    let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
    add(
        "example.com/plain",
        "v1.0.0",
        vec![
            ("go.mod", gomod("example.com/plain")),
            ("plain.go", GO_FILE.to_vec()),
        ],
    );
    add(
        "example.com/plain",
        "v1.1.0",
        vec![
            ("go.mod", gomod("example.com/plain")),
            ("plain.go", GO_FILE.to_vec()),
            ("LICENSE", b"MIT\n".to_vec()),
        ],
    );
    // v2+ without go.mod: +incompatible.
    add(
        "example.com/incompat",
        "v2.0.0+incompatible",
        vec![("incompat.go", b"package incompat\n".to_vec())],
    );
    add(
        "example.com/major/v2",
        "v2.1.0",
        vec![
            ("go.mod", gomod("example.com/major/v2")),
            ("m.go", b"package major\n".to_vec()),
        ],
    );
    add(
        "example.com/pre",
        "v0.1.0-beta.1",
        vec![
            ("go.mod", gomod("example.com/pre")),
            ("pre.go", b"package pre\n".to_vec()),
        ],
    );
    add(
        "example.com/nogomod",
        "v1.0.0",
        vec![("n.go", b"package nogomod\n".to_vec())],
    );
    add(
        "example.com/Upper/Case",
        "v1.0.0",
        vec![
            ("go.mod", gomod("example.com/Upper/Case")),
            ("c.go", b"package Case\n".to_vec()),
        ],
    );
    // A large zip (random, incompressible) to exercise streaming paths.
    let mut big = vec![0u8; 6 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    add(
        "example.com/big",
        "v1.0.0",
        vec![
            ("go.mod", gomod("example.com/big")),
            ("big.go", b"package big\n".to_vec()),
            ("blob.bin", big),
        ],
    );
    out
}

fn download_json(env: &GoEnv, cwd: &Path, mv: &str) -> serde_json::Value {
    let out = ok(env.go(cwd).args(["mod", "download", "-json", mv]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("go mod download -json {mv}: {e}: {out}"))
}

#[test]
fn go_command_downloads_everything_through_the_mirror() {
    let up_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    for (path, version, h1) in &corpus {
        let j = download_json(&env, &work, &format!("{path}@{version}"));
        assert_eq!(
            j["Sum"].as_str(),
            Some(h1.as_str()),
            "{path}@{version}: {j}"
        );
        assert!(j["Error"].is_null(), "{j}");
    }
    // list, through the mirror
    let out = ok(env
        .go(&work)
        .args(["list", "-m", "-versions", "example.com/plain"]));
    assert_eq!(out.trim(), "example.com/plain v1.0.0 v1.1.0");
    let out = ok(env
        .go(&work)
        .args(["list", "-m", "-versions", "example.com/Upper/Case"]));
    assert_eq!(out.trim(), "example.com/Upper/Case v1.0.0");
    // go get + build
    std::fs::write(
        work.join("main.go"),
        "package main\n\nimport \"example.com/plain\"\n\nfunc main() { println(plain.Hello()) }\n",
    )
    .unwrap();
    ok(env.go(&work).args(["get", "example.com/plain@latest"]));
    let gomod = std::fs::read_to_string(work.join("go.mod")).unwrap();
    assert!(gomod.contains("example.com/plain v1.1.0"), "{gomod}");
    ok(env.go(&work).args(["build", "./..."]));
    // prerelease-only module: @latest resolves to the prerelease
    ok(env.go(&work).args(["get", "example.com/pre@latest"]));
    let gomod = std::fs::read_to_string(work.join("go.mod")).unwrap();
    assert!(gomod.contains("example.com/pre v0.1.0-beta.1"), "{gomod}");

    // A second client, clean cache: served from the mirror's cache, the
    // upstream sees no new zip request.
    let zips_before = up.count_suffix(".zip");
    let env2 = GoEnv::new(&srv.url);
    let work2 = env2.new_module("app2");
    for (path, version, h1) in &corpus {
        let j = download_json(&env2, &work2, &format!("{path}@{version}"));
        assert_eq!(j["Sum"].as_str(), Some(h1.as_str()));
    }
    assert_eq!(
        up.count_suffix(".zip"),
        zips_before,
        "cached zips were fetched again"
    );
}

#[test]
fn file_url_upstream() {
    let up_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(
        &data.path().join("d"),
        &format!("file://{}", up_dir.path().display()),
        &[],
    );
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    for (path, version, h1) in corpus.iter().take(3) {
        let j = download_json(&env, &work, &format!("{path}@{version}"));
        assert_eq!(j["Sum"].as_str(), Some(h1.as_str()));
    }
    let out = ok(env
        .go(&work)
        .args(["list", "-m", "-versions", "example.com/plain"]));
    assert_eq!(out.trim(), "example.com/plain v1.0.0 v1.1.0");
}

/// The incident: a 200 with correct headers, then a cut or corrupted body.
#[test]
fn broken_upstream_is_refused_and_the_next_one_serves() {
    let good_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(good_dir.path());
    let bad = Upstream::start(good_dir.path());
    let good = Upstream::start(good_dir.path());
    let big_zip = "/example.com/big/@v/v1.0.0.zip";
    let plain_zip = "/example.com/plain/@v/v1.0.0.zip";
    bad.set_fault(big_zip, Fault::Truncate(3 << 20));
    bad.set_fault(plain_zip, Fault::Corrupt);
    let data = tempfile::tempdir().unwrap();
    // `,`: the go command's rule would stop at a non-404 error; content that
    // fails admission always moves on to the next upstream.
    let srv = Server::start(
        &data.path().join("d"),
        &format!("{},{}", bad.url(), good.url()),
        &["--upstream-retries", "1"],
    );
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    for (path, version) in [
        ("example.com/big", "v1.0.0"),
        ("example.com/plain", "v1.0.0"),
    ] {
        let h1 = &corpus
            .iter()
            .find(|c| c.0 == path && c.1 == version)
            .unwrap()
            .2;
        let j = download_json(&env, &work, &format!("{path}@{version}"));
        assert_eq!(j["Sum"].as_str(), Some(h1.as_str()));
    }
    // The bad upstream was asked (and retried for the truncation), the
    // good one served.
    assert_eq!(
        bad.count(big_zip),
        2,
        "one attempt + one retry of the truncated body"
    );
    assert_eq!(
        bad.count(plain_zip),
        1,
        "corrupt content is not retried on the same upstream"
    );
    assert_eq!(good.count(big_zip), 1);
    assert_eq!(good.count(plain_zip), 1);
    let log = srv.log();
    assert!(
        log.contains("truncated after 3145728 of 6293900 bytes"),
        "{log}"
    );

    // With only the bad upstream: the go command fails, nothing is cached.
    let data2 = tempfile::tempdir().unwrap();
    let srv2 = Server::start(
        &data2.path().join("d"),
        &bad.url(),
        &["--upstream-retries", "0"],
    );
    let env2 = GoEnv::new(&srv2.url);
    let work2 = env2.new_module("app");
    let out =
        support::run(
            env2.go(&work2)
                .args(["mod", "download", "-json", "example.com/big@v1.0.0"]),
        );
    assert!(!out.status.success());
    let d2 = data2.path().join("d");
    assert!(
        !support::record_file(&d2, "example.com/big/@v/v1.0.0.zip").exists(),
        "a truncated zip was admitted"
    );
    assert!(
        support::key_files(&d2, "example.com/big/@v/v1.0.0.zip").is_empty(),
        "a truncated zip was stored"
    );
    let out = support::run(env2.go(&work2).args([
        "mod",
        "download",
        "-json",
        "example.com/plain@v1.0.0",
    ]));
    assert!(!out.status.success());
    assert!(!support::record_file(&d2, "example.com/plain/@v/v1.0.0.zip").exists());
}

/// Flip a byte of stored zips (small and large): the next download through
/// the mirror still succeeds with the right hash, and the object is healed.
#[test]
fn cache_rot_is_detected_and_healed() {
    let up_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    for (path, version) in [
        ("example.com/big", "v1.0.0"),
        ("example.com/plain", "v1.0.0"),
    ] {
        let h1 = corpus
            .iter()
            .find(|c| c.0 == path && c.1 == version)
            .unwrap()
            .2
            .clone();
        let mv = format!("{path}@{version}");
        assert_eq!(
            download_json(&env, &work, &mv)["Sum"].as_str(),
            Some(h1.as_str())
        );
        // Serve it once more so that the stored copy is known-verified.
        env.clean_modcache();
        assert_eq!(
            download_json(&env, &work, &mv)["Sum"].as_str(),
            Some(h1.as_str())
        );
        let key = format!("{path}/@v/{version}.zip");
        let stored = support::stored_file(&data.path().join("d"), &key);
        let mut bytes = std::fs::read(&stored).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&stored, &bytes).unwrap();
        env.clean_modcache();
        let before = up.count(&format!("/{path}/@v/{version}.zip"));
        assert_eq!(
            download_json(&env, &work, &mv)["Sum"].as_str(),
            Some(h1.as_str()),
            "{mv} after rot"
        );
        assert_eq!(
            up.count(&format!("/{path}/@v/{version}.zip")),
            before + 1,
            "{mv}: healed from upstream"
        );
        // Healed on disk: the stored bytes match the record again.
        let healed = std::fs::read(support::stored_file(&data.path().join("d"), &key)).unwrap();
        assert_ne!(healed, bytes);
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(support::record_file(&data.path().join("d"), &key)).unwrap(),
        )
        .unwrap();
        use sha2::Digest;
        assert_eq!(
            meta["sha256"].as_str().unwrap(),
            hex::encode(sha2::Sha256::digest(&healed))
        );
        // The rotten copy is kept in quarantine for inspection.
        let q = data.path().join(format!("d/quarantine/{path}/@v"));
        assert!(
            std::fs::read_dir(&q).unwrap().count() > 0,
            "nothing quarantined in {}",
            q.display()
        );
    }
}

#[test]
fn kill_9_during_admission_leaves_nothing_half_written() {
    let up_dir = tempfile::tempdir().unwrap();
    let corpus = corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let big_zip = "/example.com/big/@v/v1.0.0.zip";
    // The upstream stalls mid-body so the kill lands during admission.
    up.set_fault(big_zip, Fault::Stall(2 << 20));
    let data = tempfile::tempdir().unwrap();
    let dd = data.path().join("d");
    let mut srv = Server::start(&dd, &up.url(), &[]);
    let url = format!("{}{big_zip}", srv.url);
    let t = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(r) = support::http_client()
                .get(&url)
                .timeout(Duration::from_secs(20))
                .send()
                .await
            {
                let _ = r.bytes().await;
            }
        });
    });
    // Wait until a staging file holds data, then kill -9.
    let tmp = dd.join("tmp");
    let start = std::time::Instant::now();
    loop {
        let staged: u64 = std::fs::read_dir(&tmp)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        if staged >= 1 << 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "admission never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    srv.kill9();
    t.join().unwrap();
    assert!(
        std::fs::read_dir(&tmp).unwrap().count() > 0,
        "the crash left a staging file (the test needs one)"
    );
    assert!(!support::record_file(&dd, "example.com/big/@v/v1.0.0.zip").exists());
    // Restart: staging is emptied, and the download is correct.
    up.clear_faults();
    let srv = Server::start(&dd, &up.url(), &[]);
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "stray temp files after start-up"
    );
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    let h1 = &corpus.iter().find(|c| c.0 == "example.com/big").unwrap().2;
    assert_eq!(
        download_json(&env, &work, "example.com/big@v1.0.0")["Sum"].as_str(),
        Some(h1.as_str())
    );
}

#[test]
fn singleflight_fetches_a_missing_zip_once() {
    let up_dir = tempfile::tempdir().unwrap();
    corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    up.set_delay_ms(300);
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    let url = format!("{}/example.com/big/@v/v1.0.0.zip", srv.url);
    let want = std::fs::read(up_dir.path().join("example.com/big/@v/v1.0.0.zip")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies = rt.block_on(async {
        let client = support::http_client();
        let mut tasks = vec![];
        for _ in 0..50 {
            let (c, u) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let r = c
                    .get(&u)
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap()
            }));
        }
        let mut out = vec![];
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    for b in &bodies {
        assert!(b[..] == want[..], "a waiter got different bytes");
    }
    assert_eq!(
        up.count("/example.com/big/@v/v1.0.0.zip"),
        1,
        "exactly one upstream fetch"
    );
}

/// A mirror offline by design (`--goproxy off`) serves what it has and
/// answers 404 for the rest, so that the go command falls through to the
/// next entry of its GOPROXY list; it is ready without any upstream.
#[test]
fn an_offline_mirror_answers_404_and_the_go_command_falls_through() {
    let up_dir = tempfile::tempdir().unwrap();
    let sums = corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), "off", &[]);
    let (status, body) =
        support::get_blocking(&format!("{}/example.com/plain/@v/v1.0.0.info", srv.url));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("GOPROXY=off"), "{body}");
    let (status, body) = support::get_blocking(&format!("{}/readyz", srv.url));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // The go command: the mirror first, then the upstream.
    let env = GoEnv::new(&format!("{},{}", srv.url, up.url()));
    let got = download_json(&env, env.dir.path(), "example.com/plain@v1.0.0");
    let (_, _, h1) = sums
        .iter()
        .find(|(p, v, _)| *p == "example.com/plain" && *v == "v1.0.0")
        .unwrap();
    assert_eq!(got["Sum"], h1.as_str(), "{got}");
    assert_eq!(up.count("/example.com/plain/@v/v1.0.0.zip"), 1);
}

/// `GOPROXY=<mirror>/cached-only` answers from the store alone: versions
/// stored are served (list and `@latest` from them), anything else is 404
/// so the go command falls through; the upstream is never asked.
#[test]
fn cached_only_never_asks_the_upstream() {
    let up_dir = tempfile::tempdir().unwrap();
    let sums = corpus(up_dir.path());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &[]);
    // The cache holds example.com/plain v1.0.0 only (v1.1.0 exists upstream).
    let env = GoEnv::new(&srv.url);
    download_json(&env, env.dir.path(), "example.com/plain@v1.0.0");
    let asked = up.total();
    let cached = GoEnv::new(&format!("{}/cached-only", srv.url));
    let got = download_json(&cached, cached.dir.path(), "example.com/plain@v1.0.0");
    let h1 = &sums
        .iter()
        .find(|(p, v, _)| *p == "example.com/plain" && *v == "v1.0.0")
        .unwrap()
        .2;
    assert_eq!(got["Sum"], h1.as_str(), "{got}");
    // @latest and the list: from what is stored (v1.1.0 is not).
    let latest = download_json(&cached, cached.dir.path(), "example.com/plain@latest");
    assert_eq!(latest["Version"], "v1.0.0", "{latest}");
    let (s, body) = support::get_blocking(&format!(
        "{}/cached-only/example.com/plain/@v/list",
        srv.url
    ));
    assert_eq!(
        (s, String::from_utf8_lossy(&body).as_ref()),
        (200, "v1.0.0\n")
    );
    // Not stored: 404, with the reason; the go command reports it.
    for p in [
        "/cached-only/example.com/plain/@v/v1.1.0.info",
        "/cached-only/example.com/plain/@v/v1.1.0.zip",
        "/cached-only/example.com/incompat/@v/list",
        "/cached-only/example.com/incompat/@latest",
        "/cached-only/example.com/plain/@v/master.info",
    ] {
        let (s, body) = support::get_blocking(&format!("{}{p}", srv.url));
        let body = String::from_utf8_lossy(&body);
        assert_eq!(s, 404, "{p}: {body}");
        assert!(body.contains("not in this mirror's cache"), "{p}: {body}");
    }
    let out = support::run(cached.go(cached.dir.path()).args([
        "mod",
        "download",
        "-json",
        "example.com/plain@v1.1.0",
    ]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not in this mirror's cache"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        up.total(),
        asked,
        "the upstream was asked through /cached-only/"
    );
    // Falling through to the next GOPROXY entry, as the go command does.
    let through = GoEnv::new(&format!("{}/cached-only,{}", srv.url, up.url()));
    let got = download_json(&through, through.dir.path(), "example.com/plain@v1.1.0");
    assert!(got["Error"].is_null(), "{got}");
    // The normal door still fetches.
    let (s, _) = support::get_blocking(&format!("{}/example.com/plain/@v/v1.1.0.info", srv.url));
    assert_eq!(s, 200);
}

/// `GOTOOLCHAIN` switching through the mirror: the go command downloads
/// the `golang.org/toolchain` module of the toolchain it is asked for (a
/// tiny one built here, whose `bin/go` is a script), verified by the test
/// checksum database, and runs it.
#[test]
fn the_go_command_switches_toolchains_through_the_mirror() {
    let goos_goarch = ok(support::go_cmd().args(["env", "GOOS", "GOARCH"]));
    let mut it = goos_goarch.split_whitespace();
    let (goos, goarch) = (it.next().unwrap(), it.next().unwrap());
    let version = format!("v0.0.1-go1.99.0.{goos}-{goarch}");
    let up_dir = tempfile::tempdir().unwrap();
    let script = b"#!/bin/sh\necho \"go version go1.99.0 (the toolchain from the mirror) $GOTOOLCHAIN_INTERNAL_SWITCH_VERSION\"\n";
    // What the go command touches after unpacking a toolchain: bin/go
    // (run), and bin/gofmt, pkg/tool and lib (made executable).
    let h1 = publish(
        up_dir.path(),
        &ModVersion {
            path: "golang.org/toolchain",
            version: &version,
            files: vec![
                ("bin/go", script.to_vec()),
                ("bin/gofmt", b"#!/bin/sh\n".to_vec()),
                (
                    &format!("pkg/tool/{goos}_{goarch}/placeholder"),
                    b"#!/bin/sh\n".to_vec(),
                ),
                ("lib/README", b"placeholder\n".to_vec()),
            ],
        },
    );
    let db = support::sumdb::TestSumdb::start();
    db.add(
        "golang.org/toolchain",
        &version,
        &h1,
        &gomod::dirhash::hash_go_mod(&gomod::modfile::synthesize_go_mod("golang.org/toolchain")),
    );
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let srv = Server::start(&data.path().join("d"), &up.url(), &["--gosumdb", &gosumdb]);
    let mut env = GoEnv::new(&srv.url);
    env.gosumdb = db.vkey.clone();
    let out = ok(env
        .go(env.dir.path())
        .env("GOTOOLCHAIN", "go1.99.0")
        .args(["version"]));
    assert!(
        out.contains("go version go1.99.0 (the toolchain from the mirror) go1.99.0"),
        "{out}"
    );
    // Fetched through the mirror (once), vouched for by the database
    // (through the mirror's /sumdb/ proxy: the key alone names no URL).
    assert_eq!(
        up.count(&format!("/golang.org/toolchain/@v/{version}.zip")),
        1
    );
    assert!(srv.log().contains("path=/sumdb/"), "{}", srv.log());
    // A toolchain zip that differs from what the database recorded is
    // refused: the go command does not switch.
    let other = format!("v0.0.1-go1.98.0.{goos}-{goarch}");
    let good = publish(
        up_dir.path(),
        &ModVersion {
            path: "golang.org/toolchain",
            version: &other,
            files: vec![("bin/go", script.to_vec())],
        },
    );
    assert!(!good.is_empty());
    db.add(
        "golang.org/toolchain",
        &other,
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &gomod::dirhash::hash_go_mod(&gomod::modfile::synthesize_go_mod("golang.org/toolchain")),
    );
    let out = support::run(
        env.go(env.dir.path())
            .env("GOTOOLCHAIN", "go1.98.0")
            .args(["version"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("checksum database"), "{stderr}");
}
