//! The test kit cleans up after itself: the database a test made is removed when the test ends,
//! also when the test fails while its server still holds connections to it (the PostgreSQL
//! database is dropped, the SQLite directory deleted).

use sea_orm::sqlx::{Connection, PgConnection};
use streamhooks_api::testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_test_leaves_no_database_behind() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let failed = tokio::spawn(async move {
        let server = TestServer::start().await;
        let ada = server.create_user("Ada", "ada@example.com").await;
        server.create_stream(&ada, "doomed").await;
        let _ = tx.send(server.db.url.clone());
        panic!("this test fails on purpose, with its server running");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()), "the test failed");
    let url = rx
        .await
        .unwrap_or_else(|e| panic!("no database was made: {e}"));

    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or_default();
        let dir = std::path::Path::new(file)
            .parent()
            .unwrap_or_else(|| panic!("no directory in {url}"));
        assert!(!dir.exists(), "{} is still there", dir.display());
        return;
    }
    let name = reqwest::Url::parse(&url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .path()
        .trim_start_matches('/')
        .to_owned();
    assert!(name.starts_with("sh_"), "{name}");
    let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    let mut conn = PgConnection::connect(admin.trim())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left: i64 =
        sea_orm::sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let _ = conn.close().await;
    assert_eq!(left, 0, "{name} is still on the server");
}
