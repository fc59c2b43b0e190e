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
//! [`check_zip`], [`unzip`] and [`crate::dirhash::hash_zip`] read a zip the
//! way Go's `archive/zip` does, and insist that it reads the same way through
//! the `zip` crate: a zip that the two readers would interpret differently
//! (different entries, names, sizes or data offsets; data before the first
//! entry) is rejected as ambiguous. Every entry's content is decompressed and
//! counted — never more than one byte past its declared size — and must
//! match its declared size and CRC-32; the real total may not exceed the
//! 500 MiB limit. So a zip whose metadata is right while its body is wrong
//! cannot pass.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::archive::{self, drain, ArchiveReader};
use crate::dirhash;
use crate::module;
use crate::slashpath;

pub use crate::archive::{Limits, SizeError, MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE};

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
    /// The zip's structure cannot be read.
    #[error("not a valid zip file: {0}")]
    Format(String),
    /// The zip would read differently through Go's `archive/zip` than here
    /// (for example, two readers would find different entries), so its
    /// content is not well defined.
    #[error("not a valid zip file: ambiguous structure: {0}")]
    Ambiguous(String),
    /// An entry's content does not match what the zip declares about it
    /// (size, CRC-32), cannot be decompressed, or uses an unsupported
    /// compression method or encryption.
    #[error("corrupt zip entry {name}: {detail}")]
    Corrupt {
        /// The entry's name as stored in the zip.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// While creating a zip, a file yielded more bytes than its size said.
    #[error("file {} is larger than declared size", module::quote(.0))]
    LargerThanDeclared(String),
    /// [`unzip`] was asked to extract into a directory that has files.
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
    /// Each archive error becomes the variant of the same name (and so of
    /// the same message).
    fn from(e: archive::Error) -> Self {
        match e {
            archive::Error::Size(e) => Error::Size(e),
            archive::Error::Format(msg) => Error::Format(msg),
            archive::Error::Ambiguous(msg) => Error::Ambiguous(msg),
            archive::Error::Corrupt { name, detail } => Error::Corrupt { name, detail },
            archive::Error::Io { context, source } => Error::Io { context, source },
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
// Files
// ---------------------------------------------------------------------------

/// What kind of file system object a [`File`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (the link itself, not its target).
    Symlink,
    /// Anything else: device, socket, named pipe...
    Other,
}

/// What [`File::lstat`] reports: the kind of object and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// The kind of object; a symbolic link is reported as such, not as its
    /// target.
    pub kind: FileKind,
    /// The size in bytes (meaningful for regular files).
    pub size: u64,
}

impl FileInfo {
    fn from_metadata(m: &fs::Metadata) -> Self {
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            FileKind::Symlink
        } else if ft.is_dir() {
            FileKind::Directory
        } else if ft.is_file() {
            FileKind::Regular
        } else {
            FileKind::Other
        };
        FileInfo {
            kind,
            size: m.len(),
        }
    }
}

/// A file to put in a module zip: from a directory, another zip, memory, or
/// anything that looks like a file.
pub trait File {
    /// The clean, slash-separated path of the file relative to the module
    /// root, such as `go.mod` or `internal/x/x.go`.
    fn path(&self) -> &str;

    /// What the file is and how large. For a symbolic link, this describes
    /// the link, not its target.
    fn lstat(&self) -> io::Result<FileInfo>;

    /// The file's content. Only called for regular files.
    fn open(&self) -> io::Result<Box<dyn Read + '_>>;
}

impl<T: File + ?Sized> File for &T {
    fn path(&self) -> &str {
        (**self).path()
    }
    fn lstat(&self) -> io::Result<FileInfo> {
        (**self).lstat()
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        (**self).open()
    }
}

impl<T: File + ?Sized> File for Box<T> {
    fn path(&self) -> &str {
        (**self).path()
    }
    fn lstat(&self) -> io::Result<FileInfo> {
        (**self).lstat()
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        (**self).open()
    }
}

/// A regular file held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemFile {
    /// The path relative to the module root.
    pub path: String,
    /// The content.
    pub data: Vec<u8>,
}

impl File for MemFile {
    fn path(&self) -> &str {
        &self.path
    }
    fn lstat(&self) -> io::Result<FileInfo> {
        Ok(FileInfo {
            kind: FileKind::Regular,
            size: self.data.len() as u64,
        })
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(&self.data[..]))
    }
}

/// A file found by walking a directory.
#[derive(Debug)]
struct DirFile {
    file_path: PathBuf,
    slash_path: String,
    info: FileInfo,
}

impl File for DirFile {
    fn path(&self) -> &str {
        &self.slash_path
    }
    fn lstat(&self) -> io::Result<FileInfo> {
        Ok(self.info)
    }
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(fs::File::open(&self.file_path)?))
    }
}

// ---------------------------------------------------------------------------
// Checking a list of files
// ---------------------------------------------------------------------------

