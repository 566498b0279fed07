//! The webhook API exactly as Speckle defines it (`webhookCreate/Update/Delete`, `webhooks(id)`,
//! `history(limit)`), plus added fields a Speckle client that does not ask for them never sees:
//! `disabledReason`, `format` (output, and optional on both inputs), `WebhookEvent.attempts`
//! (every attempt with its response, like GitHub's "Recent deliveries"), and `history`'s
//! `offset` and `cursor` (with `WebhookEventCollection.cursor`) for the pages after the first;
//! and added operations: pings and redeliveries (`webhookRedeliverFailed`, the recovery after an
//! outage, is in `recover::graphql`). Every operation needs the stream's owner with
//! `streams:write`, except `webhookTriggers`, the public list of trigger names that forms (the
//! console's) offer.
//!
//! The types and `webhooks(id)` are in [`webhook`], the history's types in [`events`], the
//! mutations in [`mutation`].

pub mod events;
pub mod mutation;
pub mod webhook;
