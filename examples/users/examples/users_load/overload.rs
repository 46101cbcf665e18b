//! The overload run: a burst of writers, ten per pooled connection, against the real users
//! API over three stores, each served by its own 2-worker runtime in this process, each
//! opened with [`Durability::Full`] (every commit waits for the disk, so writers pile up):
//!
//! - **pool+limit**: [`UserStore`] with the API's write path, its writes under
//!   `#[smartasync(limit = WRITERS)]` (one at a time: SQLite has one writer);
//! - **pool**: the same pool and the same statements with no limit on the writes
//!   ([`Unlimited`], below: the store as it was before the limit);
//! - **lane**: [`LaneStore`], one connection on the `users-db` lane thread.
//!
//! Every writer creates users back to back for `--burst-seconds`, and replaces every fourth
//! one it created (`PUT`); a prober on a thread of its own asks `/health` every 2 ms. Each
//! request is bounded by a timeout. Counted: the server runtime's threads at their peak
//! (by the runtime's thread start and stop hooks; the 2 workers subtracted, what remains is
//! the blocking pool), the `/health` latencies, the outcome of every request, and the rows
//! in the file after the server stopped, against the 201s.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use smartasync_example_users::{
    self as users, LaneStore, NewUser, USERS_DB, UnlimitedStore, User, UserError, UserStore, Users,
    sql::Durability,
};

#[cfg(doc)]
use crate::REQUEST_TIMEOUT;
use crate::{PROBE_INTERVAL, http_client, percentile, temp_db};

/// Worker threads of each server runtime.
const WORKERS: usize = 2;
/// Writers per pooled connection in the burst.
const WRITERS_PER_CONNECTION: u32 = 10;
/// At most this many creates per writer, whatever the duration.
const MAX_CREATES_PER_WRITER: usize = 500;

/// The three stores under the burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Limited,
    Unlimited,
    Lane,
}

impl Variant {
    pub const ALL: [Self; 3] = [Self::Limited, Self::Unlimited, Self::Lane];

    pub fn name(self) -> &'static str {
        match self {
            Self::Limited => "pool+limit",
            Self::Unlimited => "pool",
            Self::Lane => "lane",
        }
    }

    /// Its key in the summary line.
    pub fn key(self) -> &'static str {
        match self {
            Self::Limited => "limit",
            Self::Unlimited => "nolimit",
            Self::Lane => "lane",
        }
    }

    /// Opened with every commit waiting for an fsync ([`Durability::Full`]): the burst is
    /// of writers slowed by the disk, the case a limit on the write path is for.
    fn open(self, db: &Path, connections: u32) -> Result<Arc<dyn Users>, UserError> {
        let full = Durability::Full;
        Ok(match self {
            Self::Limited => Arc::new(UserStore::open_with(db, connections, full)?),
            Self::Unlimited => {
                Arc::new(UnlimitedStore(UserStore::open_with(db, connections, full)?))
            }
            Self::Lane => Arc::new(LaneStore::open_with(db, full)?),
        })
    }

    /// Threads dedicated to the store outside the runtime.
    fn lane_threads(self) -> usize {
        match self {
            Self::Lane => USERS_DB.thread_count(),
            _ => 0,
        }
    }
}

/// Live and peak threads of one runtime, kept by its thread start and stop hooks.
#[derive(Default)]
pub struct ThreadGauge {
    alive: AtomicUsize,
    pub peak: AtomicUsize,
}

impl ThreadGauge {
    pub fn started(&self) {
        let alive = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(alive, Ordering::SeqCst);
    }

    pub fn stopped(&self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }

