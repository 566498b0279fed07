//! Unit tests of [`super`]: the figures the limits compare, on this server's own schema.

use async_graphql::parser::parse_query;
use async_graphql::Variables;
use serde_json::json;

use super::*;

fn model() -> CostModel {
    CostModel::from_sdl(&crate::schema::sdl())
}

fn m(query: &str, vars: serde_json::Value) -> Result<Measure, Unmeasurable> {
    let doc = parse_query(query).unwrap_or_else(|e| panic!("{e}"));
    measure(&model(), &doc, &Variables::from_json(vars), None)
}

fn nodes(query: &str) -> u64 {
    m(query, json!({}))
        .map(|m| m.nodes)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The fan-out document: 25 fragments, each spreading the next twice.
pub(crate) fn fan_out(levels: usize, alias: bool) -> String {
    let mut q = String::from("query { ...F0 } ");
    for i in 0..levels - 1 {
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
    q.push_str(&format!(
        "fragment F{} on Query {{ __typename }}",
        levels - 1
    ));
    q
}

#[test]
fn the_fan_out_is_measured_at_once_and_costs_its_expansion() {
    let q = fan_out(25, true);
    assert!(q.len() < 1500, "{} bytes", q.len());
    let r = m(&q, json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.size > 1 << 25, "{r:?}");
    assert!(r.nodes > 1 << 24, "{r:?}");
    assert_eq!(r.size_at, "the operation: ...F0", "the spread to blame");
    // Four spreads a level for 45 levels overflow any count: saturated, not wrapped around.
    let mut q = String::from("{ ...F0 } ");
    for i in 0..45 {
        let n = i + 1;
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} ...F{n} ...F{n} }} "
        ));
    }
    q.push_str("fragment F45 on Query { __typename }");
    let r = m(&q, json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.nodes, r.size), (u64::MAX, u64::MAX));
    // Beyond 64 levels of fragments the document is refused before anything is added up.
    assert!(matches!(
        m(&fan_out(70, false), json!({})),
        Err(Unmeasurable::NestedFragments(_))
    ));
}

#[test]
fn every_value_counts_once_after_expansion() {
    assert_eq!(nodes("{ serverInfo { name } }"), 2);
    assert_eq!(
        nodes("{ ...A ...A } fragment A on Query { serverInfo { name version } }"),
        2 * 3,
        "spreads are structure, not values"
    );
    assert_eq!(nodes("{ serverInfo { ... on ServerInfo { name } } }"), 2);
}

#[test]
fn pages_multiply_by_their_limit_from_literal_variable_or_default() {
    let one = "query($l: Int!) { stream(id: \"s\") { webhooks(id: \"w\") { items { history(limit: $l) { items { id payload } } } } } }";
    let at = |l: i64| {
        m(one, json!({ "l": l }))
            .map(|m| m.nodes)
            .unwrap_or_default()
    };
    assert_eq!(
        at(1000) - at(10),
        990 * 3,
        "three per event: the event, its id, its payload"
    );
    let default = nodes(
        "{ stream(id: \"s\") { webhooks(id: \"w\") { items { history { items { id } } } } } }",
    );
    let explicit = nodes("{ stream(id: \"s\") { webhooks(id: \"w\") { items { history(limit: 25) { items { id } } } } } }");
    assert_eq!(default, explicit, "history's schema default is 25");
    let with_default = m(
        "query($l: Int = 25) { stream(id: \"s\") { webhooks(id: \"w\") { items { history(limit: $l) { items { id } } } } } }",
        json!({}),
    );
    assert_eq!(with_default.map(|m| m.nodes).ok(), Some(explicit));
    // Any field with `limit` or `first`, known to the schema or not yet, is priced the same way;
    // the collection's `totalCount` is one value, not one per item.
    let future =
        nodes("{ project(id: \"p\") { models(limit: 100) { totalCount items { id name } } } }");
    assert_eq!(future, 1 + 1 + 1 + 100 * (1 + 2));
}

