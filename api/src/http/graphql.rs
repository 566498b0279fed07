//! `POST /graphql`: the one way into the schema, with every limit applied in order of cost to the
//! server: the body (size, deadline), its JSON, the document's syntax, its measured size, depth and
//! nodes ([`crate::context::limits::cost`]), a place among the requests in flight, and only then
//! the token lookup and execution, under the request deadline and the answer budget
//! ([`crate::context::limits::budget`]).
//!
//! The decision a reader may question: the body is parsed here rather than by async-graphql's
//! axum extractor, because that extractor answers a malformed or oversized body with its error's
//! debug text, and because the document must be measured before async-graphql sees it (its own
//! validation walks fragment expansions without memoising them). The parsed document is handed
//! on, so nothing is parsed twice.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, ServerError};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::context::limits::body::{json_problem, sentence, LimitedBody};
use crate::context::limits::budget::{Budget, Overrun, CODE_BUSY};
use crate::context::limits::cost::{measure, CostModel, Measure};
use crate::context::state::AppState;
use crate::schema::AppSchema;

/// Answers holding more text than this are written on a blocking thread.
const LARGE_ANSWER: usize = 256 * 1024;

#[derive(Clone)]
pub struct Endpoint {
    pub app: AppState,
    pub schema: AppSchema,
    pub model: Arc<CostModel>,
}

impl Endpoint {
    pub fn new(app: AppState, schema: AppSchema) -> Self {
        let model = Arc::new(CostModel::from_sdl(&schema.sdl()));
        Self { app, schema, model }
    }
}

