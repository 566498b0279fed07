//! Speckle's permission checks (`Project.permissions`, `Model.permissions`, `Version.permissions`,
//! `User.permissions`), answered as its `PermissionCheckResult` (`authorized`, `code`,
//! `message`, `payload`, `errorMessage`) with Speckle's codes and messages.
//!
//! The one decision to know: every answer is *this server's* rule, decided from the caller's
//! role on the project and their token's scopes exactly as the mutations enforce them (so an
//! authorized `canReadWebhooks` means `project.webhooks` will answer, and a refused one that it
//! will not). Where Speckle's rule differs from ours (its `canLoad` wants a contributor, its
//! model delete wants the author or an owner) ours is what is reported, because it is what
//! happens. Features this server does not have (workspaces, embed tokens, renders, invites, ACC
//! integrations) answer `authorized: false` with a code saying so. The rule for reading a project
//! that `project(id)`, `stream(id)` and `users(projectId)` enforce is here too
//! (`readable_stream`).

use async_graphql::{Context, Object, SimpleObject};
use entity::ids::StreamId;
use entity::stream;
use entity::stream_acl::{ROLE_CONTRIBUTOR, ROLE_OWNER, ROLE_REVIEWER};

use crate::context::auth::{role_rank, SCOPE_STREAMS_READ, SCOPE_STREAMS_WRITE};
use crate::context::error::Result;
use crate::context::resolver::{auth, state};
use crate::context::scalars::JsonObject;
use crate::speckle::service;

#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct PermissionCheckResult {
    pub authorized: bool,
    pub code: String,
    pub message: String,
    pub payload: Option<JsonObject>,
    /// Same as message, or null if the check is authorized.
    pub error_message: Option<String>,
}

/// Why a check fails: Speckle's error code and a sentence.
#[derive(Debug, PartialEq)]
pub struct Denied(&'static str, String);

type Check = std::result::Result<(), Denied>;

impl From<Check> for PermissionCheckResult {
    fn from(c: Check) -> Self {
        match c {
            Ok(()) => Self {
                authorized: true,
                code: "OK".into(),
                message: "OK".into(),
                payload: None,
                error_message: None,
            },
            Err(Denied(code, message)) => Self {
                authorized: false,
                code: code.into(),
                error_message: Some(message.clone()),
                message,
                payload: None,
            },
        }
    }
}

fn denied(code: &'static str, message: &str) -> Check {
    Err(Denied(code, message.to_owned()))
}

/// What the checks on one project are decided on, read once.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub signed_in: bool,
    pub scopes: Vec<String>,
    /// The caller's role on the project, if any.
    pub role: Option<String>,
    pub is_public: bool,
}

impl Access {
    /// The caller's access to the project `stream_id`.
    pub async fn load(ctx: &Context<'_>, stream_id: &str, is_public: bool) -> Result<Self> {
        let a = auth(ctx);
        let role = match &a.user {
            Some(u) => entity::stream_acl::role_of(&state(ctx).db, stream_id, &u.id).await?,
            None => None,
        };
        Ok(Self {
            signed_in: a.user.is_some(),
            scopes: a.scopes.clone(),
            role,
            is_public,
        })
    }

    fn signed_in(&self) -> Check {
        if self.signed_in {
            Ok(())
        } else {
            denied("ServerNoSession", "You are not logged in to this server")
        }
    }

    fn scope(&self, scope: &str) -> Check {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(Denied(
                "ProjectNotEnoughPermissions",
                format!("Your token does not have the {scope} scope this needs"),
            ))
        }
    }

    /// A role of at least `min_role` on the project and `scope` on the token.
    pub fn member(&self, min_role: &str, scope: &str) -> Check {
        self.signed_in()?;
        match &self.role {
            None => denied("ProjectNoAccess", "You do not have access to the project")?,
            Some(r) if role_rank(r) < role_rank(min_role) => denied(
                "ProjectNotEnoughPermissions",
                "You do not have enough permissions in the project to perform this action",
            )?,
            Some(_) => {}
        }
        self.scope(scope)
    }

    /// Public projects are readable by anyone; private ones by members with `streams:read`.
    pub fn read(&self) -> Check {
        if self.is_public {
            return Ok(());
        }
        self.member(ROLE_REVIEWER, SCOPE_STREAMS_READ)
    }

    pub fn owner_write(&self) -> Check {
        self.member(ROLE_OWNER, SCOPE_STREAMS_WRITE)
    }

    pub fn contributor_write(&self) -> Check {
        self.member(ROLE_CONTRIBUTOR, SCOPE_STREAMS_WRITE)
    }
}

