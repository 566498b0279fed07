//! Storage behaviour the API relies on. A write transaction that reads before it writes must
//! survive another connection committing in between: on SQLite a plain deferred `BEGIN` fails
//! that write at once (SQLITE_BUSY_SNAPSHOT), which made mutations fail while the dispatcher was
//! recording results. `db::begin_write` takes the lock first, so the other writer waits instead.

use std::time::Duration;

use chrono::Utc;
use entity::stream;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use streamhooks_api::context::db::{begin_write, connect_and_migrate};
use streamhooks_api::testkit::TestDatabase;

fn new_stream(id: &str) -> stream::ActiveModel {
    stream::ActiveModel {
        id: Set(id.to_owned()),
        name: Set(id.to_owned()),
        description: Set(None),
        is_public: Set(true),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
}

#[tokio::test]
async fn a_write_transaction_that_reads_first_survives_a_concurrent_commit() {
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let db = connect_and_migrate(&tdb.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let txn = begin_write(&db)
        .await
        .unwrap_or_else(|e| panic!("begin: {e}"));
    let before = stream::Entity::find()
        .count(&txn)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(before, 0);

    // Another connection writes meanwhile (the dispatcher, in real life).
    let other_db = db.clone();
    let other =
        tokio::spawn(async move { new_stream("other").insert(&other_db).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Our write must still go through, and so must theirs once we commit.
    new_stream("ours")
        .insert(&txn)
        .await
        .unwrap_or_else(|e| panic!("write after a concurrent commit failed: {e}"));
    txn.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
    other
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("the other writer failed: {e}"));
    assert_eq!(stream::Entity::find().count(&db).await.unwrap_or(0), 2);
    let _ = db.close().await;
}
