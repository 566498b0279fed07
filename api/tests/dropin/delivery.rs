//! What a delivery from Speckle's tables looks like from both ends: the receiver gets the stock
//! service's exact bytes and signature (plus our headers, which independent verifiers check), and
//! Speckle's web app, reading `status`/`statusInfo`, sees what happened.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{interop, Received, TestReceiver};
use tokio::io::AsyncWriteExt;

use crate::harness::*;

const SECRET: &str = "s3cr3t 🔑 ünï";

/// The body and signature the stock service would send for `stored` (`stock-body.mjs`).
async fn stock_request(stored: &str, secret: &str) -> (String, String) {
    let mut child = tokio::process::Command::new("node")
        .args(["stock-body.mjs", secret])
        .current_dir(speckle_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node stock-body.mjs: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(stored.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child
        .wait_with_output()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    (
        v["body"].as_str().unwrap_or_default().to_owned(),
        v["signature"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Runs `tests/interop/wire/verify.py` (Speckle ≥ 2.12's check, `standardwebhooks`, `svix`) on
/// `r`; every check must pass. Skipped (or failed in CI) without the Python packages.
async fn independent_verifiers_accept(r: &Received, secret: &str) {
    let Some(python) = interop::python_with(&["standardwebhooks", "svix"]) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("streamhooks-dropin-wire-{}", random_id(12)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let body_file = dir.join("0.body");
    std::fs::write(&body_file, &r.body).unwrap_or_else(|e| panic!("{e}"));
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let checks: Vec<Value> = [
        ("speckle", ""),
        ("standardwebhooks", "whsec"),
        ("svix", "whsec"),
    ]
    .iter()
    .map(|(kind, form)| json!({ "kind": kind, "secret": secret, "form": form, "shift": 0 }))
    .collect();
    let job = json!({ "requests": [{ "name": "speckle", "body_file": body_file,
                                      "headers": headers, "checks": checks }] });
    let job_file = dir.join("job.json");
    std::fs::write(&job_file, job.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = tokio::process::Command::new(python)
        .arg(interop::workspace_root().join("tests/interop/wire/verify.py"))
        .arg(&job_file)
        .output()
        .await
        .unwrap_or_else(|e| panic!("verify.py: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify.py: {stdout}");
    let verdicts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(verdicts.len(), 3, "{stdout}");
    for v in verdicts {
        assert_eq!(v["ok"], json!(true), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_with_the_stock_services_bytes_and_status_2() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let hook = s.webhook(&rx.url(), Some(SECRET), &["commit_create"]).await;
    let data = json!({ "id": "c1", "commit": { "message": "Ünïcødé – 日本語 🌻 \"quoted\" \\ \u{2028}",
                                                "totalChildrenCount": 1.5e3 } });
    let ids = s.queue(&hook, "commit_create", data, 1).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        ids[0].len(),
        20,
        "Speckle's ids are 20 characters: {}",
        ids[0]
    );
    let probe = probe_path();
    let env = base_env(&s.db.url, &probe);
    let d = Dispatcher::start(&env, &[]).await;

    let r = rx
        .next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("nothing delivered"));
    let e = s
        .wait_event(&ids[0], Duration::from_secs(10), |e| e.status == 2)
        .await;
    assert_eq!(e.status_info, "Webhook called");

    let stored: String =
        sea_orm::sqlx::query_scalar("SELECT payload FROM webhooks_events WHERE id = $1")
            .bind(&ids[0])
            .fetch_one(&s.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let (body, signature) = stock_request(&stored, SECRET).await;
    assert!(
        r.body == body.as_bytes(),
        "not the stock service's bytes:\n ours  {}\n stock {body}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("x-webhook-signature"), Some(signature.as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-webhook-event"), Some("commit_create"));
    assert!(r
        .header("webhook-signature")
        .is_some_and(|s| s.starts_with("v1,")));
    independent_verifiers_accept(&r, SECRET).await;

    let seen = attempts(&env, &["--event", &ids[0]]).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["statusCode"], json!(200));
    assert_eq!(seen[0]["outcome"], json!("success"));
    assert_eq!(seen[0]["webhookId"], json!(hook.id));
    assert_eq!(
        seen[0]["deliveryId"].to_string(),
        r.header("webhook-id").unwrap_or_default()
    );
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

/// Speckle's signature of `body` under `secret` (its `createHmac('sha256', secret)`), written
/// here rather than taken from the engine.
fn speckle_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One claim takes the events of several webhooks at once and reads each webhook once, with the
/// first of its events: every event must still go to its own webhook's URL, signed with its own
/// secret (or the empty key), and each exactly once, for a webhook with one event as for one with
/// several.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_several_webhooks_in_one_claim_each_go_to_their_own() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let webhooks = [(Some("alpha 🔑"), 4), (Some("beta-ünï"), 1), (None, 3)];
    let mut hooks = Vec::new();
    let mut ids = Vec::new();
    for (secret, events) in webhooks {
        let rx = TestReceiver::start().await;
        let hook = s.webhook(&rx.url(), secret, &["commit_create"]).await;
        ids.extend(
            s.queue(&hook, "commit_create", json!({ "id": "c1" }), events)
                .await,
        );
        hooks.push((rx, hook, secret, events));
    }
    let probe = probe_path();
    let d = Dispatcher::start(&base_env(&s.db.url, &probe), &[]).await;
    for (rx, hook, secret, n) in &hooks {
        let mut events = Vec::new();
        for _ in 0..*n {
            let r = rx.expect_next(Duration::from_secs(10)).await;
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            assert_eq!(body["payload"]["webhook"]["id"], json!(hook.id), "{body}");
            assert_eq!(
                r.header("x-webhook-signature"),
                Some(speckle_signature(secret.unwrap_or_default(), &r.body).as_str()),
                "webhook {}",
                hook.id
            );
            events.push(r.header("webhook-id").unwrap_or_default().to_owned());
        }
        events.sort();
        events.dedup();
        assert_eq!(events.len(), *n, "a delivery sent twice: {events:?}");
        assert!(
            rx.next(Duration::from_millis(300)).await.is_none(),
            "more than its {n} events reached webhook {}",
            hook.id
        );
    }
    for id in &ids {
        let e = s
            .wait_event(id, Duration::from_secs(10), |e| e.status == 2)
            .await;
        assert_eq!(e.status_info, "Webhook called");
    }
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_then_200_waits_at_1_with_the_reason_then_ends_at_2() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    rx.set_status(503);
    let hook = s.webhook(&rx.url(), None, &["commit_create"]).await;
    let ids = s
        .queue(&hook, "commit_create", json!({ "id": "c2" }), 1)
        .await;
    let probe = probe_path();
    let mut env = base_env(&s.db.url, &probe);
    env.push(("RETRY_SCHEDULE".into(), "1s,1s".into()));
    let d = Dispatcher::start(&env, &[]).await;

    rx.next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no first attempt"));
    let waiting = s
        .wait_event(&ids[0], Duration::from_secs(10), |e| {
            e.status_info.contains("503")
        })
        .await;
    assert_eq!(waiting.status, 1, "{waiting:?}");
    assert!(
        waiting.status_info.contains("Attempt 1 of 3")
            && waiting.status_info.contains("next attempt at"),
        "{}",
        waiting.status_info
    );
    rx.set_status(200);
    rx.next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no retry"));
    let done = s
        .wait_event(&ids[0], Duration::from_secs(10), |e| e.status == 2)
        .await;
    assert_eq!(done.status_info, "Webhook called");
    assert!(done.last_update > waiting.last_update);

    let seen = attempts(&env, &["--webhook", &hook.id]).await;
    let codes: Vec<Value> = seen.iter().map(|a| a["statusCode"].clone()).collect();
    assert_eq!(
        codes,
        vec![json!(200), json!(503)],
        "newest first: {seen:?}"
    );
    assert_eq!(seen[1]["number"], json!(1));
    assert_eq!(seen[0]["number"], json!(2));
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_end_at_3_with_the_http_code_and_203_is_no_success() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let failing = TestReceiver::start().await;
    failing.set_status(500);
    let non_authoritative = TestReceiver::start().await;
    non_authoritative.set_status(203);
    let a = s.webhook(&failing.url(), None, &["branch_create"]).await;
    let b = s
        .webhook(&non_authoritative.url(), None, &["branch_create"])
        .await;
    let ea = s
        .queue(&a, "branch_create", json!({ "name": "main" }), 1)
        .await;
    let eb = s
        .queue(&b, "branch_create", json!({ "name": "main" }), 1)
        .await;
    let probe = probe_path();
    let env = base_env(&s.db.url, &probe);
    let d = Dispatcher::start(&env, &[]).await;

    for (id, code) in [(&ea[0], "500"), (&eb[0], "203")] {
        let e = s
            .wait_event(id, Duration::from_secs(15), |e| e.status == 3)
            .await;
        assert!(
            e.status_info.contains(&format!("HTTP {code}"))
                && e.status_info.contains("Attempt 3 of 3"),
            "{e:?}"
        );
        let seen = attempts(&env, &["--event", id]).await;
        assert_eq!(seen.len(), 3, "{seen:?}");
    }
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_disabled_after_queuing_is_not_sent() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let hook = s.webhook(&rx.url(), None, &["stream_update"]).await;
    let ids = s
        .queue(&hook, "stream_update", json!({ "old": {}, "new": {} }), 2)
        .await;
    sea_orm::sqlx::query("UPDATE webhooks_config SET enabled = false WHERE id = $1")
        .bind(&hook.id)
        .execute(&s.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let probe = probe_path();
    let d = Dispatcher::start(&base_env(&s.db.url, &probe), &[]).await;
    for id in &ids {
        let e = s
            .wait_event(id, Duration::from_secs(10), |e| e.status == 3)
            .await;
        assert!(e.status_info.contains("disabled"), "{e:?}");
    }
    assert!(
        rx.next(Duration::from_millis(300)).await.is_none(),
        "sent anyway"
    );
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_deleted_mid_retry_gets_nothing_more_and_leaves_no_rows_of_ours() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    rx.set_status(503);
    let hook = s.webhook(&rx.url(), None, &["commit_delete"]).await;
    let ids = s
        .queue(&hook, "commit_delete", json!({ "id": "c3" }), 1)
        .await;
    let probe = probe_path();
    let mut env = base_env(&s.db.url, &probe);
    env.push(("RETRY_SCHEDULE".into(), "700ms,700ms,700ms".into()));
    let d = Dispatcher::start(&env, &[]).await;
    rx.next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no first attempt"));
    s.wait_event(&ids[0], Duration::from_secs(10), |e| {
        e.status_info.contains("503")
    })
    .await;
    // Speckle's webhookDelete: the config row goes, its events with it by cascade.
    sea_orm::sqlx::query("DELETE FROM webhooks_config WHERE id = $1")
        .bind(&hook.id)
        .execute(&s.pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rx.next(Duration::from_millis(2_000)).await.is_none(),
        "a retry went to a deleted webhook"
    );
    let start = std::time::Instant::now();
    loop {
        let left: i64 = sea_orm::sqlx::query_scalar("SELECT count(*) FROM streamhooks.deliveries")
            .fetch_one(&s.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if left == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "orphans were not swept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_a_crashed_service_left_at_1_is_adopted_once_old_enough() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let hook = s.webhook(&rx.url(), None, &["commit_update"]).await;
    let ids = s
        .queue(&hook, "commit_update", json!({ "old": {}, "new": {} }), 2)
        .await;
    // As the stock service leaves a row it took and never finished: 1, "Pending", lastUpdate of
    // the claim. One a minute ago, one just now (it may still be in flight somewhere).
    sea_orm::sqlx::query(
        "UPDATE webhooks_events SET status = 1, \"lastUpdate\" = now() - interval '60 seconds' \
         WHERE id = $1",
    )
    .bind(&ids[0])
    .execute(&s.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    sea_orm::sqlx::query(
        "UPDATE webhooks_events SET status = 1, \"lastUpdate\" = now() WHERE id = $1",
    )
    .bind(&ids[1])
    .execute(&s.pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let probe = probe_path();
    let mut env = base_env(&s.db.url, &probe);
    env.push(("ADOPT_AFTER".into(), "30s".into()));
    let d = Dispatcher::start(&env, &[]).await;
    let old = s
        .wait_event(&ids[0], Duration::from_secs(10), |e| e.status == 2)
        .await;
    assert_eq!(old.status_info, "Webhook called");
    assert_eq!(rx.drain().await.len(), 1, "one request, for the old row");
    let recent = s.event(&ids[1]).await;
    assert_eq!(recent.status, 1, "a recent row at 1 was taken: {recent:?}");
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}
