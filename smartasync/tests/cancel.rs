//! Cancellation that reaches blocking work: a body started by an async entry sees its
//! caller leave (`smartasync::cancelled`, `smartasync::on_cancel`) through the blocking
//! pool, a lane, `limit` and a stream; a blocking entry is never cancelled; nested calls see
//! their outermost caller's signal; a queued call whose caller left never starts.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use smartasync::{smartasync, Lane};

/// What a body saw: when it started, when it noticed the cancellation, on which thread the
/// callback ran, how often.
#[derive(Default)]
struct Seen {
    started: AtomicBool,
    stopped: Mutex<Option<Instant>>,
    callbacks: AtomicUsize,
    callback_thread: Mutex<Option<ThreadId>>,
    returned: AtomicBool,
    callback_after_return: AtomicBool,
    /// The iterator is inside a row that waits for the signal.
    in_row: AtomicBool,
}

impl Seen {
    fn record_callback(&self) {
        if self.returned.load(Ordering::SeqCst) {
            self.callback_after_return.store(true, Ordering::SeqCst);
        }
        self.callbacks.fetch_add(1, Ordering::SeqCst);
        *self.callback_thread.lock().unwrap() = Some(thread::current().id());
    }
}

/// Polls the signal every millisecond for at most `limit`; true if it was cancelled.
fn wait_for_cancel(seen: &Arc<Seen>, limit: Duration) -> bool {
    seen.started.store(true, Ordering::SeqCst);
    let callback = Arc::clone(seen);
    smartasync::on_cancel(move || callback.record_callback());
    let deadline = Instant::now() + limit;
    let cancelled = loop {
        if smartasync::cancelled() {
            *seen.stopped.lock().unwrap() = Some(Instant::now());
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        thread::sleep(Duration::from_millis(1));
    };
    seen.returned.store(true, Ordering::SeqCst);
    cancelled
}

#[smartasync]
fn pooled(seen: Arc<Seen>) -> bool {
    wait_for_cancel(&seen, Duration::from_secs(10))
}

static LANE: Lane = Lane::new("cancel-lane");

#[smartasync(lane = LANE)]
fn laned(seen: Arc<Seen>) -> bool {
    wait_for_cancel(&seen, Duration::from_secs(10))
}

#[smartasync(limit = 1)]
fn limited(seen: Arc<Seen>) -> bool {
    wait_for_cancel(&seen, Duration::from_secs(10))
}

/// Starts `future`, waits until its body runs, drops it, and checks what the body saw.
fn dropped_while_running<F>(seen: &Arc<Seen>, future: F)
where
    F: std::future::Future<Output = bool> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seen_in = Arc::clone(seen);
    let dropped_at = runtime.block_on(async move {
        let mut future = Box::pin(future);
        // Poll until the body has started, then give up on it.
        let started = tokio::time::timeout(Duration::from_secs(10), async {
            while !seen_in.started.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_millis(1), &mut future).await;
            }
        })
        .await;
        assert!(started.is_ok(), "the body started");
        let dropped_at = Instant::now();
        drop(future);
        // The callback ran inside the drop, on this thread.
        assert_eq!(seen_in.callbacks.load(Ordering::SeqCst), 1);
        assert_eq!(
            *seen_in.callback_thread.lock().unwrap(),
            Some(thread::current().id())
        );
        dropped_at
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.returned.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let stopped = seen
        .stopped
        .lock()
        .unwrap()
        .expect("the body saw the signal");
    // Generous: the body polls every millisecond.
    assert!(stopped.duration_since(dropped_at) < Duration::from_secs(2));
    assert_eq!(
        seen.callbacks.load(Ordering::SeqCst),
        1,
        "the callback ran once"
    );
}

#[test]
fn a_dropped_future_cancels_its_body_on_the_pool() {
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, pooled_async(Arc::clone(&seen)));
}

