//! InfluxQL abstract syntax tree, as produced by [`crate::influxql::parse_query`].
//!
//! The shapes follow InfluxDB 1.x's `influxql` package (1.6.x era), simplified for Rust:
//! identifiers that 1.x keeps as possibly-empty strings (database, retention policy of a
//! measurement) stay `String`s where `""` means "not given", exactly like 1.x. Statement-level
//! `ON <db>` clauses are `Option<String>`.
//!
//! Every node implements `Display`, printing canonical InfluxQL that parses back into the same
//! AST (see `display.rs`).

use std::fmt;

/// A query: one or more statements separated by `;`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub statements: Vec<Statement>,
}

impl std::ops::Deref for Query {
    type Target = Vec<Statement>;
    fn deref(&self) -> &Vec<Statement> {
        &self.statements
    }
}

impl std::ops::DerefMut for Query {
    fn deref_mut(&mut self) -> &mut Vec<Statement> {
        &mut self.statements
    }
}

impl IntoIterator for Query {
    type Item = Statement;
    type IntoIter = std::vec::IntoIter<Statement>;
    fn into_iter(self) -> Self::IntoIter {
        self.statements.into_iter()
    }
}

/// One InfluxQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Box<SelectStatement>),
    /// `EXPLAIN [ANALYZE] SELECT ...`
    Explain { analyze: bool, statement: Box<SelectStatement> },
    /// `DELETE [FROM sources] [WHERE cond]` (1.x's DeleteSeriesStatement)
    Delete(DeleteStatement),
    /// `DROP SERIES [FROM sources] [WHERE cond]`
    DropSeries(DeleteStatement),
    ShowDatabases,
    ShowMeasurements(ShowMeasurementsStatement),
    ShowTagKeys(ShowTagKeysStatement),
    ShowTagValues(ShowTagValuesStatement),
    ShowFieldKeys(ShowFieldKeysStatement),
    ShowSeries(ShowSeriesStatement),
    /// `SHOW {SERIES|MEASUREMENT|TAG KEY|TAG VALUES|FIELD KEY} [EXACT] CARDINALITY ...`
    ShowCardinality(ShowCardinalityStatement),
    ShowRetentionPolicies { database: Option<String> },
    ShowUsers,
    ShowGrants { user: String },
    ShowContinuousQueries,
    ShowQueries,
    ShowShards,
    ShowShardGroups,
    ShowSubscriptions,
    ShowStats { module: Option<String> },
    ShowDiagnostics { module: Option<String> },
    CreateDatabase(CreateDatabaseStatement),
    DropDatabase { name: String },
    CreateRetentionPolicy(CreateRetentionPolicyStatement),
    AlterRetentionPolicy(AlterRetentionPolicyStatement),
    DropRetentionPolicy { name: String, database: String },
    DropMeasurement { name: String },
    DropShard { id: u64 },
    CreateUser { name: String, password: String, admin: bool },
    DropUser { name: String },
    SetPassword { user: String, password: String },
    Grant { privilege: Privilege, on: String, user: String },
    GrantAdmin { user: String },
    Revoke { privilege: Privilege, on: String, user: String },
    RevokeAdmin { user: String },
    CreateContinuousQuery(CreateContinuousQueryStatement),
    DropContinuousQuery { name: String, database: String },
    CreateSubscription(CreateSubscriptionStatement),
    DropSubscription { name: String, database: String, retention_policy: String },
    KillQuery { id: u64, host: Option<String> },
}

/// `SELECT ...`
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectStatement {
    pub fields: Vec<Field>,
    /// `INTO target`
    pub into: Option<Target>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub dimensions: Vec<Dimension>,
    pub fill: Fill,
    /// `ORDER BY time [ASC|DESC]` / `ORDER BY ASC|DESC` (1.x allows only time).
    pub order_by: Option<SortField>,
    /// 0 = not given (1.x semantics: `LIMIT 0` means no limit).
    pub limit: u64,
    pub offset: u64,
    pub slimit: u64,
    pub soffset: u64,
    /// `tz('Area/City')`
    pub location: Option<Location>,
}

/// A statement's `tz(name)`: the name as written and the zone it resolved to when parsed
/// (`rules::tz`).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub name: String,
    pub zone: chrono_tz::Tz,
}

