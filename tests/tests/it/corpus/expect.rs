//! What some of the corpus's answers must show, beyond "data and no error": the pages a user
//! opens first (the webhook lists with their histories, a stream's branches and commits, an
//! object, a user search) hold what the realistic world put there. Counts that other documents
//! of the corpus may raise while it runs (commits, for one) are lower bounds.

use serde_json::Value;

use super::world::{World, BRANCHES, COMMITS_PER_BRANCH, UPDATES, WEBHOOKS};
use super::Doc;

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// Every webhook listed, each with a full page of history (its events outnumber the page).
fn webhook_list(hooks: &Value, page: usize) -> Result<(), String> {
    let items = hooks["items"].as_array().cloned().unwrap_or_default();
    ensure(items.len() == WEBHOOKS, || {
        format!("{} webhooks listed", items.len())
    })?;
    for h in &items {
        let n = len(&h["history"]["items"]);
        ensure(n == page, || {
            format!("webhook {} shows {n} events", h["id"])
        })?;
    }
    Ok(())
}

pub fn check(w: &World, doc: &Doc, data: &Value) -> Result<(), String> {
    let commits = (BRANCHES.len() + 1) * COMMITS_PER_BRANCH;
    // Branches and commits created, a collaborator added, then the metadata changes.
    let events = BRANCHES.len() + commits + 1 + UPDATES;
    match (doc.corpus, doc.name.as_str()) {
        ("frontend1", "webhooks") => webhook_list(&data["stream"]["webhooks"], 50),
        ("frontend2", "ProjectWebhooks") => {
            let hooks = &data["project"]["webhooks"];
            ensure(hooks["totalCount"] == WEBHOOKS, || {
                hooks["totalCount"].to_string()
            })?;
            webhook_list(hooks, 5)
        }
        ("frontend1", "webhook") => {
            let items = &data["stream"]["webhooks"]["items"];
            ensure(
                len(items) == 1 && items[0]["id"] == w.webhooks[7].as_str(),
                || items.to_string(),
            )?;
            ensure(len(&items[0]["history"]["items"]) == 1, || {
                items.to_string()
            })
        }
        ("frontend1", "StreamAllBranches") => {
            let b = &data["stream"]["branches"];
            let n = BRANCHES.len() + 1;
            ensure(b["totalCount"] == n && len(&b["items"]) == n, || {
                b.to_string()
            })
        }
        ("frontend1", "StreamWithBranch") => {
            let b = &data["stream"]["branch"];
            let c = &b["commits"];
            ensure(b["name"] == "main", || b.to_string())?;
            let total = c["totalCount"].as_u64().unwrap_or(0) as usize;
            ensure(
                total >= COMMITS_PER_BRANCH && len(&c["items"]) == total.min(4),
                || c.to_string(),
            )
        }
        ("frontend1", "Stream") => {
            let s = &data["stream"];
            ensure(len(&s["collaborators"]) == 2, || s.to_string())?;
            ensure(s["branches"]["totalCount"] == BRANCHES.len() + 1, || {
                s.to_string()
            })?;
            let total = s["commits"]["totalCount"].as_u64().unwrap_or(0);
            ensure(total >= commits as u64, || s.to_string())
        }
        ("frontend1", "StreamCommitQuery") => {
            let c = &data["stream"]["commit"];
            ensure(c["id"] == w.newest_commit().0.as_str(), || c.to_string())?;
            ensure(
                c["branchName"] == BRANCHES[BRANCHES.len() - 1]
                    && c["authorName"] == "Owner Olga"
                    && c["referencedObject"] == w.newest_commit().1.as_str(),
                || c.to_string(),
            )
        }
        ("frontend1", "StreamObject") => {
            let o = &data["stream"]["object"];
            let id = w.newest_commit().1.as_str();
            ensure(o["id"] == id && o["data"]["id"] == id, || o.to_string())?;
            ensure(o["speckleType"] == "Objects.Geometry.Mesh", || {
                o.to_string()
            })
        }
        ("frontend1", "UserSearch") => {
            let items = &data["userSearch"]["items"];
            ensure(
                len(items) == 1 && items[0]["id"] == w.other.id.as_str(),
                || items.to_string(),
            )
        }
        ("frontend1", "Streams") => {
            let items = data["streams"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            ensure(items.iter().any(|s| s["id"] == w.stream.as_str()), || {
                data.to_string()
            })
        }
        ("readme", _) if doc.text.contains("history(limit: 5)") => {
            let hooks = &data["stream"]["webhooks"];
            webhook_list(hooks, 5)?;
            let total = hooks["items"][0]["history"]["totalCount"]
                .as_u64()
                .unwrap_or(0);
            ensure(total >= events as u64, || format!("{total} events in all"))
        }
        _ => Ok(()),
    }
}
