//! What every resolver takes from its context: the shared state, the caller, the caller's right
//! to change a stream, and one write transaction ([`in_transaction`]). Resolvers of every domain
//! import these; they live here, below the domains and the schema root that merges them, so the
//! imports run one way.

use async_graphql::Context;
use entity::ids::StreamId;
use entity::stream_acl;
use sea_orm::DatabaseTransaction;
use streamhooks_worker::outbox::ServerInfo;

use crate::context::auth::{Auth, SCOPE_STREAMS_WRITE};
use crate::context::error::Result;
use crate::context::state::AppState;

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn auth<'a>(ctx: &Context<'a>) -> &'a Auth {
    ctx.data_unchecked::<Auth>()
}

/// The caller, if they own `stream` and their token has `streams:write`.
pub async fn owner<'a>(ctx: &Context<'a>, stream: &StreamId) -> Result<&'a entity::user::Model> {
    auth(ctx)
        .require_stream_role(
            &state(ctx).db,
            stream,
            stream_acl::ROLE_OWNER,
            SCOPE_STREAMS_WRITE,
        )
        .await
}

/// The caller, if they are at least a contributor on `stream` with `streams:write`.
pub async fn contributor<'a>(
    ctx: &Context<'a>,
    stream: &StreamId,
) -> Result<&'a entity::user::Model> {
    auth(ctx)
        .require_stream_role(
            &state(ctx).db,
            stream,
            stream_acl::ROLE_CONTRIBUTOR,
            SCOPE_STREAMS_WRITE,
        )
        .await
}

/// What a change run by [`in_transaction`] writes with: its transaction, and the `server` object
/// every event it queues carries. This is what [`in_transaction`] hands its work, so whatever
/// else a commit must carry (the events to hand over) is added here, in one place.
#[derive(Clone, Copy)]
pub struct Tx<'a> {
    pub txn: &'a DatabaseTransaction,
    pub server: &'a ServerInfo,
}

/// Runs `work` in one write transaction and commits what it did: the change and the webhook
/// events it queued commit together or not at all. `work` answers its value and how many events
/// it queued (what the service functions return), so that the dispatcher is woken for them.
///
/// The commit is [`AppState::commit`]'s: committed, then the events leased to this process handed
/// over in memory. An error from `work` drops the transaction, which rolls it back; so does a
/// request stopped at its deadline (`REQUEST_DEADLINE`) before the commit, and one stopped during
/// the commit gives its leases back.
///
/// The decision a reader may question: a closure rather than a begin/commit pair at each call.
/// This is the one place where a resolver's change begins and commits, so no resolver can forget
/// the commit's second half, and what the change needs besides the connection reaches it as
/// [`Tx`].
pub async fn in_transaction<T>(
    ctx: &Context<'_>,
    work: impl AsyncFnOnce(Tx<'_>) -> Result<(T, u64)>,
) -> Result<T> {
    let st = state(ctx);
    let txn = st.begin().await?;
    let tx = Tx {
        txn: &txn,
        server: &st.server_info,
    };
    let (value, queued) = work(tx).await?;
    st.commit(txn, queued).await?;
    Ok(value)
}
