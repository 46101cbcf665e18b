//! The users API under a burst of writers, ten per pooled connection: every request gets
//! its answer (201) or a deliberate 503 with `Retry-After`, never anything else; every
//! acknowledged write is in the file; and the writers waiting their turn hold no thread.
//!
//! Each burst runs against a server on a runtime of its own (2 workers) whose threads are
//! counted by its start and stop hooks, so the blocking-pool threads the burst took are
//! known exactly. The stores are opened with [`Durability::Full`]: every commit waits for
//! the disk, so writers are slow enough to pile up.

#[allow(dead_code)] // this binary uses part of the shared support
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use smartasync_example_users::{
    self as users, LaneStore, NewUser, RETRY_AFTER_SECS, UnlimitedStore, User, UserStore, Users,
    sql::Durability,
};
use support::{TempDb, http_client};

const CONNECTIONS: u32 = 4;
const WRITERS: u32 = 10 * CONNECTIONS;
const CREATES_PER_WRITER: u32 = 3;
const WORKERS: usize = 2;

/// What a burst gave: every answer's status and `Retry-After`, the server runtime's
/// blocking-pool threads at their peak, and the rows in the file afterwards.
struct Burst {
    answers: Vec<(StatusCode, Option<HeaderValue>)>,
    blocking_threads_peak: usize,
    rows: usize,
}

impl Burst {
    fn created(&self) -> usize {
        self.answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count()
    }

    /// Every answer is a 201 or a 503 that says when to retry; at least one write went in.
    fn assert_clean(&self) {
        let retry_after = HeaderValue::from(RETRY_AFTER_SECS);
        for (status, header) in &self.answers {
            let deliberate =
                *status == StatusCode::SERVICE_UNAVAILABLE && header.as_ref() == Some(&retry_after);
            assert!(
                *status == StatusCode::CREATED || deliberate,
                "{status} (Retry-After {header:?})"
            );
        }
        assert_eq!(
            self.answers.len(),
            (WRITERS * CREATES_PER_WRITER) as usize,
            "every request answered"
        );
        assert!(self.created() > 0);
        assert_eq!(self.rows, self.created(), "rows in the file against 201s");
    }
}

/// Serves `users` on a counted runtime and sends the burst: [`WRITERS`] writers at once,
/// each creating [`CREATES_PER_WRITER`] users back to back, every request bounded by the
/// client's timeout (a timeout fails the test).
fn burst(users: Arc<dyn Users>, db: &TempDb) -> Burst {
    let alive = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .on_thread_start({
            let (alive, peak) = (Arc::clone(&alive), Arc::clone(&peak));
            move || {
                let now = alive.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
            }
        })
        .on_thread_stop({
            let alive = Arc::clone(&alive);
            move || {
                alive.fetch_sub(1, Ordering::SeqCst);
            }
        })
        .enable_all()
        .build()
        .unwrap();
    let addr = server
        .block_on(users::spawn_server(users::router(users)))
        .unwrap();
    let base = format!("http://{addr}");

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = http_client();
    let answers = client.block_on(async {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    for n in 0..CREATES_PER_WRITER {
                        let new =
                            NewUser::new(&format!("w{w} #{n}"), &format!("w{w}-{n}@x.example"));
                        let response = http
                            .post(format!("{base}/users"))
                            .json(&new)
                            .send()
                            .await
                            .unwrap_or_else(|error| panic!("no answer (a timeout?): {error}"));
                        let status = response.status();
                        let retry_after = response.headers().get(RETRY_AFTER).cloned();
                        if status == StatusCode::CREATED {
                            response.json::<User>().await.expect("the created user");
                        }
                        answers.push((status, retry_after));
                    }
                    answers
                })
            })
            .collect();
        let mut answers = Vec::new();
        for writer in writers {
            answers.extend(writer.await.unwrap());
        }
        answers
    });
    // Stopping the server drops the store: the count reads what was committed.
    server.shutdown_timeout(Duration::from_secs(10));
    let rows = rusqlite::Connection::open(db.path())
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .unwrap();
    Burst {
        answers,
        blocking_threads_peak: peak.load(Ordering::SeqCst) - WORKERS,
        rows,
    }
}

/// The pooled store's writes run one at a time (`limit = WRITERS`): the writers over the
/// limit wait for their turn without a thread, so the burst of 40 takes a handful of
/// blocking-pool threads (a thread that just ran a write may still be on its way back to
/// the pool when the next write starts, so it is not exactly 1).
#[test]
fn a_burst_of_writers_on_the_pool_gets_201s_or_503s_and_queues_without_threads() {
    let db = TempDb::new("burst-pool");
    let store = UserStore::open_with(db.path(), CONNECTIONS, Durability::Full).unwrap();
    let burst = burst(Arc::new(store), &db);
    burst.assert_clean();
    assert!(
        burst.blocking_threads_peak <= (WRITERS / 4) as usize,
        "{} blocking threads for {WRITERS} writers",
        burst.blocking_threads_peak
    );
}

/// On the lane, the writers queue for its one thread: the same clean outcome, and not a
/// single blocking-pool thread.
#[test]
fn a_burst_of_writers_on_the_lane_gets_201s_and_takes_no_pool_thread() {
    let db = TempDb::new("burst-lane");
    let store = LaneStore::open_with(db.path(), Durability::Full).unwrap();
    let burst = burst(Arc::new(store), &db);
    burst.assert_clean();
    assert_eq!(burst.blocking_threads_peak, 0);
}

/// The control that shows the count above measures something: without the limit the same
/// burst parks a blocking-pool thread per waiting writer (on the pool's checkout or on
/// SQLite's lock). Its outcome stays clean here, with a 2 s connection wait.
#[test]
fn without_the_limit_the_same_burst_takes_a_thread_per_writer() {
    let db = TempDb::new("burst-unlimited");
    let store = UserStore::open_with(db.path(), CONNECTIONS, Durability::Full).unwrap();
    let burst = burst(Arc::new(UnlimitedStore(store)), &db);
    burst.assert_clean();
    assert!(
        burst.blocking_threads_peak >= (WRITERS / 2) as usize,
        "only {} blocking threads for {WRITERS} writers",
        burst.blocking_threads_peak
    );
}
