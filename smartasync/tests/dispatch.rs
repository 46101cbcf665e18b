//! Every cell of the dispatch matrix (the crate documentation's table "Where each call
//! runs"), on both runtime flavors where it applies: for each place a call can happen, both
//! entries of a pair return the right value without panicking and run where the table says
//! they run.
//!
//! The subjects are the pair `Probe::visit` / `Probe::visit_async` (written as `async fn`:
//! the blocking entry drives it with `block_on`) and `Probe::work` / `Probe::work_async`
//! (written as `fn`: the async entry offloads it with `unblock`). Each reports where its body
//! ran: the thread, its name and the Tokio runtime current there. Runtimes are built with
//! distinctive thread names so that "that runtime's blocking pool" can be checked by name and
//! by runtime id. Every test runs under a watchdog, so a deadlock fails instead of hanging.

use std::io;
use std::net::SocketAddr;
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use smartasync::smartasync;
use tokio::runtime::{Builder, Handle, Id};

mod support;

use support::*;

/// What a probe body reports.
#[derive(Debug)]
struct Visit {
    value: String,
    /// Where the body ran.
    body: Place,
    /// Where a task spawned by the body (`tokio::spawn`) ran, for the async body.
    spawned: Option<Place>,
}

impl Visit {
    /// The body was polled on the caller's thread, with `runtime` current; a timer worked
    /// and the task it spawned ran on `runtime`.
    #[track_caller]
    fn assert_polled_here(&self, caller: &Place, runtime: Id) {
        assert_eq!(
            self.body.thread, caller.thread,
            "polled on the calling thread"
        );
        assert_eq!(
            self.body.runtime,
            Some(runtime),
            "runtime current in the body"
        );
        let spawned = self.spawned.as_ref().expect("the async body spawns a task");
        assert_eq!(
            spawned.runtime,
            Some(runtime),
            "runtime of the spawned task"
        );
    }

    /// The body ran on another thread named `name` (a blocking-pool thread of `runtime`),
    /// with `runtime` current.
    #[track_caller]
    fn assert_offloaded(&self, caller: &Place, runtime: Id, name: &str) {
        assert_ne!(
            self.body.thread, caller.thread,
            "offloaded to another thread"
        );
        assert_eq!(
            self.body.name.as_deref(),
            Some(name),
            "blocking-pool thread name"
        );
        assert_eq!(
            self.body.runtime,
            Some(runtime),
            "runtime of the blocking pool"
        );
    }
}

#[derive(Clone)]
struct Probe {
    base: u32,
}

impl Probe {
    /// Written as `async fn`: uses a timer and spawns a task, so the blocking entry only
    /// works if some runtime drives them.
    #[smartasync]
    async fn visit(&self, label: &str) -> Visit {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let spawned = tokio::spawn(async { Place::here() })
            .await
            .expect("the spawned task completes");
        Visit {
            value: format!("{label}{}", self.base),
            body: Place::here(),
            spawned: Some(spawned),
        }
    }

    /// Written as `fn`: a blocking body.
    #[smartasync]
    fn work(&self, label: &str) -> Visit {
        thread::sleep(Duration::from_millis(2));
        Visit {
            value: format!("{label}{}", self.base),
            body: Place::here(),
            spawned: None,
        }
    }

    /// Written as `fn`, calling the blocking entry of an `async fn` body: nesting through
    /// generated code. Returns where the outer body ran and what the inner one saw.
    #[smartasync]
    fn work_then_visit(&self, label: &str) -> (Place, Visit) {
        (Place::here(), self.visit(label))
    }
}

/// Written as `async fn`: accepts one connection on a listener the caller owns.
#[smartasync]
async fn accept_one(listener: &tokio::net::TcpListener) -> io::Result<SocketAddr> {
    let (_stream, peer) = listener.accept().await?;
    Ok(peer)
}

/// Written as `async fn`: waits for a value that another task sends.
#[smartasync]
async fn wait_for(receiver: tokio::sync::oneshot::Receiver<u32>) -> u32 {
    receiver.await.expect("the sending task ran")
}

/// Written as `async fn`: spawns a task with `tokio::spawn` and reports where it ran.
#[smartasync]
async fn spawn_and_report(x: u32) -> (u32, Place) {
    tokio::spawn(async move { (x * 2, Place::here()) })
        .await
        .expect("the spawned task completes")
}

