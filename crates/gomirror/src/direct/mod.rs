//! The `direct` source: answers the GOPROXY files from version control
//! (git only), the way the go command does with `GOPROXY=direct`.
//!
//! * A module path maps to a repository as for the go command (see
//!   [`discover`]): static rules for the well-known hosts and for paths with
//!   an element ending in `.git`, else `<meta name="go-import">` discovery.
//!   The rest of the path (without its `/vN` suffix) is the module's
//!   subdirectory, whose tags carry it as a prefix (`sub/dir/v1.2.3`). Git's
//!   own `url.<base>.insteadOf` configuration and credentials (credential
//!   helpers, `.netrc` for https) apply, so repositories can be redirected
//!   (tests point `https://github.com/` at local directories this way).
//! * Repositories are kept as bare repositories (branches, tags and the
//!   remote HEAD, as the go command fetches them) under the cache directory
//!   (`$GOMIRROR_GIT_DIR`, else [`Options::git_dir`] — `<data dir>/git` in
//!   the server — else a fresh private directory under the system temp dir). A request for a tagged
//!   version or a pseudo-version already in the cache is answered without
//!   contacting the server; lists, `@latest` and branch queries refresh the
//!   mirror with an incremental `git fetch` at most every [`REFRESH`]. A
//!   clone or fetch that grows the repository past the size cap is stopped
//!   and the repository removed.
//! * Every file is produced in memory and handed over as an
//!   [`upstream::Body`], so admission (size limits, zip check, `h1:`,
//!   checksum database) applies unchanged. Zips are built by
//!   [`gomod::zip::create`], so every zip rule applies.
//!
//! Git runs as a child process (`git`, from PATH) with a bounded number of
//! concurrent processes and a timeout for each.
//!
//! The server creates one [`Direct`] and hands it to the upstream client as
//! its [`upstream::Fetch`] for the `direct` chain entries.

mod discover;

use discover::Root;

use crate::telemetry::Metrics;
use crate::upstream::{self, Body, DirectAnswer, FetchError};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use gomod::{module, pseudo, semver};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a fetched repository is fresh for lists, `@latest` and branch
/// queries.
pub const REFRESH: Duration = Duration::from_secs(10);
/// What a repository fetch brings, as for the go command: branches and tags
/// (not `refs/pull/*`, `refs/changes/*` or other refs a host keeps), and
/// the remote's HEAD (its default branch) as `refs/gomirror/head` (last:
/// [`Direct::fetch`] drops it for a remote without one).
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

/// Most standard output kept from one git command (a `git archive` of the
/// largest tree allowed, with tar headers); past it the command is stopped.
const MAX_OUT: u64 = MAX_TREE + (128 << 20);
/// Most standard error kept from one git command.
const MAX_ERR: u64 = 64 << 10;

/// How a git command ended, when it could run.
enum Outcome {
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

/// Shortest time between two fetches of a repository caused by requests
/// for versions it lacks.
pub const MISS_REFRESH: Duration = Duration::from_secs(1);

/// How much a request needs the cached repository to be up to date.
#[derive(Debug, Clone, Copy)]
enum Freshness {
    /// As cached (a tagged version or pseudo-version: immutable).
    Cached,
    /// Fetched within [`REFRESH`] (lists, `@latest`, branch queries).
    Refresh,
    /// The cached copy lacked what a request started at this instant asked
    /// for: fetch, unless a fetch finished since, or within
    /// [`MISS_REFRESH`].
    Miss(Instant),
}
/// Largest go.mod read from a repository (as for the go command).
const MAX_GO_MOD: u64 = 16 << 20;
/// Largest LICENSE copied from the repository root into a subdirectory
/// module's zip.
const MAX_LICENSE: u64 = 16 << 20;
/// Largest total of file sizes read for one zip.
const MAX_TREE: u64 = 500 << 20;

const NAME: &str = "direct";

/// Direct mode's settings.
#[derive(Clone)]
pub struct Options {
    /// Where bare repositories are cached (`$GOMIRROR_GIT_DIR` wins).
    pub git_dir: Option<PathBuf>,
    /// `GOINSECURE` patterns: go-import discovery for these module paths may
    /// fall back to plain http and skips certificate checks.
    pub goinsecure: String,
    /// Largest repository kept, in bytes on disk.
    pub max_repo_size: u64,
    /// Longest run of one git command.
    pub timeout: Duration,
    /// Most git processes at once.
    pub max_processes: usize,
    /// Size budget of the whole repository cache, in bytes on disk.
    pub max_cache_size: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            git_dir: None,
            goinsecure: String::new(),
            max_repo_size: 2 << 30,
            timeout: Duration::from_secs(300),
            max_processes: 4,
            max_cache_size: 20 << 30,
        }
    }
}

impl Options {
    /// The cache directory: `$GOMIRROR_GIT_DIR`, else [`Options::git_dir`],
    /// else a fresh private directory under the system temp dir.
    fn cache_dir(&self) -> PathBuf {
        std::env::var_os("GOMIRROR_GIT_DIR")
            .map(PathBuf::from)
            .or_else(|| self.git_dir.clone())
            .unwrap_or_else(|| {
                // A fresh private directory (random name, mode 0700): a
                // predictable path under a shared /tmp could be planted.
                use std::os::unix::fs::PermissionsExt;
                tempfile::Builder::new()
                    .prefix("gomirror-git-")
                    .permissions(std::fs::Permissions::from_mode(0o700))
                    .tempdir()
                    .map(|d| d.keep())
                    .unwrap_or_else(|_| {
                        std::env::temp_dir().join(format!("gomirror-git-{}", std::process::id()))
                    })
            })
    }
}

