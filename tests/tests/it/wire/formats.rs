//! `format` through GraphQL: chosen on create (or the server's `WEBHOOK_FORMAT`), read back as
//! `Webhook.format`, changed on update, refused with the valid names when unknown; and the body
//! is built at send time, so a redelivery of an event queued under one format goes out in the
//! webhook's current one.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{Received, TestReceiver, TestServer, TEST_ARGS};

use crate::support::{code, message, quiet_world, world, CREATE, UPDATE};

const FORMAT: &str =
    "query($s: String!, $id: String) { stream(id: $s) { webhooks(id: $id) { items { id format } } } }";

async fn format_of(server: &TestServer, token: &str, stream: &str, id: &str) -> Value {
    server
        .gql_ok(token, FORMAT, json!({ "s": stream, "id": id }))
        .await["stream"]["webhooks"]["items"][0]["format"]
        .clone()
}

fn create_vars(stream: &str, format: Option<&str>) -> Value {
    let mut w = json!({ "streamId": stream, "url": "https://example.com/hook", "triggers": ["stream_update"] });
    if let Some(f) = format {
        w["format"] = json!(f);
    }
    json!({ "w": w })
}

#[tokio::test]
async fn format_is_chosen_read_back_and_validated() {
    let w = quiet_world().await;
    let (s, t) = (&w.server, w.owner.token.as_str());
    let created = |v: Value| v["webhookCreate"].as_str().unwrap_or_default().to_owned();
    let default = created(s.gql_ok(t, CREATE, create_vars(&w.stream, None)).await);
    let object = created(
        s.gql_ok(t, CREATE, create_vars(&w.stream, Some("speckle-object")))
            .await,
    );
    assert_eq!(
        format_of(s, t, &w.stream, &default).await,
        json!("speckle-string")
    );
    assert_eq!(
        format_of(s, t, &w.stream, &object).await,
        json!("speckle-object")
    );

    for bad in ["json", "Speckle-Object", ""] {
        let r = s
            .gql(Some(t), CREATE, create_vars(&w.stream, Some(bad)))
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{bad:?}: {r}");
        assert_eq!(
            message(&r),
            format!(
                "Unknown webhook format {bad:?}; valid formats are: speckle-string, speckle-object"
            )
        );
        let r = s
            .gql(
                Some(t),
                UPDATE,
                json!({ "w": { "id": object, "streamId": w.stream, "format": bad, "description": "changed" } }),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{bad:?}: {r}");
    }
    // Nothing of the refused requests was stored.
    let all = s.gql_ok(t, FORMAT, json!({ "s": w.stream })).await["stream"]["webhooks"]["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(all, 2);
    assert_eq!(
        format_of(s, t, &w.stream, &object).await,
        json!("speckle-object")
    );

    // Update changes the format alone, and an update without it leaves it as it is.
    s.gql_ok(
        t,
        UPDATE,
        json!({ "w": { "id": default, "streamId": w.stream, "format": "speckle-object" } }),
    )
    .await;
    s.gql_ok(
        t,
        UPDATE,
        json!({ "w": { "id": default, "streamId": w.stream, "description": "d" } }),
    )
    .await;
    assert_eq!(
        format_of(s, t, &w.stream, &default).await,
        json!("speckle-object")
    );
    w.server.shutdown().await;

    // The server's default decides when the input says nothing.
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--webhook-format", "speckle-object"]);
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "Defaults").await;
    let t = owner.token.as_str();
    let id = created(server.gql_ok(t, CREATE, create_vars(&stream, None)).await);
    assert_eq!(
        format_of(&server, t, &stream, &id).await,
        json!("speckle-object")
    );
    let id = created(
        server
            .gql_ok(t, CREATE, create_vars(&stream, Some("speckle-string")))
            .await,
    );
    assert_eq!(
        format_of(&server, t, &stream, &id).await,
        json!("speckle-string")
    );
    server.shutdown().await;
}

/// The `payload` of a body and whether it was a string (`speckle-string`) or an object.
fn payload_of(r: &Received) -> (bool, Value) {
    let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    match &body["payload"] {
        Value::String(p) => (true, serde_json::from_str(p).unwrap_or_default()),
        other => (false, other.clone()),
    }
}

#[tokio::test]
async fn pings_and_redeliveries_use_the_webhooks_current_format() {
    let w = world().await;
    let (s, t) = (&w.server, w.owner.token.as_str());
    let receiver = TestReceiver::start().await;
    let mut vars = create_vars(&w.stream, None);
    vars["w"]["url"] = json!(receiver.url());
    vars["w"]["secret"] = json!("k");
    let hook = s.gql_ok(t, CREATE, vars).await["webhookCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ping = s
        .gql_ok(
            t,
            "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }",
            json!({ "w": { "id": hook, "streamId": w.stream } }),
        )
        .await["webhookPing"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first = receiver
        .next(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("ping not delivered"));
    let (was_string, sent) = payload_of(&first);
    assert!(was_string, "the default format");

    s.gql_ok(
        t,
        UPDATE,
        json!({ "w": { "id": hook, "streamId": w.stream, "format": "speckle-object" } }),
    )
    .await;
    s.gql_ok(
        t,
        "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }",
        json!({ "e": { "id": ping, "webhookId": hook, "streamId": w.stream } }),
    )
    .await;
    let again = receiver
        .next(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("redelivery not delivered"));
    let (is_string, resent) = payload_of(&again);
    assert!(!is_string, "redelivered in the webhook's new format");
    assert_eq!(resent, sent, "the same stored payload");
    assert_ne!(
        again.header("webhook-id"),
        first.header("webhook-id"),
        "a redelivery is a new delivery, with its own id"
    );
    w.server.shutdown().await;
}
