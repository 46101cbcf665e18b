//! Running blocking work from async code without blocking the async threads.

use std::future::Future;
use std::panic;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::{JoinError, JoinHandle};

use std::sync::Arc;

use crate::cancel::{self, CancelOnDrop, Token};
use crate::context::{self, Mode};
use crate::runtime;

/// Runs a blocking closure on a blocking-pool thread and returns a future of its result.
///
/// This is the async entry that `#[smartasync]` generates for a `fn` body, and it can be
/// called directly. Nothing runs until the future is first polled; then:
///
/// | polled from | the closure runs on |
/// |---|---|
/// | a task of any Tokio runtime (either flavor), or a thread that entered one | that runtime's blocking pool (`spawn_blocking`) |
/// | a future under another executor, with no Tokio runtime | the process-wide runtime's blocking pool |
///
/// The returned future is `Send + 'static` and needs no Tokio context of its own to be
/// polled. With the `tracing` feature, the span current when `unblock` is called is entered
/// around the closure.
///
/// # Panics and cancellation
///
/// A panic in the closure resumes in the task that awaits the future, with its original
/// payload. Dropping the future before it is first polled means the closure never runs;
/// dropping it while the closure waits for a pool thread means it never runs; dropping it
/// after that cancels the call: [`cancelled`](crate::cancelled) turns true inside the
/// closure and its [`on_cancel`](crate::on_cancel) callbacks run, and a closure that asks
/// neither runs to its end while its result is dropped (a thread cannot be interrupted).
///
/// # Example
///
/// ```
/// fn checksum(data: &[u8]) -> u32 {
///     data.iter().map(|&b| u32::from(b)).sum()
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = vec![1u8, 2, 3];
/// let sum = smartasync::unblock(move || checksum(&data)).await;
/// assert_eq!(sum, 6);
/// # });
/// ```
pub fn unblock<F, R>(f: F) -> impl Future<Output = R> + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let token = Token::for_call();
    let f = cancel::with_token(Arc::clone(&token), in_current_span(f));
    let mut call = CancelOnDrop::new(token);
    async move {
        let current = Handle::try_current();
        let handle = current.as_ref().unwrap_or_else(|_| runtime::handle());
        let output = run_on(handle, f).await;
        call.disarm();
        output.expect("a call is abandoned only when its future is dropped")
    }
}

/// Runs `f` on `handle`'s blocking pool and awaits it, resuming its panic here.
pub(crate) async fn run_on<F, R>(handle: &Handle, f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match tokio::task::unconstrained(spawn_on(handle, f)).await {
        Ok(output) => output,
        Err(error) => resume(error),
    }
}

/// Starts `f` on the blocking pool of the runtime of the calling context (or the
/// process-wide runtime's) and lets it run on its own.
pub(crate) fn spawn_detached<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let current = Handle::try_current();
    let handle = current.as_ref().unwrap_or_else(|_| runtime::handle());
    drop(spawn_on(handle, f));
}

/// Starts `f` on `handle`'s blocking pool.
fn spawn_on<F, R>(handle: &Handle, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
        // Tell a nested `block_on` that this is a blocking thread of that runtime, not its
        // (possibly busy) own thread.
        let id = handle.id();
        handle.spawn_blocking(move || {
            let _mode = context::set_mode(Mode::Offloaded(id));
            f()
        })
    } else {
        handle.spawn_blocking(f)
    }
}

pub(crate) fn resume(error: JoinError) -> ! {
    match error.try_into_panic() {
        Ok(payload) => panic::resume_unwind(payload),
        Err(error) => panic!(
            "smartasync: the blocking task did not finish because its runtime shut down: {error}"
        ),
    }
}

/// `f`, run inside the span current now (with the `tracing` feature).
#[cfg(feature = "tracing")]
pub(crate) fn in_current_span<F: FnOnce() -> R, R>(f: F) -> impl FnOnce() -> R {
    let span = tracing::Span::current();
    move || span.in_scope(f)
}

/// `f` (without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
pub(crate) fn in_current_span<F>(f: F) -> F {
    f
}
