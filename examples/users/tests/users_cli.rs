//! The sync CLI as a real process: alone on a SQLite file, next to the API on the same file
//! (a user the CLI adds is served by the API, and one the API creates is seen by the CLI),
//! and managing a live API over HTTP with `--remote`.

mod support;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde_json::Value;
use smartasync_example_users::{User, Users};
use support::{TempDb, create, fill, get_json, http_client, listed, start};

/// How long one run of the CLI may take (it normally takes milliseconds).
const CLI_DEADLINE: Duration = Duration::from_secs(30);
/// How long building the CLI may take, when this test has to.
const BUILD_DEADLINE: Duration = Duration::from_secs(600);

/// The `users_cli` example of this test's own build. This test runs from
/// `target/<profile>/deps/`; the example lives in `target/<profile>/examples/`. `cargo test`
/// builds examples with the tests, but `cargo test --test users_cli` does not: if the
/// example is missing, or older than this test binary (rebuilt whenever the library
/// changes) or than its source, it is built once with the same cargo and profile, with a
/// deadline (the build directory may be locked by another build).
fn cli_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let test_exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = test_exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let binary = profile_dir
            .join("examples")
            .join(format!("users_cli{}", std::env::consts::EXE_SUFFIX));
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/users_cli.rs");
        let fresh = modified(&binary).is_some_and(|built| {
            [test_exe.as_path(), source.as_path()]
                .iter()
                .all(|input| modified(input).is_some_and(|changed| built >= changed))
        });
        if !fresh {
            build_cli(profile_dir);
        }
        assert!(binary.is_file(), "no users_cli at {}", binary.display());
        binary
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `cargo build --example users_cli` in the profile whose directory is `profile_dir`.
fn build_cli(profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => "dev",
        Some(name) => name,
        None => panic!("no profile in {}", profile_dir.display()),
    };
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--quiet",
            "--example",
            "users_cli",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        // Features resolved as for the whole workspace, as `cargo test --workspace` does:
        // dependencies already built for this test are reused, not rebuilt with others.
        .arg("--workspace");
    let output = run_with_deadline(&mut cargo, BUILD_DEADLINE);
    assert!(
        output.status.success(),
        "cargo build --example users_cli failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `command` to completion with its output captured; kills it and fails the test if
/// it is still running after `deadline`.
fn run_with_deadline(command: &mut Command, deadline: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
    // Read both pipes while waiting, so a chatty child never blocks on a full pipe.
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_with_deadline(&mut child, deadline).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} was still running after {deadline:?}: killed");
    });
    Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return Some(status);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The backend of a CLI run: its first two arguments.
#[derive(Clone, Debug)]
struct Backend([OsString; 2]);

impl From<&Path> for Backend {
    fn from(db: &Path) -> Self {
        Self(["--db".into(), db.into()])
    }
}

/// `--remote <url>`.
fn remote(url: &str) -> Backend {
    Backend(["--remote".into(), url.into()])
}

/// Runs the CLI on `backend` with `args`.
fn cli(backend: impl Into<Backend>, args: &[&str]) -> Output {
    run_with_deadline(
        Command::new(cli_binary()).args(backend.into().0).args(args),
        CLI_DEADLINE,
    )
}

