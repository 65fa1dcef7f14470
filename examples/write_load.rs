//! Write load generator: TSBS-like "devops cpu" lines (deterministic, seeded), POSTed in batches to
//! an InfluxDB 1.x `/write` URL over N concurrent connections, for a bounded number of points.
//! Reports points/s and field values/s. Works against influxgate and against a real influxd.
//!
//! ```text
//! cargo run --release --example write_load -- 'http://127.0.0.1:8086/write?db=bench' \
//!     --points 1000000 --connections 4 [--token T] [--create-db] [--gzip]
//! ```
//!
//! With `--clickhouse-table T` the same bodies go straight into ClickHouse instead: each is parsed
//! and sent as `INSERT INTO T (time, _series, _seq, <tags>, <fields>) FORMAT RowBinary` to the
//! ClickHouse HTTP URL given (add `?insert_distributed_sync=1` for a Distributed table), the rows
//! influxgate's ClickHouse backend would insert for them (the write-overhead baseline of
//! `scripts/bench-clickhouse.sh`). That conversion is done before the clock starts (it implies
//! `--pregenerate`), so the client's cost is the same in both modes.
//!
//! Only loopback URLs are accepted.

use std::io::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use influxgate::lineproto::tsbs::{CpuGen, FIELDS};

#[derive(Parser, Debug)]
#[command(about = "POST TSBS-like cpu lines to an InfluxDB 1.x /write endpoint (loopback only)")]
struct Args {
    /// The /write URL, e.g. http://127.0.0.1:8086/write?db=bench (precision: ns).
    url: String,
    /// Sent as `Authorization: Token <token>`.
    #[arg(long)]
    token: Option<String>,
    /// Concurrent connections (each with one request in flight).
    #[arg(long, short = 'c', default_value_t = 4)]
    connections: usize,
    /// Total points to write (rounded up to whole batches).
    #[arg(long, short = 'n', default_value_t = 1_000_000)]
    points: u64,
    /// Lines per request.
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Hosts (series) in the generated data.
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Seed of the generator; the same seed gives the same bodies.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Gzip each body (sends `Content-Encoding: gzip`).
    #[arg(long)]
    gzip: bool,
    /// Before writing, send `CREATE DATABASE <db>` (db taken from the URL) to /query on the same host.
    #[arg(long)]
    create_db: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Make every body before the clock starts (held in memory), so that generating them takes
    /// no CPU from the servers during the timed part.
    #[arg(long)]
    pregenerate: bool,
    /// Insert into this ClickHouse table (`db`.`table`, as SQL) at the URL, in RowBinary, instead
    /// of POSTing line protocol (module docs).
    #[arg(long)]
    clickhouse_table: Option<String>,
}

