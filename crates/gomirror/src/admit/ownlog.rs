//! The doors of the mirror's own checksum database (`crate::ownlog`): a
//! record enters only as the go.sum lines of one version (its zip's and its
//! go.mod's `h1:`), a tree head only signed by the log's key and, when one
//! is kept, consistent with it; and content is admitted only with the
//! hashes the log already holds for its version (once logged, never
//! different).

use super::{meta_of, AdmitError, Admitted, Checked};
use gomod::note;
use gomod::tlog::{self, Hash, Tree};

fn bad(msg: String) -> AdmitError {
    AdmitError::OwnLog(msg)
}

/// The record text of `module@version`: its zip's and its go.mod's lines.
pub fn own_record_text(module: &str, version: &str, zip_h1: &str, mod_h1: &str) -> String {
    format!("{module} {version} {zip_h1}\n{module} {version}/go.mod {mod_h1}\n")
}

/// Admits record `text` under `key`: exactly the two go.sum lines of one
/// version, its zip's and its go.mod's.
pub fn own_record(key: &str, text: &[u8]) -> Result<Admitted, AdmitError> {
    let lines = tlog::parse_sum_lines(text).map_err(|e| bad(format!("{key}: {e}")))?;
    let ok = lines.len() == 2
        && lines[0].path == lines[1].path
        && lines[1].version == format!("{}/go.mod", lines[0].version)
        && gomod::module::check(lines[0].path, lines[0].version).is_ok();
    if !ok {
        return Err(bad(format!(
            "{key}: a record is the zip and go.mod lines of one version"
        )));
    }
    let meta = meta_of(text, "gomirror checksum database");
    Ok(Admitted::in_memory(key, text.to_vec(), meta))
}

/// Admits the signed head `signed` of the log under `key`: signed by the
/// log's key; when `last` is kept (with the proof that its tree is a
/// prefix), at least as large and consistent with it.
pub fn own_head(
    key: &str,
    signed: &[u8],
    verifiers: &note::VerifierList,
    last: Option<(Tree, &[Hash])>,
) -> Result<(Tree, Admitted), AdmitError> {
    let (tree, admitted) = super::sumdb_head(key, signed, verifiers, last, "gomirror")?;
    Ok((tree, admitted))
}

/// Refuses content whose `h1:` differs from the one the log holds for its
/// version (`want`).
pub fn check_logged(
    checked: &Checked,
    what: &str,
    want: &str,
    log: &str,
) -> Result<(), AdmitError> {
    let got = checked.h1().unwrap_or_default();
    if got == want {
        Ok(())
    } else {
        Err(AdmitError::OwnLog(format!(
            "{what}: {got}, but the checksum database {log} logged {want}: once logged, never different"
        )))
    }
}
