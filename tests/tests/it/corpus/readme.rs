//! The GraphQL examples in our own README.md, read from it at test time so that an example that
//! stops working fails here: the curl sessions' `gql '{"query": …, "variables": …}'` lines (the
//! JSON as the shell passes it, `'$STREAM'` splices included), the Python example's `gql("…")`
//! and the Rust example's query string. The ids the README shows are the ones its sessions
//! printed; they are replaced by the realistic world's (a query reads the busy stream, a mutation
//! changes the scratch one).

use serde_json::{json, Value};

use super::world::World;
use super::Doc;

/// Stream ids the README's sessions printed and then used.
const README_STREAMS: [&str; 3] = ["$STREAM", "36fb439e95", "20e46938e9"];
/// The webhook id the README's second session pings.
const README_WEBHOOK: &str = "1453f44eb8";

fn readme() -> String {
    let path = streamhooks_api::testkit::interop::workspace_root().join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The README's examples, each with the variables it sends (the curl ones carry their own).
pub fn documents() -> Vec<Doc> {
    let text = readme();
    let mut docs = Vec::new();
    let mut in_rust = false;
    for (i, line) in text.lines().enumerate() {
        let at = format!("README.md:{}", i + 1);
        if line.starts_with("```") {
            in_rust = line.starts_with("```rust");
        }
        let offset: usize = text.lines().take(i).map(|l| l.len() + 1).sum();
        if let Some(p) = line.find("gql '") {
            let (query, vars) = shell_request(&text[offset + p + 5..], &at);
            docs.push(Doc::readme(at, query, Some(vars)));
        } else if let Some(p) = line.find("gql(\"") {
            let rest = &line[p + 4..];
            docs.push(Doc::readme(at, rust_or_python_string(rest), None));
        } else if in_rust {
            let t = line.trim_start();
            if ["\"mutation", "\"query", "\"{"]
                .iter()
                .any(|s| t.starts_with(s))
            {
                docs.push(Doc::readme(at, rust_or_python_string(t), None));
            }
        }
    }
    assert!(docs.len() >= 8, "README examples found: {}", docs.len());
    docs
}

/// The body a `gql '…'` line sends: single-quoted shell text, possibly over several lines, with
/// `'$NAME'` splices, which stay in the text as `$NAME`.
fn shell_request(after_quote: &str, at: &str) -> (String, Value) {
    let mut body = String::new();
    let mut rest = after_quote;
    loop {
        let Some(q) = rest.find('\'') else {
            panic!("{at}: unterminated quote");
        };
        body.push_str(&rest[..q]);
        let tail = &rest[q + 1..];
        let var_len = tail.strip_prefix('$').map(|t| {
            t.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .count()
        });
        match var_len {
            Some(n) if n > 0 && tail[1 + n..].starts_with('\'') => {
                body.push_str(&tail[..1 + n]);
                rest = &tail[2 + n..];
            }
            _ => break,
        }
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{at}: {e}: {body}"));
    let query = v["query"].as_str().unwrap_or_default().to_owned();
    (
        query,
        v.get("variables").cloned().unwrap_or_else(|| json!({})),
    )
}

/// The text of a double-quoted string literal starting at `s` (`\"` and `\\` unescaped).
fn rust_or_python_string(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

/// `text` (a query or its variables as JSON) with the README's ids replaced by the world's.
pub fn with_world_ids(text: &str, w: &World, mutation: bool) -> String {
    let stream = if mutation { &w.scratch } else { &w.stream };
    let mut t = text.replace(README_WEBHOOK, &w.scratch_webhook);
    for id in README_STREAMS {
        t = t.replace(id, stream);
    }
    t
}

/// Variables for the README's examples that show them in Python or Rust rather than JSON.
pub fn variables_for(query: &str, w: &World) -> Value {
    if query.contains("webhookCreate") {
        json!({ "w": { "streamId": w.scratch, "url": "http://127.0.0.1:8003/webhook",
            "triggers": ["branch_create", "commit_create"], "secret": "s3cr3t" } })
    } else if query.contains("commitCreate") {
        json!({ "c": { "streamId": w.scratch, "branchName": "main", "objectId": "abc" } })
    } else {
        json!({})
    }
}
