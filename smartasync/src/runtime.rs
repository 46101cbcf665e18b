//! The process-wide runtime: built on first need, configurable until then, never dropped.

use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The configuration waiting to be used, and whether the runtime has started building.
/// Both live under one lock so that a [`Config::install`] racing with the first use either
/// lands before the build reads it or reports [`ConfigError::AlreadyStarted`].
static PENDING: Mutex<Pending> = Mutex::new(Pending {
    config: None,
    started: false,
});

struct Pending {
    config: Option<Config>,
    started: bool,
}

const DEFAULT_THREAD_NAME: &str = "smartasync-runtime";

/// Settings of the process-wide runtime, applied with [`Config::install`] before its
/// first use.
///
/// The runtime is a Tokio multi-thread runtime with I/O and time enabled. Its worker threads
/// drive I/O and timers for futures that sync code runs through [`block_on`](crate::block_on)
/// (the future itself is polled on the calling thread) and run whatever is spawned on
/// [`handle`]; its blocking pool runs the bodies that [`unblock`](crate::unblock) offloads
/// when no Tokio runtime is present. Anything not set keeps Tokio's default, except the
/// thread name, which is `smartasync-runtime`.
///
/// # Example
///
/// ```
/// use smartasync::runtime::Config;
///
/// fn main() {
///     Config::new()
///         .worker_threads(2)
///         .thread_name("app-io")
///         .max_blocking_threads(64)
///         .install()
///         .expect("configured before first use");
///
///     let name = smartasync::runtime::handle()
///         .block_on(async { tokio::spawn(async { std::thread::current().name().map(String::from) }).await })
///         .unwrap();
///     assert_eq!(name.as_deref(), Some("app-io"));
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a `Config` does nothing until `install` is called"]
pub struct Config {
    worker_threads: Option<usize>,
    thread_name: Option<String>,
    max_blocking_threads: Option<usize>,
}

impl Config {
    /// Tokio's defaults, with threads named `smartasync-runtime`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of worker threads (Tokio's default: one per CPU core). Must be at least 1.
    pub fn worker_threads(mut self, count: usize) -> Self {
        self.worker_threads = Some(count);
        self
    }

    /// Name of every thread of the runtime, workers and blocking pool alike.
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = Some(name.into());
        self
    }

    /// Upper bound on the blocking pool's threads (Tokio's default: 512). Must be at least 1.
    pub fn max_blocking_threads(mut self, count: usize) -> Self {
        self.max_blocking_threads = Some(count);
        self
    }

    /// Makes this the configuration of the process-wide runtime.
    ///
    /// Call it early in `main`, before anything runs through smartasync. A later call
    /// replaces an earlier one as long as the runtime has not started.
    ///
    /// # Errors
    ///
    /// [`ConfigError::AlreadyStarted`] once the runtime has been built (by a call through
    /// smartasync or by [`handle`]); the running runtime is left as it is.
    /// [`ConfigError::Zero`] for a thread count of 0.
    pub fn install(self) -> Result<(), ConfigError> {
        if self.worker_threads == Some(0) {
            return Err(ConfigError::Zero("worker_threads"));
        }
        if self.max_blocking_threads == Some(0) {
            return Err(ConfigError::Zero("max_blocking_threads"));
        }
        let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.started {
            return Err(ConfigError::AlreadyStarted);
        }
        pending.config = Some(self);
        Ok(())
    }

    fn build(self) -> std::io::Result<Runtime> {
        let mut builder = Builder::new_multi_thread();
        builder
            .enable_all()
            .thread_name(self.thread_name.as_deref().unwrap_or(DEFAULT_THREAD_NAME));
        if let Some(count) = self.worker_threads {
            builder.worker_threads(count);
        }
        if let Some(count) = self.max_blocking_threads {
            builder.max_blocking_threads(count);
        }
        builder.build()
    }
}

/// Why [`Config::install`] refused a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The process-wide runtime is already running; configuration must come first.
    AlreadyStarted,
    /// The named thread count was 0.
    Zero(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyStarted => f.write_str(
                "the smartasync runtime has already started; install its configuration before \
                 the first call through smartasync",
            ),
            Self::Zero(setting) => write!(f, "`{setting}` must be at least 1"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The handle of the process-wide runtime, building the runtime if this is its first use.
///
/// Applications can spawn on it, or enter it, to share the runtime that smartasync's
/// blocking entries drive their futures with: a client created in a task spawned here lives
/// as long as the process.
///
/// # Panics
///
/// If the operating system refuses the runtime's resources (threads, the I/O driver) on
/// first use.
///
/// # Example
///
/// ```
/// let task = smartasync::runtime::handle().spawn(async { 6 * 7 });
/// assert_eq!(smartasync::block_on(task).unwrap(), 42);
/// ```
pub fn handle() -> &'static Handle {
    runtime().handle()
}

/// Whether the process-wide runtime has been built.
///
/// # Example
///
/// ```
/// let _ = smartasync::runtime::handle();
/// assert!(smartasync::runtime::is_started());
/// ```
pub fn is_started() -> bool {
    RUNTIME.get().is_some()
}

pub(crate) fn runtime() -> &'static Runtime {
    if let Some(runtime) = RUNTIME.get() {
        return runtime;
    }
    RUNTIME.get_or_init(|| {
        let config = {
            let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
            pending.started = true;
            pending.config.take().unwrap_or_default()
        };
        config.build().unwrap_or_else(|error| {
            panic!("smartasync: could not start the process-wide Tokio runtime: {error}")
        })
    })
}
