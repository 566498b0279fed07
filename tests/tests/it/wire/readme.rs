//! The README's Python verification snippet, run as written (and with its svix import line), on
//! real deliveries of both formats: what a reader copies must work.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{interop as clients, Received, TestReceiver, TestServer};

use super::python;

/// The ```python block that follows the `verify-snippet` marker in README.md.
fn snippet() -> String {
    let readme = std::fs::read_to_string(clients::workspace_root().join("README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let after = readme
        .split_once("<!-- verify-snippet:")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("README.md has no verify-snippet marker"));
    let code = after
        .split_once("```python\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(code, _)| code)
        .unwrap_or_else(|| panic!("no python block after the marker"));
    code.to_owned()
}

/// Runs `code` plus a few lines that feed it `r` and print the verified payload.
async fn run(python: &std::path::Path, code: &str, r: &Received) -> Result<Value, String> {
    let dir =
        std::env::temp_dir().join(format!("streamhooks-readme-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
        .collect();
    std::fs::write(dir.join("body"), &r.body).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("headers.json"), Value::Object(headers).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let harness = format!(
        "{code}\n\nimport sys\nbody = open(sys.argv[1], 'rb').read()\n\
         headers = json.load(open(sys.argv[2]))\nprint(json.dumps(verify(body, headers)))\n"
    );
    std::fs::write(dir.join("snippet.py"), harness).unwrap_or_else(|e| panic!("{e}"));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(python)
            .arg(dir.join("snippet.py"))
            .arg(dir.join("body"))
            .arg(dir.join("headers.json"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("the snippet did not finish within 60 s"))
    .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_snippet_verifies_real_deliveries() {
    let Some(python) = python() else { return };
    let code = snippet();
    assert!(code.contains("SECRET = \"s3cr3t\""), "{code}");
    let svix = code.replace(
        "from standardwebhooks import Webhook",
        "from svix.webhooks import Webhook",
    );
    assert_ne!(svix, code, "the import line to swap is in the snippet");
    let wrong = code.replace("SECRET = \"s3cr3t\"", "SECRET = \"s3cr3T\"");

    let server = TestServer::start().await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "Golden Nugget 🌻").await;
    for format in ["speckle-string", "speckle-object"] {
        let receiver = TestReceiver::start().await;
        let input = json!({ "streamId": stream, "url": receiver.url(),
                            "triggers": ["stream_update"], "secret": "s3cr3t", "format": format });
        let hook = server.create_webhook_with(&owner, input).await;
        server.ping(&owner, &stream, &hook, None).await;
        let r = receiver
            .next(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{format}: the ping was not delivered"));
        for (which, code) in [("standardwebhooks", &code), ("svix", &svix)] {
            let payload = run(&python, code, &r)
                .await
                .unwrap_or_else(|e| panic!("{format}, {which}: the snippet refused: {e}"));
            assert_eq!(payload["event"]["event_name"], json!("stream_update"));
            assert_eq!(payload["stream"]["name"], json!("Golden Nugget 🌻"));
            assert_eq!(payload["webhook"]["id"], json!(hook));
        }
        let refused = run(&python, &wrong, &r).await.map(|_| ());
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("WebhookVerificationError")),
            "{format}: a wrong secret must be refused: {refused:?}"
        );
    }
    server.shutdown().await;
}