/// Reads need: a public stream, or a role on it and a token with `streams:read`.
pub(crate) async fn readable_stream(ctx: &Context<'_>, id: &StreamId) -> Result<stream::Model> {
    let st = state(ctx);
    let s = service::stream::find(&st.db, id).await?;
    if s.is_public {
        return Ok(s);
    }
    auth(ctx)
        .require_stream_role(&st.db, id, ROLE_REVIEWER, SCOPE_STREAMS_READ)
        .await?;
    Ok(s)
}

fn not_enabled(code: &'static str, what: &str) -> PermissionCheckResult {
    Check::Err(Denied(code, format!("This server does not support {what}"))).into()
}

pub struct ProjectPermissionChecks {
    pub project_id: StreamId,
    pub access: Access,
}

#[Object]
impl ProjectPermissionChecks {
    async fn can_create_model(&self) -> PermissionCheckResult {
        self.access.contributor_write().into()
    }

    async fn can_move_to_workspace(
        &self,
        #[graphql(name = "workspaceId")] _workspace_id: Option<String>,
    ) -> PermissionCheckResult {
        not_enabled("WorkspacesNotEnabled", "workspaces")
    }

    async fn can_read(&self) -> PermissionCheckResult {
        self.access.read().into()
    }

    async fn can_update(&self) -> PermissionCheckResult {
        self.access.owner_write().into()
    }

    async fn can_delete(&self) -> PermissionCheckResult {
        self.access.owner_write().into()
    }

    async fn can_update_allow_public_comments(&self) -> PermissionCheckResult {
        let c = self.access.owner_write().and_then(|()| {
            if self.access.is_public {
                Ok(())
            } else {
                denied(
                    "ProjectNoAccess",
                    "Project must be public to allow public comments",
                )
            }
        });
        c.into()
    }

    async fn can_read_settings(&self) -> PermissionCheckResult {
        self.access.member(ROLE_REVIEWER, SCOPE_STREAMS_READ).into()
    }

    /// Webhooks are listed and changed by owners with `streams:write`.
    async fn can_read_webhooks(&self) -> PermissionCheckResult {
        self.access.owner_write().into()
    }

    /// Members may leave, except the last owner.
    async fn can_leave(&self, ctx: &Context<'_>) -> Result<PermissionCheckResult> {
        let a = &self.access;
        let c = a.signed_in().and_then(|()| match a.role.as_deref() {
            None => denied("ProjectNoAccess", "You must be a project member to leave"),
            Some(_) => Ok(()),
        });
        if c.is_ok() && a.role.as_deref() == Some(ROLE_OWNER) {
            let owners = service::project::owner_count(&state(ctx).db, &self.project_id).await?;
            if owners < 2 {
                return Ok(Check::Err(Denied(
                    "ProjectLastOwner",
                    "As the last owner of the project, you cannot leave".into(),
                ))
                .into());
            }
        }
        Ok(c.into())
    }

    async fn can_request_render(&self) -> PermissionCheckResult {
        not_enabled("RenderRequestsNotEnabled", "render requests")
    }

    async fn can_publish(&self) -> PermissionCheckResult {
        self.access.contributor_write().into()
    }

    /// Loading a version's objects needs read access, as the object API enforces it.
    async fn can_load(&self) -> PermissionCheckResult {
        self.access.read().into()
    }

    /// There are no invitations here; an owner grants roles with `projectMutations.updateRole`.
    async fn can_invite(&self) -> PermissionCheckResult {
        not_enabled("ProjectInvitesNotEnabled", "project invitations")
    }

    async fn can_create_embed_tokens(&self) -> PermissionCheckResult {
        not_enabled("EmbedTokensNotEnabled", "embed tokens")
    }

    async fn can_revoke_embed_tokens(&self) -> PermissionCheckResult {
        not_enabled("EmbedTokensNotEnabled", "embed tokens")
    }

    async fn can_read_embed_tokens(&self) -> PermissionCheckResult {
        not_enabled("EmbedTokensNotEnabled", "embed tokens")
    }

