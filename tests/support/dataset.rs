//! A deterministic, seeded line-protocol dataset for the differential query suite
//! (tests/diff_queries.rs). Everything here is our own: a small splitmix64 generator, no external
//! randomness, so the same seed always gives byte-identical bodies on every machine.
//!
//! Data covers 2024-01-01T00:00:00Z .. 02:00:00Z at 10 s for `HOSTS` hosts (TSBS-devops-like `cpu`,
//! `mem`, `net`, `disk`), irregular `events` with every field type and sparse tags, names that need
//! escaping (spaces, commas, quotes, `=`, unicode), and a `legacy` measurement with sub-second,
//! epoch-0 and pre-1970 (negative) timestamps.

#![allow(dead_code)]

use std::fmt::Write as _;

/// 2024-01-01T00:00:00Z in nanoseconds.
pub const START_NS: i64 = 1_704_067_200_000_000_000;
pub const SEC: i64 = 1_000_000_000;
pub const HOSTS: usize = 6;
/// Two hours of 10 s steps.
pub const STEPS: i64 = 720;
pub const INTERVAL_NS: i64 = 10 * SEC;

/// splitmix64: tiny, good enough, and fully specified (so reproducible forever).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo) as u64 + 1;
        lo + (self.next_u64() % span) as i64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: i64) -> bool {
        self.range(0, 99) < percent
    }
}

/// A value with a fixed number of decimals, kept as an integer count of 1/10^d units so the
/// text written is exact and identical on both servers.
fn fixed(units: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs() as i64;
    format!("{sign}{}.{:0width$}", a / scale, a % scale, width = decimals as usize)
}

/// Random walk in hundredths, clamped to lo..=hi.
fn walk(rng: &mut Rng, v: &mut i64, lo: i64, hi: i64, step: i64) {
    *v = (*v + rng.range(-step, step)).clamp(lo, hi);
}

struct Host {
    tags: String,
    name: String,
    region: &'static str,
}

