//! Where the go command looks for a module's source code in `GOPROXY=direct`
//! mode (the rules of `cmd/go/internal/vcs`):
//!
//! * [`static_root`]: the hosts the go command knows by rule (`github.com`,
//!   `bitbucket.org`, `hub.jazz.net`, `git.apache.org`, `git.openstack.org`,
//!   `chiselapp.com`) and paths with an element naming a version control
//!   system (`example.com/repo.git/sub`);
//! * for every other path, a `<meta name="go-import" content="prefix vcs
//!   repo [subdir]">` tag on the page `https://<path>?go-get=1`:
//!   [`parse_meta_go_imports`] reads those tags the way the go command's
//!   lenient XML reader does, and [`match_go_import`] picks the one for a
//!   path.
//!
//! Nothing here touches the network: the caller fetches the pages.

use std::fmt;

/// Where a repository is: the import path of its root, its version control
/// system and URL, and the subdirectory holding the code for the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRoot {
    /// The import path of the repository root (`github.com/o/r`).
    pub root: String,
    /// The version control system (`git`, `hg`, `svn`, `bzr`, `fossil`, or
    /// `mod` for a module proxy named by a go-import tag).
    pub vcs: String,
    /// The repository (or proxy) URL, with its scheme.
    pub repo: String,
    /// The subdirectory of the repository that `root` names (`""`: the
    /// repository root), from a go-import tag's fourth field.
    pub subdir: String,
}

/// The version control systems the go command knows, by command name.
pub const VCS_NAMES: [&str; 5] = ["git", "hg", "svn", "bzr", "fossil"];

