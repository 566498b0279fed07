//! Who may manage webhooks: only a stream owner whose token has `streams:write`. A contributor, a
//! reviewer, a token with only `streams:read`, a stranger and an anonymous caller all get
//! `FORBIDDEN` for list, create, update and delete, and nothing changes.

use serde_json::json;

use crate::support::{code, grant, list, world, CREATE, DELETE, LIST, UPDATE};

#[tokio::test]
async fn only_owners_with_streams_write_manage_webhooks() {
    let w = world().await;
    let s = &w.server;
    let hook = w
        .webhook("https://example.com/hook", &["stream_update"], None)
        .await;

    let contributor = s.create_user("Con Tributor", "con@example.com").await;
    grant(&w, &w.stream, &contributor, "stream:contributor").await;
    let reviewer = s.create_user("Re Viewer", "rev@example.com").await;
    grant(&w, &w.stream, &reviewer, "stream:reviewer").await;
    let read_only = w.server.create_token(&w.owner, &["streams:read"]).await;
    assert_eq!(read_only.len(), 42);

    let callers: Vec<(&str, Option<String>)> = vec![
        ("contributor", Some(contributor.token.clone())),
        ("reviewer", Some(reviewer.token.clone())),
        ("owner without streams:write", Some(read_only.clone())),
        ("stranger", Some(w.other.token.clone())),
        ("anonymous", None),
        (
            "garbage token",
            Some("not-a-token-at-all-but-long-enough-to-split".into()),
        ),
    ];
    for (who, token) in &callers {
        let t = token.as_deref();
        let cases = [
            ("list", LIST, json!({ "s": w.stream })),
            (
                "create",
                CREATE,
                json!({ "w": { "streamId": w.stream, "url": "https://example.com/x", "triggers": ["stream_update"] } }),
            ),
            (
                "update",
                UPDATE,
                json!({ "w": { "id": hook, "streamId": w.stream, "url": "https://evil.example/" } }),
            ),
            (
                "delete",
                DELETE,
                json!({ "w": { "id": hook, "streamId": w.stream } }),
            ),
        ];
        for (what, q, vars) in cases {
            let r = s.gql(t, q, vars).await;
            assert_eq!(code(&r), "FORBIDDEN", "{who} {what}: {r}");
        }
    }
    // Nothing changed.
    let hooks = list(&w, &w.stream).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["url"], json!("https://example.com/hook"));

    // Promoting the contributor to owner lets them in.
    grant(&w, &w.stream, &contributor, "stream:owner").await;
    let r = s
        .gql(Some(&contributor.token), LIST, json!({ "s": w.stream }))
        .await;
    assert_eq!(
        r["data"]["stream"]["webhooks"]["totalCount"],
        json!(1),
        "{r}"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn token_scopes_cannot_exceed_the_creating_token() {
    let w = world().await;
    let s = &w.server;
    let ro = w
        .server
        .create_token(&w.owner, &["streams:read", "tokens:write"])
        .await;
    let r = s
        .gql(
            Some(&ro),
            "mutation { apiTokenCreate(token: { name: \"rw\", scopes: [\"streams:write\"] }) }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s
        .gql(
            Some(&w.owner.token),
            "mutation { apiTokenCreate(token: { name: \"x\", scopes: [\"root\"] }) }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    w.server.shutdown().await;
}
