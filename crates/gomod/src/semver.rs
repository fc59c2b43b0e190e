//! Go's semantic versions, as the `go` command understands them.
//!
//! A version string has the shape `vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]`:
//!
//! * the leading `v` is mandatory;
//! * MAJOR, MINOR and PATCH are ASCII decimal numbers, and a number with more
//!   than one digit may not start with `0`;
//! * PRERELEASE and BUILD are non-empty lists of non-empty identifiers joined
//!   by `.`, each identifier made of `[0-9A-Za-z-]`; a PRERELEASE identifier
//!   made only of digits may not have a leading zero (BUILD identifiers may);
//! * `vMAJOR` and `vMAJOR.MINOR` are accepted as shorthand for `vMAJOR.0.0`
//!   and `vMAJOR.MINOR.0`, but only bare: a shorthand cannot carry a
//!   prerelease or a build suffix.
//!
//! Everything else (no `v`, `v1.2.3.4`, `v01.2.3`, `v1.2.3-`, `v1.2.3+`,
//! surrounding spaces, …) is invalid. Functions that return a part of a
//! version return the empty string for an invalid version, and every invalid
//! version sorts below every valid one.
//!
//! Build metadata never affects precedence. The `+incompatible` marker that
//! the module system attaches to some versions is, to this module, just build
//! metadata; [`crate::module::canonical_version`] is the variant that keeps it.

use std::cmp::Ordering;

/// The pieces of a valid version, borrowed from the string they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    /// What the canonical form appends to a shorthand (`".0.0"`, `".0"`),
    /// or `""` when all three numbers were written out.
    short: &'static str,
    /// Includes the leading `-`, or is empty.
    prerelease: &'a str,
    /// Includes the leading `+`, or is empty.
    build: &'a str,
}

