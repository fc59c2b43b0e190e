//! Module zip files: create them from a file tree, check them, extract them
//! (`golang.org/x/mod/zip`).
//!
//! # What a module zip is
//!
//! A module zip holds the files of one module version, each under the name
//! `<module>@<version>/<file path>`. The rules, which every function here
//! enforces, exist so that a module zip extracts the same way on every
//! platform and file system:
//!
//! * The module path must be valid ([`module::check_path`]); the version must
//!   be valid, canonical ([`module::canonical_version`]) and agree with the
//!   path's major-version suffix ([`module::check`]); every file path after
//!   the `<module>@<version>/` prefix must be valid
//!   ([`module::check_file_path`]) and clean.
//! * No two file paths may be equal under Unicode case folding, and no path
//!   may name both a file and a directory.
//! * A `go.mod` may appear in the top-level directory only, and must be
//!   spelled `go.mod` (not `GO.MOD`).
//! * The zip file may be at most [`MAX_ZIP_FILE`] bytes (500 MiB), and so may
//!   the total uncompressed size of its files. A top-level `go.mod` or
//!   `LICENSE` may be at most [`MAX_GO_MOD`] or [`MAX_LICENSE`] bytes
//!   (16 MiB each).
//! * Each file's content must have exactly its declared uncompressed size.
//! * Empty directories, permissions and timestamps do not count. Symbolic
//!   links and other irregular files are not allowed.
//!
//! When a zip is created from a file tree, some files are left out rather
//! than rejected (see [`check_files`] and [`create_from_dir`]): version
//! control directories, nested modules, most of `vendor/`, symbolic links,
//! and `.hg_archival.txt`.
//!
//! # Reading zips: nothing declared is trusted
//!
//! [`check_zip`], [`unzip`](fn@unzip) and [`crate::dirhash::hash_zip`] read a zip the
//! way Go's `archive/zip` does, and insist that it reads the same way through
//! the `zip` crate: a zip that the two readers would interpret differently
//! (different entries, names, sizes or data offsets; data before the first
//! entry) is rejected as ambiguous. Every entry's content is decompressed and
//! counted — never more than one byte past its declared size — and must
//! match its declared size and CRC-32; the real total may not exceed the
//! 500 MiB limit. So a zip whose metadata is right while its body is wrong
//! cannot pass.
//!
//! A mirror can do the expensive part while the zip arrives:
//! [`digest_stream`] decompresses and digests each entry from the stream,
//! and [`check_and_hash_zip_streamed`] then gives exactly the verdict of
//! [`check_and_hash_zip`] without reading again the content of the entries
//! whose every fact the stream established.
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the errors and the verdict ([`CheckedFiles`]) shared by everything below |
//! | `file.rs` | [`File`]: what a zip is made from (and [`MemFile`]) |
//! | `names.rs` | the rules on file names: case-fold collisions, vendored packages |
//! | `dir.rs` | listing a directory as the go command does before zipping it |
//! | `check.rs` | [`check_files`], [`check_dir`], [`check_zip`], [`check_and_hash_zip`], [`check_and_hash_zip_streamed`] |
//! | `stream.rs` | [`digest_stream`]: each entry's content verified and digested while the zip arrives |
//! | `create.rs` | [`create`](fn@create), [`create_from_dir`] |
//! | `unzip.rs` | [`unzip`](fn@unzip) |
//! | `go_mod.rs` | the `go` line of go.mod, which picks the vendoring rules |

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::archive;
use crate::module;

mod check;
mod create;
mod dir;
mod file;
mod go_mod;
mod names;
mod stream;
mod unzip;

