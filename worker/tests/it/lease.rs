//! Leases: a crashed worker's claim expires and the event is delivered again, with the abandoned
//! attempt on record as interrupted; a worker that lost its lease cannot overwrite the result of
//! the worker that took over.

use std::time::Duration;

use chrono::Utc;
use entity::{webhook_config, webhook_event};
use sea_orm::EntityTrait;
use streamhooks_worker::record::{self, AttemptRow, Effect, Update};
use streamhooks_worker::{claim, queue_depth};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_claimed_and_delivered_again() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let now = Utc::now().timestamp_millis();
        // Left behind by a worker that died mid-delivery.
        let crashed = insert_event_with(db, &hook, "{\"n\":1}", |m| {
            m.status = webhook_event::STATUS_PROCESSING;
            m.lease = Some((42, now - 1));
        })
        .await;
        // Still held by a live worker: must not be touched.
        let held = insert_event_with(db, &hook, "{\"n\":2}", |m| {
            m.status = webhook_event::STATUS_PROCESSING;
            m.lease = Some((43, now + 60_000));
        })
        .await;
        let w = start(db, config());
        let hit = rx.expect_next(Duration::from_secs(5)).await;
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(crashed.to_string().as_str()),
            "on {}",
            t.name
        );
        assert_eq!(
            hit.header("x-webhook-attempt"),
            Some("2"),
            "the crashed attempt was the first"
        );
        let e = wait_finished(db, crashed).await;
        assert_eq!(e.status, 2);
        let a = attempts(db, crashed).await;
        let summary = summary(&a);
        assert_eq!(
            summary,
            vec![(1, "interrupted", None), (2, "success", Some(200))],
            "on {}",
            t.name
        );
        assert_eq!(
            a[0].started_at.timestamp_millis(),
            now - 1 - 5_000,
            "when the lease began"
        );
        assert_eq!((a[0].duration_ms, a[0].worker.as_deref()), (None, None));
        assert_eq!(a[1].worker.as_deref(), Some("test-worker"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        w.stop().await;
        assert!(rx.drain().await.is_empty(), "the live lease was respected");
        let h = event(db, held).await;
        assert_eq!((h.status, h.lease_token), (1, Some(43)));
        assert!(attempts(db, held).await.is_empty());
        t.cleanup().await;
    }
}

/// A webhook with one queued event: the webhook, the event's id, and now (epoch ms).
async fn one_queued_event(db: &sea_orm::DatabaseConnection) -> (webhook_config::Model, i64, i64) {
    let s = insert_stream(db).await;
    let hook = insert_webhook(db, &s, "http://203.0.113.1/", None).await;
    let id = insert_event(db, &hook, "{}").await;
    (hook, id, Utc::now().timestamp_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lease_token_cannot_overwrite_the_new_holder() {
    for t in databases().await {
        let db = &t.db;
        let (hook, id, now) = one_queued_event(db).await;

        let first = claim::claim(db, now, 300, 10, &[]).await.expect("claim");
        assert_eq!(first.len(), 1, "on {}", t.name);
        assert!(
            claim::claim(db, now + 100, 300, 10, &[])
                .await
                .expect("claim")
                .is_empty(),
            "leased"
        );
        // The first worker stalls past its lease; a second claims the row with a new token.
        let second = claim::claim(db, now + 301, 300, 10, &[])
            .await
            .expect("claim");
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].lease_token, second[0].lease_token);
        assert_eq!(queue_depth(db).await.expect("depth"), 1);

        let late = Update {
            status: webhook_event::STATUS_FAILED,
            status_info: "stale result".into(),
            effect: Effect::FinalFailure,
            ..Update::for_event(&first[0], Utc::now())
        };
        record::write(db, &[late], 1).await.expect("write");
        let e = event(db, id).await;
        assert_eq!(
            (e.status, e.lease_token),
            (1, Some(second[0].lease_token)),
            "stale write ignored"
        );
        assert_eq!(second[0].attempt, 2, "the takeover counts as a new attempt");
        assert_eq!(second[0].prior_lease_at, Some(now));
        assert_eq!(
            webhook(db, &hook.id).await.consecutive_failures,
            0,
            "and not counted"
        );
        assert!(webhook(db, &hook.id).await.enabled);

        let current = Update {
            status: webhook_event::STATUS_SUCCEEDED,
            status_info: "HTTP 200".into(),
            effect: Effect::Success,
            ..Update::for_event(&second[0], Utc::now())
        };
        record::write(db, &[current], 1).await.expect("write");
        let e = event(db, id).await;
        assert_eq!(
            (e.status, e.status_info.as_str(), e.lease_token),
            (2, "HTTP 200", None)
        );
        assert_eq!(queue_depth(db).await.expect("depth"), 0);
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superseded_result_in_the_same_batch_as_the_current_one_is_dropped() {
    for t in databases().await {
        let db = &t.db;
        let (_, id, now) = one_queued_event(db).await;
        // This process claims, stalls past its lease (a database outage, say), claims again, and
        // both results reach the recorder in one batch.
        let first = claim::claim(db, now, 300, 10, &[]).await.expect("claim");
        let second = claim::claim(db, now + 301, 300, 10, &[])
            .await
            .expect("claim");
        claim::record_interrupted(db, &second)
            .await
            .expect("interrupted");
        let result = |c: &claim::Claimed, info: &str| Update {
            status: webhook_event::STATUS_SUCCEEDED,
            status_info: info.into(),
            effect: Effect::Success,
            attempt: Some(AttemptRow {
                event_id: c.id,
                number: c.attempt,
                started_at: Utc::now(),
                duration_ms: Some(1),
                outcome: "success",
                status_code: Some(200),
                error: None,
                response_headers: "[]".into(),
                response_body: Some(info.into()),
                worker: None,
            }),
            ..Update::for_event(c, Utc::now())
        };
        let batch = [result(&second[0], "current"), result(&first[0], "stale")];
        record::write(db, &batch, 1)
            .await
            .unwrap_or_else(|e| panic!("on {}: {e}", t.name));
        let e = event(db, id).await;
        assert_eq!((e.status, e.status_info.as_str()), (2, "current"));
        let a: Vec<(i32, String)> = attempts(db, id)
            .await
            .into_iter()
            .map(|a| (a.number, a.outcome))
            .collect();
        assert_eq!(
            a,
            [(1, "interrupted".to_owned()), (2, "success".to_owned())]
        );
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_attempt_of_an_event_deleted_since_the_claim_is_not_recorded() {
    for t in databases().await {
        let db = &t.db;
        let (hook, id, now) = one_queued_event(db).await;
        claim::claim(db, now, 300, 10, &[]).await.expect("claim");
        let taken_over = claim::claim(db, now + 301, 300, 10, &[])
            .await
            .expect("claim");
        assert_eq!(taken_over[0].prior_lease_at, Some(now));
        // The webhook goes (and its events by cascade) between the claim and the record.
        webhook_config::Entity::delete_by_id(hook.id.clone())
            .exec(db)
            .await
            .unwrap_or_else(|e| panic!("delete on {}: {e}", t.name));
        claim::record_interrupted(db, &taken_over)
            .await
            .unwrap_or_else(|e| panic!("on {}: {e}", t.name));
        assert!(
            attempts(db, id).await.is_empty(),
            "an attempt without its event on {}",
            t.name
        );
        t.cleanup().await;
    }
}
