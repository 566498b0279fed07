//! Leases on queue rows: what one is ([`Lease`], the columns a claim writes) and how one ends
//! without finishing its event ([`requeue`]): the row goes back in the queue, either to be tried
//! again at a new `due_at` (a retry) or untouched (a release, which also takes back the attempt
//! the claim counted). Two writers end leases this way: the recorder, for the retries and releases
//! of a result batch, and the in-process hand-off, for the rows a commit leased to a request that
//! was stopped. Both match the lease token, so a row another claim holds now is left alone.
//!
//! The statement is in the core rather than beside the recorder's other statements because the
//! hand-off, which the API drives, needs it too. Its rows travel as the result statements' do:
//! one JSON parameter on PostgreSQL, a padded `VALUES` list on SQLite (see [`crate::core::sql`]).

use sea_orm::{DatabaseBackend, Statement};
use serde::Serialize;

use crate::core::sql::{pg, values_cte};
use crate::rows::{Kind, Update};

/// The lease written with the queue rows: the same columns a claim would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: i64,
    /// Epoch ms.
    pub leased_at: i64,
    pub until: i64,
}

/// Ends the lease of rows to be tried again (new `due_at`) or given back (`undo` takes back the
/// attempt the claim counted); returns `event_id`s.
pub fn requeue(backend: DatabaseBackend, chunk: &[&Update]) -> Statement {
    let due_undo = |u: &Update| match u.kind {
        Kind::Retry { due_at } => (Some(due_at), 0i32),
        _ => (None, 1i32),
    };
    let set = "due_at = COALESCE(v.due, webhooks_queue.due_at), \
               attempt = webhooks_queue.attempt - v.undo, lease_token = NULL, \
               lease_until = NULL, leased_at = NULL, prior_lease_at = NULL";
    if backend == DatabaseBackend::Postgres {
        #[derive(Serialize)]
        struct Row {
            id: i64,
            token: i64,
            due: Option<i64>,
            undo: i32,
        }
        let rows: Vec<Row> = chunk
            .iter()
            .map(|u| {
                let (due, undo) = due_undo(u);
                Row {
                    id: u.id,
                    token: u.lease_token,
                    due,
                    undo,
                }
            })
            .collect();
        return pg(
            &format!(
                "UPDATE webhooks_queue SET {set} \
                 FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
                   AS v(id BIGINT, token BIGINT, due BIGINT, undo INT) \
                 WHERE webhooks_queue.event_id = ANY(CAST($2 AS BIGINT[])) \
                 AND webhooks_queue.event_id = v.id AND webhooks_queue.lease_token = v.token \
                 RETURNING webhooks_queue.event_id"
            ),
            &rows,
            chunk.iter().map(|u| u.id),
        );
    }
    let rows = chunk
        .iter()
        .map(|u| {
            let (due, undo) = due_undo(u);
            vec![u.id.into(), u.lease_token.into(), due.into(), undo.into()]
        })
        .collect();
    let pad = [(-1i64).into(), 0i64.into(), Some(0i64).into(), 0i32.into()];
    let (cte, values) = values_cte(backend, "id, token, due, undo", rows, &pad);
    let sql = format!(
        "{cte}UPDATE webhooks_queue SET {set} \
         FROM v WHERE webhooks_queue.event_id = v.id AND webhooks_queue.lease_token = v.token \
         RETURNING webhooks_queue.event_id"
    );
    Statement::from_sql_and_values(backend, sql, values)
}
