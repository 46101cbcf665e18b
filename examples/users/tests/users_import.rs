//! `Users::import` and `POST /users/import`: a batch of users is stored all or none,
//! through every backend; and a client that gives up on a large import leaves not one of
//! its rows behind, with the server's write path free at once.

#[allow(dead_code)] // this binary uses part of the shared support
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use smartasync_example_users::{
    LaneStore, MAX_IMPORT_BYTES, NewUser, RemoteUsers, Store, User, UserError, UserStore, Users,
};
use support::{TempDb, batch, count_rows, create, http_client, serve, start_on};

/// The three backends over a fresh file each: the pooled store, the lane store, and a
/// remote client of an API over a pooled store. The files are kept alive with them.
async fn backends(tag: &str) -> Vec<(&'static str, Arc<dyn Users>, TempDb)> {
    let pool = TempDb::new(&format!("{tag}-pool"));
    let lane = TempDb::new(&format!("{tag}-lane"));
    let remote = TempDb::new(&format!("{tag}-remote"));
    let base = start_on(Store::Pool, &remote).await;
    vec![
        (
            "pool",
            Arc::new(UserStore::open_async(pool.path()).await.unwrap()) as Arc<dyn Users>,
            pool,
        ),
        (
            "lane",
            Arc::new(LaneStore::open(lane.path()).unwrap()),
            lane,
        ),
        ("remote", Arc::new(RemoteUsers::new(&base).unwrap()), remote),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_adds_every_user_through_each_backend() {
    for (backend, users, db) in backends("import-ok").await {
        users
            .create_async(&NewUser::new("Ada", "ada@example.com"))
            .await
            .unwrap();
        // The async entry, then the blocking one from a thread with no runtime.
        let first = users
            .import_async(batch("a", 500, "import.example"))
            .await
            .unwrap();
        let second = {
            let users = Arc::clone(&users);
            let news = vec![
                NewUser::new(" Bo ", " Bo@Import.Example "),
                NewUser::new("Cy", "cy@import.example"),
            ];
            tokio::task::spawn_blocking(move || users.import(news))
                .await
                .unwrap()
                .unwrap()
        };

        assert_eq!(first.len(), 500, "{backend}");
        assert_eq!(first[0].id, 2, "{backend}");
        assert_eq!(first[499].email, "a499@import.example", "{backend}");
        // Stored as `create` stores: trimmed names, lowercased emails, fresh ids.
        assert_eq!(
            second,
            [
                User {
                    id: 502,
                    name: "Bo".into(),
                    email: "bo@import.example".into()
                },
                User {
                    id: 503,
                    name: "Cy".into(),
                    email: "cy@import.example".into()
                },
            ],
            "{backend}"
        );
        assert_eq!(users.get_async(250).await.unwrap(), first[248], "{backend}");
        assert_eq!(count_rows(&db), 503, "{backend}");
        assert_eq!(
            users.import_async(Vec::new()).await.unwrap(),
            [],
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_one_bad_or_duplicate_user_adds_none() {
    for (backend, users, db) in backends("import-refused").await {
        users
            .create_async(&NewUser::new("Ada", "ada@example.com"))
            .await
            .unwrap();

        let mut bad = batch("bad", 100, "import.example");
        bad[57].email = "not an address".into();
        match users.import_async(bad).await {
            Err(UserError::Invalid { reason }) => assert!(
                reason.starts_with("user at index 57: email `not an address`"),
                "{backend}: {reason}"
            ),
            other => panic!("{backend}: {other:?}"),
        }

        let mut taken = batch("taken", 100, "import.example");
        taken[99].email = " ADA@example.com".into();
        match users.import_async(taken).await {
            Err(UserError::DuplicateEmail { email }) => {
                assert_eq!(email, "ada@example.com", "{backend}");
            }
            other => panic!("{backend}: {other:?}"),
        }

        let mut twice = batch("twice", 100, "import.example");
        twice[60].email = "twice3@import.example".into();
        match users.import_async(twice).await {
            Err(UserError::DuplicateEmail { email }) => {
                assert_eq!(email, "twice3@import.example", "{backend}");
            }
            other => panic!("{backend}: {other:?}"),
        }

        assert_eq!(count_rows(&db), 1, "{backend}: only Ada");
        // The rows rolled back left the store able to write.
        users
            .create_async(&NewUser::new("Bob", "bob@example.com"))
            .await
            .unwrap();
        assert_eq!(count_rows(&db), 2, "{backend}");
    }
}

/// POSTs `body` (raw JSON text) to `/users/import`; the status and the JSON answer.
async fn post_import(http: &reqwest::Client, base: &str, body: String) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/users/import"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST /users/import");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_users_import_answers_201_and_client_mistakes_with_4xx() {
    let db = TempDb::new("import-http");
    let base = start_on(Store::Pool, &db).await;
    let http = http_client();
    assert_eq!(
        create(&http, &base, "Ada", "ada@example.com")
            .await
            .status(),
        StatusCode::CREATED
    );

    // Far over the default body limit (16 KiB): this route has its own.
    let news = batch("h", 2000, "import.example");
    let body = serde_json::to_string(&news).unwrap();
    assert!(body.len() > 4 * 16 * 1024);
    let (status, answer) = post_import(&http, &base, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let imported: Vec<User> = serde_json::from_value(answer).unwrap();
    assert_eq!(imported.len(), 2000);
    assert_eq!((imported[0].id, imported[1999].id), (2, 2001));
    assert_eq!(imported[1999].email, "h1999@import.example");

    let error = |message: &str| json!({ "error": message });
    let cases = [
        ("[{\"name\": \"x\"", StatusCode::BAD_REQUEST),
        (
            "{\"name\": \"x\", \"email\": \"x@example.com\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("[{\"name\": \"x\"}]", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "[{\"name\": \"x\", \"email\": \"x@example.com\", \"admin\": true}]",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post_import(&http, &base, body.into()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{body}: {answer}");
    }
    let (status, answer) = post_import(
        &http,
        &base,
        r#"[{"name": "x", "email": "x@example.com"}, {"name": "", "email": "y@example.com"}]"#
            .into(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer, error("user at index 1: name must not be empty"));
    let (status, answer) = post_import(
        &http,
        &base,
        r#"[{"name": "x", "email": "x@example.com"}, {"name": "h", "email": "h7@import.example"}]"#
            .into(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        error("a user with email `h7@import.example` already exists")
    );

    // Over the route's own limit: 413, read no further.
    let (status, answer) = post_import(&http, &base, " ".repeat(MAX_IMPORT_BYTES + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    // Elsewhere the default limit stands.
    let big_name = "n".repeat(20 * 1024);
    let response = create(&http, &base, &big_name, "big@example.com").await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        count_rows(&db),
        2001,
        "none of the refused imports is stored"
    );
}

/// Users in the import that its client gives up on: seconds of inserts, debug or release.
const LARGE: usize = 300_000;

/// A generous bound on how long a stopped import takes to give the write lock back (it
/// takes milliseconds).
const STOP_BOUND: Duration = Duration::from_secs(2);

/// Waits until `store` has `in_use` connections lent, for at most `bound`.
async fn wait_for_in_use(store: &UserStore, in_use: u32, bound: Duration) {
    let start = Instant::now();
    while store.connections_in_use() != in_use {
        assert!(
            start.elapsed() < bound,
            "{} connection(s) in use after {bound:?}, expected {in_use}",
            store.connections_in_use()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// After an import was given up on: a new user is created at once (the write lock and the
/// connection came back), and the file holds exactly the rows from before plus that one,
/// then and a moment later (the import did not go on to commit).
async fn assert_import_left_nothing(http: &reqwest::Client, base: &str, db: &TempDb, before: i64) {
    let start = Instant::now();
    let response = create(http, base, "Bob", "bob@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(start.elapsed() < STOP_BOUND, "took {:?}", start.elapsed());
    assert_eq!(count_rows(db), before + 1, "no row of the import is stored");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count_rows(db), before + 1, "no row of the import is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_client_leaves_midway_stores_nothing_and_frees_the_writer() {
    let db = TempDb::new("import-leave");
    // One connection: a body still inserting would hold it.
    let store = UserStore::open_with_pool_size(db.path(), 1).unwrap();
    let base = serve(Arc::new(store.clone())).await;
    let http = http_client();
    create(&http, &base, "Ada", "ada@example.com").await;
    let before = count_rows(&db);

    let body = serde_json::to_string(&batch("large", LARGE, "import.example")).unwrap();
    let request = tokio::spawn({
        let (http, url) = (http.clone(), format!("{base}/users/import"));
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
        }
    });
    // The body was read and parsed, and the import holds its connection: it inserts.
    wait_for_in_use(&store, 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !request.is_finished(),
        "the import ended before it could be cancelled"
    );

    request.abort();
    wait_for_in_use(&store, 0, STOP_BOUND).await;
    assert_import_left_nothing(&http, &base, &db, before).await;
    assert!(store.connection().unwrap().is_autocommit());
}

/// The hand test of the README (`curl --max-time`), on the lane store: the client's own
/// timeout ends the request, wherever the server is then (reading the body, parsing it, or
/// inserting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_client_times_out_stores_nothing_on_the_lane() {
    let db = TempDb::new("import-timeout");
    let base = start_on(Store::Lane, &db).await;
    let http = http_client();
    create(&http, &base, "Ada", "ada@example.com").await;
    let before = count_rows(&db);

    let body = serde_json::to_string(&batch("large", LARGE, "import.example")).unwrap();
    for timeout in [300, 1500] {
        let given_up = http
            .post(format!("{base}/users/import"))
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_millis(timeout))
            .send()
            .await
            .expect_err("the import takes longer than its client waits");
        assert!(given_up.is_timeout(), "{given_up}");
        assert_eq!(count_rows(&db), before);
    }
    // The lane runs one call at a time: the create is answered after the import stopped.
    assert_import_left_nothing(&http, &base, &db, before).await;
}