/// Body `k` of the run: `batch` lines of the seeded TSBS cpu generator.
fn make_body(seed: u64, hosts: usize, batch: usize, k: u64) -> String {
    let mut gen = CpuGen::tsbs(seed, hosts);
    let h = gen.hosts() as i64;
    let steps_per_batch = (batch as i64 + h - 1) / h;
    let mut s = String::with_capacity(batch * 320);
    gen.restart(
        seed ^ (k.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        CpuGen::TSBS_START_NS + k as i64 * steps_per_batch * gen.interval_ns(),
    );
    for _ in 0..batch {
        gen.write_line(&mut s);
    }
    s
}

/// The rows influxgate's ClickHouse backend inserts for `body` (one measurement, the same tag and
/// field keys on every line, as the generator makes them): the column list and the RowBinary.
fn clickhouse_rows(body: &str, seq: &mut u64) -> Result<(String, Vec<u8>), String> {
    use influxgate::backend::clickhouse::{names::series_id, rowbinary::Encoder};
    let points = influxgate::lineproto::parse_body_str(body, influxgate::lineproto::Precision::Nanosecond, 0)
        .map_err(|e| format!("generated body does not parse: {e:?}"))?;
    let first = points.first().ok_or("empty body")?;
    let mut cols = vec!["time".to_string(), "_series".into(), "_seq".into()];
    cols.extend(first.tags.iter().map(|(k, _)| format!("`{k}`")));
    cols.extend(first.fields.iter().map(|(k, _)| format!("`{k}`")));
    let mut e = Encoder { buf: Vec::with_capacity(body.len()) };
    for p in &points {
        e.i64(p.time);
        e.bytes(&series_id(&p.tags));
        e.u64(*seq);
        *seq += 1;
        for (_, v) in &p.tags {
            e.bytes(v.as_bytes());
        }
        for (_, v) in &p.fields {
            e.field(Some(v.as_field_ref()));
        }
    }
    Ok((cols.join(", "), e.buf))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(h) = url.host_str() else { return false };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(body);
    e.finish().unwrap_or_default()
}

struct Stats {
    ok_batches: AtomicU64,
    ok_points: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    latencies_us: std::sync::Mutex<Vec<u64>>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("write_load: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let url = reqwest::Url::parse(&args.url).map_err(|e| format!("bad URL {:?}: {e}", args.url))?;
    if !is_loopback(&url) {
        return Err(format!("refusing non-loopback URL {url}"));
    }
    if args.batch == 0 || args.connections == 0 {
        return Err("--batch and --connections must be positive".into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(args.timeout))
        .build()
        .map_err(|e| e.to_string())?;

    if args.create_db {
        let db = url
            .query_pairs()
            .find(|(k, _)| k == "db")
            .map(|(_, v)| v.into_owned())
            .ok_or("--create-db needs db=... in the URL")?;
        let mut q = url.clone();
        q.set_path("/query");
        q.set_query(None);
        let mut req = client.post(q).form(&[("q", format!("CREATE DATABASE \"{}\"", db.replace('"', "\\\"")))]);
        if let Some(t) = &args.token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        let r = req.send().await.map_err(|e| format!("CREATE DATABASE: {e}"))?;
        let st = r.status();
        let body = r.text().await.unwrap_or_default();
        if !st.is_success() {
            return Err(format!("CREATE DATABASE: {st} {body}"));
        }
    }

    let batches = args.points.div_ceil(args.batch as u64).max(1);
    let total_points = batches * args.batch as u64;
    eprintln!(
        "write_load: {total_points} points ({batches} batches of {}) over {} connections to {url}",
        args.batch, args.connections
    );

    // Every body made before the clock starts (--pregenerate, --clickhouse-table), or one generator
    // thread making them in order (deterministic content), a few batches ahead.
    let (seed, hosts, batch, do_gzip) = (args.seed, args.hosts, args.batch, args.gzip);
    let mut url = url;
    let mut ready: Vec<(u64, bytes::Bytes, usize)> = Vec::new();
    if args.pregenerate || args.clickhouse_table.is_some() {
        let mut seq = 0u64;
        for k in 0..batches {
            let s = make_body(seed, hosts, batch, k);
            let raw_len = s.len();
            let body = match &args.clickhouse_table {
                Some(t) => {
                    let (cols, rows) = clickhouse_rows(&s, &mut seq)?;
                    if k == 0 {
                        url.query_pairs_mut().append_pair("query", &format!("INSERT INTO {t} ({cols}) FORMAT RowBinary"));
                    }
                    rows
                }
                None => s.into_bytes(),
            };
            ready.push((k, bytes::Bytes::from(if do_gzip { gzip(&body) } else { body }), raw_len));
        }
        eprintln!("write_load: {} bodies made before the clock starts", ready.len());
    }
    let url = url;
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, bytes::Bytes, usize)>(args.connections * 2);
    let gen_thread = std::thread::spawn(move || {
        if !ready.is_empty() {
            for b in ready {
                if tx.blocking_send(b).is_err() {
                    break;
                }
            }
            return;
        }
        for k in 0..batches {
            let s = make_body(seed, hosts, batch, k);
            let raw_len = s.len();
            let body = if do_gzip { bytes::Bytes::from(gzip(s.as_bytes())) } else { bytes::Bytes::from(s) };
            if tx.blocking_send((k, body, raw_len)).is_err() {
                break;
            }
        }
    });

    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let stats = Arc::new(Stats {
        ok_batches: AtomicU64::new(0),
        ok_points: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
        latencies_us: std::sync::Mutex::new(Vec::with_capacity(batches as usize)),
    });
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (rx, stats, client, url, token, done) =
            (rx.clone(), stats.clone(), client.clone(), url.clone(), args.token.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let next = { rx.lock().await.recv().await };
                let Some((_k, body, raw_len)) = next else { break };
                let mut req = client.post(url.clone()).header("Content-Type", "text/plain; charset=utf-8");
                if let Some(t) = &token {
                    req = req.header("Authorization", format!("Token {t}"));
                }
                if do_gzip {
                    req = req.header("Content-Encoding", "gzip");
                }
                let t0 = Instant::now();
                let res = req.body(body).send().await;
                let outcome = match res {
                    Ok(r) => {
                        let st = r.status();
                        let text = r.text().await.unwrap_or_default();
                        if st.as_u16() == 204 || st.is_success() {
                            Ok(())
                        } else {
                            Err(format!("HTTP {st}: {}", text.chars().take(300).collect::<String>()))
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                let us = t0.elapsed().as_micros() as u64;
                match outcome {
                    Ok(()) => {
                        stats.ok_batches.fetch_add(1, Ordering::Relaxed);
                        stats.ok_points.fetch_add(batch as u64, Ordering::Relaxed);
                        stats.bytes.fetch_add(raw_len as u64, Ordering::Relaxed);
                        if let Ok(mut l) = stats.latencies_us.lock() {
                            l.push(us);
                        }
                    }
                    Err(e) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = stats.first_error.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = gen_thread.join();

    let ok_points = stats.ok_points.load(Ordering::Relaxed) as f64;
    let bytes = stats.bytes.load(Ordering::Relaxed) as f64;
    let mut lat = stats.latencies_us.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
        }
    };
    println!("url:               {url}");
    println!("connections:       {}", args.connections);
    println!("batches ok/failed: {}/{}", stats.ok_batches.load(Ordering::Relaxed), stats.failed.load(Ordering::Relaxed));
    println!("elapsed:           {elapsed:.3} s");
    println!("points/s:          {:.0}", ok_points / elapsed);
    println!("field values/s:    {:.0}", ok_points * FIELDS.len() as f64 / elapsed);
    println!("MB/s (raw body):   {:.1}", bytes / elapsed / 1e6);
    println!("latency ms p50/p90/p99/max: {:.1}/{:.1}/{:.1}/{:.1}", pct(0.5), pct(0.9), pct(0.99), pct(1.0));
    if let Ok(f) = stats.first_error.lock() {
        if let Some(e) = f.as_ref() {
            println!("first error:       {e}");
        }
    }
    if stats.failed.load(Ordering::Relaxed) > 0 {
        return Err("some batches failed".into());
    }
    Ok(())
}
