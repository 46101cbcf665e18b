//! What a call through `#[smartasync]` costs next to what a user would otherwise write, each
//! group measuring both in the same run (groups 1, 2, 3 and 5 of BENCHMARKS.md; group 4 is
//! `benches/scaling.rs`). Read with BENCHMARKS.md; `cargo run --release --example
//! bench_report` prints the short version as one table.
//!
//! `cargo bench --bench overhead` takes about 2 minutes on 2 cores; filter with
//! `cargo bench --bench overhead -- 2_async_caller`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use smartasync_benches::{
    HandoffPool, KEY, OffloadThread, PingPong, cached_runtime, current_thread_runtime,
    enter_and_poll, multi_thread_runtime, per_call_current_thread, per_call_multi_thread,
    time_in_task,
};
use tokio::runtime::Runtime;

// ----------------------------------------------------------------------------------------
// What is measured: each `#[smartasync]` item next to the same body written plainly.

mod items;

use items::{catalog, ready, ready_async, ready_plain, tick, tick_plain};

// ----------------------------------------------------------------------------------------

fn quick<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20);
    group
}

/// Group 1: sync caller, `async fn` body, no ambient runtime (the bench's main thread).
fn sync_caller_async_body(c: &mut Criterion) {
    let mut group = quick(c, "1_sync_caller_async_body/ready");
    group.bench_function("smartasync foo()", |b| b.iter(|| ready(black_box(1))));
    group.bench_function("OnceLock<Runtime> + block_on", |b| {
        b.iter(|| cached_runtime().block_on(ready_plain(black_box(1))))
    });
    let handle = cached_runtime().handle().clone();
    group.bench_function("cached Handle::block_on", |b| {
        b.iter(|| handle.block_on(ready_plain(black_box(1))))
    });
    group.bench_function("futures::executor::block_on", |b| {
        b.iter(|| futures::executor::block_on(ready_plain(black_box(1))))
    });
    group.bench_function("runtime per call, current-thread", |b| {
        b.iter(|| per_call_current_thread(ready_plain(black_box(1))))
    });
    group.bench_function("candidate: handle().enter() + own parker", |b| {
        b.iter(|| enter_and_poll(ready_plain(black_box(1))))
    });
    group.sample_size(10);
    group.bench_function("runtime per call, multi-thread", |b| {
        b.iter(|| per_call_multi_thread(ready_plain(black_box(1))))
    });
    group.finish();

    // A 0-duration sleep still registers with the timer wheel, whose resolution is 1 ms,
    // so each call waits for the next tick: the figures show the timer, not the bridge.
    let mut group = quick(c, "1_sync_caller_async_body/timer_0s");
    group.sample_size(10);
    group.bench_function("smartasync foo()", |b| b.iter(|| tick(black_box(1))));
    group.bench_function("OnceLock<Runtime> + block_on", |b| {
        b.iter(|| cached_runtime().block_on(tick_plain(black_box(1))))
    });
    group.bench_function("cached Handle::block_on", |b| {
        b.iter(|| handle.block_on(tick_plain(black_box(1))))
    });
    group.bench_function("runtime per call, current-thread", |b| {
        b.iter(|| per_call_current_thread(tick_plain(black_box(1))))
    });
    group.bench_function("runtime per call, multi-thread", |b| {
        b.iter(|| per_call_multi_thread(tick_plain(black_box(1))))
    });
    group.finish();
}

