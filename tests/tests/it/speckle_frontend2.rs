//! The Speckle web app's (frontend-2) project Settings → Webhooks page against streamhooks.
//!
//! Client: frontend-2 in specklesystems/speckle-server, documents copied verbatim at commit
//! 51d43b91c4681a75bff8b285da7f443a4599da67 into `tests/interop/frontend2/` (see its README for
//! how to refresh them; `corpus.rs` validates them, with the rest of the corpus, against
//! `schema.graphql`). They are sent to a running server with the variables the page's components
//! send, and the answers a user would see are checked: the route guard, the list with each
//! webhook's last events, New / Edit / the enabled switch / Delete, and who may do them.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestReceiver, TestUser};

use crate::support::{code, grant, world, World};

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/frontend2")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(docs_dir().join(name))
        .unwrap_or_else(|e| panic!("tests/interop/frontend2/{name}: {e}"))
}

/// The operation in `name` with every fragment it spreads appended, as Apollo sends it.
pub(crate) fn document(name: &str) -> String {
    let mut doc = read(name);
    let mut done: Vec<String> = Vec::new();
    loop {
        let wanted = doc
            .split("...")
            .skip(1)
            .filter_map(|rest| {
                let n: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!n.is_empty() && !done.contains(&n)).then_some(n)
            })
            .next();
        let Some(fragment) = wanted else {
            return doc;
        };
        doc.push('\n');
        doc.push_str(&read(&format!("{fragment}.graphql")));
        done.push(fragment);
    }
}

/// The trigger names the page's picker offers, read from Speckle's `WebhookTriggers`.
fn picker_triggers() -> Vec<String> {
    read("WebhookTriggers.ts")
        .lines()
        .filter_map(|l| l.split('\'').nth(1).map(str::to_owned))
        .collect()
}

async fn send(w: &World, who: Option<&TestUser>, doc: &str, vars: Value) -> Value {
    w.server
        .gql(who.map(|u| u.token.as_str()), &document(doc), vars)
        .await
}

