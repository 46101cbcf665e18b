//! What `_async` buys an Axum service over a blocking library, measured.
//!
//! The users API is started twice in this process, each on its own Tokio runtime with 2
//! worker threads and its own SQLite file, with a slow `/report` route added to the real
//! router (the public router has none: see `users::router_with`):
//!
//! - **smartasync**: `/report` awaits `store.report_async(work)`, so the slow query runs on
//!   the blocking pool;
//! - **blocking**: `/report` calls `store.report(work)` straight inside the async handler,
//!   so the query holds a worker thread for its whole length.
//!
//! Each server gets the same load: the report's size is calibrated once, before both runs,
//! to take about `--slow-ms` (default 30 ms) alone on this machine, and two clients send
//! such reports back to back while a prober measures the latency of the cheap `/health`
//! endpoint every 2 ms (all clients share one thread). Each store's pool has
//! `--connections` connections (default: half the CPU cores, at least 1). The pool is what
//! bounds how many queries run at once, so the offloaded queries cannot take every core
//! from the async workers: on 2 cores, one query runs and the other slow request waits for
//! the connection, off the workers. The naive server gains nothing from it: its workers
//! block on the query or on the pool, either way unable to answer `/health`. The last line
//! printed is
//!
//! ```text
//! load: p99_ms_smartasync=<float> p99_ms_blocking=<float> requests=<n>
//! ```
//!
//! where `requests` counts every HTTP request answered in both runs. The target: the
//! smartasync p99 stays under 10 ms and the blocking one is at least 5 times worse.
//! Everything is bounded: each run lasts `--seconds` (default 3, at most 10) and at most a
//! few thousand requests; loopback only. Flags `--slow-clients`, `--slow-ms` and
//! `--connections` change the load.
//!
//! Then the overload run (`overload.rs`): a burst of writers, ten per pooled connection
//! (`--burst-connections`, default 8: 80 writers), for `--burst-seconds` (default 1)
//! against three servers: the pooled store with its write limit, the same pool without
//! it, and the lane-backed store. Each line gives the outcome of every request, the rows
//! in the file against the 201s, the blocking-pool threads at their peak and the `/health`
//! latencies during the burst, and a summary line follows:
//!
//! ```text
//! overload: threads_peak_limit=<n> threads_peak_nolimit=<n> threads_peak_lane=<n> health_p99_ms_limit=<float> ... failures=<n>
//! ```
//!
//! The target there: every request answered (a 2xx, or a 503 with `Retry-After`), no
//! timeout, no lost write. `--only slow` or `--only overload` runs one part.
//!
//! The cancel part (`cancel.rs`) runs only when asked, `--only cancel` (about 16 s): 64
//! clients (`--cancel-clients`) each ask for a report calibrated to about a second, give up
//! after 100 ms and ask again 400 ms later, while 2 patient clients (`--patient-clients`)
//! wait for theirs; once against the pooled store as it ships, whose abandoned queries are
//! interrupted, and once against it `without_interrupts`, each for `--cancel-seconds`
//! (default 6). It prints a table and
//!
//! ```text
//! cancel: goodput_interrupts=<float> goodput_no_interrupts=<float> ratio=<float> threads_peak_interrupts=<n> ... stop_ms_p50=<float> stop_ms_p99=<float>
//! ```
//!
//! where goodput is reports per second to the patient clients and `stop_ms_*` the time from
//! a request's drop to the end of its running query, with interrupts. The targets: that
//! time under 10 ms at p99, and at least twice the goodput. The exit status is 1 if a
//! target is missed.
//!
//! ```text
//! cargo run --release --example users_load
//! cargo run --release --example users_load -- --only overload --burst-seconds 3
//! cargo run --release --example users_load -- --only cancel
//! ```

mod cancel;
mod overload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;
use smartasync_example_users::{self as users, Api, ApiError, Report, UserStore};

