//! The field part of a WHERE clause a store may apply while it scans ([`FieldCondition`] in a
//! `ScanRequest`): derived from the compiled condition, so that it names exactly the fields the
//! evaluator reads.
//!
//! **Why it cannot change an answer.** The evaluator still applies the whole condition to every
//! row a scan answers ([`Compiled::keeps`]); the pre-filter only has to keep every row the
//! condition keeps. 1.x evaluates a condition per point: the storage engine reads the
//! condition's fields along with the selected ones and drops a point unless
//! `influxql.EvalBool(opt.Condition, valuer)` is true (`tsdb/engine/tsm1/iterator.gen.go`, the
//! `*Iterator.Next` methods; a field the point lacks is `nil` in the valuer). There
//! (`ValuerEval.evalBinaryExpr` in influxql's `ast.go`) and in `eval::compare` here, a comparison
//! with a null or with a value of an incomparable type is not true, integers compare with
//! floats and unsigned as float64s, integers with integers exactly, strings and booleans only by
//! `=`/`!=`; `AND`/`OR` are monotone (InfluxQL has no `NOT`). So the pre-filter is the condition
//! with every part it cannot say exactly replaced by `true`:
//!
//! * a comparison of a field (read as it is stored, no `::type` cast) with a literal becomes
//!   `FieldCondition::Cmp`, its literal typed as `eval::compare` compares it (a float literal for
//!   a mixed int/float or int/unsigned comparison, the exact integer otherwise); a comparison of
//!   kinds that never compare true (a string field with a number, a regex, a tag, time, math) is
//!   `true`;
//! * `a AND b` keeps what it can of both sides; `a OR b` is `true` unless both sides are
//!   comparisons it keeps.
//!
//! Replacing a part by `true` only widens a monotone condition, so the rows it keeps are a
//! superset of the condition's. A row the pre-filter drops fails the condition, so it would be
//! dropped anyway (whatever fields `SELECT *` reads: the filter decides per point, the store
//! still answers every field of a point it keeps). Aggregates with a field condition are not
//! pushed down (`aggregate_measurement`), so the pre-filter only narrows their scan too.

use crate::backend::{CmpOp, FieldCondition, FieldLiteral};

use super::*;

/// The pre-filter of a compiled row condition `ce` over the scanned fields `scan` of `m`.
pub(super) fn derive(ce: &CExpr, scan: &[String], m: &MeasInfo) -> FieldCondition {
    match ce {
        CExpr::Bin(BinOp::And, a, b) => match (derive(a, scan, m), derive(b, scan, m)) {
            (FieldCondition::True, x) | (x, FieldCondition::True) => x,
            (a, b) => FieldCondition::And(Box::new(a), Box::new(b)),
        },
        CExpr::Bin(BinOp::Or, a, b) => match (derive(a, scan, m), derive(b, scan, m)) {
            (FieldCondition::True, _) | (_, FieldCondition::True) => FieldCondition::True,
            (a, b) => FieldCondition::Or(Box::new(a), Box::new(b)),
        },
        CExpr::Bin(op, a, b) => match (a.as_ref(), b.as_ref()) {
            (CExpr::Col(i, None), CExpr::Lit(v)) => comparison(scan, m, *i, cmp_op(*op), v),
            (CExpr::Lit(v), CExpr::Col(i, None)) => comparison(scan, m, *i, cmp_op(*op).map(flip), v),
            _ => FieldCondition::True,
        },
        _ => FieldCondition::True,
    }
}

fn cmp_op(op: BinOp) -> Option<CmpOp> {
    Some(match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::Neq => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::Lte => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::Gte => CmpOp::Ge,
        _ => return None,
    })
}

/// `lit <op> field` as `field <op'> lit`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

