//! TSBS "devops" query shapes against InfluxDB 1.x API servers (influxgate, influxd, ...), side by side.
//!
//! 1. `--load`: generates a deterministic TSBS-like cpu dataset (`--hosts` hosts, one line per host
//!    every 10 s for `--hours` hours from 2016-01-01T00:00:00Z, 10 integer fields a line) and writes it
//!    to every server's `/write?db=<db>` in batches of 5000 lines, one server after the other.
//! 2. Runs each query shape `--runs` times with seeded random hosts and windows, the servers
//!    interleaved (A,B then B,A ...) so they see the same machine noise. Reports median and p90
//!    wall latency per shape and server, the ratio against the first server, the server's CPU time per
//!    query when `--pid NAME=PID` is given (from /proc/PID/stat utime+stime), and whether every answer
//!    is byte-identical between the servers (differences are written to `--diff-dir`).
//!
//! ```text
//! cargo run --release --example tsbs_queries -- \
//!     --server influxgate=http://127.0.0.1:8087@TOKEN --server influxd=http://127.0.0.1:8086 \
//!     --pid influxgate=1234 --pid influxd=1235 --load --runs 20
//! ```
//!
//! Only loopback URLs are accepted; every loop is bounded.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use influxgate::lineproto::tsbs::{CpuGen, SplitMix64, FIELDS};

#[derive(Parser, Debug)]
#[command(about = "TSBS devops query shapes against InfluxDB 1.x API servers (loopback only)")]
struct Args {
    /// NAME=URL[@TOKEN], e.g. influxgate=http://127.0.0.1:8087@secret. The first is the reference
    /// for ratios and answer comparison. Repeat for each server.
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// NAME=PID[+PID..] of a server's processes (e.g. influxgate and the store behind it), to report
    /// their CPU time per query.
    #[arg(long = "pid")]
    pids: Vec<String>,
    /// Database name.
    #[arg(long, default_value = "tsbs")]
    db: String,
    /// Create the database and write the dataset first.
    #[arg(long)]
    load: bool,
    /// Hosts in the dataset.
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Hours of data (one point per host every 10 s).
    #[arg(long, default_value_t = 30)]
    hours: u64,
    /// Seed of the dataset.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Seed of the query parameters.
    #[arg(long, default_value_t = 11)]
    query_seed: u64,
    /// Runs per shape per server.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Only these shapes (comma-separated); default all.
    #[arg(long)]
    shapes: Option<String>,
    /// Concurrent connections while loading.
    #[arg(long, default_value_t = 2)]
    load_connections: usize,
    /// The server ratios and answer comparisons are against (default: the last --server).
    #[arg(long)]
    reference: Option<String>,
    /// Where differing answers are written.
    #[arg(long, default_value = "target/tsbs-diffs")]
    diff_dir: String,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

struct Server {
    name: String,
    base: reqwest::Url,
    token: Option<String>,
    pids: Vec<u32>,
}

const INTERVAL_NS: i64 = 10_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;
const BATCH: usize = 5000;

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(h) = url.host_str() else { return false };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

fn parse_servers(args: &Args) -> Result<Vec<Server>, String> {
    let mut pids = BTreeMap::new();
    for p in &args.pids {
        let (n, v) = p.split_once('=').ok_or_else(|| format!("--pid {p:?}: expected NAME=PID"))?;
        let mut list = Vec::new();
        for x in v.split('+') {
            list.push(x.parse::<u32>().map_err(|e| format!("--pid {p:?}: {e}"))?);
        }
        pids.insert(n.to_string(), list);
    }
    let mut out = Vec::new();
    for s in &args.servers {
        let (name, rest) = s.split_once('=').ok_or_else(|| format!("--server {s:?}: expected NAME=URL[@TOKEN]"))?;
        let (url, token) = match rest.rsplit_once('@') {
            Some((u, t)) if !t.contains('/') => (u, Some(t.to_string())),
            _ => (rest, None),
        };
        let base = reqwest::Url::parse(url).map_err(|e| format!("--server {s:?}: {e}"))?;
        if !is_loopback(&base) {
            return Err(format!("refusing non-loopback URL {base}"));
        }
        out.push(Server { name: name.to_string(), base, token, pids: pids.get(name).cloned().unwrap_or_default() });
    }
    Ok(out)
}

/// utime+stime of a server's processes, in seconds; None when unknown.
fn server_cpu(srv: &Server) -> Option<f64> {
    if srv.pids.is_empty() {
        return None;
    }
    let mut t = 0.0;
    for p in &srv.pids {
        t += cpu_secs(*p)?;
    }
    Some(t)
}

/// utime+stime of a process, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((ut + st) / 100.0)
}

fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn post(client: &reqwest::blocking::Client, srv: &Server, path: &str, query: &[(&str, &str)], body: Option<String>) -> Result<(u16, String), String> {
    let mut url = srv.base.clone();
    url.set_path(path);
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    let mut req = match body {
        Some(b) => client.post(url).header("Content-Type", "text/plain; charset=utf-8").body(b),
        None => client.get(url),
    };
    if let Some(t) = &srv.token {
        req = req.header("Authorization", format!("Token {t}"));
    }
    let r = req.send().map_err(|e| format!("{}: {e}", srv.name))?;
    let st = r.status().as_u16();
    let text = r.text().map_err(|e| format!("{}: {e}", srv.name))?;
    Ok((st, text))
}

fn query(client: &reqwest::blocking::Client, srv: &Server, db: &str, q: &str) -> Result<(u16, String), String> {
    post(client, srv, "/query", &[("db", db), ("q", q)], None)
}

fn load(args: &Args, servers: &[Server], client: &reqwest::blocking::Client) -> Result<(), String> {
    let steps = (args.hours as i64 * HOUR_NS / INTERVAL_NS) as usize;
    let lines = steps * args.hosts.max(1);
    let batches = lines.div_ceil(BATCH);
    eprintln!(
        "dataset: {} hosts x {} steps = {} lines, {} field values, {} batches of {}",
        args.hosts,
        steps,
        lines,
        lines * FIELDS.len(),
        batches,
        BATCH
    );
    for srv in servers {
        let (st, text) = post(client, srv, "/query", &[("q", &format!("CREATE DATABASE \"{}\"", args.db))], Some(String::new()))?;
        if st != 200 {
            return Err(format!("{}: CREATE DATABASE: {st} {text}", srv.name));
        }
        let cpu0 = server_cpu(srv);
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(args.load_connections.max(1) * 2);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        std::thread::scope(|sc| {
            for _ in 0..args.load_connections.max(1) {
                let (rx, errors) = (rx.clone(), errors.clone());
                sc.spawn(move || loop {
                    let next = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => break,
                    };
                    let Ok(body) = next else { break };
                    match post(client, srv, "/write", &[("db", args.db.as_str())], Some(body)) {
                        Ok((204, _)) => {}
                        Ok((st, t)) => {
                            if let Ok(mut e) = errors.lock() {
                                e.push(format!("HTTP {st}: {}", t.chars().take(200).collect::<String>()))
                            }
                        }
                        Err(e) => {
                            if let Ok(mut es) = errors.lock() {
                                es.push(e)
                            }
                        }
                    }
                });
            }
            let mut gen = CpuGen::tsbs(args.seed, args.hosts);
            let mut left = lines;
            for _ in 0..batches {
                let n = left.min(BATCH);
                left -= n;
                let mut s = String::with_capacity(n * 300);
                for _ in 0..n {
                    gen.write_line(&mut s);
                }
                if tx.send(s).is_err() {
                    break;
                }
            }
            drop(tx);
        });
        let secs = t0.elapsed().as_secs_f64();
        let cpu = match (cpu0, server_cpu(srv)) {
            (Some(a), Some(b)) => format!(", server CPU {:.1} s", b - a),
            _ => String::new(),
        };
        let errs = errors.lock().map(|e| e.clone()).unwrap_or_default();
        eprintln!(
            "load {:12} {:8.2} s  {:9.0} points/s {:10.0} field values/s{cpu}",
            srv.name,
            secs,
            lines as f64 / secs,
            (lines * FIELDS.len()) as f64 / secs
        );
        if let Some(e) = errs.first() {
            return Err(format!("{}: {} failed batches, first: {e}", srv.name, errs.len()));
        }
    }
    Ok(())
}

struct Shape {
    name: &'static str,
    make: fn(&mut SplitMix64, &Ctx) -> String,
}

struct Ctx {
    hosts: usize,
    start: i64,
    end: i64,
}

fn host(r: &mut SplitMix64, c: &Ctx) -> String {
    format!("host_{}", r.below(c.hosts as u64))
}

