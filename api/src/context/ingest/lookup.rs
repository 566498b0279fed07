//! Shared reads for `POST /api/events`: each request needs its token, its stream's enabled
//! webhooks, the stream and the user; requests that arrive while such a read is running are read
//! together by the next one, one statement for all of them, and each gets back its own rows.
//!
//! Why: under load, a statement per request is a round trip per event on both sides (a wake-up
//! of a PostgreSQL backend, its protocol work, two context switches), the largest cost on the
//! single-event path once the write is shared (`combine`). Nothing is cached: every request
//! is still answered from a read that began after it arrived, so a revoked token or a disabled
//! webhook counts from the next request. As in `combine`, nothing waits to fill a group: a request
//! that finds no read running is read at once, alone.
//!
//! The requests read together are also written together: each gets a [`Ticket`] with its rows,
//! and their events go to the group commit (`combine`) as one item once every request of the
//! group has handed in its events or dropped out (refused, nothing to queue, gone). Handed to
//! the writer one by one, each would find a free slot, and a read of three would become up to
//! three writes (`streamhooks-bench --only ingest`: ~1.7 events per queuing statement behind reads
//! of ~3 requests). What a request does between its rows and its ticket is CPU only (the token's
//! digest, building payloads), so one request of the group delays the others by that much at most.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use entity::{api_token, user};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Statement, Value};
use streamhooks_worker::outbox::{select_list, targets_columns, Prepared};
use streamhooks_worker::sql;
use tokio::sync::{mpsc, oneshot};

use super::combine::{in_groups, Combiner, Item, Reply as Answer};

/// Reads running at once. One: a read has no WAL flush to wait for, so a second read in flight
/// would only halve the groups (`combine` keeps two writes in flight on PostgreSQL to overlap
/// their flushes). Measured with `streamhooks-bench --only ingest` (20,000 events): one in flight
/// used 8% less CPU per event in PostgreSQL than two, for the same rate or better.
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

type Reply = oneshot::Sender<Result<(Vec<QueryResult>, Ticket), DbErr>>;

/// A request's place in the write of the requests read with it: [`Ticket::store`] hands in its
/// events; dropping the ticket says it has none.
#[derive(Debug)]
pub struct Ticket {
    gather: Arc<Gather>,
    spent: bool,
}

/// The events of one read's requests, until the last of them has handed in or dropped out.
#[derive(Debug)]
struct Gather {
    combiner: Combiner,
    /// The events handed in so far, and how many requests have yet to hand in or drop out.
    state: Mutex<(Item, usize)>,
}

impl Gather {
    fn deposit(&self, entry: Option<(Prepared, Answer)>) {
        let ready = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entry {
                state.0.push(entry);
            }
            state.1 = state.1.saturating_sub(1);
            (state.1 == 0).then(|| std::mem::take(&mut state.0))
        };
        if let Some(item) = ready.filter(|item| !item.is_empty()) {
            self.combiner.send(item);
        }
    }
}

impl Ticket {
    /// Queues `prepared` with the events of the requests read with this one and returns how many
    /// rows it queued, once committed.
    pub async fn store(mut self, prepared: Prepared) -> Result<u64, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.spent = true;
        self.gather.deposit(Some((prepared, reply)));
        answer
            .await
            .map_err(|_| DbErr::Custom("the ingest writer has stopped".into()))?
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.spent {
            self.gather.deposit(None);
        }
    }
}

/// The sending end; dropping every clone ends the task.
#[derive(Clone, Debug)]
pub struct Lookup {
    tx: mpsc::UnboundedSender<(Key, Reply)>,
}

