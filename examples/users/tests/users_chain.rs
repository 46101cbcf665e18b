//! Two APIs chained on loopback: a front API whose backend is `RemoteUsers`, talking to a
//! back API over SQLite. The front answers every request as the back would, status and
//! message; and the two backends, held as `Arc<dyn Users>`, return the same typed results
//! and errors from sync and async code.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode, header};
use serde_json::{Value, json};
use smartasync_example_users::{
    MAX_BODY_BYTES, NewUser, RemoteError, RemoteUsers, User, UserError, UserStore, Users,
};
use support::{TempDb, create, get_json, http_client, serve, start};

/// A back API over SQLite and a front API over `RemoteUsers` pointed at it.
struct Chain {
    back: String,
    front: String,
    store: UserStore,
}

async fn chain(db: &TempDb) -> Chain {
    let (back, store) = start(db).await;
    let front = serve(Arc::new(RemoteUsers::new(&back).expect("the back's URL"))).await;
    Chain { back, front, store }
}

/// An answer: its status and its JSON body (`Null` when it has none).
async fn send(http: &Client, method: Method, url: &str, body: Option<Body>) -> (StatusCode, Value) {
    let mut request = http.request(method.clone(), url);
    match body {
        Some(Body::Json(value)) => request = request.json(&value),
        Some(Body::Raw(content_type, text)) => {
            request = request
                .header(header::CONTENT_TYPE, content_type)
                .body(text);
        }
        None => {}
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"))
    };
    (status, body)
}

#[derive(Clone)]
enum Body {
    Json(Value),
    Raw(&'static str, String),
}

/// A normal CRUD round trip through the front, each step checked on the back too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_round_trip_through_two_apis() {
    let db = TempDb::new("chain-crud");
    let Chain { back, front, store } = chain(&db).await;
    let http = http_client();

    let health: Value = get_json(&http, &format!("{front}/health")).await;
    assert_eq!(health, json!({"status": "ok"}));
    let empty: Vec<User> = get_json(&http, &format!("{front}/users")).await;
    assert!(empty.is_empty());

    // Create: 201 with a Location, the stored values, in the back's database.
    let created = create(&http, &front, " Ada ", "Ada@Example.com").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let ada: User = created.json().await.unwrap();
    assert_eq!(
        (ada.name.as_str(), ada.email.as_str()),
        ("Ada", "ada@example.com")
    );
    assert_eq!(location, format!("/users/{}", ada.id));
    assert_eq!(store.get_async(ada.id).await.unwrap(), ada);

