//! The webhook API as an owner uses it: create, read back, partial update, the write-only secret,
//! delete, newest-first history, and the stream/project/activeUser/serverInfo queries around it.

use serde_json::json;

use crate::support::{code, list, message, world, DELETE, LIST, UPDATE};

#[tokio::test]
async fn create_read_update_delete_round_trip() {
    let w = world().await;
    let s = &w.server;
    let id = w
        .webhook(
            "https://example.com/hook",
            &["commit_create", "stream_update"],
            Some("s3cr3t"),
        )
        .await;
    assert_eq!(id.len(), 10);

    let hooks = list(&w, &w.stream).await;
    assert_eq!(hooks.len(), 1);
    let h = &hooks[0];
    assert_eq!(h["id"], json!(id));
    assert_eq!(h["streamId"], json!(w.stream));
    assert_eq!(h["projectId"], json!(w.stream));
    assert_eq!(h["url"], json!("https://example.com/hook"));
    assert_eq!(h["triggers"], json!(["commit_create", "stream_update"]));
    assert_eq!(h["enabled"], json!(true));
    assert_eq!(h["hasSecret"], json!(true));
    assert_eq!(h["disabledReason"], json!(null));

    // The secret is write-only: no field returns it, in any spelling.
    let r = s
        .gql(
            Some(&w.owner.token),
            "query($s: String!) { stream(id: $s) { webhooks { items { secret } } } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert!(message(&r).contains("Unknown field \"secret\""), "{r}");
    assert!(!r.to_string().contains("s3cr3t"));

    // Partial update: only the description changes; enabled (omitted) stays true.
    let r = s
        .gql_ok(
            &w.owner.token,
            UPDATE,
            json!({ "w": { "id": id, "streamId": w.stream, "description": "ünïcødé ✓" } }),
        )
        .await;
    assert_eq!(r["webhookUpdate"], json!(id));
    let h = &list(&w, &w.stream).await[0];
    assert_eq!(h["description"], json!("ünïcødé ✓"));
    assert_eq!(h["enabled"], json!(true));
    assert_eq!(h["url"], json!("https://example.com/hook"));
    assert_eq!(h["hasSecret"], json!(true));

    // Disable, then change triggers without mentioning enabled: it stays disabled.
    w.update_webhook(&id, json!({ "enabled": false })).await;
    w.update_webhook(&id, json!({ "triggers": ["branch_create"] }))
        .await;
    let h = &list(&w, &w.stream).await[0];
    assert_eq!(h["enabled"], json!(false));
    assert_eq!(h["triggers"], json!(["branch_create"]));

    // An empty secret clears it.
    w.update_webhook(&id, json!({ "secret": "" })).await;
    assert_eq!(list(&w, &w.stream).await[0]["hasSecret"], json!(false));

    let r = s
        .gql_ok(
            &w.owner.token,
            DELETE,
            json!({ "w": { "id": id, "streamId": w.stream } }),
        )
        .await;
    assert_eq!(r["webhookDelete"], json!(id));
    assert!(list(&w, &w.stream).await.is_empty());
    w.server.shutdown().await;
}

#[tokio::test]
async fn webhook_id_of_another_stream_is_refused_with_speckles_message() {
    let w = world().await;
    let s = &w.server;
    let other_stream = s.create_stream(&w.owner, "second").await;
    let foreign = s
        .create_webhook(
            &w.owner,
            &other_stream,
            "https://example.com/a",
            &["stream_update"],
            None,
        )
        .await;

    for (q, vars) in [
        (
            UPDATE,
            json!({ "w": { "id": foreign, "streamId": w.stream, "url": "https://evil.example/" } }),
        ),
        (
            DELETE,
            json!({ "w": { "id": foreign, "streamId": w.stream } }),
        ),
    ] {
        let r = s.gql(Some(&w.owner.token), q, vars).await;
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
        assert_eq!(
            message(&r),
            "The webhook id and stream id do not match. Please check your inputs."
        );
    }
    // Untouched.
    let hooks = list(&w, &other_stream).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["url"], json!("https://example.com/a"));

    // webhooks(id:) with another stream's webhook id: nothing, not an error.
    let d = s
        .gql_ok(
            &w.owner.token,
            LIST,
            json!({ "s": w.stream, "id": foreign }),
        )
        .await;
    assert_eq!(d["stream"]["webhooks"]["totalCount"], json!(0));
    assert_eq!(d["stream"]["webhooks"]["items"], json!([]));
    // …and the right stream finds it.
    let d = s
        .gql_ok(
            &w.owner.token,
            LIST,
            json!({ "s": other_stream, "id": foreign }),
        )
        .await;
    assert_eq!(d["stream"]["webhooks"]["items"][0]["id"], json!(foreign));
    w.server.shutdown().await;
}

