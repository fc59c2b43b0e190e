//! Running git: one child process per command, in its own process group
//! (killed whole on a timeout or when its output grows too large), under
//! the bound on concurrent processes, with its output capped and its run
//! counted in the metrics.

use super::archive::MAX_TREE;
use super::{failed, Direct, Repo, NAME};
use crate::upstream::FetchError;
use futures_util::future::BoxFuture;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most standard output kept from one git command (a `git archive` of the
/// largest tree allowed, with tar headers); past it the command is stopped.
const MAX_OUT: u64 = MAX_TREE + (128 << 20);
/// Most standard error kept from one git command.
const MAX_ERR: u64 = 64 << 10;

/// How a git command ended, when it could run.
pub(super) enum Outcome {
    /// It exited by itself.
    Done(std::process::Output),
    /// It was stopped: its output, or the repository it was writing, grew
    /// past the limit.
    TooLarge,
}

/// A git command's process group, killed whole when dropped (unless it
/// exited by itself: then `0` is `None`).
struct Group(Option<i32>);

impl Group {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: killpg only sends a signal; the group is the one git
            // was started in (`process_group(0)`), and it has not been
            // reaped yet, so the id is still ours.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Direct {
    /// Runs git (in `dir` as GIT_DIR if given) under the concurrency bound
    /// and the timeout.
    pub(super) async fn git_raw(
        &self,
        dir: Option<&Path>,
        args: &[&std::ffi::OsStr],
    ) -> Result<std::process::Output, FetchError> {
        self.git_input(dir, args, None).await
    }

    /// Runs git under the concurrency bound and the timeout, feeding it
    /// `input`. Git runs in its own process group, killed whole on a
    /// timeout (its helpers — `git-remote-https`, `index-pack` — go too).
    /// Standard output is kept up to [`MAX_OUT`] bytes (past it the group
    /// is killed: [`Outcome::TooLarge`]), standard error up to
    /// [`MAX_ERR`]. While it runs, `over` is asked every 200 ms whether to
    /// stop it ([`Outcome::TooLarge`] too).
    #[tracing::instrument(name = "git command", skip_all, fields(op = %git_op(args)))]
    pub(super) async fn git_process(
        &self,
        dir: Option<&Path>,
        args: &[&std::ffi::OsStr],
        input: Option<Vec<u8>>,
        over: Option<&(dyn Fn() -> BoxFuture<'static, bool> + Sync)>,
    ) -> Result<Outcome, FetchError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::AsyncReadExt;
        let _permit = self.sem.acquire().await.expect("semaphore never closed");
        let op = git_op(args);
        let _running = self.metrics().map(|m| {
            m.git_processes.inc();
            Running(m)
        });
        let started = Instant::now();
        let record = |result: &str| {
            if let Some(m) = self.metrics() {
                crate::telemetry::Metrics::inc(&m.git_commands, &[("op", &op), ("result", result)]);
                m.git_duration
                    .get_or_create(&vec![("op".to_owned(), op.clone())])
                    .observe(started.elapsed().as_secs_f64());
            }
        };
        let mut cmd = tokio::process::Command::new("git");
        if let Some(d) = dir {
            cmd.arg("--git-dir").arg(d);
        }
        cmd.args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("GCM_INTERACTIVE", "never")
            // Paths are paths, never patterns.
            .env("GIT_LITERAL_PATHSPECS", "1")
            // No maintenance detached into the background, outside the
            // timeout, the lock and the eviction.
            .env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_0", "gc.autoDetach")
            .env("GIT_CONFIG_VALUE_0", "false")
            .env("GIT_CONFIG_KEY_1", "maintenance.autoDetach")
            .env("GIT_CONFIG_VALUE_1", "false")
            .env("LC_ALL", "C")
            .stdin(if input.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let what = || {
            format!(
                "git {}",
                args.iter()
                    .map(|a| self.redact(&a.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| failed(format!("cannot run git (is it installed?): {e}")))?;
        // Kills the whole group if this future ends before git does.
        let mut group = Group(child.id().and_then(|p| i32::try_from(p).ok()));
        let writer = if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            Some(tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stdin.write_all(&data).await;
            }))
        } else {
            None
        };
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let overflow = Arc::new(AtomicBool::new(false));
        let flag = overflow.clone();
        let out_task = tokio::spawn(async move {
            let mut v = vec![];
            let _ = (&mut stdout).take(MAX_OUT + 1).read_to_end(&mut v).await;
            if v.len() as u64 > MAX_OUT {
                flag.store(true, Ordering::Relaxed);
                v.clear();
            }
            v
        });
        let err_task = tokio::spawn(async move {
            let mut v = vec![];
            let _ = (&mut stderr).take(MAX_ERR).read_to_end(&mut v).await;
            let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
            v
        });
        let timeout = self.opts.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let status = loop {
            tokio::select! {
                st = child.wait() => break st.map_err(|e| failed(format!("{}: {e}", what())))?,
                _ = tokio::time::sleep_until(deadline) => {
                    group.kill();
                    let _ = child.wait().await;
                    record("timeout");
                    return Err(FetchError::Transient {
                        upstream: NAME.into(),
                        msg: format!(
                            "{}: timed out after {timeout:?} (GOMIRROR_GIT_TIMEOUT)",
                            what()
                        ),
                    });
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    let too_large = overflow.load(Ordering::Relaxed)
                        || match over {
                            Some(check) => check().await,
                            None => false,
                        };
                    if too_large {
                        group.kill();
                        let _ = child.wait().await;
                        record("too_large");
                        return Ok(Outcome::TooLarge);
                    }
                }
            }
        };
        group.0 = None; // exited by itself
        if let Some(w) = writer {
            let _ = w.await;
        }
        let stdout = out_task.await.unwrap_or_default();
        let stderr = err_task.await.unwrap_or_default();
        let too_large = overflow.load(Ordering::Relaxed)
            || match over {
                Some(check) => status.success() && check().await,
                None => false,
            };
        if too_large {
            record("too_large");
            return Ok(Outcome::TooLarge);
        }
        record(if status.success() { "ok" } else { "error" });
        Ok(Outcome::Done(std::process::Output {
            status,
            stdout,
            stderr,
        }))
    }

    async fn git_input(
        &self,
        dir: Option<&Path>,
        args: &[&std::ffi::OsStr],
        input: Option<Vec<u8>>,
    ) -> Result<std::process::Output, FetchError> {
        match self.git_process(dir, args, input, None).await? {
            Outcome::Done(o) => Ok(o),
            Outcome::TooLarge => Err(failed(format!(
                "git {}: output larger than {MAX_OUT} bytes",
                args.first()
                    .map(|a| a.to_string_lossy())
                    .unwrap_or_default()
            ))),
        }
    }
}

/// Counts a running git process in the metrics until dropped.
struct Running<'a>(&'a crate::telemetry::Metrics);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.git_processes.dec();
    }
}

