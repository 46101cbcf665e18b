//! Streams across the two worlds: a blocking iterator consumed as a [`Stream`] from async
//! code ([`unblock_iter`]), and a [`Stream`] consumed as an iterator from sync code
//! ([`block_on_stream`]).
//!
//! The blocking direction runs the iterator on one thread (a blocking-pool thread, or a
//! lane's) from start to end: it is made there, pulled there and dropped there, so an
//! iterator that is not `Send` (a database cursor) works, and its `Drop` runs where it was
//! made. Items cross in batches through a channel that holds one batch: a consumer that
//! stops polling stops the producer once that batch and the one being filled are full.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

pub use futures_core::Stream;

use crate::block_on::block_on;
use crate::cancel::{CancelOnDrop, Token};

/// How many items the producer of an [`IterStream`] hands over at once at most, unless
/// told otherwise ([`IterStream::batch`], `#[smartasync(batch = N)]`).
pub const DEFAULT_BATCH: usize = 64;

/// A boxed [`Stream`] that is `Send`: what the async entry of a streaming method of a
/// `#[smartasync]` trait returns, so that the trait stays dyn-compatible.
///
/// ```
/// use smartasync::{smartasync, BoxStream};
///
/// #[smartasync]
/// trait Numbers: Send + Sync {
///     fn upto(&self, n: u32) -> impl Iterator<Item = u32>;
/// }
///
/// // What the trait declares next to `upto`:
/// fn declared(numbers: &dyn Numbers, n: u32) -> BoxStream<'_, u32> {
///     numbers.upto_async(n)
/// }
/// # let _ = declared;
/// ```
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;

/// [`BoxStream`] without `Send`: the streams of a trait declared `#[smartasync(?Send)]`.
pub type LocalBoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + 'a>>;

/// A boxed iterator: what the blocking entry of a streaming method of a `#[smartasync]`
/// trait returns. It is not `Send`: a sync caller consumes it where it called, and a
/// blocking implementation's iterator (a database cursor) may be tied to its thread.
///
/// ```
/// use smartasync::{smartasync, BoxIterator};
///
/// #[smartasync]
/// trait Numbers: Send + Sync {
///     fn upto(&self, n: u32) -> impl Iterator<Item = u32>;
/// }
///
/// // What the trait declares for `upto`:
/// fn declared(numbers: &dyn Numbers, n: u32) -> BoxIterator<'_, u32> {
///     numbers.upto(n)
/// }
/// # let _ = declared;
/// ```
pub type BoxIterator<'a, T> = Box<dyn Iterator<Item = T> + 'a>;

/// Runs a blocking iterator on a blocking-pool thread and returns a [`Stream`] of its
/// items.
///
/// This is the async entry that `#[smartasync]` generates for a `fn` body returning
/// `impl Iterator`, and it can be called directly. Nothing runs until the stream is first
/// polled; then `f` makes the iterator on a blocking-pool thread (chosen as
/// [`unblock`](crate::unblock) chooses), which pulls it to the end there:
///
/// - Items are handed over in batches of 1, 2, 4, ... up to [`DEFAULT_BATCH`] (or
///   [`batch`](IterStream::batch)), so the first item arrives at once and a long stream
///   costs one hand-over per batch. The channel holds one batch: a consumer that stops
///   polling stops the producer once that batch and the one being filled are full, so
///   memory stays bounded however long the stream.
/// - Dropping the stream stops the iterator before its next item and drops it on its own
///   thread (a cursor's `Drop` runs where it was made). A stream dropped before its
///   producer started never calls `f`.
/// - A panic in `f` or in the iterator resumes in the consumer with its payload, after the
///   items produced before it.
/// - The iterator need not be `Send`: it never leaves its thread. The items must be.
///
/// The producer holds its thread while the stream is alive and unfinished, as a
/// hand-written `spawn_blocking` loop would. With the `tracing` feature, the span current
/// when `unblock_iter` is called is entered around the producer.
///
/// ```
/// use std::io::BufRead;
///
/// use smartasync::Stream;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let text = "one\ntwo\nthree\n";
/// let mut lines = smartasync::unblock_iter(move || std::io::Cursor::new(text).lines());
/// let mut total = 0;
/// while let Some(line) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut lines).poll_next(cx)).await {
///     total += line.unwrap().len();
/// }
/// assert_eq!(total, 11);
/// # });
/// ```
pub fn unblock_iter<F, I>(f: F) -> IterStream<I::Item>
where
    F: FnOnce() -> I + Send + 'static,
    I: IntoIterator,
    I::Item: Send + 'static,
{
    IterStream::new(
        move |pump: &mut Pump<I::Item>| pump.drain(f()),
        start_on_pool,
    )
}