fn error(message: impl Into<String>, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

/// `response` with its body handed out in 64 KiB pieces, `guard` dropped only once the last is
/// taken (or the client goes away).
fn hold_until_sent<G: Send + Sync + 'static>(response: Response, guard: G) -> Response {
    let (parts, body) = response.into_parts();
    let body = axum::body::Body::from_stream(
        futures_util::stream::once(async move { axum::body::to_bytes(body, usize::MAX).await })
            .flat_map(move |whole| {
                let _ = &guard;
                let pieces: Vec<Result<axum::body::Bytes, axum::Error>> = match whole {
                    Ok(b) => (0..b.len())
                        .step_by(64 * 1024)
                        .map(|i| Ok(b.slice(i..b.len().min(i + 64 * 1024))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures_util::stream::iter(pieces)
            }),
    );
    Response::from_parts(parts, body)
}

/// `response` as JSON. `size_hint` (the text it holds) sizes the buffer up front: a growing
/// buffer doubles, and the copy at its last doubling held two to three times the answer at once.
fn json(status: StatusCode, response: &async_graphql::Response, size_hint: usize) -> Response {
    let hint = size_hint.min(256 * crate::context::limits::MIB);
    let mut body = Vec::with_capacity(hint + hint / 4 + 4096);
    match serde_json::to_writer(&mut body, response) {
        Ok(()) => (
            status,
            // What async-graphql's own responder sent, so no client sees a difference.
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/graphql-response+json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            sentence(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The answer could not be written.",
            )
        }
    }
}

/// A GraphQL error answer; 200 as GraphQL clients expect, unless `status` says otherwise.
fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut r = json(
        status,
        &async_graphql::Response::from_errors(vec![error(message, code)]),
        0,
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// A syntax error as a sentence: where, and what was expected, without pest's echo of the line
/// (which for a one-line 1 MB document is the whole document).
fn syntax_problem(e: &async_graphql::parser::Error) -> String {
    use async_graphql::parser::Error as E;
    match e {
        E::Syntax { message, start, .. } => {
            let expected = message
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("= "))
                .map(|x| format!(": {}", x.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            format!(
                "The query is not valid GraphQL (line {}, column {}){expected}.",
                start.line, start.column
            )
        }
        E::RecursionLimitExceeded => {
            "The query nests selections more than 64 levels deep.".to_owned()
        }
        other => format!("The query is not a valid GraphQL document: {other}."),
    }
}

/// A count for a sentence, with thousands separated: "1,601,609".
fn count(n: u64) -> String {
    if n == u64::MAX {
        return "more than 18 quintillion".to_owned();
    }
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The first limit `m` breaks, as a sentence that names where to shrink the query.
fn over_limit(app: &AppState, m: &Measure) -> Option<String> {
    let l = &app.config.limits;
    if m.size > l.graphql_max_document_fields as u64 {
        return Some(format!(
            "The document is too large: it holds {} fields after fragments are expanded (each spread counts its fragment again); the limit is {} (GRAPHQL_MAX_DOCUMENT_FIELDS). Most of them come from `{}`: spread fragments fewer times, and send only the operation you run and the fragments it uses.",
            count(m.size),
            count(l.graphql_max_document_fields as u64),
            m.size_at
        ));
    }
    if m.depth > l.graphql_max_depth as u64 {
        return Some(format!(
            "Query is nested too deep: {} levels of fields after fragments are expanded, down to `{}`; the limit is {} (GRAPHQL_MAX_DEPTH).",
            count(m.depth),
            m.depth_at,
            l.graphql_max_depth
        ));
    }
    if m.nodes > l.graphql_max_nodes as u64 {
        return Some(format!(
            "Query asks for too much: its answer could hold {} nodes (every field's value, each list of objects as many as its page); the limit is {} (GRAPHQL_MAX_NODES). Most of them are under `{}`: ask for a smaller page there, or for fewer fields or aliases.",
            count(m.nodes),
            count(l.graphql_max_nodes as u64),
            m.nodes_at
        ));
    }
    None
}

pub async fn graphql(
    State(s): State<Endpoint>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    let started = tokio::time::Instant::now();
    let mut req: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return sentence(
                StatusCode::BAD_REQUEST,
                json_problem(&e, "a GraphQL request (an object with a \"query\" string)"),
            )
        }
    };
    drop(body);
    if req.query.trim().is_empty() {
        return sentence(
            StatusCode::BAD_REQUEST,
            "The GraphQL request has no query: send {\"query\": \"…\"} with an operation in it.",
        );
    }
    let doc = match async_graphql::parser::parse_query(&req.query) {
        Ok(d) => d,
        Err(e) => return refuse(StatusCode::OK, "GRAPHQL_PARSE_FAILED", syntax_problem(&e)),
    };
    let m = match measure(
        &s.model,
        &doc,
        &req.variables,
        req.operation_name.as_deref(),
    ) {
        Ok(m) => m,
        Err(u) => return refuse(StatusCode::OK, "BAD_USER_INPUT", u.to_string()),
    };
    if let Some(why) = over_limit(&s.app, &m) {
        return refuse(StatusCode::OK, "BAD_USER_INPUT", why);
    }
    req.set_parsed_query(doc);
    let limits = &s.app.config.limits;
    let slot = match s.app.limits.in_flight.admit(m.nodes).await {
        Ok(slot) => slot,
        Err(busy) => return refuse(StatusCode::SERVICE_UNAVAILABLE, CODE_BUSY, busy.sentence()),
    };
    let budget = Budget::new(limits.graphql_max_response_bytes, &s.app.limits.responses);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // Within a hand-off scope, events that mutations queue go to this process's dispatcher in
    // memory after their commit (`AppState::commit`).
    let work = streamhooks_worker::handoff::scope(s.app.handoff.clone(), async {
        let auth = crate::context::auth::from_header(&s.app.db, token).await?;
        Ok::<_, crate::context::error::Error>(
            s.schema.execute(req.data(auth).data(budget.clone())).await,
        )
    });
    let response = match tokio::time::timeout_at(started + limits.request_deadline, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::error!(error = ?e, "token lookup failed");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL_SERVER_ERROR",
                "The database is unavailable; try again in a moment.",
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::OK,
                "TIMEOUT",
                format!(
                    "The request took longer than {:?} (REQUEST_DEADLINE) and was stopped; a change it had not committed was rolled back.",
                    limits.request_deadline
                ),
            )
        }
    };
    let status = match budget.overrun() {
        Some(Overrun::Server) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    // Writing a large answer takes milliseconds of CPU: the worker thread hands its other tasks
    // to the rest of the runtime meanwhile (block_in_place), so that the requests around it (a
    // trivial query, a refusal) are not held up behind it.
    let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread;
    let large = budget.used() > LARGE_ANSWER;
    let mut answer = if multi_thread && large {
        tokio::task::block_in_place(|| json(status, &response, budget.used()))
    } else {
        json(status, &response, budget.used())
    };
    drop(response);
    if large {
        // A large answer keeps its place in flight and its share of the answer pool until the
        // client has taken all of it: a client that reads slowly must not let finished answers
        // pile up in memory uncounted while new requests take their places.
        answer = hold_until_sent(answer, (slot, budget));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    answer
}
