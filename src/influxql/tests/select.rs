use super::*;
use crate::influxql::*;

fn var(n: &str) -> Expr {
    Expr::var(n)
}

#[test]
fn simple_select() {
    let s = select("SELECT * FROM cpu WHERE hostname = 'host_0' AND time < '2024-01-01T00:02:00Z'");
    assert_eq!(s.fields, vec![Field { expr: Expr::Wildcard(WildcardType::All), alias: None }]);
    assert_eq!(
        s.sources,
        vec![Source::Measurement(Measurement { name: "cpu".into(), ..Default::default() })]
    );
    assert_eq!(
        s.condition,
        Some(Expr::binary(
            BinaryOp::And,
            Expr::binary(BinaryOp::Eq, var("hostname"), Expr::String("host_0".into())),
            Expr::binary(BinaryOp::Lt, var("time"), Expr::String("2024-01-01T00:02:00Z".into())),
        ))
    );
    assert!(s.is_raw_query());
}

#[test]
fn precedence_and_parens() {
    let s = select("SELECT a + b * c - d / e % f, (a + b) * c, a | b & c ^ d FROM m");
    assert_eq!(
        s.fields[0].expr,
        Expr::binary(
            BinaryOp::Sub,
            Expr::binary(BinaryOp::Add, var("a"), Expr::binary(BinaryOp::Mul, var("b"), var("c"))),
            Expr::binary(
                BinaryOp::Mod,
                Expr::binary(BinaryOp::Div, var("d"), var("e")),
                var("f")
            ),
        )
    );
    assert_eq!(
        s.fields[1].expr,
        Expr::binary(
            BinaryOp::Mul,
            Expr::Paren(Box::new(Expr::binary(BinaryOp::Add, var("a"), var("b")))),
            var("c")
        )
    );
    assert_eq!(
        s.fields[2].expr,
        Expr::binary(
            BinaryOp::BitXor,
            Expr::binary(BinaryOp::BitOr, var("a"), Expr::binary(BinaryOp::BitAnd, var("b"), var("c"))),
            var("d")
        )
    );
    let w = select("SELECT x FROM m WHERE a = 1 OR b = 2 AND c = 3").condition.unwrap();
    assert_eq!(
        w,
        Expr::binary(
            BinaryOp::Or,
            Expr::binary(BinaryOp::Eq, var("a"), Expr::Integer(1)),
            Expr::binary(
                BinaryOp::And,
                Expr::binary(BinaryOp::Eq, var("b"), Expr::Integer(2)),
                Expr::binary(BinaryOp::Eq, var("c"), Expr::Integer(3))
            )
        )
    );
}

#[test]
fn literals() {
    let s = select(
        "SELECT 1, 1.5, .5, 5., 'str', true, FALSE, 10m, 1h30m, 3u, 4µ, 18446744073709551615, -9223372036854775808, -2.5, -10s FROM m",
    );
    let e: Vec<Expr> = s.fields.into_iter().map(|f| f.expr).collect();
    assert_eq!(
        e,
        vec![
            Expr::Integer(1),
            Expr::Number(1.5),
            Expr::Number(0.5),
            Expr::Number(5.0),
            Expr::String("str".into()),
            Expr::Boolean(true),
            Expr::Boolean(false),
            Expr::Duration(600_000_000_000),
            Expr::Duration(5_400_000_000_000),
            Expr::Duration(3_000),
            Expr::Duration(4_000),
            Expr::Unsigned(18446744073709551615),
            Expr::Integer(i64::MIN),
            Expr::Number(-2.5),
            Expr::Duration(-10_000_000_000),
        ]
    );
}

#[test]
fn unary_minus_on_refs() {
    let s = select("SELECT -x, a * -b FROM m");
    assert_eq!(s.fields[0].expr, Expr::binary(BinaryOp::Mul, Expr::Integer(-1), var("x")));
    assert_eq!(
        s.fields[1].expr,
        Expr::binary(BinaryOp::Mul, var("a"), Expr::binary(BinaryOp::Mul, Expr::Integer(-1), var("b")))
    );
    assert_eq!(canon("SELECT a * -b FROM m"), "SELECT a * -b FROM m");
}

#[test]
fn casts_wildcards_regex_fields() {
    let s = select("SELECT usage_user::field, hostname::tag, x::INTEGER, *::field, /usage_(user|system)/ FROM cpu");
    assert_eq!(s.fields[0].expr, Expr::VarRef { name: "usage_user".into(), data_type: Some(DataType::AnyField) });
    assert_eq!(s.fields[1].expr, Expr::VarRef { name: "hostname".into(), data_type: Some(DataType::Tag) });
    assert_eq!(s.fields[2].expr, Expr::VarRef { name: "x".into(), data_type: Some(DataType::Integer) });
    assert_eq!(s.fields[3].expr, Expr::Wildcard(WildcardType::Field));
    match &s.fields[4].expr {
        Expr::Regex(r) => {
            assert_eq!(r.source, "usage_(user|system)");
            assert!(r.regex.is_match("usage_user"));
        }
        e => panic!("{:?}", e),
    }
}

