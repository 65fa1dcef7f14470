//! Decoding of /query answers into comparable values for tests/diff_queries.rs: JSON (one document,
//! or the sequence of documents of a chunked answer), CSV (rows of cells) and MessagePack (our own
//! small decoder into serde_json values, tagging what JSON cannot say), and a structural comparison
//! that names the first difference.

#![allow(dead_code)]

use serde_json::{json, Map, Number, Value};

/// Every JSON document in `body`, one after another (a chunked answer has several).
pub fn json_docs(body: &[u8]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        out.push(doc.map_err(|e| format!("not JSON: {e}"))?);
    }
    Ok(out)
}

/// RFC 4180-style CSV into rows of cells (quoted cells may hold commas, quotes and newlines).
pub fn csv_rows(body: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("CSV is not UTF-8: {e}"))?;
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cell.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err("CSV ends inside a quoted cell".into());
    }
    if any {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

struct Mp<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Mp<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.i.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("msgpack: truncated")?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }
    fn str(&mut self, n: usize) -> Result<Value, String> {
        let s = self.take(n)?;
        Ok(match std::str::from_utf8(s) {
            Ok(t) => Value::String(t.to_owned()),
            Err(_) => json!({ "$badstr": hex::encode(s) }),
        })
    }
    fn f64v(x: f64) -> Value {
        match Number::from_f64(x) {
            Some(n) => Value::Number(n),
            None => json!({ "$float": format!("{x}") }),
        }
    }
    fn array(&mut self, n: usize) -> Result<Value, String> {
        let mut v = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            v.push(self.value()?);
        }
        Ok(Value::Array(v))
    }
    fn map(&mut self, n: usize) -> Result<Value, String> {
        let mut m = Map::new();
        for _ in 0..n {
            let k = self.value()?;
            let k = match k {
                Value::String(s) => s,
                other => format!("$key:{other}"),
            };
            let v = self.value()?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
    fn ext(&mut self, n: usize) -> Result<Value, String> {
        let t = self.take(1)?[0] as i8;
        let data = self.take(n)?;
        Ok(json!({ "$ext": t, "data": hex::encode(data) }))
    }
    fn value(&mut self) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("msgpack: nested too deep".into());
        }
        let m = self.take(1)?[0];
        let v = match m {
            0x00..=0x7f => Value::from(m as u64),
            0x80..=0x8f => self.map((m & 0x0f) as usize)?,
            0x90..=0x9f => self.array((m & 0x0f) as usize)?,
            0xa0..=0xbf => self.str((m & 0x1f) as usize)?,
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (m - 0xc4))? as usize;
                json!({ "$bin": hex::encode(self.take(n)?) })
            }
            0xc7..=0xc9 => {
                let n = self.uint(1 << (m - 0xc7))? as usize;
                self.ext(n)?
            }
            0xca => {
                let bits = self.uint(4)? as u32;
                json!({ "$f32": Mp::f64v(f32::from_bits(bits) as f64) })
            }
            0xcb => Mp::f64v(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => Value::from(self.uint(1 << (m - 0xcc))?),
            0xd0..=0xd3 => {
                let n = 1usize << (m - 0xd0);
                let raw = self.uint(n)?;
                let shift = 64 - 8 * n as u32;
                Value::from(((raw << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => self.ext(1 << (m - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.uint(1 << (m - 0xd9))? as usize;
                self.str(n)?
            }
            0xdc | 0xdd => {
                let n = self.uint(2 << (m - 0xdc))? as usize;
                self.array(n)?
            }
            0xde | 0xdf => {
                let n = self.uint(2 << (m - 0xde))? as usize;
                self.map(n)?
            }
            0xe0..=0xff => Value::from(m as i8 as i64),
            0xc1 => return Err("msgpack: reserved marker 0xc1".into()),
        };
        self.depth -= 1;
        Ok(v)
    }
}

/// Every MessagePack object in `body`, one after another.
pub fn msgpack_docs(body: &[u8]) -> Result<Vec<Value>, String> {
    let mut p = Mp { b: body, i: 0, depth: 0 };
    let mut out = Vec::new();
    while p.i < body.len() {
        out.push(p.value()?);
    }
    Ok(out)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-12 * a.abs().max(b.abs()))
}

/// `None` when equal; else the first difference as `path: oracle != ours`. Numbers must have the
/// same kind (integer or float) and the same value, or be within a relative 1e-12 when `approx`.
/// With `approx`, strings that are both numbers (CSV cells) compare as numbers too.
pub fn diff(a: &Value, b: &Value, path: &str, approx: bool) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let same = if x.is_f64() != y.is_f64() {
                false
            } else if x.is_f64() {
                let (p, q) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                if approx { close(p, q) } else { p == q }
            } else {
                x == y
            };
            (!same).then(|| format!("{path}: {x} != {y}"))
        }
        (Value::String(x), Value::String(y)) => {
            if x == y {
                return None;
            }
            if approx {
                if let (Ok(p), Ok(q)) = (x.parse::<f64>(), y.parse::<f64>()) {
                    if close(p, q) {
                        return None;
                    }
                }
            }
            Some(format!("{path}: {} != {}", short(a), short(b)))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = diff(p, q, &format!("{path}[{i}]"), approx) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| {
                let extra = if x.len() > y.len() { format!("oracle has {}", short(&x[y.len()])) } else { format!("ours has {}", short(&y[x.len()])) };
                format!("{path}: length {} != {} ({extra})", x.len(), y.len())
            })
        }
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            let mut sx = kx.clone();
            let mut sy = ky.clone();
            sx.sort();
            sy.sort();
            if sx != sy {
                return Some(format!("{path}: keys {sx:?} != {sy:?}"));
            }
            for k in kx {
                if let Some(d) = diff(&x[k], &y[k], &format!("{path}.{k}"), approx) {
                    return Some(d);
                }
            }
            None
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {} != {}", short(a), short(b))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_roundtrip() {
        let v = json!({"results": [{"statement_id": 0, "series": [{"name": "cpu", "values": [[1, -2, 1.5, "x", true, null]]}]}]});
        let bytes = rmp_serde::to_vec_named(&v).expect("encode");
        assert_eq!(msgpack_docs(&bytes).expect("decode"), vec![v]);
    }

    #[test]
    fn csv_quotes() {
        let rows = csv_rows(b"a,b\n\"x,\"\"y\",2\n").expect("csv");
        assert_eq!(rows, vec![vec!["a".to_owned(), "b".into()], vec!["x,\"y".into(), "2".into()]]);
    }

    #[test]
    fn numbers_keep_kind() {
        assert!(diff(&json!(1), &json!(1.0), "$", false).is_some());
        assert!(diff(&json!(0.5), &json!(0.5000000000000001), "$", false).is_some());
        assert!(diff(&json!(1.0), &json!(1.0 + 1e-15), "$", true).is_none());
    }
}
