//! What an operator installs: `gomirror check-config`, the man pages and
//! completions, and the Debian package — built with `scripts/package-deb`,
//! installed with `dpkg -i` on this machine, its unit checked by
//! `systemd-analyze verify`, its own `ExecStartPre`/`ExecStart` run as the
//! `gomirror` user with the packaged configuration (a loopback upstream
//! written into it), a module downloaded through it by the real go command,
//! then `dpkg -r` (data kept) and `dpkg --purge` (data, configuration and
//! user gone). The package test leaves the machine as it found it, also
//! when it fails (the package is purged on the way out).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::server::{ok, GoEnv};
use support::upstream::{publish, ModVersion, Upstream};

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `gomirror check-config --config FILE` with no gomirror settings from the
/// environment.
fn check_config(file: &Path) -> Output {
    let mut c = support::gomirror();
    c.args(["check-config", "--config"]).arg(file);
    for (k, _) in std::env::vars() {
        if k.starts_with("GOMIRROR_") || k.starts_with("GO") && k != "GOTOOLCHAIN" {
            c.env_remove(k);
        }
    }
    run(&mut c)
}

#[test]
fn check_config_accepts_a_good_file_and_names_the_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "0123456789abcdef0123\n").unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "listen = \"127.0.0.1:9999\"\ndata_dir = {:?}\ngoproxy = \"http://127.0.0.1:1,direct\"\n\
             list_ttl = \"5m\"\nadmin_token_file = {:?}\n",
            dir.path().join("data"),
            token
        ),
    )
    .unwrap();
    let o = check_config(&good);
    assert!(o.status.success(), "good file refused: {}", text(&o));
    assert!(
        text(&o).contains("configuration OK"),
        "good file: {}",
        text(&o)
    );

    // Each kind of mistake: exit 2, the setting named.
    let cases: &[(&str, String, &[&str])] = &[
        (
            "unknown key",
            "listen = \"127.0.0.1:9999\"\nlisten_adress = \"x\"\n".into(),
            &["listen_adress"],
        ),
        (
            "bad duration",
            "list_ttl = \"five minutes\"\n".into(),
            &["list_ttl", "five minutes"],
        ),
        (
            "bad URL",
            "goproxy = \"htp://proxy.example\"\n".into(),
            &["goproxy", "htp://proxy.example"],
        ),
        (
            "bad number",
            "upstream_retries = 99\n".into(),
            &["upstream_retries"],
        ),
        (
            "unreadable token file",
            format!(
                "admin_token_file = {:?}\n",
                dir.path().join("no-such-token")
            ),
            &["admin_token_file", "no-such-token"],
        ),
        ("not TOML", "listen = \n".into(), &["line 1"]),
    ];
    for (what, body, names) in cases {
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, body).unwrap();
        let o = check_config(&f);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {t}");
        for n in *names {
            assert!(t.contains(n), "{what}: {n:?} not named in: {t}");
        }
        assert!(!t.contains("configuration OK"), "{what}: {t}");
    }
    // A missing file is named too.
    let o = check_config(&dir.path().join("absent.toml"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("absent.toml"), "{}", text(&o));
}