/// Characters of a path element in the static rules: `[A-Za-z0-9_.\-]`.
fn elem_ok(e: &str) -> bool {
    !e.is_empty()
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The go command's `noVCSSuffix` check: a repository named by rule must not
/// end in `.git`, `.hg`, ... (the usual mistake is `github.com/o/r.git`).
fn no_vcs_suffix(repo: &str, prefix: &str) -> Result<(), String> {
    if VCS_NAMES.iter().any(|v| repo.ends_with(&format!(".{v}"))) {
        return Err(format!("invalid version control suffix in {prefix} path"));
    }
    Ok(())
}

/// Maps `import_path` to its repository by the go command's static rules.
///
/// `Ok(None)` means no rule applies and the path needs go-import discovery
/// (`https://<path>?go-get=1`). A path under a known host that does not fit
/// that host's pattern is an error, as for the go command (it does not fall
/// back to discovery).
pub fn static_root(import_path: &str) -> Result<Option<RepoRoot>, String> {
    for scheme in ["http:", "https:"] {
        if import_path.starts_with(scheme) {
            return Err(format!("\"{scheme}//\" not allowed in import path"));
        }
    }
    let elems: Vec<&str> = import_path.split('/').collect();
    let invalid = |prefix: &str| format!("invalid {prefix} import path \"{import_path}\"");
    let git = |root: String, repo: String| {
        Ok(Some(RepoRoot {
            root,
            vcs: "git".into(),
            repo,
            subdir: String::new(),
        }))
    };
    if import_path.starts_with("github.com/") || import_path.starts_with("bitbucket.org/") {
        let prefix = format!("{}/", elems[0]);
        if elems.len() < 3 || !elems[1..].iter().all(|e| elem_ok(e)) {
            return Err(invalid(&prefix));
        }
        let root = elems[..3].join("/");
        let repo = format!("https://{root}");
        no_vcs_suffix(&repo, &prefix)?;
        if elems[0] == "bitbucket.org" {
            // The go command asks Bitbucket's API which system a repository
            // uses and, for git (the only kind Bitbucket still hosts), adds
            // `.git` to the URL.
            return git(root, format!("{repo}.git"));
        }
        return git(root, repo);
    }
    if import_path.starts_with("hub.jazz.net/git/") {
        let ok = elems.len() >= 4
            && !elems[2].is_empty()
            && elems[2]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && elems[3..].iter().all(|e| elem_ok(e));
        if !ok {
            return Err(invalid("hub.jazz.net/git/"));
        }
        let root = elems[..4].join("/");
        let repo = format!("https://{root}");
        no_vcs_suffix(&repo, "hub.jazz.net/git/")?;
        return git(root, repo);
    }
    if import_path.starts_with("git.apache.org/") {
        let first_ok = elems.len() >= 2
            && elems[1].len() > 4
            && elems[1].ends_with(".git")
            && elems[1].bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if !first_ok || !elems[2..].iter().all(|e| elem_ok(e)) {
            return Err(invalid("git.apache.org/"));
        }
        let root = elems[..2].join("/");
        return git(root.clone(), format!("https://{root}"));
    }
    if import_path.starts_with("git.openstack.org/") {
        if elems.len() < 3 || !elems[1..].iter().all(|e| elem_ok(e)) {
            return Err(invalid("git.openstack.org/"));
        }
        let root = elems[..3].join("/");
        return git(root.clone(), format!("https://{root}"));
    }
    if import_path.starts_with("chiselapp.com/") {
        let ok = elems.len() == 5
            && elems[1] == "user"
            && !elems[2].is_empty()
            && elems[2].bytes().all(|b| b.is_ascii_alphanumeric())
            && elems[3] == "repository"
            && elem_ok(elems[4]);
        if !ok {
            return Err(invalid("chiselapp.com/"));
        }
        return Ok(Some(RepoRoot {
            root: import_path.to_owned(),
            vcs: "fossil".into(),
            repo: format!("https://{import_path}"),
            subdir: String::new(),
        }));
    }
    Ok(vcs_suffix_root(&elems))
}

/// The go command's general rule for any server: the shortest prefix of the
/// path whose last element ends in `.git`, `.hg`, `.svn`, `.bzr` or
/// `.fossil` is the repository root, and the repository is that prefix
/// without the suffix (`example.com/a/r.git/sub` → `https://example.com/a/r`).
/// The host must contain a dot; later elements are `~?[A-Za-z0-9_.-]+`.
fn vcs_suffix_root(elems: &[&str]) -> Option<RepoRoot> {
    let host = elems[0];
    let host_ok = host.contains('.')
        && !host.starts_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
    let tail_ok = |e: &str| elem_ok(e.strip_prefix('~').unwrap_or(e));
    if !host_ok || elems.len() < 2 || !elems[1..].iter().all(|e| tail_ok(e)) {
        return None;
    }
    for (i, e) in elems.iter().enumerate().skip(1) {
        let name = e.strip_prefix('~').unwrap_or(e);
        for vcs in VCS_NAMES {
            let Some(stem) = name.strip_suffix(&format!(".{vcs}")) else {
                continue;
            };
            if stem.is_empty() {
                continue;
            }
            let root = elems[..=i].join("/");
            let repo = &root[..root.len() - vcs.len() - 1];
            return Some(RepoRoot {
                root: root.clone(),
                vcs: vcs.to_owned(),
                repo: format!("https://{repo}"),
                subdir: String::new(),
            });
        }
    }
    None
}

/// One `<meta name="go-import">` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaImport {
    pub prefix: String,
    pub vcs: String,
    pub repo_root: String,
    /// The optional fourth field: the repository subdirectory.
    pub subdir: String,
}

