//! The second scenario: a sync app over an async client. `threads` plain threads each
//! send the same sequence of `GET /items/{id}` to the gateway example's in-process
//! upstream (Axum on loopback, on a 2-worker runtime of its own), one after the
//! other, through one shared client of each kind:
//!
//! - smartasync + reqwest: the gateway example's service, `gateway.fetch(id)`, the
//!   blocking entry of an `async fn` over one `reqwest::Client`;
//! - reqwest's `blocking` client: the same client's sync face (its own runtime on a
//!   background thread);
//! - ureq: a client written sync, reading the socket on the calling thread.
//!
//! Each answer is parsed into an [`Item`] and checked. A fresh upstream per run counts
//! the connections it accepted.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use smartasync_example_gateway::{CATALOG_SIZE, Gateway, Item, Upstream};

use crate::stats::{Run, Samples};

/// Every request is given at most this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many requests per thread per run, whatever the duration.
pub const MAX_REQUESTS_PER_THREAD: usize = 200_000;

/// The clients measured, in the order of the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// smartasync + reqwest: the gateway's `fetch`, blocking entry.
    Smartasync,
    /// `reqwest::blocking::Client`.
    ReqwestBlocking,
    /// `ureq::Agent`.
    Ureq,
}

impl Client {
    /// Every client, in table order.
    pub const ALL: [Self; 3] = [Self::Smartasync, Self::ReqwestBlocking, Self::Ureq];

    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Smartasync => "smartasync+reqwest",
            Self::ReqwestBlocking => "reqwest::blocking",
            Self::Ureq => "ureq",
        }
    }
}

/// One shared client of a kind, ready to be used from many threads.
#[derive(Clone)]
enum Shared {
    Smartasync(Gateway),
    ReqwestBlocking(reqwest::blocking::Client, Arc<str>),
    Ureq(ureq::Agent, Arc<str>),
}

impl Shared {
    fn new(client: Client, upstream: &str, threads: usize) -> Result<Self, String> {
        Ok(match client {
            Client::Smartasync => Self::Smartasync(
                Gateway::with_timeout(upstream, REQUEST_TIMEOUT).map_err(|e| e.to_string())?,
            ),
            Client::ReqwestBlocking => Self::ReqwestBlocking(
                reqwest::blocking::Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .connect_timeout(Duration::from_secs(1))
                    .no_proxy()
                    .build()
                    .map_err(|e| e.to_string())?,
                upstream.into(),
            ),
            // ureq keeps 3 idle connections per host by default; the reqwest clients keep
            // every one. The same as theirs here, so that no client reconnects more than
            // the others because of its pool size. Its waits are bounded per read and
            // write, not per call: ureq 3.5's `timeout_global` and `timeout_per_call` add
            // about 4 ms to many calls on loopback (356 req/s instead of 14,000 at one
            // thread, measured), which would measure the timeout, not the client.
            Client::Ureq => Self::Ureq(
                ureq::Agent::new_with_config(
                    ureq::Agent::config_builder()
                        .timeout_connect(Some(Duration::from_secs(1)))
                        .timeout_per_read(Some(REQUEST_TIMEOUT))
                        .timeout_per_write(Some(REQUEST_TIMEOUT))
                        .max_idle_connections(threads.max(1))
                        .max_idle_connections_per_host(threads.max(1))
                        .build(),
                ),
                upstream.into(),
            ),
        })
    }

    fn fetch(&self, id: u64) -> Result<Item, String> {
        let item: Item = match self {
            Self::Smartasync(gateway) => return gateway.fetch(id).map_err(|e| e.to_string()),
            Self::ReqwestBlocking(client, base) => {
                let response = client
                    .get(format!("{base}/items/{id}"))
                    .send()
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("status {}", response.status()));
                }
                let body = response.bytes().map_err(|e| e.to_string())?;
                serde_json::from_slice(&body).map_err(|e| e.to_string())?
            }
            Self::Ureq(agent, base) => {
                let mut response = agent
                    .get(&format!("{base}/items/{id}"))
                    .call()
                    .map_err(|e| e.to_string())?;
                let body = response
                    .body_mut()
                    .read_to_vec()
                    .map_err(|e| e.to_string())?;
                serde_json::from_slice(&body).map_err(|e| e.to_string())?
            }
        };
        if item.id == id {
            Ok(item)
        } else {
            Err(format!("asked for item {id}, got {}", item.id))
        }
    }
}

/// The id thread `thread` asks for in its `n`th request: every run walks the same
/// sequence, threads start at different places of the catalog.
fn nth_id(thread: usize, n: usize) -> u64 {
    ((thread * 7919 + n) as u64) % CATALOG_SIZE + 1
}

/// Runs `threads` threads through `client` against a fresh upstream, for `warmup` (not
/// counted) then `measure`. `extra` of the result is the number of TCP connections the
/// upstream accepted in the whole run.
///
/// # Errors
///
/// If the upstream or the client cannot be started.
pub fn run(
    client: Client,
    threads: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<Run, String> {
    // The upstream gets 2 workers of its own (as the SQLite scenario's server does): on
    // the process-wide runtime it would share threads with smartasync's client only.
    let server = crate::server_runtime("peers-upstream")?;
    let upstream = Upstream::start_on(server.handle()).map_err(|e| format!("upstream: {e}"))?;
    let shared = Shared::new(client, &upstream.url(), threads)?;
    let start = Instant::now();
    let measure_from = start + warmup;
    let deadline = measure_from + measure;
    let workers: Vec<_> = (0..threads)
        .map(|thread_index| {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("peers-caller-{thread_index}"))
                .spawn(move || {
                    let mut latencies = Samples::default();
                    let mut errors = 0usize;
                    let mut n = 0;
                    while Instant::now() < deadline && n < MAX_REQUESTS_PER_THREAD {
                        let sent = Instant::now();
                        let ok = shared.fetch(nth_id(thread_index, n)).is_ok();
                        n += 1;
                        if sent < measure_from {
                            continue;
                        }
                        if ok {
                            latencies.push(sent.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    (latencies, errors)
                })
                .map_err(|e| format!("caller thread: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let mut latencies = Samples::default();
    let mut errors = 0;
    for worker in workers {
        let (samples, failed) = worker.join().map_err(|_| "a caller thread panicked")?;
        latencies.extend(samples);
        errors += failed;
    }
    let connections = upstream.connections();
    // The blocking client must be dropped outside any runtime: here, a plain thread.
    drop(shared);
    drop(upstream);
    server.shutdown_timeout(Duration::from_secs(2));
    Ok(Run {
        rps: latencies.len() as f64 / measure.as_secs_f64(),
        p50_ms: latencies.percentile_ms(0.50),
        p99_ms: latencies.percentile_ms(0.99),
        extra: connections as f64,
        errors,
    })
}
