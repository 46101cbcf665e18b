//! Write a function once, as `fn` or `async fn`, and call it from sync and async code alike.
//!
//! Real systems mix both worlds. An Axum service has to call a blocking library (SQLite
//! through rusqlite, a C SDK, CPU-heavy parsing) without stalling its event loop; a CLI, a
//! batch job or a thread-per-request server has to call async clients (reqwest,
//! tokio-postgres). By hand that is `spawn_blocking` with owned copies of every argument at
//! each call site, or a runtime built per call, which costs hundreds of microseconds, breaks
//! every client that keeps connections, and panics when the caller is already inside a
//! runtime.
//!
//! `#[smartasync]` goes on the function instead, and always yields a pair: `foo(..)` for
//! sync callers and `foo_async(..)` for async callers. The runtime side makes both work
//! everywhere: an awaited blocking body runs on Tokio's blocking pool, and a sync call of an
//! async body is driven on the calling thread with a process-wide runtime behind it, so
//! nothing is built per call, clients survive across calls, and a call from inside any
//! runtime does not panic.
//!
//! # Async code calling blocking code
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use smartasync::smartasync;
//!
//! /// A service over a blocking store: a cheap `Clone` handle, as Axum's `State` wants.
//! #[derive(Clone, Default)]
//! struct Users {
//!     names: Arc<Mutex<Vec<String>>>,
//! }
//!
//! impl Users {
//!     #[smartasync]
//!     fn add(&self, name: &str) -> usize {
//!         // Blocking work: a database call, a file, a C library...
//!         let mut names = self.names.lock().unwrap();
//!         names.push(name.to_owned());
//!         names.len()
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let users = Users::default();
//! // In a handler: runs on the blocking pool, the event loop stays free.
//! assert_eq!(users.add_async("ada").await, 1);
//! // In sync code (a CLI, a migration): the very same body, called directly.
//! assert_eq!(users.add("grace"), 2);
//! # });
//! ```
//!
//! # Sync code calling async code
//!
//! ```
//! use std::time::Duration;
//!
//! use smartasync::smartasync;
//!
//! struct Client {
//!     delay: Duration,
//! }
//!
//! impl Client {
//!     #[smartasync]
//!     async fn connect(delay_ms: u64) -> Client {
//!         Client { delay: Duration::from_millis(delay_ms) }
//!     }
//!
//!     #[smartasync]
//!     async fn get(&self, path: &str) -> String {
//!         tokio::time::sleep(self.delay).await; // needs a Tokio timer: provided
//!         format!("GET {path}")
//!     }
//! }
//!
//! // Plain `main`, no runtime in sight.
//! let client = Client::connect(1);
//! assert_eq!(client.get("/health"), "GET /health");
//! ```
//!
//! # What is generated
//!
//! | written as | `foo` (blocking entry) | `foo_async` (async entry) |
//! |---|---|---|
//! | `fn foo(..) -> T` | the body as written, unchanged | `fn foo_async(..) -> impl Future<Output = T> + Send + 'static`: runs the body on a blocking-pool thread ([`unblock`]) |
//! | `async fn foo(..) -> T` | `fn foo(..) -> T`: drives the body to completion ([`block_on`]) | the body as written, as `async fn foo_async` |
//!
//! Callers never care how a function is implemented: a method can move from a blocking
//! driver to an async one, or back, without touching a call site. Same-kind calls cost
//! nothing: they are the written body. The attribute's documentation ([`smartasync`]) has
//! the signature rules, `#[smartasync(in_place)]` and `#[smartasync(crate = "..")]`.
//!
//! # Where each call runs
//!
//! | where the call happens | `foo(..)` on an `async fn` body | `foo_async(..).await` on a `fn` body |
//! |---|---|---|
//! | a plain thread, no runtime | polled on this thread; I/O and timers driven by the process-wide runtime | (under a non-Tokio executor) the process-wide runtime's blocking pool |
//! | a worker of a multi-thread runtime (a sync function called from async code) | `block_in_place`, then polled with that runtime's handle: no panic, its other tasks keep running, its resources work | that runtime's blocking pool |
//! | the thread of a current-thread runtime (`#[tokio::test]`) | polled on this thread with the process-wide runtime entered; no panic (see the caveat in [`block_on`]) | that runtime's blocking pool |
//! | a `spawn_blocking` / [`unblock`] thread (nesting) | polled with that runtime's handle: resources created there live on it | that runtime's blocking pool |
//! | inside a `LocalSet` (where Tokio refuses `block_in_place`) | polled here with that runtime's handle: no panic | that runtime's blocking pool |
//!
//! The process-wide runtime ([`runtime`]) is a Tokio multi-thread runtime built on first
//! need and kept for the life of the process, so a client or connection pool created in one
//! blocking call keeps working in the next ones, from any thread. It can be configured
//! before first use ([`runtime::Config`]), and its handle is public.
//!
//! Panics resume in the caller with their original payload, in both directions; `Result`
//! bodies return their `Err` unchanged. With the `tracing` feature, the caller's span is
//! entered inside offloaded work.
//!
//! # Limitations
//!
//! The async entry of a `fn` body runs it on another thread and returns a `'static` future,
//! so it cannot hold the caller's borrows. A mutable receiver is refused at compile time,
//! with the ways out in the message (interior mutability, `self: Arc<Self>`, an `async fn`
//! body, or `#[smartasync(in_place)]`):
//!
//! ```compile_fail
//! # use smartasync::smartasync;
//! # #[derive(Clone)] struct Counter { count: u32 }
//! impl Counter {
//!     #[smartasync]
//!     fn increment(&mut self) -> u32 {
//!         self.count += 1;
//!         self.count
//!     }
//! }
//! ```
//!
//! So is a result that borrows from the arguments:
//!
//! ```compile_fail
//! # use smartasync::smartasync;
//! # #[derive(Clone)] struct Config { name: String }
//! impl Config {
//!     #[smartasync]
//!     fn name(&self) -> &str {
//!         &self.name
//!     }
//! }
//! ```
//!
//! `&self` is cloned into the blocking pool, so `Self` must be `Clone + Send + Sync +
//! 'static`:
//!
//! ```compile_fail,E0277
//! # use smartasync::smartasync;
//! struct Database {
//!     path: std::path::PathBuf,
//! }
//!
//! impl Database {
//!     #[smartasync]
//!     fn size(&self) -> u64 {
//!         std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
//!     }
//! }
//! ```
//!
//! Each level of sync -> async -> sync nesting that runs inside the blocking pool holds one
//! pool thread while it waits for the next, so a chain deeper than the pool
//! (`max_blocking_threads`, 512 by default) waits for a thread, as nested `spawn_blocking`
//! calls do.
//!
//! The blocking entry of an `async fn` body called on the thread of a current-thread
//! runtime pauses that runtime while it runs (see [`block_on`]); in async code, prefer the
//! async entry. Dropping the future of the async entry of a `fn` body does not stop a body
//! that has started: a thread cannot be interrupted.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block_on;
mod blocking;
mod context;
mod in_place;
pub mod runtime;
mod unblock;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::block_on::block_on;
pub use crate::in_place::in_place;
pub use crate::unblock::unblock;
pub use smartasync_macros::smartasync;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The future returned by the async entry of a method of a `#[smartasync]` trait: boxed, so
/// that the trait stays dyn-compatible, `Send`, and free to borrow every argument for `'a`.
///
/// ```
/// use smartasync::{smartasync, BoxFuture};
///
/// #[smartasync]
/// trait Greeter: Send + Sync {
///     fn greet(&self, name: &str) -> String;
/// }
///
/// // What the trait declares next to `greet`:
/// fn declared<'a>(greeter: &'a dyn Greeter, name: &'a str) -> BoxFuture<'a, String> {
///     greeter.greet_async(name)
/// }
/// # let _ = declared;
/// ```
pub type BoxFuture<'a, T> =
    ::core::pin::Pin<Box<dyn ::core::future::Future<Output = T> + Send + 'a>>;

/// [`BoxFuture`] without `Send`: the async entries of a trait declared
/// `#[smartasync(?Send)]`.
pub type LocalBoxFuture<'a, T> = ::core::pin::Pin<Box<dyn ::core::future::Future<Output = T> + 'a>>;
