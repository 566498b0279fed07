//! The legacy Speckle names for streams: `stream(id)`, `streams`, `streamCreate/Update/Delete`,
//! `streamLeave` and the permission mutations, still sent by older connectors and scripts and by
//! Speckle's first web app. Today's names for the same rows (`Project`, `projectMutations`) are in
//! [`super::project`] and [`super::project_mutations`], whose writes the mutations here call. A
//! stream's branches and commits are paged by the service functions behind `Project.models` and
//! `Project.versions`; what this server does not have (comments, favourites, discoverability)
//! answers 0, null or false, as each field's description says.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::ids::{CommitId, StreamId, UserId};
use entity::stream_acl;

use crate::context::auth::{SCOPE_STREAMS_READ, SCOPE_STREAMS_WRITE};
use crate::context::error::Result;
use crate::context::resolver::{auth, owner, state};
use crate::speckle::graphql::branch::{self, BranchCollection};
use crate::speckle::graphql::commit::{self, Commit, CommitCollection};
use crate::speckle::graphql::containers::{Branch, Stream};
use crate::speckle::graphql::object::{self, SpeckleObject};
use crate::speckle::graphql::permissions::readable_stream;
use crate::speckle::graphql::project_mutations;
use crate::speckle::service;
use crate::webhooks::graphql::webhook::{webhooks_of, WebhookCollection};

async fn caller_role(ctx: &Context<'_>, stream_id: &str) -> Result<Option<String>> {
    let Some(u) = auth(ctx).user.as_ref() else {
        return Ok(None);
    };
    Ok(stream_acl::role_of(&state(ctx).db, stream_id, &u.id).await?)
}

#[derive(SimpleObject)]
pub struct StreamCollaborator {
    id: String,
    name: String,
    /// The collaborator's role on the stream.
    role: String,
    company: Option<String>,
    avatar: Option<String>,
    /// The collaborator's role on the server (`server:user`, `server:admin`).
    server_role: String,
}

/// A page of streams, as `Query.streams` and `User.streams` answer.
#[derive(SimpleObject)]
pub struct UserStreamCollection {
    /// Streams hidden for lack of an SSO session; there is no SSO here, so always 0.
    number_of_hidden: i32,
    total_count: i32,
    cursor: Option<String>,
    items: Option<Vec<Stream>>,
}

impl UserStreamCollection {
    pub(crate) fn none() -> Self {
        Self {
            number_of_hidden: 0,
            total_count: 0,
            cursor: None,
            items: Some(Vec::new()),
        }
    }
}

/// One page of the streams `user` has a role on, most recently updated first (the order and
/// cursor of `activeUser.projects`, whose service function this is); `search` matches names.
pub(crate) async fn streams_of(
    ctx: &Context<'_>,
    user: &UserId,
    search: Option<String>,
    limit: i32,
    cursor: Option<String>,
) -> Result<UserStreamCollection> {
    let limit = service::page::check_limit(limit)?;
    let filter = service::project::UserProjectsFilter {
        search,
        ..Default::default()
    };
    let p =
        service::project::list_for_user(&state(ctx).db, user, &filter, limit, cursor.as_deref())
            .await?;
    Ok(UserStreamCollection {
        number_of_hidden: 0,
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: Some(p.items.into_iter().map(|(s, _)| s.into()).collect()),
    })
}

