//! The short version of the overhead benches, as one table a person can read.
//!
//! ```text
//! cargo run --release --example bench_report
//! ```
//!
//! Runs groups 1, 2, 3 and 5 of `benches/overhead.rs` with a simple timing loop (a warm-up
//! batch, then the median of several batches of N calls, the paths of a row interleaved so
//! that a machine busy with something else slows them alike) and prints, for each path, what
//! the smartasync entry costs, what the hand-written equivalent costs, their ratio and the
//! target (BENCHMARKS.md lists them). Takes well under a minute; `cargo bench --bench
//! overhead` gives the same figures with Criterion's statistics. BENCHMARKS.md explains each
//! line.

use std::hint::black_box;
use std::time::{Duration, Instant};

use smartasync_benches::{
    Batch, HandoffPool, KEY, OffloadThread, PingPong, Row, Target, cached_runtime,
    context_switches, current_thread_runtime, enter_and_poll, interleaved, multi_thread_runtime,
    per_call_current_thread, per_call_multi_thread, render, time_in_task,
};

mod items;

use items::{catalog, ready, ready_async, ready_plain, tick, tick_plain};

/// A batch of `n` sync calls.
fn sync_batch(mut call: impl FnMut(u64) -> u64 + 'static) -> Batch<'static> {
    Box::new(move |n| {
        let start = Instant::now();
        for i in 0..n {
            black_box(call(black_box(i)));
        }
        start.elapsed()
    })
}

fn main() {
    let started = Instant::now();
    println!("{}", machine());
    let mut rows = Vec::new();

    group_1(&mut rows);
    let mut switches = Vec::new();
    let lane_ratios = group_2(&mut rows, &mut switches);
    group_3(&mut rows);

    // Group 5: the floor.
    let pong = PingPong::new();
    let floor = interleaved(2_000, 15, &mut [floor_batch(&pong)]);
    switches.push((
        "floor: std channel ping-pong round trip".into(),
        switches_per_call(&mut floor_batch(&pong)),
    ));
    rows.push(Row {
        path: "floor: two-thread handoff, no smartasync".into(),
        smartasync: None,
        baseline: "std channel ping-pong round trip".into(),
        baseline_ns: floor[0],
        target: Target::Info,
    });

    println!("{}", render(&rows));
    println!("| path | thread switches per call (whole process) |\n|---|---:|");
    for (path, per_call) in switches {
        let per_call = per_call.map_or_else(|| "n/a".to_owned(), |n| format!("{n:.2}"));
        println!("| {path} | {per_call} |");
    }
    println!();
    for line in lane_ratios {
        println!("{line}");
    }
    println!();
    println!("(measured in {:.1} s)", started.elapsed().as_secs_f64());
}

fn floor_batch(pong: &PingPong) -> Batch<'_> {
    Box::new(move |n| {
        let start = Instant::now();
        for token in 0..n {
            black_box(pong.round_trip(token));
        }
        start.elapsed()
    })
}

/// Group 1: sync caller, `async fn` body, no ambient runtime.
fn group_1(rows: &mut Vec<Row>) {
    let handle = cached_runtime().handle().clone();
    let ns = interleaved(
        20_000,
        15,
        &mut [
            sync_batch(ready),
            sync_batch(|seed| cached_runtime().block_on(ready_plain(seed))),
            sync_batch(move |seed| handle.block_on(ready_plain(seed))),
            sync_batch(|seed| futures::executor::block_on(ready_plain(seed))),
            sync_batch(|seed| enter_and_poll(ready_plain(seed))),
        ],
    );
    let path = "`foo()`, `async fn` body, ready, no runtime";
    for (baseline, baseline_ns, target) in [
        (
            "`OnceLock<Runtime>` + `block_on`",
            ns[1],
            Target::AtMost(1.1),
        ),
        ("cached `Handle::block_on`", ns[2], Target::Info),
        ("`futures::executor::block_on`", ns[3], Target::Info),
        (
            "candidate: `handle().enter()` + own parker",
            ns[4],
            Target::Info,
        ),
    ] {
        rows.push(row(path, ns[0], baseline, baseline_ns, target));
    }
    let per_call = interleaved(
        20,
        7,
        &mut [
            sync_batch(|seed| per_call_multi_thread(ready_plain(seed))),
            sync_batch(|seed| per_call_current_thread(ready_plain(seed))),
        ],
    );
    rows.push(row(
        path,
        ns[0],
        "runtime per call, multi-thread",
        per_call[0],
        Target::FasterBy(1000.0),
    ));
    rows.push(row(
        path,
        ns[0],
        "runtime per call, current-thread",
        per_call[1],
        Target::FasterBy(1000.0),
    ));

    let handle = cached_runtime().handle().clone();
    let timer = interleaved(
        50,
        7,
        &mut [
            sync_batch(tick),
            sync_batch(|seed| cached_runtime().block_on(tick_plain(seed))),
            sync_batch(move |seed| handle.block_on(tick_plain(seed))),
            sync_batch(|seed| per_call_current_thread(tick_plain(seed))),
        ],
    );
    let path = "`foo()`, `async fn` body, 0 s sleep, no runtime";
    rows.push(row(
        path,
        timer[0],
        "`OnceLock<Runtime>` + `block_on`",
        timer[1],
        Target::Info,
    ));
    rows.push(row(
        path,
        timer[0],
        "cached `Handle::block_on`",
        timer[2],
        Target::Info,
    ));
    rows.push(row(
        path,
        timer[0],
        "runtime per call, current-thread",
        timer[3],
        Target::Info,
    ));
}

