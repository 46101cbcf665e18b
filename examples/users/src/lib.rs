//! A users service written once as an interface, with a blocking backend and an async one,
//! served to async code and sync code alike.
//!
//! [`Users`] is a `#[smartasync]` trait: every method has a blocking entry (`get(id)`) and
//! an async one (`get_async(id)`, a boxed future), and the trait is dyn-compatible. Three
//! implementations write each method once:
//!
//! - [`UserStore`], the way code over rusqlite is written: plain blocking `fn`s on a pooled
//!   connection. Their `_async` entries run the same bodies on the blocking pool; the
//!   writes run one at a time (`#[smartasync(limit = WRITERS)]`, see [`WRITERS`]).
//! - [`LaneStore`], the same statements ([`sql`]) on one connection owned by the thread of
//!   the [`USERS_DB`] lane (`#[smartasync(lane = USERS_DB)]`): both entries queue the call
//!   to that thread. [`Store`] says when to pick which.
//! - [`RemoteUsers`], an HTTP client (reqwest) of a running users API: `async fn`s. Their
//!   blocking entries drive them with no runtime in the caller's code.
//!
//! The sync CLI (`examples/users_cli.rs`) and the Axum API ([`router`], served by
//! `examples/users_api.rs`) each take any one at start-up ([`Backend`]: `--db FILE`, with
//! `--store pool` (the default) or `--store lane`, or `--remote URL`) as an `Arc<dyn Users>`. The CLI calls `users.create(&new)`, the
//! handlers `users.create_async(&new).await`, and neither knows which backend it holds: the
//! CLI can manage a remote server, and an API can front another API.
//!
//! Decisions worth knowing:
//!
//! - The schema is created on [`UserStore::open`] and [`LaneStore::open`]; the database runs in WAL mode with a busy
//!   timeout, so the API and the CLI can use the same file at the same time. A file that
//!   cannot be opened is an error at once, with SQLite's reason and the path.
//! - Commits are [`Durability::Normal`] unless a store is opened `with` another (the
//!   programs' `--durability full`): in WAL mode the WAL is synced at checkpoints, not at every commit (SQLite's recommendation
//!   for WAL), so most writes do not hold their thread for an fsync; a crash of the machine
//!   may lose the last commits, never the file. [`Durability::Full`] makes every commit
//!   wait for the disk.
//! - A call waits at most [`CONNECTION_WAIT`] for a free pooled connection; past that it is
//!   [`UserError::Unavailable`], served as a 503 with a JSON message and a `Retry-After`
//!   ([`RETRY_AFTER_SECS`]); so is a statement that finds the file locked by another
//!   process past the busy timeout.
//! - Emails are trimmed and lowercased before they are stored, and unique: a second user
//!   with the same email is [`UserError::DuplicateEmail`] (HTTP 409).
//! - Every statement is parameterized; user input never becomes SQL text.
//! - Client mistakes are 4xx with a JSON body `{"error": "..."}`, including malformed JSON,
//!   missing fields, a bad id in the path and an oversized body (the limit is
//!   [`MAX_BODY_BYTES`], [`MAX_IMPORT_BYTES`] for an import). [`UserError::status`] is the
//!   one mapping from errors to statuses, and [`RemoteUsers`] maps the statuses back to
//!   the same errors, so an API in front of another answers as the one behind would. Only
//!   [`UserError::Internal`] is a 500; a failing or unreachable API behind this one is
//!   [`UserError::Upstream`], a 502.
//! - [`Users::export`] streams every user by id in bounded memory: over SQLite from a
//!   cursor that owns its connection ([`sql::Export`], whose docs say why it reads in keyset
//!   batches inside one read transaction), over HTTP from the lines of an NDJSON body. The
//!   API serves it as `GET /users/export` (`application/x-ndjson`), the CLI as `export`.
//! - [`Users::import`] stores a batch all or none: every user checked first, then one
//!   transaction ([`sql::create_many`]). The API serves it as `POST /users/import` (a JSON
//!   array, answered 201 with the stored users), the CLI as `import FILE`. A client that
//!   gives up on a large import (`curl --max-time`) stops it between two rows, and the
//!   transaction is rolled back: no row of it is stored.
//! - A request whose client goes away, or that takes longer than the API's limit
//!   ([`REQUEST_TIMEOUT`], 10 s, then a 504 with a JSON message; [`ApiRouter::timeout`]),
//!   stops its work: the SQLite stores interrupt the statement it runs and roll back its
//!   write ([`interrupt`] says how the interrupt is registered and why it never reaches
//!   another call), and the remote store drops its HTTP request.
//! - The deliberately slow [`UserStore::report`] is not part of [`Users`] and has no route
//!   in [`router`]: any client could spend a second of CPU per request on it. The load
//!   example mounts it on its own servers with [`router_with`].

mod api;
mod backend;
pub mod interrupt;
mod lane_store;
mod remote;
pub mod sql;
mod store;
mod users;

pub use api::*;
pub use backend::*;
pub use interrupt::Interruptible;
pub use lane_store::*;
pub use remote::*;
pub use sql::Durability;
pub use store::*;
pub use users::*;