pub use crate::archive::{Limits, SizeError, MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE};
pub use check::{
    check_and_hash_zip, check_and_hash_zip_streamed, check_and_hash_zip_streamed_with_limits,
    check_and_hash_zip_with_limits, check_dir, check_files, check_files_with_limits, check_zip,
    check_zip_with_limits, ZipSummary,
};
pub use create::{create, create_from_dir, create_with_limits};
pub use file::{File, FileInfo, FileKind, MemFile};
pub use stream::{
    digest_stream, digest_stream_with_limits, Progress, Stop, StreamDigests, StreamedEntry,
    MAX_ENTRIES, MAX_NAME,
};
pub use unzip::{unzip, unzip_with_limits};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error creating, checking or extracting a module zip.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The version is valid but not in canonical form.
    #[error(
        "version {} is not canonical (should be {})",
        module::quote(.version),
        module::quote(.canonical)
    )]
    NotCanonical {
        /// The version given.
        version: String,
        /// Its canonical form (empty if the version is not valid at all).
        canonical: String,
    },
    /// The module path or version is invalid, or they do not agree.
    #[error(transparent)]
    Module(#[from] module::Error),
    /// A size limit is exceeded.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// One or more files are not allowed in a module zip.
    #[error(transparent)]
    Files(#[from] FileErrorList),
    /// The zip cannot be read: its structure, an ambiguity between
    /// readers, a corrupt entry, or I/O ([`archive::Error`]).
    #[error(transparent)]
    Archive(archive::Error),
    /// While creating a zip, a file yielded more bytes than its size said.
    #[error("file {} is larger than declared size", module::quote(.0))]
    LargerThanDeclared(String),
    /// [`unzip`](fn@unzip) was asked to extract into a directory that has files.
    #[error("target directory {} exists and is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An error from one of the operations, with the operation and the
    /// directory or file it was working on, as in
    /// `create zip from directory /src/m: ...`.
    #[error("{verb}{}: {source}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Op {
        /// The operation, such as `create zip` or `unzip`.
        verb: &'static str,
        /// The directory or file involved, if any.
        path: Option<PathBuf>,
        /// The error.
        source: Box<Error>,
    },
}

impl From<archive::Error> for Error {
    /// A size limit stays [`Error::Size`], whichever layer found it; any
    /// other archive error is [`Error::Archive`] (with its own message).
    fn from(e: archive::Error) -> Self {
        match e {
            archive::Error::Size(e) => Error::Size(e),
            e => Error::Archive(e),
        }
    }
}

impl Error {
    /// The error without the operation context that [`Error::Op`] adds.
    pub fn inner(&self) -> &Error {
        match self {
            Error::Op { source, .. } => source.inner(),
            e => e,
        }
    }

    fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    fn op(self, verb: &'static str, path: Option<&Path>) -> Self {
        Error::Op {
            verb,
            path: path.map(Path::to_path_buf),
            source: Box::new(self),
        }
    }
}

/// Why a file is invalid in, or omitted from, a module zip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileErrorKind {
    // Invalid files.
    /// The path is not in clean form (Go's `path.Clean`).
    #[error("file path is not clean")]
    PathNotClean,
    /// The path is absolute.
    #[error("file path is not relative")]
    PathNotRelative,
    /// The path breaks [`module::check_file_path`].
    #[error(transparent)]
    BadPath(module::Error),
    /// A zip entry's path (after the prefix) is not UTF-8; holds the path
    /// quoted as Go's `%q` would quote its bytes.
    #[error("malformed file path {0}: invalid UTF-8")]
    NotUtf8(String),
    /// A file named like `go.mod` in another case.
    #[error("go.mod files must have lowercase names")]
    GoModCase,
    /// A zip entry named `go.mod` (in any case) below the top directory.
    #[error("go.mod file not in module root directory")]
    GoModNotRoot,
    /// The top-level `go.mod` is larger than the limit (in bytes).
    #[error("go.mod file too large (max size is {0} bytes)")]
    GoModSize(u64),
    /// The top-level `LICENSE` is larger than the limit (in bytes).
    #[error("LICENSE file too large (max size is {0} bytes)")]
    LicenseSize(u64),
    /// Two paths are equal under case folding.
    #[error(
        "case-insensitive file name collision: {} and {}",
        module::quote(.0),
        module::quote(.1)
    )]
    CaseCollision(String, String),
    /// A path names both a file and a directory.
    #[error("entry {} is both a file and a directory", module::quote(.0))]
    FileAndDirectory(String),
    /// A file path appears twice.
    #[error("multiple entries for file {}", module::quote(.0))]
    Duplicate(String),
    /// A zip entry does not start with `module@version/` (the prefix).
    #[error("path does not have prefix {}", module::quote(.0))]
    MissingPrefix(String),
    /// Examining the file failed; holds the error message.
    #[error("{0}")]
    Io(String),

    // Omitted files.
    /// A version control directory (`.bzr`, `.git`, `.hg`, `.svn`).
    #[error("directory is a version control repository")]
    VersionControl,
    /// A file in a vendored package.
    #[error("file is in vendor directory")]
    Vendored,
    /// A file in a nested module (a directory with its own `go.mod`).
    #[error("file is in another module")]
    SubmoduleFile,
    /// A directory holding a nested module.
    #[error("directory is in another module")]
    SubmoduleDirectory,
    /// The top-level `.hg_archival.txt` that `hg archive` adds.
    #[error("file is inserted by 'hg archive' and is always omitted")]
    HgArchivalTxt,
    /// A symbolic link.
    #[error("file is a symbolic link")]
    Symlink,
    /// Something other than a regular file, directory or symbolic link (or,
    /// when listing a directory, a symbolic link).
    #[error("not a regular file")]
    NotRegular,
}

