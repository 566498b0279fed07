//! The event names a webhook can subscribe to: Speckle's whole list (`WebhookTriggers` in
//! `@speckle/shared`), unchanged, because receivers switch on `payload.event.event_name` and the
//! Speckle web app's trigger picker offers all of them. Today's API generation fires the same names
//! (`projectMutations.update` fires `stream_update`, `versionMutations.create` `commit_create`, …).
//! The `comment_*` triggers are accepted and stored; they fire if this server ever has comments.

pub const STREAM_UPDATE: &str = "stream_update";
pub const STREAM_DELETE: &str = "stream_delete";
pub const BRANCH_CREATE: &str = "branch_create";
pub const BRANCH_UPDATE: &str = "branch_update";
pub const BRANCH_DELETE: &str = "branch_delete";
pub const COMMIT_CREATE: &str = "commit_create";
pub const COMMIT_UPDATE: &str = "commit_update";
pub const COMMIT_RECEIVE: &str = "commit_receive";
pub const COMMIT_DELETE: &str = "commit_delete";
pub const STREAM_PERMISSIONS_ADD: &str = "stream_permissions_add";
pub const STREAM_PERMISSIONS_REMOVE: &str = "stream_permissions_remove";
pub const COMMENT_CREATED: &str = "comment_created";
pub const COMMENT_ARCHIVED: &str = "comment_archived";
pub const COMMENT_REPLIED: &str = "comment_replied";

/// In Speckle's order.
pub const TRIGGERS: [&str; 14] = [
    STREAM_UPDATE,
    STREAM_DELETE,
    BRANCH_CREATE,
    BRANCH_UPDATE,
    BRANCH_DELETE,
    COMMIT_CREATE,
    COMMIT_UPDATE,
    COMMIT_RECEIVE,
    COMMIT_DELETE,
    COMMENT_CREATED,
    COMMENT_ARCHIVED,
    COMMENT_REPLIED,
    STREAM_PERMISSIONS_ADD,
    STREAM_PERMISSIONS_REMOVE,
];

pub fn is_trigger(name: &str) -> bool {
    TRIGGERS.contains(&name)
}
