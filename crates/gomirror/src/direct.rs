//! The `direct` source: answers the GOPROXY files from version control
//! (git only), the way the go command does with `GOPROXY=direct`.
//!
//! * A module path maps to a repository by the go command's rules for the
//!   well-known hosts (`github.com`, `gitlab.com`, `bitbucket.org`:
//!   `https://<host>/<owner>/<repo>`) and for paths with an element ending in
//!   `.git` (`https://` + the path up to that element). The rest of the path
//!   (without its `/vN` suffix) is the module's subdirectory, whose tags
//!   carry it as a prefix (`sub/dir/v1.2.3`). Git's own `url.<base>.insteadOf`
//!   configuration applies, so repositories can be redirected (tests point
//!   `https://github.com/` at local directories this way).
//! * Repositories are kept as bare mirrors under the cache directory
//!   (`$GOMIRROR_GIT_DIR`, else a fresh private directory under the system
//!   temp dir, per process), refreshed with `git fetch --tags` at most every
//!   [`REFRESH`].
//! * Every file is produced in memory and handed over as an
//!   [`upstream::Body`], so admission (size limits, zip check, `h1:`,
//!   checksum database) applies unchanged. Zips are built by
//!   [`gomod::zip::create`], so every zip rule applies.
//!
//! Git runs as a child process (`git`, from PATH) with a bounded number of
//! concurrent processes and a timeout for each.

use crate::upstream::{Body, FetchError};
use bytes::Bytes;
use futures_util::StreamExt;
use gomod::{module, pseudo, semver};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long a fetched repository is considered fresh.
pub const REFRESH: Duration = Duration::from_secs(10);
/// Timeout of one git command.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);
/// At most this many git processes at once.
const MAX_GIT: usize = 4;
/// Largest go.mod read from a repository (as for the go command).
const MAX_GO_MOD: u64 = 16 << 20;
/// Largest LICENSE copied from the repository root into a subdirectory
/// module's zip.
const MAX_LICENSE: u64 = 16 << 20;
/// Largest total of file sizes read for one zip.
const MAX_TREE: u64 = 500 << 20;

const NAME: &str = "direct";

static GIT_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Keeps the cache of bare repositories in `dir` (the server passes
/// `<data dir>/git`). Must be called before the first direct fetch; later
/// calls are ignored. `$GOMIRROR_GIT_DIR` still wins.
pub fn use_git_dir(dir: PathBuf) {
    let _ = GIT_DIR.set(dir);
}

/// The process-wide direct fetcher.
pub fn fetcher() -> &'static Direct {
    static D: OnceLock<Direct> = OnceLock::new();
    D.get_or_init(|| {
        let root = std::env::var_os("GOMIRROR_GIT_DIR")
            .map(PathBuf::from)
            .or_else(|| GIT_DIR.get().cloned())
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
            });
        Direct::new(root)
    })
}

/// Fetches module files from git repositories cached under a directory.
pub struct Direct {
    root: PathBuf,
    sem: Semaphore,
    repos: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

/// A module's place in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The URL git is given (before `insteadOf` rewriting).
    pub url: String,
    /// The module's directory in the repository, without the `/vN` suffix
    /// (`""` for the root).
    pub code_dir: String,
    /// The module path's major-version suffix (`""` or `/vN`).
    pub path_major: String,
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

/// Maps a module path to its repository by the go command's static rules.
pub fn locate(module_path: &str) -> Result<Location, FetchError> {
    module::check_path(module_path).map_err(|e| not_found(e.to_string()))?;
    let (prefix, path_major) = module::split_path_version(module_path)
        .ok_or_else(|| not_found(format!("{module_path}: invalid module path")))?;
    if path_major.starts_with('.') {
        return Err(not_found(format!(
            "{module_path}: gopkg.in paths are not supported by direct mode"
        )));
    }
    let elems: Vec<&str> = module_path.split('/').collect();
    let root_len = if matches!(elems[0], "github.com" | "gitlab.com" | "bitbucket.org") {
        if elems.len() < 3 {
            return Err(not_found(format!(
                "{module_path}: a {} module path needs an owner and a repository",
                elems[0]
            )));
        }
        3
    } else if let Some(i) = elems
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, e)| e.ends_with(".git") && e.len() > 4)
        .map(|(i, _)| i)
    {
        i + 1
    } else {
        return Err(not_found(format!(
            "{module_path}: unrecognized import path (direct mode knows github.com, gitlab.com, bitbucket.org and paths with a .git element)"
        )));
    };
    let root = elems[..root_len].join("/");
    let code_dir = if prefix.len() > root.len() && prefix.starts_with(&format!("{root}/")) {
        prefix[root.len() + 1..].to_owned()
    } else if prefix == root || module_path == root {
        String::new()
    } else {
        // The /vN suffix is the repository itself (github.com/o/v2).
        return Err(not_found(format!(
            "{module_path}: the major-version suffix cannot be the repository name"
        )));
    };
    Ok(Location {
        url: format!("https://{root}"),
        code_dir,
        path_major: path_major.to_owned(),
    })
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

