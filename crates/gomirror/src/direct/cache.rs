//! The repository cache: one bare repository per URL under the cache
//! directory, cloned on first use and fetched when a request needs it
//! fresher; a lock per repository (readers use it, a fetch or an eviction
//! holds it alone); the size of each, the cap on one repository and the
//! budget of the whole cache (least recently used repositories go first);
//! and what a process that died left behind.

use super::git::Outcome;
use super::{failed, not_found, redact_url, Direct, NAME};
use crate::upstream::FetchError;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a fetched repository is fresh for lists, `@latest` and branch
/// queries.
pub(super) const REFRESH: Duration = Duration::from_secs(10);
/// What a repository fetch brings, as for the go command: branches and tags
/// (not `refs/pull/*`, `refs/changes/*` or other refs a host keeps), and
/// the remote's HEAD (its default branch) as `refs/gomirror/head` (last:
/// [`Direct::fetch_repo`] drops it for a remote without one).
const FETCH_ARGS: [&str; 8] = [
    "fetch",
    "--quiet",
    "--force",
    "--prune",
    "origin",
    "+refs/heads/*:refs/heads/*",
    "+refs/tags/*:refs/tags/*",
    "+HEAD:refs/gomirror/head",
];

/// Shortest time between two fetches of a repository caused by requests
/// for versions it lacks.
const MISS_REFRESH: Duration = Duration::from_secs(1);

/// How much a request needs the cached repository to be up to date.
#[derive(Debug, Clone, Copy)]
pub(super) enum Freshness {
    /// As cached (a tagged version or pseudo-version: immutable).
    Cached,
    /// Fetched within [`REFRESH`] (lists, `@latest`, branch queries).
    Refresh,
    /// The cached copy lacked what a request started at this instant asked
    /// for: fetch, unless a fetch finished since, or within
    /// [`MISS_REFRESH`].
    Miss(Instant),
}

pub(super) type RepoLock = Arc<tokio::sync::RwLock<Option<Instant>>>;
/// A request's hold on a cached repository: no fetch or eviction while it
/// lasts.
pub(super) type RepoGuard = tokio::sync::OwnedRwLockReadGuard<Option<Instant>>;