fn probe() -> Probe {
    Probe { base: 7 }
}

/// Uses up the calling task's coop budget, as a busy task would, without yielding.
fn exhaust_coop_budget() {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..1000 {
        if !tokio::task::coop::has_budget_remaining() {
            return;
        }
        sender.send(()).expect("the receiver is alive");
        futures::executor::block_on(receiver.recv());
    }
    panic!("the coop budget was not used up after 1000 receives");
}

// ---------------------------------------------------------------------------------------
// Plain thread, no runtime.
// ---------------------------------------------------------------------------------------

#[test]
fn plain_thread_blocking_entry_polls_here_with_process_wide_drivers() {
    within("plain thread, visit()", || {
        let caller = Place::here();
        assert_eq!(caller.runtime, None, "a plain thread has no runtime");
        let visit = probe().visit("a");
        assert_eq!(visit.value, "a7");
        visit.assert_polled_here(&caller, process_wide());
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.name.as_deref(), Some(PROCESS_WIDE_NAME));
        assert_eq!(
            Place::here().runtime,
            None,
            "no runtime left entered afterwards"
        );
    });
}

#[test]
fn plain_thread_async_entry_under_foreign_executor_runs_on_process_wide_blocking_pool() {
    within("plain thread, futures executor, work_async()", || {
        let caller = Place::here();
        let visit = futures::executor::block_on(probe().work_async("b"));
        assert_eq!(visit.value, "b7");
        visit.assert_offloaded(&caller, process_wide(), PROCESS_WIDE_NAME);
    });
}

#[test]
fn plain_thread_blocking_entry_inside_foreign_executor_polls_here() {
    within("plain thread, futures executor, visit()", || {
        let caller = Place::here();
        let visit = futures::executor::block_on(async { probe().visit("c") });
        assert_eq!(visit.value, "c7");
        visit.assert_polled_here(&caller, process_wide());
    });
}

#[test]
fn plain_thread_direct_block_on_and_unblock() {
    within("plain thread, block_on and unblock", || {
        let caller = Place::here();
        let inner = smartasync::block_on(async {
            let here = Place::here();
            let there = smartasync::unblock(Place::here).await;
            (here, there)
        });
        assert_eq!(inner.0.thread, caller.thread);
        assert_eq!(inner.0.runtime, Some(process_wide()));
        assert_ne!(inner.1.thread, caller.thread);
        assert_eq!(inner.1.name.as_deref(), Some(PROCESS_WIDE_NAME));
        assert_eq!(inner.1.runtime, Some(process_wide()));
    });
}

// ---------------------------------------------------------------------------------------
// Worker of a multi-thread runtime (a sync fn called from async code).
// ---------------------------------------------------------------------------------------

#[test]
fn multi_thread_worker_blocking_entry_polls_here_with_that_runtime() {
    within("multi-thread worker, visit()", || {
        let rt = multi_thread("mt-worker", 2);
        let (caller, visit) = rt
            .block_on(rt.spawn(async { (Place::here(), probe().visit("d")) }))
            .expect("the task completes");
        assert_eq!(caller.name.as_deref(), Some("mt-worker"), "ran on a worker");
        assert_eq!(visit.value, "d7");
        visit.assert_polled_here(&caller, rt.handle().id());
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.name.as_deref(), Some("mt-worker"));
    });
}

