//! A process's resident memory from `/proc` (Linux), for the soak test and the catalog bench.

/// `VmRSS` of process `pid` (`"self"` for this one) in bytes; 0 where unavailable.
pub fn vm_rss(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
