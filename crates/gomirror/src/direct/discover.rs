//! From a module path to its repository, as the go command does in
//! `GOPROXY=direct` mode: the static rules of [`gomod::vcs::static_root`],
//! else `https://<path>?go-get=1` and its `<meta name="go-import">` tags
//! (plain `http://` only for paths matching `GOINSECURE`), with the go
//! command's check that a tag naming a shorter prefix is confirmed by that
//! prefix's own page. A `mod` tag sends the module to a module proxy; a
//! version control system other than git is refused with a clear error.

use super::{failed, not_found, Direct, Location};
use crate::egress::{refusal_in, Egress};
use crate::upstream::FetchError;
use gomod::vcs::{self, MetaImport, RepoRoot};
use gomod::{glob, module};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a discovery page's tags are reused.
const PAGE_TTL: Duration = Duration::from_secs(600);
/// Largest discovery page read.
const MAX_PAGE: usize = 1 << 20;
/// Timeout of a discovery request (the go command uses 5 s for its
/// insecure client; its secure client has none).
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a module's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Root {
    /// A git repository.
    Git(Location),
    /// A module proxy at this base URL (a go-import `mod` tag).
    Proxy(String),
}

/// A fetched discovery page: the URL it came from and its go-import tags.
#[derive(Clone)]
pub(super) struct Page {
    url: String,
    imports: Vec<MetaImport>,
}

/// The HTTP clients for discovery: a verifying one, and for `GOINSECURE`
/// paths one that accepts any certificate (as the go command does).
pub(super) struct Clients {
    secure: reqwest::Client,
    insecure: reqwest::Client,
    /// For module proxies named by `mod` tags.
    pub(super) proxies: reqwest::Client,
}

