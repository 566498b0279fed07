//! `versionMutations { create, update, delete, moveToModel, markReceived }`: a version **is** a
//! commit, so the writes here are the ones the legacy `commitCreate/Update/Delete/Receive` and
//! `commitsMove/Delete` call too (same rules, same `commit_*` triggers, one implementation each).
//! A version is created on a model by id where a commit named its branch; both end on the same
//! row.

use async_graphql::{Context, InputObject, Object, ID};
use entity::ids::{BranchId, CommitId, StreamId};
use entity::{branch, commit, stream_acl, user};

use crate::context::auth::SCOPE_STREAMS_READ;
use crate::context::error::{Error, Result};
use crate::context::resolver::{auth, contributor, in_transaction, state};
use crate::speckle::graphql::containers::Model;
use crate::speckle::graphql::version::Version;
use crate::speckle::service::model::MAX_FILTER_IDS;
use crate::speckle::service::{branch as branch_svc, commit as commit_svc, model as model_svc};

#[derive(InputObject)]
pub struct CreateVersionInput {
    project_id: String,
    model_id: String,
    #[graphql(flatten)]
    version: NewVersion,
}

/// Only the fields given change.
#[derive(InputObject)]
pub struct UpdateVersionInput {
    project_id: ID,
    version_id: ID,
    message: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteVersionsInput {
    project_id: ID,
    version_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct MoveVersionsInput {
    project_id: ID,
    version_ids: Vec<ID>,
    /// A model that does not exist yet is created.
    target_model_name: String,
}

#[derive(InputObject)]
pub struct MarkReceivedVersionInput {
    project_id: String,
    version_id: String,
    /// The application that received the version.
    source_application: String,
    message: Option<String>,
}

fn check_batch(ids: &[CommitId], what: &str) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_FILTER_IDS {
        return Err(Error::bad_input(format!(
            "{what} must list 1 to {MAX_FILTER_IDS} versions"
        )));
    }
    Ok(())
}

// The writes both names of a version share: the legacy `commit*` mutations and
// `versionMutations` call these, each after its own access check (moving and deleting check a
// batch's size first, then access, so they do both). Each is one transaction.

/// Where a new version goes: the legacy `commitCreate` names a branch, `versionMutations.create`
/// gives a model's id.
pub(crate) enum On {
    BranchName(String),
    Model(BranchId),
}

// What a new version holds, whichever name created it: the fields `CommitCreateInput` and
// `CreateVersionInput` share, flattened into each (the schema has no type of this name).
#[derive(InputObject)]
pub struct NewVersion {
    object_id: String,
    message: Option<String>,
    source_application: Option<String>,
    total_children_count: Option<i32>,
    parents: Option<Vec<String>>,
}

/// Creates a version of `project` (fires `commit_create`); returns it as written.
pub(crate) async fn create(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    on: On,
    v: NewVersion,
) -> Result<commit::Model> {
    in_transaction(ctx, async |tx| {
        let branch_name = match on {
            On::BranchName(name) => name,
            On::Model(id) => branch_svc::find(tx.txn, project, &id).await?.name,
        };
        let input = commit_svc::CreateInput {
            stream_id: project.clone(),
            branch_name,
            object_id: v.object_id,
            message: v.message,
            source_application: v.source_application,
            total_children_count: v.total_children_count,
            parents: v.parents,
        };
        commit_svc::create(tx.txn, tx.server, &user.user_id(), input).await
    })
    .await
}

/// Changes a version's message, or (legacy only) its branch (fires `commit_update`); returns it
/// as written.
pub(crate) async fn update(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    id: &CommitId,
    message: Option<String>,
    new_branch_name: Option<String>,
) -> Result<commit::Model> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let (server, branch) = (tx.server, new_branch_name);
        commit_svc::update(tx.txn, server, &by, project, id, message, branch).await
    })
    .await
}

/// Records that a client loaded a version (fires `commit_receive`).
pub(crate) async fn mark_received(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    id: &CommitId,
    source_application: String,
    message: Option<String>,
) -> Result<()> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let app = Some(source_application);
        let n = commit_svc::receive(tx.txn, tx.server, &by, project, id, app, message).await?;
        Ok(((), n))
    })
    .await
}

/// The caller, if they may mark a version of `project` received: a role on the project and
/// `streams:read`, for `versionMutations.markReceived` and the legacy `commitReceive` alike.
pub(crate) async fn receiver<'a>(ctx: &Context<'a>, project: &StreamId) -> Result<&'a user::Model> {
    auth(ctx)
        .require_stream_role(
            &state(ctx).db,
            project,
            stream_acl::ROLE_REVIEWER,
            SCOPE_STREAMS_READ,
        )
        .await
}

