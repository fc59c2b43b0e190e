//! "Once served, never different": the record of a zip evicted from the
//! cache (the cache budget) is kept, and a copy fetched again must have
//! the `h1:` that was served before — even with no checksum database.

use super::{meta_of, AdmitError, Admitted, Checked};
use crate::record::Meta;

/// The key under which the record of the evicted zip `key` is kept (no
/// `/@v/` in it: it is neither a version file nor counted as one).
pub fn served_key(zip_key: &str) -> String {
    format!("evicted/{}", zip_key.replacen("/@v/", "/@evicted/", 1))
}

/// Admits the record `meta` of the zip under `zip_key`, evicted from the
/// cache, for [`check_served_before`]: only a zip's record with its `h1:`.
pub fn served_record(zip_key: &str, meta: &Meta) -> Result<Admitted, AdmitError> {
    if !zip_key.ends_with(".zip") || !zip_key.contains("/@v/") || meta.h1.is_none() {
        return Err(AdmitError::ServedRecord(format!(
            "{zip_key}: only the record of a zip, with its h1:, is kept when it is evicted"
        )));
    }
    let bytes = serde_json::to_vec(meta).expect("a record serializes");
    let m = meta_of(&bytes, "gomirror cache budget");
    Ok(Admitted::in_memory(&served_key(zip_key), bytes, m))
}

/// Refuses content whose `h1:` differs from the one served before (the
/// kept record of an evicted zip).
pub fn check_served_before(checked: &Checked, what: &str, before: &Meta) -> Result<(), AdmitError> {
    let got = checked.h1().unwrap_or_default();
    match before.h1.as_deref() {
        Some(h1) if h1 == got => Ok(()),
        h1 => Err(AdmitError::ServedBefore {
            what: what.to_owned(),
            h1: got.to_owned(),
            before: h1.unwrap_or("none").to_owned(),
            origin: before.origin.clone(),
        }),
    }
}
