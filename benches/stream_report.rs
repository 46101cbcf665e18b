//! The stream bridges next to their peers, as one table a person can read.
//!
//! ```text
//! cargo run --release --example stream_report
//! ```
//!
//! Blocking iterator to async consumer: `smartasync::unblock_iter` (and the async entry
//! `#[smartasync]` generates for an iterator body) against `blocking::Unblock` and two
//! hand-written `spawn_blocking` + Tokio `mpsc` loops, at batch sizes 1, 64 and 1024, each
//! streaming `0..n` into a task on a 2-worker multi-thread runtime. Async stream to sync
//! consumer, outside any runtime: `smartasync::block_on_stream` against
//! `futures::executor::block_on_stream` (and, for reading, a loop of
//! `futures::executor::block_on(s.next())`), on a stream whose items are all ready and on one
//! whose items arrive from another thread. The paths of a group are timed interleaved (a
//! warm-up run, then the median of several rounds, their order rotated), as in
//! `bench_report`. Takes about 15 s; `cargo bench --bench streams` gives the Criterion
//! version. The last line is machine-readable:
//! `streams: ratio_b1=.. ratio_b64=.. generated_ratio_b64=.. ratio_b1024=..
//! block_on_stream_ratio=.. block_on_stream_next_ratio=.. block_on_stream_woken_ratio=..
//! block_on_stream_woken_next_ratio=..`, each smartasync's items/s over a peer's in the same
//! run (above 1 means smartasync is faster): `ratio_bN` over the best peer at batch N,
//! `block_on_stream_*ratio` over `futures::executor::block_on_stream`, `*next_ratio` over the
//! `block_on(s.next())` loop.

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Instant;

use smartasync_benches::{Batch, context_switches, interleaved};

mod stream_items;

use stream_items::{AsyncPath, Source, SyncPath, consumer_runtime};

/// Items per run at each batch size: a batch of 1 is a hand-over per item, so fewer.
const ASYNC_GROUPS: [(usize, u64, usize); 3] =
    [(1, 10_000, 9), (64, 100_000, 15), (1024, 100_000, 15)];

fn main() {
    let started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cores} cores; consumer runtime: multi-thread, 2 workers\n");
    let mut table = String::from(
        "| group | path | items | items/s (median) | ns/item | switches/item | smartasync / peer |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut summary = Vec::new();

    let runtime = consumer_runtime();
    for (b, n, rounds) in ASYNC_GROUPS {
        let mut paths = vec![AsyncPath::UnblockIter];
        if b == smartasync::DEFAULT_BATCH {
            paths.push(AsyncPath::Generated);
        }
        paths.extend(AsyncPath::PEERS);
        let mut batches: Vec<Batch<'_>> = paths
            .iter()
            .map(|&path| -> Batch<'_> {
                let runtime = &runtime;
                Box::new(move |n| path.run(runtime, n, b))
            })
            .collect();
        let ns = interleaved(n, rounds, &mut batches);
        let switches: Vec<Option<f64>> = batches
            .iter_mut()
            .map(|batch| switches_per_item(batch, n))
            .collect();
        let best_peer = paths
            .iter()
            .zip(&ns)
            .filter(|(path, _)| AsyncPath::PEERS.contains(path))
            .map(|(_, ns)| *ns)
            .fold(f64::INFINITY, f64::min);
        let group = format!("iterator -> async, batch {b}");
        for ((path, ns), switches) in paths.iter().zip(&ns).zip(&switches) {
            let ratio = (!AsyncPath::PEERS.contains(path)).then(|| best_peer / ns);
            push_row(&mut table, &group, path.name(), n, *ns, *switches, ratio);
        }
        summary.push((format!("ratio_b{b}"), best_peer / ns[0]));
        if b == smartasync::DEFAULT_BATCH {
            summary.push((format!("generated_ratio_b{b}"), best_peer / ns[1]));
        }
    }
    drop(runtime);

    for (source, n, rounds, key) in [
        (Source::Ready, 100_000, 15, "block_on_stream_ratio"),
        (Source::Woken, 20_000, 9, "block_on_stream_woken_ratio"),
    ] {
        let paths = [
            SyncPath::Smartasync,
            SyncPath::Futures,
            SyncPath::FuturesNext,
        ];
        let pending: Vec<Rc<Cell<(u64, u64)>>> = paths.iter().map(|_| Rc::default()).collect();
        let mut batches: Vec<Batch<'_>> = paths
            .iter()
            .zip(&pending)
            .map(|(&path, pending)| -> Batch<'_> {
                let pending = Rc::clone(pending);
                Box::new(move |n| {
                    let (elapsed, not_ready) = path.run(source, n);
                    let (polls, items) = pending.get();
                    pending.set((polls + not_ready, items + n));
                    elapsed
                })
            })
            .collect();
        let ns = interleaved(n, rounds, &mut batches);
        let switches: Vec<Option<f64>> = batches
            .iter_mut()
            .map(|batch| switches_per_item(batch, n))
            .collect();
        let group = match source {
            Source::Ready => "stream -> sync, items ready".to_owned(),
            Source::Woken => "stream -> sync, items woken by a std thread".to_owned(),
        };
        for (index, path) in paths.iter().enumerate() {
            let ratio = (index == 0).then(|| ns[1] / ns[0]);
            let name = match source {
                Source::Ready => path.name().to_owned(),
                Source::Woken => {
                    let (polls, items) = pending[index].get();
                    format!(
                        "{} ({:.2} not-ready polls/item)",
                        path.name(),
                        polls as f64 / items as f64
                    )
                }
            };
            push_row(
                &mut table,
                &group,
                &name,
                n,
                ns[index],
                switches[index],
                ratio,
            );
        }
        summary.push((key.to_owned(), ns[1] / ns[0]));
        summary.push((key.replace("ratio", "next_ratio"), ns[2] / ns[0]));
    }

    println!("{table}");
    for (key, ratio) in &summary {
        // The targets: the async entry at the default batch, and both sync rows.
        let target = if key.ends_with("b1") || key.ends_with("b1024") || key.contains("next") {
            ""
        } else {
            " (target >= 1.00x)"
        };
        println!("smartasync / peer, {key}: {ratio:.2}x{target}");
    }
    println!("(measured in {:.1} s)", started.elapsed().as_secs_f64());
    let fields: Vec<String> = summary
        .iter()
        .map(|(key, ratio)| format!("{key}={ratio:.2}"))
        .collect();
    println!("streams: {}", fields.join(" "));
}

/// Context switches of the whole process per item over one more run of `batch`.
fn switches_per_item(batch: &mut Batch<'_>, n: u64) -> Option<f64> {
    let before = context_switches()?;
    batch(n);
    Some((context_switches()? - before) as f64 / n as f64)
}

fn push_row(
    table: &mut String,
    group: &str,
    path: &str,
    n: u64,
    ns: f64,
    switches: Option<f64>,
    ratio: Option<f64>,
) {
    let switches = switches.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.3}"));
    let ratio = ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"));
    let _ = writeln!(
        table,
        "| {group} | {path} | {n} | {:.2} M | {ns:.1} | {switches} | {ratio} |",
        1e3 / ns
    );
}
