//! The legacy Speckle names for streams: `stream(id)`, `streamCreate/Update/Delete` and the
//! permission mutations, still sent by older connectors and scripts. Today's names for the same
//! rows (`Project`, `projectMutations`) are in [`super::project`].

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{stream as stream_entity, stream_acl, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::auth::{role_rank, SCOPE_STREAMS_READ, SCOPE_STREAMS_WRITE};
use crate::backend::service;
use crate::error::Result;
use crate::graphql::{auth, owner, state};
use crate::webhooks::graphql::{webhooks_of, WebhookCollection};

/// Reads need: a public stream, or a role on it and a token with `streams:read`.
pub(crate) async fn readable_stream(ctx: &Context<'_>, id: &str) -> Result<stream_entity::Model> {
    let st = state(ctx);
    let s = service::stream::find(&st.db, id).await?;
    if s.is_public {
        return Ok(s);
    }
    auth(ctx)
        .require_stream_role(&st.db, id, stream_acl::ROLE_REVIEWER, SCOPE_STREAMS_READ)
        .await?;
    Ok(s)
}

async fn caller_role(ctx: &Context<'_>, stream_id: &str) -> Result<Option<String>> {
    let Some(u) = auth(ctx).user.as_ref() else {
        return Ok(None);
    };
    Ok(stream_acl::role_of(&state(ctx).db, stream_id, &u.id).await?)
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Stream {
    id: String,
    name: String,
    description: Option<String>,
    is_public: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct StreamCollaborator {
    id: String,
    name: String,
    role: String,
}

#[derive(SimpleObject)]
pub struct BranchCollection {
    total_count: i32,
    items: Vec<Branch>,
}

#[derive(SimpleObject)]
pub struct Branch {
    id: String,
    name: String,
    description: Option<String>,
    created_at: DateTime<Utc>,
}

#[ComplexObject]
impl Stream {
    /// The caller's role on this stream, if any.
    async fn role(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        caller_role(ctx, &self.id).await
    }

    async fn collaborators(&self, ctx: &Context<'_>) -> Result<Vec<StreamCollaborator>> {
        let rows = stream_acl::Entity::find()
            .filter(stream_acl::Column::StreamId.eq(&self.id))
            .find_also_related(user::Entity)
            .all(&state(ctx).db)
            .await?;
        let mut out: Vec<StreamCollaborator> = rows
            .into_iter()
            .filter_map(|(acl, u)| {
                u.map(|u| StreamCollaborator {
                    id: u.id,
                    name: u.name,
                    role: acl.role,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            role_rank(&b.role)
                .cmp(&role_rank(&a.role))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    async fn branches(&self, ctx: &Context<'_>) -> Result<BranchCollection> {
        let items: Vec<Branch> = entity::branch::Entity::find()
            .filter(entity::branch::Column::StreamId.eq(&self.id))
            .order_by_asc(entity::branch::Column::Name)
            .all(&state(ctx).db)
            .await?
            .into_iter()
            .map(|b| Branch {
                id: b.id,
                name: b.name,
                description: b.description,
                created_at: b.created_at,
            })
            .collect();
        Ok(BranchCollection {
            total_count: items.len() as i32,
            items,
        })
    }

    /// The stream's webhooks (owners with `streams:write` only); `id` picks one.
    async fn webhooks(&self, ctx: &Context<'_>, id: Option<String>) -> Result<WebhookCollection> {
        webhooks_of(ctx, &self.id, id.as_deref()).await
    }
}

impl From<stream_entity::Model> for Stream {
    fn from(s: stream_entity::Model) -> Self {
        Self {
            id: s.id,
            name: s.name,
            description: s.description,
            is_public: s.is_public,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Default)]
pub struct StreamQuery;

#[Object]
impl StreamQuery {
    async fn stream(&self, ctx: &Context<'_>, id: String) -> Result<Option<Stream>> {
        Ok(Some(readable_stream(ctx, &id).await?.into()))
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
        let st = state(ctx);
        let txn = st.begin().await?;
        let id = service::stream::create(
            &txn,
            user,
            service::stream::CreateInput {
                name: stream.name,
                description: stream.description,
                is_public: stream.is_public,
            },
        )
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    async fn stream_update(&self, ctx: &Context<'_>, stream: StreamUpdateInput) -> Result<bool> {
        let user = owner(ctx, &stream.id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let input = service::stream::UpdateInput {
            id: stream.id,
            name: stream.name,
            description: stream.description,
            is_public: stream.is_public,
            allow_public_comments: None,
        };
        let n = service::stream::update(&txn, &st.server_info, &user.id, input).await?;
        st.commit(txn, n).await?;
        Ok(true)
    }

    async fn stream_delete(&self, ctx: &Context<'_>, id: String) -> Result<bool> {
        let user = owner(ctx, &id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = service::stream::delete(&txn, &st.server_info, &user.id, &id).await?;
        st.commit(txn, n).await?;
        Ok(true)
    }

    async fn stream_update_permission(
        &self,
        ctx: &Context<'_>,
        permission_params: StreamUpdatePermissionInput,
    ) -> Result<Option<bool>> {
        let p = permission_params;
        let user = owner(ctx, &p.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = service::stream::grant(
            &txn,
            &st.server_info,
            &user.id,
            &p.stream_id,
            &p.user_id,
            &p.role,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(Some(true))
    }

    async fn stream_revoke_permission(
        &self,
        ctx: &Context<'_>,
        permission_params: StreamRevokePermissionInput,
    ) -> Result<Option<bool>> {
        let p = permission_params;
        let user = owner(ctx, &p.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = service::stream::revoke(&txn, &st.server_info, &user.id, &p.stream_id, &p.user_id)
            .await?;
        st.commit(txn, n).await?;
        Ok(Some(true))
    }
}
