//! A caller that goes away stops the SQLite work it started: a request whose client
//! disconnects, or which outlives the API's timeout, has its statement interrupted, its
//! write rolled back and its connection given back (or its lane freed); and an interrupt
//! never reaches a statement that is not its call's.
//!
//! The slow query is a recursive CTE of [`SCAN_ROWS`] rows (well over 10 s, debug or
//! release): a test that sees it end within [`STOP_BOUND`] saw it interrupted.

#[allow(dead_code)] // this binary uses part of the shared support
mod support;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use reqwest::StatusCode;
use smartasync::smartasync;
use smartasync_example_users::{
    self as users, ApiError, ApiRouter, LaneStore, NewUser, UserError, UserStore, Users,
};
use support::{TempDb, batch, count_rows, http_client};

/// Rows of the slow scan: about 16 s in a release build on a laptop core, more in debug.
const SCAN_ROWS: i64 = 100_000_000;

/// A generous bound on how long an interrupted query takes to end and give its connection
/// back (it takes milliseconds).
const STOP_BOUND: Duration = Duration::from_secs(2);

const SCAN: &str =
    "WITH RECURSIVE walk(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM walk WHERE n < ?1)
                    SELECT coalesce(sum(n % 7), 0) FROM walk";

/// A slow query on a pooled connection, as any statement a store runs: the connection comes
/// from [`UserStore::connection`], which is where the interrupt is registered.
#[smartasync]
fn scan(store: UserStore, rows: i64) -> Result<i64, UserError> {
    Ok(store
        .connection()?
        .query_row(SCAN, [rows], |row| row.get(0))?)
}

async fn scan_route(State(store): State<UserStore>) -> Result<String, ApiError> {
    Ok(scan_async(store, SCAN_ROWS).await?.to_string())
}

/// Serves the users API over `store` with a `GET /scan` route, with `timeout`.
async fn serve_with_scan(store: &UserStore, timeout: Option<Duration>) -> String {
    let scan = Router::new()
        .route("/scan", get(scan_route))
        .with_state(store.clone());
    let router = ApiRouter::new(Arc::new(store.clone()))
        .routes(scan)
        .timeout(timeout)
        .build();
    let addr = users::spawn_server(router)
        .await
        .expect("bind a loopback port");
    format!("http://{addr}")
}

