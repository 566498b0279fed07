//! The key over a database's life: secrets an earlier version stored in plain text are sealed at
//! start-up (and nothing of them stays on disk); a server given another key refuses to start;
//! and once another key is adopted because the old one is lost, the server still answers
//! `hasSecret` and fails deliveries with a sentence the owner can act on.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stored_in_plain_text_by_an_earlier_version_are_sealed_at_start_up() {
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sqlite = !tdb.is_postgres();
    let files = files_of(&tdb.url);
    let plain = unique("legacy-plain");
    // A plaintext secret that looks like a sealed one: the marker, not the prefix, decides.
    let looks_sealed = format!("v1:{}", unique("legacy"));
    let deleted = unique("legacy-deleted");

    // The schema as of the previous release, written as that release wrote it (no
    // secure_delete): two webhooks with secrets, one with an empty secret, and then a stream's
    // worth deleted, whose pages went to SQLite's free list with the secrets still in them.
    let mut opts = ConnectOptions::new(tdb.url.clone());
    opts.sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.journal_mode(SqliteJournalMode::Wal));
    let old = Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    migration::Migrator::up(&old, Some(2))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let insert = |id: String, secret: String, description: Option<String>| {
        Statement::from_sql_and_values(
            old.get_database_backend(),
            "INSERT INTO webhooks_config (id, stream_id, url, description, secret, triggers, \
             enabled, disabled_reason, consecutive_failures, created_at, updated_at) \
             VALUES ($1, 'old', 'http://127.0.0.1:9/hook', $2, $3, '[\"stream_update\"]', $4, \
             NULL, 0, $5, $5)",
            [
                id.into(),
                description.into(),
                secret.into(),
                true.into(),
                chrono::Utc::now().into(),
            ],
        )
    };
    let kept = [
        ("oldplain01", plain.clone()),
        ("oldsealed1", looks_sealed.clone()),
        ("oldempty01", String::new()),
    ];
    let gone = (0..30).map(|i| {
        (
            format!("olddel{i:04}"),
            format!("{deleted}-{i}"),
            Some("d".repeat(1000)),
        )
    });
    let rows = kept
        .into_iter()
        .map(|(id, s)| (id.to_owned(), s, None))
        .chain(gone);
    for (id, secret, description) in rows {
        old.execute(insert(id, secret, description))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    old.execute_unprepared("DELETE FROM webhooks_config WHERE id LIKE 'olddel%'")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = old.close().await;
    if sqlite {
        for s in [&plain, &looks_sealed, &deleted] {
            assert!(
                !found_in(&files, s).is_empty(),
                "control: {s} is on disk before"
            );
        }
    }

    // This version starts on it.
    let server = TestServer::start_on(tdb, &TEST_ARGS, true).await;
    if sqlite {
        for s in [&plain, &looks_sealed, &deleted] {
            assert_eq!(
                found_in(&files, s),
                Vec::<String>::new(),
                "{s} still on disk"
            );
        }
    }
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    server
        .running
        .state
        .db
        .execute(Statement::from_sql_and_values(
            server.running.state.db.get_database_backend(),
            "UPDATE webhooks_config SET stream_id = $1, url = $2",
            [stream.as_str().into(), rx.url().into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hooks = list_by_id(&server, &owner.token, &stream).await;
    assert_eq!(
        hooks,
        vec![
            ("oldempty01".to_owned(), false),
            ("oldplain01".to_owned(), true),
            ("oldsealed1".to_owned(), true),
        ]
    );
    for (id, secret) in [("oldplain01", &plain), ("oldsealed1", &looks_sealed)] {
        let stored = stored_secret(&server, id).await;
        assert!(
            stored.starts_with("v1:") && !stored.contains(secret.as_str()),
            "{stored}"
        );
        server.ping(&owner, &stream, id, None).await;
        let req = rx
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("{id}: no ping"));
        assert_signed_with(&req, secret);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_is_refused_and_once_adopted_deliveries_say_why_they_fail() {
    let tdb = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key = generate_key().unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start_keyed(tdb, &TEST_ARGS, true, Some(&key)).await;
    let owner = server.create_user("Olga", "olga@example.com").await;
    let stream = server.create_stream(&owner, "s").await;
    let rx = TestReceiver::start().await;
    let hook = server
        .create_webhook(
            &owner,
            &stream,
            &rx.url(),
            &["stream_update"],
            Some("s3cr3t"),
        )
        .await;

    // The same database under another key (a mixed-up key file) does not start at all.
    let tdb = server.stop().await;
    let other = generate_key().unwrap_or_else(|e| panic!("{e}"));
    let mut config = config_from_args(TEST_ARGS.iter().chain(&["--database-url", &tdb.url]))
        .unwrap_or_else(|e| panic!("{e}"));
    config.secrets.key = Some(other.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = streamhooks_api::start(
        config,
        listener,
        streamhooks_api::StartOptions { worker: true },
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_else(|| panic!("a server with another key started"));
    assert!(
        refused.starts_with("The secrets key from the embedding program (fingerprint ")
            && refused
                .contains("is not the key this database's webhook secrets are encrypted under"),
        "{refused}"
    );

    // The key is lost for good: the operator adopts the other one (`streamhooks secrets
    // reset-key`), and the server starts with it.
    let db = Database::connect(&tdb.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let adopted = adopt_key(
        &db,
        &Secrets::from_text(&other).unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((adopted.unreadable, adopted.total), (1, 1));
    let _ = db.close().await;
    let server = TestServer::start_keyed(tdb, &TEST_ARGS, true, Some(&other)).await;
    assert_eq!(
        list_by_id(&server, &owner.token, &stream).await,
        vec![(hook.clone(), true)]
    );
    server
        .update_stream(&owner, &stream, json!({ "description": "x" }))
        .await;
    let h = server
        .wait_for_history(&owner, &stream, &hook, WAIT, |h| {
            h.first().is_some_and(|e| e["status"] == json!(3))
        })
        .await;
    let info = h[0]["statusInfo"].as_str().unwrap_or_default();
    assert!(
        info.starts_with(
            "Not sent: this webhook's secret cannot be decrypted with the server's key \
             (SECRETS_KEY or SECRETS_KEY_FILE): it was encrypted under another key"
        ),
        "{info}"
    );
    assert!(
        rx.drain().await.is_empty(),
        "nothing was sent, signed or not"
    );

    // The owner can act on it: a new secret is sealed under the key in use and signs again.
    let r = server
        .gql(
            Some(&owner.token),
            UPDATE,
            json!({ "w": { "id": hook, "streamId": stream, "secret": "n3w" } }),
        )
        .await;
    assert!(r["errors"].is_null(), "{}", message(&r));
    assert_signed_with(&delivery(&server, &owner.token, &stream, &rx).await, "n3w");
    server.shutdown().await;
}
