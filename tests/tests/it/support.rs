//! Shared set-up for the suite: a server with two users and a stream, and small readers for
//! GraphQL error codes.

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TestUser, TEST_ARGS};

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

async fn world_on(server: TestServer) -> World {
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