/// Reads the go-import tags of an HTML page, as the go command does: tags
/// up to the end of `<head>` or the start of `<body>`, element and
/// attribute names compared case-insensitively, `content` holding three or
/// four space-separated fields (others are ignored). With `prefer_mod`,
/// `mod` entries come first and hide the other entries for the same prefix
/// (module mode); without it, `mod` entries are dropped.
pub fn parse_meta_go_imports(html: &[u8], prefer_mod: bool) -> Vec<MetaImport> {
    let mut imports = vec![];
    let mut i = 0;
    let find = |from: usize, pat: &[u8]| {
        html.get(from..)
            .and_then(|h| h.windows(pat.len()).position(|w| w == pat))
            .map(|p| from + p)
    };
    while let Some(lt) = html[i..].iter().position(|&b| b == b'<').map(|p| i + p) {
        let rest = &html[lt..];
        if rest.starts_with(b"<!--") {
            match find(lt + 4, b"-->") {
                Some(e) => i = e + 3,
                None => break,
            }
            continue;
        }
        if rest.starts_with(b"<![CDATA[") {
            match find(lt + 9, b"]]>") {
                Some(e) => i = e + 3,
                None => break,
            }
            continue;
        }
        if rest.starts_with(b"<?") {
            match find(lt + 2, b"?>") {
                Some(e) => i = e + 2,
                None => break,
            }
            continue;
        }
        if rest.starts_with(b"<!") {
            match find(lt + 2, b">") {
                Some(e) => i = e + 1,
                None => break,
            }
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = lt + if closing { 2 } else { 1 };
        let name_end = html[name_start..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
            .map_or(html.len(), |p| name_start + p);
        let name = local_name(&html[name_start..name_end]);
        let Some((attrs, end)) = read_attrs(html, name_end) else {
            break;
        };
        i = end;
        if closing {
            if name.eq_ignore_ascii_case(b"head") {
                break;
            }
            continue;
        }
        if name.eq_ignore_ascii_case(b"body") {
            break;
        }
        if !name.eq_ignore_ascii_case(b"meta") {
            continue;
        }
        let attr = |key: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        if attr("name") != "go-import" {
            continue;
        }
        let f: Vec<&str> = attr("content").split_whitespace().collect();
        if f.len() == 3 || f.len() == 4 {
            imports.push(MetaImport {
                prefix: f[0].into(),
                vcs: f[1].into(),
                repo_root: f[2].into(),
                subdir: f.get(3).copied().unwrap_or("").into(),
            });
        }
    }
    let mut list: Vec<MetaImport> = vec![];
    if prefer_mod {
        list.extend(imports.iter().filter(|m| m.vcs == "mod").cloned());
    }
    let have: Vec<String> = list.iter().map(|m| m.prefix.clone()).collect();
    list.extend(
        imports
            .into_iter()
            .filter(|m| m.vcs != "mod" && !have.contains(&m.prefix)),
    );
    list
}

/// The part of an XML name after a namespace prefix (`x:meta` → `meta`).
fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(p) => &name[p + 1..],
        None => name,
    }
}

/// Reads the attributes of a tag from `at` to its closing `>`; returns them
/// (names without namespace prefixes, values with entities decoded) and the
/// offset after the tag, or `None` if the page ends inside the tag.
/// Lenient like Go's non-strict XML reader: unquoted values, and names
/// without values (whose value is the name).
fn read_attrs(html: &[u8], mut at: usize) -> Option<(Vec<(String, String)>, usize)> {
    let mut attrs = vec![];
    loop {
        while at < html.len() && (html[at].is_ascii_whitespace() || html[at] == b'/') {
            at += 1;
        }
        match html.get(at)? {
            b'>' => return Some((attrs, at + 1)),
            _ => {
                let start = at;
                while at < html.len()
                    && !html[at].is_ascii_whitespace()
                    && !matches!(html[at], b'=' | b'>' | b'/')
                {
                    at += 1;
                }
                let name = String::from_utf8_lossy(local_name(&html[start..at])).into_owned();
                while at < html.len() && html[at].is_ascii_whitespace() {
                    at += 1;
                }
                if html.get(at) != Some(&b'=') {
                    if name.is_empty() {
                        // A stray character: skip it.
                        at += 1;
                        continue;
                    }
                    attrs.push((name.clone(), name));
                    continue;
                }
                at += 1;
                while at < html.len() && html[at].is_ascii_whitespace() {
                    at += 1;
                }
                let value = match html.get(at)? {
                    q @ (b'"' | b'\'') => {
                        let end = html[at + 1..].iter().position(|b| b == q)? + at + 1;
                        let v = &html[at + 1..end];
                        at = end + 1;
                        v
                    }
                    _ => {
                        let start = at;
                        while at < html.len() && !html[at].is_ascii_whitespace() && html[at] != b'>'
                        {
                            at += 1;
                        }
                        &html[start..at]
                    }
                };
                attrs.push((name, decode_entities(&String::from_utf8_lossy(value))));
            }
        }
    }
}