fn parse_rel(rel: &str) -> Result<(String, Request), FetchError> {
    let bad = || not_found(format!("{rel}: not a module proxy path"));
    let (m, req) = if let Some(m) = rel.strip_suffix("/@latest") {
        (m, Request::Latest)
    } else if let Some(m) = rel.strip_suffix("/@v/list") {
        (m, Request::List)
    } else {
        let (m, file) = rel.rsplit_once("/@v/").ok_or_else(bad)?;
        let (v, ext) = file.rsplit_once('.').ok_or_else(bad)?;
        let v = module::unescape_version(v).map_err(|e| not_found(e.to_string()))?;
        let r = match ext {
            "info" => Request::Info(v),
            "mod" => Request::Mod(v),
            "zip" => Request::Zip(v),
            _ => return Err(bad()),
        };
        (m, r)
    };
    let m = module::unescape_path(m).map_err(|e| not_found(e.to_string()))?;
    Ok((m, req))
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

fn info_json(version: &str, time: i64) -> Vec<u8> {
    // In the go command's field order; a canonical version needs no escaping.
    format!(
        "{{\"Version\":{},\"Time\":\"{}\"}}\n",
        serde_json::Value::from(version),
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
    /// A fetcher keeping its repositories under `root`.
    pub fn new(root: PathBuf) -> Direct {
        Direct {
            root,
            sem: Semaphore::new(MAX_GIT),
            repos: Mutex::new(HashMap::new()),
        }
    }

    /// Answers the proxy path `rel` (escaped, such as
    /// `github.com/o/r/@v/v1.0.0.zip`) from version control.
    pub async fn get(&self, rel: &str) -> Result<Body, FetchError> {
        let (module_path, req) = parse_rel(rel)?;
        let loc = locate(&module_path)?;
        let repo = self.repo(&loc.url).await?;
        let r = Repo {
            d: self,
            dir: repo,
            loc,
            module: module_path,
        };
        let data = match req {
            Request::List => {
                let mut s = r.versions().await?.join("\n");
                if !s.is_empty() {
                    s.push('\n');
                }
                s.into_bytes()
            }
            Request::Latest => {
                let (v, t) = r.latest().await?;
                info_json(&v, t)
            }
            Request::Info(q) => {
                let (v, t, _) = r.stat(&q).await?;
                info_json(&v, t)
            }
            Request::Mod(v) => {
                let (_, _, hash) = r.resolve_version(&v).await?;
                r.go_mod(&hash).await?
            }
            Request::Zip(v) => {
                let (_, _, hash) = r.resolve_version(&v).await?;
                r.zip(&v, &hash).await?
            }
        };
        Ok(body(data))
    }

    /// The bare mirror of `url`, cloned or refreshed as needed.
    async fn repo(&self, url: &str) -> Result<PathBuf, FetchError> {
        use sha2::Digest;
        let key = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..12]);
        let dir = self.root.join(format!("{key}.git"));
        let lock = self.repos.lock().unwrap().entry(key).or_default().clone();
        let mut last = lock.lock().await;
        if matches!(*last, Some(t) if t.elapsed() < REFRESH) {
            return Ok(dir);
        }
        if !dir.join("HEAD").exists() {
            std::fs::create_dir_all(&self.root)
                .map_err(|e| failed(format!("creating {}: {e}", self.root.display())))?;
            let tmp = self.root.join(format!(
                "{}.tmp-{}",
                dir.file_name().unwrap().to_string_lossy(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&tmp);
            let out = self
                .git_raw(
                    None,
                    &[
                        "clone".as_ref(),
                        "--mirror".as_ref(),
                        "--quiet".as_ref(),
                        "--".as_ref(),
                        url.as_ref(),
                        tmp.as_os_str(),
                    ],
                )
                .await?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(&tmp);
                let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                return Err(repo_error(url, &err));
            }
            // As the go command does: `git archive` must not leave files
            // out or rewrite them because of the repository's own
            // `.gitattributes` (end-of-line conversion still applies).
            std::fs::create_dir_all(tmp.join("info"))
                .and_then(|_| {
                    std::fs::write(
                        tmp.join("info/attributes"),
                        "* -export-subst -export-ignore\n",
                    )
                })
                .map_err(|e| failed(format!("writing {}/info/attributes: {e}", tmp.display())))?;
            std::fs::rename(&tmp, &dir)
                .map_err(|e| failed(format!("installing {}: {e}", dir.display())))?;
        } else {
            let out = self
                .git_raw(
                    Some(&dir),
                    &[
                        "fetch".as_ref(),
                        "--quiet".as_ref(),
                        "--tags".as_ref(),
                        "--force".as_ref(),
                        "--prune".as_ref(),
                        "origin".as_ref(),
                    ],
                )
                .await?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                return Err(repo_error(url, &err));
            }
        }
        let attrs = dir.join("info/attributes");
        if !attrs.exists() {
            std::fs::create_dir_all(dir.join("info"))
                .and_then(|_| std::fs::write(&attrs, "* -export-subst -export-ignore\n"))
                .map_err(|e| failed(format!("writing {}: {e}", attrs.display())))?;
        }
        *last = Some(Instant::now());
        Ok(dir)
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

    async fn git_input(
        &self,
        dir: Option<&Path>,
        args: &[&std::ffi::OsStr],
        input: Option<Vec<u8>>,
    ) -> Result<std::process::Output, FetchError> {
        let _permit = self.sem.acquire().await.expect("semaphore never closed");
        let mut cmd = tokio::process::Command::new("git");
        if let Some(d) = dir {
            cmd.arg("--git-dir").arg(d);
        }
        cmd.args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("LC_ALL", "C")
            .stdin(if input.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let what = || {
            format!(
                "git {}",
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| failed(format!("cannot run git (is it installed?): {e}")))?;
        let writer = if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            Some(tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stdin.write_all(&data).await;
            }))
        } else {
            None
        };
        let out = match tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output()).await {
            Err(_) => {
                return Err(FetchError::Transient {
                    upstream: NAME.into(),
                    msg: format!("{}: timed out after {GIT_TIMEOUT:?}", what()),
                })
            }
            Ok(Err(e)) => return Err(failed(format!("{}: {e}", what()))),
            Ok(Ok(o)) => o,
        };
        if let Some(w) = writer {
            let _ = w.await;
        }
        Ok(out)
    }
}