impl SelectStatement {
    /// True for `ORDER BY time DESC`.
    pub fn order_desc(&self) -> bool {
        matches!(&self.order_by, Some(s) if !s.ascending)
    }

    /// True when no field contains a function call (1.x `IsRawQuery`).
    pub fn is_raw_query(&self) -> bool {
        !self.fields.iter().any(|f| f.expr.contains_call())
    }

    /// The `time(...)` dimension, if any: `(interval_ns, offset_expr)`.
    /// Errors with 1.x's texts when the call is malformed.
    pub fn group_by_time(&self) -> Result<Option<(i64, Option<&Expr>)>, String> {
        for d in &self.dimensions {
            if let Expr::Call { name, args } = &d.expr {
                if name == "time" {
                    if args.is_empty() || args.len() > 2 {
                        return Err("time dimension expected 1 or 2 arguments".into());
                    }
                    let iv = match &args[0] {
                        Expr::Duration(v) => *v,
                        _ => return Err("time dimension must have duration argument".into()),
                    };
                    return Ok(Some((iv, args.get(1))));
                }
            }
        }
        Ok(None)
    }
}

/// `INTO [db.][rp.]measurement` or `INTO [db.][rp.]:MEASUREMENT` (name empty = back-reference).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    pub measurement: Measurement,
}

/// One selected field: `expr [AS alias]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub expr: Expr,
    pub alias: Option<String>,
}

impl Field {
    /// The column name 1.x gives this field (`Field.Name()`): the alias, else the call name,
    /// the var name, or the `_`-joined names of a binary expression; "" otherwise.
    pub fn name(&self) -> String {
        if let Some(a) = &self.alias {
            if !a.is_empty() {
                return a.clone();
            }
        }
        expr_field_name(&self.expr)
    }
}

fn expr_field_name(e: &Expr) -> String {
    match e {
        Expr::Call { name, .. } => name.clone(),
        Expr::Binary { .. } => {
            let mut names = Vec::new();
            binary_names(e, &mut names);
            names.join("_")
        }
        Expr::Paren(inner) => expr_field_name(inner),
        Expr::VarRef { name, .. } => name.clone(),
        _ => String::new(),
    }
}

fn binary_names(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::VarRef { name, .. } => out.push(name.clone()),
        Expr::Call { name, .. } => out.push(name.clone()),
        Expr::Binary { lhs, rhs, .. } => {
            binary_names(lhs, out);
            binary_names(rhs, out);
        }
        Expr::Paren(inner) => binary_names(inner, out),
        _ => {}
    }
}

/// A `GROUP BY` element: `time(10m[, offset])`, a tag (`VarRef`), `*` or a regex.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub expr: Expr,
}

/// A data source in `FROM`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Measurement(Measurement),
    Subquery(Box<SelectStatement>),
}

/// `[db.][rp.]name` or `[db.][rp.]/regex/`. Empty strings mean "not given".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurement {
    pub database: String,
    pub retention_policy: String,
    pub name: String,
    pub regex: Option<RegexLiteral>,
}

/// `ORDER BY [name] ASC|DESC`
#[derive(Debug, Clone, PartialEq)]
pub struct SortField {
    /// `None` for `ORDER BY ASC|DESC`; otherwise always "time" (1.x rejects anything else).
    pub name: Option<String>,
    pub ascending: bool,
}

/// `fill(...)` option.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fill {
    #[default]
    Null,
    None,
    Previous,
    Linear,
    Integer(i64),
    Float(f64),
}

/// Cast given with `::type` on a variable reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
    Time,
    Duration,
    Tag,
    /// `::field`
    AnyField,
}

impl DataType {
    pub fn as_str(&self) -> &'static str {
        match self {
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Time => "time",
            DataType::Duration => "duration",
            DataType::Tag => "tag",
            DataType::AnyField => "field",
        }
    }
}

/// `*`, `*::field`, `*::tag`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WildcardType {
    All,
    Field,
    Tag,
}

