//! Upstream sources and the chain that tries them, with the go command's
//! `GOPROXY` semantics.
//!
//! A chain entry is a proxy URL (`https://`, `http://`, `file://`), `direct`
//! or `off`. After an entry, `,` means "try the next entry only when this one
//! answered 404 or 410", and `|` means "try the next entry after any error".
//! Content that fails admission (a truncated or corrupted body) always moves
//! on to the next entry: it is this upstream's copy that is bad, not the
//! module that is missing. `direct` and `off` end the list, as for the go
//! command.

use crate::util::error_chain;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How an upstream request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The upstream answered 404 or 410: it does not have this.
    #[error("{upstream}: not found ({status}): {msg}")]
    NotFound {
        upstream: String,
        status: u16,
        msg: String,
    },
    /// A failure worth retrying: connection errors, timeouts, 5xx, 429.
    #[error("{upstream}: {msg}")]
    Transient { upstream: String, msg: String },
    /// Any other failure (e.g. a 403, a redirect loop).
    #[error("{upstream}: {msg}")]
    Failed { upstream: String, msg: String },
}

impl FetchError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound { .. })
    }
}

/// A response body being received from an upstream.
pub struct Body {
    /// The length the upstream declared (`Content-Length`), if any.
    pub declared_len: Option<u64>,
    /// The bytes, as they arrive.
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

/// What a [`Fetch`] source (direct mode) answers for a proxy path.
pub enum DirectAnswer {
    /// The file, built from version control.
    Body(Body),
    /// The module is served by the module proxy at this base URL (a
    /// go-import `mod` tag): ask it.
    Proxy(String),
}

/// The fetcher behind [`Source::Direct`]: answers proxy paths from version
/// control (the server gives its `direct::Direct` to [`ProxyClient::new`]).
#[async_trait::async_trait]
pub trait Fetch: Send + Sync {
    /// Answers the proxy path `rel` (escaped, such as
    /// `github.com/o/r/@v/v1.0.0.zip`), or names the module proxy to ask.
    async fn fetch(&self, rel: &str) -> Result<DirectAnswer, FetchError>;

    /// The HTTP client for the module proxies [`DirectAnswer::Proxy`]
    /// names: those are client-chosen destinations, so this client keeps
    /// to the egress policy ([`crate::egress`]).
    fn proxy_client(&self) -> reqwest::Client;
}

/// How a chain entry hands over to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallthrough {
    /// `,`: only on 404/410 (and on content that fails admission).
    OnNotFound,
    /// `|`: on any error.
    OnAnyError,
}

/// One upstream source.
#[derive(Debug, Clone)]
pub enum Source {
    /// A module proxy reached over HTTP(S).
    Http { base: String },
    /// A module proxy laid out in a local directory (`file://`).
    File {
        root: std::path::PathBuf,
        base: String,
    },
    /// Fetch from version control, through the [`Fetch`] given to the
    /// [`Client`].
    Direct,
    /// `off`: every request fails.
    Off,
}

impl Source {
    /// The name used in logs, metrics and metadata records.
    pub fn name(&self) -> &str {
        match self {
            Source::Http { base } | Source::File { base, .. } => base,
            Source::Direct => "direct",
            Source::Off => "off",
        }
    }
}

/// Why a `GOPROXY` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("invalid GOPROXY entry {0:?}: file:// URLs must hold an absolute path")]
    RelativeFile(String),
    #[error("invalid GOPROXY entry {0:?}: no host")]
    NoHost(String),
    #[error(
        "invalid GOPROXY entry {0:?}: expected an http://, https:// or file:// URL, direct or off"
    )]
    Scheme(String),
    #[error("GOPROXY {0:?} names no upstream (use off to disable fetching)")]
    Empty(String),
}

/// Parsed `GOPROXY` chain.
#[derive(Debug, Clone)]
pub struct Chain {
    pub entries: Vec<(Source, Fallthrough)>,
}