/// Group 2: async caller, `fn` body with `&self` + `&str`, both runtime flavors; the same
/// body through a one-thread lane; the candidates that show where `spawn_blocking`'s time
/// goes; the floor in the same run; and the context switches each path makes per call.
/// Returns the lane / `spawn_blocking` ratio of each flavor, as lines to print.
fn group_2(rows: &mut Vec<Row>, switches: &mut Vec<(String, Option<f64>)>) -> Vec<String> {
    let mut lane_ratios = Vec::new();
    let dedicated = &OffloadThread::new(Duration::ZERO);
    let pool = &HandoffPool::new();
    let spinning = &OffloadThread::new(Duration::from_micros(50));
    let pong = &PingPong::new();
    for (flavor, runtime) in [
        ("multi-thread", multi_thread_runtime()),
        ("current-thread", current_thread_runtime()),
    ] {
        let runtime = &runtime;
        let mut named: Vec<(&str, Batch<'_>)> = vec![
            (
                SMARTASYNC,
                Box::new(move |n| {
                    let svc = catalog();
                    time_in_task(runtime, n, move || svc.find_async(KEY))
                }),
            ),
            (
                SPAWN_BLOCKING,
                Box::new(move |n| {
                    let svc = catalog();
                    time_in_task(runtime, n, move || {
                        let svc = svc.clone();
                        let key = KEY.to_owned();
                        async move {
                            tokio::task::spawn_blocking(move || svc.find_plain(&key))
                                .await
                                .expect("the body does not panic")
                        }
                    })
                }),
            ),
            (
                LANE,
                Box::new(move |n| {
                    let svc = catalog();
                    time_in_task(runtime, n, move || svc.find_on_lane_async(KEY))
                }),
            ),
            (
                "inline (blocks the async thread)",
                Box::new(move |n| {
                    let svc = catalog();
                    time_in_task(runtime, n, move || {
                        let value = svc.find_plain(KEY);
                        async move { value }
                    })
                }),
            ),
            (DEDICATED, offload_batch(runtime, dedicated)),
            (
                "candidate: same, spinning 50 us before parking",
                offload_batch(runtime, spinning),
            ),
            (
                "candidate: pool with one-wake-up hand-over",
                Box::new(move |n| {
                    let svc = catalog();
                    let pool = pool.handle();
                    time_in_task(runtime, n, move || {
                        let svc = svc.clone();
                        let key = KEY.to_owned();
                        pool.run(move || svc.find_plain(&key))
                    })
                }),
            ),
            (FLOOR, floor_batch(pong)),
        ];
        if flavor == "multi-thread" {
            named.insert(
                3,
                (
                    "`block_in_place`",
                    Box::new(move |n| {
                        let svc = catalog();
                        time_in_task(runtime, n, move || {
                            let value = tokio::task::block_in_place(|| svc.find_plain(KEY));
                            async move { value }
                        })
                    }),
                ),
            );
        }
        for (name, batch) in &mut named {
            if !name.contains("inline") && !name.contains("block_in_place") && *name != FLOOR {
                switches.push((format!("{name}, {flavor} task"), switches_per_call(batch)));
            }
        }
        let (names, mut batches): (Vec<&str>, Vec<Batch<'_>>) = named.into_iter().unzip();
        let ns = interleaved(1_000, 21, &mut batches);
        let of = |wanted: &str| ns[names.iter().position(|name| *name == wanted).unwrap()];

        let path = format!("`foo_async().await`, `fn` body (`&self`, `&str`), {flavor} task");
        for (name, baseline_ns) in names.iter().zip(&ns) {
            if [SMARTASYNC, LANE, FLOOR].contains(name) {
                continue;
            }
            let target = if *name == SPAWN_BLOCKING {
                Target::AtMost(1.1)
            } else {
                Target::Info
            };
            rows.push(row(&path, of(SMARTASYNC), name, *baseline_ns, target));
        }

        let path =
            format!("`foo_async().await` through a one-thread lane, same body, {flavor} task");
        for (name, target) in [
            (SPAWN_BLOCKING, Target::AtMost(0.6)),
            (
                "smartasync `foo_async().await` without a lane",
                Target::Info,
            ),
            (DEDICATED, Target::Info),
            (FLOOR, Target::Info),
        ] {
            let baseline_ns = if name.starts_with("smartasync") {
                of(SMARTASYNC)
            } else {
                of(name)
            };
            rows.push(row(&path, of(LANE), name, baseline_ns, target));
        }
        lane_ratios.push(format!(
            "lane / `spawn_blocking`, {flavor} task: {:.2}x (target <= 0.60x)",
            of(LANE) / of(SPAWN_BLOCKING)
        ));
    }
    lane_ratios
}

const SMARTASYNC: &str = "smartasync";
const SPAWN_BLOCKING: &str = "`spawn_blocking` + owned copies";
const LANE: &str = "smartasync through a one-thread lane";
const DEDICATED: &str = "candidate: dedicated thread, std channel + oneshot";
const FLOOR: &str = "floor: std channel ping-pong round trip";

/// A batch of `n` calls run through a candidate offload thread.
fn offload_batch<'a>(runtime: &'a tokio::runtime::Runtime, offload: &OffloadThread) -> Batch<'a> {
    let jobs = offload.jobs();
    Box::new(move |n| {
        let svc = catalog();
        let jobs = jobs.clone();
        time_in_task(runtime, n, move || {
            let svc = svc.clone();
            let key = KEY.to_owned();
            jobs.run(move || svc.find_plain(&key))
        })
    })
}

