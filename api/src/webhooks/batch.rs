//! `POST /api/events/batch`: many events of `POST /api/events` in one request, one transaction and
//! one answer, `{"events": [event, …]}` → 202 `{"queued": total, "events": [{"queued": n}, …]}`
//! in the order sent.
//!
//! The decision a reader will question: one bad event refuses the **whole batch** (400, with
//! every refused event's index and reason, and nothing stored), rather than only itself. A batch
//! is then either wholly queued or not at all, so a client that fixes the refused events (or
//! retries after a 503 or a lost answer) sends the same batch again without queuing any event
//! twice, and never has to work out which part of a batch went through. Events are checked and
//! their webhooks, streams and users read before anything is written; an unknown stream without
//! a `stream` object is a refusal like a malformed event.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use streamhooks_worker::outbox::{self, Prepared, Targets};

use super::ingest::{self, IngestRequest};
use crate::context::ingest::sink::queue;
use crate::context::limits::body::{json_problem, LimitedBody};
use crate::context::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    events: Vec<Value>,
}

pub async fn ingest_batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> Response {
    let _slot = match app.limits.in_flight.admit(1).await {
        Ok(slot) => slot,
        Err(busy) => return ingest::busy_answer(busy.sentence()),
    };
    if let Err(refused) = ingest::authorize(&app, &headers).await {
        return refused;
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return ingest::error(
                StatusCode::BAD_REQUEST,
                json_problem(&e, "a batch ({\"events\": [event, …]})"),
            )
        }
    };
    let max = app.config.limits.max_ingest_batch;
    if batch.events.is_empty() {
        return ingest::error(StatusCode::BAD_REQUEST, "a batch needs at least one event");
    }
    if batch.events.len() > max {
        return ingest::error(
            StatusCode::BAD_REQUEST,
            format!(
                "a batch holds at most {max} events (MAX_INGEST_BATCH); this one has {}; nothing was queued",
                batch.events.len()
            ),
        );
    }
    let mut refused = Vec::new();
    let mut events = Vec::with_capacity(batch.events.len());
    for (index, v) in batch.events.into_iter().enumerate() {
        let req: IngestRequest = match serde_json::from_value(v) {
            Ok(r) => r,
            Err(e) => {
                refused.push(json!({ "index": index, "error": format!("not an event: {e}") }));
                continue;
            }
        };
        match ingest::check(&req) {
            Ok(()) => events.push((index, ingest::to_event(req))),
            Err(e) => refused.push(json!({ "index": index, "error": e.public_message() })),
        }
    }
    let total = events.len() + refused.len();
    let deadline = app.config.limits.request_deadline;
    let result = async {
        // Each stream's webhooks and each user are read once per batch, all before any write.
        let mut looked_up: HashMap<(String, String), Targets> = HashMap::new();
        let mut all = Prepared::default();
        let mut counts = vec![0usize; total];
        for (index, event) in &events {
            let key = (event.stream_id.clone(), event.user_id.clone());
            if !looked_up.contains_key(&key) {
                let t = outbox::targets(&app.db, &event.stream_id, &event.user_id).await?;
                looked_up.insert(key.clone(), t);
            }
            let targets = looked_up.get(&key).cloned().unwrap_or_default();
            match outbox::prepare_with(&app.server_info, event, &targets) {
                Ok(p) => {
                    counts[*index] = p.len();
                    all.extend(p);
                }
                Err(sea_orm::DbErr::RecordNotFound(_)) => refused.push(json!({
                    "index": index,
                    "error": ingest::unknown_stream(&event.stream_id),
                })),
                Err(e) => return Err(e),
            }
        }
        if !refused.is_empty() {
            return Ok(Err(refused));
        }
        queue(&app.sink(), all).await.map(|n| Ok((n, counts)))
    };
    let Ok(result) = tokio::time::timeout(deadline, result).await else {
        return ingest::deadline_answer(deadline);
    };
    match result {
        Ok(Ok((n, counts))) => {
            let per_event: Vec<Value> = counts.iter().map(|c| json!({ "queued": c })).collect();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "queued": n, "events": per_event })),
            )
                .into_response()
        }
        Ok(Err(mut refused)) => {
            refused.sort_by_key(|r| r["index"].as_u64());
            let sentence = format!(
                "{} of the batch's {total} events were refused; nothing was queued (a batch is queued whole or not at all)",
                refused.len()
            );
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": sentence, "refused": refused })),
            )
                .into_response()
        }
        Err(e) => ingest::internal(&e),
    }
}
