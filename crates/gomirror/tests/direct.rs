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

/// The go command's answers for one module: the version list and, per
/// query, (Version, Sum, GoModSum) or the error.
fn answers(env: &GoEnv, work: &Path, module: &str, queries: &[String]) -> Vec<String> {
    let mut out = vec![];
    let list = support::run(env_cmd(env, work).args(["list", "-m", "-versions", module]));
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
        let o = support::run(env_cmd(env, work).args([
            "mod",
            "download",
            "-json",
            &format!("{module}@{q}"),
        ]));
        let line = match serde_json::from_slice::<serde_json::Value>(&o.stdout) {
            Ok(j) if o.status.success() => format!(
                "{module}@{q}: {} {} {}",
                j["Version"].as_str().unwrap_or("?"),
                j["Sum"].as_str().unwrap_or("?"),
                j["GoModSum"].as_str().unwrap_or("?")
            ),
            _ => format!(
                "{module}@{q}: error (status {}) {}",
                o.status,
                String::from_utf8_lossy(&o.stdout).trim()
            ),
        };
        out.push(line);
    }
    out
}

fn env_cmd(env: &GoEnv, work: &Path) -> Command {
    let mut c = env.go(work);
    c.env("GOSUMDB", "off")
        .env("GONOSUMDB", "*")
        .env("GOINSECURE", "*")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GOFLAGS", "-mod=mod");
    c
}

#[test]
fn direct_mode_matches_the_go_command() {
    let base = tempfile::tempdir().unwrap();
    let repos = base.path().join("repos");
    let cases = corpus(&repos);
    let gitconfig = base.path().join("gitconfig");
    std::fs::write(
        &gitconfig,
        format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://github.com/\n[protocol \"file\"]\n\tallow = always\n",
            repos.display()
        ),
    )
    .unwrap();
    // Both gomirror (a child of this process) and the go commands see it.
    std::env::set_var("GIT_CONFIG_GLOBAL", &gitconfig);
    std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
    std::env::set_var("GOMIRROR_GIT_DIR", base.path().join("gitcache"));

    let data = base.path().join("data");
    let server = Server::start(&data, "direct", &[]);

    let oracle = GoEnv::new("direct");
    let via = GoEnv::new(&server.url);
    let ow = oracle.new_module("app");
    let vw = via.new_module("app");

    let mut mismatches = vec![];
    let mut report = vec![];
    for (module, queries) in &cases {
        let want = answers(&oracle, &ow, module, queries);
        let got = answers(&via, &vw, module, queries);
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
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("direct"))
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
