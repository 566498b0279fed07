//! Retention removes old finished events in bounded statements and never touches pending ones.

use chrono::{Duration as Days, Utc};
use entity::{webhook_config, webhook_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::time::Duration;
use streamhooks_worker::retention;
use streamhooks_worker::WorkerConfig;
use tokio_util::sync::CancellationToken;

use crate::common::*;

async fn count(db: &sea_orm::DatabaseConnection, webhook_id: &str) -> u64 {
    webhook_event::Entity::find()
        .filter(webhook_event::Column::WebhookId.eq(webhook_id))
        .count(db)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_finished_events_in_batches_and_keeps_pending_ones() {
    for t in databases().await {
        let db = &t.db;
        let s = insert_stream(db).await;
        let old = Utc::now() - Days::days(40);
        let aged = insert_webhook(db, &s, "http://203.0.113.1/", None).await;
        let mut aged_ids = Vec::new();
        for i in 0..12 {
            let id = insert_event_with(db, &aged, "{}", |m| {
                m.status = if i % 2 == 0 { 2 } else { 3 };
                m.last_update = old;
            })
            .await;
            insert_attempt(db, id, 1).await;
            insert_attempt(db, id, 2).await;
            aged_ids.push(id);
        }
        let mut kept = Vec::new();
        for _ in 0..3 {
            let id = insert_event_with(db, &aged, "{}", |m| m.status = 2).await;
            insert_attempt(db, id, 1).await;
            kept.push(id);
        }
        // Old but still pending: a retry far in the future, and a leased row.
        kept.push(
            insert_event_with(db, &aged, "{}", |m| {
                m.last_update = old;
                m.due_at += 3_600_000;
            })
            .await,
        );
        kept.push(
            insert_event_with(db, &aged, "{}", |m| {
                m.status = 1;
                m.lease = Some((7, Utc::now().timestamp_millis() + 60_000));
                m.last_update = old;
            })
            .await,
        );

        // Recent, but more than the per-webhook limit.
        let busy = insert_webhook(db, &s, "http://203.0.113.2/", None).await;
        let mut busy_ids = Vec::new();
        for _ in 0..8 {
            busy_ids.push(insert_event_with(db, &busy, "{}", |m| m.status = 2).await);
        }
        let busy_pending = insert_event(db, &busy, "{}").await;

        // Webhooks of a deleted stream: gone once nothing is pending, kept otherwise.
        let orphan_done = insert_webhook(db, "deleted-stream", "http://203.0.113.3/", None).await;
        let orphan_event = insert_event_with(db, &orphan_done, "{}", |m| m.status = 2).await;
        insert_attempt(db, orphan_event, 1).await;
        let orphan_pending =
            insert_webhook(db, "deleted-stream", "http://203.0.113.4/", None).await;
        insert_event(db, &orphan_pending, "{}").await;

        let cfg = WorkerConfig {
            retention_max_age: Duration::from_secs(30 * 86_400),
            retention_keep_per_webhook: 5,
            ..config()
        };
        let report = retention::run_once(db, &cfg, 5, &CancellationToken::new())
            .await
            .expect("retention pass");
        // 12 aged rows in statements of 5, 5, 2; then 3 of busy's 8 in one statement.
        assert_eq!(report.events_deleted, 15, "on {}: {report:?}", t.name);
        assert_eq!(report.statements, 4, "{report:?}");
        assert_eq!(report.webhooks_deleted, 1);

        assert_eq!(count(db, &aged.id).await, 5);
        for id in &kept {
            event(db, *id).await;
        }
        // Attempts went with their events; the kept events keep theirs; totalCount follows.
        for id in &aged_ids {
            assert!(
                attempts(db, *id).await.is_empty(),
                "attempts of {id} on {}",
                t.name
            );
        }
        assert_eq!(attempts(db, kept[0]).await.len(), 1);
        assert_eq!(counted(db, &aged.id).await, 5);
        assert_eq!(counted(db, &busy.id).await, 6);
        assert_eq!(
            count(db, &busy.id).await,
            6,
            "the newest 5 finished plus the queued one"
        );
        for id in &busy_ids[3..] {
            event(db, *id).await;
        }
        event(db, busy_pending).await;
        let left: Vec<String> = webhook_config::Entity::find()
            .filter(webhook_config::Column::StreamId.eq("deleted-stream"))
            .all(db)
            .await
            .expect("list")
            .into_iter()
            .map(|w| w.id)
            .collect();
        assert_eq!(left, vec![orphan_pending.id.clone()]);
        assert_eq!(
            count(db, &orphan_done.id).await,
            0,
            "its events went with it"
        );
        // Deleting the webhook deletes its events by cascade, and their attempts with them (a
        // trigger on PostgreSQL, the foreign key on SQLite).
        assert!(
            attempts(db, orphan_event).await.is_empty(),
            "attempts of a deleted webhook's event on {}",
            t.name
        );

        // A second pass finds nothing more.
        let again = retention::run_once(db, &cfg, 5, &CancellationToken::new())
            .await
            .expect("retention pass");
        assert_eq!(again.events_deleted + again.webhooks_deleted, 0);
        t.cleanup().await;
    }
}
