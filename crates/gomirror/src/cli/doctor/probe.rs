//! Fetching one file as curl -v would show it: redirects followed and
//! recorded, the connection's TLS facts, the headers, time to first byte,
//! the body streamed by hand (so what arrived before a break is known), and
//! the error's whole source chain, where an HTTP/2 reset shows.

use super::plan::Plan;
use super::report::{Fetch, H2Error, Hop, TlsFacts};
use super::{human_bytes, ms};
use crate::protocol::FileKind;
use crate::util::error_chain;
use sha2::Digest as _;
use std::time::{Duration, Instant};

/// Redirects followed per request (as the go command: 10).
const MAX_REDIRECTS: usize = 10;

impl H2Error {
    pub(super) fn describe(&self) -> String {
        let who = match self.by {
            "server" => "from the server",
            "client" => "sent by the client",
            _ => "detected by the client",
        };
        match (self.frame, self.stream_id) {
            ("RST_STREAM", Some(id)) => format!(
                "HTTP/2 RST_STREAM {who}: {} (stream error: stream ID {id}; {})",
                self.reason, self.reason
            ),
            ("protocol", _) => format!("HTTP/2 protocol error: {}", self.reason),
            (frame, _) => format!("HTTP/2 {frame} {who}: {}", self.reason),
        }
    }
}

pub(super) fn http_client(plan: &Plan) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(plan.timeout)
        .tls_info(true)
        .user_agent(concat!("gomirror-doctor/", env!("CARGO_PKG_VERSION")));
    if !plan.cacert.is_empty() {
        b = b.tls_certs_merge(plan.cacert.iter().cloned());
    }
    Ok(b.build()?)
}

fn version_name(v: reqwest::Version) -> String {
    match v {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_11 => "HTTP/1.1",
        reqwest::Version::HTTP_2 => "HTTP/2",
        reqwest::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
    .to_owned()
}

/// GETs `url`, following redirects, streaming the body by hand.
pub(super) async fn fetch(
    client: &reqwest::Client,
    url: &str,
    kind: FileKind,
    timeout: Duration,
) -> Fetch {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut f = Fetch {
        url: url.to_owned(),
        ..Default::default()
    };
    let mut current = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            f.error = Some(format!("invalid URL {url}: {e}"));
            return f;
        }
    };
    let (mut resp, sent) = loop {
        let sent = Instant::now();
        let r = match tokio::time::timeout_at(deadline, client.get(current.clone()).send()).await {
            Err(_) => {
                f.timed_out = true;
                f.error = Some(format!(
                    "no response within {} (--timeout)",
                    humantime::format_duration(timeout)
                ));
                f.total_ms = ms(start.elapsed());
                return f;
            }
            Ok(Err(e)) => {
                f.set_error(&e);
                f.total_ms = ms(start.elapsed());
                return f;
            }
            Ok(Ok(r)) => r,
        };
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(loc) if r.status().is_redirection() && f.redirects.len() < MAX_REDIRECTS => {
                let next = match current.join(&loc) {
                    Ok(u) => u,
                    Err(e) => {
                        f.record_response(&r, sent);
                        f.error = Some(format!("bad redirect Location {loc:?}: {e}"));
                        f.total_ms = ms(start.elapsed());
                        return f;
                    }
                };
                f.redirects.push(Hop {
                    url: current.to_string(),
                    status: r.status().as_u16(),
                    http_version: version_name(r.version()),
                    location: next.to_string(),
                });
                current = next;
            }
            _ => break (r, sent),
        }
    };
    f.record_response(&resp, sent);
    let ok = resp.status() == reqwest::StatusCode::OK;
    // A non-200 body is only read for its explanation.
    let limit = if ok {
        crate::admit::max_size(kind)
    } else {
        64 << 10
    };
    let body_start = Instant::now();
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Err(_) => {
                f.timed_out = true;
                f.error = Some(format!(
                    "the body did not finish within {} (--timeout)",
                    humantime::format_duration(timeout)
                ));
                break;
            }
            Ok(Ok(Some(chunk))) => {
                if (body.len() + chunk.len()) as u64 > limit {
                    let take = (limit as usize).saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..take]);
                    if ok {
                        f.too_large = true;
                        f.error = Some(format!(
                            "body larger than the go command's limit of {}",
                            human_bytes(limit)
                        ));
                    }
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => {
                f.complete = true;
                break;
            }
            Ok(Err(e)) => {
                f.set_error(&e);
                break;
            }
        }
    }
    let body_time = body_start.elapsed();
    f.total_ms = ms(start.elapsed());
    f.body_ms = Some(ms(body_time));
    f.bytes_received = body.len() as u64;
    if body_time.as_secs_f64() > 0.0 && !body.is_empty() {
        f.throughput_bytes_per_sec = Some((body.len() as f64 / body_time.as_secs_f64()).round());
    }
    if f.complete {
        if let Some(d) = f.bytes_declared {
            if d != f.bytes_received {
                // hyper enforces Content-Length; keep the check anyway.
                f.complete = false;
                f.error = Some(format!(
                    "body ended after {} of {d} declared bytes",
                    f.bytes_received
                ));
            }
        }
    }
    if !ok {
        let text = String::from_utf8_lossy(&body);
        let line: String = text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect();
        if !line.is_empty() {
            f.error_body = Some(line);
        }
    } else {
        if f.complete {
            // Reported only (compared nowhere).
            f.sha256 = Some(hex::encode(sha2::Sha256::digest(&body)));
        }
        f.body = body;
    }
    f
}

