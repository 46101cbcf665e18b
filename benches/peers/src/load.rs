//! The load of the SQLite scenario, the same for every store: `clients` concurrent
//! connections (one HTTP/1.1 keep-alive connection each), each sending its next request
//! as soon as the last one is answered: 90% `GET /users/{id}` of a random preloaded
//! user, 10% `POST /users` of a new one. A prober asks `/health` every
//! [`PROBE_INTERVAL`] meanwhile. Everything runs on one current-thread runtime on the
//! calling thread, so the load generator takes about one core's share whatever the store.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::stats::{Rng, Run, Samples};

/// Pause between two `/health` probes.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(5);

/// Every request is given at most this long; past it, it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many requests per client per run, whatever the duration.
pub const MAX_REQUESTS_PER_CLIENT: usize = 200_000;

/// Percent of requests that are inserts.
pub const WRITE_PERCENT: u64 = 10;

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client with default settings")
}

/// What one client saw.
#[derive(Default)]
struct ClientResult {
    latencies: Samples,
    errors: usize,
}

async fn client_loop(
    base: String,
    client_id: u64,
    users: i64,
    measure_from: Instant,
    deadline: Instant,
) -> ClientResult {
    let client = http_client();
    let mut rng = Rng::new(client_id + 1);
    let mut result = ClientResult::default();
    let mut sent_count = 0usize;
    let mut inserted = 0u64;
    while Instant::now() < deadline && sent_count < MAX_REQUESTS_PER_CLIENT {
        sent_count += 1;
        let write = rng.below(100) < WRITE_PERCENT;
        let sent = Instant::now();
        let outcome = if write {
            inserted += 1;
            let body = serde_json::json!({
                "name": format!("Client {client_id}"),
                "email": format!("client{client_id}-{inserted}@load.example"),
            });
            client
                .post(format!("{base}/users"))
                .json(&body)
                .send()
                .await
        } else {
            let id = 1 + rng.below(users as u64);
            client.get(format!("{base}/users/{id}")).send().await
        };
        let expected = if write { 201 } else { 200 };
        let ok = match outcome {
            Ok(response) => {
                response.status().as_u16() == expected && response.bytes().await.is_ok()
            }
            Err(_) => false,
        };
        if sent < measure_from {
            continue;
        }
        if ok {
            result.latencies.push(sent.elapsed());
        } else {
            result.errors += 1;
        }
    }
    result
}

async fn prober(base: String, measure_from: Instant, deadline: Instant) -> (Samples, usize) {
    let client = http_client();
    let url = format!("{base}/health");
    let mut samples = Samples::default();
    let mut errors = 0;
    tokio::time::sleep_until(measure_from.into()).await;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let ok = match client.get(&url).send().await {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        };
        if ok {
            samples.push(sent.elapsed());
        } else {
            errors += 1;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    (samples, errors)
}

/// Drives the server at `addr` with `clients` clients for `warmup` (not counted) then
/// `measure`, on a fresh current-thread runtime. `extra` of the result is the `/health`
/// p99 in ms; `/health` failures count as errors.
///
/// # Panics
///
/// If the runtime cannot be built or a client task panics.
pub fn drive(
    addr: SocketAddr,
    clients: usize,
    users: i64,
    warmup: Duration,
    measure: Duration,
) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a client runtime");
    let base = format!("http://{addr}");
    runtime.block_on(async move {
        let start = Instant::now();
        let measure_from = start + warmup;
        let deadline = measure_from + measure;
        let tasks: Vec<_> = (0..clients as u64)
            .map(|id| tokio::spawn(client_loop(base.clone(), id, users, measure_from, deadline)))
            .collect();
        let (health, health_errors) = prober(base.clone(), measure_from, deadline).await;
        let mut latencies = Samples::default();
        let mut errors = health_errors;
        for task in tasks {
            let result = task.await.expect("a load client panicked");
            latencies.extend(result.latencies);
            errors += result.errors;
        }
        Run {
            rps: latencies.len() as f64 / measure.as_secs_f64(),
            p50_ms: latencies.percentile_ms(0.50),
            p99_ms: latencies.percentile_ms(0.99),
            extra: health.percentile_ms(0.99),
            errors,
        }
    })
}
