//! Checking module zips and the files that would make one: a list of
//! files, a directory, an existing zip (and, in one pass, its `h1:` and
//! go.mod).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::dir::list_files_in_dir;
use super::file::{File, FileKind};
use super::names::{is_vendored_package, quote_bytes, CollisionChecker};
use super::stream::StreamDigests;
use super::{
    check_module_version, go_mod, CheckedFiles, Error, FileError, FileErrorKind, Limits, SizeError,
    COPY_BUFFER_SIZE,
};
use crate::archive::{self, drain, ArchiveReader, Content};
use crate::{dirhash, module, slashpath};

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
pub(super) fn check_files_inner<F: File>(
    files: &[F],
    limits: &Limits,
) -> (CheckedFiles, Vec<(usize, u64)>) {
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

/// Checks the files of the directory `dir` as [`create_from_dir`](super::create_from_dir) would
/// zip them: the directory is listed (see [`create_from_dir`](super::create_from_dir) for what the
/// listing leaves out), then the files are checked as by [`check_files`].
///
/// The paths in the result are file system paths (`dir` joined with the
/// relative path). A directory left out while listing (version control,
/// nested module) is reported as itself, without its files, after the files
/// [`check_files`] left out.
///
/// Returns an error only if listing the directory fails; otherwise call
/// [`CheckedFiles::err`] for the verdict. Files are not opened (except
/// `go.mod`), so [`create_from_dir`](super::create_from_dir) can still fail reading them.
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
    check_and_hash(module_path, version, zip, limits, None)
}

/// [`check_and_hash_zip`], with the content of the entries that
/// [`digest_stream`](super::digest_stream) already verified and digested
/// while these bytes arrived not read again: the verdict, `h1:` and go.mod
/// are exactly those of [`check_and_hash_zip`] on the same bytes.
///
/// Everything else is done as [`check_and_hash_zip`] does it: the size,
/// the central directory and its agreement with the `zip` crate, names
/// and declared sizes, and for each entry its local header, method,
/// encryption, repetition, data offset and data descriptor. An entry's
/// content is taken from `streamed` only when the central directory's
/// name, method, flags, CRC-32, compressed and uncompressed sizes and
/// header offset, and the data offset its local header gives in `zip`,
/// are exactly those of a streamed entry (the size then counts against
/// the unzipped limit as reading would); every other entry is read.
///
/// `streamed` must come from the very bytes `zip` reads: it says what the
/// bytes at those offsets hold, and is not checked against them (that is
/// the reading it saves). As a guard against a mix-up, a `streamed` whose
/// length differs from the zip's is not used at all.
pub fn check_and_hash_zip_streamed<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
    streamed: &StreamDigests,
) -> Result<ZipSummary, Error> {
    check_and_hash(
        module_path,
        version,
        zip,
        &Limits::default(),
        Some(streamed),
    )
}

/// [`check_and_hash_zip_streamed`] with configurable limits, for tests.
#[doc(hidden)]
pub fn check_and_hash_zip_streamed_with_limits<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
    streamed: &StreamDigests,
    limits: &Limits,
) -> Result<ZipSummary, Error> {
    check_and_hash(module_path, version, zip, limits, Some(streamed))
}

/// [`check_and_hash_zip_streamed`], or without digests
/// [`check_and_hash_zip`].
fn check_and_hash<R: Read + Seek>(
    module_path: &str,
    version: &str,
    zip: R,
    limits: &Limits,
    streamed: Option<&StreamDigests>,
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
    let streamed = streamed.filter(|s| s.consumed() == reader.len());
    let go_mod_name = format!("{module_path}@{version}/go.mod").into_bytes();
    let n = reader.entries().len();
    let mut digests: Vec<Option<[u8; 32]>> = vec![None; n];
    let mut go_mod = None;
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    reader.read_contents_with(
        |_, _| true,
        |_, entry, data_start| {
            let s = streamed?.matching(entry, data_start)?;
            // The go.mod is needed too: known only if it was kept.
            let kept = if entry.name == go_mod_name {
                Some(streamed?.go_mod_at(s.header_offset)?)
            } else {
                None
            };
            Some((s.digest, kept))
        },
        |i, entry, content| {
            let content = match content {
                Content::Known((digest, kept)) => {
                    digests[i] = Some(digest);
                    if let Some(kept) = kept {
                        go_mod = Some(kept.to_vec());
                    }
                    return Ok(());
                }
                Content::Read(content) => content,
            };
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
            .map_err(|err| Error::Archive(archive::Error::Format(err.to_string())))?;
    }
    Ok(ZipSummary {
        checked: cf,
        h1: Some(hasher.finish()),
        go_mod,
    })
}

pub(super) enum Opened<R> {
    TooLarge(CheckedFiles),
    Zip(ArchiveReader<R>, CheckedFiles),
}

/// Checks the module path and version, the zip's size, its structure, and
/// the names and declared sizes of its entries.
pub(super) fn open_and_check_names<R: Read + Seek>(
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
