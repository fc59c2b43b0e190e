//! Pseudo-versions: versions that name an untagged commit.
//!
//! A pseudo-version encodes a commit's time (UTC, to the second, as
//! `yyyymmddhhmmss`) and a prefix of its revision identifier (12 hex digits
//! for Git), and sorts just above the most recent tag that precedes the
//! commit. It has one of three shapes, chosen by that tag (the *base*):
//!
//! | base tag | pseudo-version |
//! |---|---|
//! | none (for major version X) | `vX.0.0-yyyymmddhhmmss-abcdef123456` |
//! | `vX.Y.Z-pre` (a prerelease) | `vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef123456` |
//! | `vX.Y.Z` (a release) | `vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef123456` |
//!
//! The last two shapes may end in `+incompatible` when the base tag did.
//! The `0` identifier before the timestamp makes a pseudo-version rank below
//! every prerelease a module author could tag for the same version later
//! (`vX.Y.(Z+1)-0.…` < `vX.Y.(Z+1)-rc.1`).

use std::fmt;

use crate::module::{self, Error};
use crate::semver;

/// Length of the `yyyymmddhhmmss` timestamp in a pseudo-version.
pub const TIMESTAMP_LEN: usize = 14;

/// A UTC time with one-second resolution, in years 0000 to 9999: the range a
/// pseudo-version's timestamp can express.
///
/// The ordering of values is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days between 1970-01-01 and the given date of the proleptic Gregorian
/// calendar (negative before 1970).
///
/// Counts from a calendar year that starts on March 1st, so that the leap
/// day is the last day of its year; each 400-year cycle has 146097 days.
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719468 days separate 0000-03-01 from 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let cycle = days.div_euclid(146_097);
    let day_of_cycle = days.rem_euclid(146_097);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = cycle * 400 + year_of_cycle + i64::from(month <= 2);
    (year, month, day)
}

