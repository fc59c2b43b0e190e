//! The go.mod syntax tree, and the lexer and parser that build it.
//!
//! The syntax is line-oriented and knows nothing of directives:
//!
//! * a file is a sequence of statements separated by newlines;
//! * a statement is a [`Line`] of tokens, or a [`LineBlock`]: leading tokens,
//!   `(` at the end of a line, one [`Line`] per line, and `)` alone at the
//!   start of a line (`verb ( )` on one line is an empty block);
//! * a token is an identifier (a run of printable, non-space runes other
//!   than `( ) [ ] { } ,`), a double-quoted string with Go escapes, a
//!   backquoted raw string, or one of the punctuation runes `( ) [ ] { } ,`;
//!   a string cannot span lines, and there is no line continuation;
//! * `//` starts a comment that runs to the end of the line; `/*` is an
//!   error anywhere outside a string;
//! * spaces, tabs and carriage returns separate tokens; any other
//!   non-printable or space rune outside a string or comment is an error.
//!
//! Comments are kept and attached to the syntax (see [`Comments`]) so that
//! [`format()`](super::format()) can print the file back.

use super::quote::{decode_rune, is_print, quote_rune};
use super::Error;

/// A place in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Line number, from 1 (0 for "unknown").
    pub line: usize,
    /// Rune number within the line, from 1.
    pub line_rune: usize,
    /// Byte offset in the file, from 0.
    pub byte: usize,
}

impl Position {
    /// The position just past a one-byte punctuation token starting here.
    fn after_punct(self) -> Position {
        Position {
            line_rune: self.line_rune + 1,
            byte: self.byte + 1,
            ..self
        }
    }
}

/// One `//` comment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comment {
    /// Where the `//` is.
    pub start: Position,
    /// The comment text including the leading `//`, without the line ending
    /// (one trailing `\n` or `\r\n` is removed). An empty token stands for a
    /// blank line kept inside a block.
    pub token: String,
    /// Whether code precedes the comment on its line.
    pub suffix: bool,
}

/// The comments attached to a piece of syntax.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comments {
    /// Whole-line comments just before it.
    pub before: Vec<Comment>,
    /// End-of-line comments after it on its (last) line.
    pub suffix: Vec<Comment>,
    /// Whole-line comments after it (only on the file itself).
    pub after: Vec<Comment>,
}

/// A parsed go.mod (or go.work) file: statements and comments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSyntax {
    /// The file name used in error messages.
    pub name: String,
    /// Comments on the file as a whole.
    pub comments: Comments,
    /// The statements, in order.
    pub stmt: Vec<Stmt>,
}

/// A top-level statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// A group of whole-line comments standing on its own (separated by a
    /// blank line from what follows).
    Comments(CommentBlock),
    /// A single line of tokens.
    Line(Line),
    /// A `verb ( ... )` block.
    Block(LineBlock),
}

impl Stmt {
    /// The comments attached to the statement.
    pub fn comments(&self) -> &Comments {
        match self {
            Stmt::Comments(c) => &c.comments,
            Stmt::Line(l) => &l.comments,
            Stmt::Block(b) => &b.comments,
        }
    }

    fn comments_mut(&mut self) -> &mut Comments {
        match self {
            Stmt::Comments(c) => &mut c.comments,
            Stmt::Line(l) => &mut l.comments,
            Stmt::Block(b) => &mut b.comments,
        }
    }
}

/// Whole-line comments that belong to no statement; they are all in
/// `comments.before`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommentBlock {
    pub comments: Comments,
    pub start: Position,
}

/// A line of tokens, at top level or inside a block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    pub comments: Comments,
    /// Where the first token starts.
    pub start: Position,
    /// The tokens as written (quoted strings keep their quotes). Parsing a
    /// file into a [`File`](super::File) rewrites some of them into
    /// canonical form (unquoted when no quotes are needed, canonical
    /// versions), which is what [`format()`](super::format()) then prints.
    pub token: Vec<String>,
    /// Whether the line is inside a block (its verb is then the block's).
    pub in_block: bool,
    /// Where the last token ends (punctuation that is not the first token
    /// may end past it).
    pub end: Position,
}

