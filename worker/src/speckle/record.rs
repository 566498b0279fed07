//! Writing a batch of results to a Speckle database: one statement per batch, so a burst of N
//! results costs one commit, as in our store (`crate::dispatch::record`).
//!
//! Per result, only while its lease token still holds the `deliveries` row:
//! - finished (sent, failed for good, not sent): the `deliveries` row goes, and Speckle's row gets
//!   its final status: 2 with `Webhook called`, the stock service's exact words, which Speckle's
//!   monitoring and web app know; or 3 with the engine's sentence (the HTTP code and what came
//!   back, a timeout, a refused address, a disabled webhook);
//! - to be tried again: the `deliveries` row gets its new due time, and Speckle's row goes to (or
//!   stays at) 1 (Speckle has no "waiting" state, and 0 would hand the event to anything that
//!   polls it) with the engine's sentence: what failed, attempt n of m, and when the next one is
//!   due;
//! - given back (shutdown, a lease too short to start): the lease ends and the attempt it counted
//!   is taken back; Speckle's row is left as it is: at 0 if it has not been tried yet (the claim
//!   does not write it, `super::claim`), at 1 if it was waiting for a retry.
//!
//! `lastUpdate` is bumped with every change, which is also what keeps an event we are retrying
//! from looking abandoned to the adoption sweep (`super::sweep`). Attempts go to our `attempts`
//! table. Speckle's three columns are all that is written of Speckle's tables.

use std::collections::HashSet;

use chrono::{SubsecRound, Utc};
use entity::webhook_event::{STATUS_PROCESSING, STATUS_SUCCEEDED};
use sea_orm::sqlx::{self, PgPool, Row as _};

use crate::dispatch::record::finish_all::AttemptColumns;
use crate::dispatch::record::latest_per_event;
use crate::rows::{AttemptRow, Kind, Update};

/// What the stock service writes to `statusInfo` on success.
pub const WEBHOOK_CALLED: &str = "Webhook called";

/// The batch statement: `$1`..`$7` the results' columns, `$8`..`$17` their attempts' (the
/// columns of our store's attempts, [`AttemptColumns`]), `$18` each attempt's webhook, each an
/// array bound in PostgreSQL's binary format ([`Batch`]). Each result finds its `deliveries` row
/// through the primary key, in a nested loop over the results. (With the ids also given as
/// `id = ANY(array)`, the planner put both into each probe of the index: one descent per array
/// element per result, 1,024² for a full batch, over a second each while draining 50,000
/// events.) As two JSON documents unpacked by `jsonb_to_recordset`, the server parsed every value
/// out of text, which our own store measured at ~7 µs per row of the ~21 µs its batch took
/// (`crate::dispatch::record::finish_all`).
const WRITE_SQL: &str = "\
WITH v AS (
    SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::INT[], $4::BIGINT[], $5::INT[],
        $6::INT[], $7::TEXT[]) AS v(id, token, kind, due, retry_count, status, info)),
done AS (
    DELETE FROM streamhooks.deliveries d USING v
    WHERE d.id = v.id AND d.lease_token = v.token AND v.kind = 0
    RETURNING d.id, d.event_id),
kept AS (
    UPDATE streamhooks.deliveries d SET
        due_at = COALESCE(v.due, d.due_at),
        retry_count = CASE WHEN v.kind = 1 THEN v.retry_count ELSE d.retry_count END,
        attempt = d.attempt - CASE WHEN v.kind = 2 THEN 1 ELSE 0 END,
        lease_token = NULL, lease_until = NULL, leased_at = NULL, prior_lease_at = NULL
    FROM v WHERE d.id = v.id AND d.lease_token = v.token AND v.kind <> 0
    RETURNING d.id, d.event_id),
applied AS (SELECT id, event_id FROM done UNION ALL SELECT id, event_id FROM kept),
events AS (
    UPDATE webhooks_events e SET status = v.status, \"statusInfo\" = v.info, \"lastUpdate\" = now()
    FROM applied a JOIN v ON v.id = a.id
    WHERE e.id = a.event_id AND v.kind <> 2
    RETURNING e.id),
attempts AS (
    INSERT INTO streamhooks.attempts (delivery_id, number, event_id, webhook_id, started_at,
        duration_ms, outcome, status_code, error, response_headers, response_body, worker)
    SELECT t.delivery_id, t.number, a.event_id, t.webhook_id, t.started_at, t.duration_ms,
        t.outcome, t.status_code, t.error, t.response_headers, t.response_body, t.worker
    FROM unnest($8::BIGINT[], $9::INT[], $10::TIMESTAMPTZ[], $11::INT[], $12::TEXT[],
        $13::INT[], $14::TEXT[], $15::TEXT[], $16::TEXT[], $17::TEXT[], $18::TEXT[])
        AS t(delivery_id, number, started_at, duration_ms, outcome, status_code, error,
            response_headers, response_body, worker, webhook_id)
    JOIN applied a ON a.id = t.delivery_id
    ON CONFLICT DO NOTHING
    RETURNING 1)
SELECT id FROM applied";

/// Attempts a claim took over from expired leases: inserted with the Speckle event id and webhook
/// of their `deliveries` row. `$1`..`$10`: the attempts' columns ([`AttemptColumns`]).
const INTERRUPTED_SQL: &str = "\
INSERT INTO streamhooks.attempts (delivery_id, number, event_id, webhook_id, started_at,
    duration_ms, outcome, status_code, error, response_headers, response_body, worker)
SELECT t.delivery_id, t.number, d.event_id, d.webhook_id, t.started_at, t.duration_ms,
    t.outcome, t.status_code, t.error, t.response_headers, t.response_body, t.worker
