//! The index feed (`/index`) and `gomirror sync`, as real processes on
//! loopback: mirror A is filled by real go clients; its feed lists what
//! it admitted (stable across a restart, paged without skips or repeats);
//! mirror B, offline by design, syncs from A's feed through its own
//! admission and checksum database, then serves the same bytes; a
//! tampered zip on A is refused and named; a second sync fetches nothing;
//! a sync killed half-way continues from its kept cursor.

mod support;

use support::json_of;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::server::{ok, GoEnv, Server};
use support::sumdb::TestSumdb;
use support::upstream::{module_files, publish, Fault, ModVersion, Upstream};

fn gomod(p: &str) -> Vec<u8> {
    format!("module {p}\n\ngo 1.21\n").into_bytes()
}

/// Publishes `n` small modules (`example.com/s/mNN@v1.0.0`) and records
/// them in `db`; returns their paths.
fn corpus(root: &Path, db: &TestSumdb, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let path = format!("example.com/s/m{i:02}");
            let files = vec![
                ("go.mod", gomod(&path)),
                ("x.go", format!("package m{i:02}\n").into_bytes()),
            ];
            let h1 = publish(
                root,
                &ModVersion {
                    path: &path,
                    version: "v1.0.0",
                    files,
                },
            );
            db.add(
                &path,
                "v1.0.0",
                &h1,
                &gomod::dirhash::hash_go_mod(&gomod(&path)),
            );
            path
        })
        .collect()
}

fn sync_cmd(from: &str, data: &Path, gosumdb: &str, args: &[&str]) -> Command {
    let mut c = support::gomirror_tool();
    c.arg("sync")
        .args(["--from", from, "--json", "--data-dir"])
        .arg(data)
        .args(args)
        .env("GOSUMDB", gosumdb)
        .env("GOMIRROR_UPSTREAM_RETRIES", "0")
        .env_remove("GOPROXY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The feed's lines from `url` (`/index?...`).
fn feed(url: &str) -> Vec<serde_json::Value> {
    let (status, body) = support::get_blocking(url);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "GET {url}: {text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{url}: {e}: {l}")))
        .collect()
}

/// Every line of `base`'s feed, following it page by page with `limit`
/// (the next page since one nanosecond after the last timestamp read).
fn follow(base: &str, limit: usize) -> Vec<serde_json::Value> {
    let mut all: Vec<serde_json::Value> = vec![];
    let mut since = String::from("1970-01-01T00:00:00Z");
    for _ in 0..1000 {
        let page = feed(&format!("{base}/index?since={since}&limit={limit}"));
        let Some(last) = page.last() else {
            return all;
        };
        let t = chrono::DateTime::parse_from_rfc3339(last["Timestamp"].as_str().unwrap()).unwrap()
            + chrono::Duration::nanoseconds(1);
        since = t
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        all.extend(page);
    }
    panic!("the feed did not end");
}