/// A file that is invalid in, or omitted from, a module zip, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct FileError {
    /// The file's path: relative to the module root for [`check_files`], a
    /// file system path for [`check_dir`], the entry name for [`check_zip`].
    pub path: String,
    /// Why.
    pub kind: FileErrorKind,
}

/// The invalid files of a module, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrorList(pub Vec<FileError>);

impl fmt::Display for FileErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileErrorList {}

/// The verdict on a set of files: which are valid, which are left out and
/// why, which are not allowed and why, and whether a size limit is exceeded.
///
/// Every file examined appears in exactly one of the three lists (a
/// directory left out by [`check_dir`] appears as itself, without its
/// files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedFiles {
    /// The files that belong in the zip.
    pub valid: Vec<String>,
    /// Files left out of the zip, and why.
    pub omitted: Vec<FileError>,
    /// Files not allowed in a module zip, and why.
    pub invalid: Vec<FileError>,
    /// Set if the files (or the zip) are too large.
    pub size_error: Option<SizeError>,
}

impl CheckedFiles {
    /// `Ok` if these files make a valid module zip; otherwise the size error
    /// if there is one, else the list of invalid files.
    pub fn err(&self) -> Result<(), Error> {
        if let Some(e) = &self.size_error {
            return Err(Error::Size(e.clone()));
        }
        if !self.invalid.is_empty() {
            return Err(Error::Files(FileErrorList(self.invalid.clone())));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Shared by creating, checking and extracting
// ---------------------------------------------------------------------------

/// Checks that `module_path`@`version` may have a module zip: the version is
/// canonical and [`module::check`] passes.
fn check_module_version(module_path: &str, version: &str) -> Result<(), Error> {
    let canonical = module::canonical_version(version);
    if canonical != version {
        return Err(Error::NotCanonical {
            version: version.to_string(),
            canonical,
        });
    }
    module::check(module_path, version)?;
    Ok(())
}

/// The size of the buffer file contents are copied through.
const COPY_BUFFER_SIZE: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_errors_keep_their_message() {
        let cases = || {
            vec![
                archive::Error::Size(SizeError::Unzipped { limit: 7 }),
                archive::Error::Format("no end of central directory record".into()),
                archive::Error::Ambiguous("entry x is repeated".into()),
                archive::Error::Corrupt {
                    name: "m@v1.0.0/x.go".into(),
                    detail: "bad local header signature".into(),
                },
                archive::Error::Io {
                    context: "reading zip".into(),
                    source: io::Error::other("boom"),
                },
            ]
        };
        for (a, b) in cases().into_iter().zip(cases()) {
            let want = a.to_string();
            assert_eq!(Error::from(b).to_string(), want);
        }
    }
}
