//! What a user's disk holds. Each test reads the database file and its `-wal` and `-shm`
//! companions after each step (create, rotation, delete) with the server still running, so whether
//! SQLite has checkpointed or not is part of what is tested. The checks are meaningful because each
//! has a positive control: the scan finds the sealed value while it is current, so "absent" means
//! gone, not unseen. They fail if secrets are stored in plain text (the plaintext is found),
//! without `secure_delete` (an old sealed value stays in the free space of its page) and without
//! the checkpoint after a removal (older copies of the page stay in the WAL and the main file).
//!
//! A changed secret stays on purpose, sealed, as the previous secret for `SECRET_ROTATION_GRACE`
//! (it keeps signing beside the new one). The first two tests run without a grace, so a change
//! removes the old value at once; the last follows a previous secret through its grace.

use super::*;

/// [`TEST_ARGS`] with no rotation grace: a changed secret is gone at once.
fn no_grace() -> Vec<&'static str> {
    let mut args = TEST_ARGS.to_vec();
    args.extend(["--secret-rotation-grace", "0s"]);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_no_secret_is_readable_in_the_files_after_create_rotation_and_delete() {
    let tdb = TestDatabase::sqlite();
    let files = files_of(&tdb.url);
    let server = TestServer::start_on(tdb, &no_grace(), true).await;
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
    let server = TestServer::start_on(tdb, &no_grace(), false).await;
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

/// With the default grace: the replaced secret stays sealed (and only sealed) while it signs,
/// the one before it goes when a second change replaces it, and the last previous secret goes
/// when its grace is over (the retention pass) or when the secret is cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_previous_secret_is_on_disk_only_during_its_grace() {
    let tdb = TestDatabase::sqlite();
    let files = files_of(&tdb.url);
    let server = TestServer::start_on(tdb, &TEST_ARGS, false).await;
    let db = &server.running.state.db;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let secrets: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|l| unique(l))
        .collect();
    let hook = server
        .create_webhook(
            &owner,
            &stream,
            "https://example.com/h",
            &["stream_update"],
            Some(&secrets[0]),
        )
        .await;
    let mut sealed = vec![stored_secret(&server, &hook).await];
    let set = |secret: String| {
        let (server, owner, stream, hook) = (&server, &owner, &stream, &hook);
        async move {
            server
                .gql_ok(
                    &owner.token,
                    UPDATE,
                    json!({ "w": { "id": hook, "streamId": stream, "secret": secret } }),
                )
                .await;
        }
    };
    let previous = || async {
        webhook_config::Entity::find_by_id(hook.clone())
            .one(db)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .and_then(|w| w.previous_secret)
    };
    let on_disk = |needle: &String| !found_in(&files, needle).is_empty();

    set(secrets[1].clone()).await;
    sealed.push(stored_secret(&server, &hook).await);
    assert_eq!(
        previous().await.as_ref(),
        Some(&sealed[0]),
        "moved, still sealed"
    );
    assert!(on_disk(&sealed[0]) && on_disk(&sealed[1]), "both sign now");

    set(secrets[2].clone()).await;
    sealed.push(stored_secret(&server, &hook).await);
    assert_eq!(previous().await.as_ref(), Some(&sealed[1]));
    assert!(
        !on_disk(&sealed[0]),
        "the secret before the previous one is gone"
    );

    // The grace runs out (its end moved into the past, as time would), and retention runs.
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE webhooks_config SET previous_secret_expires_at = $1 WHERE id = $2",
        [1_i64.into(), hook.as_str().into()],
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    streamhooks_worker::retention::run_once(
        db,
        &server.running.state.config.worker,
        1000,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(previous().await, None);
    assert!(!on_disk(&sealed[1]), "an expired previous secret is gone");
    assert!(
        on_disk(&sealed[2]),
        "control: the current one is still there"
    );

    // Clearing the secret leaves nothing, and a change right after has no previous secret.
    set(secrets[1].clone()).await;
    sealed.push(stored_secret(&server, &hook).await);
    let kept = previous().await.unwrap_or_default();
    assert_eq!(kept, sealed[2]);
    set(String::new()).await;
    assert_eq!(previous().await, None);
    for plain in &secrets {
        assert!(!on_disk(plain), "{plain} in plain text on disk");
    }
    for s in &sealed {
        assert!(!on_disk(s), "{s} still on disk");
    }
    server.shutdown().await;
}
