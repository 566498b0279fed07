//! Refusing to start, with one sentence and a non-zero exit, where starting would deliver wrongly:
//! Speckle's own webhook-service still connected (seen by its `application_name`, or, as it
//! really shows up, `speckle_server` with its claim statement as its last query), bad settings,
//! and a database user that may not create our schema.

use std::str::FromStr;

use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::{self, ConnectOptions, Connection, Executor};

use crate::harness::*;

/// The stock service's claim, verbatim from packages/webhook-service/src/main.js (51d43b91).
const STOCK_CLAIM: &str = r#"
    UPDATE webhooks_events
    SET
      "status" = 1,
      "lastUpdate" = NOW()
    FROM (
      SELECT "id" FROM webhooks_events
      WHERE "status" = 0
      ORDER BY "lastUpdate" ASC
      LIMIT 1
    ) as task
    WHERE webhooks_events."id" = task."id"
    RETURNING webhooks_events."id"
  "#;

async fn session(url: &str, application_name: &str) -> sqlx::PgConnection {
    PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("{e}"))
        .application_name(application_name)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_service_connected_stops_us_unless_allowed() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let probe = probe_path();
    let env = base_env(&s.db.url, &probe);

    // As knex.js asks for it.
    let named = session(&s.db.url, "speckle_webhook_service").await;
    let (code, out, err) = run_to_end(&env, &[]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!out.contains("ready"), "{out}");
    for words in [
        "speckle_webhook_service",
        "webhook_service.enabled: false",
        "webhook-service service",
        "--allow-stock-service",
    ] {
        assert!(err.contains(words), "{words:?} not in: {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    named.close().await.unwrap_or_else(|e| panic!("{e}"));

    // As it shows up at 51d43b91: application_name `speckle_server`, its poll the last query.
    let mut polling = session(&s.db.url, "speckle_server").await;
    polling
        .execute(STOCK_CLAIM)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run_to_end(&env, &[]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("speckle_server"), "{err}");

    // Told to run beside it.
    let d = Dispatcher::start(&env, &["--allow-stock-service"]).await;
    d.stop().await;
    polling.close().await.unwrap_or_else(|e| panic!("{e}"));

    // Gone: starts without being told.
    let d = Dispatcher::start(&env, &[]).await;
    d.stop().await;
    let _ = std::fs::remove_file(probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_one_sentence_naming_the_variable() {
    let probe = probe_path();
    let base = base_env("postgres://127.0.0.1:1/none", &probe);
    for (var, value) in [
        ("POSTGRES_MAX_CONNECTIONS_WEBHOOK_SERVICE", "lots"),
        ("POSTGRES_CONNECTION_ACQUIRE_TIMEOUT_MILLIS", "-5"),
        ("LOG_LEVEL", "verbose"),
        ("ALLOW_LOCAL_NETWORK", "yes"),
        ("PROMETHEUS_METRICS_PORT", "http"),
        ("FF_WORKSPACES_MULTI_REGION_ENABLED", "1"),
    ] {
        let mut env = base.clone();
        env.push((var.into(), value.into()));
        let (code, _, err) = run_to_end(&env, &[]).await;
        assert_ne!(code, Some(0), "{var}={value} was accepted");
        assert!(err.contains(var), "{var}={value}: {err}");
    }
    let mut env = base.clone();
    env.push((
        "PG_CONNECTION_STRING".into(),
        "mysql://speckle@db/speckle".into(),
    ));
    let (code, _, err) = run_to_end(&env, &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains("PG_CONNECTION_STRING must be a postgres:// URL"),
        "{err}"
    );

    let mut env = base.clone();
    env.push(("FF_WORKSPACES_MULTI_REGION_ENABLED".into(), "true".into()));
    env.push((
        "MULTI_REGION_CONFIG_PATH".into(),
        "/nonexistent/multiregion.json".into(),
    ));
    let (code, _, err) = run_to_end(&env, &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("/nonexistent/multiregion.json"), "{err}");

    // Empty is unset, as the chart writes unset values and the stock service reads them.
    let mut env = base;
    env.push((
        "POSTGRES_MAX_CONNECTIONS_WEBHOOK_SERVICE".into(),
        String::new(),
    ));
    env.push((
        "POSTGRES_CONNECTION_CREATE_TIMEOUT_MILLIS".into(),
        "300".into(),
    ));
    let (code, _, err) = run_to_end(&env, &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot connect to the database of region main"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_not_speckles_or_a_user_without_create_is_told_why() {
    let Some(s) = Speckle::create().await else {
        return;
    };
    let probe = probe_path();

    let plain = streamhooks_api::testkit::TestDatabase::postgres(&s.db.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = run_to_end(&base_env(&plain.url, &probe), &[]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("no Speckle webhook tables"), "{err}");

    // A user that may read and write Speckle's webhook tables, but not create a schema.
    let role = format!("speckle_{}", random_id(8));
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT SELECT, UPDATE, INSERT ON webhooks_events, webhooks_config TO {role}"),
        format!("GRANT SELECT ON knex_migrations TO {role}"),
    ] {
        sqlx::query(&sql)
            .execute(&s.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut url = url::Url::parse(&s.db.url).unwrap_or_else(|e| panic!("{e}"));
    let _ = url.set_username(&role);
    let (code, _, err) = run_to_end(&base_env(url.as_str(), &probe), &[]).await;
    let database = s.db.url.rsplit('/').next().unwrap_or_default().to_owned();
    let _ = sqlx::query(&format!("DROP OWNED BY {role}"))
        .execute(&s.pool)
        .await;
    let _ = sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&s.pool)
        .await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "GRANT CREATE ON DATABASE \"{database}\" TO \"{role}\""
        )),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
