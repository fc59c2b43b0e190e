//! What to do: the module version, the proxies to check and the checksum
//! database to compare with, from the arguments and the environment.

use super::DoctorArgs;
use crate::sumdb::{self, DbConfig};
use crate::upstream::{Chain, Source};
use crate::util::error_chain;
use std::time::Duration;

/// Proxies always checked when no `--proxy` is given (besides GOPROXY's).
const PUBLIC_PROXIES: [&str; 2] = ["https://proxy.golang.org", "https://goproxy.cn"];

/// The checksum database to ask, or why none is asked.
pub(super) enum DbPlan {
    Off,
    Skipped(String),
    Db(DbConfig),
}

pub(super) struct Plan {
    pub(super) module: String,
    pub(super) version: String,
    pub(super) proxies: Vec<String>,
    pub(super) warnings: Vec<String>,
    pub(super) db: DbPlan,
    pub(super) timeout: Duration,
    pub(super) cacert: Vec<reqwest::Certificate>,
}

impl Plan {
    pub(super) fn new(args: &DoctorArgs) -> Result<Plan, String> {
        let (module, version) = args
            .module
            .split_once('@')
            .ok_or_else(|| format!("{:?}: expected <module path>@<version>", args.module))?;
        gomod::module::check(module, version).map_err(|e| e.to_string())?;
        let mut warnings = vec![];
        let proxies = if args.proxy.is_empty() {
            let goproxy = env_nonempty("GOPROXY");
            let (list, warn) = default_proxies(goproxy.as_deref());
            warnings.extend(warn);
            list
        } else {
            let mut out: Vec<String> = vec![];
            for p in &args.proxy {
                for base in parse_proxy_arg(p)? {
                    if !out.contains(&base) {
                        out.push(base);
                    }
                }
            }
            out
        };
        let gosumdb = match &args.gosumdb {
            Some(v) => v.clone(),
            None => env_nonempty("GOSUMDB").unwrap_or_else(|| "sum.golang.org".to_owned()),
        };
        let db = match sumdb::parse_gosumdb(&gosumdb).map_err(|e| format!("--gosumdb: {e}"))? {
            None => DbPlan::Off,
            Some(cfg) => {
                let nosumdb = env_nonempty("GONOSUMDB")
                    .or_else(|| env_nonempty("GOPRIVATE"))
                    .unwrap_or_default();
                if !nosumdb.is_empty() && gomod::glob::match_prefix_patterns(&nosumdb, module) {
                    DbPlan::Skipped(format!("{module} matches GONOSUMDB/GOPRIVATE ({nosumdb})"))
                } else {
                    DbPlan::Db(cfg)
                }
            }
        };
        let cacert = match &args.cacert {
            None => vec![],
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| format!("--cacert {}: {e}", path.display()))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("--cacert {}: {}", path.display(), error_chain(&e)))?;
                if certs.is_empty() {
                    return Err(format!(
                        "--cacert {}: no PEM certificate in it",
                        path.display()
                    ));
                }
                certs
            }
        };
        if args.timeout.is_zero() {
            return Err("--timeout must be more than 0s".into());
        }
        Ok(Plan {
            module: module.to_owned(),
            version: version.to_owned(),
            proxies,
            warnings,
            db,
            timeout: args.timeout,
            cacert,
        })
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The http(s) proxies of a `--proxy` value (GOPROXY syntax).
fn parse_proxy_arg(value: &str) -> Result<Vec<String>, String> {
    let chain = Chain::parse(value).map_err(|e| format!("--proxy {value:?}: {e}"))?;
    let mut out = vec![];
    for (source, _) in chain.entries {
        match source {
            Source::Http { base } => out.push(base),
            other => {
                return Err(format!(
                    "--proxy {value:?}: {} is not an http:// or https:// proxy",
                    other.name()
                ))
            }
        }
    }
    Ok(out)
}

/// The proxies checked by default: GOPROXY's http(s) entries (GOPROXY
/// unset means the go command's default), then the public ones, without
/// duplicates. Also returns a warning when GOPROXY cannot be parsed.
fn default_proxies(goproxy: Option<&str>) -> (Vec<String>, Option<String>) {
    let goproxy = goproxy.unwrap_or("https://proxy.golang.org,direct");
    let mut out: Vec<String> = vec![];
    let mut warning = None;
    match Chain::parse(goproxy) {
        Ok(chain) => {
            for (source, _) in chain.entries {
                if let Source::Http { base } = source {
                    if !out.contains(&base) {
                        out.push(base);
                    }
                }
            }
        }
        Err(e) => warning = Some(format!("ignoring GOPROXY: {e}")),
    }
    for p in PUBLIC_PROXIES {
        if !out.iter().any(|b| b == p) {
            out.push(p.to_owned());
        }
    }
    (out, warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_proxies_come_from_goproxy_then_public_ones() {
        let (l, w) = default_proxies(None);
        assert_eq!(l, ["https://proxy.golang.org", "https://goproxy.cn"]);
        assert!(w.is_none());
        let (l, _) = default_proxies(Some("http://127.0.0.1:1/,goproxy.cn|direct"));
        assert_eq!(
            l,
            [
                "http://127.0.0.1:1",
                "https://goproxy.cn",
                "https://proxy.golang.org"
            ]
        );
        let (l, w) = default_proxies(Some("ftp://x"));
        assert_eq!(l, ["https://proxy.golang.org", "https://goproxy.cn"]);
        assert!(w.unwrap().contains("GOPROXY"));
        assert_eq!(
            parse_proxy_arg("https://a.example/,https://b.example").unwrap(),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_proxy_arg("direct").is_err());
        assert!(parse_proxy_arg("file:///tmp/x").is_err());
    }
}
