//! The rules on the file names of a module zip that are more than
//! [`module::check_file_path`]: names equal under case folding, a name used
//! as both a file and a directory, files in vendored packages; and quoting
//! names that are not UTF-8.

use std::collections::HashMap;

use super::FileErrorKind;
use crate::module;

/// Reports whether the file `name` (a clean slash-separated path relative
/// to the module root) is in a vendored package, under the rules of the go
/// 1.24 language version and later if `go124`, else of earlier ones. See
/// [`check_files`](super::check_files).
pub(super) fn is_vendored_package(name: &str, go124: bool) -> bool {
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
pub(super) struct CollisionChecker {
    /// Folded path to (original path, is a directory).
    seen: HashMap<String, (String, bool)>,
}

impl CollisionChecker {
    pub(super) fn check(&mut self, p: &str, is_dir: bool) -> Result<(), FileErrorKind> {
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
pub(super) fn quote_bytes(b: &[u8]) -> String {
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
