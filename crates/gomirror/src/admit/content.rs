//! The content rules, by kind of file: what an upstream's bytes must be
//! before they may be committed.

use super::{meta, meta_of, AdmitError, Admitted, Content, Received, Sha};
use crate::protocol::{versioned_key, FileKind};
use crate::record::h1_matches;
use crate::record::Meta;
use serde::{Deserialize, Serialize};

/// The `.info` JSON of the GOPROXY protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Checks an `.info` or `@latest` answer: JSON with a canonical `Version`
/// (equal to `want` when given), and a `Time` that looks like RFC 3339.
pub fn check_info(data: &[u8], want: Option<&str>) -> Result<Info, AdmitError> {
    let info: Info =
        serde_json::from_slice(data).map_err(|e| AdmitError::InfoJson(e.to_string()))?;
    if gomod::module::canonical_version(&info.version) != info.version || info.version.is_empty() {
        return Err(AdmitError::NotCanonical(info.version));
    }
    if let Some(want) = want {
        if info.version != want {
            return Err(AdmitError::OtherVersion {
                got: info.version,
                want: want.to_owned(),
            });
        }
    }
    if let Some(t) = &info.time {
        let ok = t.len() >= 20 && t.as_bytes()[4] == b'-' && t.as_bytes()[10] == b'T';
        if !ok {
            return Err(AdmitError::BadTime(t.clone()));
        }
    }
    Ok(info)
}

/// Cleans a `list` answer: one version per line, keeping the first field
/// of each line when it is a valid semantic version (as the go command
/// reads it), without duplicates, sorted. More than
/// [`MAX_LIST_VERSIONS`](super::MAX_LIST_VERSIONS) versions are refused.
/// CPU work: callers run it on a blocking thread.
pub fn clean_list(data: &[u8]) -> Result<Vec<&str>, AdmitError> {
    let text = std::str::from_utf8(data).map_err(|_| AdmitError::ListNotUtf8)?;
    let limit = super::MAX_LIST_VERSIONS;
    let mut out: Vec<&str> = vec![];
    for v in text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| gomod::semver::is_valid(v))
    {
        if out.len() == limit {
            return Err(AdmitError::TooManyVersions { limit });
        }
        out.push(v);
    }
    gomod::semver::sort(&mut out);
    out.dedup();
    Ok(out)
}

/// What a checked zip tells the mirror.
struct ZipFacts {
    h1: String,
    /// `h1:` of the module's go.mod: the zip's, or the synthesised one.
    gomod_h1: String,
}

/// Checks a staged module zip by the go command's rules (plus full content
/// verification: sizes and CRC-32 of every entry), hashes it, and takes its
/// go.mod (or the synthesised one). Entries digested while the zip arrived
/// (`streamed`, from these very bytes) are not read again; the verdict is
/// the same either way. Runs on a blocking thread.
fn check_zip(
    path: &str,
    version: &str,
    staged: &std::path::Path,
    streamed: Option<&gomod::zip::StreamDigests>,
) -> Result<ZipFacts, AdmitError> {
    let f = std::fs::File::open(staged)
        .map_err(|e| AdmitError::Zip(format!("reopening staged zip: {e}")))?;
    let r = std::io::BufReader::with_capacity(256 << 10, f);
    let summary = match streamed {
        Some(s) => gomod::zip::check_and_hash_zip_streamed(path, version, r, s),
        None => gomod::zip::check_and_hash_zip(path, version, r),
    }
    .map_err(|e| AdmitError::Zip(e.to_string()))?;
    summary
        .checked
        .err()
        .map_err(|e| AdmitError::Zip(e.to_string()))?;
    let h1 = summary
        .h1
        .ok_or_else(|| AdmitError::Zip("zip was not hashed".to_owned()))?;
    let gomod = summary
        .go_mod
        .unwrap_or_else(|| gomod::modfile::synthesize_go_mod(path));
    Ok(ZipFacts {
        h1,
        gomod_h1: gomod::dirhash::hash_go_mod(&gomod),
    })
}

/// A versioned file whose content passed the rules of its kind, waiting
/// for the checksum database's word (or for the decision that none is
/// needed).
pub struct Checked {
    key: String,
    received: Received,
    meta: Meta,
    what: String,
}

