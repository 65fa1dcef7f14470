//! InfluxQL scanner with InfluxDB 1.x's exact tokenisation and position rules.
//!
//! Positions are 0-based (line, char) counted in Unicode scalar values, like 1.x; `\r\n` and a
//! lone `\r` count as one newline. A NUL character reads as end of input (1.x quirk).

/// A position in the query text (0-based; errors print them 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub char: usize,
}

/// Token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Illegal,
    Eof,
    Ws,
    Comment,
    Ident,
    BoundParam,
    Number,
    Integer,
    DurationVal,
    Str,
    BadString,
    BadEscape,
    True,
    False,
    Regex,
    BadRegex,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
    Eq,
    Neq,
    EqRegex,
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
    LParen,
    RParen,
    Comma,
    Colon,
    DoubleColon,
    Semicolon,
    Dot,
    /// A keyword, by its upper-case spelling.
    Kw(&'static str),
}

/// 1.x keywords (besides AND, OR, TRUE, FALSE), sorted.
pub(crate) const KEYWORDS: &[&str] = &[
    "ALL", "ALTER", "ANALYZE", "ANY", "AS", "ASC", "BEGIN", "BY", "CARDINALITY", "CONTINUOUS",
    "CREATE", "DATABASE", "DATABASES", "DEFAULT", "DELETE", "DESC", "DESTINATIONS", "DIAGNOSTICS",
    "DISTINCT", "DROP", "DURATION", "END", "EVERY", "EXACT", "EXPLAIN", "FIELD", "FOR", "FROM",
    "GRANT", "GRANTS", "GROUP", "GROUPS", "IN", "INF", "INSERT", "INTO", "KEY", "KEYS", "KILL",
    "LIMIT", "MEASUREMENT", "MEASUREMENTS", "NAME", "OFFSET", "ON", "ORDER", "PASSWORD",
    "POLICIES", "POLICY", "PRIVILEGES", "QUERIES", "QUERY", "READ", "REPLICATION", "RESAMPLE",
    "RETENTION", "REVOKE", "SELECT", "SERIES", "SET", "SHARD", "SHARDS", "SHOW", "SLIMIT",
    "SOFFSET", "STATS", "SUBSCRIPTION", "SUBSCRIPTIONS", "TAG", "TO", "USER", "USERS", "VALUES",
    "WHERE", "WITH", "WRITE",
];

impl Tok {
    /// 1.x's `Token.String()` (empty for kinds 1.x has no name for).
    pub(crate) fn name(&self) -> &'static str {
        use Tok::*;
        match self {
            Illegal => "ILLEGAL",
            Eof => "EOF",
            Ws => "WS",
            Comment | BoundParam | Integer | BadRegex => "",
            Ident => "IDENT",
            Number => "NUMBER",
            DurationVal => "DURATIONVAL",
            Str => "STRING",
            BadString => "BADSTRING",
            BadEscape => "BADESCAPE",
            True => "TRUE",
            False => "FALSE",
            Regex => "REGEX",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            And => "AND",
            Or => "OR",
            Eq => "=",
            Neq => "!=",
            EqRegex => "=~",
            NeqRegex => "!~",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            LParen => "(",
            RParen => ")",
            Comma => ",",
            Colon => ":",
            DoubleColon => "::",
            Semicolon => ";",
            Dot => ".",
            Kw(k) => k,
        }
    }

    pub(crate) fn is_operator(&self) -> bool {
        use Tok::*;
        matches!(
            self,
            Add | Sub | Mul | Div | Mod | BitAnd | BitOr | BitXor | And | Or | Eq | Neq | EqRegex
                | NeqRegex | Lt | Lte | Gt | Gte
        )
    }
}

/// 1.x `Lookup`: keyword token for an identifier (case-insensitive), else `Ident`.
pub(crate) fn lookup(ident: &str) -> Tok {
    if ident.len() > 13 || !ident.is_ascii() {
        return Tok::Ident;
    }
    let up = ident.to_ascii_uppercase();
    match up.as_str() {
        "AND" => return Tok::And,
        "OR" => return Tok::Or,
        "TRUE" => return Tok::True,
        "FALSE" => return Tok::False,
        _ => {}
    }
    match KEYWORDS.binary_search(&up.as_str()) {
        Ok(i) => Tok::Kw(KEYWORDS[i]),
        Err(_) => Tok::Ident,
    }
}

pub(crate) const EOF_CH: char = '\0';

pub(crate) fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\n'
}
pub(crate) fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
}
pub(crate) fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}
pub(crate) fn is_ident_char(c: char) -> bool {
    is_letter(c) || is_digit(c) || c == '_'
}
pub(crate) fn is_ident_first_char(c: char) -> bool {
    is_letter(c) || c == '_'
}

