//! Commits: create (on a named branch), update, delete and receive, each queuing its trigger in
//! the caller's transaction. A commit on a branch that does not exist fails before anything is
//! written, so it queues nothing. Payloads name the commit in both of Speckle's vocabularies:
//! the legacy fields as before, plus today's `projectId`, `modelId` and `versionId` (in each
//! commit object and at the top of `event.data`), a superset old receivers do not notice.

use chrono::Utc;
use entity::ids::{CommitId, StreamId, UserId};
use entity::{branch, commit};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::{json, Value};
use streamhooks_worker::outbox::{emit, timestamp, Event, ServerInfo};
use streamhooks_worker::triggers;

use crate::context::error::{Error, Result};
use crate::context::ids::new_id;
use crate::context::validate;
use crate::speckle::service::stream::find as find_stream;

pub fn commit_json(c: &commit::Model, branch_name: &str) -> Value {
    let parents: Option<Value> = c
        .parents
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    json!({
        "id": c.id,
        "streamId": c.stream_id,
        "branchName": branch_name,
        "objectId": c.object_id,
        "message": c.message,
        "authorId": c.author_id,
        "sourceApplication": c.source_application,
        "totalChildrenCount": c.total_children_count,
        "parents": parents,
        "createdAt": timestamp(&c.created_at),
        "projectId": c.stream_id,
        "modelId": c.branch_id,
        "versionId": c.id,
    })
}

/// `event.data` with today's ids of `c` added beside what it carries.
fn with_ids(mut data: Value, c: &commit::Model) -> Value {
    if let Some(m) = data.as_object_mut() {
        m.insert("projectId".into(), json!(c.stream_id));
        m.insert("modelId".into(), json!(c.branch_id));
        m.insert("versionId".into(), json!(c.id));
    }
    data
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    stream: &StreamId,
    id: &CommitId,
) -> Result<(commit::Model, String)> {
    let (stream_id, id) = (stream.as_str(), id.as_str());
    validate::id(stream_id, "stream id")?;
    validate::id(id, "commit id")?;
    match commit::Entity::find_by_id(id.to_owned())
        .find_also_related(branch::Entity)
        .one(db)
        .await?
    {
        Some((c, b)) if c.stream_id == stream_id => Ok((c, b.map(|b| b.name).unwrap_or_default())),
        _ => Err(Error::NotFound {
            code: "COMMIT_NOT_FOUND",
            message: format!(
                "Commit {} not found on stream {}",
                validate::shown(id),
                validate::shown(stream_id)
            ),
        }),
    }
}

pub struct CreateInput {
    pub stream_id: StreamId,
    pub branch_name: String,
    pub object_id: String,
    pub message: Option<String>,
    pub source_application: Option<String>,
    pub total_children_count: Option<i32>,
    pub parents: Option<Vec<String>>,
}