#[test]
fn multi_thread_worker_blocking_entry_lets_other_tasks_run() {
    within("multi-thread worker, other tasks", || {
        // One worker: if the blocking call held it, the sending task could never run.
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mt-one")
            .enable_all()
            .build()
            .expect("runtime");
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = Arc::clone(&ticks);
            rt.spawn(async move {
                for _ in 0..10_000 {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let value = rt
            .block_on(rt.spawn(async move {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let ticks_before = ticks.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    sender.send(42).expect("the waiter is alive");
                });
                // A sync call from async code: blocks this task until the other one sends.
                let value = wait_for(receiver);
                let ticks_after = ticks.load(Ordering::SeqCst);
                assert!(
                    ticks_after > ticks_before,
                    "the ticker kept running during the blocking call ({ticks_before} -> {ticks_after})"
                );
                value
            }))
            .expect("the task completes");
        assert_eq!(value, 42);
        ticker.abort();
    });
}

#[test]
fn multi_thread_worker_blocking_entry_uses_the_ambient_runtimes_resources() {
    within("multi-thread worker, ambient listener", || {
        let rt = multi_thread("mt-ambient", 2);
        let (peer, local) = rt
            .block_on(rt.spawn(async {
                // The listener is registered with the ambient runtime's I/O driver.
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let address = listener.local_addr().expect("address");
                let client = tokio::spawn(async move {
                    let stream = tokio::net::TcpStream::connect(address)
                        .await
                        .expect("connect");
                    stream.local_addr().expect("client address")
                });
                let peer = accept_one(&listener).expect("accept");
                (peer, client.await.expect("client task"))
            }))
            .expect("the task completes");
        assert_eq!(peer, local, "accepted the connection of the other task");
    });
}

#[test]
fn multi_thread_worker_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("multi-thread worker, work_async()", || {
        let rt = multi_thread("mt-pool", 2);
        let (caller, visit) = rt
            .block_on(rt.spawn(async { (Place::here(), probe().work_async("e").await) }))
            .expect("the task completes");
        assert_eq!(visit.value, "e7");
        visit.assert_offloaded(&caller, rt.handle().id(), "mt-pool");
    });
}

// ---------------------------------------------------------------------------------------
// A thread inside `Runtime::block_on` of a multi-thread runtime.
// ---------------------------------------------------------------------------------------

#[test]
fn multi_thread_block_on_thread_blocking_entry_polls_here_with_that_runtime() {
    within("multi-thread Runtime::block_on, visit()", || {
        let rt = multi_thread("mt-block-on", 2);
        let caller = Place::here();
        let visit = rt.block_on(async { probe().visit("f") });
        assert_eq!(visit.value, "f7");
        visit.assert_polled_here(&caller, rt.handle().id());
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.name.as_deref(), Some("mt-block-on"));
    });
}

#[test]
fn multi_thread_block_on_thread_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("multi-thread Runtime::block_on, work_async()", || {
        let rt = multi_thread("mt-block-on-pool", 2);
        let caller = Place::here();
        let visit = rt.block_on(probe().work_async("g"));
        assert_eq!(visit.value, "g7");
        visit.assert_offloaded(&caller, rt.handle().id(), "mt-block-on-pool");
    });
}

// ---------------------------------------------------------------------------------------
// The thread of a current-thread runtime.
// ---------------------------------------------------------------------------------------

#[test]
fn current_thread_blocking_entry_polls_here_with_process_wide_runtime() {
    within("current-thread runtime, visit()", || {
        let rt = current_thread("ct-block-on");
        let caller = Place::here();
        let (in_runtime, visit) = rt.block_on(async {
            let in_runtime = Place::here();
            (in_runtime, probe().visit("h"))
        });
        assert_eq!(in_runtime.runtime, Some(rt.handle().id()));
        assert_eq!(visit.value, "h7");
        visit.assert_polled_here(&caller, process_wide());
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.name.as_deref(), Some(PROCESS_WIDE_NAME));
        // Afterwards the thread is back in its own runtime.
        assert_eq!(
            rt.block_on(async { Place::here().runtime }),
            Some(rt.handle().id())
        );
    });
}

#[test]
fn current_thread_spawned_task_blocking_entry_polls_here_with_process_wide_runtime() {
    within("current-thread runtime task, visit()", || {
        let rt = current_thread("ct-task");
        let caller = Place::here();
        let visit = rt
            .block_on(rt.spawn(async { probe().visit("i") }))
            .expect("the task completes");
        assert_eq!(visit.value, "i7");
        visit.assert_polled_here(&caller, process_wide());
    });
}

#[test]
fn current_thread_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("current-thread runtime, work_async()", || {
        let rt = current_thread("ct-pool");
        let caller = Place::here();
        let visit = rt.block_on(probe().work_async("j"));
        assert_eq!(visit.value, "j7");
        visit.assert_offloaded(&caller, rt.handle().id(), "ct-pool");
    });
}

