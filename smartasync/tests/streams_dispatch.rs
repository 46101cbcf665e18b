//! Streams in every context of the dispatch matrix (the crate documentation's table "Where
//! each call runs"), both directions, on both runtime flavors where they apply:
//!
//! - the async entry of a `fn` body returning `impl Iterator` (`rows_async`): its iterator is
//!   made and pulled on one blocking-pool thread of the runtime of the polling context (the
//!   process-wide runtime's under a foreign executor), never on the caller's thread;
//! - the blocking entry of a body returning `impl Stream` (`ticks`, `ticks_now`): each item is
//!   polled on the calling thread, with a runtime driving its Tokio timers.
//!
//! Every item reports where it was made, so each test asserts values, order and thread
//! identities. Runtimes are built with distinctive thread names; every test runs under a
//! watchdog, so a deadlock fails instead of hanging.

use std::future::poll_fn;
use std::pin::pin;
use std::time::Duration;

use smartasync::{smartasync, Lane, Stream};
use tokio::runtime::{Handle, Id};

mod support;

use support::*;

/// An item of `rows`: its value, where the iterator was made, where this item was pulled.
type Row = (u32, Place, Place);

/// Written as `fn` returning an iterator: its async entry is a stream.
#[smartasync]
fn rows(n: u32) -> impl Iterator<Item = Row> {
    let made = Place::here();
    (0..n).map(move |i| (i, made.clone(), Place::here()))
}

/// Written as `async fn` returning a stream whose items each wait on a Tokio timer: its
/// blocking entry is an iterator, which only ends if some runtime drives the timers.
#[smartasync]
async fn ticks(n: u32) -> impl Stream<Item = (u32, Place)> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    futures::stream::unfold(0, move |i| async move {
        if i == n {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some(((i, Place::here()), i + 1))
    })
}

/// Written as `fn` returning a stream (made at once, its timers created when polled).
#[smartasync]
fn ticks_now(n: u32) -> impl Stream<Item = (u32, Place)> + Send + 'static {
    futures::stream::unfold(0, move |i| async move {
        if i == n {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some(((i, Place::here()), i + 1))
    })
}

/// Written as `fn` returning a stream that makes a Tokio timer when called, as
/// `IntervalStream::new(interval(..))` or a socket's stream would: the timer needs a runtime
/// as soon as the body runs, not only when the stream is polled.
#[smartasync]
fn interval_ticks(n: u32) -> impl Stream<Item = u32> + Send + 'static {
    let interval = tokio::time::interval(Duration::from_millis(1));
    futures::stream::unfold((interval, 0), move |(mut interval, i)| async move {
        if i == n {
            return None;
        }
        interval.tick().await;
        Some((i, (interval, i + 1)))
    })
}

/// Written as `fn` returning an iterator that itself iterates the blocking entry of a stream
/// body: nesting. Each item reports where the outer iterator was made and where the inner
/// stream's item was polled.
#[smartasync]
fn relay(n: u32) -> impl Iterator<Item = (u32, Place, Place)> {
    let made = Place::here();
    ticks(n).map(move |(i, polled)| (i, made.clone(), polled))
}

static STREAM_LANE: Lane = Lane::new("sd-lane");

/// `relay` on a lane.
#[smartasync(lane = STREAM_LANE)]
fn lane_relay(n: u32) -> impl Iterator<Item = (u32, Place, Place)> {
    let made = Place::here();
    ticks(n).map(move |(i, polled)| (i, made.clone(), polled))
}

/// All the items of a stream, awaited.
async fn collect<S: Stream>(stream: S) -> Vec<S::Item> {
    let mut stream = pin!(stream);
    let mut items = Vec::new();
    while let Some(item) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        items.push(item);
    }
    // Polled again after its end, a stream keeps saying so.
    assert!(poll_fn(|cx| stream.as_mut().poll_next(cx)).await.is_none());
    items
}

