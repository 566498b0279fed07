//! Speckle's webhook tables for the `speckle` scenario: a fresh PostgreSQL database whose
//! `webhooks_config` and `webhooks_events` are made by Speckle's own migration files run through
//! knex (`tests/interop/speckle/migrate.mjs`), webhooks and events written as Speckle's server
//! writes them, and the checks that a dispatcher left everything but three columns alone.
//!
//! The question a reader will ask: why is the backlog seeded in multi-row statements when
//! Speckle inserts one row per statement? Seeding is outside every measurement, and 50,000
//! single-row commits would take longer than the stock service's run. The rows are the same
//! (`id`, `webhookId`, `payload` given, the rest left to the tables' defaults); only `lastUpdate`
//! is shared by the rows of one statement, which changes nothing either dispatcher does. The
//! idle-latency events, which are measured, go in one by one exactly as Speckle inserts them.

use std::path::Path;
use std::process::{Command, Stdio};

use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

use crate::seed::{self, BenchDb};
use crate::stats::BoxError;

/// Rows per seeding statement: 5,000 payloads of ~1.4 KB bound as three arrays.
const SEED_ROWS: usize = 5_000;

/// A fresh database with Speckle's webhook tables, made by `node --import tsx migrate.mjs URL`
/// in `harness` (which needs `npm ci` there first).
pub async fn fresh(admin_url: &str, node: &Path, harness: &Path) -> Result<BenchDb, BoxError> {
    let bench = seed::postgres_with(admin_url, false).await?;
    let out = Command::new(node)
        .args(["--import", "tsx", "migrate.mjs", &bench.url])
        .current_dir(harness)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", node.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bench.cleanup().await;
        return Err(format!(
            "Speckle's migrations failed in {} (run `npm ci` there first?): {}",
            harness.display(),
            err.trim()
        )
        .into());
    }
    Ok(bench)
}

