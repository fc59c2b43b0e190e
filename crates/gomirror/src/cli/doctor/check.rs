//! Checking what one proxy served, each file on its own: the `.info`
//! names the version, the zip follows the go command's rules, the `h1:`
//! hashes of the go.mod and the zip, and `Repr-Digest` / `Content-Digest`
//! against the body.

use super::plan::Plan;
use super::probe::fetch;
use super::report::{DigestCheck, Object, ProxyReport};
use crate::protocol::FileKind;
use base64::Engine as _;
use std::collections::BTreeMap;

/// Fetches the three files from one proxy and checks each on its own.
pub(super) async fn check_proxy(
    client: &reqwest::Client,
    base: &str,
    paths: &gomod::module::ProxyPaths,
    plan: &Plan,
) -> ProxyReport {
    let url = |p: &str| format!("{base}{p}");
    // In the go command's order: .info, .mod, then the zip.
    let info = fetch(client, &url(&paths.info), FileKind::Info, plan.timeout).await;
    let go_mod = fetch(client, &url(&paths.go_mod), FileKind::Mod, plan.timeout).await;
    let zip = fetch(client, &url(&paths.zip), FileKind::Zip, plan.timeout).await;
    let mut info = Object {
        fetch: info,
        ..Default::default()
    };
    let mut go_mod = Object {
        fetch: go_mod,
        ..Default::default()
    };
    let mut zip = Object {
        fetch: zip,
        ..Default::default()
    };
    // The digest headers of every 200 answer, against its body.
    for o in [&mut info, &mut go_mod, &mut zip] {
        let f = &mut o.fetch;
        if f.status == Some(200) {
            f.digests = check_digests(&f.headers, &f.body, f.complete);
        }
    }
    if info.fetch.complete && info.fetch.status == Some(200) {
        match crate::admit::check_info(&info.fetch.body, Some(&plan.version)) {
            Ok(i) => info.version = Some(i.version),
            Err(e) => {
                let v = serde_json::from_slice::<serde_json::Value>(&info.fetch.body).ok();
                info.version = v
                    .as_ref()
                    .and_then(|v| v.get("Version"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                info.invalid = Some(e.to_string());
            }
        }
    }
    if go_mod.fetch.complete && go_mod.fetch.status == Some(200) {
        // Compared in judge (verify::h1_matches).
        go_mod.h1 = Some(gomod::dirhash::hash_go_mod(&go_mod.fetch.body));
    }
    if zip.fetch.complete && zip.fetch.status == Some(200) {
        let body = std::mem::take(&mut zip.fetch.body);
        let (module, version) = (plan.module.clone(), plan.version.clone());
        let checked = tokio::task::spawn_blocking(move || {
            // Hashed here, compared in judge (verify::h1_matches).
            let r = gomod::zip::check_and_hash_zip(&module, &version, std::io::Cursor::new(&body));
            (r, body)
        })
        .await;
        match checked {
            Ok((res, body)) => {
                zip.fetch.body = body;
                match res {
                    Err(e) => {
                        zip.valid = Some(false);
                        zip.invalid = Some(e.to_string());
                    }
                    Ok(s) => match s.checked.err() {
                        Err(e) => {
                            zip.valid = Some(false);
                            zip.invalid = Some(e.to_string());
                        }
                        Ok(()) => {
                            zip.valid = Some(true);
                            zip.files = Some(s.checked.valid.len());
                            zip.h1 = s.h1;
                            let gm = s
                                .go_mod
                                .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(&plan.module));
                            zip.go_mod_h1 = Some(gomod::dirhash::hash_go_mod(&gm));
                        }
                    },
                }
            }
            Err(e) => {
                zip.valid = Some(false);
                zip.invalid = Some(format!("checking task failed: {e}"));
            }
        }
    }
    ProxyReport {
        url: base.to_owned(),
        ok: false,
        verdict: String::new(),
        problems: vec![],
        notes: vec![],
        info,
        go_mod,
        zip,
    }
}

/// Checks `Repr-Digest` and `Content-Digest` (RFC 9530: a dictionary of
/// `algorithm=:base64:`) against the body. Without content coding both
/// cover the bytes received.
fn check_digests(
    headers: &BTreeMap<String, String>,
    body: &[u8],
    complete: bool,
) -> Vec<DigestCheck> {
    let mut out = vec![];
    for header in ["repr-digest", "content-digest"] {
        let Some(value) = headers.get(header) else {
            continue;
        };
        for member in value.split(',') {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            let (alg, val) = member.split_once('=').unwrap_or((member, ""));
            let alg = alg.trim().to_ascii_lowercase();
            let decoded = val
                .trim()
                .strip_prefix(':')
                .and_then(|v| v.strip_suffix(':'))
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
            let result = match (alg.as_str(), decoded) {
                (_, None) => "malformed",
                _ if !complete => "not checked (incomplete body)",
                (alg, Some(d)) => match crate::verify::digest_header_matches(alg, &d, body) {
                    Some(true) => "match",
                    Some(false) => "mismatch",
                    None => "unsupported algorithm",
                },
            };
            out.push(DigestCheck {
                header: if header == "repr-digest" {
                    "Repr-Digest"
                } else {
                    "Content-Digest"
                },
                algorithm: alg,
                result,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn digests_are_checked() {
        let body = b"hello";
        let good = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
        let mut h = BTreeMap::new();
        h.insert(
            "repr-digest".to_owned(),
            format!("sha-256=:{good}:, md5=:AAAA:"),
        );
        h.insert("content-digest".to_owned(), "sha-256=:AAAA:".to_owned());
        let d = check_digests(&h, body, true);
        let got: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.header, d.algorithm.as_str(), d.result))
            .collect();
        assert_eq!(
            got,
            [
                ("Repr-Digest", "sha-256", "match"),
                ("Repr-Digest", "md5", "unsupported algorithm"),
                ("Content-Digest", "sha-256", "mismatch"),
            ]
        );
        let d = check_digests(&h, b"hel", false);
        assert!(d.iter().all(|d| d.result.starts_with("not checked")));
    }
}
