//! The semantics the crate documentation promises, through `#[smartasync]` pairs: nested chains without
//! deadlock, panics resumed with their payload, `Err` returned unchanged, cancellation
//! (detach, never interrupt), overlap of concurrent blocking bodies, and many threads calling
//! blocking entries at once. Every test that could hang runs under a watchdog.

use std::future::Future;
use std::num::ParseIntError;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use futures::FutureExt;
use smartasync::smartasync;
use tokio::runtime::{Builder, Handle, Id};

mod support;

use support::*;

/// Hops in each nested chain (each one a crossing: sync -> async or async -> sync).
const DEPTH: u32 = 24;

fn current_runtime() -> Option<Id> {
    Handle::try_current().ok().map(|handle| handle.id())
}

// ---------------------------------------------------------------------------------------
// Nested chains: sync -> async -> sync -> async ...
// ---------------------------------------------------------------------------------------

/// Written as `fn`: calls the blocking entry of the next hop. Returns the runtime current
/// at each hop, outermost last.
#[smartasync]
fn sync_hop(left: u32) -> Vec<Option<Id>> {
    let mut trail = if left == 0 {
        Vec::new()
    } else {
        async_hop(left - 1)
    };
    trail.push(current_runtime());
    trail
}

/// Written as `async fn`: uses a timer and a spawned task, then awaits the async entry of
/// the next hop.
#[smartasync]
async fn async_hop(left: u32) -> Vec<Option<Id>> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::spawn(async {}).await.expect("a spawned task runs");
    let mut trail = if left == 0 {
        Vec::new()
    } else {
        sync_hop_async(left - 1).await
    };
    trail.push(current_runtime());
    trail
}

/// Every hop of a chain ran with `runtime` current: resources made at one depth live on the
/// same runtime as the others.
#[track_caller]
fn assert_chain(trail: &[Option<Id>], runtime: Id) {
    assert_eq!(trail.len(), DEPTH as usize + 1, "every hop ran");
    assert_hops(trail, runtime);
}

#[track_caller]
fn assert_hops(hops: &[Option<Id>], runtime: Id) {
    for (hop, id) in hops.iter().enumerate() {
        assert_eq!(*id, Some(runtime), "runtime at hop {hop} from the bottom");
    }
}

/// A chain whose outermost `fn` hop ran on the caller's own thread (with `outer` current),
/// and every deeper hop with `inner` current.
#[track_caller]
fn assert_chain_below(trail: &[Option<Id>], outer: Option<Id>, inner: Id) {
    assert_eq!(trail.len(), DEPTH as usize + 1, "every hop ran");
    let (last, below) = trail.split_last().expect("hops");
    assert_eq!(*last, outer, "outermost hop");
    assert_hops(below, inner);
}

#[test]
fn nested_chain_from_a_plain_thread_completes_on_the_process_wide_runtime() {
    let (sync_first, async_first, foreign) = within("chain from a plain thread", || {
        (
            sync_hop(DEPTH),
            async_hop(DEPTH),
            futures::executor::block_on(sync_hop_async(DEPTH)),
        )
    });
    // The outermost `fn` hop runs on the plain thread itself: no runtime there.
    assert_chain_below(&sync_first, None, process_wide());
    assert_chain(&async_first, process_wide());
    assert_chain(&foreign, process_wide());
}

#[test]
fn nested_chain_on_a_multi_thread_runtime_stays_on_that_runtime() {
    for workers in [1, 2] {
        let (id, awaited, from_worker) = within("chain on a multi-thread runtime", move || {
            let rt = multi_thread("chain-mt", workers);
            let awaited =
                rt.block_on(async { (sync_hop_async(DEPTH).await, async_hop_async(DEPTH).await) });
            let from_worker = rt
                .block_on(rt.spawn(async { (sync_hop(DEPTH), async_hop(DEPTH)) }))
                .expect("the task completes");
            (rt.handle().id(), awaited, from_worker)
        });
        assert_chain(&awaited.0, id);
        assert_chain(&awaited.1, id);
        assert_chain_below(&from_worker.0, Some(id), id);
        assert_chain(&from_worker.1, id);
    }
}

#[test]
fn nested_chain_on_a_current_thread_runtime_completes() {
    let (id, awaited, from_thread) = within("chain on a current-thread runtime", || {
        let rt = current_thread("chain-ct");
        let awaited =
            rt.block_on(async { (sync_hop_async(DEPTH).await, async_hop_async(DEPTH).await) });
        // Sync calls on the runtime's own thread: polled there with the process-wide
        // runtime, and everything below stays on that one.
        let from_thread = rt.block_on(async { (sync_hop(DEPTH), async_hop(DEPTH)) });
        (rt.handle().id(), awaited, from_thread)
    });
    // Awaited: the chain stays on the current-thread runtime, whose thread drives the
    // timers and spawned tasks of every level while it waits for the outermost one.
    assert_chain(&awaited.0, id);
    assert_chain(&awaited.1, id);
    assert_chain_below(&from_thread.0, Some(id), process_wide());
    assert_chain(&from_thread.1, process_wide());
}

