//! `gomirror prefetch` as a real process against a real upstream on
//! loopback: go.sum, go.mod and list inputs admit the right objects,
//! a second run finds them cached, and failures are reported with reasons.

mod support;

use support::json_of;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::upstream::{publish, ModVersion, Upstream};

/// `gomirror` with the test upstream as GOPROXY, no checksum database, and
/// nothing from the developer's environment.
fn gomirror_env(up: &Upstream) -> Command {
    let mut c = support::gomirror_tool();
    c.env("GOPROXY", up.url())
        .env("GOSUMDB", "off")
        .env("GOMIRROR_UPSTREAM_RETRIES", "0");
    c
}

fn prefetch(up: &Upstream, data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = gomirror_env(up);
    c.arg("prefetch")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("starting gomirror prefetch");
    let mut si = child.stdin.take().unwrap();
    si.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(si);
    child.wait_with_output().unwrap()
}

fn gomod(p: &str) -> Vec<u8> {
    format!("module {p}\n\ngo 1.21\n").into_bytes()
}

/// Publishes `path@version` with a go.mod and one Go file; returns the
/// zip's h1: and the go.mod's h1:.
fn add(root: &Path, path: &str, version: &str) -> (String, String) {
    let h1 = publish(
        root,
        &ModVersion {
            path,
            version,
            files: vec![("go.mod", gomod(path)), ("x.go", b"package x\n".to_vec())],
        },
    );
    (h1, gomod::dirhash::hash_go_mod(&gomod(path)))
}

/// Which of `.info`, `.mod`, `.zip` of `path@version` are committed in the
/// store (have their metadata record).
fn stored(data: &Path, path: &str, version: &str) -> Vec<&'static str> {
    let ep = gomod::module::escape_path(path).unwrap();
    let ev = gomod::module::escape_version(version).unwrap();
    ["info", "mod", "zip"]
        .into_iter()
        .filter(|ext| {
            let key = format!("{ep}/@v/{ev}.{ext}");
            support::record_file(data, &key).is_file()
                && support::try_stored_file(data, &key).is_some_and(|f| f.is_file())
        })
        .collect()
}

#[test]
fn prefetch_from_go_sum_then_cached() {
    let up_dir = tempfile::tempdir().unwrap();
    let (a_zip, a_mod) = add(up_dir.path(), "example.com/a", "v1.0.0");
    let (_, b_mod) = add(up_dir.path(), "example.com/b", "v1.2.0");
    let up = Upstream::start(up_dir.path());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let sum = work.path().join("go.sum");
    std::fs::write(
        &sum,
        format!(
            "example.com/a v1.0.0 {a_zip}\nexample.com/a v1.0.0/go.mod {a_mod}\n\
             example.com/b v1.2.0/go.mod {b_mod}\n"
        ),
    )
    .unwrap();
    let sum_s = sum.to_str().unwrap();

    let out = prefetch(&up, &data, &[sum_s, "--json"], None);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["format"], "gosum", "{j}");
    assert_eq!(
        (j["fetched"].as_u64(), j["failed"].as_u64()),
        (Some(2), Some(0)),
        "{j}"
    );
    assert_eq!(j["files"]["fetched"], 5, "{j}");
    assert_eq!(
        stored(&data, "example.com/a", "v1.0.0"),
        ["info", "mod", "zip"]
    );
    // A go.mod-only line: the .info and .mod, not the zip.
    assert_eq!(stored(&data, "example.com/b", "v1.2.0"), ["info", "mod"]);
    assert_eq!(up.count("/example.com/b/@v/v1.2.0.zip"), 0);

    // Second run: everything cached, nothing asked of the upstream.
    let before = up.count_suffix("");
    let out = prefetch(&up, &data, &[sum_s], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let cached_row = text
        .lines()
        .find(|l| l.starts_with("cached"))
        .unwrap_or_else(|| panic!("no cached row: {text}"));
    assert_eq!(
        cached_row.split_whitespace().collect::<Vec<_>>(),
        ["cached", "2", "5"],
        "{text}"
    );
    assert_eq!(up.count_suffix(""), before);
}

