//! A webhook that keeps failing is disabled with a reason; a disabled webhook's queued events are
//! finished without being sent; a success resets the failure streak.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use streamhooks_worker::config::RetrySchedule;
use streamhooks_worker::metrics::Outcome;
use streamhooks_worker::WorkerConfig;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_final_failures_disable_the_webhook() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        rx.set_status(500);
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let cfg = WorkerConfig {
            retry_schedule: RetrySchedule(Vec::new()),
            disable_after_failures: 3,
            per_webhook_concurrency: 1,
            ..config()
        };
        let w = start(db, cfg);
        for n in 1..=3 {
            assert_eq!(deliver_once(db, &w, &rx, &hook).await.status, 3);
            let h = webhook(db, &hook.id).await;
            assert_eq!(h.consecutive_failures, n, "on {}", t.name);
            assert_eq!(h.enabled, n < 3);
        }
        let h = webhook(db, &hook.id).await;
        let reason = h.disabled_reason.clone().unwrap_or_default();
        assert!(reason.starts_with("Disabled automatically at "), "{reason}");
        assert!(
            reason.contains("after 3 deliveries in a row failed finally"),
            "{reason}"
        );
        assert!(
            reason.contains("Last error: HTTP 500 Internal Server Error"),
            "{reason}"
        );

        // Queued for a webhook that is now disabled: finished, never sent.
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let e = wait_finished(db, id).await;
        assert_eq!(e.status, 3);
        assert_eq!(
            e.status_info,
            format!("Not sent: the webhook was disabled ({reason}).")
        );

        // A ping or redelivery (manual) still goes out to the disabled webhook, and its failure
        // does not count towards the streak.
        let id = insert_event_with(db, &hook, "{}", |m| m.manual = true).await;
        w.notifier.wake();
        let hit = rx.expect_next(Duration::from_secs(5)).await;
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(id.to_string().as_str())
        );
        assert_eq!(wait_finished(db, id).await.status, 3);
        assert_eq!(webhook(db, &hook.id).await.consecutive_failures, 3);

        // Disabled by its owner: same, without a reason.
        let ok = TestReceiver::start().await;
        let owner_off = insert_webhook(db, &s, &ok.url(), None).await;
        let mut am = owner_off.clone().into_active_model();
        am.enabled = Set(false);
        am.update(db).await.expect("disable");
        let id = insert_event(db, &owner_off, "{}").await;
        w.notifier.wake();
        let e = wait_finished(db, id).await;
        assert_eq!(
            (e.status, e.status_info.as_str()),
            (3, "Not sent: the webhook was disabled.")
        );

        // A success resets the streak.
        let streaky = insert_webhook(db, &s, &ok.url(), None).await;
        let mut am = streaky.clone().into_active_model();
        am.consecutive_failures = Set(2);
        am.update(db).await.expect("set streak");
        let id = insert_event(db, &streaky, "{}").await;
        w.notifier.wake();
        assert_eq!(wait_finished(db, id).await.status, 2);
        assert_eq!(webhook(db, &streaky.id).await.consecutive_failures, 0);

        let metrics = w.metrics.clone();
        w.stop().await;
        assert_eq!(metrics.count(Outcome::NotSent), 2);
        assert_eq!(
            ok.drain().await.len(),
            1,
            "only the enabled webhook's event was sent"
        );
        assert!(rx.drain().await.is_empty());
        t.cleanup().await;
    }
}
