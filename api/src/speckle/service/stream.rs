//! Streams and their roles: create (with its `main` branch, as Speckle does), update, delete and
//! permission changes. Each change that has a trigger queues its webhook events through
//! [`emit`] on the same connection, so callers run these inside one transaction: the change and its
//! events commit together or not at all.

use chrono::Utc;
use entity::ids::{StreamId, UserId};
use entity::{stream, stream_acl, user};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::json;
use streamhooks_worker::outbox::{emit, stream_json, Event, ServerInfo};
use streamhooks_worker::triggers;

use crate::context::error::{Error, Result};
use crate::context::ids::new_id;
use crate::context::validate;

pub async fn find<C: ConnectionTrait>(db: &C, id: &StreamId) -> Result<stream::Model> {
    validate::id(id.as_str(), "stream id")?;
    stream::Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .ok_or_else(Error::stream_not_found)
}

pub struct CreateInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

/// Creates a stream owned by `owner` with a `main` branch; returns its id.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    owner: &user::Model,
    input: CreateInput,
) -> Result<StreamId> {
    let name = input.name.unwrap_or_else(|| "Untitled stream".to_owned());
    validate::name(&name, "stream name")?;
    if let Some(d) = &input.description {
        validate::description(d, "stream description")?;
    }
    let now = Utc::now();
    let id = new_id();
    stream::ActiveModel {
        id: Set(id.clone()),
        name: Set(name),
        description: Set(input.description),
        is_public: Set(input.is_public.unwrap_or(true)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    stream_acl::ActiveModel {
        stream_id: Set(id.clone()),
        user_id: Set(owner.id.clone()),
        role: Set(stream_acl::ROLE_OWNER.to_owned()),
    }
    .insert(db)
    .await?;
    entity::branch::ActiveModel {
        id: Set(new_id()),
        stream_id: Set(id.clone()),
        name: Set("main".to_owned()),
        description: Set(Some("default branch".to_owned())),
        author_id: Set(Some(owner.id.clone())),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(StreamId::from(id))
}

pub struct UpdateInput {
    pub id: StreamId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
    /// Today's API only (`ProjectUpdateInput.allowPublicComments`); the legacy input has none.
    pub allow_public_comments: Option<bool>,
}

/// Applies the fields given; queues `stream_update` with `{old, new}` (both whole streams).
pub async fn update<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    input: UpdateInput,
) -> Result<u64> {
    let old = find(db, &input.id).await?;
    let mut am: stream::ActiveModel = old.clone().into();
    if let Some(n) = input.name {
        validate::name(&n, "stream name")?;
        am.name = Set(n);
    }
    if let Some(d) = input.description {
        validate::description(&d, "stream description")?;
        am.description = Set(Some(d));
    }
    if let Some(p) = input.is_public {
        am.is_public = Set(p);
    }
    am.updated_at = Set(Utc::now());
    let new = am.update(db).await?;
    // A project made private stops allowing public comments.
    let allow = match input.allow_public_comments {
        None if old.is_public && !new.is_public => Some(false),
        a => a,
    };
    if let Some(allow) = allow {
        set_allow_public_comments(db, &new, allow).await?;
    }
    let ev = Event {
        stream: Some(stream_json(&new)),
        ..Event::new(
            &new.id,
            user_id.as_str(),
            triggers::STREAM_UPDATE,
            "Stream metadata changed".to_owned(),
            json!({ "old": stream_json(&old), "new": stream_json(&new) }),
        )
    };
    Ok(emit(db, server, &ev).await?)
}

/// Public comments make sense only where the public can read (Speckle's rule too).
async fn set_allow_public_comments<C: ConnectionTrait>(
    db: &C,
    s: &stream::Model,
    allow: bool,
) -> Result<()> {
    if allow && !s.is_public {
        return Err(Error::bad_input(
            "Only a public project can allow public comments; make it PUBLIC first",
        ));
    }
    entity::project_settings::ActiveModel {
        id: Set(s.id.clone()),
        allow_public_comments: Set(allow),
    }
    .update(db)
    .await?;
    Ok(())
}

/// Deletes a stream (roles, branches and commits cascade). `stream_delete` is queued first, while
/// the stream can still be described; webhook configs have no foreign key to the stream, so they
/// and their queued events survive until delivered.
pub async fn delete<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    id: &StreamId,
) -> Result<u64> {
    let s = find(db, id).await?;
    let ev = Event {
        stream: Some(stream_json(&s)),
        ..Event::new(
            &s.id,
            user_id.as_str(),
            triggers::STREAM_DELETE,
            "Stream deleted".to_owned(),
            json!({ "stream": stream_json(&s) }),
        )
    };
    let n = emit(db, server, &ev).await?;
    stream::Entity::delete_by_id(s.id).exec(db).await?;
    Ok(n)
}

/// Grants or changes `target_user`'s role; queues `stream_permissions_add`.
pub async fn grant<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    target: &UserId,
    role: &str,
) -> Result<u64> {
    let (user_id, stream_id, target_user) = (user_id.as_str(), stream.as_str(), target.as_str());
    validate::id(target_user, "user id")?;
    if !stream_acl::ROLES.contains(&role) {
        return Err(Error::bad_input(format!(
            "Unknown role {}; valid roles are: {}",
            validate::shown(role),
            stream_acl::ROLES.join(", ")
        )));
    }
    find(db, stream).await?;
    if user::Entity::find_by_id(target_user.to_owned())
        .one(db)
        .await?
        .is_none()
    {
        return Err(Error::bad_input(format!(
            "No user with id {}",
            validate::shown(target_user)
        )));
    }
    if target_user == user_id && role != stream_acl::ROLE_OWNER {
        ensure_other_owner(db, stream_id, user_id).await?;
    }
    let existing = stream_acl::Entity::find_by_id((stream_id.to_owned(), target_user.to_owned()))
        .one(db)
        .await?;
    match existing {
        Some(e) => {
            let mut am: stream_acl::ActiveModel = e.into();
            am.role = Set(role.to_owned());
            am.update(db).await?;
        }
        None => {
            stream_acl::ActiveModel {
                stream_id: Set(stream_id.to_owned()),
                user_id: Set(target_user.to_owned()),
                role: Set(role.to_owned()),
            }
            .insert(db)
            .await?;
        }
    }
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::STREAM_PERMISSIONS_ADD,
        format!("Permission granted to user {target_user} ({role})"),
        json!({ "targetUser": target_user, "role": role }),
    );
    Ok(emit(db, server, &ev).await?)
}

