//! The `h1:` hash recorded in `go.sum` files and in the checksum database
//! (`golang.org/x/mod/sumdb/dirhash`).
//!
//! # The rule
//!
//! The `h1:` hash of a set of named files is `"h1:"` followed by the standard
//! (padded) base64 encoding of the SHA-256 of a summary. The summary has one
//! line per file, ordered by file name compared byte by byte, and each line
//! is the lower-case hexadecimal SHA-256 of the file's content, two spaces,
//! the file name and a newline:
//!
//! ```text
//! 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae  example.com/m@v1.0.0/go.mod\n
//! ```
//!
//! That is `sha256sum $(find . -type f | sort) | sha256sum`, base64-encoded.
//! A file name containing a newline would make the summary ambiguous, so it
//! is an error.
//!
//! Only names and contents count: for a zip file the compression method,
//! timestamps, permissions, comments and the order of entries do not change
//! the hash.
//!
//! # Entry points
//!
//! * [`Hasher`] builds the hash one file at a time, streaming each content;
//! * [`hash_zip`] hashes the entries of a module zip, as the `go` command does
//!   after downloading one;
//! * [`hash_go_mod`] is the `/go.mod h1:` line of `go.sum`;
//! * [`hash_dir`] hashes an extracted module tree.

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::archive::{self, ArchiveReader};
use crate::slashpath;

/// The size of the buffer each file's content is read through. Large enough
/// that reading and hashing a 100 MiB file makes few system calls and lets
/// SHA-256 work on long runs of blocks.
const READ_BUFFER_SIZE: usize = 256 * 1024;

/// An error computing an `h1:` hash.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file name contains a newline (U+000A), which the summary format
    /// cannot represent.
    #[error("dirhash: filenames with newlines are not supported")]
    NewlineInName,
    /// Reading a file's content failed.
    #[error("dirhash: reading {name}: {source}")]
    Read {
        /// The name of the file, as it would appear in the summary.
        name: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// Walking a directory tree failed.
    #[error("dirhash: {path}: {source}", path = .path.display())]
    Walk {
        /// The file or directory that could not be listed or examined.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// [`hash_dir`] was given something other than a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The zip given to [`hash_zip`] is malformed, corrupt, too large, or
    /// could not be read.
    #[error(transparent)]
    Zip(#[from] archive::Error),
}

/// Builds an `h1:` hash from named files, one file at a time.
///
/// Each file's content is streamed through SHA-256 as it is added, so only
/// the names and their 32-byte digests are kept until [`Hasher::finish`]
/// sorts them and writes the summary. Adding the same name twice adds two
/// summary lines, as the Go implementation does for a list with a repeated
/// name.
#[derive(Default)]
pub struct Hasher {
    files: Vec<(Vec<u8>, [u8; 32])>,
    buf: Vec<u8>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("files", &self.files.len())
            .finish()
    }
}

impl Hasher {
    /// A hasher with no files yet; finishing it gives the hash of the empty
    /// set, `h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the file `name`, reading its content from `content` to the end.
    ///
    /// Names are byte strings, compared byte by byte when sorted; they are
    /// normally UTF-8 slash-separated paths. A name containing a newline is
    /// rejected with [`Error::NewlineInName`] before anything is read.
    pub fn add_file(&mut self, name: impl AsRef<[u8]>, content: impl Read) -> Result<(), Error> {
        let name = name.as_ref();
        check_name(name)?;
        let digest = self.digest_reader(content).map_err(|source| Error::Read {
            name: String::from_utf8_lossy(name).into_owned(),
            source,
        })?;
        self.files.push((name.to_vec(), digest));
        Ok(())
    }

    /// Adds the file `name` whose content is `data`.
    pub fn add_bytes(&mut self, name: impl AsRef<[u8]>, data: &[u8]) -> Result<(), Error> {
        self.add_digest(name, Sha256::digest(data).into())
    }

    /// Adds the file `name` whose content has the SHA-256 digest `sha256`
    /// (computed elsewhere, for example while the content was being
    /// written to disk).
    pub fn add_digest(&mut self, name: impl AsRef<[u8]>, sha256: [u8; 32]) -> Result<(), Error> {
        let name = name.as_ref();
        check_name(name)?;
        self.files.push((name.to_vec(), sha256));
        Ok(())
    }

    /// The `h1:` hash of the files added so far.
    pub fn finish(mut self) -> String {
        self.files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut summary = Sha256::new();
        let mut hex_digest = [0u8; 64];
        for (name, digest) in &self.files {
            hex::encode_to_slice(digest, &mut hex_digest).expect("64 bytes hold 32 in hex");
            summary.update(hex_digest);
            summary.update(b"  ");
            summary.update(name);
            summary.update(b"\n");
        }
        let sum: [u8; 32] = summary.finalize().into();
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(sum)
        )
    }

    /// The SHA-256 of everything `r` yields, read through the hasher's
    /// (reused) large buffer.
    fn digest_reader(&mut self, mut r: impl Read) -> io::Result<[u8; 32]> {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUFFER_SIZE];
        }
        let mut h = Sha256::new();
        loop {
            match r.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => h.update(&self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(h.finalize().into())
    }
}

