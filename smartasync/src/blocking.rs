//! `tokio::task::block_in_place` where Tokio allows it, and the closure handed back where it
//! refuses.
//!
//! On a multi-thread runtime, `block_in_place` is how a worker thread announces that it is
//! about to block, so that its other tasks move to another thread. Tokio refuses it, with a
//! panic, in places that look the same from outside: inside a `LocalSet` (whose tasks cannot
//! move), and on the thread of a current-thread runtime that has entered a multi-thread
//! runtime's handle. Tokio offers no way to ask first, so [`try_block_in_place`] asks by
//! trying: the refusal happens before the closure runs, so the closure can be given back
//! untouched, and a pass-through panic hook keeps that one panic off the user's terminal.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::thread;

thread_local! {
    /// Set while this thread asks Tokio for `block_in_place`, until the closure starts.
    static ASKING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` inside `tokio::task::block_in_place`, or gives it back unrun when Tokio refuses.
///
/// A panic of `f` itself unwinds out of here with its payload, as it would from
/// `block_in_place`.
pub(crate) fn try_block_in_place<F, R>(f: F) -> Result<R, F>
where
    F: FnOnce() -> R,
{
    if cfg!(panic = "abort") {
        // A refusal cannot be caught when panics abort: ask the plain way, so that a refusal
        // is at least reported.
        return Ok(tokio::task::block_in_place(f));
    }
    if !thread::panicking() {
        // No hook can be installed while unwinding (a `Drop` during a panic); a refusal
        // there is still caught, only not hidden.
        install_quiet_hook();
    }
    let mut slot = Some(f);
    let started = Cell::new(false);
    let asking = Asking::begin();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        tokio::task::block_in_place(|| {
            Asking::end();
            started.set(true);
            slot.take().map(|f| f())
        })
    }));
    drop(asking);
    match outcome {
        Ok(Some(output)) => Ok(output),
        Ok(None) => unreachable!("the closure is taken once"),
        Err(payload) if started.get() || !is_refusal(&*payload) => panic::resume_unwind(payload),
        Err(_) => match slot.take() {
            Some(f) => Err(f),
            None => unreachable!("a refused closure was not taken"),
        },
    }
}

/// What Tokio 1.x panics with when it refuses `block_in_place`. Any other panic before the
/// closure starts (the runtime failing to start a thread for the worker's tasks, say) is
/// not a refusal: it is reported and resumed as it is.
const REFUSAL: &str = "can call blocking only when running on the multi-threaded runtime";

fn is_refusal(payload: &(dyn Any + Send)) -> bool {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .is_some_and(|message| message.contains(REFUSAL))
}

/// Marks the thread as asking until dropped (also on unwind).
struct Asking;

impl Asking {
    fn begin() -> Self {
        ASKING.with(|asking| asking.set(true));
        Self
    }

    fn end() {
        ASKING.with(|asking| asking.set(false));
    }
}

impl Drop for Asking {
    fn drop(&mut self) {
        Self::end();
    }
}

/// Wraps the panic hook in place once: Tokio's refusal, raised while this thread is asking,
/// is not reported; every other panic goes to the previous hook unchanged. A hook
/// the application installs later replaces this one; refusals are then reported by it, and
/// still handled here.
fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let asking = ASKING.try_with(Cell::get).unwrap_or(false);
            if !(asking && is_refusal(info.payload())) {
                previous(info);
            }
        }));
    });
}

static INSTALL: Once = Once::new();
