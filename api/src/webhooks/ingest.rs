//! `POST /api/events`: the ingest path for a backend that is not this server. A server admin
//! reports "event X happened on stream S by user U with data D" and gets the same fan-out and
//! payload as this server's own mutations, because both end in the same `outbox::emit`.
//! `stream` and `user` objects may be sent for a stream or user this server does not hold;
//! otherwise they are read from its tables. Each request's token and webhooks are read after it
//! arrives (never cached, so a revoked token or a changed webhook counts at once), in one
//! statement shared with the requests arriving at the same moment (`context::ingest::lookup`); the
//! write is shared with those requests and whatever else is being queued at that moment
//! (`context::ingest::combine`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use entity::{api_token, user};
use sea_orm::FromQueryResult;
use serde::Deserialize;
use serde_json::{json, Value};
use streamhooks_worker::outbox::{self, Event};
use streamhooks_worker::triggers::{is_trigger, TRIGGERS};

use crate::context::auth::SCOPE_STREAMS_WRITE;
use crate::context::error::{Error, Result};
use crate::context::ingest::lookup::Key;
use crate::context::limits::body::{json_problem, LimitedBody};
use crate::context::state::AppState;
use crate::context::validate;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestRequest {
    pub stream_id: String,
    pub user_id: String,
    /// A trigger name, e.g. `commit_create`.
    pub event: String,
    /// Defaults to a sentence naming the event.
    pub activity_message: Option<String>,
    /// `event.data` of the payload.
    #[serde(default)]
    pub data: Value,
    pub stream: Option<Value>,
    pub user: Option<Value>,
}

pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

pub async fn ingest(
    State(app): State<AppState>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    let _slot = match app.limits.in_flight.admit(1).await {
        Ok(slot) => slot,
        Err(busy) => return busy_answer(busy.sentence()),
    };
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some((token_id, secret)) = crate::context::auth::bearer(header) else {
        return unauthorized();
    };
    let req = serde_json::from_slice::<IngestRequest>(&body)
        .map_err(|e| json_problem(&e, "an event"))
        .and_then(|r| check(&r).map(|()| r).map_err(|e| e.public_message()));
    let req = match req {
        Ok(r) => r,
        // The token is checked before a body is judged, as for any other request.
        Err(problem) => {
            return match authorize(&app, &headers).await {
                Err(refused) => refused,
                Ok(()) => error(StatusCode::BAD_REQUEST, problem),
            };
        }
    };
    let event = to_event(req);
    // The caller's token and the event's webhooks, stream and user: one statement, shared with
    // the requests arriving at the same moment.
    let key = Key {
        stream_id: event.stream_id.clone(),
        user_id: event.user_id.clone(),
        token_id: token_id.to_owned(),
    };
    let looked_up = async {
        let (rows, ticket) = app.lookup().rows(key).await?;
        let found = match rows.first() {
            Some(row) if row.try_get::<Option<String>>("", "t_id")?.is_some() => {
                let owner = match row.try_get::<Option<String>>("", "tu_id")? {
                    Some(_) => Some(user::Model::from_query_result(row, "tu_")?),
                    None => None,
                };
                Some((api_token::Model::from_query_result(row, "t_")?, owner))
            }
            _ => None,
        };
        Ok::<_, sea_orm::DbErr>((crate::context::auth::resolve(secret, found), rows, ticket))
    };
    let (auth, rows, ticket) = match looked_up.await {
        Ok(got) => got,
        Err(e) => {
            tracing::error!(error = %e, "token and webhook look-up failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
        }
    };
    if let Some(refused) = refusal(&auth) {
        return refused;
    }
    let deadline = app.config.limits.request_deadline;
    let result = async {
        let targets = outbox::targets_from(&rows)?;
        let prepared = outbox::prepare_with(&app.server_info, &event, &targets)?;
        if prepared.is_empty() {
            return Ok(0);
        }
        ticket.store(prepared).await
    };
    let Ok(result) = tokio::time::timeout(deadline, result).await else {
        return deadline_answer(deadline);
    };
    match result {
        Ok(n) => (StatusCode::ACCEPTED, Json(json!({ "queued": n }))).into_response(),
        Err(sea_orm::DbErr::RecordNotFound(_)) => {
            error(StatusCode::BAD_REQUEST, unknown_stream(&event.stream_id))
        }
        Err(e) => internal(&e),
    }
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "a server-admin token is required (Authorization: Bearer <token>)",
    )
}

/// The answer refusing the request, unless `auth` is a server admin's token with `streams:write`.
fn refusal(auth: &crate::context::auth::Auth) -> Option<Response> {
    let Some(user) = auth.user.as_ref() else {
        return Some(unauthorized());
    };
    if !user.is_admin() || !auth.has_scope(SCOPE_STREAMS_WRITE) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "only a server admin's token with streams:write may ingest events",
        ));
    }
    None
}

pub(crate) fn busy_answer(sentence: String) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, sentence);
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

pub(crate) fn deadline_answer(deadline: std::time::Duration) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("queuing the event took longer than {deadline:?} (REQUEST_DEADLINE) and was stopped; unless it had already committed, nothing was queued"),
    )
}

pub(crate) fn internal(e: &sea_orm::DbErr) -> Response {
    tracing::error!(error = %e, "ingest failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; the server log has the details",
    )
}

pub(crate) fn unknown_stream(stream_id: &str) -> String {
    format!(
        "stream {} is not known to this server; send its \"stream\" object with the event",
        validate::shown(stream_id)
    )
}

/// The caller must hold a server admin's token with `streams:write`. Looked up at every request
/// (one statement), so a revoked or expired token is refused at once.
pub(crate) async fn authorize(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match crate::context::auth::from_header(&app.db, header).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "token lookup failed");
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            ));
        }
    };
    refusal(&auth).map_or(Ok(()), Err)
}

pub(crate) fn to_event(req: IngestRequest) -> Event {
    Event {
        activity_message: req
            .activity_message
            .unwrap_or_else(|| format!("{} on stream {}", req.event, req.stream_id)),
        stream_id: req.stream_id,
        user_id: req.user_id,
        event_name: req.event,
        data: req.data,
        stream: req.stream,
        user: req.user,
    }
}

/// The event's own checks, the same the GraphQL mutations' text goes through.
pub(crate) fn check(req: &IngestRequest) -> Result<()> {
    if !is_trigger(&req.event) {
        return Err(Error::bad_input(format!(
            "unknown event {}; valid events are: {}",
            validate::shown(&req.event),
            TRIGGERS.join(", ")
        )));
    }
    if req.stream_id.trim().is_empty() || req.user_id.trim().is_empty() {
        return Err(Error::bad_input("streamId and userId must not be empty"));
    }
    validate::id(&req.stream_id, "streamId")?;
    validate::id(&req.user_id, "userId")?;
    if let Some(m) = &req.activity_message {
        validate::text(m, "activityMessage", validate::MAX_ACTIVITY_MESSAGE_LEN)?;
    }
    for (name, v) in [("stream", &req.stream), ("user", &req.user)] {
        if v.as_ref().is_some_and(|v| !v.is_object()) {
            return Err(Error::bad_input(format!("{name} must be a JSON object")));
        }
    }
    Ok(())
}
