//! What each client sends with each corpus document: the variables its components and methods
//! build (read from the client's source beside the document: the Vue component or composable
//! for the web apps, `request.variable_values` for specklepy), with the realistic stream's ids,
//! and the user who sends it. A mutation that destroys or creates something gets a fresh target
//! on the scratch stream for every run, as a user would click on a different row each time.
//! A document this table does not know fails the test, so a refreshed corpus cannot skip one.

use serde_json::{json, Value};
use streamhooks_worker::triggers::TRIGGERS;

use super::world::World;

/// Who sends a document.
pub enum Who {
    Owner,
    /// The stream's second collaborator (for leaving a stream, which its last owner cannot).
    Other,
}

pub struct Run {
    pub who: Who,
    pub vars: Value,
}

fn owner(vars: Value) -> Run {
    Run {
        who: Who::Owner,
        vars,
    }
}

/// The variables for `name` in `corpus`, run number `run` (0 or 1).
pub async fn for_doc(w: &World, corpus: &str, name: &str, run: usize) -> Run {
    let s = w.stream.as_str();
    let main = w.main_branch();
    let (commit, object) = w.newest_commit();
    let (first_commit, _) = &w.commits[0];
    match (corpus, name) {
        ("frontend1", "webhooks") => owner(json!({ "streamId": s })),
        ("frontend1", "webhook") => owner(json!({ "streamId": s, "webhookId": w.webhooks[7] })),
        ("frontend1", "webhookCreate") => owner(json!({ "params": {
            "streamId": w.scratch, "url": "https://hooks.example.com/new", "description": "CI",
            "triggers": ["commit_create", "branch_create"], "enabled": true, "secret": "s3cr3t" } })),
        ("frontend1", "webhookUpdate") => owner(json!({ "params": {
            "id": w.webhooks[3], "streamId": s, "url": "https://hooks.example.com/3",
            "description": "receiver 3 (edited)", "triggers": TRIGGERS, "enabled": true } })),
        ("frontend1", "webhookDelete") => {
            owner(json!({ "params": { "id": w.scratch_hook().await, "streamId": w.scratch } }))
        }
        ("frontend1", "Streams") => owner(json!({ "cursor": null })),
        ("frontend1", "SearchStreams") => owner(json!({ "query": "Golden" })),
        ("frontend1", "Stream" | "StreamSettings" | "ShareableStream") => owner(json!({ "id": s })),
        ("frontend1", "UpdateStreamSettings") => owner(json!({ "input": {
            "id": s, "name": "Golden Nugget 🌻", "description": "The site model",
            "isPublic": true, "isDiscoverable": false, "allowPublicComments": true } })),
        ("frontend1", "UpdateStreamPermission") => owner(json!({ "params": {
            "streamId": s, "userId": w.other.id, "role": "stream:contributor" } })),
        ("frontend1", "LeaveStream") => {
            w.invite_other_to_scratch().await;
            Run {
                who: Who::Other,
                vars: json!({ "streamId": w.scratch }),
            }
        }
        ("frontend1", "DeleteStream") => owner(json!({ "id": w.doomed_stream().await })),
        ("frontend1", "StreamWithBranch") => {
            owner(json!({ "streamId": s, "branchName": "main", "cursor": null }))
        }
        ("frontend1", "StreamAllBranches") => owner(json!({ "streamId": s, "cursor": null })),
        ("frontend1", "StreamBranchesSelector") => owner(json!({ "streamId": s })),
        ("frontend1", "StreamCommitQuery") => owner(json!({ "streamId": s, "id": commit })),
        ("frontend1", "StreamCommits" | "StreamFirstCommit") => owner(json!({ "id": s })),
        ("frontend1", "StreamBranchFirstCommit") => {
            owner(json!({ "id": s, "branch": "design/options" }))
        }
        ("frontend1", "MoveCommits") => {
            let (c, _) = w.commit(&w.scratch, "main", 100 + run).await;
            owner(json!({ "input": { "streamId": w.scratch, "commitIds": [c],
                "targetBranch": "moved/by the first web app" } }))
        }
        ("frontend1", "DeleteCommits") => {
            let (c, _) = w.commit(&w.scratch, "main", 200 + run).await;
            owner(json!({ "input": { "streamId": w.scratch, "commitIds": [c] } }))
        }
        ("frontend1", "StreamObject" | "StreamObjectNoData") => {
            owner(json!({ "streamId": s, "id": object }))
        }
        ("frontend1", "UserById" | "UserProfile") => owner(json!({ "id": w.other.id })),
        // The stream creation dialog's collaborator picker.
        ("frontend1", "UserSearch") => owner(json!({ "query": "Otto", "limit": 10 })),
        (
            "frontend1",
            "MainUserData"
            | "ProfileSelf"
            | "IsLoggedIn"
            | "EmailVerificationBannerState"
            | "MainServerInfo"
            | "FullServerInfo"
            | "ServerInfoBlobSizeLimit"
            | "AvailableServerRoles",
        ) => owner(json!({})),

        ("frontend2", "ProjectWebhooks" | "CanViewProjectWebhooks" | "CanViewProjectSettings")
        | ("frontend2", "CanViewProjectTokens" | "ProjectModelsPage")
        | ("frontend2", "ProjectDiscussionsPage" | "projectWorkspaceAccessCheck") => {
            owner(json!({ "projectId": s }))
        }
        ("frontend2", "createWebhook") => owner(json!({ "webhook": {
            "description": "CI", "url": "https://hooks.example.com/new", "secret": "s3cr3t",
            "streamId": w.scratch, "triggers": TRIGGERS, "enabled": true } })),
        ("frontend2", "updateWebhook") => owner(json!({ "webhook": {
            "id": w.webhooks[5], "streamId": s, "url": "https://hooks.example.com/5",
            "description": "receiver 5 (edited)", "secret": null, "triggers": TRIGGERS } })),
        ("frontend2", "deleteWebhook") => owner(json!({ "webhook": {
            "id": w.scratch_hook().await, "streamId": w.scratch } })),
        ("frontend2", "ProjectAccessCheck") => owner(json!({ "id": s })),
        ("frontend2", "ProjectPageQuery") => owner(json!({ "id": s, "token": null })),
        ("frontend2", "ProjectModelCheck") => owner(json!({ "projectId": s, "modelId": main })),
        ("frontend2", "UpdateProjectMetadata") => owner(json!({ "update": {
            "id": s, "name": "Golden Nugget 🌻", "description": "The site model, edited" } })),
        ("frontend2", "UpdateProjectRole") => owner(json!({ "input": {
            "projectId": s, "userId": w.other.id, "role": "stream:contributor" } })),
        ("frontend2", "LeaveProject") => {
            w.invite_other_to_scratch().await;
            Run {
                who: Who::Other,
                vars: json!({ "projectId": w.scratch }),
            }
        }
        ("frontend2", "DeleteProject") => owner(json!({ "id": w.doomed_stream().await })),
        ("frontend2", "ProjectModelsSelectorValues") => {
            owner(json!({ "projectId": s, "cursor": null }))
        }
        ("frontend2", "SearchProjectModels") => owner(json!({ "projectId": s, "search": "le" })),
        ("frontend2", "DeleteModel") => {
            let id = w.scratch_branch(&format!("doomed/{run}")).await;
            owner(json!({ "input": { "id": id, "projectId": w.scratch } }))
        }
        ("frontend2", "UpdateVersion") => owner(json!({ "input": {
            "projectId": s, "versionId": first_commit, "message": "Level 0, checked" } })),
        ("frontend2", "MoveVersions") => {
            let (c, _) = w.commit(&w.scratch, "main", 300 + run).await;
            owner(
                json!({ "input": { "projectId": w.scratch, "versionIds": [c],
                "targetModelName": "moved/by the web app" } }),
            )
        }
        ("frontend2", "DeleteVersions") => {
            let (c, _) = w.commit(&w.scratch, "main", 400 + run).await;
            owner(json!({ "input": { "projectId": w.scratch, "versionIds": [c] } }))
        }
        ("frontend2", "ViewerModelVersions") => owner(json!({
            "projectId": s, "modelId": main, "versionsCursor": null })),
        ("frontend2", "ViewerDiffVersions") => owner(json!({ "projectId": s, "modelId": main,
            "versionAId": w.commits[0].0, "versionBId": w.commits[1].0 })),
        ("frontend2", "ViewerRawProjectObject") => {
            owner(json!({ "projectId": s, "objectId": object }))
        }
        ("frontend2", "LegacyBranchRedirectMetadata") => {
            owner(json!({ "streamId": s, "branchName": "design/options" }))
        }
        ("frontend2", "LegacyViewerCommitRedirectMetadata") => {
            owner(json!({ "streamId": s, "commitId": commit }))
        }
        ("frontend2", "LegacyViewerStreamRedirectMetadata") => owner(json!({ "streamId": s })),
        ("frontend2", "ActiveUserProjectsToMove") => owner(json!({ "filter": {
            "personalOnly": true, "onlyWithRoles": ["stream:owner"] } })),
        ("frontend2", "SearchProjects") => owner(json!({ "search": "Golden" })),
        ("frontend2", "UpdateUser") => owner(json!({ "input": {
            "name": "Owner Olga", "bio": "Structures", "company": "Acme Engineering" } })),
        ("frontend2", "MentionsUserSearch") => owner(json!({ "query": "Ott", "projectId": s })),
        ("frontend2", "InviteUserSearch") => owner(json!({ "input": {
            "query": "otto@example.com", "limit": 20, "cursor": null } })),
        ("frontend2", "CreateAccessToken") => owner(json!({ "token": {
            "name": "CI", "scopes": ["streams:read"], "lifespan": 2_592_000_000_i64 } })),
        ("frontend2", "DeleteAccessToken") => {
            let d = w
                .ok(
                    "mutation { apiTokenCreate(token: {name: \"old\", scopes: [\"streams:read\"]}) }",
                    json!({}),
                )
                .await;
            let token = d["apiTokenCreate"].as_str().unwrap_or_default();
            owner(json!({ "token": token.chars().take(10).collect::<String>() }))
        }
        (
            "frontend2",
            "ActiveUserMainMetadata"
            | "UserActiveWorkspaceSlug"
            | "UserEmails"
            | "UseCanCreateWorkspace"
            | "MainServerInfoData"
            | "AuthLoginPanel"
            | "ServerInfoAllScopes"
            | "ServerInfoBlobSizeLimit"
            | "ServerInfoEmailVerificationTimeout"
            | "ServerSettingsDialogData",
        ) => owner(json!({})),

        ("specklepy", n) => specklepy(w, n, run).await,
        _ => panic!("no variables for {corpus}/{name}: add what the client sends"),
    }
}

