//! Text that a receiver or a user controls (a response body, a stream name, a webhook's
//! description and URL path, and the payload that carries them) is shown by the console as text
//! and runs nothing. The markup tries both to set a global and to call back to the receiver; the
//! test asserts neither happened and that no element was made from it. The page's CSP would
//! block such scripts anyway, so the test also checks the DOM itself (no `img`, no extra
//! `script`, no `on…` attribute), which only holds if the console never parsed the text as HTML.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};
use streamhooks_api::testkit::{Reply, TestReceiver, TestServer, TestUser};

use super::{sign_in, with_browser};
use crate::webdriver::Browser;

/// A receiver that answers every request with 500 and a body of markup; a GET it records would be
/// the markup calling back.
struct HostileReceiver {
    receiver: TestReceiver,
    body: String,
}

impl HostileReceiver {
    async fn start() -> Self {
        let receiver = TestReceiver::start().await;
        let body = format!(
            "<script>window.__pwned='body'</script><img src=x onerror=\"window.__pwned='img'\"><img src=\"http://{}/beacon\">",
            receiver.addr
        );
        receiver.set_reply(Reply {
            status: 500,
            headers: vec![
                ("content-type", "text/html".into()),
                ("x-hostile", HEADER.into()),
            ],
            body: body.clone(),
        });
        Self { receiver, body }
    }

    /// Every request other than a delivery's POST.
    async fn gets(&self) -> Vec<String> {
        self.receiver
            .drain()
            .await
            .iter()
            .filter(|r| r.method != Method::POST)
            .map(|r| format!("{} {}", r.method, r.uri))
            .collect()
    }
}

const HEADER: &str = "<img src=x onerror=\"window.__pwned='header'\">";
const STREAM_NAME: &str = "<img src=x onerror=\"window.__pwned='stream'\">Nugget";
const DESCRIPTION: &str =
    "<script>window.__pwned='description'</script><b onmouseover=\"window.__pwned='b'\">hi</b>";

#[tokio::test]
async fn text_from_receivers_and_users_is_shown_as_text_and_runs_nothing() {
    let server = TestServer::start().await;
    let hostile = HostileReceiver::start().await;
    let ada = server
        .create_user("Ada <b>Lovelace</b>", "ada@example.com")
        .await;
    let stream = server.create_stream(&ada, STREAM_NAME).await;
    let url = format!(
        "http://{}/<img src=x onerror=window.__pwned='url'>",
        hostile.receiver.addr
    );
    let input = json!({ "streamId": stream, "url": url, "description": DESCRIPTION,
                        "triggers": ["stream_update"] });
    let id = server.create_webhook_with(&ada, input).await;
    server.ping(&ada, &stream, &id, None).await;
    let h = server
        .wait_for_history(&ada, &stream, &id, Duration::from_secs(10), |h| {
            h.first().is_some_and(|e| e["status"] == 3)
        })
        .await;
    let status_info = h[0]["statusInfo"].as_str().unwrap_or_default().to_owned();
    assert!(
        status_info.contains("<script>window.__pwned='body'</script>"),
        "the excerpt carries the markup: {status_info}"
    );

    with_browser(move |b| async move {
        let shown = Shown {
            url,
            status_info,
            body: hostile.body.clone(),
        };
        scenario(&b, &server, &ada, &stream, &id, &shown).await;
        let gets = hostile.gets().await;
        assert!(gets.is_empty(), "the page called the receiver: {gets:?}");
        b.close().await;
        server.shutdown().await;
    })
    .await;
}

/// What the page must show, character for character.
struct Shown {
    url: String,
    status_info: String,
    body: String,
}

/// Nothing ran and nothing was made of the markup on the current screen.
async fn assert_inert(b: &Browser, screen: &str) {
    let v = b
        .script(
            "return { pwned: window.__pwned ?? null, imgs: document.querySelectorAll('img').length, \
             scripts: document.querySelectorAll('script').length, bold: document.querySelectorAll('b').length, \
             handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length, \
             trusted: (() => { try { document.createElement('div').innerHTML = '<i>x</i>'; return 'assigned'; } catch (e) { return e.name; } })() }",
            json!([]),
        )
        .await;
    assert_eq!(
        v,
        json!({ "pwned": null, "imgs": 0, "scripts": 1, "bold": 0, "handlers": 0, "trusted": "TypeError" }),
        "on the {screen} screen"
    );
}

async fn scenario(
    b: &Browser,
    server: &TestServer,
    ada: &TestUser,
    stream: &str,
    id: &str,
    shown: &Shown,
) {
    let (url, status_info, hostile_body) = (
        shown.url.as_str(),
        shown.status_info.as_str(),
        shown.body.as_str(),
    );
    sign_in(b, server, ada).await;
    assert_eq!(b.find("#who").await.text().await, "Ada <b>Lovelace</b>");
    let link = b
        .find(&format!("#streams a[href='#/streams/{stream}']"))
        .await;
    assert_eq!(link.text().await, STREAM_NAME);
    assert_inert(b, "streams").await;

    link.click().await;
    let row = format!("li.hook[data-id='{id}']");
    b.wait(
        "the failed webhook",
        &format!("document.querySelector(\"{row}\")?.dataset.lastStatus === '3'"),
    )
    .await;
    assert_eq!(
        b.find(&format!("{row} .hook-title")).await.text().await,
        DESCRIPTION
    );
    assert_eq!(b.find(&format!("{row} .hook-url")).await.text().await, url);
    assert_eq!(b.find("h1").await.text().await, STREAM_NAME);
    b.find(&format!("{row} .status-btn")).await.hover().await;
    let tip = b.find(&format!("{row} .tip")).await.text().await;
    assert!(
        tip.contains(status_info),
        "tooltip {tip:?} shows {status_info:?}"
    );
    assert_inert(b, "webhooks").await;

    b.find(&format!("{row} [data-action=deliveries]"))
        .await
        .click()
        .await;
    b.find("#deliveries > li summary").await.click().await;
    let payload = b.find("#deliveries > li pre.payload").await.text().await;
    let parsed: Value = serde_json::from_str(&payload)
        .unwrap_or_else(|e| panic!("payload shown is not the JSON: {e}"));
    assert_eq!(parsed["webhook"]["description"], DESCRIPTION);
    assert_eq!(parsed["stream"]["name"], STREAM_NAME);
    assert_eq!(
        b.find("#deliveries > li .status-info").await.text().await,
        status_info
    );
    assert_eq!(b.find("#webhook-url").await.text().await, url);
    // The whole response, as the delivery record keeps it: body and headers, as text.
    b.find("#deliveries > li .attempt-list > li:first-child summary")
        .await
        .click()
        .await;
    let body = b
        .find("#deliveries > li pre.response-body")
        .await
        .text()
        .await;
    assert_eq!(body, hostile_body);
    let headers = b
        .find("#deliveries > li .attempt-body table")
        .await
        .text()
        .await;
    assert!(
        headers.contains(&format!("x-hostile {HEADER}")),
        "{headers}"
    );
    assert_inert(b, "deliveries").await;

    b.find("a.button[href$='/edit']").await.click().await;
    b.find("#wh-url").await;
    let shown = b.script("return [document.querySelector('#wh-url').value, document.querySelector('#wh-description').value]", json!([])).await;
    assert_eq!(shown, json!([url, DESCRIPTION]));
    assert_inert(b, "edit").await;
}
