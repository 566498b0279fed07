//! Today's Speckle names for branches: a model **is** a branch. This module adds only the reads
//! the newer API makes (a project's models as a filtered, cursor-paged list, newest change
//! first, as Speckle orders them); creating, renaming and deleting go through
//! [`super::branch`], so both API generations share its rules and fire the same triggers.

use entity::ids::StreamId;
use entity::{branch, commit};
use sea_orm::sea_query::{Expr, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::context::error::{Error, Result};
use crate::speckle::service::page::{self, Page};

/// Speckle's `ProjectModelsFilter`.
#[derive(Default)]
pub struct ModelsFilter {
    pub search: Option<String>,
    pub source_apps: Option<Vec<String>>,
    pub contributors: Option<Vec<String>>,
    pub only_with_versions: Option<bool>,
    pub ids: Option<Vec<String>>,
    pub exclude_ids: Option<Vec<String>>,
}

/// The most ids a filter may list, so a request cannot build an unbounded `IN (…)`.
pub const MAX_FILTER_IDS: usize = 1000;

fn check_len(list: &Option<Vec<String>>, what: &str) -> Result<()> {
    if list.as_ref().is_some_and(|l| l.len() > MAX_FILTER_IDS) {
        return Err(Error::bad_input(format!(
            "{what} may list at most {MAX_FILTER_IDS} entries"
        )));
    }
    Ok(())
}

/// Models whose versions match `cond`.
fn with_versions_where(cond: Condition) -> Condition {
    Condition::all().add(
        branch::Column::Id.in_subquery(
            Query::select()
                .column(commit::Column::BranchId)
                .from(commit::Entity)
                .cond_where(cond)
                .to_owned(),
        ),
    )
}

fn filtered(stream_id: &str, f: &ModelsFilter) -> Select<branch::Entity> {
    let mut q = branch::Entity::find().filter(branch::Column::StreamId.eq(stream_id));
    if let Some(s) = f.search.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col((
                branch::Entity,
                branch::Column::Name,
            ))))
            .like(LikeExpr::new(page::contains_pattern(s)).escape('\\')),
        );
    }
    if let Some(ids) = &f.ids {
        q = q.filter(branch::Column::Id.is_in(ids.clone()));
    }
    if let Some(ids) = &f.exclude_ids {
        q = q.filter(branch::Column::Id.is_not_in(ids.clone()));
    }
    if f.only_with_versions == Some(true) {
        q = q.filter(with_versions_where(Condition::all()));
    }
    if let Some(apps) = &f.source_apps {
        q = q.filter(with_versions_where(
            Condition::all().add(commit::Column::SourceApplication.is_in(apps.clone())),
        ));
    }
    if let Some(users) = &f.contributors {
        q = q.filter(with_versions_where(
            Condition::all().add(commit::Column::AuthorId.is_in(users.clone())),
        ));
    }
    q
}

/// A project's models matching `filter`, most recently updated first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    filter: &ModelsFilter,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<branch::Model>> {
    check_len(&filter.ids, "ids")?;
    check_len(&filter.exclude_ids, "excludeIds")?;
    check_len(&filter.source_apps, "sourceApps")?;
    check_len(&filter.contributors, "contributors")?;
    let cursor = cursor.map(page::decode).transpose()?;
    let total_count = filtered(stream.as_str(), filter).count(db).await?;
    let mut q = filtered(stream.as_str(), filter)
        .order_by_desc(branch::Column::UpdatedAt)
        .order_by_desc(branch::Column::Id)
        .limit(limit + 1);
    if let Some(c) = &cursor {
        q = q.filter(page::after(
            c,
            branch::Column::UpdatedAt,
            branch::Column::Id,
        ));
    }
    let rows = q.all(db).await?;
    Ok(page::finish(rows, limit, total_count, |b| {
        (b.updated_at, b.id.clone())
    }))
}

/// The model of `stream_id` called `name` (names are compared as stored: lower case).
pub async fn by_name<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    name: &str,
) -> Result<branch::Model> {
    let stream_id = stream.as_str();
    branch::find_by_name(db, stream_id, &name.trim().to_lowercase())
        .await?
        .ok_or_else(|| Error::NotFound {
            code: "BRANCH_NOT_FOUND",
            message: format!("Model {name:?} not found in project {stream_id:?}"),
        })
}

/// `Model.displayName`: the last part of a `parent/child` name.
pub fn display_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names_are_the_last_segment() {
        assert_eq!(super::display_name("facade/level 1"), "level 1");
        assert_eq!(super::display_name("main"), "main");
    }
}
