//! The whole path through the real server: a GraphQL change is delivered to a real receiver on
//! 127.0.0.1 with the wire format receivers expect (signature checked with the test kit's `hmac_hex`,
//! not the server's code), and the outcome shows up in `history`. Also pings and redeliveries
//! actually sent, auto-disable visible through GraphQL, and the operator endpoints.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{hmac_hex, probe, TestReceiver, TestServer};

use crate::support::world;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_stream_change_arrives_signed_and_is_recorded() {
    let w = world().await;
    let s = &w.server;
    let rx = TestReceiver::start().await;
    let hook = w
        .webhook(&rx.url(), &["stream_update"], Some("s3cr3t 🔑"))
        .await;
    let name = "Ünïcødé 🌻 \"q\" \\ 設計\nline";
    w.update_stream(json!({ "name": name })).await;

    let req = rx.next(WAIT).await.unwrap_or_else(|| panic!("no delivery"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(req
        .header("user-agent")
        .is_some_and(|u| u.starts_with("streamhooks/")));
    // The body is exactly {"payload": "<string>"}; the signature is over that string's UTF-8.
    let outer: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    assert_eq!(outer.as_object().map(|o| o.len()), Some(1), "{outer}");
    let p = outer["payload"]
        .as_str()
        .unwrap_or_else(|| panic!("payload is not a string"));
    assert_eq!(
        req.header("x-webhook-signature"),
        Some(hmac_hex("s3cr3t 🔑", p.as_bytes()).as_str())
    );
    assert_ne!(
        req.header("x-webhook-signature"),
        Some(hmac_hex("wrong", p.as_bytes()).as_str())
    );
    let payload: Value = serde_json::from_str(p).unwrap_or_default();
    assert_eq!(payload["stream"]["name"].as_str(), Some(name));
    assert_eq!(payload["webhook"]["id"], json!(hook));

    let h = s
        .wait_for_history(&w.owner, &w.stream, &hook, WAIT, |h| {
            h.first().is_some_and(|e| e["status"] == json!(2))
        })
        .await;
    assert_eq!(h[0]["status"], json!(2), "{h:?}");
    assert_eq!(
        h[0]["payload"].as_str(),
        Some(p),
        "what was sent is what history shows"
    );
    assert_eq!(
        req.header("x-webhook-delivery"),
        h[0]["id"].as_str(),
        "delivery id is the event id"
    );
    assert!(
        h[0]["statusInfo"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 200"),
        "{:?}",
        h[0]["statusInfo"]
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn failures_are_retried_then_final_and_visible_in_history() {
    let w = world().await;
    let s = &w.server;
    let rx = TestReceiver::start().await;
    rx.set_status(500);
    let hook = w.webhook(&rx.url(), &["stream_update"], None).await;
    w.update_stream(json!({ "name": "x" })).await;
    // TEST_ARGS: two retries, so three attempts, then status 3.
    let h = s
        .wait_for_history(&w.owner, &w.stream, &hook, WAIT, |h| {
            h.first().is_some_and(|e| e["status"] == json!(3))
        })
        .await;
    assert_eq!(h[0]["status"], json!(3), "{h:?}");
    assert_eq!(
        h[0]["retryCount"],
        json!(2),
        "retries made: the schedule's length"
    );
    let info = h[0]["statusInfo"].as_str().unwrap_or("");
    assert!(info.contains("HTTP 500"), "{info}");
    let got = rx.drain().await;
    assert_eq!(got.len(), 3);
    let ids: Vec<_> = got
        .iter()
        .map(|r| r.header("x-webhook-delivery").map(str::to_owned))
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "same delivery id on every attempt: {ids:?}"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn ping_and_redeliver_are_sent_to_the_receiver() {
    let w = world().await;
    let s = &w.server;
    let rx = TestReceiver::start().await;
    let hook = w.webhook(&rx.url(), &["commit_create"], Some("k")).await;
    // Disabled: the ping is still sent (validate before activating).
    w.update_webhook(&hook, json!({ "enabled": false })).await;
    let ping = s
        .ping(&w.owner, &w.stream, &hook, Some("commit_create"))
        .await;
    let req = rx
        .next(WAIT)
        .await
        .unwrap_or_else(|| panic!("ping not delivered"));
    let p = req.payload_string().unwrap_or_default();
    assert_eq!(
        req.header("x-webhook-signature"),
        Some(hmac_hex("k", p.as_bytes()).as_str())
    );
    assert_eq!(req.header("x-webhook-delivery"), Some(ping.as_str()));
    assert!(p.contains("\"sample\":true"));

    s.gql_ok(
        &w.owner.token,
        "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }",
        json!({ "e": { "id": ping, "webhookId": hook, "streamId": w.stream } }),
    )
    .await;
    let again = rx
        .next(WAIT)
        .await
        .unwrap_or_else(|| panic!("redelivery not delivered"));
    assert_eq!(again.payload_string(), Some(p));
    assert_ne!(again.header("x-webhook-delivery"), Some(ping.as_str()));
    let h = s
        .wait_for_history(&w.owner, &w.stream, &hook, WAIT, |h| {
            h.len() == 2 && h.iter().all(|e| e["status"] == json!(2))
        })
        .await;
    assert!(h.iter().all(|e| e["status"] == json!(2)), "{h:?}");
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_is_disabled_with_a_reason() {
    let server = TestServer::start_with(
        &[
            "--allow-local-network",
            "true",
            "--retry-schedule",
            "none",
            "--disable-after-failures",
            "3",
            "--request-timeout",
            "2s",
            "--lease",
            "5s",
        ],
        true,
    )
    .await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    rx.set_status(503);
    let hook = server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], None)
        .await;
    for i in 0..3 {
        server
            .update_stream(&owner, &stream, json!({ "name": format!("n{i}") }))
            .await;
        server
            .wait_for_history(&owner, &stream, &hook, WAIT, |h| {
                h.first().is_some_and(|e| e["status"] == json!(3))
            })
            .await;
    }
    let list =
        "query($s: String!) { stream(id: $s) { webhooks { items { enabled disabledReason } } } }";
    let d = server
        .gql_ok(&owner.token, list, json!({ "s": stream }))
        .await;
    let item = &d["stream"]["webhooks"]["items"][0];
    assert_eq!(item["enabled"], json!(false), "{d}");
    let reason = item["disabledReason"].as_str().unwrap_or("");
    assert!(reason.contains('3') && reason.contains("503"), "{reason}");
    // A further change queues nothing for it; re-enabling clears the reason.
    server
        .update_stream(&owner, &stream, json!({ "name": "later" }))
        .await;
    assert_eq!(server.history(&owner, &stream, &hook, 10).await.len(), 3);
    server
        .gql_ok(
            &owner.token,
            "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }",
            json!({ "w": { "id": hook, "streamId": stream, "enabled": true } }),
        )
        .await;
    let d = server
        .gql_ok(&owner.token, list, json!({ "s": stream }))
        .await;
    assert_eq!(
        d["stream"]["webhooks"]["items"][0],
        json!({ "enabled": true, "disabledReason": null })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn operator_endpoints_answer() {
    let w = world().await;
    let s = &w.server;
    let rx = TestReceiver::start().await;
    w.webhook(&rx.url(), &["stream_update"], None).await;
    w.update_stream(json!({ "name": "m" })).await;
    rx.next(WAIT).await.unwrap_or_else(|| panic!("no delivery"));
    let get = |path: &str| probe::get(format!("{}{path}", s.url()));
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await, (200, "ready".to_owned()));
    let metrics = probe::metrics_showing(
        &s.url(),
        "streamhooks_deliveries_total{outcome=\"success\"} 1",
    )
    .await;
    for needle in [
        "streamhooks_deliveries_total{outcome=\"success\"} 1",
        "streamhooks_delivery_duration_seconds_bucket",
        "streamhooks_queue_depth",
        "streamhooks_in_flight",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
    w.server.shutdown().await;
}

#[tokio::test]
async fn stream_delete_reaches_the_receiver_after_the_stream_is_gone() {
    let w = world().await;
    let s = &w.server;
    let rx = TestReceiver::start().await;
    w.webhook(&rx.url(), &["stream_delete"], Some("k")).await;
    s.gql_ok(
        &w.owner.token,
        "mutation($id: String!) { streamDelete(id: $id) }",
        json!({ "id": w.stream }),
    )
    .await;
    let req = rx
        .next(WAIT)
        .await
        .unwrap_or_else(|| panic!("stream_delete not delivered"));
    let p = req.payload_string().unwrap_or_default();
    assert_eq!(
        req.header("x-webhook-signature"),
        Some(hmac_hex("k", p.as_bytes()).as_str())
    );
    let payload: Value = serde_json::from_str(&p).unwrap_or_default();
    assert_eq!(payload["event"]["event_name"], json!("stream_delete"));
    assert_eq!(payload["event"]["data"]["stream"]["id"], json!(w.stream));
    assert_eq!(payload["stream"]["name"], json!("Golden Nugget 🌻"));
    w.server.shutdown().await;
}
