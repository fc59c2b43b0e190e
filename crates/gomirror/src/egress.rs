//! Where the mirror may connect on a client's behalf.
//!
//! In direct mode a client chooses the destination: the module path names
//! the host of the go-import discovery page, and that page's tags name
//! repositories and module proxies anywhere. Such a client-chosen
//! destination is refused when it is (or resolves to) an internal address
//! — loopback, private (RFC 1918, RFC 4193), link-local, CGNAT, multicast,
//! unspecified, reserved — unless the operator allows it:
//!
//! * `GOMIRROR_DIRECT_ALLOW`: host globs (`*.corp.example`) and CIDRs
//!   (`10.1.0.0/16`) direct mode may contact even when internal (the
//!   operator's own git servers);
//! * `GOMIRROR_DIRECT_HOSTS`: when set, direct mode contacts only hosts
//!   matching these globs (everything else is refused before any lookup);
//! * `GOMIRROR_DIRECT_RESOLVE`: fixed addresses for names
//!   (`git.corp.example=10.1.2.3`, or `=10.1.2.3:8443` to change the port
//!   too, like curl's `--connect-to`), used instead of DNS for direct
//!   mode's connections (git's too, whose port stays the URL's). They
//!   are checked like resolved ones.
//!
//! The check happens on the resolved addresses at connect time — the HTTP
//! clients resolve through [`Egress`], and git gets the checked addresses
//! pinned (`http.curloptResolve`) — so a name that resolves to a public
//! address when checked and to an internal one when used (DNS rebinding)
//! cannot get through. IP literals are checked before any request, and
//! every redirect target is checked again. The hosts of the proxies named
//! by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` are the operator's and are not
//! filtered (through a proxy, the proxy resolves the destination).
//!
//! Operator-configured upstreams (`GOPROXY` URLs, `GOSUMDB`) are trusted;
//! their redirects are followed only to the same origin, or to hosts
//! matching `GOMIRROR_UPSTREAM_REDIRECT_ALLOW`.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why a destination is refused. Its text is for clients: it names the
/// host the client chose but never the address a name resolved to.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refused {
    /// `GOMIRROR_DIRECT_HOSTS` does not list the host.
    #[error("{host}: direct mode is limited to the hosts in GOMIRROR_DIRECT_HOSTS")]
    NotListed { host: String },
    /// The host is, or resolves only to, internal addresses.
    #[error(
        "{host}: refused: it {} an internal address, which direct mode does not contact (GOMIRROR_DIRECT_ALLOW lists exceptions)",
        if *.literal { "is" } else { "resolves only to" }
    )]
    Internal {
        host: String,
        literal: bool,
        /// What kind of address it was (for logs and metrics).
        kind: &'static str,
    },
    /// A URL scheme direct mode does not use for client-chosen hosts.
    #[error("{url}: refused: direct mode contacts client-chosen hosts only over http(s) (GOMIRROR_DIRECT_ALLOW lists exceptions)")]
    Scheme { url: String },
    /// An upstream redirected to another origin.
    #[error("redirect from {from} to another origin ({to}) refused (GOMIRROR_UPSTREAM_REDIRECT_ALLOW lists allowed hosts)")]
    Redirect { from: String, to: String },
}

impl Refused {
    /// The reason, as a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::NotListed { .. } => "not_listed",
            Refused::Internal { kind, .. } => kind,
            Refused::Scheme { .. } => "scheme",
            Refused::Redirect { .. } => "redirect",
        }
    }
}

