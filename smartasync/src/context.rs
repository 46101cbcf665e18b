//! What smartasync knows about the calling thread that Tokio does not say.
//!
//! Tokio tells whether a runtime handle is reachable (`Handle::try_current`) and its
//! flavor, but not whether the thread is the one driving a current-thread runtime or a
//! thread of its blocking pool, and it answers "a multi-thread runtime" on a current-thread
//! runtime's thread where we entered the process-wide runtime ourselves. Both cases need
//! different dispatch, so the entries that create them record it here, per thread, for the
//! length of the call.

use std::cell::Cell;

use tokio::runtime::Id;

/// How the current thread came to be running smartasync code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// Nothing recorded: Tokio's own view of the thread is accurate.
    Unmarked,
    /// A closure run by [`crate::unblock`] on the blocking pool of the runtime with this id.
    Offloaded(Id),
    /// A future polled by [`crate::block_on`] on this thread while a Tokio runtime is
    /// entered here and cannot be re-entered (the thread of a current-thread runtime).
    PollingHere(Wakeups),
}

/// Whether every wake-up of a future polled on this thread reaches its waker.
///
/// On the thread of a current-thread runtime, Tokio hands some wake-ups to that runtime's
/// scheduler to deliver later (`tokio::task::yield_now`, an exhausted task budget): while
/// [`crate::block_on`] polls there, the scheduler is paused, so they would never arrive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Wakeups {
    /// No scheduler can hold them back: a blocking-pool thread of the current-thread runtime
    /// with this id, as long as that runtime is the current one.
    Delivered(Id),
    /// A scheduler may be holding some back: re-poll now and then even without a wake-up.
    MayBeHeld,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Unmarked) };
}

pub(crate) fn mode() -> Mode {
    MODE.with(Cell::get)
}

/// Sets the thread's mode until the guard is dropped (also on unwind), then restores the
/// previous one, so nested calls see their own mode and the caller gets its own back.
pub(crate) fn set_mode(mode: Mode) -> ModeGuard {
    ModeGuard {
        previous: MODE.with(|cell| cell.replace(mode)),
    }
}

pub(crate) struct ModeGuard {
    previous: Mode,
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        MODE.with(|cell| cell.set(self.previous));
    }
}
