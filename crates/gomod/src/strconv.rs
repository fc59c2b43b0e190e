//! Go's `strconv` quoting rules, shared by error messages (module paths,
//! file names) and the go.mod printer: which runes are printable
//! (`unicode.IsPrint`) and how a string or rune is quoted (`strconv.Quote`,
//! `strconv.QuoteRune`, and the `%q` verb that uses them).

use crate::unicode_print::PRINTABLE;

/// Whether Go's `unicode.IsPrint` holds for `c`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space, and nothing else.
pub fn is_print(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (0x20..0x7f).contains(&c);
    }
    PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Appends `c` to `out` as it appears inside a Go literal quoted with
/// `quote`: the quote and backslash are escaped, printable runes stay as
/// they are, the usual control characters get their one-letter escapes and
/// everything else becomes `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
fn push_escaped(out: &mut String, c: char, quote: char) {
    use std::fmt::Write;
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\x07' => write!(out, "\\a"),
        '\x08' => write!(out, "\\b"),
        '\x0c' => write!(out, "\\f"),
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        '\x0b' => write!(out, "\\v"),
        c if c < ' ' || c == '\x7f' => write!(out, "\\x{:02x}", c as u32),
        c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32),
        c => write!(out, "\\U{:08x}", c as u32),
    };
}

/// `strconv.Quote`: `s` as a double-quoted Go string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune`: `c` as a single-quoted Go rune literal.
pub fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}