/// Starts a producer on the blocking pool of the runtime of the polling context (or the
/// process-wide runtime's).
pub(crate) async fn start_on_pool(producer: Producer) {
    crate::unblock::spawn_detached(move || producer.run());
}

/// The [`Stream`] of [`unblock_iter`] and of the async entry of a `fn` body returning
/// `impl Iterator`: the items of an iterator that runs on another thread.
#[must_use = "a stream does nothing unless polled"]
pub struct IterStream<T> {
    /// Items taken from the channel, handed out one per poll.
    current: std::vec::IntoIter<T>,
    channel: Arc<Channel<T>>,
    /// Until the producer is started: polling it hands the producer to where it runs (the
    /// blocking pool, or a lane's queue).
    start: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    finished: bool,
    /// The producer's cancellation: dropping the stream early cancels its body.
    call: CancelOnDrop,
}

impl<P: Send + 'static> IterStream<P> {
    /// A stream of what `body` drains into its pump, packed; `start` is given the producer
    /// (which runs `body`) and hands it, when its future is first polled, to where it runs.
    pub(crate) fn new<T, B, S, Fut>(body: B, start: S) -> Self
    where
        T: Yieldable<SmartasyncYielded = P>,
        B: FnOnce(&mut Pump<T>) + Send + 'static,
        S: FnOnce(Producer) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let channel = Arc::new(Channel::new());
        let token = Token::for_call();
        let producer = Producer::new(Arc::clone(&channel), Arc::clone(&token), body);
        Self {
            current: Vec::new().into_iter(),
            channel,
            start: Some(Box::pin(start(producer))),
            finished: false,
            call: CancelOnDrop::new(token),
        }
    }

    /// A stream of what `body` drains into its pump once it returned `Ok`, or its `Err`:
    /// the future resolves when the iterator has been made (or has failed to be).
    pub(crate) fn try_new<T, B, E, S, Fut>(
        batch: usize,
        body: B,
        start: S,
    ) -> impl Future<Output = Result<Self, E>> + Send + 'static
    where
        T: Yieldable<SmartasyncYielded = P>,
        B: FnOnce(&mut Pump<T>) -> Result<(), E> + Send + 'static,
        E: Send + 'static,
        S: FnOnce(Producer) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (opened, outcome) = tokio::sync::oneshot::channel::<Result<(), E>>();
        let opened = Arc::new(Mutex::new(Some(opened)));
        let mut stream = Self::new(
            move |pump: &mut Pump<T>| {
                let on_open = Arc::clone(&opened);
                pump.on_open = Some(Box::new(move || {
                    if let Some(opened) = lock(&on_open).take() {
                        let _ = opened.send(Ok(()));
                    }
                }));
                if let Err(error) = body(pump) {
                    if let Some(opened) = lock(&opened).take() {
                        let _ = opened.send(Err(error));
                    }
                }
            },
            start,
        )
        // Before the producer starts, which reads it.
        .batch(batch);
        async move {
            std::future::poll_fn(|cx| stream.poll_start(cx)).await;
            match outcome.await {
                Ok(Ok(())) => Ok(stream),
                Ok(Err(error)) => Err(error),
                // The body panicked before it made its iterator: the stream's end carries
                // the payload, which this poll resumes.
                Err(_) => {
                    let _ = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
                    unreachable!("a producer that made no iterator ends the stream with a panic")
                }
            }
        }
    }
}

