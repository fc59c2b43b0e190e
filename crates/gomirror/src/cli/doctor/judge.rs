//! The verdicts: each transfer's problems, then every proxy's content
//! compared with the checksum database when it vouches, else with the
//! majority of proxies (a cut-off zip whose bytes are a prefix of one
//! proxy's copy counts as agreeing with it), and the notes that help.

use super::ext;
use super::report::{obj, obj_mut, Fetch, Reference, Report};
use crate::protocol::FileKind;
use crate::sumdb;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A problem of one fetch on its own (status, transport, size, digests),
/// without the file's name: `(text, joined)` where `joined` means the text
/// reads after the file's name (`.zip truncated ...`) rather than after a
/// colon (`.zip: HTTP 500`).
fn transfer_problems(f: &Fetch) -> Vec<(String, bool)> {
    let mut out = vec![];
    match f.status {
        None => {
            out.push((
                format!(
                    "request failed: {}",
                    f.error.as_deref().unwrap_or("no response")
                ),
                false,
            ));
            return out;
        }
        Some(200) => {}
        Some(s) => {
            let mut p = format!("HTTP {s}");
            if let Some(b) = &f.error_body {
                let _ = write!(p, " ({b})");
            }
            out.push((p, false));
            return out;
        }
    }
    if !f.complete {
        let n = f.bytes_received;
        let p = if f.too_large {
            (f.cause(), false)
        } else if f.timed_out {
            match f.bytes_declared {
                Some(m) => (
                    format!("stalled after {n} of {m} bytes: {}", f.cause()),
                    true,
                ),
                None => (format!("stalled after {n} bytes: {}", f.cause()), true),
            }
        } else {
            match f.bytes_declared {
                Some(m) => (
                    format!("truncated after {n} of {m} bytes: {}", f.cause()),
                    true,
                ),
                None => (
                    format!(
                        "transfer broken after {n} bytes (no Content-Length): {}",
                        f.cause()
                    ),
                    true,
                ),
            }
        };
        out.push(p);
    }
    for d in &f.digests {
        if d.result == "mismatch" {
            out.push((format!("{} does not match body", d.header), false));
        }
    }
    out
}

/// Whether a header reports a CDN cache hit (`X-Cache: HIT`,
/// `CF-Cache-Status: HIT`, ...).
fn cache_hit(f: &Fetch) -> Option<String> {
    f.headers.iter().find_map(|(k, v)| {
        let cachey = k.contains("cache") && k != "cache-control" && k != "cdn-cache-control";
        (cachey && v.to_ascii_uppercase().contains("HIT")).then(|| format!("{k}: {v}"))
    })
}

