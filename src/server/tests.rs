//! End-to-end tests of the HTTP layer against an in-memory backend.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::oneshot;

use crate::backend::*;
use crate::config::Config;
use crate::model::FieldType;

use super::auth::{sha256, Permissions, TokenEntry, TokenStore};
use super::Server;

#[derive(Default)]
struct MockBackend {
    writes: Mutex<Vec<WriteBatch>>,
    fail_health: bool,
    fail_write: Mutex<Option<BackendError>>,
}

#[async_trait]
impl Backend for MockBackend {
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::Embedded
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn health(&self) -> Result<()> {
        if self.fail_health {
            Err(BackendError::Unavailable("down for test".into()))
        } else {
            Ok(())
        }
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        if let Some(e) = self.fail_write.lock().unwrap().take() {
            return Err(e);
        }
        let n = batch.points.len();
        self.writes.lock().unwrap().push(batch);
        Ok(WriteOutcome { points_written: n })
    }
    async fn create_database(&self, _db: &str) -> Result<()> {
        Ok(())
    }
    async fn drop_database(&self, _db: &str) -> Result<()> {
        Ok(())
    }
    async fn databases(&self) -> Result<Vec<String>> {
        Ok(vec![])
    }
    async fn retention_policies(&self, _db: &str) -> Result<Vec<RetentionPolicy>> {
        Ok(vec![])
    }
    async fn create_retention_policy(&self, _db: &str, _rp: RetentionPolicy) -> Result<()> {
        Ok(())
    }
    async fn alter_retention_policy(&self, _db: &str, _n: &str, _u: RetentionPolicyUpdate) -> Result<()> {
        Ok(())
    }
    async fn drop_retention_policy(&self, _db: &str, _n: &str) -> Result<()> {
        Ok(())
    }
    async fn series(
        &self,
        _db: &str,
        _rp: Option<&str>,
        _m: &MeasurementFilter,
        _t: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        Ok(vec![])
    }
    async fn measurements(&self, _db: &str, _rp: Option<&str>) -> Result<Vec<String>> {
        Ok(vec![])
    }
    async fn field_keys(&self, _db: &str, _rp: Option<&str>, _m: &str) -> Result<Vec<(String, FieldType)>> {
        Ok(vec![])
    }
    async fn scan(&self, _req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn delete(&self, _req: DeleteRequest) -> Result<()> {
        Ok(())
    }
}

fn entry(name: &str, token: &str, perms: Permissions, rps: Option<u32>, burst: Option<u32>) -> TokenEntry {
    TokenEntry {
        name: name.into(),
        hash: sha256(token),
        perms,
        requests_per_second: rps,
        burst,
        ..TokenEntry::default()
    }
}

struct Running {
    base: String,
    backend: Arc<MockBackend>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    client: reqwest::Client,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.done).await;
    }
}

async fn start_with(backend: MockBackend, tweak: impl FnOnce(&mut Config)) -> Running {
    let mut cfg = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
    tweak(&mut cfg);
    let tokens = TokenStore::new(vec![
        entry("adm", "admintok", Permissions { admin: true, ..Default::default() }, None, None),
        entry("writer", "wtok", Permissions { write: vec!["db1".into()], ..Default::default() }, None, None),
        entry("slow", "slowtok", Permissions { admin: true, ..Default::default() }, Some(1), Some(1)),
    ]);
    let backend = Arc::new(backend);
    let server = Server::bind(cfg, backend.clone(), tokens).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    Running { base: format!("http://{addr}"), backend, stop: Some(tx), done, client }
}

async fn start() -> Running {
    start_with(MockBackend::default(), |_| {}).await
}

