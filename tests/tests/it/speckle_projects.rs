//! Today's Speckle API, projects side: `activeUser.projects` (the caller's projects, paged by
//! cursor, filtered), `project(id)` with the fields specklepy 3 reads, and `projectMutations`
//! over the same rows the legacy `stream*` mutations change.

use serde_json::{json, Value};

use crate::support::{code, world};

const MY_PROJECTS: &str = "query($limit: Int!, $cursor: String, $filter: UserProjectsFilter) {
  activeUser { projects(limit: $limit, cursor: $cursor, filter: $filter) {
    totalCount numberOfHidden cursor
    items { id name description visibility allowPublicComments role createdAt updatedAt sourceApps workspaceId } } } }";

async fn my_projects(
    w: &crate::support::World,
    token: &str,
    limit: i32,
    cursor: Option<&str>,
    filter: Value,
) -> Value {
    w.server
        .gql_ok(
            token,
            MY_PROJECTS,
            json!({ "limit": limit, "cursor": cursor, "filter": filter }),
        )
        .await["activeUser"]["projects"]
        .clone()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn active_user_projects_lists_the_callers_projects_newest_first_by_cursor() {
    let w = world().await;
    // The world's stream is the owner's oldest; two more, and one of someone else's.
    w.server.create_stream(&w.owner, "Beta").await;
    let c = w.server.create_stream(&w.owner, "Gamma").await;
    let theirs = w.server.create_stream(&w.other, "Not mine").await;

    let first = my_projects(&w, &w.owner.token, 2, None, Value::Null).await;
    assert_eq!(first["totalCount"], 3);
    assert_eq!(first["numberOfHidden"], 0);
    assert_eq!(names(&first), ["Gamma", "Beta"]);
    let item = &first["items"][0];
    assert_eq!(item["id"], c.as_str());
    assert_eq!(item["role"], "stream:owner");
    assert_eq!(item["visibility"], "PUBLIC");
    assert_eq!(item["allowPublicComments"], false);
    assert_eq!(item["sourceApps"], json!([]));
    assert!(item["workspaceId"].is_null());
    let cursor = first["cursor"]
        .as_str()
        .expect("a cursor: one more project");

    let second = my_projects(&w, &w.owner.token, 2, Some(cursor), Value::Null).await;
    assert_eq!(names(&second), ["Golden Nugget 🌻"]);
    assert!(second["cursor"].is_null(), "last page: {second}");

    // A role granted on someone else's project makes it one of mine, with that role.
    grant_on(&w, &theirs, &w.owner.id, "stream:reviewer").await;
    let all = my_projects(&w, &w.owner.token, 25, None, Value::Null).await;
    assert_eq!(all["totalCount"], 4);
    let reviewed = my_projects(
        &w,
        &w.owner.token,
        25,
        None,
        json!({ "onlyWithRoles": ["stream:reviewer"] }),
    )
    .await;
    assert_eq!(names(&reviewed), ["Not mine"]);
    assert_eq!(reviewed["items"][0]["role"], "stream:reviewer");

    let found = my_projects(&w, &w.owner.token, 25, None, json!({ "search": "GAM" })).await;
    assert_eq!(names(&found), ["Gamma"]);
    let none = my_projects(&w, &w.owner.token, 25, None, json!({ "search": "%" })).await;
    assert_eq!(none["totalCount"], 0, "% is a literal, not a wildcard");
    let in_workspace =
        my_projects(&w, &w.owner.token, 25, None, json!({ "workspaceId": "w1" })).await;
    assert_eq!(in_workspace["totalCount"], 0);

    // The other user sees only their own.
    let theirs_only = my_projects(&w, &w.other.token, 25, None, Value::Null).await;
    assert_eq!(names(&theirs_only), ["Not mine"]);
}

async fn grant_on(w: &crate::support::World, stream: &str, user: &str, role: &str) {
    w.server
        .gql_ok(
            &w.other.token,
            "mutation($p: StreamUpdatePermissionInput!) { streamUpdatePermission(permissionParams: $p) }",
            json!({ "p": { "streamId": stream, "userId": user, "role": role } }),
        )
        .await;
}

#[tokio::test]
async fn active_user_projects_refuses_bad_cursors_limits_and_tokens_without_read_scope() {
    let w = world().await;
    let bad = w
        .server
        .gql(
            Some(&w.owner.token),
            MY_PROJECTS,
            json!({ "limit": 2, "cursor": "not-a-cursor" }),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT", "{bad}");
    let huge = w
        .server
        .gql(
            Some(&w.owner.token),
            MY_PROJECTS,
            json!({ "limit": 100000 }),
        )
        .await;
    assert_eq!(code(&huge), "BAD_USER_INPUT", "{huge}");

    let write_only = w.server.create_token(&w.owner, &["streams:write"]).await;
    let r = w
        .server
        .gql(Some(&write_only), MY_PROJECTS, json!({ "limit": 2 }))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    let anonymous = w.server.gql(None, MY_PROJECTS, json!({ "limit": 2 })).await;
    assert!(anonymous["data"]["activeUser"].is_null(), "{anonymous}");
}
