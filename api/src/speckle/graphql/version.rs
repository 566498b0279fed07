//! Today's Speckle `Version` and `versionMutations { create, update, delete, moveToModel,
//! markReceived }`: a version **is** a commit, so these call the very service functions
//! `commitCreate/Update/Delete/Receive` call (same rules, same `commit_*` triggers). A version is
//! created on a model by id where a commit named its branch; both end on the same row.
//! `previewUrl` is Speckle's URL form (it is non-null in Speckle's schema), but this server
//! renders no previews, so it answers 404.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{branch, commit, stream_acl};

use crate::context::auth::SCOPE_STREAMS_READ;
use crate::context::error::{Error, Result};
use crate::context::resolver::{auth, contributor, in_transaction, state};
use crate::speckle::graphql::model::Model;
use crate::speckle::graphql::permissions::{Access, VersionPermissionChecks};
use crate::speckle::graphql::user::{limited_user, LimitedUser};
use crate::speckle::service::model::MAX_FILTER_IDS;
use crate::speckle::service::{branch as branch_svc, commit as commit_svc, page};
use crate::speckle::service::{model as model_svc, version as svc};

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Version {
    #[graphql(skip)]
    pub key: String,
    /// The id of the version's root object.
    referenced_object: Option<String>,
    message: Option<String>,
    source_application: Option<String>,
    created_at: DateTime<Utc>,
    total_children_count: Option<i32>,
    parents: Option<Vec<Option<String>>>,
    #[graphql(skip)]
    pub project_id: String,
    #[graphql(skip)]
    pub branch_id: String,
    #[graphql(skip)]
    author_id: Option<String>,
}

impl From<commit::Model> for Version {
    fn from(c: commit::Model) -> Self {
        let parents: Option<Vec<Option<String>>> = c
            .parents
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        Self {
            key: c.id,
            referenced_object: Some(c.object_id),
            message: c.message,
            source_application: c.source_application,
            created_at: c.created_at,
            total_children_count: c.total_children_count,
            parents,
            project_id: c.stream_id,
            branch_id: c.branch_id,
            author_id: c.author_id,
        }
    }
}

#[ComplexObject]
impl Version {
    async fn id(&self) -> ID {
        ID(self.key.clone())
    }

    async fn author_user(&self, ctx: &Context<'_>) -> Result<Option<LimitedUser>> {
        limited_user(ctx, self.author_id.as_deref()).await
    }

    async fn model(&self, ctx: &Context<'_>) -> Result<Model> {
        Ok(
            branch_svc::find(&state(ctx).db, &self.project_id, &self.branch_id)
                .await?
                .into(),
        )
    }

    /// Speckle's preview URL for this version; this server renders no previews.
    async fn preview_url(&self, ctx: &Context<'_>) -> String {
        format!(
            "{}/preview/{}/commits/{}",
            state(ctx).server_info.canonical_url.trim_end_matches('/'),
            self.project_id,
            self.key
        )
    }

    async fn permissions(&self, ctx: &Context<'_>) -> Result<VersionPermissionChecks> {
        let s = crate::speckle::service::stream::find(&state(ctx).db, &self.project_id).await?;
        Ok(VersionPermissionChecks {
            access: Access::load(ctx, &self.project_id, s.is_public).await?,
        })
    }
}

#[derive(SimpleObject)]
pub struct VersionCollection {
    total_count: i32,
    cursor: Option<String>,
    items: Vec<Version>,
}

/// Speckle's `ModelVersionsFilter`.
#[derive(InputObject)]
pub struct ModelVersionsFilter {
    /// These versions come first.
    priority_ids: Option<Vec<String>>,
    /// Only the versions in `priorityIds`.
    priority_ids_only: Option<bool>,
}

/// `Project.versions` / `Model.versions`: the caller has already been allowed to read.
pub(crate) async fn list(
    ctx: &Context<'_>,
    project_id: &str,
    model_id: Option<&str>,
    limit: i32,
    cursor: Option<String>,
    filter: Option<ModelVersionsFilter>,
) -> Result<VersionCollection> {
    let limit = page::check_limit(limit)?;
    let priority = filter.map(|f| svc::Priority {
        ids: f.priority_ids.unwrap_or_default(),
        only: f.priority_ids_only.unwrap_or(false),
    });
    let p = svc::list(
        &state(ctx).db,
        project_id,
        model_id,
        limit,
        cursor.as_deref(),
        priority,
    )
    .await?;
    Ok(VersionCollection {
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: p.items.into_iter().map(Version::from).collect(),
    })
}

pub(crate) async fn get(ctx: &Context<'_>, project_id: &str, id: &str) -> Result<Version> {
    Ok(svc::find(&state(ctx).db, project_id, id).await?.into())
}

#[derive(InputObject)]
pub struct CreateVersionInput {
    project_id: String,
    model_id: String,
    object_id: String,
    message: Option<String>,
    source_application: Option<String>,
    total_children_count: Option<i32>,
    parents: Option<Vec<String>>,
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

fn check_batch(ids: &[String], what: &str) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_FILTER_IDS {
        return Err(Error::bad_input(format!(
            "{what} must list 1 to {MAX_FILTER_IDS} versions"
        )));
    }
    Ok(())
}