/// `rows` came in order, all made and pulled on one thread other than the caller's,
/// named `name`, where `runtime` is current.
#[track_caller]
fn assert_rows_offloaded(rows: &[Row], n: u32, caller: &Place, runtime: Id, name: &str) {
    let values: Vec<u32> = rows.iter().map(|row| row.0).collect();
    assert_eq!(values, (0..n).collect::<Vec<_>>(), "every item, in order");
    let (_, made, _) = &rows[0];
    assert_ne!(
        made.thread, caller.thread,
        "the iterator ran off the caller"
    );
    assert_eq!(made.name.as_deref(), Some(name), "a blocking-pool thread");
    assert_eq!(made.runtime, Some(runtime), "of that runtime");
    for (_, row_made, pulled) in rows {
        assert_eq!(row_made, made);
        assert_eq!(pulled, made, "pulled where it was made");
    }
}

/// `ticks` came in order, each polled on the caller's thread with `runtime` current.
#[track_caller]
fn assert_ticks_here(ticks: &[(u32, Place)], n: u32, caller: &Place, runtime: Id) {
    let values: Vec<u32> = ticks.iter().map(|tick| tick.0).collect();
    assert_eq!(values, (0..n).collect::<Vec<_>>(), "every item, in order");
    for (_, polled) in ticks {
        assert_eq!(polled.thread, caller.thread, "polled on the calling thread");
        assert_eq!(
            polled.runtime,
            Some(runtime),
            "runtime current while polled"
        );
    }
}

// ---------------------------------------------------------------------------------------
// An iterator awaited as a stream (`rows_async`).
// ---------------------------------------------------------------------------------------

#[test]
fn iterator_stream_awaited_in_a_multi_thread_task_runs_on_that_runtimes_pool() {
    within("rows_async() in a multi-thread task", || {
        let rt = multi_thread("sd-mt-task", 2);
        let (caller, rows) = rt
            .block_on(rt.spawn(async { (Place::here(), collect(rows_async(300)).await) }))
            .expect("the task completes");
        assert_eq!(caller.name.as_deref(), Some("sd-mt-task"), "on a worker");
        assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), "sd-mt-task");
    });
}

#[test]
fn iterator_stream_awaited_in_multi_thread_block_on_runs_on_that_runtimes_pool() {
    within("rows_async() in multi-thread Runtime::block_on", || {
        let rt = multi_thread("sd-mt-block-on", 2);
        let caller = Place::here();
        let rows = rt.block_on(collect(rows_async(300)));
        assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), "sd-mt-block-on");
    });
}

#[test]
fn iterator_stream_awaited_on_a_current_thread_runtime_runs_on_that_runtimes_pool() {
    within("rows_async() on a current-thread runtime", || {
        let rt = current_thread("sd-ct");
        let caller = Place::here();
        let rows = rt.block_on(collect(rows_async(300)));
        assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), "sd-ct");
        // And from a task spawned on it.
        let rows = rt
            .block_on(rt.spawn(collect(rows_async(5))))
            .expect("the task completes");
        assert_rows_offloaded(&rows, 5, &caller, rt.handle().id(), "sd-ct");
    });
}

