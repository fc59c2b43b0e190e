//! Directives: what each go.mod and go.work statement means, and the checks
//! the go command applies to it.

use super::quote::{quote, unquote};
use super::syntax::{parse_syntax, Comments, FileSyntax, Line, LineRef, Stmt};
use super::{auto_quote, is_directory_path, Error, Errors};
use crate::module;

/// A go.mod file, interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub module: Option<Module>,
    pub go: Option<Go>,
    pub toolchain: Option<Toolchain>,
    pub godebug: Vec<Godebug>,
    pub require: Vec<Require>,
    pub exclude: Vec<Exclude>,
    pub replace: Vec<Replace>,
    pub retract: Vec<Retract>,
    pub tool: Vec<Tool>,
    pub ignore: Vec<Ignore>,
    /// The syntax, with the tokens of interpreted directives rewritten into
    /// canonical form.
    pub syntax: FileSyntax,
}

/// A go.work file, interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkFile {
    pub go: Option<Go>,
    pub toolchain: Option<Toolchain>,
    pub godebug: Vec<Godebug>,
    pub uses: Vec<Use>,
    pub replace: Vec<Replace>,
    pub syntax: FileSyntax,
}

/// `module path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module path, unquoted. Not checked for validity: the go command
    /// checks only that it matches the path the module was required by.
    pub path: String,
    /// The deprecation message from the directive's comments, if any (see
    /// [`parse_deprecation`]); never `Some("")`.
    pub deprecated: Option<String>,
    pub syntax: LineRef,
}

/// `go 1.23.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Go {
    /// The version, e.g. `1.23.0`, `1.21rc1`, or `1.21` (after a lax
    /// parse's repair of forms like `v1.21.x`).
    pub version: String,
    pub syntax: LineRef,
}

/// `toolchain go1.23.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub name: String,
    pub syntax: LineRef,
}

/// `godebug key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Godebug {
    pub key: String,
    pub value: String,
    pub syntax: LineRef,
}

/// `require path version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    pub path: String,
    /// The canonical form of the version written.
    pub version: String,
    /// Whether the line's first end-of-line comment is `// indirect` or
    /// starts with `// indirect;`.
    pub indirect: bool,
    pub syntax: LineRef,
}

/// `exclude path version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclude {
    pub path: String,
    pub version: String,
    pub syntax: LineRef,
}

/// `replace old [version] => new [version]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub old_path: String,
    /// Empty when every version of `old_path` is replaced.
    pub old_version: String,
    /// A module path, or a directory (see [`is_directory_path`]).
    pub new_path: String,
    /// Empty exactly when `new_path` is a directory.
    pub new_version: String,
    pub syntax: LineRef,
}

/// A closed interval of versions: both ends included. A single retracted
/// version has `low == high`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInterval {
    pub low: String,
    pub high: String,
}

/// `retract version` or `retract [low, high]`.
///
/// The versions are taken as written (unquoted): the go command does not
/// check them when it reads a go.mod file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retract {
    pub interval: VersionInterval,
    /// The directive's comments, one line each, `//` and surrounding space
    /// removed (see [`directive_comment`]); empty if there are none.
    pub rationale: String,
    pub syntax: LineRef,
}

/// `tool path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub path: String,
    pub syntax: LineRef,
}

/// `ignore path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub path: String,
    pub syntax: LineRef,
}

/// `use dir` (go.work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub path: String,
    pub syntax: LineRef,
}

/// How strictly a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The main module's go.mod: every statement must be known and valid.
    Strict,
    /// A dependency's go.mod: only `module`, `go`, `require`, `retract` and
    /// `ignore` are read (and must be valid); everything else is skipped.
    Lax,
    /// A go.work file.
    Work,
}

/// The directives that may be factored into a `verb ( ... )` block.
fn is_block_verb(mode: Mode, verb: &str) -> bool {
    match mode {
        Mode::Strict | Mode::Lax => matches!(
            verb,
            "module"
                | "godebug"
                | "require"
                | "exclude"
                | "replace"
                | "retract"
                | "tool"
                | "ignore"
        ),
        Mode::Work => matches!(verb, "godebug" | "use" | "replace"),
    }
}

/// The directives a lax parse reads; the rest are ignored.
fn is_lax_verb(verb: &str) -> bool {
    matches!(verb, "go" | "module" | "retract" | "require" | "ignore")
}