/// The kind of internal address `ip` is, or `None` for a public one.
/// IPv4 addresses embedded in IPv6 ones (mapped, compatible, NAT64, 6to4)
/// are judged as the IPv4 address they reach.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return v4_kind(v4);
            }
            let s = v6.segments();
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private")
            } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
                Some("link_local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 || s[0] == 0x0100 && s[1..4] == [0; 3] {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

fn v4_kind(v4: Ipv4Addr) -> Option<&'static str> {
    let o = v4.octets();
    if v4.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link_local")
    } else if o[0] == 100 && o[1] & 0xc0 == 64 {
        Some("cgnat")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if v4.is_broadcast() || o[0] >= 240 {
        Some("reserved")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 || o[0] == 198 && o[1] & 0xfe == 18 {
        // IETF protocol assignments, benchmarking networks.
        Some("reserved")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one reaches, for the forms that embed one:
/// mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1))
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4])
    {
        Some(tail())
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// A `GOMIRROR_DIRECT_*` value that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {msg}")]
pub struct ConfigError {
    var: &'static str,
    msg: String,
}

/// The operator's settings for client-chosen destinations (see the module
/// documentation).
#[derive(Debug, Clone, Default)]
pub struct EgressConfig {
    /// `GOMIRROR_DIRECT_ALLOW`.
    pub allow: String,
    /// `GOMIRROR_DIRECT_HOSTS` (empty: any host).
    pub hosts: String,
    /// `GOMIRROR_DIRECT_RESOLVE`.
    pub resolve: String,
    /// `GOMIRROR_UPSTREAM_REDIRECT_ALLOW`.
    pub redirect_allow: String,
}

/// Decides where direct mode may connect (see the module documentation).
#[derive(Debug, Default)]
pub struct Egress {
    allow_hosts: String,
    allow_nets: Vec<IpNet>,
    only_hosts: Option<String>,
    fixed: HashMap<String, Vec<SocketAddr>>,
    redirect_allow: String,
    /// Hosts of the proxies from the environment.
    proxies: Vec<String>,
}

impl Egress {
    /// Parses the settings; a malformed entry is an error naming its
    /// variable.
    pub fn new(cfg: &EgressConfig) -> Result<Egress, ConfigError> {
        let mut allow_hosts = vec![];
        let mut allow_nets = vec![];
        for e in entries(&cfg.allow) {
            if let Ok(net) = e.parse::<IpNet>() {
                allow_nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                allow_nets.push(IpNet::from(ip));
            } else if e.contains('/') {
                return Err(ConfigError {
                    var: "GOMIRROR_DIRECT_ALLOW",
                    msg: format!("{e:?} is neither a host glob nor a CIDR"),
                });
            } else {
                allow_hosts.push(e.to_ascii_lowercase());
            }
        }
        let allow_hosts = allow_hosts.join(",");
        for (var, v) in [
            ("GOMIRROR_DIRECT_ALLOW", &allow_hosts),
            ("GOMIRROR_DIRECT_HOSTS", &cfg.hosts),
            ("GOMIRROR_UPSTREAM_REDIRECT_ALLOW", &cfg.redirect_allow),
        ] {
            if v.contains('/') && var != "GOMIRROR_DIRECT_ALLOW" {
                return Err(ConfigError {
                    var,
                    msg: format!("{v:?}: expected host globs (no paths)"),
                });
            }
            gomod::glob::check_patterns(v).map_err(|msg| ConfigError { var, msg })?;
        }
        let mut fixed: HashMap<String, Vec<SocketAddr>> = HashMap::new();
        for e in entries(&cfg.resolve) {
            let bad = || ConfigError {
                var: "GOMIRROR_DIRECT_RESOLVE",
                msg: format!("{e:?}: expected host=address or host=address:port"),
            };
            let (host, addr) = e.split_once('=').ok_or_else(bad)?;
            let addr = match addr.parse::<SocketAddr>() {
                Ok(sa) if sa.port() != 0 => sa,
                Ok(_) => return Err(bad()),
                Err(_) => SocketAddr::new(
                    addr.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .map_err(|_| bad())?,
                    0,
                ),
            };
            if host.is_empty() {
                return Err(bad());
            }
            fixed
                .entry(host.to_ascii_lowercase())
                .or_default()
                .push(addr);
        }
        let proxies = [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter_map(|v| {
            let v = if v.contains("://") {
                v
            } else {
                format!("http://{v}")
            };
            reqwest::Url::parse(&v).ok()?.host_str().map(str::to_owned)
        })
        .collect();
        Ok(Egress {
            allow_hosts,
            allow_nets,
            only_hosts: Some(cfg.hosts.trim().to_owned()).filter(|h| !h.is_empty()),
            fixed,
            redirect_allow: cfg.redirect_allow.clone(),
            proxies,
        })
    }

    /// Whether the operator allows `host` by name (`GOMIRROR_DIRECT_ALLOW`).
    fn host_allowed(&self, host: &str) -> bool {
        gomod::glob::match_prefix_patterns(&self.allow_hosts, &host.to_ascii_lowercase())
    }

    /// Whether `ip` may be contacted for `host`: a public address, or one
    /// the operator allows (by CIDR, or by allowing the host itself).
    fn addr_allowed(&self, host: &str, ip: IpAddr) -> Result<(), &'static str> {
        match internal_kind(ip) {
            None => Ok(()),
            Some(_) if self.allow_nets.iter().any(|n| n.contains(&ip)) => Ok(()),
            Some(_) if self.host_allowed(host) => Ok(()),
            Some(kind) => Err(kind),
        }
    }

    /// Checks a host by name and, for an IP literal, by address: the
    /// `GOMIRROR_DIRECT_HOSTS` restriction and the internal-address rule.
    /// A name's addresses are checked when it is resolved.
    pub fn check_host(&self, host: &str) -> Result<(), Refused> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(only) = &self.only_hosts {
            if !gomod::glob::match_prefix_patterns(only, &bare.to_ascii_lowercase()) {
                return Err(Refused::NotListed {
                    host: bare.to_owned(),
                });
            }
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.addr_allowed(bare, ip)
                .map_err(|kind| Refused::Internal {
                    host: bare.to_owned(),
                    literal: true,
                    kind,
                })?;
        }
        Ok(())
    }

    /// Checks a URL direct mode is about to request: http(s) only, and its
    /// host as [`Egress::check_host`] does.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        let Some(host) = url.host_str() else {
            return Err(Refused::Scheme {
                url: url.to_string(),
            });
        };
        if !matches!(url.scheme(), "http" | "https") && !self.host_allowed(host) {
            return Err(Refused::Scheme {
                url: url.to_string(),
            });
        }
        self.check_host(host)
    }

    /// The addresses of `host` direct mode may connect to: resolved (or
    /// fixed by `GOMIRROR_DIRECT_RESOLVE`), then filtered. Refused when
    /// every address is internal and not allowed. Port 0 means the URL's.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.check_host(&host)?;
            return Ok(vec![SocketAddr::new(ip, 0)]);
        }
        let proxy = self.proxies.iter().any(|p| p.eq_ignore_ascii_case(&host));
        if !proxy {
            self.check_host(&host)?;
        }
        let found: Vec<SocketAddr> = match self.fixed.get(&host) {
            Some(addrs) => addrs.clone(),
            None => tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| ResolveError::Lookup {
                    host: host.clone(),
                    msg: e.to_string(),
                })?
                .collect(),
        };
        if proxy {
            return Ok(found);
        }
        let mut refused = None;
        let ok: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.addr_allowed(&host, a.ip()) {
                Ok(()) => true,
                Err(kind) => {
                    refused.get_or_insert(kind);
                    false
                }
            })
            .collect();
        match (ok.is_empty(), refused) {
            (true, Some(kind)) => Err(Refused::Internal {
                host,
                literal: false,
                kind,
            }
            .into()),
            (true, None) => Err(ResolveError::Lookup {
                host,
                msg: "no addresses".into(),
            }),
            (false, _) => Ok(ok),
        }
    }

    /// Whether an upstream's redirect from `from` to `to` is followed: to
    /// the same origin (scheme, host, port), or to a host the operator
    /// allows (`GOMIRROR_UPSTREAM_REDIRECT_ALLOW`).
    pub fn upstream_redirect(&self, from: &reqwest::Url, to: &reqwest::Url) -> Result<(), Refused> {
        let same = from.scheme() == to.scheme()
            && from.host_str() == to.host_str()
            && from.port_or_known_default() == to.port_or_known_default();
        let allowed = to.host_str().is_some_and(|h| {
            matches!(to.scheme(), "http" | "https")
                && gomod::glob::match_prefix_patterns(&self.redirect_allow, &h.to_ascii_lowercase())
        });
        if same || allowed {
            Ok(())
        } else {
            Err(Refused::Redirect {
                from: origin(from),
                to: origin(to),
            })
        }
    }

    /// The HTTP client resolver that applies this policy at connect time.
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }
}