/// Waits until `store` has `in_use` connections lent, for at most `bound`; how long it took.
async fn wait_for_in_use(store: &UserStore, in_use: u32, bound: Duration) -> Duration {
    let start = Instant::now();
    while store.connections_in_use() != in_use {
        assert!(
            start.elapsed() < bound,
            "{} connection(s) in use after {bound:?}, expected {in_use}",
            store.connections_in_use()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// A store of one connection, so that a query still running would block the next call.
fn one_connection(db: &TempDb) -> UserStore {
    UserStore::open_with_pool_size(db.path(), 1).expect("open the store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_stops_its_query_and_frees_the_connection() {
    let db = TempDb::new("cancel-client");
    let store = one_connection(&db);
    let base = serve_with_scan(&store, None).await;
    let http = http_client();

    let request = tokio::spawn({
        let (http, url) = (http.clone(), format!("{base}/scan"));
        async move { http.get(url).send().await }
    });
    // The scan holds the only connection: the query runs.
    wait_for_in_use(&store, 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(store.connections_in_use(), 1, "the scan still runs");

    // The client goes away: its connection is closed.
    request.abort();
    let stopped = wait_for_in_use(&store, 0, STOP_BOUND).await;
    eprintln!("scan stopped {stopped:?} after its client left");

    // The pool's one connection serves the next request at once.
    let start = Instant::now();
    let response = http.get(format!("{base}/users")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(start.elapsed() < STOP_BOUND, "took {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_answers_504_with_its_message_and_interrupts_the_query() {
    let db = TempDb::new("cancel-timeout");
    let store = one_connection(&db);
    let base = serve_with_scan(&store, Some(Duration::from_millis(300))).await;
    let http = http_client();

    let start = Instant::now();
    let response = http.get(format!("{base}/scan")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "error": "the request took longer than its 300 ms limit" })
    );

    // Answering dropped the handler: the query was interrupted, the connection is free.
    wait_for_in_use(&store, 0, STOP_BOUND).await;
    let response = http.get(format!("{base}/users")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Rows in a batch: several seconds of inserts, debug or release.
const BATCH: usize = 300_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_insert_cancelled_midway_leaves_no_row() {
    let db = TempDb::new("cancel-batch");
    let store = one_connection(&db);
    store
        .create(&NewUser::new("Ada", "ada@example.com"))
        .unwrap();
    let before = count_rows(&db);

    let news = batch("pool", BATCH, "batch.example");
    let insert = tokio::spawn({
        let store = store.clone();
        async move { store.create_many_async(&news).await }
    });
    wait_for_in_use(&store, 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !insert.is_finished(),
        "the batch ended before it could be cancelled"
    );
    insert.abort();

    wait_for_in_use(&store, 0, STOP_BOUND).await;
    assert_eq!(count_rows(&db), before, "no row of the batch is stored");
    // The write lock is free and the connection is out of any transaction.
    let start = Instant::now();
    store
        .create(&NewUser::new("Bob", "bob@example.com"))
        .unwrap();
    assert!(start.elapsed() < STOP_BOUND);
    assert_eq!(count_rows(&db), before + 1);
    assert!(store.connection().unwrap().is_autocommit());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_batch_insert_cancelled_midway_leaves_no_row_and_frees_the_lane() {
    let db = TempDb::new("cancel-lane-batch");
    let store = LaneStore::open(db.path()).unwrap();
    store
        .create(&NewUser::new("Ada", "ada@example.com"))
        .unwrap();
    let before = count_rows(&db);

    let news = batch("lane", BATCH, "batch.example");
    let insert = store.create_many_async(&news);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), insert)
            .await
            .is_err(),
        "the batch ended before it could be cancelled"
    );

    // The lane takes its next call at once, on a connection out of any transaction.
    let start = Instant::now();
    let next = tokio::time::timeout(STOP_BOUND, store.call_async(|c| Ok(c.is_autocommit())));
    assert!(next.await.expect("the lane is free").unwrap());
    assert!(start.elapsed() < STOP_BOUND);
    assert_eq!(count_rows(&db), before, "no row of the batch is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_call_dropped_during_a_slow_query_frees_the_lane() {
    let db = TempDb::new("cancel-lane-scan");
    let store = LaneStore::open(db.path()).unwrap();
    let slow = store.call_async(|connection| {
        Ok(connection.query_row(SCAN, [SCAN_ROWS], |row| row.get::<_, i64>(0))?)
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err()
    );
    let start = Instant::now();
    let next = tokio::time::timeout(STOP_BOUND, store.list_async(0, 10)).await;
    assert_eq!(next.expect("the lane is free").unwrap(), []);
    assert!(start.elapsed() < STOP_BOUND);
}

#[test]
fn interrupt_with_nothing_running_leaves_the_next_query_alone() {
    let db = TempDb::new("cancel-idle-interrupt");
    let store = one_connection(&db);
    let ada = store
        .create(&NewUser::new("Ada", "ada@example.com"))
        .unwrap();

    let connection = store.connection().unwrap();
    connection.get_interrupt_handle().interrupt();
    let count: i64 = connection
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 1);
    drop(connection);
    // The same (only) connection, through the store.
    assert_eq!(store.get(ada.id).unwrap(), ada);
    assert_eq!(store.report(1000).unwrap().users, 1);

    let lane = LaneStore::open(db.path()).unwrap();
    lane.call(|connection| {
        connection.get_interrupt_handle().interrupt();
        Ok(())
    })
    .unwrap();
    assert_eq!(lane.get(ada.id).unwrap(), ada);
}

/// Checks out the store's connection, uses it and gives it back, then waits for `proceed`
/// (or for its sender to be dropped) before returning: a body still running whose
/// connection is already someone else's.
#[smartasync]
fn use_then_wait(
    store: UserStore,
    released: mpsc::Sender<()>,
    proceed: mpsc::Receiver<()>,
) -> Result<(), UserError> {
    let one: i64 = store
        .connection()?
        .query_row("SELECT 1", [], |row| row.get(0))?;
    assert_eq!(one, 1);
    released.send(()).unwrap();
    let _ = proceed.recv_timeout(Duration::from_secs(10));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_does_not_interrupt_the_next_user_of_its_connection() {
    let db = TempDb::new("cancel-next-user");
    let store = one_connection(&db);
    let (released, was_released) = mpsc::channel();
    let (go_on, proceed) = mpsc::channel();
    let first = tokio::spawn(use_then_wait_async(store.clone(), released, proceed));
    tokio::task::spawn_blocking(move || was_released.recv().unwrap())
        .await
        .unwrap();

    // The connection's next user: a sync call, on a thread of its own.
    let next = std::thread::spawn({
        let store = store.clone();
        move || store.report(3_000_000)
    });
    wait_for_in_use(&store, 1, Duration::from_secs(10)).await;
    // The first call's caller goes away while its body still runs.
    first.abort();
    let _ = first.await;
    drop(go_on);

    let report = tokio::task::spawn_blocking(move || next.join().unwrap())
        .await
        .unwrap();
    assert_eq!(report.expect("not interrupted").work, 3_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_interrupts_lets_an_abandoned_query_run() {
    let db = TempDb::new("cancel-without");
    let store = one_connection(&db).without_interrupts();
    let slow = tokio::spawn(scan_async(store.clone(), 5_000_000));
    wait_for_in_use(&store, 1, Duration::from_secs(10)).await;
    slow.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Still running after its caller left (it ends on its own, within seconds).
    assert_eq!(store.connections_in_use(), 1);
    wait_for_in_use(&store, 0, Duration::from_secs(30)).await;
}
