//! The request paths of the GOPROXY protocol (go.dev/ref/mod#goproxy-protocol),
//! parsed the way a module proxy must read them.
//!
//! # The rule
//!
//! A request path (already percent-decoded, see [`percent_decode`]; without
//! the query) is one of
//!
//! ```text
//! /<module>/@v/list
//! /<module>/@latest
//! /<module>/@v/<version>.info|.mod|.zip
//! ```
//!
//! where `<module>` and `<version>` are case-encoded (`!` + lower case for an
//! upper-case letter, [`module::escape_path`], [`module::escape_version`]).
//! The leading `/` may be missing. Which requests are malformed
//! ([`PathError::BadRequest`], HTTP 400) and which name nothing a proxy can
//! have ([`PathError::NotFound`], HTTP 404, after which the go command tries
//! its next proxy):
//!
//! * The module path must decode and pass [`module::check_path`]; else bad
//!   request. A path with neither `/@latest` at its end nor `/@v/` in it is
//!   not found.
//! * The file after the last `/@v/` is `list`, or a version and an extension
//!   `info`, `mod` or `zip`; any other file is not found.
//! * The version must decode ([`module::unescape_version`]); else bad
//!   request. A canonical version ([`module::canonical_version`]) must fit
//!   the module path ([`module::check`], e.g. the major-version suffix); else
//!   not found. A non-canonical version is a query (`master`, `v1`, a
//!   commit), answered only for `.info`; for `.mod` and `.zip` it is not
//!   found.

use crate::module;

/// The file of a module version that a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `.info`: JSON metadata (`Version`, `Time`).
    Info,
    /// `.mod`: the go.mod file.
    Mod,
    /// `.zip`: the module zip.
    Zip,
}

impl FileKind {
    /// The extension, without the dot: `info`, `mod` or `zip`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Info => "info",
            FileKind::Mod => "mod",
            FileKind::Zip => "zip",
        }
    }

    /// The kind whose extension (without the dot) is exactly `ext`; `None`
    /// for anything else (case matters: `ZIP` is not `zip`).
    pub fn from_ext(ext: &str) -> Option<FileKind> {
        match ext {
            "info" => Some(FileKind::Info),
            "mod" => Some(FileKind::Mod),
            "zip" => Some(FileKind::Zip),
            _ => None,
        }
    }
}

/// A parsed GOPROXY request. Module paths and versions are decoded (not
/// case-encoded) and have passed the checks of the [module rule](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyRequest {
    /// `/<module>/@v/list`.
    List {
        /// The module path.
        module: String,
    },
    /// `/<module>/@latest`.
    Latest {
        /// The module path.
        module: String,
    },
    /// `/<module>/@v/<version>.<kind>` for a canonical version that fits the
    /// module path.
    Versioned {
        /// The module path.
        module: String,
        /// The canonical version.
        version: String,
        /// The file asked for.
        kind: FileKind,
    },
    /// `/<module>/@v/<query>.info` for a query that is not a canonical
    /// version.
    Query {
        /// The module path.
        module: String,
        /// The query, decoded.
        query: String,
    },
}

/// Why a request path is refused. Each variant holds the reason; the
/// message is the reason after `bad request: ` or `not found: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The request is malformed (HTTP 400): a module path or version that
    /// does not decode or is not valid.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request names nothing a proxy can serve (HTTP 404): not a proxy
    /// path, an unknown file, a version that does not fit the module path,
    /// or a query for anything but `.info`.
    #[error("not found: {0}")]
    NotFound(String),
}

/// Parses a request path (percent-decoded, without the query) into a
/// [`ProxyRequest`], by the [rule](self) of this module: the module path
/// must decode and pass [`module::check_path`], the version must decode,
/// and a canonical version must fit the module path.
pub fn parse_path(path: &str) -> Result<ProxyRequest, PathError> {
    let bad = |e: module::Error| PathError::BadRequest(e.to_string());
    let p = path.strip_prefix('/').unwrap_or(path);
    let module_of = |enc: &str| -> Result<String, PathError> {
        let m = module::unescape_path(enc).map_err(bad)?;
        module::check_path(&m).map_err(bad)?;
        Ok(m)
    };
    if let Some(enc) = p.strip_suffix("/@latest") {
        return Ok(ProxyRequest::Latest {
            module: module_of(enc)?,
        });
    }
    let Some((enc, file)) = p.rsplit_once("/@v/") else {
        return Err(PathError::NotFound(format!(
            "{path}: not a module proxy path"
        )));
    };
    let module = module_of(enc)?;
    if file == "list" {
        return Ok(ProxyRequest::List { module });
    }
    let unknown = || PathError::NotFound(format!("unknown file {file:?}"));
    let Some((enc_v, ext)) = file.rsplit_once('.') else {
        return Err(unknown());
    };
    let kind = FileKind::from_ext(ext).ok_or_else(unknown)?;
    let version = module::unescape_version(enc_v).map_err(bad)?;
    if module::canonical_version(&version) == version {
        if let Err(e) = module::check(&module, &version) {
            return Err(PathError::NotFound(e.to_string()));
        }
        return Ok(ProxyRequest::Versioned {
            module,
            version,
            kind,
        });
    }
    if kind == FileKind::Info {
        return Ok(ProxyRequest::Query {
            module,
            query: version,
        });
    }
    Err(PathError::NotFound(format!(
        "{module}@{version}: version is not canonical"
    )))
}

