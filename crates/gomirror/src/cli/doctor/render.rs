//! The output: a human report (curl -v like for the zip, one line for the
//! `.info` and `.mod`, then the verdicts) or, with `--json`, every
//! measurement.

use super::report::{obj, Fetch, Report};
use super::{ext, human_bytes};
use crate::protocol::FileKind;
use std::fmt::Write as _;

fn human_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn human_rate(bps: f64) -> String {
    format!("{}/s", human_bytes(bps as u64))
}

/// Headers shown in the human output (JSON has them all): the ones that
/// say what was sent and which cache sent it.
fn shown_header(name: &str) -> bool {
    const SHOWN: [&str; 20] = [
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "etag",
        "last-modified",
        "cache-control",
        "age",
        "via",
        "server",
        "repr-digest",
        "content-digest",
        "x-served-by",
        "x-amz-cf-pop",
        "x-amz-cf-id",
        "cf-ray",
        "x-request-id",
        "x-goog-hash",
        "location",
        "date",
    ];
    SHOWN.contains(&name) || name.contains("cache")
}

/// Cache-related headers, for the one-line `.info` / `.mod` summaries.
fn cache_headers(f: &Fetch) -> String {
    let mut s = String::new();
    for (k, v) in &f.headers {
        if (k.contains("cache") && k != "cache-control") || k == "age" {
            let _ = write!(s, "  {k}: {v}");
        }
    }
    s
}

/// The report as `--json` prints it.
pub(super) fn json(r: &Report) -> serde_json::Result<String> {
    serde_json::to_string_pretty(r)
}

