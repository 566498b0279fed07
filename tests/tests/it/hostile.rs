//! Hostile input, each attack with the answer it must get, against the real server over
//! HTTP on SQLite and (with TEST_DATABASE_URL) PostgreSQL. Every request is bounded by a
//! `tokio::time::timeout`: unbounded, several of these ran for tens of seconds or took the
//! process down, so a hang is a failure with a sentence, not a stuck suite. The bound is a guard,
//! not a benchmark: `streamhooks-bench --only attack` measures times and memory.
//!
//! - [`queries`]: fragment fan-outs and chains, pages priced by their limit, the answer budget;
//! - [`input`]: U+0000, lengths, control characters in URLs, loose event ids, token lifespans;
//! - [`bodies`]: oversized and malformed bodies;
//! - [`load`]: the request deadline and the cap on requests in flight;
//! - [`clients`]: what Speckle's clients send still passes the default limits;
//! - [`props`]: any text either round-trips exactly or is refused with BAD_USER_INPUT.

mod bodies;
mod clients;
mod input;
mod load;
mod props;
mod queries;

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// `fut`, or a failure naming `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {limit:?}"))
}

/// A raw HTTP answer: status, content type, body text.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// POSTs `body` as-is to `url`, optionally with a bearer token.
pub async fn post(url: &str, token: Option<&str>, body: impl Into<reqwest::Body>) -> Answer {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let content_type = header("content-type").unwrap_or_default();
    let retry_after = header("retry-after");
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        retry_after,
        text,
    }
}

/// Asserts `r` is a refusal with `code` and a message containing `words`, and returns the message.
pub fn refused(r: &Value, code: &str, words: &str) -> String {
    let m = crate::support::message(r);
    assert_eq!(crate::support::code(r), code, "{r}");
    assert!(m.contains(words), "{m:?} lacks {words:?}");
    m
}
