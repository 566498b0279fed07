//! `webhookRedeliverFailed`, the GraphQL side of the recovery after an outage (the rules are in
//! [`super`]). Its `Int!` answer is Speckle-style; whether more failed events remain than one call
//! takes goes beside it, as a note in the answer's `extensions` ([`crate::context::notes`]), since
//! an entry in `errors` would read as a failure to every client.

use async_graphql::indexmap::IndexMap;
use async_graphql::{Context, InputObject, Name, Object, Value};
use chrono::{DateTime, Utc};
use entity::ids::{StreamId, WebhookId};

use crate::context::error::Result;
use crate::context::resolver::{in_transaction, owner, state};
use crate::webhooks::recover;
use crate::webhooks::service as svc;

#[derive(InputObject)]
pub struct WebhookRedeliverFailedInput {
    /// The webhook.
    id: String,
    stream_id: String,
    /// Queue again the events that failed for good (status 3) with their last update at or after
    /// this time.
    since: DateTime<Utc>,
    /// Re-enable the webhook if it is disabled (it then sends new events again too). A disabled
    /// webhook is refused without it: its events would only fail again.
    enable: Option<bool>,
    /// Only count: answer how many would be queued now, queuing and changing nothing.
    dry_run: Option<bool>,
}

#[derive(Default)]
pub struct RecoverMutation;

#[Object]
impl RecoverMutation {
    /// Queues again every event of the webhook that failed for good (status 3) since `since`,
    /// as itself: same event id and delivery id, a fresh retry schedule, new attempts added to
    /// its attempts list. Returns how many it queued, at most 10,000 a call (the oldest first).
    /// The answer's `extensions.webhookRedeliverFailed` repeats the count with `moreRemain`, true
    /// when more failed since then: the next call with the same `since` takes the next ones
    /// (events already queued again are not taken twice). Not in Speckle.
    async fn webhook_redeliver_failed(
        &self,
        ctx: &Context<'_>,
        webhook: WebhookRedeliverFailedInput,
    ) -> Result<i32> {
        let stream = StreamId::from(webhook.stream_id);
        owner(ctx, &stream).await?;
        let st = state(ctx);
        let hook = svc::find_on_stream(&st.db, &WebhookId::from(webhook.id), &stream).await?;
        let dry_run = webhook.dry_run.unwrap_or(false);
        let done = if dry_run {
            recover::count_failed(&st.db, &hook, webhook.since).await?
        } else {
            let enable = webhook.enable.unwrap_or(false);
            in_transaction(ctx, async |tx| {
                let done = recover::redeliver_failed(tx.txn, &hook, webhook.since, enable).await?;
                let queued = done.queued;
                Ok((done, queued))
            })
            .await?
        };
        let limit = recover::MAX_PER_CALL;
        let mut note = IndexMap::new();
        note.insert(Name::new("queued"), Value::from(done.queued));
        note.insert(Name::new("limit"), Value::from(limit));
        note.insert(Name::new("moreRemain"), Value::from(done.more));
        note.insert(Name::new("dryRun"), Value::from(dry_run));
        if done.more {
            let verb = if dry_run { "would queue" } else { "queued" };
            note.insert(
                Name::new("message"),
                Value::from(format!(
                    "More than {limit} events failed since then; this call {verb} the oldest \
                     {limit}. Call webhookRedeliverFailed again with the same since for the next \
                     ones."
                )),
            );
        }
        crate::context::notes::note(ctx, "webhookRedeliverFailed", note);
        Ok(i32::try_from(done.queued).unwrap_or(i32::MAX))
    }
}
