//! Module zip checking and hashing.
//!
//! Input: arbitrary bytes as the zip of example.com/m@v1.0.0.
#![no_main]

use std::io::Cursor;

use gomod::{dirhash, zip};
use libfuzzer_sys::fuzz_target;

const PATH: &str = "example.com/m";
const VERSION: &str = "v1.0.0";

fuzz_target!(|data: &[u8]| {
    let checked = zip::check_zip(PATH, VERSION, Cursor::new(data));
    let summary = zip::check_and_hash_zip(PATH, VERSION, Cursor::new(data));
    let hashed = dirhash::hash_zip(Cursor::new(data));

    // check_zip and check_and_hash_zip give the same verdict.
    match (&checked, &summary) {
        (Ok(cf), Ok(s)) => assert_eq!(cf, &s.checked, "verdicts differ"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "check_zip and check_and_hash_zip disagree: {:?} vs {:?}",
            a.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            b.as_ref().map(|_| ()).map_err(|e| e.to_string())
        ),
    }
    let Ok(summary) = summary else { return };
    let valid = summary.checked.err().is_ok();
    assert_eq!(
        summary.h1.is_some(),
        valid,
        "h1 present iff the zip is valid"
    );
    if !valid {
        assert!(summary.go_mod.is_none());
        return;
    }
    // (check_zip lists valid entries under their names in the zip.)
    let go_mod_name = format!("{PATH}@{VERSION}/go.mod");
    assert_eq!(
        summary.go_mod.is_some(),
        summary.checked.valid.iter().any(|p| *p == go_mod_name),
        "go_mod present iff go.mod is a valid file"
    );
    let h = summary.h1.as_deref().expect("valid zip has h1");
    // A valid module zip hashes the same through hash_zip.
    match &hashed {
        Ok(h2) => assert_eq!(h2, h, "hash_zip != check_and_hash_zip's h1"),
        Err(e) => panic!("check_and_hash_zip accepted (h1 {h}) but hash_zip failed: {e}"),
    }
    // A go.mod of the zip hashes like the go.sum /go.mod line.
    if let Some(go_mod) = &summary.go_mod {
        assert!(dirhash::hash_go_mod(go_mod).starts_with("h1:"));
    }
});
