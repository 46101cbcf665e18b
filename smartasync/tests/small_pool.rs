//! Nested chains cannot starve on the blocking pool: each level of sync -> async -> sync
//! nesting holds a pool thread while it waits, so with a pool of one thread (configured
//! here, in its own test binary because the configuration is process-wide) the second level
//! would wait forever for a thread that only it could free. A thread blocked in a blocking
//! entry runs such work itself when the pool cannot start it.

use std::time::{Duration, Instant};

use smartasync::runtime::Config;
use smartasync::smartasync;

mod support;

use support::*;

/// Written as `fn`: offloaded by its async entry.
#[smartasync]
fn down(depth: u32) -> u32 {
    if depth == 0 {
        0
    } else {
        1 + up(depth - 1)
    }
}

/// Written as `async fn`: its blocking entry is called from `down`'s body.
#[smartasync]
async fn up(depth: u32) -> u32 {
    if depth == 0 {
        0
    } else {
        tokio::task::yield_now().await;
        1 + down_async(depth - 1).await
    }
}

/// A blocking body that takes a while.
#[smartasync]
fn slow(id: u32) -> u32 {
    std::thread::sleep(Duration::from_millis(100));
    id
}

/// Three blocking bodies awaited together from an async body.
#[smartasync]
async fn three_slow() -> (u32, u32, u32) {
    tokio::join!(slow_async(1), slow_async(2), slow_async(3))
}

#[test]
fn nested_chains_complete_with_a_one_thread_blocking_pool() {
    Config::new()
        .max_blocking_threads(1)
        .install()
        .expect("configured before first use");

    // From a foreign executor: the outer body takes the pool's only thread.
    assert_eq!(
        within("foreign executor, depth 8", || futures::executor::block_on(
            down_async(8)
        )),
        8
    );
    // From plain sync code.
    assert_eq!(within("plain thread, depth 8", || down(8)), 8);
    assert_eq!(within("plain thread, depth 9", || up(9)), 9);
    // From a Tokio runtime of its own, with the default pool.
    let rt = multi_thread("small-pool-mt", 1);
    assert_eq!(
        within("multi-thread runtime, depth 8", move || rt
            .block_on(down_async(8))),
        8
    );

    // With one pool thread, three bodies joined from a blocking entry still finish: two of
    // them run on the waiting thread once the pool cannot start them.
    let started = Instant::now();
    assert_eq!(within("joined on a full pool", three_slow), (1, 2, 3));
    assert!(started.elapsed() < Duration::from_secs(5));
}