impl<T> IterStream<T> {
    /// Hands over up to `items` items at a time (at least 1). Larger batches cost fewer
    /// hand-overs per item; smaller ones bring each item sooner and hold fewer in memory.
    /// Takes effect if set before the stream is first polled.
    ///
    /// ```
    /// let stream = smartasync::unblock_iter(|| 0..10).batch(1024);
    /// # drop(stream);
    /// ```
    pub fn batch(self, items: usize) -> Self {
        self.channel.batch.store(items.max(1), Ordering::Relaxed);
        self
    }

    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(start) = &mut self.start {
            std::task::ready!(start.as_mut().poll(cx));
            self.start = None;
        }
        Poll::Ready(())
    }
}

// Nothing of it is pinned: the items are moved out as they are handed over.
impl<T> Unpin for IterStream<T> {}

impl<T> Stream for IterStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if let Some(item) = this.current.next() {
            return Poll::Ready(Some(item));
        }
        this.poll_refill(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.current.len(), None)
    }
}

impl<T> IterStream<T> {
    /// The next batch (its first item), the end, or a wait for the producer. Left to the
    /// compiler to inline: forcing the per-item step apart from it measured slower at
    /// large batches (BENCHMARKS.md, Streams).
    #[inline]
    fn poll_refill(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self;
        if this.finished {
            return Poll::Ready(None);
        }
        std::task::ready!(this.poll_start(cx));
        let mut state = this.channel.lock();
        if let Some(batch) = state.batches.pop_front() {
            // Only a producer that waits for room needs waking (a wake is a system call).
            let waiting = state.producer_waits;
            drop(state);
            if waiting {
                this.channel.room.notify_one();
            }
            this.current = batch.into_iter();
            return Poll::Ready(this.current.next());
        }
        match state.end.take() {
            Some(End::Done) => {
                this.finished = true;
                this.call.disarm();
                Poll::Ready(None)
            }
            Some(End::Panicked(payload)) => {
                this.finished = true;
                drop(state);
                panic::resume_unwind(payload)
            }
            Some(End::Lost) => {
                this.finished = true;
                drop(state);
                panic!(
                    "smartasync: the iterator of a stream was never run because its runtime \
                     shut down"
                )
            }
            None => {
                match &mut state.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for IterStream<T> {
    fn drop(&mut self) {
        // Cancel first, while the body still runs: once the channel is closed, a producer
        // waiting for room returns, and its callbacks would no longer run. A callback's
        // panic is held until the channel is closed, or the producer would wait forever.
        let cancelled = panic::catch_unwind(AssertUnwindSafe(|| self.call.cancel_now()));
        // The producer sees this before its next item, or wakes from waiting for room.
        self.channel.closed.store(true, Ordering::Release);
        drop(self.channel.lock());
        self.channel.room.notify_all();
        if let Err(payload) = cancelled {
            panic::resume_unwind(payload);
        }
    }
}

/// How a producer ended.
enum End {
    /// Its iterator ended, or it stopped because the consumer went away.
    Done,
    /// Its body or iterator panicked with this payload.
    Panicked(Box<dyn Any + Send>),
    /// It was dropped without running (its runtime shut down).
    Lost,
}

/// The hand-over between a producer and its stream.
pub(crate) struct Channel<T> {
    state: Mutex<State<T>>,
    /// Signalled when a batch is taken or the consumer goes away.
    room: Condvar,
    /// The consumer went away: the producer stops before its next item.
    closed: Arc<AtomicBool>,
    /// The largest batch.
    batch: AtomicUsize,
}

struct State<T> {
    batches: VecDeque<Vec<T>>,
    /// How many batches may wait to be taken: 1, or no bound for a producer that runs
    /// inline, where its consumer cannot take any before it has finished.
    bound: usize,
    end: Option<End>,
    waker: Option<Waker>,
    /// The producer waits for room on the condition variable.
    producer_waits: bool,
}

impl<T> Channel<T> {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                batches: VecDeque::new(),
                bound: 1,
                end: None,
                waker: None,
                producer_waits: false,
            }),
            room: Condvar::new(),
            closed: Arc::new(AtomicBool::new(false)),
            batch: AtomicUsize::new(DEFAULT_BATCH),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.state)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Hands `batch` over, first waiting for room; `false` if the consumer went away.
    fn hand_over(&self, batch: Vec<T>) -> bool {
        let mut state = self.lock();
        while state.batches.len() >= state.bound && !self.is_closed() {
            state.producer_waits = true;
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.producer_waits = false;
        }
        if self.is_closed() {
            return false;
        }
        state.batches.push_back(batch);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    fn finish(&self, end: End) {
        let mut state = self.lock();
        state.end = Some(end);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks but a waker or a payload's drop.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a producer's body drains its iterator into. It asks nothing of `T` itself: what
/// the items need to cross (`Yieldable`) is required once, by the function that made the
/// producer, so that a failure is reported there alone.
pub struct Pump<T> {
    batch: Vec<T>,
    /// The size at which the current batch is handed over: 1, then doubling to `largest`.
    target: usize,
    largest: usize,
    /// The consumer went away (the channel's flag).
    closed: Arc<AtomicBool>,
    /// Packs a batch and hands it over; `false` if the consumer went away.
    hand_over: Box<dyn FnMut(Vec<T>) -> bool>,
    /// Run when the body starts draining (the `Result` form reports its `Ok` there).
    on_open: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> Pump<T> {
    /// Pulls `items` to their end, or until the consumer goes away, handing them over in
    /// batches. The iterator is dropped here, on the producer's thread.
    pub fn drain<I: IntoIterator<Item = T>>(&mut self, items: I) {
        if let Some(on_open) = self.on_open.take() {
            on_open();
        }
        let mut items = items.into_iter();
        while !self.closed.load(Ordering::Acquire) {
            let Some(item) = items.next() else {
                return;
            };
            self.batch.push(item);
            if self.batch.len() >= self.target {
                if !self.flush() {
                    return;
                }
                self.target = (self.target * 2).min(self.largest);
            }
        }
    }

    /// Hands over the items pulled so far; `false` if the consumer went away.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return !self.closed.load(Ordering::Acquire);
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.target * 2));
        (self.hand_over)(batch)
    }
}

/// A stream's producer: runs its body once, on whatever thread it is handed to, and ends
/// the stream. Dropped without running, it ends the stream as lost.
pub(crate) struct Producer {
    run: Option<Box<dyn FnOnce() + Send>>,
    /// Lifts the channel's bound, for a producer that runs inline.
    unbound: Box<dyn FnOnce() + Send>,
    lost: Option<Box<dyn FnOnce() + Send>>,
}

impl Producer {
    fn new<T, B>(channel: Arc<Channel<T::SmartasyncYielded>>, token: Arc<Token>, body: B) -> Self
    where
        T: Yieldable,
        B: FnOnce(&mut Pump<T>) + Send + 'static,
    {
        let lost = {
            let channel = Arc::clone(&channel);
            move || channel.finish(End::Lost)
        };
        let unbound = {
            let channel = Arc::clone(&channel);
            move || lock(&channel.state).bound = usize::MAX
        };
        let run = crate::unblock::in_current_span(move || {
            if channel.is_closed() || token.is_abandoned() {
                // The consumer went away before the producer started: nothing runs.
                channel.finish(End::Done);
                return;
            }
            let entered = token.enter();
            let packing = Arc::clone(&channel);
            let mut pump = Pump {
                batch: Vec::new(),
                target: 1,
                largest: channel.batch.load(Ordering::Relaxed),
                closed: Arc::clone(&channel.closed),
                // Packing is the identity wherever `T: Send` is known, and collects in place.
                hand_over: Box::new(move |batch: Vec<T>| {
                    packing.hand_over(batch.into_iter().map(T::smartasync_pack).collect())
                }),
                on_open: None,
            };
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(&mut pump)));
            // The body has returned: its callbacks must not run from here on. What was
            // pulled before the end (or the panic) is delivered first. A panic here (a
            // callback's drop, an item's) still ends the stream, so its consumer never
            // waits forever.
            let finished = panic::catch_unwind(AssertUnwindSafe(move || drop(entered)));
            let flushed = panic::catch_unwind(AssertUnwindSafe(move || {
                pump.flush();
                drop(pump);
            }));
            channel.finish(match (outcome, finished, flushed) {
                (Ok(()), Ok(()), Ok(())) => End::Done,
                (Err(payload), _, _) | (_, Err(payload), _) | (_, _, Err(payload)) => {
                    End::Panicked(payload)
                }
            });
        });
        Self {
            run: Some(Box::new(run)),
            unbound: Box::new(unbound),
            lost: Some(Box::new(lost)),
        }
    }