/// Character reader: a linear stream with unread, reading NUL forever past the end.
pub(crate) struct Reader {
    chars: Vec<char>,
    /// Index of the first character of each line.
    line_starts: Vec<usize>,
    /// Index of the next character to read (may exceed `chars.len()` after EOF reads).
    idx: usize,
}

impl Reader {
    pub(crate) fn new(text: &str) -> Reader {
        let mut chars = Vec::with_capacity(text.len());
        let mut line_starts = vec![0];
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            if c == EOF_CH {
                // 1.x reads NUL as end of input (and positions stop advancing there).
                break;
            }
            let c = if c == '\r' {
                if it.peek() == Some(&'\n') {
                    it.next();
                }
                '\n'
            } else {
                c
            };
            chars.push(c);
            if c == '\n' {
                line_starts.push(chars.len());
            }
        }
        Reader { chars, line_starts, idx: 0 }
    }

    fn pos_of(&self, i: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= i).saturating_sub(1);
        Pos { line, char: i - self.line_starts[line] }
    }

    fn at(&self, i: usize) -> (char, Pos) {
        let len = self.chars.len();
        if i < len {
            (self.chars[i], self.pos_of(i))
        } else if i == len {
            (EOF_CH, self.pos_of(len))
        } else {
            // 1.x: reads after the first EOF report one character further.
            let p = self.pos_of(len);
            (EOF_CH, Pos { line: p.line, char: p.char + 1 })
        }
    }

    pub(crate) fn read(&mut self) -> (char, Pos) {
        let r = self.at(self.idx);
        // Every index past `len` reads the same; keep the index bounded.
        if self.idx <= self.chars.len() + 4 {
            self.idx += 1;
        }
        r
    }

    pub(crate) fn unread(&mut self) {
        if self.idx > 0 {
            self.idx -= 1;
        }
    }

    /// The last character read (after unreads: the one before the next to read).
    pub(crate) fn curr(&self) -> (char, Pos) {
        if self.idx == 0 {
            (EOF_CH, Pos::default())
        } else {
            self.at(self.idx - 1)
        }
    }

    /// 1.x `ReadRune` on the reader: NUL means EOF.
    fn read_rune(&mut self) -> Option<char> {
        let (c, _) = self.read();
        if c == EOF_CH {
            None
        } else {
            Some(c)
        }
    }
}

#[derive(Debug, PartialEq)]
enum StrErr {
    Bad,
    BadEscape,
}

pub(crate) struct Scanner {
    pub(crate) r: Reader,
}

pub(crate) type Token = (Tok, Pos, String);

impl Scanner {
    pub(crate) fn new(text: &str) -> Scanner {
        Scanner { r: Reader::new(text) }
    }

