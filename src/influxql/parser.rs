//! Recursive-descent InfluxQL parser reproducing InfluxDB 1.x's grammar, quirks and error texts.

use std::collections::HashMap;
use std::fmt;

use super::ast::*;
use super::lexer::{is_whitespace, BufScanner, Pos, Tok, Token};
use crate::rules::durations::{influxql_literal, parse_influxql};

/// Maximum nesting of parenthesised expressions / calls / subqueries.
const MAX_NESTING: usize = 100;
/// Maximum depth of an expression tree.
const MAX_EXPR_DEPTH: usize = 1000;

/// A parse error; `Display` gives 1.x's text (without the `error parsing query: ` prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Where the error was found (0-based); `None` for 1.x errors printed without a position.
    pub pos: Option<Pos>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParseErrorKind {
    /// `found X, expected A, B at line L, char C`
    Unexpected { found: String, expected: Vec<String> },
    /// Any other message.
    Message(String),
}

impl ParseError {
    fn unexpected(tok: Tok, lit: &str, expected: &[&str], pos: Pos) -> ParseError {
        ParseError {
            kind: ParseErrorKind::Unexpected {
                found: tokstr(tok, lit),
                expected: expected.iter().map(|s| s.to_string()).collect(),
            },
            pos: Some(pos),
        }
    }
    fn at(msg: impl Into<String>, pos: Pos) -> ParseError {
        ParseError { kind: ParseErrorKind::Message(msg.into()), pos: Some(pos) }
    }
    pub(crate) fn plain(msg: impl Into<String>) -> ParseError {
        ParseError { kind: ParseErrorKind::Message(msg.into()), pos: None }
    }
    /// 1-based line of the error, if it has a position.
    pub fn line(&self) -> Option<usize> {
        self.pos.map(|p| p.line + 1)
    }
    /// 1-based character of the error, if it has a position.
    pub fn char(&self) -> Option<usize> {
        self.pos.map(|p| p.char + 1)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ParseErrorKind::Unexpected { found, expected } => {
                write!(f, "found {}, expected {}", found, expected.join(", "))?;
            }
            ParseErrorKind::Message(m) => f.write_str(m)?,
        }
        if let Some(p) = self.pos {
            write!(f, " at line {}, char {}", p.line + 1, p.char + 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

fn tokstr(tok: Tok, lit: &str) -> String {
    if !lit.is_empty() {
        lit.to_string()
    } else {
        tok.name().to_string()
    }
}

/// Options for [`Parser`].
#[derive(Default, Clone, Copy)]
pub struct ParseOptions<'a> {
    /// `Some` = 1.x behaviour: `$name` tokens are substituted from this map at scan time and a
    /// missing name is an error. `None` = keep `$name` as `Expr::BindParam` where an expression
    /// is expected.
    pub params: Option<&'a HashMap<String, ParamValue>>,
    /// The machine `tz('Area/City')` names are resolved on (`rules::tz`); default: this one.
    pub zones: Option<&'a crate::rules::tz::System>,
}

#[derive(Clone, Copy, PartialEq)]
enum TargetReq {
    Required,
    NotRequired,
    Subquery,
}

pub(crate) struct Parser<'a> {
    s: BufScanner,
    opts: ParseOptions<'a>,
    nesting: usize,
}

type PResult<T> = Result<T, ParseError>;

fn param_token(v: &ParamValue) -> (Tok, String) {
    match v {
        ParamValue::String(s) => (Tok::Str, s.clone()),
        ParamValue::Integer(i) => (Tok::Integer, i.to_string()),
        ParamValue::Float(f) => (Tok::Number, format_go_float(*f)),
        ParamValue::Boolean(b) => (if *b { Tok::True } else { Tok::False }, String::new()),
        ParamValue::Identifier(s) => (Tok::Ident, s.clone()),
        ParamValue::Regex(s) => (Tok::Regex, s.clone()),
        ParamValue::Duration(s) => (Tok::DurationVal, s.clone()),
        ParamValue::Error(e) => (Tok::BoundParam, e.clone()),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
fn format_go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{}", f)
    }
}

fn is_kw(tok: Tok, kw: &str) -> bool {
    matches!(tok, Tok::Kw(k) if k == kw)
}

/// Dismantles an expression tree without recursion (for very deep trees).
fn teardown(e: Expr) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary { lhs, rhs, .. } => {
                stack.push(*lhs);
                stack.push(*rhs);
            }
            Expr::Paren(inner) => stack.push(*inner),
            Expr::Call { args, .. } => stack.extend(args),
            _ => {}
        }
    }
}

