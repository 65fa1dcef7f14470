//! 1.x's `validateTypes` (query/select.go, influxql `TypeValuerEval`): once `*` and regexes are
//! expanded against the catalog, every field of the outermost statement is typed, and a binary
//! expression whose operand types do not combine is an error: `type error: usage_user::float +
//! 'a': incompatible types: float and string`. Subqueries are not checked (1.x types only the
//! statement it prepares).
//!
//! 1.x decides whether two types combine by evaluating the operator over their zero values (a
//! string and a float give nothing for `+`; any two values compare, giving false); a tag reads
//! as a string, so `tag + tag` fails like `string + string` while `tag = 'x'` passes. An unknown
//! type (a field no source has) combines with anything. Calls give the types of 1.x's function
//! type mappers (mean float, count integer, elapsed integer, the transformations float, most
//! others their first argument's type).

use super::*;
use crate::rules::function_kinds::ResultType;

/// influxql's `DataType`, as far as fields can have one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DataType {
    Unknown,
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
    Tag,
}

impl DataType {
    fn name(self) -> &'static str {
        match self {
            DataType::Unknown => "unknown",
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Tag => "tag",
        }
    }

    fn of_field(t: FieldType) -> DataType {
        match t {
            FieldType::Float => DataType::Float,
            FieldType::Integer => DataType::Integer,
            FieldType::Unsigned => DataType::Unsigned,
            FieldType::String => DataType::String,
            FieldType::Boolean => DataType::Boolean,
        }
    }
}

/// Checks the types of the (expanded) fields of the outermost statement. Tags are typed too:
/// the tag keys of the sources are listed when a field computes with a name that is not a field.
pub(super) async fn type_check(backend: &dyn Backend, fields: &[Field], metas: &mut [MeasInfo]) -> QResult<()> {
    let unknown = |n: &str| !metas.iter().any(|m| m.fields.contains_key(n));
    if fields.iter().any(|f| computes(&f.expr) && names(&f.expr).iter().any(|n| unknown(n))) {
        complete_tags(backend, metas).await?;
    }
    fields.iter().try_for_each(|f| eval_type(&f.expr, metas).map(|_| ()))
}

/// Whether an expression has arithmetic or math in it (where a type can be wrong).
fn computes(e: &Expr) -> bool {
    match e {
        Expr::Binary { op, .. } if !op.is_comparison() => true,
        Expr::Binary { lhs, rhs, .. } => computes(lhs) || computes(rhs),
        Expr::Call { name, args } => function_kinds::is_math(name) || args.iter().any(computes),
        Expr::Paren(x) => computes(x),
        _ => false,
    }
}

/// The variable names an expression reads.
fn names(e: &Expr) -> Vec<&str> {
    match e {
        Expr::Var { name, .. } => vec![name.as_str()],
        Expr::Binary { lhs, rhs, .. } => [names(lhs), names(rhs)].concat(),
        Expr::Call { args, .. } => args.iter().flat_map(names).collect(),
        Expr::Paren(x) => names(x),
        _ => vec![],
    }
}

/// The type of a variable: its cast, else what the sources say (a field's type, or tag).
fn var_type(name: &str, hint: Option<VarHint>, metas: &[MeasInfo]) -> DataType {
    match hint {
        Some(VarHint::Type(t)) => return DataType::of_field(t),
        Some(VarHint::Tag) => return DataType::Tag,
        _ => {}
    }
    if let Some(m) = metas.iter().find(|m| m.fields.contains_key(name)) {
        if m.untyped.contains(name) {
            return DataType::Unknown;
        }
        return DataType::of_field(m.fields[name]);
    }
    if hint.is_none() && metas.iter().any(|m| m.tags.contains(name)) {
        return DataType::Tag;
    }
    DataType::Unknown
}

/// `TypeValuerEval.EvalType`.
fn eval_type(e: &Expr, metas: &[MeasInfo]) -> QResult<DataType> {
    Ok(match e {
        Expr::Var { name, hint } => var_type(name, *hint, metas),
        Expr::Paren(inner) => eval_type(inner, metas)?,
        Expr::Float(_) => DataType::Float,
        Expr::Integer(_) => DataType::Integer,
        Expr::Unsigned(_) => DataType::Unsigned,
        Expr::Str(_) => DataType::String,
        Expr::Bool(_) => DataType::Boolean,
        Expr::Call { name, args } => {
            let types = args.iter().map(|a| eval_type(a, metas)).collect::<QResult<Vec<_>>>()?;
            call_type(name, &types)?
        }
        Expr::Binary { op, lhs, rhs } => {
            let (l, r) = (eval_type(lhs, metas)?, eval_type(rhs, metas)?);
            binary_type(*op, (lhs, l), (rhs, r)).map_err(|why| format!("type error: {}: {why}", text(e, metas)))?
        }
        _ => DataType::Unknown,
    })
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Float(_) | Expr::Integer(_) | Expr::Unsigned(_) | Expr::Str(_) | Expr::Bool(_) | Expr::Duration(_) | Expr::Regex(_) | Expr::Null)
}

