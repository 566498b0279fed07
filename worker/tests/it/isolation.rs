//! A subscriber that never answers must not slow deliveries to the others.

use std::time::{Duration, Instant};

use streamhooks_worker::WorkerConfig;

use crate::common::*;

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
