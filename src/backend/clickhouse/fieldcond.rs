//! A scan's field pre-filter ([`FieldCondition`]) as ClickHouse SQL.
//!
//! A point may be stored as several rows (a point written again is a new row with a higher
//! `_seq`; the scan merges them: each field takes its value from the latest row that has one), so
//! the condition cannot simply filter rows: a row holding only `usage_system` belongs to a point
//! whose `usage_user` passes, and a point's fields may pass only when merged. The scan therefore
//! keeps whole points, `(_series, time) IN (SELECT _series, time ... WHERE <row condition>)`, where
//! the row condition is [`row_sql`]: the condition with every comparison `f <op> x` widened to
//! `ifNull(f <op> x, 1)`, true on a row where `f` is NULL.
//!
//! Why that keeps every point whose merged value passes: take, among the latest rows holding each
//! field the condition names, the latest one, R. For every such field `f`, R either is the latest
//! row holding `f` (so R's `f` is the merged `f`) or comes after it (so R's `f` is NULL, and the
//! widened comparison is true). Each widened comparison on R is thus at least as true as the
//! comparison on the merged point, and AND/OR are monotone, so R passes when the point does.
//! A point the filter keeps in excess is dropped by the evaluator, which applies the whole WHERE
//! clause to the merged point.
//!
//! Values are written exactly: integers as `toInt64('N')`/`toUInt64('N')` (see `dialect`), floats
//! by their IEEE bits (`reinterpretAsFloat64(unhex('<little-endian bytes>'))`, no decimal text to
//! parse), an integer column compared with a float literal through `toFloat64` (a conversion to
//! the nearest double, as `FieldCondition` compares), strings through `dialect::string`.
//! `ifNull` makes every comparison non-NULL, so `AND`/`OR` need no three-valued logic (18.16's
//! `or` of a NULL is NULL). A comparison of a field the table has no column for, or of another
//! type than the literal's, is `1`.

use super::dialect::{ident, int, string};
use super::schema::TableSchema;
use crate::backend::{CmpOp, FieldCondition, FieldLiteral};
use crate::model::FieldType;

/// Deepest condition rendered (deeper: no filter; current ClickHouse refuses statements nested
/// past `max_parser_depth`).
const MAX_DEPTH: usize = 64;

/// The row condition of the module docs, or `None` when it filters nothing.
pub fn row_sql(cond: &FieldCondition, s: &TableSchema) -> Option<String> {
    render(cond, s, 0).filter(|sql| sql != "1")
}

fn render(cond: &FieldCondition, s: &TableSchema, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match cond {
        FieldCondition::True => "1".to_string(),
        FieldCondition::Cmp(field, op, lit) => comparison(field, *op, lit, s),
        FieldCondition::And(a, b) => {
            let (a, b) = (render(a, s, depth + 1)?, render(b, s, depth + 1)?);
            match (a.as_str(), b.as_str()) {
                ("1", _) => b,
                (_, "1") => a,
                _ => format!("({a} AND {b})"),
            }
        }
        FieldCondition::Or(a, b) => {
            let (a, b) = (render(a, s, depth + 1)?, render(b, s, depth + 1)?);
            if a == "1" || b == "1" {
                "1".to_string()
            } else {
                format!("({a} OR {b})")
            }
        }
    })
}

fn comparison(field: &str, op: CmpOp, lit: &FieldLiteral, s: &TableSchema) -> String {
    let Some((col, ty)) = s.fields.get(field) else { return "1".into() };
    let col = ident(col);
    let (lhs, rhs) = match (ty, lit) {
        (FieldType::Float, FieldLiteral::Float(x)) => (col, float(*x)),
        (FieldType::Integer | FieldType::Unsigned, FieldLiteral::Float(x)) => (format!("toFloat64({col})"), float(*x)),
        (FieldType::Integer, FieldLiteral::Integer(x)) => (col, int(*x)),
        (FieldType::Unsigned, FieldLiteral::Unsigned(x)) => (col, format!("toUInt64('{x}')")),
        (FieldType::String, FieldLiteral::String(x)) => (col, string(x)),
        (FieldType::Boolean, FieldLiteral::Boolean(x)) => (col, format!("toUInt8({})", u8::from(*x))),
        _ => return "1".into(),
    };
    let op = match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    };
    format!("ifNull({lhs} {op} {rhs}, 1)")
}

/// `x` by its bits: ClickHouse reads a `String` of 8 little-endian bytes as a `Float64`.
fn float(x: f64) -> String {
    let hex: String = x.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect();
    format!("reinterpretAsFloat64(unhex('{hex}'))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let mut s = TableSchema::default();
        s.fields.insert("f".into(), ("f".into(), FieldType::Float));
        s.fields.insert("i".into(), ("i".into(), FieldType::Integer));
        s.fields.insert("s".into(), ("s".into(), FieldType::String));
        let cmp = |f: &str, op, lit| FieldCondition::Cmp(f.into(), op, lit);
        assert_eq!(row_sql(&FieldCondition::True, &s), None);
        assert_eq!(
            row_sql(&cmp("f", CmpOp::Gt, FieldLiteral::Float(1.0)), &s).as_deref(),
            Some("ifNull(`f` > reinterpretAsFloat64(unhex('000000000000F03F')), 1)")
        );
        assert_eq!(row_sql(&cmp("i", CmpOp::Le, FieldLiteral::Float(1.5)), &s).as_deref(), Some("ifNull(toFloat64(`i`) <= reinterpretAsFloat64(unhex('000000000000F83F')), 1)"));
        assert_eq!(row_sql(&cmp("s", CmpOp::Eq, FieldLiteral::String("a'b".into())), &s).as_deref(), Some("ifNull(`s` = 'a\\'b', 1)"));
        // No column, or a literal of another type: no filter.
        assert_eq!(row_sql(&cmp("nosuch", CmpOp::Eq, FieldLiteral::Integer(1)), &s), None);
        assert_eq!(row_sql(&cmp("s", CmpOp::Eq, FieldLiteral::Integer(1)), &s), None);
        let or = FieldCondition::Or(Box::new(cmp("i", CmpOp::Eq, FieldLiteral::Integer(2))), Box::new(cmp("nosuch", CmpOp::Eq, FieldLiteral::Integer(1))));
        assert_eq!(row_sql(&or, &s), None);
        let and = FieldCondition::And(Box::new(cmp("i", CmpOp::Eq, FieldLiteral::Integer(2))), Box::new(cmp("nosuch", CmpOp::Eq, FieldLiteral::Integer(1))));
        assert_eq!(row_sql(&and, &s).as_deref(), Some("ifNull(`i` = toInt64('2'), 1)"));
        let mut deep = cmp("i", CmpOp::Eq, FieldLiteral::Integer(2));
        for _ in 0..100 {
            deep = FieldCondition::And(Box::new(deep), Box::new(cmp("f", CmpOp::Gt, FieldLiteral::Float(0.0))));
        }
        assert_eq!(row_sql(&deep, &s), None);
    }
}