#[test]
fn calls_and_aliases() {
    let s = select("SELECT MEAN(usage_user) AS avg_user, non_negative_derivative(mean(bytes), 1s), max(/re/), count(*), distinct(x), DISTINCT y, now() FROM cpu");
    assert_eq!(s.fields[0].alias.as_deref(), Some("avg_user"));
    assert_eq!(s.fields[0].name(), "avg_user");
    assert_eq!(s.fields[0].expr, Expr::Call { name: "mean".into(), args: vec![var("usage_user")] });
    assert_eq!(s.fields[1].name(), "non_negative_derivative");
    assert_eq!(
        s.fields[1].expr,
        Expr::Call {
            name: "non_negative_derivative".into(),
            args: vec![Expr::Call { name: "mean".into(), args: vec![var("bytes")] }, Expr::Duration(1_000_000_000)]
        }
    );
    assert!(matches!(&s.fields[2].expr, Expr::Call { name, args } if name == "max" && matches!(args[0], Expr::Regex(_))));
    assert_eq!(s.fields[3].expr, Expr::Call { name: "count".into(), args: vec![Expr::Wildcard(WildcardType::All)] });
    assert_eq!(s.fields[4].expr, Expr::Call { name: "distinct".into(), args: vec![var("x")] });
    assert_eq!(s.fields[5].expr, Expr::Distinct("y".into()));
    assert_eq!(s.fields[6].expr, Expr::Call { name: "now".into(), args: vec![] });
    assert!(!s.is_raw_query());
    assert_eq!(select("SELECT a + b, (c) FROM m").fields[0].name(), "a_b");
    assert_eq!(select("SELECT mean(a) + max(b) FROM m").fields[0].name(), "mean_max");
}

