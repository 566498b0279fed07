//! The legacy Speckle surface that Speckle's first web app reads, beyond its webhook page (which
//! the corpus covers): a stream's branches and commits paged by cursor, a branch found by name or
//! by id, commits with their authors and branches, objects within the answer budget, the batch
//! commit mutations and `streamLeave` firing the triggers their current-API twins fire, and user
//! lookups that need `users:read` and never hand out another user's email.

use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TEST_ARGS};

use crate::objects::{batch, object, upload};
use crate::support::{code, grant, quiet_world, World};

async fn ok(w: &World, query: &str, vars: Value) -> Value {
    w.server.gql_ok(&w.owner.token, query, vars).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn branch(w: &World, name: &str) -> String {
    let d = ok(
        w,
        "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
        json!({ "b": { "streamId": w.stream, "name": name } }),
    )
    .await;
    s(&d["branchCreate"])
}

async fn commit(w: &World, branch: &str, message: &str) -> String {
    let d = ok(
        w,
        "mutation($c: CommitCreateInput!) { commitCreate(commit: $c) }",
        json!({ "c": { "streamId": w.stream, "branchName": branch, "objectId": "obj", "message": message } }),
    )
    .await;
    s(&d["commitCreate"])
}

/// The trigger names of the newest `n` events of `webhook`, newest first.
async fn triggers(w: &World, webhook: &str, n: i32) -> Vec<String> {
    w.server
        .history(&w.owner, &w.stream, webhook, n)
        .await
        .iter()
        .map(|e| {
            let p: Value =
                serde_json::from_str(e["payload"].as_str().unwrap_or("{}")).unwrap_or_default();
            s(&p["event"]["event_name"])
        })
        .collect()
}

#[tokio::test]
async fn a_streams_branches_page_by_cursor_and_are_found_by_name_or_id() {
    let w = quiet_world().await;
    let mut made = vec![];
    for name in ["design/options", "structure", "facade", "roof", "site"] {
        made.push(branch(&w, name).await);
    }
    let page = "query($s: String!, $c: String) { stream(id: $s) { branches(limit: 2, cursor: $c) { totalCount cursor items { id name } } } }";
    let (mut seen, mut cursor) = (Vec::new(), Value::Null);
    loop {
        let d = ok(&w, page, json!({ "s": w.stream, "c": cursor })).await;
        let b = &d["stream"]["branches"];
        assert_eq!(b["totalCount"], 6);
        for i in b["items"].as_array().cloned().unwrap_or_default() {
            seen.push(s(&i["name"]));
        }
        cursor = b["cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "design/options",
            "facade",
            "main",
            "roof",
            "site",
            "structure"
        ]
    );

    // Speckle's first web app asks for 500 branches a page; more is refused with a sentence.
    let q =
        "query($s: String!, $l: Int!) { stream(id: $s) { branches(limit: $l) { totalCount } } }";
    ok(&w, q, json!({ "s": w.stream, "l": 500 })).await;
    let r = w
        .server
        .gql(Some(&w.owner.token), q, json!({ "s": w.stream, "l": 501 }))
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    let one = "query($s: String!, $n: String) { stream(id: $s) { branch(name: $n) { id name } } }";
    let by = |n: Value| ok(&w, one, json!({ "s": w.stream, "n": n }));
    assert_eq!(
        by(json!("Design/Options")).await["stream"]["branch"]["id"],
        json!(made[0])
    );
    assert_eq!(
        by(json!(made[2])).await["stream"]["branch"]["name"],
        "facade"
    );
    assert_eq!(by(json!("nope")).await["stream"]["branch"], Value::Null);
    let main = ok(
        &w,
        "query($s: String!) { stream(id: $s) { branch { name } } }",
        json!({ "s": w.stream }),
    )
    .await;
    assert_eq!(
        main["stream"]["branch"]["name"], "main",
        "name defaults to main"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn commits_show_their_branch_author_and_stream_newest_first() {
    let w = quiet_world().await;
    branch(&w, "facade").await;
    let c1 = commit(&w, "main", "first").await;
    let c2 = commit(&w, "facade", "second").await;
    let d = ok(&w, "query($s: String!) { stream(id: $s) { name
        commits(limit: 1) { totalCount cursor items { id message branchName authorName authorId streamId streamName commentCount } }
        commit { id }
        branch(name: \"facade\") { commits { totalCount items { id } } } } }", json!({ "s": w.stream })).await;
    let st = &d["stream"];
    let newest = &st["commits"]["items"][0];
    assert_eq!(st["commits"]["totalCount"], 2);
    assert!(st["commits"]["cursor"].is_string());
    assert_eq!(
        (&newest["id"], &newest["message"], &newest["branchName"]),
        (&json!(c2), &json!("second"), &json!("facade"))
    );
    assert_eq!(
        (&newest["authorName"], &newest["authorId"]),
        (&json!("Owner Olga"), &json!(w.owner.id))
    );
    assert_eq!(newest["streamName"], st["name"]);
    assert_eq!(newest["commentCount"], 0);
    assert_eq!(st["commit"]["id"], json!(c2), "no id: the newest commit");
    assert_eq!(st["branch"]["commits"]["totalCount"], 1);
    let older = ok(
        &w,
        "query($s: String!, $c: String) { stream(id: $s) { commits(limit: 1, cursor: $c) { cursor items { id } } commit(id: \"0123456789\") { id } } }",
        json!({ "s": w.stream, "c": st["commits"]["cursor"] }),
    )
    .await;
    assert_eq!(older["stream"]["commits"]["items"][0]["id"], json!(c1));
    assert_eq!(older["stream"]["commits"]["cursor"], Value::Null);
    assert_eq!(
        older["stream"]["commit"],
        Value::Null,
        "an unknown id is no commit"
    );

    let me = ok(&w, "{ activeUser { commits { totalCount } streams { totalCount items { id } } versions { totalCount } } }", json!({})).await;
    assert_eq!(me["activeUser"]["commits"]["totalCount"], 2);
    assert_eq!(
        me["activeUser"]["streams"]["items"][0]["id"],
        json!(w.stream)
    );
    assert_eq!(me["activeUser"]["versions"]["totalCount"], 2);
    w.server.shutdown().await;
}

#[tokio::test]
async fn another_users_profile_as_a_branch_author_keeps_their_own_fields_to_them() {
    let w = quiet_world().await;
    grant(&w, &w.stream, &w.other, "stream:contributor").await;
    let d = w
        .server
        .gql_ok(
            &w.other.token,
            "mutation($b: BranchCreateInput!) { branchCreate(branch: $b) }",
            json!({ "b": { "streamId": w.stream, "name": "otto's" } }),
        )
        .await;
    assert!(d["branchCreate"].is_string());
    let q = "query($s: String!) { stream(id: $s) { branch(name: \"otto's\") { author { id name email } } } }";
    let a = ok(&w, q, json!({ "s": w.stream })).await["stream"]["branch"]["author"].clone();
    assert_eq!((&a["id"], &a["email"]), (&json!(w.other.id), &Value::Null));
    let emails = "query($s: String!) { stream(id: $s) { branch(name: \"otto's\") { author { emails { email } } } } }";
    let r = w
        .server
        .gql(Some(&w.owner.token), emails, json!({ "s": w.stream }))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    // Their own: the email, once, as the primary address.
    let mine = w
        .server
        .gql_ok(
            &w.other.token,
            "{ activeUser { emails { email primary verified } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["activeUser"]["emails"],
        json!([{ "email": "otto@example.com", "primary": true, "verified": false }])
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn batch_commit_mutations_and_leaving_fire_what_their_current_twins_fire() {
    let w = quiet_world().await;
    let hook = w
        .webhook(
            "https://example.com/h",
            &[
                "branch_create",
                "commit_update",
                "commit_delete",
                "stream_permissions_remove",
            ],
            None,
        )
        .await;
    let c1 = commit(&w, "main", "one").await;
    let c2 = commit(&w, "main", "two").await;
    let moved = ok(
        &w,
        "mutation($i: CommitsMoveInput!) { commitsMove(input: $i) }",
        json!({ "i": { "streamId": w.stream, "commitIds": [c1, c2], "targetBranch": "archive" } }),
    )
    .await;
    assert_eq!(moved["commitsMove"], true);
    assert_eq!(
        triggers(&w, &hook, 3).await,
        ["commit_update", "commit_update", "branch_create"]
    );
    let d = ok(&w, "query($s: String!) { stream(id: $s) { branch(name: \"archive\") { commits { totalCount } } } }", json!({ "s": w.stream })).await;
    assert_eq!(d["stream"]["branch"]["commits"]["totalCount"], 2);

    // All or nothing: one unknown id and nothing is deleted.
    let del = "mutation($i: CommitsDeleteInput!) { commitsDelete(input: $i) }";
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            del,
            json!({ "i": { "streamId": w.stream, "commitIds": [c1, "0123456789"] } }),
        )
        .await;
    assert!(!code(&r).is_empty(), "{r}");
    ok(
        &w,
        del,
        json!({ "i": { "streamId": w.stream, "commitIds": [c1] } }),
    )
    .await;
    assert_eq!(triggers(&w, &hook, 1).await, ["commit_delete"]);
    let left = ok(
        &w,
        "query($s: String!) { stream(id: $s) { commits { totalCount items { id } } } }",
        json!({ "s": w.stream }),
    )
    .await;
    assert_eq!(left["stream"]["commits"]["items"], json!([{ "id": c2 }]));

    grant(&w, &w.stream, &w.other, "stream:reviewer").await;
    let leave = "mutation($s: String!) { streamLeave(streamId: $s) }";
    let d = w
        .server
        .gql_ok(&w.other.token, leave, json!({ "s": w.stream }))
        .await;
    assert_eq!(d["streamLeave"], true);
    assert_eq!(triggers(&w, &hook, 1).await, ["stream_permissions_remove"]);
    let r = w
        .server
        .gql(Some(&w.owner.token), leave, json!({ "s": w.stream }))
        .await;
    assert_eq!(
        code(&r),
        "BAD_USER_INPUT",
        "the last owner cannot leave: {r}"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn user_lookups_need_users_read_and_return_public_profiles() {
    let w = quiet_world().await;
    let d = ok(
        &w,
        "query($id: String!) { otherUser(id: $id) { id name } userSearch(query: \"otto@\", limit: 10) { items { id name } } }",
        json!({ "id": w.other.id }),
    )
    .await;
    assert_eq!(d["otherUser"]["name"], "Other Otto");
    assert_eq!(
        d["userSearch"]["items"],
        json!([{ "id": w.other.id, "name": "Other Otto" }])
    );
    let exact = ok(
        &w,
        "{ users(input: {query: \"OTTO@example.com\", emailOnly: true}) { items { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(exact["users"]["items"], json!([{ "id": w.other.id }]));
    // Only the project's collaborators: Otto has no role on it yet.
    let q =
        "query($p: String!) { users(input: {query: \"Otto\", projectId: $p}) { items { id } } }";
    let none = ok(&w, q, json!({ "p": w.stream })).await;
    assert_eq!(none["users"]["items"], json!([]));

    let short = w
        .server
        .gql(
            Some(&w.owner.token),
            "{ userSearch(query: \"ot\") { items { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&short), "BAD_USER_INPUT", "{short}");
    let ro = ok(
        &w,
        "mutation { apiTokenCreate(token: {name: \"ro\", scopes: [\"streams:read\"]}) }",
        json!({}),
    )
    .await;
    let r = w
        .server
        .gql(
            ro["apiTokenCreate"].as_str(),
            "query($id: String!) { otherUser(id: $id) { id } }",
            json!({ "id": w.other.id }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    w.server.shutdown().await;
}

#[tokio::test]
async fn an_object_is_read_within_the_answer_budget() {
    let server = TestServer::start_with(
        &[
            TEST_ARGS.as_slice(),
            &["--graphql-max-response-bytes", "8192"],
        ]
        .concat(),
        false,
    )
    .await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "Objects").await;
    let small = object(
        json!({ "speckle_type": "Objects.Geometry.Point", "totalChildrenCount": 0, "x": 1.5 }),
    );
    // A mesh's vertices: numbers, which the answer holds but the budget's text count does not
    // see, so only the stored size, charged before loading, can refuse it.
    let vertices: Vec<f64> = (0..20_000).map(|i| f64::from(i) * 0.25).collect();
    let large = object(json!({ "speckle_type": "Objects.Geometry.Mesh", "vertices": vertices }));
    let parts = [("batch", Some("application/json"), batch(&[&small, &large]))];
    let (status, text) = upload(&server, Some(&owner.token), &stream, &parts).await;
    assert_eq!(status.as_u16(), 201, "{text}");

    let q = "query($s: String!, $o: String!) { stream(id: $s) { object(id: $o) { id speckleType totalChildrenCount data } } }";
    let d = server
        .gql_ok(&owner.token, q, json!({ "s": stream, "o": small.0 }))
        .await;
    let o = &d["stream"]["object"];
    assert_eq!(
        (&o["id"], &o["speckleType"], &o["totalChildrenCount"]),
        (&json!(small.0), &json!("Objects.Geometry.Point"), &json!(0))
    );
    assert_eq!(o["data"]["x"], 1.5);
    let none = server
        .gql_ok(
            &owner.token,
            q,
            json!({ "s": stream, "o": "0123456789abcdef0123456789abcdef" }),
        )
        .await;
    assert_eq!(none["stream"]["object"], Value::Null);
    // Larger than the whole answer may be: refused before its text is read.
    let r = server
        .gql(Some(&owner.token), q, json!({ "s": stream, "o": large.0 }))
        .await;
    let shown: String = r.to_string().chars().take(300).collect();
    assert_eq!(code(&r), "RESPONSE_TOO_LARGE", "{shown}");
    server.shutdown().await;
}

#[tokio::test]
async fn stream_settings_set_public_comments_and_accept_discoverability() {
    let w = quiet_world().await;
    let q = "query($s: String!) { stream(id: $s) { isPublic isDiscoverable allowPublicComments favoritesCount favoritedDate commentCount } }";
    let before = ok(&w, q, json!({ "s": w.stream })).await;
    assert_eq!(before["stream"]["isPublic"], true);
    for allow in [true, false] {
        let input = json!({ "id": w.stream, "isPublic": true, "isDiscoverable": true, "allowPublicComments": allow });
        ok(
            &w,
            "mutation($i: StreamUpdateInput!) { streamUpdate(stream: $i) }",
            json!({ "i": input }),
        )
        .await;
        let d = ok(&w, q, json!({ "s": w.stream })).await;
        assert_eq!(
            d["stream"],
            json!({ "isPublic": true, "isDiscoverable": false, "allowPublicComments": allow,
                    "favoritesCount": 0, "favoritedDate": null, "commentCount": 0 })
        );
    }
    w.server.shutdown().await;
}
