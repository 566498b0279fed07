//! Sealed secrets at delivery time: a secret the dispatcher's key opens signs as before (checked
//! with the test kit's `hmac_hex`, not the crate's `sign`); one it cannot open fails the attempt with a
//! sentence the owner can act on, is never sent (in particular not signed with the empty key), and
//! goes out on a retry once the right key is back.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, Set};
use streamhooks_worker::config::RetrySchedule;
use streamhooks_worker::metrics::Outcome;
use streamhooks_worker::secrets::Secrets;
use streamhooks_worker::WorkerConfig;

use crate::common::*;

fn other_key() -> Secrets {
    Secrets::new(&[7; 32])
}

/// A webhook whose `secret` column holds exactly `stored`.
async fn webhook_storing(
    db: &sea_orm::DatabaseConnection,
    stream: &str,
    url: &str,
    stored: &str,
) -> entity::webhook_config::Model {
    let hook = insert_webhook(db, stream, url, None).await;
    let mut am: entity::webhook_config::ActiveModel = hook.into();
    am.secret = Set(Some(stored.to_owned()));
    am.update(db).await.expect("set stored secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_key_cannot_open_is_a_clear_failure_and_nothing_is_sent() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let good = insert_webhook(db, &s, &rx.url(), Some("right key 🔑")).await;
        let sealed_elsewhere = other_key().seal("other").expect("seal");
        let cases = [
            (
                sealed_elsewhere.as_str(),
                "it was encrypted under another key",
            ),
            ("plain:left over", "it is still stored in plain text"),
            ("s3cr3t", "it is stored in a form this server does not read"),
        ];
        let mut failing = Vec::new();
        for (stored, why) in cases {
            let hook = webhook_storing(db, &s, &rx.url(), stored).await;
            failing.push((insert_event(db, &hook, "{\"n\":1}").await, why));
        }
        let ok = insert_event(db, &good, "{\"n\":2}").await;
        let w = start(db, config());
        w.notifier.wake();

        let hit = rx.expect_next(Duration::from_secs(10)).await;
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(ok.to_string().as_str())
        );
        assert_eq!(
            hit.header("x-webhook-signature"),
            Some(hmac_hex("right key 🔑", "{\"n\":2}").as_str())
        );
        assert_eq!(wait_finished(db, ok).await.status, 2);
        for (id, why) in &failing {
            let e = wait_finished(db, *id).await;
            assert_eq!(e.status, 3, "{} on {}", e.status_info, t.name);
            assert!(
                e.status_info.starts_with(
                    "Not sent: this webhook's secret cannot be decrypted with the server's key \
                     (SECRETS_KEY or SECRETS_KEY_FILE): "
                ),
                "{}",
                e.status_info
            );
            assert!(e.status_info.contains(why), "{why}: {}", e.status_info);
            assert!(
                e.status_info
                    .contains("set the secret again with webhookUpdate"),
                "{}",
                e.status_info
            );
            // Retried on the schedule (the key may come back), then final.
            assert_eq!(e.retry_count, 2, "{}", e.status_info);
            assert!(e.status_info.ends_with("Attempt 3 of 3; no attempts left."));
        }
        let metrics = w.metrics.clone();
        w.stop().await;
        assert_eq!(metrics.count(Outcome::NotSent), 9);
        assert!(
            rx.drain().await.is_empty(),
            "nothing was sent for the secrets that did not open"
        );
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_right_key_is_back_is_signed_with_the_secret() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let hook = webhook_storing(
            db,
            &s,
            &rx.url(),
            &other_key().seal("s3cr3t").expect("seal"),
        )
        .await;
        let id = insert_event(db, &hook, "{\"n\":3}").await;
        let slow_retry = WorkerConfig {
            retry_schedule: RetrySchedule(vec![Duration::from_secs(1)]),
            ..config()
        };

        // A process with the wrong key: the first attempt fails and a retry is scheduled.
        let w = start(db, slow_retry.clone());
        w.notifier.wake();
        let e = wait_event(db, id, Duration::from_secs(10), |e| e.retry_count == 1).await;
        assert_eq!(e.status, 0, "{}", e.status_info);
        assert!(
            e.status_info.contains("next attempt at"),
            "{}",
            e.status_info
        );
        w.stop().await;

        // The operator restores the key: the retry goes out, signed with the real secret.
        let w = start_with_key(db, slow_retry, other_key());
        let hit = rx.expect_next(Duration::from_secs(10)).await;
        assert_eq!(
            hit.header("x-webhook-signature"),
            Some(hmac_hex("s3cr3t", "{\"n\":3}").as_str())
        );
        assert_eq!(hit.header("x-webhook-attempt"), Some("2"));
        assert_eq!(wait_finished(db, id).await.status, 2);
        w.stop().await;
        t.cleanup().await;
    }
}
