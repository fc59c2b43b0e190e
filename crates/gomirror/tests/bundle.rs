//! Air-gapped transfer with real processes on loopback: mirror A exports
//! what go clients fetched through it, with the checksum-database proofs;
//! mirror C, which has no upstream and cannot reach the database, imports
//! the bundle and serves the modules and `/sumdb/` from the proofs, so an
//! unmodified go command (GOSUMDB = the database's key alone, no
//! GONOSUMDB) verifies every module through C; altered bundles — a flipped
//! byte, a removed proof, an extra object — are refused, naming what
//! changed, and leave C's store untouched.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::server::{ok, GoEnv, Server};
use support::sumdb::TestSumdb;
use support::upstream::{publish, ModVersion, Upstream};

fn gomod(p: &str) -> Vec<u8> {
    format!("module {p}\n\ngo 1.21\n").into_bytes()
}

fn gomirror(cmd: &str, data: &Path, gosumdb: &str) -> Command {
    let mut c = support::gomirror_tool();
    c.arg(cmd)
        .arg("--data-dir")
        .arg(data)
        .env("GOSUMDB", gosumdb)
        .env("GOPROXY", "off");
    c
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The bundle's entries, in order.
fn read_tar(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(std::fs::File::open(p).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut b = vec![];
            std::io::Read::read_to_end(&mut e, &mut b).unwrap();
            (name, b)
        })
        .collect()
}