fn check_name(name: &[u8]) -> Result<(), Error> {
    if name.contains(&b'\n') {
        return Err(Error::NewlineInName);
    }
    Ok(())
}

/// The `h1:` hash of a `go.mod` file's content, as recorded in the
/// `<module> <version>/go.mod h1:...` lines of `go.sum`: the hash of a
/// single file named `go.mod`.
pub fn hash_go_mod(data: &[u8]) -> String {
    let mut h = Hasher::new();
    h.add_bytes("go.mod", data)
        .expect("\"go.mod\" contains no newline");
    h.finish()
}

/// The `h1:` hash of the entries of a zip file, like `dirhash.HashZip`.
///
/// Every entry of the central directory counts, under its name exactly as
/// stored (so for a module zip, `module@version/path`), including entries
/// for directories, whose content is empty. If two entries share a name,
/// both lines of the summary use the content of the later one, as Go does.
///
/// The zip is read entry by entry, never whole: memory use does not depend
/// on the size of the contents. Nothing the zip declares is trusted: each
/// entry's decompressed bytes are counted and must match its declared size
/// and CRC-32. Unlike Go's `HashZip`, which has no limits, the zip file and
/// the real decompressed total may each be at most
/// [`archive::MAX_ZIP_FILE`] (500 MiB) — the `go` command could never
/// extract a larger module anyway. The zip must also read the same way
/// under Go's `archive/zip` rules as through the `zip` crate (see
/// [`crate::archive`]).
pub fn hash_zip<R: Read + Seek>(r: R) -> Result<String, Error> {
    hash_zip_with_limits(r, &archive::Limits::default())
}