/// `scheme://host[:port]` of a URL, for messages.
pub fn origin(u: &reqwest::Url) -> String {
    u.origin().ascii_serialization()
}

fn entries(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// A failed resolution: refused by the policy, or the lookup failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Refused(#[from] Refused),
    #[error("{host}: cannot resolve: {msg}")]
    Lookup { host: String, msg: String },
}

/// The [`Refused`] somewhere in an error's chain of causes (a refusal by
/// the resolver reaches callers wrapped in the HTTP client's errors).
pub fn refusal_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r);
        }
        if let Some(ResolveError::Refused(r)) = err.downcast_ref::<ResolveError>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// Resolves names for an HTTP client through an [`Egress`], so its
/// connections go only to addresses the policy allows.
pub struct GuardedResolver(Arc<Egress>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = egress.resolve(&host).await?;
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for (a, kind) in [
            ("127.0.0.2", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link_local"),
            ("100.64.0.1", "cgnat"),
            ("100.127.255.254", "cgnat"),
            ("224.0.0.1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private"),
            ("fe80::1", "link_local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link_local"),
            ("2002:7f00:1::", "loopback"),
        ] {
            assert_eq!(internal_kind(ip(a)), Some(kind), "{a}");
        }
        for a in [
            "8.8.8.8",
            "100.128.0.1",
            "100.63.255.255",
            "172.32.0.1",
            "2607:f8b0::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(internal_kind(ip(a)), None, "{a}");
        }
    }

    fn egress(allow: &str, hosts: &str, resolve: &str) -> Egress {
        Egress::new(&EgressConfig {
            allow: allow.into(),
            hosts: hosts.into(),
            resolve: resolve.into(),
            redirect_allow: "cdn.example".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn names_and_literals_are_checked_on_their_addresses() {
        let e = egress(
            "*.corp.example,192.168.7.0/24",
            "",
            "internal.test=127.0.0.2,git.corp.example=10.0.0.5:8443,mixed.test=10.0.0.1,mixed.test=8.8.8.8,lab.test=192.168.7.9",
        );
        let r = e.resolve("internal.test").await.unwrap_err();
        assert!(
            matches!(
                &r,
                ResolveError::Refused(Refused::Internal {
                    kind: "loopback",
                    literal: false,
                    ..
                })
            ),
            "{r:?}"
        );
        // The client learns the host it chose, never the address.
        assert!(!r.to_string().contains("127.0.0.2"), "{r}");
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            e.resolve("git.corp.example").await.unwrap(),
            [sa("10.0.0.5:8443")]
        );
        assert_eq!(e.resolve("mixed.test").await.unwrap(), [sa("8.8.8.8:0")]);
        assert_eq!(e.resolve("lab.test").await.unwrap(), [sa("192.168.7.9:0")]);
        assert!(e.check_host("127.0.0.2").is_err());
        assert!(e.check_host("[::1]").is_err());
        assert!(e.check_host("192.168.7.1").is_ok());
        assert!(e.check_host("8.8.8.8").is_ok());
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(e.check_url(&u("http://169.254.169.254/latest")).is_err());
        assert!(e.check_url(&u("ssh://git@example.com/x")).is_err());
        assert!(e.check_url(&u("ssh://git@a.corp.example/x")).is_ok());
        assert!(e.check_url(&u("https://example.com/x")).is_ok());
    }

    #[tokio::test]
    async fn direct_hosts_restrict_every_destination() {
        let e = egress("", "github.com,*.corp.example", "x.corp.example=8.8.4.4");
        assert!(matches!(
            e.check_host("example.com"),
            Err(Refused::NotListed { .. })
        ));
        assert!(e.check_host("github.com").is_ok());
        assert!(matches!(
            e.resolve("8.8.8.8").await,
            Err(ResolveError::Refused(Refused::NotListed { .. }))
        ));
        assert_eq!(
            e.resolve("x.corp.example").await.unwrap(),
            ["8.8.4.4:0".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn upstream_redirects_stay_on_their_origin() {
        let e = egress("", "", "");
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        let from = u("https://proxy.example/m/@v/v1.0.0.zip");
        assert!(e
            .upstream_redirect(&from, &u("https://proxy.example/blob/1"))
            .is_ok());
        assert!(e
            .upstream_redirect(&from, &u("https://proxy.example:443/b"))
            .is_ok());
        assert!(e
            .upstream_redirect(&from, &u("http://proxy.example/b"))
            .is_err());
        assert!(e
            .upstream_redirect(&from, &u("https://proxy.example:8443/b"))
            .is_err());
        assert!(e
            .upstream_redirect(&from, &u("http://127.0.0.1/secret"))
            .is_err());
        assert!(e
            .upstream_redirect(&from, &u("https://cdn.example/b"))
            .is_ok());
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        for (cfg, var) in [
            (
                EgressConfig {
                    allow: "10.0.0.0/33".into(),
                    ..Default::default()
                },
                "GOMIRROR_DIRECT_ALLOW",
            ),
            (
                EgressConfig {
                    resolve: "host".into(),
                    ..Default::default()
                },
                "GOMIRROR_DIRECT_RESOLVE",
            ),
            (
                EgressConfig {
                    resolve: "host=not-an-ip".into(),
                    ..Default::default()
                },
                "GOMIRROR_DIRECT_RESOLVE",
            ),
            (
                EgressConfig {
                    hosts: "a.example/path".into(),
                    ..Default::default()
                },
                "GOMIRROR_DIRECT_HOSTS",
            ),
        ] {
            let e = Egress::new(&cfg).unwrap_err();
            assert!(e.to_string().starts_with(var), "{e}");
        }
    }
}