/// Removes `target_user`'s role; queues `stream_permissions_remove`.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    user_id: &UserId,
    stream: &StreamId,
    target: &UserId,
) -> Result<u64> {
    let (user_id, stream_id, target_user) = (user_id.as_str(), stream.as_str(), target.as_str());
    find(db, stream).await?;
    validate::id(target_user, "user id")?;
    let Some(existing) =
        stream_acl::Entity::find_by_id((stream_id.to_owned(), target_user.to_owned()))
            .one(db)
            .await?
    else {
        return Err(Error::bad_input(format!(
            "User {} has no role on this stream",
            validate::shown(target_user)
        )));
    };
    if existing.role == stream_acl::ROLE_OWNER {
        ensure_other_owner(db, stream_id, target_user).await?;
    }
    let role = existing.role.clone();
    stream_acl::Entity::delete_by_id((stream_id.to_owned(), target_user.to_owned()))
        .exec(db)
        .await?;
    let ev = Event::new(
        stream_id,
        user_id,
        triggers::STREAM_PERMISSIONS_REMOVE,
        format!("Permission revoked for user {target_user} (previous: {role})"),
        json!({ "targetUser": target_user, "role": role }),
    );
    Ok(emit(db, server, &ev).await?)
}

/// A stream must keep an owner: refuse to demote or remove the last one.
async fn ensure_other_owner<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    leaving: &str,
) -> Result<()> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let others = stream_acl::Entity::find()
        .filter(stream_acl::Column::StreamId.eq(stream_id))
        .filter(stream_acl::Column::Role.eq(stream_acl::ROLE_OWNER))
        .filter(stream_acl::Column::UserId.ne(leaving))
        .count(db)
        .await?;
    if others == 0 {
        return Err(Error::bad_input(
            "A stream needs at least one owner; make someone else owner first",
        ));
    }
    Ok(())
}
