//! Driving a future to completion from sync code, wherever that code runs.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::blocking;
use crate::context::{self, Mode, Wakeups};
use crate::runtime;

/// Runs a future to completion on the calling thread and returns its output.
///
/// This is the blocking entry that `#[smartasync]` generates for an `async fn` body, and it
/// can be called directly. It never panics because of where it is called: where it polls,
/// and with which runtime's handle, in each context (no runtime, a worker of a multi-thread
/// runtime, a current-thread runtime, a blocking-pool thread, a `LocalSet`) is the first
/// column of the crate documentation's table, [where each call runs](crate#where-each-call-runs).
///
/// Panics of the future unwind out of `block_on` with their original payload.
///
/// Tokio refuses `block_in_place` with a panic, and offers no way to ask first; smartasync
/// asks by trying, before anything of the future runs. So that the refusal is not printed,
/// the first such call installs a pass-through panic hook that hides that one panic and
/// hands every other panic to the hook that was in place. A hook the application installs
/// later replaces it and then also sees these refusals: install yours first, at the top of
/// `main`. Each refused call costs a caught panic (about 2 µs). Where panics abort
/// (`panic = "abort"`), a refusal cannot be caught, so `block_on` inside a `LocalSet` on a
/// multi-thread runtime aborts with Tokio's message, as Tokio's own `block_in_place` would.
///
/// # Caveat on a current-thread runtime
///
/// A current-thread runtime has one thread. While `block_on` polls on it, that runtime is
/// paused: its other tasks do not run and its I/O is not driven. A future that waits on
/// something only that runtime can finish (a task spawned on it, a socket created by it)
/// then waits forever. Futures that create their own resources, as an `async fn` body
/// usually does, are unaffected: they are driven by the process-wide runtime. In async code
/// prefer the async entry (`foo_async(..).await`), which has no such caveat.
///
/// Tokio also hands some wake-ups to the scheduler of the thread's runtime instead of the
/// waker (`tokio::task::yield_now` does): on a paused current-thread runtime they would
/// never arrive. So on such a thread, a future that is not woken is re-polled anyway after
/// a short wait, starting at 50 µs and doubling up to 1 ms while nothing wakes it.
///
/// A closure run directly by `tokio::task::spawn_blocking` (rather than [`unblock`](crate::unblock) or a
/// generated `_async` entry) on a current-thread runtime cannot be told from that runtime's
/// own thread, so it is treated like it: the future runs, on the process-wide runtime.
///
/// # Example
///
/// ```
/// async fn answer() -> u32 {
///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///     42
/// }
///
/// // Plain sync code: no runtime to create or keep.
/// assert_eq!(smartasync::block_on(answer()), 42);
///
/// // Inside a runtime, where `Runtime::block_on` would panic.
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// assert_eq!(rt.block_on(async { smartasync::block_on(answer()) }), 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let Ok(handle) = Handle::try_current() else {
        return runtime::handle().block_on(future);
    };
    match (context::mode(), handle.runtime_flavor()) {
        // Nested inside our own polling on a thread that a runtime has entered: keep going
        // here, with whatever runtime the outer call made current. Wake-ups are delivered
        // as long as that runtime is still the one we knew to deliver them.
        (Mode::PollingHere(wakeups), _) => {
            let wakeups = match wakeups {
                Wakeups::Delivered(id) if id == handle.id() => wakeups,
                _ => Wakeups::MayBeHeld,
            };
            poll_here(future, wakeups)
        }
        (_, RuntimeFlavor::MultiThread) => {
            let mut future = pin!(future);
            match blocking::try_block_in_place(|| handle.block_on(future.as_mut())) {
                Ok(output) => output,
                // Tokio refused (a `LocalSet`, or another runtime's thread): poll here, with
                // the runtime this thread entered driving I/O and timers.
                Err(_) => poll_here(future, Wakeups::MayBeHeld),
            }
        }
        (Mode::Offloaded(id), RuntimeFlavor::CurrentThread) if id == handle.id() => {
            poll_here(future, Wakeups::Delivered(id))
        }
        _ => {
            let _entered = runtime::handle().enter();
            poll_here(future, Wakeups::MayBeHeld)
        }
    }
}

/// First and longest wait before re-polling a future whose wake-ups a paused scheduler may
/// be holding back (see [`Wakeups::MayBeHeld`]). The wait doubles while no wake-up comes
/// and starts over after one.
const FIRST_RECHECK: Duration = Duration::from_micros(50);
const LAST_RECHECK: Duration = Duration::from_millis(1);

/// Polls `future` to completion on this thread, parking between polls.
///
/// Used where the thread is inside a Tokio runtime, so Tokio's own `block_on` would panic.
/// Runs outside the task budget (a foreign executor on a Tokio thread can otherwise be
/// starved by an exhausted budget that only Tokio's scheduler would reset) and marks the
/// thread so nested calls come back here.
///
/// With [`Wakeups::MayBeHeld`] (the thread of a current-thread runtime), Tokio gives some
/// wake-ups to that runtime's scheduler instead of the waker (`tokio::task::yield_now`),
/// and the scheduler cannot run until this returns; so the future is also re-polled after
/// a wait that grows from [`FIRST_RECHECK`] to [`LAST_RECHECK`] without a wake-up.
fn poll_here<F: Future>(future: F, wakeups: Wakeups) -> F::Output {
    let _mode = context::set_mode(Mode::PollingHere(wakeups));
    let mut future = pin!(tokio::task::unconstrained(future));
    let signal = Arc::new(Signal {
        woken: AtomicBool::new(false),
        thread: thread::current(),
    });
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    let mut recheck = FIRST_RECHECK;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Each call has its own flag: a nested call parking on this thread may consume the
        // unpark meant for us, but not the flag, so no wake-up is lost.
        match wakeups {
            Wakeups::Delivered(_) => {
                while !signal.woken.swap(false, Ordering::Acquire) {
                    thread::park();
                }
            }
            Wakeups::MayBeHeld => {
                if signal.wait_for(recheck) {
                    recheck = FIRST_RECHECK;
                } else {
                    recheck = (recheck * 2).min(LAST_RECHECK);
                }
            }
        }
    }
}

struct Signal {
    woken: AtomicBool,
    thread: Thread,
}

impl Signal {
    /// Parks until woken or until `timeout` has passed; whether it was woken.
    fn wait_for(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.woken.swap(false, Ordering::Acquire) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
        }
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}
