//! Claiming from a Speckle database: one statement leases what is due and returns it with its
//! payload and its webhook, whichever of the two places it waits in.
//!
//! - New events: Speckle's rows at `status = 0` that no `deliveries` row of ours holds. The
//!   claim locks them with `FOR UPDATE SKIP LOCKED` (replicas get different rows without
//!   waiting) and adds their `deliveries` row with our lease, which is what holds them from then
//!   on: a replica whose snapshot missed another's new row finds it through the unique
//!   `event_id` and leaves the event alone (`ON CONFLICT DO NOTHING`). Speckle's row itself is
//!   not written: it stays at 0, `Pending`, until the first attempt's result takes it to 2, 3,
//!   or 1 while retrying. The stock service writes 1 when it takes a row; every write to a
//!   Speckle row is a non-HOT update (its `status` column is indexed) that copies the 1.7 KB row
//!   and adds an entry to each of its three indexes, and leaving this one out took the drain
//!   from ~12,000 to ~14,300 events/s and the backends' CPU from ~85 to ~67 ms per 1,000
//!   (`streamhooks-bench --only speckle --speckle-stock false`, BENCHMARKS.md "speckle").
//! - Events of ours that wait for a retry, or whose lease expired with a crashed replica:
//!   `deliveries` rows whose `due_at` has come and that nobody holds, in due order. One whose
//!   event is gone (its webhook was deleted) or was finished by someone else is leased but not
//!   returned; the sweep removes it once the lease ends.
//!
//! The decision a reader will question: new events are taken in the order of Speckle's `status`
//! index, not by `lastUpdate` as the stock service orders them. Ordering by `lastUpdate` sorts
//! every pending row on each claim (there is no index on it, and we may add none to Speckle's
//! tables): O(backlog) per claim, which is what makes the stock service slow down as its backlog
//! grows. Equal keys of a B-tree are kept in heap order, which for rows that are only ever
//! inserted is the order they came in, so the walk is oldest first in practice and stops after
//! `limit` rows. The store's connections run with sequential and bitmap scans off (see
//! `super::pool`) so that a table whose rows are nearly all pending is still walked by the index
//! in order: a sequential scan would step over every row claimed before it, and a bitmap scan
//! would collect every pending row first, on every claim.
//!
//! A leased row's `due_at` is its lease's end, the time it becomes claimable again should its
//! replica die, and only a row waiting for a retry (or given back) has one in the past. So the
//! claim's walk of `deliveries_due` for due rows never passes the rows in flight, nor the index
//! entries that finished rows leave behind until vacuum (they lie a lease ahead): measured while
//! draining 50,000 events, that walk took 6.5 ms per claim, growing with the drain, when claims
//! wrote `due_at = now`.
//!
//! The walk of the `status` index passes the rows at 0 that are in flight (each one probe of
//! `deliveries`' `event_id` index): as many as the dispatcher holds, never the backlog.
//!
//! Durability as for our claim (`crate::dispatch::claim`): none needed, so the statement commits
//! with `synchronous_commit = off`. Lost in a crash, the rows are at 0 with no `deliveries` row,
//! and are claimed again.

use std::collections::HashMap;

use rand::Rng;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, PgPool, Row as _};
use sea_orm::DbErr;
use serde::Deserialize;

use crate::core::secrets::cipher::Secrets;
use crate::core::sql::db_err;
use crate::rows::{Claimed, Endpoint};

/// The claim statement (module docs). `$1` now (epoch ms), `$2` lease end, `$3` lease token,
/// `$4` rows at most, `$5` webhooks left out.
pub const CLAIM_SQL: &str = "\
WITH again AS (
    SELECT ctid, id, due_at FROM streamhooks.deliveries
    WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
      AND webhook_id <> ALL($5)
    ORDER BY due_at LIMIT $4
    FOR UPDATE SKIP LOCKED),
retried AS (
    UPDATE streamhooks.deliveries d
    SET lease_until = $2, lease_token = $3, leased_at = $1, prior_lease_at = d.leased_at,
        attempt = d.attempt + 1, due_at = $2
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM again))
    RETURNING d.id, d.event_id, d.webhook_id, d.attempt, d.retry_count, d.prior_lease_at),
