//! go-import discovery pages and the static repository rules.
//!
//! Input: arbitrary bytes, read as an HTML page (never a panic; every tag
//! returned has 3 or 4 fields' worth of non-blank, space-free values; the
//! tag picked for a path covers it), and, when UTF-8, as an import path
//! for the static rules (a root found is a prefix of the path in whole
//! elements, and its repository URL has a scheme).
#![no_main]

use gomod::vcs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for prefer_mod in [true, false] {
        let imports = vcs::parse_meta_go_imports(data, prefer_mod);
        for im in &imports {
            for f in [&im.prefix, &im.vcs, &im.repo_root] {
                assert!(
                    !f.is_empty() && !f.chars().any(char::is_whitespace),
                    "{im:?}"
                );
            }
            assert!(!im.subdir.chars().any(char::is_whitespace), "{im:?}");
            assert!(prefer_mod || im.vcs != "mod", "{im:?}");
            if let Ok(m) = vcs::match_go_import(&imports, &im.prefix) {
                assert!(vcs::has_path_prefix(&im.prefix, &m.prefix), "{m:?}");
            }
        }
    }
    if let Ok(path) = std::str::from_utf8(data) {
        if let Ok(Some(rr)) = vcs::static_root(path) {
            assert!(vcs::has_path_prefix(path, &rr.root), "{path:?}: {rr:?}");
            assert!(
                vcs::validate_repo_root(&rr.repo).is_ok(),
                "{path:?}: {rr:?}"
            );
        }
    }
});
