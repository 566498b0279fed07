//! Documents that cost far more than their size: fragment fan-outs and chains, aliased pages,
//! and answers larger than the budget.

use std::time::Duration;

use serde_json::json;
use streamhooks_api::testkit::{TestServer, TEST_ARGS};

use super::{refused, within};
use crate::support::{quiet_world, world, World};

/// The 1 KB document: 25 fragments, each spreading the next twice (optionally with an
/// alias per level, which made it worse).
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
        refused(&r, "BAD_USER_INPUT", "too complex");
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
async fn history_costs_in_proportion_to_its_limit() {
    let w = quiet_world().await;
    let hook = w
        .server
        .create_webhook(
            &w.owner,
            &w.stream,
            "https://example.com/h",
            &["stream_update"],
            None,
        )
        .await;
    // The flood: 8 aliases of every webhook's history(limit: 1000).
    let q = aliased_history(&w, &hook, 8, 1000, false);
    let r = within(
        Duration::from_secs(1),
        "history flood",
        w.server.gql(Some(&w.owner.token), &q, json!({})),
    )
    .await;
    let m = refused(&r, "BAD_USER_INPUT", "too complex");
    assert!(m.contains("GRAPHQL_MAX_COMPLEXITY"), "{m}");
    // Two pages of one webhook: a thousand events each is too much, a hundred is fine.
    let big = aliased_history(&w, &hook, 2, 1000, true);
    let r = w.server.gql(Some(&w.owner.token), &big, json!({})).await;
    refused(&r, "BAD_USER_INPUT", "too complex");
    let small = aliased_history(&w, &hook, 2, 100, true);
    let d = w.server.gql_ok(&w.owner.token, &small, json!({})).await;
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
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "big").await;
    let hook = server
        .create_webhook(
            &owner,
            &stream,
            "https://example.com/h",
            &["stream_update"],
            None,
        )
        .await;
    // Eight updates with 32 KB descriptions: eight payloads of ~65 KB (old and new stream).
    for i in 0..8 {
        let description = format!("{i}{}", "d".repeat(32 * 1024));
        server
            .gql_ok(
                &owner.token,
                "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
                json!({ "s": { "id": stream, "description": description } }),
            )
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
    refused(&r, "RESPONSE_TOO_LARGE", "GRAPHQL_MAX_RESPONSE_BYTES");
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
    refused(&r, "RESPONSE_TOO_LARGE", "fewer items");
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
    refused(&r, "BAD_USER_INPUT", "nested too deep");
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
