//! Today's Speckle names for commits: a version **is** a commit. This module adds only the reads
//! the newer API makes (a project's or a model's versions, newest first, cursor-paged, with
//! Speckle's "priority ids first" option); every change goes through [`super::commit`], so both
//! API generations share its rules and fire the same triggers.

use chrono::{DateTime, TimeZone, Utc};
use entity::ids::{BranchId, CommitId, StreamId, UserId};
use entity::{commit, stream, stream_acl};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::context::error::{Error, Result};
use crate::speckle::service::model::MAX_FILTER_IDS;
use crate::speckle::service::page::{self, Cursor, Page};

/// Speckle's `ModelVersionsFilter`: these versions first (or only these).
#[derive(Default)]
pub struct Priority {
    pub ids: Vec<String>,
    pub only: bool,
}

/// The cursor of a first page filled by priority versions alone: later than any version, so the
/// next page starts with the newest ordinary one.
fn before_everything() -> Cursor {
    Cursor {
        at: Utc
            .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        id: "~".into(),
    }
}

fn scope(stream_id: &str, branch_id: Option<&str>) -> Select<commit::Entity> {
    let q = commit::Entity::find().filter(commit::Column::StreamId.eq(stream_id));
    match branch_id {
        Some(b) => q.filter(commit::Column::BranchId.eq(b)),
        None => q,
    }
}

fn newest_first(q: Select<commit::Entity>) -> Select<commit::Entity> {
    q.order_by_desc(commit::Column::CreatedAt)
        .order_by_desc(commit::Column::Id)
}

/// Versions of `stream_id` (of one model if `branch_id` is given), newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    branch: Option<&BranchId>,
    limit: u64,
    cursor: Option<&str>,
    priority: Option<Priority>,
) -> Result<Page<commit::Model>> {
    let (stream_id, branch_id) = (stream.as_str(), branch.map(BranchId::as_str));
    let priority = priority.filter(|p| !p.ids.is_empty() || p.only);
    if priority
        .as_ref()
        .is_some_and(|p| p.ids.len() > MAX_FILTER_IDS)
    {
        return Err(Error::bad_input(format!(
            "priorityIds may list at most {MAX_FILTER_IDS} entries"
        )));
    }
    let cursor = cursor.map(page::decode).transpose()?;
    let key = |c: &commit::Model| (c.created_at, c.id.clone());
    let Some(p) = priority else {
        let total = scope(stream_id, branch_id).count(db).await?;
        let mut q = newest_first(scope(stream_id, branch_id)).limit(limit + 1);
        if let Some(c) = &cursor {
            q = q.filter(page::after(
                c,
                commit::Column::CreatedAt,
                commit::Column::Id,
            ));
        }
        return Ok(page::finish(q.all(db).await?, limit, total, key));
    };
    let prioritized =
        || scope(stream_id, branch_id).filter(commit::Column::Id.is_in(p.ids.clone()));
    if p.only {
        let total = prioritized().count(db).await?;
        let mut q = newest_first(prioritized()).limit(limit + 1);
        if let Some(c) = &cursor {
            q = q.filter(page::after(
                c,
                commit::Column::CreatedAt,
                commit::Column::Id,
            ));
        }
        return Ok(page::finish(q.all(db).await?, limit, total, key));
    }
    // Priority versions lead the first page; the ordinary ones follow, without them.
    let ordinary =
        || scope(stream_id, branch_id).filter(commit::Column::Id.is_not_in(p.ids.clone()));
    let total = scope(stream_id, branch_id).count(db).await?;
    let mut items = Vec::new();
    if cursor.is_none() {
        items = newest_first(prioritized()).limit(limit).all(db).await?;
    }
    let room = limit - items.len() as u64;
    let after = cursor.unwrap_or_else(before_everything);
    let rest = newest_first(ordinary())
        .filter(page::after(
            &after,
            commit::Column::CreatedAt,
            commit::Column::Id,
        ))
        .limit(room + 1)
        .all(db)
        .await?;
    let more = rest.len() as u64 > room;
    let took_ordinary = room > 0 && !rest.is_empty();
    items.extend(rest.into_iter().take(room as usize));
    let cursor = match (more, took_ordinary, items.last()) {
        (false, _, _) => None,
        (true, true, Some(last)) => Some(page::encode(&last.created_at, &last.id)),
        (true, _, _) => Some(page::encode(&after.at, &after.id)),
    };
    Ok(Page {
        total_count: total,
        cursor,
        items,
    })
}

/// Versions `author` made, in any project (only public ones if `public_only`), newest first
/// (the legacy `User.commits`).
pub async fn list_by_author<C: ConnectionTrait>(
    db: &C,
    author: &UserId,
    public_only: bool,
    limit: u64,
    cursor: Option<&str>,
) -> Result<Page<commit::Model>> {
    let cursor = cursor.map(page::decode).transpose()?;
    let by = || {
        let q = commit::Entity::find().filter(commit::Column::AuthorId.eq(author.as_str()));
        if !public_only {
            return q;
        }
        q.filter(
            commit::Column::StreamId.in_subquery(
                Query::select()
                    .column(stream::Column::Id)
                    .from(stream::Entity)
                    .and_where(stream::Column::IsPublic.eq(true))
                    .to_owned(),
            ),
        )
    };
    let total = by().count(db).await?;
    let mut q = newest_first(by()).limit(limit + 1);
    if let Some(c) = &cursor {
        q = q.filter(page::after(
            c,
            commit::Column::CreatedAt,
            commit::Column::Id,
        ));
    }
    Ok(page::finish(q.all(db).await?, limit, total, |c| {
        (c.created_at, c.id.clone())
    }))
}

/// How many versions there are in the projects `user` has a role on, or only those the user
/// made when `authored_only` (`User.versions`, which Speckle answers with a count alone).
pub async fn count_for_user<C: ConnectionTrait>(
    db: &C,
    user: &UserId,
    authored_only: bool,
) -> Result<u64> {
    let user_id = user.as_str();
    let q = if authored_only {
        commit::Entity::find().filter(commit::Column::AuthorId.eq(user_id))
    } else {
        commit::Entity::find().filter(
            commit::Column::StreamId.in_subquery(
                Query::select()
                    .column(stream_acl::Column::StreamId)
                    .from(stream_acl::Entity)
                    .and_where(stream_acl::Column::UserId.eq(user_id))
                    .to_owned(),
            ),
        )
    };
    Ok(q.count(db).await?)
}

/// The version `id` of `stream_id`.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    id: &CommitId,
) -> Result<commit::Model> {
    Ok(super::commit::find(db, stream, id).await?.0)
}
