//! Shutdown: claimed-but-unstarted events go back to the queue untouched, the in-flight one is
//! allowed to finish (here: time out) and its result is recorded.

use std::time::Duration;

use streamhooks_worker::{queue_depth, WorkerConfig};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_unstarted_claims_and_records_in_flight_results() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        rx.set_delay(Duration::from_secs(30));
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(insert_event(db, &hook, "{}").await);
        }
        let timeout = Duration::from_secs(1);
        let cfg = WorkerConfig {
            per_webhook_concurrency: 1,
            request_timeout: timeout,
            lease: Duration::from_secs(10),
            ..config()
        };
        let w = start(db, cfg);
        let hit = rx.expect_next(Duration::from_secs(5)).await;
        let in_flight: i64 = hit
            .header("x-webhook-delivery")
            .unwrap_or("")
            .parse()
            .expect("delivery id");
        // All five are claimed: one in flight, four waiting for the webhook's single slot.
        for id in &ids {
            wait_event(db, *id, Duration::from_secs(5), |e| e.status == 1).await;
        }
        let took = w.stop().await;
        assert!(
            took <= timeout + Duration::from_millis(900),
            "shutdown took {took:?} on {}",
            t.name
        );

        for id in &ids {
            let e = event(db, *id).await;
            assert_eq!(e.status, 0, "{}", e.status_info);
            assert_eq!((e.lease_token, e.lease_until), (None, None));
            if *id == in_flight {
                assert_eq!((e.retry_count, e.attempt), (1, Some(1)));
                assert!(
                    e.status_info.starts_with("Timed out after 1s"),
                    "{}",
                    e.status_info
                );
            } else {
                assert_eq!(
                    (e.retry_count, e.status_info.as_str(), e.attempt),
                    (0, "Queued.", Some(0)),
                    "released untouched, the attempt it had counted taken back"
                );
            }
        }
        assert_eq!(queue_depth(db).await.expect("depth"), 5);
        assert!(rx.drain().await.is_empty(), "nothing else was sent");
        t.cleanup().await;
    }
}