/// Checks a list of files against the module zip rules, without opening any
/// file except the top-level `go.mod`.
///
/// Every file in the list lands in exactly one of the lists of the result:
///
/// * **omitted**: files in vendored packages (see below), files in nested
///   modules (below a directory that holds a `go.mod` in any case, if that
///   `go.mod` is a regular file), the top-level `.hg_archival.txt`, symbolic
///   links and other irregular files;
/// * **invalid**: paths that are not clean or not relative, that break
///   [`module::check_file_path`], a top-level `go.mod` in another case,
///   case-insensitive collisions, a path that is both a file and a
///   directory, repeated paths, files whose [`File::lstat`] fails, and a
///   top-level `go.mod` or `LICENSE` over 16 MiB;
/// * **valid**: the rest.
///
/// A path is reported once, with the first problem found. If the valid
/// files add up to more than 500 MiB, `size_error` is set.
///
/// # Vendored packages
///
/// A file is in a vendored package if it is in a directory below a `vendor`
/// directory: `vendor/a/x.go` is, `vendor/x.go` is not. The rule depends on
/// the `go` line of the top-level `go.mod` (when it parses, leniently):
///
/// * before go 1.24 (or with no `go` line), `vendor/modules.txt` is kept, and
///   for a `vendor` directory below the top (`pkg/vendor/...`) the test is
///   applied, as the go command always did, to the path after its eighth
///   byte, so `pkg/vendor/vendor.go` is also left out;
/// * from go 1.24, `vendor/modules.txt` is left out too, and the test is
///   applied to the path after `/vendor/`, so `pkg/vendor/vendor.go` is kept.
///
/// Call [`CheckedFiles::err`] on the result to get the verdict as an error.
pub fn check_files<F: File>(files: &[F]) -> CheckedFiles {
    check_files_inner(files, &Limits::default()).0
}

/// [`check_files`] with configurable limits, for tests.
#[doc(hidden)]
pub fn check_files_with_limits<F: File>(files: &[F], limits: &Limits) -> CheckedFiles {
    check_files_inner(files, limits).0
}

/// Like [`check_files`], also returning the indexes and sizes of the valid
/// files.
fn check_files_inner<F: File>(files: &[F], limits: &Limits) -> (CheckedFiles, Vec<(usize, u64)>) {
    let mut cf = CheckedFiles::default();
    let mut reported: std::collections::HashSet<String> = Default::default();
    let mut add_error = |cf: &mut CheckedFiles, path: &str, omitted: bool, kind: FileErrorKind| {
        if !reported.insert(path.to_string()) {
            return;
        }
        let fe = FileError {
            path: path.to_string(),
            kind,
        };
        if omitted {
            cf.omitted.push(fe);
        } else {
            cf.invalid.push(fe);
        }
    };

    // Directories holding a go.mod (in any case) other than the root: their
    // files belong to other modules. Also read the root go.mod's go line.
    let mut have_go_mod: std::collections::HashSet<String> = Default::default();
    let mut go124 = false;
    for f in files {
        let p = f.path();
        let (dir, base) = slashpath::split(p);
        if !base.eq_ignore_ascii_case("go.mod") {
            continue;
        }
        let info = match f.lstat() {
            Ok(info) => info,
            Err(e) => {
                add_error(&mut cf, p, false, FileErrorKind::Io(e.to_string()));
                continue;
            }
        };
        if info.kind != FileKind::Regular {
            continue;
        }
        have_go_mod.insert(dir.to_string());
        if base == "go.mod" && dir.is_empty() {
            if let Ok(mut r) = f.open() {
                let mut data = Vec::new();
                if r.read_to_end(&mut data).is_ok() {
                    go124 = go_mod::vendor_rules_go124(&data);
                }
            }
        }
    }
    let in_submodule = |p: &str| {
        let mut p = p;
        loop {
            let (dir, _) = slashpath::split(p);
            if dir.is_empty() {
                return false;
            }
            if have_go_mod.contains(dir) {
                return true;
            }
            p = &dir[..dir.len() - 1];
        }
    };

    let mut collisions = CollisionChecker::default();
    let mut valid = Vec::new();
    let mut remaining = limits.max_unzipped;
    for (i, f) in files.iter().enumerate() {
        let p = f.path();
        if slashpath::clean(p) != p {
            add_error(&mut cf, p, false, FileErrorKind::PathNotClean);
            continue;
        }
        if p.starts_with('/') {
            add_error(&mut cf, p, false, FileErrorKind::PathNotRelative);
            continue;
        }
        if is_vendored_package(p, go124) {
            add_error(&mut cf, p, true, FileErrorKind::Vendored);
            continue;
        }
        if in_submodule(p) {
            add_error(&mut cf, p, true, FileErrorKind::SubmoduleFile);
            continue;
        }
        if p == ".hg_archival.txt" {
            add_error(&mut cf, p, true, FileErrorKind::HgArchivalTxt);
            continue;
        }
        if let Err(e) = module::check_file_path(p) {
            add_error(&mut cf, p, false, FileErrorKind::BadPath(e));
            continue;
        }
        if p.eq_ignore_ascii_case("go.mod") && p != "go.mod" {
            add_error(&mut cf, p, false, FileErrorKind::GoModCase);
            continue;
        }
        let info = match f.lstat() {
            Ok(info) => info,
            Err(e) => {
                add_error(&mut cf, p, false, FileErrorKind::Io(e.to_string()));
                continue;
            }
        };
        if let Err(kind) = collisions.check(p, info.kind == FileKind::Directory) {
            add_error(&mut cf, p, false, kind);
            continue;
        }
        match info.kind {
            FileKind::Regular => {}
            FileKind::Symlink => {
                add_error(&mut cf, p, true, FileErrorKind::Symlink);
                continue;
            }
            _ => {
                add_error(&mut cf, p, true, FileErrorKind::NotRegular);
                continue;
            }
        }
        let size = info.size;
        if size <= remaining {
            remaining -= size;
        } else if cf.size_error.is_none() {
            cf.size_error = Some(SizeError::SourceTree {
                limit: limits.max_unzipped,
            });
        }
        if p == "go.mod" && size > limits.max_go_mod {
            add_error(
                &mut cf,
                p,
                false,
                FileErrorKind::GoModSize(limits.max_go_mod),
            );
            continue;
        }
        if p == "LICENSE" && size > limits.max_license {
            add_error(
                &mut cf,
                p,
                false,
                FileErrorKind::LicenseSize(limits.max_license),
            );
            continue;
        }
        cf.valid.push(p.to_string());
        valid.push((i, size));
    }
    (cf, valid)
}

