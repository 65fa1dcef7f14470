//! Request bodies: read with a size cap (before decompression), decompress gzip with the same cap
//! (after decompression), never holding more than the cap + one chunk in memory, and reserve the
//! bytes held against the global buffered-bytes budget.

use std::io::Read;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;

use super::error::ServerError;
use super::limits::BufferReservation;

/// How a body is encoded, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

pub fn content_encoding(headers: &HeaderMap) -> Result<Encoding, ServerError> {
    let Some(v) = headers.get(http::header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let s = v.to_str().map_err(|_| ServerError::UnsupportedEncoding("<not text>".into()))?.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("identity") {
        Ok(Encoding::Identity)
    } else if s.eq_ignore_ascii_case("gzip") || s.eq_ignore_ascii_case("x-gzip") {
        Ok(Encoding::Gzip)
    } else {
        Err(ServerError::UnsupportedEncoding(s.to_string()))
    }
}

/// Reads a whole body of at most `limit` bytes, within the budget's `body_timeout` (408 past it).
/// A `Content-Length` above the limit is refused before reading; otherwise reading stops as soon
/// as the limit is passed.
pub async fn read_limited<B>(
    body: B,
    headers: &HeaderMap,
    limit: u64,
    budget: &mut BufferReservation,
) -> Result<Bytes, ServerError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if let Some(n) = declared {
        if n > limit {
            return Err(ServerError::PayloadTooLarge { max: limit });
        }
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(limit).min(8 * 1024 * 1024) as usize);
    let mut body = std::pin::pin!(body);
    let after = budget.body_timeout();
    let deadline = tokio::time::Instant::now() + after;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Err(ServerError::BodyTimeout { after }),
        };
        let frame = frame.map_err(|e| ServerError::BadRequest(format!("error reading request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        let new_len = buf.len() as u64 + data.len() as u64;
        if new_len > limit {
            return Err(ServerError::PayloadTooLarge { max: limit });
        }
        budget.grow(data.len() as u64)?;
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// Outcome of a capped decompression.
#[derive(Debug)]
pub enum Inflated {
    Ok(Vec<u8>),
    /// The output passed the limit; `read` bytes of output were produced before stopping
    /// (at most limit + 1).
    TooLarge { read: u64 },
}

/// Decompresses gzip (multi-member, as Go's reader does), producing at most `limit + 1` bytes of
/// output before giving up, so a gzip bomb never inflates past the limit.
pub fn gunzip_capped(data: &[u8], limit: u64) -> Result<Inflated, ServerError> {
    let decoder = flate2::read::MultiGzDecoder::new(data);
    let mut capped = decoder.take(limit.saturating_add(1));
    let mut out = Vec::with_capacity((data.len().saturating_mul(4)).min(limit as usize).min(64 * 1024 * 1024));
    capped
        .read_to_end(&mut out)
        .map_err(|e| ServerError::BadRequest(format!("invalid gzip body: {e}")))?;
    if out.len() as u64 > limit {
        return Ok(Inflated::TooLarge { read: out.len() as u64 });
    }
    Ok(Inflated::Ok(out))
}

/// Decompresses if needed, enforcing the limit on the output and reserving the output against the
/// buffered-bytes budget. Large bodies are decompressed on a blocking thread.
pub async fn decode(
    raw: Bytes,
    encoding: Encoding,
    limit: u64,
    budget: &mut BufferReservation,
) -> Result<Bytes, ServerError> {
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            // Reserve a guess of the output up front, the rest once its size is known (all released
            // with the request).
            let guess = limit.min((raw.len() as u64).saturating_mul(8).max(64 * 1024));
            budget.grow(guess)?;
            let inflated = if raw.len() > 64 * 1024 {
                tokio::task::spawn_blocking(move || gunzip_capped(&raw, limit))
                    .await
                    .map_err(|e| ServerError::Internal(format!("decompression task failed: {e}")))??
            } else {
                gunzip_capped(&raw, limit)?
            };
            match inflated {
                Inflated::Ok(v) => {
                    budget.grow((v.len() as u64).saturating_sub(guess))?;
                    Ok(Bytes::from(v))
                }
                Inflated::TooLarge { .. } => Err(ServerError::PayloadTooLarge { max: limit }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_roundtrip_and_multimember() {
        let mut both = gz(b"cpu v=1\n");
        both.extend(gz(b"cpu v=2\n"));
        match gunzip_capped(&both, 100).unwrap() {
            Inflated::Ok(v) => assert_eq!(v, b"cpu v=1\ncpu v=2\n"),
            other => panic!("{other:?}"),
        }
        assert!(gunzip_capped(b"not gzip", 100).is_err());
    }

    #[test]
    fn gunzip_exact_limit_ok_one_more_refused() {
        let data = vec![b'a'; 1000];
        assert!(matches!(gunzip_capped(&gz(&data), 1000).unwrap(), Inflated::Ok(_)));
        assert!(matches!(gunzip_capped(&gz(&data), 999).unwrap(), Inflated::TooLarge { read: 1000 }));
    }

    #[test]
    fn gzip_bomb_is_refused_early() {
        // 1 GB of zeros: one 8 MiB gzip member of zeros (~8 KB compressed) repeated 128 times.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![0u8; 8 * 1024 * 1024]).unwrap();
        let member = e.finish().unwrap();
        let mut bomb = Vec::with_capacity(member.len() * 128);
        for _ in 0..128 {
            bomb.extend_from_slice(&member);
        }
        let limit = 25_000_000;
        // small enough to pass the limit on the wire
        assert!((bomb.len() as u64) < limit, "bomb is small: {}", bomb.len());
        let start = std::time::Instant::now();
        match gunzip_capped(&bomb, limit).unwrap() {
            Inflated::TooLarge { read } => assert!(read <= limit + 1, "read {read}"),
            Inflated::Ok(v) => panic!("bomb accepted: {} bytes", v.len()),
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn encodings() {
        let mut h = HeaderMap::new();
        assert_eq!(content_encoding(&h).unwrap(), Encoding::Identity);
        h.insert(http::header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(content_encoding(&h).unwrap(), Encoding::Gzip);
        h.insert(http::header::CONTENT_ENCODING, "identity".parse().unwrap());
        assert_eq!(content_encoding(&h).unwrap(), Encoding::Identity);
        h.insert(http::header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(content_encoding(&h).unwrap_err().status(), 415);
    }

    #[tokio::test]
    async fn read_limited_caps() {
        use crate::config::LimitsConfig;
        use crate::server::limits::Limits;
        let limits = Limits::new(&LimitsConfig::default());
        let mut budget = limits.buffer_reservation();
        let body = http_body_util::Full::new(Bytes::from_static(b"0123456789"));
        let ok = read_limited(body, &HeaderMap::new(), 10, &mut budget).await.unwrap();
        assert_eq!(&ok[..], b"0123456789");
        let body = http_body_util::Full::new(Bytes::from_static(b"0123456789"));
        let err = read_limited(body, &HeaderMap::new(), 9, &mut budget).await.unwrap_err();
        assert_eq!(err.status(), 413);
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_LENGTH, "100".parse().unwrap());
        let body = http_body_util::Full::new(Bytes::from_static(b""));
        assert_eq!(read_limited(body, &h, 9, &mut budget).await.unwrap_err().status(), 413);
    }
}