/// `go` versions: `1.N`, `1.N.P`, optionally followed by a prerelease tag of
/// lower-case letters and digits (`1.21rc1`); no leading zeros.
pub fn is_go_version(v: &str) -> bool {
    let Some(rest) = take_number(v, false) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('.').and_then(|r| take_number(r, true)) else {
        return false;
    };
    let rest = match rest.strip_prefix('.').and_then(|r| take_number(r, true)) {
        Some(r) => r,
        None => rest,
    };
    if rest.is_empty() {
        return true;
    }
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = rest[letters..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    letters > 0 && digits > 0 && letters + digits == rest.len()
}

/// The repair a lax parse applies to a `go` version that [`is_go_version`]
/// rejects: an optional `v`, then `MAJOR.MINOR`, then anything that does not
/// start with a digit (`v1.21.x`, `1.2.beta1`) reads as `MAJOR.MINOR`.
fn lax_go_version(v: &str) -> Option<&str> {
    let body = v.strip_prefix('v').unwrap_or(v);
    let rest = take_number(body, false)?;
    let rest = take_number(rest.strip_prefix('.')?, true)?;
    let next = rest.chars().next()?;
    (!next.is_ascii_digit()).then(|| &body[..body.len() - rest.len()])
}

/// Splits a decimal number off the front of `s`: `0` (only if `zero_ok`)
/// or a non-zero digit followed by digits.
fn take_number(s: &str, zero_ok: bool) -> Option<&str> {
    match s.as_bytes().first()? {
        b'0' if zero_ok => Some(&s[1..]),
        b'1'..=b'9' => Some(s.trim_start_matches(|c: char| c.is_ascii_digit())),
        _ => None,
    }
}

/// `toolchain` names: `default`, or `go1` alone or followed by `.` and
/// anything (deliberately loose, so newer names still read).
pub fn is_toolchain_name(name: &str) -> bool {
    name == "default" || name == "go1" || name.starts_with("go1.")
}

/// The text of a directive's comments: its whole-line comments before it and
/// its end-of-line comments, each with `//` and surrounding space removed,
/// joined by newlines (an empty comment gives an empty line; kept blank lines
/// give nothing). A line in a block that has no comments of its own uses the
/// block's.
pub fn directive_comment(block: Option<&Comments>, line: &Comments) -> String {
    let comments = match block {
        Some(b) if line.before.is_empty() && line.suffix.is_empty() => b,
        _ => line,
    };
    let lines: Vec<&str> = comments
        .before
        .iter()
        .chain(&comments.suffix)
        .filter_map(|c| c.token.strip_prefix("//"))
        .map(str::trim)
        .collect();
    lines.join("\n")
}

/// The deprecation message in a `module` directive's comment text (as built
/// by [`directive_comment`]): the first paragraph that starts with
/// `Deprecated:` (case-sensitive), without that prefix and the spaces after
/// it, up to the end of the paragraph. Paragraphs are separated by an empty
/// comment line. `None` if there is no such paragraph or its message is
/// empty.
pub fn parse_deprecation(text: &str) -> Option<String> {
    const PREFIX: &str = "Deprecated:";
    // Overlapping matches: in "a\n\n\nDeprecated:" the paragraph break
    // that counts is the second and third newline.
    let breaks = (0..text.len()).filter(|&i| text.as_bytes()[i..].starts_with(b"\n\n"));
    let starts = std::iter::once(0).chain(breaks.map(|i| i + 2));
    for start in starts {
        let Some(rest) = text[start..].strip_prefix(PREFIX) else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        let msg = match rest.find("\n\n") {
            Some(i) => &rest[..i],
            None => rest,
        };
        return (!msg.is_empty()).then(|| msg.to_string());
    }
    None
}

/// Whether a line's first end-of-line comment marks a requirement as
/// indirect: its words are exactly `indirect`, or start with `indirect;`.
fn is_indirect(line: &Line) -> bool {
    let Some(c) = line.comments.suffix.first() else {
        return false;
    };
    let text = c.token.strip_prefix("//").unwrap_or(&c.token);
    let words: Vec<&str> = text.split_whitespace().collect();
    matches!(words.as_slice(), ["indirect"]) || (words.len() > 1 && words[0] == "indirect;")
}

/// Reads a path-like token: a double-quoted string is unquoted; an unquoted
/// token may not contain `"`, `'` or a backquote (so raw strings are not
/// accepted here). The token is rewritten to its [`auto_quote`] form.
fn parse_string(tok: &mut String) -> Result<String, String> {
    let value = if tok.starts_with('"') {
        unquote(tok.as_bytes()).map_err(str::to_string)?
    } else if tok.contains(['"', '\'', '`']) {
        return Err("unquoted string cannot contain quote".to_string());
    } else {
        tok.clone()
    };
    *tok = auto_quote(&value);
    Ok(value)
}

/// An error about a version, displayed as the go command does:
/// `verb path: version "v" invalid: reason` (`verb: ...` without a path).
fn version_error(verb: &str, path: &str, version: &str, reason: &str) -> String {
    let head = if path.is_empty() {
        format!("{verb}: ")
    } else {
        format!("{verb} {path}: ")
    };
    format!("{head}version {} invalid: {reason}", quote(version))
}

/// How version tokens are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VersionRule {
    /// Must have a canonical form, which replaces it.
    Canonical,
    /// Taken as written, once unquoted (`retract` versions).
    AsWritten,
}