const REGIONS: [&str; 3] = ["us-west-1", "eu-central-1", "ap-northeast-1"];
const OSES: [&str; 3] = ["Ubuntu16.04LTS", "Ubuntu15.10", "Debian8"];
const ARCHS: [&str; 2] = ["x64", "x86"];
const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const SERVICE_ENVS: [&str; 3] = ["production", "staging", "test"];
pub const CPU_FIELDS: [&str; 10] = [
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

fn hosts(rng: &mut Rng) -> Vec<Host> {
    (0..HOSTS)
        .map(|i| {
            let region = REGIONS[i % REGIONS.len()];
            let dc = format!("{region}{}", ["a", "b", "c"][rng.range(0, 2) as usize]);
            let name = format!("host_{i}");
            // Tag keys in sorted order, as clients send them.
            let tags = format!(
                "arch={},datacenter={dc},hostname={name},os={},rack={},region={region},service={},service_environment={},service_version={},team={}",
                rng.pick(&ARCHS),
                rng.pick(&OSES),
                rng.range(0, 99),
                rng.range(1, 19),
                rng.pick(&SERVICE_ENVS),
                rng.range(0, 1),
                rng.pick(&TEAMS),
            );
            Host { tags, name, region }
        })
        .collect()
}

/// The whole dataset as line protocol (one point a line, `\n` separated, no trailing newline).
pub fn generate(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let hosts = hosts(&mut rng);
    let mut out = String::with_capacity(4 << 20);
    let mut cpu: Vec<[i64; 10]> = (0..HOSTS).map(|_| std::array::from_fn(|_| rng.range(0, 10_000))).collect();
    let mut mem_used: Vec<i64> = (0..HOSTS).map(|_| rng.range(2, 14) << 30).collect();
    let mut net: Vec<[i64; 3]> = (0..HOSTS).map(|_| [rng.range(0, 1 << 30), rng.range(0, 1 << 30), rng.range(0, 1 << 20)]).collect();
    let mut disk: Vec<i64> = (0..HOSTS).map(|_| rng.range(10, 200) << 30).collect();

    for s in 0..STEPS {
        let t = START_NS + s * INTERVAL_NS;
        for (i, h) in hosts.iter().enumerate() {
            // cpu: ten float fields in percent with two decimals
            let mut fields = String::new();
            for (k, f) in CPU_FIELDS.iter().enumerate() {
                walk(&mut rng, &mut cpu[i][k], 0, 10_000, 300);
                if k > 0 {
                    fields.push(',');
                }
                let _ = write!(fields, "{f}={}", fixed(cpu[i][k], 2));
            }
            let _ = writeln!(out, "cpu,{} {fields} {t}", h.tags);

            // mem: integers and a float; host_1 misses every 7th point
            if !(i == 1 && s % 7 == 0) {
                walk(&mut rng, &mut mem_used[i], 1 << 30, 15 << 30, 1 << 26);
                let total: i64 = 16 << 30;
                let cached = rng.range(0, 1 << 28);
                let pct = mem_used[i] * 100_000_000 / total; // percent, 6 decimals
                let _ = writeln!(
                    out,
                    "mem,hostname={},region={} total={total}i,used={}i,free={}i,cached={cached}i,available={}i,used_percent={} {t}",
                    h.name,
                    h.region,
                    mem_used[i],
                    total - mem_used[i],
                    total - mem_used[i] + cached,
                    fixed(pct, 6)
                );
            }

            // net: counters every 20 s; host_2 resets half way; host_0 has a second interface
            if s % 2 == 0 {
                net[i][0] += rng.range(0, 4_000_000);
                net[i][1] += rng.range(0, 1_500_000);
                net[i][2] += rng.range(0, 3_000);
                if i == 2 && s == STEPS / 2 {
                    net[i] = [rng.range(0, 999), rng.range(0, 999), 0];
                }
                let _ = writeln!(
                    out,
                    "net,hostname={},interface=eth0 bytes_recv={}i,bytes_sent={}i,packets_recv={}i,err_in={}i,drop_in={}i {t}",
                    h.name,
                    net[i][0],
                    net[i][1],
                    net[i][2],
                    rng.range(0, 3),
                    rng.range(0, 1),
                );
                if i == 0 {
                    let _ = writeln!(out, "net,hostname={},interface=eth1 bytes_recv={}i,bytes_sent={}i {t}", h.name, s * 1000, s * 10);
                }
            }

            // disk: every minute, two paths
            if s % 6 == 0 {
                disk[i] += rng.range(0, 1 << 24);
                for path in ["/", "/var/lib"] {
                    let used = if path == "/" { disk[i] } else { disk[i] / 3 };
                    let total: i64 = 1 << 40;
                    let _ = writeln!(
                        out,
                        "disk,device=sda1,fstype=ext4,hostname={},path={path} used={used}i,free={}i,total={total}i,used_percent={},inodes_used={}i {t}",
                        h.name,
                        total - used,
                        fixed(used * 1_000_000 / total, 4),
                        used >> 20,
                    );
                }
            }
        }
    }

    // events: irregular nanosecond times, every field type, sparse tags (source, region missing
    // on some series), and sparse fields (value missing on every 4th point).
    let severities = ["info", "warn", "error", "critical"];
    let messages = ["disk full", "ok", "retrying \\\"job\\\"", "user=alice, action=login", "ünïcødé ✓", "back\\\\slash", ""];
    let mut t = START_NS;
    let mut n = 0i64;
    loop {
        t += rng.range(1, 90 * SEC) + rng.range(0, 999_999_999);
        if t >= START_NS + STEPS * INTERVAL_NS {
            break;
        }
        n += 1;
        let mut tags = format!("severity={}", rng.pick(&severities));
        if n % 3 != 0 {
            let _ = write!(tags, ",source=svc{}", rng.range(1, 4));
        }
        if n % 5 == 0 {
            let _ = write!(tags, ",region={}", rng.pick(&REGIONS));
        }
        let mut fields = format!(
            "message=\"{}\",ok={},code={}i",
            rng.pick(&messages),
            if rng.chance(70) { "true" } else { "false" },
            rng.range(100, 599)
        );
        if n % 4 != 0 {
            let _ = write!(fields, ",value={}", fixed(rng.range(-500_000, 500_000), 4));
        }
        if n % 7 == 0 {
            let _ = write!(fields, ",duration={}i", rng.range(-1000, 1000));
        }
        let _ = writeln!(out, "events,{tags} {fields} {t}");
    }

    // awkward names: spaces, commas, `=`, quotes, unicode
    for k in 0..40i64 {
        let t = START_NS + k * 90 * SEC;
        let _ = writeln!(
            out,
            "h2o\\ level,site\\ name=santa\\ monica,loc=a\\,b\\=c water\\ level={},note=\"tide {k}\" {t}",
            fixed(rng.range(0, 900), 2)
        );
        let _ = writeln!(out, "h2o\\ level,site\\ name=coyote\\ creek,loc=x water\\ level={} {}", fixed(rng.range(0, 900), 2), t + 5 * SEC);
        let _ = writeln!(out, "temp\\,c,city=Zürich,zone=東京 celsius={},ok=t {t}", fixed(rng.range(-1000, 3000), 2));
        if k % 4 == 0 {
            let _ = writeln!(out, "quote\"m,tag\"k=v\"1,k\\=eq=a\\=b f\"x=\"q\\\"uoted\",n={k}i {t}");
        }
        if k % 5 == 0 {
            let _ = writeln!(out, "ünï,ключ=значение,emoji=🚀 wert={k}i,flag=F {t}");
        }
    }

    // legacy: sub-second, epoch-0 and pre-1970 times (negative nanoseconds)
    let legacy: [(i64, &str); 10] = [
        (-86_400 * SEC * 365 * 20, "a"),
        (-86_400 * SEC, "a"),
        (-SEC - 500_000_000, "a"),
        (-1, "a"),
        (0, "a"),
        (1, "a"),
        (1_500, "b"),
        (999_999_999, "b"),
        (SEC + 123_456_789, "b"),
        (START_NS + 1, "b"),
    ];
    for (i, (t, src)) in legacy.iter().enumerate() {
        let _ = writeln!(out, "legacy,src={src} v={},i={}i,s=\"p{i}\" {t}", fixed(i as i64 * 125 - 300, 3), i as i64 - 4);
    }

    // sparse: a measurement whose series start and stop at odd times (fill and gaps)
    for k in 0..30i64 {
        if k % 4 == 1 || k % 9 == 0 {
            continue;
        }
        let t = START_NS + k * 60 * SEC + rng.range(0, 59) * SEC;
        let _ = writeln!(out, "sparse,host=host_{} level={}i,temp={} {t}", k % 2, rng.range(0, 20), fixed(rng.range(150, 350), 1));
    }

    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// A small body for the per-case databases of mutating cases (DROP/DELETE/...).
pub fn small() -> String {
    let mut out = String::new();
    for s in 0..12i64 {
        let t = START_NS + s * INTERVAL_NS;
        for h in 0..3 {
            let _ = writeln!(out, "cpu,hostname=host_{h},region={} usage_user={},usage_idle={} {t}", REGIONS[h % 2], 10 * h as i64 + s, 100 - s);
        }
        let _ = writeln!(out, "mem,hostname=host_0 used={}i {t}", 1000 + s);
        if s % 3 == 0 {
            let _ = writeln!(out, "events,severity=info message=\"m{s}\",ok=true {t}");
        }
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn deterministic() {
        assert_eq!(super::generate(7), super::generate(7));
        assert_ne!(super::generate(7), super::generate(8));
    }
}