impl Repo<'_> {
    pub(super) async fn git(&self, args: &[&str]) -> Result<Option<Vec<u8>>, FetchError> {
        let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let out = self.d.git_raw(Some(&self.dir), &a).await?;
        Ok(out.status.success().then_some(out.stdout))
    }

    pub(super) async fn git_ok(&self, args: &[&str]) -> Result<String, FetchError> {
        let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let out = self.d.git_raw(Some(&self.dir), &a).await?;
        if !out.status.success() {
            return Err(failed(format!(
                "git {}: {}",
                self.d.redact(&args.join(" ")),
                self.d.redact(String::from_utf8_lossy(&out.stderr).trim())
            )));
        }
        String::from_utf8(out.stdout).map_err(|_| failed(format!("git {}: not UTF-8", args[0])))
    }

    pub(super) async fn read_file(
        &self,
        hash: &str,
        path: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        let spec = format!("{hash}:{path}");
        let Some(size) = self.git(&["cat-file", "-s", &spec]).await? else {
            return Ok(None);
        };
        let size: u64 = String::from_utf8_lossy(&size)
            .trim()
            .parse()
            .unwrap_or(u64::MAX);
        if size > max {
            return Err(failed(format!(
                "{path} at {hash} is larger than {max} bytes"
            )));
        }
        let kind = self.git(&["cat-file", "-t", &spec]).await?;
        if kind
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).trim().to_owned())
            != Some("blob".into())
        {
            return Ok(None);
        }
        self.git(&["cat-file", "blob", &spec]).await
    }
}

/// The git subcommand of `args` (the first argument that is not an
/// option), as metrics and traces name it.
fn git_op(args: &[&std::ffi::OsStr]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .find(|a| !a.starts_with('-') && !a.contains('='))
        .unwrap_or_default()
        .into_owned()
}