/// Runs the CLI, expects success, and returns its stdout.
fn cli_ok(backend: impl Into<Backend>, args: &[&str]) -> String {
    let output = cli(backend, args);
    assert!(
        output.status.success(),
        "users_cli {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs the CLI, expects exit status `code` and a message on stderr; returns the message.
fn cli_err(backend: impl Into<Backend>, args: &[&str], code: i32) -> String {
    let output = cli(backend, args);
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
    let db = temp.path();
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

/// `--store lane` runs the CLI's blocking calls on the lane's thread (queued, waited for,
/// from a `main` with no runtime); the file is the same format for both stores.
#[test]
fn cli_on_the_lane_store_shares_the_file_with_the_pool() {
    let temp = TempDb::new("lane");
    let db = temp.path();
    let added = parse_users(&cli_ok(
        db,
        &[
            "--store",
            "lane",
            "add",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
        ],
    ));
    assert_eq!(parse_users(&cli_ok(db, &["list"])), added);
    assert_eq!(
        parse_users(&cli_ok(db, &["--store", "lane", "list"])),
        added
    );
    let message = cli_err(
        db,
        &[
            "--store",
            "lane",
            "add",
            "--name",
            "Copy",
            "--email",
            "ADA@example.com",
        ],
        1,
    );
    assert!(message.contains("already exists"), "{message}");
}

/// The CLI (blocking entries, no runtime) and the API (async entries) share one file while
/// the server is running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_api_share_a_database() {
    let db = TempDb::new("shared");
    let (base, _store) = start(&db).await;
    let http = http_client();
    // Run the CLI off the async workers: it is a blocking child process.
    let run = |args: &'static [&'static str]| {
        let path = db.path().to_owned();
        tokio::task::spawn_blocking(move || cli_ok(path.as_path(), args))
    };

    // Added by the CLI, served by the API.
    let from_cli = parse_users(
        &run(&["add", "--name", "Cli User", "--email", "cli@example.com"])
            .await
            .unwrap(),
    )
    .pop()
    .unwrap();
    let served: User = get_json(&http, &format!("{base}/users/{}", from_cli.id)).await;
    assert_eq!(served, from_cli);

    // Created by the API, listed by the CLI.
    let response = create(&http, &base, "Api User", "api@example.com").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let from_api: User = response.json().await.unwrap();
    let listed = parse_users(&run(&["list"]).await.unwrap());
    assert_eq!(listed, vec![from_cli.clone(), from_api.clone()]);

    // The unique email holds across both: the API refuses the CLI user's email.
    let response = create(&http, &base, "Copy", "CLI@example.com").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // Removed by the CLI, gone from the API.
    let path = db.path().to_owned();
    let id = from_api.id.to_string();
    let removed = tokio::task::spawn_blocking(move || cli_ok(path.as_path(), &["rm", &id]))
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

/// A database in a directory that does not exist: the CLI fails at once with SQLite's
/// reason and the path (not after a pool timeout), exit status 1.
#[test]
fn cli_with_an_unopenable_database_fails_fast() {
    let dir = TempDb::new("missing-dir");
    let db = dir.path().join("users.db");
    let output = run_with_deadline(
        Command::new(cli_binary()).arg("--db").arg(&db).arg("list"),
        Duration::from_secs(5),
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8 output");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("unable to open database file"), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
}

/// `users_cli --remote URL` manages a live API: every command goes over HTTP to the API
/// (which serves a SQLite file this test reads directly), and the API's refusals come back
/// as the same messages and exit status as the SQLite backend's (see `cli_crud_and_errors`).
/// The CLI's code has no runtime: the blocking entries of the `async fn` bodies drive them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_a_live_api_with_remote() {
    let db = TempDb::new("remote");
    let (base, store) = start(&db).await;
    let run = |args: Vec<String>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli_ok(remote(&base), &args)
        })
    };
    let run_err = |args: Vec<String>, code: i32| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli_err(remote(&base), &args, code)
        })
    };
    let words = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();

    let ada = parse_users(
        &run(words("add --name Ada --email Ada@Example.com"))
            .await
            .unwrap(),
    )
    .pop()
    .unwrap();
    assert_eq!(
        (ada.name.as_str(), ada.email.as_str()),
        ("Ada", "ada@example.com")
    );
    let bob = parse_users(
        &run(words("add --name Bob --email bob@example.com"))
            .await
            .unwrap(),
    )
    .pop()
    .unwrap();
    // Stored in the API's database, as the CLI printed them.
    assert_eq!(
        store.list_async(0, 10).await.unwrap(),
        vec![ada.clone(), bob.clone()]
    );

    let listed = parse_users(&run(words("list")).await.unwrap());
    assert_eq!(listed, vec![ada.clone(), bob.clone()]);
    let page = parse_users(
        &run(words(&format!("list --after {} --limit 5", ada.id)))
            .await
            .unwrap(),
    );
    assert_eq!(page, vec![bob.clone()]);
    let got = parse_users(&run(words(&format!("get {}", bob.id))).await.unwrap());
    assert_eq!(got, vec![bob.clone()]);

    // The API's 409, 422 and 404, as the SQLite backend words them; exit status 1.
    let duplicate = run_err(words("add --name Eve --email ADA@example.com"), 1)
        .await
        .unwrap();
    assert!(
        duplicate.contains("a user with email `ada@example.com` already exists"),
        "{duplicate}"
    );
    let invalid = run_err(words("add --name Eve --email nowhere"), 1)
        .await
        .unwrap();
    assert!(
        invalid.contains("email `nowhere` is not an address"),
        "{invalid}"
    );
    let missing = run_err(words("get 999"), 1).await.unwrap();
    assert!(missing.contains("no user with id 999"), "{missing}");
    let limit = run_err(words("list --limit 0"), 1).await.unwrap();
    assert!(
        limit.contains("limit must be between 1 and 1000"),
        "{limit}"
    );

    let removed = run(words(&format!("rm {}", ada.id))).await.unwrap();
    assert_eq!(removed.trim(), format!("deleted {}", ada.id));
    run_err(words(&format!("rm {}", ada.id)), 1).await.unwrap();
    assert_eq!(store.list_async(0, 10).await.unwrap(), vec![bob]);
}