/// Measure /health latency under slow queries, with and without `_async`.
#[derive(Debug, Parser)]
struct Args {
    /// Length of each of the two runs, in seconds (1 to 10).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=10))]
    seconds: u64,
    /// Clients sending slow requests back to back (1 to 16).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=16))]
    slow_clients: u64,
    /// Target duration of one slow query, in milliseconds (5 to 200).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(5..=200))]
    slow_ms: u64,
    /// Connections in each server's pool, which bounds how many slow queries run at once
    /// [default: half the CPU cores, at least 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    connections: Option<u32>,
    /// Length of each burst of the overload run, in seconds (1 to 10).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10))]
    burst_seconds: u64,
    /// Connections of the pooled stores in the overload run; the burst has ten writers per
    /// connection (1 to 16).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=16))]
    burst_connections: u32,
    /// Length of each of the two runs of the cancel part, in seconds (1 to 10).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=10))]
    cancel_seconds: u64,
    /// Clients of the cancel part that give up on their report after 100 ms (1 to 256).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=256))]
    cancel_clients: u64,
    /// Clients of the cancel part that wait for their report (1 to 16); more than two per
    /// pooled connection wait for each other past the connection wait (503s).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=16))]
    patient_clients: u64,
    /// Run only one part: the slow reports (`slow`), the burst of writers (`overload`), or
    /// the clients that give up (`cancel`, run only when asked).
    #[arg(long, value_enum)]
    only: Option<Part>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Slow,
    Overload,
    Cancel,
}

/// At most this many requests of each kind per run, whatever the duration.
const MAX_SLOW_REQUESTS: usize = 2_000;
const MAX_HEALTH_PROBES: usize = 5_000;
/// Pause between two `/health` probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(2);
/// Slow load runs this long before probing starts, so probes see a loaded server.
const WARMUP: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    SmartAsync,
    Blocking,
}

/// Query string of `GET /report`: `?work=<rows>`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    /// Rows to walk (at most `users::MAX_REPORT_WORK`).
    work: u32,
}

/// The handler as written with smartasync: the query runs on the blocking pool.
async fn report_offloaded(
    State(store): State<UserStore>,
    Api(Query(query)): Api<Query<ReportQuery>>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(store.report_async(query.work).await?))
}

/// The naive handler: a blocking call inside an async fn. It compiles, it works, and it
/// stalls a runtime worker for as long as the query runs.
async fn report_blocking(
    State(store): State<UserStore>,
    Api(Query(query)): Api<Query<ReportQuery>>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(store.report(query.work)?))
}

/// The real users API plus a `/report` route; only that handler differs between modes.
/// The route has the store itself as its state (the report is not part of the `Users`
/// interface the API serves).
fn server_router(mode: Mode, store: UserStore) -> Router {
    let report = match mode {
        Mode::SmartAsync => Router::new().route("/report", get(report_offloaded)),
        Mode::Blocking => Router::new().route("/report", get(report_blocking)),
    };
    users::router_with(Arc::new(store.clone()), report.with_state(store))
}

struct RunResult {
    health_ms: Vec<f64>,
    slow_done: usize,
    slow_ms_mean: f64,
    failures: usize,
}

fn p99(samples: &[f64]) -> f64 {
    percentile(samples, 0.99)
}

/// The pool size: SQLite work on the blocking pool then leaves CPU for the async workers.
fn connections(args: &Args) -> u32 {
    args.connections.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        u32::try_from(cores / 2).unwrap_or(u32::MAX).max(1)
    })
}

/// Rows of the report query that take about `target` alone on this machine, and the time
/// one such query then took. Two rounds (a probe, then a correction at the size found),
/// each keeping the fastest of a few runs, so that a moment of load from other processes
/// does not skew the size much.
fn calibrate(store: &UserStore, target: Duration) -> Result<(u32, Duration), users::UserError> {
    let fastest = |work: u32| -> Result<Duration, users::UserError> {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            store.report(work)?;
            best = best.min(start.elapsed());
        }
        Ok(best)
    };
    let scaled = |work: u32, took: Duration| -> u32 {
        let rows = f64::from(work) * target.as_secs_f64() / took.as_secs_f64().max(1e-9);
        rows.clamp(10_000.0, f64::from(users::MAX_REPORT_WORK)) as u32
    };
    store.report(100_000)?; // warm the connection and the page cache
    let probe = 100_000;
    let work = scaled(probe, fastest(probe)?);
    let work = scaled(work, fastest(work)?);
    Ok((work, fastest(work)?))
}

/// A throw-away database file for `name` in the temp dir.
fn temp_db(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "smartasync-users-load-{name}-{}.db",
        std::process::id()
    ))
}

