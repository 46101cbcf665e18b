//! A users service over a blocking legacy library (SQLite through rusqlite), served to async
//! code and sync code alike.
//!
//! [`UserStore`] is written the way code over rusqlite is written: plain blocking methods on
//! a pooled connection. Each method carries `#[smartasync]`, so it also has an `_async`
//! twin that runs the same body on the blocking pool. The sync CLI
//! (`examples/users_cli.rs`) calls `store.create(&new)`; the Axum handlers of [`router`]
//! call `store.create_async(&new).await`, and the runtime's worker threads never wait on
//! SQLite.
//!
//! Decisions worth knowing:
//!
//! - The schema is created on [`UserStore::open`]; the database runs in WAL mode with a busy
//!   timeout, so the API and the CLI can use the same file at the same time. A file that
//!   cannot be opened is an error at once, with SQLite's reason and the path.
//! - A call waits at most [`CONNECTION_WAIT`] for a free pooled connection; past that it is
//!   [`UserError::Unavailable`], served as a 503 with a JSON message.
//! - Emails are trimmed and lowercased before they are stored, and unique: a second user
//!   with the same email is [`UserError::DuplicateEmail`] (HTTP 409).
//! - Every statement is parameterized; user input never becomes SQL text.
//! - Only [`UserError::Internal`] becomes a 500; client mistakes are 4xx with a JSON body
//!   `{"error": "..."}`, including malformed JSON, missing fields, a bad id in the path and
//!   an oversized body (the limit is [`MAX_BODY_BYTES`]).
//! - The deliberately slow [`UserStore::report`] has no route in [`router`]: any client
//!   could spend a second of CPU per request on it. The load example mounts it on its own
//!   servers with [`router_with`].

mod api;
mod store;

pub use api::*;
pub use store::*;
