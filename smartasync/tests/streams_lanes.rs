//! Iterator bodies on a lane (`#[smartasync(lane = L)]` on a `fn` returning `impl
//! Iterator`): the iterator is made, pulled and dropped on the lane's thread through either
//! entry; called on the lane (nested) it runs inline without deadlock; a lane stream holds
//! the thread until it ends or is dropped, and then the lane serves the next call; a panic
//! resumes in the consumer and the lane keeps serving.

use std::future::poll_fn;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use smartasync::{smartasync, Lane, Stream};

mod support;

use support::*;

static ROWS: Lane = Lane::new("sl-rows");

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

async fn next<S: Stream + ?Sized>(stream: &mut Pin<&mut S>) -> Option<S::Item> {
    poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

async fn collect<S: Stream>(stream: S) -> Vec<S::Item> {
    let mut stream = pin!(stream);
    let mut items = Vec::new();
    while let Some(item) = next(&mut stream.as_mut()).await {
        items.push(item);
    }
    items
}

/// An item: its value, the thread that made the iterator, the thread that pulled it.
type Row = (u32, String, String);

#[smartasync(lane = ROWS)]
fn lane_rows(n: u32) -> impl Iterator<Item = Row> {
    let made = thread_name();
    (0..n).map(move |i| (i, made.clone(), thread_name()))
}

/// A lane body that iterates another iterator body of its own lane: nested, inline.
#[smartasync(lane = ROWS)]
fn lane_relay(n: u32) -> impl Iterator<Item = Row> {
    lane_rows(n).map(|(i, made, pulled)| (i * 10, made, pulled))
}

/// A lane body (not an iterator) that collects an iterator body of its own lane, through
/// its blocking entry and through its stream driven with `block_on_stream`.
#[smartasync(lane = ROWS)]
fn lane_collect(n: u32) -> (String, Vec<Row>, Vec<Row>) {
    let direct = lane_rows(n).collect();
    let streamed = smartasync::block_on_stream(lane_rows_async(n)).collect();
    (thread_name(), direct, streamed)
}

#[track_caller]
fn assert_rows_on_lane(rows: &[Row], n: u32, lane_thread: &str) {
    let values: Vec<u32> = rows.iter().map(|row| row.0).collect();
    assert_eq!(values, (0..n).collect::<Vec<_>>(), "every item, in order");
    for (_, made, pulled) in rows {
        assert_eq!(made, lane_thread, "made on the lane");
        assert_eq!(pulled, lane_thread, "pulled on the lane");
    }
}

#[test]
fn lane_iterator_stream_runs_on_the_lane_thread_from_async_code() {
    within("lane_rows_async()", || {
        let mt = multi_thread("sl-mt", 2);
        let rows = mt
            .block_on(mt.spawn(collect(lane_rows_async(500))))
            .expect("the task completes");
        assert_rows_on_lane(&rows, 500, "sl-rows-0");
        let ct = current_thread("sl-ct");
        assert_rows_on_lane(
            &ct.block_on(collect(lane_rows_async(500))),
            500,
            "sl-rows-0",
        );
        let rows = futures::executor::block_on(collect(lane_rows_async(500)));
        assert_rows_on_lane(&rows, 500, "sl-rows-0");
    });
}

#[test]
fn lane_iterator_blocking_entry_off_the_lane_runs_on_the_lane_thread() {
    within("lane_rows() off the lane", || {
        assert_rows_on_lane(&lane_rows(500).collect::<Vec<_>>(), 500, "sl-rows-0");
        // From sync code inside runtimes of both flavors.
        let mt = multi_thread("sl-sync-mt", 2);
        let rows: Vec<Row> = mt
            .block_on(mt.spawn(async { lane_rows(500).collect() }))
            .expect("the task completes");
        assert_rows_on_lane(&rows, 500, "sl-rows-0");
        let ct = current_thread("sl-sync-ct");
        let rows: Vec<Row> = ct.block_on(async { lane_rows(500).collect() });
        assert_rows_on_lane(&rows, 500, "sl-rows-0");
    });
}

#[test]
fn lane_iterator_called_on_its_lane_runs_inline_without_deadlock() {
    within("nested lane iterators", || {
        // 500 items: more than the one batch a stream's channel holds, so a nested stream
        // that were not run inline would wait for a consumer that cannot run.
        let (outer, direct, streamed) = lane_collect(500);
        assert_eq!(outer, "sl-rows-0");
        assert_rows_on_lane(&direct, 500, "sl-rows-0");
        assert_rows_on_lane(&streamed, 500, "sl-rows-0");

        let relayed: Vec<Row> = lane_relay(300).collect();
        assert_eq!(relayed.len(), 300);
        for (i, (value, made, pulled)) in relayed.iter().enumerate() {
            assert_eq!(*value as usize, i * 10);
            assert_eq!((made.as_str(), pulled.as_str()), ("sl-rows-0", "sl-rows-0"));
        }
        let rt = multi_thread("sl-nested", 2);
        let relayed = rt
            .block_on(rt.spawn(collect(lane_relay_async(300))))
            .expect("the task completes");
        assert_eq!(relayed.len(), 300);
        assert!(relayed.iter().all(|(_, made, _)| made == "sl-rows-0"));
        let (outer, direct, streamed) = rt.block_on(lane_collect_async(200));
        assert_eq!(outer, "sl-rows-0");
        assert_rows_on_lane(&direct, 200, "sl-rows-0");
        assert_rows_on_lane(&streamed, 200, "sl-rows-0");
    });
}

// ---------------------------------------------------------------------------------------
// A lane stream holds the thread until it ends or is dropped.
// ---------------------------------------------------------------------------------------

static HELD: Lane = Lane::new("sl-held");

/// What an endless lane cursor reports.
#[derive(Clone, Default)]
struct Probe {
    made_on: Arc<Mutex<Option<ThreadId>>>,
    dropped_on: Arc<Mutex<Option<ThreadId>>>,
    produced: Arc<AtomicUsize>,
}

struct Cursor(Probe);

impl Iterator for Cursor {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        Some(self.0.produced.fetch_add(1, Ordering::SeqCst))
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        *self.0.dropped_on.lock().unwrap() = Some(thread::current().id());
    }
}

