//! `GOPROXY=direct` in gomirror against real git repositories, with the
//! real go command in direct mode as the oracle: for every case, the go
//! command fetching from the repositories itself and the go command fetching
//! through gomirror (`--goproxy direct`) must agree on the version list,
//! the versions queries resolve to, and the `h1:` sums of zips and go.mods.
//!
//! The repositories live in a temp dir; `https://github.com/` (and
//! `https://git.lab.example/`) is pointed at it with git's own
//! `url.<base>.insteadOf` in a test-only global git config, used by both
//! sides. Vanity import paths (`vanity.example/...`, `gopkg.in/...`) are
//! answered by a real HTTP server on loopback serving go-import pages,
//! reached as the `HTTP_PROXY` and `HTTPS_PROXY` of both sides: it refuses
//! CONNECT tunnels (so https discovery fails and, under `GOINSECURE`, both
//! fall back to plain http as the go command does) except to hosts it is
//! told to serve over TLS (self-signed, which GOINSECURE accepts); it also
//! serves a module proxy named by a go-import `mod` tag.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use support::server::{ok, GoEnv, Server};

/// A vanity-path host on loopback, used as an HTTP forward proxy: answers
/// `http://<host>/<path>?go-get=1` with the page configured for the
/// longest configured prefix of `<host>/<path>`, and `/modproxy/...` from
/// a GOPROXY directory.
struct Vanity {
    port: u16,
    state: Arc<VanityState>,
    _rt: tokio::runtime::Runtime,
}

#[derive(Default)]
struct VanityState {
    /// (import path prefix, go-import tags as `content` strings)
    pages: Mutex<Vec<(String, Vec<String>)>>,
    modproxy: PathBuf,
    /// Every request, as `host/path?query` (`https:` in front for those
    /// that came through a CONNECT tunnel).
    seen: Mutex<Vec<String>>,
    /// Page prefixes answered only with `BASIC_ALICE` credentials.
    protected: Mutex<Vec<String>>,
    /// Hosts whose CONNECT tunnels are accepted (TLS with a self-signed
    /// certificate, fine for GOINSECURE paths); other CONNECTs get a 502.
    tls_hosts: Mutex<Vec<String>>,
}

impl Vanity {
    fn start(modproxy: PathBuf) -> Vanity {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(VanityState {
            modproxy,
            ..Default::default()
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = vanity_app(state.clone(), false);
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Vanity {
            port,
            state,
            _rt: rt,
        }
    }

    /// Serves these go-import tags for `prefix` and the paths below it.
    fn page(&self, prefix: &str, tags: &[&str]) {
        self.state.pages.lock().unwrap().push((
            prefix.to_owned(),
            tags.iter().map(|t| t.to_string()).collect(),
        ));
    }

    /// Answers pages under `prefix` only to `BASIC_ALICE`.
    fn protect(&self, prefix: &str) {
        self.state.protected.lock().unwrap().push(prefix.to_owned());
    }

    /// Accepts CONNECT tunnels to `host` (https discovery).
    fn tls_host(&self, host: &str) {
        self.state.tls_hosts.lock().unwrap().push(host.to_owned());
    }

    fn modproxy_url(&self) -> String {
        format!("http://127.0.0.1:{}/modproxy", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().clone()
    }
}

/// A git server on loopback: git's own `git http-backend` (smart HTTP)
/// over the repositories under a directory, behind HTTP Basic
/// authentication (`alice` / `s3cret`), counting requests.
struct GitHttp {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

const BASIC_ALICE: &str = "Basic YWxpY2U6czNjcmV0"; // alice:s3cret

impl GitHttp {
    fn start(root: PathBuf) -> GitHttp {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let st = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let st = st.clone();
            let root = root.clone();
            async move { git_cgi(&root, &st, req).await }
        });
        let (rt, addr) = support::serve_app("127.0.0.1", 1, app);
        GitHttp {
            port: addr.port(),
            seen,
            _rt: rt,
        }
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn git_cgi(
    root: &Path,
    seen: &Mutex<Vec<String>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    seen.lock().unwrap().push(format!(
        "{} {} auth={}",
        parts.method,
        parts.uri,
        !auth.is_empty()
    ));
    if auth != BASIC_ALICE {
        return (
            http::StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"git\"")],
            "authentication required\n",
        )
            .into_response();
    }
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "alice")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await.unwrap();
    let _ = writer.await;
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        })
        .unwrap_or((raw.len(), raw.len()));
    let head = String::from_utf8_lossy(&raw[..split.0]).into_owned();
    let mut resp = axum::response::Response::builder();
    let mut status = 200;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.eq_ignore_ascii_case("status") {
            status = v.trim()[..3].parse().unwrap_or(500);
        } else {
            resp = resp.header(k.trim(), v.trim());
        }
    }
    resp.status(status)
        .body(axum::body::Body::from(raw[split.1..].to_vec()))
        .unwrap()
}

fn vanity_app(st: Arc<VanityState>, tls: bool) -> axum::Router {
    axum::Router::new().fallback(move |req: axum::extract::Request| {
        let st = st.clone();
        async move {
            if req.method() == http::Method::CONNECT {
                return vanity_connect(st, req);
            }
            vanity_answer(&st, req, tls)
        }
    })
}

/// A CONNECT tunnel: TLS (self-signed certificate for the host), then the
/// same pages over https.
fn vanity_connect(
    st: Arc<VanityState>,
    mut req: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = req.uri().host().unwrap_or("").to_owned();
    if !st.tls_hosts.lock().unwrap().contains(&host) {
        return (http::StatusCode::BAD_GATEWAY, "no tunnel\n").into_response();
    }
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (http::StatusCode::BAD_REQUEST, "no upgrade\n").into_response();
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ck = rcgen::generate_simple_self_signed(vec![host]).unwrap();
        let cert = ck.cert.der().clone();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let mut sc = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        sc.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let Ok(tls) = acceptor.accept(io).await else {
            return;
        };
        let svc = hyper_util::service::TowerToHyperService::new(vanity_app(st, true));
        let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
            .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
            .await;
    });
    http::StatusCode::OK.into_response()
}

fn vanity_answer(
    st: &VanityState,
    req: axum::extract::Request,
    tls: bool,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri().clone();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let host = uri
        .host()
        .map(str::to_owned)
        .or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(|h| h.split(':').next().unwrap_or("").to_owned())
        })
        .unwrap_or_default();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    st.seen.lock().unwrap().push(format!(
        "{}{host}{path}?{query}{}",
        if tls { "https:" } else { "" },
        if auth.is_empty() {
            ""
        } else {
            " (authorization)"
        }
    ));
    if let Some(rel) = path.strip_prefix("/modproxy/") {
        return match (rel.contains(".."), std::fs::read(st.modproxy.join(rel))) {
            (false, Ok(d)) => d.into_response(),
            _ => (http::StatusCode::NOT_FOUND, "not found\n").into_response(),
        };
    }
    let import = format!("{host}{}", path.trim_end_matches('/'));
    let pages = st.pages.lock().unwrap();
    let best = pages
        .iter()
        .filter(|(p, _)| import == *p || import.starts_with(&format!("{p}/")))
        .max_by_key(|(p, _)| p.len());
    if let Some((p, _)) = best {
        if st.protected.lock().unwrap().contains(p) && auth != BASIC_ALICE {
            return (
                http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Basic realm=\"vanity\"")],
                "authentication required\n",
            )
                .into_response();
        }
    }
    match (query.contains("go-get=1"), best) {
        (true, Some((_, tags))) => {
            let metas: String = tags
                .iter()
                .map(|t| format!("<meta name=\"go-import\" content=\"{t}\">\n"))
                .collect();
            axum::response::Html(format!(
                "<!DOCTYPE html>\n<html><head>\n{metas}</head><body>nothing to see</body></html>\n"
            ))
            .into_response()
        }
        _ => (http::StatusCode::NOT_FOUND, "no such page\n").into_response(),
    }
}