fn binop(tok: Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::BitAnd => BinaryOp::BitAnd,
        Tok::BitOr => BinaryOp::BitOr,
        Tok::BitXor => BinaryOp::BitXor,
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Neq => BinaryOp::Neq,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NeqRegex => BinaryOp::NeqRegex,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &str, opts: ParseOptions<'a>) -> Parser<'a> {
        Parser { s: BufScanner::new(text), opts, nesting: 0 }
    }

    // ---------------------------------------------------------------- token plumbing

    fn subst(&self, t: Token) -> Token {
        let (tok, pos, lit) = t;
        if tok == Tok::BoundParam {
            if let Some(params) = self.opts.params {
                let k = lit.strip_prefix('$').unwrap_or(&lit);
                if !k.is_empty() {
                    if let Some(v) = params.get(k) {
                        let (t2, l2) = param_token(v);
                        return (t2, pos, l2);
                    }
                }
            }
        }
        (tok, pos, lit)
    }

    fn scan(&mut self) -> Token {
        let t = self.s.scan(false);
        self.subst(t)
    }

    fn scan_regex(&mut self) -> Token {
        let t = self.s.scan(true);
        self.subst(t)
    }

    fn scan_ws(&mut self) -> Token {
        loop {
            let t = self.scan();
            if t.0 == Tok::Ws || t.0 == Tok::Comment {
                continue;
            }
            return t;
        }
    }

    fn unscan(&mut self) {
        self.s.unscan();
    }

    fn consume_whitespace(&mut self) {
        let (tok, _, _) = self.scan();
        if tok != Tok::Ws {
            self.unscan();
        }
    }

    fn peek_rune(&mut self) -> char {
        self.s.peek_rune()
    }

    /// Expects the keywords / tokens in order (1.x `parseTokens`).
    fn parse_tokens(&mut self, toks: &[Tok]) -> PResult<()> {
        for &want in toks {
            let (tok, pos, lit) = self.scan_ws();
            if tok != want {
                return Err(ParseError::unexpected(tok, &lit, &[want.name()], pos));
            }
        }
        Ok(())
    }

    /// Scans one token; if it is keyword `kw` returns true, otherwise unscans it.
    fn accept_kw(&mut self, kw: &str) -> bool {
        let (tok, _, _) = self.scan_ws();
        if is_kw(tok, kw) {
            true
        } else {
            self.unscan();
            false
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(ParseError::plain("query nests too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    // ---------------------------------------------------------------- query / statements

    pub(crate) fn parse_query(&mut self) -> PResult<Query> {
        let mut statements = Vec::new();
        let mut semi = true;
        loop {
            let (tok, pos, lit) = self.scan_ws();
            if tok == Tok::Eof {
                return Ok(Query { statements });
            } else if tok == Tok::Semicolon {
                semi = true;
            } else {
                if !semi {
                    return Err(ParseError::unexpected(tok, &lit, &[";"], pos));
                }
                self.unscan();
                statements.push(self.parse_statement()?);
                semi = false;
            }
        }
    }

    pub(crate) fn parse_statement(&mut self) -> PResult<Statement> {
        let (tok, pos, lit) = self.scan_ws();
        match tok {
            Tok::Kw("SELECT") => {
                Ok(Statement::Select(Box::new(self.parse_select(TargetReq::NotRequired)?)))
            }
            Tok::Kw("DELETE") => self.parse_delete(false),
            Tok::Kw("SHOW") => self.parse_show(),
            Tok::Kw("CREATE") => self.parse_create(),
            Tok::Kw("DROP") => self.parse_drop(),
            Tok::Kw("EXPLAIN") => self.parse_explain(),
            Tok::Kw("GRANT") => self.parse_grant(),
            Tok::Kw("REVOKE") => self.parse_revoke(),
            Tok::Kw("ALTER") => {
                self.expect_tree(&["RETENTION"])?;
                self.expect_tree(&["POLICY"])?;
                self.parse_alter_rp()
            }
            Tok::Kw("SET") => {
                self.expect_tree(&["PASSWORD"])?;
                self.expect_tree(&["FOR"])?;
                self.parse_set_password()
            }
            Tok::Kw("KILL") => {
                self.expect_tree(&["QUERY"])?;
                self.parse_kill_query()
            }
            _ => Err(ParseError::unexpected(
                tok,
                &lit,
                &[
                    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE",
                    "ALTER", "SET", "KILL",
                ],
                pos,
            )),
        }
    }

    /// Scans a keyword that must be one of `keys` (a parse-tree level); returns it.
    fn expect_tree(&mut self, keys: &[&'static str]) -> PResult<&'static str> {
        let (tok, pos, lit) = self.scan_ws();
        if let Tok::Kw(k) = tok {
            if let Some(found) = keys.iter().find(|x| **x == k) {
                return Ok(found);
            }
        }
        Err(ParseError::unexpected(tok, &lit, keys, pos))
    }

    fn parse_show(&mut self) -> PResult<Statement> {
        let k = self.expect_tree(&[
            "CONTINUOUS", "DATABASES", "DIAGNOSTICS", "FIELD", "GRANTS", "MEASUREMENT",
            "MEASUREMENTS", "QUERIES", "RETENTION", "SERIES", "SHARD", "SHARDS", "STATS",
            "SUBSCRIPTIONS", "TAG", "USERS",
        ])?;
        match k {
            "CONTINUOUS" => {
                self.expect_tree(&["QUERIES"])?;
                Ok(Statement::ShowContinuousQueries)
            }
            "DATABASES" => Ok(Statement::ShowDatabases),
            "DIAGNOSTICS" => Ok(Statement::ShowDiagnostics { module: self.parse_for_module()? }),
            "STATS" => Ok(Statement::ShowStats { module: self.parse_for_module()? }),
            "FIELD" => match self.expect_tree(&["KEY", "KEYS"])? {
                "KEY" => self.parse_tag_or_field_key_cardinality(CardinalityKind::FieldKey),
                _ => self.parse_show_field_keys(),
            },
            "GRANTS" => {
                self.expect_tree(&["FOR"])?;
                Ok(Statement::ShowGrants { user: self.parse_ident()? })
            }
            "MEASUREMENT" => match self.expect_tree(&["EXACT", "CARDINALITY"])? {
                "EXACT" => self.parse_show_cardinality_body(CardinalityKind::Measurement, true, true),
                _ => self.parse_show_cardinality_body(CardinalityKind::Measurement, false, false),
            },
            "MEASUREMENTS" => self.parse_show_measurements(),
            "QUERIES" => Ok(Statement::ShowQueries),
            "RETENTION" => {
                self.expect_tree(&["POLICIES"])?;
                let database = self.parse_on_db()?;
                Ok(Statement::ShowRetentionPolicies { database })
            }
            "SERIES" => self.parse_show_series(),
            "SHARD" => {
                self.expect_tree(&["GROUPS"])?;
                Ok(Statement::ShowShardGroups)
            }
            "SHARDS" => Ok(Statement::ShowShards),
            "SUBSCRIPTIONS" => Ok(Statement::ShowSubscriptions),
            "TAG" => match self.expect_tree(&["KEY", "KEYS", "VALUES"])? {
                "KEY" => self.parse_tag_or_field_key_cardinality(CardinalityKind::TagKey),
                "KEYS" => self.parse_show_tag_keys(),
                _ => self.parse_show_tag_values(),
            },
            _ => Ok(Statement::ShowUsers),
        }
    }

    fn parse_create(&mut self) -> PResult<Statement> {
        match self.expect_tree(&["CONTINUOUS", "DATABASE", "USER", "RETENTION", "SUBSCRIPTION"])? {
            "CONTINUOUS" => {
                self.expect_tree(&["QUERY"])?;
                self.parse_create_cq()
            }
            "DATABASE" => self.parse_create_database(),
            "USER" => self.parse_create_user(),
            "RETENTION" => {
                self.expect_tree(&["POLICY"])?;
                self.parse_create_rp()
            }
            _ => self.parse_create_subscription(),
        }
    }

    fn parse_drop(&mut self) -> PResult<Statement> {
        match self.expect_tree(&[
            "CONTINUOUS", "DATABASE", "MEASUREMENT", "RETENTION", "SERIES", "SHARD",
            "SUBSCRIPTION", "USER",
        ])? {
            "CONTINUOUS" => {
                self.expect_tree(&["QUERY"])?;
                let name = self.parse_ident()?;
                self.expect_kw_simple("ON")?;
                let database = self.parse_ident()?;
                Ok(Statement::DropContinuousQuery { name, database })
            }
            "DATABASE" => Ok(Statement::DropDatabase { name: self.parse_ident()? }),
            "MEASUREMENT" => Ok(Statement::DropMeasurement { name: self.parse_ident()? }),
            "RETENTION" => {
                self.expect_tree(&["POLICY"])?;
                let name = self.parse_ident()?;
                self.expect_kw_simple("ON")?;
                let database = self.parse_ident()?;
                Ok(Statement::DropRetentionPolicy { name, database })
            }
            "SERIES" => self.parse_delete(true),
            "SHARD" => Ok(Statement::DropShard { id: self.parse_uint64()? }),
            "SUBSCRIPTION" => {
                let name = self.parse_ident()?;
                self.expect_kw_simple("ON")?;
                let database = self.parse_ident()?;
                let (tok, pos, lit) = self.scan();
                if tok != Tok::Dot {
                    return Err(ParseError::unexpected(tok, &lit, &["."], pos));
                }
                let retention_policy = self.parse_ident()?;
                Ok(Statement::DropSubscription { name, database, retention_policy })
            }
            _ => Ok(Statement::DropUser { name: self.parse_ident()? }),
        }
    }

    /// Scans (ignoring whitespace) and requires keyword `kw`.
    fn expect_kw_simple(&mut self, kw: &'static str) -> PResult<()> {
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, kw) {
            return Err(ParseError::unexpected(tok, &lit, &[kw], pos));
        }
        Ok(())
    }

    fn parse_for_module(&mut self) -> PResult<Option<String>> {
        if self.accept_kw("FOR") {
            Ok(Some(self.parse_string()?))
        } else {
            Ok(None)
        }
    }

    fn parse_on_db(&mut self) -> PResult<Option<String>> {
        if self.accept_kw("ON") {
            let db = self.parse_ident()?;
            Ok(if db.is_empty() { None } else { Some(db) })
        } else {
            Ok(None)
        }
    }

    fn parse_from_opt(&mut self) -> PResult<Vec<Source>> {
        if self.accept_kw("FROM") {
            self.parse_sources(false)
        } else {
            Ok(Vec::new())
        }
    }

    // ---------------------------------------------------------------- primitives

    fn parse_ident(&mut self) -> PResult<String> {
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Ident {
            return Err(ParseError::unexpected(tok, &lit, &["identifier"], pos));
        }
        Ok(lit)
    }

    fn parse_ident_list(&mut self) -> PResult<Vec<String>> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            let (tok, _, _) = self.scan_ws();
            if tok != Tok::Comma {
                self.unscan();
                return Ok(idents);
            }
            idents.push(self.parse_ident()?);
        }
    }

    fn parse_string(&mut self) -> PResult<String> {
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Str {
            return Err(ParseError::unexpected(tok, &lit, &["string"], pos));
        }
        Ok(lit)
    }

    fn parse_string_list(&mut self) -> PResult<Vec<String>> {
        let mut v = vec![self.parse_string()?];
        loop {
            let (tok, _, _) = self.scan_ws();
            if tok != Tok::Comma {
                self.unscan();
                return Ok(v);
            }
            v.push(self.parse_string()?);
        }
    }

    fn parse_int(&mut self, min: i64, max: i64) -> PResult<i64> {
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        let n: i64 = match lit.parse() {
            Ok(n) => n,
            Err(_) => {
                return Err(ParseError::at(
                    format!("strconv.Atoi: parsing {}: value out of range", crate::rules::quote::go_quote(&lit)),
                    pos,
                ))
            }
        };
        if n < min || n > max {
            return Err(ParseError::at(
                format!("invalid value {}: must be {} <= n <= {}", n, min, max),
                pos,
            ));
        }
        Ok(n)
    }

    fn parse_uint64(&mut self) -> PResult<u64> {
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        lit.parse::<u64>().map_err(|_| {
            ParseError::at(
                format!("strconv.ParseUint: parsing {}: value out of range", crate::rules::quote::go_quote(&lit)),
                pos,
            )
        })
    }

    /// `DURATION`-style argument: a duration literal or INF (= 0).
    fn parse_duration_tok(&mut self) -> PResult<i64> {
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::DurationVal && !is_kw(tok, "INF") {
            return Err(ParseError::unexpected(tok, &lit, &["duration"], pos));
        }
        if is_kw(tok, "INF") {
            return Ok(0);
        }
        parse_influxql(&lit).map_err(|e| ParseError::at(e, pos))
    }

    fn parse_optional_int(&mut self, kw: &'static str) -> PResult<u64> {
        let (tok, _, _) = self.scan_ws();
        if !is_kw(tok, kw) {
            self.unscan();
            return Ok(0);
        }
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Integer {
            return Err(ParseError::unexpected(tok, &lit, &["integer"], pos));
        }
        // 1.x ignores the range error and keeps the saturated value.
        Ok(lit.parse::<i64>().unwrap_or(i64::MAX) as u64)
    }

    fn parse_segmented_idents(&mut self) -> PResult<Vec<String>> {
        let mut idents = vec![self.parse_ident()?];
        loop {
            let (tok, _, _) = self.scan();
            if tok != Tok::Dot {
                self.unscan();
                break;
            }
            let ch = self.peek_rune();
            if ch == '/' || ch == ':' {
                break;
            } else if ch == '.' {
                idents.push(String::new());
                continue;
            }
            idents.push(self.parse_ident()?);
            if idents.len() > 64 {
                break;
            }
        }
        if idents.len() > 3 {
            let refs: Vec<&str> = idents.iter().map(|s| s.as_str()).collect();
            return Err(ParseError::at(
                format!("too many segments in {}", super::display::quote_ident_segments(&refs)),
                Pos::default(),
            ));
        }
        Ok(idents)
    }

    fn parse_regex(&mut self) -> PResult<Option<RegexLiteral>> {
        let next = self.peek_rune();
        if is_whitespace(next) {
            self.consume_whitespace();
        }
        let next = self.peek_rune();
        if next == '$' {
            let (tok, _, _) = self.scan();
            self.unscan();
            if tok != Tok::Regex {
                return Ok(None);
            }
        } else if next != '/' {
            return Ok(None);
        }
        let (tok, pos, lit) = self.scan_regex();
        match tok {
            Tok::BadEscape => return Err(ParseError::at(format!("bad escape: {}", lit), pos)),
            Tok::BadRegex => return Err(ParseError::at(format!("bad regex: {}", lit), pos)),
            Tok::Regex => {}
            _ => return Err(ParseError::unexpected(tok, &lit, &["regex"], pos)),
        }
        RegexLiteral::new(&lit).map(Some).map_err(|e| ParseError::at(e, pos))
    }

    // ---------------------------------------------------------------- SELECT

    fn parse_select(&mut self, tr: TargetReq) -> PResult<SelectStatement> {
        let mut stmt = SelectStatement { fields: self.parse_fields()?, ..Default::default() };
        stmt.into = self.parse_target(tr)?;
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "FROM") {
            return Err(ParseError::unexpected(tok, &lit, &["FROM"], pos));
        }
        stmt.sources = self.parse_sources(true)?;
        stmt.condition = self.parse_condition()?;
        stmt.dimensions = self.parse_dimensions()?;
        stmt.fill = self.parse_fill()?;
        stmt.order_by = self.parse_order_by()?;
        stmt.limit = self.parse_optional_int("LIMIT")?;
        stmt.offset = self.parse_optional_int("OFFSET")?;
        stmt.slimit = self.parse_optional_int("SLIMIT")?;
        stmt.soffset = self.parse_optional_int("SOFFSET")?;
        stmt.location = self.parse_location()?;
        Ok(stmt)
    }

    fn parse_target(&mut self, tr: TargetReq) -> PResult<Option<Target>> {
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "INTO") {
            if tr == TargetReq::Required {
                return Err(ParseError::unexpected(tok, &lit, &["INTO"], pos));
            }
            self.unscan();
            return Ok(None);
        }
        let mut idents = self.parse_segmented_idents()?;
        if idents.len() < 3 && self.peek_rune() == ':' {
            self.parse_tokens(&[Tok::Colon, Tok::Kw("MEASUREMENT")])?;
            idents.push(String::new());
        }
        let mut m = Measurement::default();
        match idents.len() {
            1 => m.name = idents.remove(0),
            2 => {
                m.name = idents.remove(1);
                m.retention_policy = idents.remove(0);
            }
            _ => {
                m.name = idents.remove(2);
                m.retention_policy = idents.remove(1);
                m.database = idents.remove(0);
            }
        }
        Ok(Some(Target { measurement: m }))
    }

    fn parse_fields(&mut self) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            fields.push(self.parse_field()?);
            let (tok, _, _) = self.scan();
            if tok != Tok::Comma {
                self.unscan();
                break;
            }
        }
        Ok(fields)
    }

    fn parse_field(&mut self) -> PResult<Field> {
        let expr = match self.parse_regex()? {
            Some(re) => Expr::Regex(re),
            None => {
                let (_, pos, _) = self.scan_ws();
                self.unscan();
                let expr = self.parse_expr()?;
                if let Some(op) = invalid_select_operator(&expr) {
                    return Err(ParseError::plain(format!(
                        "invalid operator {} in SELECT clause at line {}, char {}; operator is intended for WHERE clause",
                        op.as_str(),
                        pos.line + 1,
                        pos.char + 1
                    )));
                }
                expr
            }
        };
        let alias = self.parse_alias()?;
        self.consume_whitespace();
        Ok(Field { expr, alias })
    }

    fn parse_alias(&mut self) -> PResult<Option<String>> {
        if !self.accept_kw("AS") {
            return Ok(None);
        }
        let a = self.parse_ident()?;
        Ok(if a.is_empty() { None } else { Some(a) })
    }

    fn parse_sources(&mut self, subqueries: bool) -> PResult<Vec<Source>> {
        let mut sources = Vec::new();
        loop {
            sources.push(self.parse_source(subqueries)?);
            let (tok, _, _) = self.scan_ws();
            if tok != Tok::Comma {
                self.unscan();
                break;
            }
        }
        Ok(sources)
    }

    fn parse_source(&mut self, subqueries: bool) -> PResult<Source> {
        let mut m = Measurement::default();
        if let Some(re) = self.parse_regex()? {
            m.regex = Some(re);
            return Ok(Source::Measurement(m));
        }
        if subqueries {
            let (tok, _, _) = self.scan_ws();
            if tok == Tok::LParen {
                self.parse_tokens(&[Tok::Kw("SELECT")])?;
                self.enter()?;
                let stmt = self.parse_select(TargetReq::Subquery);
                self.leave();
                let stmt = stmt?;
                self.parse_tokens(&[Tok::RParen])?;
                return Ok(Source::Subquery(Box::new(stmt)));
            }
            self.unscan();
        }
        let mut idents = self.parse_segmented_idents()?;
        if idents.len() == 3 {
            m.name = idents.remove(2);
            m.retention_policy = idents.remove(1);
            m.database = idents.remove(0);
            return Ok(Source::Measurement(m));
        }
        let re = self.parse_regex()?;
        let has_re = re.is_some();
        m.regex = re;
        match idents.len() {
            1 => {
                if has_re {
                    m.retention_policy = idents.remove(0);
                } else {
                    m.name = idents.remove(0);
                }
            }
            _ => {
                if has_re {
                    m.retention_policy = idents.remove(1);
                    m.database = idents.remove(0);
                } else {
                    m.name = idents.remove(1);
                    m.retention_policy = idents.remove(0);
                }
            }
        }
        Ok(Source::Measurement(m))
    }

    fn parse_condition(&mut self) -> PResult<Option<Expr>> {
        let (tok, _, _) = self.scan_ws();
        if !is_kw(tok, "WHERE") {
            self.unscan();
            return Ok(None);
        }
        Ok(Some(self.parse_expr()?))
    }

    fn parse_dimensions(&mut self) -> PResult<Vec<Dimension>> {
        let (tok, _, _) = self.scan_ws();
        if !is_kw(tok, "GROUP") {
            self.unscan();
            return Ok(Vec::new());
        }
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "BY") {
            return Err(ParseError::unexpected(tok, &lit, &["BY"], pos));
        }
        let mut dims = Vec::new();
        loop {
            let expr = match self.parse_regex()? {
                Some(re) => Expr::Regex(re),
                None => {
                    let e = self.parse_expr()?;
                    self.consume_whitespace();
                    e
                }
            };
            dims.push(Dimension { expr });
            let (tok, _, _) = self.scan();
            if tok != Tok::Comma {
                self.unscan();
                break;
            }
        }
        Ok(dims)
    }

    fn parse_fill(&mut self) -> PResult<Fill> {
        let (tok, _, lit) = self.scan_ws();
        self.unscan();
        if tok != Tok::Ident || lit.to_lowercase() != "fill" {
            return Ok(Fill::Null);
        }
        let expr = self.parse_expr()?;
        let args = match expr {
            Expr::Call { args, .. } => args,
            _ => return Err(ParseError::plain("fill must be a function call")),
        };
        if args.len() != 1 {
            return Err(ParseError::plain(
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        }
        match &args[0] {
            Expr::VarRef { name, data_type: None } if name == "null" => Ok(Fill::Null),
            Expr::VarRef { name, data_type: None } if name == "none" => Ok(Fill::None),
            Expr::VarRef { name, data_type: None } if name == "previous" => Ok(Fill::Previous),
            Expr::VarRef { name, data_type: None } if name == "linear" => Ok(Fill::Linear),
            Expr::Integer(v) => Ok(Fill::Integer(*v)),
            Expr::Number(v) => Ok(Fill::Float(*v)),
            _ => Err(ParseError::plain("expected number argument in fill()")),
        }
    }

    fn parse_location(&mut self) -> PResult<Option<Location>> {
        let (tok, _, lit) = self.scan_ws();
        self.unscan();
        if tok != Tok::Ident || lit.to_lowercase() != "tz" {
            return Ok(None);
        }
        let expr = self.parse_expr()?;
        let args = match expr {
            Expr::Call { args, .. } => args,
            _ => return Err(ParseError::plain("tz must be a function call")),
        };
        if args.len() != 1 {
            return Err(ParseError::plain("tz requires exactly one argument"));
        }
        let name = match &args[0] {
            Expr::String(s) => s.clone(),
            _ => return Err(ParseError::plain("expected string argument in tz()")),
        };
        let zone = match self.opts.zones {
            Some(sys) => sys.resolve(&name),
            None => crate::rules::tz::System::from_env().resolve(&name),
        };
        let zone = zone.map_err(ParseError::plain)?;
        Ok(Some(Location { name, zone }))
    }

    fn parse_order_by(&mut self) -> PResult<Option<SortField>> {
        let (tok, _, _) = self.scan_ws();
        if !is_kw(tok, "ORDER") {
            self.unscan();
            return Ok(None);
        }
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "BY") {
            return Err(ParseError::unexpected(tok, &lit, &["BY"], pos));
        }
        let only_time = || ParseError::plain("only ORDER BY time supported at this time");
        let (tok, pos, lit) = self.scan_ws();
        let first = match tok {
            Tok::Kw("ASC") | Tok::Kw("DESC") => {
                SortField { name: None, ascending: tok == Tok::Kw("ASC") }
            }
            Tok::Ident => {
                self.unscan();
                let f = self.parse_sort_field()?;
                if lit != "time" {
                    return Err(only_time());
                }
                f
            }
            _ => {
                return Err(ParseError::unexpected(tok, &lit, &["identifier", "ASC", "DESC"], pos))
            }
        };
        let mut n = 1;
        loop {
            let (tok, _, _) = self.scan_ws();
            if tok != Tok::Comma {
                self.unscan();
                break;
            }
            self.parse_sort_field()?;
            n += 1;
        }
        if n > 1 {
            return Err(only_time());
        }
        Ok(Some(first))
    }

    fn parse_sort_field(&mut self) -> PResult<SortField> {
        let name = self.parse_ident()?;
        let (tok, _, _) = self.scan_ws();
        let ascending = if is_kw(tok, "ASC") {
            true
        } else if is_kw(tok, "DESC") {
            false
        } else {
            self.unscan();
            true
        };
        Ok(SortField { name: Some(name), ascending })
    }

    // ---------------------------------------------------------------- expressions

    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_expr_inner();
        self.leave();
        r
    }

    fn parse_expr_inner(&mut self) -> PResult<Expr> {
        let mut root = self.parse_unary()?;
        let mut depth_ub = root.depth();
        loop {
            let (tok, _, _) = self.scan_ws();
            let op = match binop(tok) {
                Some(op) if tok.is_operator() => op,
                _ => {
                    self.unscan();
                    return Ok(root);
                }
            };
            let rhs = if op == BinaryOp::EqRegex || op == BinaryOp::NeqRegex {
                match self.parse_regex()? {
                    Some(re) => Expr::Regex(re),
                    None => {
                        let (tok, pos, lit) = self.scan_ws();
                        teardown(root);
                        return Err(ParseError::unexpected(tok, &lit, &["regex"], pos));
                    }
                }
            } else {
                match self.parse_unary() {
                    Ok(e) => e,
                    Err(e) => {
                        teardown(root);
                        return Err(e);
                    }
                }
            };
            depth_ub += rhs.depth();
            // Climb down the right spine while the existing operator binds looser.
            let mut steps = 0usize;
            {
                let mut cur = &root;
                while let Expr::Binary { op: rop, rhs: r, .. } = cur {
                    if rop.precedence() >= op.precedence() {
                        break;
                    }
                    steps += 1;
                    cur = r;
                }
            }
            let mut slot = &mut root;
            for _ in 0..steps {
                slot = match slot {
                    Expr::Binary { rhs: r, .. } => &mut **r,
                    other => other,
                };
            }
            let old = std::mem::replace(slot, Expr::Nil);
            *slot = Expr::binary(op, old, rhs);
            if depth_ub > MAX_EXPR_DEPTH {
                depth_ub = root.depth();
                if depth_ub > MAX_EXPR_DEPTH {
                    teardown(root);
                    return Err(ParseError::plain("expression nests too deeply"));
                }
            }
        }
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        let (tok, _, _) = self.scan_ws();
        if tok == Tok::LParen {
            let expr = self.parse_expr()?;
            let (tok, pos, lit) = self.scan_ws();
            if tok != Tok::RParen {
                return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
            }
            return Ok(Expr::Paren(Box::new(expr)));
        }
        self.unscan();

        let (tok, pos, lit) = self.scan_ws();
        match tok {
            Tok::Ident => {
                let (t0, _, _) = self.scan();
                if t0 == Tok::LParen {
                    return self.parse_call(&lit);
                }
                self.unscan();
                self.unscan();
                self.parse_var_ref()
            }
            Tok::Kw("DISTINCT") => {
                let (t0, pos0, lit0) = self.scan();
                if t0 == Tok::LParen {
                    return self.parse_call("distinct");
                } else if t0 == Tok::Ws {
                    let (t1, pos1, lit1) = self.scan_ws();
                    if t1 != Tok::Ident {
                        return Err(ParseError::unexpected(t1, &lit1, &["identifier"], pos1));
                    }
                    return Ok(Expr::Distinct(lit1));
                }
                Err(ParseError::unexpected(t0, &lit0, &["(", "identifier"], pos0))
            }
            Tok::Str => Ok(Expr::String(lit)),
            Tok::Number => match lit.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Expr::Number(v)),
                _ => Err(ParseError::at("unable to parse number", pos)),
            },
            Tok::Integer => match lit.parse::<i64>() {
                Ok(v) => Ok(Expr::Integer(v)),
                Err(_) => match lit.parse::<u64>() {
                    Ok(v) => Ok(Expr::Unsigned(v)),
                    Err(_) => Err(ParseError::at("unable to parse integer", pos)),
                },
            },
            Tok::True => Ok(Expr::Boolean(true)),
            Tok::False => Ok(Expr::Boolean(false)),
            Tok::DurationVal => parse_influxql(&lit).map(Expr::Duration).map_err(ParseError::plain),
            Tok::Mul => {
                let (t0, _, _) = self.scan();
                if t0 == Tok::DoubleColon {
                    let (t1, pos1, lit1) = self.scan();
                    return match t1 {
                        Tok::Kw("FIELD") => Ok(Expr::Wildcard(WildcardType::Field)),
                        Tok::Kw("TAG") => Ok(Expr::Wildcard(WildcardType::Tag)),
                        _ => Err(ParseError::unexpected(t1, &lit1, &["field", "tag"], pos1)),
                    };
                }
                self.unscan();
                Ok(Expr::Wildcard(WildcardType::All))
            }
            Tok::Regex => RegexLiteral::new(&lit).map(Expr::Regex).map_err(|e| ParseError::at(e, pos)),
            Tok::BoundParam => {
                let k = lit.strip_prefix('$').unwrap_or(&lit);
                if k.is_empty() {
                    return Err(ParseError::plain("empty bound parameter"));
                }
                match self.opts.params {
                    None => Ok(Expr::BindParam(k.to_string())),
                    Some(params) => match params.get(k) {
                        Some(v) => Err(ParseError::plain(param_token(v).1)),
                        None => Err(ParseError::plain(format!("missing parameter: {}", k))),
                    },
                }
            }
            Tok::Add | Tok::Sub => {
                let neg = tok == Tok::Sub;
                let (t0, pos0, lit0) = self.scan_ws();
                match t0 {
                    Tok::Number | Tok::Integer | Tok::DurationVal | Tok::LParen | Tok::Ident => {
                        self.unscan();
                        let e = self.parse_unary()?;
                        let mul: i64 = if neg { -1 } else { 1 };
                        match e {
                            Expr::Number(v) => Ok(Expr::Number(v * mul as f64)),
                            Expr::Integer(v) => Ok(Expr::Integer(v.wrapping_mul(mul))),
                            Expr::Unsigned(v) => {
                                if neg {
                                    if v == 1u64 << 63 {
                                        Ok(Expr::Integer(i64::MIN))
                                    } else {
                                        Err(ParseError::plain(format!(
                                            "constant -{} underflows int64",
                                            v
                                        )))
                                    }
                                } else {
                                    Ok(Expr::Unsigned(v))
                                }
                            }
                            Expr::Duration(v) => Ok(Expr::Duration(v.wrapping_mul(mul))),
                            e @ (Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)) => {
                                Ok(Expr::binary(BinaryOp::Mul, Expr::Integer(mul), e))
                            }
                            _ => Err(ParseError::plain("unexpected literal")),
                        }
                    }
                    _ => Err(ParseError::unexpected(
                        t0,
                        &lit0,
                        &["identifier", "number", "duration", "("],
                        pos0,
                    )),
                }
            }
            _ => Err(ParseError::unexpected(
                tok,
                &lit,
                &["identifier", "string", "number", "bool"],
                pos,
            )),
        }
    }

    fn parse_call(&mut self, name: &str) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_call_inner(name);
        self.leave();
        r
    }

    fn parse_call_inner(&mut self, name: &str) -> PResult<Expr> {
        let name = name.to_lowercase();
        let mut args = Vec::new();
        match self.parse_regex()? {
            Some(re) => args.push(Expr::Regex(re)),
            None => {
                let (tok, _, _) = self.scan();
                if tok == Tok::RParen {
                    return Ok(Expr::Call { name, args });
                }
                self.unscan();
                args.push(self.parse_expr()?);
            }
        }
        loop {
            let (tok, _, _) = self.scan_ws();
            if tok != Tok::Comma {
                self.unscan();
                break;
            }
            if let Some(re) = self.parse_regex()? {
                args.push(Expr::Regex(re));
                continue;
            }
            args.push(self.parse_expr()?);
        }
        let (tok, pos, lit) = self.scan();
        if tok != Tok::RParen {
            return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
        }
        Ok(Expr::Call { name, args })
    }

    fn parse_var_ref(&mut self) -> PResult<Expr> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = None;
        let (tok, _, _) = self.scan();
        if tok == Tok::DoubleColon {
            let (tok, pos, lit) = self.scan();
            data_type = Some(match tok {
                Tok::Ident => match lit.to_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        return Err(ParseError::unexpected(
                            tok,
                            &lit,
                            &["float", "integer", "unsigned", "string", "boolean", "field", "tag"],
                            pos,
                        ))
                    }
                },
                Tok::Kw("FIELD") => DataType::AnyField,
                Tok::Kw("TAG") => DataType::Tag,
                _ => {
                    return Err(ParseError::unexpected(
                        tok,
                        &lit,
                        &["float", "integer", "string", "boolean", "field", "tag"],
                        pos,
                    ))
                }
            });
        } else {
            self.unscan();
        }
        Ok(Expr::VarRef { name: segments.join("."), data_type })
    }

    // ---------------------------------------------------------------- DELETE / DROP SERIES

    fn parse_delete(&mut self, drop_series: bool) -> PResult<Statement> {
        let (tok, pos, lit) = self.scan_ws();
        let mut stmt = DeleteStatement::default();
        let mut has_from = false;
        if is_kw(tok, "FROM") {
            has_from = true;
            stmt.sources = self.parse_sources(false)?;
            let mut err = None;
            for s in &stmt.sources {
                if let Source::Measurement(m) = s {
                    if !m.database.is_empty() {
                        err = Some("database not supported");
                    }
                    if !m.retention_policy.is_empty() {
                        err = Some("retention policy not supported");
                    }
                }
            }
            if let Some(e) = err {
                return Err(ParseError::at(e, Pos::default()));
            }
        } else {
            self.unscan();
        }
        stmt.condition = self.parse_condition()?;
        if stmt.condition.is_none() && !has_from {
            return Err(ParseError::unexpected(tok, &lit, &["FROM", "WHERE"], pos));
        }
        Ok(if drop_series { Statement::DropSeries(stmt) } else { Statement::Delete(stmt) })
    }

    // ---------------------------------------------------------------- SHOW

    fn parse_show_series(&mut self) -> PResult<Statement> {
        let exact = self.accept_kw("EXACT");
        if self.accept_kw("CARDINALITY") {
            return self.parse_show_cardinality_body(CardinalityKind::Series, exact, false);
        }
        let database = self.parse_on_db()?;
        let sources = self.parse_from_opt()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_int("LIMIT")?;
        let offset = self.parse_optional_int("OFFSET")?;
        Ok(Statement::ShowSeries(ShowSeriesStatement {
            database,
            sources,
            condition,
            order_by,
            limit,
            offset,
        }))
    }

    /// The common tail of the CARDINALITY statements. `need_cardinality`: the CARDINALITY
    /// keyword still has to be read (after EXACT).
    fn parse_show_cardinality_body(
        &mut self,
        kind: CardinalityKind,
        exact: bool,
        need_cardinality: bool,
    ) -> PResult<Statement> {
        if need_cardinality {
            let (tok, pos, lit) = self.scan_ws();
            if !is_kw(tok, "CARDINALITY") {
                return Err(ParseError::unexpected(tok, &lit, &["CARDINALITY"], pos));
            }
        }
        let database = self.parse_on_db()?;
        let sources = self.parse_from_opt()?;
        let tag_key = if kind == CardinalityKind::TagValues {
            Some(self.parse_tag_key_expr()?)
        } else {
            None
        };
        let condition = self.parse_condition()?;
        let dimensions = self.parse_dimensions()?;
        let limit = self.parse_optional_int("LIMIT")?;
        let offset = self.parse_optional_int("OFFSET")?;
        Ok(Statement::ShowCardinality(ShowCardinalityStatement {
            kind,
            exact,
            database,
            sources,
            tag_key,
            condition,
            dimensions,
            limit,
            offset,
        }))
    }

    fn parse_tag_or_field_key_cardinality(&mut self, kind: CardinalityKind) -> PResult<Statement> {
        let exact = self.accept_kw("EXACT");
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "CARDINALITY") {
            let exp: &[&str] = if exact { &["CARDINALITY"] } else { &["EXACT", "CARDINALITY"] };
            return Err(ParseError::unexpected(tok, &lit, exp, pos));
        }
        self.parse_show_cardinality_body(kind, exact, false)
    }

    fn parse_show_measurements(&mut self) -> PResult<Statement> {
        let mut stmt = ShowMeasurementsStatement { database: self.parse_on_db()?, ..Default::default() };
        if self.accept_kw("WITH") {
            self.parse_tokens(&[Tok::Kw("MEASUREMENT")])?;
            let (tok, pos, lit) = self.scan_ws();
            match tok {
                Tok::Eq | Tok::EqRegex => match self.parse_source(false)? {
                    Source::Measurement(m) => stmt.with_measurement = Some(m),
                    Source::Subquery(_) => {}
                },
                _ => return Err(ParseError::unexpected(tok, &lit, &["=", "=~"], pos)),
            }
        }
        stmt.condition = self.parse_condition()?;
        stmt.order_by = self.parse_order_by()?;
        stmt.limit = self.parse_optional_int("LIMIT")?;
        stmt.offset = self.parse_optional_int("OFFSET")?;
        Ok(Statement::ShowMeasurements(stmt))
    }

    fn parse_show_tag_keys(&mut self) -> PResult<Statement> {
        let database = self.parse_on_db()?;
        let sources = self.parse_from_opt()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_int("LIMIT")?;
        let offset = self.parse_optional_int("OFFSET")?;
        let slimit = self.parse_optional_int("SLIMIT")?;
        let soffset = self.parse_optional_int("SOFFSET")?;
        Ok(Statement::ShowTagKeys(ShowTagKeysStatement {
            database,
            sources,
            condition,
            order_by,
            limit,
            offset,
            slimit,
            soffset,
        }))
    }

    fn parse_show_tag_values(&mut self) -> PResult<Statement> {
        let (tok, _, _) = self.scan_ws();
        if is_kw(tok, "EXACT") {
            return self.parse_show_cardinality_body(CardinalityKind::TagValues, true, true);
        } else if is_kw(tok, "CARDINALITY") {
            return self.parse_show_cardinality_body(CardinalityKind::TagValues, false, false);
        }
        self.unscan();
        let database = self.parse_on_db()?;
        let sources = self.parse_from_opt()?;
        let tag_key = self.parse_tag_key_expr()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_int("LIMIT")?;
        let offset = self.parse_optional_int("OFFSET")?;
        Ok(Statement::ShowTagValues(ShowTagValuesStatement {
            database,
            sources,
            tag_key,
            condition,
            order_by,
            limit,
            offset,
        }))
    }

    fn parse_tag_key_expr(&mut self) -> PResult<TagKeyExpr> {
        self.parse_tokens(&[Tok::Kw("WITH"), Tok::Kw("KEY")])?;
        let (tok, pos, lit) = self.scan_ws();
        match tok {
            Tok::Kw("IN") => {
                let (tok, pos, lit) = self.scan_ws();
                if tok != Tok::LParen {
                    return Err(ParseError::unexpected(tok, &lit, &["("], pos));
                }
                let keys = self.parse_ident_list()?;
                let (tok, pos, lit) = self.scan_ws();
                if tok != Tok::RParen {
                    return Err(ParseError::unexpected(tok, &lit, &[")"], pos));
                }
                Ok(TagKeyExpr::In(keys))
            }
            Tok::Eq => Ok(TagKeyExpr::Eq(self.parse_ident()?)),
            Tok::Neq => Ok(TagKeyExpr::Neq(self.parse_ident()?)),
            Tok::EqRegex | Tok::NeqRegex => match self.parse_regex()? {
                Some(re) => Ok(if tok == Tok::EqRegex {
                    TagKeyExpr::EqRegex(re)
                } else {
                    TagKeyExpr::NeqRegex(re)
                }),
                None => {
                    let (tok, pos, lit) = self.scan_ws();
                    Err(ParseError::unexpected(tok, &lit, &["regex"], pos))
                }
            },
            _ => Err(ParseError::unexpected(tok, &lit, &["IN", "=", "=~"], pos)),
        }
    }

    fn parse_show_field_keys(&mut self) -> PResult<Statement> {
        let database = self.parse_on_db()?;
        let sources = self.parse_from_opt()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_optional_int("LIMIT")?;
        let offset = self.parse_optional_int("OFFSET")?;
        Ok(Statement::ShowFieldKeys(ShowFieldKeysStatement {
            database,
            sources,
            order_by,
            limit,
            offset,
        }))
    }

    // ---------------------------------------------------------------- DDL

    fn parse_create_database(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        let mut stmt = CreateDatabaseStatement { name, retention_policy: None };
        if self.accept_kw("WITH") {
            let (tok, pos, lit) = self.scan_ws();
            if !matches!(tok, Tok::Kw("DURATION" | "NAME" | "REPLICATION" | "SHARD")) {
                return Err(ParseError::unexpected(
                    tok,
                    &lit,
                    &["DURATION", "NAME", "REPLICATION", "SHARD"],
                    pos,
                ));
            }
            self.unscan();
            let mut rp = CreateDatabaseRp::default();
            if self.accept_kw("DURATION") {
                rp.duration = Some(self.parse_duration_tok()?);
            }
            if self.accept_kw("REPLICATION") {
                rp.replication = Some(self.parse_int(1, i32::MAX as i64)? as u32);
            }
            if self.accept_kw("SHARD") {
                let (tok, pos, lit) = self.scan_ws();
                if !is_kw(tok, "DURATION") {
                    return Err(ParseError::unexpected(tok, &lit, &["DURATION"], pos));
                }
                rp.shard_duration = Some(self.parse_duration_tok()?);
            }
            if self.accept_kw("NAME") {
                rp.name = Some(self.parse_ident()?);
            }
            stmt.retention_policy = Some(rp);
        }
        Ok(Statement::CreateDatabase(stmt))
    }

    fn parse_shard_duration_no_inf(&mut self) -> PResult<i64> {
        let (tok, pos, _) = self.scan_ws();
        if is_kw(tok, "INF") {
            return Err(ParseError::at("invalid duration INF for shard duration", pos));
        }
        self.unscan();
        self.parse_duration_tok()
    }

    fn parse_create_rp(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.expect_kw_simple("ON")?;
        let database = self.parse_ident()?;
        self.expect_kw_simple("DURATION")?;
        let duration = self.parse_duration_tok()?;
        self.expect_kw_simple("REPLICATION")?;
        let replication = self.parse_int(1, i32::MAX as i64)? as u32;
        let mut shard_duration = 0;
        if self.accept_kw("SHARD") {
            self.expect_kw_simple("DURATION")?;
            shard_duration = self.parse_shard_duration_no_inf()?;
        }
        let default = self.accept_kw("DEFAULT");
        Ok(Statement::CreateRetentionPolicy(CreateRetentionPolicyStatement {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        }))
    }

    fn parse_alter_rp(&mut self) -> PResult<Statement> {
        let (tok, pos, lit) = self.scan_ws();
        let name = if is_kw(tok, "DEFAULT") {
            "default".to_string()
        } else if tok == Tok::Ident {
            lit
        } else {
            return Err(ParseError::unexpected(tok, &lit, &["identifier"], pos));
        };
        self.expect_kw_simple("ON")?;
        let database = self.parse_ident()?;
        let mut stmt = AlterRetentionPolicyStatement { name, database, ..Default::default() };
        let mut found: Vec<&'static str> = Vec::new();
        loop {
            let (tok, pos, lit) = self.scan_ws();
            if let Tok::Kw(k) = tok {
                if found.contains(&k) {
                    return Err(ParseError::at(format!("found duplicate {} option", k), pos));
                }
            }
            match tok {
                Tok::Kw("DURATION") => stmt.duration = Some(self.parse_duration_tok()?),
                Tok::Kw("REPLICATION") => {
                    stmt.replication = Some(self.parse_int(1, i32::MAX as i64)? as u32)
                }
                Tok::Kw("SHARD") => {
                    let (t2, p2, l2) = self.scan_ws();
                    if !is_kw(t2, "DURATION") {
                        return Err(ParseError::unexpected(t2, &l2, &["DURATION"], p2));
                    }
                    stmt.shard_duration = Some(self.parse_shard_duration_no_inf()?);
                }
                Tok::Kw("DEFAULT") => stmt.default = true,
                _ => {
                    if found.is_empty() {
                        return Err(ParseError::unexpected(
                            tok,
                            &lit,
                            &["DURATION", "REPLICATION", "SHARD", "DEFAULT"],
                            pos,
                        ));
                    }
                    self.unscan();
                    break;
                }
            }
            if let Tok::Kw(k) = tok {
                found.push(k);
            }
        }
        Ok(Statement::AlterRetentionPolicy(stmt))
    }

    fn parse_create_user(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.parse_tokens(&[Tok::Kw("WITH"), Tok::Kw("PASSWORD")])?;
        let password = self.parse_string()?;
        let mut admin = false;
        if self.accept_kw("WITH") {
            self.parse_tokens(&[Tok::Kw("ALL"), Tok::Kw("PRIVILEGES")])?;
            admin = true;
        }
        Ok(Statement::CreateUser { name, password, admin })
    }

    fn parse_set_password(&mut self) -> PResult<Statement> {
        let user = self.parse_ident()?;
        let (tok, pos, lit) = self.scan_ws();
        if tok != Tok::Eq {
            return Err(ParseError::unexpected(tok, &lit, &["="], pos));
        }
        let password = self.parse_string()?;
        Ok(Statement::SetPassword { user, password })
    }

    fn parse_kill_query(&mut self) -> PResult<Statement> {
        let id = self.parse_uint64()?;
        let host = if self.accept_kw("ON") { Some(self.parse_ident()?) } else { None };
        Ok(Statement::KillQuery { id, host })
    }

    fn parse_privilege(&mut self) -> PResult<Privilege> {
        let (tok, pos, lit) = self.scan_ws();
        match tok {
            Tok::Kw("READ") => Ok(Privilege::Read),
            Tok::Kw("WRITE") => Ok(Privilege::Write),
            Tok::Kw("ALL") => {
                let (t, _, _) = self.scan_ws();
                if !is_kw(t, "PRIVILEGES") {
                    self.unscan();
                }
                Ok(Privilege::All)
            }
            _ => Err(ParseError::unexpected(tok, &lit, &["READ", "WRITE", "ALL [PRIVILEGES]"], pos)),
        }
    }

    fn parse_grant(&mut self) -> PResult<Statement> {
        Ok(match self.parse_privilege_target("TO")? {
            (privilege, Some(on), user) => Statement::Grant { privilege, on, user },
            (_, None, user) => Statement::GrantAdmin { user },
        })
    }

    fn parse_revoke(&mut self) -> PResult<Statement> {
        Ok(match self.parse_privilege_target("FROM")? {
            (privilege, Some(on), user) => Statement::Revoke { privilege, on, user },
            (_, None, user) => Statement::RevokeAdmin { user },
        })
    }

    /// The rest of GRANT (`link` = TO) or REVOKE (`link` = FROM): `<privilege> ON <db> <link> <user>`,
    /// or `ALL [PRIVILEGES] <link> <user>` for the admin form (then the database is `None`).
    fn parse_privilege_target(&mut self, link: &'static str) -> PResult<(Privilege, Option<String>, String)> {
        let privilege = self.parse_privilege()?;
        let (tok, pos, lit) = self.scan_ws();
        if is_kw(tok, "ON") {
            let on = self.parse_ident()?;
            self.expect_kw_simple(link)?;
            let user = self.parse_ident()?;
            return Ok((privilege, Some(on), user));
        } else if is_kw(tok, link) {
            if privilege != Privilege::All {
                return Err(ParseError::unexpected(tok, &lit, &["ON"], pos));
            }
            return Ok((privilege, None, self.parse_ident()?));
        }
        if privilege == Privilege::All {
            return Err(ParseError::unexpected(tok, &lit, &["ON", link], pos));
        }
        Err(ParseError::unexpected(tok, &lit, &["ON"], pos))
    }

    fn parse_explain(&mut self) -> PResult<Statement> {
        let analyze = self.accept_kw("ANALYZE");
        let (tok, pos, lit) = self.scan_ws();
        if !is_kw(tok, "SELECT") {
            return Err(ParseError::unexpected(tok, &lit, &["SELECT"], pos));
        }
        let s = self.parse_select(TargetReq::NotRequired)?;
        Ok(Statement::Explain { analyze, statement: Box::new(s) })
    }

    fn parse_create_subscription(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.expect_kw_simple("ON")?;
        let database = self.parse_ident()?;
        let (tok, pos, lit) = self.scan();
        if tok != Tok::Dot {
            return Err(ParseError::unexpected(tok, &lit, &["."], pos));
        }
        let retention_policy = self.parse_ident()?;
        self.expect_kw_simple("DESTINATIONS")?;
        let (tok, pos, lit) = self.scan_ws();
        let mode = match tok {
            Tok::Kw("ALL") => "ALL",
            Tok::Kw("ANY") => "ANY",
            _ => return Err(ParseError::unexpected(tok, &lit, &["ALL", "ANY"], pos)),
        };
        let destinations = self.parse_string_list()?;
        Ok(Statement::CreateSubscription(CreateSubscriptionStatement {
            name,
            database,
            retention_policy,
            mode: mode.to_string(),
            destinations,
        }))
    }

    fn parse_resample(&mut self) -> PResult<(i64, i64)> {
        let mut every = 0;
        if self.accept_kw("EVERY") {
            let (tok, pos, lit) = self.scan_ws();
            if tok != Tok::DurationVal {
                return Err(ParseError::unexpected(tok, &lit, &["duration"], pos));
            }
            every = parse_influxql(&lit).map_err(|e| ParseError::at(e, pos))?;
        }
        let mut for_ = 0;
        if self.accept_kw("FOR") {
            let (tok, pos, lit) = self.scan_ws();
            if tok != Tok::DurationVal {
                return Err(ParseError::unexpected(tok, &lit, &["duration"], pos));
            }
            for_ = parse_influxql(&lit).map_err(|e| ParseError::at(e, pos))?;
        }
        if every == 0 && for_ == 0 {
            let (tok, pos, lit) = self.scan_ws();
            return Err(ParseError::unexpected(tok, &lit, &["EVERY", "FOR"], pos));
        }
        Ok((every, for_))
    }

    fn parse_create_cq(&mut self) -> PResult<Statement> {
        let name = self.parse_ident()?;
        self.expect_kw_simple("ON")?;
        let database = self.parse_ident()?;
        let (mut every, mut for_) = (0, 0);
        if self.accept_kw("RESAMPLE") {
            let r = self.parse_resample()?;
            every = r.0;
            for_ = r.1;
        }
        self.parse_tokens(&[Tok::Kw("BEGIN"), Tok::Kw("SELECT")])?;
        let source = self.parse_select(TargetReq::Required)?;
        let mut interval = 0;
        if !source.is_raw_query() {
            let gbi = source.group_by_time();
            let bad = match &gbi {
                Ok(Some((d, _))) => *d == 0,
                Ok(None) => true,
                Err(_) => true,
            };
            if bad {
                self.unscan();
                self.unscan();
                let (tok, pos, lit) = self.scan_ws();
                let mut expected = vec!["GROUP BY time(...)".to_string()];
                if let Err(e) = &gbi {
                    expected.push(e.clone());
                }
                let exp: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
                return Err(ParseError::unexpected(tok, &lit, &exp, pos));
            }
            if let Ok(Some((d, _))) = gbi {
                interval = d;
            }
        } else if let Ok(Some((d, _))) = source.group_by_time() {
            interval = d;
        }
        self.expect_kw_simple("END")?;
        if source.is_raw_query() {
            if let Err(e) = source.group_by_time() {
                return Err(ParseError::plain(e));
            }
        }
        if for_ != 0 {
            let mut iv = interval;
            if every != 0 && every > iv {
                iv = every;
            }
            if iv > for_ {
                return Err(ParseError::plain(format!(
                    "FOR duration must be >= GROUP BY time duration: must be a minimum of {}, got {}",
                    influxql_literal(iv),
                    influxql_literal(for_)
                )));
            }
        }
        Ok(Statement::CreateContinuousQuery(CreateContinuousQueryStatement {
            name,
            database,
            resample_every: every,
            resample_for: for_,
            source: Box::new(source),
        }))
    }
}

/// The operator 1.x's `validateField` reports for a SELECT field expression, if any.
fn invalid_select_operator(e: &Expr) -> Option<BinaryOp> {
    fn visit(e: &Expr, found: &mut Option<BinaryOp>) {
        match e {
            Expr::Binary { op, lhs, rhs } => {
                if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
                    *found = Some(*op);
                    return;
                }
                visit(lhs, found);
                visit(rhs, found);
            }
            Expr::Paren(inner) => visit(inner, found),
            Expr::Call { args, .. } => args.iter().for_each(|a| visit(a, found)),
            _ => {}
        }
    }
    let mut found = None;
    visit(e, &mut found);
    found
}