#[test]
fn webhooks_count_as_many_as_a_stream_may_hold_unless_asked_by_id() {
    let all = nodes("{ stream(id: \"s\") { webhooks { items { url } } } }");
    let one = nodes("{ stream(id: \"s\") { webhooks(id: \"w\") { items { url } } } }");
    assert_eq!(all, 1 + 1 + 100 * 2);
    assert_eq!(one, 1 + 1 + 2);
    let null = m(
        "query($w: String) { stream(id: \"s\") { webhooks(id: $w) { items { url } } } }",
        json!({ "w": null }),
    );
    assert_eq!(
        null.map(|m| m.nodes).ok(),
        Some(all),
        "a null id lists them all"
    );
    // A fragment spread inside the collection gets its page too.
    let spread = nodes(
        "{ stream(id: \"s\") { webhooks { ...W } } } fragment W on WebhookCollection { items { url } }",
    );
    assert_eq!(spread, all);
}

#[test]
fn speckle_s_first_web_app_page_is_priced_by_what_it_can_hold() {
    // packages/frontend/src/graphql/webhooks.gql (speckle-server 49438f08): 100 webhooks, each
    // with six fields and the last 50 events of three fields.
    let q = "query webhooks($streamId: String!) { stream(id: $streamId) { id name role webhooks { items { id streamId url description triggers enabled history(limit: 50) { items { status statusInfo lastUpdate } } } } } }";
    let r = m(q, json!({ "streamId": "s" })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.nodes, 1 + 3 + 1 + 100 * (1 + 6 + 1 + 50 * (1 + 3)));
    assert_eq!(r.nodes_at, "stream.webhooks.items.history(limit: 50)");
}

#[test]
fn the_history_flood_costs_what_it_loads_and_names_the_page() {
    let mut q = String::from("{ ");
    for i in 0..8 {
        q.push_str(&format!(
            "a{i}: stream(id: \"s\") {{ webhooks {{ items {{ history(limit: 1000) {{ items {{ payload }} }} }} }} }} "
        ));
    }
    q.push('}');
    let r = m(&q, json!({})).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.nodes > 8 * 100 * 1000 * 2, "{}", r.nodes);
    assert_eq!(r.nodes_at, "a0:stream.webhooks.items.history(limit: 1000)");
    // From a variable, the path shows the variable and its value.
    let r = m(
        "query($n: Int!) { stream(id: \"s\") { webhooks { items { history(limit: $n) { items { id } } } } } }",
        json!({ "n": 500 }),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.nodes_at, "stream.webhooks.items.history(limit: $n = 500)");
}

#[test]
fn cycles_and_deep_fragment_chains_are_refused_without_recursion() {
    assert_eq!(
        m(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            json!({})
        ),
        Err(Unmeasurable::Cycle("A".into()))
    );
    assert!(matches!(
        m("{ __typename } fragment A on Query { ...A }", json!({})),
        Err(Unmeasurable::Cycle(_))
    ));
    // A 20,000-fragment chain (what overflowed async-graphql's recursive cycle check), unused.
    let mut q = String::from("{ __typename } ");
    for i in 0..20_000 {
        q.push_str(&format!("fragment F{i} on Query {{ ...F{} }} ", i + 1));
    }
    q.push_str("fragment F20000 on Query { __typename }");
    assert!(matches!(
        m(&q, json!({})),
        Err(Unmeasurable::NestedFragments(_))
    ));
}

#[test]
fn unused_fragments_count_towards_the_document_size() {
    let r = m(
        "{ __typename } fragment A on Query { serverInfo { name } } fragment B on Query { ...A ...A }",
        json!({}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.nodes, r.size), (1, 1 + 2 + (2 * (1 + 2))));
    assert_eq!(r.size_at, "fragment B");
}

#[test]
fn depth_counts_fields_through_fragments() {
    let r = m(
        "{ ...A } fragment A on Query { stream(id: \"s\") { ...B } } fragment B on Stream { webhooks { items { id } } }",
        json!({}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.depth, 4);
    assert_eq!(r.depth_at, "stream.webhooks.items.id");
}

#[test]
fn the_named_operation_is_the_one_priced() {
    let doc = parse_query(
        "query Small { serverInfo { name } } query Big { stream(id: \"s\") { webhooks { items { url } } } }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let small = measure(&model(), &doc, &Variables::default(), Some("Small"));
    assert_eq!(small.map(|m| m.nodes).ok(), Some(2));
}