    let (status, bob) = send(
        &http,
        Method::POST,
        &format!("{front}/users"),
        Some(Body::Json(
            json!({"name": "Bob", "email": "bob@example.com"}),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let bob: User = serde_json::from_value(bob).unwrap();

    // Read: one, all, and a page, the same on both.
    for base in [&front, &back] {
        let got: User = get_json(&http, &format!("{base}/users/{}", ada.id)).await;
        assert_eq!(got, ada);
        let all: Vec<User> = get_json(&http, &format!("{base}/users")).await;
        assert_eq!(all, vec![ada.clone(), bob.clone()]);
        let page: Vec<User> =
            get_json(&http, &format!("{base}/users?after={}&limit=1", ada.id)).await;
        assert_eq!(page, vec![bob.clone()]);
    }

    // Update through the front, seen on the back.
    let (status, updated) = send(
        &http,
        Method::PUT,
        &format!("{front}/users/{}", ada.id),
        Some(Body::Json(
            json!({"name": "Augusta", "email": "countess@example.com"}),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let updated: User = serde_json::from_value(updated).unwrap();
    assert_eq!(
        updated,
        User {
            id: ada.id,
            name: "Augusta".into(),
            email: "countess@example.com".into()
        }
    );
    let on_back: User = get_json(&http, &format!("{back}/users/{}", ada.id)).await;
    assert_eq!(on_back, updated);

    // Delete through the front: 204 and no body, gone from the back.
    let (status, body) = send(
        &http,
        Method::DELETE,
        &format!("{front}/users/{}", ada.id),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert!(matches!(
        store.get_async(ada.id).await,
        Err(UserError::NotFound { id }) if id == ada.id
    ));
    let left: Vec<User> = get_json(&http, &format!("{front}/users")).await;
    assert_eq!(left, vec![bob]);
}

/// Every refusal, sent to the back directly and through the front: the same status (the
/// one expected) and the same JSON body. 404, 409 and 422 from the store cross the chain as
/// `UserError`s; 400, 413 and 415 are answered by the front's own extractors, as the back's
/// would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_carried_through_the_chain_unchanged() {
    let db = TempDb::new("chain-refusals");
    let Chain { back, front, .. } = chain(&db).await;
    let http = http_client();
    let new = |name: &str, email: &str| Some(Body::Json(json!({"name": name, "email": email})));
    let ada: User = create(&http, &back, "Ada", "ada@example.com")
        .await
        .json()
        .await
        .unwrap();
    let bob: User = create(&http, &back, "Bob", "bob@example.com")
        .await
        .json()
        .await
        .unwrap();
    let ada_url = format!("/users/{}", ada.id);
    let bob_url = format!("/users/{}", bob.id);
    let json_text = |text: &str| Some(Body::Raw("application/json", text.to_owned()));

    let cases: Vec<(StatusCode, Method, String, Option<Body>)> = vec![
        // The store's rules: 422 with its reason.
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::POST,
            "/users".into(),
            new("", "e@example.com"),
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::POST,
            "/users".into(),
            new("Eve", "nowhere"),
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::PUT,
            ada_url.clone(),
            new("Ada", "a@b"),
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::PUT,
            "/users/999".into(),
            new("", "a@example.com"),
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::GET,
            "/users?limit=0".into(),
            None,
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::GET,
            "/users?limit=1001".into(),
            None,
        ),
        // Unknown ids: 404.
        (
            StatusCode::NOT_FOUND,
            Method::GET,
            "/users/999".into(),
            None,
        ),
        (
            StatusCode::NOT_FOUND,
            Method::PUT,
            "/users/999".into(),
            new("Zed", "zed@example.com"),
        ),
        (
            StatusCode::NOT_FOUND,
            Method::DELETE,
            "/users/999".into(),
            None,
        ),
        // Duplicate emails: 409, naming the email as stored.
        (
            StatusCode::CONFLICT,
            Method::POST,
            "/users".into(),
            new("Ada 2", " ADA@example.com "),
        ),
        (
            StatusCode::CONFLICT,
            Method::PUT,
            bob_url.clone(),
            new("Bob", "Ada@Example.com"),
        ),
        // Malformed requests: 400, 413, 415, 422 for the wrong JSON shape.
        (
            StatusCode::BAD_REQUEST,
            Method::POST,
            "/users".into(),
            json_text("{\"name\": "),
        ),
        (
            StatusCode::BAD_REQUEST,
            Method::GET,
            "/users/abc".into(),
            None,
        ),
        (
            StatusCode::BAD_REQUEST,
            Method::GET,
            "/users?sort=name".into(),
            None,
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Method::POST,
            "/users".into(),
            json_text(r#"{"name": "Ada"}"#),
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Method::POST,
            "/users".into(),
            Some(Body::Raw(
                "text/plain",
                r#"{"name": "A", "email": "a@example.com"}"#.into(),
            )),
        ),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Method::POST,
            "/users".into(),
            new(&"x".repeat(MAX_BODY_BYTES), "a@example.com"),
        ),
        // Unknown routes and methods.
        (StatusCode::NOT_FOUND, Method::GET, "/nope".into(), None),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            Method::PATCH,
            ada_url.clone(),
            None,
        ),
    ];
    for (expected, method, path, body) in cases {
        let direct = send(
            &http,
            method.clone(),
            &format!("{back}{path}"),
            body.clone(),
        )
        .await;
        let chained = send(&http, method.clone(), &format!("{front}{path}"), body).await;
        assert_eq!(
            direct.0, expected,
            "{method} {path} on the back: {}",
            direct.1
        );
        assert!(
            direct.1["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {}",
            direct.1
        );
        assert_eq!(chained, direct, "{method} {path}: front vs back");
    }

    // Nothing changed along the way.
    let all: Vec<User> = get_json(&http, &format!("{front}/users")).await;
    assert_eq!(all, vec![ada, bob]);
}

/// The back's store is busy (its only connection held by an insert waiting on SQLite's
/// write lock): the back answers 503, and so does the front, with the same message. Once
/// the lock goes, the insert made through the front completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_store_behind_the_chain_is_503_in_front() {
    let db = TempDb::new("chain-busy");
    let store = UserStore::open_with_pool_size_async(db.path(), 1)
        .await
        .unwrap()
        .with_connection_wait(Duration::from_millis(100));
    let back = serve(Arc::new(store.clone())).await;
    let front = serve(Arc::new(RemoteUsers::new(&back).unwrap())).await;
    let http = http_client();

    let lock = rusqlite::Connection::open(db.path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let insert = tokio::spawn({
        let (http, front) = (http.clone(), front.clone());
        async move {
            send(
                &http,
                Method::POST,
                &format!("{front}/users"),
                Some(Body::Json(
                    json!({"name": "Ada", "email": "ada@example.com"}),
                )),
            )
            .await
        }
    });
    for _ in 0..2000 {
        if store.connections_in_use() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        store.connections_in_use(),
        1,
        "the insert never took the connection"
    );

    let direct = send(&http, Method::GET, &format!("{back}/users"), None).await;
    let chained = send(&http, Method::GET, &format!("{front}/users"), None).await;
    assert_eq!(direct.0, StatusCode::SERVICE_UNAVAILABLE, "{}", direct.1);
    assert!(
        direct.1["error"].as_str().unwrap().contains("busy"),
        "{}",
        direct.1
    );
    assert_eq!(chained, direct);
    assert!(!insert.is_finished());

    lock.execute_batch("ROLLBACK").unwrap();
    let (status, user) = tokio::time::timeout(Duration::from_secs(30), insert)
        .await
        .expect("the insert finishes once the lock is released")
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(store.list_async(0, 10).await.unwrap().len(), 1);
}

/// Faults behind the front are the front's 502, without details: a 500 from the back (its
/// table vanished) and a back that is not there at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_behind_the_chain_are_502_without_details() {
    let db = TempDb::new("chain-fault");
    let Chain { back, front, .. } = chain(&db).await;
    let http = http_client();
    let path = db.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let connection = rusqlite::Connection::open(path).unwrap();
        connection.execute_batch("DROP TABLE users").unwrap();
    })
    .await
    .unwrap();
    let direct = send(&http, Method::GET, &format!("{back}/users"), None).await;
    assert_eq!(
        direct,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "internal error"})
        )
    );
    let chained = send(&http, Method::GET, &format!("{front}/users"), None).await;
    let failed = json!({"error": "the users API behind this one failed"});
    assert_eq!(chained, (StatusCode::BAD_GATEWAY, failed.clone()));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let nowhere = RemoteUsers::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let lonely = serve(Arc::new(nowhere)).await;
    let chained = send(&http, Method::GET, &format!("{lonely}/users/1"), None).await;
    assert_eq!(chained, (StatusCode::BAD_GATEWAY, failed));
    // The front itself is fine.
    let health: Value = get_json(&http, &format!("{lonely}/health")).await;
    assert_eq!(health, json!({"status": "ok"}));
}

