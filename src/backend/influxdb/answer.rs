//! The upstream's `/query` answer in MessagePack (`Accept: application/x-msgpack`) read into
//! influxgate's result model.
//!
//! 1.x's MessagePack answer (`services/httpd`'s msgpack formatter) is a map: `error` (the
//! request's), or `results`, an array of maps with `statement_id`, `error`, `messages` (maps of
//! `level`, `text`), `partial` and `series`, each a map of `name`, `tags` (a map, in Go's random
//! order: sorted here), `columns`, `partial` and `values` (rows of scalars). MessagePack keeps
//! what JSON loses: a float `5.0` stays a float, integers keep 64 bits (1.x writes int64 with the
//! signed markers and uint64 with the unsigned ones), and with `epoch=ns` times are integers.
//! A time sent as 1.x's time extension (type 5: seconds then nanoseconds, as without `epoch`)
//! is read too.
//!
//! Bounded: every length is checked against the bytes left before anything is allocated (each
//! element takes at least one byte), and nesting is only as deep as this shape (skipped values
//! at most [`MAX_SKIP_DEPTH`] deep), so a hostile answer costs at most a constant times its size.

use crate::query::result::{Message, Series, Value};

/// Nesting of an unknown key's value skipped over.
const MAX_SKIP_DEPTH: usize = 16;

/// One statement's answer.
#[derive(Debug, Default, PartialEq)]
pub struct StatementAnswer {
    pub series: Vec<Series>,
    pub messages: Vec<Message>,
    pub error: Option<String>,
}

