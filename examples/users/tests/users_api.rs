//! The users API end to end: a real server on a loopback port, a real HTTP client, a real
//! SQLite file. Every client mistake gets its 4xx with a JSON `{"error": ...}` body. The
//! tests of what the API answers run on both SQLite stores (`name::pool`, `name::lane`);
//! those of the pool's own behaviour (connections lent, pool exhausted) on the pool.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};
use smartasync_example_users::{
    LaneStore, MAX_BODY_BYTES, MAX_REPORT_WORK, RETRY_AFTER_SECS, Store, User, UserError, UserStore,
};
use support::{TempDb, create, get_json, http_client, serve, start, start_on};

/// `async fn name(store: Store) { .. }` as two tests, `name::pool` and `name::lane`, each
/// on a 2-worker runtime and its own database file.
macro_rules! on_both_stores {
    ($(#[$attr:meta])* async fn $name:ident($store:ident: Store) $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            async fn run($store: Store) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pool() {
                run(Store::Pool).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn lane() {
                run(Store::Lane).await;
            }
        }
    };
}

/// `GET`, `DELETE` and `PUT` (with a valid body) of the user at `url` each get `status`
/// with a JSON error message.
async fn expect_error_from_every_method(http: &reqwest::Client, url: &str, status: StatusCode) {
    expect_error(http.get(url).send().await.unwrap(), status).await;
    expect_error(http.delete(url).send().await.unwrap(), status).await;
    let response = http
        .put(url)
        .json(&json!({"name": "Ada", "email": "a@example.com"}))
        .send()
        .await
        .unwrap();
    expect_error(response, status).await;
}

/// Asserts the status and that the body is a JSON error with a non-empty message; returns
/// the message.
async fn expect_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{response:?}");
    let content_type = response.headers()[header::CONTENT_TYPE].clone();
    assert_eq!(content_type, "application/json", "{response:?}");
    let body: Value = response.json().await.expect("a JSON error body");
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no `error` string in {body}"));
    assert!(!message.is_empty());
    message.to_owned()
}

/// Sends `POST /users` over a plain socket, announcing `declared` body bytes but sending only
/// `sent`, then reads the answer without sending more; returns its status and body. Fails if
/// the server waits for the rest (the read times out).
fn post_partial_body(addr: &str, declared: usize, sent: usize) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "POST /users HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {declared}\r\n\r\n{{\"name\": \""
    )
    .into_bytes();
    request.resize(request.len() + sent, b'x');
    stream
        .write_all(&request)
        .expect("send the head and part of the body");

    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    let (head_len, content_length) = loop {
        let n = stream
            .read(&mut chunk)
            .expect("an answer before the body was complete");
        assert!(n > 0, "connection closed without an answer");
        response.extend_from_slice(&chunk[..n]);
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .expect("a content-length in the answer");
            break (end + 4, length);
        }
        assert!(response.len() < 64 * 1024, "an endless response head");
    };
    while response.len() < head_len + content_length {
        let n = stream.read(&mut chunk).expect("the answer's body");
        assert!(n > 0, "connection closed in the answer's body");
        response.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&response[..head_len]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let body = String::from_utf8_lossy(&response[head_len..head_len + content_length]);
    (status, body.into_owned())
}

/// Waits (at most 10 s) until `n` of the store's connections are lent to calls.
async fn wait_for_connections_in_use(store: &UserStore, n: u32) {
    for _ in 0..2000 {
        if store.connections_in_use() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{} connections in use after 10 s, expected {n}",
        store.connections_in_use()
    );
}

/// Holds the database's write lock (as a second writer, such as the CLI, would) until
/// dropped or released: an insert by the store meanwhile waits inside SQLite.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(path: &Path) -> Self {
        let connection = rusqlite::Connection::open(path).expect("open the database");
        connection
            .execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        Self(connection)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").expect("release the lock");
    }
}

