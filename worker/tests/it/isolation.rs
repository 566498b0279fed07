//! A subscriber that never answers must not slow deliveries to the others.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::TransactionTrait;
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
