//! How items flow through the stream of an iterator body: back-pressure on a slow consumer
//! (the producer stops, memory stays bounded), a dropped stream (its iterator stops and is
//! dropped on its own thread; one never polled never runs), the first item arrives at once,
//! and long streams keep their order and count.
//!
//! Bounds are derived from the design (`smartasync::unblock_iter`): the channel holds one
//! batch, so a consumer that stops polling leaves at most the rest of the batch it is
//! consuming, one batch in the channel and one the producer has filled and waits to hand
//! over. No test measures time, except generous "within 10 s" waits for a condition.

use std::future::poll_fn;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use smartasync::{smartasync, Stream};

mod support;

use support::*;

/// The largest batch when none is set (`smartasync::__private::DEFAULT_BATCH`, documented
/// on `unblock_iter`).
const DEFAULT_BATCH: usize = 64;

async fn next<S: Stream + ?Sized>(stream: &mut Pin<&mut S>) -> Option<S::Item> {
    poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// Waits until `condition` holds, for at most 10 s; whether it did.
fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// Waits until `counter` stops moving (unchanged across a 200 ms pause, within 10 s) and
/// returns its value.
fn settled(counter: &AtomicUsize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = counter.load(Ordering::SeqCst);
    loop {
        thread::sleep(Duration::from_millis(200));
        let now = counter.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the producer never stopped: {now} items"
        );
        last = now;
    }
}

// ---------------------------------------------------------------------------------------
// A slow consumer.
// ---------------------------------------------------------------------------------------

/// An endless iterator that counts what it produced.
#[smartasync]
fn endless(produced: Arc<AtomicUsize>) -> impl Iterator<Item = usize> {
    (0..).inspect(move |_| {
        produced.fetch_add(1, Ordering::SeqCst);
    })
}

/// The same with a small batch.
#[smartasync(batch = 4)]
fn endless_in_fours(produced: Arc<AtomicUsize>) -> impl Iterator<Item = usize> {
    (0..).inspect(move |_| {
        produced.fetch_add(1, Ordering::SeqCst);
    })
}

/// Consumes `take` items of `stream` (checking they are 0, 1, ...), then stops polling and
/// returns how many items the producer made once it stopped. Then consumes `take` more, to
/// show the producer was paused, not ended.
fn pause_after<S: Stream<Item = usize> + Send + 'static>(
    stream: S,
    produced: &Arc<AtomicUsize>,
    take: usize,
) -> usize {
    let rt = multi_thread("flow-slow", 2);
    let mut stream = Box::pin(stream);
    stream = rt.block_on(async move {
        for expected in 0..take {
            assert_eq!(next(&mut stream.as_mut()).await, Some(expected));
        }
        stream
    });
    // Nobody polls now.
    let stopped_at = settled(produced);
    let resumed = rt.block_on(async move {
        for expected in take..2 * take {
            assert_eq!(next(&mut stream.as_mut()).await, Some(expected));
        }
        stream
    });
    drop(resumed);
    stopped_at
}

#[test]
fn slow_consumer_stops_the_producer_after_a_bounded_number_of_items() {
    within("slow consumer, default batch", || {
        for take in [5, 1000] {
            let produced = Arc::new(AtomicUsize::new(0));
            let stopped_at = pause_after(endless_async(Arc::clone(&produced)), &produced, take);
            // The rest of the batch being consumed, one batch in the channel, one filled
            // and waiting for room.
            let bound = take + 3 * DEFAULT_BATCH;
            assert!(
                stopped_at <= bound,
                "consumed {take}, the producer made {stopped_at} (at most {bound})"
            );
            assert!(stopped_at >= take);
        }
    });
}

#[test]
fn slow_consumer_bound_follows_the_batch_size() {
    within("slow consumer, batch = 4", || {
        let take = 100;
        let produced = Arc::new(AtomicUsize::new(0));
        let stopped_at = pause_after(
            endless_in_fours_async(Arc::clone(&produced)),
            &produced,
            take,
        );
        let bound = take + 3 * 4;
        assert!(
            stopped_at <= bound,
            "consumed {take}, the producer made {stopped_at} (at most {bound})"
        );
    });
}

