//! The attempt record: every attempt of an event is kept with what the receiver answered (status,
//! headers, the start of the body), when it started and how long it took; receiver text that
//! would break a JSON document or a database column is stored safely.

use std::time::Duration;

use streamhooks_worker::WorkerConfig;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fail_succeed_keeps_each_attempt_with_its_response_and_timing() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        // Each answer takes at least 60 ms, so durations are measurable.
        rx.set_delay(Duration::from_millis(60));
        rx.script(vec![
            Reply {
                status: 500,
                headers: vec![("x-request-id", "first".into())],
                body: "database on fire".into(),
            },
            Reply {
                status: 503,
                headers: vec![("x-request-id", "second".into())],
                // Text that must survive JSON and a PostgreSQL text column: quotes, a NUL,
                // terminal escapes, a newline.
                body: "still \"down\"\u{0}\u{1b}[31m red\nline two".into(),
            },
            Reply {
                status: 200,
                headers: vec![("x-request-id", "third".into())],
                body: "{\"ok\":true}".into(),
            },
        ]);
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), Some("k")).await;
        // The default test schedule: 50 ms, then 100 ms.
        let w = start(db, config());
        let id = insert_event(db, &hook, "{\"n\":1}").await;
        w.notifier.wake();
        let mut numbers = Vec::new();
        for _ in 0..3 {
            numbers.push(
                rx.expect_next(Duration::from_secs(5))
                    .await
                    .header("x-webhook-attempt")
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        assert_eq!(numbers, ["1", "2", "3"], "on {}", t.name);
        let e = wait_finished(db, id).await;
        assert_eq!((e.status, e.retry_count), (2, 2), "{}", e.status_info);
        w.stop().await;

        let a = attempts(db, id).await;
        let summary = summary(&a);
        assert_eq!(
            summary,
            vec![
                (1, "http_error", Some(500)),
                (2, "http_error", Some(503)),
                (3, "success", Some(200))
            ],
            "on {}",
            t.name
        );
        assert_eq!(a[0].response_body.as_deref(), Some("database on fire"));
        assert_eq!(
            a[1].response_body.as_deref(),
            Some("still \"down\"\u{fffd}\u{1b}[31m red\nline two"),
            "kept as text, NUL replaced (PostgreSQL text cannot hold it)"
        );
        assert_eq!(a[2].response_body.as_deref(), Some("{\"ok\":true}"));
        for (attempt, id) in a.iter().zip(["first", "second", "third"]) {
            assert!(
                attempt
                    .header_list()
                    .contains(&("x-request-id".to_owned(), id.to_owned())),
                "{:?}",
                attempt.header_list()
            );
            let ms = attempt.duration_ms.unwrap_or(0);
            assert!((60..2_000).contains(&ms), "took {ms} ms");
            assert_eq!(attempt.worker.as_deref(), Some("test-worker"));
        }
        assert!(a[0]
            .error
            .as_deref()
            .is_some_and(|m| m.starts_with("HTTP 500 Internal Server Error: database on fire")));
        assert_eq!(a[2].error, None);
        // The second attempt started after the first one ended and the 50 ms (±20%) retry
        // delay passed; likewise the third after 100 ms.
        for (i, min_gap) in [(1usize, 40i64), (2, 80)] {
            let prev_end = a[i - 1].started_at.timestamp_millis()
                + i64::from(a[i - 1].duration_ms.unwrap_or(0));
            let gap = a[i].started_at.timestamp_millis() - prev_end;
            assert!(
                gap >= min_gap,
                "attempt {} started {gap} ms after the previous ended",
                i + 1
            );
        }
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_refusals_and_blocked_addresses_are_attempts_without_a_response() {
    for t in databases().await {
        let db = &t.db;
        let s = insert_stream(db).await;
        let cfg = WorkerConfig {
            request_timeout: Duration::from_millis(300),
            retry_schedule: streamhooks_worker::config::RetrySchedule(Vec::new()),
            ..config()
        };
        let w = start(db, cfg);

        let slow = TestReceiver::start().await;
        slow.set_delay(Duration::from_secs(3));
        let hung = insert_webhook(db, &s, &slow.url(), None).await;
        let dead = insert_webhook(db, &s, &dead_url().await, None).await;
        let blocked = insert_webhook(db, &s, "http://10.1.2.3/hook", None).await;
        let ids = [
            insert_event(db, &hung, "{}").await,
            insert_event(db, &dead, "{}").await,
        ];
        w.notifier.wake();
        let mut got = Vec::new();
        for id in ids {
            wait_finished(db, id).await;
            got.push(attempts(db, id).await);
        }
        w.stop().await;
        // Blocked only when local addresses are not allowed: a dispatcher of its own.
        let strict = start(
            db,
            WorkerConfig {
                allow_local_network: false,
                ..config()
            },
        );
        let blocked_id = insert_event(db, &blocked, "{}").await;
        strict.notifier.wake();
        wait_finished(db, blocked_id).await;
        strict.stop().await;
        got.push(attempts(db, blocked_id).await);

        let view: Vec<(&str, Option<i32>, bool, &str)> = got
            .iter()
            .map(|a| {
                (
                    a[0].outcome.as_str(),
                    a[0].status_code,
                    a[0].response_body.is_none(),
                    a[0].response_headers.as_str(),
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![
                ("timeout", None, true, "[]"),
                ("network", None, true, "[]"),
                ("blocked", None, true, "[]")
            ],
            "on {}",
            t.name
        );
        let timeout_ms = got[0][0].duration_ms.unwrap_or(0);
        assert!(
            (300..2_000).contains(&timeout_ms),
            "timed out after {timeout_ms} ms"
        );
        assert!(got[1][0]
            .error
            .as_deref()
            .is_some_and(|m| m.starts_with("Connection refused")));
        assert_eq!(got[2][0].duration_ms, None, "no request was made");
        assert!(got.iter().all(|a| a.len() == 1));
        t.cleanup().await;
    }
}
