//! Documents that cost far more than their size: fragment fan-outs and chains, aliased pages,
//! and answers larger than the budget. Each refusal names where to shrink the query: the spread
//! that expands, the page whose limit multiplies, the field where the answer outgrew its budget.

use std::time::Duration;

use serde_json::json;
use streamhooks_api::testkit::{TestServer, TEST_ARGS};

use super::{refused, within};
use crate::support::{quiet_world, world, world_on, World};

/// The fan-out attack's 1 KB document: 25 fragments, each spreading the next twice (optionally
/// with an alias per level, which makes it worse).
fn fan_out(alias: bool) -> String {
    let mut q = String::from("query { ...F0 } ");
    for i in 0..24 {
        let a = if alias {
            format!("a{i}: __typename ")
        } else {
            String::new()
        };
        q.push_str(&format!(
            "fragment F{i} on Query {{ {a}...F{n} ...F{n} }} ",
            n = i + 1
        ));
    }
    q.push_str("fragment F24 on Query { __typename }");
    q
}

#[tokio::test]
async fn the_fragment_fan_out_is_refused_in_well_under_a_second() {
    let w = world().await;
    for alias in [false, true] {
        let q = fan_out(alias);
        assert!(q.len() < 1500, "{} bytes", q.len());
        // No token: anyone could send it.
        let r = within(
            Duration::from_secs(1),
            "fan-out",
            w.server.gql(None, &q, json!({})),
        )
        .await;
        let m = refused(&r, "BAD_USER_INPUT", "The document is too large");
        assert!(m.contains("GRAPHQL_MAX_DOCUMENT_FIELDS"), "{m}");
        assert!(
            m.contains("`the operation: ...F0`"),
            "names the spread: {m}"
        );
        assert!(r["data"].is_null(), "nothing executed: {r}");
    }
    let r = w
        .server
        .gql(None, "{ serverInfo { name } }", json!({}))
        .await;
    assert_eq!(r["data"]["serverInfo"]["name"], json!("streamhooks"));
    w.server.shutdown().await;
}

#[tokio::test]
async fn fragment_cycles_and_long_chains_are_refused_and_the_server_stays_up() {
    let w = world().await;
    // An unused chain of 20,000 fragments overflowed async-graphql's recursive cycle check and
    // aborted the process (840 KB, under the body limit).
    let mut q = String::from("{ __typename } ");
    for i in 0..20_000 {
        q.push_str(&format!("fragment F{i} on Query {{ ...F{} }} ", i + 1));
    }
    q.push_str("fragment F20000 on Query { __typename }");
    let r = within(
        Duration::from_secs(10),
        "chain",
        w.server.gql(None, &q, json!({})),
    )
    .await;
    refused(&r, "BAD_USER_INPUT", "nested more than 64 deep");
    let r = w
        .server
        .gql(
            None,
            "{ ...A } fragment A on Query { ...B } fragment B on Query { serverInfo { name } ...A }",
            json!({}),
        )
        .await;
    refused(&r, "BAD_USER_INPUT", "spreads itself");
    let r = w
        .server
        .gql(None, "{ serverInfo { name } }", json!({}))
        .await;
    assert_eq!(r["data"]["serverInfo"]["name"], json!("streamhooks"), "{r}");
    w.server.shutdown().await;
}

fn aliased_history(w: &World, hook: &str, aliases: usize, limit: u32, by_id: bool) -> String {
    let which = if by_id {
        format!("(id: \"{hook}\")")
    } else {
        String::new()
    };
    let mut q = String::from("{ ");
    for i in 0..aliases {
        q.push_str(&format!(
            "a{i}: stream(id: \"{}\") {{ webhooks{which} {{ items {{ history(limit: {limit}) {{ items {{ id status statusInfo payload }} }} }} }} }} ",
            w.stream
        ));
    }
    q.push('}');
    q
}

