//! `gomirror verify` as a real process over a cache filled by `gomirror
//! prefetch` from a real upstream on loopback: it finds a flipped byte, a
//! lost file, a record that lies about a zip's h1: and bytes without a
//! record; `--fix` quarantines and heals from the upstream.

mod support;

use support::json_of;

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::upstream::{publish, ModVersion, Upstream};

fn gomirror_env(up: &Upstream) -> Command {
    let mut c = support::gomirror_tool();
    c.env("GOPROXY", up.url())
        .env("GOSUMDB", "off")
        .env("GOMIRROR_UPSTREAM_RETRIES", "0");
    c
}

fn verify(up: &Upstream, data: &Path, args: &[&str]) -> Output {
    support::run(
        gomirror_env(up)
            .arg("verify")
            .args(args)
            .arg("--data-dir")
            .arg(data),
    )
}

/// An upstream with two modules (one with a zip of a few MiB), and a cache
/// filled from it by `gomirror prefetch`.
struct Fixture {
    _up_dir: tempfile::TempDir,
    up: Upstream,
    _work: tempfile::TempDir,
    data: PathBuf,
}

fn fixture() -> Fixture {
    let up_dir = tempfile::tempdir().unwrap();
    let gomod = |p: &str| format!("module {p}\n\ngo 1.21\n").into_bytes();
    let mut blob = vec![0u8; 3 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in blob.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    publish(
        up_dir.path(),
        &ModVersion {
            path: "example.com/a",
            version: "v1.0.0",
            files: vec![
                ("go.mod", gomod("example.com/a")),
                ("a.go", b"package a\n".to_vec()),
                ("blob.bin", blob),
            ],
        },
    );
    publish(
        up_dir.path(),
        &ModVersion {
            path: "example.com/b",
            version: "v0.2.0",
            files: vec![
                ("go.mod", gomod("example.com/b")),
                ("b.go", b"package b\n".to_vec()),
            ],
        },
    );
    let up = Upstream::start(up_dir.path());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let out = support::run(
        gomirror_env(&up)
            .args(["prefetch", "-", "--data-dir"])
            .arg(&data)
            .stdin(std::fs::File::open(write_list(work.path())).unwrap()),
    );
    assert!(
        out.status.success(),
        "prefetch failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Fixture {
        _up_dir: up_dir,
        up,
        _work: work,
        data,
    }
}

fn write_list(dir: &Path) -> PathBuf {
    let p = dir.join("list");
    std::fs::write(&p, "example.com/a@v1.0.0\nexample.com/b@v0.2.0\n").unwrap();
    p
}

const ZIP: &str = "example.com/a/@v/v1.0.0.zip";

/// The file holding the stored bytes of `key`.
fn object(data: &Path, key: &str) -> PathBuf {
    support::stored_file(data, key)
}

fn record(data: &Path, key: &str) -> serde_json::Value {
    let p = support::record_file(data, key);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// Whether the bytes on disk match their record.
fn matches_record(data: &Path, key: &str) -> bool {
    let bytes = std::fs::read(object(data, key)).unwrap();
    let rec = record(data, key);
    rec["size"].as_u64() == Some(bytes.len() as u64)
        && rec["sha256"].as_str() == Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
}

fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x20;
    f.write_all_at(&b, at).unwrap();
}

fn quarantined(data: &Path) -> Vec<String> {
    let q = data.join("quarantine");
    support::files_under(&q)
        .iter()
        .map(|f| f.strip_prefix(&q).unwrap().display().to_string())
        .collect()
}

#[test]
fn a_clean_cache_verifies() {
    let fx = fixture();
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    // a and b: .info, .mod, .zip each.
    assert_eq!(j["objects"], 6, "{j}");
    assert_eq!(j["counts"]["ok"], 6, "{j}");
    assert_eq!(j["counts"]["rotten"], 0, "{j}");
    // Every zip is read twice (sha256, then the module zip rules).
    let zips: u64 = ["example.com/a/@v/v1.0.0.zip", "example.com/b/@v/v0.2.0.zip"]
        .iter()
        .map(|k| record(&fx.data, k)["size"].as_u64().unwrap())
        .sum();
    assert!(j["bytes"].as_u64().unwrap() > 2 * zips, "{j}");
    let out = verify(&fx.up, &fx.data, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("verified 6 objects"), "{text}");
}

#[test]
fn flipped_byte_is_found_then_healed() {
    let fx = fixture();
    let zip = object(&fx.data, ZIP);
    let len = std::fs::metadata(&zip).unwrap().len();
    flip_byte(&zip, len / 2);
    assert!(!matches_record(&fx.data, ZIP));

    // Found, named, exit 1; nothing changed.
    let out = verify(&fx.up, &fx.data, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("{ZIP}: sha256: ")), "{text}");
    assert!(quarantined(&fx.data).is_empty());
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    assert_eq!(j["counts"]["rotten"], 1, "{j}");
    assert_eq!(j["rotten"][0]["key"], ZIP, "{j}");
    assert_eq!(j["rotten"][0]["kind"], "sha256", "{j}");

    // --fix: quarantined, fetched again from the upstream, exit 0.
    let zip_requests = fx.up.count("/example.com/a/@v/v1.0.0.zip");
    let out = verify(&fx.up, &fx.data, &["--fix", "--json"]);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["counts"]["healed"], 1, "{j}");
    assert_eq!(j["counts"]["failed"], 0, "{j}");
    assert_eq!(j["rotten"][0]["fix"]["outcome"], "healed", "{j}");
    assert_eq!(
        fx.up.count("/example.com/a/@v/v1.0.0.zip"),
        zip_requests + 1
    );
    assert!(matches_record(&fx.data, ZIP));
    let q = quarantined(&fx.data);
    assert!(
        q.iter()
            .any(|p| p.starts_with("example.com/a/@v/v1.0.0.zip.")),
        "{q:?}"
    );

    // A second verify is clean.
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["counts"]["rotten"], 0, "{j}");
    assert_eq!(j["counts"]["ok"], 6, "{j}");
}

