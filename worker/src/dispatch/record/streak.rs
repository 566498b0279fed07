//! Auto-disable bookkeeping: a success resets a webhook's streak of final failures, final
//! failures add to it, and a webhook whose streak reaches `DISABLE_AFTER_FAILURES` is disabled with
//! the reason stated. Runs inside the recorder's transaction, on the results whose lease still
//! held. The counters are read-modify-written with `RETURNING` in that transaction, so two
//! recorders cannot lose each other's increments, and rows are taken in webhook id order, so two
//! recorders cannot deadlock on them.

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};

use crate::rows::{Effect, Update};

#[derive(Default)]
struct Streak<'a> {
    succeeded: bool,
    finals_after_success: i32,
    last_error: &'a str,
}

#[derive(FromQueryResult)]
struct Counter {
    consecutive_failures: i32,
    enabled: bool,
}

/// Success resets a webhook's streak of final failures; final failures add to it and may
/// disable the webhook.
pub async fn update(
    txn: &impl ConnectionTrait,
    applied: &[&Update],
    disable_after: u32,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut streaks: HashMap<&str, Streak<'_>> = HashMap::new();
    // Results arrive in completion order, so "after the last success" is the streak.
    for u in applied {
        match u.effect {
            Effect::None => {}
            Effect::Success => {
                let s = streaks.entry(&u.webhook_id).or_default();
                s.succeeded = true;
                s.finals_after_success = 0;
            }
            Effect::FinalFailure => {
                let s = streaks.entry(&u.webhook_id).or_default();
                s.finals_after_success += 1;
                s.last_error = &u.status_info;
            }
        }
    }
    // Webhook id order, so two recorders lock shared rows in the same order.
    let mut streaks: Vec<(&str, Streak<'_>)> = streaks.into_iter().collect();
    streaks.sort_unstable_by_key(|(id, _)| *id);

    let reset: Vec<&str> = streaks
        .iter()
        .filter(|(_, s)| s.succeeded && s.finals_after_success == 0)
        .map(|(id, _)| *id)
        .collect();
    if !reset.is_empty() {
        let (cond, ids) = crate::core::sql::text_in(backend, "id", 1, &reset);
        let sql = format!(
            "UPDATE webhooks_config SET consecutive_failures = 0 \
             WHERE consecutive_failures <> 0 AND {cond}"
        );
        txn.execute(Statement::from_sql_and_values(backend, sql, [ids]))
            .await?;
    }

    let now = Utc::now();
    for (id, s) in streaks.iter().filter(|(_, s)| s.finals_after_success > 0) {
        let base = if s.succeeded {
            "0"
        } else {
            "consecutive_failures"
        };
        let sql = format!(
            "UPDATE webhooks_config SET consecutive_failures = {base} + $1 WHERE id = $2 \
             RETURNING consecutive_failures, enabled"
        );
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [s.finals_after_success.into(), (*id).into()],
        );
        let Some(c) = Counter::find_by_statement(stmt).one(txn).await? else {
            continue;
        };
        let limit = i64::from(disable_after);
        if disable_after == 0 || i64::from(c.consecutive_failures) < limit || !c.enabled {
            continue;
        }
        let reason = format!(
            "Disabled automatically at {} after {} deliveries in a row failed finally. Last error: {}",
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
            c.consecutive_failures,
            s.last_error
        );
        tracing::warn!(webhook = *id, %reason, "webhook disabled");
        txn.execute(Statement::from_sql_and_values(
            backend,
            "UPDATE webhooks_config SET enabled = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4",
            [false.into(), reason.into(), now.into(), (*id).into()],
        ))
        .await?;
    }
    Ok(())
}
