//! Canonical InfluxQL printing (`Display` for every AST node) and 1.x's quoting helpers.
//!
//! Printing follows 1.x's `String()` methods, except where those do not parse back (floats are
//! printed with full precision, `ON` clauses of SHOW statements get their keyword, passwords
//! are printed instead of `[REDACTED]`, retention durations use InfluxQL duration syntax).
//! The alternate form (`{:#}`) of a `Statement` / `Query` redacts passwords like 1.x
//! (`CREATE USER u WITH PASSWORD [REDACTED]`), for logs and SHOW QUERIES.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::lexer::{is_ident_char, is_ident_first_char, lookup, Tok};
use crate::rules::durations::influxql_literal;

/// 1.x `IdentNeedsQuotes`.
pub fn ident_needs_quotes(ident: &str) -> bool {
    if lookup(ident) != Tok::Ident {
        return true;
    }
    ident
        .chars()
        .enumerate()
        .any(|(i, c)| if i == 0 { !is_ident_first_char(c) } else { !is_ident_char(c) })
}

fn escape_into(out: &mut String, s: &str, quote: char) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// 1.x `QuoteIdent` for one identifier: quoted (with `\n`, `\\`, `\"` escapes) when needed.
pub fn quote_ident(ident: &str) -> String {
    quote_ident_segments(&[ident])
}

/// 1.x `QuoteIdent(segments...)`: segments joined with `.`.
pub fn quote_ident_segments(segments: &[&str]) -> String {
    let mut out = String::new();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let need = ident_needs_quotes(seg)
            || (i < last && !seg.is_empty())
            || ((i == 0 || i == last) && seg.is_empty());
        if need {
            out.push('"');
        }
        escape_into(&mut out, seg, '"');
        if need {
            out.push('"');
        }
        if i < last {
            out.push('.');
        }
    }
    out
}

/// 1.x `QuoteString`: `'...'` with `\n`, `\\`, `\'` escapes.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    escape_into(&mut out, s, '\'');
    out.push('\'');
    out
}

/// A float printed so that it lexes back as a NUMBER with the same value.
pub(crate) fn format_float(v: f64) -> String {
    let mut s = format!("{}", v);
    if !s.contains('.') && v.is_finite() {
        s.push_str(".0");
    }
    s
}

/// RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`, trailing zeros trimmed), UTC.
pub fn format_rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    if m <= 2 {
        y += 1;
    }
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{:09}", nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Durations in DDL statements: 0 = INF.
fn rp_duration(d: i64) -> String {
    if d == 0 {
        "INF".into()
    } else {
        influxql_literal(d)
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str(";\n")?;
            }
            if f.alternate() {
                write!(f, "{:#}", s)?;
            } else {
                write!(f, "{}", s)?;
            }
        }
        Ok(())
    }
}

impl Display for RegexLiteral {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source.replace('/', "\\/"))
    }
}

