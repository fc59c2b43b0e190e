//! The status page's charts: the last hour and the last day of
//! [`crate::history`], drawn as inline SVG ([`crate::chart`]).

use crate::chart::{esc, line_chart, Series, PALETTE};
use crate::history::Point;
use crate::mirror::Mirror;

/// Two sections (`#last-hour`, `#last-day`) of charts: requests and hit
/// ratio, bytes served, integrity failures by kind and source, upstream
/// latency and errors, the checksum database's tree, the scrubber's and the
/// canary's progress.
pub fn charts(mirror: &Mirror) -> String {
    let now = mirror.totals();
    let hour = mirror.history.points(&now, 60);
    let day = mirror.history.points(&now, 24 * 60);
    format!(
        "<section id=\"last-hour\"><h2>Last hour (per minute)</h2>\n{}</section>\n<section id=\"last-day\"><h2>Last day (per minute)</h2>\n{}</section>\n",
        section("hour", "1 h", 3600, now.at, &hour),
        section("day", "24 h", 86400, now.at, &day)
    )
}

fn section(id: &str, span: &str, span_secs: i64, now: i64, p: &[Point]) -> String {
    // Each point where it happened: its interval's end, as a fraction of
    // the span ending now.
    let xs: Vec<f64> = p
        .iter()
        .map(|p| 1.0 - (now - p.at) as f64 / span_secs as f64)
        .collect();
    let line_chart = |id: &str, title: &str, unit: &str, span: &str, gauge: bool, s: &[Series]| {
        line_chart(id, title, unit, span, gauge, &xs, s)
    };
    let col = |f: &dyn Fn(&Point) -> Option<f64>| p.iter().map(f).collect::<Vec<_>>();
    let series = |label: &str, i: usize, values: Vec<Option<f64>>| Series {
        label: label.to_owned(),
        color: PALETTE[i % PALETTE.len()],
        values,
    };
    let mut out = String::new();
    out.push_str(&line_chart(
        &format!("{id}-requests"),
        "Requests and cache misses",
        "/min",
        span,
        false,
        &[
            series("requests", 0, col(&|p| Some(p.requests as f64))),
            series("misses", 1, col(&|p| Some(p.misses as f64))),
        ],
    ));
    out.push_str(&line_chart(
        &format!("{id}-hit-ratio"),
        "Cache hit ratio",
        "%",
        span,
        true,
        &[series(
            "hit ratio %",
            2,
            col(&|p| {
                let n = p.hits + p.misses;
                (n > 0).then(|| 100.0 * p.hits as f64 / n as f64)
            }),
        )],
    ));
    out.push_str(&line_chart(
        &format!("{id}-bytes"),
        "Bytes served",
        "B/min",
        span,
        false,
        &[series("bytes", 0, col(&|p| Some(p.bytes as f64)))],
    ));
    // One line per kind and source seen in the window.
    let mut keys: Vec<&String> = p.iter().flat_map(|p| p.failures.keys()).collect();
    keys.sort();
    keys.dedup();
    let failures: Vec<Series> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let (kind, source) = k.split_once('|').unwrap_or((k, ""));
            series(
                &format!("{kind} from {source}"),
                i + 1,
                col(&|p| Some(p.failures.get(*k).copied().unwrap_or(0) as f64)),
            )
        })
        .collect();
    out.push_str(&line_chart(
        &format!("{id}-integrity"),
        "Integrity failures by kind and source",
        "/min",
        span,
        false,
        &failures,
    ));
    out.push_str(&line_chart(
        &format!("{id}-upstream-latency"),
        "Upstream latency to response headers (mean)",
        "ms",
        span,
        true,
        &[series("latency ms", 0, col(&|p| p.upstream_ms))],
    ));
    out.push_str(&line_chart(
        &format!("{id}-upstream-errors"),
        "Upstream errors",
        "/min",
        span,
        false,
        &[series(
            "errors",
            1,
            col(&|p| Some(p.upstream_errors as f64)),
        )],
    ));
    out.push_str(&line_chart(
        &format!("{id}-sumdb"),
        "Checksum database: verified tree size",
        "records",
        span,
        true,
        &[series(
            "tree size",
            4,
            col(&|p| (p.tree_size > 0).then_some(p.tree_size as f64)),
        )],
    ));
    out.push_str(&line_chart(
        &format!("{id}-scrub"),
        "Scrubber: pass progress and bytes verified",
        "",
        span,
        true,
        &[
            series("pass done %", 2, col(&|p| p.scrub_percent)),
            series(
                "MB verified/min",
                3,
                col(&|p| Some(p.scrub_bytes as f64 / 1e6)),
            ),
        ],
    ));
    out.push_str(&line_chart(
        &format!("{id}-canary"),
        "CDN canary: objects fetched through the CDN",
        "/min",
        span,
        false,
        &[series("fetches", 5, col(&|p| Some(p.cdn_fetches as f64)))],
    ));
    out
}

