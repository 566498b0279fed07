//! `Webhook` and `webhooks(id)` on a stream or project: a webhook's configuration (never its
//! secret; `hasSecret` tells) and its `history(limit)`, newest first, with `offset` and `cursor`
//! for the pages after the first.
//!
//! `webhooks(...)` looks ahead: when the query selects `items { history }` (and perhaps their
//! `attempts`), it loads every webhook's page in one batch ([`crate::webhooks::history::pages`])
//! before the items resolve, so a stream's hundred webhooks cost one query, not three hundred.
//! Each page's text is charged to the answer budget before it is loaded
//! ([`crate::webhooks::history_size`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::Utc;
use entity::ids::StreamId;
use entity::webhook_config;

use super::events::{WebhookEvent, WebhookEventCollection};
use crate::context::error::Result;
use crate::context::limits::budget;
use crate::context::resolver::{owner, state};
use crate::context::validate;
use crate::webhooks::history::{self, Page, Start};
use crate::webhooks::history_size::{self, reserve_history, text_copies};
use crate::webhooks::service as svc;

/// Pages loaded ahead by `webhooks(...)` for its items, by (webhook id, limit).
type Prefetched = Arc<HashMap<(String, u64), Page>>;

#[derive(SimpleObject)]
pub struct WebhookCollection {
    total_count: i32,
    items: Vec<Webhook>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Webhook {
    id: String,
    stream_id: String,
    project_id: String,
    has_secret: bool,
    url: String,
    description: Option<String>,
    triggers: Vec<String>,
    enabled: Option<bool>,
    /// Why the server disabled this webhook (it kept failing), if it did; null otherwise.
    disabled_reason: Option<String>,
    /// How deliveries are encoded and signed: `speckle-string` (`{"payload":"<json string>"}`,
    /// signed over that string) or `speckle-object` (`{"payload":{…}}`, signed over the raw body,
    /// as Speckle sends since 2.12). Both also carry the Standard Webhooks headers.
    format: String,
    #[graphql(skip)]
    prefetched: Option<Prefetched>,
}

#[ComplexObject]
impl Webhook {
    /// The webhook's events, newest first; `totalCount` counts all of them. Not in Speckle:
    /// `cursor` continues below the page whose `cursor` it is (pages walk by event id, so events
    /// that arrive between two pages neither repeat nor hide one), and `offset` skips that many
    /// of the newest events instead (up to 10,000; later arrivals shift it). Give one of them.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 25)] limit: i32,
        #[graphql(default = 0)] offset: i32,
        cursor: Option<String>,
    ) -> Result<Option<WebhookEventCollection>> {
        // Priced by its limit before the request runs (`context::limits::cost`); its events' text
        // counts against the request's answer budget before they are loaded.
        let limit = svc::check_history_limit(limit)?;
        let offset = svc::check_history_offset(offset)?;
        let start = match cursor.as_deref() {
            None => Start::Offset(offset),
            Some(_) if offset > 0 => {
                return Err(crate::context::error::Error::bad_input(
                    "history takes a cursor or an offset, not both",
                ))
            }
            Some(c) => Start::Before(svc::check_history_cursor(c)?),
        };
        let key = (self.id.clone(), limit);
        let ahead = match start {
            Start::NEWEST => self.prefetched.as_ref().and_then(|p| p.get(&key)).cloned(),
            _ => None,
        };
        let page = match ahead {
            // Loaded with its neighbours, and charged before they were loaded.
            Some(page) => page,
            None => {
                let copies = text_copies(ctx.look_ahead().field("items"));
                reserve_history(ctx, &[((self.id.clone(), limit, start), copies)], || {
                    format!("{}(limit: {limit})", budget::field_path(ctx))
                })
                .await?;
                let attempts = ctx.look_ahead().field("items").field("attempts").exists();
                history::pages(&state(ctx).db, std::slice::from_ref(&key), start, attempts)
                    .await?
                    .remove(&key)
                    .unwrap_or_default()
            }
        };
        let now_ms = Utc::now().timestamp_millis();
        let mut attempts = page.attempts.unwrap_or_default();
        // A full page may have older events below it; a short one is the last.
        let full = limit > 0 && page.items.len() as u64 == limit;
        let next = page
            .items
            .last()
            .filter(|_| full)
            .map(|e| svc::history_cursor(e.id));
        Ok(Some(WebhookEventCollection {
            total_count: Some(i32::try_from(page.total).unwrap_or(i32::MAX)),
            cursor: next,
            items: Some(
                page.items
                    .into_iter()
                    .map(|e| {
                        let a = attempts.remove(&e.id);
                        Some(WebhookEvent::new(e, a, now_ms))
                    })
                    .collect(),
            ),
        }))
    }
}

