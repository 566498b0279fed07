//! `serverInfo`: what this server calls itself; the same values go into every payload's `server`.

use async_graphql::{Context, Object, SimpleObject};

use crate::graphql::state;

#[derive(SimpleObject)]
#[graphql(rename_fields = "camelCase")]
pub struct ServerInfo {
    name: String,
    description: Option<String>,
    canonical_url: Option<String>,
    version: Option<String>,
    company: Option<String>,
    admin_contact: Option<String>,
    scopes: Vec<ServerScope>,
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
        ServerInfo {
            name: info.name.clone(),
            description: Some(info.description.clone()),
            canonical_url: Some(info.canonical_url.clone()),
            version: Some(info.version.clone()),
            company: None,
            admin_contact: None,
            scopes: crate::auth::ALL_SCOPES
                .iter()
                .map(|s| ServerScope {
                    name: (*s).to_owned(),
                    description: crate::auth::scope_description(s).to_owned(),
                })
                .collect(),
        }
    }
}
