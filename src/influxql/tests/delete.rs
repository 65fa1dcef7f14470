use super::*;
use crate::influxql::*;

#[test]
fn delete_and_drop_series() {
    match stmt("DELETE FROM cpu WHERE time < '2024-01-01T00:00:00Z'") {
        Statement::Delete(d) => {
            assert_eq!(d.sources.len(), 1);
            assert!(d.condition.is_some());
        }
        s => panic!("{:?}", s),
    }
    match stmt("DELETE WHERE host = 'a'") {
        Statement::Delete(d) => assert!(d.sources.is_empty() && d.condition.is_some()),
        s => panic!("{:?}", s),
    }
    match stmt("DELETE FROM /c.*/") {
        Statement::Delete(d) => assert!(d.condition.is_none() && d.sources.len() == 1),
        s => panic!("{:?}", s),
    }
    match stmt("DROP SERIES FROM cpu, mem WHERE host = 'a'") {
        Statement::DropSeries(d) => assert_eq!(d.sources.len(), 2),
        s => panic!("{:?}", s),
    }
    assert_eq!(canon("drop series where a = 'b'"), "DROP SERIES WHERE a = 'b'");
    assert_eq!(parse_query("DELETE FROM db..m").unwrap_err().to_string(), "database not supported at line 1, char 1");
    assert_eq!(parse_query("DROP SERIES").unwrap_err().to_string(), "found EOF, expected FROM, WHERE at line 1, char 13");
}
