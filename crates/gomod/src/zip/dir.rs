//! Listing a directory the way the go command does before zipping it: in
//! lexical order, without following symbolic links, leaving out version
//! control directories, nested modules, vendored packages, symbolic links
//! and irregular files.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::file::{File, FileInfo, FileKind};
use super::names::is_vendored_package;
use super::{go_mod, Error, FileError, FileErrorKind};

/// A file found by walking a directory.
#[derive(Debug)]
pub(super) struct DirFile {
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

/// Lists the files under `dir` the way the go command does before zipping a
/// directory, returning the regular files and what was left out.
///
/// The walk, in lexical order, does not follow symbolic links. It leaves out
/// (and reports): directories named `.bzr`, `.git`, `.hg` or `.svn`, with
/// their content; directories other than `dir` that contain a `go.mod` (a
/// nested module), with their content; everything in a vendored package (see
/// [`check_files`](super::check_files); the `go` line is read from `dir/go.mod`); and symbolic
/// links and other irregular files.
pub(super) fn list_files_in_dir(dir: &Path) -> Result<(Vec<DirFile>, Vec<FileError>), Error> {
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