/// Waits (≤ 30 s) until the feed answers (its start-up pass is done).
fn wait_feed(base: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = support::get_blocking(&format!("{base}/index"));
        if status == 200 {
            return;
        }
        assert!(
            Instant::now() < until,
            "the feed never became ready ({status})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(url: &str) -> (u16, Vec<u8>) {
    support::get_blocking(url)
}

#[test]
fn a_mirror_follows_anothers_feed_through_its_own_admission() {
    let up_dir = tempfile::tempdir().unwrap();
    let db = TestSumdb::start();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let good = corpus(up_dir.path(), &db, 6);
    // A module whose upstream serves other bytes than the checksum
    // database recorded: A (checksum database off) admits them.
    let bad = "example.com/s/tampered";
    let honest = ModVersion {
        path: bad,
        version: "v1.0.0",
        files: vec![("go.mod", gomod(bad)), ("x.go", b"package x\n".to_vec())],
    };
    let h1 = publish(up_dir.path(), &honest);
    db.add(
        bad,
        "v1.0.0",
        &h1,
        &gomod::dirhash::hash_go_mod(&gomod(bad)),
    );
    let (evil_files, _) = module_files(&ModVersion {
        files: vec![
            ("go.mod", gomod(bad)),
            ("x.go", b"package x // evil\n".to_vec()),
        ],
        ..honest
    });
    let evil_zip = evil_files
        .into_iter()
        .find(|(p, _)| p.ends_with(".zip"))
        .unwrap()
        .1;
    let up = Upstream::start(up_dir.path());
    up.set_fault(
        &format!("/{bad}/@v/v1.0.0.zip"),
        Fault::Replace(evil_zip.clone()),
    );

    // Mirror A, filled by go clients.
    let data = tempfile::tempdir().unwrap();
    let mut a = Server::start(&data.path().join("a"), &up.url(), &[]);
    let env = GoEnv::new(&a.url);
    let work = env.new_module("app");
    let mut all = good.clone();
    all.push(bad.to_owned());
    for p in &all {
        ok(env
            .go(&work)
            .args(["mod", "download", "-json", &format!("{p}@v1.0.0")]));
    }

    // A's feed lists each version once, in admission order; paging with
    // any limit sees the same; bad requests are 400.
    wait_feed(&a.url);
    let lines = feed(&format!("{}/index", a.url));
    let listed: Vec<&str> = lines.iter().map(|l| l["Path"].as_str().unwrap()).collect();
    assert_eq!(
        listed,
        all.iter().map(String::as_str).collect::<Vec<_>>(),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l["Version"] == "v1.0.0"), "{lines:?}");
    for limit in [1, 2, 3] {
        assert_eq!(follow(&a.url, limit), lines, "limit {limit}");
    }
    let third = lines[3]["Timestamp"].as_str().unwrap().to_owned();
    assert_eq!(
        feed(&format!("{}/index?since={third}", a.url)),
        lines[3..].to_vec()
    );
    assert_eq!(
        feed(&format!("{}/index?limit=2", a.url)),
        lines[..2].to_vec()
    );
    for q in ["since=yesterday", "limit=0", "limit=x"] {
        let (status, body) = get(&format!("{}/index?{q}", a.url));
        assert_eq!(status, 400, "{q}: {}", String::from_utf8_lossy(&body));
    }
    // Durable: the same feed after a restart (rebuilt from the records).
    a.terminate(Duration::from_secs(10));
    let a = Server::start(&data.path().join("a"), &up.url(), &[]);
    wait_feed(&a.url);
    assert_eq!(feed(&format!("{}/index", a.url)), lines);

    // B syncs from A with the checksum database on: the tampered zip is
    // refused and named, the rest admitted.
    let b_dir = data.path().join("b");
    let out = sync_cmd(&a.url, &b_dir, &gosumdb, &["--batch", "2"])
        .output()
        .unwrap();
    let j = json_of(&out);
    assert!(!out.status.success(), "{j}");
    assert_eq!(j["listed"], all.len(), "{j}");
    assert_eq!(j["fetched"], good.len(), "{j}");
    assert_eq!(j["failed"], 1, "{j}");
    let failed = j["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["status"] == "failed")
        .unwrap();
    assert_eq!(failed["module"], bad, "{j}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("checksum database"),
        "{failed}"
    );

    // B, offline, serves every good version with A's bytes, and not the
    // tampered one.
    let b = Server::start(&b_dir, "off", &[]);
    for p in &good {
        for ext in ["info", "mod", "zip"] {
            let path = format!("/{p}/@v/v1.0.0.{ext}");
            let (sa, ba) = get(&format!("{}{path}", a.url));
            let (sb, bb) = get(&format!("{}{path}", b.url));
            assert_eq!((sa, sb), (200, 200), "{path}");
            assert!(ba == bb, "{path}: different bytes");
        }
    }
    let (s, _) = get(&format!("{}/{bad}/@v/v1.0.0.zip", b.url));
    assert_eq!(s, 404);
    // B's own feed lists what it admitted: the tampered version too (its
    // .info and .mod, which the database vouches for, were admitted).
    wait_feed(&b.url);
    assert_eq!(feed(&format!("{}/index", b.url)).len(), all.len());
    drop(b);

    // A second sync: nothing new is listed or fetched; the refused version
    // is tried again (and refused again).
    let out = sync_cmd(&a.url, &b_dir, &gosumdb, &[]).output().unwrap();
    let j = json_of(&out);
    assert_eq!(j["listed"], 0, "{j}");
    assert_eq!(j["fetched"], 0, "{j}");
    assert_eq!(j["failed"], 1, "{j}");
    assert_eq!(j["modules"][0]["module"], bad, "{j}");

    // --exclude leaves matching modules alone.
    let c_dir = data.path().join("c");
    let out = sync_cmd(
        &a.url,
        &c_dir,
        &gosumdb,
        &["--exclude", "example.com/s/tampered,example.com/s/m0*"],
    )
    .output()
    .unwrap();
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["skipped"], 1 + good.len(), "{j}");
}

