//! Write a function once, as `fn` or `async fn`, and call it from sync and async code alike.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod block_on;
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