    /// A server runtime of `workers` threads named `name`, whose threads (workers and
    /// blocking pool) the returned gauge counts.
    pub fn runtime(
        name: String,
        workers: usize,
    ) -> Result<(tokio::runtime::Runtime, Arc<ThreadGauge>), String> {
        let gauge = Arc::new(ThreadGauge::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(name)
            .on_thread_start({
                let gauge = Arc::clone(&gauge);
                move || gauge.started()
            })
            .on_thread_stop({
                let gauge = Arc::clone(&gauge);
                move || gauge.stopped()
            })
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build the server runtime: {e}"))?;
        Ok((runtime, gauge))
    }
}

/// What the writers saw, and what the file holds afterwards.
#[derive(Debug, Default)]
pub struct Outcome {
    pub blocking_threads_peak: usize,
    pub lane_threads: usize,
    pub health_ms: Vec<f64>,
    pub health_failures: usize,
    pub write_ms: Vec<f64>,
    /// 201s.
    pub created: usize,
    /// 200s to a `PUT`.
    pub updated: usize,
    /// 503s with a `Retry-After`.
    pub unavailable: usize,
    /// Any other status (a 503 without `Retry-After` is counted here as `503`).
    pub other: BTreeMap<u16, usize>,
    pub timeouts: usize,
    /// Requests that got no answer for another reason (a refused or reset connection).
    pub broken: usize,
    /// Rows in the file after the run.
    pub rows: usize,
}

impl Outcome {
    /// 201s whose row is not in the file.
    pub fn lost(&self) -> usize {
        self.created.saturating_sub(self.rows)
    }

    /// Requests that ended in anything but their answer or a deliberate 503, and lost rows.
    pub fn failures(&self) -> usize {
        self.other.values().sum::<usize>() + self.timeouts + self.broken + self.lost()
    }

    fn absorb(&mut self, tally: Outcome) {
        self.write_ms.extend(tally.write_ms);
        self.created += tally.created;
        self.updated += tally.updated;
        self.unavailable += tally.unavailable;
        for (status, count) in tally.other {
            *self.other.entry(status).or_default() += count;
        }
        self.timeouts += tally.timeouts;
        self.broken += tally.broken;
    }

    /// Counts the answer to one write; the user, for an expected success; how long a
    /// deliberate 503 asked to wait.
    async fn record(
        &mut self,
        answer: reqwest::Result<reqwest::Response>,
        sent: Instant,
        success: StatusCode,
    ) -> (Option<User>, Option<Duration>) {
        let response = match answer {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                self.timeouts += 1;
                return (None, None);
            }
            Err(_) => {
                self.broken += 1;
                return (None, None);
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .map(Duration::from_secs);
        let body = response.json::<User>().await;
        self.write_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        match (status, retry_after, body) {
            (status, _, Ok(user)) if status == success => {
                if status == StatusCode::CREATED {
                    self.created += 1;
                } else {
                    self.updated += 1;
                }
                (Some(user), None)
            }
            (StatusCode::SERVICE_UNAVAILABLE, Some(wait), _) => {
                self.unavailable += 1;
                (None, Some(wait))
            }
            (status, _, Err(error)) if status == success && error.is_timeout() => {
                self.timeouts += 1;
                (None, None)
            }
            (status, _, _) => {
                *self.other.entry(status.as_u16()).or_default() += 1;
                (None, None)
            }
        }
    }
}

/// One writer (every request bounded by [`REQUEST_TIMEOUT`]): creates users back to back until `deadline`, replacing every fourth one;
/// after a 503 it waits as long as `Retry-After` asks (at most until the deadline).
async fn writer(client: reqwest::Client, base: String, writer: u32, deadline: Instant) -> Outcome {
    let mut tally = Outcome::default();
    let mut n = 0;
    while Instant::now() < deadline && n < MAX_CREATES_PER_WRITER {
        let new = NewUser::new(
            &format!("writer {writer} #{n}"),
            &format!("w{writer}-{n}@load.example"),
        );
        let sent = Instant::now();
        let answer = client.post(format!("{base}/users")).json(&new).send().await;
        let (user, wait) = tally.record(answer, sent, StatusCode::CREATED).await;
        if let (Some(user), 3) = (&user, n % 4) {
            let renamed = NewUser::new(&format!("{} (renamed)", user.name), &user.email);
            let sent = Instant::now();
            let url = format!("{base}/users/{}", user.id);
            let answer = client.put(url).json(&renamed).send().await;
            tally.record(answer, sent, StatusCode::OK).await;
        }
        if let Some(wait) = wait {
            let until = (Instant::now() + wait).min(deadline);
            tokio::time::sleep_until(until.into()).await;
        }
        n += 1;
    }
    tally
}

/// `/health` every [`PROBE_INTERVAL`] until `deadline`, from a thread and a runtime of its
/// own so that the writers' client does not delay the probes: latencies and failures.
pub fn probe(base: String, deadline: Instant) -> std::thread::JoinHandle<(Vec<f64>, usize)> {
    std::thread::Builder::new()
        .name("load-probe".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the prober");
            runtime.block_on(async {
                let client = http_client();
                let url = format!("{base}/health");
                let (mut latencies, mut failures) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if crate::fetch(&client, &url).await {
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                    } else {
                        failures += 1;
                    }
                    tokio::time::sleep(PROBE_INTERVAL).await;
                }
                (latencies, failures)
            })
        })
        .expect("start the prober thread")
}

