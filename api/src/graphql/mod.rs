//! The root of the Speckle-compatible GraphQL schema: the domains' `XQuery` / `XMutation` objects
//! (the backend's in [`crate::backend::graphql`], the webhook API's in
//! [`crate::webhooks::graphql`]) merged into one schema with its limits, plus the helpers every
//! resolver uses to get the state and the caller. Resolvers extract, authorise, and call service
//! functions; a mutation that queues webhook events commits and then wakes the dispatcher.

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};

use entity::stream_acl;

use crate::auth::{Auth, SCOPE_STREAMS_WRITE};
use crate::config::Config;
use crate::error::Result;
use crate::state::AppState;

pub mod budget;
pub mod cost;
pub mod endpoint;
pub mod input_errors;
pub mod notes;
pub mod scalars;

use crate::backend::graphql::{
    branch, commit, model, project, project_mutations, server, stream, token, user, user_search,
    version,
};
use crate::webhooks::graphql as webhook;

/// Named `Query` and `Mutation` as in Speckle's schema, since clients' documents and tooling
/// (e.g. Apollo cache ids, codegen) refer to the root types by name.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    stream::StreamQuery,
    project::ProjectQuery,
    user::UserQuery,
    user_search::UserSearchQuery,
    server::ServerQuery,
    webhook::WebhookQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    stream::StreamMutation,
    project_mutations::ProjectMutation,
    model::ModelMutation,
    version::VersionMutation,
    user::UserMutation,
    branch::BranchMutation,
    commit::CommitMutation,
    webhook::WebhookMutation,
    crate::webhooks::recover::graphql::RecoverMutation,
    token::TokenMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema without data. Depth and cost are not async-graphql's settings: they are measured
/// before it sees the document ([`cost`], applied by [`endpoint`]), because its own visitors
/// expand every fragment spread without memoising.
pub fn schema_builder(
    _config: &Config,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_recursive_depth(64)
    .limit_directives(32)
    .extension(budget::BudgetExtension)
    .extension(notes::NotesExtension)
    .extension(input_errors::InputErrors)
}

pub fn build_schema(state: AppState) -> AppSchema {
    let history_bytes = async_graphql::dataloader::DataLoader::new(
        budget::HistoryBytes {
            db: state.db.clone(),
        },
        tokio::spawn,
    );
    schema_builder(&state.config)
        .data(state)
        .data(history_bytes)
        .finish()
}

/// The SDL clients see; `schema.graphql` at the repository root must equal it.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .finish()
    .sdl()
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn auth<'a>(ctx: &Context<'a>) -> &'a Auth {
    ctx.data_unchecked::<Auth>()
}

/// The caller, if they own `stream_id` and their token has `streams:write`.
pub(crate) async fn owner<'a>(
    ctx: &Context<'a>,
    stream_id: &str,
) -> Result<&'a entity::user::Model> {
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
pub(crate) async fn contributor<'a>(
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
