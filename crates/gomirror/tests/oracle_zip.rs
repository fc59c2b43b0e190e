//! Differential tests of `gomirror mod zip` / `mod check` / `mod hash`
//! against Go's own golang.org/x/mod (the copy the go command vendors),
//! on random directory trees and random hostile zips.
//!
//! `GOMIRROR_DIFF_CASES` (default 150) sets how many random trees, and
//! `GOMIRROR_DIFF_SEED` replays a run (the seed is printed on failure).

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::Path;
use support::{gomirror, oracle_json, run};

/// Names drawn for files and directories: plain, unicode, case twins,
/// names the zip rules reject, special directories.
const NAMES: &[&str] = &[
    "a.go",
    "b.go",
    "A.go",
    "main.go",
    "x_test.go",
    "README.md",
    "readme.md",
    "LICENSE",
    "doc.txt",
    "é.go",
    "日本.go",
    "Ünïcödé.txt",
    "ß.go",
    "SS.go",
    "k.go",
    "\u{212a}.go",
    "a b.go",
    "a\"b",
    "a*b",
    "a<b",
    "a>b",
    "a:b",
    "a\\b",
    "a|b",
    "a?b",
    "a'b",
    "a`b",
    "-dash",
    ".hidden",
    "trailing.",
    "con",
    "CON.txt",
    "aux.go",
    "nul",
    "com1",
    "lpt9.x",
    "abcdef~1",
    "go.mod",
    "GO.MOD",
    "go.sum",
    "vendor",
    "Vendor",
    "testdata",
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    "sub",
    "pkg",
    "internal",
    "modules.txt",
    "x\u{7f}y",
    "tab\tname",
    "pct%41",
    "semi;colon",
    "plus+",
    "at@v1",
    "brace{}",
    "bang!",
    "hash#",
    "amp&",
    "eq=",
    "comma,",
];

const MODULES: &[(&str, &str)] = &[
    ("example.com/m", "v1.0.0"),
    ("example.com/m", "v0.3.1-pre.1"),
    ("example.com/m/v2", "v2.1.0"),
    ("example.com/Upper/Case", "v1.2.3"),
    ("gopkg.in/yaml.v3", "v3.0.1"),
    ("example.com/m", "v2.0.0+incompatible"),
    ("example.com/m", "v0.0.0-20240101120000-0123456789ab"),
    ("example.com/m", "v1.0.0+meta"),
    ("example.com/m/v2", "v1.0.0"),
];

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

fn random_content(rng: &mut StdRng) -> Vec<u8> {
    let n = match rng.gen_range(0..20) {
        0 => 0,
        1 => rng.gen_range(1 << 20..3 << 20),
        _ => rng.gen_range(1..2000),
    };
    let mut v = vec![0u8; n];
    rng.fill(&mut v[..]);
    v
}

fn go_mod_text(rng: &mut StdRng, path: &str) -> String {
    let go = pick(
        rng,
        &[
            "",
            "go 1.16\n",
            "go 1.21\n",
            "go 1.23\n",
            "go 1.24\n",
            "go 1.25.1\n",
        ],
    );
    format!("module {path}\n\n{go}")
}

