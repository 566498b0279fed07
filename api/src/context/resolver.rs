//! What every resolver takes from its context: the shared state, the caller, the caller's right
//! to change a stream, and one write transaction ([`in_transaction`]). Resolvers of every domain
//! import these; they live here, below the domains and the schema root that merges them, so the
//! imports run one way.

use async_graphql::Context;
use entity::stream_acl;

use crate::context::auth::{Auth, SCOPE_STREAMS_WRITE};
use crate::context::error::Result;
use crate::context::state::AppState;

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn auth<'a>(ctx: &Context<'a>) -> &'a Auth {
    ctx.data_unchecked::<Auth>()
}

/// The caller, if they own `stream_id` and their token has `streams:write`.
pub async fn owner<'a>(ctx: &Context<'a>, stream_id: &str) -> Result<&'a entity::user::Model> {
    auth(ctx)
        .require_stream_role(
            &state(ctx).db,
            stream_id,
            stream_acl::ROLE_OWNER,
            SCOPE_STREAMS_WRITE,
        )
        .await
}

/// The caller, if they are at least a contributor on `stream_id` with `streams:write`.
pub async fn contributor<'a>(
    ctx: &Context<'a>,
    stream_id: &str,
) -> Result<&'a entity::user::Model> {
    auth(ctx)
        .require_stream_role(
            &state(ctx).db,
            stream_id,
            stream_acl::ROLE_CONTRIBUTOR,
            SCOPE_STREAMS_WRITE,
        )
        .await
}