#[test]
fn man_pages_render_and_completions_load() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(support::gomirror()
        .args(["generate-assets"])
        .arg(dir.path())
        .args(["--data-dir", "/var/lib/gomirror"]));
    assert!(o.status.success(), "{}", text(&o));
    for page in [
        "gomirror",
        "gomirror-serve",
        "gomirror-check-config",
        "gomirror-doctor",
    ] {
        let o = run(Command::new("man")
            .arg("-l")
            .arg(dir.path().join(format!("man/{page}.1")))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8"));
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "man -l {page}: {}", text(&o));
        assert!(t.contains("NAME") && t.contains(page), "{page}: {t}");
    }
    let serve = String::from_utf8_lossy(
        &run(Command::new("man")
            .arg("-l")
            .arg(dir.path().join("man/gomirror-serve.1"))
            .env("MANPAGER", "cat")
            .env("LC_ALL", "C.UTF-8"))
        .stdout,
    )
    .into_owned();
    assert!(serve.contains("--goproxy"), "serve's options: {serve}");
    // bash: the completion registers, and completes subcommands.
    let bash = dir.path().join("completions/gomirror.bash");
    let script = format!(
        "source {bash:?} && complete -p gomirror && \
         COMP_WORDS=(gomirror check-c) COMP_CWORD=1 COMP_LINE='gomirror check-c' COMP_POINT=16 && \
         _gomirror gomirror check-c gomirror && echo \"got: ${{COMPREPLY[*]}}\""
    );
    let o = run(Command::new("bash").args(["--norc", "-c", &script]));
    let t = text(&o);
    assert!(o.status.success(), "bash completion: {t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("complete ") && l.contains("-F _gomirror gomirror")),
        "{t}"
    );
    assert!(t.contains("got: check-config"), "{t}");
    for f in ["_gomirror", "gomirror.fish"] {
        let s = std::fs::read_to_string(dir.path().join("completions").join(f)).unwrap();
        assert!(s.contains("check-config"), "{f}");
    }
    // The configuration file sets the data directory it was asked to.
    let cfg = std::fs::read_to_string(dir.path().join("gomirror.toml")).unwrap();
    assert!(
        cfg.contains("\ndata_dir = \"/var/lib/gomirror\"\n"),
        "{cfg}"
    );
}

/// Purges the package when dropped (a failed test leaves nothing behind).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-u", "gomirror", "-f", "gomirror serve"])
            .status();
        let _ = Command::new("dpkg").args(["--purge", "gomirror"]).output();
    }
}

fn installed(pkg: &str) -> bool {
    run(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]))
        .stdout
        .starts_with(b"install ok installed")
}

fn dpkg(args: &[&str]) {
    let o = run(Command::new("dpkg").args(args));
    assert!(o.status.success(), "dpkg {args:?}: {}", text(&o));
}

/// `Key=value` lines of a unit file's key.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

