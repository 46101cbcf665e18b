//! An Axum JSON API over a SQLite file or in front of another users API.
//!
//! The handlers (in `smartasync_example_users::router`) await `users.get_async(id)` and
//! friends on an `Arc<dyn Users>`: with `--db FILE`, the same plain rusqlite methods the CLI
//! calls, run on the blocking pool so the async workers stay free (or, with `--store lane`,
//! on the one thread of the `users-db` lane, which owns the connection); with `--remote URL`,
//! `async fn`s over reqwest that forward each call to the API at that URL and map its
//! answers back, so this API answers as that one would.
//!
//! A request that takes longer than `--timeout-ms` (default 10 000, `0` for none) gets a
//! 504 with a JSON message, and its work stops: a SQLite statement is interrupted, a
//! forwarded request dropped. So does the work of a request whose client disconnects.
//!
//! ```text
//! cargo run --example users_api -- --addr 127.0.0.1:3000 --db /tmp/users.db
//! cargo run --example users_api -- --addr 127.0.0.1:3000 --db /tmp/users.db --store lane
//! cargo run --example users_api -- --addr 127.0.0.1:3001 --remote http://127.0.0.1:3000
//! curl -s localhost:3001/users -H 'content-type: application/json' \
//!      -d '{"name":"Ada","email":"ada@example.com"}'
//! curl -s localhost:3000/users/1
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smartasync_example_users::{self as users, ApiRouter, Backend};

/// Serve the users API (JSON CRUD on /users, and /health) over a SQLite file or in front of
/// another users API.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Longest a request may take until its answer starts, in milliseconds (0: no limit);
    /// past it, a 504 and its work is stopped.
    #[arg(long, value_name = "MS", default_value_t = users::REQUEST_TIMEOUT.as_millis() as u64)]
    timeout_ms: u64,
    #[command(flatten)]
    backend: Backend,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // Opening the pool and creating the schema is blocking work too.
    let backend = &args.backend;
    let users = match backend.open_async().await {
        Ok(users) => users,
        Err(error) => {
            eprintln!("error: cannot open {backend}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(args.addr);
    println!("users API on http://{addr} ({backend})");
    println!("try: curl -s http://{addr}/users");

    let shutdown = async {
        // If the signal handler cannot be installed, serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        println!("shutting down");
    };
    let timeout = (args.timeout_ms > 0).then(|| Duration::from_millis(args.timeout_ms));
    let router = ApiRouter::new(users).timeout(timeout).build();
    match users::serve(listener, router, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