/// A repository being written, with deterministic commit times.
struct Git {
    dir: PathBuf,
    clock: i64,
}

impl Git {
    fn init(root: &Path, name: &str) -> Git {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let g = Git {
            dir,
            clock: 1_700_000_000,
        };
        g.run(&["init", "--quiet", "--initial-branch=main"]);
        g
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("git");
        let date = format!("@{} +0000", self.clock);
        c.current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        ok(self.cmd().args(args)).trim().to_owned()
    }

    fn write(&self, path: &str, data: &str) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn remove(&self, path: &str) {
        self.run(&["rm", "--quiet", path]);
    }

    /// Commits everything; returns the commit hash.
    fn commit(&mut self, msg: &str) -> String {
        self.clock += 3600;
        self.run(&["add", "-A"]);
        self.run(&["commit", "--quiet", "-m", msg]);
        self.run(&["rev-parse", "HEAD"])
    }

    fn tag(&self, name: &str) {
        self.run(&["tag", name]);
    }

    fn annotated(&self, name: &str) {
        self.run(&["tag", "-a", "-m", name, name]);
    }
}

fn gomod(path: &str) -> String {
    format!("module {path}\n\ngo 1.21\n")
}

/// Builds the corpus under `root/t/`; returns the queries to compare:
/// (module, [queries]).
fn corpus(root: &Path) -> Vec<(&'static str, Vec<String>)> {
    let t = root.join("t");
    let mut out = vec![];

    // Plain v1: lightweight and annotated tags, an untagged head, a branch
    // on a tagged commit.
    let mut g = Git::init(&t, "plain");
    g.write("go.mod", &gomod("github.com/t/plain"));
    g.write("plain.go", "package plain\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.run(&["branch", "feature"]);
    g.write("LICENSE", "MIT\n");
    g.write("internal/x/x.go", "package x\n");
    g.commit("two");
    g.annotated("v1.1.0");
    g.tag("v1.2"); // not canonical: ignored
    g.tag("v1.3.0+meta"); // build metadata: ignored
    g.write("plain.go", "package plain\n\n// Hello.\nfunc Hello() {}\n");
    let head = g.commit("three");
    out.push((
        "github.com/t/plain",
        vec![
            "v1.0.0".into(),
            "v1.1.0".into(),
            "latest".into(),
            "main".into(),
            "feature".into(),
            head[..12].to_owned(),
        ],
    ));

    // v2 by go.mod on the root (after a v1 history).
    let mut g = Git::init(&t, "major");
    g.write("go.mod", &gomod("github.com/t/major"));
    g.write("m.go", "package major\n");
    g.commit("v1");
    g.tag("v1.0.0");
    g.write("go.mod", &gomod("github.com/t/major/v2"));
    g.commit("v2");
    g.tag("v2.0.0");
    g.write("m2.go", "package major\n");
    g.commit("v2.1");
    g.annotated("v2.1.0");
    g.write("m3.go", "package major\n");
    g.commit("after");
    out.push((
        "github.com/t/major/v2",
        vec![
            "v2.0.0".into(),
            "v2.1.0".into(),
            "latest".into(),
            "main".into(),
        ],
    ));
    out.push(("github.com/t/major", vec!["v1.0.0".into(), "latest".into()]));

    // v2+ tags without go.mod: +incompatible.
    let mut g = Git::init(&t, "incompat");
    g.write("i.go", "package incompat\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.write("j.go", "package incompat\n");
    g.commit("two");
    g.tag("v2.0.0");
    g.write("k.go", "package incompat\n");
    g.commit("three");
    g.annotated("v2.1.0");
    g.write("l.go", "package incompat\n");
    g.commit("four");
    out.push((
        "github.com/t/incompat",
        vec![
            "v1.0.0".into(),
            "v2.0.0+incompatible".into(),
            "v2.1.0+incompatible".into(),
            "latest".into(),
            "main".into(),
        ],
    ));

    // A module in a subdirectory with prefixed tags; the root LICENSE is
    // copied into its zip; the root module excludes it (nested module).
    let mut g = Git::init(&t, "mono");
    g.write("go.mod", &gomod("github.com/t/mono"));
    g.write("LICENSE", "BSD\n");
    g.write("root.go", "package mono\n");
    g.write("tools/gen/gen.go", "package gen\n");
    g.write("sub/dir/go.mod", &gomod("github.com/t/mono/sub/dir"));
    g.write("sub/dir/d.go", "package dir\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.tag("sub/dir/v0.1.0");
    g.write("sub/dir/e.go", "package dir\n");
    g.commit("two");
    g.annotated("sub/dir/v0.2.0");
    g.write("sub/dir/f.go", "package dir\n");
    g.commit("three");
    out.push((
        "github.com/t/mono/sub/dir",
        vec![
            "v0.1.0".into(),
            "v0.2.0".into(),
            "latest".into(),
            "main".into(),
        ],
    ));
    out.push((
        "github.com/t/mono",
        vec!["v1.0.0".into(), "latest".into(), "main".into()],
    ));

    // .gitattributes: the go command's zip follows eol conversion but not
    // export-ignore or export-subst; and a path long enough to need a pax
    // header in a tar.
    let mut g = Git::init(&t, "attrs");
    g.write("go.mod", &gomod("github.com/t/attrs"));
    g.write(
        ".gitattributes",
        "ignored.txt export-ignore\nversion.go export-subst\n*.txt text eol=crlf\n",
    );
    g.write("ignored.txt", "not exported\n");
    g.write(
        "version.go",
        "package attrs\n\nconst Rev = \"$Format:%H$\"\n",
    );
    g.write("note.txt", "one\ntwo\n");
    let long = format!("deep/{}/{}.go", "d".repeat(90), "f".repeat(60));
    g.write(&long, "package deep\n");
    g.commit("one");
    g.tag("v1.0.0");
    out.push(("github.com/t/attrs", vec!["v1.0.0".into()]));

    // Prerelease tags only.
    let mut g = Git::init(&t, "pre");
    g.write("go.mod", &gomod("github.com/t/pre"));
    g.write("p.go", "package pre\n");
    g.commit("one");
    g.tag("v0.1.0-alpha");
    g.write("q.go", "package pre\n");
    g.commit("two");
    g.annotated("v0.1.0-beta.1");
    g.write("r.go", "package pre\n");
    g.commit("three");
    out.push((
        "github.com/t/pre",
        vec![
            "v0.1.0-alpha".into(),
            "v0.1.0-beta.1".into(),
            "latest".into(),
            "main".into(),
        ],
    ));

    // No tags: pseudo-versions of the default branch; no go.mod either.
    let mut g = Git::init(&t, "notags");
    g.write("n.go", "package notags\n");
    let first = g.commit("one");
    g.write("o.go", "package notags\n");
    g.remove("n.go");
    g.commit("two");
    out.push((
        "github.com/t/notags",
        vec!["latest".into(), "main".into(), first[..12].to_owned()],
    ));
    out
}

/// Repositories reached through go-import discovery and the general `.git`
/// rule, and a module served by the proxy a `mod` tag names; returns the
/// queries to compare.
fn vanity_corpus(root: &Path, vanity: &Vanity) -> Vec<(&'static str, Vec<String>)> {
    let t = root.join("t");
    let mut out = vec![];

    // A vanity root with a nested module: the nested module's page names
    // the root's prefix, which its own page must confirm.
    let mut g = Git::init(&t, "kit");
    g.write("go.mod", &gomod("vanity.example/kit"));
    g.write("kit.go", "package kit\n");
    g.write("pkg/p.go", "package pkg\n");
    g.write("sub/go.mod", &gomod("vanity.example/kit/sub"));
    g.write("sub/sub.go", "package sub\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.tag("sub/v0.1.0");
    g.write("kit2.go", "package kit\n");
    g.commit("two");
    g.annotated("v1.1.0");
    g.write("kit3.go", "package kit\n");
    g.commit("three");
    vanity.page(
        "vanity.example/kit",
        &[
            "vanity.example/other git https://github.com/t/other",
            "vanity.example/kit git https://github.com/t/kit",
        ],
    );
    out.push((
        "vanity.example/kit",
        vec!["v1.0.0".into(), "latest".into(), "main".into()],
    ));
    out.push((
        "vanity.example/kit/sub",
        vec!["v0.1.0".into(), "latest".into()],
    ));

    // The go-import tag's fourth field: the module lives in a
    // subdirectory of the repository, and its tags carry that prefix.
    let mut g = Git::init(&t, "sdrepo");
    g.write("README", "the module is in go/lib\n");
    g.write("go/lib/go.mod", &gomod("vanity.example/sd"));
    g.write("go/lib/lib.go", "package sd\n");
    g.commit("one");
    g.tag("go/lib/v1.0.0");
    g.write("go/lib/more.go", "package sd\n");
    g.commit("two");
    vanity.page(
        "vanity.example/sd",
        &["vanity.example/sd git https://github.com/t/sdrepo go/lib"],
    );
    out.push((
        "vanity.example/sd",
        vec!["v1.0.0".into(), "latest".into(), "main".into()],
    ));

    // gopkg.in style: the repository root is the whole module path, with
    // a .vN major-version suffix; v1 tags are not this module's.
    let mut g = Git::init(&t, "fake");
    g.write("go.mod", &gomod("gopkg.in/fake.v2"));
    g.write("fake.go", "package fake\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.tag("v2.0.0");
    g.write("fake2.go", "package fake\n");
    g.commit("two");
    g.tag("v2.1.0");
    g.write("fake3.go", "package fake\n");
    g.commit("three");
    vanity.page(
        "gopkg.in/fake.v2",
        &["gopkg.in/fake.v2 git https://github.com/t/fake"],
    );
    out.push((
        "gopkg.in/fake.v2",
        vec!["v2.0.0".into(), "latest".into(), "main".into()],
    ));

    // A `mod` tag wins over a git tag for the same prefix: the module
    // comes from that module proxy.
    for v in ["v1.0.0", "v1.1.0"] {
        support::upstream::publish(
            &vanity.state.modproxy,
            &support::upstream::ModVersion {
                path: "vanity.example/modx",
                version: v,
                files: vec![
                    ("go.mod", gomod("vanity.example/modx").into_bytes()),
                    ("x.go", format!("package modx\n\n// {v}\n").into_bytes()),
                ],
            },
        );
    }
    vanity.page(
        "vanity.example/modx",
        &[
            "vanity.example/modx git https://github.com/t/nosuchrepo",
            &format!("vanity.example/modx mod {}", vanity.modproxy_url()),
        ],
    );
    out.push((
        "vanity.example/modx",
        vec!["v1.0.0".into(), "latest".into()],
    ));

    // The general rule: an element ending in .git names the repository
    // (cloned without the suffix).
    let mut g = Git::init(&root.join("lab/t"), "dotgit");
    g.write("go.mod", &gomod("git.lab.example/t/dotgit.git"));
    g.write("d.go", "package dotgit\n");
    g.commit("one");
    g.tag("v1.0.0");
    out.push((
        "git.lab.example/t/dotgit.git",
        vec!["v1.0.0".into(), "latest".into()],
    ));

    // Retractions and deprecation travel in go.mod: the go command hides
    // the retracted version from lists and @latest either way.
    let mut g = Git::init(&t, "retract");
    g.write("go.mod", &gomod("github.com/t/retract"));
    g.write("r.go", "package retract\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.write("r2.go", "package retract\n");
    let retracted = g.commit("two");
    g.tag("v1.1.0");
    g.run(&["branch", "onretracted"]);
    g.write(
        "go.mod",
        "// Deprecated: use github.com/t/plain.\nmodule github.com/t/retract\n\ngo 1.21\n\nretract v1.1.0 // broken\n",
    );
    g.commit("three");
    g.tag("v1.2.0");
    out.push((
        "github.com/t/retract",
        vec![
            "v1.1.0".into(),
            "latest".into(),
            "onretracted".into(),
            retracted[..12].to_owned(),
            "main".into(),
        ],
    ));

    // A repository whose default branch was deleted (HEAD names a branch
    // that does not exist): its tags still work.
    let mut g = Git::init(&t, "nohead");
    g.write("go.mod", &gomod("github.com/t/nohead"));
    g.write("n.go", "package nohead\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.run(&["branch", "--quiet", "-m", "main", "old"]);
    g.run(&["tag", "v1.0.1", "old"]);
    g.run(&["checkout", "--quiet", "--detach"]);
    g.run(&["branch", "--quiet", "-D", "old"]);
    g.run(&["symbolic-ref", "HEAD", "refs/heads/gone"]);
    out.push((
        "github.com/t/nohead",
        vec!["v1.0.0".into(), "v1.0.1".into(), "latest".into()],
    ));

    // A fork: its go.mod still names the original module (the go command
    // downloads it; only a build would complain).
    let mut g = Git::init(&t, "fork");
    g.write("go.mod", &gomod("github.com/upstream/original"));
    g.write("f.go", "package original\n");
    g.commit("one");
    g.tag("v1.0.0");
    out.push(("github.com/t/fork", vec!["v1.0.0".into()]));

    // A v2 module in a v2/ directory beside a root without go.mod: v2+
    // tags are the v2 module's, never +incompatible versions of the root.
    let mut g = Git::init(&t, "v2dir");
    g.write("a.go", "package v2dir\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.write("v2/go.mod", &gomod("github.com/t/v2dir/v2"));
    g.write("v2/a.go", "package v2dir\n");
    g.commit("two");
    g.tag("v2.0.0");
    g.write("v2/b.go", "package v2dir\n");
    g.commit("three");
    out.push((
        "github.com/t/v2dir",
        vec!["v1.0.0".into(), "latest".into(), "main".into()],
    ));
    out.push((
        "github.com/t/v2dir/v2",
        vec!["v2.0.0".into(), "latest".into(), "main".into()],
    ));
    out
}

/// A temp dir holding repositories under `repos/`, a git config that
/// points `https://github.com/` and `https://git.lab.example/` at them,
/// and the vanity host.
struct Lab {
    base: tempfile::TempDir,
    gitconfig: PathBuf,
    vanity: Vanity,
    /// Serves `repos/priv/*` over smart HTTP with authentication, as
    /// `https://git.corp.example/`.
    githttp: GitHttp,
    /// A loopback port nothing listens on.
    closed_port: u16,
}

impl Lab {
    fn new() -> Lab {
        let base = tempfile::tempdir().unwrap();
        let gitconfig = base.path().join("gitconfig");
        let repos = base.path().join("repos");
        std::fs::create_dir_all(repos.join("priv")).unwrap();
        let githttp = GitHttp::start(repos.join("priv"));
        std::fs::write(
            &gitconfig,
            format!(
                "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/\n[url \"file://{}/\"]\n\tinsteadOf = https://git.lab.example/\n[url \"http://127.0.0.1:{}/\"]\n\tinsteadOf = https://git.corp.example/\n",
                repos.display(),
                repos.join("lab").display(),
                githttp.port
            ),
        )
        .unwrap();
        let modproxy = base.path().join("modproxy");
        std::fs::create_dir_all(&modproxy).unwrap();
        let vanity = Vanity::start(modproxy);
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Lab {
            base,
            gitconfig,
            vanity,
            githttp,
            closed_port,
        }
    }

    fn repos(&self) -> PathBuf {
        self.base.path().join("repos")
    }

    /// The environment both gomirror and the go commands run with.
    fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let http_proxy = format!("http://127.0.0.1:{}", self.vanity.port);
        // CONNECT tunnels are refused except for the hosts made TLS hosts.
        let https_proxy = http_proxy.clone();
        vec![
            ("GIT_CONFIG_GLOBAL", self.gitconfig.clone().into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GOMIRROR_GIT_DIR", self.base.path().join("gitcache").into()),
            ("HTTP_PROXY", http_proxy.clone().into()),
            ("http_proxy", http_proxy.into()),
            ("HTTPS_PROXY", https_proxy.clone().into()),
            ("https_proxy", https_proxy.into()),
            ("NO_PROXY", "127.0.0.1,localhost,::1".into()),
            ("no_proxy", "127.0.0.1,localhost,::1".into()),
            ("ALL_PROXY", "".into()),
            ("all_proxy", "".into()),
        ]
    }

    /// gomirror with `--goproxy direct --gosumdb off` and `GOINSECURE=*`.
    fn server(&self) -> Server {
        self.server_with("data", &[("GOINSECURE", "*")])
    }

    /// gomirror in direct mode with its own data dir and extra settings.
    fn server_with(&self, data: &str, extra: &[(&str, &str)]) -> Server {
        self.server_args(data, extra, &[])
    }

    /// Like [`Lab::server_with`], with extra command-line arguments.
    fn server_args(&self, data: &str, extra: &[(&str, &str)], args: &[&str]) -> Server {
        let mut env = self.env();
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            let k: &'static str = Box::leak(k.to_string().into_boxed_str());
            env.push((k, v.into()));
        }
        if !extra.iter().any(|(k, _)| *k == "GOINSECURE") {
            env.push(("GOINSECURE", "".into()));
        }
        // The lab's module proxy (named by a go-import `mod` tag) is on
        // loopback: the operator allows it, as for an internal proxy.
        if !extra.iter().any(|(k, _)| *k == "GOMIRROR_DIRECT_ALLOW") {
            env.push(("GOMIRROR_DIRECT_ALLOW", "127.0.0.1".into()));
        }
        if !extra.iter().any(|(k, _)| *k == "GOMIRROR_GIT_DIR") {
            env.retain(|(name, _)| *name != "GOMIRROR_GIT_DIR");
            env.push((
                "GOMIRROR_GIT_DIR",
                self.base.path().join(format!("{data}-git")).into(),
            ));
        }
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        Server::start_with_env(&self.base.path().join(data), "direct", args, &env)
    }

    /// A `go` command in `env`, run in `work`, seeing the lab's git config.
    fn go(&self, env: &GoEnv, work: &Path) -> Command {
        let mut c = env.go(work);
        c.env("GOSUMDB", "off")
            .env("GONOSUMDB", "*")
            .env("GOINSECURE", "*")
            .env("GOFLAGS", "-mod=mod")
            .envs(self.env());
        c
    }
}

/// The go command's view of a retracted/deprecated version:
/// `go list -m -u -retracted -json module@q`, reduced to the fields the
/// protocol carries.
fn retraction(lab: &Lab, env: &GoEnv, work: &Path, module: &str, q: &str) -> String {
    let o = support::run(lab.go(env, work).args([
        "list",
        "-m",
        "-u",
        "-retracted",
        "-json",
        &format!("{module}@{q}"),
    ]));
    if !o.status.success() {
        return format!("{module}@{q} retraction: error");
    }
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    format!(
        "{module}@{q} retraction: version={} retracted={} deprecated={} update={}",
        j["Version"], j["Retracted"], j["Deprecated"], j["Update"]["Version"]
    )
}

/// The go command's answers for one module: the version list and, per
/// query, (Version, Sum, GoModSum) or the error.
fn answers(lab: &Lab, env: &GoEnv, work: &Path, module: &str, queries: &[String]) -> Vec<String> {
    let mut out = vec![];
    let list = support::run(lab.go(env, work).args(["list", "-m", "-versions", module]));
    out.push(format!(
        "list {}: {}",
        module,
        if list.status.success() {
            String::from_utf8_lossy(&list.stdout).trim().to_owned()
        } else {
            format!("error {}", String::from_utf8_lossy(&list.stderr).trim())
        }
    ));
    for q in queries {
        out.push(download(lab, env, work, module, q).0);
    }
    if module.ends_with("/retract") {
        out.push(retraction(lab, env, work, module, "v1.1.0"));
        out.push(format!(
            "list -retracted {module}: {}",
            String::from_utf8_lossy(
                &support::run(lab.go(env, work).args([
                    "list",
                    "-m",
                    "-retracted",
                    "-versions",
                    module
                ]))
                .stdout
            )
            .trim()
        ));
    }
    out
}

/// `go get pkg` in a fresh module: the modules it required (`go list -m
/// all`), or the error.
fn get_package(lab: &Lab, env: &GoEnv, name: &str, pkg: &str) -> String {
    let work = env.new_module(name);
    let o = support::run(lab.go(env, &work).args(["get", pkg]));
    if !o.status.success() {
        return format!(
            "go get {pkg}: error {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let all = support::run(lab.go(env, &work).args(["list", "-m", "all"]));
    let mods: Vec<String> = String::from_utf8_lossy(&all.stdout)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    format!("go get {pkg}: {}", mods.join(", "))
}

/// `go mod download -json module@q`: a summary line, and the error text if
/// it failed.
fn download(
    lab: &Lab,
    env: &GoEnv,
    work: &Path,
    module: &str,
    q: &str,
) -> (String, Option<String>) {
    let o = support::run(lab.go(env, work).args([
        "mod",
        "download",
        "-json",
        &format!("{module}@{q}"),
    ]));
    match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
        Ok(j) if o.status.success() => {
            // Origin: where the version came from; a branch query's Ref and
            // the TagSum describe the query, not the version, and are only
            // in the go command's own answer. For @latest through any proxy
            // the go command drops Origin (the list it read has none).
            let origin = &j["Origin"];
            let mut from = format!(
                "{} {} {} {}",
                origin["VCS"], origin["URL"], origin["Subdir"], origin["Hash"]
            );
            if j["Version"].as_str() == Some(q) {
                from += &format!(" {}", origin["Ref"]);
            }
            if q == "latest" {
                from = "(not compared)".into();
            }
            (
                format!(
                    "{module}@{q}: {} {} {} origin {from}",
                    j["Version"].as_str().unwrap_or("?"),
                    j["Sum"].as_str().unwrap_or("?"),
                    j["GoModSum"].as_str().unwrap_or("?")
                ),
                None,
            )
        }
        Ok(j) => (
            format!("{module}@{q}: error"),
            Some(j["Error"].as_str().unwrap_or("").to_owned()),
        ),
        Err(_) => (
            format!("{module}@{q}: error"),
            Some(String::from_utf8_lossy(&o.stderr).into_owned()),
        ),
    }
}

#[test]
fn direct_mode_matches_the_go_command() {
    let lab = Lab::new();
    let mut cases = corpus(&lab.repos());
    cases.extend(vanity_corpus(&lab.repos(), &lab.vanity));
    let server = lab.server();

    let oracle = GoEnv::new("direct");
    let via = GoEnv::new(&server.url);
    let ow = oracle.new_module("app");
    let vw = via.new_module("app");

    let mut mismatches = vec![];
    let mut report = vec![];
    for (module, queries) in &cases {
        let want = answers(&lab, &oracle, &ow, module, queries);
        let got = answers(&lab, &via, &vw, module, queries);
        for (w, g) in want.iter().zip(&got) {
            if w.contains("error") {
                mismatches.push(format!("oracle failed: {w}"));
            }
            if w != g {
                mismatches.push(format!("go direct:  {w}\n  gomirror:  {g}"));
            } else {
                report.push(w.clone());
            }
        }
    }
    // `go get` of a package path: the go command asks for each prefix of
    // the path as a module, longest first, and must land on the same module.
    for (i, pkg) in [
        "vanity.example/kit/pkg",
        "vanity.example/kit/sub",
        "github.com/t/mono/tools/gen",
        "github.com/t/mono/sub/dir",
    ]
    .iter()
    .enumerate()
    {
        let w = get_package(&lab, &oracle, &format!("geto{i}"), pkg);
        let g = get_package(&lab, &via, &format!("getv{i}"), pkg);
        if w.contains("error") {
            mismatches.push(format!("oracle failed: {w}"));
        }
        if w != g {
            mismatches.push(format!("go direct:  {w}\n  gomirror:  {g}"));
        } else {
            report.push(w);
        }
    }
    eprintln!("agreed:\n  {}", report.join("\n  "));
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}\n\ngomirror log:\n{}",
        mismatches.len(),
        mismatches.join("\n"),
        server
            .log()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Repositories whose trees break the zip rules: gomirror refuses them with
/// a clear error and caches nothing, where the go command in direct mode
/// refuses them too; a symbolic link pointing outside the repository is
/// left out of the zip, as the go command does.
#[test]
fn hostile_repositories() {
    let lab = Lab::new();
    let h = lab.repos().join("h");

    let mut g = Git::init(&h, "collide");
    g.write("go.mod", &gomod("github.com/h/collide"));
    g.write("a.go", "package collide\n");
    g.write("A.go", "package collide\n");
    g.commit("one");
    g.tag("v1.0.0");

    let mut g = Git::init(&h, "badname");
    g.write("go.mod", &gomod("github.com/h/badname"));
    g.write("bad:name.go", "package badname\n");
    g.commit("one");
    g.tag("v1.0.0");

    let mut g = Git::init(&h, "huge");
    g.write("go.mod", &gomod("github.com/h/huge"));
    let big = g.dir.join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(501 << 20)
        .unwrap();
    g.commit("one");
    std::fs::remove_file(&big).unwrap();
    g.tag("v1.0.0");

    let mut g = Git::init(&h, "symlink");
    g.write("go.mod", &gomod("github.com/h/symlink"));
    g.write("s.go", "package symlink\n");
    std::os::unix::fs::symlink("../../../../etc/passwd", g.dir.join("passwd")).unwrap();
    g.commit("one");
    g.tag("v1.0.0");

    let server = lab.server();
    let oracle = GoEnv::new("direct");
    let via = GoEnv::new(&server.url);
    let ow = oracle.new_module("app");
    let vw = via.new_module("app");

    for (module, want_msg) in [
        ("github.com/h/collide", "case-insensitive"),
        ("github.com/h/badname", "bad:name.go"),
        ("github.com/h/huge", "too large"),
    ] {
        let (w, werr) = download(&lab, &oracle, &ow, module, "v1.0.0");
        assert!(werr.is_some(), "the go command accepted {module}: {w}");
        let (g, gerr) = download(&lab, &via, &vw, module, "v1.0.0");
        let gerr = gerr.unwrap_or_else(|| panic!("gomirror served {module}: {g}"));
        assert!(
            gerr.contains(want_msg),
            "{module}: error does not say {want_msg:?}: {gerr}"
        );
        let zip = format!("{module}/@v/v1.0.0.zip");
        let files = support::key_files(&lab.base.path().join("data"), &zip);
        assert!(files.is_empty(), "{zip} was cached: {files:?}");
        eprintln!(
            "{module}: go: {}\n  gomirror: {}",
            werr.unwrap().trim(),
            gerr.trim()
        );
    }

    // What does not exist is a 404 (the go command falls through on it).
    for (module, q) in [
        ("github.com/h/missing", "v1.0.0"),
        ("github.com/h/symlink", "nosuchbranch"),
        ("github.com/h/symlink", "v1.9.9"),
        // A directory without a go.mod below the root is no module.
        ("github.com/h/symlink/sub", "latest"),
        ("github.com/h/symlink/sub", "main"),
    ] {
        let (w, werr) = download(&lab, &oracle, &ow, module, q);
        assert!(werr.is_some(), "the go command found {module}@{q}: {w}");
        let (g, gerr) = download(&lab, &via, &vw, module, q);
        let gerr = gerr.unwrap_or_else(|| panic!("gomirror served {module}@{q}: {g}"));
        // (`@latest` answered 404 reads "no matching versions".)
        assert!(
            gerr.contains("404 Not Found") || gerr.contains("no matching versions"),
            "{module}@{q}: {gerr}"
        );
        eprintln!("{module}@{q}: gomirror: {}", gerr.trim());
    }
    // Nothing was admitted for the module that is not one (not even an
    // .info naming a pseudo-version).
    let sub = lab
        .base
        .path()
        .join("data/objects/github.com/h/symlink/sub");
    let stored: Vec<String> = support::files_under(&sub)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        stored.iter().all(|f| f.contains("/@v/list")),
        "stored for a module that is not one: {stored:?}"
    );

    let (w, werr) = download(&lab, &oracle, &ow, "github.com/h/symlink", "v1.0.0");
    assert!(werr.is_none(), "{w}: {werr:?}");
    let (g, _) = download(&lab, &via, &vw, "github.com/h/symlink", "v1.0.0");
    assert_eq!(w, g, "symlink left out as by the go command");
}

/// What go-import discovery and the repository rules refuse, with a clear
/// error and nothing cached: a non-git repository, a tag naming a prefix
/// whose own page disagrees, a page with no matching tag, plain http
/// without GOINSECURE, a repository over the size cap, and credentials in
/// a repository URL never echoed.
#[test]
fn discovery_refusals() {
    let lab = Lab::new();
    let t = lab.repos().join("t");
    let mut g = Git::init(&t, "kit");
    g.write("go.mod", &gomod("vanity.example/kit"));
    g.write("kit.go", "package kit\n");
    g.commit("one");
    g.tag("v1.0.0");
    let mut g = Git::init(&t, "big");
    g.write("go.mod", &gomod("github.com/t/big"));
    // Incompressible: 3 MiB of pseudo-random bytes.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let noise: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(g.dir.join("noise.bin"), &noise).unwrap();
    g.commit("one");
    g.tag("v1.0.0");
    // A small module whose host keeps a large pull-request ref: not
    // fetched (only branches and tags are, as by the go command).
    let mut g = Git::init(&t, "prs");
    g.write("go.mod", &gomod("github.com/t/prs"));
    g.write("p.go", "package prs\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.run(&["checkout", "--quiet", "-b", "pr"]);
    std::fs::write(g.dir.join("noise.bin"), &noise).unwrap();
    let pr = g.commit("pull request");
    g.run(&["update-ref", "refs/pull/1/head", &pr]);
    g.run(&["checkout", "--quiet", "main"]);
    g.run(&["branch", "--quiet", "-D", "pr"]);

    lab.vanity.page(
        "vanity.example/kit",
        &["vanity.example/kit git https://github.com/t/kit"],
    );
    lab.vanity.page(
        "vanity.example/hgmod",
        &["vanity.example/hgmod hg https://hg.vanity.example/x"],
    );
    lab.vanity.page(
        "vanity.example/evil/sub",
        &["vanity.example/evil git https://github.com/t/kit"],
    );
    lab.vanity.page(
        "vanity.example/evil",
        &["vanity.example/evil git https://github.com/t/other"],
    );
    lab.vanity.page(
        "vanity.example/none",
        &["vanity.example/elsewhere git https://github.com/t/kit"],
    );
    lab.vanity.page(
        "vanity.example/secret",
        &[&format!(
            "vanity.example/secret git https://alice:hunter2@127.0.0.1:{}/x",
            lab.closed_port
        )],
    );

    let server = lab.server();
    let oracle = GoEnv::new("direct");
    let via = GoEnv::new(&server.url);
    let ow = oracle.new_module("app");
    let vw = via.new_module("app");

    for (module, want, oracle_too) in [
        ("vanity.example/hgmod", "supports only git", false),
        ("example.com/r.hg", "supports only git", false),
        ("vanity.example/evil/sub", "disagree about go-import", true),
        ("vanity.example/none", "did not match import path", true),
    ] {
        let (g, gerr) = download(&lab, &via, &vw, module, "v1.0.0");
        let gerr = gerr.unwrap_or_else(|| panic!("gomirror served {module}: {g}"));
        assert!(gerr.contains(want), "{module}: {gerr}");
        assert!(gerr.contains("404 Not Found"), "{module}: {gerr}");
        let (w, werr) = download(&lab, &oracle, &ow, module, "v1.0.0");
        let werr = werr.unwrap_or_else(|| panic!("the go command accepted {module}: {w}"));
        if oracle_too {
            assert!(werr.contains(want), "go direct, {module}: {werr}");
        }
        eprintln!("{module}: gomirror: {}\n  go: {}", gerr.trim(), werr.trim());
    }

    // Credentials in a repository URL stay out of what clients see.
    let (g, gerr) = download(&lab, &via, &vw, "vanity.example/secret", "v1.0.0");
    let gerr = gerr.unwrap_or_else(|| panic!("gomirror served vanity.example/secret: {g}"));
    assert!(!gerr.contains("hunter2"), "{gerr}");
    assert!(!gerr.contains("-git/"), "cache path leaked: {gerr}");
    eprintln!("vanity.example/secret: gomirror: {}", gerr.trim());

    // Without GOINSECURE, discovery is https only: nothing is asked over
    // plain http, and the error says why.
    let strict = lab.server_with("strict", &[]);
    let sv = GoEnv::new(&strict.url);
    let sw = sv.new_module("app");
    let before = lab.vanity.seen().len();
    let (g, gerr) = download(&lab, &sv, &sw, "vanity.example/kit", "v1.0.0");
    let gerr = gerr.unwrap_or_else(|| panic!("served without GOINSECURE: {g}"));
    assert!(gerr.contains("https fetch"), "{gerr}");
    assert_eq!(lab.vanity.seen().len(), before, "plain http was used");
    // With it, the same server answers.
    let (g, gerr) = download(&lab, &via, &vw, "vanity.example/kit", "v1.0.0");
    assert!(gerr.is_none(), "{g}: {gerr:?}");
    assert!(lab.vanity.seen().len() > before);

    // A repository over the size cap is stopped and removed; nothing is
    // cached.
    let capped = lab.server_with("capped", &[("GOMIRROR_GIT_MAX_REPO_SIZE", "1048576")]);
    let cv = GoEnv::new(&capped.url);
    let cw = cv.new_module("app");
    let (g, gerr) = download(&lab, &cv, &cw, "github.com/t/big", "v1.0.0");
    let gerr = gerr.unwrap_or_else(|| panic!("served a repository over the cap: {g}"));
    assert!(gerr.contains("larger than the limit"), "{gerr}");
    eprintln!("github.com/t/big over the cap: {}", gerr.trim());
    assert!(
        metric(
            &capped,
            "gomirror_git_commands_total",
            &[("op", "fetch"), ("result", "too_large")]
        ) >= 1.0
    );
    let left: Vec<_> = std::fs::read_dir(lab.base.path().join("capped-git"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the git cache: {left:?}");
    assert!(support::key_files(
        &lab.base.path().join("capped"),
        "github.com/t/big/@v/v1.0.0.zip"
    )
    .is_empty());
    // Only branches and tags are fetched: the pull-request ref's 3 MiB
    // are not, so the small module fits under the cap...
    let (g, gerr) = download(&lab, &cv, &cw, "github.com/t/prs", "v1.0.0");
    assert!(gerr.is_none(), "{g}: {gerr:?}");
    // ...and a commit only a pull-request ref reaches is unknown, to the
    // go command too.
    for (env, work) in [(&oracle, &ow), (&via, &vw)] {
        let (g, gerr) = download(&lab, env, work, "github.com/t/prs", &pr[..12]);
        assert!(gerr.is_some(), "pull-request commit resolved: {g}");
    }
    // The uncapped server takes it.
    let (g, gerr) = download(&lab, &via, &vw, "github.com/t/big", "v1.0.0");
    assert!(gerr.is_none(), "{g}: {gerr:?}");
}

/// A private repository behind HTTP authentication: gomirror uses the
/// credentials of the user running it (`~/.netrc` here), never shows the
/// password, and without credentials answers a clear 404. Immutable
/// requests for versions already in the repository cache do not contact
/// the git server; a version it lacks is fetched.
#[test]
fn private_repository_with_credentials() {
    let lab = Lab::new();
    let mut g = Git::init(&lab.repos().join("priv"), "secret");
    g.write("go.mod", &gomod("git.corp.example/secret.git"));
    g.write("s.go", "package secret\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.write("t.go", "package secret\n");
    g.commit("two");
    g.tag("v1.1.0");

    // A vanity page that needs a login too, served over https (only over
    // https does the go command send netrc credentials for a page).
    let mut g2 = Git::init(&lab.repos().join("priv"), "internal");
    g2.write("go.mod", &gomod("private.vanity.example/internal"));
    g2.write("i.go", "package internal\n");
    g2.commit("one");
    g2.tag("v1.0.0");
    lab.vanity.page(
        "private.vanity.example/internal",
        &["private.vanity.example/internal git https://git.corp.example/internal"],
    );
    lab.vanity.protect("private.vanity.example/internal");
    lab.vanity.tls_host("private.vanity.example");

    let netrc = "machine 127.0.0.1 login alice password s3cret\nmachine private.vanity.example login alice password s3cret\n";
    let home = lab.base.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".netrc"), netrc).unwrap();
    let nohome = lab.base.path().join("nohome");
    std::fs::create_dir_all(&nohome).unwrap();

    // GOINSECURE as for the go command: the vanity host's certificate is
    // self-signed.
    let server = lab.server_with(
        "priv",
        &[("HOME", home.to_str().unwrap()), ("GOINSECURE", "*")],
    );
    let oracle = GoEnv::new("direct");
    let via = GoEnv::new(&server.url);
    let ow = oracle.new_module("app");
    let vw = via.new_module("app");
    // The go command's HOME is its GoEnv directory: give it the same
    // credentials.
    let ohome = support::run(oracle.go(&ow).args(["env", "GOPATH"]));
    let ohome = Path::new(String::from_utf8_lossy(&ohome.stdout).trim())
        .parent()
        .unwrap()
        .to_owned();
    std::fs::write(ohome.join(".netrc"), netrc).unwrap();

    let m = "git.corp.example/secret.git";
    let (w, werr) = download(&lab, &oracle, &ow, m, "v1.0.0");
    assert!(werr.is_none(), "go direct: {w}: {werr:?}");
    let (g0, gerr) = download(&lab, &via, &vw, m, "v1.0.0");
    assert!(gerr.is_none(), "gomirror: {g0}: {gerr:?}");
    assert_eq!(w, g0);
    assert!(
        lab.githttp
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.contains("auth=true")),
        "no authenticated request"
    );

    let vm = "private.vanity.example/internal";
    let (w, werr) = download(&lab, &oracle, &ow, vm, "v1.0.0");
    assert!(werr.is_none(), "go direct: {w}: {werr:?}");
    let (gv, gerr) = download(&lab, &via, &vw, vm, "v1.0.0");
    assert!(gerr.is_none(), "gomirror: {gv}: {gerr:?}");
    assert_eq!(w, gv);
    let seen = lab.vanity.seen();
    assert!(
        seen.iter().any(
            |r| r.starts_with("https:private.vanity.example/internal?go-get=1 (authorization)")
        ),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|r| r.starts_with("private.vanity.example") && r.ends_with("(authorization)")),
        "credentials sent over plain http: {seen:?}"
    );

    // v1.1.0 is already in the cached repository: no git traffic.
    let (w1, _) = download(&lab, &oracle, &ow, m, "v1.1.0");
    let before = lab.githttp.requests();
    let (g1, gerr) = download(&lab, &via, &vw, m, "v1.1.0");
    assert!(gerr.is_none(), "{g1}: {gerr:?}");
    assert_eq!(w1, g1);
    assert_eq!(
        lab.githttp.requests(),
        before,
        "gomirror contacted the git server for a cached version"
    );

    // A new tag is not in the cache: fetched (misses fetch at most once a
    // second per repository).
    g.write("u.go", "package secret\n");
    g.commit("three");
    g.tag("v1.2.0");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = lab.githttp.requests();
    let (g2, gerr) = download(&lab, &via, &vw, m, "v1.2.0");
    assert!(gerr.is_none(), "{g2}: {gerr:?}");
    assert!(lab.githttp.requests() > before, "v1.2.0 without a fetch?");

    // A git credential helper instead of .netrc (`credential.helper store`
    // in the server user's git config).
    let creds = lab.base.path().join("git-credentials");
    std::fs::write(
        &creds,
        format!("http://alice:s3cret@127.0.0.1:{}\n", lab.githttp.port),
    )
    .unwrap();
    let helper_config = lab.base.path().join("helper.gitconfig");
    std::fs::write(
        &helper_config,
        format!(
            "[include]\n\tpath = {}\n[credential]\n\thelper = store --file {}\n",
            lab.gitconfig.display(),
            creds.display()
        ),
    )
    .unwrap();
    let helped = lab.server_with(
        "helped",
        &[
            ("HOME", nohome.to_str().unwrap()),
            ("GIT_CONFIG_GLOBAL", helper_config.to_str().unwrap()),
        ],
    );
    let hv = GoEnv::new(&helped.url);
    let hw = hv.new_module("app");
    let (h, herr) = download(&lab, &hv, &hw, m, "v1.0.0");
    assert!(herr.is_none(), "credential helper: {h}: {herr:?}");
    assert_eq!(h, g0);

    // Without credentials: a 404 that says why, and no password anywhere.
    let anon = lab.server_with(
        "anon",
        &[("HOME", nohome.to_str().unwrap()), ("GOINSECURE", "*")],
    );
    let av = GoEnv::new(&anon.url);
    let aw = av.new_module("app");
    let (a, aerr) = download(&lab, &av, &aw, m, "v1.0.0");
    let aerr = aerr.unwrap_or_else(|| panic!("served without credentials: {a}"));
    assert!(aerr.contains("404 Not Found"), "{aerr}");
    assert!(aerr.to_lowercase().contains("authentication"), "{aerr}");
    eprintln!("without credentials: {}", aerr.trim());
    let (a, aerr) = download(&lab, &av, &aw, vm, "v1.0.0");
    let aerr = aerr.unwrap_or_else(|| panic!("served without credentials: {a}"));
    assert!(aerr.contains("401"), "{aerr}");
    eprintln!("vanity page without credentials: {}", aerr.trim());
    for log in [server.log(), anon.log(), helped.log()] {
        assert!(!log.contains("s3cret"), "password in a log");
        assert!(!log.contains("YWxpY2U6czNjcmV0"), "credentials in a log");
    }
}

/// What direct mode builds goes through the same admission as any
/// upstream's content, the checksum database included: a tag moved after
/// the database recorded it is refused and nothing is stored.
#[test]
fn direct_content_is_checked_against_the_checksum_database() {
    let lab = Lab::new();
    let t = lab.repos().join("t");
    let mut g = Git::init(&t, "pub");
    g.write("go.mod", &gomod("github.com/t/pub"));
    g.write("p.go", "package pub\n");
    g.commit("one");
    g.tag("v1.0.0");
    g.write("q.go", "package pub\n");
    g.commit("two");
    g.tag("v1.1.0");

    // The true sums, from the go command in direct mode.
    let oracle = GoEnv::new("direct");
    let ow = oracle.new_module("app");
    let sums = |v: &str| {
        let o = support::run(lab.go(&oracle, &ow).args([
            "mod",
            "download",
            "-json",
            &format!("github.com/t/pub@{v}"),
        ]));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            j["Sum"].as_str().unwrap().to_owned(),
            j["GoModSum"].as_str().unwrap().to_owned(),
        )
    };
    let (zip0, mod0) = sums("v1.0.0");
    let (zip1, mod1) = sums("v1.1.0");
    assert_ne!(zip0, zip1);

    // The database recorded v1.0.0 as it is, and v1.1.0 as it was before
    // the tag moved (another tree).
    let db = support::sumdb::TestSumdb::start();
    db.add_filler(20);
    db.add("github.com/t/pub", "v1.0.0", &zip0, &mod0);
    db.add("github.com/t/pub", "v1.1.0", &zip0, &mod1);
    let gosumdb = format!("{} {}", db.vkey, db.url());
    let server = lab.server_args("sum", &[("GOINSECURE", "*")], &["--gosumdb", &gosumdb]);
    let via = GoEnv::new(&server.url);
    let vw = via.new_module("app");
    let go = |v: &str| {
        support::run(
            lab.go(&via, &vw)
                .env("GOSUMDB", &gosumdb)
                .env("GONOSUMDB", "")
                .args(["mod", "download", "-json", &format!("github.com/t/pub@{v}")]),
        )
    };

    let o = go("v1.0.0");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(o.status.success(), "{j}");
    assert_eq!(j["Sum"].as_str(), Some(zip0.as_str()));

    let o = go("v1.1.0");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert!(!o.status.success(), "a moved tag was served: {j}");
    let err = j["Error"].as_str().unwrap_or_default().to_owned();
    eprintln!("moved tag: {err}");
    assert!(err.contains("checksum database"), "{err}");
    let sum = lab.base.path().join("sum");
    assert!(support::stored_file(&sum, "github.com/t/pub/@v/v1.0.0.zip").exists());
    assert!(
        support::key_files(&sum, "github.com/t/pub/@v/v1.1.0.zip").is_empty(),
        "the refused zip was stored"
    );
}

/// Direct mode runs at most `GOMIRROR_GIT_MAX_PROCESSES` git processes at
/// once, and a git command running past `GOMIRROR_GIT_TIMEOUT` is stopped
/// with a clear error. Observed through a `git` first on the server's PATH
/// that records how many copies of itself run at once, then runs the real
/// git.
#[test]
fn git_processes_are_bounded_and_time_out() {
    let lab = Lab::new();
    let t = lab.repos().join("t");
    let modules: Vec<String> = (0..8).map(|i| format!("github.com/t/c{i}")).collect();
    for (i, m) in modules.iter().enumerate() {
        let mut g = Git::init(&t, &format!("c{i}"));
        g.write("go.mod", &gomod(m));
        g.write("c.go", "package c\n");
        g.commit("one");
        g.tag("v1.0.0");
    }
    let mut g = Git::init(&t, "hang");
    g.write("go.mod", &gomod("github.com/t/hang"));
    g.commit("one");
    g.tag("v1.0.0");

    let real_git = ok(Command::new("sh").args(["-c", "command -v git"]))
        .trim()
        .to_owned();
    let shim = lab.base.path().join("shim");
    std::fs::create_dir_all(&shim).unwrap();
    let count = |delta: &str| {
        format!(
            "( flock 9; n=$(( $(cat {d}/now 2>/dev/null || echo 0) {delta} )); echo $n > {d}/now; \
             m=$(cat {d}/max 2>/dev/null || echo 0); [ $n -gt $m ] && echo $n > {d}/max; true ) 9>{d}/lock",
            d = shim.display()
        )
    };
    std::fs::write(
        shim.join("git"),
        format!(
            "#!/bin/bash\n{}\ncase \"$*\" in *t/hang*) sleep 60 & echo $! > {}/hang.pid; wait; exit 1;; esac\nsleep 0.3\n{real_git} \"$@\"\nrc=$?\n{}\nexit $rc\n",
            count("+ 1"),
            shim.display(),
            count("- 1")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shim.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let server = lab.server_with(
        "bounded",
        &[
            ("PATH", path.as_str()),
            ("GOMIRROR_GIT_MAX_PROCESSES", "3"),
            ("GOMIRROR_GIT_TIMEOUT", "2s"),
        ],
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = support::http_client();
    let statuses: Vec<u16> = rt.block_on(async {
        let gets = modules.iter().map(|m| {
            let url = format!("{}/{m}/@v/v1.0.0.zip", server.url);
            let client = client.clone();
            async move { client.get(url).send().await.unwrap().status().as_u16() }
        });
        futures_util::future::join_all(gets).await
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let max: u32 = std::fs::read_to_string(shim.join("max"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = std::fs::read_to_string(shim.join("now")).unwrap();
    eprintln!("at most {max} git processes at once for 8 concurrent first downloads");
    assert!(max <= 3, "{max} git processes ran at once (bound 3)");
    assert!(
        max >= 2,
        "the downloads never overlapped: the bound was not exercised"
    );
    assert_eq!(now.trim(), "0");

    let url = format!("{}/github.com/t/hang/@v/v1.0.0.info", server.url);
    let (status, body) = rt.block_on(async {
        let r = client.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    eprintln!("hanging git: {status} {}", body.trim());
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("timed out after 2s"), "{body}");
    // The whole process group went, not only the process gomirror started.
    let child: u32 = std::fs::read_to_string(shim.join("hang.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let proc_dir = PathBuf::from(format!("/proc/{child}"));
    for _ in 0..50 {
        if !proc_dir.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        !proc_dir.exists(),
        "git's child process {child} outlived the timeout"
    );

    // What operators see.
    assert!(
        metric(
            &server,
            "gomirror_git_commands_total",
            &[("op", "fetch"), ("result", "ok")]
        ) >= 8.0
    );
    assert!(
        metric(
            &server,
            "gomirror_git_commands_total",
            &[("op", "archive"), ("result", "ok")]
        ) >= 8.0
    );
    assert!(
        metric(
            &server,
            "gomirror_git_commands_total",
            &[("op", "config"), ("result", "timeout")]
        ) >= 1.0
    );
    assert_eq!(metric(&server, "gomirror_git_processes", &[]), 0.0);
    assert!(metric(&server, "gomirror_git_cache_repositories", &[]) >= 8.0);
    assert!(metric(&server, "gomirror_git_cache_bytes", &[]) > 0.0);
}

/// The repository cache keeps to `GOMIRROR_GIT_CACHE_SIZE`: past it, the
/// least recently used repositories go, and come back when needed.
#[test]
fn git_cache_is_kept_within_its_budget() {
    let lab = Lab::new();
    let t = lab.repos().join("t");
    let modules: Vec<String> = (0..3).map(|i| format!("github.com/t/e{i}")).collect();
    for (i, m) in modules.iter().enumerate() {
        let mut g = Git::init(&t, &format!("e{i}"));
        g.write("go.mod", &gomod(m));
        g.write("e.go", "package e\n");
        g.commit("one");
        g.tag("v1.0.0");
    }
    // A dead process's half-made clone is cleared at start.
    let cache = lab.base.path().join("evict-git");
    std::fs::create_dir_all(cache.join("0123.git.tmp-999999999")).unwrap();
    // A budget below one repository: only the one just used stays.
    let server = lab.server_with("evict", &[("GOMIRROR_GIT_CACHE_SIZE", "1")]);
    let env = GoEnv::new(&server.url);
    let work = env.new_module("app");
    let repos = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let mut seen = vec![];
    for m in &modules {
        let (g, gerr) = download(&lab, &env, &work, m, "v1.0.0");
        assert!(gerr.is_none(), "{g}: {gerr:?}");
        let now = repos();
        assert_eq!(now.len(), 1, "after {m}: {now:?}");
        assert!(now[0].ends_with(".git"), "{now:?}");
        seen.push(now[0].clone());
    }
    // The mirror's store has e0@v1.0.0; its version list needs git again.
    let list = ok(lab
        .go(&env, &work)
        .args(["list", "-m", "-versions", &modules[0]]));
    assert_eq!(list.trim(), format!("{} v1.0.0", modules[0]));
    seen.extend(repos());
    // Three different repositories in turn, the first one cloned again.
    assert_ne!(seen[0], seen[1]);
    assert_ne!(seen[1], seen[2]);
    assert_eq!(seen[0], seen[3]);
    assert_eq!(
        metric(&server, "gomirror_git_cache_evictions_total", &[]),
        3.0
    );
    assert_eq!(metric(&server, "gomirror_git_cache_repositories", &[]), 1.0);
}

/// The value of metric `name` with `labels` on the server's /metrics (0
/// if absent).
fn metric(server: &Server, name: &str, labels: &[(&str, &str)]) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = rt.block_on(async {
        support::http_client()
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    support::metric(&text, name, labels)
}
