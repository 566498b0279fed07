//! Speckle's workspaces, which this server does not have: every project here is a personal one.
//! The Speckle web app still asks for them on most project pages (`project.workspace { … }`,
//! `activeUser.activeWorkspace`), so the types exist with Speckle's names and the fields those
//! documents read, and the fields that lead to them answer null.
//!
//! The decision a reader may question: the object types are uninhabited enums. No value of them
//! can be built, so "there are no workspaces here" is a fact the compiler checks, not a promise
//! each resolver keeps; their resolvers are `match *self {}`, which can never run (hence the
//! allowance below: the code `#[Object]` puts after each resolver call is unreachable too).

#![allow(unreachable_code)]

use async_graphql::{Enum, Object, ID};

use crate::speckle::graphql::permissions::PermissionCheckResult;

/// A Speckle workspace; none exist on this server.
pub enum Workspace {}

#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        match *self {}
    }

    async fn slug(&self) -> String {
        match *self {}
    }

    async fn name(&self) -> String {
        match *self {}
    }

    async fn logo(&self) -> Option<String> {
        match *self {}
    }

    async fn role(&self) -> Option<String> {
        match *self {}
    }

    async fn read_only(&self) -> bool {
        match *self {}
    }

    async fn plan(&self) -> Option<WorkspacePlan> {
        match *self {}
    }

    async fn embed_options(&self) -> WorkspaceEmbedOptions {
        match *self {}
    }

    async fn permissions(&self) -> WorkspacePermissionChecks {
        match *self {}
    }
}

/// What anyone may see of a workspace; none exist on this server.
pub enum LimitedWorkspace {}

#[Object]
impl LimitedWorkspace {
    async fn id(&self) -> ID {
        match *self {}
    }

    async fn name(&self) -> String {
        match *self {}
    }

    async fn slug(&self) -> String {
        match *self {}
    }

    async fn description(&self) -> Option<String> {
        match *self {}
    }

    async fn role(&self) -> Option<String> {
        match *self {}
    }

    async fn logo(&self) -> Option<String> {
        match *self {}
    }
}

pub enum WorkspacePlan {}

#[Object]
impl WorkspacePlan {
    async fn name(&self) -> WorkspacePlans {
        match *self {}
    }
}

pub enum WorkspaceEmbedOptions {}

#[Object]
impl WorkspaceEmbedOptions {
    async fn hide_speckle_branding(&self) -> bool {
        match *self {}
    }
}

pub enum WorkspacePermissionChecks {}

#[Object]
impl WorkspacePermissionChecks {
    async fn can_list_dashboards(&self) -> PermissionCheckResult {
        match *self {}
    }

    async fn can_edit_embed_options(&self) -> PermissionCheckResult {
        match *self {}
    }
}

/// Speckle's workspace plans, named as Speckle names them.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "camelCase")]
pub enum WorkspacePlans {
    Free,
    Unlimited,
    Academia,
    Team,
    TeamUnlimited,
    TeamUnlimitedInvoiced,
    Pro,
    ProUnlimited,
    ProUnlimitedInvoiced,
    Enterprise,
}

/// The features a Speckle workspace plan may include (`hasAccessToFeature`).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "camelCase")]
pub enum WorkspaceFeatureName {
    AccIntegration,
    Dashboards,
    DomainBasedSecurityPolicies,
    OidcSso,
    HideSpeckleBranding,
    WorkspaceDataRegionSpecificity,
    ExclusiveMembership,
    SavedViews,
    Presentations,
}

/// A workspace member's seat.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(rename_items = "camelCase")]
pub enum WorkspaceSeatType {
    Editor,
    Viewer,
}
