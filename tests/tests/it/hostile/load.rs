//! A request that cannot finish is stopped at its deadline and rolls back; when every place in
//! flight is taken, the next request waits briefly and then gets 503 with a sentence. The slow
//! request is real: this test holds the streams table locked from its own database connection,
//! so the server's `streamUpdate` waits on the database exactly as it would behind a long writer.

use std::time::Duration;

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};
use serde_json::json;
use streamhooks_api::testkit::{probe, TestServer, TEST_ARGS};

use super::{post, refused, within};

const UPDATE: &str = "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }";
const TEN: Duration = Duration::from_secs(10);

/// Holds the write lock on `streams` until dropped or released.
struct Lock {
    _db: DatabaseConnection,
    txn: DatabaseTransaction,
}

async fn lock_streams(server: &TestServer) -> Lock {
    let db = Database::connect(&server.db.url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let txn = db.begin().await.unwrap_or_else(|e| panic!("begin: {e}"));
    let sql = if server.db.is_postgres() {
        // Blocks writers to the table, not readers: lookups and role checks still run.
        "LOCK TABLE streams IN EXCLUSIVE MODE"
    } else {
        // A write statement takes SQLite's single write lock (what the server's begin_write does).
        "UPDATE streams SET updated_at = updated_at WHERE 0"
    };
    txn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("lock: {e}"));
    Lock { _db: db, txn }
}

async fn stream_name(server: &TestServer, token: &str, id: &str) -> String {
    let d = server
        .gql_ok(
            token,
            "query($s: String!) { stream(id: $s) { name } }",
            json!({ "s": id }),
        )
        .await;
    d["stream"]["name"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_request_past_its_deadline_is_stopped_and_changes_nothing() {
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend(["--request-deadline", "500ms"]);
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "before").await;
    let lock = lock_streams(&server).await;
    let vars = json!({ "s": { "id": stream, "name": "after" } });
    let r = within(
        TEN,
        "blocked update",
        server.gql(Some(&owner.token), UPDATE, vars),
    )
    .await;
    refused(&r, "TIMEOUT", "REQUEST_DEADLINE");
    lock.txn
        .rollback()
        .await
        .unwrap_or_else(|e| panic!("unlock: {e}"));
    assert_eq!(stream_name(&server, &owner.token, &stream).await, "before");
    // The server goes on: the same change now goes through.
    let vars = json!({ "s": { "id": stream, "name": "after" } });
    server.gql_ok(&owner.token, UPDATE, vars).await;
    assert_eq!(stream_name(&server, &owner.token, &stream).await, "after");
    server.shutdown().await;
}

async fn in_flight(server: &TestServer) -> String {
    probe::metric(&server.url(), "streamhooks_http_in_flight")
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn when_every_place_is_taken_the_next_request_gets_503_with_a_sentence() {
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend(["--max-in-flight", "1", "--in-flight-queue-timeout", "200ms"]);
    let server = std::sync::Arc::new(TestServer::start_with(&args, false).await);
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "before").await;
    let lock = lock_streams(&server).await;
    let blocked = {
        let (server, token, stream) = (server.clone(), owner.token.clone(), stream.clone());
        tokio::spawn(async move {
            let vars = json!({ "s": { "id": stream, "name": "after" } });
            server.gql(Some(&token), UPDATE, vars).await
        })
    };
    // /metrics is outside the cap: it tells when the one place is taken.
    within(TEN, "the update taking the only place", async {
        while in_flight(&server).await != "1" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let a = within(
        TEN,
        "a request while full",
        post(
            &format!("{}/graphql", server.url()),
            None,
            json!({ "query": "{ serverInfo { name } }" }).to_string(),
        ),
    )
    .await;
    assert_eq!(a.status, 503, "{}", a.text);
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    refused(&a.json(), "SERVER_BUSY", "try again in a moment");
    lock.txn
        .rollback()
        .await
        .unwrap_or_else(|e| panic!("unlock: {e}"));
    let r = within(TEN, "the update after unlocking", blocked)
        .await
        .unwrap_or_else(|e| panic!("task: {e}"));
    assert_eq!(r["data"]["streamUpdate"], json!(true), "{r}");
    assert_eq!(stream_name(&server, &owner.token, &stream).await, "after");
    let metrics = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("streamhooks_http_refused_busy_total 1"),
        "{metrics}"
    );
    if let Ok(server) = std::sync::Arc::try_unwrap(server) {
        server.shutdown().await;
    }
}