/// A result as a caller compares it: values, and errors by variant and message (the
/// variants with a boxed source are compared by variant only).
fn outcome<T: std::fmt::Debug>(result: Result<T, UserError>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(
            error @ (UserError::Unavailable(_) | UserError::Internal(_) | UserError::Upstream(_)),
        ) => {
            format!("{:?}", std::mem::discriminant(&error))
        }
        Err(error) => format!("Err({error:?})"),
    }
}

/// The same calls on both backends, each on a fresh database, through their blocking
/// entries (from a plain thread) and their async entries: the same values and the same
/// errors, so a caller cannot tell which one it holds.
fn script(users: &dyn Users) -> Vec<String> {
    let ada = NewUser::new("Ada", "Ada@example.com");
    vec![
        outcome(users.create(&ada)),
        outcome(users.create(&NewUser::new("Bob", "bob@example.com"))),
        outcome(users.create(&NewUser::new("Copy", " ADA@example.com"))),
        outcome(users.create(&NewUser::new("", "e@example.com"))),
        outcome(users.create(&NewUser::new("Eve", "nowhere"))),
        outcome(users.list(0, 10)),
        outcome(users.list(1, 1)),
        outcome(users.list(0, 0)),
        outcome(users.get(2)),
        outcome(users.get(99)),
        outcome(users.update(1, &NewUser::new("Bob", "bob@example.com"))),
        outcome(users.update(99, &NewUser::new("Zed", "zed@example.com"))),
        outcome(users.update(1, &NewUser::new("Augusta", "countess@example.com"))),
        outcome(users.delete(2)),
        outcome(users.delete(2)),
        outcome(users.list(0, 10)),
    ]
}

