//! Go's module zip test vectors: txtar archives with a header of
//! `key = value` lines (x/mod's `zip/testdata`).

use std::fs;
use std::path::{Path, PathBuf};

use gomod::zip::Error;

/// The x/mod test data copy in this crate; fails the test when its zip
/// vectors are missing.
pub fn testdata_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/gomod"));
    assert!(
        dir.join("zip/testdata").is_dir(),
        "x/mod zip test vectors not found at {}; refusing to skip",
        dir.display()
    );
    dir
}

/// The `.txt` files of one vector directory, sorted.
pub fn vector_files(kind: &str) -> Vec<PathBuf> {
    let dir = testdata_dir().join("zip/testdata").join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    files
}

/// A txtar archive: a comment, then files introduced by `-- name --` lines.
pub struct Archive {
    pub comment: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Parses the txtar format: a marker line is `-- NAME --` (name trimmed);
/// everything before the first marker is the comment; each file's data runs
/// to the next marker; the comment and every file get a final newline if
/// they are non-empty and lack one.
pub fn parse_txtar(data: &[u8]) -> Archive {
    fn marker(line: &[u8]) -> Option<String> {
        let line = line.strip_prefix(b"-- ")?.strip_suffix(b" --")?;
        let name = String::from_utf8_lossy(line).trim().to_string();
        (!name.is_empty()).then_some(name)
    }
    fn fix_nl(mut d: Vec<u8>) -> Vec<u8> {
        if !d.is_empty() && !d.ends_with(b"\n") {
            d.push(b'\n');
        }
        d
    }
    let mut comment = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if let Some(name) = marker(line) {
            files.push((name, Vec::new()));
        } else {
            let with_nl = &rest[..rest.len() - next.len()];
            match files.last_mut() {
                Some((_, d)) => d.extend_from_slice(with_nl),
                None => comment.extend_from_slice(with_nl),
            }
        }
        rest = next;
    }
    Archive {
        comment: fix_nl(comment),
        files: files.into_iter().map(|(n, d)| (n, fix_nl(d))).collect(),
    }
}

/// A vector: the header fields of its comment and its files.
pub struct Vector {
    pub name: String,
    pub path: Vec<u8>,
    pub version: String,
    pub want_err: String,
    pub hash: String,
    pub archive: Archive,
}

impl Vector {
    pub fn load(file: &Path) -> Vector {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let archive = parse_txtar(&data);
        let mut v = Vector {
            name: format!(
                "{}/{}",
                file.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            ),
            path: Vec::new(),
            version: String::new(),
            want_err: String::new(),
            hash: String::new(),
            archive,
        };
        for (n, line) in v.archive.comment.split(|&b| b == b'\n').enumerate() {
            let line = match line.iter().position(|&b| b == b'#') {
                Some(i) => &line[..i],
                None => line,
            };
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let eq = line
                .iter()
                .position(|&b| b == b'=')
                .unwrap_or_else(|| panic!("{}:{}: missing =", file.display(), n + 1));
            let key = String::from_utf8_lossy(line[..eq].trim_ascii()).into_owned();
            let value = line[eq + 1..].trim_ascii();
            let text = || String::from_utf8(value.to_vec()).expect("UTF-8 value");
            match key.as_str() {
                "path" => v.path = value.to_vec(),
                "version" => v.version = text(),
                "wantErr" => v.want_err = text(),
                "hash" => v.hash = text(),
                _ => panic!("{}:{}: unknown key {key:?}", file.display(), n + 1),
            }
        }
        v
    }

    /// The module path, if this API can represent it.
    pub fn module_path(&self) -> Result<&str, String> {
        std::str::from_utf8(&self.path).map_err(|_| {
            format!(
                "module path {:?} is not UTF-8 and cannot be passed as &str",
                String::from_utf8_lossy(&self.path)
            )
        })
    }

    /// Takes the `want` file out of the archive.
    pub fn take_want(&mut self) -> String {
        let i = self
            .archive
            .files
            .iter()
            .position(|(n, _)| n == "want")
            .unwrap_or_else(|| panic!("{}: no want section", self.name));
        String::from_utf8(self.archive.files.remove(i).1).unwrap()
    }

    /// Checks an operation's outcome against `wantErr`: an error must
    /// contain it, success must not be expected to fail. Returns whether
    /// the operation succeeded (and so the hash should be checked).
    pub fn check_outcome(&self, result: Result<(), Error>) -> Result<bool, String> {
        match result {
            Err(e) if self.want_err.is_empty() => Err(format!("unexpected error: {e}")),
            Err(e) if !e.to_string().contains(&self.want_err) => Err(format!(
                "got error {:?}; want error containing {:?}",
                e.to_string(),
                self.want_err
            )),
            Err(_) => Ok(false),
            Ok(()) if !self.want_err.is_empty() => Err(format!(
                "unexpected success; want error containing {:?}",
                self.want_err
            )),
            Ok(()) => Ok(true),
        }
    }

    pub fn extract_to(&self, dir: &Path) {
        for (name, data) in &self.archive.files {
            let p = dir.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, data).unwrap();
        }
    }
}
