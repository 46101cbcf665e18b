//! The cancel run: what stopping abandoned queries buys a server whose clients give up.
//!
//! The users API is served twice, each on its own 2-worker runtime with its own SQLite
//! file and a `/report` route whose query is calibrated to take about a second alone:
//!
//! - **interrupts**: [`UserStore`] as it ships: a request dropped by its client interrupts
//!   its query (`rusqlite::InterruptHandle::interrupt`, registered with
//!   `smartasync::on_cancel`), and a call still waiting for a connection stops waiting;
//! - **no interrupts**: the same store [`without_interrupts`](UserStore::without_interrupts):
//!   an abandoned query runs to its end, holding the connection and its thread.
//!
//! Against each, `--cancel-clients` impatient clients (default 64, their starts spread over
//! one cycle) send the report, give up after [`GIVE_UP`] (the client-side timeout closes
//! the connection), pause [`IMPATIENT_PAUSE`] and send it again; `--patient-clients` (default 2) send the same
//! report back to back and wait for it (after a 503, as long as `Retry-After` asks). A
//! prober on a thread of its own asks `/health` every 2 ms. Counted: the reports the
//! patient clients got (the goodput), the server runtime's blocking threads at their peak,
//! `/health` latencies, and for each abandoned call the time from its request's drop to the
//! end of its body (recorded in the body, by a callback of its own registered with
//! `smartasync::on_cancel`), split by where the call was: running its query, or waiting
//! for a connection.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use smartasync::smartasync;
use smartasync_example_users::{self as users, Api, ApiError, Report, UserError, UserStore, sql};

use crate::overload::{ThreadGauge, probe};
use crate::{ReportQuery, http_client, percentile, temp_db};

/// Worker threads of each server runtime.
const WORKERS: usize = 2;
/// How long an impatient client waits for its report before it gives up.
pub const GIVE_UP: Duration = Duration::from_millis(100);
/// How long an impatient client pauses before it asks again.
pub const IMPATIENT_PAUSE: Duration = Duration::from_millis(400);

/// The two servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Interrupts,
    NoInterrupts,
}

impl Variant {
    pub const ALL: [Self; 2] = [Self::Interrupts, Self::NoInterrupts];

    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupts => "interrupts",
            Self::NoInterrupts => "no interrupts",
        }
    }

    /// Its key in the summary line.
    pub fn key(self) -> &'static str {
        match self {
            Self::Interrupts => "interrupts",
            Self::NoInterrupts => "no_interrupts",
        }
    }
}

/// Where an abandoned call was when its caller left, and how long its body took to end
/// after that.
#[derive(Clone, Copy, Debug)]
struct Stop {
    running: bool,
    after: Duration,
}

/// What the server's report bodies recorded.
#[derive(Clone, Default)]
struct Stops(Arc<Mutex<Vec<Stop>>>);

impl Stops {
    fn push(&self, stop: Stop) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(stop);
    }

    fn take(&self) -> Vec<Stop> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The report as the store runs it (a pooled connection, then the query), plus a record of
/// when its caller left and when it ended. Its own `on_cancel` callback is registered
/// before the store's interrupt, so it runs first: the moment it records is the drop.
#[smartasync]
fn timed_report(store: UserStore, work: u32, stops: Stops) -> Result<Report, UserError> {
    let left = Arc::new(Mutex::new(None::<Instant>));
    let running = Arc::new(AtomicBool::new(false));
    smartasync::on_cancel({
        let left = Arc::clone(&left);
        move || *left.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now())
    });
    let result = store.connection().and_then(|connection| {
        running.store(true, Ordering::SeqCst);
        sql::report(&connection, work)
    });
    // The connection is back in the pool: the abandoned call is over.
    let left = *left.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(left) = left {
        stops.push(Stop {
            running: running.load(Ordering::SeqCst),
            after: left.elapsed(),
        });
    }
    result
}

async fn report(
    State((store, stops)): State<(UserStore, Stops)>,
    Api(Query(query)): Api<Query<ReportQuery>>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(timed_report_async(store, query.work, stops).await?))
}

/// What one run saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Reports the patient clients got, and how long each took.
    pub patient_ms: Vec<f64>,
    /// 503s with `Retry-After` the patient clients got.
    pub patient_unavailable: usize,
    /// Any other failure of a patient request (a status, a broken connection).
    pub patient_failures: usize,
    /// Requests the impatient clients gave up on.
    pub abandoned: usize,
    /// Reports an impatient client got before giving up.
    pub impatient_done: usize,
    pub blocking_threads_peak: usize,
    pub health_ms: Vec<f64>,
    pub health_failures: usize,
    /// After its request was dropped, how long each abandoned body that was running its
    /// query took to end, in ms.
    pub stop_running_ms: Vec<f64>,
    /// The same, for bodies that were waiting for a connection.
    pub stop_waiting_ms: Vec<f64>,
}

impl Outcome {
    /// Reports completed for callers who stayed, per second.
    pub fn goodput(&self, run: Duration) -> f64 {
        self.patient_ms.len() as f64 / run.as_secs_f64()
    }
}

/// One impatient client: after `start`, asks, gives up after [`GIVE_UP`], pauses, until
/// `deadline`.
async fn impatient(
    client: reqwest::Client,
    url: String,
    start: Duration,
    deadline: Instant,
) -> (usize, usize) {
    tokio::time::sleep(start).await;
    let (mut abandoned, mut done) = (0, 0);
    while Instant::now() < deadline {
        // The timeout covers the body too: past it, the connection is closed.
        let answer = match client.get(&url).timeout(GIVE_UP).send().await {
            Ok(response) => response.bytes().await.is_ok(),
            Err(_) => false,
        };
        if answer {
            done += 1;
        } else {
            abandoned += 1;
        }
        tokio::time::sleep_until((Instant::now() + IMPATIENT_PAUSE).min(deadline).into()).await;
    }
    (abandoned, done)
}