fn write_tar(p: &Path, entries: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(p).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

/// Versioned records in a data directory.
fn stored_objects(data: &Path) -> usize {
    fn walk(d: &Path, n: &mut usize) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.to_string_lossy().ends_with(".gmeta")
                && p.to_string_lossy().contains("/@v/")
            {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&data.join("objects"), &mut n);
    n
}

#[test]
fn an_air_gapped_mirror_serves_a_bundle_the_go_command_verifies() {
    let up_dir = tempfile::tempdir().unwrap();
    let db = TestSumdb::start();
    // Records before and after ours: the proofs span tiles of two levels.
    db.add_filler(300);
    let mut sums = vec![];
    for i in 0..3 {
        let path = format!("example.com/gap/m{i}");
        let h1 = publish(
            up_dir.path(),
            &ModVersion {
                path: &path,
                version: "v1.0.0",
                files: vec![
                    ("go.mod", gomod(&path)),
                    ("x.go", format!("package m{i}\n").into_bytes()),
                ],
            },
        );
        db.add(
            &path,
            "v1.0.0",
            &h1,
            &gomod::dirhash::hash_go_mod(&gomod(&path)),
        );
        sums.push((path, h1));
    }
    db.add_filler(20);
    let online = format!("{} {}", db.vkey, db.url());
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let a_dir = data.path().join("a");
    let a = Server::start(&a_dir, &up.url(), &["--gosumdb", &online]);
    let env = GoEnv::new(&a.url);
    let work = env.new_module("app");
    for (p, _) in &sums {
        ok(env
            .go(&work)
            .args(["mod", "download", &format!("{p}@v1.0.0")]));
    }

    // Export from A (beside the running server).
    let bundle = data.path().join("bundle.tar");
    let out = gomirror("export", &a_dir, &online)
        .arg("-o")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exported 3 versions (9 objects"),
        "{}",
        text(&out)
    );
    let entries = read_tar(&bundle);
    assert!(
        entries
            .iter()
            .any(|(n, _)| n.starts_with("sumdb/tile/8/1/")),
        "two levels of tiles"
    );

    // C: no upstream, the database unreachable.
    let offline = format!("{} http://127.0.0.1:9", db.vkey);
    let c_dir = data.path().join("c");
    let out = gomirror("import", &c_dir, &offline)
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("9 objects admitted"),
        "{}",
        text(&out)
    );
    let lookups = db.requests("/lookup/");
    let c = Server::start(&c_dir, "off", &["--gosumdb", &offline]);
    // An unmodified go command: GOSUMDB is the key alone (the database is
    // reached through C's /sumdb/), no GONOSUMDB, a fresh module cache.
    let mut genv = GoEnv::new(&c.url);
    genv.gosumdb = db.vkey.clone();
    let gwork = genv.new_module("app");
    for (p, h1) in &sums {
        let out = ok(genv
            .go(&gwork)
            .args(["mod", "download", "-json", &format!("{p}@v1.0.0")]));
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["Sum"].as_str(), Some(h1.as_str()), "{j}");
        assert!(j["Error"].is_null(), "{j}");
    }
    let log = c.log();
    assert!(
        log.contains(&format!("path=/sumdb/{}/lookup/", support::sumdb::NAME)),
        "{log}"
    );
    assert!(
        log.contains(&format!("path=/sumdb/{}/tile/8/", support::sumdb::NAME)),
        "{log}"
    );
    assert_eq!(
        db.requests("/lookup/"),
        lookups,
        "nobody asked the database"
    );

    // A second bundle, after the database grew far (its proofs alone do not
    // show that its tree extends the one C keeps): refused until exported
    // with that proof; then the go command that verified
    // the first modules (its cached tree head is C's old one) verifies the
    // new one, and a fresh go command the old ones.
    let path = "example.com/gap/later";
    db.add_filler(2000);
    let h1 = publish(
        up_dir.path(),
        &ModVersion {
            path,
            version: "v1.0.0",
            files: vec![
                ("go.mod", gomod(path)),
                ("x.go", b"package later\n".to_vec()),
            ],
        },
    );
    db.add(
        path,
        "v1.0.0",
        &h1,
        &gomod::dirhash::hash_go_mod(&gomod(path)),
    );
    db.add_filler(300);
    ok(env
        .go(&work)
        .args(["mod", "download", &format!("{path}@v1.0.0")]));
    let second = data.path().join("second.tar");
    let export2 = |extra: &[&str]| {
        let out = gomirror("export", &a_dir, &online)
            .arg("-o")
            .arg(&second)
            .args(["--modules", path])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    export2(&[]);
    drop(c);
    let out = gomirror("import", &c_dir, &offline)
        .arg(&second)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{}", text(&out));
    let kept_size = err
        .split("--consistent-with ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("the refusal names no size: {err}"))
        .to_owned();
    export2(&["--consistent-with", &kept_size]);
    let out = gomirror("import", &c_dir, &offline)
        .arg(&second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let c = Server::start(&c_dir, "off", &["--gosumdb", &offline]);
    // The same module cache and GOPATH (its cached tree head), C's new port.
    genv.goproxy = c.url.clone();
    let out = ok(genv
        .go(&gwork)
        .args(["mod", "download", "-json", &format!("{path}@v1.0.0")]));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["Sum"].as_str(), Some(h1.as_str()), "{j}");
    let mut fresh = GoEnv::new(&c.url);
    fresh.gosumdb = db.vkey.clone();
    let fwork = fresh.new_module("app");
    for (p, h1) in &sums {
        let out = ok(fresh
            .go(&fwork)
            .args(["mod", "download", "-json", &format!("{p}@v1.0.0")]));
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["Sum"].as_str(), Some(h1.as_str()), "{j}");
    }
    drop(c);

    // Altered bundles are refused, naming what changed; nothing is kept.
    let refused = |name: &str, entries: Vec<(String, Vec<u8>)>, want: &str| {
        let p = data.path().join(format!("{name}.tar"));
        write_tar(&p, &entries);
        let d = data.path().join(name);
        let out = gomirror("import", &d, &offline).arg(&p).output().unwrap();
        assert!(!out.status.success(), "{name}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{name}: want {want:?}\n{}",
            text(&out)
        );
        assert_eq!(stored_objects(&d), 0, "{name}: something was kept");
    };
    let m0_mod = "objects/example.com/gap/m0/@v/v1.0.0.mod";
    // One flipped byte (the manifest still has the old digest).
    let mut e = entries.clone();
    e.iter_mut().find(|(n, _)| n == m0_mod).unwrap().1[0] ^= 1;
    refused("flipped", e.clone(), "example.com/gap/m0@v1.0.0.mod");
    // The same, with the manifest rewritten to match: the proof catches it.
    let (i, _) = e
        .iter()
        .enumerate()
        .find(|(_, (n, _))| n == "gomirror-bundle.json")
        .unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&e[i].1).unwrap();
    let flipped = e.iter().find(|(n, _)| n == m0_mod).unwrap().1.clone();
    for v in manifest["versions"].as_array_mut().unwrap() {
        if v["path"] == "example.com/gap/m0" {
            v["files"]["mod"]["sha256"] = hex::encode(sha2::Sha256::digest(&flipped)).into();
        }
    }
    e[i].1 = serde_json::to_vec(&manifest).unwrap();
    refused("flipped-and-manifest", e, "example.com/gap/m0@v1.0.0.mod");
    // A removed proof: a tile, then a lookup answer.
    let mut e = entries.clone();
    let tile = e
        .iter()
        .position(|(n, _)| n.starts_with("sumdb/tile/8/1/"))
        .unwrap();
    let tile_name = e.remove(tile).0;
    refused("no-tile", e, tile_name.trim_start_matches("sumdb/"));
    let mut e = entries.clone();
    e.retain(|(n, _)| !n.starts_with("sumdb/lookup/example.com/gap/m1@"));
    refused(
        "no-answer",
        e,
        "example.com/gap/m1@v1.0.0: no checksum-database proof",
    );
    // An extra object.
    let mut e = entries.clone();
    e.push((
        "objects/example.com/gap/evil/@v/v1.0.0.mod".into(),
        gomod("example.com/gap/evil"),
    ));
    refused(
        "extra",
        e,
        "objects/example.com/gap/evil/@v/v1.0.0.mod: an extra object",
    );
}

use sha2::Digest as _;
