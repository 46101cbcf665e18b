//! Stopping SQLite when the caller goes away: a request dropped by its client, or by the
//! API's timeout, interrupts the statement it started.
//!
//! The SQLite stores' methods are blocking `fn`s whose `_async` entries run them on the
//! blocking pool or on a lane. When the future of such an entry is dropped (Axum drops the
//! handler's future when the client disconnects or the request times out), smartasync
//! cancels the body: [`smartasync::cancelled`] turns true, and callbacks registered with
//! [`smartasync::on_cancel`] run once, on the dropping thread. A statement stepping through
//! rows does not poll anything, so the stores register rusqlite's
//! [`InterruptHandle::interrupt`] for the connection a call uses, in one place: where a
//! pooled connection is checked out ([`UserStore::connection`]), where a lane call gets its
//! connection, where an export opens its reader. The statement running then ends with
//! `SQLITE_INTERRUPT` ([`UserError::Interrupted`]), a write's transaction is rolled back by
//! SQLite, and the connection goes back to its pool (or the lane takes its next call).
//!
//! Two rules keep an interrupt on its own call:
//!
//! - The registration is withdrawn when the connection leaves the call ([`Interruptible`]
//!   disarms it before it gives the connection back), so a cancellation that arrives
//!   after that moment (the body has not returned yet, its connection is already another
//!   call's) interrupts nothing. [`smartasync::OnCancel::disarm`] orders the two: the
//!   callback either has run before the connection is given back, or never runs.
//! - `interrupt()` called while no statement runs on the connection is a no-op: SQLite
//!   interrupts only the statements running at that moment, and clears the flag when the
//!   last of them ends, so the next statement runs normally (the test
//!   `interrupt_with_nothing_running_leaves_the_next_query_alone` checks it).
//!
//! A call whose caller is gone before it got its connection stops there, without running
//! a statement; a pooled call waiting for a connection notices within [`CANCEL_POLL`].
//! Calls from sync code have no caller that can go away: nothing is registered for them.
//!
//! [`UserStore::connection`]: crate::UserStore::connection
//! [`InterruptHandle::interrupt`]: rusqlite::InterruptHandle::interrupt

use std::collections::VecDeque;
use std::io;
use std::ops::Deref;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, InterruptHandle};

use crate::users::UserError;

/// How often a pooled call waiting for a free connection checks whether its caller left.
pub const CANCEL_POLL: Duration = Duration::from_millis(10);

/// While alive, the cancellation of the running body interrupts the statement running on
/// one connection. Dropping it withdraws the callback.
pub(crate) struct InterruptOnCancel {
    registration: Option<smartasync::OnCancel>,
}

impl InterruptOnCancel {
    /// Registers `connection`'s interrupt with the running body's cancellation.
    ///
    /// # Errors
    ///
    /// [`UserError::Interrupted`] if the caller is gone already: no statement should start.
    pub(crate) fn register(connection: &Connection) -> Result<Self, UserError> {
        let handle: InterruptHandle = connection.get_interrupt_handle();
        let registered = Self {
            registration: Some(smartasync::on_cancel(move || handle.interrupt())),
        };
        if smartasync::cancelled() {
            return Err(UserError::Interrupted);
        }
        Ok(registered)
    }
}

impl Drop for InterruptOnCancel {
    fn drop(&mut self) {
        // Waits for a callback that is interrupting right now: after this, none will.
        if let Some(registration) = self.registration.take() {
            registration.disarm();
        }
    }
}

/// A connection lent to one call, whose statements its caller's cancellation interrupts
/// (unless the store was opened [`without_interrupts`](crate::UserStore::without_interrupts)).
/// It derefs to the [`Connection`]. When dropped, it disarms the interrupt, then ends any
/// transaction left open (rolled back: a connection never goes back to its pool inside
/// one), then drops the connection (back to its pool, or closed).
pub struct Interruptible<C: Deref<Target = Connection>> {
    // Declared first, so dropped before the connection is given back.
    interrupt: Option<InterruptOnCancel>,
    connection: C,
}

impl<C: Deref<Target = Connection>> Interruptible<C> {
    /// `connection`, interrupted when the running body's caller goes away (`interrupts`),
    /// or never (`!interrupts`).
    ///
    /// # Errors
    ///
    /// [`UserError::Interrupted`] if `interrupts` and the caller is gone already.
    pub(crate) fn new(connection: C, interrupts: bool) -> Result<Self, UserError> {
        let interrupt = if interrupts {
            Some(InterruptOnCancel::register(&connection)?)
        } else {
            None
        };
        Ok(Self {
            interrupt,
            connection,
        })
    }
}