#[tokio::test]
async fn iterator_stream_awaited_in_tokio_test_runs_on_the_test_runtimes_pool() {
    let caller = Place::here();
    let rows = collect(rows_async(300)).await;
    // `#[tokio::test]` names no threads: Tokio's default name.
    let name = rows[0].1.name.clone().expect("pool threads are named");
    assert!(name.starts_with("tokio-"), "a Tokio pool thread: {name}");
    assert_rows_offloaded(&rows, 300, &caller, Handle::current().id(), &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterator_stream_awaited_in_multi_thread_tokio_test_runs_on_its_pool() {
    let caller = Place::here();
    let rows = collect(rows_async(300)).await;
    let name = rows[0].1.name.clone().expect("pool threads are named");
    assert!(name.starts_with("tokio-"), "a Tokio pool thread: {name}");
    assert_rows_offloaded(&rows, 300, &caller, Handle::current().id(), &name);
}

#[test]
fn iterator_stream_under_a_foreign_executor_runs_on_the_process_wide_pool() {
    within("rows_async() under futures::executor", || {
        let caller = Place::here();
        assert_eq!(caller.runtime, None, "a plain thread has no runtime");
        let rows = futures::executor::block_on(collect(rows_async(300)));
        assert_rows_offloaded(&rows, 300, &caller, process_wide(), PROCESS_WIDE_NAME);
    });
}

#[test]
fn iterator_stream_iterated_with_block_on_stream_from_a_plain_thread() {
    within("block_on_stream(rows_async()) on a plain thread", || {
        let caller = Place::here();
        let rows: Vec<Row> = smartasync::block_on_stream(rows_async(300)).collect();
        assert_rows_offloaded(&rows, 300, &caller, process_wide(), PROCESS_WIDE_NAME);
    });
}

#[test]
fn iterator_stream_awaited_on_a_blocking_pool_thread_runs_on_that_runtimes_pool() {
    within("rows_async() on spawn_blocking threads", || {
        for (rt, name) in [
            (multi_thread("sd-mt-sb", 2), "sd-mt-sb"),
            (current_thread("sd-ct-sb"), "sd-ct-sb"),
        ] {
            let (caller, rows) = rt
                .block_on(rt.spawn_blocking(|| {
                    let rows = futures::executor::block_on(collect(rows_async(300)));
                    (Place::here(), rows)
                }))
                .expect("the blocking task completes");
            assert_eq!(caller.name.as_deref(), Some(name));
            assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), name);
        }
    });
}

#[test]
fn iterator_stream_iterated_on_an_unblock_thread_runs_on_that_runtimes_pool() {
    within("block_on_stream(rows_async()) on unblock threads", || {
        for (rt, name) in [
            (multi_thread("sd-mt-unblock", 2), "sd-mt-unblock"),
            (current_thread("sd-ct-unblock"), "sd-ct-unblock"),
        ] {
            let (caller, rows) = rt.block_on(smartasync::unblock(|| {
                let rows: Vec<Row> = smartasync::block_on_stream(rows_async(300)).collect();
                (Place::here(), rows)
            }));
            assert_eq!(caller.name.as_deref(), Some(name));
            assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), name);
        }
    });
}

#[test]
fn iterator_stream_iterated_on_a_current_thread_runtime_thread_uses_the_process_wide_pool() {
    within(
        "block_on_stream(rows_async()) on a current-thread runtime",
        || {
            let rt = current_thread("sd-ct-sync");
            let caller = Place::here();
            // A sync call inside async code: `block_on` enters the process-wide runtime.
            let rows: Vec<Row> =
                rt.block_on(async { smartasync::block_on_stream(rows_async(300)).collect() });
            assert_rows_offloaded(&rows, 300, &caller, process_wide(), PROCESS_WIDE_NAME);
        },
    );
}

#[test]
fn iterator_stream_iterated_on_a_multi_thread_worker_uses_that_runtimes_pool() {
    within(
        "block_on_stream(rows_async()) on a multi-thread worker",
        || {
            let rt = multi_thread("sd-mt-sync", 2);
            let (caller, rows) = rt
                .block_on(rt.spawn(async {
                    let rows: Vec<Row> = smartasync::block_on_stream(rows_async(300)).collect();
                    (Place::here(), rows)
                }))
                .expect("the task completes");
            assert_rows_offloaded(&rows, 300, &caller, rt.handle().id(), "sd-mt-sync");
        },
    );
}

// ---------------------------------------------------------------------------------------
// A stream iterated from sync code (`ticks`, `ticks_now`).
// ---------------------------------------------------------------------------------------

#[test]
fn stream_iterated_on_a_plain_thread_polls_here_with_the_process_wide_timers() {
    within("ticks() on a plain thread", || {
        let caller = Place::here();
        assert_eq!(caller.runtime, None);
        let items: Vec<_> = ticks(20).collect();
        assert_ticks_here(&items, 20, &caller, process_wide());
        let items: Vec<_> = ticks_now(20).collect();
        assert_ticks_here(&items, 20, &caller, process_wide());
        assert_eq!(Place::here().runtime, None, "no runtime left entered");
    });
}

