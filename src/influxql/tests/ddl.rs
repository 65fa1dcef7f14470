use super::*;
use crate::influxql::*;

const H: i64 = 3_600_000_000_000;

#[test]
fn databases() {
    assert_eq!(stmt("CREATE DATABASE mydb"), Statement::CreateDatabase(CreateDatabaseStatement { name: "mydb".into(), retention_policy: None }));
    match stmt("CREATE DATABASE d WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME r") {
        Statement::CreateDatabase(c) => {
            let rp = c.retention_policy.unwrap();
            assert_eq!(rp, CreateDatabaseRp { duration: Some(24 * H), replication: Some(1), shard_duration: Some(H), name: Some("r".into()) });
        }
        s => panic!("{:?}", s),
    }
    match stmt("CREATE DATABASE d WITH DURATION INF") {
        Statement::CreateDatabase(c) => assert_eq!(c.retention_policy.unwrap().duration, Some(0)),
        s => panic!("{:?}", s),
    }
    assert_eq!(stmt("DROP DATABASE \"my db\""), Statement::DropDatabase { name: "my db".into() });
    assert_eq!(canon("create database \"my db\" with name \"default\""), "CREATE DATABASE \"my db\" WITH NAME \"default\"");
}

#[test]
fn retention_policies() {
    assert_eq!(
        stmt("CREATE RETENTION POLICY rp ON db DURATION 2h REPLICATION 1 SHARD DURATION 30m DEFAULT"),
        Statement::CreateRetentionPolicy(CreateRetentionPolicyStatement {
            name: "rp".into(),
            database: "db".into(),
            duration: 2 * H,
            replication: 1,
            shard_duration: H / 2,
            default: true
        })
    );
    assert_eq!(canon("CREATE RETENTION POLICY rp ON db DURATION INF REPLICATION 1"), "CREATE RETENTION POLICY rp ON db DURATION INF REPLICATION 1");
    match stmt("ALTER RETENTION POLICY default ON db DURATION 1w DEFAULT") {
        Statement::AlterRetentionPolicy(a) => {
            assert_eq!(a.name, "default");
            assert_eq!(a.duration, Some(7 * 24 * H));
            assert!(a.default);
            assert_eq!(a.replication, None);
        }
        s => panic!("{:?}", s),
    }
    assert_eq!(stmt("DROP RETENTION POLICY rp ON db"), Statement::DropRetentionPolicy { name: "rp".into(), database: "db".into() });
}

#[test]
fn measurements_shards_users_cqs() {
    assert_eq!(stmt("DROP MEASUREMENT \"h2o level\""), Statement::DropMeasurement { name: "h2o level".into() });
    assert_eq!(stmt("DROP SHARD 12"), Statement::DropShard { id: 12 });
    assert_eq!(stmt("CREATE USER u WITH PASSWORD 'p' WITH ALL PRIVILEGES"), Statement::CreateUser { name: "u".into(), password: "p".into(), admin: true });
    assert_eq!(stmt("DROP USER u"), Statement::DropUser { name: "u".into() });
    let q = parse_query("CREATE USER u WITH PASSWORD 'p'; SET PASSWORD FOR u = 'x'").unwrap();
    assert_eq!(format!("{:#}", q), "CREATE USER u WITH PASSWORD [REDACTED];\nSET PASSWORD FOR u = [REDACTED]");
    assert_eq!(q.to_string(), "CREATE USER u WITH PASSWORD 'p';\nSET PASSWORD FOR u = 'x'");
    assert_eq!(stmt("SET PASSWORD FOR u = 'x'"), Statement::SetPassword { user: "u".into(), password: "x".into() });
    assert_eq!(stmt("GRANT READ ON db TO u"), Statement::Grant { privilege: Privilege::Read, on: "db".into(), user: "u".into() });
    assert_eq!(stmt("GRANT ALL PRIVILEGES TO u"), Statement::GrantAdmin { user: "u".into() });
    assert_eq!(stmt("GRANT ALL TO u"), Statement::GrantAdmin { user: "u".into() });
    assert_eq!(stmt("REVOKE WRITE ON db FROM u"), Statement::Revoke { privilege: Privilege::Write, on: "db".into(), user: "u".into() });
    assert_eq!(stmt("REVOKE ALL FROM u"), Statement::RevokeAdmin { user: "u".into() });
    assert_eq!(stmt("KILL QUERY 5 ON \"host:8086\""), Statement::KillQuery { id: 5, host: Some("host:8086".into()) });
    match stmt("CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 1h BEGIN SELECT mean(x) INTO y FROM z GROUP BY time(10m) END") {
        Statement::CreateContinuousQuery(c) => {
            assert_eq!((c.resample_every, c.resample_for), (60_000_000_000, H));
            assert!(c.source.into.is_some());
        }
        s => panic!("{:?}", s),
    }
    assert_eq!(stmt("DROP CONTINUOUS QUERY cq ON db"), Statement::DropContinuousQuery { name: "cq".into(), database: "db".into() });
    match stmt("CREATE SUBSCRIPTION s ON d.r DESTINATIONS ANY 'udp://a', 'udp://b'") {
        Statement::CreateSubscription(c) => {
            assert_eq!(c.mode, "ANY");
            assert_eq!(c.destinations.len(), 2);
        }
        s => panic!("{:?}", s),
    }
    assert_eq!(
        stmt("DROP SUBSCRIPTION s ON d.r"),
        Statement::DropSubscription { name: "s".into(), database: "d".into(), retention_policy: "r".into() }
    );
}

