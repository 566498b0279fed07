//! What a webhook's history page weighs before it is loaded, for the answer budget
//! ([`crate::context::limits::budget`]): a history page's events hold their payloads in memory
//! whether or not the client asked for them, and decoding a page briefly takes several times its
//! size, so a page is charged from the stored lengths and refused unread when it does not fit.
//!
//! The decision a reader may question: the lengths of every page one request asks at once (a
//! stream's hundred webhooks) are read by one statement, through a `DataLoader`
//! ([`HistoryBytes`]) that the schema root installs, rather than a statement per page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::context::error::Error;
use crate::context::limits::budget;
use crate::webhooks::history::{page_ids_sql, page_ids_values, Start};

/// Counts history pages before they are loaded: for each `((webhook id, limit, start), copies)`
/// in `pages` (once per time the answer will hold it), the `limit` events from `start` (after an
/// offset, or below a cursor), their payload and statusInfo bytes as the database holds them,
/// times `copies` (the most times one event's `payload` or `statusInfo` is selected,
/// [`text_copies`]: aliases copy the text). Loading a page takes several times its size while
/// rows are decoded, so pages that do not fit must be refused unread; the sizes come from
/// [`HistoryBytes`], one statement for every page asked at once. `at` names the history field
/// for the refusal.
pub async fn reserve_history(
    ctx: &Context<'_>,
    pages: &[(PageKey, usize)],
    at: impl FnOnce() -> String,
) -> Result<(), Error> {
    let Some(budget) = ctx.data_opt::<Arc<budget::Budget>>() else {
        return Ok(());
    };
    let Some(loader) = ctx.data_opt::<DataLoader<HistoryBytes>>() else {
        return Ok(());
    };
    let sizes = loader
        .load_many(pages.iter().map(|(k, _)| k.clone()))
        .await
        .map_err(|e| Error::Internal(format!("history page sizes: {e}")))?;
    let bytes = pages
        .iter()
        .map(|(k, copies)| {
            sizes
                .get(k)
                .copied()
                .unwrap_or(0)
                .saturating_mul((*copies).max(1) as u64)
        })
        .fold(0u64, u64::saturating_add);
    budget
        .charge(usize::try_from(bytes).unwrap_or(usize::MAX), at)
        .map_err(|o| budget.refusal(o))
}

/// How many times an event's loaded text is selected under `items` (`payload`, `statusInfo`,
/// each with its aliases), so [`reserve_history`] charges every copy the answer will hold.
pub fn text_copies(items: async_graphql::Lookahead<'_>) -> usize {
    budget::COUNTED_AT_LOAD
        .iter()
        .map(|(_, field)| items.field(field).selection_fields().len())
        .max()
        .unwrap_or(0)
}

/// A history page as the budget prices it: (webhook id, limit, where it starts).
pub type PageKey = (String, u64, Start);

/// Sizes of history pages, keyed by (webhook id, limit, start), batched: concurrent `history`
/// fields (a stream's hundred webhooks) cost one statement, a scalar subquery per page, each an
/// index range scan on `(webhook_id, id)` reading lengths, not text (`octet_length`, SQLite >= 3.43
/// and PostgreSQL, reads the stored length).
pub struct HistoryBytes {
    pub db: DatabaseConnection,
}

/// The bytes of each page in `keys`, one column per page, in order; public so the bench can
/// EXPLAIN exactly what runs.
pub fn page_bytes_statement(backend: DbBackend, keys: &[PageKey]) -> Statement {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(keys.len());
    let mut columns = Vec::with_capacity(keys.len());
    for (i, (id, limit, start)) in keys.iter().enumerate() {
        let mark = |n: usize| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        let (webhook_mark, cursor_mark) = (mark(values.len() + 1), mark(values.len() + 2));
        // The page's ids as the page itself picks them, then its rows by key; the payload is in
        // its own table.
        columns.push(format!(
            "(SELECT COALESCE(SUM(COALESCE(octet_length(p.payload), 0) \
               + octet_length(e.status_info)), 0) \
             FROM ({}) AS k{i} \
             JOIN webhooks_events e ON e.id = k{i}.id \
             LEFT JOIN webhooks_event_payloads p ON p.event_id = k{i}.id)",
            page_ids_sql(&webhook_mark, *limit, *start, &cursor_mark)
        ));
        values.extend(page_ids_values(id, *start));
    }
    Statement::from_sql_and_values(backend, format!("SELECT {}", columns.join(", ")), values)
}

impl Loader<PageKey> for HistoryBytes {
    type Value = u64;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[PageKey]) -> Result<HashMap<PageKey, u64>, Self::Error> {
        let row = self
            .db
            .query_one(page_bytes_statement(self.db.get_database_backend(), keys))
            .await
            .map_err(Arc::new)?;
        let mut out = HashMap::with_capacity(keys.len());
        if let Some(row) = row {
            for (i, key) in keys.iter().enumerate() {
                let n: i64 = row.try_get_by_index(i).map_err(Arc::new)?;
                out.insert(key.clone(), u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(out)
    }
}