#[test]
fn fix_that_cannot_heal_exits_1() {
    let fx = fixture();
    let key = "example.com/b/@v/v0.2.0.mod";
    flip_byte(&object(&fx.data, key), 3);
    // The upstream has lost it meanwhile.
    fx.up.set_fault(
        "/example.com/b/@v/v0.2.0.mod",
        support::upstream::Fault::Status(404),
    );
    let out = verify(&fx.up, &fx.data, &["--fix", "--json"]);
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    assert_eq!(j["counts"]["failed"], 1, "{j}");
    assert_eq!(j["rotten"][0]["key"], key, "{j}");
    assert_eq!(j["rotten"][0]["fix"]["outcome"], "failed", "{j}");
    assert!(
        j["rotten"][0]["fix"]["error"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{j}"
    );
    // Out of service, kept for inspection.
    assert!(support::key_files(&fx.data, key).is_empty());
    assert!(!quarantined(&fx.data).is_empty());
}

#[test]
fn lost_file_is_rot_and_heals() {
    let fx = fixture();
    let key = "example.com/b/@v/v0.2.0.mod";
    std::fs::remove_file(object(&fx.data, key)).unwrap();
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    assert_eq!(j["rotten"][0]["key"], key, "{j}");
    assert_eq!(j["rotten"][0]["kind"], "missing", "{j}");
    let out = verify(&fx.up, &fx.data, &["--fix", "--json"]);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["counts"]["healed"], 1, "{j}");
    assert!(matches_record(&fx.data, key));
}

#[test]
fn record_lying_about_h1_is_found_by_the_zip_check() {
    let fx = fixture();
    let gmeta = support::record_file(&fx.data, ZIP);
    let mut rec = record(&fx.data, ZIP);
    rec["h1"] = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    std::fs::write(&gmeta, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    assert_eq!(j["rotten"][0]["key"], ZIP, "{j}");
    assert_eq!(j["rotten"][0]["kind"], "h1", "{j}");
    // Without the zip check, size and sha256 still match.
    let out = verify(&fx.up, &fx.data, &["--json", "--no-zip-h1"]);
    assert!(out.status.success(), "{}", json_of(&out));
    // Healing replaces it with a freshly admitted copy and record.
    let out = verify(&fx.up, &fx.data, &["--fix", "--json"]);
    assert!(out.status.success(), "{}", json_of(&out));
    assert_ne!(
        record(&fx.data, ZIP)["h1"],
        "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    );
}

#[test]
fn bytes_without_a_record_are_reported() {
    let fx = fixture();
    let stray = "example.com/c/@v/v1.0.0.zip";
    let stray_file = fx.data.join("objects").join(stray);
    std::fs::create_dir_all(stray_file.parent().unwrap()).unwrap();
    std::fs::write(&stray_file, b"half a commit").unwrap();
    let out = verify(&fx.up, &fx.data, &["--json"]);
    let j = json_of(&out);
    // Not rot: never an object, never served.
    assert!(out.status.success(), "{j}");
    assert_eq!(j["counts"]["missing_metadata"], 1, "{j}");
    assert_eq!(j["missing_metadata"][0]["key"], stray, "{j}");
    assert_eq!(j["missing_metadata"][0]["size"], 13, "{j}");
    let out = verify(&fx.up, &fx.data, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("  {stray} (13 bytes)")), "{text}");
    // A fresh one is left alone by --fix (it may be a commit in flight).
    let out = verify(&fx.up, &fx.data, &["--fix", "--json"]);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert!(j["missing_metadata"][0]["fix"].is_null(), "{j}");
    assert!(stray_file.exists());
}

#[test]
fn rate_limit_and_bad_usage() {
    let fx = fixture();
    let out = verify(&fx.up, &fx.data, &["--json", "--rate", "64M"]);
    assert!(out.status.success(), "{}", json_of(&out));
    let out = verify(&fx.up, &fx.data, &["--rate", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    let empty = tempfile::tempdir().unwrap();
    let out = verify(&fx.up, &empty.path().join("none"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no gomirror cache"));
}