#[test]
fn a_dropped_future_cancels_its_body_on_a_lane() {
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, laned_async(Arc::clone(&seen)));
}

#[test]
fn a_dropped_future_cancels_its_body_under_a_limit() {
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, limited_async(Arc::clone(&seen)));
}

#[test]
fn a_body_that_returns_never_sees_its_callback() {
    #[smartasync]
    fn quick(seen: Arc<Seen>) -> u32 {
        let callback = Arc::clone(&seen);
        smartasync::on_cancel(move || callback.record_callback());
        seen.returned.store(true, Ordering::SeqCst);
        7
    }
    let seen = Arc::new(Seen::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(quick_async(Arc::clone(&seen))), 7);
    assert_eq!(seen.callbacks.load(Ordering::SeqCst), 0);
    assert!(!smartasync::cancelled(), "no body runs on this thread");
}

#[test]
fn a_future_dropped_after_its_body_returned_runs_no_callback() {
    #[smartasync]
    fn registers_then_returns(seen: Arc<Seen>) -> u32 {
        let callback = Arc::clone(&seen);
        smartasync::on_cancel(move || callback.record_callback());
        seen.returned.store(true, Ordering::SeqCst);
        7
    }
    let seen = Arc::new(Seen::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut future = Box::pin(registers_then_returns_async(Arc::clone(&seen)));
        // Polled once: the body runs; its result is never awaited.
        let _ = tokio::time::timeout(Duration::from_millis(1), &mut future).await;
        while !seen.returned.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Generous: the body has returned (and been marked so) long before.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(future);
    });
    assert_eq!(seen.callbacks.load(Ordering::SeqCst), 0);
    assert!(!seen.callback_after_return.load(Ordering::SeqCst));
}

#[test]
fn the_blocking_entry_is_never_cancelled() {
    let seen = Arc::new(Seen::default());
    let waiter = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            // A short limit: nobody can cancel this call, so it waits it out.
            wait_for_cancel_blocking(&seen)
        })
    };
    assert!(!waiter.join().unwrap());
    assert_eq!(seen.callbacks.load(Ordering::SeqCst), 0);
    assert!(seen.stopped.lock().unwrap().is_none());
}

#[smartasync]
fn short_wait(seen: Arc<Seen>) -> bool {
    wait_for_cancel(&seen, Duration::from_millis(50))
}

fn wait_for_cancel_blocking(seen: &Arc<Seen>) -> bool {
    short_wait(Arc::clone(seen))
}

/// An async body that awaits a blocking body: the outer future dropped cancels the inner.
#[smartasync]
async fn outer_async_caller(seen: Arc<Seen>) -> bool {
    pooled_async(seen).await
}

/// A blocking body that calls a blocking entry which drives an async one, which offloads.
#[smartasync]
fn nested_through_blocking(seen: Arc<Seen>) -> bool {
    // The blocking entry of an async body, inside a body run for an async caller.
    outer_async_caller(seen)
}

#[test]
fn nested_calls_see_their_outermost_caller_leave() {
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, nested_through_blocking_async(Arc::clone(&seen)));
}

#[test]
fn a_lane_body_nested_inline_sees_its_outer_caller_leave() {
    #[smartasync(lane = LANE)]
    fn outer_on_lane(seen: Arc<Seen>) -> bool {
        // On the lane already: runs inline, with the outer call's signal.
        laned(seen)
    }
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, outer_on_lane_async(Arc::clone(&seen)));
}