/// Reads a version token for `verb` on module `path`.
fn parse_version(
    verb: &str,
    path: &str,
    tok: &mut String,
    rule: VersionRule,
) -> Result<String, String> {
    let t = parse_string(tok).map_err(|e| version_error(verb, path, tok, &e))?;
    let v = match rule {
        VersionRule::AsWritten => t,
        VersionRule::Canonical => {
            let cv = module::canonical_version(&t);
            if cv.is_empty() {
                return Err(version_error(verb, path, &t, "must be of the form v1.2.3"));
            }
            cv
        }
    };
    tok.clone_from(&v);
    Ok(v)
}

/// The major-version suffix of a module path (`/v2`, `.v1` for gopkg.in,
/// or empty), or an error if the path's suffix is malformed.
fn path_major(path: &str) -> Result<&str, String> {
    module::split_path_version(path)
        .map(|(_, major)| major)
        .ok_or_else(|| "invalid module path".to_string())
}

/// Reads a version interval: a single version, or `[low, high]`. Consumes
/// the tokens it reads from the front of `args`.
fn parse_version_interval(
    verb: &str,
    args: &mut [String],
) -> Result<(VersionInterval, usize), String> {
    let rule = VersionRule::AsWritten;
    let Some(first) = args.first() else {
        return Err("expected '[' or version".to_string());
    };
    if first == "(" {
        return Err("expected '[' or version".to_string());
    }
    if first != "[" {
        let v = parse_version(verb, "", &mut args[0], rule)?;
        return Ok((
            VersionInterval {
                low: v.clone(),
                high: v,
            },
            1,
        ));
    }
    if args.len() < 2 {
        return Err("expected version after '['".to_string());
    }
    let low = parse_version(verb, "", &mut args[1], rule)?;
    if args.get(2).map(String::as_str) != Some(",") {
        return Err("expected ',' after version".to_string());
    }
    if args.len() < 4 {
        return Err("expected version after ','".to_string());
    }
    let high = parse_version(verb, "", &mut args[3], rule)?;
    if args.get(4).map(String::as_str) != Some("]") {
        return Err("expected ']' after version".to_string());
    }
    Ok((VersionInterval { low, high }, 5))
}

/// Everything a parse collects before it is assembled into a [`File`] or
/// [`WorkFile`].
#[derive(Default)]
struct Collected {
    module: Option<Module>,
    go: Option<Go>,
    toolchain: Option<Toolchain>,
    godebug: Vec<Godebug>,
    require: Vec<Require>,
    exclude: Vec<Exclude>,
    replace: Vec<Replace>,
    retract: Vec<Retract>,
    tool: Vec<Tool>,
    ignore: Vec<Ignore>,
    uses: Vec<Use>,
    errors: Vec<Error>,
}

/// One statement being interpreted.
struct Directive<'a> {
    filename: &'a str,
    mode: Mode,
    verb: &'a str,
    /// The whole line; its tokens are rewritten in place.
    line: &'a mut Line,
    /// Where the arguments start in `line.token` (1 for a top-level line,
    /// 0 inside a block).
    first_arg: usize,
    block_comments: Option<&'a Comments>,
    at: LineRef,
}

impl Directive<'_> {
    /// An error about the line as a whole: `file:line: message`.
    fn error(&self, message: String) -> Error {
        Error {
            filename: self.filename.to_string(),
            pos: self.line.start,
            verb: String::new(),
            mod_path: String::new(),
            message,
        }
    }

    /// An error about module `mod_path` on this line:
    /// `file:line: verb path: message`.
    fn mod_error(&self, mod_path: &str, message: String) -> Error {
        Error {
            verb: self.verb.to_string(),
            mod_path: mod_path.to_string(),
            ..self.error(message)
        }
    }

    fn args(&mut self) -> &mut [String] {
        &mut self.line.token[self.first_arg..]
    }
}

