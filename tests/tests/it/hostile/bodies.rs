//! Bodies: over MAX_REQUEST_BYTES (announced or chunked) a 413, malformed a 400, each with a
//! plain sentence and never a parser's or the HTTP stack's debug text.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{post, within, Answer};
use crate::support::world;

const TEN: Duration = Duration::from_secs(10);

/// Debug renderings that must never reach a client.
fn no_debug_text(a: &Answer) {
    for tell in [
        "Io(", "Custom {", "kind:", "Error(", "Syntax(", "line: ", "column: ",
    ] {
        assert!(
            !a.text.contains(tell),
            "debug text {tell:?} in {:?}",
            a.text
        );
    }
}

/// POSTs 10 MB to `url` in 64 KiB chunks with no Content-Length, over a plain TCP connection
/// (so the chunked framing is exactly what a client sends), and reads the answer. The server may
/// answer and close before the body is sent; a failed write is then expected.
async fn chunked_10mb(url: &str, token: &str) -> Answer {
    let url = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{e}"));
    let addr = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port().unwrap_or(80)
    );
    let mut conn = TcpStream::connect(&addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        url.path()
    );
    let chunk = [
        format!("{:x}\r\n", 64 * 1024).into_bytes(),
        vec![b'a'; 64 * 1024],
        b"\r\n".to_vec(),
    ]
    .concat();
    let mut sent = conn.write_all(head.as_bytes()).await;
    for _ in 0..160 {
        if sent.is_err() {
            break;
        }
        sent = conn.write_all(&chunk).await;
    }
    if sent.is_ok() {
        let _ = conn.write_all(b"0\r\n\r\n").await;
    }
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, text) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        retry_after: None,
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_with_a_sentence() {
    let w = world().await;
    let admin = w.server.create_admin("Ad Min", "admin@example.com").await;
    for path in ["/graphql", "/api/events"] {
        let url = format!("{}{path}", w.server.url());
        let a = within(TEN, "chunked", chunked_10mb(&url, &admin.token)).await;
        assert_eq!(a.status, 413, "{path} chunked: {}", a.text);
        assert!(a.text.contains("MAX_REQUEST_BYTES"), "{path}: {:?}", a.text);
        assert!(
            a.content_type.starts_with("text/plain"),
            "{}",
            a.content_type
        );
        no_debug_text(&a);
        let announced = format!(
            "{{\"query\":\"{{ serverInfo {{ name }} }}\",\"x\":\"{}\"}}",
            "a".repeat(2 * 1024 * 1024)
        );
        let a = within(
            TEN,
            "content-length",
            post(&url, Some(&admin.token), announced),
        )
        .await;
        assert_eq!(a.status, 413, "{path} with Content-Length: {}", a.text);
        assert!(
            a.text.contains("larger than this endpoint accepts"),
            "{:?}",
            a.text
        );
    }
    // Just under the limit is read and answered.
    let padded = format!(
        "{{\"query\":\"{{ serverInfo {{ name }} }}\",\"variables\":{{\"pad\":\"{}\"}}}}",
        "a".repeat(1024 * 1024 - 100)
    );
    let a = post(&format!("{}/graphql", w.server.url()), None, padded).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["data"]["serverInfo"]["name"], json!("streamhooks"));
    w.server.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_get_400_with_a_sentence() {
    let w = world().await;
    let admin = w.server.create_admin("Ad Min", "admin@example.com").await;
    let graphql = format!("{}/graphql", w.server.url());
    for (body, words) in [
        ("{\"query\": ", "not complete JSON"),
        ("{\"query\": \"{ x }\",}", "not valid JSON"),
        ("not json at all", "not valid JSON"),
        ("{\"query\": 5}", "not a GraphQL request"),
        (
            "[{\"query\": \"{ serverInfo { name } }\"}]",
            "not a GraphQL request",
        ),
        ("{\"variables\": {}}", "has no query"),
    ] {
        let a = within(TEN, body, post(&graphql, None, body.to_owned())).await;
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        assert!(
            a.text.contains(words),
            "{body}: {:?} lacks {words:?}",
            a.text
        );
        no_debug_text(&a);
    }
    let events = format!("{}/api/events", w.server.url());
    for (body, words) in [
        ("{\"streamId\": ", "not complete JSON"),
        (
            "{\"streamId\": 5, \"userId\": \"u\", \"event\": \"stream_update\"}",
            "not an event",
        ),
        (
            "{\"streamId\": \"s\", \"userId\": \"u\", \"event\": \"stream_update\", \"x\": 1}",
            "unknown field",
        ),
    ] {
        let a = within(
            TEN,
            body,
            post(&events, Some(&admin.token), body.to_owned()),
        )
        .await;
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        let e = a.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(e.contains(words), "{body}: {e:?} lacks {words:?}");
        no_debug_text(&a);
    }
    // A syntax error in the document itself is a GraphQL error that says where, without
    // echoing the document.
    let q = format!("{{ serverInfo {{ name {}", "x ".repeat(100_000));
    let a = post(&graphql, None, json!({ "query": q }).to_string()).await;
    let m = a.json()["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(m.contains("not valid GraphQL (line 1"), "{m:?}");
    assert!(a.text.len() < 1000, "{} bytes", a.text.len());
    w.server.shutdown().await;
}