#[test]
fn a_queued_call_on_the_pool_whose_caller_left_never_starts() {
    #[smartasync]
    fn hold(release: Arc<Mutex<mpsc::Receiver<()>>>) {
        let _ = release.lock().unwrap().recv();
    }
    #[smartasync]
    fn mark(ran: Arc<AtomicBool>) {
        ran.store(true, Ordering::SeqCst);
    }
    // One blocking thread: the second call queues behind the first.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (release, released) = mpsc::channel();
    let ran = Arc::new(AtomicBool::new(false));
    runtime.block_on(async {
        let holder = tokio::spawn(hold_async(Arc::new(Mutex::new(released))));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut queued = Box::pin(mark_async(Arc::clone(&ran)));
        // Polled once: handed to the pool, where it waits for the one thread.
        let _ = tokio::time::timeout(Duration::from_millis(20), &mut queued).await;
        drop(queued);
        release.send(()).unwrap();
        holder.await.unwrap();
        // Whatever was queued has had its turn on the one thread.
        tokio::task::spawn_blocking(|| ()).await.unwrap();
    });
    assert!(
        !ran.load(Ordering::SeqCst),
        "the abandoned call never started"
    );
}

#[test]
fn a_dropped_stream_cancels_its_iterator() {
    #[smartasync]
    fn rows(seen: Arc<Seen>) -> impl Iterator<Item = u32> {
        let callback = Arc::clone(&seen);
        smartasync::on_cancel(move || callback.record_callback());
        seen.started.store(true, Ordering::SeqCst);
        // An iterator that blocks in `next` until cancelled, as a slow cursor step would.
        (0..).inspect(move |&row| {
            if row > 0 {
                seen.in_row.store(true, Ordering::SeqCst);
            }
            while row > 0 && !smartasync::cancelled() {
                thread::sleep(Duration::from_millis(1));
            }
            if row > 0 {
                *seen.stopped.lock().unwrap() = Some(Instant::now());
            }
        })
    }
    let seen = Arc::new(Seen::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use futures::StreamExt;
        let mut stream = Box::pin(rows_async(Arc::clone(&seen)));
        assert_eq!(stream.next().await, Some(0));
        // Dropped while the iterator waits inside its next row, as a slow cursor step.
        while !seen.in_row.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(stream);
        assert_eq!(seen.callbacks.load(Ordering::SeqCst), 1);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.stopped.lock().unwrap().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        seen.stopped.lock().unwrap().is_some(),
        "the iterator saw the signal"
    );
}

static OTHER_LANE: Lane = Lane::new("cancel-other-lane");

/// Registers a callback, then returns at once: a lane call made from another body.
#[smartasync(lane = OTHER_LANE)]
fn registers_and_returns(fired: Arc<AtomicUsize>) {
    smartasync::on_cancel(move || {
        fired.fetch_add(1, Ordering::SeqCst);
    });
}

#[test]
fn a_lane_call_that_returned_keeps_no_callback_on_its_caller() {
    #[smartasync]
    fn caller(seen: Arc<Seen>, fired: Arc<AtomicUsize>) -> bool {
        // The lane's blocking entry, from a body run for an async caller: it returns, and
        // what it registered (an interrupt of a connection it gave back) must go with it.
        registers_and_returns(fired);
        wait_for_cancel(&seen, Duration::from_secs(10))
    }
    let seen = Arc::new(Seen::default());
    let fired = Arc::new(AtomicUsize::new(0));
    dropped_while_running(&seen, caller_async(Arc::clone(&seen), Arc::clone(&fired)));
    assert_eq!(
        fired.load(Ordering::SeqCst),
        0,
        "the returned lane call's callback did not run"
    );
}

#[test]
fn a_lane_call_running_for_a_body_is_cancelled_with_it() {
    #[smartasync(lane = OTHER_LANE)]
    fn on_other_lane(seen: Arc<Seen>) -> bool {
        wait_for_cancel(&seen, Duration::from_secs(10))
    }
    #[smartasync]
    fn caller(seen: Arc<Seen>) -> bool {
        on_other_lane(seen)
    }
    let seen = Arc::new(Seen::default());
    dropped_while_running(&seen, caller_async(Arc::clone(&seen)));
}