async fn script_async(users: &dyn Users) -> Vec<String> {
    let ada = NewUser::new("Ada", "Ada@example.com");
    vec![
        outcome(users.create_async(&ada).await),
        outcome(
            users
                .create_async(&NewUser::new("Bob", "bob@example.com"))
                .await,
        ),
        outcome(
            users
                .create_async(&NewUser::new("Copy", " ADA@example.com"))
                .await,
        ),
        outcome(users.create_async(&NewUser::new("", "e@example.com")).await),
        outcome(users.create_async(&NewUser::new("Eve", "nowhere")).await),
        outcome(users.list_async(0, 10).await),
        outcome(users.list_async(1, 1).await),
        outcome(users.list_async(0, 0).await),
        outcome(users.get_async(2).await),
        outcome(users.get_async(99).await),
        outcome(
            users
                .update_async(1, &NewUser::new("Bob", "bob@example.com"))
                .await,
        ),
        outcome(
            users
                .update_async(99, &NewUser::new("Zed", "zed@example.com"))
                .await,
        ),
        outcome(
            users
                .update_async(1, &NewUser::new("Augusta", "countess@example.com"))
                .await,
        ),
        outcome(users.delete_async(2).await),
        outcome(users.delete_async(2).await),
        outcome(users.list_async(0, 10).await),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_give_the_same_results_and_errors() {
    let mut runs = Vec::new();
    for blocking in [true, false] {
        let local_db = TempDb::new("same-local");
        let remote_db = TempDb::new("same-remote");
        let local: Arc<dyn Users> = Arc::new(UserStore::open_async(local_db.path()).await.unwrap());
        let (back, _store) = start(&remote_db).await;
        let remote: Arc<dyn Users> = Arc::new(RemoteUsers::new(&back).unwrap());
        let mut results = Vec::new();
        for users in [local, remote] {
            results.push(if blocking {
                // A plain thread: no runtime there; the remote's blocking entries drive
                // its async bodies.
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(script(&*users));
                });
                rx.await.expect("the script's thread")
            } else {
                script_async(&*users).await
            });
        }
        assert_eq!(results[0], results[1], "blocking: {blocking}");
        runs.push(results.remove(0));
    }
    assert_eq!(runs[0], runs[1], "blocking and async entries");
    // The script checks what it should: the refusals are there, by name.
    let run = &runs[0];
    assert!(
        run[2].starts_with("Err(DuplicateEmail { email: \"ada@example.com\""),
        "{}",
        run[2]
    );
    assert!(run[3].starts_with("Err(Invalid"), "{}", run[3]);
    assert!(run[7].starts_with("Err(Invalid"), "{}", run[7]);
    assert_eq!(run[9], "Err(NotFound { id: 99 })");
    assert!(run[10].starts_with("Err(DuplicateEmail"), "{}", run[10]);
    assert_eq!(run[14], "Err(NotFound { id: 2 })");
}

/// Behind a busy store the remote's error is `Unavailable`, like the store's own, with the
/// remote's message and status in its source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_remote_is_unavailable_with_its_message() {
    let db = TempDb::new("remote-busy");
    let store = UserStore::open_with_pool_size_async(db.path(), 1)
        .await
        .unwrap()
        .with_connection_wait(Duration::from_millis(100));
    let back = serve(Arc::new(store.clone())).await;
    let remote = RemoteUsers::new(&back).unwrap();
    // The only connection goes to an insert made through the remote, which then waits
    // on SQLite's write lock.
    let lock = rusqlite::Connection::open(db.path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let insert = tokio::spawn({
        let remote = remote.clone();
        async move {
            remote
                .create_async(&NewUser::new("Ada", "ada@example.com"))
                .await
        }
    });
    for _ in 0..2000 {
        if store.connections_in_use() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let local = store.list_async(0, 10).await.unwrap_err();
    let remote_error = remote.list_async(0, 10).await.unwrap_err();
    assert!(matches!(local, UserError::Unavailable(_)), "{local:?}");
    let UserError::Unavailable(source) = remote_error else {
        panic!("expected Unavailable, got {remote_error:?}");
    };
    let source = source.downcast_ref::<RemoteError>().expect("a RemoteError");
    assert_eq!(source.status, Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(source.message, "the user store is busy; try again shortly");
    assert_eq!(source.request, format!("GET {back}/users?after=0&limit=10"));
    lock.execute_batch("ROLLBACK").unwrap();
    let created = tokio::time::timeout(Duration::from_secs(30), insert)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.unwrap().email, "ada@example.com");
}
