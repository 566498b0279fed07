//! The default limits let through what Speckle's own clients send:
//! - every GraphQL document in specklepy 3.2.8 and 2026.9.1 (PyPI `specklepy`, pinned in
//!   .ci/requirements.txt and .ci/requirements-latest.txt), read from their installed sources
//!   (`specklepy/core/api/resources/current/*.py` in 3, `specklepy/api/resources/current/*.py` in
//!   2026) at test time, with every `limit` variable at 100, the largest page Speckle serves;
//! - graphql-core's introspection query (what `gql` and GraphiQL-style tools send);
//! - frontend-2's webhook settings page documents, the verbatim copies in
//!   `tests/interop/frontend2/` (whose README names the commit and files), each with the
//!   fragments it spreads and the `__typename` Apollo adds to every selection set.
//!
//! Fields this server does not have yet fail validation, which is fine here: what is checked is
//! that no document is refused by a limit (whose sentences all name a GRAPHQL_MAX_ setting).

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::interop::{latest_python_with, python_with};

use super::within;
use crate::support::world;

const EXTRACT: &str = r#"
import ast, json, pathlib, graphql, specklepy
package = pathlib.Path(specklepy.__file__).parent
docs = []
for f in sorted([*package.glob("core/api/resources/current/*.py"),
                 *package.glob("api/resources/current/*.py")]):
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "gql" \
                and node.args and isinstance(node.args[0], ast.Constant):
            docs.append({"source": "specklepy " + f.name, "query": node.args[0].value})
docs.append({"source": "graphql-core introspection",
             "query": graphql.get_introspection_query(descriptions=True)})
for d in docs:
    d["variables"] = {v.variable.name.value: 100
                      for op in graphql.parse(d["query"]).definitions
                      for v in (getattr(op, "variable_definitions", None) or [])
                      if "limit" in v.variable.name.value.lower()}
print(json.dumps(docs))
"#;

fn not_limited(source: &str, r: &Value) {
    for e in r["errors"].as_array().cloned().unwrap_or_default() {
        let m = e["message"].as_str().unwrap_or_default();
        assert!(
            !m.contains("GRAPHQL_MAX_"),
            "{source} was refused by a limit: {m}"
        );
    }
}

#[tokio::test]
async fn every_specklepy_3_document_and_introspection_pass_the_default_limits() {
    if let Some(python) = python_with(&["specklepy", "graphql"]) {
        specklepy_documents_pass(&python).await;
    }
}

#[tokio::test]
async fn every_specklepy_2026_document_and_introspection_pass_the_default_limits() {
    if let Some(python) = latest_python_with(&["specklepy", "graphql"]) {
        specklepy_documents_pass(&python).await;
    }
}

async fn specklepy_documents_pass(python: &std::path::Path) {
    let out = Command::new(python)
        .args(["-c", EXTRACT])
        .output()
        .unwrap_or_else(|e| panic!("python: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(docs.len() > 50, "found only {} documents", docs.len());
    let w = world().await;
    for d in &docs {
        let source = d["source"].as_str().unwrap_or_default();
        let q = d["query"].as_str().unwrap_or_default();
        let r = within(
            Duration::from_secs(10),
            source,
            w.server
                .gql(Some(&w.owner.token), q, d["variables"].clone()),
        )
        .await;
        not_limited(source, &r);
    }
    w.server.shutdown().await;
}

#[tokio::test]
async fn frontend_2_webhook_page_documents_pass_the_default_limits() {
    let w = world().await;
    let docs = [
        "CanViewProjectWebhooks",
        "ProjectWebhooks",
        "createWebhook",
        "updateWebhook",
        "deleteWebhook",
    ]
    .map(|name| crate::speckle_frontend2::document(&format!("{name}.graphql")));
    for d in docs {
        let apollo = d.replace('{', "{ __typename ");
        for q in [d.as_str(), apollo.as_str()] {
            let r = w
                .server
                .gql(Some(&w.owner.token), q, json!({ "projectId": w.stream }))
                .await;
            not_limited("frontend-2", &r);
        }
    }
    w.server.shutdown().await;
}