/// The first statement's answer in `body`; `Err` says why it cannot be read. A request-level
/// `error` is that statement's error.
pub fn first_statement(body: &[u8]) -> Result<StatementAnswer, String> {
    let mut r = Reader { b: body, pos: 0 };
    let mut out = StatementAnswer::default();
    for _ in 0..r.map_len()? {
        match r.str()?.as_str() {
            "error" => out.error = Some(r.str()?),
            "results" => {
                let n = r.array_len()?;
                for i in 0..n {
                    if i == 0 {
                        out = r.statement()?;
                    } else {
                        r.skip(0)?;
                    }
                }
            }
            _ => r.skip(0)?,
        }
    }
    Ok(out)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("msgpack answer cut short")?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// A length read from the answer, at most the bytes left (each element takes one or more).
    fn len(&mut self, n: usize) -> Result<usize, String> {
        let v = self.uint(n)?;
        let left = (self.b.len() - self.pos) as u64;
        if v > left {
            return Err("msgpack answer cut short".into());
        }
        Ok(v as usize)
    }

    fn map_len(&mut self) -> Result<usize, String> {
        self.container_len(0x80, 0xde, "a map")
    }

    fn array_len(&mut self) -> Result<usize, String> {
        self.container_len(0x90, 0xdc, "an array")
    }

    /// The length of a map or array: `fix` + 0..=15 (fixmap, fixarray), `m16` then 2 bytes,
    /// `m16 + 1` then 4 bytes.
    fn container_len(&mut self, fix: u8, m16: u8, what: &str) -> Result<usize, String> {
        match self.byte()? {
            m if m & 0xf0 == fix => Ok(usize::from(m & 0x0f)),
            m if m == m16 => self.len(2),
            m if m == m16 + 1 => self.len(4),
            m => Err(format!("msgpack answer: {what} expected, marker {m:#04x}")),
        }
    }

    fn str(&mut self) -> Result<String, String> {
        match self.value()? {
            Value::String(s) => Ok(s),
            v => Err(format!("msgpack answer: a string expected, {v:?}")),
        }
    }

    fn str_of_len(&mut self, n: usize) -> Result<Value, String> {
        Ok(Value::String(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }

    /// One scalar.
    fn value(&mut self) -> Result<Value, String> {
        let m = self.byte()?;
        Ok(match m {
            0x00..=0x7f => Value::Integer(i64::from(m)),
            0xe0..=0xff => Value::Integer(i64::from(m as i8)),
            0xc0 => Value::Null,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xca => Value::Float(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Unsigned(self.uint(1)?),
            0xcd => Value::Unsigned(self.uint(2)?),
            0xce => Value::Unsigned(self.uint(4)?),
            0xcf => Value::Unsigned(self.uint(8)?),
            0xd0 => Value::Integer(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Integer(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Integer(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Integer(self.uint(8)? as i64),
            0xa0..=0xbf => return self.str_of_len(usize::from(m & 0x1f)),
            // str8, str16, str32: a length of 1, 2 or 4 bytes.
            0xd9..=0xdb => {
                let n = self.len(1 << (m - 0xd9))?;
                return self.str_of_len(n);
            }
            // 1.x's time: extension type 5, 12 bytes (int64 seconds, int32 nanoseconds).
            0xc7 => {
                let (n, ty) = (self.len(1)?, self.byte()?);
                let d = self.take(n)?;
                match (ty, d.len()) {
                    (5, 12) => {
                        let secs = d[..8].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)) as i64;
                        let nanos = d[8..].iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)) as i32;
                        Value::Time(secs.saturating_mul(1_000_000_000).saturating_add(i64::from(nanos)))
                    }
                    _ => return Err(format!("msgpack answer: extension type {ty} not expected")),
                }
            }
            m => return Err(format!("msgpack answer: a scalar expected, marker {m:#04x}")),
        })
    }

    /// Skips one value of any kind.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_SKIP_DEPTH {
            return Err("msgpack answer nested too deep".into());
        }
        let m = self.b.get(self.pos).copied().ok_or("msgpack answer cut short")?;
        match m {
            0x80..=0x8f | 0xde | 0xdf => {
                for _ in 0..self.map_len()? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                for _ in 0..self.array_len()? {
                    self.skip(depth + 1)?;
                }
            }
            0xc4..=0xc6 => {
                self.pos += 1;
                let w = [1, 2, 4][usize::from(m - 0xc4)];
                let n = self.len(w)?;
                self.take(n)?;
            }
            _ => {
                self.value()?;
            }
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<StatementAnswer, String> {
        let mut out = StatementAnswer::default();
        for _ in 0..self.map_len()? {
            match self.str()?.as_str() {
                "error" => out.error = Some(self.str()?),
                "series" => {
                    let n = self.array_len()?;
                    out.series.reserve(n);
                    for _ in 0..n {
                        out.series.push(self.series()?);
                    }
                }
                "messages" => {
                    for _ in 0..self.array_len()? {
                        let mut msg = Message { level: String::new(), text: String::new() };
                        for _ in 0..self.map_len()? {
                            match self.str()?.as_str() {
                                "level" => msg.level = self.str()?,
                                "text" => msg.text = self.str()?,
                                _ => self.skip(0)?,
                            }
                        }
                        out.messages.push(msg);
                    }
                }
                _ => self.skip(0)?,
            }
        }
        Ok(out)
    }

    fn series(&mut self) -> Result<Series, String> {
        let mut s = Series::default();
        for _ in 0..self.map_len()? {
            match self.str()?.as_str() {
                "name" => s.name = self.str()?,
                "tags" => {
                    for _ in 0..self.map_len()? {
                        let k = self.str()?;
                        let v = self.str()?;
                        s.tags.push((k, v));
                    }
                    s.tags.sort();
                }
                "columns" => {
                    for _ in 0..self.array_len()? {
                        let c = self.str()?;
                        s.columns.push(c);
                    }
                }
                "values" => {
                    let n = self.array_len()?;
                    s.values.reserve(n);
                    for _ in 0..n {
                        let w = self.array_len()?;
                        let mut row = Vec::with_capacity(w);
                        for _ in 0..w {
                            row.push(self.value()?);
                        }
                        s.values.push(row);
                    }
                }
                _ => self.skip(0)?,
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, t: &str) {
        out.push(0xa0 | t.len() as u8);
        out.extend_from_slice(t.as_bytes());
    }

    #[test]
    fn reads_a_statement() {
        // {"results":[{"statement_id":0,"series":[{"name":"m","tags":{"b":"2","a":"1"},
        //   "columns":["time","v"],"values":[[1700000000000000000,5.0],[-1,null]]}]}]}
        let mut b = vec![0x81];
        s(&mut b, "results");
        b.extend([0x91, 0x82]);
        s(&mut b, "statement_id");
        b.push(0x00);
        s(&mut b, "series");
        b.extend([0x91, 0x84]);
        s(&mut b, "name");
        s(&mut b, "m");
        s(&mut b, "tags");
        b.push(0x82);
        for t in ["b", "2", "a", "1"] {
            s(&mut b, t);
        }
        s(&mut b, "columns");
        b.push(0x92);
        s(&mut b, "time");
        s(&mut b, "v");
        s(&mut b, "values");
        b.extend([0x92, 0x92, 0xd3]);
        b.extend(1_700_000_000_000_000_000i64.to_be_bytes());
        b.push(0xcb);
        b.extend(5.0f64.to_be_bytes());
        b.extend([0x92, 0xff, 0xc0]);
        let a = first_statement(&b).unwrap();
        let ser = &a.series[0];
        assert_eq!(ser.tags, vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(ser.values[0], vec![Value::Integer(1_700_000_000_000_000_000), Value::Float(5.0)]);
        assert_eq!(ser.values[1], vec![Value::Integer(-1), Value::Null]);
        // Every cut of it is an error, never a panic.
        for n in 0..b.len() {
            assert!(first_statement(&b[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn reads_errors_and_refuses_lengths_past_the_end() {
        let mut b = vec![0x81];
        s(&mut b, "error");
        s(&mut b, "boom");
        assert_eq!(first_statement(&b).unwrap().error.as_deref(), Some("boom"));
        // An array claiming 2^32-1 elements in a 6-byte answer.
        let huge = [0x81, 0xa7, b'r', b'e', b's', b'u', b'l', b't', b's', 0xdd, 0xff, 0xff, 0xff, 0xff];
        assert!(first_statement(&huge).is_err());
    }
}
