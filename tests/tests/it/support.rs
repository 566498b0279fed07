//! Shared set-up for the suite: a server with two users and a stream (a [`World`]), its webhooks
//! and changes, and small readers for GraphQL error codes and database counts. What a project
//! testing against streamhooks would want too lives in the test kit instead
//! (`streamhooks_api::testkit`).

use serde_json::{json, Value};
use streamhooks_api::testkit::{hmac_hex, Received, TestServer, TestUser, TEST_ARGS};

pub struct World {
    pub server: TestServer,
    pub owner: TestUser,
    pub other: TestUser,
    pub stream: String,
}

/// A server with the dispatcher running, two users and a stream.
pub async fn world() -> World {
    world_on(TestServer::start().await).await
}

/// The same without the dispatcher, so queued events stay exactly as queued.
pub async fn quiet_world() -> World {
    world_on(TestServer::start_with(&TEST_ARGS, false).await).await
}

impl World {
    /// A webhook of the owner's on the world's stream; returns its id.
    pub async fn webhook(&self, url: &str, triggers: &[&str], secret: Option<&str>) -> String {
        self.server
            .create_webhook(&self.owner, &self.stream, url, triggers, secret)
            .await
    }

    /// `webhookUpdate` of one of the world's webhooks by its owner.
    pub async fn update_webhook(&self, webhook_id: &str, changes: Value) {
        self.server
            .update_webhook(&self.owner, &self.stream, webhook_id, changes)
            .await;
    }

    /// A change to the world's stream by its owner, firing `stream_update`.
    pub async fn update_stream(&self, changes: Value) {
        self.server
            .update_stream(&self.owner, &self.stream, changes)
            .await;
    }
}

/// Two users and a stream on a server a test started its own way.
pub async fn world_on(server: TestServer) -> World {
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let other = server.create_user("Other Otto", "otto@example.com").await;
    let stream = server.create_stream(&owner, "Golden Nugget 🌻").await;
    World {
        server,
        owner,
        other,
        stream,
    }
}

/// The single number `sql` (e.g. `SELECT COUNT(*) FROM webhooks_queue`) answers on the server's
/// database.
pub async fn count(server: &TestServer, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &server.running.state.db;
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or_else(|| panic!("{sql}: no answer"))
}

/// The payload object of a delivery whose `X-WEBHOOK-SIGNATURE` verifies with `secret`, checked
/// with the test kit's `hmac_hex`, never with the server's signing code.
pub fn verified_payload(req: &Received, secret: &str) -> Value {
    let payload = req
        .payload_string()
        .unwrap_or_else(|| panic!("not double-encoded: {req:?}"));
    assert_eq!(
        req.header("x-webhook-signature"),
        Some(hmac_hex(secret, &payload).as_str()),
        "signature of {payload}"
    );
    serde_json::from_str(&payload)
        .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {payload}"))
}

/// `extensions.code` of the first error, or "" if there is none.
pub fn code(resp: &Value) -> String {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

pub fn message(resp: &Value) -> String {
    resp["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

pub const CREATE: &str = "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }";
pub const UPDATE: &str = "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }";
pub const DELETE: &str = "mutation($w: WebhookDeleteInput!) { webhookDelete(webhook: $w) }";
pub const LIST: &str = "query($s: String!, $id: String) { stream(id: $s) { webhooks(id: $id) { totalCount items { id streamId projectId url description triggers enabled hasSecret disabledReason } } } }";

/// The stream's webhooks as the owner sees them.
pub async fn list(w: &World, stream: &str) -> Vec<Value> {
    let d = w
        .server
        .gql_ok(&w.owner.token, LIST, json!({ "s": stream }))
        .await;
    d["stream"]["webhooks"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Grants `user` a role on `stream` through the API.
pub async fn grant(w: &World, stream: &str, user: &TestUser, role: &str) {
    w.server
        .gql_ok(
            &w.owner.token,
            "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }",
            json!({ "p": { "streamId": stream, "userId": user.id, "role": role } }),
        )
        .await;
}
