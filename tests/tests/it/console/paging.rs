//! Recent deliveries are newest first and paged, twenty to a page, by cursor: the pages together
//! show every event the API listed when the first page was read, in the API's order, each once,
//! although ten more events arrive while the first page is on screen; and "Newer" walks back.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestReceiver, TestServer};

use super::{open_webhook, with_browser};
use crate::webdriver::Browser;

const EVENTS: usize = 45;
const ARRIVING: usize = 10;

async fn ping(server: &TestServer, token: &str, hook: &str, stream: &str) {
    server
        .gql_ok(
            token,
            "mutation($w: WebhookPingInput!) { webhookPing(webhook: $w) }",
            json!({ "w": { "id": hook, "streamId": stream, "trigger": "commit_create" } }),
        )
        .await;
}

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
        ping(&server, &ada.token, &hook, &stream).await;
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
        open_webhook(&b, &server, &ada, &stream, &hook).await;
        let mut seen = Vec::new();
        for (page, size) in [(1, 20), (2, 20), (3, 5)] {
            // Ten more events arrive after the first page was read; the later pages count them
            // but do not shift.
            let total = if page == 1 { EVENTS } else { EVENTS + ARRIVING };
            let info = format!("Page {page} of 3 · {total} events");
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
            if page == 1 {
                for _ in 0..ARRIVING {
                    ping(&server, &ada.token, &hook, &stream).await;
                }
            }
            if page < 3 {
                b.find("#older").await.click().await;
            } else {
                assert_eq!(hidden(&b, "#older").await, json!(true));
            }
        }
        assert_eq!(
            seen, expected,
            "the pages, in order, are the API's history as the first page was read"
        );
        let third = b.script("return location.hash", json!([])).await;
        b.find("#newer").await.click().await;
        b.wait(
            "back on page 2",
            "/\\/page\\/2\\/[^/]+$/.test(location.hash) && \
             document.querySelector('.pager .muted')?.textContent.startsWith('Page 2 of 3')",
        )
        .await;
        assert_eq!(ids(&b).await, expected[20..40], "the same second page");
        assert_ne!(b.script("return location.hash", json!([])).await, third);
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
