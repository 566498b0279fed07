//! The console end to end as a stream owner uses it, in headless Chromium against the real
//! server and real receivers on 127.0.0.1; every change made through the page is checked again
//! through the GraphQL API, and every delivery at the receiver, signature included (HMAC computed
//! here, independently of the dispatcher's signing code).

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestReceiver, TestServer, TestUser, TEST_ARGS};

use super::{check_widths, hook, next, set, sign_in, verified_payload, webhooks, with_browser};
use crate::webdriver::{Browser, ENTER, ESCAPE, TAB};

const SECRET: &str = "s3cr3t";

#[tokio::test]
async fn an_owner_manages_a_webhook_in_the_console() {
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--disable-after-failures", "1"]);
    let server = TestServer::start_with(&args, true).await;
    let receiver = TestReceiver::start().await;
    let steady = TestReceiver::start().await;
    let ada = server.create_user("Ada Lovelace", "ada@example.com").await;
    server.create_stream(&ada, "Bridge renovation").await;
    let stream = server.create_stream(&ada, "Golden Nugget 🌻").await;
    // Someone else's stream on which Ada is only a contributor: not hers to manage.
    let bob = server.create_user("Bob", "bob@example.com").await;
    let bobs = server.create_stream(&bob, "Bob's stream").await;
    server
        .gql_ok(
            &bob.token,
            "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }",
            json!({ "p": { "streamId": bobs, "userId": ada.id, "role": "stream:contributor" } }),
        )
        .await;
    // A webhook that already works, so the list shows a green icon beside the new one.
    let input = json!({ "streamId": stream, "url": steady.url(), "description": "Slack notifier",
                        "triggers": ["commit_create"] });
    let slack = server.create_webhook_with(&ada, input).await;
    server
        .ping(&ada, &stream, &slack, Some("commit_create"))
        .await;
    let h = server
        .wait_for_history(&ada, &stream, &slack, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == 2)
        })
        .await;
    assert_eq!(
        h[0]["status"], 2,
        "the steady receiver took the ping: {h:?}"
    );

    with_browser(move |b| async move {
        scenario(&b, &server, &ada, &stream, &bobs, &receiver).await;
        b.close().await;
        server.shutdown().await;
    })
    .await;
}

