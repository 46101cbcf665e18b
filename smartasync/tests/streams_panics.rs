//! Panics through streams, in both directions: the consumer receives the items made before
//! the panic, then the panic resumes with its original payload; a panic before the iterator
//! or stream exists resumes at the first item (or in the future of the `Result` form); and
//! the process-wide runtime keeps working afterwards.

use std::any::Any;
use std::future::poll_fn;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::time::Duration;

use futures::FutureExt;
use smartasync::{smartasync, Stream};

mod support;

use support::*;

/// A payload no one else panics with.
#[derive(Debug, PartialEq)]
struct Boom(u32);

#[track_caller]
fn assert_boom(payload: Box<dyn Any + Send>, expected: u32) {
    match payload.downcast::<Boom>() {
        Ok(boom) => assert_eq!(*boom, Boom(expected)),
        Err(other) => panic!(
            "another payload: {:?}",
            other
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| other.downcast_ref::<&str>().copied())
        ),
    }
}

async fn next<S: Stream + ?Sized>(stream: &mut Pin<&mut S>) -> Option<S::Item> {
    poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// Polls `stream` until it panics: the items before, and the payload.
async fn until_panic<S: Stream>(stream: S) -> (Vec<S::Item>, Box<dyn Any + Send>) {
    let mut stream = pin!(stream);
    let mut items = Vec::new();
    loop {
        match AssertUnwindSafe(next(&mut stream.as_mut()))
            .catch_unwind()
            .await
        {
            Ok(Some(item)) => items.push(item),
            Ok(None) => panic!("the stream ended without panicking"),
            Err(payload) => {
                // Polled again, the stream has ended.
                assert!(next(&mut stream.as_mut()).await.is_none());
                return (items, payload);
            }
        }
    }
}

/// Iterates `items` until `next()` panics: the items before, and the payload.
fn iterate_until_panic<I: Iterator>(mut items: I) -> (Vec<I::Item>, Box<dyn Any + Send>) {
    let mut before = Vec::new();
    loop {
        match panic::catch_unwind(AssertUnwindSafe(|| items.next())) {
            Ok(Some(item)) => before.push(item),
            Ok(None) => panic!("the iterator ended without panicking"),
            Err(payload) => return (before, payload),
        }
    }
}

/// Written as `fn`: an iterator that panics when it reaches `k`.
#[smartasync]
fn flaky(k: u32) -> impl Iterator<Item = u32> {
    (0..).inspect(move |&i| {
        if i == k {
            panic::panic_any(Boom(k));
        }
    })
}

/// Written as `fn`: panics before making its iterator when `fail`.
#[smartasync]
fn broken(fail: bool) -> impl Iterator<Item = u32> {
    if fail {
        panic::panic_any(Boom(99));
    }
    0..3
}

/// Written as `fn` returning `Result<impl Iterator, E>`: panics, fails or succeeds.
#[smartasync]
fn try_broken(mode: u32) -> Result<impl Iterator<Item = u32>, String> {
    match mode {
        0 => Ok(0..3),
        1 => Err("refused".to_owned()),
        _ => panic::panic_any(Boom(mode)),
    }
}

/// Written as `async fn`: a stream that panics when it reaches `k`, after a timer.
#[smartasync]
async fn exploding(k: u32) -> impl Stream<Item = u32> {
    futures::stream::unfold(0, move |i| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if i == k {
            panic::panic_any(Boom(k));
        }
        Some((i, i + 1))
    })
}

/// Written as `async fn`: panics before making its stream.
#[smartasync]
async fn exploding_early() -> impl Stream<Item = u32> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    panic::panic_any(Boom(7));
    #[allow(unreachable_code)]
    futures::stream::iter(0..1)
}

/// The process-wide runtime still offloads iterators and drives timers.
fn assert_process_wide_runtime_works() {
    let rt_items = futures::executor::block_on(async {
        let mut stream = pin!(try_broken_async(0).await.expect("Ok"));
        let mut items = Vec::new();
        while let Some(item) = next(&mut stream.as_mut()).await {
            items.push(item);
        }
        items
    });
    assert_eq!(rt_items, [0, 1, 2]);
    let ticked: Vec<u32> = exploding(u32::MAX).take(3).collect();
    assert_eq!(ticked, [0, 1, 2]);
}

// ---------------------------------------------------------------------------------------
// An iterator that panics, consumed as a stream.
// ---------------------------------------------------------------------------------------

#[test]
fn iterator_panic_reaches_the_stream_after_the_items_before_it() {
    within("flaky_async() in a multi-thread task", || {
        let rt = multi_thread("panic-mt", 2);
        for k in [0, 1, 2, 5, 64, 100, 1000] {
            let (items, payload) = rt
                .block_on(rt.spawn(until_panic(flaky_async(k))))
                .expect("the task completes");
            assert_eq!(items, (0..k).collect::<Vec<_>>(), "the {k} items before");
            assert_boom(payload, k);
        }
    });
}

#[test]
fn iterator_panic_fails_the_consuming_task_with_its_payload() {
    within("flaky_async() in a task that does not catch", || {
        let rt = current_thread("panic-ct");
        let error = rt
            .block_on(rt.spawn(async {
                let mut stream = pin!(flaky_async(10));
                let mut sum = 0;
                while let Some(item) = next(&mut stream.as_mut()).await {
                    sum += item;
                }
                sum
            }))
            .expect_err("the task panicked");
        assert_boom(error.into_panic(), 10);
        assert_process_wide_runtime_works();
    });
}

