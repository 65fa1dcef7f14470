//! One spooled write, as bytes: what a record holds and how it is framed in a segment.
//!
//! A record keeps exactly what the store would have been given, in the form the client sent it:
//! the checked `/write` body, its database, retention policy and precision, and the time the
//! server assigned to points without a timestamp (`now_ns`). Replaying parses the body again with
//! that same time, so a point without a timestamp keeps the time of its original write, never the
//! time of the replay. (The body is kept rather than the parsed points: it is what the write path
//! already holds, costs nothing to keep in the durability window, and is ~35× smaller than the
//! parsed points of tiny lines.)
//!
//! Frame: `len: u32 LE`, `crc: u32 LE`, then `len` payload bytes; `crc` is the CRC-32 (IEEE) of
//! the four `len` bytes followed by the payload, so a torn or damaged length is caught as well as
//! a damaged payload. Payload (all integers little-endian):
//!
//! | field | bytes |
//! |---|---|
//! | kind: 1 = not yet in the store, 2 = acknowledged by the store instance below | 1 |
//! | instance (kind 2), else 0 | 8 |
//! | time_ms: when it was spooled (kind 1) or acknowledged (kind 2), Unix ms | 8 |
//! | now_ns: the time of points without a timestamp | 8 |
//! | precision: 0 ns, 1 µs, 2 ms, 3 s, 4 m, 5 h | 1 |
//! | points in the body | 4 |
//! | db: u16 length + bytes | 2 + n |
//! | rp: u8 0 (none) / 1, then u16 length + bytes | 1 (+ 2 + n) |
//! | body: u32 length + bytes | 4 + n |

use bytes::Bytes;

use crate::lineproto::Precision;

/// Frame header bytes (length and checksum).
pub const FRAME_HEADER: usize = 8;
/// No payload is larger (a `/write` body is at most `limits.max_body_bytes`, 25 MB by default;
/// a larger length read from a segment is damage).
pub const MAX_PAYLOAD: usize = 1 << 30;

/// A write to keep: the checked body and what it was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub db: String,
    pub rp: Option<String>,
    pub precision: Precision,
    /// The time given to points without a timestamp (before truncation to the precision).
    pub now_ns: i64,
    /// The decompressed `/write` body, as checked.
    pub body: Bytes,
    /// Points the body holds.
    pub points: u32,
}

/// Why a record is in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The store has not acknowledged it: it must be written.
    Write,
    /// The store instance `instance` acknowledged it, but may not have made it durable yet (see
    /// `window`): written again only if another instance of the store runs at replay.
    Acked { instance: u64 },
}

/// A spooled record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: Kind,
    /// Unix ms: when spooled ([`Kind::Write`]) or acknowledged ([`Kind::Acked`]).
    pub time_ms: i64,
    pub entry: Entry,
}

/// A record as written to a segment: `head` (frame header and payload up to the body) followed
/// by `body`.
#[derive(Debug)]
pub struct Framed {
    pub head: Vec<u8>,
    pub body: Bytes,
}

impl Framed {
    /// Bytes it takes in a segment.
    pub fn size(&self) -> u64 {
        (self.head.len() + self.body.len()) as u64
    }
}

fn precision_code(p: Precision) -> u8 {
    match p {
        Precision::Nanosecond => 0,
        Precision::Microsecond => 1,
        Precision::Millisecond => 2,
        Precision::Second => 3,
        Precision::Minute => 4,
        Precision::Hour => 5,
    }
}

fn precision_of(code: u8) -> Option<Precision> {
    Some(match code {
        0 => Precision::Nanosecond,
        1 => Precision::Microsecond,
        2 => Precision::Millisecond,
        3 => Precision::Second,
        4 => Precision::Minute,
        5 => Precision::Hour,
        _ => return None,
    })
}

fn put_str16(out: &mut Vec<u8>, s: &str) {
    // Database and policy names come from a URL parameter of a body-limited request; a longer
    // name than u16 allows is cut at a char boundary (it could not be stored anyway).
    let mut n = s.len().min(u16::MAX as usize);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n]);
}

impl Record {
    /// The framed bytes of this record.
    pub fn encode(&self) -> Vec<u8> {
        let f = self.framed();
        let mut out = Vec::with_capacity(f.head.len() + f.body.len());
        out.extend_from_slice(&f.head);
        out.extend_from_slice(&f.body);
        out
    }