    /// Runs the body here, handing batches over as the consumer takes them.
    pub(crate) fn run(mut self) {
        self.lost = None;
        if let Some(run) = self.run.take() {
            run();
        }
    }

    /// Runs the body here to its end, keeping every batch: for a producer polled on the
    /// thread it must run on (a lane's own), whose consumer cannot take any meanwhile.
    pub(crate) fn run_inline(mut self) {
        let unbound = std::mem::replace(&mut self.unbound, Box::new(|| {}));
        unbound();
        self.run();
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(lost) = self.lost.take() {
            lost();
        }
    }
}

/// Consumes a [`Stream`] as a blocking iterator: each `next()` drives the stream to its
/// next item on the calling thread, as [`block_on`](crate::block_on) does.
///
/// This is the blocking entry that `#[smartasync]` generates for an `async fn` or `fn` body
/// returning `impl Stream`, and it can be called directly. It works wherever
/// [`block_on`](crate::block_on) does: on a plain thread (with the process-wide runtime
/// behind it, so timers and sockets work), on a runtime's worker, on a current-thread
/// runtime's thread, on a blocking-pool thread; it never panics because of where it is
/// called. A panic of the stream resumes in the caller of `next()` with its payload.
/// Dropping the iterator drops the stream.
///
/// ```
/// async fn page(n: u32) -> Vec<u32> {
///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///     vec![n * 10, n * 10 + 1]
/// }
///
/// // An async paged listing...
/// let pages = futures::stream::unfold(0, |n| async move {
///     (n < 3).then_some((page(n).await, n + 1))
/// });
/// // ...read from plain sync code.
/// let items: Vec<u32> = smartasync::block_on_stream(pages).flatten().collect();
/// assert_eq!(items, [0, 1, 10, 11, 20, 21]);
/// ```
pub fn block_on_stream<S: Stream>(stream: S) -> BlockOnStream<S> {
    BlockOnStream {
        stream: Box::pin(stream),
        finished: false,
    }
}

