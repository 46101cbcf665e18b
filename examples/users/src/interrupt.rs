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

use std::ops::Deref;
use std::time::Duration;

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