/// Reports whether the file `name` (a clean slash-separated path relative
/// to the module root) is in a vendored package, under the rules of the go
/// 1.24 language version and later if `go124`, else of earlier ones. See
/// [`check_files`].
fn is_vendored_package(name: &str, go124: bool) -> bool {
    if go124 && name == "vendor/modules.txt" {
        return true;
    }
    let rest_start = if name.starts_with("vendor/") {
        "vendor/".len()
    } else if let Some(j) = name.find("/vendor/") {
        if go124 {
            j + "/vendor/".len()
        } else {
            // The go command's long-standing rule (golang.org/issue/37397),
            // kept so that zips of older modules keep their hashes.
            "/vendor/".len()
        }
    } else {
        return false;
    };
    name.as_bytes()[rest_start..].contains(&b'/')
}

/// Finds paths equal under case folding and paths used both as a file and
/// as a directory (including as the parent of another path).
#[derive(Default)]
struct CollisionChecker {
    /// Folded path to (original path, is a directory).
    seen: HashMap<String, (String, bool)>,
}

impl CollisionChecker {
    fn check(&mut self, p: &str, is_dir: bool) -> Result<(), FileErrorKind> {
        let mut p = p.to_string();
        let mut is_dir = is_dir;
        loop {
            let fold = str_to_fold(&p);
            match self.seen.get(&fold) {
                Some((other, other_is_dir)) => {
                    if *other != p {
                        return Err(FileErrorKind::CaseCollision(other.clone(), p));
                    }
                    if is_dir != *other_is_dir {
                        return Err(FileErrorKind::FileAndDirectory(p));
                    }
                    if !is_dir {
                        return Err(FileErrorKind::Duplicate(p));
                    }
                    // The same directory again (as the parent of another
                    // file) is fine.
                }
                None => {
                    self.seen.insert(fold, (p.clone(), is_dir));
                }
            }
            match p.rfind('/') {
                Some(i) => {
                    p.truncate(i);
                    is_dir = true;
                }
                None => return Ok(()),
            }
        }
    }
}

/// A string such that `str_to_fold(s) == str_to_fold(t)` exactly when `s`
/// and `t` are equal under simple Unicode case folding (Go's
/// `strings.EqualFold`).
fn str_to_fold(s: &str) -> String {
    if !s.bytes().any(|b| b >= 0x80 || b.is_ascii_uppercase()) {
        return s.to_string();
    }
    s.chars().map(fold_char).collect()
}

/// One representative of `c`'s case-folding class: the lower case of its
/// upper case, using only one-to-one mappings (so `ſ`, `s` and `S` all give
/// `s`; `K`, `k` and the Kelvin sign all give `k`; `ß` and `ẞ` give `ß`).
fn fold_char(c: char) -> char {
    // Pairs that simple case folding relates although neither is the other's
    // one-to-one upper or lower case.
    match c {
        '\u{1FD3}' => return '\u{0390}',
        '\u{1FE3}' => return '\u{03B0}',
        '\u{FB05}' => return '\u{FB06}',
        _ => {}
    }
    let upper = single(c.to_uppercase()).unwrap_or(c);
    single(upper.to_lowercase()).unwrap_or(upper)
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    match it.next() {
        None => Some(c),
        Some(_) => None,
    }
}

/// Quotes bytes the way Go's `%q` does: valid UTF-8 as
/// [`module::quote`] would, invalid bytes as `\xHH`.
fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        let valid = module::quote(chunk.valid());
        out.push_str(&valid[1..valid.len() - 1]);
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------

/// Checks the files of the directory `dir` as [`create_from_dir`] would
/// zip them: the directory is listed (see [`create_from_dir`] for what the
/// listing leaves out), then the files are checked as by [`check_files`].
///
/// The paths in the result are file system paths (`dir` joined with the
/// relative path). A directory left out while listing (version control,
/// nested module) is reported as itself, without its files, after the files
/// [`check_files`] left out.
///
/// Returns an error only if listing the directory fails; otherwise call
/// [`CheckedFiles::err`] for the verdict. Files are not opened (except
/// `go.mod`), so [`create_from_dir`] can still fail reading them.
pub fn check_dir(dir: impl AsRef<Path>) -> Result<CheckedFiles, Error> {
    let dir = dir.as_ref();
    let (files, omitted) = list_files_in_dir(dir)?;
    let (mut cf, _) = check_files_inner(&files, &Limits::default());
    let join = |p: &str| dir.join(p).to_string_lossy().into_owned();
    for v in &mut cf.valid {
        *v = join(v);
    }
    cf.omitted.extend(omitted);
    for e in cf.omitted.iter_mut().chain(cf.invalid.iter_mut()) {
        e.path = join(&e.path);
    }
    Ok(cf)
}

