//! What the structures a query builds take, in bytes, for the [`Governor`](super::Governor)'s
//! account: their slots, and the blocks the allocator gives them — sizes on a 64-bit target with
//! glibc's malloc (an 8-byte header, 16-byte granules, 32 bytes at least).

use crate::query::functions::Sample;
use crate::query::result::Value;

/// Bytes the allocator takes for a heap block of `n` bytes (glibc malloc: an 8-byte header,
/// 16-byte granules, 32 bytes at least); 0 for no block.
pub fn heap_bytes(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    ((n + 8).div_ceil(16) * 16).max(32) as u64
}

/// Bytes a row of `width` values holds in a `Vec<Vec<Value>>` (an answer's rows): the row's
/// vector and its block. Strings add theirs (see [`value_bytes`]).
pub fn row_bytes(width: usize) -> u64 {
    (std::mem::size_of::<Vec<Value>>() as u64) + heap_bytes(width * std::mem::size_of::<Value>())
}

/// Heap bytes of one value beyond its slot.
pub fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::String(s) => heap_bytes(s.len()),
        _ => 0,
    }
}

/// Bytes one function point holds in a `Vec<Sample>`: its slot, its aux values' block and their
/// strings.
pub fn sample_bytes(s: &Sample) -> u64 {
    let aux = if s.aux.is_empty() { 0 } else { heap_bytes(s.aux.len() * std::mem::size_of::<Value>()) };
    std::mem::size_of::<Sample>() as u64 + aux + value_bytes(&s.value) + s.aux.iter().map(value_bytes).sum::<u64>()
}

/// Bytes of text an encoder makes of a row, about (JSON's `[time,value,...],`, times as RFC 3339
/// or epoch numbers): a buffered answer is encoded whole before it is compressed or sent, so the
/// text is held next to the rows for a while.
pub fn text_bytes(row: &[Value]) -> u64 {
    let value = |v: &Value| match v {
        Value::Time(_) => 24,
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::String(s) => s.len() as u64 + 2,
        Value::Float(_) | Value::Integer(_) | Value::Unsigned(_) => 12,
    };
    2 + row.iter().map(|v| 1 + value(v)).sum::<u64>()
}

/// Bytes a tag set holds: its vector's block and every key's and value's.
pub fn tags_bytes(tags: &[(String, String)]) -> u64 {
    heap_bytes(std::mem::size_of_val(tags)) + tags.iter().map(|(k, v)| heap_bytes(k.len()) + heap_bytes(v.len())).sum::<u64>()
}

/// Bytes the rows of a series hold (see [`row_bytes`]).
pub fn rows_bytes(rows: &[Vec<Value>]) -> u64 {
    rows.iter().map(|r| row_bytes(r.len()) + r.iter().map(value_bytes).sum::<u64>()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_allocator() {
        assert_eq!(heap_bytes(0), 0);
        assert_eq!(heap_bytes(1), 32);
        assert_eq!(heap_bytes(24), 32);
        assert_eq!(heap_bytes(25), 48);
        assert_eq!(row_bytes(2), 24 + 64);
        assert_eq!(value_bytes(&Value::String("abc".into())), 32);
        assert_eq!(value_bytes(&Value::Float(1.0)), 0);
        let s = Sample { time: 0, value: Value::Float(1.0), aux: vec![Value::String("h".into())] };
        assert_eq!(sample_bytes(&s), std::mem::size_of::<Sample>() as u64 + 32 + 32);
    }
}