#[tokio::test]
async fn history_is_priced_by_the_nodes_its_pages_can_hold() {
    let w = quiet_world().await;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    // The flood: 8 aliases of every webhook's history(limit: 1000), refused before it runs.
    let q = aliased_history(&w, &hook, 8, 1000, false);
    let r = within(
        Duration::from_secs(1),
        "history flood",
        w.server.gql(Some(&w.owner.token), &q, json!({})),
    )
    .await;
    let m = refused(&r, "BAD_USER_INPUT", "Query asks for too much");
    assert!(m.contains("GRAPHQL_MAX_NODES"), "{m}");
    assert!(
        m.contains("`a0:stream.webhooks.items.history(limit: 1000)`"),
        "names the page to shrink: {m}"
    );
    // 300 aliases of one webhook's history(limit: 1000), each event with its payload.
    let mut q = String::from("{ ");
    for i in 0..300 {
        q.push_str(&format!(
            "a{i}: stream(id: \"{}\") {{ webhooks(id: \"{hook}\") {{ items {{ history(limit: 1000) {{ items {{ payload }} }} }} }} }} ",
            w.stream
        ));
    }
    q.push('}');
    let r = w.server.gql(Some(&w.owner.token), &q, json!({})).await;
    refused(&r, "BAD_USER_INPUT", "GRAPHQL_MAX_NODES");
    // Every webhook's last 500 events with four fields each: 250,000 nodes, from a variable.
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "query($s: String!, $n: Int!) { stream(id: $s) { webhooks { items { history(limit: $n) { items { id status statusInfo lastUpdate } } } } } }",
            json!({ "s": w.stream, "n": 500 }),
        )
        .await;
    let m = refused(&r, "BAD_USER_INPUT", "GRAPHQL_MAX_NODES");
    assert!(
        m.contains("`stream.webhooks.items.history(limit: $n = 500)`"),
        "{m}"
    );
    // Speckle's own shapes pass: every webhook's last 50 events (its first web app), two pages
    // of a thousand events of one webhook.
    let d = w
        .server
        .gql_ok(
            &w.owner.token,
            "query($s: String!) { stream(id: $s) { webhooks { items { id url history(limit: 50) { items { status statusInfo lastUpdate } } } } } }",
            json!({ "s": w.stream }),
        )
        .await;
    assert_eq!(d["stream"]["webhooks"]["items"][0]["id"], json!(hook));
    let two = aliased_history(&w, &hook, 2, 1000, true);
    let d = w.server.gql_ok(&w.owner.token, &two, json!({})).await;
    assert!(
        d["a1"]["webhooks"]["items"][0]["history"]["items"].is_array(),
        "{d}"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn an_answer_over_its_budget_stops_with_one_error() {
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend(["--graphql-max-response-bytes", "262144"]);
    let w = world_on(TestServer::start_with(&args, false).await).await;
    let hook = w
        .webhook("https://example.com/h", &["stream_update"], None)
        .await;
    let World {
        server,
        owner,
        stream,
        ..
    } = w;
    // Eight updates with 32 KB descriptions: eight payloads of ~65 KB (old and new stream).
    for i in 0..8 {
        let description = format!("{i}{}", "d".repeat(32 * 1024));
        server
            .update_stream(&owner, &stream, json!({ "description": description }))
            .await;
    }
    let page = |limit: u32| {
        format!("{{ stream(id: \"{stream}\") {{ webhooks(id: \"{hook}\") {{ items {{ history(limit: {limit}) {{ items {{ id payload }} }} }} }} }} }}")
    };
    let ok = server.gql_ok(&owner.token, &page(2), json!({})).await;
    let items = &ok["stream"]["webhooks"]["items"][0]["history"]["items"];
    assert_eq!(items.as_array().map(Vec::len), Some(2));
    // All eight: ~520 KB of payloads, over the 256 KiB budget.
    let r = within(
        Duration::from_secs(10),
        "history over budget",
        server.gql(Some(&owner.token), &page(8), json!({})),
    )
    .await;
    let m = refused(&r, "RESPONSE_TOO_LARGE", "GRAPHQL_MAX_RESPONSE_BYTES");
    assert!(
        m.contains("at `stream.webhooks.items.history(limit: 8)` it would hold"),
        "names the page: {m}"
    );
    assert!(r["data"].is_null(), "no partial answer: {r}");
    assert_eq!(
        r["errors"].as_array().map(Vec::len),
        Some(1),
        "one error: {r}"
    );
    // Text other than history counts too: the 32 KB description, aliased twelve times.
    let mut q = String::from("{ ");
    for i in 0..12 {
        q.push_str(&format!(
            "d{i}: stream(id: \"{stream}\") {{ description }} "
        ));
    }
    q.push('}');
    let r = server.gql(Some(&owner.token), &q, json!({})).await;
    let m = refused(&r, "RESPONSE_TOO_LARGE", "fewer items");
    assert!(
        m.contains(".description` it would hold"),
        "names the field: {m}"
    );
    // Aliases of an event's payload copy its text: each copy counts before anything loads.
    let mut q = format!("{{ stream(id: \"{stream}\") {{ webhooks(id: \"{hook}\") {{ items {{ history(limit: 2) {{ items {{ ");
    for i in 0..8 {
        q.push_str(&format!("p{i}: payload "));
    }
    q.push_str("} } } } } }");
    let r = server.gql(Some(&owner.token), &q, json!({})).await;
    refused(&r, "RESPONSE_TOO_LARGE", "history(limit: 2)");
    // The budget is per request: the next one starts afresh.
    server.gql_ok(&owner.token, &page(1), json!({})).await;
    server.shutdown().await;
}

#[tokio::test]
async fn depth_counts_fields_through_fragments_but_not_introspection() {
    let mut args: Vec<&str> = TEST_ARGS.to_vec();
    args.extend(["--graphql-max-depth", "4"]);
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "deep").await;
    let q = "query($s: String!) { stream(id: $s) { ...W } } fragment W on Stream { webhooks { items { history { items { id } } } } }";
    let r = server
        .gql(Some(&owner.token), q, json!({ "s": stream }))
        .await;
    let m = refused(&r, "BAD_USER_INPUT", "nested too deep");
    assert!(
        m.contains("`stream.webhooks.items.history.items.id`"),
        "{m}"
    );
    let ok = "query($s: String!) { stream(id: $s) { webhooks { items { id } } } }";
    server
        .gql_ok(&owner.token, ok, json!({ "s": stream }))
        .await;
    // Introspection nests as deep as the schema's type wrappers; tools must still read it.
    let intro = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }";
    let d = server.gql_ok(&owner.token, intro, json!({})).await;
    assert!(d["__schema"]["types"].is_array());
    server.shutdown().await;
}
