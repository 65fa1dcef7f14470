//! Cardinality: a client creating series or tag values without end (`[limits]
//! max_series_per_database`, `max_values_per_tag`, as 1.x's). Each limit is exceeded with small
//! configured values: the write is refused whole with 400 and 1.x's text, nothing of it is
//! readable, writes within the limits go on, and the limit holds after a restart and against
//! concurrent writers.

use crate::common::*;

fn gate(series: u64, values: u64) -> Gate {
    Gate::start_with(
        GateConfig::new()
            .limit(&format!("max_series_per_database = {series}"))
            .limit(&format!("max_values_per_tag = {values}")),
    )
}

fn write_ok(api: &Api, db: &str, body: &str) {
    let r = api.write(db, body);
    assert_eq!(r.status, 204, "{body:?}: {}", r.describe());
}

fn refused(api: &Api, db: &str, body: &str) -> String {
    let r = api.write(db, body);
    assert_eq!(r.status, 400, "{body:?}: {}", r.describe());
    r.error()
}

fn count(api: &Api, db: &str, q: &str) -> usize {
    rows(&api.query_ok(q, db)).len()
}

#[test]
fn series_limit_refuses_the_whole_batch_and_holds_after_restart() {
    let mut g = gate(5, 0);
    let api = g.admin();
    write_ok(&api, "db", "cpu,host=a v=1 1\ncpu,host=b v=1 1\ncpu,host=c v=1 1");
    // A point of an existing series and four new series: 3 + 4 > 5.
    let body = "cpu,host=a v=2 2\nmem,host=a v=1 1\nmem,host=b v=1 1\nmem,host=c v=1 1\nmem,host=d v=1 1";
    assert_eq!(refused(&api, "db", body), "partial write: max-series-per-database limit exceeded: (5) dropped=5");
    assert_eq!(count(&api, "db", "SELECT v FROM cpu"), 3, "the batch's point of an existing series");
    assert_eq!(count(&api, "db", "SHOW SERIES"), 3);
    assert_eq!(count(&api, "db", "SHOW MEASUREMENTS"), 1);
    // Up to the limit exactly; one more is refused; existing series and other databases write.
    write_ok(&api, "db", "cpu,host=d v=1 1\ncpu,host=e v=1 1\ncpu,host=e v=2 2");
    assert_eq!(refused(&api, "db", "cpu,host=f v=1 1"), "partial write: max-series-per-database limit exceeded: (5) dropped=1");
    write_ok(&api, "db", "cpu,host=a v=3 3");
    write_ok(&api, "other", "cpu,host=a v=1 1\ncpu,host=b v=1 1\ncpu,host=c v=1 1\ncpu,host=d v=1 1\ncpu,host=e v=1 1");
    g.restart();
    let api = g.admin();
    assert_eq!(refused(&api, "db", "cpu,host=f v=1 1"), "partial write: max-series-per-database limit exceeded: (5) dropped=1");
    write_ok(&api, "db", "cpu,host=a v=4 4");
    assert_eq!(count(&api, "db", "SHOW SERIES"), 5);
    assert_eq!(count(&api, "db", "SELECT v FROM cpu"), 8);
}

#[test]
fn values_per_tag_limit_names_the_value_as_1x() {
    let mut g = gate(0, 3);
    let api = g.admin();
    write_ok(&api, "db", "cpu,host=a v=1 1\ncpu,host=b v=1 1\ncpu,host=c v=1 1");
    // influxd 1.6.7 with max-values-per-tag = 3 answers this text (Go %q of the value); it
    // counts only the new series' point as dropped, here the whole batch is refused.
    let body = "cpu,host=a v=2 2\ncpu,host=é\"\\ ☃ v=1 1";
    assert_eq!(
        refused(&api, "db", body),
        r#"partial write: max-values-per-tag limit exceeded (3/3): measurement="cpu" tag="host" value="é\" ☃" dropped=2"#
    );
    assert_eq!(count(&api, "db", "SELECT v FROM cpu"), 3);
    assert_eq!(count(&api, "db", "SHOW TAG VALUES FROM cpu WITH KEY = \"host\""), 3);
    // New series with values the key has, other keys and other measurements are within limits.
    write_ok(&api, "db", "cpu,host=a,dc=x v=1 3\ncpu,host=b,dc=y v=1 3\nmem,host=d v=1 1\nmem,host=e v=1 1");
    refused(&api, "db", "cpu,host=c,dc=z v=1 4\ncpu,host=c,dc=w v=1 4");
    g.restart();
    let api = g.admin();
    let err = refused(&api, "db", "cpu,host=d v=1 1");
    assert!(err.starts_with("partial write: max-values-per-tag limit exceeded (3/3): measurement=\"cpu\" tag=\"host\""), "{err}");
    write_ok(&api, "db", "cpu,host=c,dc=x v=1 5");
    assert_eq!(count(&api, "db", "SHOW SERIES FROM cpu"), 6);
}

#[test]
fn concurrent_writers_cannot_pass_the_series_limit_together() {
    let g = gate(5, 0);
    let barrier = std::sync::Barrier::new(20);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for w in 0..20 {
            let (api, barrier, ok) = (g.admin(), &barrier, &ok);
            s.spawn(move || {
                barrier.wait();
                let r = api.write("db", &format!("cpu,host=h{w} v=1 1\ncpu,host=h{w} v=2 2"));
                match r.status {
                    204 => {
                        ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    400 => assert_eq!(r.error(), "partial write: max-series-per-database limit exceeded: (5) dropped=2"),
                    _ => panic!("writer {w}: {}", r.describe()),
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 5);
    let api = g.admin();
    assert_eq!(count(&api, "db", "SHOW SERIES"), 5);
    assert_eq!(count(&api, "db", "SELECT v FROM cpu"), 10);
}
