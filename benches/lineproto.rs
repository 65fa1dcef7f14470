//! Line-protocol parsing throughput on TSBS devops cpu lines: our borrowed parser, our `parse_body`
//! (owned `Point`s), and the `influxdb-line-protocol` crate (InfluxDB IOx's parser).
//!
//! `cargo bench --bench lineproto -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use influxgate::lineproto::{parse_body_str, tsbs::CpuGen, BodyParser, Precision};

const LINES: usize = 5000;

/// CPU time this thread has run, from /proc (ns); None where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Throughput by CPU time rather than wall time (the bench machine is shared; wall time under load
/// undercounts a core's speed). Runs `f` on `body` for about `secs` seconds of CPU.
fn cpu_rate(name: &str, body: &str, secs: f64, mut f: impl FnMut(&str) -> usize) {
    let Some(t0) = thread_cpu_ns() else { return };
    let mut iters = 0u64;
    let mut sink = 0usize;
    let mut t1 = t0;
    while (t1 - t0) as f64 / 1e9 < secs {
        sink = sink.wrapping_add(f(black_box(body)));
        iters += 1;
        t1 = thread_cpu_ns().unwrap_or(t0);
    }
    let cpu_s = (t1 - t0) as f64 / 1e9;
    let bytes = body.len() as f64 * iters as f64;
    let lines = LINES as f64 * iters as f64;
    eprintln!(
        "cpu-time {name:32} {:8.1} MB/s {:10.0} lines/s {:11.0} field values/s  ({} iters, sink {})",
        bytes / cpu_s / 1e6,
        lines / cpu_s,
        lines * 10.0 / cpu_s,
        iters,
        sink % 7
    );
}

fn borrowed(body: &str) -> usize {
    let mut p = BodyParser::new(body, Precision::Nanosecond);
    let mut n = 0usize;
    while let Some((_, _, r)) = p.next_line() {
        if let Ok(l) = r {
            n += l.fields.len();
        }
    }
    n
}

fn owned(body: &str) -> usize {
    parse_body_str(body, Precision::Nanosecond, 0).map(|v| v.len()).unwrap_or(0)
}

fn theirs(body: &str) -> usize {
    let mut n = 0usize;
    for l in influxdb_line_protocol::parse_lines(body).flatten() {
        n += l.field_set.len();
    }
    n
}

fn bench(c: &mut Criterion) {
    let body = CpuGen::tsbs(42, 100).body(LINES);
    if std::env::var_os("LP_CPU_SECS").is_some() || thread_cpu_ns().is_some() {
        let secs = std::env::var("LP_CPU_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
        cpu_rate("influxgate_borrowed", &body, secs, borrowed);
        cpu_rate("influxgate_parse_body", &body, secs, owned);
        cpu_rate("influxdb_line_protocol_crate", &body, secs, theirs);
    }
    let mut g = c.benchmark_group("lineproto_tsbs_cpu");
    g.throughput(Throughput::Bytes(body.len() as u64));
    eprintln!(
        "body: {} lines, {} bytes, {:.1} bytes/line; lines/s = MB/s (decimal) * 1e6 / {:.1}",
        LINES,
        body.len(),
        body.len() as f64 / LINES as f64,
        body.len() as f64 / LINES as f64
    );

    g.bench_function("influxgate_borrowed", |b| {
        b.iter(|| {
            let mut p = BodyParser::new(black_box(&body), Precision::Nanosecond);
            let mut n = 0usize;
            while let Some((_, _, r)) = p.next_line() {
                if let Ok(l) = r {
                    n += l.fields.len();
                }
            }
            assert_eq!(n, LINES * 10);
            n
        })
    });

    g.bench_function("influxgate_parse_body", |b| {
        b.iter(|| {
            let v = parse_body_str(black_box(&body), Precision::Nanosecond, 0).expect("valid");
            assert_eq!(v.len(), LINES);
            v
        })
    });

    g.bench_function("influxdb_line_protocol_crate", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in influxdb_line_protocol::parse_lines(black_box(&body)).flatten() {
                n += l.field_set.len();
            }
            assert_eq!(n, LINES * 10);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