/// Builds a random tree under `dir` (depth ≤ 3).
fn random_tree(rng: &mut StdRng, dir: &Path, depth: u32, module: &str) {
    fs::create_dir_all(dir).unwrap();
    if depth == 0 && rng.gen_bool(0.8) {
        fs::write(dir.join("go.mod"), go_mod_text(rng, module)).unwrap();
    }
    let entries = rng.gen_range(0..7);
    for _ in 0..entries {
        let name = *pick(rng, NAMES);
        let p = dir.join(name);
        if p.symlink_metadata().is_ok() {
            continue;
        }
        match rng.gen_range(0..20) {
            0..=9 => {
                let content = if name == "go.mod" {
                    go_mod_text(rng, &format!("{module}/nested")).into_bytes()
                } else if name == "modules.txt" {
                    b"# example.com/dep v1.0.0\n## explicit\nexample.com/dep\n".to_vec()
                } else {
                    random_content(rng)
                };
                fs::write(&p, content).unwrap();
            }
            10..=14 if depth < 3 => random_tree(rng, &p, depth + 1, module),
            15 => fs::create_dir_all(&p).unwrap(),
            16 => {
                let target = *pick(
                    rng,
                    &["a.go", "sub", "../outside", "/etc/hostname", "missing"],
                );
                std::os::unix::fs::symlink(target, &p).unwrap();
            }
            // A FIFO named go.mod would block Go's CheckDir forever (it reads
            // the root go.mod); ours does not read irregular files.
            17 if !name.eq_ignore_ascii_case("go.mod") => {
                let st = run(std::process::Command::new("mkfifo").arg(&p));
                assert!(st.status.success(), "mkfifo failed");
            }
            _ => {
                // a vendor tree with a package and modules.txt
                let v = dir.join("vendor");
                if fs::create_dir_all(v.join("example.com/dep")).is_err() {
                    continue; // `vendor` is already a file here
                }
                let _ = fs::write(
                    v.join("modules.txt"),
                    b"# example.com/dep v1.0.0\nexample.com/dep\n",
                );
                let _ = fs::write(v.join("example.com/dep/dep.go"), b"package dep\n");
                if rng.gen_bool(0.5) {
                    let _ = fs::write(v.join("example.com/dep/LICENSE"), b"MIT\n");
                }
            }
        }
    }
}

