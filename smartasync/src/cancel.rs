//! Cancellation that reaches blocking work: a body run by an async entry can ask whether
//! its caller is gone ([`cancelled`]) and say what to do when that happens ([`on_cancel`]).
//!
//! Each call of an async entry that moves a body to another thread (the blocking pool, a
//! lane, a stream's producer) makes a token when it is called, as it captures the caller's
//! `tracing` span. The body runs with that token current on its thread. Dropping the
//! entry's future (or stream) before the body has returned cancels the token: a body that
//! has not started never starts, and one that runs sees [`cancelled`] turn true and has its
//! [`on_cancel`] callbacks run, once, on the dropping thread.
//!
//! A token made while another is current (a body that calls an async entry, directly or
//! through a blocking entry that drives one) is its child: cancelling the outer caller
//! cancels every call nested in it, and a call nested in a body already cancelled starts
//! cancelled. A blocking entry called from plain sync code makes no token: it is never
//! cancelled. Called inside a body, it is cancelled with that body: run in place, it shares
//! the body's token; run on a lane, it is a nested call, whose [`on_cancel`] callbacks end
//! with it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

/// Whether the async caller of the running body has gone away: its future or stream was
/// dropped (a timeout fired, a client disconnected), or the caller's own caller did.
///
/// Cheap (an atomic load): call it between rows, pages or chunks of work, and stop early
/// when it turns true. Outside a body run by an async entry (a blocking entry called from
/// sync code, a thread of your own), it is always `false`: nobody can cancel that call.
///
/// A body that never asks behaves as it always did: it runs to its end, and its result is
/// dropped.
///
/// ```
/// use std::time::Duration;
///
/// use smartasync::smartasync;
///
/// #[smartasync]
/// fn scan(rows: u64) -> u64 {
///     let mut done = 0;
///     for _ in 0..rows {
///         if smartasync::cancelled() {
///             break; // the caller is gone: nobody will read the result
///         }
///         std::thread::sleep(Duration::from_millis(1));
///         done += 1;
///     }
///     done
/// }
///
/// // Sync callers are never cancelled.
/// assert_eq!(scan(3), 3);
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // An async caller that gives up stops the body within a row.
/// let gave_up = tokio::time::timeout(Duration::from_millis(20), scan_async(1_000_000)).await;
/// assert!(gave_up.is_err());
/// # });
/// ```
pub fn cancelled() -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .is_some_and(|token| token.is_cancelled())
    })
}

/// Registers `f` to run when the async caller of the running body goes away, for as long
/// as the body runs: the way to stop work that does not poll [`cancelled`], such as a
/// database statement (`rusqlite::InterruptHandle::interrupt`) or a socket read.
///
/// `f` runs at most once, on the thread that drops the caller's future (promptly, inside
/// that drop), and never after the body has returned: a body that returns while `f` runs
/// waits for it first. If the caller is already gone, `f` runs at once, here. Outside a
/// body run by an async entry, `f` is dropped unrun: nobody can cancel that call. `f` must
/// not register further callbacks.
///
/// The registration lasts as long as the call that made it: the body of the async entry,
/// or a call it makes that runs elsewhere (a lane's blocking entry, a nested async entry),
/// whichever runs `on_cancel`. A callback registered by a lane call is dropped when that
/// call returns, even though the body that made the call runs on. Within one body, a
/// resource handed back before the body returns (a pooled connection) should have its
/// callback withdrawn ([`OnCancel::disarm`]) by the code that hands it back.
///
/// If `f` panics, the other callbacks still run and the nested calls are still cancelled;
/// the panic then resumes on the dropping thread (unless that thread is already
/// panicking).
///
/// `f` must signal, not wait: it runs inside the drop of the caller's future, often on an
/// async worker, and a body that returns meanwhile waits for it. So it must not call into
/// the body's own lane, nor wait for anything the body releases only by returning.
///
/// The returned [`OnCancel`] can withdraw `f` before the call ends
/// ([`OnCancel::disarm`]); dropping it keeps `f` registered.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use smartasync::smartasync;
///
/// #[smartasync]
/// fn wait_for(flag: Arc<AtomicBool>) -> bool {
///     let stop = Arc::clone(&flag);
///     // What a driver's interrupt handle does: make the blocking call return early.
///     smartasync::on_cancel(move || stop.store(true, Ordering::SeqCst));
///     while !flag.load(Ordering::SeqCst) {
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     true
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let flag = Arc::new(AtomicBool::new(false));
/// let waited = tokio::time::timeout(Duration::from_millis(10), wait_for_async(Arc::clone(&flag)));
/// assert!(waited.await.is_err());
/// assert!(flag.load(Ordering::SeqCst)); // set by the callback when the future was dropped
/// # });
/// ```
pub fn on_cancel<F>(f: F) -> OnCancel
where
    F: FnOnce() + Send + 'static,
{
    let token = CURRENT.with(|current| current.borrow().clone());
    let registered = token.and_then(|token| {
        let id = token.register(Box::new(f))?;
        Some((Arc::downgrade(&token), id))
    });
    OnCancel { registered }
}

