//! The go.mod printer: the standard formatting `go mod edit -fmt` produces.

use super::syntax::{Comment, Comments, FileSyntax, Line, LineBlock, Stmt};

/// Prints `file` in standard format.
///
/// The rules: one statement per line, tokens separated by one space except
/// inside `( )`, `[ ]`, `{ }` and before `,`; block lines indented by one tab;
/// a block's `(` ends its first line and its `)` stands alone; whole-line
/// comments before the syntax they are attached to, end-of-line comments after
/// it, each trimmed of surrounding space; a blank line between top-level
/// statements; blank lines inside blocks kept (one at most); no trailing
/// spaces, no two blank lines in a row, no blank line at the top, and the
/// output ends with exactly one newline (or is empty).
pub fn format(file: &FileSyntax) -> Vec<u8> {
    let mut p = Printer::default();
    p.file(file);
    let mut out = p.out.into_bytes();
    while out.ends_with(b"\n") && (out.len() == 1 || out.ends_with(b"\n\n")) {
        out.pop();
    }
    out
}

#[derive(Default)]
struct Printer {
    out: String,
    /// End-of-line comments waiting for the end of the current line.
    pending: Vec<Comment>,
    /// Indentation, in tabs.
    margin: usize,
}

impl Printer {
    /// How many bytes are on the current line so far.
    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn trim(&mut self) {
        let n = self.out.trim_end_matches([' ', '\t']).len();
        self.out.truncate(n);
    }

    fn indent(&mut self) {
        for _ in 0..self.margin {
            self.out.push('\t');
        }
    }

    /// Ends the current line (flushing pending end-of-line comments) and
    /// indents the next one; never leaves two blank lines in a row or a
    /// blank first line.
    fn newline(&mut self) {
        if !self.pending.is_empty() {
            self.out.push(' ');
            for (i, c) in std::mem::take(&mut self.pending).iter().enumerate() {
                if i > 0 {
                    self.trim();
                    self.out.push('\n');
                    self.indent();
                }
                self.out.push_str(c.token.trim());
            }
        }
        self.trim();
        if !(self.out.is_empty() || self.out.ends_with("\n\n")) {
            self.out.push('\n');
        }
        self.indent();
    }

    fn file(&mut self, f: &FileSyntax) {
        for c in &f.comments.before {
            self.out.push_str(c.token.trim());
            self.newline();
        }
        for (i, stmt) in f.stmt.iter().enumerate() {
            match stmt {
                Stmt::Comments(cb) => {
                    self.comments_before(&cb.comments);
                    self.queue_suffix(&cb.comments);
                }
                Stmt::Line(l) => {
                    self.line(l);
                    self.newline();
                }
                Stmt::Block(b) => {
                    self.block(b);
                    self.newline();
                }
            }
            for c in &stmt.comments().after {
                self.out.push_str(c.token.trim());
                self.newline();
            }
            if i + 1 < f.stmt.len() {
                self.newline();
            }
        }
    }

    /// Prints whole-line comments at the margin, on lines of their own.
    fn comments_before(&mut self, c: &Comments) {
        if c.before.is_empty() {
            return;
        }
        self.trim();
        if self.column() > 0 {
            self.out.push('\n');
        }
        self.indent();
        for com in &c.before {
            self.out.push_str(com.token.trim());
            self.newline();
        }
    }

    fn queue_suffix(&mut self, c: &Comments) {
        self.pending.extend(c.suffix.iter().cloned());
    }

    fn line(&mut self, l: &Line) {
        self.comments_before(&l.comments);
        self.tokens(&l.token);
        self.queue_suffix(&l.comments);
    }

    fn block(&mut self, b: &LineBlock) {
        self.comments_before(&b.comments);
        self.tokens(&b.token);
        self.out.push(' ');
        self.comments_before(&b.lparen.comments);
        self.out.push('(');
        self.queue_suffix(&b.lparen.comments);
        self.margin += 1;
        for l in &b.line {
            self.newline();
            self.line(l);
        }
        self.margin -= 1;
        self.newline();
        self.comments_before(&b.rparen.comments);
        self.out.push(')');
        self.queue_suffix(&b.rparen.comments);
        self.queue_suffix(&b.comments);
    }

    fn tokens(&mut self, tokens: &[String]) {
        let mut sep = "";
        for t in tokens {
            if matches!(t.as_str(), "," | ")" | "]" | "}") {
                sep = "";
            }
            self.out.push_str(sep);
            self.out.push_str(t);
            sep = if matches!(t.as_str(), "(" | "[" | "{") {
                ""
            } else {
                " "
            };
        }
    }
}