impl Checked {
    /// The content's `h1:` (`.mod` and `.zip`; `None` for `.info`).
    pub fn h1(&self) -> Option<&str> {
        self.meta.h1.as_deref()
    }

    /// Admits content that no checksum database is asked about: `.info`
    /// files, modules under GONOSUMDB/GOPRIVATE, GOSUMDB=off, and (warn
    /// mode) content admitted while the database is unreachable, to be
    /// checked later.
    pub fn admit_unvouched(self) -> Admissible {
        Admissible {
            key: self.key,
            received: self.received,
            meta: self.meta,
        }
    }

    /// Admits content the checksum database vouches for: its hash for this
    /// file (`want`, from a record proven in a signed tree of `tree_size`)
    /// must equal the content's `h1:`; otherwise this upstream's copy is
    /// refused ([`FailureKind::Sumdb`]).
    pub fn admit_vouched(
        mut self,
        db: &str,
        want: Option<&str>,
        tree_size: u64,
    ) -> Result<Admissible, AdmitError> {
        let h1 = self.meta.h1.clone().unwrap_or_default();
        if want.is_some_and(|w| h1_matches(Some(w), &h1)) {
            self.meta.sumdb_tree_size = Some(tree_size);
            return Ok(self.admit_unvouched());
        }
        Err(AdmitError::SumdbMismatch {
            what: self.what,
            h1,
            origin: self.meta.origin,
            db: db.to_owned(),
            want: want.map(str::to_owned),
        })
    }
}

/// A versioned file admission let in: every rule of its kind passed, and
/// the checksum database's word when it was asked. Its bytes may be given
/// to the clients waiting for them; what is left before it can be
/// committed is its record's SHA-256, which may still be computing (a zip
/// is hashed as it lands, on a thread no client waits for: see
/// [`Admissible::admit`]).
pub struct Admissible {
    key: String,
    received: Received,
    meta: Meta,
}

impl Admissible {
    /// The size of the admitted bytes.
    pub fn size(&self) -> u64 {
        self.meta.size
    }

    /// Its record as far as it is known: everything but the `sha256` of a
    /// body still being hashed (which is empty until then).
    pub fn record_so_far(&self) -> &Meta {
        &self.meta
    }

    /// The admitted bytes when held in memory (everything but zips), with
    /// their complete record: what waiting clients may be answered with
    /// before the commit.
    pub fn in_memory(&self) -> Option<(&Meta, &bytes::Bytes)> {
        match (&self.received.content, &self.received.sha256) {
            (Content::Memory(b), Sha::Done(_)) => Some((&self.meta, b)),
            _ => None,
        }
    }

    /// The value the store commits, once the body's SHA-256 is computed.
    pub async fn admit(self) -> Result<Admitted, AdmitError> {
        let mut meta = self.meta;
        meta.sha256 = hex::encode(self.received.sha256.get().await?);
        Ok(Admitted::new(&self.key, self.received.content, meta))
    }
}

