//! GOPROXY request paths.
//!
//! Input: arbitrary bytes as a request path (UTF-8 with invalid sequences
//! replaced), parsed as is and after percent-decoding. Never a panic; a
//! decoded path percent-encodes back to itself; a parsed request's module
//! path passes `module::check_path`, its version or query is canonical or
//! not as its kind says, and re-escaping the request gives a path that
//! parses to the same request; a refusal's message says its class.
#![no_main]

use gomod::module;
use gomod::proxy::{self, FileKind, PathError, ProxyRequest};
use libfuzzer_sys::fuzz_target;

fn check_path(path: &str) {
    let req = match proxy::parse_path(path) {
        Ok(req) => req,
        Err(e) => {
            let (prefix, reason) = match &e {
                PathError::BadRequest(r) => ("bad request: ", r),
                PathError::NotFound(r) => ("not found: ", r),
            };
            assert_eq!(e.to_string(), format!("{prefix}{reason}"));
            return;
        }
    };
    let (module, again) = match &req {
        ProxyRequest::List { module } => (module, "@v/list".to_string()),
        ProxyRequest::Latest { module } => (module, "@latest".to_string()),
        ProxyRequest::Versioned {
            module,
            version,
            kind,
        } => {
            assert_eq!(module::canonical_version(version), *version, "{req:?}");
            assert!(module::check(module, version).is_ok(), "{req:?}");
            assert_eq!(FileKind::from_ext(kind.as_str()), Some(*kind));
            let v = module::escape_version(version).expect("a parsed version escapes");
            (module, format!("@v/{v}.{}", kind.as_str()))
        }
        ProxyRequest::Query { module, query } => {
            assert_ne!(module::canonical_version(query), *query, "{req:?}");
            let q = module::escape_version(query).expect("a parsed query escapes");
            (module, format!("@v/{q}.info"))
        }
    };
    assert!(module::check_path(module).is_ok(), "{req:?}");
    let m = module::escape_path(module).expect("a checked module path escapes");
    let again = format!("/{m}/{again}");
    assert_eq!(
        proxy::parse_path(&again).as_ref(),
        Ok(&req),
        "{path:?} re-escaped as {again:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let path = String::from_utf8_lossy(data);
    check_path(&path);
    if let Some(decoded) = proxy::percent_decode(&path) {
        if !path.contains('%') {
            assert_eq!(decoded, path);
        }
        let encoded: String = decoded.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(proxy::percent_decode(&encoded).as_deref(), Some(&*decoded));
        check_path(&decoded);
    }
});