#[test]
fn prefetch_from_go_mod() {
    let up_dir = tempfile::tempdir().unwrap();
    add(up_dir.path(), "example.com/c", "v1.0.0");
    add(up_dir.path(), "example.com/cfork", "v1.0.1");
    add(up_dir.path(), "example.com/Upper", "v0.3.0");
    let up = Upstream::start(up_dir.path());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let gomod_file = work.path().join("go.mod");
    std::fs::write(
        &gomod_file,
        "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/c v1.0.0\n\
         \texample.com/Upper v0.3.0 // indirect\n\texample.com/local v1.0.0\n)\n\n\
         replace example.com/local => ../local\n",
    )
    .unwrap();
    let out = prefetch(&up, &data, &[gomod_file.to_str().unwrap(), "--json"], None);
    let j = json_of(&out);
    assert!(out.status.success(), "{j}");
    assert_eq!(j["format"], "gomod");
    assert_eq!(j["fetched"], 2, "{j}");
    assert_eq!(
        stored(&data, "example.com/c", "v1.0.0"),
        ["info", "mod", "zip"]
    );
    assert_eq!(
        stored(&data, "example.com/Upper", "v0.3.0"),
        ["info", "mod", "zip"]
    );
    // Case-encoded on disk.
    assert!(data
        .join("objects/example.com/!upper/@v/v0.3.0.zip.gmeta")
        .is_file());
    assert!(
        support::stored_file(&data, "example.com/!upper/@v/v0.3.0.zip")
            .starts_with(data.join("objects/example.com/!upper/@v"))
    );
    assert!(stored(&data, "example.com/cfork", "v1.0.1").is_empty());
}

#[test]
fn prefetch_list_from_stdin_reports_failures() {
    let up_dir = tempfile::tempdir().unwrap();
    add(up_dir.path(), "example.com/d", "v1.0.0");
    add(up_dir.path(), "example.com/e", "v0.1.0");
    let up = Upstream::start(up_dir.path());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let list = "# warm these\nexample.com/d@v1.0.0\nexample.com/e v0.1.0\n\
                example.com/none@v1.9.9\nexample.com/d@v1.0\n";
    let out = prefetch(&up, &data, &["-", "--json"], Some(list));
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    assert_eq!(j["format"], "list");
    assert_eq!(
        (j["fetched"].as_u64(), j["failed"].as_u64()),
        (Some(2), Some(2)),
        "{j}"
    );
    let failed: Vec<(String, String)> = j["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "failed")
        .map(|m| {
            (
                format!(
                    "{}@{}",
                    m["module"].as_str().unwrap(),
                    m["version"].as_str().unwrap()
                ),
                m["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2, "{j}");
    assert_eq!(failed[0].0, "example.com/d@v1.0");
    assert!(failed[0].1.contains("canonical"), "{failed:?}");
    assert_eq!(failed[1].0, "example.com/none@v1.9.9");
    assert!(failed[1].1.contains("not found"), "{failed:?}");
    assert_eq!(
        stored(&data, "example.com/d", "v1.0.0"),
        ["info", "mod", "zip"]
    );
    assert_eq!(
        stored(&data, "example.com/e", "v0.1.0"),
        ["info", "mod", "zip"]
    );
    assert!(stored(&data, "example.com/none", "v1.9.9").is_empty());

    // The human summary names the failure too.
    let out = prefetch(&up, &data, &["-"], Some("example.com/none@v1.9.9\n"));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("example.com/none@v1.9.9: "), "{text}");
}

#[test]
fn prefetch_refuses_a_go_sum_the_mirror_disagrees_with() {
    let up_dir = tempfile::tempdir().unwrap();
    add(up_dir.path(), "example.com/f", "v1.0.0");
    let up = Upstream::start(up_dir.path());
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let sum = "example.com/f v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let out = prefetch(&up, &data, &["-", "--format", "gosum", "--json"], Some(sum));
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{j}");
    let err = j["modules"][0]["error"].as_str().unwrap();
    assert!(err.contains("go.sum says h1:AAAA"), "{err}");
}
