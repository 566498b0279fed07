//! The object routes and their answers. Every handler authorises from the headers *before* it
//! reads the body, so a caller without access costs no more than a header lookup however much it
//! sends. Refusals are plain-text sentences with Speckle's statuses (400 bad upload, 401/403/404
//! access, 413 too large); a stored upload is `201 Created` with an empty body, as Speckle answers.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use entity::ids::StreamId;
use serde_json::Value;

use super::access::{caller, check_read, check_write, not_found};
use super::admit::Slots;
use super::batch::{self, NewObject, PartError};
use super::download;
use super::id_list::id_list;
use super::refusal::{object_not_found, Refusal};
use super::service;
use crate::context::state::AppState;

/// The object routes, with their own body limit (`MAX_OBJECT_UPLOAD_BYTES`). Merge them after
/// the GraphQL router's body limit layer, or that smaller limit would apply to them too.
pub fn router(app: AppState) -> Router {
    let limit = app.config.max_object_upload_bytes;
    Router::new()
        .route("/objects/{project_id}", post(upload))
        .route(
            "/objects/{project_id}/{object_id}",
            get(download::with_children),
        )
        .route("/objects/{project_id}/{object_id}/single", get(single))
        .route("/api/diff/{project_id}", post(diff))
        .route("/api/getobjects/{project_id}", post(download::get_objects))
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(Arc::new(Slots::new(&app.config))))
        .with_state(app)
}

/// `POST /objects/{projectId}`: every part of the multipart body is a batch, a JSON array of
/// objects, gzipped (`application/gzip`) or not. All parts are checked before any is stored.
async fn upload(
    State(app): State<AppState>,
    Extension(slots): Extension<Arc<Slots>>,
    Path(project_id): Path<String>,
    req: Request,
) -> Result<Response, Refusal> {
    let auth = caller(&app, req.headers()).await?;
    check_write(&app.db, &auth, &project_id).await?;
    let _place = slots.admit().await?;
    let limit = app.config.max_object_upload_bytes;
    let objects = slots.read_body(read_upload(req, limit)).await?;
    let count = objects.len();
    let txn = app.begin().await?;
    let stored = match service::store(&txn, &StreamId::from(project_id.as_str()), objects).await {
        Ok(n) => n,
        // The project was deleted between the access check and now.
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
            ) =>
        {
            return Err(not_found(&project_id))
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    tracing::debug!(project_id, count, stored, "objects uploaded");
    Ok(StatusCode::CREATED.into_response())
}

/// Every part of an upload, decoded and checked, each object once.
async fn read_upload(req: Request, limit: usize) -> Result<Vec<NewObject>, Refusal> {
    let mut form = Multipart::from_request(req, &()).await.map_err(|_| {
        Refusal::bad(
            "The upload is not multipart/form-data: send each batch of objects as a file part \
             (Content-Type: multipart/form-data; boundary=…)",
        )
    })?;
    let mut budget = limit;
    let mut objects: Vec<NewObject> = Vec::new();
    let mut seen = HashSet::new();
    let mut parts = 0usize;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_refusal(&e, limit)),
        };
        parts += 1;
        let name = field.name().map_or_else(
            || format!("part {parts}"),
            |n| format!("part {parts} ({:?})", batch::shorten(n)),
        );
        let encoding = batch::encoding(field.content_type())
            .map_err(|why| Refusal::bad(format!("Upload {name} {why}")))?;
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_refusal(&e, limit))?;
        let decoded = tokio::task::spawn_blocking(move || batch::decode(bytes, encoding, budget))
            .await
            .map_err(|e| Refusal::internal("decoding an upload panicked", e))?;
        let (batch, used) = match decoded {
            Ok(d) => d,
            Err(PartError::TooLarge) => return Err(Refusal::too_large(limit)),
            Err(PartError::Invalid(why)) => {
                return Err(Refusal::bad(format!(
                    "Upload {name} {why}; nothing was stored"
                )))
            }
        };
        budget -= used;
        // Content-addressed: a repeated id is the same object, stored once.
        objects.extend(batch.into_iter().filter(|o| seen.insert(o.id.clone())));
    }
    if parts == 0 {
        return Err(Refusal::bad(
            "The upload has no parts: send each batch of objects as a file part",
        ));
    }
    Ok(objects)
}

fn multipart_refusal(e: &axum::extract::multipart::MultipartError, limit: usize) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::too_large(limit)
    } else {
        Refusal::bad(format!(
            "The upload is not valid multipart/form-data ({}); nothing was stored",
            e.body_text()
        ))
    }
}

/// `POST /api/diff/{projectId}` with `objects=<JSON array of ids>`: `{id: true|false}` for
/// each, true when the project holds it. Speckle asks write access here: it precedes an upload.
async fn diff(
    State(app): State<AppState>,
    Extension(slots): Extension<Arc<Slots>>,
    Path(project_id): Path<String>,
    req: Request,
) -> Result<Response, Refusal> {
    let auth = caller(&app, req.headers()).await?;
    check_write(&app.db, &auth, &project_id).await?;
    let _place = slots.admit().await?;
    let ids = slots
        .read_body(id_list(req, app.config.max_object_upload_bytes))
        .await?;
    let have = service::existing(&app.db, &StreamId::from(project_id.as_str()), &ids).await?;
    let answer: serde_json::Map<String, Value> = ids
        .into_iter()
        .map(|id| {
            let known = have.contains(&id);
            (id, Value::Bool(known))
        })
        .collect();
    Ok(Json(answer).into_response())
}

/// `GET /objects/{projectId}/{objectId}/single`: the object's JSON.
async fn single(
    State(app): State<AppState>,
    Path((project_id, object_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let auth = caller(&app, &headers).await?;
    check_read(&app.db, &auth, &project_id).await?;
    let project = StreamId::from(project_id.as_str());
    match service::single(&app.db, &project, &object_id).await? {
        Some(data) => Ok((
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            data,
        )
            .into_response()),
        None => Err(object_not_found(&project_id, &object_id)),
    }
}