impl Chain {
    /// Parses a `GOPROXY` value with the go command's rules: entries split on
    /// `,` and `|`, blanks skipped, `off` and `direct` end the list, a bare
    /// host gets `https://`. Anything else that is not an `http(s)://` or
    /// `file://` URL is an error naming the entry.
    pub fn parse(goproxy: &str) -> Result<Chain, ChainError> {
        let mut entries = vec![];
        let mut rest = goproxy;
        while !rest.is_empty() {
            let (item, fall) = match rest.find([',', '|']) {
                Some(i) => {
                    let f = if rest.as_bytes()[i] == b'|' {
                        Fallthrough::OnAnyError
                    } else {
                        Fallthrough::OnNotFound
                    };
                    let item = &rest[..i];
                    rest = &rest[i + 1..];
                    (item, f)
                }
                None => {
                    let item = rest;
                    rest = "";
                    (item, Fallthrough::OnNotFound)
                }
            };
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match item {
                "off" => {
                    entries.push((Source::Off, fall));
                    break;
                }
                "direct" => {
                    entries.push((Source::Direct, fall));
                    break;
                }
                _ => {}
            }
            let url =
                if item.contains(['.', ':', '/']) && !item.contains(":/") && !item.starts_with('/')
                {
                    format!("https://{item}")
                } else {
                    item.to_owned()
                };
            let base = url.trim_end_matches('/').to_owned();
            let source = if let Some(path) = base.strip_prefix("file://") {
                if !path.starts_with('/') {
                    return Err(ChainError::RelativeFile(item.to_owned()));
                }
                Source::File {
                    root: std::path::PathBuf::from(path),
                    base,
                }
            } else if let Some(host) = base
                .strip_prefix("https://")
                .or_else(|| base.strip_prefix("http://"))
            {
                if host.is_empty() || host.starts_with('/') {
                    return Err(ChainError::NoHost(item.to_owned()));
                }
                Source::Http { base }
            } else {
                return Err(ChainError::Scheme(item.to_owned()));
            };
            entries.push((source, fall));
        }
        if entries.is_empty() {
            return Err(ChainError::Empty(goproxy.to_owned()));
        }
        Ok(Chain { entries })
    }

    /// The chain to use for a module matched by GONOPROXY/GOPRIVATE: only
    /// `direct` entries (public proxies are never asked for it).
    pub fn private(&self) -> Chain {
        Chain {
            entries: vec![(Source::Direct, Fallthrough::OnNotFound)],
        }
    }
}

/// Timeouts and retry policy for upstream requests.
#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub idle_timeout: Duration,
    pub retries: u32,
    /// Longest one fetch of a file other than a zip may take in all
    /// (queueing, every retry and every upstream of the chain).
    pub total_timeout: Duration,
    /// The same for a `.zip`.
    pub zip_total_timeout: Duration,
    /// Most requests in flight to one upstream (the rest queue).
    pub concurrency: usize,
    /// Most requests in flight to all upstreams together.
    pub concurrency_total: usize,
}

/// Performs upstream requests: HTTP(S) and `file://` module proxies with the
/// policy's timeouts, and `direct` through the given [`Fetch`].
#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    pub policy: Policy,
    /// What answers [`Source::Direct`] (`None`: direct mode is refused).
    direct: Option<Arc<dyn Fetch>>,
}