/// A callback registered by [`on_cancel`]. Dropping this handle leaves the callback
/// registered for the rest of the call; [`disarm`](OnCancel::disarm) withdraws it.
#[derive(Debug)]
pub struct OnCancel {
    registered: Option<(Weak<Token>, u64)>,
}

impl OnCancel {
    /// Withdraws the callback: from when this returns, it does not run, and its captures
    /// are dropped. If it is running on another thread right now, this waits for it to
    /// end. The way to register for a resource held for part of a body, such as a pooled
    /// connection: disarm before handing the connection back, and a cancellation that
    /// comes later cannot reach the connection's next user.
    ///
    /// ```
    /// let interrupt = smartasync::on_cancel(|| { /* handle.interrupt() */ });
    /// // ... the statements of this connection ...
    /// interrupt.disarm(); // then give the connection back
    /// ```
    pub fn disarm(self) {
        if let Some((token, id)) = self.registered {
            if let Some(token) = token.upgrade() {
                token.withdraw(id);
            }
        }
    }
}

thread_local! {
    /// The token of the body running on this thread, if an async entry started it.
    static CURRENT: RefCell<Option<Arc<Token>>> = const { RefCell::new(None) };
}

type Callback = Box<dyn FnOnce() + Send>;
/// A callback, with the number that [`OnCancel::disarm`] finds it by.
type Registered = (u64, Callback);

/// The cancellation state of one call of an async entry.
pub(crate) struct Token {
    cancelled: AtomicBool,
    /// The caller's future was dropped: a body not yet started must not start.
    abandoned: AtomicBool,
    phase: Mutex<Phase>,
}

enum Phase {
    /// The body has not returned: what to run, and whom to cancel, when cancelled.
    Open {
        callbacks: Vec<Registered>,
        /// The number of the next callback registered.
        next: u64,
        children: Vec<Weak<Token>>,
    },
    /// Cancelled: callbacks ran (or are running, under the lock).
    Cancelled,
    /// The body returned: nothing more runs.
    Finished,
}

impl Token {
    /// A token for a call made now: a child of the token current on this thread, if any
    /// (and cancelled already if that one is).
    pub(crate) fn for_call() -> Arc<Token> {
        let token = Arc::new(Token {
            cancelled: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            phase: Mutex::new(Phase::Open {
                callbacks: Vec::new(),
                next: 0,
                children: Vec::new(),
            }),
        });
        if let Some(parent) = current() {
            parent.adopt(&token);
        }
        token
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Whether the caller's future was dropped before the body started.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    fn adopt(&self, child: &Arc<Token>) {
        let mut phase = self.lock();
        match &mut *phase {
            Phase::Open { children, .. } => {
                // Calls that have ended are pruned when the list would grow, so a body that
                // makes many calls keeps a list no longer than twice its live ones.
                if children.len() == children.capacity() {
                    children.retain(|child| child.strong_count() > 0);
                }
                children.push(Arc::downgrade(child));
            }
            Phase::Cancelled => {
                drop(phase);
                child.cancel();
            }
            Phase::Finished => {}
        }
    }

    /// Registers `callback`, giving its number; runs it at once if cancelled already.
    fn register(&self, callback: Callback) -> Option<u64> {
        let mut phase = self.lock();
        match &mut *phase {
            Phase::Open {
                callbacks, next, ..
            } => {
                let id = *next;
                *next += 1;
                callbacks.push((id, callback));
                Some(id)
            }
            Phase::Cancelled => {
                drop(phase);
                callback();
                None
            }
            Phase::Finished => None,
        }
    }

    /// Withdraws callback `id`, waiting for it if it runs now (under the lock).
    fn withdraw(&self, id: u64) {
        let mut phase = self.lock();
        let withdrawn = match &mut *phase {
            // Most often the latest registered: searched from the end.
            Phase::Open { callbacks, .. } => callbacks
                .iter()
                .rposition(|(registered, _)| *registered == id)
                .map(|index| callbacks.remove(index)),
            Phase::Cancelled | Phase::Finished => None,
        };
        drop(phase);
        drop(withdrawn);
    }