fn cases() -> u64 {
    std::env::var("GOMIRROR_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150)
}

fn seed() -> u64 {
    std::env::var("GOMIRROR_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

fn ours_json(args: &[&OsStr]) -> (bool, Value) {
    let out = run(gomirror().args(args).arg("--json"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "gomirror {args:?} --json printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

fn paths(v: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = match &v[key] {
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x["path"].as_str().unwrap_or("").to_owned())
            })
            .collect(),
        _ => vec![],
    };
    out.sort();
    out
}

fn errs(v: &Value, key: &str) -> BTreeMap<String, String> {
    match &v[key] {
        Value::Array(a) => a
            .iter()
            .map(|x| {
                (
                    x["path"].as_str().unwrap_or("").to_owned(),
                    x["err"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Compares a CheckedFiles result from Go with ours: same valid, omitted and
/// invalid paths with the same reasons, and a size error on both or neither.
fn compare_checked(what: &str, go: &Value, ours: &Value) -> Vec<String> {
    let mut diffs = vec![];
    if paths(go, "valid") != paths(ours, "valid") {
        diffs.push(format!(
            "{what}: valid differs: go {:?} ours {:?}",
            paths(go, "valid"),
            paths(ours, "valid")
        ));
    }
    for key in ["omitted", "invalid"] {
        let (g, o) = (errs(go, key), errs(ours, key));
        if g != o {
            diffs.push(format!(
                "{what}: {key} differs:\n  go   {g:?}\n  ours {o:?}"
            ));
        }
    }
    let has = |v: &Value, k: &str| v[k].as_str().is_some_and(|s| !s.is_empty());
    if has(go, "size_error") != has(ours, "size_error") {
        diffs.push(format!(
            "{what}: size_error go {:?} ours {:?}",
            go["size_error"], ours["size_error"]
        ));
    }
    if has(go, "error") != has(ours, "error") {
        diffs.push(format!(
            "{what}: error go {:?} ours {:?}",
            go["error"], ours["error"]
        ));
    }
    diffs
}

/// Trees whose zip both implementations created (the test asserts that a
/// fair share of the random trees exercise the whole comparison).
static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// One random tree: CheckDir, CreateFromDir, HashZip and CheckZip agree.
fn one_tree(rng: &mut StdRng, work: &Path) -> Vec<String> {
    let (module, version) = *pick(rng, MODULES);
    let dir = work.join("tree");
    random_tree(rng, &dir, 0, module);
    let mut diffs = vec![];

    let go_cd = oracle_json(&[os("checkdir"), dir.as_os_str()]);
    let (_, our_cd) = ours_json(&[os("mod"), os("check"), dir.as_os_str()]);
    diffs.extend(compare_checked("check dir", &go_cd, &our_cd));

    let mv = format!("{module}@{version}");
    let go_zip = work.join("go.zip");
    let our_zip = work.join("ours.zip");
    let go_create = oracle_json(&[
        os("create"),
        dir.as_os_str(),
        os(module),
        os(version),
        go_zip.as_os_str(),
    ]);
    let go_err = go_create["error"].as_str().unwrap_or("").to_owned();
    let (ok, ours) = ours_json(&[
        os("mod"),
        os("zip"),
        dir.as_os_str(),
        os(&mv),
        os("-o"),
        our_zip.as_os_str(),
    ]);
    if go_err.is_empty() != ok {
        diffs.push(format!(
            "create {mv}: go error {go_err:?}, ours ok={ok} {ours}"
        ));
        return diffs;
    }
    if !ok {
        return diffs;
    }
    CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert!(!Path::new(&format!("{}.tmp", our_zip.display())).exists());
    let go_files = oracle_json(&[os("files"), go_zip.as_os_str()]);
    let our_files = oracle_json(&[os("files"), our_zip.as_os_str()]);
    if go_files != our_files {
        diffs.push(format!(
            "create {mv}: zip files differ:\n  go   {go_files}\n  ours {our_files}"
        ));
    }
    let go_h1 = oracle_json(&[os("hashzip"), go_zip.as_os_str()]);
    let go_h1_ours = oracle_json(&[os("hashzip"), our_zip.as_os_str()]);
    if go_h1["hash"] != ours["h1"] || go_h1_ours["hash"] != ours["h1"] {
        diffs.push(format!(
            "create {mv}: h1 go {} (of our zip: {}), ours {}",
            go_h1["hash"], go_h1_ours["hash"], ours["h1"]
        ));
    }
    // go.mod hash: of the tree's go.mod, or of the synthesised one.
    let gomod = dir.join("go.mod");
    // A regular file go.mod is zipped (a symlink or directory is not).
    let gomod_file = if gomod.symlink_metadata().is_ok_and(|m| m.is_file()) {
        gomod
    } else {
        let p = work.join("synth.mod");
        fs::write(&p, format!("module {module}\n")).unwrap();
        p
    };
    let go_modh1 = oracle_json(&[os("hashmod"), gomod_file.as_os_str()]);
    if go_modh1["hash"] != ours["gomod_h1"] {
        diffs.push(format!(
            "create {mv}: go.mod h1 go {} ours {}",
            go_modh1["hash"], ours["gomod_h1"]
        ));
    }
    // Each implementation's CheckZip on each zip.
    for z in [&go_zip, &our_zip] {
        let g = oracle_json(&[os("checkzip"), os(module), os(version), z.as_os_str()]);
        let (_, o) = ours_json(&[os("mod"), os("check"), z.as_os_str(), os(&mv)]);
        diffs.extend(compare_checked(
            &format!("check zip {}", z.display()),
            &g,
            &o,
        ));
    }
    // `mod hash` of both files agrees with Go.
    let (_, oh) = ours_json(&[os("mod"), os("hash"), go_zip.as_os_str(), os(&mv)]);
    if oh["h1"] != go_h1["hash"] {
        diffs.push(format!(
            "mod hash {mv}: go {} ours {}",
            go_h1["hash"], oh["h1"]
        ));
    }
    diffs
}

#[test]
fn random_trees_match_x_mod() {
    let seed = seed();
    let n = cases();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = vec![];
    for i in 0..n {
        let work = tempfile::tempdir().unwrap();
        let diffs = one_tree(&mut rng, work.path());
        if !diffs.is_empty() {
            let listing = run(std::process::Command::new("find")
                .arg(work.path().join("tree"))
                .arg("-printf")
                .arg("%y %s %P\n"));
            failures.push(format!(
                "case {i}:\n{}\ntree:\n{}",
                diffs.join("\n"),
                String::from_utf8_lossy(&listing.stdout)
            ));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed} ({n} cases): {} failing cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    let created = CREATED.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{n} random trees agree with x/mod (seed {seed}); {created} of them zipped by both");
    assert!(
        created * 5 >= n,
        "only {created} of {n} random trees could be zipped: the generator is too hostile"
    );
}

/// A zip entry of a crafted, possibly hostile, module zip.
fn random_zip(rng: &mut StdRng, path: &Path, prefix: &str) {
    let f = fs::File::create(path).unwrap();
    let mut w = zip::ZipWriter::new(f);
    let n = rng.gen_range(0..8);
    for _ in 0..n {
        let name = match rng.gen_range(0..12) {
            0 => format!("other@v1.0.0/{}", pick(rng, NAMES)),
            1 => pick(rng, NAMES).to_string(),
            2 => format!("{prefix}{}/", pick(rng, NAMES)),
            3 => format!("{prefix}sub/{}", pick(rng, &["go.mod", "GO.MOD", "a.go"])),
            4 => format!("{prefix}../escape.go"),
            5 => format!("{prefix}./dot.go"),
            6 => format!("{prefix}a//b.go"),
            _ => format!("{prefix}{}", pick(rng, NAMES)),
        };
        let method = if rng.gen_bool(0.5) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        if name.ends_with('/') {
            let _ = w.add_directory(name.trim_end_matches('/'), opts);
            continue;
        }
        // duplicates are refused by the writer; that is fine, the other names still vary.
        if w.start_file(name.as_str(), opts).is_ok() {
            let content = random_content(rng);
            w.write_all(&content).unwrap();
        }
    }
    w.finish().unwrap();
}

#[test]
fn random_zips_check_like_x_mod() {
    let seed = seed();
    let n = cases();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5a5a);
    let mut failures = vec![];
    for i in 0..n {
        let work = tempfile::tempdir().unwrap();
        let (module, version) = *pick(&mut rng, MODULES);
        let z = work.path().join("x.zip");
        random_zip(&mut rng, &z, &format!("{module}@{version}/"));
        let mv = format!("{module}@{version}");
        let g = oracle_json(&[os("checkzip"), os(module), os(version), z.as_os_str()]);
        let (ok, o) = ours_json(&[os("mod"), os("check"), z.as_os_str(), os(&mv)]);
        let mut diffs = compare_checked(&format!("check zip {mv}"), &g, &o);
        let go_bad = g["error"].as_str().is_some_and(|s| !s.is_empty());
        if ok == go_bad {
            diffs.push(format!(
                "exit status: ours ok={ok}, go error {:?}",
                g["error"]
            ));
        }
        let gh = oracle_json(&[os("hashzip"), z.as_os_str()]);
        let (hash_ok, oh) = ours_json(&[os("mod"), os("hash"), z.as_os_str(), os(&mv)]);
        if gomod::module::check(module, version).is_err() {
            // `mod hash` prints a go.sum line, so it refuses a path@version
            // pair that cannot be one; Go's HashZip takes no module.
            if hash_ok {
                diffs.push(format!("mod hash accepted the invalid pair {mv}: {oh}"));
            }
        } else if gh["hash"].as_str().unwrap_or("") != oh["h1"].as_str().unwrap_or("") {
            diffs.push(format!("hash: go {gh} ours {oh}"));
        }
        if !diffs.is_empty() {
            failures.push(format!("case {i}:\n{}", diffs.join("\n")));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failing cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{n} random zips checked like x/mod (seed {seed})");
}