/// On a thread with no runtime, one poll of `stream` with the process-wide runtime
/// entered, as [`block_on`] would poll it: an item that is ready costs that poll, not a
/// whole `block_on`. Elsewhere (and when the item is not ready) `Pending`, and `block_on`
/// polls again with its own waker, so no wake-up is lost: a stream need only wake the
/// waker of its latest poll.
fn ready_here<S: Stream + ?Sized>(stream: Pin<&mut S>) -> Poll<Option<S::Item>> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Poll::Pending;
    }
    let _entered = crate::runtime::handle().enter();
    let mut cx = Context::from_waker(Waker::noop());
    stream.poll_next(&mut cx)
}

/// The iterator of [`block_on_stream`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct BlockOnStream<S> {
    stream: Pin<Box<S>>,
    finished: bool,
}

impl<S: Stream> Iterator for BlockOnStream<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        if self.finished {
            return None;
        }
        let stream = &mut self.stream;
        let item = match ready_here(stream.as_mut()) {
            Poll::Ready(item) => item,
            Poll::Pending => block_on(std::future::poll_fn(|cx| stream.as_mut().poll_next(cx))),
        };
        self.finished = item.is_none();
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.finished {
            return (0, Some(0));
        }
        let (low, high) = self.stream.size_hint();
        (low, high)
    }
}