/// Compares every proxy with the database (when it vouches) or with the
/// majority, and writes the verdicts.
pub(super) fn judge(report: &mut Report, vouch: Option<&sumdb::Vouch>) {
    let db_name = report.sumdb.name.clone().unwrap_or_default();
    for p in report.proxies.iter_mut() {
        let mut problems = vec![];
        let mut notes = vec![];
        let each: Vec<(FileKind, Vec<(String, bool)>)> =
            [FileKind::Info, FileKind::Mod, FileKind::Zip]
                .into_iter()
                .map(|k| (k, transfer_problems(&obj(p, k).fetch)))
                .collect();
        if !each[0].1.is_empty() && each.iter().all(|(_, t)| *t == each[0].1) {
            // The same failure for all three files (a 404, a refused
            // connection) is said once.
            problems.extend(each[0].1.iter().map(|(t, _)| t.clone()));
        } else {
            for (kind, texts) in each {
                for (t, joined) in texts {
                    let sep = if joined { " " } else { ": " };
                    problems.push(format!("{}{sep}{t}", ext(kind)));
                }
            }
        }
        if let Some(e) = &p.info.invalid {
            problems.push(format!(".info: {e}"));
        }
        if let Some(e) = &p.zip.invalid {
            problems.push(format!("invalid zip: {e}"));
        }
        if let (Some(m), Some(z)) = (&p.go_mod.h1, &p.zip.go_mod_h1) {
            if !crate::verify::h1_matches(Some(m), z) {
                notes.push(format!(
                    "the .mod ({m}) differs from the go.mod in the zip ({z})"
                ));
            }
        }
        p.problems = problems;
        p.notes = notes;
    }
    let n = report.proxies.len();
    for kind in [FileKind::Zip, FileKind::Mod] {
        // Who agrees with whom.
        let h1s: Vec<Option<String>> = report
            .proxies
            .iter()
            .map(|p| obj(p, kind).h1.clone())
            .collect();
        for i in 0..n {
            let mut same = vec![];
            let mut prefix = vec![];
            let fi = &obj(&report.proxies[i], kind).fetch;
            for j in 0..n {
                if i == j {
                    continue;
                }
                let pj = &report.proxies[j];
                if h1s[j]
                    .as_deref()
                    .is_some_and(|hj| crate::verify::h1_matches(h1s[i].as_deref(), hj))
                {
                    same.push(pj.url.clone());
                }
                let fj = &obj(pj, kind).fetch;
                if h1s[i].is_none()
                    && h1s[j].is_some()
                    && fi.status == Some(200)
                    && !fi.complete
                    && !fi.body.is_empty()
                    && fj.body.starts_with(&fi.body)
                {
                    prefix.push(pj.url.clone());
                }
            }
            let o = obj_mut(&mut report.proxies[i], kind);
            o.same_as = same;
            o.prefix_of = prefix;
        }
        // A vote per proxy: its h1, or the one h1 its cut-off bytes are a
        // prefix of.
        let votes: Vec<Option<String>> = (0..n)
            .map(|i| {
                h1s[i].clone().or_else(|| {
                    let o = obj(&report.proxies[i], kind);
                    let mut supported: Vec<String> = o
                        .prefix_of
                        .iter()
                        .filter_map(|u| {
                            report
                                .proxies
                                .iter()
                                .position(|p| &p.url == u)
                                .and_then(|j| h1s[j].clone())
                        })
                        .collect();
                    supported.sort();
                    supported.dedup();
                    (supported.len() == 1).then(|| supported.remove(0))
                })
            })
            .collect();
        let voters = votes.iter().flatten().count();
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for v in votes.iter().flatten() {
            *tally.entry(v.as_str()).or_default() += 1;
        }
        let majority = tally
            .iter()
            .find(|(_, &c)| c >= 2 && 2 * c > voters)
            .map(|(h, &c)| Reference {
                h1: (*h).to_owned(),
                source: "majority",
                agree: Some(c),
                of: Some(voters),
            });
        let db_h1 = vouch.and_then(|v| match kind {
            FileKind::Zip => v.zip.clone(),
            _ => v.gomod.clone(),
        });
        let reference = match db_h1 {
            Some(h1) => Some(Reference {
                h1,
                source: "sumdb",
                agree: None,
                of: None,
            }),
            None => majority,
        };
        let what = if kind == FileKind::Zip {
            "zip"
        } else {
            "go.mod"
        };
        for (i, h1) in h1s.iter().enumerate() {
            let p = &mut report.proxies[i];
            let Some(h1) = h1 else {
                continue;
            };
            match &reference {
                Some(r) if r.source == "sumdb" => {
                    let matches = crate::verify::h1_matches(Some(&r.h1), h1);
                    obj_mut(p, kind).vs_sumdb = Some(if matches { "match" } else { "differs" });
                    if !matches {
                        p.problems.push(format!(
                            "{what} content differs from the checksum database {db_name} ({h1}, database has {})",
                            r.h1
                        ));
                    }
                }
                Some(r) if !crate::verify::h1_matches(Some(&r.h1), h1) => {
                    p.problems.push(format!(
                        "{what} content differs from the majority of proxies ({h1}; {} of {} agree on {})",
                        r.agree.unwrap_or(0),
                        r.of.unwrap_or(0),
                        r.h1
                    ));
                }
                Some(_) => {}
                None if tally.len() > 1 => {
                    p.problems.push(format!(
                        "{what} content differs between proxies, with no majority and no checksum database answer to tell which is right ({h1})"
                    ));
                }
                None => {}
            }
        }
        match kind {
            FileKind::Zip => report.reference.zip = reference,
            _ => report.reference.go_mod = reference,
        }
    }
    for p in report.proxies.iter_mut() {
        let zip = &p.zip;
        if zip.fetch.status == Some(200) && !zip.fetch.complete && zip.fetch.bytes_received > 0 {
            if zip.prefix_of.is_empty() {
                p.notes.push(format!(
                    "the {} zip bytes received are not a prefix of any other proxy's copy",
                    zip.fetch.bytes_received
                ));
            } else {
                p.notes.push(format!(
                    "the {} zip bytes received match the start of the copy from {}",
                    zip.fetch.bytes_received,
                    zip.prefix_of.join(", ")
                ));
            }
        }
        let untrusted = [&p.info, &p.go_mod, &p.zip].iter().any(|o| {
            o.fetch
                .error
                .as_deref()
                .is_some_and(|e| e.contains("UnknownIssuer"))
        });
        if untrusted {
            p.notes.push(
                "the server's certificate is not signed by a trusted authority: for a mirror with a private CA, pass its certificate with --cacert".to_owned(),
            );
        }
        if !p.problems.is_empty() {
            if let Some(hit) = cache_hit(&p.zip.fetch) {
                p.notes.push(format!(
                    "the zip came from a CDN cache ({hit}): the edge's cached copy is the likely culprit; its operator should purge it"
                ));
            }
        }
        p.ok = p.problems.is_empty();
        p.verdict = if p.ok {
            "ok".to_owned()
        } else {
            p.problems.join("; ")
        };
    }
    report.ok = !report.proxies.is_empty() && report.proxies.iter().all(|p| p.ok);
}