/// specklepy 2026.9.1's methods, as `request.variable_values` builds them (pydantic inputs are
/// sent whole, unset fields as null).
async fn specklepy(w: &World, name: &str, run: usize) -> Run {
    let s = w.stream.as_str();
    let main = w.main_branch();
    let (commit, object) = w.newest_commit();
    match name {
        "active_user.get"
        | "active_user.get_project_invites"
        | "active_user.can_create_personal_projects"
        | "active_user.get_active_workspace"
        | "server.get"
        | "server.version"
        | "server.apps" => owner(json!({})),
        "active_user.update" => owner(json!({ "input": {
            "name": "Owner Olga", "company": "Acme Engineering", "bio": null, "avatar": null } })),
        "active_user.get_projects" | "active_user.get_projects_with_permissions" => {
            owner(json!({ "limit": 25, "cursor": null, "filter": null }))
        }
        "other_user.get" => owner(json!({ "id": w.other.id })),
        "other_user.user_search" => owner(json!({ "query": "otto", "limit": 25, "cursor": null,
            "archived": false, "emailOnly": false })),
        "project.get" | "project.get_permissions" | "project.get_with_team" => {
            owner(json!({ "projectId": s }))
        }
        "project.get_with_models" | "model.get_models" => owner(json!({ "projectId": s,
            "modelsLimit": 25, "modelsCursor": null, "modelsFilter": null })),
        "project.create" => owner(json!({ "input": {
            "name": "From specklepy", "description": null, "visibility": "PRIVATE" } })),
        "project.update" => owner(json!({ "input": { "id": s, "name": null,
            "description": "Updated by specklepy", "allowPublicComments": null, "visibility": null } })),
        "project.delete" => owner(json!({ "projectId": w.doomed_stream().await })),
        "project.update_role" => owner(json!({ "input": {
            "userId": w.other.id, "projectId": s, "role": "stream:contributor" } })),
        "model.get" | "model.get_permissions" => owner(json!({ "projectId": s, "modelId": main })),
        "model.get_with_versions" => owner(json!({ "projectId": s, "modelId": main,
            "versionsLimit": 25, "versionsCursor": null, "versionsFilter": null })),
        "model.create" => owner(json!({ "input": { "name": format!("specklepy/{run}"),
            "description": null, "projectId": w.scratch } })),
        "model.update" => owner(json!({ "input": { "id": w.branches[1].0, "name": null,
            "description": "Options, by specklepy", "projectId": s } })),
        "model.delete" => {
            let id = w.scratch_branch(&format!("specklepy doomed/{run}")).await;
            owner(json!({ "input": { "id": id, "projectId": w.scratch } }))
        }
        "version.get" => owner(json!({ "projectId": s, "versionId": commit })),
        "version.get_versions" => owner(json!({ "projectId": s, "modelId": main, "limit": 25,
            "cursor": null, "filter": null })),
        "version.create" => owner(json!({ "input": { "objectId": object, "modelId": main,
            "projectId": s, "message": "From specklepy", "sourceApplication": "py",
            "totalChildrenCount": 0, "parents": null } })),
        "version.update" => owner(json!({ "input": {
            "versionId": commit, "projectId": s, "message": "Checked by specklepy" } })),
        "version.move_to_model" => {
            let (c, _) = w.commit(&w.scratch, "main", 500 + run).await;
            owner(
                json!({ "input": { "projectId": w.scratch, "versionIds": [c],
                "targetModelName": "moved/by specklepy" } }),
            )
        }
        "version.delete" => {
            let (c, _) = w.commit(&w.scratch, "main", 600 + run).await;
            owner(json!({ "input": { "projectId": w.scratch, "versionIds": [c] } }))
        }
        "version.received" => owner(json!({ "input": { "projectId": s, "versionId": commit,
            "sourceApplication": "py", "message": "Received by specklepy" } })),
        "server.create_token" => owner(json!({ "token": {
            "scopes": ["streams:read"], "name": "specklepy", "lifespan": null } })),
        "server.revoke_token" => {
            let d = w
                .ok(
                    "mutation { apiTokenCreate(token: {name: \"old\", scopes: [\"streams:read\"]}) }",
                    json!({}),
                )
                .await;
            owner(json!({ "token": d["apiTokenCreate"] }))
        }
        _ => panic!("no variables for specklepy/{name}: add what specklepy sends"),
    }
}