impl<S> std::fmt::Debug for BlockOnStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockOnStream")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for IterStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IterStream")
            .field("started", &self.start.is_none())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// A future then the stream it resolves to, as one stream: the async entry of an
/// `async fn` body returning `impl Stream` in a trait, which returns the stream itself.
pub(crate) enum Flatten<F: Future> {
    Future(Pin<Box<F>>),
    Stream(Pin<Box<F::Output>>),
}

impl<F> Stream for Flatten<F>
where
    F: Future,
    F::Output: Stream,
{
    type Item = <F::Output as Stream>::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Flatten::Future(future) = this {
            let stream = std::task::ready!(future.as_mut().poll(cx));
            *this = Flatten::Stream(Box::pin(stream));
        }
        match this {
            Flatten::Stream(stream) => stream.as_mut().poll_next(cx),
            Flatten::Future(_) => unreachable!("the future was replaced by its stream"),
        }
    }
}

/// Required of the items of the iterator of a `fn` body whose async entry is a stream.
#[diagnostic::on_unimplemented(
    message = "`#[smartasync]` cannot send the items `{Self}` of an iterator from the blocking pool",
    label = "the `_async` entry of a `fn` body returning `impl Iterator` needs its items `{Self}: Send + 'static`",
    note = "the iterator runs on another thread and its items are sent to the stream's consumer",
    note = "ways out: yield a `Send` type (`Arc` instead of `Rc`, owned data instead of borrows), write the body as `async fn` returning `impl Stream`, or use `#[smartasync(skip)]` and collect into a `Vec`"
)]
pub trait Yieldable: Sized + 'static {
    /// The form in which an item crosses.
    type SmartasyncYielded: Send + 'static;

    /// Packs the item to cross.
    fn smartasync_pack(self) -> Self::SmartasyncYielded;

    /// Unpacks it in the consumer.
    fn smartasync_unpack(item: Self::SmartasyncYielded) -> Self;
}

impl<T: Send + 'static> Yieldable for T {
    type SmartasyncYielded = T;

    fn smartasync_pack(self) -> T {
        self
    }

    fn smartasync_unpack(item: T) -> T {
        item
    }
}

/// The stream of an iterator body's async entry: an [`IterStream`] of packed items, giving
/// them back as `T`. Boxed, so that its type asks nothing of `T`: what the items need is
/// required once, by the function that made it.
pub struct Unpacked<T> {
    stream: Pin<Box<dyn Stream<Item = T> + Send>>,
}

impl<T: Yieldable> Unpacked<T> {
    pub(crate) fn new(stream: IterStream<T::SmartasyncYielded>) -> Self {
        Self {
            stream: Box::pin(Unpacking {
                stream,
                marker: std::marker::PhantomData,
            }),
        }
    }
}

impl<T> Stream for Unpacked<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.stream.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

struct Unpacking<T: Yieldable> {
    stream: IterStream<T::SmartasyncYielded>,
    marker: std::marker::PhantomData<fn() -> T>,
}

impl<T: Yieldable> Stream for Unpacking<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.stream)
            .poll_next(cx)
            .map(|item| item.map(T::smartasync_unpack))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}
