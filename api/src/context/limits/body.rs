//! Request bodies: a per-router size limit and an extractor that reads the body within it, so
//! that an oversized body (announced by Content-Length or discovered while reading a chunked one)
//! is always a 413 with a sentence, and a body that cannot be read or parsed a 400 with a
//! sentence, never a middleware's default text or an error's debug form.
//!
//! Why a layer *and* an extractor: the layer refuses what Content-Length already tells before
//! the handler runs and caps the body for whoever reads it; only the reader learns that a chunked
//! body ran over, so it maps that error itself. A router that needs a larger limit (object
//! uploads) wraps its routes with its own [`limited`] and its own number.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::LengthLimitError;

use crate::context::limits::bytes;

/// The limit in force for this request, left in its extensions by [`limited`].
#[derive(Clone, Copy, Debug)]
struct BodyLimit {
    max: usize,
    deadline: Duration,
}

/// A plain-text answer: the status and one sentence.
pub fn sentence(status: StatusCode, text: impl Into<String>) -> Response {
    let mut r = (status, text.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub fn too_large(max: usize) -> Response {
    sentence(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The request body is larger than this endpoint accepts ({}, set by MAX_REQUEST_BYTES).",
            bytes(max)
        ),
    )
}

/// `router` with its request bodies capped at `max` bytes; a body still arriving after
/// `deadline` is abandoned (a client trickling a body must not hold a request slot forever).
pub fn limited<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    max: usize,
    deadline: Duration,
) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(
        BodyLimit { max, deadline },
        limit_body,
    ))
}

async fn limit_body(State(limit): State<BodyLimit>, mut req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit.max as u64) {
        return too_large(limit.max);
    }
    req.extensions_mut().insert(limit);
    let req = req.map(|b| Body::new(http_body_util::Limited::new(b, limit.max)));
    next.run(req).await
}

/// The whole request body, read within the router's [`limited`] cap (or, without one, within
/// [`crate::context::limits::MIB`] and 10 s).
pub struct LimitedBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Response> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit {
                max: crate::context::limits::MIB,
                deadline: Duration::from_secs(10),
            });
        let read = axum::body::to_bytes(req.into_body(), usize::MAX);
        match tokio::time::timeout(limit.deadline, read).await {
            Ok(Ok(b)) => Ok(Self(b)),
            Ok(Err(e)) if is_length_limit(&e) => Err(too_large(limit.max)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "request body unreadable");
                Err(sentence(
                    StatusCode::BAD_REQUEST,
                    "The request body could not be read completely.",
                ))
            }
            Err(_) => Err(sentence(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {:?} (REQUEST_DEADLINE).",
                    limit.deadline
                ),
            )),
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// What is wrong with a JSON body, as a sentence about `what` ("a GraphQL request", "an
/// event"), never serde's debug form; quoted values are cut short.
pub fn json_problem(e: &serde_json::Error, what: &str) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Io => "The request body could not be read.".to_owned(),
        Category::Syntax => format!("The request body is not valid JSON (syntax error at {at})."),
        Category::Eof => format!("The request body is not complete JSON (it ends at {at})."),
        Category::Data => {
            let full = e.to_string();
            // serde_json appends " at line L column C"; the position is given our way instead.
            let reason = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(r, _)| r);
            let reason: String = if reason.chars().count() > 200 {
                reason.chars().take(200).chain("…".chars()).collect()
            } else {
                reason.to_owned()
            };
            format!("The request body is JSON but not {what}: {reason} ({at}).")
        }
    }
}
