//! Lanes: dedicated threads for one resource.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;

use tokio::sync::oneshot;

use crate::block_on::block_on;
use crate::cancel::{self, CancelOnDrop, Token};
use crate::unblock::in_current_span;

/// A set of dedicated threads for one resource: every call of a function marked
/// `#[smartasync(lane = L)]` runs on one of `L`'s threads, through either entry, in the
/// order the calls arrived.
///
/// `spawn_blocking` hands each call to whichever pool thread is free, so N callers of one
/// SQLite database become N threads contending for its lock. A lane gives the resource its
/// own thread (or `k` of them) instead: calls are handed over through one queue with one
/// wake-up each, and state that must stay on one thread (a `rusqlite::Connection`, a
/// `!Send` C handle) can live in a `thread_local!` of the lane's thread; with one thread,
/// calls are serialized without a lock.
///
/// A lane is built in a `static` with `const fn`s. Its threads start on first use, are
/// named after it (`users-db-0`, `users-db-1`, ...) and live for the process.
///
/// ```
/// use std::cell::RefCell;
///
/// use smartasync::{smartasync, Lane};
///
/// static DB: Lane = Lane::new("users-db");
///
/// thread_local! {
///     // Lives on the lane's one thread: no lock, no `Send` needed.
///     static ROWS: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
///
/// #[smartasync(lane = DB)]
/// fn insert(name: &str) -> usize {
///     ROWS.with(|rows| {
///         rows.borrow_mut().push(name.to_owned());
///         rows.borrow().len()
///     })
/// }
///
/// assert_eq!(insert("ada"), 1); // sync code: queued, runs on `users-db-0`, waits
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(insert_async("grace").await, 2); // async code: queued, awaited
/// # });
/// ```
pub struct Lane {
    name: &'static str,
    threads: usize,
    queue: OnceLock<Sender<Job>>,
}

/// A call handed to a lane's thread.
type Job = Box<dyn FnOnce() + Send>;

impl Lane {
    /// A lane of one thread named `name-0`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            threads: 1,
            queue: OnceLock::new(),
        }
    }

    /// The same lane with `count` threads (`name-0` .. `name-{count-1}`), which take the
    /// calls in arrival order, each the next one it finds.
    ///
    /// ```
    /// static PARSERS: smartasync::Lane = smartasync::Lane::new("parsers").threads(4);
    /// assert_eq!(PARSERS.thread_count(), 4);
    /// ```
    ///
    /// # Panics
    ///
    /// When `count` is 0 (in a `static`, at compile time).
    #[must_use]
    pub const fn threads(self, count: usize) -> Self {
        assert!(count > 0, "a lane needs at least one thread");
        let name = self.name;
        // Not started (a `const` context cannot start it), so there is nothing to drop.
        std::mem::forget(self);
        Self {
            name,
            threads: count,
            queue: OnceLock::new(),
        }
    }

    /// The lane's name, which its threads are named after.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How many threads the lane has (started or not).
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// Whether the calling thread is one of this lane's.
    pub fn is_current(&'static self) -> bool {
        CURRENT.with(|current| current.get() == self.address())
    }

    fn address(&'static self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The queue, starting the threads on first use.
    fn queue(&'static self) -> &'static Sender<Job> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for index in 0..self.threads {
                let receiver = Arc::clone(&receiver);
                thread::Builder::new()
                    .name(format!("{}-{index}", self.name))
                    .spawn(move || self.serve(&receiver))
                    .unwrap_or_else(|error| {
                        panic!("smartasync: cannot start lane `{}`: {error}", self.name)
                    });
            }
            sender
        })
    }

    /// A lane thread's loop: take the next call, run it, forever.
    fn serve(&'static self, receiver: &Mutex<Receiver<Job>>) {
        CURRENT.with(|current| current.set(self.address()));
        loop {
            // The lock is held only by the thread waiting for the next call; the others
            // wait for the lock. Each hand-over wakes one thread.
            let job = receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            match job {
                // A job catches its body's panic and hands it to the caller. What panics
                // outside it (the drop of a value nobody waits for) is reported by the
                // panic hook; the thread goes on serving, so the lane never loses it.
                Ok(job) => drop(panic::catch_unwind(AssertUnwindSafe(job))),
                Err(_) => return,
            }
        }
    }

    /// Queues `job`; it runs on one of the lane's threads after the calls queued before.
    pub(crate) fn push(&'static self, job: Job) {
        // The lane's threads live for the process, so the queue never closes.
        let _ = self.queue().send(job);
    }
}

thread_local! {
    /// The lane whose thread this is (its address), or 0.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// What a call's body gave: its value, or the payload of its panic.
type Outcome<T> = Result<T, Box<dyn Any + Send>>;

/// The job that runs `body` on the lane and sends its outcome back, unless the caller has
/// gone (a dropped future) before it starts: then the body never runs.
fn job<F, T>(body: F, reply: oneshot::Sender<Outcome<T>>) -> Job
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Box::new(move || {
        if reply.is_closed() {
            return;
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(body));
        let _ = reply.send(outcome);
    })
}

fn resume<T>(outcome: Result<Outcome<T>, oneshot::error::RecvError>) -> T {
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => unreachable!("a lane runs every job it takes and always replies"),
    }
}

/// The blocking entry of a lane's body called from another thread: queue it and wait,
/// without stalling a runtime whose worker this is (see [`block_on`]).
pub fn run_blocking<F, T>(lane: &'static Lane, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (reply, outcome) = oneshot::channel();
    lane.push(job(cancel::with_current(in_current_span(body)), reply));
    resume(block_on(outcome))
}

/// The async entry of a lane's body: queued when first polled, awaited without holding a
/// thread, or run at once where it is polled on one of the lane's threads. Dropped before
/// the body starts, the body never runs; after, the body is cancelled
/// ([`crate::cancelled`]).
// Not an `async fn`: the caller's span is taken when the entry is called, not when polled.
#[allow(clippy::manual_async_fn)]
pub fn run_async<F, T>(lane: &'static Lane, body: F) -> impl Future<Output = T> + Send + 'static
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let token = Token::for_call();
    let body = cancel::with_token(Arc::clone(&token), in_current_span(body));
    let mut call = CancelOnDrop::new(token);
    async move {
        // Polled on the lane's own thread (a lane body that drives an async entry of its
        // own lane with `block_on`): the lane is busy with this very call, so run here.
        let output = if lane.is_current() {
            body()
        } else {
            let (reply, outcome) = oneshot::channel();
            lane.push(job(body, reply));
            resume(outcome.await)
        };
        call.disarm();
        output.expect("a call is abandoned only when its future is dropped")
    }
}

/// Starts a stream's producer on `lane`: queued after the calls before it, or, polled on
/// one of the lane's own threads (a nested call), run here to its end.
pub(crate) async fn start_stream(lane: &'static Lane, producer: crate::stream::Producer) {
    if lane.is_current() {
        producer.run_inline();
    } else {
        lane.push(Box::new(move || producer.run()));
    }
}