#[tokio::test]
async fn tokio_test_blocking_entry_polls_here_with_process_wide_runtime() {
    let caller = Place::here();
    let visit = probe().visit("k");
    assert_eq!(visit.value, "k7");
    visit.assert_polled_here(&caller, process_wide());
    assert_eq!(
        Place::here().runtime,
        caller.runtime,
        "own runtime current again"
    );
}

#[tokio::test]
async fn tokio_test_async_entry_runs_on_the_test_runtimes_blocking_pool() {
    let caller = Place::here();
    let visit = probe().work_async("l").await;
    assert_eq!(visit.value, "l7");
    // `#[tokio::test]` names no threads: Tokio's default name, which starts with "tokio-".
    assert_ne!(visit.body.thread, caller.thread);
    assert_eq!(visit.body.runtime, Some(Handle::current().id()));
    let name = visit.body.name.expect("pool threads are named");
    assert!(name.starts_with("tokio-"), "a Tokio pool thread: {name}");
}

#[tokio::test]
async fn tokio_test_blocking_entry_after_the_coop_budget_is_used_up() {
    exhaust_coop_budget();
    let caller = Place::here();
    let visit = probe().visit("m");
    assert_eq!(visit.value, "m7");
    visit.assert_polled_here(&caller, process_wide());
}

// ---------------------------------------------------------------------------------------
// A `spawn_blocking` thread (nesting).
// ---------------------------------------------------------------------------------------

#[test]
fn multi_thread_spawn_blocking_blocking_entry_drives_with_that_runtime() {
    within("multi-thread spawn_blocking, visit()", || {
        let rt = multi_thread("mt-sb", 2);
        let (caller, visit) = rt
            .block_on(rt.spawn_blocking(|| (Place::here(), probe().visit("n"))))
            .expect("the blocking task completes");
        assert_eq!(caller.name.as_deref(), Some("mt-sb"));
        assert_eq!(visit.value, "n7");
        visit.assert_polled_here(&caller, rt.handle().id());
    });
}

#[test]
fn multi_thread_spawn_blocking_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("multi-thread spawn_blocking, work_async()", || {
        let rt = multi_thread("mt-sb-pool", 2);
        let id = rt.handle().id();
        let (caller, ours, foreign) = rt
            .block_on(rt.spawn_blocking(|| {
                let ours = smartasync::block_on(probe().work_async("o"));
                let foreign = futures::executor::block_on(probe().work_async("p"));
                (Place::here(), ours, foreign)
            }))
            .expect("the blocking task completes");
        assert_eq!((ours.value.as_str(), foreign.value.as_str()), ("o7", "p7"));
        ours.assert_offloaded(&caller, id, "mt-sb-pool");
        foreign.assert_offloaded(&caller, id, "mt-sb-pool");
    });
}

/// A closure given straight to `spawn_blocking` on a current-thread runtime cannot be told
/// from that runtime's own thread (Tokio says the same about both), so `block_on` treats it
/// the same way: polled here, with the process-wide runtime. Documented on `block_on`.
#[test]
fn current_thread_spawn_blocking_blocking_entry_polls_here_with_process_wide_runtime() {
    within("current-thread spawn_blocking, visit()", || {
        let rt = current_thread("ct-sb");
        let (caller, visit) = rt
            .block_on(rt.spawn_blocking(|| (Place::here(), probe().visit("q"))))
            .expect("the blocking task completes");
        assert_eq!(caller.name.as_deref(), Some("ct-sb"));
        assert_eq!(caller.runtime, Some(rt.handle().id()));
        assert_eq!(visit.value, "q7");
        visit.assert_polled_here(&caller, process_wide());
    });
}

#[test]
fn current_thread_spawn_blocking_async_entry_under_foreign_executor_uses_that_runtime() {
    within("current-thread spawn_blocking, work_async()", || {
        let rt = current_thread("ct-sb-pool");
        let (caller, foreign, ours) = rt
            .block_on(rt.spawn_blocking(|| {
                let foreign = futures::executor::block_on(probe().work_async("r"));
                let ours = smartasync::block_on(probe().work_async("s"));
                (Place::here(), foreign, ours)
            }))
            .expect("the blocking task completes");
        assert_eq!((foreign.value.as_str(), ours.value.as_str()), ("r7", "s7"));
        // Awaited where that runtime is current: its blocking pool.
        foreign.assert_offloaded(&caller, rt.handle().id(), "ct-sb-pool");
        // Awaited inside `smartasync::block_on`, which (as on the runtime's own thread)
        // entered the process-wide runtime.
        ours.assert_offloaded(&caller, process_wide(), PROCESS_WIDE_NAME);
    });
}

