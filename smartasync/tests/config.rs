//! Configuration of the process-wide runtime. Its own test binary, because the runtime and
//! its configuration are process-global: the whole life cycle (configure, start, refuse to
//! reconfigure) is one test, and the other tests here never start the runtime.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use smartasync::runtime::{self, Config, ConfigError};
use smartasync::smartasync;

/// Written as `fn`: reports the name of the blocking-pool thread it ran on.
#[smartasync]
fn pool_thread_name() -> Option<String> {
    thread::current().name().map(String::from)
}

/// Written as `async fn`: reports the name of the thread a spawned task ran on.
#[smartasync]
async fn spawned_thread_name() -> Option<String> {
    tokio::spawn(async { thread::current().name().map(String::from) })
        .await
        .expect("the spawned task completes")
}

#[test]
fn config_before_first_use_takes_effect_and_is_refused_after() {
    assert!(
        !runtime::is_started(),
        "nothing in this binary started it yet"
    );

    // Zero counts are refused.
    assert_eq!(
        Config::new().worker_threads(0).install(),
        Err(ConfigError::Zero("worker_threads"))
    );
    assert_eq!(
        Config::new().max_blocking_threads(0).install(),
        Err(ConfigError::Zero("max_blocking_threads"))
    );

    // A second install before the start replaces the first; a refused one replaces nothing.
    Config::new()
        .worker_threads(3)
        .thread_name("cfg-first")
        .install()
        .expect("before first use");
    Config::new()
        .worker_threads(2)
        .thread_name("cfg-second")
        .max_blocking_threads(3)
        .install()
        .expect("before first use, again");
    assert_eq!(
        Config::new()
            .worker_threads(0)
            .thread_name("cfg-refused")
            .install(),
        Err(ConfigError::Zero("worker_threads"))
    );
    assert!(
        !runtime::is_started(),
        "installing does not start the runtime"
    );

    // First use, from 8 threads at once: one runtime.
    let barrier = Arc::new(Barrier::new(8));
    let ids: HashSet<_> = (0..8)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                runtime::handle().id()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|worker| worker.join().expect("thread"))
        .collect();
    assert_eq!(ids.len(), 1, "every first use got the same runtime");
    assert!(runtime::is_started());

    // The second configuration is the one in effect.
    let handle = runtime::handle();
    assert_eq!(handle.metrics().num_workers(), 2);
    let task_thread =
        smartasync::block_on(handle.spawn(async { thread::current().name().map(String::from) }))
            .expect("the task completes");
    assert_eq!(task_thread.as_deref(), Some("cfg-second"));
    assert_eq!(spawned_thread_name().as_deref(), Some("cfg-second"));
    let pool_thread = futures::executor::block_on(pool_thread_name_async());
    assert_eq!(pool_thread.as_deref(), Some("cfg-second"));

    // At most 3 blocking-pool threads: 6 bodies of 50 ms never run more than 3 at a time.
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..6)
        .map(|_| {
            let running = Arc::clone(&running);
            let peak = Arc::clone(&peak);
            smartasync::unblock(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(50));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    futures::executor::block_on(futures::future::join_all(jobs));
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&peak),
        "max_blocking_threads(3): {peak} bodies ran at once"
    );

    // Too late now: refused, and the running runtime is unchanged.
    assert_eq!(
        Config::new().thread_name("cfg-late").install(),
        Err(ConfigError::AlreadyStarted)
    );
    assert_eq!(runtime::handle().id(), handle.id());
    assert_eq!(
        runtime::handle()
            .block_on(spawned_thread_name_async())
            .as_deref(),
        Some("cfg-second")
    );
    assert_eq!(pool_thread_name().as_deref(), thread::current().name());
}

#[test]
fn config_errors_explain_themselves() {
    let late = ConfigError::AlreadyStarted.to_string();
    assert!(late.contains("already started"), "{late}");
    assert!(late.contains("before"), "says when to install: {late}");
    assert_eq!(
        ConfigError::Zero("worker_threads").to_string(),
        "`worker_threads` must be at least 1"
    );
    let error: Box<dyn std::error::Error> = Box::new(ConfigError::AlreadyStarted);
    assert_eq!(error.to_string(), late);
}

#[test]
fn config_builder_records_every_setting() {
    let config = Config::new()
        .worker_threads(4)
        .thread_name("x")
        .max_blocking_threads(9);
    assert_eq!(config.clone(), config);
    assert_ne!(config, Config::new());
    assert_eq!(Config::new(), Config::default());
    let shown = format!("{config:?}");
    for part in ["4", "\"x\"", "9"] {
        assert!(shown.contains(part), "{shown} shows {part}");
    }
}