#[test]
fn stream_iterated_on_a_multi_thread_worker_polls_here_with_that_runtime() {
    within("ticks() on a multi-thread worker", || {
        let rt = multi_thread("sd-mt-ticks", 2);
        let id = rt.handle().id();
        let (caller, items, now) = rt
            .block_on(rt.spawn(async {
                let items: Vec<_> = ticks(20).collect();
                let now: Vec<_> = ticks_now(20).collect();
                (Place::here(), items, now)
            }))
            .expect("the task completes");
        assert_eq!(caller.name.as_deref(), Some("sd-mt-ticks"));
        assert_ticks_here(&items, 20, &caller, id);
        assert_ticks_here(&now, 20, &caller, id);
    });
}

#[test]
fn stream_iterated_on_a_current_thread_runtime_thread_polls_here_with_the_process_wide_runtime() {
    within("ticks() on a current-thread runtime", || {
        let rt = current_thread("sd-ct-ticks");
        let caller = Place::here();
        let (items, now) = rt.block_on(async {
            let items: Vec<_> = ticks(20).collect();
            let now: Vec<_> = ticks_now(20).collect();
            (items, now)
        });
        assert_ticks_here(&items, 20, &caller, process_wide());
        assert_ticks_here(&now, 20, &caller, process_wide());
        assert_eq!(
            rt.block_on(async { Place::here().runtime }),
            Some(rt.handle().id()),
            "the thread is back in its own runtime"
        );
    });
}

/// Bug: the blocking entry of a `fn` body returning `impl Stream` runs the body before any
/// runtime is entered, so a body that makes a Tokio timer or socket panics ("there is no
/// reactor running") on a plain thread, though its stream would then be driven by the
/// process-wide runtime. (On a worker of a multi-thread runtime it works: that runtime is
/// current.)
#[test]
fn fn_body_making_a_tokio_timer_for_its_stream_works_through_its_blocking_entry() {
    within("interval_ticks() from sync code", || {
        assert_eq!(interval_ticks(3).collect::<Vec<_>>(), [0, 1, 2]);
        let ct = current_thread("sd-interval-ct");
        let items: Vec<u32> = ct.block_on(async { interval_ticks(3).collect() });
        assert_eq!(items, [0, 1, 2]);
    });
}

#[test]
fn fn_body_making_a_tokio_timer_for_its_stream_works_on_a_multi_thread_worker() {
    within("interval_ticks() on a multi-thread worker", || {
        let rt = multi_thread("sd-interval-mt", 2);
        let items: Vec<u32> = rt
            .block_on(rt.spawn(async { interval_ticks(3).collect() }))
            .expect("the task completes");
        assert_eq!(items, [0, 1, 2]);
    });
}

#[tokio::test]
async fn stream_iterated_in_tokio_test_polls_here_with_the_process_wide_runtime() {
    let caller = Place::here();
    let items: Vec<_> = ticks(20).collect();
    assert_ticks_here(&items, 20, &caller, process_wide());
    assert_eq!(
        Place::here().runtime,
        caller.runtime,
        "own runtime current again"
    );
}

#[test]
fn stream_iterated_on_blocking_pool_threads_polls_there() {
    within("ticks() on spawn_blocking and unblock threads", || {
        // A multi-thread runtime's blocking thread: driven with that runtime.
        let rt = multi_thread("sd-mt-sb-ticks", 2);
        let (caller, items) = rt
            .block_on(rt.spawn_blocking(|| {
                let items: Vec<_> = ticks(20).collect();
                (Place::here(), items)
            }))
            .expect("the blocking task completes");
        assert_eq!(caller.name.as_deref(), Some("sd-mt-sb-ticks"));
        assert_ticks_here(&items, 20, &caller, rt.handle().id());
        let (caller, items) = rt.block_on(smartasync::unblock(|| {
            let items: Vec<_> = ticks(20).collect();
            (Place::here(), items)
        }));
        assert_ticks_here(&items, 20, &caller, rt.handle().id());

        // A current-thread runtime's `unblock` thread: driven with that runtime.
        let ct = current_thread("sd-ct-unblock-ticks");
        let (caller, items) = ct.block_on(smartasync::unblock(|| {
            let items: Vec<_> = ticks(20).collect();
            (Place::here(), items)
        }));
        assert_eq!(caller.name.as_deref(), Some("sd-ct-unblock-ticks"));
        assert_ticks_here(&items, 20, &caller, ct.handle().id());

        // Straight `spawn_blocking` on a current-thread runtime cannot be told from its own
        // thread (documented on `block_on`): the process-wide runtime drives it.
        let (caller, items) = ct
            .block_on(ct.spawn_blocking(|| {
                let items: Vec<_> = ticks(20).collect();
                (Place::here(), items)
            }))
            .expect("the blocking task completes");
        assert_ticks_here(&items, 20, &caller, process_wide());
    });
}