impl Display for DataType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Privilege {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `x * -y`: the parser turns unary minus on an identifier, call or parenthesis into
/// `-1 * y`; print it back in unary form when it sits on the right of an operator that binds
/// at least as tightly, so the tree shape survives a round trip.
fn unary_form(e: &Expr) -> Option<(&'static str, &Expr)> {
    if let Expr::Binary { op: BinaryOp::Mul, lhs, rhs } = e {
        if let Expr::Integer(m) = **lhs {
            if (m == -1 || m == 1)
                && matches!(**rhs, Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_))
            {
                return Some((if m == -1 { "-" } else { "+" }, rhs));
            }
        }
    }
    None
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::VarRef { name, data_type } => {
                f.write_str(&quote_ident(name))?;
                if let Some(t) = data_type {
                    write!(f, "::{}", t)?;
                }
                Ok(())
            }
            Expr::Call { name, args } => {
                if name == "distinct" {
                    f.write_str(name)?;
                } else {
                    f.write_str(&quote_ident(name))?;
                }
                f.write_char('(')?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", a)?;
                }
                f.write_char(')')
            }
            Expr::Distinct(v) => write!(f, "DISTINCT {}", quote_ident(v)),
            Expr::Binary { op, lhs, rhs } => {
                write!(f, "{} {} ", lhs, op)?;
                if let Expr::Binary { op: rop, .. } = &**rhs {
                    if rop.precedence() <= op.precedence() {
                        if let Some((sign, inner)) = unary_form(rhs) {
                            return write!(f, "{}{}", sign, inner);
                        }
                    }
                }
                write!(f, "{}", rhs)
            }
            Expr::Paren(e) => write!(f, "({})", e),
            Expr::Number(v) => f.write_str(&format_float(*v)),
            Expr::Integer(v) => write!(f, "{}", v),
            Expr::Unsigned(v) => write!(f, "{}", v),
            Expr::String(s) => f.write_str(&quote_string(s)),
            Expr::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Expr::Duration(d) => f.write_str(&influxql_literal(*d)),
            Expr::Time(ns) => write!(f, "'{}'", format_rfc3339_nano(*ns)),
            Expr::Regex(r) => write!(f, "{}", r),
            Expr::Wildcard(WildcardType::All) => f.write_str("*"),
            Expr::Wildcard(WildcardType::Field) => f.write_str("*::field"),
            Expr::Wildcard(WildcardType::Tag) => f.write_str("*::tag"),
            Expr::BindParam(n) => write!(f, "${}", quote_ident(n)),
            Expr::Nil => f.write_str("nil"),
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(a) = &self.alias {
            write!(f, " AS {}", quote_ident(a))?;
        }
        Ok(())
    }
}

impl Display for Dimension {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

fn write_measurement_prefix(f: &mut Formatter<'_>, m: &Measurement) -> fmt::Result {
    if !m.database.is_empty() {
        f.write_str(&quote_ident(&m.database))?;
        f.write_char('.')?;
    }
    if !m.retention_policy.is_empty() {
        f.write_str(&quote_ident(&m.retention_policy))?;
    }
    if !m.database.is_empty() || !m.retention_policy.is_empty() {
        f.write_char('.')?;
    }
    Ok(())
}

impl Display for Measurement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_measurement_prefix(f, self)?;
        if !self.name.is_empty() {
            f.write_str(&quote_ident(&self.name))
        } else if let Some(re) = &self.regex {
            write!(f, "{}", re)
        } else {
            f.write_str("\"\"")
        }
    }
}

impl Display for Target {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("INTO ")?;
        let m = &self.measurement;
        write_measurement_prefix(f, m)?;
        if m.name.is_empty() && m.database.is_empty() && m.retention_policy.is_empty() {
            // `INTO ""`: 1.x treats an empty name like :MEASUREMENT, but only this spelling
            // parses back.
            f.write_str("\"\"")
        } else if m.name.is_empty() {
            f.write_str(":MEASUREMENT")
        } else {
            f.write_str(&quote_ident(&self.measurement.name))
        }
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => write!(f, "{}", m),
            Source::Subquery(s) => write!(f, "({})", s),
        }
    }
}

impl Display for SortField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{} ", quote_ident(n))?;
        }
        f.write_str(if self.ascending { "ASC" } else { "DESC" })
    }
}

impl Display for Fill {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fill::Null => f.write_str("fill(null)"),
            Fill::None => f.write_str("fill(none)"),
            Fill::Previous => f.write_str("fill(previous)"),
            Fill::Linear => f.write_str("fill(linear)"),
            Fill::Integer(v) => write!(f, "fill({})", v),
            Fill::Float(v) => write!(f, "fill({})", format_float(*v)),
        }
    }
}

impl Display for TagKeyExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TagKeyExpr::Eq(k) => write!(f, "= {}", quote_ident(k)),
            TagKeyExpr::Neq(k) => write!(f, "!= {}", quote_ident(k)),
            TagKeyExpr::EqRegex(r) => write!(f, "=~ {}", r),
            TagKeyExpr::NeqRegex(r) => write!(f, "!~ {}", r),
            TagKeyExpr::In(keys) => {
                f.write_str("IN (")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_ident(k))?;
                }
                f.write_char(')')
            }
        }
    }
}

fn join<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", it)?;
    }
    Ok(())
}

fn on_db(f: &mut Formatter<'_>, db: &Option<String>) -> fmt::Result {
    if let Some(d) = db {
        write!(f, " ON {}", quote_ident(d))?;
    }
    Ok(())
}