/// One patient client: asks and waits for the answer, back to back until `deadline` (an
/// answer still awaited then is not counted). After a 503 it waits as `Retry-After` asks.
async fn patient(client: reqwest::Client, url: String, deadline: Instant) -> Outcome {
    let mut tally = Outcome::default();
    while Instant::now() < deadline {
        let sent = Instant::now();
        let ask = async {
            let response = client.get(&url).send().await?;
            let status = response.status();
            let retry_after = response.headers().get(RETRY_AFTER).is_some();
            response.bytes().await.map(|_| (status, retry_after))
        };
        match tokio::time::timeout_at(deadline.into(), ask).await {
            Err(_) => break,
            Ok(Ok((StatusCode::OK, _))) => {
                tally.patient_ms.push(sent.elapsed().as_secs_f64() * 1e3)
            }
            Ok(Ok((StatusCode::SERVICE_UNAVAILABLE, true))) => {
                tally.patient_unavailable += 1;
                let wait = Duration::from_secs(users::RETRY_AFTER_SECS);
                tokio::time::sleep_until((Instant::now() + wait).min(deadline).into()).await;
            }
            Ok(_) => tally.patient_failures += 1,
        }
    }
    tally
}

/// One run against `variant` on a fresh file; prints its line.
pub fn run(
    variant: Variant,
    connections: u32,
    work: u32,
    impatient_clients: u64,
    patient_clients: u64,
    length: Duration,
    client: &tokio::runtime::Runtime,
) -> Result<Outcome, String> {
    let db = temp_db(&format!("cancel-{}", variant.key()));
    let result = (|| {
        let store = UserStore::open_with_pool_size(&db, connections)
            .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        let store = match variant {
            Variant::Interrupts => store,
            Variant::NoInterrupts => store.without_interrupts(),
        };
        let stops = Stops::default();
        let (server, gauge) = ThreadGauge::runtime(format!("cancel-{}", variant.key()), WORKERS)?;
        let route = Router::new()
            .route("/report", get(report))
            .with_state((store.clone(), stops.clone()));
        let addr = server
            .block_on(users::spawn_server(users::router_with(
                Arc::new(store),
                route,
            )))
            .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
        let base = format!("http://{addr}");
        let url = format!("{base}/report?work={work}");

        let deadline = Instant::now() + length;
        let prober = probe(base, deadline);
        let http = http_client();
        let mut outcome = client.block_on(async {
            // Spread over one cycle, so that the clients do not arrive in step.
            let cycle = GIVE_UP + IMPATIENT_PAUSE;
            let impatient: Vec<_> = (0..impatient_clients)
                .map(|i| {
                    let start = cycle.mul_f64(i as f64 / impatient_clients as f64);
                    tokio::spawn(impatient(http.clone(), url.clone(), start, deadline))
                })
                .collect();
            let patient: Vec<_> = (0..patient_clients)
                .map(|_| tokio::spawn(patient(http.clone(), url.clone(), deadline)))
                .collect();
            let mut outcome = Outcome::default();
            for task in patient {
                let tally = task.await.expect("a patient client panicked");
                outcome.patient_ms.extend(tally.patient_ms);
                outcome.patient_unavailable += tally.patient_unavailable;
                outcome.patient_failures += tally.patient_failures;
            }
            for task in impatient {
                let (abandoned, done) = task.await.expect("an impatient client panicked");
                outcome.abandoned += abandoned;
                outcome.impatient_done += done;
            }
            outcome
        });
        (outcome.health_ms, outcome.health_failures) = prober.join().expect("the prober panicked");
        // Abandoned queries that are not interrupted still run: give them time to end, so
        // that their stop times are recorded and the next run gets the cores.
        server.shutdown_timeout(Duration::from_secs(10));
        outcome.blocking_threads_peak = gauge.peak.load(Ordering::SeqCst).saturating_sub(WORKERS);
        for stop in stops.take() {
            let ms = stop.after.as_secs_f64() * 1e3;
            if stop.running {
                outcome.stop_running_ms.push(ms);
            } else {
                outcome.stop_waiting_ms.push(ms);
            }
        }
        println!(
            "{:>13}: goodput {:.2}/s ({} reports to patient clients, p50 {:.0} ms; {} x 503, \
             {} failed); {} abandoned ({} answered in time); blocking threads at peak {}; \
             /health p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} probes, {} failed); \
             stop after drop: running p50 {:.2} ms p99 {:.2} ms ({}), waiting p50 {:.2} ms \
             p99 {:.2} ms ({})",
            variant.name(),
            outcome.goodput(length),
            outcome.patient_ms.len(),
            percentile(&outcome.patient_ms, 0.50),
            outcome.patient_unavailable,
            outcome.patient_failures,
            outcome.abandoned,
            outcome.impatient_done,
            outcome.blocking_threads_peak,
            percentile(&outcome.health_ms, 0.50),
            percentile(&outcome.health_ms, 0.99),
            outcome.health_ms.iter().copied().fold(0.0, f64::max),
            outcome.health_ms.len(),
            outcome.health_failures,
            percentile(&outcome.stop_running_ms, 0.50),
            percentile(&outcome.stop_running_ms, 0.99),
            outcome.stop_running_ms.len(),
            percentile(&outcome.stop_waiting_ms, 0.50),
            percentile(&outcome.stop_waiting_ms, 0.99),
            outcome.stop_waiting_ms.len(),
        );
        Ok(outcome)
    })();
    let _ = users::remove_database(&db);
    result
}
