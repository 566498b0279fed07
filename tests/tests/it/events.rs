//! Backend changes queue their webhook events in the same transaction, with the payload seeds
//! 000/001 describe. Each trigger is exercised through GraphQL and its queued payload read back
//! from `history { items { payload } }` and checked field by field. The dispatcher is off here so
//! the rows stay as queued.

use serde_json::{json, Value};
use streamhooks_api::testkit::TestUser;
use streamhooks_worker::triggers::TRIGGERS;

use crate::support::{code, grant, quiet_world, World, UPDATE};

/// A webhook on every trigger, with a secret that must never appear in a payload.
async fn all_triggers_hook(w: &World) -> String {
    w.server
        .create_webhook(
            &w.owner,
            &w.stream,
            "https://example.com/all",
            &TRIGGERS,
            Some("never-in-payload"),
        )
        .await
}

async fn payloads(w: &World, hook: &str) -> Vec<Value> {
    w.server
        .history(&w.owner, &w.stream, hook, 100)
        .await
        .iter()
        .map(|e| {
            let raw = e["payload"].as_str().unwrap_or("{}");
            assert!(!raw.contains("never-in-payload"), "secret leaked: {raw}");
            assert!(!raw.contains("@example.com"), "email leaked: {raw}");
            serde_json::from_str(raw).unwrap_or_else(|e| panic!("payload is not JSON: {e}: {raw}"))
        })
        .collect()
}

