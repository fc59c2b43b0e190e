//! Checks `gomod::{module, semver, pseudo}` against the golden vectors that
//! Go's own `golang.org/x/mod` produced (`crates/gomod/testdata/gomod-vectors`).
//!
//! Every line of every `.jsonl` file is checked. Error texts are compared
//! exactly: our `module::Error` is meant to display x/mod's text. A vector we
//! deliberately do not match must be listed in [`KNOWN_DIFFERENCES`] with
//! the reason, and the list must stay exact: a listed vector that starts to
//! match fails the test too, so the list cannot go stale.
//!
//! The vectors are read only from `testdata/gomod-vectors` in this crate
//! (a copy kept in the repository; see `testdata/README.md`). A missing
//! directory is a test failure, never a silent pass.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::PathBuf;

use gomod::{module, pseudo, semver};
use serde_json::Value;

/// Vectors we knowingly do not reproduce: (file, input, field, reason).
/// `field` names the checked function or output field.
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[];

/// The vector files this test knows how to check.
const FILES: &[&str] = &[
    "check_path.jsonl",
    "check_module_version.jsonl",
    "escape_path.jsonl",
    "unescape_path.jsonl",
    "escape_version.jsonl",
    "semver.jsonl",
    "compare.jsonl",
    "urls.jsonl",
];

/// The golden vectors directory; fails the test when it is missing.
fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gomod-vectors"
    ));
    assert!(
        dir.is_dir(),
        "golden vectors not found at {}",
        dir.display()
    );
    dir
}

/// One parsed vector line.
struct Vector {
    line: usize,
    input: String,
    mode: String,
    /// `Ok(out)` or `Err(error text)`.
    expect: Result<Value, String>,
}

fn load(file: &str) -> Vec<Vector> {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let mut vectors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        assert!(
            !line.trim().is_empty(),
            "{file}:{line_no}: blank line in a vector file"
        );
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("{file}:{line_no}: bad JSON: {err}"));
        let field = |name: &str| v.get(name).cloned();
        let input = match field("in") {
            Some(Value::String(s)) => s,
            other => panic!("{file}:{line_no}: `in` is not a string: {other:?}"),
        };
        let mode = match field("mode") {
            Some(Value::String(s)) => s,
            other => panic!("{file}:{line_no}: `mode` is not a string: {other:?}"),
        };
        let expect = match (field("out"), field("error")) {
            (Some(out), None) => Ok(out),
            (None, Some(Value::String(err))) => Err(err),
            other => panic!("{file}:{line_no}: need exactly one of `out` and `error`: {other:?}"),
        };
        vectors.push(Vector {
            line: line_no,
            input,
            mode,
            expect,
        });
    }
    vectors
}

/// Collects mismatches for one file and settles them against
/// [`KNOWN_DIFFERENCES`] at the end.
struct Checker {
    file: &'static str,
    vectors: usize,
    checks: usize,
    /// (input, field) → message, for every mismatch seen.
    mismatches: Vec<(String, String, String)>,
}

impl Checker {
    fn new(file: &'static str) -> Self {
        Checker {
            file,
            vectors: 0,
            checks: 0,
            mismatches: Vec::new(),
        }
    }

    /// Records one comparison of `got` against `want` for `field` of the
    /// vector with input `input`.
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, v: &Vector, field: &str, got: T, want: T) {
        self.checks += 1;
        if got != want {
            self.mismatches.push((
                v.input.clone(),
                field.to_string(),
                format!(
                    "{}:{} {field}({:?}): got {got:?}, want {want:?}",
                    self.file, v.line, v.input
                ),
            ));
        }
    }

    fn finish(self) {
        println!(
            "{}: {} vectors, {} checks, {} mismatches",
            self.file,
            self.vectors,
            self.checks,
            self.mismatches.len()
        );
        assert!(self.vectors > 0, "{}: no vectors ran", self.file);
        let known: BTreeSet<(&str, &str)> = KNOWN_DIFFERENCES
            .iter()
            .filter(|k| k.0 == self.file)
            .map(|k| (k.1, k.2))
            .collect();
        let mut seen = BTreeSet::new();
        let mut unexpected = Vec::new();
        for (input, field, msg) in &self.mismatches {
            if known.contains(&(input.as_str(), field.as_str())) {
                seen.insert((input.as_str(), field.as_str()));
            } else {
                unexpected.push(msg.as_str());
            }
        }
        let stale: Vec<_> = known.difference(&seen).collect();
        assert!(
            unexpected.is_empty() && stale.is_empty(),
            "{}: {} unexpected mismatches:\n{}\n{} KNOWN_DIFFERENCES entries now match \
             (remove them): {stale:?}",
            self.file,
            unexpected.len(),
            unexpected.join("\n"),
            stale.len()
        );
    }
}