#[tokio::test]
async fn history_is_newest_first_with_a_true_total() {
    let w = world().await;
    let s = &w.server;
    let id = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    for i in 0..3 {
        w.update_stream(json!({ "description": format!("v{i}") }))
            .await;
    }
    let d = s
        .gql_ok(
            &w.owner.token,
            "query($s: String!) { stream(id: $s) { webhooks { items { history(limit: 2) { totalCount items { id webhookId status retryCount statusInfo lastUpdate payload } } } } } }",
            json!({ "s": w.stream }),
        )
        .await;
    let h = &d["stream"]["webhooks"]["items"][0]["history"];
    assert_eq!(h["totalCount"], json!(3));
    let items = h["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["webhookId"], json!(id));
    let desc = |v: &serde_json::Value| -> String {
        let p: serde_json::Value =
            serde_json::from_str(v["payload"].as_str().unwrap_or("{}")).unwrap_or_default();
        p["event"]["data"]["new"]["description"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(desc(&items[0]), "v2", "newest first");
    assert_eq!(desc(&items[1]), "v1");
    let id0: i64 = items[0]["id"].as_str().unwrap_or("0").parse().unwrap_or(0);
    let id1: i64 = items[1]["id"].as_str().unwrap_or("0").parse().unwrap_or(0);
    assert!(id0 > id1);

    // A default limit of 25 and an out-of-range limit refused.
    let r = s
        .gql(
            Some(&w.owner.token),
            "query($s: String!) { stream(id: $s) { webhooks { items { history(limit: -1) { totalCount } } } } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    // `offset` pages on: the next page starts where the first ended, in the same order, with
    // the same total, whether asked through `webhooks` or by id.
    for by_id in [false, true] {
        let q = if by_id {
            "query($s: String!, $w: String) { stream(id: $s) { webhooks(id: $w) { items { history(limit: 2, offset: 2) { totalCount items { id payload } } } } } }"
        } else {
            "query($s: String!) { stream(id: $s) { webhooks { items { history(limit: 2, offset: 2) { totalCount items { id payload } } } } } }"
        };
        let d = s
            .gql_ok(&w.owner.token, q, json!({ "s": w.stream, "w": id }))
            .await;
        let h = &d["stream"]["webhooks"]["items"][0]["history"];
        assert_eq!(h["totalCount"], json!(3));
        let rest = h["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(rest.len(), 1, "one event left after two: {h}");
        assert_eq!(desc(&rest[0]), "v0");
    }
    for bad in [-1, 10_001] {
        let r = s
            .gql(
                Some(&w.owner.token),
                "query($s: String!, $o: Int!) { stream(id: $s) { webhooks { items { history(offset: $o) { totalCount } } } } }",
                json!({ "s": w.stream, "o": bad }),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "offset {bad}: {r}");
        assert!(
            r.to_string()
                .contains("history offset must be between 0 and 10000"),
            "{r}"
        );
    }
    w.server.shutdown().await;
}

#[tokio::test]
async fn stream_create_makes_main_branch_and_queries_answer() {
    let w = world().await;
    let s = &w.server;
    let d = s
        .gql_ok(
            &w.owner.token,
            "query($s: String!) { stream(id: $s) { id name role isPublic branches { totalCount items { name } } collaborators { id role } } project(id: $s) { id name webhooks { totalCount } } activeUser { id name email } serverInfo { name canonicalUrl version } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(d["stream"]["name"], json!("Golden Nugget 🌻"));
    assert_eq!(d["stream"]["role"], json!("stream:owner"));
    assert_eq!(
        d["stream"]["branches"]["items"],
        json!([{ "name": "main" }])
    );
    assert_eq!(
        d["stream"]["collaborators"],
        json!([{ "id": w.owner.id, "role": "stream:owner" }])
    );
    assert_eq!(d["project"]["id"], json!(w.stream));
    assert_eq!(d["project"]["webhooks"]["totalCount"], json!(0));
    assert_eq!(d["activeUser"]["id"], json!(w.owner.id));
    assert_eq!(d["activeUser"]["email"], json!("olga@example.com"));
    assert_eq!(d["serverInfo"]["name"], json!("streamhooks"));

    // A private stream is invisible to a stranger; an unknown one says so.
    w.update_stream(json!({ "isPublic": false })).await;
    let r = s
        .gql(
            Some(&w.other.token),
            "query($s: String!) { stream(id: $s) { id } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN");
    let r = s
        .gql(None, "{ stream(id: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(code(&r), "STREAM_NOT_FOUND");
    let r = s.gql(None, "{ activeUser { id } }", json!({})).await;
    assert_eq!(r["data"]["activeUser"], json!(null));
    w.server.shutdown().await;
}

#[tokio::test]
async fn graphiql_is_served_on_get() {
    let w = world().await;
    let resp = reqwest::get(format!("{}/graphql", w.server.url())).await;
    let resp = resp.unwrap_or_else(|e| panic!("GET /graphql: {e}"));
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap_or_default();
    assert!(html.to_lowercase().contains("graphiql"), "{html}");
    w.server.shutdown().await;
}
