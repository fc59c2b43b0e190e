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

/// The versioned files of the GOPROXY protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Info,
    Mod,
    Zip,
}

impl FileKind {
    /// The file extension, without the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Info => "info",
            FileKind::Mod => "mod",
            FileKind::Zip => "zip",
        }
    }

    /// The kind named by a file extension (without the dot).
    pub fn from_ext(ext: &str) -> Option<FileKind> {
        match ext {
            "info" => Some(FileKind::Info),
            "mod" => Some(FileKind::Mod),
            "zip" => Some(FileKind::Zip),
            _ => None,
        }
    }
}

/// A parsed GOPROXY request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyRequest {
    List {
        module: String,
    },
    Latest {
        module: String,
    },
    Versioned {
        module: String,
        version: String,
        ext: FileKind,
    },
    /// `.info` for a query that is not a canonical version.
    Query {
        module: String,
        query: String,
    },
}

/// Why a path is not a request the mirror can answer. The text is the
/// one-line reason sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Malformed: a bad case-encoding, an invalid module path or version
    /// syntax (the HTTP layer answers 400).
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed but names nothing that can exist: not a proxy path, an
    /// unknown file, a version that does not fit the module path (404).
    #[error("{0}")]
    NotFound(String),
}

impl PathError {
    /// The one-line reason.
    pub fn message(&self) -> &str {
        match self {
            PathError::BadRequest(m) | PathError::NotFound(m) => m,
        }
    }
}

/// Parses a request path (percent-decoded, without query) into a
/// [`ProxyRequest`], applying the go command's rules to the module path
/// (`CheckPath`) and version: a malformed encoding or path is
/// [`PathError::BadRequest`]; a non-proxy path, an unknown file, a canonical
/// version that does not fit the module (`module.Check`) or a non-canonical
/// version asked for anything but `.info` is [`PathError::NotFound`].
pub fn parse_path(path: &str) -> Result<ProxyRequest, PathError> {
    let bad = |msg: String| PathError::BadRequest(msg);
    let not_found = |msg: String| PathError::NotFound(msg);
    let p = path.strip_prefix('/').unwrap_or(path);
    let module_of = |enc: &str| -> Result<String, PathError> {
        let m = gomod::module::unescape_path(enc).map_err(|e| bad(format!("bad request: {e}")))?;
        gomod::module::check_path(&m).map_err(|e| bad(format!("bad request: {e}")))?;
        Ok(m)
    };
    if let Some(enc) = p.strip_suffix("/@latest") {
        return Ok(ProxyRequest::Latest {
            module: module_of(enc)?,
        });
    }
    let Some((enc, file)) = p.rsplit_once("/@v/") else {
        return Err(not_found(format!(
            "not found: {path}: not a module proxy path"
        )));
    };
    let module = module_of(enc)?;
    if file == "list" {
        return Ok(ProxyRequest::List { module });
    }
    let Some((enc_v, ext)) = file.rsplit_once('.') else {
        return Err(not_found(format!("not found: unknown file {file:?}")));
    };
    let Some(ext) = FileKind::from_ext(ext) else {
        return Err(not_found(format!("not found: unknown file {file:?}")));
    };
    let version =
        gomod::module::unescape_version(enc_v).map_err(|e| bad(format!("bad request: {e}")))?;
    let canonical = gomod::module::canonical_version(&version) == version;
    if canonical {
        if let Err(e) = gomod::module::check(&module, &version) {
            return Err(not_found(format!("not found: {e}")));
        }
        return Ok(ProxyRequest::Versioned {
            module,
            version,
            ext,
        });
    }
    if ext == FileKind::Info {
        return Ok(ProxyRequest::Query {
            module,
            query: version,
        });
    }
    Err(not_found(format!(
        "not found: {module}@{version}: version is not canonical"
    )))
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hx = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hx, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The case-encoded form of a module path, as it appears in paths and keys.
pub fn escaped_module(module: &str) -> Result<String, PathError> {
    gomod::module::escape_path(module).map_err(|e| PathError::NotFound(e.to_string()))
}

/// The case-encoded form of a version (or query), as it appears in paths.
pub fn escaped_version(version: &str) -> Result<String, PathError> {
    gomod::module::escape_version(version).map_err(|e| PathError::NotFound(e.to_string()))
}

/// The store key of a versioned file: case-encoded path and version.
pub fn versioned_key(module: &str, version: &str, ext: FileKind) -> Result<String, PathError> {
    let p = escaped_module(module)?;
    let v = escaped_version(version)?;
    Ok(format!("{p}/@v/{v}.{}", ext.as_str()))
}

/// The store key of a module's `list`.
pub fn list_key(module: &str) -> Result<String, PathError> {
    Ok(format!("{}/@v/list", escaped_module(module)?))
}

/// The store key of a module's `@latest`.
pub fn latest_key(module: &str) -> Result<String, PathError> {
    Ok(format!("{}/@latest", escaped_module(module)?))
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

    fn is_bad(r: Result<ProxyRequest, PathError>) -> bool {
        matches!(r, Err(PathError::BadRequest(_)))
    }
    fn is_not_found(r: Result<ProxyRequest, PathError>) -> bool {
        matches!(r, Err(PathError::NotFound(_)))
    }

    #[test]
    fn parses_proxy_paths() {
        assert_eq!(
            parse_path("/github.com/!azure/go/@v/v1.2.3.zip"),
            Ok(ProxyRequest::Versioned {
                module: "github.com/Azure/go".into(),
                version: "v1.2.3".into(),
                ext: FileKind::Zip
            })
        );
        assert_eq!(
            parse_path("/example.com/m/@v/list"),
            Ok(ProxyRequest::List {
                module: "example.com/m".into()
            })
        );
        assert_eq!(
            parse_path("/example.com/m/@latest"),
            Ok(ProxyRequest::Latest {
                module: "example.com/m".into()
            })
        );
        assert_eq!(
            parse_path("/example.com/m/@v/master.info"),
            Ok(ProxyRequest::Query {
                module: "example.com/m".into(),
                query: "master".into()
            })
        );
        assert_eq!(
            parse_path("/example.com/m/@v/v2.0.0+incompatible.mod"),
            Ok(ProxyRequest::Versioned {
                module: "example.com/m".into(),
                version: "v2.0.0+incompatible".into(),
                ext: FileKind::Mod
            })
        );
        // Malformed: bad escapes, invalid paths → 400; wrong versions → 404.
        assert!(is_bad(parse_path("/github.com/Azure/go/@v/list")));
        assert!(is_bad(parse_path("/-x/@v/list")));
        assert!(is_not_found(parse_path("/example.com/m/@v/v2.0.0.zip")));
        assert!(is_not_found(parse_path("/example.com/m/@v/master.zip")));
        assert!(is_not_found(parse_path("/example.com/m/@v/v1.0.0.tar")));
        assert!(is_not_found(parse_path("/favicon.ico")));
        assert!(is_bad(parse_path("/example.com/m/@v/V1.0.0.zip")));
        assert_eq!(
            parse_path("/favicon.ico").unwrap_err().message(),
            "not found: /favicon.ico: not a module proxy path"
        );
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("/a%21b").as_deref(), Some("/a!b"));
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/a%zz"), None);
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
