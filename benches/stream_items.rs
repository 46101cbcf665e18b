//! What the stream benches measure, shared by `streams.rs` (Criterion) and
//! `stream_report.rs` (the table): each of smartasync's stream bridges next to what a user
//! would otherwise use or write, over streams of cheap `u64` items, so that the bridge's
//! own cost is what is timed. A module of each binary, as `items.rs` is.
//!
//! Blocking iterator to async consumer: every path streams `0..n` from another thread into
//! a task on a multi-thread Tokio runtime with 2 workers, which sums the items. Async stream
//! to sync consumer: every path drives the stream on the calling thread, outside any
//! runtime.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use smartasync::smartasync;
use tokio::runtime::{Builder, Runtime};

/// The iterator body of a generated async entry (`numbers_async(n)`), streamed at the
/// default batch.
#[smartasync]
pub(crate) fn numbers(n: u64) -> impl Iterator<Item = u64> {
    0..n
}

/// The runtime of the async consumer: multi-thread, 2 workers.
pub(crate) fn consumer_runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build the consumer's runtime")
}

/// The sum of `0..n`, which every path must deliver.
fn expected(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Sums a stream of `n` items in a task on `runtime`; the time from making the stream to
/// its last item.
fn consume<S, F>(runtime: &Runtime, n: u64, make: F) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    S: Stream<Item = u64> + Send,
{
    let task = runtime.spawn(async move {
        let start = Instant::now();
        let mut stream = std::pin::pin!(make());
        let mut sum = 0u64;
        while let Some(item) = stream.next().await {
            sum = sum.wrapping_add(black_box(item));
        }
        (start.elapsed(), sum)
    });
    let (elapsed, sum) = runtime.block_on(task).expect("the consumer task panicked");
    assert_eq!(sum, expected(n), "every item arrives once");
    elapsed
}

/// The paths of the async direction, as named in the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AsyncPath {
    /// `smartasync::unblock_iter(|| 0..n).batch(b)`.
    UnblockIter,
    /// The async entry `#[smartasync]` generates for `fn numbers(n) -> impl Iterator`
    /// (default batch; `b` is ignored).
    Generated,
    /// `blocking::Unblock::with_capacity(b, 0..n)`.
    Unblock,
    /// `spawn_blocking` sending `Vec<u64>` batches of `b` into a Tokio `mpsc` of capacity 1.
    HandBatches,
    /// `spawn_blocking` sending each item into a Tokio `mpsc` of capacity `b`.
    HandItems,
}

impl AsyncPath {
    /// The peers smartasync is compared with.
    pub(crate) const PEERS: [AsyncPath; 3] = [
        AsyncPath::Unblock,
        AsyncPath::HandBatches,
        AsyncPath::HandItems,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            AsyncPath::UnblockIter => "smartasync `unblock_iter(..).batch(b)`",
            AsyncPath::Generated => "smartasync `numbers_async(n)` (generated, batch 64)",
            AsyncPath::Unblock => "`blocking::Unblock::with_capacity(b, iter)`",
            AsyncPath::HandBatches => {
                "`spawn_blocking` + `mpsc::channel::<Vec<u64>>(1)`, batches of b"
            }
            AsyncPath::HandItems => "`spawn_blocking` + `mpsc::channel::<u64>(b)`, per item",
        }
    }

    /// Streams `n` items at batch (or capacity) `b` into a task on `runtime`; how long it
    /// took.
    pub(crate) fn run(self, runtime: &Runtime, n: u64, b: usize) -> Duration {
        match self {
            AsyncPath::UnblockIter => consume(runtime, n, move || {
                smartasync::unblock_iter(move || 0..n).batch(b)
            }),
            AsyncPath::Generated => consume(runtime, n, move || numbers_async(n)),
            AsyncPath::Unblock => consume(runtime, n, move || {
                blocking::Unblock::with_capacity(b, 0..n)
            }),
            AsyncPath::HandBatches => hand_batches(runtime, n, b),
            AsyncPath::HandItems => hand_items(runtime, n, b),
        }
    }
}

/// What a user writes to stream an iterator in batches: a blocking task filling `Vec`s and
/// a channel holding one of them.
fn hand_batches(runtime: &Runtime, n: u64, b: usize) -> Duration {
    let task = runtime.spawn(async move {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u64>>(1);
        tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(b);
            for item in 0..n {
                batch.push(item);
                if batch.len() == b {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(b));
                    if tx.blocking_send(full).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        });
        let mut sum = 0u64;
        while let Some(batch) = rx.recv().await {
            for item in batch {
                sum = sum.wrapping_add(black_box(item));
            }
        }
        (start.elapsed(), sum)
    });
    let (elapsed, sum) = runtime.block_on(task).expect("the consumer task panicked");
    assert_eq!(sum, expected(n), "every item arrives once");
    elapsed
}

