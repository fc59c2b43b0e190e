//! Go's own test vectors for module zips (`golang.org/x/mod/zip/testdata`),
//! driven the way x/mod's `zip_test.go` drives them, plus the size-limit
//! tests of that file (with small limits, so they run fast) and tests of
//! what a corrupt or hostile zip does to the checker and the hasher.
//!
//! The vectors are read only from `testdata/gomod/zip/testdata` in this
//! crate (a copy kept in the repository; see `testdata/README.md`).
//! Missing vectors are a failure, never a skip.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Cursor, Read};

use gomod::zip::{
    self as modzip, CheckedFiles, Error, File, FileErrorList, FileInfo, FileKind, Limits, SizeError,
};
use gomod::{archive, dirhash};
use support::txtar::{vector_files, Vector};
use support::zips::{
    crc32, deflate_zip, go_simple_zip, lying_zip, patch, raw_zip, raw_zip_with_extra, small_limits,
    txtar_zip,
};

// ---------------------------------------------------------------------------
// Cases we deliberately do not run as Go does
// ---------------------------------------------------------------------------

/// Vector cases that are expected to fail here, with the reason. A listed
/// case that starts passing fails its test, so the table stays true.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "create/invalid_utf8_mod_path",
        "module paths are &str in this API; a path that is not UTF-8 cannot be passed",
    ),
    (
        "create_from_dir/invalid_utf8_mod_path",
        "module paths are &str in this API; a path that is not UTF-8 cannot be passed",
    ),
    (
        "unzip/invalid_utf8_mod_path",
        "module paths are &str in this API; a path that is not UTF-8 cannot be passed",
    ),
];

// ---------------------------------------------------------------------------
// Running the vectors
// ---------------------------------------------------------------------------

