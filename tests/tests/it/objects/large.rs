//! Larger projects: uploads and id lists bigger than GraphQL's body limit, reads of more ids
//! than one database query takes, the line format's safety for Python readers, and objects
//! going away with their project.

use entity::object;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use streamhooks_api::testkit::{TestServer, TEST_ARGS};

use super::{batch, get, get_lines, gzip, held, object, upload};
use crate::support::{world, World};

#[tokio::test]
async fn object_routes_have_their_own_limit_above_graphqls() {
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--max-request-bytes", "4096"]);
    let server = TestServer::start_with(&args, true).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let other = server.create_user("Other Otto", "otto@example.com").await;
    let stream = server.create_stream(&owner, "big").await;
    let w = World {
        server,
        owner,
        other,
        stream,
    };

    // GraphQL refuses a 64 KB body ...
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", w.server.url()))
        .header("content-type", "application/json")
        .body(
            json!({ "query": format!("{{ serverInfo {{ name }} }} #{}", "x".repeat(65_536)) })
                .to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // ... while a 2 MB upload and a 1.5 MB id list go through the object routes.
    let big = object(json!({ "blob": "y".repeat(2 << 20) }));
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, batch(&[&big]))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let mut ids: Vec<String> = (0..40_000).map(|i| format!("{i:032x}")).collect();
    ids.push(big.0.clone());
    let (status, lines) = get_lines(&w.server, Some(&w.owner.token), &w.stream, &ids).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lines, vec![big.clone()]);
    w.server.shutdown().await;
}

#[tokio::test]
async fn thousands_of_objects_come_back_complete_across_query_chunks() {
    let w = world().await;
    let children: Vec<(String, String)> = (0..1_234)
        .map(|i| object(json!({ "speckle_type": "Base", "i": i, "text": format!("child {i} ✓") })))
        .collect();
    let closure: serde_json::Map<String, Value> =
        children.iter().map(|c| (c.0.clone(), json!(1))).collect();
    let parent = object(json!({ "speckle_type": "Base", "__closure": closure }));
    // Three gzipped parts in one request, as a client batching its sends would do.
    let refs: Vec<&(String, String)> = children.iter().collect();
    let parts: Vec<(&str, Option<&str>, Vec<u8>)> = refs
        .chunks(500)
        .map(|c| ("batch", Some("application/gzip"), gzip(&batch(c))))
        .chain([("root", Some("application/gzip"), gzip(&batch(&[&parent])))])
        .collect();
    let (status, text) = upload(&w.server, Some(&w.owner.token), &w.stream, &parts).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    let mut ask: Vec<String> = children.iter().map(|c| c.0.clone()).collect();
    ask.extend((0..700).map(|i| format!("{i:032}")));
    let (status, mut lines) = get_lines(&w.server, Some(&w.owner.token), &w.stream, &ask).await;
    assert_eq!(status, StatusCode::OK);
    lines.sort();
    let mut expected = children.clone();
    expected.sort();
    assert_eq!(lines, expected);

    let path = format!("/objects/{}/{}", w.stream, parent.0);
    let (status, _, body) = get(&w.server, Some(&w.owner.token), &path, Some("text/plain")).await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<&str> = body.split_terminator('\n').collect();
    assert_eq!(got.len(), 1 + children.len());
    assert_eq!(got[0], format!("{}\t{}", parent.0, parent.1));
    let mut rest: Vec<String> = got[1..].iter().map(|l| (*l).to_owned()).collect();
    let mut want: Vec<String> = children
        .iter()
        .map(|c| format!("{}\t{}", c.0, c.1))
        .collect();
    want.sort();
    assert_eq!(rest, want, "children in id order");
    rest.dedup();
    assert_eq!(rest.len(), children.len());
    w.server.shutdown().await;
}

#[tokio::test]
async fn line_format_never_breaks_an_object_where_python_splits_lines() {
    let w = world().await;
    let text = "para\u{2029}line\u{2028}next\u{85}end";
    let o = object(json!({ "text": text }));
    assert!(o.1.contains('\u{2028}'), "serde_json writes U+2028 raw");
    let (status, _) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, batch(&[&o]))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, lines) = get_lines(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        std::slice::from_ref(&o.0),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lines.len(), 1);
    let line = &lines[0].1;
    assert!(!line.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{line}");
    let back: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(back["text"], json!(text));
    // `single` is not line-based: the bytes as uploaded.
    let path = format!("/objects/{}/{}/single", w.stream, o.0);
    assert_eq!(
        get(&w.server, Some(&w.owner.token), &path, None).await.2,
        o.1
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn deleting_a_project_deletes_its_objects() {
    let w = world().await;
    let o = object(json!({ "doomed": true }));
    let (status, _) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, batch(&[&o]))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(held(&w, &[&o.0]).await, [true]);
    let db = &w.server.running.state.db;
    let count = || {
        object::Entity::find()
            .filter(object::Column::StreamId.eq(w.stream.as_str()))
            .count(db)
    };
    assert_eq!(count().await.unwrap_or_else(|e| panic!("{e}")), 1);
    w.server
        .gql_ok(
            &w.owner.token,
            "mutation($id: String!) { streamDelete(id: $id) }",
            json!({ "id": w.stream }),
        )
        .await;
    assert_eq!(count().await.unwrap_or_else(|e| panic!("{e}")), 0);
    let path = format!("/objects/{}/{}/single", w.stream, o.0);
    assert_eq!(
        get(&w.server, Some(&w.owner.token), &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    w.server.shutdown().await;
}

#[tokio::test]
async fn concurrent_uploads_sharing_objects_all_succeed() {
    let w = world().await;
    let shared: Vec<(String, String)> = (0..2000).map(|i| object(json!({ "shared": i }))).collect();
    let mut tasks = Vec::new();
    for n in 0..8 {
        // Half the clients send the same objects in the opposite order.
        let mut mine: Vec<&(String, String)> = shared.iter().collect();
        if n % 2 == 1 {
            mine.reverse();
        }
        let body = batch(&mine);
        let url = format!("{}/objects/{}", w.server.url(), w.stream);
        let token = w.owner.token.clone();
        tasks.push(tokio::spawn(async move {
            let multipart = super::multipart(&[("batch", None, body)]);
            let resp = reqwest::Client::new()
                .post(url)
                .header("authorization", format!("Bearer {token}"))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={}", super::BOUNDARY),
                )
                .body(multipart)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = resp.status();
            (status, resp.text().await.unwrap_or_default())
        }));
    }
    for t in tasks {
        let (status, text) = t.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let ids: Vec<&str> = shared.iter().map(|o| o.0.as_str()).collect();
    assert!(held(&w, &ids).await.iter().all(|h| *h));
    w.server.shutdown().await;
}