#[test]
fn slow_consumer_bound_holds_with_unblock_iter_batch() {
    within("slow consumer, unblock_iter().batch(16)", || {
        let take = 50;
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&produced);
        let stream = smartasync::unblock_iter(move || {
            (0..).inspect(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        })
        .batch(16);
        let stopped_at = pause_after(stream, &produced, take);
        assert!(stopped_at <= take + 3 * 16, "made {stopped_at}");
    });
}

// ---------------------------------------------------------------------------------------
// A dropped stream.
// ---------------------------------------------------------------------------------------

/// What a cursor reports about itself.
#[derive(Clone, Default)]
struct Probe {
    /// The thread that ran the body (made the cursor).
    made_on: Arc<Mutex<Option<ThreadId>>>,
    /// The thread its `Drop` ran on.
    dropped_on: Arc<Mutex<Option<ThreadId>>>,
    produced: Arc<AtomicUsize>,
    /// Set by an `on_cancel` callback registered by the body.
    cancelled: Arc<AtomicBool>,
    /// What `smartasync::cancelled()` said in the cursor's `Drop`.
    cancelled_at_drop: Arc<Mutex<Option<bool>>>,
}

/// An endless cursor that records its items and where it is dropped.
struct Cursor {
    probe: Probe,
    next: usize,
}

impl Iterator for Cursor {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        self.probe.produced.fetch_add(1, Ordering::SeqCst);
        self.next += 1;
        Some(self.next - 1)
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        *self.probe.cancelled_at_drop.lock().unwrap() = Some(smartasync::cancelled());
        *self.probe.dropped_on.lock().unwrap() = Some(thread::current().id());
    }
}

#[smartasync]
fn open_cursor(probe: Probe) -> impl Iterator<Item = usize> {
    *probe.made_on.lock().unwrap() = Some(thread::current().id());
    let cancelled = Arc::clone(&probe.cancelled);
    smartasync::on_cancel(move || cancelled.store(true, Ordering::SeqCst));
    Cursor { probe, next: 0 }
}

#[test]
fn dropped_stream_stops_its_iterator_and_drops_it_on_its_own_thread() {
    within("drop a stream after a few items", || {
        let rt = multi_thread("flow-drop", 2);
        for take in [1, 10, 500] {
            let probe = Probe::default();
            let caller = thread::current().id();
            rt.block_on(async {
                let mut stream = pin!(open_cursor_async(probe.clone()));
                for expected in 0..take {
                    assert_eq!(next(&mut stream.as_mut()).await, Some(expected));
                }
            });
            // The stream is gone: its cursor is dropped where it was made.
            assert!(
                eventually(|| probe.dropped_on.lock().unwrap().is_some()),
                "the cursor was never dropped"
            );
            let made_on = probe.made_on.lock().unwrap().expect("the body ran");
            assert_ne!(made_on, caller, "the body ran on the blocking pool");
            assert_eq!(*probe.dropped_on.lock().unwrap(), Some(made_on));
            // No item after the drop, and not many before it.
            let produced = probe.produced.load(Ordering::SeqCst);
            thread::sleep(Duration::from_millis(100));
            assert_eq!(probe.produced.load(Ordering::SeqCst), produced);
            assert!(produced <= take + 3 * DEFAULT_BATCH, "produced {produced}");
        }
    });
}

/// An item whose `Drop` takes 100 ms when `slow`: left unconsumed in the stream's current
/// batch, it holds the dropping thread inside the stream's drop.
#[derive(Debug, PartialEq)]
struct Item {
    value: usize,
    slow: bool,
}