#[smartasync(lane = HELD)]
fn held_cursor(probe: Probe) -> impl Iterator<Item = usize> {
    *probe.made_on.lock().unwrap() = Some(thread::current().id());
    Cursor(probe)
}

#[smartasync(lane = HELD)]
fn held_name() -> String {
    thread_name()
}

#[smartasync(lane = HELD)]
fn held_flaky(k: u32) -> impl Iterator<Item = u32> {
    (0..).inspect(move |&i| {
        if i == k {
            panic::panic_any(k);
        }
    })
}

#[test]
fn a_dropped_lane_stream_frees_the_lane_and_drops_its_iterator_there() {
    within("drop a lane stream", || {
        let rt = multi_thread("sl-drop", 2);
        let probe = Probe::default();
        rt.block_on(async {
            let mut stream = pin!(held_cursor_async(probe.clone()));
            for expected in 0..10 {
                assert_eq!(next(&mut stream.as_mut()).await, Some(expected));
            }
        });
        // The one lane thread is free again: the next call runs.
        assert_eq!(held_name(), "sl-held-0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while probe.dropped_on.lock().unwrap().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let made_on = probe.made_on.lock().unwrap().expect("the body ran");
        assert_eq!(*probe.dropped_on.lock().unwrap(), Some(made_on));
        let produced = probe.produced.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(100));
        assert_eq!(probe.produced.load(Ordering::SeqCst), produced, "stopped");
        assert!(produced <= 10 + 3 * 64, "produced {produced}");
    });
}

#[test]
fn a_lane_stream_dropped_before_its_first_poll_never_runs() {
    within("drop a lane stream unpolled", || {
        let probe = Probe::default();
        drop(held_cursor_async(probe.clone()));
        assert_eq!(held_name(), "sl-held-0");
        assert_eq!(*probe.made_on.lock().unwrap(), None);
        assert_eq!(probe.produced.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_lane_iterator_panic_resumes_in_the_consumer_and_the_lane_keeps_serving() {
    within("held_flaky()", || {
        // Blocking entry, off the lane.
        let mut items = held_flaky(3);
        let mut before = Vec::new();
        let payload = loop {
            match panic::catch_unwind(AssertUnwindSafe(|| items.next())) {
                Ok(Some(item)) => before.push(item),
                Ok(None) => panic!("ended without panicking"),
                Err(payload) => break payload,
            }
        };
        assert_eq!(before, [0, 1, 2]);
        assert_eq!(payload.downcast_ref::<u32>(), Some(&3));
        drop(items);
        assert_eq!(held_name(), "sl-held-0");

        // Async entry.
        let rt = current_thread("sl-panic");
        let (before, payload) = rt.block_on(async {
            use futures::FutureExt;
            let mut stream = pin!(held_flaky_async(70));
            let mut before = Vec::new();
            loop {
                match AssertUnwindSafe(next(&mut stream.as_mut()))
                    .catch_unwind()
                    .await
                {
                    Ok(Some(item)) => before.push(item),
                    Ok(None) => panic!("ended without panicking"),
                    Err(payload) => break (before, payload),
                }
            }
        });
        assert_eq!(before, (0..70).collect::<Vec<_>>());
        assert_eq!(payload.downcast_ref::<u32>(), Some(&70));
        assert_eq!(held_name(), "sl-held-0");
    });
}
