//! The request a subscriber receives, byte by byte: what Speckle receivers parse and verify.
//! Signatures are checked with `hmac` directly, not with the crate's `sign`, so a bug there
//! cannot hide itself.

use std::time::Duration;

use streamhooks_worker::metrics::Outcome;

use crate::common::*;

fn payloads() -> Vec<(&'static str, String)> {
    let big_text: String =
        "Lorem ipsum dolor sit amet, \"quoted\" \\ back\nslash. ".repeat(1_048_576 / 52 + 1);
    vec![
        (
            "ascii",
            serde_json::json!({"streamId": "48364aff6b", "activityMessage": "Stream metadata changed",
                "event": {"event_name": "stream_update", "data": {"old": {"name": "a"}, "new": {"name": "b"}}}})
            .to_string(),
        ),
        (
            "unicode",
            serde_json::json!({"streamId": "s", "name": "Ünïcødé – ñandú, 日本語, Ελληνικά, \u{2028}"}).to_string(),
        ),
        (
            "emoji",
            serde_json::json!({"name": "Golden Nugget 🌻", "description": "good times 🌞👩‍👩‍👧‍👦"}).to_string(),
        ),
        ("one megabyte", serde_json::json!({"description": big_text}).to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_is_exactly_the_speckle_wire_format() {
    for t in databases().await {
        let db = &t.db;
        let rx = TestReceiver::start().await;
        let s = insert_stream(db).await;
        let secret = "s3cret 🔑";
        let hook = insert_webhook(db, &s, &rx.url(), Some(secret)).await;
        let bare = insert_webhook(db, &s, &rx.url(), None).await;
        let w = start(db, config());

        for (what, payload) in payloads() {
            assert!(payload.len() < 2_000_000);
            let id = insert_event(db, &hook, &payload).await;
            w.notifier.wake();
            let hit = rx.expect_next(Duration::from_secs(10)).await;
            assert_eq!(hit.method, "POST", "{what} on {}", t.name);
            assert_eq!(hit.uri.path(), "/hook");
            assert_eq!(hit.header("content-type"), Some("application/json"));
            assert_eq!(
                hit.header("user-agent"),
                Some(format!("streamhooks/{}", env!("CARGO_PKG_VERSION")).as_str())
            );
            assert_eq!(
                hit.header("x-webhook-delivery"),
                Some(id.to_string().as_str())
            );
            assert_eq!(hit.header("x-webhook-event"), Some("stream_update"));
            assert_eq!(hit.header("x-webhook-attempt"), Some("1"));
            // The exact bytes of `{"payload":"<P>"}`…
            let expected =
                serde_json::to_string(&serde_json::json!({ "payload": payload })).expect("encode");
            assert!(
                hit.body == expected.as_bytes(),
                "{what}: body differs from the expected bytes"
            );
            // …which a receiver decodes back to P and verifies over P's UTF-8 bytes.
            let decoded: serde_json::Value =
                serde_json::from_slice(&hit.body).expect("body is JSON");
            let p = decoded["payload"].as_str().expect("payload is a string");
            assert_eq!(p, payload);
            assert_eq!(
                hit.header("x-webhook-signature"),
                Some(hmac_hex(secret, p).as_str()),
                "{what}"
            );
            let row = wait_finished(db, id).await;
            assert_eq!(row.status, 2, "{what}: {}", row.status_info);
            assert!(
                row.status_info.starts_with("HTTP 200 in "),
                "{}",
                row.status_info
            );
            assert_eq!((row.lease_token, row.lease_until), (None, None));
        }

        // No secret: still signed, with the empty key, as Speckle does.
        let id = insert_event(db, &bare, "{\"a\":1}").await;
        w.notifier.wake();
        let hit = rx.expect_next(Duration::from_secs(10)).await;
        assert_eq!(
            hit.header("x-webhook-delivery"),
            Some(id.to_string().as_str())
        );
        assert_eq!(
            hit.header("x-webhook-signature"),
            Some(hmac_hex("", "{\"a\":1}").as_str())
        );
        assert_eq!(wait_finished(db, id).await.status, 2);

        let metrics = w.metrics.clone();
        w.stop().await;
        assert_eq!(metrics.count(Outcome::Success), 5);
        let text = metrics.render(Some(0));
        assert!(
            text.contains("streamhooks_deliveries_total{outcome=\"success\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("streamhooks_delivery_duration_seconds_count 5\n"),
            "{text}"
        );
        assert!(rx.drain().await.is_empty(), "each event is sent once");
        t.cleanup().await;
    }
}