    /// The caller went away: the body must not start, and if it runs, it is cancelled.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
        self.cancel();
    }

    /// Cancels this call and every call nested in it, running their callbacks here. A
    /// panicking callback stops neither the others nor the nested calls' cancellation; the
    /// first panic resumes once all of them have run, unless this thread is panicking
    /// already (a drop during unwinding), where it is dropped.
    pub(crate) fn cancel(&self) {
        if let Some(payload) = self.cancel_all() {
            if !std::thread::panicking() {
                panic::resume_unwind(payload);
            }
        }
    }

    /// [`cancel`](Self::cancel), giving back the first panic of a callback instead of
    /// resuming it.
    fn cancel_all(&self) -> Option<Box<dyn Any + Send>> {
        self.cancelled.store(true, Ordering::Release);
        let mut phase = self.lock();
        let previous = std::mem::replace(&mut *phase, Phase::Cancelled);
        let Phase::Open {
            callbacks,
            children,
            ..
        } = previous
        else {
            // Cancelled already, or finished: nothing more runs.
            *phase = previous;
            return None;
        };
        let mut first_panic = None;
        // Under the lock, so that a body that returns meanwhile waits for them
        // (`finish`), and none starts after it returned.
        for (_, callback) in callbacks {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(callback)) {
                first_panic.get_or_insert(payload);
            }
        }
        drop(phase);
        for child in children.iter().filter_map(Weak::upgrade) {
            if let Some(payload) = child.cancel_all() {
                first_panic.get_or_insert(payload);
            }
        }
        first_panic
    }

    /// The body returned: drops its callbacks, after waiting for any that run.
    pub(crate) fn finish(&self) {
        let mut phase = self.lock();
        if let Phase::Open { .. } = &*phase {
            let callbacks = std::mem::replace(&mut *phase, Phase::Finished);
            // Dropped after the lock: a callback's captures may take locks of their own.
            drop(phase);
            drop(callbacks);
        }
    }

    /// Makes this the current token of this thread until the guard is dropped, when the
    /// body is marked finished and the previous token is current again.
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        let previous = CURRENT.with(|current| current.borrow_mut().replace(Arc::clone(self)));
        Entered {
            token: Arc::clone(self),
            previous,
        }
    }
}

/// The token current on this thread, if any.
pub(crate) fn current() -> Option<Arc<Token>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// A body running with its token current.
pub(crate) struct Entered {
    token: Arc<Token>,
    previous: Option<Arc<Token>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        /// Puts the previous token back even if dropping a callback panics, so that the
        /// thread does not keep a finished call's token for the calls it runs next.
        struct Restore(Option<Arc<Token>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|current| *current.borrow_mut() = previous);
            }
        }
        let _restore = Restore(self.previous.take());
        self.token.finish();
    }
}

/// Held by an async entry's future: dropped before [`disarm`](CancelOnDrop::disarm), it
/// abandons (and so cancels) the call.
pub(crate) struct CancelOnDrop(Option<Arc<Token>>);

impl CancelOnDrop {
    pub(crate) fn new(token: Arc<Token>) -> Self {
        if FOR_BLOCKING_CALLER.with(Cell::get) {
            // Dropped by a blocking caller: not a caller going away (see `for_blocking_caller`).
            return Self(None);
        }
        Self(Some(token))
    }

    /// The call's result arrived: dropping no longer cancels anything.
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }

    /// Cancels the call now, unless it was disarmed: as dropping it would, at a moment the
    /// owner chooses.
    pub(crate) fn cancel_now(&mut self) {
        if let Some(token) = self.0.take() {
            token.abandon();
        }
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = self.0.take() {
            token.abandon();
        }
    }
}

thread_local! {
    /// Calls made now are made by a blocking entry for its own caller.
    static FOR_BLOCKING_CALLER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `make`, which starts a call whose stream a blocking entry iterates for its caller:
/// dropping that iterator early (`take`, `break`) stops the call before its next item, but
/// does not cancel it, since a blocking entry is never cancelled by its own caller. Nested
/// in a body, the call is still cancelled with that body.
pub(crate) fn for_blocking_caller<R>(make: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            FOR_BLOCKING_CALLER.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(FOR_BLOCKING_CALLER.with(|flag| flag.replace(true)));
    make()
}

/// `f` for another thread, run with `token` current: a call whose caller went away before
/// it started gives `None` without running.
pub(crate) fn with_token<F, R>(token: Arc<Token>, f: F) -> impl FnOnce() -> Option<R>
where
    F: FnOnce() -> R,
{
    move || {
        if token.is_abandoned() {
            return None;
        }
        let _entered = token.enter();
        Some(f())
    }
}

/// `f` for another thread, as a call nested in the body running here (if any): a blocking
/// entry's job is cancelled with its caller, and what it registers with [`on_cancel`] is
/// dropped when the job returns, not when its caller's body does.
pub(crate) fn with_current<F, R>(f: F) -> impl FnOnce() -> R
where
    F: FnOnce() -> R,
{
    // Made here, so that it is a child of the caller's token.
    let token = current().map(|_| Token::for_call());
    move || match token {
        Some(token) => {
            let _entered = token.enter();
            f()
        }
        None => f(),
    }
}