FROM unnest($1::BIGINT[], $2::INT[], $3::TIMESTAMPTZ[], $4::INT[], $5::TEXT[], $6::INT[],
    $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[])
    AS t(delivery_id, number, started_at, duration_ms, outcome, status_code, error,
        response_headers, response_body, worker)
JOIN streamhooks.deliveries d ON d.id = t.delivery_id
ON CONFLICT DO NOTHING";

/// A result batch as one array per column, borrowed from the batch ([`WRITE_SQL`]).
#[derive(Default)]
struct Batch<'a> {
    id: Vec<i64>,
    token: Vec<i64>,
    /// 0 finished, 1 retry, 2 given back.
    kind: Vec<i32>,
    due: Vec<Option<i64>>,
    retry_count: Vec<i32>,
    status: Vec<i32>,
    info: Vec<&'a str>,
    /// `delivery_id` is the attempt's `event_id`: in this store, the `deliveries` row's id.
    attempts: AttemptColumns<'a>,
    att_webhook: Vec<&'a str>,
}

impl<'a> Batch<'a> {
    fn new(latest: &[&'a Update], now_ms: i64) -> Self {
        let mut b = Batch::default();
        for u in latest {
            let (status, info) = speckle_status(u);
            // Given back: due at once (while leased, `due_at` was the lease's end).
            let (kind, due) = match u.kind {
                Kind::Finish => (0, None),
                Kind::Retry { due_at } => (1, Some(due_at)),
                Kind::Release => (2, Some(now_ms)),
            };
            b.id.push(u.id);
            b.token.push(u.lease_token);
            b.kind.push(kind);
            b.due.push(due);
            b.retry_count.push(u.retry_count);
            b.status.push(status);
            b.info.push(info);
            if let Some(a) = &u.attempt {
                // Milliseconds, as the attempts made before this statement took arrays.
                b.attempts.push(a, a.started_at.trunc_subsecs(3));
                b.att_webhook.push(&u.webhook_id);
            }
        }
        b
    }

    /// Runs [`WRITE_SQL`]; returns the `deliveries` ids it applied.
    async fn fetch(self, pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
        let results = sqlx::query(WRITE_SQL)
            .bind(self.id)
            .bind(self.token)
            .bind(self.kind)
            .bind(self.due)
            .bind(self.retry_count)
            .bind(self.status)
            .bind(self.info);
        let rows = self
            .attempts
            .bind(results)
            .bind(self.att_webhook)
            .fetch_all(pool)
            .await?;
        rows.iter().map(|r| r.try_get::<i64, _>("id")).collect()
    }
}

/// Speckle's status and `statusInfo` for a result (module docs).
fn speckle_status(u: &Update) -> (i32, &str) {
    match u.kind {
        Kind::Retry { .. } => (i32::from(STATUS_PROCESSING), &u.status_info),
        Kind::Finish if u.status == STATUS_SUCCEEDED => {
            (i32::from(STATUS_SUCCEEDED), WEBHOOK_CALLED)
        }
        Kind::Finish => (i32::from(u.status), &u.status_info),
        Kind::Release => (i32::from(STATUS_PROCESSING), ""),
    }
}

/// Writes one batch (module docs); results whose lease was lost are dropped, as in our store.
pub async fn write(pool: &PgPool, batch: &[Update]) -> Result<(), sqlx::Error> {
    let latest: Vec<&Update> = latest_per_event(batch).collect();
    if latest.is_empty() {
        return Ok(());
    }
    let now_ms = Utc::now().timestamp_millis();
    let applied = Batch::new(&latest, now_ms).fetch(pool).await?;
    let applied: HashSet<i64> = applied.into_iter().collect();
    for u in latest.iter().filter(|u| !applied.contains(&u.id)) {
        tracing::debug!(
            delivery = u.id,
            "lease lost (or the event deleted) before the result was recorded; result dropped"
        );
    }
    Ok(())
}

/// Inserts attempts of rows that are still in `deliveries` (interrupted attempts found by a
/// claim); `event_id` and `webhook_id` are read from there.
pub async fn insert_interrupted(pool: &PgPool, attempts: &[AttemptRow]) -> Result<(), sqlx::Error> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut columns = AttemptColumns::default();
    for a in attempts {
        columns.push(a, a.started_at.trunc_subsecs(3));
    }
    columns
        .bind(sqlx::query(INTERRUPTED_SQL))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(kind: Kind, status: i16, info: &str) -> Update {
        Update {
            id: 1,
            lease_token: 2,
            lease_until: 3,
            webhook_id: "w".into(),
            kind,
            status,
            status_info: info.into(),
            retry_count: 0,
            last_update: Utc::now(),
            effect: crate::rows::Effect::None,
            attempt: None,
        }
    }

    #[test]
    fn speckle_sees_its_own_words_and_states() {
        let ok = update(Kind::Finish, 2, "HTTP 200 in 3ms on attempt 1.");
        assert_eq!(speckle_status(&ok), (2, WEBHOOK_CALLED));
        let failed = update(
            Kind::Finish,
            3,
            "HTTP 503 Service Unavailable. Attempt 3 of 3.",
        );
        assert_eq!(speckle_status(&failed).0, 3);
        assert!(speckle_status(&failed).1.contains("503"));
        // Waiting for a retry stays "taken", never back to pending.
        let retry = update(
            Kind::Retry { due_at: 9 },
            0,
            "HTTP 503. Attempt 1 of 3; next …",
        );
        assert_eq!(
            speckle_status(&retry),
            (1, "HTTP 503. Attempt 1 of 3; next …")
        );
    }
}
