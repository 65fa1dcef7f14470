//! Parse errors: exact texts and positions, as returned by the real InfluxDB 1.6.7
//! (`/query` answers `{"error":"error parsing query: <text>"}`; collected from the local
//! `influxd` oracle). The HTTP layer trims the query (Go `strings.TrimSpace`) before parsing.

use crate::influxql::*;
use std::collections::HashMap;

fn err(q: &str) -> String {
    let empty = HashMap::new();
    match parse_query_with_params(q.trim(), &empty) {
        Ok(q) => panic!("expected an error, parsed {:?}", q),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_match_influxdb_1_6_7() {
    let cases: &[(&str, &str)] = &[
        ("SELEC * FROM cpu", "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"),
        ("SELECT FROM cpu", "found FROM, expected identifier, string, number, bool at line 1, char 8"),
        ("SELECT * FROM", "found EOF, expected identifier at line 1, char 15"),
        ("SELECT * FROM cpu WHERE", "found EOF, expected identifier, string, number, bool at line 1, char 25"),
        ("SELECT * FROM cpu LIMIT -1", "found -, expected integer at line 1, char 25"),
        ("SELECT * FROM cpu WHERE hostname =~ /[/", "error parsing regexp: missing closing ]: `[` at line 1, char 36"),
        ("SELECT * FROM cpu WHERE time > 5x", "invalid duration"),
        ("SELECT * FROM cpu WHERE time > 5mx", "invalid duration"),
        ("SELECT 'abc", "found abc, expected identifier, string, number, bool at line 1, char 7"),
        ("SELECT * FROM \"cpu", "found cpu, expected identifier at line 1, char 14"),
        ("SELECT * FROM cpu WHERE a = 'x\\q'", "found \\q, expected identifier, string, number, bool at line 1, char 32"),
        ("SHOW", "found EOF, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"),
        ("SHOW TAG VALUES", "found EOF, expected WITH at line 1, char 17"),
        ("SHOW TAG VALUES FROM cpu", "found EOF, expected WITH at line 1, char 26"),
        ("SHOW FOO", "found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"),
        ("CREATE", "found EOF, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8"),
        ("DROP", "found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6"),
        ("SELECT * FROM cpu /re/", "found  , expected regex at line 1, char 18"),
        ("SELECT * FROM cpu ORDER BY foo", "only ORDER BY time supported at this time"),
        ("SELECT * FROM cpu GROUP BY time(1m) fill(foo)", "expected number argument in fill()"),
        ("SELECT * FROM cpu tz('Nowhere/City')", "unable to find time zone Nowhere/City"),
        ("SELECT a = 1 FROM cpu", "invalid operator = in SELECT clause at line 1, char 8; operator is intended for WHERE clause"),
        ("SELECT * FROM cpu; SELEC", "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 20"),
        ("SELECT * FROM cpu SELECT", "found SELECT, expected ; at line 1, char 19"),
        ("SELECT $x FROM cpu", "missing parameter: x"),
        ("SELECT * FROM a.b.c.d", "too many segments in \"a\".\"b\".\"c\".d at line 1, char 1"),
        ("SELECT * FROM cpu WHERE time > now() - 1y", "invalid duration"),
        ("SELECT 99999999999999999999 FROM cpu", "unable to parse integer at line 1, char 8"),
        ("SELECT -99999999999999999999 FROM cpu", "unable to parse integer at line 1, char 9"),
        ("SELECT * FROM cpu LIMIT 1.5", "found 1.5, expected integer at line 1, char 25"),
        ("SELECT * FROM cpu OFFSET x", "found x, expected integer at line 1, char 26"),
        ("SELECT * FROM cpu SLIMIT -1", "found -, expected integer at line 1, char 26"),
        ("SELECT * FROM cpu WHERE x =~ 'a'", "found a, expected regex at line 1, char 29"),
        ("SELECT a::foo FROM cpu", "found foo, expected float, integer, unsigned, string, boolean, field, tag at line 1, char 11"),
        ("SELECT *::foo FROM cpu", "found foo, expected field, tag at line 1, char 11"),
        ("SELECT DISTINCT FROM cpu", "found FROM, expected identifier at line 1, char 17"),
        ("SELECT * FROM cpu GROUP time(1m)", "found time, expected BY at line 1, char 25"),
        ("SELECT * FROM cpu ORDER time", "found time, expected BY at line 1, char 25"),
        ("SELECT * FROM cpu ORDER BY time, x", "only ORDER BY time supported at this time"),
        ("DELETE", "found EOF, expected FROM, WHERE at line 1, char 8"),
        ("DROP SERIES", "found EOF, expected FROM, WHERE at line 1, char 13"),
        ("DROP SERIES FROM db.rp.m", "retention policy not supported at line 1, char 1"),
        ("SELECT * FROM cpu WHERE /* unterminated", "found ILLEGAL, expected identifier, string, number, bool at line 1, char 25"),
        ("SELECT 1 FROM cpu WHERE a = \"b", "found b, expected identifier, string, number, bool at line 1, char 28"),
        ("SELECT * FROM cpu WHERE a = 1 AND", "found EOF, expected identifier, string, number, bool at line 1, char 35"),
        ("SELECT mean(x FROM cpu", "found FROM, expected ) at line 1, char 15"),
        ("SELECT * FROM (SELECT * FROM cpu", "found EOF, expected ) at line 1, char 34"),
        ("SELECT * FROM cpu WHERE a ! b", "found !, expected ; at line 1, char 27"),
        ("SELECT * FROM cpu WHERE a # b", "found #, expected ; at line 1, char 27"),
        ("CREATE DATABASE", "found EOF, expected identifier at line 1, char 17"),
        ("CREATE DATABASE x WITH", "found EOF, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 24"),
        ("CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 0", "invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 58"),
        ("ALTER RETENTION POLICY rp ON db", "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 33"),
        ("ALTER RETENTION POLICY rp ON db DURATION 1h DURATION 2h", "found duplicate DURATION option at line 1, char 45"),
        ("CREATE RETENTION POLICY rp ON db DURATION 1h REPLICATION 1 SHARD DURATION INF", "invalid duration INF for shard duration at line 1, char 75"),
        ("SHOW MEASUREMENTS WITH MEASUREMENT", "found EOF, expected =, =~ at line 1, char 36"),
        ("SHOW MEASUREMENTS WITH MEASUREMENT != x", "found !=, expected =, =~ at line 1, char 36"),
        ("SHOW TAG VALUES WITH KEY", "found EOF, expected IN, =, =~ at line 1, char 26"),
        ("SHOW TAG VALUES WITH KEY =~ x", "found x, expected regex at line 1, char 29"),
        ("SHOW TAG KEY", "found EOF, expected EXACT, CARDINALITY at line 1, char 14"),
        ("SHOW FIELD KEY EXACT", "found EOF, expected CARDINALITY at line 1, char 22"),
        ("SHOW MEASUREMENT EXACT", "found EOF, expected CARDINALITY at line 1, char 24"),
        ("SHOW RETENTION", "found EOF, expected POLICIES at line 1, char 16"),
        ("SELECT * FROM cpu WHERE time > 9223372036854775807ns1ns", "overflowed duration 1ns: choose a smaller duration or INF"),
        ("SELECT * FROM cpu WHERE time > 1s5", "invalid duration"),
        ("SELECT * FROM cpu INTO x", "found INTO, expected ; at line 1, char 19"),
        ("SELECT * INTO FROM cpu", "found FROM, expected identifier at line 1, char 15"),
        ("SELECT * FROM cpu GROUP BY time(1m), x fill(null) ORDER BY time DESC LIMIT 1 OFFSET 1 SLIMIT 1 SOFFSET 1 tz('UTC') x", "found x, expected ; at line 1, char 116"),
        ("SELECT . FROM cpu", "found ., expected identifier, string, number, bool at line 1, char 8"),
        ("SELECT * FROM cpu WHERE a = @", "found @, expected identifier, string, number, bool at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /a[bc/", "error parsing regexp: missing closing ]: `[bc` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /(abc/", "error parsing regexp: missing closing ): `(abc` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /abc)/", "error parsing regexp: unexpected ): `abc)` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /*/", "error parsing regexp: missing argument to repetition operator: `*` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /a**/", "error parsing regexp: invalid nested repetition operator: `**` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /a\\q/", "error parsing regexp: invalid escape sequence: `\\q` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /[z-a]/", "error parsing regexp: invalid character class range: `z-a` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /a{2,1}/", "error parsing regexp: invalid repeat count: `{2,1}` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE a =~ /x{2}{3}/", "error parsing regexp: invalid nested repetition operator: `{2}{3}` at line 1, char 29"),
        ("SELECT * FROM cpu WHERE time > now() - 10 s", "found s, expected ; at line 1, char 43"),
        ("SELECT * FROM cpu\nWHERE\n  x = 'abc", "found abc, expected identifier, string, number, bool at line 3, char 6"),
        ("SELECT\r\n* FROM", "found EOF, expected identifier at line 2, char 8"),
        ("SHOW TAG VALUES WITH KEY IN (a, )", "found ), expected identifier at line 1, char 33"),
        ("SHOW TAG VALUES WITH KEY = ", "found EOF, expected identifier at line 1, char 27"),
        ("GRANT READ TO u", "found TO, expected ON at line 1, char 12"),
        ("GRANT ALL ON", "found EOF, expected identifier at line 1, char 14"),
        ("REVOKE WRITE FROM u", "found FROM, expected ON at line 1, char 14"),
        ("KILL QUERY 99999999999999999999999", "strconv.ParseUint: parsing \"99999999999999999999999\": value out of range at line 1, char 12"),
        ("CREATE RETENTION POLICY r ON d DURATION 1h REPLICATION 99999999999999999999", "strconv.Atoi: parsing \"99999999999999999999\": value out of range at line 1, char 56"),
        ("DROP SERIES FROM db..m", "database not supported at line 1, char 1"),
        ("DELETE FROM a, b.c", "retention policy not supported at line 1, char 1"),
        ("SELECT mean(x) FROM m GROUP BY time(1m) fill(1, 2)", "fill requires an argument, e.g.: 0, null, none, previous, linear"),
        ("SELECT x FROM m fill()", "fill requires an argument, e.g.: 0, null, none, previous, linear"),
        ("SELECT x FROM m tz(1)", "expected string argument in tz()"),
        ("SELECT x FROM m tz('a', 'b')", "tz requires exactly one argument"),
        ("SELECT x FROM m tz", "tz must be a function call"),
        ("SELECT -'a' FROM m", "found a, expected identifier, number, duration, ( at line 1, char 8"),
        ("SELECT -18446744073709551615 FROM m", "constant -18446744073709551615 underflows int64"),
        ("SELECT x FROM m ORDER BY", "found EOF, expected identifier, ASC, DESC at line 1, char 26"),
        ("SELECT a.b.c.d.e FROM m", "too many segments in \"a\".\"b\".\"c\".\"d\".e at line 1, char 1"),
        ("CREATE CONTINUOUS QUERY c ON d BEGIN SELECT mean(x) INTO y FROM z END", "found z, expected GROUP BY time(...) at line 1, char 65"),
        ("CREATE CONTINUOUS QUERY c ON d RESAMPLE BEGIN", "found BEGIN, expected EVERY, FOR at line 1, char 41"),
        ("SET PASSWORD FOR u 'x'", "found x, expected = at line 1, char 19"),
        ("SHOW STATS FOR x", "found x, expected string at line 1, char 16"),
        ("SELECT x FROM m WHERE time > 1ns2", "invalid duration"),
        ("SELECT DISTINCT(x) FROM m WHERE", "found EOF, expected identifier, string, number, bool at line 1, char 33"),
        ("SELECT x FROM m; ; ; SELEC", "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 22"),
    ];
    let mut bad = Vec::new();
    for (q, want) in cases {
        let got = err(q);
        if got != *want {
            bad.push(format!("{:?}\n  want: {}\n  got:  {}", q, want, got));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn nul_ends_the_input_and_newlines_count_lines() {
    // verified against influxd 1.6.7
    assert_eq!(err("SELECT * FROM\0"), "found EOF, expected identifier at line 1, char 15");
    assert!(parse_query("SELECT * FROM cpu\0garbage").is_ok());
    assert_eq!(err("SELECT *\r\nFROM\r\n"), "found EOF, expected identifier at line 2, char 6");
    assert_eq!(err("SELECT *\rFROM\r"), "found EOF, expected identifier at line 2, char 6");
    assert_eq!(err("SELECT * FROM m WHERE\n\n\tx = "), "found EOF, expected identifier, string, number, bool at line 3, char 5");
    assert_eq!(err("SELECT \"é\" FROM m WHERE µ"), "found µ, expected identifier, string, number, bool at line 1, char 25");
}

#[test]
fn error_positions_are_exposed() {
    let e = parse_query("SELECT * FROM").unwrap_err();
    assert_eq!((e.line(), e.char()), (Some(1), Some(15)));
    match &e.kind {
        ParseErrorKind::Unexpected { found, expected } => {
            assert_eq!(found, "EOF");
            assert_eq!(expected, &vec!["identifier".to_string()]);
        }
        k => panic!("{:?}", k),
    }
    let e = parse_query("SELECT * FROM cpu WHERE time > 5x").unwrap_err();
    assert_eq!(e.pos, None);
    assert_eq!(e.to_string(), "invalid duration");
}