impl Collected {
    fn add(&mut self, d: Directive<'_>) {
        if d.mode == Mode::Lax && !is_lax_verb(d.verb) {
            return;
        }
        if let Err(e) = self.interpret(d) {
            self.errors.push(e);
        }
    }

    /// Checks one directive and records what it says. A directive's checks
    /// stop at its first problem. (The rules are summed up on [`parse`],
    /// [`parse_lax`] and [`parse_replace`].)
    fn interpret(&mut self, mut d: Directive<'_>) -> Result<(), Error> {
        let mode = d.mode;
        let verb = d.verb;
        let at = d.at;
        let fail = |d: &Directive<'_>, msg: &str| Err(d.error(msg.to_string()));
        match (verb, mode) {
            ("go", _) => {
                if self.go.is_some() {
                    return fail(&d, "repeated go statement");
                }
                if d.args().len() != 1 {
                    return fail(&d, "go directive expects exactly one argument");
                }
                let v = d.args()[0].clone();
                if !is_go_version(&v) {
                    match lax_go_version(&v) {
                        Some(fixed) if mode == Mode::Lax => d.args()[0] = fixed.to_string(),
                        _ => {
                            let msg = format!("invalid go version '{v}': must match format 1.23.0");
                            return Err(d.error(msg));
                        }
                    }
                }
                let version = d.args()[0].clone();
                self.go = Some(Go {
                    version,
                    syntax: at,
                });
            }
            ("toolchain", _) => {
                if self.toolchain.is_some() {
                    return fail(&d, "repeated toolchain statement");
                }
                if d.args().len() != 1 {
                    return fail(&d, "toolchain directive expects exactly one argument");
                }
                let name = d.args()[0].clone();
                if !is_toolchain_name(&name) {
                    let msg = format!(
                        "invalid toolchain version '{name}': must match format go1.23.0 or default"
                    );
                    return Err(d.error(msg));
                }
                self.toolchain = Some(Toolchain { name, syntax: at });
            }
            ("module", Mode::Strict | Mode::Lax) => {
                if self.module.is_some() {
                    return fail(&d, "repeated module statement");
                }
                // Recorded before the checks: after a malformed `module`
                // line, another one is still "repeated".
                let deprecated =
                    parse_deprecation(&directive_comment(d.block_comments, &d.line.comments));
                let module = self.module.insert(Module {
                    path: String::new(),
                    deprecated,
                    syntax: at,
                });
                if d.args().len() != 1 {
                    return fail(&d, "usage: module module/path");
                }
                module.path = parse_string(&mut d.args()[0])
                    .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
            }
            ("godebug", Mode::Strict | Mode::Work) => {
                let usage = || d.error("usage: godebug key=value".to_string());
                let args = &d.line.token[d.first_arg..];
                if args.len() != 1 || args[0].contains(['"', '`', '\'', ',']) {
                    return Err(usage());
                }
                let (key, value) = args[0].split_once('=').ok_or_else(usage)?;
                self.godebug.push(Godebug {
                    key: key.to_string(),
                    value: value.to_string(),
                    syntax: at,
                });
            }
            ("require" | "exclude", Mode::Strict | Mode::Lax) => {
                if d.args().len() != 2 {
                    return Err(d.error(format!("usage: {verb} module/path v1.2.3")));
                }
                let path = parse_string(&mut d.args()[0])
                    .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
                let version = parse_version(verb, &path, &mut d.args()[1], VersionRule::Canonical)
                    .map_err(|e| d.error(e))?;
                let major = path_major(&path).map_err(|e| d.error(e))?;
                module::check_path_major(&version, major)
                    .map_err(|e| d.mod_error(&path, e.to_string()))?;
                if verb == "require" {
                    let indirect = is_indirect(d.line);
                    self.require.push(Require {
                        path,
                        version,
                        indirect,
                        syntax: at,
                    });
                } else {
                    self.exclude.push(Exclude {
                        path,
                        version,
                        syntax: at,
                    });
                }
            }
            ("replace", Mode::Strict | Mode::Work) => {
                let r = parse_replace(&mut d)?;
                self.replace.push(r);
            }
            ("retract", Mode::Strict | Mode::Lax) => {
                let rationale = directive_comment(d.block_comments, &d.line.comments);
                let (interval, used) = match parse_version_interval(verb, d.args()) {
                    Ok(ok) => ok,
                    // A dependency's retractions in a syntax this version
                    // does not know are skipped, not an error.
                    Err(_) if mode == Mode::Lax => return Ok(()),
                    Err(e) => return Err(d.error(e)),
                };
                if mode == Mode::Strict {
                    if let Some(extra) = d.args().get(used) {
                        let msg = format!("unexpected token after version: {}", quote(extra));
                        return Err(d.error(msg));
                    }
                }
                self.retract.push(Retract {
                    interval,
                    rationale,
                    syntax: at,
                });
            }
            ("tool" | "ignore", Mode::Strict | Mode::Lax) => {
                if d.args().len() != 1 {
                    return Err(d.error(format!("{verb} directive expects exactly one argument")));
                }
                let path = parse_string(&mut d.args()[0])
                    .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
                if verb == "tool" {
                    self.tool.push(Tool { path, syntax: at });
                } else {
                    self.ignore.push(Ignore { path, syntax: at });
                }
            }
            ("use", Mode::Work) => {
                if d.args().len() != 1 {
                    return fail(&d, "usage: use local/dir");
                }
                let path = parse_string(&mut d.args()[0])
                    .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
                self.uses.push(Use { path, syntax: at });
            }
            _ => return Err(d.error(format!("unknown directive: {verb}"))),
        }
        Ok(())
    }
}

