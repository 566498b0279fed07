//! Object requests that carry a body are admitted a few at a time and must send their body in
//! time, because each may hold up to MAX_OBJECT_UPLOAD_BYTES in memory and `getobjects` on a
//! public project needs no token. With one place: a request whose body stalls keeps the next one
//! out (503 with a sentence once the queue wait is over), the body deadline then ends it (408) and
//! gives the place back, and object requests are served again.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use streamhooks_api::testkit::{TestServer, TEST_ARGS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::get_lines;

#[tokio::test]
async fn a_stalled_body_holds_the_only_place_until_its_deadline_then_gives_it_back() {
    let mut args = TEST_ARGS.to_vec();
    args.extend([
        "--max-object-requests-in-flight",
        "1",
        "--in-flight-queue-timeout",
        "300ms",
        "--object-body-deadline",
        "2s",
    ]);
    let server = TestServer::start_with(&args, false).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "public models").await;
    let ids = vec!["0".repeat(32)];

    // An anonymous getobjects whose headers promise 1,000 bytes of body, of which 10 arrive.
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut stalled = TcpStream::connect(&addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let head = format!(
        "POST /api/getobjects/{stream} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nobjects=%5"
    );
    stalled
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));

    // Once the stalled request has its place, the next one is refused after the queue wait.
    let started = Instant::now();
    let refused = loop {
        let (status, _) = get_lines(&server, None, &stream, &ids).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break true;
        }
        assert_eq!(status, StatusCode::OK, "only 200 or 503 are expected here");
        if started.elapsed() > Duration::from_millis(1500) {
            break false;
        }
    };
    assert!(
        refused,
        "a second object request was served while the only place was held"
    );
    let text = reqwest::Client::new()
        .post(format!("{}/api/getobjects/{stream}", server.url()))
        .form(&[("objects", "[]")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST: {e}"));
    assert_eq!(text.status(), StatusCode::SERVICE_UNAVAILABLE);
    let sentence = text.text().await.unwrap_or_default();
    assert!(
        sentence.contains("MAX_OBJECT_REQUESTS_IN_FLIGHT"),
        "{sentence}"
    );

    // The stalled body runs out of time: 408 with a sentence, and the place is free again.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n")
                        && String::from_utf8_lossy(&answer).contains("OBJECT_BODY_DEADLINE")
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stalled request was never answered");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (status, lines) = get_lines(&server, None, &stream, &ids).await;
    assert_eq!(status, StatusCode::OK, "the place was not given back");
    assert!(lines.is_empty());
    server.shutdown().await;
}