/// [`hash_zip`] with configurable limits, for tests that need a small limit
/// to stay fast.
#[doc(hidden)]
pub fn hash_zip_with_limits<R: Read + Seek>(
    r: R,
    limits: &archive::Limits,
) -> Result<String, Error> {
    let mut reader = ArchiveReader::open(r, limits)?;
    // Go hashes each listed name with the content of the last entry of that
    // name. Read only those entries, but list every name.
    let names: Vec<Vec<u8>> = reader.entries().iter().map(|e| e.name.clone()).collect();
    for name in &names {
        check_name(name)?;
    }
    let mut last_of_name = std::collections::HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        last_of_name.insert(name.as_slice(), i);
    }
    let mut digests: Vec<Option<[u8; 32]>> = vec![None; names.len()];
    let mut buf = vec![0u8; READ_BUFFER_SIZE];
    reader.read_contents(
        |i, _| last_of_name.get(names[i].as_slice()) == Some(&i),
        |i, _, content| {
            let mut h = Sha256::new();
            loop {
                match content.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => h.update(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            digests[i] = Some(h.finalize().into());
            Ok(())
        },
    )?;
    let empty: [u8; 32] = Sha256::digest(b"").into();
    let mut h = Hasher::new();
    for (name, &last) in names.iter().zip(names.iter().map(|n| {
        last_of_name
            .get(n.as_slice())
            .expect("every name is indexed")
    })) {
        // Directory entries are checked but not read: their content is
        // empty.
        let digest = if name.ends_with(b"/") {
            empty
        } else {
            digests[last].expect("the last entry of every name was read")
        };
        h.add_digest(name, digest)?;
    }
    Ok(h.finish())
}

/// The `h1:` hash of the files under the directory `dir`, named as
/// `prefix` joined with their slash-separated path relative to `dir`
/// (joined and cleaned like Go's `filepath.Join`, so a trailing `/` on the
/// prefix makes no difference), like `dirhash.HashDir`.
///
/// Every non-directory counts, including symbolic links, whose target's
/// content is hashed (a link to a directory is an error). An extracted
/// module tree hashes to the same value as the zip it came from when
/// `prefix` is `module@version`.
pub fn hash_dir(dir: impl AsRef<Path>, prefix: &str) -> Result<String, Error> {
    let dir = dir.as_ref();
    let files = dir_files(dir, prefix)?;
    let mut h = Hasher::new();
    for (name, path) in files {
        check_name(&name)?;
        let f = fs::File::open(&path).map_err(|source| Error::Read {
            name: String::from_utf8_lossy(&name).into_owned(),
            source,
        })?;
        h.add_file(name, f)?;
    }
    Ok(h.finish())
}

/// The files under `dir` (every entry that is not a directory, found
/// without following symbolic links), each as its hash name and its path.
fn dir_files(dir: &Path, prefix: &str) -> Result<Vec<(Vec<u8>, PathBuf)>, Error> {
    let walk_err = |path: &Path, source| Error::Walk {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::symlink_metadata(dir).map_err(|e| walk_err(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<u8>)> = vec![(dir.to_path_buf(), Vec::new())];
    while let Some((path, rel)) = stack.pop() {
        for entry in fs::read_dir(&path).map_err(|e| walk_err(&path, e))? {
            let entry = entry.map_err(|e| walk_err(&path, e))?;
            let file_type = entry.file_type().map_err(|e| walk_err(&entry.path(), e))?;
            let mut child_rel = rel.clone();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(&os_bytes(&entry.file_name()));
            if file_type.is_dir() {
                stack.push((entry.path(), child_rel));
            } else {
                files.push((join_name(prefix, &child_rel), entry.path()));
            }
        }
    }
    Ok(files)
}

/// `filepath.ToSlash(filepath.Join(prefix, rel))` for a clean relative
/// `rel`.
fn join_name(prefix: &str, rel: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return rel.to_vec();
    }
    let mut joined = prefix.as_bytes().to_vec();
    joined.push(b'/');
    joined.extend_from_slice(rel);
    slashpath::clean_bytes(&joined)
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    /// The summary computed the slow, obvious way.
    fn reference(files: &[(&str, &[u8])]) -> String {
        let mut files = files.to_vec();
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut summary = String::new();
        for (name, data) in files {
            summary.push_str(&format!("{}  {name}\n", hex::encode(Sha256::digest(data))));
        }
        let sum = Sha256::digest(summary.as_bytes());
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(sum)
        )
    }

    #[test]
    fn empty() {
        assert_eq!(Hasher::new().finish(), EMPTY);
    }

    #[test]
    fn go_mod_hash_is_single_file_named_go_mod() {
        let data = b"module example.com/m\n\ngo 1.13\n";
        assert_eq!(hash_go_mod(data), reference(&[("go.mod", data)]));
        // Real go.sum lines: rsc.io/quote v1.5.2/go.mod, and the go.mod the
        // go command synthesizes for golang.org/x/text before it had one.
        let quote_go_mod = b"module \"rsc.io/quote\"\n\nrequire \"rsc.io/sampler\" v1.3.0\n";
        assert_eq!(
            hash_go_mod(quote_go_mod),
            "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0="
        );
        assert_eq!(
            hash_go_mod(b"module golang.org/x/text\n"),
            "h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ="
        );
    }

    #[test]
    fn sorted_by_bytes_not_insertion_order() {
        let files: [(&str, &[u8]); 4] = [
            ("b", b"second"),
            ("a/z", b"first"),
            ("B", b"upper sorts before lower"),
            ("é", b"non-ASCII sorts after ASCII"),
        ];
        let mut h = Hasher::new();
        for (name, data) in files {
            h.add_file(name, data).unwrap();
        }
        let got = h.finish();
        assert_eq!(got, reference(&files));
        let mut h = Hasher::new();
        for (name, data) in files.iter().rev() {
            h.add_bytes(name, data).unwrap();
        }
        assert_eq!(h.finish(), got);
    }

    #[test]
    fn streaming_matches_one_shot_for_large_content() {
        // Larger than the read buffer, and not a multiple of it.
        let data: Vec<u8> = (0..READ_BUFFER_SIZE * 3 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut h = Hasher::new();
        h.add_file("big", &data[..]).unwrap();
        assert_eq!(h.finish(), reference(&[("big", &data)]));
    }

    #[test]
    fn newline_in_name_is_rejected() {
        let mut h = Hasher::new();
        assert!(matches!(
            h.add_file("a\nb", &b""[..]),
            Err(Error::NewlineInName)
        ));
        assert!(matches!(
            h.add_digest("x\n", [0; 32]),
            Err(Error::NewlineInName)
        ));
        assert_eq!(
            Error::NewlineInName.to_string(),
            "dirhash: filenames with newlines are not supported"
        );
    }

    #[test]
    fn repeated_names_give_repeated_lines() {
        let mut h = Hasher::new();
        h.add_bytes("a", b"1").unwrap();
        h.add_bytes("a", b"1").unwrap();
        assert_eq!(h.finish(), reference(&[("a", b"1"), ("a", b"1")]));
    }

    #[test]
    fn read_errors_are_reported_with_the_name() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let err = Hasher::new().add_file("x.go", Failing).unwrap_err();
        assert_eq!(err.to_string(), "dirhash: reading x.go: boom");
    }

    #[test]
    fn dir_hash_uses_prefix_and_slashes() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("sub/deeper")).unwrap();
        fs::create_dir_all(tmp.path().join("empty")).unwrap();
        fs::write(tmp.path().join("go.mod"), b"module m\n").unwrap();
        fs::write(tmp.path().join("sub/deeper/x.go"), b"package x\n").unwrap();
        let want = reference(&[
            ("m@v1.0.0/go.mod", b"module m\n"),
            ("m@v1.0.0/sub/deeper/x.go", b"package x\n"),
        ]);
        assert_eq!(hash_dir(tmp.path(), "m@v1.0.0").unwrap(), want);
        assert_eq!(hash_dir(tmp.path(), "m@v1.0.0/").unwrap(), want);
        let bare = reference(&[
            ("go.mod", b"module m\n"),
            ("sub/deeper/x.go", b"package x\n"),
        ]);
        assert_eq!(hash_dir(tmp.path(), "").unwrap(), bare);
    }

    #[test]
    fn dir_hash_of_a_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        fs::write(&file, b"").unwrap();
        let err = hash_dir(&file, "p").unwrap_err();
        assert!(matches!(err, Error::NotADirectory(_)), "{err}");
        assert!(err.to_string().ends_with("is not a directory"));
    }

    #[cfg(unix)]
    #[test]
    fn dir_hash_follows_file_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("real"), b"content").unwrap();
        std::os::unix::fs::symlink("real", tmp.path().join("link")).unwrap();
        assert_eq!(
            hash_dir(tmp.path(), "").unwrap(),
            reference(&[("link", b"content"), ("real", b"content")])
        );
    }
}
