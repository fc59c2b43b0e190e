//! The cache budget (`GOMIRROR_CACHE_SIZE`, `GOMIRROR_PIN`) with the real
//! go command on loopback: past the budget the zips served least recently
//! are evicted, pinned ones stay, a zip fetched again comes back, and an
//! upstream that now serves other bytes for an evicted zip is refused —
//! once served, never different, with no checksum database.

mod support;

use rand::{RngCore, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};
use support::server::{ok, GoEnv, Server};
use support::upstream::{module_files, publish, Fault, ModVersion, Upstream};

const ZIP_CONTENT: usize = 64 << 10;

fn gomod(p: &str) -> Vec<u8> {
    format!("module {p}\n\ngo 1.21\n").into_bytes()
}

fn module(path: &str, seed: u64) -> ModVersion<'_> {
    let mut data = vec![0u8; ZIP_CONTENT];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    ModVersion {
        path,
        version: "v1.0.0",
        files: vec![("go.mod", gomod(path)), ("data.bin", data)],
    }
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// Which of the modules' zips the store holds (their records).
fn stored_zips(data: &Path, mods: &[String]) -> Vec<String> {
    mods.iter()
        .filter(|m| {
            data.join(format!("objects/{m}/@v/v1.0.0.zip.gmeta"))
                .exists()
        })
        .cloned()
        .collect()
}

fn metric(url: &str, name: &str) -> f64 {
    let (_, body) = support::get_blocking(&format!("{url}/metrics"));
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} "))
                .map(|v| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Waits (≤ 10 s) until the store holds exactly `want` of the zips.
fn wait_zips(data: &Path, mods: &[String], want: &[&String]) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = stored_zips(data, mods);
        if got == want {
            return;
        }
        assert!(Instant::now() < until, "stored zips {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn least_recently_served_zips_are_evicted_and_come_back_only_unchanged() {
    let up_dir = tempfile::tempdir().unwrap();
    let mods: Vec<String> = (1..=5).map(|i| format!("example.com/b/m{i}")).collect();
    for (i, m) in mods.iter().enumerate() {
        publish(up_dir.path(), &module(m, i as u64));
    }
    // The budget: every .info and .mod, three zips, and less than a
    // fourth.
    let at = |m: &String, ext: &str| up_dir.path().join(format!("{m}/@v/v1.0.0.{ext}"));
    let zip = size(&at(&mods[0], "zip"));
    let small: u64 = mods
        .iter()
        .map(|m| size(&at(m, "info")) + size(&at(m, "mod")))
        .sum();
    let budget = 3 * zip + small + zip / 2;
    assert!(
        mods.iter().all(|m| size(&at(m, "zip")).abs_diff(zip) < 64),
        "zips of one size"
    );
    let up = Upstream::start(up_dir.path());
    let data = tempfile::tempdir().unwrap();
    let d = data.path().join("d");
    let srv = Server::start(
        &d,
        &up.url(),
        &[
            "--cache-size",
            &budget.to_string(),
            "--pin",
            "example.com/b/m1",
        ],
    );
    assert_eq!(
        metric(&srv.url, "gomirror_cache_budget_bytes"),
        budget as f64
    );

    // Five downloads: m2 and m3, served least recently, go; m1 is pinned.
    let env = GoEnv::new(&srv.url);
    let work = env.new_module("app");
    for m in &mods {
        ok(env
            .go(&work)
            .args(["mod", "download", &format!("{m}@v1.0.0")]));
    }
    wait_zips(&d, &mods, &[&mods[0], &mods[3], &mods[4]]);
    assert_eq!(metric(&srv.url, "gomirror_evictions_total"), 2.0);
    assert_eq!(
        metric(&srv.url, "gomirror_evicted_bytes_total"),
        (2 * zip) as f64
    );
    // The versions stay listed and their .info/.mod stay stored.
    let (s, _) = support::get_blocking(&format!("{}/{}/@v/v1.0.0.mod", srv.url, mods[1]));
    assert_eq!(s, 200);

    // m2 asked again: fetched again (the same bytes), and m4, now the
    // least recently served, goes.
    let asked = up.count(&format!("/{}/@v/v1.0.0.zip", mods[1]));
    let again = GoEnv::new(&srv.url);
    let work2 = again.new_module("app");
    ok(again
        .go(&work2)
        .args(["mod", "download", &format!("{}@v1.0.0", mods[1])]));
    assert_eq!(up.count(&format!("/{}/@v/v1.0.0.zip", mods[1])), asked + 1);
    wait_zips(&d, &mods, &[&mods[0], &mods[1], &mods[4]]);

    // The upstream now serves other bytes for m3: refused, though no
    // checksum database runs.
    let (files, _) = module_files(&module(&mods[2], 99));
    let other = files
        .into_iter()
        .find(|(p, _)| p.ends_with(".zip"))
        .unwrap()
        .1;
    up.set_fault(
        &format!("/{}/@v/v1.0.0.zip", mods[2]),
        Fault::Replace(other),
    );
    let (s, body) = support::get_blocking(&format!("{}/{}/@v/v1.0.0.zip", srv.url, mods[2]));
    let body = String::from_utf8_lossy(&body);
    assert!(s >= 400, "{s}: {body:.200}");
    assert!(body.contains("once served, never different"), "{body:.300}");
    assert!(!stored_zips(&d, &mods).contains(&mods[2]));
    // Counted as an integrity failure of that upstream (kind h1).
    let (_, m) = support::get_blocking(&format!("{}/metrics", srv.url));
    let m = String::from_utf8_lossy(&m);
    let failures = support::metric(
        &m,
        "gomirror_integrity_failures_total",
        &[("kind", "h1"), ("source", &up.url())],
    );
    assert_eq!(failures, 1.0, "{m}");
    // Pinned m1 stayed throughout.
    assert!(stored_zips(&d, &mods).contains(&mods[0]));
}
