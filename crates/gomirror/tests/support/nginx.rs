//! A private nginx on 127.0.0.1 that touches nothing of the machine's own
//! nginx: its own prefix, configuration, pid file, temp and log paths
//! under a temp directory, `daemon off`, killed (with its workers) on drop.
//! The CDN of the canary tests and the load balancer of the fleet tests
//! are built on it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";

/// The nginx binary: Debian's `/usr/sbin/nginx`, else `nginx` from PATH.
pub fn nginx_bin() -> PathBuf {
    if Path::new(NGINX).exists() {
        PathBuf::from(NGINX)
    } else {
        PathBuf::from("nginx")
    }
}

/// A running private nginx. Logs: `logs/error.log` and `logs/access.log`
/// under [`Nginx::dir`].
pub struct Nginx {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    master_process: bool,
}

impl Nginx {
    /// Starts nginx listening on a free port of 127.0.0.1; `http(prefix,
    /// port)` gives the inside of the `http { }` block after the common
    /// settings (access log, temp paths), e.g. a `server { listen
    /// 127.0.0.1:<port>; ... }`. With `master_process` nginx runs as a
    /// master and a worker (needed by [`Nginx::reload`]); without, as one
    /// process. Waits (≤ 10 s) for the port to accept connections (and
    /// tries another port when someone else took the free one first).
    pub fn start(master_process: bool, http: impl Fn(&Path, u16) -> String) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("gomirror-nginx.")
            .tempdir()
            .unwrap();
        let p = dir.path();
        for d in ["cache", "tmp", "logs"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        let mut n = Nginx {
            child: None,
            port: 0,
            dir,
            master_process,
        };
        for attempt in 1.. {
            n.port = super::free_port();
            let body = http(n.dir.path(), n.port);
            n.write_conf(&body);
            match n.spawn() {
                Ok(()) => break,
                Err(e) if attempt < 3 && e.contains("Address already in use") => {
                    let _ = std::fs::remove_file(n.dir().join("logs/error.log"));
                }
                Err(e) => panic!("{e}"),
            }
        }
        n
    }

    /// Port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its prefix directory (config, logs, temp files, `cache/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("logs/error.log")).unwrap_or_default()
    }

    /// The access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("logs/access.log")).unwrap_or_default()
    }

    /// Rewrites the configuration with a new inside of `http { }` (see
    /// [`Nginx::start`]) and makes nginx load it (SIGHUP to the master: new
    /// workers, the old ones finish their requests; the listening socket
    /// stays open). Returns once the old workers have exited (≤ 30 s), so
    /// that every connection accepted from then on gets the new
    /// configuration. Needs `master_process` (a single-process nginx does
    /// not reload reliably). Panics when the new configuration is invalid.
    pub fn reload(&self, http: &str) {
        assert!(
            self.master_process,
            "reload needs an nginx started with master_process"
        );
        self.write_conf(http);
        let test = super::run(
            Command::new(nginx_bin())
                .arg("-t")
                .arg("-p")
                .arg(self.dir())
                .arg("-e")
                .arg(self.dir().join("logs/error.log"))
                .arg("-c")
                .arg(self.dir().join("nginx.conf")),
        );
        assert!(
            test.status.success(),
            "the new nginx configuration is invalid:\n{}\n{}",
            String::from_utf8_lossy(&test.stderr),
            std::fs::read_to_string(self.dir().join("nginx.conf")).unwrap_or_default()
        );
        let pid = self.child.as_ref().expect("nginx is not running").id();
        let old = children(pid);
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
        let start = Instant::now();
        loop {
            let now = children(pid);
            if !now.is_empty() && now.iter().all(|c| !old.contains(c)) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "nginx did not replace its workers {old:?} within 30 s of a reload (now {now:?}); \
                 its error log:\n{}",
                super::tail(&self.error_log(), 40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills nginx (and its workers) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // nginx runs in a process group of its own (see `spawn`):
            // SIGKILL to the group reaches the workers too.
            // SAFETY: kill(2) on the process group of our own child.
            unsafe { libc::kill(-(c.id() as libc::pid_t), libc::SIGKILL) };
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn write_conf(&self, http: &str) {
        let p = self.dir().display();
        let master = if self.master_process { "on" } else { "off" };
        // `user` only matters (and is only allowed without a warning) when
        // running as root: then the workers stay root and can read the
        // temp directory.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;\n"
        } else {
            ""
        };
        let conf = format!(
            r#"{user}daemon off;
master_process {master};
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {p}/logs/access.log;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
{http}
}}
"#
        );
        std::fs::write(self.dir().join("nginx.conf"), conf).unwrap();
    }

    /// Starts nginx and waits for it to listen; the error (with the error
    /// log) when it exits or does not listen within 10 s.
    fn spawn(&mut self) -> Result<(), String> {
        let p = self.dir();
        let child = Command::new(nginx_bin())
            .arg("-p")
            .arg(p)
            .arg("-e")
            .arg(p.join("logs/error.log"))
            .arg("-c")
            .arg(p.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", nginx_bin().display()));
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > Duration::from_secs(10) {
                let log = self.error_log();
                self.stop();
                return Err(format!(
                    "nginx did not start listening on 127.0.0.1:{} ({}); its error log:\n{}",
                    self.port,
                    match exited {
                        Some(st) => format!("exited: {st}"),
                        None => "still not listening after 10 s".into(),
                    },
                    super::tail(&log, 40)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// The live (not zombie) child processes of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parens.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|x| x.parse::<u32>().ok()));
        if ppid == Some(pid) && state != Some("Z") {
            out.push(p);
        }
    }
    out
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
