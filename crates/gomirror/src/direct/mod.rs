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
//!   the server — else a fresh private directory under the system temp
//!   dir). A request for a tagged version or a pseudo-version already in
//!   the cache is answered without contacting the server; lists, `@latest`
//!   and branch queries refresh the mirror with an incremental `git fetch`
//!   at most every [`cache::REFRESH`]. A clone or fetch that grows the
//!   repository past the size cap is stopped and the repository removed.
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
//!
//! This file holds the [`Direct`] type and the dispatch of a request; the
//! rest is by concept: [`options`] (settings), [`discover`] (module path to
//! repository), [`cache`] (the repository cache), [`remote`] (where git
//! may connect), [`git`] (running git),
//! [`versions`] (tags and commits to versions) and [`archive`] (the zip).

mod archive;
mod cache;
mod discover;
mod git;
mod options;
mod remote;
mod versions;

pub use options::Options;

use crate::telemetry::Metrics;
use crate::upstream::{self, Body, DirectAnswer, FetchError};
use bytes::Bytes;
use cache::{Freshness, RepoGuard, RepoLock};
use discover::Root;
use futures_util::StreamExt;
use gomod::{module, pseudo};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::Semaphore;

const NAME: &str = "direct";

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
struct Location {
    /// The URL git is given (before `insteadOf` rewriting).
    url: String,
    /// The module's directory in the repository, without the `/vN` suffix
    /// (`""` for the root).
    code_dir: String,
    /// The module path's major-version suffix (`""`, `/vN`, or `.vN` for
    /// gopkg.in).
    path_major: String,
    /// Whether the repository root's import path is the whole module path
    /// (`gopkg.in/yaml.v3`, or a go-import tag naming a `/vN` path): then no
    /// `vN/` subdirectory is looked at.
    root_is_module: bool,
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

impl Direct {
    /// The answer to a request whose destination the egress policy refuses
    /// (see [`crate::egress`]): a 404 naming the reason, counted in
    /// `gomirror_direct_refused_total{reason}` and logged.
    fn refused(&self, r: &crate::egress::Refused) -> FetchError {
        if let Some(m) = self.metrics() {
            Metrics::inc(&m.direct_refused, &[("reason", r.reason())]);
        }
        tracing::warn!(reason = r.reason(), "direct mode: {r}");
        not_found(r.to_string())
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
            kind,
        } => {
            let r = match kind {
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

impl Direct {
    /// A fetcher keeping its repositories in the cache directory `opts`
    /// name (`$GOMIRROR_GIT_DIR` wins; see [`Options::git_dir`]).
    pub fn new(opts: Options) -> Direct {
        let root = opts.cache_dir();
        cache::remove_leftovers(&root);
        Direct {
            root,
            metrics: OnceLock::new(),
            sem: Semaphore::new(opts.max_processes.max(1)),
            repos: Mutex::new(HashMap::new()),
            sizes: Mutex::new(None),
            pages: Mutex::new(HashMap::new()),
            http: discover::Clients::new(&opts.egress),
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

    fn proxy_client(&self) -> reqwest::Client {
        self.http.proxies.clone()
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
    fn metrics(&self) -> Option<&Metrics> {
        self.metrics.get().map(|m| &**m)
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

/// One module in one cached repository.
struct Repo<'a> {
    d: &'a Direct,
    dir: PathBuf,
    loc: Location,
    module: String,
    _guard: RepoGuard,
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

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1700000000), "2023-11-14T22:13:20Z");
    }
}
