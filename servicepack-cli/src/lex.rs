//! Just enough of a Rust lexer for [`crate::scan`]: identifiers, punctuation and string
//! literals with their line numbers. Comments and whitespace are dropped; numbers, chars,
//! byte strings and lifetimes become [`Kind::Other`], so that nothing inside them is ever
//! mistaken for code.

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub(crate) kind: Kind,
    /// 1-based line where it starts.
    pub(crate) line: usize,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An identifier or keyword (`r#` removed).
    Ident(String),
    /// One punctuation character: `::` is two `:`.
    Punct(char),
    /// A string or raw string literal, unescaped.
    Str(String),
    /// Numbers, chars, byte strings, lifetimes: present, but never looked into.
    Other,
}

/// Rust source to tokens, leaving out whitespace and comments.
pub(crate) fn lex(text: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
    };
    let mut tokens = Vec::new();
    while let Some(c) = lexer.peek(0) {
        let line = lexer.line;
        let kind = if c.is_whitespace() {
            lexer.bump();
            continue;
        } else if c == '/' && lexer.peek(1) == Some('/') {
            lexer.skip_while(|c| c != '\n');
            continue;
        } else if c == '/' && lexer.peek(1) == Some('*') {
            lexer.skip_block_comment();
            continue;
        } else if let Some(len) = raw_string_prefix(&lexer.chars[lexer.i..]) {
            lexer.raw_string(len)
        } else if c == '"' || (matches!(c, 'b' | 'c') && lexer.peek(1) == Some('"')) {
            lexer.string()
        } else if c == '\'' || (c == 'b' && lexer.peek(1) == Some('\'')) {
            lexer.char_or_lifetime()
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && lexer.peek(1) == Some('#') {
                lexer.i += 2;
            }
            Kind::Ident(lexer.take_while(|c| c.is_alphanumeric() || c == '_'))
        } else if c.is_ascii_digit() {
            lexer.skip_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
            Kind::Other
        } else {
            lexer.bump();
            Kind::Punct(c)
        };
        tokens.push(Token { kind, line });
    }
    tokens
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        self.line += usize::from(c == '\n');
        Some(c)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek(0).filter(|&c| keep(c)) {
            self.bump();
            out.push(c);
        }
        out
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        self.take_while(keep);
    }

    fn skip_block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.i += 2;
            } else if c == '*' && self.peek(1) == Some('/') {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// `r#"..."#` and friends; `prefix` is the length up to and including the quote.
    fn raw_string(&mut self, prefix: usize) -> Kind {
        let is_str = self.peek(0) == Some('r');
        let hashes = self.chars[self.i..self.i + prefix]
            .iter()
            .filter(|&&c| c == '#')
            .count();
        self.i += prefix;
        let mut content = String::new();
        while let Some(c) = self.bump() {
            if c == '"' && (1..=hashes).all(|k| self.peek(k - 1) == Some('#')) {
                self.i += hashes;
                break;
            }
            content.push(c);
        }
        if is_str {
            Kind::Str(content)
        } else {
            Kind::Other
        }
    }

    /// `"..."`, `b"..."`, `c"..."`, with escapes.
    fn string(&mut self) -> Kind {
        let is_str = self.bump() == Some('"');
        if !is_str {
            self.bump();
        }
        let mut content = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => content.push(match self.bump() {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(other) => other,
                    None => break,
                }),
                c => content.push(c),
            }
        }
        if is_str {
            Kind::Str(content)
        } else {
            Kind::Other
        }
    }

    /// `'x'`, `'\n'`, `b'x'`, or a lifetime or label `'a`.
    fn char_or_lifetime(&mut self) -> Kind {
        if self.peek(0) == Some('b') {
            self.bump();
        }
        self.bump();
        if self.peek(0) == Some('\\') {
            self.i += 2;
            self.skip_while(|c| c != '\'');
            self.bump();
        } else if self.peek(1) == Some('\'') {
            self.i += 2;
        } else {
            self.skip_while(|c| c.is_alphanumeric() || c == '_');
        }
        Kind::Other
    }
}

/// The length of `r"`, `r#"`, `br##"`, `cr"`… at the start of `chars`, if it opens a raw
/// string.
fn raw_string_prefix(chars: &[char]) -> Option<usize> {
    let mut i = match chars {
        ['r', ..] => 1,
        ['b' | 'c', 'r', ..] => 2,
        _ => return None,
    };
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    (chars.get(i) == Some(&'"')).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        lex(text).into_iter().map(|t| t.kind).collect()
    }

    fn ident(s: &str) -> Kind {
        Kind::Ident(s.to_owned())
    }

    #[test]
    fn literals_hide_their_content() {
        assert_eq!(
            kinds(r##"a "x\"y" r#"z"# b"q" '\'' 'c' 1.5e3 r#type"##),
            [
                ident("a"),
                Kind::Str("x\"y".into()),
                Kind::Str("z".into()),
                Kind::Other,
                Kind::Other,
                Kind::Other,
                Kind::Other,
                ident("type"),
            ]
        );
    }

    #[test]
    fn lifetimes_are_not_chars() {
        assert_eq!(
            kinds("<'a> 'outer: loop"),
            [
                Kind::Punct('<'),
                Kind::Other,
                Kind::Punct('>'),
                Kind::Other,
                Kind::Punct(':'),
                ident("loop"),
            ]
        );
    }

    #[test]
    fn comments_vanish_and_lines_count() {
        let tokens = lex("a // b\n/* c\n /* d */ e */ f\n\"g\nh\" i");
        let seen: Vec<(Kind, usize)> = tokens.into_iter().map(|t| (t.kind, t.line)).collect();
        assert_eq!(
            seen,
            [
                (ident("a"), 1),
                (ident("f"), 3),
                (Kind::Str("g\nh".into()), 4),
                (ident("i"), 5),
            ]
        );
    }
}
