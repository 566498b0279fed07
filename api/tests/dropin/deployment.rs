//! What Speckle's deployment expects of the container: the liveness file kept fresh, the chart's
//! `node -e` probe passing with our binary in Node's place, `/metrics` on
//! `PROMETHEUS_METRICS_PORT`, and every region's database served by one process.

use std::time::{Duration, Instant};

use serde_json::json;
use streamhooks_api::dropin::node::HELM_PROBE;
use streamhooks_api::testkit::TestReceiver;

use crate::harness::*;

fn probe_value(path: &std::path::Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The chart's probe, run as the chart runs it, through a link named `node` to our binary.
fn run_probe(node: &std::path::Path, script: &str) -> i32 {
    std::process::Command::new(node)
        .args(["-e", script])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", node.display()))
        .code()
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_liveness_file_stays_fresh_and_the_charts_node_probe_passes() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("streamhooks-nodejs-{}", random_id(12)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let node = dir.join("node");
    std::os::unix::fs::symlink(BIN, &node).unwrap_or_else(|e| panic!("{e}"));

    // Where the chart's probe reads it: the stock service's path, the default.
    let default = std::path::PathBuf::from(streamhooks_worker::speckle::probe::DEFAULT_PATH);
    let mut env = base_env(&s.db.url, &default);
    env.retain(|(k, _)| k != "STREAMHOOKS_PROBE_FILE");
    let started = chrono::Utc::now().timestamp_millis();
    let d = Dispatcher::start(&env, &[]).await;
    let start = Instant::now();
    let first = loop {
        match probe_value(&default) {
            Some(v) if v >= started => break v,
            _ => assert!(start.elapsed() < Duration::from_secs(5), "not written"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        run_probe(&node, HELM_PROBE),
        0,
        "fresh, yet the probe failed"
    );
    // Idle polls keep it current: rewritten about once a second.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let later = probe_value(&default).unwrap_or_default();
    assert!(later > first, "{later} is not later than {first}");
    d.stop().await;

    // The same script on a file of this test's: stale, missing, fresh.
    let own = probe_path();
    let script = HELM_PROBE.replace(
        streamhooks_worker::speckle::probe::DEFAULT_PATH,
        &own.display().to_string(),
    );
    let now = chrono::Utc::now().timestamp_millis();
    std::fs::write(&own, (now - 31_000).to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_probe(&node, &script), 1, "31 s old passed");
    std::fs::write(&own, (now - 5_000).to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_probe(&node, &script), 0);
    std::fs::remove_file(&own).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_probe(&node, &script), 1, "a missing file passed");
    // As `node`, it does nothing else.
    assert_eq!(run_probe(&node, "console.log(1)"), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_are_served_on_prometheus_metrics_port() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let hook = s.webhook(&rx.url(), None, &["commit_create"]).await;
    let ids = s.queue(&hook, "commit_create", json!({}), 3).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let probe = probe_path();
    let mut env = base_env(&s.db.url, &probe);
    env.push(("PROMETHEUS_METRICS_PORT".into(), port.to_string()));
    let d = Dispatcher::start(&env, &[]).await;
    assert_eq!(d.metrics, format!("127.0.0.1:{port}"));
    for id in &ids {
        s.wait_event(id, Duration::from_secs(10), |e| e.status == 2)
            .await;
    }
    let http = reqwest::Client::new();
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    for line in [
        "streamhooks_deliveries_total{outcome=\"success\"} 3",
        "streamhooks_speckle_pending{region=\"main\"} 0",
        "streamhooks_queue_depth 0",
        "streamhooks_delivery_duration_seconds_count 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    let health = http
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health.status().as_u16(), 200);
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_regions_database_is_served_by_one_process() {
    let Some(main) = Speckle::create().await else {
        return;
    };
    let Some(eu) = Speckle::create().await else {
        return;
    };
    let rx = TestReceiver::start().await;
    let main_hook = main.webhook(&rx.url(), None, &["commit_create"]).await;
    let eu_hook = eu.webhook(&rx.url(), None, &["commit_create"]).await;
    let in_main = main
        .queue(&main_hook, "commit_create", json!({ "r": "main" }), 2)
        .await;
    let in_eu = eu
        .queue(&eu_hook, "commit_create", json!({ "r": "eu" }), 2)
        .await;

    // Speckle's file, blob storage and all; PG_CONNECTION_STRING is not used then.
    let file = std::env::temp_dir().join(format!("multiregion-{}.json", random_id(8)));
    let config = json!({
        "main": { "postgres": { "connectionUri": main.db.url },
                  "blobStorage": { "endpoint": "http://minio:9000", "accessKey": "a", "secretKey": "s",
                                   "bucket": "speckle", "createBucketIfNotExists": true, "s3Region": "us-east-1" } },
        "regions": { "eu": { "postgres": { "connectionUri": eu.db.url },
                             "blobStorage": { "endpoint": "http://minio-eu:9000", "accessKey": "a", "secretKey": "s",
                                              "bucket": "speckle-eu", "createBucketIfNotExists": true, "s3Region": "eu-west-1" } } }
    });
    std::fs::write(&file, config.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let probe = probe_path();
    let mut env = base_env("postgres://127.0.0.1:1/unused", &probe);
    env.push(("FF_WORKSPACES_MULTI_REGION_ENABLED".into(), "true".into()));
    env.push((
        "MULTI_REGION_CONFIG_PATH".into(),
        file.display().to_string(),
    ));
    let d = Dispatcher::start(&env, &[]).await;
    for id in &in_main {
        main.wait_event(id, Duration::from_secs(10), |e| e.status == 2)
            .await;
    }
    for id in &in_eu {
        eu.wait_event(id, Duration::from_secs(10), |e| e.status == 2)
            .await;
    }
    assert_eq!(rx.drain().await.len(), 4);
    // Each region's side schema is its own.
    for (db, region) in [(&main, "main"), (&eu, "eu")] {
        let n: i64 = sea_orm::sqlx::query_scalar("SELECT count(*) FROM streamhooks.attempts")
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 2, "{region}");
    }
    let eu_attempts = attempts(&env, &["--region", "eu", "--webhook", &eu_hook.id]).await;
    assert_eq!(eu_attempts.len(), 2);
    d.stop().await;
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(probe);
}