#[tokio::test]
async fn nested_chain_in_tokio_test_completes() {
    let id = Handle::current().id();
    let (sender, receiver) = mpsc::channel();
    // The chain runs on this test's runtime: under a watchdog thread that waits for it.
    let watchdog = thread::spawn(move || receiver.recv_timeout(WATCHDOG));
    let awaited = sync_hop_async(DEPTH).await;
    let blocking = async_hop(DEPTH);
    let sync_first = sync_hop(DEPTH);
    sender.send(()).expect("the watchdog waits");
    watchdog
        .join()
        .expect("watchdog thread")
        .expect("the chains finished in time");
    assert_chain(&awaited, id);
    assert_chain(&blocking, process_wide());
    assert_chain_below(&sync_first, Some(id), process_wide());
}

// ---------------------------------------------------------------------------------------
// Panics, in both directions.
// ---------------------------------------------------------------------------------------

/// A payload that is not a string, for `panic_any`.
#[derive(Debug, PartialEq, Eq)]
struct Fault {
    code: u32,
}

#[derive(Clone, Copy)]
enum Boom {
    Formatted,
    Literal,
    Custom,
}

fn explode(kind: Boom) -> ! {
    match kind {
        Boom::Formatted => panic!("formatted {}", 41 + 1),
        Boom::Literal => panic!("literal"),
        Boom::Custom => panic::panic_any(Fault { code: 7 }),
    }
}

#[smartasync]
fn sync_explode(kind: Boom) -> u32 {
    explode(kind)
}

#[smartasync]
async fn async_explode(kind: Boom) -> u32 {
    tokio::task::yield_now().await;
    explode(kind)
}

/// The payload is exactly the one `explode(kind)` panicked with.
#[track_caller]
fn assert_payload(kind: Boom, payload: &(dyn std::any::Any + Send)) {
    match kind {
        Boom::Formatted => assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("formatted 42")
        ),
        Boom::Literal => assert_eq!(payload.downcast_ref::<&str>(), Some(&"literal")),
        Boom::Custom => assert_eq!(payload.downcast_ref::<Fault>(), Some(&Fault { code: 7 })),
    }
}

const KINDS: [Boom; 3] = [Boom::Formatted, Boom::Literal, Boom::Custom];

/// The process-wide runtime and both directions still work after a panic crossed them.
#[track_caller]
fn assert_still_usable() {
    assert_eq!(
        smartasync::block_on(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            5
        }),
        5
    );
    assert_eq!(
        smartasync::block_on(smartasync::runtime::handle().spawn(async { 6 })).expect("task"),
        6
    );
    assert_eq!(futures::executor::block_on(smartasync::unblock(|| 7)), 7);
    assert_eq!(async_hop(2).len(), 3);
}

#[test]
fn panic_in_async_body_resumes_through_blocking_entry_with_its_payload() {
    within("async_explode() panics", || {
        let ct = current_thread("panic-ct");
        let mt = multi_thread("panic-mt", 2);
        for kind in KINDS {
            // Plain thread.
            let payload = panic::catch_unwind(|| async_explode(kind)).expect_err("panicked");
            assert_payload(kind, &*payload);
            assert_still_usable();

            // Thread of a current-thread runtime.
            let payload = ct
                .block_on(async { panic::catch_unwind(|| async_explode(kind)) })
                .expect_err("panicked");
            assert_payload(kind, &*payload);

            // Same kind: the async entry is the body itself.
            let payload = ct
                .block_on(AssertUnwindSafe(async_explode_async(kind)).catch_unwind())
                .expect_err("panicked");
            assert_payload(kind, &*payload);

            // Worker of a multi-thread runtime.
            let payload = mt
                .block_on(mt.spawn(async move { panic::catch_unwind(|| async_explode(kind)) }))
                .expect("the task completes")
                .expect_err("panicked");
            assert_payload(kind, &*payload);

            // Blocking-pool thread.
            let payload = mt
                .block_on(smartasync::unblock(move || {
                    panic::catch_unwind(|| async_explode(kind))
                }))
                .expect_err("panicked");
            assert_payload(kind, &*payload);
        }
        // The runtimes that saw the panics still work too.
        assert_eq!(ct.block_on(async { async_hop(2).len() }), 3);
        assert_eq!(mt.block_on(sync_hop_async(2)).len(), 3);
        assert_still_usable();
    });
}

