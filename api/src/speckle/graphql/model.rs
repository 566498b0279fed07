//! Today's Speckle `Model` and `modelMutations { create, update, delete }`: a model **is** a
//! branch, so the writes here are the ones the legacy `branchCreate/Update/Delete` call too (same
//! rules, same `branch_*` triggers, contributors and owners with `streams:write`).
//! `previewUrl` is null: this server renders no previews.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use entity::ids::{BranchId, CommitId, StreamId};
use entity::{branch, user};

use crate::context::auth::SCOPE_STREAMS_WRITE;
use crate::context::error::Result;
use crate::context::resolver::{auth, contributor, in_transaction, state};
use crate::speckle::graphql::containers::Model;
use crate::speckle::graphql::permissions::{Access, ModelPermissionChecks};
use crate::speckle::graphql::user::{limited_user, LimitedUser};
use crate::speckle::graphql::version::{self, ModelVersionsFilter, Version, VersionCollection};
use crate::speckle::service::{branch as branch_svc, model as svc, page};

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.key.clone())
    }

    /// The name without its parent models.
    async fn display_name(&self) -> String {
        svc::display_name(&self.name).to_owned()
    }

    async fn author(&self, ctx: &Context<'_>) -> Result<Option<LimitedUser>> {
        limited_user(ctx, self.author_id.as_deref()).await
    }

    /// Always null: this server renders no previews.
    async fn preview_url(&self) -> Option<String> {
        None
    }

    async fn version(&self, ctx: &Context<'_>, id: String) -> Result<Version> {
        let v = version::get(ctx, &self.project(), &CommitId::from(id.as_str())).await?;
        if v.branch_id.as_str() != self.key {
            return Err(crate::context::error::Error::NotFound {
                code: "COMMIT_NOT_FOUND",
                message: format!("Version {id:?} is not in this model"),
            });
        }
        Ok(v)
    }

    /// The model's versions, newest first.
    async fn versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        cursor: Option<String>,
        filter: Option<ModelVersionsFilter>,
    ) -> Result<VersionCollection> {
        let model = self.branch_id();
        version::list(ctx, &self.project(), Some(&model), limit, cursor, filter).await
    }

    async fn permissions(&self, ctx: &Context<'_>) -> Result<ModelPermissionChecks> {
        let s = crate::speckle::service::stream::find(&state(ctx).db, &self.project()).await?;
        Ok(ModelPermissionChecks {
            access: Access::load(ctx, &self.project_id, s.is_public).await?,
            model_name: self.name.clone(),
        })
    }
}

#[derive(SimpleObject)]
pub struct ModelCollection {
    total_count: i32,
    cursor: Option<String>,
    items: Vec<Model>,
}

/// Speckle's `ProjectModelsFilter`.
#[derive(InputObject, Default)]
pub struct ProjectModelsFilter {
    /// Models whose name contains this (case-insensitive).
    search: Option<String>,
    /// Models with versions from these source applications.
    source_apps: Option<Vec<String>>,
    /// Models with versions by these users (ids).
    contributors: Option<Vec<String>>,
    /// Leave out models without versions.
    only_with_versions: Option<bool>,
    /// Only these models.
    ids: Option<Vec<String>>,
    /// Not these models.
    exclude_ids: Option<Vec<String>>,
}

/// `Project.models`: the caller has already been allowed to read the project.
pub(crate) async fn list(
    ctx: &Context<'_>,
    project: &StreamId,
    limit: i32,
    cursor: Option<String>,
    filter: Option<ProjectModelsFilter>,
) -> Result<ModelCollection> {
    let limit = page::check_limit(limit)?;
    let f = filter.unwrap_or_default();
    let filter = svc::ModelsFilter {
        search: f.search,
        source_apps: f.source_apps,
        contributors: f.contributors,
        only_with_versions: f.only_with_versions,
        ids: f.ids,
        exclude_ids: f.exclude_ids,
    };
    let p = svc::list(&state(ctx).db, project, &filter, limit, cursor.as_deref()).await?;
    Ok(ModelCollection {
        total_count: i32::try_from(p.total_count).unwrap_or(i32::MAX),
        cursor: p.cursor,
        items: p.items.into_iter().map(Model::from).collect(),
    })
}

pub(crate) async fn get(ctx: &Context<'_>, project: &StreamId, id: &BranchId) -> Result<Model> {
    Ok(branch_svc::find(&state(ctx).db, project, id).await?.into())
}

pub(crate) async fn by_name(ctx: &Context<'_>, project: &StreamId, name: &str) -> Result<Model> {
    Ok(svc::by_name(&state(ctx).db, project, name).await?.into())
}

#[derive(InputObject)]
pub struct CreateModelInput {
    project_id: ID,
    name: String,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateModelInput {
    project_id: ID,
    id: ID,
    name: Option<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteModelInput {
    project_id: ID,
    id: ID,
}

// The writes both names of a model share: the legacy `branchCreate/Update/Delete` and
// `modelMutations` call these, each after its own access check. Each is one transaction.

/// Creates a model of `project_id` (fires `branch_create`); returns it as written.
pub(crate) async fn create(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    name: &str,
    description: Option<String>,
) -> Result<branch::Model> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        branch_svc::create(tx.txn, tx.server, &by, project, name, description).await
    })
    .await
}

/// Renames or re-describes a model (fires `branch_update`); returns it as written.
pub(crate) async fn update(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    id: &BranchId,
    name: Option<String>,
    description: Option<String>,
) -> Result<branch::Model> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let server = tx.server;
        branch_svc::update(tx.txn, server, &by, project, id, name, description).await
    })
    .await
}

/// Deletes a model and its versions (fires `branch_delete`); `main` cannot be deleted.
pub(crate) async fn delete(
    ctx: &Context<'_>,
    user: &user::Model,
    project: &StreamId,
    id: &BranchId,
) -> Result<()> {
    let by = user.user_id();
    in_transaction(ctx, async |tx| {
        let n = branch_svc::delete(tx.txn, tx.server, &by, project, id).await?;
        Ok(((), n))
    })
    .await
}

pub struct ModelMutations;

#[Object]
impl ModelMutations {
    /// Creates a model (fires `branch_create`).
    async fn create(&self, ctx: &Context<'_>, input: CreateModelInput) -> Result<Model> {
        let project = StreamId::from(input.project_id.0);
        let user = contributor(ctx, &project).await?;
        let model = create(ctx, user, &project, &input.name, input.description).await?;
        Ok(model.into())
    }

    /// Renames or re-describes a model (fires `branch_update`).
    async fn update(&self, ctx: &Context<'_>, input: UpdateModelInput) -> Result<Model> {
        let project = StreamId::from(input.project_id.0);
        let user = contributor(ctx, &project).await?;
        let id = BranchId::from(input.id.0);
        let model = update(ctx, user, &project, &id, input.name, input.description).await?;
        Ok(model.into())
    }

    /// Deletes a model and its versions (fires `branch_delete`); `main` cannot be deleted.
    async fn delete(&self, ctx: &Context<'_>, input: DeleteModelInput) -> Result<bool> {
        let project = StreamId::from(input.project_id.0);
        let user = contributor(ctx, &project).await?;
        delete(ctx, user, &project, &BranchId::from(input.id.0)).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct ModelMutationsField;

#[Object]
impl ModelMutationsField {
    /// Today's model mutations (needs a token with `streams:write`).
    async fn model_mutations(&self, ctx: &Context<'_>) -> Result<ModelMutations> {
        auth(ctx).require_scope(SCOPE_STREAMS_WRITE)?;
        Ok(ModelMutations)
    }
}
