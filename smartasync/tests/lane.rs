//! `#[smartasync(lane = L)]`: every call of the body runs on one of the lane's threads,
//! through either entry, in arrival order.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use smartasync::{smartasync, Lane};

mod support;

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

static ORDERED: Lane = Lane::new("ordered");

thread_local! {
    static SEEN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Records `value` in the lane thread's own state; returns the thread and what it has seen.
#[smartasync(lane = ORDERED)]
fn record(value: u32) -> (String, Vec<u32>) {
    SEEN.with(|seen| {
        seen.borrow_mut().push(value);
        (thread_name(), seen.borrow().clone())
    })
}

#[test]
fn calls_run_on_the_lane_thread_in_arrival_order_with_its_thread_local_state() {
    support::within("order", || {
        let (name, _) = record(0);
        assert_eq!(name, "ordered-0");
        let runtime = support::current_thread("lane-ct");
        let seen = runtime.block_on(async {
            // Queued in this order when first polled by `join_all`.
            let calls: Vec<_> = (1..=20).map(record_async).collect();
            let results = futures::future::join_all(calls).await;
            assert!(results.iter().all(|(name, _)| name == "ordered-0"));
            results.last().unwrap().1.clone()
        });
        let (_, after) = record(21);
        assert_eq!(
            seen,
            (0..=20).collect::<Vec<_>>(),
            "arrival order, one thread's state"
        );
        assert_eq!(after, (0..=21).collect::<Vec<_>>());
    });
}

static SERIAL: Lane = Lane::new("serial");

#[derive(Clone, Default)]
struct Store {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

#[smartasync]
impl Store {
    #[smartasync(lane = SERIAL)]
    fn write(&self, row: &str) -> usize {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        thread::sleep(Duration::from_micros(200));
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(thread_name(), "serial-0");
        row.len()
    }

    /// Calls the lane's other body from the lane: runs inline, no deadlock.
    #[smartasync(lane = SERIAL)]
    fn write_twice(&self, row: &str) -> usize {
        self.write(row) + self.write(row)
    }

    /// Drives the async entry of a body of its own lane: runs inline, no deadlock.
    #[smartasync(lane = SERIAL)]
    fn write_via_entry(&self, row: &str) -> usize {
        smartasync::block_on(self.write_async(row))
    }

    #[smartasync(lane = SERIAL)]
    fn fail(&self, message: &str) -> usize {
        std::panic::panic_any(message.to_owned())
    }
}

#[test]
fn a_one_thread_lane_runs_one_body_at_a_time_under_many_callers() {
    support::within("serial", || {
        let store = Store::default();
        let runtime = support::multi_thread("lane-mt", 2);
        let sync_callers: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                thread::spawn(move || store.write("abc"))
            })
            .collect();
        let total: usize = runtime.block_on(async {
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.write_async("ab").await })
                })
                .collect();
            let mut total = 0;
            for task in tasks {
                total += task.await.unwrap();
            }
            total
        });
        let sync_total: usize = sync_callers.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(total + sync_total, 40 * 2 + 20 * 3);
        assert_eq!(store.peak.load(Ordering::SeqCst), 1);
        assert_eq!(store.calls.load(Ordering::SeqCst), 60);
    });
}

#[test]
fn nested_calls_on_the_lane_run_inline() {
    support::within("nesting", || {
        let store = Store::default();
        assert_eq!(store.write_twice("ab"), 4);
        let runtime = support::current_thread("lane-ct");
        assert_eq!(runtime.block_on(store.write_twice_async("abc")), 6);
        assert_eq!(store.write_via_entry("ab"), 2);
        assert_eq!(runtime.block_on(store.write_via_entry_async("abcd")), 4);
    });
}

#[test]
fn panics_resume_in_the_caller_and_the_lane_keeps_serving() {
    support::within("panics", || {
        let store = Store::default();
        let payload =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.fail("a"))).unwrap_err();
        assert_eq!(*payload.downcast::<String>().unwrap(), "a");
        let runtime = support::multi_thread("lane-mt", 2);
        let task = runtime.spawn({
            let store = store.clone();
            async move { store.fail_async("b").await }
        });
        let payload = runtime.block_on(task).unwrap_err().into_panic();
        assert_eq!(*payload.downcast::<String>().unwrap(), "b");
        assert_eq!(store.write("ok"), 2);
    });
}

static GATE: Lane = Lane::new("gate");

#[smartasync(lane = GATE)]
fn gated(release: Arc<Mutex<Option<std::sync::mpsc::Receiver<()>>>>, tag: usize) -> usize {
    let taken = release.lock().unwrap().take();
    if let Some(release) = taken {
        release.recv().unwrap();
    }
    RAN.lock().unwrap().push(tag);
    tag
}

static RAN: Mutex<Vec<usize>> = Mutex::new(Vec::new());

#[test]
fn a_future_dropped_before_its_body_starts_never_runs() {
    support::within("cancellation", || {
        let (release, wait) = std::sync::mpsc::channel();
        let gate = Arc::new(Mutex::new(Some(wait)));
        let runtime = support::multi_thread("lane-cancel", 2);
        runtime.block_on(async {
            let first = tokio::spawn(gated_async(Arc::clone(&gate), 1));
            while gate.lock().unwrap().is_some() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // The lane is busy: this call is queued, then dropped before it starts.
            let queued =
                tokio::time::timeout(Duration::from_millis(30), gated_async(Arc::clone(&gate), 2));
            assert!(queued.await.is_err());
            let third = tokio::spawn(gated_async(Arc::clone(&gate), 3));
            tokio::time::sleep(Duration::from_millis(10)).await;
            release.send(()).unwrap();
            assert_eq!(first.await.unwrap(), 1);
            assert_eq!(third.await.unwrap(), 3);
        });
        assert_eq!(*RAN.lock().unwrap(), [1, 3]);
    });
}

static WIDE: Lane = Lane::new("wide").threads(4);

#[smartasync(lane = WIDE)]
fn wide(millis: u64) -> String {
    thread::sleep(Duration::from_millis(millis));
    thread_name()
}

/// How many of the process's threads are named with `prefix` (Linux; `None` elsewhere).
fn threads_named(prefix: &str) -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count(),
    )
}

#[test]
fn a_lane_of_four_uses_exactly_four_threads_and_queued_callers_add_none() {
    support::within("four threads", || {
        let runtime = support::current_thread("lane-ct");
        // Start the lane, then count threads around 200 queued callers.
        runtime.block_on(wide_async(0));
        let names: HashSet<String> = runtime.block_on(async {
            let calls: Vec<_> = (0..200).map(|_| wide_async(1)).collect();
            let (names, during) = tokio::join!(futures::future::join_all(calls), async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                threads_named("wide-")
            });
            if let Some(during) = during {
                assert_eq!(
                    during, 4,
                    "200 queued callers, and the lane has four threads"
                );
            }
            names.into_iter().collect()
        });
        let expected: HashSet<String> = (0..4).map(|index| format!("wide-{index}")).collect();
        assert_eq!(names, expected);
        assert_eq!(threads_named("wide-").unwrap_or(4), 4);
    });
}

#[test]
fn a_blocking_caller_on_a_worker_does_not_stall_the_runtime() {
    support::within("worker", || {
        let runtime = support::multi_thread("lane-worker", 2);
        runtime.block_on(async {
            let blocking = tokio::spawn(async { wide(50) });
            let ticks = Arc::new(AtomicUsize::new(0));
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
            assert_eq!(ticks.load(Ordering::SeqCst), 5);
            assert!(blocking.await.unwrap().starts_with("wide-"));
        });
    });
}
