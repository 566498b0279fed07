//! Text and numbers that could become internal errors, panics or silently different data:
//! U+0000 anywhere (PostgreSQL cannot store it), unbounded lengths, control characters in URLs,
//! event ids with more than one spelling, token lifespans that overflow.

use std::time::Duration;

use serde_json::{json, Value};

use super::{post, refused, within};
use crate::support::{list, quiet_world, CREATE, UPDATE};

const TEN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_huge_token_lifespan_is_bad_input_not_a_panic() {
    let w = quiet_world().await;
    let q = "mutation($t: ApiTokenCreateInput!) { apiTokenCreate(token: $t) }";
    for lifespan in [
        json!(9_007_199_254_740_992_i64),
        json!(i64::MAX),
        json!(-1),
        json!(0),
    ] {
        let vars =
            json!({ "t": { "name": "t", "scopes": ["streams:read"], "lifespan": lifespan } });
        let r = within(
            TEN,
            "apiTokenCreate",
            w.server.gql(Some(&w.owner.token), q, vars),
        )
        .await;
        refused(&r, "BAD_USER_INPUT", "lifespan");
    }
    // A year is fine, and the token it makes works.
    let d = w
        .server
        .gql_ok(
            &w.owner.token,
            q,
            json!({ "t": { "name": "t", "scopes": ["streams:read"], "lifespan": 31_536_000_000_i64 } }),
        )
        .await;
    let token = d["apiTokenCreate"].as_str().unwrap_or_default();
    let me = w
        .server
        .gql_ok(token, "{ activeUser { id } }", json!({}))
        .await;
    assert_eq!(me["activeUser"]["id"], json!(w.owner.id));
    w.server.shutdown().await;
}

