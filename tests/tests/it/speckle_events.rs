//! Both API generations fire the same events: the same change made once through the legacy names
//! (`streamUpdate`, `branchCreate`, `commitCreate`, …) on one project and once through today's
//! (`projectMutations`, `modelMutations`, `versionMutations`) on another yields the same
//! deliveries, trigger for trigger and field for field, once ids and timestamps are set aside.
//! Deliveries are read on real receivers, signatures checked independently of the server's code.

use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{hmac_hex, TestReceiver, TestUser};
use streamhooks_worker::triggers::TRIGGERS;

use crate::support::{world, World};

const SECRET: &str = "same-events";

/// Every delivery `rx` gets until it has `n`, verified and in queuing order.
async fn deliveries(rx: &TestReceiver, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < n {
        let Some(r) = rx.next(Duration::from_secs(10)).await else {
            panic!("only {} of {n} deliveries arrived", got.len());
        };
        let payload = r.payload_string().expect("a double-encoded body");
        let expected = hmac_hex(SECRET, &payload);
        assert_eq!(r.header("x-webhook-signature"), Some(expected.as_str()));
        let order: i64 = r
            .header("x-webhook-delivery")
            .and_then(|d| d.parse().ok())
            .expect("a delivery id");
        got.push((
            order,
            serde_json::from_str::<Value>(&payload).expect("JSON"),
        ));
    }
    got.sort_by_key(|(order, _)| *order);
    got.into_iter().map(|(_, p)| p).collect()
}

/// The payload with the given ids replaced by their role and every timestamp by `<t>`.
fn normalized(p: &Value, ids: &[(&str, &str)]) -> Value {
    let mut text = p.to_string();
    for (id, role) in ids {
        text = text.replace(id, role);
    }
    let mut v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    fn strip_times(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.ends_with("At") && x.is_string() {
                        *x = json!("<t>");
                    } else {
                        strip_times(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip_times),
            _ => {}
        }
    }
    strip_times(&mut v);
    v
}