/// Splits a leading decimal number off `s`: one or more ASCII digits, with
/// no leading zero unless the number is exactly `0`.
fn take_number(s: &str) -> Option<(&str, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || (len > 1 && s.as_bytes()[0] == b'0') {
        return None;
    }
    Some(s.split_at(len))
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// A prerelease identifier made only of digits must not have a leading zero.
fn is_bad_numeric_ident(id: &str) -> bool {
    id.len() > 1 && id.as_bytes()[0] == b'0' && id.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a prerelease suffix (`-` and dot-separated identifiers, up to a `+`
/// or the end) off `s`.
fn take_prerelease(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('-')?;
    let end = body.find('+').unwrap_or(body.len());
    for id in body[..end].split('.') {
        if id.is_empty() || !id.bytes().all(is_ident_byte) || is_bad_numeric_ident(id) {
            return None;
        }
    }
    Some(s.split_at(end + 1))
}

/// Checks that `s` is a whole build suffix: `+` and dot-separated identifiers
/// running to the end of the string.
fn is_build(s: &str) -> bool {
    match s.strip_prefix('+') {
        Some(body) => body
            .split('.')
            .all(|id| !id.is_empty() && id.bytes().all(is_ident_byte)),
        None => false,
    }
}

fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let (major, rest) = take_number(rest)?;
    if rest.is_empty() {
        return Some(Parsed {
            major,
            minor: "0",
            patch: "0",
            short: ".0.0",
            prerelease: "",
            build: "",
        });
    }
    let (minor, rest) = take_number(rest.strip_prefix('.')?)?;
    if rest.is_empty() {
        return Some(Parsed {
            major,
            minor,
            patch: "0",
            short: ".0",
            prerelease: "",
            build: "",
        });
    }
    let (patch, mut rest) = take_number(rest.strip_prefix('.')?)?;
    let mut prerelease = "";
    if rest.starts_with('-') {
        (prerelease, rest) = take_prerelease(rest)?;
    }
    let mut build = "";
    if rest.starts_with('+') {
        if !is_build(rest) {
            return None;
        }
        (build, rest) = (rest, "");
    }
    if !rest.is_empty() {
        return None;
    }
    Some(Parsed {
        major,
        minor,
        patch,
        short: "",
        prerelease,
        build,
    })
}

/// Reports whether `v` is a valid semantic version in the grammar described
/// in the [module documentation](self), shorthands included.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// The canonical spelling of `v`: shorthands are completed with `.0` parts
/// and build metadata (including `+incompatible`) is dropped. Two versions
/// have equal precedence exactly when their canonical forms are the same
/// string. Returns `""` when `v` is invalid.
pub fn canonical(v: &str) -> String {
    match parse(v) {
        None => String::new(),
        Some(p) if !p.build.is_empty() => v[..v.len() - p.build.len()].to_string(),
        Some(p) => format!("{v}{}", p.short),
    }
}

/// The major-version prefix of `v`, such as `"v2"` for `"v2.1.0"`.
/// Returns `""` when `v` is invalid.
pub fn major(v: &str) -> &str {
    match parse(v) {
        Some(p) => &v[..1 + p.major.len()],
        None => "",
    }
}

/// The `vMAJOR.MINOR` prefix of `v`, such as `"v2.1"` for `"v2.1.0"`; for
/// the shorthand `"v2"` the missing minor number is filled in (`"v2.0"`).
/// Returns `""` when `v` is invalid.
pub fn major_minor(v: &str) -> String {
    match parse(v) {
        Some(p) => format!("v{}.{}", p.major, p.minor),
        None => String::new(),
    }
}

/// The prerelease suffix of `v` with its leading `-`, such as `"-pre"` for
/// `"v2.1.0-pre+meta"`, or `""` when there is none or `v` is invalid.
pub fn prerelease(v: &str) -> &str {
    parse(v).map_or("", |p| p.prerelease)
}

/// The build suffix of `v` with its leading `+`, such as `"+meta"` for
/// `"v2.1.0-pre+meta"`, or `""` when there is none or `v` is invalid.
pub fn build(v: &str) -> &str {
    parse(v).map_or("", |p| p.build)
}

/// Compares two decimal numbers without leading zeros, of any length.
fn compare_number(x: &str, y: &str) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

/// Orders two prerelease suffixes (each `""` or starting with `-`).
///
/// No prerelease ranks above any prerelease. Otherwise identifiers are
/// compared left to right: two numeric identifiers numerically, two others
/// by ASCII order, and a numeric identifier ranks below a non-numeric one.
/// When one list of identifiers is a prefix of the other, the shorter ranks
/// lower.
fn compare_prerelease(x: &str, y: &str) -> Ordering {
    match (x.is_empty(), y.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let numeric = |id: &str| id.bytes().all(|b| b.is_ascii_digit());
    let mut xs = x[1..].split('.');
    let mut ys = y[1..].split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => {
                let ord = match (numeric(a), numeric(b)) {
                    (true, true) => compare_number(a, b),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => a.cmp(b),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Orders `v` and `w` by semantic-version precedence: major, minor and patch
/// numerically, then prerelease (see the rules above); build metadata is
/// ignored. Every invalid version ranks below every valid one, and all
/// invalid versions are equal to each other.
pub fn compare(v: &str, w: &str) -> Ordering {
    match (parse(v), parse(w)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(p), Some(q)) => compare_number(p.major, q.major)
            .then_with(|| compare_number(p.minor, q.minor))
            .then_with(|| compare_number(p.patch, q.patch))
            .then_with(|| compare_prerelease(p.prerelease, q.prerelease)),
    }
}

/// Canonicalizes both versions and returns the one with higher precedence
/// (the second one when they are equal). An invalid version canonicalizes to
/// `""`, so the result is `""` only when both are invalid.
pub fn max(v: &str, w: &str) -> String {
    let (v, w) = (canonical(v), canonical(w));
    if compare(&v, &w) == Ordering::Greater {
        v
    } else {
        w
    }
}

/// The total order used by [`sort`]: [`compare`] first, and plain byte-wise
/// string order between versions of equal precedence (so `v1.0.0` sorts
/// before `v1.0.0+meta`, and invalid strings sort among themselves).
pub fn compare_for_sort(v: &str, w: &str) -> Ordering {
    compare(v, w).then_with(|| v.cmp(w))
}

/// Sorts versions in increasing precedence, breaking ties by string order
/// (see [`compare_for_sort`]). Invalid versions come first.
pub fn sort<S: AsRef<str>>(list: &mut [S]) {
    list.sort_by(|a, b| compare_for_sort(a.as_ref(), b.as_ref()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        for v in [
            "v0",
            "v1",
            "v1.2",
            "v1.2.3",
            "v1.2.3-pre",
            "v1.2.3-0",
            "v1.2.3-0a",
            "v1.2.3-pre.1",
            "v1.2.3+meta",
            "v1.2.3+01",
            "v1.2.3-pre+meta.x-y",
            "v1.2.3--",
            "v10000000000000000000000.0.0",
        ] {
            assert!(is_valid(v), "{v} should be valid");
        }
        for v in [
            "",
            "v",
            "1.2.3",
            " v1.2.3",
            "v1.2.3 ",
            "V1.2.3",
            "v01.2.3",
            "v1.02.3",
            "v1.2.03",
            "v1.2.3.4",
            "v1.2-pre",
            "v1+meta",
            "v1.2+meta",
            "v1.2.3-",
            "v1.2.3+",
            "v1.2.3-01",
            "v1.2.3-pre..1",
            "v1.2.3-pre.",
            "v1.2.3+meta.",
            "v1.2.3+a+b",
            "v1.2.3-é",
            "v1.",
            "v1.2.",
        ] {
            assert!(!is_valid(v), "{v:?} should be invalid");
        }
    }

    #[test]
    fn parts() {
        assert_eq!(canonical("v1"), "v1.0.0");
        assert_eq!(canonical("v1.2"), "v1.2.0");
        assert_eq!(canonical("v1.2.3-pre+meta"), "v1.2.3-pre");
        assert_eq!(canonical("v2.0.0+incompatible"), "v2.0.0");
        assert_eq!(canonical("bad"), "");
        assert_eq!(major("v2.1.0"), "v2");
        assert_eq!(major("v2"), "v2");
        assert_eq!(major("x"), "");
        assert_eq!(major_minor("v2"), "v2.0");
        assert_eq!(major_minor("v2.1.0-pre"), "v2.1");
        assert_eq!(major_minor("v2.1"), "v2.1");
        assert_eq!(prerelease("v2.1.0-pre+meta"), "-pre");
        assert_eq!(build("v2.1.0-pre+meta"), "+meta");
        assert_eq!(prerelease("v2.1"), "");
        assert_eq!(build("v2.1.0+bad+"), "");
    }

    #[test]
    fn ordering() {
        // Increasing precedence, straight from the SemVer 2.0.0 examples
        // plus the shorthands and numbers of different widths.
        let ordered = [
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.2",
            "v1.2.1",
            "v1.10.0",
            "v2",
            "v10.0.0",
            "v100000000000000000000.0.0",
        ];
        assert_eq!(compare("junk", "other junk"), Ordering::Equal);
        for (i, a) in ordered.iter().enumerate() {
            assert_eq!(compare("junk", a), Ordering::Less);
            assert_eq!(compare(a, ""), Ordering::Greater);
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(compare("v1.0.0+a", "v1.0.0+b"), Ordering::Equal);
        assert_eq!(compare("v1", "v1.0.0"), Ordering::Equal);
        assert_eq!(max("v1.2", "v1.1.9+x"), "v1.2.0");
        assert_eq!(max("v1.2+x", "bad"), "");
        assert_eq!(max("v1.0.0+a", "v1.0.0+b"), "v1.0.0");
    }

    #[test]
    fn sorting() {
        let mut list = vec![
            "v1.0.0+b",
            "v1.0.0",
            "x",
            "v0.1",
            "v1.0.0+a",
            "",
            "v1.0.0-rc",
        ];
        sort(&mut list);
        assert_eq!(
            list,
            [
                "",
                "x",
                "v0.1",
                "v1.0.0-rc",
                "v1.0.0",
                "v1.0.0+a",
                "v1.0.0+b"
            ]
        );
    }
}
