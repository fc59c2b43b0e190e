//! Semantic versions and pseudo-versions.
//!
//! Input: up to three versions separated by `\n` (arbitrary bytes, read as
//! UTF-8 with invalid sequences replaced). With one version, it is compared
//! with itself.
#![no_main]

use std::cmp::Ordering;

use gomod::{pseudo, semver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or(a);
    let c = parts.next().unwrap_or(b);
    for v in [a, b, c] {
        check_one(v);
        check_pseudo(v);
    }
    check_order(a, b);
    check_order(b, c);
    check_order(a, c);
    // Transitivity.
    let le = |x: &str, y: &str| semver::compare(x, y).is_le();
    if le(a, b) && le(b, c) {
        assert!(le(a, c), "compare not transitive: {a:?} <= {b:?} <= {c:?}");
    }
    let mut list = [a, b, c];
    semver::sort(&mut list);
    assert!(list
        .windows(2)
        .all(|w| semver::compare_for_sort(w[0], w[1]).is_le()));
    // Pseudo-version checks with the other inputs as path and base tag.
    let _ = pseudo::check_pseudo_version(b, a, Some(c));
    let _ = pseudo::check_pseudo_version(b, a, None);
    let _ = pseudo::check_pseudo_version("example.com/m", a, Some(b));
    let _ = pseudo::check_pseudo_version_commit(b, a, c, &pseudo::UtcTime::ZERO);
});

fn check_one(v: &str) {
    let canon = semver::canonical(v);
    if !semver::is_valid(v) {
        assert_eq!(canon, "", "canonical of invalid {v:?}");
        assert_eq!(semver::major(v), "");
        assert_eq!(semver::major_minor(v), "");
        assert_eq!(semver::prerelease(v), "");
        assert_eq!(semver::build(v), "");
        assert!(!pseudo::is_pseudo_version(v));
        return;
    }
    assert!(
        semver::is_valid(&canon),
        "canonical({v:?}) = {canon:?} is invalid"
    );
    assert_eq!(
        semver::canonical(&canon),
        canon,
        "canonical not idempotent on {v:?}"
    );
    assert_eq!(
        semver::build(&canon),
        "",
        "canonical({v:?}) keeps build metadata"
    );
    assert_eq!(
        semver::compare(v, &canon),
        Ordering::Equal,
        "compare({v:?}, canonical) != Equal"
    );
    assert_eq!(semver::compare(v, v), Ordering::Equal);
    // The parts are pieces of v in order.
    let major = semver::major(v);
    assert!(v.starts_with(major) && major.len() >= 2);
    assert!(canon.starts_with(&semver::major_minor(v)));
    let pre = semver::prerelease(v);
    let build = semver::build(v);
    assert!(v.ends_with(&format!("{pre}{build}")));
    assert_eq!(semver::prerelease(&canon), pre);
    assert!(canon.ends_with(pre));
    assert_eq!(canon.matches('.').count() - pre.matches('.').count(), 2);
}

fn check_order(a: &str, b: &str) {
    let ab = semver::compare(a, b);
    assert_eq!(
        ab,
        semver::compare(b, a).reverse(),
        "compare not antisymmetric: {a:?} {b:?}"
    );
    // Equal precedence is equal canonical form.
    if semver::is_valid(a) && semver::is_valid(b) {
        assert_eq!(
            ab == Ordering::Equal,
            semver::canonical(a) == semver::canonical(b),
            "compare({a:?}, {b:?}) = {ab:?} but canonical forms say otherwise"
        );
    }
    assert_eq!(
        semver::compare(&semver::canonical(a), &semver::canonical(b)),
        ab
    );
    let fs = semver::compare_for_sort(a, b);
    assert_eq!(fs == Ordering::Equal, a == b);
    assert_eq!(fs, semver::compare_for_sort(b, a).reverse());
    let m = semver::max(a, b);
    assert!(m == semver::canonical(a) || m == semver::canonical(b));
    assert!(semver::compare(&m, a).is_ge() && semver::compare(&m, b).is_ge());
}

fn check_pseudo(v: &str) {
    let _ = pseudo::is_zero_pseudo_version(v);
    let _ = pseudo::zero_pseudo_version(semver::major(v));
    if !pseudo::is_pseudo_version(v) {
        assert!(pseudo::pseudo_version_timestamp(v).is_err());
        assert!(pseudo::pseudo_version_rev(v).is_err());
        assert!(pseudo::pseudo_version_time(v).is_err());
        assert!(pseudo::pseudo_version_base(v).is_err());
        return;
    }
    assert!(semver::is_valid(v));
    let timestamp = pseudo::pseudo_version_timestamp(v)
        .unwrap_or_else(|e| panic!("pseudo_version_timestamp({v:?}): {e}"));
    assert!(
        timestamp.len() == pseudo::TIMESTAMP_LEN && timestamp.bytes().all(|b| b.is_ascii_digit())
    );
    let rev =
        pseudo::pseudo_version_rev(v).unwrap_or_else(|e| panic!("pseudo_version_rev({v:?}): {e}"));
    assert!(!rev.is_empty() && rev.bytes().all(|b| b.is_ascii_alphanumeric()));
    // The time fails only when the 14 digits are not a real time.
    let time = pseudo::pseudo_version_time(v);
    assert_eq!(
        time.is_ok(),
        pseudo::UtcTime::parse_timestamp(timestamp).is_some(),
        "pseudo_version_time({v:?})"
    );
    if let Ok(t) = &time {
        assert_eq!(t.timestamp(), timestamp);
    }
    // The base fails only in its two documented cases.
    let base = pseudo::pseudo_version_base(v);
    let build = semver::build(v);
    let pre = semver::prerelease(v);
    let no_base = pre.len() == 1 + pseudo::TIMESTAMP_LEN + 1 + rev.len();
    match &base {
        Ok(base) => {
            assert_eq!(
                base.is_empty(),
                no_base,
                "pseudo_version_base({v:?}) = {base:?}"
            );
            if !base.is_empty() {
                assert!(semver::is_valid(base), "base {base:?} of {v:?} is invalid");
                assert!(
                    semver::compare(base, v).is_lt(),
                    "base {base:?} not below {v:?}"
                );
                assert_eq!(semver::build(base), build);
            }
        }
        Err(_) => {
            let zero_patch = pre.starts_with("-0.") && canon_patch(v) == "0";
            assert!(
                (no_base && !build.is_empty()) || zero_patch,
                "pseudo_version_base({v:?}) failed unexpectedly"
            );
        }
    }
    // Rebuilding the pseudo-version from its parts gives it back.
    if let (Ok(base), Ok(t)) = (&base, &time) {
        let rebuilt = pseudo::pseudo_version(semver::major(v), base, t, rev);
        assert_eq!(rebuilt, v, "pseudo_version(parts of {v:?})");
    }
}

/// The patch number of a valid full version.
fn canon_patch(v: &str) -> &str {
    let release = &v[..v.len() - semver::prerelease(v).len() - semver::build(v).len()];
    release.rsplit('.').next().unwrap_or("")
}
