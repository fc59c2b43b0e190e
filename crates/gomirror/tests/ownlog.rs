//! The mirror's own checksum database (issue 17), with the real go command
//! on loopback: `gomirror sumdb keygen`; a go client whose GOSUMDB is the
//! mirror's key alone (no GONOSUMDB) verifies a private module (built by
//! the mirror from git, in direct mode) and a public one (first checked by
//! the mirror against the upstream checksum database) through the mirror's
//! log; the tree continues across a restart (the client's cached head is
//! proven a prefix); `sumdb audit` passes, then names both heads of a
//! fork; the log copied to a plain file server with a tile or a record
//! altered is refused by the go command; a tag moved on the git server is
//! refused at admission (once logged, never different); a record altered
//! in the store is not served.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use support::server::{ok, GoEnv, Server};
use support::sumdb::TestSumdb;
use support::upstream::{publish, ModVersion, Upstream};

const OWN: &str = "sum.corp.test";
/// A private module, served from git in direct mode (github.com paths
/// need no go-import discovery; git's config maps them to local
/// repositories).
const PRIVATE: &str = "github.com/corp/priv";

fn gomod(p: &str) -> Vec<u8> {
    format!("module {p}\n\ngo 1.21\n").into_bytes()
}

fn module<'a>(path: &'a str, body: &str) -> ModVersion<'a> {
    ModVersion {
        path,
        version: "v1.0.0",
        files: vec![
            ("go.mod", gomod(path)),
            ("x.go", format!("package x // {body}\n").into_bytes()),
        ],
    }
}

/// `git` in `dir`, as a fixed author at a fixed time.
fn git(dir: &Path, args: &[&str]) {
    ok(std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "@1700000000 +0000")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args));
}

/// Commits `body` to the private repository and tags it v1.0.0 (moving
/// the tag if it exists).
fn tag_private(repo: &Path, body: &str) {
    std::fs::create_dir_all(repo).unwrap();
    if !repo.join(".git").exists() {
        git(repo, &["init", "--quiet", "--initial-branch=main"]);
    }
    std::fs::write(repo.join("go.mod"), gomod(PRIVATE)).unwrap();
    std::fs::write(repo.join("x.go"), format!("package priv // {body}\n")).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", body]);
    git(repo, &["tag", "-f", "v1.0.0"]);
}

fn keygen(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("own.key");
    let out = ok(support::gomirror_tool()
        .args(["sumdb", "keygen", "--name", OWN, "--out"])
        .arg(&key));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(&format!("{OWN}+")), "{out}");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    (key, lines[0].to_owned())
}

fn start(data: &Path, up: &Upstream, db: &TestSumdb, key: &Path) -> Server {
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let root = key.parent().unwrap();
    let gitconfig = root.join("gitconfig");
    std::fs::write(
        &gitconfig,
        format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/\n",
            root.join("repos").display()
        ),
    )
    .unwrap();
    let gitdir = data.with_extension("git");
    let os = std::ffi::OsStr::new;
    Server::start_with_env(
        data,
        &format!("{},direct", up.url()),
        &["--gosumdb", &gosumdb],
        &[
            ("GOMIRROR_SUMDB_NAME", os(OWN)),
            ("GOMIRROR_SUMDB_KEY_FILE", key.as_os_str()),
            ("GOPRIVATE", os("github.com/corp")),
            ("GIT_CONFIG_GLOBAL", gitconfig.as_os_str()),
            ("GIT_CONFIG_NOSYSTEM", os("1")),
            ("GIT_TERMINAL_PROMPT", os("0")),
            ("GOMIRROR_GIT_DIR", gitdir.as_os_str()),
        ],
    )
}

fn download(env: &GoEnv, work: &Path, mv: &str) -> serde_json::Value {
    let out = ok(env.go(work).args(["mod", "download", "-json", mv]));
    serde_json::from_str(&out).unwrap()
}

