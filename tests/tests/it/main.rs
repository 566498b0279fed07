//! End-to-end tests: each starts the real server in-process on 127.0.0.1:0 with a fresh database
//! (SQLite by default; PostgreSQL when TEST_DATABASE_URL is set, as `.ci/run` does) and talks to
//! it over real HTTP. Subscribers are real HTTP receivers on 127.0.0.1.

mod access;
mod attempts;
mod console;
mod corpus;
mod delivery;
mod events;
mod history;
mod hostile;
mod ingest;
mod limits;
mod objects;
mod pings;
mod recovery;
mod schema;
mod secrets;
mod speckle_events;
mod speckle_frontend2;
mod speckle_legacy;
mod speckle_models;
mod speckle_projects;
mod specklepy;
mod storage;
mod support;
mod testkit;
mod validation;
mod webdriver;
mod webhooks;
mod wire;
