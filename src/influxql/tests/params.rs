use crate::influxql::*;
use std::collections::HashMap;

fn p(pairs: &[(&str, ParamValue)]) -> HashMap<String, ParamValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn substitution_like_1x() {
    let params = p(&[
        ("h", ParamValue::String("host_1".into())),
        ("n", ParamValue::Integer(5)),
        ("f", ParamValue::Float(2.5)),
        ("b", ParamValue::Boolean(true)),
        ("m", ParamValue::Identifier("cpu".into())),
        ("r", ParamValue::Regex("^a".into())),
        ("d", ParamValue::Duration("10m".into())),
    ]);
    let q = parse_query_with_params(
        "SELECT mean(usage_user) FROM $m WHERE hostname = $h AND x > $n AND y < $f AND z = $b AND w =~ $r AND time > now() - $d GROUP BY time($d) LIMIT $n",
        &params,
    )
    .unwrap();
    assert_eq!(
        q.to_string(),
        "SELECT mean(usage_user) FROM cpu WHERE hostname = 'host_1' AND x > 5 AND y < 2.5 AND z = true AND w =~ /^a/ AND time > now() - 10m GROUP BY time(10m) LIMIT 5"
    );
}

#[test]
fn errors_like_1x() {
    let empty = HashMap::new();
    let e = |q: &str, ps: &HashMap<String, ParamValue>| parse_query_with_params(q, ps).unwrap_err().to_string();
    assert_eq!(e("SELECT $x FROM cpu", &empty), "missing parameter: x");
    assert_eq!(e("SELECT * FROM $x", &empty), "found $x, expected identifier at line 1, char 15");
    assert_eq!(e("SELECT * FROM cpu WHERE a = $", &empty), "empty bound parameter");
    let bad = p(&[("x", ParamValue::Error("unable to bind parameter with type <nil>".into()))]);
    assert_eq!(e("SELECT * FROM cpu WHERE a = $x", &bad), "missing parameter: unable to bind parameter with type <nil>");
    let re = p(&[("r", ParamValue::Regex("[".into()))]);
    assert_eq!(
        e("SELECT * FROM cpu WHERE a =~ $r", &re),
        "error parsing regexp: missing closing ]: `[` at line 1, char 30"
    );
}

#[test]
fn keep_and_bind() {
    let mut q = parse_query("SELECT v FROM m WHERE h = $h AND t > now() - $\"d d\"").unwrap();
    assert_eq!(q.to_string(), "SELECT v FROM m WHERE h = $h AND t > now() - $\"d d\"");
    assert_eq!(parse_query(&q.to_string()).unwrap(), q);
    let params = p(&[("h", ParamValue::String("a".into())), ("d d", ParamValue::Duration("1h".into()))]);
    bind(&mut q, &params).unwrap();
    assert_eq!(q.to_string(), "SELECT v FROM m WHERE h = 'a' AND t > now() - 1h");
    let mut q2 = parse_query("SELECT v FROM (SELECT v FROM m WHERE x = $y)").unwrap();
    assert_eq!(bind(&mut q2, &HashMap::new()).unwrap_err().to_string(), "missing parameter: y");
}