/// A factored block: `verb args (`, lines, `)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineBlock {
    pub comments: Comments,
    pub start: Position,
    /// Holds the end-of-line comment after `(`.
    pub lparen: Paren,
    /// The tokens before `(`.
    pub token: Vec<String>,
    pub line: Vec<Line>,
    /// Holds the whole-line comments before `)` and the end-of-line comment
    /// after it.
    pub rparen: Paren,
}

/// The opening or closing parenthesis of a block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paren {
    pub comments: Comments,
    pub pos: Position,
}

/// Which line of a [`FileSyntax`] a directive came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRef {
    /// Index into [`FileSyntax::stmt`].
    pub stmt: usize,
    /// For a line inside a block, its index in [`LineBlock::line`].
    pub line: Option<usize>,
}

impl FileSyntax {
    /// The line `r` refers to. Panics if `r` did not come from this file.
    pub fn line(&self, r: LineRef) -> &Line {
        match (&self.stmt[r.stmt], r.line) {
            (Stmt::Line(l), None) => l,
            (Stmt::Block(b), Some(i)) => &b.line[i],
            _ => panic!("LineRef {r:?} does not name a line of this file"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    /// A comment with code before it on its line.
    EolComment,
    /// A comment alone on its line.
    Comment,
    Ident,
    Str,
    Newline,
    /// One of `( ) [ ] { } ,`.
    Punct(u8),
}

impl Kind {
    fn is_eol(self) -> bool {
        matches!(self, Kind::Eof | Kind::EolComment | Kind::Newline)
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    pos: Position,
    end: Position,
    text: String,
}

/// Lexer and parser state. The lexer keeps one token of lookahead in
/// `next`; error positions are wherever the lexer is when the error is
/// found, which is what the go command reports.
struct Parser<'a> {
    filename: &'a str,
    data: &'a [u8],
    pos: Position,
    next: Token,
    /// End-of-line comments, attached to the tree after parsing.
    suffix_comments: Vec<Comment>,
    stmt: Vec<Stmt>,
}

/// Whether `c` can be part of an identifier: printable, not a space, and not
/// one of the punctuation runes.
fn is_ident(c: char) -> bool {
    !matches!(c, ' ' | '(' | ')' | '[' | ']' | '{' | '}' | ',') && !c.is_whitespace() && is_print(c)
}

impl<'a> Parser<'a> {
    fn error(&self, msg: impl Into<String>) -> Error {
        Error {
            filename: self.filename.to_string(),
            pos: self.pos,
            verb: String::new(),
            mod_path: String::new(),
            message: msg.into(),
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.byte..]
    }

    fn peek_rune(&self) -> Option<char> {
        let rest = self.rest();
        (!rest.is_empty()).then(|| decode_rune(rest).0)
    }

    fn read_rune(&mut self) -> char {
        let (c, n) = decode_rune(self.rest());
        self.pos.byte += n;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.line_rune = 1;
        } else {
            self.pos.line_rune += 1;
        }
        c
    }

    fn token(&self, kind: Kind, start: Position) -> Token {
        let mut bytes = &self.data[start.byte..self.pos.byte];
        if matches!(kind, Kind::Comment | Kind::EolComment) {
            bytes = bytes
                .strip_suffix(b"\r\n")
                .or_else(|| bytes.strip_suffix(b"\n"))
                .unwrap_or(bytes);
        }
        Token {
            kind,
            pos: start,
            end: self.pos,
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// Returns the lookahead token and reads the one after it.
    fn lex(&mut self) -> Result<Token, Error> {
        let next = self.read_token()?;
        Ok(std::mem::replace(&mut self.next, next))
    }

    fn peek(&self) -> Kind {
        self.next.kind
    }

    fn read_token(&mut self) -> Result<Token, Error> {
        // Skip blanks; a comment is a token of its own.
        while let Some(c) = self.peek_rune() {
            if matches!(c, ' ' | '\t' | '\r') {
                self.read_rune();
                continue;
            }
            if self.rest().starts_with(b"//") {
                let start = self.pos;
                let line_start = self.data[..start.byte]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let before = String::from_utf8_lossy(&self.data[line_start..start.byte]);
                let suffix = !before.trim().is_empty();
                while !self.rest().is_empty() && self.read_rune() != '\n' {}
                if !suffix {
                    return Ok(self.token(Kind::Comment, start));
                }
                let tok = self.token(Kind::EolComment, start);
                self.suffix_comments.push(Comment {
                    start,
                    token: tok.text.clone(),
                    suffix: true,
                });
                return Ok(tok);
            }
            if self.rest().starts_with(b"/*") {
                return Err(self.error("mod files must use // comments (not /* */ comments)"));
            }
            break;
        }

        let start = self.pos;
        let Some(c) = self.peek_rune() else {
            return Ok(self.token(Kind::Eof, start));
        };
        match c {
            '\n' => {
                self.read_rune();
                return Ok(self.token(Kind::Newline, start));
            }
            '(' | ')' | '[' | ']' | '{' | '}' | ',' => {
                self.read_rune();
                return Ok(self.token(Kind::Punct(c as u8), start));
            }
            '"' | '`' => {
                self.read_rune();
                loop {
                    let Some(d) = self.peek_rune() else {
                        self.pos = start;
                        return Err(self.error("unexpected EOF in string"));
                    };
                    if d == '\n' {
                        return Err(self.error("unexpected newline in string"));
                    }
                    self.read_rune();
                    if d == c {
                        break;
                    }
                    if d == '\\' && c == '"' {
                        if self.rest().is_empty() {
                            self.pos = start;
                            return Err(self.error("unexpected EOF in string"));
                        }
                        self.read_rune();
                    }
                }
                return Ok(self.token(Kind::Str, start));
            }
            _ => {}
        }
        if !is_ident(c) {
            return Err(self.error(format!("unexpected input character {}", quote_rune(c))));
        }
        while let Some(c) = self.peek_rune() {
            if !is_ident(c) || self.rest().starts_with(b"//") {
                break;
            }
            if self.rest().starts_with(b"/*") {
                return Err(self.error("mod files must use // comments (not /* */ comments)"));
            }
            self.read_rune();
        }
        Ok(self.token(Kind::Ident, start))
    }

    fn parse_file(&mut self) -> Result<(), Error> {
        // Whole-line comments gathered since the last blank line.
        let mut pending: Option<CommentBlock> = None;
        loop {
            match self.peek() {
                Kind::Newline => {
                    self.lex()?;
                    if let Some(cb) = pending.take() {
                        self.stmt.push(Stmt::Comments(cb));
                    }
                }
                Kind::Comment => {
                    let tok = self.lex()?;
                    let cb = pending.get_or_insert_with(|| CommentBlock {
                        comments: Comments::default(),
                        start: tok.pos,
                    });
                    cb.comments.before.push(Comment {
                        start: tok.pos,
                        token: tok.text,
                        suffix: false,
                    });
                }
                Kind::Eof => {
                    if let Some(cb) = pending.take() {
                        self.stmt.push(Stmt::Comments(cb));
                    }
                    return Ok(());
                }
                _ => {
                    self.parse_stmt()?;
                    if let Some(cb) = pending.take() {
                        let last = self.stmt.last_mut().expect("parse_stmt adds a statement");
                        last.comments_mut().before = cb.comments.before;
                    }
                }
            }
        }
    }

    fn parse_stmt(&mut self) -> Result<(), Error> {
        let first = self.lex()?;
        let start = first.pos;
        let mut end = first.end;
        let mut tokens = vec![first.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.is_eol() {
                self.stmt.push(Stmt::Line(Line {
                    comments: Comments::default(),
                    start,
                    token: tokens,
                    in_block: false,
                    end,
                }));
                return Ok(());
            }
            if tok.kind == Kind::Punct(b'(') {
                if self.peek().is_eol() {
                    let block = self.parse_line_block(start, tokens, tok.pos)?;
                    self.stmt.push(Stmt::Block(block));
                    return Ok(());
                }
                if self.peek() == Kind::Punct(b')') {
                    let rparen = self.lex()?;
                    if self.peek().is_eol() {
                        // `verb ( )`: an empty block.
                        self.lex()?;
                        self.stmt.push(Stmt::Block(LineBlock {
                            start,
                            token: tokens,
                            lparen: Paren {
                                comments: Comments::default(),
                                pos: tok.pos,
                            },
                            rparen: Paren {
                                comments: Comments::default(),
                                pos: rparen.pos,
                            },
                            ..LineBlock::default()
                        }));
                        return Ok(());
                    }
                    // `( )` in the middle of a line is just two tokens.
                    tokens.push(tok.text);
                    tokens.push(rparen.text);
                } else {
                    // So is a `(` that does not end the line.
                    tokens.push(tok.text);
                }
                continue;
            }
            end = tok.end;
            tokens.push(tok.text);
        }
    }

    fn parse_line_block(
        &mut self,
        start: Position,
        token: Vec<String>,
        lparen: Position,
    ) -> Result<LineBlock, Error> {
        let mut block = LineBlock {
            start,
            token,
            lparen: Paren {
                comments: Comments::default(),
                pos: lparen,
            },
            ..LineBlock::default()
        };
        let mut comments: Vec<Comment> = Vec::new();
        loop {
            match self.peek() {
                Kind::EolComment => {
                    // Attached later, with the other end-of-line comments.
                    self.lex()?;
                }
                Kind::Newline => {
                    // A blank line is kept as an empty comment, but only one
                    // in a row, and not at the top of the block.
                    self.lex()?;
                    let keep = match comments.last() {
                        None => !block.line.is_empty(),
                        Some(c) => !c.token.is_empty(),
                    };
                    if keep {
                        comments.push(Comment::default());
                    }
                }
                Kind::Comment => {
                    let tok = self.lex()?;
                    comments.push(Comment {
                        start: tok.pos,
                        token: tok.text,
                        suffix: false,
                    });
                }
                Kind::Eof => {
                    return Err(self.error(format!(
                        "syntax error (unterminated block started at {}:{}:{})",
                        self.filename, block.start.line, block.start.line_rune
                    )));
                }
                Kind::Punct(b')') => {
                    let rparen = self.lex()?;
                    // A blank line just before `)` is not kept.
                    if comments.len() == 1 && comments[0] == Comment::default() {
                        comments.clear();
                    }
                    block.rparen.comments.before = comments;
                    block.rparen.pos = rparen.pos;
                    if !self.peek().is_eol() {
                        return Err(
                            self.error("syntax error (expected newline after closing paren)")
                        );
                    }
                    self.lex()?;
                    return Ok(block);
                }
                _ => {
                    let mut line = self.parse_line()?;
                    line.comments.before = std::mem::take(&mut comments);
                    block.line.push(line);
                }
            }
        }
    }

    /// A line inside a block: every token up to the end of the line.
    fn parse_line(&mut self) -> Result<Line, Error> {
        let first = self.lex()?;
        let start = first.pos;
        let mut end = first.end;
        let mut tokens = vec![first.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.is_eol() {
                return Ok(Line {
                    comments: Comments::default(),
                    start,
                    token: tokens,
                    in_block: true,
                    end,
                });
            }
            end = tok.end;
            tokens.push(tok.text);
        }
    }
}

/// Which piece of the tree a suffix comment may attach to.
#[derive(Debug, Clone, Copy)]
enum Node {
    Stmt(usize),
    LParen(usize),
    BlockLine(usize, usize),
    RParen(usize),
}

impl FileSyntax {
    fn node_span(&self, n: Node) -> (Position, Position) {
        let block = |i: usize| match &self.stmt[i] {
            Stmt::Block(b) => b,
            _ => unreachable!("node refers to a block"),
        };
        match n {
            Node::Stmt(i) => match &self.stmt[i] {
                Stmt::Comments(c) => (c.start, c.start),
                Stmt::Line(l) => (l.start, l.end),
                Stmt::Block(b) => (b.start, b.rparen.pos.after_punct()),
            },
            Node::LParen(i) => (block(i).lparen.pos, block(i).lparen.pos.after_punct()),
            Node::RParen(i) => (block(i).rparen.pos, block(i).rparen.pos.after_punct()),
            Node::BlockLine(i, j) => (block(i).line[j].start, block(i).line[j].end),
        }
    }

    fn node_comments(&mut self, n: Node) -> &mut Comments {
        match n {
            Node::Stmt(i) => self.stmt[i].comments_mut(),
            Node::LParen(i) | Node::RParen(i) | Node::BlockLine(i, _) => {
                let Stmt::Block(b) = &mut self.stmt[i] else {
                    unreachable!("node refers to a block")
                };
                match n {
                    Node::LParen(_) => &mut b.lparen.comments,
                    Node::RParen(_) => &mut b.rparen.comments,
                    Node::BlockLine(_, j) => &mut b.line[j].comments,
                    Node::Stmt(_) => unreachable!(),
                }
            }
        }
    }

    /// Attaches each end-of-line comment to the last piece of syntax that
    /// ends before it on the same line: a line, a parenthesis, an empty
    /// one-line block. Pieces spanning several lines (blocks) take none, so
    /// a comment after `)` goes to the `)`. Comments that fit nowhere go to
    /// the file.
    fn attach_suffix_comments(&mut self, mut pending: Vec<Comment>) {
        let mut post = Vec::new();
        for (i, s) in self.stmt.iter().enumerate() {
            if let Stmt::Block(b) = s {
                post.push(Node::LParen(i));
                post.extend((0..b.line.len()).map(|j| Node::BlockLine(i, j)));
                post.push(Node::RParen(i));
            }
            post.push(Node::Stmt(i));
        }
        for &n in post.iter().rev() {
            let (start, end) = self.node_span(n);
            if start.line != end.line {
                continue;
            }
            let mut taken = Vec::new();
            while let Some(c) = pending.last() {
                if end.byte > c.start.byte {
                    break;
                }
                taken.push(pending.pop().expect("checked"));
            }
            if !taken.is_empty() {
                taken.reverse();
                let suffix = &mut self.node_comments(n).suffix;
                taken.append(suffix);
                *suffix = taken;
            }
        }
        self.comments.before.extend(pending);
    }
}

/// Parses the syntax of a go.mod or go.work file without interpreting any
/// directive. `filename` is only used in error messages.
///
/// # Errors
///
/// The first lexical or syntax error: a non-printable or space rune outside
/// strings and comments, `/*`, an unterminated string, an unterminated block,
/// or text after a block's `)`.
pub fn parse_syntax(filename: &str, data: &[u8]) -> Result<FileSyntax, Error> {
    let mut p = Parser {
        filename,
        data,
        pos: Position {
            line: 1,
            line_rune: 1,
            byte: 0,
        },
        next: Token {
            kind: Kind::Eof,
            pos: Position::default(),
            end: Position::default(),
            text: String::new(),
        },
        suffix_comments: Vec::new(),
        stmt: Vec::new(),
    };
    p.next = p.read_token()?;
    p.parse_file()?;
    let mut file = FileSyntax {
        name: filename.to_string(),
        comments: Comments::default(),
        stmt: std::mem::take(&mut p.stmt),
    };
    file.attach_suffix_comments(std::mem::take(&mut p.suffix_comments));
    Ok(file)
}