impl UtcTime {
    /// Go's zero time, 0001-01-01 00:00:00 UTC, the time used by
    /// [`zero_pseudo_version`].
    pub const ZERO: UtcTime = UtcTime {
        year: 1,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// Builds a time from its calendar fields, or `None` if any is out of
    /// range: the year must be 0–9999, the month 1–12, the day must exist
    /// in that month (leap years by the Gregorian rule), the hour 0–23, the
    /// minute and the second 0–59 (no leap seconds).
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let valid = year <= 9999
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(i64::from(year), month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The time `secs` seconds after 1970-01-01 00:00:00 UTC (before it, if
    /// negative), or `None` outside years 0000–9999.
    pub fn from_unix(secs: i64) -> Option<Self> {
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = u16::try_from(year).ok().filter(|&y| y <= 9999)?;
        Some(UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
        })
    }

    /// Seconds since 1970-01-01 00:00:00 UTC (negative before it).
    pub fn unix(&self) -> i64 {
        days_from_civil(i64::from(self.year), self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// Parses a pseudo-version timestamp: exactly 14 ASCII digits
    /// `yyyymmddhhmmss` naming a valid time (see [`UtcTime::new`]).
    pub fn parse_timestamp(s: &str) -> Option<Self> {
        if s.len() != TIMESTAMP_LEN || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field = |range: std::ops::Range<usize>| s[range].parse::<u16>().ok();
        UtcTime::new(
            field(0..4)?,
            field(4..6)? as u8,
            field(6..8)? as u8,
            field(8..10)? as u8,
            field(10..12)? as u8,
            field(12..14)? as u8,
        )
    }

    /// The 14-digit `yyyymmddhhmmss` form used in pseudo-versions.
    pub fn timestamp(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// The year, 0–9999.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The hour, 0–23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, 0–59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// The second, 0–59.
    pub fn second(&self) -> u8 {
        self.second
    }
}

/// RFC 3339 with a `Z` zone, as Go formats a UTC time with `time.RFC3339`:
/// `2006-01-02T15:04:05Z`.
impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Reports whether `v` is a pseudo-version: a valid semantic version whose
/// prerelease has one of the three shapes in the [module
/// documentation](self), optionally followed by build metadata. In detail,
/// the prerelease (after its `-`) must be either
///
/// * `DDDDDDDDDDDDDD-R` with minor and patch both `0` (no base), or
/// * `[P.]0.DDDDDDDDDDDDDD-R` (a base, release or prerelease),
///
/// where `D` is an ASCII digit and `R` one or more ASCII letters and digits.
/// The timestamp's digits are not checked for being a real time here.
pub fn is_pseudo_version(v: &str) -> bool {
    if v.matches('-').count() < 2 || !semver::is_valid(v) {
        return false;
    }
    let pre = semver::prerelease(v);
    let Some(body) = pre.strip_prefix('-') else {
        return false;
    };
    // The last identifier is the time stamp and revision.
    let (head, last) = match body.rfind('.') {
        Some(i) => (Some(&body[..i]), &body[i + 1..]),
        None => (None, body),
    };
    let stamped = last.len() > TIMESTAMP_LEN + 1
        && last.as_bytes()[..TIMESTAMP_LEN]
            .iter()
            .all(u8::is_ascii_digit)
        && last.as_bytes()[TIMESTAMP_LEN] == b'-'
        && last.as_bytes()[TIMESTAMP_LEN + 1..]
            .iter()
            .all(u8::is_ascii_alphanumeric);
    if !stamped {
        return false;
    }
    match head {
        // No base: vX.0.0-yyyymmddhhmmss-rev.
        None => {
            let numbers = &v[1..v.len() - pre.len() - semver::build(v).len()];
            let mut minor_patch = numbers.split('.').skip(1);
            minor_patch.next() == Some("0") && minor_patch.next() == Some("0")
        }
        // A base: the identifier before the time stamp must be exactly "0".
        Some(head) => head == "0" || head.ends_with(".0"),
    }
}

/// The pseudo-version [`pseudo_version`] builds for major version `major`
/// with no base, time [`UtcTime::ZERO`] and revision `000000000000`
/// (`vX.0.0-00010101000000-000000000000`); a placeholder when no real
/// revision is known.
pub fn zero_pseudo_version(major: &str) -> String {
    pseudo_version(major, "", &UtcTime::ZERO, "000000000000")
}

/// Reports whether `v` is exactly the [`zero_pseudo_version`] of its own
/// major version.
pub fn is_zero_pseudo_version(v: &str) -> bool {
    v == zero_pseudo_version(semver::major(v))
}

/// Adds one to a string of decimal digits of any length.
fn increment_decimal(digits: &str) -> String {
    let mut out = digits.as_bytes().to_vec();
    for d in out.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8(out).expect("ASCII digits");
        }
    }
    // Every digit was a 9.
    out.insert(0, b'1');
    String::from_utf8(out).expect("ASCII digits")
}

/// Subtracts one from a string of decimal digits of any length, dropping
/// the leading zero that appears when the number has one digit fewer
/// (`100` → `99`). Returns `None` when the number is zero.
fn decrement_decimal(digits: &str) -> Option<String> {
    let mut out = digits.as_bytes().to_vec();
    let i = out.iter().rposition(|&d| d != b'0')?;
    out[i] -= 1;
    for d in &mut out[i + 1..] {
        *d = b'9';
    }
    if i == 0 && out[0] == b'0' && out.len() > 1 {
        out.remove(0);
    }
    Some(String::from_utf8(out).expect("ASCII digits"))
}

/// Builds the pseudo-version for a commit made at `time` with revision
/// identifier `rev` (by convention its first 12 hex digits), given the most
/// recent tag `older` preceding it:
///
/// * if `older` is `""` (or not a valid version), the result is
///   `MAJOR.0.0-yyyymmddhhmmss-rev`, with `major` (such as `"v2"`)
///   defaulting to `"v0"` when empty;
/// * if `older` is a prerelease `vX.Y.Z-pre`, the result is
///   `vX.Y.Z-pre.0.yyyymmddhhmmss-rev`;
/// * otherwise the result is `vX.Y.(Z+1)-0.yyyymmddhhmmss-rev`.
///
/// `older` is canonicalized first, and its build metadata, if any (normally
/// `+incompatible`), is carried over to the end of the result. `major` is
/// only used when there is no base tag.
pub fn pseudo_version(major: &str, older: &str, time: &UtcTime, rev: &str) -> String {
    let major = if major.is_empty() { "v0" } else { major };
    let segment = format!("{}-{rev}", time.timestamp());
    let build = semver::build(older);
    let older = semver::canonical(older);
    if older.is_empty() {
        return format!("{major}.0.0-{segment}");
    }
    if !semver::prerelease(&older).is_empty() {
        return format!("{older}.0.{segment}{build}");
    }
    let dot = older
        .rfind('.')
        .expect("canonical versions have a patch number");
    let (minor, patch) = older.split_at(dot + 1);
    format!("{minor}{}-0.{segment}{build}", increment_decimal(patch))
}

/// A pseudo-version split into its parts (all borrowed from it).
struct Parts<'a> {
    /// `vX.0.0`, `vX.Y.Z-pre.0` or `vX.Y.(Z+1)-0`.
    base: &'a str,
    timestamp: &'a str,
    rev: &'a str,
    /// With its `+`, or empty.
    build: &'a str,
}

fn syntax_error(v: &str) -> Error {
    Error::invalid_version(v, true, "syntax error")
}

fn parse(v: &str) -> Result<Parts<'_>, Error> {
    if !is_pseudo_version(v) {
        return Err(syntax_error(v));
    }
    let build = semver::build(v);
    let rest = &v[..v.len() - build.len()];
    let (rest, rev) = rest.rsplit_once('-').ok_or_else(|| syntax_error(v))?;
    let dash = rest.rfind('-').ok_or_else(|| syntax_error(v))?;
    let split = match rest.rfind('.') {
        Some(dot) if dot > dash => dot,
        _ => dash,
    };
    Ok(Parts {
        base: &rest[..split],
        timestamp: &rest[split + 1..],
        rev,
        build,
    })
}

/// The `yyyymmddhhmmss` timestamp of pseudo-version `v`, unchecked beyond
/// being 14 digits. Fails if `v` is not a pseudo-version.
pub fn pseudo_version_timestamp(v: &str) -> Result<&str, Error> {
    parse(v).map(|p| p.timestamp)
}

/// The commit time of pseudo-version `v`. Fails if `v` is not a
/// pseudo-version or its timestamp is not a real time (month 13, day 30 of
/// February, hour 24, …).
pub fn pseudo_version_time(v: &str) -> Result<UtcTime, Error> {
    let timestamp = parse(v)?.timestamp;
    UtcTime::parse_timestamp(timestamp).ok_or_else(|| {
        Error::invalid_version(
            v,
            true,
            format!("malformed time {}", module::quote(timestamp)),
        )
    })
}

/// The revision identifier at the end of pseudo-version `v` (before any
/// build metadata). Fails if `v` is not a pseudo-version.
pub fn pseudo_version_rev(v: &str) -> Result<&str, Error> {
    parse(v).map(|p| p.rev)
}

/// The tag that pseudo-version `v` claims as its base, in canonical form
/// plus the pseudo-version's build metadata, or `""` when it has none:
///
/// * `vX.0.0-yyyymmddhhmmss-rev` → `""`, but with build metadata this shape
///   is an error (no base tag, so nothing to be incompatible with);
/// * `vX.Y.Z-pre.0.yyyymmddhhmmss-rev+b` → `vX.Y.Z-pre+b`;
/// * `vX.Y.Z-0.yyyymmddhhmmss-rev+b` → `vX.Y.(Z-1)+b`, an error when Z is 0
///   (the base would have a negative patch number).
///
/// Fails if `v` is not a pseudo-version.
pub fn pseudo_version_base(v: &str) -> Result<String, Error> {
    let parts = parse(v)?;
    let base = parts.base;
    match semver::prerelease(base) {
        "" => {
            if parts.build.is_empty() {
                Ok(String::new())
            } else {
                Err(Error::invalid_version(
                    v,
                    true,
                    format!(
                        "lacks base version, but has build metadata {}",
                        module::quote(parts.build)
                    ),
                ))
            }
        }
        "-0" => {
            let release = &base[..base.len() - 2];
            let dot = release.rfind('.').expect("a version with a patch number");
            match decrement_decimal(&release[dot + 1..]) {
                Some(patch) => Ok(format!("{}{patch}{}", &release[..=dot], parts.build)),
                None => Err(Error::invalid_version(
                    v,
                    true,
                    format!("version before {release} would have negative patch number"),
                )),
            }
        }
        _ => {
            let tag = base
                .strip_suffix(".0")
                .expect("a pseudo-version prerelease ends in .0 before its time stamp");
            Ok(format!("{tag}{}", parts.build))
        }
    }
}

/// Checks that `version` is an acceptable pseudo-version of module `path`
/// whose base is `base_tag`, as the `go` command does before trusting a
/// pseudo-version it resolves from version control. Tags of a module in a
/// repository subdirectory must be given without their `dir/` prefix.
///
/// The rules, in the order checked:
///
/// 1. `path`@`version` passes [`module::check`];
/// 2. `version` is canonical (its only build metadata, if any, is
///    `+incompatible`) and is a pseudo-version;
/// 3. `+incompatible` appears only when the path has no major-version
///    suffix and the major version is 2 or more (whether the commit really
///    lacks a go.mod file is for the caller to check);
/// 4. its base (see [`pseudo_version_base`], ignoring `+incompatible`)
///    equals `base_tag`: both absent, or `base_tag` a valid version of the
///    same precedence as the base (so `v1.2.3+meta` fits the base
///    `v1.2.3`);
/// 5. without a base, a module path without a major-version suffix uses
///    major version v0, never v1 (v1 only appears after a v1 tag).
///
/// Not checked here, because they need the repository: that `base_tag` is
/// an ancestor of the commit, and that the commit itself does not carry the
/// tag the pseudo-version was derived from.
///
/// Errors read like the `go` command's:
/// `path@version: invalid pseudo-version: reason`.
pub fn check_pseudo_version(
    path: &str,
    version: &str,
    base_tag: Option<&str>,
) -> Result<(), Error> {
    module::check(path, version)?;
    let invalid =
        |reason: String| Error::in_module(path, Error::invalid_version(version, true, reason));
    let canonical = module::canonical_version(version);
    if canonical != version {
        return Err(invalid(format!(
            "not in canonical form (should be {canonical})"
        )));
    }
    if !is_pseudo_version(version) {
        return Err(Error::in_module(path, syntax_error(version)));
    }
    let path_major = module::split_path_version(path).map_or("", |(_, major)| major);
    let without_incompatible = version.strip_suffix("+incompatible");
    let release = without_incompatible.unwrap_or(version);
    // With a mismatched major version, module::check has already failed.
    if without_incompatible.is_some() && module::match_path_major(release, path_major) {
        return Err(invalid(format!(
            "+incompatible suffix not allowed: major version {} is compatible",
            semver::major(version)
        )));
    }
    let base = pseudo_version_base(release).map_err(|err| Error::in_module(path, err))?;
    if base.is_empty() {
        if let Some(tag) = base_tag {
            return Err(invalid(format!(
                "has no base version, but its base was given as {tag}"
            )));
        }
        if module::path_major_prefix(path_major) == Some("") && semver::major(version) == "v1" {
            return Err(invalid(
                "major version without preceding tag must be v0, not v1".into(),
            ));
        }
        return Ok(());
    }
    match base_tag {
        Some(tag) if semver::is_valid(tag) && semver::compare(tag, &base).is_eq() => Ok(()),
        _ => Err(invalid(format!("preceding tag ({base}) not found"))),
    }
}

/// Checks that pseudo-version `version` of module `path` names the commit
/// whose canonical short revision identifier is `short_rev` and whose commit
/// time is `time`: the revision in the pseudo-version must be exactly
/// `short_rev` (not longer, not shorter) and its timestamp exactly `time`.
///
/// Errors read like the `go` command's:
/// `path@version: invalid pseudo-version: reason`.
pub fn check_pseudo_version_commit(
    path: &str,
    version: &str,
    short_rev: &str,
    time: &UtcTime,
) -> Result<(), Error> {
    let invalid =
        |reason: String| Error::in_module(path, Error::invalid_version(version, true, reason));
    let rev = pseudo_version_rev(version).map_err(|err| Error::in_module(path, err))?;
    if rev != short_rev {
        let how = if rev.starts_with(short_rev) {
            "revision is longer than canonical"
        } else if short_rev.starts_with(rev) {
            "revision is shorter than canonical"
        } else {
            "does not match short name of revision"
        };
        return Err(invalid(format!("{how} (expected {short_rev})")));
    }
    let t = pseudo_version_time(version).map_err(|err| Error::in_module(path, err))?;
    if t != *time {
        return Err(invalid(format!(
            "does not match version-control timestamp (expected {})",
            time.timestamp()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UtcTime {
        UtcTime::parse_timestamp(s).unwrap()
    }

    /// (major, older tag, pseudo-version built at 2006-01-02 15:04:05 with
    /// revision "hash"); the older tag is also the expected base.
    const BUILT: &[(&str, &str, &str)] = &[
        ("", "", "v0.0.0-20060102150405-hash"),
        ("v0", "", "v0.0.0-20060102150405-hash"),
        ("v1", "", "v1.0.0-20060102150405-hash"),
        ("v2", "", "v2.0.0-20060102150405-hash"),
        ("unused", "v0.0.0", "v0.0.1-0.20060102150405-hash"),
        ("unused", "v1.2.3", "v1.2.4-0.20060102150405-hash"),
        (
            "unused",
            "v1.2.99999999999999999",
            "v1.2.100000000000000000-0.20060102150405-hash",
        ),
        ("unused", "v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
        ("unused", "v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
        ("unused", "v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
        (
            "unused",
            "v1.0.0+metadata",
            "v1.0.1-0.20060102150405-hash+metadata",
        ),
        (
            "unused",
            "v2.0.0+incompatible",
            "v2.0.1-0.20060102150405-hash+incompatible",
        ),
        (
            "unused",
            "v2.3.0-pre+incompatible",
            "v2.3.0-pre.0.20060102150405-hash+incompatible",
        ),
    ];

    #[test]
    fn build_and_take_apart() {
        let when = UtcTime::new(2006, 1, 2, 15, 4, 5).unwrap();
        for &(major, older, want) in BUILT {
            assert_eq!(pseudo_version(major, older, &when, "hash"), want);
            assert!(is_pseudo_version(want), "{want}");
            assert!(!is_pseudo_version(older), "{older}");
            assert_eq!(pseudo_version_time(want).unwrap(), when);
            assert_eq!(pseudo_version_timestamp(want).unwrap(), "20060102150405");
            assert_eq!(pseudo_version_rev(want).unwrap(), "hash");
            assert_eq!(pseudo_version_base(want).unwrap(), older, "{want}");
            assert!(pseudo_version_time(older).is_err());
            assert!(pseudo_version_rev(older).is_err());
        }
        assert_eq!(
            pseudo_version("", "v1.2.3", &when, "abcdefabcdef"),
            "v1.2.4-0.20060102150405-abcdefabcdef"
        );
        assert_eq!(
            pseudo_version("v3", "not-a-tag", &when, "abcdefabcdef"),
            "v3.0.0-20060102150405-abcdefabcdef"
        );
        assert_eq!(
            pseudo_version("", "v1.2", &when, "r"),
            "v1.2.1-0.20060102150405-r"
        );
    }

    #[test]
    fn recognition() {
        for v in [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4-rc.1.0.20191109021931-daa7c04131f5",
            "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
            "v0.0.0-20191109021931-DAA7C04131F5+build.1",
            "v5.0.0-99999999999999-x",
            "v1.0.0-0.0.20191109021931-daa7c04131f5",
        ] {
            assert!(is_pseudo_version(v), "{v}");
        }
        for v in [
            "v0.0.0-2019110902193-daa7c04131f5",   // 13 digits
            "v0.0.0-201911090219311-daa7c04131f5", // 15 digits
            "v0.0.0-20191109021931-",              // invalid semver
            "v0.0.0-20191109021931-daa7-c04131f5", // '-' in revision
            "v0.1.0-20191109021931-daa7c04131f5",  // no base needs .0.0
            "v1.2.4-1.20191109021931-daa7c04131f5",
            "v1.2.4-rc.10.20191109021931-daa7c04131f5",
            "v1.2.4-rc0.20191109021931-daa7c04131f5",
            "v1.2.4-0.20191109021931.daa7c04131f5",
            "v1.2.4-0.x20191109021931-daa7c04131f5",
            "v1-20191109021931-daa7c04131f5",
            "v1.2.3",
            "v1.2.3-pre",
            "---",
            "",
        ] {
            assert!(!is_pseudo_version(v), "{v}");
            assert!(pseudo_version_base(v).is_err());
        }
    }

    #[test]
    fn invalid_bases() {
        let cases = [
            ("v0.0.0", "pseudo-version \"v0.0.0\" invalid: syntax error"),
            ("v0.0.0-", "pseudo-version \"v0.0.0-\" invalid: syntax error"),
            (
                "v0.0.0-0.20060102150405-hash",
                "pseudo-version \"v0.0.0-0.20060102150405-hash\" invalid: version before v0.0.0 would have negative patch number",
            ),
            (
                "v0.1.0-0.20060102150405-hash",
                "pseudo-version \"v0.1.0-0.20060102150405-hash\" invalid: version before v0.1.0 would have negative patch number",
            ),
            (
                "v1.0.0-0.20060102150405-hash",
                "pseudo-version \"v1.0.0-0.20060102150405-hash\" invalid: version before v1.0.0 would have negative patch number",
            ),
            (
                "v0.0.0-20060102150405-hash+incompatible",
                "pseudo-version \"v0.0.0-20060102150405-hash+incompatible\" invalid: lacks base version, but has build metadata \"+incompatible\"",
            ),
            (
                "v0.0.0-20060102150405-hash+metadata",
                "pseudo-version \"v0.0.0-20060102150405-hash+metadata\" invalid: lacks base version, but has build metadata \"+metadata\"",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(pseudo_version_base(v).unwrap_err().to_string(), want);
        }
        assert_eq!(
            pseudo_version_base("v1.2.10-0.20060102150405-hash").unwrap(),
            "v1.2.9"
        );
        assert_eq!(
            pseudo_version_base("v1.2.100-0.20060102150405-hash").unwrap(),
            "v1.2.99"
        );
        assert_eq!(
            pseudo_version_base("v1.2.3-0.0.20060102150405-hash").unwrap(),
            "v1.2.3-0"
        );
    }

    #[test]
    fn decimals() {
        for (n, up) in [
            ("0", "1"),
            ("1", "2"),
            ("99", "100"),
            ("100", "101"),
            ("109", "110"),
        ] {
            assert_eq!(increment_decimal(n), up);
        }
        for (n, down) in [
            ("0", None),
            ("00", None),
            ("1", Some("0")),
            ("2", Some("1")),
            ("99", Some("98")),
            ("100", Some("99")),
            ("101", Some("100")),
            ("10", Some("9")),
            ("20", Some("19")),
        ] {
            assert_eq!(decrement_decimal(n).as_deref(), down, "{n}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            pseudo_version_time("v0.0.0-20191109021931-daa7c04131f5")
                .unwrap()
                .to_string(),
            "2019-11-09T02:19:31Z"
        );
        for bad in [
            "20191309021931",
            "20190229021931",
            "20191100021931",
            "20191109241931",
            "20191109026031",
            "20191109021960",
        ] {
            let v = format!("v0.0.0-{bad}-daa7c04131f5");
            assert!(is_pseudo_version(&v));
            assert_eq!(
                pseudo_version_time(&v).unwrap_err().to_string(),
                format!("pseudo-version \"{v}\" invalid: malformed time \"{bad}\"")
            );
        }
        assert!(UtcTime::parse_timestamp("20000229000000").is_some());
        assert!(UtcTime::parse_timestamp("21000229000000").is_none());
        assert!(UtcTime::parse_timestamp("00000229000000").is_some());
        assert!(UtcTime::parse_timestamp("0000022900000").is_none());
        assert!(UtcTime::parse_timestamp("+0000229000000").is_none());

        assert_eq!(
            UtcTime::from_unix(0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            UtcTime::from_unix(1_700_000_000).unwrap().timestamp(),
            "20231114221320"
        );
        assert_eq!(
            UtcTime::from_unix(951_782_400).unwrap().to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(UtcTime::ZERO.unix(), -62_135_596_800);
        assert_eq!(UtcTime::from_unix(-62_135_596_800), Some(UtcTime::ZERO));
        assert_eq!(
            UtcTime::from_unix(-62_167_219_200).unwrap().to_string(),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(UtcTime::from_unix(-62_167_219_201), None);
        assert_eq!(
            UtcTime::from_unix(253_402_300_799).unwrap().to_string(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(UtcTime::from_unix(253_402_300_800), None);
        // Round trips across the whole range, one day and a bit at a time.
        let mut secs = -62_167_219_200;
        while secs < 253_402_300_800 {
            let time = UtcTime::from_unix(secs).unwrap();
            assert_eq!(time.unix(), secs);
            assert_eq!(UtcTime::parse_timestamp(&time.timestamp()), Some(time));
            secs += 86_400 * 37 + 3_601;
        }
    }

    #[test]
    fn zero() {
        assert_eq!(
            zero_pseudo_version("v0"),
            "v0.0.0-00010101000000-000000000000"
        );
        assert_eq!(
            zero_pseudo_version(""),
            "v0.0.0-00010101000000-000000000000"
        );
        assert_eq!(
            zero_pseudo_version("v2"),
            "v2.0.0-00010101000000-000000000000"
        );
        assert!(is_zero_pseudo_version("v2.0.0-00010101000000-000000000000"));
        assert!(!is_zero_pseudo_version(
            "v2.0.0-00010101000000-000000000001"
        ));
        assert!(!is_zero_pseudo_version(
            "v2.0.1-0.00010101000000-000000000000"
        ));
    }

    #[test]
    fn checking_against_a_base() {
        let ok = |path, v, tag| check_pseudo_version(path, v, tag).map_err(|e| e.to_string());
        assert_eq!(
            ok("example.com/m", "v0.0.0-20191109021931-daa7c04131f5", None),
            Ok(())
        );
        assert_eq!(
            ok(
                "example.com/m",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                Some("v1.2.3")
            ),
            Ok(())
        );
        assert_eq!(
            ok(
                "example.com/m",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                Some("v1.2.3+meta")
            ),
            Ok(())
        );
        assert_eq!(
            ok(
                "example.com/m",
                "v1.2.3-rc.1.0.20191109021931-daa7c04131f5",
                Some("v1.2.3-rc.1")
            ),
            Ok(())
        );
        assert_eq!(
            ok(
                "example.com/m/v2",
                "v2.0.0-20191109021931-daa7c04131f5",
                None
            ),
            Ok(())
        );
        assert_eq!(
            ok(
                "example.com/m",
                "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
                Some("v2.0.0")
            ),
            Ok(())
        );
        assert_eq!(
            ok("gopkg.in/m.v1", "v1.0.0-20191109021931-daa7c04131f5", None),
            Ok(())
        );

        let fails = [
            (
                "example.com/m",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                Some("v1.2.4"),
                "example.com/m@v1.2.4-0.20191109021931-daa7c04131f5: invalid pseudo-version: preceding tag (v1.2.3) not found",
            ),
            (
                "example.com/m",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                None,
                "example.com/m@v1.2.4-0.20191109021931-daa7c04131f5: invalid pseudo-version: preceding tag (v1.2.3) not found",
            ),
            (
                "example.com/m",
                "v0.0.0-20191109021931-daa7c04131f5",
                Some("v0.1.0"),
                "example.com/m@v0.0.0-20191109021931-daa7c04131f5: invalid pseudo-version: has no base version, but its base was given as v0.1.0",
            ),
            (
                "example.com/m",
                "v1.0.0-20191109021931-daa7c04131f5",
                None,
                "example.com/m@v1.0.0-20191109021931-daa7c04131f5: invalid pseudo-version: major version without preceding tag must be v0, not v1",
            ),
            (
                "example.com/m",
                "v1.2.4-0.20191109021931-daa7c04131f5+meta",
                Some("v1.2.3"),
                "example.com/m@v1.2.4-0.20191109021931-daa7c04131f5+meta: invalid pseudo-version: not in canonical form (should be v1.2.4-0.20191109021931-daa7c04131f5)",
            ),
            (
                "example.com/m",
                "v1.2.4",
                Some("v1.2.3"),
                "example.com/m@v1.2.4: invalid pseudo-version: syntax error",
            ),
            (
                "example.com/m",
                "v1.0.1-0.20191109021931-daa7c04131f5+incompatible",
                Some("v1.0.0"),
                "example.com/m@v1.0.1-0.20191109021931-daa7c04131f5+incompatible: invalid pseudo-version: +incompatible suffix not allowed: major version v1 is compatible",
            ),
            (
                "example.com/m/v3",
                "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
                Some("v2.0.0"),
                "example.com/m/v3@v2.0.1-0.20191109021931-daa7c04131f5+incompatible: invalid version: should be v3, not v2",
            ),
            (
                "example.com/m/v2",
                "v1.0.1-0.20191109021931-daa7c04131f5",
                Some("v1.0.0"),
                "example.com/m/v2@v1.0.1-0.20191109021931-daa7c04131f5: invalid version: should be v2, not v1",
            ),
            (
                "example.com/m",
                "v1.0.0-0.20191109021931-daa7c04131f5",
                Some("v0.9.9"),
                "example.com/m@v1.0.0-0.20191109021931-daa7c04131f5: invalid pseudo-version: version before v1.0.0 would have negative patch number",
            ),
        ];
        for (path, v, tag, want) in fails {
            assert_eq!(ok(path, v, tag), Err(want.to_string()), "{path}@{v}");
        }
    }

    #[test]
    fn checking_against_a_commit() {
        let v = "v0.0.0-20191109021931-daa7c04131f5";
        let when = t("20191109021931");
        assert!(check_pseudo_version_commit("example.com/m", v, "daa7c04131f5", &when).is_ok());
        let err = |rev: &str, time: &UtcTime| {
            check_pseudo_version_commit("example.com/m", v, rev, time)
                .unwrap_err()
                .to_string()
        };
        let prefix = format!("example.com/m@{v}: invalid pseudo-version: ");
        assert_eq!(
            err("daa7c04131", &when),
            format!("{prefix}revision is longer than canonical (expected daa7c04131)")
        );
        assert_eq!(
            err("daa7c04131f5aa", &when),
            format!("{prefix}revision is shorter than canonical (expected daa7c04131f5aa)")
        );
        assert_eq!(
            err("0123456789ab", &when),
            format!("{prefix}does not match short name of revision (expected 0123456789ab)")
        );
        assert_eq!(
            err("daa7c04131f5", &t("20191109021932")),
            format!("{prefix}does not match version-control timestamp (expected 20191109021932)")
        );
    }
}
