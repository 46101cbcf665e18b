//! Running blocking work from async code without blocking the async threads.

use std::future::{poll_fn, Future};
use std::panic;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::{JoinError, JoinHandle};

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
/// # Nesting
///
/// Polled by a thread that is itself blocked in [`block_on`](crate::block_on) (sync code
/// calling async code calling blocking code, at any depth), the closure still goes to the
/// pool, but if the pool has not started it within 10 ms (every thread is taken, perhaps by
/// the chain's outer levels, each waiting for the next), the waiting thread runs it itself.
/// So nesting never waits for a pool thread that only it could free.
///
/// # Panics and cancellation
///
/// A panic in the closure resumes in the task that awaits the future, with its original
/// payload. Dropping the future before it is first polled means the closure never runs;
/// dropping it later detaches the closure, which runs to the end while its result is
/// dropped (a thread cannot be interrupted).
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
    let f = in_current_span(f);
    async move {
        let current = Handle::try_current();
        let handle = current.as_ref().unwrap_or_else(|_| runtime::handle());
        if context::is_blocking_caller() {
            return run_nested(handle, f).await;
        }
        match tokio::task::unconstrained(spawn(handle, f)).await {
            Ok(output) => output,
            Err(error) => resume(error),
        }
    }
}

/// How long a body offloaded from inside [`block_on`](crate::block_on) may wait for the
/// blocking pool to start it before the waiting thread runs it itself.
const NESTED_GRACE: Duration = Duration::from_millis(10);

/// `unblock` polled by a thread that is itself blocked in [`block_on`](crate::block_on) (a
/// sync caller, often a blocking-pool thread running an outer body).
///
/// Each level of such nesting holds a pool thread while it waits for the next, so deep
/// chains, or a small `max_blocking_threads`, could use up the pool and wait forever for a
/// thread that only they could free. So the body goes to the pool as usual, and if the pool
/// has not started it within [`NESTED_GRACE`], the waiting thread, which may block anyway,
/// takes it back and runs it itself. Exactly one of the two runs it. Bodies that the pool
/// starts in time overlap as usual (a `join!` of several stays concurrent).
async fn run_nested<F, R>(handle: &Handle, f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let slot = Arc::new(Mutex::new(Some(f)));
    let pool_slot = Arc::clone(&slot);
    let mut task = pin!(tokio::task::unconstrained(spawn(handle, move || {
        take(&pool_slot).map(|f| f())
    })));
    let mut grace = pin!({
        // The process-wide runtime's timer: the ambient runtime may have none.
        let _entered = runtime::handle().enter();
        tokio::time::sleep(NESTED_GRACE)
    });
    let started_in_time = poll_fn(|cx| {
        if let Poll::Ready(result) = task.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        grace.as_mut().poll(cx).map(|()| None)
    })
    .await;
    let result = match started_in_time {
        Some(result) => result,
        None => match take(&slot) {
            // Not started: ours now. The pool's copy of the job will find nothing to do.
            Some(f) => return f(),
            None => task.await,
        },
    };
    match result {
        Ok(Some(output)) => output,
        Ok(None) => unreachable!("the body was taken back only after the pool's turn"),
        Err(error) => resume(error),
    }
}

fn take<F>(slot: &Mutex<Option<F>>) -> Option<F> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// `spawn_blocking` on `handle`, telling a nested `block_on` on a current-thread runtime's
/// blocking thread that it is not that runtime's (possibly busy) own thread.
fn spawn<F, R>(handle: &Handle, f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
        let id = handle.id();
        handle.spawn_blocking(move || {
            let _mode = context::set_mode(Mode::Offloaded(id));
            f()
        })
    } else {
        handle.spawn_blocking(f)
    }
}

fn resume(error: JoinError) -> ! {
    match error.try_into_panic() {
        Ok(payload) => panic::resume_unwind(payload),
        Err(error) => panic!(
            "smartasync: the blocking task did not finish because its runtime shut down: {error}"
        ),
    }
}

#[cfg(feature = "tracing")]
fn in_current_span<F: FnOnce() -> R, R>(f: F) -> impl FnOnce() -> R {
    let span = tracing::Span::current();
    move || span.in_scope(f)
}

#[cfg(not(feature = "tracing"))]
fn in_current_span<F>(f: F) -> F {
    f
}
