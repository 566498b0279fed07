//! The answer-size budget of a GraphQL request: text is counted as it is produced, so a request
//! that would build a huge answer stops (RESPONSE_TOO_LARGE) once it passes
//! GRAPHQL_MAX_RESPONSE_BYTES, long before the answer exists; and all requests together draw
//! from one pool (GRAPHQL_MAX_RESPONSE_BYTES_TOTAL), so many medium answers at once cannot
//! exhaust memory either (the request that finds the pool empty is answered 503).
//!
//! Counted: every string a resolver returns ([`BudgetExtension`] sees each field's value), and
//! the history events a `history` field will load, *before* it loads them
//! (`crate::webhooks::history_size`):
//! their payloads are in memory whether or not the client asked for them, and decoding a page
//! briefly takes several times its size, so an oversized page must be refused unread. The
//! decision a reader may question: those two fields (`WebhookEvent.payload`, `.statusInfo`) are
//! then not counted again when returned, so the budget measures what the request holds.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::{Context, Response, ServerError, ServerResult, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::context::error::Error;
use crate::context::limits::bytes;

/// Fields whose text was counted before their rows were loaded
/// (`crate::webhooks::history_size::reserve_history`).
pub const COUNTED_AT_LOAD: &[(&str, &str)] =
    &[("WebhookEvent", "payload"), ("WebhookEvent", "statusInfo")];

pub const CODE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
pub const CODE_BUSY: &str = "SERVER_BUSY";

/// Bytes all requests may hold at once, in KiB permits.
pub struct ResponsePool {
    kib: Arc<Semaphore>,
}

impl ResponsePool {
    pub fn new(total_bytes: usize) -> Self {
        Self {
            kib: Arc::new(Semaphore::new(
                (total_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS),
            )),
        }
    }
}

/// Which limit a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overrun {
    /// Its own: GRAPHQL_MAX_RESPONSE_BYTES.
    Request,
    /// The server's: GRAPHQL_MAX_RESPONSE_BYTES_TOTAL, shared with the requests in flight.
    Server,
}

/// One request's budget; put in the request's data as `Arc<Budget>`.
pub struct Budget {
    limit: usize,
    pool: Arc<Semaphore>,
    /// Bytes counted and the pool permits that cover them.
    held: Mutex<(usize, Option<OwnedSemaphorePermit>)>,
    overrun: AtomicU8,
    /// Where the first overrun happened (a field's path) and the bytes the request would then
    /// have held, for the sentence that refuses it.
    at: Mutex<Option<(String, usize)>>,
}

impl Budget {
    pub fn new(limit: usize, pool: &ResponsePool) -> Arc<Self> {
        Arc::new(Self {
            limit,
            pool: pool.kib.clone(),
            held: Mutex::new((0, None)),
            overrun: AtomicU8::new(0),
            at: Mutex::new(None),
        })
    }

    pub fn overrun(&self) -> Option<Overrun> {
        match self.overrun.load(Ordering::Relaxed) {
            1 => Some(Overrun::Request),
            2 => Some(Overrun::Server),
            _ => None,
        }
    }

    /// Bytes counted so far (a size hint; 0 if the lock was poisoned).
    pub fn used(&self) -> usize {
        self.held.lock().map(|h| h.0).unwrap_or(0)
    }

    /// Counts `n` more bytes for the field at `at` (a path, rendered only on an overrun); the
    /// first overrun sticks, so every later field stops at once.
    pub fn charge(&self, n: usize, at: impl FnOnce() -> String) -> Result<(), Overrun> {
        if let Some(o) = self.overrun() {
            return Err(o);
        }
        let Ok(mut held) = self.held.lock() else {
            return Err(self.fail(Overrun::Server, at(), n));
        };
        let used = held.0.saturating_add(n);
        if used > self.limit {
            return Err(self.fail(Overrun::Request, at(), used));
        }
        let have = held.1.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        let need = used.div_ceil(1024);
        if need > have {
            let more = u32::try_from(need - have).unwrap_or(u32::MAX);
            match self.pool.clone().try_acquire_many_owned(more) {
                Ok(p) => match held.1.as_mut() {
                    Some(h) => h.merge(p),
                    None => held.1 = Some(p),
                },
                Err(_) => return Err(self.fail(Overrun::Server, at(), used)),
            }
        }
        held.0 = used;
        Ok(())
    }