type RepoLock = Arc<tokio::sync::RwLock<Option<Instant>>>;
/// A request's hold on a cached repository: no fetch or eviction while it
/// lasts.
type RepoGuard = tokio::sync::OwnedRwLockReadGuard<Option<Instant>>;

/// Fetches module files from git repositories cached under a directory.
pub struct Direct {
    root: PathBuf,
    opts: Options,
    /// Where git commands, the cache's size and evictions are counted (set
    /// once by [`Direct::count_into`]).
    metrics: OnceLock<Arc<Metrics>>,
    sem: Semaphore,
    /// Per repository directory: a lock held for writing while it is
    /// cloned, fetched or evicted and for reading while a request uses it,
    /// around the time of its last fetch.
    repos: Mutex<HashMap<PathBuf, RepoLock>>,
    /// Bytes on disk per repository directory (filled by a scan of the
    /// cache at the first eviction check).
    sizes: Mutex<Option<HashMap<PathBuf, u64>>>,
    /// go-import discovery pages, by import path.
    pages: Mutex<HashMap<String, (Instant, discover::Page)>>,
    http: discover::Clients,
}

/// A module's place in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The URL git is given (before `insteadOf` rewriting).
    pub url: String,
    /// The module's directory in the repository, without the `/vN` suffix
    /// (`""` for the root).
    pub code_dir: String,
    /// The module path's major-version suffix (`""`, `/vN`, or `.vN` for
    /// gopkg.in).
    pub path_major: String,
    /// Whether the repository root's import path is the whole module path
    /// (`gopkg.in/yaml.v3`, or a go-import tag naming a `/vN` path): then no
    /// `vN/` subdirectory is looked at.
    pub root_is_module: bool,
}

impl Location {
    fn tag_prefix(&self) -> String {
        if self.code_dir.is_empty() {
            String::new()
        } else {
            format!("{}/", self.code_dir)
        }
    }
}

fn not_found(msg: impl Into<String>) -> FetchError {
    FetchError::NotFound {
        upstream: NAME.into(),
        status: 404,
        msg: msg.into(),
    }
}

fn failed(msg: impl Into<String>) -> FetchError {
    FetchError::Failed {
        upstream: NAME.into(),
        msg: msg.into(),
    }
}

/// What a proxy path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    List,
    Latest,
    Info(String),
    Mod(String),
    Zip(String),
}

/// The module and request of the proxy path `rel`, by the server's own
/// parser ([`crate::protocol::parse_path`]); what it refuses is a 404 here.
fn parse_rel(rel: &str) -> Result<(String, Request), FetchError> {
    use crate::protocol::{FileKind, ProxyRequest as P};
    let req = crate::protocol::parse_path(rel).map_err(|e| not_found(format!("{rel}: {e}")))?;
    Ok(match req {
        P::List { module } => (module, Request::List),
        P::Latest { module } => (module, Request::Latest),
        P::Query { module, query } => (module, Request::Info(query)),
        P::Versioned {
            module,
            version,
            ext,
        } => {
            let r = match ext {
                FileKind::Info => Request::Info(version),
                FileKind::Mod => Request::Mod(version),
                FileKind::Zip => Request::Zip(version),
            };
            (module, r)
        }
    })
}

fn body(data: Vec<u8>) -> Body {
    let len = data.len() as u64;
    Body {
        declared_len: Some(len),
        stream: futures_util::stream::once(async move { Ok(Bytes::from(data)) }).boxed(),
    }
}

/// RFC 3339 UTC time of a Unix time, as Go's `time.Time` marshals it.
fn rfc3339(secs: i64) -> String {
    let t =
        pseudo::UtcTime::from_unix(secs).unwrap_or_else(|| pseudo::UtcTime::from_unix(0).unwrap());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The `.info` file, in the go command's field order, with the `Origin`
/// the go command records for a version built from git: the repository
/// URL, the module's subdirectory, the commit and, for a tagged version,
/// the tag. (Query-specific fields, such as a branch `Ref` or `TagSum`,
/// are left out: the file is stored as the version's, for every query.)
fn info_json(version: &str, time: i64, loc: &Location, hash: &str) -> Vec<u8> {
    let q = |v: &str| serde_json::Value::from(v).to_string();
    let mut origin = format!("\"VCS\":\"git\",\"URL\":{}", q(&loc.url));
    if !loc.code_dir.is_empty() {
        origin += &format!(",\"Subdir\":{}", q(&loc.code_dir));
    }
    origin += &format!(",\"Hash\":{}", q(hash));
    if !pseudo::is_pseudo_version(version) {
        let tag = version.strip_suffix("+incompatible").unwrap_or(version);
        origin += &format!(
            ",\"Ref\":{}",
            q(&format!("refs/tags/{}{tag}", loc.tag_prefix()))
        );
    }
    format!(
        "{{\"Version\":{},\"Time\":\"{}\",\"Origin\":{{{origin}}}}}\n",
        q(version),
        rfc3339(time)
    )
    .into_bytes()
}

/// One file of a tree read from git.
struct GitFile {
    path: String,
    kind: gomod::zip::FileKind,
    data: Vec<u8>,
    size: u64,
}

impl gomod::zip::File for GitFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn lstat(&self) -> std::io::Result<gomod::zip::FileInfo> {
        Ok(gomod::zip::FileInfo {
            kind: self.kind,
            size: self.size,
        })
    }
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(&self.data[..]))
    }
}

