//! Speckle's object REST API, the part of a Speckle server that specklepy's `ServerTransport`
//! (and every other Speckle SDK) talks to for `operations.send` / `operations.receive`:
//!
//! - `POST /api/diff/{projectId}` — which of these ids does the server already hold;
//! - `POST /objects/{projectId}` — multipart batches (JSON arrays of objects, gzipped or not);
//! - `GET /objects/{projectId}/{objectId}/single` — one object;
//! - `POST /api/getobjects/{projectId}` — many objects, streamed as `id\tjson\n` lines
//!   (`Accept: text/plain`) or as one JSON array;
//! - `GET /objects/{projectId}/{objectId}` — an object and all its children (its `__closure`).
//!
//! Objects are stored as the client sent them ([`batch`] checks each is a JSON object with a
//! well-formed `id`), in the `objects` table keyed by (project, id) ([`service`]). Access is
//! the project's (`access`). The routes have their own body limit, `MAX_OBJECT_UPLOAD_BYTES`,
//! which also caps what an upload may decompress to: GraphQL's 1 MB limit would refuse ordinary
//! batches, while a gzip bomb must not get further than a plain upload could.
//!
//! The decision a reader may question: an upload is read and checked whole before anything is
//! written, then stored in one transaction. That costs memory up to the limit per upload, but a
//! bad last batch leaves nothing half-stored, and no database write lock waits on a slow client.

mod access;
mod admit;
pub mod batch;
mod download;
mod http;
mod id_list;
mod refusal;
pub mod service;

pub use http::router;
