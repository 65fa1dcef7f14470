//! A deterministic generator of TSBS-like "devops cpu" lines (the Time Series Benchmark Suite's
//! `cpu-only` use case as its InfluxDB serializer writes it): 10 tags per host, 10 integer fields,
//! nanosecond timestamps, about 250–300 bytes a line. Used by the parser benchmark and by the
//! `write_load` example.

use std::fmt::Write as _;

const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];
const OS: &[&str] = &["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCH: &[&str] = &["x64", "x86"];
const TEAM: &[&str] = &["SF", "NYC", "LON", "CHI"];
const ENV: &[&str] = &["production", "staging", "test"];
/// The field names, in the order TSBS writes them.
pub const FIELDS: &[&str] = &[
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// A small, fast, seedable PRNG (splitmix64); deterministic across platforms.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Generates cpu lines for `hosts` hosts, one line per host per `interval_ns`, starting at
/// `start_ns` (TSBS uses 2016-01-01T00:00:00Z and a 10 s interval).
#[derive(Debug, Clone)]
pub struct CpuGen {
    host_tags: Vec<String>,
    values: Vec<[i64; 10]>,
    rng: SplitMix64,
    next_host: usize,
    t: i64,
    interval_ns: i64,
}

impl CpuGen {
    pub const TSBS_START_NS: i64 = 1_451_606_400_000_000_000;

    pub fn new(seed: u64, hosts: usize, start_ns: i64, interval_ns: i64) -> Self {
        let hosts = hosts.max(1);
        let mut rng = SplitMix64::new(seed);
        let mut host_tags = Vec::with_capacity(hosts);
        let mut values = Vec::with_capacity(hosts);
        for h in 0..hosts {
            let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
            let dc = ["a", "b", "c"][rng.below(3) as usize];
            host_tags.push(format!(
                "cpu,hostname=host_{h},region={region},datacenter={region}{dc},rack={},os={},arch={},team={},service={},service_version={},service_environment={}",
                rng.below(100),
                OS[rng.below(OS.len() as u64) as usize],
                ARCH[rng.below(ARCH.len() as u64) as usize],
                TEAM[rng.below(TEAM.len() as u64) as usize],
                rng.below(20),
                rng.below(2),
                ENV[rng.below(ENV.len() as u64) as usize],
            ));
            let mut v = [0i64; 10];
            for x in v.iter_mut() {
                *x = rng.below(101) as i64;
            }
            values.push(v);
        }
        CpuGen { host_tags, values, rng, next_host: 0, t: start_ns, interval_ns }
    }

    /// Restarts the sequence at `start_ns` with fresh values drawn from `value_seed`, keeping the hosts
    /// (and so the series). Lets independent batches be generated deterministically.
    pub fn restart(&mut self, value_seed: u64, start_ns: i64) {
        self.rng = SplitMix64::new(value_seed);
        for v in self.values.iter_mut() {
            for x in v.iter_mut() {
                *x = self.rng.below(101) as i64;
            }
        }
        self.next_host = 0;
        self.t = start_ns;
    }

    /// Number of hosts (series).
    pub fn hosts(&self) -> usize {
        self.host_tags.len()
    }

    /// The interval between two timestamps of a host.
    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }

    /// TSBS's defaults: start 2016-01-01, 10 s interval.
    pub fn tsbs(seed: u64, hosts: usize) -> Self {
        Self::new(seed, hosts, Self::TSBS_START_NS, 10_000_000_000)
    }

    /// Appends the next line (with its trailing newline) to `out`.
    pub fn write_line(&mut self, out: &mut String) {
        let h = self.next_host;
        out.push_str(&self.host_tags[h]);
        let v = &mut self.values[h];
        for (i, name) in FIELDS.iter().enumerate() {
            // A bounded random walk, like TSBS's.
            let step = self.rng.below(11) as i64 - 5;
            v[i] = (v[i] + step).clamp(0, 100);
            out.push(if i == 0 { ' ' } else { ',' });
            out.push_str(name);
            let _ = write!(out, "={}i", v[i]);
        }
        let _ = writeln!(out, " {}", self.t);
        self.next_host += 1;
        if self.next_host == self.host_tags.len() {
            self.next_host = 0;
            self.t += self.interval_ns;
        }
    }

    /// A body of `lines` lines.
    pub fn body(&mut self, lines: usize) -> String {
        let mut s = String::with_capacity(lines * 300);
        for _ in 0..lines {
            self.write_line(&mut s);
        }
        s
    }
}