async fn ok(w: &World, query: &str, vars: Value) -> Value {
    w.server.gql_ok(&w.owner.token, query, vars).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// One project with a webhook on every trigger pointing at its own receiver.
async fn project_with_hook(w: &World, rx: &TestReceiver) -> (String, String) {
    let p = w.server.create_stream(&w.owner, "Same name").await;
    let hook = w
        .server
        .create_webhook(&w.owner, &p, &rx.url(), &TRIGGERS, Some(SECRET))
        .await;
    (p, hook)
}

async fn legacy(w: &World, p: &str, other: &TestUser) -> (String, String) {
    ok(
        w,
        "mutation($s: StreamUpdateInput!) { streamUpdate(stream: $s) }",
        json!({ "s": { "id": p, "description": "d", "isPublic": false } }),
    )
    .await;
    let b = s(&ok(
        w,
        "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
        json!({ "b": { "streamId": p, "name": "Facade", "description": "f" } }),
    )
    .await["branchCreate"]);
    ok(
        w,
        "mutation($b: BranchUpdateInput!) { branchUpdate(branch: $b) }",
        json!({ "b": { "streamId": p, "id": b, "description": "g" } }),
    )
    .await;
    let c = s(&ok(
        w,
        "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
        json!({ "c": { "streamId": p, "branchName": "facade", "objectId": "obj1", "message": "m",
                       "sourceApplication": "py", "totalChildrenCount": 3, "parents": [] } }),
    )
    .await["commitCreate"]);
    ok(
        w,
        "mutation($c: CommitUpdateInput!) { commitUpdate(commit: $c) }",
        json!({ "c": { "streamId": p, "id": c, "message": "m2" } }),
    )
    .await;
    ok(w, "mutation($i: CommitReceivedInput!) { commitReceive(input: $i) }",
        json!({ "i": { "streamId": p, "commitId": c, "sourceApplication": "Rhino", "message": "got" } })).await;
    ok(w, "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }",
        json!({ "p": { "streamId": p, "userId": other.id, "role": "stream:reviewer" } })).await;
    ok(w, "mutation($p: StreamRevokePermissionInput!) { streamRevokePermission(permissionParams: $p) }",
        json!({ "p": { "streamId": p, "userId": other.id } })).await;
    ok(
        w,
        "mutation($c: CommitDeleteInput!) { commitDelete(commit: $c) }",
        json!({ "c": { "streamId": p, "id": c } }),
    )
    .await;
    ok(
        w,
        "mutation($b: BranchDeleteInput!) { branchDelete(branch: $b) }",
        json!({ "b": { "streamId": p, "id": b } }),
    )
    .await;
    ok(
        w,
        "mutation($id: String!) { streamDelete(id: $id) }",
        json!({ "id": p }),
    )
    .await;
    (b, c)
}

async fn current(w: &World, p: &str, other: &TestUser) -> (String, String) {
    let u = ok(w, "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { id visibility description } } }",
        json!({ "u": { "id": p, "description": "d", "visibility": "PRIVATE" } })).await;
    assert_eq!(u["projectMutations"]["update"]["visibility"], "PRIVATE");
    let m = ok(w, "mutation($i: CreateModelInput!) { modelMutations { create(input: $i) { id name displayName description } } }",
        json!({ "i": { "projectId": p, "name": "Facade", "description": "f" } })).await;
    let b = s(&m["modelMutations"]["create"]["id"]);
    assert_eq!(m["modelMutations"]["create"]["name"], "facade");
    ok(w, "mutation($i: UpdateModelInput!) { modelMutations { update(input: $i) { id description } } }",
        json!({ "i": { "projectId": p, "id": b, "description": "g" } })).await;
    let v = ok(w, "mutation($i: CreateVersionInput!) { versionMutations { create(input: $i) { id referencedObject model { id } } } }",
        json!({ "i": { "projectId": p, "modelId": b, "objectId": "obj1", "message": "m",
                       "sourceApplication": "py", "totalChildrenCount": 3, "parents": [] } })).await;
    let c = s(&v["versionMutations"]["create"]["id"]);
    assert_eq!(v["versionMutations"]["create"]["model"]["id"], json!(b));
    ok(w, "mutation($i: UpdateVersionInput!) { versionMutations { update(input: $i) { id message } } }",
        json!({ "i": { "projectId": p, "versionId": c, "message": "m2" } })).await;
    ok(w, "mutation($i: MarkReceivedVersionInput!) { versionMutations { markReceived(input: $i) } }",
        json!({ "i": { "projectId": p, "versionId": c, "sourceApplication": "Rhino", "message": "got" } })).await;
    ok(w, "mutation($i: ProjectUpdateRoleInput!) { projectMutations { updateRole(input: $i) { id team { id role } } } }",
        json!({ "i": { "projectId": p, "userId": other.id, "role": "stream:reviewer" } })).await;
    ok(w, "mutation($i: ProjectUpdateRoleInput!) { projectMutations { updateRole(input: $i) { id } } }",
        json!({ "i": { "projectId": p, "userId": other.id, "role": null } })).await;
    ok(
        w,
        "mutation($i: DeleteVersionsInput!) { versionMutations { delete(input: $i) } }",
        json!({ "i": { "projectId": p, "versionIds": [c] } }),
    )
    .await;
    ok(
        w,
        "mutation($i: DeleteModelInput!) { modelMutations { delete(input: $i) } }",
        json!({ "i": { "projectId": p, "id": b } }),
    )
    .await;
    ok(
        w,
        "mutation($id: String!) { projectMutations { delete(id: $id) } }",
        json!({ "id": p }),
    )
    .await;
    (b, c)
}

#[tokio::test]
async fn todays_mutations_fire_the_same_events_as_the_legacy_ones() {
    let w = world().await;
    let (rx_old, rx_new) = (TestReceiver::start().await, TestReceiver::start().await);
    let (pa, ha) = project_with_hook(&w, &rx_old).await;
    let (pb, hb) = project_with_hook(&w, &rx_new).await;
    let other = w.other.clone();

    let (ba, ca) = legacy(&w, &pa, &other).await;
    let (bb, cb) = current(&w, &pb, &other).await;

    let old = deliveries(&rx_old, 11).await;
    let new = deliveries(&rx_new, 11).await;
    let names: Vec<&str> = old
        .iter()
        .filter_map(|p| p["event"]["event_name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "stream_update",
            "branch_create",
            "branch_update",
            "commit_create",
            "commit_update",
            "commit_receive",
            "stream_permissions_add",
            "stream_permissions_remove",
            "commit_delete",
            "branch_delete",
            "stream_delete"
        ]
    );
    for (o, n) in old.iter().zip(&new) {
        let o = normalized(
            o,
            &[
                (&rx_old.url(), "<url>"),
                (&pa, "<project>"),
                (&ha, "<hook>"),
                (&ba, "<model>"),
                (&ca, "<version>"),
            ],
        );
        let n = normalized(
            n,
            &[
                (&rx_new.url(), "<url>"),
                (&pb, "<project>"),
                (&hb, "<hook>"),
                (&bb, "<model>"),
                (&cb, "<version>"),
            ],
        );
        assert_eq!(
            o, n,
            "the two generations differ for {}",
            o["event"]["event_name"]
        );
    }

    // Commit payloads name the version in today's terms as well, beside the legacy fields.
    let created = &new[3]["event"]["data"];
    assert_eq!(created["id"], json!(cb));
    assert_eq!(created["commit"]["id"], json!(cb));
    assert_eq!(created["commit"]["branchName"], "facade");
    assert_eq!(
        (
            &created["projectId"],
            &created["modelId"],
            &created["versionId"]
        ),
        (&json!(pb), &json!(bb), &json!(cb))
    );
    let c = &created["commit"];
    assert_eq!(
        (&c["projectId"], &c["modelId"], &c["versionId"]),
        (&json!(pb), &json!(bb), &json!(cb))
    );
    for p in &new[3..=5] {
        assert_eq!(p["event"]["data"]["versionId"], json!(cb), "{p}");
    }
    assert_eq!(new[5]["event"]["data"]["sourceApplication"], "Rhino");
    assert_eq!(new[8]["event"]["data"]["commit"]["versionId"], json!(cb));
    w.server.shutdown().await;
}

#[tokio::test]
async fn move_to_model_creates_the_model_and_moves_each_version() {
    let w = world().await;
    let rx = TestReceiver::start().await;
    let (p, hook) = project_with_hook(&w, &rx).await;
    let main = s(&ok(
        &w,
        "query($p: String!) { project(id: $p) { modelByName(name: \"main\") { id } } }",
        json!({ "p": p }),
    )
    .await["project"]["modelByName"]["id"]);
    let mut versions = Vec::new();
    for obj in ["o1", "o2"] {
        let v = ok(
            &w,
            "mutation($i: CreateVersionInput!) { versionMutations { create(input: $i) { id } } }",
            json!({ "i": { "projectId": p, "modelId": main, "objectId": obj } }),
        )
        .await;
        versions.push(s(&v["versionMutations"]["create"]["id"]));
    }
    let moved = ok(&w, "mutation($i: MoveVersionsInput!) { versionMutations { moveToModel(input: $i) { id name displayName versions { totalCount items { id } } } } }",
        json!({ "i": { "projectId": p, "versionIds": versions, "targetModelName": "Options/A" } })).await;
    let target = &moved["versionMutations"]["moveToModel"];
    assert_eq!(target["name"], "options/a");
    assert_eq!(target["displayName"], "a");
    assert_eq!(target["versions"]["totalCount"], 2);
    let target_id = s(&target["id"]);

    let got = deliveries(&rx, 5).await;
    let names: Vec<&str> = got
        .iter()
        .filter_map(|p| p["event"]["event_name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "commit_create",
            "commit_create",
            "branch_create",
            "commit_update",
            "commit_update"
        ]
    );
    assert_eq!(got[2]["event"]["data"]["branch"]["id"], json!(target_id));
    for u in &got[3..] {
        let d = &u["event"]["data"];
        assert_eq!(d["old"]["modelId"], json!(main));
        assert_eq!(d["new"]["modelId"], json!(target_id));
        assert_eq!(d["new"]["branchName"], "options/a");
        assert_eq!(d["modelId"], json!(target_id));
    }

    // All or nothing: one unknown version leaves every version where it was.
    let r = w.server.gql(Some(&w.owner.token),
        "mutation($i: MoveVersionsInput!) { versionMutations { moveToModel(input: $i) { id } } }",
        json!({ "i": { "projectId": p, "versionIds": [versions[0], "nosuchversion"], "targetModelName": "main" } })).await;
    assert_eq!(crate::support::code(&r), "COMMIT_NOT_FOUND", "{r}");
    let still = ok(&w, "query($p: String!, $m: String!) { project(id: $p) { model(id: $m) { versions { totalCount } } } }",
        json!({ "p": p, "m": target_id })).await;
    assert_eq!(still["project"]["model"]["versions"]["totalCount"], 2);
    let history = w.server.history(&w.owner, &p, &hook, 100).await;
    assert_eq!(history.len(), 5, "a failed move queued nothing");
    w.server.shutdown().await;
}

#[tokio::test]
async fn leaving_a_project_fires_permissions_remove_and_the_last_owner_cannot() {
    let w = world().await;
    let rx = TestReceiver::start().await;
    let (p, _) = project_with_hook(&w, &rx).await;
    ok(&w, "mutation($i: ProjectUpdateRoleInput!) { projectMutations { updateRole(input: $i) { id } } }",
        json!({ "i": { "projectId": p, "userId": w.other.id, "role": "stream:contributor" } })).await;
    let left = w
        .server
        .gql_ok(
            &w.other.token,
            "mutation($id: String!) { projectMutations { leave(id: $id) } }",
            json!({ "id": p }),
        )
        .await;
    assert_eq!(left["projectMutations"]["leave"], true);
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($id: String!) { projectMutations { leave(id: $id) } }",
            json!({ "id": p }),
        )
        .await;
    assert_eq!(
        crate::support::code(&r),
        "BAD_USER_INPUT",
        "the last owner stays: {r}"
    );

    let got = deliveries(&rx, 2).await;
    assert_eq!(got[0]["event"]["event_name"], "stream_permissions_add");
    let removed = &got[1];
    assert_eq!(removed["event"]["event_name"], "stream_permissions_remove");
    assert_eq!(
        removed["userId"],
        json!(w.other.id),
        "the one who left caused it"
    );
    assert_eq!(
        removed["event"]["data"],
        json!({ "targetUser": w.other.id, "role": "stream:contributor" })
    );
    w.server.shutdown().await;
}
