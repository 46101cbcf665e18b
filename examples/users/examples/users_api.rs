//! An Axum JSON API over a blocking SQLite store.
//!
//! The handlers (in `smartasync_example_users::router`) await `store.get_async(id)` and
//! friends: the same plain rusqlite methods the CLI calls, run on the blocking pool so the
//! async workers stay free.
//!
//! ```text
//! cargo run --example users_api -- --addr 127.0.0.1:3000 --db /tmp/users.db
//! curl -s localhost:3000/users -H 'content-type: application/json' \
//!      -d '{"name":"Ada","email":"ada@example.com"}'
//! curl -s localhost:3000/users/1
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use smartasync_example_users::{self as users, UserStore};

/// Serve the users API (JSON CRUD on /users, and /health) over a SQLite file.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// SQLite database file, created if missing [default: <temp dir>/smartasync-users.db].
    #[arg(long)]
    db: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let db = args
        .db
        .unwrap_or_else(|| std::env::temp_dir().join("smartasync-users.db"));

    // Opening the pool and creating the schema is blocking work too.
    let store = match UserStore::open_async(&db).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: cannot open {}: {error}", db.display());
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
    println!("users API on http://{addr} (database {})", db.display());
    println!("try: curl -s http://{addr}/users");

    let shutdown = async {
        // If the signal handler cannot be installed, serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        println!("shutting down");
    };
    match users::serve(listener, store, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
