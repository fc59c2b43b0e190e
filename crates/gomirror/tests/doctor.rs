//! `gomirror doctor` against real mirrors on loopback: one good, one that
//! cuts the zip half way under correct headers (the incident), one that
//! serves a different valid zip; with a real test checksum database, and
//! without one (the majority decides). Also HTTP/2 stream resets over TLS,
//! Repr-Digest, CDN cache headers, 404s, corrupt zips, stalls, an
//! unreachable database and bad usage.

mod support;

use rand::{RngCore, SeedableRng};
use serde_json::Value;
use std::process::{Command, Output};
use support::sumdb::TestSumdb;
use support::upstream::{publish, Fault, ModVersion, Upstream};

const MODULE: &str = "example.com/big";
const VERSION: &str = "v1.0.0";
const ZIP: &str = "/example.com/big/@v/v1.0.0.zip";

/// The module published twice: as it should be, and with one file changed
/// (a different but valid zip of the same version).
struct Corpus {
    good: tempfile::TempDir,
    zip_len: usize,
    good_h1: String,
    mod_h1: String,
    other_zip: Vec<u8>,
    other_h1: String,
}

fn corpus() -> Corpus {
    let go_mod = format!("module {MODULE}\n\ngo 1.21\n").into_bytes();
    // 4 MiB of incompressible data, so the zip is big and a cut is
    // mid-stream.
    let mut blob = vec![0u8; 4 << 20];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut blob);
    let files = |comment: &str| {
        vec![
            ("go.mod", go_mod.clone()),
            (
                "big.go",
                format!("package big\n\n// {comment}\n").into_bytes(),
            ),
            ("data.bin", blob.clone()),
        ]
    };
    let good = tempfile::tempdir().unwrap();
    let good_h1 = publish(
        good.path(),
        &ModVersion {
            path: MODULE,
            version: VERSION,
            files: files("the real one"),
        },
    );
    let other = tempfile::tempdir().unwrap();
    let other_h1 = publish(
        other.path(),
        &ModVersion {
            path: MODULE,
            version: VERSION,
            files: files("not the real one"),
        },
    );
    assert_ne!(good_h1, other_h1);
    let other_zip = std::fs::read(other.path().join(&ZIP[1..])).unwrap();
    let zip_len = std::fs::metadata(good.path().join(&ZIP[1..]))
        .unwrap()
        .len() as usize;
    assert!(zip_len > 4 << 20, "zip of {zip_len} bytes");
    Corpus {
        good,
        zip_len,
        good_h1,
        mod_h1: gomod::dirhash::hash_go_mod(&go_mod),
        other_zip,
        other_h1,
    }
}

/// The three mirrors of the incident, all serving `root`.
struct Mirrors {
    good: Upstream,
    cut: Upstream,
    other: Upstream,
}

fn three_mirrors(c: &Corpus) -> Mirrors {
    let good = Upstream::start(c.good.path());
    let cut = Upstream::start(c.good.path());
    cut.set_fault(ZIP, Fault::Truncate(c.zip_len / 2));
    cut.set_headers(ZIP, &[("x-cache", "HIT"), ("age", "3600")]);
    let other = Upstream::start(c.good.path());
    other.set_fault(ZIP, Fault::Replace(c.other_zip.clone()));
    Mirrors { good, cut, other }
}

fn database(c: &Corpus) -> TestSumdb {
    let db = TestSumdb::start();
    db.add_filler(20);
    db.add(MODULE, VERSION, &c.good_h1, &c.mod_h1);
    db
}

fn gosumdb(db: &TestSumdb) -> String {
    format!("{} {}", db.vkey, db.url())
}