#[test]
fn a_panicking_callback_stops_neither_the_others_nor_the_nested_calls() {
    #[smartasync]
    fn panicky(seen: Arc<Seen>, others: Arc<AtomicUsize>) -> bool {
        smartasync::on_cancel(|| panic!("a callback's bug"));
        let counted = Arc::clone(&others);
        smartasync::on_cancel(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        // A nested call with a token of its own (an async body driven here, which
        // offloads), cancelled after the callbacks.
        outer_async_caller(seen)
    }
    let seen = Arc::new(Seen::default());
    let others = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut future = Box::pin(panicky_async(Arc::clone(&seen), Arc::clone(&others)));
    runtime.block_on(async {
        while !seen.started.load(Ordering::SeqCst) {
            let _ = tokio::time::timeout(Duration::from_millis(1), &mut future).await;
        }
    });
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(future)));
    let payload = dropped.expect_err("the callback's panic resumes in the drop");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"a callback's bug"));
    assert_eq!(others.load(Ordering::SeqCst), 1, "the other callback ran");
    assert_eq!(
        seen.callbacks.load(Ordering::SeqCst),
        1,
        "the nested call's ran"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.returned.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        seen.stopped.lock().unwrap().is_some(),
        "the nested body saw the signal"
    );
}

#[test]
fn a_stream_whose_callback_panics_still_stops_its_producer() {
    #[smartasync]
    fn endless(dropped: Arc<AtomicBool>) -> impl Iterator<Item = u32> {
        smartasync::on_cancel(|| panic!("a callback's bug"));
        let guard = Dropped(dropped);
        // Fills its batches and waits for room, never looking at the signal.
        (0..).inspect(move |_| {
            let _ = &guard;
        })
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stream = runtime.block_on(async {
        use futures::StreamExt;
        let mut stream = Box::pin(endless_async(Arc::clone(&dropped)));
        assert_eq!(stream.next().await, Some(0));
        // Time for the producer to fill the channel and wait for room.
        tokio::time::sleep(Duration::from_millis(20)).await;
        stream
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(stream)));
    // Not waiting for a producer that may never stop, so that this test fails, not hangs.
    runtime.shutdown_background();
    assert!(result.is_err(), "the callback's panic resumes in the drop");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "the producer was woken, stopped and dropped its iterator"
    );
}

/// Sets its flag when dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A value whose drop panics: dropped outside the body's own panic guard.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("a value that panics when dropped");
        }
    }
}

static SURVIVING_LANE: Lane = Lane::new("cancel-surviving-lane");

#[smartasync(lane = SURVIVING_LANE)]
fn returns_a_bomb(seen: Arc<Seen>) -> PanicsOnDrop {
    wait_for_cancel(&seen, Duration::from_secs(10));
    PanicsOnDrop
}

#[smartasync(lane = SURVIVING_LANE)]
fn lane_thread_name() -> String {
    thread::current().name().unwrap_or_default().to_owned()
}

#[test]
fn a_value_that_panics_when_dropped_on_a_lane_does_not_take_the_lane_down() {
    let seen = Arc::new(Seen::default());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut future = Box::pin(returns_a_bomb_async(Arc::clone(&seen)));
        while !seen.started.load(Ordering::SeqCst) {
            let _ = tokio::time::timeout(Duration::from_millis(1), &mut future).await;
        }
        // Nobody waits for the value any more: the lane drops it, and it panics there.
        drop(future);
    });
    let (sent, answer) = mpsc::channel();
    thread::spawn(move || {
        let _ = sent.send(lane_thread_name());
    });
    let name = answer
        .recv_timeout(Duration::from_secs(10))
        .expect("the lane serves the next call");
    assert_eq!(name, "cancel-surviving-lane-0");
}

