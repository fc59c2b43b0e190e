//! A private `redis-server` on 127.0.0.1 (Debian's, installed by
//! `scripts/test`; the machine's own Redis service is never used):
//! nothing persisted (`--save '' --appendonly no`), its files in a temp
//! directory, killed on drop. It can be stopped and started again on the
//! same port, as an outage of the fleet's shared Redis.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `name` from PATH, else from /usr/bin; panics (never skips) when missing.
fn redis_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: run ./scripts/test, which installs Debian's redis-server (and redis-tools)")
        })
}

/// A running (or stopped) private Redis.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` on a free port of 127.0.0.1; waits (≤ 10 s)
    /// until it answers PING.
    pub fn new() -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("gomirror-redis.")
            .tempdir()
            .unwrap();
        let mut r = Redis {
            child: None,
            port: 0,
            dir,
        };
        for attempt in 1.. {
            r.port = super::free_port();
            match r.spawn() {
                Ok(()) => break,
                Err(e) if attempt < 3 && e.contains("Address already in use") => {}
                Err(e) => panic!("{e}"),
            }
        }
        r
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server process is running (not [`Redis::stop`]ped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL: an outage; its data is gone) and waits
    /// for it to exit. Nothing when already stopped.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port (empty) and waits (≤ 10 s)
    /// until it answers PING; retries for a few seconds while the port is
    /// still taken. Nothing when it runs.
    pub fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        let start = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e)
                    if start.elapsed() < Duration::from_secs(5)
                        && e.contains("Address already in use") =>
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The server's log (all its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// `redis-cli -e -h 127.0.0.1 -p <port> <args>`: its output (raw,
    /// without the last newline), or the error message when it fails (a
    /// refused connection, an error reply such as `ERR ...`).
    pub fn try_cli<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String, String> {
        let out = super::run(
            Command::new(redis_tool("redis-cli"))
                // -e: a non-zero exit status after an error reply too.
                .args(["-e", "-h", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .args(args)
                .stdin(Stdio::null()),
        );
        let stdout = String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if !out.status.success() {
            Err(format!(
                "redis-cli {:?} ({}): {stdout}{}{stderr}",
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
                out.status,
                if stderr.is_empty() { "" } else { "\n" }
            ))
        } else {
            Ok(stdout)
        }
    }

    /// [`Redis::try_cli`], panicking (with the server's log) on failure.
    pub fn cli<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|e| panic!("{e}\nredis log:\n{}", super::tail(&self.log(), 30)))
    }

    /// Starts the process and waits until it answers PING; the error (with
    /// its log) when it exits or does not answer within 10 s.
    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let log_path = dir.join("redis.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let log_start = log.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let child = Command::new(redis_tool("redis-server"))
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--protected-mode", "yes"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting redis-server: {e}"));
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if self.try_cli(&["PING"]).as_deref() == Ok("PONG") {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > Duration::from_secs(10) {
                self.stop();
                let log = self.log();
                return Err(format!(
                    "redis-server on 127.0.0.1:{} did not start ({}); its log:\n{}",
                    self.port,
                    match exited {
                        Some(st) => format!("exited: {st}"),
                        None => "no PONG after 10 s".into(),
                    },
                    super::tail(log.get(log_start..).unwrap_or(&log), 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Default for Redis {
    fn default() -> Redis {
        Redis::new()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