/// Binary operators, with 1.x's precedence (see [`BinaryOp::precedence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
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
    /// `!=` (also written `<>`)
    Neq,
    /// `=~`
    EqRegex,
    /// `!~`
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl BinaryOp {
    /// 1.x precedence: OR 1, AND 2, comparisons 3, `+ - | ^` 4, `* / % &` 5.
    pub fn precedence(&self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And => 2,
            Eq | Neq | EqRegex | NeqRegex | Lt | Lte | Gt | Gte => 3,
            Add | Sub | BitOr | BitXor => 4,
            Mul | Div | Mod | BitAnd => 5,
        }
    }

    pub fn as_str(&self) -> &'static str {
        use BinaryOp::*;
        match self {
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
        }
    }

    /// Comparison operators (`= != =~ !~ < <= > >=`).
    pub fn is_comparison(&self) -> bool {
        self.precedence() == 3
    }

    /// Arithmetic / bitwise operators.
    pub fn is_math(&self) -> bool {
        self.precedence() >= 4
    }
}

/// A regular-expression literal: its source text (between the slashes, after 1.x's `\/`
/// unescaping) and the compiled Rust regex.
#[derive(Clone)]
pub struct RegexLiteral {
    pub source: String,
    pub regex: regex::Regex,
}

impl RegexLiteral {
    /// Compiles `source`; the error is 1.x's text (`error parsing regexp: ...`) where we can
    /// reproduce it.
    pub fn new(source: &str) -> Result<RegexLiteral, String> {
        crate::influxql::regex_compat::compile(source)
            .map(|regex| RegexLiteral { source: source.to_string(), regex })
    }
}

impl PartialEq for RegexLiteral {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for RegexLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegexLiteral({:?})", self.source)
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field or tag reference, optionally cast (`x::field`, `x::integer`, ...).
    /// Segmented names (`a.b`) are joined with `.`.
    VarRef { name: String, data_type: Option<DataType> },
    /// Function call; the name is lower-cased by the parser.
    Call { name: String, args: Vec<Expr> },
    /// `DISTINCT x` (without parentheses).
    Distinct(String),
    Binary { op: BinaryOp, lhs: Box<Expr>, rhs: Box<Expr> },
    Paren(Box<Expr>),
    /// Float literal (`1.5`).
    Number(f64),
    /// Integer literal (`15`).
    Integer(i64),
    /// Integer literal too large for i64 (`18446744073709551615`).
    Unsigned(u64),
    String(String),
    Boolean(bool),
    /// Duration literal in nanoseconds (`10m`).
    Duration(i64),
    /// Time literal in ns since the epoch. Never produced by the parser; for evaluators.
    Time(i64),
    Regex(RegexLiteral),
    Wildcard(WildcardType),
    /// `$name` bound parameter left in place (only when parsing without parameters).
    BindParam(String),
    /// `nil`; never produced by the parser.
    Nil,
}

impl Expr {
    /// Builds a binary expression.
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }

    /// A plain variable reference without cast.
    pub fn var(name: &str) -> Expr {
        Expr::VarRef { name: name.to_string(), data_type: None }
    }

    /// True if this expression or a sub-expression is a function call.
    pub fn contains_call(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if matches!(e, Expr::Call { .. }) {
                found = true;
            }
        });
        found
    }

    /// Pre-order walk over this expression and all sub-expressions (iterative: safe on deep trees).
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        let mut stack: Vec<&'a Expr> = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            match e {
                Expr::Call { args, .. } => stack.extend(args.iter().rev()),
                Expr::Binary { lhs, rhs, .. } => {
                    stack.push(rhs);
                    stack.push(lhs);
                }
                Expr::Paren(inner) => stack.push(inner),
                _ => {}
            }
        }
    }

    /// Mutable pre-order walk over this expression and all sub-expressions (recursive; parser
    /// output is depth-limited).
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        match self {
            Expr::Call { args, .. } => {
                for a in args.iter_mut() {
                    a.walk_mut(f);
                }
            }
            Expr::Binary { lhs, rhs, .. } => {
                lhs.walk_mut(f);
                rhs.walk_mut(f);
            }
            Expr::Paren(inner) => inner.walk_mut(f),
            _ => {}
        }
    }

    /// Tree depth (1 for a leaf), computed iteratively.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack: Vec<(&Expr, usize)> = vec![(self, 1)];
        while let Some((e, d)) = stack.pop() {
            if d > max {
                max = d;
            }
            match e {
                Expr::Call { args, .. } => stack.extend(args.iter().map(|a| (a, d + 1))),
                Expr::Binary { lhs, rhs, .. } => {
                    stack.push((lhs, d + 1));
                    stack.push((rhs, d + 1));
                }
                Expr::Paren(inner) => stack.push((inner, d + 1)),
                _ => {}
            }
        }
        max
    }
}