/// The type of `lhs op rhs`, or why they do not combine.
fn binary_type(op: BinOp, (le, l): (&Expr, DataType), (re, r): (&Expr, DataType)) -> Result<DataType, String> {
    use DataType::*;
    let o = op.as_str();
    if (l, r) == (Unsigned, Integer) || (l, r) == (Integer, Unsigned) {
        let (unsigned_side, integer_side) = if l == Unsigned { (le, re) } else { (re, le) };
        if is_literal(if l == Unsigned { unsigned_side } else { integer_side }) {
            return Err(format!("cannot use {o} with an integer and unsigned literal"));
        }
        if !is_literal(if l == Unsigned { integer_side } else { unsigned_side }) {
            return Err(format!("cannot use {o} between an integer and unsigned, an explicit cast is required"));
        }
    }
    if l == Unknown {
        return Ok(r);
    }
    if r == Unknown {
        return Ok(l);
    }
    zero_value_type(op, l, r).ok_or_else(|| format!("incompatible types: {} and {}", l.name(), r.name()))
}

/// What 1.x's `Eval` of `op` over the zero values of `l` and `r` gives (`None`: nil).
fn zero_value_type(op: BinOp, l: DataType, r: DataType) -> Option<DataType> {
    use BinOp::*;
    use DataType::*;
    let number = |t: DataType| matches!(t, Float | Integer | Unsigned);
    let comparison = matches!(op, Eq | Neq | Lt | Lte | Gt | Gte);
    let arith = matches!(op, Add | Sub | Mul | Div | Mod);
    let bitwise = matches!(op, BitAnd | BitOr | BitXor);
    let given = match (l, r) {
        (Boolean, _) if matches!(op, And | Or | BitAnd | BitOr | BitXor | Eq | Neq) => Some(Boolean),
        (Float, _) if comparison => Some(Boolean),
        (Float, _) if arith => number(r).then_some(Float),
        (Integer | Unsigned, _) if comparison && number(r) => Some(Boolean),
        (Integer | Unsigned, Float) if arith => Some(Float),
        (Integer, Integer) if arith || bitwise => Some(Integer),
        (Integer, Unsigned) | (Unsigned, Integer | Unsigned) if arith || bitwise => Some(Unsigned),
        (String | Tag, _) if matches!(op, Eq | Neq | EqRegex | NeqRegex) => Some(Boolean),
        _ => None,
    };
    given.or_else(|| comparison.then_some(Boolean))
}

/// The types 1.x's function type mappers give a call (`FunctionTypeMapper`, then
/// `MathTypeMapper` when that one knows nothing).
fn call_type(name: &str, args: &[DataType]) -> QResult<DataType> {
    let first = args.first().copied().unwrap_or(DataType::Unknown);
    let t = match function_kinds::result_type(name) {
        ResultType::Float => DataType::Float,
        ResultType::Integer => DataType::Integer,
        ResultType::FirstArgument => first,
    };
    if t != DataType::Unknown || !function_kinds::is_math(name) {
        return Ok(t);
    }
    // The math mapper: only a second argument can fail here (the first is unknown).
    if let ("atan2" | "pow", Some(second)) = (name, args.get(1)) {
        if !matches!(second, DataType::Float | DataType::Integer | DataType::Unsigned | DataType::Unknown) {
            return Err(format!("invalid argument type for the second argument in {name}(): {}", second.name()).into());
        }
    }
    Ok(if matches!(name, "abs" | "floor" | "ceil" | "round") { first } else { DataType::Float })
}

/// An expression as 1.x prints it in a type error: variables with their types.
fn text(e: &Expr, metas: &[MeasInfo]) -> String {
    match e {
        Expr::Var { name, hint } => {
            let shown = crate::influxql::quote_ident(name);
            match var_type(name, *hint, metas) {
                DataType::Unknown => shown,
                t => format!("{shown}::{}", t.name()),
            }
        }
        Expr::Integer(i) => i.to_string(),
        Expr::Unsigned(u) => u.to_string(),
        Expr::Float(f) => format!("{f:.3}"),
        Expr::Str(s) => crate::influxql::quote_string(s),
        Expr::Bool(b) => b.to_string(),
        Expr::Duration(d) => crate::rules::durations::influxql_literal(*d),
        Expr::Regex(r) => format!("/{}/", r.as_str()),
        Expr::Paren(x) => format!("({})", text(x, metas)),
        Expr::Binary { op, lhs, rhs } => format!("{} {} {}", text(lhs, metas), op.as_str(), text(rhs, metas)),
        Expr::Call { name, args } => {
            format!("{name}({})", args.iter().map(|a| text(a, metas)).collect::<Vec<_>>().join(", "))
        }
        Expr::Wildcard { .. } => "*".into(),
        Expr::Null => "nil".into(),
    }
}