fn latest_size(url: &str) -> u64 {
    let (s, body) = support::get_blocking(&format!("{url}/sumdb/{OWN}/latest"));
    assert_eq!(s, 200);
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_mirrors_own_checksum_database_vouches_for_private_modules_too() {
    let dir = tempfile::tempdir().unwrap();
    let (key, vkey) = keygen(dir.path());
    // keygen never replaces a key.
    let again = support::run(
        support::gomirror_tool()
            .args(["sumdb", "keygen", "--name", OWN, "--out"])
            .arg(&key),
    );
    assert!(!again.status.success());

    let up_dir = dir.path().join("up");
    let db = TestSumdb::start();
    let private = PRIVATE;
    let public = "example.com/pub";
    let later = "example.com/later";
    let repo = dir.path().join("repos/corp/priv");
    tag_private(&repo, "private");
    let h_pub = publish(&up_dir, &module(public, "public"));
    db.add(
        public,
        "v1.0.0",
        &h_pub,
        &gomod::dirhash::hash_go_mod(&gomod(public)),
    );
    let h_later = publish(&up_dir, &module(later, "later"));
    db.add(
        later,
        "v1.0.0",
        &h_later,
        &gomod::dirhash::hash_go_mod(&gomod(later)),
    );
    let up = Upstream::start(&up_dir);
    let data = dir.path().join("d");
    let mut m = start(&data, &up, &db, &key);
    assert_eq!(latest_size(&m.url), 0);

    // A go client that knows only the mirror's key.
    let mut env = GoEnv::new(&m.url);
    env.gosumdb = vkey.clone();
    let work = env.new_module("app");
    let j = download(&env, &work, &format!("{private}@v1.0.0"));
    let h_priv = j["Sum"].as_str().unwrap().to_owned();
    assert!(h_priv.starts_with("h1:"), "{j}");
    // Built from git by the mirror (no upstream has it).
    assert_eq!(up.count(&format!("/{private}/@v/v1.0.0.zip")), 0);
    let j = download(&env, &work, &format!("{public}@v1.0.0"));
    assert_eq!(j["Sum"].as_str(), Some(h_pub.as_str()), "{j}");
    assert_eq!(latest_size(&m.url), 2);
    // The go command asked the mirror's log (lookups, then tiles).
    let log = m.log();
    assert!(
        log.contains(&format!("path=/sumdb/{OWN}/lookup/{private}@v1.0.0")),
        "{log}"
    );
    assert!(
        log.contains(&format!("path=/sumdb/{OWN}/tile/8/0/000.p/")),
        "{log}"
    );
    // The log's records are the go.sum lines.
    for (p, h) in [(private, &h_priv), (public, &h_pub)] {
        let (s, body) = support::get_blocking(&format!("{}/sumdb/{OWN}/lookup/{p}@v1.0.0", m.url));
        assert_eq!(s, 200);
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(&format!("{p} v1.0.0 {h}\n")), "{body}");
        let mod_h1 = gomod::dirhash::hash_go_mod(&gomod(p));
        assert!(
            body.contains(&format!("{p} v1.0.0/go.mod {mod_h1}\n")),
            "{body}"
        );
    }
    // The public module was checked against the upstream database too.
    assert!(db.requests("/lookup/") >= 1);

    // Restarted: the same tree continues; the client's cached head (2
    // records) is proven a prefix of the new one.
    m.terminate(Duration::from_secs(10));
    let mut m = start(&data, &up, &db, &key);
    assert_eq!(latest_size(&m.url), 2);
    env.goproxy = m.url.clone();
    let j = download(&env, &work, &format!("{later}@v1.0.0"));
    assert_eq!(j["Sum"].as_str(), Some(h_later.as_str()), "{j}");
    assert_eq!(latest_size(&m.url), 3);
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", m.url));
    let size = support::metric(
        &String::from_utf8_lossy(&metrics),
        "gomirror_own_sumdb_tree_size",
        &[],
    );
    assert_eq!(size, 3.0);

    // Audit: the head verifies, a sample of records matches what is
    // served; the head is kept, and the next audit proves the log extends
    // it.
    let state = dir.path().join("audit.state");
    let audit = |url: &str| {
        support::run(
            support::gomirror_tool()
                .args(["sumdb", "audit", "--url", url, "--key", &vkey, "--state"])
                .arg(&state),
        )
    };
    let out = audit(&m.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 records match"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = audit(&m.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fork: another log under the same key (a rewritten history).
    let fork_dir = dir.path().join("fork");
    let f = start(&fork_dir, &up, &db, &key);
    let mut fenv = GoEnv::new(&f.url);
    fenv.gosumdb = vkey.clone();
    let fwork = fenv.new_module("app");
    for p in [later, public, private] {
        download(&fenv, &fwork, &format!("{p}@v1.0.0"));
    }
    assert_eq!(latest_size(&f.url), 3);
    let out = audit(&f.url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("FORK") && err.matches("3 records, hash").count() == 2,
        "{err}"
    );
    drop(f);

    // Forced past the mirror: its log and a module copied to a plain file
    // server. As copied, the go command accepts it; with one tile or the
    // record altered, the go command refuses it too.
    let get200 = |p: &str| {
        let (st, b) = support::get_blocking(&format!("{}{p}", m.url));
        assert_eq!(st, 200, "{p}");
        (p.to_owned(), b)
    };
    let db_paths = [
        format!("/sumdb/{OWN}/latest"),
        format!("/sumdb/{OWN}/lookup/{later}@v1.0.0"),
        format!("/sumdb/{OWN}/tile/8/0/000.p/3"),
    ];
    let mut copied: Vec<(String, Vec<u8>)> = db_paths.iter().map(|p| get200(p)).collect();
    copied.push((format!("/sumdb/{OWN}/supported"), vec![]));
    for ext in ["info", "mod", "zip"] {
        copied.push(get200(&format!("/{later}/@v/v1.0.0.{ext}")));
    }
    let plain = |alter: Option<(usize, usize)>| {
        let dir = tempfile::tempdir().unwrap();
        let server = Upstream::start(dir.path());
        let mut files = copied.clone();
        if let Some((i, at)) = alter {
            files[i].1[at] ^= 1;
        }
        server.serve_files(files);
        let mut env = GoEnv::new(&server.url());
        env.gosumdb = vkey.clone();
        let work = env.new_module("app");
        let out = support::run(env.go(&work).args([
            "mod",
            "download",
            "-json",
            &format!("{later}@v1.0.0"),
        ]));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            server,
            dir,
        )
    };
    let (accepted, out, _s, _d) = plain(None);
    assert!(accepted, "the plain copy is complete: {out}");
    let (accepted, out, _s, _d) = plain(Some((2, 5)));
    assert!(
        !accepted && out.contains("verifying"),
        "an altered tile: {out}"
    );
    let record_at = copied[1].1.iter().position(|&b| b == b'h').unwrap() + 4;
    let (accepted, out, _s, _d) = plain(Some((1, record_at)));
    assert!(!accepted, "an altered record: {out}");

    // Once logged, never different: the tag moved on the git server, the
    // zip gone from the cache and the mirror's clone with it (a new
    // replica, a wiped disk) → the new build is refused.
    tag_private(&repo, "rewritten");
    support::remove_tree(&data.with_extension("git"));
    std::fs::remove_file(data.join(format!("objects/{private}/@v/v1.0.0.zip.gmeta"))).unwrap();
    let (s, body) = support::get_blocking(&format!("{}/{private}/@v/v1.0.0.zip", m.url));
    let body = String::from_utf8_lossy(&body);
    assert!(s >= 400, "{s} {body:.200}");
    assert!(body.contains("once logged, never different"), "{body:.300}");
    let (_, metrics) = support::get_blocking(&format!("{}/metrics", m.url));
    let failures = support::metric(
        &String::from_utf8_lossy(&metrics),
        "gomirror_integrity_failures_total",
        &[("kind", "h1")],
    );
    assert!(failures >= 1.0);

    // A record altered in the store: the mirror does not serve the log.
    m.terminate(Duration::from_secs(10));
    let rec = support::files_under(&data.join(format!("objects/ownlog/{OWN}/record")))
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".gmeta"))
        .expect("a record's bytes");
    let mut perm = std::fs::metadata(&rec).unwrap().permissions();
    perm.set_mode(0o644);
    std::fs::set_permissions(&rec, perm).unwrap();
    let mut b = std::fs::read(&rec).unwrap();
    b[0] ^= 1;
    std::fs::write(&rec, b).unwrap();
    let m = start(&data, &up, &db, &key);
    let (s, body) = support::get_blocking(&format!("{}/sumdb/{OWN}/latest", m.url));
    assert_eq!(s, 503, "{}", String::from_utf8_lossy(&body));
    assert!(m.log().contains("own checksum database"), "{}", m.log());
}
