//! Slash-separated paths as Go's `path` package handles them (`Clean`,
//! `Split`): the names inside module zips and of `h1:` hash summaries.

/// Splits `p` after its last slash, like Go's `path.Split`: the directory
/// part keeps its trailing slash and is empty for a top-level name.
pub(crate) fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Go's `path.Clean`: the shortest equivalent slash-separated path,
/// processing `.` and `..` lexically; `.` for an empty result.
pub(crate) fn clean(p: &str) -> String {
    String::from_utf8(clean_bytes(p.as_bytes())).expect("cleaning keeps UTF-8 intact")
}

/// [`clean`] over bytes that need not be UTF-8. Cleaning only looks at
/// `/` and `.`, which never occur inside a multi-byte UTF-8 sequence.
pub(crate) fn clean_bytes(p: &[u8]) -> Vec<u8> {
    let rooted = p.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in p.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|last| *last != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if rooted {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_matches_go_path_clean() {
        for (input, want) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../a", "../a"),
            ("a//b/./", "a/b"),
            ("a/..", "."),
        ] {
            assert_eq!(clean_bytes(input.as_bytes()), want.as_bytes(), "{input}");
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn split_keeps_the_slash_with_the_directory() {
        assert_eq!(split("a/b/c.go"), ("a/b/", "c.go"));
        assert_eq!(split("go.mod"), ("", "go.mod"));
        assert_eq!(split("dir/"), ("dir/", ""));
    }
}