#[test]
fn panic_in_fn_body_resumes_through_async_entry_with_its_payload() {
    within("sync_explode_async() panics", || {
        let ct = current_thread("panic-ct");
        let mt = multi_thread("panic-mt", 2);
        for kind in KINDS {
            // Under a foreign executor: the process-wide runtime's pool.
            let payload = futures::executor::block_on(
                AssertUnwindSafe(sync_explode_async(kind)).catch_unwind(),
            )
            .expect_err("panicked");
            assert_payload(kind, &*payload);
            assert_still_usable();

            for rt in [&ct, &mt] {
                let payload = rt
                    .block_on(AssertUnwindSafe(sync_explode_async(kind)).catch_unwind())
                    .expect_err("panicked");
                assert_payload(kind, &*payload);
            }

            // Same kind: the blocking entry is the body itself.
            let payload = panic::catch_unwind(|| sync_explode(kind)).expect_err("panicked");
            assert_payload(kind, &*payload);

            // Through `smartasync::block_on` from a plain thread, both crossings at once.
            let payload = panic::catch_unwind(|| smartasync::block_on(sync_explode_async(kind)))
                .expect_err("panicked");
            assert_payload(kind, &*payload);
        }
        assert_eq!(ct.block_on(sync_hop_async(2)).len(), 3);
        assert_eq!(mt.block_on(sync_hop_async(2)).len(), 3);
        assert_still_usable();
    });
}

