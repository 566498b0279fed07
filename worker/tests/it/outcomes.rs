//! What gets recorded for each way a delivery can end, and how failures are retried.

use std::time::Duration;

use chrono::Utc;
use streamhooks_worker::config::RetrySchedule;
use streamhooks_worker::WorkerConfig;

use crate::common::*;

fn no_retries() -> WorkerConfig {
    WorkerConfig {
        retry_schedule: RetrySchedule(Vec::new()),
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_is_recorded_with_a_readable_sentence() {
    for t in databases().await {
        let db = &t.db;
        let s = insert_stream(db).await;
        let cfg = WorkerConfig {
            request_timeout: Duration::from_millis(400),
            ..no_retries()
        };
        let w = start(db, cfg);

        // 200 and 204 succeed.
        for code in [200u16, 204] {
            let rx = TestReceiver::start().await;
            rx.set_status(code);
            let hook = insert_webhook(db, &s, &rx.url(), None).await;
            let e = deliver_once(db, &w, &rx, &hook).await;
            assert_eq!(e.status, 2, "{code} on {}: {}", t.name, e.status_info);
            assert!(
                e.status_info.starts_with(&format!("HTTP {code} in ")),
                "{}",
                e.status_info
            );
            assert_eq!(e.retry_count, 0);
        }

        // 500 and 404 fail, with the response excerpt (one line, capped).
        let rx = TestReceiver::start().await;
        rx.script(vec![
            Reply {
                status: 500,
                headers: vec![],
                body: "boom:\n database on fire".into(),
            },
            Reply {
                status: 404,
                headers: vec![],
                body: String::new(),
            },
        ]);
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let e = deliver_once(db, &w, &rx, &hook).await;
        assert_eq!(e.status, 3);
        assert_eq!(
            e.status_info,
            "HTTP 500 Internal Server Error: boom: database on fire. Attempt 1 of 1; no attempts left."
        );
        let e = deliver_once(db, &w, &rx, &hook).await;
        assert_eq!(e.status, 3);
        assert_eq!(
            e.status_info,
            "HTTP 404 Not Found (empty response). Attempt 1 of 1; no attempts left."
        );

        // A redirect is reported and not followed.
        let elsewhere = TestReceiver::start().await;
        let rx = TestReceiver::start().await;
        rx.script(vec![Reply {
            status: 301,
            headers: vec![("location", elsewhere.url().clone())],
            body: String::new(),
        }]);
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let e = deliver_once(db, &w, &rx, &hook).await;
        assert_eq!(e.status, 3);
        assert!(
            e.status_info.starts_with(&format!(
                "Redirect (HTTP 301 to {}) not followed",
                elsewhere.url()
            )),
            "{}",
            e.status_info
        );

        // A receiver slower than the request timeout.
        let rx = TestReceiver::start().await;
        rx.set_delay(Duration::from_secs(3));
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let e = deliver_once(db, &w, &rx, &hook).await;
        assert_eq!(e.status, 3);
        assert!(
            e.status_info.starts_with("Timed out after 400ms"),
            "{}",
            e.status_info
        );

        // Nothing listening.
        let dead = dead_url().await;
        let hook = insert_webhook(db, &s, &dead, None).await;
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let e = wait_finished(db, id).await;
        let port = dead
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/hook");
        assert_eq!(e.status, 3);
        assert!(
            e.status_info
                .starts_with(&format!("Connection refused by 127.0.0.1:{port}.")),
            "{}",
            e.status_info
        );

        // A name that cannot resolve (.invalid is reserved for exactly this).
        let hook = insert_webhook(db, &s, "http://nonexistent.invalid/", None).await;
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let e = wait_finished(db, id).await;
        assert_eq!(e.status, 3);
        assert!(
            e.status_info
                .starts_with("Could not resolve host \"nonexistent.invalid\"."),
            "{}",
            e.status_info
        );

        w.stop().await;
        assert!(
            elsewhere.drain().await.is_empty(),
            "the redirect target was never contacted"
        );
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_on_schedule_then_fail_finally() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        rx.set_status(500);
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let w = start(db, config());
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();

        let mut hits = Vec::new();
        for _ in 0..3 {
            hits.push(rx.expect_next(Duration::from_secs(5)).await);
        }
        let e = wait_finished(db, id).await;
        assert_eq!(e.status, 3, "{}", e.status_info);
        assert_eq!(e.retry_count, 2, "retry_count is the schedule length");
        assert!(
            e.status_info.ends_with("Attempt 3 of 3; no attempts left."),
            "{}",
            e.status_info
        );
        let attempts: Vec<_> = hits.iter().map(|h| h.header("x-webhook-attempt")).collect();
        assert_eq!(attempts, [Some("1"), Some("2"), Some("3")]);
        assert!(hits
            .iter()
            .all(|h| h.header("x-webhook-delivery") == Some(id.to_string().as_str())));
        // Jittered 50ms and 100ms: at least 40ms and 80ms apart.
        assert!(hits[1].at - hits[0].at >= Duration::from_millis(40));
        assert!(hits[2].at - hits[1].at >= Duration::from_millis(80));
        w.stop().await;
        assert!(
            rx.drain().await.is_empty(),
            "no attempt after the final one"
        );
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_429_replaces_the_schedule() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        rx.script(vec![Reply {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: "slow down".into(),
        }]);
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &rx.url(), None).await;
        let w = start(db, config());
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let first = rx.expect_next(Duration::from_secs(5)).await;
        let sent_ms = Utc::now().timestamp_millis();
        let e = wait_event(db, id, Duration::from_secs(5), |e| e.retry_count == 1).await;
        assert_eq!(e.status, 0);
        // The schedule says 50ms; the receiver said 1s.
        let wait = e.due_at.unwrap_or(0) - sent_ms;
        assert!(
            (900..=1_100).contains(&wait),
            "next attempt in {wait}ms: {}",
            e.status_info
        );
        assert!(
            e.status_info
                .starts_with("HTTP 429 Too Many Requests: slow down."),
            "{}",
            e.status_info
        );
        assert!(
            e.status_info.contains("retry after 1s"),
            "{}",
            e.status_info
        );
        let second = rx.expect_next(Duration::from_secs(5)).await;
        assert!(second.at - first.at >= Duration::from_millis(950));
        assert_eq!(second.header("x-webhook-attempt"), Some("2"));
        let e = wait_finished(db, id).await;
        assert_eq!((e.status, e.retry_count), (2, 1));
        w.stop().await;
        t.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_are_read_only_up_to_the_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for t in databases().await {
        let db = &t.db;
        // Announces a megabyte, sends 2 KB, then stalls: only a reader that stops at the cap
        // finishes before the request timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = sock.read(&mut buf).await;
                    let head =
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1000000\r\n\r\n";
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&[b'x'; 2048]).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        let s = insert_stream(db).await;
        let hook = insert_webhook(db, &s, &url, None).await;
        let cfg = WorkerConfig {
            response_body_limit: 1024,
            request_timeout: Duration::from_secs(3),
            ..no_retries()
        };
        let w = start(db, cfg);
        let started = std::time::Instant::now();
        let id = insert_event(db, &hook, "{}").await;
        w.notifier.wake();
        let e = wait_finished(db, id).await;
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "on {}: waited for the whole body",
            t.name
        );
        let excerpt = format!(
            "HTTP 500 Internal Server Error: {}…. Attempt 1 of 1",
            "x".repeat(200)
        );
        assert!(e.status_info.starts_with(&excerpt), "{}", e.status_info);
        w.stop().await;
        t.cleanup().await;
    }
}
