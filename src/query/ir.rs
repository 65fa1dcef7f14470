//! The planner's own view of a SELECT: the parser's AST lowered into what the evaluator needs
//! (see `lower.rs`). Kept separate so the evaluator does not follow every AST detail.

use regex::Regex;

use crate::model::FieldType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VarHint {
    Field,
    Tag,
    Type(FieldType),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    EqRegex,
    NeqRegex,
    And,
    Or,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Neq | BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte | BinOp::EqRegex | BinOp::NeqRegex
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Eq => "=",
            BinOp::Neq => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::EqRegex => "=~",
            BinOp::NeqRegex => "!~",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Expr {
    Var { name: String, hint: Option<VarHint> },
    /// `*` (with an optional `::field` / `::tag`).
    Wildcard { hint: Option<VarHint> },
    Regex(Regex),
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Str(String),
    Bool(bool),
    /// A duration literal, nanoseconds.
    Duration(i64),
    /// A bind parameter left unbound, or anything the planner cannot use.
    Null,
    Call { name: String, args: Vec<Expr> },
    Binary { op: BinOp, lhs: Box<Expr>, rhs: Box<Expr> },
    Paren(Box<Expr>),
}

impl Expr {
    pub fn bin(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }
    pub fn var(name: &str) -> Expr {
        Expr::Var { name: name.to_string(), hint: None }
    }
    #[allow(dead_code)]
    pub fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call { name: name.to_string(), args }
    }
    /// Strips parentheses.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(inner) = e {
            e = inner;
        }
        e
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub expr: Expr,
    pub alias: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Source {
    Measurement { db: Option<String>, rp: Option<String>, name: String },
    Regex { db: Option<String>, rp: Option<String>, re: Regex },
    Subquery(Box<Select>),
}

#[derive(Debug, Clone)]
pub enum Dimension {
    /// `time(every[, offset])`; offset may be negative as written.
    Time { every: i64, offset: i64 },
    Tag(String),
    Regex(Regex),
    Wildcard,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    Null,
    None,
    Previous,
    Linear,
    Value(FillValue),
}

#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code)]
pub enum FillValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, Default)]
pub struct Target {
    pub db: Option<String>,
    pub rp: Option<String>,
    pub measurement: String,
}

#[derive(Debug, Clone)]
pub struct Select {
    pub fields: Vec<Field>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub dimensions: Vec<Dimension>,
    pub fill: Fill,
    pub order_desc: bool,
    pub limit: u64,
    pub offset: u64,
    pub slimit: u64,
    pub soffset: u64,
    /// `tz()`: the zone resolved when the statement was parsed (`rules::tz`).
    pub tz: Option<chrono_tz::Tz>,
    /// `INTO [db.][rp.]measurement`; an empty measurement means `:MEASUREMENT` (the source's).
    pub into: Option<Target>,
}

impl Default for Select {
    fn default() -> Self {
        Select {
            fields: vec![],
            sources: vec![],
            condition: None,
            dimensions: vec![],
            fill: Fill::Null,
            order_desc: false,
            limit: 0,
            offset: 0,
            slimit: 0,
            soffset: 0,
            tz: None,
            into: None,
        }
    }
}
