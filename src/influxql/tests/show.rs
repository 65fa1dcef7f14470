use super::*;
use crate::influxql::*;

#[test]
fn show_simple() {
    assert_eq!(stmt("SHOW DATABASES"), Statement::ShowDatabases);
    assert_eq!(stmt("show users"), Statement::ShowUsers);
    assert_eq!(stmt("SHOW GRANTS FOR bob"), Statement::ShowGrants { user: "bob".into() });
    assert_eq!(stmt("SHOW CONTINUOUS QUERIES"), Statement::ShowContinuousQueries);
    assert_eq!(stmt("SHOW QUERIES"), Statement::ShowQueries);
    assert_eq!(stmt("SHOW SHARDS"), Statement::ShowShards);
    assert_eq!(stmt("SHOW SHARD GROUPS"), Statement::ShowShardGroups);
    assert_eq!(stmt("SHOW SUBSCRIPTIONS"), Statement::ShowSubscriptions);
    assert_eq!(stmt("SHOW STATS"), Statement::ShowStats { module: None });
    assert_eq!(stmt("SHOW STATS FOR 'httpd'"), Statement::ShowStats { module: Some("httpd".into()) });
    assert_eq!(stmt("SHOW DIAGNOSTICS FOR 'build'"), Statement::ShowDiagnostics { module: Some("build".into()) });
    assert_eq!(stmt("SHOW RETENTION POLICIES"), Statement::ShowRetentionPolicies { database: None });
    assert_eq!(stmt("SHOW RETENTION POLICIES ON compat"), Statement::ShowRetentionPolicies { database: Some("compat".into()) });
}

#[test]
fn show_measurements() {
    match stmt("SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /^(c|m)/ WHERE hostname = 'host_0' LIMIT 2 OFFSET 1") {
        Statement::ShowMeasurements(s) => {
            assert_eq!(s.database.as_deref(), Some("db"));
            assert_eq!(s.with_measurement.unwrap().regex.unwrap().source, "^(c|m)");
            assert!(s.condition.is_some());
            assert_eq!((s.limit, s.offset), (2, 1));
        }
        s => panic!("{:?}", s),
    }
    match stmt("SHOW MEASUREMENTS WITH MEASUREMENT = cpu") {
        Statement::ShowMeasurements(s) => assert_eq!(s.with_measurement.unwrap().name, "cpu"),
        s => panic!("{:?}", s),
    }
    assert_eq!(stmt("SHOW MEASUREMENTS"), Statement::ShowMeasurements(Default::default()));
}

#[test]
fn show_tag_keys_values_field_keys_series() {
    match stmt("SHOW TAG KEYS ON db FROM cpu, \"h2o level\" WHERE a = 'b' LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4") {
        Statement::ShowTagKeys(s) => {
            assert_eq!(s.sources.len(), 2);
            assert_eq!((s.limit, s.offset, s.slimit, s.soffset), (1, 2, 3, 4));
        }
        s => panic!("{:?}", s),
    }
    let tv = |q: &str| match stmt(q) {
        Statement::ShowTagValues(s) => s,
        s => panic!("{:?}", s),
    };
    assert_eq!(tv("SHOW TAG VALUES WITH KEY = hostname").tag_key, TagKeyExpr::Eq("hostname".into()));
    assert_eq!(tv("SHOW TAG VALUES FROM cpu WITH KEY = \"region\"").tag_key, TagKeyExpr::Eq("region".into()));
    assert_eq!(tv("SHOW TAG VALUES WITH KEY != x").tag_key, TagKeyExpr::Neq("x".into()));
    assert_eq!(
        tv("SHOW TAG VALUES FROM cpu WITH KEY IN (\"region\", \"os\")").tag_key,
        TagKeyExpr::In(vec!["region".into(), "os".into()])
    );
    let s = tv("SHOW TAG VALUES FROM cpu WITH KEY =~ /^(rack|arch)$/ WHERE region = 'us-east-1'");
    assert!(matches!(s.tag_key, TagKeyExpr::EqRegex(ref r) if r.source == "^(rack|arch)$"));
    assert!(s.condition.is_some());
    assert!(matches!(tv("SHOW TAG VALUES WITH KEY !~ /x/").tag_key, TagKeyExpr::NeqRegex(_)));
    match stmt("SHOW FIELD KEYS ON db FROM events LIMIT 1") {
        Statement::ShowFieldKeys(s) => {
            assert_eq!(s.database.as_deref(), Some("db"));
            assert_eq!(s.limit, 1);
        }
        s => panic!("{:?}", s),
    }
    match stmt("SHOW SERIES FROM cpu WHERE region = 'ap-south-1' LIMIT 5") {
        Statement::ShowSeries(s) => {
            assert_eq!(s.sources.len(), 1);
            assert_eq!(s.limit, 5);
        }
        s => panic!("{:?}", s),
    }
    // 1.x quirk: a lone EXACT is swallowed.
    assert_eq!(stmt("SHOW SERIES EXACT"), stmt("SHOW SERIES"));
}

#[test]
fn cardinality() {
    let c = |q: &str| match stmt(q) {
        Statement::ShowCardinality(s) => s,
        s => panic!("{:?}", s),
    };
    let s = c("SHOW SERIES CARDINALITY");
    assert_eq!((s.kind, s.exact), (CardinalityKind::Series, false));
    let s = c("SHOW SERIES EXACT CARDINALITY ON db FROM cpu WHERE a = 'b' GROUP BY c LIMIT 1 OFFSET 2");
    assert_eq!((s.kind, s.exact, s.database.as_deref(), s.limit, s.offset), (CardinalityKind::Series, true, Some("db"), 1, 2));
    assert_eq!(s.dimensions.len(), 1);
    assert_eq!(c("SHOW MEASUREMENT CARDINALITY").kind, CardinalityKind::Measurement);
    assert!(c("SHOW MEASUREMENT EXACT CARDINALITY").exact);
    assert_eq!(c("SHOW TAG KEY CARDINALITY").kind, CardinalityKind::TagKey);
    assert!(c("SHOW TAG KEY EXACT CARDINALITY FROM m").exact);
    assert_eq!(c("SHOW FIELD KEY CARDINALITY").kind, CardinalityKind::FieldKey);
    let s = c("SHOW TAG VALUES EXACT CARDINALITY FROM m WITH KEY = host");
    assert_eq!((s.kind, s.exact), (CardinalityKind::TagValues, true));
    assert_eq!(s.tag_key, Some(TagKeyExpr::Eq("host".into())));
    assert_eq!(c("SHOW TAG VALUES CARDINALITY WITH KEY IN (a)").tag_key, Some(TagKeyExpr::In(vec!["a".into()])));
}
