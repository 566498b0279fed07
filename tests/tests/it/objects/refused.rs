//! Bad object uploads and id lists: each gets a 4xx with a sentence saying what is wrong, and an
//! upload refused in any part stores nothing, not even its good parts. Sizes are checked against
//! a server started with a small `--max-object-upload-bytes`, gzip bombs included.

use reqwest::StatusCode;
use serde_json::json;
use streamhooks_api::testkit::{TestServer, TEST_ARGS};

use super::{batch, gzip, held, object, post_raw, upload, BOUNDARY};
use crate::support::{world, World};

#[tokio::test]
async fn every_kind_of_bad_batch_is_refused_with_a_sentence_and_nothing_stored() {
    let w = world().await;
    let good = object(json!({ "fine": true }));
    let valid = gzip(&batch(&[&good]));
    let truncated = valid[..valid.len() - 8].to_vec();
    let tab_id = format!("[{{\"id\":\"{}\\t\"}}]", "a".repeat(31));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "bad gzip",
            "application/gzip",
            b"[{\"plain\": true}]".to_vec(),
            "is not valid gzip",
        ),
        (
            "truncated gzip",
            "application/gzip",
            truncated,
            "is not valid gzip",
        ),
        (
            "not UTF-8",
            "application/json",
            b"[\"\xff\xfe\"]".to_vec(),
            "is not UTF-8",
        ),
        (
            "not JSON",
            "application/json",
            b"[{\"id\": ".to_vec(),
            "is not valid JSON",
        ),
        (
            "not an array",
            "text/plain",
            good.1.clone().into_bytes(),
            "is not a JSON array",
        ),
        (
            "not an object",
            "application/json",
            b"[[\"id\"]]".to_vec(),
            "is not a JSON object",
        ),
        (
            "no id",
            "application/json",
            b"[{\"speckle_type\": \"Base\"}]".to_vec(),
            "without an \"id\"",
        ),
        (
            "id not a string",
            "application/json",
            b"[{\"id\": 5}]".to_vec(),
            "is not a string",
        ),
        (
            "short id",
            "application/json",
            b"[{\"id\": \"abc\"}]".to_vec(),
            "is not 32 ASCII letters",
        ),
        (
            "id with a tab",
            "application/json",
            tab_id.into_bytes(),
            "is not 32 ASCII letters",
        ),
        (
            "duplicate id key",
            "application/json",
            format!("[{{\"id\":\"{0}\",\"id\":\"{0}\"}}]", good.0).into_bytes(),
            "duplicate field",
        ),
        (
            "wrong type",
            "image/png",
            batch(&[&good]),
            "content type \"image/png\"",
        ),
    ];
    for (what, ctype, bytes, expected) in cases {
        // The good part comes first: it must not be stored when a later part is refused.
        let (status, text) = upload(
            &w.server,
            Some(&w.owner.token),
            &w.stream,
            &[
                ("batch-1", Some("application/gzip"), valid.clone()),
                ("batch-2", Some(ctype), bytes),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        assert!(text.contains(expected), "{what}: {text}");
        assert!(text.contains("part 2 (\"batch-2\")"), "{what}: {text}");
        assert_eq!(
            held(&w, &[&good.0]).await,
            [false],
            "{what} stored something"
        );
    }

    let (status, text) = post_raw(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        "application/json",
        batch(&[&good]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("not multipart/form-data"), "{text}");

    let ctype = format!("multipart/form-data; boundary={BOUNDARY}");
    let cut =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n[").into_bytes();
    let (status, text) = post_raw(&w.server, Some(&w.owner.token), &w.stream, &ctype, cut).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("not valid multipart/form-data"), "{text}");

    let empty = format!("--{BOUNDARY}--\r\n").into_bytes();
    let (status, text) = post_raw(&w.server, Some(&w.owner.token), &w.stream, &ctype, empty).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("no parts"), "{text}");

    assert_eq!(held(&w, &[&good.0]).await, [false]);
    // And the same good part on its own is fine.
    let (status, _) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", Some("application/gzip"), valid)],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(held(&w, &[&good.0]).await, [true]);
    w.server.shutdown().await;
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_counting_decompressed_bytes() {
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--max-object-upload-bytes", "16384"]);
    let server = TestServer::start_with(&args, true).await;
    let owner = server.create_user("Owner Olga", "olga@example.com").await;
    let other = server.create_user("Other Otto", "otto@example.com").await;
    let stream = server.create_stream(&owner, "limits").await;
    let w = World {
        server,
        owner,
        other,
        stream,
    };
    let small = object(json!({ "small": true }));
    let padded = |n: usize| format!("[{}{}]", small.1, " ".repeat(n)).into_bytes();

    // A plain part bigger than the request limit.
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", Some("application/json"), padded(20_000))],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(
        text.contains("16384 bytes") && text.contains("MAX_OBJECT_UPLOAD_BYTES"),
        "{text}"
    );
    // A gzip bomb: 8 MB of blanks in a few kilobytes on the wire.
    let bomb = gzip(&padded(8 << 20));
    assert!(
        bomb.len() < 16384 - 512,
        "the bomb itself fits the limit ({} bytes)",
        bomb.len()
    );
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", Some("application/gzip"), bomb)],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    // Parts that fit one by one but not together: the budget is the upload's.
    let part = || gzip(&padded(10_000));
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[
            ("b1", Some("application/gzip"), part()),
            ("b2", Some("application/gzip"), part()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert_eq!(held(&w, &[&small.0]).await, [false]);
    // One such part is within the limit.
    let (status, text) = upload(
        &w.server,
        Some(&w.owner.token),
        &w.stream,
        &[("b", Some("application/gzip"), part())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(held(&w, &[&small.0]).await, [true]);

    // An id list over the limit is 413 too.
    let ids: Vec<String> = (0..1000).map(|i| format!("{i:032}")).collect();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/diff/{}", w.server.url(), w.stream))
        .header("authorization", format!("Bearer {}", w.owner.token))
        .form(&[("objects", json!(ids).to_string())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    w.server.shutdown().await;
}

#[tokio::test]
async fn bad_id_lists_are_400_with_speckles_sentence() {
    let w = world().await;
    let client = reqwest::Client::new();
    for route in ["diff", "getobjects"] {
        let bodies: Vec<(&str, String)> = vec![
            ("application/x-www-form-urlencoded", "other=1".into()),
            (
                "application/x-www-form-urlencoded",
                "objects=not-json".into(),
            ),
            (
                "application/x-www-form-urlencoded",
                "objects=%5B1%2C2%5D".into(),
            ),
            ("application/json", "{\"objects\": 5}".into()),
            ("application/json", "not json".into()),
        ];
        for (ctype, body) in bodies {
            let resp = client
                .post(format!("{}/api/{route}/{}", w.server.url(), w.stream))
                .header("authorization", format!("Bearer {}", w.owner.token))
                .header("content-type", ctype)
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{route} {body}");
            let text = resp.text().await.unwrap_or_default();
            assert!(text.starts_with("Invalid body. Please provide a JSON object containing the property \"objects\""), "{text}");
        }
    }
    w.server.shutdown().await;
}