impl From<webhook_config::Model> for Webhook {
    fn from(w: webhook_config::Model) -> Self {
        Self {
            has_secret: w.has_secret(),
            triggers: w.trigger_list(),
            project_id: w.stream_id.clone(),
            id: w.id,
            stream_id: w.stream_id,
            url: w.url,
            description: w.description,
            enabled: Some(w.enabled),
            disabled_reason: w.disabled_reason,
            format: w.format,
            prefetched: None,
        }
    }
}

/// `Stream.webhooks` / `Project.webhooks`: owner-only; an `id` of another stream's webhook
/// yields an empty list, not an error, so ids cannot be probed.
pub(crate) async fn webhooks_of(
    ctx: &Context<'_>,
    stream: &StreamId,
    id: Option<&str>,
) -> Result<WebhookCollection> {
    let st = state(ctx);
    owner(ctx, stream).await?;
    if let Some(id) = id {
        validate::id(id, "webhook id")?;
    }
    let mut items: Vec<Webhook> = webhook_config::find_for_stream(&st.db, stream.as_str(), id)
        .await?
        .into_iter()
        .map(Webhook::from)
        .collect();
    let history = ctx.look_ahead().field("items").field("history");
    if history.exists() && !items.is_empty() {
        // Every `history(limit:)` the query asks for (aliases may ask for several), with the
        // copies of each event's text it selects; a limit the resolver will refuse is not loaded.
        let asked: Vec<(u64, usize)> = history
            .selection_fields()
            .into_iter()
            .filter_map(|f| {
                let arguments = f.arguments().ok()?;
                // A deeper page (`offset`, `cursor`) is loaded by its own resolver.
                let deeper = arguments.iter().any(|(name, v)| match name.as_str() {
                    "offset" => *v != async_graphql::Value::from(0),
                    "cursor" => *v != async_graphql::Value::Null,
                    _ => false,
                });
                if deeper {
                    return None;
                }
                let limit = arguments
                    .into_iter()
                    .find(|(name, _)| name.as_str() == "limit")
                    .map_or(Some(25), |(_, v)| match v {
                        async_graphql::Value::Number(n) => n.as_i64(),
                        _ => None,
                    })?;
                let limit = svc::check_history_limit(i32::try_from(limit).ok()?).ok()?;
                let items = async_graphql::Lookahead::from(f).field("items");
                Some((limit, text_copies(items)))
            })
            .collect();
        // Charged before anything is loaded, once for each time the answer will hold a page
        // (aliases may ask for the same one twice), from the stored lengths.
        let charged: Vec<(history_size::PageKey, usize)> = items
            .iter()
            .flat_map(|w| {
                asked
                    .iter()
                    .map(|(l, c)| ((w.id.clone(), *l, Start::NEWEST), *c))
            })
            .collect();
        let largest = asked.iter().map(|(l, _)| *l).max().unwrap_or(0);
        reserve_history(ctx, &charged, || {
            format!(
                "{}.items.history(limit: {largest})",
                budget::field_path(ctx)
            )
        })
        .await?;
        let mut limits: Vec<u64> = asked.iter().map(|(l, _)| *l).collect();
        limits.sort_unstable();
        limits.dedup();
        let keys: Vec<(String, u64)> = items
            .iter()
            .flat_map(|w| limits.iter().map(|l| (w.id.clone(), *l)))
            .collect();
        let attempts = history.field("items").field("attempts").exists();
        let pages: Prefetched =
            Arc::new(history::pages(&st.db, &keys, Start::NEWEST, attempts).await?);
        for w in &mut items {
            w.prefetched = Some(pages.clone());
        }
    }
    Ok(WebhookCollection {
        total_count: items.len() as i32,
        items,
    })
}
