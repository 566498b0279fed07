//! `projectMutations { create, update, delete, updateRole, leave }`, today's Speckle names for
//! `streamCreate`, `streamUpdate`, `streamDelete`, `streamUpdatePermission` and
//! `streamRevokePermission`. Each shares its write with its legacy twin (the functions below,
//! which `stream.rs` calls too), so the same checks apply and the same trigger fires
//! (`stream_update`, `stream_delete`, `stream_permissions_add`, `stream_permissions_remove`). As in
//! Speckle, a project created here is private unless asked otherwise (the legacy `streamCreate`
//! keeps its public default).

use async_graphql::{Context, InputObject, Object, ID};
use entity::ids::{StreamId, UserId};
use entity::stream_acl::ROLE_REVIEWER;
use entity::user;

use crate::context::auth::SCOPE_STREAMS_WRITE;
use crate::context::error::Result;
use crate::context::resolver::{auth, in_transaction, owner, state};
use crate::speckle::graphql::project::{project_for_caller, Project, ProjectVisibility};
use crate::speckle::service::{self, project::is_public_for};

/// Any values left null are ignored.
#[derive(InputObject)]
pub struct ProjectCreateInput {
    name: Option<String>,
    description: Option<String>,
    /// `PRIVATE` if omitted.
    visibility: Option<ProjectVisibility>,
}

/// Only the fields given change.
#[derive(InputObject)]
pub struct ProjectUpdateInput {
    id: ID,
    name: Option<String>,
    description: Option<String>,
    visibility: Option<ProjectVisibility>,
    /// Only a public project may allow public comments.
    allow_public_comments: Option<bool>,
}

#[derive(InputObject)]
pub struct ProjectUpdateRoleInput {
    project_id: String,
    user_id: String,
    /// `stream:owner`, `stream:contributor` or `stream:reviewer`; null revokes access.
    role: Option<String>,
}

fn is_public(v: Option<ProjectVisibility>) -> Result<Option<bool>> {
    v.map(|v| is_public_for(v.as_str())).transpose()
}

async fn reload(ctx: &Context<'_>, id: &StreamId) -> Result<Project> {
    let s = service::stream::find(&state(ctx).db, id).await?;
    project_for_caller(ctx, s).await
}

// The writes both names of a stream share: the legacy `stream*` mutations and
// `projectMutations` call these, each after its own access check (the same check in both, where
// a reader of each resolver sees it). Each is one transaction.

/// Creates a stream owned by `user`, with a `main` branch; returns its id. The two names differ
/// only in the visibility they default to, which they put in `input`.
pub(crate) async fn create(
    ctx: &Context<'_>,
    user: &user::Model,
    input: service::stream::CreateInput,
) -> Result<StreamId> {
    in_transaction(ctx, async |tx| {
        Ok((service::stream::create(tx.txn, user, input).await?, 0))
    })
    .await
}

/// Changes the fields given (fires `stream_update`).
pub(crate) async fn update(
    ctx: &Context<'_>,
    user: &user::Model,
    input: service::stream::UpdateInput,
) -> Result<()> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let n = service::stream::update(tx.txn, tx.server, &by, input).await?;
        Ok(((), n))
    })
    .await
}

/// Deletes a stream with its branches and commits (fires `stream_delete`).
pub(crate) async fn delete(ctx: &Context<'_>, user: &user::Model, id: &StreamId) -> Result<()> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let n = service::stream::delete(tx.txn, tx.server, &by, id).await?;
        Ok(((), n))
    })
    .await
}

/// Grants or changes `target`'s role (`stream_permissions_add`), or with no role revokes it
/// (`stream_permissions_remove`).
pub(crate) async fn set_role(
    ctx: &Context<'_>,
    user: &user::Model,
    stream: &StreamId,
    target: &UserId,
    role: Option<&str>,
) -> Result<()> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let server = tx.server;
        let n = match role {
            Some(role) => service::stream::grant(tx.txn, server, &by, stream, target, role).await?,
            None => service::stream::revoke(tx.txn, server, &by, stream, target).await?,
        };
        Ok(((), n))
    })
    .await
}

/// The caller gives up their role on `id`; both `projectMutations.leave` and the legacy
/// `streamLeave` do this.
pub(crate) async fn leave(ctx: &Context<'_>, id: &StreamId) -> Result<bool> {
    let st = state(ctx);
    let user = auth(ctx)
        .require_stream_role(&st.db, id, ROLE_REVIEWER, SCOPE_STREAMS_WRITE)
        .await?;
    let me = user.user_id();
    in_transaction(ctx, async |tx| {
        let n = service::stream::revoke(tx.txn, tx.server, &me, id, &me).await?;
        Ok(((), n))
    })
    .await?;
    Ok(true)
}

pub struct ProjectMutations;

#[Object]
impl ProjectMutations {
    /// Creates a project owned by the caller, with a `main` model.
    async fn create(
        &self,
        ctx: &Context<'_>,
        input: Option<ProjectCreateInput>,
    ) -> Result<Project> {
        let user = auth(ctx).require_scope(SCOPE_STREAMS_WRITE)?;
        let input = input.unwrap_or(ProjectCreateInput {
            name: None,
            description: None,
            visibility: None,
        });
        let is_public = is_public(input.visibility)?.unwrap_or(false);
        let input = service::stream::CreateInput {
            name: input.name,
            description: input.description,
            is_public: Some(is_public),
        };
        let id = create(ctx, user, input).await?;
        reload(ctx, &id).await
    }

    /// Changes the fields given (fires `stream_update`).
    async fn update(&self, ctx: &Context<'_>, update: ProjectUpdateInput) -> Result<Project> {
        let id = StreamId::from(update.id.0);
        let user = owner(ctx, &id).await?;
        let input = service::stream::UpdateInput {
            is_public: is_public(update.visibility)?,
            id,
            name: update.name,
            description: update.description,
            allow_public_comments: update.allow_public_comments,
        };
        let id = input.id.clone();
        self::update(ctx, user, input).await?;
        reload(ctx, &id).await
    }

    /// Deletes a project with its models and versions (fires `stream_delete`).
    async fn delete(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        let id = StreamId::from(id);
        let user = owner(ctx, &id).await?;
        delete(ctx, user, &id).await?;
        Ok(true)
    }

    /// Grants, changes (`stream_permissions_add`) or, with a null role, revokes
    /// (`stream_permissions_remove`) a collaborator's role. Owners only.
    async fn update_role(
        &self,
        ctx: &Context<'_>,
        input: ProjectUpdateRoleInput,
    ) -> Result<Project> {
        let project = StreamId::from(input.project_id);
        let user = owner(ctx, &project).await?;
        let target = UserId::from(input.user_id);
        set_role(ctx, user, &project, &target, input.role.as_deref()).await?;
        reload(ctx, &project).await
    }

    /// Gives up the caller's own role (fires `stream_permissions_remove`); the last owner cannot.
    async fn leave(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        leave(ctx, &StreamId::from(id)).await
    }
}

#[derive(Default)]
pub struct ProjectMutationsField;

#[Object]
impl ProjectMutationsField {
    /// Today's project mutations (needs a token with `streams:write`).
    async fn project_mutations(&self, ctx: &Context<'_>) -> Result<ProjectMutations> {
        auth(ctx).require_scope(SCOPE_STREAMS_WRITE)?;
        Ok(ProjectMutations)
    }
}