impl Direct {
    /// A fetcher keeping its repositories in the cache directory `opts`
    /// name (`$GOMIRROR_GIT_DIR` wins; see [`Options::git_dir`]).
    pub fn new(opts: Options) -> Direct {
        let root = opts.cache_dir();
        remove_leftovers(&root);
        Direct {
            root,
            metrics: OnceLock::new(),
            sem: Semaphore::new(opts.max_processes.max(1)),
            repos: Mutex::new(HashMap::new()),
            sizes: Mutex::new(None),
            pages: Mutex::new(HashMap::new()),
            http: discover::Clients::new(),
            opts,
        }
    }

    /// Counts git commands, the cache's size and evictions into `metrics`
    /// from now on (the server's; the first call wins).
    pub fn count_into(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// Answers the proxy path `rel` (escaped, such as
    /// `github.com/o/r/@v/v1.0.0.zip`) from version control; or names the
    /// module proxy a go-import `mod` tag sends the module to.
    async fn get(&self, rel: &str) -> Result<DirectAnswer, FetchError> {
        let (module_path, req) = parse_rel(rel)?;
        let loc = match self.resolve(&module_path).await? {
            Root::Proxy(base) => return Ok(DirectAnswer::Proxy(base)),
            Root::Git(loc) => loc,
        };
        // A tagged version or a pseudo-version is immutable: answered from
        // the cached repository when it has it, fetched only when not.
        let immutable = match &req {
            Request::Mod(_) | Request::Zip(_) => true,
            Request::Info(q) => module::canonical_version(q) == *q,
            Request::List | Request::Latest => false,
        };
        let start = Instant::now();
        let mode = if immutable {
            Freshness::Cached
        } else {
            Freshness::Refresh
        };
        let (dir, _, guard) = self.repo(&loc.url, mode).await?;
        let r = Repo {
            d: self,
            dir,
            loc,
            module: module_path,
            _guard: guard,
        };
        let data = match r.answer(&req).await {
            Err(e) if e.is_not_found() && immutable => {
                // Maybe a tag pushed since the last fetch (the hold on the
                // repository is released first: the fetch needs it).
                let Repo {
                    loc,
                    module: module_path,
                    _guard: guard,
                    ..
                } = r;
                drop(guard);
                match self.repo(&loc.url, Freshness::Miss(start)).await? {
                    (dir, true, guard) => {
                        Repo {
                            d: self,
                            dir,
                            loc,
                            module: module_path,
                            _guard: guard,
                        }
                        .answer(&req)
                        .await?
                    }
                    (_, false, _) => return Err(e),
                }
            }
            other => other?,
        };
        Ok(DirectAnswer::Body(body(data)))
    }
}

#[async_trait::async_trait]
impl upstream::Fetch for Direct {
    async fn fetch(&self, rel: &str) -> Result<DirectAnswer, FetchError> {
        self.get(rel).await
    }
}

impl Repo<'_> {
    /// The file `req` asks for.
    async fn answer(&self, req: &Request) -> Result<Vec<u8>, FetchError> {
        let r = self;
        Ok(match req {
            Request::List => {
                let mut s = r.versions().await?.join("\n");
                if !s.is_empty() {
                    s.push('\n');
                }
                s.into_bytes()
            }
            Request::Latest => {
                let rev = r.latest().await?;
                info_json(&rev.version, rev.time, &r.loc, &rev.hash)
            }
            Request::Info(q) => {
                let rev = r.stat(q).await?;
                info_json(&rev.version, rev.time, &r.loc, &rev.hash)
            }
            Request::Mod(v) => r.go_mod(&r.resolve_version(v).await?),
            Request::Zip(v) => r.zip(&r.resolve_version(v).await?).await?,
        })
    }
}