    pub(crate) fn scan(&mut self) -> Token {
        let (ch0, pos) = self.r.read();
        if is_whitespace(ch0) {
            return self.scan_whitespace();
        } else if is_letter(ch0) || ch0 == '_' {
            self.r.unread();
            return self.scan_ident(true);
        } else if is_digit(ch0) {
            return self.scan_number();
        }
        let simple = |t: Tok| (t, pos, String::new());
        match ch0 {
            EOF_CH => simple(Tok::Eof),
            '"' => {
                self.r.unread();
                self.scan_ident(true)
            }
            '\'' => self.scan_string(),
            '.' => {
                let (ch1, _) = self.r.read();
                self.r.unread();
                if is_digit(ch1) {
                    return self.scan_number();
                }
                simple(Tok::Dot)
            }
            '$' => {
                let (tok, _, lit) = self.scan_ident(false);
                if tok != Tok::Ident {
                    return (tok, pos, format!("${}", lit));
                }
                (Tok::BoundParam, pos, format!("${}", lit))
            }
            '+' => simple(Tok::Add),
            '-' => {
                let (ch1, _) = self.r.read();
                if ch1 == '-' {
                    self.skip_until_newline();
                    return simple(Tok::Comment);
                }
                self.r.unread();
                simple(Tok::Sub)
            }
            '*' => simple(Tok::Mul),
            '/' => {
                let (ch1, _) = self.r.read();
                if ch1 == '*' {
                    if !self.skip_until_end_comment() {
                        return simple(Tok::Illegal);
                    }
                    return simple(Tok::Comment);
                }
                self.r.unread();
                simple(Tok::Div)
            }
            '%' => simple(Tok::Mod),
            '&' => simple(Tok::BitAnd),
            '|' => simple(Tok::BitOr),
            '^' => simple(Tok::BitXor),
            '=' => {
                let (ch1, _) = self.r.read();
                if ch1 == '~' {
                    return simple(Tok::EqRegex);
                }
                self.r.unread();
                simple(Tok::Eq)
            }
            '!' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Neq);
                } else if ch1 == '~' {
                    return simple(Tok::NeqRegex);
                }
                self.r.unread();
                (Tok::Illegal, pos, "!".to_string())
            }
            '>' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Gte);
                }
                self.r.unread();
                simple(Tok::Gt)
            }
            '<' => {
                let (ch1, _) = self.r.read();
                if ch1 == '=' {
                    return simple(Tok::Lte);
                } else if ch1 == '>' {
                    return simple(Tok::Neq);
                }
                self.r.unread();
                simple(Tok::Lt)
            }
            '(' => simple(Tok::LParen),
            ')' => simple(Tok::RParen),
            ',' => simple(Tok::Comma),
            ';' => simple(Tok::Semicolon),
            ':' => {
                let (ch1, _) = self.r.read();
                if ch1 == ':' {
                    return simple(Tok::DoubleColon);
                }
                self.r.unread();
                simple(Tok::Colon)
            }
            other => (Tok::Illegal, pos, other.to_string()),
        }
    }

    fn scan_whitespace(&mut self) -> Token {
        let (ch, pos) = self.r.curr();
        let mut buf = String::new();
        buf.push(ch);
        loop {
            let (c, _) = self.r.read();
            if c == EOF_CH {
                break;
            } else if !is_whitespace(c) {
                self.r.unread();
                break;
            }
            buf.push(c);
        }
        (Tok::Ws, pos, buf)
    }

    fn skip_until_newline(&mut self) {
        loop {
            let (c, _) = self.r.read();
            if c == '\n' || c == EOF_CH {
                return;
            }
        }
    }

    /// Returns false on EOF before `*/`.
    fn skip_until_end_comment(&mut self) -> bool {
        loop {
            let (c1, _) = self.r.read();
            if c1 == '*' {
                loop {
                    let (c2, _) = self.r.read();
                    if c2 == '/' {
                        return true;
                    } else if c2 == '*' {
                        continue;
                    } else if c2 == EOF_CH {
                        return false;
                    }
                    break;
                }
            } else if c1 == EOF_CH {
                return false;
            }
        }
    }

    fn scan_ident(&mut self, lookup_kw: bool) -> Token {
        let (_, pos) = self.r.read();
        self.r.unread();
        let mut buf = String::new();
        loop {
            let (c, _) = self.r.read();
            if c == EOF_CH {
                break;
            } else if c == '"' {
                let (t0, p0, l0) = self.scan_string();
                if t0 == Tok::BadString || t0 == Tok::BadEscape {
                    return (t0, p0, l0);
                }
                return (Tok::Ident, pos, l0);
            } else if is_ident_char(c) {
                self.r.unread();
                self.scan_bare_ident(&mut buf);
            } else {
                self.r.unread();
                break;
            }
        }
        if lookup_kw {
            let t = lookup(&buf);
            if t != Tok::Ident {
                return (t, pos, String::new());
            }
        }
        (Tok::Ident, pos, buf)
    }

    fn scan_bare_ident(&mut self, buf: &mut String) {
        loop {
            match self.r.read_rune() {
                None => break,
                Some(c) if !is_ident_char(c) => {
                    self.r.unread();
                    break;
                }
                Some(c) => buf.push(c),
            }
        }
    }

    fn scan_string(&mut self) -> Token {
        self.r.unread();
        let (_, pos) = self.r.curr();
        match self.read_quoted() {
            Ok(s) => (Tok::Str, pos, s),
            Err((StrErr::Bad, s)) => (Tok::BadString, pos, s),
            Err((StrErr::BadEscape, s)) => {
                let (_, p) = self.r.curr();
                (Tok::BadEscape, p, s)
            }
        }
    }

    /// 1.x `ScanString`: the first character read is the quote that also ends the string.
    fn read_quoted(&mut self) -> Result<String, (StrErr, String)> {
        let ending = match self.r.read_rune() {
            Some(c) => c,
            None => return Err((StrErr::Bad, String::new())),
        };
        let mut buf = String::new();
        loop {
            let c0 = self.r.read_rune();
            match c0 {
                Some(c) if c == ending => return Ok(buf),
                None | Some('\n') => return Err((StrErr::Bad, buf)),
                Some('\\') => {
                    let c1 = self.r.read_rune();
                    match c1 {
                        Some('n') => buf.push('\n'),
                        Some('\\') => buf.push('\\'),
                        Some('"') => buf.push('"'),
                        Some('\'') => buf.push('\''),
                        Some(o) => return Err((StrErr::BadEscape, format!("\\{}", o))),
                        None => return Err((StrErr::BadEscape, format!("\\{}", EOF_CH))),
                    }
                }
                Some(c) => buf.push(c),
            }
        }
    }

    /// 1.x `ScanRegex`: reads `/.../` starting at the next character.
    pub(crate) fn scan_regex(&mut self) -> Token {
        let (_, pos) = self.r.curr();
        match self.read_delimited() {
            Ok(s) => (Tok::Regex, pos, s),
            Err(StrErr::BadEscape) => {
                let (_, p) = self.r.curr();
                (Tok::BadEscape, p, String::new())
            }
            Err(StrErr::Bad) => (Tok::BadRegex, pos, String::new()),
        }
    }

    fn read_delimited(&mut self) -> Result<String, StrErr> {
        match self.r.read_rune() {
            Some('/') => {}
            _ => return Err(StrErr::Bad),
        }
        let mut buf = String::new();
        loop {
            let c0 = self.r.read_rune();
            match c0 {
                Some('/') => return Ok(buf),
                None => return Err(StrErr::Bad),
                Some('\n') => return Err(StrErr::Bad),
                Some('\\') => {
                    let c1 = self.r.read_rune();
                    match c1 {
                        None => return Err(StrErr::Bad),
                        Some('/') => buf.push('/'),
                        Some(_) => {
                            // escapes pass through: keep the backslash, re-read the next char
                            self.r.unread();
                            buf.push('\\');
                        }
                    }
                }
                Some(c) => buf.push(c),
            }
        }
    }

    fn scan_digits(&mut self, buf: &mut String) {
        loop {
            let (c, _) = self.r.read();
            if !is_digit(c) {
                self.r.unread();
                break;
            }
            buf.push(c);
        }
    }

    fn scan_number(&mut self) -> Token {
        let mut buf = String::new();
        let (ch, pos) = self.r.curr();
        if ch == '.' {
            let (ch1, _) = self.r.read();
            self.r.unread();
            if !is_digit(ch1) {
                return (Tok::Illegal, pos, ".".to_string());
            }
            self.r.unread();
        } else {
            self.r.unread();
        }
        self.scan_digits(&mut buf);
        let mut is_decimal = false;
        let (c0, _) = self.r.read();
        if c0 == '.' {
            is_decimal = true;
            let (c1, _) = self.r.read();
            if is_digit(c1) {
                buf.push(c0);
                buf.push(c1);
                self.scan_digits(&mut buf);
            } else {
                self.r.unread();
            }
        } else {
            self.r.unread();
        }
        if !is_decimal {
            let (c0, _) = self.r.read();
            if is_letter(c0) || c0 == 'µ' {
                buf.push(c0);
                loop {
                    let (c1, _) = self.r.read();
                    if !is_letter(c1) && c1 != 'µ' {
                        self.r.unread();
                        break;
                    }
                    buf.push(c1);
                }
                loop {
                    let (c1, _) = self.r.read();
                    if is_letter(c1) || c1 == 'µ' || is_digit(c1) {
                        buf.push(c1);
                    } else {
                        self.r.unread();
                        break;
                    }
                }
                return (Tok::DurationVal, pos, buf);
            }
            self.r.unread();
            return (Tok::Integer, pos, buf);
        }
        (Tok::Number, pos, buf)
    }
}

