//! `Users::export` on every backend, through both entries: every user in id order, one
//! snapshot, the pooled connection given back when an export is dropped early (by its
//! caller, or by an HTTP client that goes away), and the lane left free while an export runs.

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use smartasync::Stream;
use smartasync_example_users::{
    LaneStore, NewUser, RemoteUsers, User, UserError, UserStore, Users, sql,
};
use support::{TempDb, fill, http_client, listed, serve};

/// More users than one batch of the SQL cursor and of the stream, with gaps in the ids.
const USERS: u64 = 1000;

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

/// Every item of an async export, the rows unwrapped.
async fn export_async(users: &dyn Users) -> Vec<User> {
    let mut rows = users.export_async().await.expect("start the export");
    let mut all = Vec::new();
    while let Some(row) = next(&mut rows).await {
        all.push(row.expect("a row"));
    }
    all
}

/// Every item of a blocking export, the rows unwrapped, read on a blocking thread.
async fn export_blocking(users: Arc<dyn Users>) -> Vec<User> {
    tokio::task::spawn_blocking(move || {
        users
            .export()
            .expect("start the export")
            .collect::<Result<Vec<_>, _>>()
            .expect("every row")
    })
    .await
    .expect("the blocking export")
}

/// A database of [`USERS`] users less every seventh one.
fn filled(tag: &str) -> TempDb {
    let db = TempDb::new(tag);
    fill(db.path(), USERS);
    sql::open(db.path())
        .expect("open the database")
        .execute("DELETE FROM users WHERE id % 7 = 0", [])
        .expect("delete some users");
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_exports_every_user_in_order_through_both_entries() {
    let db = filled("every");
    let pool: Arc<dyn Users> = Arc::new(UserStore::open_async(db.path()).await.unwrap());
    let lane: Arc<dyn Users> = Arc::new(LaneStore::open_async(db.path()).await.unwrap());
    let remote: Arc<dyn Users> = Arc::new(RemoteUsers::new(&serve(pool.clone()).await).unwrap());
    let remote_of_lane: Arc<dyn Users> =
        Arc::new(RemoteUsers::new(&serve(lane.clone()).await).unwrap());

    let expected = {
        let pool = pool.clone();
        tokio::task::spawn_blocking(move || listed(&*pool))
            .await
            .unwrap()
    };
    assert_eq!(
        expected.len(),
        858,
        "1000 users less the 142 multiples of 7"
    );
    for (name, users) in [
        ("pool", pool),
        ("lane", lane),
        ("remote", remote),
        ("remote over the lane", remote_of_lane),
    ] {
        assert!(
            export_async(&*users).await == expected,
            "{name}: export_async differs from the listed users"
        );
        assert!(
            export_blocking(users).await == expected,
            "{name}: export differs from the listed users"
        );
    }
}

/// An export reads the database as it was when it started: a user created meanwhile, past
/// the first batch of the cursor, is not in it; the next export has it.
#[test]
fn an_export_reads_one_snapshot() {
    let db = filled("snapshot");
    for (name, users) in [
        (
            "pool",
            Arc::new(UserStore::open(db.path()).unwrap()) as Arc<dyn Users>,
        ),
        ("lane", Arc::new(LaneStore::open(db.path()).unwrap())),
    ] {
        let before = listed(&*users);
        let mut rows = users.export().unwrap();
        assert_eq!(rows.next().unwrap().unwrap(), before[0]);
        let created = users
            .create(&NewUser::new("Late", &format!("late-{name}@example.com")))
            .unwrap();
        users.delete(before[before.len() - 1].id).unwrap();
        let rest = rows.collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(rest, before[1..], "{name}: the export saw a later change");

        let after = users.export().unwrap().collect::<Result<Vec<_>, _>>();
        assert_eq!(after.unwrap().last(), Some(&created));
    }
}

/// Whether a dropped export handed back its pooled connection out of its transaction:
/// with a pool of one, the next call gets that very connection.
fn connection_is_back_in_autocommit(store: &UserStore) -> bool {
    store.connections_in_use() == 0 && store.connection().unwrap().is_autocommit()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_dropped_early_gives_its_connection_back() {
    let db = filled("dropped");
    let store = UserStore::open_with_pool_size(db.path(), 1)
        .unwrap()
        .with_connection_wait(Duration::from_millis(200));

    // The blocking entry: the cursor is dropped on this thread.
    let blocking = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut rows = blocking.export().unwrap();
        rows.next().unwrap().unwrap();
        assert_eq!(blocking.connections_in_use(), 1);
        // The pool's only connection is the export's.
        assert!(matches!(blocking.get(1), Err(UserError::Unavailable(_))));
        drop(rows);
        assert!(connection_is_back_in_autocommit(&blocking));
    })
    .await
    .unwrap();

    // The async entry: the cursor is dropped on its producer's thread, soon after.
    let mut rows = store.export_async().await.unwrap();
    next(&mut rows).await.unwrap().unwrap();
    assert_eq!(store.connections_in_use(), 1);
    drop(rows);
    wait_for_no_connection_in_use(&store).await;
    assert!(connection_is_back_in_autocommit(&store));

    // An export read to its end ends its transaction before it is dropped.
    let mut rows = store.export().unwrap();
    for row in rows.by_ref() {
        row.unwrap();
    }
    assert!(store.connection().is_err(), "the export still holds it");
    drop(rows);
    assert!(connection_is_back_in_autocommit(&store));
}

/// Waits (at most 10 s) until the store lends none of its connections.
async fn wait_for_no_connection_in_use(store: &UserStore) {
    for _ in 0..2000 {
        if store.connections_in_use() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{} connections still in use after 10 s",
        store.connections_in_use()
    );
}