/// Group 2: async caller (a task), `fn` body with `&self` + `&str`, on both runtime flavors;
/// the same body through a one-thread lane.
fn async_caller_fn_body(c: &mut Criterion) {
    for (flavor, runtime) in [
        ("multi_thread", multi_thread_runtime()),
        ("current_thread", current_thread_runtime()),
    ] {
        let mut group = quick(c, &format!("2_async_caller_fn_body/{flavor}"));
        bench_in_task(&mut group, &runtime, "smartasync foo_async().await", || {
            let svc = catalog();
            move || svc.find_async(KEY)
        });
        bench_in_task(
            &mut group,
            &runtime,
            "spawn_blocking + owned copies",
            || {
                let svc = catalog();
                move || {
                    let svc = svc.clone();
                    let key = KEY.to_owned();
                    async move {
                        tokio::task::spawn_blocking(move || svc.find_plain(&key))
                            .await
                            .expect("the body does not panic")
                    }
                }
            },
        );
        // The same body through a one-thread lane: one warm thread, one wake-up each way
        // (the 0.6x-of-`spawn_blocking` target of BENCHMARKS.md).
        bench_in_task(
            &mut group,
            &runtime,
            "smartasync lane foo_async().await (one thread)",
            || {
                let svc = catalog();
                move || svc.find_on_lane_async(KEY)
            },
        );
        if flavor == "multi_thread" {
            // `block_in_place` panics on a current-thread runtime.
            bench_in_task(&mut group, &runtime, "block_in_place", || {
                let svc = catalog();
                move || {
                    let value = tokio::task::block_in_place(|| svc.find_plain(KEY));
                    async move { value }
                }
            });
        }
        // Candidates, not what smartasync does: one warm thread fed through a std channel,
        // answering through a Tokio oneshot (see BENCHMARKS.md, "Beyond the targets").
        let offload = OffloadThread::new(Duration::ZERO);
        bench_in_task(
            &mut group,
            &runtime,
            "candidate: dedicated thread, std channel + oneshot",
            || {
                let svc = catalog();
                let jobs = offload.jobs();
                move || {
                    let svc = svc.clone();
                    let key = KEY.to_owned();
                    jobs.run(move || svc.find_plain(&key))
                }
            },
        );
        drop(offload);
        let pool = HandoffPool::new();
        bench_in_task(
            &mut group,
            &runtime,
            "candidate: pool with one-wake-up hand-over",
            || {
                let svc = catalog();
                let pool = pool.handle();
                move || {
                    let svc = svc.clone();
                    let key = KEY.to_owned();
                    pool.run(move || svc.find_plain(&key))
                }
            },
        );
        drop(pool);
        bench_in_task(
            &mut group,
            &runtime,
            "inline (blocks the async thread)",
            || {
                let svc = catalog();
                move || {
                    let value = svc.find_plain(KEY);
                    async move { value }
                }
            },
        );
        group.finish();
    }
}

/// Times `make()`'s call path inside a task of `runtime`, so the awaiting side is a real
/// task (a worker thread on the multi-thread runtime).
fn bench_in_task<Make, Call, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    make: Make,
) where
    Make: Fn() -> Call,
    Call: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| time_in_task(runtime, iters, make()))
    });
}

/// Group 3: same-kind calls go to the written body, with nothing around it.
fn same_kind(c: &mut Criterion) {
    let mut group = quick(c, "3_same_kind");
    let svc = catalog();
    group.bench_function("fn body: smartasync foo()", |b| {
        b.iter(|| svc.find(black_box(KEY)))
    });
    group.bench_function("fn body: plain fn", |b| {
        b.iter(|| svc.find_plain(black_box(KEY)))
    });
    group.bench_function("async fn body: smartasync foo_async().await", |b| {
        b.iter_custom(|iters| {
            futures::executor::block_on(async {
                let start = Instant::now();
                for seed in 0..iters {
                    black_box(ready_async(black_box(seed)).await);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("async fn body: plain async fn", |b| {
        b.iter_custom(|iters| {
            futures::executor::block_on(async {
                let start = Instant::now();
                for seed in 0..iters {
                    black_box(ready_plain(black_box(seed)).await);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// Group 5: the physical floor, one two-thread park/unpark round trip over std channels.
fn floor(c: &mut Criterion) {
    let mut group = quick(c, "5_floor");
    let pong = PingPong::new();
    group.bench_function("std channel ping-pong round trip", |b| {
        b.iter(|| pong.round_trip(black_box(1)))
    });
    group.finish();
}

criterion_group!(
    benches,
    sync_caller_async_body,
    async_caller_fn_body,
    same_kind,
    floor
);
criterion_main!(benches);
