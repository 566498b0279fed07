//! Branches: create, update, delete, each queuing its trigger in the caller's transaction.

use chrono::Utc;
use entity::branch;
use entity::ids::{BranchId, StreamId, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::{json, Value};
use streamhooks_worker::outbox::{emit, timestamp, Event, ServerInfo};
use streamhooks_worker::triggers;

use crate::context::error::{Error, Result};
use crate::context::ids::new_id;
use crate::context::validate;
use crate::speckle::service::stream::find as find_stream;

pub fn branch_json(b: &branch::Model) -> Value {
    json!({
        "id": b.id,
        "streamId": b.stream_id,
        "name": b.name,
        "description": b.description,
        "authorId": b.author_id,
        "createdAt": timestamp(&b.created_at),
        "updatedAt": timestamp(&b.updated_at),
    })
}

/// The branch `id` of `stream_id`, or a clear "not found".
pub async fn find<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    id: &BranchId,
) -> Result<branch::Model> {
    let (stream_id, id) = (stream.as_str(), id.as_str());
    validate::id(stream_id, "stream id")?;
    validate::id(id, "branch id")?;
    match branch::Entity::find_by_id(id.to_owned()).one(db).await? {
        Some(b) if b.stream_id == stream_id => Ok(b),
        _ => Err(Error::NotFound {
            code: "BRANCH_NOT_FOUND",
            message: format!(
                "Branch {} not found on stream {}",
                validate::shown(id),
                validate::shown(stream_id)
            ),
        }),
    }
}

fn check_branch_name(name: &str) -> Result<String> {
    validate::name(name, "branch name")?;
    let name = name.trim().to_lowercase();
    if name.starts_with('/') || name.starts_with('#') || name.contains("//") {
        return Err(Error::bad_input(
            "A branch name cannot start with / or # or contain //",
        ));
    }
    Ok(name)
}

/// Creates a branch; returns it as written and how many events it queued.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    name: &str,
    description: Option<String>,
) -> Result<(branch::Model, u64)> {
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    find_stream(db, stream).await?;
    let name = check_branch_name(name)?;
    if let Some(d) = &description {
        validate::description(d, "branch description")?;
    }
    if branch::find_by_name(db, stream_id, &name).await?.is_some() {
        return Err(Error::bad_input(format!(
            "A branch named {name:?} already exists on this stream"
        )));
    }
    let now = Utc::now();
    let b = branch::ActiveModel {
        id: Set(new_id()),
        stream_id: Set(stream_id.to_owned()),
        name: Set(name.clone()),
        description: Set(description),
        author_id: Set(Some(user_id.to_owned())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::BRANCH_CREATE,
        format!("Branch created: {name}"),
        json!({ "branch": branch_json(&b) }),
    );
    let n = emit(db, server, &ev).await?;
    Ok((b, n))
}

/// Changes the fields given; returns the branch as written and how many events it queued.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    id: &BranchId,
    name: Option<String>,
    description: Option<String>,
) -> Result<(branch::Model, u64)> {
    let old = find(db, stream, id).await?;
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    let mut am: branch::ActiveModel = old.clone().into();
    if let Some(n) = name {
        let n = check_branch_name(&n)?;
        if n != old.name && branch::find_by_name(db, stream_id, &n).await?.is_some() {
            return Err(Error::bad_input(format!(
                "A branch named {n:?} already exists on this stream"
            )));
        }
        am.name = Set(n);
    }
    if let Some(d) = description {
        validate::description(&d, "branch description")?;
        am.description = Set(Some(d));
    }
    am.updated_at = Set(Utc::now());
    let new = am.update(db).await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::BRANCH_UPDATE,
        format!("Branch metadata changed for branch {id}"),
        json!({ "old": branch_json(&old), "new": branch_json(&new) }),
    );
    let n = emit(db, server, &ev).await?;
    Ok((new, n))
}

pub async fn delete<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    id: &BranchId,
) -> Result<u64> {
    let b = find(db, stream, id).await?;
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    if b.name == "main" {
        return Err(Error::bad_input("The main branch cannot be deleted"));
    }
    branch::Entity::delete_by_id(b.id.clone()).exec(db).await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::BRANCH_DELETE,
        format!("Branch deleted: {}", b.name),
        json!({ "branch": branch_json(&b) }),
    );
    Ok(emit(db, server, &ev).await?)
}

/// The legacy `stream.branch(name)`: the branch of `stream_id` so named, else the branch whose id
/// is `name` if it is this stream's (Speckle answers both, since links from today's web app carry
/// model ids where older clients expect branch names), else none.
pub async fn find_by_name_or_id<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    name: &str,
) -> Result<Option<branch::Model>> {
    let stream_id = stream.as_str();
    validate::id(stream_id, "stream id")?;
    validate::name(name, "branch name")?;
    if let Some(b) = branch::find_by_name(db, stream_id, &name.trim().to_lowercase()).await? {
        return Ok(Some(b));
    }
    Ok(branch::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .filter(|b| b.stream_id == stream_id))
}