impl Drop for Item {
    fn drop(&mut self) {
        if self.slow {
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `open_cursor` with items of which the third (value 2) drops slowly.
#[smartasync]
fn open_slow_cursor(probe: Probe) -> impl Iterator<Item = Item> {
    open_cursor(probe).map(|value| Item {
        value,
        slow: value == 2,
    })
}

/// Bug: the stream closes its channel before it cancels its call (the cancellation is a
/// field, dropped after `Drop::drop` returned), so a producer waiting for room returns, and
/// its body finishes, before the call is cancelled: the body's `on_cancel` callbacks never
/// run, and `cancelled()` is false in its iterator's `Drop`, though the stream was dropped
/// before its body returned. Made deterministic by an unconsumed item that drops slowly
/// (anything the dropping thread does between the two steps opens the same window).
#[test]
fn dropped_stream_cancels_its_body_while_the_producer_waits_for_room() {
    within("on_cancel of a stream's body", || {
        let rt = multi_thread("flow-cancel", 2);
        for round in 0..3 {
            let probe = Probe::default();
            let mut stream = Box::pin(open_slow_cursor_async(probe.clone()));
            // Batches of 1, then 2: item 2 stays in the batch being consumed.
            for expected in 0..2 {
                let item = rt.block_on(next(&mut stream.as_mut())).expect("an item");
                assert_eq!(item.value, expected);
            }
            // The producer has filled the channel and waits for room.
            settled(&probe.produced);
            drop(stream);
            assert!(
                probe.cancelled.load(Ordering::SeqCst),
                "round {round}: the body's on_cancel callback ran inside the drop"
            );
            assert!(eventually(|| probe.dropped_on.lock().unwrap().is_some()));
            assert_eq!(
                *probe.cancelled_at_drop.lock().unwrap(),
                Some(true),
                "round {round}: the iterator's Drop saw cancelled()"
            );
        }
    });
}

#[test]
fn dropped_stream_under_a_foreign_executor_drops_its_iterator_on_its_own_thread() {
    within("drop a stream under futures::executor", || {
        let probe = Probe::default();
        let mut stream = Box::pin(open_cursor_async(probe.clone()));
        let first = futures::executor::block_on(next(&mut stream.as_mut()));
        assert_eq!(first, Some(0));
        drop(stream);
        assert!(eventually(|| probe.dropped_on.lock().unwrap().is_some()));
        assert_eq!(
            *probe.dropped_on.lock().unwrap(),
            *probe.made_on.lock().unwrap()
        );
    });
}

#[test]
fn stream_dropped_before_its_first_poll_never_runs_its_body() {
    within("drop a stream unpolled", || {
        let rt = multi_thread("flow-unpolled", 2);
        let probe = Probe::default();
        // Made in a task (where a runtime is current) and dropped there, and made on a
        // plain thread and dropped there.
        rt.block_on(async { drop(open_cursor_async(probe.clone())) });
        drop(open_cursor_async(probe.clone()));
        // A later stream is served: the pool is not held by the dropped ones.
        let later = Probe::default();
        rt.block_on(async {
            let mut stream = pin!(open_cursor_async(later.clone()));
            assert_eq!(next(&mut stream.as_mut()).await, Some(0));
        });
        assert!(eventually(|| later.dropped_on.lock().unwrap().is_some()));
        thread::sleep(Duration::from_millis(100));
        assert_eq!(*probe.made_on.lock().unwrap(), None, "the body never ran");
        assert_eq!(probe.produced.load(Ordering::SeqCst), 0);
        assert_eq!(*probe.dropped_on.lock().unwrap(), None);
    });
}

/// The stream of an async body, holding a guard that records where it is dropped.
struct Guard(Arc<Mutex<Option<ThreadId>>>);

impl Drop for Guard {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

#[smartasync]
async fn guarded(dropped_on: Arc<Mutex<Option<ThreadId>>>) -> impl Stream<Item = u32> {
    let guard = Guard(dropped_on);
    futures::stream::unfold((0, guard), |(i, guard)| async move {
        tokio::task::yield_now().await;
        Some((i, (i + 1, guard)))
    })
}

#[test]
fn dropped_blocking_iterator_drops_its_stream_on_the_dropping_thread() {
    within("drop the iterator of a stream body", || {
        let dropped_on = Arc::new(Mutex::new(None));
        let mut items = guarded(Arc::clone(&dropped_on));
        assert_eq!(items.next(), Some(0));
        assert_eq!(items.next(), Some(1));
        assert_eq!(*dropped_on.lock().unwrap(), None, "alive while iterated");
        drop(items);
        assert_eq!(*dropped_on.lock().unwrap(), Some(thread::current().id()));
    });
}

// ---------------------------------------------------------------------------------------
// The first item at once; long streams keep order and count.
// ---------------------------------------------------------------------------------------

/// Yields 0, then waits for a go-ahead before making 1 and 2: it only gets past the first
/// item if that item reached the consumer on its own, before the second was made.
#[smartasync]
fn gated(go: Arc<Mutex<mpsc::Receiver<()>>>) -> impl Iterator<Item = u32> {
    (0..3).inspect(move |i| {
        if *i == 1 {
            go.lock()
                .unwrap()
                .recv_timeout(WATCHDOG)
                .expect("the consumer sends a go-ahead");
        }
    })
}

/// With `batch = 1`, waits for a go-ahead before every item after the first: each item
/// must reach the consumer before the next is made.
#[smartasync(batch = 1)]
fn gated_each(go: Arc<Mutex<mpsc::Receiver<()>>>) -> impl Iterator<Item = u32> {
    (0..5).inspect(move |i| {
        if *i > 0 {
            go.lock()
                .unwrap()
                .recv_timeout(WATCHDOG)
                .expect("the consumer sends a go-ahead");
        }
    })
}

#[test]
fn the_first_item_arrives_before_the_iterator_makes_the_next() {
    within("first item at once", || {
        let rt = multi_thread("flow-first", 2);
        let (send, go) = mpsc::channel();
        let items = rt.block_on(async move {
            let mut stream = pin!(gated_async(Arc::new(Mutex::new(go))));
            let mut items = Vec::new();
            while let Some(item) = next(&mut stream.as_mut()).await {
                items.push(item);
                let _ = send.send(());
            }
            items
        });
        assert_eq!(items, [0, 1, 2]);

        // With batch = 1, every item comes alone.
        let (send, go) = mpsc::channel();
        let items = rt.block_on(async move {
            let mut stream = pin!(gated_each_async(Arc::new(Mutex::new(go))));
            let mut items = Vec::new();
            while let Some(item) = next(&mut stream.as_mut()).await {
                items.push(item);
                let _ = send.send(());
            }
            items
        });
        assert_eq!(items, [0, 1, 2, 3, 4]);
    });
}

#[smartasync]
fn count(n: u64) -> impl Iterator<Item = u64> {
    0..n
}

#[test]
fn a_million_items_keep_their_order_and_count() {
    within("a million items", || {
        const N: u64 = 1_000_000;
        let rt = multi_thread("flow-large", 2);
        let (seen, sum) = rt
            .block_on(rt.spawn(async {
                let mut stream = pin!(count_async(N));
                let (mut seen, mut sum) = (0u64, 0u64);
                while let Some(item) = next(&mut stream.as_mut()).await {
                    assert_eq!(item, seen, "in order");
                    seen += 1;
                    sum += item;
                }
                assert_eq!(next(&mut stream.as_mut()).await, None, "ended for good");
                (seen, sum)
            }))
            .expect("the task completes");
        assert_eq!(seen, N);
        assert_eq!(sum, N * (N - 1) / 2);

        // The same from sync code, through both bridges.
        let mut expected = 0;
        for item in smartasync::block_on_stream(count_async(N)) {
            assert_eq!(item, expected);
            expected += 1;
        }
        assert_eq!(expected, N);
    });
}

#[test]
fn size_hints_never_overstate_what_is_left() {
    within("size_hint", || {
        const N: usize = 1000;
        let rt = multi_thread("flow-hint", 2);
        rt.block_on(async {
            let mut stream = pin!(count_async(N as u64));
            let mut left = N;
            loop {
                let (low, high) = stream.size_hint();
                assert!(low <= left, "lower bound {low} with {left} left");
                if let Some(high) = high {
                    assert!(high >= left, "upper bound {high} with {left} left");
                }
                if next(&mut stream.as_mut()).await.is_none() {
                    break;
                }
                left -= 1;
            }
            assert_eq!(left, 0);
        });
        // The blocking iterator of a stream: the same, and (0, Some(0)) once ended.
        let mut items = smartasync::block_on_stream(count_async(N as u64));
        let mut left = N;
        loop {
            let (low, high) = items.size_hint();
            assert!(low <= left);
            assert!(high.is_none_or(|high| high >= left));
            if items.next().is_none() {
                break;
            }
            left -= 1;
        }
        assert_eq!(left, 0);
        assert_eq!(items.size_hint(), (0, Some(0)));
        assert_eq!(items.next(), None, "ended for good");
        assert_eq!(items.next(), None);
    });
}

#[test]
fn an_empty_iterator_is_an_empty_stream() {
    within("empty", || {
        let rt = current_thread("flow-empty");
        rt.block_on(async {
            let mut stream = pin!(count_async(0));
            assert_eq!(next(&mut stream.as_mut()).await, None);
            assert_eq!(next(&mut stream.as_mut()).await, None);
        });
        assert_eq!(smartasync::block_on_stream(count_async(0)).count(), 0);
    });
}
