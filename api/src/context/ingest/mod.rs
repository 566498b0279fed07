//! The machinery `POST /api/events` shares between requests, held by the state so that every
//! request reaches the same one: reads grouped into one statement ([`lookup`]), writes grouped
//! into one commit ([`combine`]), and where and how events are written ([`sink`]). The HTTP
//! handlers that use them are in `crate::webhooks::ingest` and `crate::webhooks::batch`; these
//! sit below the state that holds them.

pub mod combine;
pub mod lookup;
pub mod sink;