// ---------------------------------------------------------------------------------------
// An `unblock` thread (nesting), and the generated `_async` entry of a `fn` body.
// ---------------------------------------------------------------------------------------

#[test]
fn multi_thread_unblock_thread_blocking_entry_drives_with_that_runtime() {
    within("multi-thread unblock, visit()", || {
        let rt = multi_thread("mt-unblock", 2);
        let (caller, visit) =
            rt.block_on(smartasync::unblock(|| (Place::here(), probe().visit("t"))));
        assert_eq!(caller.name.as_deref(), Some("mt-unblock"));
        assert_eq!(visit.value, "t7");
        visit.assert_polled_here(&caller, rt.handle().id());
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.name.as_deref(), Some("mt-unblock"));
    });
}

#[test]
fn multi_thread_unblock_thread_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("multi-thread unblock, work_async()", || {
        let rt = multi_thread("mt-unblock-pool", 2);
        let (caller, visit) = rt.block_on(smartasync::unblock(|| {
            (Place::here(), smartasync::block_on(probe().work_async("u")))
        }));
        assert_eq!(visit.value, "u7");
        visit.assert_offloaded(&caller, rt.handle().id(), "mt-unblock-pool");
    });
}

#[test]
fn current_thread_unblock_thread_blocking_entry_drives_with_that_runtime() {
    within("current-thread unblock, visit()", || {
        let rt = current_thread("ct-unblock");
        let driver = Place::here();
        let (caller, visit) =
            rt.block_on(smartasync::unblock(|| (Place::here(), probe().visit("v"))));
        assert_eq!(caller.name.as_deref(), Some("ct-unblock"));
        assert_eq!(visit.value, "v7");
        visit.assert_polled_here(&caller, rt.handle().id());
        // The spawned task ran on that runtime, whose only worker is the thread in
        // `Runtime::block_on`.
        let spawned = visit.spawned.expect("spawned");
        assert_eq!(spawned.thread, driver.thread);
    });
}

#[test]
fn current_thread_unblock_thread_async_entry_runs_on_that_runtimes_blocking_pool() {
    within("current-thread unblock, work_async()", || {
        let rt = current_thread("ct-unblock-pool");
        let (caller, visit) = rt.block_on(smartasync::unblock(|| {
            (Place::here(), smartasync::block_on(probe().work_async("w")))
        }));
        assert_eq!(visit.value, "w7");
        visit.assert_offloaded(&caller, rt.handle().id(), "ct-unblock-pool");
    });
}

#[test]
fn generated_async_entry_nests_blocking_entry_on_that_runtime_for_both_flavors() {
    within("work_then_visit_async() on both flavors", || {
        for rt in [multi_thread("nest-mt", 2), current_thread("nest-ct")] {
            let driver = Place::here();
            let name = if rt.handle().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            {
                "nest-mt"
            } else {
                "nest-ct"
            };
            let (outer, visit) = rt.block_on(probe().work_then_visit_async("x"));
            assert_eq!(outer.name.as_deref(), Some(name));
            assert_ne!(outer.thread, driver.thread);
            assert_eq!(visit.value, "x7");
            visit.assert_polled_here(&outer, rt.handle().id());
        }
    });
}

// ---------------------------------------------------------------------------------------
// A foreign executor (`futures::executor::block_on`).
// ---------------------------------------------------------------------------------------

#[test]
fn foreign_executor_on_multi_thread_worker_runs_both_entries() {
    within("futures executor on a multi-thread worker", || {
        let rt = multi_thread("mt-foreign", 2);
        let id = rt.handle().id();
        let (caller, offloaded, polled) = rt
            .block_on(rt.spawn(async {
                let offloaded = futures::executor::block_on(probe().work_async("y"));
                let polled = futures::executor::block_on(async { probe().visit("z") });
                (Place::here(), offloaded, polled)
            }))
            .expect("the task completes");
        assert_eq!(
            (offloaded.value.as_str(), polled.value.as_str()),
            ("y7", "z7")
        );
        offloaded.assert_offloaded(&caller, id, "mt-foreign");
        polled.assert_polled_here(&caller, id);
    });
}

