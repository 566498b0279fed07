//! Wake-ups: the dispatcher does not wait for its poll when it has been told about new events
//! (in-process, or by PostgreSQL NOTIFY from another process) or when a retry falls due.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use streamhooks_worker::notifier::CHANNEL;
use streamhooks_worker::WorkerConfig;

use crate::common::*;

/// A poll so slow that anything delivered within a second was woken some other way.
fn slow_poll() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_secs(60),
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_events_and_due_retries_are_picked_up_without_waiting_for_the_poll() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let w = start(db, slow_poll());
        tokio::time::sleep(Duration::from_millis(200)).await;

        // Queued, then woken the way the queuing side does it on this backend.
        let id = insert_event(db, &hook, "{}").await;
        let queued = Instant::now();
        if t.name == "postgres" {
            // Another process's transaction: only NOTIFY can reach this worker.
            let sql = format!("SELECT pg_notify('{CHANNEL}', '')");
            db.execute(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("notify");
        } else {
            w.notifier.wake();
        }
        let hit = rx.expect_next(Duration::from_secs(5)).await;
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(id.to_string().as_str())
        );
        assert!(queued.elapsed() < Duration::from_secs(1), "on {}", t.name);

        // Queued for later, with no wake-up at all: sent when due, not at the next poll.
        let later = Utc::now().timestamp_millis() + 400;
        let id = insert_event_with(db, &hook, "{}", |m| m.due_at = later).await;
        // The dispatcher learns about the row when it next looks; a wake-up with nothing due
        // makes it look now, as any other queued event would.
        w.notifier.wake();
        let hit = rx.expect_next(Duration::from_secs(5)).await;
        let sent = Utc::now().timestamp_millis();
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(id.to_string().as_str())
        );
        assert!(
            (later - 20..later + 1_000).contains(&sent),
            "due at {later}, sent at {sent}"
        );

        // A failed attempt's retry (50ms) is sent when due, not at the next poll.
        rx.script(vec![Reply {
            status: 500,
            headers: vec![],
            body: String::new(),
        }]);
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let first = rx.expect_next(Duration::from_secs(5)).await;
        let second = rx.expect_next(Duration::from_secs(5)).await;
        assert_eq!(second.header("x-webhook-attempt"), Some("2"));
        assert!(
            second.at - first.at < Duration::from_secs(1),
            "retry after {:?}",
            second.at - first.at
        );
        assert_eq!(wait_finished(db, id).await.status, 2);
        w.stop().await;
        t.cleanup().await;
    }
}