#[test]
fn the_debian_package_installs_serves_and_purges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        !installed("gomirror"),
        "a gomirror package is installed on this machine already: this test installs and purges its own"
    );
    assert!(
        run(Command::new("getent").args(["passwd", "gomirror"]))
            .stdout
            .is_empty(),
        "a gomirror user exists on this machine already"
    );
    let o = run(Command::new(root.join("scripts/package-deb")).current_dir(&root));
    assert!(o.status.success(), "scripts/package-deb: {}", text(&o));
    let deb = PathBuf::from(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim(),
    );
    let deb = root.join(deb);
    assert!(deb.is_file(), "no package at {}", deb.display());

    // Lintian: clean but for the tags README names and justifies.
    let o = run(Command::new("lintian")
        .args([
            "--tag-display-limit",
            "0",
            "--suppress-tags",
            LINTIAN_ACCEPTED,
        ])
        .arg(&deb));
    let report = text(&o);
    let findings: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    assert!(findings.is_empty(), "lintian:\n{report}");

    let _guard = Installed;
    dpkg(&["-i", deb.to_str().unwrap()]);
    assert!(installed("gomirror"));
    // What it installed, and how.
    for p in [
        "/usr/bin/gomirror",
        "/etc/gomirror/gomirror.toml",
        "/lib/systemd/system/gomirror.service",
        "/usr/share/man/man1/gomirror.1.gz",
        "/usr/share/man/man1/gomirror-serve.1.gz",
        "/usr/share/bash-completion/completions/gomirror",
        "/usr/share/zsh/vendor-completions/_gomirror",
        "/usr/share/fish/vendor_completions.d/gomirror.fish",
    ] {
        assert!(exists(p), "{p} not installed");
    }
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "gomirror"]));
    assert!(
        conffiles.contains("/etc/gomirror/gomirror.toml"),
        "not a conffile: {conffiles}"
    );
    let user = ok(Command::new("getent").args(["passwd", "gomirror"]));
    assert!(user.contains(":/var/lib/gomirror:"), "{user}");
    let stat = ok(Command::new("stat").args(["-c", "%U:%G %a", "/var/lib/gomirror"]));
    assert_eq!(stat.trim(), "gomirror:gomirror 750");

    // The unit: systemd's own checker, then its command lines.
    let unit_path = "/lib/systemd/system/gomirror.service";
    let o = run(Command::new("systemd-analyze").args(["verify", unit_path]));
    assert!(
        o.status.success() && !text(&o).contains("gomirror.service:"),
        "systemd-analyze verify: {}",
        text(&o)
    );
    let unit = std::fs::read_to_string(unit_path).unwrap();
    for (k, v) in [
        ("User", "gomirror"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/gomirror"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("Restart", "on-failure"),
    ] {
        assert!(
            unit_values(&unit, k).iter().any(|x| x == v),
            "unit: {k}={v} missing"
        );
    }
    let nofile: u64 = unit_values(&unit, "LimitNOFILE")[0].parse().unwrap();
    assert!(nofile >= 65536);

    // The packaged configuration, with a loopback upstream written into it.
    let up_dir = tempfile::tempdir().unwrap();
    let h1 = publish(
        up_dir.path(),
        &ModVersion {
            path: "example.com/packaged",
            version: "v1.0.0",
            files: vec![
                (
                    "go.mod",
                    b"module example.com/packaged\n\ngo 1.21\n".to_vec(),
                ),
                ("p.go", b"package packaged\n".to_vec()),
            ],
        },
    );
    let upstream = Upstream::start(up_dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let packaged = std::fs::read_to_string("/etc/gomirror/gomirror.toml").unwrap();
    assert!(packaged.contains("\ndata_dir = \"/var/lib/gomirror\"\n"));
    std::fs::write(
        "/etc/gomirror/gomirror.toml",
        format!(
            "{packaged}\nlisten = \"127.0.0.1:{port}\"\ngoproxy = {:?}\ngosumdb = \"off\"\n",
            upstream.url()
        ),
    )
    .unwrap();
    let as_service = |line: &str| -> Command {
        let argv: Vec<&str> = line.split_whitespace().collect();
        let mut c = Command::new("runuser");
        c.args(["-u", "gomirror", "--"]).args(&argv).env_clear();
        c.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8");
        c
    };
    let pre = &unit_values(&unit, "ExecStartPre")[0];
    let o = run(&mut as_service(pre));
    assert!(o.status.success(), "ExecStartPre {pre}: {}", text(&o));
    let start = &unit_values(&unit, "ExecStart")[0];
    let log = up_dir.path().join("service.log");
    let mut child = as_service(start)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "the service did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(support::get_blocking(&format!("{url}/healthz")).0, 200);
    let go = GoEnv::new(&url);
    let out =
        ok(go
            .go(go.dir.path())
            .args(["mod", "download", "-json", "example.com/packaged@v1.0.0"]));
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["Sum"], h1.as_str(), "{out}");
    // Stored by the service's user, in the packaged data directory.
    let owners = ok(Command::new("find").args([
        "/var/lib/gomirror",
        "-name",
        "*.gblob",
        "-printf",
        "%u %p\n",
    ]));
    assert!(
        owners.lines().count() >= 2 && owners.lines().all(|l| l.starts_with("gomirror ")),
        "{owners}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    // Removal keeps the data and the configuration; purge removes them.
    dpkg(&["-r", "gomirror"]);
    assert!(!exists("/usr/bin/gomirror"));
    assert!(!exists("/lib/systemd/system/gomirror.service"));
    assert!(
        exists("/etc/gomirror/gomirror.toml"),
        "conffile removed by dpkg -r"
    );
    let kept = ok(Command::new("find").args(["/var/lib/gomirror", "-name", "*.gblob"]));
    assert!(kept.lines().count() >= 2, "data not kept: {kept}");
    dpkg(&["--purge", "gomirror"]);
    assert!(!installed("gomirror"));
    assert!(!exists("/var/lib/gomirror"), "data left after purge");
    assert!(!exists("/etc/gomirror"), "configuration left after purge");
    assert!(
        run(Command::new("getent").args(["passwd", "gomirror"]))
            .stdout
            .is_empty(),
        "user left after purge"
    );
}

/// Lintian tags accepted, each justified in README ("The Debian package").
/// `initial-upload-closes-no-bugs`: the Debian archive's rule that a first
/// upload closes its ITP bug; this package is not uploaded to Debian.
const LINTIAN_ACCEPTED: &str = "initial-upload-closes-no-bugs";
