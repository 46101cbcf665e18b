//! Group 4 (BENCHMARKS.md): N plain threads (1, 2, 4, 16, 64) each making blocking calls of an
//! `async fn` body that does one HTTP round trip on loopback with a shared `reqwest::Client`.
//! Calls per second through `#[smartasync]` (one client for the whole process, its pool
//! alive across calls and threads) against the two ways to write it by hand:
//!
//! - a runtime per call (`Runtime::block_on` in every call, the "`asyncio.run()` everywhere"
//!   approach): the client cannot be shared, because its pooled connections die with the
//!   runtime that drove them (reqwest #1148), so each call builds a client and connects;
//! - a runtime per thread (a current-thread runtime and a client kept by each thread).
//!
//! `cargo bench --bench scaling` takes about 1.5 minutes on 2 cores. The server runs in the
//! same process on its own runtime, so on a small machine it competes with the callers for
//! the same cores: read the figures as a comparison, not as what a server can do.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smartasync::smartasync;
use tokio::runtime::Runtime;

/// The shared client of the smartasync path: a cheap handle, cloned into each thread.
#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    url: String,
}

impl Upstream {
    fn new(url: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: url.to_owned(),
        }
    }

    /// One round trip to the loopback server.
    #[smartasync]
    async fn ping(&self) -> reqwest::Result<usize> {
        let body = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok(body.len())
    }
}

/// Starts the loopback server on its own thread and runtime, for the life of the process.
fn start_server() -> String {
    let (ready, address) = mpsc::sync_channel::<SocketAddr>(1);
    thread::Builder::new()
        .name("scaling-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a loopback port");
                ready
                    .send(listener.local_addr().expect("bound address"))
                    .expect("the bench waits for the address");
                let app = Router::new().route("/ping", get(|| async { "pong" }));
                axum::serve(listener, app).await.expect("serve");
            });
        })
        .expect("spawn the server thread");
    let address = address
        .recv_timeout(Duration::from_secs(10))
        .expect("the server starts");
    format!("http://{address}/ping")
}

/// N threads that live for one benchmark, each with its own state (built once, on the
/// thread), making calls on demand. Keeps thread start-up and per-thread setup out of the
/// figures, so each approach is measured at its steady state.
struct Crew {
    orders: Vec<SyncSender<u64>>,
    done: Receiver<()>,
    threads: Vec<JoinHandle<()>>,
}

impl Crew {
    fn new<S, Setup, Call>(threads: usize, setup: Setup, call: Call) -> Self
    where
        Setup: Fn() -> S + Clone + Send + 'static,
        Call: Fn(&mut S) + Copy + Send + 'static,
    {
        let (done_tx, done) = mpsc::sync_channel(threads);
        let mut orders = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let (order_tx, order_rx) = mpsc::sync_channel::<u64>(1);
            let done_tx = done_tx.clone();
            let setup = setup.clone();
            handles.push(
                thread::Builder::new()
                    .name(format!("caller-{index}"))
                    .spawn(move || {
                        let mut state = setup();
                        while let Ok(calls) = order_rx.recv() {
                            for _ in 0..calls {
                                call(&mut state);
                            }
                            if done_tx.send(()).is_err() {
                                break;
                            }
                        }
                    })
                    .expect("spawn a caller thread"),
            );
            orders.push(order_tx);
        }
        Self {
            orders,
            done,
            threads: handles,
        }
    }

    /// Makes `calls` calls spread over the threads and returns the wall time they took.
    fn run(&self, calls: u64) -> Duration {
        let threads = self.orders.len() as u64;
        let start = Instant::now();
        for (index, order) in self.orders.iter().enumerate() {
            let share = calls / threads + u64::from((index as u64) < calls % threads);
            order.send(share).expect("the caller thread is alive");
        }
        for _ in 0..threads {
            self.done
                .recv_timeout(Duration::from_secs(120))
                .expect("every caller thread finishes its calls");
        }
        start.elapsed()
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.orders.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

fn scaling(c: &mut Criterion) {
    // `SCALING_WORKERS=n` sizes the process-wide runtime's worker pool (default: one per
    // core), to see how its drivers' wake-ups weigh on the smartasync figures.
    if let Some(workers) = std::env::var("SCALING_WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        smartasync::runtime::Config::new()
            .worker_threads(workers)
            .install()
            .expect("SCALING_WORKERS: a worker count of at least 1, set before first use");
    }
    let url = start_server();
    let mut group = c.benchmark_group("4_scaling/loopback_http_round_trip");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);

    for threads in [1, 2, 4, 16, 64] {
        let upstream = Upstream::new(&url);
        let crew = Crew::new(
            threads,
            move || upstream.clone(),
            |upstream: &mut Upstream| {
                upstream.ping().expect("the loopback server answers");
            },
        );
        group.bench_with_input(
            BenchmarkId::new("smartasync foo(), shared client", threads),
            &threads,
            |b, _| b.iter_custom(|iters| crew.run(iters)),
        );
        drop(crew);

        let thread_url = url.clone();
        let crew = Crew::new(
            threads,
            move || {
                let runtime = current_thread();
                let upstream = runtime.block_on(async { Upstream::new(&thread_url) });
                (runtime, upstream)
            },
            |(runtime, upstream): &mut (Runtime, Upstream)| {
                runtime
                    .block_on(upstream.ping_async())
                    .expect("the loopback server answers");
            },
        );
        group.bench_with_input(
            BenchmarkId::new("runtime + client per thread", threads),
            &threads,
            |b, _| b.iter_custom(|iters| crew.run(iters)),
        );
        drop(crew);

        let call_url = url.clone();
        let crew = Crew::new(
            threads,
            move || call_url.clone(),
            |url: &mut String| {
                current_thread()
                    .block_on(Upstream::new(url).ping_async())
                    .expect("the loopback server answers");
            },
        );
        group.bench_with_input(
            BenchmarkId::new("runtime + client per call", threads),
            &threads,
            |b, _| b.iter_custom(|iters| crew.run(iters)),
        );
        drop(crew);
    }
    group.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
