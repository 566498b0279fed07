//! Bad input is refused with `BAD_USER_INPUT`, a message that says what is wrong, and nothing
//! stored — on create and on update.

use serde_json::{json, Value};

use crate::support::{code, list, message, world, CREATE, UPDATE};

fn bad_inputs(stream: &str) -> Vec<(&'static str, Value, &'static str)> {
    let base = |over: Value| {
        let mut w = json!({ "streamId": stream, "url": "https://example.com/hook", "triggers": ["stream_update"] });
        if let (Some(o), Some(m)) = (over.as_object(), w.as_object_mut()) {
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
        }
        json!({ "w": w })
    };
    vec![
        (
            "not a URL",
            base(json!({ "url": "not a url" })),
            "absolute URL",
        ),
        (
            "relative URL",
            base(json!({ "url": "/hooks/1" })),
            "absolute URL",
        ),
        (
            "ftp scheme",
            base(json!({ "url": "ftp://example.com/x" })),
            "http or https",
        ),
        (
            "javascript scheme",
            base(json!({ "url": "javascript:alert(1)" })),
            "http or https",
        ),
        (
            "credentials in URL",
            base(json!({ "url": "https://u:p@example.com/" })),
            "credentials",
        ),
        (
            "over-long URL",
            base(json!({ "url": format!("https://example.com/{}", "a".repeat(2100)) })),
            "too long",
        ),
        (
            "empty triggers",
            base(json!({ "triggers": [] })),
            "at least one trigger",
        ),
        (
            "unknown trigger",
            base(json!({ "triggers": ["stream_update", "stream_explode"] })),
            "Unknown trigger",
        ),
        (
            "over-long description",
            base(json!({ "description": "d".repeat(1025) })),
            "description is too long",
        ),
        (
            "over-long secret",
            base(json!({ "secret": "s".repeat(257) })),
            "secret is too long",
        ),
    ]
}

#[tokio::test]
async fn every_bad_create_is_refused_and_stores_nothing() {
    let w = world().await;
    for (what, vars, expect) in bad_inputs(&w.stream) {
        let r = w.server.gql(Some(&w.owner.token), CREATE, vars).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert!(
            message(&r).contains(expect),
            "{what}: {:?} lacks {expect:?}",
            message(&r)
        );
        assert!(
            list(&w, &w.stream).await.is_empty(),
            "{what} stored a webhook"
        );
    }
    // The limits are inclusive: exactly at the limit is fine, and unicode counts characters.
    let ok = w
        .server
        .gql(
            Some(&w.owner.token),
            CREATE,
            json!({ "w": { "streamId": w.stream, "url": "https://example.com/ok", "triggers": ["stream_update", "stream_update"], "description": "é".repeat(1024), "secret": "🔑".repeat(256) } }),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let hooks = list(&w, &w.stream).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0]["triggers"],
        json!(["stream_update"]),
        "duplicates collapse"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn every_bad_update_is_refused_and_changes_nothing() {
    let w = world().await;
    let id = w
        .server
        .create_webhook(
            &w.owner,
            &w.stream,
            "https://example.com/keep",
            &["commit_create"],
            Some("k"),
        )
        .await;
    let before = list(&w, &w.stream).await;
    for (what, vars, expect) in bad_inputs(&w.stream) {
        let mut vars = vars;
        vars["w"]["id"] = json!(id);
        let r = w.server.gql(Some(&w.owner.token), UPDATE, vars).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{what}: {r}");
        assert!(message(&r).contains(expect), "{what}: {:?}", message(&r));
        assert_eq!(
            list(&w, &w.stream).await,
            before,
            "{what} changed the webhook"
        );
    }
    w.server.shutdown().await;
}