/// A client that reads the first lines of `GET /users/export` and goes away: the server
/// drops the export, the pool's only connection comes back, and the next request is served.
/// The export is larger than what the sockets and the stream buffer between them, so it is
/// still reading (holding the connection) when the client leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_an_export_early_gives_the_connection_back() {
    let db = TempDb::new("leaves");
    fill(db.path(), 300_000);
    let store = UserStore::open_with_pool_size(db.path(), 1).unwrap();
    let base = serve(Arc::new(store.clone())).await;
    let http = http_client();

    let mut response = http
        .get(format!("{base}/users/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert!(first.starts_with(br#"{"id":1,"name":"user 1","email":"user1@example.com"}"#));
    // The export waits for the client, holding the connection.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.connections_in_use(), 1);

    drop(response);
    wait_for_no_connection_in_use(&store).await;
    assert!(connection_is_back_in_autocommit(&store));
    let user: User = support::get_json(&http, &format!("{base}/users/2")).await;
    assert_eq!(user.email, "user2@example.com");
}

/// An export of the lane store reads on a connection of its own, off the lane: while one
/// is held half-read (its producer waiting for the consumer), the lane serves other calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_export_leaves_the_lane_free() {
    let db = filled("lane-free");
    let lane = LaneStore::open_async(db.path()).await.unwrap();
    let mut rows = lane.export_async().await.unwrap();
    next(&mut rows).await.unwrap().unwrap();
    // Time for the producer to fill the stream's buffer and wait.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let served = tokio::time::timeout(Duration::from_secs(10), async {
        lane.create_async(&NewUser::new("Ada", "ada@example.com"))
            .await
    });
    let ada = served.await.expect("the lane is free").unwrap();
    assert_eq!(lane.get_async(ada.id).await.unwrap(), ada);
    drop(rows);
}

/// A failure to start is the outer error, before any row: over HTTP, the remote's status
/// mapped back (here a 503: the pool's only connection is taken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_start_is_an_error_before_any_row() {
    let db = filled("busy");
    let store = UserStore::open_with_pool_size(db.path(), 1)
        .unwrap()
        .with_connection_wait(Duration::from_millis(100));
    let base = serve(Arc::new(store.clone())).await;
    let held = store.connection().unwrap();

    let response = http_client()
        .get(format!("{base}/users/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");

    let remote = RemoteUsers::new(&base).unwrap();
    let error = remote.export_async().await.err().expect("no export");
    assert!(matches!(error, UserError::Unavailable(_)), "{error:?}");
    drop(held);
    assert_eq!(export_async(&remote).await.len(), 858);
}

/// A backend whose export fails after `rows` users (at once for 0); it has no other users.
#[derive(Clone)]
struct FailsAfter {
    rows: i64,
}

fn disk_failed() -> UserError {
    UserError::Internal("the disk failed".into())
}

#[smartasync::smartasync]
impl Users for FailsAfter {
    fn list(&self, _after: i64, _limit: u32) -> Result<Vec<User>, UserError> {
        Ok(Vec::new())
    }

    fn get(&self, id: i64) -> Result<User, UserError> {
        Err(UserError::NotFound { id })
    }

    fn create(&self, _new: &NewUser) -> Result<User, UserError> {
        Err(disk_failed())
    }

    fn import(&self, _users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        Err(disk_failed())
    }

    fn update(&self, id: i64, _new: &NewUser) -> Result<User, UserError> {
        Err(UserError::NotFound { id })
    }

    fn delete(&self, id: i64) -> Result<(), UserError> {
        Err(UserError::NotFound { id })
    }

    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError> {
        let users = (1..=self.rows).map(|id| {
            Ok(User {
                id,
                name: format!("user {id}"),
                email: format!("user{id}@example.com"),
            })
        });
        Ok(users.chain(std::iter::once(Err(disk_failed()))))
    }
}

/// A row that fails before any was sent is the status of its error, with a JSON message; one
/// that fails later ends the body with an error after rows before it (as many as the server
/// flushed before it closed the connection), so that a client, here `RemoteUsers` too, sees
/// the list cut short, never as complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_row_is_a_status_before_the_first_row_and_a_broken_body_after() {
    let http = http_client();

    let at_once = serve(Arc::new(FailsAfter { rows: 0 })).await;
    let response = http
        .get(format!("{at_once}/users/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "error": "internal error" }));
    let remote = RemoteUsers::new(&at_once).unwrap();
    let error = remote.export_async().await.err().expect("no export");
    assert!(matches!(error, UserError::Upstream(_)), "{error:?}");

    // Enough rows that the answer's head and the first lines are sent before the failure.
    let failing_after = 5000;
    let later = serve(Arc::new(FailsAfter {
        rows: failing_after,
    }))
    .await;
    let mut response = http
        .get(format!("{later}/users/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    let mut body = Vec::new();
    let broken = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(broken, "the body ended as if complete");
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() <= 5000,
        "{} lines",
        lines.len()
    );
    for (id, line) in (1..).zip(&lines[..lines.len() - 1]) {
        let user: User = serde_json::from_str(line).unwrap();
        assert_eq!(user.id, id);
    }

    let remote = RemoteUsers::new(&later).unwrap();
    let mut rows = remote.export_async().await.unwrap();
    let mut id = 0;
    let error = loop {
        match next(&mut rows).await.expect("an error before the end") {
            Ok(user) => {
                id += 1;
                assert_eq!(user.id, id);
            }
            Err(error) => break error,
        }
    };
    assert!(id <= failing_after, "{id} rows");
    assert!(matches!(error, UserError::Upstream(_)), "{error:?}");
    assert!(error.to_string().contains("broke off"), "{error}");
    assert!(next(&mut rows).await.is_none());
}
