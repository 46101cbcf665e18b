//! A sync command-line client of the users service: no async runtime, no `.await`.
//!
//! It calls the very methods the Axum API awaits (`users.create(&new)` here,
//! `users.create_async(&new).await` there) on an `Arc<dyn Users>`: a SQLite file
//! (`--db FILE`, whose methods are blocking code as written, run on this thread with the
//! pooled store, or queued to the `users-db` lane thread with `--store lane`) or a running
//! users API (`--remote URL`, whose methods are `async fn`s over reqwest, driven here by
//! their blocking entries). This code cannot tell them apart.
//!
//! ```text
//! cargo run --example users_cli -- --db /tmp/users.db add --name Ada --email ada@example.com
//! cargo run --example users_cli -- --db /tmp/users.db --store lane list
//! cargo run --example users_cli -- --remote http://127.0.0.1:3000 get 1
//! cargo run --example users_cli -- --remote http://127.0.0.1:3000 rm 1
//! cargo run --example users_cli -- export | head
//! cargo run --example users_cli -- import users.json   # a JSON array of {"name", "email"}
//! ```
//!
//! Users are printed one per line as `id<TAB>name<TAB>email`. Exit status: 0 on success,
//! 1 when the service refuses (not found, duplicate email, invalid input) or fails (the
//! database, or the remote API and the way to it), 2 for a usage error.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smartasync_example_users::{Backend, NewUser, User, UserError, Users};

/// Manage the users of a users database, or of a running users API, from the command line.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    backend: Backend,
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
    /// Print every user by id, each as soon as it is read.
    Export,
    /// Add every user of a JSON array (`[{"name": .., "email": ..}, ..]`), all or none.
    Import {
        /// The JSON file, or `-` for stdin.
        file: PathBuf,
    },
}

fn print(user: &User) {
    println!("{}\t{}\t{}", user.id, user.name, user.email);
}

/// Prints the users of `users.export()` as the iterator yields them: stdout is
/// line-buffered, so each line is written when it is printed, and a reader of the pipe sees
/// the rows as they come. A reader that goes away (`| head`) ends the export quietly:
/// dropping the iterator stops the reading and gives its connection back.
fn export(users: &dyn Users) -> Result<(), UserError> {
    let mut stdout = std::io::stdout().lock();
    for user in users.export()? {
        let user = user?;
        match writeln!(stdout, "{}\t{}\t{}", user.id, user.name, user.email) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::BrokenPipe => break,
            Err(error) => return Err(UserError::Internal(Box::new(error))),
        }
    }
    Ok(())
}

/// Reads the users of `file` (`-`: stdin) and imports them in one call; prints how many
/// were added and their ids. A file that cannot be read or is not a JSON array of users is
/// refused before the service is called.
fn import(users: &dyn Users, file: &Path) -> Result<(), UserError> {
    let stdin = file == Path::new("-");
    let refused = |why: String| UserError::Invalid {
        reason: if stdin {
            format!("stdin {why}")
        } else {
            format!("`{}` {why}", file.display())
        },
    };
    let text = if stdin {
        std::io::read_to_string(std::io::stdin().lock())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|error| refused(format!("cannot be read: {error}")))?;
    let news: Vec<NewUser> = serde_json::from_str(&text)
        .map_err(|error| refused(format!("is not a JSON array of users: {error}")))?;
    let imported = users.import(news)?;
    match (imported.first(), imported.last()) {
        (Some(first), Some(last)) => println!(
            "imported {} users, ids {} to {}",
            imported.len(),
            first.id,
            last.id
        ),
        _ => println!("imported 0 users"),
    }
    Ok(())
}

fn run(users: &dyn Users, command: Command) -> Result<(), UserError> {
    match command {
        Command::Export => export(users)?,
        Command::Import { file } => import(users, &file)?,
        Command::Add { name, email } => print(&users.create(&NewUser { name, email })?),
        Command::List { after, limit } => users.list(after, limit)?.iter().for_each(print),
        Command::Get { id } => print(&users.get(id)?),
        Command::Rm { id } => {
            users.delete(id)?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = args
        .backend
        .open()
        .and_then(|users| run(&*users, args.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