impl Direct {
    /// The bare mirror of `url`, cloned if absent, and brought up to date
    /// as `mode` says (fetches of one repository are serialised: waiters
    /// reuse the fetch that just finished). Returns the directory and
    /// whether it was cloned or fetched after the request began (only
    /// meaningful for [`Freshness::Miss`] and a clone).
    pub(super) async fn repo(
        &self,
        url: &str,
        mode: Freshness,
    ) -> Result<(PathBuf, bool, RepoGuard), FetchError> {
        use sha2::Digest;
        let key = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..12]);
        let dir = self.root.join(format!("{key}.git"));
        let lock = self.lock_of(&dir);
        // Whether the cached copy will do, and if so whether it is fresh.
        let enough = |last: Option<Instant>| match mode {
            Freshness::Cached => Some(false),
            Freshness::Refresh if matches!(last, Some(t) if t.elapsed() < REFRESH) => Some(false),
            Freshness::Miss(start) if matches!(last, Some(t) if t > start) => Some(true),
            Freshness::Miss(_) if matches!(last, Some(t) if t.elapsed() < MISS_REFRESH) => {
                Some(false)
            }
            _ => None,
        };
        // Most requests only read: they share the lock.
        {
            let read = lock.clone().read_owned().await;
            if dir.join("HEAD").exists() {
                if let Some(fresh) = enough(*read) {
                    touch_used(&dir);
                    return Ok((dir, fresh, read));
                }
            }
        }
        let mut last = lock.write_owned().await;
        let exists = dir.join("HEAD").exists();
        if exists {
            touch_used(&dir);
            if let Some(fresh) = enough(*last) {
                return Ok((dir, fresh, last.downgrade()));
            }
        }
        if !exists {
            std::fs::create_dir_all(&self.root).map_err(|e| {
                failed(format!(
                    "creating the git cache {}: {e}",
                    self.redact(&self.root.to_string_lossy())
                ))
            })?;
            let tmp = self.root.join(format!(
                "{}.tmp-{}",
                dir.file_name().unwrap().to_string_lossy(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&tmp);
            let init = self
                .git_raw(
                    None,
                    &[
                        "init".as_ref(),
                        "--bare".as_ref(),
                        "--quiet".as_ref(),
                        tmp.as_os_str(),
                    ],
                )
                .await?;
            let config = self
                .git_raw(
                    Some(&tmp),
                    &[
                        "config".as_ref(),
                        "remote.origin.url".as_ref(),
                        url.as_ref(),
                    ],
                )
                .await?;
            if !init.status.success() || !config.status.success() {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(failed(format!(
                    "creating a repository in {}: {}{}",
                    self.redact(&tmp.to_string_lossy()),
                    String::from_utf8_lossy(&init.stderr).trim(),
                    String::from_utf8_lossy(&config.stderr).trim()
                )));
            }
            let out = self.fetch_repo(&tmp, url).await;
            let fail = match out {
                Ok(Outcome::Done(o)) if o.status.success() => None,
                Ok(Outcome::Done(o)) => {
                    Some(self.repo_error(url, String::from_utf8_lossy(&o.stderr).trim()))
                }
                Ok(Outcome::TooLarge) => Some(self.too_large(url)),
                Err(e) => Some(e),
            };
            if let Some(e) = fail {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
            // As the go command does: `git archive` must not leave files
            // out or rewrite them because of the repository's own
            // `.gitattributes` (end-of-line conversion still applies).
            write_attributes(&tmp)?;
            if dir.exists() {
                // A broken copy (no HEAD): out of the way.
                self.discard(&dir).await;
            }
            std::fs::rename(&tmp, &dir).map_err(|e| {
                failed(format!(
                    "installing {}: {e}",
                    self.redact(&dir.to_string_lossy())
                ))
            })?;
        } else {
            match self.fetch_repo(&dir, url).await {
                Ok(Outcome::Done(o)) if o.status.success() => {}
                Ok(Outcome::Done(o)) => {
                    let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                    return Err(self.repo_error(url, &err));
                }
                Ok(Outcome::TooLarge) => {
                    // Over the cap: the cache copy goes.
                    self.discard(&dir).await;
                    *last = None;
                    return Err(self.too_large(url));
                }
                Err(e) => {
                    // Timed out, or git could not run: what git completed
                    // is intact (packs and refs are written atomically);
                    // its temporary pack goes.
                    remove_tmp_packs(&dir);
                    return Err(e);
                }
            }
            // Keep the mirror compact (packs loose objects when git's own
            // thresholds say so).
            let _ = self
                .git_raw(
                    Some(&dir),
                    &["gc".as_ref(), "--auto".as_ref(), "--quiet".as_ref()],
                )
                .await;
        }
        write_attributes(&dir)?;
        touch_used(&dir);
        *last = Some(Instant::now());
        let guard = last.downgrade();
        self.evict(&dir).await;
        Ok((dir, true, guard))
    }

    /// Publishes the cache's size and repository count.
    fn publish_cache_size(&self, sizes: &HashMap<PathBuf, u64>) {
        if let Some(m) = self.metrics() {
            m.git_cache_bytes
                .set(i64::try_from(sizes.values().sum::<u64>()).unwrap_or(i64::MAX));
            m.git_cache_repositories
                .set(i64::try_from(sizes.len()).unwrap_or(i64::MAX));
        }
    }

    /// The lock of the repository directory `dir`.
    fn lock_of(&self, dir: &Path) -> RepoLock {
        self.repos
            .lock()
            .unwrap()
            .entry(dir.to_owned())
            .or_default()
            .clone()
    }

    /// Keeps the repository cache within its size budget after `dir` was
    /// cloned or fetched: records `dir`'s size, then removes the least
    /// recently used other repositories no request is using until the
    /// total fits (a removed repository is cloned again when needed).
    async fn evict(&self, dir: &Path) {
        let budget = self.opts.max_cache_size;
        let root = self.root.clone();
        let this = dir.to_owned();
        let scan = self.sizes.lock().unwrap().is_none();
        let (this_size, scanned) = tokio::task::spawn_blocking(move || {
            let scanned = scan.then(|| {
                std::fs::read_dir(&root)
                    .map(|rd| {
                        rd.flatten()
                            .map(|e| e.path())
                            .filter(|p| {
                                p.extension().is_some_and(|x| x == "git") && p.join("HEAD").exists()
                            })
                            .map(|p| {
                                let n = dir_size(&p, u64::MAX);
                                (p, n)
                            })
                            .collect::<HashMap<_, _>>()
                    })
                    .unwrap_or_default()
            });
            (dir_size(&this, u64::MAX), scanned)
        })
        .await
        .unwrap_or((0, None));
        let mut victims: Vec<(std::time::SystemTime, PathBuf)> = {
            let mut sizes = self.sizes.lock().unwrap();
            let sizes = sizes.get_or_insert_with(|| scanned.unwrap_or_default());
            sizes.insert(dir.to_owned(), this_size);
            self.publish_cache_size(sizes);
            let total: u64 = sizes.values().sum();
            if total <= budget {
                return;
            }
            sizes
                .keys()
                .filter(|p| p.as_path() != dir)
                .map(|p| (last_used(p), p.clone()))
                .collect()
        };
        victims.sort();
        for (_, victim) in victims {
            let total: u64 = self
                .sizes
                .lock()
                .unwrap()
                .as_ref()
                .map_or(0, |s| s.values().sum());
            if total <= budget {
                break;
            }
            let lock = self.lock_of(&victim);
            let Ok(mut held) = lock.try_write_owned() else {
                continue; // in use
            };
            // (One removed behind our back frees nothing but its entry.)
            if self.discard(&victim).await {
                tracing::info!(
                    repository = %self.redact(&victim.to_string_lossy()),
                    "evicted from the git cache (GOMIRROR_GIT_CACHE_SIZE)"
                );
                if let Some(m) = self.metrics() {
                    m.git_evictions.inc();
                }
            }
            *held = None;
        }
    }

    /// Fetches branches, tags and the remote HEAD into `dir`. A remote
    /// without a HEAD (an empty repository, or a default branch that was
    /// deleted) still has its tags: then the rest is fetched alone and
    /// `refs/gomirror/head` removed.
    async fn fetch_repo(&self, dir: &Path, url: &str) -> Result<Outcome, FetchError> {
        let pin = self.remote_pin(dir, url).await?;
        let args: Vec<&str> = pin.iter().map(String::as_str).chain(FETCH_ARGS).collect();
        let out = match self.git_capped(Some(dir), &args, dir).await? {
            Outcome::Done(out) => out,
            too_large => return Ok(too_large),
        };
        if out.status.success()
            || !String::from_utf8_lossy(&out.stderr).contains("couldn't find remote ref HEAD")
        {
            return Ok(Outcome::Done(out));
        }
        let out = match self
            .git_capped(Some(dir), &args[..args.len() - 1], dir)
            .await?
        {
            Outcome::Done(out) => out,
            too_large => return Ok(too_large),
        };
        if out.status.success() {
            let _ = self
                .git_raw(
                    Some(dir),
                    &[
                        "update-ref".as_ref(),
                        "-d".as_ref(),
                        "refs/gomirror/head".as_ref(),
                    ],
                )
                .await;
        }
        Ok(Outcome::Done(out))
    }

    /// Runs a git fetch that writes into `watch`, stopping it
    /// ([`Outcome::TooLarge`]) when `watch` grows past the repository size
    /// cap.
    async fn git_capped(
        &self,
        dir: Option<&Path>,
        args: &[&str],
        watch: &Path,
    ) -> Result<Outcome, FetchError> {
        let max = self.opts.max_repo_size;
        let watch = watch.to_owned();
        let over = move || -> BoxFuture<'static, bool> {
            let watch = watch.clone();
            Box::pin(async move {
                tokio::task::spawn_blocking(move || dir_size(&watch, max) > max)
                    .await
                    .unwrap_or(false)
            })
        };
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        self.git_process(dir, &args, None, Some(&over)).await
    }

    /// The error for a repository over the size cap.
    fn too_large(&self, url: &str) -> FetchError {
        failed(format!(
            "git fetch {}: repository is larger than the limit of {} bytes (GOMIRROR_GIT_MAX_REPO_SIZE)",
            redact_url(url),
            self.opts.max_repo_size
        ))
    }

    /// Takes a repository out of the cache: renamed away first (so a
    /// half-done removal never looks like a repository), then removed.
    /// Returns whether there was a repository to remove.
    async fn discard(&self, dir: &Path) -> bool {
        let gone = dir.with_extension(format!("evicted-{}", std::process::id()));
        let removed = dir.exists() && std::fs::rename(dir, &gone).is_ok();
        if removed {
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(gone)).await;
        }
        if let Some(sizes) = self.sizes.lock().unwrap().as_mut() {
            sizes.remove(dir);
            self.publish_cache_size(sizes);
        }
        removed
    }

    fn repo_error(&self, url: &str, err: &str) -> FetchError {
        let err = self.redact(err);
        let url = redact_url(url);
        let lower = err.to_ascii_lowercase();
        if lower.contains("not found")
            || lower.contains("does not exist")
            || lower.contains("not appear to be a git repository")
            || lower.contains("couldn't find remote ref")
            || lower.contains("could not read username")
            || lower.contains("authentication failed")
        {
            not_found(format!("git fetch {url}: {err}"))
        } else {
            FetchError::Transient {
                upstream: NAME.into(),
                msg: format!("git fetch {url}: {err}"),
            }
        }
    }
}

