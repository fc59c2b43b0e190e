//! `GOPROXY=direct` in gomirror against real git repositories, with the
//! real go command in direct mode as the oracle: for every case, the go
//! command fetching from the repositories itself and the go command fetching
//! through gomirror (`--goproxy direct`) must agree on the version list,
//! the versions queries resolve to, and the `h1:` sums of zips and go.mods.
//!
//! The repositories live in a temp dir; `https://github.com/` is pointed at
//! it with git's own `url.<base>.insteadOf` in a test-only global git
//! config, used by both sides.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::server::{ok, GoEnv, Server};

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

/// A temp dir holding repositories under `repos/` and a git config that
/// points `https://github.com/` at them.
struct Lab {
    base: tempfile::TempDir,
    gitconfig: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let base = tempfile::tempdir().unwrap();
        let gitconfig = base.path().join("gitconfig");
        std::fs::write(
            &gitconfig,
            format!(
                "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/\n",
                base.path().join("repos").display()
            ),
        )
        .unwrap();
        Lab { base, gitconfig }
    }

    fn repos(&self) -> PathBuf {
        self.base.path().join("repos")
    }

    /// The environment both gomirror and the go commands run with.
    fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("GIT_CONFIG_GLOBAL", self.gitconfig.clone().into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GOMIRROR_GIT_DIR", self.base.path().join("gitcache").into()),
        ]
    }

    /// gomirror with `--goproxy direct --gosumdb off`.
    fn server(&self) -> Server {
        let env = self.env();
        let env: Vec<(&str, &std::ffi::OsStr)> =
            env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        Server::start_with_env(&self.base.path().join("data"), "direct", &[], &env)
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
    out
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
        Ok(j) if o.status.success() => (
            format!(
                "{module}@{q}: {} {} {}",
                j["Version"].as_str().unwrap_or("?"),
                j["Sum"].as_str().unwrap_or("?"),
                j["GoModSum"].as_str().unwrap_or("?")
            ),
            None,
        ),
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
    let cases = corpus(&lab.repos());
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
        let zip = lab
            .base
            .path()
            .join("data/objects")
            .join(module)
            .join("@v/v1.0.0.zip");
        assert!(!zip.exists(), "{} was cached", zip.display());
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
    ] {
        let (w, werr) = download(&lab, &oracle, &ow, module, q);
        assert!(werr.is_some(), "the go command found {module}@{q}: {w}");
        let (g, gerr) = download(&lab, &via, &vw, module, q);
        let gerr = gerr.unwrap_or_else(|| panic!("gomirror served {module}@{q}: {g}"));
        assert!(gerr.contains("404 Not Found"), "{module}@{q}: {gerr}");
        eprintln!("{module}@{q}: gomirror: {}", gerr.trim());
    }

    let (w, werr) = download(&lab, &oracle, &ow, "github.com/h/symlink", "v1.0.0");
    assert!(werr.is_none(), "{w}: {werr:?}");
    let (g, _) = download(&lab, &via, &vw, "github.com/h/symlink", "v1.0.0");
    assert_eq!(w, g, "symlink left out as by the go command");
}