/// Lists the files under `dir` the way the go command does before zipping a
/// directory, returning the regular files and what was left out.
///
/// The walk, in lexical order, does not follow symbolic links. It leaves out
/// (and reports): directories named `.bzr`, `.git`, `.hg` or `.svn`, with
/// their content; directories other than `dir` that contain a `go.mod` (a
/// nested module), with their content; everything in a vendored package (see
/// [`check_files`]; the `go` line is read from `dir/go.mod`); and symbolic
/// links and other irregular files.
fn list_files_in_dir(dir: &Path) -> Result<(Vec<DirFile>, Vec<FileError>), Error> {
    // Only a regular file is read: a FIFO named go.mod must not block.
    let root_go_mod = dir.join("go.mod");
    let go124 = fs::metadata(&root_go_mod).is_ok_and(|m| m.file_type().is_file())
        && fs::read(&root_go_mod)
            .map(|data| go_mod::vendor_rules_go124(&data))
            .unwrap_or(false);
    let mut files = Vec::new();
    let mut omitted = Vec::new();
    let meta = fs::symlink_metadata(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    walk(
        dir,
        dir,
        String::new(),
        &meta,
        go124,
        &mut files,
        &mut omitted,
    )?;
    Ok((files, omitted))
}

/// Visits `path` (`rel` relative to the root `root`, empty for the root
/// itself) and, for a directory, its entries in lexical order.
#[allow(clippy::too_many_arguments)]
fn walk(
    root: &Path,
    path: &Path,
    rel: String,
    meta: &fs::Metadata,
    go124: bool,
    files: &mut Vec<DirFile>,
    omitted: &mut Vec<FileError>,
) -> Result<(), Error> {
    let io_err = |p: &Path, e: io::Error| Error::io(p.display().to_string(), e);
    let slash_path = if rel.is_empty() {
        ".".to_string()
    } else {
        rel.clone()
    };
    let is_dir = meta.is_dir();
    // A directory is read before it is examined, so an unreadable directory
    // is an error even if it would have been left out.
    let mut names = Vec::new();
    if is_dir {
        for entry in fs::read_dir(path).map_err(|e| io_err(path, e))? {
            names.push(entry.map_err(|e| io_err(path, e))?.file_name());
        }
        names.sort();
    }

    if is_vendored_package(&slash_path, go124) {
        omitted.push(FileError {
            path: slash_path,
            kind: FileErrorKind::Vendored,
        });
        if !is_dir {
            return Ok(());
        }
        // A vendored directory is reported, and its files are still visited
        // (and reported in turn), as the go command does.
    } else if is_dir {
        if path != root {
            let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if matches!(base.as_deref(), Some(".bzr" | ".git" | ".hg" | ".svn")) {
                omitted.push(FileError {
                    path: slash_path,
                    kind: FileErrorKind::VersionControl,
                });
                return Ok(());
            }
            if fs::symlink_metadata(path.join("go.mod")).is_ok_and(|m| !m.is_dir()) {
                omitted.push(FileError {
                    path: slash_path,
                    kind: FileErrorKind::SubmoduleDirectory,
                });
                return Ok(());
            }
        }
    } else {
        let info = FileInfo::from_metadata(meta);
        if info.kind != FileKind::Regular {
            omitted.push(FileError {
                path: slash_path,
                kind: FileErrorKind::NotRegular,
            });
        } else {
            files.push(DirFile {
                file_path: path.to_path_buf(),
                slash_path,
                info,
            });
        }
        return Ok(());
    }

    for name in names {
        let child = path.join(&name);
        let child_meta = fs::symlink_metadata(&child).map_err(|e| io_err(&child, e))?;
        let name = name.to_string_lossy();
        let child_rel = if rel.is_empty() {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        walk(root, &child, child_rel, &child_meta, go124, files, omitted)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Creating zips
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

/// Writes the module zip of `module_path`@`version` holding `files` to `w`.
///
/// The module path and version are checked first, then the files as by
/// [`check_files`]: any invalid file or size error fails the whole zip, and
/// omitted files are left out. Each valid file is then read and compressed
/// (Deflate) under the name `module@version/path`, in the order given; a file
/// that yields more bytes than [`File::lstat`] reported is an error. The
/// result is a zip that Go's `archive/zip` reads and that hashes
/// ([`crate::dirhash::hash_zip`]) like the go command's own zip of the same
/// files.
///
/// Errors are wrapped as `create zip: ...`.
pub fn create<W: Write, F: File>(
    w: W,
    module_path: &str,
    version: &str,
    files: &[F],
) -> Result<(), Error> {
    create_inner(w, module_path, version, files, &Limits::default())
        .map_err(|e| e.op("create zip", None))
}

/// [`create`] with configurable limits, for tests.
#[doc(hidden)]
pub fn create_with_limits<W: Write, F: File>(
    w: W,
    module_path: &str,
    version: &str,
    files: &[F],
    limits: &Limits,
) -> Result<(), Error> {
    create_inner(w, module_path, version, files, limits).map_err(|e| e.op("create zip", None))
}

fn create_inner<W: Write, F: File>(
    w: W,
    module_path: &str,
    version: &str,
    files: &[F],
    limits: &Limits,
) -> Result<(), Error> {
    check_module_version(module_path, version)?;
    let (cf, valid) = check_files_inner(files, limits);
    cf.err()?;

    let prefix = format!("{module_path}@{version}/");
    let zip_err = |e: ::zip::result::ZipError| Error::io("writing zip", io::Error::other(e));
    let mut zw = ::zip::ZipWriter::new_stream(w);
    let options = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated)
        .last_modified_time(::zip::DateTime::default())
        .unix_permissions(0o644);
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    for (i, size) in valid {
        let f = &files[i];
        let p = f.path();
        let mut r = f.open().map_err(|e| Error::io(format!("opening {p}"), e))?;
        zw.start_file(format!("{prefix}{p}"), options)
            .map_err(zip_err)?;
        // Read at most one byte more than declared, to notice a file that
        // grew without reading all of it.
        let mut left = size.saturating_add(1);
        loop {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if want == 0 {
                return Err(Error::LargerThanDeclared(p.to_string()));
            }
            let n = match r.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("reading {p}"), e)),
            };
            left -= n as u64;
            if left == 0 {
                return Err(Error::LargerThanDeclared(p.to_string()));
            }
            zw.write_all(&buf[..n])
                .map_err(|e| Error::io("writing zip", e))?;
        }
    }
    zw.finish().map_err(zip_err)?;
    Ok(())
}