fn count_rows(db: &Path) -> Result<usize, String> {
    let connection = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    connection
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .map_err(|e| format!("cannot count the rows: {e}"))
}

/// One burst against `variant` on a fresh file; prints its line.
pub fn run(
    variant: Variant,
    connections: u32,
    burst: Duration,
    client: &tokio::runtime::Runtime,
) -> Result<Outcome, String> {
    let db = temp_db(&format!("overload-{}", variant.key()));
    let result = (|| {
        let store = variant
            .open(&db, connections)
            .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        let (server, gauge) = ThreadGauge::runtime(format!("ovl-{}", variant.key()), WORKERS)?;
        let addr = server
            .block_on(users::spawn_server(users::router(store)))
            .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
        let base = format!("http://{addr}");

        let deadline = Instant::now() + burst;
        let prober = probe(base.clone(), deadline);
        let writers = connections * WRITERS_PER_CONNECTION;
        let http = http_client();
        let mut outcome = client.block_on(async {
            let tasks: Vec<_> = (0..writers)
                .map(|w| tokio::spawn(writer(http.clone(), base.clone(), w, deadline)))
                .collect();
            let mut outcome = Outcome::default();
            for task in tasks {
                outcome.absorb(task.await.expect("a writer panicked"));
            }
            outcome
        });
        (outcome.health_ms, outcome.health_failures) = prober.join().expect("the prober panicked");
        // Every writer has its answers; stopping the server drops the store, so that the
        // count below reads what was committed.
        server.shutdown_timeout(Duration::from_secs(5));
        outcome.blocking_threads_peak = gauge.peak.load(Ordering::SeqCst).saturating_sub(WORKERS);
        outcome.lane_threads = variant.lane_threads();
        outcome.rows = count_rows(&db)?;
        println!(
            "{:>10}: {writers} writers for {:.1} s: {} created, {} updated, {} x 503 + Retry-After, \
             other {:?}, {} timeouts, {} broken; rows {} (lost {}); blocking threads at peak {} \
             (+{} lane); write p99 {:.1} ms; /health p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms \
             ({} probes, {} failed)",
            variant.name(),
            burst.as_secs_f64(),
            outcome.created,
            outcome.updated,
            outcome.unavailable,
            outcome.other,
            outcome.timeouts,
            outcome.broken,
            outcome.rows,
            outcome.lost(),
            outcome.blocking_threads_peak,
            outcome.lane_threads,
            percentile(&outcome.write_ms, 0.99),
            percentile(&outcome.health_ms, 0.50),
            percentile(&outcome.health_ms, 0.99),
            outcome.health_ms.iter().copied().fold(0.0, f64::max),
            outcome.health_ms.len(),
            outcome.health_failures,
        );
        Ok(outcome)
    })();
    let _ = users::remove_database(&db);
    result
}