#[tokio::test]
async fn ping_and_headers() {
    let s = start().await;
    let r = s.client.get(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["x-influxdb-version"], super::INFLUXDB_VERSION);
    assert_eq!(r.headers()["x-influxdb-build"], "OSS");
    assert!(r.headers().contains_key("x-request-id"));
    let r = s.client.head(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = s.client.get(s.url("/ping?verbose=true")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["version"], super::INFLUXDB_VERSION);
    let r = s.client.get(s.url("/ping")).header("Request-Id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    assert_eq!(r.headers()["request-id"], "abc-123");
    let r = s.client.post(s.url("/ping")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = s.client.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn health_pass_and_fail() {
    let s = start().await;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "pass");
    assert_eq!(v["name"], "influxgate");
    assert_eq!(v["message"], "ready for queries and writes");
    s.stop().await;
    let s = start_with(MockBackend { fail_health: true, ..Default::default() }, |_| {}).await;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "fail");
    s.stop().await;
}

#[tokio::test]
async fn write_auth_and_params() {
    let s = start().await;
    let w = |q: &str| s.client.post(s.url(&format!("/write{q}")));
    // no credentials → 403
    let r = w("?db=db1").body("cpu v=1").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "forbidden");
    assert!(v["error"].is_string());
    // unknown token → 401
    let r = w("?db=db1").header("Authorization", "Token nope").body("cpu v=1").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "unauthorized");
    // no permission on db2 → 401
    let r = w("?db=db2").header("Authorization", "Token wtok").body("cpu v=1").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // db required
    let r = w("").header("Authorization", "Token wtok").body("cpu v=1").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "database is required");
    // unknown precision
    let r = w("?db=db1&precision=xx").header("Authorization", "Token wtok").body("").send().await.unwrap();
    assert_eq!(r.status(), 400);
    // unknown encoding
    let r = w("?db=db1")
        .header("Authorization", "Token wtok")
        .header("Content-Encoding", "br")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // empty body → 204, nothing written
    let r = w("?db=db1").basic_auth("me", Some("wtok")).body("").send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = w("?db=db1&u=me&p=wtok").body("\n\n").send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(s.backend.writes.lock().unwrap().is_empty());
    // GET → 405
    let r = s.client.get(s.url("/write?db=db1")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    s.stop().await;
}

#[tokio::test]
async fn write_size_limits_and_gzip() {
    let s = start_with(MockBackend::default(), |c| c.limits.max_body_bytes = 1000).await;
    let auth = ("Authorization", "Token admintok");
    let r = s.client.post(s.url("/write?db=db1")).header(auth.0, auth.1).body(vec![b'a'; 1001]).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["maxLength"], 1000);
    assert_eq!(v["code"], "invalid");
    // small on the wire, too large inflated
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![b'\n'; 100_000]).unwrap();
    let gz = e.finish().unwrap();
    assert!(gz.len() < 1000);
    let r = s
        .client
        .post(s.url("/write?db=db1"))
        .header(auth.0, auth.1)
        .header("Content-Encoding", "gzip")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // gzip that fits: whitespace only → 204
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"\n\n").unwrap();
    let r = s
        .client
        .post(s.url("/write?db=db1"))
        .header(auth.0, auth.1)
        .header("Content-Encoding", "gzip")
        .body(e.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // broken gzip → 400
    let r = s
        .client
        .post(s.url("/write?db=db1"))
        .header(auth.0, auth.1)
        .header("Content-Encoding", "gzip")
        .body("cpu v=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_and_metrics() {
    let s = start().await;
    let mut statuses = vec![];
    for _ in 0..3 {
        let r = s.client.post(s.url("/write?db=db1")).header("Authorization", "Token slowtok").body("").send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let ra: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(ra >= 1);
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["code"], "too many requests");
        }
    }
    assert_eq!(statuses[0], 204);
    assert!(statuses.contains(&429), "{statuses:?}");
    let text = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("influxgate_rate_limited_total"), "{text}");
    assert!(text.contains("endpoint=\"write\",status=\"429\""), "{text}");
    s.stop().await;
}

#[tokio::test]
async fn query_stub_parses_and_sets_trace_id() {
    let s = start().await;
    let r = s.client.get(s.url("/query?q=SHOW+DATABASES")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().contains_key("trace-id"));
    let r = s
        .client
        .get(s.url("/query?db=x"))
        .header("Authorization", "Token admintok")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .post(s.url("/query"))
        .header("Authorization", "Token admintok")
        .header("Zap-Trace-Span", r#"{"trace_id":"abcdef","span_id":"1","baggage":{}}"#)
        .form(&[("q", "SHOW DATABASES")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["trace-id"], "abcdef");
    s.stop().await;
}