/// `replace old [v] => new [v]` (go.mod and go.work): the old path must have
/// a well-formed major-version suffix and its version (if any) must be valid
/// and match it; the new side is a module path with a valid version, or a
/// directory path (rooted, or starting with `./` or `../`, either slash)
/// without one, and not containing a backslash (a Windows path, as judged on
/// a non-Windows system).
fn parse_replace(d: &mut Directive<'_>) -> Result<Replace, Error> {
    let verb = d.verb;
    let n = d.args().len();
    let arrow = if n >= 2 && d.args()[1] == "=>" { 1 } else { 2 };
    if n < arrow + 2 || n > arrow + 3 || d.args()[arrow] != "=>" {
        return Err(d.error(format!(
                "usage: {verb} module/path [v1.2.3] => other/module v1.4\n\t or {verb} module/path [v1.2.3] => ../local/directory"
        )));
    }
    let old_path = parse_string(&mut d.args()[0])
        .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
    let major = path_major(&old_path)
        .map_err(|e| d.mod_error(&old_path, e))?
        .to_string();
    let mut old_version = String::new();
    if arrow == 2 {
        old_version = parse_version(verb, &old_path, &mut d.args()[1], VersionRule::Canonical)
            .map_err(|e| d.error(e))?;
        module::check_path_major(&old_version, &major)
            .map_err(|e| d.mod_error(&old_path, e.to_string()))?;
    }
    let new_path = parse_string(&mut d.args()[arrow + 1])
        .map_err(|e| d.error(format!("invalid quoted string: {e}")))?;
    let mut new_version = String::new();
    if n == arrow + 2 {
        if !is_directory_path(&new_path) {
            let msg = if new_path.contains('@') {
                "replacement module must match format 'path version', not 'path@version'"
            } else {
                "replacement module without version must be directory path (rooted or starting with . or ..)"
            };
            return Err(d.error(msg.to_string()));
        }
        if new_path.contains('\\') {
            return Err(d.error(
                "replacement directory appears to be Windows path (on a non-windows system)"
                    .to_string(),
            ));
        }
    } else {
        new_version = parse_version(
            verb,
            &new_path,
            &mut d.args()[arrow + 2],
            VersionRule::Canonical,
        )
        .map_err(|e| d.error(e))?;
        if is_directory_path(&new_path) {
            let msg = format!(
                "replacement module directory path {} cannot have version",
                quote(&new_path)
            );
            return Err(d.error(msg));
        }
    }
    Ok(Replace {
        old_path,
        old_version,
        new_path,
        new_version,
        syntax: d.at,
    })
}

