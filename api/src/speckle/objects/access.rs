//! Who may read and write a project's objects, answered as HTTP statuses the way Speckle's REST
//! routes answer them: a public project is readable by anyone; otherwise no token is 401, a
//! token that lacks the scope or the role is 403, and an unknown project is 404 once the caller
//! has identified themselves. An anonymous caller asking for a project that is not public gets 401
//! whether it exists or not, so ids of private projects cannot be probed without a token.
//!
//! Writing needs `streams:write` and at least `stream:contributor`, as for creating a version.

use axum::http::{header, HeaderMap, StatusCode};
use entity::{stream, stream_acl};
use sea_orm::{ConnectionTrait, EntityTrait};

use super::refusal::Refusal;
use crate::context::auth::{role_rank, Auth, SCOPE_STREAMS_READ, SCOPE_STREAMS_WRITE};
use crate::context::state::AppState;

/// The caller of this request, from its `Authorization` header.
pub async fn caller(app: &AppState, headers: &HeaderMap) -> Result<Auth, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    crate::context::auth::from_header(&app.db, value)
        .await
        .map_err(|e| {
            tracing::error!(error = ?e, "token lookup failed");
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
        })
}

pub async fn check_read<C: ConnectionTrait>(
    db: &C,
    auth: &Auth,
    project_id: &str,
) -> Result<(), Refusal> {
    let project = stream::Entity::find_by_id(project_id.to_owned())
        .one(db)
        .await?;
    if project.as_ref().is_some_and(|p| p.is_public) {
        return Ok(());
    }
    let Some(user) = auth.user.as_ref() else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "This project is not public: send a token with streams:read (Authorization: Bearer <token>)",
        ));
    };
    if project.is_none() {
        return Err(not_found(project_id));
    }
    if !auth.has_scope(SCOPE_STREAMS_READ) {
        return Err(missing_scope(SCOPE_STREAMS_READ));
    }
    match stream_acl::role_of(db, project_id, &user.id).await? {
        Some(_) => Ok(()),
        None => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "You do not have access to this project",
        )),
    }
}

pub async fn check_write<C: ConnectionTrait>(
    db: &C,
    auth: &Auth,
    project_id: &str,
) -> Result<(), Refusal> {
    let Some(user) = auth.user.as_ref() else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "Writing objects needs a token with streams:write (Authorization: Bearer <token>)",
        ));
    };
    if !auth.has_scope(SCOPE_STREAMS_WRITE) {
        return Err(missing_scope(SCOPE_STREAMS_WRITE));
    }
    let exists = stream::Entity::find_by_id(project_id.to_owned())
        .one(db)
        .await?
        .is_some();
    if !exists {
        return Err(not_found(project_id));
    }
    let role = stream_acl::role_of(db, project_id, &user.id).await?;
    if role.is_some_and(|r| role_rank(&r) >= role_rank(stream_acl::ROLE_CONTRIBUTOR)) {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "Writing objects needs the role stream:contributor or stream:owner on this project",
        ))
    }
}

pub fn not_found(project_id: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("Project {project_id:?} not found"),
    )
}

fn missing_scope(scope: &str) -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        format!("Your token does not have the required scope: {scope}"),
    )
}
