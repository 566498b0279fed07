//! One delivery attempt: send the request [`wire::prepare`] builds (body and headers in the
//! webhook's format) through the shared client, and turn whatever happens into an [`Attempt`] with
//! a sentence a stream owner can act on.
//!
//! The client is built once and shared (connection pooling is most of the throughput) with no
//! redirects (a redirect is reported, not followed: following it would bypass the guard and send
//! the signed payload somewhere the owner never configured), no proxy (a proxy would connect on
//! our behalf to addresses the guard never saw) and the guarded resolver.
//!
//! What the receiver answered is kept for the attempt record ([`Response`]): its headers and the
//! start of its body, capped, as text. That text is the receiver's, so it is made safe to store
//! (lossy UTF-8, no NUL, which PostgreSQL cannot hold) and is never written to a log line.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{header, redirect, Client, StatusCode};

use crate::config::WorkerConfig;
use crate::core::guard::{Guard, GuardError, GuardedResolver};
use crate::core::metrics::Outcome;
use crate::core::secrets::cipher::Secrets;
use crate::core::wire;
use crate::dispatch::attempt::{human, Attempt, Response, SuccessCodes};
use crate::dispatch::retry;
use crate::rows::{Claimed, Endpoint};

pub const USER_AGENT: &str = concat!("streamhooks/", env!("CARGO_PKG_VERSION"));

/// Characters of a response body kept in `statusInfo`.
const EXCERPT_CHARS: usize = 200;

/// Bytes of a response body kept in the attempt record.
pub const BODY_KEPT_BYTES: usize = 4096;
/// Response headers kept in the attempt record, and the longest name and value kept of each.
pub const HEADERS_KEPT: usize = 32;
const HEADER_NAME_KEPT: usize = 128;
const HEADER_VALUE_KEPT: usize = 512;

/// The single HTTP client of a dispatcher.
///
/// reqwest's own retry layer is turned off, not left at its default: that layer copies every
/// request (headers and all) before sending it, in case a protocol-level refusal lets it send
/// again, and retrying is the dispatcher's business (its schedule, its attempt record), never a
/// second signed request the attempt record does not show.
pub fn client(config: &WorkerConfig, guard: Arc<Guard>) -> reqwest::Result<Client> {
    Client::builder()
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .redirect(redirect::Policy::none())
        .no_proxy()
        .timeout(config.request_timeout)
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(GuardedResolver::new(guard)))
        .build()
}

/// A webhook as its deliveries use it: the endpoint, and its URL parsed once per claim rather than
/// once per request (parsing per request is ~2% of the dispatcher's CPU under
/// `streamhooks-bench --only side`).
#[derive(Debug)]
pub struct Target {
    pub webhook: Endpoint,
    /// `None` when the stored URL is not an absolute http(s) URL.
    url: Option<url::Url>,
    /// The statuses that count as delivered, as the webhook's store says.
    success: SuccessCodes,
}

impl Target {
    pub fn new(webhook: Endpoint, success: SuccessCodes) -> Self {
        let url = url::Url::parse(&webhook.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        Target {
            webhook,
            url,
            success,
        }
    }
}

/// Sends `event` to `target` once.
pub async fn attempt(
    client: &Client,
    guard: &Guard,
    config: &WorkerConfig,
    secrets: &Secrets,
    event: &Claimed,
    target: &Target,
) -> Attempt {
    let webhook = &target.webhook;
    let Some(url) = &target.url else {
        return Attempt::fatal(
            Outcome::Network,
            format!(
                "The webhook URL {:?} is not an absolute http(s) URL.",
                webhook.url
            ),
        );
    };
    if let Err(e) = guard.check_url(url) {
        return Attempt::fatal(Outcome::Blocked, e.to_string());
    }
    // The whole request (body in the webhook's format, signatures, identifying headers) is built
    // in `wire`; this function only sends it and reads what comes back.
    let delivery = wire::Delivery {
        id: event.id,
        event_name: &event.event_name,
        attempt: i64::from(event.attempt),
        payload: &event.payload,
    };
    let request = match wire::prepare(secrets, webhook, &delivery, SystemTime::now()) {
        Ok(r) => r,
        Err(u) => return unsendable(u),
    };
    let started = Instant::now();
    let mut builder = client.post(url.clone());
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let sent = builder.body(request.body).send().await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return from_error(&e, url, config.request_timeout, started.elapsed()),
    };
    let status = resp.status();
    let retry_after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now())),
        _ => None,
    };
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let headers = kept_headers(resp.headers());
    // Read (up to the cap) even on success: a body left unread keeps the connection out of the
    // pool. A body that fails half-way does not change a status the receiver already sent.
    let mut buf = Vec::new();
    while buf.len() < config.response_body_limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(config.response_body_limit - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let elapsed = started.elapsed();
    let response = Response {
        headers,
        body: kept_body(&buf),
    };
    if target.success.accepts(status.as_u16()) {
        return Attempt::Delivered {
            status,
            elapsed,
            response,
        };
    }
    let redirect_to = location.as_deref().filter(|_| status.is_redirection());
    let message = if let Some(to) = redirect_to {
        // The Location is the receiver's text too: same one-line, capped treatment as a body.
        format!(
            "Redirect (HTTP {} to {}) not followed; point the webhook at the final URL.",
            status.as_u16(),
            excerpt(to.as_bytes())
        )
    } else {
        let excerpt = excerpt(&buf);
        let mut m = format!("HTTP {}", status_line(status));
        if excerpt.is_empty() {
            m.push_str(" (empty response).");
        } else {
            m.push_str(&format!(": {excerpt}."));
        }
        if let Some(d) = retry_after {
            m.push_str(&format!(" The receiver asked to retry after {}.", human(d)));
        }
        m
    };
    Attempt::Failed {
        outcome: Outcome::HttpError,
        message,
        retry_after,
        retryable: true,
        elapsed: Some(elapsed),
        response: Some((status, response)),
    }
}