    fn fail(&self, o: Overrun, at: String, total: usize) -> Overrun {
        let first = self
            .overrun
            .compare_exchange(
                0,
                if o == Overrun::Request { 1 } else { 2 },
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        if first {
            if let Ok(mut place) = self.at.lock() {
                *place = Some((at, total));
            }
        }
        self.overrun().unwrap_or(o)
    }

    /// The sentence and code for an overrun, naming where the answer outgrew its budget.
    pub fn explain(&self, o: Overrun) -> (&'static str, String) {
        let place = self.at.lock().ok().and_then(|p| p.clone());
        match o {
            Overrun::Request => (
                CODE_TOO_LARGE,
                match place {
                    Some((at, total)) => format!(
                        "The answer would be larger than {} (GRAPHQL_MAX_RESPONSE_BYTES): at `{at}` it would hold {}. Ask for fewer items there (a smaller limit) or fewer fields.",
                        bytes(self.limit),
                        bytes(total)
                    ),
                    None => format!(
                        "The answer would be larger than {} (GRAPHQL_MAX_RESPONSE_BYTES); ask for fewer items (a smaller limit) or fewer fields.",
                        bytes(self.limit)
                    ),
                },
            ),
            Overrun::Server => (
                CODE_BUSY,
                "The server is building other large answers right now; try again in a moment.".to_owned(),
            ),
        }
    }

    /// The overrun `o` as the error a resolver returns.
    pub fn refusal(&self, o: Overrun) -> Error {
        let (code, message) = self.explain(o);
        Error::Limit { code, message }
    }

    fn server_error(&self, o: Overrun) -> ServerError {
        let (code, message) = self.explain(o);
        let mut e = ServerError::new(message, None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        e.extensions = Some(ext);
        e
    }
}

/// The path of the field `ctx` resolves, as [`path_of`] writes it.
pub fn field_path(ctx: &Context<'_>) -> String {
    ctx.path_node.as_ref().map(path_of).unwrap_or_default()
}

/// A field's path for a refusal, as a client wrote it (list indices left out):
/// `stream.webhooks.items.history`.
pub fn path_of(node: &async_graphql::QueryPathNode<'_>) -> String {
    (*node)
        .to_string_vec()
        .into_iter()
        .filter(|s| !s.bytes().all(|b| b.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(".")
}

/// Bytes of text in a field's own value; objects inside were counted by their own fields.
fn text_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Enum(e) => e.len(),
        Value::List(items) => items.iter().map(text_bytes).sum(),
        _ => 0,
    }
}

/// Installs the budget's checks into the schema: every field stops once the request's budget is
/// spent, and such a request answers one error instead of thousands of partial ones.
pub struct BudgetExtension;

impl ExtensionFactory for BudgetExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(BudgetExtension)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for BudgetExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        match ctx.data_opt::<Arc<Budget>>() {
            Some(b) => match b.overrun() {
                Some(o) => Response::from_errors(vec![b.server_error(o)]),
                None => response,
            },
            None => response,
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(budget) = ctx.data_opt::<Arc<Budget>>() else {
            return next.run(ctx, info).await;
        };
        if let Some(o) = budget.overrun() {
            return Err(budget.server_error(o));
        }
        // A large answer resolves its fields inside one task; spending tokio's cooperative
        // budget per field makes that task hand its thread back every 128 fields, so a request
        // of a hundred thousand nodes shares the runtime with cheap ones instead of holding a
        // worker thread (both of them, two such requests) for a third of a second.
        tokio::task::consume_budget().await;
        let counted = COUNTED_AT_LOAD.contains(&(info.parent_type, info.name));
        let path = info.path_node;
        let value = next.run(ctx, info).await?;
        if !counted {
            if let Some(v) = &value {
                budget
                    .charge(text_bytes(v), || path_of(path))
                    .map_err(|o| budget.server_error(o))?;
            }
        }
        Ok(value)
    }
}
