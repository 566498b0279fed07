//! Limits that keep one stream or one client from hurting the server: 100 webhooks per stream
//! under concurrency, query depth and size, and the request body size.

use serde_json::json;

use crate::support::{code, list, message, world, CREATE};

#[tokio::test]
async fn concurrent_creates_stop_at_exactly_one_hundred() {
    let w = world().await;
    let server = std::sync::Arc::new(w.server);
    let mut tasks = Vec::new();
    for i in 0..120 {
        let s = server.clone();
        let token = w.owner.token.clone();
        let stream = w.stream.clone();
        tasks.push(tokio::spawn(async move {
            s.gql(
                Some(&token),
                CREATE,
                json!({ "w": { "streamId": stream, "url": format!("https://example.com/{i}"), "triggers": ["commit_create"] } }),
            )
            .await
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("task: {e}"));
        if r["errors"].is_null() {
            ok += 1;
        } else {
            assert_eq!(
                message(&r),
                "Maximum number of webhooks for a stream reached (100)",
                "{r}"
            );
            refused += 1;
        }
    }
    assert_eq!((ok, refused), (100, 20));
    let d = server
        .gql_ok(
            &w.owner.token,
            "query($s: String!) { stream(id: $s) { webhooks { totalCount } } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(d["stream"]["webhooks"]["totalCount"], json!(100));
    // Another stream is not affected by this one's limit.
    let w2 = crate::support::World {
        server: std::sync::Arc::try_unwrap(server)
            .unwrap_or_else(|_| panic!("server still shared")),
        owner: w.owner,
        other: w.other,
        stream: w.stream,
    };
    let s2 = w2.server.create_stream(&w2.owner, "another").await;
    w2.server
        .create_webhook(
            &w2.owner,
            &s2,
            "https://example.com/y",
            &["commit_create"],
            None,
        )
        .await;
    assert_eq!(list(&w2, &s2).await.len(), 1);
    w2.server.shutdown().await;
}

#[tokio::test]
async fn hostile_queries_are_refused() {
    let w = world().await;
    let s = &w.server;
    // Depth: fields nested deeper than the limit are refused before they are even looked up
    // (introspection, whose nesting follows the schema, is not counted: see hostile.rs).
    let q = format!(
        "{{ {} id {} }}",
        "stream(id: \"x\") { ".repeat(15),
        "} ".repeat(15)
    );
    let r = s.gql(Some(&w.owner.token), &q, json!({})).await;
    assert!(message(&r).contains("nested too deep"), "{r}");

    // Size: many aliases of a list field, more fields than a document may hold.
    let mut q = String::from("query($s: String!) { ");
    for i in 0..700 {
        q.push_str(&format!(
            "a{i}: stream(id: $s) {{ id name description collaborators {{ id name role }} }} "
        ));
    }
    q.push('}');
    let r = s
        .gql(Some(&w.owner.token), &q, json!({ "s": w.stream }))
        .await;
    assert!(message(&r).contains("GRAPHQL_MAX_DOCUMENT_FIELDS"), "{r}");

    // Body size: a 2 MB body is refused before parsing.
    let big = format!(
        "{{\"query\":\"{{ serverInfo {{ name }} }}\",\"x\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", s.url()))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST: {e}"));
    assert_eq!(resp.status().as_u16(), 413);
    // The server is still fine.
    let r = s.gql(None, "{ serverInfo { name } }", json!({})).await;
    assert_eq!(r["data"]["serverInfo"]["name"], json!("streamhooks"));
    assert_eq!(code(&r), "");
    w.server.shutdown().await;
}
