//! The gomirror binary as a real process on loopback, and a per-test
//! environment for the real `go` command.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `gomirror serve`.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `gomirror serve` on 127.0.0.1 (a free port) with `data_dir`,
    /// upstream chain `goproxy` and extra arguments; waits (≤ 30 s) for it
    /// to listen.
    pub fn start(data_dir: &Path, goproxy: &str, extra: &[&str]) -> Server {
        Server::start_with_env(data_dir, goproxy, extra, &[])
    }

    /// [`Server::start`] with extra environment variables for the process.
    pub fn start_with_env(
        data_dir: &Path,
        goproxy: &str,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Server {
        Server::launch(super::gomirror(), data_dir, goproxy, extra, env)
    }

    /// [`Server::start_with_env`] running the gomirror binary at `bin`
    /// instead of this build's (a benchmark runs a copy of it, so that a
    /// rebuild in a shared target directory cannot swap the binary in the
    /// middle of a run).
    pub fn start_bin(
        bin: &Path,
        data_dir: &Path,
        goproxy: &str,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Server {
        Server::launch(Command::new(bin), data_dir, goproxy, extra, env)
    }

    /// [`Server::start`] with the data directory on a tmpfs of `size`
    /// (e.g. `3m`) mounted in a private mount namespace of the server
    /// process only (`unshare -m`): a small disk that fills up, invisible
    /// to the rest of the machine and gone when the process ends.
    pub fn start_on_small_disk(
        data_dir: &Path,
        size: &str,
        goproxy: &str,
        extra: &[&str],
    ) -> Server {
        std::fs::create_dir_all(data_dir).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o "size=$1" tmpfs "$2" && shift 2 && exec "$@""#)
            .arg("sh")
            .arg(size)
            .arg(data_dir)
            .arg(env!("CARGO_BIN_EXE_gomirror"));
        Server::launch(cmd, data_dir, goproxy, extra, &[])
    }

    /// [`Server::start`] under an open-files limit of `nofile` (soft and
    /// hard, set with `prlimit` for this process only).
    pub fn start_with_nofile(
        data_dir: &Path,
        goproxy: &str,
        extra: &[&str],
        nofile: u32,
    ) -> Server {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_gomirror"));
        Server::launch(cmd, data_dir, goproxy, extra, &[])
    }

    fn launch(
        mut cmd: Command,
        data_dir: &Path,
        goproxy: &str,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Server {
        let log = data_dir.with_extension("log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--goproxy", goproxy])
            .args(if extra.contains(&"--gosumdb") {
                &[][..]
            } else {
                &["--gosumdb", "off"][..]
            })
            .args(extra)
            .env_remove("GOPROXY")
            .env_remove("GONOPROXY")
            .env_remove("GOPRIVATE")
            .env_remove("GOMIRROR_CONFIG")
            .env_remove("GOSUMDB")
            .env_remove("GONOSUMDB")
            .env("GOMIRROR_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .expect("starting gomirror");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(u) = line.strip_prefix("listening on ") {
                    let _ = tx.send(u.to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gomirror did not start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Server {
            child: Some(child),
            url,
            data_dir: data_dir.to_owned(),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits (≤ `limit`) for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private GOPATH / module cache / build cache for the real `go` command.
pub struct GoEnv {
    pub dir: tempfile::TempDir,
    pub goproxy: String,
    pub gosumdb: String,
}

impl GoEnv {
    pub fn new(goproxy: &str) -> GoEnv {
        GoEnv {
            dir: tempfile::tempdir().unwrap(),
            goproxy: goproxy.to_owned(),
            gosumdb: "off".into(),
        }
    }

    /// A `go` command in this environment, run in `cwd`.
    pub fn go(&self, cwd: &Path) -> Command {
        let d = self.dir.path();
        let mut c = super::go_cmd();
        c.current_dir(cwd)
            .env("HOME", d)
            .env("GOPATH", d.join("gopath"))
            .env("GOMODCACHE", d.join("modcache"))
            .env("GOCACHE", d.join("gocache"))
            .env("GOENV", "off")
            .env("GOPROXY", &self.goproxy)
            .env("GOSUMDB", &self.gosumdb)
            .env("GONOSUMDB", "")
            .env("GOPRIVATE", "")
            .env("GONOPROXY", "")
            .env("GOINSECURE", "")
            .env("GO111MODULE", "on");
        c
    }

    /// Removes the module cache (read-only files included).
    pub fn clean_modcache(&self) {
        super::remove_tree(&self.dir.path().join("modcache"));
    }

    /// A fresh empty module directory `example.com/app`.
    pub fn new_module(&self, name: &str) -> PathBuf {
        let m = self.dir.path().join(name);
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("go.mod"), "module example.com/app\n\ngo 1.21\n").unwrap();
        m
    }
}

impl Drop for GoEnv {
    fn drop(&mut self) {
        super::remove_tree(&self.dir.path().join("modcache"));
        super::remove_tree(&self.dir.path().join("gopath"));
    }
}

/// Runs a command, asserting success; returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = super::run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
