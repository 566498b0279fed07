//! A refused object request: a status and a sentence, sent as `text/plain` with Speckle's
//! statuses (400 bad upload, 401/403/404 access, 413 too large, 503 busy). Every part of the
//! object routes answers with it, so it sits below them all.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A refused request: a status and a sentence, sent as `text/plain`.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request is larger than the {limit} bytes allowed (MAX_OBJECT_UPLOAD_BYTES; \
                 for gzipped parts, counted after decompression); send smaller batches"
            ),
        )
    }

    pub fn internal(what: &str, error: impl std::fmt::Debug) -> Self {
        tracing::error!(error = ?error, "{what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error; the server log has the details",
        )
    }
}

impl From<sea_orm::DbErr> for Refusal {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::internal("object request failed", e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

pub fn object_not_found(project_id: &str, object_id: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("Object {object_id:?} not found in project {project_id:?}"),
    )
}
