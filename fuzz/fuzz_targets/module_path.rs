//! Module, import and file paths; case-encoding; major-version suffixes.
//!
//! Input: arbitrary UTF-8. The whole input is tried as a path and as a
//! version; if it contains `@`, also as `path@version`.
#![no_main]

use gomod::{module, semver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    check_path_functions(s);
    check_version_escaping(s);
    if let Some((path, version)) = s.split_once('@') {
        check_module_version(path, version);
    }
});

fn check_path_functions(s: &str) {
    let module_ok = module::check_path(s).is_ok();
    let import_ok = module::check_import_path(s).is_ok();
    let file_ok = module::check_file_path(s).is_ok();
    // Each kind of path is a restriction of the next.
    assert!(
        !module_ok || import_ok,
        "module path but not import path: {s:?}"
    );
    assert!(
        !import_ok || file_ok,
        "import path but not file path: {s:?}"
    );

    // split_path_version: prefix + suffix == path, and every valid module
    // path splits.
    let split = module::split_path_version(s);
    if let Some((prefix, major)) = split {
        assert_eq!(format!("{prefix}{major}"), s, "split_path_version");
        // `.v-unstable` (no digits) is split off as Go splits it, but names
        // no major version (Go's PathMajorPrefix panics on it).
        assert!(
            major == ".v-unstable" || module::path_major_prefix(major).is_some(),
            "path_major_prefix rejects the suffix {major:?} split from {s:?}"
        );
    }
    if module_ok {
        assert!(split.is_some(), "valid module path does not split: {s:?}");
    }

    // escape_path succeeds exactly on valid module paths, produces no
    // upper case, and unescape_path inverts it.
    match module::escape_path(s) {
        Ok(escaped) => {
            assert!(module_ok, "escape_path accepted invalid path {s:?}");
            assert!(escaped.is_ascii() && !escaped.bytes().any(|b| b.is_ascii_uppercase()));
            let back = module::unescape_path(&escaped)
                .unwrap_or_else(|e| panic!("unescape_path({escaped:?}) of {s:?}: {e}"));
            assert_eq!(back, s, "unescape_path(escape_path(p)) != p");
        }
        Err(_) => assert!(!module_ok, "escape_path rejected valid path {s:?}"),
    }
    // And the other way round: anything unescape_path accepts is the unique
    // encoding of a valid path.
    if let Ok(p) = module::unescape_path(s) {
        assert!(module::check_path(&p).is_ok());
        let again = module::escape_path(&p)
            .unwrap_or_else(|e| panic!("escape_path({p:?}) (unescaped from {s:?}): {e}"));
        assert_eq!(again, s, "escape_path(unescape_path(e)) != e");
    }
}

fn check_version_escaping(s: &str) {
    if let Ok(escaped) = module::escape_version(s) {
        assert!(!escaped.bytes().any(|b| b.is_ascii_uppercase()));
        let back = module::unescape_version(&escaped)
            .unwrap_or_else(|e| panic!("unescape_version({escaped:?}) of {s:?}: {e}"));
        assert_eq!(back, s, "unescape_version(escape_version(v)) != v");
    }
    if let Ok(v) = module::unescape_version(s) {
        let again = module::escape_version(&v)
            .unwrap_or_else(|e| panic!("escape_version({v:?}) (unescaped from {s:?}): {e}"));
        assert_eq!(again, s, "escape_version(unescape_version(e)) != e");
    }
    // module::canonical_version keeps +incompatible and nothing else.
    let c = module::canonical_version(s);
    if semver::is_valid(s) {
        assert!(
            semver::is_valid(&c),
            "canonical_version({s:?}) = {c:?} is invalid"
        );
        assert_eq!(semver::compare(s, &c), std::cmp::Ordering::Equal);
    } else {
        assert_eq!(c, "");
    }
}

fn check_module_version(path: &str, version: &str) {
    let ok = module::check(path, version).is_ok();
    if ok {
        assert!(module::check_path(path).is_ok());
        assert!(semver::is_valid(version));
        let (_, major) = module::split_path_version(path).expect("valid path splits");
        assert!(module::match_path_major(version, major));
    }
    for major in ["", "/v2", ".v1", ".v2-unstable", path] {
        let _ = module::check_path_major(version, major);
        let _ = module::path_major_prefix(major);
    }
    match module::ProxyPaths::new(path, version) {
        Ok(p) => {
            let ep = module::escape_path(path).expect("ProxyPaths escaped the path");
            let ev = module::escape_version(version).expect("ProxyPaths escaped the version");
            assert_eq!(p.zip, format!("/{ep}/@v/{ev}.zip"));
            assert_eq!(p.sumdb_lookup, format!("/lookup/{ep}@{ev}"));
        }
        Err(_) => {
            assert!(module::escape_path(path).is_err() || module::escape_version(version).is_err())
        }
    }
    let mut list = [path, version, "v1.0.0"];
    module::sort_versions(&mut list);
    assert!(list
        .windows(2)
        .all(|w| module::compare_versions(w[0], w[1]).is_le()));
}
