//! A subscriber that never answers must not slow deliveries to the others.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait, Value};
use streamhooks_worker::queue::{self, NewEvent};

use streamhooks_worker::WorkerConfig;

use crate::common::*;

/// `streamhooks worker`'s settings with nothing given, as its command line parses them.
fn production_defaults() -> WorkerConfig {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerConfig,
    }
    <Cli as clap::Parser>::parse_from(["worker"]).worker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_does_not_hold_back_a_healthy_one() {
    for t in databases().await {
        let db = &t.db;
        let hanging = TestReceiver::start().await;
        hanging.set_delay(Duration::from_secs(30));
        let healthy = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let slow_hook = insert_webhook(db, &s, &hanging.url(), None).await;
        let fast_hook = insert_webhook(db, &s, &healthy.url(), None).await;
        // The hanging webhook's events are older, so they are claimed first.
        let mut slow = Vec::new();
        for _ in 0..20 {
            slow.push(insert_event(db, &slow_hook, "{}").await);
        }
        let mut fast = Vec::new();
        for _ in 0..200 {
            fast.push(insert_event(db, &fast_hook, "{}").await);
        }
        let timeout = Duration::from_secs(4);
        let cfg = WorkerConfig {
            concurrency: 16,
            per_webhook_concurrency: 4,
            batch_size: 50,
            request_timeout: timeout,
            lease: Duration::from_secs(10),
            ..config()
        };
        let started = Instant::now();
        let w = start(db, cfg);
        for id in &fast {
            let e = wait_event(db, *id, timeout, |e| e.status >= 2).await;
            assert_eq!(e.status, 2, "on {}: {}", t.name, e.status_info);
        }
        let took = started.elapsed();
        // All 200 finished while the hanging requests were still waiting for their timeout.
        assert!(took < timeout, "healthy deliveries took {took:?}");
        for id in &slow {
            assert!(
                event(db, *id).await.status < 2,
                "hanging deliveries are still unresolved"
            );
        }
        // Exactly the hanging webhook's cap is in flight; the rest of its events wait their turn.
        assert_eq!(w.metrics.in_flight(), 4);
        assert!(w.metrics.render(None).contains("streamhooks_in_flight 4\n"));
        w.stop().await;
        t.cleanup().await;
    }
}

/// Events spread thin, as on a real Speckle server: 1,000 webhooks, 10 of which never answer.
/// With the production caps (256 in flight, 16 per webhook) the hanging ones hold 160 slots until
/// their timeout, and the other 990 webhooks' events all go out meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_webhooks_of_which_ten_hang() {
    const HANGING: usize = 10;
    const HEALTHY: usize = 990;
    const EVENTS_PER_HANGING: usize = 20;
    const EVENTS_PER_HEALTHY: usize = 2;
    for t in databases().await {
        let db = &t.db;
        let hanging = TestReceiver::start().await;
        hanging.set_delay(Duration::from_secs(60));
        let healthy = TestReceiver::counting().await.expect("receiver");
        let s = insert_stream(db).await;
        let mut slow_hooks = Vec::new();
        for _ in 0..HANGING {
            slow_hooks.push(insert_webhook(db, &s, &hanging.url(), None).await);
        }
        let mut fast_hooks = Vec::new();
        for _ in 0..HEALTHY {
            fast_hooks.push(insert_webhook(db, &s, &healthy.url(), None).await);
        }
        // The hanging webhooks' events are the oldest, so the first claims are all theirs; the
        // others' are queued round-robin, one webhook after another, as a busy server queues them.
        let new_event = |w: &entity::webhook_config::Model| NewEvent {
            webhook_id: w.id.clone(),
            stream_id: w.stream_id.clone(),
            event_name: "stream_update".into(),
            payload: "{}".into(),
            status_info: "Queued.".into(),
            manual: false,
        };
        let slow_rows: Vec<NewEvent> = (0..EVENTS_PER_HANGING)
            .flat_map(|_| slow_hooks.iter().map(new_event))
            .collect();
        let fast_rows: Vec<NewEvent> = (0..EVENTS_PER_HEALTHY)
            .flat_map(|_| fast_hooks.iter().map(new_event))
            .collect();
        let txn = db.begin().await.expect("begin");
        let slow = queue::insert(&txn, &slow_rows, Utc::now() - chrono::Duration::seconds(1))
            .await
            .expect("queue");
        let fast = queue::insert(&txn, &fast_rows, Utc::now())
            .await
            .expect("queue");
        txn.commit().await.expect("commit");

        let timeout = Duration::from_secs(10);
        let defaults = production_defaults();
        let cfg = WorkerConfig {
            concurrency: defaults.concurrency,
            per_webhook_concurrency: defaults.per_webhook_concurrency,
            batch_size: defaults.batch_size,
            request_timeout: timeout,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            ..config()
        };
        let started = Instant::now();
        let w = start(db, cfg.clone());
        for id in &fast {
            let e = wait_event(db, *id, timeout, |e| e.status >= 2).await;
            assert_eq!(e.status, 2, "on {}: {}", t.name, e.status_info);
        }
        let took = started.elapsed();
        // Every healthy event was sent while the hanging requests still waited for their timeout.
        assert!(
            took < timeout,
            "on {}: healthy deliveries took {took:?}",
            t.name
        );
        assert_eq!(healthy.count(), fast.len() as u64, "on {}", t.name);
        for id in &slow {
            assert!(event(db, *id).await.status < 2, "on {}", t.name);
        }
        // The hanging webhooks hold exactly their caps; nothing else is in flight.
        assert_eq!(
            w.metrics.in_flight(),
            (HANGING * cfg.per_webhook_concurrency) as i64,
            "on {}",
            t.name
        );
        eprintln!(
            "{}: {} events of {HEALTHY} webhooks delivered in {took:?} beside {HANGING} hanging",
            t.name,
            fast.len()
        );
        w.stop().await;
        t.cleanup().await;
    }
}

