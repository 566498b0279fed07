//! Test deliveries: a ping sends a sample event of a chosen trigger to one webhook now (like
//! GitHub's ping and seed 003's "Webhook Validate"), and a redelivery sends an existing event's
//! payload again. Both become ordinary rows in the webhook's history, signed and recorded like any
//! other, marked `manual` so they reach a webhook that is still disabled.

use chrono::Utc;
use entity::ids::EventId;
use entity::{stream, user, webhook_config, webhook_event, webhook_event_payload};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Value};
use streamhooks_worker::outbox::{self, stream_json, timestamp, user_json, Event, ServerInfo};
use streamhooks_worker::triggers::{self, is_trigger, TRIGGERS};

use crate::context::error::{Error, Result};

const SAMPLE_ID: &str = "0000sample";

/// `event.data` of a sample `trigger` event on `s` by `u`, shaped like the real one and marked
/// `"sample": true` so a receiver can tell.
fn sample_data(trigger: &str, s: &stream::Model, u: &user::Model) -> Value {
    let now = timestamp(&Utc::now());
    let branch = json!({ "id": SAMPLE_ID, "streamId": s.id, "name": "sample-branch", "description": "A sample branch", "authorId": u.id, "createdAt": now, "updatedAt": now });
    let commit = json!({ "id": SAMPLE_ID, "streamId": s.id, "branchName": "main", "objectId": "0000sampleobject", "message": "A sample commit", "authorId": u.id, "sourceApplication": "streamhooks", "totalChildrenCount": 0, "parents": [], "createdAt": now, "projectId": s.id, "modelId": SAMPLE_ID, "versionId": SAMPLE_ID });
    let mut data = match trigger {
        triggers::STREAM_UPDATE => json!({ "old": stream_json(s), "new": stream_json(s) }),
        triggers::STREAM_DELETE => json!({ "stream": stream_json(s) }),
        triggers::BRANCH_CREATE | triggers::BRANCH_DELETE => json!({ "branch": branch }),
        triggers::BRANCH_UPDATE => json!({ "old": branch, "new": branch }),
        triggers::COMMIT_CREATE => json!({ "id": SAMPLE_ID, "commit": commit }),
        triggers::COMMIT_UPDATE => json!({ "old": commit, "new": commit }),
        triggers::COMMIT_RECEIVE => {
            json!({ "id": SAMPLE_ID, "commit": commit, "sourceApplication": "streamhooks", "message": null })
        }
        triggers::COMMIT_DELETE => json!({ "commit": commit }),
        triggers::COMMENT_CREATED | triggers::COMMENT_ARCHIVED | triggers::COMMENT_REPLIED => {
            json!({ "comment": { "id": SAMPLE_ID, "streamId": s.id, "authorId": u.id, "text": "A sample comment", "createdAt": now } })
        }
        _ => json!({ "targetUser": u.id, "role": "stream:reviewer" }),
    };
    if let Some(m) = data.as_object_mut() {
        m.insert("sample".into(), Value::Bool(true));
    }
    data
}

/// Queues a sample `trigger` event (default `stream_update`) to `hook`; returns the event id.
pub async fn ping<C: ConnectionTrait>(
    db: &C,
    server: &ServerInfo,
    caller: &user::Model,
    hook: &webhook_config::Model,
    trigger: Option<&str>,
) -> Result<EventId> {
    let trigger = trigger.unwrap_or(triggers::STREAM_UPDATE);
    if !is_trigger(trigger) {
        return Err(Error::bad_input(format!(
            "Unknown trigger {}; valid triggers are: {}",
            crate::context::validate::shown(trigger),
            TRIGGERS.join(", ")
        )));
    }
    let s = stream::Entity::find_by_id(hook.stream_id.clone())
        .one(db)
        .await?
        .ok_or_else(Error::stream_not_found)?;
    let event = Event {
        stream_id: s.id.clone(),
        user_id: caller.id.clone(),
        event_name: trigger.to_owned(),
        activity_message: format!("Test event ({trigger}) sent to webhook {}", hook.id),
        data: sample_data(trigger, &s, caller),
        stream: Some(stream_json(&s)),
        user: Some(user_json(caller)),
    };
    Ok(EventId::from(
        outbox::queue_manual(db, server, &event, hook).await?,
    ))
}

/// Queues event `event` again, if it belongs to `hook`; returns the new event id.
pub async fn redeliver<C: ConnectionTrait>(
    db: &C,
    hook: &webhook_config::Model,
    event: EventId,
) -> Result<EventId> {
    let id = event.get();
    let not_found = || Error::NotFound {
        code: "WEBHOOK_EVENT_NOT_FOUND",
        message: format!("Webhook {} has no event {id}", hook.id),
    };
    let original = webhook_event::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|e| e.webhook_id == hook.id)
        .ok_or_else(not_found)?;
    let payload = webhook_event_payload::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|p| p.payload)
        .ok_or_else(not_found)?;
    Ok(EventId::from(
        outbox::redeliver(db, &original, hook, payload).await?,
    ))
}