/// Token buffer with up to 3 unscans (1.x `bufScanner`).
pub(crate) struct BufScanner {
    pub(crate) s: Scanner,
    i: usize,
    n: usize,
    buf: [Token; 3],
}

impl BufScanner {
    pub(crate) fn new(text: &str) -> BufScanner {
        let empty = || (Tok::Eof, Pos::default(), String::new());
        BufScanner { s: Scanner::new(text), i: 0, n: 0, buf: [empty(), empty(), empty()] }
    }

    pub(crate) fn scan(&mut self, regex: bool) -> Token {
        if self.n > 0 {
            self.n -= 1;
            return self.curr();
        }
        self.i = (self.i + 1) % 3;
        self.buf[self.i] = if regex { self.s.scan_regex() } else { self.s.scan() };
        self.curr()
    }

    pub(crate) fn unscan(&mut self) {
        if self.n < 3 {
            self.n += 1;
        }
    }

    fn curr(&self) -> Token {
        self.buf[(self.i + 3 - self.n) % 3].clone()
    }

    /// 1.x `peekRune`: the next character of the underlying reader (ignores unscanned tokens).
    pub(crate) fn peek_rune(&mut self) -> char {
        let (c, _) = self.s.r.read();
        if c != EOF_CH {
            self.s.r.unread();
        }
        c
    }
}