/// Creates a commit; returns it as written and how many events it queued.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    input: CreateInput,
) -> Result<(commit::Model, u64)> {
    find_stream(db, &input.stream_id).await?;
    let user_id = user_id.as_str();
    validate::id(&input.object_id, "objectId")?;
    if input.object_id.trim().is_empty() {
        return Err(Error::bad_input("The objectId must not be empty"));
    }
    if let Some(a) = &input.source_application {
        validate::text(a, "sourceApplication", validate::MAX_LABEL_LEN)?;
    }
    if let Some(m) = &input.message {
        validate::description(m, "commit message")?;
    }
    if let Some(parents) = &input.parents {
        validate::list(parents, "parents", validate::MAX_PARENTS)?;
        for p in parents {
            validate::id(p, "parent commit id")?;
        }
    }
    validate::name(&input.branch_name, "branch name")?;
    let branch_name = input.branch_name.trim().to_lowercase();
    let Some(b) = branch::find_by_name(db, input.stream_id.as_str(), &branch_name).await? else {
        return Err(Error::NotFound {
            code: "BRANCH_NOT_FOUND",
            message: format!(
                "Branch {} not found on stream {}",
                validate::shown(&input.branch_name),
                validate::shown(input.stream_id.as_str())
            ),
        });
    };
    let c = commit::ActiveModel {
        id: Set(new_id()),
        stream_id: Set(input.stream_id.to_string()),
        branch_id: Set(b.id),
        object_id: Set(input.object_id),
        message: Set(input.message),
        author_id: Set(Some(user_id.to_owned())),
        source_application: Set(input.source_application),
        total_children_count: Set(input.total_children_count),
        parents: Set(input
            .parents
            .map(|p| serde_json::to_string(&p).unwrap_or_else(|_| "[]".into()))),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    let ev = Event::new(
        input.stream_id.as_str(),
        user_id,
        triggers::COMMIT_CREATE,
        format!(
            "Commit created on branch {}: {} ({})",
            b.name,
            c.id,
            c.message.as_deref().unwrap_or("")
        ),
        with_ids(
            json!({ "id": c.id, "commit": commit_json(&c, &b.name) }),
            &c,
        ),
    );
    let n = emit(db, server, &ev).await?;
    Ok((c, n))
}

/// Changes the fields given; returns the commit as written and how many events it queued.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    id: &CommitId,
    message: Option<String>,
    new_branch_name: Option<String>,
) -> Result<(commit::Model, u64)> {
    let (old, old_branch) = find(db, stream, id).await?;
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    let mut am: commit::ActiveModel = old.clone().into();
    let mut branch_name = old_branch.clone();
    if let Some(m) = message {
        validate::description(&m, "commit message")?;
        am.message = Set(Some(m));
    }
    if let Some(nb) = new_branch_name {
        validate::name(&nb, "branch name")?;
        let nb = nb.trim().to_lowercase();
        let Some(b) = branch::find_by_name(db, stream_id, &nb).await? else {
            return Err(Error::NotFound {
                code: "BRANCH_NOT_FOUND",
                message: format!(
                    "Branch {} not found on stream {}",
                    validate::shown(&nb),
                    validate::shown(stream_id)
                ),
            });
        };
        am.branch_id = Set(b.id);
        branch_name = b.name;
    }
    let new = am.update(db).await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::COMMIT_UPDATE,
        format!("Commit updated: {id}"),
        with_ids(
            json!({ "old": commit_json(&old, &old_branch), "new": commit_json(&new, &branch_name) }),
            &new,
        ),
    );
    let n = emit(db, server, &ev).await?;
    Ok((new, n))
}

pub async fn delete<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    id: &CommitId,
) -> Result<u64> {
    let (c, branch_name) = find(db, stream, id).await?;
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    commit::Entity::delete_by_id(c.id.clone()).exec(db).await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::COMMIT_DELETE,
        format!("Commit deleted: {id}"),
        with_ids(json!({ "commit": commit_json(&c, &branch_name) }), &c),
    );
    Ok(emit(db, server, &ev).await?)
}

/// A client loaded ("received") a commit; nothing changes but the event is queued.
pub async fn receive<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    id: &CommitId,
    source_application: Option<String>,
    message: Option<String>,
) -> Result<u64> {
    let (c, branch_name) = find(db, stream, id).await?;
    let (user_id, stream_id) = (user_id.as_str(), stream.as_str());
    if let Some(a) = &source_application {
        validate::text(a, "sourceApplication", validate::MAX_LABEL_LEN)?;
    }
    if let Some(m) = &message {
        validate::description(m, "message")?;
    }
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::COMMIT_RECEIVE,
        format!("Commit {id} was received by user {user_id}"),
        with_ids(
            json!({
                "id": c.id,
                "commit": commit_json(&c, &branch_name),
                "sourceApplication": source_application,
                "message": message,
            }),
            &c,
        ),
    );
    Ok(emit(db, server, &ev).await?)
}