/// The same, one item per send, the channel holding `b` items.
fn hand_items(runtime: &Runtime, n: u64, b: usize) -> Duration {
    let task = runtime.spawn(async move {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(b);
        tokio::task::spawn_blocking(move || {
            for item in 0..n {
                if tx.blocking_send(item).is_err() {
                    return;
                }
            }
        });
        let mut sum = 0u64;
        while let Some(item) = rx.recv().await {
            sum = sum.wrapping_add(black_box(item));
        }
        (start.elapsed(), sum)
    });
    let (elapsed, sum) = runtime.block_on(task).expect("the consumer task panicked");
    assert_eq!(sum, expected(n), "every item arrives once");
    elapsed
}

/// The streams of the sync direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// `futures::stream::iter(0..n)`: every item ready at the first poll.
    Ready,
    /// A Tokio `mpsc` receiver of capacity 1 fed by a std thread: items become ready after a
    /// wake-up from that thread, so the consumer often parks.
    Woken,
}

/// The executors of the sync direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SyncPath {
    /// `smartasync::block_on_stream(s)`.
    Smartasync,
    /// `futures::executor::block_on_stream(s)`.
    Futures,
    /// `futures::executor::block_on(s.next())` per item, a loop a user may write instead
    /// (`block_on_stream` builds a `LocalPool` per item; this does not).
    FuturesNext,
}

impl SyncPath {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SyncPath::Smartasync => "smartasync `block_on_stream(s)`",
            SyncPath::Futures => "`futures::executor::block_on_stream(s)`",
            SyncPath::FuturesNext => "`futures::executor::block_on(s.next())` per item",
        }
    }

    /// Drives `n` items of `source` to the end on this thread; how long it took and how
    /// many times the stream was found not ready.
    pub(crate) fn run(self, source: Source, n: u64) -> (Duration, u64) {
        let pending = Arc::new(AtomicU64::new(0));
        let (elapsed, sum) = match source {
            Source::Ready => self.drive(futures::stream::iter(0..n)),
            Source::Woken => self.drive(Counted {
                stream: fed(n),
                pending: Arc::clone(&pending),
            }),
        };
        assert_eq!(sum, expected(n), "every item arrives once");
        (elapsed, pending.load(Ordering::Relaxed))
    }

    fn drive<S: Stream<Item = u64> + Unpin>(self, mut stream: S) -> (Duration, u64) {
        let start = Instant::now();
        let sum = match self {
            SyncPath::Smartasync => sum(smartasync::block_on_stream(stream)),
            SyncPath::Futures => sum(futures::executor::block_on_stream(stream)),
            SyncPath::FuturesNext => sum(std::iter::from_fn(|| {
                futures::executor::block_on(stream.next())
            })),
        };
        (start.elapsed(), sum)
    }
}

fn sum(items: impl Iterator<Item = u64>) -> u64 {
    items.fold(0u64, |sum, item| sum.wrapping_add(black_box(item)))
}

/// `0..n` sent one at a time by a std thread into a Tokio `mpsc` of capacity 1, received as
/// a stream (the receiver's own `poll_recv`; no runtime is needed on either side). The
/// thread is one kept for the purpose, so that no run pays a thread's start.
fn fed(n: u64) -> impl Stream<Item = u64> + Unpin {
    type Order = (u64, tokio::sync::mpsc::Sender<u64>);
    static FEEDER: OnceLock<Mutex<mpsc::Sender<Order>>> = OnceLock::new();
    let feeder = FEEDER.get_or_init(|| {
        let (orders, next) = mpsc::channel::<Order>();
        thread::spawn(move || {
            for (n, tx) in next {
                for item in 0..n {
                    if tx.blocking_send(item).is_err() {
                        break;
                    }
                }
            }
        });
        Mutex::new(orders)
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
    feeder
        .lock()
        .expect("the feeder's sender is never poisoned")
        .send((n, tx))
        .expect("the feeder thread runs as long as the process");
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A stream that counts the polls that found it not ready.
struct Counted<S> {
    stream: S,
    pending: Arc<AtomicU64>,
}

impl<S: Stream + Unpin> Stream for Counted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let poll = Pin::new(&mut self.stream).poll_next(cx);
        if poll.is_pending() {
            self.pending.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }
}
