//! A sync command-line client of the users store: no async runtime, no `.await`.
//!
//! It calls the very methods the Axum API awaits (`store.create(&new)` here,
//! `store.create_async(&new).await` there): `#[smartasync]` gave the store both entries,
//! and this one is the body as written.
//!
//! ```text
//! cargo run --example users_cli -- --db /tmp/users.db add --name Ada --email ada@example.com
//! cargo run --example users_cli -- --db /tmp/users.db list
//! cargo run --example users_cli -- --db /tmp/users.db get 1
//! cargo run --example users_cli -- --db /tmp/users.db rm 1
//! ```
//!
//! Users are printed one per line as `id<TAB>name<TAB>email`. Exit status: 0 on success,
//! 1 when the store refuses (not found, duplicate email, invalid input) or fails, 2 for a
//! usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smartasync_example_users::{NewUser, User, UserError, UserStore};

/// Manage the users of the users API's SQLite database from the command line.
#[derive(Debug, Parser)]
struct Args {
    /// SQLite database file, created if missing [default: <temp dir>/smartasync-users.db].
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a user and print it with its id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
    },
    /// List users by id.
    List {
        /// Only users with a greater id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many users.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Print one user.
    Get { id: i64 },
    /// Delete one user.
    Rm { id: i64 },
}

fn print(user: &User) {
    println!("{}\t{}\t{}", user.id, user.name, user.email);
}

fn run(store: &UserStore, command: Command) -> Result<(), UserError> {
    match command {
        Command::Add { name, email } => print(&store.create(&NewUser { name, email })?),
        Command::List { after, limit } => store.list(after, limit)?.iter().for_each(print),
        Command::Get { id } => print(&store.get(id)?),
        Command::Rm { id } => {
            store.delete(id)?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let db = args
        .db
        .unwrap_or_else(|| std::env::temp_dir().join("smartasync-users.db"));
    let result = UserStore::open(&db).and_then(|store| run(&store, args.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
