//! The object REST API over real HTTP (SQLite, or PostgreSQL with TEST_DATABASE_URL): uploads
//! plain and gzipped, diff, single, getobjects in both formats, the full download, the access
//! rules, and every kind of bad upload refused with a sentence and nothing stored. Multipart
//! bodies are written by hand here, so that malformed ones can be sent too; the specklepy suite
//! (`specklepy.rs`) covers what a real client sends.

use std::io::Write;

use flate2::write::GzEncoder;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use streamhooks_api::testkit::TestServer;

use crate::support::{world, World};

mod access;
mod crowd;
mod large;
mod refused;

const BOUNDARY: &str = "streamhooks-test-boundary-7d1f";

/// A Speckle-like object: its id is a hash of its content, as the SDKs make it.
pub fn object(content: Value) -> (String, String) {
    let id = hex::encode(Sha256::digest(content.to_string().as_bytes()))[..32].to_owned();
    let mut v = content;
    v["id"] = json!(id);
    (id, v.to_string())
}

pub fn batch(objects: &[&(String, String)]) -> Vec<u8> {
    let items: Vec<&str> = objects.iter().map(|o| o.1.as_str()).collect();
    format!("[{}]", items.join(",")).into_bytes()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap_or_else(|e| panic!("gzip: {e}"));
    e.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

/// A multipart/form-data body of file parts `(name, content type, bytes)`.
pub fn multipart(parts: &[(&str, Option<&str>, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, ctype, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n").as_bytes());
        if let Some(c) = ctype {
            body.extend_from_slice(format!("Content-Type: {c}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn with_token(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.header("authorization", format!("Bearer {t}")),
        None => req,
    }
}

/// POSTs a raw body to `/objects/{project}`; returns the status and the answer's text.
pub async fn post_raw(
    server: &TestServer,
    token: Option<&str>,
    project: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let req = http()
        .post(format!("{}/objects/{project}", server.url()))
        .header("content-type", content_type)
        .body(body);
    let resp = with_token(req, token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /objects: {e}"));
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

pub async fn upload(
    server: &TestServer,
    token: Option<&str>,
    project: &str,
    parts: &[(&str, Option<&str>, Vec<u8>)],
) -> (StatusCode, String) {
    let ctype = format!("multipart/form-data; boundary={BOUNDARY}");
    post_raw(server, token, project, &ctype, multipart(parts)).await
}

/// `/api/diff` as specklepy calls it (a form field holding a JSON array).
pub async fn diff(
    server: &TestServer,
    token: Option<&str>,
    project: &str,
    ids: &[&str],
) -> (StatusCode, Value) {
    let req = http()
        .post(format!("{}/api/diff/{project}", server.url()))
        .form(&[("objects", json!(ids).to_string())]);
    let resp = with_token(req, token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/diff: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET a path; returns the status, the content type and the body.
pub async fn get(
    server: &TestServer,
    token: Option<&str>,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = http().get(format!("{}{path}", server.url()));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = with_token(req, token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ctype, resp.text().await.unwrap_or_default())
}

/// `/api/getobjects` with `Accept: text/plain`: the `(id, json)` lines.
pub async fn get_lines(
    server: &TestServer,
    token: Option<&str>,
    project: &str,
    ids: &[String],
) -> (StatusCode, Vec<(String, String)>) {
    let req = http()
        .post(format!("{}/api/getobjects/{project}", server.url()))
        .header("accept", "text/plain")
        .form(&[("objects", json!(ids).to_string())]);
    let resp = with_token(req, token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /api/getobjects: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status != StatusCode::OK {
        return (status, Vec::new());
    }
    let lines = text
        .split_terminator('\n')
        .map(|l| match l.split_once('\t') {
            Some((id, json)) => (id.to_owned(), json.to_owned()),
            None => panic!("not an id\\tjson line: {l:?}"),
        })
        .collect();
    (status, lines)
}

/// Which of `ids` the project holds, as the owner's diff says.
pub async fn held(w: &World, ids: &[&str]) -> Vec<bool> {
    let (status, d) = diff(&w.server, Some(&w.owner.token), &w.stream, ids).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    ids.iter().map(|id| d[*id] == json!(true)).collect()
}

/// A parent with two children, the way the SDKs detach them.
fn family() -> [(String, String); 3] {
    let a = object(json!({ "speckle_type": "Base", "name": "child a 🌻", "x": 1.5 }));
    let b = object(
        json!({ "speckle_type": "Base", "name": "child b", "nested": { "list": [1, 2, 3] } }),
    );
    let parent = object(json!({
        "speckle_type": "Base",
        "name": "parent",
        "@kids": [{ "referencedId": a.0, "speckle_type": "reference" }, { "referencedId": b.0, "speckle_type": "reference" }],
        "__closure": { a.0.clone(): 1, b.0.clone(): 1 },
    }));
    [parent, a, b]
}

#[tokio::test]
async fn upload_plain_and_gzipped_parts_then_read_them_back_every_way() {
    let w = world().await;
    let [parent, a, b] = family();
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[
            ("batch-1", Some("application/json"), batch(&[&a, &b])),
            (
                "batch-2",
                Some("application/gzip"),
                gzip(&batch(&[&parent])),
            ),
        ],
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::CREATED, ""));

    let missing = "0123456789abcdef0123456789abcdef";
    let (status, d) = diff(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[&parent.0, &a.0, missing],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        d,
        json!({ parent.0.clone(): true, a.0.clone(): true, missing: false })
    );

    // single: the bytes as uploaded.
    let path = format!("/objects/{}/{}/single", w.stream, parent.0);
    let (status, ctype, body) = get(&w.server, Some(&w.owner.token), &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert_eq!(body, parent.1);

    // getobjects, Speckle's line format: only the ids held, each with its exact JSON.
    let ask = vec![a.0.clone(), missing.to_owned(), b.0.clone()];
    let (status, mut lines) = get_lines(&w.server, Some(&w.owner.token), &w.stream, &ask).await;
    assert_eq!(status, StatusCode::OK);
    lines.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(lines, expected);

    // getobjects without Accept: text/plain is one JSON array.
    let resp = http()
        .post(format!("{}/api/getobjects/{}", w.server.url(), w.stream))
        .header("authorization", format!("Bearer {}", w.owner.token))
        .header("content-type", "application/json")
        .body(json!({ "objects": json!([a.0, b.0]).to_string() }).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), StatusCode::OK);
    let arr: Vec<Value> = resp.json().await.unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = arr.iter().filter_map(|o| o["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["child a 🌻", "child b"]);

    // The full download: the object first, then its children by id.
    let path = format!("/objects/{}/{}", w.stream, parent.0);
    let (status, ctype, body) =
        get(&w.server, Some(&w.owner.token), &path, Some("text/plain")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let mut children = vec![format!("{}\t{}", a.0, a.1), format!("{}\t{}", b.0, b.1)];
    children.sort();
    let mut expected = vec![format!("{}\t{}", parent.0, parent.1)];
    expected.extend(children);
    assert_eq!(body.split_terminator('\n').collect::<Vec<_>>(), expected);
    let (_, ctype, body) = get(&w.server, Some(&w.owner.token), &path, None).await;
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let arr: Vec<Value> = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], json!(parent.0));

    // Unknown objects are 404 with a sentence.
    for path in [
        format!("/objects/{}/{missing}/single", w.stream),
        format!("/objects/{}/{missing}", w.stream),
    ] {
        let (status, _, body) = get(&w.server, Some(&w.owner.token), &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("not found"), "{body}");
    }
    w.server.shutdown().await;
}

#[tokio::test]
async fn an_object_uploaded_again_is_kept_as_first_stored() {
    let w = world().await;
    let (id, first) = object(json!({ "v": 1 }));
    let (status, _) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, format!("[{first}]").into_bytes())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Same id, other content, twice in one batch and again later: accepted, nothing rewritten.
    let other = format!("{{\"id\":\"{id}\",\"v\":2}}");
    let twice = format!("[{other},{other}]").into_bytes();
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, twice)],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let path = format!("/objects/{}/{id}/single", w.stream);
    let (_, _, body) = get(&w.server, Some(&w.owner.token), &path, None).await;
    assert_eq!(body, first);
    w.server.shutdown().await;
}

#[tokio::test]
async fn the_same_id_in_two_projects_is_two_objects() {
    let w = world().await;
    let other_project = w.server.create_stream(&w.owner, "second").await;
    let (id, data) = object(json!({ "v": "shared" }));
    let (status, _) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", None, format!("[{data}]").into_bytes())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, d) = diff(&w.server, Some(&w.owner.token), &other_project, &[&id]).await;
    assert_eq!(d, json!({ id.clone(): false }));
    let path = format!("/objects/{other_project}/{id}/single");
    let (status, _, _) = get(&w.server, Some(&w.owner.token), &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    w.server.shutdown().await;
}
