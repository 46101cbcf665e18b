//! Running blocking work where the async code is, without leaving the thread.

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::blocking;
use crate::context::{self, Mode};

/// Runs a blocking closure on the current thread, telling a multi-thread runtime first.
///
/// On a worker of a multi-thread Tokio runtime (or inside its `Runtime::block_on`), this is
/// [`tokio::task::block_in_place`]: the runtime moves its other tasks to another thread for
/// the duration. Anywhere else (a current-thread runtime, a blocking-pool thread, no runtime
/// at all) the closure simply runs inline, because there is nothing to hand over; so it does
/// where Tokio refuses `block_in_place`, inside a `LocalSet` (see
/// [`block_on`](crate::block_on) on how that is asked without a printed panic).
///
/// This is what `#[smartasync(in_place)]` uses for the async entry of a `fn` body. Unlike
/// [`unblock`](crate::unblock), the closure may borrow and need not be `Send`, but the
/// awaiting task does not overlap the work with its other branches (`join!`, `select!`), and
/// a current-thread runtime is stalled while it runs.
///
/// # Example
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut total = 0;
/// smartasync::in_place(|| total += 1);
/// assert_eq!(total, 1);
/// # });
/// ```
pub fn in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    match Handle::try_current() {
        Ok(handle)
            if handle.runtime_flavor() == RuntimeFlavor::MultiThread
                && !matches!(context::mode(), Mode::PollingHere(_)) =>
        {
            blocking::try_block_in_place(f).unwrap_or_else(|f| f())
        }
        _ => f(),
    }
}
