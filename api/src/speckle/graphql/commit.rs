//! The legacy Speckle `Commit` (a version under its old name: the same row) as `stream.commit`,
//! `stream.commits`, `branch.commits` and `user.commits` show it; `commitCreate`, `commitUpdate`,
//! `commitDelete`, `commitsMove`, `commitsDelete` (contributors and owners with `streams:write`)
//! and `commitReceive` (anyone with a role and `streams:read`), with Speckle's inputs, each calling
//! the write its `versionMutations` twin calls ([`super::version_mutations`]). Pages come from the
//! service functions `Project.versions` and `Model.versions` use; a page's branch names, authors
//! and streams are read with one query each, not one per commit.

use std::collections::HashMap;

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::ids::{BranchId, CommitId, StreamId, UserId};
use entity::{branch, commit, stream, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::context::error::Result;
use crate::context::resolver::{contributor, state};
use crate::speckle::graphql::containers::{Branch, Stream};
use crate::speckle::graphql::version_mutations::{self as version, NewVersion, On};
use crate::speckle::service::page::{self, Page};
use crate::speckle::service::version as version_svc;

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Commit {
    id: String,
    referenced_object: String,
    message: Option<String>,
    source_application: Option<String>,
    total_children_count: Option<i32>,
    branch_name: Option<String>,
    parents: Option<Vec<Option<String>>>,
    author_name: Option<String>,
    author_id: Option<String>,
    author_avatar: Option<String>,
    created_at: Option<DateTime<Utc>>,
    stream_id: Option<String>,
    stream_name: Option<String>,
    /// Always 0: this server has no comments.
    comment_count: i32,
    #[graphql(skip)]
    branch_id: String,
}

#[ComplexObject]
impl Commit {
    async fn branch(&self, ctx: &Context<'_>) -> Result<Option<Branch>> {
        Ok(branch::Entity::find_by_id(self.branch_id.clone())
            .one(&state(ctx).db)
            .await?
            .map(Branch::from))
    }

    /// The commit's stream (read access to it was checked on the way here).
    async fn stream(&self, ctx: &Context<'_>) -> Result<Stream> {
        let id = StreamId::from(self.stream_id.as_deref().unwrap_or_default());
        Ok(crate::speckle::service::stream::find(&state(ctx).db, &id)
            .await?
            .into())
    }
}

#[derive(SimpleObject)]
pub struct CommitCollection {
    total_count: i32,
    cursor: Option<String>,
    items: Option<Vec<Commit>>,
}

/// Commits for `rows`, with their branch names, authors and streams read in one query each.
pub(crate) async fn commits_from<C: ConnectionTrait>(
    db: &C,
    rows: Vec<commit::Model>,
) -> Result<Vec<Commit>> {
    let ids = |f: fn(&commit::Model) -> Option<&String>| -> Vec<String> {
        let mut v: Vec<String> = rows.iter().filter_map(f).cloned().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let branches: HashMap<String, String> = branch::Entity::find()
        .filter(branch::Column::Id.is_in(ids(|c| Some(&c.branch_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    let authors: HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids(|c| c.author_id.as_ref())))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let streams: HashMap<String, String> = stream::Entity::find()
        .filter(stream::Column::Id.is_in(ids(|c| Some(&c.stream_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|c| {
            let author = c.author_id.as_ref().and_then(|a| authors.get(a));
            Commit {
                parents: c
                    .parents
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok()),
                branch_name: branches.get(&c.branch_id).cloned(),
                author_name: author.map(|u| u.name.clone()),
                author_avatar: author.and_then(|u| u.avatar.clone()),
                stream_name: streams.get(&c.stream_id).cloned(),
                created_at: Some(c.created_at),
                stream_id: Some(c.stream_id),
                comment_count: 0,
                id: c.id,
                referenced_object: c.object_id,
                message: c.message,
                source_application: c.source_application,
                total_children_count: c.total_children_count,
                author_id: c.author_id,
                branch_id: c.branch_id,
            }
        })
        .collect())
}

async fn collection<C: ConnectionTrait>(
    db: &C,
    p: Page<commit::Model>,
) -> Result<CommitCollection> {
    Ok(CommitCollection {
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: Some(commits_from(db, p.items).await?),
    })
}

/// One page of a stream's commits (of one branch if `branch` is given), newest first; the
/// caller was allowed to read the stream.
pub(crate) async fn page(
    ctx: &Context<'_>,
    stream: &StreamId,
    branch: Option<&BranchId>,
    limit: i32,
    cursor: Option<String>,
) -> Result<CommitCollection> {
    let limit = page::check_limit(limit)?;
    let db = &state(ctx).db;
    let p = version_svc::list(db, stream, branch, limit, cursor.as_deref(), None).await?;
    collection(db, p).await
}

/// One page of the commits `author` made, newest first (only those in public streams if
/// `public_only`).
pub(crate) async fn page_by_author(
    ctx: &Context<'_>,
    author: &UserId,
    public_only: bool,
    limit: i32,
    cursor: Option<String>,
) -> Result<CommitCollection> {
    let limit = page::check_limit(limit)?;
    let db = &state(ctx).db;
    let cursor = cursor.as_deref();
    let p = version_svc::list_by_author(db, author, public_only, limit, cursor).await?;
    collection(db, p).await
}

/// The legacy `stream.commit(id)`: that commit of the stream (null if it has none so named), or
/// without an id the newest one.
pub(crate) async fn one(
    ctx: &Context<'_>,
    stream: &StreamId,
    id: Option<&CommitId>,
) -> Result<Option<Commit>> {
    let db = &state(ctx).db;
    let row = match id {
        Some(id) => match version_svc::find(db, stream, id).await {
            Ok(c) => Some(c),
            Err(crate::context::error::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        },
        None => {
            let p = version_svc::list(db, stream, None, 1, None, None).await?;
            let Some(c) = p.items.into_iter().next() else {
                return Err(crate::context::error::Error::NotFound {
                    code: "COMMIT_NOT_FOUND",
                    message: "Cannot retrieve commit (there are no commits in this stream).".into(),
                });
            };
            Some(c)
        }
    };
    match row {
        Some(c) => Ok(commits_from(db, vec![c]).await?.pop()),
        None => Ok(None),
    }
}

#[derive(InputObject)]
pub struct CommitCreateInput {
    stream_id: String,
    branch_name: String,
    #[graphql(flatten)]
    version: NewVersion,
}

#[derive(InputObject)]
pub struct CommitUpdateInput {
    stream_id: String,
    id: String,
    message: Option<String>,
    new_branch_name: Option<String>,
}

#[derive(InputObject)]
pub struct CommitDeleteInput {
    stream_id: String,
    id: String,
}

#[derive(InputObject)]
pub struct CommitReceivedInput {
    stream_id: String,
    commit_id: String,
    source_application: String,
    message: Option<String>,
}

/// Several commits to another branch, which is created if it does not exist.
#[derive(InputObject)]
pub struct CommitsMoveInput {
    stream_id: async_graphql::ID,
    target_branch: String,
    commit_ids: Vec<String>,
}

#[derive(InputObject)]
pub struct CommitsDeleteInput {
    stream_id: async_graphql::ID,
    commit_ids: Vec<String>,
}

#[derive(Default)]
pub struct CommitMutation;

#[Object]
impl CommitMutation {
    async fn commit_create(&self, ctx: &Context<'_>, commit: CommitCreateInput) -> Result<String> {
        let stream = StreamId::from(commit.stream_id);
        let user = contributor(ctx, &stream).await?;
        let on = On::BranchName(commit.branch_name);
        Ok(version::create(ctx, user, &stream, on, commit.version)
            .await?
            .id)
    }

    async fn commit_update(&self, ctx: &Context<'_>, commit: CommitUpdateInput) -> Result<bool> {
        let stream = StreamId::from(commit.stream_id);
        let user = contributor(ctx, &stream).await?;
        let id = CommitId::from(commit.id);
        let (message, branch) = (commit.message, commit.new_branch_name);
        version::update(ctx, user, &stream, &id, message, branch).await?;
        Ok(true)
    }

    async fn commit_delete(&self, ctx: &Context<'_>, commit: CommitDeleteInput) -> Result<bool> {
        let ids = [CommitId::from(commit.id)];
        version::delete_versions(ctx, &StreamId::from(commit.stream_id), &ids, "id").await
    }

    /// Moves commits to the branch named (created if missing; fires `branch_create` then, and
    /// `commit_update` per commit). All or nothing, as `versionMutations.moveToModel`.
    async fn commits_move(&self, ctx: &Context<'_>, input: CommitsMoveInput) -> Result<bool> {
        let stream = StreamId::from(input.stream_id.0);
        let ids: Vec<CommitId> = input.commit_ids.into_iter().map(CommitId::from).collect();
        let target = &input.target_branch;
        version::move_versions(ctx, &stream, &ids, target, "commitIds").await?;
        Ok(true)
    }

    /// Deletes commits (fires `commit_delete` for each). All or nothing, as
    /// `versionMutations.delete`.
    async fn commits_delete(&self, ctx: &Context<'_>, input: CommitsDeleteInput) -> Result<bool> {
        let stream = StreamId::from(input.stream_id.0);
        let ids: Vec<CommitId> = input.commit_ids.into_iter().map(CommitId::from).collect();
        version::delete_versions(ctx, &stream, &ids, "commitIds").await
    }

    async fn commit_receive(&self, ctx: &Context<'_>, input: CommitReceivedInput) -> Result<bool> {
        let stream = StreamId::from(input.stream_id);
        let user = version::receiver(ctx, &stream).await?;
        let id = CommitId::from(input.commit_id);
        let app = input.source_application;
        version::mark_received(ctx, user, &stream, &id, app, input.message).await?;
        Ok(true)
    }
}