/// Moves versions of `project` to the model named `target` (created if missing: fires
/// `branch_create` then, and `commit_update` per version). All or nothing. Both
/// `versionMutations.moveToModel` and the legacy `commitsMove` do this.
pub(crate) async fn move_versions(
    ctx: &Context<'_>,
    project: &StreamId,
    ids: &[CommitId],
    target: &str,
    what: &str,
) -> Result<branch::Model> {
    check_batch(ids, what)?;
    let by = contributor(ctx, project).await?.user_id();
    in_transaction(ctx, async |tx| {
        let (txn, server) = (tx.txn, tx.server);
        let mut queued = 0;
        let target = match model_svc::by_name(txn, project, target).await {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => {
                let (created, n) =
                    branch_svc::create(txn, server, &by, project, target, None).await?;
                queued += n;
                created
            }
            Err(e) => return Err(e),
        };
        for v in ids {
            let name = Some(target.name.clone());
            let (_, n) = commit_svc::update(txn, server, &by, project, v, None, name).await?;
            queued += n;
        }
        Ok((target, queued))
    })
    .await
}

/// Deletes versions of `project` (fires `commit_delete` for each). All or nothing.
/// `versionMutations.delete`, the legacy `commitsDelete` and `commitDelete` (a batch of one) do
/// this.
pub(crate) async fn delete_versions(
    ctx: &Context<'_>,
    project: &StreamId,
    ids: &[CommitId],
    what: &str,
) -> Result<bool> {
    check_batch(ids, what)?;
    let user = contributor(ctx, project).await?;
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let mut queued = 0;
        for v in ids {
            queued += commit_svc::delete(tx.txn, tx.server, &by, project, v).await?;
        }
        Ok(((), queued))
    })
    .await?;
    Ok(true)
}

/// Version ids as they come in a batch.
fn commit_ids(ids: Vec<ID>) -> Vec<CommitId> {
    ids.into_iter().map(|v| CommitId::from(v.0)).collect()
}

pub struct VersionMutations;

#[Object]
impl VersionMutations {
    /// Creates a version on a model (fires `commit_create`).
    async fn create(&self, ctx: &Context<'_>, input: CreateVersionInput) -> Result<Version> {
        let project = StreamId::from(input.project_id);
        let user = contributor(ctx, &project).await?;
        let on = On::Model(BranchId::from(input.model_id));
        Ok(create(ctx, user, &project, on, input.version).await?.into())
    }

    /// Changes a version's message (fires `commit_update`).
    async fn update(&self, ctx: &Context<'_>, input: UpdateVersionInput) -> Result<Version> {
        let project = StreamId::from(input.project_id.0);
        let user = contributor(ctx, &project).await?;
        let id = CommitId::from(input.version_id.0);
        Ok(update(ctx, user, &project, &id, input.message, None)
            .await?
            .into())
    }

    /// Moves versions to the model named (created if missing; fires `branch_create` then, and
    /// `commit_update` per version). All or nothing.
    async fn move_to_model(&self, ctx: &Context<'_>, input: MoveVersionsInput) -> Result<Model> {
        let project = StreamId::from(input.project_id.0);
        let ids = commit_ids(input.version_ids);
        let target = &input.target_model_name;
        Ok(move_versions(ctx, &project, &ids, target, "versionIds")
            .await?
            .into())
    }

    /// Deletes versions (fires `commit_delete` for each). All or nothing.
    async fn delete(&self, ctx: &Context<'_>, input: DeleteVersionsInput) -> Result<bool> {
        let project = StreamId::from(input.project_id.0);
        let ids = commit_ids(input.version_ids);
        delete_versions(ctx, &project, &ids, "versionIds").await
    }

    /// Records that a client loaded a version (fires `commit_receive`); needs a role on the
    /// project and `streams:read`, as `commitReceive` does.
    async fn mark_received(
        &self,
        ctx: &Context<'_>,
        input: MarkReceivedVersionInput,
    ) -> Result<bool> {
        let project = StreamId::from(input.project_id);
        let user = receiver(ctx, &project).await?;
        let id = CommitId::from(input.version_id);
        let app = input.source_application;
        mark_received(ctx, user, &project, &id, app, input.message).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct VersionMutationsField;

#[Object]
impl VersionMutationsField {
    /// Today's version mutations (a token is needed; `markReceived` needs `streams:read`, the
    /// others `streams:write`).
    async fn version_mutations(&self, ctx: &Context<'_>) -> Result<VersionMutations> {
        auth(ctx).user()?;
        Ok(VersionMutations)
    }
}
