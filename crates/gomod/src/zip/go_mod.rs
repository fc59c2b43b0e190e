//! The language version of a module's go.mod, as x/mod's zip package reads
//! it to choose vendoring rules: the go.mod is parsed leniently (as a
//! dependency's, [`crate::modfile::parse_lax`]) and its `go` directive is
//! used only if the whole file parses.

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
