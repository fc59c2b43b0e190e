//! Module paths, import paths and file paths; case-encoding; major-version
//! suffixes. (Stub signatures: bodies are being written.)

use std::fmt;

/// An error about a module path, an import path, a file path or a version,
/// displayed with the same text as `golang.org/x/mod/module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    msg: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// `module.CheckPath`.
pub fn check_path(_path: &str) -> Result<(), Error> {
    unimplemented!()
}
/// `module.CheckImportPath`.
pub fn check_import_path(_path: &str) -> Result<(), Error> {
    unimplemented!()
}
/// `module.CheckFilePath`.
pub fn check_file_path(_path: &str) -> Result<(), Error> {
    unimplemented!()
}
/// `module.Check(path, version)`.
pub fn check(_path: &str, _version: &str) -> Result<(), Error> {
    unimplemented!()
}
/// `module.EscapePath`.
pub fn escape_path(_path: &str) -> Result<String, Error> {
    unimplemented!()
}
/// `module.UnescapePath`.
pub fn unescape_path(_escaped: &str) -> Result<String, Error> {
    unimplemented!()
}
/// `module.EscapeVersion`.
pub fn escape_version(_v: &str) -> Result<String, Error> {
    unimplemented!()
}
/// `module.UnescapeVersion`.
pub fn unescape_version(_escaped: &str) -> Result<String, Error> {
    unimplemented!()
}
/// `module.SplitPathVersion`: (prefix, pathMajor, ok).
pub fn split_path_version(_path: &str) -> Option<(&str, &str)> {
    unimplemented!()
}
/// `module.CheckPathMajor`.
pub fn check_path_major(_version: &str, _path_major: &str) -> Result<(), Error> {
    unimplemented!()
}
/// `module.MatchPathMajor`.
pub fn match_path_major(_version: &str, _path_major: &str) -> bool {
    unimplemented!()
}