/// Scanned field `i` compared with `v`, typed as `eval::compare` compares a value of the
/// field's type with it; `True` where that comparison is not one of [`FieldLiteral`]'s.
fn comparison(scan: &[String], m: &MeasInfo, i: usize, op: Option<CmpOp>, v: &Value) -> FieldCondition {
    let (Some(op), Some(name)) = (op, scan.get(i)) else { return FieldCondition::True };
    let Some(ty) = m.fields.get(name) else { return FieldCondition::True };
    let eq_only = matches!(op, CmpOp::Eq | CmpOp::Ne);
    let lit = match (ty, v) {
        (FieldType::Integer, Value::Integer(x)) => FieldLiteral::Integer(*x),
        (FieldType::Unsigned, Value::Unsigned(x)) => FieldLiteral::Unsigned(*x),
        (FieldType::Float | FieldType::Integer | FieldType::Unsigned, Value::Float(x)) => FieldLiteral::Float(*x),
        (FieldType::Float | FieldType::Unsigned, Value::Integer(x)) => FieldLiteral::Float(*x as f64),
        (FieldType::Float | FieldType::Integer, Value::Unsigned(x)) => FieldLiteral::Float(*x as f64),
        (FieldType::String, Value::String(s)) if eq_only => FieldLiteral::String(s.clone()),
        (FieldType::Boolean, Value::Boolean(b)) if eq_only => FieldLiteral::Boolean(*b),
        _ => return FieldCondition::True,
    };
    FieldCondition::Cmp(name.clone(), op, lit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldValue;

    fn meas() -> MeasInfo {
        let fields: BTreeMap<String, FieldType> = [
            ("f", FieldType::Float),
            ("i", FieldType::Integer),
            ("u", FieldType::Unsigned),
            ("s", FieldType::String),
            ("b", FieldType::Boolean),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect();
        MeasInfo {
            name: "m".into(),
            db: "d".into(),
            rp: None,
            fields,
            tags: ["host".to_string()].into_iter().collect(),
            sub: None,
            sub_src: Vec::new(),
            untyped: BTreeSet::new(),
            sub_ordered: false,
            shard_dur: 0,
            tags_complete: true,
        }
    }

    fn parse_cond(text: &str) -> Expr {
        let q = format!("SELECT f FROM m WHERE {text}");
        let stmt = crate::influxql::parse_query(&q).expect("parses");
        let crate::influxql::ast::Statement::Select(s) = &stmt.statements[0] else { panic!("not a select") };
        crate::query::lower::select(s).condition.expect("has a condition")
    }

    /// The row condition and its pre-filter, compiled as the evaluator compiles them.
    fn both(text: &str) -> (Compiled, Vec<String>) {
        let m = meas();
        let e = parse_cond(text);
        let mut scan = vec!["f".to_string()];
        let c = compile_condition(&m, Some(&e), &mut scan).expect("compiles");
        (c, scan)
    }

    fn values() -> Vec<Value> {
        let mut v = vec![Value::Null];
        for f in [-1.5, 0.0, 0.5, 1.0, 2.0, 1e19, f64::MAX] {
            v.push(Value::Float(f));
        }
        for i in [-2i64, 0, 1, 2, i64::MAX] {
            v.push(Value::Integer(i));
        }
        for u in [0u64, 1, 2, u64::MAX] {
            v.push(Value::Unsigned(u));
        }
        v.extend([Value::String(String::new()), Value::String("a".into()), Value::Boolean(true), Value::Boolean(false)]);
        v
    }

    fn typed(v: &Value, t: FieldType) -> Option<FieldValue> {
        Some(match (t, v) {
            (FieldType::Float, Value::Float(x)) => FieldValue::Float(*x),
            (FieldType::Integer, Value::Integer(x)) => FieldValue::Integer(*x),
            (FieldType::Unsigned, Value::Unsigned(x)) => FieldValue::Unsigned(*x),
            (FieldType::String, Value::String(x)) => FieldValue::String(x.clone()),
            (FieldType::Boolean, Value::Boolean(x)) => FieldValue::Boolean(*x),
            _ => return None,
        })
    }

    /// Every row the condition keeps, the pre-filter keeps: over every typed value (and null)
    /// of the fields each condition names.
    #[test]
    fn keeps_a_superset() {
        let m = meas();
        let conds = [
            "f > 1", "f >= 1.0", "1 < f", "f = 2", "f != 2", "i > 1", "i > 1.5", "i = 2", "i != 2", "i < 18446744073709551615",
            "u > 1", "u = 1.0", "u <= 1", "s = 'a'", "s != ''", "s > 'a'", "s = 1", "b = true", "b != false", "b > true",
            "f > 1 AND i < 2", "f > 1 OR i < 2", "f > 1 OR host = 'a'", "(f > 1 OR s = 'a') AND b = true", "f > i",
            "f::integer > 1", "f > 1 AND host = 'x'", "nosuch > 1 OR f < 0",
        ];
        for text in conds {
            let (c, scan) = both(text);
            let pre = derive(c.cond.as_ref().expect("row condition"), &scan, &m);
            let vals = values();
            let n = scan.len();
            // Every combination of values of the first three scanned fields (the rest null).
            let mut idx = vec![0usize; n.min(3)];
            loop {
                let row: Vec<Value> = (0..n).map(|k| idx.get(k).map(|&j| vals[j].clone()).unwrap_or(Value::Null)).collect();
                let stored: Vec<Option<FieldValue>> =
                    scan.iter().zip(&row).map(|(name, v)| m.fields.get(name).and_then(|t| typed(v, *t))).collect();
                // A value the field's type cannot hold is not a row a store has.
                if row.iter().zip(&stored).all(|(v, s)| eval::is_null(v) == s.is_none()) {
                    let tags = vec![("host".to_string(), "a".to_string())];
                    let kept = c.keeps(n, &tags, 0, &row);
                    let get = |f: &str| scan.iter().position(|s| s == f).and_then(|k| stored[k].as_ref());
                    assert!(!kept || pre.holds(&get), "{text}: {row:?} kept by the condition, dropped by {pre:?}");
                }
                let mut k = 0;
                while k < idx.len() {
                    idx[k] += 1;
                    if idx[k] < vals.len() {
                        break;
                    }
                    idx[k] = 0;
                    k += 1;
                }
                if k == idx.len() {
                    break;
                }
            }
        }
    }

    #[test]
    fn shapes() {
        let m = meas();
        let pre = |text: &str| {
            let (c, scan) = both(text);
            derive(c.cond.as_ref().expect("row condition"), &scan, &m)
        };
        let cmp = |f: &str, op, lit| FieldCondition::Cmp(f.into(), op, lit);
        assert_eq!(pre("f > 90.0 AND host = 'h'"), cmp("f", CmpOp::Gt, FieldLiteral::Float(90.0)));
        assert_eq!(pre("90 < f"), cmp("f", CmpOp::Gt, FieldLiteral::Float(90.0)));
        assert_eq!(pre("i >= 3"), cmp("i", CmpOp::Ge, FieldLiteral::Integer(3)));
        assert_eq!(pre("i >= 3.5"), cmp("i", CmpOp::Ge, FieldLiteral::Float(3.5)));
        assert_eq!(pre("s = 'x'"), cmp("s", CmpOp::Eq, FieldLiteral::String("x".into())));
        assert_eq!(pre("s > 'x'"), FieldCondition::True);
        assert_eq!(pre("f > 1 OR host = 'h'"), FieldCondition::True);
        assert_eq!(pre("f::integer > 1"), FieldCondition::True);
        assert_eq!(
            pre("f > 1 OR b = true"),
            FieldCondition::Or(Box::new(cmp("f", CmpOp::Gt, FieldLiteral::Float(1.0))), Box::new(cmp("b", CmpOp::Eq, FieldLiteral::Boolean(true))))
        );
    }
}
