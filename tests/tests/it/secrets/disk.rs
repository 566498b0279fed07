//! What a user's disk holds. Each test reads the database file and its `-wal` and `-shm`
//! companions after each step (create, rotation, delete) with the server still running, so whether
//! SQLite has checkpointed or not is part of what is tested. The checks are meaningful because each
//! has a positive control: the scan finds the sealed value while it is current, so "absent" means
//! gone, not unseen. They fail if secrets are stored in plain text (the plaintext is found),
//! without `secure_delete` (an old sealed value stays in the free space of its page) and without
//! the checkpoint after a removal (older copies of the page stay in the WAL and the main file).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_no_secret_is_readable_in_the_files_after_create_rotation_and_delete() {
    let tdb = TestDatabase::sqlite();
    let files = files_of(&tdb.url);
    let server = TestServer::start_on(tdb, &TEST_ARGS, true).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;

    // Create.
    let first = unique("first-secret");
    let hook = server
        .create_webhook(&owner, &stream, &rx.url(), &["stream_update"], Some(&first))
        .await;
    let first_sealed = stored_secret(&server, &hook).await;
    assert!(first_sealed.starts_with("v1:"), "{first_sealed}");
    assert_eq!(
        found_in(&files, &first),
        Vec::<String>::new(),
        "plaintext on disk"
    );
    assert!(
        !found_in(&files, &first_sealed).is_empty(),
        "control: the scan sees the sealed value"
    );
    assert_signed_with(&delivery(&server, &owner.token, &stream, &rx).await, &first);

    // Rotation: neither secret in plain text, and the old sealed value is gone too.
    let second = unique("second-secret");
    server
        .gql_ok(
            &owner.token,
            UPDATE,
            json!({ "w": { "id": hook, "streamId": stream, "secret": second } }),
        )
        .await;
    let second_sealed = stored_secret(&server, &hook).await;
    assert_ne!(second_sealed, first_sealed);
    for gone in [&first, &second, &first_sealed] {
        assert_eq!(
            found_in(&files, gone),
            Vec::<String>::new(),
            "{gone} still on disk"
        );
    }
    assert!(!found_in(&files, &second_sealed).is_empty(), "control");
    assert_signed_with(
        &delivery(&server, &owner.token, &stream, &rx).await,
        &second,
    );

    // Delete.
    server
        .gql_ok(
            &owner.token,
            "mutation($w: WebhookDeleteInput!) { webhookDelete(webhook: $w) }",
            json!({ "w": { "id": hook, "streamId": stream } }),
        )
        .await;
    for gone in [&first, &second, &first_sealed, &second_sealed] {
        assert_eq!(
            found_in(&files, gone),
            Vec::<String>::new(),
            "{gone} still on disk"
        );
    }
    server.shutdown().await;
}

/// The same with a stream's worth of webhooks whose long descriptions spread them over many
/// pages, so creating, rotating and deleting them splits, rebalances and frees pages: secrets
/// must not survive in the unused parts of pages that SQLite moved cells out of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_page_splits_and_frees_leave_no_old_secret_behind() {
    let tdb = TestDatabase::sqlite();
    let files = files_of(&tdb.url);
    let server = TestServer::start_on(tdb, &TEST_ARGS, false).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let mut hooks = Vec::new();
    for i in 0..40 {
        let secret = unique(&format!("bulk-{i}"));
        let r = server
            .gql_ok(
                &owner.token,
                crate::support::CREATE,
                json!({ "w": { "streamId": stream, "url": format!("https://example.com/{i}"),
                        "triggers": ["stream_update"], "secret": secret,
                        "description": format!("{i}").repeat(1000 / (1 + i.to_string().len())) } }),
            )
            .await;
        let id = r["webhookCreate"].as_str().unwrap_or_default().to_owned();
        let sealed = stored_secret(&server, &id).await;
        hooks.push((id, secret, sealed));
    }
    let everywhere = |needles: Vec<&String>| -> Vec<String> {
        let bytes: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(f).unwrap_or_default())
            .collect();
        needles
            .into_iter()
            .filter(|n| {
                bytes
                    .iter()
                    .any(|b| b.windows(n.len()).any(|w| w == n.as_bytes()))
            })
            .cloned()
            .collect()
    };
    let sealed_first: Vec<&String> = hooks.iter().map(|h| &h.2).collect();
    assert_eq!(
        everywhere(sealed_first.clone()).len(),
        40,
        "control: all found"
    );
    assert_eq!(
        everywhere(hooks.iter().map(|h| &h.1).collect()),
        Vec::<String>::new()
    );

    let mut rotated = Vec::new();
    for (id, _, _) in &hooks {
        let secret = unique("bulk-rotated");
        server
            .gql_ok(
                &owner.token,
                UPDATE,
                json!({ "w": { "id": id, "streamId": stream, "secret": secret } }),
            )
            .await;
        rotated.push((secret, stored_secret(&server, id).await));
    }
    assert_eq!(
        everywhere(sealed_first.clone()),
        Vec::<String>::new(),
        "old sealed values"
    );
    let sealed_now: Vec<&String> = rotated.iter().map(|r| &r.1).collect();
    assert_eq!(everywhere(sealed_now.clone()).len(), 40, "control");

    for (id, _, _) in &hooks {
        server
            .gql_ok(
                &owner.token,
                "mutation($w: WebhookDeleteInput!) { webhookDelete(webhook: $w) }",
                json!({ "w": { "id": id, "streamId": stream } }),
            )
            .await;
    }
    let all: Vec<&String> = hooks
        .iter()
        .flat_map(|h| [&h.1, &h.2])
        .chain(rotated.iter().flat_map(|r| [&r.0, &r.1]))
        .collect();
    assert_eq!(everywhere(all), Vec::<String>::new());
    server.shutdown().await;
}
