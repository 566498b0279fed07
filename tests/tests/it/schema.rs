//! `schema.graphql` at the repository root is what the server exports; this fails on drift.

#[test]
fn schema_file_matches_the_server() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let live = streamhooks_api::schema::sdl();
    assert!(
        on_disk == live,
        "schema.graphql differs from the server's SDL; regenerate it with:\n  cargo run -q -p streamhooks-api -- schema > schema.graphql"
    );
}

#[test]
fn schema_has_speckles_webhook_surface() {
    let sdl = streamhooks_api::schema::sdl();
    for needle in [
        "webhookCreate(webhook: WebhookCreateInput!): String!",
        "webhookUpdate(webhook: WebhookUpdateInput!): String!",
        "webhookDelete(webhook: WebhookDeleteInput!): String!",
        "webhooks(id: String): WebhookCollection!",
        // Speckle's `limit` first and as it declares it; `offset` and `cursor` are ours,
        // optional, after it.
        "history(limit: Int! = 25, offset: Int! = 0, cursor: String): WebhookEventCollection",
        "cursor: String\n",
        "items: [WebhookEvent]",
        "totalCount: Int\n",
        "lastUpdate: DateTime!",
    ] {
        assert!(sdl.contains(needle), "SDL lacks {needle:?}");
    }
}
