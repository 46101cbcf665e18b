//! Helpers shared by the behaviour tests: a watchdog and runtimes with recognisable names.
#![allow(dead_code)]

use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use std::thread::ThreadId;

use tokio::runtime::{Builder, Handle, Id, Runtime};

/// How long a test may take before it counts as a deadlock.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `f` on a fresh thread and waits at most [`WATCHDOG`] for it: a deadlock fails the
/// test instead of hanging it, and a panic resumes here with its payload.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(format!("watched: {what}"))
        .spawn(move || {
            let _ = sender.send(f());
        })
        .expect("spawn the watched thread");
    match receiver.recv_timeout(WATCHDOG) {
        Ok(value) => {
            worker.join().expect("the watched thread ended");
            value
        }
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => panic::resume_unwind(payload),
            Ok(()) => unreachable!("the watched thread ended without an answer"),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer within {WATCHDOG:?} (deadlock or lost wake-up)")
        }
    }
}

/// A multi-thread runtime whose threads (workers and blocking pool) are all named `name`.
pub fn multi_thread(name: &str, workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a multi-thread runtime")
}

/// A current-thread runtime whose blocking-pool threads are named `name`.
pub fn current_thread(name: &str) -> Runtime {
    Builder::new_current_thread()
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

/// The id of smartasync's process-wide runtime (starting it if needed).
pub fn process_wide() -> Id {
    smartasync::runtime::handle().id()
}

/// Thread name of the process-wide runtime when no `Config` is installed.
pub const PROCESS_WIDE_NAME: &str = "smartasync-runtime";

/// Where some code ran: its thread, and the Tokio runtime reachable from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub thread: ThreadId,
    pub name: Option<String>,
    pub runtime: Option<Id>,
}

impl Place {
    pub fn here() -> Self {
        let current = thread::current();
        Self {
            thread: current.id(),
            name: current.name().map(String::from),
            runtime: Handle::try_current().ok().map(|handle| handle.id()),
        }
    }
}