fn result_text<T>(r: Result<T, module::Error>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

fn ok_or_text(r: Result<(), module::Error>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

fn str_field<'a>(v: &Vector, out: &'a Value, name: &str) -> &'a str {
    out.get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("line {}: `{name}` missing or not a string", v.line))
}

fn expect_mode(file: &str, v: &Vector, mode: &str) {
    assert_eq!(v.mode, mode, "{file}:{}: unexpected mode", v.line);
}

#[test]
fn every_vector_file_is_checked() {
    let dir = vectors_dir();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("list the vectors directory") {
        let name = entry.expect("directory entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".jsonl") {
            found.push(name);
        }
    }
    found.sort();
    let mut known: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(
        found,
        known,
        "the vector files in {} and the files this test checks differ",
        dir.display()
    );
    println!("{} vector files, all checked", found.len());
    // Every entry of the known-differences table names a real file.
    for k in KNOWN_DIFFERENCES {
        assert!(
            FILES.contains(&k.0),
            "KNOWN_DIFFERENCES names unknown file {}",
            k.0
        );
    }
}

#[test]
fn check_path_vectors() {
    const FILE: &str = "check_path.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "check");
        c.vectors += 1;
        // A few lines hold `path@version` and the result of module.Check.
        let out = match &v.expect {
            Ok(out) if out.is_object() => out.clone(),
            Ok(Value::String(ok)) => {
                let (path, version) = split_at_sign(&v);
                c.eq(
                    &v,
                    "Check",
                    ok_or_text(module::check(path, version)),
                    ok.clone(),
                );
                continue;
            }
            Err(err) => {
                let (path, version) = split_at_sign(&v);
                c.eq(
                    &v,
                    "Check",
                    ok_or_text(module::check(path, version)),
                    err.clone(),
                );
                continue;
            }
            Ok(other) => panic!("{FILE}:{}: unexpected `out`: {other}", v.line),
        };
        let path = v.input.as_str();
        c.eq(
            &v,
            "CheckPath",
            ok_or_text(module::check_path(path)),
            str_field(&v, &out, "CheckPath").to_string(),
        );
        c.eq(
            &v,
            "CheckImportPath",
            ok_or_text(module::check_import_path(path)),
            str_field(&v, &out, "CheckImportPath").to_string(),
        );
        c.eq(
            &v,
            "CheckFilePath",
            ok_or_text(module::check_file_path(path)),
            str_field(&v, &out, "CheckFilePath").to_string(),
        );
    }
    c.finish();
}

/// Splits `path@version` at the first `@` (module paths never contain one).
fn split_at_sign(v: &Vector) -> (&str, &str) {
    v.input
        .split_once('@')
        .unwrap_or_else(|| panic!("line {}: input has no @: {:?}", v.line, v.input))
}

#[test]
fn check_module_version_vectors() {
    const FILE: &str = "check_module_version.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "check");
        c.vectors += 1;
        let (path, version) = split_at_sign(&v);
        let want = match &v.expect {
            Ok(out) => out.as_str().expect("`out` is a string").to_string(),
            Err(err) => err.clone(),
        };
        c.eq(&v, "Check", ok_or_text(module::check(path, version)), want);
    }
    c.finish();
}

fn expected_string(v: &Vector) -> Result<String, String> {
    match &v.expect {
        Ok(out) => Ok(out.as_str().expect("`out` is a string").to_string()),
        Err(err) => Err(err.clone()),
    }
}