    async fn can_read_acc_integration_settings(&self) -> PermissionCheckResult {
        not_enabled(
            "AccIntegrationNotEnabled",
            "Autodesk Construction Cloud integrations",
        )
    }
}

pub struct ModelPermissionChecks {
    pub access: Access,
    pub model_name: String,
}

#[Object]
impl ModelPermissionChecks {
    async fn can_update(&self) -> PermissionCheckResult {
        self.access.contributor_write().into()
    }

    /// Contributors may delete any model but `main`, as `branchDelete` allows.
    async fn can_delete(&self) -> PermissionCheckResult {
        let c = self.access.contributor_write().and_then(|()| {
            if self.model_name == "main" {
                denied(
                    "ReservedModelNotDeletable",
                    "The 'main' model cannot be deleted",
                )
            } else {
                Ok(())
            }
        });
        c.into()
    }

    async fn can_create_version(&self) -> PermissionCheckResult {
        self.access.contributor_write().into()
    }
}

pub struct VersionPermissionChecks {
    pub access: Access,
}

#[Object]
impl VersionPermissionChecks {
    async fn can_update(&self) -> PermissionCheckResult {
        self.access.contributor_write().into()
    }

    /// Marking a version received needs a role and `streams:read`, as `commitReceive` does.
    async fn can_receive(&self) -> PermissionCheckResult {
        self.access.member(ROLE_REVIEWER, SCOPE_STREAMS_READ).into()
    }
}

/// `User.permissions`: what the caller may do outside any project.
pub struct RootPermissionChecks {
    pub access: Access,
}

#[Object]
impl RootPermissionChecks {
    async fn can_create_personal_project(&self) -> PermissionCheckResult {
        let a = &self.access;
        let c = a.signed_in().and_then(|()| {
            if a.scopes.iter().any(|s| s == SCOPE_STREAMS_WRITE) {
                Ok(())
            } else {
                Err(Denied(
                    "ServerNotEnoughPermissions",
                    format!("Your token does not have the {SCOPE_STREAMS_WRITE} scope this needs"),
                ))
            }
        });
        c.into()
    }

    async fn can_create_workspace(&self) -> PermissionCheckResult {
        not_enabled("WorkspacesNotEnabled", "workspaces")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(role: Option<&str>, scopes: &[&str], is_public: bool) -> Access {
        Access {
            signed_in: true,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            role: role.map(str::to_owned),
            is_public,
        }
    }

    const ALL: [&str; 2] = [SCOPE_STREAMS_READ, SCOPE_STREAMS_WRITE];

    #[test]
    fn owners_with_write_scope_may_manage_webhooks_and_no_one_else() {
        assert_eq!(access(Some(ROLE_OWNER), &ALL, false).owner_write(), Ok(()));
        let contributor = access(Some(ROLE_CONTRIBUTOR), &ALL, true).owner_write();
        assert!(matches!(
            contributor,
            Err(Denied("ProjectNotEnoughPermissions", _))
        ));
        let stranger = access(None, &ALL, true).owner_write();
        assert!(matches!(stranger, Err(Denied("ProjectNoAccess", _))));
        let read_only_token = access(Some(ROLE_OWNER), &[SCOPE_STREAMS_READ], false).owner_write();
        assert!(matches!(read_only_token, Err(Denied(_, m)) if m.contains("streams:write")));
        let anonymous = Access::default().owner_write();
        assert!(matches!(anonymous, Err(Denied("ServerNoSession", _))));
    }

    #[test]
    fn public_projects_are_readable_by_anyone_private_ones_by_members() {
        assert_eq!(
            Access {
                is_public: true,
                ..Access::default()
            }
            .read(),
            Ok(())
        );
        assert!(Access::default().read().is_err());
        assert_eq!(access(Some(ROLE_REVIEWER), &ALL, false).read(), Ok(()));
        assert!(access(Some(ROLE_REVIEWER), &[], false).read().is_err());
    }

    #[test]
    fn denied_results_carry_the_message_twice_and_ok_none() {
        let r = PermissionCheckResult::from(Access::default().owner_write());
        assert!(!r.authorized);
        assert_eq!(r.error_message.as_deref(), Some(r.message.as_str()));
        let ok = PermissionCheckResult::from(Ok(()));
        assert!(ok.authorized && ok.code == "OK" && ok.error_message.is_none());
    }
}