/// Replaces XML's predefined entities and character references; anything
/// else is left as written (as a non-strict XML reader does).
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        // Entities are short: look for the `;` in the first 12 bytes only
        // (bytes: `rest` may hold multi-byte characters there).
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| ent.strip_prefix('#').map(|d| d.parse::<u32>()))
                .and_then(|r| r.ok())
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why no go-import tag was chosen for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// Tags were found, but none has a prefix of the path.
    Mismatch {
        import_path: String,
        prefixes: Vec<String>,
    },
    /// More than one tag matches the path.
    Multiple { import_path: String },
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchError::Mismatch {
                import_path,
                prefixes,
            } => {
                let parts: Vec<String> = prefixes
                    .iter()
                    .map(|p| format!("meta tag {p} did not match import path {import_path}"))
                    .collect();
                f.write_str(&parts.join(", "))
            }
            MatchError::Multiple { import_path } => {
                write!(f, "multiple meta tags match import path \"{import_path}\"")
            }
        }
    }
}

impl std::error::Error for MatchError {}

/// Whether `prefix` is a prefix of `path` in whole path elements.
pub fn has_path_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Picks the go-import tag for `import_path` from a page's tags (as
/// returned by [`parse_meta_go_imports`]): the one whose prefix is a prefix
/// of the path in whole elements. Two matching tags are an error, except
/// that a matching `mod` entry (they come first) wins over the rest.
pub fn match_go_import(
    imports: &[MetaImport],
    import_path: &str,
) -> Result<MetaImport, MatchError> {
    let mut found: Option<&MetaImport> = None;
    let mut prefixes = vec![];
    for im in imports {
        if !has_path_prefix(import_path, &im.prefix) {
            prefixes.push(im.prefix.clone());
            continue;
        }
        if let Some(m) = found {
            if m.vcs == "mod" && im.vcs != "mod" {
                break;
            }
            return Err(MatchError::Multiple {
                import_path: import_path.into(),
            });
        }
        found = Some(im);
    }
    found.cloned().ok_or(MatchError::Mismatch {
        import_path: import_path.into(),
        prefixes,
    })
}

/// The go command's check of a go-import tag's repository URL: it must have
/// a scheme, and not `file`.
pub fn validate_repo_root(repo: &str) -> Result<(), String> {
    let Some((scheme, _)) = repo.split_once(':') else {
        return Err("no scheme".into());
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Err("no scheme".into());
    }
    if scheme.eq_ignore_ascii_case("file") {
        return Err("file scheme disallowed".into());
    }
    Ok(())
}