#[test]
fn foreign_executor_on_multi_thread_worker_after_the_coop_budget_is_used_up() {
    within("futures executor on a worker with no budget", || {
        let rt = multi_thread("mt-budget", 2);
        let (caller, offloaded) = rt
            .block_on(rt.spawn(async {
                exhaust_coop_budget();
                // Without `unconstrained`, polling the join handle here would return
                // `Pending` forever (tokio #2376).
                let offloaded = futures::executor::block_on(probe().work_async("budget"));
                (Place::here(), offloaded)
            }))
            .expect("the task completes");
        assert_eq!(offloaded.value, "budget7");
        offloaded.assert_offloaded(&caller, rt.handle().id(), "mt-budget");
    });
}

#[test]
fn foreign_executor_on_current_thread_runtime_runs_both_entries() {
    within("futures executor on a current-thread runtime", || {
        let rt = current_thread("ct-foreign");
        let caller = Place::here();
        let (offloaded, polled) = rt.block_on(async {
            let offloaded = futures::executor::block_on(probe().work_async("fo"));
            let polled = futures::executor::block_on(async { probe().visit("fp") });
            (offloaded, polled)
        });
        assert_eq!(
            (offloaded.value.as_str(), polled.value.as_str()),
            ("fo7", "fp7")
        );
        offloaded.assert_offloaded(&caller, rt.handle().id(), "ct-foreign");
        polled.assert_polled_here(&caller, process_wide());
    });
}

// ---------------------------------------------------------------------------------------
// An async body calling `tokio::spawn`, through its blocking entry.
// ---------------------------------------------------------------------------------------

#[test]
fn async_body_spawning_a_task_works_through_blocking_entry_everywhere() {
    within("spawn_and_report() in three places", || {
        // Plain thread: the task runs on the process-wide runtime.
        let (value, place) = spawn_and_report(1);
        assert_eq!(value, 2);
        assert_eq!(place.runtime, Some(process_wide()));
        assert_eq!(place.name.as_deref(), Some(PROCESS_WIDE_NAME));

        // Current-thread runtime thread: its runtime is paused, so the process-wide one runs it.
        let ct = current_thread("spawn-ct");
        let (value, place) = ct.block_on(async { spawn_and_report(2) });
        assert_eq!(value, 4);
        assert_eq!(place.runtime, Some(process_wide()));

        // Multi-thread worker: the task runs on that runtime.
        let mt = multi_thread("spawn-mt", 2);
        let (value, place) = mt
            .block_on(mt.spawn(async { spawn_and_report(3) }))
            .expect("the task completes");
        assert_eq!(value, 6);
        assert_eq!(place.runtime, Some(mt.handle().id()));
        assert_eq!(place.name.as_deref(), Some("spawn-mt"));
    });
}

/// Written as `fn`: on a blocking-pool thread, calls the blocking entry of an `async fn`
/// body that spawns a task.
#[smartasync]
fn nested_spawn(x: u32) -> (Place, (u32, Place)) {
    (Place::here(), spawn_and_report(x))
}

#[test]
fn nested_blocking_call_on_a_blocking_thread_spawns_onto_that_runtime() {
    within("nested_spawn_async() on outer-rt", || {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("outer-rt")
            .enable_all()
            .build()
            .expect("runtime");
        let (outer, (value, spawned)) = rt.block_on(nested_spawn_async(5));
        assert_eq!(value, 10);
        assert_eq!(
            outer.name.as_deref(),
            Some("outer-rt"),
            "body on outer-rt's pool"
        );
        assert_eq!(
            spawned.name.as_deref(),
            Some("outer-rt"),
            "task spawned onto outer-rt"
        );
        assert_eq!(spawned.runtime, Some(rt.handle().id()));
        assert_ne!(spawned.runtime, Some(process_wide()));
    });
}

