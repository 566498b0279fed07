//! The stream the corpus runs against, built through the public API as a busy Speckle stream
//! would be: the most webhooks a stream may hold (100), each subscribed to every trigger, so that
//! each change queues 100 events; several branches with commits whose objects were uploaded
//! through the object API; a second collaborator; and 60 metadata changes on top, so every
//! webhook's history is longer than any page the corpus asks for (`history(limit: 50)` at most).
//! The server runs without the dispatcher, so the history stays as queued.
//!
//! A second, scratch stream takes what the corpus's destructive mutations do (deleting
//! webhooks, commits, streams; leaving), so the busy stream stays as described while every
//! document runs twice.

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TestUser, TEST_ARGS};
use streamhooks_worker::triggers::TRIGGERS;

use crate::objects::{batch, object, upload};

/// The most webhooks a stream may hold.
pub const WEBHOOKS: usize = 100;
/// Metadata changes made after set-up, each queuing one event per webhook.
pub const UPDATES: usize = 60;
/// Branches besides `main`, with [`COMMITS_PER_BRANCH`] commits on each branch.
pub const BRANCHES: [&str; 3] = ["design/options", "structure/level 1", "facade"];
pub const COMMITS_PER_BRANCH: usize = 2;

pub struct World {
    pub server: TestServer,
    pub owner: TestUser,
    pub other: TestUser,
    /// The busy stream.
    pub stream: String,
    pub webhooks: Vec<String>,
    /// `(id, name)`, `main` first.
    pub branches: Vec<(String, String)>,
    /// `(commit id, object id)`, oldest first.
    pub commits: Vec<(String, String)>,
    /// The scratch stream.
    pub scratch: String,
    pub scratch_webhook: String,
}

const CREATE_HOOK: &str = "mutation($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }";
const GRANT: &str =
    "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }";

impl World {
    pub async fn build() -> Self {
        let server = TestServer::start_with(&TEST_ARGS, false).await;
        let owner = server.create_user("Owner Olga", "olga@example.com").await;
        let other = server.create_user("Other Otto", "otto@example.com").await;
        let stream = server.create_stream(&owner, "Golden Nugget 🌻").await;
        let scratch = server.create_stream(&owner, "Scratch").await;
        let mut w = World {
            server,
            owner,
            other,
            stream,
            webhooks: Vec::new(),
            branches: Vec::new(),
            commits: Vec::new(),
            scratch,
            scratch_webhook: String::new(),
        };
        for i in 0..WEBHOOKS {
            let hook = json!({ "streamId": w.stream, "url": format!("https://hooks.example.com/{i}"),
                "description": format!("receiver {i}"), "triggers": TRIGGERS, "secret": "s3cr3t" });
            let d = w.ok(CREATE_HOOK, json!({ "w": hook })).await;
            w.webhooks
                .push(d["webhookCreate"].as_str().unwrap_or_default().to_owned());
        }
        let hook = json!({ "streamId": w.scratch, "url": "https://hooks.example.com/scratch",
            "triggers": TRIGGERS });
        let d = w.ok(CREATE_HOOK, json!({ "w": hook })).await;
        w.scratch_webhook = d["webhookCreate"].as_str().unwrap_or_default().to_owned();

        let main = w
            .ok(
                "query($s: String!) { stream(id: $s) { branch(name: \"main\") { id } } }",
                json!({ "s": w.stream }),
            )
            .await["stream"]["branch"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        w.branches.push((main, "main".to_owned()));
        for name in BRANCHES {
            let b = json!({ "streamId": w.stream, "name": name, "description": format!("{name}, by Olga") });
            let d = w
                .ok(
                    "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
                    json!({ "b": b }),
                )
                .await;
            let id = d["branchCreate"].as_str().unwrap_or_default().to_owned();
            w.branches.push((id, name.to_owned()));
        }
        let names: Vec<String> = w.branches.iter().map(|b| b.1.clone()).collect();
        for (i, branch) in names.iter().enumerate() {
            for j in 0..COMMITS_PER_BRANCH {
                let (commit, object) = w.commit(&w.stream.clone(), branch, i * 10 + j).await;
                w.commits.push((commit, object));
            }
        }
        let p = json!({ "streamId": w.stream, "userId": w.other.id, "role": "stream:contributor" });
        w.ok(GRANT, json!({ "p": p })).await;
        for i in 0..UPDATES {
            let s =
                json!({ "id": w.stream, "description": format!("Revision {i} of the site model") });
            w.ok(
                "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
                json!({ "s": s }),
            )
            .await;
        }
        w
    }

    /// `data` of a request the owner sends; panics on errors (this is set-up).
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        self.server
            .gql_ok(&self.owner.token, query, variables)
            .await
    }

    /// Uploads an object through the object API and commits it on `branch`; returns
    /// `(commit id, object id)`.
    pub async fn commit(&self, stream: &str, branch: &str, n: usize) -> (String, String) {
        let obj = object(json!({ "speckle_type": "Objects.Geometry.Mesh",
            "totalChildrenCount": 0, "units": "m", "name": format!("level {n}"),
            "vertices": [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, n as f64] }));
        let parts = [("batch-1", Some("application/json"), batch(&[&obj]))];
        let (status, text) = upload(&self.server, Some(&self.owner.token), stream, &parts).await;
        assert_eq!(status.as_u16(), 201, "object upload: {text}");
        let c = json!({ "streamId": stream, "branchName": branch, "objectId": obj.0,
            "message": format!("Level {n} from Revit"), "sourceApplication": "Revit",
            "totalChildrenCount": 0, "parents": [] });
        let d = self
            .ok(
                "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
                json!({ "c": c }),
            )
            .await;
        (
            d["commitCreate"].as_str().unwrap_or_default().to_owned(),
            obj.0,
        )
    }

    /// Gives `other` a role on the scratch stream (so that they can leave it).
    pub async fn invite_other_to_scratch(&self) {
        let p =
            json!({ "streamId": self.scratch, "userId": self.other.id, "role": "stream:reviewer" });
        self.ok(GRANT, json!({ "p": p })).await;
    }

    /// A new webhook on the scratch stream, to be edited or deleted.
    pub async fn scratch_hook(&self) -> String {
        let hook = json!({ "streamId": self.scratch, "url": "https://hooks.example.com/doomed",
            "triggers": ["commit_create"] });
        let d = self.ok(CREATE_HOOK, json!({ "w": hook })).await;
        d["webhookCreate"].as_str().unwrap_or_default().to_owned()
    }

    /// A new stream, to be deleted.
    pub async fn doomed_stream(&self) -> String {
        self.server
            .create_stream(&self.owner, "To be deleted")
            .await
    }

    /// A new model on the scratch stream; returns its id.
    pub async fn scratch_branch(&self, name: &str) -> String {
        let b = json!({ "streamId": self.scratch, "name": name });
        let d = self
            .ok(
                "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
                json!({ "b": b }),
            )
            .await;
        d["branchCreate"].as_str().unwrap_or_default().to_owned()
    }

    pub fn main_branch(&self) -> &str {
        &self.branches[0].0
    }

    pub fn newest_commit(&self) -> &(String, String) {
        &self.commits[self.commits.len() - 1]
    }
}