/// Total size of the files under `dir`, counting stops once past `stop`.
fn dir_size(dir: &Path, stop: u64) -> u64 {
    let mut total = 0u64;
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => {
                    total += e.metadata().map(|m| m.len()).unwrap_or(0);
                    if total > stop {
                        return total;
                    }
                }
                _ => {}
            }
        }
    }
    total
}

/// Removes what a process that died left in the cache: half-made clones
/// (`*.tmp-<pid>`) and half-removed evictions (`*.evicted-<pid>`) of
/// processes no longer running.
pub(super) fn remove_leftovers(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .rsplit_once(".tmp-")
            .or_else(|| name.rsplit_once(".evicted-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            // Our own pid too: in a container every start may get the same
            // one, and nothing of ours runs yet.
            if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Marks `dir` as used now (its `gomirror-used` file's modification time),
/// for the cache's least-recently-used eviction across restarts.
fn touch_used(dir: &Path) {
    let _ = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("gomirror-used"))
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
}

/// When `dir` was last used (the epoch if never recorded).
fn last_used(dir: &Path) -> std::time::SystemTime {
    std::fs::metadata(dir.join("gomirror-used"))
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Removes the temporary packs a killed `git fetch` leaves behind.
fn remove_tmp_packs(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir.join("objects/pack")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("tmp_") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Writes `info/attributes` turning off `export-subst` and `export-ignore`.
fn write_attributes(dir: &Path) -> Result<(), FetchError> {
    let attrs = dir.join("info/attributes");
    if attrs.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("info"))
        .and_then(|_| std::fs::write(&attrs, "* -export-subst -export-ignore\n"))
        .map_err(|e| failed(format!("writing {}: {e}", attrs.display())))
}