impl Clients {
    /// The discovery clients; every connection goes through `egress`
    /// (names resolved and checked at connect time, IP literals and
    /// redirect targets checked before they are requested).
    pub(super) fn new(egress: &Arc<Egress>) -> Clients {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Like the go command's client: at most 10 redirects, and never
        // from https to plain http; and only to destinations the egress
        // policy allows.
        let policy = || {
            let egress = egress.clone();
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 10 {
                    attempt.error("stopped after 10 redirects")
                } else if attempt.previous()[0].scheme() == "https"
                    && attempt.url().scheme() != "https"
                {
                    let to = attempt.url().to_string();
                    attempt.error(format!("redirected from secure URL to insecure URL {to}"))
                } else if let Err(r) = egress.check_url(attempt.url()) {
                    attempt.error(r)
                } else {
                    attempt.follow()
                }
            })
        };
        let ua = concat!("gomirror/", env!("CARGO_PKG_VERSION"), " (go-get)");
        let secure = reqwest::Client::builder()
            .user_agent(ua)
            .redirect(policy())
            .dns_resolver(egress.resolver())
            .timeout(PAGE_TIMEOUT)
            .build()
            .expect("building the discovery HTTP client");
        let insecure = reqwest::Client::builder()
            .user_agent(ua)
            .redirect(policy())
            .dns_resolver(egress.resolver())
            .timeout(Duration::from_secs(5))
            .danger_accept_invalid_certs(true)
            .build()
            .expect("building the insecure discovery HTTP client");
        // Module proxies named by go-import `mod` tags: client-chosen, so
        // their redirects stay on their origin.
        let redirects = egress.clone();
        let proxies = reqwest::Client::builder()
            .user_agent(concat!("gomirror/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .dns_resolver(egress.resolver())
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let from = &attempt.previous()[0];
                if attempt.previous().len() >= 5 {
                    attempt.error("stopped after 5 redirects")
                } else if let Err(r) = redirects
                    .upstream_redirect(from, attempt.url())
                    .and_then(|()| redirects.check_url(attempt.url()))
                {
                    attempt.error(r)
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("building the module proxy HTTP client");
        Clients {
            secure,
            insecure,
            proxies,
        }
    }
}

/// The module's directory in the repository `rr`, by the go command's rules
/// (`newCodeRepo`): the module path minus the root and the `/vN` suffix,
/// under the tag's subdirectory if any.
fn location(module_path: &str, rr: &RepoRoot) -> Result<Location, FetchError> {
    if !vcs::has_path_prefix(module_path, &rr.root) {
        return Err(not_found(format!(
            "mismatched repo: found {} for {module_path}",
            rr.root
        )));
    }
    let (prefix, path_major) = module::split_path_version(module_path)
        .ok_or_else(|| not_found(format!("invalid module path {module_path:?}")))?;
    let root_is_module = rr.root == module_path;
    let mut code_dir = String::new();
    if !root_is_module {
        if !vcs::has_path_prefix(prefix, &rr.root) {
            return Err(not_found(format!(
                "repository rooted at {} cannot contain module {module_path}",
                rr.root
            )));
        }
        code_dir = prefix[rr.root.len()..].trim_matches('/').to_owned();
    }
    if !rr.subdir.is_empty() {
        code_dir = clean_join(&code_dir, &rr.subdir).ok_or_else(|| {
            not_found(format!(
                "{module_path}: subdirectory {:?} leaves the repository",
                rr.subdir
            ))
        })?;
    }
    Ok(Location {
        url: rr.repo.clone(),
        code_dir,
        path_major: path_major.to_owned(),
        root_is_module,
    })
}

/// `a` joined with `b`, cleaned (no `.`, `..` or empty elements); `None` if
/// it would leave the repository.
fn clean_join(a: &str, b: &str) -> Option<String> {
    let mut out: Vec<&str> = vec![];
    for e in a.split('/').chain(b.split('/')) {
        match e {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            e => out.push(e),
        }
    }
    Some(out.join("/"))
}

impl Direct {
    /// Where `module_path`'s files come from.
    pub(super) async fn resolve(&self, module_path: &str) -> Result<Root, FetchError> {
        module::check_path(module_path).map_err(|e| not_found(e.to_string()))?;
        // The module's host (an IP literal too) before anything else.
        let host = module_path.split('/').next().unwrap_or(module_path);
        self.opts
            .egress
            .check_host(host)
            .map_err(|r| self.refused(&r))?;
        let rr = match vcs::static_root(module_path) {
            Err(e) => return Err(not_found(format!("{module_path}: {e}"))),
            Ok(Some(rr)) => rr,
            Ok(None) => match self.discover(module_path).await {
                Ok(rr) => rr,
                Err(e) if module_path.starts_with("launchpad.net/") && e.is_not_found() => {
                    // The go command's rule after discovery: Launchpad
                    // hosts Bazaar branches.
                    return Err(unsupported(module_path, "bzr", "https://launchpad.net"));
                }
                Err(e) => return Err(e),
            },
        };
        match rr.vcs.as_str() {
            "mod" => {
                let base = rr.repo.trim_end_matches('/').to_owned();
                let url = reqwest::Url::parse(&base).map_err(|e| {
                    not_found(format!(
                        "{module_path}: invalid module proxy URL {base:?}: {e}"
                    ))
                })?;
                self.opts
                    .egress
                    .check_url(&url)
                    .map_err(|r| self.refused(&r))?;
                Ok(Root::Proxy(base))
            }
            "git" => Ok(Root::Git(location(module_path, &rr)?)),
            other => Err(unsupported(module_path, other, &rr.repo)),
        }
    }

    /// go-import discovery for `module_path`.
    async fn discover(&self, module_path: &str) -> Result<RepoRoot, FetchError> {
        let insecure = glob::match_prefix_patterns(&self.opts.goinsecure, module_path);
        let page = self.page(module_path, insecure).await?;
        let mmi = vcs::match_go_import(&page.imports, module_path).map_err(|e| match e {
            vcs::MatchError::Mismatch { .. } => not_found(format!(
                "unrecognized import path \"{module_path}\": parse {}: no go-import meta tags ({e})",
                page.url
            )),
            vcs::MatchError::Multiple { .. } => not_found(format!(
                "unrecognized import path \"{module_path}\": parse {}: {e}",
                page.url
            )),
        })?;
        if mmi.prefix != module_path {
            // Only the prefix's own page may say where the prefix lives.
            let root_page = self.page(&mmi.prefix, insecure).await?;
            if vcs::match_go_import(&root_page.imports, module_path).as_ref() != Ok(&mmi) {
                return Err(not_found(format!(
                    "unrecognized import path \"{module_path}\": {} and {} disagree about go-import for {}",
                    page.url, root_page.url, mmi.prefix
                )));
            }
        }
        vcs::validate_subdir(&mmi.subdir).map_err(|e| {
            not_found(format!(
                "{}: invalid subdirectory {:?}: {e}",
                page.url, mmi.subdir
            ))
        })?;
        vcs::validate_repo_root(&mmi.repo_root).map_err(|e| {
            not_found(format!(
                "{}: invalid repo root {:?}: {e}",
                page.url, mmi.repo_root
            ))
        })?;
        if mmi.vcs != "mod" && !vcs::VCS_NAMES.contains(&mmi.vcs.as_str()) {
            return Err(not_found(format!(
                "{}: unknown vcs {:?}",
                page.url, mmi.vcs
            )));
        }
        Ok(RepoRoot {
            root: mmi.prefix,
            vcs: mmi.vcs,
            repo: mmi.repo_root,
            subdir: mmi.subdir,
        })
    }

    /// The go-import tags on `https://<path>?go-get=1` (then `http://` if
    /// `insecure` and https failed), reused for [`PAGE_TTL`].
    async fn page(&self, import_path: &str, insecure: bool) -> Result<Page, FetchError> {
        let key = format!("{insecure} {import_path}");
        if let Some((at, page)) = self.pages.lock().unwrap().get(&key) {
            if at.elapsed() < PAGE_TTL {
                return Ok(page.clone());
            }
        }
        let (host, path) = match import_path.split_once('/') {
            Some((h, p)) => (h, format!("/{p}")),
            None => (import_path, "/".to_owned()),
        };
        if !host.contains('.') {
            return Err(not_found(format!(
                "unrecognized import path \"{import_path}\": import path does not begin with hostname"
            )));
        }
        self.opts
            .egress
            .check_host(host)
            .map_err(|r| self.refused(&r))?;
        let https = format!("https://{host}{path}?go-get=1");
        let client = if insecure {
            &self.http.insecure
        } else {
            &self.http.secure
        };
        // Credentials as the go command finds them (GOAUTH's default,
        // `netrc`): the first `$NETRC` / `~/.netrc` entry for the host.
        let creds = netrc_credentials(host);
        let get = |url: &str| {
            let mut req = client.get(url);
            // As the go command: credentials only over https.
            if let (Some((login, password)), true) = (&creds, url.starts_with("https://")) {
                req = req.basic_auth(login, Some(password));
            }
            req.send()
        };
        let (url, resp) = match get(&https).await {
            Ok(r) => (https, r),
            Err(e) if refusal_in(&e).is_some() => {
                return Err(self.refused(refusal_in(&e).expect("checked")))
            }
            Err(e) if insecure => {
                let http = format!("http://{host}{path}?go-get=1");
                match get(&http).await {
                    Ok(r) => (http, r),
                    Err(e2) if refusal_in(&e2).is_some() => {
                        return Err(self.refused(refusal_in(&e2).expect("checked")))
                    }
                    Err(e2) => {
                        return Err(FetchError::Transient {
                            upstream: super::NAME.into(),
                            msg: format!(
                                "unrecognized import path \"{import_path}\": http/https fetch: {}; then {}",
                                crate::util::error_chain(&e),
                                crate::util::error_chain(&e2)
                            ),
                        })
                    }
                }
            }
            Err(e) => {
                return Err(FetchError::Transient {
                    upstream: super::NAME.into(),
                    msg: format!(
                        "unrecognized import path \"{import_path}\": https fetch: {}",
                        crate::util::error_chain(&e)
                    ),
                })
            }
        };
        let status = resp.status();
        let body = read_limited(resp, MAX_PAGE)
            .await
            .map_err(|e| failed(format!("reading {url}: {e}")))?;
        // Like the go command, tags on an error page count.
        let imports = vcs::parse_meta_go_imports(&body, true);
        if imports.is_empty() {
            let msg = if status.is_success() {
                format!("unrecognized import path \"{import_path}\": no go-import meta tag found in {url}")
            } else {
                format!("unrecognized import path \"{import_path}\": reading {url}: {status}")
            };
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                FetchError::Transient {
                    upstream: super::NAME.into(),
                    msg,
                }
            } else {
                not_found(msg)
            });
        }
        let page = Page { url, imports };
        let mut pages = self.pages.lock().unwrap();
        if pages.len() > 10_000 {
            pages.retain(|_, (at, _)| at.elapsed() < PAGE_TTL);
        }
        pages.insert(key, (Instant::now(), page.clone()));
        Ok(page)
    }
}