/// A sync killed after its first page continues from the kept cursor:
/// the second run lists only what the first had not reached, and the
/// result is complete.
#[test]
fn a_killed_sync_continues_where_it_stopped() {
    let up_dir = tempfile::tempdir().unwrap();
    let db = TestSumdb::start();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let mods = corpus(up_dir.path(), &db, 30);
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let a = Server::start(&data.path().join("a"), &up.url(), &[]);
    let env = GoEnv::new(&a.url);
    let work = env.new_module("app");
    for p in &mods {
        ok(env
            .go(&work)
            .args(["mod", "download", &format!("{p}@v1.0.0")]));
    }
    wait_feed(&a.url);
    let b_dir = data.path().join("b");
    let mut child = sync_cmd(
        &a.url,
        &b_dir,
        &gosumdb,
        &["--batch", "1", "--concurrency", "1"],
    )
    .spawn()
    .unwrap();
    // Killed as soon as its cursor is kept (after the first page): its
    // record is committed.
    let cursor_dir = b_dir.join("objects/sync");
    let kept = || {
        std::fs::read_dir(&cursor_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| d.path().join("cursor.gmeta").exists())
    };
    let until = Instant::now() + Duration::from_secs(60);
    while !kept() {
        assert!(Instant::now() < until, "no cursor was kept");
        assert!(child.try_wait().unwrap().is_none(), "the sync ended first");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = sync_cmd(&a.url, &b_dir, &gosumdb, &[]).output().unwrap();
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    let listed = j["listed"].as_u64().unwrap() as usize;
    assert!(
        listed > 0 && listed < mods.len(),
        "listed {listed} of {}: {j}",
        mods.len()
    );
    // Complete: B serves every version, offline.
    let b = Server::start(&b_dir, "off", &[]);
    for p in &mods {
        let (s, _) = get(&format!("{}/{p}/@v/v1.0.0.zip", b.url));
        assert_eq!(s, 200, "{p}");
    }
}

/// `serve` with `GOMIRROR_SYNC_FROM`: a mirror offline by design follows
/// another's feed while serving, and what A admits later reaches it.
#[test]
fn a_serving_mirror_follows_another_while_it_serves() {
    let up_dir = tempfile::tempdir().unwrap();
    let db = TestSumdb::start();
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let mods = corpus(up_dir.path(), &db, 3);
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let a = Server::start(&data.path().join("a"), &up.url(), &[]);
    let env = GoEnv::new(&a.url);
    let work = env.new_module("app");
    ok(env
        .go(&work)
        .args(["mod", "download", &format!("{}@v1.0.0", mods[0])]));
    let b = Server::start(
        &data.path().join("b"),
        "off",
        &[
            "--gosumdb",
            &gosumdb,
            "--sync-from",
            &a.url,
            "--sync-interval",
            "200ms",
        ],
    );
    // A admits two more versions later; B, which has no upstream, gets
    // all three through its sync loop.
    for p in &mods[1..] {
        ok(env
            .go(&work)
            .args(["mod", "download", &format!("{p}@v1.0.0")]));
    }
    let until = Instant::now() + Duration::from_secs(30);
    for p in &mods {
        loop {
            let (s, _) = get(&format!("{}/{p}/@v/v1.0.0.zip", b.url));
            if s == 200 {
                break;
            }
            assert!(Instant::now() < until, "{p} never reached B:\n{}", b.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (_, m) = get(&format!("{}/metrics", b.url));
    let m = String::from_utf8_lossy(&m);
    let fetched = support::metric(
        &m,
        "gomirror_sync_versions_total",
        &[("outcome", "fetched")],
    );
    assert_eq!(fetched, 3.0, "{m}");
    assert!(b.log().contains("sync pass"), "{}", b.log());
}