/// Every request gets at most this long, connecting and reading the body included; past
/// it, it counts as a failure (a timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for the loopback servers: never through a proxy, bounded waits.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client with default settings")
}

/// GETs `url` and reads the whole body; whether that succeeded with a 2xx.
async fn fetch(client: &reqwest::Client, url: &str) -> bool {
    match client.get(url).send().await {
        Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
        _ => false,
    }
}

async fn drive(base: String, args: &Args, work: u32) -> RunResult {
    let run_for = Duration::from_secs(args.seconds);
    let start = Instant::now();
    let deadline = start + run_for;
    let per_client = MAX_SLOW_REQUESTS / args.slow_clients as usize;

    let mut slow_tasks = Vec::new();
    for _ in 0..args.slow_clients {
        let url = format!("{base}/report?work={work}");
        // One client (one connection) per slow caller, so they really run side by side.
        let client = http_client();
        slow_tasks.push(tokio::spawn(async move {
            let (mut done, mut failures, mut total) = (0usize, 0usize, Duration::ZERO);
            while Instant::now() < deadline && done + failures < per_client {
                let sent = Instant::now();
                if fetch(&client, &url).await {
                    done += 1;
                    total += sent.elapsed();
                } else {
                    failures += 1;
                }
            }
            (done, failures, total)
        }));
    }

    tokio::time::sleep(WARMUP).await;
    let health = http_client();
    let url = format!("{base}/health");
    let mut health_ms = Vec::new();
    let mut failures = 0;
    while Instant::now() < deadline && health_ms.len() + failures < MAX_HEALTH_PROBES {
        let sent = Instant::now();
        if fetch(&health, &url).await {
            health_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        } else {
            failures += 1;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }

    let (mut slow_done, mut slow_total) = (0, Duration::ZERO);
    for task in slow_tasks {
        let (done, failed, total) = task.await.expect("a slow client panicked");
        slow_done += done;
        failures += failed;
        slow_total += total;
    }
    let slow_ms_mean = slow_total.as_secs_f64() * 1e3 / slow_done.max(1) as f64;
    RunResult {
        health_ms,
        slow_done,
        slow_ms_mean,
        failures,
    }
}

fn run(
    mode: Mode,
    args: &Args,
    work: u32,
    client: &tokio::runtime::Runtime,
) -> Result<RunResult, String> {
    let name = match mode {
        Mode::SmartAsync => "smartasync",
        Mode::Blocking => "blocking",
    };
    let db = temp_db(name);
    let result = (|| {
        // Slow requests queue for the pool's connections by design here: let them wait
        // longer than the default before giving up.
        let store = UserStore::open_with_pool_size(&db, connections(args))
            .map_err(|e| format!("cannot open {}: {e}", db.display()))?
            .with_connection_wait(Duration::from_secs(10));
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{name}-server"))
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build the server runtime: {e}"))?;
        let addr = server
            .block_on(users::spawn_server(server_router(mode, store)))
            .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
        let result = client.block_on(drive(format!("http://{addr}"), args, work));
        // Dropped here, outside any runtime; in-flight queries get a moment to finish.
        server.shutdown_timeout(Duration::from_secs(5));
        println!(
            "{name:>10}: {} slow requests (mean {:.1} ms each, queueing included), \
             {} /health probes, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {} failures",
            result.slow_done,
            result.slow_ms_mean,
            result.health_ms.len(),
            percentile(&result.health_ms, 0.50),
            p99(&result.health_ms),
            result.health_ms.iter().copied().fold(0.0, f64::max),
            result.failures,
        );
        Ok(result)
    })();
    let _ = users::remove_database(&db);
    result
}

/// Calibrates the report on a store of its own, so both runs get the same work.
fn calibrate_once(args: &Args) -> Result<(u32, Duration), String> {
    calibrate_for(Duration::from_millis(args.slow_ms))
}

/// Rows of the report that take about `target` alone, calibrated on a store of its own.
fn calibrate_for(target: Duration) -> Result<(u32, Duration), String> {
    let db = temp_db("calibration");
    let result = UserStore::open_with_pool_size(&db, 1)
        .map_err(|e| format!("cannot open {}: {e}", db.display()))
        .and_then(|store| {
            calibrate(&store, target).map_err(|e| format!("calibration failed: {e}"))
        });
    let _ = users::remove_database(&db);
    result
}

/// How long one report of `work` rows takes alone, on a store of its own.
fn time_report(work: u32) -> Result<Duration, String> {
    let db = temp_db("timing");
    let result = UserStore::open_with_pool_size(&db, 1)
        .map_err(|e| format!("cannot open {}: {e}", db.display()))
        .and_then(|store| {
            let start = Instant::now();
            store
                .report(work)
                .map_err(|e| format!("the report failed: {e}"))?;
            Ok(start.elapsed())
        });
    let _ = users::remove_database(&db);
    result
}

/// Nearest-rank percentile (`q` in 0..=1) of `samples`; NaN when there are none.
fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread drives all the clients, so the load generator takes little CPU from the
    // servers.
    let client = match tokio::runtime::Builder::new_current_thread()
        .thread_name("load-client")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot build the client runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if args.only == Some(Part::Cancel) {
        return match cancel_runs(&args, &client) {
            Ok((line, met)) => {
                println!("{line}");
                if met {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let mut met = true;
    let mut last_lines = Vec::new();
    if args.only.is_none() || args.only == Some(Part::Slow) {
        match slow_runs(&args, &client) {
            Ok((line, slow_met)) => {
                met &= slow_met;
                last_lines.push(line);
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if args.only.is_none() || args.only == Some(Part::Overload) {
        match overload_runs(&args, &client) {
            Ok((line, overload_met)) => {
                met &= overload_met;
                last_lines.insert(0, line);
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    for line in last_lines {
        println!("{line}");
    }
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The two runs under slow reports: the summary line and whether the targets were met.
fn slow_runs(args: &Args, client: &tokio::runtime::Runtime) -> Result<(String, bool), String> {
    let (work, took) = calibrate_once(args)?;
    println!(
        "two runs of {} s, each with {} slow clients (report work={work}, {:.1} ms alone), \
         {} pooled connection(s), /health probed every {} ms",
        args.seconds,
        args.slow_clients,
        took.as_secs_f64() * 1e3,
        connections(args),
        PROBE_INTERVAL.as_millis()
    );
    let mut results = Vec::new();
    for mode in [Mode::SmartAsync, Mode::Blocking] {
        results.push(run(mode, args, work, client)?);
    }
    let (fast, slow) = (&results[0], &results[1]);
    let (p99_fast, p99_slow) = (p99(&fast.health_ms), p99(&slow.health_ms));
    let requests: usize = results
        .iter()
        .map(|r| r.slow_done + r.health_ms.len())
        .sum();
    let met = p99_fast < 10.0 && p99_slow >= 5.0 * p99_fast && fast.failures + slow.failures == 0;
    println!(
        "targets (smartasync p99 < 10 ms, blocking >= 5x worse, no failures): {} ({:.1}x)",
        if met { "met" } else { "MISSED" },
        p99_slow / p99_fast
    );
    let line = format!(
        "load: p99_ms_smartasync={p99_fast:.3} p99_ms_blocking={p99_slow:.3} requests={requests}"
    );
    Ok((line, met))
}

/// The burst of writers against each store: the summary line and whether every request
/// was answered (a 2xx or a 503 with `Retry-After`) and no write lost.
fn overload_runs(args: &Args, client: &tokio::runtime::Runtime) -> Result<(String, bool), String> {
    let burst = Duration::from_secs(args.burst_seconds);
    println!(
        "overload: bursts of {} writers ({} per pooled connection, {} connections) for {} s, \
         /health probed every {} ms",
        args.burst_connections * 10,
        10,
        args.burst_connections,
        args.burst_seconds,
        PROBE_INTERVAL.as_millis()
    );
    let mut threads = String::new();
    let mut health = String::new();
    let mut failures = 0;
    for variant in overload::Variant::ALL {
        let outcome = overload::run(variant, args.burst_connections, burst, client)?;
        let key = variant.key();
        threads.push_str(&format!(
            " threads_peak_{key}={}",
            outcome.blocking_threads_peak + outcome.lane_threads
        ));
        health.push_str(&format!(
            " health_p99_ms_{key}={:.3}",
            p99(&outcome.health_ms)
        ));
        failures += outcome.failures() + outcome.health_failures;
    }
    let met = failures == 0;
    println!(
        "targets (every request a 2xx or a 503 with Retry-After, no timeout, no lost write): {}",
        if met { "met" } else { "MISSED" }
    );
    Ok((
        format!("overload:{threads}{health} failures={failures}"),
        met,
    ))
}

/// Reports that take about this long alone, in the cancel part.
const CANCEL_QUERY: Duration = Duration::from_secs(1);

/// The cancel part, on a report calibrated to about [`CANCEL_QUERY`]: the same clients
/// against a store that interrupts abandoned queries and one that does not. The summary
/// line and whether the targets were met: abandoned queries that were running stop within
/// a few ms of their request's drop, and the patient clients get at least twice the
/// reports with interrupts.
fn cancel_runs(args: &Args, client: &tokio::runtime::Runtime) -> Result<(String, bool), String> {
    // A tenth of the length, scaled: the query walks rows at a steady rate.
    let (tenth, _) = calibrate_for(CANCEL_QUERY / 10)?;
    let work = (u64::from(tenth) * 10).min(u64::from(users::MAX_REPORT_WORK)) as u32;
    let took = time_report(work)?;
    let length = Duration::from_secs(args.cancel_seconds);
    println!(
        "cancel: two runs of {} s, {} clients giving up after {} ms (then {} ms pause), {} \
         patient clients, report work={work} ({:.0} ms alone), {} pooled connection(s), \
         /health probed every {} ms",
        args.cancel_seconds,
        args.cancel_clients,
        cancel::GIVE_UP.as_millis(),
        cancel::IMPATIENT_PAUSE.as_millis(),
        args.patient_clients,
        took.as_secs_f64() * 1e3,
        connections(args),
        PROBE_INTERVAL.as_millis()
    );
    let mut outcomes = Vec::new();
    for variant in cancel::Variant::ALL {
        outcomes.push(cancel::run(
            variant,
            connections(args),
            work,
            args.cancel_clients,
            args.patient_clients,
            length,
            client,
        )?);
    }
    let (with, without) = (&outcomes[0], &outcomes[1]);
    let (good_with, good_without) = (with.goodput(length), without.goodput(length));
    let ratio = good_with / good_without;
    let stop_p50 = percentile(&with.stop_running_ms, 0.50);
    let stop_p99 = percentile(&with.stop_running_ms, 0.99);
    println!();
    println!(
        "| store | goodput (reports/s to patient clients) | blocking threads at peak | /health p99 | abandoned requests | stop after drop, running query p50 / p99 | stop after drop, waiting for a connection p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (variant, outcome) in cancel::Variant::ALL.iter().zip(&outcomes) {
        println!(
            "| {} | {:.2} | {} | {:.2} ms | {} | {:.1} / {:.1} ms ({}) | {:.1} / {:.1} ms ({}) |",
            variant.name(),
            outcome.goodput(length),
            outcome.blocking_threads_peak,
            percentile(&outcome.health_ms, 0.99),
            outcome.abandoned,
            percentile(&outcome.stop_running_ms, 0.50),
            percentile(&outcome.stop_running_ms, 0.99),
            outcome.stop_running_ms.len(),
            percentile(&outcome.stop_waiting_ms, 0.50),
            percentile(&outcome.stop_waiting_ms, 0.99),
            outcome.stop_waiting_ms.len(),
        );
    }
    println!();
    let met = stop_p99 < 10.0 && ratio >= 2.0;
    println!(
        "targets (running queries stop within 10 ms of their drop at p99, goodput >= 2x): {}",
        if met { "met" } else { "MISSED" }
    );
    let line = format!(
        "cancel: goodput_interrupts={good_with:.2} goodput_no_interrupts={good_without:.2} \
         ratio={ratio:.1} threads_peak_interrupts={} threads_peak_no_interrupts={} \
         health_p99_ms_interrupts={:.3} health_p99_ms_no_interrupts={:.3} \
         stop_ms_p50={stop_p50:.2} stop_ms_p99={stop_p99:.2}",
        with.blocking_threads_peak,
        without.blocking_threads_peak,
        percentile(&with.health_ms, 0.99),
        percentile(&without.health_ms, 0.99),
    );
    Ok((line, met))
}
