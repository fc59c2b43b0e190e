//! What the doctor finds, as `--json` prints it: per proxy and file, the
//! transfer as seen on the wire ([`Fetch`]) and what was learnt from the
//! body ([`Object`]), and the references they were compared with.

use crate::protocol::FileKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything found, as printed by `--json`.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) module: String,
    pub(super) version: String,
    /// Every proxy is right.
    pub(super) ok: bool,
    pub(super) warnings: Vec<String>,
    pub(super) sumdb: SumdbReport,
    /// What each proxy's content was compared with.
    pub(super) reference: References,
    pub(super) proxies: Vec<ProxyReport>,
}

#[derive(Debug, Serialize)]
pub(super) struct SumdbReport {
    /// `ok`, `off`, `skipped`, `not_found`, `unreachable` or `invalid`.
    pub(super) status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) zip_h1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) mod_h1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tree_size: Option<u64>,
    pub(super) lookup_ms: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct References {
    pub(super) zip: Option<Reference>,
    #[serde(rename = "mod")]
    pub(super) go_mod: Option<Reference>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Reference {
    pub(super) h1: String,
    /// `sumdb` or `majority`.
    pub(super) source: &'static str,
    /// For a majority: how many proxies agree, of how many compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) agree: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) of: Option<usize>,
}

#[derive(Debug, Serialize)]
pub(super) struct ProxyReport {
    pub(super) url: String,
    pub(super) ok: bool,
    /// One line: `ok`, or the problems joined with `; `.
    pub(super) verdict: String,
    pub(super) problems: Vec<String>,
    /// Facts worth knowing that do not make the proxy wrong.
    pub(super) notes: Vec<String>,
    pub(super) info: Object,
    #[serde(rename = "mod")]
    pub(super) go_mod: Object,
    pub(super) zip: Object,
}

/// One fetched file and what was learnt from it.
#[derive(Debug, Default, Serialize)]
pub(super) struct Object {
    #[serde(flatten)]
    pub(super) fetch: Fetch,
    /// `.info`: the version it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<String>,
    /// `.zip`: whether it follows the module zip rules (unset: not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) valid: Option<bool>,
    /// Why the content is malformed (`.info` JSON, zip rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) invalid: Option<String>,
    /// `.zip`: number of files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) files: Option<usize>,
    /// `h1:` of the `.mod`, or of the zip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) h1: Option<String>,
    /// `.zip`: `h1:` of its go.mod (or of the one the go command
    /// synthesises when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) go_mod_h1: Option<String>,
    /// `match` or `differs`, when the database vouches for this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) vs_sumdb: Option<&'static str>,
    /// Other proxies that served the same `h1:`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) same_as: Vec<String>,
    /// For a cut-off body: other proxies whose complete copy starts with
    /// the bytes received.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) prefix_of: Vec<String>,
}

/// One GET, as seen on the wire.
#[derive(Debug, Default, Serialize)]
pub(super) struct Fetch {
    pub(super) url: String,
    /// Redirects followed before the final answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) redirects: Vec<Hop>,
    /// The address that answered (the proxy's, when an HTTP proxy is used).
    pub(super) remote_addr: Option<String>,
    pub(super) http_version: Option<String>,
    pub(super) status: Option<u16>,
    /// Set for https.
    pub(super) tls: Option<TlsFacts>,
    /// Every response header (lower-case names; repeated ones joined).
    pub(super) headers: BTreeMap<String, String>,
    /// Time from sending the (final) request to its response headers.
    pub(super) ttfb_ms: Option<f64>,
    /// Time from the first request to the end of the body (or the error).
    pub(super) total_ms: f64,
    /// Time spent receiving the body.
    pub(super) body_ms: Option<f64>,
    pub(super) bytes_declared: Option<u64>,
    pub(super) bytes_received: u64,
    pub(super) throughput_bytes_per_sec: Option<f64>,
    /// The body ended cleanly (every declared byte arrived).
    pub(super) complete: bool,
    pub(super) timed_out: bool,
    /// The body exceeded the go command's size limit and was not read on.
    pub(super) too_large: bool,
    /// The transport error, with its whole source chain.
    pub(super) error: Option<String>,
    /// The HTTP/2 error code, when the error was an HTTP/2 one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) h2: Option<H2Error>,
    /// `Repr-Digest` / `Content-Digest` checked against the body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) digests: Vec<DigestCheck>,
    /// SHA-256 of the bytes received (complete bodies only).
    pub(super) sha256: Option<String>,
    /// Start of a non-200 body (the server's explanation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error_body: Option<String>,
    #[serde(skip)]
    pub(super) body: Vec<u8>,
}

#[derive(Debug, Serialize)]
pub(super) struct Hop {
    pub(super) url: String,
    pub(super) status: u16,
    pub(super) http_version: String,
    pub(super) location: String,
}

#[derive(Debug, Serialize)]
pub(super) struct TlsFacts {
    pub(super) version: Option<String>,
    /// `h2` when HTTP/2 was negotiated; `http/1.1` otherwise (the client
    /// offers `h2` and `http/1.1`; a server without ALPN also gives
    /// HTTP/1.1).
    pub(super) alpn: String,
    /// SHA-256 of the server's leaf certificate (DER).
    pub(super) cert_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct H2Error {
    /// `RST_STREAM` (one stream reset), `GOAWAY` (the connection) or
    /// `protocol` (an error detected locally).
    pub(super) frame: &'static str,
    /// The error code, e.g. `INTERNAL_ERROR`.
    pub(super) reason: String,
    pub(super) stream_id: Option<u32>,
    /// `server` (received), `client` (sent by this side) or `library`
    /// (detected by the HTTP/2 implementation).
    pub(super) by: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct DigestCheck {
    pub(super) header: &'static str,
    pub(super) algorithm: String,
    /// `match`, `mismatch`, `unsupported algorithm`, `malformed` or
    /// `not checked (incomplete body)`.
    pub(super) result: &'static str,
}

pub(super) fn obj(p: &ProxyReport, kind: FileKind) -> &Object {
    match kind {
        FileKind::Info => &p.info,
        FileKind::Mod => &p.go_mod,
        FileKind::Zip => &p.zip,
    }
}

pub(super) fn obj_mut(p: &mut ProxyReport, kind: FileKind) -> &mut Object {
    match kind {
        FileKind::Info => &mut p.info,
        FileKind::Mod => &mut p.go_mod,
        FileKind::Zip => &mut p.zip,
    }
}