impl Fetch {
    fn record_response(&mut self, r: &reqwest::Response, sent: Instant) {
        self.ttfb_ms = Some(ms(sent.elapsed()));
        self.status = Some(r.status().as_u16());
        self.http_version = Some(version_name(r.version()));
        self.remote_addr = r.remote_addr().map(|a| a.to_string());
        self.headers.clear();
        for (name, value) in r.headers() {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            self.headers
                .entry(name.as_str().to_owned())
                .and_modify(|old| {
                    old.push_str(", ");
                    old.push_str(&v);
                })
                .or_insert(v);
        }
        self.bytes_declared = r
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        self.tls = if r.url().scheme() == "https" {
            let info = r.extensions().get::<reqwest::tls::TlsInfo>();
            let version = info.and_then(|i| i.version()).map(|v| {
                match v {
                    reqwest::tls::Version::TLS_1_0 => "TLS 1.0",
                    reqwest::tls::Version::TLS_1_1 => "TLS 1.1",
                    reqwest::tls::Version::TLS_1_2 => "TLS 1.2",
                    reqwest::tls::Version::TLS_1_3 => "TLS 1.3",
                    _ => "TLS ?",
                }
                .to_owned()
            });
            let cert_sha256 = info
                .and_then(|i| i.peer_certificate())
                .map(|der| hex::encode(sha2::Sha256::digest(der)));
            Some(TlsFacts {
                version,
                alpn: if r.version() == reqwest::Version::HTTP_2 {
                    "h2".into()
                } else {
                    "http/1.1".into()
                },
                cert_sha256,
            })
        } else {
            None
        };
    }

    fn set_error(&mut self, e: &reqwest::Error) {
        let mut chain = error_chain(e);
        if let Some(u) = e.url() {
            // The URL is shown elsewhere.
            chain = chain.replace(&format!(" for url ({u})"), "");
        }
        self.h2 = h2_error(&format!("{e:?}"), &chain);
        self.timed_out |= e.is_timeout();
        self.error = Some(chain);
    }

    /// The transport failure in a few words: the HTTP/2 error code when
    /// there is one, else the innermost cause.
    pub(super) fn cause(&self) -> String {
        if let Some(h2) = &self.h2 {
            return h2.describe();
        }
        let e = self.error.as_deref().unwrap_or("");
        if self.timed_out || self.too_large {
            return e.to_owned();
        }
        let last = e.rsplit(": ").next().unwrap_or(e);
        if last.contains("end of file before message length reached") {
            format!("connection closed early ({last})")
        } else {
            last.to_owned()
        }
    }
}

/// HTTP/2 error codes (RFC 9113 section 7) with the descriptions the `h2`
/// crate prints for them.
const H2_REASONS: [(&str, &str); 14] = [
    ("NO_ERROR", "not a result of an error"),
    ("PROTOCOL_ERROR", "unspecific protocol error detected"),
    ("INTERNAL_ERROR", "unexpected internal error encountered"),
    ("FLOW_CONTROL_ERROR", "flow-control protocol violated"),
    (
        "SETTINGS_TIMEOUT",
        "settings ACK not received in timely manner",
    ),
    ("STREAM_CLOSED", "received frame when stream half-closed"),
    ("FRAME_SIZE_ERROR", "frame with invalid size"),
    (
        "REFUSED_STREAM",
        "refused stream before processing any application logic",
    ),
    ("CANCEL", "stream no longer needed"),
    (
        "COMPRESSION_ERROR",
        "unable to maintain the header compression context",
    ),
    (
        "CONNECT_ERROR",
        "connection established in response to a CONNECT request",
    ),
    (
        "ENHANCE_YOUR_CALM",
        "detected excessive load generating behavior",
    ),
    (
        "INADEQUATE_SECURITY",
        "security properties do not meet minimum requirements",
    ),
    ("HTTP_1_1_REQUIRED", "endpoint requires HTTP/1.1"),
];

