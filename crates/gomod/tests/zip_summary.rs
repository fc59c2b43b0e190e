//! `zip::check_and_hash_zip` (the one-pass check used by admission) agrees
//! with `check_zip`, `dirhash::hash_zip` and the zip's go.mod.

use gomod::zip::{self, MemFile};
use std::io::Cursor;

fn make(path: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let files: Vec<MemFile> = files
        .iter()
        .map(|(p, d)| MemFile {
            path: p.to_string(),
            data: d.to_vec(),
        })
        .collect();
    let mut out = Cursor::new(Vec::new());
    zip::create(&mut out, path, version, &files).unwrap();
    out.into_inner()
}

/// A module path, a version and its files.
type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a [u8])>);

#[test]
fn summary_matches_the_separate_functions() {
    let cases: Vec<Case> = vec![
        (
            "example.com/m",
            "v1.0.0",
            vec![
                ("go.mod", b"module example.com/m\n"),
                ("a.go", b"package m\n"),
            ],
        ),
        (
            "example.com/m",
            "v1.0.0",
            vec![("a.go", b"package m\n"), ("sub/b.go", b"package sub\n")],
        ),
        (
            "example.com/m/v2",
            "v2.0.0",
            vec![("go.mod", b"module example.com/m/v2\n"), ("LICENSE", b"")],
        ),
        ("example.com/m", "v1.0.0", vec![]),
    ];
    for (path, version, files) in cases {
        let z = make(path, version, &files);
        let s = zip::check_and_hash_zip(path, version, Cursor::new(&z)).unwrap();
        assert_eq!(
            s.checked,
            zip::check_zip(path, version, Cursor::new(&z)).unwrap()
        );
        assert_eq!(
            s.h1.as_deref(),
            Some(gomod::dirhash::hash_zip(Cursor::new(&z)).unwrap().as_str())
        );
        let want_mod = files
            .iter()
            .find(|(p, _)| *p == "go.mod")
            .map(|(_, d)| d.to_vec());
        assert_eq!(s.go_mod, want_mod);
    }
}

#[test]
fn invalid_zip_is_not_hashed() {
    // A valid zip for another module: every entry lacks the prefix.
    let z = make("example.com/other", "v1.0.0", &[("a.go", b"package a\n")]);
    let s = zip::check_and_hash_zip("example.com/m", "v1.0.0", Cursor::new(&z)).unwrap();
    assert!(s.checked.err().is_err());
    assert_eq!(s.h1, None);
    assert_eq!(s.go_mod, None);
    // Corrupt content (a flipped byte inside the deflated data) is an error.
    let mut z = make("example.com/m", "v1.0.0", &[("a.go", &[b'x'; 5000])]);
    let i = 80;
    z[i] ^= 0xff;
    assert!(zip::check_and_hash_zip("example.com/m", "v1.0.0", Cursor::new(&z)).is_err());
}
