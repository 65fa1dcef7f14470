//! Data written before a restart (even a SIGKILL) reads back after it, from the same data dir.

mod common;
use common::*;
use serde_json::json;

#[test]
fn restart_keeps_data() {
    let mut g = Gate::start();
    let body = "m,host=a v=1.5,n=3i,s=\"x\",b=true 1000000000\n\
                m,host=b v=2.5,n=4i,s=\"y\",b=false 2000000000\n\
                other v=7 3000000000\n";
    let w = g.admin().write("keep", body);
    assert_eq!(w.status, 204, "write: {}", w.describe());
    let before = g.admin().query_ok("SELECT * FROM m", "keep");

    g.restart();

    let after = g.admin().query_ok("SELECT * FROM m", "keep");
    assert_eq!(before, after, "SELECT * FROM m differs after the restart");
    assert_eq!(columns(&after), ["time", "b", "host", "n", "s", "v"]);
    assert_eq!(
        rows(&after),
        vec![
            vec![json!(1000000000), json!(true), json!("a"), json!(3), json!("x"), json!(1.5)],
            vec![json!(2000000000), json!(false), json!("b"), json!(4), json!("y"), json!(2.5)],
        ]
    );
    let other = g.admin().query_ok("SELECT * FROM other", "keep");
    assert_eq!(rows(&other), vec![vec![json!(3000000000i64), json!(7)]]);

    // Writes still work after the restart, and append.
    let w = g.admin().write("keep", "m,host=c v=3.5 4000000000");
    assert_eq!(w.status, 204, "write after restart: {}", w.describe());
    let again = g.admin().query_ok("SELECT v FROM m", "keep");
    assert_eq!(rows(&again).len(), 3, "{again}");
}