/// This replica's last hour in figures (its row of the fleet's table).
pub fn summary(mirror: &Mirror) -> serde_json::Value {
    let now = mirror.totals();
    let p = mirror.history.points(&now, 60);
    let sum = |f: &dyn Fn(&Point) -> u64| p.iter().map(f).sum::<u64>();
    serde_json::json!({
        "at": now.at,
        "requests": sum(&|p| p.requests),
        "hits": sum(&|p| p.hits),
        "misses": sum(&|p| p.misses),
        "bytes": sum(&|p| p.bytes),
        "integrity_failures": sum(&|p| p.failures.values().sum()),
        "upstream_errors": sum(&|p| p.upstream_errors),
        "tree_size": now.tree_size,
    })
}

/// With a fleet, a table (`#replicas`) with one row per replica, each from
/// the summary it last published (this replica's is published first); an
/// empty string without a fleet.
pub async fn replica_rows(mirror: &Mirror) -> String {
    let Some(fleet) = mirror.fleet() else {
        return String::new();
    };
    let _ = fleet.publish_replica(&summary(mirror)).await;
    let rows = match fleet.replicas().await {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "<h2>Replicas</h2>\n<p id=\"replicas\" class=\"bad\">Redis unreachable: {}</p>\n",
                esc(&e.to_string())
            )
        }
    };
    let now = chrono::Utc::now().timestamp();
    let mut out = String::from(
        "<h2>Replicas (last hour)</h2>\n<table id=\"replicas\"><tr><th>Replica</th><th>Last seen</th><th>Requests</th><th>Hit ratio</th><th>Bytes served</th><th>Integrity failures</th><th>Upstream errors</th><th>Checksum tree</th></tr>\n",
    );
    for (name, v) in rows {
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        let seen = now - v["at"].as_i64().unwrap_or(0);
        let (hits, misses) = (n("hits"), n("misses"));
        let ratio = if hits + misses > 0 {
            format!("{:.1}%", 100.0 * hits as f64 / (hits + misses) as f64)
        } else {
            "-".to_owned()
        };
        let me = name == fleet.replica();
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!(
                "<tr data-replica=\"{r}\"><td>{r}{me}</td><td class=\"{c}\">{seen} s ago</td><td>{q}</td><td>{ratio}</td><td>{b}</td><td class=\"{f}\">{fails}</td><td>{ue}</td><td>{t}</td></tr>\n",
                r = esc(&name),
                me = if me { " (this one)" } else { "" },
                c = if seen > 180 { "bad" } else { "ok" },
                q = n("requests"),
                b = crate::chart::short(n("bytes") as f64),
                f = if n("integrity_failures") > 0 { "bad" } else { "ok" },
                fails = n("integrity_failures"),
                ue = n("upstream_errors"),
                t = n("tree_size"),
            ),
        );
    }
    out.push_str("</table>\n");
    out
}

/// The line a developer pastes to use this mirror: `go env -w
/// GOPROXY=<url>,direct`, with the configured public URL, else the address
/// the request was made to.
pub fn goproxy_line(public_url: Option<&str>, host: Option<&str>, tls: bool) -> String {
    let url = match (public_url, host) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(h)) => format!("{}://{h}", if tls { "https" } else { "http" }),
        (None, None) => "http://this-mirror".to_owned(),
    };
    esc(&format!("go env -w GOPROXY={url},direct"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goproxy_line_names_the_public_url_or_the_host_asked() {
        assert_eq!(
            goproxy_line(
                Some("https://goproxy.example/"),
                Some("10.0.0.1:8080"),
                false
            ),
            "go env -w GOPROXY=https://goproxy.example,direct"
        );
        assert_eq!(
            goproxy_line(None, Some("127.0.0.1:8080"), false),
            "go env -w GOPROXY=http://127.0.0.1:8080,direct"
        );
        assert_eq!(
            goproxy_line(None, Some("mirror:443"), true),
            "go env -w GOPROXY=https://mirror:443,direct"
        );
    }
}
