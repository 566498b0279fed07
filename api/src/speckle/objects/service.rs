//! The `objects` table: store a checked batch, ask which ids exist, read one object or a chunk
//! of them. Every query names the project and a bounded list of ids, so each is one lookup of
//! the (stream_id, id) primary key however large the project is.
//!
//! Stores are `INSERT … ON CONFLICT DO NOTHING`, as in Speckle: an id is a content hash, so an
//! object already there is the same object, and a second upload of it (a retry, another
//! client) neither fails nor rewrites it.

use std::collections::HashSet;

use chrono::Utc;
use entity::ids::StreamId;
use entity::object;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};

use super::batch::NewObject;

/// Ids per `IN (…)` list: far below SQLite's and PostgreSQL's parameter limits.
pub const IDS_PER_QUERY: usize = 500;
/// Rows and bytes per INSERT statement, so one statement stays a modest size.
const ROWS_PER_INSERT: usize = 500;
const BYTES_PER_INSERT: usize = 8 << 20;

/// Stores `objects` (ids unique within the list) in `stream`; returns how many were new.
/// Run it in a transaction: a failure part-way must leave nothing stored.
pub async fn store<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    mut objects: Vec<NewObject>,
) -> Result<u64, DbErr> {
    let stream_id = stream.as_str();
    // Every upload takes its keys in the same (id) order, so two concurrent uploads sharing
    // objects wait on each other on PostgreSQL instead of deadlocking, as Speckle sorts too.
    objects.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let now = Utc::now();
    let mut inserted = 0;
    let mut rows = Vec::new();
    let mut bytes = 0;
    for o in objects {
        bytes += o.data.len();
        rows.push(object::ActiveModel {
            stream_id: Set(stream_id.to_owned()),
            id: Set(o.id),
            data: Set(o.data),
            created_at: Set(now),
        });
        if rows.len() >= ROWS_PER_INSERT || bytes >= BYTES_PER_INSERT {
            inserted += insert(db, std::mem::take(&mut rows)).await?;
            bytes = 0;
        }
    }
    inserted += insert(db, rows).await?;
    Ok(inserted)
}

async fn insert<C: ConnectionTrait>(db: &C, rows: Vec<object::ActiveModel>) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let result = object::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([object::Column::StreamId, object::Column::Id])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match result {
        Ok(n) => Ok(n),
        Err(DbErr::RecordNotInserted) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Which of `ids` the project holds.
pub async fn existing<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    ids: &[String],
) -> Result<HashSet<String>, DbErr> {
    let stream_id = stream.as_str();
    let mut found = HashSet::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows: Vec<String> = object::Entity::find()
            .select_only()
            .column(object::Column::Id)
            .filter(object::Column::StreamId.eq(stream_id))
            .filter(object::Column::Id.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// One object's JSON text.
pub async fn single<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    id: &str,
) -> Result<Option<String>, DbErr> {
    let stream_id = stream.as_str();
    object::Entity::find()
        .select_only()
        .column(object::Column::Data)
        .filter(object::Column::StreamId.eq(stream_id))
        .filter(object::Column::Id.eq(id))
        .into_tuple()
        .one(db)
        .await
}

/// `(id, json)` of those of `ids` (at most [`IDS_PER_QUERY`]) that the project holds, ordered
/// by id as Speckle sends them; sorted here, because a database's collation need not be bytewise.
pub async fn fetch<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    ids: &[String],
) -> Result<Vec<(String, String)>, DbErr> {
    let stream_id = stream.as_str();
    let mut rows: Vec<(String, String)> = object::Entity::find()
        .select_only()
        .column(object::Column::Id)
        .column(object::Column::Data)
        .filter(object::Column::StreamId.eq(stream_id))
        .filter(object::Column::Id.is_in(ids.iter().map(String::as_str)))
        .into_tuple()
        .all(db)
        .await?;
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(rows)
}