fn from(f: &mut Formatter<'_>, sources: &[Source]) -> fmt::Result {
    if !sources.is_empty() {
        f.write_str(" FROM ")?;
        join(f, sources)?;
    }
    Ok(())
}

fn where_(f: &mut Formatter<'_>, cond: &Option<Expr>) -> fmt::Result {
    if let Some(c) = cond {
        write!(f, " WHERE {}", c)?;
    }
    Ok(())
}

fn group_by(f: &mut Formatter<'_>, dims: &[Dimension]) -> fmt::Result {
    if !dims.is_empty() {
        f.write_str(" GROUP BY ")?;
        join(f, dims)?;
    }
    Ok(())
}

fn order_by(f: &mut Formatter<'_>, o: &Option<SortField>) -> fmt::Result {
    if let Some(s) = o {
        write!(f, " ORDER BY {}", s)?;
    }
    Ok(())
}

fn opt_int(f: &mut Formatter<'_>, kw: &str, v: u64) -> fmt::Result {
    if v > 0 {
        write!(f, " {} {}", kw, v)?;
    }
    Ok(())
}

impl Display for SelectStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        join(f, &self.fields)?;
        if let Some(t) = &self.into {
            write!(f, " {}", t)?;
        }
        from(f, &self.sources)?;
        where_(f, &self.condition)?;
        group_by(f, &self.dimensions)?;
        if self.fill != Fill::Null {
            write!(f, " {}", self.fill)?;
        }
        order_by(f, &self.order_by)?;
        opt_int(f, "LIMIT", self.limit)?;
        opt_int(f, "OFFSET", self.offset)?;
        opt_int(f, "SLIMIT", self.slimit)?;
        opt_int(f, "SOFFSET", self.soffset)?;
        if let Some(tz) = &self.location {
            write!(f, " tz({})", quote_string(&tz.name))?;
        }
        Ok(())
    }
}