/// Checks a received versioned file of `module@version` by its kind:
///
/// * `.info`: JSON whose `Version` is the canonical version asked for;
/// * `.mod`: its `h1:`, equal to the go.mod `h1:` recorded with the stored
///   zip of the same version (`sibling`), if there is one;
/// * `.zip`: the module zip rules, its `h1:`, and its go.mod equal to the
///   stored `.mod` of the same version (`sibling`), if there is one.
///
/// `sibling` is the record of the stored other half (`.zip` for a `.mod`,
/// `.mod` for a `.zip`), as the caller read it from the store.
#[tracing::instrument(name = "admission", skip_all, fields(module = %module, version = %version, file = ext.as_str()))]
pub async fn check_versioned(
    mut received: Received,
    module: &str,
    version: &str,
    ext: FileKind,
    sibling: Option<&Meta>,
    origin: &str,
) -> Result<Checked, AdmitError> {
    let key =
        versioned_key(module, version, ext).map_err(|e| AdmitError::BadVersion(e.to_string()))?;
    let mut meta = meta(&received, None, origin);
    match ext {
        FileKind::Info => {
            check_info(&received.read()?, Some(version))?;
        }
        FileKind::Mod => {
            let h1 = gomod::dirhash::hash_go_mod(&received.read()?);
            if let Some(z) = sibling.and_then(|z| z.gomod_h1.as_deref()) {
                if !h1_matches(Some(z), &h1) {
                    return Err(AdmitError::ModNotZips { h1 });
                }
            }
            meta.h1 = Some(h1);
        }
        FileKind::Zip => {
            let Content::Staged(staged) = &received.content else {
                return Err(AdmitError::Zip(
                    "a zip is received into a staging file".into(),
                ));
            };
            let path = staged.path().to_owned();
            let (m, v) = (module.to_owned(), version.to_owned());
            let streamed = received.digests.take();
            let facts =
                tokio::task::spawn_blocking(move || check_zip(&m, &v, &path, streamed.as_ref()))
                    .await
                    .map_err(|e| AdmitError::Zip(format!("zip check task: {e}")))??;
            if let Some(m) = sibling.and_then(|m| m.h1.as_deref()) {
                if !h1_matches(Some(m), &facts.gomod_h1) {
                    return Err(AdmitError::ZipNotMod { h1: facts.gomod_h1 });
                }
            }
            meta.h1 = Some(facts.h1);
            meta.gomod_h1 = Some(facts.gomod_h1);
        }
    }
    Ok(Checked {
        key,
        received,
        meta,
        what: format!("{module}@{version}.{}", ext.as_str()),
    })
}

/// The files whose answer changes over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volatile {
    /// `@v/list`: kept as the cleaned, sorted list of valid versions.
    List,
    /// `@latest`: kept as served, when it is valid `.info` JSON.
    Latest,
}

impl Volatile {
    /// The largest body accepted.
    pub fn limit(self) -> u64 {
        match self {
            Volatile::List => super::MAX_LIST,
            Volatile::Latest => super::MAX_INFO,
        }
    }

    /// Admits an answer under `key`: a `list` is cleaned ([`clean_list`]),
    /// an `@latest` must pass [`check_info`].
    pub fn admit(
        self,
        key: &str,
        received: &Received,
        origin: &str,
    ) -> Result<Admitted, AdmitError> {
        let data = received.read()?;
        let kept = match self {
            Volatile::List => {
                let versions = clean_list(&data)?;
                let mut kept = Vec::with_capacity(versions.iter().map(|v| v.len() + 1).sum());
                for v in versions {
                    kept.extend_from_slice(v.as_bytes());
                    kept.push(b'\n');
                }
                bytes::Bytes::from(kept)
            }
            Volatile::Latest => {
                check_info(&data, None)?;
                data
            }
        };
        let meta = meta_of(&kept, origin);
        Ok(Admitted::in_memory(key, kept, meta))
    }
}

/// An `.info` answer to a query (a branch, a commit, `v1.2`), admitted under
/// the canonical version it names.
pub struct QueryInfo {
    /// The answer as received (and checked).
    data: bytes::Bytes,
    /// The canonical `.info`, to commit when it is not stored yet.
    admitted: Option<Admitted>,
}

impl QueryInfo {
    /// The canonical `.info` to commit (once; `None` after).
    pub fn take_admitted(&mut self) -> Option<Admitted> {
        self.admitted.take()
    }
    /// The checked answer, as received.
    pub fn into_data(self) -> bytes::Bytes {
        self.data
    }
}

/// Checks a received query answer for `module`: valid `.info` JSON whose
/// canonical `Version` fits the module path (`module.Check`).
pub fn query_info(received: Received, module: &str, origin: &str) -> Result<QueryInfo, AdmitError> {
    let data = received.read()?;
    let info = check_info(&data, None)?;
    gomod::module::check(module, &info.version)
        .map_err(|e| AdmitError::BadVersion(e.to_string()))?;
    let key = versioned_key(module, &info.version, FileKind::Info)
        .map_err(|e| AdmitError::BadVersion(e.to_string()))?;
    let meta = meta(&received, None, origin);
    Ok(QueryInfo {
        data,
        admitted: Some(Admitted::new(&key, received.content, meta)),
    })
}
