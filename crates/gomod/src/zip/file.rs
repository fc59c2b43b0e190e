//! The files a module zip is made from: anything that can report its path,
//! its kind and size (without following symbolic links), and open its
//! content.

use std::fs;
use std::io::{self, Read};

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
    pub(super) fn from_metadata(m: &fs::Metadata) -> Self {
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