#[test]
fn escape_path_vectors() {
    const FILE: &str = "escape_path.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "path");
        c.vectors += 1;
        let want = expected_string(&v);
        let got = result_text(module::escape_path(&v.input));
        c.eq(&v, "EscapePath", got.clone(), want);
        if let Ok(escaped) = got {
            // Decoding gives the path back.
            c.eq(
                &v,
                "UnescapePath(EscapePath)",
                result_text(module::unescape_path(&escaped)),
                Ok(v.input.clone()),
            );
        }
    }
    c.finish();
}

#[test]
fn unescape_path_vectors() {
    const FILE: &str = "unescape_path.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "unpath");
        c.vectors += 1;
        let want = expected_string(&v);
        let got = result_text(module::unescape_path(&v.input));
        c.eq(&v, "UnescapePath", got.clone(), want);
        if let Ok(path) = got {
            // Encoding gives the escaped form back: the encoding is one-to-one.
            c.eq(
                &v,
                "EscapePath(UnescapePath)",
                result_text(module::escape_path(&path)),
                Ok(v.input.clone()),
            );
            // A valid escaped path decodes the same way as a version, as
            // long as it is a single element.
            if !v.input.contains('/') {
                c.eq(
                    &v,
                    "UnescapeVersion",
                    result_text(module::unescape_version(&v.input)),
                    Ok(path.clone()),
                );
            }
        } else if got
            == Err(format!(
                "invalid escaped module path {}",
                go_quote(&v.input)
            ))
        {
            // An encoding no string produces is malformed for versions too.
            c.eq(
                &v,
                "UnescapeVersion",
                result_text(module::unescape_version(&v.input)),
                Err(format!("invalid escaped version {}", go_quote(&v.input))),
            );
        }
    }
    c.finish();
}

#[test]
fn escape_version_vectors() {
    const FILE: &str = "escape_version.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "version");
        c.vectors += 1;
        let want = expected_string(&v);
        let got = result_text(module::escape_version(&v.input));
        c.eq(&v, "EscapeVersion", got.clone(), want);
        if let Ok(escaped) = got {
            c.eq(
                &v,
                "UnescapeVersion(EscapeVersion)",
                result_text(module::unescape_version(&escaped)),
                Ok(v.input.clone()),
            );
        }
    }
    c.finish();
}

#[test]
fn semver_vectors() {
    const FILE: &str = "semver.jsonl";
    let mut c = Checker::new(FILE);
    let mut pseudo_count = 0;
    for v in load(FILE) {
        expect_mode(FILE, &v, "semver");
        c.vectors += 1;
        let out = v.expect.clone().expect("semver vectors have `out`");
        let s = v.input.as_str();
        let flag = |name: &str| {
            out.get(name)
                .and_then(Value::as_bool)
                .unwrap_or_else(|| panic!("line {}: `{name}` missing or not a bool", v.line))
        };
        let field = |name: &str| str_field(&v, &out, name).to_string();

        c.eq(&v, "IsValid", semver::is_valid(s), flag("IsValid"));
        c.eq(&v, "Canonical", semver::canonical(s), field("Canonical"));
        c.eq(&v, "Major", semver::major(s).to_string(), field("Major"));
        c.eq(
            &v,
            "MajorMinor",
            semver::major_minor(s),
            field("MajorMinor"),
        );
        c.eq(
            &v,
            "Prerelease",
            semver::prerelease(s).to_string(),
            field("Prerelease"),
        );
        c.eq(&v, "Build", semver::build(s).to_string(), field("Build"));
        c.eq(
            &v,
            "CanonicalModule",
            module::canonical_version(s),
            field("CanonicalModule"),
        );
        let is_pseudo = flag("IsPseudoVersion");
        c.eq(
            &v,
            "IsPseudoVersion",
            pseudo::is_pseudo_version(s),
            is_pseudo,
        );

        // Pseudo-version parts: present in the vectors for pseudo-versions.
        let rev = result_text(pseudo::pseudo_version_rev(s).map(str::to_string));
        let time = result_text(pseudo::pseudo_version_time(s).map(|t| t.to_string()));
        let base = result_text(pseudo::pseudo_version_base(s));
        if is_pseudo {
            pseudo_count += 1;
            c.eq(&v, "PseudoVersionRev", rev, Ok(field("PseudoVersionRev")));
            c.eq(
                &v,
                "PseudoVersionTime",
                time,
                Ok(field("PseudoVersionTime")),
            );
            let want_base = match (
                out.get("PseudoVersionBase"),
                out.get("PseudoVersionBaseError"),
            ) {
                (Some(Value::String(b)), None) => Ok(b.clone()),
                (None, Some(Value::String(e))) => Err(e.clone()),
                other => panic!("line {}: base vs base error: {other:?}", v.line),
            };
            c.eq(&v, "PseudoVersionBase", base, want_base);
        } else {
            for name in [
                "PseudoVersionRev",
                "PseudoVersionTime",
                "PseudoVersionBase",
                "PseudoVersionBaseError",
            ] {
                assert!(
                    out.get(name).is_none(),
                    "line {}: {name} for a non-pseudo-version",
                    v.line
                );
            }
            let syntax = Err(format!(
                "pseudo-version {} invalid: syntax error",
                go_quote(s)
            ));
            c.eq(&v, "PseudoVersionRev", rev, syntax.clone());
            c.eq(&v, "PseudoVersionTime", time, syntax.clone());
            c.eq(&v, "PseudoVersionBase", base, syntax);
        }

        // Canonicalization is idempotent and keeps precedence.
        let canonical = semver::canonical(s);
        if !canonical.is_empty() {
            c.eq(
                &v,
                "Canonical(Canonical)",
                semver::canonical(&canonical),
                canonical.clone(),
            );
            c.eq(
                &v,
                "Compare(v, Canonical)",
                semver::compare(s, &canonical),
                Ordering::Equal,
            );
        }
    }
    println!("{FILE}: {pseudo_count} of the vectors are pseudo-versions");
    assert!(pseudo_count > 0, "no pseudo-version vectors");
    c.finish();
}