async fn page(w: &World, who: &TestUser) -> Value {
    let r = send(
        w,
        Some(who),
        "ProjectWebhooks.graphql",
        json!({ "projectId": w.stream }),
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["project"].clone()
}

#[tokio::test]
async fn the_webhooks_page_lists_creates_edits_toggles_and_deletes() {
    let w = world().await;
    let rx = TestReceiver::start().await;
    let me = w.owner.clone();

    let guard = send(
        &w,
        Some(&me),
        "CanViewProjectWebhooks.graphql",
        json!({ "projectId": w.stream }),
    )
    .await;
    let check = &guard["data"]["project"]["permissions"]["canReadWebhooks"];
    assert_eq!(
        *check,
        json!({ "authorized": true, "code": "OK", "message": "OK", "payload": null, "errorMessage": null })
    );

    let empty = page(&w, &me).await;
    assert_eq!(empty["id"], json!(w.stream));
    assert_eq!(empty["name"], "Golden Nugget 🌻");
    assert_eq!(empty["permissions"]["canUpdate"]["authorized"], true);
    assert_eq!(empty["webhooks"], json!({ "items": [], "totalCount": 0 }));

    // New: what CreateOrEditDialog.vue sends, with every trigger the picker offers.
    let triggers = picker_triggers();
    assert_eq!(triggers.len(), 14, "{triggers:?}");
    let created = send(
        &w,
        Some(&me),
        "createWebhook.graphql",
        json!({ "webhook": {
        "description": "CI", "url": rx.url(), "secret": "s3cr3t", "streamId": w.stream,
        "triggers": triggers, "enabled": true } }),
    )
    .await;
    let id = created["data"]["webhookCreate"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let listed = page(&w, &me).await;
    let hook = &listed["webhooks"]["items"][0];
    assert_eq!(listed["webhooks"]["totalCount"], 1);
    assert_eq!(hook["id"], json!(id));
    assert_eq!(
        (&hook["streamId"], &hook["url"], &hook["description"]),
        (&json!(w.stream), &json!(rx.url()), &json!("CI"))
    );
    assert_eq!(hook["triggers"], json!(triggers));
    assert_eq!(hook["enabled"], true);
    assert_eq!(
        hook["history"]["items"],
        json!([]),
        "the page shows 'No events yet'"
    );

    // Something happens: the row's status icon turns green (status 2) with its statusInfo.
    w.server
        .gql_ok(
            &me.token,
            "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { id } } }",
            json!({ "u": { "id": w.stream, "description": "new" } }),
        )
        .await;
    assert!(
        rx.next(Duration::from_secs(10)).await.is_some(),
        "the receiver got the event"
    );
    w.server
        .wait_for_history(&me, &w.stream, &id, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == 2)
        })
        .await;
    let after = page(&w, &me).await;
    let last = &after["webhooks"]["items"][0]["history"]["items"][0];
    assert_eq!(last["status"], 2);
    assert!(
        last["statusInfo"]
            .as_str()
            .is_some_and(|s| s.contains("200")),
        "{last}"
    );

    // Edit: the dialog sends every field, and `secret: null` when the secret box is left empty.
    let edited = send(
        &w,
        Some(&me),
        "updateWebhook.graphql",
        json!({ "webhook": {
        "id": id, "streamId": w.stream, "url": rx.url(), "description": "CI (edited)",
        "secret": null, "triggers": ["commit_create", "comment_created"] } }),
    )
    .await;
    assert_eq!(edited["data"]["webhookUpdate"], json!(id), "{edited}");
    let hook = page(&w, &me).await["webhooks"]["items"][0].clone();
    assert_eq!(hook["description"], "CI (edited)");
    assert_eq!(
        hook["triggers"],
        json!(["commit_create", "comment_created"])
    );
    let kept = w
        .server
        .gql_ok(
            &me.token,
            "query($p: String!) { project(id: $p) { webhooks { items { hasSecret } } } }",
            json!({ "p": w.stream }),
        )
        .await;
    assert_eq!(
        kept["project"]["webhooks"]["items"][0]["hasSecret"], true,
        "an empty secret box keeps the secret"
    );

    // The enabled switch sends only what it changes.
    let off = send(
        &w,
        Some(&me),
        "updateWebhook.graphql",
        json!({ "webhook": { "streamId": w.stream, "id": id, "enabled": false } }),
    )
    .await;
    assert_eq!(off["data"]["webhookUpdate"], json!(id), "{off}");
    let hook = page(&w, &me).await["webhooks"]["items"][0].clone();
    assert_eq!(hook["enabled"], false);
    assert_eq!(hook["description"], "CI (edited)");

    // Delete.
    let gone = send(
        &w,
        Some(&me),
        "deleteWebhook.graphql",
        json!({ "webhook": { "id": id, "streamId": w.stream } }),
    )
    .await;
    assert_eq!(gone["data"]["webhookDelete"], json!(id), "{gone}");
    assert_eq!(
        page(&w, &me).await["webhooks"],
        json!({ "items": [], "totalCount": 0 })
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn the_webhooks_page_is_closed_to_everyone_but_owners() {
    let w = world().await;
    let vars = json!({ "projectId": w.stream });
    let guard = |r: &Value| r["data"]["project"]["permissions"]["canReadWebhooks"].clone();

    // A contributor: the route guard says no, with Speckle's code and a sentence to show.
    grant(&w, &w.stream, &w.other, "stream:contributor").await;
    let r = send(
        &w,
        Some(&w.other),
        "CanViewProjectWebhooks.graphql",
        vars.clone(),
    )
    .await;
    let g = guard(&r);
    assert_eq!(
        (&g["authorized"], &g["code"]),
        (&json!(false), &json!("ProjectNotEnoughPermissions"))
    );
    assert!(
        g["message"].as_str().is_some_and(|m| !m.is_empty()) && g["errorMessage"] == g["message"]
    );
    // Reaching the page anyway: the list is refused and the buttons stay disabled.
    let r = send(&w, Some(&w.other), "ProjectWebhooks.graphql", vars.clone()).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // Someone without a role on this (public) project, and someone not signed in.
    let stranger = w
        .server
        .create_user("Stranger Stan", "stan@example.com")
        .await;
    let r = send(
        &w,
        Some(&stranger),
        "CanViewProjectWebhooks.graphql",
        vars.clone(),
    )
    .await;
    assert_eq!(guard(&r)["code"], "ProjectNoAccess");
    let r = send(&w, None, "CanViewProjectWebhooks.graphql", vars.clone()).await;
    assert_eq!(guard(&r)["code"], "ServerNoSession");

    // An owner whose token cannot write: webhooks need streams:write, and the guard says so.
    let read_only = w.server.create_token(&w.owner, &["streams:read"]).await;
    let r = w
        .server
        .gql(
            Some(&read_only),
            &document("CanViewProjectWebhooks.graphql"),
            vars.clone(),
        )
        .await;
    let g = guard(&r);
    assert_eq!(g["authorized"], false);
    assert!(
        g["message"]
            .as_str()
            .is_some_and(|m| m.contains("streams:write")),
        "{g}"
    );
    let r = w
        .server
        .gql(Some(&read_only), &document("ProjectWebhooks.graphql"), vars)
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    w.server.shutdown().await;
}
