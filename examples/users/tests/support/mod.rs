//! What the users API and CLI tests share: throw-away database files, a server on a
//! loopback port, and an HTTP client that talks to it directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde::de::DeserializeOwned;
use smartasync_example_users::{self as users, MAX_PAGE, Store, User, UserStore, Users};

/// A database file of its own in the temp dir, removed (with its WAL files) on drop.
pub struct TempDb(PathBuf);

impl TempDb {
    /// A fresh path, unique in this process; `tag` names the test in the file name.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "smartasync-users-test-{tag}-{}-{n}.db",
            std::process::id()
        ));
        users::remove_database(&path).expect("remove a leftover database");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = users::remove_database(&self.0);
    }
}

/// Serves the users API over `backend` (SQLite or remote) on an ephemeral loopback port of
/// the current runtime; returns its base URL.
pub async fn serve(backend: Arc<dyn users::Users>) -> String {
    let addr = users::spawn_server(users::router(backend))
        .await
        .expect("bind a loopback port");
    format!("http://{addr}")
}

/// Opens `db` and serves the users API over it; returns the base URL and the store.
#[allow(dead_code)] // not every test binary starts its server this way
pub async fn start(db: &TempDb) -> (String, UserStore) {
    let store = UserStore::open_async(db.path())
        .await
        .expect("open the store");
    (serve(Arc::new(store.clone())).await, store)
}

/// Opens `db` with `store` (the pooled store or the lane-backed one) and serves the users
/// API over it; returns the base URL.
#[allow(dead_code)] // not every test binary runs on both stores
pub async fn start_on(store: Store, db: &TempDb) -> String {
    let users = store.open_async(db.path()).await.expect("open the store");
    serve(users).await
}

/// An HTTP client for loopback servers: no proxy (whatever `HTTP_PROXY` says) and a
/// bounded wait.
#[allow(dead_code)] // not every test binary's body fits the bounded wait
pub fn http_client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// POSTs a new user with `name` and `email` to the API at `base`, whatever it answers.
#[allow(dead_code)] // not every test binary creates users over HTTP
pub async fn create(http: &Client, base: &str, name: &str, email: &str) -> Response {
    http.post(format!("{base}/users"))
        .json(&serde_json::json!({ "name": name, "email": email }))
        .send()
        .await
        .expect("POST /users")
}

/// GETs `url`, expects a 200, and decodes the JSON body.
pub async fn get_json<T: DeserializeOwned>(http: &Client, url: &str) -> T {
    let response = http.get(url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}: {response:?}");
    response.json().await.expect("a JSON body")
}

/// Inserts `n` users into the database at `path` in one statement (`user <i>`,
/// `user<i>@example.com`, for i from 1): a million take about a second, SQLite generating
/// the rows itself.
#[allow(dead_code)] // not every test binary fills a database
pub fn fill(path: &Path, n: u64) {
    let connection = users::sql::open(path).expect("open the database");
    connection
        .execute(
            "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?1)
             INSERT INTO users (name, email) SELECT 'user ' || n, 'user' || n || '@example.com' FROM i",
            [n],
        )
        .expect("insert the users");
}

/// Every user of `users`, read page by page with `list`: what an export must return.
#[allow(dead_code)] // not every test binary exports
pub fn listed(users: &dyn Users) -> Vec<User> {
    let mut all: Vec<User> = Vec::new();
    loop {
        let after = all.last().map_or(0, |user| user.id);
        let page = users.list(after, MAX_PAGE).expect("a page of users");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Users `tag 0`, `tag 1`, ... with emails `tag<i>@<domain>`.
#[allow(dead_code)] // not every test binary writes batches
pub fn batch(tag: &str, n: usize, domain: &str) -> Vec<smartasync_example_users::NewUser> {
    (0..n)
        .map(|i| {
            smartasync_example_users::NewUser::new(
                &format!("{tag} {i}"),
                &format!("{tag}{i}@{domain}"),
            )
        })
        .collect()
}

/// Rows in the file, counted on a connection of its own.
#[allow(dead_code)] // not every test binary counts rows
pub fn count_rows(db: &TempDb) -> i64 {
    rusqlite::Connection::open(db.path())
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .unwrap()
}
