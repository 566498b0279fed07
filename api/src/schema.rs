//! The root of the Speckle-compatible GraphQL schema: the domains' `XQuery` / `XMutation` objects
//! (Speckle's resources in [`crate::speckle::graphql`], the webhook API's in
//! [`crate::webhooks::graphql`]) merged into one schema with its limits and extensions.
//!
//! The decision a reader may question: this module only assembles. The helpers every resolver
//! uses (the state, the caller, one transaction) are in [`crate::context::resolver`], below the
//! domains, so that a resolver never imports the module that imports it.

use async_graphql::{EmptySubscription, MergedObject, Schema};

use crate::context::config::Config;
use crate::context::limits::budget;
use crate::context::state::AppState;
use crate::context::{input_errors, notes};
use crate::speckle::graphql::{
    active_user, branch, commit, model, project, project_mutations, server, stream, token,
    user_search, version_mutations,
};
use crate::webhooks::graphql::mutation as webhook;

/// Named `Query` and `Mutation` as in Speckle's schema, since clients' documents and tooling
/// (e.g. Apollo cache ids, codegen) refer to the root types by name.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    stream::StreamQuery,
    project::ProjectQuery,
    active_user::UserQuery,
    user_search::UserSearchQuery,
    server::ServerQuery,
    webhook::WebhookQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    stream::StreamMutation,
    project_mutations::ProjectMutationsField,
    model::ModelMutationsField,
    version_mutations::VersionMutationsField,
    active_user::ActiveUserMutationsField,
    branch::BranchMutation,
    commit::CommitMutation,
    webhook::WebhookMutation,
    crate::webhooks::recover::graphql::RecoverMutation,
    token::TokenMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema without data. Depth and cost are not async-graphql's settings: they are measured
/// before it sees the document ([`crate::context::limits::cost`], applied by
/// [`crate::http::graphql`]), because its own visitors
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
        crate::webhooks::history_size::HistoryBytes {
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