impl Direct {
    /// The bare mirror of `url`, cloned if absent, and brought up to date
    /// as `mode` says (fetches of one repository are serialised: waiters
    /// reuse the fetch that just finished). Returns the directory and
    /// whether it was cloned or fetched after the request began (only
    /// meaningful for [`Freshness::Miss`] and a clone).
    async fn repo(
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
            let out = self.fetch(&tmp).await;
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
            match self.fetch(&dir).await {
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

    fn metrics(&self) -> Option<&Metrics> {
        self.metrics.get().map(|m| &**m)
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
    async fn fetch(&self, dir: &Path) -> Result<Outcome, FetchError> {
        let out = match self.git_capped(Some(dir), &FETCH_ARGS, dir).await? {
            Outcome::Done(out) => out,
            too_large => return Ok(too_large),
        };
        if out.status.success()
            || !String::from_utf8_lossy(&out.stderr).contains("couldn't find remote ref HEAD")
        {
            return Ok(Outcome::Done(out));
        }
        let out = match self
            .git_capped(Some(dir), &FETCH_ARGS[..FETCH_ARGS.len() - 1], dir)
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

    /// Runs git (in `dir` as GIT_DIR if given) under the concurrency bound
    /// and the timeout.
    async fn git_raw(
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
    async fn git_process(
        &self,
        dir: Option<&Path>,
        args: &[&std::ffi::OsStr],
        input: Option<Vec<u8>>,
        over: Option<&(dyn Fn() -> BoxFuture<'static, bool> + Sync)>,
    ) -> Result<Outcome, FetchError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::AsyncReadExt;
        let _permit = self.sem.acquire().await.expect("semaphore never closed");
        let op = args
            .iter()
            .map(|a| a.to_string_lossy())
            .find(|a| !a.starts_with('-') && !a.contains('='))
            .unwrap_or_default()
            .into_owned();
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

    /// `s` without the cache directory's path and without credentials in
    /// URLs: what git prints may reach clients and logs.
    fn redact(&self, s: &str) -> String {
        let root = self.root.to_string_lossy();
        let s = if root.len() > 1 {
            s.replace(root.as_ref(), "<git cache>")
        } else {
            s.to_owned()
        };
        redact_url(&s)
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

/// Every `scheme://user:password@host` in `s` with the user information
/// replaced by `***`.
fn redact_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find("://") {
        out.push_str(&rest[..p + 3]);
        rest = &rest[p + 3..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            out.push_str("***");
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
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
fn remove_leftovers(root: &Path) {
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

/// Counts a running git process in the metrics until dropped.
struct Running<'a>(&'a crate::telemetry::Metrics);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.git_processes.dec();
    }
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

/// A version of the module resolved in the repository.
struct Rev {
    version: String,
    /// Commit time, Unix seconds.
    time: i64,
    /// The commit.
    hash: String,
    /// The module's directory in the repository at that commit.
    dir: String,
    /// Its go.mod, if it has one.
    go_mod: Option<Vec<u8>>,
}

/// One module in one cached repository.
struct Repo<'a> {
    d: &'a Direct,
    dir: PathBuf,
    loc: Location,
    module: String,
    _guard: RepoGuard,
}

impl Repo<'_> {
    async fn git(&self, args: &[&str]) -> Result<Option<Vec<u8>>, FetchError> {
        let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        let out = self.d.git_raw(Some(&self.dir), &a).await?;
        Ok(out.status.success().then_some(out.stdout))
    }

    async fn git_ok(&self, args: &[&str]) -> Result<String, FetchError> {
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

    /// All tag names.
    async fn tags(&self, extra: &[&str]) -> Result<Vec<String>, FetchError> {
        let mut args = vec!["for-each-ref", "--format=%(refname:lstrip=2)"];
        args.extend_from_slice(extra);
        args.push("refs/tags/");
        Ok(self
            .git_ok(&args)
            .await?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The canonical version a tag names for this module, without
    /// `+incompatible`, if any; and whether it would be incompatible.
    fn tag_version(&self, tag: &str) -> Option<(String, bool)> {
        let v = tag.strip_prefix(&self.loc.tag_prefix())?;
        if v.is_empty() || semver::canonical(v) != v {
            return None;
        }
        self.tag_base(tag)
    }

    /// Like [`Repo::tag_version`], but also accepting tags that are not
    /// canonical but start with their canonical form (`v1.2.3+meta`), as
    /// the go command does for the base of a pseudo-version.
    fn tag_base(&self, tag: &str) -> Option<(String, bool)> {
        let t = tag.strip_prefix(&self.loc.tag_prefix())?;
        let v = semver::canonical(t);
        if v.is_empty() || !t.starts_with(&v) || pseudo::is_pseudo_version(t) {
            return None;
        }
        let v = v.as_str();
        if module::check_path_major(v, &self.loc.path_major).is_ok() {
            return Some((v.to_owned(), false));
        }
        if self.loc.code_dir.is_empty()
            && self.loc.path_major.is_empty()
            && semver::major(v) != "v0"
            && semver::major(v) != "v1"
        {
            return Some((v.to_owned(), true));
        }
        None
    }

    async fn commit_of(&self, rev: &str) -> Result<Option<String>, FetchError> {
        if rev.starts_with('-') || rev.contains(['\0', '\n', ' ', ':']) {
            return Ok(None);
        }
        // The remote's HEAD, as last fetched (the local HEAD of the cache
        // means nothing).
        let rev = if rev == "HEAD" {
            "refs/gomirror/head"
        } else {
            rev
        };
        let spec = format!("{rev}^{{commit}}");
        Ok(self
            .git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .await?
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
            .filter(|h| h.len() >= 40))
    }

    async fn commit_time(&self, hash: &str) -> Result<i64, FetchError> {
        let s = self
            .git_ok(&["log", "-1", "--format=%ct", hash, "--"])
            .await?;
        s.trim()
            .parse()
            .map_err(|_| failed(format!("bad commit time {s:?}")))
    }

    async fn read_file(
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

    /// The module's directory and go.mod at commit `hash`, by the go
    /// command's rules (`findDir`): for a `/vN` path whose repository root
    /// is not the module path, a `vN/go.mod` claiming `/vN` wins (a go.mod
    /// in the module directory claiming it too is an error); else the
    /// go.mod in the module directory must claim a compatible major
    /// version; with no go.mod at all, only a v0/v1 (or gopkg.in) module at
    /// the repository root is allowed (its go.mod is synthesised).
    async fn find_dir(&self, hash: &str) -> Result<(String, Option<Vec<u8>>), FetchError> {
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_owned()
            } else {
                format!("{a}/{b}")
            }
        };
        let loc = &self.loc;
        let major = loc.path_major.as_str();
        let rev = &hash[..12];
        let path_prefix = module::split_path_version(&self.module)
            .map(|(p, _)| p)
            .unwrap_or(&self.module);
        let file1 = join(&loc.code_dir, "go.mod");
        let gm1 = self.read_file(hash, &file1, MAX_GO_MOD).await?;
        let mpath1 = gm1
            .as_deref()
            .and_then(gomod::modfile::module_path)
            .unwrap_or_default();
        let found1 = gm1.is_some()
            && (is_major(&mpath1, major) || (major.is_empty() && mpath1.starts_with("gopkg.in/")));
        let mut file2 = None;
        if !major.is_empty() && !loc.root_is_module && !major.starts_with('.') {
            let dir2 = join(&loc.code_dir, &major[1..]);
            let f2 = join(&dir2, "go.mod");
            let gm2 = self.read_file(hash, &f2, MAX_GO_MOD).await?;
            let mpath2 = gm2
                .as_deref()
                .and_then(gomod::modfile::module_path)
                .unwrap_or_default();
            let found2 = gm2.is_some() && is_major(&mpath2, major);
            if found1 && found2 {
                return Err(not_found(format!(
                    "{path_prefix}/{file1} and ...{major}/go.mod both have ...{major} module paths at revision {rev}"
                )));
            }
            if found2 {
                return Ok((dir2, gm2));
            }
            if gm2.is_some() {
                return Err(not_found(if mpath2.is_empty() {
                    format!("{f2} is missing module path at revision {rev}")
                } else {
                    format!("{f2} has non-...{major} module path {mpath2:?} at revision {rev}")
                }));
            }
            file2 = Some(f2);
        }
        if found1 {
            return Ok((loc.code_dir.clone(), gm1));
        }
        if gm1.is_some() {
            let suffix = if file2.is_some() {
                format!(" (and ...{major}/go.mod does not exist)")
            } else {
                String::new()
            };
            return Err(not_found(if mpath1.is_empty() {
                format!("{file1} is missing module path{suffix} at revision {rev}")
            } else if !major.is_empty() {
                format!(
                    "{file1} has non-...{major} module path {mpath1:?}{suffix} at revision {rev}"
                )
            } else {
                format!("{file1} has post-v1 module path {mpath1:?}{suffix} at revision {rev}")
            }));
        }
        if loc.code_dir.is_empty() && (major.is_empty() || major.starts_with('.')) {
            return Ok((String::new(), None));
        }
        Err(not_found(if file2.is_some() {
            format!("missing {path_prefix}/go.mod and ...{major}/go.mod at revision {rev}")
        } else {
            format!("missing {path_prefix}/go.mod at revision {rev}")
        }))
    }

    async fn has_go_mod(&self, hash: &str) -> Result<bool, FetchError> {
        let p = if self.loc.code_dir.is_empty() {
            "go.mod".to_owned()
        } else {
            format!("{}/go.mod", self.loc.code_dir)
        };
        Ok(self.read_file(hash, &p, MAX_GO_MOD).await?.is_some())
    }

    /// The `list` file: tagged versions, with `+incompatible` versions by
    /// the go command's rules.
    async fn versions(&self) -> Result<Vec<String>, FetchError> {
        // As for the go command: gopkg.in/x.v2-unstable has no versions
        // (the v2 tags are x.v2's).
        if self.module.starts_with("gopkg.in/") && self.module.ends_with("-unstable") {
            return Ok(vec![]);
        }
        let mut list = vec![];
        let mut incompatible = vec![];
        for t in self.tags(&[]).await? {
            match self.tag_version(&t) {
                Some((v, false)) => list.push(v),
                Some((v, true)) => incompatible.push(v),
                None => {}
            }
        }
        semver::sort(&mut list);
        semver::sort(&mut incompatible);
        if incompatible.is_empty() {
            return Ok(list);
        }
        if let Some(last) = list.last() {
            let h = self.tag_commit(last).await?;
            if self.has_go_mod(&h).await? {
                return Ok(list);
            }
        }
        let mut last_major = String::new();
        let mut last_has = false;
        for (i, v) in incompatible.iter().enumerate() {
            let major = semver::major(v);
            if major != last_major {
                let latest = incompatible[i..]
                    .iter()
                    .take_while(|w| semver::major(w) == major)
                    .last()
                    .unwrap();
                let h = self.tag_commit(latest).await?;
                last_has = self.has_go_mod(&h).await?;
                last_major = major.to_owned();
            }
            if !last_has {
                list.push(format!("{v}+incompatible"));
            }
        }
        Ok(list)
    }

    async fn tag_commit(&self, v: &str) -> Result<String, FetchError> {
        let tag = format!("refs/tags/{}{v}", self.loc.tag_prefix());
        self.commit_of(&tag)
            .await?
            .ok_or_else(|| not_found(format!("{}@{v}: unknown revision", self.module)))
    }

    /// Version `v` (canonical or pseudo): its commit, time and module
    /// directory.
    async fn resolve_version(&self, v: &str) -> Result<Rev, FetchError> {
        let unknown = || not_found(format!("{}@{v}: unknown revision {v}", self.module));
        if module::canonical_version(v) != v || module::check(&self.module, v).is_err() {
            return Err(unknown());
        }
        let hash = if pseudo::is_pseudo_version(v) {
            let rev = pseudo::pseudo_version_rev(v).map_err(|_| unknown())?;
            let h = self.commit_of(rev).await?.ok_or_else(unknown)?;
            if !h.starts_with(rev) {
                return Err(unknown());
            }
            let t = self.commit_time(&h).await?;
            let ts = pseudo::UtcTime::from_unix(t).map(|t| t.timestamp());
            if ts.as_deref() != pseudo::pseudo_version_timestamp(v).ok() {
                return Err(not_found(format!(
                    "{}@{v}: invalid pseudo-version: does not match version-control timestamp",
                    self.module
                )));
            }
            h
        } else {
            let base = v.strip_suffix("+incompatible").unwrap_or(v);
            self.tag_commit(base).await?
        };
        if v.ends_with("+incompatible") && self.has_go_mod(&hash).await? {
            return Err(not_found(format!(
                "{}@{v}: invalid version: module contains a go.mod file, so module path must match major version",
                self.module
            )));
        }
        let t = self.commit_time(&hash).await?;
        self.rev(v.to_owned(), t, hash).await
    }

    /// The [`Rev`] of `version` at commit `hash`: as the go command's
    /// checkCanonical, only where the module is (its directory and go.mod
    /// found by [`Repo::find_dir`]).
    async fn rev(&self, version: String, time: i64, hash: String) -> Result<Rev, FetchError> {
        let (dir, go_mod) = self.find_dir(&hash).await?;
        Ok(Rev {
            version,
            time,
            hash,
            dir,
            go_mod,
        })
    }

    /// The version the go command gives to commit `hash` (its `convert`):
    /// the highest canonical tag on it, else a pseudo-version over the
    /// highest reachable tag; retracted versions are passed over in both,
    /// and a v2+ tag counts as `+incompatible` only where the go command
    /// allows it (module at the repository root, no go.mod there nor in
    /// `vN/` at that commit).
    async fn version_of(&self, hash: &str) -> Result<Rev, FetchError> {
        let t = self.commit_time(hash).await?;
        let retracted = self.retractions().await;
        let is_retracted = |v: &str| {
            retracted
                .iter()
                .any(|r| semver::compare(&r.low, v).is_le() && semver::compare(v, &r.high).is_le())
        };
        let mut root_go_mod: Option<bool> = None;
        let mut major_go_mod: HashMap<String, bool> = HashMap::new();
        for (tags, loose) in [
            (self.tags(&["--points-at", hash]).await?, false),
            (self.tags(&["--merged", hash]).await?, true),
        ] {
            let mut best: Option<String> = None;
            for tag in tags {
                let tv = if loose {
                    self.tag_base(&tag)
                } else {
                    self.tag_version(&tag)
                };
                let Some((v, inc)) = tv else {
                    continue;
                };
                if is_retracted(&v) {
                    continue;
                }
                if inc {
                    if root_go_mod.is_none() {
                        root_go_mod = Some(self.has_go_mod(hash).await?);
                    }
                    let major = semver::major(&v).to_owned();
                    if !major_go_mod.contains_key(&major) {
                        let has = self
                            .read_file(hash, &format!("{major}/go.mod"), MAX_GO_MOD)
                            .await?
                            .is_some();
                        major_go_mod.insert(major.clone(), has);
                    }
                    if root_go_mod == Some(true) || major_go_mod[&major] {
                        continue;
                    }
                }
                let v = if inc { format!("{v}+incompatible") } else { v };
                if best
                    .as_deref()
                    .is_none_or(|b| semver::compare(&v, b).is_gt())
                {
                    best = Some(v);
                }
            }
            if !loose {
                if let Some(v) = best {
                    return self.rev(v, t, hash.to_owned()).await;
                }
                continue;
            }
            let base = best.unwrap_or_default();
            let major = module::path_major_prefix(&self.loc.path_major).unwrap_or("");
            let time = pseudo::UtcTime::from_unix(t)
                .ok_or_else(|| failed(format!("commit {hash} has an impossible time")))?;
            let v = pseudo::pseudo_version(major, &base, &time, &hash[..12]);
            return self.rev(v, t, hash.to_owned()).await;
        }
        unreachable!("the loop returns on its second round")
    }

    /// The retractions that apply to this module, as the go command reads
    /// them: from the go.mod of the highest release in `list` (else the
    /// highest pre-release), ignoring `+incompatible` versions; none if
    /// that go.mod cannot be read.
    async fn retractions(&self) -> Vec<gomod::modfile::VersionInterval> {
        let Ok(mut list) = self.versions().await else {
            return vec![];
        };
        if let Some(i) = list.iter().position(|v| v.ends_with("+incompatible")) {
            list.truncate(i);
        }
        let Some(highest) = list
            .iter()
            .rev()
            .find(|v| semver::prerelease(v).is_empty())
            .or(list.last())
            .cloned()
        else {
            return vec![];
        };
        let Ok(rev) = self.resolve_version(&highest).await else {
            return vec![];
        };
        gomod::modfile::parse_lax("go.mod", &self.go_mod(&rev))
            .map(|f| f.retract.into_iter().map(|r| r.interval).collect())
            .unwrap_or_default()
    }

    /// `.info` for a version or a query (branch, tag, commit hash).
    async fn stat(&self, q: &str) -> Result<Rev, FetchError> {
        if module::canonical_version(q) == q && !q.is_empty() {
            return self.resolve_version(q).await;
        }
        let hash = self
            .commit_of(q)
            .await?
            .ok_or_else(|| not_found(format!("{}@{q}: unknown revision {q}", self.module)))?;
        let rev = self.version_of(&hash).await?;
        if module::check(&self.module, &rev.version).is_err() {
            return Err(not_found(format!(
                "{}@{q}: resolves to {}, which is not a version of this module",
                self.module, rev.version
            )));
        }
        Ok(rev)
    }

    /// `@latest`: the highest release, else the highest prerelease, else
    /// the default branch's head as a pseudo-version.
    async fn latest(&self) -> Result<Rev, FetchError> {
        let list = self.versions().await?;
        let release = list.iter().rev().find(|v| semver::prerelease(v).is_empty());
        if let Some(v) = release.or(list.last()) {
            return self.resolve_version(v).await;
        }
        self.stat("HEAD").await
    }

    /// The `.mod` file of `rev`: its go.mod, or one synthesised.
    fn go_mod(&self, rev: &Rev) -> Vec<u8> {
        rev.go_mod
            .clone()
            .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&self.module))
    }

    /// The module zip: the tree at `hash` under the module directory as
    /// `git archive` exports it (read as a tar), so end-of-line conversion
    /// by `.gitattributes` applies but `export-ignore` and `export-subst`
    /// do not (`info/attributes` turns them off), as for the go command;
    /// plus the root LICENSE for a module in a subdirectory that
    /// has none, written by [`gomod::zip::create`].
    async fn zip(&self, rev: &Rev) -> Result<Vec<u8>, FetchError> {
        let (version, hash, dir) = (rev.version.as_str(), rev.hash.as_str(), rev.dir.clone());
        let mut args: Vec<&str> = vec![
            "-c",
            "core.autocrlf=input",
            "-c",
            "core.eol=lf",
            "archive",
            "--format=tar",
            "--prefix=prefix/",
            hash,
        ];
        if !dir.is_empty() {
            args.push("--");
            args.push(&dir);
        }
        // Bound the work (and memory) before exporting: the blobs under the
        // module directory must fit the unzipped-size limit.
        let mut ls: Vec<&str> = vec!["ls-tree", "-r", "-z", "--long", hash];
        let spec = format!("{dir}/");
        if !dir.is_empty() {
            ls.push("--");
            ls.push(&spec);
        }
        let listing = self
            .git(&ls)
            .await?
            .ok_or_else(|| failed(format!("git ls-tree {hash} failed")))?;
        let mut total = 0u64;
        for rec in listing.split(|&b| b == 0) {
            let meta = rec.split(|&b| b == b'\t').next().unwrap_or_default();
            let meta = String::from_utf8_lossy(meta);
            let f: Vec<&str> = meta.split_whitespace().collect();
            if f.len() >= 4 && f[1] == "blob" && f[0] != "120000" {
                total = total.saturating_add(f[3].parse().unwrap_or(0));
            }
        }
        if total > MAX_TREE {
            return Err(failed(format!(
                "{}@{version}: module source tree too large (max size is {MAX_TREE} bytes)",
                self.module
            )));
        }
        let archive = self
            .git(&args)
            .await?
            .ok_or_else(|| failed(format!("git archive {hash} failed")))?;
        let license = if dir.is_empty() {
            None
        } else {
            self.read_file(hash, "LICENSE", MAX_LICENSE).await?
        };
        let module = self.module.clone();
        let version = version.to_owned();
        tokio::task::spawn_blocking(move || {
            let files = archive_files(&archive, &dir, license, &module, &version)?;
            let mut out = std::io::Cursor::new(Vec::new());
            gomod::zip::create(&mut out, &module, &version, &files)
                .map(|_| out.into_inner())
                .map_err(|e| failed(format!("{module}@{version}: {e}")))
        })
        .await
        .map_err(|e| failed(format!("building zip: {e}")))?
    }
}

/// Whether a go.mod declaring `mpath` fits a module path with major-version
/// suffix `path_major` (the go command's `isMajor`): only the suffixes are
/// compared, so forks declaring another path are accepted.
fn is_major(mpath: &str, path_major: &str) -> bool {
    if mpath.is_empty() {
        return false;
    }
    let Some((_, mmajor)) = module::split_path_version(mpath) else {
        return false;
    };
    if path_major.is_empty() {
        return matches!(module::path_major_prefix(mmajor), Some("" | "v0" | "v1"));
    }
    if mmajor.is_empty() {
        return false;
    }
    path_major[1..] == mmajor[1..]
}

/// The files of a `git archive --format=tar --prefix=prefix/` under
/// `dir`, relative to it; `license` is added as `LICENSE` if there is none.
///
/// The tar is read by hand: ustar headers, with pax extended headers (`x`)
/// for long paths and the global header (`g`) git writes first.
fn archive_files(
    archive: &[u8],
    dir: &str,
    license: Option<Vec<u8>>,
    module: &str,
    version: &str,
) -> Result<Vec<GitFile>, FetchError> {
    let bad = |what: &str| failed(format!("{module}@{version}: reading git archive: {what}"));
    let octal = |field: &[u8]| -> Result<u64, FetchError> {
        let s = std::str::from_utf8(field).map_err(|_| bad("bad number"))?;
        let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
        if s.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(s, 8).map_err(|_| bad("bad number"))
    };
    let cstr = |field: &[u8]| -> Vec<u8> {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        field[..end].to_vec()
    };
    let prefix = if dir.is_empty() {
        "prefix/".to_owned()
    } else {
        format!("prefix/{dir}/")
    };
    let mut total = 0u64;
    let mut files = vec![];
    let mut have_license = false;
    let mut pax_path: Option<Vec<u8>> = None;
    let mut off = 0usize;
    while off + 512 <= archive.len() {
        let h = &archive[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = octal(&h[124..136])?;
        let flag = h[156];
        let data_start = off + 512;
        let data_end = data_start
            .checked_add(usize::try_from(size).map_err(|_| bad("entry too large"))?)
            .filter(|&e| e <= archive.len())
            .ok_or_else(|| bad("truncated"))?;
        let data = &archive[data_start..data_end];
        off = data_start + (size as usize).div_ceil(512) * 512;
        match flag {
            b'g' => continue,
            b'x' => {
                let mut rest = data;
                while !rest.is_empty() {
                    let sp = rest
                        .iter()
                        .position(|&b| b == b' ')
                        .ok_or_else(|| bad("pax"))?;
                    let n: usize = std::str::from_utf8(&rest[..sp])
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > sp + 1 && n <= rest.len() && rest[n - 1] == b'\n')
                        .ok_or_else(|| bad("pax"))?;
                    let rec = &rest[sp + 1..n - 1];
                    if let Some(v) = rec.strip_prefix(b"path=") {
                        pax_path = Some(v.to_vec());
                    }
                    rest = &rest[n..];
                }
                continue;
            }
            _ => {}
        }
        let name = match pax_path.take() {
            Some(p) => p,
            None => {
                let mut n = cstr(&h[345..500]);
                if !n.is_empty() {
                    n.push(b'/');
                }
                n.extend(cstr(&h[0..100]));
                n
            }
        };
        let name = String::from_utf8(name).map_err(|e| {
            failed(format!(
                "{module}@{version}: file name {:?} is not UTF-8",
                String::from_utf8_lossy(e.as_bytes())
            ))
        })?;
        let Some(rel) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rel.is_empty() || rel.ends_with('/') || flag == b'5' {
            continue;
        }
        let kind = match flag {
            b'0' | 0 => gomod::zip::FileKind::Regular,
            b'2' => gomod::zip::FileKind::Symlink,
            _ => gomod::zip::FileKind::Other,
        };
        let mut content = vec![];
        if kind == gomod::zip::FileKind::Regular {
            total = total.saturating_add(size);
            if total > MAX_TREE {
                return Err(failed(format!(
                    "{module}@{version}: module source tree too large (max size is {MAX_TREE} bytes)"
                )));
            }
            content = data.to_vec();
        }
        if rel == "LICENSE" {
            have_license = true;
        }
        files.push(GitFile {
            path: rel.to_owned(),
            kind,
            size: content.len() as u64,
            data: content,
        });
    }
    if !have_license {
        if let Some(data) = license {
            files.push(GitFile {
                path: "LICENSE".into(),
                kind: gomod::zip::FileKind::Regular,
                size: data.len() as u64,
                data,
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_proxy_paths() {
        assert_eq!(
            parse_rel("github.com/!o/r/@v/list").unwrap(),
            ("github.com/O/r".into(), Request::List)
        );
        assert_eq!(
            parse_rel("github.com/o/r/@v/v1.0.0.zip").unwrap(),
            ("github.com/o/r".into(), Request::Zip("v1.0.0".into()))
        );
        assert_eq!(
            parse_rel("github.com/o/r/@v/feature.x.info").unwrap(),
            ("github.com/o/r".into(), Request::Info("feature.x".into()))
        );
        assert_eq!(
            parse_rel("github.com/o/r/@latest").unwrap(),
            ("github.com/o/r".into(), Request::Latest)
        );
    }

    /// A ustar header block for `name` with `size` bytes and type `flag`.
    fn header(name: &str, size: usize, flag: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let sz = format!("{size:011o}");
        h[124..135].copy_from_slice(sz.as_bytes());
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h
    }

    fn entry(tar: &mut Vec<u8>, name: &str, data: &[u8], flag: u8) {
        tar.extend(header(name, data.len(), flag));
        tar.extend(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }

    #[test]
    fn archive_tar_is_read_plainly() {
        let mut tar = vec![];
        entry(&mut tar, "pax_global_header", b"52 comment=abc\n", b'g');
        entry(&mut tar, "prefix/", b"", b'5');
        entry(&mut tar, "prefix/go.mod", b"module m\n", b'0');
        entry(&mut tar, "prefix/link", b"", b'2');
        let long = format!("prefix/{}.go", "x".repeat(120));
        let rec = format!("path={long}\n");
        let rec = format!("{} {rec}", rec.len() + 4);
        entry(&mut tar, "ignored", rec.as_bytes(), b'x');
        entry(&mut tar, "truncated-name", b"package x\n", b'0');
        entry(&mut tar, "other/file", b"x", b'0');
        tar.extend([0u8; 1024]);
        let files = archive_files(&tar, "", Some(b"L".to_vec()), "m", "v1.0.0").unwrap();
        let got: Vec<(&str, gomod::zip::FileKind, &[u8])> = files
            .iter()
            .map(|f| (f.path.as_str(), f.kind, &f.data[..]))
            .collect();
        use gomod::zip::FileKind::*;
        assert_eq!(
            got,
            vec![
                ("go.mod", Regular, &b"module m\n"[..]),
                ("link", Symlink, &b""[..]),
                (&long["prefix/".len()..], Regular, &b"package x\n"[..]),
                ("LICENSE", Regular, &b"L"[..]),
            ]
        );
        // Damaged archives are errors, never panics.
        for cut in [100, 600, 1100, tar.len() - 1030] {
            let _ = archive_files(&tar[..cut], "", None, "m", "v1.0.0");
        }
        let mut bad = tar.clone();
        bad[124..135].copy_from_slice(b"77777777777");
        assert!(archive_files(&bad, "", None, "m", "v1.0.0").is_err());
        let mut pax = vec![];
        for r in ["1 \n", "2 \n", "99 path=x\n", "x path=x\n", "3 p"] {
            pax.clear();
            entry(&mut pax, "h", r.as_bytes(), b'x');
            assert!(
                archive_files(&pax, "", None, "m", "v1.0.0").is_err(),
                "{r:?}"
            );
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1700000000), "2023-11-14T22:13:20Z");
    }
}