impl Display for ShowCardinalityStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let exact = if self.exact { " EXACT" } else { "" };
        match self.kind {
            CardinalityKind::Series => write!(f, "SHOW SERIES{} CARDINALITY", exact)?,
            CardinalityKind::Measurement => write!(f, "SHOW MEASUREMENT{} CARDINALITY", exact)?,
            CardinalityKind::TagKey => write!(f, "SHOW TAG KEY{} CARDINALITY", exact)?,
            CardinalityKind::TagValues => write!(f, "SHOW TAG VALUES{} CARDINALITY", exact)?,
            CardinalityKind::FieldKey => write!(f, "SHOW FIELD KEY{} CARDINALITY", exact)?,
        }
        on_db(f, &self.database)?;
        from(f, &self.sources)?;
        if let Some(k) = &self.tag_key {
            write!(f, " WITH KEY {}", k)?;
        }
        where_(f, &self.condition)?;
        group_by(f, &self.dimensions)?;
        opt_int(f, "LIMIT", self.limit)?;
        opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let qi = quote_ident;
        match self {
            Statement::Select(s) => write!(f, "{}", s),
            Statement::Explain { analyze, statement } => {
                write!(f, "EXPLAIN {}{}", if *analyze { "ANALYZE " } else { "" }, statement)
            }
            Statement::Delete(d) | Statement::DropSeries(d) => {
                f.write_str(if matches!(self, Statement::Delete(_)) {
                    "DELETE"
                } else {
                    "DROP SERIES"
                })?;
                from(f, &d.sources)?;
                where_(f, &d.condition)
            }
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowMeasurements(s) => {
                f.write_str("SHOW MEASUREMENTS")?;
                on_db(f, &s.database)?;
                if let Some(m) = &s.with_measurement {
                    let op = if m.regex.is_some() { "=~" } else { "=" };
                    write!(f, " WITH MEASUREMENT {} {}", op, m)?;
                }
                where_(f, &s.condition)?;
                order_by(f, &s.order_by)?;
                opt_int(f, "LIMIT", s.limit)?;
                opt_int(f, "OFFSET", s.offset)
            }
            Statement::ShowTagKeys(s) => {
                f.write_str("SHOW TAG KEYS")?;
                on_db(f, &s.database)?;
                from(f, &s.sources)?;
                where_(f, &s.condition)?;
                order_by(f, &s.order_by)?;
                opt_int(f, "LIMIT", s.limit)?;
                opt_int(f, "OFFSET", s.offset)?;
                opt_int(f, "SLIMIT", s.slimit)?;
                opt_int(f, "SOFFSET", s.soffset)
            }
            Statement::ShowTagValues(s) => {
                f.write_str("SHOW TAG VALUES")?;
                on_db(f, &s.database)?;
                from(f, &s.sources)?;
                write!(f, " WITH KEY {}", s.tag_key)?;
                where_(f, &s.condition)?;
                order_by(f, &s.order_by)?;
                opt_int(f, "LIMIT", s.limit)?;
                opt_int(f, "OFFSET", s.offset)
            }
            Statement::ShowFieldKeys(s) => {
                f.write_str("SHOW FIELD KEYS")?;
                on_db(f, &s.database)?;
                from(f, &s.sources)?;
                order_by(f, &s.order_by)?;
                opt_int(f, "LIMIT", s.limit)?;
                opt_int(f, "OFFSET", s.offset)
            }
            Statement::ShowSeries(s) => {
                f.write_str("SHOW SERIES")?;
                on_db(f, &s.database)?;
                from(f, &s.sources)?;
                where_(f, &s.condition)?;
                order_by(f, &s.order_by)?;
                opt_int(f, "LIMIT", s.limit)?;
                opt_int(f, "OFFSET", s.offset)
            }
            Statement::ShowCardinality(s) => write!(f, "{}", s),
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                on_db(f, database)
            }
            Statement::ShowUsers => f.write_str("SHOW USERS"),
            Statement::ShowGrants { user } => write!(f, "SHOW GRANTS FOR {}", qi(user)),
            Statement::ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            Statement::ShowQueries => f.write_str("SHOW QUERIES"),
            Statement::ShowShards => f.write_str("SHOW SHARDS"),
            Statement::ShowShardGroups => f.write_str("SHOW SHARD GROUPS"),
            Statement::ShowSubscriptions => f.write_str("SHOW SUBSCRIPTIONS"),
            Statement::ShowStats { module } | Statement::ShowDiagnostics { module } => {
                f.write_str(if matches!(self, Statement::ShowStats { .. }) {
                    "SHOW STATS"
                } else {
                    "SHOW DIAGNOSTICS"
                })?;
                if let Some(m) = module {
                    write!(f, " FOR {}", quote_string(m))?;
                }
                Ok(())
            }
            Statement::CreateDatabase(s) => {
                write!(f, "CREATE DATABASE {}", qi(&s.name))?;
                if let Some(rp) = &s.retention_policy {
                    f.write_str(" WITH")?;
                    if let Some(d) = rp.duration {
                        write!(f, " DURATION {}", rp_duration(d))?;
                    }
                    if let Some(r) = rp.replication {
                        write!(f, " REPLICATION {}", r)?;
                    }
                    if let Some(d) = rp.shard_duration {
                        write!(f, " SHARD DURATION {}", influxql_literal(d))?;
                    }
                    if let Some(n) = &rp.name {
                        write!(f, " NAME {}", qi(n))?;
                    }
                }
                Ok(())
            }
            Statement::DropDatabase { name } => write!(f, "DROP DATABASE {}", qi(name)),
            Statement::CreateRetentionPolicy(s) => {
                write!(
                    f,
                    "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
                    qi(&s.name),
                    qi(&s.database),
                    rp_duration(s.duration),
                    s.replication
                )?;
                if s.shard_duration > 0 {
                    write!(f, " SHARD DURATION {}", influxql_literal(s.shard_duration))?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            Statement::AlterRetentionPolicy(s) => {
                write!(f, "ALTER RETENTION POLICY {} ON {}", qi(&s.name), qi(&s.database))?;
                if let Some(d) = s.duration {
                    write!(f, " DURATION {}", rp_duration(d))?;
                }
                if let Some(r) = s.replication {
                    write!(f, " REPLICATION {}", r)?;
                }
                if let Some(d) = s.shard_duration {
                    write!(f, " SHARD DURATION {}", influxql_literal(d))?;
                }
                if s.default {
                    f.write_str(" DEFAULT")?;
                }
                Ok(())
            }
            Statement::DropRetentionPolicy { name, database } => {
                write!(f, "DROP RETENTION POLICY {} ON {}", qi(name), qi(database))
            }
            Statement::DropMeasurement { name } => write!(f, "DROP MEASUREMENT {}", qi(name)),
            Statement::DropShard { id } => write!(f, "DROP SHARD {}", id),
            Statement::CreateUser { name, password, admin } => {
                let pw = if f.alternate() { "[REDACTED]".to_string() } else { quote_string(password) };
                write!(f, "CREATE USER {} WITH PASSWORD {}", qi(name), pw)?;
                if *admin {
                    f.write_str(" WITH ALL PRIVILEGES")?;
                }
                Ok(())
            }
            Statement::DropUser { name } => write!(f, "DROP USER {}", qi(name)),
            Statement::SetPassword { user, password } => {
                let pw = if f.alternate() { "[REDACTED]".to_string() } else { quote_string(password) };
                write!(f, "SET PASSWORD FOR {} = {}", qi(user), pw)
            }
            Statement::Grant { privilege, on, user } => {
                write!(f, "GRANT {} ON {} TO {}", privilege, qi(on), qi(user))
            }
            Statement::GrantAdmin { user } => write!(f, "GRANT ALL PRIVILEGES TO {}", qi(user)),
            Statement::Revoke { privilege, on, user } => {
                write!(f, "REVOKE {} ON {} FROM {}", privilege, qi(on), qi(user))
            }
            Statement::RevokeAdmin { user } => {
                write!(f, "REVOKE ALL PRIVILEGES FROM {}", qi(user))
            }
            Statement::CreateContinuousQuery(s) => {
                write!(f, "CREATE CONTINUOUS QUERY {} ON {} ", qi(&s.name), qi(&s.database))?;
                if s.resample_every > 0 || s.resample_for > 0 {
                    f.write_str("RESAMPLE ")?;
                    if s.resample_every > 0 {
                        write!(f, "EVERY {} ", influxql_literal(s.resample_every))?;
                    }
                    if s.resample_for > 0 {
                        write!(f, "FOR {} ", influxql_literal(s.resample_for))?;
                    }
                }
                write!(f, "BEGIN {} END", s.source)
            }
            Statement::DropContinuousQuery { name, database } => {
                write!(f, "DROP CONTINUOUS QUERY {} ON {}", qi(name), qi(database))
            }
            Statement::CreateSubscription(s) => {
                write!(
                    f,
                    "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {} ",
                    qi(&s.name),
                    qi(&s.database),
                    qi(&s.retention_policy),
                    s.mode
                )?;
                for (i, d) in s.destinations.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote_string(d))?;
                }
                Ok(())
            }
            Statement::DropSubscription { name, database, retention_policy } => write!(
                f,
                "DROP SUBSCRIPTION {} ON {}.{}",
                qi(name),
                qi(database),
                qi(retention_policy)
            ),
            Statement::KillQuery { id, host } => {
                write!(f, "KILL QUERY {}", id)?;
                if let Some(h) = host {
                    write!(f, " ON {}", qi(h))?;
                }
                Ok(())
            }
        }
    }
}

/// `Display` for the statement structs, through their `Statement` variant.
macro_rules! display_via_statement {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl Display for $ty {
            fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
                Display::fmt(&Statement::$variant(self.clone()), f)
            }
        })*
    };
}

display_via_statement! {
    DeleteStatement => Delete,
    ShowMeasurementsStatement => ShowMeasurements,
    ShowTagKeysStatement => ShowTagKeys,
    ShowTagValuesStatement => ShowTagValues,
    ShowFieldKeysStatement => ShowFieldKeys,
    ShowSeriesStatement => ShowSeries,
    CreateDatabaseStatement => CreateDatabase,
    CreateRetentionPolicyStatement => CreateRetentionPolicy,
    AlterRetentionPolicyStatement => AlterRetentionPolicy,
    CreateContinuousQueryStatement => CreateContinuousQuery,
    CreateSubscriptionStatement => CreateSubscription,
}