impl<C: Deref<Target = Connection>> Deref for Interruptible<C> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

impl<C: Deref<Target = Connection>> Drop for Interruptible<C> {
    fn drop(&mut self) {
        self.interrupt = None;
        if self.connection.is_autocommit() {
            return;
        }
        if let Err(error) = self.connection.execute_batch("ROLLBACK") {
            tracing::error!(%error, "cannot end a transaction left open");
        }
    }
}

/// The calls waiting for one of a pool's connections, served in the order they came.
///
/// r2d2 hands a returned connection to whichever of its waiters wakes first, so under load
/// a call can wait behind calls that came later, and a caller that stays may wait as long
/// as its connection wait allows while callers that give up are served. Here only the
/// call at the head of the line asks the pool; the others wait for their turn, and a call
/// whose caller left steps out of the line (noticed within [`CANCEL_POLL`]).
#[derive(Debug, Default)]
pub(crate) struct Line {
    state: Mutex<LineState>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct LineState {
    next: u64,
    waiting: VecDeque<u64>,
}

impl Line {
    /// Waits for this call's turn, then for `get` (the pool, asked for at most the
    /// duration given) to give a connection, until `deadline`. With `cancellable`, a call
    /// whose caller left stops waiting with [`UserError::Interrupted`].
    ///
    /// # Errors
    ///
    /// [`UserError::Unavailable`] past `deadline`; [`UserError::Interrupted`] as said.
    pub(crate) fn take<T, E>(
        &self,
        deadline: Instant,
        cancellable: bool,
        mut get: impl FnMut(Duration) -> Result<T, E>,
    ) -> Result<T, UserError>
    where
        UserError: From<E>,
    {
        let place = self.join();
        let left = || deadline.saturating_duration_since(Instant::now());
        let gone = || cancellable && smartasync::cancelled();
        let slice = |left: Duration| {
            if cancellable {
                left.min(CANCEL_POLL)
            } else {
                left
            }
        };
        let mut state = self.lock();
        while state.waiting.front() != Some(&place.ticket) {
            if gone() {
                return Err(UserError::Interrupted);
            }
            if left().is_zero() {
                return Err(UserError::Unavailable(Box::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out waiting in line for a connection",
                ))));
            }
            state = self
                .turn
                .wait_timeout(state, slice(left()))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(state);
        loop {
            if gone() {
                return Err(UserError::Interrupted);
            }
            let left = left();
            match get(slice(left)) {
                Ok(connection) => return Ok(connection),
                Err(error) if slice(left) >= left => return Err(error.into()),
                Err(_) => {}
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, LineState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place at the end of the line, left when dropped.
    fn join(&self) -> Place<'_> {
        let mut state = self.lock();
        let ticket = state.next;
        state.next += 1;
        state.waiting.push_back(ticket);
        Place { line: self, ticket }
    }
}

/// A call's place in a [`Line`].
struct Place<'a> {
    line: &'a Line,
    ticket: u64,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.line.lock();
        if let Some(index) = state
            .waiting
            .iter()
            .position(|&ticket| ticket == self.ticket)
        {
            state.waiting.remove(index);
        }
        drop(state);
        self.line.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use super::Line;
    use crate::users::UserError;

    /// A pool of one that says "none free" after waiting as long as it is asked.
    struct Busy;

    impl From<Busy> for UserError {
        fn from(_: Busy) -> Self {
            UserError::Unavailable("none free".into())
        }
    }

    fn take_one(free: &AtomicBool, wait: Duration) -> Result<(), Busy> {
        let deadline = Instant::now() + wait;
        loop {
            if free.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Busy);
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn calls_are_served_in_the_order_they_came() {
        let line = Arc::new(Line::default());
        let free = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for call in 0..4 {
            let (mine, free, served) = (Arc::clone(&line), Arc::clone(&free), Arc::clone(&served));
            waiters.push(thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                mine.take(deadline, false, |wait| take_one(&free, wait))
                    .unwrap();
                served.lock().unwrap().push(call);
                // Gives the connection back.
                free.store(true, Ordering::SeqCst);
            }));
            // Each joins the line before the next.
            while line.lock().waiting.len() < call + 1 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        free.store(true, Ordering::SeqCst);
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(*served.lock().unwrap(), [0, 1, 2, 3]);
    }

    #[test]
    fn a_call_out_of_time_steps_out_of_the_line() {
        let line = Line::default();
        let never = AtomicBool::new(false);
        let soon = Instant::now() + Duration::from_millis(20);
        let taken = line.take(soon, false, |wait| take_one(&never, wait));
        assert!(matches!(taken, Err(UserError::Unavailable(_))));
        assert!(line.lock().waiting.is_empty());
    }
}
