//! Writing module zips, from a list of files or from a directory.

use std::io::{self, Read, Write};
use std::path::Path;

use super::check::check_files_inner;
use super::dir::list_files_in_dir;
use super::file::File;
use super::{check_module_version, Error, Limits, COPY_BUFFER_SIZE};

/// Writes the module zip of `module_path`@`version` holding `files` to `w`.
///
/// The module path and version are checked first, then the files as by
/// [`check_files`](super::check_files): any invalid file or size error fails the whole zip, and
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