/// Moves versions of `project_id` to the model named `target` (created if missing: fires
/// `branch_create` then, and `commit_update` per version). All or nothing. Both
/// `versionMutations.moveToModel` and the legacy `commitsMove` do this.
pub(crate) async fn move_versions(
    ctx: &Context<'_>,
    project_id: &str,
    ids: &[String],
    target: &str,
    what: &str,
) -> Result<branch::Model> {
    check_batch(ids, what)?;
    let user = contributor(ctx, project_id).await?;
    let st = state(ctx);
    let p = project_id;
    in_transaction(ctx, async |txn| {
        let mut queued = 0;
        let target = match model_svc::by_name(txn, p, target).await {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => {
                let (id, n) =
                    branch_svc::create(txn, &st.server_info, &user.id, p, target, None).await?;
                queued += n;
                branch_svc::find(txn, p, &id).await?
            }
            Err(e) => return Err(e),
        };
        for v in ids {
            let name = Some(target.name.clone());
            queued += commit_svc::update(txn, &st.server_info, &user.id, p, v, None, name).await?;
        }
        Ok((target, queued))
    })
    .await
}

/// Deletes versions of `project_id` (fires `commit_delete` for each). All or nothing. Both
/// `versionMutations.delete` and the legacy `commitsDelete` do this.
pub(crate) async fn delete_versions(
    ctx: &Context<'_>,
    project_id: &str,
    ids: &[String],
    what: &str,
) -> Result<bool> {
    check_batch(ids, what)?;
    let user = contributor(ctx, project_id).await?;
    let st = state(ctx);
    in_transaction(ctx, async |txn| {
        let mut queued = 0;
        for v in ids {
            queued += commit_svc::delete(txn, &st.server_info, &user.id, project_id, v).await?;
        }
        Ok(((), queued))
    })
    .await?;
    Ok(true)
}

pub struct VersionMutations;

#[Object]
impl VersionMutations {
    /// Creates a version on a model (fires `commit_create`).
    async fn create(&self, ctx: &Context<'_>, input: CreateVersionInput) -> Result<Version> {
        let user = contributor(ctx, &input.project_id).await?;
        let st = state(ctx);
        let v = in_transaction(ctx, async |txn| {
            let model = branch_svc::find(txn, &input.project_id, &input.model_id).await?;
            let c = commit_svc::CreateInput {
                stream_id: input.project_id.clone(),
                branch_name: model.name,
                object_id: input.object_id,
                message: input.message,
                source_application: input.source_application,
                total_children_count: input.total_children_count,
                parents: input.parents,
            };
            let (id, n) = commit_svc::create(txn, &st.server_info, &user.id, c).await?;
            Ok((svc::find(txn, &input.project_id, &id).await?, n))
        })
        .await?;
        Ok(v.into())
    }

    /// Changes a version's message (fires `commit_update`).
    async fn update(&self, ctx: &Context<'_>, input: UpdateVersionInput) -> Result<Version> {
        let user = contributor(ctx, &input.project_id).await?;
        let st = state(ctx);
        let v = in_transaction(ctx, async |txn| {
            let n = commit_svc::update(
                txn,
                &st.server_info,
                &user.id,
                &input.project_id,
                &input.version_id,
                input.message,
                None,
            )
            .await?;
            Ok((
                svc::find(txn, &input.project_id, &input.version_id).await?,
                n,
            ))
        })
        .await?;
        Ok(v.into())
    }

    /// Moves versions to the model named (created if missing; fires `branch_create` then, and
    /// `commit_update` per version). All or nothing.
    async fn move_to_model(&self, ctx: &Context<'_>, input: MoveVersionsInput) -> Result<Model> {
        let ids: Vec<String> = input.version_ids.into_iter().map(|v| v.0).collect();
        let target = &input.target_model_name;
        Ok(
            move_versions(ctx, &input.project_id, &ids, target, "versionIds")
                .await?
                .into(),
        )
    }

    /// Deletes versions (fires `commit_delete` for each). All or nothing.
    async fn delete(&self, ctx: &Context<'_>, input: DeleteVersionsInput) -> Result<bool> {
        let ids: Vec<String> = input.version_ids.into_iter().map(|v| v.0).collect();
        delete_versions(ctx, &input.project_id, &ids, "versionIds").await
    }

    /// Records that a client loaded a version (fires `commit_receive`); needs a role on the
    /// project and `streams:read`, as `commitReceive` does.
    async fn mark_received(
        &self,
        ctx: &Context<'_>,
        input: MarkReceivedVersionInput,
    ) -> Result<bool> {
        let st = state(ctx);
        let user = auth(ctx)
            .require_stream_role(
                &st.db,
                &input.project_id,
                stream_acl::ROLE_REVIEWER,
                SCOPE_STREAMS_READ,
            )
            .await?;
        in_transaction(ctx, async |txn| {
            let n = commit_svc::receive(
                txn,
                &st.server_info,
                &user.id,
                &input.project_id,
                &input.version_id,
                Some(input.source_application),
                input.message,
            )
            .await?;
            Ok(((), n))
        })
        .await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct VersionMutation;

#[Object]
impl VersionMutation {
    /// Today's version mutations (a token is needed; `markReceived` needs `streams:read`, the
    /// others `streams:write`).
    async fn version_mutations(&self, ctx: &Context<'_>) -> Result<VersionMutations> {
        auth(ctx).user()?;
        Ok(VersionMutations)
    }
}
