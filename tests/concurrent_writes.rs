//! Many clients writing at once: every point answered 204 reads back, none lost or duplicated.

mod common;
use common::*;

#[test]
fn parallel_writers_lose_nothing() {
    let g = Gate::start();
    let (threads, writes, points) = (8, 25, 4);
    std::thread::scope(|s| {
        for t in 0..threads {
            let api = g.admin();
            s.spawn(move || {
                for w in 0..writes {
                    let body: String = (0..points)
                        .map(|p| {
                            let ts = ((t * writes + w) * points + p) as i64 * 1_000_000_000;
                            format!("m,writer=w{t} v={w}i,p={p}i {ts}\n")
                        })
                        .collect();
                    let r = api.write("par", &body);
                    assert_eq!(r.status, 204, "writer {t} write {w}: {}", r.describe());
                }
            });
        }
    });
    let v = g.admin().query_ok("SELECT * FROM m", "par");
    let rows = rows(&v);
    assert_eq!(rows.len(), threads * writes * points, "points read back");
    let mut times: Vec<i64> = rows.iter().filter_map(|r| r.first().and_then(|t| t.as_i64())).collect();
    times.dedup();
    assert_eq!(times.len(), threads * writes * points, "distinct times");
    let v = g.admin().query_ok("SHOW SERIES", "par");
    assert_eq!(crate::rows(&v).len(), threads, "{v}");
}