/// `gomirror doctor` with a clean environment (no proxy variables, no Go
/// settings from the developer's shell).
fn doctor(args: &[&str]) -> Output {
    let mut cmd: Command = support::gomirror();
    cmd.arg("doctor").args(args);
    for v in [
        "GOPROXY",
        "GOSUMDB",
        "GONOSUMDB",
        "GOPRIVATE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("NO_PROXY", "*");
    let out = support::run(&mut cmd);
    // Shown with --nocapture: the README's example comes from here.
    println!(
        "$ gomirror doctor {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            stdout(o),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The line of the final verdict table for `url` (without the URL).
fn verdict(out: &str, url: &str) -> String {
    let table = &out[out.rfind("\nverdict\n").expect("no verdict table")..];
    let line = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(url))
        .unwrap_or_else(|| panic!("no verdict for {url} in:\n{out}"));
    let at = line.find(url).unwrap() + url.len();
    line[at..].trim().to_owned()
}

fn proxy<'a>(report: &'a Value, url: &str) -> &'a Value {
    report["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["url"] == url)
        .unwrap_or_else(|| panic!("no proxy {url} in {report:#}"))
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("killed by a signal")
}

#[test]
fn three_mirrors_against_the_checksum_database() {
    let c = corpus();
    let m = three_mirrors(&c);
    let db = database(&c);
    let (good, cut, other) = (m.good.url(), m.cut.url(), m.other.url());
    let module = format!("{MODULE}@{VERSION}");
    let db_arg = gosumdb(&db);
    let args = vec![
        module.as_str(),
        "--proxy",
        &good,
        "--proxy",
        &cut,
        "--proxy",
        &other,
        "--gosumdb",
        &db_arg,
    ];
    let o = doctor(&args);
    assert_eq!(code(&o), 1, "a wrong proxy means exit status 1");
    let out = stdout(&o);
    let half = c.zip_len / 2;
    assert_eq!(verdict(&out, &good), "ok");
    let v = verdict(&out, &cut);
    assert!(
        v.starts_with(&format!(
            ".zip truncated after {half} of {} bytes: connection closed early",
            c.zip_len
        )),
        "{v}"
    );
    let v = verdict(&out, &other);
    assert!(
        v.starts_with(&format!(
            "zip content differs from the checksum database {}",
            support::sumdb::NAME
        )),
        "{v}"
    );
    assert!(v.contains(&c.other_h1) && v.contains(&c.good_h1), "{v}");
    // curl -v-like facts: status, declared length, the CDN's cache status.
    assert!(
        out.contains(&format!("< content-length: {}", c.zip_len)),
        "{out}"
    );
    assert!(out.contains("< x-cache: HIT"), "{out}");
    assert!(
        out.contains("the zip came from a CDN cache (x-cache: HIT)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "checksum database {}: zip {}",
            support::sumdb::NAME,
            c.good_h1
        )),
        "{out}"
    );
    assert!(out.contains("2 of 3 proxies are wrong"), "{out}");

    // The same as JSON.
    let mut jargs = args.clone();
    jargs.push("--json");
    let o = doctor(&jargs);
    assert_eq!(code(&o), 1);
    let r = json(&o);
    assert_eq!(r["ok"], false);
    assert_eq!(r["module"], MODULE);
    assert_eq!(r["sumdb"]["status"], "ok");
    assert_eq!(r["sumdb"]["zip_h1"], c.good_h1.as_str());
    assert_eq!(r["reference"]["zip"]["source"], "sumdb");
    let g = proxy(&r, &good);
    assert_eq!(g["ok"], true);
    assert_eq!(g["verdict"], "ok");
    for k in ["info", "mod", "zip"] {
        assert_eq!(g[k]["status"], 200, "{k}");
        assert_eq!(g[k]["http_version"], "HTTP/1.1", "{k}");
        assert_eq!(g[k]["tls"], Value::Null, "{k}");
        assert_eq!(g[k]["complete"], true, "{k}");
        assert!(g[k]["ttfb_ms"].as_f64().unwrap() >= 0.0, "{k}");
    }
    assert_eq!(g["info"]["version"], VERSION);
    assert_eq!(g["mod"]["h1"], c.mod_h1.as_str());
    assert_eq!(g["mod"]["vs_sumdb"], "match");
    assert_eq!(g["zip"]["h1"], c.good_h1.as_str());
    assert_eq!(g["zip"]["vs_sumdb"], "match");
    assert_eq!(g["zip"]["valid"], true);
    assert_eq!(g["zip"]["files"], 3);
    assert_eq!(g["zip"]["bytes_received"], c.zip_len);
    assert_eq!(g["zip"]["bytes_declared"], c.zip_len);
    assert_eq!(
        g["zip"]["headers"]["content-type"],
        "application/octet-stream"
    );
    assert!(g["zip"]["throughput_bytes_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(g["zip"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(g["zip"]["remote_addr"], m.good.addr.to_string());

    let t = proxy(&r, &cut);
    assert_eq!(t["ok"], false);
    assert_eq!(t["zip"]["status"], 200);
    assert_eq!(t["zip"]["complete"], false);
    assert_eq!(t["zip"]["bytes_received"], half);
    assert_eq!(t["zip"]["bytes_declared"], c.zip_len);
    assert_eq!(t["zip"]["headers"]["x-cache"], "HIT");
    assert_eq!(t["zip"]["headers"]["age"], "3600");
    let err = t["zip"]["error"].as_str().unwrap();
    assert!(
        err.contains("end of file before message length reached"),
        "{err}"
    );
    assert_eq!(t["zip"]["prefix_of"], serde_json::json!([good]));
    assert!(t["zip"].get("h1").is_none());
    assert_eq!(t["mod"]["vs_sumdb"], "match", "only the zip was cut");
    let p = t["problems"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{p:?}");

    let d = proxy(&r, &other);
    assert_eq!(d["ok"], false);
    assert_eq!(d["zip"]["complete"], true);
    assert_eq!(d["zip"]["valid"], true);
    assert_eq!(d["zip"]["h1"], c.other_h1.as_str());
    assert_eq!(d["zip"]["vs_sumdb"], "differs");
    assert_eq!(d["zip"]["bytes_received"], c.other_zip.len());
    assert_eq!(d["mod"]["vs_sumdb"], "match");
    assert!(d["verdict"]
        .as_str()
        .unwrap()
        .contains("differs from the checksum database"));
}

#[test]
fn three_mirrors_without_a_database_the_majority_decides() {
    let c = corpus();
    let m = three_mirrors(&c);
    let (good, cut, other) = (m.good.url(), m.cut.url(), m.other.url());
    let module = format!("{MODULE}@{VERSION}");
    let args = [
        module.as_str(),
        "--proxy",
        &good,
        "--proxy",
        &cut,
        "--proxy",
        &other,
        "--gosumdb",
        "off",
    ];
    let o = doctor(&args);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("checksum database: off; comparing the proxies with each other"));
    assert_eq!(verdict(&out, &good), "ok");
    let v = verdict(&out, &cut);
    assert!(
        v.contains(&format!(
            "truncated after {} of {} bytes",
            c.zip_len / 2,
            c.zip_len
        )),
        "{v}"
    );
    // The cut copy's bytes are the start of the good one's: two of three
    // agree, so the third is the odd one out.
    let v = verdict(&out, &other);
    assert!(
        v.starts_with("zip content differs from the majority of proxies"),
        "{v}"
    );
    assert!(v.contains(&format!("2 of 3 agree on {}", c.good_h1)), "{v}");

    let mut jargs = args.to_vec();
    jargs.push("--json");
    let r = json(&doctor(&jargs));
    assert_eq!(r["sumdb"]["status"], "off");
    assert_eq!(r["reference"]["zip"]["source"], "majority");
    assert_eq!(r["reference"]["zip"]["h1"], c.good_h1.as_str());
    assert_eq!(r["reference"]["zip"]["agree"], 2);
    assert_eq!(r["reference"]["zip"]["of"], 3);
    assert_eq!(r["reference"]["mod"]["agree"], 3);
    assert_eq!(proxy(&r, &good)["ok"], true);
    assert_eq!(
        proxy(&r, &good)["zip"]["vs_sumdb"],
        Value::Null,
        "no database"
    );
    assert_eq!(proxy(&r, &cut)["ok"], false);
    assert_eq!(proxy(&r, &other)["ok"], false);
    assert_eq!(proxy(&r, &other)["zip"]["h1"], c.other_h1.as_str());
    assert_eq!(proxy(&r, &other)["zip"]["same_as"], Value::Null);
}

#[test]
fn all_good_exits_0() {
    let c = corpus();
    let db = database(&c);
    let ups: Vec<Upstream> = (0..3).map(|_| Upstream::start(c.good.path())).collect();
    let urls: Vec<String> = ups.iter().map(Upstream::url).collect();
    let module = format!("{MODULE}@{VERSION}");
    // Also GOPROXY syntax in one --proxy, and a duplicate.
    let list = format!("{},{}", urls[1], urls[2]);
    let db_arg = gosumdb(&db);
    for sumdb in [db_arg.as_str(), "off"] {
        let o = doctor(&[
            &module,
            "--proxy",
            &urls[0],
            "--proxy",
            &list,
            "--proxy",
            &format!("{}/", urls[0]),
            "--gosumdb",
            sumdb,
        ]);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        let out = stdout(&o);
        for u in &urls {
            assert_eq!(verdict(&out, u), "ok");
        }
        assert!(out.contains("all 3 proxies are ok"), "{out}");
    }
    let r = json(&doctor(&[
        &module,
        "--proxy",
        &list,
        "--gosumdb",
        &db_arg,
        "--json",
    ]));
    assert_eq!(r["ok"], true);
    assert_eq!(r["proxies"].as_array().unwrap().len(), 2);
    assert_eq!(
        r["proxies"][0]["zip"]["same_as"],
        serde_json::json!([urls[2]])
    );
}

#[test]
fn http2_stream_reset_over_tls_is_named() {
    let c = corpus();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certs = tempfile::tempdir().unwrap();
    let cert = certs.path().join("ca.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    let edge = Upstream::start_tls(
        c.good.path(),
        &ck.cert.pem(),
        &ck.signing_key.serialize_pem(),
    );
    edge.set_fault(ZIP, Fault::Truncate(c.zip_len / 2));
    edge.set_headers(ZIP, &[("cf-cache-status", "HIT")]);
    let good = Upstream::start(c.good.path());
    let db = database(&c);
    let (e, g) = (edge.https_url(), good.url());
    let module = format!("{MODULE}@{VERSION}");
    let args = [
        module.as_str(),
        "--proxy",
        &e,
        "--proxy",
        &g,
        "--gosumdb",
        &gosumdb(&db),
        "--cacert",
        cert.to_str().unwrap(),
    ];
    let o = doctor(&args);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    let v = verdict(&out, &e);
    // HTTP/2 flow control: the server may have queued more than the client
    // got when it reset the stream; the count is what arrived.
    let n: usize = v
        .strip_prefix(".zip truncated after ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{v}"));
    assert!(n > 0 && n <= c.zip_len / 2, "{v}");
    assert_eq!(
        v,
        format!(
            ".zip truncated after {n} of {} bytes: HTTP/2 RST_STREAM from the server: INTERNAL_ERROR (stream error: stream ID 5; INTERNAL_ERROR)",
            c.zip_len
        )
    );
    assert!(out.contains("(TLS 1.3, ALPN h2)"), "{out}");
    assert!(
        out.contains("the zip came from a CDN cache (cf-cache-status: HIT)"),
        "{out}"
    );
    assert_eq!(verdict(&out, &g), "ok");

    let mut jargs = args.to_vec();
    jargs.push("--json");
    let r = json(&doctor(&jargs));
    let p = proxy(&r, &e);
    assert_eq!(p["zip"]["http_version"], "HTTP/2");
    assert_eq!(p["zip"]["tls"]["alpn"], "h2");
    assert_eq!(p["zip"]["tls"]["version"], "TLS 1.3");
    assert_eq!(p["zip"]["tls"]["cert_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["zip"]["h2"]["frame"], "RST_STREAM");
    assert_eq!(p["zip"]["h2"]["reason"], "INTERNAL_ERROR");
    assert_eq!(p["zip"]["h2"]["by"], "server");
    // The third request on the connection: stream 5 (.info 1, .mod 3).
    assert_eq!(p["zip"]["h2"]["stream_id"], 5);
    let err = p["zip"]["error"].as_str().unwrap();
    assert!(
        err.contains("stream error received: unexpected internal error"),
        "{err}"
    );
    assert!(p["zip"]["bytes_received"].as_u64().unwrap() <= (c.zip_len / 2) as u64);
    assert_eq!(p["mod"]["vs_sumdb"], "match");
    // Without --cacert, the certificate is refused, and said so.
    let o = doctor(&[&module, "--proxy", &e, "--gosumdb", "off"]);
    assert_eq!(code(&o), 1);
    let v = verdict(&stdout(&o), &e);
    assert!(
        v.starts_with("request failed: ") && v.contains("UnknownIssuer"),
        "said once for the three files: {v}"
    );
    assert!(stdout(&o).contains("pass its certificate with --cacert"));
}

#[test]
fn repr_digest_is_checked_and_cache_headers_shown() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let c = corpus();
    let zip = std::fs::read(c.good.path().join(&ZIP[1..])).unwrap();
    let right = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&zip))
    );
    let wrong = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"other"))
    );
    let a = Upstream::start(c.good.path());
    a.set_headers(
        ZIP,
        &[
            ("repr-digest", &right),
            ("etag", "\"abc\""),
            ("cache-control", "public, max-age=604800, immutable"),
            ("via", "1.1 edge-a"),
            ("cf-cache-status", "MISS"),
        ],
    );
    let b = Upstream::start(c.good.path());
    b.set_headers(ZIP, &[("repr-digest", &wrong)]);
    let module = format!("{MODULE}@{VERSION}");
    let (ua, ub) = (a.url(), b.url());
    let o = doctor(&[&module, "--proxy", &ua, "--proxy", &ub, "--gosumdb", "off"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert_eq!(verdict(&out, &ua), "ok");
    assert_eq!(verdict(&out, &ub), ".zip: Repr-Digest does not match body");
    for h in [
        "< etag: \"abc\"",
        "< cache-control: public, max-age=604800, immutable",
        "< via: 1.1 edge-a",
        "< cf-cache-status: MISS",
        "* Repr-Digest sha-256: match",
        "* Repr-Digest sha-256: mismatch",
    ] {
        assert!(out.contains(h), "{h} missing from:\n{out}");
    }
    let r = json(&doctor(&[
        &module,
        "--proxy",
        &ua,
        "--proxy",
        &ub,
        "--gosumdb",
        "off",
        "--json",
    ]));
    assert_eq!(
        proxy(&r, &ua)["zip"]["digests"],
        serde_json::json!([{"header": "Repr-Digest", "algorithm": "sha-256", "result": "match"}])
    );
    assert_eq!(proxy(&r, &ub)["zip"]["digests"][0]["result"], "mismatch");
    // The content itself is the same: only the header lies.
    assert_eq!(proxy(&r, &ub)["zip"]["h1"], c.good_h1.as_str());
}

#[test]
fn not_found_corrupt_and_stalled_mirrors() {
    let c = corpus();
    let db = database(&c);
    let good = Upstream::start(c.good.path());
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = Upstream::start(empty_dir.path());
    let corrupt = Upstream::start(c.good.path());
    corrupt.set_fault(ZIP, Fault::Corrupt);
    let stall = Upstream::start(c.good.path());
    stall.set_fault(ZIP, Fault::Stall(1000));
    let module = format!("{MODULE}@{VERSION}");
    let urls = [good.url(), empty.url(), corrupt.url(), stall.url()];
    let mut args = vec![module.as_str()];
    for u in &urls {
        args.extend(["--proxy", u.as_str()]);
    }
    let db_arg = gosumdb(&db);
    args.extend(["--gosumdb", &db_arg, "--timeout", "2s"]);
    let o = doctor(&args);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert_eq!(verdict(&out, &urls[0]), "ok");
    assert_eq!(verdict(&out, &urls[1]), "HTTP 404 (not found)");
    let v = verdict(&out, &urls[2]);
    assert!(v.starts_with("invalid zip: "), "{v}");
    let v = verdict(&out, &urls[3]);
    assert!(
        v.starts_with(&format!(".zip stalled after 1000 of {} bytes", c.zip_len)),
        "{v}"
    );
}

#[test]
fn unreachable_database_is_said_and_proxies_are_compared() {
    let c = corpus();
    let m = three_mirrors(&c);
    let db = database(&c);
    db.set_down(true);
    let module = format!("{MODULE}@{VERSION}");
    let (good, cut, other) = (m.good.url(), m.cut.url(), m.other.url());
    let o = doctor(&[
        &module,
        "--proxy",
        &good,
        "--proxy",
        &cut,
        "--proxy",
        &other,
        "--gosumdb",
        &gosumdb(&db),
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "checksum database {} could not be reached",
            support::sumdb::NAME
        )),
        "{out}"
    );
    assert!(out.contains("comparing the proxies with each other instead"));
    assert_eq!(verdict(&out, &good), "ok");
    assert!(verdict(&out, &other).contains("differs from the majority of proxies"));
    // A module the database has never heard of: said, and compared.
    let o = doctor(&[
        "example.com/nothere@v1.0.0",
        "--proxy",
        &good,
        "--gosumdb",
        &gosumdb(&database(&c)),
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("no record"), "{out}");
    assert_eq!(verdict(&out, &good), "HTTP 404 (not found)");
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        vec!["example.com/m"],
        vec!["example.com/m@latest"],
        vec!["Example.com/m@v1.0.0x"],
        vec!["example.com/m@v1.0.0", "--proxy", "ftp://x"],
        vec!["example.com/m@v1.0.0", "--proxy", "direct"],
        vec!["example.com/m@v1.0.0", "--gosumdb", "not a key at all"],
        vec!["example.com/m@v1.0.0", "--cacert", "/nonexistent/ca.pem"],
        vec!["example.com/m@v1.0.0", "--timeout", "soon"],
    ] {
        let o = doctor(&args);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(!o.stderr.is_empty(), "{args:?}: says why");
    }
}