fn repo_error(url: &str, err: &str) -> FetchError {
    let lower = err.to_ascii_lowercase();
    if lower.contains("not found")
        || lower.contains("does not exist")
        || lower.contains("not appear to be a git repository")
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

/// One module in one cached repository.
struct Repo<'a> {
    d: &'a Direct,
    dir: PathBuf,
    loc: Location,
    module: String,
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
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
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
    /// command's rules: for a `/vN` path, a `vN/go.mod` naming the module
    /// wins; else the go.mod in the module directory (if any).
    async fn find_dir(&self, hash: &str) -> Result<(String, Option<Vec<u8>>), FetchError> {
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_owned()
            } else {
                format!("{a}/{b}")
            }
        };
        if !self.loc.path_major.is_empty() {
            let dir2 = join(&self.loc.code_dir, &self.loc.path_major[1..]);
            if let Some(gm) = self
                .read_file(hash, &join(&dir2, "go.mod"), MAX_GO_MOD)
                .await?
            {
                if gomod::modfile::module_path(&gm).as_deref() == Some(self.module.as_str()) {
                    return Ok((dir2, Some(gm)));
                }
            }
        }
        let gm = self
            .read_file(hash, &join(&self.loc.code_dir, "go.mod"), MAX_GO_MOD)
            .await?;
        if let Some(data) = &gm {
            let mp = gomod::modfile::module_path(data).unwrap_or_default();
            if !self.loc.path_major.is_empty() && mp != self.module {
                return Err(not_found(format!(
                    "{}: go.mod at {} has module path {mp:?}, not {}",
                    self.module,
                    &hash[..12],
                    self.module
                )));
            }
        }
        Ok((self.loc.code_dir.clone(), gm))
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

    /// The commit and time of version `v` (canonical or pseudo).
    async fn resolve_version(&self, v: &str) -> Result<(String, i64, String), FetchError> {
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
        Ok((v.to_owned(), t, hash))
    }

    /// The version the go command gives to commit `hash`: the highest tag
    /// on it, else a pseudo-version over the highest reachable tag.
    async fn version_of(&self, hash: &str) -> Result<(String, i64, String), FetchError> {
        let t = self.commit_time(hash).await?;
        let allow_incompat = !self.has_go_mod(hash).await?;
        let pick = |tags: Vec<String>, loose: bool| {
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
                if inc && !allow_incompat {
                    continue;
                }
                let v = if inc { format!("{v}+incompatible") } else { v };
                if best
                    .as_deref()
                    .is_none_or(|b| semver::compare(&v, b).is_gt())
                {
                    best = Some(v);
                }
            }
            best
        };
        if let Some(v) = pick(self.tags(&["--points-at", hash]).await?, false) {
            return Ok((v, t, hash.to_owned()));
        }
        let base = pick(self.tags(&["--merged", hash]).await?, true).unwrap_or_default();
        let major = module::path_major_prefix(&self.loc.path_major).unwrap_or("");
        let time = pseudo::UtcTime::from_unix(t)
            .ok_or_else(|| failed(format!("commit {hash} has an impossible time")))?;
        let v = pseudo::pseudo_version(major, &base, &time, &hash[..12]);
        Ok((v, t, hash.to_owned()))
    }

    /// `.info` for a version or a query (branch, tag, commit hash).
    async fn stat(&self, q: &str) -> Result<(String, i64, String), FetchError> {
        if module::canonical_version(q) == q && !q.is_empty() {
            return self.resolve_version(q).await;
        }
        let hash = self
            .commit_of(q)
            .await?
            .ok_or_else(|| not_found(format!("{}@{q}: unknown revision {q}", self.module)))?;
        let r = self.version_of(&hash).await?;
        if module::check(&self.module, &r.0).is_err() {
            return Err(not_found(format!(
                "{}@{q}: resolves to {}, which is not a version of this module",
                self.module, r.0
            )));
        }
        Ok(r)
    }

    /// `@latest`: the highest release, else the highest prerelease, else
    /// the default branch's head as a pseudo-version.
    async fn latest(&self) -> Result<(String, i64), FetchError> {
        let list = self.versions().await?;
        let release = list.iter().rev().find(|v| semver::prerelease(v).is_empty());
        if let Some(v) = release.or(list.last()) {
            let (v, t, _) = self.resolve_version(v).await?;
            return Ok((v, t));
        }
        let (v, t, _) = self.stat("HEAD").await?;
        Ok((v, t))
    }

    async fn go_mod(&self, hash: &str) -> Result<Vec<u8>, FetchError> {
        let (_, gm) = self.find_dir(hash).await?;
        Ok(gm.unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&self.module)))
    }

    /// The module zip: the tree at `hash` under the module directory as
    /// `git archive` exports it (read as a tar), so end-of-line conversion
    /// by `.gitattributes` applies but `export-ignore` and `export-subst`
    /// do not (`info/attributes` turns them off), as for the go command;
    /// plus the root LICENSE for a module in a subdirectory that
    /// has none, written by [`gomod::zip::create`].
    async fn zip(&self, version: &str, hash: &str) -> Result<Vec<u8>, FetchError> {
        let (dir, _) = self.find_dir(hash).await?;
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
    fn locate_follows_the_go_command() {
        let l = locate("github.com/o/r").unwrap();
        assert_eq!(l.url, "https://github.com/o/r");
        assert_eq!((l.code_dir.as_str(), l.path_major.as_str()), ("", ""));
        let l = locate("github.com/o/r/v2").unwrap();
        assert_eq!((l.code_dir.as_str(), l.path_major.as_str()), ("", "/v2"));
        let l = locate("gitlab.com/o/r/sub/dir/v3").unwrap();
        assert_eq!(l.url, "https://gitlab.com/o/r");
        assert_eq!(
            (l.code_dir.as_str(), l.path_major.as_str()),
            ("sub/dir", "/v3")
        );
        let l = locate("example.com/x/repo.git/sub").unwrap();
        assert_eq!(l.url, "https://example.com/x/repo.git");
        assert_eq!(l.code_dir, "sub");
        assert!(locate("example.com/x").unwrap_err().is_not_found());
        assert!(locate("github.com/o").is_err());
    }

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
