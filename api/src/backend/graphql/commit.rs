//! `commitCreate`, `commitUpdate`, `commitDelete` (contributors and owners with `streams:write`)
//! and `commitReceive` (anyone with a role and `streams:read`), with Speckle's inputs.

use async_graphql::{Context, InputObject, Object};
use entity::stream_acl;

use crate::auth::SCOPE_STREAMS_READ;
use crate::backend::service::commit as svc;
use crate::error::Result;
use crate::graphql::{auth, contributor, state};

#[derive(InputObject)]
pub struct CommitCreateInput {
    stream_id: String,
    branch_name: String,
    object_id: String,
    message: Option<String>,
    source_application: Option<String>,
    total_children_count: Option<i32>,
    parents: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct CommitUpdateInput {
    stream_id: String,
    id: String,
    message: Option<String>,
    new_branch_name: Option<String>,
}

#[derive(InputObject)]
pub struct CommitDeleteInput {
    stream_id: String,
    id: String,
}

#[derive(InputObject)]
pub struct CommitReceivedInput {
    stream_id: String,
    commit_id: String,
    source_application: String,
    message: Option<String>,
}

#[derive(Default)]
pub struct CommitMutation;

#[Object]
impl CommitMutation {
    async fn commit_create(&self, ctx: &Context<'_>, commit: CommitCreateInput) -> Result<String> {
        let user = contributor(ctx, &commit.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let input = svc::CreateInput {
            stream_id: commit.stream_id,
            branch_name: commit.branch_name,
            object_id: commit.object_id,
            message: commit.message,
            source_application: commit.source_application,
            total_children_count: commit.total_children_count,
            parents: commit.parents,
        };
        let (id, n) = svc::create(&txn, &st.server_info, &user.id, input).await?;
        st.commit(txn, n).await?;
        Ok(id)
    }

    async fn commit_update(&self, ctx: &Context<'_>, commit: CommitUpdateInput) -> Result<bool> {
        let user = contributor(ctx, &commit.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = svc::update(
            &txn,
            &st.server_info,
            &user.id,
            &commit.stream_id,
            &commit.id,
            commit.message,
            commit.new_branch_name,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(true)
    }

    async fn commit_delete(&self, ctx: &Context<'_>, commit: CommitDeleteInput) -> Result<bool> {
        let user = contributor(ctx, &commit.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = svc::delete(
            &txn,
            &st.server_info,
            &user.id,
            &commit.stream_id,
            &commit.id,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(true)
    }

    async fn commit_receive(&self, ctx: &Context<'_>, input: CommitReceivedInput) -> Result<bool> {
        let st = state(ctx);
        let user = auth(ctx)
            .require_stream_role(
                &st.db,
                &input.stream_id,
                stream_acl::ROLE_REVIEWER,
                SCOPE_STREAMS_READ,
            )
            .await?;
        let txn = st.begin().await?;
        let n = svc::receive(
            &txn,
            &st.server_info,
            &user.id,
            &input.stream_id,
            &input.commit_id,
            Some(input.source_application),
            input.message,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(true)
    }
}
