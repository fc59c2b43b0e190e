//! Git remotes are client-chosen destinations too (a go-import tag names
//! them): before git contacts one, its host goes through the egress policy
//! ([`crate::egress`]) and the addresses that passed are pinned for git
//! (`http.curloptResolve`), so git connects where the check said — a name
//! that resolves elsewhere a moment later (DNS rebinding) changes nothing.
//! git does not follow redirects for these fetches. A remote rewritten by
//! the operator's own git configuration (`url.<base>.insteadOf`) is the
//! operator's choice and is not filtered by address.

use super::{failed, Direct};
use crate::egress::{Refused, ResolveError};
use crate::upstream::FetchError;
use std::net::IpAddr;
use std::path::Path;

/// Whether git would go through a proxy for http(s) (then the proxy
/// resolves the remote's name, not this process).
fn git_proxy_configured() -> bool {
    [
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The `-c` options that pin `host:port` to `addrs` for git's HTTP
/// transport, and keep it from following redirects.
fn pin_options(host: &str, port: u16, addrs: &[IpAddr]) -> Vec<String> {
    let list = addrs
        .iter()
        .map(|a| match a {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        })
        .collect::<Vec<_>>()
        .join(",");
    vec![
        "-c".into(),
        format!("http.curloptResolve={host}:{port}:{list}"),
        "-c".into(),
        "http.followRedirects=false".into(),
    ]
}

impl Direct {
    /// The git options under which fetching `url` (the origin of the
    /// repository `dir`) keeps to the egress policy; a refusal is a 404
    /// naming the reason.
    pub(super) async fn remote_pin(
        &self,
        dir: &Path,
        url: &str,
    ) -> Result<Vec<String>, FetchError> {
        let egress = &self.opts.egress;
        let out = self
            .git_raw(
                Some(dir),
                &[
                    "ls-remote".as_ref(),
                    "--get-url".as_ref(),
                    "origin".as_ref(),
                ],
            )
            .await?;
        let effective = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || effective.is_empty() {
            return Err(failed(format!(
                "reading the remote of {}: {}",
                super::redact_url(url),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| u.host_str().is_some());
        let Some(parsed) = parsed else {
            // scp-like `user@host:path` and the like: not http(s).
            return Err(self.refused(&Refused::Scheme {
                url: super::redact_url(url),
            }));
        };
        let host = parsed.host_str().expect("checked").to_owned();
        egress.check_host(&host).map_err(|r| self.refused(&r))?;
        if effective != url {
            // The operator's git configuration rewrote it.
            return Ok(vec![]);
        }
        egress.check_url(&parsed).map_err(|r| self.refused(&r))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            // A host the operator allows over ssh or git://.
            return Ok(vec![]);
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        match egress.resolve(&host).await {
            // An IP literal, already checked: nothing to pin.
            Ok(_)
                if host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok() =>
            {
                Ok(vec!["-c".into(), "http.followRedirects=false".into()])
            }
            Ok(addrs) => Ok(pin_options(
                host.trim_start_matches('[').trim_end_matches(']'),
                port,
                &addrs.iter().map(|a| a.ip()).collect::<Vec<_>>(),
            )),
            Err(ResolveError::Refused(r)) => Err(self.refused(&r)),
            // Through a proxy, the proxy resolves the name.
            Err(ResolveError::Lookup { .. }) if git_proxy_configured() => {
                Ok(vec!["-c".into(), "http.followRedirects=false".into()])
            }
            Err(e @ ResolveError::Lookup { .. }) => Err(FetchError::Transient {
                upstream: super::NAME.into(),
                msg: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_name_both_families() {
        let o = pin_options(
            "git.example",
            443,
            &["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        );
        assert_eq!(
            o,
            [
                "-c",
                "http.curloptResolve=git.example:443:192.0.2.1,[2001:db8::1]",
                "-c",
                "http.followRedirects=false"
            ]
        );
    }
}