/// Writes the module zip of `module_path`@`version` holding the files of
/// the directory `dir` to `w`.
///
/// The directory is listed as the go command lists it: in lexical order,
/// without following symbolic links, leaving out version control directories
/// (`.bzr`, `.git`, `.hg`, `.svn`), nested modules (subdirectories with
/// their own `go.mod`), vendored packages, symbolic links and irregular
/// files. The files are then zipped as by [`create`]. Empty directories leave
/// no trace.
///
/// Errors are wrapped as `create zip from directory <dir>: ...`.
pub fn create_from_dir<W: Write>(
    w: W,
    module_path: &str,
    version: &str,
    dir: impl AsRef<Path>,
) -> Result<(), Error> {
    let dir = dir.as_ref();
    let result = list_files_in_dir(dir)
        .and_then(|(files, _)| create_inner(w, module_path, version, &files, &Limits::default()));
    result.map_err(|e| e.op("create zip from directory", Some(dir)))
}

const COPY_BUFFER_SIZE: usize = 256 * 1024;

// ---------------------------------------------------------------------------
// Checking and extracting zips
// ---------------------------------------------------------------------------

/// Checks that the zip read from `zip` is a valid module zip for
/// `module_path`@`version`, and that its content is intact.
///
/// Fails (`Err`) if the module path or version is not allowed a module zip,
/// if the zip's structure cannot be read or is ambiguous, or if an entry's
/// content is corrupt (see below). Otherwise returns the verdict on its
/// entries, to be examined with [`CheckedFiles::err`]:
///
/// * `size_error` if the zip is over 500 MiB (nothing else is then read), or
///   the declared sizes of its files add up to more;
/// * **invalid**: entries without the `module@version/` prefix, with a path
///   that is not clean, breaks [`module::check_file_path`] or is not UTF-8,
///   colliding under case folding, repeated, both a file and a directory, a
///   `go.mod` (in any case) below the top directory, a top-level `GO.MOD` in
///   another case, a top-level `go.mod` or `LICENSE` over 16 MiB;
/// * **valid**: the names of the other file entries (directory entries are
///   allowed but not listed).
///
/// When the names and declared sizes pass, every entry's content is then
/// decompressed and checked against what the zip declares: its size (never
/// reading more than one byte past it), its CRC-32, Store or Deflate as the
/// method, no encryption, a directory entry empty. This is stricter than
/// Go's `CheckZip`, which looks at names and declared sizes only, and it is
/// what makes the check worth trusting: metadata can be right while the body
/// is wrong.
pub fn check_zip<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
) -> Result<CheckedFiles, Error> {
    check_zip_with_limits(module_path, version, zip, &Limits::default())
}

/// [`check_zip`] with configurable limits, for tests.
#[doc(hidden)]
pub fn check_zip_with_limits<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<CheckedFiles, Error> {
    let (mut reader, cf) = match open_and_check_names(module_path, version, zip, limits)? {
        Opened::TooLarge(cf) => return Ok(cf),
        Opened::Zip(reader, cf) => (reader, cf),
    };
    if cf.err().is_ok() {
        reader.read_contents(|_, _| true, |_, _, mut content| drain(&mut content))?;
    }
    Ok(cf)
}

/// What admission needs to know of a module zip, learnt in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSummary {
    /// The verdict of [`check_zip`].
    pub checked: CheckedFiles,
    /// The zip's `h1:` (as [`crate::dirhash::hash_zip`] computes it), set
    /// only when the zip is valid.
    pub h1: Option<String>,
    /// The content of the top-level `go.mod`, if the zip is valid and has
    /// one.
    pub go_mod: Option<Vec<u8>>,
}

