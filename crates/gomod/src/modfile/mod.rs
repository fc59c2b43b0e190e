//! The go.mod file format: enough of it for a mirror, done properly.
//!
//! * [`parse_syntax`] and [`format()`]: the syntax tree with its comments, and
//!   the standard printer (what `go mod edit -fmt` writes);
//! * [`parse_lax`]: what the go command reads from a dependency's go.mod,
//!   with the same checks and error messages; [`parse`] and [`parse_work`]
//!   for a main module's go.mod and for go.work files;
//! * [`module_path()`]: the quick, tolerant scan for the `module` line;
//! * [`synthesize_go_mod`]: the go.mod the go command makes up for a module
//!   that has none;
//! * [`check_go_mod`]: the check a mirror applies before serving a `.mod`.
//!
//! Errors read like the go command's: `go.mod:3: require x: version "1.2"
//! invalid: must be of the form v1.2.3`.
//!
//! Files are bytes, and text that is not valid UTF-8 is accepted or rejected
//! exactly as the go command does (it may appear in comments, strings and
//! identifiers); but in the values this module returns (tokens, paths, comments, messages, [`format()`]'s output) each
//! invalid byte reads as U+FFFD, where Go would keep the byte (or print
//! `\xNN` in a message).
//!
//! Left out, as a mirror does not need them: the editing API of
//! `golang.org/x/mod/modfile` (adding, dropping and sorting directives,
//! `Cleanup`), and version fixers: versions are checked as the go command
//! checks a dependency's go.mod (no fixer). `replace` directories containing
//! a backslash are judged as on a non-Windows system.

mod print;
mod quote;
mod rule;
mod syntax;

use std::fmt;

pub use print::format;
pub use quote::{quote, unquote};
pub use rule::{
    directive_comment, is_go_version, is_toolchain_name, parse, parse_deprecation, parse_lax,
    parse_work, Exclude, File, Go, Godebug, Ignore, Module, Replace, Require, Retract, Tool,
    Toolchain, Use, VersionInterval, WorkFile,
};
pub use syntax::{
    parse_syntax, Comment, CommentBlock, Comments, FileSyntax, Line, LineBlock, LineRef, Paren,
    Position, Stmt,
};