#[test]
fn a_panic_after_a_streams_body_returned_ends_the_stream_after_its_items() {
    #[smartasync]
    fn rows() -> impl Iterator<Item = u32> {
        // Dropped when the body's call is marked finished, after the iterator ended.
        let bomb = PanicsOnDrop;
        smartasync::on_cancel(move || drop(bomb));
        0..4
    }
    let (sent, answer) = mpsc::channel();
    thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let pushed = Arc::clone(&seen);
        let collected = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                use futures::StreamExt;
                let mut rows = Box::pin(rows_async());
                while let Some(row) = rows.next().await {
                    pushed.lock().unwrap().push(row);
                }
            })
        }));
        let items = seen.lock().unwrap().clone();
        let _ = sent.send((collected.is_err(), items));
    });
    let (panicked, items) = answer
        .recv_timeout(Duration::from_secs(10))
        .expect("the stream ended instead of waiting forever");
    assert!(panicked, "the panic resumed in the consumer");
    assert_eq!(items, [0, 1, 2, 3], "every item pulled came first");
}

static BOMB_LANE: Lane = Lane::new("cancel-bomb-lane");

#[smartasync(lane = BOMB_LANE)]
fn arms_a_bomb() {
    let bomb = PanicsOnDrop;
    smartasync::on_cancel(move || drop(bomb));
}

#[smartasync(lane = BOMB_LANE)]
fn sees_cancelled() -> bool {
    smartasync::cancelled()
}

#[test]
fn a_panic_when_a_call_finishes_leaves_no_token_on_its_thread() {
    assert!(!sees_cancelled());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let finished = runtime.block_on(runtime.spawn(arms_a_bomb_async()));
    assert!(
        finished.is_err(),
        "the callback's drop panicked in the call"
    );
    assert!(
        !sees_cancelled(),
        "a later call from sync code on the same lane thread is not cancelled"
    );
}

static ITER_LANE: Lane = Lane::new("cancel-iter-lane");

#[test]
fn a_lane_iterator_dropped_early_by_a_sync_caller_is_not_cancelled() {
    #[smartasync(lane = ITER_LANE)]
    fn numbers(fired: Arc<AtomicUsize>, saw: Arc<AtomicBool>) -> impl Iterator<Item = u32> {
        smartasync::on_cancel(move || {
            fired.fetch_add(1, Ordering::SeqCst);
        });
        (0..).inspect(move |_| {
            if smartasync::cancelled() {
                saw.store(true, Ordering::SeqCst);
            }
        })
    }
    let fired = Arc::new(AtomicUsize::new(0));
    let saw = Arc::new(AtomicBool::new(false));
    let first: Vec<u32> = numbers(Arc::clone(&fired), Arc::clone(&saw))
        .take(3)
        .collect();
    assert_eq!(first, [0, 1, 2]);
    // The lane's next call runs after the producer has stopped.
    #[smartasync(lane = ITER_LANE)]
    fn after() {}
    after();
    assert_eq!(fired.load(Ordering::SeqCst), 0, "no callback ran");
    assert!(
        !saw.load(Ordering::SeqCst),
        "the body never saw cancelled()"
    );
}

#[test]
fn a_disarmed_callback_never_runs_and_is_dropped_at_once() {
    #[smartasync]
    fn disarming(seen: Arc<Seen>, fired: Arc<AtomicUsize>, dropped: Arc<AtomicBool>) -> bool {
        let capture = Dropped(Arc::clone(&dropped));
        let registration = smartasync::on_cancel(move || {
            let _ = &capture;
            fired.fetch_add(1, Ordering::SeqCst);
        });
        registration.disarm();
        assert!(dropped.load(Ordering::SeqCst), "its captures were dropped");
        wait_for_cancel(&seen, Duration::from_secs(10))
    }
    let seen = Arc::new(Seen::default());
    let fired = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    dropped_while_running(
        &seen,
        disarming_async(Arc::clone(&seen), Arc::clone(&fired), Arc::clone(&dropped)),
    );
    assert_eq!(
        fired.load(Ordering::SeqCst),
        0,
        "the disarmed callback never ran"
    );
}
