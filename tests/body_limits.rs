//! Body size limits on /write: plain and gzip bodies over `max_body_bytes` (compressed or after
//! decompression) → 413 `{"code":"invalid","maxLength":N}`; a gzip bomb does not take the server
//! down; an unknown Content-Encoding or a broken gzip stream → 4xx.

mod common;
use common::*;
use std::io::Write as _;

const MAX: u64 = 1000;

fn gate() -> Gate {
    Gate::start_with(GateConfig::new().limit(&format!("max_body_bytes = {MAX}")))
}

/// One valid line of exactly `n` bytes (n ≥ 8).
fn line_of_len(n: usize) -> String {
    let s = format!("m,p={} v=1", "x".repeat(n - 8));
    assert_eq!(s.len(), n);
    s
}

fn assert_413(r: &Resp, what: &str) {
    assert_eq!(r.status, 413, "{what}: {}", r.describe());
    let v = r.json();
    assert_eq!(v["code"], "invalid", "{what}: {v}");
    assert_eq!(v["maxLength"].as_u64(), Some(MAX), "{what}: {v}");
    assert!(v["message"].is_string(), "{what}: {v}");
}

#[test]
fn plain_body_at_and_over_the_limit() {
    let g = gate();
    let api = g.admin();
    let r = api.write("bl", &line_of_len(MAX as usize));
    assert_eq!(r.status, 204, "body of exactly max_body_bytes: {}", r.describe());
    let r = api.write("bl", &line_of_len(MAX as usize + 1));
    assert_413(&r, "body one byte over");
    let r = api.write("bl", &line_of_len(100_000));
    assert_413(&r, "body 100x over");
}

#[test]
fn gzip_bodies_are_limited_after_decompression() {
    let g = gate();
    let api = g.admin();
    let gz = [("Content-Encoding", "gzip")];
    // Small both ways.
    let r = api.write_with(&[("db", "gz")], &gz, gzip(b"m v=1 1\nm v=2 2\n"));
    assert_eq!(r.status, 204, "small gzip body: {}", r.describe());
    // Compressed well under the limit, but more than the limit once decompressed.
    let big: String = (0..200).map(|i| format!("m v={i} {i}\n")).collect();
    let packed = gzip(big.as_bytes());
    assert!(packed.len() < MAX as usize && big.len() > MAX as usize);
    assert_413(&api.write_with(&[("db", "gz")], &gz, packed), "gzip body that inflates past the limit");
    // Compressed body itself over the limit.
    let noise: String = (0..400u64).map(|i| format!("m v={} {i}\n", i.wrapping_mul(0x9E3779B97F4A7C15) >> 3)).collect();
    let packed = gzip(noise.as_bytes());
    assert!(packed.len() > MAX as usize, "{}", packed.len());
    assert_413(&api.write_with(&[("db", "gz")], &gz, packed), "gzip body over the limit compressed");
}

#[test]
fn gzip_bomb_is_refused_and_server_survives() {
    let mut g = gate();
    // 200 MB of zeros, gzipped to a few hundred KB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&zeros).expect("gzip");
    }
    let bomb = enc.finish().expect("gzip");
    let api = g.admin();
    let r = api.write_with(&[("db", "bomb")], &[("Content-Encoding", "gzip")], bomb.clone());
    // Over the limit compressed as well (a few hundred KB > 1000 B): either way 413.
    assert_413(&r, "gzip bomb");
    assert!(g.alive(), "influxgate died on a gzip bomb:\n{}", g.output());
    assert_eq!(Api::new(&g.url).get("/ping").status, 204);
    let r = api.write("bomb", "m v=1 1");
    assert_eq!(r.status, 204, "write after the bomb: {}", r.describe());
}

#[test]
fn gzip_bomb_under_a_generous_compressed_limit() {
    // The compressed bomb (~200 KB) fits in 1 MB, its 200 MB decompressed do not.
    let mut g = Gate::start_with(GateConfig::new().limit("max_body_bytes = 1000000"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&zeros).expect("gzip");
    }
    let bomb = enc.finish().expect("gzip");
    assert!(bomb.len() < 1_000_000, "{}", bomb.len());
    let r = g.admin().write_with(&[("db", "bomb")], &[("Content-Encoding", "gzip")], bomb);
    assert_eq!(r.status, 413, "{}", r.describe());
    assert_eq!(r.json()["maxLength"].as_u64(), Some(1_000_000), "{}", r.text());
    assert!(g.alive(), "influxgate died on a gzip bomb:\n{}", g.output());
    assert_eq!(g.admin().write("bomb", "m v=1 1").status, 204);
}

#[test]
fn bad_content_encoding() {
    let g = gate();
    let api = g.admin();
    for enc in ["br", "deflate", "x-unknown"] {
        let r = api.write_with(&[("db", "enc")], &[("Content-Encoding", enc)], b"m v=1 1".to_vec());
        assert!((400..500).contains(&r.status), "Content-Encoding {enc}: {}", r.describe());
        assert!(r.json().get("code").is_some(), "{}", r.text());
    }
    // Says gzip, is not.
    let r = api.write_with(&[("db", "enc")], &[("Content-Encoding", "gzip")], b"m v=1 1".to_vec());
    assert!((400..500).contains(&r.status), "plain body sent as gzip: {}", r.describe());
    // Truncated gzip stream.
    let mut packed = gzip(b"m v=1 1\nm v=2 2\n");
    packed.truncate(packed.len() / 2);
    let r = api.write_with(&[("db", "enc")], &[("Content-Encoding", "gzip")], packed);
    assert!((400..500).contains(&r.status), "truncated gzip: {}", r.describe());
    // identity is fine.
    let r = api.write_with(&[("db", "enc")], &[("Content-Encoding", "identity")], b"m v=1 1".to_vec());
    assert_eq!(r.status, 204, "identity: {}", r.describe());
}

/// A body sent with `Transfer-Encoding: chunked` (no Content-Length): the limit still holds.
fn write_chunked(g: &Gate, body: Vec<u8>) -> Resp {
    let reader = std::io::Cursor::new(body);
    let r = client()
        .post(format!("{}/write?db=chunked", g.url))
        .header("Authorization", format!("Token {ADMIN_TOKEN}"))
        .body(reqwest::blocking::Body::new(reader))
        .send()
        .expect("chunked write");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Resp { status, headers, body: r.bytes().map(|b| b.to_vec()).unwrap_or_default() }
}

#[test]
fn chunked_bodies_without_content_length() {
    let g = gate();
    let r = write_chunked(&g, b"m v=1 1\nm v=2 2\n".to_vec());
    assert_eq!(r.status, 204, "small chunked body: {}", r.describe());
    let big: String = (0..200).map(|i| format!("m v={i} {i}\n")).collect();
    assert_413(&write_chunked(&g, big.into_bytes()), "chunked body over the limit");
    assert_eq!(Api::new(&g.url).get("/ping").status, 204);
}

#[test]
fn gzip_body_decompressing_to_exactly_the_limit() {
    let g = gate();
    let api = g.admin();
    let gz = [("Content-Encoding", "gzip")];
    let r = api.write_with(&[("db", "gz")], &gz, gzip(line_of_len(MAX as usize).as_bytes()));
    assert_eq!(r.status, 204, "decompresses to exactly max_body_bytes: {}", r.describe());
    let r = api.write_with(&[("db", "gz")], &gz, gzip(line_of_len(MAX as usize + 1).as_bytes()));
    assert_413(&r, "decompresses to one byte over");
}