    /// This record framed, its body shared rather than copied: the frame header and the payload
    /// up to the body's bytes, then the body.
    pub fn framed(&self) -> Framed {
        let e = &self.entry;
        let mut p = Vec::with_capacity(FRAME_HEADER + 64 + e.db.len() + e.rp.as_ref().map_or(0, |r| r.len()));
        p.extend_from_slice(&[0; FRAME_HEADER]);
        let (kind, instance) = match self.kind {
            Kind::Write => (1u8, 0u64),
            Kind::Acked { instance } => (2, instance),
        };
        p.push(kind);
        p.extend_from_slice(&instance.to_le_bytes());
        p.extend_from_slice(&self.time_ms.to_le_bytes());
        p.extend_from_slice(&e.now_ns.to_le_bytes());
        p.push(precision_code(e.precision));
        p.extend_from_slice(&e.points.to_le_bytes());
        put_str16(&mut p, &e.db);
        match &e.rp {
            None => p.push(0),
            Some(rp) => {
                p.push(1);
                put_str16(&mut p, rp);
            }
        }
        p.extend_from_slice(&(e.body.len() as u32).to_le_bytes());
        let len = ((p.len() - FRAME_HEADER + e.body.len()) as u32).to_le_bytes();
        let mut h = crc32fast::Hasher::new();
        h.update(&len);
        h.update(&p[FRAME_HEADER..]);
        h.update(&e.body);
        p[..4].copy_from_slice(&len);
        p[4..FRAME_HEADER].copy_from_slice(&h.finalize().to_le_bytes());
        Framed { head: p, body: e.body.clone() }
    }

    /// Bytes this record takes in a segment.
    pub fn framed_len(&self) -> u64 {
        let e = &self.entry;
        let rp = e.rp.as_ref().map_or(0, |r| 2 + r.len().min(u16::MAX as usize));
        (FRAME_HEADER + 37 + e.db.len().min(u16::MAX as usize) + rp + e.body.len()) as u64
    }

    /// Decodes a payload whose checksum was verified; `None` when it is not a valid record. The
    /// body is a slice of `payload` (not a copy).
    pub fn decode(payload: &Bytes) -> Option<Record> {
        let mut r = Reader(payload);
        let kind = r.u8()?;
        let instance = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let time_ms = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let now_ns = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
        let precision = precision_of(r.u8()?)?;
        let points = u32::from_le_bytes(r.take(4)?.try_into().ok()?);
        let db = r.str16()?;
        let rp = match r.u8()? {
            0 => None,
            1 => Some(r.str16()?),
            _ => return None,
        };
        let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
        let body = r.take(n)?;
        let body = payload.slice_ref(body);
        if !r.0.is_empty() {
            return None;
        }
        let kind = match kind {
            1 => Kind::Write,
            2 => Kind::Acked { instance },
            _ => return None,
        };
        Some(Record { kind, time_ms, entry: Entry { db, rp, precision, now_ns, body, points } })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn str16(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// The checksum of a frame: over the length bytes and the payload.
pub fn checksum(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(payload);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: Kind, rp: Option<&str>) -> Record {
        Record {
            kind,
            time_ms: 1_700_000_000_123,
            entry: Entry {
                db: "telegraf é".into(),
                rp: rp.map(String::from),
                precision: Precision::Second,
                now_ns: 1_700_000_000_123_456_789,
                body: Bytes::from_static(b"cpu v=1\ncpu v=2 5\n"),
                points: 2,
            },
        }
    }

    #[test]
    fn round_trips() {
        for r in [rec(Kind::Write, None), rec(Kind::Acked { instance: 1_796_300_221 }, Some("autogen"))] {
            let bytes = r.encode();
            assert_eq!(bytes.len() as u64, r.framed_len());
            let len: [u8; 4] = bytes[..4].try_into().unwrap();
            let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
            assert_eq!(u32::from_le_bytes(len) as usize, bytes.len() - FRAME_HEADER);
            assert_eq!(checksum(len, &bytes[8..]), crc);
            assert_eq!(Record::decode(&Bytes::copy_from_slice(&bytes[8..])), Some(r));
        }
    }

    #[test]
    fn damage_is_caught() {
        let bytes = rec(Kind::Write, Some("rp")).encode();
        let len: [u8; 4] = bytes[..4].try_into().unwrap();
        let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        for i in 8..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            assert_ne!(checksum(len, &b[8..]), crc, "flip at {i}");
        }
        // A payload cut short does not decode.
        for n in 0..bytes.len() - 8 {
            assert!(Record::decode(&Bytes::copy_from_slice(&bytes[8..8 + n])).is_none(), "cut at {n}");
        }
    }
}
