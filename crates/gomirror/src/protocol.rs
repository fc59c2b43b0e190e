//! The GOPROXY protocol as the mirror sees it: request paths, the kinds of
//! versioned file, and the store keys that name them.
//!
//! ```text
//! /<module>/@v/list
//! /<module>/@v/<version>.info|.mod|.zip
//! /<module>/@latest
//! ```
//!
//! Module paths and versions arrive case-encoded (`!` + lower case) and are
//! decoded and checked with `gomod`. A store key is the request path without
//! its leading `/`, so a key is case-encoded too (safe on case-insensitive
//! file systems). This module decides nothing about content and returns
//! typed errors; the HTTP layer maps them to status codes.

pub use gomod::proxy::{parse_path, percent_decode, FileKind, PathError, ProxyRequest};

/// A module path or version that cannot be case-encoded into a key (the
/// text is the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(String);

/// The case-encoded form of a module path, as it appears in paths and keys.
pub fn escaped_module(module: &str) -> Result<String, NameError> {
    gomod::module::escape_path(module).map_err(|e| NameError(e.to_string()))
}

/// The case-encoded form of a version (or query), as it appears in paths.
pub fn escaped_version(version: &str) -> Result<String, NameError> {
    gomod::module::escape_version(version).map_err(|e| NameError(e.to_string()))
}

/// The store key of a versioned file: case-encoded path and version.
pub fn versioned_key(module: &str, version: &str, ext: FileKind) -> Result<String, NameError> {
    let p = escaped_module(module)?;
    let v = escaped_version(version)?;
    Ok(format!("{p}/@v/{v}.{}", ext.as_str()))
}

/// The store key of a module's `list`.
pub fn list_key(module: &str) -> Result<String, NameError> {
    Ok(format!("{}/@v/list", escaped_module(module)?))
}

/// The store key of a module's `@latest`.
pub fn latest_key(module: &str) -> Result<String, NameError> {
    Ok(format!("{}/@latest", escaped_module(module)?))
}

/// A checksum-database lookup the go command could send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumdbLookup {
    pub module: String,
    pub version: String,
    /// The path to forward, rebuilt from the decoded parts (never the
    /// path as received).
    pub path: String,
}

/// Parses a checksum-database lookup path (`lookup/<escaped module>@<escaped
/// version>`) the way the go command writes one: a valid module path and a
/// canonical version, both case-encoded. Anything else (dot segments, query
/// characters, other paths on the database host) is refused.
pub fn parse_sumdb_lookup(path: &str) -> Result<SumdbLookup, PathError> {
    let bad = |why: String| PathError::NotFound(format!("malformed lookup path: {why}"));
    let rest = path
        .strip_prefix("lookup/")
        .ok_or_else(|| bad("no lookup/ prefix".into()))?;
    let (enc_m, enc_v) = rest
        .split_once('@')
        .ok_or_else(|| bad("no @version".into()))?;
    let module = gomod::module::unescape_path(enc_m).map_err(|e| bad(e.to_string()))?;
    gomod::module::check_path(&module).map_err(|e| bad(e.to_string()))?;
    let version = gomod::module::unescape_version(enc_v).map_err(|e| bad(e.to_string()))?;
    if version.is_empty() || gomod::module::canonical_version(&version) != version {
        return Err(bad(format!("{version:?} is not a canonical version")));
    }
    let m = escaped_module(&module).map_err(|e| bad(e.to_string()))?;
    let v = escaped_version(&version).map_err(|e| bad(e.to_string()))?;
    Ok(SumdbLookup {
        path: format!("lookup/{m}@{v}"),
        module,
        version,
    })
}

/// Splits a versioned key (`<escaped module>/@v/<escaped version>.<ext>`)
/// back into module path, version and file; `None` for any other key
/// (`list`, `@latest`, `sumdb/...`) or one that does not round-trip.
pub fn parse_versioned_key(key: &str) -> Option<(String, String, FileKind)> {
    if key.starts_with("sumdb/") {
        return None;
    }
    let (m, file) = key.rsplit_once("/@v/")?;
    let (v, ext) = file.rsplit_once('.')?;
    let ext = FileKind::from_ext(ext)?;
    let module = gomod::module::unescape_path(m).ok()?;
    let version = gomod::module::unescape_version(v).ok()?;
    (versioned_key(&module, &version, ext).ok()? == key).then_some((module, version, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sumdb_lookup_paths() {
        assert_eq!(
            parse_sumdb_lookup("lookup/github.com/!azure/go@v1.2.3"),
            Ok(SumdbLookup {
                module: "github.com/Azure/go".into(),
                version: "v1.2.3".into(),
                path: "lookup/github.com/!azure/go@v1.2.3".into(),
            })
        );
        for bad in [
            "lookup/../../x@v1.0.0",
            "lookup/example.com/m?x=1@v1.0.0",
            "lookup/example.com/m@v1.0.0?x=1",
            "lookup/example.com/m@v1.0",
            "lookup/example.com/m@master",
            "lookup/example.com/m",
            "lookup/Example.com/m@v1.0.0",
            "latest",
        ] {
            assert!(parse_sumdb_lookup(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versioned_keys_round_trip() {
        assert_eq!(
            parse_versioned_key("example.com/!upper/@v/v1.0.0-!r!c1.zip"),
            Some((
                "example.com/Upper".into(),
                "v1.0.0-RC1".into(),
                FileKind::Zip
            ))
        );
        assert_eq!(
            parse_versioned_key("example.com/m/@v/v2.0.0+incompatible.info"),
            Some((
                "example.com/m".into(),
                "v2.0.0+incompatible".into(),
                FileKind::Info
            ))
        );
        for k in [
            "example.com/m/@v/list",
            "example.com/m/@latest",
            "sumdb/sum.golang.org/latest",
            "example.com/m/@v/v1.0.0.txt",
            "example.com/Upper/@v/v1.0.0.zip",
        ] {
            assert_eq!(parse_versioned_key(k), None, "{k}");
        }
    }
}
