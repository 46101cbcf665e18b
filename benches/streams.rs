//! The stream bridges next to their peers (BENCHMARKS.md, "Streams"), with Criterion's
//! statistics; `cargo run --release --example stream_report` prints the short version as
//! one table, with the ratios.
//!
//! `cargo bench --bench streams` takes a few minutes (the batch-1 groups most); filter with
//! a group name: `cargo bench --bench streams -- streams_to_async/batch_64`.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

mod stream_items;

use stream_items::{AsyncPath, Source, SyncPath, consumer_runtime};

fn quick<'c>(c: &'c mut Criterion, name: &str, items: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .throughput(Throughput::Elements(items));
    group
}

/// A blocking iterator consumed by a task on a 2-worker multi-thread runtime, at batch
/// sizes 1, 64 and 1024; each iteration streams `0..n` to its end.
fn iterator_to_async(c: &mut Criterion) {
    let runtime = consumer_runtime();
    for (b, n) in [(1, 10_000), (64, 100_000), (1024, 100_000)] {
        let mut group = quick(c, &format!("streams_to_async/batch_{b}"), n);
        let mut paths = vec![AsyncPath::UnblockIter];
        if b == smartasync::DEFAULT_BATCH {
            paths.push(AsyncPath::Generated);
        }
        paths.extend(AsyncPath::PEERS);
        for path in paths {
            group.bench_function(path.name(), |bencher| {
                bencher.iter_custom(|iters| (0..iters).map(|_| path.run(&runtime, n, b)).sum());
            });
        }
        group.finish();
    }
}

/// A stream consumed as an iterator from a plain thread (the bench's own, outside any
/// runtime), its items ready or woken by another thread.
fn stream_to_sync(c: &mut Criterion) {
    for (source, name, n) in [
        (Source::Ready, "ready", 100_000),
        (Source::Woken, "woken", 20_000),
    ] {
        let mut group = quick(c, &format!("streams_to_sync/{name}"), n);
        for path in [
            SyncPath::Smartasync,
            SyncPath::Futures,
            SyncPath::FuturesNext,
        ] {
            group.bench_function(path.name(), |bencher| {
                bencher.iter_custom(|iters| (0..iters).map(|_| path.run(source, n).0).sum());
            });
        }
        group.finish();
    }
}

criterion_group!(benches, iterator_to_async, stream_to_sync);
criterion_main!(benches);