/// `WITH KEY ...` clause of SHOW TAG VALUES.
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyExpr {
    /// `WITH KEY = key`
    Eq(String),
    /// `WITH KEY != key`
    Neq(String),
    /// `WITH KEY =~ /re/`
    EqRegex(RegexLiteral),
    /// `WITH KEY !~ /re/`
    NeqRegex(RegexLiteral),
    /// `WITH KEY IN (k1, k2)`
    In(Vec<String>),
}

/// `DELETE` / `DROP SERIES` body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteStatement {
    /// Empty when no FROM was given.
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowMeasurementsStatement {
    pub database: Option<String>,
    /// `WITH MEASUREMENT = name` / `WITH MEASUREMENT =~ /re/` (regex set ⇒ `=~`).
    pub with_measurement: Option<Measurement>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortField>,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowTagKeysStatement {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortField>,
    pub limit: u64,
    pub offset: u64,
    pub slimit: u64,
    pub soffset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagValuesStatement {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub tag_key: TagKeyExpr,
    pub condition: Option<Expr>,
    pub order_by: Option<SortField>,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowFieldKeysStatement {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub order_by: Option<SortField>,
    pub limit: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShowSeriesStatement {
    pub database: Option<String>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub order_by: Option<SortField>,
    pub limit: u64,
    pub offset: u64,
}

/// What a `SHOW ... CARDINALITY` statement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardinalityKind {
    Series,
    Measurement,
    TagKey,
    TagValues,
    FieldKey,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShowCardinalityStatement {
    pub kind: CardinalityKind,
    pub exact: bool,
    pub database: Option<String>,
    pub sources: Vec<Source>,
    /// Only for `TagValues` (where it is required).
    pub tag_key: Option<TagKeyExpr>,
    pub condition: Option<Expr>,
    pub dimensions: Vec<Dimension>,
    pub limit: u64,
    pub offset: u64,
}

/// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateDatabaseStatement {
    pub name: String,
    /// `Some` when `WITH` was given.
    pub retention_policy: Option<CreateDatabaseRp>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateDatabaseRp {
    /// ns; `Some(0)` = INF
    pub duration: Option<i64>,
    pub replication: Option<u32>,
    /// ns
    pub shard_duration: Option<i64>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateRetentionPolicyStatement {
    pub name: String,
    pub database: String,
    /// ns; 0 = INF
    pub duration: i64,
    pub replication: u32,
    /// ns; 0 = not given
    pub shard_duration: i64,
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlterRetentionPolicyStatement {
    pub name: String,
    pub database: String,
    pub duration: Option<i64>,
    pub replication: Option<u32>,
    pub shard_duration: Option<i64>,
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateContinuousQueryStatement {
    pub name: String,
    pub database: String,
    /// ns; 0 = not given
    pub resample_every: i64,
    /// ns; 0 = not given
    pub resample_for: i64,
    pub source: Box<SelectStatement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateSubscriptionStatement {
    pub name: String,
    pub database: String,
    pub retention_policy: String,
    /// "ALL" or "ANY"
    pub mode: String,
    pub destinations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privilege {
    Read,
    Write,
    All,
}

impl Privilege {
    pub fn as_str(&self) -> &'static str {
        match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        }
    }
}

/// A bound parameter value (1.x `params` JSON, converted by the HTTP layer).
///
/// 1.x binds plain JSON values by type (string → `String`, number with `.` → `Float`, other
/// number → `Integer`, bool → `Boolean`) and one-entry objects by key: `{"identifier": "x"}`
/// (also `ident`), `{"regex": "..."}`, `{"string": ".."}`, `{"float"|"number": n}`,
/// `{"int"|"integer": n}`, `{"duration": "10m" | ns-integer}`. Anything else becomes `Error`
/// with 1.x's message (e.g. `unable to bind parameter with type <nil>`,
/// `bound object parameter value must have exactly one entry`,
/// `unknown bind object type: foo`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Identifier(String),
    Regex(String),
    /// Duration text as written in InfluxQL (`10m`); use `rules::durations::influxql_literal` for ns values.
    Duration(String),
    Error(String),
}