#[tokio::test]
async fn panic_in_tokio_test_leaves_the_thread_usable() {
    let payload = panic::catch_unwind(|| async_explode(Boom::Custom)).expect_err("panicked");
    assert_payload(Boom::Custom, &*payload);
    let payload = AssertUnwindSafe(sync_explode_async(Boom::Formatted))
        .catch_unwind()
        .await
        .expect_err("panicked");
    assert_payload(Boom::Formatted, &*payload);
    // The thread's dispatch state was restored by the unwind: still its own runtime, and
    // both entries still work here.
    assert_eq!(current_runtime(), Some(Handle::current().id()));
    assert_eq!(async_hop(2).len(), 3);
    assert_eq!(sync_hop_async(2).await.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum LookupError {
    Missing { key: String },
    Parse(ParseIntError),
}

#[derive(Clone)]
struct Table {
    rows: Arc<Vec<(String, String)>>,
}

impl Table {
    #[smartasync]
    fn lookup(&self, key: &str) -> Result<u32, LookupError> {
        let (_, raw) = self
            .rows
            .iter()
            .find(|(name, _)| name == key)
            .ok_or_else(|| LookupError::Missing { key: key.into() })?;
        raw.parse().map_err(LookupError::Parse)
    }

    #[smartasync]
    async fn fetch(&self, key: &str) -> Result<u32, LookupError> {
        tokio::task::yield_now().await;
        let value = self.lookup_async(key).await?;
        Ok(value * 10)
    }
}

#[test]
fn result_bodies_return_their_err_unchanged_through_both_entries() {
    within("Result bodies", || {
        let table = Table {
            rows: Arc::new(vec![
                ("one".into(), "1".into()),
                ("bad".into(), "x1".into()),
            ]),
        };
        let parse_error = "x1".parse::<u32>().expect_err("not a number");
        let missing = LookupError::Missing { key: "none".into() };

        assert_eq!(table.lookup("one"), Ok(1));
        assert_eq!(table.lookup("none"), Err(missing));
        assert_eq!(table.fetch("one"), Ok(10));
        assert_eq!(
            table.fetch("bad"),
            Err(LookupError::Parse(parse_error.clone()))
        );

        let rt = multi_thread("errors", 2);
        let (offloaded, awaited) = rt.block_on(async {
            (
                table.lookup_async("bad").await,
                table.fetch_async("none").await,
            )
        });
        assert_eq!(offloaded, Err(LookupError::Parse(parse_error)));
        assert_eq!(awaited, Err(LookupError::Missing { key: "none".into() }));
    });
}

// ---------------------------------------------------------------------------------------
// Cancellation.
// ---------------------------------------------------------------------------------------

/// Written as `fn`: says it started, waits to be released, then reports it finished.
#[smartasync]
fn guarded_job(
    started: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    finished: mpsc::Sender<&'static str>,
) -> &'static str {
    started.send(()).expect("the test listens");
    release
        .recv_timeout(WATCHDOG)
        .expect("released by the test");
    finished.send("ran to the end").expect("the test listens");
    "result that nobody awaits"
}

#[test]
fn dropped_async_entry_of_a_started_fn_body_runs_to_the_end() {
    for flavor in ["mt", "ct"] {
        within("dropped after start", move || {
            let rt = if flavor == "mt" {
                multi_thread("cancel-mt", 2)
            } else {
                current_thread("cancel-ct")
            };
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel();
            let (finished_tx, finished_rx) = mpsc::channel();
            let dropped = rt.block_on(async {
                let mut job = Box::pin(guarded_job_async(started_tx, release_rx, finished_tx));
                // Poll until the body has started, then drop the future mid-flight.
                for _ in 0..10_000 {
                    let ready =
                        std::future::poll_fn(|cx| Poll::Ready(job.as_mut().poll(cx).is_ready()))
                            .await;
                    if ready {
                        panic!("the job cannot finish before it is released");
                    }
                    if started_rx.try_recv().is_ok() {
                        drop(job);
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                false
            });
            assert!(dropped, "the body started within 10 000 polls");
            // The future is gone; the body is still waiting for its release.
            assert_eq!(
                finished_rx.recv_timeout(Duration::from_millis(50)),
                Err(RecvTimeoutError::Timeout),
                "the body is still running, not aborted and not finished"
            );
            release_tx.send(()).expect("the body waits for the release");
            assert_eq!(finished_rx.recv_timeout(WATCHDOG), Ok("ran to the end"));
            assert_eq!(
                started_rx.recv_timeout(WATCHDOG),
                Err(RecvTimeoutError::Disconnected),
                "the body started once, returned and dropped its arguments"
            );
        });
    }
}

/// Asserted: a `foo_async` future of a `fn` body that is dropped before its first poll never
/// runs the body (nothing is spawned until then), and drops its arguments with it.
#[test]
fn dropped_async_entry_never_polled_never_runs_its_body() {
    within("dropped before first poll", || {
        let rt = multi_thread("cancel-early", 2);
        let (started_tx, started_rx) = mpsc::channel();
        let (_release_tx, release_rx) = mpsc::channel();
        let (finished_tx, finished_rx) = mpsc::channel();
        rt.block_on(async {
            let job = guarded_job_async(started_tx, release_rx, finished_tx);
            drop(job);
        });
        // Had the body run, it would have sent on `started` before dropping the sender; a
        // disconnect without a message means the arguments were dropped unused.
        assert_eq!(
            started_rx.recv_timeout(WATCHDOG),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(
            finished_rx.recv_timeout(WATCHDOG),
            Err(RecvTimeoutError::Disconnected)
        );

        // The blocking entry, for comparison, is the body: it runs to the end right here.
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let (finished_tx, finished_rx) = mpsc::channel();
        release_tx.send(()).expect("the receiver is alive");
        assert_eq!(
            guarded_job(started_tx, release_rx, finished_tx),
            "result that nobody awaits"
        );
        assert_eq!(started_rx.try_recv(), Ok(()));
        assert_eq!(finished_rx.try_recv(), Ok("ran to the end"));
    });
}

// ---------------------------------------------------------------------------------------
// Overlap: blocking bodies awaited together, and async code that keeps running.
// ---------------------------------------------------------------------------------------

const NAP: Duration = Duration::from_millis(100);

/// Written as `fn`: blocks its thread for 100 ms.
#[smartasync]
fn nap(id: u32) -> u32 {
    thread::sleep(NAP);
    id
}

#[test]
fn three_blocking_bodies_awaited_together_overlap_on_both_flavors() {
    within("three naps at once", || {
        for rt in [multi_thread("overlap-mt", 2), current_thread("overlap-ct")] {
            // Warm the blocking pool so thread start-up does not count.
            rt.block_on(async { tokio::join!(nap_async(0), nap_async(0), nap_async(0)) });
            let start = Instant::now();
            let ids = rt.block_on(async { tokio::join!(nap_async(1), nap_async(2), nap_async(3)) });
            let elapsed = start.elapsed();
            assert_eq!(ids, (1, 2, 3));
            assert!(
                elapsed < Duration::from_millis(250),
                "three 100 ms bodies took {elapsed:?}: they did not overlap ({:?})",
                rt.handle().runtime_flavor()
            );
        }
    });
}

#[tokio::test]
async fn ticker_keeps_ticking_on_a_current_thread_runtime_during_a_blocking_body() {
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            for _ in 0..10_000 {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::SeqCst);
    // 300 ms of blocking work through the async entry: this runtime's only thread is free.
    let ids = tokio::join!(nap_async(1), nap_async(2), nap_async(3));
    let (more, _) = tokio::join!(nap_async(4), nap_async(5));
    let _ = nap_async(6).await;
    let during = ticks.load(Ordering::SeqCst) - before;
    // The control: the blocking entry of the same body stalls this runtime's only thread.
    let before = ticks.load(Ordering::SeqCst);
    let stalled_id = nap(7);
    let stalled = ticks.load(Ordering::SeqCst) - before;
    ticker.abort();
    assert_eq!((ids, more, stalled_id), ((1, 2, 3), 4, 7));
    assert_eq!(stalled, 0, "the ticker ran on a thread that was blocked");
    // About 60 ticks fit in 300 ms at 5 ms each; a stalled runtime would give 0 or 1.
    assert!(
        during >= 10,
        "only {during} ticks during 300 ms of blocking work"
    );
}

// ---------------------------------------------------------------------------------------
// Many threads at once.
// ---------------------------------------------------------------------------------------

#[smartasync]
async fn square_later(x: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let doubled = tokio::spawn(async move { x * x }).await.expect("task");
    doubled
}

#[smartasync]
fn triple(x: u64) -> u64 {
    thread::sleep(Duration::from_millis(1));
    x * 3
}

#[test]
fn sixteen_threads_call_blocking_entries_at_once() {
    let results = within("16 threads", || {
        const THREADS: u64 = 16;
        let barrier = Arc::new(Barrier::new(THREADS as usize));
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    let mut sums = Vec::new();
                    for round in 0..5 {
                        let x = i * 100 + round;
                        let squared = square_later(x);
                        let tripled = futures::executor::block_on(triple_async(x));
                        let nested = sync_hop(4).len();
                        sums.push((x, squared, tripled, nested));
                    }
                    sums
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a caller thread panicked"))
            .collect::<Vec<_>>()
    });
    // The same pairs, the other way round, from async code.
    let rt = multi_thread("sixteen", 2);
    let (squared, tripled) = rt.block_on(async { (square_later_async(9).await, triple(9)) });
    assert_eq!((squared, tripled), (81, 27));
    assert_eq!(results.len(), 16);
    for (i, sums) in results.iter().enumerate() {
        assert_eq!(sums.len(), 5, "thread {i}");
        for &(x, squared, tripled, nested) in sums {
            assert_eq!(
                (squared, tripled, nested),
                (x * x, x * 3, 5),
                "thread {i}, x = {x}"
            );
        }
    }
}

/// A blocking entry of an `async fn` body that joins offloaded bodies keeps them concurrent:
/// the pool starts them at once, so none is run on the waiting thread instead.
#[smartasync]
async fn join_three_sleepers() -> Vec<u32> {
    let (a, b, c) = tokio::join!(
        sleep_then_async(1, 100),
        sleep_then_async(2, 100),
        sleep_then_async(3, 100)
    );
    vec![a, b, c]
}

#[smartasync]
fn sleep_then(id: u32, millis: u64) -> u32 {
    thread::sleep(Duration::from_millis(millis));
    id
}

#[test]
fn offloaded_bodies_joined_inside_a_blocking_entry_overlap() {
    let started = Instant::now();
    let ids = within("joined from a plain thread", join_three_sleepers);
    let elapsed = started.elapsed();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(
        elapsed < Duration::from_millis(250),
        "three 100 ms bodies took {elapsed:?}: they did not overlap"
    );
}

/// A legacy blocking library that drives async code with its own runtime, as some sync
/// clients do internally.
#[smartasync]
fn legacy_client(value: u32) -> u32 {
    let own = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the library's own runtime");
    let doubled = own.block_on(async move {
        tokio::task::yield_now().await;
        value * 2
    });
    drop(own);
    Handle::current().block_on(async move { doubled + 1 })
}

/// An `async fn` body that awaits the legacy client: called through its blocking entry from
/// a blocking-pool thread, the chain nests.
#[smartasync]
async fn through_legacy(value: u32) -> u32 {
    legacy_client_async(value).await
}

#[smartasync]
fn nest_legacy(value: u32) -> u32 {
    through_legacy(value)
}

#[test]
fn offloaded_bodies_may_run_their_own_runtime_and_block_on_the_ambient_one() {
    let mt = multi_thread("legacy-mt", 2);
    assert_eq!(mt.block_on(legacy_client_async(3)), 7);
    assert_eq!(mt.block_on(nest_legacy_async(4)), 9);
    let ct = current_thread("legacy-ct");
    assert_eq!(ct.block_on(legacy_client_async(5)), 11);
    assert_eq!(within("nested from a plain thread", || nest_legacy(6)), 13);
}