/// The go command's check of a go-import tag's subdirectory: no leading
/// `/` or `-`.
pub fn validate_subdir(subdir: &str) -> Result<(), String> {
    if subdir.starts_with('/') {
        return Err("leading slash".into());
    }
    if subdir.starts_with('-') {
        return Err("leading hyphen".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(root: &str, vcs: &str, repo: &str) -> Option<RepoRoot> {
        Some(RepoRoot {
            root: root.into(),
            vcs: vcs.into(),
            repo: repo.into(),
            subdir: String::new(),
        })
    }

    /// Cases from cmd/go/internal/vcs's TestRepoRootForImportPath (the
    /// static ones), plus the general `.vcs` rule.
    #[test]
    fn static_rules() {
        let ok = [
            (
                "github.com/golang/groupcache",
                root(
                    "github.com/golang/groupcache",
                    "git",
                    "https://github.com/golang/groupcache",
                ),
            ),
            (
                "github.com/o/r/sub/v2",
                root("github.com/o/r", "git", "https://github.com/o/r"),
            ),
            (
                "hub.jazz.net/git/user1/pkgname",
                root(
                    "hub.jazz.net/git/user1/pkgname",
                    "git",
                    "https://hub.jazz.net/git/user1/pkgname",
                ),
            ),
            (
                "hub.jazz.net/git/user1/pkgname/submodule/submodule/submodule",
                root(
                    "hub.jazz.net/git/user1/pkgname",
                    "git",
                    "https://hub.jazz.net/git/user1/pkgname",
                ),
            ),
            (
                "hub.jazz.net/git/user/pkg.name",
                root(
                    "hub.jazz.net/git/user/pkg.name",
                    "git",
                    "https://hub.jazz.net/git/user/pkg.name",
                ),
            ),
            (
                "git.openstack.org/openstack/swift",
                root(
                    "git.openstack.org/openstack/swift",
                    "git",
                    "https://git.openstack.org/openstack/swift",
                ),
            ),
            (
                "git.openstack.org/openstack/swift.git",
                root(
                    "git.openstack.org/openstack/swift.git",
                    "git",
                    "https://git.openstack.org/openstack/swift.git",
                ),
            ),
            (
                "git.openstack.org/openstack/swift/go/hummingbird",
                root(
                    "git.openstack.org/openstack/swift",
                    "git",
                    "https://git.openstack.org/openstack/swift",
                ),
            ),
            (
                "git.apache.org/package-name.git",
                root(
                    "git.apache.org/package-name.git",
                    "git",
                    "https://git.apache.org/package-name.git",
                ),
            ),
            (
                "git.apache.org/package-name_2.x.git/path/to/lib",
                root(
                    "git.apache.org/package-name_2.x.git",
                    "git",
                    "https://git.apache.org/package-name_2.x.git",
                ),
            ),
            (
                "chiselapp.com/user/kyle/repository/fossilgg",
                root(
                    "chiselapp.com/user/kyle/repository/fossilgg",
                    "fossil",
                    "https://chiselapp.com/user/kyle/repository/fossilgg",
                ),
            ),
            (
                "bitbucket.org/workspace/pkgname",
                root(
                    "bitbucket.org/workspace/pkgname",
                    "git",
                    "https://bitbucket.org/workspace/pkgname.git",
                ),
            ),
            (
                "example.com/a/repo.git/sub/dir",
                root(
                    "example.com/a/repo.git",
                    "git",
                    "https://example.com/a/repo",
                ),
            ),
            (
                "example.com/r.hg",
                root("example.com/r.hg", "hg", "https://example.com/r"),
            ),
            (
                "example.com/~user/r.svn/x",
                root(
                    "example.com/~user/r.svn",
                    "svn",
                    "https://example.com/~user/r",
                ),
            ),
            // The shortest root wins.
            (
                "example.com/a.git/b.git",
                root("example.com/a.git", "git", "https://example.com/a"),
            ),
            // Nothing static: discovery.
            ("golang.org/x/mod", None),
            ("gopkg.in/yaml.v3", None),
            ("gitlab.com/group/sub/repo", None),
            ("example.com/.git", None),
        ];
        for (path, want) in ok {
            assert_eq!(static_root(path), Ok(want), "{path}");
        }
        for (path, want) in [
            ("github.com/o", "invalid github.com/ import path"),
            ("github.com/o/r.git", "invalid version control suffix"),
            ("github.com/o/r.hg/x", "invalid version control suffix"),
            ("github.com/o/r~x", "invalid github.com/ import path"),
            ("bitbucket.org/o/r.git", "invalid version control suffix"),
            (
                "hub.jazz.net/git/User1/pkgname",
                "invalid hub.jazz.net/git/",
            ),
            ("hub.jazz.net/git/user1", "invalid hub.jazz.net/git/"),
            (
                "git.apache.org/package-name/path/to/lib",
                "invalid git.apache.org/",
            ),
            ("git.openstack.org/openstack", "invalid git.openstack.org/"),
            (
                "chiselapp.com/kyle/repository/fossilgg",
                "invalid chiselapp.com/",
            ),
            ("chiselapp.com/user/kyle/fossilgg", "invalid chiselapp.com/"),
            ("https://github.com/o/r", "\"https://\" not allowed"),
        ] {
            let err = static_root(path).unwrap_err();
            assert!(err.contains(want), "{path}: {err}");
        }
    }

    fn mi(prefix: &str, vcs: &str, repo: &str) -> MetaImport {
        MetaImport {
            prefix: prefix.into(),
            vcs: vcs.into(),
            repo_root: repo.into(),
            subdir: String::new(),
        }
    }

    /// Cases from cmd/go/internal/vcs's TestParseMetaGoImports.
    #[test]
    fn meta_tags() {
        let cases: Vec<(&str, Vec<MetaImport>)> = vec![
            (
                r#"<meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">"#,
                vec![mi("foo/bar", "git", "https://github.com/rsc/foo/bar")],
            ),
            (
                r#"<meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">
                <meta name="go-import" content="baz/quux git http://github.com/rsc/baz/quux">"#,
                vec![
                    mi("foo/bar", "git", "https://github.com/rsc/foo/bar"),
                    mi("baz/quux", "git", "http://github.com/rsc/baz/quux"),
                ],
            ),
            (
                r#"<meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">
                <meta name="go-import" content="foo/bar mod http://github.com/rsc/baz/quux">"#,
                vec![mi("foo/bar", "mod", "http://github.com/rsc/baz/quux")],
            ),
            (
                r#"<head>
                <meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">
                </head>"#,
                vec![mi("foo/bar", "git", "https://github.com/rsc/foo/bar")],
            ),
            (
                r#"<meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">
                <body>"#,
                vec![mi("foo/bar", "git", "https://github.com/rsc/foo/bar")],
            ),
            (
                r#"<!doctype html><meta name="go-import" content="foo/bar git https://github.com/rsc/foo/bar">"#,
                vec![mi("foo/bar", "git", "https://github.com/rsc/foo/bar")],
            ),
            // XML doesn't like <div style=position:relative>.
            (
                r#"<!doctype html><title>Page Not Found</title><meta name=go-import content="chitin.io/chitin git https://github.com/chitin-io/chitin"><div style=position:relative>DRAFT</div>"#,
                vec![mi(
                    "chitin.io/chitin",
                    "git",
                    "https://github.com/chitin-io/chitin",
                )],
            ),
            (
                r#"<meta name="go-import" content="myitcv.io git https://github.com/myitcv/x">
                <meta name="go-import" content="myitcv.io/blah2 mod https://raw.githubusercontent.com/myitcv/pubx/master">"#,
                vec![
                    mi(
                        "myitcv.io/blah2",
                        "mod",
                        "https://raw.githubusercontent.com/myitcv/pubx/master",
                    ),
                    mi("myitcv.io", "git", "https://github.com/myitcv/x"),
                ],
            ),
            (
                r#"<META NAME="go-import" CONTENT="a.example/b git https://a.example/b.git sub/dir"><!-- <meta name="go-import" content="x y z"> -->"#,
                vec![MetaImport {
                    subdir: "sub/dir".into(),
                    ..mi("a.example/b", "git", "https://a.example/b.git")
                }],
            ),
            (
                r#"<meta name='go-import' content='a.example/b git https://a.example/b?x=1&amp;y=2'>
                <meta name="go-import" content="too few">
                <meta name="go-source" content="a.example/b _ _ _">
                <body><meta name="go-import" content="after/body git https://x">"#,
                vec![mi("a.example/b", "git", "https://a.example/b?x=1&y=2")],
            ),
        ];
        for (html, want) in cases {
            assert_eq!(parse_meta_go_imports(html.as_bytes(), true), want, "{html}");
        }
        // Outside module mode, mod entries are dropped.
        let html = r#"<meta name="go-import" content="foo/bar mod https://p">
            <meta name="go-import" content="foo/bar git https://g">"#;
        assert_eq!(
            parse_meta_go_imports(html.as_bytes(), false),
            vec![mi("foo/bar", "git", "https://g")]
        );
        // Broken pages never panic.
        for html in [
            "<",
            "<meta",
            "<meta name=\"go-import",
            "<!--",
            "<meta a=>",
            "&#xffffffff;",
            "<html lang=\"&aaaaaaaaaaé\">",
            "<meta content=\"R&D für alle; é&#233;\" name=x>",
            "<meta a=\"&é;\"><meta b='&#x1F600'>",
        ] {
            let _ = parse_meta_go_imports(html.as_bytes(), true);
        }
        // Multi-byte text around entities is kept intact.
        let html =
            "<meta name=\"go-import\" content=\"ä.example/é git https://ä.example/é?a=1&amp;b=ü\">";
        assert_eq!(
            parse_meta_go_imports(html.as_bytes(), true),
            vec![mi("ä.example/é", "git", "https://ä.example/é?a=1&b=ü")]
        );
    }

    /// Cases from cmd/go/internal/vcs's TestMatchGoImport.
    #[test]
    fn matching() {
        let imports = [
            mi(
                "example.com/user/foo",
                "git",
                "https://example.com/repo/target",
            ),
            mi(
                "example.com/user/foo/",
                "git",
                "https://example.com/repo/target",
            ),
        ];
        assert_eq!(
            match_go_import(&imports, "example.com/user/foo"),
            Ok(imports[0].clone())
        );
        let imports = [
            mi(
                "example.com/user/foo",
                "git",
                "https://example.com/repo/target",
            ),
            mi(
                "example.com/user/fooa",
                "git",
                "https://example.com/repo/target",
            ),
        ];
        assert_eq!(
            match_go_import(&imports, "example.com/user/foo"),
            Ok(imports[0].clone())
        );
        assert_eq!(
            match_go_import(&imports, "example.com/user/foo/bar"),
            Ok(imports[0].clone())
        );
        let imports = [
            mi(
                "example.com/user/foo",
                "git",
                "https://example.com/repo/target",
            ),
            mi(
                "example.com/user/foo/bar",
                "git",
                "https://example.com/repo/target",
            ),
        ];
        assert!(matches!(
            match_go_import(&imports, "example.com/user/foo/bar"),
            Err(MatchError::Multiple { .. })
        ));
        let imports = [
            mi("example.com/user/foo", "mod", "https://example.com/proxy"),
            mi(
                "example.com/user/foo",
                "git",
                "https://example.com/repo/target",
            ),
        ];
        assert_eq!(
            match_go_import(&imports, "example.com/user/foo/bar"),
            Ok(imports[0].clone())
        );
        let imports = [mi("example.com", "git", "https://example.com/repo/target")];
        assert_eq!(
            match_go_import(&imports, "example.com/user/foo"),
            Ok(imports[0].clone())
        );
        let err = match_go_import(&imports, "different.example.com/user/foo").unwrap_err();
        assert_eq!(
            err.to_string(),
            "meta tag example.com did not match import path different.example.com/user/foo"
        );
        let imports = [mi(
            "myitcv.io/blah2",
            "mod",
            "https://raw.githubusercontent.com/x",
        )];
        assert!(match_go_import(&imports, "myitcv.io").is_err());
    }

    #[test]
    fn repo_root_checks() {
        assert!(validate_repo_root("https://a.example/r").is_ok());
        assert!(validate_repo_root("ssh://git@a.example/r").is_ok());
        assert_eq!(validate_repo_root("a.example/r"), Err("no scheme".into()));
        assert_eq!(
            validate_repo_root("file:///etc"),
            Err("file scheme disallowed".into())
        );
        assert!(validate_subdir("go/src").is_ok());
        assert!(validate_subdir("/abs").is_err());
        assert!(validate_subdir("-flag").is_err());
    }
}