#[ComplexObject]
impl Stream {
    /// The caller's role on this stream, if any.
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        caller_role(ctx, &self.id).await
    }

    async fn collaborators(&self, ctx: &Context<'_>) -> Result<Vec<StreamCollaborator>> {
        let db = &state(ctx).db;
        let rows = service::project::collaborators(db, &self.stream_id()).await?;
        Ok(rows
            .into_iter()
            .map(|(role, u)| StreamCollaborator {
                id: u.id,
                name: u.name,
                role,
                company: u.company,
                avatar: u.avatar,
                server_role: u.server_role,
            })
            .collect())
    }

    /// The stream's branches, most recently changed first, up to 500 a page.
    async fn branches(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<BranchCollection> {
        branch::page(ctx, &self.stream_id(), limit, cursor).await
    }

    /// The branch so named (or, failing that, with this id), if the stream has it.
    async fn branch(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(\"main\".to_owned())")] name: Option<String>,
    ) -> Result<Option<Branch>> {
        let Some(name) = name else {
            return Ok(None);
        };
        Ok(
            service::branch::find_by_name_or_id(&state(ctx).db, &self.stream_id(), &name)
                .await?
                .map(Branch::from),
        )
    }

    /// The stream's commits, newest first.
    async fn commits(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<Option<CommitCollection>> {
        Ok(Some(
            commit::page(ctx, &self.stream_id(), None, limit, cursor).await?,
        ))
    }

    /// The commit with this id (null if the stream has none), or without an id the newest.
    async fn commit(&self, ctx: &Context<'_>, id: Option<String>) -> Result<Option<Commit>> {
        let id = id.map(CommitId::from);
        commit::one(ctx, &self.stream_id(), id.as_ref()).await
    }

    /// An object stored in this stream (as uploaded through the object API).
    async fn object(&self, ctx: &Context<'_>, id: String) -> Result<Option<SpeckleObject>> {
        object::find(ctx, &self.id, &id).await
    }

    async fn allow_public_comments(&self, ctx: &Context<'_>) -> Result<bool> {
        let ids = [self.id.clone()];
        let allow = service::project::allow_public_comments(&state(ctx).db, &ids).await?;
        Ok(allow.get(&self.id).copied().unwrap_or(false))
    }

    /// Always false: Speckle removed discoverability, and so does this server.
    async fn is_discoverable(&self) -> bool {
        false
    }

    /// Always 0: this server has no comments.
    async fn comment_count(&self) -> i32 {
        0
    }

    /// Always null: this server has no favourites.
    async fn favorited_date(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// Always 0: this server has no favourites.
    async fn favorites_count(&self) -> i32 {
        0
    }

    /// The stream's webhooks (owners with `streams:write` only); `id` picks one.
    async fn webhooks(&self, ctx: &Context<'_>, id: Option<String>) -> Result<WebhookCollection> {
        webhooks_of(ctx, &self.stream_id(), id.as_deref()).await
    }
}

#[derive(Default)]
pub struct StreamQuery;

#[Object]
impl StreamQuery {
    async fn stream(&self, ctx: &Context<'_>, id: String) -> Result<Option<Stream>> {
        Ok(Some(
            readable_stream(ctx, &StreamId::from(id)).await?.into(),
        ))
    }

    /// The streams the caller has a role on, most recently updated first (needs
    /// `streams:read`); `query` matches stream names.
    async fn streams(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        #[graphql(default = 25)] limit: Option<i32>,
        cursor: Option<String>,
    ) -> Result<Option<UserStreamCollection>> {
        let user = auth(ctx).require_scope(SCOPE_STREAMS_READ)?;
        let limit = limit.unwrap_or(25);
        let me = user.user_id();
        Ok(Some(streams_of(ctx, &me, query, limit, cursor).await?))
    }
}

#[derive(InputObject)]
pub struct StreamCreateInput {
    name: Option<String>,
    description: Option<String>,
    is_public: Option<bool>,
}

#[derive(InputObject)]
pub struct StreamUpdateInput {
    id: String,
    name: Option<String>,
    description: Option<String>,
    is_public: Option<bool>,
    /// Accepted and ignored: Speckle removed discoverability, and so does this server.
    #[graphql(name = "isDiscoverable")]
    _is_discoverable: Option<bool>,
    /// Only a public stream may allow public comments.
    allow_public_comments: Option<bool>,
}

#[derive(InputObject)]
pub struct StreamUpdatePermissionInput {
    stream_id: String,
    user_id: String,
    role: String,
}

#[derive(InputObject)]
pub struct StreamRevokePermissionInput {
    stream_id: String,
    user_id: String,
}

#[derive(Default)]
pub struct StreamMutation;

#[Object]
impl StreamMutation {
    /// Creates a stream owned by the caller, with a `main` branch; returns its id.
    async fn stream_create(&self, ctx: &Context<'_>, stream: StreamCreateInput) -> Result<String> {
        let user = auth(ctx).require_scope(SCOPE_STREAMS_WRITE)?;
        let input = service::stream::CreateInput {
            name: stream.name,
            description: stream.description,
            is_public: stream.is_public,
        };
        Ok(project_mutations::create(ctx, user, input).await?.into())
    }

    async fn stream_update(&self, ctx: &Context<'_>, stream: StreamUpdateInput) -> Result<bool> {
        let id = StreamId::from(stream.id);
        let user = owner(ctx, &id).await?;
        let input = service::stream::UpdateInput {
            id,
            name: stream.name,
            description: stream.description,
            is_public: stream.is_public,
            allow_public_comments: stream.allow_public_comments,
        };
        project_mutations::update(ctx, user, input).await?;
        Ok(true)
    }

    async fn stream_delete(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        let id = StreamId::from(id);
        let user = owner(ctx, &id).await?;
        project_mutations::delete(ctx, user, &id).await?;
        Ok(true)
    }

    async fn stream_update_permission(
        &self,
        ctx: &Context<'_>,
        permission_params: StreamUpdatePermissionInput,
    ) -> Result<Option<bool>> {
        let p = permission_params;
        let stream = StreamId::from(p.stream_id);
        let user = owner(ctx, &stream).await?;
        let (target, role) = (UserId::from(p.user_id), Some(p.role.as_str()));
        project_mutations::set_role(ctx, user, &stream, &target, role).await?;
        Ok(Some(true))
    }

    /// Gives up the caller's own role (fires `stream_permissions_remove`); the last owner
    /// cannot, as `projectMutations.leave`.
    async fn stream_leave(&self, ctx: &Context<'_>, stream_id: String) -> Result<bool> {
        project_mutations::leave(ctx, &StreamId::from(stream_id)).await
    }

    async fn stream_revoke_permission(
        &self,
        ctx: &Context<'_>,
        permission_params: StreamRevokePermissionInput,
    ) -> Result<Option<bool>> {
        let p = permission_params;
        let stream = StreamId::from(p.stream_id);
        let user = owner(ctx, &stream).await?;
        let target = UserId::from(p.user_id);
        project_mutations::set_role(ctx, user, &stream, &target, None).await?;
        Ok(Some(true))
    }
}