// ---------------------------------------------------------------------------------------
// Nesting: an iterator body that iterates a stream, on the pool and on a lane.
// ---------------------------------------------------------------------------------------

#[test]
fn iterator_body_iterating_a_stream_nests_on_that_runtimes_pool() {
    within("relay_async() on both flavors", || {
        for (rt, name) in [
            (multi_thread("sd-nest-mt", 2), "sd-nest-mt"),
            (current_thread("sd-nest-ct"), "sd-nest-ct"),
        ] {
            let caller = Place::here();
            let items = rt.block_on(collect(relay_async(20)));
            let values: Vec<u32> = items.iter().map(|item| item.0).collect();
            assert_eq!(values, (0..20).collect::<Vec<_>>());
            let made = &items[0].1;
            assert_ne!(made.thread, caller.thread);
            assert_eq!(made.name.as_deref(), Some(name));
            for (_, _, polled) in &items {
                // The inner stream is polled by the producer, driven by that runtime.
                assert_eq!(polled.thread, made.thread);
                assert_eq!(polled.runtime, Some(rt.handle().id()));
            }
        }
    });
}

#[test]
fn iterator_body_iterating_a_stream_nests_from_a_plain_thread() {
    within("relay() and relay_async() from a plain thread", || {
        let caller = Place::here();
        // Same-kind call: the body runs here and polls the inner stream here.
        let items: Vec<_> = relay(10).collect();
        assert_eq!(items.len(), 10);
        for (i, (value, made, polled)) in items.iter().enumerate() {
            assert_eq!(*value as usize, i);
            assert_eq!(made, &caller);
            assert_eq!(polled.thread, caller.thread);
            assert_eq!(polled.runtime, Some(process_wide()));
        }
        // Through its stream under a foreign executor: on the process-wide pool.
        let items = futures::executor::block_on(collect(relay_async(10)));
        assert_eq!(items.len(), 10);
        for (_, made, polled) in &items {
            assert_eq!(made.name.as_deref(), Some(PROCESS_WIDE_NAME));
            assert_eq!(polled.thread, made.thread);
        }
    });
}

#[test]
fn lane_iterator_body_iterating_a_stream_runs_it_on_the_lane_thread() {
    within("lane_relay() and lane_relay_async()", || {
        let caller = Place::here();
        let check = |items: &[(u32, Place, Place)]| {
            let values: Vec<u32> = items.iter().map(|item| item.0).collect();
            assert_eq!(values, (0..20).collect::<Vec<_>>());
            for (_, made, polled) in items {
                assert_eq!(made.name.as_deref(), Some("sd-lane-0"));
                assert_ne!(made.thread, caller.thread);
                assert_eq!(
                    polled.thread, made.thread,
                    "inner stream polled on the lane"
                );
            }
        };
        check(&lane_relay(20).collect::<Vec<_>>());
        let rt = multi_thread("sd-lane-caller", 2);
        check(
            &rt.block_on(rt.spawn(collect(lane_relay_async(20))))
                .expect("the task completes"),
        );
        let ct = current_thread("sd-lane-ct");
        check(&ct.block_on(collect(lane_relay_async(20))));
    });
}