/// A remote that does not answer (nothing listens on the port) fails at once with the
/// connection's error, exit status 1; a URL that is not one, or both backends at once, are
/// usage errors (exit status 2).
#[test]
fn cli_with_a_bad_remote_fails_fast() {
    // A loopback port that was free a moment ago, now with nothing listening on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let refused = cli_err(remote(&url), &["list"], 1);
    assert!(started.elapsed() < Duration::from_secs(10), "{refused}");
    assert!(
        refused.starts_with("error: the remote users API failed: GET "),
        "{refused}"
    );
    assert!(refused.contains(&url), "{refused}");

    let not_a_url = cli_err(remote("127.0.0.1:3000"), &["list"], 2);
    assert!(not_a_url.contains("--remote"), "{not_a_url}");
    cli_err(remote("ftp://127.0.0.1/"), &["list"], 2);
    let temp = TempDb::new("both");
    let both = run_with_deadline(
        Command::new(cli_binary())
            .arg("--db")
            .arg(temp.path())
            .args(["--remote", &url, "list"]),
        CLI_DEADLINE,
    );
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    assert!(!temp.path().exists(), "the database was created");
}

/// `export` prints every user, by id, in the format of `list`, from each backend: the
/// pooled store and the lane (blocking iterators on the CLI's thread) and a live API (the
/// remote's stream, driven by the blocking entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_export_prints_every_user_from_every_backend() {
    let db = TempDb::new("export");
    fill(db.path(), 2500);
    let (base, store) = start(&db).await;
    let expected = tokio::task::spawn_blocking(move || listed(&store))
        .await
        .unwrap();
    assert_eq!(expected.len(), 2500);

    let path = db.path().to_owned();
    let runs = tokio::task::spawn_blocking(move || {
        [
            cli_ok(path.as_path(), &["export"]),
            cli_ok(path.as_path(), &["--store", "lane", "export"]),
            cli_ok(remote(&base), &["export"]),
        ]
    })
    .await
    .unwrap();
    for (printed, backend) in runs.iter().zip(["pool", "lane", "remote"]) {
        assert!(
            parse_users(printed) == expected,
            "{backend}: export printed other users"
        );
    }
}

/// A reader that closes the pipe after the first line (`| head -1`) ends the export: the
/// CLI stops at the failed write and exits successfully, with nothing on stderr.
#[test]
fn cli_export_into_a_closed_pipe_stops_quietly() {
    let db = TempDb::new("export-pipe");
    // More than a pipe's buffer holds, so the CLI is still writing when it closes.
    fill(db.path(), 20_000);
    let mut child = Command::new(cli_binary())
        .args(Backend::from(db.path()).0)
        .arg("export")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start users_cli");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut first = [0; 10];
    stdout.read_exact(&mut first).expect("the first line");
    assert_eq!(&first, b"1\tuser 1\tu");
    drop(stdout);
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_with_deadline(&mut child, CLI_DEADLINE).expect("the CLI exits");
    let stderr = stderr.join().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        String::from_utf8_lossy(&stderr)
    );
    assert!(stderr.is_empty(), "{}", String::from_utf8_lossy(&stderr));
}
