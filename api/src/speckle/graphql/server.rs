//! `serverInfo`: what this server calls itself (the same values go into every payload's
//! `server`), with the fields today's Speckle clients read on sign-in (`authStrategies`,
//! `workspaces { workspacesEnabled }`, `migration`, …), each answering what is true here: no
//! web sign-in strategies (tokens come from `streamhooks user create`), no workspaces, no
//! relocation, no guests, no email, no blob storage (`configuration`). `apps` lists no
//! third-party apps, because there are none.

use async_graphql::{Context, Object, SimpleObject};

use entity::user::{ROLE_ADMIN, ROLE_USER};

use crate::context::resolver::state;

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ServerInfo {
    name: String,
    description: Option<String>,
    canonical_url: Option<String>,
    version: Option<String>,
    company: Option<String>,
    admin_contact: Option<String>,
    terms_of_service: Option<String>,
    scopes: Vec<ServerScope>,
    /// Accounts are made by an administrator (`streamhooks user create`); nobody signs up.
    invite_only: Option<bool>,
    guest_mode_enabled: bool,
    server_roles: Vec<ServerRoleItem>,
    /// The web sign-in methods: none, this server authenticates tokens only.
    auth_strategies: Vec<AuthStrategy>,
    workspaces: ServerWorkspacesInfo,
    /// Set if the server moved; it has not.
    migration: Option<ServerMigration>,
    automate_url: Option<String>,
    /// Messages about Speckle's newer web app: none here.
    enable_new_web_ui_messaging: Option<bool>,
    configuration: ServerConfiguration,
}

/// What this server accepts, as Speckle's clients read it before an upload.
#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ServerConfiguration {
    /// The largest object upload (`MAX_OBJECT_UPLOAD_BYTES`); one object may be as large.
    object_size_limit_bytes: i32,
    /// The largest object upload (`MAX_OBJECT_UPLOAD_BYTES`), all its parts together.
    object_multipart_upload_size_limit_bytes: i32,
    /// Always false: this server sends no email.
    is_email_enabled: bool,
    /// Always 0: this server sends no verification codes.
    email_verification_timeout_minutes: i32,
    /// Always 0: this server stores no blobs (file uploads).
    blob_size_limit_bytes: i32,
}

#[derive(SimpleObject)]
pub struct ServerRoleItem {
    id: String,
    title: String,
}

#[derive(SimpleObject)]
pub struct AuthStrategy {
    id: String,
    name: String,
    icon: String,
    url: String,
    color: Option<String>,
}

#[derive(SimpleObject)]
pub struct ServerWorkspacesInfo {
    workspaces_enabled: bool,
}

#[derive(SimpleObject)]
pub struct ServerMigration {
    moved_from: Option<String>,
    moved_to: Option<String>,
}

#[derive(SimpleObject)]
pub struct AppAuthor {
    name: String,
    id: String,
    avatar: Option<String>,
}

#[derive(SimpleObject)]
pub struct ServerAppListItem {
    id: String,
    name: String,
    description: Option<String>,
    redirect_url: String,
    terms_and_conditions_link: Option<String>,
    trust_by_default: Option<bool>,
    logo: Option<String>,
    author: Option<AppAuthor>,
}

#[derive(SimpleObject)]
pub struct ServerScope {
    name: String,
    description: String,
}

#[derive(Default)]
pub struct ServerQuery;

#[Object]
impl ServerQuery {
    async fn server_info(&self, ctx: &Context<'_>) -> ServerInfo {
        let info = &state(ctx).server_info;
        let uploads = i32::try_from(state(ctx).config.max_object_upload_bytes).unwrap_or(i32::MAX);
        ServerInfo {
            name: info.name.clone(),
            description: Some(info.description.clone()),
            canonical_url: Some(info.canonical_url.clone()),
            version: Some(info.version.clone()),
            company: None,
            admin_contact: None,
            terms_of_service: None,
            invite_only: Some(true),
            guest_mode_enabled: false,
            server_roles: [(ROLE_ADMIN, "Admin"), (ROLE_USER, "User")]
                .into_iter()
                .map(|(id, title)| ServerRoleItem {
                    id: id.to_owned(),
                    title: title.to_owned(),
                })
                .collect(),
            auth_strategies: Vec::new(),
            workspaces: ServerWorkspacesInfo {
                workspaces_enabled: false,
            },
            migration: None,
            automate_url: None,
            enable_new_web_ui_messaging: Some(false),
            configuration: ServerConfiguration {
                object_size_limit_bytes: uploads,
                object_multipart_upload_size_limit_bytes: uploads,
                is_email_enabled: false,
                email_verification_timeout_minutes: 0,
                blob_size_limit_bytes: 0,
            },
            scopes: crate::context::auth::ALL_SCOPES
                .iter()
                .map(|s| ServerScope {
                    name: (*s).to_owned(),
                    description: crate::context::auth::scope_description(s).to_owned(),
                })
                .collect(),
        }
    }

    /// Third-party apps registered on this server: there are none.
    async fn apps(&self) -> Option<Vec<Option<ServerAppListItem>>> {
        Some(Vec::new())
    }
}
