//! ClickHouse's RowBinary format, both ways: rows of an `INSERT ... FORMAT RowBinary` and of a
//! `SELECT ... FORMAT RowBinary` answer.
//!
//! Little-endian fixed-width numbers, strings as a LEB128 length then the bytes, `Nullable(T)` as
//! one byte (1 = NULL, nothing follows; 0 = a `T` follows). Exact for every value (floats keep
//! their bits, strings any bytes) and the cheapest format for both ends to produce and read; the
//! same in 18.16 and current releases.

use crate::backend::{BackendError, Result};
use crate::model::{FieldRef, FieldType, FieldValue};

/// The ClickHouse type of a field column.
pub fn field_sql_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "Nullable(Float64)",
        FieldType::Integer => "Nullable(Int64)",
        FieldType::Unsigned => "Nullable(UInt64)",
        FieldType::String => "Nullable(String)",
        FieldType::Boolean => "Nullable(UInt8)",
    }
}

/// The field type a column type holds (`None`: not a field column).
pub fn field_type_of(sql: &str) -> Option<FieldType> {
    Some(match sql {
        "Nullable(Float64)" => FieldType::Float,
        "Nullable(Int64)" => FieldType::Integer,
        "Nullable(UInt64)" => FieldType::Unsigned,
        "Nullable(String)" => FieldType::String,
        "Nullable(UInt8)" => FieldType::Boolean,
        _ => return None,
    })
}

/// Rows being written.
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        let mut n = b.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(byte);
                break;
            }
            self.buf.push(byte | 0x80);
        }
        self.buf.extend_from_slice(b);
    }
    /// A `Nullable` field column's value.
    pub fn field(&mut self, v: Option<FieldRef<'_>>) {
        let Some(v) = v else {
            self.buf.push(1);
            return;
        };
        self.buf.push(0);
        match v {
            FieldRef::Float(x) => self.buf.extend_from_slice(&x.to_le_bytes()),
            FieldRef::Integer(x) => self.i64(x),
            FieldRef::Unsigned(x) => self.u64(x),
            FieldRef::String(s) => self.bytes(s.as_bytes()),
            FieldRef::Boolean(b) => self.buf.push(u8::from(b)),
        }
    }
}

/// Reads values from a buffer that may end in the middle of a row: every read answers `None`
/// when the bytes it needs have not arrived yet (the caller keeps the row's start and retries
/// with more), and an error only for a value that cannot be valid.
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

/// The longest string accepted in an answer (a field value; 1.x's own limit is 64 KiB for keys
/// and the body size for values).
const MAX_STRING: u64 = 64 << 20;

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).map(|s| {
            let mut a = [0u8; N];
            a.copy_from_slice(s);
            a
        })
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.fixed::<2>().map(u16::from_le_bytes)
    }
    pub fn i64(&mut self) -> Option<i64> {
        self.fixed::<8>().map(i64::from_le_bytes)
    }
    pub fn u64(&mut self) -> Option<u64> {
        self.fixed::<8>().map(u64::from_le_bytes)
    }
    pub fn f64(&mut self) -> Option<f64> {
        self.fixed::<8>().map(f64::from_le_bytes)
    }

    /// A string's bytes.
    pub fn bytes(&mut self) -> Result<Option<&'a [u8]>> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(b) = self.u8() else { return Ok(None) };
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(bad("string length"));
            }
        }
        if n > MAX_STRING {
            return Err(bad("string longer than 64 MiB"));
        }
        Ok(self.take(n as usize))
    }

    pub fn string(&mut self) -> Result<Option<String>> {
        match self.bytes()? {
            None => Ok(None),
            Some(b) => String::from_utf8(b.to_vec()).map(Some).map_err(|_| bad("a string that is not UTF-8")),
        }
    }

    /// A `Nullable` field column's value: `Some(None)` is NULL.
    pub fn field(&mut self, t: FieldType) -> Result<Option<Option<FieldValue>>> {
        match self.u8() {
            None => return Ok(None),
            Some(1) => return Ok(Some(None)),
            Some(0) => {}
            Some(_) => return Err(bad("null flag")),
        }
        let v = match t {
            FieldType::Float => self.f64().map(FieldValue::Float),
            FieldType::Integer => self.i64().map(FieldValue::Integer),
            FieldType::Unsigned => self.u64().map(FieldValue::Unsigned),
            FieldType::Boolean => self.u8().map(|b| FieldValue::Boolean(b != 0)),
            FieldType::String => self.string()?.map(FieldValue::String),
        };
        Ok(v.map(Some))
    }
}

fn bad(what: &str) -> BackendError {
    BackendError::Internal(format!("clickhouse: unreadable RowBinary answer ({what})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut e = Encoder::default();
        e.i64(-5);
        e.bytes(&vec![b'x'; 300]);
        let vals = [
            Some(FieldValue::Float(-0.0)),
            None,
            Some(FieldValue::Integer(i64::MIN)),
            Some(FieldValue::Unsigned(u64::MAX)),
            Some(FieldValue::String("ünï\0".into())),
            Some(FieldValue::Boolean(true)),
        ];
        for v in &vals {
            e.field(v.as_ref().map(FieldValue::as_field_ref));
        }
        let types = [FieldType::Float, FieldType::Float, FieldType::Integer, FieldType::Unsigned, FieldType::String, FieldType::Boolean];
        let buf = e.buf;
        // Every prefix is "not yet", never an error or a wrong value.
        for cut in 0..buf.len() {
            let mut c = Cursor::new(&buf[..cut]);
            let mut complete = c.i64().is_some() && c.bytes().unwrap().is_some();
            for t in types {
                complete = complete && c.field(t).unwrap().is_some();
            }
            assert!(!complete, "{cut}");
        }
        let mut c = Cursor::new(&buf);
        assert_eq!(c.i64(), Some(-5));
        assert_eq!(c.bytes().unwrap().map(|b| b.len()), Some(300));
        for (v, t) in vals.iter().zip(types) {
            let got = c.field(t).unwrap().unwrap();
            match (&got, v) {
                (Some(FieldValue::Float(a)), Some(FieldValue::Float(b))) => assert_eq!(a.to_bits(), b.to_bits()),
                _ => assert_eq!(&got, v),
            }
        }
        assert_eq!(c.pos, buf.len());
        assert!(Cursor::new(&[2]).field(FieldType::Float).is_err());
    }
}
