//! Go's string-literal rules as far as go.mod needs them: which runes are
//! printable, how a string is quoted (`strconv.Quote`) and how a quoted or
//! raw string is read back (`strconv.Unquote`).
//!
//! go.mod files are bytes, not necessarily UTF-8. Decoding follows Go: an
//! invalid byte is one rune, U+FFFD.

pub use crate::strconv::quote;
pub(super) use crate::strconv::{is_print, quote_rune};

/// Decodes the rune at the start of `b` the way Go's `utf8.DecodeRune`
/// does: a valid UTF-8 sequence gives its code point and length; anything
/// else (a stray byte, a truncated, overlong or surrogate sequence) gives
/// U+FFFD with length 1. `b` must not be empty.
pub(super) fn decode_rune(b: &[u8]) -> (char, usize) {
    let head = &b[..b.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The prefix up to the error is valid UTF-8.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    match valid.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// The error `strconv.Unquote` reports for every malformed literal.
pub(super) const SYNTAX_ERROR: &str = "invalid syntax";

/// `strconv.Unquote` for the two string forms a go.mod can hold.
///
/// A raw string is everything between two backquotes, with carriage returns
/// dropped; it cannot contain a backquote. An interpreted string is between
/// double quotes and may not contain a raw newline or an unescaped `"`; its
/// escapes are Go's: `\a \b \f \n \r \t \v \\ \"`, three octal digits (at
/// most `\377`), `\x` and two hex digits (one byte, which may leave the
/// result invalid UTF-8; such bytes come back as U+FFFD here), `\u` and four
/// or `\U` and eight hex digits naming a valid code point. The literal must
/// span all of `s`. A single-quoted rune literal is also Go syntax but is
/// never used by go.mod, so it is rejected here.
///
/// # Errors
///
/// `"invalid syntax"` (Go's message) for anything else.
pub fn unquote(s: &[u8]) -> Result<String, &'static str> {
    let (&open, rest) = s.split_first().ok_or(SYNTAX_ERROR)?;
    match open {
        b'`' => {
            let body = rest.strip_suffix(b"`").ok_or(SYNTAX_ERROR)?;
            if body.contains(&b'`') {
                return Err(SYNTAX_ERROR);
            }
            let kept: Vec<u8> = body.iter().copied().filter(|&b| b != b'\r').collect();
            Ok(String::from_utf8_lossy(&kept).into_owned())
        }
        b'"' => {
            let mut out = Vec::with_capacity(rest.len());
            let mut i = 0;
            loop {
                let &b = rest.get(i).ok_or(SYNTAX_ERROR)?;
                match b {
                    b'"' => break,
                    b'\n' => return Err(SYNTAX_ERROR),
                    b'\\' => i += unescape(&rest[i..], &mut out)?,
                    b if b < 0x80 => {
                        out.push(b);
                        i += 1;
                    }
                    _ => {
                        let (c, n) = decode_rune(&rest[i..]);
                        let mut buf = [0; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        i += n;
                    }
                }
            }
            if i + 1 != rest.len() {
                return Err(SYNTAX_ERROR);
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(SYNTAX_ERROR),
    }
}

/// Decodes the escape sequence at the start of `s` (which begins with a
/// backslash) inside a double-quoted literal, appending its bytes to `out`;
/// returns how many input bytes it used.
fn unescape(s: &[u8], out: &mut Vec<u8>) -> Result<usize, &'static str> {
    let &c = s.get(1).ok_or(SYNTAX_ERROR)?;
    let simple = match c {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Ok(2);
    }
    match c {
        b'0'..=b'7' => {
            let digits = s.get(1..4).ok_or(SYNTAX_ERROR)?;
            let mut v: u32 = 0;
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(SYNTAX_ERROR);
                }
                v = v << 3 | u32::from(d - b'0');
            }
            let byte = u8::try_from(v).map_err(|_| SYNTAX_ERROR)?;
            out.push(byte);
            Ok(4)
        }
        b'x' | b'u' | b'U' => {
            let n = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = s.get(2..2 + n).ok_or(SYNTAX_ERROR)?;
            let mut v: u32 = 0;
            for &d in digits {
                let x = (d as char).to_digit(16).ok_or(SYNTAX_ERROR)?;
                v = v << 4 | x;
            }
            if c == b'x' {
                out.push(v as u8);
            } else {
                let ch = char::from_u32(v).ok_or(SYNTAX_ERROR)?;
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            Ok(2 + n)
        }
        _ => Err(SYNTAX_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable() {
        assert!(is_print(' '));
        assert!(is_print('~'));
        assert!(!is_print('\t'));
        assert!(!is_print('\x7f'));
        assert!(!is_print('\u{a0}'));
        assert!(!is_print('\u{feff}'));
        assert!(!is_print('\u{200b}'));
        assert!(is_print('é'));
        assert!(is_print('\u{fffd}'));
        assert!(is_print('世'));
        assert!(!is_print('\u{e000}'));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote("a b\"c\\"), r#""a b\"c\\""#);
        assert_eq!(quote("\t\n\x00\x7f"), r#""\t\n\x00\x7f""#);
        assert_eq!(quote("\u{feff}é\u{e0001}"), r#""\ufeffé\U000e0001""#);
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('"'), "'\"'");
        assert_eq!(quote_rune('\u{a0}'), r"'\u00a0'");
    }

    #[test]
    fn unquoting() {
        let ok =
            |s: &str, want: &str| assert_eq!(unquote(s.as_bytes()).as_deref(), Ok(want), "{s}");
        ok(r#""abc""#, "abc");
        ok(r#""a\tb\x41\101\u00e9\U0001F600\"\\""#, "a\tbAAé😀\"\\");
        ok("`a\\n\rb`", "a\\nb");
        ok(r#""""#, "");
        for bad in [
            "",
            "\"",
            "\"abc",
            "\"a\"b\"",
            "\"\\q\"",
            "\"\\400\"",
            "\"\\xg0\"",
            "\"\\ud800\"",
            "\"a\nb\"",
            "'a'",
            "`a`b`",
            "`a",
            "\"\\'\"",
            "abc",
        ] {
            assert_eq!(unquote(bad.as_bytes()), Err(SYNTAX_ERROR), "{bad:?}");
        }
        assert_eq!(unquote(b"\"\xff\"").as_deref(), Ok("\u{fffd}"));
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_rune(b"a"), ('a', 1));
        assert_eq!(decode_rune("é!".as_bytes()), ('é', 2));
        assert_eq!(decode_rune(b"\xff"), ('\u{fffd}', 1));
        assert_eq!(decode_rune(b"\xe2\x82"), ('\u{fffd}', 1));
        assert_eq!(decode_rune(b"\xc0\x80"), ('\u{fffd}', 1));
        assert_eq!(decode_rune(b"\xed\xa0\x80"), ('\u{fffd}', 1));
    }
}