/// Runs every vector of `kind`, checks the outcome of each against the
/// table of known differences, prints and returns the number run.
fn run_vectors(kind: &str, run: impl Fn(&mut Vector) -> Result<(), String>) -> usize {
    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in vector_files(kind) {
        let mut v = Vector::load(&file);
        count += 1;
        let result = run(&mut v);
        match (result, known.get(v.name.as_str())) {
            (Ok(()), None) => {}
            (Ok(()), Some(reason)) => failures.push(format!(
                "{}: passes now, but is listed as a known difference ({reason}); remove it from \
                 KNOWN_DIFFERENCES",
                v.name
            )),
            (Err(e), None) => failures.push(format!("{}: {e}", v.name)),
            (Err(e), Some(reason)) => {
                println!("{}: known difference ({reason}): {e}", v.name);
            }
        }
    }
    println!("{kind}: ran {count} vectors");
    assert!(count > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A file for [`modzip::create`] whose reported size may differ from its
/// content, like x/mod's `fakeFile`; without data, its content is zeros.
struct FakeFile {
    name: String,
    size: u64,
    data: Option<Vec<u8>>,
}

impl FakeFile {
    fn new(name: &str, data: &[u8]) -> FakeFile {
        FakeFile {
            name: name.to_string(),
            size: data.len() as u64,
            data: Some(data.to_vec()),
        }
    }
    fn zeros(name: &str, size: u64) -> FakeFile {
        FakeFile {
            name: name.to_string(),
            size,
            data: None,
        }
    }
}

impl File for FakeFile {
    fn path(&self) -> &str {
        &self.name
    }
    fn lstat(&self) -> io::Result<FileInfo> {
        Ok(FileInfo {
            kind: FileKind::Regular,
            size: self.size,
        })
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        match &self.data {
            Some(d) => Ok(Box::new(&d[..])),
            None => Ok(Box::new(io::repeat(0).take(self.size))),
        }
    }
}

/// x/mod's `formatCheckedFiles`.
fn format_checked_files(cf: &CheckedFiles) -> String {
    let mut s = String::from("valid:\n");
    for f in &cf.valid {
        s += &format!("{f}\n");
    }
    s += "\nomitted:\n";
    for f in &cf.omitted {
        s += &format!("{}: {}\n", f.path, f.kind);
    }
    s += "\ninvalid:\n";
    for f in &cf.invalid {
        s += &format!("{}: {}\n", f.path, f.kind);
    }
    s
}

/// Checks that `cf.err()` is just the list of invalid files (size errors
/// are not covered by the check_* vectors).
fn check_err_is_invalid_list(cf: &CheckedFiles) -> Result<(), String> {
    let want = if cf.invalid.is_empty() {
        String::new()
    } else {
        FileErrorList(cf.invalid.clone()).to_string()
    };
    let got = match cf.err() {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    };
    if got != want {
        return Err(format!("got error:\n{got}\n\nwant error:\n{want}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The vectors
// ---------------------------------------------------------------------------

#[test]
fn create_vectors() {
    run_vectors("create", |v| {
        let path = v.module_path()?;
        let files: Vec<FakeFile> = v
            .archive
            .files
            .iter()
            .map(|(n, d)| FakeFile::new(n, d))
            .collect();
        let mut zip = Vec::new();
        let result = modzip::create(&mut zip, path, &v.version, &files);
        if !v.check_outcome(result)? {
            return Ok(());
        }
        let hash = dirhash::hash_zip(Cursor::new(&zip)).map_err(|e| e.to_string())?;
        if hash != v.hash {
            return Err(format!("got hash {hash:?}; want {:?}", v.hash));
        }
        // What we wrote must pass our own check.
        let cf =
            modzip::check_zip(path, &v.version, Cursor::new(&zip)).map_err(|e| e.to_string())?;
        cf.err()
            .map_err(|e| format!("created zip fails check_zip: {e}"))
    });
}

#[test]
fn create_from_dir_vectors() {
    run_vectors("create_from_dir", |v| {
        let path = v.module_path()?;
        let tmp = tempfile::tempdir().unwrap();
        v.extract_to(tmp.path());
        let mut zip = Vec::new();
        let result = modzip::create_from_dir(&mut zip, path, &v.version, tmp.path());
        if !v.check_outcome(result)? {
            return Ok(());
        }
        let hash = dirhash::hash_zip(Cursor::new(&zip)).map_err(|e| e.to_string())?;
        if hash != v.hash {
            return Err(format!("got hash {hash:?}; want {:?}", v.hash));
        }
        Ok(())
    });
}

#[test]
fn unzip_vectors() {
    run_vectors("unzip", |v| {
        let path = v.module_path()?;
        let zip = txtar_zip(v);
        let tmp = tempfile::tempdir().unwrap();
        let result = modzip::unzip(tmp.path(), path, &v.version, Cursor::new(&zip));
        if !v.check_outcome(result)? {
            return Ok(());
        }
        let prefix = format!("{path}@{}/", v.version);
        let hash = dirhash::hash_dir(tmp.path(), &prefix).map_err(|e| e.to_string())?;
        if hash != v.hash {
            return Err(format!("got hash {hash:?}; want {:?}", v.hash));
        }
        Ok(())
    });
}

#[test]
fn check_zip_vectors() {
    run_vectors("check_zip", |v| {
        let want = v.take_want();
        let path = v.module_path()?;
        let zip = txtar_zip(v);
        let cf = modzip::check_zip(path, &v.version, Cursor::new(&zip))
            .map_err(|e| format!("I/O or structure error: {e}"))?;
        let got = format_checked_files(&cf);
        if got != want {
            return Err(format!("got:\n{got}\n\nwant:\n{want}"));
        }
        check_err_is_invalid_list(&cf)
    });
}

#[test]
fn check_dir_vectors() {
    run_vectors("check_dir", |v| {
        let want = v.take_want();
        let tmp = tempfile::tempdir().unwrap();
        v.extract_to(tmp.path());
        let cf = modzip::check_dir(tmp.path()).map_err(|e| format!("I/O error: {e}"))?;
        let got = format_checked_files(&cf).replace(&tmp.path().display().to_string(), "$work");
        if got != want {
            return Err(format!("got:\n{got}\n\nwant:\n{want}"));
        }
        check_err_is_invalid_list(&cf)
    });
}

#[test]
fn check_files_vectors() {
    run_vectors("check_files", |v| {
        let want = v.take_want();
        let files: Vec<FakeFile> = v
            .archive
            .files
            .iter()
            .map(|(n, d)| FakeFile::new(n, d))
            .collect();
        let cf = modzip::check_files(&files);
        let got = format_checked_files(&cf);
        if got != want {
            return Err(format!("got:\n{got}\n\nwant:\n{want}"));
        }
        check_err_is_invalid_list(&cf)
    });
}

// ---------------------------------------------------------------------------
// Size limits (x/mod's sizeLimitTests, scaled down)
// ---------------------------------------------------------------------------

struct SizeLimitCase {
    desc: &'static str,
    files: Vec<FakeFile>,
    want_err: &'static str,
    want_check_files_err: &'static str,
    want_create_err: &'static str,
    want_check_zip_err: &'static str,
    want_unzip_err: &'static str,
}

fn size_limit_cases(l: &Limits) -> Vec<SizeLimitCase> {
    let case = |desc, files, want_err| SizeLimitCase {
        desc,
        files,
        want_err,
        want_check_files_err: "",
        want_create_err: "",
        want_check_zip_err: "",
        want_unzip_err: "",
    };
    let too_large = |desc, files| SizeLimitCase {
        desc,
        files,
        want_err: "",
        want_check_files_err: "module source tree too large",
        want_create_err: "module source tree too large",
        want_check_zip_err: "total uncompressed size of module contents too large",
        want_unzip_err: "total uncompressed size of module contents too large",
    };
    vec![
        case(
            "one_large",
            vec![FakeFile::zeros("large.go", l.max_unzipped)],
            "",
        ),
        too_large(
            "one_too_large",
            vec![FakeFile::zeros("large.go", l.max_unzipped + 1)],
        ),
        case(
            "total_large",
            vec![
                FakeFile::zeros("small.go", 10),
                FakeFile::zeros("large.go", l.max_unzipped - 10),
            ],
            "",
        ),
        too_large(
            "total_too_large",
            vec![
                FakeFile::zeros("small.go", 10),
                FakeFile::zeros("large.go", l.max_unzipped - 9),
            ],
        ),
        case(
            "large_gomod",
            vec![FakeFile::zeros("go.mod", l.max_go_mod)],
            "",
        ),
        case(
            "too_large_gomod",
            vec![FakeFile::zeros("go.mod", l.max_go_mod + 1)],
            "go.mod file too large",
        ),
        case(
            "large_license",
            vec![FakeFile::zeros("LICENSE", l.max_license)],
            "",
        ),
        case(
            "too_large_license",
            vec![FakeFile::zeros("LICENSE", l.max_license + 1)],
            "LICENSE file too large",
        ),
    ]
}

fn expect(what: &str, desc: &str, result: Result<(), Error>, want: &str) {
    match result {
        Ok(()) if !want.is_empty() => {
            panic!("{desc}: {what}: unexpected success; want error containing {want:?}")
        }
        Err(e) if want.is_empty() => panic!("{desc}: {what}: got error {e}; want success"),
        Err(e) if !e.to_string().contains(want) => {
            panic!("{desc}: {what}: got error {e}; want error containing {want:?}")
        }
        _ => {}
    }
}

fn or<'a>(specific: &'a str, general: &'a str) -> &'a str {
    if specific.is_empty() {
        general
    } else {
        specific
    }
}

#[test]
fn create_size_limits() {
    let l = small_limits();
    let mut cases = size_limit_cases(&l);
    cases.push(SizeLimitCase {
        desc: "negative",
        files: vec![FakeFile::zeros("neg.go", 0x8000_0000_0000_0000)],
        want_err: "module source tree too large",
        want_check_files_err: "",
        want_create_err: "",
        want_check_zip_err: "",
        want_unzip_err: "",
    });
    cases.push(SizeLimitCase {
        desc: "size_is_a_lie",
        files: vec![FakeFile {
            name: "lie.go".into(),
            size: 1,
            data: Some(b"package large".to_vec()),
        }],
        want_err: "",
        want_check_files_err: "",
        want_create_err: "larger than declared size",
        want_check_zip_err: "",
        want_unzip_err: "",
    });
    for c in &cases {
        let cf = modzip::check_files_with_limits(&c.files, &l);
        expect(
            "check_files",
            c.desc,
            cf.err(),
            or(c.want_check_files_err, c.want_err),
        );
        let result =
            modzip::create_with_limits(io::sink(), "example.com/large", "v1.0.0", &c.files, &l);
        expect("create", c.desc, result, or(c.want_create_err, c.want_err));
    }
    println!("create_size_limits: ran {} cases", cases.len());
}

#[test]
fn unzip_size_limits() {
    let l = small_limits();
    let cases = size_limit_cases(&l);
    for c in &cases {
        let mut datas = Vec::new();
        for f in &c.files {
            let mut d = Vec::new();
            f.open().unwrap().read_to_end(&mut d).unwrap();
            datas.push((format!("example.com/large@v1.0.0/{}", f.name), d));
        }
        let entries: Vec<(&str, &[u8])> = datas.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        let zip = deflate_zip(&entries);

        let result =
            modzip::check_zip_with_limits("example.com/large", "v1.0.0", Cursor::new(&zip), &l)
                .and_then(|cf| cf.err());
        expect(
            "check_zip",
            c.desc,
            result,
            or(c.want_check_zip_err, c.want_err),
        );
        let tmp = tempfile::tempdir().unwrap();
        let result = modzip::unzip_with_limits(
            tmp.path(),
            "example.com/large",
            "v1.0.0",
            Cursor::new(&zip),
            &l,
        );
        expect("unzip", c.desc, result, or(c.want_unzip_err, c.want_err));
    }
    println!("unzip_size_limits: ran {} cases", cases.len());
}

#[test]
fn unzip_size_limits_special() {
    let l = small_limits();
    let unzip = |zip: &[u8]| {
        let tmp = tempfile::tempdir().unwrap();
        modzip::unzip_with_limits(tmp.path(), "example.com/m", "v1.0.0", Cursor::new(zip), &l)
    };
    // A file of exactly the limit is read (and is not a zip).
    let junk = vec![0u8; l.max_zip_file as usize];
    expect("unzip", "large_zip", unzip(&junk), "not a valid zip file");
    // One byte more is refused before it is read.
    let junk = vec![0u8; l.max_zip_file as usize + 1];
    expect(
        "unzip",
        "too_large_zip",
        unzip(&junk),
        "module zip file is too large",
    );
    let err = modzip::check_zip_with_limits("example.com/m", "v1.0.0", Cursor::new(&junk), &l)
        .unwrap()
        .err()
        .unwrap_err();
    assert!(
        matches!(err, Error::Size(SizeError::ZipFile { .. })),
        "{err}"
    );

    // The go.mod's declared size (0xAC) is smaller than its content (0xBAD).
    let data = vec![0u8; 0x0BAD];
    let mut zip = deflate_zip(&[("example.com/m@v1.0.0/go.mod", &data)]);
    assert_eq!(patch(&mut zip, &[0xAD, 0x0B, 0, 0], &[0xAC, 0, 0, 0]), 2);
    expect(
        "unzip",
        "size_is_a_lie",
        unzip(&zip),
        "uncompressed size is larger than declared size",
    );
}

// ---------------------------------------------------------------------------
// Corrupt and hostile zips
// ---------------------------------------------------------------------------

const SIMPLE_HASH: &str = "h1:tpqYOOmuilagXzyqoJ3roUjp8gneQeTv5YVpL6BG7/k=";

#[test]
fn go_written_zip_is_accepted_and_hashes_like_go() {
    let zip = go_simple_zip();
    assert_eq!(dirhash::hash_zip(Cursor::new(&zip)).unwrap(), SIMPLE_HASH);
    let cf = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap();
    cf.err().unwrap();
    assert_eq!(cf.valid.len(), 3);
    let tmp = tempfile::tempdir().unwrap();
    modzip::unzip(tmp.path(), "example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap();
    assert_eq!(
        dirhash::hash_dir(tmp.path(), "example.com/m@v1.0.0").unwrap(),
        SIMPLE_HASH
    );
}

#[test]
fn data_descriptor_crc_must_match() {
    let mut zip = go_simple_zip();
    // The first data descriptor: signature, then the CRC-32 of go.mod.
    let crc = 0x1be4_cd49u32.to_le_bytes();
    let at = zip
        .windows(8)
        .position(|w| w[..4] == 0x0807_4b50u32.to_le_bytes() && w[4..] == crc)
        .expect("descriptor");
    zip[at + 4] ^= 1;
    let err = dirhash::hash_zip(Cursor::new(&zip)).unwrap_err();
    assert!(err.to_string().contains("data descriptor"), "{err}");
    let err = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(err, Error::Archive(archive::Error::Corrupt { .. })),
        "{err}"
    );
}

#[test]
fn lying_declared_size_is_rejected() {
    let zip = lying_zip(0x0003_1337, 0x100);
    let err = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(&err, Error::Archive(archive::Error::Corrupt { detail, .. }) if detail.contains("larger than")),
        "{err}"
    );
    let err = dirhash::hash_zip(Cursor::new(&zip)).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let err = modzip::unzip(&out, "example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(err.inner(), Error::Archive(archive::Error::Corrupt { .. })),
        "{err}"
    );
    assert!(!out.exists(), "a failed unzip removes what it wrote");
}

#[test]
fn declared_size_larger_than_content_is_rejected() {
    let data = b"module example.com/m\n";
    let zip = raw_zip(&[(
        b"example.com/m@v1.0.0/go.mod",
        data,
        Some(data.len() as u32 + 5),
    )]);
    let err = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(err.to_string().contains("smaller than declared"), "{err}");
    assert!(dirhash::hash_zip(Cursor::new(&zip)).is_err());
}

#[test]
fn corrupt_content_is_rejected() {
    let data = b"module example.com/m\n";
    let mut zip = raw_zip(&[(b"example.com/m@v1.0.0/go.mod", data, None)]);
    let at = zip.windows(6).position(|w| w == b"module").unwrap();
    zip[at] = b'M';
    let err = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(err, Error::Archive(archive::Error::Corrupt { .. })),
        "{err}"
    );
    assert!(dirhash::hash_zip(Cursor::new(&zip)).is_err());
}

#[test]
fn truncated_zip_is_rejected() {
    let zip = go_simple_zip();
    for cut in [1, 22, zip.len() / 2, zip.len() - 1] {
        let short = &zip[..zip.len() - cut];
        assert!(
            modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(short)).is_err(),
            "cut {cut}"
        );
        assert!(dirhash::hash_zip(Cursor::new(short)).is_err(), "cut {cut}");
    }
}

#[test]
fn prepended_data_is_rejected() {
    let mut zip = b"#!/bin/sh\nexit 0\n".to_vec();
    zip.extend_from_slice(&go_simple_zip());
    let err = dirhash::hash_zip(Cursor::new(&zip)).unwrap_err();
    assert!(err.to_string().contains("not a valid zip file"), "{err}");
}

#[test]
fn names_that_readers_disagree_on_are_rejected() {
    // An Info-ZIP Unicode Path extra field gives the entry another name for
    // readers that honour it (the zip crate); Go's reader ignores it.
    let name = b"example.com/m@v1.0.0/go.mod";
    let other = b"example.com/m@v1.0.0/x.go";
    let mut extra = Vec::new();
    extra.extend_from_slice(&0x7075u16.to_le_bytes());
    extra.extend_from_slice(&((5 + other.len()) as u16).to_le_bytes());
    extra.push(1);
    extra.extend_from_slice(&crc32(name).to_le_bytes());
    extra.extend_from_slice(other);
    let zip = raw_zip_with_extra(&[(name, b"module example.com/m\n", None, &extra)]);
    let err = dirhash::hash_zip(Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(err, dirhash::Error::Zip(archive::Error::Ambiguous(_))),
        "{err}"
    );
    let err = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(
        matches!(err, Error::Archive(archive::Error::Ambiguous(_))),
        "{err}"
    );
}

#[test]
fn zip_bomb_beyond_limit_is_rejected() {
    let l = Limits {
        max_unzipped: 1 << 20,
        ..Limits::default()
    };
    // Honest sizes: 4 MiB of zeros compress to a few KiB.
    let zeros = vec![0u8; 4 << 20];
    let zip = deflate_zip(&[("example.com/m@v1.0.0/bomb.go", &zeros)]);
    assert!(zip.len() < 64 << 10);
    let cf =
        modzip::check_zip_with_limits("example.com/m", "v1.0.0", Cursor::new(&zip), &l).unwrap();
    assert!(
        matches!(cf.size_error, Some(SizeError::Unzipped { .. })),
        "{cf:?}"
    );
    let err = dirhash::hash_zip_with_limits(Cursor::new(&zip), &l).unwrap_err();
    assert!(
        matches!(
            err,
            dirhash::Error::Zip(archive::Error::Size(SizeError::Unzipped { .. }))
        ),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let err =
        modzip::unzip_with_limits(tmp.path(), "example.com/m", "v1.0.0", Cursor::new(&zip), &l)
            .unwrap_err();
    assert!(
        err.to_string()
            .contains("total uncompressed size of module contents too large"),
        "{err}"
    );

    // Several entries, each under the limit, together over it: the real
    // bytes are counted across entries.
    let part = vec![0u8; 400 << 10];
    let zip = deflate_zip(&[
        ("example.com/m@v1.0.0/a.go", &part),
        ("example.com/m@v1.0.0/b.go", &part),
        ("example.com/m@v1.0.0/c.go", &part),
    ]);
    let err = dirhash::hash_zip_with_limits(Cursor::new(&zip), &l).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");

    // Lying sizes: declared small, real large; at most a byte past the
    // declared size is ever decompressed.
    let zip = lying_zip(3 << 20, 10);
    let err = dirhash::hash_zip_with_limits(Cursor::new(&zip), &l).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn hash_zip_follows_go_for_directories_and_repeated_names() {
    // Directory entries count, with empty content.
    let zip = raw_zip(&[(b"m@v1.0.0/", b"", None), (b"m@v1.0.0/a", b"x", None)]);
    let mut h = dirhash::Hasher::new();
    h.add_bytes("m@v1.0.0/", b"").unwrap();
    h.add_bytes("m@v1.0.0/a", b"x").unwrap();
    assert_eq!(dirhash::hash_zip(Cursor::new(&zip)).unwrap(), h.finish());

    // A repeated name is listed twice, both times with the later content.
    let zip = raw_zip(&[(b"a", b"first", None), (b"a", b"second", None)]);
    let mut h = dirhash::Hasher::new();
    h.add_bytes("a", b"second").unwrap();
    h.add_bytes("a", b"second").unwrap();
    assert_eq!(dirhash::hash_zip(Cursor::new(&zip)).unwrap(), h.finish());

    // Names are hashed as stored, even when not UTF-8.
    let zip = raw_zip(&[(b"\xff.go", b"x", None)]);
    let mut h = dirhash::Hasher::new();
    h.add_bytes(b"\xff.go", b"x").unwrap();
    assert_eq!(dirhash::hash_zip(Cursor::new(&zip)).unwrap(), h.finish());

    // A newline in a name is refused.
    let zip = raw_zip(&[(b"a\nb", b"x", None)]);
    assert!(matches!(
        dirhash::hash_zip(Cursor::new(&zip)),
        Err(dirhash::Error::NewlineInName)
    ));

    // A directory entry with content is refused, as Go's reader does.
    let zip = raw_zip(&[(b"d/", b"x", None)]);
    assert!(dirhash::hash_zip(Cursor::new(&zip)).is_err());
}

#[test]
fn check_zip_reports_non_utf8_names() {
    let zip = raw_zip(&[(b"example.com/m@v1.0.0/\xff.go", b"x", None)]);
    let cf = modzip::check_zip("example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap();
    assert_eq!(
        format_checked_files(&cf),
        "valid:\n\nomitted:\n\ninvalid:\nexample.com/m@v1.0.0/\u{fffd}.go: malformed file path \
         \"\\xff.go\": invalid UTF-8\n"
    );
}

#[test]
fn unzip_refuses_a_non_empty_directory() {
    let zip = go_simple_zip();
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("x"), b"").unwrap();
    let err = modzip::unzip(tmp.path(), "example.com/m", "v1.0.0", Cursor::new(&zip)).unwrap_err();
    assert!(err.to_string().contains("exists and is not empty"), "{err}");
}

#[cfg(unix)]
#[test]
fn create_from_dir_omits_symlinks_and_empty_dirs() {
    const EMPTY: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("empty")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), tmp.path().join("link")).unwrap();
    let mut zip = Vec::new();
    modzip::create_from_dir(&mut zip, "example.com/m", "v1.0.0", tmp.path()).unwrap();
    assert_eq!(dirhash::hash_zip(Cursor::new(&zip)).unwrap(), EMPTY);
    let cf = modzip::check_dir(tmp.path()).unwrap();
    assert_eq!(cf.omitted.len(), 1);
    assert_eq!(cf.omitted[0].kind.to_string(), "not a regular file");

    // The directory itself may be a vendor directory (x/mod's dir_is_vendor).
    let vendor = tmp.path().join("vendor");
    fs::create_dir(&vendor).unwrap();
    fs::write(vendor.join("go.mod"), b"module example.com/m\n\ngo 1.13\n").unwrap();
    let mut zip = Vec::new();
    modzip::create_from_dir(&mut zip, "example.com/m", "v1.0.0", &vendor).unwrap();
    assert_eq!(
        dirhash::hash_zip(Cursor::new(&zip)).unwrap(),
        "h1:XduFAgX/GaspZa8Jv4pfzoGEzNaU/r88PiCunijw5ok="
    );
}

#[test]
fn vendored_directories_are_reported_with_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("vendor/a/b")).unwrap();
    fs::write(tmp.path().join("vendor/a/b/c.go"), b"").unwrap();
    fs::write(tmp.path().join("vendor/a/x.go"), b"").unwrap();
    let cf = modzip::check_dir(tmp.path()).unwrap();
    let omitted: Vec<String> = cf
        .omitted
        .iter()
        .map(|e| e.path.replace(&tmp.path().display().to_string(), "$work"))
        .collect();
    assert_eq!(
        omitted,
        [
            "$work/vendor/a/b",
            "$work/vendor/a/b/c.go",
            "$work/vendor/a/x.go"
        ]
    );
}

#[test]
fn case_folding_collisions() {
    for (a, b, collide) in [
        ("k.go", "\u{212A}.go", true), // Kelvin sign
        ("s.go", "\u{17F}.go", true),  // long s
        ("σ.go", "ς.go", true),
        ("µ.go", "μ.go", true), // micro sign, mu
        ("ß.go", "ẞ.go", true),
        ("i.go", "İ.go", false),
        ("a.go", "b.go", false),
    ] {
        let files = [FakeFile::new(a, b""), FakeFile::new(b, b"")];
        let cf = modzip::check_files(&files);
        assert_eq!(cf.invalid.len() == 1, collide, "{a} {b}: {cf:?}");
    }
}

#[test]
fn created_zip_is_deflated_with_prefix() {
    let files = [
        FakeFile::new("go.mod", b"module example.com/m\n"),
        FakeFile::new("a.go", &[b'a'; 10_000]),
    ];
    let mut zip = Vec::new();
    modzip::create(&mut zip, "example.com/m", "v1.0.0", &files).unwrap();
    let mut archive = ::zip::ZipArchive::new(Cursor::new(&zip)).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert_eq!(
        names,
        ["example.com/m@v1.0.0/go.mod", "example.com/m@v1.0.0/a.go"]
    );
    let a = archive.by_name("example.com/m@v1.0.0/a.go").unwrap();
    assert_eq!(a.compression(), ::zip::CompressionMethod::Deflated);
    assert!(a.compressed_size() < 1000);
}