/// Context switches of the whole process per call of `batch`, over 2000 calls.
fn switches_per_call(batch: &mut Batch<'_>) -> Option<f64> {
    const CALLS: u64 = 2_000;
    let before = context_switches()?;
    batch(CALLS);
    Some((context_switches()? - before) as f64 / CALLS as f64)
}

/// Group 3: same-kind calls.
fn group_3(rows: &mut Vec<Row>) {
    let svc = catalog();
    let plain = svc.clone();
    let ns = interleaved(
        200_000,
        31,
        &mut [
            sync_batch(move |_| svc.find(black_box(KEY))),
            sync_batch(move |_| plain.find_plain(black_box(KEY))),
        ],
    );
    rows.push(row(
        "`foo()`, `fn` body",
        ns[0],
        "the plain `fn`",
        ns[1],
        Target::Same(0.05),
    ));

    let ns = interleaved(
        200_000,
        31,
        &mut [
            poll_batch(|seed| async move { ready_async(seed).await }),
            poll_batch(|seed| async move { ready_plain(seed).await }),
        ],
    );
    rows.push(row(
        "`foo_async().await`, `async fn` body",
        ns[0],
        "the plain `async fn`",
        ns[1],
        Target::Same(0.05),
    ));
}

/// A batch of `n` awaits inside one executor run.
fn poll_batch<F, Fut>(call: F) -> Batch<'static>
where
    F: Fn(u64) -> Fut + 'static,
    Fut: Future<Output = u64>,
{
    Box::new(move |n| {
        futures::executor::block_on(async {
            let start = Instant::now();
            for i in 0..n {
                black_box(call(black_box(i)).await);
            }
            start.elapsed()
        })
    })
}

fn row(path: &str, smartasync: f64, baseline: &str, baseline_ns: f64, target: Target) -> Row {
    Row {
        path: path.to_owned(),
        smartasync: Some(smartasync),
        baseline: baseline.to_owned(),
        baseline_ns,
        target,
    }
}

/// What the figures were measured on.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("machine: {cores} cores, {cpu}")
}