/// Go's `%q`, for strings without control characters (all the vectors use).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            _ if ch.is_control() => panic!("go_quote does not escape controls: {s:?}"),
            _ => out.push(ch),
        }
    }
    out.push('"');
    out
}

#[test]
fn compare_vectors() {
    const FILE: &str = "compare.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "compare");
        c.vectors += 1;
        let (a, b) = v
            .input
            .split_once(' ')
            .unwrap_or_else(|| panic!("line {}: compare input needs two versions", v.line));
        let want = match expected_string(&v)
            .expect("compare vectors have `out`")
            .as_str()
        {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            other => panic!("line {}: bad compare result {other:?}", v.line),
        };
        c.eq(&v, "Compare", semver::compare(a, b), want);
        c.eq(
            &v,
            "Compare(reversed)",
            semver::compare(b, a),
            want.reverse(),
        );
        // The sort order refines precedence with string order.
        c.eq(
            &v,
            "compare_for_sort",
            semver::compare_for_sort(a, b),
            want.then_with(|| a.cmp(b)),
        );
    }
    c.finish();
}

#[test]
fn urls_vectors() {
    const FILE: &str = "urls.jsonl";
    let mut c = Checker::new(FILE);
    for v in load(FILE) {
        expect_mode(FILE, &v, "urls");
        c.vectors += 1;
        let (path, version) = split_at_sign(&v);
        let out = v.expect.clone().expect("urls vectors have `out`");
        let mut keys: Vec<&str> = out
            .as_object()
            .expect("`out` is an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["info", "latest", "list", "mod", "sumdb_lookup", "zip"],
            "line {}: unexpected url fields",
            v.line
        );
        let got = match module::ProxyPaths::new(path, version) {
            Ok(p) => p,
            Err(err) => {
                c.eq(&v, "ProxyPaths", Err(err.to_string()), Ok(()));
                continue;
            }
        };
        c.eq(&v, "list", got.list, field_string(&v, &out, "list"));
        c.eq(&v, "info", got.info, field_string(&v, &out, "info"));
        c.eq(&v, "mod", got.go_mod, field_string(&v, &out, "mod"));
        c.eq(&v, "zip", got.zip, field_string(&v, &out, "zip"));
        c.eq(&v, "latest", got.latest, field_string(&v, &out, "latest"));
        c.eq(
            &v,
            "sumdb_lookup",
            got.sumdb_lookup,
            field_string(&v, &out, "sumdb_lookup"),
        );
    }
    c.finish();
}

fn field_string(v: &Vector, out: &Value, name: &str) -> String {
    str_field(v, out, name).to_string()
}
