//! The sync CLI as a real process, alone and next to the API on the same SQLite file: a user
//! the CLI adds is served by the API, and one the API creates is seen by the CLI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use smartasync_examples::users::{self, User, UserStore};

/// The `users_cli` example, built once per test run through the cargo that runs the tests
/// (same target directory, same profile).
fn cli_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args([
            "build",
            "--quiet",
            "--example",
            "users_cli",
            "--message-format=json",
        ]);
        cargo
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let output = cargo.output().expect("run cargo build");
        assert!(
            output.status.success(),
            "cargo build --example users_cli failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact" && message["target"]["name"] == "users_cli"
            })
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the users_cli executable")
    })
}

/// A database file of its own, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "smartasync-users-cli-{tag}-{}-{n}.db",
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

/// Runs the CLI on `db` with `args`.
fn cli(db: &Path, args: &[&str]) -> Output {
    Command::new(cli_binary())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run users_cli")
}

/// Runs the CLI, expects success, and returns its stdout.
fn cli_ok(db: &Path, args: &[&str]) -> String {
    let output = cli(db, args);
    assert!(
        output.status.success(),
        "users_cli {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs the CLI, expects exit status `code` and a message on stderr; returns the message.
fn cli_err(db: &Path, args: &[&str], code: i32) -> String {
    let output = cli(db, args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "users_cli {args:?}: {output:?}"
    );
    assert!(output.stdout.is_empty(), "users_cli {args:?}: {output:?}");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8 output");
    assert!(stderr.contains("error"), "{stderr}");
    stderr
}

/// Parses `id<TAB>name<TAB>email` lines.
fn parse_users(stdout: &str) -> Vec<User> {
    stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "not a user line: {line:?}");
            User {
                id: fields[0].parse().expect("a numeric id"),
                name: fields[1].to_owned(),
                email: fields[2].to_owned(),
            }
        })
        .collect()
}

#[test]
fn cli_crud_and_errors() {
    let temp = TempDb::new("crud");
    let db = temp.0.as_path();
    let ada = parse_users(&cli_ok(
        db,
        &["add", "--name", "Ada", "--email", "Ada@Example.com"],
    ));
    assert_eq!(ada.len(), 1);
    let ada = ada.into_iter().next().unwrap();
    assert_eq!(
        (ada.name.as_str(), ada.email.as_str()),
        ("Ada", "ada@example.com")
    );
    let bob = parse_users(&cli_ok(
        db,
        &["add", "--name", "Bob", "--email", "bob@example.com"],
    ))
    .pop()
    .unwrap();

    let listed = parse_users(&cli_ok(db, &["list"]));
    assert_eq!(listed, vec![ada.clone(), bob.clone()]);
    let after = parse_users(&cli_ok(
        db,
        &["list", "--after", &ada.id.to_string(), "--limit", "5"],
    ));
    assert_eq!(after, vec![bob.clone()]);
    assert_eq!(
        parse_users(&cli_ok(db, &["get", &bob.id.to_string()])),
        vec![bob.clone()]
    );

    // The store's refusals: exit status 1 and the reason.
    let duplicate = cli_err(
        db,
        &["add", "--name", "Eve", "--email", "ADA@example.com"],
        1,
    );
    assert!(duplicate.contains("already exists"), "{duplicate}");
    let invalid = cli_err(db, &["add", "--name", "Eve", "--email", "nowhere"], 1);
    assert!(invalid.contains("email"), "{invalid}");
    let missing = cli_err(db, &["get", "999"], 1);
    assert!(missing.contains("no user with id 999"), "{missing}");
    cli_err(db, &["list", "--limit", "0"], 1);

    // Usage mistakes: clap's exit status 2.
    cli_err(db, &["get", "abc"], 2);
    cli_err(db, &["add", "--name", "Eve"], 2);
    cli_err(db, &["frobnicate"], 2);

    assert_eq!(
        cli_ok(db, &["rm", &ada.id.to_string()]).trim(),
        format!("deleted {}", ada.id)
    );
    cli_err(db, &["rm", &ada.id.to_string()], 1);
    assert_eq!(parse_users(&cli_ok(db, &["list"])), vec![bob]);
}

/// The CLI (blocking entries, no runtime) and the API (async entries) share one file while
/// the server is running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_api_share_a_database() {
    let db = TempDb::new("shared");
    let store = UserStore::open_async(&db.0).await.unwrap();
    let addr = users::spawn_server(users::router(store)).await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Run the CLI off the async workers: it is a blocking child process.
    let run = |args: &'static [&'static str]| {
        let path = db.0.clone();
        tokio::task::spawn_blocking(move || cli_ok(&path, args))
    };

    // Added by the CLI, served by the API.
    let from_cli = parse_users(
        &run(&["add", "--name", "Cli User", "--email", "cli@example.com"])
            .await
            .unwrap(),
    )
    .pop()
    .unwrap();
    let served: User = http
        .get(format!("{base}/users/{}", from_cli.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, from_cli);

    // Created by the API, listed by the CLI.
    let response = http
        .post(format!("{base}/users"))
        .json(&json!({"name": "Api User", "email": "api@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let from_api: User = response.json().await.unwrap();
    let listed = parse_users(&run(&["list"]).await.unwrap());
    assert_eq!(listed, vec![from_cli.clone(), from_api.clone()]);

    // The unique email holds across both: the API refuses the CLI user's email.
    let response = http
        .post(format!("{base}/users"))
        .json(&json!({"name": "Copy", "email": "CLI@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // Removed by the CLI, gone from the API.
    let path = db.0.clone();
    let id = from_api.id.to_string();
    let removed = tokio::task::spawn_blocking(move || cli_ok(&path, &["rm", &id]))
        .await
        .unwrap();
    assert_eq!(removed.trim(), format!("deleted {}", from_api.id));
    let response = http
        .get(format!("{base}/users/{}", from_api.id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no user"));
}