/// One problem in a go.mod or go.work file.
///
/// Displayed as `file:line: ` (or `file:line:col: ` when the column is not
/// 1, as for lexical errors), then `verb path: ` when the problem concerns a
/// module named on the line, then the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub filename: String,
    /// Where the problem is; line 0 if unknown.
    pub pos: Position,
    /// The directive, when the problem concerns `mod_path`.
    pub verb: String,
    pub mod_path: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line_rune > 1 {
            write!(
                f,
                "{}:{}:{}: ",
                self.filename, self.pos.line, self.pos.line_rune
            )?;
        } else if self.pos.line > 0 {
            write!(f, "{}:{}: ", self.filename, self.pos.line)?;
        } else if !self.filename.is_empty() {
            write!(f, "{}: ", self.filename)?;
        }
        if !self.mod_path.is_empty() {
            write!(f, "{} {}: ", self.verb, self.mod_path)?;
        } else if !self.verb.is_empty() {
            write!(f, "{}: ", self.verb)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Every problem found in a file (at least one), in file order; displayed
/// one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
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

impl std::error::Error for Errors {}

/// Whether `s` must be quoted to stand as one token on a go.mod line: it is
/// empty; or contains a space, a quote (`"`, `'`, backquote) or a
/// non-printable rune; or contains `//` or `/*`; or contains one of
/// `( ) [ ] { } ,` and is more than that one character.
pub fn must_quote(s: &str) -> bool {
    let special = s.chars().any(|c| match c {
        ' ' | '"' | '\'' | '`' => true,
        '(' | ')' | '[' | ']' | '{' | '}' | ',' => s.len() > 1,
        c => !quote::is_print(c),
    });
    special || s.is_empty() || s.contains("//") || s.contains("/*")
}

/// `s` as a go.mod token: itself, or its Go double-quoted form when
/// [`must_quote`] says so.
pub fn auto_quote(s: &str) -> String {
    if must_quote(s) {
        quote(s)
    } else {
        s.to_string()
    }
}

/// Whether a replacement path names a directory rather than a module: `.`,
/// `..`, or starting with `./`, `../`, `.\`, `..\`, `/` or `\`, or with a
/// drive letter and `:`. Both slash styles count, because go.mod files move
/// between systems.
pub fn is_directory_path(p: &str) -> bool {
    let b = p.as_bytes();
    p == "."
        || p == ".."
        || ["./", ".\\", "../", "..\\", "/", "\\"]
            .iter()
            .any(|pre| p.starts_with(pre))
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// The module path declared in go.mod text, found the tolerant way the go
/// command does when it only needs the path (`modfile.ModulePath`): the
/// first line that, after cutting everything from the first `//` and
/// trimming space, is `module`, whitespace, and a path. A path starting with
/// `"` or a backquote must be one whole Go string literal (else `None`);
/// any other path is taken as is. Lines that are `module` alone are skipped.
/// The rest of the file need not be valid. `None` if there is no such line
/// or the path is empty.
pub fn module_path(data: &[u8]) -> Option<String> {
    for raw in data.split(|&b| b == b'\n') {
        let raw = match raw.windows(2).position(|w| w == b"//") {
            Some(i) => &raw[..i],
            None => raw,
        };
        let line = String::from_utf8_lossy(raw);
        let Some(rest) = line.trim().strip_prefix("module") else {
            continue;
        };
        let path = rest.trim();
        if path.len() == rest.len() || path.is_empty() {
            continue;
        }
        if path.starts_with(['"', '`']) {
            let p = unquote(path.as_bytes()).ok()?;
            return (!p.is_empty()).then_some(p);
        }
        return Some(path.to_string());
    }
    None
}

/// The go.mod the go command uses for a module version that has no go.mod
/// file of its own: a `module` line with the path ([`auto_quote`]d) and
/// nothing else — no `go` line, no requirements.
pub fn synthesize_go_mod(module_path: &str) -> Vec<u8> {
    format!("module {}\n", auto_quote(module_path)).into_bytes()
}

/// Why the go command would refuse a dependency's go.mod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoModError {
    /// [`parse_lax`] failed.
    Parse(Errors),
    /// There is no `module` directive, or its path is empty.
    MissingModuleLine,
    /// The `module` directive names another module.
    PathMismatch {
        /// The path in the `module` line.
        declared: String,
        /// The path the go.mod was fetched for.
        required: String,
    },
}

impl fmt::Display for GoModError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoModError::Parse(errs) => write!(f, "parsing go.mod: {errs}"),
            GoModError::MissingModuleLine => f.write_str("parsing go.mod: missing module line"),
            GoModError::PathMismatch { declared, required } => write!(
                f,
                "parsing go.mod:\n\tmodule declares its path as: {declared}\n\t        but was required as: {required}"
            ),
        }
    }
}

impl std::error::Error for GoModError {}