/// The report for a person.
pub(super) fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "gomirror doctor {}@{}", r.module, r.version);
    for w in &r.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let s = &r.sumdb;
    let name = s.name.as_deref().unwrap_or("");
    let fallback = "comparing the proxies with each other instead";
    let _ = match s.status {
        "ok" => writeln!(
            o,
            "checksum database {name}: zip {}, go.mod {} (tree size {}, {})",
            s.zip_h1.as_deref().unwrap_or("-"),
            s.mod_h1.as_deref().unwrap_or("-"),
            s.tree_size.unwrap_or(0),
            human_ms(s.lookup_ms.unwrap_or(0.0))
        ),
        "off" => writeln!(o, "checksum database: off; {fallback}"),
        "skipped" => writeln!(
            o,
            "checksum database: not consulted: {}; {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
        "not_found" => writeln!(
            o,
            "checksum database {name}: no record ({}); {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
        "unreachable" => {
            let msg = s.message.as_deref().unwrap_or("");
            let msg = msg
                .strip_prefix(&format!("checksum database {name} unreachable: "))
                .unwrap_or(msg);
            writeln!(
                o,
                "checksum database {name} could not be reached ({}); {fallback}",
                strip_url_mentions(msg)
            )
        }
        _ => writeln!(
            o,
            "checksum database {name}: INVALID ANSWER ({}); {fallback}",
            s.message.as_deref().unwrap_or("")
        ),
    };
    for p in &r.proxies {
        let _ = writeln!(o);
        let rule = 72usize.saturating_sub(p.url.len() + 4).max(4);
        let _ = writeln!(o, "── {} {}", p.url, "─".repeat(rule));
        let failed: Vec<Option<&str>> = [&p.info, &p.go_mod, &p.zip]
            .iter()
            .map(|o| {
                o.fetch
                    .status
                    .is_none()
                    .then(|| o.fetch.error.as_deref().unwrap_or(""))
            })
            .collect();
        if failed[0].is_some() && failed.iter().all(|e| *e == failed[0]) {
            // Nothing answered, the same way three times: say it once.
            let _ = writeln!(o, "  no response: {}", failed[0].unwrap_or(""));
        } else {
            render_small(&mut o, &p.url, FileKind::Info, r);
            render_small(&mut o, &p.url, FileKind::Mod, r);
            render_zip(&mut o, &p.url, r);
        }
        for n in &p.notes {
            let _ = writeln!(o, "  note: {n}");
        }
        let _ = writeln!(o, "  verdict: {}", p.verdict);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "verdict");
    let w = r.proxies.iter().map(|p| p.url.len()).max().unwrap_or(0);
    for p in &r.proxies {
        let _ = writeln!(
            o,
            "  {} {:w$}  {}",
            if p.ok { "✓" } else { "✗" },
            p.url,
            p.verdict
        );
    }
    let bad = r.proxies.iter().filter(|p| !p.ok).count();
    let unreached = r
        .proxies
        .iter()
        .all(|p| p.info.fetch.status.is_none() && p.zip.fetch.status.is_none());
    if !r.proxies.is_empty() && unreached && matches!(s.status, "unreachable" | "off") {
        let _ = writeln!(
            o,
            "nothing could be reached: check this machine's network first (DNS, firewall, HTTPS_PROXY)"
        );
    }
    if r.proxies.is_empty() {
        let _ = writeln!(o, "no proxy to check");
    } else if bad == 0 {
        let _ = writeln!(o, "all {} proxies are ok", r.proxies.len());
    } else {
        let _ = writeln!(
            o,
            "{bad} of {} proxies are wrong (exit status 1); `--json` gives every measurement",
            r.proxies.len()
        );
    }
    o
}

/// Removes reqwest's ` for url (...)` from a message that already names
/// the URL.
fn strip_url_mentions(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(i) = rest.find(" for url (") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " for url (".len()..];
        match after.find(')') {
            Some(j) => rest = &after[j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn status_line(f: &Fetch) -> String {
    match (f.http_version.as_deref(), f.status) {
        (Some(v), Some(s)) => format!("{v} {s}"),
        _ => "no response".to_owned(),
    }
}

fn render_small(o: &mut String, url: &str, kind: FileKind, r: &Report) {
    let Some(obj) = r
        .proxies
        .iter()
        .find(|p| p.url == url)
        .map(|p| self::obj(p, kind))
    else {
        return;
    };
    let ext = ext(kind);
    let f = &obj.fetch;
    let mut line = format!("  {ext:<6} {}", status_line(f));
    if f.status.is_some() {
        let _ = write!(line, "  {}", human_bytes(f.bytes_received));
        if let Some(t) = f.ttfb_ms {
            let _ = write!(line, "  ttfb {}", human_ms(t));
        }
    }
    if let Some(v) = &obj.version {
        let _ = write!(line, "  Version {v}");
    }
    if let Some(h1) = &obj.h1 {
        let _ = write!(line, "  {h1}{}", compare_suffix(url, kind, r));
    }
    line.push_str(&cache_headers(f));
    let _ = writeln!(o, "{line}");
    if !f.redirects.is_empty() {
        for h in &f.redirects {
            let _ = writeln!(
                o,
                "         redirected: {} {} → {}",
                h.status, h.url, h.location
            );
        }
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "         error: {e}");
    }
    if let Some(b) = &f.error_body {
        let _ = writeln!(o, "         body: {b}");
    }
}

/// How a proxy's `h1:` compares with the database and the other proxies.
fn compare_suffix(url: &str, kind: FileKind, r: &Report) -> String {
    let Some(p) = r.proxies.iter().find(|p| p.url == url) else {
        return String::new();
    };
    let o = obj(p, kind);
    let mut s = String::new();
    match o.vs_sumdb {
        Some("match") => s.push_str(" = checksum database"),
        Some(_) => s.push_str(" ≠ checksum database"),
        None => {}
    }
    let n = o.same_as.len();
    if n > 0 {
        let _ = write!(
            s,
            ", same as {n} other prox{}",
            if n == 1 { "y" } else { "ies" }
        );
    }
    let partial: Vec<&str> = r
        .proxies
        .iter()
        .filter(|q| obj(q, kind).prefix_of.iter().any(|u| u == url))
        .map(|q| q.url.as_str())
        .collect();
    if !partial.is_empty() {
        let _ = write!(
            s,
            ", and the cut-off copy from {} matches it as far as it goes",
            partial.join(", ")
        );
    }
    let others = r
        .proxies
        .iter()
        .filter(|q| q.url != url && obj(q, kind).h1.is_some())
        .count();
    if n == 0 && partial.is_empty() && others > 0 {
        s.push_str(", unlike every other proxy");
    }
    s
}

fn render_zip(o: &mut String, url: &str, r: &Report) {
    let Some(obj) = r.proxies.iter().find(|p| p.url == url).map(|p| &p.zip) else {
        return;
    };
    let f = &obj.fetch;
    let pad = "         ";
    let _ = writeln!(o, "  .zip   GET {}", f.url);
    for h in &f.redirects {
        let _ = writeln!(
            o,
            "{pad}< {} {}  location: {}",
            h.http_version, h.status, h.location
        );
    }
    if let Some(status) = f.status {
        let tls = match &f.tls {
            None => "no TLS".to_owned(),
            Some(t) => format!("{}, ALPN {}", t.version.as_deref().unwrap_or("TLS"), t.alpn),
        };
        let _ = writeln!(
            o,
            "{pad}* connected to {} ({tls})",
            f.remote_addr.as_deref().unwrap_or("?")
        );
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let _ = writeln!(
            o,
            "{pad}< {} {status} {reason}",
            f.http_version.as_deref().unwrap_or("")
        );
        for (k, v) in &f.headers {
            if shown_header(k) {
                let _ = writeln!(o, "{pad}< {k}: {v}");
            }
        }
        if f.bytes_declared.is_none() {
            let _ = writeln!(o, "{pad}  (no content-length)");
        }
        let mut line = match f.bytes_declared {
            Some(m) if !f.complete && m > 0 => format!(
                "{pad}* received {} of {m} bytes ({:.1}%)",
                f.bytes_received,
                100.0 * f.bytes_received as f64 / m as f64
            ),
            Some(m) => format!("{pad}* received {} of {m} bytes", f.bytes_received),
            None => format!("{pad}* received {} bytes", f.bytes_received),
        };
        if let Some(t) = f.ttfb_ms {
            let _ = write!(line, ", ttfb {}", human_ms(t));
        }
        if let Some(b) = f.body_ms {
            let _ = write!(line, ", body {}", human_ms(b));
        }
        // A rate over a few bytes says nothing.
        match f.throughput_bytes_per_sec {
            Some(t) if f.bytes_received >= 64 << 10 || f.timed_out => {
                let _ = write!(line, ", {}", human_rate(t));
            }
            _ => {}
        }
        let _ = writeln!(o, "{line}");
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "{pad}* error: {e}");
    }
    if let Some(h2) = &f.h2 {
        let _ = writeln!(o, "{pad}* {}", h2.describe());
    }
    if let Some(b) = &f.error_body {
        let _ = writeln!(o, "{pad}* body: {b}");
    }
    for d in &f.digests {
        let _ = writeln!(o, "{pad}* {} {}: {}", d.header, d.algorithm, d.result);
    }
    match (obj.valid, &obj.h1) {
        (Some(true), Some(h1)) => {
            let _ = writeln!(
                o,
                "{pad}* zip valid ({} files), {h1}{}",
                obj.files.unwrap_or(0),
                compare_suffix(url, FileKind::Zip, r)
            );
        }
        (Some(false), _) => {
            let _ = writeln!(
                o,
                "{pad}* zip INVALID: {}",
                obj.invalid.as_deref().unwrap_or("")
            );
        }
        _ if f.status == Some(200) => {
            let _ = writeln!(o, "{pad}* zip not checked: the body is incomplete");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_mentions_are_stripped() {
        assert_eq!(
            strip_url_mentions(
                "GET https://x/a: error sending request for url (https://x/a): dns error"
            ),
            "GET https://x/a: error sending request: dns error"
        );
        assert_eq!(strip_url_mentions("plain"), "plain");
    }
}
