//! More than one `speckle-dispatch` on one Speckle database: what the stock service cannot do
//! (its chart ships one replica, since two can send an event twice). Two replicas share 1,000
//! events queued while they run, each sent once; a replica killed mid-request loses nothing.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;
use streamhooks_api::testkit::TestReceiver;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_each_of_1000_events_once() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let hooks = [
        s.webhook(&rx.url(), Some("one"), &["commit_create"]).await,
        s.webhook(&rx.url(), Some("two"), &["commit_create"]).await,
    ];
    let probe = [probe_path(), probe_path()];
    let mut env_a = base_env(&s.db.url, &probe[0]);
    env_a.push(("WORKER_NAME".into(), "replica-a".into()));
    let mut env_b = base_env(&s.db.url, &probe[1]);
    env_b.push(("WORKER_NAME".into(), "replica-b".into()));
    // Small batches, so the two meet on the same rows all the time.
    let a = Dispatcher::start(&env_a, &["--batch-size", "20"]).await;
    let b = Dispatcher::start(&env_b, &["--batch-size", "20"]).await;

    // Queued while both poll, 500 per webhook from two Speckle "servers" at once.
    let (x, y) = tokio::join!(
        queue_on(
            &s.db.url,
            &hooks[0],
            "commit_create",
            json!({ "n": 0 }),
            500
        ),
        queue_on(
            &s.db.url,
            &hooks[1],
            "commit_create",
            json!({ "n": 1 }),
            500
        ),
    );
    let events: HashSet<String> = x.into_iter().chain(y).collect();
    assert_eq!(events.len(), 1000);

    let mut deliveries: HashMap<String, usize> = HashMap::new();
    let start = Instant::now();
    while deliveries.values().sum::<usize>() < 1000 {
        let r = rx
            .next(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("only {} delivered", deliveries.len()));
        *deliveries
            .entry(r.header("webhook-id").unwrap_or_default().to_owned())
            .or_default() += 1;
        assert!(start.elapsed() < Duration::from_secs(120), "too slow");
    }
    assert!(
        rx.next(Duration::from_millis(500)).await.is_none(),
        "more than 1000 requests"
    );
    assert_eq!(deliveries.len(), 1000, "a delivery id went out twice");

    let start = Instant::now();
    while s.statuses().await != vec![(2, 1000)] {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            s.statuses().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One attempt per Speckle event, and both replicas did some of the work.
    let (rows, events_seen, replicas): (i64, i64, i64) = sea_orm::sqlx::query_as(
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT worker) FROM streamhooks.attempts",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rows, events_seen), (1000, 1000));
    assert_eq!(replicas, 2, "one replica did everything");
    a.stop().await;
    b.stop().await;
    for p in probe {
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_replicas_event_is_sent_by_another_after_its_lease() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    rx.set_delay(Duration::from_secs(60));
    let hook = s
        .webhook(&rx.url(), Some("shared 🔑"), &["commit_create"])
        .await;
    let ids = s
        .queue(&hook, "commit_create", json!({ "id": "c9" }), 1)
        .await;
    let probe = probe_path();
    let mut env = base_env(&s.db.url, &probe);
    env.extend([
        ("REQUEST_TIMEOUT".into(), "3s".into()),
        ("LEASE_DURATION".into(), "4s".into()),
    ]);
    let first = Dispatcher::start(&env, &[]).await;
    let hung = rx
        .next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the first replica sent nothing"));
    first.kill().await;
    rx.set_delay(Duration::ZERO);
    // On its first attempt the event is held by our lease alone: Speckle's row is left pending,
    // unwritten, until the result.
    let taken = s.event(&ids[0]).await;
    assert_eq!(
        (taken.status, taken.status_info.as_str()),
        (0, "Pending"),
        "{taken:?}"
    );
    let leased: Option<i64> = sea_orm::sqlx::query_scalar(
        "SELECT lease_until FROM streamhooks.deliveries WHERE event_id = $1",
    )
    .bind(&ids[0])
    .fetch_one(&s.pool)
    .await
    .unwrap_or_else(|e| panic!("the event's deliveries row: {e}"));
    assert!(leased.is_some(), "the first replica's lease is missing");

    let second = Dispatcher::start(&env, &[]).await;
    let again = rx
        .next(Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("the event was lost"));
    assert_eq!(again.body, hung.body);
    assert_eq!(again.header("webhook-id"), hung.header("webhook-id"));
    assert_eq!(again.header("x-webhook-attempt"), Some("2"));
    let done = s
        .wait_event(&ids[0], Duration::from_secs(10), |e| e.status == 2)
        .await;
    assert_eq!(done.status_info, "Webhook called");
    let seen = attempts(&env, &["--event", &ids[0]]).await;
    let outcomes: Vec<_> = seen.iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(
        outcomes,
        vec![json!("success"), json!("interrupted")],
        "{seen:?}"
    );
    second.stop().await;
    let _ = std::fs::remove_file(probe);
}
