//! `branchCreate`, `branchUpdate`, `branchDelete` with Speckle's inputs; contributors and owners
//! with `streams:write` may use them.

use async_graphql::{Context, InputObject, Object};

use crate::backend::service::branch as svc;
use crate::error::Result;
use crate::graphql::{contributor, state};

#[derive(InputObject)]
pub struct BranchCreateInput {
    stream_id: String,
    name: String,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct BranchUpdateInput {
    stream_id: String,
    id: String,
    name: Option<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub struct BranchDeleteInput {
    stream_id: String,
    id: String,
}

#[derive(Default)]
pub struct BranchMutation;

#[Object]
impl BranchMutation {
    async fn branch_create(&self, ctx: &Context<'_>, branch: BranchCreateInput) -> Result<String> {
        let user = contributor(ctx, &branch.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let (id, n) = svc::create(
            &txn,
            &st.server_info,
            &user.id,
            &branch.stream_id,
            &branch.name,
            branch.description,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(id)
    }

    async fn branch_update(&self, ctx: &Context<'_>, branch: BranchUpdateInput) -> Result<bool> {
        let user = contributor(ctx, &branch.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = svc::update(
            &txn,
            &st.server_info,
            &user.id,
            &branch.stream_id,
            &branch.id,
            branch.name,
            branch.description,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(true)
    }

    async fn branch_delete(&self, ctx: &Context<'_>, branch: BranchDeleteInput) -> Result<bool> {
        let user = contributor(ctx, &branch.stream_id).await?;
        let st = state(ctx);
        let txn = st.begin().await?;
        let n = svc::delete(
            &txn,
            &st.server_info,
            &user.id,
            &branch.stream_id,
            &branch.id,
        )
        .await?;
        st.commit(txn, n).await?;
        Ok(true)
    }
}