#[test]
fn iterator_panic_under_a_foreign_executor_leaves_the_process_wide_runtime_working() {
    within("flaky_async() on the process-wide pool", || {
        let (items, payload) = futures::executor::block_on(until_panic(flaky_async(3)));
        assert_eq!(items, [0, 1, 2]);
        assert_boom(payload, 3);
        assert_process_wide_runtime_works();
    });
}

#[test]
fn iterator_panic_resumes_in_a_sync_caller_of_its_stream() {
    within("block_on_stream(flaky_async())", || {
        let (items, payload) = iterate_until_panic(smartasync::block_on_stream(flaky_async(5)));
        assert_eq!(items, [0, 1, 2, 3, 4]);
        assert_boom(payload, 5);
    });
}

#[test]
fn body_panic_before_the_iterator_resumes_at_the_first_item() {
    within("broken_async()", || {
        let rt = multi_thread("panic-body", 2);
        let (items, payload) = rt
            .block_on(rt.spawn(until_panic(broken_async(true))))
            .expect("the task completes");
        assert!(items.is_empty());
        assert_boom(payload, 99);
        // Without the panic, the same function works.
        let (items, _) = rt.block_on(async {
            let mut stream = pin!(broken_async(false));
            let mut items = Vec::new();
            while let Some(item) = next(&mut stream.as_mut()).await {
                items.push(item);
            }
            (items, ())
        });
        assert_eq!(items, [0, 1, 2]);
        // From sync code, through its stream.
        let (items, payload) = iterate_until_panic(smartasync::block_on_stream(broken_async(true)));
        assert!(items.is_empty());
        assert_boom(payload, 99);
        assert_process_wide_runtime_works();
    });
}

#[test]
fn result_body_panic_before_the_iterator_resumes_in_its_future() {
    within("try_broken_async()", || {
        let rt = multi_thread("panic-try", 2);
        let payload = rt
            .block_on(AssertUnwindSafe(try_broken_async(42)).catch_unwind())
            .err()
            .expect("the future panicked");
        assert_boom(payload, 42);
        // Its `Err` and its `Ok` come through unchanged.
        let error = rt.block_on(try_broken_async(1)).err();
        assert_eq!(error.as_deref(), Some("refused"));
        let items = rt.block_on(async {
            let mut stream = pin!(try_broken_async(0).await.expect("Ok"));
            let mut items = Vec::new();
            while let Some(item) = next(&mut stream.as_mut()).await {
                items.push(item);
            }
            items
        });
        assert_eq!(items, [0, 1, 2]);
        // Under a foreign executor, on the process-wide pool.
        let payload =
            futures::executor::block_on(AssertUnwindSafe(try_broken_async(43)).catch_unwind())
                .err()
                .expect("the future panicked");
        assert_boom(payload, 43);
        assert_process_wide_runtime_works();
    });
}

// ---------------------------------------------------------------------------------------
// A stream that panics, consumed as an iterator.
// ---------------------------------------------------------------------------------------

#[test]
fn stream_panic_resumes_in_next_after_the_items_before_it() {
    within("exploding() on a plain thread", || {
        for k in [0, 1, 5] {
            let (items, payload) = iterate_until_panic(exploding(k));
            assert_eq!(items, (0..k).collect::<Vec<_>>());
            assert_boom(payload, k);
        }
        assert_process_wide_runtime_works();
    });
}

#[test]
fn stream_panic_resumes_in_next_inside_runtimes_of_both_flavors() {
    within("exploding() on runtime threads", || {
        let mt = multi_thread("panic-mt-worker", 2);
        let (items, payload) = mt
            .block_on(mt.spawn(async { iterate_until_panic(exploding(3)) }))
            .expect("the task completes");
        assert_eq!(items, [0, 1, 2]);
        assert_boom(payload, 3);
        // The worker still serves the runtime.
        let ticked: Vec<u32> = mt
            .block_on(mt.spawn(async { exploding(u32::MAX).take(2).collect() }))
            .expect("the task completes");
        assert_eq!(ticked, [0, 1]);

        let ct = current_thread("panic-ct-thread");
        let (items, payload) = ct.block_on(async { iterate_until_panic(exploding(2)) });
        assert_eq!(items, [0, 1]);
        assert_boom(payload, 2);
        assert_eq!(ct.block_on(async { exploding(u32::MAX).nth(2) }), Some(2));
        assert_process_wide_runtime_works();
    });
}

#[test]
fn async_body_panic_before_its_stream_resumes_at_the_first_next() {
    within("exploding_early()", || {
        let (items, payload) = iterate_until_panic(exploding_early());
        assert!(items.is_empty());
        assert_boom(payload, 7);
        // In async code, at the first poll of its stream (the future is the body).
        let rt = current_thread("panic-early");
        let payload = rt
            .block_on(AssertUnwindSafe(exploding_early_async()).catch_unwind())
            .err()
            .expect("the body panicked");
        assert_boom(payload, 7);
        assert_process_wide_runtime_works();
    });
}