#[test]
fn sources() {
    let s = select(r#"SELECT * FROM cpu, "db"."rp"."m", db..m2, rp.m3, /^(mem|net)$/, db.rp./re/, "h2o level", "temp,c""#);
    let m = |db: &str, rp: &str, name: &str| {
        Source::Measurement(Measurement { database: db.into(), retention_policy: rp.into(), name: name.into(), regex: None })
    };
    assert_eq!(s.sources[0], m("", "", "cpu"));
    assert_eq!(s.sources[1], m("db", "rp", "m"));
    assert_eq!(s.sources[2], m("db", "", "m2"));
    assert_eq!(s.sources[3], m("", "rp", "m3"));
    match &s.sources[4] {
        Source::Measurement(mm) => assert_eq!(mm.regex.as_ref().map(|r| r.source.as_str()), Some("^(mem|net)$")),
        x => panic!("{:?}", x),
    }
    match &s.sources[5] {
        Source::Measurement(mm) => {
            assert_eq!((mm.database.as_str(), mm.retention_policy.as_str()), ("db", "rp"));
            assert!(mm.regex.is_some());
        }
        x => panic!("{:?}", x),
    }
    assert_eq!(s.sources[6], m("", "", "h2o level"));
    assert_eq!(s.sources[7], m("", "", "temp,c"));
    assert_eq!(
        canon(r#"SELECT * FROM "db"."rp"."m", db..m2, "h2o level""#),
        r#"SELECT * FROM db.rp.m, db..m2, "h2o level""#
    );
}

#[test]
fn subquery() {
    let s = select("SELECT max(m) FROM (SELECT mean(usage_user) AS m FROM cpu GROUP BY hostname) WHERE time > 0");
    match &s.sources[0] {
        Source::Subquery(sub) => {
            assert_eq!(sub.fields[0].alias.as_deref(), Some("m"));
            assert_eq!(sub.dimensions, vec![Dimension { expr: var("hostname") }]);
        }
        x => panic!("{:?}", x),
    }
    rt("SELECT * FROM (SELECT * FROM (SELECT x FROM a), b)");
}

/// The parser resolves `tz()` on the machine it is given (`rules::tz`), in subqueries too.
#[test]
fn tz_resolves_on_the_given_machine() {
    use crate::rules::tz::System;
    let sys = System {
        dirs: vec!["/nonexistent/zoneinfo".into()],
        tz_env: Some("Asia/Tokyo".into()),
        localtime: "/nonexistent/localtime".into(),
        timezone_name: "/nonexistent/timezone".into(),
    };
    let parse = |q: &str| parse_query_with(q, ParseOptions { params: None, zones: Some(&sys) });
    let zone = |q: &str| match parse(q).unwrap().statements.remove(0) {
        Statement::Select(s) => s.location.map(|l| l.zone),
        _ => unreachable!(),
    };
    assert_eq!(zone("SELECT v FROM m tz('Local')"), Some(chrono_tz::Tz::Asia__Tokyo));
    assert_eq!(zone("SELECT v FROM m tz('')"), Some(chrono_tz::Tz::UTC));
    for q in ["SELECT v FROM m tz('Nowhere/City')", "SELECT v FROM (SELECT v FROM m tz('Nowhere/City'))"] {
        assert_eq!(parse(q).unwrap_err().to_string(), "unable to find time zone Nowhere/City", "{q}");
    }
}

#[test]
fn group_by_fill_order_limits_tz() {
    let s = select("SELECT mean(v) FROM m WHERE time >= now() - 1h GROUP BY time(10m, -2m), host, * fill(previous) ORDER BY time DESC LIMIT 3 OFFSET 2 SLIMIT 4 SOFFSET 5 tz('UTC')");
    assert_eq!(s.dimensions.len(), 3);
    assert_eq!(
        s.dimensions[0].expr,
        Expr::Call { name: "time".into(), args: vec![Expr::Duration(600_000_000_000), Expr::Duration(-120_000_000_000)] }
    );
    assert_eq!(s.group_by_time().unwrap().map(|x| x.0), Some(600_000_000_000));
    assert_eq!(s.dimensions[2].expr, Expr::Wildcard(WildcardType::All));
    assert_eq!(s.fill, Fill::Previous);
    assert!(s.order_desc());
    assert_eq!((s.limit, s.offset, s.slimit, s.soffset), (3, 2, 4, 5));
    assert_eq!(s.location.as_ref().map(|l| (l.name.as_str(), l.zone)), Some(("UTC", chrono_tz::Tz::UTC)));
    for (f, want) in [
        ("fill(null)", Fill::Null),
        ("fill(none)", Fill::None),
        ("fill(linear)", Fill::Linear),
        ("fill(0)", Fill::Integer(0)),
        ("fill(-1)", Fill::Integer(-1)),
        ("fill(1.5)", Fill::Float(1.5)),
    ] {
        assert_eq!(select(&format!("SELECT mean(v) FROM m GROUP BY time(1m) {}", f)).fill, want);
    }
    assert_eq!(select("SELECT x FROM m GROUP BY /^(region|os)$/").dimensions.len(), 1);
    assert_eq!(select("SELECT x FROM m ORDER BY time ASC").order_by, Some(SortField { name: Some("time".into()), ascending: true }));
    assert_eq!(select("SELECT x FROM m ORDER BY DESC").order_by, Some(SortField { name: None, ascending: false }));
    assert_eq!(select("SELECT x FROM m LIMIT 0").limit, 0);
    assert_eq!(select("SELECT x FROM m LIMIT 99999999999999999999").limit, i64::MAX as u64);
    assert_eq!(select("SELECT x FROM m GROUP BY time(1m, now())").dimensions.len(), 1);
}

#[test]
fn into_targets() {
    let s = select("SELECT * INTO db.rp.:MEASUREMENT FROM /.*/");
    let t = s.into.unwrap().measurement;
    assert_eq!((t.database.as_str(), t.retention_policy.as_str(), t.name.as_str()), ("db", "rp", ""));
    let s = select("SELECT mean(x) INTO \"new m\" FROM m GROUP BY time(1m)");
    assert_eq!(s.into.unwrap().measurement.name, "new m");
    assert_eq!(canon("SELECT * INTO rp.:MEASUREMENT FROM a"), "SELECT * INTO rp.:MEASUREMENT FROM a");
    assert_eq!(canon("SELECT * INTO db..x FROM a"), "SELECT * INTO db..x FROM a");
}

#[test]
fn time_conditions() {
    for q in [
        "SELECT v FROM m WHERE time >= 1704067200000000000 AND time < 1704067260000000000",
        "SELECT v FROM m WHERE time >= 1704067200s AND time < 1704067230s",
        "SELECT v FROM m WHERE time >= 1704067200000ms AND time <= 1704067230000ms",
        "SELECT v FROM m WHERE time >= '2024-01-01T00:00:00Z' + 10m AND time < '2024-01-01T00:10:30Z'",
        "SELECT v FROM m WHERE time > now() - 1h AND time < now() + 1w",
    ] {
        rt(q);
    }
    let c = select("SELECT v FROM m WHERE time >= 1704067200s").condition.unwrap();
    assert_eq!(c, Expr::binary(BinaryOp::Gte, var("time"), Expr::Duration(1_704_067_200_000_000_000)));
}

#[test]
fn comparison_ops_and_regex() {
    let c = select("SELECT v FROM m WHERE a != 1 AND b <> 2 AND c =~ /x\\/y/ AND d !~ /z/ AND e <= 1 AND f >= 2 AND g > 3")
        .condition
        .unwrap();
    let s = c.to_string();
    assert_eq!(s, "a != 1 AND b != 2 AND c =~ /x\\/y/ AND d !~ /z/ AND e <= 1 AND f >= 2 AND g > 3");
    let mut found = None;
    c.walk(&mut |e| {
        if let Expr::Regex(r) = e {
            if found.is_none() {
                found = Some(r.source.clone());
            }
        }
    });
    assert_eq!(found.as_deref(), Some("x/y"));
}

#[test]
fn identifiers_and_quoting() {
    assert_eq!(canon(r#"SELECT "usage_user" FROM "cpu" WHERE "hostname" = 'host_2'"#), "SELECT usage_user FROM cpu WHERE hostname = 'host_2'");
    assert_eq!(canon(r#"SELECT "water level" FROM "h2o level" WHERE "site name" = 'santa monica'"#),
        r#"SELECT "water level" FROM "h2o level" WHERE "site name" = 'santa monica'"#);
    assert_eq!(canon(r#"SELECT "select", "x\"y", "1a", "_ok" FROM m"#), r#"SELECT "select", "x\"y", "1a", _ok FROM m"#);
    // 1.x quirk: `"a""b"` is two tokens.
    assert_eq!(parse_query(r#"SELECT "a""b" FROM m"#).unwrap_err().to_string(), "found b, expected FROM at line 1, char 11");
    assert_eq!(canon("SELECT x FROM m WHERE s = 'it\\'s \\\\ \\n'"), "SELECT x FROM m WHERE s = 'it\\'s \\\\ \\n'");
    assert_eq!(quote_ident("and"), "\"and\"");
    assert_eq!(quote_ident(""), "\"\"");
    assert_eq!(quote_ident_segments(&["db", "", "m"]), "\"db\"..m");
    assert_eq!(quote_string("a'b\nc\\"), "'a\\'b\\nc\\\\'");
}

#[test]
fn comments_and_whitespace() {
    let a = rt("-- leading comment\nSELECT x /* c */ FROM m -- trailing");
    // 1.x quirk: a comment right where a regex may start is read as a regex.
    assert_eq!(
        parse_query("SELECT /* c */ x FROM m").unwrap_err().to_string(),
        "error parsing regexp: missing argument to repetition operator: `*` at line 1, char 7"
    );
    let b = rt("SELECT x\r\nFROM\tm");
    assert_eq!(a, b);
}

#[test]
fn multiple_statements() {
    let q = rt("SELECT count(usage_user) FROM cpu; SELECT count(used) FROM mem;");
    assert_eq!(q.len(), 2);
    assert_eq!(rt(";;SHOW DATABASES;;").len(), 1);
    assert_eq!(rt("").len(), 0);
    assert_eq!(rt("  ;  ").len(), 0);
    assert_eq!(q.to_string(), "SELECT count(usage_user) FROM cpu;\nSELECT count(used) FROM mem");
}

#[test]
fn explain() {
    match stmt("EXPLAIN ANALYZE SELECT x FROM m") {
        Statement::Explain { analyze: true, statement } => assert_eq!(statement.fields.len(), 1),
        s => panic!("{:?}", s),
    }
}

#[test]
fn deep_nesting_is_rejected_not_crashing() {
    let deep = format!("SELECT {}x{} FROM m", "(".repeat(5000), ")".repeat(5000));
    assert!(parse_query(&deep).is_err());
    let long = format!("SELECT x FROM m WHERE {}", vec!["a = 1"; 3000].join(" OR "));
    assert!(parse_query(&long).is_err());
    let ok = format!("SELECT x FROM m WHERE {}", vec!["a = 1"; 200].join(" OR "));
    rt(&ok);
    let calls = format!("SELECT {}x{} FROM m", "f(".repeat(5000), ")".repeat(5000));
    assert!(parse_query(&calls).is_err());
    let subs = format!("SELECT * FROM {}m{}", "(SELECT * FROM ".repeat(500), ")".repeat(500));
    assert!(parse_query(&subs).is_err());
}

#[test]
fn parse_expr_and_statement_helpers() {
    assert_eq!(parse_expr("a + 1").unwrap(), Expr::binary(BinaryOp::Add, var("a"), Expr::Integer(1)));
    assert!(matches!(parse_statement("SHOW DATABASES").unwrap(), Statement::ShowDatabases));
}