/// The login and password for `host` in `$NETRC` (else `~/.netrc`), read
/// as the go command reads it: `machine`/`login`/`password` pairs on any
/// lines, the first complete entry for a machine winning, `macdef` bodies
/// skipped, nothing after `default`.
fn netrc_credentials(host: &str) -> Option<(String, String)> {
    let path = std::env::var_os("NETRC")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".netrc")))?;
    let data = std::fs::read_to_string(path).ok()?;
    gomod::netrc::parse(&data)
        .into_iter()
        .find(|e| e.machine == host)
        .map(|e| (e.login, e.password))
}

/// The clear refusal of a repository that is not git.
fn unsupported(module_path: &str, vcs: &str, repo: &str) -> FetchError {
    not_found(format!(
        "{module_path}: the repository {repo} uses {vcs}; gomirror's direct mode supports only git (fetch this module through a GOPROXY that serves it)"
    ))
}

/// The body of `resp`, at most `max` bytes (the rest is not read: the tags
/// are in the page's head).
async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![];
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::util::error_chain(&e))?
    {
        let room = max - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(root: &str, repo: &str, subdir: &str) -> RepoRoot {
        RepoRoot {
            root: root.into(),
            vcs: "git".into(),
            repo: repo.into(),
            subdir: subdir.into(),
        }
    }

    /// The cases of cmd/go's newCodeRepo comment, and subdirectories.
    #[test]
    fn module_locations() {
        let loc = |m: &str, r: &RepoRoot| {
            location(m, r).map(|l| (l.code_dir, l.path_major, l.root_is_module))
        };
        let gh = rr("github.com/rsc/foo", "https://github.com/rsc/foo", "");
        assert_eq!(
            loc("github.com/rsc/foo/bar/v2", &gh).unwrap(),
            ("bar".into(), "/v2".into(), false)
        );
        assert_eq!(
            loc("github.com/rsc/foo", &gh).unwrap(),
            ("".into(), "".into(), true)
        );
        assert_eq!(
            loc("github.com/rsc/foo/v3", &gh).unwrap(),
            ("".into(), "/v3".into(), false)
        );
        let mangos = rr(
            "nanomsg.org/go/mangos/v2",
            "https://github.com/nanomsg/mangos",
            "",
        );
        assert_eq!(
            loc("nanomsg.org/go/mangos/v2", &mangos).unwrap(),
            ("".into(), "/v2".into(), true)
        );
        let yaml = rr("gopkg.in/yaml.v2", "https://gopkg.in/yaml.v2", "");
        assert_eq!(
            loc("gopkg.in/yaml.v2", &yaml).unwrap(),
            ("".into(), ".v2".into(), true)
        );
        let sub = rr(
            "github.com/rsc/foo",
            "https://github.com/rsc/foo",
            "bar/subdir",
        );
        assert_eq!(
            loc("github.com/rsc/foo/v2", &sub).unwrap(),
            ("bar/subdir".into(), "/v2".into(), false)
        );
        assert_eq!(
            loc("github.com/rsc/foo/x", &sub).unwrap(),
            ("x/bar/subdir".into(), "".into(), false)
        );
        assert!(loc("github.com/other/foo", &gh).is_err());
        let escape = rr("a.example/r", "https://a.example/r", "../../etc");
        assert!(loc("a.example/r", &escape).is_err());
        // The /vN suffix cannot be the repository root's last element.
        let v2 = rr("github.com/rsc/v2", "https://github.com/rsc/v2", "");
        assert!(loc("github.com/rsc/v2/x/v3", &v2).is_ok());
        let odd = rr("a.example/m/v2/x", "https://a.example/m", "");
        assert!(loc("a.example/m/v2/x", &odd).is_ok());
    }
}
