#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block_on;
mod blocking;
mod cancel;
mod context;
mod in_place;
mod lane;
mod limit;
pub mod runtime;
mod stream;
mod unblock;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::block_on::block_on;
pub use crate::cancel::{cancelled, on_cancel, OnCancel};
pub use crate::in_place::in_place;
pub use crate::lane::Lane;
pub use crate::stream::{
    block_on_stream, unblock_iter, BlockOnStream, BoxIterator, BoxStream, IterStream,
    LocalBoxStream, Stream, DEFAULT_BATCH,
};
pub use crate::unblock::unblock;
pub use smartasync_macros::smartasync;

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