/// [`check_zip`], the zip's `h1:` and its go.mod, reading every entry's
/// content exactly once (a mirror admitting a 500 MiB zip should not read
/// it three times). The same rules and limits as [`check_zip`] apply; the
/// hash and go.mod are only produced for a zip that passes them.
pub fn check_and_hash_zip<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
) -> Result<ZipSummary, Error> {
    check_and_hash_zip_with_limits(module_path, version, zip, &Limits::default())
}

/// [`check_and_hash_zip`] with configurable limits, for tests.
#[doc(hidden)]
pub fn check_and_hash_zip_with_limits<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<ZipSummary, Error> {
    let (mut reader, cf) = match open_and_check_names(module_path, version, zip, limits)? {
        Opened::TooLarge(cf) => {
            return Ok(ZipSummary {
                checked: cf,
                h1: None,
                go_mod: None,
            })
        }
        Opened::Zip(reader, cf) => (reader, cf),
    };
    if cf.err().is_err() {
        return Ok(ZipSummary {
            checked: cf,
            h1: None,
            go_mod: None,
        });
    }
    let go_mod_name = format!("{module_path}@{version}/go.mod").into_bytes();
    let n = reader.entries().len();
    let mut digests: Vec<Option<[u8; 32]>> = vec![None; n];
    let mut go_mod = None;
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    reader.read_contents(
        |_, _| true,
        |i, entry, content| {
            use sha2::Digest;
            let keep = entry.name == go_mod_name;
            let mut kept = Vec::new();
            let mut h = sha2::Sha256::new();
            loop {
                match content.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        h.update(&buf[..k]);
                        if keep {
                            kept.extend_from_slice(&buf[..k]);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            digests[i] = Some(h.finalize().into());
            if keep {
                go_mod = Some(kept);
            }
            Ok(())
        },
    )?;
    // A valid module zip has no repeated names, so each entry is its own
    // last entry; directory entries hash as empty files.
    let empty: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(b"").into()
    };
    let mut hasher = dirhash::Hasher::new();
    for (i, e) in reader.entries().iter().enumerate() {
        let digest = if e.name.ends_with(b"/") {
            empty
        } else {
            digests[i].unwrap_or(empty)
        };
        hasher
            .add_digest(&e.name, digest)
            .map_err(|err| Error::Format(err.to_string()))?;
    }
    Ok(ZipSummary {
        checked: cf,
        h1: Some(hasher.finish()),
        go_mod,
    })
}

enum Opened<R> {
    TooLarge(CheckedFiles),
    Zip(ArchiveReader<R>, CheckedFiles),
}

/// Checks the module path and version, the zip's size, its structure, and
/// the names and declared sizes of its entries.
fn open_and_check_names<R: Read + Seek>(
    module_path: &str,
    version: &str,
    mut zip: R,
    limits: &Limits,
) -> Result<Opened<R>, Error> {
    check_module_version(module_path, version)?;
    let size = zip
        .seek(SeekFrom::End(0))
        .map_err(|e| Error::io("reading zip", e))?;
    if size > limits.max_zip_file {
        return Ok(Opened::TooLarge(CheckedFiles {
            size_error: Some(SizeError::ZipFile {
                size,
                limit: limits.max_zip_file,
            }),
            ..Default::default()
        }));
    }
    let reader = ArchiveReader::open(zip, limits)?;
    let prefix = format!("{module_path}@{version}/");
    let cf = check_entry_names(reader.entries(), prefix.as_bytes(), limits);
    Ok(Opened::Zip(reader, cf))
}

/// The name and declared-size rules of [`check_zip`], over the entries of
/// the central directory in order.
fn check_entry_names(entries: &[archive::Entry], prefix: &[u8], limits: &Limits) -> CheckedFiles {
    let mut cf = CheckedFiles::default();
    let mut collisions = CollisionChecker::default();
    let mut total: u64 = 0;
    for e in entries {
        let entry_name = || String::from_utf8_lossy(&e.name).into_owned();
        let mut add_error = |kind| {
            cf.invalid.push(FileError {
                path: entry_name(),
                kind,
            })
        };
        let Some(rest) = e.name.strip_prefix(prefix) else {
            add_error(FileErrorKind::MissingPrefix(
                String::from_utf8_lossy(prefix).into_owned(),
            ));
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let is_dir = rest.ends_with(b"/");
        let rest = if is_dir {
            &rest[..rest.len() - 1]
        } else {
            rest
        };
        if slashpath::clean_bytes(rest) != rest {
            add_error(FileErrorKind::PathNotClean);
            continue;
        }
        let Ok(name) = std::str::from_utf8(rest) else {
            add_error(FileErrorKind::NotUtf8(quote_bytes(rest)));
            continue;
        };
        if let Err(err) = module::check_file_path(name) {
            add_error(FileErrorKind::BadPath(err));
            continue;
        }
        if let Err(kind) = collisions.check(name, is_dir) {
            add_error(kind);
            continue;
        }
        if is_dir {
            continue;
        }
        let base = slashpath::split(name).1;
        if base.eq_ignore_ascii_case("go.mod") {
            if base != name {
                add_error(FileErrorKind::GoModNotRoot);
                continue;
            }
            if name != "go.mod" {
                add_error(FileErrorKind::GoModCase);
                continue;
            }
        }
        let size = e.size;
        if size <= limits.max_unzipped - total {
            total += size;
        } else if cf.size_error.is_none() {
            cf.size_error = Some(SizeError::Unzipped {
                limit: limits.max_unzipped,
            });
        }
        if name == "go.mod" && size > limits.max_go_mod {
            add_error(FileErrorKind::GoModSize(limits.max_go_mod));
            continue;
        }
        if name == "LICENSE" && size > limits.max_license {
            add_error(FileErrorKind::LicenseSize(limits.max_license));
            continue;
        }
        cf.valid.push(entry_name());
    }
    cf
}

/// Extracts the module zip of `module_path`@`version` read from `zip` into
/// the directory `dir`.
///
/// `dir` must be empty or not exist yet (it is created, with its parents).
/// Everything [`check_zip`] checks from the names and declared sizes is
/// checked before anything is written; each file's content is checked
/// (size, CRC-32) as it is written. If that fails, what was written is
/// removed again before the error is returned. Files are created read-only,
/// directories as needed; directory entries are otherwise ignored.
///
/// Errors are wrapped as `unzip <dir>: ...`.
pub fn unzip<R: Read + Seek>(
    dir: impl AsRef<Path>,
    module_path: &str,
    version: &str,
    zip: R,
) -> Result<(), Error> {
    unzip_with_limits(dir, module_path, version, zip, &Limits::default())
}

/// [`unzip`] with configurable limits, for tests.
#[doc(hidden)]
pub fn unzip_with_limits<R: Read + Seek>(
    dir: impl AsRef<Path>,
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<(), Error> {
    let dir = dir.as_ref();
    unzip_inner(dir, module_path, version, zip, limits).map_err(|e| e.op("unzip", Some(dir)))
}

fn unzip_inner<R: Read + Seek>(
    dir: &Path,
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
) -> Result<(), Error> {
    if let Ok(mut entries) = fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(Error::NotEmpty(dir.to_path_buf()));
        }
    }
    let mut reader = match open_and_check_names(module_path, version, zip, limits)? {
        Opened::TooLarge(cf) => return cf.err(),
        Opened::Zip(reader, cf) => {
            cf.err()?;
            reader
        }
    };

    let existed = dir.exists();
    fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let prefix_len = module_path.len() + 1 + version.len() + 1;
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    let result = reader.read_contents(
        |_, _| true,
        |_, e, content| {
            let name = std::str::from_utf8(&e.name[prefix_len..])
                .map_err(|_| io::Error::other("checked names are UTF-8"))?;
            let dst = dir.join(name);
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o444);
            }
            let mut out = opts.open(&dst)?;
            loop {
                let n = match content.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                out.write_all(&buf[..n])?;
            }
            out.sync_all()
        },
    );
    if let Err(e) = result {
        remove_extracted(dir, existed);
        return Err(e.into());
    }
    Ok(())
}

