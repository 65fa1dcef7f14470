//! Parsing a VictoriaMetrics `/api/v1/export` line as `high-cpu-1` reads them (one host's field over
//! 12 h at 10 s: 4320 samples, TSBS's ten tags): `victoriametrics::export::parse_line` against
//! serde_json into a struct of a `HashMap` and two vectors (the parser it replaced, whose second
//! pass for `+Inf`/`-Inf`/`NaN` is not counted here). Three kinds of values: integers (TSBS's,
//! what the benchmark's data holds), decimals of 12 significant digits (VictoriaMetrics keeps about
//! that many), and full 17-digit doubles (which VictoriaMetrics does not print; the general path).
//!
//! `cargo bench --bench vm_export -- --warm-up-time 1 --measurement-time 3`

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use influxgate::backend::victoriametrics::export::{parse_line, Samples};

const SAMPLES: usize = 4320;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct SerdeLine {
    metric: HashMap<String, String>,
    values: Vec<f64>,
    timestamps: Vec<i64>,
}

/// How a line's values are printed.
type Printer = fn(f64) -> String;

/// A line as VictoriaMetrics writes it, values in 0..100 printed by `fmt`.
fn line(fmt: Printer) -> String {
    let labels = "\"__name__\":\"cpu_usage_user\",\"arch\":\"x64\",\"datacenter\":\"eu-west-1c\",\"db\":\"benchmark\",\
        \"hostname\":\"host_7\",\"os\":\"Ubuntu16.04LTS\",\"rack\":\"87\",\"region\":\"eu-west-1\",\"service\":\"11\",\
        \"service_environment\":\"staging\",\"service_version\":\"0\",\"team\":\"NYC\"";
    let mut x: u64 = 42;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    };
    let values: Vec<String> = (0..SAMPLES).map(|_| fmt(next())).collect();
    let times: Vec<String> = (0..SAMPLES).map(|i| (1_451_606_400_000i64 + 10_000 * i as i64).to_string()).collect();
    format!("{{\"metric\":{{{labels}}},\"values\":[{}],\"timestamps\":[{}]}}", values.join(","), times.join(","))
}

fn bench(c: &mut Criterion) {
    let kinds: [(&str, Printer); 3] = [
        ("integers", |v| format!("{}", v as i64)),
        ("12_digits", |v| format!("{}", format!("{v:.10}").parse::<f64>().unwrap_or(v))),
        ("17_digits", |v| format!("{v:?}")),
    ];
    let mut g = c.benchmark_group("vm_export_line");
    g.throughput(Throughput::Elements(SAMPLES as u64));
    for (kind, fmt) in kinds {
        let line = line(fmt);
        g.bench_function(format!("export_parse_line/{kind}"), |b| {
            let mut s = Samples::default();
            b.iter(|| {
                let l = parse_line(black_box(line.as_bytes()), &mut s).expect("valid");
                assert_eq!(s.values.len(), SAMPLES);
                l.len()
            })
        });
        g.bench_function(format!("serde_struct_before/{kind}"), |b| {
            b.iter(|| {
                let l: SerdeLine = serde_json::from_slice(black_box(line.as_bytes())).expect("valid");
                assert_eq!(l.values.len(), SAMPLES);
                l.metric.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
