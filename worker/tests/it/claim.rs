//! What a claim hands the dispatcher: the claimed events in due order and, for each distinct
//! webhook among them, what sending reads of its row as stored (on PostgreSQL read in the claim's
//! own statement, on SQLite in a second one).

use chrono::Utc;
use entity::webhook_config;
use sea_orm::{ActiveModelTrait, Set};
use streamhooks_worker::claim::{self, Endpoint};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_brings_the_webhook_of_each_event_as_stored() {
    for t in databases().await {
        let db = &t.db;
        let s = insert_stream(db).await;
        let busy = insert_webhook(db, &s, "http://203.0.113.1/busy", Some("a secret")).await;
        let off = insert_webhook(db, &s, "http://203.0.113.2/off", None).await;
        // What the dispatcher decides by must come through: off, with its reason.
        let mut change: webhook_config::ActiveModel = off.into();
        change.enabled = Set(false);
        change.disabled_reason = Set(Some("20 failed deliveries in a row".into()));
        change.consecutive_failures = Set(20);
        let off = change
            .update(db)
            .await
            .unwrap_or_else(|e| panic!("update on {}: {e}", t.name));
        let idle = insert_webhook(db, &s, "http://203.0.113.3/idle", None).await;

        let mut queued = Vec::new();
        for n in 0..5 {
            queued.push(insert_event(db, &busy, &format!("{{\"n\":{n}}}")).await);
        }
        queued.push(insert_event(db, &off, "{\"n\":5}").await);

        let now = Utc::now().timestamp_millis();
        let (rows, webhooks) = claim::claim_with_webhooks(db, now, 60_000, 10, &[], i64::MIN)
            .await
            .unwrap_or_else(|e| panic!("claim on {}: {e}", t.name));
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            queued,
            "due order on {}",
            t.name
        );
        let mut got: Vec<&Endpoint> = webhooks.values().collect();
        got.sort_by(|a, b| a.url.cmp(&b.url));
        let want = [
            Endpoint::from(&webhook(db, &busy.id).await),
            Endpoint::from(&webhook(db, &off.id).await),
        ];
        assert_eq!(got, want.iter().collect::<Vec<_>>(), "on {}", t.name);
        assert!(!webhooks.contains_key(&idle.id), "on {}", t.name);

        let (rows, webhooks) = claim::claim_with_webhooks(db, now, 60_000, 10, &[], i64::MIN)
            .await
            .unwrap_or_else(|e| panic!("second claim on {}: {e}", t.name));
        assert!(rows.is_empty() && webhooks.is_empty(), "on {}", t.name);
        t.cleanup().await;
    }
}

/// A claim given a due time to start from (as the dispatcher gives it once an earlier claim has
/// stepped over the rows before it) leaves out the rows due earlier, and only those; without
/// one it takes every due row, oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_from_a_due_time_leaves_out_only_the_rows_due_before_it() {
    for t in databases().await {
        let db = &t.db;
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, "http://203.0.113.1/hook", None).await;
        let now = Utc::now().timestamp_millis();
        let mut queued = Vec::new();
        for due in [now - 3_000, now - 2_000, now - 2_000, now - 1_000] {
            queued.push(insert_event_with(db, &hook, "{}", |e| e.due_at = due).await);
        }
        let (rows, webhooks) = claim::claim_with_webhooks(db, now, 60_000, 10, &[], now - 2_000)
            .await
            .unwrap_or_else(|e| panic!("claim on {}: {e}", t.name));
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            queued[1..],
            "on {}",
            t.name
        );
        assert!(webhooks.contains_key(&hook.id), "on {}", t.name);
        let rows = claim::claim(db, now, 60_000, 10, &[])
            .await
            .unwrap_or_else(|e| panic!("second claim on {}: {e}", t.name));
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            queued[..1],
            "on {}",
            t.name
        );
        t.cleanup().await;
    }
}
