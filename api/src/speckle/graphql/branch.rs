//! The legacy Speckle `Branch` (a model under its old name: the same row) as `stream.branch` and
//! `stream.branches` show it, and `branchCreate`, `branchUpdate`, `branchDelete` with Speckle's
//! inputs (contributors and owners with `streams:write`), each calling the write its
//! `modelMutations` twin calls ([`super::model`]). A branch's commits are paged by the same service
//! function as `Model.versions`.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use entity::ids::{BranchId, StreamId};

use crate::context::error::Result;
use crate::context::resolver::{auth, contributor, state};
use crate::speckle::graphql::commit::{self as legacy_commit, CommitCollection};
use crate::speckle::graphql::containers::Branch;
use crate::speckle::graphql::model;
use crate::speckle::graphql::user::{user_as_seen, User};
use crate::speckle::service::{model as model_svc, page};

#[ComplexObject]
impl Branch {
    /// Who created the branch; null without a token, as in Speckle.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let a = auth(ctx);
        let (Some(_), Some(id)) = (&a.user, &self.author_id) else {
            return Ok(None);
        };
        use sea_orm::EntityTrait;
        Ok(entity::user::Entity::find_by_id(id.clone())
            .one(&state(ctx).db)
            .await?
            .map(|u| user_as_seen(a, &u)))
    }

    /// The branch's commits, newest first.
    async fn commits(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
    ) -> Result<CommitCollection> {
        let branch = self.branch_id();
        legacy_commit::page(ctx, &self.stream_id, Some(&branch), limit, cursor).await
    }
}

#[derive(SimpleObject)]
pub struct BranchCollection {
    total_count: i32,
    cursor: Option<String>,
    items: Vec<Branch>,
}

/// One page of a stream's branches, most recently changed first (the order and cursor of
/// `Project.models`, whose service function this is), up to Speckle's 500 a page.
pub(crate) async fn page(
    ctx: &Context<'_>,
    stream: &StreamId,
    limit: i32,
    cursor: Option<String>,
) -> Result<BranchCollection> {
    let limit = page::check_limit_up_to(limit, page::MAX_BRANCHES_LIMIT)?;
    let p = model_svc::list(
        &state(ctx).db,
        stream,
        &model_svc::ModelsFilter::default(),
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(BranchCollection {
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: p.items.into_iter().map(Branch::from).collect(),
    })
}

#[derive(InputObject)]
pub struct BranchCreateInput {
    stream_id: String,
    name: String,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct BranchUpdateInput {
    stream_id: String,
    id: String,
    name: Option<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct BranchDeleteInput {
    stream_id: String,
    id: String,
}

#[derive(Default)]
pub struct BranchMutation;

#[Object]
impl BranchMutation {
    async fn branch_create(&self, ctx: &Context<'_>, branch: BranchCreateInput) -> Result<String> {
        let stream = StreamId::from(branch.stream_id);
        let user = contributor(ctx, &stream).await?;
        let created = model::create(ctx, user, &stream, &branch.name, branch.description).await?;
        Ok(created.id)
    }

    async fn branch_update(&self, ctx: &Context<'_>, branch: BranchUpdateInput) -> Result<bool> {
        let stream = StreamId::from(branch.stream_id);
        let user = contributor(ctx, &stream).await?;
        let id = BranchId::from(branch.id);
        model::update(ctx, user, &stream, &id, branch.name, branch.description).await?;
        Ok(true)
    }

    async fn branch_delete(&self, ctx: &Context<'_>, branch: BranchDeleteInput) -> Result<bool> {
        let stream = StreamId::from(branch.stream_id);
        let user = contributor(ctx, &stream).await?;
        model::delete(ctx, user, &stream, &BranchId::from(branch.id)).await?;
        Ok(true)
    }
}