#[tokio::test]
async fn nul_is_refused_everywhere_before_the_database_sees_it() {
    let w = quiet_world().await;
    let s = &w.server;
    let t = Some(w.owner.token.as_str());
    let nul = "a\u{0}b";
    let cases: Vec<(Option<&str>, &str, Value)> = vec![
        // Anonymous lookups: INTERNAL_SERVER_ERROR on PostgreSQL before.
        (None, "query($i: String!) { stream(id: $i) { id } }", json!({ "i": nul })),
        (None, "query($i: String!) { project(id: $i) { id } }", json!({ "i": nul })),
        (t, "query($i: String!) { stream(id: $i) { id } }", json!({ "i": nul })),
        (t, "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }", json!({ "s": { "id": nul, "name": "x" } })),
        (t, "query($s: String!, $i: String) { stream(id: $s) { webhooks(id: $i) { totalCount } } }", json!({ "s": w.stream, "i": nul })),
        (t, CREATE, json!({ "w": { "streamId": w.stream, "url": "https://example.com/a\u{0}b", "triggers": ["stream_update"] } })),
        (t, "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }", json!({ "c": { "streamId": w.stream, "branchName": "main", "objectId": "o", "parents": ["a\u{0}"] } })),
        (t, "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }", json!({ "p": { "streamId": w.stream, "userId": nul, "role": "stream:reviewer" } })),
        (t, "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }", json!({ "b": { "streamId": w.stream, "name": nul } })),
    ];
    for (token, q, vars) in cases {
        let r = within(TEN, q, s.gql(token, q, vars)).await;
        refused(&r, "BAD_USER_INPUT", "U+0000");
    }
    assert!(list(&w, &w.stream).await.is_empty(), "no webhook stored");
    // The ingest endpoint: a 400 with a sentence, not a 500.
    let admin = s.create_admin("Ad Min", "admin@example.com").await;
    let a = post(
        &format!("{}/api/events", s.url()),
        Some(&admin.token),
        json!({ "streamId": nul, "userId": w.owner.id, "event": "stream_update" }).to_string(),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.json()["error"].as_str().unwrap_or("").contains("U+0000"),
        "{}",
        a.text
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn every_list_and_string_a_user_sends_has_a_limit() {
    let w = quiet_world().await;
    let hook = w
        .webhook(
            "https://example.com/h",
            &["commit_create", "commit_receive"],
            None,
        )
        .await;
    let commit = |extra: Value| {
        let mut c = json!({ "streamId": w.stream, "branchName": "main", "objectId": "o1" });
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        json!({ "c": c })
    };
    let create = "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }";
    let long = "p".repeat(300_000);
    for (what, vars, words) in [
        (
            "sourceApplication",
            commit(json!({ "sourceApplication": "R".repeat(257) })),
            "sourceApplication is too long",
        ),
        (
            "10,000 parents",
            commit(json!({ "parents": vec!["c0ffee1234"; 10_000] })),
            "Too many parents",
        ),
        (
            "a 300,000-character parent",
            commit(json!({ "parents": [long] })),
            "too long to be an id",
        ),
        (
            "message",
            commit(json!({ "message": "m".repeat(65_537) })),
            "commit message is too long",
        ),
    ] {
        let r = within(TEN, what, w.server.gql(Some(&w.owner.token), create, vars)).await;
        let m = refused(&r, "BAD_USER_INPUT", words);
        assert!(
            m.len() < 300,
            "{what}: the refusal must not echo the input ({} bytes)",
            m.len()
        );
    }
    let id = w
        .server
        .gql_ok(&w.owner.token, create, commit(json!({})))
        .await["commitCreate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let receive = "mutation($i: CommitReceivedInput!) { commitReceive(input: $i) }";
    for (field, value) in [
        ("message", "m".repeat(65_537)),
        ("sourceApplication", "R".repeat(257)),
    ] {
        let mut input =
            json!({ "streamId": w.stream, "commitId": id, "sourceApplication": "Rhino" });
        input[field] = json!(value);
        let r = w
            .server
            .gql(Some(&w.owner.token), receive, json!({ "i": input }))
            .await;
        refused(&r, "BAD_USER_INPUT", "too long");
    }
    let r = w
        .server
        .gql(Some(&w.owner.token), UPDATE, json!({ "w": { "id": hook, "streamId": w.stream, "triggers": vec!["commit_create"; 10_000] } }))
        .await;
    refused(&r, "BAD_USER_INPUT", "Too many triggers");
    let events = w.server.history(&w.owner, &w.stream, &hook, 100).await;
    assert_eq!(events.len(), 1, "only the accepted commit queued an event");
    w.server.shutdown().await;
}

#[tokio::test]
async fn urls_with_control_characters_are_refused_not_normalised() {
    let w = quiet_world().await;
    for url in [
        "https://example.com/a\r\nX-Injected: 1",
        "https://example.com/\nhook",
        "https://exa\tmple.com/hook",
        "https://example.com/hook\u{7f}",
    ] {
        let vars =
            json!({ "w": { "streamId": w.stream, "url": url, "triggers": ["stream_update"] } });
        let r = within(TEN, url, w.server.gql(Some(&w.owner.token), CREATE, vars)).await;
        refused(&r, "BAD_USER_INPUT", "control characters");
    }
    assert!(list(&w, &w.stream).await.is_empty());
    let hook = w
        .webhook("https://example.com/ok", &["stream_update"], None)
        .await;
    let vars =
        json!({ "w": { "id": hook, "streamId": w.stream, "url": "https://example.com/\r\n" } });
    let r = w.server.gql(Some(&w.owner.token), UPDATE, vars).await;
    refused(&r, "BAD_USER_INPUT", "control characters");
    assert_eq!(
        list(&w, &w.stream).await[0]["url"],
        json!("https://example.com/ok")
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn an_event_id_has_one_spelling() {
    let w = quiet_world().await;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    let ping = "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }";
    let id = w
        .server
        .gql_ok(
            &w.owner.token,
            ping,
            json!({ "w": { "id": hook, "streamId": w.stream } }),
        )
        .await["webhookPing"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let redeliver =
        "mutation($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }";
    for spelling in [
        format!(" {id} "),
        format!("+{id}"),
        format!("0x{id}"),
        format!("{id}.0"),
        format!("{id}\u{0}"),
    ] {
        let vars = json!({ "e": { "id": spelling, "webhookId": hook, "streamId": w.stream } });
        let r = within(
            TEN,
            "redeliver",
            w.server.gql(Some(&w.owner.token), redeliver, vars),
        )
        .await;
        refused(&r, "BAD_USER_INPUT", "not an event id");
    }
    let vars = json!({ "e": { "id": id, "webhookId": hook, "streamId": w.stream } });
    w.server.gql_ok(&w.owner.token, redeliver, vars).await;
    assert_eq!(
        w.server.history(&w.owner, &w.stream, &hook, 10).await.len(),
        2
    );
    w.server.shutdown().await;
}
