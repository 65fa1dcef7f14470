//! SELECT ... INTO: the answer written back as points.

use super::*;

/// `SELECT ... INTO`: the answer's rows written as points (GROUP BY tags stay tags, columns
/// become fields), answered as 1.x does with the number of points written.
pub(super) async fn select_into(
    backend: &dyn Backend,
    ctx: &QueryContext,
    target: &crate::query::ir::Target,
    series: Vec<Series>,
) -> QResult<Vec<Series>> {
    use crate::model::{FieldValue, Point};
    let db = pick_db(ctx, &target.db)?;
    let mut points: Vec<Point> = Vec::new();
    for s in &series {
        let measurement = if target.measurement.is_empty() { s.name.clone() } else { target.measurement.clone() };
        for row in &s.values {
            let time = match row.first() {
                Some(Value::Time(t)) | Some(Value::Integer(t)) => *t,
                _ => 0,
            };
            let mut fields: Vec<(String, FieldValue)> = Vec::new();
            for (c, v) in s.columns.iter().zip(row.iter()).skip(1) {
                let fv = match v {
                    Value::Float(f) => FieldValue::Float(*f),
                    Value::Integer(i) => FieldValue::Integer(*i),
                    Value::Unsigned(u) => FieldValue::Unsigned(*u),
                    Value::String(x) => FieldValue::String(x.clone()),
                    Value::Boolean(b) => FieldValue::Boolean(*b),
                    Value::Time(t) => FieldValue::Integer(*t),
                    Value::Null => continue,
                };
                if !fields.iter().any(|(k, _)| k == c) {
                    fields.push((c.clone(), fv));
                }
            }
            if fields.is_empty() {
                continue;
            }
            let mut tags: Vec<(String, String)> = s.tags.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
            tags.sort();
            points.push(Point { measurement: measurement.clone(), tags, fields, time });
        }
    }
    let n = points.len();
    if n > 0 {
        let rp = target.rp.clone().or_else(|| ctx.rp.clone());
        backend
            .write(crate::backend::WriteBatch { db, rp, points: points.into() })
            .await
            ?;
    }
    Ok(vec![Series {
        name: "result".into(),
        tags: vec![],
        columns: vec!["time".into(), "written".into()],
        values: vec![vec![Value::Time(0), Value::Integer(n as i64)]],
        partial: false,
    }])
}
