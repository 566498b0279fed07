//! Streaming many objects back: `POST /api/getobjects/{projectId}` (the ids asked for) and
//! `GET /objects/{projectId}/{objectId}` (an object, then the children its `__closure` names).
//! With `Accept: text/plain` the body is Speckle's line format, `id\tjson\n` per object, which
//! specklepy reads line by line; otherwise one JSON array of the objects. Ids the project does not
//! hold are left out, as Speckle does. In the line format, U+0085, U+2028 and U+2029 inside
//! an object are written as JSON escapes (see [`LINE_BREAKS_INSIDE_JSON`]).
//!
//! A task reads the objects a chunk of ids at a time and hands the bytes to the response through
//! a small bounded channel. The question a reader may ask is why not one database cursor for the
//! whole response: a cursor would hold a pooled connection for as long as the client takes to
//! read, and a few slow readers would starve the server (SQLite's pool is 8). A chunk is read,
//! the connection goes back, and only then does the task wait on the client. Memory per
//! response is one chunk plus the channel, whatever the number of ids. A database error
//! mid-stream aborts the response, so a client cannot mistake a truncated list for a whole one.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use entity::ids::StreamId;
use sea_orm::DatabaseConnection;
use serde::de::IgnoredAny;
use serde::Deserialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::access::{caller, check_read};
use super::admit::Slots;
use super::id_list::id_list;
use super::refusal::{object_not_found, Refusal};
use super::service::{self, IDS_PER_QUERY};
use crate::context::state::AppState;

/// Bytes gathered before they are handed to the response.
const FLUSH_BYTES: usize = 64 * 1024;
/// Buffers waiting for the client; with [`FLUSH_BYTES`], what a slow reader can pile up.
const CHANNEL_DEPTH: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `id\tjson\n` per object (`Accept: text/plain`).
    Lines,
    /// `[json,json,…]`.
    JsonArray,
}

impl Format {
    fn from_headers(headers: &HeaderMap) -> Self {
        let wants_lines = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|m| m.split(';').next().unwrap_or("").trim() == "text/plain");
        if wants_lines {
            Self::Lines
        } else {
            Self::JsonArray
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Lines => "text/plain; charset=utf-8",
            Self::JsonArray => "application/json",
        }
    }
}

/// `POST /api/getobjects/{projectId}` with `objects=<JSON array of ids>`.
/// The request's place among object requests is kept until its answer has been sent: the id
/// list it holds meanwhile can be as large as the body was.
pub async fn get_objects(
    State(app): State<AppState>,
    Extension(slots): Extension<Arc<Slots>>,
    Path(project_id): Path<String>,
    req: Request,
) -> Result<Response, Refusal> {
    let auth = caller(&app, req.headers()).await?;
    check_read(&app.db, &auth, &project_id).await?;
    let place = slots.admit().await?;
    let format = Format::from_headers(req.headers());
    let ids = slots
        .read_body(id_list(req, app.config.max_object_upload_bytes))
        .await?;
    Ok(stream(
        app.db.clone(),
        StreamId::from(project_id),
        None,
        ids,
        format,
        Some(place),
    ))
}

#[derive(Deserialize)]
struct Closure {
    #[serde(rename = "__closure", default)]
    closure: Option<BTreeMap<String, IgnoredAny>>,
}

/// `GET /objects/{projectId}/{objectId}`: the object first, then its children ordered by id.
pub async fn with_children(
    State(app): State<AppState>,
    Path((project_id, object_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let auth = caller(&app, &headers).await?;
    check_read(&app.db, &auth, &project_id).await?;
    let project = StreamId::from(project_id.as_str());
    let Some(root) = service::single(&app.db, &project, &object_id).await? else {
        return Err(object_not_found(&project_id, &object_id));
    };
    // Stored objects were checked to be JSON objects; a `__closure` of another shape (not one
    // any SDK writes) just means no children.
    let children: Vec<String> = serde_json::from_str::<Closure>(&root)
        .ok()
        .and_then(|c| c.closure)
        .map(|c| c.into_keys().collect())
        .unwrap_or_default();
    let format = Format::from_headers(&headers);
    Ok(stream(
        app.db.clone(),
        project,
        Some((object_id, root)),
        children,
        format,
        None,
    ))
}

/// The response body, fed by a task that reads `ids` chunk by chunk after `first`.
fn stream(
    db: DatabaseConnection,
    project: StreamId,
    first: Option<(String, String)>,
    ids: Vec<String>,
    format: Format,
    place: Option<OwnedSemaphorePermit>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_DEPTH);
    tokio::spawn(async move {
        let _place = place;
        let mut out = Writer::new(format);
        if let Some((id, data)) = first {
            out.push(&id, &data);
        }
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let rows = match service::fetch(&db, &project, chunk).await {
                Ok(rows) => rows,
                Err(e) => {
                    let project_id = project.as_str();
                    tracing::error!(error = ?e, project_id, "reading objects failed mid-response");
                    let _ = tx.send(Err(std::io::Error::other("database error"))).await;
                    return;
                }
            };
            for (id, data) in rows {
                out.push(&id, &data);
                if out.buf.len() >= FLUSH_BYTES && tx.send(Ok(out.take())).await.is_err() {
                    return; // the client went away
                }
            }
        }
        out.finish();
        let _ = tx.send(Ok(out.take())).await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response()
}

/// Characters JSON allows raw in strings that Python's `str.splitlines` (so requests'
/// `iter_lines`, which specklepy reads `getobjects` with) takes for line breaks: sent raw, they
/// would cut an object in two. Control characters cannot occur raw in JSON at all.
const LINE_BREAKS_INSIDE_JSON: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];

/// Accumulates the response text in `format`.
struct Writer {
    format: Format,
    buf: Vec<u8>,
    first: bool,
}

impl Writer {
    fn new(format: Format) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
        if format == Format::JsonArray {
            buf.push(b'[');
        }
        Self {
            format,
            buf,
            first: true,
        }
    }

    fn push(&mut self, id: &str, data: &str) {
        match self.format {
            Format::Lines => {
                self.buf.extend_from_slice(id.as_bytes());
                self.buf.push(b'\t');
                if data.contains(LINE_BREAKS_INSIDE_JSON) {
                    // Only possible inside JSON strings, where the escape means the same text.
                    let mut escaped = data.to_owned();
                    for (c, e) in [
                        ('\u{85}', "\\u0085"),
                        ('\u{2028}', "\\u2028"),
                        ('\u{2029}', "\\u2029"),
                    ] {
                        escaped = escaped.replace(c, e);
                    }
                    self.buf.extend_from_slice(escaped.as_bytes());
                } else {
                    self.buf.extend_from_slice(data.as_bytes());
                }
                self.buf.push(b'\n');
            }
            Format::JsonArray => {
                if !self.first {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(data.as_bytes());
            }
        }
        self.first = false;
    }

    fn finish(&mut self) {
        if self.format == Format::JsonArray {
            self.buf.push(b']');
        }
    }

    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(FLUSH_BYTES * 2),
        ))
    }
}