async fn scenario(
    b: &Browser,
    server: &TestServer,
    ada: &TestUser,
    stream: &str,
    bobs: &str,
    receiver: &TestReceiver,
) {
    // Sign in: the streams Ada owns, and not the one she only contributes to.
    b.goto(&format!("{}/", server.url())).await;
    b.find("#token").await;
    check_widths(b, "sign-in").await;
    b.find("#token")
        .await
        .type_text("0000000000not-a-token")
        .await;
    b.keys(ENTER).await;
    let refused = b.find(".notice.error").await.text().await;
    assert!(refused.contains("does not know this token"), "{refused}");
    sign_in(b, server, ada).await;
    assert_eq!(b.find("#who").await.text().await, "Ada Lovelace");
    let link = b
        .find(&format!("#streams a[href='#/streams/{stream}']"))
        .await;
    assert_eq!(link.text().await, "Golden Nugget 🌻");
    let listed = b.find("#streams").await.text().await;
    assert!(
        listed.contains("Bridge renovation") && listed.contains("1 webhook ·"),
        "{listed}"
    );
    assert!(b
        .all(&format!("#streams a[href='#/streams/{bobs}']"))
        .await
        .is_empty());
    check_widths(b, "streams").await;
    link.click().await;

    // Create a webhook through the form.
    b.find("#new-webhook").await.click().await;
    b.find("#wh-url").await.type_text(&receiver.url()).await;
    b.find("#wh-description")
        .await
        .type_text("Discord bot")
        .await;
    b.find("#wh-secret").await.type_text(SECRET).await;
    b.find("#trigger-commit_create").await.click().await;
    b.find("#trigger-stream_update").await.click().await;
    b.find("#wh-save").await.click().await;
    b.wait(
        "the flash after creating",
        "document.querySelector('.notice.ok')?.textContent.startsWith('Created')",
    )
    .await;
    let created = hook(&webhooks(server, ada, stream).await, &receiver.url());
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["description"], "Discord bot");
    assert_eq!(created["hasSecret"], true);
    assert_eq!(created["enabled"], true);
    assert_eq!(
        set(&created["triggers"]),
        set(&json!(["commit_create", "stream_update"]))
    );
    let row = format!("li.hook[data-id='{id}']");
    b.wait(
        "a grey icon: nothing sent yet",
        &format!("document.querySelector(\"{row}\")?.dataset.status === 'none'"),
    )
    .await;

    // Ping: the receiver gets a signed commit_create, and the icon turns green.
    b.find(&format!("{row} [data-action=deliveries]"))
        .await
        .click()
        .await;
    b.choose("#ping-trigger", "commit_create").await;
    b.find("#ping").await.click().await;
    let got = verified_payload(&next(receiver).await, SECRET);
    assert_eq!(got["event"]["event_name"], "commit_create");
    assert_eq!(got["event"]["data"]["sample"], true);
    b.wait(
        "a delivered ping",
        "document.querySelector('#deliveries > li')?.dataset.status === 'sent'",
    )
    .await;
    assert_eq!(
        b.find("#deliveries > li .d-trigger").await.text().await,
        "commit_create"
    );
    b.find(&format!("nav.crumbs a[href='#/streams/{stream}']"))
        .await
        .click()
        .await;
    b.wait(
        "a green icon",
        &format!("document.querySelector(\"{row}\")?.dataset.status === 'sent'"),
    )
    .await;

    // The receiver fails on a real event (a ping would not count towards disabling): the event
    // fails for good, the server disables the webhook (after one final failure, as configured),
    // and after a reload (the tab keeps its session) the icon is red with the error on hover.
    receiver.set_status(500);
    server
        .update_stream(
            ada,
            stream,
            json!({ "description": "now with a failing receiver" }),
        )
        .await;
    let h = server
        .wait_for_history(ada, stream, &id, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == 3)
        })
        .await;
    assert_eq!(h[0]["status"], 3, "{h:?}");
    b.reload().await;
    b.wait(
        "a red icon",
        &format!("document.querySelector(\"{row}\")?.dataset.lastStatus === '3'"),
    )
    .await;
    let icon = b.find(&format!("{row} .status-btn")).await;
    let tip = format!("{row} .tip");
    assert!(
        !b.all(&tip).await[0].displayed().await,
        "the tooltip waits for a hover"
    );
    icon.hover().await;
    let tip_el = b.find(&tip).await;
    let error = tip_el.text().await;
    assert!(
        error.contains("Failed") && error.contains("HTTP 500"),
        "tooltip: {error}"
    );
    let reason = b
        .find(&format!("{row} .disabled-reason"))
        .await
        .text()
        .await;
    assert!(
        reason.contains("Disabled by the server") && reason.contains("HTTP 500"),
        "{reason}"
    );
    check_widths(b, "webhooks").await;
    b.find("h1").await.hover().await;
    b.wait(
        "the tooltip to close",
        &format!("document.querySelector(\"{tip}\").getClientRects().length === 0"),
    )
    .await;
    // The same error for keyboard users: tab to the icon, read it, Escape hides it.
    b.script("document.querySelector('h1').focus()", json!([]))
        .await;
    let mut reached = false;
    for _ in 0..12 {
        b.keys(TAB).await;
        let on_icon = b
            .script(
                &format!("return document.activeElement.matches(\"{row} .status-btn\")"),
                json!([]),
            )
            .await;
        if on_icon == json!(true) {
            reached = true;
            break;
        }
    }
    assert!(reached, "the status icon is not reachable with Tab");
    assert!(
        b.all(&tip).await[0].displayed().await,
        "focus shows the error"
    );
    b.keys(ESCAPE).await;
    assert!(
        !b.all(&tip).await[0].displayed().await,
        "Escape hides the error"
    );

    // Re-enable.
    b.find(&format!("{row} [data-action=re-enable]"))
        .await
        .click()
        .await;
    b.wait(
        "the re-enabled row",
        &format!("!document.querySelector(\"{row} .disabled-reason\")"),
    )
    .await;
    let hook_now = hook(&webhooks(server, ada, stream).await, &receiver.url());
    assert_eq!(hook_now["enabled"], true);
    assert_eq!(hook_now["disabledReason"], Value::Null);

    // Open the failed delivery: its payload, pretty-printed; then redeliver it.
    b.find(&format!("{row} [data-action=deliveries]"))
        .await
        .click()
        .await;
    let failed_id = b
        .find("#deliveries > li[data-event-status='3']")
        .await
        .attr("data-id")
        .await;
    b.find(&format!("#deliveries > li[data-id='{failed_id}'] summary"))
        .await
        .click()
        .await;
    let payload = b
        .find(&format!(
            "#deliveries > li[data-id='{failed_id}'] pre.payload"
        ))
        .await
        .text()
        .await;
    assert!(
        payload.contains("\"event_name\": \"stream_update\""),
        "pretty payload: {payload}"
    );
    let info = b
        .find(&format!(
            "#deliveries > li[data-id='{failed_id}'] .status-info"
        ))
        .await
        .text()
        .await;
    assert!(info.contains("HTTP 500"), "{info}");
    // Its attempts, as the delivery record keeps them: three (two retries), each an HTTP 500.
    let attempts = format!("#deliveries > li[data-id='{failed_id}'] .attempt-list > li");
    let outcomes = b
        .script(
            "return [...document.querySelectorAll(arguments[0])].map((li) => li.dataset.outcome)",
            json!([attempts]),
        )
        .await;
    assert_eq!(outcomes, json!(["http_error", "http_error", "http_error"]));
    b.find(&format!("{attempts}:first-child summary"))
        .await
        .click()
        .await;
    let first = b
        .find(&format!("{attempts}:first-child"))
        .await
        .text()
        .await;
    assert!(
        first.contains("Attempt 1 · HTTP 500") && first.contains("content-length"),
        "{first}"
    );
    check_widths(b, "deliveries").await;
    receiver.set_status(200);
    receiver.drain().await;
    b.find(&format!(
        "#deliveries > li[data-id='{failed_id}'] [data-action=redeliver]"
    ))
    .await
    .click()
    .await;
    let again = verified_payload(&next(receiver).await, SECRET);
    let original: Value = serde_json::from_str(
        server
            .history(ada, stream, &id, 100)
            .await
            .iter()
            .find(|e| e["id"] == failed_id.as_str())
            .and_then(|e| e["payload"].as_str())
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("stored payload: {e}"));
    assert_eq!(again, original, "a redelivery sends the same payload");
    b.wait("the redelivery on top, delivered", &format!(
        "(() => {{ const li = document.querySelector('#deliveries > li'); return li.dataset.id !== '{failed_id}' && li.dataset.status === 'sent'; }})()"
    )).await;

    // Edit: new description, other triggers, clear the secret.
    b.find("a.button[href$='/edit']").await.click().await;
    assert_eq!(
        b.find("#wh-secret-state").await.text().await,
        "A secret is set. It is never shown again."
    );
    let description = b.find("#wh-description").await;
    description.clear().await;
    description.type_text("Discord bot (edited)").await;
    b.find("#trigger-stream_update").await.click().await;
    b.find("#trigger-branch_create").await.click().await;
    b.find("#wh-clear-secret").await.click().await;
    check_widths(b, "edit-webhook").await;
    b.find("#wh-save").await.click().await;
    b.wait(
        "the flash after saving",
        "document.querySelector('.notice.ok')?.textContent === 'Saved the webhook.'",
    )
    .await;
    let edited = hook(&webhooks(server, ada, stream).await, &receiver.url());
    assert_eq!(edited["description"], "Discord bot (edited)");
    assert_eq!(
        set(&edited["triggers"]),
        set(&json!(["commit_create", "branch_create"]))
    );
    assert_eq!(edited["hasSecret"], false);
    assert_eq!(
        b.find(&format!("{row} .hook-title")).await.text().await,
        "Discord bot (edited)"
    );

    // Delete, with a confirmation: Cancel keeps it, Delete removes it.
    b.find(&format!("{row} [data-action=delete]"))
        .await
        .click()
        .await;
    b.find("#confirm-no").await.click().await;
    b.wait("the dialog to close", "!document.querySelector('#confirm')")
        .await;
    assert_eq!(webhooks(server, ada, stream).await.len(), 2);
    b.find(&format!("{row} [data-action=delete]"))
        .await
        .click()
        .await;
    b.find("#confirm-yes").await.click().await;
    b.wait(
        "the row to go",
        &format!("!document.querySelector(\"{row}\")"),
    )
    .await;
    let left = webhooks(server, ada, stream).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["description"], "Slack notifier");

    // A stream Ada does not own: the page says why, in the server's words.
    b.goto(&format!("{}/#/streams/{bobs}", server.url())).await;
    let refused = b.find(".notice.error").await.text().await;
    assert!(refused.contains("stream:owner"), "{refused}");
    assert!(b.all("#webhooks").await.is_empty());

    // The token never reached a URL or a cookie; signing out forgets it.
    let clean = b
        .script(
            &format!(
                "return !location.href.includes('{t}') && document.cookie === '' && \
         performance.getEntries().every((e) => !e.name.includes('{t}'))",
                t = ada.token
            ),
            json!([]),
        )
        .await;
    assert_eq!(clean, json!(true));
    b.find("#sign-out").await.click().await;
    b.find("#token").await;
    assert_eq!(
        b.script("return sessionStorage.length", json!([])).await,
        json!(0)
    );
    b.goto(&format!("{}/#/streams/{stream}", server.url()))
        .await;
    b.find("#token").await;
}