on_both_stores! {
    async fn crud_cycle(store: Store) {
        let db = TempDb::new("crud");
        let base = start_on(store, &db).await;
        let http = http_client();

        let health = http.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        assert_eq!(
            health.json::<Value>().await.unwrap(),
            json!({"status": "ok"})
        );

        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert!(list.is_empty());

        // Create: 201, a Location, and the stored (trimmed, lowercased) values.
        let created = create(&http, &base, "  Ada Lovelace ", "Ada@Example.COM").await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let location = created.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let ada: User = created.json().await.unwrap();
        assert_eq!(ada.name, "Ada Lovelace");
        assert_eq!(ada.email, "ada@example.com");
        assert_eq!(location, format!("/users/{}", ada.id));

        // Read it back, alone and in the list.
        let got: User = get_json(&http, &format!("{base}{location}")).await;
        assert_eq!(got, ada);
        let bob: User = create(&http, &base, "Bob", "bob@example.com")
            .await
            .json()
            .await
            .unwrap();
        assert!(bob.id > ada.id);
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(list, vec![ada.clone(), bob.clone()]);

        // Update: replaces name and email.
        let updated = http
            .put(format!("{base}/users/{}", ada.id))
            .json(&json!({"name": "Augusta Ada King", "email": "countess@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(updated.status(), StatusCode::OK);
        let updated: User = updated.json().await.unwrap();
        assert_eq!(
            updated,
            User {
                id: ada.id,
                name: "Augusta Ada King".into(),
                email: "countess@example.com".into()
            }
        );
        let got: User = get_json(&http, &format!("{base}/users/{}", ada.id)).await;
        assert_eq!(got, updated);
        // The old email is free again.
        let again = create(&http, &base, "Another Ada", "ada@example.com").await;
        assert_eq!(again.status(), StatusCode::CREATED);

        // Delete: 204, then gone.
        let deleted = http
            .delete(format!("{base}/users/{}", ada.id))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let gone = http
            .get(format!("{base}/users/{}", ada.id))
            .send()
            .await
            .unwrap();
        let message = expect_error(gone, StatusCode::NOT_FOUND).await;
        assert!(message.contains(&ada.id.to_string()), "{message}");
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(
            list.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![bob.id, bob.id + 1]
        );
    }
}

on_both_stores! {
    async fn pages_of_users(store: Store) {
        let db = TempDb::new("pages");
        let base = start_on(store, &db).await;
        let http = http_client();
        for i in 0..5 {
            let response = create(
                &http,
                &base,
                &format!("user {i}"),
                &format!("u{i}@example.com"),
            )
            .await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let first: Vec<User> = get_json(&http, &format!("{base}/users?limit=2")).await;
        assert_eq!(
            first.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["user 0", "user 1"]
        );
        let next: Vec<User> = get_json(
            &http,
            &format!("{base}/users?limit=2&after={}", first[1].id),
        )
        .await;
        assert_eq!(
            next.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["user 2", "user 3"]
        );
        let last: Vec<User> = get_json(&http, &format!("{base}/users?after={}", next[1].id)).await;
        assert_eq!(
            last.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["user 4"]
        );
    }
}

on_both_stores! {
    async fn conflicts_are_409(store: Store) {
        let db = TempDb::new("conflict");
        let base = start_on(store, &db).await;
        let http = http_client();
        let ada: User = create(&http, &base, "Ada", "ada@example.com")
            .await
            .json()
            .await
            .unwrap();
        let bob: User = create(&http, &base, "Bob", "bob@example.com")
            .await
            .json()
            .await
            .unwrap();

        // The same email, whatever its case or surrounding spaces.
        let duplicate = create(&http, &base, "Other Ada", " ADA@example.com ").await;
        let message = expect_error(duplicate, StatusCode::CONFLICT).await;
        assert!(message.contains("ada@example.com"), "{message}");

        // Taking another user's email with PUT.
        let taken = http
            .put(format!("{base}/users/{}", bob.id))
            .json(&json!({"name": "Bob", "email": "ada@example.com"}))
            .send()
            .await
            .unwrap();
        expect_error(taken, StatusCode::CONFLICT).await;

        // Nothing changed.
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(list, vec![ada.clone(), bob]);

        // Keeping one's own email is no conflict.
        let renamed = http
            .put(format!("{base}/users/{}", ada.id))
            .json(&json!({"name": "Ada L.", "email": "ada@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
    }
}

on_both_stores! {
    async fn concurrent_creates_with_one_email_store_one_user(store: Store) {
        let db = TempDb::new("race");
        let base = start_on(store, &db).await;
        let http = http_client();
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    create(&http, &base, &format!("racer {i}"), "same@example.com")
                        .await
                        .status()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let conflicts = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((created, conflicts), (1, 15), "{statuses:?}");
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(list.len(), 1);
    }
}

on_both_stores! {
    async fn invalid_input_is_422(store: Store) {
        let db = TempDb::new("invalid");
        let base = start_on(store, &db).await;
        let http = http_client();
        for (name, email, hint) in [
            ("", "a@example.com", "name"),
            ("   ", "a@example.com", "name"),
            ("Ada", "not-an-email", "email"),
            ("Ada", "a@b", "email"),
            ("Ada", "a b@example.com", "email"),
            ("Ada", "@example.com", "email"),
        ] {
            let response = create(&http, &base, name, email).await;
            let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(message.contains(hint), "{name:?} {email:?}: {message}");
        }
        let long_name = "x".repeat(101);
        expect_error(
            create(&http, &base, &long_name, "a@example.com").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

        // An invalid replacement is refused before the id is even looked at.
        let ada: User = create(&http, &base, "Ada", "ada@example.com")
            .await
            .json()
            .await
            .unwrap();
        let response = http
            .put(format!("{base}/users/{}", ada.id))
            .json(&json!({"name": "", "email": "ada@example.com"}))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;

        // Out-of-range query values.
        for query in ["/users?limit=0", "/users?limit=1001"] {
            let response = http.get(format!("{base}{query}")).send().await.unwrap();
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(list, vec![ada]);
    }
}

on_both_stores! {
    async fn malformed_requests_are_4xx_with_json(store: Store) {
        let db = TempDb::new("malformed");
        let base = start_on(store, &db).await;
        let http = http_client();
        let post = |body: &'static str| {
            http.post(format!("{base}/users"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
        };

        // Not JSON at all, or cut short: 400.
        expect_error(
            post("{\"name\": \"Ada\",").await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        expect_error(post("name=Ada").await.unwrap(), StatusCode::BAD_REQUEST).await;
        expect_error(post("").await.unwrap(), StatusCode::BAD_REQUEST).await;

        // JSON of the wrong shape: 422, naming the problem.
        let message = expect_error(
            post(r#"{"name": "Ada"}"#).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(message.contains("email"), "{message}");
        expect_error(
            post(r#"{"name": 7, "email": "a@example.com"}"#)
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        expect_error(
            post(r#"{"name": "Ada", "email": "a@example.com", "admin": true}"#)
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        expect_error(
            post("[1, 2]").await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

        // No JSON content type: 415.
        let response = http
            .post(format!("{base}/users"))
            .body(r#"{"name": "Ada", "email": "a@example.com"}"#)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

        // Too large: 413.
        let huge = json!({"name": "x".repeat(MAX_BODY_BYTES), "email": "a@example.com"});
        let response = http
            .post(format!("{base}/users"))
            .json(&huge)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;
        // And without reading it all: a client that announces a mebibyte and sends only 2
        // limits' worth gets its 413 while the rest is still unsent.
        let addr = base.strip_prefix("http://").unwrap().to_owned();
        let (status, body) =
            tokio::task::spawn_blocking(move || post_partial_body(&addr, 1 << 20, 2 * MAX_BODY_BYTES))
                .await
                .unwrap();
        assert_eq!(status, 413, "{body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON error body");
        assert!(
            body["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );

        // A path id that is not an i64: 400, for every method.
        for id in ["abc", "1.5", "99999999999999999999", "%00"] {
            let url = format!("{base}/users/{id}");
            expect_error_from_every_method(&http, &url, StatusCode::BAD_REQUEST).await;
        }

        // A query string of the wrong type or with unknown keys: 400.
        for query in ["/users?limit=many", "/users?after=-", "/users?sort=name"] {
            let response = http.get(format!("{base}{query}")).send().await.unwrap();
            expect_error(response, StatusCode::BAD_REQUEST).await;
        }

        // Nothing was stored along the way.
        let list: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert!(list.is_empty());
    }
}

on_both_stores! {
    async fn unknown_ids_and_routes_are_404(store: Store) {
        let db = TempDb::new("unknown");
        let base = start_on(store, &db).await;
        let http = http_client();
        for id in [1, 0, -5, i64::MAX] {
            let url = format!("{base}/users/{id}");
            expect_error_from_every_method(&http, &url, StatusCode::NOT_FOUND).await;
        }
        let message = expect_error(
            http.get(format!("{base}/nope")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(message.contains("/nope"), "{message}");
        expect_error(
            http.patch(format!("{base}/users/1")).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;
        expect_error(
            http.delete(format!("{base}/users")).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;
        // The deliberately slow report is not served to clients.
        expect_error(
            http.get(format!("{base}/report?work=1000"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
    }
}

/// The server runs on this test's single-threaded runtime. An insert is held inside SQLite
/// (the test holds the write lock, so SQLite's busy handler makes it wait) while `/health`
/// is asked three times. Had the handler blocked the thread on SQLite, nothing else would
/// run, not `/health` and not this test, until the busy timeout. With the `_async` entries
/// the insert waits on the blocking pool: the pool shows its connection lent out before
/// and after `/health` answers, so the insert was in flight the whole time.
#[tokio::test]
async fn a_query_waiting_in_sqlite_does_not_stall_a_current_thread_server() {
    let db = TempDb::new("overlap");
    let (base, store) = start(&db).await;
    let http = http_client();
    let lock = WriteLock::take(db.path());
    let insert = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move { create(&http, &base, "Ada", "ada@example.com").await }
    });
    wait_for_connections_in_use(&store, 1).await;
    for _ in 0..3 {
        let health: Value = get_json(&http, &format!("{base}/health")).await;
        assert_eq!(health, json!({"status": "ok"}));
    }
    assert_eq!(
        store.connections_in_use(),
        1,
        "the insert left SQLite before /health was answered"
    );
    assert!(!insert.is_finished());

    lock.release();
    let created = tokio::time::timeout(Duration::from_secs(30), insert)
        .await
        .expect("the insert finishes once the lock is released")
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let users: Vec<User> = get_json(&http, &format!("{base}/users")).await;
    assert_eq!(users.len(), 1);
}

/// Every pooled connection busy for longer than the store's connection wait: the request
/// that cannot get one is a 503 with a JSON message and a `Retry-After`, not a 500, and the
/// service recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_free_connection_is_503() {
    let db = TempDb::new("exhausted");
    let store = UserStore::open_with_pool_size_async(db.path(), 1)
        .await
        .unwrap()
        .with_connection_wait(Duration::from_millis(100));
    let base = serve(Arc::new(store.clone())).await;
    let http = http_client();
    let lock = WriteLock::take(db.path());
    let insert = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move { create(&http, &base, "Ada", "ada@example.com").await }
    });
    // The only connection is lent to the insert, which waits in SQLite.
    wait_for_connections_in_use(&store, 1).await;
    let response = http.get(format!("{base}/users")).send().await.unwrap();
    // A deliberate "not now": it says when to come back.
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some(RETRY_AFTER_SECS.to_string().as_str()),
        "{response:?}"
    );
    let message = expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(message.contains("busy"), "{message}");
    assert_eq!(store.connections_in_use(), 1);

    lock.release();
    let created = tokio::time::timeout(Duration::from_secs(30), insert)
        .await
        .expect("the insert finishes once the lock is released")
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let users: Vec<User> = get_json(&http, &format!("{base}/users")).await;
    assert_eq!(users.len(), 1);
}

/// The heavy report query is for the load example's own servers: capped, and not routed
/// by the public router (see `unknown_ids_and_routes_are_404`).
#[test]
fn report_is_capped() {
    let db = TempDb::new("report");
    let store = UserStore::open(db.path()).unwrap();
    let report = store.report(1000).unwrap();
    assert_eq!((report.users, report.work), (0, 1000));
    let error = store.report(MAX_REPORT_WORK + 1).unwrap_err();
    assert!(matches!(error, UserError::Invalid { .. }), "{error:?}");
}

/// `:memory:` would give every pooled connection a database of its own: refused, because
/// SQLite cannot put it in WAL mode.
#[test]
fn an_in_memory_database_is_refused() {
    for store in [Store::Pool, Store::Lane] {
        match store.open(Path::new(":memory:")).map(drop).unwrap_err() {
            UserError::Invalid { reason } => assert!(reason.contains("wal"), "{reason}"),
            other => panic!("{store:?}: expected Invalid, got {other:?}"),
        }
    }
}

/// A write that finds the file locked by another process for longer than the busy timeout
/// is a transient refusal (503 to retry), not a server fault (500). Shown on a connection
/// with a short busy timeout, so that the test does not wait the store's 5 s.
#[test]
fn a_file_locked_past_the_busy_timeout_is_unavailable() {
    let db = TempDb::new("locked");
    let connection = smartasync_example_users::sql::open(db.path()).unwrap();
    connection.busy_timeout(Duration::from_millis(50)).unwrap();
    let lock = WriteLock::take(db.path());
    let error = smartasync_example_users::sql::create(
        &connection,
        &smartasync_example_users::NewUser::new("Ada", "ada@example.com"),
    )
    .unwrap_err();
    assert!(matches!(error, UserError::Unavailable(_)), "{error:?}");
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    lock.release();
}

/// Each lane-backed store has its own connection on the lane thread, whatever other stores
/// the process has open; clones share it; the last handle dropped closes it (SQLite then
/// checkpoints and deletes the `-wal` file, which only happens once no connection is open).
#[test]
fn lane_stores_keep_their_own_connection_and_close_it_when_dropped() {
    use smartasync_example_users::{NewUser, Users};

    let (first_db, second_db) = (TempDb::new("lane-a"), TempDb::new("lane-b"));
    let first = LaneStore::open(first_db.path()).unwrap();
    let second = LaneStore::open(second_db.path()).unwrap();
    let ada = first
        .create(&NewUser::new("Ada", "ada@example.com"))
        .unwrap();
    assert_eq!(second.list(0, 10).unwrap(), vec![]);
    assert_eq!(first.clone().get(ada.id).unwrap(), ada);

    let wal = |db: &TempDb| {
        let mut path = db.path().as_os_str().to_owned();
        path.push("-wal");
        std::path::PathBuf::from(path)
    };
    assert!(wal(&first_db).exists());
    drop(first);
    assert!(!wal(&first_db).exists(), "the connection is still open");
    // The other store is untouched.
    second
        .create(&NewUser::new("Ada", "ada@example.com"))
        .unwrap();
    assert_eq!(second.list(0, 10).unwrap().len(), 1);
}

/// Every connection of a store runs the durability it was opened with (SQLite's
/// `synchronous`: 1 for NORMAL, 2 for FULL), NORMAL unless asked, on both stores; the pool's
/// connections opened later (by its init hook) as well as the first.
#[test]
fn stores_run_the_durability_they_were_opened_with() {
    use smartasync_example_users::Durability;

    fn synchronous(connection: &rusqlite::Connection) -> Result<i64, UserError> {
        Ok(connection.pragma_query_value(None, "synchronous", |row| row.get(0))?)
    }
    for (durability, expected) in [
        (None, 1),
        (Some(Durability::Normal), 1),
        (Some(Durability::Full), 2),
    ] {
        let db = TempDb::new("durability");
        let pool = match durability {
            None => UserStore::open(db.path()),
            Some(durability) => UserStore::open_with(db.path(), 2, durability),
        }
        .unwrap();
        // Two connections checked out at once: the second is made by the pool's hook.
        let (one, two) = (pool.connection().unwrap(), pool.connection().unwrap());
        assert_eq!(synchronous(&one).unwrap(), expected, "{durability:?}");
        assert_eq!(synchronous(&two).unwrap(), expected, "{durability:?}");

        let lane = match durability {
            None => LaneStore::open(db.path()),
            Some(durability) => LaneStore::open_with(db.path(), durability),
        }
        .unwrap();
        assert_eq!(lane.call(synchronous).unwrap(), expected, "{durability:?}");
    }
}

/// `LaneStore::call` runs on the lane's thread, and what it runs may open and drop other
/// stores there (nested lane calls run inline), reaching its own connection before and after.
#[test]
fn a_lane_call_may_open_and_drop_stores() {
    let (db, other_db) = (TempDb::new("lane-call"), TempDb::new("lane-call-other"));
    let store = LaneStore::open(db.path()).unwrap();
    let other_path = other_db.path().to_owned();
    let (thread, mode) = store
        .call(move |connection| {
            let other = LaneStore::open(&other_path)?;
            drop(other);
            let mode: String =
                connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
            Ok((std::thread::current().name().map(str::to_owned), mode))
        })
        .unwrap();
    assert_eq!(thread.as_deref(), Some("users-db-0"));
    assert_eq!(mode, "wal");
}

on_both_stores! {
    /// A real server fault (here the table vanished under the store) is the one 500, and its
    /// details stay in the server's log.
    async fn store_failures_are_500_without_details(store: Store) {
        let db = TempDb::new("fault");
        let base = start_on(store, &db).await;
        let http = http_client();
        let path = db.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let connection = rusqlite::Connection::open(path).unwrap();
            connection.execute_batch("DROP TABLE users").unwrap();
        })
        .await
        .unwrap();
        let response = http.get(format!("{base}/users")).send().await.unwrap();
        let message = expect_error(response, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(message, "internal error");
        let health = http.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
}