/// The newest payload, checked for the fields every payload has.
async fn latest(w: &World, hook: &str, event: &str, user: &TestUser) -> Value {
    let all = payloads(w, hook).await;
    let p = all
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no event queued for {event}"));
    assert_eq!(p["event"]["event_name"], json!(event));
    assert_eq!(p["streamId"], json!(w.stream));
    assert_eq!(p["userId"], json!(user.id));
    assert!(p["activityMessage"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(p["server"]["name"], json!("streamhooks"));
    // CANONICAL_URL is unset: the address the server listens on.
    assert_eq!(p["server"]["canonicalUrl"], json!(w.server.url()));
    assert!(p["server"]["version"].is_string());
    assert_eq!(p["stream"]["id"], json!(w.stream));
    assert!(p["stream"]["name"].is_string());
    assert!(p["stream"]["createdAt"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(p["user"]["id"], json!(user.id));
    assert!(p["user"].get("email").is_none());
    assert_eq!(p["webhook"]["id"], json!(hook));
    assert_eq!(p["webhook"]["streamId"], json!(w.stream));
    assert_eq!(p["webhook"]["url"], json!("https://example.com/all"));
    assert_eq!(p["webhook"]["triggers"], json!(TRIGGERS));
    assert!(p["webhook"].get("secret").is_none());
    p
}

async fn ok(w: &World, query: &str, vars: Value) -> Value {
    w.server.gql_ok(&w.owner.token, query, vars).await
}

#[tokio::test]
async fn stream_update_carries_old_and_new() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    ok(
        &w,
        "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
        json!({ "s": { "id": w.stream, "description": "revit model", "isPublic": false } }),
    )
    .await;
    let p = latest(&w, &hook, "stream_update", &w.owner).await;
    assert_eq!(p["activityMessage"], json!("Stream metadata changed"));
    let (old, new) = (&p["event"]["data"]["old"], &p["event"]["data"]["new"]);
    assert_eq!(old["id"], json!(w.stream));
    assert_eq!(old["name"], json!("Golden Nugget 🌻"));
    assert_eq!(old["description"], json!(null));
    assert_eq!(old["isPublic"], json!(true));
    assert_eq!(old["clonedFrom"], json!(null));
    assert_eq!(new["name"], json!("Golden Nugget 🌻"));
    assert_eq!(new["description"], json!("revit model"));
    assert_eq!(new["isPublic"], json!(false));
    assert_eq!(
        p["stream"]["description"],
        json!("revit model"),
        "stream shows the new state"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn branch_events_carry_the_branch() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    let id = ok(
        &w,
        "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
        json!({ "b": { "streamId": w.stream, "name": "Design/Options", "description": "d" } }),
    )
    .await["branchCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let p = latest(&w, &hook, "branch_create", &w.owner).await;
    assert_eq!(p["event"]["data"]["branch"]["id"], json!(id));
    assert_eq!(
        p["event"]["data"]["branch"]["name"],
        json!("design/options")
    );
    assert_eq!(
        p["activityMessage"],
        json!("Branch created: design/options")
    );

    ok(
        &w,
        "mutation($b: BranchUpdateInput!) { branchUpdate(branch: $b) }",
        json!({ "b": { "streamId": w.stream, "id": id, "description": "e" } }),
    )
    .await;
    let p = latest(&w, &hook, "branch_update", &w.owner).await;
    assert_eq!(p["event"]["data"]["old"]["description"], json!("d"));
    assert_eq!(p["event"]["data"]["new"]["description"], json!("e"));
    assert_eq!(p["event"]["data"]["new"]["name"], json!("design/options"));

    ok(
        &w,
        "mutation($b: BranchDeleteInput!) { branchDelete(branch: $b) }",
        json!({ "b": { "streamId": w.stream, "id": id } }),
    )
    .await;
    let p = latest(&w, &hook, "branch_delete", &w.owner).await;
    assert_eq!(p["event"]["data"]["branch"]["id"], json!(id));
    assert_eq!(payloads(&w, &hook).await.len(), 3);
    w.server.shutdown().await;
}

#[tokio::test]
async fn commit_events_carry_the_commit() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    let id = ok(
        &w,
        "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
        json!({ "c": { "streamId": w.stream, "branchName": "main", "objectId": "obj123", "message": "first", "sourceApplication": "Revit", "totalChildrenCount": 7, "parents": [] } }),
    )
    .await["commitCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let p = latest(&w, &hook, "commit_create", &w.owner).await;
    let d = &p["event"]["data"];
    assert_eq!(d["id"], json!(id));
    assert_eq!(d["commit"]["id"], json!(id));
    assert_eq!(d["commit"]["objectId"], json!("obj123"));
    assert_eq!(d["commit"]["message"], json!("first"));
    assert_eq!(d["commit"]["branchName"], json!("main"));
    assert_eq!(d["commit"]["sourceApplication"], json!("Revit"));
    assert_eq!(d["commit"]["totalChildrenCount"], json!(7));
    assert_eq!(
        p["activityMessage"],
        json!(format!("Commit created on branch main: {id} (first)"))
    );

    ok(
        &w,
        "mutation($c: CommitUpdateInput!) { commitUpdate(commit: $c) }",
        json!({ "c": { "streamId": w.stream, "id": id, "message": "second" } }),
    )
    .await;
    let p = latest(&w, &hook, "commit_update", &w.owner).await;
    assert_eq!(p["event"]["data"]["old"]["message"], json!("first"));
    assert_eq!(p["event"]["data"]["new"]["message"], json!("second"));

    // Receiving needs only a role: a reviewer's receive is attributed to the reviewer.
    grant(&w, &w.stream, &w.other, "stream:reviewer").await;
    w.server
        .gql_ok(&w.other.token, "mutation($i: CommitReceivedInput!) { commitReceive(input: $i) }", json!({ "i": { "streamId": w.stream, "commitId": id, "sourceApplication": "Rhino", "message": "loaded" } }))
        .await;
    let p = latest(&w, &hook, "commit_receive", &w.other).await;
    assert_eq!(p["event"]["data"]["id"], json!(id));
    assert_eq!(p["event"]["data"]["sourceApplication"], json!("Rhino"));
    assert_eq!(p["event"]["data"]["message"], json!("loaded"));
    assert_eq!(p["user"]["name"], json!("Other Otto"));

    ok(
        &w,
        "mutation($c: CommitDeleteInput!) { commitDelete(commit: $c) }",
        json!({ "c": { "streamId": w.stream, "id": id } }),
    )
    .await;
    let p = latest(&w, &hook, "commit_delete", &w.owner).await;
    assert_eq!(p["event"]["data"]["commit"]["id"], json!(id));
    w.server.shutdown().await;
}

#[tokio::test]
async fn permission_events_name_the_target_user_and_role() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    grant(&w, &w.stream, &w.other, "stream:contributor").await;
    let p = latest(&w, &hook, "stream_permissions_add", &w.owner).await;
    assert_eq!(
        p["event"]["data"],
        json!({ "targetUser": w.other.id, "role": "stream:contributor" })
    );
    ok(&w, "mutation($p: StreamRevokePermissionInput!) { streamRevokePermission(permissionParams: $p) }", json!({ "p": { "streamId": w.stream, "userId": w.other.id } })).await;
    let p = latest(&w, &hook, "stream_permissions_remove", &w.owner).await;
    assert_eq!(
        p["event"]["data"],
        json!({ "targetUser": w.other.id, "role": "stream:contributor" })
    );
    // The last owner cannot be removed, and that queues nothing.
    let before = payloads(&w, &hook).await.len();
    let r = w
        .server
        .gql(Some(&w.owner.token), "mutation($p: StreamRevokePermissionInput!) { streamRevokePermission(permissionParams: $p) }", json!({ "p": { "streamId": w.stream, "userId": w.owner.id } }))
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(payloads(&w, &hook).await.len(), before);
    w.server.shutdown().await;
}

#[tokio::test]
async fn stream_delete_is_queued_and_outlives_the_stream() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    ok(
        &w,
        "mutation($id: String!) { streamDelete(id: $id) }",
        json!({ "id": w.stream }),
    )
    .await;
    // The stream is gone, so read the row straight from the outbox table.
    use entity::webhook_event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = webhook_event::Entity::find()
        .filter(webhook_event::Column::WebhookId.eq(&hook))
        .all(&w.server.running.state.db)
        .await
        .unwrap_or_else(|e| panic!("read outbox: {e}"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, webhook_event::STATUS_QUEUED);
    let payload = entity::webhook_event_payload::Entity::find_by_id(rows[0].id)
        .one(&w.server.running.state.db)
        .await
        .unwrap_or_else(|e| panic!("read payload: {e}"))
        .map(|p| p.payload)
        .unwrap_or_default();
    let p: Value = serde_json::from_str(&payload).unwrap_or_default();
    assert_eq!(p["event"]["event_name"], json!("stream_delete"));
    assert_eq!(p["event"]["data"]["stream"]["id"], json!(w.stream));
    assert_eq!(p["stream"]["name"], json!("Golden Nugget 🌻"));
    assert_eq!(p["activityMessage"], json!("Stream deleted"));
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "query($s: String!) { stream(id: $s) { id } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(code(&r), "STREAM_NOT_FOUND");
    w.server.shutdown().await;
}

#[tokio::test]
async fn failed_changes_disabled_and_unsubscribed_webhooks_queue_nothing() {
    let w = quiet_world().await;
    let all = all_triggers_hook(&w).await;
    let commits_only = w
        .webhook("https://example.com/c", &["commit_create"], None)
        .await;
    let disabled = w
        .server
        .create_webhook(
            &w.owner,
            &w.stream,
            "https://example.com/d",
            &TRIGGERS,
            None,
        )
        .await;
    ok(
        &w,
        UPDATE,
        json!({ "w": { "id": disabled, "streamId": w.stream, "enabled": false } }),
    )
    .await;

    // A commit on a branch that does not exist fails and queues nothing.
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
            json!({ "c": { "streamId": w.stream, "branchName": "nope", "objectId": "o" } }),
        )
        .await;
    assert_eq!(code(&r), "BRANCH_NOT_FOUND", "{r}");
    // A contributor-only mutation by a stranger fails and queues nothing.
    let r = w
        .server
        .gql(
            Some(&w.other.token),
            "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
            json!({ "b": { "streamId": w.stream, "name": "x" } }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN");
    assert!(payloads(&w, &all).await.is_empty());

    // A stream update reaches the all-triggers hook only.
    ok(
        &w,
        "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
        json!({ "s": { "id": w.stream, "name": "renamed" } }),
    )
    .await;
    assert_eq!(payloads(&w, &all).await.len(), 1);
    assert!(
        payloads(&w, &commits_only).await.is_empty(),
        "not subscribed to stream_update"
    );
    assert!(payloads(&w, &disabled).await.is_empty(), "disabled");
    // A commit reaches both enabled hooks with the same event, each with its own webhook object.
    ok(
        &w,
        "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
        json!({ "c": { "streamId": w.stream, "branchName": "main", "objectId": "o" } }),
    )
    .await;
    let a = payloads(&w, &all).await;
    let c = payloads(&w, &commits_only).await;
    assert_eq!((a.len(), c.len()), (2, 1));
    assert_eq!(a[0]["event"], c[0]["event"]);
    assert_eq!(c[0]["webhook"]["id"], json!(commits_only));
    assert!(payloads(&w, &disabled).await.is_empty());
    w.server.shutdown().await;
}

#[tokio::test]
async fn unicode_names_arrive_byte_for_byte() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    let name = "Ünïcødé 🌻🏗️ 設計モデル \"quoted\" back\\slash\nnew line\ttab 👩‍👩‍👧";
    let description = "Ça va? \u{202e}rtl \u{1F600} \\\\ \"\" \r\n end \u{7f}";
    ok(
        &w,
        "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
        json!({ "s": { "id": w.stream, "name": name, "description": description } }),
    )
    .await;
    let p = latest(&w, &hook, "stream_update", &w.owner).await;
    assert_eq!(p["stream"]["name"].as_str(), Some(name));
    assert_eq!(p["stream"]["description"].as_str(), Some(description));
    assert_eq!(p["event"]["data"]["new"]["name"].as_str(), Some(name));
    assert_eq!(
        p["event"]["data"]["old"]["name"].as_str(),
        Some("Golden Nugget 🌻")
    );
    // U+0000 cannot be stored by PostgreSQL, so it is refused on every backend, queuing nothing.
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
            json!({ "s": { "id": w.stream, "description": "a\u{0000}b" } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(payloads(&w, &hook).await.len(), 1);
    w.server.shutdown().await;
}

#[tokio::test]
async fn admins_ingest_events_from_another_backend() {
    let w = quiet_world().await;
    let hook = all_triggers_hook(&w).await;
    let admin = w.server.create_admin("Ad Min", "admin@example.com").await;
    let post = |token: Option<String>, body: Value| {
        let url = format!("{}/api/events", w.server.url());
        async move {
            let mut req = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let resp = req.send().await.unwrap_or_else(|e| panic!("POST: {e}"));
            let status = resp.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&resp.text().await.unwrap_or_default())
                    .unwrap_or_default(),
            )
        }
    };
    let event = json!({ "streamId": w.stream, "userId": w.owner.id, "event": "commit_create", "data": { "id": "ext1", "commit": { "message": "from elsewhere ✓" } } });
    let (status, body) = post(Some(admin.token.clone()), event.clone()).await;
    assert_eq!((status, body), (202, json!({ "queued": 1 })));
    let p = latest(&w, &hook, "commit_create", &w.owner).await;
    assert_eq!(
        p["event"]["data"]["commit"]["message"],
        json!("from elsewhere ✓")
    );
    assert_eq!(p["user"]["name"], json!("Owner Olga"));

    // A stream this server does not hold, described by the caller.
    let foreign = json!({ "streamId": "ext-stream", "userId": "ext-user", "event": "stream_update", "data": {}, "stream": { "id": "ext-stream", "name": "Elsewhere" }, "user": { "id": "ext-user", "name": "Eve" } });
    let (status, body) = post(Some(admin.token.clone()), foreign).await;
    assert_eq!(
        (status, body),
        (202, json!({ "queued": 0 })),
        "no webhooks on that stream"
    );

    assert_eq!(
        post(Some(w.owner.token.clone()), event.clone()).await.0,
        403,
        "not an admin"
    );
    assert_eq!(post(None, event.clone()).await.0, 401);
    let (status, body) = post(
        Some(admin.token.clone()),
        json!({ "streamId": w.stream, "userId": "u", "event": "stream_explode" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap_or("")
        .contains("unknown event"));
    let (status, _) = post(Some(admin.token.clone()), json!({ "streamId": w.stream })).await;
    assert_eq!(status, 400);
    assert_eq!(
        payloads(&w, &hook).await.len(),
        1,
        "refused events queue nothing"
    );
    w.server.shutdown().await;
}

/// `server.canonicalUrl` is `CANONICAL_URL` when it is set, in payloads and `serverInfo` alike
/// (e.g. the public URL of a proxy in front; a trailing slash is kept as given).
#[tokio::test]
async fn a_configured_canonical_url_is_what_payloads_and_server_info_say() {
    let public = "https://hooks.example.com/";
    let w = crate::support::world_on(
        streamhooks_api::testkit::TestServer::start_with(
            &["--canonical-url", public, "--allow-local-network", "true"],
            false,
        )
        .await,
    )
    .await;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    w.update_stream(json!({ "description": "x" })).await;
    let history = w.server.history(&w.owner, &w.stream, &hook, 1).await;
    let payload: Value = serde_json::from_str(history[0]["payload"].as_str().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(payload["server"]["canonicalUrl"], json!(public));
    let info = w
        .server
        .gql_ok(&w.owner.token, "{ serverInfo { canonicalUrl } }", json!({}))
        .await;
    assert_eq!(info["serverInfo"]["canonicalUrl"], json!(public));
    w.server.shutdown().await;
}