/// A window of `len` starting at a random whole minute inside the data.
fn window(r: &mut SplitMix64, c: &Ctx, len: i64) -> (i64, i64) {
    let span = (c.end - c.start - len).max(0);
    let minutes = span / 60_000_000_000;
    let s = c.start + r.below(minutes as u64 + 1) as i64 * 60_000_000_000;
    (s, s + len)
}

fn hosts_clause(r: &mut SplitMix64, c: &Ctx, n: usize) -> String {
    let mut picked: Vec<u64> = Vec::new();
    let mut tries = 0;
    while picked.len() < n.min(c.hosts) && tries < 10_000 {
        tries += 1;
        let h = r.below(c.hosts as u64);
        if !picked.contains(&h) {
            picked.push(h);
        }
    }
    let parts: Vec<String> = picked.iter().map(|h| format!("hostname = 'host_{h}'")).collect();
    format!("({})", parts.join(" or "))
}

/// TSBS's cpu-max-all-N: max of every field of N random hosts over 8 h, by hour.
fn cpu_max_all(r: &mut SplitMix64, c: &Ctx, n: usize) -> String {
    let hs = hosts_clause(r, c, n);
    let (s, e) = window(r, c, 8 * HOUR_NS);
    let sel: Vec<String> = FIELDS.iter().map(|f| format!("max({f})")).collect();
    format!(
        "SELECT {} from cpu where {hs} and time >= '{}' and time < '{}' group by time(1h)",
        sel.join(","),
        rfc3339(s),
        rfc3339(e)
    )
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "single-groupby-1-1-1",
            make: |r, c| {
                let h = host(r, c);
                let (s, e) = window(r, c, HOUR_NS);
                format!(
                    "SELECT max(usage_user) from cpu where (hostname = '{h}') and time >= '{}' and time < '{}' group by time(1m)",
                    rfc3339(s),
                    rfc3339(e)
                )
            },
        },
        Shape {
            name: "single-groupby-5-1-12",
            make: |r, c| {
                let h = host(r, c);
                let (s, e) = window(r, c, 12 * HOUR_NS);
                let sel: Vec<String> = FIELDS[..5].iter().map(|f| format!("max({f})")).collect();
                format!(
                    "SELECT {} from cpu where (hostname = '{h}') and time >= '{}' and time < '{}' group by time(1m)",
                    sel.join(","),
                    rfc3339(s),
                    rfc3339(e)
                )
            },
        },
        Shape {
            name: "cpu-max-all-1",
            make: |r, c| cpu_max_all(r, c, 1),
        },
        Shape {
            name: "cpu-max-all-8",
            make: |r, c| cpu_max_all(r, c, 8),
        },
        Shape {
            name: "double-groupby-1",
            make: |_r, c| {
                format!(
                    "SELECT mean(usage_user) from cpu where time >= '{}' and time < '{}' group by time(1h),hostname",
                    rfc3339(c.start),
                    rfc3339(c.end)
                )
            },
        },
        Shape {
            name: "high-cpu-1",
            make: |r, c| {
                let h = host(r, c);
                let (s, e) = window(r, c, 12 * HOUR_NS);
                format!(
                    "SELECT * from cpu where usage_user > 90.0 and time >= '{}' and time < '{}' and (hostname = '{h}')",
                    rfc3339(s),
                    rfc3339(e)
                )
            },
        },
        Shape { name: "lastpoint", make: |_r, _c| "SELECT last(*) from cpu group by *".to_string() },
        Shape {
            name: "groupby-orderby-limit",
            make: |r, c| {
                let (_, e) = window(r, c, HOUR_NS);
                format!(
                    "SELECT max(usage_user) from cpu where time < '{}' group by time(1m) order by time desc limit 5",
                    rfc3339(e)
                )
            },
        },
    ]
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tsbs_queries: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let servers = parse_servers(args)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .pool_max_idle_per_host(args.load_connections.max(1))
        .build()
        .map_err(|e| e.to_string())?;
    if args.load {
        load(args, &servers, &client)?;
    }
    let steps = args.hours as i64 * HOUR_NS / INTERVAL_NS;
    let ctx = Ctx { hosts: args.hosts.max(1), start: CpuGen::TSBS_START_NS, end: CpuGen::TSBS_START_NS + steps * INTERVAL_NS };
    let only: Option<Vec<String>> = args.shapes.as_ref().map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let _ = std::fs::create_dir_all(&args.diff_dir);

    let r = match &args.reference {
        Some(n) => servers.iter().position(|s| &s.name == n).ok_or_else(|| format!("--reference {n}: no such server"))?,
        None => servers.len() - 1,
    };
    let others: Vec<usize> = (0..servers.len()).filter(|&i| i != r).collect();
    println!(
        "| shape | {} | {} | {} |",
        servers.iter().map(|s| format!("{} median / p90 ms (server CPU ms/query)", s.name)).collect::<Vec<_>>().join(" | "),
        others.iter().map(|&i| format!("{}/{} median", servers[i].name, servers[r].name)).collect::<Vec<_>>().join(" | "),
        others.iter().map(|&i| format!("{} = {} answers", servers[i].name, servers[r].name)).collect::<Vec<_>>().join(" | "),
    );
    println!("|---|{}", "---|".repeat(servers.len() + 2 * others.len()));
    let mut total_diffs = 0usize;
    for (si, shape) in shapes().iter().enumerate() {
        if let Some(o) = &only {
            if !o.iter().any(|x| x == shape.name) {
                continue;
            }
        }
        let mut rng = SplitMix64::new(args.query_seed ^ ((si as u64 + 1) * 0x9E37_79B9));
        let mut lat: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
        let mut cpu: Vec<f64> = vec![0.0; servers.len()];
        let mut cpu_ok = vec![true; servers.len()];
        let mut identical = vec![0usize; servers.len()];
        let mut diffs = 0usize;
        // One untimed warm-up query per server (first-touch caches, connection setup).
        let warm = (shape.make)(&mut SplitMix64::new(args.query_seed.wrapping_add(999)), &ctx);
        for srv in &servers {
            let _ = query(&client, srv, &args.db, &warm);
        }
        for run in 0..args.runs {
            let q = (shape.make)(&mut rng, &ctx);
            let mut answers: Vec<Option<(u16, String)>> = vec![None; servers.len()];
            let n = servers.len();
            for k in 0..n {
                // Interleave: rotate which server goes first each run.
                let i = (k + run) % n;
                let srv = &servers[i];
                let c0 = server_cpu(srv);
                let t0 = Instant::now();
                let a = query(&client, srv, &args.db, &q)?;
                lat[i].push(t0.elapsed().as_secs_f64() * 1000.0);
                match (c0, server_cpu(srv)) {
                    (Some(a), Some(b)) => cpu[i] += b - a,
                    _ => cpu_ok[i] = false,
                }
                if a.0 != 200 {
                    eprintln!("{} {}: HTTP {} {}", shape.name, srv.name, a.0, a.1.chars().take(300).collect::<String>());
                }
                answers[i] = Some(a);
            }
            let reference = answers[r].clone();
            let mut differs = false;
            for (i, a) in answers.iter().enumerate() {
                if *a == reference {
                    identical[i] += 1;
                } else {
                    differs = true;
                }
            }
            if differs {
                diffs += 1;
                if diffs <= 3 {
                    let base = format!("{}/{}-{}", args.diff_dir, shape.name, run);
                    let _ = std::fs::write(format!("{base}.query.txt"), &q);
                    for (i, a) in answers.iter().enumerate() {
                        if let Some((st, body)) = a {
                            let _ = std::fs::write(format!("{base}.{}.txt", servers[i].name), format!("{st}\n{body}\n"));
                        }
                    }
                }
            }
        }
        total_diffs += diffs;
        let cells: Vec<String> = (0..servers.len())
            .map(|i| {
                let c = if cpu_ok[i] && !servers[i].pids.is_empty() {
                    format!(" ({:.1})", cpu[i] * 1000.0 / args.runs.max(1) as f64)
                } else {
                    String::new()
                };
                format!("{:.2} / {:.2}{c}", pct(&lat[i], 0.5), pct(&lat[i], 0.9))
            })
            .collect();
        let ratios: Vec<String> = others.iter().map(|&i| format!("{:.2}", pct(&lat[i], 0.5) / pct(&lat[r], 0.5))).collect();
        let same: Vec<String> = others.iter().map(|&i| format!("{}/{}", identical[i], args.runs)).collect();
        println!("| {} | {} | {} | {} |", shape.name, cells.join(" | "), ratios.join(" | "), same.join(" | "));
    }
    if total_diffs > 0 {
        println!("\n{total_diffs} runs had answers that differ; the first few are in {}", args.diff_dir);
    }
    Ok(())
}
