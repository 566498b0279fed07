//! The validation layer as a property, through the API on the backend under test: any string,
//! sent as a stream name, stream description, branch description or webhook description, is
//! either stored and read back byte for byte, or refused with BAD_USER_INPUT and nothing
//! changed. Never an internal error, whatever the characters (U+0000, other controls,
//! surrogate-free unicode of every plane, lengths around each limit).
//!
//! Cases are few (a fixed 48 per field, one server for all) so the suite stays fast on both
//! backends; proptest's shrinking still names a minimal failing string if one appears.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TestUser};

use crate::support::code;

/// Strings around what matters: any characters, NUL and controls spliced in, and lengths near
/// the limits (512 for names, 1,024 for webhook descriptions, 65,536 for descriptions).
fn text() -> impl Strategy<Value = String> {
    let any_chars = any::<String>();
    let controls = proptest::collection::vec(
        prop_oneof![
            Just('\0'),
            Just('\r'),
            Just('\n'),
            Just('\t'),
            Just('\u{7f}'),
            any::<char>()
        ],
        0..8,
    )
    .prop_map(|v| v.into_iter().collect::<String>());
    let near =
        |n: usize| (n - 2..n + 3, any::<char>()).prop_map(|(len, c)| c.to_string().repeat(len));
    prop_oneof![
        4 => any_chars,
        2 => controls,
        1 => near(512),
        1 => near(1024),
        1 => near(65_536),
        1 => Just(" \u{0} ".to_owned()),
        1 => Just("   ".to_owned()),
    ]
}

/// A query, its variables, and where the field's value sits in the answer's `data`.
type Read = (String, Value, fn(&Value) -> Value);

struct Field {
    name: &'static str,
    write: fn(&Ctx, &str) -> (String, Value),
    read: fn(&Ctx) -> Read,
}

struct Ctx {
    server: TestServer,
    owner: TestUser,
    stream: String,
    main_branch: String,
    hook: String,
}

fn fields() -> Vec<Field> {
    vec![
        Field {
            name: "stream name",
            write: |c, s| {
                (
                    "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }".into(),
                    json!({ "s": { "id": c.stream, "name": s } }),
                )
            },
            read: |c| {
                (
                    "query($s: String!) { stream(id: $s) { name } }".into(),
                    json!({ "s": c.stream }),
                    |d| d["stream"]["name"].clone(),
                )
            },
        },
        Field {
            name: "stream description",
            write: |c, s| {
                (
                    "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }".into(),
                    json!({ "s": { "id": c.stream, "description": s } }),
                )
            },
            read: |c| {
                (
                    "query($s: String!) { stream(id: $s) { description } }".into(),
                    json!({ "s": c.stream }),
                    |d| d["stream"]["description"].clone(),
                )
            },
        },
        Field {
            name: "branch description",
            write: |c, s| {
                (
                    "mutation($b: BranchUpdateInput!) { branchUpdate(branch: $b) }".into(),
                    json!({ "b": { "streamId": c.stream, "id": c.main_branch, "description": s } }),
                )
            },
            read: |c| {
                ("query($s: String!) { stream(id: $s) { branches { items { name description } } } }".into(), json!({ "s": c.stream }), |d| {
                d["stream"]["branches"]["items"].as_array().and_then(|b| b.iter().find(|b| b["name"] == "main")).map(|b| b["description"].clone()).unwrap_or(Value::Null)
            })
            },
        },
        Field {
            name: "webhook description",
            write: |c, s| {
                (
                    "mutation($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }".into(),
                    json!({ "w": { "id": c.hook, "streamId": c.stream, "description": s } }),
                )
            },
            read: |c| {
                (crate::support::LIST.into(), json!({ "s": c.stream }), |d| {
                    d["stream"]["webhooks"]["items"][0]["description"].clone()
                })
            },
        },
    ]
}

fn check(rt: &tokio::runtime::Runtime, c: &Ctx, f: &Field, s: &str) -> Result<(), TestCaseError> {
    let (rq, rv, pick) = (f.read)(c);
    let before = pick(&rt.block_on(c.server.gql_ok(&c.owner.token, &rq, rv.clone())));
    let (wq, wv) = (f.write)(c, s);
    let r = rt.block_on(c.server.gql(Some(&c.owner.token), &wq, wv));
    let after = pick(&rt.block_on(c.server.gql_ok(&c.owner.token, &rq, rv)));
    if r["errors"].is_null() {
        prop_assert_eq!(after, json!(s), "{}: stored text differs", f.name);
    } else {
        prop_assert_eq!(code(&r), "BAD_USER_INPUT", "{}: {}", f.name, r);
        prop_assert_eq!(after, before, "{}: a refused write changed it", f.name);
    }
    Ok(())
}

#[test]
fn any_text_round_trips_exactly_or_is_refused_as_bad_input() {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let ctx = rt.block_on(async {
        let w = crate::support::quiet_world().await;
        let hook = w
            .webhook("https://example.com/h", &["stream_update"], None)
            .await;
        let d = w
            .server
            .gql_ok(
                &w.owner.token,
                "query($s: String!) { stream(id: $s) { branches { items { id } } } }",
                json!({ "s": w.stream }),
            )
            .await;
        let main_branch = d["stream"]["branches"]["items"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ctx {
            server: w.server,
            owner: w.owner,
            stream: w.stream,
            main_branch,
            hook,
        }
    });
    for f in fields() {
        let mut runner = TestRunner::new(Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&text(), |s| check(&rt, &ctx, &f, &s))
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
    }
    rt.block_on(ctx.server.shutdown());
}
