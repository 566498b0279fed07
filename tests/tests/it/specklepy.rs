//! The Speckle Python SDK against the real server, in two releases from PyPI: specklepy 3.2.8
//! (pinned in `.ci/requirements.txt`, found with `testkit::interop::python_with`) and 2026.9.1,
//! what `pip install specklepy` gives today (`.ci/requirements-latest.txt`,
//! `latest_python_with`). Each runs `tests/interop/specklepy/session.py`, a user's first session
//! with only specklepy's public API: authenticate, `server.get`, `active_user.get`, project
//! create/get/update/delete, model create, `operations.send` through `ServerTransport`,
//! `version.create`, `version.received`, `operations.receive`. The script prints one JSON line per
//! step (the first names the specklepy version, checked against the pin); this test asserts on
//! them and on the signed webhook delivery each change causes, received by a real HTTP endpoint and
//! checked with an HMAC computed here, not with the server's signing code. specklepy 2026's
//! `send3` (model ingestion and `/api/v2` uploads) is out of scope, so the session sends with
//! `operations.send`, which both releases have.
//!
//! Runs on SQLite, or on PostgreSQL with TEST_DATABASE_URL. Bounded: the script gets 180 s
//! (it takes a few seconds), each delivery 15 s.

use std::collections::HashMap;
use std::time::Duration;

use entity::object;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;
use streamhooks_api::testkit::{interop, TestReceiver, TestServer};

use crate::support::verified_payload;

const SECRET: &str = "specklepy-interop-s3cr3t";
/// The changes the session makes, each a trigger the webhook subscribes to.
const EXPECTED_EVENTS: [&str; 5] = [
    "branch_create",
    "commit_create",
    "commit_receive",
    "stream_delete",
    "stream_update",
];

/// Runs the script; returns its steps by name. Panics with the script's output on failure.
async fn run_session(python: &std::path::Path, args: &[String]) -> HashMap<String, Value> {
    let script = interop::workspace_root().join("tests/interop/specklepy/session.py");
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .unwrap_or_else(|_| panic!("specklepy session did not finish within 180 s"))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut steps = HashMap::new();
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(err) = v.get("error") {
            panic!(
                "specklepy step {} failed: {err}\n{}\nstderr:\n{stderr}",
                v["step"],
                v["trace"].as_str().unwrap_or("")
            );
        }
        let name = v["step"].as_str().unwrap_or_default().to_owned();
        steps.insert(name, v);
    }
    assert!(
        out.status.success(),
        "session.py exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    steps
}

#[tokio::test]
async fn specklepy_3_session_works_end_to_end_with_signed_webhooks() {
    if let Some(python) = interop::python_with(&["specklepy"]) {
        session_works_end_to_end(&python, false).await;
    }
}

#[tokio::test]
async fn specklepy_2026_session_works_end_to_end_with_signed_webhooks() {
    if let Some(python) = interop::latest_python_with(&["specklepy"]) {
        session_works_end_to_end(&python, true).await;
    }
}

/// The session with the specklepy of `python`, which must be the release pinned in the
/// requirements file (`latest`: `.ci/requirements-latest.txt`).
async fn session_works_end_to_end(python: &std::path::Path, latest: bool) {
    let server = TestServer::start().await;
    let receiver = TestReceiver::start().await;
    let user = server.create_user("Speckle Py", "py@example.com").await;

    let args = [
        server.url(),
        user.token.clone(),
        receiver.url(),
        SECRET.to_owned(),
    ];
    let steps = run_session(python, &args).await;
    let s = |name: &str| -> &Value {
        steps
            .get(name)
            .unwrap_or_else(|| panic!("step {name} missing from {steps:?}"))
    };
    let pinned = interop::pinned_version(latest, "specklepy");
    assert_eq!(s("specklepy")["version"].as_str(), pinned.as_deref());

    assert_eq!(s("authenticate")["user_id"], user.id.as_str());
    assert_eq!(s("server.get")["name"], "streamhooks");
    assert_eq!(s("active_user.get")["id"], user.id.as_str());
    assert_eq!(s("active_user.get")["email"], "py@example.com");
    let project = s("project.create")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(s("project.create")["name"], "specklepy session 🌻");
    assert_eq!(s("project.create")["visibility"], "PRIVATE");
    assert_eq!(s("project.get")["id"], project.as_str());
    assert_eq!(s("project.get")["description"], "made by specklepy");
    assert_eq!(s("project.update")["name"], "renamed by specklepy");
    assert_eq!(s("project.update")["description"], "new ✓");
    let model = s("model.create")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(s("model.create")["name"], "structure/level 1");
    let object_id = s("operations.send")["object_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(object_id.len(), 32, "{object_id}");
    let version = s("version.create")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(s("version.create")["referenced_object"], object_id.as_str());
    assert_eq!(s("version.received")["result"], true);
    let received = s("operations.receive");
    assert_eq!(received["id"], object_id.as_str());
    assert_eq!(received["equal"], true, "{received}");
    assert_eq!(
        (received["storeys"].as_i64(), received["readings"].as_i64()),
        (Some(12), Some(1000))
    );
    assert_eq!(s("project.delete")["result"], true);
    let webhook = s("webhookCreate")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Each change reached the receiver, signed with the webhook's secret.
    let mut by_event: HashMap<String, Value> = HashMap::new();
    for _ in EXPECTED_EVENTS {
        let r = receiver
            .next(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("deliveries so far: {:?}", by_event.keys()));
        let p = verified_payload(&r, SECRET);
        let name = p["event"]["event_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(r.header("x-webhook-event"), Some(name.as_str()));
        assert_eq!(p["streamId"], project.as_str(), "{name}");
        assert_eq!(p["userId"], user.id.as_str(), "{name}");
        assert_eq!(p["webhook"]["id"], webhook.as_str(), "{name}");
        assert!(p["webhook"].get("secret").is_none(), "{name}");
        assert!(p["user"].get("email").is_none(), "{name}");
        assert!(
            by_event.insert(name.clone(), p).is_none(),
            "{name} delivered twice"
        );
    }
    let mut names: Vec<&str> = by_event.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, EXPECTED_EVENTS);

    let data = |e: &str| by_event[e]["event"]["data"].clone();
    assert_eq!(data("stream_update")["old"]["name"], "specklepy session 🌻");
    assert_eq!(data("stream_update")["new"]["name"], "renamed by specklepy");
    assert_eq!(data("branch_create")["branch"]["id"], model.as_str());
    assert_eq!(data("branch_create")["branch"]["name"], "structure/level 1");
    for e in ["commit_create", "commit_receive"] {
        let d = data(e);
        assert_eq!(d["id"], version.as_str(), "{e}");
        assert_eq!(d["projectId"], project.as_str(), "{e}: {d}");
        assert_eq!(d["modelId"], model.as_str(), "{e}: {d}");
        assert_eq!(d["versionId"], version.as_str(), "{e}: {d}");
    }
    assert_eq!(
        data("commit_create")["commit"]["objectId"],
        object_id.as_str()
    );
    assert_eq!(
        data("commit_create")["commit"]["message"],
        "first version from specklepy"
    );
    assert_eq!(data("commit_receive")["sourceApplication"], "py");
    assert_eq!(data("stream_delete")["stream"]["id"], project.as_str());

    // The objects were stored (operations.receive read them back) and left with the project.
    let left = object::Entity::find()
        .filter(object::Column::StreamId.eq(project.as_str()))
        .count(&server.running.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left, 0);
    server.shutdown().await;
}
