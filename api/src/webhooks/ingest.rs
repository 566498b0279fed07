//! `POST /api/events`: the ingest path for a backend that is not this server. A server admin
//! reports "event X happened on stream S by user U with data D" and gets the same fan-out and
//! payload as this server's own mutations, because both end in the same `outbox::emit`.
//! `stream` and `user` objects may be sent for a stream or user this server does not hold;
//! otherwise they are read from its tables.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use streamhooks_worker::outbox::{emit, Event};
use streamhooks_worker::triggers::{is_trigger, TRIGGERS};

use crate::auth::SCOPE_STREAMS_WRITE;
use crate::error::{Error, Result};
use crate::limits::body::{json_problem, LimitedBody};
use crate::state::AppState;
use crate::validate;

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

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

pub async fn ingest(
    State(app): State<AppState>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    let _slot = match app.limits.in_flight.admit(1).await {
        Ok(slot) => slot,
        Err(busy) => {
            let mut r = error(StatusCode::SERVICE_UNAVAILABLE, busy.sentence());
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return r;
        }
    };
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match crate::auth::from_header(&app.db, header).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = ?e, "token lookup failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
        }
    };
    let Some(user) = auth.user.as_ref() else {
        return error(
            StatusCode::UNAUTHORIZED,
            "a server-admin token is required (Authorization: Bearer <token>)",
        );
    };
    if !user.is_admin() || !auth.has_scope(SCOPE_STREAMS_WRITE) {
        return error(
            StatusCode::FORBIDDEN,
            "only a server admin's token with streams:write may ingest events",
        );
    }
    let req: IngestRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, json_problem(&e, "an event")),
    };
    if let Err(e) = check(&req) {
        return error(StatusCode::BAD_REQUEST, e.public_message());
    }
    let event = Event {
        activity_message: req
            .activity_message
            .unwrap_or_else(|| format!("{} on stream {}", req.event, req.stream_id)),
        stream_id: req.stream_id,
        user_id: req.user_id,
        event_name: req.event,
        data: req.data,
        stream: req.stream,
        user: req.user,
    };
    let deadline = app.config.limits.request_deadline;
    let result = async {
        let txn = app.begin().await?;
        let n = emit(&txn, &app.server_info, &event).await?;
        app.commit(txn, n).await?;
        Ok::<u64, sea_orm::DbErr>(n)
    };
    let Ok(result) = tokio::time::timeout(deadline, result).await else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("queuing the event took longer than {deadline:?} (REQUEST_DEADLINE) and was stopped; unless it had already committed, nothing was queued"),
        );
    };
    match result {
        Ok(n) => (StatusCode::ACCEPTED, Json(json!({ "queued": n }))).into_response(),
        Err(sea_orm::DbErr::RecordNotFound(_)) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "stream {} is not known to this server; send its \"stream\" object with the event",
                validate::shown(&event.stream_id)
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "ingest failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the server log has the details",
            )
        }
    }
}

/// The event's own checks, the same the GraphQL mutations' text goes through.
fn check(req: &IngestRequest) -> Result<()> {
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