impl Lookup {
    /// Reads with `db`; the events of the requests read together go to `combiner` together.
    pub fn spawn(db: DatabaseConnection, combiner: Combiner) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, combiner, rx));
        Self { tx }
    }

    /// The rows of `key`, for [`streamhooks_worker::outbox::targets_from`], with the token's
    /// columns (`t_…`) and its owner's (`tu_…`) beside them: one row per enabled webhook of the
    /// stream, or one row of nulls for the webhook when it has none. With them, the request's
    /// place in the write shared with the requests read with it.
    pub async fn rows(&self, key: Key) -> Result<(Vec<QueryResult>, Ticket), DbErr> {
        let stopped = || DbErr::Custom("the ingest reader has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.tx.send((key, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    db: DatabaseConnection,
    combiner: Combiner,
    rx: mpsc::UnboundedReceiver<(Key, Reply)>,
) {
    in_groups(
        rx,
        IN_FLIGHT,
        MAX_GROUP,
        |_| 1,
        move |group| {
            let db = db.clone();
            let combiner = combiner.clone();
            async move { read_group(&db, &combiner, group).await }
        },
    )
    .await;
}

async fn read_group(db: &DatabaseConnection, combiner: &Combiner, group: Vec<(Key, Reply)>) {
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
            let gather = Arc::new(Gather {
                combiner: combiner.clone(),
                state: Mutex::new((Vec::with_capacity(replies.len()), replies.len())),
            });
            for (i, reply) in replies.into_iter().enumerate() {
                let ticket = Ticket {
                    gather: gather.clone(),
                    spent: false,
                };
                // A request gone by now drops its ticket with the unsent answer.
                let _ = reply.send(Ok((per.remove(&(i as i64)).unwrap_or_default(), ticket)));
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use streamhooks_worker::outbox::Prepared;

    use super::{Gather, Ticket};
    use crate::context::ingest::combine::Combiner;

    fn tickets(combiner: &Combiner, n: usize) -> Vec<Ticket> {
        let gather = Arc::new(Gather {
            combiner: combiner.clone(),
            state: Mutex::new((Vec::new(), n)),
        });
        (0..n)
            .map(|_| Ticket {
                gather: gather.clone(),
                spent: false,
            })
            .collect()
    }

    /// The requests read together reach the writer as one item, only once the last of them has
    /// handed in or dropped out, and each gets its own answer back.
    #[tokio::test]
    async fn a_read_group_is_written_once_everyone_has_handed_in_or_dropped_out() {
        let (combiner, mut items) = Combiner::to_channel();
        let mut t = tickets(&combiner, 3).into_iter();
        let (a, b, c) = match (t.next(), t.next(), t.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => panic!("three tickets"),
        };
        let first = tokio::spawn(a.store(Prepared::default()));
        tokio::task::yield_now().await;
        drop(b);
        assert!(
            items.try_recv().is_err(),
            "sent before the group was complete"
        );
        let third = tokio::spawn(c.store(Prepared::default()));
        let item = items
            .recv()
            .await
            .unwrap_or_else(|| panic!("the group's item never came"));
        assert_eq!(item.len(), 2, "the dropped request adds nothing");
        for ((_, reply), n) in item.into_iter().zip([10u64, 20]) {
            let _ = reply.send(Ok(n));
        }
        for (task, n) in [(first, 10), (third, 20)] {
            let answer = task.await.unwrap_or_else(|e| panic!("task: {e}"));
            assert_eq!(answer.unwrap_or_else(|e| panic!("answer: {e}")), n);
        }
    }

    /// A group whose requests all drop out sends nothing; a writer that has stopped answers with
    /// an error rather than leaving a request waiting.
    #[tokio::test]
    async fn nothing_is_sent_for_nothing_and_a_stopped_writer_is_an_error() {
        let (combiner, mut items) = Combiner::to_channel();
        drop(tickets(&combiner, 2));
        assert!(items.try_recv().is_err());
        let ticket = tickets(&combiner, 1)
            .pop()
            .unwrap_or_else(|| panic!("a ticket"));
        drop(items);
        assert!(ticket.store(Prepared::default()).await.is_err());
    }
}