/// Finds an HTTP/2 error in an error's debug form (where hyper shows the
/// `h2` error as `Reset(StreamId(1), INTERNAL_ERROR, Remote)` or
/// `GoAway(.., REASON, Remote)`), falling back to the messages of its
/// source chain (`stream error received: unexpected internal error
/// encountered`).
fn h2_error(debug: &str, chain: &str) -> Option<H2Error> {
    fn by(s: &str) -> &'static str {
        if s.contains("Remote") {
            "server"
        } else if s.contains("User") {
            "client"
        } else {
            "library"
        }
    }
    fn reason_in(s: &str) -> Option<&'static str> {
        let bytes = s.as_bytes();
        let mut best: Option<(usize, &'static str)> = None;
        for (name, _) in H2_REASONS {
            let mut from = 0;
            while let Some(i) = s[from..].find(name) {
                let at = from + i;
                let end = at + name.len();
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                let left = at == 0 || !word(bytes[at - 1]);
                let right = end == bytes.len() || !word(bytes[end]);
                if left && right {
                    if best.is_none_or(|(b, _)| at < b) {
                        best = Some((at, name));
                    }
                    break;
                }
                from = end;
            }
        }
        best.map(|(_, n)| n)
    }
    if let Some(i) = debug.find("Reset(StreamId(") {
        let rest = &debug[i + "Reset(StreamId(".len()..];
        let id = rest
            .split(')')
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok());
        let tail = &rest[..rest.find("))").map_or(rest.len(), |j| j + 2)];
        if let Some(reason) = reason_in(tail) {
            return Some(H2Error {
                frame: "RST_STREAM",
                reason: reason.to_owned(),
                stream_id: id,
                by: by(tail),
            });
        }
    }
    if let Some(i) = debug.find("GoAway(") {
        let rest = &debug[i..];
        let tail = &rest[..rest.find("))").map_or(rest.len(), |j| j + 2)];
        if let Some(reason) = reason_in(tail) {
            return Some(H2Error {
                frame: "GOAWAY",
                reason: reason.to_owned(),
                stream_id: None,
                by: by(tail),
            });
        }
    }
    for (prefix, frame, who) in [
        ("stream error received: ", "RST_STREAM", "server"),
        ("stream error detected: ", "RST_STREAM", "library"),
        ("stream error sent by user: ", "RST_STREAM", "client"),
        ("connection error received: ", "GOAWAY", "server"),
        ("connection error detected: ", "GOAWAY", "library"),
        ("connection error sent by user: ", "GOAWAY", "client"),
        ("protocol error: ", "protocol", "library"),
    ] {
        if let Some(i) = chain.find(prefix) {
            let rest = &chain[i + prefix.len()..];
            if let Some((name, _)) = H2_REASONS.iter().find(|(_, d)| rest.starts_with(d)) {
                return Some(H2Error {
                    frame,
                    reason: (*name).to_owned(),
                    stream_id: None,
                    by: who,
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2_reset_from_debug_and_from_message() {
        let debug = "reqwest::Error { kind: Decode, source: hyper::Error(Body, Error { kind: Reset(StreamId(1), INTERNAL_ERROR, Remote) }) }";
        let e = h2_error(debug, "").unwrap();
        assert_eq!(
            e,
            H2Error {
                frame: "RST_STREAM",
                reason: "INTERNAL_ERROR".into(),
                stream_id: Some(1),
                by: "server"
            }
        );
        assert_eq!(
            e.describe(),
            "HTTP/2 RST_STREAM from the server: INTERNAL_ERROR (stream error: stream ID 1; INTERNAL_ERROR)"
        );
        let chain = "error decoding response body: request or response body error: stream error received: unexpected internal error encountered";
        let e = h2_error("", chain).unwrap();
        assert_eq!(e.reason, "INTERNAL_ERROR");
        assert_eq!(e.by, "server");
        let goaway =
            "hyper::Error(Http2, Error { kind: GoAway(b\"bye, now\", ENHANCE_YOUR_CALM, Remote) })";
        let e = h2_error(goaway, "").unwrap();
        assert_eq!(
            (e.frame, e.reason.as_str()),
            ("GOAWAY", "ENHANCE_YOUR_CALM")
        );
        assert!(h2_error("hyper::Error(IncompleteMessage)", "connection closed").is_none());
    }
}
