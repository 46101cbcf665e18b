//! The users API end to end: a real server on a loopback port, a real HTTP client, a real
//! SQLite file. Every client mistake gets its 4xx with a JSON `{"error": ...}` body.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode, header};
use serde_json::{Value, json};
use smartasync_examples::users::{self, MAX_BODY_BYTES, User, UserStore};

/// A database file of its own, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "smartasync-users-api-{tag}-{}-{n}.db",
            std::process::id()
        ));
        remove_db(&path);
        Self(path)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        remove_db(&self.0);
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Starts the API on an ephemeral loopback port of the current runtime; returns its base URL.
async fn start(db: &TempDb) -> String {
    let store = UserStore::open_async(&db.0).await.expect("open the store");
    let addr = users::spawn_server(users::router(store))
        .await
        .expect("bind a loopback port");
    format!("http://{addr}")
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
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

async fn create(client: &Client, base: &str, name: &str, email: &str) -> Response {
    client
        .post(format!("{base}/users"))
        .json(&json!({ "name": name, "email": email }))
        .send()
        .await
        .expect("POST /users")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_cycle() {
    let db = TempDb::new("crud");
    let base = start(&db).await;
    let http = client();

    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let got: User = http
        .get(format!("{base}{location}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, ada);
    let bob: User = create(&http, &base, "Bob", "bob@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert!(bob.id > ada.id);
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let got: User = http
        .get(format!("{base}/users/{}", ada.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![bob.id, bob.id + 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_users() {
    let db = TempDb::new("pages");
    let base = start(&db).await;
    let http = client();
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
    let first: Vec<User> = http
        .get(format!("{base}/users?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["user 0", "user 1"]
    );
    let next: Vec<User> = http
        .get(format!("{base}/users?limit=2&after={}", first[1].id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["user 2", "user 3"]
    );
    let last: Vec<User> = http
        .get(format!("{base}/users?after={}", next[1].id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        last.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["user 4"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_409() {
    let db = TempDb::new("conflict");
    let base = start(&db).await;
    let http = client();
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
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_email_store_one_user() {
    let db = TempDb::new("race");
    let base = start(&db).await;
    let http = client();
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
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_422() {
    let db = TempDb::new("invalid");
    let base = start(&db).await;
    let http = client();
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
    for query in [
        "/users?limit=0",
        "/users?limit=1001",
        "/report?work=4000000000",
    ] {
        let response = http.get(format!("{base}{query}")).send().await.unwrap();
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, vec![ada]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_4xx_with_json() {
    let db = TempDb::new("malformed");
    let base = start(&db).await;
    let http = client();
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

    // Too large: 413, without the server reading it all.
    let huge = json!({"name": "x".repeat(MAX_BODY_BYTES), "email": "a@example.com"});
    let response = http
        .post(format!("{base}/users"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;

    // A path id that is not an i64: 400, for every method.
    for id in ["abc", "1.5", "99999999999999999999", "%00"] {
        let url = format!("{base}/users/{id}");
        expect_error(
            http.get(&url).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        expect_error(
            http.delete(&url).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        let response = http
            .put(&url)
            .json(&json!({"name": "Ada", "email": "a@example.com"}))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST).await;
    }

    // A query string of the wrong type or with unknown keys: 400.
    for query in [
        "/users?limit=many",
        "/users?after=-",
        "/users?sort=name",
        "/report?work=-1",
    ] {
        let response = http.get(format!("{base}{query}")).send().await.unwrap();
        expect_error(response, StatusCode::BAD_REQUEST).await;
    }

    // Nothing was stored along the way.
    let list: Vec<User> = http
        .get(format!("{base}/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_routes_are_404() {
    let db = TempDb::new("unknown");
    let base = start(&db).await;
    let http = client();
    for id in [1, 0, -5, i64::MAX] {
        let url = format!("{base}/users/{id}");
        expect_error(http.get(&url).send().await.unwrap(), StatusCode::NOT_FOUND).await;
        expect_error(
            http.delete(&url).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        let response = http
            .put(&url)
            .json(&json!({"name": "Ada", "email": "a@example.com"}))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::NOT_FOUND).await;
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
}

/// The server runs on this test's single-threaded runtime: if a handler blocked its thread
/// on SQLite, `/health` could not be answered until the slow report finished. With the
/// `_async` entries, the report runs on the blocking pool and `/health` overtakes it.
#[tokio::test]
async fn slow_query_does_not_stall_a_current_thread_server() {
    let db = TempDb::new("overlap");
    let base = start(&db).await;
    let http = client();
    // Hundreds of milliseconds in an optimized build, over a second in a debug one.
    let report = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http
                .get(format!("{base}/report?work=3000000"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    });
    // Give the report a head start, so that it is running when /health arrives.
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..3 {
        let health = http.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
    assert!(
        !report.is_finished(),
        "the report finished before /health was answered"
    );
    let report = tokio::time::timeout(Duration::from_secs(60), report)
        .await
        .expect("the report finishes")
        .unwrap();
    assert_eq!(report["work"], 3_000_000);
    assert_eq!(report["users"], 0);
}

/// A real server fault (here the table vanished under the store) is the one 500, and its
/// details stay in the server's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_are_500_without_details() {
    let db = TempDb::new("fault");
    let base = start(&db).await;
    let http = client();
    let path = db.0.clone();
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
