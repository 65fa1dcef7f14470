//! The parser's AST → the planner's `ir`.

use crate::influxql::ast as a;
use crate::influxql::reduce::{reduce, Valuer};

use super::ir::*;
use crate::model::FieldType;

pub fn binop(op: a::BinaryOp) -> BinOp {
    use a::BinaryOp as B;
    match op {
        B::Add => BinOp::Add,
        B::Sub => BinOp::Sub,
        B::Mul => BinOp::Mul,
        B::Div => BinOp::Div,
        B::Mod => BinOp::Mod,
        B::BitAnd => BinOp::BitAnd,
        B::BitOr => BinOp::BitOr,
        B::BitXor => BinOp::BitXor,
        B::And => BinOp::And,
        B::Or => BinOp::Or,
        B::Eq => BinOp::Eq,
        B::Neq => BinOp::Neq,
        B::EqRegex => BinOp::EqRegex,
        B::NeqRegex => BinOp::NeqRegex,
        B::Lt => BinOp::Lt,
        B::Lte => BinOp::Lte,
        B::Gt => BinOp::Gt,
        B::Gte => BinOp::Gte,
    }
}

fn hint(dt: Option<a::DataType>) -> Option<VarHint> {
    use a::DataType as D;
    match dt? {
        D::Float => Some(VarHint::Type(FieldType::Float)),
        D::Integer => Some(VarHint::Type(FieldType::Integer)),
        D::Unsigned => Some(VarHint::Type(FieldType::Unsigned)),
        D::String => Some(VarHint::Type(FieldType::String)),
        D::Boolean => Some(VarHint::Type(FieldType::Boolean)),
        D::Tag => Some(VarHint::Tag),
        D::AnyField => Some(VarHint::Field),
        D::Time | D::Duration => None,
    }
}

pub fn expr(e: &a::Expr) -> Expr {
    match e {
        a::Expr::VarRef { name, data_type } => Expr::Var { name: name.clone(), hint: hint(*data_type) },
        // Call names are lowercase already: the parser lowers them, as 1.x's does.
        a::Expr::Call { name, args } => Expr::Call { name: name.clone(), args: args.iter().map(expr).collect() },
        a::Expr::Distinct(name) => Expr::Call { name: "distinct".into(), args: vec![Expr::var(name)] },
        a::Expr::Binary { op, lhs, rhs } => Expr::bin(binop(*op), expr(lhs), expr(rhs)),
        a::Expr::Paren(x) => Expr::Paren(Box::new(expr(x))),
        a::Expr::Number(f) => Expr::Float(*f),
        a::Expr::Integer(i) => Expr::Integer(*i),
        a::Expr::Unsigned(u) => Expr::Unsigned(*u),
        a::Expr::String(s) => Expr::Str(s.clone()),
        a::Expr::Boolean(b) => Expr::Bool(*b),
        a::Expr::Duration(d) => Expr::Duration(*d),
        a::Expr::Time(t) => Expr::Integer(*t),
        a::Expr::Regex(r) => Expr::Regex(r.regex.clone()),
        a::Expr::Wildcard(w) => Expr::Wildcard {
            hint: match w {
                a::WildcardType::All => None,
                a::WildcardType::Field => Some(VarHint::Field),
                a::WildcardType::Tag => Some(VarHint::Tag),
            },
        },
        a::Expr::BindParam(_) | a::Expr::Nil => Expr::Null,
    }
}

fn opt(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

pub fn source(s: &a::Source) -> Source {
    match s {
        a::Source::Measurement(m) => measurement(m),
        a::Source::Subquery(sel) => Source::Subquery(Box::new(select(sel))),
    }
}

pub fn measurement(m: &a::Measurement) -> Source {
    match &m.regex {
        Some(r) => Source::Regex { db: opt(&m.database), rp: opt(&m.retention_policy), re: r.regex.clone() },
        None => Source::Measurement { db: opt(&m.database), rp: opt(&m.retention_policy), name: m.name.clone() },
    }
}

/// A constant duration expression (`10m`, `-2m`, `0`).
fn const_duration(e: &a::Expr) -> Option<i64> {
    match e {
        a::Expr::Duration(d) | a::Expr::Integer(d) => Some(*d),
        a::Expr::Paren(x) => const_duration(x),
        a::Expr::Binary { op: a::BinaryOp::Sub, lhs, rhs } => Some(const_duration(lhs)? - const_duration(rhs)?),
        a::Expr::Binary { op: a::BinaryOp::Add, lhs, rhs } => Some(const_duration(lhs)? + const_duration(rhs)?),
        _ => None,
    }
}

pub fn select(s: &a::SelectStatement) -> Select {
    let mut dims = Vec::new();
    for d in &s.dimensions {
        // 1.x reduces GROUP BY expressions first: `(time(1m))`, `time(10m - 1m)`.
        match &reduce(&d.expr, Valuer::None) {
            a::Expr::Call { name, args } if name.eq_ignore_ascii_case("time") => {
                let every = args.first().and_then(const_duration).unwrap_or(0);
                let offset = args.get(1).and_then(const_duration).unwrap_or(0);
                dims.push(Dimension::Time { every, offset });
            }
            a::Expr::VarRef { name, .. } => dims.push(Dimension::Tag(name.clone())),
            a::Expr::Regex(r) => dims.push(Dimension::Regex(r.regex.clone())),
            a::Expr::Wildcard(_) => dims.push(Dimension::Wildcard),
            a::Expr::String(name) => dims.push(Dimension::Tag(name.clone())),
            _ => {}
        }
    }
    Select {
        // Fields are reduced as 1.x's compiler reduces them (`derivative(x, 1s + 1s)` has a 2s unit).
        fields: s
            .fields
            .iter()
            .map(|f| Field { expr: expr(&reduce(&f.expr, Valuer::Math)), alias: f.alias.clone().filter(|a| !a.is_empty()) })
            .collect(),
        sources: s.sources.iter().map(source).collect(),
        condition: s.condition.as_ref().map(expr),
        dimensions: dims,
        fill: match &s.fill {
            a::Fill::Null => Fill::Null,
            a::Fill::None => Fill::None,
            a::Fill::Previous => Fill::Previous,
            a::Fill::Linear => Fill::Linear,
            a::Fill::Integer(i) => Fill::Value(FillValue::Integer(*i)),
            a::Fill::Float(f) => Fill::Value(FillValue::Float(*f)),
        },
        order_desc: s.order_desc(),
        limit: s.limit,
        offset: s.offset,
        slimit: s.slimit,
        soffset: s.soffset,
        tz: s.location.as_ref().map(|l| l.zone),
        into: s.into.as_ref().map(|t| Target {
            db: opt(&t.measurement.database),
            rp: opt(&t.measurement.retention_policy),
            measurement: t.measurement.name.clone(),
        }),
    }
}
