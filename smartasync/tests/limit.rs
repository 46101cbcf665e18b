//! `#[smartasync(limit = N)]`: at most N bodies of one written function run at once in the
//! process, through either entry and either body form; callers over the limit wait their
//! turn, async ones without holding a thread.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use smartasync::smartasync;

mod support;

/// How many bodies of one function are running, and the most seen at once.
#[derive(Default)]
struct Gauge {
    running: AtomicUsize,
    peak: AtomicUsize,
    runs: AtomicUsize,
    threads: Mutex<HashSet<ThreadId>>,
}

impl Gauge {
    fn enter(&self) -> GaugeGuard<'_> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.threads.lock().unwrap().insert(thread::current().id());
        GaugeGuard(self)
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct Writer {
    gauge: Arc<Gauge>,
}

#[smartasync]
impl Writer {
    /// A blocking body that takes a while: at most 3 at once.
    #[smartasync(limit = 3)]
    fn write(&self, millis: u64) -> u64 {
        let _running = self.gauge.enter();
        thread::sleep(Duration::from_millis(millis));
        millis
    }

    /// An async body: at most 2 at once.
    #[smartasync(limit = 2)]
    async fn send(&self, millis: u64) -> u64 {
        let _running = self.gauge.enter();
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    /// A body that calls itself through its blocking entry (recursion under `limit = 1`):
    /// the thread already holds the permit, so it does not wait for a second one.
    #[smartasync(limit = 1)]
    fn nested(&self, depth: u32) -> u32 {
        if depth == 0 {
            0
        } else {
            1 + self.nested(depth - 1)
        }
    }
}

/// 40 async callers and 30 sync callers at once: the peak is exactly the limit.
fn peak_under_mixed_callers(call_async: bool) -> usize {
    let writer = Writer::default();
    let runtime = support::multi_thread("limit-mt", 2);
    let sync_callers: Vec<_> = (0..30)
        .map(|_| {
            let writer = writer.clone();
            thread::spawn(move || {
                if call_async {
                    writer.send(20)
                } else {
                    writer.write(20)
                }
            })
        })
        .collect();
    let total: u64 = runtime.block_on(async {
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    if call_async {
                        writer.send_async(20).await
                    } else {
                        writer.write_async(20).await
                    }
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    let total = total
        + sync_callers
            .into_iter()
            .map(|caller| caller.join().unwrap())
            .sum::<u64>();
    assert_eq!(total, 70 * 20, "every call ran once");
    assert_eq!(writer.gauge.runs(), 70);
    writer.gauge.peak()
}

#[test]
fn a_fn_body_runs_at_most_n_at_once_through_both_entries() {
    let peak = support::within("fn body", || peak_under_mixed_callers(false));
    assert_eq!(peak, 3);
}

#[test]
fn an_async_fn_body_runs_at_most_n_at_once_through_both_entries() {
    let peak = support::within("async fn body", || peak_under_mixed_callers(true));
    assert_eq!(peak, 2);
}

#[test]
fn queued_async_callers_hold_no_blocking_thread() {
    let writer = Writer::default();
    let runtime = support::current_thread("limit-ct");
    runtime.block_on(async {
        let calls: Vec<_> = (0..200).map(|_| writer.write_async(1)).collect();
        let results = futures::future::join_all(calls).await;
        assert_eq!(results.iter().sum::<u64>(), 200);
    });
    assert_eq!(writer.gauge.peak(), 3);
    let threads = writer.gauge.threads.lock().unwrap().len();
    assert!(
        threads <= 6,
        "200 queued callers ran their bodies on {threads} distinct threads"
    );
}

#[test]
fn a_tiny_blocking_pool_does_not_deadlock() {
    support::within("max_blocking_threads(2)", || {
        let writer = Writer::default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let writer = writer.clone();
                    tokio::spawn(async move { writer.write_async(1).await })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(writer.gauge.runs(), 50);
        assert!(writer.gauge.peak() <= 2, "the pool has two threads");
    });
}

/// A limit of one whose only permit is held while a caller waits, cancelled.
#[derive(Clone, Default)]
struct Single {
    gauge: Arc<Gauge>,
    release: Arc<Mutex<Option<std::sync::mpsc::Receiver<()>>>>,
}

#[smartasync]
impl Single {
    #[smartasync(limit = 1)]
    fn hold(&self, tag: u32) -> u32 {
        let _running = self.gauge.enter();
        if let Some(release) = self.release.lock().unwrap().take() {
            release.recv().unwrap();
        }
        tag
    }
}

#[test]
fn a_cancelled_waiter_never_runs_and_the_next_caller_proceeds() {
    support::within("cancellation", || {
        let single = Single::default();
        let (release, wait) = std::sync::mpsc::channel();
        *single.release.lock().unwrap() = Some(wait);
        let runtime = support::multi_thread("limit-cancel", 2);
        runtime.block_on(async {
            let first = tokio::spawn(single.hold_async(1));
            while single.gauge.runs() == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // The permit is taken: this caller waits in the queue, then is dropped.
            let waiting = tokio::time::timeout(Duration::from_millis(50), single.hold_async(2));
            assert!(waiting.await.is_err(), "the second caller had to wait");
            let third = tokio::spawn(single.hold_async(3));
            release.send(()).unwrap();
            assert_eq!(first.await.unwrap(), 1);
            assert_eq!(third.await.unwrap(), 3);
        });
        assert_eq!(
            single.gauge.runs(),
            2,
            "the cancelled caller's body never ran"
        );
    });
}

#[test]
fn a_sync_caller_waiting_on_a_worker_does_not_stall_other_tasks() {
    support::within("waiting on a worker", || {
        let single = Single::default();
        let (release, wait) = std::sync::mpsc::channel();
        *single.release.lock().unwrap() = Some(wait);
        let holder = {
            let single = single.clone();
            thread::spawn(move || single.hold(1))
        };
        while single.gauge.runs() == 0 {
            thread::sleep(Duration::from_millis(1));
        }
        let runtime = support::multi_thread("limit-worker", 2);
        runtime.block_on(async {
            let waiter = {
                let single = single.clone();
                // A blocking call on a worker thread, waiting for the permit.
                tokio::spawn(async move { single.hold(2) })
            };
            let ticks = Arc::new(AtomicUsize::new(0));
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
            assert_eq!(ticks.load(Ordering::SeqCst), 5, "the runtime kept running");
            release.send(()).unwrap();
            assert_eq!(waiter.await.unwrap(), 2);
        });
        assert_eq!(holder.join().unwrap(), 1);
    });
}

#[test]
fn a_body_that_calls_its_own_blocking_entry_does_not_wait_for_itself() {
    support::within("recursion", || {
        let writer = Writer::default();
        assert_eq!(writer.nested(3), 3);
        let runtime = support::current_thread("limit-ct");
        assert_eq!(runtime.block_on(writer.nested_async(4)), 4);
    });
}

/// One limit per written function, shared by its generic instantiations; another function
/// of the same name elsewhere has its own.
struct Generic<T>(T);

static GENERIC: LazyLock<Gauge> = LazyLock::new(Gauge::default);

impl<T: Send + 'static> Generic<T> {
    #[smartasync(limit = 2)]
    fn work(self) -> usize {
        let _running = GENERIC.enter();
        thread::sleep(Duration::from_millis(20));
        std::mem::size_of::<T>()
    }
}

#[test]
fn generic_instantiations_share_one_limit() {
    support::within("generics", || {
        let runtime = support::multi_thread("limit-generic", 2);
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..10 {
                tasks.push(tokio::spawn(Generic(1u8).work_async()));
                tasks.push(tokio::spawn(Generic(1u64).work_async()));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(GENERIC.peak(), 2);
    });
}

mod elsewhere {
    use super::*;

    #[derive(Clone, Default)]
    pub struct Writer {
        pub gauge: Arc<Gauge>,
    }

    #[smartasync]
    impl Writer {
        /// Same name as `super::Writer::write`, its own limit of 1.
        #[smartasync(limit = 1)]
        pub fn write(&self, millis: u64) -> u64 {
            let _running = self.gauge.enter();
            thread::sleep(Duration::from_millis(millis));
            millis
        }
    }
}

#[test]
fn functions_of_the_same_name_elsewhere_have_their_own_limit() {
    support::within("same name", || {
        let here = Writer::default();
        let there = elsewhere::Writer::default();
        let runtime = support::multi_thread("limit-names", 2);
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let here = here.clone();
                tasks.push(tokio::spawn(async move { here.write_async(20).await }));
                let there = there.clone();
                tasks.push(tokio::spawn(async move { there.write_async(20).await }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(here.gauge.peak(), 3);
        assert_eq!(there.gauge.peak(), 1);
    });
}

/// A limited method of a trait impl, and a limited free function.
#[smartasync]
pub trait Store: Send + Sync {
    fn put(&self, millis: u64) -> u64;
}

#[derive(Clone, Default)]
struct Limited {
    gauge: Arc<Gauge>,
}

#[smartasync]
impl Store for Limited {
    #[smartasync(limit = 2)]
    fn put(&self, millis: u64) -> u64 {
        let _running = self.gauge.enter();
        thread::sleep(Duration::from_millis(millis));
        millis
    }
}

static FREE: LazyLock<Gauge> = LazyLock::new(Gauge::default);

const FREE_LIMIT: usize = 1 + 1;

#[smartasync(limit = FREE_LIMIT)]
fn free(millis: u64) -> u64 {
    let _running = FREE.enter();
    thread::sleep(Duration::from_millis(millis));
    millis
}

#[test]
fn trait_impls_and_free_functions_with_a_constant() {
    support::within("trait impl and free fn", || {
        let limited = Limited::default();
        let store: Arc<dyn Store> = Arc::new(limited.clone());
        let runtime = support::multi_thread("limit-trait", 2);
        let sync_callers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                thread::spawn(move || store.put(15) + free(15))
            })
            .collect();
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let store = Arc::clone(&store);
                tasks.push(tokio::spawn(async move {
                    store.put_async(15).await + free_async(15).await
                }));
            }
            for task in tasks {
                assert_eq!(task.await.unwrap(), 30);
            }
        });
        for caller in sync_callers {
            assert_eq!(caller.join().unwrap(), 30);
        }
        assert_eq!(limited.gauge.peak(), 2);
        assert_eq!(FREE.peak(), 2);
    });
}

static BUSY: LazyLock<Gauge> = LazyLock::new(Gauge::default);

#[smartasync(limit = 1)]
fn busy(millis: u64) -> u64 {
    let _running = BUSY.enter();
    thread::sleep(Duration::from_millis(millis));
    millis
}

/// Regression: on a current-thread runtime, an async caller queued for the permit and a
/// sync caller of the same function on the runtime's thread. Were the permit handed to the
/// queued task, it would wait for its paused runtime, and the sync caller for the permit.
#[test]
fn a_sync_caller_on_a_current_thread_runtime_is_not_stuck_behind_its_own_queued_task() {
    support::within("current-thread mix", || {
        let holder = thread::spawn(|| busy(200));
        while BUSY.runs() == 0 {
            thread::sleep(Duration::from_millis(1));
        }
        let runtime = support::current_thread("limit-mix");
        let (sync, queued) = runtime.block_on(async {
            let queued = tokio::spawn(busy_async(0));
            tokio::task::yield_now().await;
            let sync = busy(0);
            (sync, queued.await.unwrap())
        });
        assert_eq!((sync, queued), (0, 0));
        assert_eq!(holder.join().unwrap(), 200);
        assert_eq!(BUSY.peak(), 1);
    });
}

/// Regression: one `macro_rules!` call that writes the same limited method for two types
/// puts both attributes at one place; each type still has its own limit.
macro_rules! two_stores {
    ($first:ident, $second:ident) => {
        #[derive(Clone, Default)]
        struct $first(Arc<Gauge>);

        #[derive(Clone, Default)]
        struct $second(Arc<Gauge>);

        impl $first {
            #[smartasync(limit = 1)]
            fn write(&self, millis: u64) -> u64 {
                let _running = self.0.enter();
                thread::sleep(Duration::from_millis(millis));
                millis
            }
        }

        impl $second {
            #[smartasync(limit = 1)]
            fn write(&self, millis: u64) -> u64 {
                let _running = self.0.enter();
                thread::sleep(Duration::from_millis(millis));
                millis
            }
        }
    };
}

two_stores!(First, Second);

#[test]
fn functions_written_at_one_place_by_a_macro_have_their_own_limits() {
    support::within("macro_rules", || {
        let shared = Arc::new(Gauge::default());
        let (first, second) = (First(Arc::clone(&shared)), Second(Arc::clone(&shared)));
        let runtime = support::multi_thread("limit-macro", 2);
        runtime.block_on(async {
            let (a, b) = tokio::join!(first.write_async(100), second.write_async(100));
            assert_eq!(a + b, 200);
        });
        assert_eq!(shared.peak(), 2, "each type's one permit, at the same time");
    });
}