/// Best-effort removal of what a failed [`unzip`] wrote into `dir`, which
/// was empty or absent before.
fn remove_extracted(dir: &Path, existed: bool) {
    if !existed {
        let _ = fs::remove_dir_all(dir);
        return;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The go line of go.mod
// ---------------------------------------------------------------------------

/// The language version of a module's go.mod, as x/mod's zip package reads
/// it to choose vendoring rules: the go.mod is parsed leniently (as a
/// dependency's, [`crate::modfile::parse_lax`]) and its `go` directive is
/// used only if the whole file parses.
mod go_mod {
    use crate::modfile;

    /// Whether the `go` line of this go.mod selects the go 1.24 vendoring
    /// rules: the file parses leniently, has a `go` directive, and its
    /// version is a valid Go version whose language version (`1.N`) is at
    /// least `1.24`.
    pub(super) fn vendor_rules_go124(data: &[u8]) -> bool {
        match modfile::parse_lax("go.mod", data) {
            Ok(f) => f.go.is_some_and(|go| lang_at_least(&go.version, 1, 24)),
            Err(_) => false,
        }
    }

    /// Whether Go version `v` (without the `go` prefix) is valid and its
    /// language version (major.minor) is at least `major.minor`.
    fn lang_at_least(v: &str, major: u64, minor: u64) -> bool {
        let Some((v_major, v_minor)) = parse_go_version(v) else {
            return false;
        };
        let cmp = |a: &str, b: u64| {
            let b = b.to_string();
            a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
        };
        match cmp(v_major, major) {
            std::cmp::Ordering::Equal => {
                v_minor.is_some_and(|m| cmp(m, minor) != std::cmp::Ordering::Less)
            }
            o => o == std::cmp::Ordering::Greater,
        }
    }

    /// The major and minor numbers of a valid Go version like `1`, `1.21`,
    /// `1.21.3`, `1.22rc1` (no leading zeros; no pre-release on a patch
    /// release).
    fn parse_go_version(v: &str) -> Option<(&str, Option<&str>)> {
        let int = |s: &str| -> Option<usize> {
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || (s.starts_with('0') && n != 1) {
                None
            } else {
                Some(n)
            }
        };
        let n = int(v)?;
        let (major, rest) = v.split_at(n);
        if rest.is_empty() {
            return Some((major, None));
        }
        let rest = rest.strip_prefix('.')?;
        let n = int(rest)?;
        let (minor, rest) = rest.split_at(n);
        if rest.is_empty() {
            return Some((major, Some(minor)));
        }
        if let Some(patch) = rest.strip_prefix('.') {
            let n = int(patch)?;
            return (n == patch.len()).then_some((major, Some(minor)));
        }
        let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        if letters == 0 {
            return None;
        }
        let pre = &rest[letters..];
        if pre.is_empty() || int(pre)? == pre.len() {
            Some((major, Some(minor)))
        } else {
            None
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        /// Each case's answer is what x/mod (fe2ec04) computes:
        /// `version.Compare(version.Lang("go"+ParseLax(f).Go.Version), "go1.24") >= 0`.
        fn go_line_selects_vendor_rules() {
            for (src, want) in [
                ("go 1.24\n", true),
                ("module m\n\ngo 1.24\n", true),
                ("go 1.24.0\n", true),
                ("go 1.25rc1\n", true),
                ("go 2.0\n", true),
                ("go 1.23\n", false),
                ("go 1.23.9\n", false),
                ("module m\n", false),
                ("", false),
                ("go 1.24beta\n", true),
                ("go v1.24.x\n", true),
                ("go 1.24.0rc1\n", false),
                ("go 1.24rc01\n", false),
                ("go 1.24\ngo 1.24\n", false),
                ("go 1.24\nmodule a b\n", false),
                ("go 1.24\nrequire x.com/a\n", false),
                ("go 1.24\nrequire x.com/a/v2 v1.0.0\n", false),
                ("go 1.24\nrequire x.com/a vbad\n", false),
                ("go 1.24\nrequire (\n\tx.com/a v1.0.0\n", false),
                ("go 1.24\n/* comment */\n", false),
                ("go 1.24\nmodule \"unterminated\n", false),
                ("go 1.24\n\u{0}\n", false),
                (
                    "go 1.24 // comment\nrequire (\n\tx.com/a v1.0.0 // indirect\n)\n",
                    true,
                ),
                (
                    "go 1.24\nrequire x.com/a/v2 v2.0.0\nretract [v1.0.0, v1.1.0]\n",
                    true,
                ),
                (
                    "go 1.24\nreplace x.com/a => ./a\nunknown directive here\n",
                    true,
                ),
                ("go 1.24\nmodule \"quoted/\\u0041\"\n", true),
                ("go 1.24\ntool (\n\tx.com/a\n)\n", true),
                ("go (\n\t1.24\n)\n", false),
                ("go 1.24\nmodule `raw`\n", false),
                ("go 1.24\nrequire x.com/a v1.0\n", true),
                ("go 1.24\nignore ./foo\n", true),
                ("go 1.24\nignore (\n a b\n)\n", false),
                ("go 1.24\nretract v1.0.0 garbage [\n", true),
                ("go 1.24\nmodule 'x'\n", false),
                ("go 1.24\nmodule x\u{a0}y\n", false),
                ("go 1.24 \r\n", true),
                ("go 1.24\nrequire \"x.com/a\" \"v1.0.0\"\n", true),
                ("go 1.24\nrequire x.com/a v1.0.0+incompatible\n", true),
                ("go 1.24\nrequire x.com/a/v2 v2.0.0+incompatible\n", true),
                ("go 1.24\nrequire gopkg.in/yaml.v3 v3.0.1\n", true),
                ("go 1.24\nrequire gopkg.in/yaml.v3 v2.0.1\n", false),
                ("go 1.24\n)\n", true),
                ("go 1.24\nfoo (\n)\n", true),
                ("go 1.24\nfoo ( )\n", true),
                ("go 1.24\nrequire ( ) x\n", false),
                ("go 1.24\nmodule \"a\\qb\"\n", false),
                ("go 1.24\nmodule \"\\xff\"\n", true),
                ("go 1.24\nmodule \"\\400\"\n", false),
                ("go 1.24\n\nrequire (\n)\n", true),
                ("go 1.24 extra\n", false),
                ("go\n", false),
                ("go 1.9999999999999999999999\n", true),
                ("go 01.24\n", false),
                ("go 1.024\n", false),
                ("go 1.24.01\n", true),
                ("go 1.24 // x\nmodule m // y\n", true),
                ("\u{feff}go 1.24\n", false),
                ("go 1.24\nrequire x.com/a v1.0.0 // comment\n", true),
                ("go 1.24\nrequire x.com/a v1.0.0-\n", false),
                ("go 1.24\nrequire x.com/a v1.0.0-pre\n", true),
                ("go 1.24\nrequire x.com/A v1.0.0\n", true),
                ("go 1.24\nexclude x.com/a vbad\n", true),
                ("go 1.24\nreplace garbage\n", true),
                ("go 1.24\n{\n", true),
                ("go 1.24\n[x]\n", true),
                ("go 1.24\nx,y\n", true),
            ] {
                assert_eq!(vendor_rules_go124(src.as_bytes()), want, "{src:?}");
            }
        }
    }
}

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
