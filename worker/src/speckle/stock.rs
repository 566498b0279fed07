//! Finding Speckle's own webhook-service connected to the same database, so two dispatchers are
//! never run side by side by accident: the stock service claims without a row lock, so with us
//! beside it an event can be sent twice.
//!
//! The decision a reader will question: matching the text of its statements, not only its
//! `application_name`. The stock service asks for `speckle_webhook_service`, but (at speckle-server
//! commit 51d43b91) `@speckle/shared`'s `createKnexConfig` overrides it with
//! `speckle_server`, so in `pg_stat_activity` it looks like Speckle's server. What tells it apart
//! is its last statement: it polls every second with one raw `UPDATE … FROM (SELECT "id" FROM
//! webhooks_events WHERE "status" = 0 …)` and reads each event with `… FROM webhooks_events ev
//! INNER JOIN webhooks_config cnf …`, texts that knex's query builder (which quotes every table
//! name) never produces for Speckle's server. Only sessions this database user may see are
//! visible: those of the same user, or all with `pg_read_all_stats`.

use sea_orm::sqlx::{self, PgPool, Row as _};
use serde::Serialize;

/// The `application_name` our connections carry.
pub const APPLICATION_NAME: &str = "streamhooks_speckle_dispatch";

/// The `application_name` the stock service asks for.
pub const STOCK_APPLICATION_NAME: &str = "speckle_webhook_service";

/// A session that looks like the stock service.
#[derive(Debug, Clone, Serialize)]
pub struct StockSession {
    pub pid: i32,
    pub application_name: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    /// The start of its last statement.
    pub query: Option<String>,
}

/// The patterns of the stock service's statements (module docs), for `LIKE`.
const CLAIM_PATTERN: &str =
    "%UPDATE webhooks_events%\"status\" = 1%SELECT \"id\" FROM webhooks_events%\"status\" = 0%";
const READ_PATTERN: &str = "%FROM webhooks_events ev%INNER JOIN webhooks_config cnf%";

/// Sessions on this database, other than ours, that look like the stock service.
pub async fn stock_sessions(pool: &PgPool) -> Result<Vec<StockSession>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT pid, application_name::text, usename::text AS user, client_addr::text AS client, \
                left(query, 160) AS query \
         FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND application_name IS DISTINCT FROM $1 \
           AND (application_name = $2 OR query LIKE $3 OR query LIKE $4) \
         ORDER BY pid",
    )
    .bind(APPLICATION_NAME)
    .bind(STOCK_APPLICATION_NAME)
    .bind(CLAIM_PATTERN)
    .bind(READ_PATTERN)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StockSession {
                pid: r.try_get("pid")?,
                application_name: r.try_get("application_name")?,
                user: r.try_get("user")?,
                client: r.try_get("client")?,
                query: r.try_get("query")?,
            })
        })
        .collect()
}

/// The sentence that refuses to start beside `sessions` (never empty) on `where_`.
pub fn refusal(where_: &str, sessions: &[StockSession]) -> String {
    let first = &sessions[..sessions.len().min(3)];
    let seen: Vec<String> = first
        .iter()
        .map(|s| {
            format!(
                "pid {} ({}{})",
                s.pid,
                s.application_name
                    .as_deref()
                    .unwrap_or("no application_name"),
                s.client
                    .as_deref()
                    .map(|c| format!(" from {c}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!(
        "Speckle's own webhook-service appears to be connected to {where_} ({}); two dispatchers \
         on one database can send an event twice. Turn the stock one off first (Helm: \
         webhook_service.enabled: false; docker-compose: stop and remove the webhook-service \
         service), or start with --allow-stock-service (STREAMHOOKS_ALLOW_STOCK_SERVICE=true) to \
         run beside it anyway.",
        seen.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQL `LIKE` with `%` only, enough to hold the patterns to the stock service's text.
    fn like(text: &str, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.split('%').collect();
        let mut rest = text;
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            match rest.find(p) {
                Some(at) if i > 0 || at == 0 => rest = &rest[at + p.len()..],
                _ => return false,
            }
        }
        true
    }

    #[test]
    fn the_stock_services_statements_match_and_ours_do_not() {
        // Verbatim from packages/webhook-service/src/main.js at 51d43b91.
        let claim = "\n    UPDATE webhooks_events\n    SET\n      \"status\" = 1,\n      \
                     \"lastUpdate\" = NOW()\n    FROM (\n      SELECT \"id\" FROM webhooks_events\n      \
                     WHERE \"status\" = 0\n      ORDER BY \"lastUpdate\" ASC\n      LIMIT 1\n    ) as task";
        let read = "\n      SELECT\n        ev.payload as evt,\n        cnf.id as wh_id\n      \
                    FROM webhooks_events ev\n      INNER JOIN webhooks_config cnf ON ev.\"webhookId\" = cnf.id";
        assert!(like(claim, CLAIM_PATTERN));
        assert!(like(read, READ_PATTERN));
        assert!(!like(super::super::claim::CLAIM_SQL, CLAIM_PATTERN));
        assert!(!like(super::super::claim::CLAIM_SQL, READ_PATTERN));
        // What knex's builder writes for Speckle's server.
        let server = "select * from \"webhooks_events\" where \"webhookId\" = $1 order by \"lastUpdate\" desc";
        assert!(!like(server, CLAIM_PATTERN) && !like(server, READ_PATTERN));
    }
}