impl ProxyClient {
    /// Builds the HTTP client (rustls with the ring provider, system roots,
    /// HTTP/2 by ALPN, no automatic decompression; redirects followed only
    /// to the same origin or where `egress` allows). `direct` answers the
    /// `direct` chain entries.
    pub fn new(
        policy: Policy,
        direct: Option<Arc<dyn Fetch>>,
        egress: Arc<crate::egress::Egress>,
    ) -> Result<ProxyClient, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("gomirror/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let from = &attempt.previous()[0];
                if attempt.previous().len() >= 5 {
                    attempt.error("stopped after 5 redirects")
                } else if let Err(r) = egress.upstream_redirect(from, attempt.url()) {
                    attempt.error(r)
                } else {
                    attempt.follow()
                }
            }))
            .build()?;
        Ok(ProxyClient {
            http,
            policy,
            direct,
        })
    }

    /// Requests `rel` (an escaped proxy path such as
    /// `example.com/!m/@v/v1.0.0.zip`) from `source`, once, without retries.
    /// A successful answer is a 200 whose body is still to be received.
    pub async fn get(&self, source: &Source, rel: &str) -> Result<Body, FetchError> {
        let upstream = source.name().to_owned();
        match source {
            // A mirror whose chain ends in `off` serves only what it has:
            // anything else is not found here (404, so that a client's
            // GOPROXY list falls through to its next entry).
            Source::Off => Err(FetchError::NotFound {
                upstream,
                status: 404,
                msg: "module lookup disabled by GOPROXY=off: this mirror serves only what it has"
                    .into(),
            }),
            Source::Direct => {
                let Some(direct) = &self.direct else {
                    return Err(FetchError::Failed {
                        upstream,
                        msg: "direct mode is not available here (no version control fetcher configured)".into(),
                    });
                };
                match direct.fetch(rel).await? {
                    DirectAnswer::Body(b) => Ok(b),
                    DirectAnswer::Proxy(base) => {
                        self.get_http(&direct.proxy_client(), &base, rel).await
                    }
                }
            }
            Source::File { root, .. } => {
                let path = root.join(rel);
                match tokio::fs::File::open(&path).await {
                    Ok(f) => {
                        let len = f.metadata().await.ok().map(|m| m.len());
                        let stream = tokio_util_stream(f);
                        Ok(Body {
                            declared_len: len,
                            stream,
                        })
                    }
                    Err(e)
                        if e.kind() == std::io::ErrorKind::NotFound
                            || e.kind() == std::io::ErrorKind::NotADirectory =>
                    {
                        Err(FetchError::NotFound {
                            upstream,
                            status: 404,
                            msg: format!("{rel}: not found"),
                        })
                    }
                    Err(e) => Err(FetchError::Failed {
                        upstream,
                        msg: format!("{}: {e}", path.display()),
                    }),
                }
            }
            Source::Http { base } => self.get_http(&self.http, base, rel).await,
        }
    }

    /// Requests `rel` from the module proxy at `base` with `http`. The
    /// upstream's error bodies are logged, never passed on: a client sees
    /// only the status line.
    async fn get_http(
        &self,
        http: &reqwest::Client,
        base: &str,
        rel: &str,
    ) -> Result<Body, FetchError> {
        let upstream = base.to_owned();
        let url = format!("{base}/{rel}");
        // The trace goes on at the upstream (W3C `traceparent`).
        let mut headers = http::HeaderMap::new();
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let cx = tracing::Span::current().context();
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(&cx, &mut opentelemetry_http::HeaderInjector(&mut headers))
            });
        }
        let send = http.get(&url).headers(headers).send();
        let resp = match tokio::time::timeout(self.policy.first_byte_timeout, send).await {
            Err(_) => {
                return Err(FetchError::Transient {
                    upstream,
                    msg: format!(
                        "GET {url}: no response within {:?}",
                        self.policy.first_byte_timeout
                    ),
                })
            }
            Ok(Err(e)) => {
                // A destination the egress policy refuses: not retried.
                match crate::egress::refusal_in(&e) {
                    Some(r @ crate::egress::Refused::Redirect { .. }) => {
                        return Err(FetchError::Failed {
                            upstream,
                            msg: format!("GET {url}: {r}"),
                        })
                    }
                    Some(r) => {
                        return Err(FetchError::NotFound {
                            upstream,
                            status: 404,
                            msg: r.to_string(),
                        })
                    }
                    None => {}
                }
                return Err(FetchError::Transient {
                    upstream,
                    msg: format!("GET {url}: {}", error_chain(&e)),
                });
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let resp = if status != reqwest::StatusCode::OK {
            // The body is the upstream's text: logged for the operator,
            // never relayed (a client-chosen upstream could make it say
            // anything, or carry what it fetched).
            let text = read_short_text(resp).await;
            if !text.is_empty() {
                tracing::info!(%upstream, %status, body = %text.escape_debug(), "upstream error answer");
            }
            None
        } else {
            Some(resp)
        };
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Err(FetchError::NotFound {
                upstream,
                status: status.as_u16(),
                msg: format!("GET {url}"),
            });
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(FetchError::Transient {
                upstream,
                msg: format!("GET {url}: {status}"),
            });
        }
        let Some(resp) = resp else {
            return Err(FetchError::Failed {
                upstream,
                msg: format!("GET {url}: {status}"),
            });
        };
        let declared_len = resp.content_length();
        let stream = resp
            .bytes_stream()
            .map(|r| r.map_err(|e| std::io::Error::other(error_chain(&e))))
            .boxed();
        Ok(Body {
            declared_len,
            stream,
        })
    }
}

/// First line of an error body, at most 200 characters, for messages.
async fn read_short_text(resp: reqwest::Response) -> String {
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= 1024 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

fn tokio_util_stream(f: tokio::fs::File) -> BoxStream<'static, std::io::Result<Bytes>> {
    futures_util::stream::unfold(f, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
    .boxed()
}

pub use crate::util::backoff;

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &Chain) -> Vec<(String, Fallthrough)> {
        c.entries
            .iter()
            .map(|(s, f)| (s.name().to_owned(), *f))
            .collect()
    }

    #[test]
    fn parse_goproxy_like_the_go_command() {
        use Fallthrough::*;
        let c =
            Chain::parse("https://a.example,proxy.example|file:///srv/p ,direct,https://ignored")
                .unwrap();
        assert_eq!(
            names(&c),
            vec![
                ("https://a.example".into(), OnNotFound),
                ("https://proxy.example".into(), OnAnyError),
                ("file:///srv/p".into(), OnNotFound),
                ("direct".into(), OnNotFound),
            ]
        );
        assert_eq!(
            names(&Chain::parse("off").unwrap()),
            vec![("off".into(), OnNotFound)]
        );
        assert_eq!(
            names(&Chain::parse(" , http://x/ ").unwrap()),
            vec![("http://x".into(), OnNotFound)]
        );
        for bad in ["", " , ", "ftp://x", "file://relative", "bogus", "https://"] {
            assert!(Chain::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn backoff_is_bounded() {
        for a in 1..20 {
            let d = backoff(a);
            assert!(
                d <= Duration::from_secs(2) && d >= Duration::from_millis(50),
                "{d:?}"
            );
        }
    }
}
