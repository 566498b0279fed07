//! Test deliveries an integrator asks for: `webhookPing` queues a signed sample event of a chosen
//! trigger for one webhook (even a disabled one), and `webhookEventRedeliver` queues an existing
//! event's payload again. Both are owner-only and show up in the history like any event.

use serde_json::{json, Value};

use crate::support::{code, grant, quiet_world};

const PING: &str = "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }";
const REDELIVER: &str =
    "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }";

fn payload(e: &Value) -> Value {
    serde_json::from_str(e["payload"].as_str().unwrap_or("{}")).unwrap_or_default()
}

#[tokio::test]
async fn ping_queues_a_sample_event_even_for_a_disabled_webhook() {
    let w = quiet_world().await;
    let s = &w.server;
    // Not subscribed to commit_create, and disabled: a ping still goes out (validate first).
    let hook = w
        .webhook("http://127.0.0.1:9/never", &["stream_update"], Some("k"))
        .await;
    w.update_webhook(&hook, json!({ "enabled": false })).await;

    let id = s
        .gql_ok(
            &w.owner.token,
            PING,
            json!({ "w": { "id": hook, "streamId": w.stream, "trigger": "commit_create" } }),
        )
        .await["webhookPing"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let h = s.history(&w.owner, &w.stream, &hook, 10).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["id"], json!(id));
    let p = payload(&h[0]);
    assert_eq!(p["event"]["event_name"], json!("commit_create"));
    assert_eq!(p["event"]["data"]["sample"], json!(true));
    assert_eq!(
        p["event"]["data"]["commit"]["message"],
        json!("A sample commit")
    );
    assert_eq!(p["stream"]["id"], json!(w.stream));
    assert_eq!(p["user"]["id"], json!(w.owner.id));
    assert_eq!(p["webhook"]["id"], json!(hook));
    assert!(p["user"].get("email").is_none());

    // Default trigger, unknown trigger, wrong stream, not an owner.
    s.gql_ok(
        &w.owner.token,
        PING,
        json!({ "w": { "id": hook, "streamId": w.stream } }),
    )
    .await;
    assert_eq!(
        payload(&s.history(&w.owner, &w.stream, &hook, 1).await[0])["event"]["event_name"],
        json!("stream_update")
    );
    let r = s
        .gql(
            Some(&w.owner.token),
            PING,
            json!({ "w": { "id": hook, "streamId": w.stream, "trigger": "nope" } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT");
    let other_stream = s.create_stream(&w.owner, "other").await;
    let r = s
        .gql(
            Some(&w.owner.token),
            PING,
            json!({ "w": { "id": hook, "streamId": other_stream } }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN");
    grant(&w, &w.stream, &w.other, "stream:contributor").await;
    let r = s
        .gql(
            Some(&w.other.token),
            PING,
            json!({ "w": { "id": hook, "streamId": w.stream } }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN");
    assert_eq!(s.history(&w.owner, &w.stream, &hook, 10).await.len(), 2);
    w.server.shutdown().await;
}

#[tokio::test]
async fn redeliver_queues_the_same_payload_as_a_new_event() {
    let w = quiet_world().await;
    let s = &w.server;
    let hook = w
        .webhook("http://127.0.0.1:9/never", &["stream_update"], None)
        .await;
    w.update_stream(json!({ "name": "v2 ✓" })).await;
    let original = s.history(&w.owner, &w.stream, &hook, 1).await[0].clone();

    let new_id = s
        .gql_ok(
            &w.owner.token,
            REDELIVER,
            json!({ "e": { "id": original["id"], "webhookId": hook, "streamId": w.stream } }),
        )
        .await["webhookEventRedeliver"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(json!(new_id), original["id"]);
    let h = s.history(&w.owner, &w.stream, &hook, 10).await;
    assert_eq!(h.len(), 2);
    assert_eq!(
        h[0]["id"],
        json!(new_id),
        "the redelivery is the newest event"
    );
    assert_eq!(
        h[0]["payload"], original["payload"],
        "same payload, byte for byte"
    );
    assert_eq!(h[0]["retryCount"], json!(0));
    assert!(h[0]["statusInfo"]
        .as_str()
        .unwrap_or("")
        .contains("redelivery of event"));

    // An event of another webhook, or no such event: not found; a stranger: forbidden.
    let other = w
        .webhook("http://127.0.0.1:9/other", &["commit_create"], None)
        .await;
    let r = s
        .gql(
            Some(&w.owner.token),
            REDELIVER,
            json!({ "e": { "id": original["id"], "webhookId": other, "streamId": w.stream } }),
        )
        .await;
    assert_eq!(code(&r), "WEBHOOK_EVENT_NOT_FOUND", "{r}");
    let r = s
        .gql(
            Some(&w.owner.token),
            REDELIVER,
            json!({ "e": { "id": "abc", "webhookId": hook, "streamId": w.stream } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "not an event id: {r}");
    let r = s
        .gql(
            Some(&w.other.token),
            REDELIVER,
            json!({ "e": { "id": original["id"], "webhookId": hook, "streamId": w.stream } }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN");
    assert_eq!(s.history(&w.owner, &w.stream, &hook, 10).await.len(), 2);
    w.server.shutdown().await;
}
