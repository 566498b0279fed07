//! Today's Speckle API, reading side and rules: `project(id)` with its models and versions
//! (cursor-paged, filtered, priority versions first), who may change what through
//! `projectMutations` / `modelMutations` / `versionMutations` (the legacy rules, one per thing),
//! and the permission checks answering the same rules.

use serde_json::{json, Value};

use crate::support::{code, grant, world, World};

async fn ok(w: &World, query: &str, vars: Value) -> Value {
    w.server.gql_ok(&w.owner.token, query, vars).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn model(w: &World, name: &str) -> String {
    let m = ok(
        w,
        "mutation($i: CreateModelInput!) { modelMutations { create(input: $i) { id } } }",
        json!({ "i": { "projectId": w.stream, "name": name } }),
    )
    .await;
    s(&m["modelMutations"]["create"]["id"])
}

async fn version(w: &World, model: &str, app: &str) -> String {
    let v = ok(w, "mutation($i: CreateVersionInput!) { versionMutations { create(input: $i) { id } } }",
        json!({ "i": { "projectId": w.stream, "modelId": model, "objectId": "obj", "sourceApplication": app } })).await;
    s(&v["versionMutations"]["create"]["id"])
}

fn ids(collection: &Value) -> Vec<String> {
    collection["items"]
        .as_array()
        .map(|a| a.iter().map(|i| s(&i["id"])).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_projects_models_and_versions_page_by_cursor_and_filter() {
    let w = world().await;
    let facade = model(&w, "Facade/Level 1").await;
    let roof = model(&w, "Roof").await;
    let v1 = version(&w, &facade, "Rhino").await;
    let v2 = version(&w, &facade, "py").await;
    let v3 = version(&w, &roof, "Rhino").await;

    let p = ok(&w, "query($p: String!) { project(id: $p) { id sourceApps allowPublicComments visibility role workspaceId
        models(limit: 2) { totalCount cursor items { id name displayName } }
        versions(limit: 2) { totalCount cursor items { id } } } }", json!({ "p": w.stream })).await["project"].clone();
    assert_eq!(p["sourceApps"], json!(["Rhino", "py"]));
    assert_eq!(p["role"], "stream:owner");
    // Newest change first: models by updatedAt, versions by createdAt.
    assert_eq!(p["models"]["totalCount"], 3);
    assert_eq!(ids(&p["models"]), [roof.clone(), facade.clone()]);
    assert_eq!(p["models"]["items"][1]["displayName"], "level 1");
    assert_eq!(p["versions"]["totalCount"], 3);
    assert_eq!(ids(&p["versions"]), [v3.clone(), v2.clone()]);
    let next = ok(&w, "query($p: String!, $c: String) { project(id: $p) { models(limit: 2, cursor: $c) { cursor items { name } } } }",
        json!({ "p": w.stream, "c": p["models"]["cursor"] })).await;
    assert_eq!(
        next["project"]["models"]["items"],
        json!([{ "name": "main" }])
    );
    assert!(next["project"]["models"]["cursor"].is_null());

    let filtered = |f: Value| {
        let w = &w;
        async move {
            ids(&ok(w, "query($p: String!, $f: ProjectModelsFilter) { project(id: $p) { models(filter: $f) { items { id } } } }",
                json!({ "p": w.stream, "f": f })).await["project"]["models"])
        }
    };
    assert_eq!(
        filtered(json!({ "search": "LEVEL" })).await,
        vec![facade.clone()]
    );
    assert_eq!(
        filtered(json!({ "onlyWithVersions": true })).await,
        [roof.clone(), facade.clone()]
    );
    assert_eq!(
        filtered(json!({ "sourceApps": ["py"] })).await,
        vec![facade.clone()]
    );
    assert_eq!(
        filtered(json!({ "contributors": [w.other.id] })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        filtered(json!({ "ids": [roof, facade], "excludeIds": [roof] })).await,
        vec![facade.clone()]
    );

    // A model's versions, with Speckle's priority ids first (or only).
    let versions = |f: Value, limit: i32, cursor: Value| {
        let (w, facade) = (&w, facade.clone());
        async move {
            ok(w, "query($p: String!, $m: String!, $f: ModelVersionsFilter, $l: Int!, $c: String) { project(id: $p) { model(id: $m) { versions(limit: $l, cursor: $c, filter: $f) { totalCount cursor items { id } } } } }",
                json!({ "p": w.stream, "m": facade, "f": f, "l": limit, "c": cursor })).await["project"]["model"]["versions"].clone()
        }
    };
    assert_eq!(
        ids(&versions(Value::Null, 25, Value::Null).await),
        [v2.clone(), v1.clone()]
    );
    let first = versions(json!({ "priorityIds": [v1] }), 1, Value::Null).await;
    assert_eq!(
        (ids(&first), &first["totalCount"]),
        (vec![v1.clone()], &json!(2))
    );
    let rest = versions(json!({ "priorityIds": [v1] }), 1, first["cursor"].clone()).await;
    assert_eq!(ids(&rest), vec![v2.clone()]);
    assert!(rest["cursor"].is_null(), "{rest}");
    let only = versions(
        json!({ "priorityIds": [v1, v3], "priorityIdsOnly": true }),
        25,
        Value::Null,
    )
    .await;
    assert_eq!(ids(&only), vec![v1.clone()], "v3 is in another model");

    // Single items, and items of another project.
    let one = ok(&w, "query($p: String!, $v: String!) { project(id: $p) { version(id: $v) { id referencedObject sourceApplication previewUrl authorUser { id verified } model { name } } modelByName(name: \"Roof\") { id } } }",
        json!({ "p": w.stream, "v": v1 })).await["project"].clone();
    assert_eq!(one["version"]["model"]["name"], "facade/level 1");
    assert_eq!(one["version"]["authorUser"]["id"], json!(w.owner.id));
    assert!(one["version"]["previewUrl"]
        .as_str()
        .is_some_and(|u| u.ends_with(&format!("/preview/{}/commits/{v1}", w.stream))));
    assert_eq!(one["modelByName"]["id"], json!(roof));
    let elsewhere = w.server.create_stream(&w.owner, "Elsewhere").await;
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "query($p: String!, $v: String!) { project(id: $p) { version(id: $v) { id } } }",
            json!({ "p": elsewhere, "v": v1 }),
        )
        .await;
    assert_eq!(code(&r), "COMMIT_NOT_FOUND", "{r}");
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "query($p: String!, $m: String!) { project(id: $p) { model(id: $m) { id } } }",
            json!({ "p": elsewhere, "m": facade }),
        )
        .await;
    assert_eq!(code(&r), "BRANCH_NOT_FOUND", "{r}");

    // Pages within pages are priced by what they can hold: 100 models x 25 versions is
    // answered; 100 x 100 with five fields each (50,202 nodes) is refused up front, naming the
    // innermost page.
    let d = w.server.gql_ok(&w.owner.token, "query($p: String!) { project(id: $p) { models(limit: 100) { items { versions { items { id message authorUser { name } } } } } } }",
        json!({ "p": w.stream })).await;
    assert_eq!(
        d["project"]["models"]["items"][1]["versions"]["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{d}"
    );
    let r = w.server.gql(Some(&w.owner.token), "query($p: String!) { project(id: $p) { models(limit: 100) { items { versions(limit: 100) { items { id message authorUser { name } } } } } } }",
        json!({ "p": w.stream })).await;
    assert!(
        r["data"].is_null()
            && r["errors"][0]["message"].as_str().is_some_and(
                |m| m.contains("`project.models(limit: 100).items.versions(limit: 100)`")
            ),
        "{r}"
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn todays_mutations_keep_the_legacy_rules() {
    let w = world().await;
    grant(&w, &w.stream, &w.other, "stream:reviewer").await;
    let main = s(&ok(
        &w,
        "query($p: String!) { project(id: $p) { modelByName(name: \"main\") { id } } }",
        json!({ "p": w.stream }),
    )
    .await["project"]["modelByName"]["id"]);
    let v = version(&w, &main, "py").await;
    let as_other = |q: &'static str, vars: Value| {
        let w = &w;
        async move { w.server.gql(Some(&w.other.token), q, vars).await }
    };

    // A reviewer may mark a version received, not create versions or change the project.
    let r = as_other(
        "mutation($i: CreateVersionInput!) { versionMutations { create(input: $i) { id } } }",
        json!({ "i": { "projectId": w.stream, "modelId": main, "objectId": "x" } }),
    )
    .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = as_other(
        "mutation($i: MarkReceivedVersionInput!) { versionMutations { markReceived(input: $i) } }",
        json!({ "i": { "projectId": w.stream, "versionId": v, "sourceApplication": "Rhino" } }),
    )
    .await;
    assert_eq!(r["data"]["versionMutations"]["markReceived"], true, "{r}");
    let r = as_other(
        "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { id } } }",
        json!({ "u": { "id": w.stream, "name": "mine now" } }),
    )
    .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let perms = as_other("query($p: String!, $m: String!, $v: String!) { project(id: $p) { permissions { canUpdate { authorized code } canCreateModel { authorized } canRead { authorized } canLoad { authorized } canLeave { authorized } }
        model(id: $m) { permissions { canUpdate { authorized } canCreateVersion { authorized } } }
        version(id: $v) { permissions { canUpdate { authorized } canReceive { authorized } } } } }",
        json!({ "p": w.stream, "m": main, "v": v })).await["data"]["project"].clone();
    assert_eq!(
        perms["permissions"]["canUpdate"],
        json!({ "authorized": false, "code": "ProjectNotEnoughPermissions" })
    );
    for (path, expected) in [
        ("canCreateModel", false),
        ("canRead", true),
        ("canLoad", true),
        ("canLeave", true),
    ] {
        assert_eq!(perms["permissions"][path]["authorized"], expected, "{path}");
    }
    assert_eq!(
        perms["model"]["permissions"]["canCreateVersion"]["authorized"],
        false
    );
    assert_eq!(
        perms["version"]["permissions"]["canReceive"]["authorized"],
        true
    );
    assert_eq!(
        perms["version"]["permissions"]["canUpdate"]["authorized"],
        false
    );

    // The owner's checks, and the refusals that come with input rather than roles.
    let mine = ok(&w, "query($p: String!, $m: String!) { project(id: $p) { permissions { canLeave { authorized code } canUpdateAllowPublicComments { authorized } canMoveToWorkspace { code } } model(id: $m) { permissions { canDelete { authorized code } } } } }",
        json!({ "p": w.stream, "m": main })).await["project"].clone();
    assert_eq!(
        mine["permissions"]["canLeave"],
        json!({ "authorized": false, "code": "ProjectLastOwner" })
    );
    assert_eq!(
        mine["permissions"]["canUpdateAllowPublicComments"]["authorized"],
        true
    );
    assert_eq!(
        mine["permissions"]["canMoveToWorkspace"]["code"],
        "WorkspacesNotEnabled"
    );
    assert_eq!(
        mine["model"]["permissions"]["canDelete"],
        json!({ "authorized": false, "code": "ReservedModelNotDeletable" })
    );
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($i: DeleteModelInput!) { modelMutations { delete(input: $i) } }",
            json!({ "i": { "projectId": w.stream, "id": main } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let r = w.server.gql(Some(&w.owner.token), "mutation { projectMutations { create(input: {name: \"W\", visibility: WORKSPACE}) { id } } }", json!({})).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    // New projects are private, as in Speckle; public comments need a public project.
    let p = ok(&w, "mutation { projectMutations { create(input: {name: \"Quiet\"}) { id visibility allowPublicComments role } } }", json!({})).await;
    let created = &p["projectMutations"]["create"];
    assert_eq!(
        (
            &created["visibility"],
            &created["allowPublicComments"],
            &created["role"]
        ),
        (&json!("PRIVATE"), &json!(false), &json!("stream:owner"))
    );
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { id } } }",
            json!({ "u": { "id": created["id"], "allowPublicComments": true } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let u = ok(&w, "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { visibility allowPublicComments } } }",
        json!({ "u": { "id": created["id"], "visibility": "UNLISTED", "allowPublicComments": true } })).await;
    assert_eq!(
        u["projectMutations"]["update"],
        json!({ "visibility": "PUBLIC", "allowPublicComments": true })
    );
    let r = w
        .server
        .gql(
            Some(&w.other.token),
            "query($p: String!) { project(id: $p) { id } }",
            json!({ "p": created["id"] }),
        )
        .await;
    assert!(r["errors"].is_null(), "public now: {r}");
    let u = ok(&w, "mutation($u: ProjectUpdateInput!) { projectMutations { update(update: $u) { visibility allowPublicComments } } }",
        json!({ "u": { "id": created["id"], "visibility": "PRIVATE" } })).await;
    assert_eq!(
        u["projectMutations"]["update"],
        json!({ "visibility": "PRIVATE", "allowPublicComments": false })
    );
    let r = w
        .server
        .gql(
            Some(&w.other.token),
            "query($p: String!) { project(id: $p) { id } }",
            json!({ "p": created["id"] }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    w.server.shutdown().await;
}

#[tokio::test]
async fn server_info_and_active_user_answer_what_specklepy_asks_on_sign_in() {
    let w = world().await;
    // specklepy 3.2.8's ServerResource.get and ActiveUserResource.get documents, as it sends them.
    let info = ok(&w, "query Server { serverInfo { name company description adminContact canonicalUrl version scopes { name description } authStrategies { id name icon } workspaces { workspacesEnabled } } }", json!({})).await;
    assert_eq!(info["serverInfo"]["authStrategies"], json!([]));
    assert_eq!(
        info["serverInfo"]["workspaces"],
        json!({ "workspacesEnabled": false })
    );
    assert!(info["serverInfo"]["scopes"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x["name"] == "profile:write")));
    let me = ok(
        &w,
        "query User { data:activeUser { id email name bio company avatar verified role } }",
        json!({}),
    )
    .await;
    assert_eq!(me["data"]["id"], json!(w.owner.id));
    assert_eq!(me["data"]["email"], "olga@example.com");
    assert_eq!(me["data"]["verified"], false);

    // Profile changes and token revocation (specklepy's active_user.update, server.revoke_token).
    let u = ok(
        &w,
        "mutation($u: UserUpdateInput!) { activeUserMutations { update(user: $u) { name bio } } }",
        json!({ "u": { "bio": "builds bridges" } }),
    )
    .await;
    assert_eq!(
        u["activeUserMutations"]["update"],
        json!({ "name": "Owner Olga", "bio": "builds bridges" })
    );
    let r = w
        .server
        .gql(
            Some(&w.owner.token),
            "mutation($u: UserUpdateInput!) { activeUserMutations { update(user: $u) { name } } }",
            json!({ "u": { "name": "  " } }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let t = s(&ok(
        &w,
        "mutation { apiTokenCreate(token: {name: \"short\", scopes: [\"streams:read\"]}) }",
        json!({}),
    )
    .await["apiTokenCreate"]);
    let r = w
        .server
        .gql(
            Some(&w.other.token),
            "mutation($t: String!) { apiTokenRevoke(token: $t) }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "not theirs to revoke: {r}");
    assert_eq!(
        ok(
            &w,
            "mutation($t: String!) { apiTokenRevoke(token: $t) }",
            json!({ "t": t })
        )
        .await["apiTokenRevoke"],
        true
    );
    let r = w
        .server
        .gql(Some(&t), "query { activeUser { id } }", json!({}))
        .await;
    assert!(
        r["data"]["activeUser"].is_null(),
        "a revoked token identifies no one: {r}"
    );
    w.server.shutdown().await;
}
