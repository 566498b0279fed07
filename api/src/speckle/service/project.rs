//! Today's Speckle names for streams: a project **is** a stream (same row, same roles, same
//! triggers), so this module only adds what the newer API reads and that the legacy one did not:
//! the caller's projects as a paged list, `allowPublicComments`, visibility as Speckle's enum,
//! the source applications of a project's versions, and the collaborators both names list. Changes go through
//! [`super::stream`], so both API generations obey one rule per thing and fire the same events.

use entity::ids::{StreamId, UserId};
use entity::{commit, project_settings, stream, stream_acl, user};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Select,
};

use crate::context::auth::role_rank;
use crate::context::error::{Error, Result};
use crate::speckle::service::page::{self, Page};

/// Speckle's `ProjectVisibility`, as stored: `PUBLIC` and the legacy `UNLISTED` are a public
/// stream, `PRIVATE` a private one.
pub fn is_public_for(visibility: &str) -> Result<bool> {
    match visibility {
        "PUBLIC" | "UNLISTED" => Ok(true),
        "PRIVATE" => Ok(false),
        "WORKSPACE" => Err(Error::bad_input(
            "This server has no workspaces, so a project cannot have WORKSPACE visibility; use PUBLIC or PRIVATE",
        )),
        other => Err(Error::bad_input(format!(
            "Unknown visibility {other:?}; use PUBLIC or PRIVATE"
        ))),
    }
}

/// `UserProjectsFilter`.
#[derive(Default)]
pub struct UserProjectsFilter {
    pub search: Option<String>,
    pub only_with_roles: Option<Vec<String>>,
    /// Every project here is personal (there are no workspaces), so a workspace id matches none.
    pub workspace_id: Option<String>,
}

/// The projects `user_id` has a role on, most recently updated first, with that role.
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    user: &UserId,
    filter: &UserProjectsFilter,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<(stream::Model, String)>> {
    let cursor = cursor.map(page::decode).transpose()?;
    if filter.workspace_id.is_some() {
        // Every project here is personal: none is in a workspace.
        return Ok(Page {
            total_count: 0,
            cursor: None,
            items: Vec::new(),
        });
    }
    let base = || -> Select<stream::Entity> {
        let mut q = stream::Entity::find()
            .join_rev(
                sea_orm::JoinType::InnerJoin,
                stream_acl::Relation::Stream.def(),
            )
            .filter(stream_acl::Column::UserId.eq(user.as_str()));
        if let Some(s) = filter.search.as_deref().filter(|s| !s.is_empty()) {
            q = q.filter(
                Expr::expr(Func::lower(Expr::col((
                    stream::Entity,
                    stream::Column::Name,
                ))))
                .like(LikeExpr::new(page::contains_pattern(s)).escape('\\')),
            );
        }
        if let Some(roles) = &filter.only_with_roles {
            q = q.filter(stream_acl::Column::Role.is_in(roles.clone()));
        }
        q
    };
    let total_count = base().count(db).await?;
    let mut q = base()
        .select_also(stream_acl::Entity)
        .order_by_desc(stream::Column::UpdatedAt)
        .order_by_desc(stream::Column::Id)
        .limit(limit + 1);
    if let Some(c) = &cursor {
        q = q.filter(page::after(
            c,
            stream::Column::UpdatedAt,
            stream::Column::Id,
        ));
    }
    let rows: Vec<(stream::Model, String)> = q
        .all(db)
        .await?
        .into_iter()
        .map(|(s, acl)| (s, acl.map(|a| a.role).unwrap_or_default()))
        .collect();
    Ok(page::finish(rows, limit, total_count, |(s, _)| {
        (s.updated_at, s.id.clone())
    }))
}

/// `allowPublicComments` of each of `ids` (false for any not found).
pub async fn allow_public_comments<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<std::collections::HashMap<String, bool>> {
    Ok(project_settings::Entity::find()
        .filter(project_settings::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.allow_public_comments))
        .collect())
}

/// The distinct source applications of the project's versions, in byte order (sorted here, not
/// in SQL, because PostgreSQL's collation and SQLite's differ).
pub async fn source_apps<C: ConnectionTrait>(db: &C, stream: &StreamId) -> Result<Vec<String>> {
    let apps: Vec<Option<String>> = commit::Entity::find()
        .select_only()
        .column(commit::Column::SourceApplication)
        .distinct()
        .filter(commit::Column::StreamId.eq(stream.as_str()))
        .filter(commit::Column::SourceApplication.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut apps: Vec<String> = apps.into_iter().flatten().collect();
    apps.sort();
    Ok(apps)
}

/// The project's collaborators with their roles, owners first, then contributors, then
/// reviewers, each by user id: what `Stream.collaborators` and `Project.team` list.
pub async fn collaborators<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
) -> Result<Vec<(String, user::Model)>> {
    let rows = stream_acl::Entity::find()
        .filter(stream_acl::Column::StreamId.eq(stream.as_str()))
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    let mut out: Vec<(String, user::Model)> = rows
        .into_iter()
        .filter_map(|(acl, u)| u.map(|u| (acl.role, u)))
        .collect();
    out.sort_by(|(role_a, a), (role_b, b)| {
        role_rank(role_b)
            .cmp(&role_rank(role_a))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}

/// How many owners the project has (a last owner cannot leave).
pub async fn owner_count<C: ConnectionTrait>(db: &C, stream: &StreamId) -> Result<u64> {
    Ok(stream_acl::Entity::find()
        .filter(stream_acl::Column::StreamId.eq(stream.as_str()))
        .filter(stream_acl::Column::Role.eq(stream_acl::ROLE_OWNER))
        .count(db)
        .await?)
}
