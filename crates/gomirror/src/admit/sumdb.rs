//! The verifying door for checksum-database state: signed tree heads,
//! tiles and lookup answers enter the store only after their signatures
//! and hashes check.

use super::{meta_of, AdmitError, Admitted};
use gomod::note;
use gomod::tlog::{self, CheckedTile, Hash, Tree};

fn invalid(msg: String) -> AdmitError {
    AdmitError::SumdbState(msg)
}

/// Opens a signed tree note with the database's key and parses its tree.
pub fn open_tree(signed: &[u8], verifiers: &note::VerifierList) -> Result<Tree, String> {
    let n = note::open(signed, verifiers).map_err(|e| format!("signed tree: {e}"))?;
    tlog::parse_tree(n.text.as_bytes()).map_err(|e| format!("signed tree: {e}"))
}

/// Admits a signed tree head under `key`: the note must verify with the
/// database's key, and, when a head is already kept (`last`, with the
/// proof that it is a prefix of the new tree), the new tree must be at
/// least as large and consistent with it (same hash at the same size; a
/// tree proof checked against both hashes otherwise). Returns the tree.
pub fn sumdb_head(
    key: &str,
    signed: &[u8],
    verifiers: &note::VerifierList,
    last: Option<(Tree, &[Hash])>,
    origin: &str,
) -> Result<(Tree, Admitted), AdmitError> {
    let tree = open_tree(signed, verifiers).map_err(invalid)?;
    if let Some((old, proof)) = last {
        if tree.n < old.n {
            return Err(invalid(format!(
                "signed tree of size {} is older than the kept one ({})",
                tree.n, old.n
            )));
        }
        if tree.n == old.n {
            if tree.hash != old.hash {
                return Err(invalid("same size, different hash".to_owned()));
            }
        } else {
            tlog::check_tree(proof, tree.n, tree.hash, old.n, old.hash)
                .map_err(|e| invalid(e.to_string()))?;
        }
    }
    let meta = meta_of(signed, origin);
    Ok((tree, Admitted::in_memory(key, signed.to_vec(), meta)))
}

/// Admits a tile under `key` (which must end in the tile's path): only a
/// [`CheckedTile`], whose hashes `gomod::tlog` checked against a signed
/// tree, can be kept.
pub fn sumdb_tile(key: &str, tile: &CheckedTile, origin: &str) -> Result<Admitted, AdmitError> {
    let path = tile.tile().path();
    if !key.ends_with(&format!("/{path}")) {
        return Err(invalid(format!("tile {path} offered under key {key}")));
    }
    let meta = meta_of(tile.data(), origin);
    Ok(Admitted::in_memory(key, tile.data().to_vec(), meta))
}

/// Checks a lookup answer (`<id>\n<record text>\n<signed tree note>`): the
/// note verifies with the database's key, the record is inside the tree,
/// and `proof` proves the record's hash at `id` in the tree. Returns the
/// record id, its text and the tree.
pub fn check_answer<'a>(
    body: &'a [u8],
    verifiers: &note::VerifierList,
    proof: &[Hash],
) -> Result<(u64, &'a [u8], Tree), String> {
    let (id, text, signed) = tlog::parse_record(body).map_err(|e| e.to_string())?;
    let tree = open_tree(signed, verifiers)?;
    if id >= tree.n {
        return Err(format!("record {id} is not in tree of size {}", tree.n));
    }
    tlog::check_record(proof, tree.n, tree.hash, id, tlog::record_hash(text))
        .map_err(|e| format!("record proof: {e}"))?;
    Ok((id, text, tree))
}

/// Admits a lookup answer under `key` once [`check_answer`] accepts it.
pub fn sumdb_answer(
    key: &str,
    body: &[u8],
    verifiers: &note::VerifierList,
    proof: &[Hash],
    origin: &str,
) -> Result<Admitted, AdmitError> {
    check_answer(body, verifiers, proof).map_err(invalid)?;
    let meta = meta_of(body, origin);
    Ok(Admitted::in_memory(key, body.to_vec(), meta))
}