/// Decodes the `%XX` escapes of a URL path: `%` must be followed by two
/// hexadecimal digits (either case), and the decoded bytes must be UTF-8;
/// `None` otherwise. Nothing else is changed (`+` stays `+`).
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex_digit(*b.get(i + 1)?)?;
            let lo = hex_digit(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The value of one hexadecimal digit.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_paths() {
        assert_eq!(
            parse_path("/github.com/!azure/go/@v/v1.2.3.zip"),
            Ok(ProxyRequest::Versioned {
                module: "github.com/Azure/go".into(),
                version: "v1.2.3".into(),
                kind: FileKind::Zip
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
                kind: FileKind::Mod
            })
        );
        // The leading slash is optional.
        assert_eq!(
            parse_path("example.com/m/@v/list"),
            parse_path("/example.com/m/@v/list")
        );
        // Malformed: bad escapes, invalid paths → 400; wrong versions → 404.
        let bad = |p: &str| matches!(parse_path(p), Err(PathError::BadRequest(_)));
        let not_found = |p: &str| matches!(parse_path(p), Err(PathError::NotFound(_)));
        assert!(bad("/github.com/Azure/go/@v/list"));
        assert!(bad("/-x/@v/list"));
        assert!(not_found("/example.com/m/@v/v2.0.0.zip"));
        assert!(not_found("/example.com/m/@v/master.zip"));
        assert!(not_found("/example.com/m/@v/v1.0.0.tar"));
        assert!(not_found("/favicon.ico"));
        assert!(bad("/example.com/m/@v/V1.0.0.zip"));
    }

    #[test]
    fn messages() {
        let msg = |p: &str| parse_path(p).unwrap_err().to_string();
        assert_eq!(
            msg("/favicon.ico"),
            "not found: /favicon.ico: not a module proxy path"
        );
        assert_eq!(
            msg("/example.com/m/@v/v1.0.0.tar"),
            "not found: unknown file \"v1.0.0.tar\""
        );
        assert_eq!(
            msg("/example.com/m/@v/noext"),
            "not found: unknown file \"noext\""
        );
        assert_eq!(
            msg("/example.com/m/@v/master.zip"),
            "not found: example.com/m@master: version is not canonical"
        );
        assert_eq!(
            msg("/example.com/m/@v/v2.0.0.zip"),
            format!(
                "not found: {}",
                module::check("example.com/m", "v2.0.0").unwrap_err()
            )
        );
        assert_eq!(
            msg("/-x/@v/list"),
            format!("bad request: {}", module::unescape_path("-x").unwrap_err())
        );
        assert_eq!(
            msg("/example.com/m/@v/V1.0.0.zip"),
            format!(
                "bad request: {}",
                module::unescape_version("V1.0.0").unwrap_err()
            )
        );
    }

    #[test]
    fn file_kinds() {
        for kind in [FileKind::Info, FileKind::Mod, FileKind::Zip] {
            assert_eq!(FileKind::from_ext(kind.as_str()), Some(kind));
        }
        assert_eq!(FileKind::from_ext("ZIP"), None);
        assert_eq!(FileKind::from_ext(""), None);
        assert_eq!(FileKind::from_ext("list"), None);
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("/a%21b").as_deref(), Some("/a!b"));
        assert_eq!(percent_decode("/a%2"), None);
        assert_eq!(percent_decode("/a%zz"), None);
        assert_eq!(percent_decode("/a%C3%A9").as_deref(), Some("/aé"));
        assert_eq!(percent_decode("/a%c3%a9").as_deref(), Some("/aé"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        // Not UTF-8 once decoded.
        assert_eq!(percent_decode("/a%ff"), None);
        // Two hex digits exactly: a sign is not a digit.
        assert_eq!(percent_decode("/a%+1"), None);
        assert_eq!(percent_decode("%"), None);
    }
}