/// A receiver that falls behind keeps its lane full while its due events pile up at the front of
/// the due index. Once a claim has stepped over them, the next claims start past them instead of
/// walking them again for every other webhook's events; and when the receiver catches up, every
/// one of them is still delivered. Where each claim starts is read from the claim statements as
/// SQLite runs them; on PostgreSQL the claims go through the hot path's own pool, out of sight
/// of the connection's callback, and the test checks the deliveries alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_start_past_a_slow_webhooks_backlog_and_lose_none_of_it() {
    for t in databases().await {
        let mut db = t.db.clone();
        let starts = Arc::new(Mutex::new(Vec::<i64>::new()));
        let seen = starts.clone();
        db.set_metric_callback(move |info| {
            if !info.statement.sql.contains("AND due_at >= $5") {
                return;
            }
            let from = info
                .statement
                .values
                .as_ref()
                .and_then(|v| match v.0.get(4) {
                    Some(Value::BigInt(Some(n))) => Some(*n),
                    _ => None,
                });
            if let (Some(from), Ok(mut s)) = (from, seen.lock()) {
                s.push(from);
            }
        });
        let behind = TestReceiver::start().await;
        let delay = Duration::from_secs(4);
        behind.set_delay(delay);
        let healthy = TestReceiver::counting().await.expect("receiver");
        let s = insert_stream(&db).await;
        let slow_hook = insert_webhook(&db, &s, &behind.url(), None).await;
        let mut hooks = Vec::new();
        for _ in 0..3 {
            hooks.push(insert_webhook(&db, &s, &healthy.url(), None).await);
        }
        // Queued an hour ago: a backlog that built up while the receiver fell behind.
        let oldest = Utc::now().timestamp_millis() - 3_600_000;
        let mut slow = Vec::new();
        for i in 0..30 {
            slow.push(insert_event_with(&db, &slow_hook, "{}", |e| e.due_at = oldest + i).await);
        }
        let newest_slow = oldest + 29;
        let cfg = WorkerConfig {
            concurrency: 16,
            per_webhook_concurrency: 4,
            batch_size: 100,
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            ..config()
        };
        let started = Instant::now();
        let w = start(&db, cfg);
        // Rounds of the others' events, each delivered before the next is queued, while the
        // slow receiver still holds its first requests.
        let sqlite = db.get_database_backend() == DatabaseBackend::Sqlite;
        let past = || {
            starts
                .lock()
                .is_ok_and(|s| s.iter().any(|&f| f > newest_slow))
        };
        let mut fast = Vec::new();
        while started.elapsed() < delay * 3 / 4 && !(sqlite && past()) {
            for h in &hooks {
                fast.push(insert_event(&db, h, "{}").await);
            }
            w.notifier.wake();
            for id in &fast {
                let e = wait_event(&db, *id, delay, |e| e.status >= 2).await;
                assert_eq!(e.status, 2, "on {}: {}", t.name, e.status_info);
            }
        }
        assert_eq!(healthy.count(), fast.len() as u64, "on {}", t.name);
        if sqlite {
            assert!(
                past(),
                "on {}: none of {} claims started past the slow webhook's backlog (due up to {newest_slow}); the latest start was {:?}",
                t.name,
                starts.lock().map_or(0, |s| s.len()),
                starts.lock().ok().and_then(|s| s.iter().max().copied())
            );
        }
        // The receiver catches up: none of its events is left behind where claims start.
        behind.set_delay(Duration::ZERO);
        for id in &slow {
            let e = wait_event(&db, *id, Duration::from_secs(20), |e| e.status >= 2).await;
            assert_eq!(e.status, 2, "on {}: {}", t.name, e.status_info);
        }
        assert_eq!(behind.drain().await.len(), slow.len(), "on {}", t.name);
        w.stop().await;
        t.cleanup().await;
    }
}
