//! What the users API and CLI tests share: throw-away database files, a server on a
//! loopback port, and an HTTP client that talks to it directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde::de::DeserializeOwned;
use smartasync_example_users::{self as users, Store, UserStore};

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
pub fn http_client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// POSTs a new user with `name` and `email` to the API at `base`, whatever it answers.
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