#[test]
fn nested_blocking_call_on_a_current_thread_blocking_thread_spawns_onto_that_runtime() {
    within("nested_spawn_async() on outer-ct", || {
        let rt = current_thread("outer-ct");
        let driver = Place::here();
        let (outer, (value, spawned)) = rt.block_on(nested_spawn_async(6));
        assert_eq!(value, 12);
        assert_eq!(outer.name.as_deref(), Some("outer-ct"));
        assert_eq!(spawned.runtime, Some(rt.handle().id()));
        assert_eq!(
            spawned.thread, driver.thread,
            "ran by the runtime's own thread"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Regression: wake-ups that Tokio defers to a paused current-thread scheduler.
// ---------------------------------------------------------------------------------------

/// Written as `async fn`: yields to the scheduler `times` times. `yield_now` does not wake
/// the task itself: it leaves the wake-up to the scheduler of the thread's runtime.
#[smartasync]
async fn yield_times(times: u32) -> u32 {
    for _ in 0..times {
        tokio::task::yield_now().await;
    }
    times
}

#[test]
fn blocking_entry_yielding_on_a_current_thread_runtime_thread_completes() {
    within("yield_times() on a current-thread runtime", || {
        let rt = current_thread("ct-yield");
        // In `Runtime::block_on`, in a task, and nested inside another blocking entry.
        assert_eq!(rt.block_on(async { yield_times(1) }), 1);
        assert_eq!(
            rt.block_on(rt.spawn(async { yield_times(3) }))
                .expect("task"),
            3
        );
        assert_eq!(
            rt.block_on(async { smartasync::block_on(async { yield_times(2) + 1 }) }),
            3
        );
        assert_eq!(rt.block_on(async { yield_times(50) }), 50);
    });
}

#[tokio::test]
async fn tokio_test_blocking_entry_yielding_completes() {
    let (sender, receiver) = mpsc::channel();
    let watchdog = thread::spawn(move || receiver.recv_timeout(WATCHDOG));
    let yielded = yield_times(5);
    sender.send(()).expect("the watchdog waits");
    watchdog
        .join()
        .expect("watchdog thread")
        .expect("finished in time");
    assert_eq!(yielded, 5);
}

#[test]
fn blocking_entry_yielding_elsewhere_completes() {
    within("yield_times() elsewhere", || {
        assert_eq!(yield_times(3), 3);
        let mt = multi_thread("mt-yield", 2);
        assert_eq!(
            mt.block_on(mt.spawn(async { yield_times(3) }))
                .expect("task"),
            3
        );
        let ct = current_thread("ct-yield-pool");
        assert_eq!(ct.block_on(smartasync::unblock(|| yield_times(3))), 3);
    });
}

// ---------------------------------------------------------------------------------------
// Same-kind calls: the written body, run right where it is called.
// ---------------------------------------------------------------------------------------

#[test]
fn same_kind_calls_run_the_written_body_in_place() {
    within("same-kind calls", || {
        // A `fn` body through its blocking entry on a plain thread: runs here; the
        // `async fn` body it calls spawns onto the process-wide runtime.
        let caller = Place::here();
        let (outer, (value, spawned)) = nested_spawn(4);
        assert_eq!(value, 8);
        assert_eq!(outer, caller);
        assert_eq!(spawned.runtime, Some(process_wide()));

        // `async fn` bodies through their async entries, in a task of a multi-thread runtime.
        let rt = multi_thread("same-kind", 2);
        let id = rt.handle().id();
        let (caller, spawned, yielded, received, accepted) = rt
            .block_on(rt.spawn(async {
                let caller = Place::here();
                let (_, spawned) = spawn_and_report_async(1).await;
                let yielded = yield_times_async(3).await;
                let (sender, receiver) = tokio::sync::oneshot::channel();
                sender.send(9).expect("the receiver is alive");
                let received = wait_for_async(receiver).await;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let address = listener.local_addr().expect("address");
                let client = tokio::net::TcpStream::connect(address);
                let (accepted, client) = tokio::join!(accept_one_async(&listener), client);
                let client = client.expect("connect").local_addr().expect("address");
                let accepted = accepted.expect("accept") == client;
                (caller, spawned, yielded, received, accepted)
            }))
            .expect("the task completes");
        assert_eq!(caller.runtime, Some(id));
        assert_eq!(spawned.runtime, Some(id));
        assert_eq!((yielded, received, accepted), (3, 9, true));
    });
}
