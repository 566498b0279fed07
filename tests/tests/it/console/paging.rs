//! Recent deliveries are newest first and paged, twenty to a page: the pages together show every
//! event the API lists, in the API's order, each once.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestReceiver, TestServer};

use super::{sign_in, with_browser};
use crate::webdriver::Browser;

const EVENTS: usize = 45;

#[tokio::test]
async fn recent_deliveries_are_newest_first_twenty_to_a_page() {
    let server = TestServer::start().await;
    let receiver = TestReceiver::start().await;
    let ada = server.create_user("Ada", "ada@example.com").await;
    let stream = server.create_stream(&ada, "Paging").await;
    let hook = server
        .create_webhook(&ada, &stream, &receiver.url(), &["commit_create"], None)
        .await;
    for _ in 0..EVENTS {
        server
            .gql_ok(
                &ada.token,
                "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }",
                json!({ "w": { "id": hook, "streamId": stream, "trigger": "commit_create" } }),
            )
            .await;
    }
    let history = server
        .wait_for_history(&ada, &stream, &hook, Duration::from_secs(20), |h| {
            h.len() == EVENTS && h.iter().all(|e| e["status"] == 2)
        })
        .await;
    assert_eq!(history.len(), EVENTS);
    let expected: Vec<String> = history
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect();

    with_browser(move |b| async move {
        sign_in(&b, &server, &ada).await;
        b.goto(&format!(
            "{}/#/streams/{stream}/webhooks/{hook}",
            server.url()
        ))
        .await;
        let mut seen = Vec::new();
        for (page, size) in [(1, 20), (2, 20), (3, 5)] {
            let info = format!("Page {page} of 3 · {EVENTS} events");
            b.wait(
                &format!("page {page}"),
                &format!(
                    "document.querySelector('.pager .muted')?.textContent === {} && \
                     document.querySelectorAll('#deliveries > li').length === {size}",
                    json!(info)
                ),
            )
            .await;
            seen.extend(ids(&b).await);
            if page < 3 {
                b.find("#older").await.click().await;
            } else {
                assert_eq!(hidden(&b, "#older").await, json!(true));
            }
        }
        assert_eq!(seen, expected, "the pages, in order, are the API's history");
        b.find("#newer").await.click().await;
        b.wait("back on page 2", "location.hash.endsWith('/page/2')")
            .await;
        b.close().await;
        server.shutdown().await;
    })
    .await;
}

async fn ids(b: &Browser) -> Vec<String> {
    let v = b
        .script(
            "return [...document.querySelectorAll('#deliveries > li')].map((li) => li.dataset.id)",
            json!([]),
        )
        .await;
    serde_json::from_value(v).unwrap_or_default()
}

async fn hidden(b: &Browser, css: &str) -> Value {
    b.script(
        "return document.querySelector(arguments[0]).hidden",
        json!([css]),
    )
    .await
}
