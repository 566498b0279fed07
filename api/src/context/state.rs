//! The state every handler and resolver shares: one clone-able struct, as axum `State` and as
//! GraphQL schema data.

use std::sync::{Arc, OnceLock};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use streamhooks_worker::guard::Guard;
use streamhooks_worker::handoff::{self, HandOff};
use streamhooks_worker::outbox::ServerInfo;
use streamhooks_worker::secrets::Secrets;
use streamhooks_worker::{Metrics, Notifier};
use tokio::sync::oneshot;

use crate::context::config::Config;
use crate::context::ingest::combine::Combiner;
use crate::context::ingest::lookup::Lookup;
use crate::context::ingest::sink::Sink;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// Built once from the config: `server` in every payload and `serverInfo`.
    pub server_info: Arc<ServerInfo>,
    /// Woken after every commit that queued webhook events.
    pub notifier: Notifier,
    /// Delivery counters of this process's dispatcher (zero when it runs none), for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The key webhook secrets are sealed with (the API seals, the dispatcher opens).
    pub secrets: Secrets,
    /// The dispatcher's outbound rule, applied to literal addresses when a webhook is saved.
    pub guard: Arc<Guard>,
    /// Requests in flight and the answer-size pool, shared by every request
    /// (`crate::context::limits`).
    pub limits: Arc<crate::context::limits::guards::Guards>,
    /// When this process runs a dispatcher: events queued here are leased to it and handed over
    /// in memory after the commit (`streamhooks_worker::handoff`). `None` in `serve --no-worker`.
    pub handoff: Option<HandOff>,
    /// The pool `POST /api/events` reads and writes through, when it has its own
    /// ([`crate::context::db::ingest_pool`]); otherwise `db`.
    pub ingest_db: Option<DatabaseConnection>,
    /// Group commit for single ingested events, started on first use (after `handoff` is set).
    combiner: Arc<OnceLock<Combiner>>,
    /// Shared token and webhook reads of `POST /api/events`, started on first use.
    lookup: Arc<OnceLock<Lookup>>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        config: Arc<Config>,
        secrets: Secrets,
        notifier: Notifier,
    ) -> Self {
        let server_info = Arc::new(ServerInfo {
            name: config.server_name.clone(),
            description: config.server_description.clone(),
            canonical_url: config.canonical_url(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        });
        let guard = Arc::new(Guard::from_config(&config.worker));
        Self {
            limits: Arc::new(crate::context::limits::guards::Guards::new(&config.limits)),
            db,
            config,
            server_info,
            notifier,
            metrics: Arc::new(Metrics::new()),
            secrets,
            guard,
            handoff: None,
            ingest_db: None,
            combiner: Arc::new(OnceLock::new()),
            lookup: Arc::new(OnceLock::new()),
        }
    }

    /// Where ingested events are written.
    pub fn sink(&self) -> Sink {
        Sink {
            db: self.db.clone(),
            handoff: self.handoff.clone(),
            notifier: self.notifier.clone(),
        }
    }

    /// The group-commit writer of `POST /api/events` ([`crate::context::ingest::combine`]), on the
    /// ingest pool.
    pub fn combiner(&self) -> &Combiner {
        self.combiner.get_or_init(|| {
            Combiner::spawn(Sink {
                db: self.ingest_db(),
                ..self.sink()
            })
        })
    }

    fn ingest_db(&self) -> DatabaseConnection {
        self.ingest_db.clone().unwrap_or_else(|| self.db.clone())
    }

    /// The shared reads of `POST /api/events` ([`crate::context::ingest::lookup`]), on the ingest
    /// pool.
    pub fn lookup(&self) -> &Lookup {
        self.lookup
            .get_or_init(|| Lookup::spawn(self.ingest_db(), self.combiner().clone()))
    }

    /// Begins a transaction for a change that may queue events (see
    /// [`crate::context::db::begin_write`]).
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        handoff::discard();
        crate::context::db::begin_write(&self.db).await
    }

    /// Commits a change that queued `queued` events, then hands what `emit` leased in it to this
    /// process's dispatcher (GraphQL requests run within `handoff::scope`) and wakes the
    /// dispatcher for the rest: in that order, or it could look before the rows are visible.
    ///
    /// With leased rows, the commit and what follows run in a task of their own, which the
    /// request awaits: a request stopped meanwhile (REQUEST_DEADLINE drops it) would otherwise
    /// stop between the database's commit and the hand-over, leaving committed rows leased to
    /// this process until the lease ran out. The task sees the request gone and gives the leases
    /// back instead (`handoff::Pending::give_back`), so another claim sends them within its poll
    /// interval; a failed commit gives them back too, in case it committed after all.
    ///
    /// Durability: the commit keeps the database's default, as the change itself needs; the
    /// lease rides in it at no extra cost, and if this process dies before sending, the lease runs
    /// out and another worker claims the rows.
    pub async fn commit(&self, txn: DatabaseTransaction, queued: u64) -> Result<(), DbErr> {
        let leased = handoff::take();
        if leased.is_empty() {
            txn.commit().await?;
            self.queued(queued);
            return Ok(());
        }
        let unleased = queued.saturating_sub(leased.events() as u64);
        let (db, notifier) = (self.db.clone(), self.notifier.clone());
        let (done, outcome) = oneshot::channel();
        tokio::spawn(async move {
            let committed = txn.commit().await;
            if committed.is_ok() && unleased > 0 {
                notifier.wake();
            }
            let given_back = match committed {
                Ok(()) if !done.is_closed() => {
                    leased.hand_over();
                    let _ = done.send(Ok(()));
                    return;
                }
                Ok(()) => leased.give_back(&db).await,
                Err(e) => {
                    let _ = done.send(Err(e));
                    leased.give_back(&db).await
                }
            };
            if let Err(e) = given_back {
                tracing::warn!(error = %e, "could not give back the leases of a commit that was not handed over; its events are sent when the leases run out");
            }
        });
        outcome
            .await
            .map_err(|_| DbErr::Custom("the commit's task stopped before answering".into()))?
    }

    /// Call after committing anything that queued `n` events outside [`AppState::commit`].
    pub fn queued(&self, n: u64) {
        if n > 0 {
            self.notifier.wake();
        }
    }
}