fresh AS (
    SELECT e.id, COALESCE(e.\"webhookId\", '') AS webhook_id, e.payload FROM webhooks_events e
    WHERE e.status = 0 AND COALESCE(e.\"webhookId\", '') <> ALL($5)
      AND NOT EXISTS (SELECT 1 FROM streamhooks.deliveries d WHERE d.event_id = e.id)
    LIMIT $4 - (SELECT count(*) FROM again)
    FOR UPDATE OF e SKIP LOCKED),
added AS (
    INSERT INTO streamhooks.deliveries AS d
        (event_id, webhook_id, attempt, due_at, lease_token, lease_until, leased_at)
    SELECT id, webhook_id, 1, $2, $3, $2, $1 FROM fresh
    ON CONFLICT (event_id) DO NOTHING
    RETURNING d.id, d.event_id, d.webhook_id, d.attempt, d.retry_count, d.prior_lease_at),
got AS (
    SELECT r.id, r.event_id, r.webhook_id, r.attempt, r.retry_count, g.due_at,
        r.prior_lease_at, e.payload
    FROM retried r JOIN again g ON g.id = r.id
    CROSS JOIN LATERAL (SELECT payload FROM webhooks_events
                        WHERE id = r.event_id AND status IN (0, 1) OFFSET 0) e
    UNION ALL
    SELECT a.id, a.event_id, a.webhook_id, a.attempt, a.retry_count, $1 AS due_at,
        a.prior_lease_at, t.payload
    FROM added a JOIN fresh t ON t.id = a.event_id),
firsts AS (
    SELECT min(id) AS id FROM (
        SELECT id, webhook_id FROM added
        UNION ALL
        SELECT r.id, r.webhook_id FROM retried r
        WHERE EXISTS (SELECT 1 FROM webhooks_events WHERE id = r.event_id AND status IN (0, 1))
    ) k GROUP BY webhook_id)
SELECT c.*, w.* FROM got c
LEFT JOIN LATERAL (SELECT id AS w_id, url AS w_url, secret AS w_secret, enabled AS w_enabled
                   FROM webhooks_config
                   WHERE id = c.webhook_id AND c.id IN (SELECT id FROM firsts) OFFSET 0) w ON true
CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS durability";

struct Row {
    id: i64,
    event_id: String,
    webhook_id: String,
    attempt: i32,
    retry_count: i32,
    due_at: i64,
    prior_lease_at: Option<i64>,
    payload: Option<String>,
    /// Its webhook, on the first claimed row of each webhook that still exists.
    webhook: Option<Config>,
}

impl Row {
    fn read(r: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Row {
            id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            webhook_id: r.try_get("webhook_id")?,
            attempt: r.try_get("attempt")?,
            retry_count: r.try_get("retry_count")?,
            due_at: r.try_get("due_at")?,
            prior_lease_at: r.try_get("prior_lease_at")?,
            payload: r.try_get("payload")?,
            webhook: Config::read(r)?,
        })
    }
}

/// The part of a stored payload the claim reads: Speckle's event name, for `X-WEBHOOK-EVENT`.
#[derive(Deserialize)]
struct Named {
    event: Option<EventName>,
}

#[derive(Deserialize)]
struct EventName {
    event_name: Option<String>,
}

/// What a claim got: events ready to send, the webhooks they go to (one deleted since its event
/// was queued is absent), and events whose stored payload is not a JSON object, which are not
/// sent (the stock service fails them too, reading the event name from the parsed payload) but
/// finished at once by the caller with the reason.
#[derive(Debug, Default)]
pub struct Claim {
    pub ready: Vec<Claimed>,
    pub webhooks: HashMap<String, Endpoint>,
    pub unreadable: Vec<(Claimed, String)>,
}

/// Claims up to `limit` due events for `lease_ms` (module docs), leaving out `skipped` webhooks,
/// with their webhooks ([`endpoint`]).
///
/// The webhooks come in the claim's own statement, as in our store's claim
/// (`crate::dispatch::claim::claim_with_webhooks` says why: claims run one at a time, so a
/// second round trip per claim is throughput lost when the database is a network hop away): with
/// 0.5 ms added each way (`bench/delay_proxy.py`), 5,000 events over 1,000 webhooks drained at
/// 8,229 against 6,300/s, on loopback within noise (BENCHMARKS.md, "speckle"). Each webhook is
/// read once, with the first of its claimed rows (`firsts`); the other rows leave its columns
/// NULL. `firsts` is taken from the leased rows' ids, not from `got`: a CTE named twice is
/// written out in full first, and `got` carries every payload (~0.4 ms more per claim of 200 in
/// `EXPLAIN ANALYZE`).
pub async fn claim(
    pool: &PgPool,
    secrets: &Secrets,
    now_ms: i64,
    lease_ms: i64,
    limit: u64,
    skipped: &[String],
) -> Result<Claim, DbErr> {
    let token: i64 = rand::thread_rng().gen();
    let lease_until = now_ms + lease_ms;
    let rows = sqlx::query(CLAIM_SQL)
        .bind(now_ms)
        .bind(lease_until)
        .bind(token)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(skipped)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    let mut out = Claim::default();
    for r in rows.iter().map(Row::read) {
        let r = r.map_err(db_err)?;
        if let Some(config) = r.webhook {
            let endpoint = endpoint(config, secrets)?;
            out.webhooks.insert(endpoint.id.clone(), endpoint);
        }
        let payload = r.payload.unwrap_or_default();
        let named = serde_json::from_str::<Named>(&payload);
        let mut claimed = Claimed {
            id: r.id,
            webhook_id: r.webhook_id,
            event_name: String::new(),
            payload,
            retry_count: r.retry_count,
            manual: false,
            attempt: r.attempt,
            due_at: r.due_at,
            lease_token: token,
            lease_until,
            leased_at: now_ms,
            prior_lease_at: r.prior_lease_at,
        };
        match named {
            Ok(n) => {
                claimed.event_name = n.event.and_then(|e| e.event_name).unwrap_or_default();
                out.ready.push(claimed);
            }
            Err(e) => out.unreadable.push((
                claimed,
                format!(
                    "Not sent: the stored payload of event {} is not a JSON object ({e}).",
                    r.event_id
                ),
            )),
        }
    }
    // Retries in due order, then new events in the order the index gave them.
    out.ready.sort_by_key(|r| r.due_at);
    Ok(out)
}

#[derive(Debug)]
struct Config {
    id: String,
    url: Option<String>,
    secret: Option<String>,
    enabled: Option<bool>,
}

impl Config {
    /// The claim row's webhook columns; `None` on a row that does not carry them.
    fn read(r: &PgRow) -> Result<Option<Self>, sqlx::Error> {
        let Some(id) = r.try_get("w_id")? else {
            return Ok(None);
        };
        Ok(Some(Config {
            id,
            url: r.try_get("w_url")?,
            secret: r.try_get("w_secret")?,
            enabled: r.try_get("w_enabled")?,
        }))
    }
}

/// A webhook read from Speckle's `webhooks_config`, shaped as the engine sends with it: Speckle's
/// ≥ 2.12 wire format (`speckle-object`), signed with the plain-text secret Speckle stores (the
/// empty key when there is none, as the stock service does), which is sealed under `secrets`,
/// this process's own key, because the engine opens every secret it signs with. A webhook whose
/// `enabled` is NULL counts as enabled: the column's default is true, and the stock service sends
/// regardless.
///
/// Sealing draws a nonce from the OS; should that fail, the whole claim fails rather than
/// leaving the webhook out (which would finish its events as not sent, with a deleted webhook's
/// reason): the claimed rows keep their leases and are claimed again once those run out, so
/// nothing is lost.
fn endpoint(c: Config, secrets: &Secrets) -> Result<Endpoint, DbErr> {
    let secret = match c.secret.filter(|s| !s.is_empty()) {
        None => None,
        Some(plain) => Some(secrets.seal(&plain).map_err(|e| {
            DbErr::Custom(format!(
                "cannot seal the secret of webhook {} for signing ({e}); its events are claimed \
                 again once their leases run out",
                c.id
            ))
        })?),
    };
    Ok(Endpoint {
        id: c.id,
        url: c.url.unwrap_or_default(),
        secret,
        enabled: c.enabled.unwrap_or(true),
        disabled_reason: None,
        format: crate::core::wire::Format::SpeckleObject.as_str().into(),
        previous_secret: None,
        previous_secret_expires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_name_is_read_from_speckles_payload() {
        let p = r#"{"streamId":"s","event":{"event_name":"commit_create","data":{}},"x":[1,2]}"#;
        let n: Named = serde_json::from_str(p).unwrap_or(Named { event: None });
        assert_eq!(
            n.event.and_then(|e| e.event_name).as_deref(),
            Some("commit_create")
        );
        assert!(serde_json::from_str::<Named>("{\"event\":").is_err());
        assert!(serde_json::from_str::<Named>("{}").is_ok());
    }
}