/// Checks a go.mod served for `module_path` the way the go command checks a
/// dependency's go.mod when it loads the module graph (modload's
/// `goModSummary` for a module fetched at a version):
///
/// 1. it must pass [`parse_lax`] (as file `go.mod`);
/// 2. it must have a `module` directive with a non-empty path;
/// 3. that path must be exactly `module_path`: a go.mod that declares another
///    path is rejected with "module declares its path as: X but was required
///    as: Y".
///
/// The messages are the go command's, which prefixes them with
/// `path@version: `. Not checked here, as the go command does not reject a
/// file for them: the `go` version being newer than the client's toolchain
/// (the client decides), and the size limit (16 MiB, the caller's job).
/// Every go.mod from [`synthesize_go_mod`] passes.
///
/// # Errors
///
/// The first rule broken, as a [`GoModError`].
pub fn check_go_mod(module_path: &str, data: &[u8]) -> Result<File, GoModError> {
    let file = parse_lax("go.mod", data).map_err(GoModError::Parse)?;
    match &file.module {
        Some(m) if !m.path.is_empty() => {
            if m.path != module_path {
                return Err(GoModError::PathMismatch {
                    declared: m.path.clone(),
                    required: module_path.to_string(),
                });
            }
        }
        _ => return Err(GoModError::MissingModuleLine),
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error parse_lax reports for `data`, as text.
    fn lax_err(data: &str) -> String {
        match parse_lax("go.mod", data.as_bytes()) {
            Ok(_) => panic!("parse_lax accepted {data:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn lax_rejects_bad_module_paths() {
        assert_eq!(
            lax_err("module a b\n"),
            "go.mod:1: usage: module module/path"
        );
        assert_eq!(lax_err("module\n"), "go.mod:1: usage: module module/path");
        assert_eq!(
            lax_err("module 'a'\n"),
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote"
        );
        assert_eq!(
            lax_err("module `a`\n"),
            "go.mod:1: invalid quoted string: unquoted string cannot contain quote"
        );
        assert_eq!(
            lax_err("module \"a\\z\"\n"),
            "go.mod:1: invalid quoted string: invalid syntax"
        );
        assert_eq!(
            lax_err("module a\nmodule b\n"),
            "go.mod:2: repeated module statement"
        );
        // A required path with a malformed major-version suffix.
        assert_eq!(
            lax_err("module a\nrequire x/v1 v1.0.0\n"),
            "go.mod:2: invalid module path"
        );
        assert_eq!(
            lax_err("module a\nrequire gopkg.in/x v1.0.0\n"),
            "go.mod:2: invalid module path"
        );
    }

    #[test]
    fn lax_rejects_bad_required_versions() {
        assert_eq!(
            lax_err("module a\nrequire x 1.0.0\n"),
            r#"go.mod:2: require x: version "1.0.0" invalid: must be of the form v1.2.3"#
        );
        assert_eq!(
            lax_err("module a\nrequire (\n\tx latest\n)\n"),
            r#"go.mod:3:2: require x: version "latest" invalid: must be of the form v1.2.3"#
        );
        assert_eq!(
            lax_err("module a\nrequire x/v3 v2.0.0\n"),
            r#"go.mod:2: require x/v3: version "v2.0.0" invalid: should be v3, not v2"#
        );
        assert_eq!(
            lax_err("module a\nrequire x v1.0.0 v1.0.1\n"),
            "go.mod:2: usage: require module/path v1.2.3"
        );
        assert_eq!(
            lax_err("module a\nrequire x 'v1'\n"),
            r#"go.mod:2: require x: version "'v1'" invalid: unquoted string cannot contain quote"#
        );
        // Non-canonical but valid versions are accepted and canonicalized.
        let f = parse_lax(
            "go.mod",
            b"module a\nrequire x v1.2\nrequire y v1.0.0+meta\n",
        )
        .unwrap();
        assert_eq!(f.require[0].version, "v1.2.0");
        assert_eq!(f.require[1].version, "v1.0.0");
    }

    #[test]
    fn lax_go_versions() {
        assert_eq!(
            lax_err("go 1\n"),
            "go.mod:1: invalid go version '1': must match format 1.23.0"
        );
        assert_eq!(
            lax_err("go 1.x\n"),
            "go.mod:1: invalid go version '1.x': must match format 1.23.0"
        );
        assert_eq!(
            lax_err("go\n"),
            "go.mod:1: go directive expects exactly one argument"
        );
        assert_eq!(
            lax_err("go 1.21\ngo 1.22\n"),
            "go.mod:2: repeated go statement"
        );
        let go = |s: &str| {
            parse_lax("go.mod", s.as_bytes())
                .unwrap()
                .go
                .unwrap()
                .version
        };
        assert_eq!(go("go 1.21.0\n"), "1.21.0");
        assert_eq!(go("go 1.21rc1\n"), "1.21rc1");
        assert_eq!(go("go v1.21.x\n"), "1.21");
        assert_eq!(go("go 1.21-pre\n"), "1.21");
        assert_eq!(go("go 1.21.01\n"), "1.21");
        for v in [
            "1.21",
            "1.21.0",
            "1.0",
            "10.100.1000",
            "1.21rc1",
            "1.2.3beta10",
        ] {
            assert!(is_go_version(v), "{v}");
        }
        for v in [
            "1", "v1.21", "01.2", "1.02", "1.2.03", "1.2.3.4", "1.21RC1", "1.21rc", "1.21-rc1", "",
        ] {
            assert!(!is_go_version(v), "{v}");
        }
    }

    #[test]
    fn unterminated_strings_and_blocks() {
        assert_eq!(
            lax_err("module \"a\n"),
            "go.mod:1:10: unexpected newline in string"
        );
        assert_eq!(
            lax_err("module \"a"),
            "go.mod:1:8: unexpected EOF in string"
        );
        assert_eq!(lax_err("module `a"), "go.mod:1:8: unexpected EOF in string");
        assert_eq!(
            lax_err("module \"a\\"),
            "go.mod:1:8: unexpected EOF in string"
        );
        assert_eq!(
            lax_err("module a\n\nrequire (\n\tx v1.0.0\n"),
            "go.mod:5: syntax error (unterminated block started at go.mod:3:1)"
        );
        assert_eq!(
            lax_err("require (\n) x\n"),
            "go.mod:2:4: syntax error (expected newline after closing paren)"
        );
        assert_eq!(
            lax_err("module a /* b */\n"),
            "go.mod:1:10: mod files must use // comments (not /* */ comments)"
        );
        assert_eq!(
            lax_err("\u{feff}module a\n"),
            r"go.mod:1: unexpected input character '\ufeff'"
        );
        assert_eq!(
            lax_err("module a\x0b\n"),
            r"go.mod:1:9: unexpected input character '\v'"
        );
    }

    #[test]
    fn deprecation() {
        let dep = |s: &str| {
            parse_lax("go.mod", s.as_bytes())
                .unwrap()
                .module
                .unwrap()
                .deprecated
        };
        assert_eq!(
            dep("// Deprecated: use b\nmodule a\n").as_deref(),
            Some("use b")
        );
        assert_eq!(
            dep("module a // Deprecated: use c\n").as_deref(),
            Some("use c")
        );
        assert_eq!(dep("// Deprecated:\nmodule a\n"), None);
        assert_eq!(dep("// deprecated: no\nmodule a\n"), None);
        assert_eq!(
            dep("// Text.\n// Deprecated: not a paragraph start\nmodule a\n"),
            None
        );
        assert_eq!(
            dep("// Text.\n//\n// Deprecated: two\n// lines\n//\n// More.\nmodule a\n").as_deref(),
            Some("two\nlines")
        );
        assert_eq!(dep("//Deprecated:x\nmodule a\n").as_deref(), Some("x"));
        // In a block, a line without comments takes the block's.
        assert_eq!(
            dep("// Deprecated: b\nmodule (\n\ta\n)\n").as_deref(),
            Some("b")
        );
        assert_eq!(
            dep("module (\n\t// Deprecated: l\n\ta\n)\n").as_deref(),
            Some("l")
        );

        assert_eq!(parse_deprecation("Deprecated:   x  y"), Some("x  y".into()));
        assert_eq!(parse_deprecation("Deprecated:\tx"), Some("\tx".into()));
        assert_eq!(parse_deprecation("a\n\n\nDeprecated: x"), Some("x".into()));
        assert_eq!(
            parse_deprecation("Deprecated: x\n\nDeprecated: y"),
            Some("x".into())
        );
        assert_eq!(parse_deprecation(" Deprecated: x"), None);
        assert_eq!(parse_deprecation(""), None);
    }

    #[test]
    fn synthesis() {
        assert_eq!(
            synthesize_go_mod("example.com/m"),
            b"module example.com/m\n"
        );
        assert_eq!(
            synthesize_go_mod("example.com/a b"),
            b"module \"example.com/a b\"\n"
        );
        let data = synthesize_go_mod("example.com/m/v3");
        let f = check_go_mod("example.com/m/v3", &data).unwrap();
        assert!(f.go.is_none() && f.require.is_empty());
    }

    #[test]
    fn quoting_rules() {
        for s in [
            "a",
            "example.com/m",
            "(",
            ",",
            "a/b",
            "é",
            "v1.0.0",
            "=>",
            "\\",
        ] {
            assert!(!must_quote(s), "{s:?}");
        }
        for s in [
            "", "a b", "a\"b", "a'b", "a`b", "()", "a,", "a//b", "a/*b", "a\tb", "\u{a0}",
            "\u{feff}",
        ] {
            assert!(must_quote(s), "{s:?}");
        }
        assert_eq!(auto_quote("a b"), "\"a b\"");
        assert_eq!(auto_quote("a\tb"), "\"a\\tb\"");
        assert_eq!(auto_quote("ab"), "ab");
    }

    #[test]
    fn directory_paths() {
        for p in [
            ".", "..", "./a", "../a", ".\\a", "..\\a", "/a", "\\a", "C:\\a", "c:",
        ] {
            assert!(is_directory_path(p), "{p}");
        }
        for p in ["a", ".a", "..a", "example.com/m", "1:", "", "a/../b"] {
            assert!(!is_directory_path(p), "{p}");
        }
    }

    #[test]
    fn error_display() {
        let e = Error {
            filename: "go.mod".into(),
            pos: Position {
                line: 3,
                line_rune: 1,
                byte: 20,
            },
            verb: "require".into(),
            mod_path: "x".into(),
            message: "m".into(),
        };
        assert_eq!(e.to_string(), "go.mod:3: require x: m");
        let e = Error {
            pos: Position {
                line: 3,
                line_rune: 4,
                byte: 20,
            },
            mod_path: String::new(),
            ..e
        };
        assert_eq!(e.to_string(), "go.mod:3:4: require: m");
        let e = Error {
            pos: Position::default(),
            verb: String::new(),
            ..e
        };
        assert_eq!(e.to_string(), "go.mod: m");
    }
}
