//! Shared reads for `POST /api/events`: each request needs its token, its stream's enabled
//! webhooks, the stream and the user; requests that arrive while such a read is running are read
//! together by the next one, one statement for all of them, and each gets back its own rows.
//!
//! Why: under load, a statement per request was a round trip per event on both sides (a wake-up
//! of a PostgreSQL backend, its protocol work, two context switches), the largest cost left on
//! the single-event path after the write was shared (`combine`). Nothing is cached: every request
//! is still answered from a read that began after it arrived, so a revoked token or a disabled
//! webhook counts from the next request. As in `combine`, nothing waits to fill a group: a request
//! that finds no read running is read at once, alone.

use std::collections::HashMap;
use std::sync::OnceLock;

use entity::{api_token, user};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Statement, Value};
use streamhooks_worker::outbox::{select_list, targets_columns};
use streamhooks_worker::sql;
use tokio::sync::{mpsc, oneshot};

use super::combine::in_groups;

/// Reads running at once. One: a read has no WAL flush to wait for, so a second read in flight
/// would only halve the groups (`combine` keeps two writes in flight to overlap their flushes).
/// Measured with `streamhooks-bench --only ingest` (20,000 events): one in flight used 8% less
/// CPU per event in PostgreSQL than two, for the same rate or better.
const IN_FLIGHT: usize = 1;
/// Requests read by one statement at most (a power of two: padded up to one, so a connection
/// prepares at most a few statement texts).
const MAX_GROUP: usize = 64;

/// What one request reads.
#[derive(Debug, Clone)]
pub struct Key {
    pub stream_id: String,
    pub user_id: String,
    pub token_id: String,
}

type Reply = oneshot::Sender<Result<Vec<QueryResult>, DbErr>>;

/// The sending end; dropping every clone ends the task.
#[derive(Clone, Debug)]
pub struct Lookup {
    tx: mpsc::UnboundedSender<(Key, Reply)>,
}

impl Lookup {
    pub fn spawn(db: DatabaseConnection) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, rx));
        Self { tx }
    }

    /// The rows of `key`, for [`streamhooks_worker::outbox::targets_from`], with the token's
    /// columns (`t_…`) and its owner's (`tu_…`) beside them: one row per enabled webhook of the
    /// stream, or one row of nulls for the webhook when it has none.
    pub async fn rows(&self, key: Key) -> Result<Vec<QueryResult>, DbErr> {
        let stopped = || DbErr::Custom("the ingest reader has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send((key, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: DatabaseConnection, rx: mpsc::UnboundedReceiver<(Key, Reply)>) {
    in_groups(
        rx,
        IN_FLIGHT,
        MAX_GROUP,
        |_| 1,
        move |group| {
            let db = db.clone();
            async move { read_group(&db, group).await }
        },
    )
    .await;
}

async fn read_group(db: &DatabaseConnection, group: Vec<(Key, Reply)>) {
    let (keys, replies): (Vec<Key>, Vec<Reply>) = group.into_iter().unzip();
    match db
        .query_all(statement(db.get_database_backend(), &keys))
        .await
    {
        Ok(rows) => {
            let mut per: HashMap<i64, Vec<QueryResult>> = HashMap::with_capacity(keys.len());
            for row in rows {
                match row.try_get::<i64>("", "o_ord") {
                    Ok(ord) => per.entry(ord).or_default().push(row),
                    Err(e) => {
                        // Cannot happen with the statement below; answered rather than assumed.
                        for reply in replies {
                            let _ = reply.send(Err(DbErr::Custom(e.to_string())));
                        }
                        return;
                    }
                }
            }
            for (i, reply) in replies.into_iter().enumerate() {
                let _ = reply.send(Ok(per.remove(&(i as i64)).unwrap_or_default()));
            }
        }
        Err(e) => {
            let shared = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(DbErr::Custom(shared.clone())));
            }
        }
    }
}

/// One statement for `keys`, padded to a power of two with rows that match nothing (ord -1).
fn statement(backend: sea_orm::DatabaseBackend, keys: &[Key]) -> Statement {
    static COLUMNS: OnceLock<String> = OnceLock::new();
    let columns = COLUMNS.get_or_init(|| {
        format!(
            "{}, {}, {}",
            targets_columns(),
            select_list::<api_token::Entity>("t"),
            select_list::<user::Entity>("tu")
        )
    });
    let n = keys.len().next_power_of_two();
    let mut values: Vec<Value> = Vec::with_capacity(n * 4 + 1);
    for (i, k) in keys.iter().enumerate() {
        values.extend([
            (i as i64).into(),
            k.stream_id.as_str().into(),
            k.user_id.as_str().into(),
            k.token_id.as_str().into(),
        ]);
    }
    for _ in keys.len()..n {
        values.extend([(-1i64).into(), "".into(), "".into(), "".into()]);
    }
    // Last, as it comes last in the text: SQLite's parameters are numbered by position.
    values.push(true.into());
    let sql = format!(
        "WITH o(ord, sid, uid, tid) AS (VALUES {}) \
         SELECT o.ord AS o_ord, {columns} FROM o \
         LEFT JOIN streams s ON s.id = o.sid \
         LEFT JOIN users u ON u.id = o.uid \
         LEFT JOIN webhooks_config w ON w.stream_id = o.sid AND w.enabled = {} \
         LEFT JOIN api_tokens t ON t.id = o.tid \
         LEFT JOIN users tu ON tu.id = t.owner_id \
         WHERE o.ord >= 0",
        sql::values(backend, n, 4, 1),
        sql::mark(backend, n * 4 + 1),
    );
    Statement::from_sql_and_values(backend, sql, values)
}