/// `n` hex characters, as Speckle's `crypto-random-string` makes ids (its default type is hex).
pub fn hex(n: usize) -> String {
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(r.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A webhook as Speckle's `webhooks_config` holds it and as the payload's `webhook` key carries
/// it (triggers as a list, no secret).
pub struct Hook {
    pub id: String,
    json: serde_json::Value,
}

/// One stream's `n` enabled webhooks on `commit_create`, each with a plain-text secret (as
/// Speckle stores it), pointing at `base_url/hook/<i>`.
pub async fn webhooks(
    db: &DatabaseConnection,
    base_url: &str,
    stream_id: &str,
    n: usize,
) -> Result<Vec<Hook>, BoxError> {
    let b = db.get_database_backend();
    let mut hooks = Vec::with_capacity(n);
    for i in 0..n {
        let id = hex(10);
        let url = format!("{base_url}/hook/{i}");
        let description = format!("Bench webhook {i}");
        let secret = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let row = db
            .query_one(Statement::from_sql_and_values(
                b,
                r#"INSERT INTO webhooks_config ("id", "streamId", "url", "description", "triggers", "secret", "enabled")
                   VALUES ($1, $2, $3, $4, '{"commit_create": true}', $5, true)
                   RETURNING "createdAt" AS created"#,
                [
                    id.as_str().into(),
                    stream_id.into(),
                    url.as_str().into(),
                    description.as_str().into(),
                    secret.into(),
                ],
            ))
            .await?
            .ok_or("INSERT returned no row")?;
        // As JSON.stringify writes the Date knex reads it into.
        let created: chrono::DateTime<chrono::Utc> = row.try_get("", "created")?;
        let created = created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let json = serde_json::json!({
            "id": id, "streamId": stream_id, "url": url, "description": description,
            "triggers": ["commit_create"], "enabled": true,
            "createdAt": created, "updatedAt": created,
        });
        hooks.push(Hook { id, json });
    }
    Ok(hooks)
}

/// The payload Speckle's `dispatchStreamEventFactory` stores for a `commit_create` on `hook`:
/// the activity's `webhooksPayload` with `server`, `stream` and `user` added and `webhook` last,
/// serialised; `commit_id` (10 hex characters, as Speckle's) tells events apart.
pub fn payload(stream_id: &str, hook: &Hook, commit_id: &str) -> String {
    let user_id = "3a9c1e5f7b";
    let message = "Level 3 façade panels, revised after the structural review of week 48";
    serde_json::json!({
        "streamId": stream_id,
        "userId": user_id,
        "activityMessage": format!("Commit created on branch main: {commit_id} ({message})"),
        "event": {
            "event_name": "commit_create",
            "data": {
                "id": commit_id,
                "commit": {
                    "streamId": stream_id, "branchName": "main",
                    "objectId": "6f1d2c0b9e8a7f6e5d4c3b2a19081726",
                    "message": message, "sourceApplication": "Revit2024",
                    "totalChildrenCount": 18_342, "parents": [],
                    "projectId": stream_id, "modelId": "b81e2f4a0c", "versionId": commit_id,
                },
            },
        },
        "server": {
            "name": "Speckle Server", "company": "Bench Engineering Ltd",
            "description": "The Speckle server of the benchmark",
            "adminContact": "ops@example.org", "termsOfService": null,
            "inviteOnly": false, "guestModeEnabled": false, "version": "2.26.0",
            "canonicalUrl": "https://speckle.example.org",
        },
        "stream": {
            "id": stream_id, "name": "Riverside tower", "description": "Coordination model",
            "isPublic": false, "isDiscoverable": false, "allowPublicComments": false,
            "visibility": "private", "workspaceId": null, "regionKey": null,
            "createdAt": "2026-03-02T09:14:27.512Z", "updatedAt": "2026-11-30T16:40:03.118Z",
            "role": "stream:owner",
        },
        "user": {
            "id": user_id, "suuid": "9d5a7c3e-41b2-4f6a-8e0d-2c7b9f1a3e55",
            "name": "Ada Lovelace", "bio": null, "company": "Bench Engineering Ltd",
            "avatar": null, "verified": true, "profiles": null,
            "createdAt": "2025-08-19T11:02:45.901Z",
        },
        "webhook": hook.json,
    })
    .to_string()
}

/// The length of a payload as [`webhooks`] and [`payload`] make them, for the report.
pub fn sample_len() -> usize {
    let hook = Hook {
        id: hex(10),
        json: serde_json::json!({
            "id": hex(10), "streamId": hex(10), "url": "http://127.0.0.1:40000/hook/0",
            "description": "Bench webhook 0", "triggers": ["commit_create"], "enabled": true,
            "createdAt": "2026-12-05T20:11:58.123Z", "updatedAt": "2026-12-05T20:11:58.123Z",
        }),
    };
    payload(&hex(10), &hook, &hex(10)).len()
}

/// Queues `n` events round-robin over `hooks`, each with its own commit id.
pub async fn queue(
    db: &DatabaseConnection,
    stream_id: &str,
    hooks: &[Hook],
    n: usize,
) -> Result<(), BoxError> {
    let b = db.get_database_backend();
    let mut done = 0;
    while done < n {
        let rows = SEED_ROWS.min(n - done);
        let (mut ids, mut webhook_ids, mut payloads) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for i in done..done + rows {
            let hook = &hooks[i % hooks.len()];
            ids.push(Value::from(hex(20)));
            webhook_ids.push(Value::from(hook.id.as_str()));
            payloads.push(Value::from(payload(stream_id, hook, &hex(10))));
        }
        let array =
            |v: Vec<Value>| Value::Array(sea_orm::sea_query::ArrayType::String, Some(Box::new(v)));
        db.execute(Statement::from_sql_and_values(
            b,
            r#"INSERT INTO webhooks_events ("id", "webhookId", "payload")
               SELECT * FROM unnest(CAST($1 AS TEXT[]), CAST($2 AS TEXT[]), CAST($3 AS TEXT[]))"#,
            [array(ids), array(webhook_ids), array(payloads)],
        ))
        .await?;
        done += rows;
    }
    Ok(())
}

/// One event inserted as Speckle's server inserts it: one statement outside any transaction,
/// the columns it gives, `RETURNING "id"` as knex adds.
pub async fn insert_one(
    db: &DatabaseConnection,
    webhook_id: &str,
    payload: String,
) -> Result<(), BoxError> {
    db.execute(Statement::from_sql_and_values(
        db.get_database_backend(),
        r#"INSERT INTO "webhooks_events" ("id", "payload", "webhookId") VALUES ($1, $2, $3) RETURNING "id""#,
        [hex(20).into(), payload.into(), webhook_id.into()],
    ))
    .await?;
    Ok(())
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> Result<i64, BoxError> {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// Events at each status 0, 1, 2, 3, and those at 2 whose `statusInfo` is not Speckle's
/// `Webhook called`.
pub async fn statuses(db: &DatabaseConnection) -> Result<[i64; 5], BoxError> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            r#"SELECT COUNT(*) FILTER (WHERE "status" = 0) AS s0,
                      COUNT(*) FILTER (WHERE "status" = 1) AS s1,
                      COUNT(*) FILTER (WHERE "status" = 2) AS s2,
                      COUNT(*) FILTER (WHERE "status" = 3) AS s3,
                      COUNT(*) FILTER (WHERE "status" = 2 AND "statusInfo" <> 'Webhook called') AS odd
               FROM webhooks_events"#,
        ))
        .await?
        .ok_or("no row")?;
    Ok([
        row.try_get("", "s0")?,
        row.try_get("", "s1")?,
        row.try_get("", "s2")?,
        row.try_get("", "s3")?,
        row.try_get("", "odd")?,
    ])
}

/// The two tables' definitions (columns, indexes, constraints, triggers), which no dispatcher
/// may change.
pub async fn ddl(db: &DatabaseConnection) -> Result<String, BoxError> {
    text(
        db,
        r#"SELECT concat_ws(' | ',
             (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(column_default, ''), ', ' ORDER BY table_name, ordinal_position)
                FROM information_schema.columns WHERE table_name IN ('webhooks_config', 'webhooks_events')),
             (SELECT string_agg(indexdef, ', ' ORDER BY indexdef) FROM pg_indexes
                WHERE tablename IN ('webhooks_config', 'webhooks_events')),
             (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) FROM pg_constraint
                WHERE conrelid IN ('webhooks_config'::regclass, 'webhooks_events'::regclass)),
             (SELECT coalesce(string_agg(tgname, ', ' ORDER BY tgname), 'no triggers') FROM pg_trigger
                WHERE tgrelid IN ('webhooks_config'::regclass, 'webhooks_events'::regclass))
           ) AS t"#,
    )
    .await
}

/// A digest of what a dispatcher may not write: every column of `webhooks_config`, and the
/// columns of `webhooks_events` other than `status`, `statusInfo` and `lastUpdate`.
pub async fn rows(db: &DatabaseConnection) -> Result<String, BoxError> {
    text(
        db,
        r#"SELECT concat_ws(' ',
             (SELECT md5(string_agg(to_jsonb(c)::text, '' ORDER BY "id")) FROM webhooks_config c),
             (SELECT md5(string_agg("id" || ' ' || "webhookId" || ' ' || md5("payload"), '' ORDER BY "id")) FROM webhooks_events)
           ) AS t"#,
    )
    .await
}

async fn text(db: &DatabaseConnection, sql: &str) -> Result<String, BoxError> {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("no row")?;
    Ok(row.try_get("", "t")?)
}