/// The response headers worth keeping: capped in number and length, as lossy text without NUL.
fn kept_headers(map: &header::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .take(HEADERS_KEPT)
        .map(|(name, value)| {
            (
                clean(name.as_str().as_bytes(), HEADER_NAME_KEPT),
                clean(value.as_bytes(), HEADER_VALUE_KEPT),
            )
        })
        .collect()
}

/// The start of a body as stored in the attempt record.
fn kept_body(body: &[u8]) -> String {
    clean(body, BODY_KEPT_BYTES)
}

/// At most `max` bytes of `bytes` as text: invalid UTF-8 and NUL (which PostgreSQL text cannot
/// hold) become U+FFFD, and a character cut by the cap is dropped.
fn clean(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut out: String = text
        .chars()
        .map(|c| if c == '\0' { '\u{fffd}' } else { c })
        .collect();
    // A multi-byte character cut by the cap shows up as one trailing U+FFFD; drop it.
    if bytes.len() > max && out.ends_with('\u{fffd}') {
        out.pop();
    }
    out
}

/// An attempt that could not be built ([`wire::prepare`]): recorded, nothing sent.
fn unsendable(u: wire::Unsendable) -> Attempt {
    Attempt::Failed {
        outcome: u.outcome,
        message: u.message,
        retry_after: None,
        retryable: u.retryable,
        elapsed: None,
        response: None,
    }
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The first characters of a body, on one line and without control characters, so a hostile
/// receiver cannot inject markup-breaking or terminal-control bytes into the history view.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut last_space = true;
    for c in text.chars().take(EXCERPT_CHARS) {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let trimmed = out.trim_end();
    let mut s = trimmed.trim_end_matches('.').to_owned();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        s.push('…');
    }
    s
}

fn from_error(e: &reqwest::Error, url: &url::Url, timeout: Duration, elapsed: Duration) -> Attempt {
    let failed = |outcome, message: String, retryable| Attempt::Failed {
        outcome,
        message,
        retry_after: None,
        retryable,
        elapsed: Some(elapsed),
        response: None,
    };
    let host = url.host_str().unwrap_or("");
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(g) = s.downcast_ref::<GuardError>() {
            return match g {
                GuardError::Blocked { .. } => failed(Outcome::Blocked, g.to_string(), false),
                GuardError::NotFound { .. } => failed(Outcome::Network, g.to_string(), true),
            };
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                let port = url.port_or_known_default().unwrap_or(0);
                return failed(
                    Outcome::Network,
                    format!("Connection refused by {host}:{port}."),
                    true,
                );
            }
        }
        source = s.source();
    }
    if e.is_timeout() {
        return failed(
            Outcome::Timeout,
            format!(
                "Timed out after {} without a complete response.",
                human(timeout)
            ),
            true,
        );
    }
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let what = if e.is_connect() {
        format!("Could not connect to {host}")
    } else {
        "Network error".into()
    };
    failed(Outcome::Network, format!("{what}: {chain}."), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_clean_line_and_capped() {
        assert_eq!(
            excerpt(b"  oops\n\tbad\x1b[31m thing.\r\n"),
            "oops bad [31m thing"
        );
        let long = "x".repeat(500);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn stored_text_is_capped_and_has_no_nul() {
        assert_eq!(clean(b"a\0b\xffc", 100), "a\u{fffd}b\u{fffd}c");
        // "é" is two bytes; a cap in its middle drops it rather than storing half.
        assert_eq!(clean("abé".as_bytes(), 3), "ab");
        assert_eq!(kept_body(&vec![b'x'; 10_000]).len(), BODY_KEPT_BYTES);
        let mut map = header::HeaderMap::new();
        for i in 0..40 {
            map.append(
                header::HeaderName::from_bytes(format!("x-h{i}").as_bytes())
                    .unwrap_or(header::DATE),
                header::HeaderValue::from_static("v"),
            );
        }
        assert_eq!(kept_headers(&map).len(), HEADERS_KEPT);
        let r = Response {
            headers: vec![("x-a".into(), "q\"uote".into())],
            body: String::new(),
        };
        assert_eq!(r.headers_json(), r#"[["x-a","q\"uote"]]"#);
    }
}
