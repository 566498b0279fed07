//! `apiTokenCreate`: a new personal access token for the caller, shown once; `apiTokenRevoke`:
//! revoke one of the caller's tokens (by id, or the whole token, as Speckle accepts).

use async_graphql::{Context, InputObject, Object};

use crate::context::auth::SCOPE_TOKENS_WRITE;
use crate::context::resolver::{auth, state};
use crate::context::scalars::BigInt;
use crate::speckle::service;

#[derive(InputObject)]
pub struct ApiTokenCreateInput {
    scopes: Vec<String>,
    name: String,
    /// Milliseconds until the token expires; omitted: never.
    lifespan: Option<BigInt>,
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    async fn api_token_create(
        &self,
        ctx: &Context<'_>,
        token: ApiTokenCreateInput,
    ) -> async_graphql::Result<String> {
        let user = auth(ctx).require_scope(SCOPE_TOKENS_WRITE)?;
        // A token cannot grant more than the token that creates it.
        for s in &token.scopes {
            if !auth(ctx).has_scope(s) && crate::context::auth::ALL_SCOPES.contains(&s.as_str()) {
                return Err(crate::context::error::Error::forbidden(format!(
                    "Your token does not have the scope {s}, so it cannot grant it"
                ))
                .into());
            }
        }
        Ok(service::token::create(
            &state(ctx).db,
            &user.user_id(),
            &token.name,
            &token.scopes,
            token.lifespan.map(|l| l.0),
        )
        .await?)
    }

    /// Revokes one of the caller's tokens; true once it is gone.
    async fn api_token_revoke(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<bool> {
        let user = auth(ctx).require_scope(SCOPE_TOKENS_WRITE)?;
        service::token::revoke(&state(ctx).db, &user.user_id(), &token).await?;
        Ok(true)
    }
}