/// Parses `data` and interprets every statement under `mode`: top-level
/// lines, and the lines of blocks whose only token is a block verb; other
/// blocks are errors, except in a lax parse, which skips them.
fn read_file(filename: &str, data: &[u8], mode: Mode) -> Result<(Collected, FileSyntax), Errors> {
    let mut syntax = parse_syntax(filename, data).map_err(|e| Errors(vec![e]))?;
    let mut c = Collected::default();
    for (i, stmt) in syntax.stmt.iter_mut().enumerate() {
        match stmt {
            Stmt::Comments(_) => {}
            Stmt::Line(line) => {
                let verb = line.token[0].clone();
                c.add(Directive {
                    filename,
                    mode,
                    verb: &verb,
                    line,
                    first_arg: 1,
                    block_comments: None,
                    at: LineRef {
                        stmt: i,
                        line: None,
                    },
                });
            }
            Stmt::Block(block) => {
                let known = block.token.len() == 1 && is_block_verb(mode, &block.token[0]);
                if !known {
                    if mode != Mode::Lax {
                        c.errors.push(Error {
                            filename: filename.to_string(),
                            pos: block.start,
                            verb: String::new(),
                            mod_path: String::new(),
                            message: format!("unknown block type: {}", block.token.join(" ")),
                        });
                    }
                    continue;
                }
                let verb = block.token[0].clone();
                for (j, line) in block.line.iter_mut().enumerate() {
                    c.add(Directive {
                        filename,
                        mode,
                        verb: &verb,
                        line,
                        first_arg: 0,
                        block_comments: Some(&block.comments),
                        at: LineRef {
                            stmt: i,
                            line: Some(j),
                        },
                    });
                }
            }
        }
    }
    if !c.errors.is_empty() {
        return Err(Errors(std::mem::take(&mut c.errors)));
    }
    Ok((c, syntax))
}

impl File {
    fn from_parts(c: Collected, syntax: FileSyntax) -> File {
        File {
            module: c.module,
            go: c.go,
            toolchain: c.toolchain,
            godebug: c.godebug,
            require: c.require,
            exclude: c.exclude,
            replace: c.replace,
            retract: c.retract,
            tool: c.tool,
            ignore: c.ignore,
            syntax,
        }
    }
}

/// Parses the go.mod of the main module, as `modfile.Parse` does with no
/// version fixer: every statement must be a known directive
/// (`module`, `go`, `toolchain`, `godebug`, `require`, `exclude`, `replace`,
/// `retract`, `tool`, `ignore`), used correctly; versions must have a
/// canonical form (`v1.2` reads as `v1.2.0`).
///
/// # Errors
///
/// A syntax error (only the first is reported), or every problem with the
/// directives, in file order, each as `file:line: message`.
pub fn parse(filename: &str, data: &[u8]) -> Result<File, Errors> {
    let (c, syntax) = read_file(filename, data, Mode::Strict)?;
    Ok(File::from_parts(c, syntax))
}

/// Parses a dependency's go.mod the way the go command does when it loads
/// one (`modfile.ParseLax`): the syntax must be valid; `module`, `go`,
/// `require`, `retract` and `ignore` are interpreted and checked; every other
/// statement (including `toolchain`, `exclude`, `replace`, `godebug`, `tool`
/// and directives a newer Go may add) is skipped unread, and so are
/// `retract` directives whose versions it cannot read.
///
/// The checks: at most one `module` and one `go`; `module` has exactly one
/// path argument; `go` has one argument matching [`is_go_version`], or one
/// the lax repair accepts (`v1.21.x`, read as `1.21`); `require` has a path
/// and a version with a canonical form matching the path's major-version
/// suffix; `ignore` has one path; quoted arguments must be well-formed Go
/// strings and unquoted ones may not contain quotes. The module path itself
/// is not checked (see [`check_go_mod`](super::check_go_mod)).
///
/// # Errors
///
/// A syntax error (only the first is reported), or every problem with the
/// directives read, in file order, each as `file:line: message`.
pub fn parse_lax(filename: &str, data: &[u8]) -> Result<File, Errors> {
    let (c, syntax) = read_file(filename, data, Mode::Lax)?;
    Ok(File::from_parts(c, syntax))
}

/// Parses a go.work file (`modfile.ParseWork`, no version fixer): `go`,
/// `toolchain`, `godebug`, `use` and `replace`, all checked as in
/// [`parse`]; anything else is an error.
///
/// # Errors
///
/// As for [`parse`].
pub fn parse_work(filename: &str, data: &[u8]) -> Result<WorkFile, Errors> {
    let (c, syntax) = read_file(filename, data, Mode::Work)?;
    Ok(WorkFile {
        go: c.go,
        toolchain: c.toolchain,
        godebug: c.godebug,
        uses: c.uses,
        replace: c.replace,
        syntax,
    })
}
