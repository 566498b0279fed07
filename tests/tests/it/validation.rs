//! Bad input is refused with `BAD_USER_INPUT`, a message that says what is wrong, and nothing
//! stored — on create and on update. That includes a URL whose host is an address literal the
//! dispatcher would refuse, unless the server allows it (these tests start a server without
//! `TEST_ARGS`' `--allow-local-network true`).

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TestUser};

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
        .webhook("https://example.com/keep", &["commit_create"], Some("k"))
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

/// A server that does not allow local destinations (unlike `TEST_ARGS`), its owner and a stream.
async fn guarded(extra: &[&str]) -> (TestServer, TestUser, String) {
    let mut args = vec!["--retry-schedule", "none"];
    args.extend_from_slice(extra);
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    (server, owner, stream)
}

async fn hooks_of(server: &TestServer, owner: &TestUser, stream: &str) -> Vec<Value> {
    let d = server
        .gql_ok(&owner.token, crate::support::LIST, json!({ "s": stream }))
        .await;
    d["stream"]["webhooks"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A URL whose host is an address the dispatcher would never send to is refused when it is saved,
/// with the dispatcher's own sentence; host names are left to delivery time (DNS changes).
#[tokio::test]
async fn literal_addresses_the_guard_blocks_are_refused_when_saved() {
    let (server, owner, stream) = guarded(&[]).await;
    let allow = "; set ALLOW_LOCAL_NETWORK=true or add it to ALLOWED_CIDRS to allow it.";
    let refused = [
        (
            "http://127.0.0.1:8080/hook",
            "127.0.0.1 is a loopback address",
        ),
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]/hook",
            "::ffff:127.0.0.1 is a loopback address",
        ),
        // The WHATWG short form of 127.0.0.1: judged as the address it is.
        ("http://0x7f.1/hook", "127.0.0.1 is a loopback address"),
        (
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254 is a link-local address",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/hook",
            "64:ff9b::a9fe:a9fe is a link-local address",
        ),
        (
            "http://[::ffff:0:7f00:1]/hook",
            "::ffff:0:7f00:1 is an IPv4-translated (SIIT, ::ffff:0:0:0/96) address",
        ),
    ];
    for (url, what) in refused {
        let vars =
            json!({ "w": { "streamId": stream, "url": url, "triggers": ["stream_update"] } });
        let r = server.gql(Some(&owner.token), CREATE, vars).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{url}: {r}");
        assert_eq!(message(&r), format!("Blocked: {what}{allow}"), "{url}");
        assert!(
            hooks_of(&server, &owner, &stream).await.is_empty(),
            "{url} was stored"
        );
    }

    // Public literals and host names are accepted (names are checked on every delivery).
    let public = server
        .create_webhook(
            &owner,
            &stream,
            "https://93.184.215.14/hook",
            &["stream_update"],
            None,
        )
        .await;
    let named = server
        .create_webhook(
            &owner,
            &stream,
            "http://localhost:9/hook",
            &["stream_update"],
            None,
        )
        .await;
    assert!(!public.is_empty() && !named.is_empty());

    // Update: the same rule, and nothing changes.
    let before = hooks_of(&server, &owner, &stream).await;
    for (url, what) in refused {
        let vars = json!({ "w": { "id": public, "streamId": stream, "url": url } });
        let r = server.gql(Some(&owner.token), UPDATE, vars).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{url}: {r}");
        assert_eq!(message(&r), format!("Blocked: {what}{allow}"), "{url}");
    }
    assert_eq!(hooks_of(&server, &owner, &stream).await, before);
    server.shutdown().await;
}

#[tokio::test]
async fn an_allowed_cidr_or_allowing_the_local_network_lets_literals_through() {
    let (server, owner, stream) = guarded(&["--allowed-cidrs", "10.0.0.0/8"]).await;
    let ok = server
        .gql(
            Some(&owner.token),
            CREATE,
            json!({ "w": { "streamId": stream, "url": "http://10.0.0.1/hook", "triggers": ["stream_update"] } }),
        )
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
    let r = server
        .gql(
            Some(&owner.token),
            CREATE,
            json!({ "w": { "streamId": stream, "url": "http://127.0.0.1/hook", "triggers": ["stream_update"] } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    server.shutdown().await;

    let (server, owner, stream) = guarded(&["--allow-local-network", "true"]).await;
    for url in [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
    ] {
        let r = server
            .gql(
                Some(&owner.token),
                CREATE,
                json!({ "w": { "streamId": stream, "url": url, "triggers": ["stream_update"] } }),
            )
            .await;
        assert!(r["errors"].is_null(), "{url}: {r}");
    }
    server.shutdown().await;
}

/// A document the schema refuses is answered as Speckle's Apollo server answers it: its message,
/// and `GRAPHQL_VALIDATION_FAILED`, so a client's error handling can tell it from a refusal of
/// the values it sent (`BAD_USER_INPUT`) and from the server failing (`INTERNAL_SERVER_ERROR`).
#[tokio::test]
async fn a_document_the_schema_refuses_is_graphql_validation_failed() {
    let w = world().await;
    let documents = [
        ("{ nosuchfield }", "Unknown field \"nosuchfield\""),
        ("{ stream { id } }", "argument \"id\""),
        (
            "{ stream(id: 1) { id } }",
            "Invalid value for argument \"id\"",
        ),
        (
            "query($a: Int!) { serverInfo { name } }",
            "Variable \"$a\" is not used",
        ),
    ];
    for (document, says) in documents {
        let r = w
            .server
            .gql(Some(&w.owner.token), document, json!({}))
            .await;
        assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED", "{document}: {r}");
        assert!(message(&r).contains(says), "{document}: {r}");
        assert!(r["data"].is_null(), "{document}: {r}");
    }
    // A value the document allows but the server refuses keeps its own code.
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            CREATE,
            json!({ "w": { "streamId": w.stream, "url": "not a url", "triggers": ["stream_update"] } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    w.server.shutdown().await;
}
