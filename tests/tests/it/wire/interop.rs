//! Both formats, with Unicode, emoji and a 1 MB payload, through the whole server (an event
//! reported on `POST /api/events`, fanned out, claimed, sent), verified by every independent
//! verifier that applies and refused by those that must refuse it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use streamhooks_api::testkit::{Received, TestReceiver, TestServer, TEST_ARGS};

use super::{assert_verdicts, header, python, verify, Check};

const SECRET: &str = "s3cr3t 🔑 ünï";

/// `event.data` of each test event: what its payload must carry through.
fn payload_data() -> Vec<(&'static str, Value)> {
    // Quotes, backslashes, control characters and emoji: every escape a JSON writer makes.
    let chunk = "Lorem ipsum 🌻 ünï \"quoted\" \\ back\nslash, 日本語 👩‍👩‍👧‍👦. ";
    let big = chunk.repeat((1 << 20) / chunk.len() + 1);
    vec![
        (
            "unicode",
            json!({ "name": "Ünïcødé – ñandú, 日本語, Ελληνικά, \u{2028}\u{2029}\u{7f}", "tab": "\t" }),
        ),
        (
            "emoji",
            json!({ "description": "Golden Nugget 🌻 good times 🌞👩‍👩‍👧‍👦🏳️‍🌈" }),
        ),
        ("one megabyte", json!({ "description": big })),
    ]
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The body the format should have produced from the stored payload `p`.
fn expected_body(format: &str, p: &str) -> Vec<u8> {
    match format {
        "speckle-string" => json!({ "payload": p }).to_string().into_bytes(),
        _ => format!("{{\"payload\":{p}}}").into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_formats_verify_with_every_independent_verifier() {
    let Some(python) = python() else { return };
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--max-request-bytes", "8388608"]);
    let server = TestServer::start_with(&args, true).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let admin = server.create_admin("Admin Ada", "ada@example.com").await;
    let stream = server.create_stream(&owner, "Golden Nugget 🌻").await;
    let mut hooks = Vec::new();
    for format in ["speckle-string", "speckle-object"] {
        let receiver = TestReceiver::start().await;
        let input = json!({ "streamId": stream, "url": receiver.url(),
                            "triggers": ["stream_update"], "secret": SECRET, "format": format });
        let id = server.create_webhook_with(&owner, input).await;
        hooks.push((format, id, receiver));
    }

    let http = reqwest::Client::new();
    let mut captured: Vec<(String, &'static str, Received)> = Vec::new();
    for (what, data) in payload_data() {
        let body = json!({ "streamId": stream, "userId": owner.id, "event": "stream_update", "data": data });
        let resp = http
            .post(format!("{}/api/events", server.url()))
            .header("authorization", format!("Bearer {}", admin.token))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/events: {e}"));
        assert_eq!(
            resp.status().as_u16(),
            202,
            "{what}: {:?}",
            resp.text().await
        );
        for (format, hook, receiver) in &hooks {
            let r = receiver
                .next(Duration::from_secs(20))
                .await
                .unwrap_or_else(|| panic!("{what} ({format}) was not delivered"));
            // The stored payload (history) and the body built from it at send time.
            let history = server
                .wait_for_history(&owner, &stream, hook, Duration::from_secs(10), |h| {
                    h.first().is_some_and(|e| e["status"] == json!(2))
                })
                .await;
            let event = &history[0];
            let p = event["payload"].as_str().unwrap_or_default();
            let stored: Value = serde_json::from_str(p).unwrap_or_default();
            assert_eq!(stored["event"]["data"], payload_data_of(what), "{what}");
            assert!(
                r.body == expected_body(format, p),
                "{what} ({format}): the body is not the expected bytes"
            );
            if what == "one megabyte" {
                assert!(r.body.len() > 1 << 20, "{}", r.body.len());
            }
            let id = event["id"].as_str().unwrap_or_default();
            assert_eq!(header(&r, "webhook-id"), id, "{what} ({format})");
            assert_eq!(header(&r, "x-webhook-delivery"), id);
            let ts: i64 = header(&r, "webhook-timestamp").parse().unwrap_or(0);
            assert!((unix_now() - ts).abs() <= 60, "timestamp {ts}");
            assert_eq!(
                header(&r, "webhook-signature").split(' ').count(),
                1,
                "no rotation: one signature"
            );
            captured.push((format!("{what} ({format})"), format, r));
        }
    }

    let checks = |format: &str| -> (Vec<Check>, Vec<bool>) {
        let mut c = vec![
            Check::seed000(SECRET),
            Check::speckle(SECRET),
            Check::library("standardwebhooks", SECRET, "whsec"),
            Check::library("standardwebhooks", SECRET, "bytes"),
            Check::library("svix", SECRET, "whsec"),
            Check::library("svix", SECRET, "base64"),
        ];
        // Each format is verified by its own Speckle generation's receiver and refused by the
        // other's: the formats really differ where they must.
        let string = format == "speckle-string";
        let mut e = vec![string, !string, true, true, true, true];
        // A wrong secret, and a replay six minutes later, are refused by both libraries.
        c.extend([
            Check::library("standardwebhooks", "s3cr3t", "whsec"),
            Check::library("svix", "S3CR3T 🔑 ÜNÏ", "whsec"),
            Check::replay("standardwebhooks", SECRET),
            Check::replay("svix", SECRET),
        ]);
        e.extend([false, false, false, false]);
        (c, e)
    };
    let jobs: Vec<(&str, &Received, Vec<Check>)> = captured
        .iter()
        .map(|(name, format, r)| (name.as_str(), r, checks(format).0))
        .collect();
    let verdicts = verify(&python, &jobs).await;
    for ((name, format, _), v) in captured.iter().zip(&verdicts) {
        let (c, e) = checks(format);
        assert_verdicts(name, &c, v, &e);
        for replay in &v[8..] {
            assert!(
                replay.error.contains("Message timestamp too old"),
                "{name}: {}",
                replay.error
            );
        }
    }
    server.shutdown().await;
}

fn payload_data_of(what: &str) -> Value {
    payload_data()
        .into_iter()
        .find(|(w, _)| *w == what)
        .map(|(_, d)| d)
        .unwrap_or_default()
}
