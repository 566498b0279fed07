//! Who may read and write a project's objects: Speckle's rules, over real HTTP. A private
//! project: no token 401, a token without the role or the scope 403, a reviewer reads, a
//! contributor writes. A public project: anyone reads, only contributors write. An unknown
//! project: 404 to a caller with a token, 401 to one without.

use reqwest::StatusCode;
use serde_json::json;
use streamhooks_api::testkit::{TestServer, TestUser};

use super::{diff, get, get_lines, object, upload};
use crate::support::{grant, world, World};

async fn make_private(w: &World, stream: &str) {
    w.server
        .update_stream(&w.owner, stream, json!({ "isPublic": false }))
        .await;
}

async fn token_with(server: &TestServer, user: &TestUser, scopes: &[&str]) -> String {
    let d = server
        .gql_ok(
            &user.token,
            "mutation($t: ApiTokenCreateInput!) { apiTokenCreate(token: $t) }",
            json!({ "t": { "name": "limited", "scopes": scopes } }),
        )
        .await;
    d["apiTokenCreate"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn access_follows_the_project_roles_and_scopes() {
    let w = world().await;
    make_private(&w, &w.stream).await;
    let (id, data) = object(json!({ "secret": "plans" }));
    let body = || vec![("b", None, format!("[{data}]").into_bytes())];
    let single = format!("/objects/{}/{id}/single", w.stream);

    // No token: 401 for reading and writing a private project.
    let (status, text) = upload(&w.server, None, &w.stream, &body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("token"), "{text}");
    assert_eq!(
        diff(&w.server, None, &w.stream, &[&id]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&w.server, None, &single, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Unknown to the project: 403 both ways.
    let (status, _) = upload(&w.server, Some(&w.other.token), &w.stream, &body()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&w.server, Some(&w.other.token), &single, None).await.0,
        StatusCode::FORBIDDEN
    );
    // A reviewer reads but does not write.
    grant(&w, &w.stream, &w.other, "stream:reviewer").await;
    let (status, text) = upload(&w.server, Some(&w.other.token), &w.stream, &body()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("stream:contributor"), "{text}");
    // A contributor writes, but not with a token that lacks streams:write.
    grant(&w, &w.stream, &w.other, "stream:contributor").await;
    let read_only = token_with(&w.server, &w.other, &["streams:read"]).await;
    let (status, text) = upload(&w.server, Some(&read_only), &w.stream, &body()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("streams:write"), "{text}");
    let (status, text) = upload(&w.server, Some(&w.other.token), &w.stream, &body()).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, _, got) = get(&w.server, Some(&read_only), &single, None).await;
    assert_eq!((status, got.as_str()), (StatusCode::OK, data.as_str()));
    // Reading a private project needs streams:read.
    let write_only = token_with(&w.server, &w.other, &["streams:write"]).await;
    assert_eq!(
        get(&w.server, Some(&write_only), &single, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = get_lines(
        &w.server,
        Some(&write_only),
        &w.stream,
        std::slice::from_ref(&id),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A public project is readable by anyone, writable still only by its contributors.
    let public = w.server.create_stream(&w.owner, "public").await;
    let (status, _) = upload(&w.server, Some(&w.owner.token), &public, &body()).await;
    assert_eq!(status, StatusCode::CREATED);
    let public_single = format!("/objects/{public}/{id}/single");
    let (status, _, got) = get(&w.server, None, &public_single, None).await;
    assert_eq!((status, got.as_str()), (StatusCode::OK, data.as_str()));
    let (status, lines) = get_lines(&w.server, None, &public, std::slice::from_ref(&id)).await;
    assert_eq!((status, lines.len()), (StatusCode::OK, 1));
    assert_eq!(
        upload(&w.server, None, &public, &body()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        diff(&w.server, None, &public, &[&id]).await.0,
        StatusCode::UNAUTHORIZED
    );

    // An unknown project: 404 to a caller with a token; 401 without one.
    let (status, text) = upload(&w.server, Some(&w.owner.token), "nosuchproject", &body()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let unknown = format!("/objects/nosuchproject/{id}/single");
    assert_eq!(
        get(&w.server, Some(&w.owner.token), &unknown, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&w.server, None, &unknown, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    w.server.shutdown().await;
}
