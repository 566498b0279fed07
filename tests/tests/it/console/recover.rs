//! "Redeliver failed…" on Recent deliveries, in headless Chromium against the real server: the
//! receiver was down long enough for three events to fail for good and for the server to disable
//! the webhook. The owner opens the dialog (the time already 24 hours ago), is told how many
//! deliveries will be sent, is refused while the webhook stays disabled, ticks "Re-enable",
//! confirms, and watches the three turn green; the receiver gets each once more as itself.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use streamhooks_api::testkit::{TestReceiver, TestServer};

use super::{check_widths, open_webhook, webhooks, with_browser};

const ARGS: [&str; 10] = [
    "--allow-local-network",
    "true",
    "--retry-schedule",
    "50ms",
    "--request-timeout",
    "2s",
    "--lease",
    "5s",
    "--disable-after-failures",
    "3",
];

#[tokio::test]
async fn redeliver_failed_sends_them_again_and_they_turn_green() {
    let server = TestServer::start_with(&ARGS, true).await;
    let receiver = TestReceiver::start().await;
    let ada = server.create_user("Ada", "ada@example.com").await;
    let stream = server.create_stream(&ada, "Outage").await;
    let hook = server
        .create_webhook(&ada, &stream, &receiver.url(), &["stream_update"], None)
        .await;
    receiver.set_status(503);
    for i in 0..3 {
        server
            .update_stream(
                &ada,
                &stream,
                json!({ "description": format!("change {i}") }),
            )
            .await;
    }
    let failed = server
        .wait_for_history(&ada, &stream, &hook, Duration::from_secs(20), |h| {
            h.len() == 3 && h.iter().all(|e| e["status"] == 3)
        })
        .await;
    assert!(failed.iter().all(|e| e["status"] == 3), "{failed:?}");
    let failed: HashSet<String> = failed
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        webhooks(&server, &ada, &stream).await[0]["enabled"],
        json!(false),
        "three final failures in a row disabled it"
    );
    receiver.drain().await;
    receiver.set_status(200);

    with_browser(move |b| async move {
        open_webhook(&b, &server, &ada, &stream, &hook).await;
        b.wait(
            "three red deliveries",
            "document.querySelectorAll('#deliveries > li[data-status=failed]').length === 3",
        )
        .await;
        b.find("#redeliver-failed").await.click().await;
        b.wait(
            "the count",
            "document.querySelector('#redeliver-count')?.textContent.startsWith('3 deliveries failed for good since')",
        )
        .await;
        let since_ok = b
            .script(
                "const t = new Date(document.querySelector('#redeliver-since').value); \
                 return Math.abs(t.getTime() - (Date.now() - 864e5)) < 5 * 60e3",
                json!([]),
            )
            .await;
        assert_eq!(since_ok, json!(true), "the time defaults to 24 hours ago");
        assert_eq!(
            b.find("#redeliver-yes").await.text().await,
            "Redeliver 3 deliveries"
        );
        check_widths(&b, "redeliver-failed").await;

        // Still disabled: the server refuses, and the dialog says why.
        b.find("#redeliver-yes").await.click().await;
        b.wait(
            "the refusal",
            "document.querySelector('#redeliver-error')?.textContent.includes('is disabled')",
        )
        .await;
        b.find("#redeliver-enable").await.click().await;
        b.find("#redeliver-yes").await.click().await;
        b.wait(
            "the confirmation",
            "!document.querySelector('#redeliver-dialog') && document.querySelector('.notice.ok')?.textContent.startsWith('Queued 3 failed deliveries again')",
        )
        .await;
        b.wait(
            "three green deliveries",
            "document.querySelectorAll('#deliveries > li[data-status=sent]').length === 3",
        )
        .await;
        assert_eq!(
            b.script(
                "return document.querySelector('#webhook-disabled').hidden",
                json!([])
            )
            .await,
            json!(true)
        );

        let got = receiver.drain().await;
        assert_eq!(got.len(), 3, "each once");
        let ids: HashSet<String> = got
            .iter()
            .filter_map(|r| r.header("x-webhook-delivery").map(str::to_owned))
            .collect();
        assert_eq!(ids, failed, "the same deliveries, as themselves");
        assert!(got
            .iter()
            .all(|r| r.header("x-webhook-attempt") == Some("3")));
        assert_eq!(
            webhooks(&server, &ada, &stream).await[0]["enabled"],
            json!(true)
        );
        b.close().await;
        server.shutdown().await;
    })
    .await;
}
